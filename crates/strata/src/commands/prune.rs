//! `image prune [-a] [-f] [--filter]`: the docker CLI's `runPrune`.
//!
//! Without `-f` it asks on stdout and reads the answer from stdin; anything
//! but `y` cancels silently (status 0), as in Docker. The report lists
//! `untagged:`/`deleted:` lines under `Deleted Images:`, then
//! `Total reclaimed space:` in `HumanSize` form.

use chrono::Utc;
use strata_store::image::RmiEvent;

use crate::cli::PruneArgs;
use crate::engine::filters::Filters;
use crate::engine::prune::{PruneReport, prune_images};
use crate::output::{Printer, units};
use crate::settings::Settings;

const ALL_WARNING: &str = "WARNING! This will remove all images without at least one container associated to them.\nAre you sure you want to continue?";
const DANGLING_WARNING: &str = "WARNING! This will remove all dangling images.\nAre you sure you want to continue?";

pub fn run(s: &Settings, a: &PruneArgs, p: &mut Printer) -> anyhow::Result<()> {
    let mut filters = Filters::new(&a.filter);
    filters.add("dangling", if a.all { "false" } else { "true" });
    if !a.force && !p.confirm(if a.all { ALL_WARNING } else { DANGLING_WARNING })? {
        return Ok(());
    }
    let store = s.open_store()?;
    let report = prune_images(&store, &filters, Utc::now())?;
    p.out(&report_text(&report))?;
    Ok(())
}

pub fn report_text(r: &PruneReport) -> String {
    let mut out = String::new();
    if !r.deleted.is_empty() {
        out.push_str("Deleted Images:\n");
        for e in &r.deleted {
            match e {
                RmiEvent::Untagged(x) => out.push_str(&format!("untagged: {x}\n")),
                RmiEvent::Deleted(x) => out.push_str(&format!("deleted: {x}\n")),
            }
        }
        out.push('\n');
    }
    out.push_str(&format!("Total reclaimed space: {}\n", units::human_size(r.space_reclaimed as f64)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_matches_docker_goldens() {
        // docker/cli testdata/prune-command-success.force-deleted.golden
        let r = PruneReport { deleted: vec![RmiEvent::Deleted("image1".into())], space_reclaimed: 1 };
        assert_eq!(report_text(&r), "Deleted Images:\ndeleted: image1\n\nTotal reclaimed space: 1B\n");
        // prune-command-success.force-untagged.golden
        let r = PruneReport { deleted: vec![RmiEvent::Untagged("image1".into())], space_reclaimed: 2 };
        assert_eq!(report_text(&r), "Deleted Images:\nuntagged: image1\n\nTotal reclaimed space: 2B\n");
        assert_eq!(report_text(&PruneReport::default()), "Total reclaimed space: 0B\n");
    }
}
