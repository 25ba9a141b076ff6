//! `volume prune [-a] [-f] [--filter label=|label!=] [--dry-run]`: the docker
//! CLI's volume `runPrune` (Engine ≥ 23): unused anonymous volumes, every
//! unused volume with `-a`; volumes with driver options are never pruned.
//! Without `-f` it asks on stdout; anything but `y` cancels silently.
//! `--dry-run` (strata's) lists what would go and removes nothing.

use strata_store::volume::VolumeFilter;

use crate::cli::VolumePruneArgs;
use crate::output::{Printer, units};
use crate::settings::Settings;

const WARNING: &str = "WARNING! This will remove anonymous local volumes not used by at least one container.\nAre you sure you want to continue?";
const ALL_WARNING: &str = "WARNING! This will remove all local volumes not used by at least one container.\nAre you sure you want to continue?";

/// Filter names `volume prune` accepts (`all` is what `-a` sets).
const ACCEPTED: &[&str] = &["label", "label!", "all"];

pub fn run(s: &Settings, a: &VolumePruneArgs, p: &mut Printer) -> anyhow::Result<()> {
    for (k, _) in &a.filter {
        if !ACCEPTED.contains(&k.as_str()) {
            anyhow::bail!("invalid filter '{k}'");
        }
    }
    let args: Vec<String> = a.filter.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let (filter, all_filter) = VolumeFilter::parse(&args, true)?;
    let all = a.all || all_filter;
    if !a.force && !a.dry_run && !p.confirm(if all { ALL_WARNING } else { WARNING })? {
        return Ok(());
    }
    let store = s.open_store()?;
    let pruned = store.prune_volumes(&filter, all, a.dry_run)?;
    p.out(&report_text(&pruned, a.dry_run))?;
    Ok(())
}

pub fn report_text(pruned: &[(String, u64)], dry_run: bool) -> String {
    let mut out = String::new();
    if !pruned.is_empty() {
        out.push_str(if dry_run { "Would delete Volumes:\n" } else { "Deleted Volumes:\n" });
        for (name, _) in pruned {
            out.push_str(name);
            out.push('\n');
        }
        out.push('\n');
    }
    let total: u64 = pruned.iter().map(|(_, n)| n).sum();
    let label = if dry_run { "Total reclaimable space" } else { "Total reclaimed space" };
    out.push_str(&format!("{label}: {}\n", units::human_size(total as f64)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_like_docker() {
        assert_eq!(report_text(&[], false), "Total reclaimed space: 0B\n");
        assert_eq!(
            report_text(&[("a".into(), 1000), ("b".into(), 24)], false),
            "Deleted Volumes:\na\nb\n\nTotal reclaimed space: 1.024kB\n"
        );
        assert_eq!(report_text(&[("a".into(), 5)], true), "Would delete Volumes:\na\n\nTotal reclaimable space: 5B\n");
    }
}
