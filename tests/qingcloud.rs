//! QingCloud HPC through the binary, against a wiremock server that checks every
//! signature the way the HPC API does (decode the query once, re-sign it, compare
//! with quote_plus(signature)) and answers like it (errors in HTTP 200, `ret_code`).

mod common;

use base64::Engine;
use common::{Run, Sandbox};
use hmac::{Hmac, Mac};
use md5::Digest;
use serde_json::{json, Value};
use wiremock::matchers::{body_json, header, method, path, query_param};
use wiremock::{Match, Mock, MockServer, Request, ResponseTemplate};

const AK: &str = "QYTESTACCESSKEY01";
const SK: &str = "test-secret-must-never-show-9f8e7d";
const CLUSTER: &str = "ehpc-8jqdq0mz";
const JOB1: &str = "hpcjob-bp6rj09f";
const JOB2: &str = "hpcjob-k3x9w2qa";
const HPC: &str = "hpc-6o2qc9tl";
const USER: &str = "usr-IuZxPyn2";

fn sandbox() -> Sandbox {
    Sandbox::new()
        .env("QINGCLOUD_ACCESS_KEY_ID", AK)
        .env("QINGCLOUD_SECRET_ACCESS_KEY", SK)
}

async fn run(sb: Sandbox, args: Vec<String>) -> Run {
    sb.run_async(&args).await
}

fn args(server: &MockServer, extra: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
    v.extend(
        [
            "--provider",
            "qingcloud",
            "--endpoint",
            &server.uri(),
            "--rate",
            "100",
        ]
        .iter()
        .map(|s| s.to_string()),
    );
    v
}

fn stop_args(server: &MockServer, extra: &[&str]) -> Vec<String> {
    let mut v = vec!["job", "stop", "--cluster-id", CLUSTER, "--zone", "jn1a"];
    v.extend_from_slice(extra);
    args(server, &v)
}

fn delete_args(server: &MockServer, extra: &[&str]) -> Vec<String> {
    let mut v = vec![
        "cluster",
        "delete",
        "--cluster-id",
        HPC,
        "--zone",
        "jn1a",
        "--run-user",
        USER,
    ];
    v.extend_from_slice(extra);
    args(server, &v)
}

// ---- the server side of the signature -------------------------------------------

fn form_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap());
                i += 2;
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8(out).unwrap()
}

fn py_quote(s: &str, safe: &[u8], plus: bool) -> String {
    let mut out = String::new();
    for &c in s.as_bytes() {
        if c.is_ascii_alphanumeric() || b"_.-~".contains(&c) || safe.contains(&c) {
            out.push(c as char);
        } else if c == b' ' && plus {
            out.push('+');
        } else {
            out.push_str(&format!("%{c:02X}"));
        }
    }
    out
}

/// Checks a request as the HPC API does; `Err` names what is wrong.
fn verify(req: &Request) -> Result<(), String> {
    let query = req.url.query().ok_or("no query")?;
    let parts: Vec<(String, String)> = query
        .split('&')
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            (form_decode(k), form_decode(v))
        })
        .collect();
    let (last_k, sig) = parts.last().ok_or("empty query")?;
    if last_k != "signature" {
        return Err("signature is not the last parameter".into());
    }
    let mut params: Vec<&(String, String)> = parts[..parts.len() - 1]
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .collect();
    for k in [
        "access_key_id",
        "signature_method",
        "signature_version",
        "timestamp",
        "version",
    ] {
        if !params.iter().any(|(n, _)| n == k) {
            return Err(format!("missing {k}"));
        }
    }
    params.sort();
    let canonical: Vec<String> = params
        .iter()
        .map(|(k, v)| format!("{}={}", py_quote(k, b"/", false), py_quote(v, b"/", false)))
        .collect();
    let uri = format!("{}/", py_quote(&form_decode(req.url.path()), b"/", false));
    let md5 = hex::encode(md5::Md5::digest(&req.body));
    let sts = format!(
        "{}\n{uri}\n{}\n{md5}",
        req.method.as_str(),
        canonical.join("&")
    );
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(SK.as_bytes()).unwrap();
    mac.update(sts.as_bytes());
    let want = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    if *sig != py_quote(&want, b"", true) {
        return Err(format!("signature not matched (string to sign {sts:?})"));
    }
    Ok(())
}

struct Signed;
impl Match for Signed {
    fn matches(&self, req: &Request) -> bool {
        match verify(req) {
            Ok(()) => true,
            Err(e) => {
                eprintln!("mock: {e}");
                false
            }
        }
    }
}

fn answer(v: Value) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(v)
}

fn stop_ok() -> ResponseTemplate {
    answer(json!({
        "action": "HpcJobStopJobsResponse",
        "custom_cmd_result": ["{\"job_ids\": \"5\", \"ret_code\": 0}"],
        "job_uuid": "j-942yi1ah8hd",
        "ret_code": 0
    }))
}

fn delete_ok() -> ResponseTemplate {
    answer(json!({
        "action": "HpcClusterDeleteClusterResponse",
        "hpc_cluster_id": [HPC],
        "job_id": "j-jxi9h7em8de",
        "ret_code": 0
    }))
}

fn refused(code: i64, msg: &str) -> ResponseTemplate {
    answer(json!({"ret_code": code, "message": msg}))
}

fn operation(job: &str, status: &str) -> ResponseTemplate {
    answer(json!({
        "action": "HpcOperationListOperationResponse",
        "job_set": [{"job_id": job, "status": status, "job_action": "x", "error_codes": ""}],
        "total_count": 1,
        "ret_code": 0
    }))
}

async fn mount_stop(server: &MockServer, resp: ResponseTemplate, times: u64) {
    Mock::given(method("POST"))
        .and(path("/api/job/stopJobs"))
        .and(Signed)
        .respond_with(resp)
        .expect(times)
        .mount(server)
        .await;
}

async fn mount_delete(server: &MockServer, resp: ResponseTemplate, times: u64) {
    Mock::given(method("POST"))
        .and(path("/api/cluster/deleteCluster"))
        .and(Signed)
        .respond_with(resp)
        .expect(times)
        .mount(server)
        .await;
}

// ---- job stop ---------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn stop_happy_path_sends_all_jobs_in_one_signed_call() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/job/stopJobs"))
        .and(header("content-type", "application/json"))
        .and(body_json(
            json!({"cluster_id": CLUSTER, "job_ids": [JOB1, JOB2], "zone": "jn1a"}),
        ))
        .and(Signed)
        .respond_with(stop_ok())
        .expect(1)
        .mount(&server)
        .await;
    let r = run(
        sandbox(),
        stop_args(&server, &["--job-id", &format!("{JOB1},{JOB2}")]),
    )
    .await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let v = r.json();
    assert_eq!(v["location"]["zone"], "jn1a");
    let results = v["results"].as_array().unwrap();
    assert_eq!(results.len(), 2);
    for (res, id) in results.iter().zip([JOB1, JOB2]) {
        assert_eq!(res["id"], id);
        assert_eq!(res["status"], "stopping");
        assert_eq!(res["provider_job_id"], "j-942yi1ah8hd");
        assert_eq!(res["ok"], true);
    }
    let reqs = server.received_requests().await.unwrap();
    let q = reqs[0].url.query().unwrap();
    assert!(q.contains("timestamp=") && q.contains("version=1"));
    assert!(q.rsplit('&').next().unwrap().starts_with("signature="));
}

#[tokio::test(flavor = "multi_thread")]
async fn stop_keeps_the_endpoint_path_prefix_and_signs_it() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/gw/hpc/api/job/stopJobs"))
        .and(Signed)
        .respond_with(stop_ok())
        .expect(1)
        .mount(&server)
        .await;
    let mut a = stop_args(&server, &["--job-id", JOB1]);
    let i = a.iter().position(|x| x == "--endpoint").unwrap();
    a[i + 1] = format!("{}/gw/hpc/", server.uri());
    let r = run(sandbox(), a).await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
}

#[tokio::test(flavor = "multi_thread")]
async fn stop_chunks_at_100_jobs() {
    let server = MockServer::start().await;
    mount_stop(&server, stop_ok(), 2).await;
    let ids: Vec<String> = (0..150).map(|i| format!("hpcjob-{i:08}")).collect();
    let r = run(sandbox(), stop_args(&server, &["--job-id", &ids.join(",")])).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let reqs = server.received_requests().await.unwrap();
    let sizes: Vec<usize> = reqs
        .iter()
        .map(|q| {
            serde_json::from_slice::<Value>(&q.body).unwrap()["job_ids"]
                .as_array()
                .unwrap()
                .len()
        })
        .collect();
    let mut sorted = sizes.clone();
    sorted.sort();
    assert_eq!(sorted, vec![50, 100]);
}

#[tokio::test(flavor = "multi_thread")]
async fn stop_not_found() {
    let server = MockServer::start().await;
    mount_stop(&server, refused(2100, "ResourceNotFound, job not found"), 2).await;
    let r = run(sandbox(), stop_args(&server, &["--job-id", JOB1])).await;
    assert_eq!(r.code, 4, "{}", r.stdout);
    let v = r.json();
    assert_eq!(v["results"][0]["status"], "not_found");
    assert_eq!(v["results"][0]["error"]["code"], "ret_code 2100");
    assert_eq!(v["results"][0]["error"]["kind"], "not_found");
    let r = run(
        sandbox(),
        stop_args(&server, &["--job-id", JOB1, "--ignore-missing"]),
    )
    .await;
    assert_eq!(r.code, 0, "{}", r.stdout);
    assert_eq!(r.json()["results"][0]["ok"], true);
}

#[tokio::test(flavor = "multi_thread")]
async fn stop_auth_failures_exit_3() {
    for (code, msg) in [
        (1200, "AuthFailure, signature not matched"),
        (1300, "timestamp expired"),
    ] {
        let server = MockServer::start().await;
        mount_stop(&server, refused(code, msg), 1).await;
        let r = run(sandbox(), stop_args(&server, &["--job-id", JOB1])).await;
        assert_eq!(r.code, 3, "{code}: {}", r.stdout);
        let v = r.json();
        assert_eq!(v["results"][0]["error"]["kind"], "auth");
        assert_eq!(v["results"][0]["error"]["code"], format!("ret_code {code}"));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn stop_throttled_then_success() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/job/stopJobs"))
        .and(Signed)
        .respond_with(refused(2500, "QuotaExceeded, api request quota"))
        .up_to_n_times(1)
        .expect(1)
        .with_priority(1)
        .mount(&server)
        .await;
    mount_stop(&server, stop_ok(), 1).await;
    let r = run(sandbox(), stop_args(&server, &["--job-id", JOB1])).await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(r.json()["results"][0]["status"], "stopping");
}

#[tokio::test(flavor = "multi_thread")]
async fn stop_throttled_throughout_exits_5() {
    let server = MockServer::start().await;
    mount_stop(&server, refused(2500, "QuotaExceeded"), 3).await;
    let r = run(
        sandbox(),
        stop_args(&server, &["--job-id", JOB1, "--retries", "2"]),
    )
    .await;
    assert_eq!(r.code, 5, "{}", r.stdout);
    assert_eq!(r.json()["results"][0]["error"]["retryable"], true);
}

#[tokio::test(flavor = "multi_thread")]
async fn stop_already_over_is_already_stopped() {
    let server = MockServer::start().await;
    mount_stop(
        &server,
        refused(1400, "PermissionDenied, job can not be stopped"),
        1,
    )
    .await;
    Mock::given(method("GET"))
        .and(path(format!("/api/job/jobdetail/{JOB1}")))
        .and(query_param("cluster_id", CLUSTER))
        .and(query_param("zone", "jn1a"))
        .and(Signed)
        .respond_with(answer(json!({
            "hpc_job_set": [{"job_status": "cancelled"}], "ret_code": 0
        })))
        .expect(1)
        .mount(&server)
        .await;
    let r = run(sandbox(), stop_args(&server, &["--job-id", JOB1])).await;
    assert_eq!(r.code, 0, "{}", r.stdout);
    assert_eq!(r.json()["results"][0]["status"], "already_stopped");
}

#[tokio::test(flavor = "multi_thread")]
async fn stop_wait_until_successful_or_failed() {
    for (status, want, code) in [("successful", "stopped", 0), ("failed", "failed", 1)] {
        let server = MockServer::start().await;
        mount_stop(&server, stop_ok(), 1).await;
        Mock::given(method("GET"))
            .and(path("/api/operation"))
            .and(query_param("jobs", "j-942yi1ah8hd"))
            .and(query_param("zone", "jn1a"))
            .and(Signed)
            .respond_with(operation("j-942yi1ah8hd", "pending"))
            .up_to_n_times(1)
            .with_priority(1)
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path("/api/operation"))
            .and(Signed)
            .respond_with(operation("j-942yi1ah8hd", status))
            .mount(&server)
            .await;
        let r = run(
            sandbox(),
            stop_args(
                &server,
                &[
                    "--job-id",
                    &format!("{JOB1},{JOB2}"),
                    "--wait",
                    "--poll-interval",
                    "50ms",
                ],
            ),
        )
        .await;
        assert_eq!(r.code, code, "{status}: {}", r.stdout);
        let v = r.json();
        for res in v["results"].as_array().unwrap() {
            assert_eq!(res["status"], want);
            assert_eq!(res["provider_job_id"], "j-942yi1ah8hd");
        }
        // One poll per async job, not per hpcjob id.
        let polls = server
            .received_requests()
            .await
            .unwrap()
            .iter()
            .filter(|q| q.method.as_str() == "GET")
            .count();
        assert_eq!(polls, 2, "{status}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn stop_wait_timeout_exits_6() {
    let server = MockServer::start().await;
    mount_stop(&server, stop_ok(), 1).await;
    Mock::given(method("GET"))
        .and(path("/api/operation"))
        .and(Signed)
        .respond_with(operation("j-942yi1ah8hd", "pending"))
        .mount(&server)
        .await;
    let r = run(
        sandbox(),
        stop_args(
            &server,
            &[
                "--job-id",
                JOB1,
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
    assert_eq!(r.json()["results"][0]["error"]["kind"], "timeout");
}

#[tokio::test(flavor = "multi_thread")]
async fn stop_usage_errors_send_nothing() {
    let server = MockServer::start().await;
    Mock::given(wiremock::matchers::any())
        .respond_with(stop_ok())
        .expect(0)
        .mount(&server)
        .await;
    let cases: Vec<Vec<String>> = vec![
        stop_args(&server, &["--job-id", "hpcjob-BAD"]),
        stop_args(&server, &["--job-id", &format!("{JOB1},job-rybewp57")]),
        args(
            &server,
            &[
                "job",
                "stop",
                "--cluster-id",
                "cl-12345678",
                "--zone",
                "jn1a",
                "--job-id",
                JOB1,
            ],
        ),
        // No --cluster-id.
        args(
            &server,
            &["job", "stop", "--zone", "jn1a", "--job-id", JOB1],
        ),
        // Malformed zone.
        args(
            &server,
            &[
                "job",
                "stop",
                "--cluster-id",
                CLUSTER,
                "--zone",
                "JN 1a",
                "--job-id",
                JOB1,
            ],
        ),
    ];
    for a in cases {
        let r = run(sandbox(), a.clone()).await;
        assert_eq!(r.code, 2, "{a:?}: {}", r.stdout);
        assert_eq!(r.json()["error"]["kind"], "usage");
    }
    // No zone anywhere: the message names every source.
    let r = run(
        sandbox(),
        args(
            &server,
            &["job", "stop", "--cluster-id", CLUSTER, "--job-id", JOB1],
        ),
    )
    .await;
    assert_eq!(r.code, 2, "{}", r.stdout);
    let msg = r.json()["error"]["message"].as_str().unwrap().to_string();
    for needle in ["--zone", "CLOUDSTOP_ZONE", "QINGCLOUD_ZONE", "config.yaml"] {
        assert!(msg.contains(needle), "{msg}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn zone_from_env_and_credentials_from_cli_file() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/job/stopJobs"))
        .and(body_json(
            json!({"cluster_id": CLUSTER, "job_ids": [JOB1], "zone": "pek3a"}),
        ))
        .and(Signed)
        .respond_with(stop_ok())
        .expect(2)
        .mount(&server)
        .await;
    let sb = Sandbox::new();
    sb.write(
        ".qingcloud/config.yaml",
        &format!("qy_access_key_id: '{AK}'\nqy_secret_access_key: '{SK}'\nzone: 'pek3a'\n"),
    );
    let a = args(
        &server,
        &["job", "stop", "--cluster-id", CLUSTER, "--job-id", JOB1],
    );
    let r = run(sb, a.clone()).await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(r.json()["location"]["zone"], "pek3a");
    // The Terraform pair and QINGCLOUD_ZONE.
    let sb = Sandbox::new()
        .env("QINGCLOUD_ACCESS_KEY", AK)
        .env("QINGCLOUD_SECRET_KEY", SK)
        .env("QINGCLOUD_ZONE", "pek3a");
    let r = run(sb, a).await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
}

/// What Notepad and PowerShell write, and what people type: a byte-order mark at the
/// start of qingcloud-cli's file and of an id file, CRLF lines, blanks after commas and a
/// trailing comma. Each gives the same one signed call.
#[tokio::test(flavor = "multi_thread")]
async fn byte_order_marks_and_loose_id_lists_are_read_as_meant() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/job/stopJobs"))
        .and(body_json(
            json!({"cluster_id": CLUSTER, "job_ids": [JOB1, JOB2], "zone": "pek3a"}),
        ))
        .and(Signed)
        .respond_with(stop_ok())
        .expect(3)
        .mount(&server)
        .await;
    let sb = Sandbox::new();
    sb.write(
        ".qingcloud/config.yaml",
        &format!(
            "\u{feff}qy_access_key_id: '{AK}'\r\nqy_secret_access_key: '{SK}'\r\nzone: 'pek3a'\r\n"
        ),
    );
    let ids = sb.write("ids.txt", &format!("\u{feff}{JOB1}\r\n{JOB2}\r\n"));
    let ids = ids.to_str().unwrap().to_string();
    let base = ["job", "stop", "--cluster-id", CLUSTER];
    for extra in [
        ["--job-id".to_string(), format!("{JOB1}, {JOB2},")],
        ["--job-id".to_string(), format!(" {JOB1} ,,{JOB2}")],
        ["--ids-from".to_string(), ids.clone()],
    ] {
        let mut a: Vec<&str> = base.to_vec();
        a.extend(extra.iter().map(String::as_str));
        let r = run(sb_clone(&sb), args(&server, &a)).await;
        assert_eq!(r.code, 0, "{a:?}\n{}\n{}", r.stdout, r.stderr);
        assert_eq!(r.json()["results"].as_array().unwrap().len(), 2);
    }
}

/// A sandbox sharing `sb`'s HOME (its files), for one more run.
fn sb_clone(sb: &Sandbox) -> Sandbox {
    let copy = Sandbox::new();
    for entry in [".qingcloud/config.yaml", "ids.txt"] {
        if let Ok(text) = std::fs::read(sb.home().join(entry)) {
            let p = copy.home().join(entry);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        }
    }
    copy
}

#[tokio::test(flavor = "multi_thread")]
async fn missing_credentials_exit_3_and_send_nothing() {
    let server = MockServer::start().await;
    Mock::given(wiremock::matchers::any())
        .respond_with(stop_ok())
        .expect(0)
        .mount(&server)
        .await;
    let r = run(Sandbox::new(), stop_args(&server, &["--job-id", JOB1])).await;
    assert_eq!(r.code, 3, "{}", r.stdout);
    let msg = r.json()["error"]["message"].as_str().unwrap().to_string();
    for needle in [
        "QINGCLOUD_ACCESS_KEY_ID",
        "QINGCLOUD_SECRET_ACCESS_KEY",
        "QINGCLOUD_ACCESS_KEY",
        "config.yaml",
    ] {
        assert!(msg.contains(needle), "{msg}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn no_secret_at_vvv() {
    let server = MockServer::start().await;
    mount_stop(&server, stop_ok(), 1).await;
    let r = run(sandbox(), stop_args(&server, &["--job-id", JOB1, "-vvv"])).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let reqs = server.received_requests().await.unwrap();
    let q = reqs[0].url.query().unwrap();
    let sig = q.rsplit_once("signature=").unwrap().1;
    for out in [&r.stdout, &r.stderr] {
        assert!(!out.contains(SK));
        assert!(!out.contains(sig), "signature shown");
    }
    assert!(r.stdout.contains("signature=[redacted]"), "{}", r.stdout);
}

// ---- dry run -----------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn dry_run_offline_without_credentials() {
    // No server: port 9 refuses, and nothing may be sent anyway.
    for a in [
        vec![
            "job",
            "stop",
            "--provider",
            "qingcloud",
            "--cluster-id",
            CLUSTER,
            "--job-id",
            JOB1,
            "--zone",
            "jn1a",
            "--dry-run",
            "--endpoint",
            "http://127.0.0.1:9",
        ],
        vec![
            "cluster",
            "delete",
            "--provider",
            "qingcloud",
            "--cluster-id",
            HPC,
            "--zone",
            "jn1a",
            "--run-user",
            USER,
            "--dry-run",
        ],
    ] {
        let a: Vec<String> = a.iter().map(|s| s.to_string()).collect();
        let r = run(
            Sandbox::new().env("CLOUDSTOP_TEST_FIXED_TIME", "1700000000"),
            a,
        )
        .await;
        assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
        let v = r.json();
        assert_eq!(v["dry_run"], true);
        assert_eq!(v["results"][0]["status"], "accepted");
        let req = &v["requests"][0];
        assert_eq!(req["credentials"], "placeholder");
        assert_eq!(req["method"], "POST");
        let url = req["url"].as_str().unwrap();
        assert!(url.ends_with("&signature=[redacted]"), "{url}");
        assert!(url.contains("timestamp=2023-11-14T22%3A13%3A20Z"), "{url}");
        assert_eq!(req["headers"]["Content-Type"], "application/json");
    }
}

// ---- cluster delete ------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn delete_happy_path() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/cluster/deleteCluster"))
        .and(header("content-type", "application/json"))
        .and(body_json(json!({
            "cluster_ids": [HPC], "run_user": USER, "zone": "jn1a", "unlease": "true"
        })))
        .and(Signed)
        .respond_with(delete_ok())
        .expect(1)
        .mount(&server)
        .await;
    let r = run(
        sandbox(),
        delete_args(&server, &["--yes", "--unlease", "true"]),
    )
    .await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let v = r.json();
    assert_eq!(v["results"][0]["status"], "deleting");
    assert_eq!(v["results"][0]["provider_job_id"], "j-jxi9h7em8de");
}

#[tokio::test(flavor = "multi_thread")]
async fn delete_sends_one_cluster_per_call() {
    let server = MockServer::start().await;
    mount_delete(&server, delete_ok(), 2).await;
    let mut a = delete_args(&server, &["--yes"]);
    let i = a.iter().position(|x| x == "--cluster-id").unwrap();
    a[i + 1] = format!("{HPC},{CLUSTER}");
    let r = run(sandbox(), a).await;
    assert_eq!(r.code, 0, "{}", r.stdout);
    let reqs = server.received_requests().await.unwrap();
    let mut ids: Vec<Value> = reqs
        .iter()
        .map(|q| serde_json::from_slice::<Value>(&q.body).unwrap()["cluster_ids"].clone())
        .collect();
    ids.sort_by_key(|v| v.to_string());
    assert_eq!(ids, vec![json!([CLUSTER]), json!([HPC])]);
}

#[tokio::test(flavor = "multi_thread")]
async fn delete_run_user_from_env_and_profile() {
    let server = MockServer::start().await;
    mount_delete(&server, delete_ok(), 2).await;
    let a = args(
        &server,
        &[
            "cluster",
            "delete",
            "--cluster-id",
            HPC,
            "--zone",
            "jn1a",
            "--yes",
        ],
    );
    let r = run(sandbox().env("CLOUDSTOP_RUN_USER", USER), a.clone()).await;
    assert_eq!(r.code, 0, "{}", r.stdout);
    let sb = sandbox();
    let p = sb.write(
        ".config/cloudstop/config.toml",
        &format!("[profiles.default.qingcloud]\nrun_user = \"{USER}\"\n"),
    );
    let _ = p;
    let r = run(sb, a).await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
}

/// SPEC's order for the run user as for every setting: the flag; then
/// CLOUDSTOP_RUN_USER before the default profile's run_user — but an explicit
/// `--profile` wins as a whole, its run_user before the environment's.
#[tokio::test(flavor = "multi_thread")]
async fn run_user_order_follows_the_explicit_profile() {
    const PROFILE_USER: &str = "usr-Pr0f1le9";
    let config = format!(
        "[profiles.default.qingcloud]\nrun_user = \"{PROFILE_USER}\"\n\
[profiles.ops.qingcloud]\nrun_user = \"{PROFILE_USER}\"\n"
    );
    for (extra, env_user, want) in [
        (&[][..], USER, USER),
        (&["--profile", "ops"][..], USER, PROFILE_USER),
        (&["--run-user", "usr-F1agF1ag"][..], USER, "usr-F1agF1ag"),
        (
            &["--profile", "ops", "--run-user", "usr-F1agF1ag"][..],
            USER,
            "usr-F1agF1ag",
        ),
    ] {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/api/cluster/deleteCluster"))
            .and(wiremock::matchers::body_partial_json(
                json!({"run_user": want}),
            ))
            .respond_with(delete_ok())
            .expect(1)
            .mount(&server)
            .await;
        let mut a = vec![
            "cluster",
            "delete",
            "--cluster-id",
            HPC,
            "--zone",
            "jn1a",
            "--yes",
        ];
        a.extend_from_slice(extra);
        let a = args(&server, &a);
        let sb = sandbox().env("CLOUDSTOP_RUN_USER", env_user);
        sb.write(".config/cloudstop/config.toml", &config);
        let r = run(sb, a).await;
        assert_eq!(
            r.code, 0,
            "{extra:?}: want {want}\n{}\n{}",
            r.stdout, r.stderr
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn delete_not_found() {
    let server = MockServer::start().await;
    mount_delete(&server, refused(2100, "ResourceNotFound"), 2).await;
    let r = run(sandbox(), delete_args(&server, &["--yes"])).await;
    assert_eq!(r.code, 4, "{}", r.stdout);
    assert_eq!(r.json()["results"][0]["status"], "not_found");
    let r = run(
        sandbox(),
        delete_args(&server, &["--yes", "--ignore-missing"]),
    )
    .await;
    assert_eq!(r.code, 0, "{}", r.stdout);
}

#[tokio::test(flavor = "multi_thread")]
async fn delete_auth_failures_exit_3() {
    for code in [1200, 1300] {
        let server = MockServer::start().await;
        mount_delete(&server, refused(code, "AuthFailure"), 1).await;
        let r = run(sandbox(), delete_args(&server, &["--yes"])).await;
        assert_eq!(r.code, 3, "{code}: {}", r.stdout);
        assert_eq!(r.json()["results"][0]["error"]["kind"], "auth");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn delete_throttled_then_success() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/cluster/deleteCluster"))
        .and(Signed)
        .respond_with(refused(2500, "QuotaExceeded"))
        .up_to_n_times(1)
        .expect(1)
        .with_priority(1)
        .mount(&server)
        .await;
    mount_delete(&server, delete_ok(), 1).await;
    let r = run(sandbox(), delete_args(&server, &["--yes"])).await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(r.json()["results"][0]["status"], "deleting");
}

#[tokio::test(flavor = "multi_thread")]
async fn delete_internal_error_reads_operations_before_resending() {
    let server = MockServer::start().await;
    mount_delete(&server, refused(5000, "InternalError"), 1).await;
    Mock::given(method("GET"))
        .and(path("/api/operation"))
        .and(query_param("resource_ids", HPC))
        .and(Signed)
        .respond_with(answer(json!({
            "job_set": [{"job_id": "j-jxi9h7em8de", "status": "pending",
                          "job_action": "HpcClusterDeleteCluster", "resource_ids": HPC}],
            "total_count": 1, "ret_code": 0
        })))
        .expect(1)
        .mount(&server)
        .await;
    let r = run(sandbox(), delete_args(&server, &["--yes"])).await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let v = r.json();
    assert_eq!(v["results"][0]["status"], "deleting");
    assert_eq!(v["results"][0]["provider_job_id"], "j-jxi9h7em8de");
}

#[tokio::test(flavor = "multi_thread")]
async fn delete_wait_until_successful_or_failed() {
    for (status, want, code) in [("successful", "deleted", 0), ("failed", "failed", 1)] {
        let server = MockServer::start().await;
        mount_delete(&server, delete_ok(), 1).await;
        Mock::given(method("GET"))
            .and(path("/api/operation"))
            .and(query_param("jobs", "j-jxi9h7em8de"))
            .and(query_param("zone", "jn1a"))
            .and(Signed)
            .respond_with(operation("j-jxi9h7em8de", status))
            .expect(1)
            .mount(&server)
            .await;
        let r = run(
            sandbox(),
            delete_args(&server, &["--yes", "--wait", "--poll-interval", "50ms"]),
        )
        .await;
        assert_eq!(r.code, code, "{status}: {}", r.stdout);
        assert_eq!(r.json()["results"][0]["status"], want);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn delete_usage_errors_and_refused_confirmation_send_nothing() {
    let server = MockServer::start().await;
    Mock::given(wiremock::matchers::any())
        .respond_with(delete_ok())
        .expect(0)
        .mount(&server)
        .await;
    let base = ["cluster", "delete", "--yes"];
    let cases: Vec<Vec<&str>> = vec![
        // Malformed cluster id.
        vec![
            "--cluster-id",
            "hpc-BAD",
            "--zone",
            "jn1a",
            "--run-user",
            USER,
        ],
        vec![
            "--cluster-id",
            "hpcjob-bp6rj09f",
            "--zone",
            "jn1a",
            "--run-user",
            USER,
        ],
        // Malformed run user.
        vec!["--cluster-id", HPC, "--zone", "jn1a", "--run-user", "root"],
        // Missing run user.
        vec!["--cluster-id", HPC, "--zone", "jn1a"],
        // Missing zone.
        vec!["--cluster-id", HPC, "--run-user", USER],
    ];
    for extra in cases {
        let mut a: Vec<&str> = base.to_vec();
        a.extend(extra);
        let a = args(&server, &a);
        let r = run(sandbox(), a.clone()).await;
        assert_eq!(r.code, 2, "{a:?}: {}", r.stdout);
        assert_eq!(r.json()["error"]["kind"], "usage");
    }
    // The missing run user's message names all three sources.
    let r = run(
        sandbox(),
        args(
            &server,
            &[
                "cluster",
                "delete",
                "--yes",
                "--cluster-id",
                HPC,
                "--zone",
                "jn1a",
            ],
        ),
    )
    .await;
    let msg = r.json()["error"]["message"].as_str().unwrap().to_string();
    for needle in ["--run-user", "CLOUDSTOP_RUN_USER", "run_user"] {
        assert!(msg.contains(needle), "{msg}");
    }
    // Without --yes and without a terminal: refused, exit 2.
    let r = run(sandbox(), delete_args(&server, &[])).await;
    assert_eq!(r.code, 2, "{}", r.stdout);
    let v = r.json();
    assert!(
        v["error"]["message"].as_str().unwrap().contains("--yes"),
        "{v}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn broken_cli_file_matters_only_when_needed_and_never_leaks() {
    let server = MockServer::start().await;
    mount_stop(&server, stop_ok(), 1).await;
    let broken = format!("qy_access_key_id: '{AK}'\nqy_secret_access_key: \"{SK}\n  - [\n");
    // Zone and credentials from elsewhere: the file is not read.
    let sb = sandbox();
    sb.write(".qingcloud/config.yaml", &broken);
    let r = run(sb, stop_args(&server, &["--job-id", JOB1])).await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    // Needed for credentials: a config error naming the file, not its content.
    let sb = Sandbox::new();
    sb.write(".qingcloud/config.yaml", &broken);
    let r = run(sb, stop_args(&server, &["--job-id", JOB1])).await;
    assert_eq!(r.code, 3, "{}", r.stdout);
    assert!(r.stdout.contains("config.yaml"));
    assert!(!r.stdout.contains(SK) && !r.stderr.contains(SK));
}

#[tokio::test(flavor = "multi_thread")]
async fn stop_internal_error_resends_only_when_nothing_runs() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/job/stopJobs"))
        .and(Signed)
        .respond_with(refused(5000, "InternalError"))
        .up_to_n_times(1)
        .expect(1)
        .with_priority(1)
        .mount(&server)
        .await;
    mount_stop(&server, stop_ok(), 1).await;
    Mock::given(method("GET"))
        .and(path("/api/operation"))
        .and(query_param("resource_ids", CLUSTER))
        .and(query_param("zone", "jn1a"))
        .and(Signed)
        .respond_with(answer(
            json!({"job_set": [], "total_count": 0, "ret_code": 0}),
        ))
        .expect(1)
        .mount(&server)
        .await;
    let r = run(sandbox(), stop_args(&server, &["--job-id", JOB1])).await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(r.json()["results"][0]["provider_job_id"], "j-942yi1ah8hd");
}

// ---- settling refused calls per resource -------------------------------------------

fn detail(status: &str) -> ResponseTemplate {
    answer(json!({"hpc_job_set": [{"job_status": status}], "ret_code": 0}))
}

async fn mount_detail(server: &MockServer, job: &str, resp: ResponseTemplate) {
    Mock::given(method("GET"))
        .and(path(format!("/api/job/jobdetail/{job}")))
        .and(query_param("cluster_id", CLUSTER))
        .and(Signed)
        .respond_with(resp)
        .mount(server)
        .await;
}

/// `/api/operation?resource_ids=<resource>` answering `job_set`.
async fn mount_ops(server: &MockServer, resource: &str, job_set: Value) {
    Mock::given(method("GET"))
        .and(path("/api/operation"))
        .and(query_param("resource_ids", resource))
        .and(Signed)
        .respond_with(answer(
            json!({"job_set": job_set, "total_count": 1, "ret_code": 0}),
        ))
        .mount(server)
        .await;
}

/// The first stopJobs (or deleteCluster) call is refused with `first`; later ones get `then`.
async fn mount_first_refused(
    server: &MockServer,
    api_path: &str,
    first: ResponseTemplate,
    then: ResponseTemplate,
) {
    Mock::given(method("POST"))
        .and(path(api_path))
        .and(Signed)
        .respond_with(first)
        .up_to_n_times(1)
        .with_priority(1)
        .mount(server)
        .await;
    Mock::given(method("POST"))
        .and(path(api_path))
        .and(Signed)
        .respond_with(then)
        .mount(server)
        .await;
}

/// The bodies of the POSTs to `api_path`, in order (status reads not counted).
async fn posts(server: &MockServer, api_path: &str) -> Vec<Value> {
    server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.method.as_str() == "POST" && r.url.path() == api_path)
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn stop_one_missing_job_does_not_make_the_others_missing() {
    let server = MockServer::start().await;
    mount_first_refused(
        &server,
        "/api/job/stopJobs",
        refused(2100, "ResourceNotFound, job [hpcjob-bp6rj09f] not found"),
        stop_ok(),
    )
    .await;
    mount_detail(&server, JOB1, refused(2100, "ResourceNotFound")).await;
    mount_detail(&server, JOB2, detail("running")).await;
    mount_ops(&server, CLUSTER, json!([])).await;
    let r = run(
        sandbox(),
        stop_args(&server, &["--job-id", &format!("{JOB1},{JOB2}")]),
    )
    .await;
    assert_eq!(r.code, 4, "{}\n{}", r.stdout, r.stderr);
    let v = r.json();
    assert_eq!(v["results"][0]["status"], "not_found");
    assert_eq!(v["results"][0]["error"]["code"], "ret_code 2100");
    assert_eq!(v["results"][1]["status"], "stopping");
    assert_eq!(v["results"][1]["provider_job_id"], "j-942yi1ah8hd");
    let sent = posts(&server, "/api/job/stopJobs").await;
    assert_eq!(sent.len(), 2, "{sent:?}");
    assert_eq!(sent[1]["job_ids"], json!([JOB2]));
    // The teardown form: the missing job is fine, the other one is being stopped.
    let server2 = MockServer::start().await;
    mount_first_refused(
        &server2,
        "/api/job/stopJobs",
        refused(2100, "ResourceNotFound"),
        stop_ok(),
    )
    .await;
    mount_detail(
        &server2,
        JOB1,
        answer(json!({"hpc_job_set": [], "ret_code": 0})),
    )
    .await;
    mount_detail(&server2, JOB2, detail("pending")).await;
    mount_ops(&server2, CLUSTER, json!([])).await;
    let r = run(
        sandbox(),
        stop_args(
            &server2,
            &["--job-id", &format!("{JOB1},{JOB2}"), "--ignore-missing"],
        ),
    )
    .await;
    assert_eq!(r.code, 0, "{}", r.stdout);
    assert_eq!(posts(&server2, "/api/job/stopJobs").await.len(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn stop_one_finished_job_does_not_fail_the_running_ones() {
    let server = MockServer::start().await;
    mount_first_refused(
        &server,
        "/api/job/stopJobs",
        refused(
            1400,
            "PermissionDenied, job [hpcjob-bp6rj09f] can not be stopped",
        ),
        stop_ok(),
    )
    .await;
    mount_detail(&server, JOB1, detail("finished")).await;
    mount_detail(&server, JOB2, detail("running")).await;
    mount_ops(&server, CLUSTER, json!([])).await;
    let r = run(
        sandbox(),
        stop_args(&server, &["--job-id", &format!("{JOB1},{JOB2}")]),
    )
    .await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let v = r.json();
    assert_eq!(v["results"][0]["status"], "already_stopped");
    assert_eq!(v["results"][1]["status"], "stopping");
    let sent = posts(&server, "/api/job/stopJobs").await;
    assert_eq!(sent.len(), 2, "{sent:?}");
    assert_eq!(sent[1]["job_ids"], json!([JOB2]));
}

#[tokio::test(flavor = "multi_thread")]
async fn stop_refused_for_running_jobs_fails_without_a_second_send() {
    let server = MockServer::start().await;
    mount_stop(&server, refused(1400, "PermissionDenied, not yours"), 1).await;
    mount_detail(&server, JOB1, detail("running")).await;
    mount_ops(&server, CLUSTER, json!([])).await;
    let r = run(sandbox(), stop_args(&server, &["--job-id", JOB1])).await;
    assert_eq!(r.code, 1, "{}", r.stdout);
    let v = r.json();
    assert_eq!(v["results"][0]["status"], "failed");
    assert_eq!(v["results"][0]["error"]["code"], "ret_code 1400");
}

#[tokio::test(flavor = "multi_thread")]
async fn stop_run_again_while_the_stop_is_under_way_is_stopping() {
    for wait in [false, true] {
        let server = MockServer::start().await;
        mount_stop(
            &server,
            refused(1400, "PermissionDenied, job is stopping"),
            1,
        )
        .await;
        mount_detail(&server, JOB1, detail("running")).await;
        mount_ops(
            &server,
            CLUSTER,
            json!([{"job_id": "j-942yi1ah8hd", "status": "working",
                    "job_action": "HpcJobStopJobs", "resource_ids": CLUSTER}]),
        )
        .await;
        Mock::given(method("GET"))
            .and(path("/api/operation"))
            .and(query_param("jobs", "j-942yi1ah8hd"))
            .and(Signed)
            .respond_with(operation("j-942yi1ah8hd", "successful"))
            .expect(u64::from(wait))
            .mount(&server)
            .await;
        let mut extra = vec!["--job-id", JOB1];
        if wait {
            extra.extend(["--wait", "--poll-interval", "50ms"]);
        }
        let r = run(sandbox(), stop_args(&server, &extra)).await;
        assert_eq!(r.code, 0, "{wait}: {}\n{}", r.stdout, r.stderr);
        let v = r.json();
        let want = if wait { "stopped" } else { "stopping" };
        assert_eq!(v["results"][0]["status"], want);
        assert_eq!(v["results"][0]["provider_job_id"], "j-942yi1ah8hd");
        assert_eq!(posts(&server, "/api/job/stopJobs").await.len(), 1);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn delete_of_an_already_deleted_cluster_is_not_found() {
    // Refused (1400); the operations show the earlier delete succeeded, or the cluster
    // list no longer has it, or has it as deleted.
    for (ops, listed) in [
        (
            json!([{"job_id": "j-old", "status": "successful",
                    "job_action": "HpcClusterDeleteCluster", "resource_ids": HPC}]),
            json!([]),
        ),
        (
            json!([]),
            json!([{"cluster_id": CLUSTER, "cluster_status": "active"}]),
        ),
        (
            json!([]),
            json!([{"cluster_id": HPC, "cluster_status": "deleted"}]),
        ),
    ] {
        let server = MockServer::start().await;
        mount_delete(
            &server,
            refused(1400, "PermissionDenied, cluster status is deleted"),
            2,
        )
        .await;
        mount_ops(&server, HPC, ops.clone()).await;
        Mock::given(method("GET"))
            .and(path("/api/cluster/list"))
            .and(query_param("zone", "jn1a"))
            .and(Signed)
            .respond_with(answer(json!({
                "cluster_set": listed, "total_count": 1, "ret_code": 0
            })))
            .mount(&server)
            .await;
        let r = run(sandbox(), delete_args(&server, &["--yes"])).await;
        assert_eq!(r.code, 4, "{ops}: {}\n{}", r.stdout, r.stderr);
        assert_eq!(r.json()["results"][0]["status"], "not_found");
        let r = run(
            sandbox(),
            delete_args(&server, &["--yes", "--ignore-missing"]),
        )
        .await;
        assert_eq!(r.code, 0, "{ops}: {}", r.stdout);
        assert_eq!(r.json()["results"][0]["ok"], true);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn delete_refused_while_its_delete_runs_is_deleting() {
    let server = MockServer::start().await;
    mount_delete(
        &server,
        refused(1400, "PermissionDenied, cluster is busy"),
        1,
    )
    .await;
    mount_ops(
        &server,
        HPC,
        json!([{"job_id": "j-jxi9h7em8de", "status": "pending",
                "job_action": "HpcClusterDeleteCluster", "resource_ids": HPC}]),
    )
    .await;
    let r = run(sandbox(), delete_args(&server, &["--yes"])).await;
    assert_eq!(r.code, 0, "{}", r.stdout);
    let v = r.json();
    assert_eq!(v["results"][0]["status"], "deleting");
    assert_eq!(v["results"][0]["provider_job_id"], "j-jxi9h7em8de");
}
