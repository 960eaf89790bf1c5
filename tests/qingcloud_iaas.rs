//! QingCloud IaaS `server stop` through the binary, against a wiremock server that
//! checks every signature the way the IaaS API does (decode the query, drop
//! `signature`, re-canonicalise, HMAC, compare with the once-decoded signature) and
//! answers like it (errors in HTTP 200, `ret_code`). PROVIDERS.md §2b.

mod common;

use base64::Engine;
use common::{blocking, Run, Sandbox};
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use wiremock::matchers::{method, path, query_param};
use wiremock::{Match, Mock, MockServer, Request, ResponseTemplate};

const AK: &str = "QYTESTACCESSKEY01";
const SK: &str = "iaas-secret-must-never-show-4c3b2a";
const I1: &str = "i-rtyv0968";
const I2: &str = "i-8jk4m2zp";
const I3: &str = "i-2aypaijz";
const JOB: &str = "j-ybnoeitr";

fn sandbox() -> Sandbox {
    Sandbox::new()
        .env("QINGCLOUD_ACCESS_KEY_ID", AK)
        .env("QINGCLOUD_SECRET_ACCESS_KEY", SK)
}

async fn run(sb: Sandbox, args: Vec<String>) -> Run {
    sb.run_async(&args).await
}

/// `server stop -p qingcloud --zone pek3a --server-id <ids> --endpoint <mock> --rate 100 <extra>`
fn stop_args(server: &MockServer, ids: &[&str], extra: &[&str]) -> Vec<String> {
    let joined = ids.join(",");
    let uri = server.uri();
    let mut v: Vec<&str> = vec![
        "server",
        "stop",
        "-p",
        "qingcloud",
        "--zone",
        "pek3a",
        "--server-id",
        &joined,
        "--endpoint",
        &uri,
        "--rate",
        "100",
    ];
    v.extend_from_slice(extra);
    v.iter().map(|s| s.to_string()).collect()
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

/// Python's `quote(s, safe='-_~')` (and `safe=''`): only `A-Z a-z 0-9 - _ . ~` kept.
fn py_quote(s: &str) -> String {
    let mut out = String::new();
    for &c in s.as_bytes() {
        if c.is_ascii_alphanumeric() || b"_.-~".contains(&c) {
            out.push(c as char);
        } else {
            out.push_str(&format!("%{c:02X}"));
        }
    }
    out
}

/// The decoded query parameters, in wire order.
fn params(req: &Request) -> Vec<(String, String)> {
    req.url
        .query()
        .unwrap_or("")
        .split('&')
        .filter(|kv| !kv.is_empty())
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            (form_decode(k), form_decode(v))
        })
        .collect()
}

fn param(req: &Request, name: &str) -> Option<String> {
    params(req)
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
}

/// `instances.1`, `instances.2`, … in order.
fn instances(req: &Request) -> Vec<String> {
    let p = params(req);
    (1..)
        .map_while(|n| {
            p.iter()
                .find(|(k, _)| *k == format!("instances.{n}"))
                .map(|(_, v)| v.clone())
        })
        .collect()
}

/// Checks a request as the IaaS API does; `Err` names what is wrong.
fn verify(req: &Request) -> Result<(), String> {
    if req.method.as_str() != "GET" {
        return Err("not a GET".into());
    }
    let query = req.url.query().ok_or("no query")?;
    let raw_sig = query
        .rsplit('&')
        .next()
        .and_then(|kv| kv.strip_prefix("signature="))
        .ok_or("signature is not the last parameter")?;
    if raw_sig.contains("%25") {
        return Err("signature encoded twice".into());
    }
    let parts = params(req);
    let sig = &parts.last().unwrap().1;
    let mut signed: Vec<&(String, String)> = parts[..parts.len() - 1].iter().collect();
    for k in [
        "access_key_id",
        "action",
        "signature_method",
        "signature_version",
        "time_stamp",
        "version",
        "zone",
    ] {
        if !signed.iter().any(|(n, _)| n == k) {
            return Err(format!("missing {k}"));
        }
    }
    if signed.iter().any(|(n, _)| n == "timestamp") {
        return Err("HPC's timestamp in an IaaS request".into());
    }
    let ak = signed.iter().find(|(n, _)| n == "access_key_id").unwrap();
    if ak.1 != AK {
        return Err(format!("illegal access key [{}]", ak.1));
    }
    signed.sort();
    let canonical: Vec<String> = signed
        .iter()
        .map(|(k, v)| format!("{}={}", py_quote(k), py_quote(v)))
        .collect();
    let sts = format!(
        "{}\n{}\n{}",
        req.method.as_str(),
        req.url.path(),
        canonical.join("&")
    );
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(SK.as_bytes()).unwrap();
    mac.update(sts.as_bytes());
    let want = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    if *sig != want {
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

/// A request whose `instances.N` list is exactly `ids`.
struct Instances(Vec<&'static str>);
impl Match for Instances {
    fn matches(&self, req: &Request) -> bool {
        instances(req) == self.0
    }
}

fn answer(v: Value) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(v)
}

fn stop_ok() -> ResponseTemplate {
    answer(json!({"action": "StopInstancesResponse", "job_id": JOB, "ret_code": 0}))
}

fn refused(code: i64, msg: &str) -> ResponseTemplate {
    answer(json!({"ret_code": code, "message": msg}))
}

fn not_running(id: &str) -> ResponseTemplate {
    refused(
        1400,
        &format!("PermissionDenied, instance [{id}] is not running, can not be stopped"),
    )
}

fn described(set: &[(&str, &str, &str)]) -> ResponseTemplate {
    let set: Vec<Value> = set
        .iter()
        .map(|(id, status, transition)| {
            json!({"instance_id": id, "status": status, "transition_status": transition})
        })
        .collect();
    answer(json!({
        "action": "DescribeInstancesResponse",
        "instance_set": set,
        "total_count": set.len(),
        "ret_code": 0
    }))
}

fn job(status: &str) -> ResponseTemplate {
    answer(json!({
        "action": "DescribeJobsResponse",
        "job_set": [{"job_id": JOB, "job_action": "StopInstances", "status": status,
                     "resource_ids": I1, "error_codes": ""}],
        "total_count": 1,
        "ret_code": 0
    }))
}

fn action(name: &'static str) -> wiremock::MockBuilder {
    Mock::given(method("GET"))
        .and(path("/iaas/"))
        .and(query_param("action", name))
        .and(query_param("zone", "pek3a"))
        .and(Signed)
}

async fn requests_of(server: &MockServer, name: &str) -> Vec<Request> {
    server
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| param(r, "action").as_deref() == Some(name))
        .collect()
}

// ---- happy paths --------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn happy_path_one_signed_call_with_the_job_id() {
    let server = MockServer::start().await;
    action("StopInstances")
        .and(query_param("force", "0"))
        .and(Instances(vec![I1, I2]))
        .respond_with(stop_ok())
        .expect(1)
        .mount(&server)
        .await;
    let r = run(sandbox(), stop_args(&server, &[I1, I2], &[])).await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let v = r.json();
    assert_eq!(v["operation"], "server.stop");
    assert_eq!(v["location"]["zone"], "pek3a");
    let results = v["results"].as_array().unwrap();
    assert_eq!(results.len(), 2);
    for (res, id) in results.iter().zip([I1, I2]) {
        assert_eq!(res["id"], id);
        assert_eq!(res["status"], "stopping");
        assert_eq!(res["provider_job_id"], JOB);
        assert_eq!(res["ok"], true);
    }
    let reqs = server.received_requests().await.unwrap();
    assert_eq!(reqs.len(), 1);
    let q = reqs[0].url.query().unwrap();
    assert!(q.contains("time_stamp=") && q.contains("signature_version=1"));
    assert_eq!(param(&reqs[0], "signature_method").unwrap(), "HmacSHA256");
    assert_eq!(
        reqs[0].headers.get("host").unwrap(),
        &server.address().to_string()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn hard_sends_force_1() {
    let server = MockServer::start().await;
    action("StopInstances")
        .and(query_param("force", "1"))
        .respond_with(stop_ok())
        .expect(1)
        .mount(&server)
        .await;
    let r = run(sandbox(), stop_args(&server, &[I1], &["--hard"])).await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
}

#[tokio::test(flavor = "multi_thread")]
async fn wire_query_is_the_vectors_byte_for_byte() {
    let vectors: Value = serde_json::from_str(include_str!("vectors/qingcloud.json")).unwrap();
    let case = vectors["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "iaas_stop_instances")
        .unwrap()
        .clone();
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/iaas/"))
        .respond_with(stop_ok())
        .expect(1)
        .mount(&server)
        .await;
    let sb = Sandbox::new()
        .env(
            "QINGCLOUD_ACCESS_KEY_ID",
            case["inputs"]["access_key_id"].as_str().unwrap(),
        )
        .env(
            "QINGCLOUD_SECRET_ACCESS_KEY",
            case["inputs"]["secret_access_key"].as_str().unwrap(),
        )
        .env("CLOUDSTOP_TEST_FIXED_TIME", "1700000060");
    let r = run(sb, stop_args(&server, &[I1, I2], &["--hard"])).await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let reqs = server.received_requests().await.unwrap();
    assert_eq!(
        reqs[0].url.query().unwrap(),
        case["query_string"].as_str().unwrap()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn chunks_150_ids_into_100_and_50() {
    let server = MockServer::start().await;
    action("StopInstances")
        .respond_with(stop_ok())
        .expect(2)
        .mount(&server)
        .await;
    let ids: Vec<String> = (0..150).map(|i| format!("i-{i:08}")).collect();
    let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    let r = run(sandbox(), stop_args(&server, &refs, &[])).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v = r.json();
    assert_eq!(v["results"].as_array().unwrap().len(), 150);
    let mut sizes: Vec<usize> = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|q| instances(q).len())
        .collect();
    sizes.sort();
    assert_eq!(sizes, vec![50, 100]);
}

// ---- refusals -----------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn already_stopped_is_ok() {
    let server = MockServer::start().await;
    action("StopInstances")
        .respond_with(not_running(I1))
        .expect(1)
        .mount(&server)
        .await;
    action("DescribeInstances")
        .and(query_param("instances.1", I1))
        .respond_with(described(&[(I1, "stopped", "")]))
        .expect(1)
        .mount(&server)
        .await;
    let r = run(sandbox(), stop_args(&server, &[I1], &[])).await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let v = r.json();
    assert_eq!(v["results"][0]["status"], "already_stopped");
    assert_eq!(v["results"][0]["ok"], true);
}

#[tokio::test(flavor = "multi_thread")]
async fn stopping_already_is_stopping_and_other_states_fail() {
    for (status, transition, want, exit) in [
        ("running", "stopping", "stopping", 0),
        ("suspended", "", "failed", 1),
        // Running with no transition and refused: permission, not state.
        ("running", "", "failed", 1),
    ] {
        let server = MockServer::start().await;
        action("StopInstances")
            .respond_with(not_running(I1))
            .expect(1)
            .mount(&server)
            .await;
        action("DescribeInstances")
            .respond_with(described(&[(I1, status, transition)]))
            .expect(1)
            .mount(&server)
            .await;
        let r = run(sandbox(), stop_args(&server, &[I1], &[])).await;
        assert_eq!(r.code, exit, "{status}/{transition}: {}", r.stdout);
        let v = r.json();
        assert_eq!(v["results"][0]["status"], want, "{status}/{transition}");
        if want == "failed" {
            assert_eq!(v["results"][0]["error"]["code"], "ret_code 1400");
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn not_found_with_and_without_ignore_missing() {
    let server = MockServer::start().await;
    action("StopInstances")
        .respond_with(refused(
            2100,
            "ResourceNotFound, resource [i-rtyv0968] not found",
        ))
        .expect(2)
        .mount(&server)
        .await;
    let r = run(sandbox(), stop_args(&server, &[I1], &[])).await;
    assert_eq!(r.code, 4, "{}", r.stdout);
    let v = r.json();
    assert_eq!(v["results"][0]["status"], "not_found");
    assert_eq!(v["results"][0]["error"]["kind"], "not_found");
    assert_eq!(v["results"][0]["error"]["code"], "ret_code 2100");
    let r = run(sandbox(), stop_args(&server, &[I1], &["--ignore-missing"])).await;
    assert_eq!(r.code, 0, "{}", r.stdout);
    assert_eq!(r.json()["results"][0]["ok"], true);
    // A single id: the code speaks for it, nothing else is asked.
    assert!(requests_of(&server, "DescribeInstances").await.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn mixed_batch_resends_the_running_one_alone() {
    for refusal in [not_running(I2), refused(2100, "ResourceNotFound")] {
        let server = MockServer::start().await;
        action("StopInstances")
            .and(Instances(vec![I1, I2, I3]))
            .respond_with(refusal)
            .expect(2)
            .mount(&server)
            .await;
        action("DescribeInstances")
            .and(Instances(vec![I1, I2, I3]))
            .respond_with(described(&[(I2, "stopped", ""), (I3, "running", "")]))
            .expect(2)
            .mount(&server)
            .await;
        action("StopInstances")
            .and(Instances(vec![I3]))
            .respond_with(stop_ok())
            .expect(2)
            .mount(&server)
            .await;
        let r = run(sandbox(), stop_args(&server, &[I1, I2, I3], &[])).await;
        assert_eq!(r.code, 4, "{}\n{}", r.stdout, r.stderr);
        let v = r.json();
        let res = &v["results"];
        assert_eq!(res[0]["status"], "not_found");
        assert_eq!(res[1]["status"], "already_stopped");
        assert_eq!(res[1]["ok"], true);
        assert_eq!(res[2]["status"], "stopping");
        assert_eq!(res[2]["provider_job_id"], JOB);
        let r = run(
            sandbox(),
            stop_args(&server, &[I1, I2, I3], &["--ignore-missing"]),
        )
        .await;
        assert_eq!(r.code, 0, "{}", r.stdout);
        assert_eq!(r.json()["results"][0]["ok"], true);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_ids_send_nothing() {
    let server = MockServer::start().await;
    for bad in [
        "i-RTYV0968",
        "ins-rtyv0968",
        "i-rtyv096",
        "i-rtyv09681",
        "i-rtyv0968;ls",
        "i-rtyv096ü",
    ] {
        let r = run(sandbox(), stop_args(&server, &[I1, bad], &[])).await;
        assert_eq!(r.code, 2, "{bad:?}: {}", r.stdout);
        assert!(r.stdout.contains("instance id"), "{bad:?}: {}", r.stdout);
    }
    // Empty items are skipped (a trailing comma), but no id at all stays exit 2.
    for ids in [&[""][..], &["", " "]] {
        let r = run(sandbox(), stop_args(&server, ids, &[])).await;
        assert_eq!(r.code, 2, "{ids:?}: {}", r.stdout);
        assert!(r.stdout.contains("no server ids"), "{ids:?}: {}", r.stdout);
    }
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn zone_is_required() {
    let server = MockServer::start().await;
    let uri = server.uri();
    let r = run(
        sandbox(),
        [
            "server",
            "stop",
            "-p",
            "qingcloud",
            "--server-id",
            I1,
            "--endpoint",
            &uri,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect(),
    )
    .await;
    assert_eq!(r.code, 2, "{}", r.stdout);
    assert!(r.stdout.contains("zone"));
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn auth_failure_exits_3_after_one_request() {
    let server = MockServer::start().await;
    action("StopInstances")
        .respond_with(refused(1200, "AuthFailure, signature not matched"))
        .expect(1)
        .mount(&server)
        .await;
    let r = run(
        sandbox(),
        stop_args(&server, &[I1, I2], &["--retries", "3"]),
    )
    .await;
    assert_eq!(r.code, 3, "{}", r.stdout);
    let v = r.json();
    assert_eq!(v["results"][0]["error"]["kind"], "auth");
    assert_eq!(v["results"][0]["error"]["code"], "ret_code 1200");
    assert_eq!(server.received_requests().await.unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn throttled_then_success() {
    let server = MockServer::start().await;
    action("StopInstances")
        .respond_with(refused(2500, "QuotaExceeded, api request quota"))
        .up_to_n_times(1)
        .expect(1)
        .with_priority(1)
        .mount(&server)
        .await;
    action("StopInstances")
        .respond_with(stop_ok())
        .expect(1)
        .mount(&server)
        .await;
    let r = run(sandbox(), stop_args(&server, &[I1], &[])).await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(r.json()["results"][0]["status"], "stopping");
    // Nothing was done by the throttled call: no status query before the retry.
    assert!(requests_of(&server, "DescribeInstances").await.is_empty());
    // Every attempt signed anew.
    let stops = requests_of(&server, "StopInstances").await;
    assert_eq!(stops.len(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn internal_error_reads_describe_instances_before_resending() {
    let server = MockServer::start().await;
    action("StopInstances")
        .and(Instances(vec![I1, I2, I3]))
        .respond_with(refused(5000, "InternalError"))
        .expect(1)
        .mount(&server)
        .await;
    action("DescribeInstances")
        .and(Instances(vec![I1, I2, I3]))
        .respond_with(described(&[
            (I1, "running", "stopping"),
            (I2, "running", ""),
            (I3, "stopped", ""),
        ]))
        .expect(1)
        .mount(&server)
        .await;
    action("StopInstances")
        .and(Instances(vec![I2]))
        .respond_with(stop_ok())
        .expect(1)
        .mount(&server)
        .await;
    let r = run(sandbox(), stop_args(&server, &[I1, I2, I3], &[])).await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let v = r.json();
    assert_eq!(v["results"][0]["status"], "stopping");
    assert_eq!(v["results"][0]["provider_job_id"], Value::Null);
    assert_eq!(v["results"][1]["status"], "stopping");
    assert_eq!(v["results"][1]["provider_job_id"], JOB);
    assert_eq!(v["results"][2]["status"], "stopped");
    // The order: stop, describe, stop again.
    let order: Vec<String> = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| param(r, "action").unwrap())
        .collect();
    assert_eq!(
        order,
        ["StopInstances", "DescribeInstances", "StopInstances"]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn internal_error_throughout_exits_5() {
    let server = MockServer::start().await;
    action("StopInstances")
        .respond_with(refused(5000, "InternalError"))
        .expect(3)
        .mount(&server)
        .await;
    action("DescribeInstances")
        .respond_with(described(&[(I1, "running", "")]))
        .expect(2)
        .mount(&server)
        .await;
    let r = run(sandbox(), stop_args(&server, &[I1], &["--retries", "2"])).await;
    assert_eq!(r.code, 5, "{}", r.stdout);
    let e = &r.json()["results"][0]["error"];
    assert_eq!(e["code"], "ret_code 5000");
    assert_eq!(e["retryable"], true);
}

// ---- --wait -------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn wait_until_successful_or_failed() {
    for (status, want, code) in [("successful", "stopped", 0), ("failed", "failed", 1)] {
        let server = MockServer::start().await;
        action("StopInstances")
            .respond_with(stop_ok())
            .expect(1)
            .mount(&server)
            .await;
        action("DescribeJobs")
            .and(query_param("jobs.1", JOB))
            .respond_with(job("pending"))
            .up_to_n_times(1)
            .with_priority(1)
            .mount(&server)
            .await;
        action("DescribeJobs")
            .and(query_param("jobs.1", JOB))
            .respond_with(job("working"))
            .up_to_n_times(1)
            .with_priority(2)
            .mount(&server)
            .await;
        action("DescribeJobs")
            .and(query_param("jobs.1", JOB))
            .respond_with(job(status))
            .with_priority(3)
            .mount(&server)
            .await;
        let r = run(
            sandbox(),
            stop_args(
                &server,
                &[I1, I2],
                &["--wait", "--poll-interval", "10ms", "--wait-timeout", "20s"],
            ),
        )
        .await;
        assert_eq!(r.code, code, "{status}: {}\n{}", r.stdout, r.stderr);
        let v = r.json();
        for res in v["results"].as_array().unwrap() {
            assert_eq!(res["status"], want, "{status}");
            assert_eq!(res["provider_job_id"], JOB);
        }
        // One job for the call: polled once per round, never the stop again.
        assert_eq!(requests_of(&server, "DescribeJobs").await.len(), 3);
        assert_eq!(requests_of(&server, "StopInstances").await.len(), 1);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn wait_timeout_exits_6() {
    let server = MockServer::start().await;
    action("StopInstances")
        .respond_with(stop_ok())
        .mount(&server)
        .await;
    action("DescribeJobs")
        .respond_with(job("working"))
        .mount(&server)
        .await;
    let r = run(
        sandbox(),
        stop_args(
            &server,
            &[I1],
            &[
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

// ---- dry run, endpoints, secrets ----------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn dry_run_is_offline_and_needs_no_credentials() {
    let r = blocking(|| {
        Sandbox::new().run(&[
            "server",
            "stop",
            "-p",
            "qingcloud",
            "--zone",
            "pek3a",
            "--server-id",
            &format!("{I1},{I2}"),
            "--hard",
            "--dry-run",
        ])
    })
    .await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let v = r.json();
    assert_eq!(v["dry_run"], true);
    for res in v["results"].as_array().unwrap() {
        assert_eq!(res["status"], "accepted");
    }
    let reqs = v["requests"].as_array().unwrap();
    assert_eq!(reqs.len(), 1);
    let req = &reqs[0];
    assert_eq!(req["method"], "GET");
    assert_eq!(req["credentials"], "placeholder");
    let url = req["url"].as_str().unwrap();
    assert!(
        url.starts_with("https://api.qingcloud.com/iaas/?access_key_id="),
        "{url}"
    );
    assert!(url
        .contains("&action=StopInstances&force=1&instances.1=i-rtyv0968&instances.2=i-8jk4m2zp&"));
    assert!(url.contains("&zone=pek3a"));
    assert!(url.ends_with("&signature=[redacted]"), "{url}");
}

#[tokio::test(flavor = "multi_thread")]
async fn endpoint_prefix_is_kept_and_signed() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/gw/iaas/"))
        .and(query_param("action", "StopInstances"))
        .and(Signed)
        .respond_with(stop_ok())
        .expect(2)
        .mount(&server)
        .await;
    for endpoint in [
        format!("{}/gw/", server.uri()),
        // Terraform's style: the URL already ends in /iaas.
        format!("{}/gw/iaas", server.uri()),
    ] {
        let mut a = stop_args(&server, &[I1], &[]);
        let i = a.iter().position(|x| x == "--endpoint").unwrap();
        a[i + 1] = endpoint.clone();
        let r = run(sandbox(), a).await;
        assert_eq!(r.code, 0, "{endpoint}: {}\n{}", r.stdout, r.stderr);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn endpoint_from_env_profile_and_qingcloud_cli_file() {
    let server = MockServer::start().await;
    action("StopInstances")
        .respond_with(stop_ok())
        .expect(3)
        .mount(&server)
        .await;
    let base = |sb: Sandbox| {
        sb.env("CLOUDSTOP_QINGCLOUD_ENDPOINT", "http://127.0.0.1:9")
            .env("CLOUDSTOP_ZONE", "pek3a")
    };
    let args: Vec<String> = [
        "server",
        "stop",
        "-p",
        "qingcloud",
        "--server-id",
        I1,
        "--rate",
        "100",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    // The environment (the HPC variable is not the IaaS one).
    let sb = base(sandbox()).env("CLOUDSTOP_QINGCLOUD_IAAS_ENDPOINT", &server.uri());
    let r = run(sb, args.clone()).await;
    assert_eq!(r.code, 0, "env: {}\n{}", r.stdout, r.stderr);
    // The profile's iaas_endpoint.
    let sb = base(sandbox());
    sb.write(
        ".config/cloudstop/config.toml",
        &format!(
            "[profiles.default.qingcloud]\niaas_endpoint = \"{}\"\n",
            server.uri()
        ),
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let p = sb.home().join(".config/cloudstop/config.toml");
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let r = run(sb, args.clone()).await;
    assert_eq!(r.code, 0, "profile: {}\n{}", r.stdout, r.stderr);
    // qingcloud-cli's host, port and protocol (they name the IaaS API).
    let addr = server.address();
    let sb = base(Sandbox::new());
    sb.write(
        ".qingcloud/config.yaml",
        &format!(
            "qy_access_key_id: '{AK}'\nqy_secret_access_key: '{SK}'\nzone: 'pek3a'\nhost: '{}'\nport: {}\nprotocol: 'http'\n",
            addr.ip(),
            addr.port()
        ),
    );
    let r = run(sb, args).await;
    assert_eq!(r.code, 0, "cli file: {}\n{}", r.stdout, r.stderr);
}

#[tokio::test(flavor = "multi_thread")]
async fn vvv_never_shows_the_secret_or_the_signature() {
    let server = MockServer::start().await;
    action("StopInstances")
        .respond_with(stop_ok())
        .expect(1)
        .mount(&server)
        .await;
    let r = run(sandbox(), stop_args(&server, &[I1], &["-vvv"])).await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let reqs = server.received_requests().await.unwrap();
    let sig_wire = reqs[0]
        .url
        .query()
        .unwrap()
        .rsplit('&')
        .next()
        .unwrap()
        .strip_prefix("signature=")
        .unwrap()
        .to_string();
    let sig = form_decode(&sig_wire);
    for out in [&r.stdout, &r.stderr] {
        assert!(!out.contains(SK), "secret leaked");
        assert!(
            !out.contains(&sig_wire) && !out.contains(&sig),
            "signature leaked"
        );
    }
    let v = r.json();
    let recorded = v["requests"].as_array().unwrap();
    assert!(!recorded.is_empty());
    assert!(recorded[0]["url"]
        .as_str()
        .unwrap()
        .ends_with("signature=[redacted]"));
}
