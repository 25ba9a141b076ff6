//! Inode-level operations used by layer extraction, copies and drivers.
//!
//! All functions act on the path itself and never follow a final symlink, so a
//! hostile tree cannot redirect ownership or xattr changes onto the host.

use std::ffi::{OsStr, OsString};
use std::os::fd::AsFd;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

use rustix::fs::{AtFlags, CWD, FileType, Mode, Timespec, Timestamps};

use crate::error::{Ctx, SysResult};

/// Change owner of `path` without following a final symlink.
pub fn lchown(path: &Path, uid: u32, gid: u32) -> SysResult<()> {
    std::os::unix::fs::lchown(path, Some(uid), Some(gid)).ctx("lchown", path)
}

/// Same as [`lchown`], relative to a directory fd.
pub fn lchown_at(dir: impl AsFd, name: &OsStr, uid: u32, gid: u32) -> SysResult<()> {
    rustix::fs::chownat(
        dir,
        name,
        Some(rustix::process::Uid::from_raw(uid)),
        Some(rustix::process::Gid::from_raw(gid)),
        AtFlags::SYMLINK_NOFOLLOW,
    )
    .ctx("lchown", Path::new(name))
}

/// Set access and modification times (seconds, nanoseconds) without following symlinks.
pub fn set_times(path: &Path, atime: (i64, u32), mtime: (i64, u32)) -> SysResult<()> {
    let ts = Timestamps {
        last_access: Timespec { tv_sec: atime.0, tv_nsec: atime.1 as _ },
        last_modification: Timespec { tv_sec: mtime.0, tv_nsec: mtime.1 as _ },
    };
    rustix::fs::utimensat(CWD, path, &ts, AtFlags::SYMLINK_NOFOLLOW).ctx("utimensat", path)
}

/// Set permission bits (never called on symlinks, which have none on Linux).
pub fn chmod(path: &Path, mode: u32) -> SysResult<()> {
    rustix::fs::chmodat(CWD, path, Mode::from_raw_mode(mode & 0o7777), AtFlags::empty()).ctx("chmod", path)
}

/// Kinds of special files a layer may contain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeKind {
    Char,
    Block,
    Fifo,
}

/// Create a device node or fifo. Device nodes need CAP_MKNOD.
pub fn mknod(path: &Path, kind: NodeKind, mode: u32, major: u32, minor: u32) -> SysResult<()> {
    let ft = match kind {
        NodeKind::Char => FileType::CharacterDevice,
        NodeKind::Block => FileType::BlockDevice,
        NodeKind::Fifo => FileType::Fifo,
    };
    let dev = rustix::fs::makedev(major, minor);
    rustix::fs::mknodat(CWD, path, ft, Mode::from_raw_mode(mode & 0o7777), dev).ctx("mknod", path)
}

/// Create an overlayfs whiteout: a character device 0/0.
pub fn mknod_whiteout(path: &Path) -> SysResult<()> {
    mknod(path, NodeKind::Char, 0, 0, 0)
}

/// Whether metadata describes an overlayfs whiteout (char device 0/0).
pub fn is_whiteout(md: &std::fs::Metadata) -> bool {
    md.file_type().is_char_device() && md.rdev() == 0
}

/// Split a device number into (major, minor).
pub fn dev_major_minor(rdev: u64) -> (u32, u32) {
    (rustix::fs::major(rdev), rustix::fs::minor(rdev))
}

/// All extended attributes of `path` (not following symlinks).
/// Filesystems without xattr support yield an empty list.
pub fn list_xattrs(path: &Path) -> SysResult<Vec<(OsString, Vec<u8>)>> {
    let names = match xattr::list(path) {
        Ok(n) => n,
        Err(e) if is_unsupported(&e) => return Ok(Vec::new()),
        Err(e) => return Err(crate::SysError::new("listxattr", path, e)),
    };
    let mut out = Vec::new();
    for name in names {
        match xattr::get(path, &name) {
            Ok(Some(v)) => out.push((name, v)),
            Ok(None) => {}
            Err(e) if is_unsupported(&e) => {}
            Err(e) => return Err(crate::SysError::new("getxattr", path, e)),
        }
    }
    out.sort();
    Ok(out)
}

/// One extended attribute, `None` when absent or unsupported.
pub fn get_xattr(path: &Path, name: &str) -> SysResult<Option<Vec<u8>>> {
    match xattr::get(path, name) {
        Ok(v) => Ok(v),
        Err(e) if is_unsupported(&e) => Ok(None),
        Err(e) => Err(crate::SysError::new("getxattr", path, e)),
    }
}

/// Set one extended attribute (not following symlinks).
pub fn set_xattr(path: &Path, name: impl AsRef<OsStr>, value: &[u8]) -> SysResult<()> {
    xattr::set(path, name, value).ctx("setxattr", path)
}

/// Remove one extended attribute; absent is not an error.
pub fn remove_xattr(path: &Path, name: &str) -> SysResult<()> {
    match xattr::remove(path, name) {
        Ok(()) => Ok(()),
        Err(e) if e.raw_os_error() == Some(libc::ENODATA) || is_unsupported(&e) => Ok(()),
        Err(e) => Err(crate::SysError::new("removexattr", path, e)),
    }
}

fn is_unsupported(e: &std::io::Error) -> bool {
    e.raw_os_error() == Some(libc::ENOTSUP) || e.raw_os_error() == Some(libc::EOPNOTSUPP)
}

/// fsync a file or directory by path.
pub fn fsync_path(path: &Path) -> SysResult<()> {
    let f = std::fs::File::open(path).ctx("open", path)?;
    f.sync_all().ctx("fsync", path)
}

/// Write `data` to `path` atomically: stage beside it, fsync, rename, fsync the directory.
pub fn write_atomic(path: &Path, data: &[u8]) -> SysResult<()> {
    use std::io::Write;
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = dir.join(format!(
        ".{}.tmp-{}",
        path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
        std::process::id()
    ));
    let mut f = std::fs::File::create(&tmp).ctx("create", &tmp)?;
    f.write_all(data).ctx("write", &tmp)?;
    f.sync_all().ctx("fsync", &tmp)?;
    drop(f);
    std::fs::rename(&tmp, path).ctx("rename", path)?;
    fsync_path(dir)
}

/// Exchange two paths atomically (both must exist), e.g. to publish a staged directory.
pub fn rename_exchange(a: &Path, b: &Path) -> SysResult<()> {
    rustix::fs::renameat_with(CWD, a, CWD, b, rustix::fs::RenameFlags::EXCHANGE).ctx("renameat2(EXCHANGE)", b)
}

/// Rename that fails with EEXIST instead of replacing `to`.
pub fn rename_noreplace(from: &Path, to: &Path) -> SysResult<()> {
    rustix::fs::renameat_with(CWD, from, CWD, to, rustix::fs::RenameFlags::NOREPLACE).ctx("renameat2(NOREPLACE)", to)
}

// ---- Directory-fd relative operations (layer extraction hot path) ----
//
// `dir` is a directory fd (an O_PATH fd from `Root` works) and `name` a single
// final component; none of these follow a final symlink. Errors name `name`.

/// Create a new regular file `name` in `dir` (O_CREAT|O_EXCL|O_NOFOLLOW), open for writing.
pub fn create_file_at(dir: impl AsFd, name: &OsStr, mode: u32) -> SysResult<std::fs::File> {
    use rustix::fs::OFlags;
    let flags = OFlags::CREATE | OFlags::EXCL | OFlags::WRONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let fd = rustix::fs::openat(dir, name, flags, Mode::from_raw_mode(mode & 0o7777)).ctx("create", Path::new(name))?;
    Ok(std::fs::File::from(fd))
}

/// Open `name` in `dir` with `flags` (O_NOFOLLOW and O_CLOEXEC are always added).
pub fn open_at(dir: impl AsFd, name: &OsStr, flags: rustix::fs::OFlags) -> SysResult<std::os::fd::OwnedFd> {
    use rustix::fs::OFlags;
    rustix::fs::openat(dir, name, flags | OFlags::NOFOLLOW | OFlags::CLOEXEC, Mode::empty())
        .ctx("open", Path::new(name))
}

/// `mkdirat(dir, name, mode)`.
pub fn mkdir_at(dir: impl AsFd, name: &OsStr, mode: u32) -> SysResult<()> {
    rustix::fs::mkdirat(dir, name, Mode::from_raw_mode(mode & 0o7777)).ctx("mkdir", Path::new(name))
}

/// Create symlink `name` in `dir` pointing at `target` (stored verbatim).
pub fn symlink_at(target: &OsStr, dir: impl AsFd, name: &OsStr) -> SysResult<()> {
    rustix::fs::symlinkat(target, dir, name).ctx("symlink", Path::new(name))
}

/// Hard link `old_dir/old_name` as `new_dir/new_name`; a symlink is linked itself, not followed.
pub fn hardlink_at(old_dir: impl AsFd, old_name: &OsStr, new_dir: impl AsFd, new_name: &OsStr) -> SysResult<()> {
    rustix::fs::linkat(old_dir, old_name, new_dir, new_name, AtFlags::empty()).ctx("link", Path::new(new_name))
}

/// [`mknod`] relative to a directory fd.
pub fn mknod_at(dir: impl AsFd, name: &OsStr, kind: NodeKind, mode: u32, major: u32, minor: u32) -> SysResult<()> {
    let ft = match kind {
        NodeKind::Char => FileType::CharacterDevice,
        NodeKind::Block => FileType::BlockDevice,
        NodeKind::Fifo => FileType::Fifo,
    };
    let dev = rustix::fs::makedev(major, minor);
    rustix::fs::mknodat(dir, name, ft, Mode::from_raw_mode(mode & 0o7777), dev).ctx("mknod", Path::new(name))
}

/// Remove a non-directory (`rmdir == false`) or an empty directory.
pub fn unlink_at(dir: impl AsFd, name: &OsStr, rmdir: bool) -> SysResult<()> {
    let flags = if rmdir { AtFlags::REMOVEDIR } else { AtFlags::empty() };
    rustix::fs::unlinkat(dir, name, flags).ctx("unlink", Path::new(name))
}

/// Set permission bits of `name` in `dir`. Only for non-symlinks the caller just
/// created or checked (Linux has no mode on symlinks; fchmodat follows them).
pub fn chmod_at(dir: impl AsFd, name: &OsStr, mode: u32) -> SysResult<()> {
    rustix::fs::chmodat(dir, name, Mode::from_raw_mode(mode & 0o7777), AtFlags::empty()).ctx("chmod", Path::new(name))
}

/// [`set_times`] relative to a directory fd (not following a final symlink).
pub fn set_times_at(dir: impl AsFd, name: &OsStr, atime: (i64, u32), mtime: (i64, u32)) -> SysResult<()> {
    let ts = Timestamps {
        last_access: Timespec { tv_sec: atime.0, tv_nsec: atime.1 as _ },
        last_modification: Timespec { tv_sec: mtime.0, tv_nsec: mtime.1 as _ },
    };
    rustix::fs::utimensat(dir, name, &ts, AtFlags::SYMLINK_NOFOLLOW).ctx("utimensat", Path::new(name))
}

/// `syncfs(2)` on the filesystem holding `path`: one flush for a whole extracted tree.
pub fn syncfs(path: &Path) -> SysResult<()> {
    let f = std::fs::File::open(path).ctx("open", path)?;
    rustix::fs::syncfs(&f).ctx("syncfs", path)
}

/// Remove the tree at `path` (missing is not an error) without ever descending
/// into a mount point: one found anywhere below fails the removal with EBUSY
/// before anything under it is touched. Directories without owner rwx are made
/// accessible first when not running as root.
pub fn remove_tree(path: &Path) -> SysResult<()> {
    let md = match std::fs::symlink_metadata(path) {
        Ok(md) => md,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(crate::SysError::new("stat", path, e)),
    };
    if !md.is_dir() {
        return std::fs::remove_file(path).ctx("unlink", path);
    }
    if crate::mount::is_mountpoint(path) {
        return Err(crate::SysError::new(
            "remove",
            path,
            std::io::Error::new(std::io::ErrorKind::ResourceBusy, "refusing to remove a mount point"),
        ));
    }
    use std::os::unix::fs::PermissionsExt;
    if !rustix::process::geteuid().is_root() && md.permissions().mode() & 0o700 != 0o700 {
        chmod(path, md.permissions().mode() | 0o700)?;
    }
    for entry in std::fs::read_dir(path).ctx("readdir", path)? {
        let entry = entry.ctx("readdir", path)?;
        remove_tree(&entry.path())?;
    }
    match std::fs::remove_dir(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(crate::SysError::new("rmdir", path, e)),
        _ => Ok(()),
    }
}

/// Ask the kernel to start writing `f`'s dirty pages back now, without waiting
/// (`sync_file_range(SYNC_FILE_RANGE_WRITE)`). Durability still needs a later
/// fsync/syncfs; this only lets the disk work while the caller goes on.
pub fn start_writeback(f: &std::fs::File) {
    use std::os::fd::AsRawFd;
    // SAFETY: a valid fd for the whole call; the range 0..0 means "to the end".
    unsafe {
        libc::sync_file_range(f.as_raw_fd(), 0, 0, libc::SYNC_FILE_RANGE_WRITE);
    }
}
