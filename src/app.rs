//! One run: parse, listen for signals, read `--ids-from -`, plan, refuse a delete that
//! nobody can confirm, execute (the provider asks for confirmation before its first
//! request; Ctrl-C and SIGTERM end any step with the envelope), print the envelope, and
//! return the exit code the envelope asks for.

use crate::cli::{Cli, Command, OutputFormat};
use crate::config::Env;
use crate::envelope::{exit, Envelope, ErrorInfo};
use crate::error::{Error, ErrorKind};
use crate::plan::{self, Plan};
use crate::providers::{self, Ctx};
use clap::Parser;
use std::io::{IsTerminal, Read, Write};
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

/// Logs go to stderr, above the progress bar while one is shown; only cloudstop's own
/// events, which never carry secrets. Colour as for the text table (`NO_COLOR`).
fn init_logging(verbose: u8, quiet: bool, env: &Env) {
    use tracing_subscriber::filter::{LevelFilter, Targets};
    use tracing_subscriber::prelude::*;
    let level = match (quiet, verbose) {
        (true, _) => LevelFilter::ERROR,
        (false, 0) => LevelFilter::WARN,
        (false, 1) => LevelFilter::INFO,
        (false, 2) => LevelFilter::DEBUG,
        _ => LevelFilter::TRACE,
    };
    let ansi = crate::render::color_wanted(std::io::stderr().is_terminal(), env);
    let fmt = tracing_subscriber::fmt::layer()
        .with_writer(crate::render::LogWriter)
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
    let ids_from_stdin = common.ids_from.as_deref() == Some(std::path::Path::new("-"));
    let env = Env::from_process();
    init_logging(common.verbose, common.quiet, &env);

    let failed_early = |e: Error, code: Option<u8>| {
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
        code.unwrap_or_else(|| envelope.exit_code())
    };

    // The runtime and the signal handlers come first: Ctrl-C and SIGTERM are answered
    // with the envelope from here on, while stdin is read and at the prompt too.
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            return failed_early(
                Error::internal(format!("cannot start the runtime: {e}")),
                None,
            )
        }
    };
    let mut signals = {
        let _entered = rt.enter();
        Signals::new()
    };

    // `--ids-from -`: stdin is read whole here, off the runtime, and released before
    // anything else (the prompt) reads it again.
    let stdin_ids = if ids_from_stdin {
        let read = rt.block_on(async {
            tokio::select! {
                r = providers::off_runtime(read_stdin) => Some(r),
                signal = signals.recv() => {
                    tracing::warn!("interrupted by {signal} while reading --ids-from -");
                    None
                }
            }
        });
        match read {
            Some(Ok(Ok(bytes))) => bytes,
            Some(Ok(Err(e))) => {
                return failed_early(
                    Error::usage(format!("cannot read --ids-from - (stdin): {e}")),
                    None,
                )
            }
            Some(Err(e)) => return failed_early(e, None),
            None => return failed_early(interrupted_error(), Some(exit::INTERRUPTED)),
        }
    } else {
        Vec::new()
    };

    let stdin_is_terminal = std::io::stdin().is_terminal();
    let plan = match Plan::build(cmd, &env, &mut stdin_ids.as_slice())
        .and_then(|p| providers::validate(&p).map(|()| p))
    {
        Ok(p) => p,
        Err(e) => return failed_early(e, None),
    };
    // Nobody to ask: refused before any settings are resolved or anything is sent. On a
    // terminal the provider asks once its settings are known (Ctx::confirm_destruction).
    if providers::needs_confirmation(&plan) && !stdin_is_terminal {
        return failed_early(providers::confirmation_refused(), None);
    }

    let ctx = Ctx::new(plan, env).interactive(stdin_is_terminal);
    let progress = crate::render::Progress::new(&ctx, std::io::stderr().is_terminal(), quiet);
    let outcome = rt.block_on(async {
        tokio::select! {
            r = providers::run(&ctx) => Some(r),
            signal = signals.recv() => {
                // The bar goes first, so that nothing is left of it on the screen.
                progress.finish();
                if !ctx.cleared_to_send() {
                    // Interrupted at the prompt: the answer's line was never ended.
                    let _ = writeln!(std::io::stderr());
                }
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
        // Bad input or setup (usage, config: a missing region, an unreadable config
        // file) is found before anything is attempted: no results, as for any bad input.
        // Any other failure of the whole command (a lookup refused, the network) comes
        // after the ids were on their way: each still without a result failed with it,
        // and counts in `summary.requested`.
        Some(Err(e)) if matches!(e.kind, ErrorKind::Usage | ErrorKind::Config) => {
            (Some(e), None, None)
        }
        Some(Err(e)) => (Some(e.clone()), Some(e), None),
        None => {
            let e = interrupted_error();
            if ctx.plan.wait {
                ctx.report.unconfirmed(
                    &Error::new(
                        ErrorKind::Internal,
                        "interrupted while waiting: the provider accepted the request, \
but the final state was not confirmed",
                    )
                    .with_code("interrupted")
                    .retryable(true),
                );
            }
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

/// Running the command again is safe: every stop and delete settles by state.
fn interrupted_error() -> Error {
    Error::new(
        ErrorKind::Internal,
        "interrupted before this was sent or answered; run the command again",
    )
    .with_code("interrupted")
    .retryable(true)
}

/// All of stdin, for `--ids-from -`.
fn read_stdin() -> std::io::Result<Vec<u8>> {
    let mut buf = Vec::new();
    std::io::stdin().lock().read_to_end(&mut buf)?;
    Ok(buf)
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

/// SIGINT (Ctrl-C) and, on Unix, SIGTERM (CI runners cancelling a job), listened to
/// from the start of a run to its end: registering replaces the default action
/// (ending the process at once) with a note that [`Signals::recv`] returns.
struct Signals {
    #[cfg(unix)]
    int: Option<tokio::signal::unix::Signal>,
    #[cfg(unix)]
    term: Option<tokio::signal::unix::Signal>,
}

impl Signals {
    /// Needs a runtime context (`Runtime::enter`).
    fn new() -> Signals {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            Signals {
                int: signal(SignalKind::interrupt()).ok(),
                term: signal(SignalKind::terminate()).ok(),
            }
        }
        #[cfg(not(unix))]
        {
            Signals {}
        }
    }

    /// The name of the next signal received.
    async fn recv(&mut self) -> &'static str {
        #[cfg(unix)]
        {
            async fn next(s: &mut Option<tokio::signal::unix::Signal>) {
                match s {
                    Some(s) => {
                        s.recv().await;
                    }
                    None => std::future::pending().await,
                }
            }
            tokio::select! {
                _ = next(&mut self.int) => "SIGINT",
                _ = next(&mut self.term) => "SIGTERM",
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
            "Ctrl-C"
        }
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
