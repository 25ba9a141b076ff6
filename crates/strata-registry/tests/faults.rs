//! Failures during a pull: a registry that dies halfway through a blob, and a
//! blob whose bytes are corrupted in transit. Neither registers an image or a
//! bad layer; the partial download is kept and the next pull resumes it.

mod common;

use common::*;
use strata_registry::{PullOpts, PushOpts, RegistryError, pull, push};

/// One image with a single ~4 MiB layer, pushed (uncompressible, so the blob is big).
fn pushed_image(
    reg: &Registry,
    cfg: &strata_registry::RegistryConfig,
    a: &strata_store::Store,
    name: &str,
) -> strata_store::Image {
    let layer = layer_tar(&[("big.bin", &noise(7, 4 << 20)), ("etc/hostname", b"x\n")]);
    let img = make_image(a, &[layer], "sh", &reg.reference(name));
    push(a, &reg.reference(name), &PushOpts { registry: cfg.clone(), gzip_level: Some(1) }, &Recorder::default())
        .unwrap();
    img
}

#[test]
fn a_registry_dying_mid_blob_leaves_a_partial_download_that_the_next_pull_resumes() {
    if !registry_available() {
        return;
    }
    let reg = Registry::start(Auth::None, None);
    let proxy = Proxy::start(reg.port);
    let t = tmp();
    let cfg = config(t.path());
    let a = open_store(t.path(), "a");
    let b = open_store(t.path(), "b");
    let img = pushed_image(&reg, &cfg, &a, "cut:1");
    let opts = PullOpts { registry: cfg, ..Default::default() };

    proxy.set(Fault::CutBlobAfter(1 << 20));
    let err = pull(&b, &proxy.reference("cut:1"), &opts, &Recorder::default()).unwrap_err();
    let msg = err.to_string();
    eprintln!("error: {msg}");
    assert!(msg.contains(&proxy.host), "the error names the registry: {msg}");
    assert!(b.images().unwrap().is_empty(), "no image after a failed pull");
    assert!(b.layers().unwrap().is_empty(), "no layer after a failed pull");
    let partial = ingest_files(&b);
    assert_eq!(partial.len(), 1, "{partial:?}");
    let (name, size) = partial.iter().next().unwrap();
    assert_eq!(*size, 1 << 20, "the bytes received are kept");

    // The registry is back: the pull completes, asking only for the rest.
    proxy.set(Fault::Pass);
    let before = proxy.blob_gets().len();
    let report = pull(&b, &proxy.reference("cut:1"), &opts, &Recorder::default()).unwrap();
    assert_eq!(report.image.id, img.id);
    let resumed: Vec<_> =
        proxy.blob_gets()[before..].iter().filter(|s| s.path.ends_with(name.as_str())).cloned().collect();
    assert_eq!(resumed.len(), 1, "{resumed:?}");
    assert_eq!(resumed[0].range.as_deref(), Some(format!("bytes={}-", 1 << 20).as_str()));
    assert!(ingest_files(&b).is_empty());
    // The store passes its own check.
    let report = strata_store::check::check(&b, false, false).unwrap();
    assert!(report.problems.is_empty(), "{:?}", report.problems);
}

#[test]
fn a_corrupted_blob_registers_nothing_and_names_the_blob() {
    if !registry_available() {
        return;
    }
    let reg = Registry::start(Auth::None, None);
    let proxy = Proxy::start(reg.port);
    let t = tmp();
    let cfg = config(t.path());
    let a = open_store(t.path(), "a");
    let b = open_store(t.path(), "b");
    let img = pushed_image(&reg, &cfg, &a, "flip:1");
    let opts = PullOpts { registry: cfg, ..Default::default() };

    proxy.set(Fault::FlipByte);
    let err = pull(&b, &proxy.reference("flip:1"), &opts, &Recorder::default()).unwrap_err();
    let msg = err.to_string();
    eprintln!("error: {msg}");
    // The config is a blob too: whichever came first is named, with both digests.
    assert!(matches!(err, RegistryError::DigestMismatch { .. }), "{msg}");
    assert!(msg.contains("sha256:"), "{msg}");
    assert!(b.images().unwrap().is_empty());
    assert!(b.layers().unwrap().is_empty(), "no corrupt layer registered");
    assert!(ingest_files(&b).is_empty(), "bytes that hash wrong are not kept for a resume");

    // Only the layer corrupted: the config arrives intact, the layer does not.
    let diff_id = &img.config.rootfs.diff_ids[0];
    let sources = strata_registry::blobs::sources(&a, &strata_store::Digest::parse(diff_id).unwrap()).unwrap();
    let blob = sources[0].blob_digest.to_string();
    proxy.set(Fault::FlipBlob(blob.clone()));
    let err = pull(&b, &proxy.reference("flip:1"), &opts, &Recorder::default()).unwrap_err();
    let msg = err.to_string();
    eprintln!("error: {msg}");
    assert!(matches!(err, RegistryError::DigestMismatch { .. }), "{msg}");
    assert!(msg.contains(&format!("layer {blob}")), "the error names the blob: {msg}");
    assert!(msg.contains(&proxy.host), "{msg}");
    assert!(b.images().unwrap().is_empty());
    assert!(b.layers().unwrap().is_empty(), "no corrupt layer registered");
    assert!(ingest_files(&b).is_empty());

    // Clean bytes again: the pull succeeds.
    proxy.set(Fault::Pass);
    assert_eq!(pull(&b, &proxy.reference("flip:1"), &opts, &Recorder::default()).unwrap().image.id, img.id);
}
