//! Huawei Cloud ECS `server stop`: BatchStopServers (`os-stop`, at most 1000 servers a
//! call) on the operation engine, ShowServer to settle refused or uncertain calls per
//! server, and `--wait` by polling ShowJob — never by sending the stop again.
//! PROVIDERS.md §3.

use super::{classify, parse, refusal, Huawei};
use crate::envelope::{CredentialsUsed, Status};
use crate::error::{Error, ErrorKind};
use crate::plan::{check_ids, quote, Plan};
use crate::providers::engine::{self, Accepted, Phase};
use crate::providers::select::{pages, Flavor, Listed, Page, Tags};
use crate::providers::Ctx;
use crate::transport::{Api, HttpRequest, RetrySafety};
use reqwest::Method;
use serde::Deserialize;
use std::collections::HashMap;
use std::sync::Mutex;

/// The regions of the ECS SDK region table (huaweicloud-sdk-python-v3
/// `huaweicloudsdkecs/v2/region/ecs_region.py`): `--region all` keeps the IAM regions
/// found here. Written from the two stored versions of that file (the later adds
/// cn-east-4 and ru-moscow-1): 28 regions, where PROVIDERS.md §5 counts 33 — a region
/// the SDK added since is left out of `all` until it is added here (it can still be
/// named with `--region`).
pub const REGIONS: &[&str] = &[
    "af-south-1",
    "ae-ad-1",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-southeast-3",
    "ap-southeast-4",
    "cn-east-2",
    "cn-east-3",
    "cn-east-4",
    "cn-east-5",
    "cn-north-1",
    "cn-north-2",
    "cn-north-4",
    "cn-north-9",
    "cn-south-1",
    "cn-south-2",
    "cn-south-4",
    "cn-southwest-2",
    "eu-west-0",
    "eu-west-101",
    "la-north-2",
    "la-south-2",
    "me-east-1",
    "my-kualalumpur-1",
    "na-mexico-1",
    "ru-moscow-1",
    "sa-brazil-1",
    "tr-west-1",
];

/// Servers per BatchStopServers call (more → `Ecs.0118`).
pub const CHUNK: usize = 1000;

/// After a timeout, a dropped connection or a 5xx the batch may have been accepted:
/// the transport does not repeat it; the engine asks ShowServer first.
const BATCH_STOP: Api = Api {
    name: "huawei.ecs.BatchStopServers",
    default_rate: 5.0,
    safety: RetrySafety::QueryFirst,
};

const SHOW_JOB: Api = Api {
    name: "huawei.ecs.ShowJob",
    default_rate: 10.0,
    safety: RetrySafety::Repeatable,
};

const SHOW_SERVER: Api = Api {
    name: "huawei.ecs.ShowServer",
    default_rate: 10.0,
    safety: RetrySafety::Repeatable,
};

/// A UUID in the lower case Huawei gives its ids in: ECS compares ids exactly, so an
/// upper-case one is unknown to it, and one such id makes it refuse the whole batch.
/// Selection by ListServersDetails (PROVIDERS.md §4c): a read, 5/s [a choice].
const LIST_SERVERS: Api = Api {
    name: "huawei.ecs.ListServersDetails",
    default_rate: 5.0,
    safety: RetrySafety::Repeatable,
};

/// Servers per ListServersDetails page (`limit` ≤ 1000).
const LIST_LIMIT: usize = 1000;

/// ECS `status` words (PROVIDERS.md §3, §4g); a stop under way is `ACTIVE` with
/// `task_state` `powering-off` (see [`list`]).
pub const SELECT: Flavor = Flavor {
    noun: "Huawei ECS server",
    tags: Tags::KeyValue,
    running: &["ACTIVE"],
    pending: &["BUILD"],
    stopped: &["SHUTOFF"],
    done: &["SHUTOFF", "SHELVED", "SHELVED_OFFLOADED", "DELETED"],
    under_way: &[],
    other: &[
        "REBOOT",
        "HARD_REBOOT",
        "REBUILD",
        "MIGRATING",
        "RESIZE",
        "VERIFY_RESIZE",
        "REVERT_RESIZE",
        "ERROR",
        "UNKNOWN",
    ],
};

#[derive(Deserialize)]
struct ServerList {
    #[serde(default)]
    count: Option<usize>,
    #[serde(default)]
    servers: Vec<ListedServer>,
}

#[derive(Deserialize)]
struct ListedServer {
    id: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    status: String,
    #[serde(rename = "OS-EXT-STS:task_state", default)]
    task_state: Option<String>,
    #[serde(default)]
    tags: Option<Vec<String>>,
}

/// Every server the selectors' query parameters let through, all pages. `offset` is
/// a 1-based page number; `tags` (first `--tag K=V` only) and `name` are "contains"
/// or fuzzy, and `status` is widened: they only narrow, every selector is checked on
/// the answer. `enterprise_project_id=all_granted_eps` lists every permitted project.
pub async fn list(ctx: &Ctx, hw: &Huawei) -> Result<Vec<Listed>, Error> {
    let Some(sel) = &ctx.plan.selectors else {
        return Ok(Vec::new());
    };
    let tag = sel
        .tags
        .iter()
        .find_map(|t| t.value.as_ref().map(|v| format!("{}={v}", t.key)));
    let words = SELECT.all_words(&sel.states);
    let status = match words.as_slice() {
        [one] => Some(*one),
        _ => None,
    };
    let name = sel.literal_name();
    let limit = LIST_LIMIT.to_string();
    let (tag, limit) = (&tag, &limit);
    pages(LIST_LIMIT, |n| async move {
        let page = (n + 1).to_string();
        let mut q: Vec<(&str, &str)> = vec![
            ("enterprise_project_id", "all_granted_eps"),
            ("limit", limit),
            ("offset", &page),
        ];
        if let Some(s) = status {
            q.push(("status", s));
        }
        if let Some(t) = tag {
            q.push(("tags", t));
        }
        if let Some(n) = name {
            q.push(("name", n));
        }
        let a = ctx
            .transport
            .send(
                &LIST_SERVERS,
                || hw.ecs_get(ctx, "cloudservers/detail", &q),
                parse::<ServerList>,
            )
            .await?;
        Ok(Page {
            total: a.data.count,
            items: a
                .data
                .servers
                .into_iter()
                .map(|s| Listed {
                    stopping: s.status == "ACTIVE"
                        && s.task_state.as_deref() == Some("powering-off"),
                    id: s.id,
                    name: s.name,
                    state: s.status,
                    // `key=value`, or a bare `key` (empty value): split on the first `=`.
                    tags: s
                        .tags
                        .unwrap_or_default()
                        .into_iter()
                        .map(|t| match t.split_once('=') {
                            Some((k, v)) => (k.to_string(), Some(v.to_string())),
                            None => (t, Some(String::new())),
                        })
                        .collect(),
                    location: hw.region.clone(),
                    group: None,
                })
                .collect(),
        })
    })
    .await
}

pub fn is_uuid(id: &str) -> bool {
    let b = id.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_digit() || (b'a'..=b'f').contains(c),
        })
}

pub fn validate(plan: &Plan) -> Result<(), Error> {
    for id in &plan.ids {
        let lower = id.to_ascii_lowercase();
        if lower != *id && is_uuid(&lower) {
            return Err(Error::usage(format!(
                "Huawei Cloud ECS server id {} has upper-case letters, which ECS does not know \
(its ids are lower case): use {} (nothing was sent)",
                quote(id),
                quote(&lower)
            )));
        }
    }
    check_ids(
        &plan.ids,
        "Huawei Cloud ECS server id",
        "a lower-case UUID such as 616fb98f-46ca-475e-917e-2563e5a8cd19",
        is_uuid,
    )
}

fn stop_body(ids: &[String], hard: bool) -> String {
    let servers: Vec<serde_json::Value> = ids
        .iter()
        .map(|id| serde_json::json!({ "id": id }))
        .collect();
    serde_json::json!({
        "os-stop": {
            "type": if hard { "HARD" } else { "SOFT" },
            "servers": servers,
        }
    })
    .to_string()
}

/// `server stop`'s wire facts for the engine: BatchStopServers with up to 1000 servers
/// and one job a call; ShowServer settles a call refused because of some of its servers
/// (`Ecs.0114`/`Ecs.0614` missing, `Ecs.0100` state) or one that may have been applied
/// (then up to `--retries` re-posts, each after a read). BatchStopServers names no
/// culprit in a machine-readable form, so even a lone server's refusal is read.
/// `--wait` follows ShowJob.
struct ServerStop<'a> {
    hw: &'a Huawei,
}

impl engine::Api for ServerStop<'_> {
    fn per_call(&self) -> usize {
        CHUNK
    }

    fn credentials_used(&self) -> CredentialsUsed {
        self.hw.credentials_used()
    }

    fn dry_run(&self, ctx: &Ctx, ids: &[String]) -> Result<Vec<HttpRequest>, Error> {
        Ok(vec![self.hw.ecs(
            ctx,
            Method::POST,
            "cloudservers/action",
            stop_body(ids, ctx.plan.hard),
        )?])
    }

    async fn submit(&self, ctx: &Ctx, ids: &[String]) -> Result<Accepted, Error> {
        let (job, request_id) = post(ctx, self.hw, ids).await?;
        Ok(Accepted {
            request_id,
            provider_job_id: Some(job),
        })
    }

    /// ShowServer (one server a read): `SHUTOFF` → stopped, `powering-off` → stopping
    /// (also the trace of a call applied although its answer was lost), 404 → missing
    /// (with ECS's own code), anything else → still to be stopped.
    async fn read(&self, ctx: &Ctx, ids: &[String]) -> Result<Vec<(String, Phase)>, Error> {
        let mut out = Vec::new();
        for id in ids {
            let phase = match show_server(ctx, self.hw, id).await? {
                ServerState::Shutoff => Phase::Stopped,
                ServerState::PoweringOff => Phase::Stopping,
                ServerState::Other => Phase::Running,
                ServerState::Missing(e) => Phase::Failed(e),
            };
            out.push((id.clone(), phase));
        }
        Ok(out)
    }

    fn settle_by_reading(&self, e: &Error) -> bool {
        refused_by_members(e) || (e.retryable && e.maybe_applied)
    }

    fn refusal_phase(&self, _e: &Error) -> Option<Phase> {
        None
    }

    fn resend_rounds(&self, ctx: &Ctx) -> u32 {
        ctx.plan.transport.retries
    }

    fn wait_by_reading(&self) -> bool {
        false
    }
}

pub async fn server_stop(ctx: &Ctx, hw: &Huawei) -> Result<(), Error> {
    engine::run(ctx, &ServerStop { hw }).await?;
    if ctx.plan.wait && !ctx.plan.dry_run {
        wait(ctx, hw).await;
    }
    Ok(())
}

#[derive(Deserialize)]
struct JobAccepted {
    job_id: Option<String>,
}

/// One BatchStopServers call: the job id and the request id.
async fn post(ctx: &Ctx, hw: &Huawei, ids: &[String]) -> Result<(String, Option<String>), Error> {
    let body = stop_body(ids, ctx.plan.hard);
    ctx.transport
        .send(
            &BATCH_STOP,
            || hw.ecs(ctx, Method::POST, "cloudservers/action", body.clone()),
            |raw| {
                let a = parse::<JobAccepted>(raw)?;
                match a.data.job_id {
                    Some(job) if !job.is_empty() => Ok((job, a.request_id)),
                    // A 2xx carrying an error (Common.0024 comes as 202) or nothing usable.
                    _ => {
                        let e = refusal(raw);
                        if e.code.as_deref().is_some_and(|c| !c.starts_with("HTTP ")) {
                            Err(e)
                        } else {
                            Err(Error::new(
                                ErrorKind::Provider,
                                format!(
                                    "BatchStopServers answered without job_id{}: {:?}",
                                    raw.from_url(),
                                    raw.snippet()
                                ),
                            )
                            .retryable(true)
                            .maybe_applied(true))
                        }
                    }
                }
            },
        )
        .await
}

/// A call refused because of some of its servers: missing (404 `Ecs.0114`/`Ecs.0614`)
/// or in a state that forbids stopping (400 `Ecs.0100`, e.g. already stopped).
fn refused_by_members(e: &Error) -> bool {
    matches!(
        e.code.as_deref(),
        Some("Ecs.0114" | "Ecs.0614" | "Ecs.0100")
    )
}

/// What ShowServer says of one server.
enum ServerState {
    Missing(Error),
    Shutoff,
    PoweringOff,
    /// Neither stopped nor stopping: still to be stopped.
    Other,
}

#[derive(Deserialize)]
struct ShowServerAnswer {
    server: ServerBody,
}

#[derive(Deserialize)]
struct ServerBody {
    #[serde(default)]
    status: String,
    #[serde(rename = "OS-EXT-STS:task_state", default)]
    task_state: Option<String>,
}

async fn show_server(ctx: &Ctx, hw: &Huawei, id: &str) -> Result<ServerState, Error> {
    let path = format!("cloudservers/{id}");
    let r = ctx
        .transport
        .send(
            &SHOW_SERVER,
            || hw.ecs(ctx, Method::GET, &path, String::new()),
            |raw| parse::<ShowServerAnswer>(raw).map(|a| a.data.server),
        )
        .await;
    match r {
        Ok(s) if s.status == "SHUTOFF" => Ok(ServerState::Shutoff),
        Ok(s) if s.task_state.as_deref() == Some("powering-off") => Ok(ServerState::PoweringOff),
        Ok(_) => Ok(ServerState::Other),
        Err(e) if e.kind == ErrorKind::NotFound => Ok(ServerState::Missing(e)),
        Err(e) => Err(e),
    }
}

#[derive(Deserialize)]
struct Job {
    status: String,
    #[serde(default)]
    error_code: Option<String>,
    #[serde(default)]
    fail_reason: Option<String>,
    #[serde(default)]
    entities: Option<JobEntities>,
}

#[derive(Deserialize)]
struct JobEntities {
    #[serde(default)]
    sub_jobs: Vec<SubJob>,
}

#[derive(Deserialize)]
struct SubJob {
    #[serde(default)]
    status: String,
    #[serde(default)]
    error_code: Option<String>,
    #[serde(default)]
    fail_reason: Option<String>,
    #[serde(default)]
    entities: Option<SubJobEntities>,
}

#[derive(Deserialize)]
struct SubJobEntities {
    #[serde(default)]
    server_id: Option<String>,
    #[serde(default)]
    errorcode_message: Option<String>,
}

async fn show_job(ctx: &Ctx, hw: &Huawei, job: &str) -> Result<Job, Error> {
    let path = format!("jobs/{job}");
    ctx.transport
        .send(
            &SHOW_JOB,
            || hw.ecs(ctx, Method::GET, &path, String::new()),
            |raw| parse::<Job>(raw).map(|a| a.data),
        )
        .await
}

/// The error of a failed (sub) job.
fn job_error(code: Option<&str>, reason: Option<&str>, what: &str) -> Error {
    let message = reason.filter(|r| !r.is_empty()).map_or_else(
        || format!("the {what} failed"),
        |r| format!("the {what} failed: {r}"),
    );
    match code.filter(|c| !c.is_empty()) {
        Some(c) => {
            let (kind, _) = classify(c, 400);
            Error::new(kind, message).with_code(c)
        }
        None => Error::new(ErrorKind::Provider, message),
    }
}

/// What to wait for: jobs (ShowJob) and servers stopping without a known job
/// (found `powering-off` by ShowServer; polled with ShowServer).
enum Pending {
    Job(String, Vec<String>),
    Server(String),
}

/// Polls until every job is SUCCESS or FAIL, or the deadline passes.
async fn wait(ctx: &Ctx, hw: &Huawei) {
    let mut jobs: Vec<(String, Vec<String>)> = Vec::new();
    let mut pending = Vec::new();
    for id in ctx.ids() {
        let Some(r) = ctx.report.get(id) else {
            continue;
        };
        if r.status != Status::Stopping {
            continue;
        }
        match r.provider_job_id {
            Some(job) => match jobs.iter_mut().find(|(j, _)| *j == job) {
                Some((_, ids)) => ids.push(id.clone()),
                None => jobs.push((job, vec![id.clone()])),
            },
            None => pending.push(Pending::Server(id.clone())),
        }
    }
    pending.extend(jobs.into_iter().map(|(j, ids)| Pending::Job(j, ids)));
    let deadline = ctx.wait_deadline();
    while !pending.is_empty() {
        if !ctx.pause_before_poll(deadline).await {
            let ids: Vec<String> = pending
                .iter()
                .flat_map(|p| match p {
                    Pending::Job(_, ids) => ids.clone(),
                    Pending::Server(id) => vec![id.clone()],
                })
                .collect();
            ctx.wait_timed_out(&ids);
            return;
        }
        let still = Mutex::new(Vec::new());
        ctx.for_each(pending, |p| {
            let still = &still;
            async move {
                let done = match &p {
                    Pending::Job(job, ids) => poll_job(ctx, hw, job, ids).await,
                    Pending::Server(id) => poll_server(ctx, hw, id).await,
                };
                if !done {
                    still.lock().unwrap().push(p);
                }
            }
        })
        .await;
        pending = still.into_inner().unwrap();
    }
}

/// One ShowJob; true once the job's servers are settled.
async fn poll_job(ctx: &Ctx, hw: &Huawei, job: &str, ids: &[String]) -> bool {
    let j = match show_job(ctx, hw, job).await {
        Ok(j) => j,
        // Transient trouble after the retries: keep polling until the deadline.
        Err(e) if e.retryable => {
            tracing::warn!("ShowJob {job}: {}", e.message);
            return false;
        }
        Err(e) => {
            for id in ids {
                ctx.report.mark(id, Status::Failed, &e);
            }
            return true;
        }
    };
    if j.status != "SUCCESS" && j.status != "FAIL" {
        return false;
    }
    let subs: HashMap<&str, &SubJob> = j
        .entities
        .as_ref()
        .map(|e| {
            e.sub_jobs
                .iter()
                .filter_map(|s| Some((s.entities.as_ref()?.server_id.as_deref()?, s)))
                .collect()
        })
        .unwrap_or_default();
    let job_failed = j.status == "FAIL";
    for id in ids {
        match subs.get(id.as_str()) {
            Some(s) if s.status == "SUCCESS" => set_status(ctx, id, Status::Stopped),
            Some(s) if s.status == "FAIL" => {
                let reason = s.fail_reason.as_deref().or(s
                    .entities
                    .as_ref()
                    .and_then(|e| e.errorcode_message.as_deref()));
                let e = job_error(s.error_code.as_deref(), reason, "stop of this server");
                settle_failed_server(ctx, hw, id, e).await;
            }
            // A finished job whose sub job for this server is missing or unfinished:
            // the job's own outcome decides.
            _ if job_failed => {
                let e = job_error(
                    j.error_code.as_deref(),
                    j.fail_reason.as_deref(),
                    "stop job",
                );
                settle_failed_server(ctx, hw, id, e).await;
            }
            _ => set_status(ctx, id, Status::Stopped),
        }
    }
    true
}

/// A failed stop: a missing server is `not_found`; one that is `SHUTOFF` anyway is
/// `already_stopped` (stopping a stopped server may fail its sub job); else `failed`.
async fn settle_failed_server(ctx: &Ctx, hw: &Huawei, id: &str, e: Error) {
    if e.kind == ErrorKind::NotFound {
        ctx.report.update(id, |r| {
            r.status = Status::NotFound;
            r.error = Some((&e).into());
        });
        return;
    }
    match show_server(ctx, hw, id).await {
        Ok(ServerState::Shutoff) => set_status(ctx, id, Status::AlreadyStopped),
        _ => ctx.report.mark(id, Status::Failed, &e),
    }
}

/// One ShowServer for a server stopping without a known job; true once settled.
async fn poll_server(ctx: &Ctx, hw: &Huawei, id: &str) -> bool {
    match show_server(ctx, hw, id).await {
        Ok(ServerState::Shutoff) => {
            set_status(ctx, id, Status::Stopped);
            true
        }
        Ok(ServerState::Missing(e)) => {
            ctx.report.update(id, |r| {
                r.status = Status::NotFound;
                r.error = Some((&e).into());
            });
            true
        }
        Ok(ServerState::PoweringOff) => false,
        Ok(ServerState::Other) => {
            let e = Error::new(
                ErrorKind::Provider,
                "the server is no longer powering off but did not reach SHUTOFF",
            );
            ctx.report.mark(id, Status::Failed, &e);
            true
        }
        Err(e) if e.retryable => false,
        Err(e) => {
            ctx.report.mark(id, Status::Failed, &e);
            true
        }
    }
}

fn set_status(ctx: &Ctx, id: &str, status: Status) {
    ctx.report.update(id, |r| {
        r.status = status;
        r.error = None;
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_job_says_why_with_its_code() {
        let e = job_error(None, Some(""), "stop job");
        assert_eq!((e.kind, e.code.as_deref()), (ErrorKind::Provider, None));
        assert_eq!(e.message, "the stop job failed");
        let e = job_error(Some(""), Some("disk busy"), "stop job");
        assert_eq!((e.kind, e.code.as_deref()), (ErrorKind::Provider, None));
        assert_eq!(e.message, "the stop job failed: disk busy");
        let e = job_error(Some("Ecs.0114"), None, "sub job");
        assert_eq!(
            (e.kind, e.code.as_deref()),
            (ErrorKind::NotFound, Some("Ecs.0114"))
        );
    }
    use crate::providers::engine::Api as _;

    fn err(kind: ErrorKind, retryable: bool, applied: bool) -> Error {
        Error::new(kind, "x")
            .retryable(retryable)
            .maybe_applied(applied)
    }

    #[test]
    fn refusals_by_members_and_possibly_applied_calls_are_settled_by_reading() {
        let (ctx, hw) = crate::providers::huawei::tests::test_client(
            "server stop -p huawei --server-id 3f2a0c4e-6b1d-4d8e-9a57-0c1e2d3f4a5b --retries 4",
        );
        let api = ServerStop { hw: &hw };
        use ErrorKind::*;
        let coded = |kind, code: &str| Error::new(kind, "x").with_code(code);
        for (e, settle) in [
            (coded(NotFound, "Ecs.0114"), true),
            (coded(NotFound, "Ecs.0614"), true),
            (coded(Provider, "Ecs.0100"), true),
            (coded(Provider, "Ecs.0005"), false),
            (err(Provider, true, true), true),
            (err(Throttled, true, false), false),
            (err(Provider, false, true), false),
            (err(Auth, false, false), false),
        ] {
            assert_eq!(api.settle_by_reading(&e), settle, "{e:?}");
            assert!(
                api.refusal_phase(&e).is_none(),
                "every refusal is read, none settled by its code"
            );
        }
        assert_eq!(api.resend_rounds(&ctx), 4);
    }

    #[test]
    fn uuids() {
        for ok in [
            "616fb98f-46ca-475e-917e-2563e5a8cd19",
            "00000000-0000-0000-0000-000000000000",
        ] {
            assert!(is_uuid(ok), "{ok}");
        }
        for bad in [
            "",
            "616FB98F-46CA-475E-917E-2563E5A8CD19",
            "616fb98f-46ca-475e-917e-2563e5a8cD19",
            "616fb98f-46ca-475e-917e-2563e5a8cd1",
            "616fb98f-46ca-475e-917e-2563e5a8cd190",
            "616fb98f46ca-475e-917e-2563e5a8cd19-",
            "616fb98g-46ca-475e-917e-2563e5a8cd19",
            " 616fb98f-46ca-475e-917e-2563e5a8cd1",
            "616fb98f-46ca-475e-917e-2563e5a8cd1\u{e9}",
            "i-12345678",
        ] {
            assert!(!is_uuid(bad), "{bad}");
        }
    }

    #[test]
    fn chunks_of_at_most_1000_in_order() {
        let ids: Vec<String> = (0..2500).map(|i| format!("{i}")).collect();
        let c = crate::providers::chunks(&ids, CHUNK);
        assert_eq!(
            c.iter().map(Vec::len).collect::<Vec<_>>(),
            vec![1000, 1000, 500]
        );
        assert_eq!(c.concat(), ids);
        assert!(crate::providers::chunks(&[], CHUNK).is_empty());
    }

    #[test]
    fn body_is_compact_json() {
        let ids = vec!["616fb98f-46ca-475e-917e-2563e5a8cd19".to_string()];
        let v: serde_json::Value = serde_json::from_str(&stop_body(&ids, true)).unwrap();
        assert_eq!(v["os-stop"]["type"], "HARD");
        assert_eq!(v["os-stop"]["servers"][0]["id"], ids[0]);
        assert!(!stop_body(&ids, false).contains(' '));
    }
}
