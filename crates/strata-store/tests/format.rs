//! load / save / import against archives built the way Docker, containerd and
//! OCI tools write them. Unprivileged: the store uses the vfs driver.

mod format_common;

use std::io::Cursor;
use std::path::Path;

use format_common::*;
use strata_store::format::{self, ImportOpts, LoadInput, LoadReport};
use strata_store::progress::NoProgress;
use strata_store::{Digest, ImageConfig, Reference, Store, StoreError};

fn load_tar(store: &Store, dir: &Path, name: &str, data: &[u8]) -> Result<LoadReport, StoreError> {
    let p = dir.join(name);
    std::fs::write(&p, data).unwrap();
    format::load(store, LoadInput::Path(p), &NoProgress)
}

fn save(store: &Store, names: &[&str]) -> Vec<u8> {
    let mut out = Vec::new();
    let names: Vec<String> = names.iter().map(|s| s.to_string()).collect();
    format::save(store, &names, &mut out, &NoProgress).expect("save");
    out
}

/// The exact bytes of every layer of `img` as the store reproduces them.
fn layer_bytes(store: &Store, img: &TestImage) -> Vec<Vec<u8>> {
    let mut parent: Option<Digest> = None;
    let mut out = Vec::new();
    for d in img.diff_ids() {
        let chain = Digest::chain(parent.as_ref(), &d);
        let layer = store.layer(&chain).expect("layer present");
        let mut buf = Vec::new();
        let n = store.layer_tar(&layer, &mut buf).unwrap();
        assert_eq!(n, layer.tar_size);
        out.push(buf);
        parent = Some(chain);
    }
    out
}

fn assert_loaded(store: &Store, img: &TestImage) {
    let got = store.image(img.id().as_str()).expect("image loaded");
    assert_eq!(got.config_bytes, img.config);
    assert_eq!(layer_bytes(store, img), img.layers, "layer tars reproduce byte for byte");
}

fn ids(report: &LoadReport) -> Vec<Digest> {
    report.images.iter().map(|i| i.id.clone()).collect()
}

#[test]
fn loads_legacy_docker_archive_following_layer_symlinks() {
    let tmp = tempfile::tempdir().unwrap();
    let store = open_store(tmp.path());
    let (a, b) = two_images();
    let report = load_tar(&store, tmp.path(), "legacy.tar", &to_tar(&legacy_archive(&[&a, &b]))).unwrap();
    assert_eq!(
        report.lines(),
        ["Loaded image: example/a:1.0", "Loaded image: example/a:latest", "Loaded image: localhost:5000/b:v2"]
    );
    assert_eq!(ids(&report), [a.id(), b.id()]);
    assert_loaded(&store, &a);
    assert_loaded(&store, &b);
    assert_eq!(store.layers().unwrap().len(), 3, "the shared base layer is stored once");
    assert_eq!(store.image("example/a:latest").unwrap().id, a.id());
    assert_eq!(store.image("localhost:5000/b:v2").unwrap().id, b.id());
}

#[test]
fn loads_dual_format_with_gzip_and_zstd_layers() {
    let tmp = tempfile::tempdir().unwrap();
    let store = open_store(tmp.path());
    let (a, b) = two_images();
    let archive = to_tar(&dual_archive(&[&a, &b], &[Comp::Gzip, Comp::Zstd]));
    let report = load_tar(&store, tmp.path(), "dual.tar", &archive).unwrap();
    assert_eq!(ids(&report), [a.id(), b.id()]);
    assert_loaded(&store, &a);
    assert_loaded(&store, &b);
    assert_eq!(store.layers().unwrap().len(), 3);
}

#[test]
fn loads_oci_layout_directory_and_oci_archive() {
    let tmp = tempfile::tempdir().unwrap();
    let store = open_store(tmp.path());
    let (a, b) = two_images();

    let dir = tmp.path().join("layout");
    to_dir(&oci_layout(&[&a], &[Comp::Zstd, Comp::Gzip], false), &dir);
    let report = format::load(&store, LoadInput::Path(dir), &NoProgress).unwrap();
    assert_eq!(report.lines(), ["Loaded image: example/a:1.0", "Loaded image: example/a:latest"]);
    assert_loaded(&store, &a);

    // oci-archive named by org.opencontainers.image.ref.name only (skopeo's `oci-archive:f:name`).
    let report = load_tar(&store, tmp.path(), "b.oci.tar", &to_tar(&oci_layout(&[&b], &[Comp::None], true))).unwrap();
    assert_eq!(report.lines(), ["Loaded image: localhost:5000/b:v2"]);
    assert_loaded(&store, &b);
    assert_eq!(store.layers().unwrap().len(), 3);

    // Untagged.
    let c = TestImage::new(vec![layer_tar(&[("c", b"c")])], "/c", &[]);
    let report = load_tar(&store, tmp.path(), "c.tar", &to_tar(&oci_layout(&[&c], &[Comp::Gzip], false))).unwrap();
    assert_eq!(report.lines(), [format!("Loaded image ID: {}", c.id())]);
    assert!(store.image(c.id().as_str()).unwrap().tags.is_empty());
}

#[test]
fn picks_this_platform_from_a_nested_index() {
    let tmp = tempfile::tempdir().unwrap();
    let store = open_store(tmp.path());
    let (a, _) = two_images();
    let mut m = Members::new();
    let (manifest, _) = add_image_blobs(&mut m, &a, &[Comp::Gzip]);
    let other_arch = if ImageConfig::host_arch() == "s390x" { "amd64" } else { "s390x" };
    // The other platform's manifest is absent: it must not be touched.
    let nested = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [
            {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": sha(b"elsewhere").to_string(), "size": 9,
             "platform": {"architecture": other_arch, "os": "linux"}},
            {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": sha(&manifest).to_string(), "size": manifest.len(),
             "platform": {"architecture": ImageConfig::host_arch(), "os": "linux"}},
        ]
    }))
    .unwrap();
    m.insert(format!("blobs/sha256/{}", sha(&nested).hex()), Member::File(nested.clone()));
    let index = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "manifests": [{"mediaType": "application/vnd.oci.image.index.v1+json", "digest": sha(&nested).to_string(),
                       "size": nested.len(), "annotations": {"io.containerd.image.name": "docker.io/library/multi:1"}}]
    }))
    .unwrap();
    m.insert("index.json".into(), Member::File(index));
    m.insert("oci-layout".into(), Member::File(br#"{"imageLayoutVersion":"1.0.0"}"#.to_vec()));
    let report = load_tar(&store, tmp.path(), "multi.tar", &to_tar(&m)).unwrap();
    assert_eq!(report.lines(), ["Loaded image: multi:1"]);
    assert_loaded(&store, &a);
}

#[test]
fn save_writes_docker_25_dual_format_deterministically() {
    let tmp = tempfile::tempdir().unwrap();
    let store = open_store(tmp.path());
    let (a, b) = two_images();
    load_tar(&store, tmp.path(), "in.tar", &to_tar(&legacy_archive(&[&a, &b]))).unwrap();

    let saved = save(&store, &["example/a:1.0", "localhost:5000/b:v2"]);
    assert_eq!(saved, save(&store, &["example/a:1.0", "localhost:5000/b:v2"]), "save twice gives identical bytes");

    let files = read_tar(&saved);
    let names = tar_names(&saved);
    assert_eq!(names[..2], ["blobs/", "blobs/sha256/"]);
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted, "entries in lexical order, as Docker's directory walk");
    assert_eq!(names[names.len() - 4..], ["index.json", "manifest.json", "oci-layout", "repositories"]);
    assert_eq!(files["oci-layout"], br#"{"imageLayoutVersion": "1.0.0"}"#);

    // Layers uncompressed, named by DiffID, written once; configs named by image id.
    let blob = |d: &Digest| files[&format!("blobs/sha256/{}", d.hex())].clone();
    for img in [&a, &b] {
        assert_eq!(blob(&img.id()), img.config);
        for (d, l) in img.diff_ids().iter().zip(&img.layers) {
            assert_eq!(&blob(d), l);
        }
    }
    // 3 layers + 2 configs + 2 manifests.
    assert_eq!(files.keys().filter(|k| k.starts_with("blobs/")).count(), 7);

    let d = |img: &TestImage| img.diff_ids().iter().map(|d| d.hex().to_string()).collect::<Vec<_>>();
    let (da, db) = (d(&a), d(&b));
    // A Go map: keys sorted.
    let sources = |img: &TestImage| {
        let mut v: Vec<String> = img
            .diff_ids()
            .iter()
            .zip(&img.layers)
            .map(|(d, l)| {
                format!(
                    r#""{d}":{{"mediaType":"application/vnd.oci.image.layer.v1.tar","size":{},"digest":"{d}"}}"#,
                    l.len()
                )
            })
            .collect();
        v.sort();
        v.join(",")
    };
    let expected_manifest = format!(
        concat!(
            r#"[{{"Config":"blobs/sha256/{}","RepoTags":["example/a:1.0"],"Layers":["blobs/sha256/{}","blobs/sha256/{}"],"LayerSources":{{{}}}}},"#,
            r#"{{"Config":"blobs/sha256/{}","RepoTags":["localhost:5000/b:v2"],"Layers":["blobs/sha256/{}","blobs/sha256/{}"],"LayerSources":{{{}}}}}]"#,
            "\n"
        ),
        a.id().hex(),
        da[0],
        da[1],
        sources(&a),
        b.id().hex(),
        db[0],
        db[1],
        sources(&b)
    );
    assert_eq!(String::from_utf8(files["manifest.json"].clone()).unwrap(), expected_manifest);
    assert_eq!(
        String::from_utf8(files["repositories"].clone()).unwrap(),
        format!("{{\"example/a\":{{\"1.0\":\"{}\"}},\"localhost:5000/b\":{{\"v2\":\"{}\"}}}}\n", da[1], db[1])
    );

    // The OCI side: index entries name the manifests, which name config and layers.
    let index: serde_json::Value = serde_json::from_slice(&files["index.json"]).unwrap();
    assert_eq!(index["schemaVersion"], 2);
    assert_eq!(index["mediaType"], "application/vnd.oci.image.index.v1+json");
    let entries = index["manifests"].as_array().unwrap();
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[0]["annotations"]["io.containerd.image.name"], "docker.io/example/a:1.0");
    assert_eq!(entries[0]["annotations"]["org.opencontainers.image.ref.name"], "1.0");
    assert_eq!(entries[1]["annotations"]["io.containerd.image.name"], "localhost:5000/b:v2");
    let mdigest = Digest::parse(entries[0]["digest"].as_str().unwrap()).unwrap();
    let mbytes = blob(&mdigest);
    assert_eq!(sha(&mbytes), mdigest);
    let expected = format!(
        concat!(
            r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","#,
            r#""config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{}","size":{}}},"#,
            r#""layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"sha256:{}","size":{}}},"#,
            r#"{{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"sha256:{}","size":{}}}]}}"#
        ),
        a.id(),
        a.config.len(),
        da[0],
        a.layers[0].len(),
        da[1],
        a.layers[1].len()
    );
    assert_eq!(String::from_utf8(mbytes).unwrap(), expected);
}

#[test]
fn save_then_load_round_trips_byte_for_byte() {
    let tmp = tempfile::tempdir().unwrap();
    let one = open_store(&tmp.path().join("one"));
    let (a, b) = two_images();
    load_tar(&one, tmp.path(), "in.tar", &to_tar(&dual_archive(&[&a, &b], &[Comp::Gzip]))).unwrap();
    let saved = save(&one, &["example/a:1.0", "example/a:latest", "localhost:5000/b:v2"]);

    let two = open_store(&tmp.path().join("two"));
    let report = load_tar(&two, tmp.path(), "saved.tar", &saved).unwrap();
    assert_eq!(ids(&report), [a.id(), b.id()]);
    assert_eq!(
        report.lines(),
        ["Loaded image: example/a:1.0", "Loaded image: example/a:latest", "Loaded image: localhost:5000/b:v2"]
    );
    for img in [&a, &b] {
        assert_eq!(layer_bytes(&two, img), layer_bytes(&one, img));
        assert_eq!(
            two.image(img.id().as_str()).unwrap().config.rootfs.diff_ids,
            one.image(img.id().as_str()).unwrap().config.rootfs.diff_ids
        );
    }
    let again = save(&two, &["example/a:1.0", "example/a:latest", "localhost:5000/b:v2"]);
    assert_eq!(again, saved, "a saved archive survives load + save unchanged");

    // The same archive read as an OCI layout (manifest.json removed).
    let three = open_store(&tmp.path().join("three"));
    let mut files: Members = read_tar(&saved).into_iter().map(|(k, v)| (k, Member::File(v))).collect();
    files.remove("manifest.json");
    let report = load_tar(&three, tmp.path(), "oci-only.tar", &to_tar(&files)).unwrap();
    assert_eq!(
        report.lines(),
        ["Loaded image: example/a:1.0", "Loaded image: example/a:latest", "Loaded image: localhost:5000/b:v2"]
    );
    assert_loaded(&three, &a);
}

#[test]
fn save_names_follow_docker_rules() {
    let tmp = tempfile::tempdir().unwrap();
    let store = open_store(tmp.path());
    let (a, b) = two_images();
    load_tar(&store, tmp.path(), "in.tar", &to_tar(&legacy_archive(&[&a, &b]))).unwrap();
    let manifest =
        |saved: &[u8]| -> serde_json::Value { serde_json::from_slice(&read_tar(saved)["manifest.json"]).unwrap() };

    // A bare repository saves all its tags.
    let m = manifest(&save(&store, &["example/a"]));
    assert_eq!(m[0]["RepoTags"], serde_json::json!(["example/a:1.0", "example/a:latest"]));
    // By id: no tags at all (RepoTags null, no repositories file, an unnamed index entry).
    let saved = save(&store, &[a.id().short()]);
    let m = manifest(&saved);
    assert!(m[0]["RepoTags"].is_null());
    let files = read_tar(&saved);
    assert!(!files.contains_key("repositories"));
    let index: serde_json::Value = serde_json::from_slice(&files["index.json"]).unwrap();
    assert!(index["manifests"][0].get("annotations").is_none());
    // A shared layer is written once.
    let saved = save(&store, &["example/a:1.0", &b.id().to_string()]);
    let layers = read_tar(&saved).keys().filter(|k| k.starts_with("blobs/sha256/")).count();
    assert_eq!(layers, 3 + 2 + 2);
    // Unknown names fail before anything is written.
    let mut out = Vec::new();
    let err = format::save(&store, &["nope:1".to_string()], &mut out, &NoProgress).unwrap_err();
    assert!(matches!(err, StoreError::NoSuchImage(_)), "{err}");
    assert!(out.is_empty());
}

#[test]
fn corrupted_layer_is_refused_and_registers_no_image() {
    let tmp = tempfile::tempdir().unwrap();
    let store = open_store(tmp.path());
    let (a, _) = two_images();
    let mut archive = to_tar(&legacy_archive(&[&a]));
    // Flip a byte inside srv/big (second layer): the tar stays well-formed.
    let pos = archive.windows(64).position(|w| w.iter().all(|&x| x == 7)).unwrap();
    archive[pos + 10] ^= 0xff;
    let err = load_tar(&store, tmp.path(), "bad.tar", &archive).unwrap_err();
    assert!(matches!(err, StoreError::DigestMismatch { .. }), "{err}");
    assert!(err.to_string().contains("layer.tar"), "names the member: {err}");
    assert!(store.images().unwrap().is_empty());
    assert_eq!(store.layers().unwrap().len(), 1, "the base layer completed; no half layer");
    assert_eq!(store.driver().list().unwrap().len(), 1, "nothing left on disk of the bad layer");
    assert!(std::fs::read_dir(tmp.path().join("root/tmp")).unwrap().next().is_none());
}

#[test]
fn truncated_archive_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let store = open_store(tmp.path());
    let (a, _) = two_images();
    let archive = to_tar(&dual_archive(&[&a], &[Comp::None]));
    // Cut inside the 70 kB file of the second layer, and before manifest.json.
    let pos = archive.windows(64).position(|w| w.iter().all(|&x| x == 7)).unwrap() + 1000;
    let err = load_tar(&store, tmp.path(), "short.tar", &archive[..pos]).unwrap_err();
    assert!(matches!(err, StoreError::BadArchive { .. }), "{err}");
    assert!(store.images().unwrap().is_empty());

    // The same, arriving compressed on stdin.
    let gz = compress(&archive, Comp::Gzip);
    let err = format::load(&store, LoadInput::Reader(Box::new(Cursor::new(gz[..gz.len() / 2].to_vec()))), &NoProgress)
        .unwrap_err();
    assert!(matches!(err, StoreError::BadArchive { .. }), "{err}");
    assert!(store.images().unwrap().is_empty());
    assert!(store.layers().unwrap().is_empty());
}

#[test]
fn missing_blob_is_named_and_nothing_is_extracted() {
    let tmp = tempfile::tempdir().unwrap();
    let store = open_store(tmp.path());
    let (a, _) = two_images();
    let dir = tmp.path().join("layout");
    let mut m = oci_layout(&[&a], &[Comp::Gzip], false);
    let (_, digests) = add_image_blobs(&mut Members::new(), &a, &[Comp::Gzip]);
    let missing = format!("blobs/sha256/{}", digests[1].hex());
    m.remove(&missing);
    to_dir(&m, &dir);
    let err = format::load(&store, LoadInput::Path(dir), &NoProgress).unwrap_err();
    assert!(matches!(err, StoreError::BadArchive { .. }), "{err}");
    assert!(err.to_string().contains(&missing), "{err}");
    assert!(store.images().unwrap().is_empty());
    assert!(store.layers().unwrap().is_empty(), "checked before any layer is extracted");
}

#[test]
fn oci_digests_are_verified() {
    let tmp = tempfile::tempdir().unwrap();
    let store = open_store(tmp.path());
    let (a, _) = two_images();
    let (_, digests) = add_image_blobs(&mut Members::new(), &a, &[Comp::Gzip]);

    // A compressed blob whose bytes differ from its digest (same uncompressed content).
    let mut m = oci_layout(&[&a], &[Comp::Gzip], false);
    let top = format!("blobs/sha256/{}", digests[1].hex());
    let mut other = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    std::io::Write::write_all(&mut other, &a.layers[1]).unwrap();
    let other = other.finish().unwrap();
    let Member::File(orig) = &m[&top] else { panic!() };
    assert_ne!(&other, orig);
    m.insert(top.clone(), Member::File(other));
    let err = load_tar(&store, tmp.path(), "blob.tar", &to_tar(&m)).unwrap_err();
    // Its size differs from the descriptor's: refused before any extraction.
    assert!(err.to_string().contains(&top), "{err}");
    assert!(store.images().unwrap().is_empty());
    assert!(store.layers().unwrap().is_empty());

    // A config that does not match its name.
    let mut m = oci_layout(&[&a], &[Comp::Gzip], false);
    let cfg = format!("blobs/sha256/{}", a.id().hex());
    let Member::File(bytes) = m[&cfg].clone() else { panic!() };
    let mut tampered = bytes.clone();
    let i = tampered.iter().position(|&c| c == b'/').unwrap();
    tampered[i] = b'_';
    m.insert(cfg.clone(), Member::File(tampered));
    let err = load_tar(&store, tmp.path(), "cfg.tar", &to_tar(&m)).unwrap_err();
    assert!(matches!(err, StoreError::DigestMismatch { .. }), "{err}");
    assert!(err.to_string().contains(&cfg), "{err}");
    assert!(store.images().unwrap().is_empty());
}

#[test]
fn compressed_blob_digest_is_checked_even_when_sizes_agree() {
    let tmp = tempfile::tempdir().unwrap();
    let store = open_store(tmp.path());
    let c = TestImage::new(vec![layer_tar(&[("f", b"content")])], "/c", &["c:1"]);
    let mut m = oci_layout(&[&c], &[Comp::Gzip], false);
    let (_, digests) = add_image_blobs(&mut Members::new(), &c, &[Comp::Gzip]);
    let name = format!("blobs/sha256/{}", digests[0].hex());
    let Member::File(mut blob) = m[&name].clone() else { panic!() };
    // Byte 9 of a gzip header is the OS field: changing it keeps the stream valid and the size.
    blob[9] ^= 0x01;
    m.insert(name.clone(), Member::File(blob));
    let err = load_tar(&store, tmp.path(), "os.tar", &to_tar(&m)).unwrap_err();
    assert!(matches!(err, StoreError::DigestMismatch { .. }), "{err}");
    assert!(err.to_string().contains(&name), "{err}");
    assert!(store.images().unwrap().is_empty());
}

#[test]
fn identical_layers_are_stored_once() {
    let tmp = tempfile::tempdir().unwrap();
    let store = open_store(tmp.path());
    let (a, b) = two_images();
    load_tar(&store, tmp.path(), "a.tar", &to_tar(&oci_layout(&[&a], &[Comp::Gzip], false))).unwrap();
    assert_eq!(store.layers().unwrap().len(), 2);
    load_tar(&store, tmp.path(), "b.tar", &to_tar(&legacy_archive(&[&b]))).unwrap();
    assert_eq!(store.layers().unwrap().len(), 3);
    load_tar(&store, tmp.path(), "both.tar", &to_tar(&dual_archive(&[&a, &b], &[Comp::Zstd]))).unwrap();
    assert_eq!(store.layers().unwrap().len(), 3);
    assert_eq!(store.images().unwrap().len(), 2);
}

#[test]
fn loads_from_stdin_and_compressed_files_without_leftovers() {
    let tmp = tempfile::tempdir().unwrap();
    let store = open_store(tmp.path());
    let (a, b) = two_images();
    let archive = to_tar(&dual_archive(&[&a], &[Comp::None]));
    let gz = compress(&archive, Comp::Gzip);
    let report = format::load(&store, LoadInput::Reader(Box::new(Cursor::new(gz))), &NoProgress).unwrap();
    assert_eq!(ids(&report), [a.id()]);
    let zst = compress(&to_tar(&legacy_archive(&[&b])), Comp::Zstd);
    let report = load_tar(&store, tmp.path(), "b.tar.zst", &zst).unwrap();
    assert_eq!(ids(&report), [b.id()]);
    let report = format::load(&store, LoadInput::Reader(Box::new(Cursor::new(archive))), &NoProgress).unwrap();
    assert_eq!(ids(&report), [a.id()]);
    assert_loaded(&store, &a);
    assert_loaded(&store, &b);
    assert!(std::fs::read_dir(tmp.path().join("root/tmp")).unwrap().next().is_none(), "spool files removed");
}

#[test]
fn not_an_image_archive() {
    let tmp = tempfile::tempdir().unwrap();
    let store = open_store(tmp.path());
    let err = load_tar(&store, tmp.path(), "rootfs.tar", &layer_tar(&[("etc/", b""), ("etc/x", b"x")])).unwrap_err();
    assert!(matches!(err, StoreError::BadArchive { .. }), "{err}");
    let err = load_tar(&store, tmp.path(), "junk.tar", b"definitely not a tar archive").unwrap_err();
    assert!(matches!(err, StoreError::BadArchive { .. }), "{err}");
}

fn import(
    store: &Store,
    data: &[u8],
    changes: &[&str],
    reference: Option<&str>,
) -> Result<strata_store::Image, StoreError> {
    let opts = ImportOpts {
        reference: reference.map(|r| Reference::parse(r).unwrap()),
        changes: changes.iter().map(|s| s.to_string()).collect(),
        message: None,
        source_name: "-".into(),
    };
    format::import(store, Cursor::new(data.to_vec()), &opts, &NoProgress)
}

#[test]
fn import_builds_dockers_config_with_changes() {
    let tmp = tempfile::tempdir().unwrap();
    let store = open_store(tmp.path());
    let rootfs = layer_tar(&[("bin/", b""), ("bin/app", b"app")]);
    let img = import(
        &store,
        &compress(&rootfs, Comp::Gzip),
        &[
            "CMD [\"/bin/app\", \"--serve\"]",
            "ENTRYPOINT /bin/entry",
            "ENV A=1 B=\"two words\"",
            "ENV C $A-x",
            "EXPOSE 80 53/udp",
            "LABEL org.example.v=1 \"with space\"=yes",
            "USER 1000:1000",
            "VOLUME [\"/data\"]",
            "VOLUME /logs /cache",
            "WORKDIR /srv",
            "WORKDIR app",
            "STOPSIGNAL SIGQUIT",
        ],
        Some("imported:v1"),
    )
    .unwrap();
    let created = img.config.created.clone().unwrap();
    let expected = format!(
        concat!(
            r#"{{"created":"{c}","architecture":"{arch}","os":"linux","config":{{"User":"1000:1000","#,
            r#""ExposedPorts":{{"53/udp":{{}},"80/tcp":{{}}}},"Env":["A=1","B=two words","C=1-x"],"#,
            r#""Entrypoint":["/bin/sh","-c","/bin/entry"],"Cmd":["/bin/app","--serve"],"#,
            r#""Volumes":{{"/cache":{{}},"/data":{{}},"/logs":{{}}}},"WorkingDir":"/srv/app","#,
            r#""Labels":{{"org.example.v":"1","with space":"yes"}},"StopSignal":"SIGQUIT"}},"#,
            r#""rootfs":{{"type":"layers","diff_ids":["{d}"]}},"#,
            r#""history":[{{"created":"{c}","comment":"Imported from -"}}],"comment":"Imported from -"}}"#
        ),
        c = created,
        arch = ImageConfig::host_arch(),
        d = sha(&rootfs)
    );
    assert_eq!(String::from_utf8(img.config_bytes.clone()).unwrap(), expected);
    assert_eq!(img.id, sha(expected.as_bytes()));
    assert_eq!(store.image("imported:v1").unwrap().id, img.id);
    assert!(chrono::DateTime::parse_from_rfc3339(&created).is_ok());
}

#[test]
fn import_message_compression_and_dedup() {
    let tmp = tempfile::tempdir().unwrap();
    let store = open_store(tmp.path());
    let rootfs = layer_tar(&[("f", b"same")]);
    let opts = ImportOpts { message: Some("my message".into()), source_name: "x.tar".into(), ..Default::default() };
    let one = format::import(&store, Cursor::new(compress(&rootfs, Comp::Zstd)), &opts, &NoProgress).unwrap();
    assert_eq!(one.config.history[0].comment.as_deref(), Some("my message"));
    assert!(one.tags.is_empty());
    let two = import(&store, &rootfs, &[], None).unwrap();
    assert_eq!(two.config.history[0].comment.as_deref(), Some("Imported from -"));
    assert_eq!(one.config.rootfs.diff_ids, two.config.rootfs.diff_ids);
    assert_eq!(store.layers().unwrap().len(), 1);
}

#[test]
fn import_refuses_unknown_change_before_reading() {
    let tmp = tempfile::tempdir().unwrap();
    let store = open_store(tmp.path());
    let err = import(&store, &layer_tar(&[("f", b"x")]), &["RUN echo hi"], None).unwrap_err();
    assert!(matches!(err, StoreError::InvalidArgument { .. }), "{err}");
    assert!(err.to_string().contains("run is not a valid change command"), "{err}");
    assert!(store.layers().unwrap().is_empty());
    let err = import(&store, &layer_tar(&[("f", b"x")]), &["EXPOSE 80/bogus"], None).unwrap_err();
    assert!(err.to_string().contains("invalid proto: bogus"), "{err}");
}

#[test]
fn a_moved_tag_is_reported_like_docker() {
    let tmp = tempfile::tempdir().unwrap();
    let store = open_store(tmp.path());
    let (a, _) = two_images();
    load_tar(&store, tmp.path(), "a.tar", &to_tar(&legacy_archive(&[&a]))).unwrap();
    let c = TestImage::new(vec![layer_tar(&[("c", b"c")])], "/c", &["example/a:latest"]);
    let report = load_tar(&store, tmp.path(), "c.tar", &to_tar(&legacy_archive(&[&c]))).unwrap();
    assert_eq!(
        report.lines(),
        [
            format!(
                "The image example/a:latest already exists, renaming the old one with ID {} to empty string",
                a.id()
            ),
            "Loaded image: example/a:latest".to_string(),
        ]
    );
    assert_eq!(store.image("example/a:latest").unwrap().id, c.id());
    assert_eq!(store.image("example/a:1.0").unwrap().id, a.id());
    // Loading it again moves nothing.
    let report = load_tar(&store, tmp.path(), "c.tar", &to_tar(&legacy_archive(&[&c]))).unwrap();
    assert_eq!(report.lines(), ["Loaded image: example/a:latest"]);
}
