//! QingCloud IaaS `server stop`: `GET /iaas/?action=StopInstances&instances.N=…`
//! (≤100 instances a call, one `job_id` per call), `DescribeInstances` to settle a
//! refused or possibly-applied call per instance (on the operation engine), and
//! `--wait` by polling `DescribeJobs` — never by sending the stop again. PROVIDERS.md §2b.

use super::{parse, Qingcloud};
use crate::envelope::{CredentialsUsed, Status};
use crate::error::{Error, ErrorKind};
use crate::plan::{check_ids, is_prefixed_id, Plan};
use crate::providers::engine::{self, Accepted, Phase};
use crate::providers::select::{pages, Flavor, Listed, Page, Tags};
use crate::providers::{chunks, Ctx};
use crate::transport::{Api, HttpRequest, RetrySafety};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

/// Instances per StopInstances / DescribeInstances call (the maximum is undocumented;
/// lists return at most 100 items).
const PER_CALL: usize = 100;

/// After a timeout, a dropped connection or 5000/5100 the stop may have been applied:
/// DescribeInstances is read before anything is sent again. 1200, 1300 and 2500
/// answers mean nothing was done. No per-second limit is documented: 1/s is a choice.
const STOP_INSTANCES: Api = Api {
    name: "qingcloud.iaas.StopInstances",
    default_rate: 1.0,
    safety: RetrySafety::QueryFirst,
};
/// Reads: always safe to repeat.
const DESCRIBE_INSTANCES: Api = Api {
    name: "qingcloud.iaas.DescribeInstances",
    default_rate: 1.0,
    safety: RetrySafety::Repeatable,
};
const DESCRIBE_JOBS: Api = Api {
    name: "qingcloud.iaas.DescribeJobs",
    default_rate: 1.0,
    safety: RetrySafety::Repeatable,
};

/// `--zone all`: the zone list, a read.
const DESCRIBE_ZONES: Api = Api {
    name: "qingcloud.iaas.DescribeZones",
    default_rate: 1.0,
    safety: RetrySafety::Repeatable,
};

const NOT_RUNNING: &str = "ret_code 1400";
const NOT_FOUND: &str = "ret_code 2100";

/// Selection: DescribeTags (exact tag name → tag id), then DescribeInstances per tag.
const DESCRIBE_TAGS: Api = Api {
    name: "qingcloud.iaas.DescribeTags",
    default_rate: 1.0,
    safety: RetrySafety::Repeatable,
};

/// Instance `status` words (PROVIDERS.md §2b, §4g); a stop under way is
/// `transition_status` `stopping` (see [`list`]).
pub const SELECT: Flavor = Flavor {
    noun: "QingCloud instance",
    tags: Tags::Names,
    running: &["running"],
    pending: &["pending"],
    stopped: &["stopped", "suspended"],
    done: &["stopped", "suspended", "terminated", "ceased"],
    under_way: &[],
    other: &[],
};

/// Every page of one IaaS list action (`offset`/`limit` ≤ 100, `total_count`), each
/// item of `set_key` read by `item`.
async fn list_pages<T>(
    ctx: &Ctx,
    qc: &Qingcloud,
    api: &Api,
    action: &str,
    params: &[(String, String)],
    set_key: &str,
    item: impl Fn(&Value) -> Option<T>,
) -> Result<Vec<T>, Error> {
    let item = &item;
    let limit = PER_CALL.to_string();
    let limit = &limit;
    pages(PER_CALL, |n| async move {
        let mut p = params.to_vec();
        p.push(("limit".into(), limit.clone()));
        p.push(("offset".into(), (n * PER_CALL).to_string()));
        let v = ctx
            .transport
            .send(api, || qc.iaas_request(ctx, action, &p), parse)
            .await?;
        Ok(Page {
            items: v[set_key]
                .as_array()
                .map(|a| a.iter().filter_map(item).collect())
                .unwrap_or_default(),
            total: v["total_count"].as_u64().map(|t| t as usize),
        })
    })
    .await
}

/// Every instance the selectors match on the server side, in this zone.
///
/// Tags are names: each `--tag` is looked up with DescribeTags and only a tag whose
/// name equals the whole argument counts. A `--tag` with no such tag means nothing
/// matched — DescribeInstances without `tags.N` would list every instance. Each tag
/// is listed on its own (`tags.1` only) and the id sets are intersected here (AND).
pub async fn list(ctx: &Ctx, qc: &Qingcloud) -> Result<Vec<Listed>, Error> {
    let Some(sel) = &ctx.plan.selectors else {
        return Ok(Vec::new());
    };
    let mut base: Vec<(String, String)> = SELECT
        .all_words(&sel.states)
        .iter()
        .enumerate()
        .map(|(i, w)| (format!("status.{}", i + 1), w.to_string()))
        .collect();
    if let Some(name) = sel.literal_name() {
        base.push(("search_word".into(), name.to_string()));
    }
    let read = |i: &Value| -> Option<Listed> {
        Some(Listed {
            id: i["instance_id"].as_str()?.to_string(),
            name: i["instance_name"].as_str().map(str::to_string),
            state: i["status"].as_str().unwrap_or("").to_string(),
            stopping: i["transition_status"].as_str() == Some("stopping"),
            tags: i["tags"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|t| Some((t["tag_name"].as_str()?.to_string(), None)))
                        .collect()
                })
                .unwrap_or_default(),
            location: qc.zone.clone(),
            group: None,
        })
    };
    if sel.tags.is_empty() {
        return list_pages(
            ctx,
            qc,
            &DESCRIBE_INSTANCES,
            "DescribeInstances",
            &base,
            "instance_set",
            read,
        )
        .await;
    }
    // Per --tag: the instances carrying a tag of exactly that name.
    let mut per_tag: Vec<BTreeMap<String, Listed>> = Vec::new();
    for t in &sel.tags {
        let search = vec![("search_word".to_string(), t.raw.clone())];
        let tag_ids = list_pages(
            ctx,
            qc,
            &DESCRIBE_TAGS,
            "DescribeTags",
            &search,
            "tag_set",
            |tag| {
                (tag["tag_name"].as_str()? == t.raw)
                    .then(|| tag["tag_id"].as_str().map(str::to_string))?
            },
        )
        .await?;
        if tag_ids.is_empty() {
            tracing::info!(
                "no QingCloud tag is named {}: nothing matched",
                crate::plan::quote(&t.raw)
            );
            return Ok(Vec::new());
        }
        let mut found = BTreeMap::new();
        for tag_id in tag_ids {
            let mut p = base.clone();
            p.push(("tags.1".into(), tag_id));
            for mut r in list_pages(
                ctx,
                qc,
                &DESCRIBE_INSTANCES,
                "DescribeInstances",
                &p,
                "instance_set",
                read,
            )
            .await?
            {
                // Listed under this tag id: it carries the tag, whatever the answer shows.
                if !r.tags.iter().any(|(k, _)| *k == t.raw) {
                    r.tags.push((t.raw.clone(), None));
                }
                found.insert(r.id.clone(), r);
            }
        }
        per_tag.push(found);
    }
    let mut sets = per_tag.into_iter();
    let mut all = sets.next().unwrap_or_default();
    for other in sets {
        all.retain(|id, r| match other.get(id) {
            Some(o) => {
                for t in &o.tags {
                    if !r.tags.contains(t) {
                        r.tags.push(t.clone());
                    }
                }
                true
            }
            None => false,
        });
    }
    Ok(all.into_values().collect())
}

/// `^i-[a-z0-9]{8}$`
pub fn is_instance_id(id: &str) -> bool {
    is_prefixed_id(id, "i-", 8)
}

pub fn validate_server_stop(plan: &Plan) -> Result<(), Error> {
    check_ids(
        &plan.ids,
        "QingCloud instance id",
        "i- followed by 8 lower-case letters or digits, e.g. i-rtyv0968",
        is_instance_id,
    )
}

/// `name.1=…&name.2=…`: IaaS lists are 1-based.
fn list_params(name: &str, ids: &[String]) -> Vec<(String, String)> {
    ids.iter()
        .enumerate()
        .map(|(i, id)| (format!("{name}.{}", i + 1), id.clone()))
        .collect()
}

fn stop_params(ctx: &Ctx, ids: &[String]) -> Vec<(String, String)> {
    let mut p = list_params("instances", ids);
    let force = if ctx.plan.hard { "1" } else { "0" };
    p.push(("force".into(), force.into()));
    p
}

/// An instance as DescribeInstances shows it.
#[derive(Debug, Clone)]
struct Instance {
    status: String,
    /// `""` when no transition runs.
    transition: String,
}

fn instance_set(v: &Value) -> HashMap<String, Instance> {
    v["instance_set"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|i| {
                    Some((
                        i["instance_id"].as_str()?.to_string(),
                        Instance {
                            status: i["status"].as_str().unwrap_or("").to_string(),
                            transition: i["transition_status"].as_str().unwrap_or("").to_string(),
                        },
                    ))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// DescribeZones `status.1=active` (with the configured zone, if any, as `zone`) →
/// `zone_set[].zone_id` of the zones whose `status` is `active` (PROVIDERS.md §5).
pub async fn zones(ctx: &Ctx, qc: &Qingcloud) -> Result<Vec<String>, Error> {
    let p = vec![("status.1".to_string(), "active".to_string())];
    let v = ctx
        .transport
        .send(
            &DESCRIBE_ZONES,
            || qc.iaas_request(ctx, "DescribeZones", &p),
            parse,
        )
        .await?;
    Ok(v["zone_set"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter(|z| z["status"].as_str().is_none_or(|s| s == "active"))
                .filter_map(|z| z["zone_id"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default())
}

/// DescribeInstances for `ids` (at most 100); ids that do not exist are left out.
async fn describe_instances(
    ctx: &Ctx,
    qc: &Qingcloud,
    ids: &[String],
) -> Result<HashMap<String, Instance>, Error> {
    let mut p = list_params("instances", ids);
    p.push(("verbose".into(), "0".into()));
    p.push(("limit".into(), PER_CALL.to_string()));
    let outcome = ctx
        .transport
        .send(
            &DESCRIBE_INSTANCES,
            || qc.iaas_request(ctx, "DescribeInstances", &p),
            parse,
        )
        .await;
    match outcome {
        Ok(v) => Ok(instance_set(&v)),
        // A lone unknown id may be refused rather than left out.
        Err(e) if e.code.as_deref() == Some(NOT_FOUND) && ids.len() == 1 => Ok(HashMap::new()),
        Err(e) => Err(e),
    }
}

/// An instance in a state StopInstances refuses (a refused call's code is added by the
/// engine).
fn state_error(id: &str, i: &Instance) -> Error {
    let state = if i.transition.is_empty() {
        i.status.clone()
    } else {
        format!("{} ({})", i.status, i.transition)
    };
    Error::new(
        ErrorKind::Provider,
        format!("instance {id} is {state} and cannot be stopped"),
    )
}

/// DescribeInstances' word for one instance, as a phase of its stop (PROVIDERS.md §2b,
/// §4g): `stopped`, `terminated` and `ceased` hold no running server; `running` with
/// `transition_status` `stopping` is under way; `running` alone still needs the stop;
/// anything else (suspended, pending, a transition such as restarting) refuses it.
fn instance_phase(id: &str, i: &Instance) -> Phase {
    match (i.status.as_str(), i.transition.as_str()) {
        ("stopped" | "terminated" | "ceased", "") => Phase::Stopped,
        ("running", "stopping") => Phase::Stopping,
        ("running", "") => Phase::Running,
        _ => Phase::Failed(state_error(id, i)),
    }
}

/// `server stop`'s wire facts for the engine: StopInstances with up to 100 instances
/// and one `job_id` a call; DescribeInstances to settle a call refused because of some
/// of its instances (1400 not running, 2100 missing) or one that may have been applied
/// (then up to `--retries` re-sends, each after a read). `--wait` follows DescribeJobs.
struct ServerStop<'a> {
    qc: &'a Qingcloud,
}

impl engine::Api for ServerStop<'_> {
    fn per_call(&self) -> usize {
        PER_CALL
    }

    fn per_read(&self) -> usize {
        PER_CALL
    }

    fn credentials_used(&self) -> CredentialsUsed {
        self.qc.credentials_used()
    }

    fn dry_run(&self, ctx: &Ctx, ids: &[String]) -> Result<Vec<HttpRequest>, Error> {
        Ok(vec![self.qc.iaas_request(
            ctx,
            "StopInstances",
            &stop_params(ctx, ids),
        )?])
    }

    async fn submit(&self, ctx: &Ctx, ids: &[String]) -> Result<Accepted, Error> {
        let params = stop_params(ctx, ids);
        let v = ctx
            .transport
            .send(
                &STOP_INSTANCES,
                || self.qc.iaas_request(ctx, "StopInstances", &params),
                parse,
            )
            .await?;
        Ok(Accepted {
            request_id: None,
            provider_job_id: v["job_id"]
                .as_str()
                .filter(|s| !s.is_empty())
                .map(str::to_string),
        })
    }

    async fn read(&self, ctx: &Ctx, ids: &[String]) -> Result<Vec<(String, Phase)>, Error> {
        let found = describe_instances(ctx, self.qc, ids).await?;
        Ok(ids
            .iter()
            .filter_map(|id| Some((id.clone(), instance_phase(id, found.get(id)?))))
            .collect())
    }

    fn settle_by_reading(&self, e: &Error) -> bool {
        e.maybe_applied || matches!(e.code.as_deref(), Some(NOT_RUNNING | NOT_FOUND))
    }

    fn resend_rounds(&self, ctx: &Ctx) -> u32 {
        ctx.plan.transport.retries
    }

    fn wait_by_reading(&self) -> bool {
        false
    }
}

pub async fn server_stop(ctx: &Ctx, qc: &Qingcloud) -> Result<(), Error> {
    engine::run(ctx, &ServerStop { qc }).await?;
    if ctx.plan.wait && !ctx.plan.dry_run {
        wait(ctx, qc).await;
    }
    Ok(())
}

fn not_found(id: &str) -> Error {
    Error::new(ErrorKind::NotFound, format!("instance {id} does not exist")).with_code(NOT_FOUND)
}

/// A job as DescribeJobs shows it.
fn job_of<'a>(v: &'a Value, job: &str) -> Option<&'a Value> {
    v["job_set"]
        .as_array()?
        .iter()
        .find(|j| j["job_id"].as_str() == Some(job))
}

fn set_failed(ctx: &Ctx, ids: &[String], e: &Error) {
    let status = if e.kind == ErrorKind::NotFound {
        Status::NotFound
    } else {
        Status::Failed
    };
    for id in ids {
        ctx.report.mark(id, status, e);
    }
}

/// Polls DescribeJobs for every job of the run until it succeeds (`stopped`) or fails
/// (every instance of a call follows its job). Instances whose stop carried no job id
/// (a lost answer, then `transition_status` `stopping`) are followed with
/// DescribeInstances until `stopped`.
async fn wait(ctx: &Ctx, qc: &Qingcloud) {
    let mut by_job: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut instances: Vec<String> = Vec::new();
    for id in ctx.ids() {
        match ctx.report.get(id) {
            Some(r) if r.status == Status::Stopping => match r.provider_job_id {
                Some(j) => by_job.entry(j).or_default().push(id.clone()),
                None => instances.push(id.clone()),
            },
            _ => {}
        }
    }
    let deadline = ctx.wait_deadline();
    let mut jobs: Vec<String> = by_job.keys().cloned().collect();
    while !jobs.is_empty() || !instances.is_empty() {
        if !ctx.pause_before_poll(deadline).await {
            let ids: Vec<&String> = jobs
                .iter()
                .flat_map(|j| &by_job[j])
                .chain(instances.iter())
                .collect();
            ctx.wait_timed_out(ids);
            return;
        }
        let still_jobs = Mutex::new(Vec::new());
        let by_job = &by_job;
        ctx.for_each(jobs, |job| {
            let still = &still_jobs;
            async move {
                let ids = &by_job[&job];
                let params = list_params("jobs", std::slice::from_ref(&job));
                let outcome = ctx
                    .transport
                    .send(
                        &DESCRIBE_JOBS,
                        || qc.iaas_request(ctx, "DescribeJobs", &params),
                        parse,
                    )
                    .await;
                match outcome {
                    Ok(v) => match job_of(&v, &job).map(|j| (j["status"].as_str(), j)) {
                        Some((Some("successful"), _)) => {
                            for id in ids {
                                ctx.report.update(id, |r| r.status = Status::Stopped);
                            }
                        }
                        Some((Some("failed"), j)) => {
                            let code = j["error_codes"]
                                .as_str()
                                .filter(|c| !c.is_empty())
                                .unwrap_or("failed");
                            let e = Error::new(
                                ErrorKind::Provider,
                                format!("job {job} (StopInstances) failed"),
                            )
                            .with_code(code);
                            set_failed(ctx, ids, &e);
                        }
                        // pending, working, or not listed yet.
                        _ => still.lock().unwrap().push(job),
                    },
                    Err(e) if e.retryable => {
                        tracing::warn!("DescribeJobs {job}: {}", e.message);
                        still.lock().unwrap().push(job);
                    }
                    Err(e) => set_failed(ctx, ids, &e),
                }
            }
        })
        .await;
        let still_instances = Mutex::new(Vec::new());
        ctx.for_each(chunks(&instances, PER_CALL), |chunk| {
            let still = &still_instances;
            async move {
                let found = match describe_instances(ctx, qc, &chunk).await {
                    Ok(f) => f,
                    Err(e) if e.retryable => {
                        tracing::warn!("DescribeInstances: {}", e.message);
                        still.lock().unwrap().extend(chunk);
                        return;
                    }
                    Err(e) => {
                        set_failed(ctx, &chunk, &e);
                        return;
                    }
                };
                for id in chunk {
                    match found.get(&id) {
                        Some(i) if i.status == "stopped" => {
                            ctx.report.update(&id, |r| r.status = Status::Stopped)
                        }
                        Some(i) if i.status == "running" && i.transition == "stopping" => {
                            still.lock().unwrap().push(id)
                        }
                        None => set_failed(ctx, std::slice::from_ref(&id), &not_found(&id)),
                        Some(i) => {
                            let e = Error::new(
                                ErrorKind::Provider,
                                format!(
                                    "instance {id} is {}{} again: the stop did not take effect",
                                    i.status,
                                    if i.transition.is_empty() {
                                        String::new()
                                    } else {
                                        format!(" ({})", i.transition)
                                    }
                                ),
                            )
                            .with_code("stop_not_applied");
                            set_failed(ctx, std::slice::from_ref(&id), &e);
                        }
                    }
                }
            }
        })
        .await;
        let mut next_jobs = still_jobs.into_inner().unwrap();
        next_jobs.sort();
        jobs = next_jobs;
        let mut next_instances = still_instances.into_inner().unwrap();
        ctx.report.sort_in_input_order(&mut next_instances);
        instances = next_instances;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instance_states_map_to_phases() {
        let phase = |status: &str, transition: &str| {
            let i = Instance {
                status: status.into(),
                transition: transition.into(),
            };
            instance_phase("i-aaaaaaaa", &i)
        };
        assert_eq!(phase("stopped", ""), Phase::Stopped);
        assert_eq!(phase("terminated", ""), Phase::Stopped);
        assert_eq!(phase("ceased", ""), Phase::Stopped);
        assert_eq!(phase("running", "stopping"), Phase::Stopping);
        assert_eq!(phase("running", ""), Phase::Running);
        for (status, transition) in [
            ("running", "restarting"),
            ("suspended", ""),
            ("stopped", "starting"),
        ] {
            assert!(
                matches!(phase(status, transition), Phase::Failed(_)),
                "{status}/{transition}"
            );
        }
    }

    #[test]
    fn refusals_and_possibly_applied_calls_are_settled_by_reading() {
        use crate::providers::engine::Api as _;
        use crate::providers::qingcloud::ret_code_error;
        let (ctx, qc) = crate::providers::qingcloud::tests::test_client(
            "server stop -p qingcloud --server-id i-aaaaaaaa,i-bbbbbbbb --retries 3",
        );
        let api = ServerStop { qc: &qc };
        for (e, settle) in [
            (ret_code_error(1400, "not running"), true),
            (ret_code_error(2100, "missing"), true),
            (ret_code_error(5000, "internal"), true),
            (ret_code_error(2500, "throttled"), false),
            (ret_code_error(1200, "bad key"), false),
            (ret_code_error(2400, "quota"), false),
        ] {
            assert_eq!(api.settle_by_reading(&e), settle, "{e:?}");
        }
        assert_eq!(api.resend_rounds(&ctx), 3);
        // A failed call's ids: not found when QingCloud says so, else failed.
        for id in ["i-aaaaaaaa", "i-bbbbbbbb"] {
            ctx.report
                .set(crate::envelope::ResultItem::new(id, Status::Accepted));
        }
        set_failed(&ctx, &["i-aaaaaaaa".to_string()], &not_found("i-aaaaaaaa"));
        set_failed(
            &ctx,
            &["i-bbbbbbbb".to_string()],
            &ret_code_error(2400, "quota"),
        );
        assert_eq!(
            ctx.report.get("i-aaaaaaaa").unwrap().status,
            Status::NotFound
        );
        assert_eq!(ctx.report.get("i-bbbbbbbb").unwrap().status, Status::Failed);
    }

    #[test]
    fn ids() {
        for ok in ["i-rtyv0968", "i-ogbndull", "i-2aypaijz"] {
            assert!(is_instance_id(ok), "{ok}");
        }
        for bad in ["i-rtyv096", "i-RTYV0968", "ins-rtyv0968", "i-rtyv0968 ", ""] {
            assert!(!is_instance_id(bad), "{bad}");
        }
    }

    #[test]
    fn lists_are_one_based() {
        assert_eq!(
            list_params("instances", &["i-a".into(), "i-b".into()]),
            vec![
                ("instances.1".to_string(), "i-a".to_string()),
                ("instances.2".to_string(), "i-b".to_string())
            ]
        );
    }

    #[test]
    fn reads_instance_sets() {
        let v = serde_json::json!({"instance_set": [
            {"instance_id": "i-aaaaaaaa", "status": "running", "transition_status": "stopping"},
            {"instance_id": "i-bbbbbbbb", "status": "stopped", "transition_status": ""},
            {"instance_id": "i-cccccccc", "status": "running", "transition_status": null},
        ], "ret_code": 0});
        let s = instance_set(&v);
        assert_eq!(s["i-aaaaaaaa"].transition, "stopping");
        assert_eq!(s["i-bbbbbbbb"].status, "stopped");
        assert_eq!(s["i-cccccccc"].transition, "");
    }
}
