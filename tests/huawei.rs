//! Binary-level tests of `server stop --provider huawei` against a wiremock ECS/IAM.

mod common;

use common::{Run, Sandbox};
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use wiremock::matchers::{body_string_contains, method, path, query_param};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const PID: &str = "0a1b2c3d4e5f60718293a4b5c6d7e8f9";
const AK: &str = "AKTESTHUAWEI0001";
const SK: &str = "sk-very-secret-test-value-0001";
const TOKEN: &str = "temporary-token-very-secret-0001";
const JOB: &str = "ff808082889bd9690189061140c235fe";
const FIXED: &str = "1700000000";
const FIXED_DATE: &str = "20231114T221320Z";

fn uuid(i: usize) -> String {
    format!("616fb98f-46ca-475e-917e-{i:012x}")
}

fn creds() -> Sandbox {
    Sandbox::new()
        .env("HUAWEICLOUD_SDK_AK", AK)
        .env("HUAWEICLOUD_SDK_SK", SK)
        .env("CLOUDSTOP_TEST_FIXED_TIME", FIXED)
}

fn args(uri: &str, extra: &[&str]) -> Vec<String> {
    let mut a: Vec<String> = [
        "server",
        "stop",
        "-p",
        "huawei",
        "--region",
        "cn-north-4",
        "--endpoint",
        uri,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    a.extend(extra.iter().map(|s| s.to_string()));
    a
}

fn with_project(uri: &str, extra: &[&str]) -> Vec<String> {
    let mut e = vec!["--project-id", PID];
    e.extend_from_slice(extra);
    args(uri, &e)
}

async fn run(sb: Sandbox, a: Vec<String>) -> Run {
    sb.run_async(&a).await
}

fn action_path() -> String {
    format!("/v1/{PID}/cloudservers/action")
}

fn accepted(job: &str) -> ResponseTemplate {
    ResponseTemplate::new(200)
        .set_body_json(json!({ "job_id": job }))
        .insert_header("X-Request-Id", "req-0001")
}

fn ecs_error(status: u16, code: &str) -> ResponseTemplate {
    ResponseTemplate::new(status)
        .set_body_json(json!({"error": {"code": code, "message": format!("refused: {code}")}}))
}

fn server(status: &str, task: Option<&str>) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(
        json!({"server": {"id": "x", "status": status, "OS-EXT-STS:task_state": task}}),
    )
}

fn header<'a>(r: &'a Request, name: &str) -> Option<&'a str> {
    r.headers.get(name).and_then(|v| v.to_str().ok())
}

fn body_ids(r: &Request) -> Vec<String> {
    let v: Value = serde_json::from_slice(&r.body).unwrap();
    v["os-stop"]["servers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_string())
        .collect()
}

/// Recomputes SDK-HMAC-SHA256 from what arrived on the wire.
fn expected_authorization(r: &Request, signed: &[&str]) -> String {
    let mut canon = format!(
        "{}\n{}/\n{}\n",
        r.method,
        r.url.path(),
        r.url.query().unwrap_or("")
    );
    for h in signed {
        canon.push_str(&format!("{h}:{}\n", header(r, h).unwrap().trim()));
    }
    let list = signed.join(";");
    canon.push_str(&format!(
        "\n{list}\n{}",
        hex::encode(Sha256::digest(&r.body))
    ));
    let sts = format!(
        "SDK-HMAC-SHA256\n{}\n{}",
        header(r, "x-sdk-date").unwrap(),
        hex::encode(Sha256::digest(canon.as_bytes()))
    );
    let mut mac = Hmac::<Sha256>::new_from_slice(SK.as_bytes()).unwrap();
    mac.update(sts.as_bytes());
    format!(
        "SDK-HMAC-SHA256 Access={AK}, SignedHeaders={list}, Signature={}",
        hex::encode(mac.finalize().into_bytes())
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn happy_path_signs_and_reports_stopping() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(action_path()))
        .respond_with(accepted(JOB))
        .expect(1)
        .mount(&server)
        .await;
    let ids = [uuid(1), uuid(2)];
    let r = run(
        creds(),
        with_project(
            &server.uri(),
            &["--server-id", &format!("{},{}", ids[0], ids[1])],
        ),
    )
    .await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let v = r.json();
    assert_eq!(v["location"]["project_id"], PID);
    assert_eq!(v["location"]["region"], "cn-north-4");
    for (i, res) in v["results"].as_array().unwrap().iter().enumerate() {
        assert_eq!(res["id"], ids[i]);
        assert_eq!(res["status"], "stopping");
        assert_eq!(res["provider_job_id"], JOB);
        assert_eq!(res["request_id"], "req-0001");
    }
    let reqs = server.received_requests().await.unwrap();
    let req = &reqs[0];
    assert_eq!(header(req, "x-sdk-date"), Some(FIXED_DATE));
    assert_eq!(header(req, "x-project-id"), Some(PID));
    assert_eq!(
        header(req, "content-type"),
        Some("application/json;charset=utf-8")
    );
    let host = server.uri().trim_start_matches("http://").to_string();
    assert_eq!(header(req, "host"), Some(host.as_str()));
    assert_eq!(
        header(req, "authorization").unwrap(),
        expected_authorization(req, &["content-type", "host", "x-project-id", "x-sdk-date"])
    );
    let body: Value = serde_json::from_slice(&req.body).unwrap();
    assert_eq!(body["os-stop"]["type"], "SOFT");
    assert_eq!(body_ids(req), ids);
}

#[tokio::test(flavor = "multi_thread")]
async fn hard_stop_sends_hard() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(action_path()))
        .and(body_string_contains("\"type\":\"HARD\""))
        .respond_with(accepted(JOB))
        .expect(1)
        .mount(&server)
        .await;
    let r = run(
        creds(),
        with_project(&server.uri(), &["--server-id", &uuid(7), "--hard"]),
    )
    .await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
}

/// Answers each batch with a job id derived from its first server.
struct JobPerBatch;

impl Respond for JobPerBatch {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let first = body_ids(req)[0].replace('-', "");
        accepted(&first)
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn many_ids_go_in_calls_of_1000() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(action_path()))
        .respond_with(JobPerBatch)
        .expect(3)
        .mount(&server)
        .await;
    let ids: Vec<String> = (0..2500).map(uuid).collect();
    let sb = creds();
    let file = sb.write("ids.txt", &ids.join("\n"));
    let r = run(
        sb,
        with_project(
            &server.uri(),
            &["--ids-from", file.to_str().unwrap(), "--rate", "1000"],
        ),
    )
    .await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let mut sizes: Vec<usize> = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|q| body_ids(q).len())
        .collect();
    sizes.sort();
    assert_eq!(sizes, vec![500, 1000, 1000]);
    let v = r.json();
    let results = v["results"].as_array().unwrap();
    assert_eq!(results.len(), 2500);
    for (i, res) in results.iter().enumerate() {
        assert_eq!(res["id"], ids[i]);
        let first = ids[i / 1000 * 1000].replace('-', "");
        assert_eq!(res["provider_job_id"], first.as_str(), "{i}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn project_id_is_looked_up_once_from_iam() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v3/projects"))
        .and(query_param("name", "cn-north-4"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(
                json!({"projects": [{"id": PID, "name": "cn-north-4"}], "links": {}}),
            ),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(action_path()))
        .respond_with(JobPerBatch)
        .expect(2)
        .mount(&server)
        .await;
    let ids: Vec<String> = (0..1500).map(uuid).collect();
    let sb = creds().env("HUAWEICLOUD_SDK_IAM_ENDPOINT", &server.uri());
    let file = sb.write("ids.txt", &ids.join("\n"));
    let r = run(
        sb,
        args(
            &server.uri(),
            &["--ids-from", file.to_str().unwrap(), "--rate", "1000"],
        ),
    )
    .await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.json()["location"]["project_id"], PID);
    let reqs = server.received_requests().await.unwrap();
    let iam = reqs
        .iter()
        .find(|q| q.url.path() == "/v3/projects")
        .unwrap();
    assert_eq!(iam.url.query(), Some("name=cn-north-4"));
    assert!(header(iam, "x-project-id").is_none());
    assert!(header(iam, "content-type").is_none());
    assert_eq!(
        header(iam, "authorization").unwrap(),
        expected_authorization(iam, &["host", "x-sdk-date"])
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn iam_with_no_project_is_a_config_error() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v3/projects"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"projects": []})))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(accepted(JOB))
        .expect(0)
        .mount(&server)
        .await;
    let sb = creds().env("HUAWEICLOUD_SDK_IAM_ENDPOINT", &server.uri());
    let r = run(sb, args(&server.uri(), &["--server-id", &uuid(1)])).await;
    assert_eq!(r.code, 3, "{}", r.stdout);
    assert!(r.json()["error"]["message"]
        .as_str()
        .unwrap()
        .contains("--project-id"));
}

async fn all_missing(extra: &[&str]) -> (Run, MockServer) {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(action_path()))
        .respond_with(ecs_error(404, "Ecs.0114"))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("/v1/{PID}/cloudservers/{}", uuid(1))))
        .respond_with(ecs_error(404, "Ecs.0114"))
        .expect(1)
        .mount(&server)
        .await;
    let mut e = vec!["--server-id", "616fb98f-46ca-475e-917e-000000000001"];
    e.extend_from_slice(extra);
    let r = run(creds(), with_project(&server.uri(), &e)).await;
    (r, server)
}

#[tokio::test(flavor = "multi_thread")]
async fn not_found_exits_4() {
    let (r, _s) = all_missing(&[]).await;
    assert_eq!(r.code, 4, "{}", r.stdout);
    let v = r.json();
    assert_eq!(v["results"][0]["status"], "not_found");
    assert_eq!(v["results"][0]["ok"], false);
    assert_eq!(v["results"][0]["error"]["code"], "Ecs.0114");
}

#[tokio::test(flavor = "multi_thread")]
async fn not_found_with_ignore_missing_is_ok() {
    let (r, _s) = all_missing(&["--ignore-missing"]).await;
    assert_eq!(r.code, 0, "{}", r.stdout);
    let v = r.json();
    assert_eq!(v["results"][0]["status"], "not_found");
    assert_eq!(v["results"][0]["ok"], true);
}

#[tokio::test(flavor = "multi_thread")]
async fn mixed_batch_stops_the_others() {
    let server = MockServer::start().await;
    let (missing, off, stopping, active) = (uuid(1), uuid(2), uuid(3), uuid(4));
    // The first call holds the missing server and is refused as a whole.
    Mock::given(method("POST"))
        .and(path(action_path()))
        .and(body_string_contains(missing.as_str()))
        .respond_with(ecs_error(404, "Ecs.0114"))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(action_path()))
        .respond_with(accepted(JOB))
        .expect(1)
        .mount(&server)
        .await;
    let show = |id: &str| path(format!("/v1/{PID}/cloudservers/{id}"));
    Mock::given(method("GET"))
        .and(show(&missing))
        .respond_with(ecs_error(404, "Ecs.0114"))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(show(&off))
        .respond_with(server_state("SHUTOFF", None))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(show(&stopping))
        .respond_with(server_state("ACTIVE", Some("powering-off")))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(show(&active))
        .respond_with(server_state("ACTIVE", None))
        .mount(&server)
        .await;
    let list = [
        missing.clone(),
        off.clone(),
        stopping.clone(),
        active.clone(),
    ]
    .join(",");
    let r = run(
        creds(),
        with_project(&server.uri(), &["--server-id", &list, "--rate", "1000"]),
    )
    .await;
    assert_eq!(r.code, 4, "{}\n{}", r.stdout, r.stderr);
    let v = r.json();
    let st: Vec<&str> = v["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["status"].as_str().unwrap())
        .collect();
    assert_eq!(st, ["not_found", "already_stopped", "stopping", "stopping"]);
    assert_eq!(v["results"][3]["provider_job_id"], JOB);
    let reqs = server.received_requests().await.unwrap();
    let posts: Vec<&Request> = reqs
        .iter()
        .filter(|q| q.method.as_str() == "POST")
        .collect();
    assert_eq!(body_ids(posts[1]), vec![active]);
    // ShowServer is a signed GET with Content-Type: application/json.
    let get = reqs.iter().find(|q| q.method.as_str() == "GET").unwrap();
    assert_eq!(header(get, "content-type"), Some("application/json"));
    assert!(get.body.is_empty());
    assert_eq!(
        header(get, "authorization").unwrap(),
        expected_authorization(get, &["content-type", "host", "x-project-id", "x-sdk-date"])
    );
}

fn server_state(status: &str, task: Option<&str>) -> ResponseTemplate {
    server(status, task)
}

#[tokio::test(flavor = "multi_thread")]
async fn server_error_on_stop_queries_before_reposting() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(action_path()))
        .respond_with(ecs_error(500, "Common.0001"))
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(action_path()))
        .respond_with(accepted(JOB))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("/v1/{PID}/cloudservers/{}", uuid(1))))
        .respond_with(server_state("ACTIVE", Some("powering-off")))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("/v1/{PID}/cloudservers/{}", uuid(2))))
        .respond_with(server_state("ACTIVE", None))
        .expect(1)
        .mount(&server)
        .await;
    let list = format!("{},{}", uuid(1), uuid(2));
    let r = run(
        creds(),
        with_project(&server.uri(), &["--server-id", &list, "--retries", "2"]),
    )
    .await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let reqs = server.received_requests().await.unwrap();
    let posts: Vec<&Request> = reqs
        .iter()
        .filter(|q| q.method.as_str() == "POST")
        .collect();
    assert_eq!(body_ids(posts[1]), vec![uuid(2)]);
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_id_sends_nothing() {
    let server = MockServer::start().await;
    Mock::given(wiremock::matchers::any())
        .respond_with(accepted(JOB))
        .expect(0)
        .mount(&server)
        .await;
    let list = format!("{},not-a-uuid", uuid(1));
    let r = run(
        creds(),
        with_project(&server.uri(), &["--server-id", &list]),
    )
    .await;
    assert_eq!(r.code, 2, "{}", r.stdout);
    assert!(r.stdout.contains("not-a-uuid"));
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_project_id_is_usage() {
    let r = run(
        creds(),
        args(
            "http://127.0.0.1:9",
            &["--server-id", &uuid(1), "--project-id", "ABC"],
        ),
    )
    .await;
    assert_eq!(r.code, 2, "{}", r.stdout);
}

#[tokio::test(flavor = "multi_thread")]
async fn auth_failure_is_not_retried() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({
            "error_msg": "Incorrect IAM authentication information: verify aksk signature fail",
            "error_code": "APIGW.0301",
            "request_id": "abc"
        })))
        .expect(1)
        .mount(&server)
        .await;
    let ids: Vec<String> = (0..1500).map(uuid).collect();
    let sb = creds();
    let file = sb.write("ids.txt", &ids.join("\n"));
    let r = run(
        sb,
        with_project(
            &server.uri(),
            &[
                "--ids-from",
                file.to_str().unwrap(),
                "--retries",
                "3",
                "--concurrency",
                "1",
            ],
        ),
    )
    .await;
    assert_eq!(r.code, 3, "{}", r.stderr);
    let v = r.json();
    assert_eq!(v["results"][0]["error"]["kind"], "auth");
    assert_eq!(v["results"][0]["error"]["code"], "APIGW.0301");
    assert_eq!(v["results"][1499]["status"], "failed");
}

#[tokio::test(flavor = "multi_thread")]
async fn throttled_then_success() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(429).set_body_json(json!({
            "error_msg": "The throttling threshold has been reached: policy user over ratelimit,limit:10,time:1 minute",
            "error_code": "APIGW.0308"
        })))
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(accepted(JOB))
        .expect(1)
        .mount(&server)
        .await;
    let r = run(
        creds(),
        with_project(&server.uri(), &["--server-id", &uuid(1), "--retries", "2"]),
    )
    .await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(r.json()["results"][0]["status"], "stopping");
}

#[tokio::test(flavor = "multi_thread")]
async fn throttled_until_out_of_retries_exits_5() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ecs_error(503, "Common.1503"))
        .expect(2)
        .mount(&server)
        .await;
    let r = run(
        creds(),
        with_project(&server.uri(), &["--server-id", &uuid(1), "--retries", "1"]),
    )
    .await;
    assert_eq!(r.code, 5, "{}", r.stdout);
}

fn job(status: &str, subs: Value) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({
        "status": status, "job_id": JOB, "job_type": "batchStopServers",
        "error_code": null, "fail_reason": null,
        "entities": {"sub_jobs_total": subs.as_array().map_or(0, Vec::len), "sub_jobs": subs}
    }))
}

fn sub(id: &str, status: &str, code: Option<&str>) -> Value {
    json!({"status": status, "entities": {"server_id": id}, "error_code": code,
           "fail_reason": code.map(|c| format!("failed with {c}"))})
}

async fn mount_stop(server: &MockServer) {
    Mock::given(method("POST"))
        .and(path(action_path()))
        .respond_with(accepted(JOB))
        .expect(1)
        .mount(server)
        .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn wait_until_success() {
    let server = MockServer::start().await;
    mount_stop(&server).await;
    let job_path = format!("/v1/{PID}/jobs/{JOB}");
    Mock::given(method("GET"))
        .and(path(job_path.clone()))
        .respond_with(job("RUNNING", json!([])))
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(job_path))
        .respond_with(job(
            "SUCCESS",
            json!([
                sub(&uuid(1), "SUCCESS", None),
                sub(&uuid(2), "SUCCESS", None)
            ]),
        ))
        .expect(1)
        .mount(&server)
        .await;
    let list = format!("{},{}", uuid(1), uuid(2));
    let r = run(
        creds(),
        with_project(
            &server.uri(),
            &["--server-id", &list, "--wait", "--poll-interval", "50ms"],
        ),
    )
    .await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let v = r.json();
    for res in v["results"].as_array().unwrap() {
        assert_eq!(res["status"], "stopped");
        assert_eq!(res["provider_job_id"], JOB);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn wait_until_fail_per_server() {
    let server = MockServer::start().await;
    mount_stop(&server).await;
    Mock::given(method("GET"))
        .and(path(format!("/v1/{PID}/jobs/{JOB}")))
        .respond_with(job(
            "FAIL",
            json!([
                sub(&uuid(1), "SUCCESS", None),
                sub(&uuid(2), "FAIL", Some("Ecs.0114")),
                sub(&uuid(3), "FAIL", Some("Ecs.0100")),
                sub(&uuid(4), "FAIL", Some("Ecs.0100")),
            ]),
        ))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("/v1/{PID}/cloudservers/{}", uuid(3))))
        .respond_with(server_state("SHUTOFF", None))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("/v1/{PID}/cloudservers/{}", uuid(4))))
        .respond_with(server_state("ACTIVE", None))
        .mount(&server)
        .await;
    let list = (1..=4).map(uuid).collect::<Vec<_>>().join(",");
    let r = run(
        creds(),
        with_project(
            &server.uri(),
            &[
                "--server-id",
                &list,
                "--wait",
                "--poll-interval",
                "50ms",
                "--rate",
                "1000",
            ],
        ),
    )
    .await;
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    let v = r.json();
    let st: Vec<&str> = v["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["status"].as_str().unwrap())
        .collect();
    assert_eq!(st, ["stopped", "not_found", "already_stopped", "failed"]);
    assert_eq!(v["results"][3]["error"]["code"], "Ecs.0100");
}

#[tokio::test(flavor = "multi_thread")]
async fn wait_job_fail_without_sub_jobs_fails_all() {
    let server = MockServer::start().await;
    mount_stop(&server).await;
    Mock::given(method("GET"))
        .and(path(format!("/v1/{PID}/jobs/{JOB}")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "status": "FAIL", "job_id": JOB, "error_code": "Ecs.0001", "fail_reason": "boom",
            "entities": {}
        })))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("/v1/{PID}/cloudservers/{}", uuid(1))))
        .respond_with(server_state("ACTIVE", None))
        .mount(&server)
        .await;
    let r = run(
        creds(),
        with_project(
            &server.uri(),
            &["--server-id", &uuid(1), "--wait", "--poll-interval", "50ms"],
        ),
    )
    .await;
    assert_eq!(r.code, 1, "{}", r.stdout);
    let v = r.json();
    assert_eq!(v["results"][0]["status"], "failed");
    assert_eq!(v["results"][0]["error"]["code"], "Ecs.0001");
}

#[tokio::test(flavor = "multi_thread")]
async fn wait_timeout_exits_6() {
    let server = MockServer::start().await;
    mount_stop(&server).await;
    Mock::given(method("GET"))
        .and(path(format!("/v1/{PID}/jobs/{JOB}")))
        .respond_with(job("RUNNING", json!([])))
        .mount(&server)
        .await;
    let r = run(
        creds(),
        with_project(
            &server.uri(),
            &[
                "--server-id",
                &uuid(1),
                "--wait",
                "--poll-interval",
                "50ms",
                "--wait-timeout",
                "300ms",
            ],
        ),
    )
    .await;
    assert_eq!(r.code, 6, "{}", r.stdout);
}

#[tokio::test(flavor = "multi_thread")]
async fn dry_run_offline_without_credentials() {
    let ids: Vec<String> = (0..2500).map(uuid).collect();
    let sb = Sandbox::new().env("CLOUDSTOP_TEST_FIXED_TIME", FIXED);
    let file = sb.write("ids.txt", &ids.join("\n"));
    let r = run(
        sb,
        vec![
            "server".into(),
            "stop".into(),
            "-p".into(),
            "huawei".into(),
            "--region".into(),
            "cn-north-4".into(),
            "--ids-from".into(),
            file.to_str().unwrap().into(),
            "--dry-run".into(),
        ],
    )
    .await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let v = r.json();
    assert_eq!(v["dry_run"], true);
    let reqs = v["requests"].as_array().unwrap();
    assert_eq!(reqs.len(), 3);
    for q in reqs {
        assert_eq!(q["credentials"], "placeholder");
        assert_eq!(
            q["url"],
            "https://ecs.cn-north-4.myhuaweicloud.com/v1/{project_id}/cloudservers/action"
        );
        assert_eq!(q["headers"]["X-Sdk-Date"], FIXED_DATE);
        assert!(q["headers"]["Authorization"]
            .as_str()
            .unwrap()
            .ends_with("Signature=[redacted]"));
    }
    assert_eq!(v["results"][2499]["status"], "accepted");
}

#[tokio::test(flavor = "multi_thread")]
async fn secrets_never_printed() {
    let server = MockServer::start().await;
    mount_stop(&server).await;
    let sb = creds().env("HUAWEICLOUD_SDK_SECURITY_TOKEN", TOKEN);
    let r = run(
        sb,
        with_project(&server.uri(), &["--server-id", &uuid(1), "-vvv"]),
    )
    .await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    for s in [SK, TOKEN] {
        assert!(!r.stdout.contains(s) && !r.stderr.contains(s), "{s} leaked");
    }
    let reqs = server.received_requests().await.unwrap();
    assert_eq!(header(&reqs[0], "x-security-token"), Some(TOKEN));
    assert!(header(&reqs[0], "authorization")
        .unwrap()
        .contains("SignedHeaders=content-type;host;x-project-id;x-sdk-date;x-security-token"));
    // The envelope's -vvv request records redact the signature and the token.
    let shown = &r.json()["requests"][0]["headers"];
    assert_eq!(shown["X-Security-Token"], "[redacted]");
}

#[tokio::test(flavor = "multi_thread")]
async fn credentials_file_and_missing_credentials() {
    let server = MockServer::start().await;
    mount_stop(&server).await;
    let sb = Sandbox::new();
    sb.write(
        ".huaweicloud/credentials",
        &format!("[basic]\nak = {AK}\nsk = {SK}\nproject_id = {PID}\n"),
    );
    let r = run(sb, args(&server.uri(), &["--server-id", &uuid(1)])).await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);

    let r = run(
        Sandbox::new(),
        args(&server.uri(), &["--server-id", &uuid(1)]),
    )
    .await;
    assert_eq!(r.code, 3, "{}", r.stdout);
    let msg = r.json()["error"]["message"].as_str().unwrap().to_string();
    assert!(msg.contains("HUAWEICLOUD_SDK_AK") && msg.contains(".huaweicloud/credentials"));

    let r = run(
        creds(),
        vec!["server", "stop", "-p", "huawei", "--server-id", &uuid(1)]
            .into_iter()
            .map(String::from)
            .collect(),
    )
    .await;
    assert_eq!(r.code, 2, "{}", r.stdout);
    let msg = r.json()["error"]["message"].as_str().unwrap().to_string();
    assert!(msg.contains("--region") && msg.contains("CLOUDSTOP_REGION"));
}

#[tokio::test(flavor = "multi_thread")]
async fn profile_gives_credentials_region_and_project() {
    let server = MockServer::start().await;
    mount_stop(&server).await;
    let sb = Sandbox::new();
    let p = sb.write(
        ".config/cloudstop/config.toml",
        &format!(
            "[profiles.ops.huawei]\nak = \"{AK}\"\nsk = \"{SK}\"\nregion = \"cn-north-4\"\nproject_id = \"{PID}\"\nendpoint = \"{}\"\n",
            server.uri()
        ),
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let r = run(
        sb,
        [
            "server",
            "stop",
            "-p",
            "huawei",
            "--profile",
            "ops",
            "--server-id",
        ]
        .iter()
        .map(|s| s.to_string())
        .chain([uuid(1)])
        .collect(),
    )
    .await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let v = r.json();
    assert_eq!(v["location"]["project_id"], PID);
    assert_eq!(v["results"][0]["status"], "stopping");
}

#[tokio::test(flavor = "multi_thread")]
async fn state_refusal_then_wait_follows_servers_without_a_job() {
    let server = MockServer::start().await;
    // The whole call is refused for the state of one server (Ecs.0100).
    Mock::given(method("POST"))
        .and(path(action_path()))
        .respond_with(ecs_error(400, "Ecs.0100"))
        .expect(1)
        .mount(&server)
        .await;
    let show = || path(format!("/v1/{PID}/cloudservers/{}", uuid(1)));
    Mock::given(method("GET"))
        .and(show())
        .respond_with(server_state("ACTIVE", Some("powering-off")))
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(show())
        .respond_with(server_state("SHUTOFF", None))
        .expect(1)
        .mount(&server)
        .await;
    let r = run(
        creds(),
        with_project(
            &server.uri(),
            &["--server-id", &uuid(1), "--wait", "--poll-interval", "50ms"],
        ),
    )
    .await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(r.json()["results"][0]["status"], "stopped");
}

#[tokio::test(flavor = "multi_thread")]
async fn state_refused_batch_reposts_only_the_active_servers_once() {
    let server = MockServer::start().await;
    let (off, active1, active2) = (uuid(1), uuid(2), uuid(3));
    // The batch holding the SHUTOFF server is refused for its state.
    Mock::given(method("POST"))
        .and(path(action_path()))
        .and(body_string_contains(off.as_str()))
        .respond_with(ecs_error(400, "Ecs.0100"))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(action_path()))
        .respond_with(accepted(JOB))
        .expect(1)
        .mount(&server)
        .await;
    for (id, status) in [
        (&off, "SHUTOFF"),
        (&active1, "ACTIVE"),
        (&active2, "ACTIVE"),
    ] {
        Mock::given(method("GET"))
            .and(path(format!("/v1/{PID}/cloudservers/{id}")))
            .respond_with(server_state(status, None))
            .expect(1)
            .mount(&server)
            .await;
    }
    let list = [off.clone(), active1.clone(), active2.clone()].join(",");
    let r = run(
        creds(),
        with_project(&server.uri(), &["--server-id", &list, "--rate", "1000"]),
    )
    .await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let v = r.json();
    let st: Vec<&str> = v["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["status"].as_str().unwrap())
        .collect();
    assert_eq!(st, ["already_stopped", "stopping", "stopping"]);
    let reqs = server.received_requests().await.unwrap();
    let posts: Vec<&Request> = reqs
        .iter()
        .filter(|q| q.method.as_str() == "POST")
        .collect();
    assert_eq!(posts.len(), 2);
    assert_eq!(body_ids(posts[1]), vec![active1, active2]);
}
