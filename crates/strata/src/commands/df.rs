//! `system df [-v]`: the docker CLI's disk usage formatter
//! (`cli/command/formatter/disk_usage.go`). Sizes in the summary use
//! `HumanSize` (four digits: `4.262MB (100%)`), as Docker's do; image sizes
//! in `-v` use the three-digit form of `docker images`.

use chrono::Utc;
use serde_json::{Value, json};

use super::images::{self, Extra};
use crate::cli::DfArgs;
use crate::engine::usage::{DiskUsage, Summary, disk_usage};
use crate::output::formatter::{self, Format, RAW, TABLE, context};
use crate::output::{Printer, units};
use crate::settings::Settings;

pub const DEFAULT_TABLE: &str = "table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}";
const IMAGE_TABLE: &str = "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}\t{{.SharedSize}}\t{{.UniqueSize}}\t{{.Containers}}";
const CONTAINER_TABLE: &str =
    "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.LocalVolumes}}\t{{.Size}}\t{{.RunningFor}}\t{{.Status}}\t{{.Names}}";
const VOLUME_TABLE: &str = "table {{.Name}}\t{{.Links}}\t{{.Size}}";
const BUILD_CACHE_TABLE: &str =
    "table {{.ID}}\t{{.CacheType}}\t{{.Size}}\t{{.CreatedSince}}\t{{.LastUsedSince}}\t{{.UsageCount}}\t{{.Shared}}";

pub fn run(s: &Settings, a: &DfArgs, p: &mut Printer) -> anyhow::Result<()> {
    let source = a.format.as_deref().filter(|f| !f.is_empty()).unwrap_or(TABLE);
    let store = s.open_store()?;
    let usage = disk_usage(&store)?;
    if a.verbose {
        return verbose(&usage, source, p);
    }
    let format = match source {
        TABLE => Format::new(DEFAULT_TABLE),
        RAW => Format::new("type: {{.Type}}\ntotal: {{.TotalCount}}\nactive: {{.Active}}\nsize: {{.Size}}\nreclaimable: {{.Reclaimable}}\n"),
        other => Format::new(other),
    };
    formatter::write(p, &format, &summary_header(), &summary_rows(&usage))
}

pub fn summary_header() -> Value {
    formatter::header(&[
        ("Type", "TYPE"),
        ("TotalCount", "TOTAL"),
        ("Active", "ACTIVE"),
        ("Size", "SIZE"),
        ("Reclaimable", "RECLAIMABLE"),
    ])
}

/// `4.262MB (100%)`, or just the size when nothing is stored.
fn reclaimable(s: &Summary, with_percent: bool) -> String {
    let r = units::human_size(s.reclaimable as f64);
    if with_percent && s.total_size > 0 { format!("{r} ({}%)", s.reclaimable * 100 / s.total_size) } else { r }
}

fn summary_row(kind: &str, s: &Summary, with_percent: bool) -> Value {
    context(vec![
        ("Active", json!(s.active.to_string())),
        ("Reclaimable", json!(reclaimable(s, with_percent))),
        ("Size", json!(units::human_size(s.total_size as f64))),
        ("TotalCount", json!(s.total_count.to_string())),
        ("Type", json!(kind)),
    ])
}

pub fn summary_rows(u: &DiskUsage) -> Vec<Value> {
    vec![
        summary_row("Images", &u.images, true),
        summary_row("Containers", &u.containers, true),
        summary_row("Local Volumes", &u.volumes, true),
        summary_row("Build Cache", &u.build_cache, false),
    ]
}

/// Image rows of `-v`: the first tag only, shared and unique sizes filled in.
fn image_rows(u: &DiskUsage, trunc: bool) -> Vec<Value> {
    let now = Utc::now();
    u.image_items
        .iter()
        .map(|i| {
            let (repo, tag) = i
                .image
                .tags
                .iter()
                .find(|t| t.tag.is_some())
                .map(|t| (t.familiar_repository(), t.tag.clone().unwrap_or_default()))
                .unwrap_or_else(|| ("<none>".into(), "<none>".into()));
            let extra = Extra { containers: Some(i.containers), shared_size: Some(i.shared_size) };
            images::row(i.image.id.as_str(), &repo, &tag, "", i.created, i.size, &extra, trunc, now)
        })
        .collect()
}

fn verbose(u: &DiskUsage, source: &str, p: &mut Printer) -> anyhow::Result<()> {
    let format = Format::new(source);
    let images = image_rows(u, format.is_table());
    if source != TABLE {
        // One template over the whole report (`{{range .Images}}...`).
        let data = json!({"Images": images, "Containers": [], "Volumes": [], "BuildCache": []});
        let text = if source == "json" { crate::output::template::print_json(&data) } else {
            let t = format.parse()?;
            t.render(&data, crate::output::template::Mode::Data).map_err(|e| anyhow::anyhow!("template parsing error: {e}"))?
        };
        p.outln(&text)?;
        return Ok(());
    }
    p.out("Images space usage:\n\n")?;
    formatter::write(p, &Format::new(IMAGE_TABLE), &images::header(), &images)?;
    p.out("\nContainers space usage:\n\n")?;
    let container_header = formatter::header(&[
        ("ID", "CONTAINER ID"),
        ("Image", "IMAGE"),
        ("Command", "COMMAND"),
        ("LocalVolumes", "LOCAL VOLUMES"),
        ("Size", "SIZE"),
        ("RunningFor", "CREATED"),
        ("Status", "STATUS"),
        ("Names", "NAMES"),
    ]);
    formatter::write(p, &Format::new(CONTAINER_TABLE), &container_header, &[])?;
    p.out("\nLocal Volumes space usage:\n\n")?;
    let volume_header = formatter::header(&[("Name", "VOLUME NAME"), ("Links", "LINKS"), ("Size", "SIZE")]);
    formatter::write(p, &Format::new(VOLUME_TABLE), &volume_header, &[])?;
    p.out(&format!("\nBuild cache usage: {}\n\n", units::human_size(u.build_cache.total_size as f64)))?;
    let cache_header = formatter::header(&[
        ("ID", "CACHE ID"),
        ("CacheType", "CACHE TYPE"),
        ("Size", "SIZE"),
        ("CreatedSince", "CREATED"),
        ("LastUsedSince", "LAST USED"),
        ("UsageCount", "USAGE"),
        ("Shared", "SHARED"),
    ]);
    formatter::write(p, &Format::new(BUILD_CACHE_TABLE), &cache_header, &[])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_table_like_docker() {
        let u = DiskUsage {
            images: Summary { total_count: 1, active: 0, total_size: 4_261_550, reclaimable: 4_261_550 },
            ..Default::default()
        };
        let text = formatter::render(&Format::new(DEFAULT_TABLE), &summary_header(), &summary_rows(&u)).unwrap();
        assert_eq!(
            text,
            "TYPE            TOTAL     ACTIVE    SIZE      RECLAIMABLE\n\
             Images          1         0         4.262MB   4.262MB (100%)\n\
             Containers      0         0         0B        0B\n\
             Local Volumes   0         0         0B        0B\n\
             Build Cache     0         0         0B        0B\n"
        );
    }
}
