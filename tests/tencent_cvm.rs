//! Tencent Cloud CVM `server stop` through the built binary against a local mock.

mod common;

use common::{blocking, Sandbox};
use serde_json::{json, Value};
use wiremock::matchers::{body_partial_json, header};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const KEY: &str = "cvm-secret-key-never-printed";

fn sandbox() -> Sandbox {
    Sandbox::new()
        .env("TENCENTCLOUD_SECRET_ID", "AKIDCVMTEST")
        .env("TENCENTCLOUD_SECRET_KEY", KEY)
}

fn ok(request_id: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({"Response": {"RequestId": request_id}}))
}

fn api_error(code: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({"Response": {
        "Error": {"Code": code, "Message": format!("mock {code}")}, "RequestId": "err-req"}}))
}

fn statuses(pairs: &[(&str, &str)]) -> ResponseTemplate {
    let set: Vec<Value> = pairs
        .iter()
        .map(|(id, s)| json!({"InstanceId": id, "InstanceState": s}))
        .collect();
    ResponseTemplate::new(200).set_body_json(json!({"Response": {
        "InstanceStatusSet": set, "TotalCount": pairs.len(), "RequestId": "st"}}))
}

fn instances(pairs: &[(&str, &str)]) -> ResponseTemplate {
    let set: Vec<Value> = pairs
        .iter()
        .map(|(id, s)| json!({"InstanceId": id, "InstanceState": s, "LatestOperation": "StopInstances", "LatestOperationState": "SUCCESS"}))
        .collect();
    ResponseTemplate::new(200).set_body_json(json!({"Response": {
        "InstanceSet": set, "TotalCount": pairs.len(), "RequestId": "di"}}))
}

fn action(a: &str) -> wiremock::matchers::HeaderExactMatcher {
    header("X-TC-Action", a)
}

fn body(req: &Request) -> Value {
    serde_json::from_slice(&req.body).unwrap()
}

async fn run(sb: Sandbox, uri: &str, extra: &[&str]) -> common::Run {
    let mut args = vec![
        "server",
        "stop",
        "-p",
        "tencent",
        "--region",
        "ap-guangzhou",
        "--endpoint",
        uri,
        "--rate",
        "200",
    ];
    args.extend_from_slice(extra);
    sb.run_async(&args).await
}

#[tokio::test(flavor = "multi_thread")]
async fn happy_path_soft_first_by_default() {
    let server = MockServer::start().await;
    Mock::given(action("StopInstances"))
        .and(body_partial_json(
            json!({"InstanceIds": ["ins-r8hr2upy", "ins-5d8a23rs"], "StopType": "SOFT_FIRST"}),
        ))
        .respond_with(ok("stop-req"))
        .expect(1)
        .mount(&server)
        .await;
    let r = run(
        sandbox(),
        &server.uri(),
        &["--server-id", "ins-r8hr2upy,ins-5d8a23rs"],
    )
    .await;
    assert_eq!(r.code, 0, "{}", r.stdout);
    let v = r.json();
    assert_eq!(v["operation"], "server.stop");
    for i in 0..2 {
        assert_eq!(v["results"][i]["status"], "stopping");
        assert_eq!(v["results"][i]["request_id"], "stop-req");
        assert_eq!(v["results"][i]["provider_job_id"], Value::Null);
    }
    let reqs = server.received_requests().await.unwrap();
    let auth = reqs[0]
        .headers
        .get("authorization")
        .unwrap()
        .to_str()
        .unwrap();
    assert!(
        auth.contains("/cvm/tc3_request"),
        "scope service must be cvm: {auth}"
    );
    assert!(body(&reqs[0]).get("StoppedMode").is_none());
    assert!(body(&reqs[0]).get("ForceStop").is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn hard_and_stop_charging() {
    let server = MockServer::start().await;
    Mock::given(action("StopInstances"))
        .and(body_partial_json(
            json!({"StopType": "HARD", "StoppedMode": "STOP_CHARGING"}),
        ))
        .respond_with(ok("r"))
        .expect(1)
        .mount(&server)
        .await;
    let r = run(
        sandbox(),
        &server.uri(),
        &["--server-id", "ins-r8hr2upy", "--hard", "--stop-charging"],
    )
    .await;
    assert_eq!(r.code, 0, "{}", r.stdout);
}

#[tokio::test(flavor = "multi_thread")]
async fn stop_charging_is_tencent_only() {
    let r = blocking(|| {
        sandbox().run(&[
            "server",
            "stop",
            "-p",
            "huawei",
            "--region",
            "cn-north-4",
            "--server-id",
            "616fb98f-46ca-475e-917e-2563e5a8cd19",
            "--stop-charging",
            "--dry-run",
        ])
    })
    .await;
    assert_eq!(r.code, 2);
    assert!(r.json()["error"]["message"]
        .as_str()
        .unwrap()
        .contains("--stop-charging"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hundred_and_fifty_ids_make_two_calls() {
    let server = MockServer::start().await;
    Mock::given(action("StopInstances"))
        .respond_with(ok("r"))
        .expect(2)
        .mount(&server)
        .await;
    let ids: Vec<String> = (0..150).map(|i| format!("ins-{i:08}")).collect();
    let sb = sandbox();
    let file = sb.write("ids.txt", &ids.join("\n"));
    let r = run(sb, &server.uri(), &["--ids-from", file.to_str().unwrap()]).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v = r.json();
    assert_eq!(v["summary"]["requested"], 150);
    let got: Vec<&str> = v["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(got, ids.iter().map(String::as_str).collect::<Vec<_>>());
    let mut sizes: Vec<usize> = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| body(r)["InstanceIds"].as_array().unwrap().len())
        .collect();
    sizes.sort();
    assert_eq!(sizes, [50, 100]);
}

#[tokio::test(flavor = "multi_thread")]
async fn already_stopped_is_ok() {
    let server = MockServer::start().await;
    Mock::given(action("StopInstances"))
        .respond_with(api_error("UnsupportedOperation.InstanceStateStopped"))
        .expect(1)
        .mount(&server)
        .await;
    let r = run(sandbox(), &server.uri(), &["--server-id", "ins-r8hr2upy"]).await;
    assert_eq!(r.code, 0, "{}", r.stdout);
    let v = r.json();
    assert_eq!(v["results"][0]["status"], "already_stopped");
    assert_eq!(v["results"][0]["ok"], true);
}

#[tokio::test(flavor = "multi_thread")]
async fn not_found_with_and_without_ignore_missing() {
    let server = MockServer::start().await;
    Mock::given(action("StopInstances"))
        .respond_with(api_error("InvalidInstanceId.NotFound"))
        .mount(&server)
        .await;
    let r = run(sandbox(), &server.uri(), &["--server-id", "ins-r8hr2upy"]).await;
    assert_eq!(r.code, 4);
    assert_eq!(r.json()["results"][0]["status"], "not_found");
    let r = run(
        sandbox(),
        &server.uri(),
        &["--server-id", "ins-r8hr2upy", "--ignore-missing"],
    )
    .await;
    assert_eq!(r.code, 0);
    assert_eq!(r.json()["results"][0]["ok"], true);
}

#[tokio::test(flavor = "multi_thread")]
async fn one_bad_instance_does_not_keep_the_others_running() {
    let server = MockServer::start().await;
    // Run twice (with and without --ignore-missing): the first call names all three
    // and is refused for the missing one.
    Mock::given(action("StopInstances"))
        .and(|r: &Request| body(r)["InstanceIds"].as_array().unwrap().len() == 3)
        .respond_with(api_error("InvalidInstanceId.NotFound"))
        .expect(2)
        .mount(&server)
        .await;
    Mock::given(action("DescribeInstances"))
        .respond_with(instances(&[
            ("ins-aaaaaaa1", "RUNNING"),
            ("ins-aaaaaaa2", "STOPPED"),
        ]))
        .expect(2)
        .mount(&server)
        .await;
    // The running one is sent again, alone.
    Mock::given(action("StopInstances"))
        .and(body_partial_json(json!({"InstanceIds": ["ins-aaaaaaa1"]})))
        .respond_with(ok("resent"))
        .expect(2)
        .mount(&server)
        .await;
    let r = run(
        sandbox(),
        &server.uri(),
        &["--server-id", "ins-aaaaaaa1,ins-aaaaaaa2,ins-aaaaaaa3"],
    )
    .await;
    assert_eq!(r.code, 4, "{}", r.stdout);
    let v = r.json();
    assert_eq!(v["results"][0]["status"], "stopping");
    assert_eq!(v["results"][0]["request_id"], "resent");
    assert_eq!(v["results"][1]["status"], "already_stopped");
    assert_eq!(v["results"][2]["status"], "not_found");
    let r = run(
        sandbox(),
        &server.uri(),
        &[
            "--server-id",
            "ins-aaaaaaa1,ins-aaaaaaa2,ins-aaaaaaa3",
            "--ignore-missing",
        ],
    )
    .await;
    assert_eq!(r.code, 0, "{}", r.stdout);
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_ids_send_nothing() {
    let server = MockServer::start().await;
    Mock::given(|_: &Request| true)
        .respond_with(ok("r"))
        .expect(0)
        .mount(&server)
        .await;
    for bad in [
        "ins-r8hr2up",
        "i-r8hr2upy",
        "ins-R8HR2UPY",
        // Blanks around an id are trimmed; a line break inside one is not.
        "ins-r8hr\n2upy",
        "ins-r8hr2upy'--",
    ] {
        let r = run(
            sandbox(),
            &server.uri(),
            &["--server-id", "ins-aaaaaaa1", "--server-id", bad],
        )
        .await;
        assert_eq!(r.code, 2, "{bad}");
        assert!(r.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("ins-"));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn auth_failure_is_exit_3() {
    let server = MockServer::start().await;
    Mock::given(action("StopInstances"))
        .respond_with(api_error("AuthFailure.SecretIdNotFound"))
        .expect(1)
        .mount(&server)
        .await;
    let r = run(sandbox(), &server.uri(), &["--server-id", "ins-r8hr2upy"]).await;
    assert_eq!(r.code, 3);
    assert_eq!(r.json()["error"]["kind"], "auth");
}

#[tokio::test(flavor = "multi_thread")]
async fn throttling_then_success() {
    let server = MockServer::start().await;
    Mock::given(action("StopInstances"))
        .respond_with(api_error("RequestLimitExceeded"))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(action("StopInstances"))
        .respond_with(ok("second"))
        .mount(&server)
        .await;
    let r = run(sandbox(), &server.uri(), &["--server-id", "ins-r8hr2upy"]).await;
    assert_eq!(r.code, 0, "{}", r.stdout);
    assert_eq!(r.json()["results"][0]["request_id"], "second");
    assert_eq!(server.received_requests().await.unwrap().len(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn wait_polls_status_until_stopped() {
    let server = MockServer::start().await;
    Mock::given(action("StopInstances"))
        .respond_with(ok("r"))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(action("DescribeInstancesStatus"))
        .and(body_partial_json(json!({"Limit": 100})))
        .respond_with(statuses(&[("ins-r8hr2upy", "STOPPING")]))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(action("DescribeInstancesStatus"))
        .respond_with(statuses(&[("ins-r8hr2upy", "STOPPED")]))
        .mount(&server)
        .await;
    let r = run(
        sandbox(),
        &server.uri(),
        &[
            "--server-id",
            "ins-r8hr2upy",
            "--wait",
            "--poll-interval",
            "50ms",
        ],
    )
    .await;
    assert_eq!(r.code, 0, "{}", r.stdout);
    assert_eq!(r.json()["results"][0]["status"], "stopped");
}

#[tokio::test(flavor = "multi_thread")]
async fn wait_reports_a_failed_stop() {
    let server = MockServer::start().await;
    Mock::given(action("StopInstances"))
        .respond_with(ok("r"))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(action("DescribeInstancesStatus"))
        .respond_with(statuses(&[("ins-r8hr2upy", "RUNNING")]))
        .mount(&server)
        .await;
    Mock::given(action("DescribeInstances"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"Response": {"InstanceSet": [
            {"InstanceId": "ins-r8hr2upy", "InstanceState": "RUNNING", "LatestOperation": "StopInstances",
             "LatestOperationState": "FAILED", "LatestOperationErrorMsg": "guest OS refused"}], "RequestId": "x"}})))
        .mount(&server)
        .await;
    let r = run(
        sandbox(),
        &server.uri(),
        &[
            "--server-id",
            "ins-r8hr2upy",
            "--wait",
            "--poll-interval",
            "50ms",
        ],
    )
    .await;
    assert_eq!(r.code, 1, "{}", r.stdout);
    let v = r.json();
    assert_eq!(v["results"][0]["status"], "failed");
    assert!(v["results"][0]["error"]["message"]
        .as_str()
        .unwrap()
        .contains("guest OS refused"));
}

#[tokio::test(flavor = "multi_thread")]
async fn dry_run_offline() {
    let r = blocking(|| {
        Sandbox::new().run(&[
            "server",
            "stop",
            "-p",
            "tencent",
            "--region",
            "ap-guangzhou",
            "--server-id",
            "ins-r8hr2upy",
            "--stop-charging",
            "--dry-run",
        ])
    })
    .await;
    assert_eq!(r.code, 0, "{}", r.stdout);
    let v = r.json();
    let req = &v["requests"][0];
    assert_eq!(req["url"], "https://cvm.tencentcloudapi.com/");
    assert_eq!(req["headers"]["X-TC-Action"], "StopInstances");
    assert_eq!(req["credentials"], "placeholder");
    assert_eq!(
        serde_json::from_str::<Value>(req["body"].as_str().unwrap()).unwrap(),
        json!({"InstanceIds": ["ins-r8hr2upy"], "StopType": "SOFT_FIRST", "StoppedMode": "STOP_CHARGING"})
    );
    assert!(req["headers"]["Authorization"]
        .as_str()
        .unwrap()
        .contains("/cvm/tc3_request, SignedHeaders=content-type;host, Signature=[redacted]"));
}
