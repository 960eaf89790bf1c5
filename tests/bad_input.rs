//! The bad-input corpus: each case exits 2 (3 for credentials/config), names the bad
//! value and what was expected, sends nothing, and never panics.

mod common;

use common::{blocking, Sandbox};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

struct Case {
    name: &'static str,
    args: Vec<String>,
    exit: i32,
    /// Text the message (envelope error or clap's stderr) must contain.
    says: &'static [&'static str],
    /// A config file to write first (contents, mode).
    config: Option<(&'static str, u32)>,
}

fn case(name: &'static str, args: &[&str], exit: i32, says: &'static [&'static str]) -> Case {
    Case {
        name,
        args: args.iter().map(|s| s.to_string()).collect(),
        exit,
        says,
        config: None,
    }
}

const TC: &[&str] = &["job", "stop", "-p", "tencent", "--region", "ap-guangzhou"];
const TCS: &[&str] = &[
    "server",
    "stop",
    "-p",
    "tencent",
    "--region",
    "ap-guangzhou",
];
const HW: &[&str] = &[
    "server",
    "stop",
    "-p",
    "huawei",
    "--region",
    "cn-north-4",
    "--project-id",
    "0a1b2c3d4e5f60718293a4b5c6d7e8f9",
];
const QJ: &[&str] = &[
    "job",
    "stop",
    "-p",
    "qingcloud",
    "--zone",
    "jn1a",
    "--cluster-id",
    "ehpc-8jqdq0mz",
];
const QC: &[&str] = &[
    "cluster",
    "delete",
    "-p",
    "qingcloud",
    "--zone",
    "jn1a",
    "--run-user",
    "usr-IuZxPyn2",
    "--yes",
];

fn with(base: &[&str], extra: &[&str]) -> Vec<String> {
    base.iter().chain(extra).map(|s| s.to_string()).collect()
}

fn corpus() -> Vec<Case> {
    let mut v = Vec::new();
    let long = "job-".to_string() + &"a".repeat(300);
    let long: &'static str = Box::leak(long.into_boxed_str());
    // Malformed Tencent Batch job ids.
    for (name, id) in [
        ("tencent job: inner space", "job-rybe wp57"),
        ("tencent job: unicode", "job-rybéwp57"),
        ("tencent job: overlong", long),
        ("tencent job: wrong prefix", "ins-rybewp57"),
        ("tencent job: shell metachar", "job-$(reboot)"),
        ("tencent job: sql metachar", "job-1';DROP--"),
        ("tencent job: upper case", "JOB-RYBEWP57"),
        ("tencent job: short", "job-ryb"),
        ("tencent job: newline", "job-rybewp57\nx"),
    ] {
        v.push(Case {
            name,
            args: with(TC, &["--job-id", id]),
            exit: 2,
            says: &["malformed", "job-"],
            config: None,
        });
    }
    v.push(case(
        "tencent job: whitespace",
        &with(TC, &["--job-id", " "])
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
        2,
        &["empty", "--job-id"],
    ));
    v.push(case(
        "tencent job: empty",
        &with(TC, &["--job-id", ""])
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
        2,
        &["empty", "--job-id"],
    ));
    // Malformed CVM ids.
    for (name, id) in [
        ("tencent server: wrong prefix", "i-r8hr2upy"),
        ("tencent server: unicode", "ins-ｒ8hr2upy"),
        ("tencent server: shell", "ins-r8hr`ls`"),
        ("tencent server: empty", ""),
    ] {
        v.push(Case {
            name,
            args: with(TCS, &["--server-id", id]),
            exit: 2,
            says: &[],
            config: None,
        });
    }
    // Malformed Huawei ids.
    for (name, id) in [
        ("huawei: not a uuid", "server-1"),
        (
            "huawei: uuid too short",
            "616fb98f-46ca-475e-917e-2563e5a8cd1",
        ),
        (
            "huawei: uuid with junk",
            "616fb98f-46ca-475e-917e-2563e5a8cd19;ls",
        ),
        ("huawei: whitespace", "  "),
        ("huawei: sql", "' OR 1=1 --"),
    ] {
        v.push(Case {
            name,
            args: with(HW, &["--server-id", id]),
            exit: 2,
            says: &[],
            config: None,
        });
    }
    // Malformed QingCloud ids.
    for (name, id) in [
        ("qingcloud job: wrong prefix", "job-bp6rj09f"),
        ("qingcloud job: unicode", "hpcjob-bp6rj0ü"),
        ("qingcloud job: shell", "hpcjob-$(id)"),
    ] {
        v.push(Case {
            name,
            args: with(QJ, &["--job-id", id]),
            exit: 2,
            says: &[],
            config: None,
        });
    }
    for (name, id) in [
        ("qingcloud cluster: wrong prefix", "cl-6o2qc9tl"),
        (
            "qingcloud cluster: overlong",
            "hpc-6o2qc9tlxxxxxxxxxxxxxxxx",
        ),
    ] {
        v.push(Case {
            name,
            args: with(QC, &["--cluster-id", id]),
            exit: 2,
            says: &[],
            config: None,
        });
    }
    // Missing locations and settings.
    v.push(case(
        "tencent: missing region",
        &["job", "stop", "-p", "tencent", "--job-id", "job-rybewp57"],
        2,
        &["--region", "TENCENTCLOUD_REGION"],
    ));
    v.push(case(
        "tencent: malformed region",
        &[
            "job",
            "stop",
            "-p",
            "tencent",
            "--region",
            "Guangzhou!",
            "--job-id",
            "job-rybewp57",
        ],
        2,
        &["region"],
    ));
    v.push(case(
        "huawei: missing region",
        &[
            "server",
            "stop",
            "-p",
            "huawei",
            "--server-id",
            "616fb98f-46ca-475e-917e-2563e5a8cd19",
        ],
        2,
        &["--region"],
    ));
    v.push(case(
        "huawei: malformed project",
        &[
            "server",
            "stop",
            "-p",
            "huawei",
            "--region",
            "cn-north-4",
            "--project-id",
            "xyz",
            "--server-id",
            "616fb98f-46ca-475e-917e-2563e5a8cd19",
        ],
        2,
        &["project"],
    ));
    v.push(case(
        "qingcloud: missing zone",
        &[
            "job",
            "stop",
            "-p",
            "qingcloud",
            "--cluster-id",
            "ehpc-8jqdq0mz",
            "--job-id",
            "hpcjob-bp6rj09f",
        ],
        2,
        &["--zone"],
    ));
    v.push(case(
        "qingcloud: missing cluster for jobs",
        &[
            "job",
            "stop",
            "-p",
            "qingcloud",
            "--zone",
            "jn1a",
            "--job-id",
            "hpcjob-bp6rj09f",
        ],
        2,
        &["--cluster-id"],
    ));
    v.push(case(
        "qingcloud: missing run user",
        &[
            "cluster",
            "delete",
            "-p",
            "qingcloud",
            "--zone",
            "jn1a",
            "--cluster-id",
            "hpc-6o2qc9tl",
            "--yes",
        ],
        2,
        &["--run-user", "CLOUDSTOP_RUN_USER"],
    ));
    v.push(case(
        "qingcloud: delete without --yes off a terminal",
        &[
            "cluster",
            "delete",
            "-p",
            "qingcloud",
            "--zone",
            "jn1a",
            "--cluster-id",
            "hpc-6o2qc9tl",
            "--run-user",
            "usr-IuZxPyn2",
        ],
        2,
        &["--yes"],
    ));
    // Unknown provider, unsupported operations, conflicting flags.
    v.push(case(
        "unknown provider",
        &["job", "stop", "-p", "aws", "--job-id", "job-rybewp57"],
        2,
        &["aws", "possible values"],
    ));
    v.push(case(
        "huawei job stop",
        &["job", "stop", "-p", "huawei", "--job-id", "job-rybewp57"],
        2,
        &["huawei does not support job stop"],
    ));
    v.push(case(
        "tencent cluster delete",
        &[
            "cluster",
            "delete",
            "-p",
            "tencent",
            "--cluster-id",
            "hpc-6o2qc9tl",
            "--yes",
        ],
        2,
        &["tencent does not support cluster delete"],
    ));
    v.push(case(
        "stop-charging elsewhere",
        &with(
            HW,
            &[
                "--server-id",
                "616fb98f-46ca-475e-917e-2563e5a8cd19",
                "--stop-charging",
            ],
        )
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>(),
        2,
        &["--stop-charging"],
    ));
    v.push(case(
        "cluster-id on tencent job stop",
        &with(
            TC,
            &["--job-id", "job-rybewp57", "--cluster-id", "ehpc-8jqdq0mz"],
        )
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>(),
        2,
        &["--cluster-id"],
    ));
    v.push(case(
        "quiet and verbose",
        &with(TC, &["--job-id", "job-rybewp57", "-q", "-v"])
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
        2,
        &["cannot be used with"],
    ));
    v.push(case(
        "hard on job stop",
        &with(TC, &["--job-id", "job-rybewp57", "--hard"])
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
        2,
        &["--hard"],
    ));
    // Bad durations and numbers.
    for (name, flag, value, says) in [
        ("timeout banana", "--timeout", "banana", "banana"),
        ("wait-timeout negative", "--wait-timeout", "-5s", "-5s"),
        (
            "poll-interval zero",
            "--poll-interval",
            "0s",
            "greater than zero",
        ),
        ("concurrency zero", "--concurrency", "0", "0"),
        ("concurrency text", "--concurrency", "many", "many"),
        ("rate negative", "--rate", "-1", "-1"),
        ("rate zero", "--rate", "0", "greater than 0"),
        ("retries huge", "--retries", "1000", "1000"),
    ] {
        let _ = says;
        v.push(Case {
            name,
            args: with(TC, &["--job-id", "job-rybewp57", flag, value]),
            exit: 2,
            says: Box::leak(
                vec![Box::leak(value.to_string().into_boxed_str()) as &str].into_boxed_slice(),
            ),
            config: None,
        });
    }
    // Values shown as typed: quotes as they are, control characters escaped.
    v.push(case(
        "an injection-looking id, shown as typed",
        &with(TC, &["--job-id", "job-' OR '1'='1"])
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
        2,
        &["'job-' OR '1'='1'"],
    ));
    v.push(case(
        "an id with a terminal escape, escaped",
        &with(TC, &["--job-id", "job-\u{1b}[2Jx\u{7}"])
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
        2,
        &["'job-\\u{1b}[2Jx\\u{7}'"],
    ));
    // Durations bounded when parsed (a huge one used to panic after the stop was sent).
    for (name, flag, value) in [
        (
            "wait-timeout past u64 seconds",
            "--wait-timeout",
            "18446744073709551615s",
        ),
        ("wait-timeout over a week", "--wait-timeout", "8d"),
        ("poll-interval over a day", "--poll-interval", "25h"),
        ("timeout over an hour", "--timeout", "2h"),
    ] {
        v.push(Case {
            name,
            args: with(TC, &["--job-id", "job-rybewp57", "--wait", flag, value]),
            exit: 2,
            says: &["at most"],
            config: None,
        });
    }
    // Id files.
    v.push(case(
        "ids-from missing file",
        &with(TC, &["--ids-from", "/nonexistent/ids.txt"])
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
        2,
        &["/nonexistent/ids.txt"],
    ));
    v.push(case(
        "ids-from a directory",
        &with(TC, &["--ids-from", "/"])
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
        2,
        &["--ids-from"],
    ));
    v.push(case(
        "no ids at all",
        TC,
        2,
        &["no job ids", "never means all"],
    ));
    // Config files.
    v.push(Case {
        name: "invalid TOML",
        args: with(TC, &["--job-id", "job-rybewp57"]),
        exit: 3,
        says: &["invalid config file"],
        config: Some(("[profiles.default.tencent\nsecret_id = 1", 0o600)),
    });
    v.push(Case {
        name: "unknown key in profile",
        args: with(TC, &["--job-id", "job-rybewp57"]),
        exit: 3,
        says: &["unknown key 'colour'"],
        config: Some(("[profiles.default.tencent]\ncolour = \"blue\"\n", 0o600)),
    });
    v.push(Case {
        name: "unknown provider in profile",
        args: with(TC, &["--job-id", "job-rybewp57"]),
        exit: 3,
        says: &["unknown provider 'aws'"],
        config: Some(("[profiles.default.aws]\nkey = \"x\"\n", 0o600)),
    });
    v.push(Case {
        name: "world-readable config with a secret",
        args: with(TC, &["--job-id", "job-rybewp57"]),
        exit: 3,
        says: &["chmod 600"],
        config: Some((
            "[profiles.default.tencent]\nsecret_id = \"AKID\"\nsecret_key = \"s\"\n",
            0o644,
        )),
    });
    v
}

#[tokio::test(flavor = "multi_thread")]
async fn every_bad_input_is_refused_before_sending() {
    let server = MockServer::start().await;
    Mock::given(|_: &Request| true)
        .respond_with(ResponseTemplate::new(200))
        .expect(0)
        .mount(&server)
        .await;
    let cases = corpus();
    assert!(cases.len() >= 40, "corpus has {} cases", cases.len());
    let mut failures = Vec::new();
    for c in cases {
        let uri = server.uri();
        let r = blocking(move || {
            let sb = Sandbox::new()
                .env("TENCENTCLOUD_SECRET_ID", "AKIDBAD")
                .env("TENCENTCLOUD_SECRET_KEY", "bad-input-secret")
                .env("HUAWEICLOUD_SDK_AK", "HWAKBAD")
                .env("HUAWEICLOUD_SDK_SK", "bad-input-secret")
                .env("QINGCLOUD_ACCESS_KEY_ID", "QYBAD")
                .env("QINGCLOUD_SECRET_ACCESS_KEY", "bad-input-secret")
                .env("HUAWEICLOUD_SDK_IAM_ENDPOINT", &uri);
            if let Some((text, mode)) = c.config {
                let p = sb.write(".config/cloudstop/config.toml", text);
                #[cfg(unix)]
                {
                    use std::os::unix::fs::PermissionsExt;
                    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
                }
                #[cfg(not(unix))]
                let _ = (p, mode);
            }
            let mut args = c.args.clone();
            args.extend(["--endpoint".to_string(), uri.clone()]);
            let a: Vec<&str> = args.iter().map(String::as_str).collect();
            (c, sb.run(&a))
        })
        .await;
        let (c, r) = r;
        if let Err(e) = check(&c, &r) {
            failures.push(format!(
                "{}: {e}\n  stdout: {}\n  stderr: {}",
                c.name,
                r.stdout.trim(),
                r.stderr.trim()
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} failing cases:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

fn check(c: &Case, r: &common::Run) -> Result<(), String> {
    if r.code != c.exit {
        return Err(format!("exit {} instead of {}", r.code, c.exit));
    }
    if r.stderr.contains("panicked") {
        return Err("panic".into());
    }
    if r.stdout.contains("bad-input-secret") || r.stderr.contains("bad-input-secret") {
        return Err("secret leaked".into());
    }
    let text = if r.stdout.trim().is_empty() {
        r.stderr.clone()
    } else {
        let v: serde_json::Value =
            serde_json::from_str(&r.stdout).map_err(|e| format!("stdout not JSON: {e}"))?;
        if v["ok"] != false {
            return Err("ok is not false".into());
        }
        if v["results"].as_array().map_or(0, Vec::len) != 0 {
            return Err("results present: something was attempted".into());
        }
        v["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    };
    for s in c.says {
        if !text.contains(s) {
            return Err(format!("message {text:?} does not contain {s:?}"));
        }
    }
    Ok(())
}
