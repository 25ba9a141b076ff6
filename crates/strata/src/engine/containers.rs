//! Containers as the daemon reports them: `ps` listing and its filters
//! (moby's `daemon/list.go`), the command line (`Path` + `Args`), the image
//! column, and `container prune` (moby's `ContainersPrune`).

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use strata_store::container::{Container, MountKind};
use strata_store::{Digest, Store};

use super::filters::{Filters, match_labels, parse_timestamp};
use super::usage::{container_active, size_rw};
use crate::output::time;

/// Filter names `ps` accepts.
pub const PS_FILTERS: &[&str] =
    &["ancestor", "before", "exited", "id", "label", "name", "network", "since", "status", "volume"];

/// Docker's container states (`status=` values).
const STATES: &[&str] = &["created", "restarting", "running", "removing", "paused", "exited", "dead"];

/// `ps` options that are not filters.
#[derive(Debug, Clone, Copy, Default)]
pub struct ListOpts {
    /// `-a` (also implied by `-n`, `-l` and a `status` filter).
    pub all: bool,
    /// `-n N` (`-l` is 1); 0 or less: no limit.
    pub limit: i64,
}

/// Docker's `Path` and `Args`: the entrypoint and command, first word apart.
pub fn path_args(c: &Container) -> (String, Vec<String>) {
    let mut words: Vec<String> =
        c.config.entrypoint.iter().flatten().chain(c.config.cmd.iter().flatten()).cloned().collect();
    if words.is_empty() {
        return (String::new(), Vec::new());
    }
    let path = words.remove(0);
    (path, words)
}

/// moby's `Command` of a container summary: `Path` and the arguments, those
/// with a space in single quotes.
pub fn command_line(c: &Container) -> String {
    let (path, args) = path_args(c);
    if args.is_empty() {
        return path;
    }
    let args: Vec<String> = args.iter().map(|a| if a.contains(' ') { format!("'{a}'") } else { a.clone() }).collect();
    format!("{path} {}", args.join(" "))
}

/// moby's `Image` of a container summary: the name it was created with while
/// that name still refers to the same image, else the image id.
pub fn image_name(store: &Store, c: &Container) -> String {
    let name = &c.config.image;
    if name.is_empty() {
        return c.image_id.to_string();
    }
    match store.find_image(name) {
        Ok(Some(img)) if img.id == c.image_id => name.clone(),
        _ => c.image_id.to_string(),
    }
}

/// moby's `Match`: true without the filter, else an exact value or a regular
/// expression found anywhere in `source`.
fn matches(filters: &Filters, key: &str, source: &str) -> bool {
    if filters.exact_match(key, source) {
        return true;
    }
    filters.get(key).iter().any(|re| regex::Regex::new(re).is_ok_and(|r| r.is_match(source)))
}

/// The container's state word (`created`, `running`, `exited`, ...).
pub fn state_word(c: &Container) -> &str {
    if c.state.status.is_empty() { "created" } else { c.state.status.as_str() }
}

/// `ps`: containers newest first, filtered as moby's `includeContainerInList`.
pub fn list_containers(store: &Store, filters: &Filters, opts: ListOpts) -> anyhow::Result<Vec<Container>> {
    filters.validate(PS_FILTERS)?;
    let mut all = opts.all || opts.limit > 0;
    for v in filters.get("status") {
        if !STATES.contains(&v) {
            anyhow::bail!("invalid filter 'status={v}'");
        }
        all = true;
    }
    let mut exited = Vec::new();
    for v in filters.get("exited") {
        exited.push(v.parse::<i64>().map_err(|_| anyhow::anyhow!("invalid filter 'exited={v}'"))?);
    }
    let mut containers = store.containers()?;
    // A record that says "running" is checked against its monitor (a reboot or
    // a killed monitor leaves it exited, not running forever).
    for c in containers.iter_mut().filter(|c| c.state.running) {
        c.state = strata_runtime::reconcile(store, c)?;
    }
    let find = |key: &str| -> anyhow::Result<Option<String>> {
        let Some(v) = filters.get(key).first().copied() else { return Ok(None) };
        Ok(Some(store.container(v)?.id))
    };
    let mut before = find("before")?;
    let since = find("since")?;
    let ancestors =
        if filters.contains("ancestor") { Some(ancestor_images(store, &filters.get("ancestor"))?) } else { None };
    let mut out = Vec::new();
    for c in containers {
        if let Some(b) = &before {
            if *b == c.id {
                before = None;
            }
            continue;
        }
        if since.as_deref() == Some(c.id.as_str()) {
            break;
        }
        let running = c.state.running || c.state.paused || c.state.restarting;
        if !running && !all {
            continue;
        }
        if !matches(filters, "name", &format!("/{}", c.name)) && !matches(filters, "name", &c.name) {
            continue;
        }
        if !matches(filters, "id", &c.id) || !filters.match_kv_list("label", &c.config.labels) {
            continue;
        }
        if opts.limit > 0 && out.len() as i64 == opts.limit {
            break;
        }
        let started = !c.state.started_at.is_empty() && !c.state.started_at.starts_with("0001-01-01");
        if !exited.is_empty() && !exited.iter().any(|code| *code == c.state.exit_code && !c.state.running && started) {
            continue;
        }
        if !matches(filters, "status", state_word(&c)) {
            continue;
        }
        if filters.contains("volume") {
            let hit = filters.get("volume").iter().any(|v| {
                c.mounts.iter().any(|m| {
                    let name = if m.name.is_empty() { m.source.to_string_lossy().into_owned() } else { m.name.clone() };
                    m.destination == *v || name == *v
                })
            });
            if !hit {
                continue;
            }
        }
        if filters.contains("network") && !filters.get("network").contains(&network_mode(&c)) {
            continue;
        }
        if let Some(images) = &ancestors
            && !images.contains(&c.image_id)
        {
            continue;
        }
        out.push(c);
    }
    Ok(out)
}

/// `--network` of a container (`bridge` when none was given).
pub fn network_mode(c: &Container) -> &str {
    match c.host.network_mode.as_str() {
        "" | "default" => "bridge",
        other => other,
    }
}

/// The images `ancestor=` values name, and every image built on one of them
/// (its layer chain contains the ancestor's top layer). Unknown names match
/// nothing, as in moby.
fn ancestor_images(store: &Store, names: &[&str]) -> anyhow::Result<HashSet<Digest>> {
    let mut set = HashSet::new();
    let mut tops = Vec::new();
    for n in names {
        let Ok(img) = store.image(n) else {
            tracing::warn!("error while looking up for image {n}");
            continue;
        };
        if let Some(t) = &img.top_layer {
            tops.push(t.clone());
        }
        set.insert(img.id);
    }
    if tops.is_empty() {
        return Ok(set);
    }
    for img in store.images()? {
        let Some(top) = &img.top_layer else { continue };
        if store.layer_chain(top)?.iter().any(|l| tops.contains(&l.chain_id)) {
            set.insert(img.id);
        }
    }
    Ok(set)
}

/// What `container prune` removed.
#[derive(Debug, Default)]
pub struct ContainerPruneReport {
    pub deleted: Vec<String>,
    pub space_reclaimed: u64,
}

/// Filter names `container prune` accepts.
pub const PRUNE_FILTERS: &[&str] = &["label", "label!", "until"];

/// Remove every container that is not running (nor paused, restarting),
/// created before `until` and matching the label filters; their volumes stay.
pub fn prune_containers(store: &Store, filters: &Filters, now: DateTime<Utc>) -> anyhow::Result<ContainerPruneReport> {
    filters.validate(PRUNE_FILTERS)?;
    let mut until: Option<DateTime<Utc>> = None;
    for v in filters.get("until") {
        let t = parse_timestamp(v, now)?;
        until = Some(until.map_or(t, |u| u.min(t)));
    }
    let mut report = ContainerPruneReport::default();
    for c in store.containers()? {
        if container_active(&c) {
            continue;
        }
        if let Some(u) = until
            && time::parse(&c.created).is_none_or(|t| t > u)
        {
            continue;
        }
        if !match_labels(filters, &c.config.labels) {
            continue;
        }
        let size = size_rw(store, &c).unwrap_or(0);
        match store.remove_container(&c.id, false, false) {
            Ok(_) => {
                report.deleted.push(c.id);
                report.space_reclaimed += size;
            }
            Err(e) => tracing::warn!("failed to prune container {}: {e}", c.short_id()),
        }
    }
    Ok(report)
}

/// Mounts of named or anonymous volumes (ps's LOCAL VOLUMES).
pub fn local_volumes(c: &Container) -> usize {
    c.mounts.iter().filter(|m| m.kind == MountKind::Volume).count()
}

#[cfg(test)]
mod tests {
    use strata_store::container::Config;

    use super::*;

    fn with(entrypoint: Option<&[&str]>, cmd: Option<&[&str]>) -> Container {
        let v = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        Container {
            id: "0".repeat(64),
            name: "c".into(),
            image_id: Digest::of_bytes(b"i"),
            image_top: None,
            rw_id: "rw".into(),
            created: String::new(),
            config: Config { entrypoint: entrypoint.map(v), cmd: cmd.map(v), ..Default::default() },
            mounts: vec![],
            binds: vec![],
            volumes_from: vec![],
            read_only: false,
            host: Default::default(),
            state: Default::default(),
        }
    }

    #[test]
    fn command_lines_like_moby() {
        assert_eq!(command_line(&with(None, Some(&["sh"]))), "sh");
        assert_eq!(command_line(&with(Some(&["/bin/sh", "-c"]), Some(&["echo hi"]))), "/bin/sh -c 'echo hi'");
        assert_eq!(command_line(&with(None, None)), "");
        assert_eq!(path_args(&with(Some(&["a"]), Some(&["b", "c"]))), ("a".to_string(), vec!["b".into(), "c".into()]));
    }
}
