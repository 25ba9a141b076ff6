//! Mount namespaces.
//!
//! `docker cp` (Engine ≥ 24, `openContainerFS`) assembles each container's
//! filesystem view — rootfs plus its volumes — inside a dedicated, unshared
//! mount namespace, so the mounts are invisible to the host, cannot be
//! propagated anywhere, and vanish when the process exits even if it crashes.
//! strata's CLI does the same by calling [`private_mount_namespace`] first.

use std::path::Path;

use rustix::mount::MountPropagationFlags;
use rustix::thread::UnshareFlags;

use crate::error::{Ctx, SysResult};

/// Move the caller into a new mount namespace (`unshare(CLONE_NEWNS)`) and make
/// every mount in it recursively private (`MS_REC|MS_PRIVATE` on `/`), so mounts
/// made afterwards are invisible to the host and die with the process.
///
/// **Call it while the process is single-threaded** (first thing in `main`,
/// before any thread is spawned). The kernel gives the new namespace to the
/// *calling thread* only: threads that already exist stay in the old namespace,
/// so in a multi-threaded process every mount, and every path lookup that must
/// see those mounts, has to happen on the thread that called this. Threads
/// spawned afterwards inherit the namespace.
///
/// Needs `CAP_SYS_ADMIN` (root, or a user namespace that owns it).
pub fn private_mount_namespace() -> SysResult<()> {
    // SAFETY: CLONE_NEWNS (which implies CLONE_FS) does not unshare the file
    // descriptor table, so no thread can observe a descriptor from a table it
    // does not share (the hazard `unshare_unsafe` documents for CLONE_FILES).
    unsafe { rustix::thread::unshare_unsafe(UnshareFlags::NEWNS) }.ctx("unshare(CLONE_NEWNS)", Path::new("/"))?;
    rustix::mount::mount_change("/", MountPropagationFlags::REC | MountPropagationFlags::PRIVATE)
        .ctx("make mounts private (MS_REC|MS_PRIVATE)", Path::new("/"))
}

/// The inode number of the calling thread's mount namespace
/// (`/proc/thread-self/ns/mnt`): two threads or processes share a mount
/// namespace exactly when these are equal.
pub fn mount_namespace_id() -> SysResult<u64> {
    use std::os::unix::fs::MetadataExt;
    let p = Path::new("/proc/thread-self/ns/mnt");
    std::fs::metadata(p).map(|m| m.ino()).ctx("stat", p)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Run in a child thread: the namespace belongs to that thread only, so the
    /// test process's other threads (and the host) never see the mount.
    #[test]
    fn private_namespace_hides_mounts_from_the_host() {
        if !crate::probe::require_root("private_namespace_hides_mounts_from_the_host") {
            return;
        }
        let t = tempfile::tempdir().unwrap();
        let target = t.path().to_path_buf();
        let before = mount_namespace_id().unwrap();
        let inner = std::thread::spawn({
            let target = target.clone();
            move || {
                private_mount_namespace().unwrap();
                let ns = mount_namespace_id().unwrap();
                crate::mount::mount(&crate::mount::MountSpec::Tmpfs { options: "size=1m".into() }, &target).unwrap();
                std::fs::write(target.join("inside"), b"x").unwrap();
                assert!(crate::mount::is_mountpoint(&target));
                ns
            }
        })
        .join()
        .unwrap();
        assert_ne!(inner, before);
        assert_eq!(mount_namespace_id().unwrap(), before);
        // The tmpfs lived only in the thread's namespace, which died with it.
        assert!(!crate::mount::is_mountpoint(&target));
        assert!(!target.join("inside").exists());
    }
}
