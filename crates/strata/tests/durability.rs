//! Crash and concurrency behaviour of the store through the real binary:
//! kill -9 in the middle of `load` and `import` leaves a store that opens
//! cleanly, shows no half-made image and keeps no leftovers; several processes
//! loading at once neither lose nor duplicate anything.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod support;
use support::*;

/// An image archive (legacy docker-archive) with one layer of `files` files of `size` bytes.
fn big_archive(dir: &Path, name: &str, tag: &str, files: usize, size: usize) -> PathBuf {
    let layer = layer_tar(|b| {
        for i in 0..files {
            let data: Vec<u8> = (0..size).map(|j| ((i * 31 + j * 7) % 251) as u8).collect();
            add_file(b, &format!("data/d{}/f{i}", i % 50), &data, 0o644);
        }
    });
    let path = dir.join(name);
    write_docker_archive(&path, tag, &[layer]);
    path
}

fn driver_dirs(root: &Path, driver: &str) -> Vec<String> {
    let dir = match driver {
        "vfs" => root.join("vfs/dir"),
        "overlay2" => root.join("overlay2"),
        _ => root.join("btrfs/subvolumes"),
    };
    let mut v: Vec<String> = std::fs::read_dir(&dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n != "l" && !n.starts_with('.'))
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

fn kill_during(driver: &str, args: &[&str], stdin_file: Option<&Path>) {
    let t = Env::new(driver);
    // Wait until the layer directory is being filled, then kill -9.
    let mut cmd = t.cmd();
    cmd.args(args).stdout(Stdio::null()).stderr(Stdio::null());
    if let Some(f) = stdin_file {
        cmd.stdin(std::fs::File::open(f).unwrap());
    }
    let mut child = cmd.spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if !driver_dirs(&t.root, driver).is_empty() {
            std::thread::sleep(Duration::from_millis(150));
            break;
        }
        assert!(Instant::now() < deadline, "layer directory never appeared");
        assert!(
            child.try_wait().unwrap().is_none(),
            "process finished before it could be killed; make the archive bigger"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();

    // The store opens cleanly, shows no image, and the sweep on open removed the half layer.
    let out = t.ok(&["images", "-q"]);
    assert_eq!(out, "", "no half-made image is visible");
    assert_eq!(driver_dirs(&t.root, driver), Vec::<String>::new(), "abandoned layer swept");
    let check = t.run(&["system", "check"]);
    assert!(check.status.success(), "system check after crash: {}", String::from_utf8_lossy(&check.stderr));
    assert!(std::fs::read_dir(t.root.join("tmp")).unwrap().next().is_none(), "staging swept");

    // And the same work then succeeds.
    let mut again = t.cmd();
    again.args(args);
    if let Some(f) = stdin_file {
        again.stdin(std::fs::File::open(f).unwrap());
    }
    let out = again.output().unwrap();
    assert!(out.status.success(), "retry failed: {}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(t.ok(&["images", "-q"]).lines().count(), 1);
}

#[test]
fn kill_9_during_load_leaves_a_clean_store() {
    let tmp = tempfile::tempdir().unwrap();
    let archive = big_archive(tmp.path(), "big.tar", "big:1", 3000, 16 * 1024);
    for driver in drivers_under_test() {
        kill_during(driver, &["load", "-q", "-i", archive.to_str().unwrap()], None);
    }
}

#[test]
fn kill_9_during_import_leaves_a_clean_store() {
    let tmp = tempfile::tempdir().unwrap();
    let layer = layer_tar(|b| {
        for i in 0..3000 {
            add_file(b, &format!("d{}/f{i}", i % 40), &vec![(i % 256) as u8; 16 * 1024], 0o600);
        }
    });
    let path = tmp.path().join("rootfs.tar");
    std::fs::write(&path, layer).unwrap();
    for driver in drivers_under_test() {
        kill_during(driver, &["import", "-", "imported:1"], Some(&path));
    }
}

#[test]
fn concurrent_loads_share_layers_without_loss() {
    let tmp = tempfile::tempdir().unwrap();
    let base = layer_tar(|b| {
        for i in 0..200 {
            add_file(b, &format!("base/f{i}"), format!("base {i}").as_bytes(), 0o644);
        }
    });
    let mut archives = Vec::new();
    for n in 0..4 {
        let top = layer_tar(|b| add_file(b, &format!("top{n}"), format!("top {n}").as_bytes(), 0o644));
        let p = tmp.path().join(format!("img{n}.tar"));
        write_docker_archive(&p, &format!("img{n}:latest"), &[base.clone(), top]);
        archives.push(p);
    }
    for driver in drivers_under_test() {
        let t = Env::new(driver);
        let children: Vec<_> = archives
            .iter()
            .map(|a| t.cmd().args(["load", "-q", "-i", a.to_str().unwrap()]).stderr(Stdio::piped()).spawn().unwrap())
            .collect();
        for c in children {
            let out = c.wait_with_output().unwrap();
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        }
        let mut names: Vec<String> =
            t.ok(&["images", "--format", "{{.Repository}}:{{.Tag}}"]).lines().map(String::from).collect();
        names.sort();
        assert_eq!(names, ["img0:latest", "img1:latest", "img2:latest", "img3:latest"]);
        // One base layer plus four tops, stored once each.
        assert_eq!(driver_dirs(&t.root, driver).len(), 5, "{driver}: layers stored once");
        let check = t.run(&["system", "check"]);
        assert!(check.status.success(), "{}", String::from_utf8_lossy(&check.stdout));
        // Each image reads back its own top file and the shared base.
        for n in 0..4 {
            let out =
                Command::new(strata_bin()).args(t.global()).args(["save", &format!("img{n}:latest")]).output().unwrap();
            assert!(out.status.success());
            let files = archive_layer_files(&out.stdout);
            assert!(files.contains(&format!("top{n}")), "{files:?}");
            assert!(files.contains(&"base/f199".to_string()));
        }
    }
}

#[test]
fn kill_9_during_volume_import_publishes_no_half_volume() {
    let tmp = tempfile::tempdir().unwrap();
    let archive = layer_tar(|b| {
        for i in 0..3000 {
            add_file(b, &format!("d{}/f{i}", i % 40), &vec![(i % 251) as u8; 16 * 1024], 0o640);
        }
    });
    let path = tmp.path().join("vol.tar");
    std::fs::write(&path, &archive).unwrap();
    let t = Env::new("vfs");
    let mut child = t
        .cmd()
        .args(["volume", "import", "-q", "restored", path.to_str().unwrap()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Kill once extraction into staging has begun.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let staged = std::fs::read_dir(t.root.join("tmp")).map(|d| d.count() > 0).unwrap_or(false);
        if staged {
            std::thread::sleep(Duration::from_millis(100));
            break;
        }
        assert!(Instant::now() < deadline, "staging never appeared");
        assert!(child.try_wait().unwrap().is_none(), "import finished before it could be killed");
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(t.ok(&["volume", "ls", "-q"]), "", "no half-restored volume is visible");
    assert!(std::fs::read_dir(t.root.join("tmp")).unwrap().next().is_none(), "staging swept");
    // The import then succeeds and holds every file.
    t.ok(&["volume", "import", "-q", "restored", path.to_str().unwrap()]);
    let data = t.root.join("volumes/restored/_data");
    let n: usize =
        std::fs::read_dir(&data).unwrap().map(|d| std::fs::read_dir(d.unwrap().path()).unwrap().count()).sum();
    assert_eq!(n, 3000);
}
