//! Shared harness for the binary-level tests: runs the built `cloudstop` with a clean,
//! isolated environment (no real config files or credentials leak in) and reads the
//! envelope from stdout.
#![allow(dead_code)]

use serde_json::Value;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// The envelope; panics with both streams when stdout is not JSON.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e})\nstdout:\n{}\nstderr:\n{}",
                self.stdout, self.stderr
            )
        })
    }
}

/// A temporary HOME with no config: tests add files to it.
pub struct Sandbox {
    pub home: tempfile::TempDir,
    envs: Vec<(String, String)>,
}

impl Sandbox {
    pub fn new() -> Sandbox {
        Sandbox {
            home: tempfile::tempdir().unwrap(),
            envs: Vec::new(),
        }
    }

    pub fn env(mut self, k: &str, v: &str) -> Sandbox {
        self.envs.push((k.to_string(), v.to_string()));
        self
    }

    pub fn home(&self) -> &Path {
        self.home.path()
    }

    /// Writes a file under HOME (creating directories) and returns its path.
    pub fn write(&self, rel: &str, content: &str) -> PathBuf {
        let p = self.home.path().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, content).unwrap();
        p
    }

    /// Runs the binary with `args`; `stdin` is piped (not a terminal).
    pub fn run(&self, args: &[&str]) -> Run {
        self.run_with_stdin(args, "")
    }

    /// Runs the binary from an async test, off the runtime's threads (the mock server
    /// answers on them).
    pub async fn run_async<S: AsRef<str>>(self, args: &[S]) -> Run {
        let args: Vec<String> = args.iter().map(|a| a.as_ref().to_string()).collect();
        blocking(move || {
            let a: Vec<&str> = args.iter().map(String::as_str).collect();
            self.run(&a)
        })
        .await
    }

    pub fn run_with_stdin(&self, args: &[&str], stdin: &str) -> Run {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_cloudstop"));
        cmd.args(args)
            .env_clear()
            .env("HOME", self.home.path())
            .env("XDG_CONFIG_HOME", self.home.path().join(".config"))
            .env("NO_COLOR", "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Ok(path) = std::env::var("PATH") {
            cmd.env("PATH", path);
        }
        // The instance metadata services are never the real ones: a test that wants
        // one sets its own mock; everything else gets "connection refused" at once.
        let nobody = refused_url();
        cmd.env("CLOUDSTOP_TENCENT_METADATA_ENDPOINT", &nobody)
            .env("CLOUDSTOP_HUAWEI_METADATA_ENDPOINT", &nobody);
        for (k, v) in &self.envs {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("run cloudstop");
        {
            let mut si = child.stdin.take().unwrap();
            let _ = si.write_all(stdin.as_bytes());
        }
        let out = child.wait_with_output().unwrap();
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

/// Runs a blocking closure (the binary) from an async test without stalling the mock
/// server, which runs on the same runtime.
pub async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(f).await.unwrap()
}

/// How a raw TCP test server misbehaves after reading a request.
#[derive(Clone, Copy, Debug)]
pub enum RawFault {
    /// Sends the status line and headers, then drops the connection.
    ResetMidAnswer,
    /// Announces a longer body than it sends, then closes.
    TruncatedBody,
}

/// A loopback server that answers every connection with `fault`; returns its base URL
/// and a counter of the requests it read.
pub async fn raw_fault_server(
    fault: RawFault,
) -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let count = std::sync::Arc::new(AtomicUsize::new(0));
    let seen = count.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            let seen = seen.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 65536];
                let mut got = Vec::new();
                // Read until the end of the headers and the announced body.
                loop {
                    let n = match sock.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => n,
                    };
                    got.extend_from_slice(&buf[..n]);
                    let text = String::from_utf8_lossy(&got).to_string();
                    if let Some(end) = text.find("\r\n\r\n") {
                        let len = text[..end]
                            .lines()
                            .find_map(|l| {
                                let (k, v) = l.split_once(':')?;
                                k.eq_ignore_ascii_case("content-length")
                                    .then(|| v.trim().parse::<usize>().ok())?
                            })
                            .unwrap_or(0);
                        if got.len() >= end + 4 + len {
                            break;
                        }
                    }
                }
                seen.fetch_add(1, Ordering::SeqCst);
                let answer: &[u8] = match fault {
                    RawFault::ResetMidAnswer => b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n",
                    RawFault::TruncatedBody => {
                        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n{\"Response\": {\"Req"
                    }
                };
                let _ = sock.write_all(answer).await;
                let _ = sock.flush().await;
                drop(sock);
            });
        }
    });
    (format!("http://{addr}"), count)
}

/// A loopback URL nobody listens on (connection refused).
pub fn refused_url() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    drop(l);
    format!("http://{addr}")
}

/// Fails when a run's stdout or stderr holds a secret: any of `secrets`, or a live
/// signature — a TC3/SDK-HMAC `Signature=<hex>` or QingCloud's `signature=` query
/// value — that is not `[redacted]`. For failure paths too: a transport error that
/// quotes its URL would carry QingCloud's signature.
pub fn assert_no_secrets(label: &str, r: &Run, secrets: &[&str]) {
    for (stream, out) in [("stdout", &r.stdout), ("stderr", &r.stderr)] {
        for s in secrets {
            assert!(
                !out.contains(s),
                "{label}: secret {s:?} in {stream}:\n{out}"
            );
        }
        for marker in ["Signature=", "signature="] {
            for (i, _) in out.match_indices(marker) {
                let rest = &out[i + marker.len()..];
                let value: String = rest
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || "%+/=".contains(*c))
                    .collect();
                assert!(
                    rest.starts_with("[redacted]") || value.is_empty(),
                    "{label}: live {marker}{value} in {stream}:\n{out}"
                );
            }
        }
    }
}
