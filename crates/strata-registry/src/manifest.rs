//! Manifest documents of the distribution protocol: OCI image manifest and
//! index, Docker v2 schema 2 manifest and manifest list (the same shapes with
//! other media types), OCI 1.1 artifacts (`artifactType`), and picking a
//! platform out of an index. Fields are declared in the order Go's
//! image-spec marshals them, so what strata pushes looks like what Docker and
//! containerd push.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::{RegistryError, Result};

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
pub const OCI_LAYER: &str = "application/vnd.oci.image.layer.v1.tar";
pub const OCI_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
pub const OCI_LAYER_ZSTD: &str = "application/vnd.oci.image.layer.v1.tar+zstd";
pub const OCI_EMPTY: &str = "application/vnd.oci.empty.v1+json";
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
pub const DOCKER_LAYER_GZIP: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";
pub const DOCKER_FOREIGN_LAYER: &str = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip";
pub const DOCKER_SCHEMA1: &str = "application/vnd.docker.distribution.manifest.v1+json";
pub const DOCKER_SCHEMA1_SIGNED: &str = "application/vnd.docker.distribution.manifest.v1+prettyjws";

/// `Accept` for manifest requests: every kind strata reads.
pub const ACCEPT_MANIFESTS: &str = "application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json";

/// The OCI empty blob `{}` and its digest.
pub const EMPTY_JSON: &[u8] = b"{}";
pub const EMPTY_JSON_DIGEST: &str = "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a";

/// Manifests and configs larger than this are refused (Docker: 4 MiB manifests).
pub const MAX_MANIFEST: u64 = 4 << 20;
pub const MAX_CONFIG: u64 = 64 << 20;

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    #[serde(default)]
    pub media_type: String,
    pub digest: String,
    #[serde(default)]
    pub size: u64,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub urls: Vec<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
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

/// An image manifest (OCI or Docker schema 2), or an OCI artifact manifest.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageManifest {
    pub schema_version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    pub config: Descriptor,
    #[serde(default)]
    pub layers: Vec<Descriptor>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<Descriptor>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// An OCI index or Docker manifest list.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Index {
    pub schema_version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    #[serde(default)]
    pub manifests: Vec<Descriptor>,
}

/// What a manifest response holds.
#[derive(Debug, Clone)]
pub enum Document {
    Image(Box<ImageManifest>),
    Index(Index),
}

pub fn is_index(media_type: &str) -> bool {
    media_type == OCI_INDEX || media_type == DOCKER_LIST
}

pub fn is_image_manifest(media_type: &str) -> bool {
    media_type == OCI_MANIFEST || media_type == DOCKER_MANIFEST
}

/// Parse a manifest body. `content_type` is the response's; the document's own
/// `mediaType` wins when present, and a document without either is sniffed.
pub fn parse(bytes: &[u8], content_type: &str, what: &str) -> Result<(String, Document)> {
    let bad = |reason: String| RegistryError::invalid(what.to_string(), reason);
    let v: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| bad(format!("invalid manifest JSON: {e}")))?;
    let declared = v.get("mediaType").and_then(|m| m.as_str()).unwrap_or("");
    let content_type = content_type.split(';').next().unwrap_or("").trim();
    let mut media_type = if !declared.is_empty() { declared.to_string() } else { content_type.to_string() };
    if v.get("schemaVersion").and_then(|s| s.as_u64()) == Some(1)
        || media_type == DOCKER_SCHEMA1
        || media_type == DOCKER_SCHEMA1_SIGNED
    {
        return Err(RegistryError::Unsupported {
            what: what.to_string(),
            reason:
                "Docker Image manifest version 2, schema 1 is not supported; push the image again with a newer client"
                    .into(),
        });
    }
    if !is_index(&media_type) && !is_image_manifest(&media_type) {
        media_type = if v.get("manifests").is_some() { OCI_INDEX.into() } else { OCI_MANIFEST.into() };
    }
    if is_index(&media_type) {
        let idx: Index = serde_json::from_value(v).map_err(|e| bad(format!("invalid image index: {e}")))?;
        Ok((media_type, Document::Index(idx)))
    } else {
        let m: ImageManifest = serde_json::from_value(v).map_err(|e| bad(format!("invalid image manifest: {e}")))?;
        Ok((media_type, Document::Image(Box::new(m))))
    }
}

impl Platform {
    /// The host: `linux/<arch>`.
    pub fn host() -> Platform {
        Platform {
            os: "linux".into(),
            architecture: strata_store::ImageConfig::host_arch().into(),
            os_version: None,
            variant: None,
        }
    }

    /// `os/arch[/variant]`, or `arch` alone (Docker's `platforms.Parse`, lowercase).
    pub fn parse(s: &str) -> Result<Platform> {
        let bad =
            || RegistryError::invalid(format!("platform {s:?}"), "expected os/arch[/variant], e.g. linux/arm64/v8");
        let parts: Vec<&str> = s.trim().split('/').collect();
        if parts.iter().any(|p| p.is_empty()) || parts.len() > 3 {
            return Err(bad());
        }
        let (os, arch, variant) = match parts.as_slice() {
            [arch] => ("linux", *arch, None),
            [os, arch] => (*os, *arch, None),
            [os, arch, variant] => (*os, *arch, Some(variant.to_ascii_lowercase())),
            _ => return Err(bad()),
        };
        let arch = match arch.to_ascii_lowercase().as_str() {
            "x86_64" | "x86-64" => "amd64".to_string(),
            "aarch64" => "arm64".to_string(),
            a => a.to_string(),
        };
        Ok(Platform { os: os.to_ascii_lowercase(), architecture: arch, os_version: None, variant })
    }

    fn normalised_variant(&self) -> Option<&str> {
        match (self.architecture.as_str(), self.variant.as_deref()) {
            ("arm64", None | Some("v8")) => Some("v8"),
            ("arm", None) => Some("v7"),
            (_, v) => v,
        }
    }

    /// Whether an image for `other` runs here: same OS and architecture, and
    /// the same variant when this platform names one.
    pub fn matches(&self, other: &Platform) -> bool {
        if self.os != other.os || self.architecture != other.architecture {
            return false;
        }
        match &self.variant {
            Some(_) => self.normalised_variant() == other.normalised_variant(),
            None if self.architecture == "arm" || self.architecture == "arm64" => {
                self.normalised_variant() == other.normalised_variant()
            }
            None => true,
        }
    }
}

impl std::fmt::Display for Platform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

/// The entry of an index for `want`: the first image manifest whose platform
/// matches (attestation manifests excluded).
pub fn select<'a>(index: &'a Index, want: &Platform) -> Option<&'a Descriptor> {
    index
        .manifests
        .iter()
        .filter(|d| !d.annotations.contains_key("vnd.docker.reference.type"))
        .find(|d| d.platform.as_ref().is_some_and(|p| want.matches(p)))
}

/// The OCI media type strata uses for a layer blob it pushes again: Docker's
/// gzip type becomes OCI's (same bytes), so one manifest never mixes families.
pub fn oci_layer_type(media_type: &str) -> Option<&'static str> {
    match media_type {
        OCI_LAYER_GZIP | DOCKER_LAYER_GZIP => Some(OCI_LAYER_GZIP),
        OCI_LAYER_ZSTD => Some(OCI_LAYER_ZSTD),
        OCI_LAYER | "application/vnd.docker.image.rootfs.diff.tar" => Some(OCI_LAYER),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn platforms_parse_and_match_like_docker() {
        let p = Platform::parse("linux/arm64").unwrap();
        assert!(p.matches(&Platform::parse("linux/arm64/v8").unwrap()));
        assert!(!p.matches(&Platform::parse("linux/amd64").unwrap()));
        let v7 = Platform::parse("linux/arm/v7").unwrap();
        assert!(v7.matches(&Platform::parse("linux/arm").unwrap()));
        assert!(!v7.matches(&Platform::parse("linux/arm/v6").unwrap()));
        assert_eq!(Platform::parse("amd64").unwrap().to_string(), "linux/amd64");
        assert!(Platform::parse("linux//x").is_err());
        let amd = Platform::parse("linux/amd64").unwrap();
        assert!(amd.matches(&Platform::parse("linux/amd64/v3").unwrap()));
    }

    #[test]
    fn sniffs_and_selects() {
        let idx = format!(
            r#"{{"schemaVersion":2,"manifests":[
              {{"mediaType":"{OCI_MANIFEST}","digest":"sha256:{a}","size":1,"platform":{{"architecture":"arm64","os":"linux"}}}},
              {{"mediaType":"{OCI_MANIFEST}","digest":"sha256:{b}","size":1,"platform":{{"architecture":"unknown","os":"unknown"}},
                "annotations":{{"vnd.docker.reference.type":"attestation-manifest"}}}},
              {{"mediaType":"{OCI_MANIFEST}","digest":"sha256:{c}","size":1,"platform":{{"architecture":"amd64","os":"linux"}}}}]}}"#,
            a = "a".repeat(64),
            b = "b".repeat(64),
            c = "c".repeat(64)
        );
        let (mt, doc) = parse(idx.as_bytes(), "", "index").unwrap();
        assert_eq!(mt, OCI_INDEX);
        let Document::Index(i) = doc else { panic!() };
        assert_eq!(
            select(&i, &Platform::parse("linux/amd64").unwrap()).unwrap().digest,
            format!("sha256:{}", "c".repeat(64))
        );
        assert!(select(&i, &Platform::parse("linux/s390x").unwrap()).is_none());
        let schema1 = r#"{"schemaVersion":1,"name":"x","tag":"y","fsLayers":[]}"#;
        assert!(matches!(
            parse(schema1.as_bytes(), DOCKER_SCHEMA1_SIGNED, "m"),
            Err(RegistryError::Unsupported { .. })
        ));
    }
}
