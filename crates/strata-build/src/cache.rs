//! The build cache: which image a step produced from a given parent.
//!
//! ```text
//! strata.db  build_cache(key TEXT PRIMARY KEY, image_id TEXT, created TEXT)
//!            key = sha256("strata-build-cache-v1" \n parent image id | "scratch" \n created_by \n extra)
//! ```
//!
//! `created_by` is the history text of the step (Docker's legacy-builder
//! form), which already holds everything the step depends on besides its
//! parent: the expanded arguments, the build args a RUN sees (`|1 A=b ...`)
//! and, for ADD/COPY, the content hash of the sources. The parent image id
//! pins the whole filesystem and config the step starts from.
//!
//! Source hashes follow BuildKit's content hash: relative paths, file types,
//! permission bits, symlink targets and file contents are hashed; owners and
//! times are not (COPY sets the owner itself; a `touch` does not bust the
//! cache). An entry whose image was removed since is a miss (and is dropped).

use std::io::Read;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

use rusqlite::OptionalExtension;
use rustix::fs::OFlags;
use sha2::{Digest as _, Sha256};
use strata_store::{Digest, Image, Store};
use strata_sys::root::Root;

use crate::error::{BuildError, Result};

const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS build_cache (key TEXT PRIMARY KEY, image_id TEXT, created TEXT)";

pub(crate) struct Cache<'a> {
    store: &'a Store,
}

impl<'a> Cache<'a> {
    /// Create the table if this store has none yet.
    pub fn open(store: &'a Store) -> Result<Cache<'a>> {
        store.db().write(|tx| tx.execute_batch(SCHEMA))?;
        Ok(Cache { store })
    }

    pub fn key(parent: Option<&Digest>, created_by: &str, extra: &str) -> String {
        let mut h = Sha256::new();
        h.update(b"strata-build-cache-v1\n");
        h.update(parent.map(Digest::as_str).unwrap_or("scratch").as_bytes());
        h.update(b"\n");
        h.update(created_by.as_bytes());
        h.update(b"\n");
        h.update(extra.as_bytes());
        hex::encode(h.finalize())
    }

    /// The image cached under `key`, if it still exists.
    pub fn lookup(&self, key: &str) -> Result<Option<Image>> {
        let id: Option<Option<String>> = self
            .store
            .db()
            .conn()
            .query_row("SELECT image_id FROM build_cache WHERE key=?1", [key], |r| r.get(0))
            .optional()
            .map_err(|e| self.store.db().err(e))?;
        let Some(id) = id.flatten() else { return Ok(None) };
        let found = match Digest::parse(&id) {
            Ok(d) => self.store.find_image(d.as_str())?,
            Err(_) => None,
        };
        if found.is_none() {
            self.store.db().write(|tx| tx.execute("DELETE FROM build_cache WHERE key=?1", [key]).map(|_| ()))?;
        }
        Ok(found)
    }

    pub fn record(&self, key: &str, image: &Digest) -> Result<()> {
        let now = strata_store::meta::now_rfc3339();
        self.store.db().write(|tx| {
            tx.execute(
                "INSERT INTO build_cache(key, image_id, created) VALUES (?1, ?2, ?3)
                 ON CONFLICT(key) DO UPDATE SET image_id=excluded.image_id, created=excluded.created",
                [key, image.as_str(), now.as_str()],
            )
            .map(|_| ())
        })?;
        Ok(())
    }
}

/// Docker's source hash text: `file:<hex>` for one file, `dir:<hex>` for one
/// directory, `multi:<hex>` over several (each resolved in `root`, symlinks
/// followed confined at the top, never below).
pub(crate) fn hash_sources(root: &Root, sources: &[String]) -> Result<String> {
    let mut parts = Vec::new();
    for rel in sources {
        let fd = root.open(Path::new(rel), OFlags::PATH)?;
        let top = fd_host_path(fd.as_fd());
        let md = std::fs::metadata(&top).map_err(|e| BuildError::io("stat", rel, e))?;
        let mut h = Sha256::new();
        // The name as given matters (a file lands under it); a directory's
        // own name does not (its contents are copied), but it is kept simple.
        h.update(format!("{rel}\n").as_bytes());
        if md.is_dir() {
            hash_entry(&mut h, "", &md, &top)?;
            for entry in walkdir::WalkDir::new(&top).min_depth(1).follow_links(false).sort_by_file_name() {
                let entry = entry.map_err(|e| BuildError::Context(format!("hashing {rel}: {e}")))?;
                let name = entry.path().strip_prefix(&top).unwrap_or(entry.path()).to_string_lossy().into_owned();
                let emd = entry.metadata().map_err(|e| BuildError::Context(format!("hashing {rel}/{name}: {e}")))?;
                hash_entry(&mut h, &name, &emd, entry.path())?;
            }
            parts.push(format!("dir:{}", hex::encode(h.finalize())));
        } else {
            hash_entry(&mut h, "", &md, &top)?;
            parts.push(format!("file:{}", hex::encode(h.finalize())));
        }
    }
    Ok(match parts.len() {
        1 => parts.pop().expect("one"),
        _ => format!("multi:{}", hex::encode(Sha256::digest(parts.join(",").as_bytes()))),
    })
}

/// `/proc/self/fd/N`: the object an fd holds, as a path (valid while it is open).
pub(crate) fn fd_host_path(fd: BorrowedFd<'_>) -> std::path::PathBuf {
    std::path::PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()))
}

fn hash_entry(h: &mut Sha256, name: &str, md: &std::fs::Metadata, path: &Path) -> Result<()> {
    let ft = md.file_type();
    let kind = if ft.is_dir() {
        'd'
    } else if ft.is_symlink() {
        'l'
    } else if ft.is_file() {
        'f'
    } else if ft.is_fifo() {
        'p'
    } else {
        'o'
    };
    h.update(format!("{name}\0{kind}\0{:o}\0", md.mode() & 0o7777).as_bytes());
    if ft.is_symlink() {
        let t = std::fs::read_link(path).map_err(|e| BuildError::io("readlink", path, e))?;
        h.update(t.as_os_str().as_encoded_bytes());
    } else if ft.is_file() {
        let mut f = std::fs::File::open(path).map_err(|e| BuildError::io("open", path, e))?;
        let mut fh = Sha256::new();
        let mut buf = vec![0u8; 1 << 16];
        loop {
            let n = f.read(&mut buf).map_err(|e| BuildError::io("read", path, e))?;
            if n == 0 {
                break;
            }
            fh.update(&buf[..n]);
        }
        h.update(fh.finalize());
    }
    h.update(b"\n");
    Ok(())
}
