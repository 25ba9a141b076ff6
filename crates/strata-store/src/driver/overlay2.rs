//! overlay2: kernel overlayfs over per-layer diff directories, laid out as Docker does.
//!
//! ```text
//! <root>/overlay2/
//!   l/<short>  -> ../<id>/diff     26-char base32 names keep option strings short
//!   <id>/
//!     diff/                         this layer's files (the upper dir of a rw layer)
//!     link                          <short>
//!     lower                         l/<short parent>:l/<short grandparent>:...  (top first)
//!     work/                         overlayfs workdir (layers with a parent)
//!     merged/                       mount point of the merged view (layers with a parent)
//! ```
//!
//! [`Driver::mounts`] describes the overlay (lower dirs resolved to absolute
//! `<id>/diff` paths, upper `<id>/diff`, work `<id>/work`); `strata_sys::mount`
//! performs it through `lowerdir+`, so stacks up to the kernel's 500 lower
//! layers mount regardless of path lengths. Changes and layer tars are read
//! from the upper (`diff/`) dir alone: cost follows the number of changes, not
//! the image size. That is exact because strata mounts with
//! `redirect_dir=nofollow` (no redirects, no metacopy); see
//! `strata_sys::probe::native_overlay_diff` for the check `info` reports.
//!
//! Hazard: `remove` unmounts `merged/` first and never deletes through a mount.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use strata_archive::{Change, WhiteoutMode};
use strata_sys::mount::{MountSpec, OVERLAY_MAX_LOWERS};

use super::vfs::{already_exists, check_id, list_dirs, remove_staged, require, stage_path};
use super::{Driver, DriverOpts};
use crate::error::{IoCtx, Result, StoreError};

const LINK_DIR: &str = "l";

pub struct Overlay2 {
    opts: DriverOpts,
    backing_fs: String,
    native_diff: bool,
}

impl Overlay2 {
    /// Open the driver in `opts.home`, refusing backing filesystems overlayfs
    /// cannot use (no d_type, overlay on overlay, ...).
    pub fn open(opts: DriverOpts) -> Result<Overlay2> {
        let unsupported = |reason: String| StoreError::DriverUnsupported { driver: "overlay2".into(), reason };
        strata_sys::probe::overlay_usable(&opts.home).map_err(unsupported)?;
        let l = opts.home.join(LINK_DIR);
        std::fs::create_dir_all(&l).ctx("create driver home", &l)?;
        std::fs::create_dir_all(&opts.tmp).ctx("create staging dir", &opts.tmp)?;
        let backing_fs = strata_sys::probe::fs_type(&opts.home)?;
        let native_diff = cached_native_diff(&opts);
        Ok(Overlay2 { opts, backing_fs, native_diff })
    }

    fn dir(&self, id: &str) -> PathBuf {
        self.opts.home.join(id)
    }

    /// The `lower` file's entries (`l/<short>`, top first); empty for a base layer.
    fn lower_entries(&self, id: &str) -> Result<Vec<String>> {
        let f = self.dir(id).join("lower");
        match std::fs::read_to_string(&f) {
            Ok(s) => Ok(s.trim().split(':').filter(|e| !e.is_empty()).map(str::to_string).collect()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
            Err(e) => Err(StoreError::io("read", f, e)),
        }
    }

    /// Absolute diff dirs of `id`'s lower layers, top first (Docker's `getLowerDirs`).
    fn lower_dirs(&self, id: &str) -> Result<Vec<PathBuf>> {
        self.lower_entries(id)?.iter().map(|e| self.resolve_link(e)).collect()
    }

    /// `l/<short>` → `<home>/<id>/diff`.
    fn resolve_link(&self, entry: &str) -> Result<PathBuf> {
        let link = self.opts.home.join(entry);
        let target = std::fs::read_link(&link)
            .map_err(|e| StoreError::Corrupt(format!("overlay2 lower link {} is unreadable: {e}", link.display())))?;
        // Targets are `../<id>/diff`, relative to `l/`.
        let mut p = self.opts.home.clone();
        for c in target.components() {
            match c {
                std::path::Component::ParentDir => {}
                std::path::Component::Normal(n) => p.push(n),
                _ => {
                    return Err(StoreError::Corrupt(format!("overlay2 lower link {} is not relative", link.display())));
                }
            }
        }
        Ok(p)
    }

    fn read_short(&self, id: &str) -> Result<String> {
        let f = self.dir(id).join("link");
        Ok(std::fs::read_to_string(&f).ctx("read", &f)?.trim().to_string())
    }

    /// The id of `id`'s parent, from the first entry of its `lower` file.
    fn recorded_parent(&self, id: &str) -> Result<Option<String>> {
        let lowers = self.lower_entries(id)?;
        let Some(first) = lowers.first() else { return Ok(None) };
        let diff = self.resolve_link(first)?;
        Ok(diff.parent().and_then(Path::file_name).map(|n| n.to_string_lossy().into_owned()))
    }

    /// changes/diff read the upper dir, which is only meaningful against the
    /// layer's own parent.
    fn check_parent(&self, id: &str, parent: Option<&str>) -> Result<()> {
        require(self, id)?;
        let recorded = self.recorded_parent(id)?;
        if recorded.as_deref() != parent {
            return Err(StoreError::invalid(
                format!("overlay2 layer {id}"),
                format!(
                    "changes are computed against its own parent ({}), not {}",
                    recorded.as_deref().unwrap_or("none"),
                    parent.unwrap_or("none")
                ),
            ));
        }
        Ok(())
    }
}

/// [`strata_sys::probe::native_overlay_diff`] makes a test mount (~30 ms, mostly
/// the unmount), too slow for every CLI command: the answer is kept in
/// `<home>/.native-diff` as `<kernel release> <true|false>` and probed again
/// when the kernel changes.
fn cached_native_diff(opts: &DriverOpts) -> bool {
    let cache = opts.home.join(".native-diff");
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default().trim().to_string();
    if let Ok(s) = std::fs::read_to_string(&cache)
        && let Some((k, v)) = s.trim().split_once(' ')
        && k == kernel
        && !kernel.is_empty()
    {
        return v == "true";
    }
    let v = strata_sys::probe::native_overlay_diff(&opts.tmp);
    let _ = strata_sys::fs::write_atomic(&cache, format!("{kernel} {v}\n").as_bytes());
    v
}

/// Docker's short link names: 26 characters of base32 (A–Z, 2–7).
fn short_id() -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let hex = strata_sys::random_id();
    // 64 hex digits = 256 random bits; each output char takes 5 of them.
    let bits: Vec<u8> = hex
        .bytes()
        .flat_map(|h| {
            let v = (h as char).to_digit(16).unwrap_or(0) as u8;
            (0..4).rev().map(move |i| (v >> i) & 1)
        })
        .collect();
    bits.chunks(5).take(26).map(|c| ALPHABET[c.iter().fold(0usize, |a, b| a << 1 | *b as usize)] as char).collect()
}

impl Driver for Overlay2 {
    fn name(&self) -> &'static str {
        "overlay2"
    }

    fn status(&self) -> Vec<(String, String)> {
        vec![
            ("Backing Filesystem".into(), self.backing_fs.clone()),
            ("Supports d_type".into(), "true".into()),
            ("Native Overlay Diff".into(), self.native_diff.to_string()),
            ("userxattr".into(), self.opts.rootless.to_string()),
        ]
    }

    fn create(&self, id: &str, parent: Option<&str>) -> Result<()> {
        check_id(id)?;
        if id == LINK_DIR {
            return Err(StoreError::invalid(format!("layer id {id:?}"), "reserved by overlay2"));
        }
        let dst = self.dir(id);
        if dst.symlink_metadata().is_ok() {
            return Err(already_exists(id, &dst));
        }
        let lower = match parent {
            None => None,
            Some(p) => {
                check_id(p)?;
                require(self, p)?;
                let mut lowers = vec![format!("{LINK_DIR}/{}", self.read_short(p)?)];
                lowers.extend(self.lower_entries(p)?);
                if lowers.len() > OVERLAY_MAX_LOWERS {
                    return Err(StoreError::invalid(
                        format!("layer {id}"),
                        format!(
                            "max depth exceeded: overlay2 stacks at most {OVERLAY_MAX_LOWERS} lower layers (the kernel's limit), this layer would have {}",
                            lowers.len()
                        ),
                    ));
                }
                Some(lowers.join(":"))
            }
        };

        let stage = stage_path(&self.opts.tmp, "overlay2", id);
        let mut link: Option<PathBuf> = None;
        let result = (|| -> Result<()> {
            let mkdir = |p: &Path, mode: u32| -> Result<()> {
                std::fs::create_dir(p).ctx("mkdir", p)?;
                Ok(strata_sys::fs::chmod(p, mode)?)
            };
            mkdir(&stage, 0o701)?;
            mkdir(&stage.join("diff"), 0o755)?;
            if let Some(lower) = &lower {
                std::fs::write(stage.join("lower"), lower).ctx("write", &stage.join("lower"))?;
                mkdir(&stage.join("work"), 0o700)?;
                mkdir(&stage.join("merged"), 0o700)?;
            }
            // A fresh short name; retry on the (unlikely) collision.
            let short = loop {
                let short = short_id();
                let l = self.opts.home.join(LINK_DIR).join(&short);
                match std::os::unix::fs::symlink(format!("../{id}/diff"), &l) {
                    Ok(()) => {
                        link = Some(l);
                        break short;
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                    Err(e) => return Err(StoreError::io("symlink", l, e)),
                }
            };
            std::fs::write(stage.join("link"), &short).ctx("write", &stage.join("link"))?;
            strata_sys::fs::rename_noreplace(&stage, &dst)?;
            Ok(())
        })();
        if result.is_err() {
            if let Some(l) = link {
                let _ = std::fs::remove_file(l);
            }
            let _ = strata_sys::fs::remove_tree(&stage);
        }
        result
    }

    fn remove(&self, id: &str) -> Result<()> {
        check_id(id)?;
        let dir = self.dir(id);
        if dir.symlink_metadata().is_err() {
            return Ok(());
        }
        let merged = dir.join("merged");
        if strata_sys::mount::is_mountpoint(&merged) {
            match strata_sys::mount::unmount(&merged, false) {
                Err(e) if e.kind() == std::io::ErrorKind::ResourceBusy => strata_sys::mount::unmount(&merged, true)?,
                r => r?,
            }
        }
        if let Ok(short) = self.read_short(id)
            && !short.is_empty()
            && !short.contains('/')
        {
            let l = self.opts.home.join(LINK_DIR).join(short);
            match std::fs::remove_file(&l) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(StoreError::io("unlink", l, e)),
                _ => {}
            }
        }
        remove_staged(&dir, &self.opts.tmp, "overlay2", id)
    }

    fn exists(&self, id: &str) -> bool {
        check_id(id).is_ok() && id != LINK_DIR && self.dir(id).join("diff").is_dir()
    }

    fn list(&self) -> Result<Vec<String>> {
        let mut ids = list_dirs(&self.opts.home)?;
        ids.retain(|i| i != LINK_DIR);
        Ok(ids)
    }

    fn diff_dir(&self, id: &str) -> PathBuf {
        self.dir(id).join("diff")
    }

    fn whiteout_mode(&self) -> WhiteoutMode {
        WhiteoutMode::Overlay { userxattr: self.opts.rootless }
    }

    /// A read-only bind of `diff/` for a layer without parents; otherwise an
    /// overlay with `diff/` as upper and the parents' diffs as lowers.
    fn mounts(&self, id: &str) -> Result<Vec<MountSpec>> {
        require(self, id)?;
        let lower = self.lower_dirs(id)?;
        if lower.is_empty() {
            return Ok(vec![MountSpec::Bind { source: self.diff_dir(id), readonly: true, recursive: false }]);
        }
        if lower.len() > OVERLAY_MAX_LOWERS {
            return Err(StoreError::invalid(
                format!("layer {id}"),
                format!("max depth exceeded: {} lower layers, overlayfs allows {OVERLAY_MAX_LOWERS}", lower.len()),
            ));
        }
        let dir = self.dir(id);
        Ok(vec![MountSpec::Overlay {
            lower,
            upper: Some(dir.join("diff")),
            work: Some(dir.join("work")),
            userxattr: self.opts.rootless,
        }])
    }

    fn merged_dir(&self, id: &str) -> Option<PathBuf> {
        Some(self.dir(id).join("merged"))
    }

    fn changes(&self, id: &str, parent: Option<&str>) -> Result<Vec<Change>> {
        self.check_parent(id, parent)?;
        let lowers = self.lower_dirs(id)?;
        let mut changes = strata_archive::changes::overlay_changes(&self.diff_dir(id), &lowers, self.opts.rootless)?;
        changes.sort();
        Ok(changes)
    }

    fn diff(&self, id: &str, parent: Option<&str>, out: &mut dyn std::io::Write) -> Result<u64> {
        self.check_parent(id, parent)?;
        Ok(strata_archive::write::write_upper_tar(&self.diff_dir(id), self.opts.rootless, out)?)
    }

    fn metadata(&self, id: &str) -> Result<BTreeMap<String, String>> {
        require(self, id)?;
        let dir = self.dir(id);
        let s = |p: PathBuf| p.to_string_lossy().into_owned();
        let mut m = BTreeMap::new();
        m.insert("MergedDir".into(), s(dir.join("merged")));
        m.insert("UpperDir".into(), s(dir.join("diff")));
        m.insert("WorkDir".into(), s(dir.join("work")));
        let lowers = self.lower_dirs(id)?;
        if !lowers.is_empty() {
            m.insert("LowerDir".into(), lowers.iter().map(|p| s(p.clone())).collect::<Vec<_>>().join(":"));
        }
        Ok(m)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn short_ids_look_like_dockers() {
        let a = super::short_id();
        assert_eq!(a.len(), 26);
        assert!(a.bytes().all(|b| b.is_ascii_uppercase() || (b'2'..=b'7').contains(&b)), "{a}");
        assert_ne!(a, super::short_id());
    }
}
