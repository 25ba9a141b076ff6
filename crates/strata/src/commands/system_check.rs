//! `system check [--quick] [--repair]`: consistency of the metadata database
//! and the driver's directories (`strata_store::check`).
//!
//! Output contract (scripts can rely on it):
//! - stdout: one line per problem found, then, with `--repair`, one
//!   `Repaired: <what>` line per fix;
//! - stderr: `No problems found` on a clean store; when problems remain
//!   unrepaired, `Error: N problem(s) found; run "strata system check --repair" to fix them`;
//! - exit status 0 when the store is clean or was repaired, 1 when problems remain.

use strata_store::check::{Report, check};

use crate::cli::CheckArgs;
use crate::error::Exit;
use crate::output::Printer;
use crate::settings::Settings;

pub fn run(s: &Settings, a: &CheckArgs, p: &mut Printer) -> anyhow::Result<()> {
    let store = s.open_store()?;
    let report = check(&store, a.quick, a.repair)?;
    print(&report, a.repair, p)
}

pub fn print(report: &Report, repair: bool, p: &mut Printer) -> anyhow::Result<()> {
    if report.problems.is_empty() {
        p.errln("No problems found")?;
        return Ok(());
    }
    for problem in &report.problems {
        p.outln(&problem.to_string())?;
    }
    for fix in &report.repaired {
        p.outln(&format!("Repaired: {fix}"))?;
    }
    if repair {
        return Ok(());
    }
    let n = report.problems.len();
    p.error(&format!(
        "{n} problem{} found; run \"strata system check --repair\" to fix them",
        if n == 1 { "" } else { "s" }
    ))?;
    Err(Exit(1).into())
}

#[cfg(test)]
mod tests {
    use strata_store::check::Problem;

    use super::*;

    #[test]
    fn clean_and_dirty_reports() {
        let (mut p, cap) = Printer::captured("");
        print(&Report::default(), false, &mut p).unwrap();
        drop(p);
        assert_eq!((cap.stdout(), cap.stderr()), (String::new(), "No problems found\n".to_string()));

        let report = Report { problems: vec![Problem::OrphanLayerDir { cache_id: "abc".into() }], repaired: vec![] };
        let (mut p, cap) = Printer::captured("");
        assert!(print(&report, false, &mut p).is_err());
        drop(p);
        assert_eq!(cap.stdout(), "orphan layer directory abc (no layer record owns it)\n");
        assert!(cap.stderr().starts_with("Error: 1 problem found"));
    }
}
