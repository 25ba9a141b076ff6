//! Push an image made in one data root, pull it into another: same image id,
//! same DiffIDs, same files; layers already present are not downloaded;
//! pushing again uploads nothing; another repository mounts the blobs.

mod common;

use common::*;
use strata_registry::{PullOpts, PushOpts, Status, pull, push};

#[test]
fn push_then_pull_into_a_second_root_gives_the_same_image() {
    if !registry_available() {
        return;
    }
    let reg = Registry::start(Auth::None, None);
    let t = tmp();
    let cfg = config(t.path());
    let a = open_store(t.path(), "a");
    let b = open_store(t.path(), "b");
    let tag = reg.reference("test/busybox:1.0");
    let img = make_image(&a, &busybox_like(1), "sh", &tag);

    let rec = Recorder::default();
    let pushed = push(&a, &tag, &PushOpts { registry: cfg.clone(), gzip_level: None }, &rec).unwrap();
    assert_eq!(pushed.tag, "1.0");
    assert_eq!(pushed.uploaded, 2);
    assert_eq!(rec.count(|s| *s == Status::Pushed), 2);
    assert_eq!(rec.messages.lock().unwrap()[0], format!("The push refers to repository [{}]", tag.repository()));
    // The pushed reference's repo digest is recorded locally, as Docker does.
    let local = a.image(&tag.to_string()).unwrap();
    assert!(local.tags.iter().any(|r| r.digest.as_deref() == Some(pushed.digest.as_str())), "{:?}", local.tags);

    let rec = Recorder::default();
    let report = pull(&b, &tag, &PullOpts { registry: cfg.clone(), ..Default::default() }, &rec).unwrap();
    assert_eq!(report.image.id, img.id);
    assert_eq!(report.digest, pushed.digest);
    assert_eq!(report.downloaded, 2);
    assert_eq!(report.image.config.rootfs.diff_ids, img.config.rootfs.diff_ids);
    assert_eq!(rec.count(|s| *s == Status::PullComplete), 2);
    assert_eq!(rec.messages.lock().unwrap()[0], "1.0: Pulling from test/busybox");
    let pulled = b.image(&tag.to_string()).unwrap();
    assert_eq!(pulled.id, img.id);
    let digest_ref = format!("{}@{}", tag.repository(), pushed.digest);
    assert_eq!(b.image(&digest_ref).unwrap().id, img.id, "pullable by repo digest");
    // Layer for layer, the same bytes.
    let chain_a = a.layer_chain(img.top_layer.as_ref().unwrap()).unwrap();
    let chain_b = b.layer_chain(pulled.top_layer.as_ref().unwrap()).unwrap();
    assert_eq!(chain_a.len(), chain_b.len());
    for (la, lb) in chain_a.iter().zip(&chain_b) {
        assert_eq!(la.chain_id, lb.chain_id);
        let (mut ta, mut tb) = (Vec::new(), Vec::new());
        a.layer_tar(la, &mut ta).unwrap();
        b.layer_tar(lb, &mut tb).unwrap();
        assert!(ta == tb, "layer {} differs", la.diff_id);
    }
    assert!(ingest_files(&b).is_empty(), "ingest cleaned up: {:?}", ingest_files(&b));

    // Pulling again: up to date, nothing downloaded.
    let again =
        pull(&b, &tag, &PullOpts { registry: cfg.clone(), ..Default::default() }, &Recorder::default()).unwrap();
    assert_eq!(again.downloaded, 0);
    assert!(!again.updated);

    // Pulling by digest works too.
    let by_digest = strata_store::Reference::parse(&digest_ref).unwrap();
    let r = pull(&b, &by_digest, &PullOpts { registry: cfg, ..Default::default() }, &Recorder::default()).unwrap();
    assert_eq!(r.image.id, img.id);
}

#[test]
fn pull_downloads_only_missing_layers_and_push_reuses_blobs() {
    if !registry_available() {
        return;
    }
    let reg = Registry::start(Auth::None, None);
    let proxy = Proxy::start(reg.port);
    let t = tmp();
    let cfg = config(t.path());
    let a = open_store(t.path(), "a");
    let b = open_store(t.path(), "b");
    let layers = busybox_like(2);
    let base_only = vec![layers[0].clone()];
    let extra = layer_tar(&[("app/run.sh", b"#!/bin/sh\necho app\n")]);
    let app_layers = vec![layers[0].clone(), layers[1].clone(), extra];
    make_image(&a, &base_only, "sh", &reg.reference("base:1"));
    let app = make_image(&a, &app_layers, "/app/run.sh", &reg.reference("app:1"));
    let opts = PushOpts { registry: cfg.clone(), gzip_level: Some(1) };
    assert_eq!(push(&a, &reg.reference("base:1"), &opts, &Recorder::default()).unwrap().uploaded, 1);
    // The base layer is in "base" already: mounted, not uploaded.
    let rec = Recorder::default();
    let r = push(&a, &reg.reference("app:1"), &opts, &rec).unwrap();
    assert_eq!(r.uploaded, 2, "{:?}", rec.events.lock().unwrap());
    assert!(rec.has(&Status::MountedFrom("base".into())), "{:?}", rec.events.lock().unwrap());
    // Pushing the same image again uploads nothing.
    let blobs_before = reg.blob_count();
    let rec = Recorder::default();
    let again = push(&a, &reg.reference("app:1"), &opts, &rec).unwrap();
    assert_eq!(again.uploaded, 0);
    assert_eq!(again.digest, r.digest, "same manifest");
    assert_eq!(rec.count(|s| *s == Status::LayerAlreadyExists), 3);
    assert_eq!(reg.blob_count(), blobs_before);

    // Into root b through the proxy: the base image, then the app image needs two layers only.
    let popts = PullOpts { registry: cfg, ..Default::default() };
    pull(&b, &proxy.reference("base:1"), &popts, &Recorder::default()).unwrap();
    assert_eq!(proxy.blob_gets().len(), 2, "config + base layer: {:?}", proxy.blob_gets());
    let rec = Recorder::default();
    let report = pull(&b, &proxy.reference("app:1"), &popts, &rec).unwrap();
    assert_eq!(report.image.id, app.id);
    assert_eq!(report.downloaded, 2);
    assert_eq!(rec.count(|s| *s == Status::AlreadyExists), 1);
    let gets = proxy.blob_gets();
    assert_eq!(gets.len(), 2 + 3, "config + 2 layers more: {gets:?}");
}

#[test]
fn concurrent_pulls_of_one_image_into_one_root_both_succeed() {
    if !registry_available() {
        return;
    }
    let reg = Registry::start(Auth::None, None);
    let t = tmp();
    let cfg = config(t.path());
    let a = open_store(t.path(), "a");
    let tag = reg.reference("race/img:1");
    let img = make_image(&a, &busybox_like(8), "sh", &tag);
    push(&a, &tag, &PushOpts { registry: cfg.clone(), gzip_level: Some(1) }, &Recorder::default()).unwrap();
    drop(open_store(t.path(), "b"));
    // Two handles on one root, as two processes would have.
    let results: Vec<_> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..2)
            .map(|_| {
                let (cfg, tag, dir) = (cfg.clone(), tag.clone(), t.path().to_path_buf());
                s.spawn(move || {
                    let b = open_store(&dir, "b");
                    pull(&b, &tag, &PullOpts { registry: cfg, ..Default::default() }, &Recorder::default())
                        .map(|r| r.image.id)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for r in results {
        assert_eq!(r.unwrap(), img.id);
    }
    let b = open_store(t.path(), "b");
    assert_eq!(b.images().unwrap().len(), 1);
    assert_eq!(b.layers().unwrap().len(), 2);
    assert!(ingest_files(&b).is_empty(), "{:?}", ingest_files(&b));
}

#[test]
fn a_blob_listed_twice_is_downloaded_once_and_applied_twice() {
    if !registry_available() {
        return;
    }
    let reg = Registry::start(Auth::None, None);
    let proxy = Proxy::start(reg.port);
    let t = tmp();
    let cfg = config(t.path());
    let a = open_store(t.path(), "a");
    let b = open_store(t.path(), "b");
    let same = layer_tar(&[("etc/twice", &noise(11, 100_000))]);
    let tag = reg.reference("dup/img:1");
    let img = make_image(&a, &[same.clone(), same], "sh", &tag);
    let rec = Recorder::default();
    push(&a, &tag, &PushOpts { registry: cfg.clone(), gzip_level: Some(1) }, &rec).unwrap();
    assert!(rec.has(&Status::LayerAlreadyExists), "the second copy is not uploaded again");
    let r = pull(
        &b,
        &proxy.reference("dup/img:1"),
        &PullOpts { registry: cfg, ..Default::default() },
        &Recorder::default(),
    )
    .unwrap();
    assert_eq!(r.image.id, img.id);
    assert_eq!(b.layers().unwrap().len(), 2);
    assert_eq!(proxy.blob_gets().len(), 2, "config + one layer blob: {:?}", proxy.blob_gets());
    assert!(ingest_files(&b).is_empty());
}
