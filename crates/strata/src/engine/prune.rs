//! `image prune`: moby's `ImagesPrune` for the graphdriver store. Dangling
//! (untagged) images go; with `dangling=false` (`-a`) every image no container
//! uses goes, one reference at a time. Space reclaimed is the size of the
//! layers actually deleted.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use strata_store::Store;
use strata_store::image::RmiEvent;

use super::filters::{Filters, match_labels, parse_timestamp};
use super::images::created;

/// Filter names `image prune` accepts (`dangling` is set by `-a`).
pub const ACCEPTED_FILTERS: &[&str] = &["dangling", "label", "label!", "until"];

#[derive(Debug, Default)]
pub struct PruneReport {
    pub deleted: Vec<RmiEvent>,
    pub space_reclaimed: u64,
}

pub fn prune_images(store: &Store, filters: &Filters, now: DateTime<Utc>) -> anyhow::Result<PruneReport> {
    filters.validate(ACCEPTED_FILTERS)?;
    let dangling_only = filters.bool_or("dangling", true)?;
    let mut until: Option<DateTime<Utc>> = None;
    for v in filters.get("until") {
        let t = parse_timestamp(v, now)?;
        until = Some(until.map_or(t, |u| u.min(t)));
    }
    let layer_sizes: HashMap<String, u64> =
        store.layers()?.into_iter().map(|l| (l.chain_id.to_string(), l.tar_size)).collect();
    let mut report = PruneReport::default();
    for img in store.images()? {
        if let Some(u) = until
            && created(&img).is_none_or(|c| c > u)
        {
            continue;
        }
        if !match_labels(filters, &img.config.config.labels.clone().unwrap_or_default()) {
            continue;
        }
        if !store.image_users(&img.id)?.is_empty() {
            continue;
        }
        if img.tags.is_empty() {
            match store.remove_image(img.id.as_str(), false) {
                Ok(events) => report.deleted.extend(events),
                Err(e) => tracing::warn!("failed to prune image {}: {e}", img.id),
            }
            continue;
        }
        let has_tag = img.tags.iter().any(|t| t.tag.is_some());
        if dangling_only && has_tag {
            continue;
        }
        for r in &img.tags {
            match store.remove_image(&r.to_string(), false) {
                Ok(events) => report.deleted.extend(events),
                Err(e) => tracing::warn!("failed to prune image {}: {e}", r.familiar()),
            }
        }
    }
    report.space_reclaimed = report
        .deleted
        .iter()
        .filter_map(|e| match e {
            RmiEvent::Deleted(id) => layer_sizes.get(id).copied(),
            RmiEvent::Untagged(_) => None,
        })
        .sum();
    Ok(report)
}
