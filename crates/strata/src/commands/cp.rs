//! `cp` / `container cp [-a] [-L] [-q] SRC DEST`: Docker's copy between a
//! container (stopped or running, its volumes included) and the host, or a
//! tar stream (`-`); strata also copies container → container and
//! `volume:NAME:PATH` (see `strata_store::container::cp`).
//!
//! The engine assembles each container's filesystem view with mounts, so the
//! command first moves the process into a private mount namespace — while it
//! is still single-threaded, before the store is opened — where the mounts
//! stay invisible to the host and die with the process.
//!
//! Files copied out are owned by the invoking user (root: 0:0), as the
//! docker CLI extracts them; `-a` makes files copied in owned by the
//! container's `USER`. With a terminal on stderr and no `-q`, Docker's
//! `Successfully copied 2.05kB to DEST` ends the copy.

use strata_archive::cp::CpOpts;
use strata_store::container::cp::{CpEndpoint, parse_cp_arg};

use crate::cli::CpArgs;
use crate::error::StatusError;
use crate::output::{Printer, units};
use crate::settings::Settings;

pub fn run(s: &Settings, a: &CpArgs, p: &mut Printer) -> anyhow::Result<()> {
    strata_sys::ns::private_mount_namespace()
        .map_err(|e| anyhow::anyhow!("cp needs a private mount namespace (run as root): {e}"))?;
    let src = parse_cp_arg(&a.src);
    let dst = parse_cp_arg(&a.dest);
    let opts = CpOpts {
        follow_link: a.follow_link,
        chown: None,
        host_owner: Some((rustix::process::getuid().as_raw(), rustix::process::getgid().as_raw())),
    };
    let store = s.open_store()?;
    let mut input = p.take_input();
    let stats = {
        let out = p.out_stream();
        let r = if a.archive {
            store.cp_archive(&src, &dst, &opts, &mut input, out)
        } else {
            store.cp(&src, &dst, &opts, &mut input, out)
        };
        r.map_err(|e| StatusError { code: 1, message: e.to_string() })?
    };
    if dst == CpEndpoint::Stream {
        std::io::Write::flush(p.out_stream())?;
    } else if !a.quiet && p.stderr_is_terminal() {
        p.errln(&format!("Successfully copied {} to {}", units::human_size(stats.bytes as f64), a.dest))?;
    }
    Ok(())
}
