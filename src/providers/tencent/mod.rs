//! Tencent Cloud (API 3.0): credentials, region and endpoint, the signed request
//! builder, the answer parser and the codes shared by Batch (`batch.rs`, `job stop`)
//! and CVM (`cvm.rs`, `server stop`). PROVIDERS.md §1 and §1b.

mod batch;
mod cvm;
pub mod signer;

use crate::config::{
    check_key, in_order, key_pair, read_ini_section, read_json_file, Found, Secret, SectionReader,
};
use crate::envelope::CredentialsUsed;
use crate::error::{Error, ErrorKind};
use crate::plan::{Operation, Plan};
use crate::providers::select::{pages, select, Flavor, Listed, Page, Selectors};
use crate::providers::Ctx;
use crate::transport::{base_url, host_header, HttpRequest, RawResponse, Sensitive};
use serde::Deserialize;
use std::path::PathBuf;

pub const OPERATIONS: &[Operation] = &[Operation::JobStop, Operation::ServerStop];

const PROFILE_KEYS: &[&str] = &["secret_id", "secret_key", "token", "region", "endpoint"];
const CONTENT_TYPE: &str = "application/json";
/// A good `--endpoint`, for error messages.
const DEFAULT_EXAMPLE: &str = "https://batch.tencentcloudapi.com";

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

pub const CVM: Service = Service {
    name: "cvm",
    version: "2017-03-12",
};

pub fn validate(plan: &Plan) -> Result<(), Error> {
    match plan.operation {
        Operation::JobStop => batch::validate(plan),
        Operation::ServerStop => cvm::validate(plan),
        Operation::ClusterDelete => Ok(()),
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
    let tc = Tencent::resolve(ctx)?;
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
        Operation::ClusterDelete => Err(Error::internal("operation not offered by tencent")),
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

        // tccli keeps one endpoint per service.
        let service = match plan.operation {
            Operation::ServerStop => CVM.name,
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
            base_url(e, DEFAULT_EXAMPLE)?;
        }

        let found = in_order(
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
                    value: Credentials {
                        secret_id: id.to_string(),
                        secret_key: Secret::new(key),
                        token: env.get("TENCENTCLOUD_TOKEN").map(Secret::new),
                    },
                    source: "environment (TENCENTCLOUD_SECRET_ID, TENCENTCLOUD_SECRET_KEY)".into(),
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
                    value: Credentials {
                        secret_id: id.to_string(),
                        secret_key: Secret::new(key),
                        token: section.get("token").map(Secret::new),
                    },
                    source: format!("profile {}", section.label()),
                }))
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
            Some(e) => base_url(e, DEFAULT_EXAMPLE)?,
            // One of several regions: its own gateway, with its own rate budget
            // (the region-less host shares one bucket across regions; PROVIDERS.md §5).
            None if ctx.place().is_some() => {
                format!(
                    "https://{}.{}.tencentcloudapi.com",
                    service.name, self.region
                )
            }
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
            format!("unexpected answer ({what}): {:?}", raw.snippet()),
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
                let raw = RawResponse { status, headers: Default::default(), body };
                let _ = parse_answer::<Any>(&raw, classify);
            }

            #[test]
            fn parser_never_panics_on_json_like_bodies(body in r#"\{"Response":\{("Error":\{"Code":"[A-Za-z.]{0,20}"(,"Message":"[a-z ]{0,10}")?\},?)?("RequestId":"[a-z0-9-]{0,10}")?\}\}"#) {
                let raw = RawResponse { status: 200, headers: Default::default(), body: body.into_bytes() };
                let _ = parse_answer::<Any>(&raw, classify);
            }
        }
    }
}

/// The region service (PROVIDERS.md §5): `DescribeRegions` per product.
pub const REGION: Service = Service {
    name: "region",
    version: "2022-06-27",
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
    let tc = Tencent::resolve(&lookup)?;
    if tc.credentials_used() == CredentialsUsed::Placeholder {
        return Err(Error::config(
            "--region all lists the provider's regions, which needs credentials, and none were found; nothing was sent",
        ));
    }
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
