//! Tencent Cloud TKE wire facts for `cluster delete` (PROVIDERS.md §1c): the lookups
//! that tell a standard from a serverless (EKS) or an edge cluster, the two deletes,
//! the error codes and what each state means. The engine (`cluster.rs` drives it)
//! owns the order of calls, settling and `--wait`.

use super::{classify_common, Tencent, TKE};
use crate::error::{Error, ErrorKind};
use crate::providers::engine::Phase;
use crate::providers::Ctx;
use crate::transport::{Api, HttpRequest, RetrySafety};
use serde::Deserialize;

/// Reads are always safe to repeat.
const DESCRIBE_CLUSTERS: Api = Api {
    name: "tencent.tke.DescribeClusters",
    default_rate: 20.0,
    safety: RetrySafety::Repeatable,
};
const DESCRIBE_EKS_CLUSTERS: Api = Api {
    name: "tencent.tke.DescribeEKSClusters",
    default_rate: 50.0,
    safety: RetrySafety::Repeatable,
};
/// No documented limit: DescribeClusters' 20/s [a choice].
const DESCRIBE_EDGE_CLUSTERS: Api = Api {
    name: "tencent.tke.DescribeTKEEdgeClusters",
    default_rate: 20.0,
    safety: RetrySafety::Repeatable,
};
/// No `ClientToken`: after a failure that may have been applied, the cluster is
/// described before anything is sent again (the engine settles it).
const DELETE_CLUSTER: Api = Api {
    name: "tencent.tke.DeleteCluster",
    default_rate: 50.0,
    safety: RetrySafety::QueryFirst,
};
const DELETE_EKS_CLUSTER: Api = Api {
    name: "tencent.tke.DeleteEKSCluster",
    default_rate: 50.0,
    safety: RetrySafety::QueryFirst,
};

/// The regions with TKE edge clusters (`DescribeTKEEdgeClusters` answers only there).
pub const EDGE_REGIONS: [&str; 5] = [
    "ap-beijing",
    "ap-guangzhou",
    "ap-nanjing",
    "ap-shanghai",
    "ap-singapore",
];

/// The code of a protected cluster, also given when the lookup finds protection on.
pub const IN_DELETION_PROTECTION: &str = "OperationDenied.ClusterInDeletionProtection";

/// TKE's codes (PROVIDERS.md §1c "Errors"). Whole codes first: several start with
/// `InternalError.`, which alone would read as a retryable internal error.
pub fn classify(code: &str) -> (ErrorKind, bool) {
    use ErrorKind::*;
    match code {
        "UnauthorizedOperation.CamNoAuth"
        | "FailedOperation.CamNoAuth"
        | "InternalError.CamNoAuth" => return (Permission, false),
        "FailedOperation.ClusterNotFound"
        | "InternalError.ClusterNotFound"
        | "InvalidParameter.ClusterNotFound"
        | "ResourceNotFound.ClusterNotFound"
        | "ResourceNotFound" => return (NotFound, false),
        IN_DELETION_PROTECTION => return (Provider, false),
        "FailedOperation.ClusterState"
        | "InternalError.ClusterState"
        | "ResourceUnavailable"
        | "ResourceUnavailable.ClusterState"
        | "ResourceInUse" => return (Provider, false),
        "FailedOperation.ClusterForbiddenToDelete"
        | "FailedOperation.ComponentClientCommon"
        | "FailedOperation.ComponentClientHttp"
        | "FailedOperation.CvmCommon"
        | "FailedOperation.TagCommon"
        | "FailedOperation.VpcCommon"
        | "InternalError.PublicClusterOpNotSupport"
        | "InternalError.ComponentClinetHttp" => return (Provider, false),
        "InvalidParameter"
        | "InvalidParameter.Param"
        | "FailedOperation.Param"
        | "InternalError.Param" => return (Internal, false),
        _ => {}
    }
    if let Some(c) = classify_common(code) {
        return c;
    }
    let starts = |p: &str| code == p || code.starts_with(&format!("{p}."));
    if starts("ResourceNotFound") {
        (NotFound, false)
    } else if ["FailedOperation", "OperationDenied", "UnsupportedOperation"]
        .iter()
        .chain(&["ResourceUnavailable", "ResourceInUse", "LimitExceeded"])
        .any(|p| starts(p))
    {
        (Provider, false)
    } else {
        (Internal, false)
    }
}

/// Codes a delete gets because of the cluster's state: the cluster is described and
/// `Deleting` means the deletion is under way, absent not found, else failed.
pub fn refused_for_its_state(code: Option<&str>) -> bool {
    matches!(
        code,
        Some(
            "FailedOperation.ClusterState"
                | "InternalError.ClusterState"
                | "ResourceUnavailable"
                | "ResourceUnavailable.ClusterState"
                | "ResourceInUse"
        )
    )
}

/// The kind of a `cls-` cluster, learnt from the lookup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Standard,
    Serverless,
}

#[derive(Deserialize)]
struct ClusterList {
    #[serde(rename = "Clusters", default)]
    clusters: Option<Vec<Cluster>>,
}

#[derive(Deserialize)]
struct Cluster {
    #[serde(rename = "ClusterId")]
    id: String,
    /// Standard clusters: `ClusterStatus`, and `DeletionProtection` (a bool).
    #[serde(rename = "ClusterStatus", default)]
    cluster_status: Option<String>,
    #[serde(rename = "DeletionProtection", default)]
    deletion_protection: Option<bool>,
    /// Serverless and edge clusters: `Status`.
    #[serde(rename = "Status", default)]
    status: Option<String>,
}

#[derive(Deserialize)]
struct Empty {}

/// The lookup body of every Describe: one cluster.
pub fn ids_body(id: &str) -> String {
    serde_json::json!({ "ClusterIds": [id] }).to_string()
}

/// `DeleteCluster`: `InstanceDeleteMode` is required (`terminate` destroys the nodes'
/// pay-as-you-go CVMs, `retain` keeps them); CBS disks are kept unless asked.
pub fn delete_body(id: &str, keep_instances: bool, delete_storage: bool) -> String {
    let mut body = serde_json::json!({
        "ClusterId": id,
        "InstanceDeleteMode": if keep_instances { "retain" } else { "terminate" },
    });
    if delete_storage {
        body["ResourceDeleteOptions"] =
            serde_json::json!([{"ResourceType": "CBS", "DeleteMode": "terminate"}]);
    }
    body.to_string()
}

fn eks_delete_body(id: &str) -> String {
    serde_json::json!({ "ClusterId": id }).to_string()
}

/// What an offline `--dry-run` shows: the first lookup, and the delete of a standard
/// cluster (the kind is not known without the lookup).
pub fn dry_run(ctx: &Ctx, tc: &Tencent, id: &str) -> Result<Vec<HttpRequest>, Error> {
    Ok(vec![
        tc.request(ctx, TKE, "DescribeClusters", ids_body(id))?,
        tc.request(
            ctx,
            TKE,
            "DeleteCluster",
            delete_body(id, ctx.plan.keep_instances, ctx.plan.delete_storage),
        )?,
    ])
}

/// Sends the delete of its kind; the answer carries only a `RequestId`.
pub async fn delete(
    ctx: &Ctx,
    tc: &Tencent,
    kind: Kind,
    id: &str,
) -> Result<Option<String>, Error> {
    let answer = match kind {
        Kind::Standard => {
            let body = delete_body(id, ctx.plan.keep_instances, ctx.plan.delete_storage);
            tc.call::<Empty>(ctx, &DELETE_CLUSTER, TKE, "DeleteCluster", &body, classify)
                .await
        }
        Kind::Serverless => {
            let body = eks_delete_body(id);
            tc.call::<Empty>(
                ctx,
                &DELETE_EKS_CLUSTER,
                TKE,
                "DeleteEKSCluster",
                &body,
                classify,
            )
            .await
        }
    };
    answer
        .map(|a| a.request_id)
        .map_err(|e| match e.code.as_deref() {
            Some(IN_DELETION_PROTECTION) => {
                let hint = protection_hint(id);
                Error {
                    message: format!("{} ({hint})", e.message),
                    ..e
                }
            }
            _ => e,
        })
}

/// What the user must do about deletion protection; cloudstop never turns it off.
fn protection_hint(id: &str) -> String {
    format!(
        "turn deletion protection off first (TKE console, or `tccli tke DisableClusterDeletionProtection --ClusterId {id}`), \
then run this again; cloudstop never turns it off itself"
    )
}

/// One Describe of `id`: the cluster, or `None` when the answer leaves it out or says
/// it does not exist. `gone_codes` are more codes that mean "gone" here.
async fn describe(
    ctx: &Ctx,
    tc: &Tencent,
    api: &Api,
    action: &str,
    id: &str,
    gone_codes: &[&str],
) -> Result<Option<Cluster>, Error> {
    match tc
        .call::<ClusterList>(ctx, api, TKE, action, &ids_body(id), classify)
        .await
    {
        Ok(a) => Ok(a
            .data
            .clusters
            .unwrap_or_default()
            .into_iter()
            .find(|c| c.id == id)),
        Err(e)
            if e.kind == ErrorKind::NotFound
                || e.code.as_deref().is_some_and(|c| gone_codes.contains(&c)) =>
        {
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

/// The lookup before the first delete: standard (`DescribeClusters`), else serverless
/// (`DescribeEKSClusters`), else — in the edge regions — an edge cluster, which is out
/// of scope. `None`: found nowhere.
pub async fn resolve(ctx: &Ctx, tc: &Tencent, id: &str) -> Result<Option<(Kind, Phase)>, Error> {
    if let Some(c) = describe(ctx, tc, &DESCRIBE_CLUSTERS, "DescribeClusters", id, &[]).await? {
        return Ok(Some((Kind::Standard, standard_phase(id, &c, false))));
    }
    if let Some(c) = describe(
        ctx,
        tc,
        &DESCRIBE_EKS_CLUSTERS,
        "DescribeEKSClusters",
        id,
        &[],
    )
    .await?
    {
        let phase = if ctx.plan.keep_instances || ctx.plan.delete_storage {
            Phase::Unsupported(Error::usage(format!(
                "{id} is a serverless (EKS) cluster: DeleteEKSCluster cannot keep instances or delete storage; \
run again without --keep-instances and --delete-storage"
            )))
        } else {
            serverless_phase(id, &c, false)
        };
        return Ok(Some((Kind::Serverless, phase)));
    }
    if EDGE_REGIONS.contains(&tc.region.as_str()) {
        let edge = describe(
            ctx,
            tc,
            &DESCRIBE_EDGE_CLUSTERS,
            "DescribeTKEEdgeClusters",
            id,
            &[],
        )
        .await?;
        if edge.is_some() {
            // The kind recorded is never used: an unsupported cluster stops the command
            // before any delete or later read.
            return Ok(Some((
                Kind::Standard,
                Phase::Unsupported(Error::usage(format!(
                    "{id} is a TKE edge cluster: cloudstop does not delete edge clusters \
(use the TKE console or `tccli tke DeleteTKEEdgeCluster`)"
                ))),
            )));
        }
    }
    Ok(None)
}

/// A later read of a cluster whose kind is known (settling a delete, `--wait`). After a
/// delete was sent, Terraform reads `ResourceUnavailable.ClusterState` as gone too.
pub async fn read(
    ctx: &Ctx,
    tc: &Tencent,
    kind: Kind,
    id: &str,
    sent: bool,
) -> Result<Option<Phase>, Error> {
    let gone: &[&str] = if sent {
        &["ResourceUnavailable.ClusterState"]
    } else {
        &[]
    };
    Ok(match kind {
        Kind::Standard => describe(ctx, tc, &DESCRIBE_CLUSTERS, "DescribeClusters", id, gone)
            .await?
            .map(|c| standard_phase(id, &c, sent)),
        Kind::Serverless => describe(
            ctx,
            tc,
            &DESCRIBE_EKS_CLUSTERS,
            "DescribeEKSClusters",
            id,
            gone,
        )
        .await?
        .map(|c| serverless_phase(id, &c, sent)),
    })
}

/// A standard cluster's state. `sent`: a delete went out for it, so `Abnormal` means
/// the deletion failed (before, an abnormal cluster is simply deleted).
fn standard_phase(id: &str, c: &Cluster, sent: bool) -> Phase {
    match c.cluster_status.as_deref() {
        Some("Deleting") => Phase::Stopping,
        Some("Abnormal") if sent => Phase::Failed(
            Error::new(
                ErrorKind::Provider,
                format!("the deletion of {id} failed: TKE reports the cluster Abnormal (see the TKE console)"),
            )
            .with_code("ClusterStatus.Abnormal"),
        ),
        _ if c.deletion_protection == Some(true) => Phase::Failed(
            Error::new(
                ErrorKind::Provider,
                format!(
                    "{id} has deletion protection on, so TKE will not delete it: {}",
                    protection_hint(id)
                ),
            )
            .with_code(IN_DELETION_PROTECTION),
        ),
        _ => Phase::Running,
    }
}

/// A serverless cluster's `Status` (running, initializing, Failed, Idling, Activating,
/// Terminating).
fn serverless_phase(id: &str, c: &Cluster, sent: bool) -> Phase {
    match c.status.as_deref() {
        Some("Terminating") => Phase::Stopping,
        Some("Failed") if sent => Phase::Failed(
            Error::new(
                ErrorKind::Provider,
                format!("the deletion of {id} failed: TKE reports the serverless cluster Failed (see the TKE console)"),
            )
            .with_code("Status.Failed"),
        ),
        _ => Phase::Running,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_documented_code_maps_whole_codes_before_prefixes() {
        use ErrorKind::*;
        for (code, kind, retry) in [
            ("UnauthorizedOperation.CamNoAuth", Permission, false),
            ("FailedOperation.CamNoAuth", Permission, false),
            ("InternalError.CamNoAuth", Permission, false),
            ("FailedOperation.ClusterNotFound", NotFound, false),
            ("InternalError.ClusterNotFound", NotFound, false),
            ("InvalidParameter.ClusterNotFound", NotFound, false),
            ("ResourceNotFound.ClusterNotFound", NotFound, false),
            ("ResourceNotFound", NotFound, false),
            (IN_DELETION_PROTECTION, Provider, false),
            ("FailedOperation.ClusterState", Provider, false),
            ("InternalError.ClusterState", Provider, false),
            ("ResourceUnavailable", Provider, false),
            ("ResourceUnavailable.ClusterState", Provider, false),
            ("ResourceInUse", Provider, false),
            ("FailedOperation.ClusterForbiddenToDelete", Provider, false),
            ("FailedOperation.ComponentClientCommon", Provider, false),
            ("FailedOperation.ComponentClientHttp", Provider, false),
            ("FailedOperation.CvmCommon", Provider, false),
            ("FailedOperation.TagCommon", Provider, false),
            ("FailedOperation.VpcCommon", Provider, false),
            ("InternalError.PublicClusterOpNotSupport", Provider, false),
            ("InternalError.ComponentClinetHttp", Provider, false),
            ("InternalError", Provider, true),
            ("InternalError.UnexceptedInternal", Provider, true),
            ("InvalidParameter", Internal, false),
            ("InvalidParameter.Param", Internal, false),
            ("FailedOperation.Param", Internal, false),
            ("InternalError.Param", Internal, false),
            ("AuthFailure.SignatureFailure", Auth, false),
            ("AuthFailure.UnauthorizedOperation", Permission, false),
            ("RequestLimitExceeded", Throttled, true),
            ("RequestLimitExceeded.UinLimitExceeded", Throttled, true),
            ("UnsupportedRegion", Usage, false),
            ("UnsupportedOperation", Provider, false),
            ("MissingParameter", Internal, false),
        ] {
            assert_eq!(classify(code), (kind, retry), "{code}");
        }
    }

    #[test]
    fn state_refusals_are_settled_by_reading() {
        for c in [
            "FailedOperation.ClusterState",
            "InternalError.ClusterState",
            "ResourceUnavailable",
            "ResourceUnavailable.ClusterState",
            "ResourceInUse",
        ] {
            assert!(refused_for_its_state(Some(c)), "{c}");
        }
        assert!(!refused_for_its_state(Some(IN_DELETION_PROTECTION)));
        assert!(!refused_for_its_state(None));
    }

    #[test]
    fn delete_bodies_follow_the_flags() {
        let v = |s: String| serde_json::from_str::<serde_json::Value>(&s).unwrap();
        assert_eq!(
            v(delete_body("cls-etu4tjip", false, false)),
            serde_json::json!({"ClusterId": "cls-etu4tjip", "InstanceDeleteMode": "terminate"})
        );
        assert_eq!(
            v(delete_body("cls-etu4tjip", true, true)),
            serde_json::json!({"ClusterId": "cls-etu4tjip", "InstanceDeleteMode": "retain",
                "ResourceDeleteOptions": [{"ResourceType": "CBS", "DeleteMode": "terminate"}]})
        );
    }

    fn cluster(status: &str, protection: Option<bool>) -> Cluster {
        Cluster {
            id: "cls-etu4tjip".into(),
            cluster_status: Some(status.into()),
            deletion_protection: protection,
            status: Some(status.into()),
        }
    }

    #[test]
    fn states_map_to_phases() {
        let id = "cls-etu4tjip";
        assert_eq!(
            standard_phase(id, &cluster("Deleting", Some(true)), false),
            Phase::Stopping
        );
        assert_eq!(
            standard_phase(id, &cluster("Running", None), false),
            Phase::Running
        );
        assert_eq!(
            standard_phase(id, &cluster("Abnormal", None), false),
            Phase::Running
        );
        assert!(matches!(
            standard_phase(id, &cluster("Abnormal", None), true),
            Phase::Failed(e) if e.code.as_deref() == Some("ClusterStatus.Abnormal")
        ));
        assert!(matches!(
            standard_phase(id, &cluster("Running", Some(true)), false),
            Phase::Failed(e) if e.code.as_deref() == Some(IN_DELETION_PROTECTION)
                && e.message.contains("DisableClusterDeletionProtection")
        ));
        assert_eq!(
            serverless_phase(id, &cluster("Terminating", None), false),
            Phase::Stopping
        );
        assert_eq!(
            serverless_phase(id, &cluster("Failed", None), false),
            Phase::Running
        );
        assert!(matches!(
            serverless_phase(id, &cluster("Failed", None), true),
            Phase::Failed(_)
        ));
    }
}
