//! The `cluster delete` prompt on every provider's delete, not only QingCloud's: the
//! real binary on a pseudo-terminal against wiremock Tencent TKE and Huawei CCE
//! servers. `y` deletes; `n` sends nothing at all — not even the lookup, since the
//! prompt comes before the first request. Where no pseudo-terminal can be opened, each
//! test says so and returns.
#![cfg(unix)]

mod common;

use rexpect::reader::Options;
use rexpect::session::spawn_with_options;
use serde_json::json;
use std::process::Command;
use std::time::{Duration, Instant};
use wiremock::matchers::{header, method, path_regex};
use wiremock::{Mock, MockServer, ResponseTemplate};

const DEADLINE_MS: u64 = 20_000;
const TKE: &str = "cls-etu4tjip";
const CCE: &str = "fc563b3c-9552-11e8-8beb-0255ac106311";
const PROJECT: &str = "0a1b2c3d4e5f60718293a4b5c6d7e8f9";

async fn tencent() -> MockServer {
    let s = MockServer::start().await;
    Mock::given(header("X-TC-Action", "DescribeClusters"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"Response": {
            "Clusters": [{"ClusterId": TKE, "ClusterName": "ci", "ClusterStatus": "Running",
                          "ClusterType": "MANAGED_CLUSTER", "DeletionProtection": false}],
            "TotalCount": 1, "RequestId": "d"}})),
        )
        .mount(&s)
        .await;
    Mock::given(header("X-TC-Action", "DeleteCluster"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"Response": {"RequestId": "del"}})),
        )
        .mount(&s)
        .await;
    s
}

async fn huawei() -> MockServer {
    let s = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path_regex("/api/v3/projects/.*/clusters/.*"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "kind": "Cluster", "metadata": {"uid": CCE, "name": "ci"},
            "spec": {"billingMode": 0, "deletionProtection": false},
            "status": {"phase": "Available"}})))
        .mount(&s)
        .await;
    Mock::given(method("DELETE"))
        .and(path_regex("/api/v3/projects/.*/clusters/.*"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "kind": "Cluster", "metadata": {"uid": CCE},
            "status": {"phase": "Deleting", "jobID": "e8ebf96c-956d-11e8-a949-0255ac10575d"}})))
        .mount(&s)
        .await;
    s
}

/// Runs `args` on a terminal with `env`, answers the prompt with `answer`, and returns
/// the exit code and what the terminal showed.
fn on_a_terminal(
    args: Vec<String>,
    env: Vec<(&'static str, String)>,
    answer: &str,
) -> Option<(i32, String)> {
    let home = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_cloudstop"));
    cmd.args(&args)
        .env_clear()
        .env("HOME", home.path())
        .env("XDG_CONFIG_HOME", home.path().join(".config"))
        .env("TERM", "xterm")
        .env("NO_COLOR", "1");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut s = match spawn_with_options(
        cmd,
        Options::new()
            .timeout_ms(Some(DEADLINE_MS))
            .strip_ansi_escape_codes(true),
    ) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("skipped: no pseudo-terminal can be opened here ({e})");
            return None;
        }
    };
    let before = s
        .exp_string("[y/N] ")
        .unwrap_or_else(|e| panic!("no prompt within {DEADLINE_MS} ms: {e}"));
    s.send_line(answer).unwrap();
    let after = s
        .exp_eof()
        .unwrap_or_else(|e| panic!("the process did not end within {DEADLINE_MS} ms: {e}"));
    let deadline = Instant::now() + Duration::from_millis(DEADLINE_MS);
    let code = loop {
        match s.process().status() {
            Some(rexpect::process::WaitStatus::Exited(_, code)) => break code,
            _ if Instant::now() > deadline => panic!("no exit status:\n{before}{after}"),
            _ => std::thread::sleep(Duration::from_millis(20)),
        }
    };
    Some((code, format!("{before}[y/N] {after}")))
}

fn tencent_args(uri: &str) -> Vec<String> {
    [
        "cluster",
        "delete",
        "-p",
        "tencent",
        "--region",
        "ap-guangzhou",
        "--endpoint",
        uri,
        "--cluster-id",
        TKE,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

fn tencent_env() -> Vec<(&'static str, String)> {
    vec![
        ("TENCENTCLOUD_SECRET_ID", "AKIDPROMPT".into()),
        ("TENCENTCLOUD_SECRET_KEY", "prompt-secret".into()),
    ]
}

fn huawei_args(uri: &str) -> Vec<String> {
    [
        "cluster",
        "delete",
        "-p",
        "huawei",
        "--region",
        "cn-north-4",
        "--project-id",
        PROJECT,
        "--endpoint",
        uri,
        "--cluster-id",
        CCE,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

fn huawei_env() -> Vec<(&'static str, String)> {
    vec![
        ("HUAWEICLOUD_SDK_AK", "HWAKPROMPT".into()),
        ("HUAWEICLOUD_SDK_SK", "prompt-secret".into()),
    ]
}

#[tokio::test(flavor = "multi_thread")]
async fn tencent_tke_y_deletes_n_sends_nothing() {
    for (answer, code, deletes) in [("y", 0, 1), ("n", 2, 0)] {
        let server = tencent().await;
        let args = tencent_args(&server.uri());
        let Some((got, screen)) =
            common::blocking(move || on_a_terminal(args, tencent_env(), answer)).await
        else {
            return;
        };
        assert!(
            screen.contains(&format!("tencent cluster {TKE} in region ap-guangzhou")),
            "{screen}"
        );
        assert_eq!(got, code, "{answer}: {screen}");
        let received = server.received_requests().await.unwrap();
        let sent = received
            .iter()
            .filter(|r| {
                r.headers
                    .get("X-TC-Action")
                    .is_some_and(|a| a == "DeleteCluster")
            })
            .count();
        assert_eq!(sent, deletes, "{answer}: {screen}");
        if answer == "n" {
            assert!(
                received.is_empty(),
                "a declined prompt sends nothing, not even the lookup"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn huawei_cce_y_deletes_n_sends_nothing() {
    for (answer, code, deletes) in [("yes", 0, 1), ("n", 2, 0)] {
        let server = huawei().await;
        let args = huawei_args(&server.uri());
        let Some((got, screen)) =
            common::blocking(move || on_a_terminal(args, huawei_env(), answer)).await
        else {
            return;
        };
        assert!(
            screen.contains(&format!("huawei cluster {CCE}")),
            "{screen}"
        );
        assert_eq!(got, code, "{answer}: {screen}");
        let received = server.received_requests().await.unwrap();
        let sent = received
            .iter()
            .filter(|r| r.method.as_str() == "DELETE")
            .count();
        assert_eq!(sent, deletes, "{answer}: {screen}");
        if answer == "n" {
            assert!(
                received.is_empty(),
                "a declined prompt sends nothing, not even the lookup"
            );
        }
    }
}
