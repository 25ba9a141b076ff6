//! `save [-o FILE] IMAGE...`: one archive (Docker ≥25's docker-archive + OCI
//! layout) of the named images.
//!
//! Without `-o` the tar goes to stdout, which must not be a terminal (Docker's
//! "cowardly refusing" error). With `-o FILE` the archive is written next to
//! FILE and moved into place only once complete and on disk: FILE is never
//! half-written, and an existing FILE survives a failed save. The data goes to
//! an unnamed `O_TMPFILE` in FILE's directory, so nothing is left behind if the
//! process dies; on filesystems without `O_TMPFILE` a named staging file
//! `.FILE.strata-<pid>.tmp` is used and removed on error.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use rustix::fs::{AtFlags, CWD, Mode, OFlags};
use strata_store::format::save;
use strata_store::progress::NoProgress;

use crate::cli::SaveArgs;
use crate::output::{Printer, progress};
use crate::settings::Settings;

pub fn run(s: &Settings, a: &SaveArgs, p: &mut Printer) -> anyhow::Result<()> {
    match &a.output {
        None => {
            if p.stdout_is_terminal() {
                anyhow::bail!("cowardly refusing to save to a terminal. Use the -o flag or redirect");
            }
            let store = s.open_store()?;
            let out = p.out_stream();
            save(&store, &a.images, out, &NoProgress)?;
            out.flush()?;
        }
        Some(path) => {
            let store = s.open_store()?;
            let bars = progress::for_terminal(p, false, "Saving layer");
            write_atomically(path, "failed to save image", |w| Ok(save(&store, &a.images, w, bars.as_ref())?))?;
        }
    }
    Ok(())
}

/// Write `path` through `fill`, replacing it only when `fill` succeeded.
/// Errors of the file handling start with `what` (`failed to save image`).
pub fn write_atomically(
    path: &Path,
    what: &str,
    fill: impl FnOnce(&mut dyn Write) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path.file_name().ok_or_else(|| anyhow::anyhow!("{what}: {} is not a file name", path.display()))?;
    let staging = dir.join(format!(".{}.strata-{}.tmp", name.to_string_lossy(), std::process::id()));
    match rustix::fs::open(&dir, OFlags::TMPFILE | OFlags::WRONLY | OFlags::CLOEXEC, Mode::from_raw_mode(0o600)) {
        Ok(fd) => {
            let file = File::from(fd);
            let file = fill_and_sync(file, fill)?;
            // Give the unnamed file a name, then move it over the target.
            let proc_path = format!("/proc/self/fd/{}", file.as_raw_fd());
            let _ = std::fs::remove_file(&staging);
            rustix::fs::linkat(CWD, proc_path.as_str(), CWD, &staging, AtFlags::SYMLINK_FOLLOW)
                .map_err(|e| anyhow::anyhow!("{what}: link {}: {e}", staging.display()))?;
            publish(&staging, path, &dir, what)
        }
        Err(rustix::io::Errno::OPNOTSUPP | rustix::io::Errno::ISDIR | rustix::io::Errno::INVAL) => {
            let file = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&staging)
                .map_err(|e| anyhow::anyhow!("{what}: create {}: {e}", staging.display()))?;
            match fill_and_sync(file, fill) {
                Ok(_) => publish(&staging, path, &dir, what),
                Err(e) => {
                    let _ = std::fs::remove_file(&staging);
                    Err(e)
                }
            }
        }
        Err(e) => Err(anyhow::anyhow!("{what}: open {}: {e}", dir.display())),
    }
}

fn fill_and_sync(file: File, fill: impl FnOnce(&mut dyn Write) -> anyhow::Result<()>) -> anyhow::Result<File> {
    let mut w = BufWriter::with_capacity(1 << 20, file);
    fill(&mut w)?;
    let file = w.into_inner().map_err(|e| e.into_error())?;
    file.sync_all()?;
    Ok(file)
}

fn publish(staging: &Path, path: &Path, dir: &Path, what: &str) -> anyhow::Result<()> {
    if let Err(e) = std::fs::rename(staging, path) {
        let _ = std::fs::remove_file(staging);
        anyhow::bail!("{what}: rename to {}: {e}", path.display());
    }
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_only_on_success() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("out.tar");
        std::fs::write(&target, b"old").unwrap();
        let r = write_atomically(&target, "failed", |w| {
            w.write_all(b"partial")?;
            anyhow::bail!("boom")
        });
        assert!(r.is_err());
        assert_eq!(std::fs::read(&target).unwrap(), b"old");
        write_atomically(&target, "failed", |w| Ok(w.write_all(b"new")?)).unwrap();
        assert_eq!(std::fs::read(&target).unwrap(), b"new");
        let leftovers: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(leftovers, vec![std::ffi::OsString::from("out.tar")]);
    }
}
