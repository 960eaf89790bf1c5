//! The provider interface and dispatch, and the run context every provider shares:
//! the validated plan, the transport, the clock, the config file and the report of
//! results as they arrive (so an interrupted run can still print what it knows).
//!
//! Each provider module exposes the same three items:
//! - `OPERATIONS`: what it offers;
//! - `validate(&Plan)`: id formats and provider-specific flags, no I/O;
//! - `run(&Ctx)`: settings and credentials, then the calls; results go into
//!   `ctx.report`, and an `Err` is the failure of the command as a whole.

pub mod engine;
pub mod huawei;
pub mod qingcloud;
pub mod tencent;

use crate::config::{ConfigFile, Env};
use crate::envelope::{CredentialsUsed, ErrorInfo, RequestRecord, ResultItem, Status};
use crate::error::{Error, ErrorKind};
use crate::plan::{Operation, Plan, ProviderName};
use crate::transport::{HttpRequest, Transport};
use chrono::{DateTime, Utc};
use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::sync::{Mutex, OnceLock};
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
    match plan.provider {
        ProviderName::Tencent => tencent::validate(plan),
        ProviderName::Huawei => huawei::validate(plan),
        ProviderName::Qingcloud => qingcloud::validate(plan),
    }
}

/// Runs the plan's operation on its provider.
pub async fn run(ctx: &Ctx) -> Result<(), Error> {
    match ctx.plan.provider {
        ProviderName::Tencent => tencent::run(ctx).await,
        ProviderName::Huawei => huawei::run(ctx).await,
        ProviderName::Qingcloud => qingcloud::run(ctx).await,
    }
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
    /// The requested ids, in input order; `slots[i]` is the result of `ids[i]`.
    ids: Vec<String>,
    index: HashMap<String, usize>,
    slots: Mutex<Vec<Option<ResultItem>>>,
    location: Mutex<BTreeMap<String, String>>,
    shown: Mutex<Vec<RequestRecord>>,
}

impl Report {
    pub fn new(ids: &[String]) -> Report {
        Report {
            ids: ids.to_vec(),
            index: ids
                .iter()
                .enumerate()
                .map(|(i, id)| (id.clone(), i))
                .collect(),
            slots: Mutex::new(vec![None; ids.len()]),
            location: Mutex::new(BTreeMap::new()),
            shown: Mutex::new(Vec::new()),
        }
    }

    /// Records (or replaces) the result for its id.
    pub fn set(&self, item: ResultItem) {
        if let Some(&i) = self.index.get(&item.id) {
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

    /// Sorts requested ids into input order (ids not requested go last).
    pub fn sort_in_input_order(&self, ids: &mut [String]) {
        ids.sort_by_key(|id| self.index.get(id).copied().unwrap_or(usize::MAX));
    }

    pub fn get(&self, id: &str) -> Option<ResultItem> {
        let i = *self.index.get(id)?;
        self.slots.lock().unwrap()[i].clone()
    }

    /// Changes the recorded result of `id`, if there is one.
    pub fn update(&self, id: &str, f: impl FnOnce(&mut ResultItem)) {
        if let Some(&i) = self.index.get(id) {
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
        let slots = self.slots.lock().unwrap();
        self.ids
            .iter()
            .zip(slots.iter())
            .filter_map(|(id, slot)| match (slot, unfinished) {
                (Some(item), _) => Some(item.clone()),
                (None, Some(e)) => Some(ResultItem::failed(id.clone(), e)),
                (None, None) => None,
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
    pub transport: Transport,
    pub report: Report,
    config: OnceLock<Result<ConfigFile, Error>>,
    /// Set when credentials are rejected: nothing more is sent with them.
    abort: OnceLock<Error>,
}

impl Ctx {
    pub fn new(plan: Plan, env: Env) -> Ctx {
        let transport = Transport::new(plan.transport.clone(), plan.verbose >= 3);
        let report = Report::new(&plan.ids);
        Ctx {
            clock: Clock::from_env(&env),
            plan,
            env,
            transport,
            report,
            config: OnceLock::new(),
            abort: OnceLock::new(),
        }
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
            .get_or_init(|| ConfigFile::load(self.env.config_path(), &PROFILE_SECTIONS))
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
        Instant::now() + self.plan.wait_timeout
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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

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
