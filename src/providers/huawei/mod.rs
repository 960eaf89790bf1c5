//! Huawei Cloud: credentials, region, project id (with the IAM lookup), endpoints,
//! the signed request builder, the answer parser and the error-code table used by
//! ECS `server stop` (`ecs.rs`). PROVIDERS.md §3.

mod ecs;
pub mod signer;

use crate::config::{in_order, key_pair, read_ini_section, Found, Secret, SectionReader};
use crate::envelope::CredentialsUsed;
use crate::error::{Error, ErrorKind};
use crate::plan::{quote, Operation, Plan};
use crate::providers::select::{select, Flavor};
use crate::providers::Ctx;
use crate::transport::{
    base_url, host_header, Api, HttpRequest, RawResponse, RetrySafety, Sensitive,
};
use serde::Deserialize;
use std::collections::HashMap;
use std::path::PathBuf;

pub const OPERATIONS: &[Operation] = &[Operation::ServerStop];

const PROFILE_KEYS: &[&str] = &[
    "ak",
    "sk",
    "security_token",
    "project_id",
    "region",
    "endpoint",
    "iam_endpoint",
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

pub fn validate(plan: &Plan) -> Result<(), Error> {
    if let Some(p) = &plan.project_id {
        check_project_id(p, "--project-id")?;
    }
    match plan.operation {
        Operation::ServerStop => ecs::validate(plan),
        _ => Ok(()),
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
        _ => Err(Error::internal("operation not offered by huawei")),
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

struct Credentials {
    ak: String,
    sk: Secret,
    token: Option<Secret>,
}

/// Settings resolved for one run.
pub struct Huawei {
    creds: Credentials,
    used: CredentialsUsed,
    region: String,
    /// `None` until known; `--dry-run` without one uses [`PROJECT_PLACEHOLDER`].
    project_id: Option<String>,
    /// ECS base URL, no trailing `/` (a path prefix kept).
    ecs_base: String,
    /// IAM base URL, for the project-id lookup.
    iam_base: String,
}

impl Huawei {
    fn resolve(ctx: &Ctx) -> Result<Huawei, Error> {
        let plan = &ctx.plan;
        let env = &ctx.env;
        let cfg = ctx.config()?;
        let section = SectionReader::new(cfg, &plan.profile, "huawei", PROFILE_KEYS)?;
        let cred_path: Option<PathBuf> = env
            .get("HUAWEICLOUD_SDK_CREDENTIALS_FILE")
            .map(PathBuf::from)
            .or_else(|| Some(env.home()?.join(".huaweicloud").join("credentials")));
        let basic: HashMap<String, String> = match &cred_path {
            Some(p) => read_ini_section(p, "basic")?.unwrap_or_default(),
            None => HashMap::new(),
        };
        let file_get = |k: &str| basic.get(k).map(String::as_str).filter(|v| !v.is_empty());
        let cred_file_name = cred_path
            .as_ref()
            .map_or("~/.huaweicloud/credentials".to_string(), |p| {
                p.display().to_string()
            });

        // Region: --region / CLOUDSTOP_REGION, then the profile (no official variable).
        let Some(region) = plan
            .region
            .as_deref()
            .or(section.get("region"))
            .map(str::to_string)
        else {
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

        // Project id: --project-id / CLOUDSTOP_PROJECT_ID, HUAWEICLOUD_SDK_PROJECT_ID,
        // the profile, the SDK credential file; else looked up from IAM.
        let (from_env, from_profile) = (
            env.get("HUAWEICLOUD_SDK_PROJECT_ID")
                .filter(|v| !v.is_empty()),
            section.get("project_id"),
        );
        let candidates = if plan.explicit_profile {
            [
                (plan.project_id.as_deref(), "--project-id"),
                (from_profile, "the profile's project_id"),
                (from_env, "HUAWEICLOUD_SDK_PROJECT_ID"),
                (file_get("project_id"), "the credential file's project_id"),
            ]
        } else {
            [
                (plan.project_id.as_deref(), "--project-id"),
                (from_env, "HUAWEICLOUD_SDK_PROJECT_ID"),
                (from_profile, "the profile's project_id"),
                (file_get("project_id"), "the credential file's project_id"),
            ]
        };
        let project_id = match candidates.into_iter().find_map(|(v, s)| v.map(|v| (v, s))) {
            // A project id belongs to one region: with several, each is looked up.
            Some(_) if ctx.place().is_some() => None,
            Some((p, source)) => {
                check_project_id(p, source)?;
                ctx.report.set_location("project_id", p);
                Some(p.to_string())
            }
            None => None,
        };

        let endpoint = plan
            .endpoint
            .clone()
            .or_else(|| env.get("CLOUDSTOP_HUAWEI_ENDPOINT").map(str::to_string))
            .or_else(|| section.get("endpoint").map(str::to_string));
        // The SDK's per-region override (HUAWEICLOUD_SDK_REGION_ECS_CN_NORTH_4) comes
        // after the explicit ones: it names one region, so a run over several regions
        // can reach each at its own host.
        let sdk_region_var = format!(
            "HUAWEICLOUD_SDK_REGION_ECS_{}",
            region.to_ascii_uppercase().replace('-', "_")
        );
        let ecs_base = match endpoint
            .as_deref()
            .or(env.get(&sdk_region_var).filter(|v| !v.is_empty()))
        {
            Some(e) => base_url(e, "https://ecs.cn-north-4.myhuaweicloud.com")?,
            None => format!("https://ecs.{region}.myhuaweicloud.com"),
        };
        let iam = env
            .get("HUAWEICLOUD_SDK_IAM_ENDPOINT")
            .filter(|v| !v.is_empty())
            .or(section.get("iam_endpoint"))
            .or(file_get("iam_endpoint"));
        let iam_base = match iam {
            Some(e) => base_url(e, "https://ecs.cn-north-4.myhuaweicloud.com")?,
            None => format!("https://iam.{region}.myhuaweicloud.com"),
        };

        // One source gives both keys (and maybe a token), or neither.
        let from = |pair: Option<(&str, &str)>, token: Option<&str>, source: String| {
            pair.map(|(ak, sk)| Found {
                value: Credentials {
                    ak: ak.to_string(),
                    sk: Secret::new(sk),
                    token: token.filter(|t| !t.is_empty()).map(Secret::new),
                },
                source,
            })
        };
        let found = in_order(
            plan.explicit_profile,
            || {
                let (ak, sk) = ("HUAWEICLOUD_SDK_AK", "HUAWEICLOUD_SDK_SK");
                let pair = key_pair(env.get(ak), env.get(sk), ak, sk, "")?;
                let token = env.get("HUAWEICLOUD_SDK_SECURITY_TOKEN");
                Ok(from(pair, token, format!("environment ({ak}, {sk})")))
            },
            || {
                let place = format!(" in {}", section.label());
                let pair = key_pair(section.get("ak"), section.get("sk"), "ak", "sk", &place)?;
                let token = section.get("security_token");
                Ok(from(pair, token, format!("profile {}", section.label())))
            },
            || {
                let place = format!(" in [basic] of {cred_file_name}");
                let pair = key_pair(file_get("ak"), file_get("sk"), "ak", "sk", &place)?;
                Ok(from(
                    pair,
                    file_get("security_token"),
                    cred_file_name.clone(),
                ))
            },
        )?;
        let (creds, used) = match found {
            Some(f) => {
                tracing::info!("huawei credentials from {}", f.source);
                (f.value, CredentialsUsed::Configured)
            }
            None if plan.dry_run => {
                tracing::info!("no huawei credentials: --dry-run signs with a placeholder key");
                (
                    Credentials {
                        ak: "AKPLACEHOLDER".into(),
                        sk: Secret::new("placeholder-secret-key"),
                        token: None,
                    },
                    CredentialsUsed::Placeholder,
                )
            }
            None => {
                return Err(Error::config(format!(
                    "no Huawei Cloud credentials: set HUAWEICLOUD_SDK_AK and HUAWEICLOUD_SDK_SK \
(and HUAWEICLOUD_SDK_SECURITY_TOKEN for temporary keys), or ak and sk in {}, \
or ak and sk in the [basic] section of {cred_file_name} (HUAWEICLOUD_SDK_CREDENTIALS_FILE)",
                    section.label()
                )))
            }
        };
        Ok(Huawei {
            creds,
            used,
            region,
            project_id,
            ecs_base,
            iam_base,
        })
    }

    /// Looks the project id up from IAM by region name when none is configured:
    /// `GET <IAM>/v3/projects?name=<region>`, once per run. `--dry-run` never asks.
    async fn ensure_project_id(&mut self, ctx: &Ctx) -> Result<(), Error> {
        // A dry run with selectors lists for real, in the real project.
        if self.project_id.is_some() || (ctx.plan.dry_run && ctx.plan.selectors.is_none()) {
            return Ok(());
        }
        #[derive(Deserialize)]
        struct Project {
            id: String,
        }
        #[derive(Deserialize)]
        struct Projects {
            #[serde(default)]
            projects: Vec<Project>,
        }
        let region = self.region.clone();
        let this = &*self;
        let found: Projects = ctx
            .transport
            .send(
                &LIST_PROJECTS,
                || {
                    this.request(
                        ctx,
                        Call {
                            method: reqwest::Method::GET,
                            base: &this.iam_base,
                            path: "/v3/projects".into(),
                            query: &[("name", &region)],
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
                e.message = format!("project id lookup in IAM failed: {}", e.message);
                e
            })?;
        let ask = "pass --project-id (or set HUAWEICLOUD_SDK_PROJECT_ID)";
        let id = match found.projects.as_slice() {
            [one] => one.id.clone(),
            [] => {
                return Err(Error::config(format!(
                    "IAM lists no project named {region} for these credentials: {ask}"
                )))
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
        self.request(
            ctx,
            Call {
                method,
                base: &self.ecs_base,
                path: format!("/v1/{}/{rest}", self.project()),
                query: &[],
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
        self.request(
            ctx,
            Call {
                method: reqwest::Method::GET,
                base: &self.ecs_base,
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
        if let Some(t) = &self.creds.token {
            headers.push(("X-Security-Token".into(), t.expose().into()));
        }
        let signed = {
            let pairs: Vec<(&str, &str)> = headers
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            signer::sign(&signer::SignInput {
                access_key: &self.creds.ak,
                secret_key: self.creds.sk.expose(),
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
        self.used
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

/// `(code, message)` from `error_code`/`error_msg`, else `error.code`/`error.message`
/// (IAM puts a number in `error.code`: then there is no code). `None`: not an error body.
fn error_fields(body: &[u8]) -> Option<(Option<String>, String)> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    let text = |x: &serde_json::Value| x.as_str().map(str::to_string);
    if let Some(code) = text(&v["error_code"]) {
        let msg = text(&v["error_msg"]).unwrap_or_default();
        return Some((Some(code), msg));
    }
    let e = &v["error"];
    if e.is_object() {
        let msg = text(&e["message"]).unwrap_or_default();
        return Some((text(&e["code"]), msg));
    }
    None
}

/// The error-code table of PROVIDERS.md §3 → (kind, retryable). Unknown codes fall
/// back on the HTTP status.
pub fn classify(code: &str, status: u16) -> (ErrorKind, bool) {
    use ErrorKind::*;
    match code {
        "APIGW.0301" => (Auth, false),
        "Ecs.0003" | "Ecs.0110" | "Pdp.0001" => (Permission, false),
        "Ecs.0023" => (Config, false),
        "Ecs.0114" | "Ecs.0614" => (NotFound, false),
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
            404 => (NotFound, false),
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
            ("Whatever", 429, Throttled, true),
            ("Whatever", 401, Auth, false),
            ("Whatever", 403, Permission, false),
            ("Whatever", 400, Provider, false),
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
        let e = refusal(&raw(502, "<html>bad gateway</html>"));
        assert!(e.retryable && e.message.contains("502"));
        assert!(parse::<serde_json::Value>(&raw(200, "not json")).is_err());
    }

    #[test]
    fn regions_and_projects() {
        for r in ["cn-north-4", "ap-southeast-1", "la-south-2", "cn-east-3"] {
            assert!(region_ok(r), "{r}");
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
}
