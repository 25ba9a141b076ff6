//! Helpers shared by the `docker cp` engine tests: a host side and a
//! container root on one tempdir, tree builders and canonical tree dumps.
#![allow(dead_code)]

use std::fmt::Write as _;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use strata_sys::root::Root;

pub fn is_root() -> bool {
    std::fs::metadata("/proc/self").map(|m| m.uid() == 0).unwrap_or(false)
}

/// Tests that need root: fail under CI=true when not root, otherwise skip.
pub fn require_root(test: &str) -> bool {
    if !is_root() {
        assert!(std::env::var("CI").as_deref() != Ok("true"), "{test}: needs root (CI=true)");
        eprintln!("{test}: skipped, needs root");
    }
    is_root()
}

/// `<tmp>/host` (the user's side) and `<tmp>/ctr` (a container's root).
pub struct Env {
    pub t: tempfile::TempDir,
    pub host: PathBuf,
    pub ctr: PathBuf,
}

impl Env {
    pub fn new() -> Env {
        let t = tempfile::tempdir().unwrap();
        let host = t.path().join("host");
        let ctr = t.path().join("ctr");
        std::fs::create_dir(&host).unwrap();
        std::fs::create_dir(&ctr).unwrap();
        Env { t, host, ctr }
    }

    pub fn root(&self) -> Root {
        Root::new(&self.ctr).unwrap()
    }

    /// A host path as a string argument.
    pub fn h(&self, rel: &str) -> String {
        format!("{}/{}", self.host.display(), rel)
    }

    pub fn c(&self, rel: &str) -> PathBuf {
        self.ctr.join(rel.trim_start_matches('/'))
    }
}

pub fn write(p: &Path, data: &str) {
    if let Some(d) = p.parent() {
        std::fs::create_dir_all(d).unwrap();
    }
    std::fs::write(p, data).unwrap();
}

pub fn write_mode(p: &Path, data: &str, mode: u32) {
    write(p, data);
    chmod(p, mode);
}

pub fn mkdir(p: &Path, mode: u32) {
    std::fs::create_dir_all(p).unwrap();
    chmod(p, mode);
}

pub fn chmod(p: &Path, mode: u32) {
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
}

pub fn chown(p: &Path, uid: u32, gid: u32) {
    std::os::unix::fs::lchown(p, Some(uid), Some(gid)).unwrap();
}

pub fn symlink(target: &str, p: &Path) {
    std::os::unix::fs::symlink(target, p).unwrap();
}

pub fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap()
}

/// One line per inode below `dir` (sorted, not following links):
/// `path type mode uid:gid [size=N data] [-> target] [dev=M,m] [xattrs]`.
pub fn dump(dir: &Path) -> String {
    dump_opts(dir, false)
}

/// [`dump`] plus mtimes with nanoseconds (not for symlinks' parents' noise).
pub fn dump_times(dir: &Path) -> String {
    dump_opts(dir, true)
}

fn dump_opts(dir: &Path, times: bool) -> String {
    let mut out = String::new();
    let mut stack = vec![PathBuf::new()];
    let mut all = Vec::new();
    while let Some(rel) = stack.pop() {
        let p = dir.join(&rel);
        let mut names: Vec<_> = std::fs::read_dir(&p).unwrap().map(|e| e.unwrap().file_name()).collect();
        names.sort();
        for n in names.into_iter().rev() {
            let r = rel.join(&n);
            if std::fs::symlink_metadata(dir.join(&r)).unwrap().is_dir() {
                stack.push(r.clone());
            }
            all.push(r);
        }
    }
    all.sort();
    for rel in all {
        let p = dir.join(&rel);
        let md = std::fs::symlink_metadata(&p).unwrap();
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
            "sock"
        };
        write!(out, "{} {kind}", rel.display()).unwrap();
        if !ft.is_symlink() {
            write!(out, " {:o}", md.mode() & 0o7777).unwrap();
        }
        write!(out, " {}:{}", md.uid(), md.gid()).unwrap();
        if ft.is_file() {
            let data = std::fs::read(&p).unwrap();
            let shown = if data.len() <= 24 {
                String::from_utf8_lossy(&data).into_owned()
            } else {
                format!("<{} bytes>", data.len())
            };
            write!(out, " {shown:?}").unwrap();
            if md.nlink() > 1 {
                write!(out, " nlink={}", md.nlink()).unwrap();
            }
        }
        if ft.is_symlink() {
            write!(out, " -> {}", std::fs::read_link(&p).unwrap().display()).unwrap();
        }
        if ft.is_char_device() || ft.is_block_device() {
            let (a, b) = strata_sys::fs::dev_major_minor(md.rdev());
            write!(out, " dev={a},{b}").unwrap();
        }
        if times {
            write!(out, " mtime={}.{:09}", md.mtime(), md.mtime_nsec()).unwrap();
        }
        for (k, v) in strata_sys::fs::list_xattrs(&p).unwrap() {
            write!(out, " {}={}", String::from_utf8_lossy(k.as_bytes()), String::from_utf8_lossy(&v)).unwrap();
        }
        out.push('\n');
    }
    out
}

/// Entries of a tar: `name type mode uid:gid uname/gname [size] [-> link]`.
pub fn tar_listing(data: &[u8]) -> Vec<String> {
    let mut a = tar::Archive::new(data);
    let mut out = Vec::new();
    for e in a.entries().unwrap() {
        let e = e.unwrap();
        let h = e.header();
        let name = String::from_utf8_lossy(&e.path_bytes()).into_owned();
        let t = match h.entry_type() {
            tar::EntryType::Directory => "dir",
            tar::EntryType::Regular => "file",
            tar::EntryType::Symlink => "link",
            tar::EntryType::Link => "hardlink",
            tar::EntryType::Char => "char",
            tar::EntryType::Fifo => "fifo",
            _ => "other",
        };
        let mut line = format!(
            "{name} {t} {:o} {}:{} {}/{}",
            h.mode().unwrap(),
            h.uid().unwrap(),
            h.gid().unwrap(),
            h.username().ok().flatten().unwrap_or(""),
            h.groupname().ok().flatten().unwrap_or("")
        );
        if t == "file" {
            line.push_str(&format!(" size={}", h.size().unwrap()));
        }
        if let Some(l) = e.link_name_bytes() {
            line.push_str(&format!(" -> {}", String::from_utf8_lossy(&l)));
        }
        out.push(line);
    }
    out
}

pub fn set_mtime(p: &Path, sec: i64, nsec: u32) {
    strata_sys::fs::set_times(p, (sec, nsec), (sec, nsec)).unwrap();
}
