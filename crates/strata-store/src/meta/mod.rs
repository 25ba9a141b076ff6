//! The metadata database: SQLite in WAL mode, shared safely by concurrent
//! strata processes. Writes run in `BEGIN IMMEDIATE` transactions so two
//! writers queue on the busy timeout instead of failing mid-transaction.
//!
//! Tables:
//! - `meta(key, value)`: schema version, the driver the root was created with.
//! - `layers`: committed read-only layers keyed by ChainID; `state` is
//!   `creating` while a process (owner_pid, owner_start) builds it, `ready` after.
//! - `images`: image id (config digest) → config bytes and top layer.
//! - `tags`: fully qualified reference → image id.
//! - `containers`: container records (config, mounts, state as JSON text).
//! - `volumes`: managed volumes (labels and options as JSON text).

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior};

use crate::error::{Result, StoreError};

pub const SCHEMA_VERSION: i64 = 1;

const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS layers (
    chain_id    TEXT PRIMARY KEY,
    diff_id     TEXT NOT NULL,
    parent      TEXT REFERENCES layers(chain_id),
    cache_id    TEXT NOT NULL UNIQUE,
    tar_size    INTEGER NOT NULL DEFAULT 0,
    tar_split   BLOB,
    state       TEXT NOT NULL CHECK (state IN ('creating', 'ready')),
    owner_pid   INTEGER,
    owner_start INTEGER,
    created     TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS layers_parent ON layers(parent);
CREATE TABLE IF NOT EXISTS images (
    id         TEXT PRIMARY KEY,
    config     BLOB NOT NULL,
    top_layer  TEXT REFERENCES layers(chain_id),
    created    TEXT NOT NULL,
    loaded_at  TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS tags (
    name     TEXT PRIMARY KEY,
    image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE,
    tagged_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS tags_image ON tags(image_id);
CREATE TABLE IF NOT EXISTS containers (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    image_id    TEXT NOT NULL REFERENCES images(id),
    image_top   TEXT REFERENCES layers(chain_id),
    rw_id       TEXT NOT NULL UNIQUE,
    created     TEXT NOT NULL,
    config      TEXT NOT NULL,
    mounts      TEXT NOT NULL,
    host_config TEXT NOT NULL,
    state       TEXT NOT NULL,
    creating    INTEGER NOT NULL DEFAULT 0,
    owner_pid   INTEGER,
    owner_start INTEGER
);
CREATE INDEX IF NOT EXISTS containers_image ON containers(image_id);
CREATE TABLE IF NOT EXISTS volumes (
    name      TEXT PRIMARY KEY,
    driver    TEXT NOT NULL DEFAULT 'local',
    labels    TEXT NOT NULL DEFAULT '{}',
    options   TEXT NOT NULL DEFAULT '{}',
    anonymous INTEGER NOT NULL DEFAULT 0,
    created   TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS container_volumes (
    container_id TEXT NOT NULL REFERENCES containers(id) ON DELETE CASCADE,
    volume       TEXT NOT NULL REFERENCES volumes(name),
    PRIMARY KEY (container_id, volume)
);
CREATE INDEX IF NOT EXISTS container_volumes_volume ON container_volumes(volume);
"#;

/// A connection to `<root>/strata.db`.
pub struct Db {
    conn: Connection,
    path: PathBuf,
}

impl Db {
    pub fn open(path: &Path) -> Result<Db> {
        let conn = Connection::open(path).map_err(|e| db_err(path, e))?;
        let db = Db { conn, path: path.to_path_buf() };
        db.conn.busy_timeout(Duration::from_secs(30)).map_err(|e| db.err(e))?;
        db.conn
            .execute_batch("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;")
            .map_err(|e| db.err(e))?;
        db.write(|tx| {
            tx.execute_batch(SCHEMA)?;
            let v: Option<String> =
                tx.query_row("SELECT value FROM meta WHERE key='schema_version'", [], |r| r.get(0)).optional()?;
            if v.is_none() {
                tx.execute("INSERT INTO meta(key, value) VALUES ('schema_version', ?1)", [SCHEMA_VERSION.to_string()])?;
            }
            Ok(())
        })?;
        Ok(db)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn err(&self, e: rusqlite::Error) -> StoreError {
        db_err(&self.path, e)
    }

    /// Run `f` in an IMMEDIATE transaction and commit it.
    pub fn write<T>(&self, f: impl FnOnce(&Transaction<'_>) -> rusqlite::Result<T>) -> Result<T> {
        self.try_write(|tx| f(tx).map_err(|e| self.err(e)))
    }

    /// Like [`Db::write`], for closures that fail with store errors (rolled back).
    pub fn try_write<T>(&self, f: impl FnOnce(&Transaction<'_>) -> Result<T>) -> Result<T> {
        // IMMEDIATE takes the write lock up front, so a concurrent writer waits on
        // busy_timeout instead of failing with SQLITE_BUSY halfway through.
        let tx = Transaction::new_unchecked(&self.conn, TransactionBehavior::Immediate).map_err(|e| self.err(e))?;
        let out = f(&tx)?;
        tx.commit().map_err(|e| self.err(e))?;
        Ok(out)
    }

    /// Read-only access.
    pub fn conn(&self) -> &Connection {
        &self.conn
    }

    pub fn get_meta(&self, key: &str) -> Result<Option<String>> {
        self.conn
            .query_row("SELECT value FROM meta WHERE key=?1", [key], |r| r.get(0))
            .optional()
            .map_err(|e| self.err(e))
    }

    pub fn set_meta(&self, key: &str, value: &str) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO meta(key,value) VALUES(?1,?2) ON CONFLICT(key) DO UPDATE SET value=excluded.value",
                [key, value],
            )
            .map(|_| ())
        })
    }
}

fn db_err(path: &Path, e: rusqlite::Error) -> StoreError {
    StoreError::Db { path: path.to_path_buf(), source: e }
}

/// The current time as RFC 3339 with nanoseconds, UTC (Docker's `Created`).
pub fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}
