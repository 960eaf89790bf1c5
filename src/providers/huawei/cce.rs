//! Huawei Cloud CCE `cluster delete`: ShowCluster before anything is sent (a cluster
//! being deleted, hibernated, prepaid or under deletion protection gets no DELETE),
//! DeleteCluster with the query options `--keep-instances`/`--delete-storage` map to,
//! and `--wait` by reading ShowCluster until it answers 404. The engine
//! (`providers/engine.rs`) drives these wire facts. PROVIDERS.md §3b.

use super::{parse, Huawei, Service, CT_JSON};
use crate::envelope::CredentialsUsed;
use crate::error::{Error, ErrorKind};
use crate::plan::{check_ids, quote, Plan};
use crate::providers::engine::{self, Accepted, Phase, ReadPurpose};
use crate::providers::Ctx;
use crate::transport::{Api as Call, HttpRequest, RetrySafety};
use reqwest::Method;
use serde::Deserialize;

/// After a timeout or a 5xx the deletion may have been accepted: the transport does
/// not repeat it, the engine reads ShowCluster first. 1/s: no published limit,
/// writes measured at ~10/min [a choice].
const DELETE_CLUSTER: Call = Call {
    name: "huawei.cce.DeleteCluster",
    default_rate: 1.0,
    safety: RetrySafety::QueryFirst,
};

const SHOW_CLUSTER: Call = Call {
    name: "huawei.cce.ShowCluster",
    default_rate: 1.0,
    safety: RetrySafety::Repeatable,
};

const SHOW_AUTOPILOT_CLUSTER: Call = Call {
    name: "huawei.cce.ShowAutopilotCluster",
    default_rate: 1.0,
    safety: RetrySafety::Repeatable,
};

pub fn validate(plan: &Plan) -> Result<(), Error> {
    check_ids(
        &plan.ids,
        "Huawei Cloud CCE cluster id",
        "a UUID such as fc563b3c-9552-11e8-8beb-0255ac106311",
        super::ecs::is_uuid,
    )
}

/// DeleteCluster's query (SPEC `--keep-instances`, `--delete-storage`); none by default.
pub fn delete_query(
    keep_instances: bool,
    delete_storage: bool,
) -> Vec<(&'static str, &'static str)> {
    let mut q = Vec::new();
    if delete_storage {
        for k in [
            "delete_efs",
            "delete_evs",
            "delete_obs",
            "delete_sfs",
            "delete_sfs30",
        ] {
            q.push((k, "true"));
        }
    }
    if keep_instances {
        q.push(("ondemand_node_policy", "retain"));
        q.push(("periodic_node_policy", "retain"));
    }
    q
}

pub async fn cluster_delete(ctx: &Ctx, hw: &Huawei) -> Result<(), Error> {
    engine::run(ctx, &Cce { hw }).await
}

struct Cce<'a> {
    hw: &'a Huawei,
}

impl Cce<'_> {
    fn path(&self, id: &str) -> String {
        format!("/api/v3/projects/{}/clusters/{id}", self.hw.project())
    }

    fn show_request(&self, ctx: &Ctx, id: &str) -> Result<HttpRequest, Error> {
        let path = self.path(id);
        self.hw.service(
            ctx,
            Service::Cce,
            Method::GET,
            &path,
            &[],
            String::new(),
            CT_JSON,
        )
    }

    fn delete_request(&self, ctx: &Ctx, id: &str) -> Result<HttpRequest, Error> {
        let query = delete_query(ctx.plan.keep_instances, ctx.plan.delete_storage);
        let path = self.path(id);
        self.hw.service(
            ctx,
            Service::Cce,
            Method::DELETE,
            &path,
            &query,
            String::new(),
            CT_JSON,
        )
    }

    async fn show(&self, ctx: &Ctx, id: &str) -> Result<Cluster, Error> {
        ctx.transport
            .send(
                &SHOW_CLUSTER,
                || self.show_request(ctx, id),
                |raw| parse::<Cluster>(raw).map(|a| a.data),
            )
            .await
    }

    /// Whether `id` is a CCE Autopilot cluster, which the standard API does not show
    /// (PROVIDERS.md §3b: one GET on the Autopilot path before reporting not found).
    async fn is_autopilot(&self, ctx: &Ctx, id: &str) -> bool {
        let path = format!("/autopilot/v3/projects/{}/clusters/{id}", self.hw.project());
        let found = ctx
            .transport
            .send(
                &SHOW_AUTOPILOT_CLUSTER,
                || {
                    self.hw.service(
                        ctx,
                        Service::Cce,
                        Method::GET,
                        &path,
                        &[],
                        String::new(),
                        CT_JSON,
                    )
                },
                |raw| parse::<serde_json::Value>(raw).map(|_| ()),
            )
            .await;
        match found {
            Ok(()) => true,
            Err(e) => {
                if e.kind != ErrorKind::NotFound {
                    tracing::warn!(
                        "Autopilot lookup of {id} failed ({}): reporting it as not found",
                        e.message
                    );
                }
                false
            }
        }
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Cluster {
    spec: ClusterSpec,
    status: ClusterStatus,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ClusterSpec {
    #[serde(rename = "billingMode")]
    billing_mode: Option<i64>,
    #[serde(rename = "deletionProtection")]
    deletion_protection: Option<bool>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ClusterStatus {
    phase: Option<String>,
    #[serde(rename = "jobID")]
    job_id: Option<String>,
    reason: Option<String>,
}

/// What blocks a deletion, as `failed` with what the user must do; nothing is sent.
fn blocker(c: &Cluster) -> Option<Error> {
    let phase = c.status.phase.as_deref().unwrap_or_default();
    let (code, message) = if c.spec.deletion_protection == Some(true) {
        (
            "deletionProtection",
            "deletion protection is on (spec.deletionProtection): if the cluster really must go, \
turn it off in the CCE console (cluster settings) or with UpdateCluster \
{\"spec\":{\"deletionProtection\":false}}, then run this again; cloudstop never turns it off"
                .to_string(),
        )
    } else if c.spec.billing_mode == Some(1) {
        (
            "billingMode",
            "the cluster is prepaid (yearly/monthly, spec.billingMode 1) and cannot be deleted \
through the API: unsubscribe it in the Billing Center (Orders > Unsubscriptions)"
                .to_string(),
        )
    } else if matches!(phase, "Hibernation" | "Hibernating") {
        (
            phase,
            format!(
                "the cluster is hibernated (phase {phase}): wake it up in the CCE console (or with \
AwakeCluster) and wait until it is Available, then run this again"
            ),
        )
    } else {
        return None;
    };
    Some(Error::new(ErrorKind::Provider, message).with_code(code))
}

fn phase_of(c: &Cluster, purpose: ReadPurpose) -> Phase {
    let phase = c.status.phase.as_deref().unwrap_or_default();
    if phase == "Deleting" {
        return Phase::Stopping;
    }
    if purpose == ReadPurpose::Wait {
        // The deletion is under way until ShowCluster answers 404; `Error` means it
        // failed (Terraform's reading too).
        return if phase == "Error" {
            let reason = c
                .status
                .reason
                .as_deref()
                .filter(|r| !r.is_empty())
                .unwrap_or("no reason given");
            Phase::Failed(
                Error::new(
                    ErrorKind::Provider,
                    format!("the cluster deletion failed (phase Error): {reason}"),
                )
                .with_code("Error"),
            )
        } else {
            Phase::Stopping
        };
    }
    match blocker(c) {
        Some(e) => Phase::Failed(e),
        None => Phase::Running,
    }
}

impl engine::Api for Cce<'_> {
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
            out.push(self.delete_request(ctx, id)?);
        }
        Ok(out)
    }

    async fn submit(&self, ctx: &Ctx, ids: &[String]) -> Result<Accepted, Error> {
        let id = &ids[0];
        ctx.transport
            .send(
                &DELETE_CLUSTER,
                || self.delete_request(ctx, id),
                |raw| {
                    let a = parse::<Cluster>(raw)?;
                    Ok(Accepted {
                        request_id: a.request_id,
                        provider_job_id: a.data.status.job_id.filter(|j| !j.is_empty()),
                    })
                },
            )
            .await
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
        match self.show(ctx, id).await {
            Ok(c) => Ok(vec![(id.clone(), phase_of(&c, purpose))]),
            // Never seen: make sure it is not an Autopilot cluster before "not found".
            Err(e) if e.kind == ErrorKind::NotFound && purpose == ReadPurpose::First => {
                if self.is_autopilot(ctx, id).await {
                    // SPEC: a kind cloudstop does not delete refuses the whole command.
                    let e = Error::usage(format!(
                        "cluster {} is a CCE Autopilot cluster, which cloudstop does not delete: \
delete it in the CCE Autopilot console or with its own API",
                        quote(id)
                    ))
                    .with_code("Autopilot");
                    Ok(vec![(id.clone(), Phase::Unsupported(e))])
                } else {
                    // Kept as the provider's answer (its code), not a bare "gone".
                    Ok(vec![(id.clone(), Phase::Failed(e))])
                }
            }
            Err(e) if e.kind == ErrorKind::NotFound => Ok(vec![]),
            Err(e) => Err(e),
        }
    }

    /// A refusal after the read found the cluster deletable (409, a 400 about its
    /// state): read it again, it may be deleting already.
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
            "cluster delete -p huawei --cluster-id 3f2a0c4e-6b1d-4d8e-9a57-0c1e2d3f4a5b --yes",
        );
        let api = Cce { hw: &hw };
        use ErrorKind::*;
        for (e, settle) in [
            (err(Provider, false, false), true),
            (err(Provider, true, true), true),
            (err(Throttled, true, false), false),
            (err(Provider, true, false), false),
            (err(Auth, false, false), false),
            (err(NotFound, false, false), false),
        ] {
            assert_eq!(api.settle_by_reading(&e), settle, "{e:?}");
        }
    }

    fn cluster(v: serde_json::Value) -> Cluster {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn query_per_flags() {
        assert!(delete_query(false, false).is_empty());
        assert_eq!(
            crate::providers::huawei::signer::canonical_query(&delete_query(true, true)),
            "delete_efs=true&delete_evs=true&delete_obs=true&delete_sfs=true&delete_sfs30=true\
&ondemand_node_policy=retain&periodic_node_policy=retain"
        );
        assert_eq!(
            delete_query(true, false),
            [
                ("ondemand_node_policy", "retain"),
                ("periodic_node_policy", "retain")
            ]
        );
    }

    #[test]
    fn phases_before_and_while_waiting() {
        use ReadPurpose::*;
        let available = cluster(
            serde_json::json!({"spec": {"billingMode": 0}, "status": {"phase": "Available"}}),
        );
        assert_eq!(phase_of(&available, First), Phase::Running);
        assert_eq!(phase_of(&available, Wait), Phase::Stopping);
        let deleting = cluster(serde_json::json!({"status": {"phase": "Deleting"}}));
        assert_eq!(phase_of(&deleting, First), Phase::Stopping);
        let error = cluster(serde_json::json!({"status": {"phase": "Error", "reason": "boom"}}));
        assert_eq!(phase_of(&error, First), Phase::Running);
        match phase_of(&error, Wait) {
            Phase::Failed(e) => assert!(e.message.contains("boom")),
            other => panic!("{other:?}"),
        }
        for (v, code) in [
            (
                serde_json::json!({"spec": {"deletionProtection": true}, "status": {"phase": "Available"}}),
                "deletionProtection",
            ),
            (
                serde_json::json!({"spec": {"billingMode": 1}, "status": {"phase": "Available"}}),
                "billingMode",
            ),
            (
                serde_json::json!({"status": {"phase": "Hibernation"}}),
                "Hibernation",
            ),
            (
                serde_json::json!({"status": {"phase": "Hibernating"}}),
                "Hibernating",
            ),
        ] {
            match phase_of(&cluster(v), First) {
                Phase::Failed(e) => assert_eq!(e.code.as_deref(), Some(code)),
                other => panic!("{other:?}"),
            }
        }
    }
}
