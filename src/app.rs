//! One run: parse, plan, confirm, execute (interruptible), print the envelope, and
//! return the exit code the envelope asks for.

use crate::cli::{Cli, Command, OutputFormat};
use crate::config::Env;
use crate::envelope::{exit, Envelope, ErrorInfo};
use crate::error::{Error, ErrorKind};
use crate::plan::{self, Operation, Plan};
use crate::providers::{self, Ctx};
use clap::Parser;
use std::io::{IsTerminal, Write};
use std::time::Instant;

pub fn main() -> u8 {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // Usage errors on stderr, exit 2; --help and --version on stdout, exit 0.
            let _ = e.print();
            return e.exit_code().clamp(0, 255) as u8;
        }
    };
    match cli.command {
        Command::Completions { shell } => crate::render::completions(shell),
        Command::Man => crate::render::man(),
        Command::Providers(args) => crate::render::providers(&args, &Env::from_process()),
        cmd => run_operation(cmd),
    }
}

/// Logs go to stderr; only cloudstop's own events, which never carry secrets.
fn init_logging(verbose: u8, quiet: bool) {
    use tracing_subscriber::filter::{LevelFilter, Targets};
    use tracing_subscriber::prelude::*;
    let level = match (quiet, verbose) {
        (true, _) => LevelFilter::ERROR,
        (false, 0) => LevelFilter::WARN,
        (false, 1) => LevelFilter::INFO,
        (false, 2) => LevelFilter::DEBUG,
        _ => LevelFilter::TRACE,
    };
    let ansi = std::io::stderr().is_terminal()
        && std::env::var_os("NO_COLOR").is_none()
        && std::env::var("TERM").map_or(true, |t| t != "dumb");
    let fmt = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(ansi)
        .with_target(false);
    let _ = tracing_subscriber::registry()
        .with(fmt.with_filter(Targets::new().with_target("cloudstop", level)))
        .try_init();
}

fn run_operation(cmd: Command) -> u8 {
    let start = Instant::now();
    let (provider, operation, common) = plan::target(&cmd).expect("an operation command");
    let output = common.output;
    let ignore_missing = common.ignore_missing;
    let dry_run = common.dry_run;
    let quiet = common.quiet;
    init_logging(common.verbose, common.quiet);
    let env = Env::from_process();

    let failed_early = |e: Error| {
        let envelope = Envelope::build(
            provider.as_str(),
            operation.as_str(),
            Default::default(),
            dry_run,
            vec![],
            vec![],
            Some(ErrorInfo::from(&e)),
            ignore_missing,
            start.elapsed().as_millis() as u64,
        );
        print(&envelope, output);
        envelope.exit_code()
    };

    let plan = match Plan::build(cmd, &env, &mut std::io::stdin().lock())
        .and_then(|p| providers::validate(&p).map(|()| p))
        .and_then(|p| confirm(&p).map(|()| p))
    {
        Ok(p) => p,
        Err(e) => return failed_early(e),
    };

    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return failed_early(Error::internal(format!("cannot start the runtime: {e}"))),
    };
    let ctx = Ctx::new(plan, env);
    let progress = crate::render::Progress::new(&ctx, std::io::stderr().is_terminal(), quiet);
    let outcome = rt.block_on(async {
        tokio::select! {
            r = providers::run(&ctx) => Some(r),
            signal = interrupted() => {
                tracing::warn!("interrupted by {signal}: printing what is known");
                None
            }
            never = progress.follow(&ctx) => match never {},
        }
    });
    progress.finish();

    let (top, unfinished, code_override) = match outcome {
        Some(Ok(())) => (
            ctx.aborted(),
            Some(Error::internal("no result was recorded for this id")),
            None,
        ),
        Some(Err(e)) => (Some(e), None, None),
        None => {
            let e = Error::new(ErrorKind::Internal, "interrupted before this finished")
                .with_code("interrupted");
            (Some(e.clone()), Some(e), Some(exit::INTERRUPTED))
        }
    };
    let mut requests = ctx.report.shown();
    requests.extend(ctx.transport.recorded());
    let results = ctx.report.results(unfinished.as_ref());
    let top = top
        .as_ref()
        .map(ErrorInfo::from)
        .or_else(|| unreachable_provider(&results));
    let envelope = Envelope::build(
        provider.as_str(),
        operation.as_str(),
        ctx.report.location(),
        ctx.plan.dry_run,
        results,
        requests,
        top,
        ctx.plan.ignore_missing,
        start.elapsed().as_millis() as u64,
    )
    .with_selection(ctx.report.selection());
    let envelope = match ctx.report.locations() {
        Some((key, tried, failed)) => envelope.with_locations(&key, tried, failed),
        None => envelope,
    };
    print(&envelope, output);
    code_override.unwrap_or_else(|| envelope.exit_code())
}

/// When no call got through at all (every result failed on the network), the command
/// failed as a whole: the top-level error says so too (SPEC "network before any result").
fn unreachable_provider(results: &[crate::envelope::ResultItem]) -> Option<ErrorInfo> {
    let first = results.first()?.error.clone()?;
    let all_network = results.iter().all(|r| {
        r.status == crate::envelope::Status::Failed
            && r.error
                .as_ref()
                .is_some_and(|e| e.kind == ErrorKind::Network)
    });
    all_network.then_some(first)
}

/// SIGINT (Ctrl-C) or, on Unix, SIGTERM (CI runners cancelling a job).
async fn interrupted() -> &'static str {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = match signal(SignalKind::terminate()) {
            Ok(s) => s,
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
                return "SIGINT";
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => "SIGINT",
            _ = term.recv() => "SIGTERM",
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
        "Ctrl-C"
    }
}

/// `cluster delete` destroys data: on a terminal it asks; otherwise it needs `--yes`.
fn confirm(plan: &Plan) -> Result<(), Error> {
    if plan.operation != Operation::ClusterDelete || plan.yes || plan.dry_run {
        return Ok(());
    }
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        return Err(Error::usage(
            "cluster delete destroys data: pass --yes to confirm when not at a terminal (nothing was sent)",
        ));
    }
    let mut err = std::io::stderr();
    let _ = writeln!(
        err,
        "About to delete {} {} cluster(s), destroying their data:",
        plan.ids.len(),
        plan.provider.as_str()
    );
    for id in &plan.ids {
        let _ = writeln!(err, "  {id}");
    }
    let _ = write!(err, "Delete them? [y/N] ");
    let _ = err.flush();
    let mut answer = String::new();
    let _ = stdin.read_line(&mut answer);
    if matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes") {
        Ok(())
    } else {
        Err(Error::usage(
            "cluster delete not confirmed: nothing was sent",
        ))
    }
}

fn print(envelope: &Envelope, output: OutputFormat) {
    let mut out = std::io::stdout().lock();
    let text = match output {
        OutputFormat::Json => envelope.to_json(),
        OutputFormat::Text => crate::render::text_styled(
            envelope,
            crate::render::color_wanted(out.is_terminal(), &Env::from_process()),
        ),
    };
    // A closed pipe (`| head`) is not an error worth a panic.
    let _ = writeln!(out, "{text}");
    let _ = out.flush();
}
