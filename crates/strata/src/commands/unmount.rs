//! `unmount` / `umount` / `container unmount CONTAINER...` (Podman's): give
//! back one `mount` of each container's root filesystem (the last one
//! unmounts it) and print the container's id. A failure is reported and the
//! others still go; the exit status is 1 if any failed.

use crate::cli::UnmountArgs;
use crate::error::Exit;
use crate::output::Printer;
use crate::settings::Settings;

pub fn run(s: &Settings, a: &UnmountArgs, p: &mut Printer) -> anyhow::Result<()> {
    let store = s.open_store()?;
    let mut failed = false;
    for name in &a.containers {
        match store.container(name).and_then(|c| store.unmount_container(&c).map(|_| c.id)) {
            Ok(id) => p.outln(&id)?,
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
