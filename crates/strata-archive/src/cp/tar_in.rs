//! `tar | docker cp - CTR:DIR`: a tar stream extracted into an existing
//! directory, with Docker's `Untar` rules for `docker cp`: names are cleaned
//! lexically and can never climb out of the directory (`../../x` is `x`);
//! missing parents are created (0755); `noOverwriteDirNonDir`; the `.` entry
//! of an existing directory keeps that directory's metadata; no whiteout
//! conversion (a `.wh.x` file is just a file) and no decompression (the CLI's
//! job, before anything touches the container). Parents are resolved confined
//! to the directory, so a symlink already in the container cannot lead a
//! write outside of it, and hard link targets resolve the same way.

use std::ffi::{OsStr, OsString};
use std::io::{Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};
use std::rc::Rc;

use rustix::fs::OFlags;
use strata_sys::fs::NodeKind;
use tar::EntryType;

use super::CpStats;
use super::error::{CpError, CpResult};
use super::tree::TreeWriter;
use super::walk::{Kind, Meta};
use super::xattrs::{self, Xattrs};

/// Lexically clean a tar name into a path relative to the extraction dir
/// (empty = the dir itself). `..` cannot climb above it (Go's `Clean("/" + name)`).
pub(crate) fn clean_name(name: &[u8]) -> PathBuf {
    let mut parts: Vec<&[u8]> = Vec::new();
    for c in name.split(|b| *b == b'/') {
        match c {
            b"" | b"." => {}
            b".." => {
                parts.pop();
            }
            c => parts.push(c),
        }
    }
    PathBuf::from(OsString::from_vec(parts.join(&b'/')))
}

fn read_err(e: std::io::Error) -> CpError {
    // The tar crate reports malformed archives as ErrorKind::Other.
    if e.kind() == std::io::ErrorKind::Other {
        CpError::Read(std::io::Error::new(std::io::ErrorKind::InvalidData, e))
    } else {
        CpError::Read(e)
    }
}

fn unsupported(path: &[u8], reason: impl Into<String>) -> CpError {
    CpError::Unsupported { path: String::from_utf8_lossy(path).into_owned(), reason: reason.into() }
}

/// (sec, nsec) from a PAX time such as `1700000000.5`.
fn pax_time(v: &[u8]) -> Option<(i64, u32)> {
    let s = std::str::from_utf8(v).ok()?;
    let (neg, s) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s),
    };
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    let sec: i64 = int.parse().ok()?;
    let digits: String = frac.chars().take(9).collect();
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let nsec: u32 = if digits.is_empty() { 0 } else { format!("{digits:0<9}").parse().ok()? };
    Some(if neg { if nsec > 0 { (-sec - 1, 1_000_000_000 - nsec) } else { (-sec, 0) } } else { (sec, nsec) })
}

struct PendingDir {
    rel: PathBuf,
    depth: usize,
    meta: Meta,
    xattrs: Xattrs,
}

/// Extract `input` into `tw`'s extraction directory.
pub(crate) fn extract(input: impl Read, tw: &mut TreeWriter) -> CpResult<CpStats> {
    let mut stats = CpStats::default();
    let mut archive = tar::Archive::new(input);
    let mut dirs: Vec<PendingDir> = Vec::new();
    let mut cache: Option<(PathBuf, Rc<OwnedFd>)> = None;
    let mut buf = vec![0u8; 1 << 20];
    for entry in archive.entries().map_err(read_err)? {
        let mut e = entry.map_err(read_err)?;
        let et = e.header().entry_type();
        if et.is_pax_global_extensions() {
            continue;
        }
        let raw = e.path_bytes().into_owned();
        let mut x: Xattrs = Vec::new();
        let (mut pax_mtime, mut pax_atime) = (None, None);
        if let Some(exts) = e.pax_extensions().map_err(read_err)? {
            for ext in exts {
                let ext = ext.map_err(read_err)?;
                let key = ext.key_bytes();
                if key.starts_with(b"GNU.sparse.") {
                    return Err(unsupported(
                        &raw,
                        "PAX sparse file (GNU.sparse.* records) cannot be extracted faithfully",
                    ));
                } else if let Some(name) = key.strip_prefix(b"SCHILY.xattr.") {
                    if xattrs::travels(name) {
                        x.push((OsStr::from_bytes(name).to_os_string(), ext.value_bytes().to_vec()));
                    }
                } else if key == b"mtime" {
                    pax_mtime = pax_time(ext.value_bytes());
                } else if key == b"atime" {
                    pax_atime = pax_time(ext.value_bytes());
                }
            }
        }
        let h = e.header();
        let kind = match et {
            EntryType::Regular | EntryType::Continuous | EntryType::GNUSparse => {
                if h.as_bytes()[156] == 0 && raw.ends_with(b"/") { Kind::Dir } else { Kind::File }
            }
            EntryType::Directory => Kind::Dir,
            EntryType::Link => Kind::File, // resolved below through the link name
            EntryType::Symlink => Kind::Symlink,
            EntryType::Char => Kind::Node(NodeKind::Char),
            EntryType::Block => Kind::Node(NodeKind::Block),
            EntryType::Fifo => Kind::Node(NodeKind::Fifo),
            other => return Err(unsupported(&raw, format!("entry type {other:?}"))),
        };
        let num = |v: std::io::Result<u64>| v.unwrap_or(0);
        let mtime = pax_mtime.unwrap_or((num(h.mtime()) as i64, 0));
        let rdev = match kind {
            Kind::Node(NodeKind::Char | NodeKind::Block) => {
                (h.device_major().ok().flatten().unwrap_or(0), h.device_minor().ok().flatten().unwrap_or(0))
            }
            _ => (0, 0),
        };
        let meta = Meta {
            kind,
            mode: h.mode().unwrap_or(0o644) & 0o7777,
            uid: u32::try_from(num(h.uid())).map_err(|_| unsupported(&raw, "uid out of range"))?,
            gid: u32::try_from(num(h.gid())).map_err(|_| unsupported(&raw, "gid out of range"))?,
            size: e.size(),
            atime: pax_atime.unwrap_or(mtime),
            mtime,
            rdev,
            nlink: 1,
            dev: 0,
            ino: 0,
            blocks: e.size().div_ceil(512),
        };
        let link = e.link_name_bytes().map(|l| l.into_owned());

        let rel = clean_name(&raw);
        if rel.as_os_str().is_empty() {
            // The extraction directory itself: Docker keeps an existing
            // directory's metadata (`fi.IsDir() && hdr.Name == "."`).
            if kind != Kind::Dir {
                return Err(CpError::OverwriteDirWithNonDir {
                    path: tw.shown(Path::new(".")),
                    dest: tw.shown(Path::new(".")),
                });
            }
            continue;
        }
        let parent_rel = rel.parent().unwrap_or(Path::new("")).to_path_buf();
        let name = rel.file_name().expect("cleaned name has a final component").to_os_string();
        let parent: Rc<OwnedFd> = match &cache {
            Some((p, fd)) if *p == parent_rel => fd.clone(),
            _ => {
                let fd = if parent_rel.as_os_str().is_empty() {
                    tw.top().try_clone_to_owned().map_err(|e| CpError::io("dup", tw.shown(&rel), e))?
                } else {
                    tw.root()
                        .mkdir_all(&parent_rel, 0o755)
                        .map_err(|e| CpError::io("mkdir", tw.shown(&parent_rel), e.source))?
                };
                let fd = Rc::new(fd);
                cache = Some((parent_rel.clone(), fd.clone()));
                fd
            }
        };
        let pfd = parent.as_fd();
        match et {
            EntryType::Link => {
                let target = clean_name(link.as_deref().unwrap_or_default());
                tw.hardlink(pfd, &name, &rel, &target)?;
                stats.hardlinks += 1;
            }
            _ => match kind {
                Kind::Dir => {
                    tw.open_dir(pfd, &name, &rel)?;
                    dirs.push(PendingDir { depth: rel.components().count(), rel, meta, xattrs: x });
                    stats.dirs += 1;
                }
                Kind::File => {
                    let mut f = tw.create_file(pfd, &name, &rel, meta.mode)?;
                    let mut copied = 0u64;
                    loop {
                        let n = match e.read(&mut buf) {
                            Ok(0) => break,
                            Ok(n) => n,
                            Err(err) if err.kind() == std::io::ErrorKind::Interrupted => continue,
                            Err(err) => return Err(read_err(err)),
                        };
                        f.write_all(&buf[..n]).map_err(|err| CpError::io("write", tw.shown(&rel), err))?;
                        copied += n as u64;
                    }
                    if copied != meta.size {
                        return Err(CpError::Read(std::io::Error::new(
                            std::io::ErrorKind::UnexpectedEof,
                            format!("{}: data ends after {copied} of {} bytes", rel.display(), meta.size),
                        )));
                    }
                    tw.finish_file(&f, &meta, &x, &rel)?;
                    stats.files += 1;
                    stats.bytes += copied;
                }
                Kind::Symlink => {
                    let target = OsString::from_vec(link.unwrap_or_default());
                    tw.symlink(pfd, &name, &rel, &target, &meta, &x)?;
                    stats.symlinks += 1;
                }
                Kind::Node(_) => {
                    tw.special(pfd, &name, &rel, &meta, &x)?;
                    stats.specials += 1;
                }
                Kind::Socket => {}
            },
        }
    }
    // Directory metadata last, deepest first, so later entries neither fail on
    // read-only directories nor bump their mtimes.
    dirs.sort_by_key(|d| std::cmp::Reverse(d.depth));
    for d in dirs {
        let fd = match tw.root().open(&d.rel, OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW) {
            Ok(fd) => fd,
            Err(e) => return Err(CpError::io("open", tw.shown(&d.rel), e.source)),
        };
        tw.finish_fd(fd.as_fd(), &d.meta, &d.xattrs, &d.rel)?;
    }
    Ok(stats)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_cannot_climb() {
        for (i, o) in [
            ("a/b", "a/b"),
            ("./a/./b/", "a/b"),
            ("/abs/x", "abs/x"),
            ("../../x", "x"),
            ("a/../../b", "b"),
            ("./", ""),
            ("..", ""),
        ] {
            assert_eq!(clean_name(i.as_bytes()), PathBuf::from(o), "{i}");
        }
    }

    #[test]
    fn pax_times() {
        assert_eq!(pax_time(b"1700000000.5"), Some((1_700_000_000, 500_000_000)));
        assert_eq!(pax_time(b"-1.25"), Some((-2, 750_000_000)));
        assert_eq!(pax_time(b"x"), None);
    }
}
