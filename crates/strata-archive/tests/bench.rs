//! Extraction speed against `tar -xf` (ignored by default; run with
//! `cargo test --release -p strata-archive --test bench -- --ignored --nocapture`).
//! BENCH_DIR picks the filesystem (default: a tempdir).

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::sh;
use strata_archive::WhiteoutMode;
use strata_archive::apply::{ApplyOptions, apply_layer};

/// Runs alternate between GNU tar and us, each into a fresh directory (no
/// deletions between runs: on ext4 with `discard` they slow the next run down).
fn compare(name: &str, tar: &Path, work: &Path) {
    let mut n = 0;
    let mut fresh = || {
        n += 1;
        let dest = work.join(format!("dest{n}"));
        std::fs::create_dir(&dest).unwrap();
        sh("sync");
        dest
    };
    let (mut gnu, mut plain, mut split) = (Duration::MAX, Duration::MAX, Duration::MAX);
    let mut split_len = 0;
    for _ in 0..3 {
        let dest = fresh();
        let start = Instant::now();
        sh(&format!("tar -xf '{}' -C '{}'", tar.display(), dest.display()));
        gnu = gnu.min(start.elapsed());
        for tar_split in [false, true] {
            let opts = ApplyOptions {
                whiteouts: WhiteoutMode::Overlay { userxattr: false },
                same_owner: common::is_root(),
                tar_split,
            };
            let dest = fresh();
            let start = Instant::now();
            let stats = apply_layer(std::fs::File::open(tar).unwrap(), &dest, &opts).unwrap();
            let el = start.elapsed();
            if tar_split {
                split = split.min(el);
                split_len = stats.tar_split.map(|s| s.len()).unwrap_or(0);
            } else {
                plain = plain.min(el);
            }
        }
    }
    let r = |d: Duration| d.as_secs_f64() / gnu.as_secs_f64();
    eprintln!(
        "{name}: tar -xf {:.3}s | apply_layer {:.3}s = {:.2}x | with tar-split {:.3}s = {:.2}x (tar-split {split_len} bytes)",
        gnu.as_secs_f64(),
        plain.as_secs_f64(),
        r(plain),
        split.as_secs_f64(),
        r(split)
    );
}

fn workdir() -> tempfile::TempDir {
    match std::env::var_os("BENCH_DIR") {
        Some(d) => tempfile::tempdir_in(d).unwrap(),
        None => tempfile::tempdir().unwrap(),
    }
}

#[test]
#[ignore]
fn small_files_20k() {
    let t = workdir();
    let src = t.path().join("src");
    for d in 0..200 {
        let dir = src.join(format!("dir{d:03}/sub"));
        std::fs::create_dir_all(&dir).unwrap();
        for f in 0..100 {
            let size = 200 + (d * 100 + f) * 37 % 8000;
            std::fs::write(dir.join(format!("file{f:03}.txt")), vec![b'a' + (f % 26) as u8; size]).unwrap();
        }
    }
    let tar = t.path().join("small.tar");
    sh(&format!("cd '{}' && tar -cf '{}' .", src.display(), tar.display()));
    std::fs::remove_dir_all(&src).unwrap();
    compare("20k small files", &tar, t.path());
}

#[test]
#[ignore]
fn one_gib_file() {
    let t = workdir();
    let src = t.path().join("src");
    std::fs::create_dir(&src).unwrap();
    sh(&format!("head -c 1073741824 /dev/urandom > '{}/big.bin'", src.display()));
    let tar = t.path().join("big.tar");
    sh(&format!("cd '{}' && tar -cf '{}' .", src.display(), tar.display()));
    std::fs::remove_dir_all(&src).unwrap();
    compare("1 GiB file", &tar, t.path());
}

#[test]
#[ignore]
fn sha256_speed() {
    let data = vec![7u8; 256 << 20];
    let start = Instant::now();
    let h = strata_archive::digest::sha256_hex(&data);
    let el = start.elapsed();
    eprintln!("sha256: {:.0} MB/s ({h})", data.len() as f64 / el.as_secs_f64() / 1e6);
}
