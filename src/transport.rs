//! The one HTTP client every provider sends through: timeouts, retries with
//! exponential backoff and full jitter, `Retry-After`, a fresh signature on every
//! attempt, pacing to `--rate` per API and a bound of `--concurrency` requests in flight.
//!
//! Providers build and sign requests ([`HttpRequest`]) and parse answers
//! ([`RawResponse`]); the transport knows nothing of their formats. Whether a failed
//! call may be sent again is the provider's word, given per API as [`RetrySafety`].

use crate::credentials::Credentials;
use crate::envelope::{CredentialsUsed, RequestRecord};
use crate::error::{Error, ErrorKind};
use rand::Rng;
use serde::de::DeserializeOwned;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;
use tokio::sync::Semaphore;
use tokio::time::Instant;

/// SPEC "Transport": connect timeout 10 s; backoff base 200 ms, cap 10 s.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// SPEC "Credentials" 5: the metadata service gets 1 s to accept the connection.
const METADATA_CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
const METADATA_TIMEOUT: Duration = Duration::from_secs(3);
const BACKOFF_BASE: Duration = Duration::from_millis(200);
const BACKOFF_CAP: Duration = Duration::from_secs(10);
/// A `Retry-After` longer than this is cut to it, so a run cannot hang for hours.
const RETRY_AFTER_CAP: Duration = Duration::from_secs(120);
/// How much of a body an error message quotes.
const SNIPPET_BYTES: usize = 200;

#[derive(Debug, Clone)]
pub struct TransportOptions {
    pub timeout: Duration,
    pub retries: u32,
    pub concurrency: u32,
    /// `--rate`; `None` keeps each API's documented default.
    pub rate: Option<f64>,
}

/// Where a request holds a secret that must not be shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sensitive {
    /// The `Signature=` part of this header (the rest names the key id and scope).
    SignatureIn(&'static str),
    /// A whole header value (session tokens).
    Header(&'static str),
    /// A query parameter's value (QingCloud's `signature`).
    QueryParam(&'static str),
    /// The whole body (credential exchanges: it carries an identity token).
    Body,
}

/// A signed request, exactly as it will be sent.
#[derive(Clone)]
pub struct HttpRequest {
    pub method: reqwest::Method,
    pub url: String,
    /// Sent in this order, `Host` included.
    pub headers: Vec<(String, String)>,
    pub body: String,
    pub sensitive: Vec<Sensitive>,
}

impl std::fmt::Debug for HttpRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let r = self.record(CredentialsUsed::Configured);
        f.debug_struct("HttpRequest")
            .field("method", &r.method)
            .field("url", &r.url)
            .field("headers", &r.headers)
            .field("body", &r.body)
            .finish()
    }
}

impl HttpRequest {
    /// The request with every secret replaced by `[redacted]`.
    pub fn record(&self, credentials: CredentialsUsed) -> RequestRecord {
        let mut url = self.url.clone();
        let mut headers = BTreeMap::new();
        for (name, value) in &self.headers {
            let mut value = value.clone();
            for s in &self.sensitive {
                match s {
                    Sensitive::SignatureIn(h) if h.eq_ignore_ascii_case(name) => {
                        value = redact_signature(&value);
                    }
                    Sensitive::Header(h) if h.eq_ignore_ascii_case(name) => {
                        value = "[redacted]".into();
                    }
                    _ => {}
                }
            }
            headers.insert(name.clone(), value);
        }
        let mut body = self.body.clone();
        for s in &self.sensitive {
            match s {
                Sensitive::QueryParam(p) => url = redact_query_param(&url, p),
                Sensitive::Body => body = "[redacted]".into(),
                _ => {}
            }
        }
        RequestRecord {
            url: redact_userinfo(&url),
            method: self.method.to_string(),
            headers,
            body,
            credentials,
        }
    }
}

fn redact_signature(value: &str) -> String {
    match value.find("Signature=") {
        Some(i) => {
            let start = i + "Signature=".len();
            let end = value[start..].find(',').map_or(value.len(), |j| start + j);
            format!("{}[redacted]{}", &value[..start], &value[end..])
        }
        None => "[redacted]".into(),
    }
}

/// `url` with any `user:password@` replaced by `[redacted]@` (an endpoint given as
/// `https://user:pass@proxy`): logs, errors and `requests` never show it.
pub fn redact_userinfo(url: &str) -> String {
    let Some(start) = url.find("://").map(|i| i + 3) else {
        return url.to_string();
    };
    let end = url[start..]
        .find(['/', '?', '#'])
        .map_or(url.len(), |j| start + j);
    match url[start..end].rfind('@') {
        Some(at) => format!("{}[redacted]{}", &url[..start], &url[start + at..]),
        None => url.to_string(),
    }
}

/// Where a request went, as an error message may name it: scheme, host, port and path
/// only — never the query (QingCloud's carries the signature) nor any userinfo.
pub fn display_url(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(u) => {
            let host = u.host_str().unwrap_or_default();
            let port = u.port().map(|p| format!(":{p}")).unwrap_or_default();
            format!("{}://{host}{port}{}", u.scheme(), u.path())
        }
        Err(_) => {
            let cut = url.find(['?', '#']).unwrap_or(url.len());
            redact_userinfo(&url[..cut])
        }
    }
}

fn redact_query_param(url: &str, param: &str) -> String {
    let Some(q) = url.find('?') else {
        return url.to_string();
    };
    let (base, query) = url.split_at(q + 1);
    let parts: Vec<String> = query
        .split('&')
        .map(|kv| match kv.split_once('=') {
            Some((k, _)) if k == param => format!("{k}=[redacted]"),
            _ => kv.to_string(),
        })
        .collect();
    format!("{base}{}", parts.join("&"))
}

/// An answer, read whole.
#[derive(Debug, Default)]
pub struct RawResponse {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Vec<u8>,
    /// Where it came from, as [`display_url`] shows it (for error messages).
    pub url: String,
}

impl RawResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The first 200 bytes of the body, for error messages.
    pub fn snippet(&self) -> String {
        let end = self.body.len().min(SNIPPET_BYTES);
        String::from_utf8_lossy(&self.body[..end]).into_owned()
    }

    /// ` from <url>` for error messages, or nothing when the URL is unknown.
    pub fn from_url(&self) -> String {
        if self.url.is_empty() {
            String::new()
        } else {
            format!(" from {}", self.url)
        }
    }

    /// The body as JSON; a non-JSON or truncated body is an error naming the HTTP
    /// status and the URL and quoting the first 200 bytes. Such an answer may have come
    /// from a proxy or a broken connection: it is retryable, and may have been applied.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, Error> {
        serde_json::from_slice(&self.body).map_err(|e| {
            Error::new(
                ErrorKind::Provider,
                format!(
                    "unreadable answer (HTTP {}{}, {e}): {:?}",
                    self.status,
                    self.from_url(),
                    self.snippet()
                ),
            )
            .with_code(format!("HTTP {}", self.status))
            .retryable(true)
            .maybe_applied(true)
        })
    }

    /// `Retry-After` in seconds or as an HTTP date.
    pub fn retry_after(&self) -> Option<Duration> {
        let v = self.header("retry-after")?.trim();
        if let Ok(secs) = v.parse::<u64>() {
            return Some(Duration::from_secs(secs));
        }
        let when = chrono::DateTime::parse_from_rfc2822(v).ok()?;
        let delta = when.timestamp() - chrono::Utc::now().timestamp();
        Some(Duration::from_secs(delta.max(0) as u64))
    }

    /// The generic reading of an HTTP error status, for answers a provider does not
    /// recognise: 429 is throttling (nothing was done), 5xx a retryable server error
    /// that may have been applied, anything else a refusal. A bare 404 is never "not
    /// found": it comes as readily from a wrong endpoint path, a proxy or a gateway
    /// without the route, so it is a provider failure naming the URL (only a provider's
    /// own not-found code, read by the provider's parser, says a resource is missing).
    pub fn http_error(&self) -> Error {
        let code = format!("HTTP {}", self.status);
        let hint = match self.status {
            404 => " (no such API at this URL: check --endpoint and its path)",
            _ => "",
        };
        let msg = format!(
            "HTTP {}{}{hint}: {:?}",
            self.status,
            self.from_url(),
            self.snippet()
        );
        match self.status {
            429 => Error::new(ErrorKind::Throttled, msg)
                .with_code(code)
                .retryable(true),
            500..=599 => Error::new(ErrorKind::Provider, msg)
                .with_code(code)
                .retryable(true)
                .maybe_applied(true),
            401 => Error::new(ErrorKind::Auth, msg).with_code(code),
            403 => Error::new(ErrorKind::Permission, msg).with_code(code),
            _ => Error::new(ErrorKind::Provider, msg).with_code(code),
        }
        .retry_after(self.retry_after())
    }
}

/// Whether a call may be sent again after a failure that may have been applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetrySafety {
    /// Repeating it is harmless (reads; stops the provider treats as no-ops the second time).
    Repeatable,
    /// Retried only when the failure shows nothing was done (throttled, connection
    /// refused); otherwise the error goes back to the provider, which queries the
    /// state before sending anything again.
    QueryFirst,
}

/// One API action, as the transport paces and retries it.
#[derive(Debug, Clone, Copy)]
pub struct Api {
    /// Pacing key, e.g. `tencent.batch.TerminateJob`.
    pub name: &'static str,
    /// The provider's documented limit (requests per second), used without `--rate`.
    pub default_rate: f64,
    pub safety: RetrySafety,
}

/// Spaces requests of one API to a rate.
struct Pacer {
    interval: Duration,
    next: Mutex<Option<Instant>>,
}

impl Pacer {
    fn new(rate: f64) -> Self {
        Pacer {
            // 2% slower than the limit: a request that leaves a little late must not
            // put the next one inside the provider's one-second window.
            interval: Duration::from_secs_f64(1.02 / rate),
            next: Mutex::new(None),
        }
    }

    async fn wait(&self) {
        let slot = {
            let mut next = self.next.lock().unwrap();
            let now = Instant::now();
            let slot = next.map_or(now, |n| n.max(now));
            *next = Some(slot + self.interval);
            slot
        };
        tokio::time::sleep_until(slot).await;
    }
}

pub struct Transport {
    opts: TransportOptions,
    client: OnceLock<Result<reqwest::Client, String>>,
    in_flight: Semaphore,
    /// Keyed by (host, API): each regional host has its own budget (PROVIDERS.md §5).
    pacers: Mutex<HashMap<(String, &'static str), Arc<Pacer>>>,
    /// Every attempt, redacted, when `-vvv` asks for them in the envelope.
    recorded: Option<Mutex<Vec<RequestRecord>>>,
    /// The run's credentials: made fresh before every attempt of [`Transport::send`].
    credentials: OnceLock<Arc<Credentials>>,
    /// The instance metadata service's client: 1 s to connect, no proxy.
    metadata_client: OnceLock<Result<reqwest::Client, String>>,
}

impl Transport {
    pub fn new(opts: TransportOptions, record_requests: bool) -> Self {
        Transport {
            in_flight: Semaphore::new(opts.concurrency.max(1) as usize),
            opts,
            client: OnceLock::new(),
            pacers: Mutex::new(HashMap::new()),
            recorded: record_requests.then(|| Mutex::new(Vec::new())),
            credentials: OnceLock::new(),
            metadata_client: OnceLock::new(),
        }
    }

    /// The credentials every later [`Transport::send`] renews before each attempt,
    /// set once per run: returns the run's credentials, which are `credentials` for the
    /// first caller. The locations of a run over several share them, so temporary keys
    /// are fetched (and renewed) once, not once per location.
    pub fn use_credentials(&self, credentials: Arc<Credentials>) -> Arc<Credentials> {
        self.credentials.get_or_init(|| credentials).clone()
    }

    /// The requests recorded so far (with `-vvv`).
    pub fn recorded(&self) -> Vec<RequestRecord> {
        self.recorded
            .as_ref()
            .map(|r| r.lock().unwrap().clone())
            .unwrap_or_default()
    }

    // Built on first use, so `--version` and `--dry-run` never load TLS roots.
    fn client(&self) -> Result<&reqwest::Client, Error> {
        self.client
            .get_or_init(|| {
                reqwest::Client::builder()
                    .connect_timeout(CONNECT_TIMEOUT)
                    .timeout(self.opts.timeout)
                    .user_agent(concat!("cloudstop/", env!("CARGO_PKG_VERSION")))
                    .build()
                    .map_err(|e| e.to_string())
            })
            .as_ref()
            .map_err(|e| Error::internal(format!("cannot build the HTTP client: {e}")))
    }

    fn pacer(&self, host: &str, api: &Api) -> Arc<Pacer> {
        let rate = self.opts.rate.unwrap_or(api.default_rate);
        self.pacers
            .lock()
            .unwrap()
            .entry((host.to_string(), api.name))
            .or_insert_with(|| Arc::new(Pacer::new(rate)))
            .clone()
    }

    /// Sends a request built (and signed) by `build` — called again for every
    /// attempt, so each retry carries a fresh timestamp and signature — and reads the
    /// answer with `parse`. Transient failures are retried per `api.safety`. Before
    /// each attempt the run's credentials are renewed if they are about to expire (a
    /// failed renewal ends the call with that auth error, nothing sent).
    pub async fn send<T>(
        &self,
        api: &Api,
        build: impl FnMut() -> Result<HttpRequest, Error>,
        mut parse: impl FnMut(&RawResponse) -> Result<T, Error>,
    ) -> Result<T, Error> {
        self.send_inner(api, build, |_, raw| parse(raw), true).await
    }

    /// [`Transport::send`] for the calls that obtain credentials (STS, metadata, IdP):
    /// they do not wait for the run's credentials, and their answers (which hold keys)
    /// are never logged.
    pub async fn send_credential_call<T>(
        &self,
        api: &Api,
        build: impl FnMut() -> Result<HttpRequest, Error>,
        mut parse: impl FnMut(&RawResponse) -> Result<T, Error>,
    ) -> Result<T, Error> {
        self.send_inner(api, build, |_, raw| parse(raw), false)
            .await
    }

    /// As [`Transport::send`], with the attempt number (0 for the first) handed to
    /// `parse`: for an answer whose meaning depends on whether an earlier attempt may
    /// already have taken effect. (`build` may be called more than once per attempt —
    /// the pacer learns the host from it — so it must not count attempts itself.)
    pub async fn send_numbered<T>(
        &self,
        api: &Api,
        build: impl FnMut() -> Result<HttpRequest, Error>,
        parse: impl FnMut(u32, &RawResponse) -> Result<T, Error>,
    ) -> Result<T, Error> {
        self.send_inner(api, build, parse, true).await
    }

    async fn send_inner<T>(
        &self,
        api: &Api,
        mut build: impl FnMut() -> Result<HttpRequest, Error>,
        mut parse: impl FnMut(u32, &RawResponse) -> Result<T, Error>,
        with_credentials: bool,
    ) -> Result<T, Error> {
        let mut paced_by: Option<Arc<Pacer>> = None;
        let mut attempt: u32 = 0;
        loop {
            if with_credentials {
                if let Some(c) = self.credentials.get() {
                    c.ensure_fresh(self).await?;
                }
            }
            // The pacer is per (host, API): the host is learnt from a request built
            // (with current credentials) for that purpose; the request sent is built
            // again after the wait, so its timestamp and signature are fresh.
            let pacer = match &paced_by {
                Some(p) => p.clone(),
                None => {
                    let host = reqwest::Url::parse(&build()?.url)
                        .ok()
                        .and_then(|u| {
                            u.host_str()
                                .map(|h| format!("{h}:{}", u.port_or_known_default().unwrap_or(0)))
                        })
                        .unwrap_or_default();
                    paced_by.insert(self.pacer(&host, api)).clone()
                }
            };
            pacer.wait().await;
            if with_credentials {
                if let Some(c) = self.credentials.get() {
                    c.ensure_fresh(self).await?;
                }
            }
            let req = build()?;
            if let Some(rec) = &self.recorded {
                rec.lock()
                    .unwrap()
                    .push(req.record(CredentialsUsed::Configured));
            }
            tracing::debug!(api = api.name, attempt, method = %req.method, url = %req.record(CredentialsUsed::Configured).url, "sending");
            let outcome = {
                let _permit = self
                    .in_flight
                    .acquire()
                    .await
                    .expect("semaphore is never closed");
                self.exchange(&req).await
            };
            let err = match outcome {
                Ok(raw) => {
                    tracing::debug!(api = api.name, status = raw.status, "answer");
                    if with_credentials {
                        tracing::trace!(body = %raw.snippet(), "answer body (first 200 bytes)");
                    }
                    match parse(attempt, &raw) {
                        Ok(v) => return Ok(v),
                        Err(mut e) => {
                            if e.retry_after.is_none() {
                                e.retry_after = raw.retry_after();
                            }
                            e
                        }
                    }
                }
                Err(e) => e,
            };
            let may_repeat = api.safety == RetrySafety::Repeatable || !err.maybe_applied;
            if !(err.retryable && may_repeat && attempt < self.opts.retries) {
                tracing::debug!(api = api.name, attempt, kind = err.kind.as_str(), code = ?err.code, "giving up");
                return Err(err);
            }
            let delay =
                backoff(attempt).max(err.retry_after.unwrap_or_default().min(RETRY_AFTER_CAP));
            tracing::info!(api = api.name, attempt, kind = err.kind.as_str(), code = ?err.code, delay_ms = delay.as_millis() as u64, "retrying: {}", err.message);
            tokio::time::sleep(delay).await;
            attempt += 1;
        }
    }

    /// One attempt at the instance metadata service (SPEC: 1 s connect timeout, so a
    /// machine off the cloud falls through at once; no retries, no proxy). The answer
    /// holds keys and is never logged.
    pub async fn metadata(&self, req: &HttpRequest) -> Result<RawResponse, Error> {
        let client = self
            .metadata_client
            .get_or_init(|| {
                reqwest::Client::builder()
                    .connect_timeout(METADATA_CONNECT_TIMEOUT)
                    .timeout(METADATA_TIMEOUT)
                    .no_proxy()
                    .user_agent(concat!("cloudstop/", env!("CARGO_PKG_VERSION")))
                    .build()
                    .map_err(|e| e.to_string())
            })
            .as_ref()
            .map_err(|e| Error::internal(format!("cannot build the HTTP client: {e}")))?;
        if let Some(rec) = &self.recorded {
            rec.lock()
                .unwrap()
                .push(req.record(CredentialsUsed::Configured));
        }
        tracing::debug!(method = %req.method, url = %req.record(CredentialsUsed::Configured).url, "asking the instance metadata service");
        self.exchange_with(client, req).await
    }

    async fn exchange(&self, req: &HttpRequest) -> Result<RawResponse, Error> {
        let client = self.client()?;
        self.exchange_with(client, req).await
    }

    async fn exchange_with(
        &self,
        client: &reqwest::Client,
        req: &HttpRequest,
    ) -> Result<RawResponse, Error> {
        let mut rb = client.request(req.method.clone(), &req.url);
        for (k, v) in &req.headers {
            rb = rb.header(k.as_str(), v.as_str());
        }
        if !req.body.is_empty() {
            rb = rb.body(req.body.clone());
        }
        let resp = rb.send().await.map_err(|e| self.transport_error(e))?;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let body = resp
            .bytes()
            .await
            .map_err(|e| self.transport_error(e))?
            .to_vec();
        Ok(RawResponse {
            status,
            headers,
            body,
            url: display_url(&req.url),
        })
    }

    fn transport_error(&self, e: reqwest::Error) -> Error {
        // Never show the URL: QingCloud's carries the signature.
        let e = e.without_url();
        let mut msg = e.to_string();
        let mut src = std::error::Error::source(&e);
        while let Some(s) = src {
            msg.push_str(": ");
            msg.push_str(&s.to_string());
            src = s.source();
        }
        if e.is_timeout() {
            Error::new(
                ErrorKind::Timeout,
                format!(
                    "no answer within {} ({msg})",
                    humantime::format_duration(self.opts.timeout)
                ),
            )
            .retryable(true)
            .maybe_applied(true)
        } else if e.is_connect() {
            // Nothing reached the server.
            Error::new(ErrorKind::Network, format!("cannot connect: {msg}")).retryable(true)
        } else {
            Error::new(ErrorKind::Network, format!("connection failed: {msg}"))
                .retryable(true)
                .maybe_applied(true)
        }
    }
}

/// A base URL from `--endpoint` and its fallbacks: `https://` assumed for a bare host
/// (tccli stores hosts), a trailing `/` dropped, a path prefix kept (the provider
/// appends its own paths). `example` shows a good value in the error message.
pub fn base_url(endpoint: &str, example: &str) -> Result<String, Error> {
    let e = endpoint.trim();
    let with_scheme = if e.contains("://") {
        e.to_string()
    } else {
        format!("https://{e}")
    };
    let bad = |why: String| {
        Error::usage(format!(
            "malformed endpoint {}: {why}; expected a URL such as {example}",
            crate::plan::quote(&redact_userinfo(endpoint))
        ))
    };
    let url = reqwest::Url::parse(&with_scheme).map_err(|err| bad(err.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(bad("an http(s) URL with a host is needed".into()));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(bad("it must not have a query or fragment".into()));
    }
    Ok(with_scheme.trim_end_matches('/').to_string())
}

/// The `Host` header reqwest sends for `url`: the host, and `:port` only when it is not
/// the scheme's default. Signers cover it, so it must be exactly what goes out.
pub fn host_header(url: &str) -> Result<String, Error> {
    let u = reqwest::Url::parse(url)
        .map_err(|e| Error::usage(format!("malformed endpoint URL: {e}")))?;
    let host = u.host_str().unwrap_or_default();
    Ok(match u.port() {
        Some(p) => format!("{host}:{p}"),
        None => host.to_string(),
    })
}

/// Full jitter: a uniform delay between 0 and min(cap, base * 2^attempt).
pub fn backoff(attempt: u32) -> Duration {
    let ceiling = BACKOFF_BASE
        .saturating_mul(1u32.checked_shl(attempt.min(16)).unwrap_or(u32::MAX))
        .min(BACKOFF_CAP);
    let ms = rand::rng().random_range(0..=ceiling.as_millis() as u64);
    Duration::from_millis(ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req() -> HttpRequest {
        HttpRequest {
            method: reqwest::Method::POST,
            url: "https://h/api?a=1&signature=abc%253D&b=2".into(),
            headers: vec![
                (
                    "Authorization".into(),
                    "TC3-HMAC-SHA256 Credential=AKID/2023-11-14/batch/tc3_request, SignedHeaders=content-type;host, Signature=deadbeef".into(),
                ),
                ("X-TC-Token".into(), "tok-secret".into()),
            ],
            body: "{}".into(),
            sensitive: vec![
                Sensitive::SignatureIn("Authorization"),
                Sensitive::Header("X-TC-Token"),
                Sensitive::QueryParam("signature"),
            ],
        }
    }

    #[test]
    fn records_are_redacted() {
        let r = req().record(CredentialsUsed::Placeholder);
        assert_eq!(
            r.headers["Authorization"],
            "TC3-HMAC-SHA256 Credential=AKID/2023-11-14/batch/tc3_request, SignedHeaders=content-type;host, Signature=[redacted]"
        );
        assert_eq!(r.headers["X-TC-Token"], "[redacted]");
        assert_eq!(r.url, "https://h/api?a=1&signature=[redacted]&b=2");
        let dbg = format!("{:?}", req());
        assert!(!dbg.contains("deadbeef") && !dbg.contains("tok-secret") && !dbg.contains("abc"));
    }

    #[test]
    fn records_redact_only_what_is_secret() {
        let mut r = req();
        r.headers
            .push(("Content-Type".into(), "application/json".into()));
        r.headers.push((
            "X-Sdk-Auth".into(),
            "SDK-HMAC-SHA256 Access=AK, Signature=cafe, Extra=kept".into(),
        ));
        r.sensitive.push(Sensitive::SignatureIn("x-sdk-auth"));
        r.body = r#"{"token":"id-token-secret"}"#.into();
        let rec = r.record(CredentialsUsed::Configured);
        assert_eq!(rec.headers["Content-Type"], "application/json");
        assert_eq!(
            rec.headers["X-Sdk-Auth"],
            "SDK-HMAC-SHA256 Access=AK, Signature=[redacted], Extra=kept"
        );
        assert_eq!(
            rec.body, r#"{"token":"id-token-secret"}"#,
            "the body is not secret here"
        );
        r.sensitive.push(Sensitive::Body);
        assert_eq!(r.record(CredentialsUsed::Configured).body, "[redacted]");
        assert_eq!(redact_signature("no signature here"), "[redacted]");
        // Debug shows what a record shows: the request, without its secrets.
        let dbg = format!("{r:?}");
        assert!(
            dbg.contains("https://h/api?a=1&signature=[redacted]&b=2"),
            "{dbg}"
        );
        assert!(
            dbg.contains("Credential=AKID/2023-11-14") && dbg.contains("POST"),
            "{dbg}"
        );
        assert!(
            !dbg.contains("cafe") && !dbg.contains("id-token-secret"),
            "{dbg}"
        );
    }

    #[test]
    fn snippets_and_retry_after() {
        let raw = |body: Vec<u8>, retry_after: Option<&str>| {
            let mut headers = reqwest::header::HeaderMap::new();
            if let Some(v) = retry_after {
                headers.insert("retry-after", v.parse().unwrap());
            }
            RawResponse {
                status: 429,
                headers,
                body,
                url: String::new(),
            }
        };
        let long: Vec<u8> = (0..1000).map(|i| b'a' + (i % 26) as u8).collect();
        let snip = raw(long.clone(), None).snippet();
        assert_eq!(snip.as_bytes(), &long[..SNIPPET_BYTES]);
        assert_eq!(raw(b"short".to_vec(), None).snippet(), "short");
        assert_eq!(
            raw(vec![], Some("7")).retry_after(),
            Some(Duration::from_secs(7))
        );
        assert_eq!(raw(vec![], Some(" 0 ")).retry_after(), Some(Duration::ZERO));
        assert_eq!(
            raw(vec![], Some("Wed, 21 Oct 2015 07:28:00 GMT")).retry_after(),
            Some(Duration::ZERO),
            "a date in the past: retry now"
        );
        let soon = (chrono::Utc::now() + chrono::Duration::seconds(90)).to_rfc2822();
        let d = raw(vec![], Some(&soon)).retry_after().unwrap();
        assert!(
            (Duration::from_secs(85)..=Duration::from_secs(91)).contains(&d),
            "{d:?}"
        );
        assert_eq!(raw(vec![], Some("soon")).retry_after(), None);
        assert_eq!(raw(vec![], None).retry_after(), None);
    }

    /// A transport against a mock that answers every call with `status`; the parser
    /// reads 503 as a retryable error that may have been applied, 429 as throttling
    /// (retryable, nothing done), anything else as a permanent refusal.
    async fn attempts(safety: RetrySafety, status: u16, retries: u32) -> (usize, Transport) {
        use wiremock::{matchers::any, Mock, MockServer, ResponseTemplate};
        let server = MockServer::start().await;
        Mock::given(any())
            .respond_with(ResponseTemplate::new(status))
            .mount(&server)
            .await;
        let opts = TransportOptions {
            timeout: Duration::from_secs(5),
            retries,
            concurrency: 4,
            rate: Some(1000.0),
        };
        let t = Transport::new(opts, true);
        let api = Api {
            name: "test.Call",
            default_rate: 1000.0,
            safety,
        };
        let url = format!("{}/call?signature=s3cret", server.uri());
        let build = || {
            Ok(HttpRequest {
                method: reqwest::Method::GET,
                url: url.clone(),
                headers: vec![],
                body: String::new(),
                sensitive: vec![Sensitive::QueryParam("signature")],
            })
        };
        let got = t
            .send(&api, build, |raw| match raw.status {
                200 => Ok(()),
                503 => Err(Error::new(ErrorKind::Provider, "busy")
                    .retryable(true)
                    .maybe_applied(true)),
                429 => Err(Error::new(ErrorKind::Throttled, "slow down").retryable(true)),
                _ => Err(Error::new(ErrorKind::Permission, "no")),
            })
            .await;
        assert_eq!(got.is_ok(), status == 200);
        let requests = server.received_requests().await.unwrap();
        for r in &requests {
            let ua = r.headers.get("user-agent").unwrap().to_str().unwrap();
            assert!(ua.starts_with("cloudstop/"), "{ua}");
        }
        (requests.len(), t)
    }

    #[tokio::test]
    async fn retries_follow_the_error_and_the_api_safety() {
        use RetrySafety::*;
        for (safety, status, retries, sent) in [
            (Repeatable, 200, 2, 1),
            (Repeatable, 503, 2, 3),
            (Repeatable, 503, 0, 1),
            (Repeatable, 429, 1, 2),
            (Repeatable, 403, 2, 1),
            // A stop that may have been applied is never sent again blindly...
            (QueryFirst, 503, 2, 1),
            // ...but a throttled one was not executed: it is retried.
            (QueryFirst, 429, 2, 3),
            (QueryFirst, 403, 2, 1),
        ] {
            let (n, t) = attempts(safety, status, retries).await;
            assert_eq!(n, sent, "{safety:?} HTTP {status} with {retries} retries");
            let recorded = t.recorded();
            assert_eq!(recorded.len(), sent);
            assert!(recorded
                .iter()
                .all(|r| r.url.ends_with("/call?signature=[redacted]")));
        }
    }

    #[tokio::test]
    async fn a_pacer_spaces_its_calls() {
        let p = Pacer::new(10.0);
        let start = Instant::now();
        for _ in 0..4 {
            p.wait().await;
        }
        // Three intervals of 1.02/10 s: a lower bound, so a slow machine cannot fail it.
        assert!(
            start.elapsed() >= Duration::from_millis(300),
            "{:?}",
            start.elapsed()
        );
    }

    #[test]
    fn endpoints_and_hosts() {
        assert_eq!(
            host_header("https://batch.tencentcloudapi.com/").unwrap(),
            "batch.tencentcloudapi.com"
        );
        assert_eq!(
            host_header("http://127.0.0.1:8080/v1/x").unwrap(),
            "127.0.0.1:8080"
        );
        assert_eq!(host_header("https://h:443/").unwrap(), "h");
        assert_eq!(host_header("http://[::1]:9/").unwrap(), "[::1]:9");
        assert_eq!(
            base_url("batch.tencentcloudapi.com", "x").unwrap(),
            "https://batch.tencentcloudapi.com"
        );
        assert_eq!(
            base_url("http://127.0.0.1:9/prefix/", "x").unwrap(),
            "http://127.0.0.1:9/prefix"
        );
        for bad in [
            "ftp://x",
            "http://",
            "http://h/?a=1",
            "http://h/#f",
            "https://exa mple.com",
        ] {
            let e = base_url(bad, "https://example.com").unwrap_err();
            assert!(
                e.message.contains("https://example.com"),
                "{bad}: {}",
                e.message
            );
        }
    }

    /// Full jitter both ways: never above min(cap, base·2^n), and spread across that
    /// whole range — a backoff stuck at zero or at its ceiling fails.
    #[test]
    fn backoff_grows_with_full_jitter() {
        for attempt in 0..8u32 {
            let ceiling = BACKOFF_BASE.saturating_mul(1 << attempt).min(BACKOFF_CAP);
            let samples: Vec<Duration> = (0..400).map(|_| backoff(attempt)).collect();
            let max = *samples.iter().max().unwrap();
            let min = *samples.iter().min().unwrap();
            assert!(max <= ceiling, "attempt {attempt}: {max:?} > {ceiling:?}");
            // 400 uniform draws: the chance that none lands in the top or bottom
            // quarter is 0.75^400 (about 1e-50).
            assert!(
                max >= ceiling * 3 / 4,
                "attempt {attempt}: max {max:?} of {ceiling:?}"
            );
            assert!(
                min <= ceiling / 4,
                "attempt {attempt}: min {min:?} of {ceiling:?}"
            );
            let mean = samples.iter().sum::<Duration>() / samples.len() as u32;
            assert!(
                mean >= ceiling * 2 / 5 && mean <= ceiling * 3 / 5,
                "attempt {attempt}: mean {mean:?} of {ceiling:?}"
            );
        }
        // The ceiling doubles, then stops at the cap.
        let top = |a| (0..400).map(|_| backoff(a)).max().unwrap();
        assert!(top(3) > top(1));
        assert!(top(30) <= BACKOFF_CAP && top(30) >= BACKOFF_CAP * 3 / 4);
    }

    #[test]
    fn backoff_stays_under_its_ceiling() {
        for attempt in 0..40 {
            let d = backoff(attempt);
            assert!(d <= BACKOFF_CAP);
            if attempt == 0 {
                assert!(d <= BACKOFF_BASE);
            }
        }
    }

    #[test]
    fn non_json_is_an_error_with_status_and_snippet() {
        let raw = RawResponse {
            status: 502,
            headers: Default::default(),
            body: b"<html>bad gateway</html>".repeat(50),
            url: "https://h/api/x".into(),
        };
        let e = raw.json::<serde_json::Value>().unwrap_err();
        assert!(e.message.contains("HTTP 502 from https://h/api/x"));
        assert!(e.retryable);
        assert!(e.message.len() < 400);
    }

    fn answer(status: u16, body: &str) -> RawResponse {
        RawResponse {
            status,
            body: body.as_bytes().to_vec(),
            url: display_url("https://u:p@h:8443/api/api/job/stopJobs?a=1&signature=abc"),
            ..Default::default()
        }
    }

    #[test]
    fn a_bare_404_is_a_provider_failure_naming_the_url_never_not_found() {
        for body in ["", "<html>Not Found</html>", r#"{"message":"no route"}"#] {
            let e = answer(404, body).http_error();
            assert_eq!(e.kind, ErrorKind::Provider, "{body}");
            assert_eq!(e.code.as_deref(), Some("HTTP 404"));
            assert!(!e.retryable && !e.maybe_applied);
            assert!(
                e.message
                    .contains("from https://h:8443/api/api/job/stopJobs (no such API"),
                "{}",
                e.message
            );
            for secret in ["signature", "abc", "u:p", "a=1"] {
                assert!(!e.message.contains(secret), "{}", e.message);
            }
        }
        let kinds: Vec<ErrorKind> = [401, 403, 400, 409, 429, 500, 503]
            .into_iter()
            .map(|s| answer(s, "").http_error().kind)
            .collect();
        use ErrorKind::*;
        assert_eq!(
            kinds,
            [Auth, Permission, Provider, Provider, Throttled, Provider, Provider]
        );
        assert!(answer(503, "").http_error().maybe_applied);
        assert!(!answer(429, "").http_error().maybe_applied);
    }

    #[test]
    fn userinfo_is_redacted_everywhere_it_could_show() {
        assert_eq!(
            redact_userinfo("https://user:pa%40ss@proxy.example:8443/gw?x=@y"),
            "https://[redacted]@proxy.example:8443/gw?x=@y"
        );
        assert_eq!(redact_userinfo("https://h/p?u=a@b"), "https://h/p?u=a@b");
        assert_eq!(redact_userinfo("no-scheme@host"), "no-scheme@host");
        assert_eq!(
            display_url("http://user:secret@127.0.0.1:9/pre/fix?signature=s"),
            "http://127.0.0.1:9/pre/fix"
        );
        assert_eq!(display_url("not a url?q=1"), "not a url");
        let mut r = req();
        r.url = "https://user:secret@h/api?signature=abc".into();
        let rec = r.record(CredentialsUsed::Configured);
        assert_eq!(rec.url, "https://[redacted]@h/api?signature=[redacted]");
        assert!(!format!("{r:?}").contains("secret"));
        let e = base_url("https://user:secret@exa mple.com", "https://x").unwrap_err();
        assert!(!e.message.contains("secret"), "{}", e.message);
    }
}
