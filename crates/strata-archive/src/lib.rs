//! Layer tars in and out of directory trees.
//!
//! - [`apply`]: extract a layer tar into a directory, confined to it, converting
//!   OCI whiteouts for the driver, hashing the stream (DiffID) while it is read
//!   and recording a tar-split so the exact bytes can be reassembled later.
//! - [`tarsplit`]: reassemble a layer's original tar from its tar-split and files.
//! - [`changes`]: A/C/D scans (overlay upper dir, or two full trees).
//! - [`write`]: tars from directories (overlay upper → `.wh.` entries, plain trees).
//! - [`compress`]: gzip/zstd detection and streams; [`digest`]: sha256 helpers.
#![forbid(unsafe_code)]

pub mod apply;
pub mod changes;
pub mod compress;
pub mod cp;
pub mod digest;
pub mod tarsplit;
pub mod write;

mod error;
pub use error::{ArchiveError, ArchiveErrorKind, Result};

/// How whiteouts in a layer tar are represented on disk by the target driver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WhiteoutMode {
    /// overlayfs: `.wh.x` → char device 0/0 `x`; `.wh..wh..opq` → opaque xattr on the dir.
    Overlay { userxattr: bool },
    /// Full-tree drivers (vfs, btrfs): the layer starts as a copy of its parent,
    /// so `.wh.x` deletes `x` and `.wh..wh..opq` empties the directory.
    Remove,
}

/// OCI whiteout prefix and opaque marker.
pub const WHITEOUT_PREFIX: &str = ".wh.";
pub const WHITEOUT_OPAQUE: &str = ".wh..wh..opq";

/// One entry of a change list, as `docker diff` prints it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Change {
    /// Absolute path inside the container, e.g. `/etc/passwd`.
    pub path: String,
    pub kind: ChangeKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ChangeKind {
    Modified,
    Added,
    Deleted,
}

impl ChangeKind {
    /// The letter `docker diff` prints.
    pub fn letter(self) -> char {
        match self {
            ChangeKind::Added => 'A',
            ChangeKind::Modified => 'C',
            ChangeKind::Deleted => 'D',
        }
    }
}
