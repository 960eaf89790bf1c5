//! Huawei Cloud credentials without stored keys, through the binary against wiremock
//! (SPEC "Credentials" 4–5; PROVIDERS.md §6b): the IdP id-token flow from a token file
//! or the GitHub Actions runner, the ECS agency's keys from the metadata service, the
//! chain's order, and what fails with exit 3.

mod common;

use common::{Run, Sandbox};
use serde_json::{json, Value};
use wiremock::matchers::{body_json, header, method, path, query_param};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const PID: &str = "0a1b2c3d4e5f60718293a4b5c6d7e8f9";
const SERVER: &str = "616fb98f-46ca-475e-917e-2563e5a8cd19";
const ID_TOKEN: &str = "eyJhbGciOi.huawei-id-token-never-printed.sig";
const SUBJECT: &str = "MIIsubject-token-never-printed";
const TMP_SK: &str = "huawei-tmp-secret-never-printed";
const TMP_TOKEN: &str = "huawei-security-token-never-printed";

fn hdr<'a>(r: &'a Request, name: &str) -> Option<&'a str> {
    r.headers.get(name).and_then(|v| v.to_str().ok())
}

fn credential(ak: &str) -> Value {
    let expires = (chrono::Utc::now() + chrono::Duration::hours(6))
        .format("%Y-%m-%dT%H:%M:%S%.6fZ")
        .to_string();
    json!({"credential": {"access": ak, "secret": TMP_SK, "securitytoken": TMP_TOKEN, "expires_at": expires}})
}

async fn mount_ecs(server: &MockServer, expect: u64) {
    Mock::given(method("POST"))
        .and(path(format!("/v1/{PID}/cloudservers/action")))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"job_id": "ff808082889bd9690189061140c235fe"})),
        )
        .expect(expect)
        .mount(server)
        .await;
}

async fn mount_idp(server: &MockServer) {
    Mock::given(method("POST"))
        .and(path("/v3.0/OS-AUTH/id-token/tokens"))
        .and(header("X-Idp-Id", "github-idp"))
        .and(body_json(json!({"auth": {"id_token": {"id": ID_TOKEN}}})))
        .respond_with(ResponseTemplate::new(201).insert_header("X-Subject-Token", SUBJECT))
        .expect(1)
        .mount(server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v3.0/OS-CREDENTIAL/securitytokens"))
        .and(header("X-Auth-Token", SUBJECT))
        .and(body_json(json!({"auth": {"identity": {
            "methods": ["token"], "token": {"id": SUBJECT, "duration_seconds": 21600}
        }}})))
        .respond_with(ResponseTemplate::new(201).set_body_json(credential("AKIDPTEMP")))
        .expect(1)
        .mount(server)
        .await;
}

fn args(uri: &str, extra: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = [
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
        "--server-id",
        SERVER,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    v.extend(extra.iter().map(|s| s.to_string()));
    v
}

fn assert_no_secrets(r: &Run, extra: &[&str]) {
    for s in [ID_TOKEN, SUBJECT, TMP_SK, TMP_TOKEN].iter().chain(extra) {
        assert!(
            !r.stdout.contains(s) && !r.stderr.contains(s),
            "{s} leaked:\n{}\n{}",
            r.stdout,
            r.stderr
        );
    }
}

fn stop_request(all: &[Request]) -> Request {
    all.iter()
        .find(|r| r.url.path().ends_with("/cloudservers/action"))
        .cloned()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn idp_id_token_file_gives_temporary_keys_with_a_signed_security_token() {
    let server = MockServer::start().await;
    mount_idp(&server).await;
    mount_ecs(&server, 1).await;
    let uri = server.uri();
    let sb = Sandbox::new();
    let token = sb.write("token/id", &format!("{ID_TOKEN}\n"));
    let sb = sb
        .env("HUAWEICLOUD_SDK_IDP_ID", "github-idp")
        .env("HUAWEICLOUD_SDK_ID_TOKEN_FILE", token.to_str().unwrap())
        .env("HUAWEICLOUD_SDK_IAM_ENDPOINT", &uri);
    let r = sb.run_async(&args(&uri, &["-vvv"])).await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let stop = stop_request(&server.received_requests().await.unwrap());
    let auth = hdr(&stop, "authorization").unwrap();
    assert!(auth.contains("Access=AKIDPTEMP"), "{auth}");
    assert!(auth.contains(";x-security-token,"), "{auth}");
    assert_eq!(hdr(&stop, "x-security-token"), Some(TMP_TOKEN));
    assert!(r.stderr.contains("web-identity"), "{}", r.stderr);
    assert_no_secrets(&r, &[]);
}

#[tokio::test(flavor = "multi_thread")]
async fn idp_with_the_github_actions_token_and_the_profile_audience() {
    let server = MockServer::start().await;
    mount_idp(&server).await;
    mount_ecs(&server, 1).await;
    Mock::given(method("GET"))
        .and(path("/_apis/token"))
        .and(query_param("audience", "huawei-client-id"))
        .and(header("authorization", "Bearer runner-bearer-secret"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"value": ID_TOKEN})))
        .expect(1)
        .mount(&server)
        .await;
    let uri = server.uri();
    let sb = Sandbox::new()
        .env("HUAWEICLOUD_SDK_IDP_ID", "github-idp")
        .env("HUAWEICLOUD_SDK_IAM_ENDPOINT", &uri)
        .env(
            "ACTIONS_ID_TOKEN_REQUEST_URL",
            &format!("{uri}/_apis/token?api-version=2.0"),
        )
        .env("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "runner-bearer-secret");
    let cfg = sb.write(
        ".config/cloudstop/config.toml",
        "[profiles.default.huawei]\noidc_audience = \"huawei-client-id\"\n",
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&cfg, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let r = sb.run_async(&args(&uri, &["-vvv"])).await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_no_secrets(&r, &["runner-bearer-secret"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn idp_refusals_and_bad_token_files_are_exit_3() {
    for (status, kind) in [(401, "auth"), (400, "auth"), (403, "permission")] {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/v3.0/OS-AUTH/id-token/tokens"))
            .respond_with(ResponseTemplate::new(status).set_body_json(
                json!({"error": {"code": "IAM.0001", "message": "id token refused"}}),
            ))
            .mount(&server)
            .await;
        mount_ecs(&server, 0).await;
        let uri = server.uri();
        let sb = Sandbox::new();
        let token = sb.write("token/id", ID_TOKEN);
        let sb = sb
            .env("HUAWEICLOUD_SDK_IDP_ID", "github-idp")
            .env("HUAWEICLOUD_SDK_ID_TOKEN_FILE", token.to_str().unwrap())
            .env("HUAWEICLOUD_SDK_IAM_ENDPOINT", &uri);
        let r = sb.run_async(&args(&uri, &[])).await;
        assert_eq!(r.code, 3, "{status}: {}", r.stdout);
        assert_eq!(r.json()["error"]["kind"], kind, "{status}");
        assert_no_secrets(&r, &[]);
    }
    let server = MockServer::start().await;
    mount_ecs(&server, 0).await;
    let uri = server.uri();
    let sb = Sandbox::new()
        .env("HUAWEICLOUD_SDK_IDP_ID", "github-idp")
        .env("HUAWEICLOUD_SDK_ID_TOKEN_FILE", "/nonexistent/id-token")
        .env("HUAWEICLOUD_SDK_IAM_ENDPOINT", &uri);
    let r = sb.run_async(&args(&uri, &[])).await;
    assert_eq!(r.code, 3, "{}", r.stdout);
    let msg = r.json()["error"]["message"].as_str().unwrap().to_string();
    assert!(
        msg.contains("/nonexistent/id-token") && msg.contains("HUAWEICLOUD_SDK_ID_TOKEN_FILE"),
        "{msg}"
    );
    // An IdP without a token source.
    let sb = Sandbox::new().env("HUAWEICLOUD_SDK_IDP_ID", "github-idp");
    let r = sb.run_async(&args(&uri, &[])).await;
    assert_eq!(r.code, 3, "{}", r.stdout);
    assert!(r.json()["error"]["message"]
        .as_str()
        .unwrap()
        .contains("id-token: write"));
}

#[tokio::test(flavor = "multi_thread")]
async fn ecs_agency_keys_from_the_metadata_service() {
    let server = MockServer::start().await;
    mount_ecs(&server, 1).await;
    let md = MockServer::start().await;
    Mock::given(method("PUT"))
        .and(path("/meta-data/latest/api/token"))
        .and(header("X-Metadata-Token-Ttl-Seconds", "21600"))
        .respond_with(ResponseTemplate::new(200).set_body_string("metadata-session-secret"))
        .expect(1)
        .mount(&md)
        .await;
    Mock::given(method("GET"))
        .and(path("/openstack/latest/securitykey"))
        .and(header("X-Metadata-Token", "metadata-session-secret"))
        .respond_with(ResponseTemplate::new(200).set_body_json(credential("AKECSAGENCY")))
        .expect(1)
        .mount(&md)
        .await;
    let uri = server.uri();
    let sb = Sandbox::new().env("CLOUDSTOP_HUAWEI_METADATA_ENDPOINT", &md.uri());
    let r = sb.run_async(&args(&uri, &["-vvv"])).await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let stop = stop_request(&server.received_requests().await.unwrap());
    assert!(hdr(&stop, "authorization")
        .unwrap()
        .contains("Access=AKECSAGENCY"));
    assert_eq!(hdr(&stop, "x-security-token"), Some(TMP_TOKEN));
    assert!(r.stderr.contains("instance-role"), "{}", r.stderr);
    assert_no_secrets(&r, &["metadata-session-secret"]);

    // A server without an agency: exit 3 naming what would provide credentials.
    let md = MockServer::start().await;
    Mock::given(method("PUT"))
        .respond_with(ResponseTemplate::new(404))
        .mount(&md)
        .await;
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(401)
                .set_body_string("Please configure Cloud Service Agency first"),
        )
        .mount(&md)
        .await;
    let sb = Sandbox::new().env("CLOUDSTOP_HUAWEI_METADATA_ENDPOINT", &md.uri());
    let r = sb.run_async(&args(&uri, &[])).await;
    assert_eq!(r.code, 3, "{}", r.stdout);
    let msg = r.json()["error"]["message"].as_str().unwrap().to_string();
    assert!(
        msg.contains("no agency") && msg.contains("HUAWEICLOUD_SDK_AK"),
        "{msg}"
    );
    // Off the cloud (nobody listening): exit 3 at once.
    let r = Sandbox::new().run_async(&args(&uri, &[])).await;
    assert_eq!(r.code, 3, "{}", r.stdout);
    assert!(r.json()["error"]["message"]
        .as_str()
        .unwrap()
        .contains("did not answer"));
}

#[tokio::test(flavor = "multi_thread")]
async fn static_keys_go_before_the_idp_and_the_agency() {
    let server = MockServer::start().await;
    mount_ecs(&server, 1).await;
    Mock::given(method("POST"))
        .and(path("/v3.0/OS-AUTH/id-token/tokens"))
        .respond_with(ResponseTemplate::new(500))
        .expect(0)
        .mount(&server)
        .await;
    let uri = server.uri();
    let sb = Sandbox::new()
        .env("HUAWEICLOUD_SDK_AK", "AKSTATICHW")
        .env("HUAWEICLOUD_SDK_SK", "static-hw-secret")
        .env("HUAWEICLOUD_SDK_IDP_ID", "github-idp")
        .env("HUAWEICLOUD_SDK_ID_TOKEN_FILE", "/nonexistent/id-token")
        .env("HUAWEICLOUD_SDK_IAM_ENDPOINT", &uri);
    let r = sb.run_async(&args(&uri, &[])).await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let stop = stop_request(&server.received_requests().await.unwrap());
    assert!(hdr(&stop, "authorization")
        .unwrap()
        .contains("Access=AKSTATICHW"));
}

#[tokio::test(flavor = "multi_thread")]
async fn ecs_agency_keys_are_renewed_once_during_a_long_wait() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use wiremock::Respond;
    const JOB: &str = "ff808082889bd9690189061140c235fe";
    /// Keys `AKAGENCY<n>`, the first expiring just over 5 minutes from now.
    struct Agency(Arc<AtomicUsize>);
    impl Respond for Agency {
        fn respond(&self, _: &Request) -> ResponseTemplate {
            let n = self.0.fetch_add(1, Ordering::SeqCst);
            let life = if n == 0 { 303 } else { 86400 };
            let expires = (chrono::Utc::now() + chrono::Duration::seconds(life))
                .format("%Y-%m-%dT%H:%M:%S%.6fZ")
                .to_string();
            ResponseTemplate::new(200).set_body_json(json!({"credential": {
                "access": format!("AKAGENCY{n}"), "secret": TMP_SK,
                "securitytoken": TMP_TOKEN, "expires_at": expires
            }}))
        }
    }
    struct Job(Arc<AtomicUsize>);
    impl Respond for Job {
        fn respond(&self, _: &Request) -> ResponseTemplate {
            let n = self.0.fetch_add(1, Ordering::SeqCst);
            let status = if n < 3 { "RUNNING" } else { "SUCCESS" };
            ResponseTemplate::new(200).set_body_json(json!({
                "status": status, "job_id": JOB, "error_code": null, "fail_reason": null,
                "entities": {"sub_jobs_total": 1, "sub_jobs": [
                    {"status": status, "entities": {"server_id": SERVER}, "error_code": null}
                ]}
            }))
        }
    }
    let server = MockServer::start().await;
    mount_ecs(&server, 1).await;
    Mock::given(method("GET"))
        .and(path(format!("/v1/{PID}/jobs/{JOB}")))
        .respond_with(Job(Arc::new(AtomicUsize::new(0))))
        .mount(&server)
        .await;
    let md = MockServer::start().await;
    let fetched = Arc::new(AtomicUsize::new(0));
    Mock::given(method("GET"))
        .and(path("/openstack/latest/securitykey"))
        .respond_with(Agency(fetched.clone()))
        .mount(&md)
        .await;
    let uri = server.uri();
    let sb = Sandbox::new().env("CLOUDSTOP_HUAWEI_METADATA_ENDPOINT", &md.uri());
    let r = sb
        .run_async(&args(&uri, &["--wait", "--poll-interval", "1s", "-v"]))
        .await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(r.json()["results"][0]["status"], "stopped");
    assert_eq!(fetched.load(Ordering::SeqCst), 2, "renewed exactly once");
    let all = server.received_requests().await.unwrap();
    let access = |r: &Request| {
        let a = hdr(r, "authorization").unwrap();
        a[a.find("Access=").unwrap() + 7..]
            .split(',')
            .next()
            .unwrap()
            .to_string()
    };
    assert_eq!(access(&stop_request(&all)), "AKAGENCY0");
    let polls: Vec<&Request> = all
        .iter()
        .filter(|r| r.url.path().contains("/jobs/"))
        .collect();
    assert_eq!(access(polls.last().unwrap()), "AKAGENCY1");
    assert_no_secrets(&r, &[]);
}
