//! Raw arguments → one validated [`Plan`] before any I/O: ids collected, split,
//! de-duplicated and checked against the provider's id format, provider support and
//! flag combinations checked. Every usage error happens here or in the provider's
//! `validate`, which is why bad input never sends a request.

use crate::cli::{
    ClusterCommand, Command, CommonArgs, JobCommand, OutputFormat, ProviderArg, ServerCommand,
};
use crate::config::Env;
use crate::error::Error;
use crate::providers::select::Selectors;
use crate::transport::TransportOptions;
use std::collections::HashSet;
use std::io::Read;
use std::path::Path;
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProviderName {
    Tencent,
    Huawei,
    Qingcloud,
}

impl ProviderName {
    pub const ALL: [ProviderName; 3] = [
        ProviderName::Huawei,
        ProviderName::Qingcloud,
        ProviderName::Tencent,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ProviderName::Tencent => "tencent",
            ProviderName::Huawei => "huawei",
            ProviderName::Qingcloud => "qingcloud",
        }
    }
}

impl From<ProviderArg> for ProviderName {
    fn from(p: ProviderArg) -> Self {
        match p {
            ProviderArg::Tencent => ProviderName::Tencent,
            ProviderArg::Huawei => ProviderName::Huawei,
            ProviderArg::Qingcloud => ProviderName::Qingcloud,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operation {
    JobStop,
    ServerStop,
    ClusterDelete,
}

impl Operation {
    /// The envelope's `operation`.
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::JobStop => "job.stop",
            Operation::ServerStop => "server.stop",
            Operation::ClusterDelete => "cluster.delete",
        }
    }

    /// As typed on the command line.
    pub fn verb(self) -> &'static str {
        match self {
            Operation::JobStop => "job stop",
            Operation::ServerStop => "server stop",
            Operation::ClusterDelete => "cluster delete",
        }
    }

    /// The flag that carries this operation's ids.
    pub fn id_flag(self) -> &'static str {
        match self {
            Operation::JobStop => "--job-id",
            Operation::ServerStop => "--server-id",
            Operation::ClusterDelete => "--cluster-id",
        }
    }

    pub fn noun(self) -> &'static str {
        match self {
            Operation::JobStop => "job",
            Operation::ServerStop => "server",
            Operation::ClusterDelete => "cluster",
        }
    }
}

/// Several locations at once (SPEC "Several regions or zones at once").
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Locations {
    /// As given, in order, without duplicates (at least two).
    List(Vec<String>),
    /// Every location the provider lists for the service.
    All,
}

/// `--region`/`--zone`: one value, or with a comma or `all` several locations.
fn split_locations(v: Option<String>) -> Result<(Option<String>, Option<Locations>), Error> {
    let Some(v) = non_empty(v) else {
        return Ok((None, None));
    };
    if v.trim() == "all" {
        return Ok((None, Some(Locations::All)));
    }
    if !v.contains(',') {
        return Ok((Some(v), None));
    }
    let mut seen = HashSet::new();
    let list: Vec<String> = v
        .split(',')
        .map(|s| s.trim().to_string())
        .filter(|s| seen.insert(s.clone()))
        .collect();
    if list.iter().any(|s| s.is_empty()) {
        return Err(Error::usage(format!(
            "empty location in {}: expected a comma-separated list such as ap-guangzhou,ap-shanghai",
            quote(&v)
        )));
    }
    Ok(match <[String; 1]>::try_from(list) {
        Ok([one]) => (Some(one), None),
        Err(list) => (None, Some(Locations::List(list))),
    })
}

/// Everything a run needs, validated.
#[derive(Debug, Clone)]
pub struct Plan {
    pub provider: ProviderName,
    pub operation: Operation,
    /// In input order, without duplicates; never empty unless `selectors` is set
    /// (then the selection finds the ids during the run: `Ctx::ids`).
    pub ids: Vec<String>,
    /// `--tag`/`--name`/`--state`/`--max-matches`, when given instead of ids.
    pub selectors: Option<Selectors>,
    /// `--region` / `CLOUDSTOP_REGION` (the provider adds its own sources).
    pub region: Option<String>,
    /// With selectors, several regions (Tencent, Huawei) or zones (QingCloud):
    /// `--region a,b` or `all`. Then `region`/`zone` is unset and each location runs
    /// with its own (`Ctx::for_location`).
    pub locations: Option<Locations>,
    pub zone: Option<String>,
    pub project_id: Option<String>,
    /// QingCloud `job stop`: the cluster the jobs run in.
    pub cluster_id: Option<String>,
    pub run_user: Option<String>,
    pub unlease: Option<String>,
    /// `cluster delete`: keep the nodes' servers (TKE retain, CCE retain).
    pub keep_instances: bool,
    /// `cluster delete`: delete the cluster's storage too.
    pub delete_storage: bool,
    pub hard: bool,
    pub stop_charging: bool,
    pub endpoint: Option<String>,
    pub profile: String,
    /// `--profile` on the command line: the profile goes before the environment.
    pub explicit_profile: bool,
    /// The profile was named (`--profile` or `CLOUDSTOP_PROFILE`): it must exist.
    pub profile_named: bool,
    /// `region`, `zone`, `project_id` came from `CLOUDSTOP_REGION`/`_ZONE`/`_PROJECT_ID`
    /// rather than the command line: an explicit `--profile` goes before them.
    pub location_from_env: LocationFromEnv,
    pub dry_run: bool,
    pub wait: bool,
    pub wait_timeout: Duration,
    pub poll_interval: Duration,
    pub ignore_missing: bool,
    pub yes: bool,
    pub transport: TransportOptions,
    pub output: OutputFormat,
    pub verbose: u8,
    pub quiet: bool,
}

/// Which location settings came from `CLOUDSTOP_*` variables, not flags.
#[derive(Debug, Clone, Copy, Default)]
pub struct LocationFromEnv {
    pub region: bool,
    pub zone: bool,
    pub project_id: bool,
}

impl Plan {
    /// `--region`, split by where it came from: `(flag, CLOUDSTOP_REGION)`.
    pub fn region_sources(&self) -> (Option<&str>, Option<&str>) {
        split(self.region.as_deref(), self.location_from_env.region)
    }

    /// `--zone`, split as [`Plan::region_sources`].
    pub fn zone_sources(&self) -> (Option<&str>, Option<&str>) {
        split(self.zone.as_deref(), self.location_from_env.zone)
    }

    /// `--project-id`, split as [`Plan::region_sources`].
    pub fn project_id_sources(&self) -> (Option<&str>, Option<&str>) {
        split(
            self.project_id.as_deref(),
            self.location_from_env.project_id,
        )
    }
}

fn split(v: Option<&str>, from_env: bool) -> (Option<&str>, Option<&str>) {
    if from_env {
        (None, v)
    } else {
        (v, None)
    }
}

/// The provider and operation a command line names, known even when the rest of it is
/// invalid (for the envelope of a usage error).
pub fn target(cmd: &Command) -> Option<(ProviderName, Operation, &CommonArgs)> {
    match cmd {
        Command::Job(JobCommand::Stop(a)) => {
            Some((a.common.provider.into(), Operation::JobStop, &a.common))
        }
        Command::Server(ServerCommand::Stop(a)) => {
            Some((a.common.provider.into(), Operation::ServerStop, &a.common))
        }
        Command::Cluster(ClusterCommand::Delete(a)) => Some((
            a.common.provider.into(),
            Operation::ClusterDelete,
            &a.common,
        )),
        _ => None,
    }
}

impl Plan {
    /// Builds the plan of an operation command. `stdin` is read for `--ids-from -`.
    pub fn build(cmd: Command, env: &Env, stdin: &mut dyn Read) -> Result<Plan, Error> {
        let mut keep_instances = false;
        let mut delete_storage = false;
        let mut select = crate::cli::SelectorArgs::default();
        let (flag_ids, cluster_id, run_user, unlease, hard, stop_charging, common, operation) =
            match cmd {
                Command::Job(JobCommand::Stop(a)) => {
                    select = a.select;
                    (
                        a.job_ids,
                        a.cluster_id,
                        None,
                        None,
                        false,
                        false,
                        a.common,
                        Operation::JobStop,
                    )
                }
                Command::Server(ServerCommand::Stop(a)) => {
                    select = a.select;
                    (
                        a.server_ids,
                        None,
                        None,
                        None,
                        a.hard,
                        a.stop_charging,
                        a.common,
                        Operation::ServerStop,
                    )
                }
                Command::Cluster(ClusterCommand::Delete(a)) => {
                    keep_instances = a.keep_instances;
                    delete_storage = a.delete_storage;
                    (
                        a.cluster_ids,
                        None,
                        a.run_user,
                        a.unlease,
                        false,
                        false,
                        a.common,
                        Operation::ClusterDelete,
                    )
                }
                _ => return Err(Error::internal("not an operation command")),
            };
        let provider: ProviderName = common.provider.into();
        let selectors = Selectors::parse(
            &select.tags,
            &select.names,
            &select.states,
            select.max_matches.map(|n| n as usize),
        )?;
        let ids = match &selectors {
            None => collect_ids(operation, flag_ids, common.ids_from.as_deref(), stdin)?,
            Some(_) if !flag_ids.is_empty() || common.ids_from.is_some() => {
                return Err(Error::usage(format!(
                    "--tag/--name select {}s instead of ids: pass either {} / --ids-from or selectors, not both (nothing was sent)",
                    operation.noun(),
                    operation.id_flag()
                )));
            }
            Some(_) => Vec::new(),
        };

        if stop_charging && provider != ProviderName::Tencent {
            return Err(Error::usage(format!(
                "--stop-charging is only for --provider tencent (got --provider {})",
                provider.as_str()
            )));
        }
        if cluster_id.is_some() && provider != ProviderName::Qingcloud {
            return Err(Error::usage(format!(
                "--cluster-id on job stop is only for --provider qingcloud (got --provider {})",
                provider.as_str()
            )));
        }
        let (profile, explicit_profile, profile_named) = match common.profile {
            Some(p) => (p, true, true),
            None => match env.get("CLOUDSTOP_PROFILE") {
                Some(p) => (p.to_string(), false, true),
                None => ("default".to_string(), false, false),
            },
        };
        // A flag wins over its CLOUDSTOP_* variable; which one gave the value matters
        // to the providers (an explicit --profile goes between them).
        let from_env = |flag: Option<String>, var: &str| match non_empty(flag) {
            Some(v) => (Some(v), false),
            None => (env.get(var).map(str::to_string), env.get(var).is_some()),
        };
        let (region, region_env) = from_env(common.region, "CLOUDSTOP_REGION");
        let (zone, zone_env) = from_env(common.zone, "CLOUDSTOP_ZONE");
        let (project_id, project_env) = from_env(common.project_id, "CLOUDSTOP_PROJECT_ID");
        if profile.trim().is_empty() {
            return Err(Error::usage("--profile must not be empty"));
        }
        // QingCloud's locations are zones, the others' regions.
        let (mut region, mut zone) = (non_empty(region), non_empty(zone));
        let (one, locations) = if provider == ProviderName::Qingcloud {
            split_locations(zone.take())?
        } else {
            split_locations(region.take())?
        };
        if provider == ProviderName::Qingcloud {
            zone = one;
        } else {
            region = one;
        }
        if locations.is_some() && selectors.is_none() {
            let flag = if provider == ProviderName::Qingcloud {
                "--zone"
            } else {
                "--region"
            };
            return Err(Error::usage(format!(
                "with ids, {flag} names exactly one location: several locations (a list or all) need selectors (--tag/--name)"
            )));
        }
        if locations.is_some() && provider == ProviderName::Huawei && project_id.is_some() {
            return Err(Error::usage(
                "--project-id names the project of one region: with several regions each one's project is looked up from IAM",
            ));
        }
        Ok(Plan {
            provider,
            operation,
            ids,
            selectors,
            region,
            locations,
            zone,
            project_id: non_empty(project_id),
            cluster_id,
            run_user: non_empty(run_user),
            unlease,
            keep_instances,
            delete_storage,
            hard,
            stop_charging,
            endpoint: non_empty(common.endpoint),
            profile,
            explicit_profile,
            profile_named,
            location_from_env: LocationFromEnv {
                region: region_env,
                zone: zone_env,
                project_id: project_env,
            },
            dry_run: common.dry_run,
            wait: common.wait,
            wait_timeout: common.wait_timeout,
            poll_interval: common
                .poll_interval
                .unwrap_or_else(|| default_poll_interval(provider, operation)),
            ignore_missing: common.ignore_missing,
            yes: common.yes,
            transport: TransportOptions {
                timeout: common.timeout,
                retries: common.retries,
                concurrency: common.concurrency,
                rate: common.rate,
            },
            output: common.output,
            verbose: common.verbose,
            quiet: common.quiet,
        })
    }
}

/// `--poll-interval` when not given: 5 s, but 15 s for the APIs whose own clients poll
/// slowly (Huawei CCE `cluster delete` and ModelArts `job stop`; SPEC, PROVIDERS.md §3b–3c).
pub fn default_poll_interval(provider: ProviderName, operation: Operation) -> Duration {
    match (provider, operation) {
        (ProviderName::Huawei, Operation::ClusterDelete | Operation::JobStop) => {
            Duration::from_secs(15)
        }
        _ => Duration::from_secs(5),
    }
}

fn non_empty(v: Option<String>) -> Option<String> {
    v.filter(|s| !s.trim().is_empty())
}

/// Ids from the flag (already split on commas by clap) and `--ids-from`, in order,
/// duplicates dropped. Blanks around an id are trimmed and empty items (`a,,b`, a
/// trailing comma, `--job-id ''`) skipped, but an empty list in the end is a usage
/// error: an empty list never means "all".
pub fn collect_ids(
    op: Operation,
    flag_ids: Vec<String>,
    ids_from: Option<&Path>,
    stdin: &mut dyn Read,
) -> Result<Vec<String>, Error> {
    let mut all: Vec<String> = flag_ids.iter().flat_map(|v| parse_id_list(v)).collect();
    if let Some(path) = ids_from {
        let bytes = if path == Path::new("-") {
            let mut b = Vec::new();
            stdin
                .read_to_end(&mut b)
                .map_err(|e| Error::usage(format!("cannot read --ids-from - (stdin): {e}")))?;
            b
        } else {
            std::fs::read(path).map_err(|e| {
                Error::usage(format!(
                    "cannot read --ids-from {}: {e}",
                    quote(&path.to_string_lossy())
                ))
            })?
        };
        let text = crate::config::decode_text(bytes).map_err(|line| {
            Error::usage(format!(
                "--ids-from {} is not UTF-8 text (line {line}): save it as UTF-8",
                quote(&path.to_string_lossy())
            ))
        })?;
        all.extend(parse_id_lines(&text));
    }
    let mut seen = HashSet::new();
    all.retain(|id| seen.insert(id.clone()));
    if all.is_empty() {
        return Err(Error::usage(format!(
            "no {} ids given: pass {} ID or --ids-from PATH (an empty list never means all)",
            op.noun(),
            op.id_flag()
        )));
    }
    Ok(all)
}

/// The ids of one `--<kind>-id` value: split on commas (clap splits already; a value
/// from elsewhere may not be), blanks trimmed, empty items skipped.
pub fn parse_id_list(value: &str) -> impl Iterator<Item = String> + '_ {
    value
        .split(',')
        .map(str::trim)
        .filter(|id| !id.is_empty())
        .map(String::from)
}

/// One id per line; surrounding blanks trimmed, blank lines and `#` comments skipped.
/// A leading byte-order mark (Notepad, PowerShell) is not part of the first id.
pub fn parse_id_lines(text: &str) -> impl Iterator<Item = String> + '_ {
    crate::config::strip_bom(text)
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(String::from)
}

/// Checks every id against `valid`; the first bad one fails the whole command.
pub fn check_ids(
    ids: &[String],
    what: &str,
    expected: &str,
    valid: impl Fn(&str) -> bool,
) -> Result<(), Error> {
    for id in ids {
        if !valid(id) {
            // Provider ids are lower case: the provider would not know this one.
            let lower = id.to_ascii_lowercase();
            let hint = if lower != *id && valid(&lower) {
                format!(" (ids are lower case: use {})", quote(&lower))
            } else {
                String::new()
            };
            return Err(Error::usage(format!(
                "malformed {what} {}: expected {expected}{hint}",
                quote(id)
            )));
        }
    }
    Ok(())
}

/// Characters of a value [`quote`] shows at most.
pub const QUOTE_MAX_CHARS: usize = 80;

/// A value for an error message, in single quotes and as typed — quotes and
/// backslashes included — except what would not show or would break the line:
/// control characters (`\n`, `\t`, `\r`, `\0`, others as `\u{1b}`), characters that
/// print nothing or could pass for something else (format characters such as U+200B or
/// a byte-order mark, unassigned code points, combining marks, any blank but the plain
/// space) as `\u{…}`. Values longer than [`QUOTE_MAX_CHARS`] characters are cut, with
/// `…` after the cut.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len().min(4 * QUOTE_MAX_CHARS) + 2);
    out.push('\'');
    for c in s.chars().take(QUOTE_MAX_CHARS) {
        match c {
            // Shown as typed: they print, and a reader copies them back as they are.
            '\'' | '"' | '\\' | ' ' => out.push(c),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\0' => out.push_str("\\0"),
            c if c.is_whitespace() => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            // The standard library's table of printable characters decides the rest:
            // `escape_debug` leaves a printable character alone and writes any other
            // as `\u{…}`.
            c => out.extend(c.escape_debug()),
        }
    }
    if s.chars().nth(QUOTE_MAX_CHARS).is_some() {
        out.push('…');
    }
    out.push('\'');
    out
}

/// `prefix` followed by exactly `n` characters of `[a-z0-9]`.
pub fn is_prefixed_id(id: &str, prefix: &str, n: usize) -> bool {
    id.strip_prefix(prefix).is_some_and(|rest| {
        rest.len() == n
            && rest
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_upper_case_id_is_refused_with_the_lower_case_form() {
        let valid = |id: &str| is_prefixed_id(id, "ins-", 8);
        let e = check_ids(&["ins-R8HR2UPY".into()], "CVM id", "ins-…", valid).unwrap_err();
        assert!(e.message.contains("use 'ins-r8hr2upy'"), "{}", e.message);
        let e = check_ids(&["ins-x".into()], "CVM id", "ins-…", valid).unwrap_err();
        assert!(!e.message.contains("lower case"), "{}", e.message);
    }

    fn ids(flag: &[&str], file: Option<&str>) -> Result<Vec<String>, Error> {
        let dir = tempfile::tempdir().unwrap();
        let path = file.map(|text| {
            let p = dir.path().join("ids.txt");
            std::fs::write(&p, text).unwrap();
            p
        });
        collect_ids(
            Operation::JobStop,
            flag.iter().map(|s| s.to_string()).collect(),
            path.as_deref(),
            &mut std::io::empty(),
        )
    }

    #[test]
    fn ids_keep_order_and_drop_duplicates() {
        let got = ids(&["b", "a", "b"], Some("# comment\n\n  c  \na\n")).unwrap();
        assert_eq!(got, vec!["b", "a", "c"]);
    }

    #[test]
    fn empty_lists_are_usage_errors() {
        assert_eq!(
            ids(&[], None).unwrap_err().kind,
            crate::error::ErrorKind::Usage
        );
        assert!(ids(&[], Some("\n# nothing\n")).is_err());
        assert!(ids(&[""], None).is_err());
        assert!(ids(&["  "], None).is_err());
    }

    #[test]
    fn stdin_is_read_for_dash() {
        let mut input: &[u8] = b"job-aaaaaaaa\njob-bbbbbbbb\n";
        let got =
            collect_ids(Operation::JobStop, vec![], Some(Path::new("-")), &mut input).unwrap();
        assert_eq!(got, vec!["job-aaaaaaaa", "job-bbbbbbbb"]);
    }

    #[test]
    fn missing_file_is_usage_error() {
        let e = collect_ids(
            Operation::JobStop,
            vec![],
            Some(Path::new("/nonexistent/ids.txt")),
            &mut std::io::empty(),
        )
        .unwrap_err();
        assert!(e.message.contains("/nonexistent/ids.txt"));
    }

    #[test]
    fn prefixed_ids() {
        assert!(is_prefixed_id("job-rybewp57", "job-", 8));
        assert!(!is_prefixed_id("job-RYBEWP57", "job-", 8));
        assert!(!is_prefixed_id("job-rybewp5", "job-", 8));
        assert!(!is_prefixed_id("job-rybewp5é", "job-", 8));
        assert!(!is_prefixed_id("ins-rybewp57", "job-", 8));
    }

    #[test]
    fn quote_shows_values_as_typed() {
        // Quotes and backslashes as typed: the value can be copied back.
        assert_eq!(quote("job-' OR '1'='1"), "'job-' OR '1'='1'");
        assert_eq!(quote(r#"say "hi" \o/"#), r#"'say "hi" \o/'"#);
        assert_eq!(quote("é中文 ok"), "'é中文 ok'");
        // What would not show, or would break the line, is escaped.
        assert_eq!(quote("a\nb\r\tc\0"), "'a\\nb\\r\\tc\\0'");
        assert_eq!(quote("\x1b[31mred"), "'\\u{1b}[31mred'");
        assert_eq!(quote("\u{feff}job"), "'\\u{feff}job'");
        assert_eq!(quote("a\u{200b}b\u{202e}c"), "'a\\u{200b}b\\u{202e}c'");
        assert_eq!(quote("a\u{a0}b\u{3000}"), "'a\\u{a0}b\\u{3000}'");
        assert_eq!(quote("\u{7f}\u{85}"), "'\\u{7f}\\u{85}'");
        assert_eq!(quote(""), "''");
        // Long values are cut.
        let long = quote(&"x".repeat(200));
        assert_eq!(long, format!("'{}…'", "x".repeat(QUOTE_MAX_CHARS)));
        assert_eq!(
            quote(&"x".repeat(QUOTE_MAX_CHARS)),
            format!("'{}'", "x".repeat(80))
        );
    }

    #[test]
    fn id_lists_trim_and_skip_empty_items() {
        let got: Vec<String> = parse_id_list(" a, b ,,c,").collect();
        assert_eq!(got, ["a", "b", "c"]);
        assert!(parse_id_list(" , ,").next().is_none());
        // As clap hands them over: already split on commas.
        assert_eq!(ids(&["a", " b", ""], None).unwrap(), ["a", "b"]);
        assert!(ids(&["", " "], None).is_err());
    }

    #[test]
    fn id_files_lose_their_byte_order_mark() {
        let got = ids(&[], Some("\u{feff}job-aaaaaaaa\r\njob-bbbbbbbb\r\n")).unwrap();
        assert_eq!(got, ["job-aaaaaaaa", "job-bbbbbbbb"]);
        let mut input: &[u8] = b"\xEF\xBB\xBFjob-aaaaaaaa\n";
        let got =
            collect_ids(Operation::JobStop, vec![], Some(Path::new("-")), &mut input).unwrap();
        assert_eq!(got, ["job-aaaaaaaa"]);
        // A BOM alone is an empty list, not an id.
        assert!(ids(&[], Some("\u{feff}\n")).is_err());
        // Not text at all: a usage error naming the line.
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("ids.bin");
        std::fs::write(&p, b"job-aaaaaaaa\n\xff\xfe\xfd").unwrap();
        let e =
            collect_ids(Operation::JobStop, vec![], Some(&p), &mut std::io::empty()).unwrap_err();
        assert!(
            e.message.contains("not UTF-8") && e.message.contains("line 2"),
            "{}",
            e.message
        );
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        /// Text full of what id lists and messages meet: line breaks, byte-order marks,
        /// commas, quotes, blanks, comments, control characters, any character.
        fn messy() -> impl Strategy<Value = String> {
            proptest::collection::vec(
                prop_oneof![
                    Just("\n".to_string()),
                    Just("\r\n".to_string()),
                    Just("\u{feff}".to_string()),
                    Just(",".to_string()),
                    Just(", ".to_string()),
                    Just("'".to_string()),
                    Just("\"".to_string()),
                    Just("\\".to_string()),
                    Just(" ".to_string()),
                    Just("\t".to_string()),
                    Just("#".to_string()),
                    Just("\u{1b}".to_string()),
                    Just("\u{200b}".to_string()),
                    "[a-z0-9-]{1,10}",
                    any::<char>().prop_map(String::from),
                ],
                0..40,
            )
            .prop_map(|parts| parts.concat())
        }

        fn id() -> impl Strategy<Value = String> {
            "[a-z0-9][a-z0-9-]{0,11}"
        }

        proptest! {
            #[test]
            fn id_lines_are_trimmed_and_skip_comments(text in messy()) {
                for id in parse_id_lines(&text) {
                    prop_assert!(!id.is_empty());
                    prop_assert_eq!(id.trim(), id.as_str());
                    prop_assert!(!id.starts_with('#'));
                    prop_assert!(!id.contains('\n'));
                }
                // A leading BOM never changes the ids.
                if !text.starts_with('\u{feff}') {
                    let with_bom = format!("\u{feff}{text}");
                    let a: Vec<String> = parse_id_lines(&with_bom).collect();
                    let b: Vec<String> = parse_id_lines(&text).collect();
                    prop_assert_eq!(a, b);
                }
            }

            #[test]
            fn id_lines_give_back_the_ids_written(
                ids in proptest::collection::vec(id(), 0..20),
                bom in any::<bool>(),
                crlf in any::<bool>(),
                pad in "[ \t]{0,2}",
            ) {
                let eol = if crlf { "\r\n" } else { "\n" };
                let mut text = String::from(if bom { "\u{feff}" } else { "" });
                text.push_str(&format!("# ids{eol}{eol}"));
                for id in &ids {
                    text.push_str(&format!("{pad}{id}{pad}{eol}"));
                }
                let got: Vec<String> = parse_id_lines(&text).collect();
                prop_assert_eq!(got, ids);
            }

            #[test]
            fn id_lists_give_back_the_ids_written(
                ids in proptest::collection::vec(id(), 0..20),
                seps in proptest::collection::vec(prop_oneof![Just(","), Just(", "), Just(" ,"), Just(",,"), Just(" , ")], 20),
                trailing in any::<bool>(),
            ) {
                let mut value = String::new();
                for (i, id) in ids.iter().enumerate() {
                    if i > 0 {
                        value.push_str(seps[i]);
                    }
                    value.push_str(id);
                }
                if trailing {
                    value.push(',');
                }
                let got: Vec<String> = parse_id_list(&value).collect();
                prop_assert_eq!(&got, &ids);
                // clap splits on commas first: the same ids.
                let split: Vec<String> = value.split(',').map(String::from).collect();
                let collected = collect_ids(Operation::JobStop, split, None, &mut std::io::empty());
                let mut seen = std::collections::HashSet::new();
                let unique: Vec<String> = ids.iter().filter(|i| seen.insert((*i).clone())).cloned().collect();
                if unique.is_empty() {
                    prop_assert!(collected.is_err());
                } else {
                    prop_assert_eq!(collected.unwrap(), unique);
                }
            }

            #[test]
            fn id_lists_of_anything_hold_trimmed_items_without_commas(value in messy()) {
                for id in parse_id_list(&value) {
                    prop_assert!(!id.is_empty() && !id.contains(','));
                    prop_assert_eq!(id.trim(), id.as_str());
                }
            }

            #[test]
            fn quoted_values_stay_on_one_readable_line(value in messy()) {
                let q = quote(&value);
                prop_assert!(q.starts_with('\'') && q.ends_with('\''));
                prop_assert!(!q.chars().any(|c| c.is_control()), "{:?}", q);
                prop_assert!(!q.chars().any(|c| c.is_whitespace() && c != ' '), "{:?}", q);
                let invisible = q.contains('\u{feff}') || q.contains('\u{200b}');
                prop_assert!(!invisible, "{:?}", q);
                prop_assert!(q.chars().count() <= 4 + 10 * QUOTE_MAX_CHARS);
            }

            #[test]
            fn printable_values_are_quoted_as_typed(value in "[ -~]{0,80}") {
                prop_assert_eq!(quote(&value), format!("'{value}'"));
            }

            #[test]
            fn collected_ids_are_unique_and_in_first_seen_order(ids in proptest::collection::vec("[a-c]{1,2}", 1..30)) {
                let got = collect_ids(Operation::JobStop, ids.clone(), None, &mut std::io::empty()).unwrap();
                let mut seen = std::collections::HashSet::new();
                let want: Vec<String> = ids.into_iter().filter(|i| seen.insert(i.clone())).collect();
                prop_assert_eq!(got, want);
            }

            #[test]
            fn id_checks_never_panic(id in "\\PC{0,40}") {
                let valid = is_prefixed_id(&id, "job-", 8);
                prop_assert_eq!(valid, id.len() == 12 && id.starts_with("job-") && id[4..].bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()));
                let _ = quote(&id);
            }
        }
    }

    fn plan_of(line: &str, env: &[(&str, &str)]) -> Result<Plan, Error> {
        use clap::Parser;
        let cli = crate::cli::Cli::try_parse_from(line.split_whitespace()).unwrap();
        Plan::build(cli.command, &Env::from_pairs(env), &mut std::io::empty())
    }

    #[test]
    fn operations_name_themselves_as_spec_writes_them() {
        // SPEC: the envelope's `operation`, the id flags, the nouns of messages.
        for (op, name, verb, flag, noun) in [
            (
                Operation::JobStop,
                "job.stop",
                "job stop",
                "--job-id",
                "job",
            ),
            (
                Operation::ServerStop,
                "server.stop",
                "server stop",
                "--server-id",
                "server",
            ),
            (
                Operation::ClusterDelete,
                "cluster.delete",
                "cluster delete",
                "--cluster-id",
                "cluster",
            ),
        ] {
            assert_eq!(
                (op.as_str(), op.verb(), op.id_flag(), op.noun()),
                (name, verb, flag, noun)
            );
        }
    }

    #[test]
    fn locations_split_on_commas_or_all() {
        let split = |v: &str| split_locations(Some(v.to_string()));
        assert_eq!(split_locations(None).unwrap(), (None, None));
        assert_eq!(split("").unwrap(), (None, None));
        assert_eq!(
            split("ap-guangzhou").unwrap(),
            (Some("ap-guangzhou".into()), None)
        );
        assert_eq!(split(" all ").unwrap(), (None, Some(Locations::All)));
        assert_eq!(
            split("a, b,a").unwrap(),
            (None, Some(Locations::List(vec!["a".into(), "b".into()])))
        );
        assert_eq!(split("a,a").unwrap(), (Some("a".into()), None));
        let e = split("a,,b").unwrap_err();
        assert!(
            e.message.contains("empty location in 'a,,b'"),
            "{}",
            e.message
        );
    }

    #[test]
    fn locations_remember_whether_a_flag_or_the_environment_gave_them() {
        let line =
            "cloudstop server stop -p huawei --server-id 3f2a0c4e-6b1d-4d8e-9a57-0c1e2d3f4a5b";
        let env = [
            ("CLOUDSTOP_REGION", "env-region"),
            ("CLOUDSTOP_ZONE", "env-zone"),
            ("CLOUDSTOP_PROJECT_ID", "0123456789abcdef0123456789abcdef"),
        ];
        let p = plan_of(line, &env).unwrap();
        assert_eq!(p.region_sources(), (None, Some("env-region")));
        assert_eq!(p.zone_sources(), (None, Some("env-zone")));
        assert_eq!(
            p.project_id_sources(),
            (None, Some("0123456789abcdef0123456789abcdef"))
        );
        let flags = format!(
            "{line} --region flag-region --zone flag-zone --project-id fedcba9876543210fedcba9876543210"
        );
        let p = plan_of(&flags, &env).unwrap();
        assert_eq!(p.region_sources(), (Some("flag-region"), None));
        assert_eq!(p.zone_sources(), (Some("flag-zone"), None));
        assert_eq!(
            p.project_id_sources(),
            (Some("fedcba9876543210fedcba9876543210"), None)
        );
        let p = plan_of(line, &[]).unwrap();
        assert_eq!(p.region_sources(), (None, None));
        assert_eq!(p.zone_sources(), (None, None));
        assert_eq!(p.project_id_sources(), (None, None));
    }

    #[test]
    fn the_target_of_a_command_line_is_known_before_it_is_valid() {
        use clap::Parser;
        for (line, provider, op) in [
            (
                "cloudstop job stop -p qingcloud --job-id x",
                ProviderName::Qingcloud,
                Operation::JobStop,
            ),
            (
                "cloudstop server stop -p huawei --server-id x",
                ProviderName::Huawei,
                Operation::ServerStop,
            ),
            (
                "cloudstop cluster delete -p tencent --cluster-id x",
                ProviderName::Tencent,
                Operation::ClusterDelete,
            ),
        ] {
            let cli = crate::cli::Cli::try_parse_from(line.split_whitespace()).unwrap();
            let (p, o, _) = target(&cli.command).unwrap();
            assert_eq!((p, o), (provider, op), "{line}");
        }
        let cli = crate::cli::Cli::try_parse_from(["cloudstop", "providers"]).unwrap();
        assert!(target(&cli.command).is_none());
    }

    #[test]
    fn flags_that_do_not_fit_the_command_are_usage_errors() {
        let ins = "cloudstop server stop -p tencent --server-id ins-aaaaaaaa";
        let hw = "cloudstop server stop -p huawei --server-id 3f2a0c4e-6b1d-4d8e-9a57-0c1e2d3f4a5b";
        for (line, says) in [
            (format!("{ins} --tag env=ci"), "not both"),
            ("cloudstop server stop -p tencent --ids-from /x --tag env=ci".to_string(), "not both"),
            (format!("{hw} --stop-charging"), "--stop-charging is only for --provider tencent"),
            (
                "cloudstop job stop -p tencent --job-id job-aaaaaaaa --cluster-id hpc-aaaaaaaa".into(),
                "--cluster-id on job stop is only for --provider qingcloud",
            ),
            (format!("{ins} --region a,b"), "with ids, --region names exactly one location"),
            (
                "cloudstop server stop -p qingcloud --server-id i-aaaaaaaa --zone a,b".into(),
                "with ids, --zone names exactly one location",
            ),
            (
                "cloudstop server stop -p huawei --tag env=ci --region all --project-id 0123456789abcdef0123456789abcdef".into(),
                "--project-id names the project of one region",
            ),
        ] {
            let e = plan_of(&line, &[]).unwrap_err();
            assert_eq!(e.kind, crate::error::ErrorKind::Usage, "{line}");
            assert!(e.message.contains(says), "{line}: {}", e.message);
        }
        // What fits is accepted.
        plan_of(&format!("{ins} --stop-charging --region ap-guangzhou"), &[]).unwrap();
        plan_of(
            "cloudstop job stop -p qingcloud --job-id job-aaaaaaaa --cluster-id hpc-aaaaaaaa",
            &[],
        )
        .unwrap();
        plan_of(
            "cloudstop server stop -p huawei --tag env=ci --region all",
            &[],
        )
        .unwrap();
        plan_of(
            &format!("{hw} --region cn-north-4 --project-id 0123456789abcdef0123456789abcdef"),
            &[],
        )
        .unwrap();
        // QingCloud's locations are zones; the others' are regions.
        let p = plan_of(
            "cloudstop server stop -p qingcloud --tag env --zone pek3,sh1a",
            &[],
        )
        .unwrap();
        assert_eq!(
            p.locations,
            Some(Locations::List(vec!["pek3".into(), "sh1a".into()]))
        );
        assert_eq!(p.zone, None);
        let p = plan_of(
            "cloudstop server stop -p qingcloud --server-id i-aaaaaaaa --zone pek3 --region r",
            &[],
        )
        .unwrap();
        assert_eq!(
            (p.zone.as_deref(), p.locations.as_ref()),
            (Some("pek3"), None)
        );
        let p = plan_of(&format!("{ins} --region ap-guangzhou --zone z"), &[]).unwrap();
        assert_eq!(
            (p.region.as_deref(), p.zone.as_deref()),
            (Some("ap-guangzhou"), Some("z"))
        );
    }

    #[test]
    fn poll_intervals_default_per_api() {
        use Operation::*;
        use ProviderName::*;
        for (provider, op, secs) in [
            (Huawei, ClusterDelete, 15),
            (Huawei, JobStop, 15),
            (Huawei, ServerStop, 5),
            (Tencent, ClusterDelete, 5),
            (Tencent, JobStop, 5),
            (Qingcloud, JobStop, 5),
        ] {
            assert_eq!(
                default_poll_interval(provider, op),
                Duration::from_secs(secs)
            );
        }
        assert_eq!(non_empty(Some(" \t".into())), None);
        assert_eq!(non_empty(Some(" a ".into())), Some(" a ".into()));
        assert_eq!(non_empty(None), None);
    }

    #[test]
    fn the_lower_case_hint_is_given_only_when_it_would_be_valid() {
        let valid = |id: &str| is_prefixed_id(id, "ins-", 8);
        let e = check_ids(&["INS-X".into()], "CVM id", "ins-…", valid).unwrap_err();
        assert!(!e.message.contains("lower case"), "{}", e.message);
        assert_eq!(quote("a\u{2003}b"), "'a\\u{2003}b'");
    }
}
