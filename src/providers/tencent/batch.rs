//! Tencent Cloud Batch `job stop`: `TerminateJob` (one job per call) on the operation
//! engine, and `--wait` by polling `DescribeJob` — never by sending `TerminateJob`
//! again. PROVIDERS.md §1.

use super::{classify_common, list_all, parse_answer, selection_filters, TagPair, Tencent, BATCH};
use crate::envelope::{CredentialsUsed, Status};
use crate::error::{Error, ErrorKind};
use crate::plan::{check_ids, is_prefixed_id, Plan};
use crate::providers::engine::{self, Accepted, Phase};
use crate::providers::select::{Flavor, Listed, Page, Tags};
use crate::providers::Ctx;
use crate::transport::{Api, HttpRequest, RetrySafety};
use serde::Deserialize;
use std::sync::Mutex;

/// Repeating TerminateJob is harmless: once the job has finished it is a no-op, and
/// throttled calls were never executed. A repeat refused because the first attempt
/// already took effect is settled by DescribeJob (see [`JobStop`]).
const TERMINATE_JOB: Api = Api {
    name: "tencent.batch.TerminateJob",
    default_rate: 2.0,
    safety: RetrySafety::Repeatable,
};

/// A read: always safe to repeat.
const DESCRIBE_JOB: Api = Api {
    name: "tencent.batch.DescribeJob",
    default_rate: 2.0,
    safety: RetrySafety::Repeatable,
};

/// Selection by `DescribeJobs` (PROVIDERS.md §4b): a read, 2/s.
const LIST_JOBS: Api = Api {
    name: "tencent.batch.DescribeJobs",
    default_rate: 2.0,
    safety: RetrySafety::Repeatable,
};

/// `JobState` words (PROVIDERS.md §1, §4g). `FAILED_INTERRUPTED` is not final: its
/// instances are kept (still paid for), so it still gets TerminateJob.
pub const SELECT: Flavor = Flavor {
    noun: "Tencent Batch job",
    tags: Tags::KeyValue,
    running: &["RUNNING"],
    pending: &["SUBMITTED", "PENDING", "RUNNABLE", "STARTING"],
    stopped: &["SUCCEED", "FAILED"],
    done: &["SUCCEED", "FAILED"],
    under_way: &[],
    other: &["FAILED_INTERRUPTED"],
};

#[derive(Deserialize)]
struct JobSet {
    #[serde(rename = "JobSet", default)]
    set: Vec<ListedJob>,
    #[serde(rename = "TotalCount", default)]
    total: Option<usize>,
}

#[derive(Deserialize)]
struct ListedJob {
    #[serde(rename = "JobId")]
    id: String,
    #[serde(rename = "JobName", default)]
    name: Option<String>,
    #[serde(rename = "JobState", default)]
    state: String,
    #[serde(rename = "Tags", default)]
    tags: Option<Vec<TagPair>>,
}

/// Every job the selectors' filters let through, all pages.
pub async fn list(ctx: &Ctx, tc: &Tencent) -> Result<Vec<Listed>, Error> {
    let Some(sel) = &ctx.plan.selectors else {
        return Ok(Vec::new());
    };
    let filters = selection_filters(sel, &SELECT, "job-state", "job-name");
    list_all(
        ctx,
        tc,
        BATCH,
        "DescribeJobs",
        &LIST_JOBS,
        filters,
        |a: JobSet, region| Page {
            total: a.total,
            items: a
                .set
                .into_iter()
                .map(|j| Listed {
                    id: j.id,
                    name: j.name,
                    state: j.state,
                    stopping: false,
                    tags: TagPair::pairs(j.tags.unwrap_or_default()),
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
        "Tencent Batch job id",
        "job- followed by 8 lower-case letters or digits, e.g. job-rybewp57",
        |id| is_prefixed_id(id, "job-", 8),
    )
}

/// Batch's codes (PROVIDERS.md §1 "Errors").
fn classify(code: &str) -> (ErrorKind, bool) {
    if let Some(c) = classify_common(code) {
        return c;
    }
    let starts = |p: &str| code == p || code.starts_with(&format!("{p}."));
    if starts("ResourceNotFound") {
        (ErrorKind::NotFound, false)
    } else if code == "InvalidParameter.JobIdMalformed" || starts("InvalidParameterValue") {
        // The only parameter besides the (checked) job id is the region header.
        (ErrorKind::Usage, false)
    } else if code == "ResourceInUse.Job"
        || starts("UnsupportedOperation")
        || starts("FailedOperation")
        || starts("ResourceUnavailable")
        || starts("ResourceInsufficient")
        || starts("LimitExceeded")
    {
        (ErrorKind::Provider, false)
    } else {
        (ErrorKind::Internal, false)
    }
}

#[derive(Deserialize)]
struct Empty {}

#[derive(Deserialize)]
struct DescribeJobData {
    #[serde(rename = "JobState")]
    job_state: Option<String>,
}

fn job_body(id: &str) -> String {
    serde_json::json!({ "JobId": id }).to_string()
}

/// `job stop`'s wire facts for the engine: TerminateJob, one job a call, repeated by
/// the transport where that is harmless; a repeat refused because the first attempt
/// already took effect is settled by DescribeJob. `--wait` polls DescribeJob.
struct JobStop<'a> {
    tc: &'a Tencent,
}

/// TerminateJob refused as busy or unsupported.
fn refused_as_busy(e: &Error) -> bool {
    matches!(e.code.as_deref(), Some(c) if c == "ResourceInUse.Job" || c.starts_with("UnsupportedOperation"))
}

/// The refusal of a repeated TerminateJob: the first attempt most likely took effect.
fn repeat_refused(e: &Error) -> bool {
    e.maybe_applied && refused_as_busy(e)
}

impl engine::Api for JobStop<'_> {
    fn credentials_used(&self) -> CredentialsUsed {
        self.tc.credentials_used()
    }

    fn dry_run(&self, ctx: &Ctx, ids: &[String]) -> Result<Vec<HttpRequest>, Error> {
        ids.iter()
            .map(|id| self.tc.request(ctx, BATCH, "TerminateJob", job_body(id)))
            .collect()
    }

    async fn submit(&self, ctx: &Ctx, ids: &[String]) -> Result<Accepted, Error> {
        let id = &ids[0];
        let request_id = ctx
            .transport
            .send_numbered(
                &TERMINATE_JOB,
                || self.tc.request(ctx, BATCH, "TerminateJob", job_body(id)),
                |attempt, raw| {
                    parse_answer::<Empty>(raw, classify)
                        .map(|a| a.request_id)
                        .map_err(|mut e| {
                            // A repeat refused as busy or unsupported: the first attempt
                            // most likely took effect; DescribeJob decides.
                            if attempt > 0 && refused_as_busy(&e) {
                                e.maybe_applied = true;
                            }
                            e
                        })
                },
            )
            .await?;
        Ok(Accepted {
            request_id,
            provider_job_id: None,
        })
    }

    /// DescribeJob, read only to settle a repeat refused after a first attempt: a final
    /// state is stopped; any other means that attempt's termination is under way (Batch
    /// has no state for "being terminated").
    async fn read(&self, ctx: &Ctx, ids: &[String]) -> Result<Vec<(String, Phase)>, Error> {
        let mut out = Vec::new();
        for id in ids {
            match describe(ctx, self.tc, id).await {
                Ok(state) if is_final(&state) => out.push((id.clone(), Phase::Stopped)),
                Ok(_) => out.push((id.clone(), Phase::Stopping)),
                Err(e) if e.kind == ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    fn settle_by_reading(&self, e: &Error) -> bool {
        repeat_refused(e)
    }

    fn wait_by_reading(&self) -> bool {
        false
    }
}

pub async fn job_stop(ctx: &Ctx, tc: &Tencent) -> Result<(), Error> {
    engine::run(ctx, &JobStop { tc }).await?;
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

fn is_final(state: &str) -> bool {
    matches!(state, "SUCCEED" | "FAILED" | "FAILED_INTERRUPTED")
}

async fn describe(ctx: &Ctx, tc: &Tencent, id: &str) -> Result<String, Error> {
    ctx.transport
        .send(
            &DESCRIBE_JOB,
            || tc.request(ctx, BATCH, "DescribeJob", job_body(id)),
            |raw| {
                let a = parse_answer::<DescribeJobData>(raw, classify)?;
                a.data.job_state.ok_or_else(|| {
                    Error::new(ErrorKind::Provider, "DescribeJob answered without JobState")
                        .retryable(true)
                })
            },
        )
        .await
}

/// Polls DescribeJob for every job until it reaches a final state or the deadline passes.
async fn wait(ctx: &Ctx, tc: &Tencent, mut pending: Vec<String>) {
    let deadline = ctx.wait_deadline();
    while !pending.is_empty() {
        if !ctx.pause_before_poll(deadline).await {
            ctx.wait_timed_out(&pending);
            return;
        }
        let still = Mutex::new(Vec::new());
        ctx.for_each(pending, |id| {
            let still = &still;
            async move {
                match describe(ctx, tc, &id).await {
                    Ok(state) if state == "FAILED_INTERRUPTED" => {
                        // Ended, but its instances are retained and still billed.
                        let e = Error::new(
                            ErrorKind::Provider,
                            "the job ended FAILED_INTERRUPTED: its instances are retained",
                        )
                        .with_code("FAILED_INTERRUPTED");
                        ctx.report.mark(&id, Status::Failed, &e);
                    }
                    Ok(state) if is_final(&state) => {
                        ctx.report.update(&id, |r| r.status = Status::Stopped);
                    }
                    // The job is gone: nothing is left running.
                    Err(e) if e.kind == ErrorKind::NotFound => {
                        ctx.report.update(&id, |r| r.status = Status::Stopped);
                    }
                    Ok(_) => still.lock().unwrap().push(id),
                    // Transient trouble after the retries: keep polling until the deadline.
                    Err(e) if e.retryable => {
                        tracing::warn!("DescribeJob {id}: {}", e.message);
                        still.lock().unwrap().push(id)
                    }
                    Err(e) => ctx.report.mark(&id, Status::Failed, &e),
                }
            }
        })
        .await;
        let mut next = still.into_inner().unwrap();
        // Keep input order for the next round.
        ctx.report.sort_in_input_order(&mut next);
        pending = next;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn final_job_states() {
        for s in ["SUCCEED", "FAILED", "FAILED_INTERRUPTED"] {
            assert!(is_final(s), "{s}");
        }
        for s in [
            "SUBMITTED",
            "PENDING",
            "RUNNABLE",
            "STARTING",
            "RUNNING",
            "TERMINATING",
            "succeed",
        ] {
            assert!(!is_final(s), "{s}");
        }
    }

    #[test]
    fn only_a_repeat_refused_as_busy_is_settled_by_reading() {
        use crate::providers::engine::Api as _;
        let (_ctx, tc) = crate::providers::tencent::answer_tests::test_client(
            "job stop -p tencent --job-id job-aaaaaaaa",
        );
        let api = JobStop { tc: &tc };
        let refusal = |code: &str, applied: bool| {
            Error::new(ErrorKind::Provider, "x")
                .with_code(code)
                .maybe_applied(applied)
        };
        for (e, busy, settle) in [
            (refusal("ResourceInUse.Job", true), true, true),
            (
                refusal("UnsupportedOperation.TerminateJob", true),
                true,
                true,
            ),
            (refusal("UnsupportedOperation", true), true, true),
            (refusal("ResourceInUse.Job", false), true, false),
            (refusal("ResourceNotFound.Job", true), false, false),
            (refusal("InternalError", true), false, false),
        ] {
            assert_eq!(refused_as_busy(&e), busy, "{e:?}");
            assert_eq!(repeat_refused(&e), settle, "{e:?}");
            assert_eq!(api.settle_by_reading(&e), settle, "{e:?}");
        }
    }

    #[test]
    fn every_documented_code_maps() {
        use ErrorKind::*;
        for (code, kind, retry) in [
            ("AuthFailure.SignatureFailure", Auth, false),
            ("AuthFailure.SecretIdNotFound", Auth, false),
            ("AuthFailure.InvalidSecretId", Auth, false),
            ("AuthFailure.SignatureExpire", Auth, false),
            ("AuthFailure.TokenFailure", Auth, false),
            ("AuthFailure.InvalidAuthorization", Auth, false),
            ("AuthFailure.MFAFailure", Auth, false),
            ("AuthFailure.UnauthorizedOperation", Permission, false),
            ("UnauthorizedOperation", Permission, false),
            ("UnauthorizedOperation.Foo", Permission, false),
            ("ResourceNotFound.Job", NotFound, false),
            ("InvalidParameter.JobIdMalformed", Usage, false),
            ("InvalidParameterValue", Usage, false),
            ("UnsupportedRegion", Usage, false),
            ("RequestLimitExceeded", Throttled, true),
            ("RequestLimitExceeded.UinLimitExceeded", Throttled, true),
            ("RequestLimitExceeded.IPLimitExceeded", Throttled, true),
            (
                "RequestLimitExceeded.GlobalRegionUinLimitExceeded",
                Throttled,
                true,
            ),
            ("InternalError", Provider, true),
            ("InternalError.CallCvm", Provider, true),
            ("ResourceInUse.Job", Provider, false),
            ("UnsupportedOperation", Provider, false),
            (
                "UnsupportedOperation.TerminateOperationWithEnvId",
                Provider,
                false,
            ),
            ("FailedOperation", Provider, false),
            ("ResourceUnavailable", Provider, false),
            ("ResourceInsufficient", Provider, false),
            ("LimitExceeded", Provider, false),
            ("MissingParameter", Internal, false),
            ("UnknownParameter", Internal, false),
            ("InvalidParameter", Internal, false),
            ("InvalidAction", Internal, false),
            ("NoSuchVersion", Internal, false),
            ("UnsupportedProtocol", Internal, false),
            ("RequestSizeLimitExceeded", Internal, false),
            ("SomethingNew", Internal, false),
        ] {
            assert_eq!(classify(code), (kind, retry), "{code}");
        }
    }

    #[test]
    fn job_ids() {
        let plan_ids =
            |ids: &[&str]| -> Vec<String> { ids.iter().map(|s| s.to_string()).collect() };
        let ok = plan_ids(&["job-rybewp57", "job-97zcl3wt"]);
        assert!(check_ids(&ok, "id", "x", |id| is_prefixed_id(id, "job-", 8)).is_ok());
        for bad in [
            "job-rybewp5",
            "JOB-rybewp57",
            "job-rybewp57 ",
            "job_rybewp57",
            "ins-rybewp57",
            "job-rybe;p57",
        ] {
            assert!(
                check_ids(&plan_ids(&[bad]), "id", "x", |id| is_prefixed_id(
                    id, "job-", 8
                ))
                .is_err(),
                "{bad}"
            );
        }
    }
}
