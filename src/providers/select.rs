//! Selecting by tag, name and state instead of ids (SPEC "Selecting by tag, name and
//! state"), written once for every provider:
//! - [`Selectors`]: the parsed `--tag`/`--name`/`--state`/`--max-matches`;
//! - [`Flavor`]: what a provider's list API can express (tags with values, tag names,
//!   no tags) and its state words (PROVIDERS.md §4g), declared by each API file;
//! - [`pages`]: reads every page of a list API, whatever its paging scheme;
//! - [`select`]: re-checks every selector on the listed fields (the providers' own
//!   filters are fuzzy or "contains"), drops duplicates, orders by (location, id),
//!   applies `--max-matches`, records `already_stopped`/`stopping` for what needs
//!   nothing sent, and hands the rest to the provider's ordinary stop path (the same
//!   batching, pacing, retries and `--wait` as ids).
//!
//! Each provider only maps the selectors to its list API's filters and parses its
//! pages into [`Listed`] resources.

use crate::envelope::{CredentialsUsed, ResultItem, Selection, Status};
use crate::error::{Error, ErrorKind};
use crate::plan::{quote, Plan};
use crate::providers::Ctx;
use globset::{GlobBuilder, GlobSet, GlobSetBuilder};
use std::collections::{BTreeMap, HashSet};
use std::future::Future;

/// `--max-matches` when not given (SPEC).
pub const DEFAULT_MAX_MATCHES: usize = 20;

/// A bound on the pages one listing reads, so an API that never says "last page"
/// cannot keep a run going for ever.
const MAX_PAGES: usize = 10_000;

/// One `--tag` argument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagSel {
    /// As typed: a QingCloud tag name must equal all of it.
    pub raw: String,
    pub key: String,
    /// `None` for a bare `--tag KEY` (any value).
    pub value: Option<String>,
}

impl TagSel {
    pub fn parse(raw: &str) -> Result<TagSel, Error> {
        let (key, value) = match raw.split_once('=') {
            Some((k, v)) => (k, Some(v.to_string())),
            None => (raw, None),
        };
        if key.trim().is_empty() {
            return Err(Error::usage(format!(
                "malformed --tag {}: expected KEY=VALUE or KEY",
                quote(raw)
            )));
        }
        Ok(TagSel {
            raw: raw.to_string(),
            key: key.to_string(),
            value,
        })
    }
}

/// The selectors of one run; `None` in the plan when ids were given.
#[derive(Debug, Clone)]
pub struct Selectors {
    /// AND.
    pub tags: Vec<TagSel>,
    /// Globs, OR.
    pub names: Vec<String>,
    /// SPEC words or provider words, OR.
    pub states: Vec<String>,
    pub max_matches: usize,
    globs: GlobSet,
}

impl Selectors {
    /// `None` when neither `--tag` nor `--name` was given (then `--state` alone is a
    /// usage error: it is not a selector).
    pub fn parse(
        tags: &[String],
        names: &[String],
        states: &[String],
        max_matches: Option<usize>,
    ) -> Result<Option<Selectors>, Error> {
        if tags.is_empty() && names.is_empty() {
            if !states.is_empty() {
                return Err(Error::usage(
                    "--state alone is not a selector: add --tag or --name (nothing was sent)",
                ));
            }
            if max_matches.is_some() {
                return Err(Error::usage(
                    "--max-matches needs selectors (--tag or --name)",
                ));
            }
            return Ok(None);
        }
        let tags = tags
            .iter()
            .map(|t| TagSel::parse(t))
            .collect::<Result<Vec<_>, _>>()?;
        let mut set = GlobSetBuilder::new();
        for n in names {
            if n.is_empty() {
                return Err(Error::usage("empty --name: expected a glob such as 'ci-*'"));
            }
            set.add(glob(n)?);
        }
        let globs = set
            .build()
            .map_err(|e| Error::usage(format!("bad --name glob: {e}")))?;
        for s in states {
            if s.trim().is_empty() {
                return Err(Error::usage(
                    "empty --state: expected running, stopped, pending or the provider's own state word",
                ));
            }
        }
        Ok(Some(Selectors {
            tags,
            names: names.to_vec(),
            states: states.to_vec(),
            max_matches: max_matches.unwrap_or(DEFAULT_MAX_MATCHES),
            globs,
        }))
    }

    /// Whether `name` matches one of the `--name` globs (true when none was given). A
    /// resource without a name never matches a glob.
    pub fn name_matches(&self, name: Option<&str>) -> bool {
        if self.names.is_empty() {
            return true;
        }
        name.is_some_and(|n| !n.is_empty() && self.globs.is_match(n))
    }

    /// The `--name` values that are plain names (no glob syntax): the only ones worth
    /// sending to a provider's own name search.
    pub fn literal_name(&self) -> Option<&str> {
        match self.names.as_slice() {
            [one] if !one.contains(['*', '?', '[', ']', '{', '}', '\\']) => Some(one),
            _ => None,
        }
    }

    /// The envelope's `selection` for these selectors and `matched` ids.
    pub fn summary(&self, matched_ids: Vec<String>) -> Selection {
        let mut tags = BTreeMap::new();
        for t in &self.tags {
            tags.insert(t.key.clone(), t.value.clone());
        }
        Selection {
            tags,
            names: self.names.clone(),
            states: self.states.clone(),
            matched: matched_ids.len(),
            matched_ids,
            max_matches: self.max_matches,
        }
    }

    /// QingCloud's `selection.tags`: each argument is a whole tag name, with no value.
    pub fn summary_as_names(&self, matched_ids: Vec<String>) -> Selection {
        let mut s = self.summary(matched_ids);
        s.tags = self.tags.iter().map(|t| (t.raw.clone(), None)).collect();
        s
    }
}

/// A shell glob: `*`, `?`, `[…]`, anchored, case-sensitive, `*` crossing `/`.
fn glob(pattern: &str) -> Result<globset::Glob, Error> {
    GlobBuilder::new(pattern)
        .literal_separator(false)
        .case_insensitive(false)
        .backslash_escape(true)
        .build()
        .map_err(|e| {
            Error::usage(format!(
                "malformed --name glob {}: {}",
                quote(pattern),
                e.kind()
            ))
        })
}

/// How a provider's resources carry tags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tags {
    /// `key=value` pairs (Tencent, Huawei).
    KeyValue,
    /// Names without values (QingCloud IaaS): the whole `--tag` argument is a name.
    Names,
    /// No tags (QingCloud HPC): `--tag` is a usage error.
    None,
}

/// What one API's selection can express, and its state words (PROVIDERS.md §4g).
#[derive(Debug)]
pub struct Flavor {
    /// For messages: "Tencent CVM instance".
    pub noun: &'static str,
    pub tags: Tags,
    /// The provider's words for SPEC's `running`, `pending`, `stopped`.
    pub running: &'static [&'static str],
    pub pending: &'static [&'static str],
    pub stopped: &'static [&'static str],
    /// States in which nothing is sent: `already_stopped`.
    pub done: &'static [&'static str],
    /// States in which a stop is under way: `stopping`, nothing sent.
    pub under_way: &'static [&'static str],
    /// Every other state word the API documents (accepted verbatim by `--state`).
    pub other: &'static [&'static str],
}

impl Flavor {
    /// The provider words a `--state` value stands for.
    pub fn words<'a>(&self, state: &'a str) -> Vec<&'a str>
    where
        'static: 'a,
    {
        match state {
            "running" => self.running.to_vec(),
            "pending" => self.pending.to_vec(),
            "stopped" => self.stopped.to_vec(),
            other => vec![other],
        }
    }

    /// The provider words of every `--state`, without duplicates, in order.
    pub fn all_words<'a>(&self, states: &'a [String]) -> Vec<&'a str> {
        let mut seen = HashSet::new();
        states
            .iter()
            .flat_map(|s| self.words(s))
            .filter(|w| seen.insert(*w))
            .collect()
    }

    fn known(&self, word: &str) -> bool {
        [
            self.running,
            self.pending,
            self.stopped,
            self.done,
            self.under_way,
            self.other,
        ]
        .iter()
        .any(|set| set.contains(&word))
    }

    fn state_matches(&self, states: &[String], state: &str) -> bool {
        states.is_empty() || states.iter().any(|s| self.words(s).contains(&state))
    }
}

/// One resource as a list API returned it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub id: String,
    /// `None` or empty: never matches a `--name` glob.
    pub name: Option<String>,
    /// The provider's own state word (`state_before`).
    pub state: String,
    /// A stop already under way that the state word alone does not show (Huawei
    /// `ACTIVE` + `powering-off`, QingCloud `transition_status` `stopping`).
    pub stopping: bool,
    /// `(key, value)`; QingCloud names have the value `None`.
    pub tags: Vec<(String, Option<String>)>,
    /// Region or zone: results are ordered by (location, id).
    pub location: String,
    /// What the stop call needs besides the id (QingCloud HPC: the job's cluster).
    pub group: Option<String>,
}

/// Whether `r` carries every `--tag` (AND), matches a `--name` (OR) and a `--state` (OR).
pub fn matches(sel: &Selectors, flavor: &Flavor, r: &Listed) -> bool {
    let tags_ok = sel.tags.iter().all(|t| match flavor.tags {
        Tags::KeyValue => r.tags.iter().any(|(k, v)| {
            *k == t.key
                && match &t.value {
                    None => true,
                    Some(want) => v.as_deref().unwrap_or("") == want,
                }
        }),
        Tags::Names => r.tags.iter().any(|(k, _)| *k == t.raw),
        Tags::None => false,
    });
    tags_ok && sel.name_matches(r.name.as_deref()) && flavor.state_matches(&sel.states, &r.state)
}

/// Checks the selectors against what the provider's list API can do (no I/O).
pub fn validate(plan: &Plan, flavor: Option<&Flavor>) -> Result<(), Error> {
    let Some(sel) = &plan.selectors else {
        return Ok(());
    };
    let Some(flavor) = flavor else {
        return Err(Error::usage(format!(
            "{} --provider {} does not take --tag/--name yet: pass ids ({})",
            plan.operation.verb(),
            plan.provider.as_str(),
            plan.operation.id_flag()
        )));
    };
    if flavor.tags == Tags::None && !sel.tags.is_empty() {
        return Err(Error::usage(format!(
            "--tag is not available for {}s: they have no tags; use --name (nothing was sent)",
            flavor.noun
        )));
    }
    for s in &sel.states {
        if !matches!(s.as_str(), "running" | "pending" | "stopped") && !flavor.known(s) {
            let mut words: Vec<&str> = vec!["running", "pending", "stopped"];
            for set in [
                flavor.running,
                flavor.pending,
                flavor.stopped,
                flavor.done,
                flavor.under_way,
                flavor.other,
            ] {
                for w in set {
                    if !words.contains(w) {
                        words.push(w);
                    }
                }
            }
            return Err(Error::usage(format!(
                "unknown --state {} for {}s: expected one of {}",
                quote(s),
                flavor.noun,
                words.join(", ")
            )));
        }
    }
    Ok(())
}

/// One page of a list API.
#[derive(Debug)]
pub struct Page<T = Listed> {
    pub items: Vec<T>,
    /// The API's count of all matches, where it gives one.
    pub total: Option<usize>,
}

/// Reads every page: `fetch(n)` reads page `n` (0-based; the provider turns it into an
/// offset or a page number) of at most `page_size` items. Stops after a short or
/// empty page, or once the API's total is reached.
pub async fn pages<T, F, Fut>(page_size: usize, mut fetch: F) -> Result<Vec<T>, Error>
where
    F: FnMut(usize) -> Fut,
    Fut: Future<Output = Result<Page<T>, Error>>,
{
    let mut all = Vec::new();
    for n in 0..MAX_PAGES {
        let page = fetch(n).await?;
        let got = page.items.len();
        all.extend(page.items);
        let more = got > 0 && got >= page_size && page.total.is_none_or(|t| all.len() < t);
        if !more {
            return Ok(all);
        }
    }
    Err(Error::new(
        ErrorKind::Provider,
        format!("the list API kept answering full pages after {MAX_PAGES} pages: stopped listing"),
    ))
}

/// What the selection left for the stop path.
#[derive(Debug, Default, Clone)]
pub struct Selected {
    /// The matches still to be stopped, ordered by (location, id).
    pub ids: Vec<String>,
    /// id → group (QingCloud HPC: cluster).
    pub groups: std::collections::HashMap<String, String>,
    /// Matches found with their stop already under way: nothing is sent for them, and
    /// `--wait` follows them as it follows those it stops.
    pub under_way: Vec<String>,
}

/// Resolves the selectors: `listing` reads every page of this location; the matches
/// are checked, ordered and capped, and those needing nothing sent get their result.
/// Returns whether anything is left to stop (then `ctx.ids()` names it).
///
/// - Never acts while paging: `listing` finishes before anything is decided, and in a
///   run over several locations every location's listing does ([`Gather`]).
/// - A listing failure is returned as is (its own exit code), never "nothing matched".
/// - `--dry-run` lists for real, so it needs the user's credentials.
pub async fn select(
    ctx: &Ctx,
    flavor: &Flavor,
    credentials: CredentialsUsed,
    listing: impl Future<Output = Result<Vec<Listed>, Error>>,
) -> Result<bool, Error> {
    let Some(sel) = &ctx.plan.selectors else {
        return Ok(true);
    };
    if credentials == CredentialsUsed::Placeholder {
        return Err(Error::config(format!(
            "--dry-run with --tag/--name lists the {}s that match, which needs credentials, and none were found \
(`cloudstop providers` names where they are read from); nothing was sent",
            flavor.noun
        )));
    }
    let matched = match ctx.place() {
        None => decide(
            &ctx.report,
            sel,
            flavor,
            ctx.plan.ignore_missing,
            listing.await?,
        )?,
        Some((place, gather)) => {
            match listing.await {
                Ok(listed) => gather.arrive(place, Some(listed)),
                Err(e) => {
                    gather.arrive(place, None);
                    return Err(e);
                }
            }
            match gather.outcome(place).await {
                Some(mine) => mine,
                // Refused or nothing matched as a whole: the run's top-level error says so.
                None => return Ok(false),
            }
        }
    };
    Ok(apply(ctx, flavor, matched))
}

/// Checks every selector on `listed`, drops duplicates, orders by (location, id),
/// records `selection` and applies `--max-matches` and "nothing matched".
fn decide(
    report: &crate::providers::Report,
    sel: &Selectors,
    flavor: &Flavor,
    ignore_missing: bool,
    listed: Vec<Listed>,
) -> Result<Vec<Listed>, Error> {
    let total = listed.len();
    let mut seen = HashSet::new();
    let mut matched: Vec<Listed> = listed
        .into_iter()
        .filter(|r| matches(sel, flavor, r))
        .filter(|r| seen.insert((r.location.clone(), r.id.clone())))
        .collect();
    matched.sort_by(|a, b| (&a.location, &a.id).cmp(&(&b.location, &b.id)));
    tracing::info!("{} listed, {} matched the selectors", total, matched.len());
    let ids: Vec<String> = matched.iter().map(|r| r.id.clone()).collect();
    let summary = match flavor.tags {
        Tags::Names => sel.summary_as_names(ids.clone()),
        _ => sel.summary(ids.clone()),
    };
    report.set_selection(summary);
    if matched.len() > sel.max_matches {
        return Err(Error::usage(format!(
            "the selectors match {} {}s, more than --max-matches {}: pass --max-matches {} to stop them all \
(selection.matched_ids lists them; nothing was sent)",
            matched.len(),
            flavor.noun,
            sel.max_matches,
            matched.len()
        )));
    }
    if matched.is_empty() && !ignore_missing {
        return Err(Error::new(
            ErrorKind::NotFound,
            format!(
                "no {} matched the selectors ({} listed); nothing was sent",
                flavor.noun, total
            ),
        ));
    }
    report.adopt(
        &ids,
        matched
            .iter()
            .map(|r| (r.id.clone(), (r.name.clone(), r.state.clone()))),
    );
    report.set_places(matched.iter().map(|r| (r.id.clone(), r.location.clone())));
    Ok(matched)
}

/// Records `already_stopped`/`stopping` for the matches that need nothing sent and
/// hands the rest to the stop path; whether the stop path has anything to do (to
/// stop, or with `--wait` to follow).
fn apply(ctx: &Ctx, flavor: &Flavor, matched: Vec<Listed>) -> bool {
    let mut chosen = Selected::default();
    for r in matched {
        if flavor.done.contains(&r.state.as_str()) {
            ctx.report
                .set(ResultItem::new(r.id, Status::AlreadyStopped));
            continue;
        }
        if let Some(g) = r.group {
            chosen.groups.insert(r.id.clone(), g);
        }
        if r.stopping || flavor.under_way.contains(&r.state.as_str()) {
            ctx.report
                .set(ResultItem::new(r.id.clone(), Status::Stopping));
            chosen.under_way.push(r.id);
        } else {
            chosen.ids.push(r.id);
        }
    }
    let follow = ctx.plan.wait && !ctx.plan.dry_run && !chosen.under_way.is_empty();
    let any = !chosen.ids.is_empty() || follow;
    ctx.set_selected(chosen);
    any
}

/// Where the listings of a run over several locations meet: once every location has
/// listed (or failed), the matches of all of them are checked together — so
/// `--max-matches` counts across locations and nothing is sent while any location is
/// still paging — and each location gets its own share.
pub struct Gather {
    expected: usize,
    flavor: &'static Flavor,
    sel: Selectors,
    ignore_missing: bool,
    report: std::sync::Arc<crate::providers::Report>,
    state: std::sync::Mutex<Gathered>,
    ready: tokio::sync::watch::Sender<bool>,
    /// An account-wide lookup made once for every location, by whichever asks first
    /// (Huawei: the project ids of all regions in one IAM call instead of one call per
    /// region, all of them paced on the one IAM host).
    pub account: tokio::sync::OnceCell<AccountLookup>,
}

/// What [`Gather::account`] holds: the account's ids by location name (`None`: the
/// lookup failed, and each location asks for itself).
pub type AccountLookup = Option<std::collections::HashMap<String, Vec<String>>>;

#[derive(Default)]
struct Gathered {
    arrived: HashSet<String>,
    /// Locations that failed before or while listing.
    failed: usize,
    listed: Vec<Listed>,
    /// `Err`: refused or nothing matched, for the run as a whole.
    decision: Option<Result<std::collections::HashMap<String, Vec<Listed>>, Error>>,
}

impl Gather {
    pub fn new(
        expected: usize,
        flavor: &'static Flavor,
        sel: Selectors,
        ignore_missing: bool,
        report: std::sync::Arc<crate::providers::Report>,
    ) -> Gather {
        Gather {
            expected,
            flavor,
            sel,
            ignore_missing,
            report,
            state: Default::default(),
            ready: tokio::sync::watch::Sender::new(false),
            account: tokio::sync::OnceCell::new(),
        }
    }

    /// `location` has listed (`None`: it failed, or ended before listing). The last
    /// one to arrive decides for all. Arriving twice changes nothing.
    pub fn arrive(&self, location: &str, listed: Option<Vec<Listed>>) {
        let mut st = self.state.lock().unwrap();
        if !st.arrived.insert(location.to_string()) {
            return;
        }
        match listed {
            Some(l) => st.listed.extend(l),
            None => st.failed += 1,
        }
        if st.arrived.len() < self.expected {
            return;
        }
        let all = std::mem::take(&mut st.listed);
        // Nothing found where some location could not be listed is not "nothing
        // matched": the failed locations' errors speak for the run.
        let decision = decide(
            &self.report,
            &self.sel,
            self.flavor,
            self.ignore_missing || st.failed > 0,
            all,
        )
        .map(|matched| {
            let mut by_place: std::collections::HashMap<String, Vec<Listed>> = Default::default();
            for r in matched {
                by_place.entry(r.location.clone()).or_default().push(r);
            }
            by_place
        });
        st.decision = Some(decision);
        drop(st);
        self.ready.send_replace(true);
    }

    /// Waits for the decision; this location's matches, or `None` when the run as a
    /// whole was refused or matched nothing.
    pub async fn outcome(&self, location: &str) -> Option<Vec<Listed>> {
        let mut rx = self.ready.subscribe();
        let _ = rx.wait_for(|ready| *ready).await;
        let st = self.state.lock().unwrap();
        match st.decision.as_ref()? {
            Ok(by_place) => Some(by_place.get(location).cloned().unwrap_or_default()),
            Err(_) => None,
        }
    }

    /// The run's error when the matches of all locations were refused (`--max-matches`)
    /// or none matched.
    pub fn decision_error(&self) -> Option<Error> {
        match self.state.lock().unwrap().decision.as_ref()? {
            Err(e) => Some(e.clone()),
            Ok(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const FLAVOR: Flavor = Flavor {
        noun: "test server",
        tags: Tags::KeyValue,
        running: &["RUNNING"],
        pending: &["PENDING"],
        stopped: &["STOPPED", "SHUTDOWN"],
        done: &["STOPPED", "SHUTDOWN"],
        under_way: &["STOPPING"],
        other: &["REBOOTING"],
    };

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    fn sel(tags: &[&str], names: &[&str], states: &[&str]) -> Selectors {
        Selectors::parse(&s(tags), &s(names), &s(states), None)
            .unwrap()
            .unwrap()
    }

    fn item(name: Option<&str>, state: &str, tags: &[(&str, Option<&str>)]) -> Listed {
        Listed {
            id: "x".into(),
            name: name.map(String::from),
            state: state.into(),
            stopping: false,
            tags: tags
                .iter()
                .map(|(k, v)| (k.to_string(), v.map(String::from)))
                .collect(),
            location: "r".into(),
            group: None,
        }
    }

    #[test]
    fn tags_and_names_and_states() {
        let r = item(
            Some("ci-42"),
            "RUNNING",
            &[("env", Some("dev")), ("owner", Some("bob"))],
        );
        assert!(matches(&sel(&["env=dev"], &[], &[]), &FLAVOR, &r));
        assert!(matches(&sel(&["env=dev", "owner"], &[], &[]), &FLAVOR, &r));
        assert!(!matches(&sel(&["env=dev", "team"], &[], &[]), &FLAVOR, &r));
        assert!(
            !matches(&sel(&["env=de"], &[], &[]), &FLAVOR, &r),
            "no contains"
        );
        assert!(!matches(&sel(&["env=Dev"], &[], &[]), &FLAVOR, &r), "case");
        assert!(matches(&sel(&[], &["web-*", "ci-*"], &[]), &FLAVOR, &r));
        assert!(!matches(&sel(&[], &["ci-"], &[]), &FLAVOR, &r), "anchored");
        assert!(!matches(&sel(&[], &["CI-*"], &[]), &FLAVOR, &r));
        assert!(matches(
            &sel(&[], &["ci-?[0-9]"], &["running"]),
            &FLAVOR,
            &r
        ));
        assert!(!matches(&sel(&[], &["ci-*"], &["stopped"]), &FLAVOR, &r));
        assert!(matches(
            &sel(&[], &["ci-*"], &["stopped", "RUNNING"]),
            &FLAVOR,
            &r
        ));
        let unnamed = item(None, "RUNNING", &[]);
        assert!(!matches(&sel(&[], &["*"], &[]), &FLAVOR, &unnamed));
        let empty = item(Some(""), "RUNNING", &[]);
        assert!(!matches(&sel(&[], &["*"], &[]), &FLAVOR, &empty));
    }

    #[test]
    fn parse_rules() {
        assert!(Selectors::parse(&[], &[], &s(&["running"]), None).is_err());
        assert!(Selectors::parse(&[], &[], &[], None).unwrap().is_none());
        assert!(Selectors::parse(&[], &[], &[], Some(3)).is_err());
        assert!(Selectors::parse(&s(&["=v"]), &[], &[], None).is_err());
        assert!(Selectors::parse(&[], &s(&["a[b"]), &[], None).is_err());
        let t = TagSel::parse("k=v=w").unwrap();
        assert_eq!((t.key.as_str(), t.value.as_deref()), ("k", Some("v=w")));
        assert_eq!(sel(&[], &["ci-1"], &[]).literal_name(), Some("ci-1"));
        assert_eq!(sel(&[], &["ci-*"], &[]).literal_name(), None);
        assert_eq!(sel(&[], &["a", "b"], &[]).literal_name(), None);
        let summary = sel(&["env=dev", "owner"], &["ci-*"], &[]).summary(s(&["a"]));
        assert_eq!(summary.tags["owner"], None);
        assert_eq!(summary.tags["env"].as_deref(), Some("dev"));
        assert_eq!(summary.max_matches, 20);
    }

    #[test]
    fn paging_stops_at_short_pages_and_totals() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let page = |n: usize, total: Option<usize>| Page {
            items: (0..n).map(|_| item(None, "RUNNING", &[])).collect(),
            total,
        };
        let calls = std::cell::Cell::new(0);
        let got = rt
            .block_on(pages(2, |i| {
                calls.set(calls.get() + 1);
                let p = if i < 2 { page(2, None) } else { page(1, None) };
                async move { Ok(p) }
            }))
            .unwrap();
        assert_eq!((got.len(), calls.get()), (5, 3));
        calls.set(0);
        let got = rt
            .block_on(pages(2, |_| {
                calls.set(calls.get() + 1);
                let p = page(2, Some(4));
                async move { Ok(p) }
            }))
            .unwrap();
        assert_eq!((got.len(), calls.get()), (4, 2));
    }

    proptest! {
        /// A name without glob syntax matches exactly itself.
        #[test]
        fn literal_globs_match_only_themselves(a in "[a-zA-Z0-9._-]{1,12}", b in "[a-zA-Z0-9._-]{0,12}") {
            let sel = sel(&[], &[a.as_str()], &[]);
            prop_assert_eq!(sel.name_matches(Some(&b)), a == b);
        }

        /// `prefix*` is "starts with", anchored at both ends otherwise.
        #[test]
        fn star_is_prefix(prefix in "[a-z0-9-]{1,8}", name in "[a-z0-9-]{0,16}") {
            let sel = sel(&[], &[format!("{prefix}*").as_str()], &[]);
            prop_assert_eq!(sel.name_matches(Some(&name)), name.starts_with(&prefix));
            let q = sel_q(&prefix);
            prop_assert_eq!(q.name_matches(Some(&name)), name.len() == prefix.len() + 1 && name.starts_with(&prefix));
        }

        /// Several `--tag` are AND: adding one never adds matches; `--tag K=V` implies `--tag K`.
        #[test]
        fn tags_are_and(tags in proptest::collection::vec(("[a-c]", proptest::option::of("[x-z]")), 0..4),
                        want in proptest::collection::vec(("[a-c]", proptest::option::of("[x-z]")), 1..4)) {
            let r = Listed { tags: tags.iter().map(|(k, v)| (k.clone(), v.clone())).collect(), ..item(Some("n"), "RUNNING", &[]) };
            let args: Vec<String> = want.iter().map(|(k, v)| match v { Some(v) => format!("{k}={v}"), None => k.clone() }).collect();
            let all = Selectors::parse(&args, &[], &[], None).unwrap().unwrap();
            let first = Selectors::parse(&args[..1], &[], &[], None).unwrap().unwrap();
            if matches(&all, &FLAVOR, &r) {
                prop_assert!(matches(&first, &FLAVOR, &r));
            }
            let expected = want.iter().all(|(k, v)| r.tags.iter().any(|(rk, rv)| rk == k && (v.is_none() || rv.as_deref().unwrap_or("") == v.as_deref().unwrap())));
            prop_assert_eq!(matches(&all, &FLAVOR, &r), expected);
        }

        /// Several `--name` are OR.
        #[test]
        fn names_are_or(a in "[a-z]{1,4}\\*?", b in "[a-z]{1,4}\\*?", name in "[a-z]{1,6}") {
            let both = sel(&[], &[a.as_str(), b.as_str()], &[]);
            let one = sel(&[], &[a.as_str()], &[]);
            let other = sel(&[], &[b.as_str()], &[]);
            prop_assert_eq!(both.name_matches(Some(&name)), one.name_matches(Some(&name)) || other.name_matches(Some(&name)));
        }
    }

    fn sel_q(prefix: &str) -> Selectors {
        sel(&[], &[format!("{prefix}?").as_str()], &[])
    }
}
