//! `volume import VOLUME FILE|- [--replace]` (strata's): restore a volume from
//! `volume export`'s archive (labels and options come back too), Podman's
//! export, or any plain tar; gzip and zstd are detected. The volume is created
//! when missing; the data is staged and swapped in whole, so an interrupted
//! import never leaves a half-filled volume. Prints the volume name.

use crate::cli::VolumeImportArgs;
use crate::output::{Printer, progress};
use crate::settings::Settings;

pub fn run(s: &Settings, a: &VolumeImportArgs, p: &mut Printer) -> anyhow::Result<()> {
    let input: Box<dyn std::io::Read> = if a.input == "-" {
        if p.stdin_is_terminal() {
            anyhow::bail!("requested import from stdin, but stdin is a terminal");
        }
        Box::new(p.take_input())
    } else {
        Box::new(std::fs::File::open(&a.input).map_err(|e| anyhow::anyhow!("open {}: {e}", a.input))?)
    };
    let store = s.open_store()?;
    let bars = progress::for_terminal(p, a.quiet, "Importing");
    let v = store.import_volume(
        &a.volume,
        input,
        &strata_store::volume::ImportOpts { replace: a.replace },
        bars.as_ref(),
    )?;
    drop(bars);
    p.outln(&v.name)?;
    Ok(())
}
