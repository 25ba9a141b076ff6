//! `export` / `container export [-o FILE] CONTAINER`: the flattened rootfs
//! as a tar (image content under volume mount points included, volume
//! contents not; `/.dockerenv` and the empty `/etc/hosts`, `/etc/hostname`,
//! `/etc/resolv.conf` mount points, as Docker).
//!
//! Without `-o` the tar goes to stdout, which must not be a terminal; with
//! `-o` it is staged next to FILE and renamed into place when complete (see
//! [`super::save::write_atomically`]).

use crate::cli::ExportArgs;
use crate::output::Printer;
use crate::settings::Settings;

pub fn run(s: &Settings, a: &ExportArgs, p: &mut Printer) -> anyhow::Result<()> {
    match &a.output {
        None => {
            if p.stdout_is_terminal() {
                anyhow::bail!("cowardly refusing to save to a terminal. Use the -o flag or redirect");
            }
            let store = s.open_store()?;
            let c = store.container(&a.container)?;
            let out = p.out_stream();
            store.export_container(&c, out)?;
            std::io::Write::flush(out)?;
        }
        Some(path) => {
            let store = s.open_store()?;
            let c = store.container(&a.container)?;
            super::save::write_atomically(path, "failed to export container", |w| {
                store.export_container(&c, w)?;
                Ok(())
            })?;
        }
    }
    Ok(())
}
