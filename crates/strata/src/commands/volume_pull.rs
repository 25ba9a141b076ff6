//! `volume pull [--replace] NAME[:TAG|@DIGEST] [VOLUME]` (strata's): recreate
//! a volume pushed with `volume push`, under its pushed name or VOLUME; an
//! existing volume must be empty unless `--replace`. Prints the volume's name.

use strata_registry::{NoProgress, TransferProgress, VolumePullOpts};
use strata_store::Reference;

use super::pull::{TransferBars, registry_config, registry_error};
use crate::cli::VolumePullArgs;
use crate::output::Printer;
use crate::settings::Settings;

pub fn run(s: &Settings, a: &VolumePullArgs, p: &mut Printer) -> anyhow::Result<()> {
    let reference = Reference::parse(&a.reference)?;
    let store = s.open_store()?;
    let opts = VolumePullOpts { registry: registry_config(&a.registry), replace: a.replace };
    let bars = TransferBars::for_terminal(p, false);
    let progress: &dyn TransferProgress = match &bars {
        Some(b) => b,
        None => &NoProgress,
    };
    let v = strata_registry::volume_pull(&store, &reference, a.volume.as_deref(), &opts, progress)
        .map_err(registry_error)?;
    drop(bars);
    p.outln(&v.name)?;
    Ok(())
}
