//! The destination side of a copy into a directory: every inode is created
//! with an `*at` call on an already-open parent directory fd and never by a
//! joined path, the final component is never followed, and a directory is
//! entered only through `openat(O_NOFOLLOW|O_DIRECTORY)`. Docker's
//! `noOverwriteDirNonDir` applies: a non-directory never replaces a directory
//! and a directory never replaces a non-directory (symlinks included: an
//! existing symlink where the source has a directory is an error, never a
//! path to follow). Other non-directories in the way are replaced.
//!
//! Metadata order per inode: owner, then mode (chown clears set-id bits),
//! then xattrs (chown clears `security.capability`), then times; directories
//! get theirs after their contents.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::fs::File;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use rustix::fs::{AtFlags, FileType, Mode, OFlags, Timespec, Timestamps};
use rustix::io::Errno;
use strata_sys::copy::{CopyMethod, copy_file_data};
use strata_sys::fs::NodeKind;
use strata_sys::root::Root;

use super::error::{CpError, CpResult};
use super::walk::{Kind, Meta, Sink, proc_path};
use super::xattrs::{self, On, Xattrs};

/// Who owns what a copy creates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Owner {
    /// The source's uid/gid (`docker cp` host→container without `-a`).
    Keep,
    /// Everything to one uid/gid (`-a`: the container's user; container→host:
    /// the invoking user).
    Force(u32, u32),
}

/// An open destination directory.
pub(crate) struct DirHandle {
    pub fd: File,
    /// The extraction directory of a `dir/.` merge: its own metadata is kept.
    keep_meta: bool,
    rel: PathBuf,
}

pub(crate) struct TreeWriter {
    /// The extraction directory.
    top: OwnedFd,
    /// Confined at the extraction directory: hard link targets are resolved in it.
    root: Root,
    /// The extraction directory as the user sees it (container path or host path).
    shown: String,
    owner: Owner,
    /// Running as root: ownership and `trusted.*` failures are errors.
    privileged: bool,
    /// (dev, ino) of the top directory this copy created or merged into.
    top_id: Option<(u64, u64)>,
    /// Whether the kernel copies between a (source dev, destination dev) pair
    /// with copy_file_range. Between filesystems it refuses (EXDEV, e.g.
    /// overlayfs and its backing filesystem), and `copy_file_data` would copy
    /// through user space: there sendfile(2) does the same copy in the kernel.
    /// Sparse files keep `copy_file_data`, which preserves holes.
    kernel_copy: HashMap<(u64, u64), bool>,
}

/// sendfile(2) all of `src` (from offset 0) into `dst` at its position; `dst`
/// ends up exactly `len` bytes long even if `src` shrank meanwhile.
fn sendfile_all(src: &File, dst: &File, len: u64) -> rustix::io::Result<()> {
    let mut off = 0u64;
    while off < len {
        let want = (len - off).min(1 << 30) as usize;
        match rustix::fs::sendfile(dst, src, Some(&mut off), want) {
            Ok(0) => break,
            Ok(_) => {}
            Err(Errno::INTR) => {}
            Err(e) => return Err(e),
        }
    }
    if off < len {
        dst.set_len(len).map_err(|e| Errno::from_io_error(&e).unwrap_or(Errno::IO))?;
    }
    Ok(())
}

fn ts((sec, nsec): (i64, u32)) -> Timespec {
    Timespec { tv_sec: sec, tv_nsec: nsec as _ }
}

impl TreeWriter {
    /// `top`: the extraction directory (opened `O_RDONLY|O_DIRECTORY`).
    pub fn new(top: OwnedFd, shown: &str, owner: Owner) -> CpResult<TreeWriter> {
        let root = Root::new(&proc_path(top.as_fd(), None))?;
        let privileged = rustix::process::geteuid().is_root();
        Ok(TreeWriter {
            top,
            root,
            shown: shown.to_string(),
            owner,
            privileged,
            top_id: None,
            kernel_copy: HashMap::new(),
        })
    }

    pub fn top(&self) -> BorrowedFd<'_> {
        self.top.as_fd()
    }

    pub fn root(&self) -> &Root {
        &self.root
    }

    /// `rel` (relative to the extraction dir) as the user sees it.
    pub fn shown(&self, rel: &Path) -> String {
        let r = String::from_utf8_lossy(rel.as_os_str().as_bytes());
        if r.is_empty() || r == "." {
            self.shown.clone()
        } else if self.shown.ends_with('/') {
            format!("{}{r}", self.shown)
        } else {
            format!("{}/{r}", self.shown)
        }
    }

    fn owner_of(&self, m: &Meta) -> (u32, u32) {
        match self.owner {
            Owner::Keep => (m.uid, m.gid),
            Owner::Force(u, g) => (u, g),
        }
    }

    fn chown_result(&self, r: rustix::io::Result<()>, rel: &Path) -> CpResult<()> {
        match r {
            Ok(()) => Ok(()),
            // Unprivileged: files stay owned by the caller, as cp(1) without root.
            Err(Errno::PERM) if !self.privileged => Ok(()),
            Err(e) => Err(CpError::io("lchown", self.shown(rel), e)),
        }
    }

    /// What is at `parent/name`, not following it.
    fn lstat_at(&self, parent: BorrowedFd<'_>, name: &OsStr, rel: &Path) -> CpResult<Option<FileType>> {
        match rustix::fs::statat(parent, name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) => Ok(Some(FileType::from_raw_mode(st.st_mode))),
            Err(Errno::NOENT) => Ok(None),
            Err(e) => Err(CpError::io("lstat", self.shown(rel), e)),
        }
    }

    /// Make room for a non-directory at `parent/name`: a directory there is an
    /// error (noOverwriteDirNonDir), anything else is unlinked.
    fn clear_for_nondir(&self, parent: BorrowedFd<'_>, name: &OsStr, rel: &Path) -> CpResult<()> {
        match self.lstat_at(parent, name, rel)? {
            None => Ok(()),
            Some(FileType::Directory) => {
                Err(CpError::OverwriteDirWithNonDir { path: self.shown(rel), dest: self.shown.clone() })
            }
            Some(_) => match rustix::fs::unlinkat(parent, name, AtFlags::empty()) {
                Ok(()) | Err(Errno::NOENT) => Ok(()),
                Err(e) => Err(CpError::io("unlink", self.shown(rel), e)),
            },
        }
    }

    /// Run `make`; if something is in the way, clear it (or fail) and retry once.
    fn create_nondir<T>(
        &self,
        parent: BorrowedFd<'_>,
        name: &OsStr,
        rel: &Path,
        op: &'static str,
        make: impl Fn() -> rustix::io::Result<T>,
    ) -> CpResult<T> {
        match make() {
            Err(Errno::EXIST) => {
                self.clear_for_nondir(parent, name, rel)?;
                make().map_err(|e| CpError::io(op, self.shown(rel), e))
            }
            r => r.map_err(|e| CpError::io(op, self.shown(rel), e)),
        }
    }

    /// Create (or merge into) directory `name` in `parent`; `.` is `parent` itself
    /// (its metadata is then kept, as Docker keeps the target's on `dir/.`).
    pub fn open_dir(&mut self, parent: BorrowedFd<'_>, name: &OsStr, rel: &Path) -> CpResult<DirHandle> {
        let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        if name == "." {
            let fd = rustix::fs::openat(parent, ".", flags, Mode::empty())
                .map_err(|e| CpError::io("open", self.shown(rel), e))?;
            let f = File::from(fd);
            self.note_top(&f, rel)?;
            return Ok(DirHandle { fd: f, keep_meta: true, rel: rel.to_path_buf() });
        }
        match rustix::fs::mkdirat(parent, name, Mode::from_raw_mode(0o700)) {
            Ok(()) => {}
            Err(Errno::EXIST) => {
                if self.lstat_at(parent, name, rel)? != Some(FileType::Directory) {
                    return Err(CpError::OverwriteNonDirWithDir { path: self.shown(rel), dest: self.shown.clone() });
                }
            }
            Err(e) => return Err(CpError::io("mkdir", self.shown(rel), e)),
        }
        let fd = match rustix::fs::openat(parent, name, flags, Mode::empty()) {
            Ok(fd) => fd,
            // Replaced by a non-directory since: never follow it.
            Err(Errno::LOOP | Errno::NOTDIR) => {
                return Err(CpError::OverwriteNonDirWithDir { path: self.shown(rel), dest: self.shown.clone() });
            }
            Err(e) => return Err(CpError::io("open", self.shown(rel), e)),
        };
        let f = File::from(fd);
        self.note_top(&f, rel)?;
        Ok(DirHandle { fd: f, keep_meta: false, rel: rel.to_path_buf() })
    }

    fn note_top(&mut self, f: &File, rel: &Path) -> CpResult<()> {
        if self.top_id.is_none() {
            let st = rustix::fs::fstat(f).map_err(|e| CpError::io("stat", self.shown(rel), e))?;
            self.top_id = Some((st.st_dev, st.st_ino));
        }
        Ok(())
    }

    /// Owner, mode, xattrs and times of a directory, after its contents.
    pub fn finish_dir(&self, d: &DirHandle, m: &Meta, x: &Xattrs) -> CpResult<()> {
        if d.keep_meta {
            return Ok(());
        }
        self.finish_fd(d.fd.as_fd(), m, x, &d.rel)
    }

    /// Owner, mode, xattrs and times through an open fd.
    pub fn finish_fd(&self, fd: BorrowedFd<'_>, m: &Meta, x: &Xattrs, rel: &Path) -> CpResult<()> {
        let (uid, gid) = self.owner_of(m);
        let r = rustix::fs::fchown(
            fd,
            Some(rustix::process::Uid::from_raw(uid)),
            Some(rustix::process::Gid::from_raw(gid)),
        );
        self.chown_result(r, rel)?;
        rustix::fs::fchmod(fd, Mode::from_raw_mode(m.mode & 0o7777))
            .map_err(|e| CpError::io("chmod", self.shown(rel), e))?;
        xattrs::write(On::Fd(fd), x, false, self.privileged, &self.shown(rel))?;
        let t = Timestamps { last_access: ts(m.atime), last_modification: ts(m.mtime) };
        rustix::fs::futimens(fd, &t).map_err(|e| CpError::io("utimes", self.shown(rel), e))
    }

    /// A new regular file `name` in `parent` (permission bits `mode`, less the
    /// umask), replacing a non-directory there.
    pub fn create_file(&self, parent: BorrowedFd<'_>, name: &OsStr, rel: &Path, mode: u32) -> CpResult<File> {
        let flags = OFlags::CREATE | OFlags::EXCL | OFlags::WRONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let fd = self.create_nondir(parent, name, rel, "create", || {
            rustix::fs::openat(parent, name, flags, Mode::from_raw_mode(mode & 0o777))
        })?;
        Ok(File::from(fd))
    }

    /// Metadata of a file this copy created through `f`: owner and mode are
    /// changed only where creation did not already get them right (each is a
    /// journaled inode update on most filesystems).
    pub fn finish_file(&self, f: &File, m: &Meta, x: &Xattrs, rel: &Path) -> CpResult<()> {
        let st = rustix::fs::fstat(f).map_err(|e| CpError::io("stat", self.shown(rel), e))?;
        self.finish_created(f, &st, m, x, rel)
    }

    /// [`TreeWriter::finish_file`] with the file's stat taken after creation.
    fn finish_created(&self, f: &File, st: &rustix::fs::Stat, m: &Meta, x: &Xattrs, rel: &Path) -> CpResult<()> {
        let (uid, gid) = self.owner_of(m);
        if (st.st_uid, st.st_gid) != (uid, gid) {
            let r = rustix::fs::fchown(
                f,
                Some(rustix::process::Uid::from_raw(uid)),
                Some(rustix::process::Gid::from_raw(gid)),
            );
            self.chown_result(r, rel)?;
        }
        // chown clears set-id bits, which creation never sets: both cases land here.
        if st.st_mode & 0o7777 != m.mode & 0o7777 {
            rustix::fs::fchmod(f, Mode::from_raw_mode(m.mode & 0o7777))
                .map_err(|e| CpError::io("chmod", self.shown(rel), e))?;
        }
        xattrs::write(On::Fd(f.as_fd()), x, false, self.privileged, &self.shown(rel))?;
        let t = Timestamps { last_access: ts(m.atime), last_modification: ts(m.mtime) };
        rustix::fs::futimens(f, &t).map_err(|e| CpError::io("utimes", self.shown(rel), e))
    }

    /// Copy `m.size` bytes of `src` into the new, empty `dst`; true when shared by reflink.
    fn copy_data(&mut self, src: &File, dst: &File, dst_dev: u64, m: &Meta, rel: &Path) -> CpResult<bool> {
        let pair = (m.dev, dst_dev);
        if m.size > 0 && !m.is_sparse() {
            // Probed once per pair: a zero-length copy_file_range fails exactly
            // when a real one would (the kernel checks before the length).
            let works = *self.kernel_copy.entry(pair).or_insert_with(|| {
                m.dev == dst_dev || rustix::fs::copy_file_range(src, Some(&mut 0), dst, Some(&mut 0), 0).is_ok()
            });
            if !works {
                match sendfile_all(src, dst, m.size) {
                    Ok(()) => return Ok(false),
                    // Not supported between these either: start over the usual
                    // way, and stay with it for this pair.
                    Err(_) => {
                        self.kernel_copy.insert(pair, true);
                        dst.set_len(0).map_err(|e| CpError::io("truncate", self.shown(rel), e))?;
                        rustix::fs::seek(dst, rustix::fs::SeekFrom::Start(0))
                            .map_err(|e| CpError::io("seek", self.shown(rel), e))?;
                    }
                }
            }
        }
        let method = copy_file_data(src, dst, m.size).map_err(|e| CpError::io("copy", self.shown(rel), e.source))?;
        if method == CopyMethod::ReadWrite && m.size > 0 && !m.is_sparse() {
            self.kernel_copy.insert(pair, false);
        }
        Ok(method == CopyMethod::Reflink)
    }

    pub fn symlink(
        &self,
        parent: BorrowedFd<'_>,
        name: &OsStr,
        rel: &Path,
        target: &OsStr,
        m: &Meta,
        x: &Xattrs,
    ) -> CpResult<()> {
        self.create_nondir(parent, name, rel, "symlink", || rustix::fs::symlinkat(target, parent, name))?;
        self.finish_at(parent, name, rel, m, x, true)
    }

    /// A device node or fifo (device nodes need CAP_MKNOD).
    pub fn special(&self, parent: BorrowedFd<'_>, name: &OsStr, rel: &Path, m: &Meta, x: &Xattrs) -> CpResult<()> {
        let ft = match m.kind {
            Kind::Node(NodeKind::Char) => FileType::CharacterDevice,
            Kind::Node(NodeKind::Block) => FileType::BlockDevice,
            _ => FileType::Fifo,
        };
        let dev = rustix::fs::makedev(m.rdev.0, m.rdev.1);
        self.create_nondir(parent, name, rel, "mknod", || {
            rustix::fs::mknodat(parent, name, ft, Mode::from_raw_mode(0o600), dev)
        })?;
        self.finish_at(parent, name, rel, m, x, false)
    }

    /// Owner, mode, xattrs and times of an inode just created by name, never
    /// following it: if it was swapped for a symlink meanwhile, the symlink
    /// (inside the destination) is what gets changed.
    fn finish_at(
        &self,
        parent: BorrowedFd<'_>,
        name: &OsStr,
        rel: &Path,
        m: &Meta,
        x: &Xattrs,
        symlink: bool,
    ) -> CpResult<()> {
        let (uid, gid) = self.owner_of(m);
        let r = rustix::fs::chownat(
            parent,
            name,
            Some(rustix::process::Uid::from_raw(uid)),
            Some(rustix::process::Gid::from_raw(gid)),
            AtFlags::SYMLINK_NOFOLLOW,
        );
        self.chown_result(r, rel)?;
        if !symlink {
            // fchmodat follows symlinks: chmod through an O_PATH fd of the
            // node itself (its /proc/self/fd link names the inode, not a path).
            let fd = rustix::fs::openat(parent, name, OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC, Mode::empty())
                .map_err(|e| CpError::io("open", self.shown(rel), e))?;
            let st = rustix::fs::fstat(&fd).map_err(|e| CpError::io("stat", self.shown(rel), e))?;
            if FileType::from_raw_mode(st.st_mode) != FileType::Symlink {
                rustix::fs::chmodat(
                    rustix::fs::CWD,
                    proc_path(fd.as_fd(), None),
                    Mode::from_raw_mode(m.mode & 0o7777),
                    AtFlags::empty(),
                )
                .map_err(|e| CpError::io("chmod", self.shown(rel), e))?;
            }
        }
        xattrs::write(On::Link(&proc_path(parent, Some(name))), x, symlink, self.privileged, &self.shown(rel))?;
        let t = Timestamps { last_access: ts(m.atime), last_modification: ts(m.mtime) };
        rustix::fs::utimensat(parent, name, &t, AtFlags::SYMLINK_NOFOLLOW)
            .map_err(|e| CpError::io("utimes", self.shown(rel), e))
    }

    /// `name` in `parent` as another name of `first` (relative to the extraction
    /// dir, resolved confined to it).
    pub fn hardlink(&self, parent: BorrowedFd<'_>, name: &OsStr, rel: &Path, first: &Path) -> CpResult<()> {
        let (fdir, fname) = match self.root.parent_of(first) {
            Ok(p) => p,
            Err(e) => return Err(CpError::io("link", self.shown(rel), e.source)),
        };
        self.create_nondir(parent, name, rel, "link", || {
            rustix::fs::linkat(&fdir, &fname, parent, name, AtFlags::empty())
        })
    }
}

impl Sink for TreeWriter {
    type Dir = DirHandle;

    fn dir(
        &mut self,
        parent: Option<&DirHandle>,
        name: &OsStr,
        rel: &Path,
        _m: &Meta,
        _x: &Xattrs,
    ) -> CpResult<DirHandle> {
        match parent {
            Some(p) => self.open_dir(p.fd.as_fd(), name, rel),
            None => {
                let top = self.top.try_clone().map_err(|e| CpError::io("dup", self.shown(rel), e))?;
                self.open_dir(top.as_fd(), name, rel)
            }
        }
    }

    fn dir_done(&mut self, d: DirHandle, m: &Meta, x: &Xattrs) -> CpResult<()> {
        self.finish_dir(&d, m, x)
    }

    fn file(
        &mut self,
        parent: Option<&DirHandle>,
        name: &OsStr,
        rel: &Path,
        m: &Meta,
        x: &Xattrs,
        data: &File,
    ) -> CpResult<bool> {
        let pfd = parent.map(|p| p.fd.as_fd()).unwrap_or(self.top.as_fd());
        let f = self.create_file(pfd, name, rel, m.mode)?;
        let st = rustix::fs::fstat(&f).map_err(|e| CpError::io("stat", self.shown(rel), e))?;
        let reflinked = self.copy_data(data, &f, st.st_dev, m, rel)?;
        self.finish_created(&f, &st, m, x, rel)?;
        Ok(reflinked)
    }

    fn symlink(
        &mut self,
        parent: Option<&DirHandle>,
        name: &OsStr,
        rel: &Path,
        m: &Meta,
        x: &Xattrs,
        target: &OsStr,
    ) -> CpResult<()> {
        let pfd = parent.map(|p| p.fd.as_fd()).unwrap_or(self.top.as_fd());
        TreeWriter::symlink(self, pfd, name, rel, target, m, x)
    }

    fn special(&mut self, parent: Option<&DirHandle>, name: &OsStr, rel: &Path, m: &Meta, x: &Xattrs) -> CpResult<()> {
        let pfd = parent.map(|p| p.fd.as_fd()).unwrap_or(self.top.as_fd());
        TreeWriter::special(self, pfd, name, rel, m, x)
    }

    fn hardlink(
        &mut self,
        parent: Option<&DirHandle>,
        name: &OsStr,
        rel: &Path,
        _m: &Meta,
        first: &Path,
    ) -> CpResult<()> {
        let pfd = parent.map(|p| p.fd.as_fd()).unwrap_or(self.top.as_fd());
        TreeWriter::hardlink(self, pfd, name, rel, first)
    }

    fn top_identity(&self) -> Option<(u64, u64)> {
        self.top_id
    }
}
