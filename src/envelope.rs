//! The result envelope of SPEC.md and the one function that turns it into an exit code.

use crate::error::{Error, ErrorKind};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Exit codes (SPEC "Exit codes").
pub mod exit {
    pub const OK: u8 = 0;
    pub const FAILED: u8 = 1;
    pub const USAGE: u8 = 2;
    pub const CREDENTIALS: u8 = 3;
    pub const NOT_FOUND: u8 = 4;
    pub const TRANSIENT: u8 = 5;
    pub const WAIT_TIMEOUT: u8 = 6;
    pub const INTERRUPTED: u8 = 130;
}

/// With several kinds of failure the first of this list wins (SPEC: 3, 1, 5, 6, 4).
/// A usage error found by the provider in one result ranks just below credentials.
const PRECEDENCE: [u8; 6] = [
    exit::CREDENTIALS,
    exit::USAGE,
    exit::FAILED,
    exit::TRANSIENT,
    exit::WAIT_TIMEOUT,
    exit::NOT_FOUND,
];

/// A result's state (SPEC `status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Accepted,
    Stopping,
    Stopped,
    Deleting,
    Deleted,
    AlreadyStopped,
    NotFound,
    Failed,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Accepted => "accepted",
            Status::Stopping => "stopping",
            Status::Stopped => "stopped",
            Status::Deleting => "deleting",
            Status::Deleted => "deleted",
            Status::AlreadyStopped => "already_stopped",
            Status::NotFound => "not_found",
            Status::Failed => "failed",
        }
    }
}

/// SPEC's `error` object, per result and top level.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ErrorInfo {
    pub kind: ErrorKind,
    pub code: Option<String>,
    pub message: String,
    pub retryable: bool,
}

impl From<&Error> for ErrorInfo {
    fn from(e: &Error) -> Self {
        ErrorInfo {
            kind: e.kind,
            code: e.code.clone(),
            message: e.message.clone(),
            retryable: e.retryable,
        }
    }
}

impl From<Error> for ErrorInfo {
    fn from(e: Error) -> Self {
        ErrorInfo::from(&e)
    }
}

/// One requested resource's outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ResultItem {
    pub id: String,
    pub ok: bool,
    pub status: Status,
    pub request_id: Option<String>,
    pub provider_job_id: Option<String>,
    pub error: Option<ErrorInfo>,
    /// The resource's name, for a result selected by `--tag`/`--name` (absent with ids).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The provider's own state word when it was selected (absent with ids).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_before: Option<String>,
    /// Where it is (`{"region": "ap-shanghai"}`), when several locations were asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<BTreeMap<String, String>>,
}

impl ResultItem {
    /// A result in `status`; `ok` is settled by [`ResultItem::settle`].
    pub fn new(id: impl Into<String>, status: Status) -> Self {
        ResultItem {
            id: id.into(),
            ok: false,
            status,
            request_id: None,
            provider_job_id: None,
            error: None,
            name: None,
            state_before: None,
            location: None,
        }
    }

    /// A result that failed with `error`: `not_found` for a missing resource, else `failed`.
    pub fn failed(id: impl Into<String>, error: &Error) -> Self {
        let status = if error.kind == ErrorKind::NotFound {
            Status::NotFound
        } else {
            Status::Failed
        };
        ResultItem::new(id, status)
            .with_error(error)
            .with_request_id(error.request_id.clone())
    }

    pub fn with_error(mut self, error: &Error) -> Self {
        self.error = Some(error.into());
        self
    }

    pub fn with_request_id(mut self, request_id: Option<String>) -> Self {
        self.request_id = request_id;
        self
    }

    pub fn with_job_id(mut self, job_id: Option<String>) -> Self {
        self.provider_job_id = job_id;
        self
    }

    /// Settles `ok` (SPEC): the goal state holds, or the resource is missing and
    /// `--ignore-missing` was given. An ok result carries no error.
    pub fn settle(&mut self, ignore_missing: bool) {
        self.ok = match self.status {
            Status::Failed => false,
            Status::NotFound => ignore_missing,
            _ => self.error.is_none(),
        };
        if self.ok {
            self.error = None;
        }
    }

    /// The exit code this result alone asks for.
    pub fn exit_code(&self) -> u8 {
        if self.ok {
            return exit::OK;
        }
        if self.status == Status::NotFound {
            return exit::NOT_FOUND;
        }
        match &self.error {
            // Still on its way to the goal state when `--wait` ran out of time.
            Some(e) if e.kind == ErrorKind::Timeout && self.status != Status::Failed => {
                exit::WAIT_TIMEOUT
            }
            Some(e) => error_exit_code(e),
            None => exit::FAILED,
        }
    }
}

/// The exit code an error asks for, by kind.
pub fn error_exit_code(e: &ErrorInfo) -> u8 {
    match e.kind {
        ErrorKind::Usage => exit::USAGE,
        ErrorKind::Config | ErrorKind::Auth | ErrorKind::Permission => exit::CREDENTIALS,
        ErrorKind::NotFound => exit::NOT_FOUND,
        ErrorKind::Throttled | ErrorKind::Network | ErrorKind::Timeout => exit::TRANSIENT,
        ErrorKind::Provider | ErrorKind::Internal if e.retryable => exit::TRANSIENT,
        ErrorKind::Provider | ErrorKind::Internal => exit::FAILED,
    }
}

/// The winning code among several (SPEC's precedence); 0 when all are 0.
///
/// ```
/// use cloudstop::envelope::combine_exit_codes;
/// // Credentials beat failures, which beat transient errors, wait timeouts, not-found.
/// assert_eq!(combine_exit_codes([4, 6, 5, 1, 3]), 3);
/// assert_eq!(combine_exit_codes([4, 6, 5]), 5);
/// assert_eq!(combine_exit_codes([4, 0]), 4);
/// assert_eq!(combine_exit_codes([0, 0]), 0);
/// ```
pub fn combine_exit_codes(codes: impl IntoIterator<Item = u8>) -> u8 {
    let mut best: Option<usize> = None;
    let mut other = exit::OK;
    for code in codes {
        match PRECEDENCE.iter().position(|&c| c == code) {
            Some(rank) => best = Some(best.map_or(rank, |b| b.min(rank))),
            None if code != exit::OK => other = code,
            None => {}
        }
    }
    best.map_or(other, |rank| PRECEDENCE[rank])
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Summary {
    pub requested: usize,
    pub succeeded: usize,
    pub failed: usize,
}

/// Whether a shown request was signed with the user's credentials or a placeholder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CredentialsUsed {
    Configured,
    Placeholder,
}

/// A request as shown in `requests` (`--dry-run`, `-vvv`): secrets redacted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RequestRecord {
    pub method: String,
    pub url: String,
    pub headers: BTreeMap<String, String>,
    pub body: String,
    pub credentials: CredentialsUsed,
}

/// What `--tag`/`--name`/`--state` selected (SPEC "Selecting by tag, name and state").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Selection {
    /// `--tag` key → value (`null`: any value; a QingCloud tag name is a key).
    pub tags: BTreeMap<String, Option<String>>,
    pub names: Vec<String>,
    pub states: Vec<String>,
    pub matched: usize,
    /// Every match, ordered by (location, id), also when `--max-matches` refused them.
    pub matched_ids: Vec<String>,
    pub max_matches: usize,
}

/// A location that failed as a whole (several locations asked for).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct LocationFailed {
    pub location: BTreeMap<String, String>,
    pub error: ErrorInfo,
}

/// The one JSON document printed on stdout.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Envelope {
    pub version: u32,
    pub ok: bool,
    pub provider: String,
    pub operation: String,
    /// `{"region": "…"}`; with several locations `{"regions": [...]}` / `{"zones": [...]}`.
    pub location: BTreeMap<String, serde_json::Value>,
    /// Present (possibly empty) only when several locations were asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locations_failed: Option<Vec<LocationFailed>>,
    pub dry_run: bool,
    /// `null` when ids were given.
    pub selection: Option<Selection>,
    pub results: Vec<ResultItem>,
    pub summary: Summary,
    pub requests: Vec<RequestRecord>,
    pub error: Option<ErrorInfo>,
    pub elapsed_ms: u64,
}

impl Envelope {
    /// Builds the envelope: settles every result, counts them and sets `ok`.
    #[allow(clippy::too_many_arguments)]
    pub fn build(
        provider: &str,
        operation: &str,
        location: BTreeMap<String, String>,
        dry_run: bool,
        mut results: Vec<ResultItem>,
        requests: Vec<RequestRecord>,
        error: Option<ErrorInfo>,
        ignore_missing: bool,
        elapsed_ms: u64,
    ) -> Envelope {
        for r in &mut results {
            r.settle(ignore_missing);
        }
        let succeeded = results.iter().filter(|r| r.ok).count();
        let summary = Summary {
            requested: results.len(),
            succeeded,
            failed: results.len() - succeeded,
        };
        let mut env = Envelope {
            version: 1,
            ok: false,
            provider: provider.to_string(),
            operation: operation.to_string(),
            location: location
                .into_iter()
                .map(|(k, v)| (k, serde_json::Value::String(v)))
                .collect(),
            locations_failed: None,
            dry_run,
            selection: None,
            results,
            summary,
            requests,
            error,
            elapsed_ms,
        };
        env.ok = env.exit_code() == exit::OK;
        env
    }

    /// Sets `selection` (a run with selectors).
    pub fn with_selection(mut self, selection: Option<Selection>) -> Envelope {
        self.selection = selection;
        self
    }

    /// Several locations: the top-level `location` lists those tried (`key` is
    /// `regions` or `zones`), and each failed one is an entry of `locations_failed`,
    /// counted in the exit code.
    pub fn with_locations(
        mut self,
        key: &str,
        tried: Vec<String>,
        failed: Vec<LocationFailed>,
    ) -> Envelope {
        self.location = BTreeMap::from([(key.to_string(), serde_json::json!(tried))]);
        self.locations_failed = Some(failed);
        self.ok = self.exit_code() == exit::OK;
        self
    }

    /// The process exit code for this envelope (SPEC precedence 3, 1, 5, 6, 4).
    pub fn exit_code(&self) -> u8 {
        let top = self.error.as_ref().map(error_exit_code);
        let places = self.locations_failed.iter().flatten();
        combine_exit_codes(
            top.into_iter()
                .chain(places.map(|f| error_exit_code(&f.error)))
                .chain(self.results.iter().map(ResultItem::exit_code)),
        )
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("the envelope always serialises")
    }
}

/// Every error kind as it appears in JSON, in SPEC order.
const ERROR_KINDS: [ErrorKind; 10] = [
    ErrorKind::Usage,
    ErrorKind::Config,
    ErrorKind::Auth,
    ErrorKind::Permission,
    ErrorKind::NotFound,
    ErrorKind::Throttled,
    ErrorKind::Network,
    ErrorKind::Timeout,
    ErrorKind::Provider,
    ErrorKind::Internal,
];

// `ErrorKind` lives in error.rs, which knows nothing of schemas: its schema is here,
// next to the envelope that carries it (a unit test checks it against serde).
impl JsonSchema for ErrorKind {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "ErrorKind".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let kinds: Vec<&str> = ERROR_KINDS.iter().map(|k| k.as_str()).collect();
        schemars::json_schema!({
            "description": "What kind of failure this is (SPEC `kind`).",
            "type": "string",
            "enum": kinds,
        })
    }
}

/// The JSON Schema of the envelope, as committed in `docs/envelope.schema.json`.
///
/// Generated from the Rust types, then made strict the way the envelope is printed:
/// every property is always present (`null` when empty) and no other property appears.
#[allow(dead_code)] // used by the test that keeps docs/envelope.schema.json current
pub fn json_schema() -> String {
    let schema = schemars::generate::SchemaSettings::draft2020_12()
        .into_generator()
        .into_root_schema_for::<Envelope>();
    let mut value = schema.to_value();
    // SPEC: this is version 1 of the envelope; a change of shape is a new version.
    value["properties"]["version"]["const"] = 1.into();
    make_strict(&mut value, "Envelope");
    let mut text = serde_json::to_string_pretty(&value).expect("a schema serialises");
    text.push('\n');
    text
}

/// Properties printed only when they have a value, per schema: the envelope's own
/// (`locations_failed`) and a result's (`name`, `state_before`, `location`).
const OPTIONAL_FIELDS: [(&str, &str); 4] = [
    ("Envelope", "locations_failed"),
    ("ResultItem", "name"),
    ("ResultItem", "state_before"),
    ("ResultItem", "location"),
];

/// Every object schema: all properties required (but [`OPTIONAL_FIELDS`]), nothing
/// else allowed.
fn make_strict(v: &mut serde_json::Value, name: &str) {
    match v {
        serde_json::Value::Object(map) => {
            let keys: Option<Vec<serde_json::Value>> = map
                .get("properties")
                .and_then(|p| p.as_object())
                .map(|p| p.keys().cloned().map(Into::into).collect());
            // `location` and `headers` are maps: their schema has no `properties`.
            // Fields printed only when set (`name`, `state_before`) stay optional.
            let keys = keys.map(|k| {
                k.into_iter()
                    .filter(|key| {
                        !OPTIONAL_FIELDS
                            .iter()
                            .any(|(def, field)| *def == name && key == field)
                    })
                    .collect::<Vec<_>>()
            });
            if let Some(keys) = keys {
                map.insert("required".into(), keys.into());
                map.insert("additionalProperties".into(), false.into());
            }
            for (key, child) in map.iter_mut() {
                if key == "$defs" {
                    if let Some(defs) = child.as_object_mut() {
                        for (def, schema) in defs.iter_mut() {
                            make_strict(schema, def);
                        }
                    }
                } else {
                    make_strict(child, "");
                }
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(|i| make_strict(i, "")),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(kind: ErrorKind, retryable: bool) -> Error {
        Error::new(kind, "x").retryable(retryable)
    }

    fn env_of(results: Vec<ResultItem>, ignore_missing: bool) -> Envelope {
        Envelope::build(
            "tencent",
            "job.stop",
            BTreeMap::new(),
            false,
            results,
            vec![],
            None,
            ignore_missing,
            1,
        )
    }

    #[test]
    fn precedence_is_3_1_5_6_4() {
        assert_eq!(combine_exit_codes([4, 6, 5, 1, 3]), 3);
        assert_eq!(combine_exit_codes([4, 6, 5, 1]), 1);
        assert_eq!(combine_exit_codes([4, 6, 5]), 5);
        assert_eq!(combine_exit_codes([4, 6]), 6);
        assert_eq!(combine_exit_codes([4, 0]), 4);
        assert_eq!(combine_exit_codes([0, 0]), 0);
        assert_eq!(combine_exit_codes([]), 0);
        assert_eq!(combine_exit_codes([130, 4]), 4);
    }

    #[test]
    fn not_found_is_ok_only_with_ignore_missing() {
        let nf = ResultItem::failed("job-aaaaaaaa", &err(ErrorKind::NotFound, false));
        let e = env_of(vec![nf.clone()], false);
        assert_eq!(e.exit_code(), 4);
        assert!(!e.ok);
        assert!(e.results[0].error.is_some());
        let e = env_of(vec![nf], true);
        assert_eq!(e.exit_code(), 0);
        assert!(e.ok && e.results[0].ok);
        assert_eq!(e.results[0].status, Status::NotFound);
        assert!(e.results[0].error.is_none());
    }

    #[test]
    fn mixed_outcomes_follow_precedence() {
        let results = vec![
            ResultItem::new("a", Status::Stopping),
            ResultItem::failed("b", &err(ErrorKind::NotFound, false)),
            ResultItem::failed("c", &err(ErrorKind::Throttled, true)),
            ResultItem::failed("d", &err(ErrorKind::Provider, false)),
        ];
        let e = env_of(results, false);
        assert_eq!(e.exit_code(), 1);
        assert_eq!(
            e.summary,
            Summary {
                requested: 4,
                succeeded: 1,
                failed: 3
            }
        );
    }

    #[test]
    fn wait_timeout_is_6_and_request_timeout_is_5() {
        let waiting =
            ResultItem::new("a", Status::Stopping).with_error(&err(ErrorKind::Timeout, true));
        assert_eq!(env_of(vec![waiting], false).exit_code(), 6);
        let timed_out = ResultItem::failed("a", &err(ErrorKind::Timeout, true));
        assert_eq!(env_of(vec![timed_out], false).exit_code(), 5);
    }

    #[test]
    fn kinds_map_to_exit_codes() {
        for (kind, retryable, code) in [
            (ErrorKind::Usage, false, 2),
            (ErrorKind::Config, false, 3),
            (ErrorKind::Auth, false, 3),
            (ErrorKind::Permission, false, 3),
            (ErrorKind::NotFound, false, 4),
            (ErrorKind::Throttled, true, 5),
            (ErrorKind::Network, true, 5),
            (ErrorKind::Provider, true, 5),
            (ErrorKind::Provider, false, 1),
            (ErrorKind::Internal, false, 1),
        ] {
            let info = ErrorInfo::from(err(kind, retryable));
            assert_eq!(error_exit_code(&info), code, "{kind:?}");
        }
    }

    #[test]
    fn already_stopped_is_ok() {
        let e = env_of(vec![ResultItem::new("a", Status::AlreadyStopped)], false);
        assert!(e.ok);
        assert_eq!(e.exit_code(), 0);
    }

    #[test]
    fn envelope_shape_snapshot() {
        let item = ResultItem::new("job-rybewp57", Status::Stopping)
            .with_request_id(Some("970e5a9f-2963-436c-8dad-4847360676f7".into()));
        let mut loc = BTreeMap::new();
        loc.insert("region".to_string(), "ap-guangzhou".to_string());
        let e = Envelope::build(
            "tencent",
            "job.stop",
            loc,
            false,
            vec![item],
            vec![],
            None,
            false,
            182,
        );
        insta::assert_snapshot!(e.to_json());
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        fn kind() -> impl Strategy<Value = ErrorKind> {
            prop_oneof![
                Just(ErrorKind::Usage),
                Just(ErrorKind::Config),
                Just(ErrorKind::Auth),
                Just(ErrorKind::Permission),
                Just(ErrorKind::NotFound),
                Just(ErrorKind::Throttled),
                Just(ErrorKind::Network),
                Just(ErrorKind::Timeout),
                Just(ErrorKind::Provider),
                Just(ErrorKind::Internal),
            ]
        }

        fn status() -> impl Strategy<Value = Status> {
            prop_oneof![
                Just(Status::Accepted),
                Just(Status::Stopping),
                Just(Status::Stopped),
                Just(Status::Deleting),
                Just(Status::Deleted),
                Just(Status::AlreadyStopped),
                Just(Status::NotFound),
                Just(Status::Failed),
            ]
        }

        fn item() -> impl Strategy<Value = ResultItem> {
            (
                "[a-z0-9-]{1,20}",
                status(),
                proptest::option::of("\\PC{0,30}"),
                proptest::option::of("[a-z0-9]{1,32}"),
                proptest::option::of((
                    kind(),
                    proptest::option::of("\\PC{0,20}"),
                    "\\PC{0,40}",
                    any::<bool>(),
                )),
            )
                .prop_map(|(id, status, rid, job, err)| {
                    let mut r = ResultItem::new(id, status)
                        .with_request_id(rid)
                        .with_job_id(job);
                    r.error = err.map(|(kind, code, message, retryable)| ErrorInfo {
                        kind,
                        code,
                        message,
                        retryable,
                    });
                    r
                })
        }

        proptest! {
            #[test]
            fn envelope_json_round_trips(items in proptest::collection::vec(item(), 0..20), ignore in any::<bool>(), dry in any::<bool>()) {
                let e = Envelope::build("huawei", "server.stop", BTreeMap::new(), dry, items, vec![], None, ignore, 7);
                let back: Envelope = serde_json::from_str(&e.to_json()).unwrap();
                prop_assert_eq!(&back, &e);
                prop_assert_eq!(e.summary.requested, e.summary.succeeded + e.summary.failed);
                prop_assert_eq!(e.ok, e.exit_code() == 0);
                // An ok result never carries an error.
                prop_assert!(e.results.iter().all(|r| !r.ok || r.error.is_none()));
            }

            #[test]
            fn precedence_picks_the_first_of_3_2_1_5_6_4(codes in proptest::collection::vec(prop_oneof![Just(0u8), Just(1), Just(2), Just(3), Just(4), Just(5), Just(6)], 0..12)) {
                let got = combine_exit_codes(codes.clone());
                let want = [3u8, 2, 1, 5, 6, 4].into_iter().find(|c| codes.contains(c)).unwrap_or(0);
                prop_assert_eq!(got, want);
                let mut rev = codes.clone();
                rev.reverse();
                prop_assert_eq!(combine_exit_codes(rev), got);
            }
        }
    }

    #[test]
    fn error_kind_schema_matches_serde() {
        for k in ERROR_KINDS {
            assert_eq!(serde_json::to_value(k).unwrap(), k.as_str());
        }
    }

    /// `docs/envelope.schema.json` is what the types generate; `UPDATE_SCHEMA=1`
    /// rewrites it.
    #[test]
    fn committed_schema_is_current() {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/envelope.schema.json");
        let generated = json_schema();
        if std::env::var_os("UPDATE_SCHEMA").is_some() {
            std::fs::write(&path, &generated).unwrap();
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == generated,
            "{} is out of date: run UPDATE_SCHEMA=1 cargo test committed_schema_is_current",
            path.display()
        );
    }

    #[test]
    fn envelopes_validate_against_the_schema() {
        let schema: serde_json::Value = serde_json::from_str(&json_schema()).unwrap();
        let validator = jsonschema::validator_for(&schema).unwrap();
        let failing = ResultItem::failed("job-bbbbbbbb", &err(ErrorKind::Provider, false));
        let e = env_of(vec![ResultItem::new("a", Status::Stopped), failing], false);
        let v: serde_json::Value = serde_json::from_str(&e.to_json()).unwrap();
        assert!(validator.is_valid(&v));
        let mut bad = v.clone();
        bad["results"][0]["status"] = "gone".into();
        assert!(!validator.is_valid(&bad));
        let mut extra = v;
        extra["extra"] = 1.into();
        assert!(!validator.is_valid(&extra));

        // A run with selectors: `selection`, and `name`/`state_before` on results.
        let mut selected = ResultItem::new("ins-aaaaaaa1", Status::AlreadyStopped);
        selected.name = Some("ci-1".into());
        selected.state_before = Some("STOPPED".into());
        let mut tags = BTreeMap::new();
        tags.insert("env".to_string(), Some("dev".to_string()));
        tags.insert("owner".to_string(), None);
        let e = env_of(vec![selected], false).with_selection(Some(Selection {
            tags,
            names: vec!["ci-*".into()],
            states: vec![],
            matched: 1,
            matched_ids: vec!["ins-aaaaaaa1".into()],
            max_matches: 20,
        }));
        let v: serde_json::Value = serde_json::from_str(&e.to_json()).unwrap();
        assert_eq!(v["results"][0]["state_before"], "STOPPED");
        assert!(validator.is_valid(&v), "{v}");
        let mut no_selection_key = v.clone();
        no_selection_key
            .as_object_mut()
            .unwrap()
            .remove("selection");
        assert!(!validator.is_valid(&no_selection_key));
        let back: Envelope = serde_json::from_value(v).unwrap();
        assert_eq!(back, e);

        // Several locations: `location` lists them, `locations_failed` counts.
        let mut placed = ResultItem::new("ins-aaaaaaa1", Status::Stopping);
        placed.location = Some(BTreeMap::from([("region".into(), "ap-shanghai".into())]));
        let failed = LocationFailed {
            location: BTreeMap::from([("region".into(), "ap-beijing".into())]),
            error: ErrorInfo::from(err(ErrorKind::Auth, false)),
        };
        let e = env_of(vec![placed], false).with_locations(
            "regions",
            vec!["ap-shanghai".into(), "ap-beijing".into()],
            vec![failed],
        );
        assert_eq!(e.exit_code(), 3);
        assert!(!e.ok);
        let v: serde_json::Value = serde_json::from_str(&e.to_json()).unwrap();
        assert_eq!(v["location"]["regions"][1], "ap-beijing");
        assert!(validator.is_valid(&v), "{v}");
        let ok = env_of(vec![], false).with_locations("zones", vec!["pek3a".into()], vec![]);
        assert!(ok.ok && ok.exit_code() == 0);
    }

    #[test]
    fn a_failed_result_is_never_ok_even_without_an_error() {
        let mut r = ResultItem::new("a", Status::Failed);
        r.settle(true);
        assert!(!r.ok);
        assert_eq!(r.exit_code(), exit::FAILED);
    }

    #[test]
    fn codes_outside_the_precedence_survive_zeros_around_them() {
        assert_eq!(
            combine_exit_codes([exit::INTERRUPTED, 0]),
            exit::INTERRUPTED
        );
        assert_eq!(
            combine_exit_codes([0, exit::INTERRUPTED, 0]),
            exit::INTERRUPTED
        );
    }
}
