//! `volume clone SOURCE TARGET` (strata's; Docker users ask for it in
//! moby#31854): a new volume with SOURCE's labels, options and data (a
//! btrfs snapshot or reflinks where the filesystem allows); prints TARGET.
//! Copy a volume that no running container writes to, or the copy may be
//! inconsistent.

use crate::cli::VolumeCloneArgs;
use crate::output::Printer;
use crate::settings::Settings;

pub fn run(s: &Settings, a: &VolumeCloneArgs, p: &mut Printer) -> anyhow::Result<()> {
    let store = s.open_store()?;
    let v = store.clone_volume(&a.source, &a.target)?;
    p.outln(&v.name)?;
    Ok(())
}
