//! Tencent Cloud `cluster delete` (TKE standard and serverless `cls-…`, THPC `hpc-…`)
//! through the built binary against a local mock. TKE and THPC both name their calls
//! `DescribeClusters` and `DeleteCluster`: the mocks tell them apart by `X-TC-Version`.

mod common;

use common::{blocking, Sandbox};
use serde_json::{json, Value};
use wiremock::matchers::{body_json, header};
use wiremock::{Mock, MockBuilder, MockServer, Request, ResponseTemplate};

const KEY: &str = "tke-secret-key-never-printed";
const TOKEN: &str = "tke-session-token-never-printed";
const TKE: &str = "2018-05-25";
const THPC: &str = "2023-03-21";
const STD: &str = "cls-etu4tjip";
const EKS: &str = "cls-l6gtb5p0";
const EDGE: &str = "cls-j0hy001q";
const HPC: &str = "hpc-5lyv94lq";

fn sandbox() -> Sandbox {
    Sandbox::new()
        .env("TENCENTCLOUD_SECRET_ID", "AKIDTKETEST")
        .env("TENCENTCLOUD_SECRET_KEY", KEY)
}

/// A call of `action` on the service of `version`.
fn call(version: &str, action: &str) -> MockBuilder {
    Mock::given(header("X-TC-Version", version)).and(header("X-TC-Action", action))
}

fn ok(request_id: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({"Response": {"RequestId": request_id}}))
}

fn api_error(code: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({"Response": {
        "Error": {"Code": code, "Message": format!("mock {code}")}, "RequestId": "err-req"}}))
}

/// A TKE Describe answer (`Clusters`).
fn clusters(list: Value) -> ResponseTemplate {
    let n = list.as_array().map_or(0, Vec::len);
    ResponseTemplate::new(200).set_body_json(
        json!({"Response": {"Clusters": list, "TotalCount": n, "RequestId": "desc"}}),
    )
}

fn standard(id: &str, status: &str, protection: bool) -> ResponseTemplate {
    clusters(
        json!([{"ClusterId": id, "ClusterName": "ci", "ClusterStatus": status,
        "ClusterType": "MANAGED_CLUSTER", "DeletionProtection": protection}]),
    )
}

fn none() -> ResponseTemplate {
    clusters(json!([]))
}

/// A THPC `DescribeClusters` answer (`ClusterSet`).
fn thpc_set(list: Value) -> ResponseTemplate {
    let n = list.as_array().map_or(0, Vec::len);
    ResponseTemplate::new(200).set_body_json(
        json!({"Response": {"ClusterSet": list, "TotalCount": n, "RequestId": "thpc-desc"}}),
    )
}

fn thpc(id: &str, status: &str, protection: &str) -> ResponseTemplate {
    thpc_set(
        json!([{"ClusterId": id, "ClusterName": "hpc", "ClusterStatus": status,
        "DeletionProtection": protection, "Placement": {"Zone": "ap-guangzhou-6"}}]),
    )
}

fn hdr<'a>(req: &'a Request, name: &str) -> &'a str {
    req.headers.get(name).unwrap().to_str().unwrap()
}

async fn mount(server: &MockServer, mock: Mock) {
    mock.mount(server).await;
}

/// Mocks that must receive nothing.
async fn never(server: &MockServer, version: &str, action: &str) {
    mount(
        server,
        call(version, action)
            .respond_with(ok("never"))
            .expect(0)
            .named(format!("{version} {action} must not be called")),
    )
    .await;
}

async fn run_in(sb: Sandbox, uri: &str, region: &str, extra: &[&str]) -> common::Run {
    let mut args = vec![
        "cluster",
        "delete",
        "-p",
        "tencent",
        "--region",
        region,
        "--endpoint",
        uri,
        "--rate",
        "200",
        "--yes",
    ];
    args.extend_from_slice(extra);
    sb.run_async(&args).await
}

async fn run(uri: &str, extra: &[&str]) -> common::Run {
    run_in(sandbox(), uri, "ap-guangzhou", extra).await
}

fn status(v: &Value, i: usize) -> &str {
    v["results"][i]["status"].as_str().unwrap()
}

fn message(v: &Value, i: usize) -> &str {
    v["results"][i]["error"]["message"].as_str().unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn standard_cluster_is_looked_up_then_deleted_terminating_its_nodes() {
    let server = MockServer::start().await;
    mount(
        &server,
        call(TKE, "DescribeClusters")
            .and(body_json(json!({"ClusterIds": [STD]})))
            .respond_with(standard(STD, "Running", false))
            .expect(1),
    )
    .await;
    mount(
        &server,
        call(TKE, "DeleteCluster")
            .and(body_json(
                json!({"ClusterId": STD, "InstanceDeleteMode": "terminate"}),
            ))
            .respond_with(ok("del-req"))
            .expect(1),
    )
    .await;
    never(&server, TKE, "DescribeEKSClusters").await;
    never(&server, TKE, "DeleteEKSCluster").await;
    let r = run(&server.uri(), &["--cluster-id", STD]).await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let v = r.json();
    assert_eq!(v["operation"], "cluster.delete");
    assert_eq!(v["location"]["region"], "ap-guangzhou");
    assert_eq!(status(&v, 0), "deleting");
    assert_eq!(v["results"][0]["request_id"], "del-req");
    assert_eq!(v["results"][0]["provider_job_id"], Value::Null);
    let reqs = server.received_requests().await.unwrap();
    for req in &reqs {
        assert!(hdr(req, "authorization").contains("/tke/tc3_request"));
        assert_eq!(hdr(req, "x-tc-region"), "ap-guangzhou");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn keep_instances_and_delete_storage_shape_the_standard_delete() {
    let server = MockServer::start().await;
    mount(
        &server,
        call(TKE, "DescribeClusters").respond_with(standard(STD, "Running", false)),
    )
    .await;
    mount(
        &server,
        call(TKE, "DeleteCluster")
            .and(body_json(
                json!({"ClusterId": STD, "InstanceDeleteMode": "retain",
                "ResourceDeleteOptions": [{"ResourceType": "CBS", "DeleteMode": "terminate"}]}),
            ))
            .respond_with(ok("r"))
            .expect(1),
    )
    .await;
    let r = run(
        &server.uri(),
        &["--cluster-id", STD, "--keep-instances", "--delete-storage"],
    )
    .await;
    assert_eq!(r.code, 0, "{}", r.stdout);
}

#[tokio::test(flavor = "multi_thread")]
async fn serverless_cluster_gets_delete_eks_cluster() {
    let server = MockServer::start().await;
    mount(
        &server,
        call(TKE, "DescribeClusters").respond_with(none()).expect(1),
    )
    .await;
    mount(
        &server,
        call(TKE, "DescribeEKSClusters")
            .and(body_json(json!({"ClusterIds": [EKS]})))
            .respond_with(clusters(
                json!([{"ClusterId": EKS, "ClusterName": "eks", "Status": "running"}]),
            ))
            .expect(1),
    )
    .await;
    mount(
        &server,
        call(TKE, "DeleteEKSCluster")
            .and(body_json(json!({"ClusterId": EKS})))
            .respond_with(ok("eks-del"))
            .expect(1),
    )
    .await;
    never(&server, TKE, "DeleteCluster").await;
    never(&server, TKE, "DescribeTKEEdgeClusters").await;
    let r = run(&server.uri(), &["--cluster-id", EKS]).await;
    assert_eq!(r.code, 0, "{}", r.stdout);
    let v = r.json();
    assert_eq!(status(&v, 0), "deleting");
    assert_eq!(v["results"][0]["request_id"], "eks-del");
}

#[tokio::test(flavor = "multi_thread")]
async fn serverless_cluster_with_flags_it_cannot_honour_is_exit_2_after_the_lookup() {
    for flag in ["--keep-instances", "--delete-storage"] {
        let server = MockServer::start().await;
        mount(
            &server,
            call(TKE, "DescribeClusters")
                .and(body_json(json!({"ClusterIds": [STD]})))
                .respond_with(standard(STD, "Running", false)),
        )
        .await;
        mount(
            &server,
            call(TKE, "DescribeClusters")
                .and(body_json(json!({"ClusterIds": [EKS]})))
                .respond_with(none()),
        )
        .await;
        mount(
            &server,
            call(TKE, "DescribeEKSClusters")
                .respond_with(clusters(json!([{"ClusterId": EKS, "Status": "running"}]))),
        )
        .await;
        never(&server, TKE, "DeleteEKSCluster").await;
        // The standard cluster in the same command is not deleted either.
        never(&server, TKE, "DeleteCluster").await;
        let r = run(
            &server.uri(),
            &["--cluster-id", &format!("{STD},{EKS}"), flag],
        )
        .await;
        assert_eq!(r.code, 2, "{flag}: {}", r.stdout);
        let v = r.json();
        assert_eq!(v["ok"], false);
        assert_eq!(v["error"]["kind"], "usage");
        let msg = v["error"]["message"].as_str().unwrap();
        assert!(msg.contains(EKS) && msg.contains("serverless"), "{msg}");
        assert!(msg.contains("nothing was sent"), "{msg}");
        assert_eq!(status(&v, 1), "failed");
        assert_eq!(v["results"][1]["error"]["kind"], "usage");
        server.verify().await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn edge_cluster_is_exit_2_naming_it_and_never_not_found() {
    let server = MockServer::start().await;
    mount(
        &server,
        call(TKE, "DescribeClusters")
            .and(body_json(json!({"ClusterIds": [STD]})))
            .respond_with(standard(STD, "Running", false)),
    )
    .await;
    mount(
        &server,
        call(TKE, "DescribeClusters")
            .and(body_json(json!({"ClusterIds": [EDGE]})))
            .respond_with(none()),
    )
    .await;
    mount(
        &server,
        call(TKE, "DescribeEKSClusters").respond_with(none()),
    )
    .await;
    mount(
        &server,
        call(TKE, "DescribeTKEEdgeClusters")
            .and(body_json(json!({"ClusterIds": [EDGE]})))
            .respond_with(clusters(
                json!([{"ClusterId": EDGE, "ClusterName": "edge", "Status": "Running"}]),
            ))
            .expect(1),
    )
    .await;
    never(&server, TKE, "DeleteCluster").await;
    never(&server, TKE, "DeleteEKSCluster").await;
    // --ignore-missing must not turn an edge cluster into a success.
    let r = run(
        &server.uri(),
        &["--cluster-id", &format!("{STD},{EDGE}"), "--ignore-missing"],
    )
    .await;
    assert_eq!(r.code, 2, "{}", r.stdout);
    let v = r.json();
    let msg = v["error"]["message"].as_str().unwrap();
    assert!(msg.contains(EDGE) && msg.contains("edge"), "{msg}");
    assert_eq!(status(&v, 1), "failed");
    assert_ne!(v["results"][1]["status"], "not_found");
    assert!(message(&v, 0).starts_with("not sent"));
}

#[tokio::test(flavor = "multi_thread")]
async fn not_found_anywhere_is_exit_4_or_ok_with_ignore_missing() {
    for (ignore, code) in [(false, 4), (true, 0)] {
        let server = MockServer::start().await;
        mount(&server, call(TKE, "DescribeClusters").respond_with(none())).await;
        mount(
            &server,
            call(TKE, "DescribeEKSClusters").respond_with(api_error("ResourceNotFound")),
        )
        .await;
        mount(
            &server,
            call(THPC, "DescribeClusters").respond_with(thpc_set(json!([]))),
        )
        .await;
        // ap-chengdu has no edge clusters: no edge lookup there.
        never(&server, TKE, "DescribeTKEEdgeClusters").await;
        never(&server, TKE, "DeleteCluster").await;
        never(&server, TKE, "DeleteEKSCluster").await;
        never(&server, THPC, "DeleteCluster").await;
        let ids = format!("{STD},{HPC}");
        let mut args = vec!["--cluster-id", ids.as_str()];
        if ignore {
            args.push("--ignore-missing");
        }
        let r = run_in(sandbox(), &server.uri(), "ap-chengdu", &args).await;
        assert_eq!(r.code, code, "{}", r.stdout);
        let v = r.json();
        assert_eq!(status(&v, 0), "not_found");
        assert_eq!(status(&v, 1), "not_found");
        if !ignore {
            assert!(message(&v, 0).contains(STD));
            let hpc = message(&v, 1);
            assert!(hpc.contains(HPC) && hpc.contains("CVM"), "{hpc}");
        }
        server.verify().await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn deletion_protection_fails_without_sending_anything() {
    let server = MockServer::start().await;
    mount(
        &server,
        call(TKE, "DescribeClusters").respond_with(standard(STD, "Running", true)),
    )
    .await;
    mount(
        &server,
        call(THPC, "DescribeClusters").respond_with(thpc(HPC, "RUNNING", "ON")),
    )
    .await;
    never(&server, TKE, "DeleteCluster").await;
    never(&server, THPC, "DeleteCluster").await;
    never(&server, TKE, "DisableClusterDeletionProtection").await;
    never(&server, THPC, "ModifyClusterDeletionProtection").await;
    let r = run(&server.uri(), &["--cluster-id", &format!("{STD},{HPC}")]).await;
    assert_eq!(r.code, 1, "{}", r.stdout);
    let v = r.json();
    assert_eq!(status(&v, 0), "failed");
    assert_eq!(
        v["results"][0]["error"]["code"],
        "OperationDenied.ClusterInDeletionProtection"
    );
    assert!(message(&v, 0).contains("turn deletion protection off first"));
    assert_eq!(status(&v, 1), "failed");
    assert!(message(&v, 1).contains("deletion protection on"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_protected_delete_refused_by_the_api_says_what_to_do() {
    let server = MockServer::start().await;
    mount(
        &server,
        call(TKE, "DescribeClusters").respond_with(standard(STD, "Running", false)),
    )
    .await;
    mount(
        &server,
        call(TKE, "DeleteCluster")
            .respond_with(api_error("OperationDenied.ClusterInDeletionProtection"))
            .expect(1),
    )
    .await;
    let r = run(&server.uri(), &["--cluster-id", STD]).await;
    assert_eq!(r.code, 1, "{}", r.stdout);
    let v = r.json();
    assert_eq!(
        v["results"][0]["error"]["code"],
        "OperationDenied.ClusterInDeletionProtection"
    );
    assert!(message(&v, 0).contains("DisableClusterDeletionProtection"));
}

#[tokio::test(flavor = "multi_thread")]
async fn already_deleting_clusters_get_nothing_sent() {
    let server = MockServer::start().await;
    mount(
        &server,
        call(TKE, "DescribeClusters")
            .and(body_json(json!({"ClusterIds": [STD]})))
            .respond_with(standard(STD, "Deleting", false)),
    )
    .await;
    mount(
        &server,
        call(TKE, "DescribeClusters")
            .and(body_json(json!({"ClusterIds": [EKS]})))
            .respond_with(none()),
    )
    .await;
    mount(
        &server,
        call(TKE, "DescribeEKSClusters").respond_with(clusters(
            json!([{"ClusterId": EKS, "Status": "Terminating"}]),
        )),
    )
    .await;
    mount(
        &server,
        call(THPC, "DescribeClusters")
            .and(body_json(json!({"ClusterIds": [HPC], "Limit": 100})))
            .respond_with(thpc(HPC, "TERMINATING", "OFF")),
    )
    .await;
    never(&server, TKE, "DeleteCluster").await;
    never(&server, TKE, "DeleteEKSCluster").await;
    never(&server, THPC, "DeleteCluster").await;
    let r = run(
        &server.uri(),
        &["--cluster-id", &format!("{STD},{EKS},{HPC}")],
    )
    .await;
    assert_eq!(r.code, 0, "{}", r.stdout);
    let v = r.json();
    for i in 0..3 {
        assert_eq!(status(&v, i), "deleting");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn flags_thpc_cannot_honour_are_refused_before_anything_is_sent() {
    let server = MockServer::start().await;
    for extra in [
        vec!["--cluster-id", HPC, "--keep-instances"],
        vec![
            "--cluster-id",
            "cls-etu4tjip,hpc-5lyv94lq",
            "--delete-storage",
        ],
        vec!["--cluster-id", STD, "--unlease", "x"],
        vec!["--cluster-id", "cls-ETU4TJIP"],
        vec!["--cluster-id", "eks-etu4tjip"],
    ] {
        let r = run(&server.uri(), &extra).await;
        assert_eq!(r.code, 2, "{extra:?}: {}", r.stdout);
        assert_eq!(r.json()["error"]["kind"], "usage");
    }
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn without_yes_off_a_terminal_nothing_is_sent() {
    let server = MockServer::start().await;
    let uri = server.uri();
    let r = sandbox()
        .run_async(&[
            "cluster",
            "delete",
            "-p",
            "tencent",
            "--region",
            "ap-guangzhou",
            "--endpoint",
            &uri,
            "--cluster-id",
            STD,
        ])
        .await;
    assert_eq!(r.code, 2, "{}", r.stdout);
    assert!(r.json()["error"]["message"]
        .as_str()
        .unwrap()
        .contains("--yes"));
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn wait_polls_until_the_cluster_is_gone() {
    let server = MockServer::start().await;
    // Lookup, then the polls: still Running, Deleting, then gone.
    for (i, answer) in [
        standard(STD, "Running", false),
        standard(STD, "Running", false),
        standard(STD, "Deleting", false),
    ]
    .into_iter()
    .enumerate()
    {
        mount(
            &server,
            call(TKE, "DescribeClusters")
                .respond_with(answer)
                .up_to_n_times(1)
                .with_priority(i as u8 + 1),
        )
        .await;
    }
    mount(
        &server,
        call(TKE, "DescribeClusters")
            .respond_with(none())
            .with_priority(10),
    )
    .await;
    mount(
        &server,
        call(TKE, "DeleteCluster").respond_with(ok("d")).expect(1),
    )
    .await;
    mount(
        &server,
        call(THPC, "DescribeClusters")
            .respond_with(thpc(HPC, "RUNNING", "OFF"))
            .up_to_n_times(1)
            .with_priority(1),
    )
    .await;
    mount(
        &server,
        call(THPC, "DescribeClusters")
            .respond_with(thpc(HPC, "TERMINATING", "OFF"))
            .up_to_n_times(1)
            .with_priority(2),
    )
    .await;
    mount(
        &server,
        call(THPC, "DescribeClusters")
            .respond_with(thpc_set(json!([])))
            .with_priority(10),
    )
    .await;
    mount(
        &server,
        call(THPC, "DeleteCluster")
            .and(body_json(json!({"ClusterId": HPC})))
            .respond_with(ok("thpc-d"))
            .expect(1),
    )
    .await;
    let r = run(
        &server.uri(),
        &[
            "--cluster-id",
            &format!("{STD},{HPC}"),
            "--wait",
            "--poll-interval",
            "20ms",
        ],
    )
    .await;
    assert_eq!(r.code, 0, "{}", r.stdout);
    let v = r.json();
    assert_eq!(status(&v, 0), "deleted");
    assert_eq!(v["results"][0]["request_id"], "d");
    assert_eq!(status(&v, 1), "deleted");
    assert_eq!(v["results"][1]["request_id"], "thpc-d");
    let thpc_reqs: Vec<Request> = server
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| hdr(r, "x-tc-version") == THPC)
        .collect();
    assert!(thpc_reqs
        .iter()
        .all(|r| hdr(r, "authorization").contains("/thpc/tc3_request")));
}

#[tokio::test(flavor = "multi_thread")]
async fn wait_reports_a_failed_deletion() {
    let server = MockServer::start().await;
    mount(
        &server,
        call(TKE, "DescribeClusters")
            .respond_with(standard(STD, "Running", false))
            .up_to_n_times(1)
            .with_priority(1),
    )
    .await;
    mount(
        &server,
        call(TKE, "DescribeClusters")
            .respond_with(standard(STD, "Abnormal", false))
            .with_priority(5),
    )
    .await;
    mount(
        &server,
        call(TKE, "DeleteCluster").respond_with(ok("d")).expect(1),
    )
    .await;
    let r = run(
        &server.uri(),
        &["--cluster-id", STD, "--wait", "--poll-interval", "20ms"],
    )
    .await;
    assert_eq!(r.code, 1, "{}", r.stdout);
    let v = r.json();
    assert_eq!(status(&v, 0), "failed");
    assert_eq!(v["results"][0]["error"]["code"], "ClusterStatus.Abnormal");
}

#[tokio::test(flavor = "multi_thread")]
async fn wait_on_a_cluster_gone_at_the_start_is_not_found() {
    let server = MockServer::start().await;
    mount(&server, call(TKE, "DescribeClusters").respond_with(none())).await;
    mount(
        &server,
        call(TKE, "DescribeEKSClusters").respond_with(none()),
    )
    .await;
    mount(
        &server,
        call(TKE, "DescribeTKEEdgeClusters").respond_with(none()),
    )
    .await;
    never(&server, TKE, "DeleteCluster").await;
    let r = run(
        &server.uri(),
        &[
            "--cluster-id",
            STD,
            "--wait",
            "--poll-interval",
            "20ms",
            "--ignore-missing",
        ],
    )
    .await;
    assert_eq!(r.code, 0, "{}", r.stdout);
    assert_eq!(status(&r.json(), 0), "not_found");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_possibly_applied_delete_is_settled_by_reading_not_resent() {
    let server = MockServer::start().await;
    mount(
        &server,
        call(TKE, "DescribeClusters")
            .respond_with(standard(STD, "Running", false))
            .up_to_n_times(1)
            .with_priority(1),
    )
    .await;
    mount(
        &server,
        call(TKE, "DescribeClusters")
            .respond_with(standard(STD, "Deleting", false))
            .with_priority(5),
    )
    .await;
    // An internal error may have been applied: no blind retry (QueryFirst).
    mount(
        &server,
        call(TKE, "DeleteCluster")
            .respond_with(api_error("InternalError"))
            .expect(1),
    )
    .await;
    let r = run(&server.uri(), &["--cluster-id", STD]).await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(status(&r.json(), 0), "deleting");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_possibly_applied_delete_of_an_unchanged_cluster_is_sent_once_more() {
    let server = MockServer::start().await;
    mount(
        &server,
        call(THPC, "DescribeClusters").respond_with(thpc(HPC, "RUNNING", "OFF")),
    )
    .await;
    mount(
        &server,
        call(THPC, "DeleteCluster")
            .respond_with(ResponseTemplate::new(502).set_body_string("bad gateway"))
            .up_to_n_times(1)
            .with_priority(1),
    )
    .await;
    mount(
        &server,
        call(THPC, "DeleteCluster")
            .respond_with(ok("second"))
            .with_priority(5),
    )
    .await;
    let r = run(&server.uri(), &["--cluster-id", HPC]).await;
    assert_eq!(r.code, 0, "{}", r.stdout);
    let v = r.json();
    assert_eq!(status(&v, 0), "deleting");
    assert_eq!(v["results"][0]["request_id"], "second");
    let deletes = server
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| hdr(r, "x-tc-action") == "DeleteCluster")
        .count();
    assert_eq!(deletes, 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_delete_refused_for_the_cluster_state_is_settled_by_reading() {
    // Deleting by now → deleting; still Running → failed with the provider's code.
    for (later, want, code) in [("Deleting", "deleting", 0), ("Running", "failed", 1)] {
        let server = MockServer::start().await;
        mount(
            &server,
            call(TKE, "DescribeClusters")
                .respond_with(standard(STD, "Running", false))
                .up_to_n_times(1)
                .with_priority(1),
        )
        .await;
        mount(
            &server,
            call(TKE, "DescribeClusters")
                .respond_with(standard(STD, later, false))
                .with_priority(5),
        )
        .await;
        mount(
            &server,
            call(TKE, "DeleteCluster")
                .respond_with(api_error("FailedOperation.ClusterState"))
                .expect(1),
        )
        .await;
        let r = run(&server.uri(), &["--cluster-id", STD]).await;
        assert_eq!(r.code, code, "{later}: {}", r.stdout);
        let v = r.json();
        assert_eq!(status(&v, 0), want);
        if want == "failed" {
            assert_eq!(
                v["results"][0]["error"]["code"],
                "FailedOperation.ClusterState"
            );
        }
        server.verify().await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cluster_gone_between_lookup_and_delete_is_not_found() {
    let server = MockServer::start().await;
    mount(
        &server,
        call(TKE, "DescribeClusters").respond_with(standard(STD, "Running", false)),
    )
    .await;
    mount(
        &server,
        call(TKE, "DeleteCluster").respond_with(api_error("InternalError.ClusterNotFound")),
    )
    .await;
    let r = run(&server.uri(), &["--cluster-id", STD]).await;
    assert_eq!(r.code, 4, "{}", r.stdout);
    let v = r.json();
    assert_eq!(status(&v, 0), "not_found");
    assert_eq!(
        v["results"][0]["error"]["code"],
        "InternalError.ClusterNotFound"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn throttled_then_ok() {
    let server = MockServer::start().await;
    mount(
        &server,
        call(TKE, "DescribeClusters")
            .respond_with(api_error("RequestLimitExceeded"))
            .up_to_n_times(1)
            .with_priority(1),
    )
    .await;
    mount(
        &server,
        call(TKE, "DescribeClusters")
            .respond_with(standard(STD, "Running", false))
            .with_priority(5),
    )
    .await;
    mount(
        &server,
        call(TKE, "DeleteCluster")
            .respond_with(api_error("RequestLimitExceeded.UinLimitExceeded"))
            .up_to_n_times(1)
            .with_priority(1),
    )
    .await;
    mount(
        &server,
        call(TKE, "DeleteCluster")
            .respond_with(ok("after-throttle"))
            .with_priority(5),
    )
    .await;
    let r = run(&server.uri(), &["--cluster-id", STD]).await;
    assert_eq!(r.code, 0, "{}", r.stdout);
    let v = r.json();
    assert_eq!(status(&v, 0), "deleting");
    assert_eq!(v["results"][0]["request_id"], "after-throttle");
    assert_eq!(server.received_requests().await.unwrap().len(), 4);
}

#[tokio::test(flavor = "multi_thread")]
async fn auth_failure_is_exit_3_and_nothing_is_deleted() {
    let server = MockServer::start().await;
    mount(
        &server,
        call(TKE, "DescribeClusters")
            .respond_with(api_error("AuthFailure.SignatureFailure"))
            .expect(1),
    )
    .await;
    never(&server, TKE, "DeleteCluster").await;
    let r = run(&server.uri(), &["--cluster-id", STD]).await;
    assert_eq!(r.code, 3, "{}", r.stdout);
    let v = r.json();
    assert_eq!(v["results"][0]["error"]["kind"], "auth");
    assert_eq!(
        v["results"][0]["error"]["code"],
        "AuthFailure.SignatureFailure"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn dry_run_offline_shows_the_lookup_and_the_standard_delete() {
    let r = blocking(|| {
        Sandbox::new().run(&[
            "cluster",
            "delete",
            "-p",
            "tencent",
            "--region",
            "ap-shanghai",
            "--cluster-id",
            &format!("{STD},{HPC}"),
            "--dry-run",
        ])
    })
    .await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let v = r.json();
    assert_eq!(v["dry_run"], true);
    assert_eq!(status(&v, 0), "accepted");
    assert!(
        r.stderr.contains("was not checked"),
        "the log says the kind was not checked: {}",
        r.stderr
    );
    let reqs = v["requests"].as_array().unwrap();
    let shown: Vec<(&str, &str, &str)> = reqs
        .iter()
        .map(|q| {
            (
                q["url"].as_str().unwrap(),
                q["headers"]["X-TC-Action"].as_str().unwrap(),
                q["headers"]["X-TC-Version"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        shown,
        [
            (
                "https://tke.ap-shanghai.tencentcloudapi.com/",
                "DescribeClusters",
                TKE
            ),
            (
                "https://tke.ap-shanghai.tencentcloudapi.com/",
                "DeleteCluster",
                TKE
            ),
            (
                "https://thpc.ap-shanghai.tencentcloudapi.com/",
                "DescribeClusters",
                THPC
            ),
            (
                "https://thpc.ap-shanghai.tencentcloudapi.com/",
                "DeleteCluster",
                THPC
            ),
        ]
    );
    let body = |i: usize| serde_json::from_str::<Value>(reqs[i]["body"].as_str().unwrap()).unwrap();
    assert_eq!(body(0), json!({"ClusterIds": [STD]}));
    assert_eq!(
        body(1),
        json!({"ClusterId": STD, "InstanceDeleteMode": "terminate"})
    );
    assert_eq!(body(3), json!({"ClusterId": HPC}));
    for q in reqs {
        assert_eq!(q["credentials"], "placeholder");
        assert_eq!(q["headers"]["X-TC-Region"], "ap-shanghai");
        assert!(q["headers"]["Authorization"]
            .as_str()
            .unwrap()
            .ends_with("SignedHeaders=content-type;host, Signature=[redacted]"));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn secrets_never_appear_in_output_at_any_verbosity() {
    let server = MockServer::start().await;
    mount(
        &server,
        call(TKE, "DescribeClusters").respond_with(standard(STD, "Running", false)),
    )
    .await;
    mount(
        &server,
        call(TKE, "DeleteCluster").respond_with(api_error("InternalError")),
    )
    .await;
    let sb = sandbox().env("TENCENTCLOUD_TOKEN", TOKEN);
    let r = run_in(
        sb,
        &server.uri(),
        "ap-guangzhou",
        &["--cluster-id", STD, "-vvv"],
    )
    .await;
    assert_ne!(r.code, 0);
    assert!(r.json()["requests"].as_array().unwrap().len() >= 2);
    for out in [&r.stdout, &r.stderr] {
        assert!(!out.contains(KEY), "secret key leaked");
        assert!(!out.contains(TOKEN), "token leaked");
    }
    // The token was sent, and shown redacted.
    let reqs = server.received_requests().await.unwrap();
    assert_eq!(hdr(&reqs[0], "x-tc-token"), TOKEN);
    assert!(r.stdout.contains("\"X-TC-Token\": \"[redacted]\""));
}

#[tokio::test(flavor = "multi_thread")]
async fn tccli_keeps_an_endpoint_per_service_and_the_cloudstop_one_overrides_both() {
    let tke = MockServer::start().await;
    let thpc_server = MockServer::start().await;
    mount(
        &tke,
        call(TKE, "DescribeClusters").respond_with(standard(STD, "Deleting", false)),
    )
    .await;
    mount(
        &thpc_server,
        call(THPC, "DescribeClusters").respond_with(thpc(HPC, "TERMINATING", "OFF")),
    )
    .await;
    let configure = json!({"_sys_param": {"region": "ap-guangzhou"},
        "tke": {"endpoint": tke.uri()}, "thpc": {"endpoint": thpc_server.uri()}});
    let ids = format!("{STD},{HPC}");
    let args = [
        "cluster",
        "delete",
        "-p",
        "tencent",
        "--cluster-id",
        &ids,
        "--yes",
    ];

    // tccli's per-service endpoints go with tccli's own credentials.
    let sb = Sandbox::new();
    sb.write(".tccli/default.configure", &configure.to_string());
    sb.write(
        ".tccli/default.credential",
        &json!({"secretId": "AKIDTKETEST", "secretKey": KEY}).to_string(),
    );
    let r = sb.run_async(&args).await;
    assert_eq!(r.code, 0, "{}", r.stdout);
    let versions = |reqs: Vec<Request>| -> Vec<String> {
        // Sorted: reads run concurrently ("2018-05-25" sorts before "2023-03-21").
        let mut v: Vec<String> = reqs
            .iter()
            .map(|r| hdr(r, "x-tc-version").to_string())
            .collect();
        v.sort();
        v
    };
    assert_eq!(versions(tke.received_requests().await.unwrap()), [TKE]);
    assert_eq!(
        versions(thpc_server.received_requests().await.unwrap()),
        [THPC]
    );

    // CLOUDSTOP_TENCENT_ENDPOINT is one base URL for every service.
    let sb = sandbox().env("CLOUDSTOP_TENCENT_ENDPOINT", &tke.uri());
    sb.write(".tccli/default.configure", &configure.to_string());
    mount(
        &tke,
        call(THPC, "DescribeClusters").respond_with(thpc(HPC, "TERMINATING", "OFF")),
    )
    .await;
    let r = sb.run_async(&args).await;
    assert_eq!(r.code, 0, "{}", r.stdout);
    assert_eq!(
        versions(tke.received_requests().await.unwrap()),
        [TKE, TKE, THPC]
    );
    assert_eq!(thpc_server.received_requests().await.unwrap().len(), 1);
}
