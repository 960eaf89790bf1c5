//! Credentials as every provider uses them: a key pair, an optional session token and
//! an optional expiry, from one named source (SPEC "Credentials": `env`, `profile`,
//! `file`, `web-identity`, `instance-role`, `assume-role`).
//!
//! Static keys are loaded once. Temporary ones come from a [`Renew`] source (STS,
//! instance metadata, an IdP) and are renewed here, not by the providers: the
//! transport calls [`Credentials::ensure_fresh`] before every attempt, and request
//! builders sign with the snapshot [`Credentials::current`] gives them. A renewal
//! happens once (a mutex guards it) when less than [`RENEW_BEFORE`] is left; a failed
//! one is an auth error (exit 3) for everything not sent yet, and keys past their
//! expiry are never used.

use crate::config::Secret;
use crate::error::{Error, ErrorKind};
use crate::transport::Transport;
use chrono::{DateTime, Utc};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Renew when less than this is left (SPEC: 5 minutes).
pub const RENEW_BEFORE: Duration = Duration::from_secs(300);
/// Keys that have less than this left are not used at all: a request signed now must
/// still be valid when it arrives.
const MIN_LEFT: Duration = Duration::from_secs(10);

/// Where credentials came from, as `providers` and `-v` name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceKind {
    Env,
    Profile,
    File,
    WebIdentity,
    InstanceRole,
    AssumeRole,
}

impl SourceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SourceKind::Env => "env",
            SourceKind::Profile => "profile",
            SourceKind::File => "file",
            SourceKind::WebIdentity => "web-identity",
            SourceKind::InstanceRole => "instance-role",
            SourceKind::AssumeRole => "assume-role",
        }
    }
}

/// One set of keys. `Debug` shows the key id (it is sent in clear in every
/// `Authorization` header) but never the secret or the token.
#[derive(Clone)]
pub struct Keys {
    pub id: String,
    pub secret: Secret,
    pub token: Option<Secret>,
    pub expires: Option<DateTime<Utc>>,
}

impl fmt::Debug for Keys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keys")
            .field("id", &self.id)
            .field("secret", &self.secret)
            .field("token", &self.token.as_ref().map(|_| "[redacted]"))
            .field("expires", &self.expires)
            .finish()
    }
}

impl Keys {
    pub fn fixed(id: impl Into<String>, secret: impl Into<String>, token: Option<&str>) -> Keys {
        Keys {
            id: id.into(),
            secret: Secret::new(secret.into()),
            token: token.filter(|t| !t.is_empty()).map(Secret::new),
            expires: None,
        }
    }

    fn left(&self, now: DateTime<Utc>) -> Option<Duration> {
        self.expires
            .map(|e| (e - now).to_std().unwrap_or(Duration::ZERO))
    }
}

/// A boxed future, as [`Renew`] returns it.
pub type Fetch<'a> = Pin<Box<dyn Future<Output = Result<Keys, Error>> + 'a>>;

/// A source of temporary keys: asked once at the start and again at each renewal.
pub trait Renew: Send + Sync {
    fn fetch<'a>(&'a self, transport: &'a Transport) -> Fetch<'a>;
}

enum State {
    Empty,
    Ready { keys: Arc<Keys>, at: DateTime<Utc> },
    Failed(Error),
}

/// The credentials of one run, shared by every request.
pub struct Credentials {
    kind: SourceKind,
    detail: String,
    placeholder: bool,
    state: Mutex<State>,
    renew: Option<Box<dyn Renew>>,
    renewing: tokio::sync::Mutex<()>,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("kind", &self.kind)
            .field("detail", &self.detail)
            .finish()
    }
}

impl Credentials {
    /// Keys that do not change during the run.
    pub fn fixed(kind: SourceKind, detail: impl Into<String>, keys: Keys) -> Credentials {
        Credentials {
            kind,
            detail: detail.into(),
            placeholder: false,
            state: Mutex::new(State::Ready {
                keys: Arc::new(keys),
                at: Utc::now(),
            }),
            renew: None,
            renewing: tokio::sync::Mutex::new(()),
        }
    }

    /// `--dry-run` without credentials: a placeholder key that signs but is never sent.
    pub fn placeholder(id: &str, secret: &str) -> Credentials {
        let mut c = Credentials::fixed(
            SourceKind::Env,
            "placeholder (--dry-run)",
            Keys::fixed(id, secret, None),
        );
        c.placeholder = true;
        c
    }

    /// Temporary keys from `source`, fetched on first use and renewed before they expire.
    pub fn renewable(
        kind: SourceKind,
        detail: impl Into<String>,
        source: Box<dyn Renew>,
    ) -> Credentials {
        Credentials {
            kind,
            detail: detail.into(),
            placeholder: false,
            state: Mutex::new(State::Empty),
            renew: Some(source),
            renewing: tokio::sync::Mutex::new(()),
        }
    }

    pub fn kind(&self) -> SourceKind {
        self.kind
    }

    /// What `-v` says about the source (never a secret).
    pub fn detail(&self) -> &str {
        &self.detail
    }

    pub fn is_placeholder(&self) -> bool {
        self.placeholder
    }

    /// Temporary keys, obtained over the network.
    pub fn is_renewable(&self) -> bool {
        self.renew.is_some()
    }

    /// The keys to sign one request with: an error when none were obtained, the last
    /// renewal failed, or they are (about to be) expired.
    pub fn current(&self) -> Result<Arc<Keys>, Error> {
        match &*self.state.lock().unwrap() {
            State::Ready { keys, .. } => {
                if keys.left(Utc::now()).is_some_and(|l| l < MIN_LEFT) {
                    return Err(self.expired());
                }
                Ok(keys.clone())
            }
            State::Failed(e) => Err(e.clone()),
            State::Empty => Err(Error::new(
                ErrorKind::Auth,
                format!(
                    "no credentials obtained yet from {} ({})",
                    self.kind.as_str(),
                    self.detail
                ),
            )),
        }
    }

    fn expired(&self) -> Error {
        Error::new(
            ErrorKind::Auth,
            format!(
                "the credentials from {} ({}) have expired and could not be renewed: nothing more is sent with them",
                self.kind.as_str(),
                self.detail
            ),
        )
    }

    /// Whether the keys need a renewal now.
    fn needs_renewal(&self) -> Result<bool, Error> {
        let now = Utc::now();
        match &*self.state.lock().unwrap() {
            State::Empty => Ok(true),
            State::Failed(e) => Err(e.clone()),
            State::Ready { keys, at } => Ok(match keys.left(now) {
                None => false,
                Some(left) => {
                    // Keys that lived less than RENEW_BEFORE from the start (a source
                    // handing out short-lived keys) are renewed at half their life, so
                    // that a run does not renew on every request.
                    let lifetime = keys.left(*at).unwrap_or(Duration::ZERO);
                    let threshold = if lifetime >= RENEW_BEFORE {
                        RENEW_BEFORE
                    } else {
                        (lifetime / 2).max(MIN_LEFT)
                    };
                    left < threshold
                }
            }),
        }
    }

    /// Makes sure [`Self::current`] gives keys with time left: fetches or renews them
    /// when needed, once for every caller waiting at the same time.
    pub async fn ensure_fresh(&self, transport: &Transport) -> Result<(), Error> {
        let Some(source) = &self.renew else {
            return Ok(());
        };
        if !self.needs_renewal()? {
            return Ok(());
        }
        let _guard = self.renewing.lock().await;
        // Another caller may have renewed while this one waited.
        if !self.needs_renewal()? {
            return Ok(());
        }
        let first = matches!(&*self.state.lock().unwrap(), State::Empty);
        match source.fetch(transport).await {
            Ok(keys) => {
                if keys.left(Utc::now()).is_some_and(|l| l < MIN_LEFT) {
                    let e = Error::new(
                        ErrorKind::Auth,
                        format!(
                            "{} ({}) handed out credentials that have already expired",
                            self.kind.as_str(),
                            self.detail
                        ),
                    );
                    *self.state.lock().unwrap() = State::Failed(e.clone());
                    return Err(e);
                }
                match keys.expires {
                    Some(e) => tracing::info!(
                        "{} credentials from {} valid until {}",
                        if first { "obtained" } else { "renewed" },
                        self.kind.as_str(),
                        e.to_rfc3339()
                    ),
                    None => tracing::info!("obtained credentials from {}", self.kind.as_str()),
                }
                *self.state.lock().unwrap() = State::Ready {
                    keys: Arc::new(keys),
                    at: Utc::now(),
                };
                Ok(())
            }
            Err(e) => {
                // Every kind of failure to get keys is a credential failure (exit 3):
                // the run must not go on with keys it could not confirm.
                let kind = match e.kind {
                    ErrorKind::Config | ErrorKind::Permission | ErrorKind::Auth => e.kind,
                    _ => ErrorKind::Auth,
                };
                let verb = if first { "get" } else { "renew" };
                let mut err = Error::new(
                    kind,
                    format!(
                        "cannot {verb} credentials from {} ({}): {}",
                        self.kind.as_str(),
                        self.detail,
                        e.message
                    ),
                );
                err.code = e.code.clone();
                tracing::warn!("{}", err.message);
                *self.state.lock().unwrap() = State::Failed(err.clone());
                Err(err)
            }
        }
    }
}

/// An expiry given as unix seconds (Tencent `ExpiredTime`).
pub fn expiry_from_unix(secs: i64) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(secs, 0)
}

/// An expiry given as RFC 3339 (Huawei `expires_at`, Tencent `Expiration`).
pub fn expiry_from_rfc3339(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s.trim())
        .ok()
        .map(|d| d.with_timezone(&Utc))
}

/// Reads a token file (web identity, id token): trimmed, and an error naming the file
/// and the variable that pointed to it when it is missing, unreadable or empty. The
/// contents are never part of a message.
pub fn read_token_file(path: &std::path::Path, var: &str) -> Result<Secret, Error> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        Error::config(format!(
            "cannot read the token file {} ({var}): {e}",
            path.display()
        ))
    })?;
    let t = text.trim();
    if t.is_empty() {
        return Err(Error::config(format!(
            "the token file {} ({var}) is empty",
            path.display()
        )));
    }
    Ok(Secret::new(t))
}

/// Where a web identity token comes from: a file (Kubernetes, a CI system that writes
/// one), or the GitHub Actions runner, asked for a fresh one at every renewal.
#[derive(Debug, Clone)]
pub enum IdentityToken {
    File {
        path: std::path::PathBuf,
        var: &'static str,
    },
    GitHubActions {
        url: String,
        bearer: Secret,
        audience: Option<String>,
    },
}

impl IdentityToken {
    /// GitHub Actions' OIDC request variables, when the runner sets them
    /// (`permissions: id-token: write`).
    pub fn github(env: &crate::config::Env, audience: Option<&str>) -> Option<IdentityToken> {
        Some(IdentityToken::GitHubActions {
            url: env.get("ACTIONS_ID_TOKEN_REQUEST_URL")?.to_string(),
            bearer: Secret::new(env.get("ACTIONS_ID_TOKEN_REQUEST_TOKEN")?),
            audience: audience.map(str::to_string),
        })
    }

    /// What `-v` and messages say about it.
    pub fn describe(&self) -> String {
        match self {
            IdentityToken::File { path, var } => format!("{var}={}", path.display()),
            IdentityToken::GitHubActions { audience, .. } => format!(
                "GitHub Actions OIDC token, audience {}",
                audience.as_deref().unwrap_or("(GitHub's default)")
            ),
        }
    }

    /// The token now: the file re-read, or a fresh one from the runner.
    pub async fn get(&self, transport: &Transport) -> Result<Secret, Error> {
        match self {
            IdentityToken::File { path, var } => read_token_file(path, var),
            IdentityToken::GitHubActions {
                url,
                bearer,
                audience,
            } => github_token(transport, url, bearer, audience.as_deref()).await,
        }
    }
}

const GITHUB_OIDC: crate::transport::Api = crate::transport::Api {
    name: "github.oidc.token",
    default_rate: 10.0,
    safety: crate::transport::RetrySafety::Repeatable,
};

/// `GET $ACTIONS_ID_TOKEN_REQUEST_URL&audience=…` with the runner's bearer token →
/// `{"value": "<JWT>"}` (actions/toolkit `oidc-utils.ts`).
async fn github_token(
    transport: &Transport,
    url: &str,
    bearer: &Secret,
    audience: Option<&str>,
) -> Result<Secret, Error> {
    let full = match audience {
        Some(a) => {
            let sep = if url.contains('?') { '&' } else { '?' };
            format!("{url}{sep}audience={}", percent_encode(a))
        }
        None => url.to_string(),
    };
    let host = crate::transport::host_header(&full)?;
    #[derive(serde::Deserialize)]
    struct Answer {
        value: Option<String>,
    }
    let answer: Answer = transport
        .send_credential_call(
            &GITHUB_OIDC,
            || {
                Ok(crate::transport::HttpRequest {
                    method: reqwest::Method::GET,
                    url: full.clone(),
                    headers: vec![
                        ("Host".into(), host.clone()),
                        ("Accept".into(), "application/json".into()),
                        ("Authorization".into(), format!("Bearer {}", bearer.expose())),
                    ],
                    body: String::new(),
                    sensitive: vec![crate::transport::Sensitive::Header("Authorization")],
                })
            },
            |raw| {
                if !(200..300).contains(&raw.status) {
                    let mut e = raw.http_error();
                    if matches!(e.kind, ErrorKind::NotFound | ErrorKind::Provider) {
                        e.kind = ErrorKind::Auth;
                    }
                    e.message = format!(
                        "the GitHub Actions runner refused an OIDC token (does the job have `permissions: id-token: write`?): HTTP {}",
                        raw.status
                    );
                    return Err(e);
                }
                raw.json::<Answer>()
            },
        )
        .await?;
    match answer.value.filter(|v| !v.is_empty()) {
        Some(v) => Ok(Secret::new(v)),
        None => Err(Error::new(
            ErrorKind::Auth,
            "the GitHub Actions runner answered without a token (no \"value\")",
        )),
    }
}

/// RFC 3986 percent-encoding of everything but the unreserved characters.
fn percent_encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    struct Counting {
        calls: Arc<AtomicUsize>,
        lifetime: chrono::Duration,
        fail_after: Option<usize>,
    }

    impl Renew for Counting {
        fn fetch<'a>(&'a self, _t: &'a Transport) -> Fetch<'a> {
            Box::pin(async move {
                let n = self.calls.fetch_add(1, Ordering::SeqCst);
                if self.fail_after.is_some_and(|f| n >= f) {
                    return Err(Error::new(ErrorKind::Network, "sts unreachable"));
                }
                Ok(Keys {
                    id: format!("id-{n}"),
                    secret: Secret::new(format!("secret-{n}")),
                    token: Some(Secret::new("tok")),
                    expires: Some(Utc::now() + self.lifetime),
                })
            })
        }
    }

    fn transport() -> Transport {
        Transport::new(
            crate::transport::TransportOptions {
                timeout: Duration::from_secs(1),
                retries: 0,
                concurrency: 4,
                rate: None,
            },
            false,
        )
    }

    #[tokio::test]
    async fn renews_once_for_concurrent_callers_and_never_hands_out_expired_keys() {
        let calls = Arc::new(AtomicUsize::new(0));
        let c = Credentials::renewable(
            SourceKind::WebIdentity,
            "test",
            Box::new(Counting {
                calls: calls.clone(),
                lifetime: chrono::Duration::hours(1),
                fail_after: None,
            }),
        );
        assert!(c.current().is_err(), "nothing before the first fetch");
        let t = transport();
        let (a, b, d) = tokio::join!(c.ensure_fresh(&t), c.ensure_fresh(&t), c.ensure_fresh(&t));
        a.unwrap();
        b.unwrap();
        d.unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert_eq!(c.current().unwrap().id, "id-0");
        // An hour left: no renewal.
        c.ensure_fresh(&t).await.unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_failed_renewal_is_sticky_and_an_auth_error() {
        let calls = Arc::new(AtomicUsize::new(0));
        let c = Credentials::renewable(
            SourceKind::AssumeRole,
            "test",
            Box::new(Counting {
                calls: calls.clone(),
                // Already inside the last seconds: must be renewed before any use.
                lifetime: chrono::Duration::seconds(5),
                fail_after: Some(1),
            }),
        );
        let t = transport();
        let e = c.ensure_fresh(&t).await.unwrap_err();
        assert_eq!(e.kind, ErrorKind::Auth);
        assert!(c.current().is_err());
        let e = c.ensure_fresh(&t).await.unwrap_err();
        assert_eq!(e.kind, ErrorKind::Auth);
        assert_eq!(calls.load(Ordering::SeqCst), 1, "no retry storm");
    }

    #[test]
    fn debug_never_shows_secrets() {
        let k = Keys::fixed("AKID", "very-secret", Some("tok-secret"));
        let s = format!("{k:?}");
        assert!(s.contains("AKID") && !s.contains("very-secret") && !s.contains("tok-secret"));
    }
}
