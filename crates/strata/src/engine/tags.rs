//! `Metadata.LastTagTime` of `inspect`: when the image was last tagged.
//!
//! The store records `tagged_at` per tag but has no accessor for it; this reads
//! the `tags` table directly. It belongs in strata-store as
//! `Store::last_tag_time(&Digest)` and should move there.

use chrono::{DateTime, Utc};
use strata_store::Store;
use strata_store::types::Digest;

use crate::output::time;

/// The newest `tagged_at` of the image's tags, `None` when it has no tags.
pub fn last_tag_time(store: &Store, id: &Digest) -> anyhow::Result<Option<DateTime<Utc>>> {
    let newest: Option<String> = store
        .db()
        .conn()
        .query_row("SELECT MAX(tagged_at) FROM tags WHERE image_id = ?1", [id.as_str()], |r| r.get(0))
        .map_err(|e| anyhow::anyhow!("metadata database {}: {e}", store.db().path().display()))?;
    Ok(newest.as_deref().and_then(time::parse))
}
