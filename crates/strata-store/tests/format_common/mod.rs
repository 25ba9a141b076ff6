//! Builders for the format tests: layer tars made in memory, images, and the
//! archives Docker, containerd and OCI tools write, as member lists that become
//! a tar or a directory.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use serde_json::json;
use strata_store::{Digest, ImageConfig, Reference, Store, StoreOpts};

pub fn open_store(dir: &Path) -> Store {
    Store::open(&StoreOpts { root: dir.join("root"), run_root: dir.join("run"), driver: Some("vfs".into()) })
        .expect("open store")
}

pub fn sha(data: &[u8]) -> Digest {
    Digest::of_bytes(data)
}

/// A layer tar of `files` (`dir/` for directories, `name -> target` for symlinks).
pub fn layer_tar(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, data) in files {
        let mut h = tar::Header::new_gnu();
        h.set_mtime(1_700_000_000);
        h.set_uid(0);
        h.set_gid(0);
        if let Some((link, target)) = name.split_once(" -> ") {
            h.set_entry_type(tar::EntryType::Symlink);
            h.set_mode(0o777);
            h.set_size(0);
            b.append_link(&mut h, link, target).unwrap();
        } else if name.ends_with('/') {
            h.set_entry_type(tar::EntryType::Directory);
            h.set_mode(0o755);
            h.set_size(0);
            b.append_data(&mut h, name, &[][..]).unwrap();
        } else {
            h.set_entry_type(tar::EntryType::Regular);
            h.set_mode(0o644);
            h.set_size(data.len() as u64);
            b.append_data(&mut h, name, *data).unwrap();
        }
    }
    b.into_inner().unwrap()
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Comp {
    None,
    Gzip,
    Zstd,
}

pub fn compress(data: &[u8], c: Comp) -> Vec<u8> {
    match c {
        Comp::None => data.to_vec(),
        Comp::Gzip => {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            e.write_all(data).unwrap();
            e.finish().unwrap()
        }
        Comp::Zstd => zstd::encode_all(data, 3).unwrap(),
    }
}

pub fn media_type(c: Comp) -> &'static str {
    match c {
        Comp::None => "application/vnd.oci.image.layer.v1.tar",
        Comp::Gzip => "application/vnd.oci.image.layer.v1.tar+gzip",
        Comp::Zstd => "application/vnd.oci.image.layer.v1.tar+zstd",
    }
}

/// An image to put in archives: uncompressed layer tars and its config.
#[derive(Clone)]
pub struct TestImage {
    pub layers: Vec<Vec<u8>>,
    pub config: Vec<u8>,
    pub tags: Vec<String>,
}

impl TestImage {
    pub fn new(layers: Vec<Vec<u8>>, cmd: &str, tags: &[&str]) -> TestImage {
        let diff_ids: Vec<String> = layers.iter().map(|l| sha(l).to_string()).collect();
        let config = serde_json::to_vec(&json!({
            "architecture": ImageConfig::host_arch(),
            "config": {"Cmd": [cmd], "Env": ["PATH=/usr/bin:/bin"]},
            "created": "2024-05-01T10:00:00Z",
            "history": [{"created": "2024-05-01T10:00:00Z", "created_by": cmd}],
            "os": "linux",
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
        }))
        .unwrap();
        TestImage { layers, config, tags: tags.iter().map(|s| s.to_string()).collect() }
    }

    pub fn id(&self) -> Digest {
        sha(&self.config)
    }

    pub fn config_json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.config).unwrap()
    }

    pub fn diff_ids(&self) -> Vec<Digest> {
        self.layers.iter().map(|l| sha(l)).collect()
    }
}

/// The base and two images on top of it, sharing the base layer.
pub fn two_images() -> (TestImage, TestImage) {
    let base = layer_tar(&[
        ("bin/", b""),
        ("bin/sh", b"#!fake shell\n"),
        ("etc/", b""),
        ("etc/os-release", b"ID=test\n"),
        ("usr/bin -> ../bin", b""),
    ]);
    let a = layer_tar(&[("etc/", b""), ("etc/a.conf", b"a=1\n"), ("srv/", b""), ("srv/big", &vec![7u8; 70_000])]);
    let b = layer_tar(&[("etc/", b""), ("etc/.wh.os-release", b""), ("etc/b.conf", b"b=2\n")]);
    (
        TestImage::new(vec![base.clone(), a], "/bin/a", &["example/a:1.0", "example/a:latest"]),
        TestImage::new(vec![base, b], "/bin/b", &["localhost:5000/b:v2"]),
    )
}

#[derive(Clone, Debug)]
pub enum Member {
    File(Vec<u8>),
    Symlink(String),
}

pub type Members = BTreeMap<String, Member>;

/// Docker ≤24 `docker save`: `<v1id>/layer.tar` (a symlink for a layer
/// already written), `<cfg>.json`, `manifest.json`, `repositories`.
pub fn legacy_archive(images: &[&TestImage]) -> Members {
    let mut m = Members::new();
    let mut written: BTreeMap<Digest, String> = BTreeMap::new();
    let mut manifest = Vec::new();
    let mut repos: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for img in images {
        let mut layers = Vec::new();
        let mut parent = String::new();
        for (i, l) in img.layers.iter().enumerate() {
            let v1 = sha(format!("{}{parent}{i}", img.id()).as_bytes()).hex().to_string();
            let path = format!("{v1}/layer.tar");
            match written.get(&sha(l)) {
                Some(first) => {
                    m.insert(path.clone(), Member::Symlink(format!("../{first}")));
                }
                None => {
                    m.insert(path.clone(), Member::File(l.clone()));
                    written.insert(sha(l), path.clone());
                }
            }
            m.insert(format!("{v1}/VERSION"), Member::File(b"1.0".to_vec()));
            m.insert(format!("{v1}/json"), Member::File(format!(r#"{{"id":"{v1}"}}"#).into_bytes()));
            layers.push(path);
            parent = v1;
        }
        m.insert(format!("{}.json", img.id().hex()), Member::File(img.config.clone()));
        for t in &img.tags {
            let (repo, tag) = t.rsplit_once(':').unwrap();
            repos.entry(repo.to_string()).or_default().insert(tag.to_string(), parent.clone());
        }
        manifest.push(json!({"Config": format!("{}.json", img.id().hex()), "RepoTags": img.tags, "Layers": layers}));
    }
    m.insert("manifest.json".into(), Member::File(serde_json::to_vec(&manifest).unwrap()));
    m.insert("repositories".into(), Member::File(serde_json::to_vec(&repos).unwrap()));
    m
}

/// An OCI layout with layers compressed by `comp`; each tag gets an
/// `index.json` entry named by `io.containerd.image.name` (full name) or,
/// with `ref_name_only`, by `org.opencontainers.image.ref.name` alone.
pub fn oci_layout(images: &[&TestImage], comp: &[Comp], ref_name_only: bool) -> Members {
    let mut m = Members::new();
    let mut index = Vec::new();
    m.insert("oci-layout".into(), Member::File(br#"{"imageLayoutVersion":"1.0.0"}"#.to_vec()));
    for img in images {
        let (manifest, _) = add_image_blobs(&mut m, img, comp);
        let desc = |ann: Option<serde_json::Value>| {
            let mut d = json!({"mediaType": "application/vnd.oci.image.manifest.v1+json",
                               "digest": sha(&manifest).to_string(), "size": manifest.len()});
            if let Some(a) = ann {
                d["annotations"] = a;
            }
            d
        };
        if img.tags.is_empty() {
            index.push(desc(None));
        }
        for t in &img.tags {
            let ann = if ref_name_only {
                json!({"org.opencontainers.image.ref.name": t})
            } else {
                json!({"io.containerd.image.name": Reference::parse(t).unwrap().to_string(),
                       "org.opencontainers.image.ref.name": t.rsplit_once(':').unwrap().1})
            };
            index.push(desc(Some(ann)));
        }
    }
    let index = json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": index});
    m.insert("index.json".into(), Member::File(serde_json::to_vec(&index).unwrap()));
    m
}

/// Write an image's config, layers and manifest blobs; returns the manifest
/// bytes and the layer blob digests.
pub fn add_image_blobs(m: &mut Members, img: &TestImage, comp: &[Comp]) -> (Vec<u8>, Vec<Digest>) {
    m.insert(format!("blobs/sha256/{}", img.id().hex()), Member::File(img.config.clone()));
    let mut layers = Vec::new();
    let mut digests = Vec::new();
    for (i, l) in img.layers.iter().enumerate() {
        let c = comp[i % comp.len()];
        let blob = compress(l, c);
        let d = sha(&blob);
        layers.push(json!({"mediaType": media_type(c), "digest": d.to_string(), "size": blob.len()}));
        m.insert(format!("blobs/sha256/{}", d.hex()), Member::File(blob));
        digests.push(d);
    }
    let manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": img.id().to_string(), "size": img.config.len()},
        "layers": layers,
    }))
    .unwrap();
    m.insert(format!("blobs/sha256/{}", sha(&manifest).hex()), Member::File(manifest.clone()));
    (manifest, digests)
}

/// Docker ≥25's dual format with layers stored compressed by `comp` (Docker
/// itself stores them uncompressed; c/image-written archives may not).
pub fn dual_archive(images: &[&TestImage], comp: &[Comp]) -> Members {
    let mut m = oci_layout(images, comp, false);
    let mut manifest = Vec::new();
    for img in images {
        let (_, digests) = add_image_blobs(&mut m, img, comp);
        let layers: Vec<String> = digests.iter().map(|d| format!("blobs/sha256/{}", d.hex())).collect();
        manifest.push(
            json!({"Config": format!("blobs/sha256/{}", img.id().hex()), "RepoTags": img.tags, "Layers": layers}),
        );
    }
    m.insert("manifest.json".into(), Member::File(serde_json::to_vec(&manifest).unwrap()));
    m
}

pub fn to_tar(members: &Members) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let mut dirs = std::collections::BTreeSet::new();
    for name in members.keys() {
        let mut acc = String::new();
        for part in name.split('/').collect::<Vec<_>>().split_last().unwrap().1 {
            acc.push_str(part);
            acc.push('/');
            dirs.insert(acc.clone());
        }
    }
    for d in &dirs {
        let mut h = tar::Header::new_ustar();
        h.set_entry_type(tar::EntryType::Directory);
        h.set_mode(0o755);
        h.set_size(0);
        b.append_data(&mut h, d, &[][..]).unwrap();
    }
    for (name, member) in members {
        let mut h = tar::Header::new_ustar();
        match member {
            Member::File(data) => {
                h.set_mode(0o644);
                h.set_size(data.len() as u64);
                b.append_data(&mut h, name, &data[..]).unwrap();
            }
            Member::Symlink(t) => {
                h.set_entry_type(tar::EntryType::Symlink);
                h.set_mode(0o777);
                h.set_size(0);
                b.append_link(&mut h, name, t).unwrap();
            }
        }
    }
    b.into_inner().unwrap()
}

pub fn to_dir(members: &Members, dir: &Path) {
    for (name, member) in members {
        let p = dir.join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        match member {
            Member::File(data) => std::fs::write(&p, data).unwrap(),
            Member::Symlink(t) => std::os::unix::fs::symlink(t, &p).unwrap(),
        }
    }
}

/// The members of a tar (regular files only), by name.
pub fn read_tar(data: &[u8]) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut ar = tar::Archive::new(data);
    for e in ar.entries().unwrap() {
        let mut e = e.unwrap();
        if e.header().entry_type().is_file() {
            let name = e.path().unwrap().to_string_lossy().into_owned();
            let mut buf = Vec::new();
            std::io::Read::read_to_end(&mut e, &mut buf).unwrap();
            out.insert(name, buf);
        }
    }
    out
}

/// Names of all entries of a tar, in order.
pub fn tar_names(data: &[u8]) -> Vec<String> {
    let mut ar = tar::Archive::new(data);
    ar.entries().unwrap().map(|e| e.unwrap().path().unwrap().to_string_lossy().into_owned()).collect()
}
