//! `load [-i FILE] [-q]`: docker-archive, OCI layout or oci-archive, from a
//! file or stdin; prints `Loaded image: busybox:latest` per image. A terminal
//! on stdin is refused with Docker's message instead of waiting forever.

use strata_store::format::{LoadInput, load};

use crate::cli::LoadArgs;
use crate::output::{Printer, progress};
use crate::settings::Settings;

pub fn run(s: &Settings, a: &LoadArgs, p: &mut Printer) -> anyhow::Result<()> {
    let input = match &a.input {
        Some(path) => LoadInput::Path(path.clone()),
        None => {
            if p.stdin_is_terminal() {
                anyhow::bail!("requested load from stdin, but stdin is empty");
            }
            LoadInput::Reader(Box::new(p.take_input()))
        }
    };
    let store = s.open_store()?;
    let bars = progress::for_terminal(p, a.quiet, "Loading layer");
    let report = load(&store, input, bars.as_ref())?;
    drop(bars);
    for line in report.lines() {
        p.outln(&line)?;
    }
    Ok(())
}
