//! Global options resolved once: where the store lives and which driver to use.

use std::path::PathBuf;

use strata_store::{Store, StoreOpts};

use crate::cli::Cli;

#[derive(Debug, Clone)]
pub struct Settings {
    pub store: StoreOpts,
}

impl Settings {
    /// `--root`/`STRATA_ROOT`, `--run-root`/`STRATA_RUN_ROOT` and
    /// `--storage-driver`/`STRATA_STORAGE_DRIVER`, with the engine's defaults.
    pub fn from_cli(cli: &Cli) -> Settings {
        let (root, run_root) = StoreOpts::default_paths();
        let nonempty = |p: &Option<PathBuf>| p.clone().filter(|p| !p.as_os_str().is_empty());
        Settings {
            store: StoreOpts {
                root: nonempty(&cli.root).unwrap_or(root),
                run_root: nonempty(&cli.run_root).unwrap_or(run_root),
                driver: cli.storage_driver.clone().filter(|d| !d.is_empty()),
            },
        }
    }

    pub fn open_store(&self) -> anyhow::Result<Store> {
        Ok(Store::open(&self.store)?)
    }
}
