//! Committed, read-only layers, keyed by ChainID and stored once.
//!
//! A layer is created from a tar stream in one pass: the stream is hashed
//! (DiffID) while it is extracted into a fresh driver directory, and a
//! tar-split is recorded so `save` can reproduce the exact bytes later. The
//! database row exists (state `creating`, owned by this process) before the
//! directory does, so a crash leaves only things a sweep can attribute.

use std::io::Read;

use rusqlite::{OptionalExtension, params};
use strata_archive::apply::{ApplyOptions, apply_layer};

use crate::Store;
use crate::error::{Result, StoreError};
use crate::meta::now_rfc3339;
use crate::types::Digest;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layer {
    pub chain_id: Digest,
    pub diff_id: Digest,
    pub parent: Option<Digest>,
    /// The driver's directory id.
    pub cache_id: String,
    /// Size of the uncompressed layer tar.
    pub tar_size: u64,
    pub created: String,
}

fn row_to_layer(r: &rusqlite::Row<'_>) -> rusqlite::Result<(String, String, Option<String>, String, i64, String)> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?))
}

fn to_layer(t: (String, String, Option<String>, String, i64, String)) -> Result<Layer> {
    Ok(Layer {
        chain_id: Digest::parse(&t.0)?,
        diff_id: Digest::parse(&t.1)?,
        parent: t.2.as_deref().map(Digest::parse).transpose()?,
        cache_id: t.3,
        tar_size: t.4 as u64,
        created: t.5,
    })
}

const COLS: &str = "chain_id, diff_id, parent, cache_id, tar_size, created";

impl Store {
    /// A ready layer by ChainID.
    pub fn layer(&self, chain_id: &Digest) -> Result<Layer> {
        self.find_layer(chain_id)?.ok_or_else(|| StoreError::NoSuchLayer(chain_id.to_string()))
    }

    pub fn find_layer(&self, chain_id: &Digest) -> Result<Option<Layer>> {
        let t = self
            .db()
            .conn()
            .query_row(
                &format!("SELECT {COLS} FROM layers WHERE chain_id=?1 AND state='ready'"),
                [chain_id.as_str()],
                row_to_layer,
            )
            .optional()
            .map_err(|e| self.db().err(e))?;
        t.map(to_layer).transpose()
    }

    /// All ready layers.
    pub fn layers(&self) -> Result<Vec<Layer>> {
        let mut stmt = self
            .db()
            .conn()
            .prepare(&format!("SELECT {COLS} FROM layers WHERE state='ready' ORDER BY created"))
            .map_err(|e| self.db().err(e))?;
        let rows = stmt.query_map([], row_to_layer).map_err(|e| self.db().err(e))?;
        let mut out = Vec::new();
        for r in rows {
            out.push(to_layer(r.map_err(|e| self.db().err(e))?)?);
        }
        Ok(out)
    }

    /// The chain from the base layer up to `top`, base first.
    pub fn layer_chain(&self, top: &Digest) -> Result<Vec<Layer>> {
        let mut chain = Vec::new();
        let mut cur = Some(top.clone());
        while let Some(id) = cur {
            let l = self.layer(&id)?;
            cur = l.parent.clone();
            chain.push(l);
        }
        chain.reverse();
        Ok(chain)
    }

    /// Create (or find) the layer whose content is the uncompressed tar `tar` on
    /// top of `parent`. When `expected` is given and the stream hashes to
    /// anything else, nothing is registered and the error names both digests.
    /// Identical layers are stored once: when the resulting ChainID already
    /// exists, the new copy is discarded and the existing layer returned.
    pub fn put_layer(&self, parent: Option<&Digest>, tar: impl Read, expected: Option<&Digest>) -> Result<Layer> {
        if let Some(p) = parent {
            self.layer(p)?;
        }
        let cache_id = strata_sys::random_id();
        let pending = format!("pending:{cache_id}");
        let pid = std::process::id();
        let start = strata_sys::process_start_time(pid).unwrap_or(0);
        let parent_cache = parent.map(|p| self.layer(p).map(|l| l.cache_id)).transpose()?;
        self.db().write(|tx| {
            tx.execute(
                "INSERT INTO layers(chain_id, diff_id, parent, cache_id, state, owner_pid, owner_start, created)
                 VALUES (?1, '', ?2, ?3, 'creating', ?4, ?5, ?6)",
                params![pending, parent.map(Digest::as_str), cache_id, pid, start as i64, now_rfc3339()],
            )
        })?;
        let result = self.fill_layer(&cache_id, parent_cache.as_deref(), tar);
        let (stats, tar_split) = match result {
            Ok(v) => v,
            Err(e) => {
                self.abandon_layer(&pending, &cache_id);
                return Err(e);
            }
        };
        let diff_id = Digest::from_hex(&stats.diff_id_hex)?;
        if let Some(exp) = expected
            && exp != &diff_id
        {
            self.abandon_layer(&pending, &cache_id);
            return Err(StoreError::DigestMismatch {
                what: "layer".into(),
                expected: exp.to_string(),
                actual: diff_id.to_string(),
            });
        }
        let chain_id = Digest::chain(parent, &diff_id);
        let published = self.db().write(|tx| {
            let exists: Option<String> = tx
                .query_row(
                    "SELECT cache_id FROM layers WHERE chain_id=?1 AND state='ready'",
                    [chain_id.as_str()],
                    |r| r.get(0),
                )
                .optional()?;
            if exists.is_some() {
                tx.execute("DELETE FROM layers WHERE chain_id=?1", [&pending])?;
                return Ok(false);
            }
            tx.execute(
                "UPDATE layers SET chain_id=?1, diff_id=?2, tar_size=?3, tar_split=?4, state='ready',
                        owner_pid=NULL, owner_start=NULL, created=?5
                 WHERE chain_id=?6",
                params![chain_id.as_str(), diff_id.as_str(), stats.tar_size as i64, tar_split, now_rfc3339(), pending],
            )?;
            Ok(true)
        })?;
        if !published {
            let _ = self.driver().remove(&cache_id);
        }
        self.layer(&chain_id)
    }

    fn fill_layer(
        &self,
        cache_id: &str,
        parent_cache: Option<&str>,
        tar: impl Read,
    ) -> Result<(strata_archive::apply::ApplyStats, Vec<u8>)> {
        self.driver().create(cache_id, parent_cache)?;
        let opts = ApplyOptions { whiteouts: self.driver().whiteout_mode(), same_owner: is_root(), tar_split: true };
        let dir = self.driver().diff_dir(cache_id);
        let mut stats = apply_layer(tar, &dir, &opts)?;
        strata_archive::apply::sync_tree(&dir)?;
        let split = stats.tar_split.take().unwrap_or_default();
        Ok((stats, split))
    }

    fn abandon_layer(&self, pending: &str, cache_id: &str) {
        if let Err(e) = self.driver().remove(cache_id) {
            tracing::warn!("removing abandoned layer {cache_id}: {e}");
            return; // keep the row so a later sweep retries
        }
        let _ = self.db().write(|tx| tx.execute("DELETE FROM layers WHERE chain_id=?1", [pending]));
    }

    /// Write the exact bytes of the layer's original tar to `out`.
    pub fn layer_tar(&self, layer: &Layer, out: &mut dyn std::io::Write) -> Result<u64> {
        let split: Option<Vec<u8>> = self
            .db()
            .conn()
            .query_row("SELECT tar_split FROM layers WHERE chain_id=?1", [layer.chain_id.as_str()], |r| r.get(0))
            .map_err(|e| self.db().err(e))?;
        match split {
            Some(split) if !split.is_empty() => {
                Ok(strata_archive::tarsplit::reassemble(&split, &self.driver().diff_dir(&layer.cache_id), out)?)
            }
            _ => {
                let parent = layer.parent.as_ref().map(|p| self.layer(p)).transpose()?;
                self.driver().diff(&layer.cache_id, parent.as_ref().map(|p| p.cache_id.as_str()), out)
            }
        }
    }

    /// Delete `top` and its ancestors that nothing else references (no image's
    /// top layer, no child layer). Returns the ChainIDs removed, top first.
    pub(crate) fn release_layer(&self, top: &Digest) -> Result<Vec<Digest>> {
        let mut removed = Vec::new();
        let mut cur = Some(top.clone());
        while let Some(id) = cur {
            let victim = self.db().write(|tx| {
                let row: Option<(String, Option<String>)> = tx
                    .query_row("SELECT cache_id, parent FROM layers WHERE chain_id=?1", [id.as_str()], |r| {
                        Ok((r.get(0)?, r.get(1)?))
                    })
                    .optional()?;
                let Some((cache_id, parent)) = row else { return Ok(None) };
                let used: i64 = tx.query_row(
                    "SELECT (SELECT COUNT(*) FROM images WHERE top_layer=?1) + (SELECT COUNT(*) FROM layers WHERE parent=?1)",
                    [id.as_str()],
                    |r| r.get(0),
                )?;
                if used > 0 {
                    return Ok(None);
                }
                tx.execute("DELETE FROM layers WHERE chain_id=?1", [id.as_str()])?;
                Ok(Some((cache_id, parent)))
            })?;
            let Some((cache_id, parent)) = victim else { break };
            // The row is gone first: a crash here leaves an orphan directory,
            // which `sweep_orphans` (open) removes, never a row without data.
            self.driver().remove(&cache_id)?;
            removed.push(id);
            cur = parent.map(|p| Digest::parse(&p)).transpose()?;
        }
        Ok(removed)
    }
}

/// Remove layers whose creating process died, and driver directories that no
/// record owns (left when a process died between deleting a row and its dir).
pub(crate) fn sweep_abandoned(store: &Store) -> Result<()> {
    let pending: Vec<(String, String, Option<i64>, Option<i64>)> = {
        let mut stmt = store
            .db()
            .conn()
            .prepare("SELECT chain_id, cache_id, owner_pid, owner_start FROM layers WHERE state='creating'")
            .map_err(|e| store.db().err(e))?;
        let rows =
            stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))).map_err(|e| store.db().err(e))?;
        rows.collect::<rusqlite::Result<_>>().map_err(|e| store.db().err(e))?
    };
    for (chain, cache_id, pid, start) in pending {
        let alive = matches!((pid, start), (Some(p), Some(s)) if strata_sys::process_alive(p as u32, s as u64));
        if !alive {
            tracing::info!("sweeping layer {cache_id} abandoned by process {pid:?}");
            store.abandon_layer(&chain, &cache_id);
        }
    }
    for orphan in crate::check::orphan_driver_dirs(store)? {
        tracing::info!("sweeping orphan layer directory {orphan}");
        store.driver().remove(&orphan)?;
    }
    Ok(())
}

fn is_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").map(|m| m.uid() == 0).unwrap_or(false)
}
