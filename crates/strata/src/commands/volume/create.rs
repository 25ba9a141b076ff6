//! `volume create [-d local] [--label K=V]... [-o K=V]... [NAME]`: prints the
//! volume's name (a random 64-hex name when none is given; such a volume is
//! anonymous, so `volume prune` removes it when unused, as newer Docker).

use strata_store::volume::VolumeSpec;

use crate::cli::VolumeCreateArgs;
use crate::opts::kv_map;
use crate::output::Printer;
use crate::settings::Settings;

pub fn run(s: &Settings, a: &VolumeCreateArgs, p: &mut Printer) -> anyhow::Result<()> {
    if a.name.is_some() && a.name_flag.is_some() {
        anyhow::bail!("conflicting options: either specify --name or provide positional arg, not both");
    }
    let name = a.name.clone().or_else(|| a.name_flag.clone()).filter(|n| !n.is_empty());
    let spec = VolumeSpec {
        anonymous: name.is_none(),
        name,
        driver: Some(a.driver.clone()),
        labels: kv_map(&a.labels),
        options: super::key_values(&a.opts, "-o, --opt")?,
    };
    let store = s.open_store()?;
    let v = store.create_volume(&spec)?;
    p.outln(&v.name)?;
    Ok(())
}
