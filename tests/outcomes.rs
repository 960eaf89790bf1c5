//! Truthful outcomes through the binary, on every provider: a 404 that is not the
//! provider's own "not found" never reads as success under `--ignore-missing`; ids the
//! provider would refuse are refused locally; an interrupted or failed command still
//! accounts for every requested id; an endpoint's userinfo never shows.

mod common;

use common::{Run, Sandbox};
use serde_json::{json, Value};
use std::process::{Command, Stdio};
use std::time::Duration;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const QC_AK: &str = "QYTESTACCESSKEY01";
const QC_SK: &str = "qc-secret-must-never-show";
const HW_PID: &str = "0a1b2c3d4e5f60718293a4b5c6d7e8f9";
const HW_SERVER: &str = "616fb98f-46ca-475e-917e-2563e5a8cd19";

fn qingcloud() -> Sandbox {
    Sandbox::new()
        .env("QINGCLOUD_ACCESS_KEY_ID", QC_AK)
        .env("QINGCLOUD_SECRET_ACCESS_KEY", QC_SK)
}

fn tencent() -> Sandbox {
    Sandbox::new()
        .env("TENCENTCLOUD_SECRET_ID", "AKIDOUTCOMES")
        .env("TENCENTCLOUD_SECRET_KEY", "tc-secret-must-never-show")
}

fn huawei() -> Sandbox {
    Sandbox::new()
        .env("HUAWEICLOUD_SDK_AK", "AKOUTCOMES")
        .env("HUAWEICLOUD_SDK_SK", "hw-secret-must-never-show")
}

async fn run(sb: Sandbox, args: &[&str]) -> Run {
    sb.run_async(args).await
}

/// Every result failed as a provider failure whose message names `url` (and no query).
fn assert_failed_naming(r: &Run, url: &str) {
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    let v = r.json();
    assert_eq!(v["ok"], false);
    for res in v["results"].as_array().unwrap() {
        assert_eq!(res["status"], "failed", "{res}");
        assert_eq!(res["ok"], false);
        assert_eq!(res["error"]["kind"], "provider", "{res}");
        let msg = res["error"]["message"].as_str().unwrap();
        assert!(msg.contains(url), "{msg} should name {url}");
        for secret in ["signature", "access_key_id", "?"] {
            assert!(!msg.contains(secret), "{msg}");
        }
    }
}

// ---- 1. a 404 is not_found only in the provider's own words ---------------------------

#[tokio::test(flavor = "multi_thread")]
async fn qingcloud_hpc_endpoint_with_api_path_is_a_failure_not_missing() {
    // QingCloud's docs print URLs with /api: the natural wrong guess for --endpoint.
    let server = MockServer::start().await;
    let endpoint = format!("{}/api", server.uri());
    let r = run(
        qingcloud(),
        &[
            "job",
            "stop",
            "-p",
            "qingcloud",
            "--zone",
            "jn1a",
            "--cluster-id",
            "ehpc-8jqdq0mz",
            "--job-id",
            "hpcjob-bp6rj09f,hpcjob-k3x9w2qa",
            "--endpoint",
            &endpoint,
            "--ignore-missing",
            "--rate",
            "100",
        ],
    )
    .await;
    assert_failed_naming(&r, &format!("{endpoint}/api/job/stopJobs"));
    let r = run(
        qingcloud(),
        &[
            "cluster",
            "delete",
            "-p",
            "qingcloud",
            "--zone",
            "jn1a",
            "--cluster-id",
            "hpc-6o2qc9tl",
            "--run-user",
            "usr-IuZxPyn2",
            "--endpoint",
            &endpoint,
            "--ignore-missing",
            "--yes",
            "--rate",
            "100",
        ],
    )
    .await;
    assert_failed_naming(&r, &format!("{endpoint}/api/cluster/deleteCluster"));
}

#[tokio::test(flavor = "multi_thread")]
async fn qingcloud_iaas_404_is_a_failure_not_missing() {
    let server = MockServer::start().await;
    let endpoint = format!("{}/gw", server.uri());
    let r = run(
        qingcloud(),
        &[
            "server",
            "stop",
            "-p",
            "qingcloud",
            "--zone",
            "pek3a",
            "--server-id",
            "i-rtyv0968,i-ogbndull",
            "--endpoint",
            &endpoint,
            "--ignore-missing",
            "--rate",
            "100",
        ],
    )
    .await;
    assert_failed_naming(&r, &format!("{endpoint}/iaas/"));
}

#[tokio::test(flavor = "multi_thread")]
async fn tencent_404_from_a_proxy_is_a_failure_not_missing() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(404).set_body_string("<html>404 Not Found</html>"))
        .mount(&server)
        .await;
    for (noun, verb, flag, id) in [
        ("job", "stop", "--job-id", "job-rybewp57"),
        ("server", "stop", "--server-id", "ins-r8hr2upy"),
    ] {
        let r = run(
            tencent(),
            &[
                noun,
                verb,
                "-p",
                "tencent",
                "--region",
                "ap-guangzhou",
                flag,
                id,
                "--endpoint",
                &server.uri(),
                "--ignore-missing",
                "--rate",
                "100",
            ],
        )
        .await;
        assert_failed_naming(&r, &server.uri());
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn huawei_gateway_404_is_a_failure_and_ecs_0114_is_not_found() {
    let action = format!("/v1/{HW_PID}/cloudservers/action");
    let args = |uri: &str| -> Vec<String> {
        [
            "server",
            "stop",
            "-p",
            "huawei",
            "--region",
            "cn-north-4",
            "--project-id",
            HW_PID,
            "--server-id",
            HW_SERVER,
            "--endpoint",
            uri,
            "--ignore-missing",
            "--rate",
            "100",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    };
    // The gateway's "no such API", a proxy's bare 404, a 404 with a foreign code.
    for answer in [
        ResponseTemplate::new(404).set_body_json(json!({
            "error_code": "APIGW.0101",
            "error_msg": "The API does not exist or has not been published in the environment",
        })),
        ResponseTemplate::new(404),
        ResponseTemplate::new(404)
            .set_body_json(json!({"error": {"code": "Nope", "message": "x"}})),
    ] {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path(action.clone()))
            .respond_with(answer)
            .expect(1)
            .mount(&server)
            .await;
        let r = huawei().run_async(&args(&server.uri())).await;
        assert_failed_naming(&r, &format!("{}{action}", server.uri()));
    }
    // ECS's own words for a missing server: not_found, ok with --ignore-missing.
    let server = MockServer::start().await;
    let missing = ResponseTemplate::new(404).set_body_json(json!({
        "error": {"code": "Ecs.0114", "message": "Instance could not be found."}
    }));
    Mock::given(method("POST"))
        .and(path(action.clone()))
        .respond_with(missing.clone())
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("/v1/{HW_PID}/cloudservers/{HW_SERVER}")))
        .respond_with(missing)
        .mount(&server)
        .await;
    let r = huawei().run_async(&args(&server.uri())).await;
    assert_eq!(r.code, 0, "{}", r.stdout);
    assert_eq!(r.json()["results"][0]["status"], "not_found");
}

// ---- 3. ids the provider would refuse are refused locally ----------------------------

#[tokio::test(flavor = "multi_thread")]
async fn huawei_upper_case_ids_are_refused_with_the_lower_case_form() {
    let server = MockServer::start().await;
    Mock::given(wiremock::matchers::any())
        .respond_with(ResponseTemplate::new(200))
        .expect(0)
        .mount(&server)
        .await;
    let upper = HW_SERVER.to_ascii_uppercase();
    let list = format!("{HW_SERVER},{upper}");
    let r = run(
        huawei(),
        &[
            "server",
            "stop",
            "-p",
            "huawei",
            "--region",
            "cn-north-4",
            "--project-id",
            HW_PID,
            "--server-id",
            &list,
            "--endpoint",
            &server.uri(),
        ],
    )
    .await;
    assert_eq!(r.code, 2, "{}", r.stdout);
    let v = r.json();
    let msg = v["error"]["message"].as_str().unwrap();
    assert!(msg.contains(&upper) && msg.contains(HW_SERVER), "{msg}");
    assert_eq!(v["error"]["kind"], "usage");
}

#[tokio::test(flavor = "multi_thread")]
async fn upper_case_ids_elsewhere_are_refused_with_the_lower_case_form() {
    let server = MockServer::start().await;
    Mock::given(wiremock::matchers::any())
        .respond_with(ResponseTemplate::new(200))
        .expect(0)
        .mount(&server)
        .await;
    let uri = server.uri();
    let cases: [(Sandbox, Vec<&str>, &str); 2] = [
        (
            tencent(),
            vec![
                "server",
                "stop",
                "-p",
                "tencent",
                "--region",
                "ap-guangzhou",
                "--server-id",
                "ins-R8HR2UPY",
            ],
            "'ins-r8hr2upy'",
        ),
        (
            qingcloud(),
            vec![
                "server",
                "stop",
                "-p",
                "qingcloud",
                "--zone",
                "pek3a",
                "--server-id",
                "I-RTYV0968",
            ],
            "'i-rtyv0968'",
        ),
    ];
    for (sb, mut args, lower) in cases {
        args.extend(["--endpoint", &uri]);
        let r = run(sb, &args).await;
        assert_eq!(r.code, 2, "{}", r.stdout);
        let msg = r.json()["error"]["message"].as_str().unwrap().to_string();
        assert!(msg.contains(lower), "{msg}");
    }
}

// ---- 5. envelope honesty ---------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn a_whole_command_failure_still_counts_every_requested_id() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v3/projects"))
        .respond_with(ResponseTemplate::new(403).set_body_json(json!({
            "error": {"code": 403, "message": "You do not have permission"}
        })))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .expect(0)
        .mount(&server)
        .await;
    let list = format!("{HW_SERVER},616fb98f-46ca-475e-917e-2563e5a8cd20");
    let r = run(
        huawei().env("HUAWEICLOUD_SDK_IAM_ENDPOINT", &server.uri()),
        &[
            "server",
            "stop",
            "-p",
            "huawei",
            "--region",
            "cn-north-4",
            "--server-id",
            &list,
            "--endpoint",
            &server.uri(),
        ],
    )
    .await;
    assert_eq!(r.code, 3, "{}", r.stdout);
    let v = r.json();
    assert_eq!(v["summary"]["requested"], 2, "{v}");
    assert_eq!(v["summary"]["failed"], 2);
    for res in v["results"].as_array().unwrap() {
        assert_eq!(res["status"], "failed");
        assert_eq!(res["error"], v["error"]);
    }
}

/// Runs `args` against Tencent at `server`, sends `signal` after 1.5 s, returns the
/// exit code and the envelope.
async fn interrupted(server: &MockServer, args: &[&str]) -> (i32, Value) {
    let home = tempfile::tempdir().unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_cloudstop"))
        .args(args)
        .args([
            "-p",
            "tencent",
            "--region",
            "ap-guangzhou",
            "--endpoint",
            &server.uri(),
        ])
        .env_clear()
        .env("HOME", home.path())
        .env("TENCENTCLOUD_SECRET_ID", "AKIDINT")
        .env("TENCENTCLOUD_SECRET_KEY", "interrupt-secret")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id().to_string();
    let out = tokio::task::spawn_blocking(move || {
        std::thread::sleep(Duration::from_millis(1500));
        Command::new("kill").args(["-INT", &pid]).status().unwrap();
        child.wait_with_output().unwrap()
    })
    .await
    .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)));
    (out.status.code().unwrap_or(-1), v)
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread")]
async fn interrupted_ids_never_sent_are_retryable_and_unconfirmed_waits_are_not_ok() {
    let server = MockServer::start().await;
    Mock::given(header("X-TC-Action", "TerminateJob"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"Response": {"RequestId": "t"}})),
        )
        .mount(&server)
        .await;
    Mock::given(header("X-TC-Action", "DescribeJob"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"Response": {"JobState": "RUNNING", "RequestId": "d"}})),
        )
        .mount(&server)
        .await;
    // One TerminateJob every 10 s: the second is never sent before the signal.
    let (code, v) = interrupted(
        &server,
        &[
            "job",
            "stop",
            "--job-id",
            "job-aaaaaaa1,job-aaaaaaa2",
            "--rate",
            "0.1",
        ],
    )
    .await;
    assert_eq!(code, 130, "{v}");
    assert_eq!(v["summary"]["requested"], 2, "{v}");
    let never_sent = v["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["error"]["code"] == "interrupted")
        .unwrap_or_else(|| panic!("an unsent id: {v}"));
    assert_eq!(never_sent["status"], "failed");
    assert_eq!(never_sent["error"]["retryable"], true);

    // Interrupted while waiting: accepted, but not confirmed.
    let (code, v) = interrupted(
        &server,
        &[
            "job",
            "stop",
            "--job-id",
            "job-aaaaaaa1,job-aaaaaaa2",
            "--wait",
            "--poll-interval",
            "100ms",
            "--rate",
            "100",
        ],
    )
    .await;
    assert_eq!(code, 130, "{v}");
    assert_eq!(v["summary"]["succeeded"], 0, "{v}");
    for res in v["results"].as_array().unwrap() {
        assert_eq!(res["status"], "stopping");
        assert_eq!(res["ok"], false);
        assert_eq!(res["error"]["code"], "interrupted");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn endpoint_userinfo_never_shows() {
    let server = MockServer::start().await;
    let port = server.address().port();
    let endpoint = format!("http://proxyuser:hunter2secret@127.0.0.1:{port}");
    // Dry-run: the requests shown.
    let r = run(
        tencent(),
        &[
            "job",
            "stop",
            "-p",
            "tencent",
            "--region",
            "ap-guangzhou",
            "--job-id",
            "job-rybewp57",
            "--endpoint",
            &endpoint,
            "--dry-run",
        ],
    )
    .await;
    assert_eq!(r.code, 0, "{}", r.stdout);
    let url = r.json()["requests"][0]["url"].as_str().unwrap().to_string();
    assert!(url.starts_with("http://[redacted]@127.0.0.1"), "{url}");
    // A real run at -vvv that fails: logs, error messages and recorded requests.
    for (sb, args) in [
        (
            tencent(),
            vec![
                "job",
                "stop",
                "-p",
                "tencent",
                "--region",
                "ap-guangzhou",
                "--job-id",
                "job-rybewp57",
            ],
        ),
        (
            qingcloud(),
            vec![
                "job",
                "stop",
                "-p",
                "qingcloud",
                "--zone",
                "jn1a",
                "--cluster-id",
                "ehpc-8jqdq0mz",
                "--job-id",
                "hpcjob-bp6rj09f",
            ],
        ),
    ] {
        let mut args = args.clone();
        args.extend(["--endpoint", &endpoint, "-vvv", "--rate", "100"]);
        let r = run(sb, &args).await;
        assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
        for out in [&r.stdout, &r.stderr] {
            assert!(!out.contains("hunter2secret"), "{out}");
            assert!(!out.contains("proxyuser"), "{out}");
        }
    }
    // A malformed endpoint's error message.
    let r = run(
        tencent(),
        &[
            "job",
            "stop",
            "-p",
            "tencent",
            "--region",
            "ap-guangzhou",
            "--job-id",
            "job-rybewp57",
            "--endpoint",
            "https://proxyuser:hunter2secret@exa mple.com",
        ],
    )
    .await;
    assert_eq!(r.code, 2, "{}", r.stdout);
    assert!(!r.stdout.contains("hunter2secret") && !r.stderr.contains("hunter2secret"));
}
