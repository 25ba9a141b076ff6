//! `build [-t TAG]... [-f FILE] [--build-arg K=V]... [--no-cache] [-q] [--target T] PATH|-`:
//! the legacy builder's output (`Step 1/3 : FROM busybox`, ` ---> 0123456789ab`,
//! `Successfully built …`, `Successfully tagged …`); `-q` prints only the image id.

use std::collections::BTreeMap;

use strata_build::{BuildError, BuildOpts, ContextSource, build};
use strata_store::Reference;

use crate::cli::BuildArgs;
use crate::output::Printer;
use crate::settings::Settings;

pub fn run(s: &Settings, a: &BuildArgs, p: &mut Printer) -> anyhow::Result<()> {
    let mut tags = Vec::new();
    for t in &a.tags {
        tags.push(
            Reference::parse(t).map_err(|e| anyhow::anyhow!("invalid argument {t:?} for \"-t, --tag\" flag: {e}"))?,
        );
    }
    let mut build_args = BTreeMap::new();
    for kv in &a.build_args {
        match kv.split_once('=') {
            Some((k, v)) => build_args.insert(k.to_string(), v.to_string()),
            // Docker: `--build-arg NAME` takes the value from the environment.
            None => build_args.insert(kv.clone(), std::env::var(kv).unwrap_or_default()),
        };
    }
    let context = if a.context == "-" { ContextSource::Stdin } else { ContextSource::Dir(a.context.clone().into()) };
    let mut opts = BuildOpts::new(context);
    opts.dockerfile = a.file.clone();
    opts.tags = tags;
    opts.build_args = build_args;
    opts.no_cache = a.no_cache;
    opts.quiet = a.quiet;
    opts.target = a.target.clone();
    let store = s.open_store()?;
    let result = build(&store, &opts, p.out_stream());
    match result {
        Ok(img) => {
            if a.quiet {
                p.outln(img.id.as_str())?;
            }
            Ok(())
        }
        Err(BuildError::Quiet { log, source }) => {
            p.err(&log)?;
            Err(anyhow::Error::new(*source))
        }
        Err(e) => Err(e.into()),
    }
}
