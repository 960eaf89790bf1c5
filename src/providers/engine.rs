//! The operation engine: what every stop or delete does the same way, written once.
//!
//! An API file implements [`Api`] with its wire facts only — how to submit the stop
//! or delete for some ids, how to read their state, what a dry-run shows — and the
//! engine owns the rules every provider must keep alike:
//! - `--dry-run`: the same request builders, shown and not sent;
//! - the confirmation a destructive operation needs ([`Ctx::confirm_destruction`]),
//!   after the provider resolved its settings and before the first request;
//! - reading first, where an API cannot tell a finished resource from a stopped one
//!   (a resource already gone, finished or being stopped gets nothing sent);
//! - chunking and `--concurrency`;
//! - settling a refused or possibly-applied call per resource: the ids are read, and
//!   each gets its own verdict (`Gone` → `not_found`, `Stopped` → `already_stopped`,
//!   `Stopping` → `stopping`/`deleting`), and exactly the ones still running are sent
//!   once more — one bad id never keeps the others running;
//! - refusing the whole command before anything is sent when a read finds a resource
//!   cloudstop will not act on as asked ([`Phase::Unsupported`]);
//! - `--wait`: reading (never re-sending) until every resource is final or the
//!   deadline passes.
//!
//! Verbs: for `cluster delete` the statuses are `deleting`/`deleted`, else
//! `stopping`/`stopped`.

use crate::envelope::{CredentialsUsed, ResultItem, Status};
use crate::error::{Error, ErrorKind};
use crate::plan::Operation;
use crate::providers::{chunks, Ctx};
use crate::transport::HttpRequest;
use std::collections::HashMap;
use std::future::Future;
use std::sync::Mutex;

/// What a read says of one resource, in SPEC's terms.
#[derive(Debug, Clone, PartialEq)]
pub enum Phase {
    /// The stop or delete is still needed (while waiting: it has not taken effect yet).
    Running,
    /// The stop or delete is under way: nothing is sent, `--wait` follows it.
    Stopping,
    /// The goal state of a stop holds (stopped, finished, terminated).
    Stopped,
    /// The resource does not exist (the goal state of a delete).
    Gone,
    /// The stop or delete can never succeed from here (deletion protection, a
    /// failed deletion, a state that refuses it): `failed` with this error, nothing sent.
    Failed(Error),
    /// cloudstop does not act on this resource as asked (a kind it does not delete, a
    /// flag the found kind cannot honour). Found by the reads before anything is sent,
    /// it stops the whole command: nothing is sent for any id, and the command fails
    /// with this error (a usage error: exit 2).
    Unsupported(Error),
}

/// Why the engine reads: an API whose answer means different things before and after
/// the stop or delete (a CCE cluster in `Error` may be deleted, but a deletion that
/// ends in `Error` failed) tells them apart in [`Api::read_for`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadPurpose {
    /// Before anything is sent ([`Api::read_first`]).
    First,
    /// Settling a refused or possibly-applied submit.
    Settle,
    /// `--wait`: following a stop or delete under way.
    Wait,
}

/// What an accepted call returned.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Accepted {
    /// The provider's id of the answer.
    pub request_id: Option<String>,
    /// The provider's asynchronous job, when it returns one.
    pub provider_job_id: Option<String>,
}

/// One API's wire facts, as the engine drives them.
pub trait Api: Sync {
    /// How many ids one submit call takes.
    fn per_call(&self) -> usize {
        1
    }

    /// How many ids one read call takes.
    fn per_read(&self) -> usize {
        1
    }

    /// Whether each resource is read before anything is sent.
    fn read_first(&self) -> bool {
        false
    }

    /// Whether the credentials are the user's or a dry-run placeholder.
    fn credentials_used(&self) -> CredentialsUsed;

    /// The signed requests a `--dry-run` shows for one call of `ids`, built by the same
    /// code as the real ones: any lookup first, then the stop or delete.
    fn dry_run(&self, ctx: &Ctx, ids: &[String]) -> Result<Vec<HttpRequest>, Error>;

    /// Sends the stop or delete for `ids` (at most [`Api::per_call`]), retried by the
    /// transport as the API's retry safety allows.
    fn submit(&self, ctx: &Ctx, ids: &[String]) -> impl Future<Output = Result<Accepted, Error>>;

    /// Reads the state of `ids` (at most [`Api::per_read`]). An id missing from the
    /// answer counts as [`Phase::Gone`].
    fn read(
        &self,
        ctx: &Ctx,
        ids: &[String],
    ) -> impl Future<Output = Result<Vec<(String, Phase)>, Error>>;

    /// Reads for `purpose`; by default the same read whatever the purpose.
    fn read_for(
        &self,
        ctx: &Ctx,
        ids: &[String],
        purpose: ReadPurpose,
    ) -> impl Future<Output = Result<Vec<(String, Phase)>, Error>> {
        let _ = purpose;
        self.read(ctx, ids)
    }

    /// The error of a resource the reads before sending did not find (`not_found`), for
    /// APIs that can say more than "the provider does not list it".
    fn missing(&self, ctx: &Ctx, _id: &str) -> Error {
        gone_error(ctx)
    }

    /// Whether a failed submit is settled by reading its resources rather than failing
    /// them all: a call that may have been applied, a batch refused because of some of
    /// its ids. APIs add their state-refusal codes.
    fn settle_by_reading(&self, e: &Error) -> bool {
        e.maybe_applied || (e.kind == ErrorKind::NotFound && self.per_call() > 1)
    }

    /// What a refusal of a call for one id says of that id by its code alone (CVM's
    /// `UnsupportedOperation.InstanceStateStopped` → [`Phase::Stopped`]): then no read is
    /// needed. `None`: the code does not say. By default a not-found refusal speaks for
    /// its lone id (the provider said so in its own words: code and message are kept).
    fn refusal_phase(&self, e: &Error) -> Option<Phase> {
        (e.kind == ErrorKind::NotFound).then(|| Phase::Failed(e.clone()))
    }

    /// How many times the resources a possibly-applied call left running are sent again,
    /// each time after reading them (a refused call's running rest is sent once).
    fn resend_rounds(&self, _ctx: &Ctx) -> u32 {
        1
    }

    /// Whether `--wait` reads each resource with [`Api::read`] until it is final. An API
    /// that follows its provider's asynchronous jobs instead (one poll per job rather
    /// than per resource) says `false` and waits itself after [`run`].
    fn wait_by_reading(&self) -> bool {
        true
    }
}

/// The status of a resource whose stop or delete is under way, and once it is done.
fn statuses(op: Operation) -> (Status, Status) {
    match op {
        Operation::ClusterDelete => (Status::Deleting, Status::Deleted),
        _ => (Status::Stopping, Status::Stopped),
    }
}

fn gone_error(ctx: &Ctx) -> Error {
    Error::new(
        ErrorKind::NotFound,
        format!(
            "no such {} (the provider does not list it)",
            ctx.plan.operation.noun()
        ),
    )
}

/// Runs the plan's ids through `api`.
pub async fn run<A: Api>(ctx: &Ctx, api: &A) -> Result<(), Error> {
    let ids = ctx.ids().to_vec();
    let (under_way, _) = statuses(ctx.plan.operation);
    if ctx.plan.dry_run {
        for chunk in chunks(&ids, api.per_call()) {
            for req in api.dry_run(ctx, &chunk)? {
                ctx.report.show(&req, api.credentials_used());
            }
            for id in chunk {
                ctx.report.set(ResultItem::new(id, Status::Accepted));
            }
        }
        return Ok(());
    }
    ctx.confirm_destruction().await?;

    let to_send = if api.read_first() {
        let (running, unsupported) = read_first(ctx, api, &ids).await;
        if !unsupported.is_empty() {
            return Err(refuse_all(ctx, running, unsupported));
        }
        running
    } else {
        ids.clone()
    };

    ctx.for_each(chunks(&to_send, api.per_call()), |chunk| async move {
        submit_and_settle(ctx, api, chunk).await;
    })
    .await;

    if ctx.plan.wait {
        let mut pending = if api.wait_by_reading() {
            ids
        } else {
            Vec::new()
        };
        // Matches selected with their stop already under way were not sent: there is no
        // provider job to follow, whatever the API's own way of waiting, so they are read.
        pending.extend(ctx.under_way_matches().iter().cloned());
        pending.retain(|id| {
            ctx.report
                .get(id)
                .is_some_and(|r| r.status == under_way && r.error.is_none())
        });
        if !pending.is_empty() {
            wait(ctx, api, pending).await;
        }
    }
    Ok(())
}

/// Reads every id; records a verdict for those that need nothing sent and returns the
/// ones still running and the ones cloudstop will not act on, in input order.
async fn read_first<A: Api>(
    ctx: &Ctx,
    api: &A,
    ids: &[String],
) -> (Vec<String>, Vec<(String, Error)>) {
    let running = Mutex::new(Vec::new());
    let unsupported = Mutex::new(Vec::new());
    ctx.for_each(chunks(ids, api.per_read()), |chunk| {
        let running = &running;
        let unsupported = &unsupported;
        async move {
            if let Some(e) = ctx.aborted() {
                ctx.report.fail_all(&chunk, &e);
                return;
            }
            match read_all(ctx, api, &chunk, ReadPurpose::First).await {
                Ok(phases) => {
                    for (id, phase) in phases {
                        match phase {
                            Phase::Running => running.lock().unwrap().push(id),
                            Phase::Unsupported(e) => {
                                ctx.report.set(ResultItem::failed(id.clone(), &e));
                                unsupported.lock().unwrap().push((id, e));
                            }
                            other => record(ctx, api, &id, other, Settled::Refused(None), None),
                        }
                    }
                }
                Err(e) => {
                    ctx.note_failure(&(&e).into());
                    ctx.report.fail_all(&chunk, &e);
                }
            }
        }
    })
    .await;
    let mut running = running.into_inner().unwrap();
    ctx.report.sort_in_input_order(&mut running);
    let mut unsupported = unsupported.into_inner().unwrap();
    unsupported.sort_by_key(|(id, _)| ids.iter().position(|x| x == id));
    (running, unsupported)
}

/// The command as asked cannot be carried out for some resources: nothing is sent for
/// any of them. The ids that would have been sent are recorded as not sent, and the
/// returned error (the command's) names every resource refused.
fn refuse_all(ctx: &Ctx, running: Vec<String>, unsupported: Vec<(String, Error)>) -> Error {
    let first = &unsupported[0].1;
    let reasons: Vec<&str> = unsupported
        .iter()
        .map(|(_, e)| e.message.as_str())
        .collect();
    let mut e = Error::new(
        first.kind,
        format!("{} (nothing was sent)", reasons.join("; ")),
    );
    e.code = first.code.clone();
    let not_sent = Error::new(
        first.kind,
        format!(
            "not sent: the command was refused as a whole ({})",
            reasons.join("; ")
        ),
    );
    ctx.report.fail_all(&running, &not_sent);
    e
}

/// Reads `ids` (in calls of at most [`Api::per_read`]) and gives each its phase, `Gone`
/// for those the answers leave out.
async fn read_all<A: Api>(
    ctx: &Ctx,
    api: &A,
    ids: &[String],
    purpose: ReadPurpose,
) -> Result<Vec<(String, Phase)>, Error> {
    let mut got: HashMap<String, Phase> = HashMap::new();
    for chunk in chunks(ids, api.per_read()) {
        got.extend(api.read_for(ctx, &chunk, purpose).await?);
    }
    Ok(ids
        .iter()
        .map(|id| {
            let phase = got.remove(id).unwrap_or(Phase::Gone);
            (id.clone(), phase)
        })
        .collect())
}

/// Why a resource is being settled by a read.
#[derive(Clone, Copy, PartialEq)]
enum Settled<'a> {
    /// Read before sending, or after the provider refused the call (with this error): a
    /// resource found gone did not exist for us, a stopped one was already stopped.
    Refused(Option<&'a Error>),
    /// After a call that may have been applied: a resource now gone or stopped was
    /// most likely stopped or deleted by that call.
    MaybeApplied,
}

/// Records the verdict a read gives (never for `Running`).
fn record<A: Api>(
    ctx: &Ctx,
    api: &A,
    id: &str,
    phase: Phase,
    why: Settled,
    accepted: Option<&Accepted>,
) {
    let (under_way, done) = statuses(ctx.plan.operation);
    let item = match (phase, why) {
        (Phase::Running, _) => return,
        (Phase::Stopping, _) => ResultItem::new(id, under_way),
        (Phase::Stopped, Settled::Refused(_)) => ResultItem::new(id, Status::AlreadyStopped),
        (Phase::Stopped, Settled::MaybeApplied) => ResultItem::new(id, done),
        // Gone after a delete that may have been applied: deleted. A stop does not make a
        // resource disappear: it is missing.
        (Phase::Gone, Settled::MaybeApplied) if ctx.plan.operation != Operation::ClusterDelete => {
            ResultItem::failed(id, &api.missing(ctx, id))
        }
        (Phase::Gone, Settled::Refused(cause)) => {
            let mut e = api.missing(ctx, id);
            // The provider's own not-found code, when its refusal was one.
            if let Some(c) = cause.filter(|c| c.kind == ErrorKind::NotFound) {
                e.code = c.code.clone();
            }
            ResultItem::failed(id, &e)
        }
        (Phase::Gone, Settled::MaybeApplied) => ResultItem::new(id, done),
        (Phase::Failed(mut e) | Phase::Unsupported(mut e), why) => {
            // The read explains a refusal: the refusal's code is the provider's word.
            if let (None, Settled::Refused(Some(cause))) = (&e.code, why) {
                e.code = cause.code.clone();
            }
            ResultItem::failed(id, &e)
        }
    };
    let item = match accepted {
        Some(a) => item
            .with_request_id(a.request_id.clone())
            .with_job_id(a.provider_job_id.clone()),
        None => item,
    };
    ctx.report.set(item);
}

/// One call for `chunk`; a refusal or a possibly-applied failure is settled per id:
/// each id gets the verdict a read gives it, and exactly the ones still running are
/// sent again — once after a refusal, up to [`Api::resend_rounds`] times after calls
/// that may have been applied.
async fn submit_and_settle<A: Api>(ctx: &Ctx, api: &A, chunk: Vec<String>) {
    let (under_way, _) = statuses(ctx.plan.operation);
    if let Some(e) = ctx.aborted() {
        ctx.report.fail_all(&chunk, &e);
        return;
    }
    let mut e = match api.submit(ctx, &chunk).await {
        Ok(a) => return accept(ctx, &chunk, under_way, &a),
        Err(e) => e,
    };
    let mut pending = chunk;
    let mut refusal_resent = false;
    let mut unsure_rounds = 0;
    loop {
        ctx.note_failure(&(&e).into());
        if let ([id], false) = (pending.as_slice(), e.maybe_applied) {
            if let Some(phase) = api.refusal_phase(&e) {
                if phase == Phase::Running {
                    ctx.report.fail_all(&pending, &e);
                } else {
                    let answer = Accepted {
                        request_id: e.request_id.clone(),
                        provider_job_id: None,
                    };
                    record(
                        ctx,
                        api,
                        id,
                        phase,
                        Settled::Refused(Some(&e)),
                        Some(&answer),
                    );
                }
                return;
            }
        }
        // The last round of unsure re-sends failed unsure again: retryable as it is.
        let out_of_rounds =
            e.maybe_applied && unsure_rounds > 0 && unsure_rounds >= api.resend_rounds(ctx);
        if out_of_rounds || !api.settle_by_reading(&e) || ctx.aborted().is_some() {
            ctx.report.fail_all(&pending, &e);
            return;
        }
        let why = if e.maybe_applied {
            Settled::MaybeApplied
        } else {
            Settled::Refused(Some(&e))
        };
        tracing::info!(
            "{} refused or unanswered ({}): reading the {} resource(s) to settle each",
            ctx.plan.operation.verb(),
            e.message,
            pending.len()
        );
        let phases = match read_all(ctx, api, &pending, ReadPurpose::Settle).await {
            Ok(p) => p,
            Err(read_err) => {
                tracing::warn!("reading after the refusal failed: {}", read_err.message);
                ctx.report.fail_all(&pending, &e);
                return;
            }
        };
        let mut again = Vec::new();
        for (id, phase) in phases {
            match phase {
                Phase::Running => again.push(id),
                other => record(ctx, api, &id, other, why, None),
            }
        }
        if again.is_empty() {
            return;
        }
        let resend = if e.maybe_applied {
            unsure_rounds += 1;
            unsure_rounds <= api.resend_rounds(ctx)
        } else {
            // Every id still runs: the refusal was about the call itself. And a call
            // refused once more is not sent a third time.
            let first = !refusal_resent && again.len() < pending.len();
            refusal_resent = true;
            first
        };
        if !resend {
            ctx.report.fail_all(&again, &e);
            return;
        }
        if let Some(stop) = ctx.aborted() {
            ctx.report.fail_all(&again, &stop);
            return;
        }
        // Only these: the rest were settled above.
        match api.submit(ctx, &again).await {
            Ok(a) => return accept(ctx, &again, under_way, &a),
            Err(e2) => {
                e = e2;
                pending = again;
            }
        }
    }
}

fn accept(ctx: &Ctx, ids: &[String], status: Status, a: &Accepted) {
    for id in ids {
        ctx.report.set(
            ResultItem::new(id.clone(), status)
                .with_request_id(a.request_id.clone())
                .with_job_id(a.provider_job_id.clone()),
        );
    }
}

/// Reads the resources under way until each is final or the deadline passes.
async fn wait<A: Api>(ctx: &Ctx, api: &A, mut pending: Vec<String>) {
    let (_, done) = statuses(ctx.plan.operation);
    let deadline = ctx.wait_deadline();
    while !pending.is_empty() {
        if !ctx.pause_before_poll(deadline).await {
            ctx.wait_timed_out(&pending);
            return;
        }
        let still = Mutex::new(Vec::new());
        ctx.for_each(chunks(&pending, api.per_read()), |chunk| {
            let still = &still;
            async move {
                match read_all(ctx, api, &chunk, ReadPurpose::Wait).await {
                    Ok(phases) => {
                        for (id, phase) in phases {
                            match phase {
                                Phase::Running | Phase::Stopping => still.lock().unwrap().push(id),
                                Phase::Stopped | Phase::Gone => {
                                    ctx.report.update(&id, |r| r.status = done)
                                }
                                Phase::Failed(e) | Phase::Unsupported(e) => {
                                    ctx.report.mark(&id, Status::Failed, &e)
                                }
                            }
                        }
                    }
                    // Transient trouble after the retries: keep polling until the deadline.
                    Err(e) if e.retryable => {
                        tracing::warn!("status read failed, polling again: {}", e.message);
                        still.lock().unwrap().extend(chunk);
                    }
                    Err(e) => {
                        for id in &chunk {
                            ctx.report.mark(id, Status::Failed, &e);
                        }
                    }
                }
            }
        })
        .await;
        let mut next = still.into_inner().unwrap();
        ctx.report.sort_in_input_order(&mut next);
        pending = next;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::Cli;
    use crate::config::Env;
    use crate::plan::Plan;
    use clap::Parser;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// An in-memory API: each id has a list of phases its reads return in turn (the last
    /// one repeats); a submit refuses when any of its ids is in `refuse`.
    #[derive(Default)]
    struct Fake {
        per_call: usize,
        read_first: bool,
        phases: HashMap<String, Vec<Phase>>,
        reads: Mutex<HashMap<String, usize>>,
        refuse: Vec<String>,
        refusal: Option<Error>,
        submitted: Mutex<Vec<Vec<String>>>,
        read_calls: AtomicUsize,
        purposes: Mutex<Vec<(String, ReadPurpose)>>,
        /// What `missing` says, when the API says more than the engine's default.
        missing: Option<&'static str>,
        /// 0: 100.
        per_read: usize,
        /// The most ids one read call got.
        widest_read: AtomicUsize,
        /// `--wait` is the API's own business.
        own_wait: bool,
        /// Errors the next reads answer with, first first.
        read_errors: Mutex<Vec<Error>>,
        /// How long a read of a chunk holding this id takes (ms).
        delays: HashMap<String, u64>,
        /// `resend_rounds`, when not the default.
        rounds: Option<u32>,
        /// No refusal speaks for a lone id: every refusal is left to `settle_by_reading`.
        no_refusal_phase: bool,
    }

    impl Fake {
        fn with(mut self, id: &str, phases: &[Phase]) -> Self {
            self.phases.insert(id.into(), phases.to_vec());
            self
        }
        fn sent(&self) -> Vec<Vec<String>> {
            self.submitted.lock().unwrap().clone()
        }
    }

    impl Api for Fake {
        fn per_call(&self) -> usize {
            self.per_call.max(1)
        }
        fn per_read(&self) -> usize {
            if self.per_read == 0 {
                100
            } else {
                self.per_read
            }
        }
        fn read_first(&self) -> bool {
            self.read_first
        }
        fn wait_by_reading(&self) -> bool {
            !self.own_wait
        }
        fn credentials_used(&self) -> CredentialsUsed {
            CredentialsUsed::Placeholder
        }
        fn dry_run(&self, _ctx: &Ctx, ids: &[String]) -> Result<Vec<HttpRequest>, Error> {
            Ok(vec![HttpRequest {
                method: reqwest::Method::POST,
                url: format!("https://example.test/stop?ids={}", ids.join(",")),
                headers: vec![],
                body: String::new(),
                sensitive: vec![],
            }])
        }
        async fn submit(&self, _ctx: &Ctx, ids: &[String]) -> Result<Accepted, Error> {
            self.submitted.lock().unwrap().push(ids.to_vec());
            if ids.iter().any(|i| self.refuse.contains(i)) {
                return Err(self.refusal.clone().unwrap());
            }
            Ok(Accepted {
                request_id: Some(format!("req-{}", ids.join("+"))),
                provider_job_id: None,
            })
        }
        async fn read_for(
            &self,
            ctx: &Ctx,
            ids: &[String],
            purpose: ReadPurpose,
        ) -> Result<Vec<(String, Phase)>, Error> {
            self.purposes
                .lock()
                .unwrap()
                .extend(ids.iter().map(|id| (id.clone(), purpose)));
            self.read(ctx, ids).await
        }
        fn missing(&self, ctx: &Ctx, id: &str) -> Error {
            match self.missing {
                Some(m) => Error::new(ErrorKind::NotFound, format!("{id}: {m}")),
                None => gone_error(ctx),
            }
        }
        fn resend_rounds(&self, _ctx: &Ctx) -> u32 {
            self.rounds.unwrap_or(1)
        }
        fn refusal_phase(&self, e: &Error) -> Option<Phase> {
            if self.no_refusal_phase {
                return None;
            }
            (e.kind == ErrorKind::NotFound).then(|| Phase::Failed(e.clone()))
        }
        async fn read(&self, _ctx: &Ctx, ids: &[String]) -> Result<Vec<(String, Phase)>, Error> {
            self.read_calls.fetch_add(1, Ordering::SeqCst);
            if let Some(ms) = ids.iter().filter_map(|id| self.delays.get(id)).max() {
                tokio::time::sleep(std::time::Duration::from_millis(*ms)).await;
            }
            {
                let mut errors = self.read_errors.lock().unwrap();
                if !errors.is_empty() {
                    return Err(errors.remove(0));
                }
            }
            self.widest_read.fetch_max(ids.len(), Ordering::SeqCst);
            let mut reads = self.reads.lock().unwrap();
            Ok(ids
                .iter()
                .filter_map(|id| {
                    let list = self.phases.get(id)?;
                    let n = reads.entry(id.clone()).or_default();
                    let p = list[(*n).min(list.len() - 1)].clone();
                    *n += 1;
                    Some((id.clone(), p))
                })
                .collect())
        }
    }

    fn ctx(args: &str) -> Ctx {
        let argv = std::iter::once("cloudstop").chain(args.split_whitespace());
        let cli = Cli::try_parse_from(argv).unwrap();
        let env = Env::default();
        let plan = Plan::build(cli.command, &env, &mut std::io::empty()).unwrap();
        Ctx::new(plan, env)
    }

    fn run_blocking<A: Api>(ctx: &Ctx, api: &A) -> Vec<(String, Status, Option<String>)> {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(run(ctx, api))
            .unwrap();
        ctx.report
            .results(None)
            .into_iter()
            .map(|r| (r.id, r.status, r.error.and_then(|e| e.code)))
            .collect()
    }

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    const IDS: &str = "server stop -p tencent --server-id a,b,c,d";

    #[test]
    fn a_refused_batch_is_settled_per_id_and_only_running_ids_are_sent_again() {
        let ctx = ctx(IDS);
        let api = Fake {
            per_call: 100,
            refuse: s(&["b"]),
            refusal: Some(
                Error::new(ErrorKind::NotFound, "instance b not found").with_code("NotFound"),
            ),
            ..Default::default()
        }
        .with("a", &[Phase::Running])
        .with("c", &[Phase::Stopped])
        .with("d", &[Phase::Stopping]);
        let got = run_blocking(&ctx, &api);
        assert_eq!(api.sent(), vec![s(&["a", "b", "c", "d"]), s(&["a"])]);
        assert_eq!(
            got,
            vec![
                ("a".into(), Status::Stopping, None),
                // The refusal's own not-found code is kept.
                ("b".into(), Status::NotFound, Some("NotFound".into())),
                ("c".into(), Status::AlreadyStopped, None),
                ("d".into(), Status::Stopping, None),
            ]
        );
        assert_eq!(
            ctx.report.get("a").unwrap().request_id.as_deref(),
            Some("req-a")
        );
    }

    #[test]
    fn settling_reads_at_most_per_read_ids_a_call() {
        let ctx = ctx(IDS);
        let api = Fake {
            per_call: 100,
            per_read: 1,
            refuse: s(&["b"]),
            refusal: Some(Error::new(ErrorKind::NotFound, "b is missing").with_code("2100")),
            ..Default::default()
        }
        .with("a", &[Phase::Running])
        .with("c", &[Phase::Stopped])
        .with("d", &[Phase::Running]);
        let got = run_blocking(&ctx, &api);
        assert_eq!(api.read_calls.load(Ordering::SeqCst), 4);
        assert_eq!(api.widest_read.load(Ordering::SeqCst), 1);
        assert_eq!(api.sent(), vec![s(&["a", "b", "c", "d"]), s(&["a", "d"])]);
        assert_eq!(got[1], ("b".into(), Status::NotFound, Some("2100".into())));
    }

    #[test]
    fn a_lone_id_the_provider_calls_missing_is_not_found_without_a_read() {
        let ctx = ctx("server stop -p tencent --server-id a");
        let api = Fake {
            per_call: 100,
            refuse: s(&["a"]),
            refusal: Some(Error::new(ErrorKind::NotFound, "a is missing").with_code("2100")),
            ..Default::default()
        }
        .with("a", &[Phase::Running]);
        let got = run_blocking(&ctx, &api);
        assert_eq!(api.read_calls.load(Ordering::SeqCst), 0);
        assert_eq!(api.sent().len(), 1);
        assert_eq!(got[0], ("a".into(), Status::NotFound, Some("2100".into())));
    }

    #[test]
    fn an_api_that_waits_itself_is_not_read_while_waiting() {
        let ctx =
            ctx("job stop -p tencent --job-id a --wait --poll-interval 1ms --wait-timeout 50ms");
        let api = Fake {
            own_wait: true,
            ..Default::default()
        }
        .with("a", &[Phase::Running]);
        let got = run_blocking(&ctx, &api);
        assert_eq!(api.read_calls.load(Ordering::SeqCst), 0);
        assert_eq!(got[0], ("a".into(), Status::Stopping, None));
        assert!(ctx.report.get("a").unwrap().error.is_none());
    }

    #[test]
    fn a_refusal_of_the_whole_call_fails_every_id_without_a_resend() {
        let ctx = ctx(IDS);
        let api = Fake {
            per_call: 100,
            refuse: s(&["a"]),
            refusal: Some(Error::new(ErrorKind::NotFound, "no").with_code("NotFound")),
            ..Default::default()
        }
        .with("a", &[Phase::Running])
        .with("b", &[Phase::Running])
        .with("c", &[Phase::Running])
        .with("d", &[Phase::Running]);
        let got = run_blocking(&ctx, &api);
        assert_eq!(api.sent().len(), 1, "nothing is sent twice");
        assert!(got.iter().all(|(_, st, _)| *st == Status::NotFound));
    }

    #[test]
    fn a_refusal_not_settled_by_reading_fails_the_chunk_and_reads_nothing() {
        let ctx = ctx(IDS);
        let api = Fake {
            per_call: 2,
            refuse: s(&["a"]),
            refusal: Some(Error::new(ErrorKind::Provider, "no").with_code("Denied")),
            ..Default::default()
        };
        let got = run_blocking(&ctx, &api);
        assert_eq!(api.read_calls.load(Ordering::SeqCst), 0);
        assert_eq!(got[0].1, Status::Failed);
        assert_eq!(got[1].1, Status::Failed);
        assert_eq!(got[2].1, Status::Stopping);
        assert_eq!(got[3].1, Status::Stopping);
    }

    #[test]
    fn after_a_possibly_applied_call_gone_and_stopped_mean_done() {
        let ctx = ctx("cluster delete -p tencent --cluster-id a,b,c --yes");
        let api = Fake {
            per_call: 1,
            refuse: s(&["a", "b", "c"]),
            refusal: Some(
                Error::new(ErrorKind::Timeout, "no answer")
                    .retryable(true)
                    .maybe_applied(true),
            ),
            ..Default::default()
        }
        .with("b", &[Phase::Stopping])
        .with("c", &[Phase::Running]);
        let got = run_blocking(&ctx, &api);
        assert_eq!(got[0].1, Status::Deleted);
        assert_eq!(got[1].1, Status::Deleting);
        // c still ran: sent once more (and timed out again: failed, never a third time).
        assert_eq!(api.sent().iter().filter(|c| c == &&s(&["c"])).count(), 2);
        assert_eq!(got[2].1, Status::Failed);
    }

    #[test]
    fn a_resend_refused_again_is_settled_once_more_and_never_sent_a_third_time() {
        let ctx = ctx(IDS);
        let api = Fake {
            per_call: 100,
            refuse: s(&["a", "b"]),
            refusal: Some(Error::new(ErrorKind::Provider, "state").with_code("1400")),
            ..Default::default()
        }
        .with("a", &[Phase::Running, Phase::Running, Phase::Running])
        .with("b", &[Phase::Running, Phase::Stopped])
        .with("c", &[Phase::Stopped])
        .with(
            "d",
            &[Phase::Failed(Error::new(ErrorKind::Provider, "suspended"))],
        );
        let api = Fake {
            refuse: s(&["a", "b", "c", "d"]),
            ..api
        };
        // Settle by reading every 1400 refusal.
        struct Settling(Fake);
        impl Api for Settling {
            fn per_call(&self) -> usize {
                self.0.per_call()
            }
            fn credentials_used(&self) -> CredentialsUsed {
                self.0.credentials_used()
            }
            fn dry_run(&self, ctx: &Ctx, ids: &[String]) -> Result<Vec<HttpRequest>, Error> {
                self.0.dry_run(ctx, ids)
            }
            async fn submit(&self, ctx: &Ctx, ids: &[String]) -> Result<Accepted, Error> {
                self.0.submit(ctx, ids).await
            }
            async fn read(&self, ctx: &Ctx, ids: &[String]) -> Result<Vec<(String, Phase)>, Error> {
                self.0.read(ctx, ids).await
            }
            fn settle_by_reading(&self, e: &Error) -> bool {
                e.code.as_deref() == Some("1400")
            }
        }
        let api = Settling(api);
        let got = run_blocking(&ctx, &api);
        // [a,b,c,d] refused; a,b still run: [a,b] once more, refused; b now stopped.
        assert_eq!(api.0.sent(), vec![s(&["a", "b", "c", "d"]), s(&["a", "b"])]);
        assert_eq!(
            got,
            vec![
                ("a".into(), Status::Failed, Some("1400".into())),
                ("b".into(), Status::AlreadyStopped, None),
                ("c".into(), Status::AlreadyStopped, None),
                // The read's verdict carries the refusal's code.
                ("d".into(), Status::Failed, Some("1400".into())),
            ]
        );
    }

    #[test]
    fn unsure_calls_are_settled_up_to_resend_rounds_and_a_stop_never_makes_gone_stopped() {
        let ctx = ctx("server stop -p tencent --server-id a,b --retries 2");
        let timeout = Error::new(ErrorKind::Timeout, "no answer")
            .retryable(true)
            .maybe_applied(true);
        struct Unsure(Fake);
        impl Api for Unsure {
            fn per_call(&self) -> usize {
                100
            }
            fn per_read(&self) -> usize {
                100
            }
            fn credentials_used(&self) -> CredentialsUsed {
                self.0.credentials_used()
            }
            fn dry_run(&self, ctx: &Ctx, ids: &[String]) -> Result<Vec<HttpRequest>, Error> {
                self.0.dry_run(ctx, ids)
            }
            async fn submit(&self, ctx: &Ctx, ids: &[String]) -> Result<Accepted, Error> {
                self.0.submit(ctx, ids).await
            }
            async fn read(&self, ctx: &Ctx, ids: &[String]) -> Result<Vec<(String, Phase)>, Error> {
                self.0.read(ctx, ids).await
            }
            fn resend_rounds(&self, ctx: &Ctx) -> u32 {
                ctx.plan.transport.retries
            }
        }
        let api = Unsure(
            Fake {
                refuse: s(&["a"]),
                refusal: Some(timeout),
                ..Default::default()
            }
            .with("a", &[Phase::Running]),
        );
        let got = run_blocking(&ctx, &api);
        // b is missing from every read: not_found, not "stopped".
        assert_eq!(got[1].1, Status::NotFound);
        // a: the first call, then --retries 2 more, each after a read.
        assert_eq!(api.0.sent(), vec![s(&["a", "b"]), s(&["a"]), s(&["a"])]);
        assert_eq!(got[0].1, Status::Failed);
        // Read before each re-send; the last unsure failure stands as it is.
        assert_eq!(api.0.read_calls.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn a_lone_ids_refusal_code_can_speak_for_it_without_a_read() {
        struct ByCode(Fake);
        impl Api for ByCode {
            fn per_call(&self) -> usize {
                1
            }
            fn credentials_used(&self) -> CredentialsUsed {
                self.0.credentials_used()
            }
            fn dry_run(&self, ctx: &Ctx, ids: &[String]) -> Result<Vec<HttpRequest>, Error> {
                self.0.dry_run(ctx, ids)
            }
            async fn submit(&self, _ctx: &Ctx, ids: &[String]) -> Result<Accepted, Error> {
                self.0.submitted.lock().unwrap().push(ids.to_vec());
                let code = match ids[0].as_str() {
                    "a" => "Stopped",
                    "b" => "Stopping",
                    _ => "Denied",
                };
                Err(Error::new(ErrorKind::Provider, code)
                    .with_code(code)
                    .with_request_id(Some(format!("r-{}", ids[0]))))
            }
            async fn read(&self, ctx: &Ctx, ids: &[String]) -> Result<Vec<(String, Phase)>, Error> {
                self.0.read(ctx, ids).await
            }
            fn refusal_phase(&self, e: &Error) -> Option<Phase> {
                Some(match e.code.as_deref()? {
                    "Stopped" => Phase::Stopped,
                    "Stopping" => Phase::Stopping,
                    _ => Phase::Failed(e.clone()),
                })
            }
        }
        let ctx = ctx("server stop -p tencent --server-id a,b,c");
        let api = ByCode(Fake::default());
        let got = run_blocking(&ctx, &api);
        assert_eq!(api.0.read_calls.load(Ordering::SeqCst), 0);
        assert_eq!(api.0.sent().len(), 3);
        assert_eq!(
            got,
            vec![
                ("a".into(), Status::AlreadyStopped, None),
                ("b".into(), Status::Stopping, None),
                ("c".into(), Status::Failed, Some("Denied".into())),
            ]
        );
        assert_eq!(
            ctx.report.get("a").unwrap().request_id.as_deref(),
            Some("r-a")
        );
    }

    #[test]
    fn an_unconfirmed_delete_sends_and_reads_nothing() {
        // No --yes and no terminal to ask on: refused before any request, even a read.
        let ctx = ctx("cluster delete -p tencent --cluster-id a,b");
        let api = Fake {
            read_first: true,
            ..Default::default()
        }
        .with("a", &[Phase::Running]);
        let e = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(run(&ctx, &api))
            .unwrap_err();
        assert_eq!(e.kind, ErrorKind::Usage);
        assert!(api.sent().is_empty());
        assert_eq!(api.read_calls.load(Ordering::SeqCst), 0);
        assert!(ctx.report.results(None).is_empty());
        // --dry-run never asks.
        let ctx = super::tests::ctx("cluster delete -p tencent --cluster-id a,b --dry-run");
        assert_eq!(run_blocking(&ctx, &api).len(), 2);
    }

    #[test]
    fn read_first_sends_only_what_runs() {
        let ctx = ctx("cluster delete -p tencent --cluster-id a,b,c,d --yes");
        let blocked = Error::new(ErrorKind::Provider, "deletion protection is on")
            .with_code("OperationDenied.ClusterInDeletionProtection");
        let api = Fake {
            read_first: true,
            ..Default::default()
        }
        .with("a", &[Phase::Running])
        .with("b", &[Phase::Stopping])
        .with("c", &[Phase::Failed(blocked)]);
        let got = run_blocking(&ctx, &api);
        assert_eq!(api.sent(), vec![s(&["a"])]);
        assert_eq!(
            got,
            vec![
                ("a".into(), Status::Deleting, None),
                ("b".into(), Status::Deleting, None),
                (
                    "c".into(),
                    Status::Failed,
                    Some("OperationDenied.ClusterInDeletionProtection".into())
                ),
                ("d".into(), Status::NotFound, None),
            ]
        );
    }

    #[test]
    fn an_unsupported_resource_refuses_the_whole_command_before_anything_is_sent() {
        let ctx = ctx("cluster delete -p tencent --cluster-id a,b,c,d,e --yes");
        let edge = |id: &str| {
            Phase::Unsupported(
                Error::usage(format!("{id} is an edge cluster")).with_code("EdgeCluster"),
            )
        };
        let api = Fake {
            read_first: true,
            ..Default::default()
        }
        .with("a", &[Phase::Running])
        .with("b", &[edge("b")])
        .with("c", &[Phase::Stopping])
        .with("e", &[edge("e")]);
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let e = rt.block_on(run(&ctx, &api)).unwrap_err();
        assert!(api.sent().is_empty(), "nothing is sent");
        assert_eq!(e.kind, ErrorKind::Usage);
        assert_eq!(e.code.as_deref(), Some("EdgeCluster"));
        assert_eq!(
            e.message,
            "b is an edge cluster; e is an edge cluster (nothing was sent)"
        );
        let got: Vec<(String, Status, Option<ErrorKind>)> = ctx
            .report
            .results(None)
            .into_iter()
            .map(|r| (r.id, r.status, r.error.map(|e| e.kind)))
            .collect();
        assert_eq!(
            got,
            vec![
                ("a".into(), Status::Failed, Some(ErrorKind::Usage)),
                ("b".into(), Status::Failed, Some(ErrorKind::Usage)),
                ("c".into(), Status::Deleting, None),
                ("d".into(), Status::NotFound, Some(ErrorKind::NotFound)),
                ("e".into(), Status::Failed, Some(ErrorKind::Usage)),
            ]
        );
        assert!(ctx
            .report
            .get("a")
            .unwrap()
            .error
            .unwrap()
            .message
            .starts_with("not sent"));
    }

    #[test]
    fn an_api_names_what_it_did_not_find() {
        let ctx = ctx("cluster delete -p tencent --cluster-id a,b --yes");
        let api = Fake {
            read_first: true,
            missing: Some("not in this region"),
            ..Default::default()
        }
        .with("a", &[Phase::Running]);
        let got = run_blocking(&ctx, &api);
        assert_eq!(got[1].1, Status::NotFound);
        assert_eq!(
            ctx.report.get("b").unwrap().error.unwrap().message,
            "b: not in this region"
        );
    }

    #[test]
    fn wait_reads_until_final_and_never_resends() {
        let ctx =
            ctx("job stop -p tencent --job-id a,b,c --wait --poll-interval 1ms --wait-timeout 10s");
        let api = Fake {
            read_first: true,
            ..Default::default()
        }
        .with(
            "a",
            &[
                Phase::Running,
                Phase::Running,
                Phase::Stopping,
                Phase::Stopped,
            ],
        )
        .with("b", &[Phase::Running, Phase::Gone])
        .with(
            "c",
            &[
                Phase::Running,
                Phase::Running,
                Phase::Failed(Error::new(ErrorKind::Provider, "stop failed").with_code("X")),
            ],
        );
        let got = run_blocking(&ctx, &api);
        assert_eq!(api.sent(), vec![s(&["a"]), s(&["b"]), s(&["c"])]);
        assert_eq!(got[0].1, Status::Stopped);
        assert_eq!(got[1].1, Status::Stopped);
        assert_eq!((got[2].1, got[2].2.as_deref()), (Status::Failed, Some("X")));
    }

    #[test]
    fn reads_say_what_they_are_for() {
        let ctx = ctx(
            "cluster delete -p tencent --cluster-id a,b --yes --wait --poll-interval 1ms --wait-timeout 10s",
        );
        let api = Fake {
            read_first: true,
            refuse: s(&["b"]),
            refusal: Some(
                Error::new(ErrorKind::Timeout, "no answer")
                    .retryable(true)
                    .maybe_applied(true),
            ),
            ..Default::default()
        }
        .with("a", &[Phase::Running, Phase::Stopping, Phase::Gone])
        .with("b", &[Phase::Running, Phase::Stopping, Phase::Gone]);
        let got = run_blocking(&ctx, &api);
        assert_eq!(got[0].1, Status::Deleted);
        assert_eq!(got[1].1, Status::Deleted);
        let purposes = api.purposes.lock().unwrap().clone();
        let of = |id: &str| -> Vec<ReadPurpose> {
            purposes
                .iter()
                .filter(|(i, _)| i == id)
                .map(|(_, p)| *p)
                .collect()
        };
        use ReadPurpose::*;
        assert_eq!(of("a"), [First, Wait, Wait]);
        assert_eq!(of("b"), [First, Settle, Wait]);
    }

    /// An API that does not care why it reads: only `read`, the default `read_for`.
    struct Plain(Fake);

    impl Api for Plain {
        fn read_first(&self) -> bool {
            self.0.read_first
        }
        fn credentials_used(&self) -> CredentialsUsed {
            self.0.credentials_used()
        }
        fn dry_run(&self, ctx: &Ctx, ids: &[String]) -> Result<Vec<HttpRequest>, Error> {
            self.0.dry_run(ctx, ids)
        }
        async fn submit(&self, ctx: &Ctx, ids: &[String]) -> Result<Accepted, Error> {
            self.0.submit(ctx, ids).await
        }
        async fn read(&self, ctx: &Ctx, ids: &[String]) -> Result<Vec<(String, Phase)>, Error> {
            self.0.read(ctx, ids).await
        }
    }

    #[test]
    fn default_hooks_read_a_lone_not_found_and_resend_once() {
        let api = Plain(Fake::default());
        let gone = Error::new(ErrorKind::NotFound, "no such job").with_code("ResourceNotFound");
        match api.refusal_phase(&gone) {
            Some(Phase::Failed(e)) => {
                assert_eq!(
                    (e.kind, e.code.as_deref()),
                    (ErrorKind::NotFound, Some("ResourceNotFound"))
                )
            }
            other => panic!("a not-found refusal speaks for its id: {other:?}"),
        }
        assert!(api
            .refusal_phase(&Error::new(ErrorKind::Provider, "busy"))
            .is_none());
        let ctx = ctx("job stop -p tencent --job-id a --retries 4");
        assert_eq!(api.resend_rounds(&ctx), 1);
    }

    #[test]
    fn read_for_defaults_to_read() {
        let ctx = ctx(
            "cluster delete -p tencent --cluster-id a,b --yes --wait --poll-interval 1ms --wait-timeout 10s",
        );
        let api = Plain(
            Fake {
                read_first: true,
                ..Default::default()
            }
            .with("a", &[Phase::Running, Phase::Gone])
            .with("b", &[Phase::Stopped]),
        );
        let got = run_blocking(&ctx, &api);
        assert_eq!(got[0].1, Status::Deleted);
        assert_eq!(got[1].1, Status::AlreadyStopped);
        assert_eq!(api.0.read_calls.load(Ordering::SeqCst), 3);
        assert!(api.0.purposes.lock().unwrap().is_empty());
    }

    #[test]
    fn wait_gives_up_at_the_deadline() {
        let ctx =
            ctx("job stop -p tencent --job-id a --wait --poll-interval 1ms --wait-timeout 30ms");
        let api = Fake::default().with("a", &[Phase::Stopping]);
        let got = run_blocking(&ctx, &api);
        assert_eq!(got[0].1, Status::Stopping);
        let r = ctx.report.get("a").unwrap();
        assert_eq!(r.error.unwrap().kind, ErrorKind::Timeout);
    }

    #[test]
    fn dry_run_shows_the_built_requests_and_sends_nothing() {
        let ctx = ctx("server stop -p tencent --server-id a,b,c --dry-run");
        let api = Fake {
            per_call: 2,
            ..Default::default()
        };
        let got = run_blocking(&ctx, &api);
        assert!(api.sent().is_empty());
        assert_eq!(api.read_calls.load(Ordering::SeqCst), 0);
        assert!(got.iter().all(|(_, st, _)| *st == Status::Accepted));
        let shown: Vec<String> = ctx.report.shown().into_iter().map(|r| r.url).collect();
        assert_eq!(
            shown,
            [
                "https://example.test/stop?ids=a,b",
                "https://example.test/stop?ids=c"
            ]
        );
    }

    #[test]
    fn wait_polls_through_a_transient_read_error_and_fails_on_a_permanent_one() {
        let waited = |read_error: Error| {
            let c =
                ctx("job stop -p tencent --job-id a --wait --poll-interval 1ms --wait-timeout 10s");
            let api = Fake {
                read_errors: Mutex::new(vec![read_error]),
                ..Default::default()
            }
            .with("a", &[Phase::Stopped]);
            run_blocking(&c, &api)
        };
        let got = waited(Error::new(ErrorKind::Network, "reset").retryable(true));
        assert_eq!(
            got[0].1,
            Status::Stopped,
            "a transient read error is polled past"
        );
        let got = waited(Error::new(ErrorKind::Permission, "denied").with_code("Denied"));
        assert_eq!(
            (got[0].1, got[0].2.as_deref()),
            (Status::Failed, Some("Denied"))
        );
    }

    #[test]
    fn a_possibly_applied_call_is_read_even_with_no_resend_rounds() {
        let ctx = ctx("job stop -p tencent --job-id a");
        let api = Fake {
            rounds: Some(0),
            refuse: s(&["a"]),
            refusal: Some(
                Error::new(ErrorKind::Timeout, "no answer")
                    .retryable(true)
                    .maybe_applied(true),
            ),
            ..Default::default()
        }
        .with("a", &[Phase::Stopped]);
        let got = run_blocking(&ctx, &api);
        assert_eq!(api.read_calls.load(Ordering::SeqCst), 1);
        assert_eq!(got[0].1, Status::Stopped);
        assert_eq!(api.sent().len(), 1, "nothing is sent again");
    }

    #[test]
    fn a_lone_not_found_with_no_refusal_phase_is_not_read() {
        let ctx = ctx("job stop -p tencent --job-id a");
        let api = Fake {
            per_call: 1,
            no_refusal_phase: true,
            refuse: s(&["a"]),
            refusal: Some(Error::new(ErrorKind::NotFound, "no a").with_code("Gone")),
            ..Default::default()
        }
        .with("a", &[Phase::Running]);
        let got = run_blocking(&ctx, &api);
        assert_eq!(
            api.read_calls.load(Ordering::SeqCst),
            0,
            "one id a call: the refusal is about it"
        );
        assert_eq!(
            (got[0].1, got[0].2.as_deref()),
            (Status::NotFound, Some("Gone"))
        );
    }

    #[test]
    fn unsupported_ids_are_named_in_input_order_whatever_order_reads_end() {
        let ctx = ctx("cluster delete -p tencent --cluster-id a,b --yes");
        let edge = |id: &str| Phase::Unsupported(Error::usage(format!("{id} is an edge cluster")));
        let api = Fake {
            read_first: true,
            per_read: 1,
            delays: [("a".to_string(), 30)].into_iter().collect(),
            ..Default::default()
        }
        .with("a", &[edge("a")])
        .with("b", &[edge("b")]);
        let e = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(run(&ctx, &api))
            .unwrap_err();
        assert_eq!(
            e.message,
            "a is an edge cluster; b is an edge cluster (nothing was sent)"
        );
    }
}
