//! The `cluster delete` prompt as a person meets it: the real binary on a
//! pseudo-terminal (stdin, stdout and stderr all on the terminal), answering `y`, `n`,
//! Enter, end of input (Ctrl-D) or Ctrl-C, against a wiremock QingCloud HPC server
//! that counts the deletes it receives. Every step has a deadline: a prompt that never
//! returns fails the test instead of hanging it. Where no pseudo-terminal can be
//! opened, each test says so and returns.
#![cfg(unix)]

mod common;

use rexpect::reader::Options;
use rexpect::session::{spawn_with_options, PtySession};
use serde_json::{json, Value};
use std::process::Command;
use std::time::{Duration, Instant};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const HPC: &str = "hpc-6o2qc9tl";
const USER: &str = "usr-IuZxPyn2";
const SK: &str = "pty-secret-must-never-show-4b3c2d";
/// How long any one step (a prompt to appear, the process to end) may take.
const DEADLINE_MS: u64 = 20_000;

fn delete_ok() -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({
        "action": "HpcClusterDeleteClusterResponse",
        "hpc_cluster_id": [HPC],
        "job_id": "j-jxi9h7em8de",
        "ret_code": 0
    }))
}

/// A server that accepts every delete; the test counts what it received.
async fn server() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/cluster/deleteCluster"))
        .respond_with(delete_ok())
        .mount(&server)
        .await;
    server
}

async fn deletes_received(server: &MockServer) -> usize {
    server
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .filter(|r| r.url.path() == "/api/cluster/deleteCluster")
        .count()
}

/// The binary with `args` and a clean environment holding QingCloud credentials.
fn command(home: &std::path::Path, args: &[&str], credentials: bool) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_cloudstop"));
    cmd.args(args)
        .env_clear()
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join(".config"))
        .env("TERM", "xterm")
        .env("NO_COLOR", "1");
    if credentials {
        cmd.env("QINGCLOUD_ACCESS_KEY_ID", "QYPTYACCESSKEY01")
            .env("QINGCLOUD_SECRET_ACCESS_KEY", SK);
    }
    cmd
}

fn delete_args(server: &MockServer) -> Vec<String> {
    [
        "cluster",
        "delete",
        "-p",
        "qingcloud",
        "--zone",
        "jn1a",
        "--cluster-id",
        HPC,
        "--run-user",
        USER,
        "--rate",
        "100",
        "--endpoint",
        &server.uri(),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// Starts `cmd` on a pseudo-terminal, or says why it cannot and returns `None`.
fn spawn(cmd: Command) -> Option<PtySession> {
    match spawn_with_options(
        cmd,
        Options::new()
            .timeout_ms(Some(DEADLINE_MS))
            .strip_ansi_escape_codes(true),
    ) {
        Ok(s) => Some(s),
        Err(e) => {
            eprintln!("skipped: no pseudo-terminal can be opened here ({e})");
            None
        }
    }
}

/// What the terminal showed after the prompt, the envelope in it and the exit code.
struct Ended {
    screen: String,
    envelope: Value,
    code: i32,
}

/// Reads the terminal to its end and waits for the exit, both within the deadline.
fn finish(mut s: PtySession) -> Ended {
    let screen = s
        .exp_eof()
        .unwrap_or_else(|e| panic!("the process did not end within {DEADLINE_MS} ms: {e}"))
        // The terminal ends lines with CR LF; a lone CR (the bar's redraw) stays.
        .replace("\r\n", "\n");
    let deadline = Instant::now() + Duration::from_millis(DEADLINE_MS);
    let code = loop {
        match s.process().status() {
            Some(rexpect::process::WaitStatus::Exited(_, code)) => break code,
            Some(rexpect::process::WaitStatus::Signaled(_, sig, _)) => {
                panic!("killed by {sig:?} instead of exiting; screen:\n{screen}")
            }
            _ if Instant::now() > deadline => panic!("no exit status; screen:\n{screen}"),
            _ => std::thread::sleep(Duration::from_millis(20)),
        }
    };
    assert!(!screen.contains(SK), "the secret reached the terminal");
    // The envelope is the one JSON document on stdout, printed last.
    let start = screen
        .find("{\n  \"version\"")
        .unwrap_or_else(|| panic!("no envelope on the terminal:\n{screen}"));
    let envelope = serde_json::Deserializer::from_str(&screen[start..])
        .into_iter::<Value>()
        .next()
        .and_then(Result::ok)
        .unwrap_or_else(|| panic!("the envelope is not JSON:\n{screen}"));
    Ended {
        screen: screen[..start].to_string(),
        envelope,
        code,
    }
}

/// Runs the delete on a terminal, waits for the prompt, then lets `answer` act.
async fn at_the_prompt(answer: fn(&mut PtySession)) -> Option<(Ended, usize)> {
    let server = server().await;
    let home = tempfile::tempdir().unwrap();
    let args = delete_args(&server);
    let h = home.path().to_path_buf();
    let ended = common::blocking(move || {
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        let mut s = spawn(command(&h, &a, true))?;
        let before = s
            .exp_string("[y/N] ")
            .unwrap_or_else(|e| panic!("no prompt within {DEADLINE_MS} ms: {e}"));
        // The prompt names the cluster, its provider and its location.
        assert!(
            before.contains(&format!("qingcloud cluster {HPC} in zone jn1a")),
            "{before}"
        );
        answer(&mut s);
        Some(finish(s))
    })
    .await?;
    let sent = deletes_received(&server).await;
    Some((ended, sent))
}

#[tokio::test(flavor = "multi_thread")]
async fn y_at_the_prompt_deletes() {
    let Some((end, sent)) = at_the_prompt(|s| {
        s.send_line("y").unwrap();
    })
    .await
    else {
        return;
    };
    assert_eq!(sent, 1, "{}", end.screen);
    assert_eq!(end.code, 0, "{}", end.screen);
    assert_eq!(end.envelope["results"][0]["status"], "deleting");
    assert_eq!(
        end.envelope["results"][0]["provider_job_id"],
        "j-jxi9h7em8de"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn yes_in_capitals_deletes() {
    let Some((end, sent)) = at_the_prompt(|s| {
        s.send_line("YES").unwrap();
    })
    .await
    else {
        return;
    };
    assert_eq!((sent, end.code), (1, 0), "{}", end.screen);
}

/// A declined prompt: exit 2, the envelope, nothing sent.
fn assert_declined(end: &Ended, sent: usize) {
    assert_eq!(sent, 0, "a delete was sent: {}", end.screen);
    assert_eq!(end.code, 2, "{}", end.screen);
    assert_eq!(end.envelope["error"]["kind"], "usage");
    let msg = end.envelope["error"]["message"].as_str().unwrap();
    assert!(
        msg.contains("not confirmed") && msg.contains("nothing was sent"),
        "{msg}"
    );
    assert_eq!(end.envelope["location"]["zone"], "jn1a");
}

#[tokio::test(flavor = "multi_thread")]
async fn n_at_the_prompt_declines() {
    let Some((end, sent)) = at_the_prompt(|s| {
        s.send_line("n").unwrap();
    })
    .await
    else {
        return;
    };
    assert_declined(&end, sent);
    assert!(end.envelope["error"]["message"]
        .as_str()
        .unwrap()
        .contains("(answer 'n')"));
}

#[tokio::test(flavor = "multi_thread")]
async fn enter_at_the_prompt_declines() {
    let Some((end, sent)) = at_the_prompt(|s| {
        s.send_line("").unwrap();
    })
    .await
    else {
        return;
    };
    assert_declined(&end, sent);
}

#[tokio::test(flavor = "multi_thread")]
async fn anything_else_declines() {
    let Some((end, sent)) = at_the_prompt(|s| {
        s.send_line("yep").unwrap();
    })
    .await
    else {
        return;
    };
    assert_declined(&end, sent);
}

#[tokio::test(flavor = "multi_thread")]
async fn end_of_input_at_the_prompt_declines() {
    let Some((end, sent)) = at_the_prompt(|s| {
        s.send_control('d').unwrap();
    })
    .await
    else {
        return;
    };
    assert_declined(&end, sent);
}

/// An interrupted prompt: exit 130, the envelope, nothing sent.
fn assert_interrupted(end: &Ended, sent: usize) {
    assert_eq!(sent, 0, "a delete was sent: {}", end.screen);
    assert_eq!(end.code, 130, "{}", end.screen);
    assert_eq!(end.envelope["error"]["code"], "interrupted");
    assert_eq!(end.envelope["results"][0]["id"], HPC);
    assert_eq!(end.envelope["results"][0]["status"], "failed");
}

#[tokio::test(flavor = "multi_thread")]
async fn ctrl_c_at_the_prompt_exits_130_with_the_envelope() {
    let Some((end, sent)) = at_the_prompt(|s| {
        s.send_control('c').unwrap();
    })
    .await
    else {
        return;
    };
    assert_interrupted(&end, sent);
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_at_the_prompt_exits_130_with_the_envelope() {
    let Some((end, sent)) = at_the_prompt(|s| {
        s.process_mut()
            .signal(rexpect::process::Signal::SIGTERM)
            .unwrap();
    })
    .await
    else {
        return;
    };
    assert_interrupted(&end, sent);
}

/// Checks that need no network come before the prompt: a missing zone or missing
/// credentials end the run without asking.
#[tokio::test(flavor = "multi_thread")]
async fn no_prompt_before_a_usage_or_credentials_error() {
    let server = server().await;
    let home = tempfile::tempdir().unwrap();
    let mut no_zone = delete_args(&server);
    let i = no_zone.iter().position(|a| a == "--zone").unwrap();
    no_zone.drain(i..i + 2);
    let h = home.path().to_path_buf();
    let with_zone = delete_args(&server);
    let ends = common::blocking(move || {
        let mut ends = Vec::new();
        for (args, credentials) in [(no_zone, true), (with_zone, false)] {
            let a: Vec<&str> = args.iter().map(String::as_str).collect();
            let s = spawn(command(&h, &a, credentials))?;
            ends.push(finish(s));
        }
        Some(ends)
    })
    .await;
    let Some(ends) = ends else { return };
    assert_eq!(ends[0].code, 2, "{}", ends[0].screen);
    assert!(ends[0].envelope["error"]["message"]
        .as_str()
        .unwrap()
        .contains("no zone"));
    assert_eq!(ends[1].code, 3, "{}", ends[1].screen);
    for end in &ends {
        assert!(
            !end.screen.contains("[y/N]"),
            "asked anyway: {}",
            end.screen
        );
    }
    assert_eq!(deletes_received(&server).await, 0);
}

/// `--ids-from -` waiting on the terminal is interruptible too.
#[tokio::test(flavor = "multi_thread")]
async fn ctrl_c_while_ids_are_read_from_the_terminal_exits_130() {
    let server = server().await;
    let home = tempfile::tempdir().unwrap();
    let mut args = delete_args(&server);
    let i = args.iter().position(|a| a == "--cluster-id").unwrap();
    args[i] = "--ids-from".into();
    args[i + 1] = "-".into();
    let h = home.path().to_path_buf();
    let end = common::blocking(move || {
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        let mut s = spawn(command(&h, &a, true))?;
        s.send_line(HPC).unwrap();
        // Give the process time to block in its read before the interrupt.
        std::thread::sleep(Duration::from_millis(500));
        s.send_control('c').unwrap();
        Some(finish(s))
    })
    .await;
    let Some(end) = end else { return };
    assert_eq!(end.code, 130, "{}", end.screen);
    assert_eq!(end.envelope["error"]["code"], "interrupted");
    assert_eq!(deletes_received(&server).await, 0);
}

/// Ids typed on the terminal, ended with Ctrl-D, and then the prompt on the same
/// terminal: the stdin read for `--ids-from -` no longer holds stdin.
#[tokio::test(flavor = "multi_thread")]
async fn ids_typed_on_the_terminal_then_the_prompt() {
    let server = server().await;
    let home = tempfile::tempdir().unwrap();
    let mut args = delete_args(&server);
    let i = args.iter().position(|a| a == "--cluster-id").unwrap();
    args[i] = "--ids-from".into();
    args[i + 1] = "-".into();
    let h = home.path().to_path_buf();
    let end = common::blocking(move || {
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        let mut s = spawn(command(&h, &a, true))?;
        s.send_line(HPC).unwrap();
        s.send_control('d').unwrap();
        s.exp_string("[y/N] ")
            .unwrap_or_else(|e| panic!("no prompt within {DEADLINE_MS} ms: {e}"));
        s.send_line("y").unwrap();
        Some(finish(s))
    })
    .await;
    let Some(end) = end else { return };
    assert_eq!(end.code, 0, "{}", end.screen);
    assert_eq!(deletes_received(&server).await, 1);
}

// ---- the progress bar and the log on one terminal ---------------------------------

/// The terminal's lines as a person sees them at the end: a carriage return starts its
/// line over (the bar redraws and clears itself that way), so only what follows the
/// last one on each line is left.
fn seen_lines(screen: &str) -> Vec<String> {
    screen
        .split('\n')
        .map(|l| l.rsplit('\r').next().unwrap_or("").to_string())
        .collect()
}

/// A delete of two clusters with `--wait` and `-vv`: the bar is on screen while the
/// status polls are logged.
fn operation(status: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({
        "action": "HpcOperationListOperationResponse",
        "job_set": [{"job_id": "j-jxi9h7em8de", "status": status, "job_action": "x", "error_codes": ""}],
        "total_count": 1,
        "ret_code": 0
    }))
}

async fn waiting_server(working_polls: u64) -> MockServer {
    let server = server().await;
    Mock::given(path("/api/operation"))
        .respond_with(operation("working"))
        .up_to_n_times(working_polls)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(path("/api/operation"))
        .respond_with(operation("successful"))
        .with_priority(2)
        .mount(&server)
        .await;
    server
}

fn waiting_args(server: &MockServer) -> Vec<String> {
    let mut args = delete_args(server);
    let i = args.iter().position(|a| a == HPC).unwrap();
    args[i] = format!("{HPC},hpc-aaaaaaa2");
    args.extend(
        ["--yes", "--wait", "--poll-interval", "150ms", "-vv"]
            .iter()
            .map(|s| s.to_string()),
    );
    args
}

/// Log lines start their own line: the bar was taken off before each was printed.
fn assert_logs_above_the_bar(end: &Ended) {
    let lines = seen_lines(&end.screen);
    let logged: Vec<&String> = lines.iter().filter(|l| l.contains("sending")).collect();
    assert!(!logged.is_empty(), "no log lines:\n{}", end.screen);
    for l in logged {
        assert!(
            l.contains(" DEBUG ") && l.starts_with(|c: char| c.is_ascii_digit()),
            "a log line shares its line with something else: {l:?}\nscreen:\n{}",
            end.screen
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn logs_print_above_the_progress_bar_and_the_bar_is_gone_at_the_end() {
    let server = waiting_server(12).await;
    let home = tempfile::tempdir().unwrap();
    let args = waiting_args(&server);
    let h = home.path().to_path_buf();
    let end = common::blocking(move || {
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        Some(finish(spawn(command(&h, &a, true))?))
    })
    .await;
    let Some(end) = end else { return };
    assert_eq!(end.code, 0, "{}", end.screen);
    assert_eq!(end.envelope["results"][1]["status"], "deleted");
    // The bar was shown (this is what the test is about)...
    assert!(
        end.screen.contains("qingcloud cluster delete [") || end.screen.contains("waiting ("),
        "no progress bar was drawn:\n{}",
        end.screen
    );
    assert_logs_above_the_bar(&end);
    // ...and nothing of it is left: the envelope starts on a clean line.
    assert_eq!(seen_lines(&end.screen).last().map(String::as_str), Some(""));
}

#[tokio::test(flavor = "multi_thread")]
async fn ctrl_c_while_waiting_clears_the_bar() {
    let server = waiting_server(1000).await;
    let home = tempfile::tempdir().unwrap();
    let args = waiting_args(&server);
    let h = home.path().to_path_buf();
    let end = common::blocking(move || {
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        let mut s = spawn(command(&h, &a, true))?;
        s.exp_string("waiting (")
            .unwrap_or_else(|e| panic!("no progress bar within {DEADLINE_MS} ms: {e}"));
        s.send_control('c').unwrap();
        Some(finish(s))
    })
    .await;
    let Some(end) = end else { return };
    assert_eq!(end.code, 130, "{}", end.screen);
    assert_eq!(end.envelope["results"][0]["status"], "deleting");
    let lines = seen_lines(&end.screen);
    assert!(
        !lines
            .iter()
            .any(|l| l.contains("waiting (") || l.contains("cluster delete [")),
        "the bar is still on screen:\n{lines:#?}"
    );
    assert!(
        lines.iter().any(|l| l.contains("interrupted by SIGINT")),
        "{lines:#?}"
    );
}
