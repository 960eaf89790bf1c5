//! Huawei Cloud temporary credentials (PROVIDERS.md §6b): the IdP id-token flow
//! (an OIDC token → an unscoped IAM token → temporary AK/SK/security token, both calls
//! unsigned) and the ECS agency's keys from the instance metadata service. Each is a
//! [`Renew`] source: the foundation decides when to call it.

use crate::config::Secret;
use crate::credentials::{expiry_from_rfc3339, Fetch, IdentityToken, Keys, Renew};
use crate::error::{Error, ErrorKind};
use crate::transport::{
    host_header, Api, HttpRequest, RawResponse, RetrySafety, Sensitive, Transport,
};
use serde::Deserialize;

/// The metadata service's default base URL.
pub const METADATA_DEFAULT: &str = "http://169.254.169.254";
/// The IdP flow's IAM base URL when none is configured (§6b).
pub const IAM_DEFAULT: &str = "https://iam.myhuaweicloud.com";
/// Temporary keys from the IdP flow live this long (900–86400 s allowed).
const DURATION_SECS: u64 = 21600;

const ID_TOKEN: Api = Api {
    name: "huawei.iam.CreateTokenWithIdToken",
    default_rate: 5.0,
    safety: RetrySafety::Repeatable,
};

const SECURITY_TOKEN: Api = Api {
    name: "huawei.iam.CreateTemporaryAccessKeyByToken",
    default_rate: 5.0,
    safety: RetrySafety::Repeatable,
};

#[derive(Deserialize)]
struct Credential {
    access: String,
    secret: String,
    securitytoken: String,
    expires_at: Option<String>,
}

#[derive(Deserialize)]
struct CredentialAnswer {
    credential: Credential,
}

impl Credential {
    fn keys(self) -> Keys {
        Keys {
            id: self.access,
            secret: Secret::new(self.secret),
            token: Some(Secret::new(self.securitytoken)),
            expires: self.expires_at.as_deref().and_then(expiry_from_rfc3339),
        }
    }
}

/// IAM's refusal of a credential call: 400/401 auth, 403 permission (§6b); the body's
/// code and message as for any Huawei answer.
fn iam_refusal(raw: &RawResponse, what: &str) -> Error {
    let mut e = super::refusal(raw);
    if !e.retryable {
        e.kind = match raw.status {
            403 => ErrorKind::Permission,
            _ => ErrorKind::Auth,
        };
    }
    e.message = format!("IAM refused {what} (HTTP {}): {}", raw.status, e.message);
    e
}

/// The IdP id-token flow: `HUAWEICLOUD_SDK_IDP_ID` and an id token (a file re-read at
/// each renewal, or the GitHub Actions runner's).
pub struct IdToken {
    pub idp_id: String,
    pub token: IdentityToken,
    /// IAM base URL, no trailing `/`.
    pub iam_base: String,
}

impl IdToken {
    fn post(&self, path: &str, headers: Vec<(String, String)>, body: String) -> HttpRequest {
        let url = format!("{}{path}", self.iam_base);
        let mut all = vec![
            ("Host".to_string(), host_header(&url).unwrap_or_default()),
            (
                "Content-Type".to_string(),
                "application/json;charset=UTF-8".to_string(),
            ),
        ];
        all.extend(headers);
        HttpRequest {
            method: reqwest::Method::POST,
            url,
            headers: all,
            body,
            sensitive: vec![Sensitive::Body, Sensitive::Header("X-Auth-Token")],
        }
    }
}

impl Renew for IdToken {
    fn fetch<'a>(&'a self, transport: &'a Transport) -> Fetch<'a> {
        Box::pin(async move {
            let id_token = self.token.get(transport).await?;
            let body =
                serde_json::json!({"auth": {"id_token": {"id": id_token.expose()}}}).to_string();
            let subject: Secret = transport
                .send_credential_call(
                    &ID_TOKEN,
                    || {
                        Ok(self.post(
                            "/v3.0/OS-AUTH/id-token/tokens",
                            vec![("X-Idp-Id".into(), self.idp_id.clone())],
                            body.clone(),
                        ))
                    },
                    |raw| {
                        if !(200..300).contains(&raw.status) {
                            return Err(iam_refusal(raw, "the id token"));
                        }
                        raw.header("x-subject-token")
                            .filter(|t| !t.is_empty())
                            .map(Secret::new)
                            .ok_or_else(|| {
                                Error::new(
                                    ErrorKind::Auth,
                                    "IAM accepted the id token but sent no X-Subject-Token",
                                )
                            })
                    },
                )
                .await?;
            let body = serde_json::json!({"auth": {"identity": {
                "methods": ["token"],
                "token": {"id": subject.expose(), "duration_seconds": DURATION_SECS}
            }}})
            .to_string();
            let answer: CredentialAnswer = transport
                .send_credential_call(
                    &SECURITY_TOKEN,
                    || {
                        Ok(self.post(
                            "/v3.0/OS-CREDENTIAL/securitytokens",
                            vec![("X-Auth-Token".into(), subject.expose().to_string())],
                            body.clone(),
                        ))
                    },
                    |raw| {
                        if !(200..300).contains(&raw.status) {
                            return Err(iam_refusal(raw, "the temporary keys"));
                        }
                        raw.json::<CredentialAnswer>().map_err(|_| {
                            Error::new(
                                ErrorKind::Auth,
                                "IAM's temporary keys are unreadable (no credential)",
                            )
                        })
                    },
                )
                .await?;
            Ok(answer.credential.keys())
        })
    }
}

/// The ECS agency's temporary keys from the metadata service.
pub struct EcsAgency {
    pub base: String,
    /// Said when there is none here (off the cloud, or no agency).
    pub none_hint: String,
}

impl EcsAgency {
    fn req(
        &self,
        method: reqwest::Method,
        path: &str,
        headers: Vec<(String, String)>,
    ) -> HttpRequest {
        let url = format!("{}{path}", self.base.trim_end_matches('/'));
        let mut all = vec![("Host".to_string(), host_header(&url).unwrap_or_default())];
        all.extend(headers);
        HttpRequest {
            method,
            url,
            headers: all,
            body: String::new(),
            sensitive: vec![Sensitive::Header("X-Metadata-Token")],
        }
    }

    fn none(&self, why: String) -> Error {
        Error::config(format!("{why}; {}", self.none_hint))
    }

    /// The optional session token (404/405: the service works without one).
    async fn session(&self, transport: &Transport) -> Result<Option<Secret>, Error> {
        let raw = transport
            .metadata(&self.req(
                reqwest::Method::PUT,
                "/meta-data/latest/api/token",
                vec![("X-Metadata-Token-Ttl-Seconds".into(), "21600".into())],
            ))
            .await
            .map_err(|e| {
                self.none(format!(
                    "no ECS agency: the metadata service {} did not answer ({})",
                    self.base, e.message
                ))
            })?;
        Ok(match raw.status {
            200..=299 => {
                let t = String::from_utf8_lossy(&raw.body).trim().to_string();
                (!t.is_empty()).then(|| Secret::new(t))
            }
            _ => None,
        })
    }
}

impl Renew for EcsAgency {
    fn fetch<'a>(&'a self, transport: &'a Transport) -> Fetch<'a> {
        Box::pin(async move {
            let mut session = self.session(transport).await?;
            for attempt in 0..2 {
                let headers = session
                    .as_ref()
                    .map(|t| vec![("X-Metadata-Token".to_string(), t.expose().to_string())])
                    .unwrap_or_default();
                let raw = transport
                    .metadata(&self.req(
                        reqwest::Method::GET,
                        "/openstack/latest/securitykey",
                        headers,
                    ))
                    .await?;
                match raw.status {
                    200 => {
                        let a: CredentialAnswer =
                            serde_json::from_slice(&raw.body).map_err(|_| {
                                Error::new(
                                    ErrorKind::Auth,
                                    "the metadata service's temporary keys are unreadable",
                                )
                            })?;
                        return Ok(a.credential.keys());
                    }
                    401 if String::from_utf8_lossy(&raw.body)
                        .contains("Please configure Cloud Service Agency first") =>
                    {
                        return Err(self.none("no agency is bound to this ECS server".into()));
                    }
                    // An expired session token: a new one, once (§6b).
                    401 if attempt == 0 => session = self.session(transport).await?,
                    404 => {
                        return Err(
                            self.none("the metadata service has no security key here".into())
                        )
                    }
                    s => {
                        return Err(Error::new(
                            ErrorKind::Auth,
                            format!("the metadata service answered HTTP {s} for the security key"),
                        ))
                    }
                }
            }
            Err(Error::new(
                ErrorKind::Auth,
                "the metadata service refused the security key twice (HTTP 401)",
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(status: u16, body: &str) -> RawResponse {
        RawResponse {
            status,
            body: body.as_bytes().to_vec(),
            url: "https://iam.myhuaweicloud.com/v3.0/OS-CREDENTIAL/securitytokens".into(),
            ..Default::default()
        }
    }

    #[test]
    fn iam_refusals_are_auth_or_permission_unless_retryable() {
        let body = r#"{"error":{"code":"IAM.0001","message":"denied"}}"#;
        for (status, kind, retryable) in [
            (400, ErrorKind::Auth, false),
            (401, ErrorKind::Auth, false),
            (403, ErrorKind::Permission, false),
            (404, ErrorKind::Auth, false),
            (500, ErrorKind::Provider, true),
            (429, ErrorKind::Throttled, true),
        ] {
            let e = iam_refusal(&raw(status, body), "the id token");
            assert_eq!((e.kind, e.retryable), (kind, retryable), "HTTP {status}");
            assert!(
                e.message
                    .starts_with(&format!("IAM refused the id token (HTTP {status}): denied")),
                "{}",
                e.message
            );
        }
    }
}
