//! `start`, `stop`, `kill`, `restart`, `wait`, `top`: one container at a time,
//! as Docker (several names are handled in turn; failures reported and the
//! exit status 1 at the end).

use std::time::Duration;

use strata_store::Store;

use crate::cli::{KillArgs, RestartArgs, StartArgs, StopArgs, TopArgs, WaitArgs};
use crate::engine::runtime::{exit_status, start_opts};
use crate::error::Exit;
use crate::output::Printer;
use crate::settings::Settings;

/// Run `f` for each name, printing errors as Docker does; exit 1 if any failed.
fn each(
    store: &Store,
    names: &[String],
    p: &mut Printer,
    mut f: impl FnMut(&Store, &strata_store::container::Container, &mut Printer) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let mut failed = false;
    for n in names {
        let r = store.container(n).map_err(anyhow::Error::from).and_then(|c| f(store, &c, p));
        if let Err(e) = r {
            p.error(&crate::error::message(&e))?;
            failed = true;
        }
    }
    if failed { Err(Exit(1).into()) } else { Ok(()) }
}

pub fn start(s: &Settings, a: &StartArgs, p: &mut Printer) -> anyhow::Result<()> {
    let store = s.open_store()?;
    if a.attach {
        let [name] = a.containers.as_slice() else {
            anyhow::bail!("you cannot start and attach multiple containers at once");
        };
        let c = store.container(name)?;
        let opts = start_opts(&c, false, a.interactive)?;
        p.flush()?;
        let out = strata_runtime::start_with_output(&store, &c, &opts, p.out_stream(), &mut std::io::stderr())?;
        return match out.exit_code {
            Some(0) | None => Ok(()),
            Some(code) => Err(Exit(exit_status(code)).into()),
        };
    }
    each(&store, &a.containers, p, |store, c, p| {
        let opts = start_opts(c, true, false)?;
        strata_runtime::start(store, c, &opts)?;
        p.outln(&c.name)?;
        Ok(())
    })
}

pub fn stop(s: &Settings, a: &StopArgs, p: &mut Printer) -> anyhow::Result<()> {
    let store = s.open_store()?;
    let t = Duration::from_secs(a.time.unwrap_or(10));
    each(&store, &a.containers, p, |store, c, p| {
        strata_runtime::stop(store, c, t)?;
        p.outln(&c.name)?;
        Ok(())
    })
}

pub fn kill(s: &Settings, a: &KillArgs, p: &mut Printer) -> anyhow::Result<()> {
    let store = s.open_store()?;
    each(&store, &a.containers, p, |store, c, p| {
        strata_runtime::kill(store, c, &a.signal)?;
        p.outln(&c.name)?;
        Ok(())
    })
}

pub fn restart(s: &Settings, a: &RestartArgs, p: &mut Printer) -> anyhow::Result<()> {
    let store = s.open_store()?;
    let t = Duration::from_secs(a.time.unwrap_or(10));
    each(&store, &a.containers, p, |store, c, p| {
        strata_runtime::stop(store, c, t)?;
        let c = store.container(&c.id)?;
        strata_runtime::start(store, &c, &start_opts(&c, true, false)?)?;
        p.outln(&c.name)?;
        Ok(())
    })
}

pub fn wait(s: &Settings, a: &WaitArgs, p: &mut Printer) -> anyhow::Result<()> {
    let store = s.open_store()?;
    each(&store, &a.containers, p, |store, c, p| {
        let code = strata_runtime::wait(store, c)?;
        p.outln(&code.to_string())?;
        Ok(())
    })
}

pub fn top(s: &Settings, a: &TopArgs, p: &mut Printer) -> anyhow::Result<()> {
    let store = s.open_store()?;
    let c = store.container(&a.container)?;
    let t = strata_runtime::top(&store, &c)?;
    let mut rows = vec![t.titles.clone()];
    rows.extend(t.processes);
    let lines: Vec<String> = rows.iter().map(|r| r.join("\t")).collect();
    p.out(&crate::output::table::align(&(lines.join("\n") + "\n")))?;
    Ok(())
}
