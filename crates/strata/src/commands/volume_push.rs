//! `volume push VOLUME NAME[:TAG]` (strata's): the volume's export archive
//! (files, owners, modes, xattrs, labels) as an OCI artifact in a registry,
//! for `volume pull` on another host. Prints `<tag>: digest: sha256:… size: N`.

use strata_registry::{NoProgress, TransferProgress};
use strata_store::Reference;

use super::pull::{TransferBars, registry_config, registry_error};
use crate::cli::VolumePushArgs;
use crate::output::Printer;
use crate::settings::Settings;

pub fn run(s: &Settings, a: &VolumePushArgs, p: &mut Printer) -> anyhow::Result<()> {
    let reference = Reference::parse(&a.reference)?;
    let store = s.open_store()?;
    let bars = TransferBars::for_terminal(p, false);
    let progress: &dyn TransferProgress = match &bars {
        Some(b) => b,
        None => &NoProgress,
    };
    let report = strata_registry::volume_push(&store, &a.volume, &reference, &registry_config(&a.registry), progress)
        .map_err(registry_error)?;
    drop(bars);
    p.outln(&format!("{}: digest: {} size: {}", report.tag, report.digest, report.size))?;
    Ok(())
}
