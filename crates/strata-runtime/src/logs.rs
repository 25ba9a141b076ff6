//! Container logs in Docker's `json-file` format, written by the monitor and
//! read by `logs`.
//!
//! One JSON object per line, `{"log":"hello\n","stream":"stdout","time":"2024-01-01T00:00:00.000000000Z"}`,
//! in `<root>/containers/<id>/<id>-json.log`. Output is split at newlines
//! as Docker's copier does: a line longer than 16 KiB is written in pieces
//! (entries without the trailing newline), and so is an unterminated last
//! line. Each entry is one `write(2)` on an `O_APPEND` file, so a reader
//! never sees half an entry from a live writer except at the very end.

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use strata_store::Store;
use strata_store::container::Container;

use crate::error::{IoCtx, Result};
use crate::opts::LogsOpts;

/// Docker's copier buffer: longer lines are split into partial entries.
pub const MAX_LINE: usize = 16 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub log: String,
    pub stream: String,
    pub time: String,
}

/// RFC 3339 with nine fractional digits, UTC (Docker's `RFC3339NanoFixed`).
pub fn timestamp(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.9fZ").to_string()
}

/// The writer side, shared by the stdout and stderr pumps.
pub struct JsonLog {
    file: Mutex<File>,
}

impl JsonLog {
    pub fn open(path: &Path) -> Result<JsonLog> {
        if let Some(d) = path.parent() {
            std::fs::create_dir_all(d).ctx("create", d)?;
        }
        let file = File::options().create(true).append(true).open(path).ctx("open", path)?;
        Ok(JsonLog { file: Mutex::new(file) })
    }

    pub fn write_entry(&self, stream: &str, data: &[u8]) {
        let e = Entry {
            log: String::from_utf8_lossy(data).into_owned(),
            stream: stream.to_string(),
            time: timestamp(chrono::Utc::now()),
        };
        let mut line = serde_json::to_vec(&e).expect("serialises");
        line.push(b'\n');
        let mut f = self.file.lock().unwrap_or_else(|p| p.into_inner());
        if let Err(e) = f.write_all(&line) {
            tracing::warn!("writing container log: {e}");
        }
    }
}

/// Splits one stream's bytes into log entries.
pub struct LineSplitter {
    stream: &'static str,
    buf: Vec<u8>,
}

impl LineSplitter {
    pub fn new(stream: &'static str) -> LineSplitter {
        LineSplitter { stream, buf: Vec::new() }
    }

    pub fn push(&mut self, data: &[u8], log: &JsonLog) {
        self.buf.extend_from_slice(data);
        let mut start = 0;
        while let Some(i) = self.buf[start..].iter().position(|&b| b == b'\n') {
            log.write_entry(self.stream, &self.buf[start..start + i + 1]);
            start += i + 1;
        }
        while self.buf.len() - start >= MAX_LINE {
            log.write_entry(self.stream, &self.buf[start..start + MAX_LINE]);
            start += MAX_LINE;
        }
        self.buf.drain(..start);
    }

    /// Write what is left (an unterminated last line).
    pub fn finish(&mut self, log: &JsonLog) {
        if !self.buf.is_empty() {
            log.write_entry(self.stream, &self.buf);
            self.buf.clear();
        }
    }
}

fn emit(line: &[u8], opts: &LogsOpts, out: &mut dyn Write, err: &mut dyn Write) -> Result<()> {
    let Ok(e) = serde_json::from_slice::<Entry>(line) else { return Ok(()) };
    let w: &mut dyn Write = if e.stream == "stderr" { err } else { out };
    let r = if opts.timestamps { write!(w, "{} {}", e.time, e.log) } else { w.write_all(e.log.as_bytes()) };
    r.and_then(|()| w.flush()).ctx("write", Path::new("<output>"))
}

/// `logs`: print the container's log, stdout entries to `out` and stderr
/// entries to `err`; with `follow`, keep printing until the container is
/// not running any more.
pub fn logs(store: &Store, c: &Container, opts: &LogsOpts, out: &mut dyn Write, err: &mut dyn Write) -> Result<()> {
    let path = crate::paths::ContainerPaths::new(store, &c.id).log_file();
    let mut file = match File::open(&path) {
        Ok(f) => Some(f),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(crate::error::RuntimeError::io("open", &path, e)),
    };
    let mut offset = 0u64;
    if let Some(f) = file.as_mut() {
        let mut data = Vec::new();
        f.read_to_end(&mut data).ctx("read", &path)?;
        // Only whole lines; a partial last entry is read again when following.
        let end = data.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        offset = end as u64;
        let lines: Vec<&[u8]> = data[..end].split(|&b| b == b'\n').filter(|l| !l.is_empty()).collect();
        let skip = opts.tail.map_or(0, |n| lines.len().saturating_sub(n));
        for l in &lines[skip..] {
            emit(l, opts, out, err)?;
        }
    }
    if !opts.follow {
        return Ok(());
    }
    loop {
        let running = match store.find_container(&c.id)? {
            Some(fresh) => crate::lifecycle::reconcile(store, &fresh)?.running,
            None => false,
        };
        if file.is_none() {
            file = File::open(&path).ok();
        }
        if let Some(f) = file.as_mut() {
            f.seek(SeekFrom::Start(offset)).ctx("seek", &path)?;
            let mut r = BufReader::new(f);
            let mut line = Vec::new();
            loop {
                line.clear();
                let n = r.read_until(b'\n', &mut line).ctx("read", &path)?;
                if n == 0 || line.last() != Some(&b'\n') {
                    break;
                }
                offset += n as u64;
                emit(&line, opts, out, err)?;
            }
        }
        if !running {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_file_format_and_splitting() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("c/c-json.log");
        let log = JsonLog::open(&p).unwrap();
        let mut out = LineSplitter::new("stdout");
        let mut err = LineSplitter::new("stderr");
        out.push(b"hel", &log);
        out.push(b"lo\nwor", &log);
        err.push(b"oops\n", &log);
        out.push(&vec![b'x'; MAX_LINE + 10], &log);
        out.finish(&log);
        err.finish(&log);
        let text = std::fs::read_to_string(&p).unwrap();
        let entries: Vec<Entry> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert_eq!(entries.len(), 4);
        assert_eq!((entries[0].log.as_str(), entries[0].stream.as_str()), ("hello\n", "stdout"));
        assert_eq!((entries[1].log.as_str(), entries[1].stream.as_str()), ("oops\n", "stderr"));
        assert_eq!(entries[2].log.len(), MAX_LINE);
        assert!(entries[2].log.starts_with("wor"));
        assert_eq!(entries[3].log.len(), 13);
        let first = text.lines().next().unwrap();
        assert!(first.starts_with(r#"{"log":"hello\n","stream":"stdout","time":""#), "{first}");
        let time = &entries[0].time;
        assert_eq!(time.len(), "2024-01-01T00:00:00.000000000Z".len(), "{time}");
        assert!(time.ends_with('Z'));
    }
}
