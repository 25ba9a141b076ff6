//! `save`: Docker ≥25's dual format, readable as a docker-archive by every
//! `docker load` since 1.10 and as an oci-archive by OCI tools. Modelled on
//! moby `image/tarexport/save.go` (v28):
//!
//! ```text
//! blobs/                     dirs and metadata files: mtime 0
//! blobs/sha256/
//! blobs/sha256/<hex>         layer tars (uncompressed, named by DiffID), configs
//!                            (mtime = the image's `created`), OCI manifests (mtime 0)
//! index.json                 one descriptor per tag (io.containerd.image.name,
//!                            org.opencontainers.image.ref.name); untagged: none
//! manifest.json              [{"Config","RepoTags","Layers","LayerSources"}] + "\n"
//! oci-layout                 {"imageLayoutVersion": "1.0.0"}
//! repositories               {"busybox":{"latest":"<top diff-id hex>"}} + "\n"
//! ```
//!
//! Entries are in lexical order (as Docker's directory walk produces them),
//! every size is known before its data (`Layer::tar_size`), so the archive is
//! streamed with no temporary copy; each layer is hashed as it is written and
//! must match its DiffID. Docker also writes a legacy v1 `json` blob per layer
//! that nothing references; strata does not. The output is deterministic.

use std::collections::BTreeMap;
use std::io::{self, Write};

use strata_archive::digest::HashingWriter;

use super::docker_archive::{LayerSource, ManifestItem};
use super::oci::{self, Descriptor, Manifest};
use crate::Store;
use crate::error::{Result, StoreError};
use crate::image::Image;
use crate::layer::Layer;
use crate::progress::{Progress, ProgressWriter};
use crate::reference::Reference;
use crate::types::Digest;

enum BlobData {
    Bytes(Vec<u8>),
    Layer(Layer),
}

struct Blob {
    data: BlobData,
    mtime: u64,
}

/// Write `names` (tags, repositories, ids) as one archive to `out`.
pub fn save(store: &Store, names: &[String], out: &mut dyn Write, progress: &dyn Progress) -> Result<()> {
    if names.is_empty() {
        return Err(StoreError::invalid("save", "no image given"));
    }
    let images = resolve(store, names)?;
    let mut blobs: BTreeMap<String, Blob> = BTreeMap::new();
    let mut items: Vec<ManifestItem> = Vec::new();
    let mut index: Vec<Descriptor> = Vec::new();
    let mut repositories: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();

    for (img, tags) in &images {
        let created = created_secs(img);
        let chain = match &img.top_layer {
            Some(top) => store.layer_chain(top)?,
            None => Vec::new(),
        };
        let diff_ids: Vec<&str> = chain.iter().map(|l| l.diff_id.as_str()).collect();
        if diff_ids != img.config.rootfs.diff_ids.iter().map(String::as_str).collect::<Vec<_>>() {
            return Err(StoreError::Corrupt(format!(
                "image {}: layer chain does not match its config's diff_ids",
                img.id
            )));
        }
        blobs
            .entry(img.id.hex().to_string())
            .or_insert_with(|| Blob { data: BlobData::Bytes(img.config_bytes.clone()), mtime: created });
        let mut layer_paths = Vec::new();
        let mut layer_sources = BTreeMap::new();
        let mut layer_descs = Vec::new();
        for l in &chain {
            blobs
                .entry(l.diff_id.hex().to_string())
                .or_insert_with(|| Blob { data: BlobData::Layer(l.clone()), mtime: created });
            layer_paths.push(oci::blob_path(&l.diff_id));
            layer_sources.insert(
                l.diff_id.to_string(),
                LayerSource {
                    media_type: oci::MEDIA_TYPE_LAYER.into(),
                    size: l.tar_size as i64,
                    digest: l.diff_id.to_string(),
                    urls: vec![],
                },
            );
            layer_descs.push(descriptor(oci::MEDIA_TYPE_LAYER, &l.diff_id, l.tar_size));
        }
        let manifest = Manifest {
            schema_version: 2,
            media_type: Some(oci::MEDIA_TYPE_MANIFEST.into()),
            config: descriptor(oci::MEDIA_TYPE_CONFIG, &img.id, img.config_bytes.len() as u64),
            layers: layer_descs,
        };
        let manifest_bytes = serde_json::to_vec(&manifest).expect("manifest serialises");
        let manifest_digest = Digest::of_bytes(&manifest_bytes);
        let manifest_desc = descriptor(oci::MEDIA_TYPE_MANIFEST, &manifest_digest, manifest_bytes.len() as u64);
        blobs
            .entry(manifest_digest.hex().to_string())
            .or_insert(Blob { data: BlobData::Bytes(manifest_bytes), mtime: 0 });

        let mut repo_tags = Vec::new();
        for t in tags {
            let Some(tag) = &t.tag else { continue };
            if let Some(top) = chain.last() {
                repositories.entry(t.familiar_repository()).or_default().insert(tag.clone(), top.diff_id.hex().into());
            }
            repo_tags.push(t.familiar());
            let mut d = manifest_desc.clone();
            d.annotations.insert(oci::ANNOTATION_IMAGE_NAME.into(), t.to_string());
            d.annotations.insert(oci::ANNOTATION_REF_NAME.into(), tag.clone());
            index.push(d);
        }
        if repo_tags.is_empty() {
            index.push(manifest_desc);
        }
        items.push(ManifestItem {
            config: oci::blob_path(&img.id),
            repo_tags: (!repo_tags.is_empty()).then_some(repo_tags),
            layers: layer_paths,
            parent: None,
            layer_sources,
        });
    }

    let index_bytes = serde_json::to_vec(&oci::Index {
        schema_version: 2,
        media_type: Some(oci::MEDIA_TYPE_INDEX.into()),
        manifests: index,
    })
    .expect("index serialises");
    let mut manifest_json = serde_json::to_vec(&items).expect("manifest.json serialises");
    manifest_json.push(b'\n');

    let mut tar = TarWriter { out };
    tar.dir("blobs/")?;
    tar.dir("blobs/sha256/")?;
    for (hex, blob) in &blobs {
        let name = format!("blobs/sha256/{hex}");
        match &blob.data {
            BlobData::Bytes(b) => tar.file(&name, b, blob.mtime)?,
            BlobData::Layer(l) => write_layer(store, &mut tar, &name, l, blob.mtime, progress)?,
        }
    }
    tar.file("index.json", &index_bytes, 0)?;
    tar.file("manifest.json", &manifest_json, 0)?;
    tar.file("oci-layout", oci::OCI_LAYOUT_CONTENT.as_bytes(), 0)?;
    if !repositories.is_empty() {
        let mut repos = serde_json::to_vec(&repositories).expect("repositories serialises");
        repos.push(b'\n');
        tar.file("repositories", &repos, 0)?;
    }
    tar.finish()
}

fn descriptor(media_type: &str, digest: &Digest, size: u64) -> Descriptor {
    Descriptor {
        media_type: media_type.into(),
        digest: digest.to_string(),
        size: size as i64,
        urls: vec![],
        annotations: BTreeMap::new(),
        platform: None,
    }
}

fn created_secs(img: &Image) -> u64 {
    img.config
        .created
        .as_deref()
        .and_then(|c| chrono::DateTime::parse_from_rfc3339(c).ok())
        .map(|t| t.timestamp().max(0) as u64)
        .unwrap_or(0)
}

/// Docker's name rules: `repo:tag` saves that tag; a bare repository saves
/// every tag of it; an id (or `name@digest`) saves the image without tags.
fn resolve(store: &Store, names: &[String]) -> Result<Vec<(Image, Vec<Reference>)>> {
    let mut out: Vec<(Image, Vec<Reference>)> = Vec::new();
    fn add(out: &mut Vec<(Image, Vec<Reference>)>, img: Image, tag: Option<Reference>) {
        let i = match out.iter().position(|(i, _)| i.id == img.id) {
            Some(i) => i,
            None => {
                out.push((img, Vec::new()));
                out.len() - 1
            }
        };
        if let Some(t) = tag
            && !out[i].1.contains(&t)
        {
            out[i].1.push(t);
        }
    }
    for name in names {
        let last = name.rsplit('/').next().unwrap_or(name);
        let name_only = !name.contains('@') && !last.contains(':');
        match Reference::parse(name) {
            Ok(r) if name_only && !name.starts_with("sha256:") => {
                let repo = r.repository();
                let mut found = false;
                for img in store.images()? {
                    let tags: Vec<Reference> = img.tags.iter().filter(|t| t.repository() == repo).cloned().collect();
                    for t in tags {
                        add(&mut out, img.clone(), Some(t));
                        found = true;
                    }
                }
                if !found {
                    add(&mut out, store.image(name)?, None);
                }
            }
            Ok(r) if r.digest.is_none() && !name.starts_with("sha256:") => {
                let img = store.image(name)?;
                add(&mut out, img, Some(r));
            }
            _ => add(&mut out, store.image(name)?, None),
        }
    }
    Ok(out)
}

fn write_layer(
    store: &Store,
    tar: &mut TarWriter<'_>,
    name: &str,
    layer: &Layer,
    mtime: u64,
    progress: &dyn Progress,
) -> Result<()> {
    tar.header(name, layer.tar_size, mtime, tar::EntryType::Regular)?;
    progress.begin(&format!("Saving layer {}", &layer.diff_id.hex()[..12]), Some(layer.tar_size));
    let mut bounded = Bounded { inner: &mut *tar.out, left: layer.tar_size };
    let mut hashing = HashingWriter::new(ProgressWriter::new(&mut bounded, progress));
    let written = store.layer_tar(layer, &mut hashing);
    let (hex, count) = hashing.finish();
    progress.end();
    written?;
    if count != layer.tar_size {
        return Err(StoreError::Corrupt(format!(
            "layer {}: reassembled {count} bytes, {} recorded",
            layer.chain_id, layer.tar_size
        )));
    }
    if hex != layer.diff_id.hex() {
        return Err(StoreError::DigestMismatch {
            what: format!("layer {} (saving)", layer.chain_id),
            expected: layer.diff_id.to_string(),
            actual: format!("sha256:{hex}"),
        });
    }
    tar.pad(layer.tar_size)
}

/// Refuses to let more than the declared size through: a longer stream would
/// corrupt the archive rather than merely fail verification.
struct Bounded<'a> {
    inner: &'a mut dyn Write,
    left: u64,
}

impl Write for Bounded<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if buf.len() as u64 > self.left {
            return Err(io::Error::other("layer data is longer than its recorded size"));
        }
        let n = self.inner.write(buf)?;
        self.left -= n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// A minimal tar writer whose entry data may be produced by a `Write`-driven
/// callback (the tar crate's builder wants a `Read`).
struct TarWriter<'a> {
    out: &'a mut dyn Write,
}

fn write_err(e: io::Error) -> StoreError {
    StoreError::io("write archive", "<output>", e)
}

impl TarWriter<'_> {
    fn header(&mut self, name: &str, size: u64, mtime: u64, kind: tar::EntryType) -> Result<()> {
        let mut h = tar::Header::new_ustar();
        h.set_path(name).map_err(write_err)?;
        h.set_entry_type(kind);
        h.set_size(size);
        h.set_mode(if kind == tar::EntryType::Directory { 0o755 } else { 0o644 });
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(mtime);
        h.set_cksum();
        self.out.write_all(h.as_bytes()).map_err(write_err)
    }

    fn dir(&mut self, name: &str) -> Result<()> {
        self.header(name, 0, 0, tar::EntryType::Directory)
    }

    fn file(&mut self, name: &str, data: &[u8], mtime: u64) -> Result<()> {
        self.header(name, data.len() as u64, mtime, tar::EntryType::Regular)?;
        self.out.write_all(data).map_err(write_err)?;
        self.pad(data.len() as u64)
    }

    fn pad(&mut self, size: u64) -> Result<()> {
        let rem = (size % 512) as usize;
        if rem != 0 {
            self.out.write_all(&[0u8; 512][..512 - rem]).map_err(write_err)?;
        }
        Ok(())
    }

    fn finish(&mut self) -> Result<()> {
        self.out.write_all(&[0u8; 1024]).map_err(write_err)?;
        self.out.flush().map_err(write_err)
    }
}
