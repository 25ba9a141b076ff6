//! A/C/D change scans, as `docker diff` prints them.
//!
//! Both scans reproduce what Docker shows for a container (its naive
//! `ChangesDirs`, which Docker uses whenever overlay's native diff is off):
//!
//! - a path absent from the old tree is `A` (and so is everything below it);
//! - a path present in both is `C` when its type, mode, owner, rdev, xattrs or
//!   symlink target differ, or — for non-directories only — its size or mtime;
//!   a directory's own size and mtime are ignored (moby#9874);
//! - a path only in the old tree is `D` (only the topmost deleted path);
//! - every directory above a change is `C` (moby `addChanges`: "if there were
//!   changes inside this directory, we need to add it").
//!
//! The result is sorted by path (Docker's `changesByPath`).
//!
//! [`overlay_changes`] gets the same answer while walking only the upper dir:
//! whiteouts (char 0/0) are deletions, an opaque directory deletes whatever the
//! lower layers had in it that the upper does not, and "exists in the old
//! tree" is an overlay lookup through the lower layers (topmost first, honouring
//! their whiteouts and opaque dirs).

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::ffi::OsString;
use std::fs::Metadata;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use strata_sys::fs as sfs;

use crate::{ArchiveError, Change, ChangeKind, Result};

fn opaque_xattr(userxattr: bool) -> &'static str {
    if userxattr { "user.overlay.opaque" } else { "trusted.overlay.opaque" }
}

fn is_opaque(path: &Path, userxattr: bool) -> Result<bool> {
    Ok(sfs::get_xattr(path, opaque_xattr(userxattr))?.as_deref() == Some(b"y"))
}

fn lstat(path: &Path) -> Result<Option<Metadata>> {
    match std::fs::symlink_metadata(path) {
        Ok(md) => Ok(Some(md)),
        Err(e)
            if e.kind() == io::ErrorKind::NotFound
                || e.raw_os_error() == Some(rustix::io::Errno::NOTDIR.raw_os_error()) =>
        {
            Ok(None)
        }
        Err(e) => Err(ArchiveError::io("lstat", path, e)),
    }
}

/// "/a/b" for the relative path "a/b".
fn abs(rel: &Path) -> String {
    let mut s = String::from("/");
    s.push_str(&String::from_utf8_lossy(rel.as_os_str().as_bytes()));
    s
}

/// Add `C` for every directory above a change that is not itself reported.
fn finish(mut found: BTreeMap<String, ChangeKind>) -> Vec<Change> {
    let paths: Vec<String> = found.keys().cloned().collect();
    for p in paths {
        let mut cur = p.as_str();
        while let Some(i) = cur.rfind('/') {
            cur = &cur[..i];
            if cur.is_empty() {
                break;
            }
            if found.contains_key(cur) {
                // Its ancestors were (or will be) handled from its own entry.
                break;
            }
            found.insert(cur.to_string(), ChangeKind::Modified);
        }
    }
    found.into_iter().map(|(path, kind)| Change { path, kind }).collect()
}

// ---------------------------------------------------------------------------
// Overlay: walk the upper dir only.

/// What one lower layer says about a path.
enum Probe {
    Entry(Metadata),
    /// Deleted here: a whiteout at the path, or a whiteout / non-directory /
    /// opaque directory above it hides the lower layers.
    Hidden,
    /// Not in this layer; look further down.
    Absent,
}

fn probe(layer: &Path, rel: &Path, userxattr: bool) -> Result<Probe> {
    if let Some(md) = lstat(&layer.join(rel))? {
        return Ok(if sfs::is_whiteout(&md) { Probe::Hidden } else { Probe::Entry(md) });
    }
    let comps: Vec<_> = rel.components().collect();
    let mut cur = layer.to_path_buf();
    let mut opaque = false;
    for c in &comps[..comps.len().saturating_sub(1)] {
        cur.push(c);
        match lstat(&cur)? {
            None => break,
            Some(md) if sfs::is_whiteout(&md) || !md.is_dir() => return Ok(Probe::Hidden),
            Some(_) => opaque |= is_opaque(&cur, userxattr)?,
        }
    }
    Ok(if opaque { Probe::Hidden } else { Probe::Absent })
}

/// The metadata of `rel` in the merged view of `lowers` (topmost first).
fn lower_lookup(lowers: &[PathBuf], rel: &Path, userxattr: bool) -> Result<Option<Metadata>> {
    for layer in lowers {
        match probe(layer, rel, userxattr)? {
            Probe::Entry(md) => return Ok(Some(md)),
            Probe::Hidden => return Ok(None),
            Probe::Absent => {}
        }
    }
    Ok(None)
}

/// Names in directory `rel` of the merged view of `lowers`.
fn lower_children(lowers: &[PathBuf], rel: &Path, userxattr: bool) -> Result<BTreeSet<OsString>> {
    let mut seen = BTreeSet::new();
    let mut masked = HashSet::new();
    for layer in lowers {
        match probe(layer, rel, userxattr)? {
            Probe::Entry(md) if md.is_dir() => {
                let dir = layer.join(rel);
                let rd = std::fs::read_dir(&dir).map_err(|e| ArchiveError::io("readdir", &dir, e))?;
                for ent in rd {
                    let ent = ent.map_err(|e| ArchiveError::io("readdir", &dir, e))?;
                    let name = ent.file_name();
                    if seen.contains(&name) || masked.contains(&name) {
                        continue;
                    }
                    let md = ent.metadata().map_err(|e| ArchiveError::io("lstat", dir.join(&name), e))?;
                    if sfs::is_whiteout(&md) {
                        masked.insert(name);
                    } else {
                        seen.insert(name);
                    }
                }
                if is_opaque(&dir, userxattr)? {
                    break;
                }
            }
            Probe::Entry(_) | Probe::Hidden => break,
            Probe::Absent => {}
        }
    }
    Ok(seen)
}

/// Changes of an overlay upper dir against its lower layers (topmost first).
/// Cost is proportional to the size of the upper dir, not of the image.
pub fn overlay_changes(upper: &Path, lowers: &[PathBuf], userxattr: bool) -> Result<Vec<Change>> {
    let mut found: BTreeMap<String, ChangeKind> = BTreeMap::new();
    // Directories new in this layer: everything below them is new too.
    let mut new_dirs: Vec<PathBuf> = Vec::new();
    let walk = walkdir::WalkDir::new(upper).follow_links(false).min_depth(1).sort_by_file_name();
    for ent in walk {
        let ent = ent.map_err(|e| walk_err(upper, e))?;
        let rel = ent.path().strip_prefix(upper).expect("walk stays below upper").to_path_buf();
        let md = ent.metadata().map_err(|e| walk_err(upper, e))?;
        while new_dirs.last().is_some_and(|d| !rel.starts_with(d)) {
            new_dirs.pop();
        }
        let path = abs(&rel);
        if sfs::is_whiteout(&md) {
            if new_dirs.is_empty() && lower_lookup(lowers, &rel, userxattr)?.is_some() {
                found.insert(path, ChangeKind::Deleted);
            }
            continue;
        }
        let lower = if new_dirs.is_empty() { lower_lookup(lowers, &rel, userxattr)? } else { None };
        let Some(lmd) = lower else {
            found.insert(path, ChangeKind::Added);
            if md.is_dir() {
                new_dirs.push(rel);
            }
            continue;
        };
        if !md.is_dir() {
            found.insert(path, ChangeKind::Modified);
            continue;
        }
        let opaque = is_opaque(ent.path(), userxattr)?;
        if opaque && lmd.is_dir() {
            for name in lower_children(lowers, &rel, userxattr)? {
                if lstat(&ent.path().join(&name))?.is_none() {
                    found.insert(abs(&rel.join(&name)), ChangeKind::Deleted);
                }
            }
        }
        if opaque || md.mode() != lmd.mode() || md.uid() != lmd.uid() || md.gid() != lmd.gid() {
            found.insert(path, ChangeKind::Modified);
        }
        // Otherwise the dir is only here because something below it changed;
        // `finish` reports it if so.
    }
    Ok(finish(found))
}

fn walk_err(root: &Path, e: walkdir::Error) -> ArchiveError {
    let path = e.path().map(Path::to_path_buf).unwrap_or_else(|| root.to_path_buf());
    let io = e.into_io_error().unwrap_or_else(|| io::Error::other("filesystem loop"));
    ArchiveError::io("walk", path, io)
}

// ---------------------------------------------------------------------------
// Full trees (vfs, btrfs): compare the child with its parent.

/// Changes of the tree `child` against `parent` (None: everything is added).
pub fn tree_changes(parent: Option<&Path>, child: &Path) -> Result<Vec<Change>> {
    let mut found = BTreeMap::new();
    diff_dir(parent, child, Path::new(""), &mut found)?;
    Ok(finish(found))
}

fn read_dir_sorted(dir: &Path) -> Result<Vec<(OsString, Metadata)>> {
    let mut out = Vec::new();
    let rd = std::fs::read_dir(dir).map_err(|e| ArchiveError::io("readdir", dir, e))?;
    for ent in rd {
        let ent = ent.map_err(|e| ArchiveError::io("readdir", dir, e))?;
        let md = ent.metadata().map_err(|e| ArchiveError::io("lstat", ent.path(), e))?;
        out.push((ent.file_name(), md));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

/// `old` and `new` are directories (or `old` is None: all of `new` is added).
fn diff_dir(old: Option<&Path>, new: &Path, rel: &Path, found: &mut BTreeMap<String, ChangeKind>) -> Result<()> {
    let mut old_children: BTreeMap<OsString, Metadata> = match old {
        Some(o) => read_dir_sorted(o)?.into_iter().collect(),
        None => BTreeMap::new(),
    };
    for (name, nmd) in read_dir_sorted(new)? {
        let crel = rel.join(&name);
        let npath = new.join(&name);
        match old_children.remove(&name) {
            None => {
                found.insert(abs(&crel), ChangeKind::Added);
                if nmd.is_dir() {
                    diff_dir(None, &npath, &crel, found)?;
                }
            }
            Some(omd) => {
                let opath = old.expect("old has children").join(&name);
                if differs(&opath, &omd, &npath, &nmd)? {
                    found.insert(abs(&crel), ChangeKind::Modified);
                }
                if nmd.is_dir() {
                    diff_dir(omd.is_dir().then_some(opath.as_path()), &npath, &crel, found)?;
                }
            }
        }
    }
    for name in old_children.keys() {
        found.insert(abs(&rel.join(name)), ChangeKind::Deleted);
    }
    Ok(())
}

fn differs(opath: &Path, o: &Metadata, npath: &Path, n: &Metadata) -> Result<bool> {
    if o.mode() != n.mode() || o.uid() != n.uid() || o.gid() != n.gid() || o.rdev() != n.rdev() {
        return Ok(true);
    }
    if !n.is_dir() && (o.size() != n.size() || o.mtime() != n.mtime() || o.mtime_nsec() != n.mtime_nsec()) {
        return Ok(true);
    }
    if n.file_type().is_symlink() {
        let ot = std::fs::read_link(opath).map_err(|e| ArchiveError::io("readlink", opath, e))?;
        let nt = std::fs::read_link(npath).map_err(|e| ArchiveError::io("readlink", npath, e))?;
        if ot != nt {
            return Ok(true);
        }
    }
    Ok(sfs::list_xattrs(opath)? != sfs::list_xattrs(npath)?)
}
