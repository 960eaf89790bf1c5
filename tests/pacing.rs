//! Default pacing, without `--rate`: a mock that throttles exactly as the provider
//! documents (Tencent TerminateJob: 2 requests a second) must never have to. A pacer
//! that let requests through at once would be throttled here, and with `--retries 0`
//! the run would fail.

mod common;

use common::Sandbox;
use serde_json::json;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use wiremock::matchers::{header, method};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

/// Answers like a gateway that allows `limit` requests in any window of `window`:
/// more than that are answered with the throttling code and counted.
struct Limited {
    limit: usize,
    window: Duration,
    seen: Mutex<Vec<Instant>>,
    throttled: Arc<AtomicUsize>,
    accepted: Arc<AtomicUsize>,
}

impl Respond for Limited {
    fn respond(&self, _r: &Request) -> ResponseTemplate {
        let now = Instant::now();
        let mut seen = self.seen.lock().unwrap();
        seen.retain(|t| now.duration_since(*t) < self.window);
        if seen.len() >= self.limit {
            self.throttled.fetch_add(1, Ordering::SeqCst);
            return ResponseTemplate::new(200).set_body_json(json!({"Response": {
                "Error": {"Code": "RequestLimitExceeded", "Message": "throttled"},
                "RequestId": "throttled"
            }}));
        }
        seen.push(now);
        self.accepted.fetch_add(1, Ordering::SeqCst);
        ResponseTemplate::new(200).set_body_json(json!({"Response": {"RequestId": "ok"}}))
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn tencent_terminate_job_keeps_the_documented_two_per_second_by_default() {
    let server = MockServer::start().await;
    let throttled = Arc::new(AtomicUsize::new(0));
    let accepted = Arc::new(AtomicUsize::new(0));
    Mock::given(method("POST"))
        .and(header("X-TC-Action", "TerminateJob"))
        .respond_with(Limited {
            limit: 2,
            // The documented window is 1 s; 900 ms leaves room for a loaded machine's
            // scheduling jitter while a pacer that does nothing still fails at once.
            window: Duration::from_millis(900),
            seen: Mutex::new(Vec::new()),
            throttled: throttled.clone(),
            accepted: accepted.clone(),
        })
        .mount(&server)
        .await;
    // Any status read an implementation makes first: still running.
    Mock::given(method("POST"))
        .and(header("X-TC-Action", "DescribeJob"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"Response": {
                "JobId": "job-aaaaaaaa", "JobState": "RUNNING", "RequestId": "d"
            }})),
        )
        .mount(&server)
        .await;
    let uri = server.uri();
    let ids = "job-aaaaaaa1,job-aaaaaaa2,job-aaaaaaa3,job-aaaaaaa4,job-aaaaaaa5";
    let r = Sandbox::new()
        .env("TENCENTCLOUD_SECRET_ID", "AKIDPACING")
        .env("TENCENTCLOUD_SECRET_KEY", "pacing-secret")
        .run_async(&[
            "job",
            "stop",
            "-p",
            "tencent",
            "--region",
            "ap-guangzhou",
            "--endpoint",
            &uri,
            "--job-id",
            ids,
            "--retries",
            "0",
        ])
        .await;
    assert_eq!(
        throttled.load(Ordering::SeqCst),
        0,
        "the default pacing let requests through faster than 2/s:\n{}",
        r.stdout
    );
    assert_eq!(accepted.load(Ordering::SeqCst), 5);
    assert_eq!(r.code, 0, "{}", r.stdout);
}
