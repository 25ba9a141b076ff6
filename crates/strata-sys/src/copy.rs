//! Copies of file data and whole trees, as cheap as the filesystem allows.
//!
//! [`copy_file_data`] tries, in order: `FICLONE` (a reflink: btrfs, xfs with
//! `reflink=1`; shares extents, O(1) in data size), `copy_file_range` (in-kernel,
//! which itself reflinks or server-side copies where it can), then `read`/`write`.
//! Holes are kept: only the data segments found with `SEEK_DATA`/`SEEK_HOLE` are
//! copied and the destination is extended to the full length.
//!
//! [`copy_tree`] copies a layer tree exactly: file types (incl. overlay
//! whiteouts, char 0/0), hard links within the tree, ownership, permission bits,
//! every xattr, and atime/mtime (directories after their contents). It is how
//! vfs makes a child layer and how volumes are cloned.

use std::collections::HashMap;
use std::fs::File;
use std::os::unix::fs::{DirBuilderExt, FileExt, FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use rustix::fs::SeekFrom;
use rustix::io::Errno;

use crate::error::{Ctx, SysError, SysResult};
use crate::fs::{NodeKind, dev_major_minor};

/// How [`copy_file_data`] moved the bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CopyMethod {
    /// `FICLONE`: the destination shares the source's extents.
    Reflink,
    /// `copy_file_range`: copied in the kernel (may itself share extents).
    CopyFileRange,
    /// Plain `read`/`write` through user space.
    ReadWrite,
}

/// A readable name for an open file in error messages.
fn fd_path(f: &File) -> PathBuf {
    let link = format!("/proc/self/fd/{}", std::os::fd::AsRawFd::as_raw_fd(f));
    std::fs::read_link(&link).unwrap_or_else(|_| PathBuf::from(link))
}

/// Copy the first `len` bytes of `src` into `dst` (opened for writing, normally
/// empty); `dst` ends up exactly `len` bytes long. Holes in `src` stay holes.
/// Returns the method that carried the data.
pub fn copy_file_data(src: &File, dst: &File, len: u64) -> SysResult<CopyMethod> {
    let src_len = src.metadata().map_err(|e| SysError::new("fstat", fd_path(src), e))?.len();
    if len > 0 && len == src_len && rustix::fs::ioctl_ficlone(dst, src).is_ok() {
        return Ok(CopyMethod::Reflink);
    }
    let mut method = CopyMethod::CopyFileRange;
    let mut cfr_ok = true;
    let mut pos = 0u64;
    while pos < len {
        // Next data segment [start, end).
        let start = match rustix::fs::seek(src, SeekFrom::Data(pos)) {
            Ok(s) => s,
            Err(Errno::NXIO) => break, // only a hole remains
            Err(_) => pos,             // no SEEK_DATA: treat everything as data
        };
        if start >= len {
            break;
        }
        let end = match rustix::fs::seek(src, SeekFrom::Hole(start)) {
            Ok(e) => e.min(len),
            Err(_) => len,
        };
        let mut off = start;
        while off < end {
            let want = (end - off).min(1 << 30) as usize;
            if cfr_ok {
                let (mut a, mut b) = (off, off);
                match rustix::fs::copy_file_range(src, Some(&mut a), dst, Some(&mut b), want) {
                    Ok(0) => {
                        // Source shrank under us: the rest is read as zeroes.
                        off = end;
                        continue;
                    }
                    Ok(n) => {
                        off += n as u64;
                        continue;
                    }
                    Err(Errno::XDEV | Errno::NOSYS | Errno::OPNOTSUPP | Errno::INVAL | Errno::PERM | Errno::BADF) => {
                        cfr_ok = false;
                        method = CopyMethod::ReadWrite;
                    }
                    Err(e) => return Err(SysError::new("copy_file_range", fd_path(dst), e)),
                }
            }
            off = copy_range_rw(src, dst, off, end)?;
        }
        pos = end;
    }
    dst.set_len(len).map_err(|e| SysError::new("ftruncate", fd_path(dst), e))?;
    Ok(method)
}

/// pread/pwrite `[off, end)`; returns where it stopped (`end`, or earlier at EOF).
fn copy_range_rw(src: &File, dst: &File, mut off: u64, end: u64) -> SysResult<u64> {
    let mut buf = vec![0u8; 256 * 1024];
    while off < end {
        let want = ((end - off) as usize).min(buf.len());
        let n = match src.read_at(&mut buf[..want], off) {
            Ok(0) => return Ok(end),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(SysError::new("read", fd_path(src), e)),
        };
        dst.write_all_at(&buf[..n], off).map_err(|e| SysError::new("write", fd_path(dst), e))?;
        off += n as u64;
    }
    Ok(off)
}

/// What [`copy_tree`] copied.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct CopyStats {
    pub dirs: u64,
    pub files: u64,
    pub symlinks: u64,
    /// Additional names of already-copied inodes (recreated as hard links).
    pub hardlinks: u64,
    /// Device nodes (incl. whiteouts) and fifos.
    pub specials: u64,
    /// Sockets are not copied (they are meaningless without their process).
    pub sockets_skipped: u64,
    /// Bytes of regular file data (apparent sizes).
    pub bytes: u64,
    /// Regular files whose data was shared by reflink rather than copied.
    pub reflinked: u64,
}

/// Copy the tree at `src` to `dst`. `dst` must not exist, or be an empty
/// directory (its metadata is then replaced by `src`'s). Symlinks are copied,
/// never followed; mount points inside `src` are not treated specially.
pub fn copy_tree(src: &Path, dst: &Path) -> SysResult<CopyStats> {
    let md = std::fs::symlink_metadata(src).ctx("stat", src)?;
    if !md.is_dir() {
        return Err(SysError::new(
            "copy tree",
            src,
            std::io::Error::new(std::io::ErrorKind::NotADirectory, "source is not a directory"),
        ));
    }
    let mut c = TreeCopy { stats: CopyStats::default(), links: HashMap::new() };
    match std::fs::DirBuilder::new().mode(0o700).create(dst) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && dst.is_dir() => {}
        Err(e) => return Err(SysError::new("mkdir", dst, e)),
    }
    c.copy_dir(src, dst, &md)?;
    Ok(c.stats)
}

struct TreeCopy {
    stats: CopyStats,
    /// (dev, ino) of multiply-linked sources → the first destination path.
    links: HashMap<(u64, u64), PathBuf>,
}

impl TreeCopy {
    /// `dst` exists (mode 0700); fill it, then apply `md`.
    fn copy_dir(&mut self, src: &Path, dst: &Path, md: &std::fs::Metadata) -> SysResult<()> {
        self.stats.dirs += 1;
        let mut names: Vec<_> = std::fs::read_dir(src)
            .ctx("readdir", src)?
            .map(|e| e.map(|e| e.file_name()))
            .collect::<std::io::Result<_>>()
            .ctx("readdir", src)?;
        names.sort();
        for name in names {
            self.copy_entry(&src.join(&name), &dst.join(&name))?;
        }
        self.apply_meta(src, dst, md, false)
    }

    fn copy_entry(&mut self, src: &Path, dst: &Path) -> SysResult<()> {
        let md = std::fs::symlink_metadata(src).ctx("stat", src)?;
        let ft = md.file_type();
        if ft.is_socket() {
            self.stats.sockets_skipped += 1;
            return Ok(());
        }
        if ft.is_dir() {
            std::fs::DirBuilder::new().mode(0o700).create(dst).ctx("mkdir", dst)?;
            return self.copy_dir(src, dst, &md);
        }
        if md.nlink() > 1 {
            if let Some(first) = self.links.get(&(md.dev(), md.ino())) {
                std::fs::hard_link(first, dst).ctx("link", dst)?;
                self.stats.hardlinks += 1;
                return Ok(());
            }
            self.links.insert((md.dev(), md.ino()), dst.to_path_buf());
        }
        if ft.is_symlink() {
            let target = std::fs::read_link(src).ctx("readlink", src)?;
            std::os::unix::fs::symlink(&target, dst).ctx("symlink", dst)?;
            self.stats.symlinks += 1;
            return self.apply_meta(src, dst, &md, true);
        }
        if ft.is_file() {
            let s = std::fs::OpenOptions::new().read(true).custom_flags(libc::O_NOFOLLOW).open(src).ctx("open", src)?;
            let d =
                std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(dst).ctx("create", dst)?;
            if copy_file_data(&s, &d, md.len())? == CopyMethod::Reflink {
                self.stats.reflinked += 1;
            }
            self.stats.files += 1;
            self.stats.bytes += md.len();
            drop(d);
            return self.apply_meta(src, dst, &md, false);
        }
        let kind = if ft.is_char_device() {
            NodeKind::Char
        } else if ft.is_block_device() {
            NodeKind::Block
        } else {
            NodeKind::Fifo
        };
        let (maj, min) = dev_major_minor(md.rdev());
        crate::fs::mknod(dst, kind, 0o600, maj, min)?;
        self.stats.specials += 1;
        self.apply_meta(src, dst, &md, false)
    }

    /// Ownership, then permission bits (chown clears set-id bits), then xattrs
    /// (chown clears security.capability), then times.
    fn apply_meta(&mut self, src: &Path, dst: &Path, md: &std::fs::Metadata, symlink: bool) -> SysResult<()> {
        let cur = std::fs::symlink_metadata(dst).ctx("stat", dst)?;
        if (cur.uid(), cur.gid()) != (md.uid(), md.gid()) {
            crate::fs::lchown(dst, md.uid(), md.gid())?;
        }
        if !symlink {
            crate::fs::chmod(dst, md.mode())?;
        }
        for (name, value) in crate::fs::list_xattrs(src)? {
            if symlink && name.as_encoded_bytes().starts_with(b"user.") {
                continue; // the kernel refuses user.* on symlinks (EPERM)
            }
            crate::fs::set_xattr(dst, &name, &value)?;
        }
        crate::fs::set_times(dst, (md.atime(), md.atime_nsec() as u32), (md.mtime(), md.mtime_nsec() as u32))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn copy_file_data_keeps_holes_and_length() {
        let t = tempfile::tempdir().unwrap();
        let (a, b) = (t.path().join("a"), t.path().join("b"));
        {
            let f = File::create(&a).unwrap();
            f.write_all_at(b"head", 0).unwrap();
            f.write_all_at(b"middle", 8 << 20).unwrap();
            f.set_len(32 << 20).unwrap();
        }
        let s = File::open(&a).unwrap();
        let d = File::create(&b).unwrap();
        copy_file_data(&s, &d, 32 << 20).unwrap();
        drop(d);
        let got = std::fs::read(&b).unwrap();
        let want = std::fs::read(&a).unwrap();
        assert_eq!(got.len(), 32 << 20);
        assert!(got == want);
        // Sparse: far fewer blocks than the apparent size (unless reflinked,
        // which shares extents and is equally small).
        assert!(std::fs::metadata(&b).unwrap().blocks() * 512 < 4 << 20);
    }

    #[test]
    fn copy_file_data_prefix_and_empty() {
        let t = tempfile::tempdir().unwrap();
        let a = t.path().join("a");
        std::fs::write(&a, b"0123456789").unwrap();
        let s = File::open(&a).unwrap();
        let d = File::create(t.path().join("b")).unwrap();
        let m = copy_file_data(&s, &d, 4).unwrap();
        assert_ne!(m, CopyMethod::Reflink);
        assert_eq!(std::fs::read(t.path().join("b")).unwrap(), b"0123");
        std::fs::write(&a, b"").unwrap();
        let d = File::create(t.path().join("c")).unwrap();
        copy_file_data(&File::open(&a).unwrap(), &d, 0).unwrap();
        assert_eq!(std::fs::metadata(t.path().join("c")).unwrap().len(), 0);
    }

    #[test]
    fn copy_tree_preserves_types_links_modes_times_xattrs() {
        let t = tempfile::tempdir().unwrap();
        let src = t.path().join("src");
        std::fs::create_dir_all(src.join("d/e")).unwrap();
        let mut f = File::create(src.join("d/file")).unwrap();
        f.write_all(b"data").unwrap();
        drop(f);
        std::fs::set_permissions(src.join("d/file"), std::fs::Permissions::from_mode(0o640)).unwrap();
        std::fs::hard_link(src.join("d/file"), src.join("hl")).unwrap();
        std::os::unix::fs::symlink("d/file", src.join("sym")).unwrap();
        crate::fs::mknod(&src.join("fifo"), NodeKind::Fifo, 0o644, 0, 0).unwrap();
        let _sock = std::os::unix::net::UnixListener::bind(src.join("sock")).unwrap();
        let has_user_xattr = xattr::set(src.join("d/file"), "user.k", b"v").is_ok();
        std::fs::set_permissions(src.join("d/e"), std::fs::Permissions::from_mode(0o705)).unwrap();
        crate::fs::set_times(&src.join("d"), (1_000_000, 5), (1_000_001, 7)).unwrap();
        crate::fs::set_times(&src.join("sym"), (2_000_000, 0), (2_000_001, 0)).unwrap();

        let dst = t.path().join("dst");
        let st = copy_tree(&src, &dst).unwrap();
        assert_eq!((st.files, st.hardlinks, st.symlinks, st.specials, st.sockets_skipped), (1, 1, 1, 1, 1));
        assert_eq!(st.dirs, 3);
        assert_eq!(std::fs::read(dst.join("hl")).unwrap(), b"data");
        let a = std::fs::symlink_metadata(dst.join("d/file")).unwrap();
        let b = std::fs::symlink_metadata(dst.join("hl")).unwrap();
        assert_eq!(a.ino(), b.ino());
        assert_eq!(a.mode() & 0o7777, 0o640);
        assert_eq!(std::fs::read_link(dst.join("sym")).unwrap(), Path::new("d/file"));
        assert!(std::fs::symlink_metadata(dst.join("fifo")).unwrap().file_type().is_fifo());
        assert!(!dst.join("sock").exists());
        assert_eq!(std::fs::metadata(dst.join("d/e")).unwrap().mode() & 0o7777, 0o705);
        let d = std::fs::metadata(dst.join("d")).unwrap();
        assert_eq!((d.mtime(), d.mtime_nsec()), (1_000_001, 7));
        let s = std::fs::symlink_metadata(dst.join("sym")).unwrap();
        assert_eq!(s.mtime(), 2_000_001);
        if has_user_xattr {
            assert_eq!(xattr::get(dst.join("d/file"), "user.k").unwrap().as_deref(), Some(&b"v"[..]));
        }
    }

    #[test]
    fn copy_tree_root_only_owners_devices_trusted_xattrs() {
        if !crate::probe::require_root("copy_tree_root_only_owners_devices_trusted_xattrs") {
            return;
        }
        let t = tempfile::tempdir().unwrap();
        let src = t.path().join("src");
        std::fs::create_dir_all(src.join("opq")).unwrap();
        std::fs::write(src.join("f"), b"x").unwrap();
        std::fs::set_permissions(src.join("f"), std::fs::Permissions::from_mode(0o4755)).unwrap();
        crate::fs::lchown(&src.join("f"), 1000, 1001).unwrap();
        // chown clears set-id bits; set them again as a layer would.
        std::fs::set_permissions(src.join("f"), std::fs::Permissions::from_mode(0o4755)).unwrap();
        crate::fs::mknod_whiteout(&src.join("wh")).unwrap();
        crate::fs::mknod(&src.join("null"), NodeKind::Char, 0o666, 1, 3).unwrap();
        crate::fs::set_xattr(&src.join("opq"), "trusted.overlay.opaque", b"y").unwrap();
        std::os::unix::fs::symlink("f", src.join("l")).unwrap();
        crate::fs::lchown(&src.join("l"), 7, 8).unwrap();
        crate::fs::set_xattr(&src.join("l"), "trusted.t", b"1").unwrap();

        let dst = t.path().join("dst");
        copy_tree(&src, &dst).unwrap();
        let f = std::fs::metadata(dst.join("f")).unwrap();
        assert_eq!((f.uid(), f.gid(), f.mode() & 0o7777), (1000, 1001, 0o4755));
        assert!(crate::fs::is_whiteout(&std::fs::symlink_metadata(dst.join("wh")).unwrap()));
        let n = std::fs::symlink_metadata(dst.join("null")).unwrap();
        assert_eq!(dev_major_minor(n.rdev()), (1, 3));
        assert_eq!(
            crate::fs::get_xattr(&dst.join("opq"), "trusted.overlay.opaque").unwrap().as_deref(),
            Some(&b"y"[..])
        );
        let l = std::fs::symlink_metadata(dst.join("l")).unwrap();
        assert_eq!((l.uid(), l.gid()), (7, 8));
        assert_eq!(crate::fs::get_xattr(&dst.join("l"), "trusted.t").unwrap().as_deref(), Some(&b"1"[..]));
    }
}
