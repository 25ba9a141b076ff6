//! `volume ls [-q] [--format] [-f dangling=|driver=|label=|name=] [--size]`:
//! the docker CLI's volume list and formatter (`formatter/volume.go`):
//! `DRIVER    VOLUME NAME`, sorted in natural order. `--size` (strata's, as
//! nerdctl's) adds SIZE, the apparent size of each volume's data.

use serde_json::{Value, json};
use strata_store::volume::{Volume, VolumeFilter};

use crate::cli::VolumeLsArgs;
use crate::output::formatter::{self, Format, TABLE, context};
use crate::output::{Printer, units};
use crate::settings::Settings;

pub const DEFAULT_TABLE: &str = "table {{.Driver}}\t{{.Name}}";

pub fn run(s: &Settings, a: &VolumeLsArgs, p: &mut Printer) -> anyhow::Result<()> {
    let args: Vec<String> = a.filter.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let (filter, _) = VolumeFilter::parse(&args, false)?;
    let store = s.open_store()?;
    let mut volumes = store.list_volumes(&filter)?;
    volumes.sort_by(|x, y| natural_cmp(&x.name, &y.name));
    let format = match a.format.as_deref().unwrap_or(TABLE) {
        TABLE if a.quiet => Format::new("{{.Name}}"),
        TABLE if a.size => Format::new(format!("{DEFAULT_TABLE}\t{{{{.Size}}}}")),
        TABLE => Format::new(DEFAULT_TABLE),
        other => Format::new(other),
    };
    let sizes = a.size || format.contains(".Size");
    let mut rows = Vec::with_capacity(volumes.len());
    for v in &volumes {
        let size = if sizes { Some(store.volume_size(v)?) } else { None };
        rows.push(row(v, None, size));
    }
    formatter::write(p, &format, &header(), &rows)
}

/// Column titles of the volume context.
pub fn header() -> Value {
    formatter::header(&[
        ("Name", "VOLUME NAME"),
        ("Driver", "DRIVER"),
        ("Scope", "SCOPE"),
        ("Mountpoint", "MOUNTPOINT"),
        ("Labels", "LABELS"),
        ("Links", "LINKS"),
        ("Size", "SIZE"),
        ("Group", "GROUP"),
        ("Availability", "AVAILABILITY"),
        ("Status", "STATUS"),
    ])
}

/// The docker volume context of one row; `links` and `size` are `N/A`
/// when not computed (Docker's `UsageData` of -1).
pub fn row(v: &Volume, links: Option<u64>, size: Option<u64>) -> Value {
    let labels: Vec<String> = v.labels.iter().map(|(k, val)| format!("{k}={val}")).collect();
    context(vec![
        ("Availability", json!("N/A")),
        ("Driver", json!(v.driver)),
        ("Group", json!("N/A")),
        ("Labels", json!(labels.join(","))),
        ("Links", json!(links.map(|n| n.to_string()).unwrap_or_else(|| "N/A".into()))),
        ("Mountpoint", json!(v.mountpoint.display().to_string())),
        ("Name", json!(v.name)),
        ("Scope", json!("local")),
        ("Size", json!(size.map(|n| units::human_size(n as f64)).unwrap_or_else(|| "N/A".into()))),
        ("Status", json!("N/A")),
    ])
}

/// `sortorder.NaturalLess`: runs of digits compare as numbers.
pub fn natural_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        let (da, db) = (a[i].is_ascii_digit(), b[j].is_ascii_digit());
        if da && db {
            let si = i;
            while i < a.len() && a[i] == b'0' {
                i += 1;
            }
            let sj = j;
            while j < b.len() && b[j] == b'0' {
                j += 1;
            }
            let (ni, nj) = (i, j);
            while i < a.len() && a[i].is_ascii_digit() {
                i += 1;
            }
            while j < b.len() && b[j].is_ascii_digit() {
                j += 1;
            }
            let (x, y) = (&a[ni..i], &b[nj..j]);
            let ord = x.len().cmp(&y.len()).then(x.cmp(y)).then((i - si).cmp(&(j - sj)));
            if ord != Ordering::Equal {
                return ord;
            }
        } else {
            if a[i] != b[j] {
                return a[i].cmp(&b[j]);
            }
            i += 1;
            j += 1;
        }
    }
    (a.len() - i).cmp(&(b.len() - j))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn natural_order() {
        let mut v = vec!["v10", "v2", "a", "v1", "b01"];
        v.sort_by(|x, y| natural_cmp(x, y));
        assert_eq!(v, ["a", "b01", "v1", "v2", "v10"]);
    }

    #[test]
    fn table_like_docker() {
        let v = Volume {
            name: "data".into(),
            driver: "local".into(),
            labels: Default::default(),
            options: Default::default(),
            anonymous: false,
            created: String::new(),
            mountpoint: "/v/data/_data".into(),
        };
        let text = formatter::render(&Format::new(DEFAULT_TABLE), &header(), &[row(&v, None, None)]).unwrap();
        assert_eq!(text, "DRIVER    VOLUME NAME\nlocal     data\n");
        let f = Format::new(format!("{DEFAULT_TABLE}\t{{{{.Size}}}}"));
        let text = formatter::render(&f, &header(), &[row(&v, None, Some(1200))]).unwrap();
        assert_eq!(text, "DRIVER    VOLUME NAME   SIZE\nlocal     data          1.2kB\n");
    }
}
