//! `docker cp` engine speed against `cp -a` of the same data on the same disk
//! (ignored by default; run with
//! `cargo test --release -p strata-archive --test cp_bench -- --ignored --nocapture`).
//! BENCH_DIR picks the filesystem (default: the target dir's tmp, the repo's disk).
//! Workloads as bench/cp.sh: one 1 GiB file, and 20,000 files (1..9,400 bytes)
//! in 200 directories; pseudo-random, incompressible, identical on every run.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use strata_archive::cp::{CpOpts, copy_host_to_root, copy_root_to_host};
use strata_sys::root::Root;

/// xorshift64*: deterministic filler, fast enough to make a GiB in a second or two.
fn fill(buf: &mut [u8], state: &mut u64) {
    for chunk in buf.chunks_mut(8) {
        *state ^= *state >> 12;
        *state ^= *state << 25;
        *state ^= *state >> 27;
        let v = state.wrapping_mul(0x2545_f491_4f6c_dd1d).to_le_bytes();
        chunk.copy_from_slice(&v[..chunk.len()]);
    }
}

fn gen_big(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    let mut f = std::io::BufWriter::new(std::fs::File::create(dir.join("blob.bin")).unwrap());
    let mut s = 2u64;
    let mut buf = vec![0u8; 1 << 20];
    for _ in 0..1024 {
        fill(&mut buf, &mut s);
        f.write_all(&buf).unwrap();
    }
}

fn gen_small(dir: &Path) {
    let mut s = 1u64;
    let mut buf = vec![0u8; 9400];
    for d in 0..200 {
        std::fs::create_dir_all(dir.join(format!("d{d:03}"))).unwrap();
    }
    let n: u64 = std::env::var("CP_BENCH_FILES").ok().and_then(|v| v.parse().ok()).unwrap_or(20_000);
    for i in 0..n {
        let size = 1 + (i * 7919) % 9400;
        fill(&mut buf[..size as usize], &mut s);
        std::fs::write(dir.join(format!("d{:03}/f{i}", i % 200)), &buf[..size as usize]).unwrap();
    }
}

fn sync() {
    Command::new("sync").status().unwrap();
}

fn rm(p: &Path) {
    let _ = std::fs::remove_dir_all(p);
}

/// CPU seconds (user + system) of this thread and of waited-for children,
/// from /proc (fields 14-17 of stat, in clock ticks of 10 ms).
fn cpu() -> (f64, f64) {
    let field = |path: &str, a: usize| -> f64 {
        let s = std::fs::read_to_string(path).unwrap();
        let rest = &s[s.rfind(')').unwrap() + 2..];
        let f: Vec<f64> = rest.split(' ').map(|x| x.parse().unwrap_or(0.0)).collect();
        (f[a] + f[a + 1]) / 100.0
    };
    (field("/proc/thread-self/stat", 11), field("/proc/self/stat", 13))
}

/// One timed run: wall time and CPU time (ours, or the child's).
#[derive(Clone, Copy, PartialEq, PartialOrd)]
struct Run {
    wall: f64,
    cpu: f64,
}

/// Median of `n` alternating runs of each side (`a` runs a child process);
/// each run starts from a clean, synced state.
fn race(n: usize, mut reset: impl FnMut(), mut a: impl FnMut(), mut b: impl FnMut()) -> (Run, Run) {
    let (mut ta, mut tb) = (Vec::new(), Vec::new());
    for _ in 0..n {
        for child in [true, false] {
            reset();
            sync();
            let c0 = cpu();
            let s = Instant::now();
            if child {
                a()
            } else {
                b()
            }
            let wall = s.elapsed().as_secs_f64();
            let c1 = cpu();
            let r = Run { wall, cpu: if child { c1.1 - c0.1 } else { c1.0 - c0.0 } };
            if child { ta.push(r) } else { tb.push(r) }
        }
    }
    let med = |v: &mut Vec<Run>| {
        let mut w: Vec<f64> = v.iter().map(|r| r.wall).collect();
        let mut c: Vec<f64> = v.iter().map(|r| r.cpu).collect();
        w.sort_by(f64::total_cmp);
        c.sort_by(f64::total_cmp);
        Run { wall: w[w.len() / 2], cpu: c[c.len() / 2] }
    };
    (med(&mut ta), med(&mut tb))
}

fn report(what: &str, cp: Run, ours: Run) -> f64 {
    eprintln!(
        "{what}: cp -a {:.3}s (cpu {:.2}s), strata {:.3}s (cpu {:.2}s) = {:.2}x wall, {:.2}x cpu",
        cp.wall,
        cp.cpu,
        ours.wall,
        ours.cpu,
        ours.wall / cp.wall,
        ours.cpu / cp.cpu.max(0.01)
    );
    ours.wall / cp.wall
}

fn workdir() -> tempfile::TempDir {
    let base =
        std::env::var_os("BENCH_DIR").map(PathBuf::from).unwrap_or_else(|| PathBuf::from(env!("CARGO_TARGET_TMPDIR")));
    std::fs::create_dir_all(&base).unwrap();
    tempfile::tempdir_in(base).unwrap()
}

fn compare(name: &str, make: fn(&Path)) {
    let w = workdir();
    let src = w.path().join("src");
    make(&src);
    let ctr = w.path().join("ctr");
    std::fs::create_dir(&ctr).unwrap();
    let root = Root::new(&ctr).unwrap();
    let cp_dst = w.path().join("cp-dst");
    let opts = CpOpts { host_owner: Some((0, 0)), ..CpOpts::default() };
    let runs: usize = std::env::var("RUNS").ok().and_then(|r| r.parse().ok()).unwrap_or(3);

    // host → container
    let (cp, ours) = race(
        runs,
        || {
            rm(&cp_dst);
            rm(&ctr.join("data"));
        },
        || assert!(Command::new("cp").arg("-a").arg(&src).arg(&cp_dst).status().unwrap().success()),
        || {
            copy_host_to_root(src.to_str().unwrap(), &root, "/data", &opts).unwrap();
        },
    );
    let r1 = report(&format!("{name} host→ctr"), cp, ours);

    // container → host
    rm(&ctr.join("data"));
    copy_host_to_root(src.to_str().unwrap(), &root, "/data", &opts).unwrap();
    let out = w.path().join("out");
    let (cp, ours) = race(
        runs,
        || {
            rm(&cp_dst);
            rm(&out);
        },
        || assert!(Command::new("cp").arg("-a").arg(ctr.join("data")).arg(&cp_dst).status().unwrap().success()),
        || {
            copy_root_to_host(&root, "/data", out.to_str().unwrap(), &opts).unwrap();
        },
    );
    let r2 = report(&format!("{name} ctr→host"), cp, ours);
    if std::env::var("CP_BENCH_ASSERT").is_ok() {
        assert!(r1 <= 1.25 && r2 <= 1.25, "{name}: {r1:.2}x / {r2:.2}x exceeds 1.25x of cp -a");
    }
}

#[test]
#[ignore]
fn cp_big_file_vs_cp_a() {
    compare("1 GiB file", gen_big);
}

#[test]
#[ignore]
fn cp_small_files_vs_cp_a() {
    compare("20,000 files", gen_small);
}
