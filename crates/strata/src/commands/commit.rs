//! `commit` / `container commit [-a] [-m] [-c]... CONTAINER [REPO[:TAG]]`:
//! the writable layer becomes a new image layer; prints the image id
//! (`sha256:...`). Volume contents are not included (their mount points
//! are). `-p`/`--no-pause` are accepted: a container strata has stopped
//! needs no pause, and a running one is committed as its files are.

use strata_store::Reference;
use strata_store::container::CommitOpts;

use crate::cli::CommitArgs;
use crate::output::Printer;
use crate::settings::Settings;

pub fn run(s: &Settings, a: &CommitArgs, p: &mut Printer) -> anyhow::Result<()> {
    let reference = a.reference.as_deref().filter(|r| !r.is_empty()).map(Reference::parse).transpose()?;
    let store = s.open_store()?;
    let c = store.container(&a.container)?;
    let opts = CommitOpts {
        reference,
        author: a.author.clone().filter(|x| !x.is_empty()),
        message: a.message.clone().filter(|x| !x.is_empty()),
        changes: a.changes.clone(),
    };
    let img = store.commit_container(&c, &opts)?;
    p.outln(img.id.as_str())?;
    Ok(())
}
