//! `docker cp`: the engine glue. Parses the endpoints, builds each
//! container's filesystem *view* and hands confined roots to the copy engine
//! ([`strata_archive::cp`]), which knows nothing about containers.
//!
//! A view, built per copy as Docker ≥ 24 does in `openContainerFS`, inside the
//! process's private mount namespace (the CLI calls
//! [`strata_sys::ns::private_mount_namespace`] first, so nothing here is seen
//! by the host and a crash leaks no mount):
//!
//! ```text
//! <root>/tmp/cp-<pid>-<start>-<rand>/     the container's rootfs: the driver's mounts
//!                                         (overlay), a bind of its tree (vfs, btrfs), or a
//!                                         bind of the live merged dir of a running container;
//!                                         nodev,nosuid; read-only for `--read-only` containers
//!   <destination>/                        each volume and bind, shallowest first, bound onto
//!                                         the mount point resolved *confined* and pinned by
//!                                         fd (GHSA-vp62-88p7-qqf5); read-only for `:ro`.
//!                                         tmpfs mounts are not mounted: like Docker, their
//!                                         content is invisible to cp.
//! ```
//! The view is detached (lazily, recursively) and its directory removed when
//! the copy ends. Volume endpoints (`volume:NAME:/path`, strata's extension,
//! moby#40040) use the volume's `_data` as the root directly.

use std::io::{Read, Write};
use std::os::fd::BorrowedFd;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use strata_archive::cp::{self as engine, CpOpts, CpStats, Endpoint, UserDb};
use strata_sys::mount::MountSpec;
use strata_sys::mount_fd::{
    MountRestrictions, bind_mount_onto_fd_with, is_readonly_mount, mount_id, mount_target, restrict_mount,
};
use strata_sys::root::Root;

use super::{Container, MountKind, MountPoint};
use crate::Store;
use crate::error::{ErrorKind, IoCtx, StoreError};

/// One side of `cp`, as the user wrote it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CpEndpoint {
    /// A host path (kept verbatim: a trailing `/` or `/.` changes the rules).
    Host(String),
    /// `NAME:PATH` — a container by name or id.
    Container { name: String, path: String },
    /// `volume:NAME:PATH` — a named volume, no container needed.
    Volume { name: String, path: String },
    /// `-`: a tar stream on stdin (as source) or stdout (as destination).
    Stream,
}

/// Docker's `splitCpArg`: `-` is a stream; an absolute path is local; else
/// `NAME:PATH` is a container when there is a `:` and the part before it does
/// not start with `.` (write a local path containing `:` as `./a:b`).
/// `volume:NAME:PATH` names a volume.
pub fn parse_cp_arg(s: &str) -> CpEndpoint {
    if s == "-" {
        return CpEndpoint::Stream;
    }
    if s.starts_with('/') {
        return CpEndpoint::Host(s.to_string());
    }
    if let Some((name, path)) = s.strip_prefix("volume:").and_then(|r| r.split_once(':'))
        && super::spec::valid_volume_name(name)
    {
        return CpEndpoint::Volume { name: name.to_string(), path: path.to_string() };
    }
    match s.split_once(':') {
        None => CpEndpoint::Host(s.to_string()),
        Some((c, _)) if c.starts_with('.') => CpEndpoint::Host(s.to_string()),
        // Docker: an empty container name leaves the path part as a local path.
        Some(("", p)) => CpEndpoint::Host(p.to_string()),
        Some((c, p)) => CpEndpoint::Container { name: c.to_string(), path: p.to_string() },
    }
}

impl CpEndpoint {
    fn is_container_side(&self) -> bool {
        matches!(self, CpEndpoint::Container { .. } | CpEndpoint::Volume { .. })
    }

    /// How messages name this side's container (`web1`, `volume:data`).
    fn label(&self) -> Option<String> {
        match self {
            CpEndpoint::Container { name, .. } => Some(name.clone()),
            CpEndpoint::Volume { name, .. } => Some(format!("volume:{name}")),
            _ => None,
        }
    }
}

/// A failed `cp`. Displays Docker's texts, with the container named where
/// Docker names it.
#[derive(Debug, thiserror::Error)]
pub enum CpError {
    /// host → host (or streams only).
    #[error("must specify at least one container source")]
    NoContainer,
    /// The copy itself; `container` names the side the error is about.
    #[error("{}", copy_text(container.as_deref(), source))]
    Copy {
        container: Option<String>,
        #[source]
        source: engine::CpError,
    },
    /// `-a`: the container's `Config.User` is not in its /etc/passwd or /etc/group.
    #[error("{0}")]
    User(String),
    /// Building the view needs a private mount namespace.
    #[error(
        "cp mounts the container's filesystem and must run in a private mount namespace: call strata_sys::ns::private_mount_namespace() first (the CLI does)"
    )]
    NoPrivateNamespace,
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn copy_text(container: Option<&str>, e: &engine::CpError) -> String {
    match (container, e) {
        (Some(c), engine::CpError::NotFound { path, .. }) => format!("Could not find the file {path} in container {c}"),
        (Some(c), engine::CpError::DestinationMustBeDirectory { path }) => {
            format!("destination \"{c}:{path}\" must be a directory")
        }
        _ => e.to_string(),
    }
}

impl From<strata_sys::SysError> for CpError {
    fn from(e: strata_sys::SysError) -> Self {
        CpError::Store(StoreError::Sys(e))
    }
}

impl CpError {
    /// The shared error kind, for the CLI's exit codes.
    pub fn kind(&self) -> ErrorKind {
        match self {
            CpError::NoContainer | CpError::User(_) | CpError::NoPrivateNamespace => ErrorKind::InvalidArgument,
            CpError::Copy { source: engine::CpError::NotFound { .. }, .. } => ErrorKind::NotFound,
            CpError::Copy { source, .. } if source.is_user_error() => ErrorKind::InvalidArgument,
            CpError::Copy { .. } => ErrorKind::Io,
            CpError::Store(e) => e.kind(),
        }
    }
}

/// A container's filesystem as `cp` sees it; unmounted when dropped.
struct View {
    root: Root,
    /// Mount id of the rootfs mount (to tell it from its volumes).
    rootfs_mount: u64,
    dir: PathBuf,
    mounted: bool,
}

impl Drop for View {
    fn drop(&mut self) {
        if self.mounted {
            // Lazily detaches the rootfs and every volume on it at once.
            if let Err(e) = strata_sys::mount::unmount(&self.dir, true) {
                tracing::warn!("unmounting cp view {}: {e}", self.dir.display());
            }
        }
        let _ = std::fs::remove_dir(&self.dir);
    }
}

impl View {
    /// Docker's check before extracting: a read-only mount at the extraction
    /// point is refused with the text that says which.
    fn check(&self, fd: BorrowedFd<'_>) -> engine::CpResult<()> {
        if !is_readonly_mount(fd)? {
            return Ok(());
        }
        if mount_id(fd)? == self.rootfs_mount {
            Err(engine::CpError::ReadOnlyRootfs)
        } else {
            Err(engine::CpError::ReadOnlyVolume)
        }
    }
}

/// What a side of the copy resolved to.
enum Side {
    Host(String),
    Stream,
    /// A view of a container, or a volume's `_data` (no view).
    Root {
        root: RootRef,
        path: String,
        names: Option<UserDb>,
        /// The container's id (None for a volume).
        id: Option<String>,
    },
}

enum RootRef {
    /// Shared when both sides are the same container: one view, not two
    /// overlay mounts of the same upper directory.
    View(Rc<View>),
    Plain(Root),
}

impl RootRef {
    fn root(&self) -> &Root {
        match self {
            RootRef::View(v) => &v.root,
            RootRef::Plain(r) => r,
        }
    }

    fn check(&self, fd: BorrowedFd<'_>) -> engine::CpResult<()> {
        match self {
            RootRef::View(v) => v.check(fd),
            RootRef::Plain(_) => Ok(()),
        }
    }
}

/// An overlay stack mounted for reading only: the upper dir becomes the top
/// lower layer (its whiteouts and opaque dirs work there as in any lower), no
/// upper and no work dir.
fn read_only_stack(spec: MountSpec) -> MountSpec {
    match spec {
        MountSpec::Overlay { mut lower, upper: Some(upper), work: _, userxattr } => {
            lower.insert(0, upper);
            MountSpec::Overlay { lower, upper: None, work: None, userxattr }
        }
        other => other,
    }
}

/// Whether this thread still shares the host's (pid 1's) mount namespace.
/// Unknown (no access to pid 1) counts as private.
fn in_host_mount_namespace() -> bool {
    use std::os::unix::fs::MetadataExt;
    let host = std::fs::metadata("/proc/1/ns/mnt").map(|m| m.ino());
    match (host, strata_sys::ns::mount_namespace_id()) {
        (Ok(h), Ok(me)) => h == me,
        _ => false,
    }
}

impl Store {
    /// `cp SRC DST`: host ↔ container, container ↔ container, volumes, and
    /// tar streams (`-`: `stdin` as a source, `stdout` as a destination).
    /// `opts.chown` is used as given (see [`Store::cp_archive`] for `-a`).
    ///
    /// Needs root and a private mount namespace (see the module docs).
    pub fn cp(
        &self,
        src: &CpEndpoint,
        dst: &CpEndpoint,
        opts: &CpOpts,
        stdin: &mut dyn Read,
        stdout: &mut dyn Write,
    ) -> Result<CpStats, CpError> {
        self.cp_inner(src, dst, opts, false, stdin, stdout)
    }

    /// `cp -a`: like [`Store::cp`], with everything written into a container
    /// owned by that container's `Config.User` (resolved in its own
    /// /etc/passwd and /etc/group; no user keeps the source's ownership, as
    /// Docker). Writing to the host or a volume is unaffected, as in Docker.
    pub fn cp_archive(
        &self,
        src: &CpEndpoint,
        dst: &CpEndpoint,
        opts: &CpOpts,
        stdin: &mut dyn Read,
        stdout: &mut dyn Write,
    ) -> Result<CpStats, CpError> {
        self.cp_inner(src, dst, opts, true, stdin, stdout)
    }

    /// The uid/gid `-a` uses for a container: its `Config.User` resolved in
    /// its own /etc/passwd and /etc/group; `None` when it has no user.
    pub fn cp_user_owner(&self, container: &str) -> Result<Option<(u32, u32)>, CpError> {
        let c = self.container(container)?;
        if c.config.user.is_empty() {
            return Ok(None);
        }
        let view = self.container_view(&c, false)?;
        UserDb::read(&view.root).resolve(&c.config.user).map_err(CpError::User)
    }

    fn cp_inner(
        &self,
        src: &CpEndpoint,
        dst: &CpEndpoint,
        opts: &CpOpts,
        archive: bool,
        stdin: &mut dyn Read,
        stdout: &mut dyn Write,
    ) -> Result<CpStats, CpError> {
        if !src.is_container_side() && !dst.is_container_side() {
            return Err(CpError::NoContainer);
        }
        // One view serves both sides of a copy within a container: writable then.
        let same = matches!((src, dst), (CpEndpoint::Container { name: a, .. }, CpEndpoint::Container { name: b, .. })
            if self.container(a).ok().map(|c| c.id) == self.container(b).ok().map(|c| c.id));
        let s = self.open_side(src, None, same)?;
        let d = self.open_side(dst, Some(&s), true)?;
        let mut opts = opts.clone();
        if archive && let (CpEndpoint::Container { name, .. }, Side::Root { root, .. }) = (dst, &d) {
            let c = self.container(name)?;
            opts.chown = UserDb::read(root.root()).resolve(&c.config.user).map_err(CpError::User)?;
        }
        let wrap = |e: engine::CpError, on_dest: bool| {
            let container = match &e {
                engine::CpError::NotFound { dest, .. } => {
                    if *dest {
                        dst.label()
                    } else {
                        src.label()
                    }
                }
                engine::CpError::DestinationMustBeDirectory { .. } => dst.label(),
                _ => {
                    if on_dest {
                        dst.label()
                    } else {
                        src.label()
                    }
                }
            };
            CpError::Copy { container, source: e }
        };
        // EROFS past the check (which refused a read-only extraction point):
        // a read-only volume nested below it.
        let erofs = |e: engine::CpError, root: &RootRef| -> engine::CpError {
            if e.is_read_only_fs() && matches!(root, RootRef::View(_)) { engine::CpError::ReadOnlyVolume } else { e }
        };
        match (&s, &d) {
            (Side::Stream, Side::Root { root, path, .. }) => {
                let check = |fd: BorrowedFd<'_>| root.check(fd);
                engine::tar_into_root_checked(&mut *stdin, root.root(), path, &opts, &check)
                    .map_err(|e| wrap(erofs(e, root), true))
            }
            (Side::Root { root, path, names, .. }, Side::Stream) => {
                engine::tar_from_root_with(root.root(), path, stdout, &opts, names.as_ref()).map_err(|e| wrap(e, false))
            }
            (Side::Host(h), Side::Root { root, path, .. }) => {
                let check = |fd: BorrowedFd<'_>| root.check(fd);
                engine::copy(Endpoint::Host(h), Endpoint::Root(root.root(), path), &opts, &check)
                    .map_err(|e| wrap(erofs(e, root), true))
            }
            (Side::Root { root, path, .. }, Side::Host(h)) => {
                engine::copy(Endpoint::Root(root.root(), path), Endpoint::Host(h), &opts, &|_| Ok(()))
                    .map_err(|e| wrap(e, true))
            }
            (Side::Root { root: a, path: pa, .. }, Side::Root { root: b, path: pb, .. }) => {
                let check = |fd: BorrowedFd<'_>| b.check(fd);
                engine::copy(Endpoint::Root(a.root(), pa), Endpoint::Root(b.root(), pb), &opts, &check)
                    .map_err(|e| wrap(erofs(e, b), true))
            }
            _ => Err(CpError::NoContainer),
        }
    }

    /// Resolve one side; a container already opened as `other` is shared.
    /// `writable`: the destination (the source's view is read-only).
    fn open_side(&self, e: &CpEndpoint, other: Option<&Side>, writable: bool) -> Result<Side, CpError> {
        Ok(match e {
            CpEndpoint::Host(p) => Side::Host(p.clone()),
            CpEndpoint::Stream => Side::Stream,
            CpEndpoint::Volume { name, path } => {
                let v = self.volume(name)?;
                let root = Root::new(&v.mountpoint)?;
                Side::Root { root: RootRef::Plain(root), path: path.clone(), names: None, id: None }
            }
            CpEndpoint::Container { name, path } => {
                let c = self.container(name)?;
                if let Some(Side::Root { root: RootRef::View(v), names, id: Some(id), .. }) = other
                    && *id == c.id
                {
                    return Ok(Side::Root {
                        root: RootRef::View(v.clone()),
                        path: path.clone(),
                        names: names.clone(),
                        id: Some(c.id),
                    });
                }
                let view = self.container_view(&c, writable)?;
                let names = Some(UserDb::read(&view.root));
                Side::Root { root: RootRef::View(Rc::new(view)), path: path.clone(), names, id: Some(c.id) }
            }
        })
    }

    /// Mount the container's rootfs and its volumes at a fresh staging dir.
    ///
    /// A source that is only read gets a read-only view: overlay2 then mounts
    /// the layer stack with the container's upper dir as the top *lower* layer
    /// and no upper, so tearing the view down does not `syncfs` the whole
    /// backing filesystem (what unmounting a writable overlay does). When a
    /// volume's mount point is missing from the rootfs (never started, image
    /// without the directory) it has to be created, and the view is writable.
    fn container_view(&self, c: &Container, writable: bool) -> Result<View, CpError> {
        if !strata_sys::probe::is_root() {
            return self.unprivileged_view(c);
        }
        if in_host_mount_namespace() {
            return Err(CpError::NoPrivateNamespace);
        }
        if !writable && let Some(v) = self.build_view(c, false)? {
            return Ok(v);
        }
        Ok(self.build_view(c, true)?.expect("a writable view can create its mount points"))
    }

    /// `None`: a read-only view could not create a missing mount point.
    fn build_view(&self, c: &Container, writable: bool) -> Result<Option<View>, CpError> {
        let dir = self.staging_path("cp");
        std::fs::create_dir_all(&dir).ctx("create", &dir)?;
        // From here on, dropping `view` unmounts and removes the dir.
        let mut view = View { root: Root::new(&dir)?, rootfs_mount: 0, dir: dir.clone(), mounted: false };
        let restrict = MountRestrictions { readonly: !writable, nodev: true, nosuid: true };
        let target = Root::new(&dir)?;
        let live = self.driver().merged_dir(&c.rw_id).filter(|m| strata_sys::mount::is_mountpoint(m));
        match live {
            // Running (or `strata mount`ed): the live merged tree, not a second overlay on the same upper dir.
            Some(merged) => bind_mount_onto_fd_with(&merged, target.fd(), restrict)?,
            None => {
                let mut specs = self.driver().mounts(&c.rw_id)?;
                if specs.is_empty() {
                    bind_mount_onto_fd_with(&self.driver().diff_dir(&c.rw_id), target.fd(), restrict)?;
                } else {
                    if !writable {
                        specs = specs.into_iter().map(read_only_stack).collect();
                    }
                    // On failure mount_all undoes its own mounts; on success the view owns them.
                    strata_sys::mount::mount_all(&specs, &dir)?.leak();
                    view.mounted = true;
                    // A fresh fd: the mount now covers the staging dir.
                    restrict_mount(Root::new(&dir)?.fd(), restrict, false)?;
                }
            }
        }
        view.mounted = true;
        view.root = Root::new(&dir)?;
        view.rootfs_mount = mount_id(view.root.fd())?;
        let mut mounts: Vec<&MountPoint> = c.mounts.iter().filter(|m| m.kind != MountKind::Tmpfs).collect();
        mounts.sort_by_key(|m| Path::new(&m.destination).components().count());
        for m in mounts {
            let m = MountPoint { rw: m.rw && writable, ..m.clone() };
            match self.mount_into_view(&view, &m) {
                Ok(()) => {}
                Err(CpError::Store(StoreError::Sys(e)))
                    if !writable && e.kind() == std::io::ErrorKind::ReadOnlyFilesystem =>
                {
                    return Ok(None);
                }
                Err(e) => return Err(e),
            }
        }
        if c.read_only && writable {
            restrict_mount(view.root.fd(), MountRestrictions { readonly: true, ..restrict }, false)?;
        }
        Ok(Some(view))
    }

    /// One volume or bind, onto its mount point resolved confined in the view.
    fn mount_into_view(&self, view: &View, m: &MountPoint) -> Result<(), CpError> {
        if m.kind == MountKind::Volume {
            // Recreates a missing `_data`; the source may be a subpath of it.
            self.volume(&m.name)?;
        }
        let source = m.source.clone();
        let md = std::fs::metadata(&source).map_err(|e| {
            StoreError::invalid(
                format!("mount {}", m.destination),
                format!("bind source path does not exist: {} ({e})", source.display()),
            )
        })?;
        let target = mount_target(&view.root, Path::new(&m.destination), md.is_dir()).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotADirectory => CpError::Store(StoreError::invalid(
                format!("volume at {}", m.destination),
                format!("cannot mount volume over existing file, file exists {}", m.destination),
            )),
            _ => e.into(),
        })?;
        let restrict = MountRestrictions { readonly: !m.rw, nodev: true, nosuid: true };
        bind_mount_onto_fd_with(&source, std::os::fd::AsFd::as_fd(&target), restrict)?;
        Ok(())
    }

    /// Without root nothing can be mounted: a container whose layer is a plain
    /// tree (vfs) and that has no volumes can still be copied to and from.
    fn unprivileged_view(&self, c: &Container) -> Result<View, CpError> {
        let has_volumes = c.mounts.iter().any(|m| m.kind != MountKind::Tmpfs);
        if !self.driver().mounts(&c.rw_id)?.is_empty() || has_volumes {
            return Err(StoreError::DriverUnsupported {
                driver: self.driver().name().into(),
                reason: "cp into or out of this container needs root (its rootfs or volumes must be mounted)".into(),
            }
            .into());
        }
        let root = Root::new(&self.driver().diff_dir(&c.rw_id))?;
        let rootfs_mount = mount_id(root.fd()).unwrap_or(0);
        // Nothing mounted, nothing to remove: point `dir` at a path that does not exist.
        Ok(View { root, rootfs_mount, dir: self.staging_path("cp-none"), mounted: false })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_like_docker() {
        use CpEndpoint::*;
        let h = |s: &str| Host(s.to_string());
        let c = |n: &str, p: &str| Container { name: n.into(), path: p.into() };
        assert_eq!(parse_cp_arg("-"), Stream);
        assert_eq!(parse_cp_arg("/abs/a:b"), h("/abs/a:b"));
        assert_eq!(parse_cp_arg("rel/file"), h("rel/file"));
        assert_eq!(parse_cp_arg("./a:b"), h("./a:b"));
        assert_eq!(parse_cp_arg("web:/data/x"), c("web", "/data/x"));
        assert_eq!(parse_cp_arg("web:rel"), c("web", "rel"));
        assert_eq!(parse_cp_arg("web:"), c("web", ""));
        assert_eq!(parse_cp_arg(":x"), h("x"));
        assert_eq!(parse_cp_arg("volume:data:/x"), Volume { name: "data".into(), path: "/x".into() });
        // A container named "volume".
        assert_eq!(parse_cp_arg("volume:/x"), c("volume", "/x"));
    }

    #[test]
    fn messages_name_the_container_as_docker() {
        let e = CpError::Copy {
            container: Some("web1".into()),
            source: engine::CpError::NotFound { path: "/nope".into(), dest: false },
        };
        assert_eq!(e.to_string(), "Could not find the file /nope in container web1");
        assert_eq!(e.kind(), ErrorKind::NotFound);
        let e = CpError::Copy {
            container: Some("web1".into()),
            source: engine::CpError::DestinationMustBeDirectory { path: "/data/x".into() },
        };
        assert_eq!(e.to_string(), "destination \"web1:/data/x\" must be a directory");
        let e = CpError::Copy { container: Some("c".into()), source: engine::CpError::ReadOnlyVolume };
        assert_eq!(e.to_string(), "mounted volume is marked read-only");
        assert_eq!(CpError::NoContainer.to_string(), "must specify at least one container source");
    }
}
