//! Shared helpers for the strata-archive integration tests: a raw tar builder
//! (hostile names the `tar` crate refuses to write), tree dumps, privilege tiers.
#![allow(dead_code)]

use std::fmt::Write as _;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

use strata_archive::WhiteoutMode;
use strata_archive::apply::{ApplyOptions, ApplyStats, apply_layer};

/// Tests that need root: fail under CI=true when not root, otherwise skip.
pub fn require_root(test: &str) -> bool {
    let root = std::fs::metadata("/proc/self").map(|m| m.uid() == 0).unwrap_or(false);
    if !root {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("{test}: needs root (CI=true)");
        }
        eprintln!("{test}: skipped, needs root");
    }
    root
}

pub fn is_root() -> bool {
    std::fs::metadata("/proc/self").map(|m| m.uid() == 0).unwrap_or(false)
}

/// A tar written header by header, without any path sanitising.
#[derive(Default)]
pub struct RawTar {
    pub buf: Vec<u8>,
}

pub struct E<'a> {
    pub name: &'a [u8],
    pub typeflag: u8,
    pub mode: u32,
    pub uid: u64,
    pub gid: u64,
    pub mtime: u64,
    pub link: &'a [u8],
    pub data: &'a [u8],
    pub dev: (u32, u32),
}

impl<'a> E<'a> {
    pub fn new(name: &'a str, typeflag: u8) -> Self {
        E {
            name: name.as_bytes(),
            typeflag,
            mode: 0o644,
            uid: 0,
            gid: 0,
            mtime: 1_600_000_000,
            link: b"",
            data: b"",
            dev: (0, 0),
        }
    }
}

fn pad(buf: &mut Vec<u8>) {
    let rem = buf.len() % 512;
    if rem != 0 {
        buf.resize(buf.len() + 512 - rem, 0);
    }
}

impl RawTar {
    pub fn new() -> Self {
        RawTar::default()
    }

    /// A PAX extended header applying to the next entry.
    pub fn pax(&mut self, records: &[(&str, &[u8])]) -> &mut Self {
        let mut data = Vec::new();
        for (k, v) in records {
            let rest = 3 + k.len() + v.len();
            let mut len = rest + 1;
            while len != rest + len.to_string().len() {
                len = rest + len.to_string().len();
            }
            data.extend_from_slice(format!("{len} {k}=").as_bytes());
            data.extend_from_slice(v);
            data.push(b'\n');
        }
        let mut e = E::new("PaxHeaders/x", b'x');
        e.data = &data;
        self.raw(&e)
    }

    pub fn raw(&mut self, e: &E<'_>) -> &mut Self {
        let mut h = tar::Header::new_ustar();
        {
            let u = h.as_ustar_mut().unwrap();
            let n = e.name.len().min(100);
            u.name[..n].copy_from_slice(&e.name[..n]);
            let l = e.link.len().min(100);
            u.linkname[..l].copy_from_slice(&e.link[..l]);
            u.typeflag[0] = e.typeflag;
        }
        h.set_mode(e.mode);
        h.set_uid(e.uid);
        h.set_gid(e.gid);
        h.set_mtime(e.mtime);
        h.set_size(e.data.len() as u64);
        if matches!(e.typeflag, b'3' | b'4') {
            h.set_device_major(e.dev.0).unwrap();
            h.set_device_minor(e.dev.1).unwrap();
        }
        h.set_cksum();
        self.buf.extend_from_slice(h.as_bytes());
        self.buf.extend_from_slice(e.data);
        pad(&mut self.buf);
        self
    }

    pub fn file(&mut self, name: &str, data: &[u8]) -> &mut Self {
        let mut e = E::new(name, b'0');
        e.data = data;
        self.raw(&e)
    }

    pub fn dir(&mut self, name: &str, mode: u32) -> &mut Self {
        let mut e = E::new(name, b'5');
        e.mode = mode;
        self.raw(&e)
    }

    pub fn symlink(&mut self, name: &str, target: &str) -> &mut Self {
        let mut e = E::new(name, b'2');
        e.link = target.as_bytes();
        e.mode = 0o777;
        self.raw(&e)
    }

    pub fn hardlink(&mut self, name: &str, target: &str) -> &mut Self {
        let mut e = E::new(name, b'1');
        e.link = target.as_bytes();
        self.raw(&e)
    }

    pub fn finish(&mut self) -> Vec<u8> {
        let mut out = std::mem::take(&mut self.buf);
        out.extend_from_slice(&[0u8; 1024]);
        out
    }
}

pub fn opts(whiteouts: WhiteoutMode, tar_split: bool) -> ApplyOptions {
    ApplyOptions { whiteouts, same_owner: is_root(), tar_split }
}

pub fn apply(tar: &[u8], dest: &Path, whiteouts: WhiteoutMode) -> strata_archive::Result<ApplyStats> {
    apply_layer(tar, dest, &opts(whiteouts, true))
}

/// One line per inode: path type mode uid:gid size [-> target] [xattrs] [sha of data].
/// Directories' mtimes are included when `with_mtime`.
pub fn dump(root: &Path, with_mtime: bool) -> String {
    let mut out = String::new();
    for ent in walkdir::WalkDir::new(root).follow_links(false).sort_by_file_name().min_depth(1) {
        let ent = ent.unwrap();
        let md = ent.metadata().unwrap();
        let rel = ent.path().strip_prefix(root).unwrap();
        let ft = md.file_type();
        let kind = if ft.is_dir() {
            "dir"
        } else if ft.is_file() {
            "file"
        } else if ft.is_symlink() {
            "link"
        } else if ft.is_char_device() {
            "char"
        } else if ft.is_block_device() {
            "block"
        } else if ft.is_fifo() {
            "fifo"
        } else {
            "other"
        };
        write!(out, "{} {kind} {:o} {}:{}", rel.display(), md.mode() & 0o7777, md.uid(), md.gid()).unwrap();
        if ft.is_file() {
            let data = std::fs::read(ent.path()).unwrap();
            write!(out, " size={} sha={}", md.len(), &strata_archive::digest::sha256_hex(&data)[..12]).unwrap();
        }
        if ft.is_symlink() {
            write!(out, " -> {}", std::fs::read_link(ent.path()).unwrap().display()).unwrap();
        }
        if ft.is_char_device() || ft.is_block_device() {
            let (a, b) = strata_sys::fs::dev_major_minor(md.rdev());
            write!(out, " dev={a},{b}").unwrap();
        }
        if with_mtime && !ft.is_symlink() {
            write!(out, " mtime={}", md.mtime()).unwrap();
        }
        for (k, v) in strata_sys::fs::list_xattrs(ent.path()).unwrap() {
            write!(out, " {}={}", String::from_utf8_lossy(k.as_bytes()), String::from_utf8_lossy(&v)).unwrap();
        }
        out.push('\n');
    }
    out
}

pub fn sh(cmd: &str) {
    let st = std::process::Command::new("sh").arg("-c").arg(cmd).status().unwrap();
    assert!(st.success(), "{cmd}");
}
