//! Where the runtime keeps its files.
//!
//! ```text
//! <root>/containers/<id>/<id>-json.log   the json-file log (kept across restarts, Docker's place)
//! <run_root>/containers/<id>/            run-time files, gone with the container (tmpfs: gone at reboot)
//!     bundle/config.json                 the OCI bundle (root.path = the mounted rootfs)
//!     hosts hostname resolv.conf         bind-mounted over /etc/…
//!     monitor.lock                       flock held by the monitor for its whole life
//!     monitor.log                        the monitor's own stderr (diagnostics)
//!     runtime.json                       which OCI runtime (binary, --root) runs the container
//!     runtime.log                        the OCI runtime's --log (json lines)
//!     pid                                the OCI runtime's --pid-file
//!     ports.json                         published ports while running
//!     exec-<rand>.json                   process specs of `exec`
//! <run_root>/<runtime name>/             the OCI runtime's --root (runc: <run_root>/runc)
//! <run_root>/sock/<id[..16]>.sock        console sockets (short: sun_path holds 108 bytes)
//! ```

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use strata_store::Store;

use crate::error::{IoCtx, Result};

/// The files of one container.
#[derive(Debug, Clone)]
pub struct ContainerPaths {
    pub run_dir: PathBuf,
    pub log_dir: PathBuf,
    pub id: String,
}

impl ContainerPaths {
    pub fn new(store: &Store, id: &str) -> ContainerPaths {
        ContainerPaths {
            run_dir: store.run_root().join("containers").join(id),
            log_dir: store.root().join("containers").join(id),
            id: id.to_string(),
        }
    }

    pub fn bundle(&self) -> PathBuf {
        self.run_dir.join("bundle")
    }

    pub fn log_file(&self) -> PathBuf {
        self.log_dir.join(format!("{}-json.log", self.id))
    }

    pub fn file(&self, name: &str) -> PathBuf {
        self.run_dir.join(name)
    }

    pub fn console_socket(&self, run_root: &Path) -> PathBuf {
        run_root.join("sock").join(format!("{}.sock", &self.id[..16.min(self.id.len())]))
    }

    pub fn ensure_run_dir(&self) -> Result<()> {
        std::fs::create_dir_all(&self.run_dir).ctx("create", &self.run_dir)
    }

    /// Remove the run-time and log directories (after the container is removed).
    pub fn remove_all(&self) {
        for d in [&self.run_dir, &self.log_dir] {
            if d.exists()
                && !strata_sys::mount::is_mountpoint(d)
                && let Err(e) = std::fs::remove_dir_all(d)
            {
                tracing::warn!("removing {}: {e}", d.display());
            }
        }
    }
}

/// Which OCI runtime runs a container (`runtime.json`), so `stop`, `exec`,
/// `top` use the one `start` used.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RuntimeInfo {
    pub binary: PathBuf,
    pub root: PathBuf,
}

impl RuntimeInfo {
    pub fn load(paths: &ContainerPaths) -> Option<RuntimeInfo> {
        let s = std::fs::read(paths.file("runtime.json")).ok()?;
        serde_json::from_slice(&s).ok()
    }

    pub fn save(&self, paths: &ContainerPaths) -> Result<()> {
        // Run-time file: atomic for readers, not fsynced (the run root is a tmpfs).
        let p = paths.file("runtime.json");
        let tmp = paths.file("runtime.json.tmp");
        std::fs::write(&tmp, serde_json::to_vec(self).expect("serialises")).ctx("write", &tmp)?;
        std::fs::rename(&tmp, &p).ctx("rename", &p)
    }
}
