//! Volumes through a registry: a volume's export archive (`volume export`:
//! a tar, zstd-compressed, with strata's manifest in a PAX comment record)
//! as the single layer of an OCI 1.1 artifact:
//!
//! ```text
//! manifest  application/vnd.oci.image.manifest.v1+json
//!   artifactType  application/vnd.strata.volume.v1
//!   config        application/vnd.oci.empty.v1+json  ({}, the spec's empty descriptor)
//!   layers[0]     application/vnd.oci.image.layer.v1.tar+zstd   title <name>.tar.zst
//!   annotations   io.strata.volume.name, io.strata.volume.labels (JSON), org.opencontainers.image.created
//! ```
//!
//! `volume_pull` downloads the blob into ingest (resumable, verified) and only
//! then imports it (`Store::import_volume`: staged, then exchanged into
//! place), so an unverified byte never reaches a volume. Labels, options,
//! owners, modes and xattrs travel in the archive itself.

use std::collections::BTreeMap;
use std::sync::atomic::AtomicBool;

use strata_archive::compress::Compression;
use strata_store::progress::NoProgress as StoreNoProgress;
use strata_store::volume::{ImportOpts, Volume};
use strata_store::{Digest, Reference, Store};

use crate::client::Client;
use crate::config::RegistryConfig;
use crate::error::{RegistryError, Result};
use crate::fetch::{self, Ingest, Job, Slot};
use crate::manifest::{self, Descriptor, Document, ImageManifest};
use crate::progress::{Status, TransferProgress, short_id};
use crate::pull::get_manifest;
use crate::push::{PushReport, push_bytes, put_manifest, upload_stream};

pub const VOLUME_ARTIFACT_TYPE: &str = "application/vnd.strata.volume.v1";
pub const ANNOTATION_NAME: &str = "io.strata.volume.name";
pub const ANNOTATION_LABELS: &str = "io.strata.volume.labels";
const ANNOTATION_TITLE: &str = "org.opencontainers.image.title";
const ANNOTATION_CREATED: &str = "org.opencontainers.image.created";

/// `volume pull` options.
#[derive(Debug, Clone, Default)]
pub struct VolumePullOpts {
    pub registry: RegistryConfig,
    /// Empty an existing, non-empty volume first (otherwise that is an error).
    pub replace: bool,
}

/// Push volume `name` as an artifact tagged `reference`.
pub fn volume_push(
    store: &Store,
    name: &str,
    reference: &Reference,
    registry: &RegistryConfig,
    progress: &dyn TransferProgress,
) -> Result<PushReport> {
    if reference.digest.is_some() {
        return Err(RegistryError::invalid(reference.familiar(), "cannot push a digest reference; push a tag"));
    }
    let volume = store.volume(name)?;
    let tag = reference.tag.clone().unwrap_or_else(|| "latest".into());
    let client = Client::new(registry, &reference.domain)?;
    client.add_scope(&reference.path, "pull,push");
    progress.message(&format!("The push refers to repository [{}]", reference.repository()));
    let id = name.to_string();
    progress.layer(&id, &Status::Preparing);
    let (digest, size) = upload_stream(&client, &reference.path, &format!("volume {name}"), |w| {
        let mut counting = CountingWriter { inner: w, done: 0, id: &id, progress };
        store.export_volume(name, &mut counting, Compression::Zstd)?;
        Ok(())
    })?;
    progress.layer(&id, &Status::Pushed);
    let config = push_bytes(&client, &reference.path, manifest::EMPTY_JSON, manifest::OCI_EMPTY)?;
    let layer = Descriptor {
        media_type: manifest::OCI_LAYER_ZSTD.into(),
        digest: digest.to_string(),
        size,
        annotations: BTreeMap::from([(ANNOTATION_TITLE.to_string(), format!("{name}.tar.zst"))]),
        ..Default::default()
    };
    let mut annotations = BTreeMap::from([
        (ANNOTATION_NAME.to_string(), volume.name.clone()),
        (ANNOTATION_CREATED.to_string(), chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
    ]);
    if !volume.labels.is_empty() {
        annotations.insert(ANNOTATION_LABELS.into(), serde_json::to_string(&volume.labels).expect("labels serialise"));
    }
    let m = ImageManifest {
        schema_version: 2,
        media_type: Some(manifest::OCI_MANIFEST.into()),
        artifact_type: Some(VOLUME_ARTIFACT_TYPE.into()),
        config,
        layers: vec![layer],
        subject: None,
        annotations,
    };
    let bytes = serde_json::to_vec(&m).expect("manifest serialises");
    let digest = put_manifest(&client, &reference.path, &tag, &bytes, manifest::OCI_MANIFEST)?;
    Ok(PushReport { digest, size: bytes.len() as u64, tag, uploaded: 1 })
}

/// Pull a volume artifact into volume `name` (default: the name it was pushed
/// with). Creates the volume, or fills an empty one (or `replace`s one).
pub fn volume_pull(
    store: &Store,
    reference: &Reference,
    name: Option<&str>,
    opts: &VolumePullOpts,
    progress: &dyn TransferProgress,
) -> Result<Volume> {
    let client = Client::new(&opts.registry, &reference.domain)?;
    client.add_scope(&reference.path, "pull");
    let by = reference.digest.clone().or_else(|| reference.tag.clone()).unwrap_or_else(|| "latest".into());
    let fetched = get_manifest(&client, reference, &by)?;
    let Document::Image(m) = fetched.doc else {
        return Err(not_a_volume(reference, "it is an image index"));
    };
    let kind = m.artifact_type.as_deref().unwrap_or(&m.config.media_type);
    if kind != VOLUME_ARTIFACT_TYPE {
        return Err(not_a_volume(reference, &format!("its artifact type is {kind:?}")));
    }
    let [layer] = m.layers.as_slice() else {
        return Err(not_a_volume(reference, &format!("it has {} layers, not 1", m.layers.len())));
    };
    let name = match name {
        Some(n) => n.to_string(),
        None => m
            .annotations
            .get(ANNOTATION_NAME)
            .cloned()
            .unwrap_or_else(|| reference.path.rsplit('/').next().unwrap_or(&reference.path).to_string()),
    };
    let digest = Digest::parse(&layer.digest)
        .map_err(|e| RegistryError::protocol(&client.registry, "manifest", format!("layer digest: {e}")))?;
    let ingest = Ingest::open(store)?;
    let path = ingest.path(&digest);
    let slot = Slot::default();
    let cancel = AtomicBool::new(false);
    let id = short_id(digest.as_str()).to_string();
    progress.layer(&id, &Status::PullingFsLayer);
    fetch::download(&Job {
        client: &client,
        repo: &reference.path,
        desc: layer,
        digest: digest.clone(),
        path: path.clone(),
        slot: &slot,
        cancel: &cancel,
        progress,
        what: format!("volume archive {digest} of {}", reference.familiar_repository()),
    })?;
    let file = std::fs::File::open(&path).map_err(|e| RegistryError::io("open", &path, e))?;
    progress.layer(&id, &Status::Extracting { current: 0, total: layer.size });
    let v = store.import_volume(&name, file, &ImportOpts { replace: opts.replace }, &StoreNoProgress)?;
    let _ = std::fs::remove_file(&path);
    progress.layer(&id, &Status::PullComplete);
    Ok(v)
}

fn not_a_volume(reference: &Reference, why: &str) -> RegistryError {
    RegistryError::Unsupported { what: reference.familiar(), reason: format!("not a strata volume: {why}") }
}

struct CountingWriter<'a, W> {
    inner: W,
    done: u64,
    id: &'a str,
    progress: &'a dyn TransferProgress,
}

impl<W: std::io::Write> std::io::Write for CountingWriter<'_, W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.done += n as u64;
        self.progress.layer(self.id, &Status::Pushing { current: self.done, total: None });
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}
