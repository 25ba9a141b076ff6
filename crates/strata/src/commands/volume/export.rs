//! `volume export VOLUME [-o FILE] [--compress none|gzip|zstd]` (strata's; the
//! backup Docker lacks, docker/cli#1436): a tar of the volume's data with a
//! manifest of its labels, options and root owner/mode (docs/volumes.md).
//! With `-o` the file appears only when complete.

use strata_archive::compress::Compression;
use strata_store::volume::backup::compression_for_path;

use crate::cli::VolumeExportArgs;
use crate::commands::save::write_atomically;
use crate::output::Printer;
use crate::settings::Settings;

pub fn run(s: &Settings, a: &VolumeExportArgs, p: &mut Printer) -> anyhow::Result<()> {
    let compression = match a.compress.as_deref() {
        Some("gzip") => Compression::Gzip,
        Some("zstd") => Compression::Zstd,
        Some(_) => Compression::None,
        None => a.output.as_deref().map(compression_for_path).unwrap_or(Compression::None),
    };
    let store = s.open_store()?;
    match &a.output {
        None => {
            if p.stdout_is_terminal() {
                anyhow::bail!("cowardly refusing to write a volume archive to a terminal. Use the -o flag or redirect");
            }
            let out = p.out_stream();
            store.export_volume(&a.volume, out, compression)?;
            out.flush()?;
        }
        Some(path) => {
            write_atomically(path, "failed to export volume", |w| {
                store.export_volume(&a.volume, w, compression)?;
                Ok(())
            })?;
        }
    }
    Ok(())
}
