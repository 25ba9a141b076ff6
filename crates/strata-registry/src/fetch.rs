//! Blob downloads: streamed to a file, resumable, verified, readable while
//! they are still being written.
//!
//! ```text
//! <root>/content/ingest/<hex>    a blob being downloaded (or downloaded and not yet applied)
//! ```
//!
//! Partial downloads outlive the process (the store's `tmp/` is swept on every
//! open, so they live here instead): the next attempt hashes the bytes it has
//! and asks for the rest with `Range: bytes=<n>-`. A server that ignores the
//! range answers 200 and the known prefix is skipped in the body. One process
//! writes a given blob at a time (an exclusive `flock` on the file). Files
//! untouched for a week are removed when a pull starts.
//!
//! A [`Slot`] lets the thread applying a layer read the blob while it is being
//! downloaded ([`SlotReader`]): it sees the bytes written so far, waits for
//! more, and reaches end-of-file only after the whole blob has been verified
//! against its digest, so a truncated or corrupt blob is an error at the end
//! of the stream and `put_layer` registers nothing.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, SystemTime};

use sha2::{Digest as _, Sha256};
use strata_store::{Digest, Store};

use crate::client::{Client, header};
use crate::error::{RegistryError, Result};
use crate::manifest::Descriptor;
use crate::progress::{Status, TransferProgress, short_id};

const CHUNK: usize = 1 << 20;
const MAX_AGE: Duration = Duration::from_secs(7 * 24 * 3600);

/// The ingest directory of a store.
pub(crate) struct Ingest {
    dir: PathBuf,
}

impl Ingest {
    pub fn open(store: &Store) -> Result<Ingest> {
        let dir = store.root().join("content").join("ingest");
        std::fs::create_dir_all(&dir).map_err(|e| RegistryError::io("create", &dir, e))?;
        let ingest = Ingest { dir };
        ingest.sweep_old();
        Ok(ingest)
    }

    pub fn path(&self, digest: &Digest) -> PathBuf {
        self.dir.join(digest.hex())
    }

    fn sweep_old(&self) {
        let Ok(entries) = std::fs::read_dir(&self.dir) else { return };
        let now = SystemTime::now();
        for e in entries.flatten() {
            let old = e
                .metadata()
                .and_then(|m| m.modified())
                .map(|t| now.duration_since(t).unwrap_or_default() > MAX_AGE)
                .unwrap_or(false);
            if old {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
}

/// What a downloading thread shares with the reader of its blob.
#[derive(Default)]
pub(crate) struct Slot {
    state: Mutex<SlotState>,
    cv: Condvar,
}

#[derive(Default)]
struct SlotState {
    /// The ingest file, shared with the reader: another process may unlink
    /// the path once it has applied the same blob, the open file stays valid.
    file: Option<Arc<File>>,
    /// Bytes in the file that may be read.
    avail: u64,
    /// `Some(Ok)` once the whole blob is verified; `Some(Err)` when the download failed.
    done: Option<std::result::Result<(), String>>,
}

impl Slot {
    fn open(&self, file: &File) -> io::Result<()> {
        // A new open file description of the same inode, not a dup: a dup would
        // share (and so keep) the writer's flock for as long as the reader
        // lives, and two pulls applying in different orders would deadlock.
        use std::os::fd::AsRawFd;
        let f = File::open(format!("/proc/self/fd/{}", file.as_raw_fd()))?;
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        st.file = Some(Arc::new(f));
        Ok(())
    }

    fn publish(&self, avail: u64) {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        st.avail = avail;
        self.cv.notify_all();
    }

    pub fn finish(&self, result: std::result::Result<(), String>) {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        st.done = Some(result);
        self.cv.notify_all();
    }
}

/// Finishes a slot with an error when dropped before the download finished it
/// (a panicking download thread must not leave its reader waiting).
pub(crate) struct FinishGuard<'a>(pub &'a Slot);

impl Drop for FinishGuard<'_> {
    fn drop(&mut self) {
        let mut st = self.0.state.lock().unwrap_or_else(|e| e.into_inner());
        if st.done.is_none() {
            st.done = Some(Err("the download stopped".into()));
            self.0.cv.notify_all();
        }
    }
}

/// Reads a blob from its ingest file as its download proceeds.
pub(crate) struct SlotReader<'a> {
    slot: &'a Slot,
    file: Option<Arc<File>>,
    pos: u64,
}

impl<'a> SlotReader<'a> {
    pub fn new(slot: &'a Slot) -> Self {
        SlotReader { slot, file: None, pos: 0 }
    }
}

impl Read for SlotReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            let avail = {
                let mut st = self.slot.state.lock().unwrap_or_else(|e| e.into_inner());
                loop {
                    if st.avail > self.pos {
                        if self.file.is_none() {
                            self.file = st.file.clone();
                        }
                        break st.avail;
                    }
                    match &st.done {
                        Some(Ok(())) => return Ok(0),
                        Some(Err(e)) => return Err(io::Error::other(e.clone())),
                        None => st = self.slot.cv.wait(st).unwrap_or_else(|e| e.into_inner()),
                    }
                }
            };
            let Some(file) = &self.file else {
                return Err(io::Error::other("blob bytes published without their file"));
            };
            let want = buf.len().min((avail - self.pos) as usize);
            let n = file.read_at(&mut buf[..want], self.pos)?;
            if n == 0 {
                return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "the blob file is shorter than downloaded"));
            }
            self.pos += n as u64;
            return Ok(n);
        }
    }
}

/// Open `path` for writing under an exclusive lock, making sure the locked
/// file is still the one at `path` (another process may have removed it).
fn open_locked(path: &Path) -> Result<File> {
    loop {
        let f = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(|e| RegistryError::io("open", path, e))?;
        f.lock().map_err(|e| RegistryError::io("lock", path, e))?;
        let same = match (f.metadata(), std::fs::metadata(path)) {
            (Ok(a), Ok(b)) => a.ino() == b.ino() && a.dev() == b.dev(),
            _ => false,
        };
        if same {
            return Ok(f);
        }
    }
}

/// Hash the first `len` bytes of `f`.
fn hash_prefix(f: &mut File, len: u64, path: &Path) -> Result<Sha256> {
    let mut h = Sha256::new();
    f.seek(SeekFrom::Start(0)).map_err(|e| RegistryError::io("read", path, e))?;
    let mut buf = vec![0u8; CHUNK];
    let mut left = len;
    while left > 0 {
        let n = f.read(&mut buf[..CHUNK.min(left as usize)]).map_err(|e| RegistryError::io("read", path, e))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
        left -= n as u64;
    }
    Ok(h)
}

/// Everything one download needs.
pub(crate) struct Job<'a> {
    pub client: &'a Client,
    pub repo: &'a str,
    pub desc: &'a Descriptor,
    pub digest: Digest,
    pub path: PathBuf,
    pub slot: &'a Slot,
    pub cancel: &'a AtomicBool,
    pub progress: &'a dyn TransferProgress,
    /// Name used in errors, e.g. `layer sha256:… of 127.0.0.1:5000/x`.
    pub what: String,
}

/// Download a blob into its ingest file (resuming what is there), verify it,
/// and tell the slot. Retries connection trouble from where it stopped.
pub(crate) fn download(job: &Job<'_>) -> Result<()> {
    let result = download_inner(job);
    job.slot.finish(result.as_ref().map(|_| ()).map_err(|e| e.to_string()));
    result
}

fn download_inner(job: &Job<'_>) -> Result<()> {
    let id = short_id(job.digest.as_str()).to_string();
    let size = job.desc.size;
    let mut file = open_locked(&job.path)?;
    job.slot.open(&file).map_err(|e| RegistryError::io("open", &job.path, e))?;
    let mut have = file.metadata().map_err(|e| RegistryError::io("stat", &job.path, e))?.len();
    if have > size {
        file.set_len(0).map_err(|e| RegistryError::io("truncate", &job.path, e))?;
        have = 0;
    }
    let mut hasher = hash_prefix(&mut file, have, &job.path)?;
    if have == size {
        if hex::encode(hasher.clone().finalize()) == job.digest.hex() {
            job.slot.publish(have);
            job.progress.layer(&id, &Status::DownloadComplete);
            return Ok(());
        }
        // A complete but wrong file (written by a crashed process?): start over.
        file.set_len(0).map_err(|e| RegistryError::io("truncate", &job.path, e))?;
        have = 0;
        hasher = Sha256::new();
    }
    job.slot.publish(have);
    file.seek(SeekFrom::Start(have)).map_err(|e| RegistryError::io("seek", &job.path, e))?;
    if have > 0 {
        tracing::info!("resuming {} at byte {have} of {size}", job.what);
    }
    let mut attempt = 1;
    let mut pause = job.client.config().retry_pause;
    loop {
        match fetch_range(job, &mut file, &mut hasher, &mut have, &id) {
            Ok(()) => break,
            Err(e)
                if e.is_retryable()
                    && attempt < job.client.config().attempts
                    && !job.cancel.load(Ordering::Relaxed) =>
            {
                tracing::info!("{}: {e}; retrying from byte {have}", job.what);
                attempt += 1;
                job.progress.layer(&id, &Status::Retrying { attempt });
                std::thread::sleep(pause);
                pause *= 2;
            }
            Err(RegistryError::Transport { method, url, reason, retryable }) => {
                let kept = if have > 0 {
                    format!("; {have} of {size} bytes kept, pull again to resume")
                } else {
                    String::new()
                };
                return Err(RegistryError::Transport {
                    method,
                    url,
                    reason: format!("{reason} (downloading {}{kept})", job.what),
                    retryable,
                });
            }
            Err(e) => return Err(e),
        }
    }
    job.progress.layer(&id, &Status::VerifyingChecksum);
    let actual = hex::encode(hasher.finalize());
    if actual != job.digest.hex() {
        // Never resume from bytes that hash wrong.
        let _ = std::fs::remove_file(&job.path);
        return Err(RegistryError::DigestMismatch {
            registry: job.client.registry.clone(),
            what: job.what.clone(),
            expected: job.digest.to_string(),
            actual: format!("sha256:{actual}"),
        });
    }
    job.progress.layer(&id, &Status::DownloadComplete);
    Ok(())
}

/// One GET of the rest of the blob, appended to `file`.
fn fetch_range(job: &Job<'_>, file: &mut File, hasher: &mut Sha256, have: &mut u64, id: &str) -> Result<()> {
    let size = job.desc.size;
    if *have == size {
        return Ok(());
    }
    let path = format!("/v2/{}/blobs/{}", job.repo, job.digest);
    let range = format!("bytes={have}-");
    let headers: Vec<(&str, &str)> = if *have > 0 { vec![("Range", range.as_str())] } else { Vec::new() };
    let resp = job.client.send("GET", &path, &headers, crate::client::ReqBody::Empty)?;
    let status = resp.status().as_u16();
    let mut skip = 0u64;
    match status {
        206 => {
            let start = header(&resp, "content-range")
                .and_then(|v| v.strip_prefix("bytes "))
                .and_then(|v| v.split('-').next())
                .and_then(|v| v.parse::<u64>().ok());
            if start != Some(*have) {
                return Err(RegistryError::protocol(
                    &job.client.registry,
                    &job.what,
                    format!("asked for bytes {have}- and got {:?}", header(&resp, "content-range")),
                ));
            }
        }
        200 => skip = *have,
        404 => {
            return Err(RegistryError::Api {
                registry: job.client.registry.clone(),
                what: job.what.clone(),
                status,
                code: "BLOB_UNKNOWN".into(),
                message: "blob unknown to registry".into(),
            });
        }
        _ => return Err(job.client.error(&job.what, resp)),
    }
    let url = format!("{}{path}", job.client.base()?);
    let mut body = resp.into_body().into_reader();
    let mut buf = vec![0u8; CHUNK];
    let transport = |e: io::Error| RegistryError::Transport {
        method: "GET",
        url: url.clone(),
        reason: format!("reading the body: {e}"),
        retryable: true,
    };
    while skip > 0 {
        let n = body.read(&mut buf[..CHUNK.min(skip as usize)]).map_err(transport)?;
        if n == 0 {
            return Err(transport(io::ErrorKind::UnexpectedEof.into()));
        }
        skip -= n as u64;
    }
    loop {
        if job.cancel.load(Ordering::Relaxed) {
            return Err(RegistryError::Cancelled(format!("{}: cancelled", job.what)));
        }
        let n = body.read(&mut buf).map_err(transport)?;
        if n == 0 {
            break;
        }
        if *have + n as u64 > size {
            return Err(RegistryError::protocol(
                &job.client.registry,
                &job.what,
                format!("the registry sent more than the {size} bytes the manifest gives"),
            ));
        }
        file.write_all(&buf[..n]).map_err(|e| RegistryError::io("write", &job.path, e))?;
        hasher.update(&buf[..n]);
        *have += n as u64;
        job.slot.publish(*have);
        job.progress.layer(id, &Status::Downloading { current: *have, total: size });
    }
    if *have < size {
        return Err(transport(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            format!("connection closed after {have} of {size} bytes"),
        )));
    }
    Ok(())
}

/// Fetch a small blob (a config) into memory, verified against its descriptor.
pub(crate) fn get_small(client: &Client, repo: &str, desc: &Descriptor, limit: u64, what: &str) -> Result<Vec<u8>> {
    let digest = Digest::parse(&desc.digest)
        .map_err(|e| RegistryError::protocol(&client.registry, what, format!("descriptor digest: {e}")))?;
    if desc.size > limit {
        return Err(RegistryError::protocol(&client.registry, what, format!("{} bytes is too large", desc.size)));
    }
    let path = format!("/v2/{repo}/blobs/{digest}");
    let resp = client.send_retrying("GET", &path, &[])?;
    if resp.status().as_u16() != 200 {
        return Err(client.error(what, resp));
    }
    let bytes = resp
        .into_body()
        .with_config()
        .limit(limit)
        .read_to_vec()
        .map_err(|e| RegistryError::transport("GET", &path, e))?;
    let actual = Digest::of_bytes(&bytes);
    if actual != digest || bytes.len() as u64 != desc.size {
        return Err(RegistryError::DigestMismatch {
            registry: client.registry.clone(),
            what: format!("{what} {digest}"),
            expected: format!("{digest} ({} bytes)", desc.size),
            actual: format!("{actual} ({} bytes)", bytes.len()),
        });
    }
    Ok(bytes)
}
