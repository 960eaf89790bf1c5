//! The fault matrix: every transient and permanent failure a provider can produce,
//! through the binary against a mock — attempts made, fresh signatures, the final
//! envelope, `error.kind`, `retryable` and the exit code (SPEC "Transport").

mod common;

use common::{blocking, raw_fault_server, refused_url, RawFault, Sandbox};
use serde_json::{json, Value};
use std::sync::atomic::Ordering;
use std::time::Duration;
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

/// One provider operation under test.
struct Target {
    name: &'static str,
    args: &'static [&'static str],
    env: &'static [(&'static str, &'static str)],
    secret: &'static str,
    success: fn() -> ResponseTemplate,
    /// The provider's own error answer for a code.
    coded: fn(&str) -> ResponseTemplate,
    throttle_code: &'static str,
    internal_code: &'static str,
    /// Requests that are the stop call (others are status queries).
    is_stop: fn(&Request) -> bool,
    /// The signing time each attempt carries.
    stamp: fn(&Request) -> String,
    /// Mocks for the state queries a provider makes before re-sending a stop that may
    /// have been applied: they say the resource is still running.
    state: fn() -> Vec<Mock>,
    /// Errors that are never retried: (code, kind).
    permanent: &'static [(&'static str, &'static str)],
    /// The stop is repeated as is (Repeatable); otherwise state is queried first.
    repeatable: bool,
}

fn tencent_ok() -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({"Response": {"RequestId": "ok-req"}}))
}

fn tencent_err(code: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(
        json!({"Response": {"Error": {"Code": code, "Message": "m"}, "RequestId": "e"}}),
    )
}

fn is_tencent_stop(r: &Request) -> bool {
    r.headers
        .get("x-tc-action")
        .is_some_and(|a| a == "TerminateJob" || a == "StopInstances")
}

const TENCENT_ENV: &[(&str, &str)] = &[
    ("TENCENTCLOUD_SECRET_ID", "AKIDFAULTS"),
    ("TENCENTCLOUD_SECRET_KEY", "faults-secret-key-0001"),
];

fn tencent_stamp(r: &Request) -> String {
    r.headers
        .get("x-tc-timestamp")
        .unwrap()
        .to_str()
        .unwrap()
        .to_string()
}

fn huawei_ok() -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({"job_id": "ff808082889bd9690189061140c235fe"}))
}

fn huawei_err(code: &str) -> ResponseTemplate {
    let status = match code {
        "APIGW.0308" => 429,
        "APIGW.0301" => 401,
        "Ecs.0110" | "Pdp.0001" => 403,
        _ => 500,
    };
    if code.starts_with("APIGW") {
        ResponseTemplate::new(status)
            .set_body_json(json!({"error_code": code, "error_msg": "m", "request_id": "r"}))
    } else {
        ResponseTemplate::new(status)
            .set_body_json(json!({"error": {"code": code, "message": "m"}}))
    }
}

fn is_huawei_stop(r: &Request) -> bool {
    r.method.as_str() == "POST" && r.url.path().ends_with("/cloudservers/action")
}

fn huawei_stamp(r: &Request) -> String {
    r.headers
        .get("x-sdk-date")
        .unwrap()
        .to_str()
        .unwrap()
        .to_string()
}

fn huawei_state() -> Vec<Mock> {
    vec![Mock::given(|r: &Request| {
        r.method.as_str() == "GET" && r.url.path().contains("/cloudservers/")
    })
    .respond_with(
        ResponseTemplate::new(200).set_body_json(json!({"server": {"status": "ACTIVE"}})),
    )]
}

fn qingcloud_ok() -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({"action": "HpcJobStopJobsResponse", "job_uuid": "j-942yi1ah8hd", "job_id": "j-jxi9h7em8de", "ret_code": 0}))
}

fn qingcloud_err(code: &str) -> ResponseTemplate {
    ResponseTemplate::new(200)
        .set_body_json(json!({"ret_code": code.parse::<i64>().unwrap(), "message": "mock"}))
}

fn is_qingcloud_stop(r: &Request) -> bool {
    r.method.as_str() == "POST" && r.url.path().starts_with("/api/")
}

fn qingcloud_stamp(r: &Request) -> String {
    r.url
        .query_pairs()
        .find(|(k, _)| k == "timestamp")
        .map(|(_, v)| v.to_string())
        .unwrap()
}

fn qingcloud_state() -> Vec<Mock> {
    vec![Mock::given(|r: &Request| r.method.as_str() == "GET" && r.url.path() == "/api/operation")
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"action": "HpcOperationListOperationResponse", "job_set": [], "total_count": 0, "ret_code": 0})))]
}

fn iaas_action(r: &Request) -> Option<String> {
    r.url
        .query_pairs()
        .find(|(k, _)| k == "action")
        .map(|(_, v)| v.to_string())
}

fn iaas_ok() -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(
        json!({"action": "StopInstancesResponse", "job_id": "j-ybnoeitr", "ret_code": 0}),
    )
}

fn is_iaas_stop(r: &Request) -> bool {
    r.method.as_str() == "GET"
        && r.url.path() == "/iaas/"
        && iaas_action(r).as_deref() == Some("StopInstances")
}

fn iaas_stamp(r: &Request) -> String {
    r.url
        .query_pairs()
        .find(|(k, _)| k == "time_stamp")
        .map(|(_, v)| v.to_string())
        .unwrap()
}

fn iaas_state() -> Vec<Mock> {
    vec![Mock::given(|r: &Request| {
        r.url.path() == "/iaas/" && iaas_action(r).as_deref() == Some("DescribeInstances")
    })
    .respond_with(ResponseTemplate::new(200).set_body_json(json!({
        "action": "DescribeInstancesResponse",
        "instance_set": [{"instance_id": "i-rtyv0968", "status": "running", "transition_status": ""}],
        "total_count": 1,
        "ret_code": 0
    })))]
}

fn no_state() -> Vec<Mock> {
    vec![]
}

const HUAWEI_ENV: &[(&str, &str)] = &[
    ("HUAWEICLOUD_SDK_AK", "HWAKFAULTS"),
    ("HUAWEICLOUD_SDK_SK", "faults-secret-key-0001"),
];
const QINGCLOUD_ENV: &[(&str, &str)] = &[
    ("QINGCLOUD_ACCESS_KEY_ID", "QYFAULTS"),
    ("QINGCLOUD_SECRET_ACCESS_KEY", "faults-secret-key-0001"),
];
const TENCENT_PERMANENT: &[(&str, &str)] = &[
    ("AuthFailure.SignatureFailure", "auth"),
    ("UnauthorizedOperation", "permission"),
];

fn targets() -> Vec<Target> {
    vec![
        Target {
            name: "tencent job stop",
            args: &[
                "job",
                "stop",
                "-p",
                "tencent",
                "--region",
                "ap-guangzhou",
                "--job-id",
                "job-rybewp57",
            ],
            env: TENCENT_ENV,
            secret: "faults-secret-key-0001",
            success: tencent_ok,
            coded: tencent_err,
            throttle_code: "RequestLimitExceeded",
            internal_code: "InternalError",
            is_stop: is_tencent_stop,
            stamp: tencent_stamp,
            state: no_state,
            permanent: TENCENT_PERMANENT,
            repeatable: true,
        },
        Target {
            name: "tencent server stop",
            args: &[
                "server",
                "stop",
                "-p",
                "tencent",
                "--region",
                "ap-guangzhou",
                "--server-id",
                "ins-r8hr2upy",
            ],
            env: TENCENT_ENV,
            secret: "faults-secret-key-0001",
            success: tencent_ok,
            coded: tencent_err,
            throttle_code: "RequestLimitExceeded.IPLimitExceeded",
            internal_code: "InternalServerError",
            is_stop: is_tencent_stop,
            stamp: tencent_stamp,
            state: no_state,
            permanent: TENCENT_PERMANENT,
            repeatable: true,
        },
        Target {
            name: "huawei server stop",
            args: &[
                "server",
                "stop",
                "-p",
                "huawei",
                "--region",
                "cn-north-4",
                "--project-id",
                "0a1b2c3d4e5f60718293a4b5c6d7e8f9",
                "--server-id",
                "616fb98f-46ca-475e-917e-2563e5a8cd19",
            ],
            env: HUAWEI_ENV,
            secret: "faults-secret-key-0001",
            success: huawei_ok,
            coded: huawei_err,
            throttle_code: "APIGW.0308",
            internal_code: "Common.0001",
            is_stop: is_huawei_stop,
            stamp: huawei_stamp,
            state: huawei_state,
            permanent: &[
                ("APIGW.0301", "auth"),
                ("Ecs.0110", "permission"),
                ("Pdp.0001", "permission"),
            ],
            repeatable: false,
        },
        Target {
            name: "qingcloud job stop",
            args: &[
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
            env: QINGCLOUD_ENV,
            secret: "faults-secret-key-0001",
            success: qingcloud_ok,
            coded: qingcloud_err,
            throttle_code: "2500",
            internal_code: "5000",
            is_stop: is_qingcloud_stop,
            stamp: qingcloud_stamp,
            state: qingcloud_state,
            permanent: &[("1200", "auth"), ("1300", "auth")],
            repeatable: false,
        },
        Target {
            name: "qingcloud cluster delete",
            args: &[
                "cluster",
                "delete",
                "-p",
                "qingcloud",
                "--zone",
                "jn1a",
                "--run-user",
                "usr-IuZxPyn2",
                "--cluster-id",
                "hpc-6o2qc9tl",
                "--yes",
            ],
            env: QINGCLOUD_ENV,
            secret: "faults-secret-key-0001",
            success: qingcloud_ok,
            coded: qingcloud_err,
            throttle_code: "2500",
            internal_code: "5100",
            is_stop: is_qingcloud_stop,
            stamp: qingcloud_stamp,
            state: qingcloud_state,
            permanent: &[("1200", "auth"), ("1300", "auth")],
            repeatable: false,
        },
        Target {
            name: "qingcloud server stop",
            args: &[
                "server",
                "stop",
                "-p",
                "qingcloud",
                "--zone",
                "pek3a",
                "--server-id",
                "i-rtyv0968",
            ],
            env: QINGCLOUD_ENV,
            secret: "faults-secret-key-0001",
            success: iaas_ok,
            coded: qingcloud_err,
            throttle_code: "2500",
            internal_code: "5000",
            is_stop: is_iaas_stop,
            stamp: iaas_stamp,
            state: iaas_state,
            permanent: &[("1200", "auth"), ("1300", "auth")],
            repeatable: false,
        },
    ]
}

/// How the mock answers, and what the binary must conclude.
struct Fault {
    name: &'static str,
    /// The failing answer (`None`: a raw TCP fault or no server).
    answer: Option<fn(&Target) -> ResponseTemplate>,
    /// Whether the run ends in success because the fault stops after one answer.
    recovers: bool,
    kind: &'static str,
    retryable: bool,
    exit: i32,
}

fn faults() -> Vec<Fault> {
    vec![
        Fault {
            name: "HTTP 500",
            answer: Some(|_| ResponseTemplate::new(500).set_body_string("oops")),
            recovers: false,
            kind: "provider",
            retryable: true,
            exit: 5,
        },
        Fault {
            name: "HTTP 502",
            answer: Some(|_| {
                ResponseTemplate::new(502).set_body_string("<html>bad gateway</html>")
            }),
            recovers: false,
            kind: "provider",
            retryable: true,
            exit: 5,
        },
        Fault {
            name: "HTTP 503 then ok",
            answer: Some(|_| ResponseTemplate::new(503)),
            recovers: true,
            kind: "",
            retryable: true,
            exit: 0,
        },
        Fault {
            name: "429 without Retry-After",
            answer: Some(|_| ResponseTemplate::new(429)),
            recovers: false,
            kind: "throttled",
            retryable: true,
            exit: 5,
        },
        Fault {
            name: "429 with Retry-After then ok",
            answer: Some(|_| ResponseTemplate::new(429).insert_header("Retry-After", "1")),
            recovers: true,
            kind: "",
            retryable: true,
            exit: 0,
        },
        Fault {
            name: "provider throttling code",
            answer: Some(|t| (t.coded)(t.throttle_code)),
            recovers: false,
            kind: "throttled",
            retryable: true,
            exit: 5,
        },
        Fault {
            name: "provider internal error",
            answer: Some(|t| (t.coded)(t.internal_code)),
            recovers: false,
            kind: "provider",
            retryable: true,
            exit: 5,
        },
        Fault {
            name: "non-JSON body",
            answer: Some(|_| ResponseTemplate::new(200).set_body_string("<html>proxy</html>")),
            recovers: false,
            kind: "provider",
            retryable: true,
            exit: 5,
        },
        Fault {
            name: "slower than --timeout",
            answer: Some(|t| (t.success)().set_delay(Duration::from_secs(3))),
            recovers: false,
            kind: "timeout",
            retryable: true,
            exit: 5,
        },
    ]
}

fn run(t: &Target, endpoint: &str, extra: &[&str]) -> common::Run {
    let mut sb = Sandbox::new();
    for (k, v) in t.env {
        sb = sb.env(k, v);
    }
    let mut args: Vec<&str> = t.args.to_vec();
    args.extend([
        "--endpoint",
        endpoint,
        "--rate",
        "500",
        "--timeout",
        "300ms",
    ]);
    args.extend_from_slice(extra);
    // Every fault at the highest log level: requests, answers and errors are all
    // printed, and none may carry the secret or a live signature.
    args.push("-vvv");
    let r = sb.run(&args);
    common::assert_no_secrets(t.name, &r, &[t.secret]);
    r
}

fn check_error(t: &Target, f: &str, v: &Value, kind: &str, retryable: bool) {
    let e = if v["results"][0]["error"].is_null() {
        &v["error"]
    } else {
        &v["results"][0]["error"]
    };
    assert_eq!(e["kind"], kind, "{} / {f}: {v}", t.name);
    assert_eq!(e["retryable"], retryable, "{} / {f}", t.name);
    assert_eq!(v["ok"], false);
}

#[tokio::test(flavor = "multi_thread")]
async fn http_faults_are_retried_then_reported() {
    for t in targets() {
        for f in faults() {
            let server = MockServer::start().await;
            for m in (t.state)() {
                m.mount(&server).await;
            }
            let failing = (f.answer.unwrap())(&t);
            let stop = t.is_stop;
            if f.recovers {
                Mock::given(move |r: &Request| stop(r))
                    .respond_with(failing)
                    .up_to_n_times(1)
                    .with_priority(1)
                    .mount(&server)
                    .await;
                Mock::given(move |r: &Request| stop(r))
                    .respond_with((t.success)())
                    .mount(&server)
                    .await;
            } else {
                Mock::given(move |r: &Request| stop(r))
                    .respond_with(failing)
                    .mount(&server)
                    .await;
            }
            let uri = server.uri();
            let t2 = Target { ..t_clone(&t) };
            let r = blocking(move || run(&t2, &uri, &["--retries", "2"])).await;
            let v = r.json();
            assert_eq!(r.code, f.exit, "{} / {}: {}", t.name, f.name, r.stdout);
            let attempts: Vec<Request> = server
                .received_requests()
                .await
                .unwrap()
                .into_iter()
                .filter(stop)
                .collect();
            if f.recovers {
                assert_eq!(attempts.len(), 2, "{} / {}", t.name, f.name);
                assert_eq!(v["results"][0]["ok"], true);
            } else {
                // One attempt and --retries 2 more.
                assert_eq!(attempts.len(), 3, "{} / {}", t.name, f.name);
                check_error(&t, f.name, &v, f.kind, f.retryable);
            }
            if f.name.starts_with("429 with Retry-After") {
                // The retry waited for Retry-After and was signed anew.
                let ts = t.stamp;
                assert!(
                    ts(&attempts[1]) > ts(&attempts[0]),
                    "{}: retry not re-signed: {} {}\n{}",
                    t.name,
                    ts(&attempts[0]),
                    ts(&attempts[1]),
                    r.stderr
                );
                // A new signature: in Authorization, or QingCloud's in the query.
                let sig = |r: &Request| format!("{} {:?}", r.url, r.headers.get("authorization"));
                assert_ne!(sig(&attempts[0]), sig(&attempts[1]), "{}", t.name);
            }
        }
    }
}

fn t_clone(t: &Target) -> Target {
    Target {
        name: t.name,
        args: t.args,
        env: t.env,
        secret: t.secret,
        success: t.success,
        coded: t.coded,
        throttle_code: t.throttle_code,
        internal_code: t.internal_code,
        is_stop: t.is_stop,
        stamp: t.stamp,
        state: t.state,
        permanent: t.permanent,
        repeatable: t.repeatable,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn connection_faults() {
    for t in targets() {
        // Connection refused: nothing reached a server, so it is retried; exit 5.
        let url = refused_url();
        let t2 = t_clone(&t);
        let r = blocking(move || run(&t2, &url, &["--retries", "1"])).await;
        assert_eq!(r.code, 5, "{} refused: {}", t.name, r.stdout);
        let v = r.json();
        check_error(&t, "refused", &v, "network", true);
        // Nothing got through: the command failed as a whole.
        assert_eq!(v["error"]["kind"], "network", "{}", t.name);

        for fault in [RawFault::ResetMidAnswer, RawFault::TruncatedBody] {
            let (url, count) = raw_fault_server(fault).await;
            let t2 = t_clone(&t);
            let r = blocking(move || run(&t2, &url, &["--retries", "2"])).await;
            assert_eq!(r.code, 5, "{} {fault:?}: {}", t.name, r.stdout);
            let v = r.json();
            let e = &v["results"][0]["error"];
            assert!(
                e["kind"] == "network" || e["kind"] == "provider",
                "{fault:?}: {e}"
            );
            assert_eq!(e["retryable"], true);
            let requests = count.load(Ordering::SeqCst);
            if t.repeatable {
                // Safe to repeat: every attempt was made.
                assert_eq!(requests, 3, "{} {fault:?}", t.name);
            } else {
                // It may have been applied: the state is read (and fails here too)
                // before anything is sent again, so the stop went out once.
                assert!(requests >= 2, "{} {fault:?}: {requests}", t.name);
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn permanent_errors_are_not_retried() {
    for t in targets() {
        for &(code, kind) in t.permanent {
            let exit = 3;
            let server = MockServer::start().await;
            let stop = t.is_stop;
            Mock::given(move |r: &Request| stop(r))
                .respond_with((t.coded)(code))
                .expect(1)
                .mount(&server)
                .await;
            let uri = server.uri();
            let t2 = t_clone(&t);
            let r = blocking(move || run(&t2, &uri, &["--retries", "3"])).await;
            assert_eq!(r.code, exit, "{} {code}", t.name);
            check_error(&t, code, &r.json(), kind, false);
        }
    }
}
