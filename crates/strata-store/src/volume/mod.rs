//! Managed volumes, where Docker users expect them:
//!
//! ```text
//! <root>/volumes/<name>/        0701 root (Docker's wrapper directory)
//! <root>/volumes/<name>/_data/  the data, mounted into containers
//! ```
//!
//! The record is the truth: it is written before the directory, and a missing
//! directory is recreated on use, so a crash never leaves a volume that is on
//! disk but invisible (user data is never swept).

use std::collections::BTreeMap;
use std::os::unix::fs::DirBuilderExt;
use std::path::PathBuf;

use rusqlite::{OptionalExtension, params};

use crate::Store;
use crate::error::{IoCtx, Result, StoreError};
use crate::meta::now_rfc3339;

pub mod backup;
pub mod ops;
pub use backup::ImportOpts;
pub use ops::VolumeFilter;

/// Docker's label marking anonymous volumes (Engine ≥ 23).
pub const ANONYMOUS_LABEL: &str = "com.docker.volume.anonymous";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Volume {
    pub name: String,
    pub driver: String,
    pub labels: BTreeMap<String, String>,
    pub options: BTreeMap<String, String>,
    pub anonymous: bool,
    pub created: String,
    /// `<root>/volumes/<name>/_data`.
    pub mountpoint: PathBuf,
}

/// A `volume create` request.
#[derive(Debug, Clone, Default)]
pub struct VolumeSpec {
    pub name: Option<String>,
    pub driver: Option<String>,
    pub labels: BTreeMap<String, String>,
    pub options: BTreeMap<String, String>,
    pub anonymous: bool,
}

impl Store {
    pub fn volumes_dir(&self) -> PathBuf {
        self.root().join("volumes")
    }

    fn volume_data(&self, name: &str) -> PathBuf {
        self.volumes_dir().join(name).join("_data")
    }

    /// `volume create`: Docker's validation. Creating an existing name with the
    /// same options returns it; with different options is an error (Docker
    /// silently ignores them, which hides mistakes).
    pub fn create_volume(&self, spec: &VolumeSpec) -> Result<Volume> {
        let driver = spec.driver.clone().unwrap_or_else(|| "local".into());
        if driver != "local" {
            return Err(StoreError::invalid(
                format!("volume driver {driver:?}"),
                "only the \"local\" volume driver is available",
            ));
        }
        let name = match &spec.name {
            Some(n) => {
                validate_name(n)?;
                n.clone()
            }
            None => strata_sys::random_id(),
        };
        validate_options(&spec.options)?;
        let mut labels = spec.labels.clone();
        if spec.anonymous {
            labels.insert(ANONYMOUS_LABEL.into(), String::new());
        }
        if let Some(existing) = self.find_volume(&name)? {
            if existing.options != spec.options || (!spec.labels.is_empty() && existing.labels != labels) {
                return Err(StoreError::VolumeExists {
                    name,
                    reason: "it exists with different options or labels; remove it first or use `volume update`".into(),
                });
            }
            return Ok(existing);
        }
        let labels_json = serde_json::to_string(&labels).expect("labels serialise");
        let options_json = serde_json::to_string(&spec.options).expect("options serialise");
        self.db().write(|tx| {
            tx.execute(
                "INSERT INTO volumes(name, driver, labels, options, anonymous, created) VALUES (?1,?2,?3,?4,?5,?6)
                 ON CONFLICT(name) DO NOTHING",
                params![name, driver, labels_json, options_json, spec.anonymous, now_rfc3339()],
            )
        })?;
        self.volume(&name)
    }

    /// A volume by name; its directory is (re)created if missing.
    pub fn volume(&self, name: &str) -> Result<Volume> {
        let v = self.find_volume(name)?.ok_or_else(|| StoreError::NoSuchVolume(name.to_string()))?;
        self.ensure_volume_dir(&v.name)?;
        Ok(v)
    }

    fn ensure_volume_dir(&self, name: &str) -> Result<()> {
        let wrapper = self.volumes_dir().join(name);
        if !wrapper.is_dir() {
            std::fs::create_dir_all(self.volumes_dir()).ctx("create", &self.volumes_dir())?;
            std::fs::DirBuilder::new()
                .mode(0o701)
                .create(&wrapper)
                .or_else(|e| if e.kind() == std::io::ErrorKind::AlreadyExists { Ok(()) } else { Err(e) })
                .ctx("create", &wrapper)?;
            strata_sys::fs::chmod(&wrapper, 0o701)?;
        }
        let data = wrapper.join("_data");
        if !data.is_dir() {
            // On btrfs `_data` is a subvolume, so `volume clone` is one snapshot.
            if strata_sys::btrfs::is_btrfs(&wrapper) && strata_sys::btrfs::create_subvolume(&data).is_ok() {
                strata_sys::fs::chmod(&data, 0o755)?;
                return Ok(());
            }
            std::fs::DirBuilder::new()
                .mode(0o755)
                .create(&data)
                .or_else(|e| if e.kind() == std::io::ErrorKind::AlreadyExists { Ok(()) } else { Err(e) })
                .ctx("create", &data)?;
        }
        Ok(())
    }

    pub fn find_volume(&self, name: &str) -> Result<Option<Volume>> {
        let row = self
            .db()
            .conn()
            .query_row(
                "SELECT name, driver, labels, options, anonymous, created FROM volumes WHERE name=?1",
                [name],
                row_to_raw,
            )
            .optional()
            .map_err(|e| self.db().err(e))?;
        row.map(|r| self.raw_to_volume(r)).transpose()
    }

    pub fn volumes(&self) -> Result<Vec<Volume>> {
        let mut stmt = self
            .db()
            .conn()
            .prepare("SELECT name, driver, labels, options, anonymous, created FROM volumes ORDER BY name")
            .map_err(|e| self.db().err(e))?;
        let rows: Vec<RawVolume> =
            stmt.query_map([], row_to_raw).and_then(|r| r.collect()).map_err(|e| self.db().err(e))?;
        rows.into_iter().map(|r| self.raw_to_volume(r)).collect()
    }

    fn raw_to_volume(&self, r: RawVolume) -> Result<Volume> {
        let bad = |what: &str, e: serde_json::Error| StoreError::Corrupt(format!("volume {}: {what}: {e}", r.0));
        Ok(Volume {
            mountpoint: self.volume_data(&r.0),
            labels: serde_json::from_str(&r.2).map_err(|e| bad("labels", e))?,
            options: serde_json::from_str(&r.3).map_err(|e| bad("options", e))?,
            name: r.0.clone(),
            driver: r.1,
            anonymous: r.4,
            created: r.5,
        })
    }

    /// Ids of the containers that reference a volume.
    pub fn volume_users(&self, name: &str) -> Result<Vec<String>> {
        let mut stmt = self
            .db()
            .conn()
            .prepare("SELECT container_id FROM container_volumes WHERE volume=?1 ORDER BY container_id")
            .map_err(|e| self.db().err(e))?;
        stmt.query_map([name], |r| r.get(0)).and_then(|r| r.collect()).map_err(|e| self.db().err(e))
    }

    /// `volume rm [-f]`: a volume in use is refused, naming its containers (even
    /// with `force`, as Docker); `force` only makes a missing volume not an error.
    pub fn remove_volume(&self, name: &str, force: bool) -> Result<()> {
        let removed = self.db().try_write(|tx| {
            let users: Vec<String> = {
                let mut stmt = tx
                    .prepare("SELECT container_id FROM container_volumes WHERE volume=?1 ORDER BY container_id")
                    .map_err(|e| self.db().err(e))?;
                stmt.query_map([name], |r| r.get(0)).and_then(|r| r.collect()).map_err(|e| self.db().err(e))?
            };
            if !users.is_empty() {
                return Err(StoreError::VolumeInUse { name: name.to_string(), containers: users });
            }
            let n = tx.execute("DELETE FROM volumes WHERE name=?1", [name]).map_err(|e| self.db().err(e))?;
            Ok(n > 0)
        })?;
        if !removed {
            return if force { Ok(()) } else { Err(StoreError::NoSuchVolume(name.to_string())) };
        }
        self.delete_volume_dir(name)
    }

    /// Delete a volume's directory: renamed into staging first, so the volume
    /// disappears at once and a crash leaves only staging to sweep.
    fn delete_volume_dir(&self, name: &str) -> Result<()> {
        let dir = self.volumes_dir().join(name);
        if dir.symlink_metadata().is_err() {
            return Ok(());
        }
        if strata_sys::mount::is_mountpoint(&dir.join("_data")) {
            strata_sys::mount::unmount(&dir.join("_data"), true)?;
        }
        let doomed = self.staging_path("volume.rm");
        std::fs::rename(&dir, &doomed).ctx("rename", &dir)?;
        let data = doomed.join("_data");
        if strata_sys::btrfs::is_subvolume(&data) {
            strata_sys::btrfs::delete_subvolume(&data)?;
        }
        Ok(strata_sys::fs::remove_tree(&doomed)?)
    }

    /// Remove a container's anonymous volumes that no other container uses
    /// (`rm -v`, `run --rm`). Called after the container's record is gone.
    pub(crate) fn release_anonymous_volumes(&self, c: &crate::container::Container) -> Result<()> {
        for m in &c.mounts {
            if m.kind != crate::container::MountKind::Volume || m.from.is_some() {
                continue;
            }
            let Some(v) = self.find_volume(&m.name)? else { continue };
            if !v.anonymous {
                continue;
            }
            match self.remove_volume(&v.name, false) {
                Ok(()) | Err(StoreError::VolumeInUse { .. }) | Err(StoreError::NoSuchVolume(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

type RawVolume = (String, String, String, String, bool, String);

fn row_to_raw(r: &rusqlite::Row<'_>) -> rusqlite::Result<RawVolume> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?))
}

/// Docker's volume name rule, with Docker's message.
pub(crate) fn validate_name(n: &str) -> Result<()> {
    if crate::container::spec::valid_volume_name(n) {
        return Ok(());
    }
    Err(StoreError::invalid(
        format!("create {n}"),
        "includes invalid characters for a local volume name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host directory, use absolute path",
    ))
}

/// Docker's `local` driver options: `type`, `device`, `o` (and `size` for quotas).
fn validate_options(opts: &BTreeMap<String, String>) -> Result<()> {
    for k in opts.keys() {
        if !["type", "device", "o", "size"].contains(&k.as_str()) {
            return Err(StoreError::invalid(
                format!("volume option {k:?}"),
                "invalid option key; valid keys are type, device, o, size",
            ));
        }
    }
    // Docker's validateOpts: a type needs a device and a device needs a type.
    if opts.contains_key("type") && !opts.contains_key("device") {
        return Err(StoreError::invalid("volume options", "missing required option: \"device\""));
    }
    if opts.contains_key("device") && !opts.contains_key("type") {
        return Err(StoreError::invalid("volume options", "missing required option: \"type\""));
    }
    Ok(())
}
