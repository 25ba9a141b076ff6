//! sha256 helpers: one-shot hashing and pass-through readers/writers that hash
//! and count every byte on its way (DiffIDs and blob digests in a single pass).

use std::io::{self, Read, Write};

use sha2::{Digest, Sha256};

/// Lowercase hex sha256 of `data`.
pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// A reader that hashes and counts everything read through it.
#[derive(Debug)]
pub struct HashingReader<R> {
    inner: R,
    hasher: Sha256,
    bytes: u64,
}

impl<R: Read> HashingReader<R> {
    pub fn new(inner: R) -> Self {
        HashingReader { inner, hasher: Sha256::new(), bytes: 0 }
    }

    /// Bytes read so far. Note: with `std::io::Read` in scope, `r.bytes()` on an
    /// owned reader resolves to `Read::bytes`; write `HashingReader::bytes(&r)`
    /// or use [`HashingReader::bytes_read`].
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Same as [`HashingReader::bytes`], without the name clash with `Read::bytes`.
    pub fn bytes_read(&self) -> u64 {
        self.bytes
    }

    /// The hex digest and byte count of everything read.
    pub fn finish(self) -> (String, u64) {
        (hex::encode(self.hasher.finalize()), self.bytes)
    }

    pub fn get_ref(&self) -> &R {
        &self.inner
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }
}

/// A writer that hashes and counts everything written through it.
#[derive(Debug)]
pub struct HashingWriter<W> {
    inner: W,
    hasher: Sha256,
    bytes: u64,
}

impl<W: Write> HashingWriter<W> {
    pub fn new(inner: W) -> Self {
        HashingWriter { inner, hasher: Sha256::new(), bytes: 0 }
    }

    /// Bytes written so far.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// The hex digest and byte count of everything written (the inner writer is dropped
    /// after a flush; use [`HashingWriter::finish_into`] to keep it).
    pub fn finish(self) -> (String, u64) {
        let (hex, n, _) = self.finish_into();
        (hex, n)
    }

    /// Like [`HashingWriter::finish`], also returning the inner writer.
    pub fn finish_into(self) -> (String, u64, W) {
        (hex::encode(self.hasher.finalize()), self.bytes, self.inner)
    }

    pub fn get_ref(&self) -> &W {
        &self.inner
    }

    pub fn get_mut(&mut self) -> &mut W {
        &mut self.inner
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// sha256 computed on a helper thread, so hashing overlaps with the caller's
/// I/O (extraction would otherwise spend ~1.2 s/GiB hashing on its own thread).
/// Data is copied into recycled 1 MiB chunks and sent through a bounded channel.
pub(crate) struct ThreadedHasher {
    tx: Option<std::sync::mpsc::SyncSender<Vec<u8>>>,
    back: std::sync::mpsc::Receiver<Vec<u8>>,
    cur: Vec<u8>,
    worker: Option<std::thread::JoinHandle<String>>,
}

const HASH_CHUNK: usize = 1 << 20;

impl ThreadedHasher {
    pub(crate) fn new() -> ThreadedHasher {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<u8>>(4);
        let (back_tx, back) = std::sync::mpsc::sync_channel::<Vec<u8>>(8);
        let worker = std::thread::Builder::new()
            .name("strata-sha256".into())
            .spawn(move || {
                let mut h = Sha256::new();
                for mut chunk in rx {
                    h.update(&chunk);
                    chunk.clear();
                    let _ = back_tx.try_send(chunk);
                }
                hex::encode(h.finalize())
            })
            .expect("spawning hash thread");
        ThreadedHasher { tx: Some(tx), back, cur: Vec::with_capacity(HASH_CHUNK), worker: Some(worker) }
    }

    pub(crate) fn update(&mut self, mut data: &[u8]) {
        while !data.is_empty() {
            let n = data.len().min(HASH_CHUNK - self.cur.len());
            self.cur.extend_from_slice(&data[..n]);
            data = &data[n..];
            if self.cur.len() == HASH_CHUNK {
                self.send();
            }
        }
    }

    fn send(&mut self) {
        let next = self.back.try_recv().unwrap_or_else(|_| Vec::with_capacity(HASH_CHUNK));
        let full = std::mem::replace(&mut self.cur, next);
        if let Some(tx) = &self.tx {
            // The worker only stops when tx is dropped, so this cannot fail.
            let _ = tx.send(full);
        }
    }

    pub(crate) fn finish(mut self) -> String {
        if !self.cur.is_empty() {
            self.send();
        }
        self.tx = None;
        self.worker.take().expect("worker").join().expect("hash thread panicked")
    }
}

impl Drop for ThreadedHasher {
    fn drop(&mut self) {
        self.tx = None;
        if let Some(w) = self.worker.take() {
            let _ = w.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EMPTY: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    #[test]
    fn known_vectors() {
        assert_eq!(sha256_hex(b""), EMPTY);
        assert_eq!(sha256_hex(b"abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }

    #[test]
    fn reader_and_writer_agree() {
        let data: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        let mut r = HashingReader::new(&data[..]);
        let mut sink = Vec::new();
        io::copy(&mut r, &mut sink).unwrap();
        assert_eq!(HashingReader::bytes(&r), data.len() as u64);
        assert_eq!(r.bytes_read(), data.len() as u64);
        let (h1, n1) = r.finish();
        let mut w = HashingWriter::new(Vec::new());
        w.write_all(&data).unwrap();
        let (h2, n2, inner) = w.finish_into();
        assert_eq!((h1.as_str(), n1), (h2.as_str(), n2));
        assert_eq!(h1, sha256_hex(&data));
        assert_eq!(inner, data);
        let mut t = ThreadedHasher::new();
        for part in data.chunks(7777) {
            t.update(part);
        }
        assert_eq!(t.finish(), h1);
        let mut big = ThreadedHasher::new();
        let long: Vec<u8> = (0..5_000_000u32).map(|i| (i % 13) as u8).collect();
        big.update(&long);
        assert_eq!(big.finish(), sha256_hex(&long));
        assert_eq!(ThreadedHasher::new().finish(), EMPTY);
    }
}
