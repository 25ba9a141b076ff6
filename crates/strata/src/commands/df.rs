//! `system df [-v]`: the docker CLI's disk usage formatter
//! (`cli/command/formatter/disk_usage.go`). Sizes in the summary use
//! `HumanSize` (four digits: `4.262MB (100%)`), as Docker's do; image and
//! container sizes in `-v` use the three-digit form of `docker images`/`ps`.
//! A non-table format with `-v` runs once over `{Images, Containers, Volumes,
//! BuildCache}`, as in Docker (which omits the final newline; strata adds one).

use chrono::Utc;
use serde_json::{Value, json};

use super::images::{self, Extra};
use super::{ps, volume};
use crate::cli::DfArgs;
use crate::engine::usage::{DiskUsage, Summary, disk_usage};
use crate::output::formatter::{self, Format, RAW, TABLE, context};
use crate::output::{Printer, template, time, units};
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
        RAW => Format::new(
            "type: {{.Type}}\ntotal: {{.TotalCount}}\nactive: {{.Active}}\nsize: {{.Size}}\nreclaimable: {{.Reclaimable}}\n",
        ),
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
            let r = images::Row { id: i.image.id.as_str(), created: i.created, size: i.size, extra };
            images::row(&r, &repo, &tag, "", trunc, now)
        })
        .collect()
}

/// The docker CLI's container context for `-v` (`SizeRootFs` is not shown).
fn container_rows(u: &DiskUsage, trunc: bool) -> Vec<Value> {
    let now = Utc::now();
    u.container_items
        .iter()
        .map(|cu| {
            let row = ps::Row {
                image: cu.image.clone(),
                size: Some((cu.size_rw, 0)),
                local_volumes: cu.local_volumes,
                ports: String::new(),
            };
            ps::row_context(&cu.container, &row, trunc, now)
        })
        .collect()
}

/// moby's `State.String()`: `Up 2 hours`, `Exited (0) 3 minutes ago`, `Created`.
pub fn status(s: &strata_store::container::State, now: chrono::DateTime<Utc>) -> String {
    let ago = |t: &str| {
        let t = time::parse(t).unwrap_or(now);
        units::human_duration_secs((now - t).num_milliseconds() as f64 / 1000.0)
    };
    let zero = |t: &str| t.is_empty() || t.starts_with("0001-01-01");
    if s.running {
        if s.paused {
            return format!("Up {} (Paused)", ago(&s.started_at));
        }
        if s.restarting {
            return format!("Restarting ({}) {} ago", s.exit_code, ago(&s.finished_at));
        }
        return format!("Up {}", ago(&s.started_at));
    }
    if s.status == "removing" {
        return "Removal In Progress".into();
    }
    if s.dead {
        return "Dead".into();
    }
    if zero(&s.started_at) {
        return "Created".into();
    }
    if zero(&s.finished_at) {
        return String::new();
    }
    format!("Exited ({}) {} ago", s.exit_code, ago(&s.finished_at))
}

/// The docker CLI's volume context for `-v`.
fn volume_rows(u: &DiskUsage) -> Vec<Value> {
    u.volume_items.iter().map(|vu| volume::ls::row(&vu.volume, Some(vu.ref_count), Some(vu.size))).collect()
}

fn verbose(u: &DiskUsage, source: &str, p: &mut Printer) -> anyhow::Result<()> {
    let format = Format::new(source);
    let trunc = format.is_table();
    let images = image_rows(u, trunc);
    let containers = container_rows(u, trunc);
    let volumes = volume_rows(u);
    if source != TABLE {
        // One template over the whole report (`{{range .Images}}...`).
        let data = json!({"Images": images, "Containers": containers, "Volumes": volumes, "BuildCache": []});
        let text = if source == "json" {
            template::print_json(&data)
        } else {
            let t = format.parse()?;
            t.render(&data, template::Mode::Data).map_err(|e| anyhow::anyhow!("template parsing error: {e}"))?
        };
        p.outln(&text)?;
        return Ok(());
    }
    p.out("Images space usage:\n\n")?;
    formatter::write(p, &Format::new(IMAGE_TABLE), &images::header(), &images)?;
    p.out("\nContainers space usage:\n\n")?;
    let container_header = formatter::header(&[
        ("ID", "CONTAINER ID"),
        ("Names", "NAMES"),
        ("Image", "IMAGE"),
        ("Command", "COMMAND"),
        ("CreatedAt", "CREATED AT"),
        ("RunningFor", "CREATED"),
        ("Ports", "PORTS"),
        ("State", "STATE"),
        ("Status", "STATUS"),
        ("Size", "SIZE"),
        ("Labels", "LABELS"),
        ("Mounts", "MOUNTS"),
        ("Networks", "NETWORKS"),
        ("LocalVolumes", "LOCAL VOLUMES"),
    ]);
    formatter::write(p, &Format::new(CONTAINER_TABLE), &container_header, &containers)?;
    p.out("\nLocal Volumes space usage:\n\n")?;
    let volume_header = formatter::header(&[
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
    ]);
    formatter::write(p, &Format::new(VOLUME_TABLE), &volume_header, &volumes)?;
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

    #[test]
    fn container_status_like_moby() {
        use strata_store::container::State;
        let now = Utc::now();
        let ago = |secs: i64| (now - chrono::Duration::seconds(secs)).to_rfc3339();
        let zero = "0001-01-01T00:00:00Z".to_string();
        let created = State {
            status: "created".into(),
            started_at: zero.clone(),
            finished_at: zero.clone(),
            ..Default::default()
        };
        assert_eq!(status(&created, now), "Created");
        let running = State {
            status: "running".into(),
            running: true,
            started_at: ago(7200),
            finished_at: zero,
            ..Default::default()
        };
        assert_eq!(status(&running, now), "Up 2 hours");
        let paused = State { paused: true, ..running.clone() };
        assert_eq!(status(&paused, now), "Up 2 hours (Paused)");
        let exited = State {
            status: "exited".into(),
            exit_code: 3,
            started_at: ago(600),
            finished_at: ago(180),
            ..Default::default()
        };
        assert_eq!(status(&exited, now), "Exited (3) 3 minutes ago");
    }

    #[test]
    fn verbose_lists_containers_and_volumes() {
        use strata_store::container::{Config, Container, MountKind, MountPoint, State};
        use strata_store::volume::Volume;

        use crate::engine::usage::{ContainerUsage, VolumeUsage};
        let now = Utc::now();
        let c = Container {
            id: "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef".into(),
            name: "web".into(),
            image_id: strata_store::Digest::of_bytes(b"img"),
            image_top: None,
            rw_id: "rw".into(),
            created: (now - chrono::Duration::hours(3)).to_rfc3339(),
            config: Config {
                image: "busybox".into(),
                entrypoint: Some(vec!["/bin/sh".into(), "-c".into()]),
                cmd: Some(vec!["sleep 1000000 && echo done".into()]),
                ..Default::default()
            },
            mounts: vec![MountPoint {
                kind: MountKind::Volume,
                name: "data".into(),
                source: "/v/data/_data".into(),
                destination: "/data".into(),
                mode: "z".into(),
                rw: true,
                propagation: String::new(),
                nocopy: false,
                from: None,
            }],
            binds: vec![],
            volumes_from: vec![],
            read_only: false,
            host: Default::default(),
            state: State { status: "created".into(), started_at: "0001-01-01T00:00:00Z".into(), ..Default::default() },
        };
        let v = Volume {
            name: "data".into(),
            driver: "local".into(),
            labels: Default::default(),
            options: Default::default(),
            anonymous: false,
            created: now.to_rfc3339(),
            mountpoint: "/v/data/_data".into(),
        };
        let u = DiskUsage {
            container_items: vec![ContainerUsage {
                container: c,
                size_rw: 300,
                local_volumes: 1,
                image: "busybox".into(),
            }],
            volume_items: vec![VolumeUsage { volume: v, size: 50, ref_count: 1 }],
            ..Default::default()
        };
        let (mut p, cap) = Printer::captured("");
        verbose(&u, TABLE, &mut p).unwrap();
        drop(p);
        let out = cap.stdout();
        assert!(
            out.contains(
                "CONTAINER ID   IMAGE     COMMAND                  LOCAL VOLUMES   SIZE      CREATED       STATUS    NAMES\n\
                 0123456789ab   busybox   \"/bin/sh -c 'sleep 1…\"   1               300B      3 hours ago   Created   web\n"
            ),
            "{out}"
        );
        assert!(out.contains("VOLUME NAME   LINKS     SIZE\ndata          1         50B\n"), "{out}");
    }
}
