//! Tencent Cloud `cluster delete`: TKE clusters (`cls-…`, standard or serverless) and
//! THPC clusters (`hpc-…`), mixed freely in one command. Each id is looked up before
//! anything is sent — that lookup is what tells a standard cluster from a serverless
//! or an edge one — and deleted one per call; the engine does the rest (dry-run,
//! settling, `--wait`). Wire facts: `tke.rs` (PROVIDERS.md §1c), `thpc.rs` (§1d).

use super::tke::{self, Kind};
use super::{thpc, Tencent};
use crate::envelope::CredentialsUsed;
use crate::error::Error;
use crate::plan::{check_ids, is_prefixed_id, Plan};
use crate::providers::engine::{self, Accepted, Phase};
use crate::providers::Ctx;
use crate::transport::HttpRequest;
use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

fn is_thpc(id: &str) -> bool {
    id.starts_with("hpc-")
}

pub fn validate(plan: &Plan) -> Result<(), Error> {
    check_ids(
        &plan.ids,
        "Tencent cluster id",
        "cls- (TKE) or hpc- (THPC) followed by 8 lower-case letters or digits, e.g. cls-etu4tjip or hpc-5lyv94lq",
        |id| is_prefixed_id(id, "cls-", 8) || is_prefixed_id(id, "hpc-", 8),
    )?;
    if plan.unlease.is_some() {
        return Err(Error::usage(
            "--unlease is only for --provider qingcloud (nothing was sent)",
        ));
    }
    // THPC's DeleteCluster takes the cluster id only (PROVIDERS.md §1d).
    if let Some(id) = plan.ids.iter().find(|id| is_thpc(id)) {
        for (set, flag) in [
            (plan.keep_instances, "--keep-instances"),
            (plan.delete_storage, "--delete-storage"),
        ] {
            if set {
                return Err(Error::usage(format!(
                    "{flag} is not available for THPC clusters ({id}): DeleteCluster has no such choice (nothing was sent)"
                )));
            }
        }
    }
    Ok(())
}

pub async fn cluster_delete(ctx: &Ctx, tc: &Tencent) -> Result<(), Error> {
    let api = Clusters {
        tc,
        kinds: Mutex::new(HashMap::new()),
        sent: Mutex::new(HashSet::new()),
    };
    engine::run(ctx, &api).await
}

struct Clusters<'a> {
    tc: &'a Tencent,
    /// The kind of each `cls-` cluster, as its lookup found it.
    kinds: Mutex<HashMap<String, Kind>>,
    /// The clusters a delete was sent for: their failure states now mean a failed
    /// deletion.
    sent: Mutex<HashSet<String>>,
}

impl Clusters<'_> {
    fn kind(&self, id: &str) -> Option<Kind> {
        self.kinds.lock().unwrap().get(id).copied()
    }

    fn was_sent(&self, id: &str) -> bool {
        self.sent.lock().unwrap().contains(id)
    }

    async fn read_one(&self, ctx: &Ctx, id: &str) -> Result<Option<Phase>, Error> {
        if is_thpc(id) {
            return thpc::read(ctx, self.tc, id).await;
        }
        match self.kind(id) {
            Some(kind) => tke::read(ctx, self.tc, kind, id, self.was_sent(id)).await,
            None => Ok(match tke::resolve(ctx, self.tc, id).await? {
                Some((kind, phase)) => {
                    self.kinds.lock().unwrap().insert(id.to_string(), kind);
                    Some(phase)
                }
                None => None,
            }),
        }
    }
}

impl engine::Api for Clusters<'_> {
    fn read_first(&self) -> bool {
        true
    }

    fn credentials_used(&self) -> CredentialsUsed {
        self.tc.credentials_used()
    }

    fn dry_run(&self, ctx: &Ctx, ids: &[String]) -> Result<Vec<HttpRequest>, Error> {
        let mut shown = Vec::new();
        for id in ids {
            if is_thpc(id) {
                shown.extend(thpc::dry_run(ctx, self.tc, id)?);
            } else {
                tracing::warn!(
                    "dry run: the kind of {id} was not checked (that needs the lookup); shown is the delete of a \
standard cluster (a serverless one gets DeleteEKSCluster, an edge one is refused)"
                );
                shown.extend(tke::dry_run(ctx, self.tc, id)?);
            }
        }
        Ok(shown)
    }

    async fn submit(&self, ctx: &Ctx, ids: &[String]) -> Result<Accepted, Error> {
        let [id] = ids else {
            return Err(Error::internal("one cluster per delete call"));
        };
        self.sent.lock().unwrap().insert(id.clone());
        let request_id = if is_thpc(id) {
            thpc::delete(ctx, self.tc, id).await?
        } else {
            let kind = self.kind(id).ok_or_else(|| {
                Error::internal(format!("{id} was not looked up before its delete"))
            })?;
            tke::delete(ctx, self.tc, kind, id).await?
        };
        Ok(Accepted {
            request_id,
            provider_job_id: None,
        })
    }

    async fn read(&self, ctx: &Ctx, ids: &[String]) -> Result<Vec<(String, Phase)>, Error> {
        let mut found = Vec::new();
        for id in ids {
            if let Some(phase) = self.read_one(ctx, id).await? {
                found.push((id.clone(), phase));
            }
        }
        Ok(found)
    }

    fn missing(&self, _ctx: &Ctx, id: &str) -> Error {
        let region = &self.tc.region;
        if is_thpc(id) {
            return thpc::missing(id, region);
        }
        let edge = if tke::EDGE_REGIONS.contains(&region.as_str()) {
            ", DescribeTKEEdgeClusters"
        } else {
            ""
        };
        Error::new(
            crate::error::ErrorKind::NotFound,
            format!("no TKE cluster {id} in {region} (DescribeClusters, DescribeEKSClusters{edge} do not list it)"),
        )
    }

    fn settle_by_reading(&self, e: &Error) -> bool {
        e.maybe_applied
            || tke::refused_for_its_state(e.code.as_deref())
            || thpc::refused_for_its_state(e.code.as_deref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;
    use crate::providers::engine::Api as _;

    #[test]
    fn state_refusals_and_possibly_applied_deletes_are_settled_by_reading() {
        let (_ctx, tc) = crate::providers::tencent::answer_tests::test_client(
            "cluster delete -p tencent --cluster-id cls-aaaaaaaa --yes",
        );
        let api = Clusters {
            tc: &tc,
            kinds: Mutex::new(HashMap::new()),
            sent: Mutex::new(HashSet::new()),
        };
        let refusal = |code: &str| Error::new(ErrorKind::Provider, "x").with_code(code);
        for (e, settle) in [
            (refusal("FailedOperation.ClusterState"), true),
            (refusal("ResourceInUse"), true),
            (
                refusal("UnsupportedOperation.ClusterStatusNotSupport"),
                true,
            ),
            (
                refusal("InternalError").retryable(true).maybe_applied(true),
                true,
            ),
            (refusal("InvalidParameter"), false),
            (refusal("RequestLimitExceeded").retryable(true), false),
        ] {
            assert_eq!(api.settle_by_reading(&e), settle, "{e:?}");
        }
    }
}
