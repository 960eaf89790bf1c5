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

    /// Whether a failed submit is settled by reading its resources rather than failing
    /// them all: a call that may have been applied, a batch refused because of some of
    /// its ids. APIs add their state-refusal codes.
    fn settle_by_reading(&self, e: &Error) -> bool {
        e.maybe_applied || (e.kind == ErrorKind::NotFound && self.per_call() > 1)
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
        read_first(ctx, api, &ids).await
    } else {
        ids.clone()
    };

    ctx.for_each(chunks(&to_send, api.per_call()), |chunk| async move {
        submit_and_settle(ctx, api, chunk).await;
    })
    .await;

    if ctx.plan.wait {
        let pending: Vec<String> = ids
            .into_iter()
            .filter(|id| {
                ctx.report
                    .get(id)
                    .is_some_and(|r| r.status == under_way && r.error.is_none())
            })
            .collect();
        wait(ctx, api, pending).await;
    }
    Ok(())
}

/// Reads every id; records a verdict for those that need nothing sent and returns the
/// ones still running, in input order.
async fn read_first<A: Api>(ctx: &Ctx, api: &A, ids: &[String]) -> Vec<String> {
    let running = Mutex::new(Vec::new());
    ctx.for_each(chunks(ids, api.per_read()), |chunk| {
        let running = &running;
        async move {
            if let Some(e) = ctx.aborted() {
                ctx.report.fail_all(&chunk, &e);
                return;
            }
            match read_all(ctx, api, &chunk).await {
                Ok(phases) => {
                    for (id, phase) in phases {
                        match phase {
                            Phase::Running => running.lock().unwrap().push(id),
                            other => record(ctx, &id, other, Settled::Refused, None),
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
    running
}

/// Reads `ids` and gives each its phase, `Gone` for those the answer leaves out.
async fn read_all<A: Api>(
    ctx: &Ctx,
    api: &A,
    ids: &[String],
) -> Result<Vec<(String, Phase)>, Error> {
    let mut got: HashMap<String, Phase> = api.read(ctx, ids).await?.into_iter().collect();
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
enum Settled {
    /// Read before sending, or after the provider refused the call: a resource found
    /// gone did not exist for us, a stopped one was already stopped.
    Refused,
    /// After a call that may have been applied: a resource now gone or stopped was
    /// most likely stopped or deleted by that call.
    MaybeApplied,
}

/// Records the verdict a read gives (never for `Running`).
fn record(ctx: &Ctx, id: &str, phase: Phase, why: Settled, accepted: Option<&Accepted>) {
    let (under_way, done) = statuses(ctx.plan.operation);
    let item = match (phase, why) {
        (Phase::Running, _) => return,
        (Phase::Stopping, _) => ResultItem::new(id, under_way),
        (Phase::Stopped, Settled::Refused) => ResultItem::new(id, Status::AlreadyStopped),
        (Phase::Stopped, Settled::MaybeApplied) => ResultItem::new(id, done),
        (Phase::Gone, Settled::Refused) => ResultItem::failed(id, &gone_error(ctx)),
        (Phase::Gone, Settled::MaybeApplied) => ResultItem::new(id, done),
        (Phase::Failed(e), _) => ResultItem::failed(id, &e),
    };
    let item = match accepted {
        Some(a) => item
            .with_request_id(a.request_id.clone())
            .with_job_id(a.provider_job_id.clone()),
        None => item,
    };
    ctx.report.set(item);
}

/// One call for `chunk`; a refusal or a possibly-applied failure is settled per id.
async fn submit_and_settle<A: Api>(ctx: &Ctx, api: &A, chunk: Vec<String>) {
    let (under_way, _) = statuses(ctx.plan.operation);
    if let Some(e) = ctx.aborted() {
        ctx.report.fail_all(&chunk, &e);
        return;
    }
    let e = match api.submit(ctx, &chunk).await {
        Ok(a) => return accept(ctx, &chunk, under_way, &a),
        Err(e) => e,
    };
    ctx.note_failure(&(&e).into());
    if !api.settle_by_reading(&e) || ctx.aborted().is_some() {
        ctx.report.fail_all(&chunk, &e);
        return;
    }
    let why = if e.maybe_applied {
        Settled::MaybeApplied
    } else {
        Settled::Refused
    };
    tracing::info!(
        "{} refused or unanswered ({}): reading the {} resource(s) to settle each",
        ctx.plan.operation.verb(),
        e.message,
        chunk.len()
    );
    let phases = match read_all(ctx, api, &chunk).await {
        Ok(p) => p,
        Err(read_err) => {
            tracing::warn!("reading after the refusal failed: {}", read_err.message);
            ctx.report.fail_all(&chunk, &e);
            return;
        }
    };
    let mut again = Vec::new();
    for (id, phase) in phases {
        match phase {
            Phase::Running => again.push(id),
            other => record(ctx, &id, other, why, None),
        }
    }
    if again.is_empty() {
        return;
    }
    if again.len() == chunk.len() && why == Settled::Refused {
        // Every id still runs, so the refusal was about the call itself.
        ctx.report.fail_all(&again, &e);
        return;
    }
    // Sent once more, and only these: the rest were settled above.
    match api.submit(ctx, &again).await {
        Ok(a) => accept(ctx, &again, under_way, &a),
        Err(e2) => {
            ctx.note_failure(&(&e2).into());
            ctx.report.fail_all(&again, &e2);
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
                match read_all(ctx, api, &chunk).await {
                    Ok(phases) => {
                        for (id, phase) in phases {
                            match phase {
                                Phase::Running | Phase::Stopping => still.lock().unwrap().push(id),
                                Phase::Stopped | Phase::Gone => {
                                    ctx.report.update(&id, |r| r.status = done)
                                }
                                Phase::Failed(e) => ctx.report.mark(&id, Status::Failed, &e),
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
            100
        }
        fn read_first(&self) -> bool {
            self.read_first
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
        async fn read(&self, _ctx: &Ctx, ids: &[String]) -> Result<Vec<(String, Phase)>, Error> {
            self.read_calls.fetch_add(1, Ordering::SeqCst);
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
                ("b".into(), Status::NotFound, None),
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
}
