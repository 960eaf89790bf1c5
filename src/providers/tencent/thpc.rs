//! Tencent Cloud THPC wire facts for `cluster delete` (PROVIDERS.md §1d): the lookup
//! (`DescribeClusters`), the delete (`DeleteCluster`, its only parameter the cluster
//! id), the error codes and what each state means.

use super::{classify_common, Tencent, THPC};
use crate::error::{Error, ErrorKind};
use crate::providers::engine::Phase;
use crate::providers::Ctx;
use crate::transport::{Api, HttpRequest, RetrySafety};
use serde::Deserialize;

const DESCRIBE_CLUSTERS: Api = Api {
    name: "tencent.thpc.DescribeClusters",
    default_rate: 20.0,
    safety: RetrySafety::Repeatable,
};
/// No `ClientToken`: after a failure that may have been applied, the cluster is
/// described before anything is sent again (the engine settles it).
const DELETE_CLUSTER: Api = Api {
    name: "tencent.thpc.DeleteCluster",
    default_rate: 20.0,
    safety: RetrySafety::QueryFirst,
};

/// THPC's codes (PROVIDERS.md §1d "Errors").
pub fn classify(code: &str) -> (ErrorKind, bool) {
    use ErrorKind::*;
    match code {
        "ResourceNotFound.ClusterId" => return (NotFound, false),
        "UnsupportedOperation.ClusterStatusNotSupport" => return (Provider, false),
        "InvalidParameter.Malformed" => return (Internal, false),
        _ => {}
    }
    if let Some(c) = classify_common(code) {
        return c;
    }
    let starts = |p: &str| code == p || code.starts_with(&format!("{p}."));
    if starts("ResourceNotFound") {
        (NotFound, false)
    } else if [
        "UnsupportedOperation",
        "FailedOperation",
        "OperationDenied",
        "ResourceInUse",
        "ResourceInsufficient",
        "LimitExceeded",
    ]
    .iter()
    .any(|p| starts(p))
    {
        (Provider, false)
    } else {
        (Internal, false)
    }
}

/// A delete refused because of the cluster's state: `TERMINATING` means the deletion
/// is under way, absent not found, else failed.
pub fn refused_for_its_state(code: Option<&str>) -> bool {
    code == Some("UnsupportedOperation.ClusterStatusNotSupport")
}

#[derive(Deserialize)]
struct ClusterSet {
    #[serde(rename = "ClusterSet", default)]
    set: Option<Vec<Cluster>>,
}

#[derive(Deserialize)]
struct Cluster {
    #[serde(rename = "ClusterId")]
    id: String,
    #[serde(rename = "ClusterStatus", default)]
    status: Option<String>,
    /// `"ON"` | `"OFF"` — a string, unlike TKE's bool.
    #[serde(rename = "DeletionProtection", default)]
    deletion_protection: Option<String>,
}

#[derive(Deserialize)]
struct Empty {}

fn describe_body(id: &str) -> String {
    serde_json::json!({ "ClusterIds": [id], "Limit": 100 }).to_string()
}

fn delete_body(id: &str) -> String {
    serde_json::json!({ "ClusterId": id }).to_string()
}

/// What an offline `--dry-run` shows: the lookup, then the delete.
pub fn dry_run(ctx: &Ctx, tc: &Tencent, id: &str) -> Result<Vec<HttpRequest>, Error> {
    Ok(vec![
        tc.request(ctx, THPC, "DescribeClusters", describe_body(id))?,
        tc.request(ctx, THPC, "DeleteCluster", delete_body(id))?,
    ])
}

/// Sends `DeleteCluster`; the answer carries only a `RequestId`.
pub async fn delete(ctx: &Ctx, tc: &Tencent, id: &str) -> Result<Option<String>, Error> {
    tc.call::<Empty>(
        ctx,
        &DELETE_CLUSTER,
        THPC,
        "DeleteCluster",
        &delete_body(id),
        classify,
    )
    .await
    .map(|a| a.request_id)
}

/// Reads `id`: its phase, or `None` when THPC does not list it.
pub async fn read(ctx: &Ctx, tc: &Tencent, id: &str) -> Result<Option<Phase>, Error> {
    let found = match tc
        .call::<ClusterSet>(
            ctx,
            &DESCRIBE_CLUSTERS,
            THPC,
            "DescribeClusters",
            &describe_body(id),
            classify,
        )
        .await
    {
        Ok(a) => a
            .data
            .set
            .unwrap_or_default()
            .into_iter()
            .find(|c| c.id == id),
        Err(e) if e.kind == ErrorKind::NotFound => None,
        Err(e) => return Err(e),
    };
    Ok(found.map(|c| phase(id, &c)))
}

/// `ClusterStatus` ∈ PENDING, INITING, INIT_FAILED, RUNNING, TERMINATING.
fn phase(id: &str, c: &Cluster) -> Phase {
    match c.status.as_deref() {
        Some("TERMINATING") => Phase::Stopping,
        _ if c.deletion_protection.as_deref() == Some("ON") => Phase::Failed(
            Error::new(
                ErrorKind::Provider,
                format!(
                    "{id} has deletion protection on, so THPC will not delete it: turn it off first \
(THPC console, or `tccli thpc ModifyClusterDeletionProtection --ClusterId {id} --DeletionProtection OFF`), \
then run this again; cloudstop never turns it off itself"
                ),
            )
            // No code for a protected THPC delete is documented: the field it comes from.
            .with_code("DeletionProtection.ON"),
        ),
        _ => Phase::Running,
    }
}

/// Not found: CVM's own HPC clusters share the `hpc-` prefix and THPC does not list them.
pub fn missing(id: &str, region: &str) -> Error {
    Error::new(
        ErrorKind::NotFound,
        format!(
            "no THPC cluster {id} in {region} (THPC DescribeClusters does not list it); \
note that CVM's own HPC clusters (DeleteHpcClusters) share the hpc- prefix and are not THPC clusters: \
cloudstop does not delete those"
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_documented_code_maps() {
        use ErrorKind::*;
        for (code, kind, retry) in [
            ("ResourceNotFound.ClusterId", NotFound, false),
            (
                "UnsupportedOperation.ClusterStatusNotSupport",
                Provider,
                false,
            ),
            ("InvalidParameter.Malformed", Internal, false),
            ("AuthFailure.SecretIdNotFound", Auth, false),
            ("UnauthorizedOperation", Permission, false),
            ("RequestLimitExceeded", Throttled, true),
            ("InternalError", Provider, true),
            ("InternalError.CallCvm", Provider, true),
            ("OperationDenied", Provider, false),
            ("InvalidParameterValue", Internal, false),
        ] {
            assert_eq!(classify(code), (kind, retry), "{code}");
        }
        assert!(refused_for_its_state(Some(
            "UnsupportedOperation.ClusterStatusNotSupport"
        )));
        assert!(!refused_for_its_state(Some("ResourceNotFound.ClusterId")));
    }

    #[test]
    fn states_map_to_phases() {
        let c = |s: &str, p: &str| Cluster {
            id: "hpc-5lyv94lq".into(),
            status: Some(s.into()),
            deletion_protection: Some(p.into()),
        };
        let id = "hpc-5lyv94lq";
        assert_eq!(phase(id, &c("TERMINATING", "ON")), Phase::Stopping);
        assert_eq!(phase(id, &c("RUNNING", "OFF")), Phase::Running);
        assert_eq!(phase(id, &c("INIT_FAILED", "OFF")), Phase::Running);
        assert!(matches!(
            phase(id, &c("RUNNING", "ON")),
            Phase::Failed(e) if e.message.contains("ModifyClusterDeletionProtection")
        ));
    }
}
