//! Tencent Cloud temporary credentials (PROVIDERS.md §6a): STS `AssumeRole` (signed
//! with the credentials found first), `AssumeRoleWithWebIdentity` (unsigned,
//! `Authorization: SKIP`) and the CVM role from the instance metadata service. Each is
//! a [`Renew`] source: the foundation decides when to call it.

use super::{classify_common, parse_answer, signed_request, Service, CONTENT_TYPE};
use crate::config::Secret;
use crate::credentials::{
    expiry_from_rfc3339, expiry_from_unix, Credentials, Fetch, IdentityToken, Keys, Renew,
};
use crate::error::{Error, ErrorKind};
use crate::transport::{host_header, Api, HttpRequest, RetrySafety, Sensitive, Transport};
use serde::Deserialize;
use std::sync::Arc;

pub const STS: Service = Service {
    name: "sts",
    version: "2018-08-13",
    regional: false,
};

const ASSUME_ROLE: Api = Api {
    name: "tencent.sts.AssumeRole",
    default_rate: 600.0,
    safety: RetrySafety::Repeatable,
};

const ASSUME_ROLE_WITH_WEB_IDENTITY: Api = Api {
    name: "tencent.sts.AssumeRoleWithWebIdentity",
    default_rate: 20.0,
    safety: RetrySafety::Repeatable,
};

/// The instance metadata service's default base URL.
pub const METADATA_DEFAULT: &str = "http://metadata.tencentyun.com";
const ROLE_PATH: &str = "/latest/meta-data/cam/security-credentials/";

/// STS codes (§6a): a role that does not exist or a bad parameter is configuration;
/// a refused web identity token is auth.
fn classify_sts(code: &str) -> (ErrorKind, bool) {
    if code == "InvalidParameter.WebIdentityTokenError" {
        return (ErrorKind::Auth, false);
    }
    if let Some(c) = classify_common(code).filter(|_| code != "InternalError.GetRoleError") {
        return c;
    }
    if code.starts_with("ResourceNotFound")
        || code.starts_with("InvalidParameter")
        || code.starts_with("MissingParameter")
        || code == "InternalError.GetRoleError"
    {
        return (ErrorKind::Config, false);
    }
    (ErrorKind::Auth, false)
}

#[derive(Deserialize)]
struct StsCredentials {
    #[serde(rename = "TmpSecretId")]
    id: String,
    #[serde(rename = "TmpSecretKey")]
    key: String,
    #[serde(rename = "Token")]
    token: String,
}

#[derive(Deserialize)]
struct StsAnswer {
    #[serde(rename = "Credentials")]
    credentials: StsCredentials,
    #[serde(rename = "ExpiredTime")]
    expired_time: Option<i64>,
    #[serde(rename = "Expiration")]
    expiration: Option<String>,
}

impl StsAnswer {
    fn keys(self) -> Keys {
        Keys {
            id: self.credentials.id,
            secret: Secret::new(self.credentials.key),
            token: Some(Secret::new(self.credentials.token)),
            expires: self
                .expired_time
                .and_then(expiry_from_unix)
                .or_else(|| self.expiration.as_deref().and_then(expiry_from_rfc3339)),
        }
    }
}

/// What every role request carries.
#[derive(Debug, Clone)]
pub struct Role {
    pub arn: String,
    pub session_name: String,
    pub duration_secs: u64,
    /// The base URL override (`--endpoint` / `CLOUDSTOP_TENCENT_ENDPOINT`), else
    /// `https://sts.tencentcloudapi.com`.
    pub endpoint: Option<String>,
    pub region: String,
}

impl Role {
    /// STS's base URL: the endpoint override, else `https://sts.tencentcloudapi.com`.
    fn base(&self) -> Result<String, Error> {
        match &self.endpoint {
            Some(e) => crate::transport::base_url(e, super::DEFAULT_EXAMPLE),
            None => Ok(format!("https://{}.tencentcloudapi.com", STS.name)),
        }
    }

    fn body(&self, extra: &[(&str, &str)]) -> String {
        let mut m = serde_json::Map::new();
        for (k, v) in extra {
            m.insert(k.to_string(), serde_json::Value::String(v.to_string()));
        }
        m.insert("RoleArn".into(), self.arn.clone().into());
        m.insert("RoleSessionName".into(), self.session_name.clone().into());
        m.insert("DurationSeconds".into(), self.duration_secs.into());
        serde_json::Value::Object(m).to_string()
    }
}

/// `AssumeRole` with the credentials found first (which may themselves be temporary).
pub struct AssumeRole {
    pub base: Arc<Credentials>,
    pub role: Role,
}

impl Renew for AssumeRole {
    fn fetch<'a>(&'a self, transport: &'a Transport) -> Fetch<'a> {
        Box::pin(async move {
            self.base.ensure_fresh(transport).await?;
            let body = self.role.body(&[]);
            let answer: StsAnswer = transport
                .send_credential_call(
                    &ASSUME_ROLE,
                    || {
                        let keys = self.base.current()?;
                        signed_request(
                            &keys,
                            &self.role.base()?,
                            &self.role.region,
                            STS,
                            "AssumeRole",
                            body.clone(),
                            chrono::Utc::now().timestamp(),
                        )
                    },
                    |raw| parse_answer::<StsAnswer>(raw, classify_sts).map(|a| a.data),
                )
                .await?;
            Ok(answer.keys())
        })
    }
}

/// `AssumeRoleWithWebIdentity`: the token is the credential, the request unsigned.
pub struct WebIdentity {
    pub provider_id: String,
    pub token: IdentityToken,
    pub role: Role,
}

impl Renew for WebIdentity {
    fn fetch<'a>(&'a self, transport: &'a Transport) -> Fetch<'a> {
        Box::pin(async move {
            let token = self.token.get(transport).await?;
            let body = self.role.body(&[
                ("ProviderId", &self.provider_id),
                ("WebIdentityToken", token.expose()),
            ]);
            let url = format!("{}/", self.role.base()?);
            let host = host_header(&url)?;
            let answer: StsAnswer = transport
                .send_credential_call(
                    &ASSUME_ROLE_WITH_WEB_IDENTITY,
                    || {
                        Ok(HttpRequest {
                            method: reqwest::Method::POST,
                            url: url.clone(),
                            headers: vec![
                                ("Authorization".into(), "SKIP".into()),
                                ("Content-Type".into(), CONTENT_TYPE.into()),
                                ("Host".into(), host.clone()),
                                ("X-TC-Action".into(), "AssumeRoleWithWebIdentity".into()),
                                (
                                    "X-TC-Timestamp".into(),
                                    chrono::Utc::now().timestamp().to_string(),
                                ),
                                ("X-TC-Version".into(), STS.version.into()),
                                ("X-TC-Region".into(), self.role.region.clone()),
                            ],
                            body: body.clone(),
                            sensitive: vec![Sensitive::Body],
                        })
                    },
                    |raw| parse_answer::<StsAnswer>(raw, classify_sts).map(|a| a.data),
                )
                .await?;
            Ok(answer.keys())
        })
    }
}

/// The CVM role: the role name, then its temporary keys, from the metadata service.
pub struct CvmRole {
    pub base: String,
    /// Said when there is no role here (off the cloud, or no role bound).
    pub none_hint: String,
}

impl CvmRole {
    fn get(&self, path: &str) -> HttpRequest {
        let url = format!("{}{path}", self.base.trim_end_matches('/'));
        HttpRequest {
            method: reqwest::Method::GET,
            headers: vec![("Host".into(), host_header(&url).unwrap_or_default())],
            url,
            body: String::new(),
            sensitive: vec![],
        }
    }

    fn none(&self, why: String) -> Error {
        Error::config(format!("{why}; {}", self.none_hint))
    }
}

impl Renew for CvmRole {
    fn fetch<'a>(&'a self, transport: &'a Transport) -> Fetch<'a> {
        Box::pin(async move {
            let raw = transport
                .metadata(&self.get(ROLE_PATH))
                .await
                .map_err(|e| {
                    self.none(format!(
                        "no CVM role: the metadata service {} did not answer ({})",
                        self.base, e.message
                    ))
                })?;
            if raw.status == 404 {
                return Err(self.none("no CVM role is bound to this instance".into()));
            }
            if raw.status != 200 {
                return Err(self.none(format!(
                    "the metadata service answered HTTP {} for the role name",
                    raw.status
                )));
            }
            let role = String::from_utf8_lossy(&raw.body).trim().to_string();
            let role = role.lines().next().unwrap_or("").trim().to_string();
            if role.is_empty() || role.contains('/') {
                return Err(self.none("the metadata service named no CVM role".into()));
            }
            let raw = transport
                .metadata(&self.get(&format!("{ROLE_PATH}{role}")))
                .await?;
            if raw.status != 200 {
                return Err(Error::new(
                    ErrorKind::Auth,
                    format!(
                        "the metadata service answered HTTP {} for the keys of CVM role {role}",
                        raw.status
                    ),
                ));
            }
            #[derive(Deserialize)]
            struct Answer {
                #[serde(rename = "TmpSecretId")]
                id: String,
                #[serde(rename = "TmpSecretKey")]
                key: String,
                #[serde(rename = "Token")]
                token: String,
                #[serde(rename = "ExpiredTime")]
                expired_time: Option<i64>,
                #[serde(rename = "Expiration")]
                expiration: Option<String>,
                #[serde(rename = "Code")]
                code: Option<String>,
            }
            let a: Answer = serde_json::from_slice(&raw.body).map_err(|_| {
                Error::new(
                    ErrorKind::Auth,
                    format!("the metadata service's keys for CVM role {role} are unreadable"),
                )
            })?;
            if a.code.as_deref().is_some_and(|c| c != "Success") {
                return Err(Error::new(
                    ErrorKind::Auth,
                    format!(
                        "the metadata service refused the keys of CVM role {role} (Code {})",
                        a.code.unwrap_or_default()
                    ),
                ));
            }
            Ok(Keys {
                id: a.id,
                secret: Secret::new(a.key),
                token: Some(Secret::new(a.token)),
                expires: a
                    .expired_time
                    .and_then(expiry_from_unix)
                    .or_else(|| a.expiration.as_deref().and_then(expiry_from_rfc3339)),
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sts_codes() {
        assert_eq!(
            classify_sts("InvalidParameter.WebIdentityTokenError").0,
            ErrorKind::Auth
        );
        assert_eq!(
            classify_sts("ResourceNotFound.RoleNotFound").0,
            ErrorKind::Config
        );
        assert_eq!(
            classify_sts("UnauthorizedOperation").0,
            ErrorKind::Permission
        );
        assert_eq!(
            classify_sts("AuthFailure.SignatureFailure").0,
            ErrorKind::Auth
        );
        assert_eq!(classify_sts("RequestLimitExceeded").0, ErrorKind::Throttled);
        for (code, kind) in [
            ("InvalidParameter.RoleArnError", ErrorKind::Config),
            ("MissingParameter", ErrorKind::Config),
            ("ResourceNotFound", ErrorKind::Config),
            ("InternalError.GetRoleError", ErrorKind::Config),
            ("InternalError.DbError", ErrorKind::Provider),
            ("FailedOperation", ErrorKind::Auth),
        ] {
            assert_eq!(classify_sts(code).0, kind, "{code}");
        }
    }
}
