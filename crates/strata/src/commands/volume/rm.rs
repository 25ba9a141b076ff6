//! `volume rm [-f] VOLUME...`: the docker CLI's `runRemove`. Each volume
//! is removed in turn and its name printed; a volume in use (even by a
//! stopped container) is refused — `-f` does not change that, it only
//! forgives names that do not exist — and the others still go. The exit
//! status is 1 if any failed, so `strata volume rm $(strata volume ls -q)`
//! removes the unused volumes and names the ones in use.

use crate::cli::VolumeRmArgs;
use crate::error::Exit;
use crate::output::Printer;
use crate::settings::Settings;

pub fn run(s: &Settings, a: &VolumeRmArgs, p: &mut Printer) -> anyhow::Result<()> {
    let store = s.open_store()?;
    let mut failed = false;
    for name in &a.volumes {
        match store.remove_volume(name, a.force) {
            Ok(()) => p.outln(name)?,
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
