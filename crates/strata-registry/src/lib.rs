//! strata's registry client: pull and push images, move volumes between hosts
//! through a registry, and log in, over the OCI distribution protocol.
//!
//! ```text
//! lib.rs        login / logout, re-exports
//! config.rs     endpoints: docker.io → registry-1.docker.io, insecure hosts, CAs (certs.d)
//! auth.rs       Docker's config.json and credential helpers; WWW-Authenticate parsing
//! client.rs     one registry: ping, Basic/Bearer auth, requests, spec errors
//! manifest.rs   manifest/index documents, media types, platform selection
//! fetch.rs      resumable, verified blob downloads into <root>/content/ingest
//! pull.rs       pull: parallel downloads, in-order layer application
//! push.rs       push: HEAD / cross-repo mount / streamed gzip upload, OCI manifest
//! volume.rs     volume push/pull as an OCI artifact (tar+zstd layer)
//! blobs.rs      DiffID → registry blob records (registry_blobs table)
//! progress.rs   per-blob transfer events in Docker's words
//! ```
//!
//! **Why a blocking client (ureq) and not oci-client.** The engine is
//! synchronous and not `Sync` (one SQLite connection), and layers must be
//! applied in parent order by the thread that owns the store. With ureq the
//! whole protocol is plain blocking code on a few scoped threads: downloads
//! write ingest files while the calling thread extracts behind them, uploads
//! compress on the calling thread into a pipe that a helper thread PATCHes.
//! oci-client would bring tokio, reqwest and hyper (about 80 more crates and
//! an async/sync bridge at every blob), and its default rustls pulls
//! aws-lc-sys, a C build needing cmake, which this project's machines lack;
//! ureq uses rustls with `ring`. The protocol itself (ping, token flow,
//! manifests, blobs with `Range`, chunked uploads, mounts) is a few hundred
//! lines here, and owning it lets strata resume partial downloads, verify
//! every blob before its layer is published, and reuse Docker's files
//! (config.json, credential helpers, certs.d) exactly.
#![forbid(unsafe_code)]

pub mod auth;
pub mod blobs;
mod client;
pub mod config;
pub mod error;
mod fetch;
pub mod manifest;
pub mod progress;
mod pull;
mod push;
mod volume;

pub use auth::{Credentials, DockerConfig};
pub use config::RegistryConfig;
pub use error::{RegistryError, Result};
pub use progress::{NoProgress, Status, TransferProgress};
pub use pull::{PullOpts, PullReport, pull};
pub use push::{PushOpts, PushReport, push};
pub use volume::{VOLUME_ARTIFACT_TYPE, VolumePullOpts, volume_pull, volume_push};

/// `login`: check `creds` against `registry` (`GET /v2/`, or a token from
/// its realm) and, when accepted, store them in Docker's config.json (or the
/// configured credential helper). `registry` is a reference domain
/// (`127.0.0.1:5000`, `docker.io`).
pub fn login(config: &RegistryConfig, registry: &str, creds: &Credentials) -> Result<()> {
    let client = client::Client::with_credentials(config, registry, Some(creds.clone()))?;
    client.login().map_err(|e| match e {
        e @ RegistryError::LoginFailed { .. } => e,
        other => RegistryError::LoginFailed { registry: registry.to_string(), reason: other.to_string() },
    })?;
    DockerConfig::new(&config.docker_config).store(registry, creds)
}

/// `logout`: forget the credentials of `registry`; whether there were any.
pub fn logout(config: &RegistryConfig, registry: &str) -> Result<bool> {
    DockerConfig::new(&config.docker_config).erase(registry)
}

/// Normalise what users type as a registry (`https://host:5000/v2/`, `host:5000`)
/// to a reference domain; empty means Docker Hub.
pub fn registry_domain(s: &str) -> String {
    let s = s.trim();
    let s = s.strip_prefix("https://").or_else(|| s.strip_prefix("http://")).unwrap_or(s);
    let host = s.split('/').next().unwrap_or(s);
    match host {
        "" | "index.docker.io" | "registry-1.docker.io" | "docker.io" => "docker.io".to_string(),
        h => h.to_string(),
    }
}
