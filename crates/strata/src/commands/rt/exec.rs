//! `exec [-d] [-i] [-t] [-u USER] [-w DIR] [-e K=V] CONTAINER CMD...`: a new
//! process in a running container; its exit status is ours.

use crate::cli::ExecArgs;
use crate::engine::runtime::exit_status;
use crate::error::Exit;
use crate::output::Printer;
use crate::settings::Settings;

pub fn run(s: &Settings, a: &ExecArgs, p: &mut Printer) -> anyhow::Result<()> {
    let store = s.open_store()?;
    let c = store.container(&a.container)?;
    let mut env = Vec::new();
    for e in &a.env {
        env.push(crate::opts::env_entry(e, |k| std::env::var(k).ok()).map_err(anyhow::Error::msg)?);
    }
    let opts = strata_runtime::ExecOpts {
        cmd: a.command.clone(),
        env,
        workdir: a.workdir.clone(),
        user: a.user.clone(),
        tty: a.tty,
        interactive: a.interactive,
        detach: a.detach,
    };
    p.flush()?;
    match strata_runtime::exec(&store, &c, &opts)? {
        0 => Ok(()),
        code => Err(Exit(exit_status(code)).into()),
    }
}
