//! `push`: layers, config, then an OCI image manifest under the tag.
//!
//! For each layer, cheapest first:
//! 1. a blob known to hold its DiffID (see [`crate::blobs`]) that the target
//!    repository already has (`HEAD`): *Layer already exists*;
//! 2. one another repository of the same registry has: a cross-repository
//!    mount (`POST …/blobs/uploads/?mount=<digest>&from=<repo>`): *Mounted from*;
//! 3. otherwise the layer's tar is gzip-compressed as it streams into one
//!    chunked `PATCH` (hashing the compressed bytes on the way), and the
//!    upload is closed with `PUT ?digest=` once the digest is known. Nothing
//!    is staged on disk and memory stays at the pipe's and the encoder's buffers.
//!
//! The manifest is OCI (`application/vnd.oci.image.manifest.v1+json`), which
//! `docker pull`, containerd and skopeo all read; Docker-family layer types of
//! reused blobs are written with their OCI names (same bytes).

use std::io::Write;

use strata_archive::digest::HashingWriter;
use strata_store::{Digest, Reference, Store};

use crate::blobs::{self, BlobSource};
use crate::client::{Client, ReqBody, encode, header};
use crate::config::RegistryConfig;
use crate::error::{RegistryError, Result};
use crate::manifest::{self, Descriptor, ImageManifest};
use crate::progress::{Status, TransferProgress, short_id};

/// `push` options.
#[derive(Debug, Clone, Default)]
pub struct PushOpts {
    pub registry: RegistryConfig,
    /// gzip level for layers compressed by this push (Docker's default: 6).
    pub gzip_level: Option<u32>,
}

/// What `push` did.
#[derive(Debug, Clone)]
pub struct PushReport {
    /// The manifest's digest.
    pub digest: Digest,
    /// The manifest's size in bytes.
    pub size: u64,
    /// The tag pushed (`latest`).
    pub tag: String,
    /// Layers uploaded (not skipped, not mounted).
    pub uploaded: usize,
}

/// Push the local image `reference` names to its registry.
pub fn push(
    store: &Store,
    reference: &Reference,
    opts: &PushOpts,
    progress: &dyn TransferProgress,
) -> Result<PushReport> {
    if reference.digest.is_some() {
        return Err(RegistryError::invalid(reference.familiar(), "cannot push a digest reference; push a tag"));
    }
    let tag = reference.tag.clone().unwrap_or_else(|| "latest".into());
    let img = store.find_image(&reference.to_string())?.ok_or_else(|| {
        RegistryError::invalid(
            "push",
            format!("An image does not exist locally with the tag: {}", reference.familiar_repository()),
        )
    })?;
    let chain = match &img.top_layer {
        Some(top) => store.layer_chain(top)?,
        None => Vec::new(),
    };
    let client = Client::new(&opts.registry, &reference.domain)?;
    client.add_scope(&reference.path, "pull,push");
    // Mount sources need read access to their repositories, asked for up front.
    let mut known = Vec::new();
    for l in &chain {
        let sources = blobs::sources(store, &l.diff_id)?;
        for s in &sources {
            if s.registry == reference.domain && s.repository != reference.path {
                client.add_scope(&s.repository, "pull");
            }
        }
        known.push(sources);
    }
    progress.message(&format!("The push refers to repository [{}]", reference.repository()));
    for l in chain.iter().rev() {
        progress.layer(short_id(l.diff_id.as_str()), &Status::Preparing);
    }
    let mut layers: Vec<Descriptor> = Vec::new();
    let mut uploaded = 0;
    for (n, (l, sources)) in chain.iter().zip(&known).enumerate() {
        let id = short_id(l.diff_id.as_str()).to_string();
        // The same layer twice in one image: pushed once.
        if let Some(k) = chain[..n].iter().position(|p| p.diff_id == l.diff_id) {
            progress.layer(&id, &Status::LayerAlreadyExists);
            layers.push(layers[k].clone());
            continue;
        }
        let desc = match reuse(&client, reference, sources, &id, progress)? {
            Some(d) => d,
            None => {
                uploaded += 1;
                let d = upload_layer(store, &client, reference, l, opts.gzip_level.unwrap_or(6), &id, progress)?;
                progress.layer(&id, &Status::Pushed);
                d
            }
        };
        blobs::record(
            store,
            &l.diff_id,
            &BlobSource {
                blob_digest: Digest::parse(&desc.digest)?,
                media_type: desc.media_type.clone(),
                size: desc.size,
                registry: reference.domain.clone(),
                repository: reference.path.clone(),
            },
        )?;
        layers.push(desc);
    }
    let config = push_bytes(&client, &reference.path, &img.config_bytes, manifest::OCI_CONFIG)?;
    let m = ImageManifest {
        schema_version: 2,
        media_type: Some(manifest::OCI_MANIFEST.into()),
        artifact_type: None,
        config,
        layers,
        subject: None,
        annotations: Default::default(),
    };
    let bytes = serde_json::to_vec(&m).expect("manifest serialises");
    let digest = put_manifest(&client, &reference.path, &tag, &bytes, manifest::OCI_MANIFEST)?;
    blobs::record_repo_digest(store, &img, reference, &digest)?;
    Ok(PushReport { digest, size: bytes.len() as u64, tag, uploaded })
}

/// A blob already in the registry for this layer: in the repository, or
/// mounted from another one of the same registry.
fn reuse(
    client: &Client,
    reference: &Reference,
    sources: &[BlobSource],
    id: &str,
    progress: &dyn TransferProgress,
) -> Result<Option<Descriptor>> {
    let mut tried = std::collections::HashSet::new();
    for s in sources {
        let Some(media_type) = manifest::oci_layer_type(&s.media_type) else { continue };
        if !tried.insert(s.blob_digest.clone()) {
            continue;
        }
        if blob_exists(client, &reference.path, &s.blob_digest)? {
            progress.layer(id, &Status::LayerAlreadyExists);
            return Ok(Some(descriptor(media_type, &s.blob_digest, s.size)));
        }
    }
    for s in sources {
        let Some(media_type) = manifest::oci_layer_type(&s.media_type) else { continue };
        if s.registry != reference.domain || s.repository == reference.path {
            continue;
        }
        let path = format!(
            "/v2/{}/blobs/uploads/?mount={}&from={}",
            reference.path,
            encode(s.blob_digest.as_str()),
            encode(&s.repository)
        );
        let mut resp = client.send("POST", &path, &[], ReqBody::Empty)?;
        let status = resp.status().as_u16();
        let _ = resp.body_mut().with_config().limit(1 << 16).read_to_vec();
        if status == 201 {
            progress.layer(id, &Status::MountedFrom(s.repository.clone()));
            return Ok(Some(descriptor(media_type, &s.blob_digest, s.size)));
        }
        // 202: the registry opened an upload instead; it expires on its own.
        tracing::debug!("mount of {} from {} refused ({status})", s.blob_digest, s.repository);
    }
    Ok(None)
}

fn descriptor(media_type: &str, digest: &Digest, size: u64) -> Descriptor {
    Descriptor { media_type: media_type.into(), digest: digest.to_string(), size, ..Default::default() }
}

/// `HEAD /v2/<repo>/blobs/<digest>`.
pub(crate) fn blob_exists(client: &Client, repo: &str, digest: &Digest) -> Result<bool> {
    let resp = client.send_retrying("HEAD", &format!("/v2/{repo}/blobs/{digest}"), &[])?;
    match resp.status().as_u16() {
        200 => Ok(true),
        404 => Ok(false),
        _ => Err(client.error(&format!("blob {digest}"), resp)),
    }
}

fn upload_layer(
    store: &Store,
    client: &Client,
    reference: &Reference,
    layer: &strata_store::Layer,
    level: u32,
    id: &str,
    progress: &dyn TransferProgress,
) -> Result<Descriptor> {
    let mut attempt = 1;
    loop {
        let r = upload_stream(client, &reference.path, &format!("layer {}", layer.diff_id), |w| {
            let mut gz = flate2::write::GzEncoder::new(w, flate2::Compression::new(level));
            let mut counting = Counting { inner: &mut gz, done: 0, total: layer.tar_size, id, progress };
            store.layer_tar(layer, &mut counting)?;
            gz.finish().map_err(|e| RegistryError::io("compress", "layer", e))?;
            Ok(())
        });
        match r {
            Ok((digest, size)) => return Ok(descriptor(manifest::OCI_LAYER_GZIP, &digest, size)),
            Err(e) if e.is_retryable() && attempt < client.config().attempts => {
                attempt += 1;
                progress.layer(id, &Status::Retrying { attempt });
                std::thread::sleep(client.config().retry_pause);
            }
            Err(e) => return Err(e),
        }
    }
}

/// Reports the layer's (uncompressed) bytes as they go into the compressor.
struct Counting<'a, W> {
    inner: W,
    done: u64,
    total: u64,
    id: &'a str,
    progress: &'a dyn TransferProgress,
}

impl<W: Write> Write for Counting<'_, W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.done += n as u64;
        self.progress.layer(self.id, &Status::Pushing { current: self.done, total: Some(self.total) });
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Start an upload: `POST /v2/<repo>/blobs/uploads/` → the session's URL.
fn start_upload(client: &Client, repo: &str) -> Result<String> {
    let path = format!("/v2/{repo}/blobs/uploads/");
    let resp = client.send("POST", &path, &[], ReqBody::Empty)?;
    let status = resp.status().as_u16();
    if status == 401 || status == 403 {
        let e = client.error("upload", resp);
        return Err(RegistryError::PushDenied {
            registry: client.registry.clone(),
            repository: repo.to_string(),
            message: match e {
                RegistryError::Unauthorized { message, .. } | RegistryError::Api { message, .. } => message,
                other => other.to_string(),
            },
        });
    }
    if status != 202 {
        return Err(client.error("starting an upload", resp));
    }
    let location = header(&resp, "location")
        .ok_or_else(|| RegistryError::protocol(&client.registry, "upload", "202 without a Location"))?
        .to_string();
    client.url(&location)
}

fn with_digest(location: &str, digest: &Digest) -> String {
    let sep = if location.contains('?') { '&' } else { '?' };
    format!("{location}{sep}digest={}", encode(digest.as_str()))
}

/// Upload what `fill` writes as one blob: a chunked PATCH streaming the
/// bytes while they are hashed, then `PUT ?digest=`. Returns digest and size.
pub(crate) fn upload_stream(
    client: &Client,
    repo: &str,
    what: &str,
    fill: impl FnOnce(&mut dyn Write) -> Result<()>,
) -> Result<(Digest, u64)> {
    let location = start_upload(client, repo)?;
    let (mut reader, writer) = std::io::pipe().map_err(|e| RegistryError::io("pipe", what, e))?;
    let (patched, filled) = std::thread::scope(|scope| {
        let patch = scope.spawn(|| {
            let r = client.send(
                "PATCH",
                &location,
                &[("Content-Type", "application/octet-stream")],
                ReqBody::Stream(&mut reader),
            );
            drop(reader);
            r
        });
        let mut hashing = HashingWriter::new(std::io::BufWriter::with_capacity(1 << 16, writer));
        let filled = fill(&mut hashing).and_then(|_| {
            hashing.flush().map_err(|e| RegistryError::io("write", what, e))?;
            Ok(())
        });
        let (hex, n, buffered) = hashing.finish_into();
        drop(buffered);
        (patch.join().expect("upload thread"), filled.map(|_| (hex, n)))
    });
    // A failed PATCH explains the broken pipe `fill` saw: report it first.
    let resp = patched?;
    if resp.status().as_u16() != 202 {
        return Err(client.error(what, resp));
    }
    let (hex, size) = filled?;
    let next = header(&resp, "location").map(str::to_string).unwrap_or(location);
    let digest = Digest::from_hex(&hex)?;
    finish_upload(client, &client.url(&next)?, &digest, &[], what)?;
    Ok((digest, size))
}

fn finish_upload(client: &Client, location: &str, digest: &Digest, body: &[u8], what: &str) -> Result<()> {
    let url = with_digest(location, digest);
    let len = body.len().to_string();
    let resp = client.send(
        "PUT",
        &url,
        &[("Content-Type", "application/octet-stream"), ("Content-Length", &len)],
        ReqBody::Bytes(body),
    )?;
    if resp.status().as_u16() != 201 {
        return Err(client.error(what, resp));
    }
    if let Some(d) = header(&resp, "docker-content-digest")
        && d != digest.as_str()
    {
        return Err(RegistryError::DigestMismatch {
            registry: client.registry.clone(),
            what: what.to_string(),
            expected: digest.to_string(),
            actual: d.to_string(),
        });
    }
    Ok(())
}

/// Push a small blob (config) monolithically unless the registry has it.
pub(crate) fn push_bytes(client: &Client, repo: &str, bytes: &[u8], media_type: &str) -> Result<Descriptor> {
    let digest = Digest::of_bytes(bytes);
    if !blob_exists(client, repo, &digest)? {
        let location = start_upload(client, repo)?;
        finish_upload(client, &location, &digest, bytes, &format!("blob {digest}"))?;
    }
    Ok(descriptor(media_type, &digest, bytes.len() as u64))
}

/// `PUT /v2/<repo>/manifests/<tag>`; the manifest's digest.
pub(crate) fn put_manifest(client: &Client, repo: &str, tag: &str, bytes: &[u8], media_type: &str) -> Result<Digest> {
    let digest = Digest::of_bytes(bytes);
    let path = format!("/v2/{repo}/manifests/{tag}");
    let resp = client.send("PUT", &path, &[("Content-Type", media_type)], ReqBody::Bytes(bytes))?;
    if resp.status().as_u16() != 201 {
        return Err(client.error(&format!("manifest {repo}:{tag}"), resp));
    }
    if let Some(d) = header(&resp, "docker-content-digest")
        && d != digest.as_str()
    {
        return Err(RegistryError::DigestMismatch {
            registry: client.registry.clone(),
            what: format!("manifest {repo}:{tag}"),
            expected: digest.to_string(),
            actual: d.to_string(),
        });
    }
    Ok(digest)
}
