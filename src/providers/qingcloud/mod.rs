//! QingCloud, both APIs: HPC / EHPC (`/api/...`) and IaaS (`/iaas/`), signature v1.
//! Here: credentials, zone and endpoints, the common parameters, the signed request
//! builders, the answer parser and the `ret_code` table, shared by both. The calls
//! themselves are in `hpc.rs` (`job stop`, `cluster delete`; PROVIDERS.md §2) and
//! `iaas.rs` (`server stop`; §2b).

mod hpc;
mod iaas;
pub mod signer;

use crate::config::{
    check_profile_exists, in_order, key_pair, layered, Found, Secret, SectionReader,
};
use crate::credentials::{Credentials, Keys, SourceKind};
use crate::envelope::CredentialsUsed;
use crate::error::{Error, ErrorKind};
use crate::plan::{quote, Operation, Plan};
use crate::providers::select::{select, Flavor};
use crate::providers::Ctx;
use crate::transport::{base_url, host_header, HttpRequest, RawResponse, Sensitive};
use std::path::PathBuf;
use std::sync::Arc;

pub const OPERATIONS: &[Operation] = &[
    Operation::JobStop,
    Operation::ServerStop,
    Operation::ClusterDelete,
];

/// Keys of `[profiles.<p>.qingcloud]`; `iaas_endpoint` is for the IaaS API (§2b).
const PROFILE_KEYS: &[&str] = &[
    "access_key_id",
    "secret_access_key",
    "zone",
    "run_user",
    "endpoint",
    "iaas_endpoint",
];
pub const DEFAULT_HPC_ENDPOINT: &str = "https://hpc-api.qingcloud.com";
/// The IaaS API's base URL; `/iaas/` is appended (PROVIDERS.md §2b).
pub const DEFAULT_IAAS_ENDPOINT: &str = "https://api.qingcloud.com";
/// The IaaS API's path under its base URL.
const IAAS_PATH: &str = "/iaas/";
const CONTENT_TYPE: &str = "application/json";

pub fn validate(plan: &Plan) -> Result<(), Error> {
    if let Some(z) = &plan.zone {
        check_zone(z)?;
    }
    match plan.operation {
        Operation::JobStop => hpc::validate_job_stop(plan),
        Operation::ClusterDelete => hpc::validate_cluster_delete(plan),
        Operation::ServerStop => iaas::validate_server_stop(plan),
    }
}

/// What `--tag`/`--name`/`--state` select with, per operation.
pub fn flavor(op: Operation) -> Option<&'static Flavor> {
    match op {
        Operation::JobStop => Some(&hpc::SELECT),
        Operation::ServerStop => Some(&iaas::SELECT),
        Operation::ClusterDelete => None,
    }
}

pub async fn run(ctx: &Ctx) -> Result<(), Error> {
    let qc = Qingcloud::resolve(ctx)?;
    let used = qc.credentials_used();
    match ctx.plan.operation {
        Operation::JobStop => {
            if select(ctx, &hpc::SELECT, used, hpc::list(ctx, &qc)).await? {
                hpc::job_stop(ctx, &qc).await?;
            }
            Ok(())
        }
        Operation::ClusterDelete => hpc::cluster_delete(ctx, &qc).await,
        Operation::ServerStop => {
            if select(ctx, &iaas::SELECT, used, iaas::list(ctx, &qc)).await? {
                iaas::server_stop(ctx, &qc).await?;
            }
            Ok(())
        }
    }
}

/// `--zone all`: the active zones of IaaS `DescribeZones` (PROVIDERS.md §5), for
/// `server stop` only — which zones have HPC is not known (HPC has no zone list).
/// Sorted.
pub async fn all_zones(ctx: &Ctx) -> Result<Vec<String>, Error> {
    if ctx.plan.operation != Operation::ServerStop {
        return Err(Error::usage(format!(
            "--zone all is not available yet for qingcloud {}: name the zones (--zone a,b)",
            ctx.plan.operation.verb()
        )));
    }
    let qc = Qingcloud::resolve(ctx)?;
    if qc.credentials_used() == CredentialsUsed::Placeholder {
        return Err(Error::config(
            "--zone all lists the provider's zones, which needs credentials, and none were found; nothing was sent",
        ));
    }
    let mut zones: Vec<String> = iaas::zones(ctx, &qc)
        .await?
        .into_iter()
        .filter(|z| zone_ok(z))
        .collect();
    zones.sort();
    zones.dedup();
    tracing::info!("--zone all: {} active zones", zones.len());
    Ok(zones)
}

/// `^[a-z][a-z0-9-]{1,31}$`
pub fn zone_ok(z: &str) -> bool {
    let b = z.as_bytes();
    (2..=32).contains(&b.len())
        && b[0].is_ascii_lowercase()
        && b[1..]
            .iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
}

fn check_zone(z: &str) -> Result<(), Error> {
    if zone_ok(z) {
        Ok(())
    } else {
        Err(Error::usage(format!(
            "malformed QingCloud zone {}: expected a zone such as jn1a or pek3a",
            quote(z)
        )))
    }
}

/// `~/.qingcloud/config.yaml` (qingcloud-cli): the keys cloudstop reads.
#[derive(Default)]
struct CliFile {
    path: Option<PathBuf>,
    access_key_id: Option<String>,
    secret_access_key: Option<Secret>,
    zone: Option<String>,
    /// `host`, `port`, `protocol`: the IaaS API (qingcloud-cli's own endpoint).
    host: Option<String>,
    port: Option<String>,
    protocol: Option<String>,
}

impl CliFile {
    fn load(ctx: &Ctx) -> Result<CliFile, Error> {
        let Some(path) = ctx
            .env
            .home()
            .map(|h| h.join(".qingcloud").join("config.yaml"))
        else {
            return Ok(CliFile::default());
        };
        let text = match crate::config::read_text(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(CliFile {
                    path: Some(path),
                    ..Default::default()
                })
            }
            Err(e) => {
                return Err(Error::config(format!(
                    "cannot read {}: {e}",
                    path.display()
                )))
            }
        };
        let doc: serde_yaml_ng::Value = serde_yaml_ng::from_str(&text).map_err(|e| {
            // The YAML error may quote the line it failed on, which can hold the key.
            let at = e
                .location()
                .map(|l| format!(" at line {}", l.line()))
                .unwrap_or_default();
            Error::config(format!("invalid YAML in {}{at}", path.display()))
        })?;
        let get = |k: &str| {
            doc.get(k)
                .and_then(|v| match v {
                    serde_yaml_ng::Value::String(s) => Some(s.trim().to_string()),
                    serde_yaml_ng::Value::Number(n) => Some(n.to_string()),
                    _ => None,
                })
                .filter(|s| !s.is_empty())
        };
        Ok(CliFile {
            access_key_id: get("qy_access_key_id"),
            secret_access_key: get("qy_secret_access_key").map(Secret::new),
            zone: get("zone"),
            host: get("host"),
            port: get("port"),
            protocol: get("protocol"),
            path: Some(path),
        })
    }

    /// The IaaS base URL `host`, `port` and `protocol` name, if `host` is set.
    fn iaas_endpoint(&self) -> Option<String> {
        let host = self.host.as_deref()?;
        let protocol = self.protocol.as_deref().unwrap_or("https");
        Some(match self.port.as_deref() {
            Some(port) => format!("{protocol}://{host}:{port}"),
            None => format!("{protocol}://{host}"),
        })
    }

    fn label(&self) -> String {
        self.path
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| "~/.qingcloud/config.yaml".into())
    }
}

/// Settings resolved for one run.
pub struct Qingcloud {
    /// Static keys only: QingCloud has no temporary credentials cloudstop can use.
    creds: Arc<Credentials>,
    pub zone: String,
    /// The cluster's run user (`cluster delete` only).
    pub run_user: Option<String>,
    /// Base URL of the API the operation uses (HPC, or IaaS for `server stop`), no
    /// trailing `/` and no `/iaas`; may carry a path prefix.
    base: String,
}

/// Keys found, and where (kind, detail).
type FoundKeys = Found<(SourceKind, String, Keys)>;

fn env_pair(ctx: &Ctx, id: &str, key: &str) -> Result<Option<FoundKeys>, Error> {
    let pair = key_pair(ctx.env.get(id), ctx.env.get(key), id, key, "")?;
    Ok(pair.map(|(i, k)| Found {
        value: (
            SourceKind::Env,
            format!("{id}, {key}"),
            Keys::fixed(i, k, None),
        ),
        source: String::new(),
    }))
}

impl Qingcloud {
    fn resolve(ctx: &Ctx) -> Result<Qingcloud, Error> {
        let plan = &ctx.plan;
        let env = &ctx.env;
        let cfg = ctx.config()?;
        check_profile_exists(plan, cfg, "qingcloud", Vec::new)?;
        let section = SectionReader::new(cfg, &plan.profile, "qingcloud", PROFILE_KEYS)?;
        // Read only when needed: a broken file must not fail a run that does not use it.
        let cli_file = std::cell::OnceCell::new();
        let cli = || {
            cli_file
                .get_or_init(|| CliFile::load(ctx))
                .as_ref()
                .map_err(Clone::clone)
        };
        let cli_label = ctx
            .env
            .home()
            .map(|h| {
                h.join(".qingcloud")
                    .join("config.yaml")
                    .display()
                    .to_string()
            })
            .unwrap_or_else(|| "~/.qingcloud/config.yaml".into());

        // Zone: --zone / CLOUDSTOP_ZONE, QINGCLOUD_ZONE, the profile, qingcloud-cli.
        let (flag, cs_env) = plan.zone_sources();
        let zone = match layered(
            plan.explicit_profile,
            flag,
            &[cs_env, env.get("QINGCLOUD_ZONE")],
            section.get("zone"),
        ) {
            Some(z) => Some(z.to_string()),
            None => cli()?.zone.clone(),
        };
        let zone = match zone {
            Some(z) => {
                check_zone(&z)?;
                ctx.report.set_location("zone", &z);
                z
            }
            // `--zone all` lists the zones first: a configured zone only narrows that
            // list, and none is needed (the empty zone is not sent).
            None if plan.locations.is_some() => String::new(),
            None => {
                return Err(Error::usage(format!(
                    "no zone: pass --zone (e.g. jn1a), or set CLOUDSTOP_ZONE or QINGCLOUD_ZONE, \
or zone in {}, or zone in {}",
                    section.label(),
                    cli_label
                )))
            }
        };

        let run_user = if plan.operation == Operation::ClusterDelete {
            let user = layered(
                plan.explicit_profile,
                plan.run_user.as_deref(),
                &[env.get("CLOUDSTOP_RUN_USER")],
                section.get("run_user"),
            )
            .map(str::to_string);
            let Some(user) = user else {
                return Err(Error::usage(format!(
                    "cluster delete needs the cluster's run user: pass --run-user usr-…, \
or set CLOUDSTOP_RUN_USER, or run_user in {}",
                    section.label()
                )));
            };
            hpc::check_run_user(&user)?;
            Some(user)
        } else {
            None
        };

        let found = in_order(
            plan.explicit_profile,
            || match env_pair(
                ctx,
                "QINGCLOUD_ACCESS_KEY_ID",
                "QINGCLOUD_SECRET_ACCESS_KEY",
            )? {
                Some(f) => Ok(Some(f)),
                None => env_pair(ctx, "QINGCLOUD_ACCESS_KEY", "QINGCLOUD_SECRET_KEY"),
            },
            || {
                let place = format!(" in {}", section.label());
                let pair = key_pair(
                    section.get("access_key_id"),
                    section.get("secret_access_key"),
                    "access_key_id",
                    "secret_access_key",
                    &place,
                )?;
                Ok(pair.map(|(id, key)| Found {
                    value: (
                        SourceKind::Profile,
                        section.label().to_string(),
                        Keys::fixed(id, key, None),
                    ),
                    source: String::new(),
                }))
            },
            || {
                let f = cli()?;
                match (&f.access_key_id, &f.secret_access_key) {
                    (Some(id), Some(key)) => Ok(Some(Found {
                        value: (
                            SourceKind::File,
                            f.label(),
                            Keys {
                                id: id.clone(),
                                secret: key.clone(),
                                token: None,
                                expires: None,
                            },
                        ),
                        source: String::new(),
                    })),
                    _ => Ok(None),
                }
            },
        )?;

        // qingcloud-cli's host, port and protocol go only with its own keys.
        let from_cli = matches!(&found, Some(f) if f.value.0 == SourceKind::File);
        let base = if plan.operation == Operation::ServerStop {
            // IaaS: --endpoint; CLOUDSTOP_QINGCLOUD_IAAS_ENDPOINT, else
            // CLOUDSTOP_QINGCLOUD_ENDPOINT (both APIs), around the profile's
            // iaas_endpoint (else endpoint); then qingcloud-cli's file; the default.
            let endpoint = match layered(
                plan.explicit_profile,
                plan.endpoint.as_deref(),
                &[
                    env.get("CLOUDSTOP_QINGCLOUD_IAAS_ENDPOINT"),
                    env.get("CLOUDSTOP_QINGCLOUD_ENDPOINT"),
                ],
                section.get("iaas_endpoint").or(section.get("endpoint")),
            ) {
                Some(e) => e.to_string(),
                None if from_cli => cli()?
                    .iaas_endpoint()
                    .unwrap_or_else(|| DEFAULT_IAAS_ENDPOINT.to_string()),
                None => DEFAULT_IAAS_ENDPOINT.to_string(),
            };
            iaas_base(&base_url(&endpoint, DEFAULT_IAAS_ENDPOINT)?)
        } else {
            let endpoint = layered(
                plan.explicit_profile,
                plan.endpoint.as_deref(),
                &[env.get("CLOUDSTOP_QINGCLOUD_ENDPOINT")],
                section.get("endpoint"),
            )
            .unwrap_or(DEFAULT_HPC_ENDPOINT);
            base_url(endpoint, DEFAULT_HPC_ENDPOINT)?
        };

        let creds = match found {
            Some(Found {
                value: (kind, detail, keys),
                ..
            }) => {
                tracing::info!("qingcloud credentials from {} ({detail})", kind.as_str());
                Credentials::fixed(kind, detail, keys)
            }
            None if plan.dry_run => {
                tracing::info!("no qingcloud credentials: --dry-run signs with a placeholder key");
                Credentials::placeholder("QYPLACEHOLDERACCESSKEY", "placeholder-secret-access-key")
            }
            None => {
                return Err(Error::config(format!(
                    "no QingCloud credentials: set QINGCLOUD_ACCESS_KEY_ID and QINGCLOUD_SECRET_ACCESS_KEY \
(or QINGCLOUD_ACCESS_KEY and QINGCLOUD_SECRET_KEY), or access_key_id and secret_access_key in {}, \
or qy_access_key_id and qy_secret_access_key in {}",
                    section.label(),
                    cli_label
                )))
            }
        };
        Ok(Qingcloud {
            creds: Arc::new(creds),
            zone,
            run_user,
            base,
        })
    }

    /// Builds and signs one HPC request at the clock's time. `path` is the API path
    /// (`/api/job/stopJobs`); `params` are the action's query parameters (GET); `body`
    /// the JSON body (POST) or `""`.
    pub fn request(
        &self,
        ctx: &Ctx,
        method: reqwest::Method,
        path: &str,
        params: &[(&str, &str)],
        body: String,
    ) -> Result<HttpRequest, Error> {
        let url = reqwest::Url::parse(&format!("{}{path}", self.base))
            .map_err(|e| Error::usage(format!("malformed endpoint URL: {e}")))?;
        // The canonical URI is the path the server sees: the endpoint's prefix included.
        let full_path = percent_decode(url.path());
        let mut all: Vec<(String, String)> = params
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        all.extend(self.common_params(ctx, "timestamp"));
        let signed = signer::sign_hpc(&signer::HpcSignInput {
            secret_access_key: self.creds.current()?.secret.expose(),
            method: method.as_str(),
            path: &full_path,
            params: &all,
            body: &body,
        });
        let origin = url.origin().ascii_serialization();
        let full_url = format!(
            "{origin}{}?{}",
            signer::quote(&full_path),
            signer::wire_query(&signed)
        );
        let mut headers = vec![("Host".to_string(), host_header(url.as_str())?)];
        if !body.is_empty() {
            headers.push(("Content-Type".to_string(), CONTENT_TYPE.to_string()));
        }
        Ok(HttpRequest {
            method,
            url: full_url,
            headers,
            body,
            sensitive: vec![Sensitive::QueryParam("signature")],
        })
    }

    /// The common parameters of both APIs; `time_key` is `timestamp` (HPC) or
    /// `time_stamp` (IaaS).
    fn common_params(&self, ctx: &Ctx, time_key: &str) -> Vec<(String, String)> {
        let time = ctx.clock.now().format("%Y-%m-%dT%H:%M:%SZ").to_string();
        vec![
            ("access_key_id".into(), self.key_id()),
            ("signature_method".into(), "HmacSHA256".into()),
            ("signature_version".into(), "1".into()),
            (time_key.into(), time),
            ("version".into(), "1".into()),
        ]
    }

    /// Builds and signs one IaaS GET request at the clock's time: `action`, its
    /// parameters, `zone` and the common ones in the query, `signature` last
    /// (PROVIDERS.md §2b).
    pub fn iaas_request(
        &self,
        ctx: &Ctx,
        action: &str,
        params: &[(String, String)],
    ) -> Result<HttpRequest, Error> {
        let url = reqwest::Url::parse(&format!("{}{IAAS_PATH}", self.base))
            .map_err(|e| Error::usage(format!("malformed endpoint URL: {e}")))?;
        let mut all: Vec<(String, String)> = vec![("action".into(), action.into())];
        if !self.zone.is_empty() {
            all.push(("zone".into(), self.zone.clone()));
        }
        all.extend(params.iter().cloned());
        all.extend(self.common_params(ctx, "time_stamp"));
        // The path signed is the path sent, endpoint prefix included.
        let signed = signer::sign_iaas(&signer::IaasSignInput {
            secret_access_key: self.creds.current()?.secret.expose(),
            method: "GET",
            path: url.path(),
            params: &all,
        });
        Ok(HttpRequest {
            method: reqwest::Method::GET,
            url: format!(
                "{}{}?{}",
                url.origin().ascii_serialization(),
                url.path(),
                signer::iaas_wire_query(&signed)
            ),
            headers: vec![("Host".to_string(), host_header(url.as_str())?)],
            body: String::new(),
            sensitive: vec![Sensitive::QueryParam("signature")],
        })
    }

    /// The access key id (static keys: always there).
    fn key_id(&self) -> String {
        self.creds
            .current()
            .map(|k| k.id.clone())
            .unwrap_or_default()
    }

    pub fn credentials_used(&self) -> CredentialsUsed {
        if self.creds.is_placeholder() {
            CredentialsUsed::Placeholder
        } else {
            CredentialsUsed::Configured
        }
    }
}

/// An IaaS base URL without a final `/iaas` (Terraform's `QINGCLOUD_ENDPOINT` style,
/// `https://api.qingcloud.com:443/iaas`): `/iaas/` is appended to every request.
fn iaas_base(base: &str) -> String {
    match reqwest::Url::parse(base) {
        Ok(u) if u.path().trim_end_matches('/').ends_with("/iaas") => base
            .trim_end_matches('/')
            .strip_suffix("/iaas")
            .unwrap_or(base)
            .to_string(),
        _ => base.to_string(),
    }
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let Ok(h) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(h);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `ret_code` → kind and retryability (PROVIDERS.md §2 "Errors").
pub fn classify(ret_code: i64) -> (ErrorKind, bool) {
    use ErrorKind::*;
    match ret_code {
        1100 => (Usage, false),
        1101 => (Internal, false),
        1200 | 1300 => (Auth, false),
        1400 => (Provider, false),
        2100 => (NotFound, false),
        2400 => (Provider, false),
        2500 => (Throttled, true),
        5000 | 5100 | 5300 => (Provider, true),
        _ => (Provider, false),
    }
}

/// Whether a call refused with `ret_code` may have been carried out: only internal
/// errors and a busy server (5000, 5100); 2500, 1200, 1300 and 5300 mean nothing was done.
fn maybe_applied(ret_code: i64) -> bool {
    matches!(ret_code, 5000 | 5100)
}

/// The error for a refusal with `ret_code`.
pub fn ret_code_error(ret_code: i64, message: &str) -> Error {
    let (kind, retryable) = classify(ret_code);
    let message = if message.is_empty() {
        format!("QingCloud refused the call (ret_code {ret_code})")
    } else {
        message.to_string()
    };
    Error::new(kind, message)
        .with_code(format!("ret_code {ret_code}"))
        .retryable(retryable)
        .maybe_applied(maybe_applied(ret_code))
}

/// Reads an HPC answer: errors come inside HTTP 200 (`ret_code` ≠ 0, `message`); any
/// other status is the generic HTTP error, a non-JSON body an unreadable answer.
pub fn parse(raw: &RawResponse) -> Result<serde_json::Value, Error> {
    if raw.status != 200 {
        return Err(raw.http_error());
    }
    let v: serde_json::Value = raw.json()?;
    let ret_code = match &v["ret_code"] {
        serde_json::Value::Number(n) => n.as_i64(),
        serde_json::Value::String(s) => s.trim().parse().ok(),
        _ => None,
    };
    match ret_code {
        Some(0) => Ok(v),
        Some(code) => Err(ret_code_error(code, v["message"].as_str().unwrap_or(""))),
        None => Err(Error::new(
            ErrorKind::Provider,
            format!(
                "unexpected answer (no ret_code{}): {:?}",
                raw.from_url(),
                raw.snippet()
            ),
        )
        .retryable(true)
        .maybe_applied(true)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ret_codes_map() {
        use ErrorKind::*;
        for (code, kind, retry, applied) in [
            (1100, Usage, false, false),
            (1101, Internal, false, false),
            (1200, Auth, false, false),
            (1300, Auth, false, false),
            (1400, Provider, false, false),
            (2100, NotFound, false, false),
            (2400, Provider, false, false),
            (2500, Throttled, true, false),
            (5000, Provider, true, true),
            (5100, Provider, true, true),
            (5300, Provider, true, false),
            (5200, Provider, false, false),
            (5400, Provider, false, false),
            (4242, Provider, false, false),
        ] {
            let e = ret_code_error(code, "m");
            assert_eq!(
                (e.kind, e.retryable, e.maybe_applied),
                (kind, retry, applied),
                "{code}"
            );
            assert_eq!(e.code.as_deref(), Some(format!("ret_code {code}").as_str()));
        }
    }

    #[test]
    fn parses_answers() {
        let raw = |status: u16, body: &str| RawResponse {
            status,
            body: body.as_bytes().to_vec(),
            url: "https://hpc-api.qingcloud.com/api/job/stopJobs".into(),
            ..Default::default()
        };
        let ok = parse(&raw(200, r#"{"ret_code":0,"job_uuid":"j-942yi1ah8hd"}"#)).unwrap();
        assert_eq!(ok["job_uuid"], "j-942yi1ah8hd");
        let e = parse(&raw(
            200,
            r#"{"ret_code":1200,"message":"AuthFailure, signature not matched"}"#,
        ))
        .unwrap_err();
        assert_eq!(e.kind, ErrorKind::Auth);
        assert_eq!(e.message, "AuthFailure, signature not matched");
        let e = parse(&raw(502, "<html>")).unwrap_err();
        assert!(e.retryable);
        // A 404 (a wrong endpoint path) is never not_found, and names the URL.
        let e = parse(&raw(404, "")).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Provider);
        assert!(e
            .message
            .contains("https://hpc-api.qingcloud.com/api/job/stopJobs"));
        let e = parse(&raw(200, r#"{"action":"x"}"#)).unwrap_err();
        assert!(e
            .message
            .contains("https://hpc-api.qingcloud.com/api/job/stopJobs"));
        let e = parse(&raw(200, "not json")).unwrap_err();
        assert!(e.message.contains("HTTP 200"));
    }

    #[test]
    fn zones() {
        for z in ["jn1a", "jinan1", "pek3a", "ap2a", "sh1-x"] {
            assert!(zone_ok(z), "{z}");
        }
        for z in ["", "j", "1abc", "Jn1a", "jn 1a", "jn_1a", &"a".repeat(33)] {
            assert!(!zone_ok(z), "{z}");
        }
    }

    #[test]
    fn endpoints() {
        assert_eq!(percent_decode("/a%20b/c"), "/a b/c");
        assert_eq!(
            iaas_base("https://api.qingcloud.com:443/iaas"),
            "https://api.qingcloud.com:443"
        );
        assert_eq!(iaas_base("https://iaas"), "https://iaas");
        assert_eq!(iaas_base("http://h/gw"), "http://h/gw");
    }

    /// A run context and a resolved client for the unit tests of the API files: `args`
    /// after `cloudstop`, keys and zone from the environment.
    pub(super) fn test_client(args: &str) -> (Ctx, Qingcloud) {
        use clap::Parser;
        let argv = std::iter::once("cloudstop").chain(args.split_whitespace());
        let cli = crate::cli::Cli::try_parse_from(argv).unwrap();
        let env = crate::config::Env::from_pairs(&[
            ("QINGCLOUD_ACCESS_KEY_ID", "QYTEST"),
            ("QINGCLOUD_SECRET_ACCESS_KEY", "SKTEST"),
            ("CLOUDSTOP_ZONE", "pek3"),
            ("HOME", "/nonexistent"),
        ]);
        let plan = crate::plan::Plan::build(cli.command, &env, &mut std::io::empty()).unwrap();
        let ctx = Ctx::new(plan, env);
        let qc = Qingcloud::resolve(&ctx).unwrap();
        (ctx, qc)
    }
}
