//! Containers: a record, an init layer and a writable layer over an image.
//!
//! ```text
//! image layers (read-only)  ←  <rw>-init  ←  <rw>
//!                               /etc/hosts, /etc/hostname,        the container's changes
//!                               /etc/resolv.conf, /.dockerenv …   (overlay2: the upper dir)
//! ```
//!
//! The record is written first (`creating`, with the owning process), then the
//! two driver layers, then it is published; a crash in between is swept on
//! open like an abandoned layer. Running state (pid, exit code, times) lives
//! in the record so the runtime issue can fill it without a schema change.

pub mod cp;
pub mod fs;
pub mod mount;
pub mod names;
pub mod spec;

use std::collections::BTreeMap;

use rusqlite::{OptionalExtension, params};
use serde::{Deserialize, Serialize};

use crate::Store;
use crate::error::{Result, StoreError};
use crate::meta::now_rfc3339;
use crate::types::Digest;

pub use fs::CommitOpts;
pub use spec::{ContainerSpec, HostOptions, MountKind, MountPoint, MountRequest};

/// Docker's `Config` of a container (what the process runs with).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct Config {
    pub hostname: String,
    pub domainname: String,
    pub user: String,
    pub attach_stdin: bool,
    pub attach_stdout: bool,
    pub attach_stderr: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exposed_ports: Option<BTreeMap<String, serde_json::Value>>,
    pub tty: bool,
    pub open_stdin: bool,
    pub stdin_once: bool,
    pub env: Vec<String>,
    pub cmd: Option<Vec<String>>,
    /// The image as the user named it.
    pub image: String,
    pub volumes: Option<BTreeMap<String, serde_json::Value>>,
    pub working_dir: String,
    pub entrypoint: Option<Vec<String>>,
    pub on_build: Option<Vec<String>>,
    pub labels: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_signal: Option<String>,
}

/// Lifecycle state, Docker's `State`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct State {
    /// created | running | paused | restarting | removing | exited | dead
    pub status: String,
    pub running: bool,
    pub paused: bool,
    pub restarting: bool,
    #[serde(rename = "OOMKilled")]
    pub oom_killed: bool,
    pub dead: bool,
    pub pid: i64,
    pub exit_code: i64,
    pub error: String,
    pub started_at: String,
    pub finished_at: String,
    /// The strata monitor supervising the running container (strata-runtime):
    /// its pid and start time (clock ticks since boot), so a killed monitor or
    /// a reboot is detected. 0 when none. Not part of Docker's `State`.
    #[serde(default)]
    pub monitor_pid: i64,
    #[serde(default)]
    pub monitor_start: u64,
    /// Start time of `pid`, to tell the container's init from a reused pid.
    #[serde(default)]
    pub pid_start: u64,
}

pub const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

impl State {
    fn created() -> State {
        State {
            status: "created".into(),
            started_at: ZERO_TIME.into(),
            finished_at: ZERO_TIME.into(),
            ..Default::default()
        }
    }
}

#[derive(Debug, Clone)]
pub struct Container {
    pub id: String,
    pub name: String,
    pub image_id: Digest,
    /// ChainID of the image's top layer (None for an image without layers).
    pub image_top: Option<Digest>,
    /// Driver id of the writable layer; the init layer is `<rw_id>-init`.
    pub rw_id: String,
    pub created: String,
    pub config: Config,
    pub mounts: Vec<MountPoint>,
    /// Docker's `HostConfig.Binds` (the `-v` strings as given).
    pub binds: Vec<String>,
    pub volumes_from: Vec<String>,
    pub read_only: bool,
    /// The rest of the request's host options (`--mount`, `--tmpfs`, `-p`, ...).
    pub host: HostOptions,
    pub state: State,
}

impl Container {
    pub fn init_id(&self) -> String {
        format!("{}-init", self.rw_id)
    }

    pub fn short_id(&self) -> &str {
        &self.id[..12]
    }
}

#[derive(Serialize, Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
struct HostConfigRow {
    binds: Vec<String>,
    volumes_from: Vec<String>,
    read_only: bool,
    #[serde(flatten)]
    host: HostOptions,
}

const COLS: &str = "id, name, image_id, image_top, rw_id, created, config, mounts, host_config, state";

fn from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<RawRow> {
    Ok(RawRow {
        id: r.get(0)?,
        name: r.get(1)?,
        image_id: r.get(2)?,
        image_top: r.get(3)?,
        rw_id: r.get(4)?,
        created: r.get(5)?,
        config: r.get(6)?,
        mounts: r.get(7)?,
        host_config: r.get(8)?,
        state: r.get(9)?,
    })
}

struct RawRow {
    id: String,
    name: String,
    image_id: String,
    image_top: Option<String>,
    rw_id: String,
    created: String,
    config: String,
    mounts: String,
    host_config: String,
    state: String,
}

fn corrupt(id: &str, what: &str, e: serde_json::Error) -> StoreError {
    StoreError::Corrupt(format!("container {id}: {what}: {e}"))
}

impl RawRow {
    fn into_container(self) -> Result<Container> {
        let hc: HostConfigRow =
            serde_json::from_str(&self.host_config).map_err(|e| corrupt(&self.id, "host config", e))?;
        Ok(Container {
            config: serde_json::from_str(&self.config).map_err(|e| corrupt(&self.id, "config", e))?,
            mounts: serde_json::from_str(&self.mounts).map_err(|e| corrupt(&self.id, "mounts", e))?,
            state: serde_json::from_str(&self.state).map_err(|e| corrupt(&self.id, "state", e))?,
            image_id: Digest::parse(&self.image_id)?,
            image_top: self.image_top.as_deref().map(Digest::parse).transpose()?,
            binds: hc.binds,
            volumes_from: hc.volumes_from,
            read_only: hc.read_only,
            host: hc.host,
            id: self.id,
            name: self.name,
            rw_id: self.rw_id,
            created: self.created,
        })
    }
}

impl Store {
    /// Create a container from `spec`: record, init layer, rw layer.
    pub fn create_container(&self, spec: &ContainerSpec) -> Result<Container> {
        let image = self.image(&spec.image)?;
        let id = strata_sys::random_id();
        let name = match &spec.name {
            Some(n) => {
                let n = n.trim_start_matches('/');
                if !names::valid(n) {
                    return Err(StoreError::invalid(
                        format!("container name {n:?}"),
                        "Invalid container name, only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed",
                    ));
                }
                n.to_string()
            }
            None => self.unused_name()?,
        };
        if let Some(other) = self.find_container_exact(&name)? {
            return Err(StoreError::NameInUse { name, container: other.id });
        }
        let config = spec.config_for(&image);
        let (mounts, new_volumes) = self.resolve_mounts(spec, &image)?;
        let rw_id = strata_sys::random_id();
        let pid = std::process::id();
        let start = strata_sys::process_start_time(pid).unwrap_or(0) as i64;
        let hc = HostConfigRow {
            binds: spec.binds.clone(),
            volumes_from: spec.volumes_from.clone(),
            read_only: spec.read_only,
            host: spec.host.clone(),
        };
        let inserted = self.db().try_write(|tx| {
            let taken: Option<String> = tx
                .query_row("SELECT id FROM containers WHERE name=?1", [&name], |r| r.get(0))
                .optional()
                .map_err(|e| self.db().err(e))?;
            if let Some(other) = taken {
                return Err(StoreError::NameInUse { name: name.clone(), container: other });
            }
            tx.execute(
                &format!("INSERT INTO containers({COLS}, creating, owner_pid, owner_start) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,1,?11,?12)"),
                params![
                    id,
                    name,
                    image.id.as_str(),
                    image.top_layer.as_ref().map(Digest::as_str),
                    rw_id,
                    now_rfc3339(),
                    json(&config),
                    json(&mounts),
                    json(&hc),
                    json(&State::created()),
                    pid,
                    start
                ],
            )
            .map_err(|e| self.db().err(e))?;
            Ok(())
        });
        if let Err(e) = inserted {
            self.discard_volumes(&new_volumes);
            return Err(e);
        }
        let built = self.build_container_layers(&rw_id, image.top_layer.as_ref(), &config.hostname);
        let built = built.and_then(|()| self.populate_volumes(&id, &mounts, &image, &rw_id));
        if let Err(e) = built {
            self.discard_container_layers(&rw_id);
            let _ = self.db().write(|tx| tx.execute("DELETE FROM containers WHERE id=?1", [&id]));
            self.discard_volumes(&new_volumes);
            return Err(e);
        }
        self.db().write(|tx| {
            tx.execute("UPDATE containers SET creating=0, owner_pid=NULL, owner_start=NULL WHERE id=?1", [&id])
        })?;
        self.container(&id)
    }

    fn unused_name(&self) -> Result<String> {
        for retry in 0..10 {
            let n = names::generate(retry);
            if self.find_container_exact(&n)?.is_none() {
                return Ok(n);
            }
        }
        Ok(format!("c_{}", &strata_sys::random_id()[..12]))
    }

    /// The init layer (Docker's `<id>-init`: mount points for the files the
    /// runtime bind-mounts) and the writable layer above it.
    fn build_container_layers(&self, rw_id: &str, top: Option<&Digest>, hostname: &str) -> Result<()> {
        let parent_cache = top.map(|t| self.layer(t).map(|l| l.cache_id)).transpose()?;
        let init = format!("{rw_id}-init");
        self.driver().create(&init, parent_cache.as_deref())?;
        init_layer::populate(&self.driver().diff_dir(&init), hostname)?;
        self.driver().create(rw_id, Some(&init))?;
        Ok(())
    }

    fn discard_container_layers(&self, rw_id: &str) {
        for id in [rw_id.to_string(), format!("{rw_id}-init")] {
            if let Err(e) = self.driver().remove(&id) {
                tracing::warn!("removing layer {id}: {e}");
            }
        }
    }

    /// A container by full id, unique id prefix, or name (with or without `/`).
    pub fn container(&self, name_or_id: &str) -> Result<Container> {
        self.find_container(name_or_id)?.ok_or_else(|| StoreError::NoSuchContainer(name_or_id.to_string()))
    }

    pub fn find_container(&self, name_or_id: &str) -> Result<Option<Container>> {
        if let Some(c) = self.find_container_exact(name_or_id)? {
            return Ok(Some(c));
        }
        let n = name_or_id;
        if n.is_empty() || n.len() > 64 || !n.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Ok(None);
        }
        let mut stmt = self
            .db()
            .conn()
            .prepare(&format!("SELECT {COLS} FROM containers WHERE creating=0 AND id >= ?1 AND id < ?2 LIMIT 2"))
            .map_err(|e| self.db().err(e))?;
        let hi = format!("{n}\u{10ffff}");
        let rows: Vec<RawRow> =
            stmt.query_map([n, hi.as_str()], from_row).and_then(|r| r.collect()).map_err(|e| self.db().err(e))?;
        match rows.len() {
            0 => Ok(None),
            1 => rows.into_iter().next().unwrap().into_container().map(Some),
            _ => Err(StoreError::invalid(n, "multiple containers match this id prefix; give more characters")),
        }
    }

    fn find_container_exact(&self, name_or_id: &str) -> Result<Option<Container>> {
        let n = name_or_id.trim_start_matches('/');
        let row = self
            .db()
            .conn()
            .query_row(&format!("SELECT {COLS} FROM containers WHERE creating=0 AND (id=?1 OR name=?1)"), [n], from_row)
            .optional()
            .map_err(|e| self.db().err(e))?;
        row.map(RawRow::into_container).transpose()
    }

    /// All containers, newest first.
    pub fn containers(&self) -> Result<Vec<Container>> {
        let mut stmt = self
            .db()
            .conn()
            .prepare(&format!("SELECT {COLS} FROM containers WHERE creating=0 ORDER BY created DESC"))
            .map_err(|e| self.db().err(e))?;
        let rows: Vec<RawRow> = stmt.query_map([], from_row).and_then(|r| r.collect()).map_err(|e| self.db().err(e))?;
        rows.into_iter().map(RawRow::into_container).collect()
    }

    /// `rename OLD NEW`.
    pub fn rename_container(&self, old: &str, new: &str) -> Result<()> {
        let c = self.container(old)?;
        let new = new.trim_start_matches('/');
        if !names::valid(new) {
            return Err(StoreError::invalid(
                format!("container name {new:?}"),
                "Invalid container name, only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed",
            ));
        }
        if c.name == new {
            return Err(StoreError::invalid(new, "Renaming a container with the same name as its current name"));
        }
        self.db().try_write(|tx| {
            let taken: Option<String> = tx
                .query_row("SELECT id FROM containers WHERE name=?1", [new], |r| r.get(0))
                .optional()
                .map_err(|e| self.db().err(e))?;
            if let Some(other) = taken {
                return Err(StoreError::NameInUse { name: new.to_string(), container: other });
            }
            tx.execute("UPDATE containers SET name=?1 WHERE id=?2", [new, c.id.as_str()])
                .map_err(|e| self.db().err(e))?;
            Ok(())
        })
    }

    /// Replace a container's state (used by the runtime).
    pub fn set_container_state(&self, id: &str, state: &State) -> Result<()> {
        let s = serde_json::to_string(state).expect("state serialises");
        self.db().write(|tx| tx.execute("UPDATE containers SET state=?1 WHERE id=?2", [s.as_str(), id]).map(|_| ()))
    }

    /// `rm [-f] [-v]`: refuse a running container unless `force` (the runtime
    /// stops it first); remove its layers, and with `volumes` its anonymous
    /// volumes that no other container uses.
    pub fn remove_container(&self, name_or_id: &str, force: bool, volumes: bool) -> Result<Container> {
        let c = self.container(name_or_id)?;
        if c.state.running && !force {
            return Err(StoreError::ContainerRunning { id: c.id.clone() });
        }
        self.force_unmount_container(&c)?;
        self.db().write(|tx| tx.execute("DELETE FROM containers WHERE id=?1", [&c.id]).map(|_| ()))?;
        // Row first, then directories: a crash leaves orphan directories, which
        // the sweep on open removes, never a record whose layers are gone.
        self.discard_container_layers(&c.rw_id);
        if volumes {
            self.release_anonymous_volumes(&c)?;
        }
        Ok(c)
    }

    /// Containers (ids) created from `image`.
    pub fn containers_using_image(&self, image: &Digest) -> Result<Vec<String>> {
        let mut stmt =
            self.db().conn().prepare("SELECT id FROM containers WHERE image_id=?1").map_err(|e| self.db().err(e))?;
        stmt.query_map([image.as_str()], |r| r.get(0)).and_then(|r| r.collect()).map_err(|e| self.db().err(e))
    }
}

/// Sweep containers whose creating process died, like abandoned layers.
pub(crate) fn sweep_abandoned(store: &Store) -> Result<()> {
    let rows: Vec<(String, String, Option<i64>, Option<i64>)> = {
        let mut stmt = store
            .db()
            .conn()
            .prepare("SELECT id, rw_id, owner_pid, owner_start FROM containers WHERE creating=1")
            .map_err(|e| store.db().err(e))?;
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .and_then(|r| r.collect())
            .map_err(|e| store.db().err(e))?
    };
    for (id, rw_id, pid, start) in rows {
        let alive = matches!((pid, start), (Some(p), Some(s)) if strata_sys::process_alive(p as u32, s as u64));
        if !alive {
            store.discard_container_layers(&rw_id);
            store.db().write(|tx| tx.execute("DELETE FROM containers WHERE id=?1", [&id]).map(|_| ()))?;
        }
    }
    Ok(())
}

mod init_layer {
    //! Docker's init layer contents: empty mount points for what the runtime
    //! provides, so they exist even in images that lack them.
    use std::path::Path;

    use crate::error::{IoCtx, Result};

    pub(super) fn populate(dir: &Path, _hostname: &str) -> Result<()> {
        let root = strata_sys::root::Root::new(dir)?;
        for d in ["dev/pts", "dev/shm", "proc", "sys", "etc"] {
            root.mkdir_all(Path::new(d), 0o755)?;
        }
        for f in ["etc/resolv.conf", "etc/hosts", "etc/hostname", ".dockerenv", "dev/console"] {
            let pinned = root.pinned(Path::new(f))?;
            let p = pinned.path();
            if p.symlink_metadata().is_err() {
                std::fs::File::create(&p).ctx("create", &dir.join(f))?;
                let mode = if f == "dev/console" { 0o600 } else { 0o755 };
                strata_sys::fs::chmod(&p, mode)?;
            }
        }
        let mtab = root.pinned(Path::new("etc/mtab"))?;
        if mtab.path().symlink_metadata().is_err() {
            std::os::unix::fs::symlink("/proc/mounts", mtab.path()).ctx("symlink", &dir.join("etc/mtab"))?;
        }
        Ok(())
    }
}

fn json<T: Serialize>(v: &T) -> String {
    serde_json::to_string(v).expect("record serialises")
}
