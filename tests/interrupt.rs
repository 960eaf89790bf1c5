//! Ctrl-C and SIGTERM during a run end with exit 130 and the envelope of what is known.
#![cfg(unix)]

mod common;

use serde_json::{json, Value};
use std::process::{Command, Stdio};
use std::time::Duration;
use wiremock::matchers::header;
use wiremock::{Mock, MockServer, ResponseTemplate};

async fn interrupted_wait(signal: &str) -> (i32, Value) {
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
    let home = tempfile::tempdir().unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_cloudstop"))
        .args([
            "job",
            "stop",
            "-p",
            "tencent",
            "--region",
            "ap-guangzhou",
            "--endpoint",
            &server.uri(),
        ])
        .args([
            "--job-id",
            "job-aaaaaaa1,job-aaaaaaa2",
            "--wait",
            "--poll-interval",
            "100ms",
            "--rate",
            "100",
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
    let signal = signal.to_string();
    let out = tokio::task::spawn_blocking(move || {
        std::thread::sleep(Duration::from_millis(1500));
        Command::new("kill")
            .args([&format!("-{signal}"), &pid])
            .status()
            .unwrap();
        child.wait_with_output().unwrap()
    })
    .await
    .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)));
    (out.status.code().unwrap_or(-1), v)
}

#[tokio::test(flavor = "multi_thread")]
async fn sigint_during_wait_prints_what_is_known() {
    let (code, v) = interrupted_wait("INT").await;
    assert_eq!(code, 130);
    assert_eq!(v["error"]["code"], "interrupted");
    // Both stops were accepted before the signal; the envelope says so.
    assert_eq!(v["results"][0]["status"], "stopping");
    assert_eq!(v["results"][1]["status"], "stopping");
    assert_eq!(v["ok"], false);
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_during_wait_prints_what_is_known() {
    let (code, v) = interrupted_wait("TERM").await;
    assert_eq!(code, 130);
    assert_eq!(v["results"].as_array().unwrap().len(), 2);
}
