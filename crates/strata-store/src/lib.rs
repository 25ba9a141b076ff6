//! The strata engine: a synchronous library that owns a data root.
//!
//! ```text
//! <root>/
//!   strata.db          SQLite metadata (WAL): layers, images, tags
//!   <driver>/          the storage driver's home (overlay2/, vfs/, btrfs/)
//!   volumes/<name>/_data  managed volumes
//!   tmp/               staging on the same filesystem as the targets
//! <run_root>/          mount refcounts and locks (default /run/strata)
//! ```
//!
//! Every mutation follows one choreography: record the intent in the
//! database (`state='creating'`, with the owning process), do the work on disk,
//! then publish the record in one transaction. [`Store::open`] sweeps what
//! crashed processes left behind; [`check`] reports and repairs the rest.
#![forbid(unsafe_code)]

pub mod check;
pub mod config;
pub mod container;
pub mod driver;
pub mod error;
pub mod format;
pub mod image;
pub mod layer;
pub mod meta;
pub mod progress;
pub mod reference;
pub mod types;
pub mod volume;

use std::path::{Path, PathBuf};

pub use config::ImageConfig;
pub use error::{ErrorKind, Result, StoreError};
pub use image::Image;
pub use layer::Layer;
pub use reference::Reference;
pub use types::Digest;

use driver::{Driver, DriverOpts};
use error::IoCtx;
use meta::Db;

/// Where and how to open a store.
#[derive(Debug, Clone)]
pub struct StoreOpts {
    pub root: PathBuf,
    pub run_root: PathBuf,
    /// Requested driver; `None` keeps the root's driver or auto-selects for a new root.
    pub driver: Option<String>,
}

impl StoreOpts {
    /// Docker's defaults: `/var/lib/strata` and `/run/strata` as root, XDG dirs otherwise.
    pub fn default_paths() -> (PathBuf, PathBuf) {
        if rustix_is_root() {
            (PathBuf::from("/var/lib/strata"), PathBuf::from("/run/strata"))
        } else {
            let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("/tmp"));
            let data =
                std::env::var_os("XDG_DATA_HOME").map(PathBuf::from).unwrap_or_else(|| home.join(".local/share"));
            let run = std::env::var_os("XDG_RUNTIME_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|| std::env::temp_dir().join(format!("strata-run-{}", users_uid())));
            (data.join("strata"), run.join("strata"))
        }
    }
}

fn rustix_is_root() -> bool {
    users_uid() == 0
}

fn users_uid() -> u32 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").map(|m| m.uid()).unwrap_or(u32::MAX)
}

/// An open data root.
pub struct Store {
    root: PathBuf,
    run_root: PathBuf,
    tmp: PathBuf,
    db: Db,
    driver: Box<dyn Driver>,
}

impl Store {
    /// Open (creating if needed) the data root. A root keeps the driver it was
    /// created with; asking for another one is refused with the reason.
    pub fn open(opts: &StoreOpts) -> Result<Store> {
        std::fs::create_dir_all(&opts.root).ctx("create data root", &opts.root)?;
        std::fs::create_dir_all(&opts.run_root).ctx("create run root", &opts.run_root)?;
        let tmp = opts.root.join("tmp");
        std::fs::create_dir_all(&tmp).ctx("create", &tmp)?;
        let db = Db::open(&opts.root.join("strata.db"))?;
        let existing = db.get_meta("driver")?;
        let name = match (&existing, &opts.driver) {
            (Some(e), Some(r)) if normalise_driver(r) != e.as_str() => {
                // Validate the requested name first so a typo gets the better message.
                if !driver::PRIORITY.contains(&normalise_driver(r)) {
                    driver::open(
                        r,
                        DriverOpts { home: opts.root.join(r), tmp: tmp.clone(), rootless: !rustix_is_root() },
                    )?;
                }
                return Err(StoreError::DriverMismatch {
                    root: opts.root.clone(),
                    existing: e.clone(),
                    requested: r.clone(),
                });
            }
            (Some(e), _) => e.clone(),
            (None, Some(r)) => normalise_driver(r).to_string(),
            (None, None) => driver::auto_select(&opts.root).to_string(),
        };
        let driver = driver::open(
            &name,
            DriverOpts { home: opts.root.join(&name), tmp: tmp.clone(), rootless: !rustix_is_root() },
        )?;
        if existing.is_none() {
            db.set_meta("driver", &name)?;
        }
        let store = Store { root: opts.root.clone(), run_root: opts.run_root.clone(), tmp, db, driver };
        store.sweep()?;
        Ok(store)
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn run_root(&self) -> &Path {
        &self.run_root
    }

    pub fn driver(&self) -> &dyn Driver {
        self.driver.as_ref()
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    /// A fresh staging path under `<root>/tmp`, named after this process so a
    /// sweep can tell whether its owner is still alive.
    pub fn staging_path(&self, what: &str) -> PathBuf {
        driver::staging_path(&self.tmp, what)
    }

    /// Remove what crashed processes left: layers still `creating` whose owner
    /// is gone, and staging files of dead processes.
    fn sweep(&self) -> Result<()> {
        container::sweep_abandoned(self)?;
        layer::sweep_abandoned(self)?;
        let entries = std::fs::read_dir(&self.tmp).ctx("read", &self.tmp)?;
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if driver::staging_abandoned(&name) {
                let p = entry.path();
                if let Err(e) = driver::remove_staging(&p) {
                    tracing::warn!("sweeping {}: {e}", p.display());
                }
            }
        }
        Ok(())
    }
}

fn normalise_driver(name: &str) -> &str {
    if name == "overlay" { "overlay2" } else { name }
}
