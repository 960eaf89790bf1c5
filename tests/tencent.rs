//! Tencent Cloud Batch `job stop` through the built binary against a local mock.

mod common;

use common::{blocking, Sandbox};
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::time::Duration;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const ID: &str = "AKIDTESTCLOUDSTOP01";
const KEY: &str = "test-secret-key-never-printed-0001";

fn ok(request_id: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({"Response": {"RequestId": request_id}}))
}

fn api_error(code: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({"Response": {
        "Error": {"Code": code, "Message": format!("mock {code}")},
        "RequestId": "err-req"
    }}))
}

fn job_state(state: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({"Response": {
        "JobId": "job-rybewp57", "JobState": state, "RequestId": "desc-req"
    }}))
}

fn sandbox() -> Sandbox {
    Sandbox::new()
        .env("TENCENTCLOUD_SECRET_ID", ID)
        .env("TENCENTCLOUD_SECRET_KEY", KEY)
}

fn action(a: &str) -> wiremock::matchers::HeaderExactMatcher {
    header("X-TC-Action", a)
}

async fn run(sb: Sandbox, args: &[&str]) -> common::Run {
    sb.run_async(args).await
}

fn stop_args<'a>(uri: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut v = vec![
        "job",
        "stop",
        "--provider",
        "tencent",
        "--region",
        "ap-guangzhou",
        "--endpoint",
        uri,
    ];
    v.extend_from_slice(extra);
    v
}

fn hmac(key: &[u8], data: &str) -> Vec<u8> {
    let mut m = Hmac::<Sha256>::new_from_slice(key).unwrap();
    m.update(data.as_bytes());
    m.finalize().into_bytes().to_vec()
}

/// Verifies a received request's TC3 signature independently of the binary's signer,
/// the way Tencent's gateway does: from the bytes and headers that arrived.
fn verify_tc3(req: &Request, secret_id: &str, secret_key: &str, service: &str) {
    let h = |n: &str| req.headers.get(n).unwrap().to_str().unwrap().to_string();
    let ts: i64 = h("x-tc-timestamp").parse().unwrap();
    let date = chrono::DateTime::from_timestamp(ts, 0)
        .unwrap()
        .format("%Y-%m-%d")
        .to_string();
    let canonical = format!(
        "POST\n/\n\ncontent-type:{}\nhost:{}\n\ncontent-type;host\n{}",
        h("content-type"),
        h("host"),
        hex::encode(Sha256::digest(&req.body))
    );
    let scope = format!("{date}/{service}/tc3_request");
    let sts = format!(
        "TC3-HMAC-SHA256\n{ts}\n{scope}\n{}",
        hex::encode(Sha256::digest(canonical.as_bytes()))
    );
    let k = hmac(format!("TC3{secret_key}").as_bytes(), &date);
    let k = hmac(&k, service);
    let k = hmac(&k, "tc3_request");
    let sig = hex::encode(hmac(&k, &sts));
    assert_eq!(
        h("authorization"),
        format!("TC3-HMAC-SHA256 Credential={secret_id}/{scope}, SignedHeaders=content-type;host, Signature={sig}")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn happy_path_signs_and_reports() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/"))
        .and(action("TerminateJob"))
        .and(header("X-TC-Version", "2017-03-12"))
        .and(header("X-TC-Region", "ap-guangzhou"))
        .and(header("Content-Type", "application/json"))
        .respond_with(ok("970e5a9f-2963-436c-8dad-4847360676f7"))
        .expect(1)
        .mount(&server)
        .await;
    let uri = server.uri();
    let r = run(sandbox(), &stop_args(&uri, &["--job-id", "job-rybewp57"])).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v = r.json();
    assert_eq!(v["ok"], true);
    assert_eq!(v["provider"], "tencent");
    assert_eq!(v["operation"], "job.stop");
    assert_eq!(v["location"]["region"], "ap-guangzhou");
    assert_eq!(v["results"][0]["id"], "job-rybewp57");
    assert_eq!(v["results"][0]["status"], "stopping");
    assert_eq!(
        v["results"][0]["request_id"],
        "970e5a9f-2963-436c-8dad-4847360676f7"
    );
    assert_eq!(
        v["summary"],
        json!({"requested": 1, "succeeded": 1, "failed": 0})
    );
    assert_eq!(v["error"], Value::Null);
    let reqs = server.received_requests().await.unwrap();
    assert_eq!(reqs[0].body, br#"{"JobId":"job-rybewp57"}"#);
    verify_tc3(&reqs[0], ID, KEY, "batch");
}

#[tokio::test(flavor = "multi_thread")]
async fn fixed_clock_gives_the_vector_scope_date() {
    let server = MockServer::start().await;
    Mock::given(action("TerminateJob"))
        .respond_with(ok("r"))
        .expect(1)
        .mount(&server)
        .await;
    let uri = server.uri();
    let sb = sandbox().env("CLOUDSTOP_TEST_FIXED_TIME", "1700000000");
    let r = run(sb, &stop_args(&uri, &["--job-id", "job-rybewp57"])).await;
    assert_eq!(r.code, 0);
    let reqs = server.received_requests().await.unwrap();
    let auth = reqs[0]
        .headers
        .get("authorization")
        .unwrap()
        .to_str()
        .unwrap();
    // 2023-11-14T22:13:20Z is already the 15th in UTC+8: the scope must use the UTC date.
    assert!(auth.contains("/2023-11-14/batch/tc3_request"), "{auth}");
    assert_eq!(reqs[0].headers.get("x-tc-timestamp").unwrap(), "1700000000");
    verify_tc3(&reqs[0], ID, KEY, "batch");
}

#[tokio::test(flavor = "multi_thread")]
async fn several_ids_split_repeat_dedupe_and_stdin() {
    let server = MockServer::start().await;
    Mock::given(action("TerminateJob"))
        .respond_with(ok("r"))
        .expect(3)
        .mount(&server)
        .await;
    let uri = server.uri();
    let args = stop_args(
        &uri,
        &[
            "--job-id",
            "job-aaaaaaa1,job-aaaaaaa2",
            "--job-id",
            "job-aaaaaaa1",
            "--ids-from",
            "-",
            "--rate",
            "100",
        ],
    );
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    let sb = sandbox();
    let r = blocking(move || {
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        sb.run_with_stdin(&a, "# teardown list\n\njob-aaaaaaa3\njob-aaaaaaa2\n")
    })
    .await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v = r.json();
    let ids: Vec<&str> = v["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["job-aaaaaaa1", "job-aaaaaaa2", "job-aaaaaaa3"]);
    assert_eq!(v["summary"]["requested"], 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn not_found_is_exit_4_or_ok_with_ignore_missing() {
    let server = MockServer::start().await;
    Mock::given(action("TerminateJob"))
        .respond_with(api_error("ResourceNotFound.Job"))
        .mount(&server)
        .await;
    let uri = server.uri();
    let r = run(sandbox(), &stop_args(&uri, &["--job-id", "job-rybewp57"])).await;
    assert_eq!(r.code, 4);
    let v = r.json();
    assert_eq!(v["ok"], false);
    assert_eq!(v["results"][0]["status"], "not_found");
    assert_eq!(v["results"][0]["error"]["kind"], "not_found");
    assert_eq!(v["results"][0]["error"]["code"], "ResourceNotFound.Job");
    assert_eq!(v["results"][0]["request_id"], "err-req");

    let r = run(
        sandbox(),
        &stop_args(&uri, &["--job-id", "job-rybewp57", "--ignore-missing"]),
    )
    .await;
    assert_eq!(r.code, 0);
    let v = r.json();
    assert_eq!(v["ok"], true);
    assert_eq!(v["results"][0]["status"], "not_found");
    assert_eq!(v["results"][0]["ok"], true);
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_id_sends_nothing() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ok("r"))
        .expect(0)
        .mount(&server)
        .await;
    let uri = server.uri();
    for bad in [
        "job-rybewp5",
        "JOB-RYBEWP57",
        "job-rybewp57;rm -rf /",
        "ins-rybewp57",
        // Blanks around an id are trimmed (`--job-id "a, b"`); inside one they stay.
        "job-rybe wp57",
    ] {
        let r = run(
            sandbox(),
            &stop_args(&uri, &["--job-id", "job-aaaaaaaa", "--job-id", bad]),
        )
        .await;
        assert_eq!(r.code, 2, "{bad}: {}", r.stdout);
        let v = r.json();
        assert_eq!(v["error"]["kind"], "usage");
        assert!(
            v["error"]["message"].as_str().unwrap().contains("job-"),
            "{}",
            v["error"]
        );
    }
    let r = run(sandbox(), &stop_args(&uri, &["--job-id", ""])).await;
    assert_eq!(r.code, 2);
    assert!(r.json()["error"]["message"]
        .as_str()
        .unwrap()
        .contains("empty"));
}

#[tokio::test(flavor = "multi_thread")]
async fn auth_failure_is_exit_3_and_stops_sending() {
    let server = MockServer::start().await;
    Mock::given(action("TerminateJob"))
        .respond_with(api_error("AuthFailure.SignatureFailure"))
        .expect(1)
        .mount(&server)
        .await;
    let uri = server.uri();
    let r = run(
        sandbox(),
        &stop_args(
            &uri,
            &[
                "--job-id",
                "job-aaaaaaa1,job-aaaaaaa2",
                "--concurrency",
                "1",
            ],
        ),
    )
    .await;
    assert_eq!(r.code, 3);
    let v = r.json();
    assert_eq!(v["error"]["kind"], "auth");
    assert_eq!(
        v["results"][0]["error"]["code"],
        "AuthFailure.SignatureFailure"
    );
    assert_eq!(v["results"][1]["status"], "failed");
}

#[tokio::test(flavor = "multi_thread")]
async fn throttling_then_success_is_retried() {
    let server = MockServer::start().await;
    Mock::given(action("TerminateJob"))
        .respond_with(api_error("RequestLimitExceeded"))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(action("TerminateJob"))
        .respond_with(ok("after-throttle"))
        .mount(&server)
        .await;
    let uri = server.uri();
    let r = run(
        sandbox(),
        &stop_args(&uri, &["--job-id", "job-rybewp57", "--rate", "50"]),
    )
    .await;
    assert_eq!(r.code, 0, "{}", r.stdout);
    assert_eq!(r.json()["results"][0]["request_id"], "after-throttle");
    let reqs = server.received_requests().await.unwrap();
    assert_eq!(reqs.len(), 2);
    for req in &reqs {
        verify_tc3(req, ID, KEY, "batch");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn throttling_that_never_ends_is_exit_5() {
    let server = MockServer::start().await;
    Mock::given(action("TerminateJob"))
        .respond_with(api_error("RequestLimitExceeded.UinLimitExceeded"))
        .expect(3)
        .mount(&server)
        .await;
    let uri = server.uri();
    let r = run(
        sandbox(),
        &stop_args(
            &uri,
            &["--job-id", "job-rybewp57", "--retries", "2", "--rate", "50"],
        ),
    )
    .await;
    assert_eq!(r.code, 5);
    let v = r.json();
    assert_eq!(v["results"][0]["error"]["kind"], "throttled");
    assert_eq!(v["results"][0]["error"]["retryable"], true);
}

#[tokio::test(flavor = "multi_thread")]
async fn server_error_then_success() {
    let server = MockServer::start().await;
    Mock::given(action("TerminateJob"))
        .respond_with(ResponseTemplate::new(503).set_body_string("upstream unavailable"))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(action("TerminateJob"))
        .respond_with(ok("after-503"))
        .mount(&server)
        .await;
    let uri = server.uri();
    let r = run(
        sandbox(),
        &stop_args(&uri, &["--job-id", "job-rybewp57", "--rate", "50"]),
    )
    .await;
    assert_eq!(r.code, 0, "{}", r.stdout);
    assert_eq!(server.received_requests().await.unwrap().len(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn garbage_body_is_an_error_with_status_and_snippet() {
    let server = MockServer::start().await;
    Mock::given(action("TerminateJob"))
        .respond_with(ResponseTemplate::new(200).set_body_string("<html>captive portal</html>"))
        .expect(2)
        .mount(&server)
        .await;
    let uri = server.uri();
    let r = run(
        sandbox(),
        &stop_args(
            &uri,
            &["--job-id", "job-rybewp57", "--retries", "1", "--rate", "50"],
        ),
    )
    .await;
    assert_eq!(r.code, 5);
    let e = &r.json()["results"][0]["error"];
    let msg = e["message"].as_str().unwrap();
    assert!(
        msg.contains("HTTP 200") && msg.contains("captive portal"),
        "{msg}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn slow_answer_times_out() {
    let server = MockServer::start().await;
    Mock::given(action("TerminateJob"))
        .respond_with(ok("late").set_delay(Duration::from_secs(3)))
        .mount(&server)
        .await;
    let uri = server.uri();
    let r = run(
        sandbox(),
        &stop_args(
            &uri,
            &[
                "--job-id",
                "job-rybewp57",
                "--timeout",
                "200ms",
                "--retries",
                "1",
            ],
        ),
    )
    .await;
    assert_eq!(r.code, 5);
    let e = &r.json()["results"][0]["error"];
    assert_eq!(e["kind"], "timeout");
    assert_eq!(server.received_requests().await.unwrap().len(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn wait_polls_describe_job_and_never_resends_terminate() {
    let server = MockServer::start().await;
    Mock::given(action("TerminateJob"))
        .respond_with(ok("t"))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(action("DescribeJob"))
        .respond_with(job_state("RUNNING"))
        .up_to_n_times(2)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(action("DescribeJob"))
        .respond_with(job_state("FAILED"))
        .mount(&server)
        .await;
    let uri = server.uri();
    let r = run(
        sandbox(),
        &stop_args(
            &uri,
            &[
                "--job-id",
                "job-rybewp57",
                "--wait",
                "--poll-interval",
                "50ms",
                "--rate",
                "100",
            ],
        ),
    )
    .await;
    assert_eq!(r.code, 0, "{}", r.stdout);
    assert_eq!(r.json()["results"][0]["status"], "stopped");
    let reqs = server.received_requests().await.unwrap();
    let describes = reqs
        .iter()
        .filter(|r| r.headers.get("x-tc-action").unwrap() == "DescribeJob")
        .count();
    assert_eq!(describes, 3);
    for req in &reqs {
        verify_tc3(req, ID, KEY, "batch");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn wait_timeout_is_exit_6() {
    let server = MockServer::start().await;
    Mock::given(action("TerminateJob"))
        .respond_with(ok("t"))
        .mount(&server)
        .await;
    Mock::given(action("DescribeJob"))
        .respond_with(job_state("RUNNING"))
        .mount(&server)
        .await;
    let uri = server.uri();
    let r = run(
        sandbox(),
        &stop_args(
            &uri,
            &[
                "--job-id",
                "job-rybewp57",
                "--wait",
                "--poll-interval",
                "50ms",
                "--wait-timeout",
                "300ms",
                "--rate",
                "100",
            ],
        ),
    )
    .await;
    assert_eq!(r.code, 6, "{}", r.stdout);
    let v = r.json();
    assert_eq!(v["results"][0]["status"], "stopping");
    assert_eq!(v["results"][0]["error"]["kind"], "timeout");
}

#[tokio::test(flavor = "multi_thread")]
async fn dry_run_is_offline_and_redacted() {
    // No server, no credentials, an endpoint nobody listens on.
    let r = run(
        Sandbox::new(),
        &[
            "job",
            "stop",
            "-p",
            "tencent",
            "--region",
            "ap-guangzhou",
            "--job-id",
            "job-rybewp57",
            "--dry-run",
        ],
    )
    .await;
    assert_eq!(r.code, 0, "{}", r.stdout);
    let v = r.json();
    assert_eq!(v["dry_run"], true);
    assert_eq!(v["results"][0]["status"], "accepted");
    let req = &v["requests"][0];
    assert_eq!(req["method"], "POST");
    assert_eq!(req["url"], "https://batch.tencentcloudapi.com/");
    assert_eq!(req["credentials"], "placeholder");
    assert_eq!(req["body"], r#"{"JobId":"job-rybewp57"}"#);
    assert_eq!(req["headers"]["X-TC-Action"], "TerminateJob");
    let auth = req["headers"]["Authorization"].as_str().unwrap();
    assert!(auth.ends_with("Signature=[redacted]"), "{auth}");
}

#[tokio::test(flavor = "multi_thread")]
async fn dry_run_with_credentials_marks_them_configured_and_hides_the_token() {
    let sb = sandbox().env("TENCENTCLOUD_TOKEN", "session-token-secret-xyz");
    let r = run(
        sb,
        &[
            "job",
            "stop",
            "-p",
            "tencent",
            "--region",
            "ap-guangzhou",
            "--job-id",
            "job-rybewp57",
            "--dry-run",
        ],
    )
    .await;
    assert_eq!(r.code, 0);
    let v = r.json();
    assert_eq!(v["requests"][0]["credentials"], "configured");
    assert_eq!(v["requests"][0]["headers"]["X-TC-Token"], "[redacted]");
    assert!(!r.stdout.contains("session-token-secret-xyz"));
    assert!(!r.stdout.contains(KEY));
}

#[tokio::test(flavor = "multi_thread")]
async fn profile_file_is_used_and_refused_when_readable_by_others() {
    let server = MockServer::start().await;
    Mock::given(action("TerminateJob"))
        .respond_with(ok("r"))
        .mount(&server)
        .await;
    let uri = server.uri();
    let sb = Sandbox::new();
    let cfg = sb.write(
        ".config/cloudstop/config.toml",
        "[profiles.default.tencent]\nsecret_id = \"AKIDFROMPROFILE\"\nsecret_key = \"profile-secret\"\nregion = \"ap-shanghai\"\n",
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&cfg, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let args = [
        "job",
        "stop",
        "-p",
        "tencent",
        "--endpoint",
        &uri,
        "--job-id",
        "job-rybewp57",
    ];
    let r = sb.run(&args);
    assert_eq!(r.code, 0, "{}", r.stdout);
    assert_eq!(r.json()["location"]["region"], "ap-shanghai");
    let reqs = server.received_requests().await.unwrap();
    verify_tc3(&reqs[0], "AKIDFROMPROFILE", "profile-secret", "batch");

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&cfg, std::fs::Permissions::from_mode(0o644)).unwrap();
        let r = sb.run(&args);
        assert_eq!(r.code, 3);
        let v = r.json();
        assert_eq!(v["error"]["kind"], "config");
        assert!(v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("chmod 600"));
        assert_eq!(server.received_requests().await.unwrap().len(), 1);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn explicit_profile_goes_before_the_environment() {
    let server = MockServer::start().await;
    Mock::given(action("TerminateJob"))
        .respond_with(ok("r"))
        .mount(&server)
        .await;
    let uri = server.uri();
    let sb = sandbox();
    let cfg = sb.write(
        ".config/cloudstop/config.toml",
        "[profiles.prod.tencent]\nsecret_id = \"AKIDPROD\"\nsecret_key = \"prod-secret\"\n",
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&cfg, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let base = [
        "job",
        "stop",
        "-p",
        "tencent",
        "--region",
        "ap-guangzhou",
        "--endpoint",
        &uri,
        "--job-id",
        "job-rybewp57",
    ];
    let mut args = base.to_vec();
    args.extend(["--profile", "prod"]);
    assert_eq!(sb.run(&args).code, 0);
    assert_eq!(sb.run(&base).code, 0);
    let reqs = server.received_requests().await.unwrap();
    verify_tc3(&reqs[0], "AKIDPROD", "prod-secret", "batch");
    verify_tc3(&reqs[1], ID, KEY, "batch");
}

#[tokio::test(flavor = "multi_thread")]
async fn sdk_credentials_file_is_the_last_resort() {
    let server = MockServer::start().await;
    Mock::given(action("TerminateJob"))
        .respond_with(ok("r"))
        .mount(&server)
        .await;
    let uri = server.uri();
    let sb = Sandbox::new();
    sb.write(
        ".tencentcloud/credentials",
        "[default]\nsecret_id = AKIDFROMFILE\nsecret_key = file-secret\n",
    );
    let r = sb.run(&[
        "job",
        "stop",
        "-p",
        "tencent",
        "--region",
        "ap-guangzhou",
        "--endpoint",
        &uri,
        "--job-id",
        "job-rybewp57",
    ]);
    assert_eq!(r.code, 0, "{}", r.stdout);
    verify_tc3(
        &server.received_requests().await.unwrap()[0],
        "AKIDFROMFILE",
        "file-secret",
        "batch",
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn missing_credentials_and_region() {
    let r = run(
        Sandbox::new(),
        &[
            "job",
            "stop",
            "-p",
            "tencent",
            "--region",
            "ap-guangzhou",
            "--job-id",
            "job-rybewp57",
        ],
    )
    .await;
    assert_eq!(r.code, 3);
    let msg = r.json()["error"]["message"].as_str().unwrap().to_string();
    assert!(
        msg.contains("TENCENTCLOUD_SECRET_ID") && msg.contains(".tencentcloud/credentials"),
        "{msg}"
    );

    let r = run(
        sandbox(),
        &["job", "stop", "-p", "tencent", "--job-id", "job-rybewp57"],
    )
    .await;
    assert_eq!(r.code, 2);
    let msg = r.json()["error"]["message"].as_str().unwrap().to_string();
    assert!(
        msg.contains("--region")
            && msg.contains("TENCENTCLOUD_REGION")
            && msg.contains("CLOUDSTOP_REGION"),
        "{msg}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn secrets_never_appear_at_vvv() {
    let server = MockServer::start().await;
    Mock::given(action("TerminateJob"))
        .respond_with(api_error("RequestLimitExceeded"))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(action("TerminateJob"))
        .respond_with(ok("r"))
        .mount(&server)
        .await;
    let uri = server.uri();
    let sb = sandbox().env("TENCENTCLOUD_TOKEN", "session-token-secret-xyz");
    let r = run(
        sb,
        &stop_args(&uri, &["--job-id", "job-rybewp57", "-vvv", "--rate", "50"]),
    )
    .await;
    assert_eq!(r.code, 0);
    for out in [&r.stdout, &r.stderr] {
        assert!(!out.contains(KEY), "secret key leaked");
        assert!(!out.contains("session-token-secret-xyz"), "token leaked");
    }
    assert!(
        r.stderr.contains("credentials from environment"),
        "{}",
        r.stderr
    );
    let v = r.json();
    assert_eq!(
        v["requests"].as_array().unwrap().len(),
        2,
        "-vvv records every attempt"
    );
    let sig = server.received_requests().await.unwrap()[0]
        .headers
        .get("authorization")
        .unwrap()
        .to_str()
        .unwrap()
        .rsplit('=')
        .next()
        .unwrap()
        .to_string();
    assert!(
        !r.stdout.contains(&sig) && !r.stderr.contains(&sig),
        "signature leaked"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn unsupported_operation_names_what_is_supported() {
    let r = run(
        sandbox(),
        &[
            "cluster",
            "delete",
            "-p",
            "tencent",
            "--cluster-id",
            "hpc-6o2qc9tl",
            "--run-user",
            "usr-IuZxPyn2",
            "--yes",
        ],
    )
    .await;
    assert_eq!(r.code, 2);
    let msg = r.json()["error"]["message"].as_str().unwrap().to_string();
    assert!(
        msg.contains("tencent does not support cluster delete") && msg.contains("job stop"),
        "{msg}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn clap_usage_errors_exit_2() {
    for args in [
        vec![
            "job",
            "stop",
            "-p",
            "tencent",
            "--job-id",
            "job-rybewp57",
            "--timeout",
            "banana",
        ],
        vec![
            "job",
            "stop",
            "-p",
            "tencent",
            "--job-id",
            "job-rybewp57",
            "--concurrency",
            "0",
        ],
        vec![
            "job",
            "stop",
            "-p",
            "tencent",
            "--job-id",
            "job-rybewp57",
            "--rate",
            "-1",
        ],
        vec!["job", "stop", "-p", "aws", "--job-id", "job-rybewp57"],
    ] {
        let r = run(sandbox(), &args).await;
        assert_eq!(r.code, 2, "{args:?}");
        assert!(r.stdout.is_empty());
        assert!(r.stderr.contains("invalid value"), "{}", r.stderr);
    }
}
