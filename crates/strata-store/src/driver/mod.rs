//! Storage drivers: how layers are laid out on disk and stacked into a rootfs.
//!
//! A driver *describes* mounts ([`MountSpec`]) and never performs them; the
//! store hands the specs to `strata_sys::mount`. Diff and apply work on plain
//! directories without mounting: overlay2 applies into `diff/` and scans the
//! upper dir, while vfs and btrfs keep a full tree per layer (a copy or a
//! snapshot of the parent) and compare trees.
//!
//! Every implementation runs the one conformance suite in `tests/drivers.rs`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use strata_archive::{Change, WhiteoutMode};
use strata_sys::mount::MountSpec;

use crate::error::{Result, StoreError};

pub mod btrfs;
pub mod overlay2;
pub mod vfs;

/// The drivers strata knows, in Docker's auto-selection order.
pub const PRIORITY: &[&str] = &["overlay2", "btrfs", "vfs"];

/// A storage driver. Layer ids are opaque directory names chosen by the store
/// (64 hex characters; container layers may carry a `-init` suffix).
pub trait Driver: Send + Sync {
    /// `overlay2`, `vfs` or `btrfs`.
    fn name(&self) -> &'static str;

    /// `info` lines after `Storage Driver:` (Backing Filesystem, Supports d_type, ...).
    fn status(&self) -> Vec<(String, String)>;

    /// Create layer `id` on top of `parent`. vfs/btrfs start it as a copy/snapshot
    /// of the parent's tree; overlay2 creates an empty `diff/` and records the lowers.
    /// On error nothing of `id` is left behind.
    fn create(&self, id: &str, parent: Option<&str>) -> Result<()>;

    /// Remove layer `id` and everything it owns. Removing a missing layer is not an error.
    fn remove(&self, id: &str) -> Result<()>;

    fn exists(&self, id: &str) -> bool;

    /// Ids of all layers present on disk (for `system check`).
    fn list(&self) -> Result<Vec<String>>;

    /// The directory a layer tar is applied into and its files are read from.
    fn diff_dir(&self, id: &str) -> PathBuf;

    /// How whiteouts must be written into [`Driver::diff_dir`].
    fn whiteout_mode(&self) -> WhiteoutMode;

    /// Mounts that show `id`'s merged tree. Empty when [`Driver::diff_dir`] already
    /// is the merged tree (vfs, btrfs): callers then use the directory directly.
    fn mounts(&self, id: &str) -> Result<Vec<MountSpec>>;

    /// Where a container's merged rootfs is mounted (overlay2: `<id>/merged`),
    /// `None` when the diff dir is used directly.
    fn merged_dir(&self, id: &str) -> Option<PathBuf>;

    /// Changes of `id` relative to `parent`, sorted by path.
    fn changes(&self, id: &str, parent: Option<&str>) -> Result<Vec<Change>>;

    /// Write a layer tar of `id`'s changes relative to `parent`; returns bytes written.
    fn diff(&self, id: &str, parent: Option<&str>, out: &mut dyn std::io::Write) -> Result<u64>;

    /// `GraphDriver.Data` of `inspect` (LowerDir, UpperDir, ...).
    fn metadata(&self, id: &str) -> Result<BTreeMap<String, String>>;

    /// Bytes used on disk by `id` alone (not its parents).
    fn disk_usage(&self, id: &str) -> Result<u64> {
        dir_size(&self.diff_dir(id))
    }
}

/// Options a driver is constructed with.
#[derive(Debug, Clone)]
pub struct DriverOpts {
    /// `<root>/<driver name>`: the driver's home.
    pub home: PathBuf,
    /// `<root>/tmp`: staging on the same filesystem.
    pub tmp: PathBuf,
    /// Running unprivileged (overlay2 then needs `userxattr`).
    pub rootless: bool,
}

/// Construct the driver `name` rooted in `opts.home`, checking that the backing
/// filesystem supports it. Errors say why and which driver to use instead.
pub fn open(name: &str, opts: DriverOpts) -> Result<Box<dyn Driver>> {
    match name {
        "overlay2" | "overlay" => Ok(Box::new(overlay2::Overlay2::open(opts)?)),
        "vfs" => Ok(Box::new(vfs::Vfs::open(opts)?)),
        "btrfs" => Ok(Box::new(btrfs::Btrfs::open(opts)?)),
        "aufs" => Err(StoreError::DriverUnsupported {
            driver: name.into(),
            reason: "AUFS is not in this kernel (Docker removed it in Engine 24.0); use overlay2, which gives the same copy-on-write layering through kernel overlayfs".into(),
        }),
        "devicemapper" => Err(StoreError::DriverUnsupported {
            driver: name.into(),
            reason: "Device Mapper is not supported (Docker removed it in Engine 25.0); use overlay2, or btrfs for block-level snapshots".into(),
        }),
        "zfs" | "fuse-overlayfs" => Err(StoreError::DriverUnsupported {
            driver: name.into(),
            reason: "not implemented by strata; use overlay2, btrfs or vfs".into(),
        }),
        other => Err(StoreError::DriverUnsupported {
            driver: other.into(),
            reason: "unknown storage driver; choose one of overlay2, btrfs, vfs".into(),
        }),
    }
}

/// Pick a driver for a new data root in Docker's order: overlay2 where the backing
/// filesystem supports it (btrfs first when the root is on btrfs, where snapshots
/// beat overlay copy-up), vfs otherwise.
pub fn auto_select(root: &Path) -> &'static str {
    let fs = strata_sys::probe::fs_type(root).unwrap_or_default();
    if fs == "btrfs" {
        return "btrfs";
    }
    if strata_sys::probe::overlay_usable(root).is_ok() {
        return "overlay2";
    }
    "vfs"
}

/// A fresh path in the staging directory `tmp`, named
/// `<what>-<pid>-<pid start time>-<random>` so that the sweep on open can tell
/// whether the process that staged it is still alive. `what` has no `-`.
pub fn staging_path(tmp: &Path, what: &str) -> PathBuf {
    let pid = std::process::id();
    let start = strata_sys::process_start_time(pid).unwrap_or(0);
    tmp.join(format!("{}-{pid}-{start}-{}", what.replace('-', "."), &strata_sys::random_id()[..12]))
}

/// Whether a staging entry's owner (encoded by [`staging_path`]) is gone.
pub fn staging_abandoned(name: &str) -> bool {
    let mut parts = name.rsplitn(4, '-');
    let (_rand, start, pid) = (parts.next(), parts.next(), parts.next());
    match (pid.and_then(|p| p.parse().ok()), start.and_then(|s| s.parse().ok())) {
        (Some(pid), Some(start)) => !strata_sys::process_alive(pid, start),
        _ => true,
    }
}

/// Remove a staging entry (file, tree, or a tree holding btrfs subvolumes)
/// without descending into mount points.
pub fn remove_staging(p: &Path) -> strata_sys::SysResult<()> {
    if strata_sys::mount::is_mountpoint(p) {
        strata_sys::mount::unmount(p, true)?;
    }
    match p.symlink_metadata() {
        Err(_) => Ok(()),
        Ok(md) if !md.is_dir() => std::fs::remove_file(p).map_err(|e| strata_sys::SysError::new("remove", p, e)),
        Ok(_) if strata_sys::btrfs::is_subvolume(p) => strata_sys::btrfs::delete_subvolume(p),
        Ok(_) => {
            for e in std::fs::read_dir(p).map_err(|e| strata_sys::SysError::new("read", p, e))?.flatten() {
                let child = e.path();
                if child.symlink_metadata().map(|m| m.is_dir()).unwrap_or(false)
                    && strata_sys::btrfs::is_subvolume(&child)
                {
                    strata_sys::btrfs::delete_subvolume(&child)?;
                }
            }
            strata_sys::fs::remove_tree(p)
        }
    }
}

/// Apparent size of a tree (sum of file sizes, hard links counted once), not following symlinks.
pub fn dir_size(dir: &Path) -> Result<u64> {
    use std::os::unix::fs::MetadataExt;
    let mut seen = std::collections::HashSet::new();
    let mut total = 0u64;
    for entry in walkdir::WalkDir::new(dir) {
        let entry = match entry {
            Ok(e) => e,
            Err(e) if e.io_error().map(|e| e.kind()) == Some(std::io::ErrorKind::NotFound) => continue,
            Err(e) => {
                let path = e.path().map(Path::to_path_buf).unwrap_or_else(|| dir.to_path_buf());
                return Err(StoreError::io("walk", path, e.into()));
            }
        };
        let md = entry.metadata().map_err(|e| StoreError::io("stat", entry.path(), e.into()))?;
        if md.is_file() {
            if md.nlink() > 1 && !seen.insert((md.dev(), md.ino())) {
                continue;
            }
            total += md.len();
        }
    }
    Ok(total)
}
