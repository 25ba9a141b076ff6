//! Errors of the copy engine. Variants that Docker reports with a fixed text
//! display exactly that text (the CLI adds the container name or prefix where
//! Docker does); the rest name the operation and the path.

use std::path::PathBuf;

/// A copy failure.
#[derive(Debug, thiserror::Error)]
pub enum CpError {
    /// A path inside the container (or volume) does not exist. The CLI appends
    /// the container's name, as Docker: `... in container web1`.
    #[error("Could not find the file {path} in container")]
    NotFound {
        path: String,
        /// On the destination side (else the source's).
        dest: bool,
    },
    /// A host path could not be looked up; Go's `lstat PATH: no such file or directory` shape.
    #[error("{op} {}: {}", path.display(), go_errno(source))]
    HostPath {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// `file.txt/` as a source, or a destination's parent that is not a directory.
    #[error("not a directory")]
    NotADirectory { path: String },
    /// A file copied to `missing/` (a destination asserted to be a directory).
    #[error("no such directory")]
    NoSuchDirectory { path: String },
    /// A directory copied onto an existing non-directory.
    #[error("cannot copy directory")]
    CannotCopyDirectory { path: String },
    /// Docker's `noOverwriteDirNonDir`: `path` is the existing directory, `dest` the extraction directory.
    #[error("cannot overwrite directory {path:?} with non-directory {dest:?}")]
    OverwriteDirWithNonDir { path: String, dest: String },
    /// Docker's `noOverwriteDirNonDir`: `path` is the existing non-directory.
    #[error("cannot overwrite non-directory {path:?} with directory {dest:?}")]
    OverwriteNonDirWithDir { path: String, dest: String },
    /// A tar stream must be extracted into an existing directory. The CLI
    /// prints the destination as the user wrote it (`ctr:/data/x`).
    #[error("destination {path:?} must be a directory")]
    DestinationMustBeDirectory { path: String },
    /// The directory a copy extracts into exists but is not a directory.
    #[error("extraction point is not a directory")]
    ExtractionPointNotDirectory { path: String },
    /// Symlinks at the destination kept pointing at symlinks.
    #[error("too many symlinks in {path}")]
    TooManySymlinks { path: String },
    /// The destination is inside the directory being copied.
    #[error("cannot copy a directory, {src:?}, into itself, {dst:?}")]
    IntoItself { src: String, dst: String },
    /// The destination is on a read-only volume or bind mount (Docker's text).
    #[error("mounted volume is marked read-only")]
    ReadOnlyVolume,
    /// The destination is on a container's read-only rootfs (Docker's text).
    #[error("container rootfs is marked read-only")]
    ReadOnlyRootfs,
    /// An empty path argument.
    #[error("{what} path cannot be empty")]
    EmptyPath { what: &'static str },
    /// A filesystem operation failed.
    #[error("{op} {path}: {}", go_errno(source))]
    Io {
        op: &'static str,
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// A file changed (shrank, or changed type) while it was being copied.
    #[error("{path}: {reason}")]
    Changed { path: String, reason: String },
    /// Reading the tar stream failed, or it is malformed.
    #[error("reading tar stream: {0}")]
    Read(#[source] std::io::Error),
    /// Writing the tar stream failed.
    #[error("writing tar stream: {0}")]
    Write(#[source] std::io::Error),
    /// A tar entry strata cannot extract faithfully.
    #[error("tar entry {path:?}: {reason}")]
    Unsupported { path: String, reason: String },
    #[error(transparent)]
    Sys(#[from] strata_sys::SysError),
}

impl CpError {
    /// The errno behind the failure, if it is one (EROFS, EACCES, ...).
    pub fn raw_os_error(&self) -> Option<i32> {
        match self {
            CpError::HostPath { source, .. } | CpError::Io { source, .. } => source.raw_os_error(),
            CpError::Read(e) | CpError::Write(e) => e.raw_os_error(),
            CpError::Sys(e) => e.raw_os_error(),
            _ => None,
        }
    }

    /// Whether the failure is EROFS (a read-only filesystem or mount).
    pub fn is_read_only_fs(&self) -> bool {
        self.raw_os_error() == Some(rustix::io::Errno::ROFS.raw_os_error())
    }

    /// Whether the user asked for something impossible (as opposed to an I/O failure).
    pub fn is_user_error(&self) -> bool {
        matches!(
            self,
            CpError::NotFound { .. }
                | CpError::NotADirectory { .. }
                | CpError::NoSuchDirectory { .. }
                | CpError::CannotCopyDirectory { .. }
                | CpError::OverwriteDirWithNonDir { .. }
                | CpError::OverwriteNonDirWithDir { .. }
                | CpError::DestinationMustBeDirectory { .. }
                | CpError::ExtractionPointNotDirectory { .. }
                | CpError::TooManySymlinks { .. }
                | CpError::IntoItself { .. }
                | CpError::EmptyPath { .. }
                | CpError::ReadOnlyVolume
                | CpError::ReadOnlyRootfs
        )
    }

    pub(crate) fn io(op: &'static str, path: impl Into<String>, source: impl Into<std::io::Error>) -> Self {
        CpError::Io { op, path: path.into(), source: source.into() }
    }
}

/// An errno as Go prints it: `no such file or directory`, without Rust's
/// capital letter and `(os error N)` suffix.
pub(crate) fn go_errno(e: &std::io::Error) -> String {
    let s = e.to_string();
    let s = match (e.raw_os_error(), s.rfind(" (os error ")) {
        (Some(_), Some(i)) => &s[..i],
        _ => &s[..],
    };
    let mut c = s.chars();
    match c.next() {
        Some(f) if e.raw_os_error().is_some() => f.to_lowercase().chain(c).collect(),
        _ => s.to_string(),
    }
}

pub type CpResult<T> = std::result::Result<T, CpError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errno_text_like_go() {
        let e = std::io::Error::from_raw_os_error(libc_enoent());
        assert_eq!(go_errno(&e), "no such file or directory");
        let e =
            CpError::HostPath { op: "lstat", path: "/tmp/nope".into(), source: std::io::Error::from_raw_os_error(2) };
        assert_eq!(e.to_string(), "lstat /tmp/nope: no such file or directory");
        let e = CpError::OverwriteDirWithNonDir { path: "/data/x".into(), dest: "/data".into() };
        assert_eq!(e.to_string(), r#"cannot overwrite directory "/data/x" with non-directory "/data""#);
    }

    fn libc_enoent() -> i32 {
        2
    }
}
