//! Huawei Cloud: credentials, region, project id (with the IAM lookup), each
//! service's endpoint, the signed request builder, the answer parser and the
//! error-code table shared by ECS `server stop` (`ecs.rs`), CCE `cluster delete`
//! (`cce.rs`) and ModelArts `job stop` (`modelarts.rs`). PROVIDERS.md §3–§3c.

mod cce;
mod ecs;
mod identity;
mod modelarts;
pub mod signer;

use crate::config::{
    check_profile_exists, in_order, key_pair, layered, read_ini_section, Found, SectionReader,
};
use crate::credentials::{Credentials, IdentityToken, Keys, SourceKind};
use crate::envelope::CredentialsUsed;
use crate::error::{Error, ErrorKind};
use crate::plan::{quote, Operation, Plan};
use crate::providers::select::{select, Flavor};
use crate::providers::Ctx;
use crate::transport::{
    base_url, host_header, Api, HttpRequest, RawResponse, RetrySafety, Sensitive,
};
use serde::Deserialize;
use std::cell::OnceCell;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

pub const OPERATIONS: &[Operation] = &[
    Operation::JobStop,
    Operation::ServerStop,
    Operation::ClusterDelete,
];

const PROFILE_KEYS: &[&str] = &[
    "ak",
    "sk",
    "security_token",
    "project_id",
    "region",
    "endpoint",
    "iam_endpoint",
    "idp_id",
    "id_token_file",
    "oidc_audience",
];
/// What EcsClient sends for a JSON body, and for bodiless GETs.
pub const CT_JSON_UTF8: &str = "application/json;charset=utf-8";
pub const CT_JSON: &str = "application/json";
/// The path segment used by `--dry-run` when no project id is configured (SPEC).
const PROJECT_PLACEHOLDER: &str = "{project_id}";

/// IAM KeystoneListProjects: a read, always safe to repeat.
const LIST_PROJECTS: Api = Api {
    name: "huawei.iam.KeystoneListProjects",
    default_rate: 5.0,
    safety: RetrySafety::Repeatable,
};

/// IAM KeystoneListRegions (`--region all`): a read, always safe to repeat.
const LIST_REGIONS: Api = Api {
    name: "huawei.iam.KeystoneListRegions",
    default_rate: 5.0,
    safety: RetrySafety::Repeatable,
};

/// IAM KeystoneListProjects' answer: `{"projects":[{"id","name",…}]}`.
#[derive(Deserialize)]
struct Projects {
    #[serde(default)]
    projects: Vec<Project>,
}

#[derive(Deserialize)]
struct Project {
    id: String,
    #[serde(default)]
    name: Option<String>,
}

/// The code of the error "IAM lists no project in this region": under `--region all`
/// such a region is skipped, not failed (SPEC "Several regions or zones at once").
const NO_PROJECT: &str = "NoProjectInRegion";

/// Whether `e` says the account has no project in the region (see [`NO_PROJECT`]).
pub fn no_project(e: &Error) -> bool {
    e.code.as_deref() == Some(NO_PROJECT)
}

/// `--region all`: IAM's public regions (`GET <IAM>/v3/regions`, AK/SK-signed, at
/// `HUAWEICLOUD_SDK_IAM_ENDPOINT` or the global IAM host) that are in the service's
/// SDK region table (PROVIDERS.md §5). Sorted.
pub async fn all_regions(ctx: &Ctx) -> Result<Vec<String>, Error> {
    #[derive(Deserialize)]
    struct Region {
        id: String,
        #[serde(rename = "type", default)]
        kind: Option<String>,
    }
    #[derive(Deserialize)]
    struct Regions {
        #[serde(default)]
        regions: Vec<Region>,
    }
    let table = match Service::of(ctx.plan.operation) {
        Service::Ecs => ecs::REGIONS,
        _ => {
            return Err(Error::usage(format!(
                "--region all is not available yet for huawei {}: name the regions (--region a,b)",
                ctx.plan.operation.verb()
            )))
        }
    };
    // Any region serves for the lookup: only its credentials and IAM host matter.
    let lookup = ctx.for_lookup("cn-north-4");
    let mut hw = Huawei::resolve(&lookup)?;
    if hw.credentials_used() == CredentialsUsed::Placeholder {
        return Err(Error::config(
            "--region all lists the provider's regions, which needs credentials, and none were found; nothing was sent",
        ));
    }
    hw.start(&lookup).await?;
    let base = if hw.iam_configured {
        hw.iam_base.clone()
    } else {
        identity::IAM_DEFAULT.to_string()
    };
    let found: Regions = ctx
        .transport
        .send(
            &LIST_REGIONS,
            || {
                hw.request(
                    &lookup,
                    Call {
                        method: reqwest::Method::GET,
                        base: &base,
                        path: "/v3/regions".into(),
                        query: &[],
                        body: String::new(),
                        content_type: None,
                        project_header: false,
                    },
                )
            },
            |raw| parse(raw).map(|a| a.data),
        )
        .await
        .map_err(|e| {
            let mut e = e;
            e.message = format!("listing the regions in IAM failed: {}", e.message);
            e
        })?;
    let mut regions: Vec<String> = found
        .regions
        .into_iter()
        .filter(|r| r.kind.as_deref() == Some("public") && table.contains(&r.id.as_str()))
        .map(|r| r.id)
        .collect();
    regions.sort();
    regions.dedup();
    tracing::info!(
        "--region all: {} public regions of IAM offer {}",
        regions.len(),
        ctx.plan.operation.verb()
    );
    Ok(regions)
}

pub fn validate(plan: &Plan) -> Result<(), Error> {
    if let Some(p) = &plan.project_id {
        check_project_id(p, "--project-id")?;
    }
    match plan.operation {
        Operation::ServerStop => ecs::validate(plan),
        Operation::ClusterDelete => cce::validate(plan),
        Operation::JobStop => modelarts::validate(plan),
    }
}

/// What `--tag`/`--name`/`--state` select with, per operation (ModelArts selection,
/// PROVIDERS.md §4d, is not built yet).
pub fn flavor(op: Operation) -> Option<&'static Flavor> {
    match op {
        Operation::ServerStop => Some(&ecs::SELECT),
        _ => None,
    }
}

pub async fn run(ctx: &Ctx) -> Result<(), Error> {
    let mut hw = Huawei::resolve(ctx)?;
    hw.start(ctx).await?;
    if ctx.plan.selectors.is_some() && hw.credentials_used() == CredentialsUsed::Placeholder {
        // Listing needs real credentials: `select` says so, before any project lookup.
        select(ctx, &ecs::SELECT, hw.credentials_used(), async {
            Ok(vec![])
        })
        .await?;
    }
    hw.ensure_project_id(ctx).await?;
    match ctx.plan.operation {
        Operation::ServerStop => {
            if select(
                ctx,
                &ecs::SELECT,
                hw.credentials_used(),
                ecs::list(ctx, &hw),
            )
            .await?
            {
                ecs::server_stop(ctx, &hw).await?;
            }
            Ok(())
        }
        Operation::ClusterDelete => cce::cluster_delete(ctx, &hw).await,
        Operation::JobStop => modelarts::job_stop(ctx, &hw).await,
    }
}

/// The Huawei Cloud services cloudstop calls, each on its own host per region.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    Ecs,
    Cce,
    ModelArts,
}

impl Service {
    /// The service an operation calls.
    pub fn of(op: Operation) -> Service {
        match op {
            Operation::ServerStop => Service::Ecs,
            Operation::ClusterDelete => Service::Cce,
            Operation::JobStop => Service::ModelArts,
        }
    }

    /// The per-service override of `CLOUDSTOP_HUAWEI_ENDPOINT` (SPEC `--endpoint`).
    pub fn endpoint_env(self) -> &'static str {
        match self {
            Service::Ecs => "CLOUDSTOP_HUAWEI_ECS_ENDPOINT",
            Service::Cce => "CLOUDSTOP_HUAWEI_CCE_ENDPOINT",
            Service::ModelArts => "CLOUDSTOP_HUAWEI_MODELARTS_ENDPOINT",
        }
    }

    /// The service's host in `region`, as the SDK's region tables give it: the rule
    /// `<service>.<region>.myhuaweicloud.com`, and the tables' exceptions
    /// (PROVIDERS.md §3b, §3c).
    pub fn default_base(self, region: &str) -> String {
        match (self, region) {
            (Service::Cce, "eu-west-101") => "https://cce.eu-west-101.myhuaweicloud.eu".into(),
            (Service::ModelArts, "ap-southeast-1") => {
                "https://modelarts.ap-southeast-1.myhuaweicloud.cn".into()
            }
            (Service::Ecs, _) => format!("https://ecs.{region}.myhuaweicloud.com"),
            (Service::Cce, _) => format!("https://cce.{region}.myhuaweicloud.com"),
            (Service::ModelArts, _) => format!("https://modelarts.{region}.myhuaweicloud.com"),
        }
    }
}

fn project_id_ok(p: &str) -> bool {
    p.len() == 32
        && p.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

fn check_project_id(p: &str, source: &str) -> Result<(), Error> {
    if project_id_ok(p) {
        Ok(())
    } else {
        Err(Error::usage(format!(
            "malformed project id {} (from {source}): expected 32 lower-case hex digits",
            quote(p)
        )))
    }
}

/// `^[a-z]{2}-[a-z]+-[0-9]+$` (cn-north-4, ap-southeast-1).
fn region_ok(r: &str) -> bool {
    let parts: Vec<&str> = r.split('-').collect();
    match parts.as_slice() {
        [a, b, c] => {
            a.len() == 2
                && a.bytes().all(|x| x.is_ascii_lowercase())
                && !b.is_empty()
                && b.bytes().all(|x| x.is_ascii_lowercase())
                && !c.is_empty()
                && c.bytes().all(|x| x.is_ascii_digit())
        }
        _ => false,
    }
}

/// Endpoint overrides, in SPEC's order: `--endpoint`, then the service's own
/// variable, then `CLOUDSTOP_HUAWEI_ENDPOINT` or the profile's `endpoint`.
struct Endpoints {
    cli: Option<String>,
    per_service: Vec<(Service, String)>,
    shared: Option<String>,
    sdk_region_ecs: Option<String>,
}

impl Endpoints {
    fn base(&self, service: Service, region: &str) -> Result<String, Error> {
        let own = self
            .per_service
            .iter()
            .find(|(s, _)| *s == service)
            .map(|(_, e)| e);
        let sdk_region = match service {
            Service::Ecs => self.sdk_region_ecs.as_ref(),
            _ => None,
        };
        match self
            .cli
            .as_ref()
            .or(own)
            .or(self.shared.as_ref())
            .or(sdk_region)
        {
            Some(e) => base_url(e, &service.default_base("cn-north-4")),
            None => Ok(service.default_base(region)),
        }
    }
}

/// Settings resolved for one run.
pub struct Huawei {
    creds: Arc<Credentials>,
    region: String,
    /// `None` until known; `--dry-run` without one uses [`PROJECT_PLACEHOLDER`].
    project_id: Option<String>,
    endpoints: Endpoints,
    /// IAM base URL, for the project-id lookup.
    iam_base: String,
    /// The IAM base URL was configured (else it is the region's own IAM host).
    iam_configured: bool,
}

/// The SDK's credential file, read only when a setting needs it: `[basic]` (the
/// documented section), else `[basiccredentials]` (what the SDK's default chain reads).
struct SdkFile {
    path: Option<PathBuf>,
    section: OnceCell<Result<Option<IniSection>, Error>>,
}

/// A section's name and its keys.
type IniSection = (&'static str, HashMap<String, String>);

impl SdkFile {
    fn section(&self) -> Result<Option<&IniSection>, Error> {
        self.section
            .get_or_init(|| {
                let Some(p) = &self.path else {
                    return Ok(None);
                };
                for name in ["basic", "basiccredentials"] {
                    if let Some(sec) = read_ini_section(p, name)? {
                        return Ok(Some((name, sec)));
                    }
                }
                Ok(None)
            })
            .as_ref()
            .map(Option::as_ref)
            .map_err(Clone::clone)
    }

    fn get(&self, key: &str) -> Result<Option<&str>, Error> {
        Ok(self
            .section()?
            .and_then(|(_, s)| s.get(key))
            .map(String::as_str)
            .filter(|v| !v.is_empty()))
    }

    fn label(&self) -> String {
        self.path
            .as_ref()
            .map_or("~/.huaweicloud/credentials".to_string(), |p| {
                p.display().to_string()
            })
    }
}

impl Huawei {
    fn resolve(ctx: &Ctx) -> Result<Huawei, Error> {
        let plan = &ctx.plan;
        let env = &ctx.env;
        let cfg = ctx.config()?;
        check_profile_exists(plan, cfg, "huawei", Vec::new)?;
        let section = SectionReader::new(cfg, &plan.profile, "huawei", PROFILE_KEYS)?;
        let file = SdkFile {
            path: env
                .get("HUAWEICLOUD_SDK_CREDENTIALS_FILE")
                .map(PathBuf::from)
                .or_else(|| Some(env.home()?.join(".huaweicloud").join("credentials"))),
            section: OnceCell::new(),
        };
        let cred_file_name = file.label();

        // Region: --region, CLOUDSTOP_REGION and the profile (no official variable).
        let (flag, cs_env) = plan.region_sources();
        let Some(region) = layered(
            plan.explicit_profile,
            flag,
            &[cs_env],
            section.get("region"),
        )
        .map(str::to_string) else {
            return Err(Error::usage(format!(
                "no region: pass --region (e.g. cn-north-4), or set CLOUDSTOP_REGION, or region in {}",
                section.label()
            )));
        };
        if !region_ok(&region) {
            return Err(Error::usage(format!(
                "malformed region {}: expected a Huawei Cloud region such as cn-north-4",
                quote(&region)
            )));
        }
        ctx.report.set_location("region", &region);

        let endpoints = Endpoints {
            cli: plan.endpoint.clone(),
            per_service: [Service::Ecs, Service::Cce, Service::ModelArts]
                .into_iter()
                .filter_map(|s| Some((s, env.get(s.endpoint_env())?.to_string())))
                .collect(),
            shared: layered(
                plan.explicit_profile,
                None,
                &[env.get("CLOUDSTOP_HUAWEI_ENDPOINT")],
                section.get("endpoint"),
            )
            .map(str::to_string),
            // The SDK's per-region ECS override (HUAWEICLOUD_SDK_REGION_ECS_CN_NORTH_4)
            // comes after the explicit ones: it names one region, so a run over several
            // regions can reach each at its own host.
            sdk_region_ecs: env
                .get(&format!(
                    "HUAWEICLOUD_SDK_REGION_ECS_{}",
                    region.to_ascii_uppercase().replace('-', "_")
                ))
                .map(str::to_string),
        };
        // A malformed override of the service this run calls is a usage error now,
        // before credentials are looked for and anything is sent.
        endpoints.base(Service::of(plan.operation), &region)?;

        // One source gives both keys (and maybe a token), or neither.
        let from = |pair: Option<(&str, &str)>, token: Option<&str>, kind, detail: String| {
            pair.map(|(ak, sk)| Found {
                value: (kind, detail, Keys::fixed(ak, sk, token)),
                source: String::new(),
            })
        };
        let found = in_order(
            plan.explicit_profile,
            || {
                let (ak, sk) = ("HUAWEICLOUD_SDK_AK", "HUAWEICLOUD_SDK_SK");
                let pair = key_pair(env.get(ak), env.get(sk), ak, sk, "")?;
                let token = env.get("HUAWEICLOUD_SDK_SECURITY_TOKEN");
                Ok(from(pair, token, SourceKind::Env, format!("{ak}, {sk}")))
            },
            || {
                let place = format!(" in {}", section.label());
                let pair = key_pair(section.get("ak"), section.get("sk"), "ak", "sk", &place)?;
                let token = section.get("security_token");
                Ok(from(
                    pair,
                    token,
                    SourceKind::Profile,
                    section.label().to_string(),
                ))
            },
            || {
                let name = file.section()?.map_or("basic", |(n, _)| *n);
                let place = format!(" in [{name}] of {cred_file_name}");
                let pair = key_pair(file.get("ak")?, file.get("sk")?, "ak", "sk", &place)?;
                Ok(from(
                    pair,
                    file.get("security_token")?,
                    SourceKind::File,
                    cred_file_name.clone(),
                ))
            },
        )?
        .map(|f| f.value);
        // The credential file's project id and IAM endpoint belong to its keys: they
        // are used only with them.
        let from_file = matches!(&found, Some((SourceKind::File, _, _)));

        // Project id: --project-id, then CLOUDSTOP_PROJECT_ID and
        // HUAWEICLOUD_SDK_PROJECT_ID around the profile, then the credential file;
        // else looked up from IAM.
        let (flag, cs_env) = plan.project_id_sources();
        let project_id = match layered(
            plan.explicit_profile,
            flag,
            &[cs_env, env.get("HUAWEICLOUD_SDK_PROJECT_ID")],
            section.get("project_id"),
        ) {
            Some(p) => Some(p),
            None if from_file => file.get("project_id")?,
            None => None,
        };
        // A project id belongs to one region: with several, each is looked up.
        let project_id = project_id.filter(|_| ctx.place().is_none());
        if let Some(p) = project_id {
            check_project_id(p, "the configured project id")?;
            ctx.report.set_location("project_id", p);
        }
        let project_id = project_id.map(str::to_string);

        let iam = match layered(
            plan.explicit_profile,
            None,
            &[env.get("HUAWEICLOUD_SDK_IAM_ENDPOINT")],
            section.get("iam_endpoint"),
        ) {
            Some(e) => Some(e),
            None if from_file => file.get("iam_endpoint")?,
            None => None,
        };
        let iam_configured = iam.is_some();
        let iam_base = match iam {
            Some(e) => base_url(e, "https://iam.cn-north-4.myhuaweicloud.com")?,
            None => format!("https://iam.{region}.myhuaweicloud.com"),
        };

        let none_hint = format!(
            "no Huawei Cloud credentials: set HUAWEICLOUD_SDK_AK and HUAWEICLOUD_SDK_SK \
(and HUAWEICLOUD_SDK_SECURITY_TOKEN for temporary keys), or ak and sk in {}, \
or ak and sk in the [basic] section of {cred_file_name} (HUAWEICLOUD_SDK_CREDENTIALS_FILE), \
or HUAWEICLOUD_SDK_IDP_ID and HUAWEICLOUD_SDK_ID_TOKEN_FILE, or an ECS agency",
            section.label()
        );
        let mut creds = match found {
            Some((kind, detail, keys)) => Credentials::fixed(kind, detail, keys),
            None => match Self::idp(ctx, &section, &file)? {
                Some((source, detail)) => {
                    Credentials::renewable(SourceKind::WebIdentity, detail, Box::new(source))
                }
                None if plan.dry_run => {
                    tracing::info!("no huawei credentials: --dry-run signs with a placeholder key");
                    Credentials::placeholder("AKPLACEHOLDER", "placeholder-secret-key")
                }
                None => {
                    let source = identity::EcsAgency {
                        base: base_url(
                            env.get("CLOUDSTOP_HUAWEI_METADATA_ENDPOINT")
                                .unwrap_or(identity::METADATA_DEFAULT),
                            identity::METADATA_DEFAULT,
                        )?,
                        none_hint,
                    };
                    let detail = format!("ECS agency from {}", source.base);
                    Credentials::renewable(SourceKind::InstanceRole, detail, Box::new(source))
                }
            },
        };
        if plan.dry_run && creds.is_renewable() {
            // A dry run sends nothing, so it obtains no temporary keys either.
            tracing::info!(
                "--dry-run: would use huawei credentials from {} ({}); signing with a placeholder key",
                creds.kind().as_str(),
                creds.detail()
            );
            creds = Credentials::placeholder("AKPLACEHOLDER", "placeholder-secret-key");
        } else if !creds.is_placeholder() {
            tracing::info!(
                "huawei credentials from {} ({})",
                creds.kind().as_str(),
                creds.detail()
            );
        }
        Ok(Huawei {
            creds: Arc::new(creds),
            region,
            project_id,
            endpoints,
            iam_base,
            iam_configured,
        })
    }

    /// The base URL of `service`, no trailing `/` (a path prefix kept).
    pub fn base(&self, service: Service) -> Result<String, Error> {
        self.endpoints.base(service, &self.region)
    }

    /// The IdP id-token flow, when an IdP id is configured: `HUAWEICLOUD_SDK_IDP_ID`
    /// (or the profile's / credential file's `idp_id`) with the token from
    /// `HUAWEICLOUD_SDK_ID_TOKEN_FILE` (`id_token_file`), else from the GitHub Actions
    /// runner.
    fn idp(
        ctx: &Ctx,
        section: &SectionReader<'_>,
        file: &SdkFile,
    ) -> Result<Option<(identity::IdToken, String)>, Error> {
        let plan = &ctx.plan;
        let env = &ctx.env;
        let pick = |var: &str, key: &str| -> Result<Option<String>, Error> {
            Ok(
                match layered(
                    plan.explicit_profile,
                    None,
                    &[env.get(var)],
                    section.get(key),
                ) {
                    Some(v) => Some(v.to_string()),
                    None => file.get(key)?.map(str::to_string),
                },
            )
        };
        let idp_id = pick("HUAWEICLOUD_SDK_IDP_ID", "idp_id")?;
        let token_file = pick("HUAWEICLOUD_SDK_ID_TOKEN_FILE", "id_token_file")?;
        let Some(idp_id) = idp_id else {
            if token_file.is_some() {
                return Err(Error::config(
                    "HUAWEICLOUD_SDK_ID_TOKEN_FILE (id_token_file) is set but HUAWEICLOUD_SDK_IDP_ID (idp_id) is not",
                ));
            }
            return Ok(None);
        };
        let audience = layered(
            plan.explicit_profile,
            None,
            &[env.get("CLOUDSTOP_OIDC_AUDIENCE")],
            section.get("oidc_audience"),
        );
        let token = match token_file {
            Some(f) => IdentityToken::File {
                path: PathBuf::from(f),
                var: "HUAWEICLOUD_SDK_ID_TOKEN_FILE",
            },
            None => IdentityToken::github(env, audience).ok_or_else(|| {
                Error::config(
                    "HUAWEICLOUD_SDK_IDP_ID is set but there is no id token: set \
HUAWEICLOUD_SDK_ID_TOKEN_FILE, or run in GitHub Actions with `permissions: id-token: write` \
(ACTIONS_ID_TOKEN_REQUEST_URL and ACTIONS_ID_TOKEN_REQUEST_TOKEN)",
                )
            })?,
        };
        let iam = pick("HUAWEICLOUD_SDK_IAM_ENDPOINT", "iam_endpoint")?;
        let iam_base = match iam {
            Some(e) => base_url(&e, identity::IAM_DEFAULT)?,
            None => identity::IAM_DEFAULT.to_string(),
        };
        let detail = format!("IdP {idp_id}, {}", token.describe());
        Ok(Some((
            identity::IdToken {
                idp_id,
                token,
                iam_base,
            },
            detail,
        )))
    }

    /// Hands the credentials to the transport (which renews them before every
    /// attempt) and gets the first temporary keys before anything is sent.
    async fn start(&mut self, ctx: &Ctx) -> Result<(), Error> {
        self.creds = ctx.transport.use_credentials(self.creds.clone());
        self.creds.ensure_fresh(&ctx.transport).await
    }

    /// Looks the project id up from IAM by region name when none is configured:
    /// `GET <IAM>/v3/projects?name=<region>`, once per run. `--dry-run` never asks.
    /// In a run over several regions the projects of all of them are asked for once,
    /// unfiltered (see [`Huawei::account_projects`]); a region that answer does not
    /// settle is asked for by name as above.
    async fn ensure_project_id(&mut self, ctx: &Ctx) -> Result<(), Error> {
        // A dry run with selectors lists for real, in the real project.
        if self.project_id.is_some() || (ctx.plan.dry_run && ctx.plan.selectors.is_none()) {
            return Ok(());
        }
        let region = self.region.clone();
        if let Some((_, gather)) = ctx.place() {
            let this = &*self;
            let known = gather
                .account
                .get_or_init(|| this.account_projects(ctx))
                .await;
            if let Some([id]) = known
                .as_ref()
                .and_then(|m| m.get(&region))
                .map(Vec::as_slice)
            {
                if project_id_ok(id) {
                    tracing::info!("huawei project id of {region} found in the account's projects");
                    ctx.report.set_location("project_id", id);
                    self.project_id = Some(id.clone());
                    return Ok(());
                }
            }
        }
        let found = self
            .list_projects(ctx, &[("name", &region)])
            .await
            .map_err(|e| {
                let mut e = e;
                e.message = format!("project id lookup in IAM failed: {}", e.message);
                e
            })?;
        let ask = "pass --project-id (or set HUAWEICLOUD_SDK_PROJECT_ID)";
        let id = match found.projects.as_slice() {
            [one] => one.id.clone(),
            [] => {
                return Err(Error::config(format!(
                    "IAM lists no project named {region} for these credentials: {ask}"
                ))
                .with_code(NO_PROJECT))
            }
            many => {
                return Err(Error::config(format!(
                    "IAM lists {} projects named {region}: {ask}",
                    many.len()
                )))
            }
        };
        if !project_id_ok(&id) {
            return Err(Error::config(format!(
                "IAM answered a malformed project id {}: {ask}",
                quote(&id)
            )));
        }
        tracing::info!("huawei project id of {region} looked up from IAM");
        ctx.report.set_location("project_id", &id);
        self.project_id = Some(id);
        Ok(())
    }

    /// IAM KeystoneListProjects, `GET <IAM>/v3/projects` with `query` (none, or a name).
    async fn list_projects(&self, ctx: &Ctx, query: &[(&str, &str)]) -> Result<Projects, Error> {
        ctx.transport
            .send(
                &LIST_PROJECTS,
                || {
                    self.request(
                        ctx,
                        Call {
                            method: reqwest::Method::GET,
                            base: &self.iam_base,
                            path: "/v3/projects".into(),
                            query,
                            body: String::new(),
                            content_type: None,
                            project_header: false,
                        },
                    )
                },
                |raw| parse(raw).map(|a| a.data),
            )
            .await
    }

    /// Every project of the account, by name: `GET <IAM>/v3/projects` without a filter
    /// (KeystoneListProjects; unpaged unless `page`/`per_page` are sent). One call for
    /// all the regions of a run instead of one per region on the one IAM host, whose
    /// pacing would otherwise line the regions up. `None` when the call fails: each
    /// region then asks by name, as a run over one region does.
    async fn account_projects(&self, ctx: &Ctx) -> crate::providers::select::AccountLookup {
        let found = self.list_projects(ctx, &[]).await;
        match found {
            Ok(found) => {
                let mut by_name: HashMap<String, Vec<String>> = HashMap::new();
                for p in found.projects {
                    if let Some(name) = p.name {
                        by_name.entry(name).or_default().push(p.id);
                    }
                }
                Some(by_name)
            }
            Err(e) => {
                tracing::info!(
                    "listing the account's projects in IAM failed ({}): each region is looked up by name",
                    e.message
                );
                None
            }
        }
    }

    /// The project id for paths and `X-Project-Id` (the placeholder on a dry run without one).
    pub fn project(&self) -> &str {
        self.project_id.as_deref().unwrap_or(PROJECT_PLACEHOLDER)
    }

    /// An ECS call under `/v1/{project_id}`.
    pub fn ecs(
        &self,
        ctx: &Ctx,
        method: reqwest::Method,
        rest: &str,
        body: String,
    ) -> Result<HttpRequest, Error> {
        let content_type = if method == reqwest::Method::POST {
            CT_JSON_UTF8
        } else {
            CT_JSON
        };
        let path = format!("/v1/{}/{rest}", self.project());
        self.service(ctx, Service::Ecs, method, &path, &[], body, content_type)
    }

    /// A call to `service` at `path` (below its base URL, project id included by the
    /// caller), with `query` sent exactly as signed, a signed `Content-Type` and
    /// `X-Project-Id` (the SDKs send it on every call made with a project id).
    #[allow(clippy::too_many_arguments)]
    pub fn service(
        &self,
        ctx: &Ctx,
        service: Service,
        method: reqwest::Method,
        path: &str,
        query: &[(&str, &str)],
        body: String,
        content_type: &'static str,
    ) -> Result<HttpRequest, Error> {
        let base = self.base(service)?;
        self.request(
            ctx,
            Call {
                method,
                base: &base,
                path: path.to_string(),
                query,
                body,
                content_type: Some(content_type),
                project_header: true,
            },
        )
    }

    /// An ECS GET under `/v1/{project_id}` with a query (list calls).
    pub fn ecs_get(
        &self,
        ctx: &Ctx,
        rest: &str,
        query: &[(&str, &str)],
    ) -> Result<HttpRequest, Error> {
        let base = self.base(Service::Ecs)?;
        self.request(
            ctx,
            Call {
                method: reqwest::Method::GET,
                base: &base,
                path: format!("/v1/{}/{rest}", self.project()),
                query,
                body: String::new(),
                content_type: Some(CT_JSON),
                project_header: true,
            },
        )
    }

    /// Builds and signs one request at the clock's time.
    fn request(&self, ctx: &Ctx, call: Call<'_>) -> Result<HttpRequest, Error> {
        let query = signer::canonical_query(call.query);
        let (base_path, full_path) = {
            let u = reqwest::Url::parse(call.base)
                .map_err(|e| Error::usage(format!("malformed endpoint URL: {e}")))?;
            let prefix = u.path().trim_end_matches('/').to_string();
            (
                call.base.trim_end_matches('/').to_string(),
                format!("{prefix}{}", call.path),
            )
        };
        let mut url = format!("{base_path}{}", call.path);
        if !query.is_empty() {
            url.push('?');
            url.push_str(&query);
        }
        let host = host_header(&url)?;
        let date = signer::sdk_date(ctx.clock.now());
        let mut headers: Vec<(String, String)> = Vec::new();
        if let Some(ct) = call.content_type {
            headers.push(("Content-Type".into(), ct.into()));
        }
        headers.push(("Host".into(), host));
        if call.project_header {
            headers.push(("X-Project-Id".into(), self.project().into()));
        }
        headers.push(("X-Sdk-Date".into(), date.clone()));
        let keys = self.creds.current()?;
        if let Some(t) = &keys.token {
            headers.push(("X-Security-Token".into(), t.expose().into()));
        }
        let signed = {
            let pairs: Vec<(&str, &str)> = headers
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            signer::sign(&signer::SignInput {
                access_key: &keys.id,
                secret_key: keys.secret.expose(),
                method: call.method.as_str(),
                path: &full_path,
                query: &query,
                headers: &pairs,
                body: &call.body,
                sdk_date: &date,
            })
        };
        headers.insert(0, ("Authorization".into(), signed.authorization));
        Ok(HttpRequest {
            method: call.method,
            url,
            headers,
            body: call.body,
            sensitive: vec![
                Sensitive::SignatureIn("Authorization"),
                Sensitive::Header("X-Security-Token"),
            ],
        })
    }

    pub fn credentials_used(&self) -> CredentialsUsed {
        if self.creds.is_placeholder() {
            CredentialsUsed::Placeholder
        } else {
            CredentialsUsed::Configured
        }
    }
}

/// One call's parts.
struct Call<'a> {
    method: reqwest::Method,
    base: &'a str,
    /// Below the base URL, without a trailing `/`.
    path: String,
    query: &'a [(&'a str, &'a str)],
    body: String,
    /// `None`: no `Content-Type` sent or signed (IAM lookup).
    content_type: Option<&'static str>,
    /// Sends and signs `X-Project-Id` (ECS calls).
    project_header: bool,
}

/// A successful answer and its request id (header `X-Request-Id`).
pub struct Answer<T> {
    pub data: T,
    pub request_id: Option<String>,
}

/// Reads an answer: 2xx is JSON data; anything else is an error read from its body
/// (`error_code`/`error_msg`, else `error.code`/`error.message`) and mapped by [`classify`].
pub fn parse<T: serde::de::DeserializeOwned>(raw: &RawResponse) -> Result<Answer<T>, Error> {
    let request_id = raw.header("x-request-id").map(str::to_string);
    if (200..300).contains(&raw.status) {
        let data = raw.json()?;
        return Ok(Answer { data, request_id });
    }
    Err(refusal(raw))
}

/// The error an answer carries (for non-2xx, or a 2xx without the expected data).
pub fn refusal(raw: &RawResponse) -> Error {
    let request_id = raw.header("x-request-id").map(str::to_string);
    let Some((code, message)) = error_fields(&raw.body) else {
        return raw.http_error().with_request_id(request_id);
    };
    let (kind, retryable) = match &code {
        Some(c) => classify(c, raw.status),
        None => classify("", raw.status),
    };
    // Throttled calls were not executed; server errors may have been.
    let maybe_applied = retryable && kind != ErrorKind::Throttled;
    let mut message = if message.is_empty() {
        format!("HTTP {}", raw.status)
    } else {
        message
    };
    if kind != ErrorKind::NotFound && raw.status == 404 {
        // Not the service's own not-found: a gateway without the route, a wrong path.
        message = format!("{message} (HTTP 404{})", raw.from_url());
    }
    if let Some(id) = &request_id {
        message = format!("{message} (X-Request-Id {id})");
    }
    let mut e = Error::new(kind, message)
        .retryable(retryable)
        .maybe_applied(maybe_applied)
        .retry_after(raw.retry_after())
        .with_request_id(request_id);
    e.code = Some(code.unwrap_or_else(|| format!("HTTP {}", raw.status)));
    e
}

/// `(code, message)` from `error_code`/`error_msg`, else CCE's `errorCode`/`errorMessage`
/// (one CCE body can carry both pairs: the SDK reads `error_code` first), else
/// `error.code`/`error.message` (IAM puts a number in `error.code`: then there is no
/// code). `None`: not an error body.
fn error_fields(body: &[u8]) -> Option<(Option<String>, String)> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    let text = |x: &serde_json::Value| x.as_str().map(str::to_string);
    for (code, msg) in [("error_code", "error_msg"), ("errorCode", "errorMessage")] {
        if let Some(code) = text(&v[code]) {
            let msg = text(&v[msg])
                .or_else(|| text(&v["message"]))
                .unwrap_or_default();
            if let Some(other) = text(&v["errorCode"]).filter(|c| *c != code) {
                tracing::debug!(
                    "error body also carries errorCode {other}: {}",
                    text(&v["errorMessage"]).unwrap_or_default()
                );
            }
            return Some((Some(code), msg));
        }
    }
    let e = &v["error"];
    if e.is_object() {
        let msg = text(&e["message"]).unwrap_or_default();
        return Some((text(&e["code"]), msg));
    }
    None
}

/// The error-code table of PROVIDERS.md §3 → (kind, retryable). Unknown codes fall
/// back on the HTTP status — except 404, which is `not_found` only with a service's own
/// not-found code: a bare 404, or a gateway's `APIGW.0101`, means a wrong endpoint or
/// path, and must never read as "already gone" under `--ignore-missing`.
pub fn classify(code: &str, status: u16) -> (ErrorKind, bool) {
    use ErrorKind::*;
    match code {
        "APIGW.0301" | "CCE.01401001" => (Auth, false),
        "Ecs.0003" | "Ecs.0110" | "Pdp.0001" | "CCE.01403001" => (Permission, false),
        "Ecs.0023" => (Config, false),
        "Ecs.0114" | "Ecs.0614" | "CCE.01404001" => (NotFound, false),
        // ModelArts answers an unknown training job with HTTP 400, not 404 (§3c).
        "ModelArts.2775" => (NotFound, false),
        "CCE.01429002" | "CCE.02429001" => (Throttled, true),
        "Ecs.0005" => (Usage, false),
        "Ecs.0100" | "Common.0011" | "APIGW.0101" => (Provider, false),
        "Ecs.0118" => (Internal, false),
        "APIGW.0308" | "Common.1503" | "Common.0024" => (Throttled, true),
        "Common.0001" => (Provider, true),
        _ => match status {
            429 => (Throttled, true),
            500..=599 => (Provider, true),
            401 => (Auth, false),
            403 => (Permission, false),
            _ => (Provider, false),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_documented_code_maps() {
        use ErrorKind::*;
        for (code, status, kind, retry) in [
            ("APIGW.0301", 401, Auth, false),
            ("Ecs.0003", 403, Permission, false),
            ("Ecs.0110", 403, Permission, false),
            ("Pdp.0001", 403, Permission, false),
            ("Ecs.0023", 400, Config, false),
            ("Ecs.0114", 404, NotFound, false),
            ("Ecs.0614", 404, NotFound, false),
            ("Ecs.0005", 400, Usage, false),
            ("Ecs.0100", 400, Provider, false),
            ("Ecs.0118", 400, Internal, false),
            ("Common.0011", 400, Provider, false),
            ("APIGW.0101", 404, Provider, false),
            ("APIGW.0308", 429, Throttled, true),
            ("Common.1503", 503, Throttled, true),
            ("Common.0024", 202, Throttled, true),
            ("Common.0001", 500, Provider, true),
            ("Common.9999", 502, Provider, true),
            ("CCE.01401001", 401, Auth, false),
            ("CCE.01403001", 403, Permission, false),
            ("CCE.01404001", 404, NotFound, false),
            ("CCE.01400001", 400, Provider, false),
            ("CCE.01409001", 409, Provider, false),
            ("CCE.01429002", 429, Throttled, true),
            ("CCE.02429001", 429, Throttled, true),
            ("CCE.01500001", 500, Provider, true),
            ("ModelArts.2775", 400, NotFound, false),
            ("ModelArts.0105", 400, Provider, false),
            ("ModelArts.0203", 403, Permission, false),
            ("Whatever", 429, Throttled, true),
            ("Whatever", 401, Auth, false),
            ("Whatever", 403, Permission, false),
            ("Whatever", 400, Provider, false),
            ("Whatever", 404, Provider, false),
            ("", 404, Provider, false),
            ("CCE.01404001", 404, NotFound, false),
        ] {
            assert_eq!(classify(code, status), (kind, retry), "{code}");
        }
    }

    fn raw(status: u16, body: &str) -> RawResponse {
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert("x-request-id", "req-1".parse().unwrap());
        RawResponse {
            status,
            headers,
            body: body.as_bytes().to_vec(),
            url: "https://ecs.cn-north-4.myhuaweicloud.com/v1/p/cloudservers/action".into(),
        }
    }

    #[test]
    fn reads_both_error_shapes() {
        let e = refusal(&raw(
            401,
            r#"{"error_msg":"verify aksk signature fail","error_code":"APIGW.0301","request_id":"x"}"#,
        ));
        assert_eq!(
            (e.kind, e.code.as_deref()),
            (ErrorKind::Auth, Some("APIGW.0301"))
        );
        assert!(e.message.contains("req-1") && !e.retryable);
        let e = refusal(&raw(
            404,
            r#"{"error":{"code":"Ecs.0114","message":"Instance[abc] could not be found."}}"#,
        ));
        assert_eq!(
            (e.kind, e.code.as_deref()),
            (ErrorKind::NotFound, Some("Ecs.0114"))
        );
        let e = refusal(&raw(
            500,
            r#"{"error":{"code":"Common.0001","message":"x"}}"#,
        ));
        assert!(e.retryable && e.maybe_applied);
        let e = refusal(&raw(
            429,
            r#"{"error_code":"APIGW.0308","error_msg":"limit"}"#,
        ));
        assert!(e.retryable && !e.maybe_applied);
        let e = refusal(&raw(403, r#"{"error":{"code":403,"message":"forbidden"}}"#));
        assert_eq!(e.kind, ErrorKind::Permission);
        // A gateway or proxy 404 is no "not found": it names the URL.
        for body in [
            r#"{"error_code":"APIGW.0101","error_msg":"The API does not exist or has not been published in the environment"}"#,
            r#"{"error":{"code":"Foo.404","message":"nope"}}"#,
            "<html>404 Not Found</html>",
            "",
        ] {
            let e = refusal(&raw(404, body));
            assert_eq!(e.kind, ErrorKind::Provider, "{body}");
            assert!(
                e.message
                    .contains("https://ecs.cn-north-4.myhuaweicloud.com/v1/p/cloudservers/action"),
                "{}",
                e.message
            );
        }
        // CCE: both pairs in one body; error_code wins (the SDK's order).
        let e = refusal(&raw(
            400,
            r#"{"kind":"Status","code":400,"errorCode":"CCE.01400001","errorMessage":"Invalid request.","error_code":"CCE_CM.0004","error_msg":"Request is invalid","message":"m","reason":"BadRequest"}"#,
        ));
        assert_eq!(e.code.as_deref(), Some("CCE_CM.0004"));
        assert!(e.message.starts_with("Request is invalid"));
        let e = refusal(&raw(
            404,
            r#"{"errorCode":"CCE.01404001","errorMessage":"Resource not found","message":"cluster x not found"}"#,
        ));
        assert_eq!(
            (e.kind, e.code.as_deref()),
            (ErrorKind::NotFound, Some("CCE.01404001"))
        );
        let e = refusal(&raw(502, "<html>bad gateway</html>"));
        assert!(e.retryable && e.message.contains("502"));
        assert!(parse::<serde_json::Value>(&raw(200, "not json")).is_err());
    }

    #[test]
    fn only_a_404_names_its_url_and_only_no_project_skips_a_region() {
        let e = refusal(&raw(
            500,
            r#"{"error":{"code":"Common.0001","message":"busy"}}"#,
        ));
        assert_eq!(e.message, "busy (X-Request-Id req-1)");
        let e = refusal(&raw(
            404,
            r#"{"error":{"code":"Ecs.0114","message":"gone"}}"#,
        ));
        assert_eq!(
            e.message, "gone (X-Request-Id req-1)",
            "the service's own not-found"
        );
        let none = Error::config("IAM lists no project").with_code(NO_PROJECT);
        assert!(no_project(&none));
        assert!(!no_project(&Error::config("IAM lists 2 projects")));
        assert!(!no_project(&e));
    }

    #[test]
    fn a_documented_code_decides_whatever_the_status() {
        // The table of PROVIDERS.md §3 is read by code; the HTTP status is only the
        // fallback for codes it does not list.
        for code in [
            "APIGW.0301",
            "CCE.01401001",
            "Ecs.0003",
            "Ecs.0110",
            "Pdp.0001",
            "CCE.01403001",
            "Ecs.0023",
            "Ecs.0114",
            "Ecs.0614",
            "CCE.01404001",
            "ModelArts.2775",
            "CCE.01429002",
            "CCE.02429001",
            "Ecs.0005",
            "Ecs.0100",
            "Common.0011",
            "APIGW.0101",
            "Ecs.0118",
            "APIGW.0308",
            "Common.1503",
            "Common.0024",
            "Common.0001",
        ] {
            let at = |status| classify(code, status);
            for status in [200, 400, 401, 403, 404, 429, 500, 503] {
                assert_eq!(at(status), at(418), "{code} at HTTP {status}");
            }
        }
    }

    #[test]
    fn endpoints_per_service_in_spec_order() {
        let none = Endpoints {
            cli: None,
            per_service: vec![],
            shared: None,
            sdk_region_ecs: None,
        };
        assert_eq!(
            none.base(Service::Cce, "cn-north-4").unwrap(),
            "https://cce.cn-north-4.myhuaweicloud.com"
        );
        assert_eq!(
            none.base(Service::Cce, "eu-west-101").unwrap(),
            "https://cce.eu-west-101.myhuaweicloud.eu"
        );
        assert_eq!(
            none.base(Service::ModelArts, "ap-southeast-1").unwrap(),
            "https://modelarts.ap-southeast-1.myhuaweicloud.cn"
        );
        assert_eq!(
            none.base(Service::Ecs, "eu-west-101").unwrap(),
            "https://ecs.eu-west-101.myhuaweicloud.com"
        );
        let some = Endpoints {
            cli: None,
            per_service: vec![(Service::Cce, "http://cce.test/p/".into())],
            shared: Some("http://all.test".into()),
            sdk_region_ecs: None,
        };
        assert_eq!(some.base(Service::Cce, "x").unwrap(), "http://cce.test/p");
        assert_eq!(
            some.base(Service::ModelArts, "x").unwrap(),
            "http://all.test"
        );
        let cli = Endpoints {
            cli: Some("http://cli.test".into()),
            ..some
        };
        assert_eq!(cli.base(Service::Cce, "x").unwrap(), "http://cli.test");
        let bad = Endpoints {
            cli: Some("ftp://x y".into()),
            per_service: vec![],
            shared: None,
            sdk_region_ecs: None,
        };
        assert_eq!(
            bad.base(Service::Ecs, "x").unwrap_err().kind,
            ErrorKind::Usage
        );
    }

    #[test]
    fn regions_and_projects() {
        for r in ["cn-north-4", "ap-southeast-1", "la-south-2", "cn-east-3"] {
            assert!(region_ok(r), "{r}");
        }
        // `--region all` hands these on as `--region` values: each must pass.
        let mut seen = std::collections::HashSet::new();
        for r in ecs::REGIONS {
            assert!(region_ok(r) && seen.insert(r), "{r}");
        }
        for r in [
            "",
            "cn-north",
            "cn-north-x",
            "CN-north-4",
            "cnn-north-4",
            "cn--4",
        ] {
            assert!(!region_ok(r), "{r}");
        }
        assert!(project_id_ok("0a1b2c3d4e5f60718293a4b5c6d7e8f9"));
        for p in [
            "0A1B2C3D4E5F60718293A4B5C6D7E8F9",
            "0a1b",
            "0a1b2c3d4e5f60718293a4b5c6d7e8fg",
        ] {
            assert!(!project_id_ok(p), "{p}");
        }
    }

    /// A run context and a resolved client for the unit tests of the API files: `args` after
    /// `cloudstop`, keys and region from the environment.
    pub(super) fn test_client(args: &str) -> (Ctx, Huawei) {
        use clap::Parser;
        let argv = std::iter::once("cloudstop").chain(args.split_whitespace());
        let cli = crate::cli::Cli::try_parse_from(argv).unwrap();
        let env = crate::config::Env::from_pairs(&[
            ("HUAWEICLOUD_SDK_AK", "AKTEST"),
            ("HUAWEICLOUD_SDK_SK", "SKTEST"),
            ("CLOUDSTOP_REGION", "cn-north-4"),
            (
                "HUAWEICLOUD_SDK_PROJECT_ID",
                "0123456789abcdef0123456789abcdef",
            ),
            ("HOME", "/nonexistent"),
        ]);
        let plan = Plan::build(cli.command, &env, &mut std::io::empty()).unwrap();
        let ctx = Ctx::new(plan, env);
        let hw = Huawei::resolve(&ctx).unwrap();
        (ctx, hw)
    }
}
