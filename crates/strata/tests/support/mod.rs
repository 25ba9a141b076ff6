//! Shared helpers for the binary's end-to-end tests: a throwaway data root per
//! test (vfs, overlay2 on the test disk, btrfs on a loop device), running the
//! real `strata` binary, and building layer tars and image archives in memory.
#![allow(dead_code)]

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn strata_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_strata"))
}

pub fn is_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").map(|m| m.uid() == 0).unwrap_or(false)
}

pub fn in_ci() -> bool {
    std::env::var("CI").map(|v| v == "true" || v == "1").unwrap_or(false)
}

/// vfs always; overlay2 and btrfs when root. Under CI=true, not being root is a failure:
/// privileged tiers must run there, never skip silently.
pub fn drivers_under_test() -> Vec<&'static str> {
    if is_root() {
        vec!["vfs", "overlay2", "btrfs"]
    } else {
        assert!(!in_ci(), "CI=true but not root: the privileged driver tests cannot run");
        eprintln!("note: not root; testing vfs only (overlay2 and btrfs need root)");
        vec!["vfs"]
    }
}

/// A data root for one test. For btrfs the root is a loop-mounted btrfs.
pub struct Env {
    pub dir: tempfile::TempDir,
    pub root: PathBuf,
    pub run_root: PathBuf,
    pub driver: String,
    loop_mount: Option<PathBuf>,
}

impl Env {
    pub fn new(driver: &str) -> Env {
        let dir = tempfile::Builder::new().prefix("strata-e2e").tempdir_in(test_tmp()).unwrap();
        let root = dir.path().join("root");
        let run_root = dir.path().join("run");
        std::fs::create_dir_all(&root).unwrap();
        let mut loop_mount = None;
        if driver == "btrfs" {
            let img = dir.path().join("btrfs.img");
            let f = std::fs::File::create(&img).unwrap();
            f.set_len(1 << 30).unwrap();
            sh("mkfs.btrfs", &["-q", img.to_str().unwrap()]);
            sh("mount", &["-o", "loop", img.to_str().unwrap(), root.to_str().unwrap()]);
            loop_mount = Some(root.clone());
        }
        Env { dir, root, run_root, driver: driver.to_string(), loop_mount }
    }

    pub fn global(&self) -> Vec<String> {
        vec![
            "--root".into(),
            self.root.display().to_string(),
            "--run-root".into(),
            self.run_root.display().to_string(),
            "--storage-driver".into(),
            self.driver.clone(),
        ]
    }

    pub fn cmd(&self) -> Command {
        let mut c = Command::new(strata_bin());
        c.args(self.global());
        c
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd().args(args).output().unwrap()
    }

    /// Run, assert success, return stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "strata {args:?} failed ({:?}): {}{}",
            out.status.code(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim_end().to_string()
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        if let Some(m) = &self.loop_mount {
            let _ = Command::new("umount").arg(m).status();
        }
    }
}

/// Where test roots live: the same disk as the build (overlay needs a real fs, not tmpfs).
fn test_tmp() -> PathBuf {
    let p = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    std::fs::create_dir_all(&p).unwrap();
    p
}

pub fn sh(prog: &str, args: &[&str]) {
    let st = Command::new(prog).args(args).status().unwrap_or_else(|e| panic!("{prog}: {e}"));
    assert!(st.success(), "{prog} {args:?} failed");
}

/// Build an uncompressed layer tar.
pub fn layer_tar(f: impl FnOnce(&mut tar::Builder<Vec<u8>>)) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    f(&mut b);
    b.into_inner().unwrap()
}

pub fn add_file(b: &mut tar::Builder<Vec<u8>>, path: &str, data: &[u8], mode: u32) {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Regular);
    h.set_size(data.len() as u64);
    h.set_mode(mode);
    h.set_mtime(1_700_000_000);
    h.set_uid(0);
    h.set_gid(0);
    b.append_data(&mut h, path, data).unwrap();
}

pub fn add_dir(b: &mut tar::Builder<Vec<u8>>, path: &str, mode: u32) {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Directory);
    h.set_size(0);
    h.set_mode(mode);
    h.set_mtime(1_700_000_000);
    b.append_data(&mut h, path, std::io::empty()).unwrap();
}

pub fn sha256_hex(data: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(data))
}

/// Write a legacy docker-archive (`docker save` of Engine ≤ 24) with the given layers.
pub fn write_docker_archive(path: &Path, tag: &str, layers: &[Vec<u8>]) {
    let diff_ids: Vec<String> = layers.iter().map(|l| format!("sha256:{}", sha256_hex(l))).collect();
    let config = serde_json::json!({
        "architecture": "amd64", "os": "linux", "created": "2024-01-01T00:00:00Z",
        "config": {"Cmd": ["sh"]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": layers.iter().map(|_| serde_json::json!({"created": "2024-01-01T00:00:00Z", "created_by": "test"})).collect::<Vec<_>>(),
    });
    let config = serde_json::to_vec(&config).unwrap();
    let config_name = format!("{}.json", sha256_hex(&config));
    let mut b = tar::Builder::new(std::fs::File::create(path).unwrap());
    let mut layer_names = Vec::new();
    for l in layers {
        let name = format!("{}/layer.tar", sha256_hex(l));
        add_blob(&mut b, &name, l);
        layer_names.push(name);
    }
    add_blob(&mut b, &config_name, &config);
    let manifest = serde_json::json!([{"Config": config_name, "RepoTags": [tag], "Layers": layer_names}]);
    add_blob(&mut b, "manifest.json", &serde_json::to_vec(&manifest).unwrap());
    b.finish().unwrap();
}

fn add_blob<W: std::io::Write>(b: &mut tar::Builder<W>, name: &str, data: &[u8]) {
    let mut h = tar::Header::new_ustar();
    h.set_size(data.len() as u64);
    h.set_mode(0o644);
    h.set_mtime(0);
    b.append_data(&mut h, name, data).unwrap();
}

/// The file paths inside all layers of a saved archive (as `strata save` writes it).
pub fn archive_layer_files(archive: &[u8]) -> Vec<String> {
    let mut members = std::collections::HashMap::new();
    let mut ar = tar::Archive::new(archive);
    for e in ar.entries().unwrap() {
        let mut e = e.unwrap();
        let name = e.path().unwrap().to_string_lossy().into_owned();
        let mut data = Vec::new();
        e.read_to_end(&mut data).unwrap();
        members.insert(name, data);
    }
    let manifest: serde_json::Value = serde_json::from_slice(&members["manifest.json"]).unwrap();
    let mut files = Vec::new();
    for l in manifest[0]["Layers"].as_array().unwrap() {
        let data = &members[l.as_str().unwrap()];
        let mut ar = tar::Archive::new(&data[..]);
        for e in ar.entries().unwrap() {
            let e = e.unwrap();
            files.push(e.path().unwrap().to_string_lossy().trim_start_matches("./").to_string());
        }
    }
    files
}

pub fn add_symlink(b: &mut tar::Builder<Vec<u8>>, path: &str, target: &str) {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Symlink);
    h.set_size(0);
    h.set_mode(0o777);
    h.set_mtime(1_700_000_000);
    b.append_link(&mut h, path, target).unwrap();
}

/// A busybox-like rootfs: `/bin/busybox` and its `sh` link, `/etc/group`,
/// `/data/f.txt` (the image of docker-behaviour.md §2), `/notvol.txt`.
pub fn busybox_rootfs() -> Vec<u8> {
    layer_tar(|b| {
        add_dir(b, "bin/", 0o755);
        add_file(b, "bin/busybox", &[0x7f, b'E', b'L', b'F', 0, 0, 0, 0], 0o755);
        add_symlink(b, "bin/sh", "busybox");
        add_dir(b, "etc/", 0o755);
        add_file(b, "etc/group", b"root:x:0:\n", 0o644);
        add_dir(b, "data/", 0o755);
        add_file(b, "data/f.txt", b"image-data\n", 0o644);
        add_file(b, "notvol.txt", b"x\n", 0o644);
    })
}

impl Env {
    /// Run with `input` on stdin.
    pub fn run_in(&self, args: &[&str], input: &[u8]) -> Output {
        use std::io::Write;
        use std::process::Stdio;
        let mut child =
            self.cmd().args(args).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        child.stdin.take().unwrap().write_all(input).unwrap();
        child.wait_with_output().unwrap()
    }

    /// Import [`busybox_rootfs`] as `reference` with `CMD ["sh"]` and the
    /// given extra Dockerfile instructions (`VOLUME /data`); returns its id.
    pub fn import_busybox(&self, reference: &str, changes: &[&str]) -> String {
        let mut args = vec!["import", "-c", "CMD [\"sh\"]"];
        for c in changes {
            args.extend(["-c", c]);
        }
        args.extend(["-", reference]);
        let out = self.run_in(&args, &busybox_rootfs());
        assert!(out.status.success(), "import: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    }
}
