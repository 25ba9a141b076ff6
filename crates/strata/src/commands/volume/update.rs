//! `volume update [--label-add K=V]... [--label-rm K]... VOLUME` (strata's;
//! Docker's labels are immutable, moby#25291): prints the volume's name.
//! Removals apply first; removing a label the volume lacks is an error.

use crate::cli::VolumeUpdateArgs;
use crate::output::Printer;
use crate::settings::Settings;

pub fn run(s: &Settings, a: &VolumeUpdateArgs, p: &mut Printer) -> anyhow::Result<()> {
    if a.label_add.is_empty() && a.label_rm.is_empty() {
        anyhow::bail!("nothing to update: give --label-add KEY=VALUE or --label-rm KEY");
    }
    let add = super::key_values(&a.label_add, "--label-add")?;
    let store = s.open_store()?;
    let v = store.update_volume_labels(&a.volume, &add, &a.label_rm)?;
    p.outln(&v.name)?;
    Ok(())
}
