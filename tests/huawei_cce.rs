//! Binary-level tests of `cluster delete --provider huawei` (CCE) against a wiremock
//! CCE/IAM: ShowCluster first, DeleteCluster with the flags' query, `--wait` to 404.

mod common;
#[path = "common/huawei.rs"]
mod hwsig;

use common::{Run, Sandbox};
use hwsig::{expected_authorization, header};
use serde_json::{json, Value};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const PID: &str = "0a1b2c3d4e5f60718293a4b5c6d7e8f9";
const AK: &str = "AKTESTHUAWEI0001";
const SK: &str = "sk-very-secret-test-value-0001";
const TOKEN: &str = "temporary-token-very-secret-0001";
const CID: &str = "fc563b3c-9552-11e8-8beb-0255ac106311";
const JOB: &str = "e8ebf96c-956d-11e8-a949-0255ac10575d";
const FIXED: &str = "1700000000";
const FIXED_DATE: &str = "20231114T221320Z";
const ALL_QUERY: &str = "delete_efs=true&delete_evs=true&delete_obs=true&delete_sfs=true\
&delete_sfs30=true&ondemand_node_policy=retain&periodic_node_policy=retain";

fn cid(i: usize) -> String {
    format!("fc563b3c-9552-11e8-8beb-{i:012x}")
}

fn creds() -> Sandbox {
    Sandbox::new()
        .env("HUAWEICLOUD_SDK_AK", AK)
        .env("HUAWEICLOUD_SDK_SK", SK)
        .env("CLOUDSTOP_TEST_FIXED_TIME", FIXED)
}

/// `cluster delete` against `uri`, confirmed, fast pacing and polling.
fn args(uri: &str, extra: &[&str]) -> Vec<String> {
    let mut a: Vec<String> = [
        "cluster",
        "delete",
        "-p",
        "huawei",
        "--region",
        "cn-north-4",
        "--project-id",
        PID,
        "--endpoint",
        uri,
        "--yes",
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

fn cluster_path(id: &str) -> String {
    format!("/api/v3/projects/{PID}/clusters/{id}")
}

fn autopilot_path(id: &str) -> String {
    format!("/autopilot/v3/projects/{PID}/clusters/{id}")
}

fn cluster(phase: &str, spec: Value) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({
        "kind": "Cluster",
        "apiVersion": "v3",
        "metadata": {"uid": CID, "name": "ci-cluster"},
        "spec": spec,
        "status": {"phase": phase}
    }))
}

fn available() -> ResponseTemplate {
    cluster(
        "Available",
        json!({"billingMode": 0, "deletionProtection": false}),
    )
}

/// DeleteCluster's 200: the Cluster object (the doc example says `Available`).
fn deleted_answer() -> ResponseTemplate {
    ResponseTemplate::new(200)
        .set_body_json(json!({
            "kind": "Cluster",
            "metadata": {"uid": CID},
            "status": {"phase": "Available", "jobID": JOB}
        }))
        .insert_header("X-Request-Id", "req-del-1")
}

fn cce_error(status: u16, code: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(json!({
        "kind": "Status", "apiVersion": "v1", "status": "Failure",
        "message": format!("refused: {code}"), "reason": "X", "code": status,
        "errorCode": code, "errorMessage": format!("refused: {code}")
    }))
}

fn not_found() -> ResponseTemplate {
    cce_error(404, "CCE.01404001")
}

async fn mount(server: &MockServer, verb: &str, p: String, t: ResponseTemplate, n: u64) {
    Mock::given(method(verb))
        .and(path(p))
        .respond_with(t)
        .expect(n)
        .mount(server)
        .await;
}

/// Answers the first `times` matching requests with `t`, then falls through.
async fn mount_times(server: &MockServer, verb: &str, p: String, t: ResponseTemplate, times: u64) {
    Mock::given(method(verb))
        .and(path(p))
        .respond_with(t)
        .up_to_n_times(times)
        .expect(times)
        .mount(server)
        .await;
}

async fn requests(server: &MockServer, verb: &str) -> Vec<wiremock::Request> {
    server
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.method.as_str() == verb)
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn accepted_reads_first_then_deletes_signed_without_a_query() {
    let server = MockServer::start().await;
    mount(&server, "GET", cluster_path(CID), available(), 1).await;
    mount(&server, "DELETE", cluster_path(CID), deleted_answer(), 1).await;
    let r = run(creds(), args(&server.uri(), &["--cluster-id", CID])).await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let v = r.json();
    assert_eq!(v["operation"], "cluster.delete");
    assert_eq!(v["location"]["project_id"], PID);
    let res = &v["results"][0];
    assert_eq!(res["status"], "deleting");
    assert_eq!(res["provider_job_id"], JOB);
    assert_eq!(res["request_id"], "req-del-1");
    let signed = ["content-type", "host", "x-project-id", "x-sdk-date"];
    for verb in ["GET", "DELETE"] {
        let reqs = requests(&server, verb).await;
        let q = &reqs[0];
        assert_eq!(q.url.query(), None, "no query by default");
        assert!(q.body.is_empty());
        assert_eq!(header(q, "x-sdk-date"), Some(FIXED_DATE));
        assert_eq!(header(q, "x-project-id"), Some(PID));
        assert_eq!(header(q, "content-type"), Some("application/json"));
        assert_eq!(
            header(q, "authorization").unwrap(),
            expected_authorization(q, AK, SK, &signed)
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn flags_map_into_the_exact_signed_query() {
    for (flags, want) in [
        (vec!["--delete-storage", "--keep-instances"], ALL_QUERY),
        (
            vec!["--delete-storage"],
            "delete_efs=true&delete_evs=true&delete_obs=true&delete_sfs=true&delete_sfs30=true",
        ),
        (
            vec!["--keep-instances"],
            "ondemand_node_policy=retain&periodic_node_policy=retain",
        ),
    ] {
        let server = MockServer::start().await;
        mount(&server, "GET", cluster_path(CID), available(), 1).await;
        mount(&server, "DELETE", cluster_path(CID), deleted_answer(), 1).await;
        let mut extra = vec!["--cluster-id", CID];
        extra.extend(flags.iter().copied());
        let r = run(creds(), args(&server.uri(), &extra)).await;
        assert_eq!(r.code, 0, "{flags:?}: {}", r.stdout);
        let del = &requests(&server, "DELETE").await[0];
        assert_eq!(del.url.query(), Some(want), "{flags:?}");
        assert_eq!(
            header(del, "authorization").unwrap(),
            expected_authorization(
                del,
                AK,
                SK,
                &["content-type", "host", "x-project-id", "x-sdk-date"]
            )
        );
        // The read before it carries no query.
        assert_eq!(requests(&server, "GET").await[0].url.query(), None);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn already_deleting_sends_nothing() {
    let server = MockServer::start().await;
    mount(
        &server,
        "GET",
        cluster_path(CID),
        cluster("Deleting", json!({})),
        1,
    )
    .await;
    mount(&server, "DELETE", cluster_path(CID), deleted_answer(), 0).await;
    let r = run(creds(), args(&server.uri(), &["--cluster-id", CID])).await;
    assert_eq!(r.code, 0, "{}", r.stdout);
    assert_eq!(r.json()["results"][0]["status"], "deleting");
}

#[tokio::test(flavor = "multi_thread")]
async fn blockers_fail_with_what_to_do_and_send_nothing() {
    for (phase, spec, code, advice) in [
        (
            "Available",
            json!({"billingMode": 0, "deletionProtection": true}),
            "deletionProtection",
            "deletionProtection\":false",
        ),
        (
            "Available",
            json!({"billingMode": 1}),
            "billingMode",
            "unsubscribe",
        ),
        ("Hibernation", json!({}), "Hibernation", "wake it up"),
        ("Hibernating", json!({}), "Hibernating", "wake it up"),
    ] {
        let server = MockServer::start().await;
        mount(&server, "GET", cluster_path(CID), cluster(phase, spec), 1).await;
        mount(&server, "DELETE", cluster_path(CID), deleted_answer(), 0).await;
        let r = run(creds(), args(&server.uri(), &["--cluster-id", CID])).await;
        assert_eq!(r.code, 1, "{code}: {}", r.stdout);
        let res = &r.json()["results"][0];
        assert_eq!(res["status"], "failed");
        assert_eq!(res["ok"], false);
        assert_eq!(res["error"]["code"], code);
        assert_eq!(res["error"]["kind"], "provider");
        let msg = res["error"]["message"].as_str().unwrap();
        assert!(msg.contains(advice), "{code}: {msg}");
        server.verify().await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn not_found_checks_autopilot_first() {
    for ignore in [false, true] {
        let server = MockServer::start().await;
        mount(&server, "GET", cluster_path(CID), not_found(), 1).await;
        mount(&server, "GET", autopilot_path(CID), not_found(), 1).await;
        mount(&server, "DELETE", cluster_path(CID), deleted_answer(), 0).await;
        let mut extra = vec!["--cluster-id", CID];
        if ignore {
            extra.push("--ignore-missing");
        }
        let r = run(creds(), args(&server.uri(), &extra)).await;
        let res = &r.json()["results"][0];
        assert_eq!(res["status"], "not_found");
        assert_eq!(res["ok"], ignore);
        if !ignore {
            assert_eq!(res["error"]["code"], "CCE.01404001");
        }
        assert_eq!(r.code, if ignore { 0 } else { 4 }, "{}", r.stdout);
        server.verify().await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_autopilot_cluster_refuses_the_whole_command() {
    let server = MockServer::start().await;
    let other = cid(9);
    mount(&server, "GET", cluster_path(&other), available(), 1).await;
    mount(&server, "GET", cluster_path(CID), not_found(), 1).await;
    mount(
        &server,
        "GET",
        autopilot_path(CID),
        cluster("Available", json!({})),
        1,
    )
    .await;
    Mock::given(method("DELETE"))
        .respond_with(deleted_answer())
        .expect(0)
        .mount(&server)
        .await;
    let r = run(
        creds(),
        args(&server.uri(), &["--cluster-id", &format!("{other},{CID}")]),
    )
    .await;
    assert_eq!(r.code, 2, "{}", r.stdout);
    let v = r.json();
    assert_eq!(v["error"]["kind"], "usage");
    assert_eq!(v["error"]["code"], "Autopilot");
    let msg = v["error"]["message"].as_str().unwrap();
    assert!(msg.contains("Autopilot") && msg.contains(CID), "{msg}");
    assert!(msg.contains("nothing was sent"), "{msg}");
    // Neither cluster was deleted: the other one is reported as not sent.
    for res in v["results"].as_array().unwrap() {
        assert_eq!(res["status"], "failed");
        assert_eq!(res["error"]["kind"], "usage");
    }
    server.verify().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn wait_reads_until_404_then_deleted() {
    let server = MockServer::start().await;
    mount_times(&server, "GET", cluster_path(CID), available(), 1).await;
    mount_times(
        &server,
        "GET",
        cluster_path(CID),
        cluster("Deleting", json!({})),
        2,
    )
    .await;
    mount(&server, "GET", cluster_path(CID), not_found(), 1).await;
    mount(&server, "GET", autopilot_path(CID), not_found(), 0).await;
    mount(&server, "DELETE", cluster_path(CID), deleted_answer(), 1).await;
    let r = run(
        creds(),
        args(&server.uri(), &["--cluster-id", CID, "--wait"]),
    )
    .await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let res = &r.json()["results"][0];
    assert_eq!(res["status"], "deleted");
    assert_eq!(res["provider_job_id"], JOB);
}

#[tokio::test(flavor = "multi_thread")]
async fn wait_ends_failed_when_the_cluster_turns_to_error() {
    let server = MockServer::start().await;
    mount_times(&server, "GET", cluster_path(CID), available(), 1).await;
    Mock::given(method("GET"))
        .and(path(cluster_path(CID)))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "kind": "Cluster",
            "spec": {},
            "status": {"phase": "Error", "reason": "failed to delete the ELB"}
        })))
        .expect(1)
        .mount(&server)
        .await;
    mount(&server, "DELETE", cluster_path(CID), deleted_answer(), 1).await;
    let r = run(
        creds(),
        args(&server.uri(), &["--cluster-id", CID, "--wait"]),
    )
    .await;
    assert_eq!(r.code, 1, "{}", r.stdout);
    let res = &r.json()["results"][0];
    assert_eq!(res["status"], "failed");
    assert!(res["error"]["message"]
        .as_str()
        .unwrap()
        .contains("failed to delete the ELB"));
}

#[tokio::test(flavor = "multi_thread")]
async fn wait_timeout_exits_6() {
    let server = MockServer::start().await;
    mount_times(&server, "GET", cluster_path(CID), available(), 1).await;
    Mock::given(method("GET"))
        .and(path(cluster_path(CID)))
        .respond_with(cluster("Deleting", json!({})))
        .mount(&server)
        .await;
    mount(&server, "DELETE", cluster_path(CID), deleted_answer(), 1).await;
    let r = run(
        creds(),
        args(
            &server.uri(),
            &["--cluster-id", CID, "--wait", "--wait-timeout", "300ms"],
        ),
    )
    .await;
    assert_eq!(r.code, 6, "{}", r.stdout);
    assert_eq!(r.json()["results"][0]["status"], "deleting");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_5xx_on_delete_is_settled_by_reading_never_blindly_resent() {
    // (what ShowCluster says after the 5xx, status, DELETEs sent in all)
    for (after, status, deletes) in [
        (cluster("Deleting", json!({})), "deleting", 1),
        (not_found(), "deleted", 1),
        (available(), "deleting", 2),
    ] {
        let server = MockServer::start().await;
        mount_times(&server, "GET", cluster_path(CID), available(), 1).await;
        mount(&server, "GET", cluster_path(CID), after, 1).await;
        mount(&server, "GET", autopilot_path(CID), not_found(), 0).await;
        mount_times(
            &server,
            "DELETE",
            cluster_path(CID),
            cce_error(500, "CCE.01500001"),
            1,
        )
        .await;
        mount(
            &server,
            "DELETE",
            cluster_path(CID),
            deleted_answer(),
            deletes - 1,
        )
        .await;
        let r = run(
            creds(),
            args(&server.uri(), &["--cluster-id", CID, "--retries", "3"]),
        )
        .await;
        assert_eq!(r.code, 0, "{status}: {}\n{}", r.stdout, r.stderr);
        assert_eq!(r.json()["results"][0]["status"], status);
        assert_eq!(requests(&server, "DELETE").await.len(), deletes as usize);
        server.verify().await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_conflict_after_the_read_is_read_again() {
    let server = MockServer::start().await;
    mount_times(&server, "GET", cluster_path(CID), available(), 1).await;
    mount(
        &server,
        "GET",
        cluster_path(CID),
        cluster("Deleting", json!({})),
        1,
    )
    .await;
    mount(
        &server,
        "DELETE",
        cluster_path(CID),
        cce_error(409, "CCE.01409001"),
        1,
    )
    .await;
    let r = run(creds(), args(&server.uri(), &["--cluster-id", CID])).await;
    assert_eq!(r.code, 0, "{}", r.stdout);
    assert_eq!(r.json()["results"][0]["status"], "deleting");
}

#[tokio::test(flavor = "multi_thread")]
async fn throttled_then_ok() {
    let server = MockServer::start().await;
    mount(&server, "GET", cluster_path(CID), available(), 1).await;
    mount_times(
        &server,
        "DELETE",
        cluster_path(CID),
        cce_error(429, "CCE.01429002"),
        1,
    )
    .await;
    mount(&server, "DELETE", cluster_path(CID), deleted_answer(), 1).await;
    let r = run(creds(), args(&server.uri(), &["--cluster-id", CID])).await;
    assert_eq!(r.code, 0, "{}", r.stdout);
    assert_eq!(r.json()["results"][0]["status"], "deleting");
    assert_eq!(requests(&server, "DELETE").await.len(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn throttled_until_out_of_retries_exits_5() {
    let server = MockServer::start().await;
    mount(&server, "GET", cluster_path(CID), available(), 1).await;
    mount(
        &server,
        "DELETE",
        cluster_path(CID),
        ResponseTemplate::new(429).set_body_json(
            json!({"error_code": "APIGW.0308", "error_msg": "limit:10,time:1 minute"}),
        ),
        2,
    )
    .await;
    let r = run(
        creds(),
        args(&server.uri(), &["--cluster-id", CID, "--retries", "1"]),
    )
    .await;
    assert_eq!(r.code, 5, "{}", r.stdout);
    assert_eq!(r.json()["results"][0]["error"]["kind"], "throttled");
}

#[tokio::test(flavor = "multi_thread")]
async fn auth_and_permission_exit_3() {
    let server = MockServer::start().await;
    mount(
        &server,
        "GET",
        cluster_path(CID),
        ResponseTemplate::new(401).set_body_json(json!({
            "error_msg": "Incorrect IAM authentication information: verify aksk signature fail",
            "error_code": "APIGW.0301",
            "request_id": "abc"
        })),
        1,
    )
    .await;
    mount(&server, "DELETE", cluster_path(CID), deleted_answer(), 0).await;
    let r = run(creds(), args(&server.uri(), &["--cluster-id", CID])).await;
    assert_eq!(r.code, 3, "{}", r.stdout);
    assert_eq!(r.json()["results"][0]["error"]["code"], "APIGW.0301");
    server.verify().await;

    let server = MockServer::start().await;
    mount(&server, "GET", cluster_path(CID), available(), 1).await;
    mount(
        &server,
        "DELETE",
        cluster_path(CID),
        cce_error(403, "CCE.01403001"),
        1,
    )
    .await;
    let r = run(creds(), args(&server.uri(), &["--cluster-id", CID])).await;
    assert_eq!(r.code, 3, "{}", r.stdout);
    let res = &r.json()["results"][0];
    assert_eq!(res["error"]["kind"], "permission");
    assert_eq!(res["error"]["code"], "CCE.01403001");
}

#[tokio::test(flavor = "multi_thread")]
async fn several_clusters_each_get_their_own_verdict() {
    let server = MockServer::start().await;
    let ids = [cid(1), cid(2), cid(3)];
    mount(&server, "GET", cluster_path(&ids[0]), available(), 1).await;
    mount(
        &server,
        "GET",
        cluster_path(&ids[1]),
        cluster("Available", json!({"deletionProtection": true})),
        1,
    )
    .await;
    mount(&server, "GET", cluster_path(&ids[2]), not_found(), 1).await;
    mount(&server, "GET", autopilot_path(&ids[2]), not_found(), 1).await;
    mount(
        &server,
        "DELETE",
        cluster_path(&ids[0]),
        deleted_answer(),
        1,
    )
    .await;
    let r = run(
        creds(),
        args(&server.uri(), &["--cluster-id", &ids.join(",")]),
    )
    .await;
    // A failure (1) beats a missing cluster (4).
    assert_eq!(r.code, 1, "{}", r.stdout);
    let v = r.json();
    let got: Vec<&str> = v["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["status"].as_str().unwrap())
        .collect();
    assert_eq!(got, ["deleting", "failed", "not_found"]);
    assert_eq!(requests(&server, "DELETE").await.len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn dry_run_offline_shows_the_read_and_the_delete() {
    let sb = Sandbox::new().env("CLOUDSTOP_TEST_FIXED_TIME", FIXED);
    let r = sb
        .run_async(&[
            "cluster",
            "delete",
            "-p",
            "huawei",
            "--region",
            "cn-north-4",
            "--cluster-id",
            CID,
            "--delete-storage",
            "--keep-instances",
            "--dry-run",
        ])
        .await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let v = r.json();
    assert_eq!(v["results"][0]["status"], "accepted");
    let reqs = v["requests"].as_array().unwrap();
    assert_eq!(reqs.len(), 2);
    let base = format!(
        "https://cce.cn-north-4.myhuaweicloud.com/api/v3/projects/{{project_id}}/clusters/{CID}"
    );
    assert_eq!(reqs[0]["method"], "GET");
    assert_eq!(reqs[0]["url"], base);
    assert_eq!(reqs[1]["method"], "DELETE");
    assert_eq!(reqs[1]["url"], format!("{base}?{ALL_QUERY}"));
    for q in reqs {
        assert_eq!(q["credentials"], "placeholder");
        assert_eq!(q["headers"]["X-Project-Id"], "{project_id}");
        assert_eq!(q["headers"]["X-Sdk-Date"], FIXED_DATE);
        assert!(q["headers"]["Authorization"]
            .as_str()
            .unwrap()
            .ends_with("Signature=[redacted]"));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn hosts_per_region_and_the_service_endpoint_variable() {
    // eu-west-101 has its own domain (the SDK's region table).
    let r = Sandbox::new()
        .run_async(&[
            "cluster",
            "delete",
            "-p",
            "huawei",
            "--region",
            "eu-west-101",
            "--project-id",
            PID,
            "--cluster-id",
            CID,
            "--dry-run",
        ])
        .await;
    assert_eq!(
        r.json()["requests"][1]["url"],
        format!("https://cce.eu-west-101.myhuaweicloud.eu/api/v3/projects/{PID}/clusters/{CID}")
    );
    // CLOUDSTOP_HUAWEI_CCE_ENDPOINT beats CLOUDSTOP_HUAWEI_ENDPOINT.
    let server = MockServer::start().await;
    mount(&server, "GET", cluster_path(CID), available(), 1).await;
    mount(&server, "DELETE", cluster_path(CID), deleted_answer(), 1).await;
    let sb = creds()
        .env("CLOUDSTOP_HUAWEI_ENDPOINT", &common::refused_url())
        .env("CLOUDSTOP_HUAWEI_CCE_ENDPOINT", &server.uri());
    let r = sb
        .run_async(&[
            "cluster",
            "delete",
            "-p",
            "huawei",
            "--region",
            "cn-north-4",
            "--project-id",
            PID,
            "--cluster-id",
            CID,
            "--yes",
        ])
        .await;
    assert_eq!(r.code, 0, "{}", r.stdout);
}

#[tokio::test(flavor = "multi_thread")]
async fn project_id_from_iam_then_delete() {
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
    mount(&server, "GET", cluster_path(CID), available(), 1).await;
    mount(&server, "DELETE", cluster_path(CID), deleted_answer(), 1).await;
    let sb = creds().env("HUAWEICLOUD_SDK_IAM_ENDPOINT", &server.uri());
    let a: Vec<String> = args(&server.uri(), &["--cluster-id", CID])
        .into_iter()
        .filter(|x| x != "--project-id" && x != PID)
        .collect();
    let r = run(sb, a).await;
    assert_eq!(r.code, 0, "{}", r.stdout);
    assert_eq!(r.json()["location"]["project_id"], PID);
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_input_and_no_confirmation_send_nothing() {
    let server = MockServer::start().await;
    Mock::given(wiremock::matchers::any())
        .respond_with(available())
        .expect(0)
        .mount(&server)
        .await;
    // Malformed id.
    let r = run(
        creds(),
        args(&server.uri(), &["--cluster-id", "cls-12345678"]),
    )
    .await;
    assert_eq!(r.code, 2, "{}", r.stdout);
    assert!(r.json()["error"]["message"]
        .as_str()
        .unwrap()
        .contains("'cls-12345678'"));
    // No --yes and stdin is not a terminal.
    let a: Vec<String> = args(&server.uri(), &["--cluster-id", CID])
        .into_iter()
        .filter(|x| x != "--yes")
        .collect();
    let r = run(creds(), a).await;
    assert_eq!(r.code, 2, "{}", r.stdout);
    assert!(r.json()["error"]["message"]
        .as_str()
        .unwrap()
        .contains("--yes"));
}

#[tokio::test(flavor = "multi_thread")]
async fn secrets_never_printed() {
    let server = MockServer::start().await;
    mount(&server, "GET", cluster_path(CID), available(), 1).await;
    mount(&server, "DELETE", cluster_path(CID), deleted_answer(), 1).await;
    let sb = creds().env("HUAWEICLOUD_SDK_SECURITY_TOKEN", TOKEN);
    let r = run(sb, args(&server.uri(), &["--cluster-id", CID, "-vvv"])).await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    for s in [SK, TOKEN] {
        assert!(!r.stdout.contains(s) && !r.stderr.contains(s), "{s} leaked");
    }
    let del = &requests(&server, "DELETE").await[0];
    assert_eq!(header(del, "x-security-token"), Some(TOKEN));
    assert_eq!(
        header(del, "authorization").unwrap(),
        expected_authorization(
            del,
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

#[test]
fn providers_and_man_page_offer_every_huawei_operation() {
    let r = Sandbox::new().run(&["providers", "-o", "json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v = r.json();
    let hw = v["providers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["provider"] == "huawei")
        .unwrap()
        .clone();
    assert_eq!(
        hw["operations"],
        json!(["job stop", "server stop", "cluster delete"])
    );
    let endpoint = hw["settings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "endpoint")
        .unwrap()
        .clone();
    for var in [
        "CLOUDSTOP_HUAWEI_CCE_ENDPOINT",
        "CLOUDSTOP_HUAWEI_MODELARTS_ENDPOINT",
    ] {
        assert!(
            endpoint["env"].as_array().unwrap().contains(&json!(var)),
            "{var}"
        );
    }
    let text = Sandbox::new().run(&["providers"]).stdout;
    let row = text.lines().find(|l| l.starts_with("huawei ")).unwrap();
    assert_eq!(row.matches("yes").count(), 3, "{row}");
    let man = Sandbox::new().run(&["man"]).stdout;
    assert!(man.contains("CCE") && man.contains("ModelArts"));
    assert!(man.contains("cloudstop cluster delete \\-p huawei"));
    assert!(man.contains("cloudstop job stop \\-p huawei"));
}
