//! Binary-level tests of `job stop --provider huawei` (ModelArts v2 training jobs)
//! against a wiremock ModelArts/IAM: ShowTrainingJobDetails first, then
//! StopTrainingJob, `--wait` until a final phase.

mod common;
#[path = "common/huawei.rs"]
mod hwsig;

use common::{Run, Sandbox};
use hwsig::{expected_authorization, header};
use serde_json::{json, Value};
use wiremock::matchers::{any, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const PID: &str = "0a1b2c3d4e5f60718293a4b5c6d7e8f9";
const AK: &str = "AKTESTHUAWEI0001";
const SK: &str = "sk-very-secret-test-value-0001";
const TOKEN: &str = "temporary-token-very-secret-0001";
const JID: &str = "95f661bd-1527-41b8-971c-eca55e513254";
const FIXED: &str = "1700000000";
const FIXED_DATE: &str = "20231114T221320Z";
const STOP_BODY: &str = r#"{"action_type":"terminate"}"#;

fn creds() -> Sandbox {
    Sandbox::new()
        .env("HUAWEICLOUD_SDK_AK", AK)
        .env("HUAWEICLOUD_SDK_SK", SK)
        .env("CLOUDSTOP_TEST_FIXED_TIME", FIXED)
}

fn args(uri: &str, extra: &[&str]) -> Vec<String> {
    let mut a: Vec<String> = [
        "job",
        "stop",
        "-p",
        "huawei",
        "--region",
        "cn-north-4",
        "--project-id",
        PID,
        "--endpoint",
        uri,
        "--rate",
        "1000",
        "--poll-interval",
        "10ms",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    a.extend(extra.iter().map(|s| s.to_string()));
    a
}

async fn run(sb: Sandbox, a: Vec<String>) -> Run {
    sb.run_async(&a).await
}

fn job_path(id: &str) -> String {
    format!("/v2/{PID}/training-jobs/{id}")
}

fn actions_path(id: &str) -> String {
    format!("{}/actions", job_path(id))
}

fn job(phase: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({
        "kind": "job",
        "metadata": {"id": JID, "name": "train-1", "create_time": 1700000000000u64},
        "status": {"phase": phase, "secondary_phase": phase, "duration": 1000}
    }))
}

fn stopped_answer() -> ResponseTemplate {
    ResponseTemplate::new(202)
        .set_body_json(json!({
            "kind": "job",
            "metadata": {"id": JID},
            "status": {"phase": "Terminating"}
        }))
        .insert_header("X-Request-Id", "req-stop-1")
}

fn ma_error(status: u16, code: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(json!({
        "error_code": code,
        "error_msg": format!("refused: {code}")
    }))
}

fn unknown_job() -> ResponseTemplate {
    ma_error(400, "ModelArts.2775")
}

async fn mount(server: &MockServer, verb: &str, p: String, t: ResponseTemplate, n: u64) {
    Mock::given(method(verb))
        .and(path(p))
        .respond_with(t)
        .expect(n)
        .mount(server)
        .await;
}

async fn mount_times(server: &MockServer, verb: &str, p: String, t: ResponseTemplate, times: u64) {
    Mock::given(method(verb))
        .and(path(p))
        .respond_with(t)
        .up_to_n_times(times)
        .expect(times)
        .mount(server)
        .await;
}

async fn posts(server: &MockServer) -> Vec<wiremock::Request> {
    server
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.method.as_str() == "POST")
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn accepted_reads_first_then_terminates_signed() {
    let server = MockServer::start().await;
    mount(&server, "GET", job_path(JID), job("Running"), 1).await;
    mount(&server, "POST", actions_path(JID), stopped_answer(), 1).await;
    let r = run(creds(), args(&server.uri(), &["--job-id", JID])).await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let v = r.json();
    assert_eq!(v["operation"], "job.stop");
    let res = &v["results"][0];
    assert_eq!(res["status"], "stopping");
    assert_eq!(res["request_id"], "req-stop-1");
    assert_eq!(res["provider_job_id"], Value::Null);
    let reqs = server.received_requests().await.unwrap();
    let (get, post) = (&reqs[0], &reqs[1]);
    assert_eq!(get.method.as_str(), "GET");
    assert_eq!(header(get, "content-type"), Some("application/json"));
    assert_eq!(
        header(post, "content-type"),
        Some("application/json;charset=UTF-8")
    );
    assert_eq!(String::from_utf8_lossy(&post.body), STOP_BODY);
    let signed = ["content-type", "host", "x-project-id", "x-sdk-date"];
    for q in [get, post] {
        assert_eq!(header(q, "x-project-id"), Some(PID));
        assert_eq!(header(q, "x-sdk-date"), Some(FIXED_DATE));
        assert_eq!(
            header(q, "authorization").unwrap(),
            expected_authorization(q, AK, SK, &signed)
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn finished_jobs_are_already_stopped_and_terminating_is_stopping() {
    for (phase, status) in [
        ("Completed", "already_stopped"),
        ("Failed", "already_stopped"),
        ("Terminated", "already_stopped"),
        ("Abnormal", "already_stopped"),
        ("Terminating", "stopping"),
    ] {
        let server = MockServer::start().await;
        mount(&server, "GET", job_path(JID), job(phase), 1).await;
        mount(&server, "POST", actions_path(JID), stopped_answer(), 0).await;
        let r = run(creds(), args(&server.uri(), &["--job-id", JID])).await;
        assert_eq!(r.code, 0, "{phase}: {}", r.stdout);
        let res = &r.json()["results"][0];
        assert_eq!(res["status"], status, "{phase}");
        assert_eq!(res["ok"], true);
        server.verify().await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_job_is_not_found() {
    for ignore in [false, true] {
        let server = MockServer::start().await;
        mount(&server, "GET", job_path(JID), unknown_job(), 1).await;
        mount(&server, "POST", actions_path(JID), stopped_answer(), 0).await;
        let mut extra = vec!["--job-id", JID];
        if ignore {
            extra.push("--ignore-missing");
        }
        let r = run(creds(), args(&server.uri(), &extra)).await;
        assert_eq!(r.code, if ignore { 0 } else { 4 }, "{}", r.stdout);
        let res = &r.json()["results"][0];
        assert_eq!(res["status"], "not_found");
        if !ignore {
            assert_eq!(res["error"]["code"], "ModelArts.2775");
            assert_eq!(res["error"]["kind"], "not_found");
        }
        server.verify().await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn wait_reads_until_a_final_phase() {
    let server = MockServer::start().await;
    mount_times(&server, "GET", job_path(JID), job("Running"), 1).await;
    mount_times(&server, "GET", job_path(JID), job("Terminating"), 2).await;
    mount(&server, "GET", job_path(JID), job("Terminated"), 1).await;
    mount(&server, "POST", actions_path(JID), stopped_answer(), 1).await;
    let r = run(creds(), args(&server.uri(), &["--job-id", JID, "--wait"])).await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(r.json()["results"][0]["status"], "stopped");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_job_deleted_while_waiting_is_stopped() {
    let server = MockServer::start().await;
    mount_times(&server, "GET", job_path(JID), job("Pending"), 1).await;
    mount(&server, "GET", job_path(JID), unknown_job(), 1).await;
    mount(&server, "POST", actions_path(JID), stopped_answer(), 1).await;
    let r = run(creds(), args(&server.uri(), &["--job-id", JID, "--wait"])).await;
    assert_eq!(r.code, 0, "{}", r.stdout);
    assert_eq!(r.json()["results"][0]["status"], "stopped");
}

#[tokio::test(flavor = "multi_thread")]
async fn wait_failed_when_the_status_read_is_refused() {
    let server = MockServer::start().await;
    mount_times(&server, "GET", job_path(JID), job("Running"), 1).await;
    mount(
        &server,
        "GET",
        job_path(JID),
        ma_error(403, "ModelArts.0203"),
        1,
    )
    .await;
    mount(&server, "POST", actions_path(JID), stopped_answer(), 1).await;
    let r = run(creds(), args(&server.uri(), &["--job-id", JID, "--wait"])).await;
    assert_eq!(r.code, 3, "{}", r.stdout);
    let res = &r.json()["results"][0];
    assert_eq!(res["status"], "failed");
    assert_eq!(res["error"]["kind"], "permission");
}

#[tokio::test(flavor = "multi_thread")]
async fn wait_timeout_exits_6() {
    let server = MockServer::start().await;
    mount_times(&server, "GET", job_path(JID), job("Running"), 1).await;
    Mock::given(method("GET"))
        .and(path(job_path(JID)))
        .respond_with(job("Terminating"))
        .mount(&server)
        .await;
    mount(&server, "POST", actions_path(JID), stopped_answer(), 1).await;
    let r = run(
        creds(),
        args(
            &server.uri(),
            &["--job-id", JID, "--wait", "--wait-timeout", "300ms"],
        ),
    )
    .await;
    assert_eq!(r.code, 6, "{}", r.stdout);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_5xx_on_the_stop_is_settled_by_reading() {
    // (phase read after the 5xx, status, POSTs sent in all)
    for (after, status, stops) in [
        ("Terminating", "stopping", 1),
        ("Terminated", "stopped", 1),
        ("Running", "stopping", 2),
    ] {
        let server = MockServer::start().await;
        mount_times(&server, "GET", job_path(JID), job("Running"), 1).await;
        mount(&server, "GET", job_path(JID), job(after), 1).await;
        mount_times(
            &server,
            "POST",
            actions_path(JID),
            ma_error(500, "ModelArts.0001"),
            1,
        )
        .await;
        mount(
            &server,
            "POST",
            actions_path(JID),
            stopped_answer(),
            stops - 1,
        )
        .await;
        let r = run(
            creds(),
            args(&server.uri(), &["--job-id", JID, "--retries", "3"]),
        )
        .await;
        assert_eq!(r.code, 0, "{after}: {}", r.stdout);
        assert_eq!(r.json()["results"][0]["status"], status, "{after}");
        assert_eq!(posts(&server).await.len(), stops as usize, "{after}");
        server.verify().await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refusal_after_the_read_rereads_the_phase() {
    let server = MockServer::start().await;
    mount_times(&server, "GET", job_path(JID), job("Running"), 1).await;
    mount(&server, "GET", job_path(JID), job("Completed"), 1).await;
    mount(
        &server,
        "POST",
        actions_path(JID),
        ma_error(400, "ModelArts.0105"),
        1,
    )
    .await;
    let r = run(creds(), args(&server.uri(), &["--job-id", JID])).await;
    assert_eq!(r.code, 0, "{}", r.stdout);
    assert_eq!(r.json()["results"][0]["status"], "already_stopped");
}

#[tokio::test(flavor = "multi_thread")]
async fn throttled_then_ok() {
    let server = MockServer::start().await;
    mount(&server, "GET", job_path(JID), job("Running"), 1).await;
    mount_times(
        &server,
        "POST",
        actions_path(JID),
        ma_error(429, "APIGW.0308"),
        1,
    )
    .await;
    mount(&server, "POST", actions_path(JID), stopped_answer(), 1).await;
    let r = run(creds(), args(&server.uri(), &["--job-id", JID])).await;
    assert_eq!(r.code, 0, "{}", r.stdout);
    assert_eq!(posts(&server).await.len(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn permission_names_the_iam_action_and_auth_is_not_retried() {
    let server = MockServer::start().await;
    mount(&server, "GET", job_path(JID), job("Running"), 1).await;
    mount(
        &server,
        "POST",
        actions_path(JID),
        ma_error(403, "ModelArts.0203"),
        1,
    )
    .await;
    let r = run(creds(), args(&server.uri(), &["--job-id", JID])).await;
    assert_eq!(r.code, 3, "{}", r.stdout);
    let res = &r.json()["results"][0];
    assert_eq!(res["error"]["kind"], "permission");
    assert!(res["error"]["message"]
        .as_str()
        .unwrap()
        .contains("modelarts:trainJob:create"));
    server.verify().await;

    let server = MockServer::start().await;
    mount(
        &server,
        "GET",
        job_path(JID),
        ma_error(401, "APIGW.0301"),
        1,
    )
    .await;
    mount(&server, "POST", actions_path(JID), stopped_answer(), 0).await;
    let r = run(
        creds(),
        args(&server.uri(), &["--job-id", JID, "--retries", "3"]),
    )
    .await;
    assert_eq!(r.code, 3, "{}", r.stdout);
    assert_eq!(r.json()["results"][0]["error"]["kind"], "auth");
}

#[tokio::test(flavor = "multi_thread")]
async fn ids_are_checked_before_anything_is_sent() {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(job("Running"))
        .expect(0)
        .mount(&server)
        .await;
    for (id, says) in [
        ("12345", "legacy ModelArts v1"),
        ("95F661BD-1527-41B8-971C-ECA55E513254", "lower-case UUID"),
        ("job-rybewp57", "malformed"),
    ] {
        let r = run(
            creds(),
            args(&server.uri(), &["--job-id", &format!("{JID},{id}")]),
        )
        .await;
        assert_eq!(r.code, 2, "{id}: {}", r.stdout);
        let msg = r.json()["error"]["message"].as_str().unwrap().to_string();
        assert!(msg.contains(says) && msg.contains(id), "{id}: {msg}");
    }
    // The 32-character form is accepted (and then sent).
    let r = Sandbox::new()
        .run_async(&[
            "job",
            "stop",
            "-p",
            "huawei",
            "--region",
            "cn-north-4",
            "--job-id",
            "a1B2c3D4e5F6a7B8c9D0e1F2a3B4c5D6",
            "--dry-run",
        ])
        .await;
    assert_eq!(r.code, 0, "{}", r.stdout);
}

#[tokio::test(flavor = "multi_thread")]
async fn dry_run_offline_shows_the_read_and_the_stop() {
    let sb = Sandbox::new().env("CLOUDSTOP_TEST_FIXED_TIME", FIXED);
    let r = sb
        .run_async(&[
            "job",
            "stop",
            "-p",
            "huawei",
            "--region",
            "cn-north-4",
            "--job-id",
            JID,
            "--dry-run",
        ])
        .await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let v = r.json();
    let reqs = v["requests"].as_array().unwrap();
    assert_eq!(reqs.len(), 2);
    let base = format!(
        "https://modelarts.cn-north-4.myhuaweicloud.com/v2/{{project_id}}/training-jobs/{JID}"
    );
    assert_eq!(
        (&reqs[0]["method"], &reqs[0]["url"]),
        (&json!("GET"), &json!(base))
    );
    assert_eq!(reqs[1]["method"], "POST");
    assert_eq!(reqs[1]["url"], format!("{base}/actions"));
    assert_eq!(reqs[1]["body"], STOP_BODY);
    assert_eq!(
        reqs[1]["headers"]["Content-Type"],
        "application/json;charset=UTF-8"
    );
    for q in reqs {
        assert_eq!(q["credentials"], "placeholder");
        assert_eq!(q["headers"]["X-Project-Id"], "{project_id}");
        assert_eq!(q["headers"]["X-Sdk-Date"], FIXED_DATE);
        assert!(q["headers"]["Authorization"]
            .as_str()
            .unwrap()
            .ends_with("Signature=[redacted]"));
    }
    assert_eq!(v["results"][0]["status"], "accepted");
}

#[tokio::test(flavor = "multi_thread")]
async fn hosts_per_region_and_the_service_endpoint_variable() {
    // ap-southeast-1 is on .cn in the SDK's region table.
    let r = Sandbox::new()
        .run_async(&[
            "job",
            "stop",
            "-p",
            "huawei",
            "--region",
            "ap-southeast-1",
            "--project-id",
            PID,
            "--job-id",
            JID,
            "--dry-run",
        ])
        .await;
    assert_eq!(
        r.json()["requests"][1]["url"],
        format!(
            "https://modelarts.ap-southeast-1.myhuaweicloud.cn/v2/{PID}/training-jobs/{JID}/actions"
        )
    );
    let server = MockServer::start().await;
    mount(&server, "GET", job_path(JID), job("Running"), 1).await;
    mount(&server, "POST", actions_path(JID), stopped_answer(), 1).await;
    let sb = creds()
        .env("CLOUDSTOP_HUAWEI_ENDPOINT", &common::refused_url())
        .env("CLOUDSTOP_HUAWEI_MODELARTS_ENDPOINT", &server.uri());
    let r = sb
        .run_async(&[
            "job",
            "stop",
            "-p",
            "huawei",
            "--region",
            "cn-north-4",
            "--project-id",
            PID,
            "--job-id",
            JID,
        ])
        .await;
    assert_eq!(r.code, 0, "{}", r.stdout);
}

#[tokio::test(flavor = "multi_thread")]
async fn project_id_from_iam_then_stop() {
    let server = MockServer::start().await;
    mount(
        &server,
        "GET",
        "/v3/projects".into(),
        ResponseTemplate::new(200)
            .set_body_json(json!({"projects": [{"id": PID, "name": "cn-north-4"}]})),
        1,
    )
    .await;
    mount(&server, "GET", job_path(JID), job("Running"), 1).await;
    mount(&server, "POST", actions_path(JID), stopped_answer(), 1).await;
    let sb = creds().env("HUAWEICLOUD_SDK_IAM_ENDPOINT", &server.uri());
    let a: Vec<String> = args(&server.uri(), &["--job-id", JID])
        .into_iter()
        .filter(|x| x != "--project-id" && x != PID)
        .collect();
    let r = run(sb, a).await;
    assert_eq!(r.code, 0, "{}", r.stdout);
    assert_eq!(r.json()["location"]["project_id"], PID);
}

#[tokio::test(flavor = "multi_thread")]
async fn secrets_never_printed() {
    let server = MockServer::start().await;
    mount(&server, "GET", job_path(JID), job("Running"), 1).await;
    mount(&server, "POST", actions_path(JID), stopped_answer(), 1).await;
    let sb = creds().env("HUAWEICLOUD_SDK_SECURITY_TOKEN", TOKEN);
    let r = run(sb, args(&server.uri(), &["--job-id", JID, "-vvv"])).await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    for s in [SK, TOKEN] {
        assert!(!r.stdout.contains(s) && !r.stderr.contains(s), "{s} leaked");
    }
    let post = &posts(&server).await[0];
    assert_eq!(
        header(post, "authorization").unwrap(),
        expected_authorization(
            post,
            AK,
            SK,
            &[
                "content-type",
                "host",
                "x-project-id",
                "x-sdk-date",
                "x-security-token"
            ]
        )
    );
    for q in r.json()["requests"].as_array().unwrap() {
        assert_eq!(q["headers"]["X-Security-Token"], "[redacted]");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_timed_out_stop_is_read_before_anything_is_sent_again() {
    let server = MockServer::start().await;
    mount_times(&server, "GET", job_path(JID), job("Running"), 1).await;
    mount(&server, "GET", job_path(JID), job("Terminating"), 1).await;
    mount(
        &server,
        "POST",
        actions_path(JID),
        stopped_answer().set_delay(std::time::Duration::from_secs(2)),
        1,
    )
    .await;
    let r = run(
        creds(),
        args(
            &server.uri(),
            &["--job-id", JID, "--timeout", "300ms", "--retries", "3"],
        ),
    )
    .await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(r.json()["results"][0]["status"], "stopping");
    assert_eq!(posts(&server).await.len(), 1);
}
