//! `rmi` / `image rm` / `image remove`: docker CLI's `runRemove`.
//!
//! Each image is removed in turn; `Untagged:` and `Deleted:` lines are printed
//! as they happen and failures are reported at the end, so one bad name does
//! not stop the others. The exit status is 1 if any removal failed, except
//! that with `-f` a name that does not exist is reported but not fatal.

use strata_store::ErrorKind;
use strata_store::image::RmiEvent;

use crate::cli::RmiArgs;
use crate::error::Exit;
use crate::output::Printer;
use crate::settings::Settings;

pub fn run(s: &Settings, a: &RmiArgs, p: &mut Printer) -> anyhow::Result<()> {
    let store = s.open_store()?;
    let mut errors = Vec::new();
    let mut fatal = false;
    for name in &a.images {
        match store.remove_image(name, a.force) {
            Ok(events) => {
                for e in events {
                    p.outln(&event_line(&e))?;
                }
            }
            Err(e) => {
                if e.kind() != ErrorKind::NotFound {
                    fatal = true;
                }
                errors.push(e);
            }
        }
    }
    if errors.is_empty() {
        return Ok(());
    }
    for e in &errors {
        p.error(&e.to_string())?;
    }
    if !a.force || fatal {
        return Err(Exit(1).into());
    }
    Ok(())
}

/// `Untagged: busybox:latest` / `Deleted: sha256:...`.
pub fn event_line(e: &RmiEvent) -> String {
    match e {
        RmiEvent::Untagged(r) => format!("Untagged: {r}"),
        RmiEvent::Deleted(id) => format!("Deleted: {id}"),
    }
}
