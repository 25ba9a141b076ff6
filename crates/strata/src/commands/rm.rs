//! `rm` / `container rm` / `container remove`: the docker CLI's `runRm`.
//!
//! Each container is removed in turn and its name printed as given; a
//! failure is reported and the others still go, and the exit status is 1 if
//! any failed (`-f` forgives names that do not exist). `-v` also removes the
//! container's anonymous volumes that no other container uses; named
//! volumes stay. A running container is refused without `-f`; with `-f` it
//! is killed first (through the runtime), then removed.

use strata_store::ErrorKind;

use crate::cli::RmArgs;
use crate::error::Exit;
use crate::output::Printer;
use crate::settings::Settings;

pub fn run(s: &Settings, a: &RmArgs, p: &mut Printer) -> anyhow::Result<()> {
    let store = s.open_store()?;
    let mut failed = false;
    for name in &a.containers {
        let c = match store.container(name) {
            Ok(c) => c,
            Err(e) if a.force && e.kind() == ErrorKind::NotFound => continue,
            Err(e) => {
                failed = true;
                p.error(&e.to_string())?;
                continue;
            }
        };
        match strata_runtime::remove(&store, &c, a.force, a.volumes) {
            Ok(_) => p.outln(name)?,
            Err(e) => {
                failed = true;
                p.error(&e.to_string())?;
            }
        }
    }
    if failed {
        return Err(Exit(1).into());
    }
    Ok(())
}
