//! What the host kernel and a backing filesystem support.
//!
//! Each probe says exactly what it checks; probes that need a test mount fall
//! back to reading kernel parameters when they cannot mount (not root).

use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use rustix::fs::{Mode, OFlags};

use crate::error::{Ctx, SysError, SysResult};
use crate::mount::MountSpec;

/// `statfs.f_type` values Docker names (moby `graphdriver/driver_linux.go`).
pub mod magic {
    pub const AUFS: u64 = 0x6175_6673;
    pub const BTRFS: u64 = 0x9123_683E;
    pub const CRAMFS: u64 = 0x28cd_3d45;
    pub const ECRYPTFS: u64 = 0xf15f;
    pub const EXTFS: u64 = 0xEF53;
    pub const F2FS: u64 = 0xF2F5_2010;
    pub const FUSE: u64 = 0x6573_5546;
    pub const GPFS: u64 = 0x4750_4653;
    pub const JFFS2: u64 = 0x72b6;
    pub const JFS: u64 = 0x3153_464a;
    pub const NFS: u64 = 0x6969;
    pub const OVERLAY: u64 = 0x794C_7630;
    pub const RAMFS: u64 = 0x8584_58f6;
    pub const REISERFS: u64 = 0x5265_4973;
    pub const SMB: u64 = 0x517B;
    pub const SQUASHFS: u64 = 0x7371_7368;
    pub const TMPFS: u64 = 0x0102_1994;
    pub const VXFS: u64 = 0xa501_fcf5;
    pub const XFS: u64 = 0x5846_5342;
    pub const ZFS: u64 = 0x2fc1_2fc1;
}

/// Docker's name for a filesystem magic (what `docker info` prints as
/// `Backing Filesystem`): ext2/3/4 are all `extfs`. Unknown magics give `<unknown>`.
pub fn docker_fs_name(fs_magic: u64) -> &'static str {
    use magic::*;
    match fs_magic {
        AUFS => "aufs",
        BTRFS => "btrfs",
        CRAMFS => "cramfs",
        ECRYPTFS => "ecryptfs",
        EXTFS => "extfs",
        F2FS => "f2fs",
        FUSE => "fuse",
        GPFS => "gpfs",
        JFFS2 => "jffs2",
        JFS => "jfs",
        NFS => "nfs",
        OVERLAY => "overlayfs",
        RAMFS => "ramfs",
        REISERFS => "reiserfs",
        SMB => "smb",
        SQUASHFS => "squashfs",
        TMPFS => "tmpfs",
        VXFS => "vxfs",
        XFS => "xfs",
        ZFS => "zfs",
        _ => "<unknown>",
    }
}

/// The nearest existing ancestor of `path` (itself when it exists), so a data
/// root that is not created yet is probed where it will live.
fn existing(path: &Path) -> PathBuf {
    let mut p = path;
    loop {
        if p.exists() {
            return p.to_path_buf();
        }
        match p.parent() {
            Some(q) if !q.as_os_str().is_empty() => p = q,
            _ => return PathBuf::from("."),
        }
    }
}

/// `statfs(2)` magic of the filesystem holding `path` (or its nearest existing ancestor).
pub fn fs_magic(path: &Path) -> SysResult<u64> {
    let p = existing(path);
    rustix::fs::statfs(&p).map(|s| s.f_type as u64).ctx("statfs", &p)
}

/// Docker's name of the filesystem holding `path`: `extfs`, `xfs`, `btrfs`,
/// `tmpfs`, `overlayfs`, `zfs`, `nfs`, ... (see [`docker_fs_name`]).
pub fn fs_type(path: &Path) -> SysResult<String> {
    Ok(docker_fs_name(fs_magic(path)?).to_string())
}

/// A unique name for a probe file inside `dir`.
fn probe_name(dir: &Path, what: &str) -> PathBuf {
    dir.join(format!(".strata-probe-{what}-{}-{}", std::process::id(), &crate::random_id()[..12]))
}

/// Whether readdir on `dir`'s filesystem reports file types (`d_type`), which
/// overlayfs needs to find whiteouts. Creates and removes a file in `dir`.
pub fn supports_d_type(dir: &Path) -> SysResult<bool> {
    let file = probe_name(dir, "dtype");
    std::fs::File::create(&file).ctx("create", &file)?;
    let result = (|| {
        let fd = rustix::fs::open(dir, OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())
            .ctx("open", dir)?;
        let mut d = rustix::fs::Dir::read_from(&fd).ctx("opendir", dir)?;
        let want = file.file_name().unwrap_or_default().as_bytes();
        while let Some(entry) = d.read() {
            let entry = entry.ctx("readdir", dir)?;
            if entry.file_name().to_bytes() == want {
                return Ok(entry.file_type() != rustix::fs::FileType::Unknown);
            }
        }
        Err(SysError::new("readdir", dir, std::io::Error::new(std::io::ErrorKind::NotFound, "probe file not listed")))
    })();
    let _ = std::fs::remove_file(&file);
    result
}

/// Whether the running kernel has overlayfs (listed in /proc/filesystems; a
/// privileged `fsopen("overlay")` first asks the kernel to load the module).
pub fn overlay_in_kernel() -> bool {
    let listed = || {
        std::fs::read_to_string("/proc/filesystems")
            .map(|s| s.lines().any(|l| l.split_whitespace().last() == Some("overlay")))
            .unwrap_or(false)
    };
    if listed() {
        return true;
    }
    let _ = rustix::mount::fsopen("overlay", rustix::mount::FsOpenFlags::FSOPEN_CLOEXEC);
    listed()
}

/// Whether overlay2 can keep its layers in `dir`: the kernel has overlayfs,
/// the backing filesystem is not one overlayfs refuses as an upper layer
/// (overlayfs, aufs, ecryptfs, nfs — Docker's list minus zfs, which supports
/// overlay since OpenZFS 2.2), and it reports `d_type`. `Err` gives the reason.
pub fn overlay_usable(dir: &Path) -> Result<(), String> {
    if !overlay_in_kernel() {
        return Err("the kernel does not support overlayfs (no \"overlay\" in /proc/filesystems)".into());
    }
    let probe_dir = existing(dir);
    let m = fs_magic(&probe_dir).map_err(|e| e.to_string())?;
    let name = docker_fs_name(m);
    if matches!(m, magic::OVERLAY | magic::AUFS | magic::ECRYPTFS | magic::NFS) {
        return Err(format!(
            "{} is on {name}, which overlayfs cannot use as its upper layer; put the data root on ext4, xfs or btrfs, or use the vfs driver",
            probe_dir.display()
        ));
    }
    match supports_d_type(&probe_dir) {
        Ok(true) => Ok(()),
        Ok(false) => Err(format!(
            "{} is on {name} without d_type support, which overlayfs needs; reformat with d_type (xfs: mkfs.xfs -n ftype=1) or use the vfs driver",
            probe_dir.display()
        )),
        Err(e) => Err(format!("cannot check d_type support: {e}")),
    }
}

/// Whether overlayfs accepts `lowerdir+` through fsconfig (Linux >= 6.8), so
/// stacks are not limited by mount(2)'s one-page option string. Probed once
/// (fsopen + one `lowerdir+` on the temp dir, never mounted); false when the
/// probe is not permitted.
pub fn overlay_lowerdir_plus_supported() -> bool {
    static CACHE: OnceLock<bool> = OnceLock::new();
    *CACHE.get_or_init(|| {
        let Ok(fsfd) = rustix::mount::fsopen("overlay", rustix::mount::FsOpenFlags::FSOPEN_CLOEXEC) else {
            return false;
        };
        rustix::mount::fsconfig_set_string(&fsfd, "lowerdir+", std::env::temp_dir()).is_ok()
    })
}

/// Whether a layer's changes can be read from its overlay upper directory alone
/// (Docker's "Native Overlay Diff").
///
/// Checked by a test mount in `dir`, made through [`crate::mount::mount`] with the
/// options strata always uses: a lower directory marked opaque must not pass its
/// opaque flag to the upper directory on copy-up (an old kernel bug), and renaming
/// a merged lower directory must either fail with EXDEV or leave no
/// `overlay.redirect` xattr in the upper directory. When the test mount cannot be
/// made (unprivileged), falls back to the kernel default: false when
/// `/sys/module/overlay/parameters/redirect_dir` is `Y`.
pub fn native_overlay_diff(dir: &Path) -> bool {
    match native_diff_test_mount(&existing(dir)) {
        Ok(v) => v,
        Err(_) => std::fs::read_to_string("/sys/module/overlay/parameters/redirect_dir")
            .map(|s| s.trim() != "Y")
            .unwrap_or(true),
    }
}

fn native_diff_test_mount(dir: &Path) -> SysResult<bool> {
    let base = probe_name(dir, "ovl");
    let (l1, l2, up, wk, mnt) = (base.join("l1"), base.join("l2"), base.join("u"), base.join("w"), base.join("m"));
    for d in [&l1, &l2.join("d"), &up, &wk, &mnt] {
        std::fs::create_dir_all(d).ctx("mkdir", d)?;
    }
    let userxattr = !rustix::process::geteuid().is_root();
    let prefix = if userxattr { "user.overlay." } else { "trusted.overlay." };
    let result = (|| {
        crate::fs::set_xattr(&l2.join("d"), format!("{prefix}opaque"), b"y")?;
        let spec = MountSpec::Overlay {
            lower: vec![l2.clone(), l1.clone()],
            upper: Some(up.clone()),
            work: Some(wk.clone()),
            userxattr,
        };
        let guard = crate::mount::mount_all(std::slice::from_ref(&spec), &mnt)?;
        let f = mnt.join("d/f");
        std::fs::write(&f, b"").ctx("create", &f)?;
        if crate::fs::get_xattr(&up.join("d"), &format!("{prefix}opaque"))?.as_deref() == Some(b"y") {
            return Ok(false);
        }
        match std::fs::rename(mnt.join("d"), mnt.join("d2")) {
            Err(e) if e.raw_os_error() == Some(libc::EXDEV) => {}
            Err(e) => return Err(SysError::new("rename", mnt.join("d"), e)),
            Ok(()) => {
                if crate::fs::get_xattr(&up.join("d2"), &format!("{prefix}redirect"))?.is_some() {
                    return Ok(false);
                }
            }
        }
        guard.unmount()?;
        Ok(true)
    })();
    if crate::mount::is_mountpoint(&mnt) {
        let _ = crate::mount::unmount(&mnt, true);
    }
    if !crate::mount::is_mountpoint(&mnt) {
        let _ = std::fs::remove_dir_all(&base);
    }
    result
}

/// Whether files in `dir` can be reflinked (FICLONE between two probe files).
pub fn reflink_supported(dir: &Path) -> bool {
    let (a, b) = (probe_name(dir, "reflink-a"), probe_name(dir, "reflink-b"));
    let ok = (|| -> std::io::Result<bool> {
        std::fs::write(&a, [0x5a; 4096])?;
        let src = std::fs::File::open(&a)?;
        let dst = std::fs::File::create(&b)?;
        Ok(rustix::fs::ioctl_ficlone(&dst, &src).is_ok())
    })()
    .unwrap_or(false);
    let _ = std::fs::remove_file(&a);
    let _ = std::fs::remove_file(&b);
    ok
}

/// Whether the process runs with effective uid 0.
pub fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

/// Whether this run is in CI (`CI=true`), where privileged tests must not skip.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// Test-tier gate for privileged tests: true when running as root. Otherwise
/// panics under `CI=true` (privileged tests never skip silently in CI) and
/// prints a note and returns false elsewhere.
pub fn require_root(test: &str) -> bool {
    if rustix::process::geteuid().is_root() {
        return true;
    }
    assert!(!in_ci(), "{test}: needs root, and CI=true forbids skipping privileged tests");
    eprintln!("note: skipping {test}: needs root");
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_names() {
        assert_eq!(docker_fs_name(0xEF53), "extfs");
        assert_eq!(docker_fs_name(magic::XFS), "xfs");
        assert_eq!(docker_fs_name(magic::OVERLAY), "overlayfs");
        assert_eq!(docker_fs_name(1), "<unknown>");
        assert_eq!(fs_type(Path::new("/proc")).unwrap(), "<unknown>");
        assert_eq!(fs_type(Path::new("/dev/shm")).unwrap(), "tmpfs");
        // A path that does not exist yet is probed at its nearest ancestor.
        let t = tempfile::tempdir().unwrap();
        assert_eq!(fs_type(&t.path().join("a/b/c")).unwrap(), fs_type(t.path()).unwrap());
    }

    #[test]
    fn d_type_on_tempdir() {
        let t = tempfile::tempdir().unwrap();
        assert!(supports_d_type(t.path()).unwrap());
        assert_eq!(std::fs::read_dir(t.path()).unwrap().count(), 0, "probe file left behind");
    }

    #[test]
    fn reflink_probe_matches_filesystem() {
        let t = tempfile::tempdir().unwrap();
        let m = fs_magic(t.path()).unwrap();
        let r = reflink_supported(t.path());
        if m == magic::EXTFS || m == magic::TMPFS {
            assert!(!r);
        }
        assert_eq!(std::fs::read_dir(t.path()).unwrap().count(), 0);
    }

    #[test]
    fn overlay_probes_as_root() {
        if !require_root("overlay_probes_as_root") {
            return;
        }
        let t = tempfile::tempdir().unwrap();
        assert!(overlay_in_kernel());
        overlay_usable(t.path()).unwrap();
        // This machine's kernel is 6.18; lowerdir+ exists since 6.8.
        let (maj, min) = kernel_version();
        assert_eq!(overlay_lowerdir_plus_supported(), (maj, min) >= (6, 8));
        assert!(native_overlay_diff(t.path()));
        assert_eq!(std::fs::read_dir(t.path()).unwrap().count(), 0);
    }

    #[test]
    fn overlay_refuses_overlay_backing() {
        if !require_root("overlay_refuses_overlay_backing") {
            return;
        }
        let t = tempfile::tempdir().unwrap();
        let (l, u, w, m) = (t.path().join("l"), t.path().join("u"), t.path().join("w"), t.path().join("m"));
        for d in [&l, &u, &w, &m] {
            std::fs::create_dir(d).unwrap();
        }
        let spec = MountSpec::Overlay { lower: vec![l], upper: Some(u), work: Some(w), userxattr: false };
        let _g = crate::mount::mount_all(&[spec], &m).unwrap();
        let err = overlay_usable(&m).unwrap_err();
        assert!(err.contains("overlayfs"), "{err}");
        assert_eq!(fs_type(&m).unwrap(), "overlayfs");
    }

    pub(crate) fn kernel_version() -> (u32, u32) {
        let r = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap();
        let mut it = r.trim().split(['.', '-']).map(|x| x.parse::<u32>().unwrap_or(0));
        (it.next().unwrap_or(0), it.next().unwrap_or(0))
    }
}
