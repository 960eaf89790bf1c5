//! The command tree of SPEC.md, parsed with clap. Values are only parsed here; the
//! checks that need more than one flag (ids, locations, provider support) happen when
//! the [`crate::plan::Plan`] is built, before any I/O.

use clap::{ArgAction, Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Parser)]
#[command(
    name = "cloudstop",
    version,
    about = "Stop jobs, stop servers and delete clusters on QingCloud, Tencent Cloud and Huawei Cloud",
    long_about = "Stop jobs, stop servers and delete clusters on QingCloud, Tencent Cloud and Huawei Cloud \
with one grammar, one credential story and one JSON result shape.\n\n\
Every operation prints one JSON envelope on stdout and exits 0 (all succeeded), 1 (provider \
refused or failed), 2 (usage), 3 (credentials/permission), 4 (not found), 5 (transient, safe \
to run again), 6 (--wait timed out) or 130 (interrupted).",
    propagate_version = true,
    arg_required_else_help = true,
    after_help = "Examples:\n  \
cloudstop job stop -p tencent --region ap-guangzhou --job-id job-rybewp57 --dry-run\n  \
cloudstop job stop -p tencent --region ap-guangzhou --job-id job-rybewp57 -o text\n  \
cloudstop providers\n  \
cloudstop completions bash > ~/.local/share/bash-completion/completions/cloudstop"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Stop (terminate) jobs: Tencent Cloud Batch, QingCloud HPC, Huawei Cloud ModelArts training jobs
    #[command(
        subcommand,
        after_help = "Example:\n  cloudstop job stop -p tencent --region ap-guangzhou --job-id job-rybewp57"
    )]
    Job(JobCommand),
    /// Stop servers: Huawei Cloud ECS, Tencent Cloud CVM, QingCloud IaaS
    #[command(
        subcommand,
        after_help = "Example:\n  cloudstop server stop -p huawei --region cn-north-4 --server-id 0f8e8e4a-6b1c-4c5e-9b2e-3d4f5a6b7c8d"
    )]
    Server(ServerCommand),
    /// Delete clusters: QingCloud HPC, Tencent Cloud TKE and THPC, Huawei Cloud CCE
    #[command(
        subcommand,
        after_help = "Examples:\n  cloudstop cluster delete -p qingcloud --zone jn1a --cluster-id hpc-6o2qc9tl --run-user usr-IuZxPyn2 --yes\n  \
cloudstop cluster delete -p tencent --region ap-guangzhou --cluster-id cls-etu4tjip --yes"
    )]
    Cluster(ClusterCommand),
    /// Show providers, their operations, settings and where credentials were found
    #[command(after_help = "Examples:\n  \
cloudstop providers\n  \
cloudstop providers --profile prod --output json")]
    Providers(ProvidersArgs),
    /// Print a shell completion script
    #[command(after_help = "Examples:\n  \
cloudstop completions bash > ~/.local/share/bash-completion/completions/cloudstop\n  \
cloudstop completions zsh > \"${fpath[1]}/_cloudstop\"\n  \
cloudstop completions fish > ~/.config/fish/completions/cloudstop.fish\n  \
cloudstop completions powershell >> $PROFILE")]
    Completions {
        /// The shell to generate for
        shell: CompletionShell,
    },
    /// Print the man page (roff) on stdout
    #[command(after_help = "Examples:\n  \
cloudstop man | man -l -\n  \
cloudstop man > /usr/local/share/man/man1/cloudstop.1")]
    Man,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CompletionShell {
    Bash,
    Zsh,
    Fish,
    Powershell,
    Elvish,
}

#[derive(Debug, Subcommand)]
pub enum JobCommand {
    /// Stop jobs
    #[command(after_help = "Examples:\n  \
cloudstop job stop --provider tencent --region ap-guangzhou --job-id job-rybewp57\n  \
cloudstop job stop -p tencent --region ap-guangzhou --ids-from jobs.txt --wait --ignore-missing\n  \
cloudstop job stop -p qingcloud --zone jn1a --cluster-id ehpc-8jqdq0mz --job-id hpcjob-bp6rj09f\n  \
cloudstop job stop -p huawei --region cn-north-4 --job-id 95f661bd-1527-41b8-971c-eca55e513254 --wait\n  \
cloudstop job stop -p tencent --region ap-guangzhou --tag ci-run=4711 --ignore-missing")]
    Stop(JobStopArgs),
}

#[derive(Debug, Subcommand)]
pub enum ServerCommand {
    /// Stop servers
    #[command(after_help = "Examples:\n  \
cloudstop server stop --provider huawei --region cn-north-4 --ids-from servers.txt --wait\n  \
cloudstop server stop -p tencent --region ap-guangzhou --server-id ins-r8hr2upy --stop-charging\n  \
cloudstop server stop -p qingcloud --zone pek3a --server-id i-rtyv0968 --hard\n  \
cloudstop server stop -p huawei --region cn-north-4 --tag env=dev --state running --max-matches 50")]
    Stop(ServerStopArgs),
}

#[derive(Debug, Subcommand)]
pub enum ClusterCommand {
    /// Delete clusters (destroys data: asks for confirmation on a terminal, needs --yes otherwise)
    #[command(after_help = "Examples:\n  \
cloudstop cluster delete --provider qingcloud --zone jn1a --cluster-id hpc-6o2qc9tl --run-user usr-IuZxPyn2\n  \
cloudstop cluster delete -p qingcloud --zone jn1a --cluster-id hpc-6o2qc9tl --run-user usr-IuZxPyn2 --yes --wait\n  \
cloudstop cluster delete -p tencent --region ap-guangzhou --cluster-id cls-etu4tjip,hpc-5lyv94lq --yes --wait\n  \
cloudstop cluster delete -p tencent --region ap-guangzhou --cluster-id cls-etu4tjip --keep-instances --yes\n  \
cloudstop cluster delete -p huawei --region cn-north-4 --cluster-id fc563b3c-9552-11e8-8beb-0255ac106311 --keep-instances --yes --wait")]
    Delete(ClusterDeleteArgs),
}

#[derive(Debug, Args)]
pub struct JobStopArgs {
    /// Job id (repeatable; comma-separated values are split)
    #[arg(long = "job-id", value_name = "ID", value_delimiter = ',', action = ArgAction::Append)]
    pub job_ids: Vec<String>,
    /// QingCloud: the cluster the jobs run in (with selectors: narrows the listing to it)
    #[arg(long = "cluster-id", value_name = "ID")]
    pub cluster_id: Option<String>,
    #[command(flatten)]
    pub select: SelectorArgs,
    #[command(flatten)]
    pub common: CommonArgs,
}

#[derive(Debug, Args)]
pub struct ServerStopArgs {
    /// Server id (repeatable; comma-separated values are split)
    #[arg(long = "server-id", value_name = "ID", value_delimiter = ',', action = ArgAction::Append)]
    pub server_ids: Vec<String>,
    /// Force power-off (Huawei HARD, Tencent HARD, QingCloud force=1); default is a graceful stop
    #[arg(long)]
    pub hard: bool,
    /// Tencent: stop billing of pay-as-you-go instances (StoppedMode=STOP_CHARGING)
    #[arg(long = "stop-charging")]
    pub stop_charging: bool,
    #[command(flatten)]
    pub select: SelectorArgs,
    #[command(flatten)]
    pub common: CommonArgs,
}

/// Selecting by tag, name and state instead of ids (SPEC "Selecting by tag, name and state").
#[derive(Debug, Args, Default)]
#[command(next_help_heading = "Selectors (instead of ids)")]
pub struct SelectorArgs {
    /// Select resources carrying this tag (KEY=VALUE, or KEY for any value); repeatable, all must match
    #[arg(long = "tag", value_name = "KEY=VALUE", action = ArgAction::Append)]
    pub tags: Vec<String>,
    /// Select resources whose name matches this glob (*, ?, [..]; anchored, case-sensitive); repeatable, any may match
    #[arg(long = "name", value_name = "GLOB", action = ArgAction::Append)]
    pub names: Vec<String>,
    /// With --tag/--name: only resources in this state (running, stopped, pending or the provider's word); repeatable
    #[arg(long = "state", value_name = "STATE", action = ArgAction::Append)]
    pub states: Vec<String>,
    /// Refuse (exit 2, nothing sent) when the selectors match more than N resources [default: 20]
    #[arg(long = "max-matches", value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub max_matches: Option<u32>,
}

#[derive(Debug, Args)]
pub struct ClusterDeleteArgs {
    /// Cluster id (repeatable; comma-separated values are split)
    #[arg(long = "cluster-id", value_name = "ID", value_delimiter = ',', action = ArgAction::Append)]
    pub cluster_ids: Vec<String>,
    /// QingCloud: the cluster's run user (also CLOUDSTOP_RUN_USER or the profile's run_user;
    /// an explicit --profile's run_user beats CLOUDSTOP_RUN_USER)
    // Not clap's `env =`: the environment's place in the order depends on --profile
    // (SPEC), so the provider reads CLOUDSTOP_RUN_USER itself, with `config::layered`.
    #[arg(long = "run-user", value_name = "USER")]
    pub run_user: Option<String>,
    /// QingCloud: passed through as the API's optional `unlease` value
    #[arg(long, value_name = "VALUE")]
    pub unlease: Option<String>,
    /// Remove the cluster but keep its nodes' servers (Tencent TKE, Huawei CCE)
    #[arg(long = "keep-instances")]
    pub keep_instances: bool,
    /// Also delete the storage the cluster's volumes use (Tencent TKE, Huawei CCE)
    #[arg(long = "delete-storage")]
    pub delete_storage: bool,
    #[command(flatten)]
    pub common: CommonArgs,
}

/// Flags every operation verb takes (SPEC "Every operation verb takes").
#[derive(Debug, Args)]
pub struct CommonArgs {
    /// Cloud provider
    #[arg(short = 'p', long, value_enum, env = "CLOUDSTOP_PROVIDER")]
    pub provider: ProviderArg,
    /// Read more ids from a file, one per line ('-' = stdin; blank lines and # comments skipped)
    #[arg(long = "ids-from", value_name = "PATH")]
    pub ids_from: Option<PathBuf>,
    /// Region (Tencent, Huawei); also CLOUDSTOP_REGION, after --profile's region when --profile is given
    #[arg(long, value_name = "R")]
    pub region: Option<String>,
    /// Zone (QingCloud); also CLOUDSTOP_ZONE, after --profile's zone when --profile is given
    #[arg(long, value_name = "Z")]
    pub zone: Option<String>,
    /// Project id (Huawei; also CLOUDSTOP_PROJECT_ID; looked up from IAM by region when not given)
    #[arg(long = "project-id", value_name = "P")]
    pub project_id: Option<String>,
    /// Config profile (also CLOUDSTOP_PROFILE); --profile wins over the environment as a whole
    #[arg(long, value_name = "NAME")]
    pub profile: Option<String>,
    /// Override the API base URL. Also CLOUDSTOP_TENCENT_ENDPOINT (every Tencent API, STS
    /// included), CLOUDSTOP_HUAWEI_ENDPOINT (every Huawei service; per service first:
    /// CLOUDSTOP_HUAWEI_ECS_ENDPOINT, _CCE_ENDPOINT, _MODELARTS_ENDPOINT),
    /// CLOUDSTOP_QINGCLOUD_ENDPOINT (both QingCloud APIs) and
    /// CLOUDSTOP_QINGCLOUD_IAAS_ENDPOINT (QingCloud IaaS, server stop, first)
    #[arg(long, value_name = "URL")]
    pub endpoint: Option<String>,
    /// Validate, build and sign the request(s), print them, send nothing
    #[arg(long = "dry-run")]
    pub dry_run: bool,
    /// After the stop is accepted, poll until every resource reaches a final state
    #[arg(long)]
    pub wait: bool,
    /// How long --wait may take (90s, 5m, 1h; at most 7d)
    #[arg(long = "wait-timeout", value_name = "DUR", default_value = "10m", allow_hyphen_values = true, value_parser = parse_wait_timeout)]
    pub wait_timeout: Duration,
    /// Time between status polls while waiting, at most 1d [default: 5s; 15s for Huawei CCE and ModelArts]
    #[arg(long = "poll-interval", value_name = "DUR", allow_hyphen_values = true, value_parser = parse_poll_interval)]
    pub poll_interval: Option<Duration>,
    /// A resource that does not exist counts as success (idempotent teardown)
    #[arg(long = "ignore-missing")]
    pub ignore_missing: bool,
    /// Confirm destructive operations without a prompt
    #[arg(short = 'y', long)]
    pub yes: bool,
    /// Timeout of one HTTP request (at most 1h)
    #[arg(long, value_name = "DUR", default_value = "30s", value_parser = parse_timeout, allow_hyphen_values = true)]
    pub timeout: Duration,
    /// Retries of a transient failure
    #[arg(long, value_name = "N", default_value_t = 3, value_parser = clap::value_parser!(u32).range(0..=20))]
    pub retries: u32,
    /// Requests in flight at once
    #[arg(long, value_name = "N", default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=256))]
    pub concurrency: u32,
    /// Max requests per second to the provider (default: the API's documented limit)
    #[arg(long, value_name = "R", value_parser = parse_rate, allow_negative_numbers = true)]
    pub rate: Option<f64>,
    /// Output format
    #[arg(short = 'o', long, value_enum, default_value = "json")]
    pub output: OutputFormat,
    /// More log detail on stderr (-v, -vv, -vvv); secrets are never logged
    #[arg(short = 'v', long = "verbose", action = ArgAction::Count, conflicts_with = "quiet")]
    pub verbose: u8,
    /// Log nothing but errors on stderr
    #[arg(short = 'q', long)]
    pub quiet: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ProviderArg {
    Tencent,
    Huawei,
    Qingcloud,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Json,
    Text,
}

#[derive(Debug, Args)]
pub struct ProvidersArgs {
    /// Config profile whose credential sources are shown
    #[arg(long, value_name = "NAME")]
    pub profile: Option<String>,
    /// Output format
    #[arg(short = 'o', long, value_enum, default_value = "text")]
    pub output: OutputFormat,
}

/// The longest `--wait-timeout`: a week. Longer is a typo, not a plan, and every
/// deadline computed from it stays far from the clock's limits.
pub const MAX_WAIT_TIMEOUT: Duration = Duration::from_secs(7 * 24 * 3600);
/// The longest `--poll-interval`: a day (no longer than a wait may sensibly last).
pub const MAX_POLL_INTERVAL: Duration = Duration::from_secs(24 * 3600);
/// The longest `--timeout` of one HTTP request: an hour.
pub const MAX_REQUEST_TIMEOUT: Duration = Duration::from_secs(3600);

/// A humantime duration greater than zero (`30s`, `5m`, `1h30m`).
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(s.trim())
        .map_err(|e| format!("{e}; expected a duration such as 30s, 5m or 1h"))?;
    if d.is_zero() {
        return Err("expected a duration greater than zero, such as 30s or 5m".into());
    }
    Ok(d)
}

/// A duration greater than zero and at most `max`, checked while the command line is
/// parsed (exit 2), long before anything is sent.
fn parse_bounded(s: &str, max: Duration) -> Result<Duration, String> {
    let d = parse_duration(s)?;
    if d > max {
        return Err(format!(
            "{} is too long: at most {}",
            s.trim(),
            humantime::format_duration(max)
        ));
    }
    Ok(d)
}

/// `--wait-timeout`: at most [`MAX_WAIT_TIMEOUT`].
pub fn parse_wait_timeout(s: &str) -> Result<Duration, String> {
    parse_bounded(s, MAX_WAIT_TIMEOUT)
}

/// `--poll-interval`: at most [`MAX_POLL_INTERVAL`].
pub fn parse_poll_interval(s: &str) -> Result<Duration, String> {
    parse_bounded(s, MAX_POLL_INTERVAL)
}

/// `--timeout`: at most [`MAX_REQUEST_TIMEOUT`].
pub fn parse_timeout(s: &str) -> Result<Duration, String> {
    parse_bounded(s, MAX_REQUEST_TIMEOUT)
}

/// A finite rate greater than zero (requests per second).
pub fn parse_rate(s: &str) -> Result<f64, String> {
    let r: f64 = s.trim().parse().map_err(|_| {
        "expected a number of requests per second greater than 0, such as 2 or 0.5".to_string()
    })?;
    if !r.is_finite() || r <= 0.0 || r > 10_000.0 {
        return Err(
            "expected a number of requests per second greater than 0 and at most 10000".into(),
        );
    }
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn command_tree_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn durations_and_rates() {
        assert_eq!(parse_duration("90s").unwrap(), Duration::from_secs(90));
        assert!(parse_duration("banana").is_err());
        assert!(parse_duration("0s").is_err());
        assert!(parse_rate("-1").is_err());
        assert!(parse_rate("0").is_err());
        assert!(parse_rate("NaN").is_err());
        assert_eq!(parse_rate("2.5").unwrap(), 2.5);
    }

    #[test]
    fn durations_are_bounded() {
        assert_eq!(parse_wait_timeout("7d").unwrap(), MAX_WAIT_TIMEOUT);
        let e = parse_wait_timeout("18446744073709551615s").unwrap_err();
        assert!(e.contains("at most 7days"), "{e}");
        assert!(parse_wait_timeout("8d").is_err());
        assert!(parse_wait_timeout("99999999999999999999999s").is_err());
        assert_eq!(parse_poll_interval("1d").unwrap(), MAX_POLL_INTERVAL);
        assert!(parse_poll_interval("25h").is_err());
        assert_eq!(parse_timeout("1h").unwrap(), MAX_REQUEST_TIMEOUT);
        assert!(parse_timeout("61m").unwrap_err().contains("at most 1h"));
        assert_eq!(
            parse_poll_interval("50ms").unwrap(),
            Duration::from_millis(50)
        );
    }
}
