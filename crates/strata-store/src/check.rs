//! `system check [--quick] [--repair]`: find and fix inconsistencies between
//! the metadata database and the driver's directories.
//!
//! Problems found:
//! - orphan layer directories (no record owns them): removed on repair;
//! - layers whose directory is missing, or (without `quick`) whose content no
//!   longer reassembles to its DiffID: the layer, its descendants and the images
//!   on them are removed on repair (they cannot be used; load them again);
//! - images whose top layer record is missing: removed on repair.

use std::collections::{BTreeSet, HashSet};

use crate::Store;
use crate::error::Result;
use crate::types::Digest;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    OrphanLayerDir { cache_id: String },
    LayerDirMissing { chain_id: Digest, cache_id: String },
    LayerContentMismatch { chain_id: Digest, reason: String },
    ImageLayerMissing { image: Digest, layer: Digest },
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Problem::OrphanLayerDir { cache_id } => {
                write!(f, "orphan layer directory {cache_id} (no layer record owns it)")
            }
            Problem::LayerDirMissing { chain_id, cache_id } => {
                write!(f, "layer {chain_id}: directory {cache_id} is missing")
            }
            Problem::LayerContentMismatch { chain_id, reason } => {
                write!(f, "layer {chain_id}: content damaged: {reason}")
            }
            Problem::ImageLayerMissing { image, layer } => write!(f, "image {image}: layer {layer} is missing"),
        }
    }
}

#[derive(Debug, Default)]
pub struct Report {
    pub problems: Vec<Problem>,
    /// What repair removed, in words.
    pub repaired: Vec<String>,
}

/// Driver directories that no layer record (in any state) owns.
pub(crate) fn orphan_driver_dirs(store: &Store) -> Result<Vec<String>> {
    // List the directories *before* reading the records: every record is
    // written before its directory, so a directory listed here whose record is
    // missing afterwards really is an orphan (or one being removed right now,
    // which a second remove tolerates). The other order would take a layer
    // that another process is creating for an orphan and delete it mid-write.
    let on_disk = store.driver().list()?;
    let mut known: HashSet<String> = {
        let mut stmt = store.db().conn().prepare("SELECT cache_id FROM layers").map_err(|e| store.db().err(e))?;
        stmt.query_map([], |r| r.get(0)).and_then(|r| r.collect()).map_err(|e| store.db().err(e))?
    };
    let rw: Vec<String> = {
        let mut stmt = store.db().conn().prepare("SELECT rw_id FROM containers").map_err(|e| store.db().err(e))?;
        stmt.query_map([], |r| r.get(0)).and_then(|r| r.collect()).map_err(|e| store.db().err(e))?
    };
    for id in rw {
        known.insert(format!("{id}-init"));
        known.insert(id);
    }
    Ok(on_disk.into_iter().filter(|id| !known.contains(id)).collect())
}

pub fn check(store: &Store, quick: bool, repair: bool) -> Result<Report> {
    let mut report = Report::default();
    for cache_id in orphan_driver_dirs(store)? {
        report.problems.push(Problem::OrphanLayerDir { cache_id });
    }
    let mut damaged: BTreeSet<Digest> = BTreeSet::new();
    for layer in store.layers()? {
        if !store.driver().exists(&layer.cache_id) {
            report
                .problems
                .push(Problem::LayerDirMissing { chain_id: layer.chain_id.clone(), cache_id: layer.cache_id.clone() });
            damaged.insert(layer.chain_id.clone());
            continue;
        }
        if !quick {
            let mut w = strata_archive::digest::HashingWriter::new(std::io::sink());
            match store.layer_tar(&layer, &mut w) {
                Ok(_) => {
                    let (hex, _) = w.finish();
                    if hex != layer.diff_id.hex() {
                        report.problems.push(Problem::LayerContentMismatch {
                            chain_id: layer.chain_id.clone(),
                            reason: format!("content hashes to sha256:{hex}, expected {}", layer.diff_id),
                        });
                        damaged.insert(layer.chain_id.clone());
                    }
                }
                Err(e) => {
                    report.problems.push(Problem::LayerContentMismatch {
                        chain_id: layer.chain_id.clone(),
                        reason: e.to_string(),
                    });
                    damaged.insert(layer.chain_id.clone());
                }
            }
        }
    }
    // Descendants of damaged layers are unusable too.
    let all = store.layers()?;
    loop {
        let before = damaged.len();
        for l in &all {
            if let Some(p) = &l.parent
                && damaged.contains(p)
            {
                damaged.insert(l.chain_id.clone());
            }
        }
        if damaged.len() == before {
            break;
        }
    }
    let mut bad_images = Vec::new();
    for img in store.images()? {
        if let Some(top) = &img.top_layer {
            if store.find_layer(top)?.is_none() {
                report.problems.push(Problem::ImageLayerMissing { image: img.id.clone(), layer: top.clone() });
                bad_images.push(img.id.clone());
            } else if damaged.contains(top) {
                bad_images.push(img.id.clone());
            }
        }
    }
    if repair {
        for p in &report.problems {
            if let Problem::OrphanLayerDir { cache_id } = p {
                store.driver().remove(cache_id)?;
                report.repaired.push(format!("removed orphan layer directory {cache_id}"));
            }
        }
        for id in &bad_images {
            store.db().write(|tx| {
                tx.execute("DELETE FROM tags WHERE image_id=?1", [id.as_str()])?;
                tx.execute("DELETE FROM images WHERE id=?1", [id.as_str()]).map(|_| ())
            })?;
            report.repaired.push(format!("removed image {id}"));
        }
        // Remove damaged layers top-down so parents lose their children first.
        let mut order: Vec<_> = all.iter().filter(|l| damaged.contains(&l.chain_id)).collect();
        order.reverse();
        for l in order {
            store
                .db()
                .write(|tx| tx.execute("DELETE FROM layers WHERE chain_id=?1", [l.chain_id.as_str()]).map(|_| ()))?;
            store.driver().remove(&l.cache_id)?;
            report.repaired.push(format!("removed layer {}", l.chain_id));
        }
    }
    Ok(report)
}
