//! Extended attributes by fd or by pinned path, through rustix.
//!
//! Which xattrs travel: everything except overlayfs' private metadata
//! (`trusted.overlay.*`, `user.overlay.*`: a copy must never forge whiteouts,
//! redirects or opaque markers in a layer) and host SELinux labels.
//! Filesystems without xattr support read as empty; `user.*` is never set on
//! symlinks (the kernel refuses it); ENOTSUP on set is ignored.

use std::ffi::{OsStr, OsString};
use std::os::fd::BorrowedFd;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::Path;

use rustix::fs::XattrFlags;
use rustix::io::Errno;

use super::error::{CpError, CpResult};

pub(crate) type Xattrs = Vec<(OsString, Vec<u8>)>;

/// What an xattr call acts on.
#[derive(Clone, Copy)]
pub(crate) enum On<'a> {
    /// An open file or directory.
    Fd(BorrowedFd<'a>),
    /// A path whose final component is not followed (`l*xattr`): symlinks and
    /// specials named `/proc/self/fd/DIR/name`.
    Link(&'a Path),
    /// A path whose final component is followed: an fd's `/proc/self/fd/N`.
    Deref(&'a Path),
}

pub(crate) fn travels(name: &[u8]) -> bool {
    !(name.starts_with(b"trusted.overlay.") || name.starts_with(b"user.overlay.") || name == b"security.selinux")
}

fn nosupport(e: Errno) -> bool {
    e == Errno::NOTSUP || e == Errno::OPNOTSUPP
}

fn list_into(on: On<'_>, buf: &mut [u8]) -> rustix::io::Result<usize> {
    match on {
        On::Fd(fd) => rustix::fs::flistxattr(fd, buf),
        On::Link(p) => rustix::fs::llistxattr(p, buf),
        On::Deref(p) => rustix::fs::listxattr(p, buf),
    }
}

fn list_size(on: On<'_>) -> rustix::io::Result<usize> {
    match on {
        On::Fd(fd) => rustix::fs::flistxattr_query(fd),
        On::Link(p) => rustix::fs::llistxattr_query(p),
        On::Deref(p) => rustix::fs::listxattr_query(p),
    }
}

fn get_into(on: On<'_>, name: &OsStr, buf: &mut [u8]) -> rustix::io::Result<usize> {
    match on {
        On::Fd(fd) => rustix::fs::fgetxattr(fd, name, buf),
        On::Link(p) => rustix::fs::lgetxattr(p, name, buf),
        On::Deref(p) => rustix::fs::getxattr(p, name, buf),
    }
}

fn get_size(on: On<'_>, name: &OsStr) -> rustix::io::Result<usize> {
    match on {
        On::Fd(fd) => rustix::fs::fgetxattr_query(fd, name),
        On::Link(p) => rustix::fs::lgetxattr_query(p, name),
        On::Deref(p) => rustix::fs::getxattr_query(p, name),
    }
}

/// Call `into` with a buffer that grows until the value fits.
fn sized(
    mut into: impl FnMut(&mut [u8]) -> rustix::io::Result<usize>,
    size: impl Fn() -> rustix::io::Result<usize>,
) -> rustix::io::Result<Vec<u8>> {
    let mut small = [0u8; 512];
    match into(&mut small) {
        Ok(n) => return Ok(small[..n].to_vec()),
        Err(Errno::RANGE) => {}
        Err(e) => return Err(e),
    }
    loop {
        let mut big = vec![0u8; size()?.max(small.len()) * 2];
        match into(&mut big) {
            Ok(n) => {
                big.truncate(n);
                return Ok(big);
            }
            Err(Errno::RANGE) => continue, // grew meanwhile
            Err(e) => return Err(e),
        }
    }
}

/// The xattrs of `on` that travel, sorted by name.
pub(crate) fn read(on: On<'_>, shown: &str) -> CpResult<Xattrs> {
    let names = match sized(|b| list_into(on, b), || list_size(on)) {
        Ok(n) => n,
        Err(e) if nosupport(e) => return Ok(Vec::new()),
        Err(e) => return Err(CpError::io("listxattr", shown, e)),
    };
    let mut out = Vec::new();
    for name in names.split(|b| *b == 0).filter(|n| !n.is_empty()) {
        if !travels(name) {
            continue;
        }
        let name = OsStr::from_bytes(name);
        match sized(|b| get_into(on, name, b), || get_size(on, name)) {
            Ok(v) => out.push((OsString::from_vec(name.as_bytes().to_vec()), v)),
            // Removed since listed, or not readable on this filesystem.
            Err(Errno::NODATA) => {}
            Err(e) if nosupport(e) => {}
            Err(e) => return Err(CpError::io("getxattr", shown, e)),
        }
    }
    out.sort();
    Ok(out)
}

/// Set `xattrs` on `on`. `symlink` skips `user.*`. ENOTSUP is ignored, and so
/// is EPERM when not running as root (a rootless copy cannot set `trusted.*`).
pub(crate) fn write(on: On<'_>, xattrs: &Xattrs, symlink: bool, privileged: bool, shown: &str) -> CpResult<()> {
    for (name, value) in xattrs {
        let n = name.as_bytes();
        if !travels(n) || (symlink && n.starts_with(b"user.")) {
            continue;
        }
        let r = match on {
            On::Fd(fd) => rustix::fs::fsetxattr(fd, name.as_os_str(), value, XattrFlags::empty()),
            On::Link(p) => rustix::fs::lsetxattr(p, name.as_os_str(), value, XattrFlags::empty()),
            On::Deref(p) => rustix::fs::setxattr(p, name.as_os_str(), value, XattrFlags::empty()),
        };
        match r {
            Ok(()) => {}
            Err(e) if nosupport(e) => {}
            Err(Errno::PERM) if !privileged => {}
            Err(e) => return Err(CpError::io("setxattr", shown, e)),
        }
    }
    Ok(())
}
