//! `docker cp`: copies between host paths, paths inside a confined [`Root`]
//! (a container's filesystem view, or a volume) and tar streams, with Docker's
//! path rules and error texts (docker-behaviour.md §2.6), independent of
//! containers (the store's `container::cp` builds the views).
//!
//! ```text
//!  SRC ─ resolve (host: normally; Root: openat2 RESOLVE_IN_ROOT) ─▶ SrcTop (O_PATH fd)
//!  DST ─ stat, follow final symlinks (≤10 hops, each re-resolved confined) ─▶ exists dir / non-dir / missing
//!  rules (PrepareArchiveCopy) ─▶ extraction dir + name of the top entry
//!  walk (openat on dir fds) ─▶ TreeWriter (mkdirat/openat/linkat on dir fds) | TarSink
//! ```
//!
//! The rules, as Docker's CLI applies them (`T` is the source's basename, or
//! `.` for `dir/.`; a `-L` copy keeps the link's name):
//!
//! | source | destination | result |
//! |---|---|---|
//! | any | existing dir `D` | `D/T` (`dir/.`: merged into `D`, `D`'s owner/mode kept) |
//! | dir | existing non-dir | `cannot copy directory` |
//! | non-dir | existing non-dir `F` | replaces `F` |
//! | dir | missing `M` (parent exists) | created as `M`, contents copied |
//! | non-dir | missing `M/` or `M/.` | `no such directory` |
//! | non-dir | missing `M` | created as `M` |
//! | `file/` | | `not a directory` |
//! | | missing parent | `Could not find the file /parent in container` (host: `stat /parent: ...`) |
//!
//! Inside the copy, `noOverwriteDirNonDir` holds (`cannot overwrite directory
//! "P" with non-directory "D"` and the converse), symlinks are copied as links
//! and never followed, hard links within the copied tree stay hard links,
//! device nodes and fifos are recreated, sockets skipped; modes, times
//! (nanoseconds) and xattrs are kept; ownership per [`CpOpts`].
//!
//! Hazards (tests/cp_hostile.rs): the container side is only ever reached
//! through the [`Root`] fd (`etc -> /etc`, `../../..` chains, symlinked
//! parents and dangling links all stay inside, CVE-2018-15664); every write is
//! an `*at` call on a directory fd that was itself opened without following
//! symlinks; a regular file is read only through the fd that was `fstat`ed
//! (a FIFO or device swapped in is never opened); nothing is decompressed or
//! executed (CVE-2019-14271); users are read from the container's own files.

mod error;
mod tar_in;
mod tar_out;
mod tree;
pub mod users;
mod walk;
mod xattrs;

use std::ffi::{OsStr, OsString};
use std::io::{Read, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use rustix::fs::{AtFlags, FileType, Mode, OFlags};
use rustix::io::Errno;
use strata_sys::root::Root;

pub use error::{CpError, CpResult};
pub use users::UserDb;

use tree::{Owner, TreeWriter};
use walk::{SrcTop, Walker};

/// `docker cp` options.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CpOpts {
    /// `-L`: copy what a source symlink points to (named after the link).
    pub follow_link: bool,
    /// `-a` into a container: chown everything to the container user's
    /// uid/gid. `None` keeps the source's ownership (Docker's real behaviour
    /// without `-a`, and with `-a` when the container has no `User`).
    pub chown: Option<(u32, u32)>,
    /// Container → host: Docker makes the files the invoking user's (as root:
    /// 0:0). `None` keeps the container's uid/gid.
    pub host_owner: Option<(u32, u32)>,
}

/// What a copy did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CpStats {
    pub dirs: u64,
    pub files: u64,
    pub symlinks: u64,
    /// Further names of an inode already copied (recreated as hard links).
    pub hardlinks: u64,
    /// Device nodes and fifos.
    pub specials: u64,
    pub sockets_skipped: u64,
    /// Regular file data (apparent sizes).
    pub bytes: u64,
    /// Files whose data was shared by reflink.
    pub reflinked: u64,
    /// Tar bytes written ([`tar_from_root`]).
    pub tar_bytes: u64,
}

/// One side of a copy.
#[derive(Debug, Clone, Copy)]
pub enum Endpoint<'a> {
    /// A host path, trusted and resolved normally; a trailing `/` or `/.` is kept.
    Host(&'a str),
    /// A path inside a root (a container's view, a volume), resolved confined.
    Root(&'a Root, &'a str),
}

/// Called with the extraction directory (an open directory fd) before anything
/// is written into it: the store refuses read-only mounts here with Docker's texts.
pub type DestCheck<'a> = &'a dyn Fn(BorrowedFd<'_>) -> CpResult<()>;

fn no_check(_: BorrowedFd<'_>) -> CpResult<()> {
    Ok(())
}

/// `docker cp HOSTPATH CTR:DST`.
pub fn copy_host_to_root(src: &str, root: &Root, dst: &str, opts: &CpOpts) -> CpResult<CpStats> {
    copy(Endpoint::Host(src), Endpoint::Root(root, dst), opts, &no_check)
}

/// `docker cp CTR:SRC HOSTPATH`.
pub fn copy_root_to_host(root: &Root, src: &str, dst: &str, opts: &CpOpts) -> CpResult<CpStats> {
    copy(Endpoint::Root(root, src), Endpoint::Host(dst), opts, &no_check)
}

/// `strata cp A:SRC B:DST` (container → container; Docker has no such form).
pub fn copy_root_to_root(a: &Root, src: &str, b: &Root, dst: &str, opts: &CpOpts) -> CpResult<CpStats> {
    copy(Endpoint::Root(a, src), Endpoint::Root(b, dst), opts, &no_check)
}

/// `docker cp CTR:SRC -`: the source as a tar on `out`, entries named as Docker
/// names them, with real uid/gid and the names from the root's own
/// `/etc/passwd` and `/etc/group`.
pub fn tar_from_root(root: &Root, src: &str, out: &mut dyn Write, opts: &CpOpts) -> CpResult<CpStats> {
    let names = UserDb::read(root);
    tar_from_root_with(root, src, out, opts, Some(&names))
}

/// [`tar_from_root`] with the uname/gname table given (`None`: numeric only,
/// e.g. for a volume, which has no users of its own).
pub fn tar_from_root_with(
    root: &Root,
    src: &str,
    out: &mut dyn Write,
    opts: &CpOpts,
    names: Option<&UserDb>,
) -> CpResult<CpStats> {
    let up = UserPath::container(src, "source")?;
    let top = resolve_src_root(root, &up, opts.follow_link)?;
    let name = up.top_name();
    let mut sink = tar_out::TarSink::new(out, names);
    let mut w = Walker::new(&mut sink, &up.shown(), "-", false);
    w.copy_top(&top, &name)?;
    let mut stats = w.stats;
    stats.tar_bytes = sink.finish()?;
    Ok(stats)
}

/// `tar ... | docker cp - CTR:DIR`: extract into `dst_dir`, which must be an
/// existing directory (else [`CpError::DestinationMustBeDirectory`]).
pub fn tar_into_root(input: impl Read, root: &Root, dst_dir: &str, opts: &CpOpts) -> CpResult<CpStats> {
    tar_into_root_checked(input, root, dst_dir, opts, &no_check)
}

/// [`tar_into_root`] with a check of the extraction directory first.
pub fn tar_into_root_checked(
    input: impl Read,
    root: &Root,
    dst_dir: &str,
    opts: &CpOpts,
    check: DestCheck<'_>,
) -> CpResult<CpStats> {
    let up = UserPath::container(dst_dir, "destination")?;
    let (path, st) = follow_dst(&Endpoint::Root(root, dst_dir), &up)?;
    if st != DstStat::Dir {
        return Err(CpError::DestinationMustBeDirectory { path: dst_dir.to_string() });
    }
    let top = open_extraction_dir(&Endpoint::Root(root, dst_dir), &path)?;
    check(top.as_fd())?;
    let owner = opts.chown.map(|(u, g)| Owner::Force(u, g)).unwrap_or(Owner::Keep);
    let mut tw = TreeWriter::new(top, &go_clean(&path), owner)?;
    tar_in::extract(input, &mut tw)
}

/// The general form: any source, any destination.
pub fn copy(src: Endpoint<'_>, dst: Endpoint<'_>, opts: &CpOpts, check: DestCheck<'_>) -> CpResult<CpStats> {
    let sup = match src {
        Endpoint::Host(p) => UserPath::host(p, "source")?,
        Endpoint::Root(_, p) => UserPath::container(p, "source")?,
    };
    let dup = match dst {
        Endpoint::Host(p) => UserPath::host(p, "destination")?,
        Endpoint::Root(_, p) => UserPath::container(p, "destination")?,
    };
    let top = match src {
        Endpoint::Host(_) => resolve_src_host(&sup, opts.follow_link)?,
        Endpoint::Root(root, _) => resolve_src_root(root, &sup, opts.follow_link)?,
    };
    let src_is_dir = top.meta.is_dir();
    let t = sup.top_name();

    let (path, st) = follow_dst(&dst, &dup)?;
    let (dir, base) = split_dir_entry(&path);
    let (extract, name) = match st {
        DstStat::Dir => (path.clone(), t),
        DstStat::NonDir if src_is_dir => return Err(CpError::CannotCopyDirectory { path: path.clone() }),
        DstStat::NonDir => (dir, OsString::from(base)),
        DstStat::Missing if src_is_dir => (dir, OsString::from(base)),
        DstStat::Missing if asserts_dir(&path) => return Err(CpError::NoSuchDirectory { path: path.clone() }),
        DstStat::Missing | DstStat::Symlink(_) => (dir, OsString::from(base)),
    };
    let extract_fd = open_extraction_dir(&dst, &extract)?;
    if src_is_dir {
        let stop = match dst {
            Endpoint::Root(root, _) => rustix::fs::fstat(root.fd()).ok().map(|st| (st.st_dev, st.st_ino)),
            Endpoint::Host(_) => None,
        };
        if is_within(extract_fd.as_fd(), (top.meta.dev, top.meta.ino), stop) {
            return Err(CpError::IntoItself { src: sup.shown(), dst: dup.shown() });
        }
    }
    check(extract_fd.as_fd())?;
    let owner = match dst {
        Endpoint::Root(..) => opts.chown,
        Endpoint::Host(_) => opts.host_owner,
    }
    .map(|(u, g)| Owner::Force(u, g))
    .unwrap_or(Owner::Keep);
    let shown_extract = match dst {
        Endpoint::Root(..) => go_clean(&extract),
        Endpoint::Host(_) => extract.clone(),
    };
    let mut tw = TreeWriter::new(extract_fd, &shown_extract, owner)?;
    let mut w = Walker::new(&mut tw, &sup.shown(), &dup.shown(), matches!(src, Endpoint::Host(_)));
    w.copy_top(&top, &name)?;
    Ok(w.stats)
}

// ---------------------------------------------------------------------------
// Paths as the user wrote them.

/// A path argument with the marks that change Docker's rules.
#[derive(Debug, Clone)]
struct UserPath {
    raw: String,
    /// Lexically cleaned; absolute for container paths.
    clean: String,
    trailing_sep: bool,
    current_dir: bool,
}

/// Go's `filepath.Clean`.
fn go_clean(p: &str) -> String {
    let rooted = p.starts_with('/');
    let mut out: Vec<&str> = Vec::new();
    for c in p.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                if matches!(out.last(), Some(l) if *l != "..") {
                    out.pop();
                } else if !rooted {
                    out.push("..");
                }
            }
            c => out.push(c),
        }
    }
    let joined = out.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".to_string(),
        (false, false) => joined,
    }
}

/// Go's `filepath.Base`.
fn go_base(p: &str) -> &str {
    let t = p.trim_end_matches('/');
    if t.is_empty() {
        return if p.is_empty() { "." } else { "/" };
    }
    match t.rfind('/') {
        Some(i) => &t[i + 1..],
        None => t,
    }
}

/// Go's `filepath.Dir`.
fn go_dir(p: &str) -> String {
    match p.rfind('/') {
        Some(i) => go_clean(&p[..=i]),
        None => ".".to_string(),
    }
}

/// Docker's `specifiesCurrentDir`: the last element is `.`.
fn specifies_current_dir(p: &str) -> bool {
    go_base(p) == "."
}

/// Docker's `assertsDirectory`: a trailing `/` or a final `.`.
fn asserts_dir(p: &str) -> bool {
    p.ends_with('/') || specifies_current_dir(p)
}

/// Docker's `SplitPathDirEntry`.
fn split_dir_entry(p: &str) -> (String, String) {
    let mut cleaned = go_clean(p);
    if specifies_current_dir(p) && cleaned != "." && cleaned != "/" {
        cleaned.push_str("/.");
    }
    (go_dir(&cleaned), go_base(&cleaned).to_string())
}

impl UserPath {
    fn new(raw: &str, clean: String, what: &'static str) -> CpResult<UserPath> {
        if raw.is_empty() {
            return Err(CpError::EmptyPath { what });
        }
        Ok(UserPath {
            raw: raw.to_string(),
            clean,
            trailing_sep: raw.ends_with('/'),
            current_dir: specifies_current_dir(raw),
        })
    }

    /// A path inside a root: relative to its `/` (Docker: `filepath.Join("/", path)`).
    fn container(raw: &str, what: &'static str) -> CpResult<UserPath> {
        UserPath::new(raw, go_clean(&format!("/{raw}")), what)
    }

    fn host(raw: &str, what: &'static str) -> CpResult<UserPath> {
        UserPath::new(raw, go_clean(raw), what)
    }

    fn asserts_dir(&self) -> bool {
        self.trailing_sep || self.current_dir
    }

    /// The cleaned path with the user's trailing `/` or `/.` (Docker's
    /// `PreserveTrailingDotOrSeparator`), as messages show it.
    fn shown(&self) -> String {
        let mut s = self.clean.clone();
        if self.current_dir && !s.ends_with('.') {
            s.push_str(if s.ends_with('/') { "." } else { "/." });
        } else if self.trailing_sep && !s.ends_with('/') {
            s.push('/');
        }
        s
    }

    /// `T`: the name the copied entry gets: `.` for `dir/.` (and for `/`),
    /// else the basename of the path as given (a followed link keeps its name).
    fn top_name(&self) -> OsString {
        let b = go_base(&self.clean);
        if self.current_dir || b == "/" || b == "." || b == ".." { OsString::from(".") } else { OsString::from(b) }
    }

    /// Whether the final component must be resolved (followed) rather than
    /// looked at itself.
    fn follow_final(&self, follow_link: bool) -> bool {
        follow_link || self.asserts_dir() || self.top_name() == "."
    }
}

// ---------------------------------------------------------------------------
// Sources.

fn errno_of(e: &strata_sys::SysError) -> Option<Errno> {
    e.raw_os_error().map(Errno::from_raw_os_error)
}

fn resolve_src_root(root: &Root, up: &UserPath, follow_link: bool) -> CpResult<SrcTop> {
    let shown = up.shown();
    let not_found = || CpError::NotFound { path: shown.clone(), dest: false };
    if up.follow_final(follow_link) {
        let fd = match root.open(Path::new(&up.clean), OFlags::PATH) {
            Ok(fd) => fd,
            Err(e) => {
                return Err(match errno_of(&e) {
                    Some(Errno::NOTDIR) if up.asserts_dir() => CpError::NotADirectory { path: shown.clone() },
                    Some(Errno::NOENT | Errno::NOTDIR) => not_found(),
                    _ => CpError::Sys(e),
                });
            }
        };
        let meta = walk::fstat(fd.as_fd(), &shown)?;
        if up.asserts_dir() && !meta.is_dir() {
            return Err(CpError::NotADirectory { path: shown });
        }
        return Ok(SrcTop { fd, at: None, meta, shown });
    }
    let (parent, name) = match root.parent_of(Path::new(&up.clean)) {
        Ok(p) => p,
        Err(e) if matches!(errno_of(&e), Some(Errno::NOENT | Errno::NOTDIR)) => return Err(not_found()),
        Err(e) => return Err(e.into()),
    };
    let fd = match rustix::fs::openat(&parent, &name, OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC, Mode::empty())
    {
        Ok(fd) => fd,
        Err(Errno::NOENT | Errno::NOTDIR) => return Err(not_found()),
        Err(e) => return Err(CpError::io("lstat", shown, e)),
    };
    let meta = walk::fstat(fd.as_fd(), &shown)?;
    Ok(SrcTop { fd, at: Some((parent, name)), meta, shown })
}

fn resolve_src_host(up: &UserPath, follow_link: bool) -> CpResult<SrcTop> {
    let shown = up.raw.clone();
    let host_err = |op: &'static str, p: &str, e: Errno| -> CpError {
        if e == Errno::NOTDIR && up.asserts_dir() {
            CpError::NotADirectory { path: p.to_string() }
        } else {
            CpError::HostPath { op, path: p.into(), source: e.into() }
        }
    };
    if up.follow_final(follow_link) {
        let fd = rustix::fs::open(up.raw.as_str(), OFlags::PATH | OFlags::CLOEXEC, Mode::empty())
            .map_err(|e| host_err("lstat", &up.raw, e))?;
        let meta = walk::fstat(fd.as_fd(), &shown)?;
        if up.asserts_dir() && !meta.is_dir() {
            return Err(CpError::NotADirectory { path: shown });
        }
        return Ok(SrcTop { fd, at: None, meta, shown });
    }
    let p = Path::new(&up.raw);
    let name = p.file_name().expect("a final name: `.`, `..` and `/` are followed").to_os_string();
    let parent = match p.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let pfd = rustix::fs::open(parent, OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())
        .map_err(|e| host_err("lstat", &parent.to_string_lossy(), e))?;
    let fd = rustix::fs::openat(&pfd, &name, OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC, Mode::empty())
        .map_err(|e| host_err("lstat", &up.raw, e))?;
    let meta = walk::fstat(fd.as_fd(), &shown)?;
    Ok(SrcTop { fd, at: Some((pfd, name)), meta, shown })
}

// ---------------------------------------------------------------------------
// Destinations.

#[derive(Debug, Clone, PartialEq, Eq)]
enum DstStat {
    Missing,
    Dir,
    NonDir,
    Symlink(OsString),
}

/// Docker never follows more destination links than this.
const MAX_DST_LINKS: usize = 10;

fn stat_dst(dst: &Endpoint<'_>, path: &str) -> CpResult<DstStat> {
    let kind = |st: &rustix::fs::Stat| match FileType::from_raw_mode(st.st_mode) {
        FileType::Directory => DstStat::Dir,
        _ => DstStat::NonDir,
    };
    match dst {
        Endpoint::Root(root, _) => {
            let clean = go_clean(&format!("/{path}"));
            if asserts_dir(path) || clean == "/" {
                // `x/` follows `x`: a directory or nothing (`file/` is ENOTDIR:
                // Docker ignores the stat error and treats it as missing).
                return match root.open(Path::new(&clean), OFlags::PATH) {
                    Ok(fd) => match rustix::fs::fstat(&fd) {
                        Ok(st) if kind(&st) == DstStat::Dir => Ok(DstStat::Dir),
                        Ok(_) => Ok(DstStat::Missing),
                        Err(e) => Err(CpError::io("stat", path, e)),
                    },
                    Err(e) if matches!(errno_of(&e), Some(Errno::NOENT | Errno::NOTDIR | Errno::LOOP)) => {
                        Ok(DstStat::Missing)
                    }
                    Err(e) => Err(e.into()),
                };
            }
            let (parent, name) = match root.parent_of(Path::new(&clean)) {
                Ok(p) => p,
                Err(e) if matches!(errno_of(&e), Some(Errno::NOENT | Errno::NOTDIR | Errno::LOOP)) => {
                    return Ok(DstStat::Missing);
                }
                Err(e) => return Err(e.into()),
            };
            stat_at(parent.as_fd(), &name, path)
        }
        Endpoint::Host(_) => {
            // lstat(2) itself gives `x/` its meaning (follows to a directory).
            match rustix::fs::lstat(path) {
                Ok(st) if FileType::from_raw_mode(st.st_mode) == FileType::Symlink => {
                    let t = rustix::fs::readlink(path, Vec::new()).map_err(|e| CpError::HostPath {
                        op: "readlink",
                        path: path.into(),
                        source: e.into(),
                    })?;
                    Ok(DstStat::Symlink(OsString::from(OsStr::from_bytes(t.as_bytes()))))
                }
                Ok(st) => Ok(kind(&st)),
                Err(Errno::NOENT) => Ok(DstStat::Missing),
                Err(Errno::NOTDIR) if asserts_dir(path) => Ok(DstStat::Missing),
                Err(e) => Err(CpError::HostPath { op: "lstat", path: path.into(), source: e.into() }),
            }
        }
    }
}

fn stat_at(parent: BorrowedFd<'_>, name: &OsStr, shown: &str) -> CpResult<DstStat> {
    match rustix::fs::statat(parent, name, AtFlags::SYMLINK_NOFOLLOW) {
        Ok(st) => match FileType::from_raw_mode(st.st_mode) {
            FileType::Directory => Ok(DstStat::Dir),
            FileType::Symlink => {
                let t =
                    rustix::fs::readlinkat(parent, name, Vec::new()).map_err(|e| CpError::io("readlink", shown, e))?;
                Ok(DstStat::Symlink(OsString::from(OsStr::from_bytes(t.as_bytes()))))
            }
            _ => Ok(DstStat::NonDir),
        },
        Err(Errno::NOENT) => Ok(DstStat::Missing),
        Err(e) => Err(CpError::io("lstat", shown, e)),
    }
}

/// Stat the destination, following a final symlink as Docker's CLI does
/// (the link's target, joined to the link's directory when relative; in a
/// root, every hop is resolved confined again). Returns the final path.
fn follow_dst(dst: &Endpoint<'_>, up: &UserPath) -> CpResult<(String, DstStat)> {
    let mut path = match dst {
        Endpoint::Root(..) => up.shown(),
        Endpoint::Host(_) => up.raw.clone(),
    };
    for _ in 0..=MAX_DST_LINKS {
        match stat_dst(dst, &path)? {
            DstStat::Symlink(target) => {
                let t = String::from_utf8_lossy(target.as_bytes()).into_owned();
                let (parent, _) = split_dir_entry(&path);
                path = if t.starts_with('/') { go_clean(&t) } else { go_clean(&format!("{parent}/{t}")) };
            }
            st => {
                if st == DstStat::Missing {
                    check_host_parent(dst, &path)?;
                }
                return Ok((path, st));
            }
        }
    }
    Err(CpError::TooManySymlinks { path: up.raw.clone() })
}

/// Docker's `CopyInfoDestinationPath`: a missing host destination needs an
/// existing parent directory. (In a container, the extraction reports it.)
fn check_host_parent(dst: &Endpoint<'_>, path: &str) -> CpResult<()> {
    if let Endpoint::Host(_) = dst {
        let (parent, _) = split_dir_entry(path);
        match rustix::fs::stat(parent.as_str()) {
            Ok(st) if FileType::from_raw_mode(st.st_mode) == FileType::Directory => {}
            Ok(_) => return Err(CpError::NotADirectory { path: parent }),
            Err(e) => return Err(CpError::HostPath { op: "stat", path: parent.into(), source: e.into() }),
        }
    }
    Ok(())
}

/// Whether directory `dir` is `ancestor` or below it, walking `..` up to
/// `stop` (a root's own directory) or `/`. Only inodes are compared; nothing
/// is read. The walk during the copy checks the same again (a backstop for
/// paths this cannot see, e.g. through a bind mount).
fn is_within(dir: BorrowedFd<'_>, ancestor: (u64, u64), stop: Option<(u64, u64)>) -> bool {
    let Ok(mut cur) = rustix::fs::openat(dir, ".", OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())
    else {
        return false;
    };
    for _ in 0..4096 {
        let Ok(st) = rustix::fs::fstat(&cur) else { return false };
        let id = (st.st_dev, st.st_ino);
        if id == ancestor {
            return true;
        }
        if Some(id) == stop {
            return false;
        }
        let Ok(up) = rustix::fs::openat(&cur, "..", OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())
        else {
            return false;
        };
        match rustix::fs::fstat(&up) {
            Ok(ust) if (ust.st_dev, ust.st_ino) == id => return false, // `/`
            Ok(_) => cur = up,
            Err(_) => return false,
        }
    }
    false
}

/// Open the directory a copy extracts into (`O_RDONLY|O_DIRECTORY`).
fn open_extraction_dir(dst: &Endpoint<'_>, dir: &str) -> CpResult<OwnedFd> {
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
    match dst {
        Endpoint::Root(root, _) => {
            let clean = go_clean(&format!("/{dir}"));
            root.open(Path::new(&clean), OFlags::RDONLY | OFlags::DIRECTORY).map_err(|e| match errno_of(&e) {
                Some(Errno::NOENT) => CpError::NotFound { path: clean.clone(), dest: true },
                Some(Errno::NOTDIR) => CpError::ExtractionPointNotDirectory { path: clean.clone() },
                _ => CpError::Sys(e),
            })
        }
        Endpoint::Host(_) => rustix::fs::open(dir, flags, Mode::empty()).map_err(|e| match e {
            Errno::NOTDIR => CpError::NotADirectory { path: dir.to_string() },
            e => CpError::HostPath { op: "stat", path: dir.into(), source: e.into() },
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_path_helpers() {
        for (i, o) in [("/a/b/", "/a/b"), ("a/./b", "a/b"), ("../x", "../x"), ("/..", "/"), ("a/..", "."), ("", ".")] {
            assert_eq!(go_clean(i), o, "{i}");
        }
        assert_eq!(split_dir_entry("/a/b"), ("/a".into(), "b".into()));
        assert_eq!(split_dir_entry("/a/b/"), ("/a".into(), "b".into()));
        assert_eq!(split_dir_entry("/a/b/."), ("/a/b".into(), ".".into()));
        assert_eq!(split_dir_entry("out"), (".".into(), "out".into()));
        assert_eq!(split_dir_entry("/"), ("/".into(), "/".into()));
        assert!(asserts_dir("x/") && asserts_dir("x/.") && asserts_dir(".") && !asserts_dir("x"));
        let up = UserPath::container("data/.", "source").unwrap();
        assert_eq!((up.clean.as_str(), up.shown().as_str(), up.top_name()), ("/data", "/data/.", OsString::from(".")));
        let up = UserPath::container("/data/", "source").unwrap();
        assert_eq!((up.shown().as_str(), up.top_name()), ("/data/", OsString::from("data")));
        assert_eq!(UserPath::container("/", "source").unwrap().top_name(), OsString::from("."));
    }
}
