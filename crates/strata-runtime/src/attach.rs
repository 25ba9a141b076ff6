//! The stream from a container's monitor to the CLI that started it (the
//! monitor's stdout, a pipe). Frames use Docker's attach framing (`stdcopy`):
//! an 8-byte header `[kind, 0, 0, 0, len as u32 big-endian]`, then `len`
//! bytes. Kinds 1 and 2 are the container's stdout and stderr (as Docker);
//! strata adds 4 = ready (JSON `{"pid":…}`), 5 = exit (`{"code":…}`) and
//! 3 = error (`{"code":…,"kind":…,"message":…}`, Docker's "systemerr"
//! stream number).
//!
//! A detached `run` reads until `ready` (or `error`) and closes its end; a
//! foreground `run` reads output frames until `exit`. The monitor stops
//! writing (and keeps logging) when the reader is gone.

use std::io::{self, Read, Write};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

pub const STDOUT: u8 = 1;
pub const STDERR: u8 = 2;
pub const ERROR: u8 = 3;
pub const READY: u8 = 4;
pub const EXIT: u8 = 5;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ready {
    pub pid: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Exit {
    pub code: i32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorReport {
    pub code: i32,
    pub kind: String,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    Output { stream: u8, data: Vec<u8> },
    Ready(Ready),
    Exit(Exit),
    Error(ErrorReport),
    Unknown(u8),
}

pub fn encode(kind: u8, payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(8 + payload.len());
    v.extend_from_slice(&[kind, 0, 0, 0]);
    v.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    v.extend_from_slice(payload);
    v
}

/// Read one frame; `None` at a clean end of stream.
pub fn read_frame(r: &mut impl Read) -> io::Result<Option<Frame>> {
    let mut h = [0u8; 8];
    match r.read_exact(&mut h) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let len = u32::from_be_bytes([h[4], h[5], h[6], h[7]]) as usize;
    let mut data = vec![0u8; len];
    r.read_exact(&mut data)?;
    let json = |d: &[u8]| -> io::Result<serde_json::Value> { serde_json::from_slice(d).map_err(io::Error::other) };
    Ok(Some(match h[0] {
        STDOUT | STDERR => Frame::Output { stream: h[0], data },
        READY => Frame::Ready(serde_json::from_value(json(&data)?).map_err(io::Error::other)?),
        EXIT => Frame::Exit(serde_json::from_value(json(&data)?).map_err(io::Error::other)?),
        ERROR => Frame::Error(serde_json::from_value(json(&data)?).map_err(io::Error::other)?),
        k => Frame::Unknown(k),
    }))
}

/// The monitor's end: shared by the output pumps; turns itself off when the
/// reader went away.
pub struct StatusWriter {
    out: Mutex<Option<Box<dyn Write + Send>>>,
}

impl StatusWriter {
    pub fn new(w: Box<dyn Write + Send>) -> StatusWriter {
        StatusWriter { out: Mutex::new(Some(w)) }
    }

    pub fn send(&self, kind: u8, payload: &[u8]) {
        let mut g = self.out.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(w) = g.as_mut()
            && w.write_all(&encode(kind, payload)).and_then(|()| w.flush()).is_err()
        {
            *g = None;
        }
    }

    pub fn send_json<T: Serialize>(&self, kind: u8, v: &T) {
        self.send(kind, &serde_json::to_vec(v).expect("serialises"));
    }

    pub fn is_open(&self) -> bool {
        self.out.lock().unwrap_or_else(|p| p.into_inner()).is_some()
    }

    /// Stop writing and close our end.
    pub fn close(&self) {
        self.out.lock().unwrap_or_else(|p| p.into_inner()).take();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip() {
        let mut buf = Vec::new();
        buf.extend(encode(STDOUT, b"hello\n"));
        buf.extend(encode(READY, br#"{"pid":42}"#));
        buf.extend(encode(ERROR, br#"{"code":127,"kind":"InvalidArgument","message":"m"}"#));
        buf.extend(encode(EXIT, br#"{"code":3}"#));
        assert_eq!(&buf[..8], &[1, 0, 0, 0, 0, 0, 0, 6]);
        let mut r = &buf[..];
        assert_eq!(read_frame(&mut r).unwrap(), Some(Frame::Output { stream: STDOUT, data: b"hello\n".to_vec() }));
        assert_eq!(read_frame(&mut r).unwrap(), Some(Frame::Ready(Ready { pid: 42 })));
        assert_eq!(
            read_frame(&mut r).unwrap(),
            Some(Frame::Error(ErrorReport { code: 127, kind: "InvalidArgument".into(), message: "m".into() }))
        );
        assert_eq!(read_frame(&mut r).unwrap(), Some(Frame::Exit(Exit { code: 3 })));
        assert_eq!(read_frame(&mut r).unwrap(), None);
    }
}
