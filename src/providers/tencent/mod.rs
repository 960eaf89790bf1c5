//! Tencent Cloud (API 3.0): credentials, region and endpoint, the signed request
//! builder, the answer parser and the error-code table shared by Batch (`batch.rs`,
//! `job stop`). PROVIDERS.md §1.

mod batch;
pub mod signer;

use crate::config::{in_order, read_ini_section, read_json_file, Found, Secret, SectionReader};
use crate::envelope::CredentialsUsed;
use crate::error::{Error, ErrorKind};
use crate::plan::{Operation, Plan};
use crate::providers::Ctx;
use crate::transport::{HttpRequest, RawResponse, Sensitive};
use serde::Deserialize;
use std::path::PathBuf;

pub const OPERATIONS: &[Operation] = &[Operation::JobStop];

const PROFILE_KEYS: &[&str] = &["secret_id", "secret_key", "token", "region", "endpoint"];
const CONTENT_TYPE: &str = "application/json";

/// One Tencent Cloud API service.
#[derive(Debug, Clone, Copy)]
pub struct Service {
    /// The credential scope's service, and the default host's first label.
    pub name: &'static str,
    pub version: &'static str,
}

pub const BATCH: Service = Service {
    name: "batch",
    version: "2017-03-12",
};

pub fn validate(plan: &Plan) -> Result<(), Error> {
    match plan.operation {
        Operation::JobStop => batch::validate(plan),
        _ => Ok(()),
    }
}

pub async fn run(ctx: &Ctx) -> Result<(), Error> {
    let tc = Tencent::resolve(ctx)?;
    match ctx.plan.operation {
        Operation::JobStop => batch::job_stop(ctx, &tc).await,
        _ => Err(Error::internal("operation not offered by tencent")),
    }
}

struct Credentials {
    secret_id: String,
    secret_key: Secret,
    token: Option<Secret>,
}

/// Settings resolved for one run.
pub struct Tencent {
    creds: Credentials,
    used: CredentialsUsed,
    region: String,
    /// Base URL override (`--endpoint`, `CLOUDSTOP_TENCENT_ENDPOINT`, profile, tccli).
    endpoint: Option<String>,
}

fn check_key(value: &str, what: &str) -> Result<(), Error> {
    // The official SDKs refuse keys with surrounding blanks: a copy-paste slip.
    if value.trim() != value {
        return Err(Error::config(format!(
            "{what} has leading or trailing whitespace"
        )));
    }
    Ok(())
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

impl Tencent {
    fn resolve(ctx: &Ctx) -> Result<Tencent, Error> {
        let plan = &ctx.plan;
        let env = &ctx.env;
        let cfg = ctx.config()?;
        let section = SectionReader::new(cfg, &plan.profile, "tencent", PROFILE_KEYS)?;
        let tccli_profile = env
            .get("TCCLI_PROFILE")
            .unwrap_or(&plan.profile)
            .to_string();
        let tccli_dir = env.home().map(|h| h.join(".tccli"));
        let tccli_configure = tccli_dir
            .as_ref()
            .map(|d| d.join(format!("{tccli_profile}.configure")));
        let configure = match &tccli_configure {
            Some(p) => read_json_file(p).ok().flatten(),
            None => None,
        };

        // Region: --region / CLOUDSTOP_REGION, TENCENTCLOUD_REGION, the profile, tccli.
        let region = {
            let from_env = env.get("TENCENTCLOUD_REGION");
            let from_profile = section.get("region");
            let from_tccli = configure
                .as_ref()
                .and_then(|c| c["_sys_param"]["region"].as_str());
            let (first, second) = if plan.explicit_profile {
                (from_profile, from_env)
            } else {
                (from_env, from_profile)
            };
            plan.region
                .as_deref()
                .or(first)
                .or(second)
                .or(from_tccli)
                .map(str::to_string)
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

        #[allow(clippy::match_single_binding)] // one arm per service (CVM to come)
        let service = match plan.operation {
            _ => BATCH.name,
        };
        let endpoint = plan
            .endpoint
            .clone()
            .or_else(|| env.get("CLOUDSTOP_TENCENT_ENDPOINT").map(str::to_string))
            .or_else(|| section.get("endpoint").map(str::to_string))
            .or_else(|| {
                configure
                    .as_ref()
                    .and_then(|c| c[service]["endpoint"].as_str())
                    .map(str::to_string)
            });
        if let Some(e) = &endpoint {
            base_url(e)?;
        }

        let found = in_order(
            plan.explicit_profile,
            || {
                let id = env.get("TENCENTCLOUD_SECRET_ID");
                let key = env.get("TENCENTCLOUD_SECRET_KEY");
                match (id, key) {
                    (Some(id), Some(key)) => {
                        check_key(id, "TENCENTCLOUD_SECRET_ID")?;
                        check_key(key, "TENCENTCLOUD_SECRET_KEY")?;
                        Ok(Some(Found {
                            value: Credentials {
                                secret_id: id.to_string(),
                                secret_key: Secret::new(key),
                                token: env.get("TENCENTCLOUD_TOKEN").map(Secret::new),
                            },
                            source: "environment (TENCENTCLOUD_SECRET_ID, TENCENTCLOUD_SECRET_KEY)"
                                .into(),
                        }))
                    }
                    (Some(_), None) => Err(Error::config(
                        "TENCENTCLOUD_SECRET_ID is set but TENCENTCLOUD_SECRET_KEY is not",
                    )),
                    (None, Some(_)) => Err(Error::config(
                        "TENCENTCLOUD_SECRET_KEY is set but TENCENTCLOUD_SECRET_ID is not",
                    )),
                    (None, None) => Ok(None),
                }
            },
            || match (section.get("secret_id"), section.get("secret_key")) {
                (Some(id), Some(key)) => {
                    check_key(id, "secret_id")?;
                    check_key(key, "secret_key")?;
                    Ok(Some(Found {
                        value: Credentials {
                            secret_id: id.to_string(),
                            secret_key: Secret::new(key),
                            token: section.get("token").map(Secret::new),
                        },
                        source: format!("profile {}", section.label()),
                    }))
                }
                (None, None) => Ok(None),
                _ => Err(Error::config(format!(
                    "{} needs both secret_id and secret_key",
                    section.label()
                ))),
            },
            || sdk_files(ctx, &tccli_profile, tccli_dir.as_ref()),
        )?;

        let (creds, used) = match found {
            Some(f) => {
                tracing::info!("tencent credentials from {}", f.source);
                (f.value, CredentialsUsed::Configured)
            }
            None if plan.dry_run => {
                tracing::info!("no tencent credentials: --dry-run signs with a placeholder key");
                (
                    Credentials {
                        secret_id: "AKIDPLACEHOLDER".into(),
                        secret_key: Secret::new("placeholder-secret-key"),
                        token: None,
                    },
                    CredentialsUsed::Placeholder,
                )
            }
            None => {
                return Err(Error::config(format!(
                    "no Tencent Cloud credentials: set TENCENTCLOUD_SECRET_ID and TENCENTCLOUD_SECRET_KEY, \
or secret_id and secret_key in {}, or use ~/.tencentcloud/credentials ([{}] secret_id, secret_key) \
or tccli's ~/.tccli/{tccli_profile}.credential",
                    section.label(),
                    plan.profile
                )))
            }
        };
        Ok(Tencent {
            creds,
            used,
            region,
            endpoint,
        })
    }

    /// Builds and signs one POST JSON request of `action`, at the clock's time.
    pub fn request(
        &self,
        ctx: &Ctx,
        service: Service,
        action: &str,
        body: String,
    ) -> Result<HttpRequest, Error> {
        let base = match &self.endpoint {
            Some(e) => base_url(e)?,
            None => format!("https://{}.tencentcloudapi.com", service.name),
        };
        let url = format!("{base}/");
        let host = host_header(&url)?;
        let timestamp = ctx.clock.now().timestamp();
        let signed = signer::sign(&signer::SignInput {
            secret_id: &self.creds.secret_id,
            secret_key: self.creds.secret_key.expose(),
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
            ("X-TC-Region".to_string(), self.region.clone()),
            ("X-TC-Language".to_string(), "en-US".to_string()),
        ];
        if let Some(token) = &self.creds.token {
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

    pub fn credentials_used(&self) -> CredentialsUsed {
        self.used
    }
}

/// The SDK credential file, then tccli's profile credential file.
fn sdk_files(
    ctx: &Ctx,
    tccli_profile: &str,
    tccli_dir: Option<&PathBuf>,
) -> Result<Option<Found<Credentials>>, Error> {
    let env = &ctx.env;
    let sdk_path = env
        .get("TENCENTCLOUD_CREDENTIALS_FILE")
        .map(PathBuf::from)
        .or_else(|| {
            let home = env.home()?.join(".tencentcloud").join("credentials");
            Some(home)
        });
    let mut candidates: Vec<PathBuf> = sdk_path.into_iter().collect();
    candidates.push(PathBuf::from("/etc/tencentcloud/credentials"));
    for path in candidates {
        if let Some(sec) = read_ini_section(&path, &ctx.plan.profile)? {
            if let (Some(id), Some(key)) = (sec.get("secret_id"), sec.get("secret_key")) {
                if !id.is_empty() && !key.is_empty() {
                    return Ok(Some(Found {
                        value: Credentials {
                            secret_id: id.clone(),
                            secret_key: Secret::new(key.clone()),
                            token: None,
                        },
                        source: path.display().to_string(),
                    }));
                }
            }
        }
    }
    if let Some(dir) = tccli_dir {
        let path = dir.join(format!("{tccli_profile}.credential"));
        if let Some(v) = read_json_file(&path)? {
            // Role, OAuth and SSO entries hold no static key.
            let typ = v["type"].as_str().unwrap_or("");
            if matches!(typ, "cvm-role" | "oauth" | "sso") {
                return Ok(None);
            }
            if let (Some(id), Some(key)) = (v["secretId"].as_str(), v["secretKey"].as_str()) {
                if !id.is_empty() && !key.is_empty() {
                    check_key(id, "secretId")?;
                    check_key(key, "secretKey")?;
                    return Ok(Some(Found {
                        value: Credentials {
                            secret_id: id.to_string(),
                            secret_key: Secret::new(key),
                            token: v["token"]
                                .as_str()
                                .filter(|t| !t.is_empty())
                                .map(Secret::new),
                        },
                        source: path.display().to_string(),
                    }));
                }
            }
        }
    }
    Ok(None)
}

/// A base URL from `--endpoint` & co: `https://` is assumed for a bare host (tccli
/// stores hosts); a trailing `/` is dropped.
fn base_url(endpoint: &str) -> Result<String, Error> {
    let e = endpoint.trim();
    let with_scheme = if e.contains("://") {
        e.to_string()
    } else {
        format!("https://{e}")
    };
    let url = reqwest::Url::parse(&with_scheme).map_err(|err| {
        Error::usage(format!(
            "malformed endpoint {}: {err}; expected a URL such as https://batch.tencentcloudapi.com",
            crate::plan::quote(endpoint)
        ))
    })?;
    if !matches!(url.scheme(), "http" | "https")
        || url.host_str().is_none()
        || url.query().is_some()
    {
        return Err(Error::usage(format!(
            "malformed endpoint {}: expected an http(s) URL with a host and no query",
            crate::plan::quote(endpoint)
        )));
    }
    Ok(with_scheme.trim_end_matches('/').to_string())
}

/// The `Host` header reqwest will send for `url`: the host, and `:port` when it is
/// not the scheme's default. It is signed, so it must be exactly what goes out.
fn host_header(url: &str) -> Result<String, Error> {
    let u = reqwest::Url::parse(url)
        .map_err(|e| Error::usage(format!("malformed endpoint URL: {e}")))?;
    let host = u.host_str().unwrap_or_default();
    Ok(match u.port() {
        Some(p) => format!("{host}:{p}"),
        None => host.to_string(),
    })
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

/// A Tencent error, with the request id of the answer that carried it.
#[allow(dead_code)] // request_id: for services to come
pub struct Refusal {
    pub error: Error,
    pub request_id: Option<String>,
}

/// Reads an API 3.0 answer: errors come inside HTTP 200 (`Response.Error`); any
/// other status or a non-JSON body is a gateway or transport failure.
#[allow(dead_code)] // for services to come
pub fn parse<T: serde::de::DeserializeOwned>(
    raw: &RawResponse,
    classify: fn(&str) -> (ErrorKind, bool),
) -> Result<Answer<T>, Error> {
    parse_answer(raw, classify).map_err(|r| r.error)
}

pub fn parse_answer<T: serde::de::DeserializeOwned>(
    raw: &RawResponse,
    classify: fn(&str) -> (ErrorKind, bool),
) -> Result<Answer<T>, Refusal> {
    if raw.status != 200 {
        return Err(Refusal {
            error: raw.http_error(),
            request_id: None,
        });
    }
    let env: Envelope<T> = raw.json().map_err(|error| Refusal {
        error,
        request_id: None,
    })?;
    let unexpected = |what: &str| Refusal {
        error: Error::new(
            ErrorKind::Provider,
            format!("unexpected answer ({what}): {:?}", raw.snippet()),
        )
        .retryable(true)
        .maybe_applied(true),
        request_id: None,
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
        return Err(Refusal {
            error: Error::new(kind, message)
                .with_code(e.code)
                .retryable(retryable)
                .maybe_applied(maybe_applied),
            request_id: body.request_id,
        });
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

    #[test]
    fn hosts_carry_non_default_ports() {
        assert_eq!(
            host_header("https://batch.tencentcloudapi.com/").unwrap(),
            "batch.tencentcloudapi.com"
        );
        assert_eq!(
            host_header("http://127.0.0.1:8080/").unwrap(),
            "127.0.0.1:8080"
        );
        assert_eq!(host_header("https://h:443/").unwrap(), "h");
        assert_eq!(
            base_url("batch.tencentcloudapi.com").unwrap(),
            "https://batch.tencentcloudapi.com"
        );
        assert_eq!(
            base_url("http://127.0.0.1:9/prefix/").unwrap(),
            "http://127.0.0.1:9/prefix"
        );
        assert!(base_url("ftp://x").is_err());
        assert!(base_url("http://").is_err());
    }
}
