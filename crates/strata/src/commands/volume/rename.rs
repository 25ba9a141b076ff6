//! `volume rename VOLUME NEW_NAME` (strata's, as Podman 6.1's; moby#31154):
//! renames an unused volume, its data directory included; prints nothing.

use crate::cli::VolumeRenameArgs;
use crate::output::Printer;
use crate::settings::Settings;

pub fn run(s: &Settings, a: &VolumeRenameArgs, _p: &mut Printer) -> anyhow::Result<()> {
    let store = s.open_store()?;
    store.rename_volume(&a.volume, &a.new_name)?;
    Ok(())
}
