//! Volume operations beyond create/remove: Docker's list filters and prune,
//! and what users asked Docker for (moby#31154, moby#31854): clone, rename,
//! label updates, sizes.

use std::collections::BTreeMap;

use rusqlite::params;

use super::{ANONYMOUS_LABEL, Volume, VolumeSpec};
use crate::Store;
use crate::error::{IoCtx, Result, StoreError};

/// `volume ls --filter` / `volume prune --filter`, Docker's keys.
#[derive(Debug, Clone, Default)]
pub struct VolumeFilter {
    pub dangling: Option<bool>,
    pub drivers: Vec<String>,
    /// `label=k` or `label=k=v`: all must match.
    pub labels: Vec<String>,
    /// `label!=k` / `label!=k=v`: none may match.
    pub not_labels: Vec<String>,
    /// Substring match on the name (Docker's `name` filter).
    pub names: Vec<String>,
}

impl VolumeFilter {
    /// Parse `key=value` filter arguments; unknown keys are errors, as in Docker.
    pub fn parse(args: &[String], allow_all: bool) -> Result<(VolumeFilter, bool)> {
        let mut f = VolumeFilter::default();
        let mut all = false;
        for a in args {
            let (k, v) = a.split_once('=').ok_or_else(|| {
                StoreError::invalid(format!("filter {a:?}"), "bad format of filter (expected name=value)")
            })?;
            match k {
                "dangling" => {
                    f.dangling = Some(match v {
                        "true" | "1" => true,
                        "false" | "0" => false,
                        _ => {
                            return Err(StoreError::invalid(
                                format!("filter {a:?}"),
                                "invalid filter 'dangling', expected true or false",
                            ));
                        }
                    })
                }
                "driver" => f.drivers.push(v.to_string()),
                "name" => f.names.push(v.to_string()),
                "label" => f.labels.push(v.to_string()),
                "label!" => f.not_labels.push(v.to_string()),
                "all" if allow_all => all = matches!(v, "true" | "1"),
                _ => return Err(StoreError::invalid(format!("filter {a:?}"), format!("invalid filter '{k}'"))),
            }
        }
        Ok((f, all))
    }

    fn label_matches(v: &Volume, spec: &str) -> bool {
        match spec.split_once('=') {
            Some((k, val)) => v.labels.get(k).map(String::as_str) == Some(val),
            None => v.labels.contains_key(spec),
        }
    }

    pub fn matches(&self, v: &Volume, in_use: bool) -> bool {
        if let Some(d) = self.dangling
            && d == in_use
        {
            return false;
        }
        if !self.drivers.is_empty() && !self.drivers.contains(&v.driver) {
            return false;
        }
        if !self.names.is_empty() && !self.names.iter().any(|n| v.name.contains(n.as_str())) {
            return false;
        }
        self.labels.iter().all(|l| Self::label_matches(v, l))
            && !self.not_labels.iter().any(|l| Self::label_matches(v, l))
    }
}

impl Store {
    /// `volume ls` with filters.
    pub fn list_volumes(&self, filter: &VolumeFilter) -> Result<Vec<Volume>> {
        let mut out = Vec::new();
        for v in self.volumes()? {
            let in_use = !self.volume_users(&v.name)?.is_empty();
            if filter.matches(&v, in_use) {
                out.push(v);
            }
        }
        Ok(out)
    }

    /// `volume prune`: unused volumes without options (Docker never prunes those),
    /// anonymous ones only unless `all` (Docker ≥ 23). With `dry_run` nothing is
    /// removed. Returns the volumes (and their sizes) that were (or would be) removed.
    pub fn prune_volumes(&self, filter: &VolumeFilter, all: bool, dry_run: bool) -> Result<Vec<(String, u64)>> {
        let mut out = Vec::new();
        for v in self.volumes()? {
            if !v.options.is_empty() || (!all && !v.anonymous) {
                continue;
            }
            if !self.volume_users(&v.name)?.is_empty() || !filter.matches(&v, false) {
                continue;
            }
            let size = crate::driver::dir_size(&v.mountpoint).unwrap_or(0);
            if !dry_run {
                match self.remove_volume(&v.name, false) {
                    Ok(()) => {}
                    Err(StoreError::VolumeInUse { .. }) => continue, // raced with a new user
                    Err(e) => return Err(e),
                }
            }
            out.push((v.name, size));
        }
        Ok(out)
    }

    /// `volume clone SRC DST`: a new volume with SRC's labels, options and data.
    /// A btrfs snapshot when `_data` is a subvolume, reflinked files where the
    /// filesystem can, a full copy elsewhere. Staged, then published, so a
    /// failure leaves no DST.
    pub fn clone_volume(&self, src: &str, dst: &str) -> Result<Volume> {
        let s = self.volume(src)?;
        if self.find_volume(dst)?.is_some() {
            return Err(StoreError::VolumeExists { name: dst.into(), reason: "choose another name".into() });
        }
        let mut labels = s.labels.clone();
        labels.remove(ANONYMOUS_LABEL);
        let spec = VolumeSpec { name: Some(dst.to_string()), labels, options: s.options.clone(), ..Default::default() };
        // Validate the name and options before copying anything.
        super::validate_name(dst)?;
        let stage = self.staging_path("volume.clone");
        std::fs::create_dir_all(&stage).ctx("create", &stage)?;
        let staged_data = stage.join("_data");
        let copied = if strata_sys::btrfs::is_subvolume(&s.mountpoint) {
            strata_sys::btrfs::snapshot(&s.mountpoint, &staged_data, false).map(|_| ())
        } else {
            strata_sys::copy::copy_tree(&s.mountpoint, &staged_data).map(|_| ())
        };
        if let Err(e) = copied {
            let _ = strata_sys::fs::remove_tree(&stage);
            return Err(e.into());
        }
        let v = self.create_volume(&spec)?;
        // The new volume's empty _data is replaced by the staged copy.
        let publish = (|| -> Result<()> {
            strata_sys::fs::rename_exchange(&staged_data, &v.mountpoint)?;
            Ok(())
        })();
        let _ = strata_sys::fs::remove_tree(&stage);
        if let Err(e) = publish {
            let _ = self.remove_volume(dst, true);
            return Err(e);
        }
        self.volume(dst)
    }

    /// `volume rename OLD NEW` (unused volumes only, as Podman 6.1).
    pub fn rename_volume(&self, old: &str, new: &str) -> Result<()> {
        super::validate_name(new)?;
        let v = self.volume(old)?;
        let users = self.volume_users(old)?;
        if !users.is_empty() {
            return Err(StoreError::VolumeInUse { name: old.into(), containers: users });
        }
        if self.find_volume(new)?.is_some() {
            return Err(StoreError::VolumeExists { name: new.into(), reason: "choose another name".into() });
        }
        let from = self.volumes_dir().join(&v.name);
        let to = self.volumes_dir().join(new);
        self.db().try_write(|tx| {
            tx.execute("UPDATE volumes SET name=?1 WHERE name=?2", params![new, old]).map_err(|e| self.db().err(e))?;
            // Inside the transaction: if the rename fails the record is rolled back;
            // a crash after it leaves a directory `system check --repair` adopts.
            strata_sys::fs::rename_noreplace(&from, &to)?;
            Ok(())
        })
    }

    /// `volume update --label-add K=V --label-rm K`.
    pub fn update_volume_labels(&self, name: &str, add: &BTreeMap<String, String>, rm: &[String]) -> Result<Volume> {
        let v = self.volume(name)?;
        let mut labels = v.labels.clone();
        for k in rm {
            if labels.remove(k).is_none() {
                return Err(StoreError::invalid(
                    format!("--label-rm {k}"),
                    format!("volume {name} has no label {k:?}"),
                ));
            }
        }
        labels.extend(add.clone());
        let json = serde_json::to_string(&labels).expect("labels serialise");
        self.db()
            .write(|tx| tx.execute("UPDATE volumes SET labels=?1 WHERE name=?2", params![json, name]).map(|_| ()))?;
        self.volume(name)
    }

    /// Apparent size of a volume's data.
    pub fn volume_size(&self, v: &Volume) -> Result<u64> {
        crate::driver::dir_size(&v.mountpoint)
    }
}
