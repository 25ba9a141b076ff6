//! `run [OPTIONS] IMAGE [CMD...]`: `create`, then `start` attached (or `-d`:
//! print the id once the container runs). The exit status is the container's;
//! 125 for engine errors, 126/127 when the command cannot be executed.

use crate::cli::RunArgs;
use crate::commands::create::spec_from_args;
use crate::engine::runtime::{exit_status, start_opts};
use crate::error::Exit;
use crate::output::Printer;
use crate::settings::Settings;

pub fn run(s: &Settings, a: &RunArgs, p: &mut Printer) -> anyhow::Result<()> {
    let cwd = std::env::current_dir().ok().map(|d| d.to_string_lossy().into_owned());
    let mut env_files = Vec::new();
    for f in &a.create.env_file {
        env_files.push(std::fs::read_to_string(f).map_err(|e| anyhow::anyhow!("open {}: {e}", f.display()))?);
    }
    let spec = spec_from_args(&a.create, &env_files, |k| std::env::var(k).ok(), cwd.as_deref())
        .map_err(|e| crate::error::StatusError { code: 125, message: format!("{e:#}") })?;
    let store = s.open_store().map_err(|e| crate::error::StatusError { code: 125, message: format!("{e:#}") })?;
    let c =
        store.create_container(&spec).map_err(|e| crate::error::StatusError { code: 125, message: e.to_string() })?;
    let mut opts = start_opts(&c, a.detach, a.create.interactive)?;
    if a.runtime.is_some() {
        opts.runtime = a.runtime.clone();
    }
    p.flush()?;
    let outcome = strata_runtime::start_with_output(&store, &c, &opts, p.out_stream(), &mut std::io::stderr())?;
    if a.detach {
        p.outln(&c.id)?;
        return Ok(());
    }
    match outcome.exit_code {
        Some(0) | None => Ok(()),
        Some(code) => Err(Exit(exit_status(code)).into()),
    }
}
