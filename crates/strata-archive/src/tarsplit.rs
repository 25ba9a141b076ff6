//! tar-split: everything needed to rebuild a layer's original tar byte-for-byte
//! from the extracted files, without keeping the tar.
//!
//! Registries and `docker save` identify a layer by the sha256 of its exact
//! uncompressed tar (DiffID). A tar written again from the files would differ
//! (header order, PAX records, padding, trailing blocks), so [`crate::apply`]
//! records, while it extracts, every byte of the stream except the data of
//! regular files, which [`reassemble`] reads back from the layer directory.
//!
//! # Format
//!
//! A zstd stream (one frame) whose decompressed content is:
//!
//! ```text
//! magic   b"STRATA-TARSPLIT\x01"                           16 bytes
//! record* one of
//!   b'R' len:uleb128 bytes[len]      raw bytes of the stream, emitted verbatim:
//!                                    headers (incl. PAX `x`/`g`, GNU `L`/`K`,
//!                                    sparse extension blocks), padding, data of
//!                                    entries whose data is not a plain file on
//!                                    disk (GNU sparse, whiteouts, hardlinks
//!                                    with size > 0, dirs with size > 0), and
//!                                    the end-of-archive blocks plus anything
//!                                    after them
//!   b'F' plen:uleb128 path[plen] size:uleb128
//!                                    `size` bytes read from the regular file at
//!                                    `path` (relative to the layer dir, resolved
//!                                    confined to it, final component not
//!                                    followed); its size must equal `size`
//!   b'E' total:uleb128               end; `total` = length of the whole tar
//! ```
//!
//! Raw runs are split into records of at most 1 MiB. Limitation (shared with
//! Docker's tar-split): a layer that writes the same path twice, or replaces a
//! parent directory of an earlier file with a symlink, cannot be reassembled
//! (the earlier file's data is gone) and [`reassemble`] fails with
//! [`ArchiveError::Changed`].

use std::io::{self, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use std::cell::RefCell;
use std::rc::Rc;

use rustix::fs::OFlags;
use strata_sys::root::Root;

use crate::digest::ThreadedHasher;
use crate::{ArchiveError, Result};

const MAGIC: &[u8; 16] = b"STRATA-TARSPLIT\x01";
const RAW_CHUNK: usize = 1 << 20;

/// Incremental encoder used by the applier. Records are built in a plain
/// buffer and handed to zstd in ~1 MiB blocks (many small writes into the
/// encoder cost more than the compression itself).
pub(crate) struct SplitWriter {
    enc: zstd::stream::write::Encoder<'static, Vec<u8>>,
    /// Raw stream bytes not yet turned into `R` records.
    pending: Vec<u8>,
    /// Encoded records not yet compressed.
    records: Vec<u8>,
    total: u64,
}

impl SplitWriter {
    pub(crate) fn new() -> io::Result<SplitWriter> {
        let enc = zstd::stream::write::Encoder::new(Vec::new(), 3)?;
        let mut records = Vec::with_capacity(RAW_CHUNK + 64 * 1024);
        records.extend_from_slice(MAGIC);
        Ok(SplitWriter { enc, pending: Vec::with_capacity(64 * 1024), records, total: 0 })
    }

    /// Stream bytes to be reproduced verbatim.
    pub(crate) fn raw(&mut self, data: &[u8]) -> io::Result<()> {
        self.total += data.len() as u64;
        self.pending.extend_from_slice(data);
        if self.pending.len() >= RAW_CHUNK {
            self.flush_raw()?;
        }
        Ok(())
    }

    /// `size` bytes of stream that are the content of the file at `path`.
    pub(crate) fn file(&mut self, path: &[u8], size: u64) -> io::Result<()> {
        self.flush_raw()?;
        self.total += size;
        self.records.push(b'F');
        write_uleb(&mut self.records, path.len() as u64)?;
        self.records.extend_from_slice(path);
        write_uleb(&mut self.records, size)?;
        self.spill(false)
    }

    fn flush_raw(&mut self) -> io::Result<()> {
        for chunk in self.pending.chunks(RAW_CHUNK) {
            self.records.push(b'R');
            write_uleb(&mut self.records, chunk.len() as u64)?;
            self.records.extend_from_slice(chunk);
        }
        self.pending.clear();
        self.spill(false)
    }

    fn spill(&mut self, all: bool) -> io::Result<()> {
        if all || self.records.len() >= RAW_CHUNK {
            self.enc.write_all(&self.records)?;
            self.records.clear();
        }
        Ok(())
    }

    pub(crate) fn finish(mut self) -> io::Result<Vec<u8>> {
        self.flush_raw()?;
        self.records.push(b'E');
        write_uleb(&mut self.records, self.total)?;
        self.spill(true)?;
        self.enc.finish()
    }
}

// ---------------------------------------------------------------------------
// The applier's input stream: buffering, hashing (on a helper thread),
// counting, and recording for the tar-split with an on/off switch.

pub(crate) struct Recorder {
    /// Off while an entry's file data is copied out (it is re-read from disk).
    pub(crate) on: bool,
    pub(crate) split: SplitWriter,
}

pub(crate) struct Source<R> {
    pub(crate) inner: R,
    pub(crate) buf: Vec<u8>,
    pub(crate) pos: usize,
    pub(crate) len: usize,
    pub(crate) hasher: ThreadedHasher,
    pub(crate) bytes: u64,
    pub(crate) rec: Option<Rc<RefCell<Recorder>>>,
}

impl<R: Read> Source<R> {
    pub(crate) fn new(inner: R, rec: Option<Rc<RefCell<Recorder>>>) -> Self {
        Source { inner, buf: vec![0; 1 << 20], pos: 0, len: 0, hasher: ThreadedHasher::new(), bytes: 0, rec }
    }

    fn read_inner(&mut self, into_buf: bool, out: &mut [u8]) -> io::Result<usize> {
        loop {
            let target: &mut [u8] = if into_buf { &mut self.buf } else { out };
            match self.inner.read(target) {
                Ok(n) => {
                    self.hasher.update(&target[..n]);
                    self.bytes += n as u64;
                    return Ok(n);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
    }
}

impl<R: Read> Read for Source<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let n = if self.pos < self.len {
            let n = out.len().min(self.len - self.pos);
            out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
            self.pos += n;
            n
        } else if out.len() >= self.buf.len() {
            self.read_inner(false, out)?
        } else {
            let got = self.read_inner(true, out)?;
            let n = out.len().min(got);
            out[..n].copy_from_slice(&self.buf[..n]);
            self.pos = n;
            self.len = got;
            n
        };
        if let Some(rec) = &self.rec {
            let mut rec = rec.borrow_mut();
            if rec.on {
                rec.split.raw(&out[..n])?;
            }
        }
        Ok(n)
    }
}

fn write_uleb(w: &mut impl Write, mut v: u64) -> io::Result<()> {
    let mut buf = [0u8; 10];
    let mut i = 0;
    loop {
        let b = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            buf[i] = b;
            i += 1;
            break;
        }
        buf[i] = b | 0x80;
        i += 1;
    }
    w.write_all(&buf[..i])
}

fn bad(msg: impl Into<String>) -> ArchiveError {
    ArchiveError::TarSplit(msg.into())
}

fn read_byte(r: &mut impl Read) -> Result<Option<u8>> {
    let mut b = [0u8; 1];
    loop {
        return match r.read(&mut b) {
            Ok(0) => Ok(None),
            Ok(_) => Ok(Some(b[0])),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => Err(bad(format!("decoding: {e}"))),
        };
    }
}

fn read_uleb(r: &mut impl Read) -> Result<u64> {
    let mut v: u64 = 0;
    for shift in (0..64).step_by(7) {
        let b = read_byte(r)?.ok_or_else(|| bad("truncated"))?;
        v |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Ok(v);
        }
    }
    Err(bad("varint overflow"))
}

/// Write the exact original tar of a layer to `out`, taking file data from
/// `layer_dir`. Returns the number of bytes written.
pub fn reassemble(tar_split: &[u8], layer_dir: &Path, out: &mut dyn Write) -> Result<u64> {
    let dec = zstd::stream::read::Decoder::new(tar_split).map_err(|e| bad(format!("decoding: {e}")))?;
    let mut r = io::BufReader::with_capacity(256 * 1024, dec);
    let mut magic = [0u8; 16];
    r.read_exact(&mut magic).map_err(|e| bad(format!("reading header: {e}")))?;
    if &magic != MAGIC {
        return Err(bad("not a strata tar-split (bad magic)"));
    }
    let root = Root::new(layer_dir)?;
    let mut buf = vec![0u8; 1 << 20];
    let mut written: u64 = 0;
    loop {
        let tag = read_byte(&mut r)?.ok_or_else(|| bad("truncated: no end record"))?;
        match tag {
            b'R' => {
                let mut len = read_uleb(&mut r)?;
                while len > 0 {
                    let n = (len as usize).min(buf.len());
                    r.read_exact(&mut buf[..n]).map_err(|e| bad(format!("truncated raw record: {e}")))?;
                    out.write_all(&buf[..n]).map_err(ArchiveError::Write)?;
                    len -= n as u64;
                    written += n as u64;
                }
            }
            b'F' => {
                let plen = read_uleb(&mut r)?;
                if plen > 1 << 20 {
                    return Err(bad("path too long"));
                }
                let mut path = vec![0u8; plen as usize];
                r.read_exact(&mut path).map_err(|e| bad(format!("truncated file record: {e}")))?;
                let size = read_uleb(&mut r)?;
                let rel = Path::new(std::ffi::OsStr::from_bytes(&path));
                written += copy_file(&root, rel, size, out, &mut buf)?;
            }
            b'E' => {
                let total = read_uleb(&mut r)?;
                if total != written {
                    return Err(bad(format!("reassembled {written} bytes, recorded {total}")));
                }
                return Ok(written);
            }
            t => return Err(bad(format!("unknown record tag {t:#x}"))),
        }
    }
}

fn copy_file(root: &Root, rel: &Path, size: u64, out: &mut dyn Write, buf: &mut [u8]) -> Result<u64> {
    let host = root.path().join(rel);
    let changed = |reason: String| ArchiveError::Changed { path: host.clone(), reason };
    let fd =
        root.open(rel, OFlags::RDONLY | OFlags::NOFOLLOW).map_err(|e| changed(format!("cannot open: {}", e.source)))?;
    let mut f = std::fs::File::from(fd);
    let md = f.metadata().map_err(|e| ArchiveError::io("stat", &host, e))?;
    if !md.is_file() {
        return Err(changed("no longer a regular file".into()));
    }
    if md.len() != size {
        return Err(changed(format!("size {} != recorded {size}", md.len())));
    }
    let mut left = size;
    while left > 0 {
        let n = (left as usize).min(buf.len());
        let got = match f.read(&mut buf[..n]) {
            Ok(0) => return Err(changed("shrank while reading".into())),
            Ok(g) => g,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(ArchiveError::io("read", &host, e)),
        };
        out.write_all(&buf[..got]).map_err(ArchiveError::Write)?;
        left -= got as u64;
    }
    Ok(size)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uleb_roundtrip() {
        for v in [0u64, 1, 127, 128, 300, 1 << 35, u64::MAX] {
            let mut b = Vec::new();
            write_uleb(&mut b, v).unwrap();
            assert_eq!(read_uleb(&mut &b[..]).unwrap(), v);
        }
    }

    #[test]
    fn raw_only_roundtrip_and_corruption() {
        let t = tempfile::tempdir().unwrap();
        let mut w = SplitWriter::new().unwrap();
        let data: Vec<u8> = (0..3_000_000u32).map(|i| (i % 7) as u8).collect();
        w.raw(&data[..10]).unwrap();
        w.raw(&data[10..]).unwrap();
        let split = w.finish().unwrap();
        let mut out = Vec::new();
        assert_eq!(reassemble(&split, t.path(), &mut out).unwrap(), data.len() as u64);
        assert_eq!(out, data);
        assert!(matches!(reassemble(b"garbage", t.path(), &mut Vec::new()), Err(ArchiveError::TarSplit(_))));
    }

    #[test]
    fn file_record_checks_size() {
        let t = tempfile::tempdir().unwrap();
        std::fs::write(t.path().join("f"), b"hello").unwrap();
        let mut w = SplitWriter::new().unwrap();
        w.raw(b"<").unwrap();
        w.file(b"f", 5).unwrap();
        w.raw(b">").unwrap();
        let split = w.finish().unwrap();
        let mut out = Vec::new();
        reassemble(&split, t.path(), &mut out).unwrap();
        assert_eq!(out, b"<hello>");
        std::fs::write(t.path().join("f"), b"hello!").unwrap();
        assert!(matches!(reassemble(&split, t.path(), &mut Vec::new()), Err(ArchiveError::Changed { .. })));
    }
}
