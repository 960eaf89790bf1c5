//! QingCloud HPC calls: `job stop` (`POST /api/job/stopJobs`, all jobs of one
//! cluster per call), `cluster delete` (`POST /api/cluster/deleteCluster`, one
//! cluster per call so each gets its own `job_id`), and `--wait` by polling
//! `GET /api/operation?jobs=…` — never by sending the stop again. PROVIDERS.md §2.
//! Both run on the operation engine ([`engine::Api`]): a refused call is settled per
//! resource (jobdetail, the operation list, the cluster list), and exactly the ones
//! still running are sent once more.

use super::{parse, Qingcloud};
use crate::envelope::{CredentialsUsed, ResultItem, Status};
use crate::error::{Error, ErrorKind};
use crate::plan::{check_ids, is_prefixed_id, quote, Plan};
use crate::providers::engine::{self, Accepted, Phase};
use crate::providers::select::{pages, Flavor, Listed, Page, Tags};
use crate::providers::Ctx;
use crate::transport::{backoff, Api, HttpRequest, RetrySafety};
use reqwest::Method;
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::Mutex;

const STOP_JOBS_PATH: &str = "/api/job/stopJobs";
const DELETE_CLUSTER_PATH: &str = "/api/cluster/deleteCluster";
const OPERATION_PATH: &str = "/api/operation";
const LIST_CLUSTERS_PATH: &str = "/api/cluster/list";
/// `job_ids` per stopJobs call: the maximum is undocumented (PROVIDERS.md §2).
const MAX_JOBS_PER_CALL: usize = 100;

/// After a timeout or 5000/5100 the stop may have been applied: the operation list is
/// read before it is sent again. 2500, 1200 and 1300 answers mean nothing was done.
const STOP_JOBS: Api = Api {
    name: "qingcloud.hpc.stopJobs",
    default_rate: 1.0,
    safety: RetrySafety::QueryFirst,
};
const DELETE_CLUSTER: Api = Api {
    name: "qingcloud.hpc.deleteCluster",
    default_rate: 1.0,
    safety: RetrySafety::QueryFirst,
};
/// Reads: always safe to repeat.
const LIST_OPERATION: Api = Api {
    name: "qingcloud.hpc.operation",
    default_rate: 1.0,
    safety: RetrySafety::Repeatable,
};
const JOB_DETAIL: Api = Api {
    name: "qingcloud.hpc.jobdetail",
    default_rate: 1.0,
    safety: RetrySafety::Repeatable,
};

/// Selection: the zone's clusters (without `--cluster-id`), then each one's jobs.
const LIST_CLUSTERS: Api = Api {
    name: "qingcloud.hpc.cluster.list",
    default_rate: 1.0,
    safety: RetrySafety::Repeatable,
};
const LIST_JOBS: Api = Api {
    name: "qingcloud.hpc.job.list",
    default_rate: 1.0,
    safety: RetrySafety::Repeatable,
};
/// Items per list page (`limit` ≤ 100).
const LIST_LIMIT: usize = 100;

/// `job_status` words (PROVIDERS.md §4f–g). HPC jobs have no tags.
pub const SELECT: Flavor = Flavor {
    noun: "QingCloud HPC job",
    tags: Tags::None,
    running: &["running"],
    pending: &["pending"],
    stopped: &["finished", "exited", "cancelled", "stopped"],
    done: &["finished", "exited", "cancelled", "stopped"],
    under_way: &[],
    other: &[],
};

/// Every page of an HPC list (`GET`, `limit`/`offset`, `total_count`).
async fn list_pages(
    ctx: &Ctx,
    qc: &Qingcloud,
    api: &Api,
    path: &str,
    params: &[(&str, &str)],
    read: impl Fn(&Value) -> Option<Listed>,
    set_key: &str,
) -> Result<Vec<Listed>, Error> {
    let read = &read;
    let limit = LIST_LIMIT.to_string();
    let limit = &limit;
    pages(LIST_LIMIT, |n| async move {
        let offset = (n * LIST_LIMIT).to_string();
        let mut p: Vec<(&str, &str)> = params.to_vec();
        p.push(("limit", limit));
        p.push(("offset", &offset));
        let v = ctx
            .transport
            .send(
                api,
                || qc.request(ctx, Method::GET, path, &p, String::new()),
                parse,
            )
            .await?;
        let items = v[set_key]
            .as_array()
            .map(|a| a.iter().filter_map(read).collect())
            .unwrap_or_default();
        Ok(Page {
            items,
            total: v["total_count"].as_u64().map(|t| t as usize),
        })
    })
    .await
}

/// Every job of the cluster (`--cluster-id`) or of every cluster of the zone.
pub async fn list(ctx: &Ctx, qc: &Qingcloud) -> Result<Vec<Listed>, Error> {
    let Some(sel) = &ctx.plan.selectors else {
        return Ok(Vec::new());
    };
    let zone = qc.zone.as_str();
    let clusters: Vec<String> = match &ctx.plan.cluster_id {
        Some(c) => vec![c.clone()],
        None => list_pages(
            ctx,
            qc,
            &LIST_CLUSTERS,
            "/api/cluster/list",
            &[("zone", zone)],
            |c| {
                Some(Listed {
                    id: c["cluster_id"].as_str()?.to_string(),
                    name: None,
                    state: String::new(),
                    stopping: false,
                    tags: vec![],
                    location: String::new(),
                    group: None,
                })
            },
            "cluster_set",
        )
        .await?
        .into_iter()
        .map(|c| c.id)
        .collect(),
    };
    let words = SELECT.all_words(&sel.states);
    let mut all = Vec::new();
    for cluster in &clusters {
        let mut params = vec![("cluster_id", cluster.as_str()), ("zone", zone)];
        if let [one] = words.as_slice() {
            params.push(("job_status", one));
        }
        let jobs = list_pages(
            ctx,
            qc,
            &LIST_JOBS,
            "/api/job/list",
            &params,
            |j| {
                Some(Listed {
                    id: j["hpcjob_uuid"].as_str()?.to_string(),
                    name: j["job_name"].as_str().map(str::to_string),
                    state: j["job_status"].as_str().unwrap_or("").to_string(),
                    stopping: false,
                    tags: vec![],
                    location: qc.zone.clone(),
                    group: Some(cluster.clone()),
                })
            },
            "hpc_job_set",
        )
        .await?;
        all.extend(jobs);
    }
    Ok(all)
}

pub fn is_job_id(id: &str) -> bool {
    is_prefixed_id(id, "hpcjob-", 8)
}

/// `^e?hpc-[a-z0-9]{8}$`
pub fn is_cluster_id(id: &str) -> bool {
    is_prefixed_id(id, "hpc-", 8) || is_prefixed_id(id, "ehpc-", 8)
}

/// `^usr-[A-Za-z0-9]{8}$`
pub fn is_run_user(u: &str) -> bool {
    u.strip_prefix("usr-")
        .is_some_and(|r| r.len() == 8 && r.bytes().all(|b| b.is_ascii_alphanumeric()))
}

const CLUSTER_EXPECTED: &str =
    "hpc- or ehpc- followed by 8 lower-case letters or digits, e.g. hpc-6o2qc9tl";

pub fn check_run_user(u: &str) -> Result<(), Error> {
    if is_run_user(u) {
        Ok(())
    } else {
        Err(Error::usage(format!(
            "malformed QingCloud run user {}: expected usr- followed by 8 letters or digits, e.g. usr-IuZxPyn2",
            quote(u)
        )))
    }
}

pub fn validate_job_stop(plan: &Plan) -> Result<(), Error> {
    if plan.selectors.is_some() {
        // Selected jobs carry their cluster; --cluster-id only narrows the listing.
        if let Some(cluster) = &plan.cluster_id {
            check_ids(
                std::slice::from_ref(cluster),
                "QingCloud cluster id",
                CLUSTER_EXPECTED,
                is_cluster_id,
            )?;
        }
        return Ok(());
    }
    let Some(cluster) = &plan.cluster_id else {
        return Err(Error::usage(
            "job stop --provider qingcloud needs --cluster-id: the cluster the jobs run in (e.g. ehpc-8jqdq0mz)",
        ));
    };
    check_ids(
        std::slice::from_ref(cluster),
        "QingCloud cluster id",
        CLUSTER_EXPECTED,
        is_cluster_id,
    )?;
    check_ids(
        &plan.ids,
        "QingCloud HPC job id",
        "hpcjob- followed by 8 lower-case letters or digits, e.g. hpcjob-bp6rj09f",
        is_job_id,
    )
}

pub fn validate_cluster_delete(plan: &Plan) -> Result<(), Error> {
    check_ids(
        &plan.ids,
        "QingCloud cluster id",
        CLUSTER_EXPECTED,
        is_cluster_id,
    )?;
    // deleteCluster has no choice about nodes or storage (PROVIDERS.md §2).
    for (set, flag) in [
        (plan.keep_instances, "--keep-instances"),
        (plan.delete_storage, "--delete-storage"),
    ] {
        if set {
            return Err(Error::usage(format!(
                "{flag} is not available for QingCloud HPC clusters: deleteCluster has no such choice (nothing was sent)"
            )));
        }
    }
    if let Some(u) = &plan.run_user {
        check_run_user(u)?;
    }
    Ok(())
}

/// JSON as Python's `json.dumps(obj, sort_keys=True)` writes it (the SDK's body, and
/// the vectors'): `", "` and `": "` separators, non-ASCII as `\uXXXX`.
pub fn py_json(v: &Value) -> String {
    let mut out = String::new();
    write_py(v, &mut out);
    out
}

fn write_py(v: &Value, out: &mut String) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) => write_py_str(s, out),
        Value::Array(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_py(x, out);
            }
            out.push(']');
        }
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_py_str(k, out);
                out.push_str(": ");
                write_py(&m[k], out);
            }
            out.push('}');
        }
    }
}

fn write_py_str(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 || (c as u32) > 0x7e => {
                let mut buf = [0u16; 2];
                for u in c.encode_utf16(&mut buf) {
                    out.push_str(&format!("\\u{u:04x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

fn stop_body(cluster: &str, ids: &[String], zone: &str) -> String {
    py_json(&serde_json::json!({ "cluster_id": cluster, "job_ids": ids, "zone": zone }))
}

fn delete_body(cluster: &str, qc: &Qingcloud, unlease: Option<&str>) -> String {
    let mut v = serde_json::json!({
        "cluster_ids": [cluster],
        "run_user": qc.run_user.as_deref().unwrap_or_default(),
        "zone": qc.zone,
    });
    if let Some(u) = unlease {
        v["unlease"] = Value::String(u.to_string());
    }
    py_json(&v)
}

fn string_field(v: &Value, key: &str) -> Option<String> {
    v[key]
        .as_str()
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// An operation found in `/api/operation`.
struct Operation {
    job_id: String,
    status: String,
    error_codes: String,
}

fn operations(v: &Value) -> Vec<Operation> {
    v["job_set"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|j| {
                    Some(Operation {
                        job_id: string_field(j, "job_id")?,
                        status: j["status"].as_str().unwrap_or("").to_string(),
                        error_codes: j["error_codes"].as_str().unwrap_or("").to_string(),
                    })
                })
                .collect()
        })
        .unwrap_or_default()
}

/// `GET /api/operation` with `params` (and the zone).
async fn list_operation(
    ctx: &Ctx,
    qc: &Qingcloud,
    params: &[(&str, &str)],
) -> Result<Value, Error> {
    let mut all: Vec<(&str, &str)> = params.to_vec();
    all.push(("zone", &qc.zone));
    ctx.transport
        .send(
            &LIST_OPERATION,
            || qc.request(ctx, Method::GET, OPERATION_PATH, &all, String::new()),
            parse,
        )
        .await
}

/// The operations of `action` (lower-case fragment of `job_action`) on `resource`, as
/// `(job_id, status, resource_ids)`.
async fn operations_on(
    ctx: &Ctx,
    qc: &Qingcloud,
    resource: &str,
    action: &str,
) -> Result<Vec<(String, String, String)>, Error> {
    let v = list_operation(ctx, qc, &[("resource_ids", resource)]).await?;
    Ok(v["job_set"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter(|j| {
                    j["job_action"]
                        .as_str()
                        .unwrap_or("")
                        .to_ascii_lowercase()
                        .contains(action)
                })
                .filter_map(|j| {
                    Some((
                        string_field(j, "job_id")?,
                        j["status"].as_str().unwrap_or("").to_string(),
                        j["resource_ids"].as_str().unwrap_or("").to_string(),
                    ))
                })
                .collect()
        })
        .unwrap_or_default())
}

fn under_way(status: &str) -> bool {
    matches!(status, "pending" | "working")
}

/// An operation of `action` still running on `resource`: the sign that a call whose
/// answer was lost took effect.
async fn running_operation(
    ctx: &Ctx,
    qc: &Qingcloud,
    resource: &str,
    action: &str,
) -> Result<Option<String>, Error> {
    let ops = operations_on(ctx, qc, resource, action).await?;
    Ok(ops
        .into_iter()
        .find(|(_, status, _)| under_way(status))
        .map(|(job, _, _)| job))
}

/// Sends a stop/delete call. The transport retries what surely was not applied; when
/// an attempt may have been (timeout, 5000, 5100), the operation list is read first and
/// the call is sent again only if no such operation is running.
/// A stop or delete call, as [`send_query_first`] sends it.
struct Call<'a> {
    api: &'a Api,
    path: &'a str,
    body: String,
    /// The resource whose operations show whether a lost attempt took effect.
    resource: &'a str,
    /// Lower-case fragment of such an operation's `job_action`.
    action: &'a str,
    /// The answer's field carrying the async job id.
    job_field: &'a str,
}

async fn send_query_first(
    ctx: &Ctx,
    qc: &Qingcloud,
    call: &Call<'_>,
) -> Result<Option<String>, Error> {
    let Call {
        api,
        path,
        body,
        resource,
        action,
        job_field,
    } = call;
    let mut round = 0u32;
    loop {
        let outcome = ctx
            .transport
            .send(
                api,
                || qc.request(ctx, Method::POST, path, &[], body.to_string()),
                parse,
            )
            .await;
        match outcome {
            Ok(v) => return Ok(string_field(&v, job_field)),
            Err(e) if e.retryable && e.maybe_applied && round < ctx.plan.transport.retries => {
                tracing::info!(
                    api = api.name,
                    "the call may have been applied ({}): reading the operations of {resource} first",
                    e.message
                );
                match running_operation(ctx, qc, resource, action).await {
                    Ok(Some(job)) => return Ok(Some(job)),
                    Ok(None) => {
                        tokio::time::sleep(backoff(round)).await;
                        round += 1;
                    }
                    Err(_) => return Err(e),
                }
            }
            Err(e) => return Err(e),
        }
    }
}

/// Whether a refusal is settled by reading each resource: QingCloud's own answer
/// (`ret_code`) refusing for a resource's sake — 1400 (its state forbids it: finished,
/// being stopped, deleted), 2100 (one of them is missing) and the like. A call that may
/// have been applied was already settled by [`send_query_first`]; a throttled, auth or
/// HTTP-level failure says nothing of the resources.
fn refused_for_a_resource(e: &Error) -> bool {
    !e.maybe_applied
        && !e.retryable
        && matches!(e.kind, ErrorKind::Provider | ErrorKind::NotFound)
        && e.code
            .as_deref()
            .is_some_and(|c| c.starts_with("ret_code "))
}

/// `job stop`'s wire facts for the engine: stopJobs in calls of 100 jobs of one
/// cluster; a job's state from jobdetail, and a stop under way from the cluster's
/// operations. `--wait` follows the operations (one poll per stopJobs job).
struct JobStop<'a> {
    qc: &'a Qingcloud,
    cluster: &'a str,
    /// Operation ids found while reading (a stop under way), for `--wait`.
    found_ops: Mutex<BTreeMap<String, String>>,
}

/// jobdetail's `job_status` (PROVIDERS.md §2, §4g) as a phase.
fn job_phase(status: &str) -> Phase {
    match status {
        "pending" | "running" => Phase::Running,
        "finished" | "exited" | "cancelled" | "canceled" | "stopped" => Phase::Stopped,
        s if ["stopping", "cancelling", "canceling", "terminating"].contains(&s) => Phase::Stopping,
        // An unknown word: still to be stopped (a re-send refused again fails).
        _ => Phase::Running,
    }
}

impl JobStop<'_> {
    /// `GET /api/job/jobdetail/<id>?cluster_id=…&zone=…` → `hpc_job_set[0].job_status`;
    /// `None` when QingCloud says the job does not exist (2100, or an empty set).
    async fn job_status(&self, ctx: &Ctx, id: &str) -> Result<Option<String>, Error> {
        let path = format!("/api/job/jobdetail/{id}");
        let params = [
            ("cluster_id", self.cluster),
            ("zone", self.qc.zone.as_str()),
        ];
        let v = match ctx
            .transport
            .send(
                &JOB_DETAIL,
                || {
                    self.qc
                        .request(ctx, Method::GET, &path, &params, String::new())
                },
                parse,
            )
            .await
        {
            Ok(v) => v,
            Err(e) if e.kind == ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        match &v["hpc_job_set"] {
            Value::Array(a) if a.is_empty() => Ok(None),
            set => set[0]["job_status"]
                .as_str()
                .map(|s| Some(s.to_string()))
                .ok_or_else(|| {
                    Error::new(ErrorKind::Provider, "jobdetail answered without job_status")
                        .retryable(true)
                }),
        }
    }
}

impl engine::Api for JobStop<'_> {
    fn per_call(&self) -> usize {
        MAX_JOBS_PER_CALL
    }

    /// jobdetail reads one job a request; a read call takes a whole stopJobs call's
    /// jobs so that the cluster's operations are listed once for them.
    fn per_read(&self) -> usize {
        MAX_JOBS_PER_CALL
    }

    fn credentials_used(&self) -> CredentialsUsed {
        self.qc.credentials_used()
    }

    fn dry_run(&self, ctx: &Ctx, ids: &[String]) -> Result<Vec<HttpRequest>, Error> {
        let body = stop_body(self.cluster, ids, &self.qc.zone);
        Ok(vec![self.qc.request(
            ctx,
            Method::POST,
            STOP_JOBS_PATH,
            &[],
            body,
        )?])
    }

    async fn submit(&self, ctx: &Ctx, ids: &[String]) -> Result<Accepted, Error> {
        let call = Call {
            api: &STOP_JOBS,
            path: STOP_JOBS_PATH,
            body: stop_body(self.cluster, ids, &self.qc.zone),
            resource: self.cluster,
            action: "stopjob",
            job_field: "job_uuid",
        };
        let job = send_query_first(ctx, self.qc, &call).await?;
        Ok(Accepted {
            request_id: None,
            provider_job_id: job,
        })
    }

    /// jobdetail per job; for jobs still running, a stopJobs operation under way on the
    /// cluster (naming the job, or naming no job at all) means their stop is under way —
    /// jobdetail has no word for "being stopped".
    async fn read(&self, ctx: &Ctx, ids: &[String]) -> Result<Vec<(String, Phase)>, Error> {
        let mut out = Vec::new();
        for id in ids {
            if let Some(status) = self.job_status(ctx, id).await? {
                out.push((id.clone(), job_phase(&status)));
            }
        }
        if out.iter().any(|(_, p)| *p == Phase::Running) {
            let ops = operations_on(ctx, self.qc, self.cluster, "stopjob").await?;
            for (id, phase) in out.iter_mut().filter(|(_, p)| *p == Phase::Running) {
                let covering = ops.iter().find(|(_, status, resources)| {
                    under_way(status)
                        && (resources.contains(id.as_str()) || !resources.contains("hpcjob-"))
                });
                if let Some((job, _, _)) = covering {
                    *phase = Phase::Stopping;
                    self.found_ops
                        .lock()
                        .unwrap()
                        .insert(id.clone(), job.clone());
                }
            }
        }
        Ok(out)
    }

    fn settle_by_reading(&self, e: &Error) -> bool {
        refused_for_a_resource(e)
    }

    fn wait_by_reading(&self) -> bool {
        false
    }
}

/// Gives a result found under way by a read the operation it follows.
fn attach_found_ops(ctx: &Ctx, found: &Mutex<BTreeMap<String, String>>) {
    for (id, job) in found.lock().unwrap().iter() {
        ctx.report.update(id, |r| {
            if r.provider_job_id.is_none() && r.error.is_none() {
                r.provider_job_id = Some(job.clone());
            }
        });
    }
}

pub async fn job_stop(ctx: &Ctx, qc: &Qingcloud) -> Result<(), Error> {
    // One cluster per call: with ids the one --cluster-id; jobs found by selectors
    // carry their own cluster, and each cluster's jobs go through the engine apart.
    let mut by_cluster: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for id in ctx.ids() {
        let cluster = ctx
            .group_of(id)
            .map(str::to_string)
            .or_else(|| ctx.plan.cluster_id.clone())
            .ok_or_else(|| Error::usage("job stop --provider qingcloud needs --cluster-id"))?;
        by_cluster.entry(cluster).or_default().push(id.clone());
    }
    // Selected jobs already stopping are followed by `--wait` in their cluster's run.
    let mut under_way: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for id in ctx.under_way_matches() {
        let cluster = ctx.group_of(id).or(ctx.plan.cluster_id.as_deref());
        if let Some(cluster) = cluster {
            by_cluster.entry(cluster.to_string()).or_default();
            under_way
                .entry(cluster.to_string())
                .or_default()
                .push(id.clone());
        }
    }
    let several = by_cluster.len() > 1;
    for (cluster, ids) in by_cluster {
        let group;
        let gctx = if several {
            group = ctx.for_group(ids, under_way.remove(&cluster).unwrap_or_default());
            &group
        } else {
            ctx
        };
        let api = JobStop {
            qc,
            cluster: &cluster,
            found_ops: Mutex::new(BTreeMap::new()),
        };
        engine::run(gctx, &api).await?;
        attach_found_ops(gctx, &api.found_ops);
    }
    if ctx.plan.wait && !ctx.plan.dry_run {
        wait(ctx, qc, Status::Stopping, Status::Stopped).await;
    }
    Ok(())
}

/// `cluster delete`'s wire facts for the engine: deleteCluster one cluster a call (each
/// gets its own operation); a cluster's state from its deleteCluster operations, else
/// the cluster list. `--wait` follows the operations.
struct ClusterDelete<'a> {
    qc: &'a Qingcloud,
    unlease: Option<&'a str>,
    found_ops: Mutex<BTreeMap<String, String>>,
}

/// A cluster status (`cluster_list`) as a phase of its deletion.
fn cluster_phase(status: &str) -> Phase {
    match status {
        "deleted" | "ceased" => Phase::Gone,
        s if s.contains("delet") => Phase::Stopping,
        _ => Phase::Running,
    }
}

impl ClusterDelete<'_> {
    /// The cluster's status from `GET /api/cluster/list` (every page of the zone);
    /// `None` when it is not listed.
    async fn cluster_status(&self, ctx: &Ctx, id: &str) -> Result<Option<String>, Error> {
        let limit = 100usize;
        let mut offset = 0usize;
        loop {
            let (l, o) = (limit.to_string(), offset.to_string());
            let params = [
                ("zone", self.qc.zone.as_str()),
                ("limit", l.as_str()),
                ("offset", o.as_str()),
            ];
            let v = ctx
                .transport
                .send(
                    &LIST_CLUSTERS,
                    || {
                        self.qc.request(
                            ctx,
                            Method::GET,
                            LIST_CLUSTERS_PATH,
                            &params,
                            String::new(),
                        )
                    },
                    parse,
                )
                .await?;
            let set = v["cluster_set"].as_array().cloned().unwrap_or_default();
            if let Some(c) = set.iter().find(|c| c["cluster_id"].as_str() == Some(id)) {
                let status = c["cluster_status"]
                    .as_str()
                    .or_else(|| c["status"].as_str())
                    .unwrap_or("");
                let transition = c["transition_status"].as_str().unwrap_or("");
                return Ok(Some(if transition.is_empty() {
                    status.to_string()
                } else {
                    transition.to_string()
                }));
            }
            offset += set.len();
            let total = v["total_count"].as_u64().unwrap_or(0) as usize;
            if set.len() < limit || offset >= total {
                return Ok(None);
            }
        }
    }
}

impl engine::Api for ClusterDelete<'_> {
    fn credentials_used(&self) -> CredentialsUsed {
        self.qc.credentials_used()
    }

    fn dry_run(&self, ctx: &Ctx, ids: &[String]) -> Result<Vec<HttpRequest>, Error> {
        ids.iter()
            .map(|id| {
                let body = delete_body(id, self.qc, self.unlease);
                self.qc
                    .request(ctx, Method::POST, DELETE_CLUSTER_PATH, &[], body)
            })
            .collect()
    }

    async fn submit(&self, ctx: &Ctx, ids: &[String]) -> Result<Accepted, Error> {
        let id = &ids[0];
        let call = Call {
            api: &DELETE_CLUSTER,
            path: DELETE_CLUSTER_PATH,
            body: delete_body(id, self.qc, self.unlease),
            resource: id,
            action: "deletecluster",
            job_field: "job_id",
        };
        let job = send_query_first(ctx, self.qc, &call).await?;
        Ok(Accepted {
            request_id: None,
            provider_job_id: job,
        })
    }

    /// A deleteCluster operation under way → deleting; one that succeeded → gone;
    /// otherwise the cluster list decides (absent, `deleted` or `ceased` → gone).
    async fn read(&self, ctx: &Ctx, ids: &[String]) -> Result<Vec<(String, Phase)>, Error> {
        let mut out = Vec::new();
        for id in ids {
            let ops = operations_on(ctx, self.qc, id, "deletecluster").await?;
            if let Some((job, _, _)) = ops.iter().find(|(_, s, _)| under_way(s)) {
                self.found_ops
                    .lock()
                    .unwrap()
                    .insert(id.clone(), job.clone());
                out.push((id.clone(), Phase::Stopping));
            } else if ops.iter().any(|(_, s, _)| s == "successful") {
                out.push((id.clone(), Phase::Gone));
            } else if let Some(status) = self.cluster_status(ctx, id).await? {
                out.push((id.clone(), cluster_phase(&status)));
            }
        }
        Ok(out)
    }

    fn settle_by_reading(&self, e: &Error) -> bool {
        refused_for_a_resource(e)
    }

    fn wait_by_reading(&self) -> bool {
        false
    }
}

pub async fn cluster_delete(ctx: &Ctx, qc: &Qingcloud) -> Result<(), Error> {
    let api = ClusterDelete {
        qc,
        unlease: ctx.plan.unlease.as_deref(),
        found_ops: Mutex::new(BTreeMap::new()),
    };
    engine::run(ctx, &api).await?;
    attach_found_ops(ctx, &api.found_ops);
    if ctx.plan.wait && !ctx.plan.dry_run {
        wait(ctx, qc, Status::Deleting, Status::Deleted).await;
    }
    Ok(())
}

/// Polls `/api/operation?jobs=<j>` for every async job until it succeeds or fails
/// (every id sharing the job follows it), or the deadline passes.
async fn wait(ctx: &Ctx, qc: &Qingcloud, on_the_way: Status, done: Status) {
    // job id → the requested ids it covers, in input order.
    let mut by_job: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for id in ctx.ids() {
        if let Some(r) = ctx.report.get(id) {
            if r.status == on_the_way {
                match r.provider_job_id {
                    Some(j) => by_job.entry(j).or_default().push(id.clone()),
                    None => ctx.report.update(id, |r| {
                        let e = Error::new(
                            ErrorKind::Provider,
                            "the answer carried no job id to wait for",
                        );
                        r.error = Some((&e).into());
                    }),
                }
            }
        }
    }
    let deadline = ctx.wait_deadline();
    let mut pending: Vec<String> = by_job.keys().cloned().collect();
    while !pending.is_empty() {
        if !ctx.pause_before_poll(deadline).await {
            let ids: Vec<&String> = pending.iter().flat_map(|j| &by_job[j]).collect();
            ctx.wait_timed_out(ids);
            return;
        }
        let still = Mutex::new(Vec::new());
        let by_job = &by_job;
        ctx.for_each(pending, |job| {
            let still = &still;
            async move {
                let ids = &by_job[&job];
                let set = |f: &dyn Fn(&mut ResultItem)| {
                    for id in ids {
                        ctx.report.update(id, f);
                    }
                };
                let fail = |e: &Error| {
                    for id in ids {
                        ctx.report.mark(id, Status::Failed, e);
                    }
                };
                match list_operation(ctx, qc, &[("jobs", &job)]).await {
                    Ok(v) => {
                        let ops = operations(&v);
                        let op = ops.iter().find(|o| o.job_id == job);
                        match op.map(|o| o.status.as_str()) {
                            Some("successful") => set(&|r| r.status = done),
                            Some("failed") => {
                                let o = op.unwrap();
                                let code = if o.error_codes.is_empty() {
                                    "failed".to_string()
                                } else {
                                    o.error_codes.clone()
                                };
                                let e = Error::new(
                                    ErrorKind::Provider,
                                    format!("operation {job} failed"),
                                )
                                .with_code(code);
                                fail(&e);
                            }
                            _ => still.lock().unwrap().push(job),
                        }
                    }
                    Err(e) if e.retryable => {
                        tracing::warn!("operation {job}: {}", e.message);
                        still.lock().unwrap().push(job);
                    }
                    Err(e) => fail(&e),
                }
            }
        })
        .await;
        let mut next = still.into_inner().unwrap();
        next.sort();
        pending = next;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_engine_hooks_settle_qingclouds_own_refusals_by_reading() {
        use crate::providers::engine::Api as _;
        use crate::providers::qingcloud::ret_code_error;
        let (_ctx, qc) = crate::providers::qingcloud::tests::test_client(
            "job stop -p qingcloud --job-id job-aaaaaaaa --cluster-id hpc-aaaaaaaa",
        );
        let jobs = JobStop {
            qc: &qc,
            cluster: "hpc-aaaaaaaa",
            found_ops: Mutex::new(BTreeMap::new()),
        };
        let clusters = ClusterDelete {
            qc: &qc,
            unlease: None,
            found_ops: Mutex::new(BTreeMap::new()),
        };
        for (e, settle) in [
            (ret_code_error(1400, "state"), true),
            (ret_code_error(2500, "throttled"), false),
        ] {
            assert_eq!(jobs.settle_by_reading(&e), settle, "{e:?}");
            assert_eq!(clusters.settle_by_reading(&e), settle, "{e:?}");
        }
    }

    #[test]
    fn job_and_cluster_states_map_to_phases() {
        for (status, phase) in [
            ("pending", Phase::Running),
            ("running", Phase::Running),
            ("finished", Phase::Stopped),
            ("exited", Phase::Stopped),
            ("cancelled", Phase::Stopped),
            ("canceled", Phase::Stopped),
            ("stopped", Phase::Stopped),
            ("stopping", Phase::Stopping),
            ("cancelling", Phase::Stopping),
            ("canceling", Phase::Stopping),
            ("terminating", Phase::Stopping),
            ("something-new", Phase::Running),
        ] {
            assert_eq!(job_phase(status), phase, "job {status}");
        }
        for (status, phase) in [
            ("deleted", Phase::Gone),
            ("ceased", Phase::Gone),
            ("deleting", Phase::Stopping),
            ("pending_delete", Phase::Stopping),
            ("active", Phase::Running),
            ("stopped", Phase::Running),
        ] {
            assert_eq!(cluster_phase(status), phase, "cluster {status}");
        }
    }

    #[test]
    fn only_qingclouds_own_refusals_are_settled_by_reading() {
        use crate::providers::qingcloud::ret_code_error;
        for (e, settle) in [
            (ret_code_error(1400, "job finished"), true),
            (ret_code_error(2100, "no such job"), true),
            (ret_code_error(2400, "quota"), true),
            (ret_code_error(5000, "internal"), false),
            (ret_code_error(5300, "busy, nothing done"), false),
            (ret_code_error(2500, "throttled"), false),
            (ret_code_error(1200, "bad key"), false),
            (ret_code_error(1300, "expired"), false),
            (
                Error::new(ErrorKind::Provider, "HTTP 400").with_code("HTTP 400"),
                false,
            ),
            (Error::new(ErrorKind::Provider, "no code"), false),
        ] {
            assert_eq!(refused_for_a_resource(&e), settle, "{e:?}");
        }
    }

    #[test]
    fn ids() {
        for ok in ["hpcjob-bp6rj09f", "hpcjob-k3x9w2qa"] {
            assert!(is_job_id(ok), "{ok}");
        }
        for bad in [
            "hpcjob-bp6rj09",
            "hpcjob-BP6RJ09F",
            "job-bp6rj09f",
            "hpcjob-bp6rj09f ",
        ] {
            assert!(!is_job_id(bad), "{bad}");
        }
        for ok in ["hpc-6o2qc9tl", "ehpc-8jqdq0mz"] {
            assert!(is_cluster_id(ok), "{ok}");
        }
        for bad in [
            "hpc-6o2qc9t",
            "xhpc-6o2qc9tl",
            "ehpc-8JQDQ0MZ",
            "eehpc-8jqdq0mz",
            "",
        ] {
            assert!(!is_cluster_id(bad), "{bad}");
        }
        for ok in ["usr-IuZxPyn2", "usr-abcdefgh"] {
            assert!(is_run_user(ok), "{ok}");
        }
        for bad in [
            "usr-IuZxPyn",
            "USR-IuZxPyn2",
            "usr-IuZx-yn2",
            "usr-IuZxPyn22",
        ] {
            assert!(!is_run_user(bad), "{bad}");
        }
    }

    #[test]
    fn bodies_match_the_sdk() {
        let v: Value =
            serde_json::from_str(include_str!("../../../tests/vectors/qingcloud.json")).unwrap();
        let body = |name: &str| {
            v["cases"]
                .as_array()
                .unwrap()
                .iter()
                .find(|c| c["name"] == name)
                .unwrap()["inputs"]["body"]
                .as_str()
                .unwrap()
                .to_string()
        };
        assert_eq!(
            stop_body(
                "ehpc-8jqdq0mz",
                &["hpcjob-bp6rj09f".into(), "hpcjob-k3x9w2qa".into()],
                "jn1a"
            ),
            body("hpc_stop_jobs")
        );
        assert_eq!(
            py_json(&serde_json::json!({
                "zone": "jn1a", "run_user": "usr-IuZxPyn2", "cluster_ids": ["hpc-6o2qc9tl"]
            })),
            body("hpc_delete_cluster")
        );
        assert_eq!(
            py_json(&serde_json::json!({"a": "é\"\n😀", "b": [1, true, null]})),
            r#"{"a": "\u00e9\"\n\ud83d\ude00", "b": [1, true, null]}"#
        );
    }
}
