//! The source side of a copy: a tree walked with `openat` on directory fds.
//!
//! Every entry is first opened `O_PATH|O_NOFOLLOW` relative to its parent's
//! fd and `fstat`ed through that fd, so what is read is exactly the inode that
//! was inspected: a regular file is reopened for reading through its
//! `/proc/self/fd/N` (never by name, so a container swapping it for a FIFO or a
//! device node between the stat and the open gains nothing), a directory is
//! reopened with `openat(fd, ".")`, a symlink is read with `readlinkat(fd, "")`
//! and never followed. Each directory is opened once and its children are
//! looked up relative to it: no path is resolved twice, and none is joined
//! with a host path.

use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};

use rustix::fs::{FileType, OFlags};
use rustix::io::Errno;
use strata_sys::fs::NodeKind;

use super::CpStats;
use super::error::{CpError, CpResult};
use super::xattrs::{self, On, Xattrs};

/// What kind of inode an entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Dir,
    File,
    Symlink,
    Node(NodeKind),
    Socket,
}

/// The metadata a copy carries over.
#[derive(Debug, Clone)]
pub(crate) struct Meta {
    pub kind: Kind,
    /// Permission bits incl. set-id and sticky (`& 0o7777`).
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub size: u64,
    pub atime: (i64, u32),
    pub mtime: (i64, u32),
    pub rdev: (u32, u32),
    pub nlink: u64,
    pub dev: u64,
    pub ino: u64,
    /// 512-byte blocks allocated (fewer than the size: a sparse file).
    pub blocks: u64,
}

impl Meta {
    pub fn from_stat(st: &rustix::fs::Stat) -> Meta {
        let kind = match FileType::from_raw_mode(st.st_mode) {
            FileType::Directory => Kind::Dir,
            FileType::RegularFile => Kind::File,
            FileType::Symlink => Kind::Symlink,
            FileType::CharacterDevice => Kind::Node(NodeKind::Char),
            FileType::BlockDevice => Kind::Node(NodeKind::Block),
            FileType::Fifo => Kind::Node(NodeKind::Fifo),
            _ => Kind::Socket,
        };
        Meta {
            kind,
            mode: st.st_mode & 0o7777,
            uid: st.st_uid,
            gid: st.st_gid,
            size: st.st_size as u64,
            atime: (st.st_atime, st.st_atime_nsec as u32),
            mtime: (st.st_mtime, st.st_mtime_nsec as u32),
            rdev: (rustix::fs::major(st.st_rdev), rustix::fs::minor(st.st_rdev)),
            nlink: st.st_nlink,
            dev: st.st_dev,
            ino: st.st_ino,
            blocks: st.st_blocks as u64,
        }
    }

    pub fn is_dir(&self) -> bool {
        self.kind == Kind::Dir
    }

    /// Fewer blocks allocated than the size needs: it has holes.
    pub fn is_sparse(&self) -> bool {
        self.blocks.saturating_mul(512) < self.size
    }
}

/// fstat through any fd (O_PATH included).
pub(crate) fn fstat(fd: BorrowedFd<'_>, shown: &str) -> CpResult<Meta> {
    rustix::fs::fstat(fd).map(|st| Meta::from_stat(&st)).map_err(|e| CpError::io("lstat", shown, e))
}

/// `/proc/self/fd/N[/name]`.
pub(crate) fn proc_path(fd: BorrowedFd<'_>, name: Option<&OsStr>) -> PathBuf {
    let mut p = PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()));
    if let Some(n) = name {
        p.push(n);
    }
    p
}

/// Where a copy writes to. `Dir` is an open destination directory; `None` as a
/// parent means the extraction directory itself.
pub(crate) trait Sink {
    type Dir;
    /// A directory entry, before its children. `name` "." means the extraction
    /// directory itself (`dir/.` merged into an existing directory).
    fn dir(
        &mut self,
        parent: Option<&Self::Dir>,
        name: &OsStr,
        rel: &Path,
        m: &Meta,
        x: &Xattrs,
    ) -> CpResult<Self::Dir>;
    /// After the children: metadata of the directory.
    fn dir_done(&mut self, d: Self::Dir, m: &Meta, x: &Xattrs) -> CpResult<()>;
    /// A regular file; returns whether its data was shared by reflink.
    fn file(
        &mut self,
        parent: Option<&Self::Dir>,
        name: &OsStr,
        rel: &Path,
        m: &Meta,
        x: &Xattrs,
        data: &File,
    ) -> CpResult<bool>;
    fn symlink(
        &mut self,
        parent: Option<&Self::Dir>,
        name: &OsStr,
        rel: &Path,
        m: &Meta,
        x: &Xattrs,
        target: &OsStr,
    ) -> CpResult<()>;
    fn special(&mut self, parent: Option<&Self::Dir>, name: &OsStr, rel: &Path, m: &Meta, x: &Xattrs) -> CpResult<()>;
    /// Another name for the inode first written as `first` (relative to the extraction dir).
    fn hardlink(
        &mut self,
        parent: Option<&Self::Dir>,
        name: &OsStr,
        rel: &Path,
        m: &Meta,
        first: &Path,
    ) -> CpResult<()>;
    /// (dev, ino) of the destination's top directory, to refuse copying a directory into itself.
    fn top_identity(&self) -> Option<(u64, u64)> {
        None
    }
}

/// The top of a copy's source, resolved by the caller.
pub(crate) struct SrcTop {
    /// O_PATH fd of the entry (the link itself when it was not followed).
    pub fd: OwnedFd,
    /// Parent fd and name when the entry was looked up without following it.
    pub at: Option<(OwnedFd, OsString)>,
    pub meta: Meta,
    /// The source as the user named it, for messages.
    pub shown: String,
}

pub(crate) struct Walker<'s, S: Sink> {
    sink: &'s mut S,
    pub stats: CpStats,
    /// (dev, ino) of multiply-linked inodes → where their first copy went.
    links: HashMap<(u64, u64), PathBuf>,
    src_shown: String,
    dst_shown: String,
    /// The source is the host's (trusted): files may be opened by name.
    trusted: bool,
}

impl<'s, S: Sink> Walker<'s, S> {
    pub fn new(sink: &'s mut S, src_shown: &str, dst_shown: &str, trusted: bool) -> Self {
        Walker {
            trusted,
            sink,
            stats: CpStats::default(),
            links: HashMap::new(),
            src_shown: src_shown.to_string(),
            dst_shown: dst_shown.to_string(),
        }
    }

    /// Copy `top` as `name` into the sink's extraction directory.
    pub fn copy_top(&mut self, top: &SrcTop, name: &OsStr) -> CpResult<()> {
        let at = top.at.as_ref().map(|(d, n)| (d.as_fd(), n.as_os_str()));
        self.entry(&top.fd, at, &top.meta, None, name, Path::new(name), &top.shown)
    }

    fn shown_child(base: &str, name: &OsStr) -> String {
        let n = String::from_utf8_lossy(name.as_bytes());
        if base.ends_with('/') { format!("{base}{n}") } else { format!("{base}/{n}") }
    }

    #[allow(clippy::too_many_arguments)]
    fn entry(
        &mut self,
        fd: &OwnedFd,
        at: Option<(BorrowedFd<'_>, &OsStr)>,
        m: &Meta,
        parent: Option<&S::Dir>,
        name: &OsStr,
        rel: &Path,
        shown: &str,
    ) -> CpResult<()> {
        if self.linked(m, parent, name, rel)? {
            return Ok(());
        }
        match m.kind {
            Kind::Dir => self.dir(fd, m, parent, name, rel, shown),
            Kind::File => {
                let data = File::open(proc_path(fd.as_fd(), None)).map_err(|e| CpError::io("open", shown, e))?;
                let now = fstat(data.as_fd(), shown)?;
                if (now.dev, now.ino) != (m.dev, m.ino) || now.kind != Kind::File {
                    return Err(CpError::Changed {
                        path: shown.to_string(),
                        reason: "file replaced while being copied".into(),
                    });
                }
                self.file_data(data, m, parent, name, rel, shown)
            }
            Kind::Symlink => {
                let target =
                    rustix::fs::readlinkat(fd, "", Vec::new()).map_err(|e| CpError::io("readlink", shown, e))?;
                let target = OsString::from_vec(target.into_bytes());
                let x = match at {
                    Some((dir, n)) => xattrs::read(On::Link(&proc_path(dir, Some(n))), shown)?,
                    None => Vec::new(),
                };
                self.sink.symlink(parent, name, rel, m, &x, &target)?;
                self.stats.symlinks += 1;
                Ok(())
            }
            Kind::Node(_) => {
                let x = xattrs::read(On::Deref(&proc_path(fd.as_fd(), None)), shown)?;
                self.sink.special(parent, name, rel, m, &x)?;
                self.stats.specials += 1;
                Ok(())
            }
            Kind::Socket => {
                // A socket is meaningless without its process; Docker's tar skips them too.
                self.stats.sockets_skipped += 1;
                Ok(())
            }
        }
    }

    /// A regular file already open for reading (`m` from its fstat).
    fn file(
        &mut self,
        data: File,
        m: &Meta,
        parent: Option<&S::Dir>,
        name: &OsStr,
        rel: &Path,
        shown: &str,
    ) -> CpResult<()> {
        if self.linked(m, parent, name, rel)? {
            return Ok(());
        }
        self.file_data(data, m, parent, name, rel, shown)
    }

    fn file_data(
        &mut self,
        data: File,
        m: &Meta,
        parent: Option<&S::Dir>,
        name: &OsStr,
        rel: &Path,
        shown: &str,
    ) -> CpResult<()> {
        if m.size >= 1 << 20 {
            // Read whole: a larger readahead window, as cp(1) asks for.
            let _ = rustix::fs::fadvise(&data, 0, None, rustix::fs::Advice::Sequential);
        }
        let x = xattrs::read(On::Fd(data.as_fd()), shown)?;
        if self.sink.file(parent, name, rel, m, &x, &data)? {
            self.stats.reflinked += 1;
        }
        self.stats.files += 1;
        self.stats.bytes += m.size;
        Ok(())
    }

    /// Hard links within the copied tree: true when `m`'s inode was already
    /// copied and `name` has been made another name of that copy.
    fn linked(&mut self, m: &Meta, parent: Option<&S::Dir>, name: &OsStr, rel: &Path) -> CpResult<bool> {
        if m.kind == Kind::Dir || m.kind == Kind::Socket || m.nlink < 2 {
            return Ok(false);
        }
        if let Some(first) = self.links.get(&(m.dev, m.ino)) {
            let first = first.clone();
            self.sink.hardlink(parent, name, rel, m, &first)?;
            self.stats.hardlinks += 1;
            return Ok(true);
        }
        self.links.insert((m.dev, m.ino), rel.to_path_buf());
        Ok(false)
    }

    fn dir(
        &mut self,
        fd: &OwnedFd,
        m: &Meta,
        parent: Option<&S::Dir>,
        name: &OsStr,
        rel: &Path,
        shown: &str,
    ) -> CpResult<()> {
        if self.sink.top_identity() == Some((m.dev, m.ino)) {
            return Err(CpError::IntoItself { src: self.src_shown.clone(), dst: self.dst_shown.clone() });
        }
        let dirfd = rustix::fs::openat(
            fd,
            ".",
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            rustix::fs::Mode::empty(),
        )
        .map_err(|e| CpError::io("open", shown, e))?;
        let dir = File::from(dirfd);
        let x = xattrs::read(On::Fd(dir.as_fd()), shown)?;
        let d = self.sink.dir(parent, name, rel, m, &x)?;
        self.stats.dirs += 1;
        // Regular files are opened directly by name when opening cannot have
        // side effects even if the entry is swapped for a device node: the
        // source is trusted (host), or the directory is on a `nodev` mount (the
        // store's container views are). Otherwise through O_PATH + fstat first.
        let direct = self.trusted
            || rustix::fs::fstatvfs(&dir).is_ok_and(|v| v.f_flag.contains(rustix::fs::StatVfsMountFlags::NODEV));
        let mut names: Vec<(OsString, bool)> = Vec::new();
        let rd = rustix::fs::Dir::read_from(&dir).map_err(|e| CpError::io("readdir", shown, e))?;
        for ent in rd {
            let ent = ent.map_err(|e| CpError::io("readdir", shown, e))?;
            let n = ent.file_name().to_bytes();
            if n == b"." || n == b".." {
                continue;
            }
            names.push((OsString::from_vec(n.to_vec()), ent.file_type() == FileType::RegularFile));
        }
        names.sort();
        for (child, regular) in names {
            let cshown = Self::shown_child(shown, &child);
            if direct && regular {
                let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NOCTTY | OFlags::NONBLOCK | OFlags::CLOEXEC;
                match rustix::fs::openat(&dir, &child, flags, rustix::fs::Mode::empty()) {
                    Ok(fd) => {
                        let data = File::from(fd);
                        let cm = fstat(data.as_fd(), &cshown)?;
                        if cm.kind == Kind::File {
                            self.file(data, &cm, Some(&d), &child, &rel.join(&child), &cshown)?;
                            continue;
                        }
                        // Replaced since it was listed: look again below.
                    }
                    Err(Errno::NOENT) => continue,
                    // A symlink now (ELOOP), or unreadable: look again below.
                    Err(_) => {}
                }
            }
            let cfd = match rustix::fs::openat(
                &dir,
                &child,
                OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                rustix::fs::Mode::empty(),
            ) {
                Ok(fd) => fd,
                // Removed since it was listed: copy what is there, as cp(1) and tar do.
                Err(Errno::NOENT) => continue,
                Err(e) => return Err(CpError::io("open", cshown, e)),
            };
            let cm = fstat(cfd.as_fd(), &cshown)?;
            self.entry(&cfd, Some((dir.as_fd(), &child)), &cm, Some(&d), &child, &rel.join(&child), &cshown)?;
        }
        self.sink.dir_done(d, m, &x)
    }
}
