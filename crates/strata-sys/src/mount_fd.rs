//! Mounts onto file descriptors, and mount facts read from them.
//!
//! A mount target inside a container's rootfs is untrusted: resolving it as a
//! path string a second time, at mount(2) time, lets a container swap a
//! component for a symlink and redirect the mount onto the host
//! (GHSA-vp62-88p7-qqf5 / CVE-2026-41568, GHSA-rg2x-37c3-w2rh). The fix, here
//! as in Docker 29.5.1: resolve the target once, confined
//! ([`crate::root::Root`]), keep the fd, and mount onto *that fd*
//! (`move_mount(..., MOVE_MOUNT_T_EMPTY_PATH)`; on kernels without the new
//! mount API, onto its `/proc/self/fd/N` magic link, which names the pinned
//! inode and is not re-resolved).

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

use rustix::fs::{AtFlags, CWD, FileType, Mode, OFlags, StatVfsMountFlags, StatxFlags};
use rustix::io::Errno;
use rustix::mount::{MountFlags, MoveMountFlags, OpenTreeFlags};

use crate::error::{Ctx, SysError, SysResult};

/// `/proc/self/fd/N` of `fd`, for messages and magic-link fallbacks.
fn proc_fd(fd: BorrowedFd<'_>) -> PathBuf {
    PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()))
}

/// Attributes a mount can be restricted with ([`restrict_mount`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MountRestrictions {
    pub readonly: bool,
    /// Device nodes cannot be opened through the mount (they can still be created).
    pub nodev: bool,
    /// set-id bits and file capabilities are ignored on exec.
    pub nosuid: bool,
}

impl MountRestrictions {
    fn attr_bits(self) -> u64 {
        let mut bits = 0;
        if self.readonly {
            bits |= libc::MOUNT_ATTR_RDONLY;
        }
        if self.nodev {
            bits |= libc::MOUNT_ATTR_NODEV;
        }
        if self.nosuid {
            bits |= libc::MOUNT_ATTR_NOSUID;
        }
        bits
    }

    fn ms_flags(self) -> MountFlags {
        let mut f = MountFlags::empty();
        if self.readonly {
            f |= MountFlags::RDONLY;
        }
        if self.nodev {
            f |= MountFlags::NODEV;
        }
        if self.nosuid {
            f |= MountFlags::NOSUID;
        }
        f
    }
}

/// `struct mount_attr` of mount_setattr(2).
#[repr(C)]
struct MountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

/// mount_setattr(fd, "", AT_EMPTY_PATH [| AT_RECURSIVE], attrs).
fn mount_setattr_fd(fd: BorrowedFd<'_>, set: u64, recursive: bool) -> std::io::Result<()> {
    if set == 0 {
        return Ok(());
    }
    let attr = MountAttr { attr_set: set, attr_clr: 0, propagation: 0, userns_fd: 0 };
    let mut flags = libc::AT_EMPTY_PATH;
    if recursive {
        flags |= libc::AT_RECURSIVE;
    }
    // SAFETY: rustix has no mount_setattr. The path is a valid, NUL-terminated
    // empty C string, `fd` is a live descriptor, and `attr` is a correctly laid
    // out `struct mount_attr` of the size passed.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            fd.as_raw_fd(),
            c"".as_ptr(),
            flags as libc::c_uint,
            &attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    };
    if rc == 0 { Ok(()) } else { Err(std::io::Error::last_os_error()) }
}

/// Bind-mount `source` (a host path the caller trusts, resolved normally;
/// its submounts come along, as with Docker's `rbind`) onto the inode that
/// `target` refers to — typically an `O_PATH` fd from [`crate::root::Root`]
/// (`mkdir_all`, `open`). Directories go onto directories, files onto files.
///
/// `readonly` makes the whole new mount tree read-only before it becomes
/// visible (mount_setattr on the detached tree), so there is no window in
/// which it is writable. The target is never resolved by path again, so a
/// symlink swapped into the container meanwhile cannot redirect the mount.
pub fn bind_mount_onto_fd(source: &Path, target_dir: BorrowedFd<'_>, readonly: bool) -> SysResult<()> {
    let restrict = MountRestrictions { readonly, ..Default::default() };
    bind_mount_onto_fd_with(source, target_dir, restrict)
}

/// [`bind_mount_onto_fd`] with more restrictions on the new mount tree
/// (e.g. `nodev`/`nosuid` for a view that strata itself reads from).
pub fn bind_mount_onto_fd_with(source: &Path, target: BorrowedFd<'_>, restrict: MountRestrictions) -> SysResult<()> {
    let flags = OpenTreeFlags::OPEN_TREE_CLONE | OpenTreeFlags::OPEN_TREE_CLOEXEC | OpenTreeFlags::AT_RECURSIVE;
    let tree = match rustix::mount::open_tree(CWD, source, flags) {
        Ok(t) => t,
        Err(Errno::NOSYS) => return bind_mount_legacy(source, target, restrict),
        Err(e) => return Err(SysError::new("open_tree(OPEN_TREE_CLONE)", source, e)),
    };
    let mut remount_after = false;
    match mount_setattr_fd(tree.as_fd(), restrict.attr_bits(), true) {
        Ok(()) => {}
        Err(e) if e.raw_os_error() == Some(libc::ENOSYS) => remount_after = true,
        Err(e) => return Err(SysError::new("mount_setattr", source, e)),
    }
    rustix::mount::move_mount(
        tree.as_fd(),
        "",
        target,
        "",
        MoveMountFlags::MOVE_MOUNT_F_EMPTY_PATH | MoveMountFlags::MOVE_MOUNT_T_EMPTY_PATH,
    )
    .ctx("move_mount onto pinned fd", &proc_fd(target))?;
    if remount_after {
        // Kernel < 5.12: the tree fd now names the attached mount's root.
        let p = proc_fd(tree.as_fd());
        rustix::mount::mount_remount(&p, MountFlags::BIND | restrict.ms_flags(), "").ctx("remount bind", &p)?;
    }
    Ok(())
}

/// Kernels without open_tree (< 5.2): mount(2) onto the fd's magic link.
fn bind_mount_legacy(source: &Path, target: BorrowedFd<'_>, restrict: MountRestrictions) -> SysResult<()> {
    let t = proc_fd(target);
    rustix::mount::mount_bind_recursive(source, &t).ctx("mount rbind", &t)?;
    if restrict != MountRestrictions::default() {
        return Err(SysError::new(
            "remount bind",
            &t,
            std::io::Error::new(
                std::io::ErrorKind::Unsupported,
                "restricting a bind mount onto an fd needs Linux >= 5.2",
            ),
        ));
    }
    Ok(())
}

/// Restrict the mount whose root `mount_root` refers to (and, with
/// `recursive`, every mount below it). Restrictions are only added, never cleared.
pub fn restrict_mount(mount_root: BorrowedFd<'_>, restrict: MountRestrictions, recursive: bool) -> SysResult<()> {
    match mount_setattr_fd(mount_root, restrict.attr_bits(), recursive) {
        Ok(()) => Ok(()),
        Err(e) if e.raw_os_error() == Some(libc::ENOSYS) => {
            let p = proc_fd(mount_root);
            let cur = rustix::fs::fstatvfs(mount_root).ctx("fstatvfs", &p)?;
            let mut flags = MountFlags::BIND | restrict.ms_flags();
            // A bind remount replaces the per-mount flags: keep the current ones.
            if cur.f_flag.contains(StatVfsMountFlags::RDONLY) {
                flags |= MountFlags::RDONLY;
            }
            if cur.f_flag.contains(StatVfsMountFlags::NODEV) {
                flags |= MountFlags::NODEV;
            }
            if cur.f_flag.contains(StatVfsMountFlags::NOSUID) {
                flags |= MountFlags::NOSUID;
            }
            if cur.f_flag.contains(StatVfsMountFlags::NOEXEC) {
                flags |= MountFlags::NOEXEC;
            }
            rustix::mount::mount_remount(&p, flags, "").ctx("remount bind", &p)
        }
        Err(e) => Err(SysError::new("mount_setattr", proc_fd(mount_root), e)),
    }
}

/// Resolve (creating if missing) the mount point `dest` inside `root`,
/// confined, and return an `O_PATH` fd pinning it for [`bind_mount_onto_fd`]:
/// a directory (`mkdir -p`, as Docker creates volume mount points), or for a
/// file bind an empty regular file (0644) in a confined parent. Anything else
/// at `dest` — a directory where a file is wanted, a symlink — is refused.
pub fn mount_target(root: &crate::root::Root, dest: &Path, dir: bool) -> SysResult<OwnedFd> {
    if dir {
        return root.mkdir_all(dest, 0o755);
    }
    let parent = root.mkdir_all(dest.parent().unwrap_or(Path::new("/")), 0o755)?;
    let name = dest.file_name().unwrap_or_default();
    let open = || rustix::fs::openat(&parent, name, OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC, Mode::empty());
    let fd = match open() {
        Ok(fd) => fd,
        Err(Errno::NOENT) => {
            drop(crate::fs::create_file_at(&parent, name, 0o644)?);
            open().ctx("open", dest)?
        }
        Err(e) => return Err(SysError::new("open", dest, e)),
    };
    let st = rustix::fs::fstat(&fd).ctx("stat", dest)?;
    if FileType::from_raw_mode(st.st_mode) != FileType::RegularFile {
        return Err(SysError::new(
            "mount point",
            dest,
            std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "a file can only be bind-mounted onto a regular file",
            ),
        ));
    }
    Ok(fd)
}

/// The id of the mount `fd` lives on (statx `STATX_MNT_ID`).
pub fn mount_id(fd: BorrowedFd<'_>) -> SysResult<u64> {
    let st = rustix::fs::statx(fd, "", AtFlags::EMPTY_PATH, StatxFlags::MNT_ID).ctx("statx", &proc_fd(fd))?;
    if st.stx_mask & StatxFlags::MNT_ID.bits() == 0 {
        return Err(SysError::new(
            "statx",
            proc_fd(fd),
            std::io::Error::new(std::io::ErrorKind::Unsupported, "no mount ids (Linux < 5.8)"),
        ));
    }
    Ok(st.stx_mnt_id)
}

/// Whether the mount `fd` lives on is read-only (`ST_RDONLY` of fstatvfs).
pub fn is_readonly_mount(fd: BorrowedFd<'_>) -> SysResult<bool> {
    let st = rustix::fs::fstatvfs(fd).ctx("fstatvfs", &proc_fd(fd))?;
    Ok(st.f_flag.contains(StatVfsMountFlags::RDONLY))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::require_root;
    use crate::root::Root;
    use std::os::unix::fs::symlink;

    fn erofs(p: &Path) -> bool {
        std::fs::write(p, b"x").unwrap_err().raw_os_error() == Some(libc::EROFS)
    }

    /// Runs `f` on a thread of its own inside a private mount namespace, so
    /// nothing it mounts is visible to the host or outlives it.
    fn in_private_ns(f: impl FnOnce() + Send + 'static) {
        std::thread::spawn(move || {
            crate::ns::private_mount_namespace().unwrap();
            f()
        })
        .join()
        .unwrap();
    }

    #[test]
    fn bind_onto_confined_fd_ignores_later_symlink_swap() {
        if !require_root("bind_onto_confined_fd_ignores_later_symlink_swap") {
            return;
        }
        let t = tempfile::tempdir().unwrap();
        let base = t.path().to_path_buf();
        in_private_ns(move || {
            let (src, root_dir, host) = (base.join("src"), base.join("root"), base.join("host"));
            for d in [&src, &root_dir, &host] {
                std::fs::create_dir_all(d).unwrap();
            }
            std::fs::write(src.join("vol.txt"), b"vol").unwrap();
            let root = Root::new(&root_dir).unwrap();
            let fd = root.mkdir_all(Path::new("data"), 0o755).unwrap();
            // The container swaps `data` for a symlink to a host dir after resolution.
            std::fs::rename(root_dir.join("data"), root_dir.join("moved")).unwrap();
            symlink(&host, root_dir.join("data")).unwrap();
            bind_mount_onto_fd(&src, fd.as_fd(), true).unwrap();
            // The mount landed on the resolved inode, wherever it now is; the host dir is untouched.
            assert_eq!(std::fs::read(root_dir.join("moved/vol.txt")).unwrap(), b"vol");
            assert!(!host.join("vol.txt").exists());
            assert!(erofs(&root_dir.join("moved/new")));
            let m = std::fs::File::open(root_dir.join("moved")).unwrap();
            assert!(is_readonly_mount(m.as_fd()).unwrap());
            let up = std::fs::File::open(&root_dir).unwrap();
            assert!(!is_readonly_mount(up.as_fd()).unwrap());
            assert_ne!(mount_id(m.as_fd()).unwrap(), mount_id(up.as_fd()).unwrap());
        });
    }

    #[test]
    fn restrict_mount_readonly_nodev() {
        if !require_root("restrict_mount_readonly_nodev") {
            return;
        }
        let t = tempfile::tempdir().unwrap();
        let base = t.path().to_path_buf();
        in_private_ns(move || {
            let (src, dst) = (base.join("src"), base.join("dst"));
            std::fs::create_dir_all(&src).unwrap();
            std::fs::create_dir_all(&dst).unwrap();
            crate::fs::mknod(&src.join("null"), crate::fs::NodeKind::Char, 0o666, 1, 3).unwrap();
            let target = std::fs::File::open(&dst).unwrap();
            bind_mount_onto_fd(&src, target.as_fd(), false).unwrap();
            let top = std::fs::File::open(&dst).unwrap();
            std::fs::write(dst.join("w"), b"1").unwrap();
            restrict_mount(top.as_fd(), MountRestrictions { readonly: true, nodev: true, nosuid: true }, false)
                .unwrap();
            assert!(erofs(&dst.join("w2")));
            let e = std::fs::File::open(dst.join("null")).unwrap_err();
            assert_eq!(e.raw_os_error(), Some(libc::EACCES));
        });
    }
}
