//! `logout [SERVER]`: forget the credentials stored for a registry (Docker
//! Hub when omitted), in config.json or its credential helper.

use strata_registry::{RegistryConfig, registry_domain};

use super::pull::registry_error;
use crate::cli::LogoutArgs;
use crate::output::Printer;
use crate::settings::Settings;

pub fn run(_s: &Settings, a: &LogoutArgs, p: &mut Printer) -> anyhow::Result<()> {
    let registry = registry_domain(a.server.as_deref().unwrap_or(""));
    let shown = strata_registry::auth::auth_key(&registry);
    if strata_registry::logout(&RegistryConfig::from_env(), &registry).map_err(registry_error)? {
        p.outln(&format!("Removing login credentials for {shown}"))?;
    } else {
        p.outln(&format!("Not logged in to {shown}"))?;
    }
    Ok(())
}
