//! docker-archive, as `docker save` writes it: `manifest.json` lists each
//! image's config and layer members and its `RepoTags`.
//!
//! ```text
//! Docker ≤24 (legacy)                    Docker ≥25 (dual: also an OCI layout)
//!   manifest.json                          manifest.json
//!   repositories                           repositories
//!   <cfg-hex>.json                         blobs/sha256/<cfg-hex>
//!   <v1-id>/{VERSION,json,layer.tar}       blobs/sha256/<diff-id-hex>   (uncompressed layers)
//!                                          index.json, oci-layout
//! ```
//!
//! A `repositories`-only archive (Docker < 1.10) is not supported.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::load::{ImagePlan, LayerPlan, check_image_config, verify_blob};
use super::source::Source;
use crate::error::Result;
use crate::reference::Reference;
use crate::types::Digest;

/// One element of `manifest.json`, fields in Docker's order. `RepoTags` is
/// `null` for an untagged image, as Go marshals a nil slice.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ManifestItem {
    pub config: String,
    #[serde(default)]
    pub repo_tags: Option<Vec<String>>,
    #[serde(default)]
    pub layers: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub layer_sources: BTreeMap<String, LayerSource>,
}

/// docker/distribution's `Descriptor` (note: `size` before `digest`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LayerSource {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub media_type: String,
    #[serde(default)]
    pub size: i64,
    #[serde(default)]
    pub digest: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub urls: Vec<String>,
}

/// The hex digest a member's name promises, for `blobs/sha256/<hex>` and `<hex>.json`.
fn named_digest(member: &str) -> Option<Digest> {
    let base = member.rsplit('/').next()?;
    let hex = if member.starts_with("blobs/sha256/") { base } else { base.strip_suffix(".json")? };
    Digest::from_hex(hex).ok()
}

pub(crate) fn plan(src: &Source) -> Result<Vec<ImagePlan>> {
    let bytes = src.read_small("manifest.json")?;
    let items: Vec<ManifestItem> =
        serde_json::from_slice(&bytes).map_err(|e| src.bad("manifest.json", format!("invalid JSON: {e}")))?;
    if items.is_empty() {
        return Err(src.bad("manifest.json", "lists no image"));
    }
    let mut plans: Vec<ImagePlan> = Vec::new();
    for item in items {
        let config_member =
            super::source::clean(&item.config).ok_or_else(|| src.bad(&item.config, "path leaves the archive"))?;
        let config = src.read_small(&config_member)?;
        let config_digest = Digest::of_bytes(&config);
        if let Some(named) = named_digest(&config_member) {
            verify_blob(src, &config_member, &named, &config)?;
        }
        let diff_ids = check_image_config(src, &config_member, &config, item.layers.len())?;
        let mut layers = Vec::with_capacity(item.layers.len());
        for (path, diff_id) in item.layers.iter().zip(diff_ids) {
            let member = super::source::clean(path).ok_or_else(|| src.bad(path, "path leaves the archive"))?;
            let blob_digest = if member.starts_with("blobs/sha256/") { named_digest(&member) } else { None };
            layers.push(LayerPlan { member, diff_id, blob_digest, size: None });
        }
        let mut tags = Vec::new();
        for t in item.repo_tags.unwrap_or_default() {
            let r = Reference::parse(&t).map_err(|e| src.bad("manifest.json", format!("RepoTags: {e}")))?;
            let names_tag = t.rsplit('/').next().is_some_and(|last| last.contains(':'));
            if r.digest.is_some() || !names_tag {
                return Err(src.bad("manifest.json", format!("invalid tag {t:?}")));
            }
            tags.push(r);
        }
        match plans.iter_mut().find(|p| p.config_digest == config_digest) {
            Some(p) => p.tags.extend(tags),
            None => plans.push(ImagePlan { config_digest, config, layers, tags }),
        }
    }
    Ok(plans)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_promise_digests() {
        let hex = "ab".repeat(32);
        assert_eq!(named_digest(&format!("blobs/sha256/{hex}")).unwrap().hex(), hex);
        assert_eq!(named_digest(&format!("{hex}.json")).unwrap().hex(), hex);
        assert!(named_digest(&format!("{hex}/layer.tar")).is_none());
    }

    #[test]
    fn untagged_item_marshals_null_repo_tags() {
        let item = ManifestItem {
            config: "blobs/sha256/c".into(),
            repo_tags: None,
            layers: vec!["blobs/sha256/l".into()],
            parent: None,
            layer_sources: BTreeMap::new(),
        };
        assert_eq!(
            serde_json::to_string(&item).unwrap(),
            r#"{"Config":"blobs/sha256/c","RepoTags":null,"Layers":["blobs/sha256/l"]}"#
        );
    }
}
