//! `tag SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]` / `image tag`: prints nothing on success.

use strata_store::Reference;

use crate::cli::TagArgs;
use crate::output::Printer;
use crate::settings::Settings;

pub fn run(s: &Settings, a: &TagArgs, _p: &mut Printer) -> anyhow::Result<()> {
    let target = Reference::parse(&a.target)?;
    let store = s.open_store()?;
    store.tag(&a.source, &target)?;
    Ok(())
}
