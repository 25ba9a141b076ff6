//! OCI image layout (`oci-layout`, `index.json`, `blobs/sha256/<hex>`): the
//! document types, with fields in the order Go's image-spec marshals them so
//! the bytes `save` writes match Docker's; and reading a layout into load plans.
//!
//! ```text
//! oci-layout            {"imageLayoutVersion": "1.0.0"}
//! index.json            manifests (or nested indexes), named by annotations
//! blobs/sha256/<hex>    manifests, configs, layers (any compression)
//! ```

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::load::{ImagePlan, LayerPlan, check_image_config, verify_blob};
use super::source::Source;
use crate::config::ImageConfig;
use crate::error::Result;
use crate::reference::Reference;
use crate::types::Digest;

pub const MEDIA_TYPE_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const MEDIA_TYPE_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const MEDIA_TYPE_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
pub const MEDIA_TYPE_LAYER: &str = "application/vnd.oci.image.layer.v1.tar";
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const DOCKER_MANIFEST_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
/// containerd's (and Docker's) annotation carrying the full image name.
pub const ANNOTATION_IMAGE_NAME: &str = "io.containerd.image.name";
/// OCI's annotation: a tag, or a full reference.
pub const ANNOTATION_REF_NAME: &str = "org.opencontainers.image.ref.name";
/// What Docker ≥25 writes into `oci-layout` (sic, with the space).
pub const OCI_LAYOUT_CONTENT: &str = r#"{"imageLayoutVersion": "1.0.0"}"#;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    #[serde(default)]
    pub media_type: String,
    pub digest: String,
    #[serde(default)]
    pub size: i64,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub urls: Vec<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Platform {
    #[serde(default)]
    pub architecture: String,
    #[serde(default)]
    pub os: String,
    #[serde(rename = "os.version", default, skip_serializing_if = "Option::is_none")]
    pub os_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    pub schema_version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    pub config: Descriptor,
    #[serde(default)]
    pub layers: Vec<Descriptor>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Index {
    pub schema_version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    #[serde(default)]
    pub manifests: Vec<Descriptor>,
}

/// `blobs/sha256/<hex>` for a digest.
pub fn blob_path(d: &Digest) -> String {
    format!("blobs/sha256/{}", d.hex())
}

fn is_index(media_type: &str) -> bool {
    media_type == MEDIA_TYPE_INDEX || media_type == DOCKER_MANIFEST_LIST
}

fn is_manifest(media_type: &str) -> bool {
    media_type == MEDIA_TYPE_MANIFEST || media_type == DOCKER_MANIFEST
}

/// Whether `p` names this host's platform (linux, host architecture; a variant
/// is not compared: the host's own is rarely known for certain).
fn matches_host(p: &Platform) -> bool {
    p.os == "linux" && p.architecture == ImageConfig::host_arch()
}

/// The tag a descriptor of `index.json` names, if any.
fn descriptor_tag(src: &Source, d: &Descriptor) -> Result<Option<Reference>> {
    if let Some(name) = d.annotations.get(ANNOTATION_IMAGE_NAME) {
        return Reference::parse(name)
            .map(Some)
            .map_err(|e| src.bad("index.json", format!("annotation {ANNOTATION_IMAGE_NAME}={name:?}: {e}")));
    }
    if let Some(name) = d.annotations.get(ANNOTATION_REF_NAME) {
        // A bare tag (`latest`) names no repository; only a full reference names an image.
        if name.contains(':') || name.contains('/') {
            return Reference::parse(name)
                .map(Some)
                .map_err(|e| src.bad("index.json", format!("annotation {ANNOTATION_REF_NAME}={name:?}: {e}")));
        }
    }
    Ok(None)
}

/// Read a JSON blob named by a descriptor, verifying its digest and size.
fn read_blob(src: &Source, d: &Descriptor, what: &str) -> Result<(Digest, Vec<u8>)> {
    let digest = Digest::parse(&d.digest).map_err(|e| src.bad(what, format!("descriptor digest: {e}")))?;
    let member = blob_path(&digest);
    let bytes = src.read_small(&member)?;
    verify_blob(src, &member, &digest, &bytes)?;
    if d.size != bytes.len() as i64 {
        return Err(src.bad(&member, format!("size {} does not match the descriptor's {}", bytes.len(), d.size)));
    }
    Ok((digest, bytes))
}

/// The images of an OCI layout (directory or oci-archive), one plan per
/// manifest, with the tags of every `index.json` entry naming it.
pub(crate) fn plan(src: &Source) -> Result<Vec<ImagePlan>> {
    if let Ok(layout) = src.read_small("oci-layout") {
        let v: serde_json::Value =
            serde_json::from_slice(&layout).map_err(|e| src.bad("oci-layout", format!("invalid JSON: {e}")))?;
        let version = v.get("imageLayoutVersion").and_then(|v| v.as_str()).unwrap_or("");
        if !version.starts_with("1.") {
            return Err(src.bad("oci-layout", format!("unsupported imageLayoutVersion {version:?}")));
        }
    }
    let bytes = src.read_small("index.json")?;
    let index: Index =
        serde_json::from_slice(&bytes).map_err(|e| src.bad("index.json", format!("invalid image index: {e}")))?;
    let mut plans: Vec<ImagePlan> = Vec::new();
    for d in select(src, &index.manifests, "index.json", false)? {
        let tag = descriptor_tag(src, d)?;
        let manifest_desc = resolve_manifest(src, d, 0)?;
        let plan = plan_manifest(src, &manifest_desc)?;
        match plans.iter_mut().find(|p| p.config_digest == plan.config_digest) {
            Some(p) => p.tags.extend(tag),
            None => plans.push(ImagePlan { tags: tag.into_iter().collect(), ..plan }),
        }
    }
    if plans.is_empty() {
        return Err(src.bad("index.json", "the index lists no image"));
    }
    Ok(plans)
}

/// The entries of an index to load: those for this platform when the index
/// says which platform each is for; all of them otherwise. In a nested index
/// (`strict`), some entry must match.
fn select<'a>(src: &Source, entries: &'a [Descriptor], what: &str, strict: bool) -> Result<Vec<&'a Descriptor>> {
    let candidates: Vec<&Descriptor> = entries
        .iter()
        .filter(|d| is_index(&d.media_type) || is_manifest(&d.media_type) || d.media_type.is_empty())
        // BuildKit's attestation manifests are not images.
        .filter(|d| !d.annotations.contains_key("vnd.docker.reference.type"))
        .collect();
    let with_platform = candidates.iter().any(|d| d.platform.is_some());
    if !with_platform {
        return Ok(candidates);
    }
    let matching: Vec<&Descriptor> =
        candidates.iter().copied().filter(|d| d.platform.as_ref().is_none_or(matches_host)).collect();
    if matching.iter().any(|d| d.platform.is_some()) {
        // Several variants of the one platform: the first is Docker's pick too.
        let first = matching.iter().position(|d| d.platform.is_some()).unwrap_or(0);
        let mut out: Vec<&Descriptor> = matching.iter().copied().filter(|d| d.platform.is_none()).collect();
        out.insert(0, matching[first]);
        if strict {
            out.truncate(1);
        }
        return Ok(out);
    }
    if strict {
        return Err(src.bad(what, format!("no image for platform linux/{} in this index", ImageConfig::host_arch())));
    }
    Ok(candidates)
}

/// Follow nested indexes down to one manifest for this platform.
fn resolve_manifest(src: &Source, d: &Descriptor, depth: usize) -> Result<Descriptor> {
    if depth > 4 {
        return Err(src.bad(&d.digest, "image indexes nested too deeply"));
    }
    let media_type = if d.media_type.is_empty() {
        // Sniff: a descriptor without a media type (tolerated by some writers).
        let (_, bytes) = read_blob(src, d, "index.json")?;
        let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
        if v.get("manifests").is_some() { MEDIA_TYPE_INDEX.to_string() } else { MEDIA_TYPE_MANIFEST.to_string() }
    } else {
        d.media_type.clone()
    };
    if !is_index(&media_type) {
        return Ok(d.clone());
    }
    let (digest, bytes) = read_blob(src, d, "index.json")?;
    let member = blob_path(&digest);
    let index: Index =
        serde_json::from_slice(&bytes).map_err(|e| src.bad(&member, format!("invalid image index: {e}")))?;
    let chosen = select(src, &index.manifests, &member, true)?;
    let first = chosen.first().ok_or_else(|| src.bad(&member, "the index lists no image"))?;
    resolve_manifest(src, first, depth + 1)
}

fn plan_manifest(src: &Source, d: &Descriptor) -> Result<ImagePlan> {
    let (digest, bytes) = read_blob(src, d, "index.json")?;
    let member = blob_path(&digest);
    let m: Manifest =
        serde_json::from_slice(&bytes).map_err(|e| src.bad(&member, format!("invalid image manifest: {e}")))?;
    let (config_digest, config) = read_blob(src, &m.config, &member)?;
    let config_member = blob_path(&config_digest);
    let diff_ids = check_image_config(src, &config_member, &config, m.layers.len())?;
    let mut layers = Vec::with_capacity(m.layers.len());
    for (l, diff_id) in m.layers.iter().zip(diff_ids) {
        let blob = Digest::parse(&l.digest).map_err(|e| src.bad(&member, format!("layer digest: {e}")))?;
        if l.media_type.contains("+encrypted") {
            return Err(src.bad(&member, format!("layer {blob} is encrypted ({})", l.media_type)));
        }
        layers.push(LayerPlan {
            member: blob_path(&blob),
            diff_id,
            blob_digest: Some(blob),
            size: Some(l.size as u64),
        });
    }
    Ok(ImagePlan { config_digest, config, layers, tags: Vec::new() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptor_marshals_in_go_field_order() {
        let d = Descriptor {
            media_type: MEDIA_TYPE_MANIFEST.into(),
            digest: format!("sha256:{}", "a".repeat(64)),
            size: 3,
            urls: vec![],
            annotations: BTreeMap::from([
                (ANNOTATION_REF_NAME.to_string(), "latest".to_string()),
                (ANNOTATION_IMAGE_NAME.to_string(), "docker.io/library/busybox:latest".to_string()),
            ]),
            platform: None,
        };
        let s = serde_json::to_string(&d).unwrap();
        assert_eq!(
            s,
            format!(
                r#"{{"mediaType":"{MEDIA_TYPE_MANIFEST}","digest":"sha256:{}","size":3,"annotations":{{"io.containerd.image.name":"docker.io/library/busybox:latest","org.opencontainers.image.ref.name":"latest"}}}}"#,
                "a".repeat(64)
            )
        );
    }
}
