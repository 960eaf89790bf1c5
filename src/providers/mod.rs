//! The provider interface and dispatch, and the run context every provider shares:
//! the validated plan, the transport, the clock, the config file and the report of
//! results as they arrive (so an interrupted run can still print what it knows).
//!
//! Each provider module exposes the same three items:
//! - `OPERATIONS`: what it offers;
//! - `validate(&Plan)`: id formats and provider-specific flags, no I/O;
//! - `run(&Ctx)`: settings and credentials, then the calls; results go into
//!   `ctx.report`, and an `Err` is the failure of the command as a whole.
//!
//! A destructive operation (`cluster delete`) asks before its first request:
//! [`Ctx::confirm_destruction`], called by the engine (and by any provider code that
//! sends a delete outside it) once its settings and credentials are resolved.

pub mod engine;
pub mod huawei;
pub mod qingcloud;
pub mod select;
pub mod tencent;

use crate::config::{ConfigFile, Env};
use crate::envelope::{
    CredentialsUsed, ErrorInfo, LocationFailed, RequestRecord, ResultItem, Selection, Status,
};
use crate::error::{Error, ErrorKind};
use crate::plan::{Operation, Plan, ProviderName};
use crate::transport::{HttpRequest, Transport};
use chrono::{DateTime, Utc};
use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use tokio::time::Instant;

/// Provider names that may appear as sections of a profile.
pub const PROFILE_SECTIONS: [&str; 3] = ["tencent", "huawei", "qingcloud"];

/// What each provider offers.
pub fn operations(p: ProviderName) -> &'static [Operation] {
    match p {
        ProviderName::Tencent => tencent::OPERATIONS,
        ProviderName::Huawei => huawei::OPERATIONS,
        ProviderName::Qingcloud => qingcloud::OPERATIONS,
    }
}

/// Checks that the provider offers the operation, then the provider's own checks.
pub fn validate(plan: &Plan) -> Result<(), Error> {
    let ops = operations(plan.provider);
    if !ops.contains(&plan.operation) {
        let offered: Vec<&str> = ops.iter().map(|o| o.verb()).collect();
        let who: Vec<String> = ProviderName::ALL
            .iter()
            .filter(|p| operations(**p).contains(&plan.operation))
            .map(|p| p.as_str().to_string())
            .collect();
        return Err(Error::usage(format!(
            "{} does not support {}; {} supports: {}; {} is supported by: {}",
            plan.provider.as_str(),
            plan.operation.verb(),
            plan.provider.as_str(),
            if offered.is_empty() {
                "nothing yet".to_string()
            } else {
                offered.join(", ")
            },
            plan.operation.verb(),
            if who.is_empty() {
                "no provider yet".to_string()
            } else {
                who.join(", ")
            },
        )));
    }
    select::validate(plan, flavor(plan))?;
    match plan.provider {
        ProviderName::Tencent => tencent::validate(plan),
        ProviderName::Huawei => huawei::validate(plan),
        ProviderName::Qingcloud => qingcloud::validate(plan),
    }
}

/// Runs the plan's operation on its provider (on every location, when several were
/// asked for).
pub async fn run(ctx: &Ctx) -> Result<(), Error> {
    if let Some(locations) = &ctx.plan.locations {
        return several(ctx, locations).await;
    }
    run_one(ctx).await
}

async fn run_one(ctx: &Ctx) -> Result<(), Error> {
    match ctx.plan.provider {
        ProviderName::Tencent => tencent::run(ctx).await,
        ProviderName::Huawei => huawei::run(ctx).await,
        ProviderName::Qingcloud => qingcloud::run(ctx).await,
    }
}

/// The selection's flavor of the plan's provider and operation.
fn flavor(plan: &Plan) -> Option<&'static select::Flavor> {
    match plan.provider {
        ProviderName::Tencent => tencent::flavor(plan.operation),
        ProviderName::Huawei => huawei::flavor(plan.operation),
        ProviderName::Qingcloud => qingcloud::flavor(plan.operation),
    }
}

/// A run over several locations (SPEC "Several regions or zones at once"): each one is
/// listed and stopped concurrently, with its own context; the listings meet in a
/// [`select::Gather`] so that `--max-matches` counts across all of them and nothing is
/// sent before every location is listed. A location that fails as a whole is recorded
/// in the report (`locations_failed`) without hiding the others.
async fn several(ctx: &Ctx, locations: &crate::plan::Locations) -> Result<(), Error> {
    let list = match locations {
        crate::plan::Locations::List(l) => l.clone(),
        crate::plan::Locations::All => match ctx.plan.provider {
            ProviderName::Tencent => tencent::all_regions(ctx).await?,
            ProviderName::Huawei => huawei::all_regions(ctx).await?,
            ProviderName::Qingcloud => qingcloud::all_zones(ctx).await?,
        },
    };
    if list.is_empty() {
        return Err(Error::new(
            ErrorKind::Provider,
            "the provider lists no location for this service",
        ));
    }
    let (Some(sel), Some(flavor)) = (&ctx.plan.selectors, flavor(&ctx.plan)) else {
        return Err(Error::internal("several locations without selectors"));
    };
    let key = if ctx.plan.provider == ProviderName::Qingcloud {
        "zone"
    } else {
        "region"
    };
    ctx.report.set_locations(key, list.clone());
    let gather = Arc::new(select::Gather::new(
        list.len(),
        flavor,
        sel.clone(),
        ctx.plan.ignore_missing,
        ctx.report.clone(),
    ));
    let subs: Vec<Ctx> = list
        .iter()
        .map(|l| ctx.for_location(l, gather.clone()))
        .collect();
    futures_util::future::join_all(subs.iter().map(|sub| async move {
        let outcome = run_one(sub).await;
        let (place, gather) = sub.place().expect("a location's context");
        // A location that failed before listing still counts as arrived.
        gather.arrive(place, None);
        ctx.report.location_done();
        if let Err(e) = outcome {
            // Under `all`, a region where the account has nothing to act in is not a
            // failure (SPEC); a region named explicitly always counts.
            let all = matches!(locations, crate::plan::Locations::All);
            if all && ctx.plan.provider == ProviderName::Huawei && huawei::no_project(&e) {
                tracing::info!("{key} {place} skipped: {}", e.message);
                return;
            }
            tracing::warn!("{key} {place} failed: {}", e.message);
            ctx.report.location_failed(place, &e);
        }
    }))
    .await;
    match gather.decision_error() {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// Whether the plan destroys data and so needs a `y` at the prompt or `--yes`
/// (`--dry-run` never prompts; SPEC "cluster delete destroys data").
pub fn needs_confirmation(plan: &Plan) -> bool {
    plan.operation == Operation::ClusterDelete && !plan.yes && !plan.dry_run
}

/// The refusal when confirmation is needed and nobody can be asked.
pub fn confirmation_refused() -> Error {
    Error::usage(
        "cluster delete destroys data: pass --yes to confirm when stdin is not a terminal (nothing was sent)",
    )
}

/// Runs a blocking read (stdin) on a thread of its own and awaits its result, so the
/// runtime stays free to notice Ctrl-C or SIGTERM meanwhile. The thread is detached:
/// an interrupted run exits without waiting for a read that may never return (a
/// runtime's blocking pool would be joined when the runtime is dropped).
pub async fn off_runtime<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, Error> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name("cloudstop-stdin".into())
        .spawn(move || {
            let _ = tx.send(f());
        })
        .map_err(|e| Error::internal(format!("cannot start a thread: {e}")))?;
    rx.await
        .map_err(|_| Error::internal("the reading thread ended without an answer"))
}

/// `ids` in calls of at most `per_call`, in input order.
pub fn chunks(ids: &[String], per_call: usize) -> Vec<Vec<String>> {
    ids.chunks(per_call.max(1))
        .map(<[String]>::to_vec)
        .collect()
}

/// The time signers use. `CLOUDSTOP_TEST_FIXED_TIME` (unix seconds) pins it, so tests
/// can compare signatures with the vectors.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    fixed: Option<DateTime<Utc>>,
}

impl Clock {
    pub fn from_env(env: &Env) -> Clock {
        let fixed = env
            .get("CLOUDSTOP_TEST_FIXED_TIME")
            .and_then(|s| s.parse::<i64>().ok())
            .and_then(|secs| DateTime::from_timestamp(secs, 0));
        Clock { fixed }
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.fixed.unwrap_or_else(Utc::now)
    }
}

/// Results in input order, filled as they arrive.
pub struct Report {
    /// The requested ids, in input order, and where each one's result goes. Known at
    /// the start for ids; set once by [`Report::adopt`] when selectors found them.
    order: RwLock<Order>,
    slots: Mutex<Vec<Option<ResultItem>>>,
    location: Mutex<BTreeMap<String, String>>,
    shown: Mutex<Vec<RequestRecord>>,
    /// Selected resources: id → (name, state before), added to their results.
    details: Mutex<HashMap<String, (Option<String>, String)>>,
    selection: Mutex<Option<Selection>>,
    /// Several locations: `region`/`zone`, those tried, those failed, and where each
    /// selected id is.
    places: Mutex<Option<Places>>,
}

#[derive(Debug, Clone, Default)]
struct Places {
    key: &'static str,
    tried: Vec<String>,
    failed: Vec<LocationFailed>,
    of: HashMap<String, String>,
    /// How many locations have finished (done, skipped or failed): the progress bar.
    done: usize,
}

#[derive(Default)]
struct Order {
    /// `slots[i]` is the result of `ids[i]`.
    ids: Vec<String>,
    index: HashMap<String, usize>,
}

impl Order {
    fn new(ids: &[String]) -> Order {
        Order {
            ids: ids.to_vec(),
            index: ids
                .iter()
                .enumerate()
                .map(|(i, id)| (id.clone(), i))
                .collect(),
        }
    }
}

impl Report {
    pub fn new(ids: &[String]) -> Report {
        Report {
            order: RwLock::new(Order::new(ids)),
            slots: Mutex::new(vec![None; ids.len()]),
            location: Mutex::new(BTreeMap::new()),
            shown: Mutex::new(Vec::new()),
            details: Mutex::new(HashMap::new()),
            selection: Mutex::new(None),
            places: Mutex::new(None),
        }
    }

    /// A run over several locations: `key` is `region` or `zone`.
    pub fn set_locations(&self, key: &'static str, tried: Vec<String>) {
        *self.places.lock().unwrap() = Some(Places {
            key,
            tried,
            ..Places::default()
        });
    }

    /// One location of several has finished, whatever its outcome.
    pub fn location_done(&self) {
        if let Some(p) = self.places.lock().unwrap().as_mut() {
            p.done += 1;
        }
    }

    /// Several locations: (`regions`/`zones`, how many finished, how many in all).
    pub fn locations_progress(&self) -> Option<(String, usize, usize)> {
        let p = self.places.lock().unwrap();
        let p = p.as_ref()?;
        Some((format!("{}s", p.key), p.done, p.tried.len()))
    }

    /// Where each selected id is (several locations).
    pub fn set_places(&self, of: impl IntoIterator<Item = (String, String)>) {
        if let Some(p) = self.places.lock().unwrap().as_mut() {
            p.of.extend(of);
        }
    }

    /// A location that failed as a whole.
    pub fn location_failed(&self, location: &str, e: &Error) {
        if let Some(p) = self.places.lock().unwrap().as_mut() {
            if p.failed
                .iter()
                .any(|f| f.location.values().any(|v| v == location))
            {
                return;
            }
            p.failed.push(LocationFailed {
                location: BTreeMap::from([(p.key.to_string(), location.to_string())]),
                error: e.into(),
            });
        }
    }

    /// Several locations: (`regions`/`zones`, those tried, those failed in order).
    pub fn locations(&self) -> Option<(String, Vec<String>, Vec<LocationFailed>)> {
        let p = self.places.lock().unwrap().clone()?;
        let mut failed = p.failed;
        failed.sort_by_key(|f| {
            p.tried
                .iter()
                .position(|t| f.location.values().any(|v| v == t))
        });
        Some((format!("{}s", p.key), p.tried, failed))
    }

    /// Takes the ids the selectors matched, in their order, with each one's name and
    /// state before the run (added to its result).
    pub fn adopt(
        &self,
        ids: &[String],
        details: impl IntoIterator<Item = (String, (Option<String>, String))>,
    ) {
        let mut order = self.order.write().unwrap();
        *order = Order::new(ids);
        *self.slots.lock().unwrap() = vec![None; ids.len()];
        self.details.lock().unwrap().extend(details);
    }

    /// The envelope's `selection` (a run with selectors).
    pub fn set_selection(&self, s: Selection) {
        *self.selection.lock().unwrap() = Some(s);
    }

    pub fn selection(&self) -> Option<Selection> {
        self.selection.lock().unwrap().clone()
    }

    /// How many results the run will have.
    pub fn len(&self) -> usize {
        self.order.read().unwrap().ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Records (or replaces) the result for its id.
    pub fn set(&self, item: ResultItem) {
        if let Some(&i) = self.order.read().unwrap().index.get(&item.id) {
            self.slots.lock().unwrap()[i] = Some(item);
        } else {
            debug_assert!(
                false,
                "result for an id that was not requested: {}",
                item.id
            );
        }
    }

    /// Records every id of `ids` as failed with `e` (`not_found` when `e` says the
    /// resource is missing).
    pub fn fail_all(&self, ids: &[String], e: &Error) {
        for id in ids {
            self.set(ResultItem::failed(id.clone(), e));
        }
    }

    /// Turns the recorded result of `id` into `status` with error `e` (a status poll's
    /// verdict), keeping its request and job ids.
    pub fn mark(&self, id: &str, status: Status, e: &Error) {
        self.update(id, |r| {
            r.status = status;
            r.error = Some(e.into());
        });
    }

    /// Gives `e` to every result still on its way (accepted, stopping, deleting, with no
    /// error yet): a `--wait` that ended before their final state must not count them
    /// as confirmed.
    pub fn unconfirmed(&self, e: &Error) {
        for item in self.slots.lock().unwrap().iter_mut().flatten() {
            if item.error.is_none()
                && matches!(
                    item.status,
                    Status::Accepted | Status::Stopping | Status::Deleting
                )
            {
                item.error = Some(e.into());
            }
        }
    }

    /// Sorts requested ids into input order (ids not requested go last).
    pub fn sort_in_input_order(&self, ids: &mut [String]) {
        let order = self.order.read().unwrap();
        ids.sort_by_key(|id| order.index.get(id).copied().unwrap_or(usize::MAX));
    }

    pub fn get(&self, id: &str) -> Option<ResultItem> {
        let i = *self.order.read().unwrap().index.get(id)?;
        self.slots.lock().unwrap()[i].clone()
    }

    /// Changes the recorded result of `id`, if there is one.
    pub fn update(&self, id: &str, f: impl FnOnce(&mut ResultItem)) {
        let i = self.order.read().unwrap().index.get(id).copied();
        if let Some(i) = i {
            if let Some(item) = self.slots.lock().unwrap()[i].as_mut() {
                f(item);
            }
        }
    }

    pub fn set_location(&self, key: &str, value: &str) {
        self.location
            .lock()
            .unwrap()
            .insert(key.to_string(), value.to_string());
    }

    pub fn location(&self) -> BTreeMap<String, String> {
        self.location.lock().unwrap().clone()
    }

    /// Shows a request in the envelope without sending it (`--dry-run`).
    pub fn show(&self, req: &HttpRequest, credentials: CredentialsUsed) {
        self.shown.lock().unwrap().push(req.record(credentials));
    }

    pub fn shown(&self) -> Vec<RequestRecord> {
        self.shown.lock().unwrap().clone()
    }

    /// The results so far; an id with none yet gets `unfinished` (for a run that
    /// stopped early: interrupted, or failed as a whole).
    pub fn results(&self, unfinished: Option<&Error>) -> Vec<ResultItem> {
        let order = self.order.read().unwrap();
        let slots = self.slots.lock().unwrap();
        let details = self.details.lock().unwrap();
        let places = self.places.lock().unwrap();
        order
            .ids
            .iter()
            .zip(slots.iter())
            .filter_map(|(id, slot)| match (slot, unfinished) {
                (Some(item), _) => Some(item.clone()),
                (None, Some(e)) => Some(ResultItem::failed(id.clone(), e)),
                (None, None) => None,
            })
            .map(|mut item| {
                if let Some((name, state)) = details.get(&item.id) {
                    item.name = name.clone();
                    item.state_before = Some(state.clone());
                }
                if let Some(p) = places.as_ref() {
                    if let Some(place) = p.of.get(&item.id) {
                        item.location = Some(BTreeMap::from([(p.key.to_string(), place.clone())]));
                    }
                }
                item
            })
            .collect()
    }

    /// How many results are recorded, and how many of those satisfy `settled`,
    /// without copying any (progress display).
    pub fn tally(&self, settled: impl Fn(&ResultItem) -> bool) -> (usize, usize) {
        let slots = self.slots.lock().unwrap();
        let (mut recorded, mut done) = (0, 0);
        for r in slots.iter().flatten() {
            recorded += 1;
            done += usize::from(settled(r));
        }
        (recorded, done)
    }
}

/// The run context.
pub struct Ctx {
    pub plan: Plan,
    pub env: Env,
    pub clock: Clock,
    /// Shared by every location of a run over several (pacing is per host and action).
    pub transport: Arc<Transport>,
    /// Shared by every location of a run over several.
    pub report: Arc<Report>,
    config: OnceLock<Result<ConfigFile, Error>>,
    /// Set when credentials are rejected: nothing more is sent with them.
    abort: OnceLock<Error>,
    /// What `--tag`/`--name` left to stop (see [`Ctx::ids`]).
    selected: OnceLock<select::Selected>,
    /// In a run over several locations: this one, and where every location's listing
    /// meets before anything is decided.
    place: Option<(String, Arc<select::Gather>)>,
    /// Whether stdin is a terminal a person can answer the prompt on.
    interactive: bool,
    /// The prompt's answer: asked at most once per run, whoever asks first.
    confirmation: tokio::sync::OnceCell<Result<(), Error>>,
    /// False while a confirmation is still to be given: the progress bar stays hidden
    /// so that it does not draw over the prompt.
    cleared_to_send: AtomicBool,
}

impl Ctx {
    pub fn new(plan: Plan, env: Env) -> Ctx {
        let transport = Transport::new(plan.transport.clone(), plan.verbose >= 3);
        let report = Report::new(&plan.ids);
        if let Some(sel) = &plan.selectors {
            report.set_selection(sel.summary(Vec::new()));
        }
        Ctx {
            clock: Clock::from_env(&env),
            cleared_to_send: AtomicBool::new(!needs_confirmation(&plan)),
            plan,
            env,
            transport: Arc::new(transport),
            report: Arc::new(report),
            config: OnceLock::new(),
            abort: OnceLock::new(),
            selected: OnceLock::new(),
            place: None,
            interactive: false,
            confirmation: tokio::sync::OnceCell::new(),
        }
    }

    /// Says that stdin is a terminal where the `cluster delete` prompt can be answered
    /// (without it, a run that needs confirmation is refused).
    pub fn interactive(mut self, stdin_is_terminal: bool) -> Ctx {
        self.interactive = stdin_is_terminal;
        self
    }

    /// Whether nothing (any more) stands between the run and its requests; false while
    /// the `cluster delete` prompt is pending.
    pub fn cleared_to_send(&self) -> bool {
        self.cleared_to_send.load(Ordering::Relaxed)
    }

    /// The confirmation a destructive operation needs before its first request.
    ///
    /// Call it after settings and credentials are resolved (every check that needs no
    /// network is done: location, run user, credentials found) and before anything is
    /// sent; the engine's `run` does, so an API on the engine needs nothing more. It
    /// returns at once when no confirmation is needed (`job stop`, `server stop`,
    /// `--yes`, `--dry-run`). Otherwise it asks once per run, on stderr, naming each
    /// cluster with its provider and the location recorded in the report, and reads the
    /// answer off the runtime, so Ctrl-C or SIGTERM at the prompt still ends the run
    /// with its envelope (exit 130). `y` or `yes` (any case) goes on; anything else,
    /// Enter or end of input is a usage error (exit 2) with nothing sent. Without a
    /// terminal it refuses at once.
    pub async fn confirm_destruction(&self) -> Result<(), Error> {
        if !needs_confirmation(&self.plan) {
            return Ok(());
        }
        self.confirmation.get_or_init(|| self.ask()).await.clone()
    }

    async fn ask(&self) -> Result<(), Error> {
        if !self.interactive {
            return Err(confirmation_refused());
        }
        let location: Vec<String> = self
            .report
            .location()
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect();
        let location = if location.is_empty() {
            String::new()
        } else {
            format!(" in {}", location.join(", "))
        };
        let provider = self.plan.provider.as_str();
        let n = self.plan.ids.len();
        let mut text = format!(
            "cluster delete destroys {} and {} data:\n",
            if n == 1 {
                "this cluster"
            } else {
                "these clusters"
            },
            if n == 1 { "its" } else { "their" },
        );
        for id in &self.plan.ids {
            text.push_str(&format!("  {provider} cluster {id}{location}\n"));
        }
        text.push_str(&format!(
            "Delete {n} cluster{}? [y/N] ",
            if n == 1 { "" } else { "s" }
        ));
        let mut err = std::io::stderr().lock();
        let _ = err.write_all(text.as_bytes());
        let _ = err.flush();
        drop(err);
        let answer = off_runtime(|| {
            let mut line = String::new();
            std::io::stdin().read_line(&mut line).map(|_| line)
        })
        .await?;
        let answer = match answer {
            Ok(a) => a,
            Err(e) => {
                return Err(Error::usage(format!(
                    "cannot read the answer to the prompt ({e}): nothing was sent"
                )))
            }
        };
        if answer.is_empty() {
            // End of input (Ctrl-D) leaves the cursor on the prompt's line.
            let _ = writeln!(std::io::stderr());
        }
        if is_yes(&answer) {
            tracing::info!("cluster delete confirmed at the prompt");
            self.cleared_to_send.store(true, Ordering::Relaxed);
            Ok(())
        } else {
            let said = answer.trim();
            Err(Error::usage(if said.is_empty() {
                "cluster delete not confirmed: nothing was sent (answer y to delete, or pass --yes)"
                    .to_string()
            } else {
                format!(
                    "cluster delete not confirmed (answer {}): nothing was sent (answer y to delete, or pass --yes)",
                    crate::plan::quote(said)
                )
            }))
        }
    }

    /// The context of one location of a run over several: the plan names only that
    /// region or zone; transport and report are shared.
    pub fn for_location(&self, location: &str, gather: Arc<select::Gather>) -> Ctx {
        let mut plan = self.plan.clone();
        plan.locations = None;
        if plan.provider == ProviderName::Qingcloud {
            plan.zone = Some(location.to_string());
        } else {
            plan.region = Some(location.to_string());
        }
        Ctx {
            plan,
            env: self.env.clone(),
            clock: self.clock,
            transport: self.transport.clone(),
            report: self.report.clone(),
            config: OnceLock::new(),
            abort: OnceLock::new(),
            selected: OnceLock::new(),
            place: Some((location.to_string(), gather)),
            interactive: self.interactive,
            confirmation: tokio::sync::OnceCell::new(),
            cleared_to_send: AtomicBool::new(self.cleared_to_send()),
        }
    }

    /// The context of one group of selected ids (QingCloud HPC: the jobs of one
    /// cluster, which one call must not mix): the same plan, location, transport and
    /// report, acting on `ids` only (and following `under_way`, see
    /// [`Ctx::under_way_matches`]).
    pub fn for_group(&self, ids: Vec<String>, under_way: Vec<String>) -> Ctx {
        let groups = ids
            .iter()
            .chain(&under_way)
            .filter_map(|id| Some((id.clone(), self.group_of(id)?.to_string())))
            .collect();
        let selected = OnceLock::new();
        let _ = selected.set(select::Selected {
            ids,
            groups,
            under_way,
        });
        Ctx {
            plan: self.plan.clone(),
            env: self.env.clone(),
            clock: self.clock,
            transport: self.transport.clone(),
            report: self.report.clone(),
            config: OnceLock::new(),
            abort: OnceLock::new(),
            selected,
            place: self.place.clone(),
            interactive: self.interactive,
            confirmation: tokio::sync::OnceCell::new(),
            cleared_to_send: AtomicBool::new(self.cleared_to_send()),
        }
    }

    /// A context for a lookup before a run over several locations (the list of
    /// regions): the plan names `location` as its one region, transport and report
    /// are shared, and it belongs to no location.
    pub fn for_lookup(&self, location: &str) -> Ctx {
        let mut plan = self.plan.clone();
        plan.locations = None;
        plan.region = Some(location.to_string());
        Ctx {
            plan,
            env: self.env.clone(),
            clock: self.clock,
            transport: self.transport.clone(),
            report: self.report.clone(),
            config: OnceLock::new(),
            abort: OnceLock::new(),
            selected: OnceLock::new(),
            place: None,
            interactive: self.interactive,
            confirmation: tokio::sync::OnceCell::new(),
            cleared_to_send: AtomicBool::new(self.cleared_to_send()),
        }
    }

    /// In a run over several locations: this context's location and the meeting point.
    pub fn place(&self) -> Option<(&str, &select::Gather)> {
        self.place.as_ref().map(|(l, g)| (l.as_str(), g.as_ref()))
    }

    /// The ids the stop path acts on: the plan's, or with selectors those the
    /// selection left to stop (empty until it ran).
    pub fn ids(&self) -> &[String] {
        match self.selected.get() {
            Some(s) => &s.ids,
            None => &self.plan.ids,
        }
    }

    /// The selected matches whose stop was already under way (nothing sent for them):
    /// `--wait` follows them too.
    pub fn under_way_matches(&self) -> &[String] {
        match self.selected.get() {
            Some(s) => &s.under_way,
            None => &[],
        }
    }

    /// What a selected id's stop call needs besides the id (QingCloud HPC: its cluster).
    pub fn group_of(&self, id: &str) -> Option<&str> {
        self.selected.get()?.groups.get(id).map(String::as_str)
    }

    /// Set once by [`select::select`].
    pub(crate) fn set_selected(&self, s: select::Selected) {
        let _ = self.selected.set(s);
    }

    /// The error that stopped the run as a whole, if any: later calls are not sent.
    pub fn aborted(&self) -> Option<Error> {
        self.abort.get().cloned()
    }

    /// Rejected credentials fail every call alike, and repeated failures can lock the
    /// key (Huawei locks an AK after 5): stop sending after the first.
    pub fn note_failure(&self, e: &ErrorInfo) {
        if matches!(e.kind, ErrorKind::Auth | ErrorKind::Config) {
            let mut err = Error::new(e.kind, e.message.clone()).retryable(e.retryable);
            err.code = e.code.clone();
            let _ = self.abort.set(err);
        }
    }

    /// The cloudstop config file, loaded once (missing file = empty).
    pub fn config(&self) -> Result<&ConfigFile, Error> {
        self.config
            .get_or_init(|| ConfigFile::load_for(&self.env, &PROFILE_SECTIONS))
            .as_ref()
            .map_err(Clone::clone)
    }

    /// Runs `f` on every item, at most `--concurrency` at a time.
    pub async fn for_each<T, F, Fut>(&self, items: Vec<T>, f: F)
    where
        F: Fn(T) -> Fut,
        Fut: Future<Output = ()>,
    {
        use futures_util::stream::StreamExt;
        let limit = self.plan.transport.concurrency.max(1) as usize;
        futures_util::stream::iter(items.into_iter().map(f))
            .buffer_unordered(limit)
            .collect::<Vec<()>>()
            .await;
    }

    /// When `--wait` gives up.
    pub fn wait_deadline(&self) -> Instant {
        // `--wait-timeout` is bounded when parsed; a deadline past the clock's range
        // would still be "never", not a panic.
        let now = Instant::now();
        now.checked_add(self.plan.wait_timeout)
            .unwrap_or(now + crate::cli::MAX_WAIT_TIMEOUT)
    }

    /// Sleeps `--poll-interval` before the next status poll; false when the deadline
    /// would pass first (then nothing more should be polled).
    pub async fn pause_before_poll(&self, deadline: Instant) -> bool {
        let now = Instant::now();
        if now >= deadline {
            return false;
        }
        let wake = (now + self.plan.poll_interval).min(deadline);
        tokio::time::sleep_until(wake).await;
        wake < deadline || Instant::now() < deadline
    }

    /// Marks the ids still on their way when `--wait` ran out of time (exit 6).
    pub fn wait_timed_out<'a>(&self, ids: impl IntoIterator<Item = &'a String>) {
        let e = Error::new(
            ErrorKind::Timeout,
            format!(
                "--wait-timeout {} ran out before a final state was reached",
                humantime::format_duration(self.plan.wait_timeout)
            ),
        )
        .retryable(true);
        for id in ids {
            self.report.update(id, |item| {
                if matches!(
                    item.status,
                    Status::Accepted | Status::Stopping | Status::Deleting
                ) {
                    item.error = Some((&e).into());
                }
            });
        }
    }
}

/// `y` or `yes`, any case, blanks around ignored.
fn is_yes(answer: &str) -> bool {
    matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::time::Duration;

    #[test]
    fn only_y_and_yes_confirm() {
        for a in ["y\n", "Y\n", "yes\n", "YES\r\n", " Yes \n"] {
            assert!(is_yes(a), "{a:?}");
        }
        for a in ["", "\n", "n\n", "no\n", "yep\n", "y es\n", "ye\n", "oui\n"] {
            assert!(!is_yes(a), "{a:?}");
        }
    }

    fn plan(args: &str) -> Plan {
        use clap::Parser;
        let cli = crate::cli::Cli::try_parse_from(
            std::iter::once("cloudstop").chain(args.split_whitespace()),
        )
        .unwrap();
        Plan::build(cli.command, &Env::default(), &mut std::io::empty()).unwrap()
    }

    #[tokio::test]
    async fn confirmation_is_needed_only_to_delete_for_real() {
        let base = "cluster delete -p qingcloud --cluster-id hpc-aaaaaaaa";
        for (args, needed) in [
            (base.to_string(), true),
            (format!("{base} --yes"), false),
            (format!("{base} --dry-run"), false),
            ("job stop -p tencent --job-id job-aaaaaaaa".into(), false),
        ] {
            let p = plan(&args);
            assert_eq!(needs_confirmation(&p), needed, "{args}");
            // Without a terminal, a needed confirmation is refused; nothing is read.
            let ctx = Ctx::new(p, Env::default());
            assert_eq!(ctx.cleared_to_send(), !needed);
            let got = ctx.confirm_destruction().await;
            if needed {
                let e = got.unwrap_err();
                assert_eq!(e.kind, ErrorKind::Usage);
                assert!(e.message.contains("--yes"), "{}", e.message);
                // Asked once: the same answer again.
                assert_eq!(
                    ctx.confirm_destruction().await.unwrap_err().message,
                    e.message
                );
                assert!(!ctx.cleared_to_send());
            } else {
                got.unwrap();
            }
        }
    }

    #[test]
    fn report_keeps_input_order_and_tallies() {
        let ids: Vec<String> = ["c", "a", "b"].iter().map(|s| s.to_string()).collect();
        let report = Report::new(&ids);
        report.set(ResultItem::new("b", Status::Stopped));
        report.set(ResultItem::new("c", Status::Stopping));
        assert_eq!(report.tally(|r| r.status == Status::Stopped), (2, 1));
        let got: Vec<String> = report.results(None).into_iter().map(|r| r.id).collect();
        assert_eq!(got, ["c", "b"]);
        let e = Error::internal("unfinished");
        let got: Vec<(String, Status)> = report
            .results(Some(&e))
            .into_iter()
            .map(|r| (r.id, r.status))
            .collect();
        assert_eq!(
            got,
            [
                ("c".into(), Status::Stopping),
                ("a".into(), Status::Failed),
                ("b".into(), Status::Stopped)
            ]
        );
        let mut pending: Vec<String> = ["b", "zz", "c"].iter().map(|s| s.to_string()).collect();
        report.sort_in_input_order(&mut pending);
        assert_eq!(pending, ["c", "b", "zz"]);
        // An interrupted --wait: only what is still on its way loses its confirmation.
        report.unconfirmed(&Error::internal("interrupted").retryable(true));
        assert!(report.get("b").unwrap().error.is_none());
        let c = report.get("c").unwrap();
        assert_eq!(c.status, Status::Stopping);
        assert!(c.error.unwrap().retryable);
    }

    proptest! {
        #[test]
        fn chunks_keep_order_and_bound_size(n in 0usize..3000, per_call in 1usize..1200) {
            let ids: Vec<String> = (0..n).map(|i| format!("id-{i}")).collect();
            let got = chunks(&ids, per_call);
            prop_assert!(got.iter().all(|c| !c.is_empty() && c.len() <= per_call));
            prop_assert_eq!(got.len(), n.div_ceil(per_call));
            prop_assert_eq!(got.concat(), ids);
        }
    }
    #[test]
    fn the_report_keeps_locations_selection_and_details() {
        let ids = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let r = Report::new(&ids(&["a", "b"]));
        assert_eq!((r.len(), r.is_empty()), (2, false));
        assert!(Report::new(&[]).is_empty());
        assert_eq!(r.locations(), None);
        // Several locations: failures in the order tried, one per location.
        r.set_locations("region", ids(&["r1", "r2", "r3"]));
        let down = Error::new(ErrorKind::Provider, "r3 is down");
        let auth = Error::new(ErrorKind::Auth, "r1 refused the key");
        r.location_failed("r3", &down);
        r.location_failed("r1", &auth);
        r.location_failed("r3", &auth);
        let (key, tried, failed) = r.locations().unwrap();
        assert_eq!((key.as_str(), tried), ("regions", ids(&["r1", "r2", "r3"])));
        let failed: Vec<_> = failed
            .iter()
            .map(|f| (f.location["region"].as_str(), f.error.message.as_str()))
            .collect();
        assert_eq!(failed, [("r1", "r1 refused the key"), ("r3", "r3 is down")]);
        // The selected ids replace the requested ones, with their names, states, places.
        r.adopt(
            &ids(&["x", "y", "z"]),
            [(
                "y".to_string(),
                (Some("web".to_string()), "running".to_string()),
            )],
        );
        assert_eq!(r.len(), 3);
        r.set_places([("x".to_string(), "r2".to_string())]);
        let cut = Error::new(ErrorKind::Internal, "interrupted");
        let results = r.results(Some(&cut));
        assert_eq!(results.len(), 3);
        assert_eq!(results[0].id, "x");
        assert_eq!(
            results[0].location,
            Some(BTreeMap::from([("region".to_string(), "r2".to_string())]))
        );
        assert_eq!(
            (
                results[1].name.as_deref(),
                results[1].state_before.as_deref()
            ),
            (Some("web"), Some("running"))
        );
        assert_eq!(
            (results[2].name.as_deref(), results[2].location.as_ref()),
            (None, None)
        );
        assert!(r.results(None).is_empty());
        // The selection and the single location travel to the envelope as given.
        assert_eq!(r.selection(), None);
        let sel = Selection {
            tags: BTreeMap::from([("env".to_string(), Some("ci".to_string()))]),
            names: vec![],
            states: vec![],
            matched: 3,
            matched_ids: ids(&["x", "y", "z"]),
            max_matches: 100,
        };
        r.set_selection(sel.clone());
        assert_eq!(r.selection(), Some(sel));
        assert!(r.location().is_empty());
        r.set_location("zone", "pek3");
        assert_eq!(
            r.location(),
            BTreeMap::from([("zone".to_string(), "pek3".to_string())])
        );
    }

    #[tokio::test]
    async fn a_location_context_names_only_its_location() {
        for (args, region, zone) in [
            (
                "server stop -p qingcloud --tag env --zone pek3,sh1a",
                None,
                Some("sh1a"),
            ),
            (
                "server stop -p tencent --tag env=ci --region ap-a,ap-b",
                Some("ap-b"),
                None,
            ),
        ] {
            let p = plan(args);
            let fl = flavor(&p).expect("server stop has a selection flavor");
            let ctx = Ctx::new(p, Env::default());
            assert!(ctx.place().is_none());
            let sel = ctx.plan.selectors.clone().unwrap();
            let gather = Arc::new(select::Gather::new(2, fl, sel, false, ctx.report.clone()));
            let here = region.or(zone).unwrap();
            let loc = ctx.for_location(here, gather);
            assert_eq!(
                (loc.plan.region.as_deref(), loc.plan.zone.as_deref()),
                (region, zone),
                "{args}"
            );
            assert_eq!(loc.plan.locations, None);
            assert_eq!(loc.place().map(|(l, _)| l), Some(here));
        }
    }

    #[tokio::test]
    async fn selected_groups_and_matches_under_way_are_kept() {
        let ctx = Ctx::new(plan("job stop -p qingcloud --tag env"), Env::default());
        assert!(ctx.under_way_matches().is_empty() && ctx.group_of("j1").is_none());
        ctx.set_selected(select::Selected {
            ids: vec!["j1".into()],
            groups: HashMap::from([
                ("j1".to_string(), "hpc-1".to_string()),
                ("j2".to_string(), "hpc-2".to_string()),
            ]),
            under_way: vec!["j2".into()],
        });
        assert_eq!(ctx.ids(), ["j1".to_string()]);
        assert_eq!(ctx.under_way_matches(), ["j2".to_string()]);
        assert_eq!(ctx.group_of("j2"), Some("hpc-2"));
        assert_eq!(ctx.group_of("j3"), None);
    }

    #[tokio::test]
    async fn rejected_credentials_stop_the_run_other_failures_do_not() {
        let ctx = Ctx::new(
            plan("job stop -p tencent --job-id job-aaaaaaaa"),
            Env::default(),
        );
        ctx.note_failure(&(&Error::new(ErrorKind::Provider, "busy").retryable(true)).into());
        ctx.note_failure(&(&Error::new(ErrorKind::NotFound, "gone")).into());
        assert!(ctx.aborted().is_none());
        let mut auth = Error::new(ErrorKind::Auth, "bad key");
        auth.code = Some("AuthFailure.SecretIdNotFound".into());
        ctx.note_failure(&(&auth).into());
        let e = ctx.aborted().unwrap();
        assert_eq!(
            (e.kind, e.code.as_deref()),
            (ErrorKind::Auth, Some("AuthFailure.SecretIdNotFound"))
        );
    }

    #[tokio::test]
    async fn the_config_file_comes_from_the_environment() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(&path, "[profiles.ci.tencent]\nregion = 'ap-guangzhou'\n").unwrap();
        let env = Env::from_pairs(&[("CLOUDSTOP_CONFIG", path.to_str().unwrap())]);
        let ctx = Ctx::new(plan("job stop -p tencent --job-id job-aaaaaaaa"), env);
        assert_eq!(
            ctx.config().unwrap().profiles_with("tencent"),
            ["ci".to_string()]
        );
    }

    #[tokio::test]
    async fn polls_pause_until_the_interval_or_the_deadline() {
        let ctx = Ctx::new(
            plan("job stop -p tencent --job-id job-aaaaaaaa --wait --wait-timeout 90s --poll-interval 50ms"),
            Env::default(),
        );
        let left = ctx.wait_deadline() - Instant::now();
        assert!(
            left > Duration::from_secs(89) && left <= Duration::from_secs(90),
            "{left:?}"
        );
        let now = Instant::now();
        assert!(!ctx.pause_before_poll(now).await, "the deadline has passed");
        let start = Instant::now();
        assert!(ctx.pause_before_poll(start + Duration::from_secs(30)).await);
        let slept = start.elapsed();
        assert!(
            slept >= Duration::from_millis(50) && slept < Duration::from_secs(30),
            "{slept:?}"
        );
        let start = Instant::now();
        assert!(
            !ctx.pause_before_poll(start + Duration::from_millis(20))
                .await,
            "the deadline comes first"
        );
        assert!(start.elapsed() >= Duration::from_millis(20));
    }
}

/// Every provider's answer parser, fed arbitrary bytes and statuses, returns an error
/// instead of panicking.
#[cfg(test)]
mod parser_props {
    use crate::transport::RawResponse;
    use proptest::prelude::*;

    #[derive(serde::Deserialize)]
    struct Anything {}

    fn raw(status: u16, body: Vec<u8>, retry_after: Option<String>) -> RawResponse {
        let mut headers = reqwest::header::HeaderMap::new();
        if let Some(v) = retry_after.and_then(|v| reqwest::header::HeaderValue::from_str(&v).ok()) {
            headers.insert("retry-after", v);
        }
        headers.insert(
            "x-request-id",
            reqwest::header::HeaderValue::from_static("r"),
        );
        RawResponse {
            status,
            headers,
            body,
            url: "https://h/p".into(),
        }
    }

    fn bodies() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..300),
            r#"\{"(ret_code|error_code|error|job_id|Response)":(-?[0-9]{1,6}|"[^"]{0,10}"|\{\}|null|\[\])(,"(message|error_msg|job_uuid)":"[a-z]{0,5}")?\}"#
                .prop_map(String::into_bytes),
        ]
    }

    proptest! {
        #[test]
        fn parsers_never_panic(status in 100u16..600, body in bodies(), retry_after in proptest::option::of("\\PC{0,12}")) {
            let r = raw(status, body, retry_after);
            let _ = super::huawei::parse::<Anything>(&r);
            let _ = super::qingcloud::parse(&r);
            let _ = r.retry_after();
            let _ = r.http_error();
            let _ = r.snippet();
        }
    }
}

#[cfg(test)]
mod id_props;
