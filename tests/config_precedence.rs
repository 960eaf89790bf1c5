//! SPEC "Credentials, in order of precedence" and `--profile`/`--endpoint`, through the
//! binary: an explicit `--profile` wins as a whole, a named profile or config file that
//! does not exist is exit 3 with nothing sent, files that are not needed are not read,
//! and each QingCloud API reads the endpoint variables SPEC names.

mod common;

use common::{Run, Sandbox};
use serde_json::json;
use wiremock::matchers::{header, method, path, query_param};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const ENV_ID: &str = "AKIDFROMENVIRONMENT";
const ENV_KEY: &str = "env-secret-key-never-printed";
const JOB: &str = "job-rybewp57";

fn tencent_ok() -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({"Response": {"RequestId": "r"}}))
}

fn key_id(r: &Request) -> String {
    let auth = r.headers.get("authorization").unwrap().to_str().unwrap();
    let start = auth.find("Credential=").unwrap() + "Credential=".len();
    auth[start..].split('/').next().unwrap().to_string()
}

fn private(sb: &Sandbox, rel: &str, content: &str) -> std::path::PathBuf {
    let p = sb.write(rel, content);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    p
}

fn env_creds() -> Sandbox {
    Sandbox::new()
        .env("TENCENTCLOUD_SECRET_ID", ENV_ID)
        .env("TENCENTCLOUD_SECRET_KEY", ENV_KEY)
}

async fn run(sb: Sandbox, args: &[&str]) -> Run {
    sb.run_async(args).await
}

fn job_stop<'a>(extra: &[&'a str]) -> Vec<&'a str> {
    let mut v = vec!["job", "stop", "-p", "tencent", "--job-id", JOB];
    v.extend_from_slice(extra);
    v
}

async fn mock_tencent(expect: u64) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(header("X-TC-Action", "TerminateJob"))
        .respond_with(tencent_ok())
        .expect(expect)
        .mount(&server)
        .await;
    server
}

fn error_message(r: &Run) -> String {
    r.json()["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_mistyped_profile_is_exit_3_naming_the_profiles_that_exist() {
    let server = mock_tencent(0).await;
    let uri = server.uri();
    let sb = env_creds();
    private(
        &sb,
        ".config/cloudstop/config.toml",
        "[profiles.prod.tencent]\nsecret_id = \"AKIDPROD\"\nsecret_key = \"prod-secret\"\n\
         [profiles.ops.huawei]\nregion = \"cn-north-4\"\n",
    );
    sb.write(
        ".tccli/staging.credential",
        r#"{"secretId": "AKIDSTAGING", "secretKey": "staging-secret"}"#,
    );
    let r = run(
        sb,
        &job_stop(&[
            "--profile",
            "prdo",
            "--region",
            "ap-guangzhou",
            "--endpoint",
            &uri,
        ]),
    )
    .await;
    assert_eq!(r.code, 3, "{}", r.stdout);
    let v = r.json();
    assert_eq!(v["error"]["kind"], "config");
    let msg = error_message(&r);
    assert!(
        msg.contains("'prdo'") && msg.contains("prod") && msg.contains("staging"),
        "{msg}"
    );
    assert!(!msg.contains("ops"), "ops has no tencent settings: {msg}");

    // CLOUDSTOP_PROFILE names a profile just as explicitly.
    let sb = env_creds().env("CLOUDSTOP_PROFILE", "prdo");
    let r = run(
        sb,
        &job_stop(&["--region", "ap-guangzhou", "--endpoint", &uri]),
    )
    .await;
    assert_eq!(r.code, 3, "{}", r.stdout);
    assert!(error_message(&r).contains("CLOUDSTOP_PROFILE"));

    // A profile that exists only for another provider does not exist for this one.
    let sb = env_creds();
    private(
        &sb,
        ".config/cloudstop/config.toml",
        "[profiles.ops.huawei]\nregion = \"cn-north-4\"\n",
    );
    let r = run(
        sb,
        &job_stop(&[
            "--profile",
            "ops",
            "--region",
            "ap-guangzhou",
            "--endpoint",
            &uri,
        ]),
    )
    .await;
    assert_eq!(r.code, 3, "{}", r.stdout);
    assert!(error_message(&r).contains("huawei only"), "{}", r.stdout);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_missing_config_file_named_by_cloudstop_config_is_exit_3() {
    let server = mock_tencent(0).await;
    let uri = server.uri();
    let sb = env_creds().env("CLOUDSTOP_CONFIG", "/nonexistent/cloudstop/prod.toml");
    let r = run(
        sb,
        &job_stop(&["--region", "ap-guangzhou", "--endpoint", &uri]),
    )
    .await;
    assert_eq!(r.code, 3, "{}", r.stdout);
    let msg = error_message(&r);
    assert!(
        msg.contains("/nonexistent/cloudstop/prod.toml") && msg.contains("does not exist"),
        "{msg}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_explicit_profile_wins_as_a_whole_region_and_endpoint_included() {
    let prod = mock_tencent(1).await;
    let staging = mock_tencent(0).await;
    let sb = env_creds()
        .env("CLOUDSTOP_REGION", "ap-shanghai")
        .env("TENCENTCLOUD_REGION", "ap-beijing")
        .env("CLOUDSTOP_TENCENT_ENDPOINT", &staging.uri());
    private(
        &sb,
        ".config/cloudstop/config.toml",
        &format!(
            "[profiles.prod.tencent]\nsecret_id = \"AKIDPROD\"\nsecret_key = \"prod-secret\"\n\
             region = \"ap-guangzhou\"\nendpoint = \"{}\"\n",
            prod.uri()
        ),
    );
    let r = run(sb, &job_stop(&["--profile", "prod"])).await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(r.json()["location"]["region"], "ap-guangzhou");
    let reqs = prod.received_requests().await.unwrap();
    assert_eq!(key_id(&reqs[0]), "AKIDPROD");
    assert_eq!(reqs[0].headers.get("x-tc-region").unwrap(), "ap-guangzhou");

    // Without --profile the environment goes first, for every setting.
    let sb = env_creds()
        .env("CLOUDSTOP_REGION", "ap-shanghai")
        .env("CLOUDSTOP_TENCENT_ENDPOINT", &staging.uri());
    private(
        &sb,
        ".config/cloudstop/config.toml",
        &format!(
            "[profiles.default.tencent]\nregion = \"ap-guangzhou\"\nendpoint = \"{}\"\n",
            prod.uri()
        ),
    );
    staging.reset().await;
    Mock::given(header("X-TC-Action", "TerminateJob"))
        .respond_with(tencent_ok())
        .expect(2)
        .mount(&staging)
        .await;
    let r = run(sb, &job_stop(&[])).await;
    assert_eq!(r.code, 0, "{}", r.stdout);
    assert_eq!(r.json()["location"]["region"], "ap-shanghai");
    assert_eq!(
        key_id(&staging.received_requests().await.unwrap()[0]),
        ENV_ID
    );
    // A flag still beats the profile.
    let sb = env_creds();
    private(
        &sb,
        ".config/cloudstop/config.toml",
        "[profiles.prod.tencent]\nregion = \"ap-guangzhou\"\n",
    );
    let r = run(
        sb,
        &job_stop(&[
            "--profile",
            "prod",
            "--region",
            "ap-chengdu",
            "--endpoint",
            &staging.uri(),
        ]),
    )
    .await;
    assert_eq!(r.code, 0, "{}", r.stdout);
    assert_eq!(r.json()["location"]["region"], "ap-chengdu");
}

#[tokio::test(flavor = "multi_thread")]
async fn tccli_profile_never_beats_an_explicit_profile() {
    let server = mock_tencent(2).await;
    let uri = server.uri();
    let sb = Sandbox::new().env("TCCLI_PROFILE", "dev");
    sb.write(
        ".tccli/prod.credential",
        r#"{"secretId": "AKIDTCCLIPROD", "secretKey": "tccli-prod-secret"}"#,
    );
    sb.write(
        ".tccli/dev.credential",
        r#"{"secretId": "AKIDTCCLIDEV", "secretKey": "tccli-dev-secret"}"#,
    );
    let base = ["--region", "ap-guangzhou", "--endpoint", &uri];
    let mut args = base.to_vec();
    args.extend(["--profile", "prod"]);
    let r = sb.run(&job_stop(&args));
    assert_eq!(r.code, 0, "{}", r.stdout);
    // Without --profile, TCCLI_PROFILE picks tccli's profile.
    let r = sb.run(&job_stop(&base));
    assert_eq!(r.code, 0, "{}", r.stdout);
    let reqs = server.received_requests().await.unwrap();
    assert_eq!(key_id(&reqs[0]), "AKIDTCCLIPROD");
    assert_eq!(key_id(&reqs[1]), "AKIDTCCLIDEV");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_tccli_profile_cloudstop_cannot_honour_is_exit_3_not_the_base_key() {
    let server = mock_tencent(0).await;
    let uri = server.uri();
    for (kind, credential) in [
        (
            "sso",
            r#"{"type": "sso", "secretId": "AKIDBASE", "secretKey": "base-secret"}"#,
        ),
        (
            "oauth",
            r#"{"type": "oauth", "secretId": "AKIDBASE", "secretKey": "base-secret"}"#,
        ),
    ] {
        let sb = Sandbox::new();
        sb.write(".tccli/default.credential", credential);
        let r = run(
            sb,
            &job_stop(&["--region", "ap-guangzhou", "--endpoint", &uri]),
        )
        .await;
        assert_eq!(r.code, 3, "{kind}: {}", r.stdout);
        let msg = error_message(&r);
        assert!(msg.contains(kind) && msg.contains("cannot use"), "{msg}");
        assert!(!r.stdout.contains("base-secret") && !r.stderr.contains("base-secret"));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn files_that_are_not_needed_are_not_read() {
    // Tencent: a broken tccli configure file does not matter when region and keys
    // come from elsewhere.
    let server = mock_tencent(1).await;
    let sb = env_creds();
    sb.write(".tccli/default.configure", "{ this is not json");
    sb.write(".tencentcloud/credentials", "[default\nbroken");
    let r = run(
        sb,
        &job_stop(&["--region", "ap-guangzhou", "--endpoint", &server.uri()]),
    )
    .await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);

    // Huawei: a broken ~/.huaweicloud/credentials does not fail a run whose
    // credentials come from the environment.
    let pid = "0a1b2c3d4e5f60718293a4b5c6d7e8f9";
    let hw = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(format!("/v1/{pid}/cloudservers/action")))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"job_id": "ff808082889bd9690189061140c235fe"})),
        )
        .expect(1)
        .mount(&hw)
        .await;
    let sb = Sandbox::new()
        .env("HUAWEICLOUD_SDK_AK", "AKHUAWEIENV")
        .env("HUAWEICLOUD_SDK_SK", "huawei-env-secret");
    sb.write(".huaweicloud/credentials", "[basic\nak = = =\n");
    let r = run(
        sb,
        &[
            "server",
            "stop",
            "-p",
            "huawei",
            "--region",
            "cn-north-4",
            "--project-id",
            pid,
            "--endpoint",
            &hw.uri(),
            "--server-id",
            "616fb98f-46ca-475e-917e-2563e5a8cd19",
        ],
    )
    .await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
}

#[tokio::test(flavor = "multi_thread")]
async fn huawei_reads_basiccredentials_and_its_project_only_with_its_keys() {
    let pid = "0a1b2c3d4e5f60718293a4b5c6d7e8f9";
    let hw = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(format!("/v1/{pid}/cloudservers/action")))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"job_id": "ff808082889bd9690189061140c235fe"})),
        )
        .expect(1)
        .mount(&hw)
        .await;
    let sb = Sandbox::new();
    sb.write(
        ".huaweicloud/credentials",
        &format!(
            "[basiccredentials]\nak = AKFROMSDKFILE\nsk = sdk-file-secret\nproject_id = {pid}\n"
        ),
    );
    let args = [
        "server",
        "stop",
        "-p",
        "huawei",
        "--region",
        "cn-north-4",
        "--endpoint",
        &hw.uri(),
        "--server-id",
        "616fb98f-46ca-475e-917e-2563e5a8cd19",
    ];
    let r = sb.run(&args);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let reqs = hw.received_requests().await.unwrap();
    assert!(reqs[0]
        .headers
        .get("authorization")
        .unwrap()
        .to_str()
        .unwrap()
        .contains("Access=AKFROMSDKFILE"));
    assert!(r.stderr.is_empty() || !r.stderr.contains("sdk-file-secret"));
}

#[tokio::test(flavor = "multi_thread")]
async fn qingcloud_endpoint_variable_reaches_both_apis_unless_the_iaas_one_is_set() {
    let answer = |v: serde_json::Value| ResponseTemplate::new(200).set_body_json(v);
    let generic = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/iaas/"))
        .and(query_param("action", "StopInstances"))
        .respond_with(answer(
            json!({"action": "StopInstancesResponse", "job_id": "j-ybnoeitr", "ret_code": 0}),
        ))
        .expect(1)
        .mount(&generic)
        .await;
    let sb = Sandbox::new()
        .env("QINGCLOUD_ACCESS_KEY_ID", "QYACCESSKEYENV")
        .env("QINGCLOUD_SECRET_ACCESS_KEY", "qy-env-secret")
        .env("CLOUDSTOP_QINGCLOUD_ENDPOINT", &generic.uri());
    let args = [
        "server",
        "stop",
        "-p",
        "qingcloud",
        "--zone",
        "pek3a",
        "--server-id",
        "i-rtyv0968",
    ];
    let r = sb.run(&args);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);

    // CLOUDSTOP_QINGCLOUD_IAAS_ENDPOINT goes first for the IaaS API.
    let iaas = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/iaas/"))
        .respond_with(answer(
            json!({"action": "StopInstancesResponse", "job_id": "j-ybnoeitr", "ret_code": 0}),
        ))
        .expect(1)
        .mount(&iaas)
        .await;
    let sb = sb.env("CLOUDSTOP_QINGCLOUD_IAAS_ENDPOINT", &iaas.uri());
    let r = sb.run(&args);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(generic.received_requests().await.unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn help_names_the_endpoint_variable_of_each_api() {
    let r = Sandbox::new().run(&["server", "stop", "--help"]);
    assert_eq!(r.code, 0);
    for v in [
        "CLOUDSTOP_TENCENT_ENDPOINT",
        "CLOUDSTOP_HUAWEI_ENDPOINT",
        "CLOUDSTOP_QINGCLOUD_ENDPOINT",
        "CLOUDSTOP_QINGCLOUD_IAAS_ENDPOINT",
        "CLOUDSTOP_PROFILE",
    ] {
        assert!(r.stdout.contains(v), "{v} missing from --help");
    }
    let man = Sandbox::new().run(&["man"]);
    assert!(man.stdout.contains("CLOUDSTOP_QINGCLOUD_IAAS_ENDPOINT"));
}
