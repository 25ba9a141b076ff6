//! `diff` / `container diff CONTAINER`: one `A`/`C`/`D` line per changed path
//! of the container's writable layer, as `docker diff` prints them. Volume
//! contents never appear (only the mount point directory a runtime created).

use crate::cli::DiffArgs;
use crate::output::Printer;
use crate::settings::Settings;

pub fn run(s: &Settings, a: &DiffArgs, p: &mut Printer) -> anyhow::Result<()> {
    let store = s.open_store()?;
    let c = store.container(&a.container)?;
    let mut out = String::new();
    for change in store.container_changes(&c)? {
        out.push(change.kind.letter());
        out.push(' ');
        out.push_str(&change.path);
        out.push('\n');
    }
    p.out(&out)?;
    Ok(())
}
