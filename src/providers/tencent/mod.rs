//! Tencent Cloud (API 3.0): credentials, region and endpoint, the signed request
//! builder, the answer parser and the codes shared by Batch (`batch.rs`, `job stop`),
//! CVM (`cvm.rs`, `server stop`), TKE and THPC (`cluster.rs` with `tke.rs` and
//! `thpc.rs`, `cluster delete`). PROVIDERS.md §1, §1b, §1c and §1d.

mod batch;
mod cluster;
mod cvm;
pub mod signer;
mod sts;
mod thpc;
mod tke;

use crate::config::{
    check_key, check_profile_exists, in_order, key_pair, layered, read_ini_section, read_json_file,
    Env, Found, SectionReader,
};
use crate::credentials::{Credentials, IdentityToken, Keys, SourceKind};
use crate::envelope::CredentialsUsed;
use crate::error::{Error, ErrorKind};
use crate::plan::{Operation, Plan};
use crate::providers::select::{pages, select, Flavor, Listed, Page, Selectors};
use crate::providers::Ctx;
use crate::transport::{base_url, host_header, HttpRequest, RawResponse, Sensitive};
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
    "secret_id",
    "secret_key",
    "token",
    "region",
    "endpoint",
    "role_arn",
    "role_session_name",
    "duration",
    "oidc_audience",
];
const CONTENT_TYPE: &str = "application/json";
/// A good `--endpoint`, for error messages.
const DEFAULT_EXAMPLE: &str = "https://batch.tencentcloudapi.com";

/// One Tencent Cloud API service.
#[derive(Debug, Clone, Copy)]
pub struct Service {
    /// The credential scope's service, and the default host's first label.
    pub name: &'static str,
    pub version: &'static str,
    /// Whether requests go to the region's own host (`<name>.<region>.tencentcloudapi.com`,
    /// its own rate budget; PROVIDERS.md §5) rather than the nearest-region host.
    pub regional: bool,
}

pub const BATCH: Service = Service {
    name: "batch",
    version: "2017-03-12",
    regional: false,
};

pub const CVM: Service = Service {
    name: "cvm",
    version: "2017-03-12",
    regional: false,
};

/// TKE (standard and serverless clusters), PROVIDERS.md §1c.
pub const TKE: Service = Service {
    name: "tke",
    version: "2018-05-25",
    regional: true,
};

/// THPC (`hpc-` clusters), PROVIDERS.md §1d.
pub const THPC: Service = Service {
    name: "thpc",
    version: "2023-03-21",
    regional: true,
};

/// The services an operation calls (tccli keeps one endpoint per service).
fn services(op: Operation) -> &'static [Service] {
    match op {
        Operation::JobStop => &[BATCH],
        Operation::ServerStop => &[CVM],
        Operation::ClusterDelete => &[TKE, THPC],
    }
}

pub fn validate(plan: &Plan) -> Result<(), Error> {
    match plan.operation {
        Operation::JobStop => batch::validate(plan),
        Operation::ServerStop => cvm::validate(plan),
        Operation::ClusterDelete => cluster::validate(plan),
    }
}

/// What `--tag`/`--name`/`--state` select with, per operation.
pub fn flavor(op: Operation) -> Option<&'static Flavor> {
    match op {
        Operation::JobStop => Some(&batch::SELECT),
        Operation::ServerStop => Some(&cvm::SELECT),
        Operation::ClusterDelete => None,
    }
}

pub async fn run(ctx: &Ctx) -> Result<(), Error> {
    let mut tc = Tencent::resolve(ctx)?;
    tc.start(ctx).await?;
    let used = tc.credentials_used();
    match ctx.plan.operation {
        Operation::JobStop => {
            if select(ctx, &batch::SELECT, used, batch::list(ctx, &tc)).await? {
                batch::job_stop(ctx, &tc).await?;
            }
            Ok(())
        }
        Operation::ServerStop => {
            if select(ctx, &cvm::SELECT, used, cvm::list(ctx, &tc)).await? {
                cvm::server_stop(ctx, &tc).await?;
            }
            Ok(())
        }
        Operation::ClusterDelete => cluster::cluster_delete(ctx, &tc).await,
    }
}

/// Settings resolved for one run.
pub struct Tencent {
    creds: Arc<Credentials>,
    region: String,
    /// Base URL override for every service (`--endpoint`, `CLOUDSTOP_TENCENT_ENDPOINT`,
    /// profile).
    endpoint: Option<String>,
    /// tccli's `<service>.endpoint`, per service, below `endpoint`.
    service_endpoints: HashMap<&'static str, String>,
}

fn region_ok(r: &str) -> bool {
    // ^[a-z]{2,3}-[a-z]+(-[a-z0-9]+)?$ (ap-guangzhou, ap-shanghai-fsi, na-siliconvalley)
    let parts: Vec<&str> = r.split('-').collect();
    let lower = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_lowercase());
    match parts.as_slice() {
        [a, b] => (2..=3).contains(&a.len()) && lower(a) && lower(b),
        [a, b, c] => {
            (2..=3).contains(&a.len())
                && lower(a)
                && lower(b)
                && !c.is_empty()
                && c.bytes()
                    .all(|x| x.is_ascii_lowercase() || x.is_ascii_digit())
        }
        _ => false,
    }
}

/// tccli's files for one profile (`~/.tccli/<profile>.credential` and `.configure`),
/// each read only when a setting needs it.
struct Tccli {
    dir: Option<PathBuf>,
    profile: String,
    credential: OnceCell<Result<Option<serde_json::Value>, Error>>,
    configure: OnceCell<Result<Option<serde_json::Value>, Error>>,
}

impl Tccli {
    fn path(&self, ext: &str) -> Option<PathBuf> {
        Some(self.dir.as_ref()?.join(format!("{}.{ext}", self.profile)))
    }

    fn read(&self, ext: &str) -> Result<Option<serde_json::Value>, Error> {
        match self.path(ext) {
            Some(p) => read_json_file(&p),
            None => Ok(None),
        }
    }

    fn credential(&self) -> Result<Option<&serde_json::Value>, Error> {
        self.credential
            .get_or_init(|| self.read("credential"))
            .as_ref()
            .map(Option::as_ref)
            .map_err(Clone::clone)
    }

    fn configure(&self) -> Result<Option<&serde_json::Value>, Error> {
        self.configure
            .get_or_init(|| self.read("configure"))
            .as_ref()
            .map(Option::as_ref)
            .map_err(Clone::clone)
    }

    /// The profiles tccli has (`<name>.credential` / `<name>.configure`), for messages.
    fn profiles(&self) -> Vec<(String, String)> {
        let Some(dir) = &self.dir else {
            return vec![];
        };
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| {
                let name = e.file_name().into_string().ok()?;
                let stem = name
                    .strip_suffix(".credential")
                    .or_else(|| name.strip_suffix(".configure"))?;
                Some(stem.to_string())
            })
            .collect();
        names.sort();
        names.dedup();
        names
            .into_iter()
            .map(|n| (n, dir.display().to_string()))
            .collect()
    }
}

/// The Tencent SDK's credential files, in the order the SDK reads them.
fn sdk_file_paths(env: &Env) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = env
        .get("TENCENTCLOUD_CREDENTIALS_FILE")
        .map(PathBuf::from)
        .or_else(|| Some(env.home()?.join(".tencentcloud").join("credentials")))
        .into_iter()
        .collect();
    v.push(PathBuf::from("/etc/tencentcloud/credentials"));
    v
}

/// Where the credentials were found, before any role is assumed on top.
struct Base {
    kind: SourceKind,
    detail: String,
    /// `None`: tccli's `"type": "cvm-role"` (the instance's role).
    keys: Option<Keys>,
    /// tccli's `role-arn` and `role-session-name`: assumed with these keys, as tccli does.
    tccli_role: Option<(String, Option<String>)>,
}

/// `role_session_name`: 2–128 of `[\w+=,.@-]` (§6a); default `cloudstop-<unix s>`.
fn session_name(given: Option<&str>, place: &str) -> Result<String, Error> {
    match given {
        None => Ok(format!("cloudstop-{}", chrono::Utc::now().timestamp())),
        Some(n) => {
            let ok = (2..=128).contains(&n.len())
                && n.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"_+=,.@-".contains(&b));
            if ok {
                Ok(n.to_string())
            } else {
                Err(Error::config(format!(
                    "malformed role session name {} in {place}: 2 to 128 of letters, digits and _+=,.@-",
                    crate::plan::quote(n)
                )))
            }
        }
    }
}

/// The profile's `duration` (humantime, default 1 h; STS allows up to 12 h).
fn role_duration(given: Option<&str>, place: &str) -> Result<u64, Error> {
    let Some(d) = given else {
        return Ok(3600);
    };
    let secs = humantime::parse_duration(d.trim())
        .map(|d| d.as_secs())
        .unwrap_or(0);
    if !(900..=43200).contains(&secs) {
        return Err(Error::config(format!(
            "duration {} in {place}: expected a duration from 15m to 12h, such as 1h",
            crate::plan::quote(d)
        )));
    }
    Ok(secs)
}

/// Web identity from the `TKE_*` variables (the token from `TKE_WEB_IDENTITY_TOKEN_FILE`,
/// else from the GitHub Actions runner); `None` when they are not set.
fn web_identity(
    env: &Env,
    audience: Option<&str>,
    region: &str,
    endpoint: Option<&String>,
) -> Result<Option<(sts::WebIdentity, String)>, Error> {
    let (arn, provider, file) = (
        env.get("TKE_ROLE_ARN"),
        env.get("TKE_PROVIDER_ID"),
        env.get("TKE_WEB_IDENTITY_TOKEN_FILE"),
    );
    if arn.is_none() && provider.is_none() && file.is_none() {
        return Ok(None);
    }
    let (Some(arn), Some(provider)) = (arn, provider) else {
        let missing: Vec<&str> = [("TKE_ROLE_ARN", arn), ("TKE_PROVIDER_ID", provider)]
            .iter()
            .filter(|(_, v)| v.is_none())
            .map(|(n, _)| *n)
            .collect();
        return Err(Error::config(format!(
            "web identity is half configured: {} not set (TKE_ROLE_ARN, TKE_PROVIDER_ID and \
TKE_WEB_IDENTITY_TOKEN_FILE, or GitHub Actions' id token, are needed together)",
            missing.join(" and ")
        )));
    };
    let token = match file {
        Some(f) => IdentityToken::File {
            path: PathBuf::from(f),
            var: "TKE_WEB_IDENTITY_TOKEN_FILE",
        },
        None => IdentityToken::github(env, audience).ok_or_else(|| {
            Error::config(
                "TKE_ROLE_ARN and TKE_PROVIDER_ID are set but there is no token: set \
TKE_WEB_IDENTITY_TOKEN_FILE, or run in GitHub Actions with `permissions: id-token: write` \
(ACTIONS_ID_TOKEN_REQUEST_URL and ACTIONS_ID_TOKEN_REQUEST_TOKEN)",
            )
        })?,
    };
    let detail = format!("TKE_ROLE_ARN={arn}, {}", token.describe());
    Ok(Some((
        sts::WebIdentity {
            provider_id: provider.to_string(),
            token,
            role: sts::Role {
                arn: arn.to_string(),
                session_name: session_name(None, "")?,
                duration_secs: 7200,
                endpoint: endpoint.cloned(),
                region: env.get("TKE_REGION").unwrap_or(region).to_string(),
            },
        },
        detail,
    )))
}

impl Tencent {
    fn resolve(ctx: &Ctx) -> Result<Tencent, Error> {
        let plan = &ctx.plan;
        let env = &ctx.env;
        let cfg = ctx.config()?;
        let section = SectionReader::new(cfg, &plan.profile, "tencent", PROFILE_KEYS)?;
        // tccli's profile: an explicit --profile (or CLOUDSTOP_PROFILE) names it; only
        // without either does TCCLI_PROFILE choose it.
        let tccli_profile = if plan.profile_named {
            plan.profile.clone()
        } else {
            env.get("TCCLI_PROFILE")
                .unwrap_or(&plan.profile)
                .to_string()
        };
        let tccli = Tccli {
            dir: env.home().map(|h| h.join(".tccli")),
            profile: tccli_profile.clone(),
            credential: OnceCell::new(),
            configure: OnceCell::new(),
        };
        check_profile_exists(plan, cfg, "tencent", || {
            let mut names = tccli.profiles();
            for path in sdk_file_paths(env) {
                if let Ok(Some(secs)) = ini_sections(&path) {
                    let place = path.display().to_string();
                    names.extend(secs.into_iter().map(|s| (s, place.clone())));
                }
            }
            names
        })?;

        // Region: --region, then CLOUDSTOP_REGION and TENCENTCLOUD_REGION around the
        // profile (SPEC's order), then tccli's configure file.
        let (flag, cs_env) = plan.region_sources();
        let region = match layered(
            plan.explicit_profile,
            flag,
            &[cs_env, env.get("TENCENTCLOUD_REGION")],
            section.get("region"),
        ) {
            Some(r) => Some(r.to_string()),
            None => tccli
                .configure()?
                .and_then(|c| c["_sys_param"]["region"].as_str())
                .filter(|r| !r.is_empty())
                .map(str::to_string),
        };
        let Some(region) = region else {
            return Err(Error::usage(format!(
                "no region: pass --region (e.g. ap-guangzhou), or set CLOUDSTOP_REGION or TENCENTCLOUD_REGION, \
or region in {}, or _sys_param.region in ~/.tccli/{tccli_profile}.configure",
                section.label()
            )));
        };
        if !region_ok(&region) {
            return Err(Error::usage(format!(
                "malformed region {}: expected a Tencent Cloud region such as ap-guangzhou",
                crate::plan::quote(&region)
            )));
        }
        ctx.report.set_location("region", &region);

        let base = in_order(
            plan.explicit_profile,
            || {
                let pair = key_pair(
                    env.get("TENCENTCLOUD_SECRET_ID"),
                    env.get("TENCENTCLOUD_SECRET_KEY"),
                    "TENCENTCLOUD_SECRET_ID",
                    "TENCENTCLOUD_SECRET_KEY",
                    "",
                )?;
                Ok(pair.map(|(id, key)| Found {
                    value: Base {
                        kind: SourceKind::Env,
                        detail: "TENCENTCLOUD_SECRET_ID, TENCENTCLOUD_SECRET_KEY".into(),
                        keys: Some(Keys::fixed(id, key, env.get("TENCENTCLOUD_TOKEN"))),
                        tccli_role: None,
                    },
                    source: String::new(),
                }))
            },
            || {
                let place = format!(" in {}", section.label());
                let pair = key_pair(
                    section.get("secret_id"),
                    section.get("secret_key"),
                    "secret_id",
                    "secret_key",
                    &place,
                )?;
                Ok(pair.map(|(id, key)| Found {
                    value: Base {
                        kind: SourceKind::Profile,
                        detail: section.label().to_string(),
                        keys: Some(Keys::fixed(id, key, section.get("token"))),
                        tccli_role: None,
                    },
                    source: String::new(),
                }))
            },
            || sdk_files(ctx, &tccli),
        )?
        .map(|f| f.value);
        let from_tccli = base.as_ref().is_some_and(|b| {
            tccli
                .path("credential")
                .is_some_and(|p| b.detail == p.display().to_string())
        });

        // Endpoint: --endpoint, then CLOUDSTOP_TENCENT_ENDPOINT around the profile (one
        // base URL for every service, STS included); tccli keeps one endpoint per
        // service, and those go only with tccli's own credentials.
        let endpoint = layered(
            plan.explicit_profile,
            plan.endpoint.as_deref(),
            &[env.get("CLOUDSTOP_TENCENT_ENDPOINT")],
            section.get("endpoint"),
        )
        .map(str::to_string);
        if let Some(e) = &endpoint {
            base_url(e, DEFAULT_EXAMPLE)?;
        }
        let mut service_endpoints = HashMap::new();
        if endpoint.is_none() && from_tccli {
            if let Some(c) = tccli.configure()? {
                for service in services(plan.operation) {
                    if let Some(e) = c[service.name]["endpoint"]
                        .as_str()
                        .filter(|e| !e.is_empty())
                    {
                        base_url(e, DEFAULT_EXAMPLE)?;
                        service_endpoints.insert(service.name, e.to_string());
                    }
                }
            }
        }

        let none_hint = format!(
            "no Tencent Cloud credentials: set TENCENTCLOUD_SECRET_ID and TENCENTCLOUD_SECRET_KEY, \
or secret_id and secret_key in {}, or use ~/.tencentcloud/credentials ([{}] secret_id, secret_key) \
or tccli's ~/.tccli/{tccli_profile}.credential, or web identity (TKE_ROLE_ARN, TKE_PROVIDER_ID, \
TKE_WEB_IDENTITY_TOKEN_FILE), or a CVM role",
            section.label(),
            plan.profile
        );
        // Checked only when the instance role is used.
        let metadata = || -> Result<sts::CvmRole, Error> {
            Ok(sts::CvmRole {
                base: base_url(
                    env.get("CLOUDSTOP_TENCENT_METADATA_ENDPOINT")
                        .unwrap_or(sts::METADATA_DEFAULT),
                    sts::METADATA_DEFAULT,
                )?,
                none_hint: none_hint.clone(),
            })
        };
        let role = |arn: String, session: Option<&str>, duration: Option<&str>, place: &str| {
            Ok::<_, Error>(sts::Role {
                arn,
                session_name: session_name(session, place)?,
                duration_secs: role_duration(duration, place)?,
                endpoint: endpoint.clone(),
                region: region.clone(),
            })
        };
        let mut creds = match base {
            Some(Base {
                kind,
                detail,
                keys: None,
                ..
            }) => Credentials::renewable(kind, detail, Box::new(metadata()?)),
            Some(Base {
                kind,
                detail,
                keys: Some(keys),
                tccli_role,
            }) => {
                let found = Credentials::fixed(kind, detail.clone(), keys);
                match tccli_role {
                    None => found,
                    Some((arn, session)) => {
                        let role = role(arn.clone(), session.as_deref(), None, &detail)?;
                        Credentials::renewable(
                            SourceKind::AssumeRole,
                            format!("{arn} with the keys of {detail}"),
                            Box::new(sts::AssumeRole {
                                base: Arc::new(found),
                                role,
                            }),
                        )
                    }
                }
            }
            None => {
                let audience = layered(
                    plan.explicit_profile,
                    None,
                    &[env.get("CLOUDSTOP_OIDC_AUDIENCE")],
                    section.get("oidc_audience"),
                );
                match web_identity(env, audience, &region, endpoint.as_ref())? {
                    Some((source, detail)) => {
                        Credentials::renewable(SourceKind::WebIdentity, detail, Box::new(source))
                    }
                    None if plan.dry_run => {
                        tracing::info!(
                            "no tencent credentials: --dry-run signs with a placeholder key"
                        );
                        Credentials::placeholder("AKIDPLACEHOLDER", "placeholder-secret-key")
                    }
                    None => {
                        let m = metadata()?;
                        let detail = format!("CVM role from {}", m.base);
                        Credentials::renewable(SourceKind::InstanceRole, detail, Box::new(m))
                    }
                }
            }
        };
        // A profile's role_arn is assumed with whatever was found.
        if let Some(arn) = section.get("role_arn") {
            if creds.is_placeholder() {
                tracing::info!("--dry-run: the profile's role_arn is not assumed");
            } else {
                let role = role(
                    arn.to_string(),
                    section.get("role_session_name"),
                    section.get("duration"),
                    section.label(),
                )?;
                let detail = format!("{arn} with the credentials from {}", creds.kind().as_str());
                creds = Credentials::renewable(
                    SourceKind::AssumeRole,
                    detail,
                    Box::new(sts::AssumeRole {
                        base: Arc::new(creds),
                        role,
                    }),
                );
            }
        }
        if plan.dry_run && creds.is_renewable() {
            // A dry run sends nothing, so it obtains no temporary keys either.
            tracing::info!(
                "--dry-run: would use tencent credentials from {} ({}); signing with a placeholder key",
                creds.kind().as_str(),
                creds.detail()
            );
            creds = Credentials::placeholder("AKIDPLACEHOLDER", "placeholder-secret-key");
        } else if !creds.is_placeholder() {
            tracing::info!(
                "tencent credentials from {} ({})",
                creds.kind().as_str(),
                creds.detail()
            );
        }
        Ok(Tencent {
            creds: Arc::new(creds),
            region,
            endpoint,
            service_endpoints,
        })
    }

    /// Hands the credentials to the transport (which renews them before every
    /// attempt) and gets the first temporary keys, so that a source that cannot give
    /// any fails the command before anything is sent.
    async fn start(&mut self, ctx: &Ctx) -> Result<(), Error> {
        self.creds = ctx.transport.use_credentials(self.creds.clone());
        self.creds.ensure_fresh(&ctx.transport).await
    }

    /// Builds and signs one POST JSON request of `action`, at the clock's time, with
    /// the run's current keys.
    pub fn request(
        &self,
        ctx: &Ctx,
        service: Service,
        action: &str,
        body: String,
    ) -> Result<HttpRequest, Error> {
        let keys = self.creds.current()?;
        let base = match self
            .endpoint
            .as_ref()
            .or_else(|| self.service_endpoints.get(service.name))
        {
            Some(e) => base_url(e, DEFAULT_EXAMPLE)?,
            // TKE and THPC: the region's own host; one of several regions: its own
            // gateway, with its own rate budget (the region-less host shares one bucket
            // across regions; PROVIDERS.md §5).
            None if service.regional || ctx.place().is_some() => {
                format!(
                    "https://{}.{}.tencentcloudapi.com",
                    service.name, self.region
                )
            }
            None => format!("https://{}.tencentcloudapi.com", service.name),
        };
        signed_request(
            &keys,
            &base,
            &self.region,
            service,
            action,
            body,
            ctx.clock.now().timestamp(),
        )
    }

    pub fn credentials_used(&self) -> CredentialsUsed {
        if self.creds.is_placeholder() {
            CredentialsUsed::Placeholder
        } else {
            CredentialsUsed::Configured
        }
    }

    /// One call of `action`: built and signed anew for every attempt, sent with the
    /// transport's retries as `api` allows, and its answer read with `classify`.
    pub async fn call<T: serde::de::DeserializeOwned>(
        &self,
        ctx: &Ctx,
        api: &crate::transport::Api,
        service: Service,
        action: &str,
        body: &str,
        classify: fn(&str) -> (ErrorKind, bool),
    ) -> Result<Answer<T>, Error> {
        ctx.transport
            .send(
                api,
                || self.request(ctx, service, action, body.to_string()),
                |raw| parse_answer::<T>(raw, classify),
            )
            .await
    }
}

/// One TC3-signed POST JSON request of `action` to `service` at `base` (a base URL
/// without the final `/`), with `keys`' token in `X-TC-Token`.
fn signed_request(
    keys: &Keys,
    base: &str,
    region: &str,
    service: Service,
    action: &str,
    body: String,
    timestamp: i64,
) -> Result<HttpRequest, Error> {
    let url = format!("{base}/");
    let host = host_header(&url)?;
    let signed = signer::sign(&signer::SignInput {
        secret_id: &keys.id,
        secret_key: keys.secret.expose(),
        service: service.name,
        method: "POST",
        host: &host,
        content_type: CONTENT_TYPE,
        query: "",
        body: &body,
        timestamp,
    });
    let mut headers = vec![
        ("Authorization".to_string(), signed.authorization),
        ("Content-Type".to_string(), CONTENT_TYPE.to_string()),
        ("Host".to_string(), host),
        ("X-TC-Action".to_string(), action.to_string()),
        ("X-TC-Timestamp".to_string(), timestamp.to_string()),
        ("X-TC-Version".to_string(), service.version.to_string()),
        ("X-TC-Region".to_string(), region.to_string()),
        ("X-TC-Language".to_string(), "en-US".to_string()),
    ];
    if let Some(token) = &keys.token {
        headers.push(("X-TC-Token".to_string(), token.expose().to_string()));
    }
    Ok(HttpRequest {
        method: reqwest::Method::POST,
        url,
        headers,
        body,
        sensitive: vec![
            Sensitive::SignatureIn("Authorization"),
            Sensitive::Header("X-TC-Token"),
        ],
    })
}

/// The section names of an INI file (for "profiles that exist" messages).
fn ini_sections(path: &std::path::Path) -> Result<Option<Vec<String>>, Error> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(_) => return Ok(None),
    };
    let ini = ini::Ini::load_from_str(&text)
        .map_err(|e| Error::config(format!("invalid INI file {}: {e}", path.display())))?;
    Ok(Some(ini.sections().flatten().map(str::to_string).collect()))
}

/// The SDK credential file (section = the profile), then tccli's profile credential
/// file. A tccli profile whose credentials cloudstop cannot honour is an error, never
/// a silent fall back to the key stored next to them.
fn sdk_files(ctx: &Ctx, tccli: &Tccli) -> Result<Option<Found<Base>>, Error> {
    for path in sdk_file_paths(&ctx.env) {
        if let Some(sec) = read_ini_section(&path, &ctx.plan.profile)? {
            if let (Some(id), Some(key)) = (sec.get("secret_id"), sec.get("secret_key")) {
                if !id.is_empty() && !key.is_empty() {
                    return Ok(Some(Found {
                        value: Base {
                            kind: SourceKind::File,
                            detail: path.display().to_string(),
                            keys: Some(Keys::fixed(id.clone(), key.clone(), None)),
                            tccli_role: None,
                        },
                        source: String::new(),
                    }));
                }
            }
        }
    }
    let Some(v) = tccli.credential()? else {
        return Ok(None);
    };
    let path = tccli
        .path("credential")
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    let typ = v["type"].as_str().unwrap_or("");
    if typ == "cvm-role" {
        return Ok(Some(Found {
            value: Base {
                kind: SourceKind::InstanceRole,
                detail: format!("{path} (type cvm-role)"),
                keys: None,
                tccli_role: None,
            },
            source: String::new(),
        }));
    }
    if matches!(typ, "oauth" | "sso") {
        return Err(Error::config(format!(
            "tccli profile {path} holds \"type\": \"{typ}\" credentials, which cloudstop cannot use: \
it never falls back to another key. Set TENCENTCLOUD_SECRET_ID and TENCENTCLOUD_SECRET_KEY, \
or secret_id and secret_key in the cloudstop profile"
        )));
    }
    let role_arn = v["role-arn"]
        .as_str()
        .filter(|r| !r.is_empty())
        .map(str::to_string);
    if let (Some(id), Some(key)) = (v["secretId"].as_str(), v["secretKey"].as_str()) {
        if !id.is_empty() && !key.is_empty() {
            check_key(id, "secretId")?;
            check_key(key, "secretKey")?;
            let session = v["role-session-name"]
                .as_str()
                .filter(|r| !r.is_empty())
                .map(str::to_string);
            return Ok(Some(Found {
                value: Base {
                    kind: SourceKind::File,
                    detail: path,
                    keys: Some(Keys::fixed(id, key, v["token"].as_str())),
                    tccli_role: role_arn.map(|a| (a, session)),
                },
                source: String::new(),
            }));
        }
    }
    if role_arn.is_some() {
        return Err(Error::config(format!(
            "tccli profile {path} names a role to assume (role-arn) but holds no secretId and secretKey to assume it with"
        )));
    }
    Ok(None)
}

/// `{"Response": {...}}`
#[derive(Deserialize)]
struct Envelope<T> {
    #[serde(rename = "Response")]
    response: Option<ResponseBody<T>>,
}

#[derive(Deserialize)]
struct ResponseBody<T> {
    #[serde(rename = "Error")]
    error: Option<ApiError>,
    #[serde(rename = "RequestId")]
    request_id: Option<String>,
    #[serde(flatten)]
    data: Option<T>,
}

#[derive(Deserialize)]
struct ApiError {
    #[serde(rename = "Code")]
    code: String,
    #[serde(rename = "Message", default)]
    message: String,
}

/// A successful answer: its data and request id.
pub struct Answer<T> {
    pub data: T,
    pub request_id: Option<String>,
}

/// Reads an API 3.0 answer: errors come inside HTTP 200 (`Response.Error`); any
/// other status or a non-JSON body is a gateway or transport failure.
pub fn parse_answer<T: serde::de::DeserializeOwned>(
    raw: &RawResponse,
    classify: fn(&str) -> (ErrorKind, bool),
) -> Result<Answer<T>, Error> {
    if raw.status != 200 {
        return Err(raw.http_error());
    }
    let env: Envelope<T> = raw.json()?;
    let unexpected = |what: &str| {
        Error::new(
            ErrorKind::Provider,
            format!(
                "unexpected answer ({what}{}): {:?}",
                raw.from_url(),
                raw.snippet()
            ),
        )
        .retryable(true)
        .maybe_applied(true)
    };
    let Some(body) = env.response else {
        return Err(unexpected("no Response"));
    };
    if let Some(e) = body.error {
        let (kind, retryable) = classify(&e.code);
        // Throttled calls were not executed; internal errors may have been.
        let maybe_applied = retryable && kind != ErrorKind::Throttled;
        let mut message = e.message;
        if let Some(id) = &body.request_id {
            message = format!("{message} (RequestId {id})");
        }
        return Err(Error::new(kind, message)
            .with_code(e.code)
            .retryable(retryable)
            .maybe_applied(maybe_applied)
            .with_request_id(body.request_id));
    }
    match body.data {
        Some(data) => Ok(Answer {
            data,
            request_id: body.request_id,
        }),
        None => Err(unexpected("no data")),
    }
}

/// Codes every Tencent Cloud API answers alike (PROVIDERS.md §1 "Errors").
pub fn classify_common(code: &str) -> Option<(ErrorKind, bool)> {
    let starts = |p: &str| code == p || code.starts_with(&format!("{p}."));
    Some(
        if code == "AuthFailure.UnauthorizedOperation" || starts("UnauthorizedOperation") {
            (ErrorKind::Permission, false)
        } else if starts("AuthFailure") {
            (ErrorKind::Auth, false)
        } else if starts("RequestLimitExceeded") {
            (ErrorKind::Throttled, true)
        } else if starts("InternalError") || code == "InternalServerError" {
            (ErrorKind::Provider, true)
        } else if code == "UnsupportedRegion" {
            (ErrorKind::Usage, false)
        } else {
            return None;
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions() {
        for r in [
            "ap-guangzhou",
            "ap-shanghai-fsi",
            "na-siliconvalley",
            "eu-frankfurt",
        ] {
            assert!(region_ok(r), "{r}");
        }
        for r in [
            "",
            "guangzhou",
            "AP-guangzhou",
            "ap-",
            "a-guangzhou",
            "ap-guang zhou",
            "ap-x-y-z",
        ] {
            assert!(!region_ok(r), "{r}");
        }
    }

    mod props {
        use super::*;
        use crate::transport::RawResponse;
        use proptest::prelude::*;

        #[derive(serde::Deserialize)]
        struct Any {}

        fn classify(_: &str) -> (ErrorKind, bool) {
            (ErrorKind::Internal, false)
        }

        proptest! {
            #[test]
            fn parser_never_panics_on_arbitrary_bytes(status in 100u16..600, body in proptest::collection::vec(any::<u8>(), 0..512)) {
                let raw = RawResponse { status, body, ..Default::default() };
                let _ = parse_answer::<Any>(&raw, classify);
            }

            #[test]
            fn parser_never_panics_on_json_like_bodies(body in r#"\{"Response":\{("Error":\{"Code":"[A-Za-z.]{0,20}"(,"Message":"[a-z ]{0,10}")?\},?)?("RequestId":"[a-z0-9-]{0,10}")?\}\}"#) {
                let raw = RawResponse { status: 200, body: body.into_bytes(), ..Default::default() };
                let _ = parse_answer::<Any>(&raw, classify);
            }
        }
    }
}

/// The region service (PROVIDERS.md §5): `DescribeRegions` per product.
pub const REGION: Service = Service {
    name: "region",
    version: "2022-06-27",
    regional: false,
};

/// A read, 50/s.
const DESCRIBE_REGIONS: crate::transport::Api = crate::transport::Api {
    name: "tencent.region.DescribeRegions",
    default_rate: 50.0,
    safety: crate::transport::RetrySafety::Repeatable,
};

/// `--region all`: the regions where the product (`cvm` for servers, `batch` for
/// jobs) is `AVAILABLE`, from the region service's `DescribeRegions` (not CVM's own,
/// frozen one). `X-TC-Region` is optional there; the configured region, else
/// ap-guangzhou, is sent. Listing needs real credentials (also with `--dry-run`).
pub async fn all_regions(ctx: &Ctx) -> Result<Vec<String>, Error> {
    #[derive(Deserialize)]
    struct Regions {
        #[serde(rename = "RegionSet", default)]
        set: Vec<RegionInfo>,
    }
    #[derive(Deserialize)]
    struct RegionInfo {
        #[serde(rename = "Region")]
        region: String,
        #[serde(rename = "RegionState", default)]
        state: Option<String>,
    }
    let home = ctx
        .env
        .get("TENCENTCLOUD_REGION")
        .unwrap_or("ap-guangzhou")
        .to_string();
    let lookup = ctx.for_lookup(&home);
    let mut tc = Tencent::resolve(&lookup)?;
    if tc.credentials_used() == CredentialsUsed::Placeholder {
        return Err(Error::config(
            "--region all lists the provider's regions, which needs credentials, and none were found; nothing was sent",
        ));
    }
    // Temporary keys (role, OIDC) are fetched here, once, for the lookup and every region.
    tc.start(&lookup).await?;
    let product = match ctx.plan.operation {
        Operation::JobStop => "batch",
        _ => "cvm",
    };
    let body = serde_json::json!({ "Product": product }).to_string();
    let a = ctx
        .transport
        .send(
            &DESCRIBE_REGIONS,
            || tc.request(&lookup, REGION, "DescribeRegions", body.clone()),
            |raw| parse_answer::<Regions>(raw, classify_list),
        )
        .await?;
    let mut regions: Vec<String> = a
        .data
        .set
        .into_iter()
        .filter(|r| r.state.as_deref().is_none_or(|s| s == "AVAILABLE"))
        .map(|r| r.region)
        .collect();
    regions.sort();
    regions.dedup();
    tracing::info!("--region all: {} regions offer {product}", regions.len());
    Ok(regions)
}

/// Page size of the Describe* list calls (`Limit` ≤ 100).
const LIST_LIMIT: usize = 100;
/// `Filters` bounds (PROVIDERS.md §4a): the rest is checked on our side only.
const MAX_FILTERS: usize = 10;
const MAX_FILTER_VALUES: usize = 5;

/// The server-side `Filters` for the selectors (PROVIDERS.md §4a–b): `tag:K` per
/// `--tag K=V`, `tag-key` per bare `--tag K`, the state words, a literal `--name`.
/// They only narrow the listing: every selector is checked again on the answer.
pub fn selection_filters(
    sel: &Selectors,
    flavor: &Flavor,
    state_filter: &str,
    name_filter: &str,
) -> Vec<serde_json::Value> {
    use serde_json::json;
    let mut filters: Vec<serde_json::Value> = sel
        .tags
        .iter()
        .map(|t| match &t.value {
            Some(v) => json!({"Name": format!("tag:{}", t.key), "Values": [v]}),
            None => json!({"Name": "tag-key", "Values": [t.key]}),
        })
        .collect();
    let words = flavor.all_words(&sel.states);
    if !words.is_empty() && words.len() <= MAX_FILTER_VALUES {
        filters.push(json!({"Name": state_filter, "Values": words}));
    }
    if let Some(name) = sel.literal_name() {
        filters.push(json!({"Name": name_filter, "Values": [name]}));
    }
    filters.truncate(MAX_FILTERS);
    filters
}

/// Codes of the Describe* list calls (PROVIDERS.md §4a).
fn classify_list(code: &str) -> (ErrorKind, bool) {
    if let Some(c) = classify_common(code) {
        return c;
    }
    match code {
        "FailedOperation.IllegalTagKey" | "FailedOperation.IllegalTagValue" => {
            (ErrorKind::Usage, false)
        }
        "InvalidParameterValue.TagKeyNotFound" => (ErrorKind::NotFound, false),
        _ => (ErrorKind::Internal, false),
    }
}

/// `Tags[]` of a listed resource.
#[derive(Deserialize)]
pub struct TagPair {
    #[serde(rename = "Key")]
    pub key: String,
    #[serde(rename = "Value", default)]
    pub value: Option<String>,
}

impl TagPair {
    pub fn pairs(tags: Vec<TagPair>) -> Vec<(String, Option<String>)> {
        tags.into_iter().map(|t| (t.key, t.value)).collect()
    }
}

/// Every page of a Describe* list call with `filters` (`Offset`/`Limit`, `TotalCount`).
/// A tag key the account does not have is "nothing matched".
pub async fn list_all<T: serde::de::DeserializeOwned>(
    ctx: &Ctx,
    tc: &Tencent,
    service: Service,
    action: &str,
    api: &crate::transport::Api,
    filters: Vec<serde_json::Value>,
    page: impl Fn(T, &str) -> Page,
) -> Result<Vec<Listed>, Error> {
    let page = &page;
    let filters = &filters;
    let got = pages(LIST_LIMIT, |n| async move {
        let body = serde_json::json!({
            "Filters": filters,
            "Offset": n * LIST_LIMIT,
            "Limit": LIST_LIMIT,
        })
        .to_string();
        let a = ctx
            .transport
            .send(
                api,
                || tc.request(ctx, service, action, body.clone()),
                |raw| parse_answer::<T>(raw, classify_list),
            )
            .await?;
        Ok(page(a.data, &tc.region))
    })
    .await;
    match got {
        Err(e) if e.code.as_deref() == Some("InvalidParameterValue.TagKeyNotFound") => {
            tracing::info!("{action}: no such tag key in the account: nothing matched");
            Ok(Vec::new())
        }
        other => other,
    }
}

#[cfg(test)]
mod answer_tests {
    use super::*;

    fn raw(status: u16, body: &str) -> RawResponse {
        RawResponse {
            status,
            body: body.as_bytes().to_vec(),
            url: "https://cvm.tencentcloudapi.com/".into(),
            ..Default::default()
        }
    }

    #[test]
    fn answers_carry_errors_inside_http_200() {
        let ok = parse_answer::<serde_json::Value>(
            &raw(200, r#"{"Response":{"TotalCount":0,"RequestId":"r-1"}}"#),
            classify_list,
        )
        .unwrap();
        assert_eq!(ok.request_id.as_deref(), Some("r-1"));
        // Another status is the gateway's, whatever the body says.
        let e = parse_answer::<serde_json::Value>(
            &raw(502, r#"{"Response":{"TotalCount":0,"RequestId":"r-1"}}"#),
            classify_list,
        )
        .err()
        .expect("an error");
        assert_eq!(e.code.as_deref(), Some("HTTP 502"));
        let err = |code: &str| {
            parse_answer::<serde_json::Value>(
                &raw(
                    200,
                    &format!(r#"{{"Response":{{"Error":{{"Code":"{code}","Message":"m"}},"RequestId":"r-2"}}}}"#),
                ),
                classify_list,
            )
            .err().expect("an error")
        };
        let e = err("RequestLimitExceeded");
        assert_eq!(
            (e.kind, e.retryable, e.maybe_applied),
            (ErrorKind::Throttled, true, false)
        );
        let e = err("InternalError");
        assert_eq!(
            (e.kind, e.retryable, e.maybe_applied),
            (ErrorKind::Provider, true, true)
        );
        let e = err("AuthFailure.SignatureFailure");
        assert_eq!(
            (e.kind, e.retryable, e.maybe_applied),
            (ErrorKind::Auth, false, false)
        );
        assert_eq!(e.message, "m (RequestId r-2)");
        assert_eq!(e.request_id.as_deref(), Some("r-2"));
    }

    #[test]
    fn list_codes_map() {
        for (code, kind) in [
            ("FailedOperation.IllegalTagKey", ErrorKind::Usage),
            ("FailedOperation.IllegalTagValue", ErrorKind::Usage),
            ("InvalidParameterValue.TagKeyNotFound", ErrorKind::NotFound),
            ("InvalidFilter", ErrorKind::Internal),
            ("AuthFailure.SecretIdNotFound", ErrorKind::Auth),
        ] {
            assert_eq!(classify_list(code), (kind, false), "{code}");
        }
    }

    /// A run context and a resolved client for the unit tests of the API files: `args`
    /// after `cloudstop`, keys and region from the environment.
    pub(super) fn test_client(args: &str) -> (Ctx, Tencent) {
        use clap::Parser;
        let argv = std::iter::once("cloudstop").chain(args.split_whitespace());
        let cli = crate::cli::Cli::try_parse_from(argv).unwrap();
        let env = crate::config::Env::from_pairs(&[
            ("TENCENTCLOUD_SECRET_ID", "AKIDTEST"),
            ("TENCENTCLOUD_SECRET_KEY", "SKTEST"),
            ("CLOUDSTOP_REGION", "ap-guangzhou"),
            ("HOME", "/nonexistent"),
        ]);
        let plan = Plan::build(cli.command, &env, &mut std::io::empty()).unwrap();
        let ctx = Ctx::new(plan, env);
        let tc = Tencent::resolve(&ctx).unwrap();
        (ctx, tc)
    }
}
