//! What people see: `--output text`, colour rules, progress, `providers`, completions,
//! the man page, `--help` examples, and every envelope checked against the committed
//! JSON Schema (`docs/envelope.schema.json`).

mod common;

use common::{Run, Sandbox};
use serde_json::{json, Value};
use wiremock::matchers::{header, method};
use wiremock::{Mock, MockServer, ResponseTemplate};

const ID: &str = "AKIDTESTCLOUDSTOP01";
const KEY: &str = "test-secret-key-never-printed-0001";

fn creds() -> Sandbox {
    Sandbox::new()
        .env("TENCENTCLOUD_SECRET_ID", ID)
        .env("TENCENTCLOUD_SECRET_KEY", KEY)
}

async fn run(sb: Sandbox, args: &[&str]) -> Run {
    sb.run_async(args).await
}

fn stop<'a>(uri: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut v = vec![
        "job",
        "stop",
        "-p",
        "tencent",
        "--region",
        "ap-guangzhou",
        "--endpoint",
        uri,
        "--retries",
        "0",
    ];
    v.extend_from_slice(extra);
    v
}

fn api_error(code: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({"Response": {
        "Error": {"Code": code, "Message": format!("mock {code}")},
        "RequestId": "err-req"
    }}))
}

fn ok() -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({"Response": {"RequestId": "ok-req"}}))
}

/// Checks `v` against SPEC's envelope, as written by hand in
/// `tests/fixtures/spec-envelope.schema.json` (an independent source), and against the
/// committed schema generated from the types (which documents the same shape).
fn assert_valid(v: &Value) {
    assert_matches_spec(v);
    assert_valid_generated(v);
}

fn assert_matches_spec(v: &Value) {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/spec-envelope.schema.json"
    );
    let schema: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let errors: Vec<String> = validator.iter_errors(v).map(|e| e.to_string()).collect();
    assert!(
        errors.is_empty(),
        "envelope does not match SPEC's shape: {errors:?}\n{v:#}"
    );
}

/// The hand-written SPEC schema can say no: each break of the contract is refused.
#[test]
fn spec_schema_refuses_what_spec_forbids() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/spec-envelope.schema.json"
    );
    let schema: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let good = serde_json::json!({
        "version": 1, "ok": false, "provider": "tencent", "operation": "job.stop",
        "location": {"region": "ap-guangzhou"}, "dry_run": false,
        "results": [{"id": "job-rybewp57", "ok": false, "status": "failed", "request_id": null,
                     "provider_job_id": null,
                     "error": {"kind": "provider", "code": "FailedOperation", "message": "m", "retryable": false}}],
        "summary": {"requested": 1, "succeeded": 0, "failed": 1},
        "requests": [], "error": null, "elapsed_ms": 3
    });
    assert!(validator.is_valid(&good));
    type Break = (&'static str, fn(&mut Value));
    let breaks: [Break; 6] = [
        ("unknown status", |v| {
            v["results"][0]["status"] = "done".into()
        }),
        ("failed but ok", |v| v["results"][0]["ok"] = true.into()),
        ("unknown error kind", |v| {
            v["results"][0]["error"]["kind"] = "oops".into()
        }),
        ("missing summary", |v| {
            v.as_object_mut().unwrap().remove("summary");
        }),
        ("stray top-level key", |v| v["extra"] = 1.into()),
        ("unknown credentials", |v| {
            v["requests"] = serde_json::json!([{"method": "POST", "url": "https://h/", "headers": {},
                "body": "", "credentials": "mine"}])
        }),
    ];
    for (what, f) in breaks {
        let mut bad = good.clone();
        f(&mut bad);
        assert!(!validator.is_valid(&bad), "{what} passed");
    }
}

/// The committed schema, and a check that `v` is valid against it.
fn assert_valid_generated(v: &Value) {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/envelope.schema.json");
    let schema: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let errors: Vec<String> = validator.iter_errors(v).map(|e| e.to_string()).collect();
    assert!(
        errors.is_empty(),
        "envelope does not match the schema: {errors:?}\n{v:#}"
    );
}

/// `(123 ms)` varies from run to run.
fn redact_elapsed(s: &str) -> String {
    let mut out = String::new();
    for line in s.lines() {
        match line.rfind(" (") {
            Some(i) if line.ends_with(" ms)") => {
                out.push_str(&line[..i]);
                out.push_str(" (ELAPSED ms)");
            }
            _ => out.push_str(line),
        }
        out.push('\n');
    }
    out
}

fn assert_no_ansi(r: &Run) {
    assert!(!r.stdout.contains('\x1b'), "ANSI on stdout: {:?}", r.stdout);
    assert!(!r.stderr.contains('\x1b'), "ANSI on stderr: {:?}", r.stderr);
}

// ---------------------------------------------------------------------------------
// The envelope: unchanged for scripts, and valid against the schema

#[tokio::test(flavor = "multi_thread")]
async fn envelopes_of_every_outcome_validate_against_the_schema() {
    // Dry run, offline.
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
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_valid(&r.json());
    assert!(!r.json()["requests"].as_array().unwrap().is_empty());

    // A usage error found while planning: a malformed id.
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
            "nope",
        ],
    )
    .await;
    assert_eq!(r.code, 2);
    assert_eq!(r.json()["error"]["kind"], "usage");
    assert_valid(&r.json());

    // Missing credentials.
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
    assert_valid(&r.json());

    // Mocked runs: success, not found, provider failure, rejected credentials.
    for (answer, code) in [
        (ok(), 0),
        (api_error("ResourceNotFound.Job"), 4),
        (api_error("FailedOperation"), 1),
        (api_error("AuthFailure.SignatureExpire"), 3),
    ] {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(answer)
            .mount(&server)
            .await;
        let uri = server.uri();
        let r = run(creds(), &stop(&uri, &["--job-id", "job-rybewp57"])).await;
        assert_eq!(r.code, code, "{}\n{}", r.stdout, r.stderr);
        assert_valid(&r.json());
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn json_output_keeps_the_spec_key_order() {
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
            "-o",
            "json",
        ],
    )
    .await;
    let top: Vec<&str> = r
        .stdout
        .lines()
        .filter_map(|l| l.strip_prefix("  \""))
        .filter_map(|l| l.split('"').next())
        .collect();
    assert_eq!(
        top,
        [
            "version",
            "ok",
            "provider",
            "operation",
            "location",
            "dry_run",
            "selection",
            "results",
            "summary",
            "requests",
            "error",
            "elapsed_ms"
        ]
    );
    assert!(r.stdout.starts_with("{\n") && r.stdout.ends_with("}\n"));
    assert_no_ansi(&r);
}

// ---------------------------------------------------------------------------------
// --output text

#[tokio::test(flavor = "multi_thread")]
async fn text_output_of_a_dry_run() {
    // The signing time is pinned so that the requests shown are the same every run.
    let r = run(
        Sandbox::new().env("CLOUDSTOP_TEST_FIXED_TIME", "1700000000"),
        &[
            "job",
            "stop",
            "-p",
            "tencent",
            "--region",
            "ap-guangzhou",
            "--job-id",
            "job-rybewp57,job-aaaaaaaa",
            "--dry-run",
            "-o",
            "text",
        ],
    )
    .await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_no_ansi(&r);
    insta::assert_snapshot!(redact_elapsed(&r.stdout));
}

#[tokio::test(flavor = "multi_thread")]
async fn text_output_of_a_mixed_failing_run() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(header("X-TC-Action", "TerminateJob"))
        .and(wiremock::matchers::body_string_contains("job-aaaaaaaa"))
        .respond_with(api_error("ResourceNotFound.Job"))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(header("X-TC-Action", "TerminateJob"))
        .and(wiremock::matchers::body_string_contains("job-bbbbbbbb"))
        .respond_with(api_error("FailedOperation"))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ok())
        .mount(&server)
        .await;
    let uri = server.uri();
    let r = run(
        creds(),
        &stop(
            &uri,
            &[
                "--job-id",
                "job-rybewp57,job-aaaaaaaa,job-bbbbbbbb",
                "-o",
                "text",
            ],
        ),
    )
    .await;
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert_no_ansi(&r);
    insta::assert_snapshot!(redact_elapsed(&r.stdout));
}

#[tokio::test(flavor = "multi_thread")]
async fn text_output_of_a_failure_as_a_whole() {
    let r = run(
        Sandbox::new(),
        &[
            "job",
            "stop",
            "-p",
            "tencent",
            "--job-id",
            "job-rybewp57",
            "-o",
            "text",
        ],
    )
    .await;
    assert_eq!(r.code, 2);
    assert_no_ansi(&r);
    let out = redact_elapsed(&r.stdout);
    assert!(out.starts_with("error (usage"), "{out}");
    assert!(out.trim_end().ends_with("(ELAPSED ms)"), "{out}");
}

/// Not a terminal: no colour even when nothing else forbids it; with `NO_COLOR` or
/// `TERM=dumb` none either.
#[tokio::test(flavor = "multi_thread")]
async fn no_ansi_when_not_a_terminal_or_with_no_color() {
    let args = [
        "job",
        "stop",
        "-p",
        "tencent",
        "--region",
        "ap-guangzhou",
        "--job-id",
        "job-rybewp57,job-aaaaaaaa",
        "--dry-run",
        "-o",
        "text",
        "-vv",
    ];
    for (k, v) in [
        ("NO_COLOR", ""),
        ("NO_COLOR", "1"),
        ("TERM", "dumb"),
        ("CLICOLOR_FORCE", "1"),
    ] {
        let sb = Sandbox::new()
            .env("TERM", "xterm-256color")
            .env("NO_COLOR", "")
            .env(k, v);
        let r = run(sb, &args).await;
        assert_eq!(r.code, 0, "{}", r.stderr);
        assert_no_ansi(&r);
        assert!(r.stdout.contains("job-aaaaaaaa"));
    }
}

// ---------------------------------------------------------------------------------
// Progress: nothing of it when stderr is not a terminal

#[tokio::test(flavor = "multi_thread")]
async fn no_progress_output_when_stderr_is_not_a_terminal() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(header("X-TC-Action", "TerminateJob"))
        .respond_with(ok())
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(header("X-TC-Action", "DescribeJob"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"Response": {
                "JobId": "job-rybewp57", "JobState": "FAILED", "RequestId": "d"
            }})),
        )
        .mount(&server)
        .await;
    let uri = server.uri();
    let sb = creds().env("TERM", "xterm-256color").env("NO_COLOR", "");
    let r = run(
        sb,
        &stop(
            &uri,
            &[
                "--job-id",
                "job-rybewp57",
                "--wait",
                "--poll-interval",
                "50ms",
                "--wait-timeout",
                "20s",
                "--rate",
                "100",
            ],
        ),
    )
    .await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(r.stderr, "", "stderr must stay empty without a terminal");
    assert_valid(&r.json());
}

// ---------------------------------------------------------------------------------
// providers

#[tokio::test(flavor = "multi_thread")]
async fn providers_table_lists_operations_and_credential_sources() {
    let r = run(Sandbox::new(), &["providers"]).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_no_ansi(&r);
    let first = r.stdout.lines().next().unwrap();
    for col in ["PROVIDER", "JOB STOP", "SERVER STOP", "CLUSTER DELETE"] {
        assert!(first.contains(col), "{first}");
    }
    for needle in [
        "TENCENTCLOUD_SECRET_ID",
        "HUAWEICLOUD_SDK_AK",
        "QINGCLOUD_ACCESS_KEY_ID",
        "QINGCLOUD_ZONE",
        "CLOUDSTOP_RUN_USER",
        "~/.huaweicloud/credentials",
        "~/.qingcloud/config.yaml",
        "nowhere",
    ] {
        assert!(r.stdout.contains(needle), "{needle} missing:\n{}", r.stdout);
    }
    let tencent = r
        .stdout
        .lines()
        .find(|l| l.starts_with("tencent "))
        .unwrap();
    assert!(
        tencent.contains("yes") && tencent.ends_with("not found"),
        "{tencent}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn providers_json_names_sources_but_never_secrets() {
    let sb = creds()
        .env("QINGCLOUD_ACCESS_KEY", "QYACCESSKEYVALUE")
        .env("QINGCLOUD_SECRET_KEY", "qingcloud-secret-never-printed");
    sb.write(
        ".huaweicloud/credentials",
        "[basic]\nak = HWAKVALUE\nsk = huawei-secret-never-printed\n",
    );
    let r = run(sb, &["providers", "-o", "json"]).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    for secret in [
        KEY,
        ID,
        "QYACCESSKEYVALUE",
        "qingcloud-secret-never-printed",
        "huawei-secret-never-printed",
        "HWAKVALUE",
    ] {
        assert!(!r.stdout.contains(secret), "{secret} printed");
    }
    let v = r.json();
    assert_eq!(v["profile"], "default");
    let by = |name: &str| -> Value {
        v["providers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["provider"] == name)
            .cloned()
            .unwrap()
    };
    assert!(by("tencent")["operations"]
        .as_array()
        .unwrap()
        .contains(&json!("job stop")));
    assert_eq!(by("tencent")["credentials"]["found"]["source"], "env");
    assert_eq!(
        by("qingcloud")["credentials"]["found"]["detail"],
        "QINGCLOUD_ACCESS_KEY + QINGCLOUD_SECRET_KEY"
    );
    let hw = by("huawei");
    assert_eq!(hw["credentials"]["found"]["source"], "file");
    assert!(hw["credentials"]["found"]["detail"]
        .as_str()
        .unwrap()
        .ends_with(".huaweicloud/credentials"));
}

#[tokio::test(flavor = "multi_thread")]
async fn providers_reads_the_chosen_profile() {
    let sb = Sandbox::new();
    let cfg = sb.write(
        ".config/cloudstop/config.toml",
        "[profiles.prod.tencent]\nsecret_id = \"AKIDPROFILE\"\nsecret_key = \"profile-secret\"\n",
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&cfg, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let r = run(sb, &["providers", "--profile", "prod"]).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(!r.stdout.contains("profile-secret") && !r.stdout.contains("AKIDPROFILE"));
    let tencent = r
        .stdout
        .lines()
        .find(|l| l.starts_with("tencent "))
        .unwrap();
    assert!(tencent.ends_with("profile"), "{tencent}");
    assert!(r.stdout.contains("Profile \"prod\""));
}

// ---------------------------------------------------------------------------------
// completions, man, --help

#[test]
fn completions_for_every_shell() {
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let r = Sandbox::new().run(&["completions", shell]);
        assert_eq!(r.code, 0, "{shell}: {}", r.stderr);
        assert!(r.stdout.len() > 200, "{shell}: too short");
        assert!(r.stdout.contains("cloudstop"), "{shell}");
        assert!(r.stdout.contains("provider"), "{shell}");
    }
    let r = Sandbox::new().run(&["completions", "tcsh"]);
    assert_eq!(r.code, 2);
}

#[test]
fn man_page_is_roff_with_every_verb() {
    let r = Sandbox::new().run(&["man"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.starts_with(".TH") || r.stdout.starts_with(".ie"),
        "{}",
        &r.stdout[..80.min(r.stdout.len())]
    );
    assert!(r.stdout.contains(".TH cloudstop 1"));
    for section in [
        "CLOUDSTOP JOB STOP",
        "CLOUDSTOP SERVER STOP",
        "CLOUDSTOP CLUSTER DELETE",
        "CLOUDSTOP PROVIDERS",
        "CLOUDSTOP COMPLETIONS",
    ] {
        assert!(r.stdout.contains(section), "{section}");
    }
    assert!(r.stdout.contains("\\-\\-ignore\\-missing"));
}

#[test]
fn every_verb_has_an_example_in_its_help() {
    let verbs: [&[&str]; 10] = [
        &[],
        &["job"],
        &["job", "stop"],
        &["server"],
        &["server", "stop"],
        &["cluster"],
        &["cluster", "delete"],
        &["providers"],
        &["completions"],
        &["man"],
    ];
    for verb in verbs {
        let mut args = verb.to_vec();
        args.push("--help");
        let r = Sandbox::new().run(&args);
        assert_eq!(r.code, 0, "{args:?}: {}", r.stderr);
        assert!(r.stdout.contains("Example"), "{args:?} has no example");
        assert!(r.stdout.contains("cloudstop "), "{args:?}");
    }
}

#[test]
fn clap_errors_keep_exit_2_and_leave_stdout_empty() {
    for args in [
        &["job", "stop", "--bogus"][..],
        &["job", "stop", "-p", "tencent", "-o", "yaml"],
        &["providers", "--output", "xml"],
        &["frobnicate"],
    ] {
        let r = Sandbox::new().run(args);
        assert_eq!(r.code, 2, "{args:?}");
        assert_eq!(r.stdout, "", "{args:?}");
        assert!(!r.stderr.is_empty());
    }
}
