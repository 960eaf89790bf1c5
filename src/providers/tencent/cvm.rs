//! Tencent Cloud CVM `server stop`: `StopInstances` (≤100 instances a call) on the
//! operation engine, with `--wait` polling `DescribeInstancesStatus` — never sending
//! the stop again.
//! PROVIDERS.md §1b.

use super::{classify_common, list_all, parse_answer, selection_filters, TagPair, Tencent, CVM};
use crate::envelope::{CredentialsUsed, Status};
use crate::error::{Error, ErrorKind};
use crate::plan::{check_ids, is_prefixed_id, Plan};
use crate::providers::engine::{self, Accepted, Phase};
use crate::providers::select::{Flavor, Listed, Page, Tags};
use crate::providers::Ctx;
use crate::transport::{Api, HttpRequest, RetrySafety};
use serde::Deserialize;
use std::collections::HashMap;
use std::sync::Mutex;

/// Instances a call takes (more → `InvalidParameterValue.LimitExceeded`).
const PER_CALL: usize = 100;

/// Repeating StopInstances is harmless in effect; a repeat on an instance the first
/// attempt already stopped is refused with `InstanceStateStopping`/`Stopped`, which
/// the engine settles as `stopping`/`already_stopped` (by the code for a lone
/// instance, else by DescribeInstances).
const STOP_INSTANCES: Api = Api {
    name: "tencent.cvm.StopInstances",
    default_rate: 10.0,
    safety: RetrySafety::Repeatable,
};

/// Reads: always safe to repeat.
const DESCRIBE_INSTANCES_STATUS: Api = Api {
    name: "tencent.cvm.DescribeInstancesStatus",
    default_rate: 40.0,
    safety: RetrySafety::Repeatable,
};
const DESCRIBE_INSTANCES: Api = Api {
    name: "tencent.cvm.DescribeInstances",
    default_rate: 10.0,
    safety: RetrySafety::Repeatable,
};

/// Selection by `DescribeInstances` (PROVIDERS.md §4a): a read, 40/s.
const LIST_INSTANCES: Api = Api {
    name: "tencent.cvm.DescribeInstances.list",
    default_rate: 40.0,
    safety: RetrySafety::Repeatable,
};

/// `InstanceState` words (PROVIDERS.md §1b, §4g).
pub const SELECT: Flavor = Flavor {
    noun: "Tencent CVM instance",
    tags: Tags::KeyValue,
    running: &["RUNNING"],
    pending: &["PENDING"],
    stopped: &["STOPPED", "SHUTDOWN"],
    done: &["STOPPED", "SHUTDOWN", "TERMINATING", "LAUNCH_FAILED"],
    under_way: &["STOPPING"],
    other: &[
        "STARTING",
        "REBOOTING",
        "ENTER_RESCUE_MODE",
        "RESCUE_MODE",
        "EXIT_RESCUE_MODE",
        "ENTER_SERVICE_LIVE_MIGRATE",
        "SERVICE_LIVE_MIGRATE",
        "EXIT_SERVICE_LIVE_MIGRATE",
    ],
};

#[derive(Deserialize)]
struct ListedSet {
    #[serde(rename = "InstanceSet", default)]
    set: Vec<ListedInstance>,
    #[serde(rename = "TotalCount", default)]
    total: Option<usize>,
}

#[derive(Deserialize)]
struct ListedInstance {
    #[serde(rename = "InstanceId")]
    id: String,
    #[serde(rename = "InstanceName", default)]
    name: Option<String>,
    #[serde(rename = "InstanceState", default)]
    state: String,
    #[serde(rename = "Tags", default)]
    tags: Option<Vec<TagPair>>,
}

/// Every instance the selectors' filters let through, all pages.
pub async fn list(ctx: &Ctx, tc: &Tencent) -> Result<Vec<Listed>, Error> {
    let Some(sel) = &ctx.plan.selectors else {
        return Ok(Vec::new());
    };
    let filters = selection_filters(sel, &SELECT, "instance-state", "instance-name");
    list_all(
        ctx,
        tc,
        CVM,
        "DescribeInstances",
        &LIST_INSTANCES,
        filters,
        |a: ListedSet, region| Page {
            total: a.total,
            items: a
                .set
                .into_iter()
                .map(|i| Listed {
                    id: i.id,
                    name: i.name,
                    state: i.state,
                    stopping: false,
                    tags: TagPair::pairs(i.tags.unwrap_or_default()),
                    location: region.to_string(),
                    group: None,
                })
                .collect(),
        },
    )
    .await
}

pub fn validate(plan: &Plan) -> Result<(), Error> {
    check_ids(
        &plan.ids,
        "Tencent CVM instance id",
        "ins- followed by 8 lower-case letters or digits, e.g. ins-r8hr2upy",
        |id| is_prefixed_id(id, "ins-", 8),
    )
}

/// CVM's codes (PROVIDERS.md §1b "Errors").
fn classify(code: &str) -> (ErrorKind, bool) {
    if let Some(c) = classify_common(code) {
        return c;
    }
    let starts = |p: &str| code == p || code.starts_with(&format!("{p}."));
    match code {
        "InvalidInstanceId.NotFound" => (ErrorKind::NotFound, false),
        "InvalidInstanceId.Malformed" | "InvalidParameterValue.InstanceIdMalformed" => {
            (ErrorKind::Usage, false)
        }
        "OperationDenied.InstanceOperationInProgress"
        | "MutexOperation.TaskRunning"
        | "InvalidInstance.NotSupported" => (ErrorKind::Provider, false),
        _ if starts("UnsupportedOperation") => (ErrorKind::Provider, false),
        _ => (ErrorKind::Internal, false),
    }
}

/// Codes that say one instance of the call may not be stopped: the call as a whole
/// was refused, and DescribeInstances tells which instance is which.
fn refused_for_an_instance(code: Option<&str>) -> bool {
    matches!(code, Some(c) if c == "InvalidInstanceId.NotFound" || c.starts_with("UnsupportedOperation.InstanceState"))
}

#[derive(Deserialize)]
struct Empty {}

#[derive(Deserialize)]
struct StatusSet {
    #[serde(rename = "InstanceStatusSet", default)]
    set: Vec<InstanceStatus>,
}

#[derive(Deserialize)]
struct InstanceStatus {
    #[serde(rename = "InstanceId")]
    id: String,
    #[serde(rename = "InstanceState")]
    state: String,
}

#[derive(Deserialize)]
struct InstanceSet {
    #[serde(rename = "InstanceSet", default)]
    set: Vec<Instance>,
}

#[derive(Deserialize)]
struct Instance {
    #[serde(rename = "InstanceId")]
    id: String,
    #[serde(rename = "InstanceState")]
    state: String,
    #[serde(rename = "LatestOperation", default)]
    latest_operation: Option<String>,
    #[serde(rename = "LatestOperationState", default)]
    latest_operation_state: Option<String>,
    #[serde(rename = "LatestOperationErrorMsg", default)]
    latest_operation_error: Option<String>,
}

fn stop_body(ctx: &Ctx, ids: &[String]) -> String {
    let mut body = serde_json::json!({
        "InstanceIds": ids,
        "StopType": if ctx.plan.hard { "HARD" } else { "SOFT_FIRST" },
    });
    if ctx.plan.stop_charging {
        body["StoppedMode"] = "STOP_CHARGING".into();
    }
    body.to_string()
}

fn ids_body(ids: &[String]) -> String {
    serde_json::json!({ "InstanceIds": ids, "Limit": PER_CALL }).to_string()
}

/// `server stop`'s wire facts for the engine: StopInstances with up to 100 instances a
/// call; a refusal because of some of them (`InvalidInstanceId.NotFound`,
/// `UnsupportedOperation.InstanceState*`) is settled with DescribeInstances, and a
/// lone instance's refusal code speaks for it. `--wait` polls DescribeInstancesStatus.
struct ServerStop<'a> {
    tc: &'a Tencent,
}

/// DescribeInstances' `InstanceState` as a phase of the stop (PROVIDERS.md §1b).
fn instance_phase(id: &str, state: &str) -> Phase {
    match state {
        "STOPPED" => Phase::Stopped,
        "STOPPING" => Phase::Stopping,
        "RUNNING" => Phase::Running,
        other => Phase::Failed(
            Error::new(
                ErrorKind::Provider,
                format!("instance {id} is {other} and cannot be stopped now"),
            )
            .with_code(format!(
                "UnsupportedOperation.InstanceState{}",
                camel(other)
            )),
        ),
    }
}

impl engine::Api for ServerStop<'_> {
    fn per_call(&self) -> usize {
        PER_CALL
    }

    fn per_read(&self) -> usize {
        PER_CALL
    }

    fn credentials_used(&self) -> CredentialsUsed {
        self.tc.credentials_used()
    }

    fn dry_run(&self, ctx: &Ctx, ids: &[String]) -> Result<Vec<HttpRequest>, Error> {
        Ok(vec![self.tc.request(
            ctx,
            CVM,
            "StopInstances",
            stop_body(ctx, ids),
        )?])
    }

    async fn submit(&self, ctx: &Ctx, ids: &[String]) -> Result<Accepted, Error> {
        let a = ctx
            .transport
            .send(
                &STOP_INSTANCES,
                || {
                    self.tc
                        .request(ctx, CVM, "StopInstances", stop_body(ctx, ids))
                },
                |raw| parse_answer::<Empty>(raw, classify),
            )
            .await?;
        Ok(Accepted {
            request_id: a.request_id,
            provider_job_id: None,
        })
    }

    async fn read(&self, ctx: &Ctx, ids: &[String]) -> Result<Vec<(String, Phase)>, Error> {
        let found = describe_instances(ctx, self.tc, ids).await?;
        Ok(found
            .into_iter()
            .map(|(id, i)| {
                let phase = instance_phase(&id, &i.state);
                (id, phase)
            })
            .collect())
    }

    fn settle_by_reading(&self, e: &Error) -> bool {
        refused_for_an_instance(e.code.as_deref())
    }

    /// One instance: the code speaks for it (a repeat of an applied stop is refused
    /// with `InstanceStateStopping`/`Stopped`).
    fn refusal_phase(&self, e: &Error) -> Option<Phase> {
        match e.code.as_deref()? {
            "UnsupportedOperation.InstanceStateStopped" => Some(Phase::Stopped),
            "UnsupportedOperation.InstanceStateStopping" => Some(Phase::Stopping),
            _ => Some(Phase::Failed(e.clone())),
        }
    }

    fn wait_by_reading(&self) -> bool {
        false
    }
}

pub async fn server_stop(ctx: &Ctx, tc: &Tencent) -> Result<(), Error> {
    engine::run(ctx, &ServerStop { tc }).await?;
    if ctx.plan.wait && !ctx.plan.dry_run {
        let stopping: Vec<String> = ctx
            .plan
            .ids
            .iter()
            .filter(|id| {
                ctx.report
                    .get(id)
                    .is_some_and(|r| r.status == Status::Stopping && r.error.is_none())
            })
            .cloned()
            .collect();
        wait(ctx, tc, stopping).await;
    }
    Ok(())
}

/// `LAUNCH_FAILED` → `LaunchFailed`, as CVM's error codes spell states.
fn camel(state: &str) -> String {
    state
        .split('_')
        .map(|w| {
            let mut c = w.chars();
            match c.next() {
                Some(f) => f.to_ascii_uppercase().to_string() + &c.as_str().to_ascii_lowercase(),
                None => String::new(),
            }
        })
        .collect()
}

async fn describe_instances(
    ctx: &Ctx,
    tc: &Tencent,
    ids: &[String],
) -> Result<HashMap<String, Instance>, Error> {
    let set = ctx
        .transport
        .send(
            &DESCRIBE_INSTANCES,
            || tc.request(ctx, CVM, "DescribeInstances", ids_body(ids)),
            |raw| parse_answer::<InstanceSet>(raw, classify),
        )
        .await?;
    Ok(set
        .data
        .set
        .into_iter()
        .map(|i| (i.id.clone(), i))
        .collect())
}

async fn describe_status(
    ctx: &Ctx,
    tc: &Tencent,
    ids: &[String],
) -> Result<HashMap<String, String>, Error> {
    let set = ctx
        .transport
        .send(
            &DESCRIBE_INSTANCES_STATUS,
            || tc.request(ctx, CVM, "DescribeInstancesStatus", ids_body(ids)),
            |raw| parse_answer::<StatusSet>(raw, classify),
        )
        .await?;
    Ok(set.data.set.into_iter().map(|s| (s.id, s.state)).collect())
}

/// Polls DescribeInstancesStatus until every instance is STOPPED (or gone, or its
/// stop failed) or the deadline passes.
async fn wait(ctx: &Ctx, tc: &Tencent, mut pending: Vec<String>) {
    let deadline = ctx.wait_deadline();
    while !pending.is_empty() {
        if !ctx.pause_before_poll(deadline).await {
            ctx.wait_timed_out(&pending);
            return;
        }
        let still = Mutex::new(Vec::new());
        let chunks = crate::providers::chunks(&pending, PER_CALL);
        ctx.for_each(chunks, |chunk| {
            let still = &still;
            async move {
                let states = match describe_status(ctx, tc, &chunk).await {
                    Ok(s) => s,
                    Err(e) if e.retryable => {
                        tracing::warn!("DescribeInstancesStatus: {}", e.message);
                        still.lock().unwrap().extend(chunk);
                        return;
                    }
                    Err(e) => {
                        for id in &chunk {
                            ctx.report.mark(id, Status::Failed, &e);
                        }
                        return;
                    }
                };
                let mut running = Vec::new();
                for id in chunk {
                    match states.get(&id).map(String::as_str) {
                        Some("STOPPED") => ctx.report.update(&id, |r| r.status = Status::Stopped),
                        None => {
                            let gone =
                                Error::new(ErrorKind::NotFound, format!("instance {id} is gone"))
                                    .with_code("InvalidInstanceId.NotFound");
                            ctx.report.mark(&id, Status::NotFound, &gone);
                        }
                        Some("RUNNING") => running.push(id),
                        Some(_) => still.lock().unwrap().push(id),
                    }
                }
                if running.is_empty() {
                    return;
                }
                // RUNNING again after an accepted stop: did the stop fail?
                match describe_instances(ctx, tc, &running).await {
                    Ok(found) => {
                        for id in running {
                            match found.get(&id) {
                                Some(i)
                                    if i.latest_operation.as_deref() == Some("StopInstances")
                                        && i.latest_operation_state.as_deref()
                                            == Some("FAILED") =>
                                {
                                    let msg = i
                                        .latest_operation_error
                                        .clone()
                                        .filter(|m| !m.is_empty())
                                        .unwrap_or_else(|| "StopInstances failed".into());
                                    let e = Error::new(ErrorKind::Provider, msg)
                                        .with_code("LatestOperationState.FAILED");
                                    ctx.report.mark(&id, Status::Failed, &e);
                                }
                                _ => still.lock().unwrap().push(id),
                            }
                        }
                    }
                    Err(_) => still.lock().unwrap().extend(running),
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

    #[test]
    fn instance_states_map_to_phases() {
        assert_eq!(instance_phase("ins-a", "STOPPED"), Phase::Stopped);
        assert_eq!(instance_phase("ins-a", "STOPPING"), Phase::Stopping);
        assert_eq!(instance_phase("ins-a", "RUNNING"), Phase::Running);
        for state in [
            "PENDING",
            "STARTING",
            "REBOOTING",
            "SHUTDOWN",
            "TERMINATING",
            "LAUNCH_FAILED",
        ] {
            match instance_phase("ins-a", state) {
                Phase::Failed(e) => assert!(e.message.contains(state), "{}", e.message),
                other => panic!("{state}: {other:?}"),
            }
        }
    }

    #[test]
    fn a_refusal_for_an_instance_is_read_or_speaks_for_a_lone_one() {
        use crate::providers::engine::Api as _;
        let (_ctx, tc) = crate::providers::tencent::answer_tests::test_client(
            "server stop -p tencent --server-id ins-aaaaaaaa",
        );
        let api = ServerStop { tc: &tc };
        let refusal = |code: &str| Error::new(ErrorKind::Provider, "x").with_code(code);
        for (code, settle) in [
            ("InvalidInstanceId.NotFound", true),
            ("UnsupportedOperation.InstanceStateStopped", true),
            ("UnsupportedOperation.InstanceStateRunning", true),
            ("UnsupportedOperation.Other", false),
            ("InvalidInstanceId.Malformed", false),
            ("InternalError", false),
        ] {
            assert_eq!(api.settle_by_reading(&refusal(code)), settle, "{code}");
        }
        assert_eq!(
            api.refusal_phase(&refusal("UnsupportedOperation.InstanceStateStopped")),
            Some(Phase::Stopped)
        );
        assert_eq!(
            api.refusal_phase(&refusal("UnsupportedOperation.InstanceStateStopping")),
            Some(Phase::Stopping)
        );
        let e = refusal("UnsupportedOperation.InstanceStateTerminating");
        assert_eq!(api.refusal_phase(&e), Some(Phase::Failed(e.clone())));
        assert_eq!(
            api.refusal_phase(&Error::new(ErrorKind::Provider, "no code")),
            None
        );
    }

    #[test]
    fn every_documented_code_maps() {
        use ErrorKind::*;
        for (code, kind, retry) in [
            ("AuthFailure.SignatureFailure", Auth, false),
            ("AuthFailure.UnauthorizedOperation", Permission, false),
            ("UnauthorizedOperation.MFAExpired", Permission, false),
            ("UnauthorizedOperation.MFANotFound", Permission, false),
            ("UnauthorizedOperation.InvalidToken", Permission, false),
            ("InvalidInstanceId.NotFound", NotFound, false),
            ("InvalidInstanceId.Malformed", Usage, false),
            ("InvalidParameterValue.InstanceIdMalformed", Usage, false),
            ("RequestLimitExceeded", Throttled, true),
            ("RequestLimitExceeded.IPLimitExceeded", Throttled, true),
            ("InternalServerError", Provider, true),
            ("InternalError", Provider, true),
            (
                "OperationDenied.InstanceOperationInProgress",
                Provider,
                false,
            ),
            ("MutexOperation.TaskRunning", Provider, false),
            (
                "UnsupportedOperation.StoppedModeStopCharging",
                Provider,
                false,
            ),
            ("InvalidInstance.NotSupported", Provider, false),
            ("UnsupportedOperation.InstanceStatePending", Provider, false),
            ("InvalidParameterValue.LimitExceeded", Internal, false),
            ("InvalidParameterCombination", Internal, false),
            ("InvalidParameterValue", Internal, false),
            ("MissingParameter", Internal, false),
        ] {
            assert_eq!(classify(code), (kind, retry), "{code}");
        }
    }

    #[test]
    fn state_names_are_camel_cased_like_codes() {
        assert_eq!(camel("LAUNCH_FAILED"), "LaunchFailed");
        assert_eq!(camel("SHUTDOWN"), "Shutdown");
    }
}
