//! Typed errors of the registry client. Every variant names its registry (and
//! blob, reference or file) so a message stands on its own.

use std::path::PathBuf;

use strata_store::{ErrorKind, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// The connection failed or broke (refused, reset, TLS, timeout, truncated body).
    #[error("{method} \"{url}\": {reason}")]
    Transport { method: &'static str, url: String, reason: String, retryable: bool },
    /// The registry refused the credentials (or needs some and none were given).
    #[error("{registry}: unauthorized: {message}")]
    Unauthorized { registry: String, message: String },
    /// `login` was refused.
    #[error("login to {registry} failed: {reason}")]
    LoginFailed { registry: String, reason: String },
    /// Docker's message for a repository one may not read.
    #[error("pull access denied for {repository}, repository does not exist or may require 'strata login': {message}")]
    PullDenied { repository: String, message: String },
    #[error("push access denied for {repository} at {registry}: {message}")]
    PushDenied { registry: String, repository: String, message: String },
    #[error("manifest for {reference} not found: manifest unknown: {message}")]
    ManifestUnknown { reference: String, message: String },
    /// An error response in the distribution spec's shape (`{"errors":[{code,message}]}`).
    #[error("{registry}: {what}: {status} {code}: {message}")]
    Api { registry: String, what: String, status: u16, code: String, message: String },
    /// A response that breaks the protocol (bad JSON, missing header, wrong size).
    #[error("{registry}: {what}: {reason}")]
    Protocol { registry: String, what: String, reason: String },
    #[error("{registry}: digest mismatch for {what}: expected {expected}, got {actual}")]
    DigestMismatch { registry: String, what: String, expected: String, actual: String },
    #[error("no matching manifest for {platform} in the manifest list entries of {reference}")]
    NoMatchingPlatform { reference: String, platform: String },
    #[error("{what} is not supported: {reason}")]
    Unsupported { what: String, reason: String },
    #[error("{what}: {reason}")]
    Invalid { what: String, reason: String },
    /// Docker's config.json or a credential helper failed.
    #[error("credentials for {registry}: {reason}")]
    Credentials { registry: String, reason: String },
    #[error("TLS configuration: {}: {reason}", path.display())]
    Tls { path: PathBuf, reason: String },
    #[error("{op} {}: {source}", path.display())]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Cancelled(String),
}

impl RegistryError {
    /// The engine's error kind, for the CLI's messages and exit codes.
    pub fn kind(&self) -> ErrorKind {
        use RegistryError::*;
        match self {
            Transport { .. } | Io { .. } | Cancelled(_) => ErrorKind::Io,
            Unauthorized { .. } | LoginFailed { .. } | PullDenied { .. } | PushDenied { .. } => {
                ErrorKind::InvalidArgument
            }
            ManifestUnknown { .. } | NoMatchingPlatform { .. } => ErrorKind::NotFound,
            Api { status, .. } if *status == 404 => ErrorKind::NotFound,
            Api { .. } | Protocol { .. } => ErrorKind::Io,
            DigestMismatch { .. } => ErrorKind::Corrupt,
            Unsupported { .. } => ErrorKind::Unsupported,
            Invalid { .. } | Credentials { .. } | Tls { .. } => ErrorKind::InvalidArgument,
            Store(e) => e.kind(),
        }
    }

    /// Worth another try after a pause (connection trouble, a 5xx, a 429).
    pub fn is_retryable(&self) -> bool {
        match self {
            RegistryError::Transport { retryable, .. } => *retryable,
            RegistryError::Api { status, .. } => *status >= 500 || *status == 429,
            _ => false,
        }
    }

    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        RegistryError::Io { op, path: path.into(), source }
    }

    pub(crate) fn invalid(what: impl Into<String>, reason: impl Into<String>) -> Self {
        RegistryError::Invalid { what: what.into(), reason: reason.into() }
    }

    pub(crate) fn protocol(registry: &str, what: impl Into<String>, reason: impl Into<String>) -> Self {
        RegistryError::Protocol { registry: registry.to_string(), what: what.into(), reason: reason.into() }
    }

    /// A transport error from ureq, with whether a retry may help.
    pub(crate) fn transport(method: &'static str, url: &str, e: ureq::Error) -> Self {
        let retryable = matches!(
            e,
            ureq::Error::Io(_)
                | ureq::Error::Timeout(_)
                | ureq::Error::ConnectionFailed
                | ureq::Error::Protocol(_)
                | ureq::Error::HostNotFound
        );
        let mut reason = describe_ureq(&e);
        if reason.contains("certificate") {
            reason.push_str(
                " (to trust the registry's CA, put it in /etc/docker/certs.d/<host:port>/ca.crt or pass --tls-ca FILE)",
            );
        }
        RegistryError::Transport { method, url: url.to_string(), reason, retryable }
    }
}

/// ureq's errors in words a user can act on.
pub(crate) fn describe_ureq(e: &ureq::Error) -> String {
    match e {
        ureq::Error::Io(io) => io.to_string(),
        ureq::Error::Rustls(tls) => format!("tls: {tls}"),
        ureq::Error::Timeout(t) => format!("timed out ({t:?})"),
        other => other.to_string(),
    }
}

pub type Result<T, E = RegistryError> = std::result::Result<T, E>;
