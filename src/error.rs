//! The crate's error type: one of SPEC's few error kinds, the provider's own code
//! where there is one, and the two facts the transport needs to decide on a retry.
//!
//! Providers keep their code tables private and turn each answer into an [`Error`]
//! in one place; nothing outside a provider matches on provider codes.

use serde::{Deserialize, Serialize};
use std::time::Duration;

/// SPEC's `error.kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    Usage,
    Config,
    Auth,
    Permission,
    NotFound,
    Throttled,
    Network,
    Timeout,
    Provider,
    Internal,
}

impl ErrorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Usage => "usage",
            ErrorKind::Config => "config",
            ErrorKind::Auth => "auth",
            ErrorKind::Permission => "permission",
            ErrorKind::NotFound => "not_found",
            ErrorKind::Throttled => "throttled",
            ErrorKind::Network => "network",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Provider => "provider",
            ErrorKind::Internal => "internal",
        }
    }
}

/// A failure of the whole command or of one call.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct Error {
    pub kind: ErrorKind,
    /// The provider's own code (`ResourceNotFound.Job`, `Ecs.0114`, `ret_code 1300`).
    pub code: Option<String>,
    pub message: String,
    /// Trying again later may succeed (throttling, network, 5xx, internal errors).
    pub retryable: bool,
    /// The attempt may have been carried out before it failed (a timeout or a reset
    /// after the request was sent, a 5xx): a call that is not safe to repeat must
    /// query the state before it is sent again.
    pub maybe_applied: bool,
    /// The server's `Retry-After`, when it sent one.
    pub retry_after: Option<Duration>,
}

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            kind,
            code: None,
            message: message.into(),
            retryable: false,
            maybe_applied: false,
            retry_after: None,
        }
    }

    pub fn usage(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Usage, message)
    }

    pub fn config(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Config, message)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Internal, message)
    }

    pub fn with_code(mut self, code: impl Into<String>) -> Self {
        self.code = Some(code.into());
        self
    }

    pub fn retryable(mut self, retryable: bool) -> Self {
        self.retryable = retryable;
        self
    }

    pub fn maybe_applied(mut self, maybe_applied: bool) -> Self {
        self.maybe_applied = maybe_applied;
        self
    }

    pub fn retry_after(mut self, after: Option<Duration>) -> Self {
        self.retry_after = after;
        self
    }
}

#[allow(dead_code)] // for providers to come
pub type Result<T, E = Error> = std::result::Result<T, E>;
