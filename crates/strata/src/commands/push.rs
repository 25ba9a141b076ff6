//! `push [-q] NAME[:TAG]`: as `docker push`. Prints `The push refers to
//! repository [...]`, per-layer lines on a terminal (`Pushed`, `Layer already
//! exists`, `Mounted from …`), then `<tag>: digest: sha256:… size: N`; with
//! `-q`, only the reference.

use strata_registry::{NoProgress, PushOpts, TransferProgress};
use strata_store::Reference;

use super::pull::{TransferBars, registry_config, registry_error};
use crate::cli::PushArgs;
use crate::output::Printer;
use crate::settings::Settings;

pub fn run(s: &Settings, a: &PushArgs, p: &mut Printer) -> anyhow::Result<()> {
    let reference = Reference::parse(&a.image)?;
    if !a.quiet && !a.image.contains(':') {
        p.outln("Using default tag: latest")?;
    }
    let store = s.open_store()?;
    let opts = PushOpts { registry: registry_config(&a.registry), gzip_level: None };
    let bars = TransferBars::for_terminal(p, a.quiet);
    if !a.quiet && bars.is_none() {
        p.outln(&format!("The push refers to repository [{}]", reference.repository()))?;
        p.flush()?;
    }
    let progress: &dyn TransferProgress = match &bars {
        Some(b) => b,
        None => &NoProgress,
    };
    let report = strata_registry::push(&store, &reference, &opts, progress).map_err(registry_error)?;
    drop(bars);
    if a.quiet {
        p.outln(&reference.to_string())?;
    } else {
        p.outln(&format!("{}: digest: {} size: {}", report.tag, report.digest, report.size))?;
    }
    Ok(())
}
