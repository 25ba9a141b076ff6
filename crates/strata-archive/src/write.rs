//! Tars from directories: an overlay upper dir as an OCI layer, a change list
//! over a full tree, and a plain tree (export, volume export).
//!
//! Common rules, so the same tree always gives the same bytes:
//! - entries sorted by name, depth first; paths relative, no `./`; dirs end in `/`;
//! - USTAR headers (name split into prefix/name when it fits, as Go's
//!   archive/tar does), PAX records (sorted) for long or non-ASCII names and
//!   link targets, big numbers and xattrs (`SCHILY.xattr.<name>`);
//! - uid/gid/mode/mtime (whole seconds, as Docker) from the inode; uname/gname empty;
//! - hardlinks inside the tar become link entries (by dev/ino); symlinks are
//!   never followed; no GNU sparse entries; sockets are skipped (as Docker);
//! - xattrs: all but overlayfs' private ones (`trusted.overlay.*`,
//!   `user.overlay.*`) and `security.selinux` (host labels must not travel).

use std::collections::{HashMap, HashSet};
use std::fs::Metadata;
use std::io::{self, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use strata_sys::fs as sfs;

use crate::{ArchiveError, Change, ChangeKind, Result, WHITEOUT_OPAQUE, WHITEOUT_PREFIX};

/// Options for [`write_dir_tar`].
#[derive(Debug, Clone, Default)]
pub struct WriteOptions {
    /// Subtrees (relative to the tree; a leading `/` is ignored) written as empty
    /// directories, e.g. volume mount points. Non-directories there are left out.
    pub skip: Vec<PathBuf>,
}

type Xattrs = Vec<(std::ffi::OsString, Vec<u8>)>;

const OCTAL7: u64 = 0o7777777;
const OCTAL11: u64 = 0o77777777777;

struct TarOut<'a> {
    w: &'a mut dyn Write,
    written: u64,
    /// (dev, ino) of multiply-linked files already written → their tar name.
    links: HashMap<(u64, u64), Vec<u8>>,
    buf: Vec<u8>,
}

/// Fields of one header.
struct Hdr<'a> {
    name: &'a [u8],
    typeflag: u8,
    mode: u32,
    uid: u64,
    gid: u64,
    size: u64,
    mtime: i64,
    link: &'a [u8],
    dev: (u32, u32),
    pax: Vec<(String, Vec<u8>)>,
}

impl<'a> Hdr<'a> {
    fn new(name: &'a [u8], typeflag: u8) -> Self {
        Hdr { name, typeflag, mode: 0, uid: 0, gid: 0, size: 0, mtime: 0, link: b"", dev: (0, 0), pax: Vec::new() }
    }
}

/// Go's splitUSTARPath: (prefix, name) if `name` fits a USTAR header.
fn ustar_split(name: &[u8]) -> Option<(&[u8], &[u8])> {
    if !name.is_ascii() {
        return None;
    }
    if name.len() <= 100 {
        return Some((b"", name));
    }
    let mut len = name.len();
    if len > 156 {
        len = 156;
    } else if name[len - 1] == b'/' {
        len -= 1;
    }
    let i = name[..len].iter().rposition(|b| *b == b'/')?;
    let (plen, nlen) = (i, name.len() - i - 1);
    if i == 0 || nlen > 100 || nlen == 0 || plen > 155 {
        return None;
    }
    Some((&name[..i], &name[i + 1..]))
}

fn pax_record(out: &mut Vec<u8>, key: &str, value: &[u8]) {
    let rest = 3 + key.len() + value.len(); // ' ', '=', '\n'
    let mut len = rest + 1;
    while len != rest + len.to_string().len() {
        len = rest + len.to_string().len();
    }
    out.extend_from_slice(format!("{len} {key}=").as_bytes());
    out.extend_from_slice(value);
    out.push(b'\n');
}

fn copy_trunc(dst: &mut [u8], src: &[u8]) {
    let n = src.len().min(dst.len());
    dst[..n].copy_from_slice(&src[..n]);
}

impl<'a> TarOut<'a> {
    fn new(w: &'a mut dyn Write) -> Self {
        TarOut { w, written: 0, links: HashMap::new(), buf: vec![0; 1 << 20] }
    }

    fn put(&mut self, b: &[u8]) -> Result<()> {
        self.w.write_all(b).map_err(ArchiveError::Write)?;
        self.written += b.len() as u64;
        Ok(())
    }

    fn pad(&mut self, size: u64) -> Result<()> {
        let rem = (size % 512) as usize;
        if rem != 0 {
            self.put(&[0u8; 512][..512 - rem])?;
        }
        Ok(())
    }

    fn header(&mut self, mut h: Hdr<'_>) -> Result<()> {
        let mut th = tar::Header::new_ustar();
        {
            let u = th.as_ustar_mut().expect("ustar");
            match ustar_split(h.name) {
                Some((prefix, name)) => {
                    copy_trunc(&mut u.prefix, prefix);
                    copy_trunc(&mut u.name, name);
                }
                None => {
                    h.pax.push(("path".into(), h.name.to_vec()));
                    copy_trunc(&mut u.name, h.name);
                }
            }
            if h.link.len() > 100 || !h.link.is_ascii() {
                h.pax.push(("linkpath".into(), h.link.to_vec()));
            }
            copy_trunc(&mut u.linkname, h.link);
            u.typeflag[0] = h.typeflag;
        }
        th.set_mode(h.mode & 0o7777);
        for (key, v, set) in [("uid", h.uid, 0), ("gid", h.gid, 1)] {
            let v = if v > OCTAL7 {
                h.pax.push((key.into(), v.to_string().into_bytes()));
                0
            } else {
                v
            };
            if set == 0 { th.set_uid(v) } else { th.set_gid(v) }
        }
        if h.size > OCTAL11 {
            h.pax.push(("size".into(), h.size.to_string().into_bytes()));
            th.set_size(0);
        } else {
            th.set_size(h.size);
        }
        if h.mtime < 0 || h.mtime as u64 > OCTAL11 {
            h.pax.push(("mtime".into(), h.mtime.to_string().into_bytes()));
            th.set_mtime(0);
        } else {
            th.set_mtime(h.mtime as u64);
        }
        if matches!(h.typeflag, b'3' | b'4') {
            th.set_device_major(h.dev.0).map_err(ArchiveError::Write)?;
            th.set_device_minor(h.dev.1).map_err(ArchiveError::Write)?;
        }
        if !h.pax.is_empty() {
            h.pax.sort();
            let mut data = Vec::new();
            for (k, v) in &h.pax {
                pax_record(&mut data, k, v);
            }
            // Go names the record "<dir>/PaxHeaders.0/<base>".
            let trimmed = h.name.strip_suffix(b"/").unwrap_or(h.name);
            let (dir, base) = match trimmed.iter().rposition(|b| *b == b'/') {
                Some(i) => (&trimmed[..=i], &trimmed[i + 1..]),
                None => (&b""[..], trimmed),
            };
            let mut xname = dir.to_vec();
            xname.extend_from_slice(b"PaxHeaders.0/");
            xname.extend_from_slice(base);
            let mut xh = tar::Header::new_ustar();
            copy_trunc(&mut xh.as_ustar_mut().expect("ustar").name, &xname);
            xh.set_entry_type(tar::EntryType::XHeader);
            xh.set_mode(0);
            xh.set_uid(0);
            xh.set_gid(0);
            xh.set_mtime(0);
            xh.set_size(data.len() as u64);
            xh.set_cksum();
            self.put(xh.as_bytes())?;
            self.put(&data)?;
            self.pad(data.len() as u64)?;
        }
        th.set_cksum();
        self.put(th.as_bytes())
    }

    fn finish(&mut self) -> Result<u64> {
        self.put(&[0u8; 1024])?;
        self.w.flush().map_err(ArchiveError::Write)?;
        Ok(self.written)
    }

    /// Write the inode at `host` (already lstat'ed as `md`) under tar name `rel`.
    /// `xattrs`: the inode's xattrs (`None`: read them here).
    fn inode(&mut self, host: &Path, rel: &Path, md: &Metadata, xattrs: Option<Xattrs>) -> Result<()> {
        let ft = md.file_type();
        let mut name = rel.as_os_str().as_bytes().to_vec();
        let (typeflag, size) = if ft.is_dir() {
            name.push(b'/');
            (b'5', 0)
        } else if ft.is_file() {
            (b'0', md.len())
        } else if ft.is_symlink() {
            (b'2', 0)
        } else if ft.is_char_device() {
            (b'3', 0)
        } else if ft.is_block_device() {
            (b'4', 0)
        } else if ft.is_fifo() {
            (b'6', 0)
        } else {
            return Ok(()); // sockets: Go's tar cannot represent them; Docker skips them
        };
        let mut h = Hdr::new(&name, typeflag);
        h.mode = md.mode();
        h.uid = u64::from(md.uid());
        h.gid = u64::from(md.gid());
        h.mtime = md.mtime();
        h.size = size;
        h.dev = sfs::dev_major_minor(md.rdev());
        let xattrs = match xattrs {
            Some(x) => x,
            None => sfs::list_xattrs(host)?,
        };
        for (k, v) in xattrs {
            let k = k.as_bytes();
            if k.starts_with(b"trusted.overlay.") || k.starts_with(b"user.overlay.") || k == b"security.selinux" {
                continue;
            }
            h.pax.push((format!("SCHILY.xattr.{}", String::from_utf8_lossy(k)), v));
        }
        let target;
        if ft.is_symlink() {
            target = std::fs::read_link(host).map_err(|e| ArchiveError::io("readlink", host, e))?;
            h.link = target.as_os_str().as_bytes();
        }
        let linked;
        if ft.is_file() && md.nlink() > 1 {
            match self.links.get(&(md.dev(), md.ino())) {
                Some(first) => {
                    linked = first.clone();
                    h.typeflag = b'1';
                    h.link = &linked;
                    h.size = 0;
                    return self.header(h);
                }
                None => {
                    self.links.insert((md.dev(), md.ino()), name.clone());
                }
            }
        }
        self.header(h)?;
        if typeflag == b'0' && size > 0 {
            self.file_data(host, size)?;
        }
        Ok(())
    }

    fn file_data(&mut self, host: &Path, size: u64) -> Result<()> {
        let nofollow = rustix::fs::OFlags::NOFOLLOW.bits() as i32;
        let f = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(nofollow)
            .open(host)
            .map_err(|e| ArchiveError::io("open", host, e))?;
        let mut r = f.take(size);
        let mut left = size;
        let mut buf = std::mem::take(&mut self.buf);
        let res = (|| {
            while left > 0 {
                let n = match r.read(&mut buf) {
                    Ok(0) => {
                        return Err(ArchiveError::Changed {
                            path: host.to_path_buf(),
                            reason: "file shrank while being archived".into(),
                        });
                    }
                    Ok(n) => n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(ArchiveError::io("read", host, e)),
                };
                self.put(&buf[..n])?;
                left -= n as u64;
            }
            Ok(())
        })();
        self.buf = buf;
        res?;
        self.pad(size)
    }

    /// An empty regular file header (whiteouts).
    fn marker(&mut self, name: &[u8], mode: u32, uid: u32, gid: u32, mtime: i64) -> Result<()> {
        let mut h = Hdr::new(name, b'0');
        h.mode = mode;
        h.uid = u64::from(uid);
        h.gid = u64::from(gid);
        h.mtime = mtime;
        self.header(h)
    }
}

fn walk_err(root: &Path, e: walkdir::Error) -> ArchiveError {
    let path = e.path().map(Path::to_path_buf).unwrap_or_else(|| root.to_path_buf());
    let io = e.into_io_error().unwrap_or_else(|| io::Error::other("filesystem loop"));
    ArchiveError::io("walk", path, io)
}

fn sorted_walk(dir: &Path) -> walkdir::IntoIter {
    walkdir::WalkDir::new(dir).follow_links(false).min_depth(1).sort_by_file_name().into_iter()
}

fn whiteout_name(rel: &Path) -> Vec<u8> {
    let mut name = Vec::new();
    if let Some(parent) = rel.parent().filter(|p| !p.as_os_str().is_empty()) {
        name.extend_from_slice(parent.as_os_str().as_bytes());
        name.push(b'/');
    }
    name.extend_from_slice(WHITEOUT_PREFIX.as_bytes());
    name.extend_from_slice(rel.file_name().map(|n| n.as_bytes()).unwrap_or_default());
    name
}

/// An overlay upper dir as an OCI layer tar: whiteouts (char 0/0) become
/// `.wh.<name>` (empty regular file, mode 0), an opaque dir becomes the dir
/// entry followed by `<dir>/.wh..wh..opq`. Returns the bytes written.
///
/// Fails with `Unsupported` on `redirect`/`metacopy` xattrs: such an upper
/// dir cannot be turned into a tar without the lower layers (mount overlay
/// with `redirect_dir=off,metacopy=off`).
pub fn write_upper_tar(upper: &Path, userxattr: bool, out: &mut dyn Write) -> Result<u64> {
    let prefix = if userxattr { "user.overlay." } else { "trusted.overlay." };
    let mut t = TarOut::new(out);
    for ent in sorted_walk(upper) {
        let ent = ent.map_err(|e| walk_err(upper, e))?;
        let rel = ent.path().strip_prefix(upper).expect("below upper");
        let md = ent.metadata().map_err(|e| walk_err(upper, e))?;
        if sfs::is_whiteout(&md) {
            t.marker(&whiteout_name(rel), 0, md.uid(), md.gid(), md.mtime())?;
            continue;
        }
        let xattrs = sfs::list_xattrs(ent.path())?;
        let has = |key: &str| xattrs.iter().find(|(k, _)| k.as_bytes() == format!("{prefix}{key}").as_bytes());
        for key in ["redirect", "metacopy"] {
            if has(key).is_some() {
                return Err(ArchiveError::Unsupported {
                    path: rel.display().to_string(),
                    reason: format!("overlay {key} xattr: the upper dir alone does not hold this change"),
                });
            }
        }
        let opaque = md.is_dir() && has("opaque").is_some_and(|(_, v)| v == b"y");
        t.inode(ent.path(), rel, &md, Some(xattrs))?;
        if opaque {
            let name = rel.join(WHITEOUT_OPAQUE);
            t.marker(name.as_os_str().as_bytes(), md.mode() & 0o777, md.uid(), md.gid(), md.mtime())?;
        }
    }
    t.finish()
}

/// A layer tar from a change list over a full tree (vfs, btrfs): `D` becomes a
/// `.wh.` entry, `A`/`C` the inode from `tree`. Parent directories missing
/// from the list are added, as Docker's change lists always contain them.
pub fn write_changes_tar(tree: &Path, changes: &[Change], out: &mut dyn Write) -> Result<u64> {
    let mut changes: Vec<&Change> = changes.iter().collect();
    changes.sort_by(|a, b| a.path.cmp(&b.path));
    let mut t = TarOut::new(out);
    let mut emitted: HashSet<PathBuf> = HashSet::new();
    for c in changes {
        let rel = PathBuf::from(c.path.trim_start_matches('/'));
        if rel.as_os_str().is_empty() {
            continue;
        }
        // Ancestors first.
        let ancestors: Vec<PathBuf> =
            rel.ancestors().skip(1).filter(|a| !a.as_os_str().is_empty()).map(Path::to_path_buf).collect();
        for a in ancestors.into_iter().rev() {
            if emitted.insert(a.clone()) {
                let host = tree.join(&a);
                let md = std::fs::symlink_metadata(&host).map_err(|e| ArchiveError::io("lstat", &host, e))?;
                t.inode(&host, &a, &md, None)?;
            }
        }
        if !emitted.insert(rel.clone()) {
            continue;
        }
        match c.kind {
            ChangeKind::Deleted => t.marker(&whiteout_name(&rel), 0, 0, 0, 0)?,
            ChangeKind::Added | ChangeKind::Modified => {
                let host = tree.join(&rel);
                let md = std::fs::symlink_metadata(&host).map_err(|e| ArchiveError::io("lstat", &host, e))?;
                t.inode(&host, &rel, &md, None)?;
            }
        }
    }
    t.finish()
}

/// A plain tree as a tar (export, volume export). Returns the bytes written.
pub fn write_dir_tar(dir: &Path, out: &mut dyn Write, opts: &WriteOptions) -> Result<u64> {
    let skip: HashSet<PathBuf> =
        opts.skip.iter().map(|p| PathBuf::from(p.to_string_lossy().trim_start_matches('/'))).collect();
    let mut t = TarOut::new(out);
    let mut walk = sorted_walk(dir);
    while let Some(ent) = walk.next() {
        let ent = ent.map_err(|e| walk_err(dir, e))?;
        let rel = ent.path().strip_prefix(dir).expect("below dir").to_path_buf();
        let md = ent.metadata().map_err(|e| walk_err(dir, e))?;
        if skip.contains(&rel) {
            if md.is_dir() {
                walk.skip_current_dir();
                t.inode(ent.path(), &rel, &md, None)?;
            }
            continue;
        }
        t.inode(ent.path(), &rel, &md, None)?;
    }
    t.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ustar_split_like_go() {
        assert_eq!(ustar_split(b"short"), Some((&b""[..], &b"short"[..])));
        let long = format!("{}/{}", "d".repeat(120), "f".repeat(50));
        let (p, n) = ustar_split(long.as_bytes()).unwrap();
        assert_eq!((p.len(), n.len()), (120, 50));
        assert_eq!(ustar_split("x".repeat(101).as_bytes()), None);
        assert_eq!(ustar_split("é".as_bytes()), None);
    }

    #[test]
    fn pax_record_lengths() {
        for (k, v) in [("path", "a".repeat(5)), ("path", "a".repeat(90)), ("path", "a".repeat(994))] {
            let mut out = Vec::new();
            pax_record(&mut out, k, v.as_bytes());
            let s = String::from_utf8(out.clone()).unwrap();
            let n: usize = s.split(' ').next().unwrap().parse().unwrap();
            assert_eq!(n, out.len(), "{s}");
        }
    }
}
