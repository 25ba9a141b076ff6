//! btrfs: one subvolume per layer; a child is a snapshot of its parent.
//!
//! ```text
//! <root>/btrfs/
//!   subvolumes/<id>/     subvolume holding the layer's complete tree
//! ```
//!
//! Creating a layer is one ioctl (`SUBVOL_CREATE` or `SNAP_CREATE_V2`), which
//! either makes the whole subvolume or nothing, so no staging is needed.
//! Snapshots share all data with the parent until written. Changes compare the
//! layer's tree with its parent's, as vfs does. Removal deletes nested
//! subvolumes (a container may create some) depth-first.

use std::collections::BTreeMap;
use std::path::PathBuf;

use strata_archive::{Change, WhiteoutMode};
use strata_sys::mount::MountSpec;

use super::vfs::{already_exists, check_id, list_dirs, require, tree_changes};
use super::{Driver, DriverOpts};
use crate::error::{IoCtx, Result, StoreError};

pub struct Btrfs {
    opts: DriverOpts,
}

impl Btrfs {
    /// Open the driver; the data root must be on btrfs.
    pub fn open(opts: DriverOpts) -> Result<Btrfs> {
        let fs = strata_sys::probe::fs_type(&opts.home)?;
        if fs != "btrfs" {
            let root = opts.home.parent().unwrap_or(&opts.home);
            return Err(StoreError::DriverUnsupported {
                driver: "btrfs".into(),
                reason: format!(
                    "btrfs driver requires the data root on a btrfs filesystem; {} is on {fs}",
                    root.display()
                ),
            });
        }
        let sub = opts.home.join("subvolumes");
        std::fs::create_dir_all(&sub).ctx("create driver home", &sub)?;
        std::fs::create_dir_all(&opts.tmp).ctx("create staging dir", &opts.tmp)?;
        Ok(Btrfs { opts })
    }

    fn dir(&self, id: &str) -> PathBuf {
        self.opts.home.join("subvolumes").join(id)
    }
}

impl Driver for Btrfs {
    fn name(&self) -> &'static str {
        "btrfs"
    }

    fn status(&self) -> Vec<(String, String)> {
        vec![("Backing Filesystem".into(), "btrfs".into())]
    }

    fn create(&self, id: &str, parent: Option<&str>) -> Result<()> {
        check_id(id)?;
        let dst = self.dir(id);
        if dst.symlink_metadata().is_ok() {
            return Err(already_exists(id, &dst));
        }
        match parent {
            None => {
                strata_sys::btrfs::create_subvolume(&dst)?;
                if let Err(e) = strata_sys::fs::chmod(&dst, 0o755) {
                    let _ = strata_sys::btrfs::delete_subvolume(&dst);
                    return Err(e.into());
                }
            }
            Some(p) => {
                check_id(p)?;
                let src = self.dir(p);
                if !strata_sys::btrfs::is_subvolume(&src) {
                    return Err(StoreError::NoSuchLayer(p.to_string()));
                }
                strata_sys::btrfs::snapshot(&src, &dst, false)?;
            }
        }
        Ok(())
    }

    fn remove(&self, id: &str) -> Result<()> {
        check_id(id)?;
        let dir = self.dir(id);
        if dir.symlink_metadata().is_err() {
            return Ok(());
        }
        match strata_sys::btrfs::delete_subvolume(&dir) {
            Ok(()) => Ok(()),
            // Unprivileged without `user_subvol_rm_allowed`: empty the tree and
            // rmdir the subvolume root (allowed for its owner since Linux 4.18).
            Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => Ok(strata_sys::fs::remove_tree(&dir)?),
            Err(e) => Err(e.into()),
        }
    }

    fn exists(&self, id: &str) -> bool {
        check_id(id).is_ok() && self.dir(id).is_dir()
    }

    fn list(&self) -> Result<Vec<String>> {
        list_dirs(&self.opts.home.join("subvolumes"))
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
        // Docker reports no GraphDriver data for btrfs.
        require(self, id)?;
        Ok(BTreeMap::new())
    }
}
