//! Several regions or zones in one run (`--region a,b`, `--zone a,b`) through the
//! built binary against wiremock: each location listed and stopped with its own
//! region, `location` on every result, `locations_failed`, the exit code combining
//! them, `--max-matches` across locations. SPEC "Several regions or zones at once".

mod common;

use common::{Run, Sandbox};
use serde_json::{json, Value};
use wiremock::matchers::{header, query_param};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

fn strs(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

fn tencent() -> Sandbox {
    Sandbox::new()
        .env("TENCENTCLOUD_SECRET_ID", "AKIDLOCATIONS01")
        .env("TENCENTCLOUD_SECRET_KEY", "locations-secret-never-printed")
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

fn cvm(id: &str, state: &str) -> Value {
    json!({"InstanceId": id, "InstanceName": format!("dev-{id}"), "InstanceState": state,
           "Tags": [{"Key": "env", "Value": "dev"}]})
}

async fn list_in(server: &MockServer, region: &str, set: Vec<Value>) {
    let n = set.len();
    Mock::given(header("X-TC-Action", "DescribeInstances"))
        .and(header("X-TC-Region", region))
        .respond_with(tc_ok(json!({"InstanceSet": set, "TotalCount": n})))
        .expect(1)
        .mount(server)
        .await;
}

async fn tc_run(uri: &str, regions: &str, extra: &[&str]) -> Run {
    let mut a = strs(&[
        "server",
        "stop",
        "-p",
        "tencent",
        "--region",
        regions,
        "--endpoint",
        uri,
        "--rate",
        "500",
        "--tag",
        "env=dev",
    ]);
    a.extend(strs(extra));
    tencent().run_async(&a).await
}

fn header_of<'a>(r: &'a Request, h: &str) -> &'a str {
    r.headers.get(h).unwrap().to_str().unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn several_regions_one_failing() {
    let server = MockServer::start().await;
    list_in(
        &server,
        "ap-guangzhou",
        vec![
            cvm("ins-gz000002", "RUNNING"),
            cvm("ins-gz000001", "RUNNING"),
        ],
    )
    .await;
    list_in(
        &server,
        "ap-shanghai",
        vec![
            cvm("ins-sh000001", "RUNNING"),
            cvm("ins-sh000002", "STOPPED"),
        ],
    )
    .await;
    Mock::given(header("X-TC-Action", "DescribeInstances"))
        .and(header("X-TC-Region", "ap-beijing"))
        .respond_with(tc_err("InternalError"))
        .mount(&server)
        .await;
    Mock::given(header("X-TC-Action", "StopInstances"))
        .respond_with(tc_ok(json!({})))
        .expect(2)
        .mount(&server)
        .await;
    let r = tc_run(
        &server.uri(),
        "ap-shanghai,ap-guangzhou,ap-beijing",
        &["--retries", "0"],
    )
    .await;
    // The failed region is transient (5); the others succeeded.
    assert_eq!(r.code, 5, "{}\n{}", r.stdout, r.stderr);
    let v = r.json();
    assert_eq!(
        v["location"],
        json!({"regions": ["ap-shanghai", "ap-guangzhou", "ap-beijing"]})
    );
    let failed = v["locations_failed"].as_array().unwrap();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0]["location"], json!({"region": "ap-beijing"}));
    assert_eq!(failed[0]["error"]["code"], "InternalError");
    let got: Vec<(String, String, String)> = v["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["location"]["region"].as_str().unwrap().to_string(),
                r["id"].as_str().unwrap().to_string(),
                r["status"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let want: Vec<(String, String, String)> = [
        ("ap-guangzhou", "ins-gz000001", "stopping"),
        ("ap-guangzhou", "ins-gz000002", "stopping"),
        ("ap-shanghai", "ins-sh000001", "stopping"),
        ("ap-shanghai", "ins-sh000002", "already_stopped"),
    ]
    .iter()
    .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
    .collect();
    assert_eq!(got, want);
    assert_eq!(v["ok"], false);
    // Each region's stop went with its own region and only its own instances.
    let reqs = server.received_requests().await.unwrap();
    let mut stops: Vec<(String, Value)> = reqs
        .iter()
        .filter(|r| header_of(r, "X-TC-Action") == "StopInstances")
        .map(|r| {
            let b: Value = serde_json::from_slice(&r.body).unwrap();
            (
                header_of(r, "X-TC-Region").to_string(),
                b["InstanceIds"].clone(),
            )
        })
        .collect();
    stops.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        stops,
        vec![
            (
                "ap-guangzhou".to_string(),
                json!(["ins-gz000001", "ins-gz000002"])
            ),
            ("ap-shanghai".to_string(), json!(["ins-sh000001"])),
        ]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn max_matches_counts_across_regions_and_nothing_is_sent() {
    let server = MockServer::start().await;
    list_in(
        &server,
        "ap-guangzhou",
        vec![
            cvm("ins-gz000001", "RUNNING"),
            cvm("ins-gz000002", "RUNNING"),
        ],
    )
    .await;
    list_in(
        &server,
        "ap-shanghai",
        vec![
            cvm("ins-sh000001", "RUNNING"),
            cvm("ins-sh000002", "RUNNING"),
        ],
    )
    .await;
    Mock::given(header("X-TC-Action", "StopInstances"))
        .respond_with(tc_ok(json!({})))
        .expect(0)
        .mount(&server)
        .await;
    let r = tc_run(
        &server.uri(),
        "ap-shanghai,ap-guangzhou",
        &["--max-matches", "3"],
    )
    .await;
    assert_eq!(r.code, 2, "{}\n{}", r.stdout, r.stderr);
    let v = r.json();
    assert!(v["error"]["message"]
        .as_str()
        .unwrap()
        .contains("--max-matches 4"));
    assert_eq!(
        v["selection"]["matched_ids"],
        json!([
            "ins-gz000001",
            "ins-gz000002",
            "ins-sh000001",
            "ins-sh000002"
        ])
    );
    assert_eq!(v["locations_failed"], json!([]));
}

#[tokio::test(flavor = "multi_thread")]
async fn text_output_groups_by_region() {
    let server = MockServer::start().await;
    list_in(
        &server,
        "ap-guangzhou",
        vec![cvm("ins-gz000001", "STOPPED")],
    )
    .await;
    list_in(&server, "ap-shanghai", vec![cvm("ins-sh000001", "STOPPED")]).await;
    let r = tc_run(&server.uri(), "ap-shanghai,ap-guangzhou", &["-o", "text"]).await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let gz = r
        .stdout
        .find("ap-guangzhou  ins-gz000001")
        .expect(&r.stdout);
    let sh = r.stdout.find("ap-shanghai  ins-sh000001").expect(&r.stdout);
    assert!(gz < sh, "{}", r.stdout);
}

#[tokio::test(flavor = "multi_thread")]
async fn qingcloud_zones_are_listed_and_stopped_each_with_its_zone() {
    let server = MockServer::start().await;
    for (zone, id) in [("pek3a", "i-pek00001"), ("sh1a", "i-sh1a0001")] {
        Mock::given(query_param("action", "DescribeInstances"))
            .and(query_param("zone", zone))
            .respond_with(
                ResponseTemplate::new(200).set_body_json(json!({"ret_code": 0,
                "instance_set": [{"instance_id": id, "instance_name": "ci-1", "status": "running",
                                  "transition_status": ""}], "total_count": 1})),
            )
            .expect(1)
            .mount(&server)
            .await;
        Mock::given(query_param("action", "StopInstances"))
            .and(query_param("zone", zone))
            .and(query_param("instances.1", id))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_json(json!({"ret_code": 0, "job_id": "j-ybnoeitr"})),
            )
            .expect(1)
            .mount(&server)
            .await;
    }
    let uri = server.uri();
    let r = Sandbox::new()
        .env("QINGCLOUD_ACCESS_KEY_ID", "QYLOCATIONS01")
        .env("QINGCLOUD_SECRET_ACCESS_KEY", "qc-locations-secret")
        .run_async(&strs(&[
            "server",
            "stop",
            "-p",
            "qingcloud",
            "--zone",
            "sh1a,pek3a",
            "--name",
            "ci-*",
            "--endpoint",
            &uri,
            "--rate",
            "500",
        ]))
        .await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let v = r.json();
    assert_eq!(v["location"], json!({"zones": ["sh1a", "pek3a"]}));
    assert_eq!(v["results"][0]["location"], json!({"zone": "pek3a"}));
    assert_eq!(v["results"][1]["location"], json!({"zone": "sh1a"}));
    assert_eq!(v["locations_failed"], json!([]));
}

#[test]
fn ids_with_several_locations_are_usage_errors() {
    for args in [
        &[
            "server",
            "stop",
            "-p",
            "tencent",
            "--region",
            "ap-guangzhou,ap-shanghai",
            "--server-id",
            "ins-aaaaaaa1",
        ][..],
        &[
            "job",
            "stop",
            "-p",
            "qingcloud",
            "--zone",
            "all",
            "--cluster-id",
            "ehpc-8jqdq0mz",
            "--job-id",
            "hpcjob-bp6rj09f",
        ][..],
        &[
            "server",
            "stop",
            "-p",
            "huawei",
            "--region",
            "cn-north-4,cn-east-3",
            "--tag",
            "a=b",
            "--project-id",
            "0a1b2c3d4e5f60718293a4b5c6d7e8f9",
        ][..],
        &[
            "server",
            "stop",
            "-p",
            "tencent",
            "--region",
            "ap-guangzhou,,ap-shanghai",
            "--tag",
            "a=b",
        ][..],
    ] {
        let r = tencent().run(args);
        assert_eq!(r.code, 2, "{args:?}: {}\n{}", r.stdout, r.stderr);
        assert_eq!(r.json()["error"]["kind"], "usage");
    }
}

/// `--region all`: the regions the region service lists as AVAILABLE for CVM.
#[tokio::test(flavor = "multi_thread")]
async fn region_all_lists_the_available_regions_first() {
    let server = MockServer::start().await;
    Mock::given(header("X-TC-Action", "DescribeRegions"))
        .and(wiremock::matchers::body_json(json!({"Product": "cvm"})))
        .respond_with(tc_ok(json!({"RegionSet": [
            {"Region": "ap-shanghai", "RegionName": "Shanghai", "RegionState": "AVAILABLE"},
            {"Region": "ap-guangzhou", "RegionName": "Guangzhou", "RegionState": "AVAILABLE"},
            {"Region": "ap-closed", "RegionName": "Closed", "RegionState": "UNAVAILABLE"},
        ], "TotalCount": 3})))
        .expect(1)
        .mount(&server)
        .await;
    list_in(
        &server,
        "ap-guangzhou",
        vec![cvm("ins-gz000001", "RUNNING")],
    )
    .await;
    list_in(&server, "ap-shanghai", vec![]).await;
    Mock::given(header("X-TC-Action", "StopInstances"))
        .and(header("X-TC-Region", "ap-guangzhou"))
        .respond_with(tc_ok(json!({})))
        .expect(1)
        .mount(&server)
        .await;
    let r = tc_run(&server.uri(), "all", &[]).await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let v = r.json();
    assert_eq!(
        v["location"],
        json!({"regions": ["ap-guangzhou", "ap-shanghai"]})
    );
    assert_eq!(v["results"][0]["id"], "ins-gz000001");
    assert_eq!(
        v["results"][0]["location"],
        json!({"region": "ap-guangzhou"})
    );
}

/// Huawei: each region at its own ECS host (the SDK's HUAWEICLOUD_SDK_REGION_ECS_*),
/// each with its own project looked up from IAM.
#[tokio::test(flavor = "multi_thread")]
async fn huawei_regions_each_at_their_own_host_and_project() {
    let iam = MockServer::start().await;
    let projects = [
        ("cn-north-4", "0a1b2c3d4e5f60718293a4b5c6d7e8f9"),
        ("cn-east-3", "ffffffffffffffffffffffffffff0001"),
    ];
    let mut sb = Sandbox::new()
        .env("HUAWEICLOUD_SDK_AK", "AKLOCATIONSHW01")
        .env("HUAWEICLOUD_SDK_SK", "hw-locations-secret")
        .env("HUAWEICLOUD_SDK_IAM_ENDPOINT", &iam.uri());
    let mut ecs = Vec::new();
    for (i, (region, pid)) in projects.iter().enumerate() {
        Mock::given(wiremock::matchers::path("/v3/projects"))
            .and(query_param("name", *region))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_json(json!({"projects": [{"id": pid, "name": region}]})),
            )
            .expect(1)
            .mount(&iam)
            .await;
        let server = MockServer::start().await;
        let id = format!("616fb98f-46ca-475e-917e-00000000000{i}");
        Mock::given(wiremock::matchers::path(format!(
            "/v1/{pid}/cloudservers/detail"
        )))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"count": 1, "servers": [
                {"id": id, "name": "dev-1", "status": "ACTIVE", "tags": ["env=dev"]}]})),
        )
        .expect(1)
        .mount(&server)
        .await;
        Mock::given(wiremock::matchers::path(format!(
            "/v1/{pid}/cloudservers/action"
        )))
        .and(wiremock::matchers::body_partial_json(
            json!({"os-stop": {"servers": [{"id": id}]}}),
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"job_id": "j"})))
        .expect(1)
        .mount(&server)
        .await;
        let var = format!(
            "HUAWEICLOUD_SDK_REGION_ECS_{}",
            region.to_uppercase().replace('-', "_")
        );
        sb = sb.env(&var, &server.uri());
        ecs.push(server);
    }
    let r = sb
        .run_async(&strs(&[
            "server",
            "stop",
            "-p",
            "huawei",
            "--region",
            "cn-north-4,cn-east-3",
            "--tag",
            "env=dev",
        ]))
        .await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let v = r.json();
    assert_eq!(v["results"].as_array().unwrap().len(), 2);
    assert_eq!(v["results"][0]["location"], json!({"region": "cn-east-3"}));
    assert_eq!(v["results"][1]["location"], json!({"region": "cn-north-4"}));
}

/// A Huawei sandbox with IAM at `iam`, a project per region of `projects` (`None`:
/// IAM lists none there) and each region's ECS at its own mock server, which lists
/// one `env=dev` server and expects its stop once (a region without a project: nothing).
async fn huawei_regions(
    iam: &MockServer,
    projects: &[(&str, Option<&str>)],
) -> (Sandbox, Vec<MockServer>) {
    huawei_regions_listed(iam, projects, false).await
}

/// As [`huawei_regions`]; with `listed_once`, IAM also answers the unfiltered
/// `GET /v3/projects` with every project (a sub-project too), once, and the
/// lookups by name are not expected at all.
async fn huawei_regions_listed(
    iam: &MockServer,
    projects: &[(&str, Option<&str>)],
    listed_once: bool,
) -> (Sandbox, Vec<MockServer>) {
    if listed_once {
        let mut all: Vec<Value> = projects
            .iter()
            .filter_map(|(region, pid)| Some(json!({"id": (*pid)?, "name": region})))
            .collect();
        all.push(json!({"id": "eeeeeeeeeeeeeeeeeeeeeeeeeeee0002", "name": "cn-north-4_dev"}));
        Mock::given(wiremock::matchers::path("/v3/projects"))
            .and(wiremock::matchers::query_param_is_missing("name"))
            .respond_with(ResponseTemplate::new(200).set_body_json(
                json!({"projects": all, "links": {"self": "https://iam/v3/projects"}}),
            ))
            .expect(1)
            .mount(iam)
            .await;
    }
    let mut sb = Sandbox::new()
        .env("HUAWEICLOUD_SDK_AK", "AKLOCATIONSHW01")
        .env("HUAWEICLOUD_SDK_SK", "hw-locations-secret")
        .env("HUAWEICLOUD_SDK_IAM_ENDPOINT", &iam.uri());
    let mut ecs = Vec::new();
    for (i, (region, pid)) in projects.iter().enumerate() {
        let listed: Vec<Value> = pid
            .iter()
            .map(|p| json!({"id": p, "name": region}))
            .collect();
        // Listed once, a region missing from the account's projects is still asked
        // for by name (and IAM lists none there either).
        let by_name = if listed_once && pid.is_some() { 0 } else { 1 };
        Mock::given(wiremock::matchers::path("/v3/projects"))
            .and(query_param("name", *region))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({"projects": listed})))
            .expect(by_name)
            .mount(iam)
            .await;
        let server = MockServer::start().await;
        match pid {
            Some(pid) => {
                let id = format!("616fb98f-46ca-475e-917e-00000000000{i}");
                Mock::given(wiremock::matchers::path(format!(
                    "/v1/{pid}/cloudservers/detail"
                )))
                .respond_with(
                    ResponseTemplate::new(200).set_body_json(json!({"count": 1, "servers": [
                        {"id": id, "name": "dev-1", "status": "ACTIVE", "tags": ["env=dev"]}]})),
                )
                .expect(1)
                .mount(&server)
                .await;
                Mock::given(wiremock::matchers::path(format!(
                    "/v1/{pid}/cloudservers/action"
                )))
                .and(wiremock::matchers::body_partial_json(
                    json!({"os-stop": {"servers": [{"id": id}]}}),
                ))
                .respond_with(ResponseTemplate::new(200).set_body_json(json!({"job_id": "j"})))
                .expect(1)
                .mount(&server)
                .await;
            }
            None => {
                Mock::given(wiremock::matchers::any())
                    .respond_with(ResponseTemplate::new(500))
                    .expect(0)
                    .mount(&server)
                    .await;
            }
        }
        let var = format!(
            "HUAWEICLOUD_SDK_REGION_ECS_{}",
            region.to_uppercase().replace('-', "_")
        );
        sb = sb.env(&var, &server.uri());
        ecs.push(server);
    }
    (sb, ecs)
}

fn hw_args(regions: &str) -> Vec<String> {
    strs(&[
        "server", "stop", "-p", "huawei", "--region", regions, "--tag", "env=dev",
    ])
}

/// `--region all` for Huawei: IAM's public regions that ECS serves (the SDK's region
/// table), listed with a signed `GET /v3/regions`; a region where IAM lists no project
/// is skipped, not failed.
#[tokio::test(flavor = "multi_thread")]
async fn huawei_region_all_is_iam_public_regions_with_ecs() {
    let iam = MockServer::start().await;
    Mock::given(wiremock::matchers::method("GET"))
        .and(wiremock::matchers::path("/v3/regions"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"regions": [
            {"id": "cn-north-4", "type": "public", "parent_region_id": null},
            {"id": "cn-south-1", "type": "public"},
            {"id": "cn-east-3", "type": "public"},
            {"id": "xx-nowhere-1", "type": "public"},
            {"id": "ap-southeast-1", "type": "private"},
        ], "links": {"self": "https://iam.myhuaweicloud.com/v3/regions"}})))
        .expect(1)
        .mount(&iam)
        .await;
    let (sb, _ecs) = huawei_regions(
        &iam,
        &[
            ("cn-north-4", Some("0a1b2c3d4e5f60718293a4b5c6d7e8f9")),
            ("cn-east-3", Some("ffffffffffffffffffffffffffff0001")),
            ("cn-south-1", None),
        ],
    )
    .await;
    let r = sb.run_async(&hw_args("all")).await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let v = r.json();
    assert_eq!(
        v["location"],
        json!({"regions": ["cn-east-3", "cn-north-4", "cn-south-1"]})
    );
    assert_eq!(v["locations_failed"], json!([]));
    let got: Vec<(&str, &str)> = v["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["location"]["region"].as_str().unwrap(),
                r["status"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(got, [("cn-east-3", "stopping"), ("cn-north-4", "stopping")]);
    // The region list is AK/SK-signed like every IAM call, without a project.
    let reqs = iam.received_requests().await.unwrap();
    let list = reqs.iter().find(|r| r.url.path() == "/v3/regions").unwrap();
    assert!(header_of(list, "Authorization").starts_with(
        "SDK-HMAC-SHA256 Access=AKLOCATIONSHW01, SignedHeaders=host;x-sdk-date, Signature="
    ));
    assert!(list.headers.get("X-Project-Id").is_none());
}

/// Several regions share one IAM host and its pacing: the account's projects are
/// listed once, unfiltered, and every region takes its own from that answer (a
/// sub-project named `cn-north-4_dev` is not cn-north-4's); a region the answer does
/// not list is asked for by name, and skipped under `all` when IAM has none there.
/// (When the unfiltered call fails, as in the tests above where it is not mocked,
/// each region is asked for by name.)
#[tokio::test(flavor = "multi_thread")]
async fn huawei_regions_share_one_listing_of_the_accounts_projects() {
    let iam = MockServer::start().await;
    Mock::given(wiremock::matchers::path("/v3/regions"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"regions": [
            {"id": "cn-north-4", "type": "public"},
            {"id": "cn-east-3", "type": "public"},
            {"id": "cn-south-1", "type": "public"},
        ]})))
        .expect(1)
        .mount(&iam)
        .await;
    let (sb, _ecs) = huawei_regions_listed(
        &iam,
        &[
            ("cn-north-4", Some("0a1b2c3d4e5f60718293a4b5c6d7e8f9")),
            ("cn-east-3", Some("ffffffffffffffffffffffffffff0001")),
            ("cn-south-1", None),
        ],
        true,
    )
    .await;
    let r = sb.run_async(&hw_args("all")).await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let v = r.json();
    let got: Vec<(&str, &str)> = v["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["location"]["region"].as_str().unwrap(),
                r["status"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(got, [("cn-east-3", "stopping"), ("cn-north-4", "stopping")]);
    assert_eq!(v["locations_failed"], json!([]));
    let reqs = iam.received_requests().await.unwrap();
    let listing = reqs
        .iter()
        .find(|r| r.url.path() == "/v3/projects" && r.url.query().is_none())
        .expect("one unfiltered listing");
    assert!(header_of(listing, "Authorization").starts_with(
        "SDK-HMAC-SHA256 Access=AKLOCATIONSHW01, SignedHeaders=host;x-sdk-date, Signature="
    ));
}

/// Named explicitly, a region without a project is a failed location (exit 3), and
/// the other region's result stands.
#[tokio::test(flavor = "multi_thread")]
async fn huawei_named_region_without_project_fails() {
    let iam = MockServer::start().await;
    Mock::given(wiremock::matchers::path("/v3/regions"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"regions": []})))
        .expect(0)
        .mount(&iam)
        .await;
    let (sb, _ecs) = huawei_regions(
        &iam,
        &[
            ("cn-north-4", Some("0a1b2c3d4e5f60718293a4b5c6d7e8f9")),
            ("cn-south-1", None),
        ],
    )
    .await;
    let r = sb.run_async(&hw_args("cn-north-4,cn-south-1")).await;
    assert_eq!(r.code, 3, "{}\n{}", r.stdout, r.stderr);
    let v = r.json();
    let failed = v["locations_failed"].as_array().unwrap();
    assert_eq!(failed.len(), 1, "{}", r.stdout);
    assert_eq!(failed[0]["location"], json!({"region": "cn-south-1"}));
    assert_eq!(failed[0]["error"]["kind"], "config");
    assert_eq!(v["results"][0]["location"], json!({"region": "cn-north-4"}));
    assert_eq!(v["results"][0]["status"], "stopping");
}

/// IAM refusing the region list fails the run as a whole: nothing else is sent.
#[tokio::test(flavor = "multi_thread")]
async fn huawei_region_all_refused_by_iam_sends_nothing_else() {
    let iam = MockServer::start().await;
    Mock::given(wiremock::matchers::path("/v3/regions"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({
            "error_msg": "Incorrect IAM authentication information: verify aksk signature fail",
            "error_code": "APIGW.0301", "request_id": "r"})))
        .expect(1)
        .mount(&iam)
        .await;
    Mock::given(wiremock::matchers::path("/v3/projects"))
        .respond_with(ResponseTemplate::new(500))
        .expect(0)
        .mount(&iam)
        .await;
    let r = Sandbox::new()
        .env("HUAWEICLOUD_SDK_AK", "AKLOCATIONSHW01")
        .env("HUAWEICLOUD_SDK_SK", "hw-locations-secret")
        .env("HUAWEICLOUD_SDK_IAM_ENDPOINT", &iam.uri())
        .run_async(&hw_args("all"))
        .await;
    assert_eq!(r.code, 3, "{}\n{}", r.stdout, r.stderr);
    let v = r.json();
    assert_eq!(v["error"]["code"], "APIGW.0301");
    assert!(!r.stdout.contains("hw-locations-secret"));
}

/// QingCloud IaaS mocks of one zone: DescribeInstances lists `id` (named `ci-1`,
/// running) and StopInstances expects it once.
async fn qc_zone(server: &MockServer, zone: &str, id: &str) {
    Mock::given(query_param("action", "DescribeInstances"))
        .and(query_param("zone", zone))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"ret_code": 0,
            "instance_set": [{"instance_id": id, "instance_name": "ci-1", "status": "running",
                              "transition_status": ""}], "total_count": 1})),
        )
        .expect(1)
        .mount(server)
        .await;
    Mock::given(query_param("action", "StopInstances"))
        .and(query_param("zone", zone))
        .and(query_param("instances.1", id))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"ret_code": 0, "job_id": "j-ybnoeitr"})),
        )
        .expect(1)
        .mount(server)
        .await;
}

fn qc_sandbox(uri: &str) -> Sandbox {
    Sandbox::new()
        .env("QINGCLOUD_ACCESS_KEY_ID", "QYLOCATIONS01")
        .env("QINGCLOUD_SECRET_ACCESS_KEY", "qc-locations-secret")
        .env("CLOUDSTOP_QINGCLOUD_IAAS_ENDPOINT", uri)
}

fn qc_args(op: &[&str]) -> Vec<String> {
    let mut a = strs(op);
    a.extend(strs(&[
        "-p",
        "qingcloud",
        "--zone",
        "all",
        "--name",
        "ci-*",
        "--rate",
        "500",
    ]));
    a
}

/// `--zone all`: the active zones of a signed DescribeZones (no `zone` when none is
/// configured), each listed and stopped with its own zone.
#[tokio::test(flavor = "multi_thread")]
async fn qingcloud_zone_all_is_the_active_zones() {
    let server = MockServer::start().await;
    Mock::given(query_param("action", "DescribeZones"))
        .and(query_param("status.1", "active"))
        .and(wiremock::matchers::query_param_is_missing("zone"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"ret_code": 0,
            "action": "DescribeZonesResponse", "total_count": 3, "zone_set": [
                {"zone_id": "sh1a", "status": "active", "region_id": "sh1"},
                {"zone_id": "pek3a", "status": "active", "region_id": "pek3"},
                {"zone_id": "gd1", "status": "faulty"},
            ]})),
        )
        .expect(1)
        .mount(&server)
        .await;
    qc_zone(&server, "pek3a", "i-pek00001").await;
    qc_zone(&server, "sh1a", "i-sh1a0001").await;
    Mock::given(query_param("zone", "gd1"))
        .respond_with(ResponseTemplate::new(500))
        .expect(0)
        .mount(&server)
        .await;
    let r = qc_sandbox(&server.uri())
        .run_async(&qc_args(&["server", "stop"]))
        .await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let v = r.json();
    assert_eq!(v["location"], json!({"zones": ["pek3a", "sh1a"]}));
    assert_eq!(v["locations_failed"], json!([]));
    assert_eq!(v["results"][0]["location"], json!({"zone": "pek3a"}));
    assert_eq!(v["results"][1]["location"], json!({"zone": "sh1a"}));
    let reqs = server.received_requests().await.unwrap();
    let list = reqs
        .iter()
        .find(|r| r.url.query().unwrap_or("").contains("action=DescribeZones"))
        .unwrap();
    let q = list.url.query().unwrap();
    assert!(q.contains("access_key_id=QYLOCATIONS01"), "{q}");
    assert!(q.contains("&signature="), "{q}");
}

/// A configured zone narrows DescribeZones (`zone=`), as PROVIDERS.md §5 says.
#[tokio::test(flavor = "multi_thread")]
async fn qingcloud_zone_all_sends_the_configured_zone() {
    let server = MockServer::start().await;
    Mock::given(query_param("action", "DescribeZones"))
        .and(query_param("status.1", "active"))
        .and(query_param("zone", "pek3a"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"ret_code": 0,
            "total_count": 1, "zone_set": [{"zone_id": "pek3a", "status": "active"}]})),
        )
        .expect(1)
        .mount(&server)
        .await;
    qc_zone(&server, "pek3a", "i-pek00001").await;
    let r = qc_sandbox(&server.uri())
        .env("QINGCLOUD_ZONE", "pek3a")
        .run_async(&qc_args(&["server", "stop"]))
        .await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(r.json()["location"], json!({"zones": ["pek3a"]}));
}

/// HPC has no zone list: `job stop --zone all` is refused before anything is sent.
#[tokio::test(flavor = "multi_thread")]
async fn qingcloud_zone_all_is_not_offered_for_hpc_jobs() {
    let server = MockServer::start().await;
    Mock::given(wiremock::matchers::any())
        .respond_with(ResponseTemplate::new(500))
        .expect(0)
        .mount(&server)
        .await;
    let r = qc_sandbox(&server.uri())
        .env("CLOUDSTOP_QINGCLOUD_ENDPOINT", &server.uri())
        .run_async(&qc_args(&["job", "stop"]))
        .await;
    assert_eq!(r.code, 2, "{}\n{}", r.stdout, r.stderr);
    assert!(r.json()["error"]["message"]
        .as_str()
        .unwrap()
        .contains("not available yet"));
}
