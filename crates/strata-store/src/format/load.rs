//! `load`: docker-archive (legacy and Docker ≥25 dual format), OCI layout
//! directories and oci-archive tars, plain or gzip/zstd-compressed as a whole.
//!
//! Three phases keep a failure from registering anything half-done:
//! 1. *plan*: index the archive, read and verify every JSON document (config
//!    digests, manifest and index digests, layer counts, tags) and check every
//!    needed layer member is present;
//! 2. *layers*: stream each missing layer once, straight from its place in the
//!    archive through decompression into [`Store::put_layer`], which hashes
//!    (DiffID) while extracting and registers nothing on a mismatch. Layers
//!    whose ChainID exists are skipped. A layer completed before a later error
//!    stays: it is valid content, and the next load skips it;
//! 3. *images*: register the configs and tags.
//!
//! Only a non-seekable input (stdin, a pipe) or an archive compressed as a whole is
//! spooled to `<root>/tmp` first (decompressed), then read like a file.

use std::fs::{File, OpenOptions};
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use strata_archive::ArchiveError;
use strata_archive::compress::{Compression, decompressing_reader, detect};
use strata_archive::digest::HashingReader;

use super::source::Source;
use super::{docker_archive, oci};
use crate::Store;
use crate::config::ImageConfig;
use crate::error::{Result, StoreError};
use crate::progress::{Progress, ProgressReader, ProgressWriter};
use crate::reference::Reference;
use crate::types::Digest;

/// What to load.
pub enum LoadInput<'a> {
    /// A tar file (possibly gzip/zstd-compressed as a whole) or an OCI layout directory.
    Path(PathBuf),
    /// A stream that cannot seek (stdin): spooled to the staging area first.
    Reader(Box<dyn Read + 'a>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadedImage {
    pub id: Digest,
    /// The tags the archive gave it (now pointing at it), in archive order.
    pub tags: Vec<Reference>,
    /// Tags that named another image before, with that image's id.
    pub replaced: Vec<(Reference, Digest)>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoadReport {
    pub images: Vec<LoadedImage>,
}

impl LoadReport {
    /// Docker's output: `Loaded image: busybox:latest` per tag (preceded by
    /// `The image … already exists, renaming the old one …` when the tag moved),
    /// and `Loaded image ID: sha256:…` for an image the archive does not name.
    /// (Docker prints the ID lines only when the *last* image is untagged, and
    /// then for every image; strata prints one line per untagged image.)
    pub fn lines(&self) -> Vec<String> {
        let mut out = Vec::new();
        for img in &self.images {
            if img.tags.is_empty() {
                out.push(format!("Loaded image ID: {}", img.id));
            }
            for t in &img.tags {
                if let Some((_, old)) = img.replaced.iter().find(|(r, _)| r == t) {
                    out.push(format!(
                        "The image {} already exists, renaming the old one with ID {old} to empty string",
                        t.familiar()
                    ));
                }
                out.push(format!("Loaded image: {}", t.familiar()));
            }
        }
        out
    }
}

/// One image to register, everything about it verified except layer contents.
#[derive(Debug, Clone)]
pub(crate) struct ImagePlan {
    pub config_digest: Digest,
    pub config: Vec<u8>,
    pub layers: Vec<LayerPlan>,
    pub tags: Vec<Reference>,
}

#[derive(Debug, Clone)]
pub(crate) struct LayerPlan {
    pub member: String,
    /// From the image config: what the uncompressed stream must hash to.
    pub diff_id: Digest,
    /// What the member's bytes as stored must hash to (OCI descriptor, blob name).
    pub blob_digest: Option<Digest>,
    /// The size a descriptor promises.
    pub size: Option<u64>,
}

/// `bytes` (the content of `member`) must hash to `expected`.
pub(crate) fn verify_blob(src: &Source, member: &str, expected: &Digest, bytes: &[u8]) -> Result<()> {
    let actual = Digest::of_bytes(bytes);
    if &actual != expected {
        return Err(StoreError::DigestMismatch {
            what: format!("{member} in {}", src.name()),
            expected: expected.to_string(),
            actual: actual.to_string(),
        });
    }
    Ok(())
}

/// Parse an image config and return its DiffIDs, which must be `layers` many.
pub(crate) fn check_image_config(src: &Source, member: &str, bytes: &[u8], layers: usize) -> Result<Vec<Digest>> {
    let config = ImageConfig::parse(bytes).map_err(|e| src.bad(member, e))?;
    if !config.os.is_empty() && config.os != "linux" {
        return Err(src.bad(member, format!("cannot load {} image on linux", config.os)));
    }
    if config.rootfs.diff_ids.len() != layers {
        return Err(src.bad(
            member,
            format!(
                "invalid manifest, layers length mismatch: expected {layers}, got {}",
                config.rootfs.diff_ids.len()
            ),
        ));
    }
    config
        .rootfs
        .diff_ids
        .iter()
        .map(|d| Digest::parse(d).map_err(|e| src.bad(member, format!("rootfs.diff_ids: {e}"))))
        .collect()
}

/// Load every image of `input` into `store`.
pub fn load(store: &Store, input: LoadInput<'_>, progress: &dyn Progress) -> Result<LoadReport> {
    let src = match input {
        LoadInput::Path(p) if p.is_dir() => Source::dir(&p)?,
        LoadInput::Path(p) => {
            let name = p.display().to_string();
            let file = File::open(&p).map_err(|e| StoreError::io("open", &p, e))?;
            let regular = file.metadata().map_err(|e| StoreError::io("stat", &p, e))?.is_file();
            // A pipe (`-i /dev/stdin`) cannot be read at offsets: spool it like stdin.
            if !regular || compressed_as_a_whole(&file, &p)? {
                let mut reader = BufReader::new(file);
                Source::tar(spool(store, &mut reader, &name, progress)?, &name)?
            } else {
                Source::tar(file, &name)?
            }
        }
        LoadInput::Reader(mut r) => Source::tar(spool(store, &mut r, "stdin", progress)?, "stdin")?,
    };
    load_source(store, &src, progress)
}

fn compressed_as_a_whole(file: &File, path: &Path) -> Result<bool> {
    let mut magic = [0u8; 6];
    let mut n = 0;
    while n < magic.len() {
        let got = file.read_at(&mut magic[n..], n as u64).map_err(|e| StoreError::io("read", path, e))?;
        if got == 0 {
            break;
        }
        n += got;
    }
    Ok(detect(&magic[..n]) != Compression::None)
}

/// Copy `r` (decompressing an outer gzip/zstd) into a staging file and return
/// it open; its name is already unlinked, so nothing outlives the load.
fn spool(store: &Store, r: &mut dyn Read, name: &str, progress: &dyn Progress) -> Result<File> {
    let path = store.staging_path("load");
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(&path)
        .map_err(|e| StoreError::io("create", &path, e))?;
    let result = (|| {
        let (_, mut dec) = decompressing_reader(BufReader::new(r))
            .map_err(|e| super::source::bad(name, format!("reading the archive: {e}")))?;
        progress.begin("Reading archive", None);
        let mut out = BufWriter::with_capacity(1 << 20, ProgressWriter::new(&file, progress));
        let copied = io::copy(&mut dec, &mut out).and_then(|_| out.flush());
        progress.end();
        copied.map_err(|e| match e.kind() {
            io::ErrorKind::InvalidData | io::ErrorKind::UnexpectedEof => {
                super::source::bad(name, format!("reading the archive: {e}"))
            }
            _ => StoreError::io("spool to", &path, e),
        })
    })();
    let _ = std::fs::remove_file(&path);
    result.map(|_| file)
}

fn load_source(store: &Store, src: &Source, progress: &dyn Progress) -> Result<LoadReport> {
    let plans = if src.exists("manifest.json") {
        docker_archive::plan(src)?
    } else if src.exists("index.json") {
        oci::plan(src)?
    } else if src.exists("repositories") {
        return Err(src.bad("manifest.json", "not found: archives of Docker before 1.10 are not supported"));
    } else {
        return Err(src.bad("manifest.json", "neither manifest.json nor index.json found: not an image archive"));
    };

    // Phase 1: every layer we will need is there, with the promised size.
    for p in &plans {
        let mut parent: Option<Digest> = None;
        for l in &p.layers {
            let chain = Digest::chain(parent.as_ref(), &l.diff_id);
            if store.find_layer(&chain)?.is_none() {
                match src.size(&l.member)? {
                    None => return Err(src.bad(&l.member, "layer blob missing from the archive")),
                    Some(s) if l.size.is_some_and(|want| want != s) => {
                        return Err(src.bad(
                            &l.member,
                            format!("size {s} does not match the manifest's {}", l.size.unwrap_or_default()),
                        ));
                    }
                    Some(_) => {}
                }
            }
            parent = Some(chain);
        }
    }

    // Phase 2: layers.
    for p in &plans {
        let mut parent: Option<Digest> = None;
        for l in &p.layers {
            let chain = Digest::chain(parent.as_ref(), &l.diff_id);
            if store.find_layer(&chain)?.is_none() {
                load_layer(store, src, parent.as_ref(), l, progress)?;
            }
            parent = Some(chain);
        }
    }

    // Phase 3: images.
    let mut report = LoadReport::default();
    for p in plans {
        let mut tags: Vec<Reference> = Vec::new();
        for t in p.tags {
            if !tags.contains(&t) {
                tags.push(t);
            }
        }
        let mut replaced = Vec::new();
        for t in &tags {
            if let Some(prev) = store.find_image(&t.to_string())?
                && prev.id != p.config_digest
            {
                replaced.push((t.clone(), prev.id));
            }
        }
        let img = store.create_image(&p.config, &tags)?;
        report.images.push(LoadedImage { id: img.id, tags, replaced });
    }
    Ok(report)
}

fn load_layer(
    store: &Store,
    src: &Source,
    parent: Option<&Digest>,
    l: &LayerPlan,
    progress: &dyn Progress,
) -> Result<()> {
    let (raw, size) = src.open(&l.member)?;
    progress.begin(&format!("Loading layer {}", &l.diff_id.hex()[..12]), Some(size));
    let raw = ProgressReader::new(raw, progress);
    // An uncompressed blob named by its DiffID is verified by put_layer alone.
    let blob_digest = l.blob_digest.as_ref().filter(|b| *b != &l.diff_id);
    let result = match blob_digest {
        None => put(store, src, parent, l, raw),
        Some(expected) => {
            let mut hashing = HashingReader::new(raw);
            put(store, src, parent, l, &mut hashing).and_then(|_| {
                // The decompressor may stop before the end of the stored stream.
                io::copy(&mut hashing, &mut io::sink()).map_err(|e| src.bad(&l.member, format!("read: {e}")))?;
                let (hex, _) = hashing.finish();
                if hex != expected.hex() {
                    return Err(StoreError::DigestMismatch {
                        what: format!("{} in {}", l.member, src.name()),
                        expected: expected.to_string(),
                        actual: format!("sha256:{hex}"),
                    });
                }
                Ok(())
            })
        }
    };
    progress.end();
    result
}

fn put(store: &Store, src: &Source, parent: Option<&Digest>, l: &LayerPlan, raw: impl Read) -> Result<()> {
    let (_, layer) = decompressing_reader(BufReader::with_capacity(1 << 16, raw))
        .map_err(|e| src.bad(&l.member, format!("reading layer: {e}")))?;
    match store.put_layer(parent, layer, Some(&l.diff_id)) {
        Ok(_) => Ok(()),
        Err(StoreError::DigestMismatch { expected, actual, .. }) => {
            Err(StoreError::DigestMismatch { what: format!("layer {} in {}", l.member, src.name()), expected, actual })
        }
        Err(StoreError::Archive(e))
            if !matches!(e, ArchiveError::Io { .. } | ArchiveError::Sys(_) | ArchiveError::Write(_)) =>
        {
            Err(src.bad(&l.member, format!("layer: {e}")))
        }
        Err(e) => Err(e),
    }
}
