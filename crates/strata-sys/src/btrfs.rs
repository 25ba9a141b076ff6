//! btrfs subvolumes and snapshots through the raw ioctls (as Docker's btrfs
//! driver does; no libbtrfsutil needed).
//!
//! | ioctl                       | used by                                     |
//! |-----------------------------|---------------------------------------------|
//! | `BTRFS_IOC_SUBVOL_CREATE`   | [`create_subvolume`]                         |
//! | `BTRFS_IOC_SNAP_CREATE_V2`  | [`snapshot`] (`BTRFS_SUBVOL_RDONLY` flag)    |
//! | `BTRFS_IOC_SNAP_DESTROY`    | [`delete_subvolume`]                         |
//! | `BTRFS_IOC_SUBVOL_{GET,SET}FLAGS` | [`set_readonly`], [`is_readonly`]      |
//!
//! A subvolume's root directory is inode 256 (`BTRFS_FIRST_FREE_OBJECTID`), and
//! each subvolume has its own anonymous device number, which is how nested
//! subvolumes are found when deleting.
//!
//! Hazard: `SNAP_DESTROY` fails with ENOTEMPTY while a subvolume contains other
//! subvolumes, and a read-only subvolume cannot have its nested subvolumes
//! removed; [`delete_subvolume`] clears the read-only flag and deletes
//! depth-first.

use std::ffi::OsStr;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use rustix::fs::{Mode, OFlags};
use rustix::ioctl::{Getter, Setter, opcode};

use crate::error::{Ctx, SysError, SysResult};

/// `statfs.f_type` of btrfs.
pub const BTRFS_SUPER_MAGIC: u64 = 0x9123_683E;
/// Inode number of every subvolume's root directory.
pub const BTRFS_FIRST_FREE_OBJECTID: u64 = 256;

const BTRFS_IOCTL_MAGIC: u8 = 0x94;
const BTRFS_PATH_NAME_MAX: usize = 4087;
const BTRFS_SUBVOL_NAME_MAX: usize = 4039;
const BTRFS_SUBVOL_RDONLY: u64 = 1 << 1;

/// `struct btrfs_ioctl_vol_args` (4096 bytes).
#[repr(C)]
struct VolArgs {
    fd: i64,
    name: [u8; BTRFS_PATH_NAME_MAX + 1],
}

/// `struct btrfs_ioctl_vol_args_v2` (4096 bytes).
#[repr(C)]
struct VolArgsV2 {
    fd: i64,
    transid: u64,
    flags: u64,
    unused: [u64; 4],
    name: [u8; BTRFS_SUBVOL_NAME_MAX + 1],
}

const _: () = assert!(std::mem::size_of::<VolArgs>() == 4096);
const _: () = assert!(std::mem::size_of::<VolArgsV2>() == 4096);

const IOC_SUBVOL_CREATE: u32 = opcode::write::<VolArgs>(BTRFS_IOCTL_MAGIC, 14);
const IOC_SNAP_DESTROY: u32 = opcode::write::<VolArgs>(BTRFS_IOCTL_MAGIC, 15);
const IOC_SNAP_CREATE_V2: u32 = opcode::write::<VolArgsV2>(BTRFS_IOCTL_MAGIC, 23);
const IOC_SUBVOL_GETFLAGS: u32 = opcode::read::<u64>(BTRFS_IOCTL_MAGIC, 25);
const IOC_SUBVOL_SETFLAGS: u32 = opcode::write::<u64>(BTRFS_IOCTL_MAGIC, 26);

fn open_dir(path: &Path) -> SysResult<OwnedFd> {
    rustix::fs::open(path, OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC | OFlags::NOFOLLOW, Mode::empty())
        .ctx("open", path)
}

/// The parent directory fd and final name of `path`, checked to fit `max` bytes.
fn parent_and_name(path: &Path, max: usize) -> SysResult<(OwnedFd, &OsStr)> {
    let name = path.file_name().ok_or_else(|| {
        SysError::new(
            "btrfs",
            path,
            std::io::Error::new(std::io::ErrorKind::InvalidInput, "path has no final component"),
        )
    })?;
    if name.len() > max {
        return Err(SysError::new("btrfs", path, std::io::Error::from_raw_os_error(libc::ENAMETOOLONG)));
    }
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    Ok((open_dir(parent)?, name))
}

/// Create an empty subvolume at `path` (which must not exist).
pub fn create_subvolume(path: &Path) -> SysResult<()> {
    let (parent, name) = parent_and_name(path, BTRFS_PATH_NAME_MAX)?;
    let mut args = VolArgs { fd: 0, name: [0; BTRFS_PATH_NAME_MAX + 1] };
    args.name[..name.len()].copy_from_slice(name.as_bytes());
    // SAFETY: the opcode is BTRFS_IOC_SUBVOL_CREATE, whose argument is a
    // `struct btrfs_ioctl_vol_args`, laid out by `VolArgs` (size asserted above).
    unsafe { rustix::ioctl::ioctl(&parent, Setter::<IOC_SUBVOL_CREATE, VolArgs>::new(args)) }
        .ctx("btrfs subvolume create", path)
}

/// Snapshot subvolume `src` as a new subvolume `dst`, read-only if asked.
pub fn snapshot(src: &Path, dst: &Path, readonly: bool) -> SysResult<()> {
    let src_fd = open_dir(src)?;
    let (parent, name) = parent_and_name(dst, BTRFS_SUBVOL_NAME_MAX)?;
    let mut args = VolArgsV2 {
        fd: std::os::fd::AsRawFd::as_raw_fd(&src_fd) as i64,
        transid: 0,
        flags: if readonly { BTRFS_SUBVOL_RDONLY } else { 0 },
        unused: [0; 4],
        name: [0; BTRFS_SUBVOL_NAME_MAX + 1],
    };
    args.name[..name.len()].copy_from_slice(name.as_bytes());
    // SAFETY: BTRFS_IOC_SNAP_CREATE_V2 takes a `struct btrfs_ioctl_vol_args_v2`,
    // laid out by `VolArgsV2`; `src_fd` stays open for the call.
    let r = unsafe { rustix::ioctl::ioctl(&parent, Setter::<IOC_SNAP_CREATE_V2, VolArgsV2>::new(args)) };
    drop(src_fd);
    r.ctx("btrfs subvolume snapshot", dst)
}

/// Whether `path` is the root of a btrfs subvolume (inode 256 of a directory on btrfs).
pub fn is_subvolume(path: &Path) -> bool {
    let Ok(md) = std::fs::symlink_metadata(path) else { return false };
    if !md.is_dir() || md.ino() != BTRFS_FIRST_FREE_OBJECTID {
        return false;
    }
    is_btrfs(path)
}

/// Whether `path` is on btrfs.
pub fn is_btrfs(path: &Path) -> bool {
    rustix::fs::statfs(path).map(|s| s.f_type as u64 == BTRFS_SUPER_MAGIC).unwrap_or(false)
}

fn get_flags(fd: impl AsFd, path: &Path) -> SysResult<u64> {
    // SAFETY: BTRFS_IOC_SUBVOL_GETFLAGS writes one u64.
    unsafe { rustix::ioctl::ioctl(fd, Getter::<IOC_SUBVOL_GETFLAGS, u64>::new()) }
        .ctx("btrfs subvolume get flags", path)
}

/// Whether subvolume `path` is read-only.
pub fn is_readonly(path: &Path) -> SysResult<bool> {
    let fd = open_dir(path)?;
    Ok(get_flags(&fd, path)? & BTRFS_SUBVOL_RDONLY != 0)
}

/// Set or clear the read-only flag of subvolume `path`.
pub fn set_readonly(path: &Path, readonly: bool) -> SysResult<()> {
    let fd = open_dir(path)?;
    let flags = get_flags(&fd, path)?;
    let new = if readonly { flags | BTRFS_SUBVOL_RDONLY } else { flags & !BTRFS_SUBVOL_RDONLY };
    if new == flags {
        return Ok(());
    }
    // SAFETY: BTRFS_IOC_SUBVOL_SETFLAGS reads one u64.
    unsafe { rustix::ioctl::ioctl(&fd, Setter::<IOC_SUBVOL_SETFLAGS, u64>::new(new)) }
        .ctx("btrfs subvolume set flags", path)
}

/// Delete subvolume `path` and every subvolume nested inside it (depth-first),
/// clearing read-only flags on the way. Plain directories and files inside are
/// removed with the subvolume itself by the kernel.
pub fn delete_subvolume(path: &Path) -> SysResult<()> {
    if is_readonly(path)? {
        set_readonly(path, false)?;
    }
    let dev = std::fs::symlink_metadata(path).ctx("stat", path)?.dev();
    delete_nested(path, dev)?;
    let (parent, name) = parent_and_name(path, BTRFS_PATH_NAME_MAX)?;
    let mut args = VolArgs { fd: 0, name: [0; BTRFS_PATH_NAME_MAX + 1] };
    args.name[..name.len()].copy_from_slice(name.as_bytes());
    // SAFETY: BTRFS_IOC_SNAP_DESTROY takes a `struct btrfs_ioctl_vol_args`.
    unsafe { rustix::ioctl::ioctl(&parent, Setter::<IOC_SNAP_DESTROY, VolArgs>::new(args)) }
        .ctx("btrfs subvolume delete", path)
}

/// Find subvolumes below `dir` (same subvolume `dev`) and delete them.
fn delete_nested(dir: &Path, dev: u64) -> SysResult<()> {
    for entry in std::fs::read_dir(dir).ctx("readdir", dir)? {
        let entry = entry.ctx("readdir", dir)?;
        let ft = entry.file_type().ctx("stat", &entry.path())?;
        if !ft.is_dir() {
            continue;
        }
        let p = entry.path();
        let md = std::fs::symlink_metadata(&p).ctx("stat", &p)?;
        if md.dev() == dev {
            delete_nested(&p, dev)?;
        } else if md.ino() == BTRFS_FIRST_FREE_OBJECTID && is_btrfs(&p) {
            delete_subvolume(&p)?;
        } else {
            return Err(SysError::new(
                "btrfs subvolume delete",
                &p,
                std::io::Error::new(std::io::ErrorKind::ResourceBusy, "a mount point is inside the subvolume"),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::probe::require_root;
    use std::path::PathBuf;
    use std::process::Command;

    /// A btrfs filesystem on a sparse file, mounted through a loop device;
    /// unmounted (which frees the loop device: `mount -o loop` sets autoclear)
    /// when dropped.
    pub(crate) struct LoopBtrfs {
        pub mnt: PathBuf,
        img: PathBuf,
        _dir: tempfile::TempDir,
    }

    impl LoopBtrfs {
        pub(crate) fn new() -> LoopBtrfs {
            let dir = tempfile::tempdir().unwrap();
            let img = dir.path().join("btrfs.img");
            let mnt = dir.path().join("mnt");
            std::fs::create_dir(&mnt).unwrap();
            std::fs::File::create(&img).unwrap().set_len(256 << 20).unwrap();
            let out = Command::new("mkfs.btrfs")
                .arg("-q")
                .arg(&img)
                .output()
                .expect("mkfs.btrfs (apt-get install btrfs-progs)");
            assert!(out.status.success(), "mkfs.btrfs: {}", String::from_utf8_lossy(&out.stderr));
            let out = Command::new("mount").args(["-t", "btrfs", "-o", "loop"]).arg(&img).arg(&mnt).output().unwrap();
            assert!(out.status.success(), "mount -o loop: {}", String::from_utf8_lossy(&out.stderr));
            LoopBtrfs { mnt, img, _dir: dir }
        }
    }

    impl Drop for LoopBtrfs {
        fn drop(&mut self) {
            if crate::mount::unmount(&self.mnt, false).is_err() {
                let _ = crate::mount::unmount(&self.mnt, true);
            }
            // Detach any loop device still backed by the image.
            if let Ok(out) = Command::new("losetup").arg("-j").arg(&self.img).output() {
                for line in String::from_utf8_lossy(&out.stdout).lines() {
                    if let Some(dev) = line.split(':').next() {
                        let _ = Command::new("losetup").arg("-d").arg(dev).status();
                    }
                }
            }
        }
    }

    #[test]
    fn subvolumes_snapshots_readonly_and_nested_delete() {
        if !require_root("subvolumes_snapshots_readonly_and_nested_delete") {
            return;
        }
        let fs = LoopBtrfs::new();
        let a = fs.mnt.join("a");
        create_subvolume(&a).unwrap();
        assert!(is_subvolume(&a));
        assert!(!is_subvolume(&fs.mnt.join("nope")));
        std::fs::create_dir(a.join("plain")).unwrap();
        assert!(!is_subvolume(&a.join("plain")));
        std::fs::write(a.join("f"), b"one").unwrap();

        let ro = fs.mnt.join("ro");
        snapshot(&a, &ro, true).unwrap();
        assert!(is_readonly(&ro).unwrap());
        assert_eq!(std::fs::read(ro.join("f")).unwrap(), b"one");
        let e = std::fs::write(ro.join("g"), b"").unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EROFS));
        set_readonly(&ro, false).unwrap();
        std::fs::write(ro.join("g"), b"").unwrap();
        set_readonly(&ro, true).unwrap();

        // Writable snapshot is independent of its source.
        let b = fs.mnt.join("b");
        snapshot(&a, &b, false).unwrap();
        std::fs::write(b.join("f"), b"two").unwrap();
        assert_eq!(std::fs::read(a.join("f")).unwrap(), b"one");

        // Nested subvolumes (one read-only) inside a read-only subvolume.
        create_subvolume(&b.join("inner")).unwrap();
        create_subvolume(&b.join("inner/nested")).unwrap();
        std::fs::create_dir_all(b.join("deep/er")).unwrap();
        snapshot(&a, &b.join("deep/er/snap"), true).unwrap();
        set_readonly(&b, true).unwrap();
        delete_subvolume(&b).unwrap();
        assert!(!b.exists());
        delete_subvolume(&ro).unwrap();
        delete_subvolume(&a).unwrap();
        assert_eq!(std::fs::read_dir(&fs.mnt).unwrap().count(), 0);

        let err = delete_subvolume(&a).unwrap_err();
        assert!(err.to_string().contains("/a"), "{err}");
    }

    #[test]
    fn reflink_and_copy_tree_on_btrfs() {
        if !require_root("reflink_and_copy_tree_on_btrfs") {
            return;
        }
        let fs = LoopBtrfs::new();
        assert!(crate::probe::reflink_supported(&fs.mnt));
        assert_eq!(crate::probe::fs_type(&fs.mnt).unwrap(), "btrfs");
        let src = fs.mnt.join("src");
        std::fs::create_dir_all(src.join("d")).unwrap();
        std::fs::write(src.join("d/big"), vec![7u8; 1 << 20]).unwrap();
        std::fs::write(src.join("small"), b"s").unwrap();
        std::fs::write(src.join("empty"), b"").unwrap();
        let st = crate::copy::copy_tree(&src, &fs.mnt.join("dst")).unwrap();
        assert_eq!(st.files, 3);
        assert_eq!(st.reflinked, 2);
        assert_eq!(std::fs::read(fs.mnt.join("dst/d/big")).unwrap(), vec![7u8; 1 << 20]);
    }
}
