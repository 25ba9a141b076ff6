//! Progress of transfers, per blob, in Docker's words. Downloads run on
//! several threads, so events carry the blob's short id (12 hex characters)
//! instead of relying on a "current unit"; the CLI draws one line per id.

/// What happens to one blob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    PullingFsLayer,
    Waiting,
    /// The layer is in the store already: nothing is downloaded.
    AlreadyExists,
    Downloading {
        current: u64,
        total: u64,
    },
    /// A connection failed; the download resumes (attempt `n`).
    Retrying {
        attempt: u32,
    },
    VerifyingChecksum,
    DownloadComplete,
    Extracting {
        current: u64,
        total: u64,
    },
    PullComplete,
    Preparing,
    Pushing {
        current: u64,
        total: Option<u64>,
    },
    Pushed,
    LayerAlreadyExists,
    MountedFrom(String),
}

impl Status {
    /// Bytes done and total, for statuses drawn as bars.
    pub fn bytes(&self) -> Option<(u64, Option<u64>)> {
        match self {
            Status::Downloading { current, total } | Status::Extracting { current, total } => {
                Some((*current, Some(*total)))
            }
            Status::Pushing { current, total } => Some((*current, *total)),
            _ => None,
        }
    }

    /// Whether nothing more will happen to this blob.
    pub fn is_final(&self) -> bool {
        matches!(
            self,
            Status::AlreadyExists
                | Status::PullComplete
                | Status::Pushed
                | Status::LayerAlreadyExists
                | Status::MountedFrom(_)
        )
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Status::PullingFsLayer => f.write_str("Pulling fs layer"),
            Status::Waiting => f.write_str("Waiting"),
            Status::AlreadyExists => f.write_str("Already exists"),
            Status::Downloading { .. } => f.write_str("Downloading"),
            Status::Retrying { attempt } => write!(f, "Retrying (attempt {attempt})"),
            Status::VerifyingChecksum => f.write_str("Verifying Checksum"),
            Status::DownloadComplete => f.write_str("Download complete"),
            Status::Extracting { .. } => f.write_str("Extracting"),
            Status::PullComplete => f.write_str("Pull complete"),
            Status::Preparing => f.write_str("Preparing"),
            Status::Pushing { .. } => f.write_str("Pushing"),
            Status::Pushed => f.write_str("Pushed"),
            Status::LayerAlreadyExists => f.write_str("Layer already exists"),
            Status::MountedFrom(repo) => write!(f, "Mounted from {repo}"),
        }
    }
}

/// Receives transfer events; called from several threads.
pub trait TransferProgress: Sync {
    /// A line about the whole transfer (`latest: Pulling from library/busybox`).
    fn message(&self, _text: &str) {}
    /// Blob `id` (12 hex characters) changed status.
    fn layer(&self, _id: &str, _status: &Status) {}
}

/// Reports nothing.
pub struct NoProgress;

impl TransferProgress for NoProgress {}

/// Docker's short id of a digest: its first 12 hex characters.
pub fn short_id(digest: &str) -> &str {
    let hex = digest.split_once(':').map(|(_, h)| h).unwrap_or(digest);
    &hex[..hex.len().min(12)]
}
