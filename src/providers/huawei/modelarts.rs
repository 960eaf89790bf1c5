//! Huawei Cloud ModelArts `job stop` (v2 training jobs): ShowTrainingJobDetails before
//! anything is sent (a finished job is `already_stopped`, a terminating one
//! `stopping`), StopTrainingJob (`{"action_type":"terminate"}`), and `--wait` by
//! reading the job's phase. The engine (`providers/engine.rs`) drives these wire
//! facts. PROVIDERS.md §3c.

use super::{parse, Huawei, Service, CT_JSON};
use crate::envelope::CredentialsUsed;
use crate::error::{Error, ErrorKind};
use crate::plan::{quote, Plan};
use crate::providers::engine::{self, Accepted, Phase, ReadPurpose};
use crate::providers::Ctx;
use crate::transport::{Api as Call, HttpRequest, RetrySafety};
use reqwest::Method;
use serde::Deserialize;

/// What the SDK sends with StopTrainingJob's body.
const CT_JSON_UTF8_UPPER: &str = "application/json;charset=UTF-8";
const STOP_BODY: &str = r#"{"action_type":"terminate"}"#;
/// The IAM action StopTrainingJob needs (there is no stop action of its own).
const PERMISSION: &str = "modelarts:trainJob:create";

/// After a timeout or a 5xx the stop may have been applied: the engine reads the
/// phase before sending it again. 2/s: no published limit [a choice].
const STOP_TRAINING_JOB: Call = Call {
    name: "huawei.modelarts.StopTrainingJob",
    default_rate: 2.0,
    safety: RetrySafety::QueryFirst,
};

const SHOW_TRAINING_JOB: Call = Call {
    name: "huawei.modelarts.ShowTrainingJobDetails",
    default_rate: 2.0,
    safety: RetrySafety::Repeatable,
};

/// A lower-case UUID (`95f661bd-1527-41b8-971c-eca55e513254`) or 32 letters and digits.
pub fn is_job_id(id: &str) -> bool {
    let b = id.as_bytes();
    let uuid = b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_digit() || (b'a'..=b'f').contains(c),
        });
    uuid || (b.len() == 32 && b.iter().all(u8::is_ascii_alphanumeric))
}

pub fn validate(plan: &Plan) -> Result<(), Error> {
    for id in &plan.ids {
        if is_job_id(id) {
            continue;
        }
        if !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Error::usage(format!(
                "job id {} looks like a legacy ModelArts v1 training job (integer id): cloudstop \
stops v2 training jobs only (ids are UUIDs); stop v1 jobs in the ModelArts console (nothing was sent)",
                quote(id)
            )));
        }
        return Err(Error::usage(format!(
            "malformed Huawei Cloud ModelArts training job id {}: expected a lower-case UUID such \
as 95f661bd-1527-41b8-971c-eca55e513254, or 32 letters and digits",
            quote(id)
        )));
    }
    Ok(())
}

pub async fn job_stop(ctx: &Ctx, hw: &Huawei) -> Result<(), Error> {
    engine::run(ctx, &ModelArts { hw }).await
}

struct ModelArts<'a> {
    hw: &'a Huawei,
}

impl ModelArts<'_> {
    fn path(&self, id: &str) -> String {
        format!("/v2/{}/training-jobs/{id}", self.hw.project())
    }

    fn show_request(&self, ctx: &Ctx, id: &str) -> Result<HttpRequest, Error> {
        let path = self.path(id);
        self.hw.service(
            ctx,
            Service::ModelArts,
            Method::GET,
            &path,
            &[],
            String::new(),
            CT_JSON,
        )
    }

    fn stop_request(&self, ctx: &Ctx, id: &str) -> Result<HttpRequest, Error> {
        let path = format!("{}/actions", self.path(id));
        self.hw.service(
            ctx,
            Service::ModelArts,
            Method::POST,
            &path,
            &[],
            STOP_BODY.to_string(),
            CT_JSON_UTF8_UPPER,
        )
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Job {
    status: JobStatus,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct JobStatus {
    phase: Option<String>,
}

/// A training job's `status.phase` in the engine's terms (§3c States).
fn phase_of(phase: &str) -> Phase {
    match phase {
        "Completed" | "Failed" | "Terminated" | "Abnormal" => Phase::Stopped,
        "Terminating" => Phase::Stopping,
        // Creating, Pending, Running; an unknown phase is sent the stop (the API
        // refuses what it cannot stop) and is waited on.
        _ => Phase::Running,
    }
}

/// A 403 names the permission StopTrainingJob needs.
fn explain_permission(mut e: Error) -> Error {
    if e.kind == ErrorKind::Permission {
        e.message = format!(
            "{} (StopTrainingJob needs the IAM permission {PERMISSION}; a read-only policy is not enough)",
            e.message
        );
    }
    e
}

impl engine::Api for ModelArts<'_> {
    fn read_first(&self) -> bool {
        true
    }

    fn credentials_used(&self) -> CredentialsUsed {
        self.hw.credentials_used()
    }

    fn dry_run(&self, ctx: &Ctx, ids: &[String]) -> Result<Vec<HttpRequest>, Error> {
        let mut out = Vec::new();
        for id in ids {
            out.push(self.show_request(ctx, id)?);
            out.push(self.stop_request(ctx, id)?);
        }
        Ok(out)
    }

    async fn submit(&self, ctx: &Ctx, ids: &[String]) -> Result<Accepted, Error> {
        let id = &ids[0];
        ctx.transport
            .send(
                &STOP_TRAINING_JOB,
                || self.stop_request(ctx, id),
                |raw| {
                    // 202 with the whole job; only the status matters.
                    let a = parse::<serde_json::Value>(raw)?;
                    Ok(Accepted {
                        request_id: a.request_id,
                        provider_job_id: None,
                    })
                },
            )
            .await
            .map_err(explain_permission)
    }

    async fn read(&self, ctx: &Ctx, ids: &[String]) -> Result<Vec<(String, Phase)>, Error> {
        self.read_for(ctx, ids, ReadPurpose::Settle).await
    }

    async fn read_for(
        &self,
        ctx: &Ctx,
        ids: &[String],
        purpose: ReadPurpose,
    ) -> Result<Vec<(String, Phase)>, Error> {
        let id = &ids[0];
        let job = ctx
            .transport
            .send(
                &SHOW_TRAINING_JOB,
                || self.show_request(ctx, id),
                |raw| parse::<Job>(raw).map(|a| a.data),
            )
            .await;
        match job {
            Ok(j) => {
                let phase = j.status.phase.unwrap_or_default();
                Ok(vec![(id.clone(), phase_of(&phase))])
            }
            // Unknown before anything was sent: kept as the provider's answer (its
            // code). Later (deleted meanwhile): gone, so stopped.
            Err(e) if e.kind == ErrorKind::NotFound && purpose == ReadPurpose::First => {
                Ok(vec![(id.clone(), Phase::Failed(e))])
            }
            Err(e) if e.kind == ErrorKind::NotFound => Ok(vec![]),
            Err(e) => Err(e),
        }
    }

    /// A 400 `ModelArts.*` refusal after the read found the job running (it finished or
    /// was stopped meanwhile): read its phase again.
    fn settle_by_reading(&self, e: &Error) -> bool {
        e.maybe_applied || (e.kind == ErrorKind::Provider && !e.retryable)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::engine::Api as _;

    fn err(kind: ErrorKind, retryable: bool, applied: bool) -> Error {
        Error::new(kind, "x")
            .retryable(retryable)
            .maybe_applied(applied)
    }

    #[test]
    fn refusals_after_a_clean_read_are_settled_by_reading() {
        let (_ctx, hw) = crate::providers::huawei::tests::test_client(
            "job stop -p huawei --job-id 3f2a0c4e-6b1d-4d8e-9a57-0c1e2d3f4a5b",
        );
        let api = ModelArts { hw: &hw };
        use ErrorKind::*;
        for (e, settle) in [
            (err(Provider, false, false), true),
            (err(Provider, true, true), true),
            (err(Throttled, true, false), false),
            (err(Provider, true, false), false),
            (err(Permission, false, false), false),
            (err(NotFound, false, false), false),
        ] {
            assert_eq!(api.settle_by_reading(&e), settle, "{e:?}");
        }
    }

    #[test]
    fn ids_in_both_documented_forms() {
        for ok in [
            "95f661bd-1527-41b8-971c-eca55e513254",
            "a1B2c3D4e5F6a7B8c9D0e1F2a3B4c5D6",
            "00000000000000000000000000000000",
        ] {
            assert!(is_job_id(ok), "{ok}");
        }
        for bad in [
            "",
            "95F661BD-1527-41B8-971C-ECA55E513254",
            "95f661bd-1527-41b8-971c-eca55e51325",
            "95f661bd1527-41b8-971c-eca55e513254-",
            "a1B2c3D4e5F6a7B8c9D0e1F2a3B4c5D",
            "a1B2c3D4e5F6a7B8c9D0e1F2a3B4c5D6_",
            "12345",
        ] {
            assert!(!is_job_id(bad), "{bad}");
        }
    }

    #[test]
    fn phases() {
        for p in ["Completed", "Failed", "Terminated", "Abnormal"] {
            assert_eq!(phase_of(p), Phase::Stopped);
        }
        assert_eq!(phase_of("Terminating"), Phase::Stopping);
        for p in ["Creating", "Pending", "Running", ""] {
            assert_eq!(phase_of(p), Phase::Running);
        }
    }

    #[test]
    fn permission_errors_name_the_iam_action() {
        let e = explain_permission(Error::new(ErrorKind::Permission, "HTTP 403"));
        assert!(e.message.contains(PERMISSION));
        let e = explain_permission(Error::new(ErrorKind::Provider, "x"));
        assert!(!e.message.contains(PERMISSION));
    }
}
