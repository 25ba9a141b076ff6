//! `system df`: what the store holds and what could be reclaimed, computed the
//! way moby's `DiskUsage` does for the graphdriver image store.
//!
//! - Images: TOTAL = images, ACTIVE = images containers use, SIZE = every layer
//!   an image references, counted once, RECLAIMABLE = SIZE minus the unique
//!   size of active images (the docker CLI's formula). Per image (`-v`):
//!   SIZE = its layers, SHARED SIZE = its layers that another image also uses,
//!   UNIQUE SIZE = the rest.
//! - Containers, local volumes and the build cache: their stores do not exist
//!   yet, so [`disk_usage`] reports them empty; it is the one place to sum them
//!   when they arrive.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use strata_store::{Image, Layer, Store};

use super::images::created;

/// One row of the `system df` summary.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    pub total_count: u64,
    pub active: u64,
    pub total_size: u64,
    pub reclaimable: u64,
}

/// One image in `system df -v`.
#[derive(Debug, Clone)]
pub struct ImageUsage {
    pub image: Image,
    pub created: Option<DateTime<Utc>>,
    pub size: u64,
    pub shared_size: u64,
    pub containers: u64,
}

#[derive(Debug, Clone, Default)]
pub struct DiskUsage {
    pub images: Summary,
    pub image_items: Vec<ImageUsage>,
    pub containers: Summary,
    pub volumes: Summary,
    pub build_cache: Summary,
}

/// Everything `system df` reports, from one pass over the store.
pub fn disk_usage(store: &Store) -> anyhow::Result<DiskUsage> {
    let images = store.images()?;
    let mut chains: Vec<Vec<Layer>> = Vec::with_capacity(images.len());
    let mut refs: HashMap<String, u64> = HashMap::new();
    let mut sizes: HashMap<String, u64> = HashMap::new();
    for img in &images {
        let chain = match &img.top_layer {
            Some(top) => store.layer_chain(top)?,
            None => Vec::new(),
        };
        for l in &chain {
            *refs.entry(l.chain_id.to_string()).or_default() += 1;
            sizes.insert(l.chain_id.to_string(), l.tar_size);
        }
        chains.push(chain);
    }
    let mut usage = DiskUsage::default();
    let mut active_unique = 0u64;
    for (img, chain) in images.into_iter().zip(chains) {
        let containers = store.image_users(&img.id)?.len() as u64;
        let size: u64 = chain.iter().map(|l| l.tar_size).sum();
        let shared_size: u64 = chain.iter().filter(|l| refs[l.chain_id.as_str()] > 1).map(|l| l.tar_size).sum();
        if containers > 0 {
            usage.images.active += 1;
            active_unique += size - shared_size;
        }
        usage.image_items.push(ImageUsage { created: created(&img), image: img, size, shared_size, containers });
    }
    usage.image_items.sort_by(|a, b| b.created.cmp(&a.created));
    usage.images.total_count = usage.image_items.len() as u64;
    usage.images.total_size = sizes.values().sum();
    usage.images.reclaimable = usage.images.total_size.saturating_sub(active_unique);
    // Containers, volumes and the build cache have no store yet.
    usage.containers = Summary::default();
    usage.volumes = Summary::default();
    usage.build_cache = Summary::default();
    Ok(usage)
}
