//! `mount` / `container mount CONTAINER...` (Podman's): mount each
//! container's root filesystem on the host and print its path, one per
//! line. Mounts are counted: each `mount` needs an `unmount`. On vfs and
//! btrfs the path is the layer's own tree and nothing is mounted.
//! A failure is reported and the others still go; the exit status is 1 if
//! any failed.

use crate::cli::MountArgs;
use crate::error::Exit;
use crate::output::Printer;
use crate::settings::Settings;

pub fn run(s: &Settings, a: &MountArgs, p: &mut Printer) -> anyhow::Result<()> {
    let store = s.open_store()?;
    let mut failed = false;
    for name in &a.containers {
        match store.container(name).and_then(|c| store.mount_container(&c)) {
            Ok(path) => p.outln(&path.display().to_string())?,
            Err(e) => {
                failed = true;
                p.error(&e.to_string())?;
            }
        }
    }
    if failed {
        return Err(Exit(1).into());
    }
    Ok(())
}
