//! Selecting by `--tag`/`--name`/`--state` through the built binary against wiremock,
//! for every provider's list API (SPEC "Selecting by tag, name and state",
//! PROVIDERS.md §4): paging, AND/OR, "contains" leaks filtered out, the cap, empty
//! matches, already stopped, dry-run, throttled listing, auth failure while listing.

mod common;

use common::{Run, Sandbox};
use serde_json::{json, Value};
use wiremock::matchers::{header, method, path, query_param};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

fn strs(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

fn ids_of(v: &Value) -> Vec<String> {
    v["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect()
}

fn status_of(v: &Value, id: &str) -> String {
    v["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == id)
        .unwrap_or_else(|| panic!("no result for {id}: {v}"))["status"]
        .as_str()
        .unwrap()
        .to_string()
}

fn body(r: &Request) -> Value {
    serde_json::from_slice(&r.body).unwrap()
}

// ---- Tencent CVM -----------------------------------------------------------------

fn tencent() -> Sandbox {
    Sandbox::new()
        .env("TENCENTCLOUD_SECRET_ID", "AKIDSELECTTEST")
        .env("TENCENTCLOUD_SECRET_KEY", "select-secret-never-printed")
}

fn tc_ok(data: Value) -> ResponseTemplate {
    let mut d = data;
    d["RequestId"] = "req-1".into();
    ResponseTemplate::new(200).set_body_json(json!({ "Response": d }))
}

fn tc_err(code: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({"Response": {
        "Error": {"Code": code, "Message": format!("mock {code}")}, "RequestId": "err"}}))
}

fn cvm(id: &str, name: &str, state: &str, tags: &[(&str, &str)]) -> Value {
    let tags: Vec<Value> = tags
        .iter()
        .map(|(k, v)| json!({"Key": k, "Value": v}))
        .collect();
    json!({"InstanceId": id, "InstanceName": name, "InstanceState": state, "Tags": tags,
           "Placement": {"Zone": "ap-guangzhou-3"}})
}

fn tc_action(a: &str) -> wiremock::matchers::HeaderExactMatcher {
    header("X-TC-Action", a)
}

async fn tc_run(kind: &str, uri: &str, extra: &[&str]) -> Run {
    tc_run_in(tencent(), kind, uri, extra).await
}

async fn tc_run_in(sb: Sandbox, kind: &str, uri: &str, extra: &[&str]) -> Run {
    let mut a = strs(&[
        kind,
        "stop",
        "-p",
        "tencent",
        "--region",
        "ap-guangzhou",
        "--endpoint",
        uri,
        "--rate",
        "500",
    ]);
    a.extend(strs(extra));
    sb.run_async(&a).await
}

/// Page 1: 100 instances, most of them leaks of a fuzzy server-side filter; page 2:
/// the rest. Only exact matches are stopped, in id order; stopped and stopping ones
/// get nothing sent.
#[tokio::test(flavor = "multi_thread")]
async fn cvm_pages_recheck_and_stop_only_what_runs() {
    let server = MockServer::start().await;
    let mut page1: Vec<Value> = (0..97)
        .map(|i| {
            cvm(
                &format!("ins-leak{i:04}"),
                "ci-leak",
                "RUNNING",
                &[("env", "dev2")],
            )
        })
        .collect();
    page1.push(cvm("ins-zzzz0001", "ci-9", "RUNNING", &[("env", "dev")]));
    page1.push(cvm("ins-aaaa0001", "ci-1", "STOPPED", &[("env", "dev")]));
    page1.push(cvm("ins-noname01", "", "RUNNING", &[("env", "dev")]));
    let page2 = vec![
        cvm(
            "ins-mmmm0001",
            "ci-5",
            "RUNNING",
            &[("env", "dev"), ("x", "y")],
        ),
        cvm("ins-bbbb0001", "ci-2", "STOPPING", &[("env", "dev")]),
        cvm("ins-cccc0001", "web-1", "RUNNING", &[("env", "dev")]),
        // The same instance twice (a page shifted under us): counted once.
        cvm("ins-mmmm0001", "ci-5", "RUNNING", &[("env", "dev")]),
    ];
    Mock::given(tc_action("DescribeInstances"))
        .and(wiremock::matchers::body_partial_json(
            json!({"Offset": 0, "Limit": 100}),
        ))
        .respond_with(tc_ok(json!({"InstanceSet": page1, "TotalCount": 104})))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(tc_action("DescribeInstances"))
        .and(wiremock::matchers::body_partial_json(
            json!({"Offset": 100, "Limit": 100}),
        ))
        .respond_with(tc_ok(json!({"InstanceSet": page2, "TotalCount": 104})))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(tc_action("StopInstances"))
        .respond_with(tc_ok(json!({})))
        .expect(1)
        .mount(&server)
        .await;
    let r = tc_run(
        "server",
        &server.uri(),
        &["--tag", "env=dev", "--name", "ci-*", "--name", "nothing-?"],
    )
    .await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let v = r.json();
    assert_eq!(
        ids_of(&v),
        [
            "ins-aaaa0001",
            "ins-bbbb0001",
            "ins-mmmm0001",
            "ins-zzzz0001"
        ]
    );
    assert_eq!(status_of(&v, "ins-aaaa0001"), "already_stopped");
    assert_eq!(status_of(&v, "ins-bbbb0001"), "stopping");
    assert_eq!(status_of(&v, "ins-mmmm0001"), "stopping");
    assert_eq!(v["results"][2]["name"], "ci-5");
    assert_eq!(v["results"][0]["state_before"], "STOPPED");
    let sel = &v["selection"];
    assert_eq!(sel["matched"], 4);
    assert_eq!(sel["tags"], json!({"env": "dev"}));
    assert_eq!(sel["names"], json!(["ci-*", "nothing-?"]));
    assert_eq!(sel["max_matches"], 20);
    let reqs = server.received_requests().await.unwrap();
    let list = body(&reqs[0]);
    assert_eq!(
        list["Filters"],
        json!([{"Name": "tag:env", "Values": ["dev"]}])
    );
    let stop: Vec<&Request> = reqs
        .iter()
        .filter(|r| r.headers.get("X-TC-Action").unwrap() == "StopInstances")
        .collect();
    assert_eq!(
        body(stop[0])["InstanceIds"],
        json!(["ins-mmmm0001", "ins-zzzz0001"])
    );
    // No request was sent before every page was read.
    let last_list = reqs
        .iter()
        .rposition(|r| r.headers.get("X-TC-Action").unwrap() == "DescribeInstances")
        .unwrap();
    let first_stop = reqs
        .iter()
        .position(|r| r.headers.get("X-TC-Action").unwrap() == "StopInstances")
        .unwrap();
    assert!(last_list < first_stop);
}

#[tokio::test(flavor = "multi_thread")]
async fn cvm_state_and_bare_tag_filters_and_text_output_shows_names() {
    let server = MockServer::start().await;
    Mock::given(tc_action("DescribeInstances"))
        .respond_with(tc_ok(json!({"InstanceSet": [
            cvm("ins-aaaa0001", "db-1", "RUNNING", &[("owner", "bob")]),
            // A leak: the filter said RUNNING, the answer says otherwise.
            cvm("ins-bbbb0001", "db-2", "STOPPED", &[("owner", "bob")]),
            cvm("ins-cccc0001", "db-3", "RUNNING", &[("team", "x")]),
        ], "TotalCount": 3})))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(tc_action("StopInstances"))
        .respond_with(tc_ok(json!({})))
        .expect(1)
        .mount(&server)
        .await;
    let r = tc_run(
        "server",
        &server.uri(),
        &["--tag", "owner", "--state", "running", "-o", "text"],
    )
    .await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("ins-aaaa0001 (db-1)"), "{}", r.stdout);
    assert!(!r.stdout.contains("ins-bbbb0001"), "{}", r.stdout);
    let reqs = server.received_requests().await.unwrap();
    assert_eq!(
        body(&reqs[0])["Filters"],
        json!([{"Name": "tag-key", "Values": ["owner"]},
               {"Name": "instance-state", "Values": ["RUNNING"]}])
    );
    assert_eq!(body(&reqs[1])["InstanceIds"], json!(["ins-aaaa0001"]));
}

#[tokio::test(flavor = "multi_thread")]
async fn cvm_cap_refuses_before_any_stop_and_lists_the_matches() {
    let server = MockServer::start().await;
    let set: Vec<Value> = (1..=3)
        .map(|i| {
            cvm(
                &format!("ins-cap0000{i}"),
                "ci",
                "RUNNING",
                &[("env", "dev")],
            )
        })
        .collect();
    Mock::given(tc_action("DescribeInstances"))
        .respond_with(tc_ok(json!({"InstanceSet": set, "TotalCount": 3})))
        .mount(&server)
        .await;
    Mock::given(tc_action("StopInstances"))
        .respond_with(tc_ok(json!({})))
        .expect(0)
        .mount(&server)
        .await;
    let r = tc_run(
        "server",
        &server.uri(),
        &["--tag", "env=dev", "--max-matches", "2"],
    )
    .await;
    assert_eq!(r.code, 2, "{}\n{}", r.stdout, r.stderr);
    let v = r.json();
    assert_eq!(v["error"]["kind"], "usage");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("--max-matches 3"),
        "{v}"
    );
    assert_eq!(v["selection"]["matched"], 3);
    assert_eq!(
        v["selection"]["matched_ids"],
        json!(["ins-cap00001", "ins-cap00002", "ins-cap00003"])
    );
    assert_eq!(v["results"], json!([]));
}

#[tokio::test(flavor = "multi_thread")]
async fn nothing_matched_is_4_or_0_with_ignore_missing() {
    for (extra, code) in [(&[][..], 4), (&["--ignore-missing"][..], 0)] {
        let server = MockServer::start().await;
        Mock::given(tc_action("DescribeInstances"))
            .respond_with(tc_ok(json!({"InstanceSet": [
                cvm("ins-aaaa0001", "ci-1", "RUNNING", &[("env", "development")]),
            ], "TotalCount": 1})))
            .mount(&server)
            .await;
        Mock::given(tc_action("StopInstances"))
            .respond_with(tc_ok(json!({})))
            .expect(0)
            .mount(&server)
            .await;
        let mut a = vec!["--tag", "env=dev"];
        a.extend_from_slice(extra);
        let r = tc_run("server", &server.uri(), &a).await;
        assert_eq!(r.code, code, "{}\n{}", r.stdout, r.stderr);
        let v = r.json();
        assert_eq!(v["selection"]["matched"], 0);
        assert_eq!(v["results"], json!([]));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unknown_tag_key_is_nothing_matched() {
    let server = MockServer::start().await;
    Mock::given(tc_action("DescribeInstances"))
        .respond_with(tc_err("InvalidParameterValue.TagKeyNotFound"))
        .mount(&server)
        .await;
    let r = tc_run("server", &server.uri(), &["--tag", "nope=1"]).await;
    assert_eq!(r.code, 4, "{}\n{}", r.stdout, r.stderr);
}

#[tokio::test(flavor = "multi_thread")]
async fn dry_run_lists_and_shows_the_stop_without_sending_it() {
    let server = MockServer::start().await;
    Mock::given(tc_action("DescribeInstances"))
        .respond_with(tc_ok(json!({"InstanceSet": [
            cvm("ins-aaaa0001", "ci-1", "RUNNING", &[("env", "dev")]),
            cvm("ins-bbbb0001", "ci-2", "SHUTDOWN", &[("env", "dev")]),
        ], "TotalCount": 2})))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(tc_action("StopInstances"))
        .respond_with(tc_ok(json!({})))
        .expect(0)
        .mount(&server)
        .await;
    let r = tc_run("server", &server.uri(), &["--name", "ci-*", "--dry-run"]).await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let v = r.json();
    assert_eq!(v["dry_run"], true);
    assert_eq!(status_of(&v, "ins-aaaa0001"), "accepted");
    assert_eq!(status_of(&v, "ins-bbbb0001"), "already_stopped");
    let shown = v["requests"].as_array().unwrap();
    assert_eq!(shown.len(), 1);
    assert_eq!(shown[0]["headers"]["X-TC-Action"], "StopInstances");
    assert!(shown[0]["body"].as_str().unwrap().contains("ins-aaaa0001"));
    assert!(!shown[0]["body"].as_str().unwrap().contains("ins-bbbb0001"));
    assert_eq!(shown[0]["credentials"], "configured");
}

#[tokio::test(flavor = "multi_thread")]
async fn dry_run_with_selectors_needs_credentials() {
    let server = MockServer::start().await;
    let r = tc_run_in(
        Sandbox::new(),
        "server",
        &server.uri(),
        &["--tag", "env=dev", "--dry-run"],
    )
    .await;
    assert_eq!(r.code, 3, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(r.json()["error"]["kind"], "config");
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn listing_throttled_then_recovered() {
    let server = MockServer::start().await;
    Mock::given(tc_action("DescribeInstances"))
        .respond_with(tc_err("RequestLimitExceeded"))
        .up_to_n_times(2)
        .expect(2)
        .mount(&server)
        .await;
    Mock::given(tc_action("DescribeInstances"))
        .respond_with(tc_ok(json!({"InstanceSet": [
            cvm("ins-aaaa0001", "ci-1", "RUNNING", &[("env", "dev")]),
        ], "TotalCount": 1})))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(tc_action("StopInstances"))
        .respond_with(tc_ok(json!({})))
        .expect(1)
        .mount(&server)
        .await;
    let r = tc_run("server", &server.uri(), &["--tag", "env=dev"]).await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(status_of(&r.json(), "ins-aaaa0001"), "stopping");
}

#[tokio::test(flavor = "multi_thread")]
async fn listing_failures_keep_their_exit_code() {
    for (code, exit) in [
        ("AuthFailure.SignatureFailure", 3),
        ("RequestLimitExceeded", 5),
    ] {
        let server = MockServer::start().await;
        Mock::given(tc_action("DescribeInstances"))
            .respond_with(tc_err(code))
            .mount(&server)
            .await;
        Mock::given(tc_action("StopInstances"))
            .respond_with(tc_ok(json!({})))
            .expect(0)
            .mount(&server)
            .await;
        let r = tc_run(
            "server",
            &server.uri(),
            &["--tag", "env=dev", "--retries", "1", "--ignore-missing"],
        )
        .await;
        assert_eq!(r.code, exit, "{code}: {}\n{}", r.stdout, r.stderr);
        let v = r.json();
        assert_eq!(v["error"]["code"], code);
        assert_eq!(v["selection"]["matched"], 0);
        assert!(!r.stdout.contains("select-secret-never-printed"));
    }
}

// ---- Tencent Batch ---------------------------------------------------------------

fn job(id: &str, name: &str, state: &str) -> Value {
    json!({"JobId": id, "JobName": name, "JobState": state, "Tags": [{"Key": "ci-run", "Value": "4711"}]})
}

#[tokio::test(flavor = "multi_thread")]
async fn batch_failed_interrupted_still_gets_terminate_and_finished_jobs_do_not() {
    let server = MockServer::start().await;
    Mock::given(tc_action("DescribeJobs"))
        .respond_with(tc_ok(json!({"JobSet": [
            job("job-aaaaaaa1", "train", "RUNNING"),
            job("job-aaaaaaa2", "train", "FAILED_INTERRUPTED"),
            job("job-aaaaaaa3", "train", "SUCCEED"),
            job("job-aaaaaaa4", "train", "FAILED"),
        ], "TotalCount": 4})))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(tc_action("TerminateJob"))
        .respond_with(tc_ok(json!({})))
        .expect(2)
        .mount(&server)
        .await;
    let r = tc_run("job", &server.uri(), &["--tag", "ci-run=4711"]).await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let v = r.json();
    assert_eq!(status_of(&v, "job-aaaaaaa1"), "stopping");
    assert_eq!(status_of(&v, "job-aaaaaaa2"), "stopping");
    assert_eq!(status_of(&v, "job-aaaaaaa3"), "already_stopped");
    assert_eq!(status_of(&v, "job-aaaaaaa4"), "already_stopped");
    let reqs = server.received_requests().await.unwrap();
    assert_eq!(
        body(&reqs[0]),
        json!({"Filters": [{"Name": "tag:ci-run", "Values": ["4711"]}], "Offset": 0, "Limit": 100})
    );
    let mut terminated: Vec<String> = reqs
        .iter()
        .filter(|r| r.headers.get("X-TC-Action").unwrap() == "TerminateJob")
        .map(|r| body(r)["JobId"].as_str().unwrap().to_string())
        .collect();
    terminated.sort();
    assert_eq!(terminated, ["job-aaaaaaa1", "job-aaaaaaa2"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn batch_pages_by_offset() {
    let server = MockServer::start().await;
    let page1: Vec<Value> = (0..100)
        .map(|i| job(&format!("job-p1{i:06}"), "other", "SUCCEED"))
        .collect();
    Mock::given(tc_action("DescribeJobs"))
        .and(wiremock::matchers::body_partial_json(json!({"Offset": 0})))
        .respond_with(tc_ok(json!({"JobSet": page1, "TotalCount": 101})))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(tc_action("DescribeJobs"))
        .and(wiremock::matchers::body_partial_json(
            json!({"Offset": 100}),
        ))
        .respond_with(tc_ok(
            json!({"JobSet": [job("job-last0001", "nightly-7", "RUNNING")], "TotalCount": 101}),
        ))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(tc_action("TerminateJob"))
        .respond_with(tc_ok(json!({})))
        .expect(1)
        .mount(&server)
        .await;
    let r = tc_run("job", &server.uri(), &["--name", "nightly-*"]).await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(ids_of(&r.json()), ["job-last0001"]);
}

// ---- Huawei ECS ------------------------------------------------------------------

const PID: &str = "0a1b2c3d4e5f60718293a4b5c6d7e8f9";

fn huawei() -> Sandbox {
    Sandbox::new()
        .env("HUAWEICLOUD_SDK_AK", "AKSELECTHUAWEI01")
        .env("HUAWEICLOUD_SDK_SK", "huawei-select-secret-never-printed")
}

fn uuid(page: usize, i: usize) -> String {
    format!("616fb98f-46ca-475e-{page:04x}-{i:012x}")
}

fn ecs(id: &str, name: &str, status: &str, task: Option<&str>, tags: &[&str]) -> Value {
    json!({"id": id, "name": name, "status": status, "OS-EXT-STS:task_state": task, "tags": tags})
}

async fn hw_run(uri: &str, extra: &[&str]) -> Run {
    let mut a = strs(&[
        "server",
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
        "500",
    ]);
    a.extend(strs(extra));
    huawei().run_async(&a).await
}

/// `offset` is a page number: 1, 2, 3 for three pages of 1000, 1000 and 2.
#[tokio::test(flavor = "multi_thread")]
async fn huawei_pages_by_page_number_and_rechecks_contains_tags() {
    let server = MockServer::start().await;
    let list_path = format!("/v1/{PID}/cloudservers/detail");
    for page in 1..=3usize {
        let servers: Vec<Value> = if page < 3 {
            (0..1000)
                .map(|i| {
                    // "contains": env=dev also finds env=dev2 and env=devel.
                    let tag = if i % 2 == 0 { "env=dev2" } else { "env=devel" };
                    ecs(&uuid(page, i), "ci-x", "ACTIVE", None, &[tag])
                })
                .collect()
        } else {
            vec![
                ecs(&uuid(3, 1), "ci-1", "ACTIVE", None, &["env=dev", "solo"]),
                ecs(
                    &uuid(3, 2),
                    "ci-2",
                    "ACTIVE",
                    Some("powering-off"),
                    &["env=dev", "solo"],
                ),
                ecs(&uuid(3, 3), "ci-3", "SHUTOFF", None, &["env=dev"]),
            ]
        };
        Mock::given(method("GET"))
            .and(path(list_path.as_str()))
            .and(query_param("offset", page.to_string()))
            .and(query_param("limit", "1000"))
            .and(query_param("tags", "env=dev"))
            .and(query_param("enterprise_project_id", "all_granted_eps"))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_json(json!({"count": 2003, "servers": servers})),
            )
            .expect(1)
            .mount(&server)
            .await;
    }
    Mock::given(method("POST"))
        .and(path(format!("/v1/{PID}/cloudservers/action")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"job_id": "j1"})))
        .expect(1)
        .mount(&server)
        .await;
    let r = hw_run(&server.uri(), &["--tag", "env=dev", "--tag", "solo"]).await;
    // Only two servers carry both tags (AND); the second is already powering off.
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let v = r.json();
    assert_eq!(ids_of(&v), [uuid(3, 1), uuid(3, 2)]);
    assert_eq!(status_of(&v, &uuid(3, 2)), "stopping");
    assert_eq!(v["results"][0]["name"], "ci-1");
    assert_eq!(v["results"][0]["state_before"], "ACTIVE");
    let reqs = server.received_requests().await.unwrap();
    let post = reqs.iter().find(|r| r.method.as_str() == "POST").unwrap();
    assert_eq!(
        body(post)["os-stop"]["servers"],
        json!([{"id": uuid(3, 1)}])
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn huawei_stopping_and_shutoff_get_nothing_sent() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!("/v1/{PID}/cloudservers/detail")))
        .and(query_param("status", "SHUTOFF"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"count": 2, "servers": [
                ecs(&uuid(1, 1), "ci-1", "SHUTOFF", None, &["env=dev"]),
                // Widened status filter: a RESIZE server comes back too.
                ecs(&uuid(1, 2), "ci-2", "RESIZE", None, &["env=dev"]),
            ]})),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"job_id": "j1"})))
        .expect(0)
        .mount(&server)
        .await;
    let r = hw_run(&server.uri(), &["--name", "ci-*", "--state", "stopped"]).await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let v = r.json();
    assert_eq!(ids_of(&v), [uuid(1, 1)]);
    assert_eq!(status_of(&v, &uuid(1, 1)), "already_stopped");
}

/// `--wait` follows every match until it is stopped: the ones it stops (ECS: through
/// the stop's job) and the ones found already powering off, for which nothing is sent
/// and which are read (ShowServer) until SHUTOFF — never left as "stopping" under a
/// green exit.
#[tokio::test(flavor = "multi_thread")]
async fn huawei_wait_follows_matches_already_powering_off() {
    let server = MockServer::start().await;
    let (running, stopping) = (uuid(1, 1), uuid(1, 2));
    Mock::given(method("GET"))
        .and(path(format!("/v1/{PID}/cloudservers/detail")))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"count": 2, "servers": [
                ecs(&running, "ci-1", "ACTIVE", None, &["env=dev"]),
                ecs(&stopping, "ci-2", "ACTIVE", Some("powering-off"), &["env=dev"]),
            ]})),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(format!("/v1/{PID}/cloudservers/action")))
        .and(wiremock::matchers::body_json(
            json!({"os-stop": {"type": "SOFT", "servers": [{"id": running}]}}),
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"job_id": "j1"})))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("/v1/{PID}/jobs/j1")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "status": "SUCCESS", "job_id": "j1", "job_type": "batchStopServers",
            "entities": {"sub_jobs_total": 1, "sub_jobs": [
                {"status": "SUCCESS", "entities": {"server_id": running}}]}})))
        .expect(1)
        .mount(&server)
        .await;
    let show = format!("/v1/{PID}/cloudservers/{stopping}");
    Mock::given(method("GET"))
        .and(path(show.clone()))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"server":
            {"id": stopping, "status": "ACTIVE", "OS-EXT-STS:task_state": "powering-off"}})))
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(show))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"server":
            {"id": stopping, "status": "SHUTOFF", "OS-EXT-STS:task_state": null}})))
        .expect(1)
        .mount(&server)
        .await;
    let r = hw_run(
        &server.uri(),
        &["--tag", "env=dev", "--wait", "--poll-interval", "50ms"],
    )
    .await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let v = r.json();
    assert_eq!(status_of(&v, &running), "stopped");
    assert_eq!(status_of(&v, &stopping), "stopped");
}

#[tokio::test(flavor = "multi_thread")]
async fn huawei_auth_failure_while_listing_is_3_and_nothing_is_stopped() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({
            "error_code": "APIGW.0301", "error_msg": "verify aksk signature fail"})))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"job_id": "j1"})))
        .expect(0)
        .mount(&server)
        .await;
    let r = hw_run(&server.uri(), &["--tag", "env=dev"]).await;
    assert_eq!(r.code, 3, "{}\n{}", r.stdout, r.stderr);
    assert!(!r.stdout.contains("huawei-select-secret-never-printed"));
}

// ---- QingCloud IaaS --------------------------------------------------------------

fn qingcloud() -> Sandbox {
    Sandbox::new()
        .env("QINGCLOUD_ACCESS_KEY_ID", "QYSELECTTEST01")
        .env(
            "QINGCLOUD_SECRET_ACCESS_KEY",
            "qc-select-secret-never-printed",
        )
}

fn qc_ok(data: Value) -> ResponseTemplate {
    let mut d = data;
    d["ret_code"] = 0.into();
    ResponseTemplate::new(200).set_body_json(d)
}

fn inst(id: &str, name: &str, status: &str, tags: &[&str]) -> Value {
    let tags: Vec<Value> = tags.iter().map(|t| json!({"tag_name": t})).collect();
    json!({"instance_id": id, "instance_name": name, "status": status, "transition_status": "", "tags": tags})
}

async fn qc_run(args: &[&str]) -> Run {
    qingcloud().run_async(&strs(args)).await
}

fn iaas_args<'a>(uri: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut a = vec![
        "server",
        "stop",
        "-p",
        "qingcloud",
        "--zone",
        "pek3a",
        "--endpoint",
        uri,
        "--rate",
        "500",
    ];
    a.extend_from_slice(extra);
    a
}

/// DescribeTags' search is "contains": only the exact name counts; each tag is
/// listed on its own and the sets are intersected (AND); DescribeInstances is paged.
#[tokio::test(flavor = "multi_thread")]
async fn qingcloud_tags_are_exact_names_intersected_and_paged() {
    let server = MockServer::start().await;
    Mock::given(query_param("action", "DescribeTags"))
        .and(query_param("search_word", "env=dev"))
        .respond_with(qc_ok(json!({"tag_set": [
            {"tag_id": "tag-aaaaaaa1", "tag_name": "env=dev"},
            {"tag_id": "tag-leak0001", "tag_name": "env=dev-old"},
        ], "total_count": 2})))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(query_param("action", "DescribeTags"))
        .and(query_param("search_word", "nightly"))
        .respond_with(qc_ok(json!({"tag_set": [
            {"tag_id": "tag-bbbbbbb1", "tag_name": "nightly"},
        ], "total_count": 1})))
        .expect(1)
        .mount(&server)
        .await;
    let page1: Vec<Value> = (0..100)
        .map(|i| inst(&format!("i-p{i:07}"), "web", "running", &["env=dev"]))
        .collect();
    Mock::given(query_param("action", "DescribeInstances"))
        .and(query_param("tags.1", "tag-aaaaaaa1"))
        .and(query_param("offset", "0"))
        .respond_with(qc_ok(json!({"instance_set": page1, "total_count": 102})))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(query_param("action", "DescribeInstances"))
        .and(query_param("tags.1", "tag-aaaaaaa1"))
        .and(query_param("offset", "100"))
        .respond_with(qc_ok(json!({"instance_set": [
            inst("i-both0001", "web", "running", &["env=dev", "nightly"]),
            inst("i-both0002", "web", "stopped", &["env=dev", "nightly"]),
        ], "total_count": 102})))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(query_param("action", "DescribeInstances"))
        .and(query_param("tags.1", "tag-bbbbbbb1"))
        .respond_with(qc_ok(json!({"instance_set": [
            inst("i-both0001", "web", "running", &["env=dev", "nightly"]),
            inst("i-both0002", "web", "stopped", &["env=dev", "nightly"]),
            inst("i-only0001", "web", "running", &["nightly"]),
        ], "total_count": 3})))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(query_param("action", "DescribeInstances"))
        .and(query_param("tags.1", "tag-leak0001"))
        .respond_with(qc_ok(json!({"instance_set": [], "total_count": 0})))
        .expect(0)
        .mount(&server)
        .await;
    Mock::given(query_param("action", "StopInstances"))
        .respond_with(qc_ok(json!({"job_id": "j-ybnoeitr"})))
        .expect(1)
        .mount(&server)
        .await;
    let uri = server.uri();
    let r = qc_run(&iaas_args(&uri, &["--tag", "env=dev", "--tag", "nightly"])).await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let v = r.json();
    assert_eq!(ids_of(&v), ["i-both0001", "i-both0002"]);
    assert_eq!(status_of(&v, "i-both0001"), "stopping");
    assert_eq!(status_of(&v, "i-both0002"), "already_stopped");
    assert_eq!(
        v["selection"]["tags"],
        json!({"env=dev": null, "nightly": null})
    );
    let reqs = server.received_requests().await.unwrap();
    let stop = reqs
        .iter()
        .find(|r| r.url.query().unwrap().contains("action=StopInstances"))
        .unwrap();
    let q = stop.url.query().unwrap();
    assert!(q.contains("instances.1=i-both0001"), "{q}");
    assert!(!q.contains("instances.2"), "{q}");
}

/// A tag name with no exact match: nothing matched, and DescribeInstances is never
/// sent (unfiltered it would list every instance).
#[tokio::test(flavor = "multi_thread")]
async fn qingcloud_tag_without_exact_match_never_lists_instances() {
    let server = MockServer::start().await;
    Mock::given(query_param("action", "DescribeTags"))
        .respond_with(qc_ok(json!({"tag_set": [
            {"tag_id": "tag-leak0001", "tag_name": "env=dev-old"},
        ], "total_count": 1})))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(query_param("action", "DescribeInstances"))
        .respond_with(qc_ok(json!({"instance_set": [
            inst("i-aaaaaaa1", "web", "running", &[]),
        ], "total_count": 1})))
        .expect(0)
        .mount(&server)
        .await;
    Mock::given(query_param("action", "StopInstances"))
        .respond_with(qc_ok(json!({"job_id": "j-ybnoeitr"})))
        .expect(0)
        .mount(&server)
        .await;
    let uri = server.uri();
    let r = qc_run(&iaas_args(&uri, &["--tag", "env=dev"])).await;
    assert_eq!(r.code, 4, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(r.json()["selection"]["matched"], 0);
}

// ---- QingCloud HPC ---------------------------------------------------------------

/// Without `--cluster-id` the zone's clusters are listed first; each cluster's jobs
/// are stopped with their own cluster id.
#[tokio::test(flavor = "multi_thread")]
async fn qingcloud_hpc_lists_clusters_then_jobs_and_stops_per_cluster() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/cluster/list"))
        .respond_with(qc_ok(json!({"cluster_set": [
            {"cluster_id": "ehpc-aaaaaaa1"}, {"cluster_id": "hpc-bbbbbbb1"}], "total_count": 2})))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/job/list"))
        .and(query_param("cluster_id", "ehpc-aaaaaaa1"))
        .respond_with(qc_ok(json!({"hpc_job_set": [
            {"hpcjob_uuid": "hpcjob-aaaaaaa1", "job_name": "sim-1", "job_status": "running"},
            {"hpcjob_uuid": "hpcjob-aaaaaaa2", "job_name": "sim-2", "job_status": "finished"},
            {"hpcjob_uuid": "hpcjob-aaaaaaa3", "job_name": "other", "job_status": "running"},
        ], "total_count": 3})))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/job/list"))
        .and(query_param("cluster_id", "hpc-bbbbbbb1"))
        .respond_with(qc_ok(json!({"hpc_job_set": [
            {"hpcjob_uuid": "hpcjob-bbbbbbb1", "job_name": "sim-3", "job_status": "pending"},
        ], "total_count": 1})))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/job/stopJobs"))
        .respond_with(qc_ok(json!({"job_uuid": "j-942yi1ah8hd"})))
        .expect(2)
        .mount(&server)
        .await;
    let uri = server.uri();
    let r = qc_run(&[
        "job",
        "stop",
        "-p",
        "qingcloud",
        "--zone",
        "jn1a",
        "--name",
        "sim-*",
        "--endpoint",
        &uri,
        "--rate",
        "500",
    ])
    .await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let v = r.json();
    assert_eq!(
        ids_of(&v),
        ["hpcjob-aaaaaaa1", "hpcjob-aaaaaaa2", "hpcjob-bbbbbbb1"]
    );
    assert_eq!(status_of(&v, "hpcjob-aaaaaaa2"), "already_stopped");
    let reqs = server.received_requests().await.unwrap();
    let mut stops: Vec<Value> = reqs
        .iter()
        .filter(|r| r.url.path() == "/api/job/stopJobs")
        .map(|r| {
            let b = body(r);
            json!([b["cluster_id"], b["job_ids"]])
        })
        .collect();
    stops.sort_by_key(|s| s.to_string());
    assert_eq!(
        stops,
        vec![
            json!(["ehpc-aaaaaaa1", ["hpcjob-aaaaaaa1"]]),
            json!(["hpc-bbbbbbb1", ["hpcjob-bbbbbbb1"]]),
        ]
    );
}

// ---- usage errors: nothing sent ---------------------------------------------------

#[test]
fn selector_usage_errors_are_2_and_send_nothing() {
    let cases: &[&[&str]] = &[
        // Selectors and ids together.
        &[
            "server",
            "stop",
            "-p",
            "tencent",
            "--region",
            "ap-guangzhou",
            "--server-id",
            "ins-aaaaaaa1",
            "--tag",
            "env=dev",
        ],
        // --state alone is not a selector.
        &[
            "server",
            "stop",
            "-p",
            "tencent",
            "--region",
            "ap-guangzhou",
            "--state",
            "running",
        ],
        // QingCloud HPC has no tags.
        &[
            "job",
            "stop",
            "-p",
            "qingcloud",
            "--zone",
            "jn1a",
            "--tag",
            "env",
        ],
        // A state word the provider does not have.
        &[
            "server",
            "stop",
            "-p",
            "huawei",
            "--region",
            "cn-north-4",
            "--tag",
            "a=b",
            "--state",
            "RUNNING",
        ],
        // A malformed glob.
        &[
            "server",
            "stop",
            "-p",
            "tencent",
            "--region",
            "ap-guangzhou",
            "--name",
            "ci-[",
        ],
        // An empty tag key.
        &[
            "server",
            "stop",
            "-p",
            "tencent",
            "--region",
            "ap-guangzhou",
            "--tag",
            "=x",
        ],
    ];
    for args in cases {
        let r = tencent()
            .env("CLOUDSTOP_TENCENT_ENDPOINT", &common::refused_url())
            .run(args);
        assert_eq!(r.code, 2, "{args:?}: {}\n{}", r.stdout, r.stderr);
        let v = r.json();
        assert_eq!(v["error"]["kind"], "usage", "{args:?}");
    }
}
