//! Mounting a container's rootfs on the host, refcounted across processes
//! (`strata mount` twice and one `unmount` leaves it mounted), and resolving
//! its mount points when it is created.
//!
//! ```text
//! <run_root>/mounts/<container id>.lock    flock held while the count changes
//! <run_root>/mounts/<container id>.count   how many users hold the mount
//! ```
//! The run root is a tmpfs (`/run`) in production, so counts vanish with the
//! mounts at reboot.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::path::{Path, PathBuf};

use super::spec::{VolumeArg, parse_volume_arg};
use super::{Container, ContainerSpec, MountKind, MountPoint, MountRequest};
use crate::Store;
use crate::error::{IoCtx, Result, StoreError};
use crate::image::Image;
use crate::volume::{Volume, VolumeSpec};

struct CountLock {
    _file: File,
    count_path: PathBuf,
}

impl CountLock {
    fn acquire(store: &Store, id: &str) -> Result<CountLock> {
        let dir = store.run_root().join("mounts");
        std::fs::create_dir_all(&dir).ctx("create", &dir)?;
        let lock_path = dir.join(format!("{id}.lock"));
        let file = File::options().create(true).truncate(false).write(true).open(&lock_path).ctx("open", &lock_path)?;
        file.lock().ctx("lock", &lock_path)?;
        Ok(CountLock { _file: file, count_path: dir.join(format!("{id}.count")) })
    }

    fn get(&self) -> u64 {
        std::fs::read_to_string(&self.count_path).ok().and_then(|s| s.trim().parse().ok()).unwrap_or(0)
    }

    fn set(&self, n: u64) -> Result<()> {
        if n == 0 {
            match std::fs::remove_file(&self.count_path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    Err(StoreError::io("remove", &self.count_path, e))
                }
                _ => Ok(()),
            }
        } else {
            Ok(strata_sys::fs::write_atomic(&self.count_path, n.to_string().as_bytes())?)
        }
    }
}

impl Store {
    /// The host path of a container's merged rootfs, mounting it if needed
    /// (`strata mount`). Each call must be paired with [`Store::unmount_container`].
    pub fn mount_container(&self, c: &Container) -> Result<PathBuf> {
        let lock = CountLock::acquire(self, &c.id)?;
        let n = lock.get();
        let path = self.rootfs_path(c);
        let specs = self.driver().mounts(&c.rw_id)?;
        if !specs.is_empty() && (n == 0 || !strata_sys::mount::is_mountpoint(&path)) {
            std::fs::create_dir_all(&path).ctx("create", &path)?;
            strata_sys::mount::mount_all(&specs, &path)?.leak();
        }
        lock.set(n + 1)?;
        Ok(path)
    }

    /// Release one user of the rootfs mount; the last one unmounts. Returns the
    /// number of remaining users.
    pub fn unmount_container(&self, c: &Container) -> Result<u64> {
        let lock = CountLock::acquire(self, &c.id)?;
        let n = lock.get().saturating_sub(1);
        if n == 0 {
            let path = self.rootfs_path(c);
            if strata_sys::mount::is_mountpoint(&path) {
                strata_sys::mount::unmount(&path, false)?;
            }
        }
        lock.set(n)?;
        Ok(n)
    }

    /// Unmount regardless of users (before removal).
    pub(crate) fn force_unmount_container(&self, c: &Container) -> Result<()> {
        let lock = CountLock::acquire(self, &c.id)?;
        let path = self.rootfs_path(c);
        while strata_sys::mount::is_mountpoint(&path) {
            strata_sys::mount::unmount(&path, true)?;
        }
        lock.set(0)?;
        let lock_path = self.run_root().join("mounts").join(format!("{}.lock", c.id));
        let _ = std::fs::remove_file(lock_path);
        Ok(())
    }

    /// Where the merged rootfs is: the driver's mount point (overlay2), or the
    /// layer's own full tree (vfs, btrfs).
    pub fn rootfs_path(&self, c: &Container) -> PathBuf {
        self.driver().merged_dir(&c.rw_id).unwrap_or_else(|| self.driver().diff_dir(&c.rw_id))
    }

    /// Resolve the request's mounts, as moby's `registerMountPoints` then
    /// `createContainerOSSpecificSettings`: `--volumes-from` first, then `-v`
    /// binds and named volumes and `--mount`s (two of those at one destination
    /// are Docker's "Duplicate mount point"), then an anonymous volume for each
    /// image VOLUME and `-v /path` where nothing else (a tmpfs included) is
    /// mounted. Named volumes are created when missing, `-v` bind sources too;
    /// a `--mount` bind source must exist. Returns the mounts and the volumes
    /// this call created, which the caller removes if the container is not
    /// created after all.
    pub(crate) fn resolve_mounts(&self, spec: &ContainerSpec, image: &Image) -> Result<(Vec<MountPoint>, Vec<String>)> {
        let mut by_dst: BTreeMap<String, MountPoint> = BTreeMap::new();
        let mut pending_anon: Vec<String> = Vec::new();
        if let Some(vols) = &image.config.config.volumes {
            for dst in vols.keys() {
                pending_anon.push(super::spec::clean(dst));
            }
        }
        // `-v /path`: Docker's CLI moves these to Config.Volumes, like an image VOLUME.
        let mut binds = Vec::new();
        for b in &spec.binds {
            match parse_volume_arg(b)? {
                VolumeArg::Anonymous { destination } => {
                    if !pending_anon.contains(&destination) {
                        pending_anon.push(destination);
                    }
                }
                other => binds.push(other),
            }
        }
        for r in &spec.host.mounts {
            validate_request(r)?;
        }
        for vf in &spec.volumes_from {
            let (name, mode) = match vf.rsplit_once(':') {
                Some((n, m)) if m == "ro" || m == "rw" => (n, Some(m)),
                Some((_, m)) => {
                    return Err(StoreError::invalid(format!("--volumes-from {vf}"), format!("invalid mode: {m}")));
                }
                None => (vf.as_str(), None),
            };
            let src = self.container(name)?;
            for m in &src.mounts {
                let mut m = m.clone();
                if let Some(mode) = mode {
                    m.rw = mode == "rw";
                    m.mode = if m.kind == MountKind::Volume && m.rw { "z".into() } else { mode.into() };
                }
                m.from = Some(src.id.clone());
                pending_anon.retain(|d| d != &m.destination);
                by_dst.insert(m.destination.clone(), m);
            }
        }
        let mut created: Vec<String> = Vec::new();
        let result = (|| -> Result<()> {
            let mut explicit: BTreeSet<String> = BTreeSet::new();
            let mut claim = |dst: &str| -> Result<()> {
                if !explicit.insert(dst.to_string()) {
                    return Err(StoreError::invalid("Duplicate mount point", dst.to_string()));
                }
                Ok(())
            };
            for b in binds {
                let m = match b {
                    VolumeArg::Anonymous { .. } => continue,
                    VolumeArg::Named { name, destination, rw, nocopy, mode } => {
                        claim(&destination)?;
                        let v =
                            self.ensure_volume(&VolumeSpec { name: Some(name), ..Default::default() }, &mut created)?;
                        volume_mount(&v.name, v.mountpoint, destination, rw, nocopy, &mode)
                    }
                    VolumeArg::Bind { source, destination, rw, propagation, mode } => {
                        claim(&destination)?;
                        if source.symlink_metadata().is_err() {
                            std::fs::create_dir_all(&source).ctx("create bind source", &source)?;
                        }
                        MountPoint {
                            kind: MountKind::Bind,
                            name: String::new(),
                            source,
                            destination,
                            mode,
                            rw,
                            propagation,
                            nocopy: true,
                            from: None,
                        }
                    }
                };
                pending_anon.retain(|d| d != &m.destination);
                by_dst.insert(m.destination.clone(), m);
            }
            for r in &spec.host.mounts {
                claim(&super::spec::clean(&r.target))?;
                let m = self.request_mount(r, &mut created)?;
                pending_anon.retain(|d| d != &m.destination);
                by_dst.insert(m.destination.clone(), m);
            }
            // moby's HasMountFor: a --tmpfs destination also takes the place of an image VOLUME.
            for dst in spec.host.tmpfs.keys() {
                let dst = super::spec::clean(dst);
                pending_anon.retain(|d| *d != dst);
            }
            for dst in pending_anon.clone() {
                if by_dst.contains_key(&dst) {
                    continue;
                }
                let v = self.create_volume(&VolumeSpec { anonymous: true, ..Default::default() })?;
                created.push(v.name.clone());
                by_dst.insert(dst.clone(), volume_mount(&v.name, v.mountpoint, dst, true, false, ""));
            }
            Ok(())
        })();
        if let Err(e) = result {
            self.discard_volumes(&created);
            return Err(e);
        }
        Ok((by_dst.into_values().collect(), created))
    }

    /// The volume `spec` names, created (and noted in `created`) when missing.
    /// An existing volume is used as it is: the options and labels of a
    /// request are for creating it (Docker ignores them otherwise).
    fn ensure_volume(&self, spec: &VolumeSpec, created: &mut Vec<String>) -> Result<Volume> {
        if let Some(name) = &spec.name
            && self.find_volume(name)?.is_some()
        {
            return self.volume(name);
        }
        let v = self.create_volume(spec)?;
        created.push(v.name.clone());
        Ok(v)
    }

    /// The mount point of a validated `--mount` request (moby's `parseMountSpec`).
    fn request_mount(&self, r: &MountRequest, created: &mut Vec<String>) -> Result<MountPoint> {
        let destination = super::spec::clean(&r.target);
        let mut m = MountPoint {
            kind: r.kind,
            name: String::new(),
            source: PathBuf::new(),
            destination,
            mode: String::new(),
            rw: !r.read_only,
            propagation: String::new(),
            nocopy: true,
            from: None,
        };
        match r.kind {
            MountKind::Bind => {
                m.source = PathBuf::from(super::spec::clean(&r.source));
                let create = r.bind_options.as_ref().is_some_and(|b| b.create_mountpoint);
                if create && m.source.symlink_metadata().is_err() {
                    std::fs::create_dir_all(&m.source).ctx("create bind source", &m.source)?;
                }
                m.propagation = r
                    .bind_options
                    .as_ref()
                    .map(|b| b.propagation.clone())
                    .filter(|p| !p.is_empty())
                    .unwrap_or_else(|| "rprivate".into());
            }
            MountKind::Volume => {
                let vo = r.volume_options.clone().unwrap_or_default();
                let driver = vo.driver_config.clone().unwrap_or_default();
                let spec = VolumeSpec {
                    name: if r.source.is_empty() { None } else { Some(r.source.clone()) },
                    driver: if driver.name.is_empty() { None } else { Some(driver.name) },
                    labels: vo.labels.clone(),
                    options: driver.options,
                    anonymous: r.source.is_empty(),
                };
                let v = self.ensure_volume(&spec, created)?;
                m.source = v.mountpoint.clone();
                if !vo.subpath.is_empty() {
                    m.source = subpath_source(&v.mountpoint, &vo.subpath, &v.name)?;
                }
                m.name = v.name;
                // moby's setBindModeIfNull for local volumes.
                m.mode = "z".into();
                m.nocopy = vo.no_copy || !vo.subpath.is_empty();
            }
            MountKind::Tmpfs => {
                m.mode = r.tmpfs_options.clone().unwrap_or_default().mount_options().join(",");
            }
        }
        Ok(m)
    }

    /// Record volume use and copy image content into empty volumes (Docker's
    /// copy-up at create time). A volume over an image file is an error.
    pub(crate) fn populate_volumes(&self, id: &str, mounts: &[MountPoint], _image: &Image, rw_id: &str) -> Result<()> {
        self.db().write(|tx| {
            for m in mounts.iter().filter(|m| m.kind == MountKind::Volume) {
                tx.execute(
                    "INSERT OR IGNORE INTO container_volumes(container_id, volume) VALUES (?1, ?2)",
                    [id, m.name.as_str()],
                )?;
            }
            Ok(())
        })?;
        let wanted: Vec<&MountPoint> =
            mounts.iter().filter(|m| m.kind == MountKind::Volume && !m.nocopy && m.from.is_none()).collect();
        if wanted.is_empty() {
            return Ok(());
        }
        // The fresh rw layer shows exactly the image (plus the init layer).
        let specs = self.driver().mounts(rw_id)?;
        let (root, _guard) = if specs.is_empty() {
            (self.driver().diff_dir(rw_id), None)
        } else {
            let target = self.staging_path("copyup");
            std::fs::create_dir_all(&target).ctx("create", &target)?;
            let g = strata_sys::mount::mount_all(&specs, &target)?;
            (target.clone(), Some(TempMount { guard: Some(g), dir: target }))
        };
        let root_fd = strata_sys::root::Root::new(&root)?;
        for m in wanted {
            copy_up(&root_fd, &m.destination, &m.source)?;
        }
        Ok(())
    }
}

impl Store {
    /// Remove volumes a failed create made (best effort: they are unused).
    pub(crate) fn discard_volumes(&self, names: &[String]) {
        for name in names {
            if let Err(e) = self.remove_volume(name, true) {
                tracing::warn!("removing volume {name} of a failed create: {e}");
            }
        }
    }
}

struct TempMount {
    guard: Option<strata_sys::mount::MountGuard>,
    dir: PathBuf,
}

impl Drop for TempMount {
    fn drop(&mut self) {
        drop(self.guard.take());
        let _ = std::fs::remove_dir(&self.dir);
    }
}

fn volume_mount(name: &str, source: PathBuf, destination: String, rw: bool, nocopy: bool, mode: &str) -> MountPoint {
    MountPoint {
        kind: MountKind::Volume,
        name: name.to_string(),
        source,
        destination,
        mode: if mode.is_empty() { String::new() } else { mode.to_string() },
        rw,
        propagation: String::new(),
        nocopy,
        from: None,
    }
}

/// Docker's rule: copy when the volume is empty and the image has a directory
/// at the destination (its owner and mode too, even when it is empty).
fn copy_up(root: &strata_sys::root::Root, destination: &str, volume: &Path) -> Result<()> {
    let empty = std::fs::read_dir(volume).ctx("read", volume)?.next().is_none();
    if !empty {
        return Ok(());
    }
    // Resolved confined: the destination may be a symlink inside the image.
    let fd = match root.open_dir(Path::new(destination)) {
        Ok(fd) => fd,
        Err(e) if e.kind() == std::io::ErrorKind::NotADirectory => {
            return Err(StoreError::invalid(
                format!("volume at {destination}"),
                format!("cannot mount volume over existing file, file exists {destination}"),
            ));
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e.into()),
    };
    // The fd pins the directory for the whole copy.
    let src = strata_sys::root::fd_path(std::os::fd::AsFd::as_fd(&fd), std::ffi::OsStr::new("."));
    strata_sys::copy::copy_tree(&src, volume)?;
    Ok(())
}

/// moby's `validateMountConfig` for a `--mount` request; errors read
/// `invalid mount config for type "bind": <reason>`.
fn validate_request(r: &MountRequest) -> Result<()> {
    let kind = match r.kind {
        MountKind::Bind => "bind",
        MountKind::Volume => "volume",
        MountKind::Tmpfs => "tmpfs",
    };
    let bad = |reason: String| StoreError::invalid(format!("invalid mount config for type {kind:?}"), reason);
    let extra = |field: &str| bad(format!("field {field} must not be specified"));
    if r.target.is_empty() {
        return Err(bad("field Target must not be empty".into()));
    }
    if !r.target.starts_with('/') {
        return Err(bad(format!("invalid mount path: '{}' mount path must be absolute", r.target)));
    }
    if super::spec::clean(&r.target) == "/" {
        return Err(StoreError::invalid("invalid specification", "destination can't be '/'"));
    }
    match r.kind {
        MountKind::Bind => {
            if r.volume_options.is_some() {
                return Err(extra("VolumeOptions"));
            }
            if r.tmpfs_options.is_some() {
                return Err(extra("TmpfsOptions"));
            }
            if r.source.is_empty() {
                return Err(bad("field Source must not be empty".into()));
            }
            if !r.source.starts_with('/') {
                return Err(bad(format!("invalid mount path: '{}' mount path must be absolute", r.source)));
            }
            let create = r.bind_options.as_ref().is_some_and(|b| b.create_mountpoint);
            if !create && std::fs::metadata(&r.source).is_err() {
                return Err(bad(format!("bind source path does not exist: {}", r.source)));
            }
            if let Some(p) = r.bind_options.as_ref().map(|b| b.propagation.as_str()).filter(|p| !p.is_empty())
                && !["shared", "rshared", "slave", "rslave", "private", "rprivate"].contains(&p)
            {
                return Err(bad(format!("invalid propagation mode: {p}")));
            }
        }
        MountKind::Volume => {
            if r.bind_options.is_some() {
                return Err(extra("BindOptions"));
            }
            if r.tmpfs_options.is_some() {
                return Err(extra("TmpfsOptions"));
            }
            let anonymous = r.source.is_empty();
            let subpath = r.volume_options.as_ref().map(|v| v.subpath.as_str()).unwrap_or_default();
            if !subpath.is_empty() {
                if anonymous {
                    return Err(bad("must not set Subpath when using anonymous volumes".into()));
                }
                if subpath.starts_with('/') || subpath.split('/').any(|c| c == "..") {
                    return Err(bad("subpath must be a relative path within the volume".into()));
                }
            }
            if r.read_only && anonymous {
                return Err(bad("must not set ReadOnly mode when using anonymous volumes".into()));
            }
        }
        MountKind::Tmpfs => {
            if !r.source.is_empty() {
                return Err(extra("Source"));
            }
            if r.bind_options.is_some() {
                return Err(extra("BindOptions"));
            }
            if r.volume_options.is_some() {
                return Err(extra("VolumeOptions"));
            }
            if r.tmpfs_options.as_ref().is_some_and(|t| t.size_bytes < 0) {
                return Err(bad("invalid tmpfs option: size must not be negative".into()));
            }
        }
    }
    Ok(())
}

/// The host path of `subpath` inside a volume's data: it must exist, and no
/// component may be a symlink (resolving one could leave the volume).
fn subpath_source(data: &Path, subpath: &str, volume: &str) -> Result<PathBuf> {
    let mut p = data.to_path_buf();
    for c in subpath.split('/').filter(|c| !c.is_empty() && *c != ".") {
        p.push(c);
        match p.symlink_metadata() {
            Ok(md) if md.file_type().is_symlink() => {
                return Err(StoreError::invalid(
                    format!("volume-subpath {subpath}"),
                    format!("{c} is a symbolic link in volume {volume}"),
                ));
            }
            Ok(_) => {}
            Err(e) => {
                return Err(StoreError::invalid(
                    format!("volume-subpath {subpath}"),
                    format!("cannot access path in volume {volume}: {e}"),
                ));
            }
        }
    }
    Ok(p)
}
