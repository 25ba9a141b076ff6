//! `pull`: manifest (or index → this platform's manifest), config, layers.
//!
//! Layers are downloaded by a few threads at once (Docker's 3) into ingest
//! files, in manifest order, while the calling thread applies them in parent
//! order (`put_layer`: the ChainID depends on the parent) as soon as each
//! one's bytes arrive: a layer is extracted *while* it downloads, reading its
//! file behind the writer, and the next layers download meanwhile. Memory
//! stays at a few 1 MiB buffers per stream; disk holds at most the compressed
//! blobs not yet applied.
//!
//! Layers whose ChainID is in the store are not downloaded. Every digest is
//! checked: the manifest (against the reference's digest or the registry's
//! `Docker-Content-Digest`), the config, each blob (its reader ends only after
//! the blob verified) and each DiffID (`put_layer`). A failure registers no
//! image and no bad layer; complete, verified layers below it stay (the next
//! pull skips them) and a partial blob stays in ingest for a `Range` resume.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use strata_archive::compress::decompressing_reader;
use strata_store::{Digest, Image, ImageConfig, Reference, Store, StoreError};

use crate::blobs::{self, BlobSource};
use crate::client::{Client, header};
use crate::config::RegistryConfig;
use crate::error::{RegistryError, Result};
use crate::fetch::{self, Ingest, Job, Slot, SlotReader};
use crate::manifest::{self, Descriptor, Document, ImageManifest, Platform};
use crate::progress::{Status, TransferProgress, short_id};

/// `pull` options.
#[derive(Debug, Clone, Default)]
pub struct PullOpts {
    /// `os/arch[/variant]`; the host's platform when `None`.
    pub platform: Option<String>,
    /// Report no progress at all.
    pub quiet: bool,
    pub registry: RegistryConfig,
}

/// What `pull` did.
#[derive(Debug, Clone)]
pub struct PullReport {
    pub image: Image,
    /// The manifest's digest (the repo digest recorded for the image).
    pub digest: Digest,
    /// Layers downloaded (0: the image was up to date).
    pub downloaded: usize,
    /// Whether the image was new to the store or the tag moved to it.
    pub updated: bool,
}

/// A fetched manifest document.
pub(crate) struct Fetched {
    pub bytes: Vec<u8>,
    pub media_type: String,
    pub digest: Digest,
    pub doc: Document,
}

/// GET a manifest by tag or digest, verified.
pub(crate) fn get_manifest(client: &Client, reference: &Reference, by: &str) -> Result<Fetched> {
    let path = format!("/v2/{}/manifests/{by}", reference.path);
    let resp = client.send_retrying("GET", &path, &[("Accept", manifest::ACCEPT_MANIFESTS)])?;
    let status = resp.status().as_u16();
    if status == 404 {
        let message = resp
            .into_body()
            .with_config()
            .limit(1 << 16)
            .read_to_vec()
            .ok()
            .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
            .and_then(|v| v["errors"][0]["message"].as_str().map(str::to_string))
            .unwrap_or_else(|| "manifest unknown".into());
        return Err(RegistryError::ManifestUnknown { reference: reference.familiar(), message });
    }
    if status == 401 || status == 403 {
        let e = client.error("manifest", resp);
        let message = match e {
            RegistryError::Unauthorized { message, .. } | RegistryError::Api { message, .. } => message,
            other => other.to_string(),
        };
        return Err(RegistryError::PullDenied { repository: reference.familiar_repository(), message });
    }
    if status != 200 {
        return Err(client.error(&format!("manifest {}", reference.familiar()), resp));
    }
    let content_type = header(&resp, "content-type").unwrap_or("").to_string();
    let header_digest = header(&resp, "docker-content-digest").map(str::to_string);
    let bytes = resp
        .into_body()
        .with_config()
        .limit(manifest::MAX_MANIFEST)
        .read_to_vec()
        .map_err(|e| RegistryError::transport("GET", &path, e))?;
    let digest = Digest::of_bytes(&bytes);
    let expected = if by.starts_with("sha256:") {
        Some(by.to_string())
    } else {
        header_digest.filter(|d| d.starts_with("sha256:"))
    };
    if let Some(exp) = expected
        && exp != digest.as_str()
    {
        return Err(RegistryError::DigestMismatch {
            registry: client.registry.clone(),
            what: format!("manifest {}", reference.familiar()),
            expected: exp,
            actual: digest.to_string(),
        });
    }
    let (media_type, doc) = manifest::parse(&bytes, &content_type, &format!("manifest {}", reference.familiar()))?;
    Ok(Fetched { bytes, media_type, digest, doc })
}

/// Pull `reference` into the store: the image, tagged (when the reference has
/// a tag) and with its repo digest recorded.
pub fn pull(
    store: &Store,
    reference: &Reference,
    opts: &PullOpts,
    progress: &dyn TransferProgress,
) -> Result<PullReport> {
    let quiet = crate::progress::NoProgress;
    let progress: &dyn TransferProgress = if opts.quiet { &quiet } else { progress };
    let want = match &opts.platform {
        Some(p) => Platform::parse(p)?,
        None => Platform::host(),
    };
    let client = Client::new(&opts.registry, &reference.domain)?;
    client.add_scope(&reference.path, "pull");
    let by = reference.digest.clone().or_else(|| reference.tag.clone()).unwrap_or_else(|| "latest".into());
    progress.message(&format!("{}: Pulling from {}", reference.tag.as_deref().unwrap_or(&by), reference.path));

    let top = get_manifest(&client, reference, &by)?;
    let (digest, manifest) = match top.doc {
        Document::Image(m) => (top.digest, *m),
        Document::Index(idx) => {
            let d = manifest::select(&idx, &want).ok_or_else(|| RegistryError::NoMatchingPlatform {
                reference: reference.familiar(),
                platform: want.to_string(),
            })?;
            let inner = get_manifest(&client, reference, &d.digest)?;
            match inner.doc {
                Document::Image(m) => (inner.digest, *m),
                Document::Index(_) => {
                    return Err(RegistryError::Unsupported {
                        what: format!("manifest {}", reference.familiar()),
                        reason: "an index nested in an index".into(),
                    });
                }
            }
        }
    };
    // The repo digest of a multi-platform image is the index's, as in Docker.
    let repo_digest = if manifest::is_index(&top.media_type) { Digest::of_bytes(&top.bytes) } else { digest.clone() };
    check_is_image(reference, &manifest)?;

    let config_digest = Digest::parse(&manifest.config.digest)
        .map_err(|e| RegistryError::protocol(&client.registry, "manifest", format!("config digest: {e}")))?;
    let mut tags: Vec<Reference> = Vec::new();
    if reference.tag.is_some() {
        tags.push(Reference { digest: None, ..reference.clone() });
    }
    tags.push(Reference { tag: None, digest: Some(repo_digest.to_string()), ..reference.clone() });

    if let Some(existing) = store.find_image(config_digest.as_str())? {
        let before: Option<Digest> = reference.tag.as_ref().and_then(|_| {
            store.find_image(&Reference { digest: None, ..reference.clone() }.to_string()).ok().flatten().map(|i| i.id)
        });
        for l in &manifest.layers {
            progress.layer(short_id(&l.digest), &Status::AlreadyExists);
        }
        let image = store.create_image(&existing.config_bytes, &tags)?;
        let updated = before.as_ref() != Some(&image.id);
        return Ok(PullReport { image, digest: repo_digest, downloaded: 0, updated });
    }

    let config_bytes =
        fetch::get_small(&client, &reference.path, &manifest.config, manifest::MAX_CONFIG, "image config")?;
    let config = ImageConfig::parse(&config_bytes)?;
    if opts.platform.is_some() {
        let got = Platform {
            os: config.os.clone(),
            architecture: config.architecture.clone(),
            os_version: None,
            variant: config.variant.clone(),
        };
        if !want.matches(&got) {
            return Err(RegistryError::NoMatchingPlatform {
                reference: reference.familiar(),
                platform: want.to_string(),
            });
        }
    }
    if config.rootfs.diff_ids.len() != manifest.layers.len() {
        return Err(RegistryError::protocol(
            &client.registry,
            format!("manifest {}", reference.familiar()),
            format!("{} layers but the config lists {} DiffIDs", manifest.layers.len(), config.rootfs.diff_ids.len()),
        ));
    }
    let mut plan = Vec::new();
    let mut parent: Option<Digest> = None;
    for (desc, d) in manifest.layers.iter().zip(&config.rootfs.diff_ids) {
        let diff_id = Digest::parse(d)?;
        let blob = Digest::parse(&desc.digest)
            .map_err(|e| RegistryError::protocol(&client.registry, "manifest", format!("layer digest: {e}")))?;
        check_layer_type(reference, desc)?;
        let chain = Digest::chain(parent.as_ref(), &diff_id);
        let present = store.find_layer(&chain)?.is_some();
        plan.push(LayerPlan { desc: desc.clone(), blob, diff_id, parent: parent.clone(), present });
        parent = Some(chain);
    }
    let downloaded = fetch_layers(store, &client, reference, &plan, progress)?;
    for l in &plan {
        blobs::record(
            store,
            &l.diff_id,
            &BlobSource {
                blob_digest: l.blob.clone(),
                media_type: l.desc.media_type.clone(),
                size: l.desc.size,
                registry: reference.domain.clone(),
                repository: reference.path.clone(),
            },
        )?;
    }
    let image = store.create_image(&config_bytes, &tags)?;
    Ok(PullReport { image, digest: repo_digest, downloaded, updated: true })
}

struct LayerPlan {
    desc: Descriptor,
    blob: Digest,
    diff_id: Digest,
    parent: Option<Digest>,
    present: bool,
}

/// Refuse artifacts that are not container images, with a useful word.
fn check_is_image(reference: &Reference, m: &ImageManifest) -> Result<()> {
    let t = m.artifact_type.as_deref().unwrap_or(&m.config.media_type);
    if t == crate::volume::VOLUME_ARTIFACT_TYPE {
        return Err(RegistryError::Unsupported {
            what: reference.familiar(),
            reason: "it is a strata volume, not an image: use `strata volume pull`".into(),
        });
    }
    if !m.config.media_type.is_empty()
        && m.config.media_type != manifest::OCI_CONFIG
        && m.config.media_type != manifest::DOCKER_CONFIG
    {
        return Err(RegistryError::Unsupported {
            what: reference.familiar(),
            reason: format!("its config has media type {}, not an image config", m.config.media_type),
        });
    }
    Ok(())
}

fn check_layer_type(reference: &Reference, desc: &Descriptor) -> Result<()> {
    let t = desc.media_type.as_str();
    if t.contains("+encrypted") {
        return Err(RegistryError::Unsupported {
            what: format!("layer {} of {}", desc.digest, reference.familiar()),
            reason: format!("encrypted layers ({t})"),
        });
    }
    if t == manifest::DOCKER_FOREIGN_LAYER || t.contains("nondistributable") || !desc.urls.is_empty() {
        return Err(RegistryError::Unsupported {
            what: format!("layer {} of {}", desc.digest, reference.familiar()),
            reason: format!("foreign layers ({t})"),
        });
    }
    if !t.is_empty() && manifest::oci_layer_type(t).is_none() {
        return Err(RegistryError::Unsupported {
            what: format!("layer {} of {}", desc.digest, reference.familiar()),
            reason: format!("layer media type {t}"),
        });
    }
    Ok(())
}

/// Download the missing layers in parallel and apply them in order. Returns
/// how many were downloaded.
fn fetch_layers(
    store: &Store,
    client: &Client,
    reference: &Reference,
    plan: &[LayerPlan],
    progress: &dyn TransferProgress,
) -> Result<usize> {
    let missing: Vec<usize> = (0..plan.len()).filter(|&i| !plan[i].present).collect();
    for l in plan {
        let id = short_id(l.blob.as_str());
        progress.layer(id, if l.present { &Status::AlreadyExists } else { &Status::PullingFsLayer });
    }
    if missing.is_empty() {
        return Ok(0);
    }
    // One download per distinct blob: a manifest may list the same blob twice.
    let mut blobs: Vec<usize> = Vec::new();
    let mut slot_of: Vec<usize> = Vec::new();
    for &i in &missing {
        match blobs.iter().position(|&b| plan[b].blob == plan[i].blob) {
            Some(k) => slot_of.push(k),
            None => {
                slot_of.push(blobs.len());
                blobs.push(i);
            }
        }
    }
    let ingest = Ingest::open(store)?;
    let slots: Vec<Slot> = blobs.iter().map(|_| Slot::default()).collect();
    let results: Vec<std::sync::Mutex<Option<Result<()>>>> = blobs.iter().map(|_| Default::default()).collect();
    let next = AtomicUsize::new(0);
    let cancel: Vec<AtomicBool> = blobs.iter().map(|_| AtomicBool::new(false)).collect();
    let workers = client.config().max_concurrent_downloads.clamp(1, 8).min(blobs.len());
    for &i in blobs.iter().skip(workers) {
        progress.layer(short_id(plan[i].blob.as_str()), &Status::Waiting);
    }
    let job = |k: usize| {
        let l = &plan[blobs[k]];
        Job {
            client,
            repo: &reference.path,
            desc: &l.desc,
            digest: l.blob.clone(),
            path: ingest.path(&l.blob),
            slot: &slots[k],
            cancel: &cancel[k],
            progress,
            what: format!("layer {} of {}", l.blob, reference.familiar_repository()),
        }
    };
    let outcome = std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                loop {
                    let k = next.fetch_add(1, Ordering::SeqCst);
                    if k >= blobs.len() {
                        break;
                    }
                    // Whatever happens (even a panic), the reader must not wait forever.
                    let guard = fetch::FinishGuard(&slots[k]);
                    let r = if cancel[k].load(Ordering::Relaxed) {
                        Err(RegistryError::Cancelled("cancelled".into()))
                    } else {
                        fetch::download(&job(k))
                    };
                    drop(guard);
                    *results[k].lock().unwrap_or_else(|e| e.into_inner()) = Some(r);
                }
            });
        }
        let applied = apply_in_order(store, plan, &missing, &slot_of, &slots, &ingest, reference, progress);
        if let Err((failed, _)) = &applied {
            // Stop the other downloads (their partial files stay for a resume),
            // but let the failed layer's finish: it tells a corrupt blob (a
            // digest mismatch) from a broken connection.
            for (k, c) in cancel.iter().enumerate() {
                if k != *failed {
                    c.store(true, Ordering::Relaxed);
                }
            }
        }
        applied.map_err(|(_, e)| e)
    });
    if let Err(e) = outcome {
        // Prefer the download's own error (it names the blob and the cause).
        for r in &results {
            if let Some(Err(d)) = r.lock().unwrap_or_else(|e| e.into_inner()).take()
                && !matches!(d, RegistryError::Cancelled(_))
            {
                return Err(d);
            }
        }
        return Err(e);
    }
    Ok(blobs.len())
}

/// Apply the missing layers in order, each from its blob's slot; a failure
/// carries the slot's index.
#[allow(clippy::too_many_arguments)]
fn apply_in_order(
    store: &Store,
    plan: &[LayerPlan],
    missing: &[usize],
    slot_of: &[usize],
    slots: &[Slot],
    ingest: &Ingest,
    reference: &Reference,
    progress: &dyn TransferProgress,
) -> std::result::Result<(), (usize, RegistryError)> {
    for (n, &i) in missing.iter().enumerate() {
        let k = slot_of[n];
        let l = &plan[i];
        let id = short_id(l.blob.as_str()).to_string();
        let reader = SlotReader::new(&slots[k]);
        let counted = Counting { inner: reader, done: 0, total: l.desc.size, id: &id, progress };
        let (_, tar) = decompressing_reader(std::io::BufReader::with_capacity(1 << 20, counted))
            .map_err(|e| (k, RegistryError::Store(StoreError::Archive(e))))?;
        match store.put_layer(l.parent.as_ref(), tar, Some(&l.diff_id)) {
            Ok(_) => {}
            Err(StoreError::DigestMismatch { expected, actual, .. }) => {
                return Err((
                    k,
                    RegistryError::DigestMismatch {
                        registry: reference.domain.clone(),
                        what: format!("layer {} of {} (uncompressed)", l.blob, reference.familiar_repository()),
                        expected,
                        actual,
                    },
                ));
            }
            Err(e) => return Err((k, e.into())),
        }
        if !slot_of[n + 1..].contains(&k) {
            let _ = std::fs::remove_file(ingest.path(&l.blob));
        }
        progress.layer(&id, &Status::PullComplete);
    }
    Ok(())
}

/// Counts compressed bytes as they are extracted.
struct Counting<'a, R> {
    inner: R,
    done: u64,
    total: u64,
    id: &'a str,
    progress: &'a dyn TransferProgress,
}

impl<R: std::io::Read> std::io::Read for Counting<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n > 0 {
            self.done += n as u64;
            self.progress.layer(self.id, &Status::Extracting { current: self.done, total: self.total });
        }
        Ok(n)
    }
}
