//! What strata knows about layers in registries (Docker's "v2 metadata"):
//! which compressed blob holds a layer's DiffID, in which repository. A push
//! uses it to skip a layer the registry already has (HEAD) or to mount it from
//! another repository, without compressing it again.
//!
//! Table (created by this crate, additively, in the store's database):
//!
//! ```text
//! registry_blobs(diff_id, blob_digest, media_type, size, registry, repository, seen)
//!   one row per (diff_id, blob, registry, repository), recorded on pull and push
//! ```
//!
//! Repository digests (`images --digests`, `RepoDigests`) need no table of
//! their own: they are `repo@sha256:<manifest>` references in the store's
//! `tags` table, which the CLI already lists as digests.

use rusqlite::params;
use strata_store::{Digest, Reference, Store};

use crate::error::Result;

const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS registry_blobs (
    diff_id     TEXT NOT NULL,
    blob_digest TEXT NOT NULL,
    media_type  TEXT NOT NULL,
    size        INTEGER NOT NULL,
    registry    TEXT NOT NULL,
    repository  TEXT NOT NULL,
    seen        TEXT NOT NULL,
    PRIMARY KEY (diff_id, blob_digest, registry, repository)
);
CREATE INDEX IF NOT EXISTS registry_blobs_diff ON registry_blobs(diff_id);";

/// A compressed blob known to hold a layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobSource {
    pub blob_digest: Digest,
    pub media_type: String,
    pub size: u64,
    pub registry: String,
    pub repository: String,
}

fn ensure_table(store: &Store) -> Result<()> {
    store.db().write(|tx| tx.execute_batch(SCHEMA))?;
    Ok(())
}

/// Remember that `blob` holds the layer `diff_id` in `registry/repository`.
pub fn record(store: &Store, diff_id: &Digest, blob: &BlobSource) -> Result<()> {
    ensure_table(store)?;
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    store.db().write(|tx| {
        tx.execute(
            "INSERT INTO registry_blobs(diff_id, blob_digest, media_type, size, registry, repository, seen)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
             ON CONFLICT DO UPDATE SET seen=excluded.seen, media_type=excluded.media_type, size=excluded.size",
            params![
                diff_id.as_str(),
                blob.blob_digest.as_str(),
                blob.media_type,
                blob.size as i64,
                blob.registry,
                blob.repository,
                now
            ],
        )
        .map(|_| ())
    })?;
    Ok(())
}

/// The blobs known to hold `diff_id`, most recently seen first.
pub fn sources(store: &Store, diff_id: &Digest) -> Result<Vec<BlobSource>> {
    ensure_table(store)?;
    let mut stmt = store
        .db()
        .conn()
        .prepare(
            "SELECT blob_digest, media_type, size, registry, repository FROM registry_blobs
             WHERE diff_id=?1 ORDER BY seen DESC",
        )
        .map_err(|e| store.db().err(e))?;
    let rows: Vec<(String, String, i64, String, String)> = stmt
        .query_map([diff_id.as_str()], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))
        .and_then(|r| r.collect())
        .map_err(|e| store.db().err(e))?;
    let mut out = Vec::new();
    for (d, media_type, size, registry, repository) in rows {
        out.push(BlobSource { blob_digest: Digest::parse(&d)?, media_type, size: size as u64, registry, repository });
    }
    Ok(out)
}

/// The repository digests (`repo@sha256:…`) recorded for an image.
pub fn repo_digests(store: &Store, image: &strata_store::Image) -> Vec<Reference> {
    let _ = store;
    image.tags.iter().filter(|t| t.tag.is_none() && t.digest.is_some()).cloned().collect()
}

/// Record `repo@digest` for an image (Docker's RepoDigests).
pub fn record_repo_digest(
    store: &Store,
    image: &strata_store::Image,
    reference: &Reference,
    manifest: &Digest,
) -> Result<()> {
    let r = Reference { tag: None, digest: Some(manifest.to_string()), ..reference.clone() };
    store.create_image(&image.config_bytes, &[r])?;
    Ok(())
}
