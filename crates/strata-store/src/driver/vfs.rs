//! vfs: every layer is a full copy of its parent's tree.
//!
//! ```text
//! <root>/vfs/
//!   dir/<id>/          the layer's complete tree (diff dir = merged view)
//! ```
//!
//! A child starts as [`strata_sys::copy::copy_tree`] of its parent, staged in
//! `<root>/tmp` and renamed into place, so an error or crash never leaves a
//! half-copied `dir/<id>`. On filesystems with reflinks (btrfs, xfs) the copy
//! shares file data; elsewhere it costs the full size of the image per layer.
//! Changes are found by comparing the layer's tree with its parent's.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use strata_archive::{Change, WhiteoutMode};
use strata_sys::mount::MountSpec;

use super::{Driver, DriverOpts};
use crate::error::{IoCtx, Result, StoreError};

pub struct Vfs {
    opts: DriverOpts,
    backing_fs: String,
    reflink: bool,
}

impl Vfs {
    pub fn open(opts: DriverOpts) -> Result<Vfs> {
        let dir = opts.home.join("dir");
        std::fs::create_dir_all(&dir).ctx("create driver home", &dir)?;
        std::fs::create_dir_all(&opts.tmp).ctx("create staging dir", &opts.tmp)?;
        let backing_fs = strata_sys::probe::fs_type(&dir)?;
        let reflink = strata_sys::probe::reflink_supported(&opts.tmp);
        Ok(Vfs { opts, backing_fs, reflink })
    }

    fn dir(&self, id: &str) -> PathBuf {
        self.opts.home.join("dir").join(id)
    }
}

impl Driver for Vfs {
    fn name(&self) -> &'static str {
        "vfs"
    }

    fn status(&self) -> Vec<(String, String)> {
        vec![("Backing Filesystem".into(), self.backing_fs.clone()), ("Reflink".into(), self.reflink.to_string())]
    }

    fn create(&self, id: &str, parent: Option<&str>) -> Result<()> {
        check_id(id)?;
        let dst = self.dir(id);
        if dst.symlink_metadata().is_ok() {
            return Err(already_exists(id, &dst));
        }
        let parent_dir = match parent {
            Some(p) => {
                check_id(p)?;
                let d = self.dir(p);
                if !d.is_dir() {
                    return Err(StoreError::NoSuchLayer(p.to_string()));
                }
                Some(d)
            }
            None => None,
        };
        let stage = stage_path(&self.opts.tmp, "vfs", id);
        let result = (|| -> Result<()> {
            match &parent_dir {
                Some(p) => {
                    strata_sys::copy::copy_tree(p, &stage)?;
                }
                None => {
                    use std::os::unix::fs::DirBuilderExt;
                    std::fs::DirBuilder::new().mode(0o755).create(&stage).ctx("mkdir", &stage)?;
                    // Not subject to the umask: a base layer's root is 0755.
                    strata_sys::fs::chmod(&stage, 0o755)?;
                }
            }
            strata_sys::fs::rename_noreplace(&stage, &dst)?;
            Ok(())
        })();
        if result.is_err() {
            let _ = strata_sys::fs::remove_tree(&stage);
        }
        result
    }

    fn remove(&self, id: &str) -> Result<()> {
        check_id(id)?;
        remove_staged(&self.dir(id), &self.opts.tmp, "vfs", id)
    }

    fn exists(&self, id: &str) -> bool {
        check_id(id).is_ok() && self.dir(id).is_dir()
    }

    fn list(&self) -> Result<Vec<String>> {
        list_dirs(&self.opts.home.join("dir"))
    }

    fn diff_dir(&self, id: &str) -> PathBuf {
        self.dir(id)
    }

    fn whiteout_mode(&self) -> WhiteoutMode {
        WhiteoutMode::Remove
    }

    fn mounts(&self, id: &str) -> Result<Vec<MountSpec>> {
        require(self, id)?;
        Ok(Vec::new())
    }

    fn merged_dir(&self, _id: &str) -> Option<PathBuf> {
        None
    }

    fn changes(&self, id: &str, parent: Option<&str>) -> Result<Vec<Change>> {
        tree_changes(self, id, parent)
    }

    fn diff(&self, id: &str, parent: Option<&str>, out: &mut dyn std::io::Write) -> Result<u64> {
        let changes = tree_changes(self, id, parent)?;
        Ok(strata_archive::write::write_changes_tar(&self.dir(id), &changes, out)?)
    }

    fn metadata(&self, id: &str) -> Result<BTreeMap<String, String>> {
        // Docker reports no GraphDriver data for vfs.
        require(self, id)?;
        Ok(BTreeMap::new())
    }
}

// ---------------------------------------------------------------------------
// helpers shared by the drivers

/// Layer ids are single path components of `[A-Za-z0-9_.-]`, not starting with `.`.
pub(super) fn check_id(id: &str) -> Result<()> {
    let ok = !id.is_empty()
        && id.len() <= 128
        && !id.starts_with('.')
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
    if ok {
        Ok(())
    } else {
        Err(StoreError::invalid(format!("layer id {id:?}"), "must be letters, digits, '_', '-' or '.'"))
    }
}

pub(super) fn already_exists(id: &str, path: &Path) -> StoreError {
    StoreError::io(
        "create layer",
        path,
        std::io::Error::new(std::io::ErrorKind::AlreadyExists, format!("layer {id} already exists")),
    )
}

/// `NoSuchLayer` unless `id` exists.
pub(super) fn require(d: &dyn Driver, id: &str) -> Result<()> {
    if d.exists(id) { Ok(()) } else { Err(StoreError::NoSuchLayer(id.to_string())) }
}

/// A unique staging path in `tmp` for work on layer `id`.
pub(super) fn stage_path(tmp: &Path, driver: &str, id: &str) -> PathBuf {
    super::staging_path(tmp, &format!("{driver}.{}", &id[..id.len().min(12)]))
}

/// Remove `path` by first renaming it into `tmp` (so the layer disappears
/// atomically), then deleting it there. Missing is not an error; mount points
/// below are never descended into (the removal fails instead).
pub(super) fn remove_staged(path: &Path, tmp: &Path, driver: &str, id: &str) -> Result<()> {
    if path.symlink_metadata().is_err() {
        return Ok(());
    }
    let doomed = stage_path(tmp, &format!("{driver}-remove"), id);
    let target = match std::fs::rename(path, &doomed) {
        Ok(()) => doomed,
        // Staging on another filesystem (should not happen): delete in place.
        Err(e) if e.kind() == std::io::ErrorKind::CrossesDevices => path.to_path_buf(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(StoreError::io("rename", path, e)),
    };
    strata_sys::fs::remove_tree(&target)?;
    Ok(())
}

/// Names of the directories in `dir` (hidden entries skipped), sorted.
pub(super) fn list_dirs(dir: &Path) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).ctx("readdir", dir)? {
        let entry = entry.ctx("readdir", dir)?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') || !entry.file_type().map(|t| t.is_dir()).unwrap_or(false) {
            continue;
        }
        out.push(name);
    }
    out.sort();
    Ok(out)
}

/// Changes of a full-tree layer against its parent's full tree.
pub(super) fn tree_changes(d: &dyn Driver, id: &str, parent: Option<&str>) -> Result<Vec<Change>> {
    require(d, id)?;
    let parent_dir = match parent {
        Some(p) => {
            require(d, p)?;
            Some(d.diff_dir(p))
        }
        None => None,
    };
    let mut changes = strata_archive::changes::tree_changes(parent_dir.as_deref(), &d.diff_dir(id))?;
    changes.sort();
    Ok(changes)
}
