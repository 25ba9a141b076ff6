//! `container prune [-f] [--filter until=|label=|label!=]`: the docker CLI's
//! container `runPrune`. Without `-f` it asks on stdout; anything but `y`
//! cancels silently. Reports `Deleted Containers:` (full ids) and
//! `Total reclaimed space:` (the writable layers' sizes).

use chrono::Utc;

use crate::cli::ContainerPruneArgs;
use crate::engine::containers::{ContainerPruneReport, prune_containers};
use crate::engine::filters::Filters;
use crate::output::{Printer, units};
use crate::settings::Settings;

const WARNING: &str = "WARNING! This will remove all stopped containers.\nAre you sure you want to continue?";

pub fn run(s: &Settings, a: &ContainerPruneArgs, p: &mut Printer) -> anyhow::Result<()> {
    let filters = Filters::new(&a.filter);
    if !a.force && !p.confirm(WARNING)? {
        return Ok(());
    }
    let store = s.open_store()?;
    let report = prune_containers(&store, &filters, Utc::now())?;
    p.out(&report_text(&report))?;
    Ok(())
}

pub fn report_text(r: &ContainerPruneReport) -> String {
    let mut out = String::new();
    if !r.deleted.is_empty() {
        out.push_str("Deleted Containers:\n");
        for id in &r.deleted {
            out.push_str(id);
            out.push('\n');
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
    fn report_like_docker() {
        let r = ContainerPruneReport { deleted: vec!["abc".into(), "def".into()], space_reclaimed: 1200 };
        assert_eq!(report_text(&r), "Deleted Containers:\nabc\ndef\n\nTotal reclaimed space: 1.2kB\n");
        assert_eq!(report_text(&ContainerPruneReport::default()), "Total reclaimed space: 0B\n");
    }
}
