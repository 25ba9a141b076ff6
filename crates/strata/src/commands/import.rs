//! `import [-c INSTR]... [-m MSG] [-q] file|- [REPOSITORY[:TAG]]`: a rootfs
//! tarball (plain, gzip or zstd) becomes a one-layer image; the new image id
//! (`sha256:...`) is printed, as by `docker import`.

use std::fs::File;

use strata_store::Reference;
use strata_store::format::{ImportOpts, import};

use crate::cli::ImportArgs;
use crate::output::{Printer, progress};
use crate::settings::Settings;

pub fn run(s: &Settings, a: &ImportArgs, p: &mut Printer) -> anyhow::Result<()> {
    let reference = a.reference.as_deref().map(Reference::parse).transpose()?;
    if a.source.starts_with("http://") || a.source.starts_with("https://") {
        anyhow::bail!("importing from a URL is not supported: download {} and import the file", a.source);
    }
    let opts = ImportOpts {
        reference,
        changes: a.changes.clone(),
        message: a.message.clone(),
        // Docker's CLI streams a local file as well, so the daemon names both `-`.
        source_name: "-".into(),
    };
    let file = if a.source == "-" {
        None
    } else {
        Some(File::open(&a.source).map_err(|e| anyhow::anyhow!("open {}: {e}", a.source))?)
    };
    let store = s.open_store()?;
    let bars = progress::for_terminal(p, a.quiet, "Importing");
    let image = match file {
        Some(f) => import(&store, f, &opts, bars.as_ref())?,
        None => import(&store, p.take_input(), &opts, bars.as_ref())?,
    };
    drop(bars);
    p.outln(image.id.as_str())?;
    Ok(())
}
