//! Layer compression: detection by magic number, decompressing readers and
//! compressing writers (gzip via flate2/zlib-rs, zstd via libzstd).

use std::io::{self, BufRead, Cursor, Read, Write};

use crate::{ArchiveError, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Zstd,
}

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];

/// Which compression the stream starting with `magic` uses (needs up to 4 bytes).
pub fn detect(magic: &[u8]) -> Compression {
    if magic.starts_with(&GZIP_MAGIC) {
        Compression::Gzip
    } else if magic.starts_with(&ZSTD_MAGIC) {
        Compression::Zstd
    } else {
        Compression::None
    }
}

/// Detect the compression of `r` from its first bytes and return a reader of the
/// decompressed stream. Uncompressed input is passed through unchanged.
pub fn decompressing_reader<'a>(mut r: impl BufRead + 'a) -> Result<(Compression, Box<dyn Read + 'a>)> {
    // Peek without losing bytes: move up to 4 magic bytes into a cursor chained
    // in front of the rest (a short first fill_buf must not hide the magic).
    let mut magic = Vec::with_capacity(4);
    while magic.len() < 4 {
        let buf = r.fill_buf().map_err(ArchiveError::Read)?;
        if buf.is_empty() {
            break;
        }
        let n = buf.len().min(4 - magic.len());
        magic.extend_from_slice(&buf[..n]);
        r.consume(n);
    }
    let c = detect(&magic);
    let stream = Cursor::new(magic).chain(r);
    let reader: Box<dyn Read + 'a> = match c {
        Compression::None => Box::new(stream),
        Compression::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(stream)),
        Compression::Zstd => Box::new(zstd::stream::read::Decoder::with_buffer(stream).map_err(ArchiveError::Read)?),
    };
    Ok((c, reader))
}

/// A writer that must be finished to produce a complete stream.
pub trait FinishWrite: Write {
    /// Write any trailer and flush the underlying writer.
    fn finish(self: Box<Self>) -> io::Result<()>;
}

struct Plain<W: Write>(W);

impl<W: Write> Write for Plain<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf)
    }
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.0.write_all(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

impl<W: Write> FinishWrite for Plain<W> {
    fn finish(mut self: Box<Self>) -> io::Result<()> {
        self.0.flush()
    }
}

impl<W: Write> FinishWrite for flate2::write::GzEncoder<W> {
    fn finish(self: Box<Self>) -> io::Result<()> {
        let mut w = (*self).finish()?;
        w.flush()
    }
}

impl<W: Write> FinishWrite for zstd::stream::write::Encoder<'static, W> {
    fn finish(self: Box<Self>) -> io::Result<()> {
        let mut w = (*self).finish()?;
        w.flush()
    }
}

/// Wrap `w` so that what is written to it comes out compressed with `c`.
/// `level`: gzip 0–9 (default 6, as Docker), zstd 1–22 (default 3).
pub fn compressing_writer<'a>(
    w: impl Write + 'a,
    c: Compression,
    level: Option<i32>,
) -> Result<Box<dyn FinishWrite + 'a>> {
    Ok(match c {
        Compression::None => Box::new(Plain(w)),
        Compression::Gzip => {
            let level = level.unwrap_or(6).clamp(0, 9) as u32;
            Box::new(flate2::write::GzEncoder::new(w, flate2::Compression::new(level)))
        }
        Compression::Zstd => {
            let enc = zstd::stream::write::Encoder::new(w, level.unwrap_or(3)).map_err(ArchiveError::Write)?;
            Box::new(enc)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::BufReader;

    fn roundtrip(c: Compression) {
        let data: Vec<u8> = (0..300_000u32).map(|i| (i % 97) as u8).collect();
        let mut out = Vec::new();
        let mut w = compressing_writer(&mut out, c, None).unwrap();
        w.write_all(&data).unwrap();
        w.finish().unwrap();
        assert_eq!(detect(&out), c);
        // A 1-byte buffer forces the magic to be gathered across several fill_buf calls.
        let (got_c, mut r) = decompressing_reader(BufReader::with_capacity(1, &out[..])).unwrap();
        assert_eq!(got_c, c);
        let mut back = Vec::new();
        r.read_to_end(&mut back).unwrap();
        assert_eq!(back, data);
    }

    #[test]
    fn roundtrips() {
        roundtrip(Compression::None);
        roundtrip(Compression::Gzip);
        roundtrip(Compression::Zstd);
    }

    #[test]
    fn short_and_empty_inputs() {
        for input in [&b""[..], b"x", b"\x1f"] {
            let (c, mut r) = decompressing_reader(input).unwrap();
            assert_eq!(c, Compression::None);
            let mut back = Vec::new();
            r.read_to_end(&mut back).unwrap();
            assert_eq!(back, input);
        }
    }

    #[test]
    fn concatenated_gzip_members() {
        let mut out = Vec::new();
        for part in [&b"hello "[..], b"world"] {
            let mut w = compressing_writer(&mut out, Compression::Gzip, Some(1)).unwrap();
            w.write_all(part).unwrap();
            w.finish().unwrap();
        }
        let (_, mut r) = decompressing_reader(&out[..]).unwrap();
        let mut s = String::new();
        r.read_to_string(&mut s).unwrap();
        assert_eq!(s, "hello world");
    }
}
