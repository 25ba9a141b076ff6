//! What a container's writable layer holds, as Docker shows it: `diff`,
//! `commit` (the layer becomes an image layer) and `export` (the flattened
//! rootfs). Volume contents never appear: volumes are mounted only inside
//! the container's own mount namespace, so the host's view of the layer holds
//! at most the empty mount-point directory, as in Docker.

use std::io::Write;

use strata_archive::Change;

use super::Container;
use crate::Store;
use crate::config::{History, ImageConfig};
use crate::error::{Result, StoreError};
use crate::image::Image;
use crate::meta::now_rfc3339;
use crate::reference::Reference;

/// `commit` options.
#[derive(Debug, Clone, Default)]
pub struct CommitOpts {
    pub reference: Option<Reference>,
    pub author: Option<String>,
    pub message: Option<String>,
    /// Dockerfile instructions applied to the new image's config (`-c`).
    pub changes: Vec<String>,
}

impl Store {
    /// `diff`: changes of the writable layer, sorted by path (Docker's order).
    pub fn container_changes(&self, c: &Container) -> Result<Vec<Change>> {
        self.driver().changes(&c.rw_id, Some(&c.init_id()))
    }

    /// Write the writable layer's changes as an OCI layer tar.
    pub fn container_layer_tar(&self, c: &Container, out: &mut dyn Write) -> Result<u64> {
        self.driver().diff(&c.rw_id, Some(&c.init_id()), out)
    }

    /// `commit`: the writable layer becomes a new layer over the image's, with
    /// the container's config (and `-c` changes) as the new image's defaults.
    pub fn commit_container(&self, c: &Container, opts: &CommitOpts) -> Result<Image> {
        let base = self.image(c.image_id.as_str())?;
        let layer = self.commit_layer(c)?;
        let mut config: ImageConfig = base.config.clone();
        let cc = &c.config;
        config.config.user = cc.user.clone();
        config.config.env = Some(cc.env.clone());
        config.config.cmd = cc.cmd.clone();
        config.config.entrypoint = cc.entrypoint.clone();
        config.config.working_dir = cc.working_dir.clone();
        config.config.labels = if cc.labels.is_empty() { None } else { Some(cc.labels.clone()) };
        config.config.volumes = cc.volumes.clone();
        config.config.exposed_ports = cc.exposed_ports.clone();
        crate::format::changes::apply(&mut config.config, &opts.changes)?;
        let now = now_rfc3339();
        config.created = Some(now.clone());
        config.author = opts.author.clone();
        config.rootfs.diff_ids.push(layer.diff_id.to_string());
        config.history.push(History {
            created: Some(now),
            created_by: Some(created_by(cc)),
            author: opts.author.clone(),
            comment: opts.message.clone(),
            empty_layer: false,
        });
        config.extra.insert("container".into(), serde_json::Value::String(c.id.clone()));
        let tags: Vec<Reference> = opts.reference.iter().cloned().collect();
        self.create_image(&config.to_bytes(), &tags)
    }

    /// The writable layer's changes stored as a read-only layer over the
    /// image's top layer (the layer half of `commit`; `build` uses it per step).
    pub fn commit_layer(&self, c: &Container) -> Result<crate::layer::Layer> {
        std::thread::scope(|s| -> Result<crate::layer::Layer> {
            let (reader, mut writer) = std::io::pipe().map_err(|e| StoreError::io("pipe", "commit", e))?;
            let driver = self.driver();
            let (rw, init) = (c.rw_id.clone(), c.init_id());
            let producer = s.spawn(move || -> Result<u64> {
                let n = driver.diff(&rw, Some(&init), &mut writer);
                drop(writer);
                n
            });
            let put = self.put_layer(c.image_top.as_ref(), reader, None);
            let produced = producer.join().map_err(|_| StoreError::Corrupt("commit: layer writer panicked".into()))?;
            produced?;
            put
        })
    }

    /// `export`: the flattened rootfs as a tar (image content under volume
    /// mount points included, volume contents not).
    pub fn export_container(&self, c: &Container, out: &mut dyn Write) -> Result<u64> {
        let root = self.mount_container(c)?;
        let res = strata_archive::write::write_dir_tar(&root, out, &strata_archive::write::WriteOptions::default());
        let un = self.unmount_container(c);
        let n = res?;
        un?;
        Ok(n)
    }
}

/// Docker's `CreatedBy` for a commit: the container's command line.
fn created_by(cc: &super::Config) -> String {
    let mut parts: Vec<String> = cc.entrypoint.clone().unwrap_or_default();
    parts.extend(cc.cmd.clone().unwrap_or_default());
    parts.join(" ")
}
