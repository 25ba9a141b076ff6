//! Interoperability with containers/image through `skopeo`: what `save`
//! writes must read as both a docker-archive and an oci-archive, and what
//! skopeo writes (OCI layout, docker-archive) must load with the same image id.
//!
//! Skipped with a notice when skopeo is not installed, except under `CI=true`
//! or `STRATA_REQUIRE_SKOPEO=1`, where that is a failure.

mod format_common;

use std::path::Path;
use std::process::Command;

use format_common::*;
use strata_store::format::{self, LoadInput};
use strata_store::progress::NoProgress;

fn skopeo_available() -> bool {
    let found = Command::new("skopeo").arg("--version").output().is_ok_and(|o| o.status.success());
    if !found {
        let required =
            std::env::var_os("STRATA_REQUIRE_SKOPEO").is_some() || std::env::var("CI").is_ok_and(|v| v == "true");
        assert!(!required, "skopeo is not installed (scripts/setup.sh installs it; CI requires it)");
        eprintln!("skopeo not installed: skipping the skopeo interoperability tests");
    }
    found
}

fn skopeo(args: &[&str]) -> Vec<u8> {
    let out = Command::new("skopeo").args(["--insecure-policy"]).args(args).output().expect("run skopeo");
    assert!(out.status.success(), "skopeo {args:?} failed:\n{}", String::from_utf8_lossy(&out.stderr));
    out.stdout
}

fn json(bytes: &[u8]) -> serde_json::Value {
    serde_json::from_slice(bytes).expect("skopeo prints JSON")
}

/// A store holding image `a` of [`two_images`], saved to `<dir>/saved.tar`.
fn saved_archive(dir: &Path) -> (TestImage, std::path::PathBuf) {
    let store = open_store(&dir.join("src"));
    let (a, _) = two_images();
    let input = dir.join("in.tar");
    std::fs::write(&input, to_tar(&oci_layout(&[&a], &[Comp::Gzip], false))).unwrap();
    format::load(&store, LoadInput::Path(input), &NoProgress).unwrap();
    let path = dir.join("saved.tar");
    let mut f = std::fs::File::create(&path).unwrap();
    format::save(&store, &["example/a:1.0".to_string()], &mut f, &NoProgress).unwrap();
    (a, path)
}

#[test]
fn skopeo_reads_saved_archive_as_docker_and_oci() {
    if !skopeo_available() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let (a, saved) = saved_archive(tmp.path());
    let diff_ids: Vec<String> = a.diff_ids().iter().map(|d| d.to_string()).collect();

    let docker = json(&skopeo(&["inspect", &format!("docker-archive:{}", saved.display())]));
    assert_eq!(docker["Layers"], serde_json::json!(diff_ids), "{docker:#}");
    assert_eq!(docker["Architecture"], a.config_json()["architecture"]);

    let oci = json(&skopeo(&["inspect", &format!("oci-archive:{}", saved.display())]));
    assert_eq!(oci["Layers"], serde_json::json!(diff_ids), "{oci:#}");

    let config = skopeo(&["inspect", "--config", "--raw", &format!("oci-archive:{}", saved.display())]);
    assert_eq!(config, a.config, "the config blob is the image's exact bytes");
    let config = json(&skopeo(&["inspect", "--config", &format!("oci-archive:{}", saved.display())]));
    assert_eq!(config["rootfs"]["diff_ids"], serde_json::json!(diff_ids));
}

#[test]
fn skopeo_copies_load_with_the_same_image_id() {
    if !skopeo_available() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let (a, saved) = saved_archive(tmp.path());
    let store = open_store(&tmp.path().join("dst"));

    // oci-archive → OCI layout directory, named by org.opencontainers.image.ref.name.
    let layout = tmp.path().join("layout");
    skopeo(&[
        "copy",
        &format!("oci-archive:{}", saved.display()),
        &format!("oci:{}:example/a:copied", layout.display()),
    ]);
    let report = format::load(&store, LoadInput::Path(layout), &NoProgress).unwrap();
    assert_eq!(report.images.len(), 1);
    assert_eq!(report.images[0].id, a.id());
    assert_eq!(report.lines(), ["Loaded image: example/a:copied"]);

    // docker-archive → OCI layout: c/image converts the Docker config to an OCI
    // one (a new image id), with the same layers.
    let converted = tmp.path().join("converted");
    skopeo(&["copy", &format!("docker-archive:{}", saved.display()), &format!("oci:{}", converted.display())]);
    let config = skopeo(&["inspect", "--config", "--raw", &format!("oci:{}", converted.display())]);
    let report = format::load(&store, LoadInput::Path(converted), &NoProgress).unwrap();
    assert_eq!(report.images[0].id, sha(&config));
    assert_eq!(report.lines(), [format!("Loaded image ID: {}", sha(&config))]);
    let img = store.image(report.images[0].id.as_str()).unwrap();
    assert_eq!(
        img.config.rootfs.diff_ids,
        a.config_json()["rootfs"]["diff_ids"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    );
    assert_eq!(store.layers().unwrap().len(), 2);

    // oci-archive → oci-archive (untagged), compressed with zstd on the way.
    let zst = tmp.path().join("zst.tar");
    skopeo(&[
        "copy",
        "--dest-compress-format",
        "zstd",
        &format!("oci-archive:{}", saved.display()),
        &format!("oci-archive:{}", zst.display()),
    ]);
    let report = format::load(&store, LoadInput::Path(zst), &NoProgress).unwrap();
    assert_eq!(report.images[0].id, a.id());

    // c/image's own docker-archive writer (legacy layout).
    let fresh = open_store(&tmp.path().join("fresh"));
    let legacy = tmp.path().join("legacy.tar");
    skopeo(&[
        "copy",
        &format!("docker-archive:{}", saved.display()),
        &format!("docker-archive:{}:example/a:legacy", legacy.display()),
    ]);
    let report = format::load(&fresh, LoadInput::Path(legacy), &NoProgress).unwrap();
    assert_eq!(report.images[0].id, a.id());
    assert_eq!(report.lines(), ["Loaded image: example/a:legacy"]);
    assert_eq!(fresh.layers().unwrap().len(), 2);
}
