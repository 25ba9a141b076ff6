//! `import`: a rootfs tarball (plain, gzip or zstd) becomes a one-layer image,
//! as moby `daemon/images/image_import.go` builds it: host architecture,
//! `linux`, `created` now, the message (or `Imported from <src>`) as both the
//! top-level `comment` and the one history entry's comment, and the `--change`
//! instructions applied to an empty container config.

use std::io::{BufReader, Read};

use strata_archive::compress::decompressing_reader;

use super::changes;
use crate::Store;
use crate::config::{ContainerConfig, History, ImageConfig, RootFs};
use crate::error::Result;
use crate::image::Image;
use crate::meta::now_rfc3339;
use crate::progress::{Progress, ProgressReader};
use crate::reference::Reference;

#[derive(Debug, Clone, Default)]
pub struct ImportOpts {
    /// `REPOSITORY[:TAG]` to tag the image with.
    pub reference: Option<Reference>,
    /// `-c/--change` instructions, one per entry.
    pub changes: Vec<String>,
    /// `-m/--message`: the history comment.
    pub message: Option<String>,
    /// Where the tarball came from, for the default comment (`-` for stdin,
    /// as Docker's CLI sends a local file too).
    pub source_name: String,
}

/// Import a rootfs tarball as a one-layer image. The changes are checked
/// before any byte is read.
pub fn import(store: &Store, input: impl Read, opts: &ImportOpts, progress: &dyn Progress) -> Result<Image> {
    let mut container = ContainerConfig::default();
    changes::apply(&mut container, &opts.changes)?;

    progress.begin("Importing", None);
    let reader = ProgressReader::new(input, progress);
    let layer = decompressing_reader(BufReader::with_capacity(1 << 16, reader))
        .map_err(crate::StoreError::from)
        .and_then(|(_, tar)| store.put_layer(None, tar, None));
    progress.end();
    let layer = layer?;

    let created = now_rfc3339();
    let comment = opts.message.clone().unwrap_or_else(|| format!("Imported from {}", opts.source_name));
    let mut config = ImageConfig {
        created: Some(created.clone()),
        architecture: ImageConfig::host_arch().to_string(),
        os: "linux".into(),
        config: container,
        rootfs: RootFs { kind: "layers".into(), diff_ids: vec![layer.diff_id.to_string()] },
        history: vec![History {
            created: Some(created),
            comment: (!comment.is_empty()).then(|| comment.clone()),
            ..Default::default()
        }],
        ..Default::default()
    };
    if !comment.is_empty() {
        config.extra.insert("comment".into(), serde_json::Value::String(comment));
    }
    let tags: Vec<Reference> = opts.reference.iter().cloned().collect();
    store.create_image(&config.to_bytes(), &tags)
}
