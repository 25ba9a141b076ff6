//! `logs [-f] [--tail N] [-t] CONTAINER`: the container's json-file log, stdout
//! to stdout and stderr to stderr.

use crate::cli::LogsArgs;
use crate::output::Printer;
use crate::settings::Settings;

pub fn run(s: &Settings, a: &LogsArgs, p: &mut Printer) -> anyhow::Result<()> {
    let store = s.open_store()?;
    let c = store.container(&a.container)?;
    let tail = match a.tail.as_str() {
        "all" | "" => None,
        n => Some(
            n.parse::<usize>()
                .map_err(|_| anyhow::anyhow!("invalid value {n:?} for --tail: expected a number or \"all\""))?,
        ),
    };
    let opts = strata_runtime::LogsOpts { follow: a.follow, tail, timestamps: a.timestamps };
    p.flush()?;
    strata_runtime::logs(&store, &c, &opts, p.out_stream(), &mut std::io::stderr())?;
    Ok(())
}
