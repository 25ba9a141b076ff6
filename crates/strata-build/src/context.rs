//! The build context: a directory, or what `-` reads (a tar archive, plain,
//! gzip or zstd; anything else is a lone Dockerfile with an empty context, as
//! `docker build - < Dockerfile`).
//!
//! ```text
//! <root>/tmp/build.context-<pid>-<start>-<rand>/   the context as the steps see it:
//!                                                   .dockerignore applied, owned by this build
//! ```
//!
//! A directory is copied there lazily (only when an ADD/COPY needs it), as
//! Docker's CLI tars it: `.dockerignore` exclusions left out, symlinks kept
//! as symlinks, file data reflinked where the filesystem can. A tar is
//! extracted there through the confined `cp` engine, then the exclusions
//! are removed. Every later read of the context goes through a [`Root`] on
//! that directory, so a symlink in the context (`etc -> /etc`) resolves
//! inside it, never on the host.
//!
//! The Dockerfile: `-f` names a host file (relative to the current
//! directory, as the docker CLI resolves it) for a directory context, a path
//! inside the archive for `-`, or `-` for standard input. Without `-f`:
//! `Dockerfile`, else `dockerfile`, in the context.

use std::io::{BufRead, BufReader, Read};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use rustix::fs::OFlags;
use strata_archive::compress::{Compression, decompressing_reader};
use strata_store::Store;
use strata_sys::root::Root;

use crate::error::{BuildError, Result};
use crate::ignore::Ignore;

/// Where the build context comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContextSource {
    /// `strata build DIR`.
    Dir(PathBuf),
    /// `strata build -`: standard input.
    Stdin,
    /// What `-` would read, from a file (a tar, or a lone Dockerfile).
    Archive(PathBuf),
}

/// The Dockerfile text and the context it builds from.
pub(crate) struct Prepared {
    pub dockerfile: String,
    pub context: Context,
}

/// The context, materialised on first use.
pub(crate) struct Context {
    /// A directory context not yet copied: (dir, ignore patterns).
    pending_dir: Option<(PathBuf, Ignore)>,
    staging: Option<Staging>,
    staging_path: PathBuf,
}

struct Staging {
    root: Root,
    path: PathBuf,
}

impl Drop for Context {
    fn drop(&mut self) {
        let staged = self.staging.take().is_some() || self.staging_path.exists();
        if staged && let Err(e) = strata_sys::fs::remove_tree(&self.staging_path) {
            tracing::warn!("removing build context {}: {e}", self.staging_path.display());
        }
    }
}

impl Context {
    /// The context's root, copying a directory context into place first.
    pub fn root(&mut self) -> Result<&Root> {
        Ok(self.staged()?.0)
    }

    /// The context's root and its host path (ours: walking it is safe).
    pub fn staged(&mut self) -> Result<(&Root, &Path)> {
        if self.staging.is_none() {
            let (dir, ignore) = self.pending_dir.take().expect("a context is either pending or staged");
            copy_filtered(&dir, &self.staging_path, &ignore)?;
            self.staging = Some(Staging { root: Root::new(&self.staging_path)?, path: self.staging_path.clone() });
        }
        let s = self.staging.as_ref().expect("staged");
        Ok((&s.root, s.path.as_path()))
    }
}

/// Read the Dockerfile and set up the context.
pub(crate) fn prepare(store: &Store, source: &ContextSource, dockerfile: Option<&Path>) -> Result<Prepared> {
    let stdin_dockerfile = dockerfile.is_some_and(|d| d == Path::new("-"));
    let staging_path = store.staging_path("build-context");
    match source {
        ContextSource::Dir(dir) => {
            let md = std::fs::metadata(dir).map_err(|e| BuildError::Context(format!("stat {}: {e}", dir.display())))?;
            if !md.is_dir() {
                return Err(BuildError::Context(format!("{} is not a directory", dir.display())));
            }
            let text = if stdin_dockerfile {
                read_all(std::io::stdin().lock(), "standard input")?
            } else {
                let path = match dockerfile {
                    Some(p) => p.to_path_buf(),
                    None => {
                        let d = dir.join("Dockerfile");
                        if d.symlink_metadata().is_err() && dir.join("dockerfile").symlink_metadata().is_ok() {
                            dir.join("dockerfile")
                        } else {
                            d
                        }
                    }
                };
                let f = std::fs::File::open(&path).map_err(|e| {
                    BuildError::Context(format!("unable to open Dockerfile {}: {}", path.display(), go_err(&e)))
                })?;
                read_all(f, &path.display().to_string())?
            };
            let ignore = match std::fs::read_to_string(dir.join(".dockerignore")) {
                Ok(s) => Ignore::parse(&s),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ignore::default(),
                Err(e) => return Err(BuildError::Context(format!("reading .dockerignore: {e}"))),
            };
            Ok(Prepared {
                dockerfile: text,
                context: Context { pending_dir: Some((dir.clone(), ignore)), staging: None, staging_path },
            })
        }
        ContextSource::Stdin | ContextSource::Archive(_) => {
            if stdin_dockerfile {
                return Err(BuildError::invalid(
                    "invalid argument: can't use stdin for both build context and dockerfile",
                ));
            }
            let input: Box<dyn Read> = match source {
                ContextSource::Archive(p) => Box::new(
                    std::fs::File::open(p)
                        .map_err(|e| BuildError::Context(format!("open {}: {}", p.display(), go_err(&e))))?,
                ),
                _ => Box::new(std::io::stdin().lock()),
            };
            from_stream(input, dockerfile, staging_path)
        }
    }
}

fn read_all(mut r: impl Read, what: &str) -> Result<String> {
    let mut buf = Vec::new();
    r.read_to_end(&mut buf).map_err(|e| BuildError::Context(format!("reading {what}: {e}")))?;
    String::from_utf8(buf).map_err(|_| BuildError::Context(format!("{what}: the Dockerfile is not UTF-8 text")))
}

/// `-`: a tar (compressed or not) becomes the context; other bytes are the Dockerfile.
fn from_stream(input: Box<dyn Read>, dockerfile: Option<&Path>, staging_path: PathBuf) -> Result<Prepared> {
    let mut input = BufReader::with_capacity(1 << 16, input);
    let head = {
        // Fill up to one tar header block to tell a tar from a Dockerfile.
        let mut head = Vec::new();
        while head.len() < 512 {
            let buf = input.fill_buf().map_err(|e| BuildError::Context(format!("reading context: {e}")))?;
            if buf.is_empty() {
                break;
            }
            let n = buf.len().min(512 - head.len());
            head.extend_from_slice(&buf[..n]);
            // Only peeked: re-chain below.
            input.consume(n);
        }
        head
    };
    let compressed = strata_archive::compress::detect(&head) != Compression::None;
    let chained = std::io::Cursor::new(head.clone()).chain(input);
    if !compressed && !is_tar_header(&head) {
        let text = read_all(chained, "standard input")?;
        std::fs::create_dir_all(&staging_path).map_err(|e| BuildError::io("create", &staging_path, e))?;
        let root = Root::new(&staging_path)?;
        return Ok(Prepared {
            dockerfile: text,
            context: Context {
                pending_dir: None,
                staging: Some(Staging { root, path: staging_path.clone() }),
                staging_path,
            },
        });
    }
    std::fs::create_dir_all(&staging_path).map_err(|e| BuildError::io("create", &staging_path, e))?;
    // The Context owns the directory from here: any error below removes it.
    let mut ctx = Context {
        pending_dir: None,
        staging: Some(Staging { root: Root::new(&staging_path)?, path: staging_path.clone() }),
        staging_path: staging_path.clone(),
    };
    let (_, tar) = decompressing_reader(BufReader::new(chained))?;
    let root = ctx.root()?;
    strata_archive::cp::tar_into_root(tar, root, "/", &strata_archive::cp::CpOpts::default())?;
    let name = match dockerfile {
        Some(p) => p.to_string_lossy().into_owned(),
        None if exists_confined(root, "Dockerfile") || !exists_confined(root, "dockerfile") => "Dockerfile".to_string(),
        None => "dockerfile".to_string(),
    };
    let text = read_confined(root, &name)
        .ok_or_else(|| BuildError::Context(format!("Cannot locate specified Dockerfile: {name}")))?;
    let text = String::from_utf8(text).map_err(|_| BuildError::Context(format!("{name} is not UTF-8 text")))?;
    if let Some(ig) = read_confined(root, ".dockerignore") {
        let ignore = Ignore::parse(&String::from_utf8_lossy(&ig));
        if !ignore.is_empty() {
            remove_excluded(&staging_path, &ignore)?;
        }
    }
    Ok(Prepared { dockerfile: text, context: ctx })
}

/// A POSIX/GNU tar header: the checksum over the block must match.
pub(crate) fn is_tar_header(b: &[u8]) -> bool {
    if b.len() < 512 {
        return false;
    }
    let field = String::from_utf8_lossy(&b[148..156]);
    let Ok(sum) = u32::from_str_radix(field.trim_matches(|c: char| c == '\0' || c == ' '), 8) else { return false };
    let computed: u32 =
        b[..512].iter().enumerate().map(|(i, &c)| if (148..156).contains(&i) { 32 } else { c as u32 }).sum();
    sum == computed
}

/// A regular file inside `root` (symlinks followed, confined), if any.
pub(crate) fn read_confined(root: &Root, rel: &str) -> Option<Vec<u8>> {
    let fd = root.open(Path::new(rel), OFlags::RDONLY).ok()?;
    let f = std::fs::File::from(fd);
    if !f.metadata().ok()?.is_file() {
        return None;
    }
    let mut buf = Vec::new();
    f.take(64 << 20).read_to_end(&mut buf).ok()?;
    Some(buf)
}

fn exists_confined(root: &Root, rel: &str) -> bool {
    root.open(Path::new(rel), OFlags::PATH).is_ok()
}

/// Go's text for the usual errno values (`no such file or directory`).
pub(crate) fn go_err(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file or directory".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => e.to_string(),
    }
}

fn rel_of(base: &Path, p: &Path) -> String {
    p.strip_prefix(base).map(|r| r.to_string_lossy().into_owned()).unwrap_or_default()
}

/// Copy `src` (the user's directory, trusted) into `dst` without what
/// `ignore` excludes, as the docker CLI's context tar would hold it.
fn copy_filtered(src: &Path, dst: &Path, ignore: &Ignore) -> Result<()> {
    std::fs::create_dir_all(dst).map_err(|e| BuildError::io("create", dst, e))?;
    let mut dir_times: Vec<(PathBuf, std::fs::Metadata)> = Vec::new();
    let mut walk = walkdir::WalkDir::new(src).follow_links(false).sort_by_file_name().into_iter();
    while let Some(entry) = walk.next() {
        let entry = entry.map_err(|e| {
            let path = e.path().map(Path::to_path_buf).unwrap_or_else(|| src.to_path_buf());
            BuildError::Context(format!("error checking context: {}: {e}", path.display()))
        })?;
        let rel = rel_of(src, entry.path());
        let md = entry.metadata().map_err(|e| BuildError::Context(format!("{}: {e}", entry.path().display())))?;
        if rel.is_empty() {
            dir_times.push((dst.to_path_buf(), md));
            continue;
        }
        if ignore.excluded(&rel) {
            if md.is_dir() && !ignore.may_reinclude_below(&rel) {
                walk.skip_current_dir();
            }
            continue;
        }
        let target = dst.join(&rel);
        if let Some(parent) = target.parent() {
            // A re-included entry under an excluded directory.
            if !parent.exists() {
                std::fs::create_dir_all(parent).map_err(|e| BuildError::io("create", parent, e))?;
            }
        }
        let ft = md.file_type();
        if ft.is_dir() {
            std::fs::create_dir(&target).map_err(|e| BuildError::io("create", &target, e))?;
            dir_times.push((target, md));
        } else if ft.is_symlink() {
            let link = std::fs::read_link(entry.path()).map_err(|e| BuildError::io("readlink", entry.path(), e))?;
            std::os::unix::fs::symlink(&link, &target).map_err(|e| BuildError::io("symlink", &target, e))?;
        } else if ft.is_file() {
            let from = std::fs::File::open(entry.path()).map_err(|e| {
                BuildError::Context(format!("error checking context: {}: {}", entry.path().display(), go_err(&e)))
            })?;
            let to = std::fs::File::create(&target).map_err(|e| BuildError::io("create", &target, e))?;
            strata_sys::copy::copy_file_data(&from, &to, md.len())?;
            drop(to);
            strata_sys::fs::chmod(&target, md.permissions().mode() & 0o7777)?;
            set_times(&target, &md)?;
        }
        // Sockets, fifos and devices are not part of a build context.
    }
    for (dir, md) in dir_times.iter().rev() {
        strata_sys::fs::chmod(dir, md.permissions().mode() & 0o7777)?;
        set_times(dir, md)?;
    }
    Ok(())
}

fn set_times(path: &Path, md: &std::fs::Metadata) -> Result<()> {
    Ok(strata_sys::fs::set_times(path, (md.atime(), md.atime_nsec() as u32), (md.mtime(), md.mtime_nsec() as u32))?)
}

/// Remove what `ignore` excludes from an extracted context (our own staging
/// directory: nothing else writes there; symlinks are removed, never followed).
fn remove_excluded(dir: &Path, ignore: &Ignore) -> Result<()> {
    let mut walk = walkdir::WalkDir::new(dir).follow_links(false).sort_by_file_name().into_iter();
    while let Some(entry) = walk.next() {
        let entry = entry.map_err(|e| BuildError::Context(format!("walking the context: {e}")))?;
        let rel = rel_of(dir, entry.path());
        if rel.is_empty() || !ignore.excluded(&rel) {
            continue;
        }
        if entry.file_type().is_dir() {
            if ignore.may_reinclude_below(&rel) {
                continue;
            }
            walk.skip_current_dir();
            strata_sys::fs::remove_tree(entry.path())?;
        } else {
            std::fs::remove_file(entry.path()).map_err(|e| BuildError::io("remove", entry.path(), e))?;
        }
    }
    Ok(())
}
