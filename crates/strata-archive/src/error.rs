use std::path::PathBuf;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArchiveErrorKind {
    /// The input is not something we accept (bad tar, unsupported entry).
    Invalid,
    /// The input does not match what it claims (digest, size).
    Corrupt,
    /// Reading or writing failed.
    Io,
}

#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    #[error("{op} {}: {source}", path.display())]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Sys(#[from] strata_sys::SysError),
    #[error("reading tar stream: {0}")]
    Read(#[source] std::io::Error),
    #[error("writing tar stream: {0}")]
    Write(#[source] std::io::Error),
    #[error("tar entry {path:?}: {reason}")]
    Unsupported { path: String, reason: String },
    #[error("tar entry {path:?}: {reason}")]
    Invalid { path: String, reason: String },
    #[error("file {} changed since the layer was stored: {reason}", path.display())]
    Changed { path: PathBuf, reason: String },
    #[error("tar-split: {0}")]
    TarSplit(String),
}

impl ArchiveError {
    pub fn kind(&self) -> ArchiveErrorKind {
        match self {
            ArchiveError::Unsupported { .. } | ArchiveError::Invalid { .. } => ArchiveErrorKind::Invalid,
            ArchiveError::Changed { .. } | ArchiveError::TarSplit(_) => ArchiveErrorKind::Corrupt,
            ArchiveError::Read(e)
                if e.kind() == std::io::ErrorKind::InvalidData || e.kind() == std::io::ErrorKind::UnexpectedEof =>
            {
                ArchiveErrorKind::Invalid
            }
            _ => ArchiveErrorKind::Io,
        }
    }

    pub fn io(op: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        ArchiveError::Io { op, path: path.into(), source }
    }
}

pub type Result<T, E = ArchiveError> = std::result::Result<T, E>;
