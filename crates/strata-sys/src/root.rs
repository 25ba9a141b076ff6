//! Path resolution confined to a directory, as if it were `/`.
//!
//! A container rootfs or a layer being extracted is untrusted: it may contain
//! `../../..` chains, absolute symlinks (`etc -> /etc`) and symlinked parents.
//! Joining strings (`root.join(p)`) follows those onto the host
//! (CVE-2018-15664). Every lookup here goes through `openat2(RESOLVE_IN_ROOT)`,
//! which re-roots absolute links and `..` at the directory, and never follows
//! magic links. The final component is resolved by the caller (`*at` calls
//! with NOFOLLOW, or a `/proc/self/fd/N/name` path pinned to the parent fd).

use std::ffi::{OsStr, OsString};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use rustix::fs::{Mode, OFlags, ResolveFlags};

use crate::error::{Ctx, SysError, SysResult};

/// A directory that paths are resolved inside of.
#[derive(Debug)]
pub struct Root {
    fd: OwnedFd,
    path: PathBuf,
}

const RESOLVE: ResolveFlags = ResolveFlags::IN_ROOT.union(ResolveFlags::NO_MAGICLINKS);

impl Root {
    /// Open `path` (a host path the caller trusts) as a root.
    pub fn new(path: &Path) -> SysResult<Root> {
        let fd = rustix::fs::open(path, OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())
            .ctx("open", path)?;
        Ok(Root { fd, path: path.to_path_buf() })
    }

    /// The host path this root was opened at.
    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// Open `rel` inside the root, following symlinks (confined) in every component.
    pub fn open(&self, rel: &Path, flags: OFlags) -> SysResult<OwnedFd> {
        let rel = relative(rel);
        rustix::fs::openat2(&self.fd, &rel, flags | OFlags::CLOEXEC, Mode::empty(), RESOLVE)
            .map_err(|e| SysError::new("openat2", self.path.join(&rel), std::io::Error::from(e)))
    }

    /// Open `rel` without following a final symlink (O_PATH|O_NOFOLLOW): for lstat-like use.
    pub fn open_nofollow(&self, rel: &Path) -> SysResult<OwnedFd> {
        self.open(rel, OFlags::PATH | OFlags::NOFOLLOW)
    }

    /// Open a directory inside the root.
    pub fn open_dir(&self, rel: &Path) -> SysResult<OwnedFd> {
        self.open(rel, OFlags::RDONLY | OFlags::DIRECTORY)
    }

    /// Resolve the parent of `rel` (confined, symlinks followed) and return its fd
    /// with the final name, which the caller must act on without following it.
    /// `rel` naming the root itself yields `(root, ".")`.
    pub fn parent_of(&self, rel: &Path) -> SysResult<(OwnedFd, OsString)> {
        let rel = relative(rel);
        match (rel.parent(), rel.file_name()) {
            (Some(parent), Some(name)) => {
                let fd = self.open(parent, OFlags::PATH | OFlags::DIRECTORY)?;
                Ok((fd, name.to_os_string()))
            }
            _ => {
                let fd = self.open(Path::new("."), OFlags::PATH | OFlags::DIRECTORY)?;
                Ok((fd, OsString::from(".")))
            }
        }
    }

    /// `mkdir -p` inside the root; existing components (or symlinks to directories,
    /// resolved confined) are accepted, and a symlink whose confined target does
    /// not exist yet has that target created, inside the root. Returns an O_PATH
    /// fd of the directory.
    pub fn mkdir_all(&self, rel: &Path, mode: u32) -> SysResult<OwnedFd> {
        let mut want = relative(rel);
        'restart: for _ in 0..40 {
            let mut cur = self.open(Path::new("."), OFlags::PATH | OFlags::DIRECTORY)?;
            let mut so_far = PathBuf::new();
            let comps: Vec<Component> = want.components().collect();
            for (i, comp) in comps.iter().enumerate() {
                let name = match comp {
                    Component::Normal(n) => *n,
                    Component::ParentDir => {
                        so_far.push("..");
                        cur = self.open(&so_far, OFlags::PATH | OFlags::DIRECTORY)?;
                        continue;
                    }
                    _ => continue,
                };
                so_far.push(name);
                match rustix::fs::mkdirat(&cur, name, Mode::from_raw_mode(mode)) {
                    Ok(()) | Err(rustix::io::Errno::EXIST) => {}
                    Err(e) => return Err(SysError::new("mkdir", self.path.join(&so_far), std::io::Error::from(e))),
                }
                // Re-resolve from the root so a symlink component stays confined.
                match self.open(&so_far, OFlags::PATH | OFlags::DIRECTORY) {
                    Ok(fd) => cur = fd,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                        // A dangling symlink: create its target (confined) instead.
                        let target = rustix::fs::readlinkat(&cur, name, Vec::new()).map_err(|_| e)?;
                        let target = PathBuf::from(std::ffi::OsStr::from_bytes(target.as_bytes()));
                        let mut next = if target.is_absolute() {
                            relative(&target)
                        } else {
                            so_far.parent().map(Path::to_path_buf).unwrap_or_default().join(target)
                        };
                        for rest in &comps[i + 1..] {
                            next.push(rest.as_os_str());
                        }
                        want = next;
                        continue 'restart;
                    }
                    Err(e) => return Err(e),
                }
            }
            return Ok(cur);
        }
        Err(SysError::new("mkdir", self.path.join(rel), std::io::Error::from_raw_os_error(libc::ELOOP)))
    }

    /// The host path of `rel` after confined resolution of its parent; the final
    /// component is not resolved. Valid while the returned fd is held: the path
    /// goes through `/proc/self/fd`, so it cannot be redirected by a rename.
    pub fn pinned(&self, rel: &Path) -> SysResult<Pinned> {
        let (dir, name) = self.parent_of(rel)?;
        Ok(Pinned { dir, name })
    }
}

/// A parent directory fd plus a final name; see [`Root::pinned`].
#[derive(Debug)]
pub struct Pinned {
    pub dir: OwnedFd,
    pub name: OsString,
}

impl Pinned {
    /// A path usable with path-based syscalls that does not re-resolve the parent.
    pub fn path(&self) -> PathBuf {
        fd_path(self.dir.as_fd(), &self.name)
    }
}

/// `/proc/self/fd/N/name`: a path whose parent is pinned to an open fd.
pub fn fd_path(dir: BorrowedFd<'_>, name: &OsStr) -> PathBuf {
    // `/proc/self/fd/N/.` (not `/proc/self/fd/N`) names the directory itself:
    // lstat of the bare magic link would see a symlink.
    let mut p = PathBuf::from(format!("/proc/self/fd/{}", dir.as_raw_fd()));
    p.push(name);
    p
}

/// Strip leading `/` and normalise `rel` so it can be resolved beneath a root.
/// `..` is kept: the kernel clamps it at the root.
pub fn relative(rel: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in rel.components() {
        match c {
            Component::RootDir | Component::Prefix(_) | Component::CurDir => {}
            Component::ParentDir => out.push(".."),
            Component::Normal(n) => out.push(n),
        }
    }
    if out.as_os_str().is_empty() {
        out.push(".");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn absolute_and_dotdot_links_stay_inside() {
        let t = tempfile::tempdir().unwrap();
        let r = t.path().join("root");
        std::fs::create_dir_all(r.join("etc")).unwrap();
        std::fs::write(r.join("etc/passwd"), "inside").unwrap();
        symlink("/etc/passwd", r.join("abs")).unwrap();
        symlink("../../../../etc/passwd", r.join("dotdot")).unwrap();
        symlink("/", r.join("slash")).unwrap();
        let root = Root::new(&r).unwrap();
        for p in ["abs", "dotdot", "slash/etc/passwd", "../../etc/passwd"] {
            let fd = root.open(Path::new(p), OFlags::RDONLY).unwrap();
            let s = std::io::read_to_string(std::fs::File::from(fd)).unwrap();
            assert_eq!(s, "inside", "{p}");
        }
    }

    #[test]
    fn mkdir_all_through_symlinked_parent_stays_inside() {
        let t = tempfile::tempdir().unwrap();
        let r = t.path().join("root");
        std::fs::create_dir(&r).unwrap();
        let outside = t.path().join("outside");
        std::fs::create_dir(&outside).unwrap();
        symlink(&outside, r.join("link")).unwrap();
        let root = Root::new(&r).unwrap();
        root.mkdir_all(Path::new("link/a/b"), 0o755).unwrap();
        assert!(!outside.join("a").exists());
        assert!(r.join(outside.strip_prefix("/").unwrap()).join("a/b").is_dir());
    }
}
