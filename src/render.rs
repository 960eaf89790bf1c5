//! What people read: the text table, `providers`, completions and the man page.
//! Scripts read the JSON envelope, which this module never changes.

use crate::cli::{Cli, CompletionShell, OutputFormat, ProvidersArgs};
use crate::config::{ConfigFile, Env};
use crate::envelope::{Envelope, ResultItem, Status};
use crate::plan::{Operation, ProviderName};
use crate::providers::{self, Ctx};
use clap::CommandFactory;
use serde_json::json;
use std::io::Write;
use std::path::PathBuf;

/// Whether to colour a stream: only a terminal, and never with `NO_COLOR` set
/// (<https://no-color.org>) or `TERM=dumb`.
pub fn color_wanted(is_terminal: bool, env: &Env) -> bool {
    is_terminal && env.get("NO_COLOR").is_none() && env.get("TERM") != Some("dumb")
}

/// ANSI styles, or nothing at all when colour is off.
#[derive(Debug, Clone, Copy)]
struct Paint(bool);

impl Paint {
    fn wrap(self, code: &str, s: &str) -> String {
        if self.0 {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }
    fn green(self, s: &str) -> String {
        self.wrap("32", s)
    }
    fn red(self, s: &str) -> String {
        self.wrap("31", s)
    }
    fn yellow(self, s: &str) -> String {
        self.wrap("33", s)
    }
    fn bold(self, s: &str) -> String {
        self.wrap("1", s)
    }
    fn dim(self, s: &str) -> String {
        self.wrap("2", s)
    }
}

/// `--output text` without colour.
#[allow(dead_code)] // the plain form, used by tests and kept as the stable entry point
pub fn text(env: &Envelope) -> String {
    text_styled(env, false)
}

/// `--output text`: the requests shown (`--dry-run`, `-vvv`), then an aligned table
/// (id, status, provider job id, error) and a one-line summary; `color` only when the
/// caller checked [`color_wanted`].
pub fn text_styled(env: &Envelope, color: bool) -> String {
    let paint = Paint(color);
    let mut out = requests_text(env, paint);
    let header = ["ID", "STATUS", "PROVIDER JOB", "ERROR"].map(String::from);
    let rows: Vec<[String; 4]> = env.results.iter().map(row).collect();
    let mut widths = [0usize; 3];
    for r in std::iter::once(&header).chain(rows.iter()) {
        for (w, cell) in widths.iter_mut().zip(r.iter()) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let pad = |s: &str, w: usize| format!("{s}{}", " ".repeat(w - s.chars().count()));
    if !rows.is_empty() {
        let line = format!(
            "{}  {}  {}  {}",
            pad(&header[0], widths[0]),
            pad(&header[1], widths[1]),
            pad(&header[2], widths[2]),
            header[3]
        );
        out.push_str(&paint.bold(&line));
        out.push('\n');
        for (r, item) in rows.iter().zip(&env.results) {
            // Pad first, colour after: escapes must not count towards the width.
            let status = pad(&r[1], widths[1]);
            let status = match status_tone(item) {
                Tone::Good => paint.green(&status),
                Tone::Bad => paint.red(&status),
                Tone::Warn => paint.yellow(&status),
            };
            let error = if item.error.is_some() {
                paint.red(&r[3])
            } else {
                paint.dim(&r[3])
            };
            let line = format!(
                "{}  {}  {}  {}",
                pad(&r[0], widths[0]),
                status,
                pad(&r[2], widths[2]),
                error
            );
            out.push_str(line.trim_end());
            out.push('\n');
        }
    }
    if let Some(e) = &env.error {
        let code = e
            .code
            .as_deref()
            .map(|c| format!(" {c}"))
            .unwrap_or_default();
        out.push_str(&paint.red(&format!("error ({}{code}): {}", e.kind.as_str(), e.message)));
        out.push('\n');
    }
    out.push_str(&summary(env, paint));
    out
}

/// Each request of the envelope as an HTTP message: `METHOD URL`, the headers as
/// recorded (signatures and tokens already `[redacted]`), a blank line and the body.
fn requests_text(env: &Envelope, paint: Paint) -> String {
    let mut out = String::new();
    let n = env.requests.len();
    for (i, r) in env.requests.iter().enumerate() {
        let credentials = match r.credentials {
            crate::envelope::CredentialsUsed::Configured => "configured credentials",
            crate::envelope::CredentialsUsed::Placeholder => "placeholder credentials",
        };
        let sent = if env.dry_run { "not sent" } else { "sent" };
        out.push_str(&paint.dim(&format!(
            "# request {} of {n} ({sent}, {credentials})",
            i + 1
        )));
        out.push('\n');
        out.push_str(&paint.bold(&format!("{} {}", r.method, r.url)));
        out.push('\n');
        for (k, v) in &r.headers {
            out.push_str(&format!("{k}: {v}\n"));
        }
        if !r.body.is_empty() {
            out.push('\n');
            out.push_str(&r.body);
            if !r.body.ends_with('\n') {
                out.push('\n');
            }
        }
        out.push('\n');
    }
    out
}

enum Tone {
    Good,
    Bad,
    Warn,
}

fn status_tone(item: &ResultItem) -> Tone {
    match (item.ok, item.status) {
        (true, _) => Tone::Good,
        (false, Status::Failed) => Tone::Bad,
        (false, _) => Tone::Warn,
    }
}

fn row(r: &ResultItem) -> [String; 4] {
    let error = r
        .error
        .as_ref()
        .map(|e| match &e.code {
            Some(c) => format!("{c}: {}", e.message),
            None => e.message.clone(),
        })
        .unwrap_or_else(|| "-".into());
    [
        // Selected resources show their name; with several locations, where they are
        // (results come ordered by location, so they read as groups).
        {
            let id = match &r.name {
                Some(n) if !n.is_empty() => format!("{} ({n})", r.id),
                _ => r.id.clone(),
            };
            match r.location.as_ref().and_then(|l| l.values().next()) {
                Some(place) => format!("{place}  {id}"),
                None => id,
            }
        },
        r.status.as_str().to_string(),
        r.provider_job_id.clone().unwrap_or_else(|| "-".into()),
        // One row per result: a multi-line provider message stays on its row.
        error.replace(['\n', '\r'], " "),
    ]
}

/// `ok: tencent job.stop in region=ap-guangzhou: 2 requested, 2 succeeded, 0 failed (182 ms)`
fn summary(env: &Envelope, paint: Paint) -> String {
    let verdict = if env.ok {
        paint.green("ok")
    } else {
        paint.red("failed")
    };
    let location: Vec<String> = env
        .location
        .iter()
        .map(|(k, v)| match v {
            serde_json::Value::String(s) => format!("{k}={s}"),
            serde_json::Value::Array(a) => {
                let all: Vec<&str> = a.iter().filter_map(|x| x.as_str()).collect();
                format!("{k}={}", all.join(","))
            }
            other => format!("{k}={other}"),
        })
        .collect();
    let location = if location.is_empty() {
        String::new()
    } else {
        format!(" in {}", location.join(" "))
    };
    let failed = format!("{} failed", env.summary.failed);
    let failed = if env.summary.failed > 0 {
        paint.red(&failed)
    } else {
        failed
    };
    format!(
        "{verdict}: {} {}{location}{}: {} requested, {} succeeded, {failed} ({} ms)",
        env.provider,
        env.operation,
        if env.dry_run {
            " (dry run, nothing sent)"
        } else {
            ""
        },
        env.summary.requested,
        env.summary.succeeded,
        env.elapsed_ms
    )
}

/// The progress bar on screen, if any: log lines and the prompt print above it (or
/// while it is hidden) instead of through it.
static SHOWN_BAR: std::sync::Mutex<Option<indicatif::ProgressBar>> = std::sync::Mutex::new(None);

fn shown_bar() -> Option<indicatif::ProgressBar> {
    SHOWN_BAR.lock().ok().and_then(|b| b.clone())
}

/// The `tracing` writer: stderr, through the progress bar's own printing while one is
/// on screen, so that a log line and the bar never overwrite each other.
#[derive(Debug, Clone, Copy, Default)]
pub struct LogWriter;

impl Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.write_all(buf).map(|()| buf.len())
    }

    fn write_all(&mut self, buf: &[u8]) -> std::io::Result<()> {
        // One event is one `write_all` of whole lines (tracing-subscriber's fmt layer
        // formats the event first), so it is printed in one piece above the bar.
        let write = || {
            let mut err = std::io::stderr().lock();
            err.write_all(buf)?;
            err.flush()
        };
        match shown_bar() {
            Some(bar) => bar.suspend(write),
            None => write(),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogWriter {
    type Writer = LogWriter;

    fn make_writer(&'a self) -> LogWriter {
        LogWriter
    }
}

/// A progress bar on stderr while a run executes: for many ids and for `--wait`,
/// only when stderr is a terminal and not `--quiet`. It reads `ctx.report`, so no
/// provider code knows it exists. It stays off the screen while a confirmation is
/// pending (the prompt owns the terminal then).
pub struct Progress {
    bar: Option<indicatif::ProgressBar>,
}

impl Progress {
    pub fn new(ctx: &Ctx, stderr_is_terminal: bool, quiet: bool) -> Progress {
        let plan = &ctx.plan;
        let worth_it = plan.ids.len() > 1 || plan.wait || plan.selectors.is_some();
        // A dumb terminal cannot redraw a line in place.
        let dumb = ctx.env.get("TERM") == Some("dumb");
        if !stderr_is_terminal || dumb || quiet || plan.dry_run || !worth_it {
            return Progress { bar: None };
        }
        // Hidden until `follow` finds the run cleared to send.
        let bar = indicatif::ProgressBar::with_draw_target(
            Some(plan.ids.len() as u64),
            indicatif::ProgressDrawTarget::hidden(),
        );
        // No colour in the template: it stays readable with NO_COLOR and TERM=dumb.
        if let Ok(style) = indicatif::ProgressStyle::with_template(
            "{spinner} {msg} [{bar:30}] {pos}/{len} {elapsed}",
        ) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_message(format!(
            "{} {}",
            plan.provider.as_str(),
            plan.operation.verb()
        ));
        Progress { bar: Some(bar) }
    }

    /// Follows the report until dropped (runs inside the run's `select!`).
    pub async fn follow(&self, ctx: &Ctx) -> std::convert::Infallible {
        let Some(bar) = &self.bar else {
            return std::future::pending().await;
        };
        let mut tick = tokio::time::interval(std::time::Duration::from_millis(200));
        loop {
            tick.tick().await;
            if !ctx.cleared_to_send() {
                continue;
            }
            if bar.is_hidden() && !bar.is_finished() {
                bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
                bar.enable_steady_tick(std::time::Duration::from_millis(120));
                if let Ok(mut shown) = SHOWN_BAR.lock() {
                    *shown = Some(bar.clone());
                }
            }
            // Selectors find the ids during the run.
            bar.set_length(ctx.report.len() as u64);
            let (accepted, settled) = ctx.report.tally(is_final);
            let waiting = ctx.plan.wait && accepted == ctx.report.len();
            bar.set_message(progress_message(
                ctx,
                waiting,
                ctx.report.locations_progress(),
            ));
            bar.set_position(if waiting { settled } else { accepted } as u64);
        }
    }

    /// Takes the bar off the screen for good (the end of a run, or an interrupt).
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            if let Ok(mut shown) = SHOWN_BAR.lock() {
                *shown = None;
            }
            bar.disable_steady_tick();
            bar.finish_and_clear();
        }
    }
}

/// The bar's words: the operation (or the wait for it), and with several locations
/// how many of them have finished.
fn progress_message(ctx: &Ctx, waiting: bool, places: Option<(String, usize, usize)>) -> String {
    let verb = ctx.plan.operation.verb();
    let mut m = if waiting {
        format!("waiting ({verb})")
    } else {
        format!("{} {verb}", ctx.plan.provider.as_str())
    };
    if let Some((key, done, all)) = places {
        m.push_str(&format!(", {done}/{all} {key} done"));
    }
    m
}

/// A result that `--wait` no longer waits for.
fn is_final(r: &ResultItem) -> bool {
    r.error.is_some()
        || matches!(
            r.status,
            Status::Stopped
                | Status::Deleted
                | Status::AlreadyStopped
                | Status::NotFound
                | Status::Failed
        )
}

/// `cloudstop completions <shell>`: the script on stdout.
pub fn completions(shell: CompletionShell) -> u8 {
    let mut buf = Vec::new();
    completions_to(shell, &mut buf);
    write_stdout(&buf)
}

fn completions_to(shell: CompletionShell, out: &mut Vec<u8>) {
    use clap_complete::Shell;
    let shell = match shell {
        CompletionShell::Bash => Shell::Bash,
        CompletionShell::Zsh => Shell::Zsh,
        CompletionShell::Fish => Shell::Fish,
        CompletionShell::Powershell => Shell::PowerShell,
        CompletionShell::Elvish => Shell::Elvish,
    };
    clap_complete::generate(shell, &mut Cli::command(), "cloudstop", out);
}

/// `cloudstop man`: the man page (roff) on stdout, subcommands included.
pub fn man() -> u8 {
    let mut buf = Vec::new();
    if render_man(&mut buf).is_err() {
        return 1;
    }
    write_stdout(&buf)
}

fn render_man(buf: &mut Vec<u8>) -> std::io::Result<()> {
    let cmd = Cli::command();
    let top = clap_mangen::Man::new(cmd.clone());
    // One page: the verbs are sections of it, so the page names no `cloudstop-job(1)`
    // pages (clap_mangen's SUBCOMMANDS section would) that do not exist.
    top.render_title(buf)?;
    top.render_name_section(buf)?;
    top.render_synopsis_section(buf)?;
    top.render_description_section(buf)?;
    top.render_options_section(buf)?;
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        let leaves: Vec<(String, clap::Command)> = if sub.has_subcommands() {
            sub.get_subcommands()
                .map(|l| (format!("{} {}", sub.get_name(), l.get_name()), l.clone()))
                .collect()
        } else {
            vec![(sub.get_name().to_string(), sub.clone())]
        };
        for (name, leaf) in leaves {
            let full = format!("cloudstop {name}");
            let title = full.to_uppercase();
            let leaf = leaf.bin_name(full);
            writeln!(buf, ".SH \"{title}\"")?;
            if let Some(about) = leaf.get_about() {
                writeln!(buf, "{}", roff_escape(&about.to_string()))?;
            }
            let man = clap_mangen::Man::new(leaf.clone());
            // The verb's own headings are subsections of its section.
            let mut part = Vec::new();
            man.render_synopsis_section(&mut part)?;
            if leaf.get_arguments().any(|a| !a.is_hide_set()) {
                man.render_options_section(&mut part)?;
            }
            for line in String::from_utf8_lossy(&part).lines() {
                match line.strip_prefix(".SH ") {
                    Some(h) => writeln!(buf, ".SS {h}")?,
                    None => writeln!(buf, "{line}")?,
                }
            }
            if let Some(after) = leaf.get_after_help() {
                writeln!(buf, ".PP")?;
                for line in after.to_string().lines() {
                    writeln!(buf, "{}\n.br", roff_escape(line.trim_start()))?;
                }
            }
        }
    }
    man_reference(buf)?;
    if let Some(after) = cmd.get_after_help() {
        writeln!(buf, ".SH EXAMPLES")?;
        for line in after.to_string().lines().skip(1) {
            writeln!(buf, "{}\n.br", roff_escape(line.trim_start()))?;
        }
    }
    top.render_version_section(buf)?;
    Ok(())
}

/// `.TP` paragraph: a bold tag and its text.
fn man_item(buf: &mut Vec<u8>, tag: &str, text: &str) -> std::io::Result<()> {
    writeln!(
        buf,
        ".TP\n\\fB{}\\fR\n{}",
        roff_escape(tag),
        roff_escape(text)
    )
}

fn man_para(buf: &mut Vec<u8>, text: &str) -> std::io::Result<()> {
    writeln!(buf, ".PP\n{}", roff_escape(text))
}

/// The man page's reference sections: credentials, the config file, the environment
/// and the exit status. Each provider's variables, keys and files come from the same
/// table `cloudstop providers` shows.
fn man_reference(buf: &mut Vec<u8>) -> std::io::Result<()> {
    writeln!(buf, ".SH CREDENTIALS")?;
    man_para(
        buf,
        "Each provider's credentials are looked for in this order, and the first source \
that holds them is used: (1) the provider's official environment variables; (2) the \
profile in the cloudstop config file; (3) the provider's own CLI or SDK file; (4) web \
identity (OIDC) for CI; (5) the role of the machine it runs on, from the instance \
metadata service (1 s to connect). A Tencent profile's role_arn is assumed on top of what \
was found. Temporary keys are renewed once when less than 5 minutes are left; a failed \
renewal is exit 3. Region, zone, project id and endpoint follow the same order after \
their flag. A --profile given on the command line wins as a whole: its keys and \
settings go before the environment's (CLOUDSTOP_PROFILE names a profile without \
reordering). A profile named by --profile or CLOUDSTOP_PROFILE that does not exist for \
the provider, or a CLOUDSTOP_CONFIG that does not exist, is exit 3 naming the profiles \
that do. -v names the source used (env, profile, file, web-identity, instance-role, \
assume-role), never the secret. Missing credentials exit 3, naming the variables and \
files that would provide them. Secrets never appear in \
output, logs or errors. `cloudstop providers` shows where each provider's credentials \
would come from now.",
    )?;
    for p in ProviderName::ALL {
        let i = info(p);
        let mut text = format!(
            "Environment: {}",
            i.env_pairs
                .iter()
                .map(|pair| pair.join(" and "))
                .collect::<Vec<_>>()
                .join(", or ")
        );
        if !i.env_optional.is_empty() {
            text.push_str(&format!(" (optional: {})", i.env_optional.join(", ")));
        }
        text.push_str(&format!(
            ". Profile keys: {} in [profiles.NAME.{}]. Files: {}. Without stored keys: {}.",
            i.profile_keys.join(" and "),
            p.as_str(),
            i.files.join(", "),
            i.temporary
        ));
        man_item(buf, p.as_str(), &text)?;
    }

    writeln!(buf, ".SH \"CONFIGURATION FILE\"")?;
    man_para(
        buf,
        "$CLOUDSTOP_CONFIG, else $XDG_CONFIG_HOME/cloudstop/config.toml, else \
~/.config/cloudstop/config.toml. TOML with one table per profile and provider; a missing \
file is an empty one. A file that holds a secret and is readable by group or others is \
refused (exit 3) with the chmod 600 it needs. Unknown keys are errors. A leading \
byte-order mark is ignored, here and in the providers' own files.",
    )?;
    writeln!(
        buf,
        ".PP\n.nf\n[profiles.default.tencent]\nsecret_id = \"AKID\\&...\"\nsecret_key = \"\\&...\"\n\
region = \"ap\\-guangzhou\"\n\n[profiles.prod.qingcloud]\naccess_key_id = \"\\&...\"\n\
secret_access_key = \"\\&...\"\nzone = \"jn1a\"\nrun_user = \"usr\\-IuZxPyn2\"\n.fi"
    )?;
    for p in ProviderName::ALL {
        let settings: Vec<String> = info(p)
            .settings
            .iter()
            .map(|s| format!("{} ({}, {})", s.name, s.flag, s.elsewhere))
            .collect();
        man_item(
            buf,
            &format!("[profiles.NAME.{}]", p.as_str()),
            &format!(
                "credentials: {}; settings: {}.",
                info(p).profile_keys.join(", "),
                settings.join("; ")
            ),
        )?;
    }

    writeln!(buf, ".SH ENVIRONMENT")?;
    let general: &[(&str, &str)] = &[
        ("CLOUDSTOP_PROVIDER", "the provider, as --provider"),
        ("CLOUDSTOP_PROFILE", "the profile (default: default)"),
        ("CLOUDSTOP_CONFIG", "the config file's path"),
        (
            "XDG_CONFIG_HOME",
            "where the config file is looked for when CLOUDSTOP_CONFIG is unset",
        ),
        (
            "HTTPS_PROXY, NO_PROXY",
            "the proxy to reach the providers through, and the hosts reached directly",
        ),
        (
            "NO_COLOR",
            "set and not empty: no colour in logs or in the text table (https://no-color.org)",
        ),
        ("TERM", "dumb: no colour and no progress bar"),
        (
            "CLOUDSTOP_OIDC_AUDIENCE",
            "the audience of the OIDC token requested from the GitHub Actions runner",
        ),
        (
            "ACTIONS_ID_TOKEN_REQUEST_URL, ACTIONS_ID_TOKEN_REQUEST_TOKEN",
            "set by GitHub Actions (permissions: id-token: write): web identity without a token file",
        ),
        (
            "TKE_REGION, TKE_PROVIDER_ID, TKE_WEB_IDENTITY_TOKEN_FILE, TKE_ROLE_ARN",
            "Tencent web identity (STS AssumeRoleWithWebIdentity)",
        ),
        (
            "HUAWEICLOUD_SDK_IDP_ID, HUAWEICLOUD_SDK_ID_TOKEN_FILE",
            "Huawei IdP id-token flow (temporary AK/SK and security token)",
        ),
        (
            "CLOUDSTOP_TENCENT_METADATA_ENDPOINT, CLOUDSTOP_HUAWEI_METADATA_ENDPOINT",
            "the instance metadata services' base URLs (CVM role, ECS agency)",
        ),
        (
            "TCCLI_PROFILE",
            "tccli's profile, when neither --profile nor CLOUDSTOP_PROFILE is given",
        ),
        (
            "CLOUDSTOP_QINGCLOUD_ENDPOINT, CLOUDSTOP_QINGCLOUD_IAAS_ENDPOINT",
            "QingCloud HPC (job stop, cluster delete) reads the first; IaaS (server stop) the second, else the first",
        ),
    ];
    for (name, text) in general {
        man_item(buf, name, text)?;
    }
    for p in ProviderName::ALL {
        let i = info(p);
        let mut vars: Vec<String> = i
            .env_pairs
            .iter()
            .flatten()
            .map(|v| v.to_string())
            .collect();
        vars.extend(i.env_optional.iter().map(|v| v.to_string()));
        let mut text = format!("credentials: {}", vars.join(", "));
        for s in i.settings {
            text.push_str(&format!("; {} ({}): {}", s.name, s.flag, s.env.join(", ")));
        }
        man_item(
            buf,
            &format!("{} variables", p.as_str()),
            &format!("{text}."),
        )?;
    }

    writeln!(buf, ".SH \"EXIT STATUS\"")?;
    for (code, text) in [
        ("0", "every requested resource succeeded (--ignore-missing turns not-found into success)"),
        ("1", "the provider refused or failed the operation for at least one resource"),
        ("2", "usage: bad flags, malformed id, missing region or zone, confirmation needed or declined"),
        ("3", "credentials missing or rejected, permission denied, unsafe config file"),
        ("4", "some resources do not exist, and nothing else failed"),
        ("5", "transient: throttling, network or 5xx still failing after the retries; safe to run again"),
        ("6", "--wait ran out of time before every resource reached a final state"),
        ("130", "interrupted (Ctrl-C, SIGINT or SIGTERM); the envelope of what is known is still printed"),
    ] {
        man_item(buf, code, text)?;
    }
    man_para(
        buf,
        "With several kinds of failure the highest in this order wins: 3, 1, 5, 6, 4.",
    )
}

fn roff_escape(s: &str) -> String {
    let s = s.replace('\\', "\\\\").replace('-', "\\-");
    if s.starts_with('.') || s.starts_with('\'') {
        format!("\\&{s}")
    } else {
        s
    }
}

fn write_stdout(buf: &[u8]) -> u8 {
    let mut out = std::io::stdout().lock();
    // A closed pipe (`| head`) is not an error worth a panic.
    let _ = out.write_all(buf);
    let _ = out.flush();
    0
}

/// The operations of the grammar, in the order of the command tree.
const OPERATIONS: [Operation; 3] = [
    Operation::JobStop,
    Operation::ServerStop,
    Operation::ClusterDelete,
];

/// A setting a provider reads, and where it comes from (SPEC's order).
struct Setting {
    name: &'static str,
    required: &'static str,
    flag: &'static str,
    env: &'static [&'static str],
    elsewhere: &'static str,
}

/// What each provider needs: a static description (the operations come from
/// `providers::operations`, so a provider that gains one shows it at once).
struct ProviderInfo {
    /// Each alternative is a set of variables that together hold a key pair.
    env_pairs: &'static [[&'static str; 2]],
    env_optional: &'static [&'static str],
    /// `[profiles.<p>.<provider>]` keys holding the key pair.
    profile_keys: [&'static str; 2],
    /// The provider's own credential files, as shown.
    files: &'static [&'static str],
    /// Credentials without stored keys (SPEC "Credentials" 4–5), as shown.
    temporary: &'static str,
    settings: &'static [Setting],
}

fn info(p: ProviderName) -> ProviderInfo {
    match p {
        ProviderName::Tencent => ProviderInfo {
            env_pairs: &[["TENCENTCLOUD_SECRET_ID", "TENCENTCLOUD_SECRET_KEY"]],
            env_optional: &["TENCENTCLOUD_TOKEN"],
            profile_keys: ["secret_id", "secret_key"],
            files: &[
                "~/.tencentcloud/credentials (TENCENTCLOUD_CREDENTIALS_FILE)",
                "/etc/tencentcloud/credentials",
                "~/.tccli/<profile>.credential",
            ],
            temporary: "web identity (TKE_ROLE_ARN, TKE_PROVIDER_ID, TKE_WEB_IDENTITY_TOKEN_FILE or the \
GitHub Actions token, audience CLOUDSTOP_OIDC_AUDIENCE), CVM role (CLOUDSTOP_TENCENT_METADATA_ENDPOINT), \
profile role_arn assumed on top",
            settings: &[
                Setting {
                    name: "region",
                    required: "required",
                    flag: "--region",
                    env: &["CLOUDSTOP_REGION", "TENCENTCLOUD_REGION"],
                    elsewhere: "profile `region`, ~/.tccli/<profile>.configure",
                },
                Setting {
                    name: "endpoint",
                    required: "optional",
                    flag: "--endpoint",
                    env: &["CLOUDSTOP_TENCENT_ENDPOINT"],
                    elsewhere: "profile `endpoint`",
                },
            ],
        },
        ProviderName::Huawei => ProviderInfo {
            env_pairs: &[["HUAWEICLOUD_SDK_AK", "HUAWEICLOUD_SDK_SK"]],
            env_optional: &["HUAWEICLOUD_SDK_SECURITY_TOKEN"],
            profile_keys: ["ak", "sk"],
            files: &["~/.huaweicloud/credentials (HUAWEICLOUD_SDK_CREDENTIALS_FILE)"],
            temporary: "IdP id token (HUAWEICLOUD_SDK_IDP_ID, HUAWEICLOUD_SDK_ID_TOKEN_FILE or the GitHub \
Actions token, audience CLOUDSTOP_OIDC_AUDIENCE), ECS agency (CLOUDSTOP_HUAWEI_METADATA_ENDPOINT)",
            settings: &[
                Setting {
                    name: "region",
                    required: "required",
                    flag: "--region",
                    env: &["CLOUDSTOP_REGION"],
                    elsewhere: "profile `region`",
                },
                Setting {
                    name: "project id",
                    required: "looked up from IAM by region when absent",
                    flag: "--project-id",
                    env: &["CLOUDSTOP_PROJECT_ID", "HUAWEICLOUD_SDK_PROJECT_ID"],
                    elsewhere: "profile `project_id`, ~/.huaweicloud/credentials",
                },
                Setting {
                    name: "endpoint",
                    required: "optional",
                    flag: "--endpoint",
                    env: &[
                        "CLOUDSTOP_HUAWEI_ECS_ENDPOINT",
                        "CLOUDSTOP_HUAWEI_CCE_ENDPOINT",
                        "CLOUDSTOP_HUAWEI_MODELARTS_ENDPOINT",
                        "CLOUDSTOP_HUAWEI_ENDPOINT",
                        "HUAWEICLOUD_SDK_IAM_ENDPOINT",
                    ],
                    elsewhere: "profile `endpoint`, `iam_endpoint`; default https://<ecs|cce|modelarts>.<region>.myhuaweicloud.com",
                },
            ],
        },
        ProviderName::Qingcloud => ProviderInfo {
            env_pairs: &[
                ["QINGCLOUD_ACCESS_KEY_ID", "QINGCLOUD_SECRET_ACCESS_KEY"],
                ["QINGCLOUD_ACCESS_KEY", "QINGCLOUD_SECRET_KEY"],
            ],
            env_optional: &[],
            profile_keys: ["access_key_id", "secret_access_key"],
            files: &["~/.qingcloud/config.yaml"],
            temporary: "none: static keys only (QingCloud has no temporary credentials cloudstop can use)",
            settings: &[
                Setting {
                    name: "zone",
                    required: "required",
                    flag: "--zone",
                    env: &["CLOUDSTOP_ZONE", "QINGCLOUD_ZONE"],
                    elsewhere: "profile `zone`, ~/.qingcloud/config.yaml `zone`",
                },
                Setting {
                    name: "run user",
                    required: "required by cluster delete",
                    flag: "--run-user",
                    env: &["CLOUDSTOP_RUN_USER"],
                    elsewhere: "profile `run_user`",
                },
                Setting {
                    name: "endpoint",
                    required: "optional",
                    flag: "--endpoint",
                    env: &[
                        "CLOUDSTOP_QINGCLOUD_ENDPOINT",
                        "CLOUDSTOP_QINGCLOUD_IAAS_ENDPOINT",
                    ],
                    elsewhere: "profile `endpoint`, `iaas_endpoint`",
                },
            ],
        },
    }
}

/// One place credentials could come from, and whether they are there. Only presence
/// is checked: no secret is read into this, let alone printed.
struct Source {
    kind: &'static str,
    detail: String,
    present: bool,
}

/// The config file as `providers` sees it: loaded, or the reason it cannot be.
struct Profiles {
    name: String,
    explicit: bool,
    path: Option<PathBuf>,
    file: Result<ConfigFile, String>,
}

impl Profiles {
    fn load(args: &ProvidersArgs, env: &Env) -> Profiles {
        let (name, explicit) = match &args.profile {
            Some(p) => (p.clone(), true),
            None => (
                env.get("CLOUDSTOP_PROFILE")
                    .unwrap_or("default")
                    .to_string(),
                false,
            ),
        };
        let path = env.config_path();
        let file = ConfigFile::load(
            path.clone(),
            env.config_path_explicit(),
            &providers::PROFILE_SECTIONS,
        )
        .map_err(|e| e.message.clone());
        Profiles {
            name,
            explicit,
            path,
            file,
        }
    }

    fn display_path(&self) -> String {
        self.path
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| "~/.config/cloudstop/config.toml".into())
    }
}

fn home_file(env: &Env, shown: &str) -> Option<PathBuf> {
    shown
        .strip_prefix("~/")
        .and_then(|rest| Some(env.home()?.join(rest)))
        .or_else(|| shown.starts_with('/').then(|| PathBuf::from(shown)))
}

/// Where credentials could be found for `p`, in the order the provider reads them.
fn sources(p: ProviderName, env: &Env, profiles: &Profiles) -> Vec<Source> {
    let i = info(p);
    let env_sources = i.env_pairs.iter().map(|pair| Source {
        kind: "env",
        detail: pair.join(" + "),
        present: pair.iter().all(|v| env.get(v).is_some()),
    });
    let profile = {
        let section = profiles
            .file
            .as_ref()
            .ok()
            .and_then(|f| f.section(&profiles.name, p.as_str()));
        let present = section.is_some_and(|s| {
            i.profile_keys.iter().all(|k| {
                s.get(*k)
                    .and_then(|v| v.as_str())
                    .is_some_and(|v| !v.is_empty())
            })
        });
        let detail = match &profiles.file {
            Ok(_) => format!(
                "[profiles.{}.{}] {} in {}",
                profiles.name,
                p.as_str(),
                i.profile_keys.join(" + "),
                profiles.display_path()
            ),
            Err(e) => format!("config file unusable: {e}"),
        };
        Source {
            kind: "profile",
            detail,
            present,
        }
    };
    let files = i.files.iter().map(|shown| {
        let (path_part, override_var) = match shown.split_once(" (") {
            Some((path, var)) => (path, Some(var.trim_end_matches(')'))),
            None => (*shown, None),
        };
        let path_part = path_part.replace("<profile>", &profiles.name);
        let path = override_var
            .and_then(|v| env.get(v))
            .map(PathBuf::from)
            .or_else(|| home_file(env, &path_part));
        Source {
            kind: "file",
            detail: path
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or(path_part),
            present: path.is_some_and(|p| p.is_file()),
        }
    });
    // SPEC: an explicit --profile goes before the environment.
    let mut out: Vec<Source> = Vec::new();
    if profiles.explicit {
        out.push(profile);
        out.extend(env_sources);
    } else {
        out.extend(env_sources);
        out.push(profile);
    }
    out.extend(files);
    out.extend(temporary_sources(p, env, profiles, &out));
    out
}

/// Web identity and the instance's role (SPEC "Credentials" 4–5). The metadata
/// service is asked (1 s to connect) only when no source before it has credentials.
fn temporary_sources(
    p: ProviderName,
    env: &Env,
    profiles: &Profiles,
    before: &[Source],
) -> Vec<Source> {
    let section_get = |key: &str| -> Option<String> {
        profiles
            .file
            .as_ref()
            .ok()?
            .section(&profiles.name, p.as_str())?
            .get(key)?
            .as_str()
            .filter(|v| !v.is_empty())
            .map(str::to_string)
    };
    let github = env.get("ACTIONS_ID_TOKEN_REQUEST_URL").is_some()
        && env.get("ACTIONS_ID_TOKEN_REQUEST_TOKEN").is_some();
    let (web, metadata) = match p {
        ProviderName::Tencent => (
            Source {
                kind: "web-identity",
                detail: "TKE_ROLE_ARN + TKE_PROVIDER_ID + (TKE_WEB_IDENTITY_TOKEN_FILE or GitHub Actions' token)"
                    .into(),
                present: env.get("TKE_ROLE_ARN").is_some()
                    && env.get("TKE_PROVIDER_ID").is_some()
                    && (env.get("TKE_WEB_IDENTITY_TOKEN_FILE").is_some() || github),
            },
            (
                env.get("CLOUDSTOP_TENCENT_METADATA_ENDPOINT")
                    .unwrap_or("http://metadata.tencentyun.com")
                    .to_string(),
                "/latest/meta-data/cam/security-credentials/",
                "CVM role",
            ),
        ),
        ProviderName::Huawei => (
            Source {
                kind: "web-identity",
                detail: "HUAWEICLOUD_SDK_IDP_ID + (HUAWEICLOUD_SDK_ID_TOKEN_FILE or GitHub Actions' token)"
                    .into(),
                present: (env.get("HUAWEICLOUD_SDK_IDP_ID").is_some() || section_get("idp_id").is_some())
                    && (env.get("HUAWEICLOUD_SDK_ID_TOKEN_FILE").is_some()
                        || section_get("id_token_file").is_some()
                        || github),
            },
            (
                env.get("CLOUDSTOP_HUAWEI_METADATA_ENDPOINT")
                    .unwrap_or("http://169.254.169.254")
                    .to_string(),
                "/openstack/latest/securitykey",
                "ECS agency",
            ),
        ),
        ProviderName::Qingcloud => return vec![],
    };
    let (base, probe_path, what) = metadata;
    let probe = !web.present && before.iter().all(|s| !s.present);
    let instance = Source {
        kind: "instance-role",
        detail: format!(
            "{what} from the metadata service at {base}{}",
            if probe {
                ""
            } else {
                " (not asked: a source above has credentials)"
            }
        ),
        present: probe && metadata_answers(&format!("{}{probe_path}", base.trim_end_matches('/'))),
    };
    vec![web, instance]
}

/// Whether the metadata service answers 200 with a body (1 s to connect, 3 s in all).
/// The body (a role name, or keys) is dropped unread.
fn metadata_answers(url: &str) -> bool {
    let Ok(rt) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    else {
        return false;
    };
    rt.block_on(async {
        let Ok(client) = reqwest::Client::builder()
            .connect_timeout(std::time::Duration::from_secs(1))
            .timeout(std::time::Duration::from_secs(3))
            .no_proxy()
            .build()
        else {
            return false;
        };
        match client.get(url).send().await {
            Ok(r) if r.status().as_u16() == 200 => r.bytes().await.is_ok_and(|b| !b.is_empty()),
            _ => false,
        }
    })
}

/// The source a run would use, with a profile's `role_arn` assumed on top (Tencent).
fn found_source(p: ProviderName, profiles: &Profiles, srcs: &[Source]) -> Option<(String, String)> {
    let found = srcs.iter().find(|s| s.present)?;
    let role = (p == ProviderName::Tencent)
        .then(|| {
            profiles
                .file
                .as_ref()
                .ok()?
                .section(&profiles.name, p.as_str())?
                .get("role_arn")?
                .as_str()
                .map(str::to_string)
        })
        .flatten();
    Some(match role {
        Some(arn) => (
            "assume-role".to_string(),
            format!(
                "role_arn {arn} with the credentials from {}: {}",
                found.kind, found.detail
            ),
        ),
        None => (found.kind.to_string(), found.detail.clone()),
    })
}

/// `cloudstop providers`: providers × operations, what each needs, and where
/// credentials were found for the current profile.
pub fn providers(args: &ProvidersArgs, env: &Env) -> u8 {
    let profiles = Profiles::load(args, env);
    let text = match args.output {
        OutputFormat::Json => {
            let mut s = serde_json::to_string_pretty(&providers_json(env, &profiles))
                .expect("a JSON value serialises");
            s.push('\n');
            s
        }
        OutputFormat::Text => providers_text(env, &profiles),
    };
    write_stdout(text.as_bytes())
}

fn offered(p: ProviderName) -> Vec<&'static str> {
    let ops = providers::operations(p);
    OPERATIONS
        .iter()
        .filter(|o| ops.contains(o))
        .map(|o| o.verb())
        .collect()
}

fn providers_json(env: &Env, profiles: &Profiles) -> serde_json::Value {
    let list: Vec<serde_json::Value> = ProviderName::ALL
        .iter()
        .map(|&p| {
            let i = info(p);
            let srcs = sources(p, env, profiles);
            let found = found_source(p, profiles, &srcs);
            json!({
                "provider": p.as_str(),
                "operations": offered(p),
                "credentials": {
                    "env": i.env_pairs,
                    "env_optional": i.env_optional,
                    "profile_keys": i.profile_keys,
                    "files": i.files,
                    "temporary": i.temporary,
                    "static_keys_only": p == ProviderName::Qingcloud,
                    "found": found.map(|(kind, detail)| json!({"source": kind, "detail": detail})),
                    "sources": srcs.iter().map(|s| json!({
                        "source": s.kind, "detail": s.detail, "present": s.present
                    })).collect::<Vec<_>>(),
                },
                "settings": i.settings.iter().map(|s| json!({
                    "name": s.name,
                    "required": s.required,
                    "flag": s.flag,
                    "env": s.env,
                    "env_set": s.env.iter().find(|v| env.get(v).is_some()),
                    "elsewhere": s.elsewhere,
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    json!({
        "profile": profiles.name,
        "config_file": profiles.display_path(),
        "config_error": profiles.file.as_ref().err(),
        "providers": list,
    })
}

fn providers_text(env: &Env, profiles: &Profiles) -> String {
    let mut header: Vec<String> = vec!["PROVIDER".into()];
    header.extend(OPERATIONS.iter().map(|o| o.verb().to_uppercase()));
    header.push("CREDENTIALS".into());
    let mut rows = vec![header];
    for &p in &ProviderName::ALL {
        let ops = providers::operations(p);
        let mut r = vec![p.as_str().to_string()];
        r.extend(
            OPERATIONS
                .iter()
                .map(|o| if ops.contains(o) { "yes" } else { "-" }.to_string()),
        );
        let srcs = sources(p, env, profiles);
        r.push(found_source(p, profiles, &srcs).map_or("not found".to_string(), |(kind, _)| kind));
        rows.push(r);
    }
    let mut out = table(&rows);
    out.push_str(&format!(
        "\nProfile \"{}\" ({}), config file {}\n",
        profiles.name,
        if profiles.explicit {
            "--profile, goes before the environment"
        } else {
            "CLOUDSTOP_PROFILE or default"
        },
        profiles.display_path()
    ));
    if let Err(e) = &profiles.file {
        out.push_str(&format!("  config file unusable: {e}\n"));
    }
    for &p in &ProviderName::ALL {
        let i = info(p);
        let ops = offered(p);
        out.push_str(&format!("\n{}\n", p.as_str()));
        out.push_str(&format!(
            "  operations   {}\n",
            if ops.is_empty() {
                "none yet".to_string()
            } else {
                ops.join(", ")
            }
        ));
        let pairs: Vec<String> = i.env_pairs.iter().map(|pair| pair.join(" + ")).collect();
        let mut env_text = pairs.join(", or ");
        if !i.env_optional.is_empty() {
            env_text.push_str(&format!(" (optional {})", i.env_optional.join(", ")));
        }
        out.push_str(&format!("  credentials  {env_text}\n"));
        out.push_str(&format!("  profile keys {}\n", i.profile_keys.join(", ")));
        out.push_str(&format!("  files        {}\n", i.files.join(", ")));
        out.push_str(&format!("  no keys      {}\n", i.temporary));
        for s in i.settings {
            let set = s
                .env
                .iter()
                .find(|v| env.get(v).is_some())
                .map(|v| format!("; set by {v}"))
                .unwrap_or_default();
            out.push_str(&format!(
                "  {:<12} {}, {}, {} ({}{set})\n",
                s.name,
                s.flag,
                s.env.join(", "),
                s.elsewhere,
                s.required,
            ));
        }
        out.push_str("  found        ");
        let srcs = sources(p, env, profiles);
        match found_source(p, profiles, &srcs) {
            Some((kind, detail)) => out.push_str(&format!("{kind}: {detail}\n")),
            None => out.push_str("nowhere; looked in:\n"),
        }
        if srcs.iter().all(|s| !s.present) {
            for s in &srcs {
                out.push_str(&format!("               - {}: {}\n", s.kind, s.detail));
            }
        }
    }
    out
}

/// Left-aligned columns two spaces apart; the last column is not padded.
fn table(rows: &[Vec<String>]) -> String {
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let mut widths = vec![0usize; cols];
    for r in rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut out = String::new();
    for r in rows {
        let mut line = String::new();
        for (i, c) in r.iter().enumerate() {
            if i > 0 {
                line.push_str("  ");
            }
            line.push_str(c);
            if i + 1 < r.len() {
                line.push_str(&" ".repeat(widths[i] - c.chars().count()));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::envelope::{Envelope, ResultItem, Status};
    use crate::error::{Error, ErrorKind};
    use std::collections::BTreeMap;

    /// With several locations the bar counts the locations that have finished.
    #[tokio::test]
    async fn progress_counts_locations_done() {
        use clap::Parser;
        let cli = crate::cli::Cli::try_parse_from(
            "cloudstop server stop -p tencent --region ap-guangzhou,ap-shanghai --tag a=b"
                .split_whitespace(),
        )
        .unwrap();
        let env = crate::config::Env::default();
        let plan = crate::plan::Plan::build(cli.command, &env, &mut std::io::empty()).unwrap();
        let ctx = Ctx::new(plan, env);
        let msg = |waiting| progress_message(&ctx, waiting, ctx.report.locations_progress());
        assert_eq!(msg(false), "tencent server stop");
        ctx.report
            .set_locations("region", vec!["ap-guangzhou".into(), "ap-shanghai".into()]);
        assert_eq!(msg(false), "tencent server stop, 0/2 regions done");
        ctx.report.location_done();
        assert_eq!(msg(false), "tencent server stop, 1/2 regions done");
        ctx.report.location_done();
        assert_eq!(msg(true), "waiting (server stop), 2/2 regions done");
    }

    fn sample() -> Envelope {
        let mut loc = BTreeMap::new();
        loc.insert("region".to_string(), "ap-guangzhou".to_string());
        Envelope::build(
            "tencent",
            "job.stop",
            loc,
            false,
            vec![
                ResultItem::new("job-rybewp57", Status::Stopping),
                ResultItem::failed(
                    "job-aaaaaaaa",
                    &Error::new(ErrorKind::NotFound, "no such job")
                        .with_code("ResourceNotFound.Job"),
                ),
                ResultItem::failed(
                    "job-bbbbbbbb",
                    &Error::new(ErrorKind::Provider, "job is\nbusy"),
                )
                .with_job_id(Some("j-1".into())),
            ],
            vec![],
            None,
            false,
            182,
        )
    }

    #[test]
    fn text_table_is_aligned_and_plain() {
        let t = text(&sample());
        assert!(!t.contains('\x1b'));
        insta::assert_snapshot!(t);
    }

    #[test]
    fn requests_are_shown_as_http_messages() {
        let mut env = sample();
        env.dry_run = true;
        let mut headers = BTreeMap::new();
        headers.insert(
            "Authorization".to_string(),
            "TC3-HMAC-SHA256 [redacted]".to_string(),
        );
        headers.insert("X-TC-Action".to_string(), "TerminateJob".to_string());
        env.requests = vec![crate::envelope::RequestRecord {
            method: "POST".into(),
            url: "https://batch.tencentcloudapi.com/".into(),
            headers,
            body: r#"{"JobId":"job-rybewp57"}"#.into(),
            credentials: crate::envelope::CredentialsUsed::Placeholder,
        }];
        let t = text(&env);
        assert!(
            t.starts_with(
                "# request 1 of 1 (not sent, placeholder credentials)\n\
POST https://batch.tencentcloudapi.com/\n\
Authorization: TC3-HMAC-SHA256 [redacted]\n\
X-TC-Action: TerminateJob\n\
\n\
{\"JobId\":\"job-rybewp57\"}\n\n"
            ),
            "{t}"
        );
        assert!(t.contains("ID  "));
    }

    #[test]
    fn man_page_is_one_page_with_the_reference() {
        let mut buf = Vec::new();
        render_man(&mut buf).unwrap();
        let page = String::from_utf8(buf).unwrap();
        // clap_mangen's SUBCOMMANDS section would list `cloudstop\\-job(1)` and the like.
        assert!(
            !page.contains("cloudstop\\-") && !page.contains("cloudstop-job"),
            "refers to pages that do not exist"
        );
        for needle in [
            ".SH CREDENTIALS",
            ".SH \"CONFIGURATION FILE\"",
            ".SH ENVIRONMENT",
            ".SH \"EXIT STATUS\"",
            "TENCENTCLOUD_SECRET_ID",
            "HUAWEICLOUD_SDK_AK",
            "QINGCLOUD_ACCESS_KEY_ID",
            "CLOUDSTOP_CONFIG",
            "NO_COLOR",
            "config.toml",
            "chmod 600",
            ".SH \"CLOUDSTOP CLUSTER DELETE\"",
        ] {
            assert!(page.contains(needle), "{needle}");
        }
    }

    #[test]
    fn colour_only_wraps_cells_and_keeps_alignment() {
        let plain = text_styled(&sample(), false);
        let coloured = text_styled(&sample(), true);
        assert!(coloured.contains("\x1b[32m") && coloured.contains("\x1b[31m"));
        let stripped = strip_ansi(&coloured);
        assert_eq!(stripped, plain);
    }

    fn strip_ansi(s: &str) -> String {
        let mut out = String::new();
        let mut chars = s.chars();
        while let Some(c) = chars.next() {
            if c == '\x1b' {
                for d in chars.by_ref() {
                    if d == 'm' {
                        break;
                    }
                }
            } else {
                out.push(c);
            }
        }
        out
    }

    #[test]
    fn colour_needs_a_terminal_and_no_dumb_term() {
        let env = Env::from_pairs(&[("TERM", "xterm-256color")]);
        assert!(!color_wanted(false, &env));
        let dumb = Env::from_pairs(&[("TERM", "dumb")]);
        assert!(!color_wanted(true, &dumb));
        assert!(color_wanted(true, &env));
        let no_color = Env::from_pairs(&[("TERM", "xterm"), ("NO_COLOR", "1")]);
        assert!(!color_wanted(true, &no_color));
        // no-color.org: only a set and non-empty NO_COLOR turns colour off. Logs and the
        // table both ask this function.
        let empty = Env::from_pairs(&[("TERM", "xterm"), ("NO_COLOR", "")]);
        assert!(color_wanted(true, &empty));
    }

    #[test]
    fn providers_follow_operations_and_never_print_secrets() {
        let home = tempfile::tempdir().unwrap();
        let h = home.path().to_str().unwrap();
        // Nobody listens on port 9 of loopback: the metadata probe fails at once.
        let env = Env::from_pairs(&[
            ("HOME", h),
            ("CLOUDSTOP_HUAWEI_METADATA_ENDPOINT", "http://127.0.0.1:9"),
            ("CLOUDSTOP_TENCENT_METADATA_ENDPOINT", "http://127.0.0.1:9"),
            ("TENCENTCLOUD_SECRET_ID", "AKIDsecretidvalue"),
            ("TENCENTCLOUD_SECRET_KEY", "very-secret-key-value"),
        ]);
        let args = ProvidersArgs {
            profile: None,
            output: OutputFormat::Json,
        };
        let profiles = Profiles::load(&args, &env);
        let v = providers_json(&env, &profiles);
        let text = providers_text(&env, &profiles);
        for out in [v.to_string(), text] {
            assert!(!out.contains("very-secret-key-value") && !out.contains("AKIDsecretidvalue"));
        }
        for p in v["providers"].as_array().unwrap() {
            let name = p["provider"].as_str().unwrap();
            let pn = *ProviderName::ALL
                .iter()
                .find(|x| x.as_str() == name)
                .unwrap();
            let ops: Vec<&str> = providers::operations(pn).iter().map(|o| o.verb()).collect();
            assert_eq!(p["operations"], json!(ops));
        }
        let tencent = v["providers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["provider"] == "tencent")
            .unwrap();
        assert_eq!(tencent["credentials"]["found"]["source"], "env");
    }
}
