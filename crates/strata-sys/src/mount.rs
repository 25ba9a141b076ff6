//! Mounts, described by drivers as [`MountSpec`] values and performed here only.
//!
//! Overlay mounts use the new mount API (`fsopen`/`fsconfig lowerdir+`/`fsmount`/
//! `move_mount`) so a stack is not limited by the page-sized option string of
//! mount(2) (which fails with a misleading ENOENT past 4 KiB); kernels before 6.8
//! lack `lowerdir+` and fall back to mount(2) with short relative lowerdirs.

use std::path::{Path, PathBuf};

/// One filesystem to mount at a target. Drivers return these; nothing else mounts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MountSpec {
    /// Kernel overlayfs. `lower` is ordered top-most first, as overlayfs expects.
    Overlay {
        lower: Vec<PathBuf>,
        upper: Option<PathBuf>,
        work: Option<PathBuf>,
        /// Use `user.overlay.*` xattrs (rootless, in a user namespace).
        userxattr: bool,
    },
    /// A bind mount of `source`.
    Bind { source: PathBuf, readonly: bool, recursive: bool },
    /// A tmpfs with mount(8)-style options (`size=10m,mode=1777`).
    Tmpfs { options: String },
}

use std::ffi::OsString;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;

use rustix::fs::{AtFlags, CWD, Mode, OFlags, StatxFlags};
use rustix::io::Errno;
use rustix::mount::{FsMountFlags, FsOpenFlags, MountAttrFlags, MountFlags, MoveMountFlags, UnmountFlags};

use crate::error::{Ctx, SysError, SysResult};

/// overlayfs accepts at most this many lower layers (`OVL_MAX_STACK`).
pub const OVERLAY_MAX_LOWERS: usize = 500;

/// Mount `spec` at `target` (an existing directory).
///
/// Overlay mounts always add `redirect_dir=nofollow` (which also turns off
/// `metacopy`) and `index=off` where the kernel knows these options, so the upper
/// directory alone describes a layer's changes whatever the kernel's defaults are:
/// renaming a lower directory then fails with EXDEV and tools fall back to copying.
pub fn mount(spec: &MountSpec, target: &Path) -> SysResult<()> {
    match spec {
        MountSpec::Overlay { lower, upper, work, userxattr } => {
            mount_overlay(lower, upper.as_deref(), work.as_deref(), *userxattr, target)
        }
        MountSpec::Bind { source, readonly, recursive } => mount_bind(source, target, *readonly, *recursive),
        MountSpec::Tmpfs { options } => mount_tmpfs(options, target),
    }
}

/// Unmount `target` without following a final symlink; `detach` makes it lazy (MNT_DETACH).
pub fn unmount(target: &Path, detach: bool) -> SysResult<()> {
    let mut flags = UnmountFlags::NOFOLLOW;
    if detach {
        flags |= UnmountFlags::DETACH;
    }
    rustix::mount::unmount(target, flags).ctx("umount", target)
}

/// Mounts made by [`mount_all`], unmounted in reverse order when dropped.
#[must_use = "dropping the guard unmounts immediately"]
#[derive(Debug, Default)]
pub struct MountGuard {
    targets: Vec<PathBuf>,
}

impl MountGuard {
    /// The mount targets, in the order they were mounted.
    pub fn targets(&self) -> &[PathBuf] {
        &self.targets
    }

    /// Keep the mounts: the guard forgets them and returns their targets.
    pub fn leak(mut self) -> Vec<PathBuf> {
        std::mem::take(&mut self.targets)
    }

    /// Unmount now, reporting the first failure (later mounts are still attempted).
    pub fn unmount(mut self) -> SysResult<()> {
        let mut first = None;
        while let Some(t) = self.targets.pop() {
            if let Err(e) = unmount_busy_detach(&t) {
                first.get_or_insert(e);
            }
        }
        first.map_or(Ok(()), Err)
    }
}

impl Drop for MountGuard {
    fn drop(&mut self) {
        while let Some(t) = self.targets.pop() {
            let _ = unmount_busy_detach(&t);
        }
    }
}

/// Plain unmount; a busy mount is detached instead so it goes once its users do.
fn unmount_busy_detach(target: &Path) -> SysResult<()> {
    match unmount(target, false) {
        Err(e) if e.raw_os_error() == Some(libc::EBUSY) => unmount(target, true),
        r => r,
    }
}

/// Mount every spec at `target`, stacked in order. On error the mounts already
/// made are undone and the error is returned.
pub fn mount_all(specs: &[MountSpec], target: &Path) -> SysResult<MountGuard> {
    let mut guard = MountGuard::default();
    for spec in specs {
        mount(spec, target)?;
        guard.targets.push(target.to_path_buf());
    }
    Ok(guard)
}

/// Whether `path` is the root of a mount: its mount id (statx `STATX_MNT_ID`)
/// or device differs from its parent's, or it is `/`. False when it cannot be stat'ed.
pub fn is_mountpoint(path: &Path) -> bool {
    let want = StatxFlags::MNT_ID | StatxFlags::BASIC_STATS;
    let Ok(me) = rustix::fs::statx(CWD, path, AtFlags::SYMLINK_NOFOLLOW, want) else {
        return false;
    };
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        Some(_) => PathBuf::from("."),
        None => return true, // "/"
    };
    let Ok(up) = rustix::fs::statx(CWD, &parent, AtFlags::empty(), want) else {
        return false;
    };
    if me.stx_mask & StatxFlags::MNT_ID.bits() != 0 && up.stx_mask & StatxFlags::MNT_ID.bits() != 0 {
        return me.stx_mnt_id != up.stx_mnt_id;
    }
    // No mount ids (kernel < 5.8): a device change, or `path` being its own parent (`/`).
    (me.stx_dev_major, me.stx_dev_minor) != (up.stx_dev_major, up.stx_dev_minor) || me.stx_ino == up.stx_ino
}

// ---------------------------------------------------------------------------
// overlay

fn mount_overlay(
    lower: &[PathBuf],
    upper: Option<&Path>,
    work: Option<&Path>,
    userxattr: bool,
    target: &Path,
) -> SysResult<()> {
    let einval = |why: &str| {
        SysError::new("mount overlay", target, std::io::Error::new(std::io::ErrorKind::InvalidInput, why.to_string()))
    };
    if lower.is_empty() {
        return Err(einval("overlay needs at least one lower directory"));
    }
    if lower.len() > OVERLAY_MAX_LOWERS {
        return Err(einval(&format!(
            "{} lower directories exceed the kernel's limit of {OVERLAY_MAX_LOWERS}",
            lower.len()
        )));
    }
    if upper.is_some() != work.is_some() {
        return Err(einval("overlay upperdir and workdir must be given together"));
    }
    if upper.is_none() && lower.len() == 1 {
        // A read-only overlay needs two lowers; one lower alone is the same tree
        // as a read-only bind mount of it.
        return mount_bind(&lower[0], target, true, false);
    }
    let extra = overlay_extra_options(userxattr);
    match overlay_new_api(lower, upper, work, userxattr, &extra, target, LayerForm::Fd) {
        Ok(()) => Ok(()),
        Err(NewApiError::LowerdirPlus(_)) => {
            // Kernels 6.8..6.12 know `lowerdir+` but not fds as its value.
            match overlay_new_api(lower, upper, work, userxattr, &extra, target, LayerForm::Path) {
                Ok(()) => Ok(()),
                Err(NewApiError::LowerdirPlus(_)) | Err(NewApiError::NoNewApi(_)) => {
                    overlay_legacy(lower, upper, work, userxattr, &extra, target)
                }
                Err(NewApiError::Other(e)) => Err(e),
            }
        }
        Err(NewApiError::NoNewApi(_)) => overlay_legacy(lower, upper, work, userxattr, &extra, target),
        Err(NewApiError::Other(e)) => Err(e),
    }
}

/// Options strata adds to every overlay mount (see [`mount`]).
fn overlay_extra_options(userxattr: bool) -> Vec<(&'static str, &'static str)> {
    let params = Path::new("/sys/module/overlay/parameters");
    let mut v = Vec::new();
    if params.join("index").exists() {
        v.push(("index", "off"));
    }
    // userxattr already forces redirect_dir=nofollow and rejects other values.
    if !userxattr && params.join("redirect_dir").exists() {
        v.push(("redirect_dir", "nofollow"));
    }
    v
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum LayerForm {
    /// `fsconfig_set_fd` with O_PATH fds (kernel >= 6.13): no path length limit.
    Fd,
    /// `fsconfig_set_string` (kernel >= 6.8): each value is capped at 256 bytes.
    Path,
}

enum NewApiError {
    /// fsopen itself is unavailable.
    NoNewApi(#[allow(dead_code)] SysError),
    /// The first `lowerdir+` was refused: this form (or `lowerdir+`) is unsupported.
    LowerdirPlus(#[allow(dead_code)] SysError),
    Other(SysError),
}

fn overlay_new_api(
    lower: &[PathBuf],
    upper: Option<&Path>,
    work: Option<&Path>,
    userxattr: bool,
    extra: &[(&str, &str)],
    target: &Path,
    form: LayerForm,
) -> Result<(), NewApiError> {
    let fsfd = match rustix::mount::fsopen("overlay", FsOpenFlags::FSOPEN_CLOEXEC) {
        Ok(fd) => fd,
        Err(e @ (Errno::NOSYS | Errno::NODEV)) => {
            return Err(NewApiError::NoNewApi(SysError::new("fsopen overlay", target, e)));
        }
        Err(e) => return Err(NewApiError::Other(SysError::new("fsopen overlay", target, e))),
    };
    let other = |op: &'static str, p: &Path, e: Errno| NewApiError::Other(SysError::new(op, p, with_fs_log(&fsfd, e)));
    let set_dir = |key: &str, dir: &Path| -> Result<(), Errno> {
        match form {
            LayerForm::Fd => {
                let fd = rustix::fs::open(dir, OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())?;
                rustix::mount::fsconfig_set_fd(&fsfd, key, fd.as_fd())
            }
            LayerForm::Path => rustix::mount::fsconfig_set_string(&fsfd, key, dir),
        }
    };
    for (i, l) in lower.iter().enumerate() {
        match set_dir("lowerdir+", l) {
            Ok(()) => {}
            Err(Errno::INVAL) if i == 0 => {
                return Err(NewApiError::LowerdirPlus(SysError::new("fsconfig lowerdir+", l, Errno::INVAL)));
            }
            Err(e) => return Err(other("fsconfig lowerdir+", l, e)),
        }
    }
    if let (Some(u), Some(w)) = (upper, work) {
        set_dir("upperdir", u).map_err(|e| other("fsconfig upperdir", u, e))?;
        set_dir("workdir", w).map_err(|e| other("fsconfig workdir", w, e))?;
    }
    if userxattr {
        rustix::mount::fsconfig_set_flag(&fsfd, "userxattr").map_err(|e| other("fsconfig userxattr", target, e))?;
    }
    for (k, v) in extra {
        rustix::mount::fsconfig_set_string(&fsfd, *k, *v).map_err(|e| other("fsconfig overlay option", target, e))?;
    }
    rustix::mount::fsconfig_create(&fsfd).map_err(|e| other("mount overlay (fsconfig create)", target, e))?;
    let attrs = if upper.is_none() { MountAttrFlags::MOUNT_ATTR_RDONLY } else { MountAttrFlags::empty() };
    let mnt = rustix::mount::fsmount(&fsfd, FsMountFlags::FSMOUNT_CLOEXEC, attrs)
        .map_err(|e| other("mount overlay (fsmount)", target, e))?;
    rustix::mount::move_mount(&mnt, "", CWD, target, MoveMountFlags::MOVE_MOUNT_F_EMPTY_PATH)
        .map_err(|e| NewApiError::Other(SysError::new("mount overlay (move_mount)", target, e)))
}

/// Turn an errno from fsconfig into an io::Error that also carries the kernel's
/// message from the fs context log (e.g. "overlayfs: failed to resolve ...").
/// The errno is kept when there is no message.
fn with_fs_log(fsfd: &OwnedFd, e: Errno) -> std::io::Error {
    let mut msgs = Vec::new();
    let mut buf = [0u8; 1024];
    while let Ok(n) = rustix::io::read(fsfd, &mut buf) {
        if n == 0 {
            break;
        }
        msgs.push(String::from_utf8_lossy(&buf[..n]).trim().to_string());
    }
    let err = std::io::Error::from(e);
    if msgs.is_empty() { err } else { std::io::Error::new(err.kind(), format!("{err} ({})", msgs.join("; "))) }
}

/// mount(2) with an option string, for kernels without `lowerdir+` (< 6.8).
/// Long stacks are shortened by naming each layer `/proc/self/fd/N` (an open
/// O_PATH fd); the option string must still fit in one page.
fn overlay_legacy(
    lower: &[PathBuf],
    upper: Option<&Path>,
    work: Option<&Path>,
    userxattr: bool,
    extra: &[(&str, &str)],
    target: &Path,
) -> SysResult<()> {
    let build = |names: &[OsString]| -> OsString {
        let mut s = OsString::from("lowerdir=");
        for (i, n) in names.iter().enumerate() {
            if i > 0 {
                s.push(":");
            }
            s.push(n);
        }
        if let (Some(u), Some(w)) = (upper, work) {
            s.push(",upperdir=");
            s.push(u);
            s.push(",workdir=");
            s.push(w);
        }
        if userxattr {
            s.push(",userxattr");
        }
        for (k, v) in extra {
            s.push(format!(",{k}={v}"));
        }
        s
    };
    for p in lower.iter().map(|p| p.as_path()).chain(upper).chain(work) {
        if p.as_os_str().as_bytes().iter().any(|b| matches!(b, b',' | b':' | b'\\')) {
            return Err(SysError::new(
                "mount overlay",
                target,
                std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    format!("layer path {} contains ',', ':' or '\\'", p.display()),
                ),
            ));
        }
    }
    // The kernel copies at most one page of mount data (4 KiB on the
    // architectures we run on); longer strings are silently truncated.
    let page = 4096usize;
    let mut data = build(&lower.iter().map(|p| p.clone().into_os_string()).collect::<Vec<_>>());
    let mut _fds = Vec::new();
    if data.len() >= page {
        let mut names = Vec::new();
        for l in lower {
            let fd = rustix::fs::open(l, OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())
                .ctx("open", l)?;
            names.push(OsString::from(format!("/proc/self/fd/{}", std::os::fd::AsRawFd::as_raw_fd(&fd))));
            _fds.push(fd);
        }
        data = build(&names);
        if data.len() >= page {
            return Err(SysError::new(
                "mount overlay",
                target,
                std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    format!(
                        "{} layers do not fit in a {page}-byte mount option string on this kernel (needs Linux >= 6.8 for more)",
                        lower.len()
                    ),
                ),
            ));
        }
    }
    let cdata = std::ffi::CString::new(data.as_bytes()).map_err(|e| {
        SysError::new("mount overlay", target, std::io::Error::new(std::io::ErrorKind::InvalidInput, e))
    })?;
    let flags = if upper.is_none() { MountFlags::RDONLY } else { MountFlags::empty() };
    rustix::mount::mount("overlay", target, "overlay", flags, cdata.as_c_str()).ctx("mount overlay", target)
}

// ---------------------------------------------------------------------------
// bind and tmpfs

fn mount_bind(source: &Path, target: &Path, readonly: bool, recursive: bool) -> SysResult<()> {
    if recursive {
        rustix::mount::mount_bind_recursive(source, target).ctx("mount rbind", target)?;
    } else {
        rustix::mount::mount_bind(source, target).ctx("mount bind", target)?;
    }
    if readonly {
        let res = if recursive { set_readonly_recursive(target) } else { remount_bind_readonly(target) };
        if let Err(e) = res {
            let _ = unmount(target, true);
            return Err(e);
        }
    }
    Ok(())
}

fn remount_bind_readonly(target: &Path) -> SysResult<()> {
    rustix::mount::mount_remount(target, MountFlags::BIND | MountFlags::RDONLY, "")
        .ctx("remount bind read-only", target)
}

/// `struct mount_attr` of mount_setattr(2).
#[repr(C)]
struct MountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

/// Make every mount under `target` read-only (mount_setattr with AT_RECURSIVE,
/// Linux >= 5.12; older kernels get the top mount only).
fn set_readonly_recursive(target: &Path) -> SysResult<()> {
    let c = std::ffi::CString::new(target.as_os_str().as_bytes()).map_err(|e| {
        SysError::new("mount_setattr", target, std::io::Error::new(std::io::ErrorKind::InvalidInput, e))
    })?;
    let attr = MountAttr { attr_set: libc::MOUNT_ATTR_RDONLY, attr_clr: 0, propagation: 0, userns_fd: 0 };
    // SAFETY: rustix has no mount_setattr; the path is a valid C string and
    // `attr` a correctly laid out `struct mount_attr` of the size we pass.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            libc::AT_FDCWD,
            c.as_ptr(),
            (libc::AT_RECURSIVE | libc::AT_SYMLINK_NOFOLLOW) as libc::c_uint,
            &attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    };
    if rc == 0 {
        return Ok(());
    }
    let err = std::io::Error::last_os_error();
    if err.raw_os_error() == Some(libc::ENOSYS) {
        return remount_bind_readonly(target);
    }
    Err(SysError::new("mount_setattr read-only", target, err))
}

/// Mount a tmpfs. `options` is mount(8)-style: flag words (`ro`, `nosuid`,
/// `nodev`, `noexec`, `noatime`, ...) become mount flags, the rest is passed
/// to tmpfs as data (`size=64m,mode=1777,uid=0`).
fn mount_tmpfs(options: &str, target: &Path) -> SysResult<()> {
    let (flags, data) = split_mount_options(options);
    let c = std::ffi::CString::new(data)
        .map_err(|e| SysError::new("mount tmpfs", target, std::io::Error::new(std::io::ErrorKind::InvalidInput, e)))?;
    rustix::mount::mount("tmpfs", target, "tmpfs", flags, c.as_c_str()).ctx("mount tmpfs", target)
}

/// Split mount(8)-style options into MS_* flags and the filesystem's data string.
pub fn split_mount_options(options: &str) -> (MountFlags, String) {
    let mut flags = MountFlags::empty();
    let mut data = Vec::new();
    for opt in options.split(',').map(str::trim).filter(|o| !o.is_empty()) {
        match opt {
            "ro" => flags |= MountFlags::RDONLY,
            "rw" => flags -= MountFlags::RDONLY,
            "nosuid" => flags |= MountFlags::NOSUID,
            "suid" => flags -= MountFlags::NOSUID,
            "nodev" => flags |= MountFlags::NODEV,
            "dev" => flags -= MountFlags::NODEV,
            "noexec" => flags |= MountFlags::NOEXEC,
            "exec" => flags -= MountFlags::NOEXEC,
            "noatime" => flags |= MountFlags::NOATIME,
            "nodiratime" => flags |= MountFlags::NODIRATIME,
            "relatime" => flags |= MountFlags::RELATIME,
            "strictatime" => flags |= MountFlags::STRICTATIME,
            "sync" => flags |= MountFlags::SYNCHRONOUS,
            "dirsync" => flags |= MountFlags::DIRSYNC,
            "async" | "defaults" => {}
            other => data.push(other),
        }
    }
    (flags, data.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::require_root;

    fn dirs(base: &Path, names: &[&str]) -> Vec<PathBuf> {
        names
            .iter()
            .map(|n| {
                let p = base.join(n);
                std::fs::create_dir_all(&p).unwrap();
                p
            })
            .collect()
    }

    fn erofs(p: &Path) -> bool {
        std::fs::write(p, b"x").unwrap_err().raw_os_error() == Some(libc::EROFS)
    }

    #[test]
    fn split_options() {
        let (f, d) = split_mount_options("size=10m, nosuid,nodev,mode=1777,ro");
        assert_eq!(f, MountFlags::NOSUID | MountFlags::NODEV | MountFlags::RDONLY);
        assert_eq!(d, "size=10m,mode=1777");
    }

    #[test]
    fn mountpoint_detection_unprivileged() {
        assert!(is_mountpoint(Path::new("/")));
        assert!(is_mountpoint(Path::new("/proc")));
        let t = tempfile::tempdir().unwrap();
        assert!(!is_mountpoint(t.path()));
        assert!(!is_mountpoint(&t.path().join("missing")));
    }

    #[test]
    fn bind_readonly_and_guard_unmounts() {
        if !require_root("bind_readonly_and_guard_unmounts") {
            return;
        }
        let t = tempfile::tempdir().unwrap();
        let [src, dst] = dirs(t.path(), &["src", "dst"]).try_into().unwrap();
        std::fs::write(src.join("f"), b"hello").unwrap();
        let spec = MountSpec::Bind { source: src.clone(), readonly: true, recursive: false };
        let g = mount_all(&[spec], &dst).unwrap();
        assert!(is_mountpoint(&dst));
        assert_eq!(std::fs::read(dst.join("f")).unwrap(), b"hello");
        assert!(erofs(&dst.join("g")));
        drop(g);
        assert!(!is_mountpoint(&dst));
        assert!(!dst.join("f").exists());
    }

    #[test]
    fn recursive_readonly_bind_covers_submounts() {
        if !require_root("recursive_readonly_bind_covers_submounts") {
            return;
        }
        let t = tempfile::tempdir().unwrap();
        let [src, sub, dst] = dirs(t.path(), &["src", "src/sub", "dst"]).try_into().unwrap();
        let sub_g = mount_all(&[MountSpec::Tmpfs { options: "size=1m".into() }], &sub).unwrap();
        let g = mount_all(&[MountSpec::Bind { source: src, readonly: true, recursive: true }], &dst).unwrap();
        assert!(is_mountpoint(&dst.join("sub")));
        assert!(erofs(&dst.join("sub/x")));
        assert!(erofs(&dst.join("x")));
        // The source's own submount stays writable.
        std::fs::write(sub.join("x"), b"").unwrap();
        drop(g);
        // The copied submount makes a plain umount of `dst` EBUSY; the guard
        // then detaches the whole tree.
        assert!(!is_mountpoint(&dst));
        drop(sub_g);
    }

    #[test]
    fn tmpfs_options_and_mount_all_unwinds() {
        if !require_root("tmpfs_options_and_mount_all_unwinds") {
            return;
        }
        let t = tempfile::tempdir().unwrap();
        let [dst] = dirs(t.path(), &["dst"]).try_into().unwrap();
        let g = mount_all(&[MountSpec::Tmpfs { options: "size=1m,mode=0710,nosuid".into() }], &dst).unwrap();
        use std::os::unix::fs::MetadataExt;
        assert_eq!(std::fs::metadata(&dst).unwrap().mode() & 0o7777, 0o710);
        assert_eq!(crate::probe::fs_type(&dst).unwrap(), "tmpfs");
        drop(g);
        // Second spec fails: the first is undone and the error names the target.
        let specs = [
            MountSpec::Tmpfs { options: String::new() },
            MountSpec::Bind { source: t.path().join("missing"), readonly: false, recursive: false },
        ];
        let err = mount_all(&specs, &dst).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::ENOENT));
        assert!(err.to_string().contains(&*dst.to_string_lossy()), "{err}");
        assert!(!is_mountpoint(&dst));
        let err = unmount(&dst, false).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::EINVAL));
    }

    #[test]
    fn overlay_merge_order_and_upper_writes() {
        if !require_root("overlay_merge_order_and_upper_writes") {
            return;
        }
        let t = tempfile::tempdir().unwrap();
        let [top, bottom, up, wk, m] = dirs(t.path(), &["top", "bottom", "up", "wk", "m"]).try_into().unwrap();
        std::fs::write(top.join("shadow"), b"top").unwrap();
        std::fs::write(bottom.join("shadow"), b"bottom").unwrap();
        std::fs::write(bottom.join("only-bottom"), b"b").unwrap();
        let rw = MountSpec::Overlay {
            lower: vec![top.clone(), bottom.clone()],
            upper: Some(up.clone()),
            work: Some(wk.clone()),
            userxattr: false,
        };
        let g = mount_all(&[rw], &m).unwrap();
        assert_eq!(std::fs::read(m.join("shadow")).unwrap(), b"top");
        assert_eq!(std::fs::read(m.join("only-bottom")).unwrap(), b"b");
        std::fs::write(m.join("new"), b"n").unwrap();
        std::fs::remove_file(m.join("only-bottom")).unwrap();
        drop(g);
        assert_eq!(std::fs::read(up.join("new")).unwrap(), b"n");
        assert!(crate::fs::is_whiteout(&std::fs::symlink_metadata(up.join("only-bottom")).unwrap()));

        // Read-only overlay of two lowers.
        let ro =
            MountSpec::Overlay { lower: vec![top.clone(), bottom.clone()], upper: None, work: None, userxattr: false };
        let g = mount_all(&[ro], &m).unwrap();
        assert_eq!(crate::probe::fs_type(&m).unwrap(), "overlayfs");
        assert!(erofs(&m.join("x")));
        drop(g);
        // One lower, no upper: a read-only bind.
        let one = MountSpec::Overlay { lower: vec![bottom.clone()], upper: None, work: None, userxattr: false };
        let g = mount_all(&[one], &m).unwrap();
        assert_eq!(std::fs::read(m.join("shadow")).unwrap(), b"bottom");
        assert!(erofs(&m.join("x")));
        drop(g);
        assert!(!is_mountpoint(&m));
    }

    /// Lower layer paths of ~120 bytes, as deep data roots produce.
    fn many_lowers(base: &Path, n: usize) -> Vec<PathBuf> {
        let long = "l".repeat(100);
        (0..n)
            .map(|i| {
                let p = base.join(format!("{long}{i:04}"));
                std::fs::create_dir_all(&p).unwrap();
                std::fs::write(p.join(format!("f{i}")), b"").unwrap();
                std::fs::write(p.join("shadow"), i.to_string()).unwrap();
                p
            })
            .collect()
    }

    #[test]
    fn overlay_200_long_lowers_and_501_refused() {
        if !require_root("overlay_200_long_lowers_and_501_refused") {
            return;
        }
        let t = tempfile::tempdir().unwrap();
        let [up, wk, m] = dirs(t.path(), &["up", "wk", "m"]).try_into().unwrap();
        let lowers = many_lowers(t.path(), 200);
        let legacy_len: usize = lowers.iter().map(|l| l.as_os_str().len() + 1).sum();
        assert!(legacy_len > 4096, "test must exceed one page of options");
        let spec = MountSpec::Overlay {
            lower: lowers.clone(),
            upper: Some(up.clone()),
            work: Some(wk.clone()),
            userxattr: false,
        };
        let g = mount_all(&[spec], &m).unwrap();
        assert_eq!(std::fs::read_to_string(m.join("shadow")).unwrap(), "0");
        assert!(m.join("f199").exists() && m.join("f0").exists());
        drop(g);

        // Each fallback path on its own.
        let extra = overlay_extra_options(false);
        if crate::probe::overlay_lowerdir_plus_supported() {
            assert!(overlay_new_api(&lowers, Some(&up), Some(&wk), false, &extra, &m, LayerForm::Path).is_ok());
            assert_eq!(std::fs::read_to_string(m.join("shadow")).unwrap(), "0");
            unmount(&m, false).unwrap();
        }
        overlay_legacy(&lowers, Some(&up), Some(&wk), false, &extra, &m).unwrap();
        assert_eq!(std::fs::read_to_string(m.join("shadow")).unwrap(), "0");
        assert!(m.join("f199").exists());
        unmount(&m, false).unwrap();

        let mut too_many = lowers;
        too_many.extend(many_lowers(&t.path().join("more"), 301));
        let spec = MountSpec::Overlay { lower: too_many, upper: Some(up), work: Some(wk), userxattr: false };
        let err = mount_all(&[spec], &m).unwrap_err();
        assert!(err.to_string().contains("limit of 500"), "{err}");
        assert!(!is_mountpoint(&m));
    }

    /// fsconfig string values are capped at 256 bytes; the fd form (or the
    /// legacy fallback on older kernels) has no such limit.
    #[test]
    fn overlay_layer_paths_longer_than_256_bytes() {
        if !require_root("overlay_layer_paths_longer_than_256_bytes") {
            return;
        }
        let t = tempfile::tempdir().unwrap();
        let deep = t.path().join("d".repeat(200)).join("e".repeat(100));
        let [a, b, up, wk, m] = dirs(&deep, &["a", "b", "up", "wk", "m"]).try_into().unwrap();
        assert!(a.as_os_str().len() > 256);
        std::fs::write(a.join("fa"), b"a").unwrap();
        std::fs::write(b.join("fb"), b"b").unwrap();
        let spec = MountSpec::Overlay { lower: vec![a, b], upper: Some(up.clone()), work: Some(wk), userxattr: false };
        let g = mount_all(&[spec], &m).unwrap();
        assert!(m.join("fa").exists() && m.join("fb").exists());
        std::fs::write(m.join("new"), b"").unwrap();
        drop(g);
        assert!(up.join("new").exists());
    }

    #[test]
    fn overlay_error_names_target_and_errno() {
        if !require_root("overlay_error_names_target_and_errno") {
            return;
        }
        let t = tempfile::tempdir().unwrap();
        let [l, m] = dirs(t.path(), &["l", "m"]).try_into().unwrap();
        let spec =
            MountSpec::Overlay { lower: vec![l, t.path().join("missing")], upper: None, work: None, userxattr: false };
        let err = mount(&spec, &m).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::ENOENT), "{err}");
        assert!(err.to_string().contains("missing"), "{err}");
    }
}
