//! Interoperability with skopeo (containers/image): an image strata pushed
//! copies out to an OCI layout with the same manifest and config digests; an
//! OCI layout skopeo pushed (a two-platform index, gzip and zstd layers)
//! pulls into strata with identical digests, for either platform.

mod common;

use std::io::Write;
use std::path::Path;
use std::process::Command;

use common::*;
use strata_registry::manifest::{OCI_CONFIG, OCI_INDEX, OCI_LAYER_GZIP, OCI_LAYER_ZSTD, OCI_MANIFEST};
use strata_registry::{PullOpts, PushOpts, pull, push};
use strata_store::{Digest, ImageConfig, Reference};

#[test]
fn skopeo_copies_out_what_strata_pushed() {
    if !registry_available() || !skopeo_available() {
        return;
    }
    let reg = Registry::start(Auth::None, None);
    let t = tmp();
    let a = open_store(t.path(), "a");
    let tag = reg.reference("interop/out:1");
    let img = make_image(&a, &busybox_like(6), "sh", &tag);
    let pushed =
        push(&a, &tag, &PushOpts { registry: config(t.path()), gzip_level: None }, &Recorder::default()).unwrap();
    let dir = t.path().join("layout");
    run(Command::new("skopeo")
        .args(["copy", "--src-tls-verify=false"])
        .arg(format!("docker://{}", tag))
        .arg(format!("oci:{}:out", dir.display())));
    let index: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.join("index.json")).unwrap()).unwrap();
    assert_eq!(index["manifests"][0]["digest"], pushed.digest.to_string());
    let m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("blobs/sha256").join(pushed.digest.hex())).unwrap()).unwrap();
    assert_eq!(m["config"]["digest"], img.id.to_string());
    assert_eq!(m["mediaType"], OCI_MANIFEST);
    let raw = run(Command::new("skopeo").args(["inspect", "--tls-verify=false"]).arg(format!("docker://{tag}")));
    let v: serde_json::Value = serde_json::from_str(&raw).unwrap();
    assert_eq!(v["Digest"], pushed.digest.to_string());
    assert_eq!(v["Layers"].as_array().unwrap().len(), 2);
}

/// Write `data` as a blob of the layout; its descriptor.
fn blob(dir: &Path, media_type: &str, data: &[u8]) -> serde_json::Value {
    let d = Digest::of_bytes(data);
    std::fs::write(dir.join("blobs/sha256").join(d.hex()), data).unwrap();
    serde_json::json!({"mediaType": media_type, "digest": d.to_string(), "size": data.len()})
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(6));
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn zstd(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut w =
        strata_archive::compress::compressing_writer(&mut out, strata_archive::compress::Compression::Zstd, None)
            .unwrap();
    w.write_all(data).unwrap();
    w.finish().unwrap();
    out
}

/// An image manifest for `arch` (gzip base, zstd top); (manifest descriptor, config digest).
fn image_for(dir: &Path, arch: &str, seed: u64) -> (serde_json::Value, Digest) {
    let base = layer_tar(&[("bin/tool", &noise(seed, 200_000)), ("etc/arch", arch.as_bytes())]);
    let top = layer_tar(&[("srv/data", &noise(seed + 1, 300_000))]);
    let diff_ids = [Digest::of_bytes(&base), Digest::of_bytes(&top)];
    let mut cfg: serde_json::Value = serde_json::from_slice(&config_json(&diff_ids, "tool")).unwrap();
    cfg["architecture"] = arch.into();
    let cfg = serde_json::to_vec(&cfg).unwrap();
    let config = blob(dir, OCI_CONFIG, &cfg);
    let layers = vec![blob(dir, OCI_LAYER_GZIP, &gzip(&base)), blob(dir, OCI_LAYER_ZSTD, &zstd(&top))];
    let m = serde_json::json!({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": config, "layers": layers});
    let mut desc = blob(dir, OCI_MANIFEST, &serde_json::to_vec(&m).unwrap());
    desc["platform"] = serde_json::json!({"architecture": arch, "os": "linux"});
    (desc, Digest::of_bytes(&cfg))
}

#[test]
fn strata_pulls_what_skopeo_pushed_with_identical_digests() {
    if !registry_available() || !skopeo_available() {
        return;
    }
    let reg = Registry::start(Auth::None, None);
    let t = tmp();
    let dir = t.path().join("layout");
    std::fs::create_dir_all(dir.join("blobs/sha256")).unwrap();
    std::fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    let host = ImageConfig::host_arch();
    let other = if host == "s390x" { "amd64" } else { "s390x" };
    let (native, native_config) = image_for(&dir, host, 10);
    let (foreign, foreign_config) = image_for(&dir, other, 20);
    let index = serde_json::json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [foreign, native]});
    let index_desc = blob(&dir, OCI_INDEX, &serde_json::to_vec(&index).unwrap());
    let mut top = index_desc.clone();
    top["annotations"] = serde_json::json!({"org.opencontainers.image.ref.name": "multi"});
    std::fs::write(
        dir.join("index.json"),
        serde_json::to_vec(&serde_json::json!({"schemaVersion": 2, "manifests": [top]})).unwrap(),
    )
    .unwrap();
    let digest_file = t.path().join("digest");
    run(Command::new("skopeo")
        .args(["copy", "--all", "--dest-tls-verify=false", "--digestfile"])
        .arg(&digest_file)
        .arg(format!("oci:{}:multi", dir.display()))
        .arg(format!("docker://{}/interop/multi:1", reg.host)));
    let pushed = std::fs::read_to_string(&digest_file).unwrap();
    assert_eq!(pushed.trim(), index_desc["digest"].as_str().unwrap());

    let tag = Reference::parse(&format!("{}/interop/multi:1", reg.host)).unwrap();
    let b = open_store(t.path(), "b");
    let r =
        pull(&b, &tag, &PullOpts { registry: config(t.path()), ..Default::default() }, &Recorder::default()).unwrap();
    assert_eq!(r.image.id, native_config);
    assert_eq!(r.digest.as_str(), pushed.trim(), "the repo digest of a multi-platform image is its index's");
    assert_eq!(r.downloaded, 2);
    let chain = b.layer_chain(r.image.top_layer.as_ref().unwrap()).unwrap();
    let diff_ids: Vec<String> = chain.iter().map(|l| l.diff_id.to_string()).collect();
    assert_eq!(diff_ids, r.image.config.rootfs.diff_ids);

    let c = open_store(t.path(), "c");
    let opts = PullOpts { registry: config(t.path()), platform: Some(format!("linux/{other}")), quiet: false };
    let r = pull(&c, &tag, &opts, &Recorder::default()).unwrap();
    assert_eq!(r.image.id, foreign_config);
    let opts = PullOpts { registry: config(t.path()), platform: Some("linux/mips64le".into()), quiet: false };
    let err = pull(&c, &tag, &opts, &Recorder::default()).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("no matching manifest for linux/mips64le in the manifest list entries of {}", tag.familiar())
    );
}
