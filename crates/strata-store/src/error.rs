//! Typed errors of the engine. Each variant names its subject; [`ErrorKind`]
//! lets the CLI map them to Docker-style messages and exit codes.

use std::path::PathBuf;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    NotFound,
    AlreadyExists,
    InUse,
    InvalidArgument,
    Unsupported,
    Corrupt,
    Io,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("No such image: {0}")]
    NoSuchImage(String),
    #[error("No such layer: {0}")]
    NoSuchLayer(String),
    #[error("No such container: {0}")]
    NoSuchContainer(String),
    #[error("No such volume: {0}")]
    NoSuchVolume(String),
    #[error(
        "Conflict. The container name \"/{name}\" is already in use by container \"{container}\". You have to remove (or rename) that container to be able to reuse that name."
    )]
    NameInUse { name: String, container: String },
    #[error("cannot remove container {id}: container is running: stop the container before removing or force remove")]
    ContainerRunning { id: String },
    #[error("remove {name}: volume is in use - [{}]", containers.join(", "))]
    VolumeInUse { name: String, containers: Vec<String> },
    #[error("volume {name} already exists: {reason}")]
    VolumeExists { name: String, reason: String },
    #[error("invalid reference format: {reference}: {reason}")]
    InvalidReference { reference: String, reason: String },
    #[error("{what}: {reason}")]
    InvalidArgument { what: String, reason: String },
    #[error("conflict: unable to delete {image} (must be forced) - image is being used by {users}")]
    ImageInUse { image: String, users: String },
    #[error("conflict: unable to delete {image} (must be forced) - image is referenced in multiple repositories")]
    ImageMultiplyTagged { image: String },
    #[error("digest mismatch for {what}: expected {expected}, got {actual}")]
    DigestMismatch { what: String, expected: String, actual: String },
    #[error("invalid archive {source_name}: {reason}")]
    BadArchive { source_name: String, reason: String },
    #[error("storage driver {driver:?} is not supported: {reason}")]
    DriverUnsupported { driver: String, reason: String },
    #[error(
        "data root {} was created with storage driver {existing:?}; refusing to use it with {requested:?} (images and containers of one driver are invisible to another; `strata save` them, then use a new --root)", root.display()
    )]
    DriverMismatch { root: PathBuf, existing: String, requested: String },
    #[error("metadata database {}: {source}", path.display())]
    Db {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    #[error("{op} {}: {source}", path.display())]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Sys(#[from] strata_sys::SysError),
    #[error(transparent)]
    Archive(#[from] strata_archive::ArchiveError),
    #[error("store is corrupt: {0}")]
    Corrupt(String),
}

impl StoreError {
    pub fn kind(&self) -> ErrorKind {
        use StoreError::*;
        match self {
            NoSuchImage(_) | NoSuchLayer(_) | NoSuchContainer(_) | NoSuchVolume(_) => ErrorKind::NotFound,
            NameInUse { .. } | VolumeExists { .. } => ErrorKind::AlreadyExists,
            ContainerRunning { .. } | VolumeInUse { .. } => ErrorKind::InUse,
            InvalidReference { .. } | InvalidArgument { .. } | BadArchive { .. } => ErrorKind::InvalidArgument,
            ImageInUse { .. } | ImageMultiplyTagged { .. } => ErrorKind::InUse,
            DigestMismatch { .. } | Corrupt(_) => ErrorKind::Corrupt,
            DriverUnsupported { .. } | DriverMismatch { .. } => ErrorKind::Unsupported,
            Db { .. } | Io { .. } | Sys(_) => ErrorKind::Io,
            Archive(a) => match a.kind() {
                strata_archive::ArchiveErrorKind::Invalid => ErrorKind::InvalidArgument,
                strata_archive::ArchiveErrorKind::Corrupt => ErrorKind::Corrupt,
                strata_archive::ArchiveErrorKind::Io => ErrorKind::Io,
            },
        }
    }

    pub fn io(op: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        StoreError::Io { op, path: path.into(), source }
    }

    pub fn invalid(what: impl Into<String>, reason: impl Into<String>) -> Self {
        StoreError::InvalidArgument { what: what.into(), reason: reason.into() }
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Attach an operation and path to `io::Result`s.
pub trait IoCtx<T> {
    fn ctx(self, op: &'static str, path: &std::path::Path) -> Result<T>;
}

impl<T> IoCtx<T> for std::io::Result<T> {
    fn ctx(self, op: &'static str, path: &std::path::Path) -> Result<T> {
        self.map_err(|e| StoreError::io(op, path, e))
    }
}
