//! Random access to the members of an image archive: a tar file indexed in one
//! pass (headers are read, data is seeked over), or an OCI layout directory.
//!
//! Members are addressed by their cleaned relative path (`blobs/sha256/<hex>`,
//! `<id>/layer.tar`). Symlinks and hard links inside a tar are followed (Docker
//! ≤24 writes a symlink for a layer two images share). Reads are positional
//! (`pread`), so a member reader never disturbs another and nothing is held in
//! memory but small JSON documents.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use crate::error::{Result, StoreError};

/// Largest JSON document (manifest, index, config) read into memory.
pub(crate) const MAX_JSON: u64 = 64 << 20;

/// `a/./b/../c` → `a/c`; `None` when the path climbs out of the archive root.
pub(crate) fn clean(name: &str) -> Option<String> {
    let mut parts: Vec<&str> = Vec::new();
    for c in name.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            c => parts.push(c),
        }
    }
    Some(parts.join("/"))
}

#[derive(Debug, Clone)]
enum Member {
    File {
        offset: u64,
        size: u64,
    },
    /// Target, already cleaned and relative to the archive root.
    Link(String),
    Dir,
}

/// The members of an uncompressed tar file, by path.
pub(crate) struct TarIndex {
    file: File,
    members: HashMap<String, Member>,
}

impl TarIndex {
    /// Read every header of `file` from its start, seeking over the data.
    /// Fails when a member's data would extend past the end of the file.
    pub(crate) fn build(file: File, archive: &str) -> Result<TarIndex> {
        let len = file.metadata().map_err(|e| bad(archive, format!("stat: {e}")))?.len();
        let mut members = HashMap::new();
        {
            let mut reader = &file;
            io::Seek::seek(&mut reader, io::SeekFrom::Start(0)).map_err(|e| bad(archive, format!("seek: {e}")))?;
            let mut ar = tar::Archive::new(reader);
            let entries = ar.entries_with_seek().map_err(|e| bad(archive, format!("not a tar archive: {e}")))?;
            for entry in entries {
                let entry = entry.map_err(|e| bad(archive, format!("reading tar headers: {e}")))?;
                let raw = entry.path().map_err(|e| bad(archive, format!("tar entry name: {e}")))?;
                let raw = raw.to_string_lossy().into_owned();
                let Some(name) = clean(&raw) else {
                    return Err(bad(archive, format!("{raw}: member path leaves the archive")));
                };
                let kind = entry.header().entry_type();
                let member = if kind.is_file() || kind == tar::EntryType::Continuous {
                    let (offset, size) = (entry.raw_file_position(), entry.size());
                    if offset.checked_add(size).is_none_or(|end| end > len) {
                        return Err(bad(
                            archive,
                            format!(
                                "{name}: archive is truncated ({size} bytes of data declared at offset {offset}, file has {len})"
                            ),
                        ));
                    }
                    Member::File { offset, size }
                } else if kind.is_symlink() || kind.is_hard_link() {
                    let target = entry
                        .link_name()
                        .map_err(|e| bad(archive, format!("{name}: link target: {e}")))?
                        .map(|p| p.to_string_lossy().into_owned())
                        .unwrap_or_default();
                    let joined = if kind.is_hard_link() || target.starts_with('/') {
                        target.clone()
                    } else {
                        match name.rsplit_once('/') {
                            Some((dir, _)) => format!("{dir}/{target}"),
                            None => target.clone(),
                        }
                    };
                    match clean(&joined) {
                        Some(t) => Member::Link(t),
                        // A link out of the archive is harmless until someone needs it.
                        None => continue,
                    }
                } else if kind.is_dir() {
                    Member::Dir
                } else {
                    continue;
                };
                members.insert(name, member);
            }
        }
        Ok(TarIndex { file, members })
    }

    fn resolve(&self, name: &str) -> Option<(u64, u64)> {
        let mut cur = name.to_string();
        for _ in 0..32 {
            match self.members.get(&cur)? {
                Member::File { offset, size } => return Some((*offset, *size)),
                Member::Link(t) => cur = t.clone(),
                Member::Dir => return None,
            }
        }
        None
    }
}

/// Where an archive's members come from.
pub(crate) enum Source {
    Tar { index: TarIndex, name: String },
    Dir { root: PathBuf, name: String },
}

impl Source {
    pub(crate) fn tar(file: File, name: &str) -> Result<Source> {
        Ok(Source::Tar { index: TarIndex::build(file, name)?, name: name.to_string() })
    }

    pub(crate) fn dir(root: &Path) -> Result<Source> {
        let root = root.canonicalize().map_err(|e| StoreError::io("open", root, e))?;
        Ok(Source::Dir { name: root.display().to_string(), root })
    }

    /// How the archive is named in errors (a path, or `stdin`).
    pub(crate) fn name(&self) -> &str {
        match self {
            Source::Tar { name, .. } | Source::Dir { name, .. } => name,
        }
    }

    /// A `BadArchive` error about `member`.
    pub(crate) fn bad(&self, member: &str, reason: impl std::fmt::Display) -> StoreError {
        bad(self.name(), format!("{member}: {reason}"))
    }

    fn dir_path(&self, root: &Path, member: &str) -> Result<Option<PathBuf>> {
        let rel = clean(member).ok_or_else(|| self.bad(member, "path leaves the archive"))?;
        let p = root.join(&rel);
        match p.canonicalize() {
            Ok(real) if real.starts_with(root) && real.is_file() => Ok(Some(real)),
            Ok(real) if real.starts_with(root) => Ok(None),
            Ok(_) => Err(self.bad(member, "symlink leads out of the layout directory")),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(StoreError::io("open", p, e)),
        }
    }

    /// The size of a regular-file member; `None` when it is absent.
    pub(crate) fn size(&self, member: &str) -> Result<Option<u64>> {
        match self {
            Source::Tar { index, .. } => {
                let rel = clean(member).ok_or_else(|| self.bad(member, "path leaves the archive"))?;
                Ok(index.resolve(&rel).map(|(_, s)| s))
            }
            Source::Dir { root, .. } => match self.dir_path(root, member)? {
                Some(p) => Ok(Some(std::fs::metadata(&p).map_err(|e| StoreError::io("stat", p, e))?.len())),
                None => Ok(None),
            },
        }
    }

    pub(crate) fn exists(&self, member: &str) -> bool {
        matches!(self.size(member), Ok(Some(_)))
    }

    /// A reader over exactly the member's bytes, and their count. A read that
    /// finds the file shorter than the index promised fails with `UnexpectedEof`.
    pub(crate) fn open(&self, member: &str) -> Result<(Box<dyn Read + Send + '_>, u64)> {
        let missing = || self.bad(member, "no such file in the archive");
        match self {
            Source::Tar { index, .. } => {
                let rel = clean(member).ok_or_else(|| self.bad(member, "path leaves the archive"))?;
                let (offset, size) = index.resolve(&rel).ok_or_else(missing)?;
                Ok((Box::new(RangeReader { file: &index.file, pos: offset, end: offset + size }), size))
            }
            Source::Dir { root, .. } => {
                let p = self.dir_path(root, member)?.ok_or_else(missing)?;
                let f = File::open(&p).map_err(|e| StoreError::io("open", &p, e))?;
                let size = f.metadata().map_err(|e| StoreError::io("stat", &p, e))?.len();
                Ok((Box::new(f.take(size)), size))
            }
        }
    }

    /// A small member (JSON) read whole.
    pub(crate) fn read_small(&self, member: &str) -> Result<Vec<u8>> {
        let (mut r, size) = self.open(member)?;
        if size > MAX_JSON {
            return Err(self.bad(member, format!("{size} bytes is too large for a metadata file")));
        }
        let mut buf = Vec::with_capacity(size as usize);
        r.read_to_end(&mut buf).map_err(|e| self.bad(member, format!("read: {e}")))?;
        if buf.len() as u64 != size {
            return Err(self.bad(member, "archive is truncated"));
        }
        Ok(buf)
    }
}

pub(crate) fn bad(archive: &str, reason: impl Into<String>) -> StoreError {
    StoreError::BadArchive { source_name: archive.to_string(), reason: reason.into() }
}

/// Reads `[pos, end)` of a file with `pread`, independent of the file offset.
struct RangeReader<'a> {
    file: &'a File,
    pos: u64,
    end: u64,
}

impl Read for RangeReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let want = (self.end - self.pos).min(buf.len() as u64) as usize;
        if want == 0 {
            return Ok(0);
        }
        let n = self.file.read_at(&mut buf[..want], self.pos)?;
        if n == 0 {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "archive is truncated"));
        }
        self.pos += n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_paths() {
        assert_eq!(clean("./a/./b/../c").as_deref(), Some("a/c"));
        assert_eq!(clean("blobs/sha256/x").as_deref(), Some("blobs/sha256/x"));
        assert_eq!(clean("a/../../etc/passwd"), None);
        assert_eq!(clean("/manifest.json").as_deref(), Some("manifest.json"));
    }
}
