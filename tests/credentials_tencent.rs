//! Tencent Cloud credentials without stored keys, through the binary against wiremock
//! (SPEC "Credentials" 4–5 and assume-role; PROVIDERS.md §6a): web identity from a
//! token file or the GitHub Actions runner, the CVM role from the metadata service,
//! AssumeRole from a profile's `role_arn` or a tccli profile, the chain's order,
//! renewal during a long `--wait`, and what fails with exit 3.

mod common;

use common::{Run, Sandbox};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use wiremock::matchers::{header, method, path, query_param};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const JOB: &str = "job-rybewp57";
const ID_TOKEN: &str = "eyJhbGciOi.web-identity-token-never-printed.sig";
const TMP_KEY: &str = "tmp-secret-key-never-printed";
const TMP_TOKEN: &str = "tmp-session-token-never-printed";
const ROLE: &str = "qcs::cam::uin/100000000001:roleName/cloudstop";

/// STS answers: `TmpSecretId` `AKIDTMP<n>`, expiring `lifetimes[n]` seconds from when
/// it answers (the last lifetime repeats).
struct Sts {
    calls: Arc<AtomicUsize>,
    lifetimes: Vec<i64>,
}

impl Respond for Sts {
    fn respond(&self, _: &Request) -> ResponseTemplate {
        let n = self.calls.fetch_add(1, Ordering::SeqCst);
        let life = self.lifetimes[n.min(self.lifetimes.len() - 1)];
        let expires = chrono::Utc::now().timestamp() + life;
        ResponseTemplate::new(200).set_body_json(json!({"Response": {
            "Credentials": {"TmpSecretId": format!("AKIDTMP{n}"), "TmpSecretKey": TMP_KEY, "Token": TMP_TOKEN},
            "ExpiredTime": expires,
            "Expiration": "2030-01-01T00:00:00Z",
            "RequestId": "sts-req"
        }}))
    }
}

async fn mount_sts(server: &MockServer, action: &str, lifetimes: Vec<i64>) -> Arc<AtomicUsize> {
    let calls = Arc::new(AtomicUsize::new(0));
    Mock::given(header("X-TC-Action", action))
        .respond_with(Sts {
            calls: calls.clone(),
            lifetimes,
        })
        .mount(server)
        .await;
    calls
}

async fn mount_terminate(server: &MockServer, expect: u64) {
    Mock::given(header("X-TC-Action", "TerminateJob"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"Response": {"RequestId": "r"}})),
        )
        .expect(expect)
        .mount(server)
        .await;
}

fn key_id(r: &Request) -> String {
    let auth = r.headers.get("authorization").unwrap().to_str().unwrap();
    let start = auth.find("Credential=").unwrap() + "Credential=".len();
    auth[start..].split('/').next().unwrap().to_string()
}

fn hdr<'a>(r: &'a Request, name: &str) -> Option<&'a str> {
    r.headers.get(name).and_then(|v| v.to_str().ok())
}

fn action_requests(all: &[Request], action: &str) -> Vec<Request> {
    all.iter()
        .filter(|r| hdr(r, "x-tc-action") == Some(action))
        .cloned()
        .collect()
}

fn args<'a>(uri: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut v = vec![
        "job",
        "stop",
        "-p",
        "tencent",
        "--region",
        "ap-guangzhou",
        "--endpoint",
        uri,
        "--job-id",
        JOB,
    ];
    v.extend_from_slice(extra);
    v
}

fn web_identity(sb: Sandbox) -> Sandbox {
    let token = sb.write("token/oidc", &format!("{ID_TOKEN}\n"));
    sb.env("TKE_REGION", "ap-shanghai")
        .env("TKE_PROVIDER_ID", "github-oidc")
        .env("TKE_ROLE_ARN", ROLE)
        .env("TKE_WEB_IDENTITY_TOKEN_FILE", token.to_str().unwrap())
}

fn assert_no_secrets(r: &Run, extra: &[&str]) {
    for s in [ID_TOKEN, TMP_KEY, TMP_TOKEN].iter().chain(extra) {
        assert!(
            !r.stdout.contains(s) && !r.stderr.contains(s),
            "{s} leaked:\n{}\n{}",
            r.stdout,
            r.stderr
        );
    }
}

fn private(sb: &Sandbox, rel: &str, content: &str) {
    let p = sb.write(rel, content);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn web_identity_token_file_is_exchanged_unsigned_and_the_token_goes_in_x_tc_token() {
    let server = MockServer::start().await;
    let sts = mount_sts(&server, "AssumeRoleWithWebIdentity", vec![7200]).await;
    mount_terminate(&server, 1).await;
    let uri = server.uri();
    let sb = web_identity(Sandbox::new());
    let r = sb.run_async(&args(&uri, &["-vvv"])).await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(sts.load(Ordering::SeqCst), 1);
    let all = server.received_requests().await.unwrap();
    let wi = &action_requests(&all, "AssumeRoleWithWebIdentity")[0];
    assert_eq!(hdr(wi, "authorization"), Some("SKIP"));
    assert_eq!(hdr(wi, "x-tc-version"), Some("2018-08-13"));
    assert_eq!(hdr(wi, "x-tc-region"), Some("ap-shanghai"));
    assert!(hdr(wi, "x-tc-token").is_none());
    let body: Value = serde_json::from_slice(&wi.body).unwrap();
    assert_eq!(body["ProviderId"], "github-oidc");
    assert_eq!(body["WebIdentityToken"], ID_TOKEN, "trimmed file contents");
    assert_eq!(body["RoleArn"], ROLE);
    assert!(body["RoleSessionName"]
        .as_str()
        .unwrap()
        .starts_with("cloudstop-"));
    let stop = &action_requests(&all, "TerminateJob")[0];
    assert_eq!(key_id(stop), "AKIDTMP0");
    assert_eq!(hdr(stop, "x-tc-token"), Some(TMP_TOKEN));
    assert!(hdr(stop, "authorization")
        .unwrap()
        .contains("SignedHeaders=content-type;host,"));
    assert!(r.stderr.contains("web-identity"), "{}", r.stderr);
    assert_no_secrets(&r, &[]);
}

#[tokio::test(flavor = "multi_thread")]
async fn github_actions_token_is_requested_with_the_audience() {
    let server = MockServer::start().await;
    let sts = mount_sts(&server, "AssumeRoleWithWebIdentity", vec![7200]).await;
    mount_terminate(&server, 1).await;
    Mock::given(method("GET"))
        .and(path("/_apis/token"))
        .and(query_param("api-version", "2.0"))
        .and(query_param("audience", "sts.tencentcloudapi.com"))
        .and(header(
            "authorization",
            "Bearer runner-request-token-secret",
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"value": ID_TOKEN})))
        .expect(1)
        .mount(&server)
        .await;
    let uri = server.uri();
    let sb = Sandbox::new()
        .env("TKE_PROVIDER_ID", "github-oidc")
        .env("TKE_ROLE_ARN", ROLE)
        .env(
            "ACTIONS_ID_TOKEN_REQUEST_URL",
            &format!("{uri}/_apis/token?api-version=2.0"),
        )
        .env(
            "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
            "runner-request-token-secret",
        )
        .env("CLOUDSTOP_OIDC_AUDIENCE", "sts.tencentcloudapi.com");
    let r = sb.run_async(&args(&uri, &["-vvv"])).await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(sts.load(Ordering::SeqCst), 1);
    let all = server.received_requests().await.unwrap();
    let body: Value =
        serde_json::from_slice(&action_requests(&all, "AssumeRoleWithWebIdentity")[0].body)
            .unwrap();
    assert_eq!(body["WebIdentityToken"], ID_TOKEN);
    // The runner's region is the run's when TKE_REGION is not set.
    assert_eq!(
        hdr(
            &action_requests(&all, "AssumeRoleWithWebIdentity")[0],
            "x-tc-region"
        ),
        Some("ap-guangzhou")
    );
    assert_no_secrets(&r, &["runner-request-token-secret"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_or_missing_token_files_and_half_configurations_are_exit_3() {
    let server = MockServer::start().await;
    mount_terminate(&server, 0).await;
    let uri = server.uri();
    // Missing file.
    let sb = web_identity(Sandbox::new()).env("TKE_WEB_IDENTITY_TOKEN_FILE", "/nonexistent/token");
    let r = sb.run_async(&args(&uri, &[])).await;
    assert_eq!(r.code, 3, "{}", r.stdout);
    let msg = r.json()["error"]["message"].as_str().unwrap().to_string();
    assert!(
        msg.contains("/nonexistent/token") && msg.contains("TKE_WEB_IDENTITY_TOKEN_FILE"),
        "{msg}"
    );
    // Empty file.
    let sb = Sandbox::new();
    let empty = sb.write("token/empty", "  \n");
    let sb = web_identity(sb).env("TKE_WEB_IDENTITY_TOKEN_FILE", empty.to_str().unwrap());
    let r = sb.run_async(&args(&uri, &[])).await;
    assert_eq!(r.code, 3, "{}", r.stdout);
    assert!(r.json()["error"]["message"]
        .as_str()
        .unwrap()
        .contains("is empty"));
    // A role without a provider id.
    let sb = Sandbox::new().env("TKE_ROLE_ARN", ROLE);
    let r = sb.run_async(&args(&uri, &[])).await;
    assert_eq!(r.code, 3, "{}", r.stdout);
    assert!(r.json()["error"]["message"]
        .as_str()
        .unwrap()
        .contains("TKE_PROVIDER_ID"));
    // Role and provider, but no token anywhere.
    let sb = Sandbox::new()
        .env("TKE_ROLE_ARN", ROLE)
        .env("TKE_PROVIDER_ID", "p");
    let r = sb.run_async(&args(&uri, &[])).await;
    assert_eq!(r.code, 3, "{}", r.stdout);
    assert!(r.json()["error"]["message"]
        .as_str()
        .unwrap()
        .contains("id-token: write"));
}

#[tokio::test(flavor = "multi_thread")]
async fn sts_refusals_are_exit_3_and_nothing_is_sent() {
    for (code, kind) in [
        ("InvalidParameter.WebIdentityTokenError", "auth"),
        ("ResourceNotFound.RoleNotFound", "config"),
        ("UnauthorizedOperation", "permission"),
    ] {
        let server = MockServer::start().await;
        Mock::given(header("X-TC-Action", "AssumeRoleWithWebIdentity"))
            .respond_with(
                ResponseTemplate::new(200).set_body_json(json!({"Response": {
                    "Error": {"Code": code, "Message": format!("mock {code}")}, "RequestId": "x"
                }})),
            )
            .expect(1)
            .mount(&server)
            .await;
        mount_terminate(&server, 0).await;
        let uri = server.uri();
        let r = web_identity(Sandbox::new())
            .run_async(&args(&uri, &[]))
            .await;
        assert_eq!(r.code, 3, "{code}: {}", r.stdout);
        let v = r.json();
        assert_eq!(v["error"]["kind"], kind, "{code}");
        assert_eq!(v["error"]["code"], code);
        assert!(v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("web-identity"));
        assert_no_secrets(&r, &[]);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn cvm_role_from_the_metadata_service_and_none_off_the_cloud() {
    let server = MockServer::start().await;
    mount_terminate(&server, 1).await;
    let md = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/latest/meta-data/cam/security-credentials/"))
        .respond_with(ResponseTemplate::new(200).set_body_string("cloudstop-role\n"))
        .expect(1)
        .mount(&md)
        .await;
    let expires = chrono::Utc::now().timestamp() + 7200;
    Mock::given(method("GET"))
        .and(path(
            "/latest/meta-data/cam/security-credentials/cloudstop-role",
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "TmpSecretId": "AKIDCVMROLE", "TmpSecretKey": TMP_KEY, "Token": TMP_TOKEN,
            "ExpiredTime": expires, "Expiration": "2030-01-01T00:00:00Z", "Code": "Success"
        })))
        .expect(1)
        .mount(&md)
        .await;
    let uri = server.uri();
    let sb = Sandbox::new().env("CLOUDSTOP_TENCENT_METADATA_ENDPOINT", &md.uri());
    let r = sb.run_async(&args(&uri, &["-v"])).await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let all = server.received_requests().await.unwrap();
    assert_eq!(key_id(&all[0]), "AKIDCVMROLE");
    assert_eq!(hdr(&all[0], "x-tc-token"), Some(TMP_TOKEN));
    assert!(r.stderr.contains("instance-role"), "{}", r.stderr);
    assert_no_secrets(&r, &[]);

    // No role bound (404): exit 3 naming what would provide credentials.
    let md = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(404))
        .mount(&md)
        .await;
    let sb = Sandbox::new().env("CLOUDSTOP_TENCENT_METADATA_ENDPOINT", &md.uri());
    let r = sb.run_async(&args(&uri, &[])).await;
    assert_eq!(r.code, 3, "{}", r.stdout);
    let msg = r.json()["error"]["message"].as_str().unwrap().to_string();
    assert!(
        msg.contains("no CVM role") && msg.contains("TENCENTCLOUD_SECRET_ID"),
        "{msg}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn chain_order_keys_then_web_identity_then_instance_role() {
    // Environment keys beat web identity and the instance role: neither is asked.
    let server = MockServer::start().await;
    let sts = mount_sts(&server, "AssumeRoleWithWebIdentity", vec![7200]).await;
    mount_terminate(&server, 2).await;
    let md = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_string("role"))
        .expect(0)
        .mount(&md)
        .await;
    let uri = server.uri();
    let sb = web_identity(Sandbox::new())
        .env("TENCENTCLOUD_SECRET_ID", "AKIDSTATIC")
        .env("TENCENTCLOUD_SECRET_KEY", "static-secret")
        .env("CLOUDSTOP_TENCENT_METADATA_ENDPOINT", &md.uri());
    let r = sb.run_async(&args(&uri, &[])).await;
    assert_eq!(r.code, 0, "{}", r.stdout);
    assert_eq!(sts.load(Ordering::SeqCst), 0);
    // Web identity beats the instance role.
    let sb = web_identity(Sandbox::new()).env("CLOUDSTOP_TENCENT_METADATA_ENDPOINT", &md.uri());
    let r = sb.run_async(&args(&uri, &[])).await;
    assert_eq!(r.code, 0, "{}", r.stdout);
    assert_eq!(sts.load(Ordering::SeqCst), 1);
    let stops = action_requests(&server.received_requests().await.unwrap(), "TerminateJob");
    assert_eq!(key_id(&stops[0]), "AKIDSTATIC");
    assert_eq!(key_id(&stops[1]), "AKIDTMP0");
}

#[tokio::test(flavor = "multi_thread")]
async fn profile_role_arn_is_assumed_with_the_keys_found_and_tccli_roles_too() {
    let server = MockServer::start().await;
    let sts = mount_sts(&server, "AssumeRole", vec![7200]).await;
    mount_terminate(&server, 2).await;
    let uri = server.uri();
    let sb = Sandbox::new()
        .env("TENCENTCLOUD_SECRET_ID", "AKIDBASEKEY")
        .env("TENCENTCLOUD_SECRET_KEY", "base-secret-never-printed");
    private(
        &sb,
        ".config/cloudstop/config.toml",
        &format!(
            "[profiles.default.tencent]\nrole_arn = \"{ROLE}\"\nrole_session_name = \"ci-teardown\"\nduration = \"2h\"\n"
        ),
    );
    let r = sb.run_async(&args(&uri, &["-v"])).await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("assume-role"), "{}", r.stderr);
    assert_no_secrets(&r, &["base-secret-never-printed"]);
    let all = server.received_requests().await.unwrap();
    let ar = &action_requests(&all, "AssumeRole")[0];
    // Signed (TC3, scope service sts) with the keys found first.
    assert_eq!(key_id(ar), "AKIDBASEKEY");
    assert!(hdr(ar, "authorization")
        .unwrap()
        .contains("/sts/tc3_request"));
    assert_eq!(hdr(ar, "x-tc-version"), Some("2018-08-13"));
    let body: Value = serde_json::from_slice(&ar.body).unwrap();
    assert_eq!(
        body,
        json!({"RoleArn": ROLE, "RoleSessionName": "ci-teardown", "DurationSeconds": 7200})
    );
    assert_eq!(
        key_id(&action_requests(&all, "TerminateJob")[0]),
        "AKIDTMP0"
    );

    // tccli: role-arn + role-session-name are assumed as tccli does, never the base key.
    let sb = Sandbox::new();
    sb.write(
        ".tccli/default.credential",
        &format!(
            r#"{{"secretId": "AKIDTCCLIBASE", "secretKey": "tccli-base-secret", "role-arn": "{ROLE}", "role-session-name": "tccli-session"}}"#
        ),
    );
    let r = sb.run_async(&args(&uri, &[])).await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(sts.load(Ordering::SeqCst), 2);
    let all = server.received_requests().await.unwrap();
    let ar = &action_requests(&all, "AssumeRole")[1];
    assert_eq!(key_id(ar), "AKIDTCCLIBASE");
    let body: Value = serde_json::from_slice(&ar.body).unwrap();
    assert_eq!(body["RoleSessionName"], "tccli-session");
    assert_eq!(
        key_id(&action_requests(&all, "TerminateJob")[1]),
        "AKIDTMP1"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn keys_are_renewed_once_during_a_long_wait() {
    let server = MockServer::start().await;
    // First keys expire in just over 5 minutes: renewed once, the next ones live an hour.
    let sts = mount_sts(&server, "AssumeRoleWithWebIdentity", vec![303, 3600]).await;
    mount_terminate(&server, 1).await;
    let running = Arc::new(AtomicUsize::new(0));
    struct Describe(Arc<AtomicUsize>);
    impl Respond for Describe {
        fn respond(&self, _: &Request) -> ResponseTemplate {
            let n = self.0.fetch_add(1, Ordering::SeqCst);
            let state = if n < 4 { "RUNNING" } else { "FAILED" };
            ResponseTemplate::new(200).set_body_json(json!({"Response": {
                "JobId": JOB, "JobState": state, "RequestId": "d"
            }}))
        }
    }
    Mock::given(header("X-TC-Action", "DescribeJob"))
        .respond_with(Describe(running.clone()))
        .mount(&server)
        .await;
    let uri = server.uri();
    let r = web_identity(Sandbox::new())
        .run_async(&args(
            &uri,
            &["--wait", "--poll-interval", "1s", "--rate", "100", "-v"],
        ))
        .await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(r.json()["results"][0]["status"], "stopped");
    assert_eq!(sts.load(Ordering::SeqCst), 2, "renewed exactly once");
    let all = server.received_requests().await.unwrap();
    assert_eq!(
        key_id(&action_requests(&all, "TerminateJob")[0]),
        "AKIDTMP0"
    );
    let polls = action_requests(&all, "DescribeJob");
    assert_eq!(key_id(polls.last().unwrap()), "AKIDTMP1");
    assert!(r.stderr.contains("renewed"), "{}", r.stderr);
    assert_no_secrets(&r, &[]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_renewal_stops_sending_with_exit_3() {
    let server = MockServer::start().await;
    // Keys that need renewing at once; the renewal is refused.
    Mock::given(header("X-TC-Action", "AssumeRoleWithWebIdentity"))
        .respond_with(Sts {
            calls: Arc::new(AtomicUsize::new(0)),
            lifetimes: vec![303],
        })
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(header("X-TC-Action", "AssumeRoleWithWebIdentity"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"Response": {
            "Error": {"Code": "InvalidParameter.WebIdentityTokenError", "Message": "expired token"},
            "RequestId": "x"
        }})))
        .mount(&server)
        .await;
    mount_terminate(&server, 1).await;
    Mock::given(header("X-TC-Action", "DescribeJob"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"Response": {
                "JobId": JOB, "JobState": "RUNNING", "RequestId": "d"
            }})),
        )
        .mount(&server)
        .await;
    let uri = server.uri();
    let r = web_identity(Sandbox::new())
        .run_async(&args(
            &uri,
            &["--wait", "--poll-interval", "1s", "--wait-timeout", "20s"],
        ))
        .await;
    assert_eq!(r.code, 3, "{}\n{}", r.stdout, r.stderr);
    let all = server.received_requests().await.unwrap();
    // Nothing signed with keys that could not be renewed.
    for p in action_requests(&all, "DescribeJob") {
        assert_eq!(key_id(&p), "AKIDTMP0");
    }
    assert!(r.stdout.contains("renew"), "{}", r.stdout);
    assert_no_secrets(&r, &[]);
}

#[tokio::test(flavor = "multi_thread")]
async fn providers_names_the_source_a_run_would_use() {
    let found = |r: &Run, p: &str| -> Value {
        r.json()["providers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["provider"] == p)
            .unwrap()["credentials"]["found"]["source"]
            .clone()
    };
    let r = web_identity(Sandbox::new())
        .run_async(&["providers", "-o", "json"])
        .await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(found(&r, "tencent"), "web-identity");
    assert_no_secrets(&r, &[]);

    let md = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/latest/meta-data/cam/security-credentials/"))
        .respond_with(ResponseTemplate::new(200).set_body_string("cloudstop-role"))
        .expect(1)
        .mount(&md)
        .await;
    let r = Sandbox::new()
        .env("CLOUDSTOP_TENCENT_METADATA_ENDPOINT", &md.uri())
        .run_async(&["providers", "-o", "json"])
        .await;
    assert_eq!(found(&r, "tencent"), "instance-role");
    assert_eq!(
        r.json()["providers"][2]["credentials"]["static_keys_only"],
        json!(r.json()["providers"][2]["provider"] == "qingcloud")
    );

    let sb = Sandbox::new()
        .env("TENCENTCLOUD_SECRET_ID", "AKIDBASEKEY")
        .env("TENCENTCLOUD_SECRET_KEY", "base-secret-never-printed");
    private(
        &sb,
        ".config/cloudstop/config.toml",
        &format!("[profiles.default.tencent]\nrole_arn = \"{ROLE}\"\n"),
    );
    let r = sb.run_async(&["providers"]).await;
    let row = r
        .stdout
        .lines()
        .find(|l| l.starts_with("tencent "))
        .unwrap();
    assert!(row.ends_with("assume-role"), "{row}");
    assert!(r.stdout.contains("static keys only"), "{}", r.stdout);
    assert_no_secrets(&r, &["base-secret-never-printed", "AKIDBASEKEY"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn tccli_cvm_role_profiles_use_the_instance_role() {
    let server = MockServer::start().await;
    mount_terminate(&server, 1).await;
    let md = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/latest/meta-data/cam/security-credentials/"))
        .respond_with(ResponseTemplate::new(200).set_body_string("tccli-role"))
        .mount(&md)
        .await;
    Mock::given(method("GET"))
        .and(path(
            "/latest/meta-data/cam/security-credentials/tccli-role",
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "TmpSecretId": "AKIDTCCLICVM", "TmpSecretKey": TMP_KEY, "Token": TMP_TOKEN,
            "ExpiredTime": chrono::Utc::now().timestamp() + 7200, "Code": "Success"
        })))
        .mount(&md)
        .await;
    let sb = Sandbox::new().env("CLOUDSTOP_TENCENT_METADATA_ENDPOINT", &md.uri());
    sb.write(".tccli/default.credential", r#"{"type": "cvm-role"}"#);
    let uri = server.uri();
    let r = sb.run_async(&args(&uri, &["-v"])).await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(
        key_id(&server.received_requests().await.unwrap()[0]),
        "AKIDTCCLICVM"
    );
    assert!(r.stderr.contains("instance-role"), "{}", r.stderr);
}

#[tokio::test(flavor = "multi_thread")]
async fn dry_run_fetches_no_temporary_keys() {
    let server = MockServer::start().await;
    let sts = mount_sts(&server, "AssumeRoleWithWebIdentity", vec![7200]).await;
    mount_terminate(&server, 0).await;
    let uri = server.uri();
    let r = web_identity(Sandbox::new())
        .run_async(&args(&uri, &["--dry-run", "-v"]))
        .await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(sts.load(Ordering::SeqCst), 0);
    assert_eq!(r.json()["requests"][0]["credentials"], "placeholder");
    assert!(
        r.stderr
            .contains("would use tencent credentials from web-identity"),
        "{}",
        r.stderr
    );
    assert_no_secrets(&r, &[]);
}

/// A run over several regions shares the run's temporary keys: one exchange for the
/// region list and every region, and every call signed with them.
#[tokio::test(flavor = "multi_thread")]
async fn several_regions_share_one_exchange_of_the_web_identity() {
    let server = MockServer::start().await;
    let sts = mount_sts(&server, "AssumeRoleWithWebIdentity", vec![7200]).await;
    let ok = |data: Value| {
        let mut d = data;
        d["RequestId"] = "r".into();
        ResponseTemplate::new(200).set_body_json(json!({ "Response": d }))
    };
    Mock::given(header("X-TC-Action", "DescribeRegions"))
        .respond_with(ok(json!({"RegionSet": [
            {"Region": "ap-guangzhou", "RegionState": "AVAILABLE"},
            {"Region": "ap-shanghai", "RegionState": "AVAILABLE"}], "TotalCount": 2})))
        .expect(1)
        .mount(&server)
        .await;
    for (region, id) in [
        ("ap-guangzhou", "ins-aaaa0001"),
        ("ap-shanghai", "ins-bbbb0001"),
    ] {
        Mock::given(header("X-TC-Action", "DescribeInstances"))
            .and(header("X-TC-Region", region))
            .respond_with(ok(json!({"InstanceSet": [
                {"InstanceId": id, "InstanceName": "ci-1", "InstanceState": "RUNNING",
                 "Tags": [{"Key": "env", "Value": "dev"}]}], "TotalCount": 1})))
            .expect(1)
            .mount(&server)
            .await;
    }
    Mock::given(header("X-TC-Action", "StopInstances"))
        .respond_with(ok(json!({})))
        .expect(2)
        .mount(&server)
        .await;
    let uri = server.uri();
    let r = web_identity(Sandbox::new())
        .run_async(&[
            "server",
            "stop",
            "-p",
            "tencent",
            "--region",
            "all",
            "--endpoint",
            &uri,
            "--rate",
            "500",
            "--tag",
            "env=dev",
        ])
        .await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(
        sts.load(Ordering::SeqCst),
        1,
        "one exchange for the whole run"
    );
    let all = server.received_requests().await.unwrap();
    for action in ["DescribeRegions", "DescribeInstances", "StopInstances"] {
        for req in action_requests(&all, action) {
            assert_eq!(key_id(&req), "AKIDTMP0", "{action}");
            assert_eq!(hdr(&req, "x-tc-token"), Some(TMP_TOKEN), "{action}");
        }
    }
    assert_no_secrets(&r, &[]);
}
