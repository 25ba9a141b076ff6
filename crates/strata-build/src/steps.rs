//! The filesystem steps: ADD, COPY, RUN and WORKDIR. Each runs in one
//! temporary container made from the current image and ends as exactly one
//! layer (`Store::commit_layer`), or none when nothing changed.
//!
//! ```text
//! helper image? ─▶ container (labelled strata.build.owner) ─▶ change ─▶ commit_layer ─▶ remove
//!   ADD/COPY/WORKDIR: the rootfs mounted on the host, written through a Root (confined)
//!   RUN:              strata_runtime::start_with_output (runc), output streamed to the build
//! ```
//!
//! Build-time VOLUME, BuildKit's way: a step container is made from a helper
//! image that has the current config without its `Volumes` (same layers), so
//! no anonymous volume is mounted over a VOLUME path during the build and a
//! RUN's writes there stay in the layer. (Docker's legacy builder mounted
//! the volume and dropped them; BuildKit, Docker's default since 23.0, and
//! buildah keep them.) The helper image is removed with its container.
//! The same helper stands in for "no image" after `FROM scratch`.

use std::cell::RefCell;
use std::io::{BufReader, Read, Write};
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use rustix::fs::OFlags;
use strata_archive::cp::{self, CpOpts, UserDb};
use strata_store::config::ImageConfig;
use strata_store::container::{Container, ContainerSpec};
use strata_store::format::changes::CmdLine;
use strata_store::{Digest, Image, Layer, Store};
use strata_sys::root::Root;

use crate::cache::{self, Cache};
use crate::error::{BuildError, Result};
use crate::executor::{Builder, StageState, resolve_cmd};
use crate::ignore::{self, Pattern};
use crate::parser::CopySpec;
use crate::temp::{OWNER_LABEL, Temps, owner_tag};

/// A step container and the helper image it was made from, if any.
pub(crate) struct StepContainer {
    pub c: Container,
    helper: Option<Digest>,
}

/// A container from `image` (with `config`) for one step.
fn step_container(
    store: &Store,
    temps: &mut Temps<'_>,
    image: Option<&Image>,
    config: &ImageConfig,
    mut spec: ContainerSpec,
) -> Result<StepContainer> {
    let mut helper = None;
    let id = match image {
        Some(img) if config.config.volumes.as_ref().is_none_or(|v| v.is_empty()) => img.id.clone(),
        _ => {
            let mut cfg = config.clone();
            cfg.config.volumes = None;
            cfg.config.labels.get_or_insert_with(Default::default).insert(OWNER_LABEL.into(), owner_tag());
            cfg.created = Some(strata_store::meta::now_rfc3339());
            let bytes = cfg.to_bytes();
            let existed = store.find_image(Digest::of_bytes(&bytes).as_str())?.is_some();
            let img = store.create_image(&bytes, &[])?;
            if !existed {
                temps.add_image(&img.id);
                helper = Some(img.id.clone());
            }
            img.id
        }
    };
    spec.image = id.to_string();
    spec.labels.insert(OWNER_LABEL.into(), owner_tag());
    let c = store.create_container(&spec)?;
    temps.add_container(&c.id);
    Ok(StepContainer { c, helper })
}

fn drop_step_container(temps: &mut Temps<'_>, sc: StepContainer) -> Result<()> {
    temps.remove_container(&sc.c.id)?;
    if let Some(h) = sc.helper {
        temps.remove_image(&h)?;
    }
    Ok(())
}

/// The container's rootfs mounted on the host until dropped.
struct Mounted<'s> {
    store: &'s Store,
    c: Container,
    path: PathBuf,
    live: bool,
}

impl<'s> Mounted<'s> {
    fn new(store: &'s Store, c: &Container) -> Result<Mounted<'s>> {
        let path = store.mount_container(c)?;
        Ok(Mounted { store, c: c.clone(), path, live: true })
    }

    fn unmount(mut self) -> Result<()> {
        self.live = false;
        self.store.unmount_container(&self.c)?;
        Ok(())
    }
}

impl Drop for Mounted<'_> {
    fn drop(&mut self) {
        if self.live {
            let _ = self.store.unmount_container(&self.c);
        }
    }
}

/// The container's changes as a layer; `None` when there are none.
fn commit_changes(store: &Store, c: &Container) -> Result<Option<Layer>> {
    if store.container_changes(c)?.is_empty() {
        return Ok(None);
    }
    Ok(Some(store.commit_layer(c)?))
}

// ---------------------------------------------------------------------------
// RUN

pub(crate) fn run(b: &mut Builder<'_>, st: &mut StageState, cl: &CmdLine) -> Result<()> {
    let cmd = resolve_cmd(cl, &st.shell());
    let (env, shown) = b.run_args(st);
    let mut saved = Vec::new();
    if !shown.is_empty() {
        saved.push(format!("|{}", shown.len()));
        saved.extend(shown);
    }
    saved.extend(cmd.iter().cloned());
    let created_by = saved.join(" ");
    let key = Cache::key(st.parent_id(), &created_by, "");
    if let Some(img) = b.try_cache(&key)? {
        return b.finish(st, &key, img);
    }
    let spec = ContainerSpec { cmd: cmd.clone(), entrypoint: Some(Vec::new()), env, ..Default::default() };
    let sc = step_container(b.store, &mut b.temps, st.image.as_ref(), &st.config, spec)?;
    b.say(&format!(" ---> Running in {}", sc.c.short_id()))?;
    let code = run_container(b.store, b.intr.flag(), &mut *b.out, &sc.c)?;
    b.intr.check()?;
    if code != 0 {
        return Err(BuildError::CommandFailed { command: cmd.join(" "), code });
    }
    let layer = commit_changes(b.store, &sc.c)?;
    b.say(&format!("Removing intermediate container {}", sc.c.short_id()))?;
    drop_step_container(&mut b.temps, sc)?;
    let img = b.commit_image(st.config.clone(), created_by, layer.as_ref())?;
    b.finish(st, &key, img)
}

/// Both output streams of a RUN into the one build output.
struct SharedOut<'r, 'w>(&'r RefCell<&'w mut dyn Write>);

impl Write for SharedOut<'_, '_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.borrow_mut().write(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0.borrow_mut().flush()
    }
}

/// Run the container in the foreground; its exit code. On SIGINT/SIGTERM
/// the container is killed (a watcher thread, since the wait blocks).
fn run_container(store: &Store, flag: Arc<AtomicBool>, out: &mut dyn Write, c: &Container) -> Result<i32> {
    let done = Arc::new(AtomicBool::new(false));
    let watcher = {
        let done = done.clone();
        let run_root = store.run_root().to_path_buf();
        let id = c.id.clone();
        std::thread::spawn(move || {
            while !done.load(Ordering::SeqCst) {
                if flag.load(Ordering::SeqCst) {
                    if let Ok(rt) = strata_runtime::Runc::new(None, &run_root) {
                        let _ = strata_runtime::OciRuntime::kill(&rt, &id, 9);
                    }
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        })
    };
    let outcome = {
        let shared = RefCell::new(out);
        let (mut o, mut e) = (SharedOut(&shared), SharedOut(&shared));
        strata_runtime::start_with_output(store, c, &strata_runtime::StartOpts::default(), &mut o, &mut e)
    };
    done.store(true, Ordering::SeqCst);
    let _ = watcher.join();
    Ok(outcome?.exit_code.unwrap_or(-1))
}

// ---------------------------------------------------------------------------
// WORKDIR

pub(crate) fn workdir(b: &mut Builder<'_>, st: &mut StageState, w: &str) -> Result<()> {
    let vars = b.vars(st);
    let w = crate::words::process(w, &vars, '\\')
        .map_err(|m| BuildError::Instruction { instruction: "WORKDIR", message: m })?;
    if w.is_empty() {
        return Err(BuildError::Instruction { instruction: "WORKDIR", message: "cannot normalize nothing".into() });
    }
    let joined = if w.starts_with('/') { w } else { format!("/{}/{w}", st.config.config.working_dir) };
    let path = ignore::clean(&joined);
    let created_by = format!("{}WORKDIR {path}", st.nop());
    let key = Cache::key(st.parent_id(), &created_by, "");
    if let Some(img) = b.try_cache(&key)? {
        return b.finish(st, &key, img);
    }
    let sc = step_container(b.store, &mut b.temps, st.image.as_ref(), &st.config, ContainerSpec::default())?;
    b.say(&format!(" ---> Running in {}", sc.c.short_id()))?;
    let created = {
        let m = Mounted::new(b.store, &sc.c)?;
        let root = Root::new(&m.path)?;
        let exists = root.open(Path::new(&path), OFlags::PATH).is_ok();
        if !exists {
            root.mkdir_all(Path::new(&path), 0o755)?;
        }
        drop(root);
        m.unmount()?;
        !exists
    };
    let layer = if created { commit_changes(b.store, &sc.c)? } else { None };
    b.say(&format!("Removing intermediate container {}", sc.c.short_id()))?;
    drop_step_container(&mut b.temps, sc)?;
    let mut config = st.config.clone();
    config.config.working_dir = path;
    let img = b.commit_image(config, created_by, layer.as_ref())?;
    b.finish(st, &key, img)
}

// ---------------------------------------------------------------------------
// ADD / COPY

/// One resolved source: its path relative to the source root.
#[derive(Debug, Clone)]
struct Src {
    rel: String,
    is_dir: bool,
}

fn is_url(s: &str) -> bool {
    ["http://", "https://", "git://", "git@", "ssh://"].iter().any(|p| s.starts_with(p))
}

fn src_err(kw: &'static str, message: String) -> BuildError {
    BuildError::Source { instruction: kw, message }
}

/// Resolve sources in `root` (whose host path `host` is walked for
/// wildcards): Docker's rules (relative to the root; `..` may not leave it).
fn resolve_sources(root: &Root, host: &Path, srcs: &[String], kw: &'static str, what: &str) -> Result<Vec<Src>> {
    let mut out = Vec::new();
    for s in srcs {
        let trimmed = s.trim_start_matches('/');
        let rel = ignore::clean(if trimmed.is_empty() { "." } else { trimmed });
        if rel == ".." || rel.starts_with("../") {
            return Err(src_err(kw, format!("forbidden path outside the build context: {s} ()")));
        }
        if rel.contains(['*', '?', '[']) {
            let pat = Pattern::new(&rel, false);
            let mut matched = Vec::new();
            let mut walk = walkdir::WalkDir::new(host).follow_links(false).sort_by_file_name().into_iter();
            while let Some(entry) = walk.next() {
                let entry = entry.map_err(|e| src_err(kw, format!("walking {what}: {e}")))?;
                let name = entry.path().strip_prefix(host).unwrap_or(entry.path()).to_string_lossy().into_owned();
                if name.is_empty() || !pat.matches(&name) {
                    continue;
                }
                let is_dir = is_dir_in(root, &name);
                if entry.file_type().is_dir() {
                    walk.skip_current_dir();
                }
                matched.push(Src { rel: name, is_dir });
            }
            if matched.is_empty() {
                return Err(src_err(kw, "no source files were specified".into()));
            }
            out.extend(matched);
        } else {
            match root.open(Path::new(&rel), OFlags::PATH) {
                Ok(fd) => {
                    let md = std::fs::metadata(cache::fd_host_path(fd.as_fd()))
                        .map_err(|e| BuildError::io("stat", &rel, e))?;
                    out.push(Src { rel, is_dir: md.is_dir() });
                }
                Err(e) if matches!(e.kind(), std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory) => {
                    return Err(src_err(kw, format!("file not found in {what}: stat {s}: file does not exist")));
                }
                Err(e) => return Err(e.into()),
            }
        }
    }
    Ok(out)
}

fn is_dir_in(root: &Root, rel: &str) -> bool {
    root.open(Path::new(rel), OFlags::PATH | OFlags::DIRECTORY).is_ok()
}

/// A relative destination is under WORKDIR; a trailing `/` is kept.
fn normalize_dest(workdir: &str, dest: &str) -> String {
    if dest.starts_with('/') {
        return dest.to_string();
    }
    let mut d = ignore::clean(&format!("/{workdir}/{dest}"));
    if dest.ends_with('/') && d != "/" {
        d.push('/');
    }
    d
}

/// `--chown=user[:group]`: names from the image's own /etc/passwd and
/// /etc/group (read confined), numbers as they are; a lone user is also the
/// group (`--chown=app` is app:app), as the legacy builder has it.
fn resolve_chown(root: &Root, spec: &str, kw: &'static str) -> Result<(u32, u32)> {
    let err = |m: String| BuildError::Instruction {
        instruction: kw,
        message: format!("unable to convert uid/gid chown string to host mapping: {m}"),
    };
    let parts: Vec<&str> = spec.split(':').collect();
    let (u, g) = match parts.as_slice() {
        [u] => (*u, *u),
        [u, g] => (*u, *g),
        _ => return Err(err(format!("invalid chown string format: {spec}"))),
    };
    match UserDb::read(root).resolve(&format!("{u}:{g}")) {
        Ok(Some(ids)) => Ok(ids),
        Ok(None) => Ok((0, 0)),
        Err(m) => Err(err(m)),
    }
}

/// `mkdir -p` in the container; components it creates get `owner`.
fn mkdir_owned(root: &Root, path: &str, owner: (u32, u32)) -> Result<()> {
    let mut prefix = PathBuf::from("/");
    for comp in Path::new(path).components() {
        let std::path::Component::Normal(name) = comp else { continue };
        prefix.push(name);
        if root.open(&prefix, OFlags::PATH).is_ok() {
            continue;
        }
        root.mkdir_all(&prefix, 0o755)?;
        if owner != (0, 0) {
            let p = root.pinned(&prefix)?;
            strata_sys::fs::lchown_at(&p.dir, &p.name, owner.0, owner.1)?;
        }
    }
    Ok(())
}

/// Whether a file in `root` is a tar archive (plain, gzip or zstd).
fn is_archive(root: &Root, rel: &str) -> bool {
    let Ok(fd) = root.open(Path::new(rel), OFlags::RDONLY) else { return false };
    let Ok((_, mut rd)) = strata_archive::compress::decompressing_reader(BufReader::new(std::fs::File::from(fd)))
    else {
        return false;
    };
    let mut head = Vec::with_capacity(512);
    if rd.by_ref().take(512).read_to_end(&mut head).is_err() {
        return false;
    }
    crate::context::is_tar_header(&head)
}

/// `--chmod=<octal>`.
fn parse_chmod(s: &str, kw: &'static str) -> Result<u32> {
    u32::from_str_radix(s, 8).ok().filter(|m| *m <= 0o7777).ok_or_else(|| BuildError::Instruction {
        instruction: kw,
        message: format!("invalid chmod parameter {s:?}: only octal modes (0755) are supported"),
    })
}

pub(crate) fn copy(b: &mut Builder<'_>, st: &mut StageState, spec: &CopySpec, add: bool) -> Result<()> {
    let kw: &'static str = if add { "ADD" } else { "COPY" };
    let vars = b.vars(st);
    let srcs = spec.sources.iter().map(|s| b.word(s, &vars)).collect::<Result<Vec<_>>>()?;
    let dest = b.word(&spec.dest, &vars)?;
    let chown = spec.chown.as_deref().map(|c| b.word(c, &vars)).transpose()?;
    let chmod_text = spec.chmod.as_deref().map(|c| b.word(c, &vars)).transpose()?;
    let chmod = chmod_text.as_deref().map(|c| parse_chmod(c, kw)).transpose()?;
    let from = spec.from.as_deref().map(|f| b.word(f, &vars)).transpose()?;
    for s in &srcs {
        if is_url(s) {
            let msg = if add {
                format!(
                    "ADD from a URL ({s}) is not supported by strata build: download it into the build context, then ADD or COPY the file"
                )
            } else {
                format!("source can't be a URL for COPY: {s}")
            };
            return Err(src_err(kw, msg));
        }
    }
    let dest_abs = normalize_dest(&st.config.config.working_dir, &dest);

    // What the step depends on: the sources' content (context), or the
    // source image (--from: its id pins its content).
    let from_image = match &from {
        Some(f) => Some(b.copy_source_image(f)?),
        None => None,
    };
    let (hash, resolved) = match &from_image {
        Some(img) => {
            let id = img.as_ref().map(|i| i.id.to_string()).unwrap_or_else(|| "scratch".into());
            let text = format!("{id}\n{}", srcs.join("\n"));
            (format!("from:{}", strata_archive::digest::sha256_hex(text.as_bytes())), None)
        }
        None => {
            let (root, host) = b.ctx.staged()?;
            let resolved = resolve_sources(root, host, &srcs, kw, "build context or excluded by .dockerignore")?;
            let rels: Vec<String> = resolved.iter().map(|s| s.rel.clone()).collect();
            (cache::hash_sources(root, &rels)?, Some(resolved))
        }
    };
    if let Some(r) = &resolved
        && r.len() > 1
        && !dest.ends_with('/')
    {
        return Err(src_err(
            kw,
            format!(
                "When using {kw} with more than one source file, the destination must be a directory and end with a /"
            ),
        ));
    }
    let mut flags = String::new();
    if let Some(c) = &chown {
        flags.push_str(&format!("--chown={c}"));
    }
    if let Some(c) = &chmod_text {
        flags.push_str(&format!("--chmod={c}"));
    }
    let created_by = format!("{}{kw} {flags}{hash} in {dest} ", st.nop());
    let key = Cache::key(st.parent_id(), &created_by, "");
    if let Some(img) = b.try_cache(&key)? {
        return b.finish(st, &key, img);
    }

    // The destination container, and for --from a container of the source image.
    let target = step_container(b.store, &mut b.temps, st.image.as_ref(), &st.config, ContainerSpec::default())?;
    let source = match &from_image {
        Some(Some(img)) => {
            Some(step_container(b.store, &mut b.temps, Some(img), &img.config, ContainerSpec::default())?)
        }
        Some(None) => {
            return Err(src_err(
                kw,
                format!("file not found in stage {}: it is empty (FROM scratch)", from.unwrap_or_default()),
            ));
        }
        None => None,
    };
    {
        let dst_mount = Mounted::new(b.store, &target.c)?;
        let croot = Root::new(&dst_mount.path)?;
        let owner = match &chown {
            Some(c) => resolve_chown(&croot, c, kw)?,
            None => (0, 0),
        };
        let src_mount = source.as_ref().map(|s| Mounted::new(b.store, &s.c)).transpose()?;
        let src_view: Option<Root> = src_mount.as_ref().map(|m| Root::new(&m.path)).transpose()?;
        let (sroot, shost): (&Root, PathBuf) = match (&src_view, &src_mount) {
            (Some(r), Some(m)) => (r, m.path.clone()),
            _ => {
                let (r, h) = b.ctx.staged()?;
                (r, h.to_path_buf())
            }
        };
        let resolved = match resolved {
            Some(r) => r,
            None => {
                let r = resolve_sources(sroot, &shost, &srcs, kw, "the --from image")?;
                if r.len() > 1 && !dest.ends_with('/') {
                    return Err(src_err(
                        kw,
                        format!(
                            "When using {kw} with more than one source file, the destination must be a directory and end with a /"
                        ),
                    ));
                }
                r
            }
        };
        for src in &resolved {
            copy_one(sroot, src, &croot, &dest, &dest_abs, owner, chown.is_some(), chmod, add)?;
        }
        // Open fds keep a mount busy: close the roots before unmounting.
        drop(croot);
        drop(src_view);
        if let Some(m) = src_mount {
            m.unmount()?;
        }
        dst_mount.unmount()?;
    }
    let layer = commit_changes(b.store, &target.c)?;
    if let Some(s) = source {
        drop_step_container(&mut b.temps, s)?;
    }
    drop_step_container(&mut b.temps, target)?;
    let img = b.commit_image(st.config.clone(), created_by, layer.as_ref())?;
    b.finish(st, &key, img)
}

/// Copy one source into the container (Docker's COPY rules, which differ
/// from `docker cp`: a directory's *contents* are copied; missing parents
/// of the destination are created).
#[allow(clippy::too_many_arguments)]
fn copy_one(
    sroot: &Root,
    src: &Src,
    croot: &Root,
    dest: &str,
    dest_abs: &str,
    owner: (u32, u32),
    explicit_owner: bool,
    chmod: Option<u32>,
    add: bool,
) -> Result<()> {
    let opts = CpOpts { follow_link: true, chown: Some(owner), host_owner: None };
    if add && !src.is_dir && is_archive(sroot, &src.rel) {
        // Local archives are extracted; their owners kept unless --chown.
        mkdir_owned(croot, dest_abs, owner)?;
        let fd = sroot.open(Path::new(&src.rel), OFlags::RDONLY)?;
        let (_, tar) = strata_archive::compress::decompressing_reader(BufReader::new(std::fs::File::from(fd)))?;
        let topts = CpOpts { chown: explicit_owner.then_some(owner), ..Default::default() };
        cp::tar_into_root(tar, croot, dest_abs, &topts)?;
        return Ok(());
    }
    let (final_path, src_path) = if src.is_dir {
        mkdir_owned(croot, dest_abs, owner)?;
        let src_path = if src.rel == "." { "./.".to_string() } else { format!("{}/.", src.rel) };
        (dest_abs.trim_end_matches('/').to_string(), src_path)
    } else {
        let into_dir = dest.ends_with('/') || is_dir_in(croot, dest_abs);
        let base = Path::new(&src.rel).file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        if into_dir {
            mkdir_owned(croot, dest_abs, owner)?;
            (format!("{}/{base}", dest_abs.trim_end_matches('/')), src.rel.clone())
        } else {
            let parent = Path::new(dest_abs).parent().map(|p| p.to_string_lossy().into_owned()).unwrap_or_default();
            mkdir_owned(croot, &parent, owner)?;
            (dest_abs.to_string(), src.rel.clone())
        }
    };
    cp::copy_root_to_root(sroot, &src_path, croot, dest_abs, &opts)?;
    if let Some(mode) = chmod {
        apply_chmod(sroot, src, croot, &final_path, mode)?;
    }
    Ok(())
}

/// `--chmod`: the mode of every copied file and directory (symlinks have none).
fn apply_chmod(sroot: &Root, src: &Src, croot: &Root, final_path: &str, mode: u32) -> Result<()> {
    let set = |path: &str| -> Result<()> {
        let p = croot.pinned(Path::new(path))?;
        strata_sys::fs::chmod_at(&p.dir, &p.name, mode)?;
        Ok(())
    };
    if !src.is_dir {
        return set(final_path);
    }
    let fd = sroot.open(Path::new(&src.rel), OFlags::PATH | OFlags::DIRECTORY)?;
    let top = cache::fd_host_path(fd.as_fd());
    for entry in walkdir::WalkDir::new(&top).min_depth(1).follow_links(false) {
        let entry = entry.map_err(|e| BuildError::Context(format!("--chmod: walking {}: {e}", src.rel)))?;
        if entry.file_type().is_symlink() {
            continue;
        }
        let rel = entry.path().strip_prefix(&top).unwrap_or(entry.path()).to_string_lossy().into_owned();
        set(&format!("{final_path}/{rel}"))?;
    }
    Ok(())
}
