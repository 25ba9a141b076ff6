//! `ps` / `container ls` / `container list` / `container ps`: the docker
//! CLI's `runPs` and container formatter (`formatter/container.go`, v28).
//!
//! Without `-a` only running containers are listed; `-n`, `-l` and a
//! `status` filter include every state, as in Docker. COMMAND is quoted and
//! cut to 20 columns (`…`), STATUS is moby's `State.String()`.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use strata_store::Store;
use strata_store::container::Container;

use crate::cli::PsArgs;
use crate::engine::containers::{
    ListOpts, command_line, image_name, list_containers, local_volumes, network_mode, state_word,
};
use crate::engine::filters::Filters;
use crate::engine::usage::size_rw;
use crate::output::formatter::{self, Format, RAW, TABLE, context};
use crate::output::{Printer, ellipsis, time, truncate_id, units};
use crate::settings::Settings;

pub const DEFAULT_TABLE: &str =
    "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}";
const QUIET: &str = "{{.ID}}";

pub fn run(s: &Settings, a: &PsArgs, p: &mut Printer) -> anyhow::Result<()> {
    let store = s.open_store()?;
    let filters = Filters::new(&a.filter);
    let limit = if a.latest { 1 } else { a.last };
    let containers = list_containers(&store, &filters, ListOpts { all: a.all, limit })?;
    let format = ps_format(a.format.as_deref().unwrap_or(TABLE), a.quiet, a.size);
    // Sizes cost a walk of every writable layer: only when shown.
    let sizes = a.size || format.contains(".Size") || format.0 == "json";
    let now = Utc::now();
    let mut rows = Vec::with_capacity(containers.len());
    for c in &containers {
        let size = if sizes { Some(sizes_of(&store, c)?) } else { None };
        let ports: Vec<String> = strata_runtime::published_ports(&store, c).iter().map(|b| b.to_string()).collect();
        let row = Row { image: image_name(&store, c), size, local_volumes: local_volumes(c), ports: ports.join(", ") };
        rows.push(row_context(c, &row, !a.no_trunc, now));
    }
    formatter::write(p, &format, &header(), &rows)
}

/// `SizeRw` and `SizeRootFs` (the writable layer plus the image).
fn sizes_of(store: &Store, c: &Container) -> anyhow::Result<(u64, u64)> {
    let rw = size_rw(store, c).unwrap_or(0);
    let image = store.image(c.image_id.as_str()).and_then(|i| store.image_size(&i)).unwrap_or(0);
    Ok((rw, rw + image))
}

/// `NewContainerFormat`.
pub fn ps_format(source: &str, quiet: bool, size: bool) -> Format {
    match source {
        TABLE if quiet => Format::new(QUIET),
        TABLE if size => Format::new(format!("{DEFAULT_TABLE}\t{{{{.Size}}}}")),
        TABLE => Format::new(DEFAULT_TABLE),
        RAW if quiet => Format::new("container_id: {{.ID}}"),
        RAW => {
            let mut f = "container_id: {{.ID}}\nimage: {{.Image}}\ncommand: {{.Command}}\ncreated_at: {{.CreatedAt}}\nstate: {{- pad .State 1 0}}\nstatus: {{- pad .Status 1 0}}\nnames: {{.Names}}\nlabels: {{- pad .Labels 1 0}}\nports: {{- pad .Ports 1 0}}\n".to_string();
            if size {
                f.push_str("size: {{.Size}}\n");
            }
            Format::new(f)
        }
        other => {
            let mut f = Format::new(other);
            if f.is_table() && size && !f.contains("{{.Size}}") {
                f.0.push_str("\t{{.Size}}");
            }
            f
        }
    }
}

/// Column titles of the container context.
pub fn header() -> Value {
    formatter::header(&[
        ("ID", "CONTAINER ID"),
        ("Image", "IMAGE"),
        ("Command", "COMMAND"),
        ("CreatedAt", "CREATED AT"),
        ("RunningFor", "CREATED"),
        ("Ports", "PORTS"),
        ("State", "STATE"),
        ("Status", "STATUS"),
        ("Size", "SIZE"),
        ("Names", "NAMES"),
        ("Labels", "LABELS"),
        ("Mounts", "MOUNTS"),
        ("Networks", "NETWORKS"),
        ("LocalVolumes", "LOCAL VOLUMES"),
    ])
}

/// What a row shows beyond the container record.
pub struct Row {
    /// The image as moby reports it (a name, or `sha256:...`).
    pub image: String,
    /// `SizeRw`, `SizeRootFs`, when computed.
    pub size: Option<(u64, u64)>,
    pub local_volumes: usize,
    /// Published ports (`127.0.0.1:8080->80/tcp`), comma-separated.
    pub ports: String,
}

/// The docker container context of one row, keys sorted as its JSON shows them.
pub fn row_context(c: &Container, r: &Row, trunc: bool, now: DateTime<Utc>) -> Value {
    let created = time::parse(&c.created).and_then(|t| DateTime::from_timestamp(t.timestamp(), 0));
    let created = created.unwrap_or(DateTime::UNIX_EPOCH);
    let command = command_line(c);
    let command = if trunc { ellipsis(&command, 20) } else { command };
    let mounts: Vec<String> = c
        .mounts
        .iter()
        .map(|m| {
            let name = if m.name.is_empty() { m.source.display().to_string() } else { m.name.clone() };
            if trunc { ellipsis(&name, 15) } else { name }
        })
        .collect();
    let labels: Vec<String> = c.config.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let size = match r.size {
        None => "0B".to_string(),
        Some((rw, root)) => {
            let srw = units::human_size_precision(rw as f64, 3);
            if root > 0 { format!("{srw} (virtual {})", units::human_size_precision(root as f64, 3)) } else { srw }
        }
    };
    context(vec![
        ("Command", json!(go_quote(&command))),
        ("CreatedAt", json!(time::go_string(created))),
        ("ID", json!(if trunc { truncate_id(&c.id) } else { c.id.clone() })),
        ("Image", json!(image_column(&r.image, &c.image_id.to_string(), trunc))),
        ("Labels", json!(labels.join(","))),
        ("LocalVolumes", json!(r.local_volumes.to_string())),
        ("Mounts", json!(mounts.join(","))),
        ("Names", json!(c.name.trim_start_matches('/'))),
        ("Networks", json!(network_mode(c))),
        ("Ports", json!(r.ports)),
        ("RunningFor", json!(units::since(created, now))),
        ("Size", json!(size)),
        ("State", json!(state_word(c))),
        ("Status", json!(super::df::status(&c.state, now))),
    ])
}

/// The docker CLI's `ContainerContext.Image`: an id is shortened, and a
/// name loses its digest when truncating.
fn image_column(image: &str, image_id: &str, trunc: bool) -> String {
    if image.is_empty() {
        return "<no image>".into();
    }
    if !trunc {
        return image.to_string();
    }
    if truncate_id(image_id) == truncate_id(image) {
        return truncate_id(image);
    }
    match strata_store::Reference::parse(image) {
        Ok(mut r) if r.digest.is_some() => {
            r.digest = None;
            r.familiar()
        }
        _ => image.to_string(),
    }
}

/// Go's `strconv.Quote`.
pub fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => out.push_str(&format!("\\x{:02x}", c as u32)),
            c if c.is_control() => {
                if (c as u32) < 0x10000 {
                    out.push_str(&format!("\\u{:04x}", c as u32))
                } else {
                    out.push_str(&format!("\\U{:08x}", c as u32))
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_like_go() {
        assert_eq!(go_quote("sh -c 'x'"), "\"sh -c 'x'\"");
        assert_eq!(go_quote("a\"b\\c\td…"), "\"a\\\"b\\\\c\\td…\"");
        assert_eq!(go_quote("\u{1}"), "\"\\x01\"");
    }

    #[test]
    fn formats() {
        assert_eq!(ps_format("table", true, true).0, QUIET);
        assert_eq!(ps_format("table", false, true).0, format!("{DEFAULT_TABLE}\t{{{{.Size}}}}"));
        assert_eq!(ps_format("table {{.ID}}", false, true).0, "table {{.ID}}\t{{.Size}}");
    }

    #[test]
    fn image_column_like_docker() {
        let id = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
        assert_eq!(image_column(id, id, true), "0123456789ab");
        assert_eq!(image_column(id, id, false), id);
        assert_eq!(image_column("busybox", id, true), "busybox");
        assert_eq!(image_column("", id, true), "<no image>");
    }
}
