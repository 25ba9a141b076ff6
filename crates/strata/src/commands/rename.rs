//! `rename` / `container rename CONTAINER NEW_NAME`: prints nothing.

use crate::cli::RenameArgs;
use crate::output::Printer;
use crate::settings::Settings;

pub fn run(s: &Settings, a: &RenameArgs, _p: &mut Printer) -> anyhow::Result<()> {
    let new = a.new_name.trim();
    if a.container.trim().is_empty() || new.is_empty() {
        anyhow::bail!("Neither old nor new names may be empty");
    }
    let store = s.open_store()?;
    store.rename_container(&a.container, new)?;
    Ok(())
}
