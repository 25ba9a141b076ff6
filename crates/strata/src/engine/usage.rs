//! `system df` (and the counts of `info`): what the store holds and what could
//! be reclaimed, computed as moby's `DiskUsage` and the docker CLI (v28) do.
//!
//! - Images: TOTAL = images, ACTIVE = images some container uses, SIZE = every
//!   layer an image references, counted once, RECLAIMABLE = SIZE minus the
//!   unique size of active images. Per image (`-v`): SIZE = its layers, SHARED
//!   SIZE = its layers that another image also uses, UNIQUE SIZE = the rest.
//! - Containers: SIZE = the writable layers' changed files (Docker's `SizeRw`),
//!   ACTIVE = running, paused or restarting; the others are reclaimable.
//! - Local volumes: SIZE = their data, ACTIVE = referenced by a container; the
//!   unreferenced ones are reclaimable; LINKS (`-v`) = the containers using
//!   one. Volumes with driver options are not counted, as in Docker.
//! - Build cache: strata has none yet.
//!
//! [`disk_usage`] is the one call that sums all of them.

use std::collections::{HashMap, HashSet};
use std::os::unix::fs::MetadataExt;

use chrono::{DateTime, Utc};
use strata_archive::ChangeKind;
use strata_store::container::{Container, MountKind};
use strata_store::volume::Volume;
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

/// One container in `system df -v`.
#[derive(Debug, Clone)]
pub struct ContainerUsage {
    pub container: Container,
    /// Bytes of the files the container added or changed.
    pub size_rw: u64,
    /// Mounts of named or anonymous volumes.
    pub local_volumes: usize,
    /// The image as moby reports it (the name used, or the id).
    pub image: String,
}

/// One volume in `system df -v`.
#[derive(Debug, Clone)]
pub struct VolumeUsage {
    pub volume: Volume,
    pub size: u64,
    /// Containers referencing it.
    pub ref_count: u64,
}

#[derive(Debug, Clone, Default)]
pub struct DiskUsage {
    pub images: Summary,
    pub image_items: Vec<ImageUsage>,
    pub containers: Summary,
    pub container_items: Vec<ContainerUsage>,
    pub volumes: Summary,
    pub volume_items: Vec<VolumeUsage>,
    pub build_cache: Summary,
}

/// Everything `system df` reports, from one pass over the store.
pub fn disk_usage(store: &Store) -> anyhow::Result<DiskUsage> {
    let mut usage = DiskUsage::default();
    images(store, &mut usage)?;
    containers(store, &mut usage)?;
    volumes(store, &mut usage)?;
    // No build cache yet.
    usage.build_cache = Summary::default();
    Ok(usage)
}

fn images(store: &Store, usage: &mut DiskUsage) -> anyhow::Result<()> {
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
    let mut active_unique = 0u64;
    for (img, chain) in images.into_iter().zip(chains) {
        let containers = store.containers_using_image(&img.id)?.len() as u64;
        let size: u64 = chain.iter().map(|l| l.tar_size).sum();
        let shared_size: u64 = chain.iter().filter(|l| refs[l.chain_id.as_str()] > 1).map(|l| l.tar_size).sum();
        if containers > 0 {
            usage.images.active += 1;
            active_unique += size - shared_size;
        }
        usage.image_items.push(ImageUsage { created: created(&img), image: img, size, shared_size, containers });
    }
    usage.image_items.sort_by_key(|i| std::cmp::Reverse(i.created));
    usage.images.total_count = usage.image_items.len() as u64;
    usage.images.total_size = sizes.values().sum();
    usage.images.reclaimable = usage.images.total_size.saturating_sub(active_unique);
    Ok(())
}

/// Docker counts running, paused and restarting containers as active.
pub fn container_active(c: &Container) -> bool {
    c.state.running || c.state.paused || c.state.restarting
}

fn containers(store: &Store, usage: &mut DiskUsage) -> anyhow::Result<()> {
    for c in store.containers()? {
        let size_rw = match size_rw(store, &c) {
            Ok(n) => n,
            Err(e) => {
                tracing::warn!("size of container {}: {e}", c.short_id());
                0
            }
        };
        let local_volumes = c.mounts.iter().filter(|m| m.kind == MountKind::Volume).count();
        usage.containers.total_count += 1;
        usage.containers.total_size += size_rw;
        if container_active(&c) {
            usage.containers.active += 1;
        } else {
            usage.containers.reclaimable += size_rw;
        }
        let image = super::containers::image_name(store, &c);
        usage.container_items.push(ContainerUsage { container: c, size_rw, local_volumes, image });
    }
    Ok(())
}

/// moby's `ChangesSize`: the sizes of everything but directories among the
/// writable layer's added and changed paths, hard links counted once.
pub fn size_rw(store: &Store, c: &Container) -> anyhow::Result<u64> {
    let dir = store.driver().diff_dir(&c.rw_id);
    let mut seen = HashSet::new();
    let mut total = 0;
    for change in store.container_changes(c)? {
        if change.kind == ChangeKind::Deleted {
            continue;
        }
        let Ok(md) = std::fs::symlink_metadata(dir.join(change.path.trim_start_matches('/'))) else { continue };
        if md.is_dir() || (md.nlink() > 1 && !seen.insert(md.ino())) {
            continue;
        }
        total += md.len();
    }
    Ok(total)
}

/// Volumes with driver options (tmpfs, nfs, binds of host directories) are
/// left out, as moby's `LocalVolumesSize` does: their data is not ours.
fn volumes(store: &Store, usage: &mut DiskUsage) -> anyhow::Result<()> {
    for v in store.volumes()? {
        if !v.options.is_empty() {
            continue;
        }
        let size = store.volume_size(&v)?;
        let ref_count = store.volume_users(&v.name)?.len() as u64;
        usage.volumes.total_count += 1;
        usage.volumes.total_size += size;
        if ref_count > 0 {
            usage.volumes.active += 1;
        } else {
            usage.volumes.reclaimable += size;
        }
        usage.volume_items.push(VolumeUsage { volume: v, size, ref_count });
    }
    Ok(())
}

/// Container counts of `info`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ContainerCounts {
    pub total: u64,
    pub running: u64,
    pub paused: u64,
    pub stopped: u64,
}

pub fn container_counts(store: &Store) -> anyhow::Result<ContainerCounts> {
    let mut n = ContainerCounts::default();
    for c in store.containers()? {
        n.total += 1;
        if c.state.paused {
            n.paused += 1;
        } else if c.state.running {
            n.running += 1;
        } else {
            n.stopped += 1;
        }
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use strata_store::StoreOpts;
    use strata_store::container::ContainerSpec;
    use strata_store::format::{ImportOpts, import};
    use strata_store::progress::NoProgress;
    use strata_store::volume::VolumeSpec;

    use super::*;

    fn rootfs(files: &[(&str, usize)]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (name, size) in files {
            let mut h = tar::Header::new_gnu();
            h.set_size(*size as u64);
            h.set_mode(0o755);
            h.set_entry_type(tar::EntryType::Regular);
            b.append_data(&mut h, name, &vec![1u8; *size][..]).unwrap();
        }
        b.into_inner().unwrap()
    }

    #[test]
    fn sums_images_containers_and_volumes() {
        let dir = tempfile::tempdir().unwrap();
        let opts =
            StoreOpts { root: dir.path().join("root"), run_root: dir.path().join("run"), driver: Some("vfs".into()) };
        let store = Store::open(&opts).unwrap();
        let tar = rootfs(&[("bin/sh", 1000)]);
        let import_opts = ImportOpts {
            reference: Some(strata_store::Reference::parse("base:1").unwrap()),
            source_name: "-".into(),
            ..Default::default()
        };
        import(&store, &tar[..], &import_opts, &NoProgress).unwrap();
        let spec = ContainerSpec {
            name: Some("c1".into()),
            image: "base:1".into(),
            binds: vec!["data:/data".into()],
            ..Default::default()
        };
        let c = store.create_container(&spec).unwrap();
        // The container writes 300 bytes; the volume holds 50.
        std::fs::write(store.driver().diff_dir(&c.rw_id).join("new.txt"), vec![0u8; 300]).unwrap();
        let v = store.volume("data").unwrap();
        std::fs::write(v.mountpoint.join("f"), vec![0u8; 50]).unwrap();
        store.create_volume(&VolumeSpec { name: Some("unused".into()), ..Default::default() }).unwrap();

        let u = disk_usage(&store).unwrap();
        assert_eq!(u.images, Summary { total_count: 1, active: 1, total_size: tar.len() as u64, reclaimable: 0 });
        assert_eq!(u.image_items[0].containers, 1);
        assert_eq!(u.containers, Summary { total_count: 1, active: 0, total_size: 300, reclaimable: 300 });
        assert_eq!(u.container_items[0].local_volumes, 1);
        assert_eq!(u.volumes, Summary { total_count: 2, active: 1, total_size: 50, reclaimable: 0 });
        assert_eq!(container_counts(&store).unwrap(), ContainerCounts { total: 1, running: 0, paused: 0, stopped: 1 });
    }
}
