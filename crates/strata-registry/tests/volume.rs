//! Volumes through a registry: push a volume from one data root, pull it into
//! another: the same files, owners, modes, xattrs, hard links and labels.

mod common;

use std::collections::BTreeMap;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use common::*;
use strata_registry::{PullOpts, RegistryError, VolumePullOpts, pull, volume_pull, volume_push};
use strata_store::volume::VolumeSpec;

fn is_root() -> bool {
    std::fs::metadata("/proc/self").map(|m| m.uid() == 0).unwrap_or(false)
}

/// One line per inode: path, type, mode, owner, size, link target, xattrs, content digest.
fn dump(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for e in walkdir::WalkDir::new(root).sort_by_file_name() {
        let e = e.unwrap();
        let p = e.path();
        let md = p.symlink_metadata().unwrap();
        let rel = p.strip_prefix(root).unwrap().display().to_string();
        let kind = if md.is_dir() {
            "d"
        } else if md.file_type().is_symlink() {
            "l"
        } else {
            "f"
        };
        let content = if md.is_file() { sha(&std::fs::read(p).unwrap()).short().to_string() } else { String::new() };
        let link = if kind == "l" { std::fs::read_link(p).unwrap().display().to_string() } else { String::new() };
        let xattrs: Vec<String> = if kind == "l" {
            Vec::new()
        } else {
            strata_sys::fs::list_xattrs(p)
                .unwrap()
                .into_iter()
                .map(|(k, v)| format!("{}={:?}", k.to_string_lossy(), v))
                .collect()
        };
        out.push(format!(
            "{rel} {kind} {:o} {}:{} {} {link} {content} n{} [{}]",
            md.permissions().mode() & 0o7777,
            md.uid(),
            md.gid(),
            if md.is_file() { md.len() } else { 0 },
            if md.is_file() { md.nlink() } else { 0 },
            xattrs.join(",")
        ));
    }
    out
}

fn fill(data: &Path) {
    std::fs::create_dir_all(data.join("sub/deeper")).unwrap();
    std::fs::write(data.join("a.txt"), "alpha\n").unwrap();
    std::fs::write(data.join("sub/b.bin"), noise(9, 2 << 20)).unwrap();
    std::fs::hard_link(data.join("a.txt"), data.join("sub/a-link")).unwrap();
    std::os::unix::fs::symlink("../a.txt", data.join("sub/sym")).unwrap();
    std::fs::set_permissions(data.join("sub"), std::fs::Permissions::from_mode(0o750)).unwrap();
    std::fs::set_permissions(data.join("a.txt"), std::fs::Permissions::from_mode(0o4755)).unwrap();
    strata_sys::fs::set_xattr(&data.join("a.txt"), "user.comment", b"hello").unwrap();
    if is_root() {
        strata_sys::fs::lchown(&data.join("sub/b.bin"), 1234, 4321).unwrap();
        strata_sys::fs::lchown(data, 1000, 1000).unwrap();
        strata_sys::fs::set_xattr(
            &data.join("sub/b.bin"),
            "security.capability",
            &[1, 0, 0, 2, 0, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        )
        .unwrap();
    }
    std::fs::set_permissions(data, std::fs::Permissions::from_mode(0o770)).unwrap();
}

#[test]
fn volume_push_then_pull_recreates_it_exactly() {
    if !registry_available() {
        return;
    }
    let reg = Registry::start(Auth::None, None);
    let t = tmp();
    let cfg = config(t.path());
    let a = open_store(t.path(), "a");
    let b = open_store(t.path(), "b");
    let labels = BTreeMap::from([("team".to_string(), "data".to_string()), ("tier".to_string(), "gold".to_string())]);
    let v = a
        .create_volume(&VolumeSpec { name: Some("pgdata".into()), labels: labels.clone(), ..Default::default() })
        .unwrap();
    fill(&v.mountpoint);
    let tag = reg.reference("volumes/pgdata:2024-01");

    let rec = Recorder::default();
    let pushed = volume_push(&a, "pgdata", &tag, &cfg, &rec).unwrap();
    assert_eq!(pushed.tag, "2024-01");
    let raw = reg
        .storage
        .join("docker/registry/v2/blobs/sha256")
        .join(&pushed.digest.hex()[..2])
        .join(pushed.digest.hex())
        .join("data");
    let m: serde_json::Value = serde_json::from_slice(&std::fs::read(raw).unwrap()).unwrap();
    assert_eq!(m["artifactType"], strata_registry::VOLUME_ARTIFACT_TYPE);
    assert_eq!(m["config"]["mediaType"], "application/vnd.oci.empty.v1+json");
    assert_eq!(m["layers"][0]["mediaType"], "application/vnd.oci.image.layer.v1.tar+zstd");
    assert_eq!(m["annotations"]["io.strata.volume.name"], "pgdata");

    let opts = VolumePullOpts { registry: cfg.clone(), replace: false };
    let got = volume_pull(&b, &tag, None, &opts, &Recorder::default()).unwrap();
    assert_eq!(got.name, "pgdata");
    assert_eq!(got.labels, labels);
    assert_eq!(dump(&got.mountpoint), dump(&v.mountpoint));
    assert!(ingest_files(&b).is_empty());

    // Under another name; a non-empty volume is not overwritten without `replace`.
    let copy = volume_pull(&b, &tag, Some("pg-copy"), &opts, &Recorder::default()).unwrap();
    assert_eq!(dump(&copy.mountpoint), dump(&v.mountpoint));
    assert!(volume_pull(&b, &tag, Some("pg-copy"), &opts, &Recorder::default()).is_err());
    let replace = VolumePullOpts { registry: cfg.clone(), replace: true };
    volume_pull(&b, &tag, Some("pg-copy"), &replace, &Recorder::default()).unwrap();

    // It is not an image, and says so.
    let err = pull(&b, &tag, &PullOpts { registry: cfg, ..Default::default() }, &Recorder::default()).unwrap_err();
    assert!(matches!(err, RegistryError::Unsupported { .. }), "{err}");
    assert!(err.to_string().contains("volume pull"), "{err}");
}
