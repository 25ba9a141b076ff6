//! Extract a layer tar into a directory: confined, whiteout-aware, hashed in
//! the same pass, optionally recording a tar-split.
//!
//! ```text
//! reader ─▶ Source (1 MiB buffer, sha256 on a helper thread, byte count,
//!           tar-split recorder with an on/off switch) ─▶ tar::Archive ─▶ Applier
//! ```
//!
//! Hazards handled here (see tests/hostile.rs):
//! - Every entry is resolved beneath `dest` with `openat2(RESOLVE_IN_ROOT)`; the
//!   final component is created with `*at` calls that never follow it. Names are
//!   cleaned lexically first (`/a/../b` → `b`, `../../x` → `x`), as Docker does.
//! - Hardlink targets are resolved the same way, so `/etc/passwd` means the
//!   layer's own `etc/passwd`.
//! - PAX xattrs `trusted.overlay.*` / `user.overlay.*` are dropped: a layer must
//!   not forge overlayfs metadata (redirects, opaque markers) by xattr.
//! - Directory modes and times are applied at the end, deepest first, so later
//!   entries neither fail on read-only dirs nor bump the recorded mtimes.
//! - The stream is read to EOF after the end-of-archive blocks, so the DiffID
//!   covers all bytes.

use std::cell::RefCell;
use std::collections::HashSet;
use std::ffi::{OsStr, OsString};
use std::fs::{File, FileTimes, Permissions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rustix::fs::OFlags;
use rustix::io::Errno;
use strata_sys::SysError;
use strata_sys::fs::{self as sfs, NodeKind};
use strata_sys::root::{Root, fd_path};
use tar::EntryType;

use crate::tarsplit::{Recorder, Source, SplitWriter};
use crate::{ArchiveError, Result, WHITEOUT_OPAQUE, WHITEOUT_PREFIX, WhiteoutMode};

/// How to apply a layer.
#[derive(Debug, Clone)]
pub struct ApplyOptions {
    pub whiteouts: WhiteoutMode,
    /// chown entries to the tar's uid/gid (true when running as root).
    pub same_owner: bool,
    /// Record a tar-split so the exact tar can be reassembled later.
    pub tar_split: bool,
}

/// What [`apply_layer`] read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApplyStats {
    /// sha256 of the uncompressed tar stream: every byte read, including the
    /// end-of-archive blocks and anything after them.
    pub diff_id_hex: String,
    pub tar_size: u64,
    pub entries: u64,
    /// The encoded tar-split ([`crate::tarsplit`]) when requested.
    pub tar_split: Option<Vec<u8>>,
}

const BUF: usize = 1 << 20;
const XATTR_OPAQUE: &str = "trusted.overlay.opaque";
const XATTR_OPAQUE_USER: &str = "user.overlay.opaque";

/// Extract the uncompressed layer tar `reader` into `dest` (an existing directory).
///
/// On error `dest` may be partly written; the caller discards it.
pub fn apply_layer(reader: impl Read, dest: &Path, opts: &ApplyOptions) -> Result<ApplyStats> {
    let root = Root::new(dest)?;
    let rec = if opts.tar_split {
        Some(Rc::new(RefCell::new(Recorder { on: true, split: SplitWriter::new().map_err(ArchiveError::Write)? })))
    } else {
        None
    };
    let source = Source::new(reader, rec.clone());
    let mut archive = tar::Archive::new(source);
    let mut ap = Applier {
        root,
        opts,
        cache: None,
        dirs: Vec::new(),
        written: HashSet::new(),
        rec: rec.clone(),
        buf: vec![0; BUF],
    };
    let mut entries = 0u64;
    for entry in archive.entries().map_err(read_err)? {
        let mut entry = entry.map_err(read_err)?;
        entries += 1;
        ap.entry(&mut entry)?;
    }
    ap.finish_dirs()?;
    let mut source = archive.into_inner();
    // Trailing zero blocks and whatever follows them belong to the blob too.
    io::copy(&mut source, &mut io::sink()).map_err(ArchiveError::Read)?;
    let tar_size = source.bytes;
    let diff_id_hex = source.hasher.finish();
    drop(source.rec);
    drop(ap);
    let tar_split = match rec {
        Some(rec) => {
            let rec = Rc::try_unwrap(rec).ok().expect("recorder still shared").into_inner();
            Some(rec.split.finish().map_err(ArchiveError::Write)?)
        }
        None => None,
    };
    Ok(ApplyStats { diff_id_hex, tar_size, entries, tar_split })
}

/// Flush everything written under `dir` to stable storage: one `syncfs` for
/// the filesystem instead of an fsync per file.
pub fn sync_tree(dir: &Path) -> Result<()> {
    Ok(sfs::syncfs(dir)?)
}

fn read_err(e: io::Error) -> ArchiveError {
    // The tar crate reports malformed archives as ErrorKind::Other.
    if e.kind() == io::ErrorKind::Other {
        ArchiveError::Read(io::Error::new(io::ErrorKind::InvalidData, e))
    } else {
        ArchiveError::Read(e)
    }
}

fn is_errno(e: &SysError, errno: Errno) -> bool {
    e.raw_os_error() == Some(errno.raw_os_error())
}

// ---------------------------------------------------------------------------
// Entries.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    File,
    Sparse,
    Dir,
    Hardlink,
    Symlink,
    Node(NodeKind),
}

#[derive(Debug, Clone)]
struct Meta {
    mode: u32,
    uid: u32,
    gid: u32,
    atime: (i64, u32),
    mtime: (i64, u32),
}

struct DirMeta {
    rel: PathBuf,
    depth: usize,
    meta: Meta,
}

struct Applier<'o> {
    root: Root,
    opts: &'o ApplyOptions,
    /// Last resolved parent directory (lexical path → O_PATH fd).
    cache: Option<(PathBuf, Rc<OwnedFd>)>,
    dirs: Vec<DirMeta>,
    /// Paths created by this layer (and their ancestors): kept by an opaque
    /// whiteout in `WhiteoutMode::Remove`.
    written: HashSet<PathBuf>,
    rec: Option<Rc<RefCell<Recorder>>>,
    buf: Vec<u8>,
}

/// Lexically clean a tar name into a path relative to the root (empty = root).
/// `..` cannot climb above the root, as in Go's `filepath.Clean("/" + name)`.
fn clean(name: &[u8]) -> PathBuf {
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
    let mut out = Vec::with_capacity(name.len());
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            out.push(b'/');
        }
        out.extend_from_slice(p);
    }
    PathBuf::from(OsString::from_vec(out))
}

use std::os::unix::ffi::OsStringExt;

/// (sec, nsec) from a PAX time value like `1700000000.123456789` or `-1.5`.
fn parse_pax_time(v: &[u8]) -> Option<(i64, u32)> {
    let s = std::str::from_utf8(v).ok()?;
    let (neg, s) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    let sec: i64 = int.parse().ok()?;
    let mut nsec: u32 = 0;
    if !frac.is_empty() {
        let digits: String = frac.chars().take(9).collect();
        if !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        nsec = format!("{digits:0<9}").parse().ok()?;
    }
    if neg {
        if nsec > 0 { Some((-sec - 1, 1_000_000_000 - nsec)) } else { Some((-sec, 0)) }
    } else {
        Some((sec, nsec))
    }
}

fn system_time((sec, nsec): (i64, u32)) -> SystemTime {
    if sec >= 0 {
        UNIX_EPOCH + Duration::new(sec as u64, nsec)
    } else {
        UNIX_EPOCH - Duration::from_secs(sec.unsigned_abs()) + Duration::from_nanos(u64::from(nsec))
    }
}

fn invalid(path: &[u8], reason: impl Into<String>) -> ArchiveError {
    ArchiveError::Invalid { path: String::from_utf8_lossy(path).into_owned(), reason: reason.into() }
}

fn unsupported(path: &[u8], reason: impl Into<String>) -> ArchiveError {
    ArchiveError::Unsupported { path: String::from_utf8_lossy(path).into_owned(), reason: reason.into() }
}

fn split_rel(rel: &Path) -> (&Path, &OsStr) {
    let parent = rel.parent().unwrap_or(Path::new(""));
    let parent = if parent.as_os_str().is_empty() { Path::new(".") } else { parent };
    (parent, rel.file_name().unwrap_or(OsStr::new(".")))
}

impl Applier<'_> {
    fn set_recording(&self, on: bool) {
        if let Some(rec) = &self.rec {
            rec.borrow_mut().on = on;
        }
    }

    fn entry<R: Read>(&mut self, e: &mut tar::Entry<'_, R>) -> Result<()> {
        let et = e.header().entry_type();
        if et.is_pax_global_extensions() {
            return Ok(());
        }
        let raw_path = e.path_bytes().into_owned();

        let mut xattrs: Vec<(OsString, Vec<u8>)> = Vec::new();
        let mut pax_mtime = None;
        let mut pax_atime = None;
        if let Some(exts) = e.pax_extensions().map_err(read_err)? {
            for ext in exts {
                let ext = ext.map_err(read_err)?;
                let key = ext.key_bytes();
                if key.starts_with(b"GNU.sparse.") {
                    return Err(unsupported(
                        &raw_path,
                        "PAX sparse file (GNU.sparse.* records) cannot be extracted faithfully",
                    ));
                } else if let Some(name) = key.strip_prefix(b"SCHILY.xattr.") {
                    xattrs.push((OsStr::from_bytes(name).to_os_string(), ext.value_bytes().to_vec()));
                } else if key == b"mtime" {
                    pax_mtime = parse_pax_time(ext.value_bytes());
                } else if key == b"atime" {
                    pax_atime = parse_pax_time(ext.value_bytes());
                }
            }
        }

        let h = e.header();
        let typeflag = h.as_bytes()[156];
        let kind = match et {
            EntryType::Regular | EntryType::Continuous => {
                if typeflag == 0 && raw_path.ends_with(b"/") {
                    Kind::Dir
                } else {
                    Kind::File
                }
            }
            EntryType::GNUSparse => Kind::Sparse,
            EntryType::Directory => Kind::Dir,
            EntryType::Link => Kind::Hardlink,
            EntryType::Symlink => Kind::Symlink,
            EntryType::Char => Kind::Node(NodeKind::Char),
            EntryType::Block => Kind::Node(NodeKind::Block),
            EntryType::Fifo => Kind::Node(NodeKind::Fifo),
            _ => {
                return Err(unsupported(&raw_path, format!("entry type {:?} ({:?})", et, typeflag as char)));
            }
        };
        let hdr_err = |e: io::Error| invalid(&raw_path, format!("bad header field: {e}"));
        // Like Go's archive/tar, a blank (NUL/space) numeric field reads as 0.
        let num = |v: io::Result<u64>, range: std::ops::Range<usize>| match v {
            Ok(v) => Ok(v),
            Err(_) if h.as_bytes()[range.clone()].iter().all(|b| *b == 0 || *b == b' ') => Ok(0),
            Err(e) => Err(hdr_err(e)),
        };
        let mode = num(h.mode().map(u64::from), 100..108)? as u32 & 0o7777;
        let uid = u32::try_from(num(h.uid(), 108..116)?).map_err(|_| invalid(&raw_path, "uid out of range"))?;
        let gid = u32::try_from(num(h.gid(), 116..124)?).map_err(|_| invalid(&raw_path, "gid out of range"))?;
        let mtime = match pax_mtime {
            Some(t) => t,
            None => (num(h.mtime(), 136..148)? as i64, 0),
        };
        let atime = pax_atime.unwrap_or(mtime);
        let (major, minor) = match kind {
            Kind::Node(NodeKind::Char | NodeKind::Block) => {
                (h.device_major().map_err(hdr_err)?.unwrap_or(0), h.device_minor().map_err(hdr_err)?.unwrap_or(0))
            }
            _ => (0, 0),
        };
        let link = e.link_name_bytes().map(|l| l.into_owned());
        let meta = Meta { mode, uid, gid, atime, mtime };

        let rel = clean(&raw_path);
        if rel.components().any(|c| c.as_os_str().as_bytes().starts_with(b"GNUSparseFile.")) {
            return Err(unsupported(
                &raw_path,
                "PAX sparse placeholder (GNUSparseFile.*) cannot be extracted faithfully",
            ));
        }
        if rel.as_os_str().is_empty() {
            // The root itself ("./"): only a directory makes sense.
            if kind != Kind::Dir {
                return Err(invalid(&raw_path, "non-directory entry for the archive root"));
            }
            self.set_xattrs_path(self.root.path(), &xattrs, false)?;
            self.dirs.push(DirMeta { rel, depth: 0, meta });
            return Ok(());
        }

        // Top-level AUFS metadata (.wh..wh.plnk, .wh..wh.aufs, ...) is not content.
        let first = rel.components().next().map(|c| c.as_os_str().as_bytes().to_vec()).unwrap_or_default();
        if first.starts_with(b".wh..wh.") && rel.as_os_str() != WHITEOUT_OPAQUE {
            return Ok(());
        }

        let base = rel.file_name().expect("non-empty cleaned path").as_bytes();
        if base == WHITEOUT_OPAQUE.as_bytes() {
            let dir = rel.parent().unwrap_or(Path::new("")).to_path_buf();
            return self.opaque(&dir);
        }
        if base.starts_with(b".wh..wh.") {
            return Ok(()); // other AUFS metadata inside the tree
        }
        if let Some(target) = base.strip_prefix(WHITEOUT_PREFIX.as_bytes()) {
            if target.is_empty() || target == b"." || target == b".." {
                return Err(invalid(&raw_path, "whiteout without a name"));
            }
            let (parent, _) = split_rel(&rel);
            let parent = parent.to_path_buf();
            return self.whiteout(&parent, OsStr::from_bytes(target), &meta);
        }

        if self.opts.whiteouts == WhiteoutMode::Remove {
            self.mark_written(&rel);
        }
        let (parent, name) = split_rel(&rel);
        let (parent, name) = (parent.to_path_buf(), name.to_os_string());
        let dir = self.parent_dir(&parent)?;
        match kind {
            Kind::File | Kind::Sparse => self.file(e, &dir, &name, &rel, &meta, &xattrs, kind == Kind::Sparse),
            Kind::Dir => self.dir(&dir, &name, &rel, meta, &xattrs),
            Kind::Symlink => {
                let target = link.ok_or_else(|| invalid(&raw_path, "symlink without target"))?;
                if target.is_empty() {
                    return Err(invalid(&raw_path, "symlink with empty target"));
                }
                let target = OsStr::from_bytes(&target);
                self.create(&dir, &name, |d, n| sfs::symlink_at(target, d, n))?;
                self.finish_inode(&dir, &name, &meta, &xattrs, true, false)
            }
            Kind::Hardlink => {
                let target = link.ok_or_else(|| invalid(&raw_path, "hardlink without target"))?;
                let trel = clean(&target);
                if trel.as_os_str().is_empty() {
                    return Err(invalid(&raw_path, "hardlink to the archive root"));
                }
                if trel == rel {
                    return Ok(()); // a link to itself: nothing to do
                }
                let (tparent, tname) = split_rel(&trel);
                let tdir = self.root.open(tparent, OFlags::PATH | OFlags::DIRECTORY).map_err(|e| {
                    invalid(&raw_path, format!("hardlink target {:?}: {}", String::from_utf8_lossy(&target), e.source))
                })?;
                let tname = tname.to_os_string();
                self.create(&dir, &name, |d, n| sfs::hardlink_at(&tdir, &tname, d, n)).map_err(|err| match err {
                    ArchiveError::Sys(e) if is_errno(&e, Errno::NOENT) => invalid(
                        &raw_path,
                        format!("hardlink target {:?} not found in layer", String::from_utf8_lossy(&target)),
                    ),
                    other => other,
                })
            }
            Kind::Node(nk) => {
                let m = meta.mode;
                match self.create(&dir, &name, |d, n| sfs::mknod_at(d, n, nk, m, major, minor)) {
                    Ok(()) => {}
                    // Unprivileged (e.g. in a user namespace) device nodes cannot
                    // be made; Docker skips them there too.
                    Err(ArchiveError::Sys(e))
                        if is_errno(&e, Errno::PERM) && !self.opts.same_owner && nk != NodeKind::Fifo =>
                    {
                        return Ok(());
                    }
                    Err(e) => return Err(e),
                }
                self.finish_inode(&dir, &name, &meta, &xattrs, false, true)
            }
        }
    }

    fn mark_written(&mut self, rel: &Path) {
        let mut p = Some(rel);
        while let Some(cur) = p {
            if cur.as_os_str().is_empty() || !self.written.insert(cur.to_path_buf()) {
                break;
            }
            p = cur.parent();
        }
    }

    /// The fd of the (confined) parent directory `parent`, creating it (0755) if missing.
    fn parent_dir(&mut self, parent: &Path) -> Result<Rc<OwnedFd>> {
        if let Some((p, fd)) = &self.cache
            && p == parent
        {
            return Ok(fd.clone());
        }
        let fd = match self.root.open(parent, OFlags::PATH | OFlags::DIRECTORY) {
            Ok(fd) => fd,
            Err(e) if is_errno(&e, Errno::NOENT) => match self.root.mkdir_all(parent, 0o755) {
                Ok(fd) => fd,
                Err(e) if is_errno(&e, Errno::NOENT) => self.mkdir_through_links(parent, 0)?,
                Err(e) => return Err(e.into()),
            },
            Err(e) => return Err(e.into()),
        };
        let fd = Rc::new(fd);
        self.cache = Some((parent.to_path_buf(), fd.clone()));
        Ok(fd)
    }

    /// `mkdir -p` that also creates the missing target of a dangling symlink
    /// met on the way (`sib -> ../x`, then `sib/f`): the target is resolved in
    /// the root like any other path, so it is created inside it.
    fn mkdir_through_links(&self, rel: &Path, hops: u32) -> Result<OwnedFd> {
        if hops > 40 {
            return Err(ArchiveError::Sys(SysError::new(
                "mkdir",
                self.root.path().join(rel),
                io::Error::from_raw_os_error(Errno::LOOP.raw_os_error()),
            )));
        }
        let comps: Vec<_> = rel.components().collect();
        let mut done = PathBuf::new();
        for (i, comp) in comps.iter().enumerate() {
            let next = done.join(comp);
            match self.root.open(&next, OFlags::PATH | OFlags::DIRECTORY) {
                Ok(_) => {}
                Err(e) if is_errno(&e, Errno::NOENT) => {
                    let (pfd, name) = self.root.parent_of(&next)?;
                    match sfs::mkdir_at(&pfd, &name, 0o755) {
                        Ok(()) => {}
                        Err(e) if is_errno(&e, Errno::EXIST) => {
                            let link = fd_path(pfd.as_fd(), &name);
                            if std::fs::symlink_metadata(&link).is_ok_and(|m| m.is_symlink()) {
                                let target = std::fs::read_link(&link)
                                    .map_err(|e| ArchiveError::io("readlink", self.root.path().join(&next), e))?;
                                let mut redirected = if target.is_absolute() { target } else { done.join(target) };
                                redirected.extend(&comps[i + 1..]);
                                return self.mkdir_through_links(&redirected, hops + 1);
                            }
                        }
                        Err(e) => return Err(e.into()),
                    }
                }
                Err(e) => return Err(e.into()),
            }
            done = next;
        }
        Ok(self.root.open(rel, OFlags::PATH | OFlags::DIRECTORY)?)
    }

    /// Run `make` to create `name`; if something is in the way, remove it and retry.
    fn create(
        &mut self,
        dir: &OwnedFd,
        name: &OsStr,
        make: impl Fn(&OwnedFd, &OsStr) -> strata_sys::SysResult<()>,
    ) -> Result<()> {
        match make(dir, name) {
            Err(e) if is_errno(&e, Errno::EXIST) => {
                self.remove(dir, name)?;
                Ok(make(dir, name)?)
            }
            r => Ok(r?),
        }
    }

    /// Remove `name` in `dir` whatever it is (directories recursively, never
    /// following symlinks). Absent is fine.
    fn remove(&mut self, dir: &OwnedFd, name: &OsStr) -> Result<()> {
        let path = fd_path(dir.as_fd(), name);
        let md = match std::fs::symlink_metadata(&path) {
            Ok(md) => md,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(ArchiveError::io("lstat", self.root.path().join(name), e)),
        };
        if md.is_dir() {
            // std's remove_dir_all walks with openat(O_NOFOLLOW)/unlinkat: it
            // never leaves the tree; the parent is pinned by the fd path.
            self.cache = None;
            std::fs::remove_dir_all(&path).map_err(|e| ArchiveError::io("remove", self.root.path().join(name), e))?;
        } else {
            if md.is_symlink() {
                self.cache = None;
            }
            sfs::unlink_at(dir, name, false)?;
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn file<R: Read>(
        &mut self,
        e: &mut tar::Entry<'_, R>,
        dir: &OwnedFd,
        name: &OsStr,
        rel: &Path,
        meta: &Meta,
        xattrs: &[(OsString, Vec<u8>)],
        sparse: bool,
    ) -> Result<()> {
        let create_mode = meta.mode & 0o777;
        let mut f = match sfs::create_file_at(dir, name, create_mode) {
            Err(err) if is_errno(&err, Errno::EXIST) => {
                self.remove(dir, name)?;
                sfs::create_file_at(dir, name, create_mode)?
            }
            r => r?,
        };
        let size = e.size();
        let host = || self.root.path().join(rel);
        if size > 0 {
            // Plain file data is re-read from disk on reassembly; sparse data is
            // kept in the tar-split (the holes are not in the stream).
            let record_file = !sparse && self.rec.is_some();
            if record_file {
                let rec = self.rec.as_ref().expect("recorder");
                rec.borrow_mut().split.file(rel.as_os_str().as_bytes(), size).map_err(ArchiveError::Write)?;
                self.set_recording(false);
            }
            let copied =
                if sparse { copy_sparse(e, &mut f, &mut self.buf) } else { copy_plain(e, &mut f, &mut self.buf) };
            if record_file {
                self.set_recording(true);
            }
            let copied =
                copied.map_err(
                    |(reading, err)| {
                        if reading { read_err(err) } else { ArchiveError::io("write", host(), err) }
                    },
                )?;
            if copied != size {
                return Err(ArchiveError::Read(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!("{}: data ends after {copied} of {size} bytes", rel.display()),
                )));
            }
            if sparse {
                f.set_len(size).map_err(|err| ArchiveError::io("truncate", host(), err))?;
            }
            // Start writeback now, so the caller's final syncfs finds little
            // left to flush: persisting overlaps with extracting.
            sfs::start_writeback(&f);
        }
        if self.opts.same_owner {
            std::os::unix::fs::fchown(&f, Some(meta.uid), Some(meta.gid))
                .map_err(|err| ArchiveError::io("fchown", host(), err))?;
        }
        // Always: chown clears setuid/setgid, and a default ACL on the parent
        // (not the umask) may have masked the create mode.
        {
            f.set_permissions(Permissions::from_mode(meta.mode))
                .map_err(|err| ArchiveError::io("fchmod", host(), err))?;
        }
        if !xattrs.is_empty() {
            self.set_xattrs_path(&fd_path(dir.as_fd(), name), xattrs, false)?;
        }
        let times = FileTimes::new().set_accessed(system_time(meta.atime)).set_modified(system_time(meta.mtime));
        f.set_times(times).map_err(|err| ArchiveError::io("futimens", host(), err))?;
        Ok(())
    }

    fn dir(
        &mut self,
        dir: &OwnedFd,
        name: &OsStr,
        rel: &Path,
        meta: Meta,
        xattrs: &[(OsString, Vec<u8>)],
    ) -> Result<()> {
        match sfs::mkdir_at(dir, name, 0o700) {
            Ok(()) => {}
            Err(e) if is_errno(&e, Errno::EXIST) => {
                let md = std::fs::symlink_metadata(fd_path(dir.as_fd(), name))
                    .map_err(|err| ArchiveError::io("lstat", self.root.path().join(rel), err))?;
                if !md.is_dir() {
                    self.remove(dir, name)?;
                    sfs::mkdir_at(dir, name, 0o700)?;
                }
            }
            Err(e) => return Err(e.into()),
        }
        if !xattrs.is_empty() {
            self.set_xattrs_path(&fd_path(dir.as_fd(), name), xattrs, false)?;
        }
        let depth = rel.components().count();
        self.dirs.push(DirMeta { rel: rel.to_path_buf(), depth, meta });
        Ok(())
    }

    /// Ownership, mode, xattrs and times of a just-created non-file, non-dir inode.
    fn finish_inode(
        &self,
        dir: &OwnedFd,
        name: &OsStr,
        meta: &Meta,
        xattrs: &[(OsString, Vec<u8>)],
        symlink: bool,
        chmod: bool,
    ) -> Result<()> {
        if self.opts.same_owner {
            sfs::lchown_at(dir, name, meta.uid, meta.gid)?;
        }
        if chmod {
            sfs::chmod_at(dir, name, meta.mode)?;
        }
        if !xattrs.is_empty() {
            self.set_xattrs_path(&fd_path(dir.as_fd(), name), xattrs, symlink)?;
        }
        sfs::set_times_at(dir, name, meta.atime, meta.mtime)?;
        Ok(())
    }

    fn set_xattrs_path(&self, path: &Path, xattrs: &[(OsString, Vec<u8>)], symlink: bool) -> Result<()> {
        for (name, value) in xattrs {
            let n = name.as_bytes();
            if n.starts_with(b"trusted.overlay.") || n.starts_with(b"user.overlay.") {
                continue;
            }
            if symlink && n.starts_with(b"user.") {
                continue; // the kernel refuses user.* on symlinks
            }
            match sfs::set_xattr(path, name, value) {
                Ok(()) => {}
                Err(e) if e.raw_os_error() == Some(Errno::NOTSUP.raw_os_error()) => {}
                Err(e) if e.raw_os_error() == Some(Errno::PERM.raw_os_error()) && !self.opts.same_owner => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    fn whiteout(&mut self, parent: &Path, target: &OsStr, meta: &Meta) -> Result<()> {
        match self.opts.whiteouts {
            WhiteoutMode::Overlay { .. } => {
                let dir = self.parent_dir(parent)?;
                self.remove(&dir, target)?;
                sfs::mknod_at(&*dir, target, NodeKind::Char, 0, 0, 0)?;
                if self.opts.same_owner {
                    sfs::lchown_at(&*dir, target, meta.uid, meta.gid)?;
                }
                Ok(())
            }
            WhiteoutMode::Remove => {
                let dir = match self.root.open(parent, OFlags::PATH | OFlags::DIRECTORY) {
                    Ok(fd) => fd,
                    Err(e) if is_errno(&e, Errno::NOENT) || is_errno(&e, Errno::NOTDIR) => return Ok(()),
                    Err(e) => return Err(e.into()),
                };
                self.remove(&dir, target)
            }
        }
    }

    fn opaque(&mut self, dir_rel: &Path) -> Result<()> {
        match self.opts.whiteouts {
            WhiteoutMode::Overlay { userxattr } => {
                let name = if userxattr { XATTR_OPAQUE_USER } else { XATTR_OPAQUE };
                // The dir itself, created if missing; a symlink on the way (or at
                // the end) is followed confined, like any parent directory.
                let dir_rel = if dir_rel.as_os_str().is_empty() { Path::new(".") } else { dir_rel };
                let fd = self.parent_dir(dir_rel)?;
                // "/proc/self/fd/N/." names the directory itself for lsetxattr.
                let path = PathBuf::from(format!("/proc/self/fd/{}/.", fd.as_raw_fd()));
                sfs::set_xattr(&path, name, b"y")?;
                Ok(())
            }
            WhiteoutMode::Remove => {
                let fd = match self.root.open(dir_rel, OFlags::RDONLY | OFlags::DIRECTORY) {
                    Ok(fd) => fd,
                    Err(e) if is_errno(&e, Errno::NOENT) || is_errno(&e, Errno::NOTDIR) => return Ok(()),
                    Err(e) => return Err(e.into()),
                };
                self.cache = None;
                self.remove_unwritten(dir_rel, &fd)
            }
        }
    }

    /// Remove every child of `dir` (fd) not written by this layer, recursively.
    fn remove_unwritten(&mut self, dir_rel: &Path, dir: &OwnedFd) -> Result<()> {
        let listing = fd_path(dir.as_fd(), OsStr::new("."));
        let mut names: Vec<OsString> = Vec::new();
        for ent in
            std::fs::read_dir(&listing).map_err(|e| ArchiveError::io("readdir", self.root.path().join(dir_rel), e))?
        {
            let ent = ent.map_err(|e| ArchiveError::io("readdir", self.root.path().join(dir_rel), e))?;
            names.push(ent.file_name());
        }
        for name in names {
            let child = dir_rel.join(&name);
            if !self.written.contains(&child) {
                self.remove(dir, &name)?;
                continue;
            }
            let md = std::fs::symlink_metadata(fd_path(dir.as_fd(), &name))
                .map_err(|e| ArchiveError::io("lstat", self.root.path().join(&child), e))?;
            if md.is_dir() {
                let sub = sfs::open_at(dir, &name, OFlags::RDONLY | OFlags::DIRECTORY)?;
                self.remove_unwritten(&child, &sub)?;
            }
        }
        Ok(())
    }

    /// Apply directory ownership, modes and times, deepest first.
    fn finish_dirs(&mut self) -> Result<()> {
        let mut dirs = std::mem::take(&mut self.dirs);
        dirs.sort_by_key(|d| std::cmp::Reverse(d.depth));
        for d in dirs {
            let fd = match self.root.open(&d.rel, OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW) {
                Ok(fd) => fd,
                // Replaced or removed by a later entry.
                Err(e) if is_errno(&e, Errno::NOENT) || is_errno(&e, Errno::NOTDIR) || is_errno(&e, Errno::LOOP) => {
                    continue;
                }
                Err(e) => return Err(e.into()),
            };
            let f = File::from(fd);
            let host = || self.root.path().join(&d.rel);
            if self.opts.same_owner {
                std::os::unix::fs::fchown(&f, Some(d.meta.uid), Some(d.meta.gid))
                    .map_err(|e| ArchiveError::io("fchown", host(), e))?;
            }
            f.set_permissions(Permissions::from_mode(d.meta.mode))
                .map_err(|e| ArchiveError::io("fchmod", host(), e))?;
            let times =
                FileTimes::new().set_accessed(system_time(d.meta.atime)).set_modified(system_time(d.meta.mtime));
            f.set_times(times).map_err(|e| ArchiveError::io("futimens", host(), e))?;
        }
        Ok(())
    }
}

/// Copy an entry's data; the error says whether reading (true) or writing failed.
fn copy_plain(r: &mut impl Read, f: &mut File, buf: &mut [u8]) -> std::result::Result<u64, (bool, io::Error)> {
    let mut total = 0u64;
    loop {
        let n = match r.read(buf) {
            Ok(0) => return Ok(total),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err((true, e)),
        };
        f.write_all(&buf[..n]).map_err(|e| (false, e))?;
        total += n as u64;
    }
}

/// Like [`copy_plain`], but seeks over 4 KiB blocks of zeros so the holes of a
/// GNU sparse entry (which the tar crate expands into zeros) stay holes.
fn copy_sparse(r: &mut impl Read, f: &mut File, buf: &mut [u8]) -> std::result::Result<u64, (bool, io::Error)> {
    const BLK: usize = 4096;
    let mut total = 0u64;
    let mut skip = 0i64;
    loop {
        // Fill whole blocks where possible so zero detection is block-aligned.
        let mut n = 0;
        while n < buf.len() {
            match r.read(&mut buf[n..]) {
                Ok(0) => break,
                Ok(k) => n += k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err((true, e)),
            }
        }
        if n == 0 {
            return Ok(total);
        }
        for chunk in buf[..n].chunks(BLK) {
            if chunk.iter().all(|b| *b == 0) {
                skip += chunk.len() as i64;
            } else {
                if skip > 0 {
                    f.seek(SeekFrom::Current(skip)).map_err(|e| (false, e))?;
                    skip = 0;
                }
                f.write_all(chunk).map_err(|e| (false, e))?;
            }
        }
        total += n as u64;
        if n < buf.len() {
            return Ok(total); // EOF inside the fill loop; the caller sets the length
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_names() {
        for (i, o) in [
            ("a/b", "a/b"),
            ("./a/./b/", "a/b"),
            ("/abs/x", "abs/x"),
            ("../../x", "x"),
            ("a/../../b", "b"),
            ("./", ""),
            ("..", ""),
        ] {
            assert_eq!(clean(i.as_bytes()), PathBuf::from(o), "{i}");
        }
    }

    #[test]
    fn pax_times() {
        assert_eq!(parse_pax_time(b"1700000000"), Some((1700000000, 0)));
        assert_eq!(parse_pax_time(b"1700000000.5"), Some((1700000000, 500_000_000)));
        assert_eq!(parse_pax_time(b"1.123456789123"), Some((1, 123_456_789)));
        assert_eq!(parse_pax_time(b"-1.25"), Some((-2, 750_000_000)));
        assert_eq!(parse_pax_time(b"x"), None);
    }
}
