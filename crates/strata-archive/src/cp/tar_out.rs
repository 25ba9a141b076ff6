//! `docker cp CTR:SRC -`: the copy's source as a tar stream.
//!
//! Entries are named as Docker names them: the source's basename as the top
//! entry (`data/`, `data/f.txt`), or `./` and `./f.txt` for `dir/.`; directory
//! names end in `/`. Headers are USTAR, with PAX records (as Go's archive/tar
//! writes them) for long or non-ASCII names and link targets, big numbers and
//! xattrs (`SCHILY.xattr.*`). uid/gid are the inode's; uname/gname come from the
//! container's own `/etc/passwd` and `/etc/group` when given (Docker's tar runs
//! chrooted and shows `app/app`). mtime in whole seconds, as Docker.

use std::ffi::OsStr;
use std::fs::File;
use std::io::{Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use strata_sys::fs::NodeKind;

use super::error::{CpError, CpResult};
use super::users::UserDb;
use super::walk::{Kind, Meta, Sink};
use super::xattrs::Xattrs;

const OCTAL7: u64 = 0o7777777;
const OCTAL11: u64 = 0o77777777777;

pub(crate) struct TarSink<'w> {
    w: &'w mut dyn Write,
    pub written: u64,
    names: Option<&'w UserDb>,
    buf: Vec<u8>,
}

struct Hdr<'a> {
    name: &'a [u8],
    typeflag: u8,
    m: &'a Meta,
    size: u64,
    link: &'a [u8],
    xattrs: &'a Xattrs,
}

/// Go's splitUSTARPath: (prefix, name) when `name` fits a USTAR header.
fn ustar_split(name: &[u8]) -> Option<(&[u8], &[u8])> {
    if !name.is_ascii() {
        return None;
    }
    if name.len() <= 100 {
        return Some((b"", name));
    }
    let mut len = name.len();
    if len > 156 {
        len = 156;
    } else if name[len - 1] == b'/' {
        len -= 1;
    }
    let i = name[..len].iter().rposition(|b| *b == b'/')?;
    let (plen, nlen) = (i, name.len() - i - 1);
    if i == 0 || nlen > 100 || nlen == 0 || plen > 155 {
        return None;
    }
    Some((&name[..i], &name[i + 1..]))
}

fn pax_record(out: &mut Vec<u8>, key: &[u8], value: &[u8]) {
    let rest = 3 + key.len() + value.len(); // ' ', '=', '\n'
    let mut len = rest + 1;
    while len != rest + len.to_string().len() {
        len = rest + len.to_string().len();
    }
    out.extend_from_slice(format!("{len} ").as_bytes());
    out.extend_from_slice(key);
    out.push(b'=');
    out.extend_from_slice(value);
    out.push(b'\n');
}

fn put_field(dst: &mut [u8], src: &[u8]) {
    let n = src.len().min(dst.len());
    dst[..n].copy_from_slice(&src[..n]);
}

impl<'w> TarSink<'w> {
    pub fn new(w: &'w mut dyn Write, names: Option<&'w UserDb>) -> Self {
        TarSink { w, written: 0, names, buf: vec![0; 1 << 20] }
    }

    fn put(&mut self, b: &[u8]) -> CpResult<()> {
        self.w.write_all(b).map_err(CpError::Write)?;
        self.written += b.len() as u64;
        Ok(())
    }

    fn pad(&mut self, size: u64) -> CpResult<()> {
        let rem = (size % 512) as usize;
        if rem != 0 {
            self.put(&[0u8; 512][..512 - rem])?;
        }
        Ok(())
    }

    fn header(&mut self, h: Hdr<'_>) -> CpResult<()> {
        let mut pax: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
        let mut th = tar::Header::new_ustar();
        let m = h.m;
        {
            let u = th.as_ustar_mut().expect("ustar header");
            match ustar_split(h.name) {
                Some((prefix, name)) => {
                    put_field(&mut u.prefix, prefix);
                    put_field(&mut u.name, name);
                }
                None => {
                    pax.push((b"path".to_vec(), h.name.to_vec()));
                    put_field(&mut u.name, h.name);
                }
            }
            if h.link.len() > 100 || !h.link.is_ascii() {
                pax.push((b"linkpath".to_vec(), h.link.to_vec()));
            }
            put_field(&mut u.linkname, h.link);
            u.typeflag[0] = h.typeflag;
            let (user, group) = match self.names {
                Some(db) => (db.user_name(m.uid).unwrap_or(""), db.group_name(m.gid).unwrap_or("")),
                None => ("", ""),
            };
            for (key, v, field) in [(&b"uname"[..], user, &mut u.uname), (&b"gname"[..], group, &mut u.gname)] {
                if v.len() > 32 || !v.is_ascii() {
                    pax.push((key.to_vec(), v.as_bytes().to_vec()));
                }
                put_field(field, v.as_bytes());
            }
        }
        th.set_mode(m.mode & 0o7777);
        let uid = u64::from(m.uid);
        let gid = u64::from(m.gid);
        if uid > OCTAL7 {
            pax.push((b"uid".to_vec(), uid.to_string().into_bytes()));
        }
        if gid > OCTAL7 {
            pax.push((b"gid".to_vec(), gid.to_string().into_bytes()));
        }
        th.set_uid(if uid > OCTAL7 { 0 } else { uid });
        th.set_gid(if gid > OCTAL7 { 0 } else { gid });
        if h.size > OCTAL11 {
            pax.push((b"size".to_vec(), h.size.to_string().into_bytes()));
            th.set_size(0);
        } else {
            th.set_size(h.size);
        }
        let mtime = m.mtime.0;
        if mtime < 0 || mtime as u64 > OCTAL11 {
            pax.push((b"mtime".to_vec(), mtime.to_string().into_bytes()));
            th.set_mtime(0);
        } else {
            th.set_mtime(mtime as u64);
        }
        if matches!(h.typeflag, b'3' | b'4') {
            th.set_device_major(m.rdev.0).map_err(CpError::Write)?;
            th.set_device_minor(m.rdev.1).map_err(CpError::Write)?;
        }
        for (k, v) in h.xattrs {
            let mut key = b"SCHILY.xattr.".to_vec();
            key.extend_from_slice(k.as_bytes());
            pax.push((key, v.clone()));
        }
        if !pax.is_empty() {
            pax.sort();
            let mut data = Vec::new();
            for (k, v) in &pax {
                pax_record(&mut data, k, v);
            }
            // Go names the record "<dir>/PaxHeaders.0/<base>".
            let trimmed = h.name.strip_suffix(b"/").unwrap_or(h.name);
            let (dir, base) = match trimmed.iter().rposition(|b| *b == b'/') {
                Some(i) => (&trimmed[..=i], &trimmed[i + 1..]),
                None => (&b""[..], trimmed),
            };
            let mut xname = dir.to_vec();
            xname.extend_from_slice(b"PaxHeaders.0/");
            xname.extend_from_slice(base);
            let mut xh = tar::Header::new_ustar();
            put_field(&mut xh.as_ustar_mut().expect("ustar header").name, &xname);
            xh.set_entry_type(tar::EntryType::XHeader);
            xh.set_mode(0);
            xh.set_uid(0);
            xh.set_gid(0);
            xh.set_mtime(0);
            xh.set_size(data.len() as u64);
            xh.set_cksum();
            self.put(xh.as_bytes())?;
            self.put(&data)?;
            self.pad(data.len() as u64)?;
        }
        th.set_cksum();
        self.put(th.as_bytes())
    }

    /// End-of-archive blocks; returns the bytes written.
    pub fn finish(&mut self) -> CpResult<u64> {
        self.put(&[0u8; 1024])?;
        self.w.flush().map_err(CpError::Write)?;
        Ok(self.written)
    }
}

fn name_of(rel: &Path, dir: bool) -> Vec<u8> {
    let mut n = rel.as_os_str().as_bytes().to_vec();
    if dir && !n.ends_with(b"/") {
        n.push(b'/');
    }
    n
}

impl Sink for TarSink<'_> {
    type Dir = ();

    fn dir(&mut self, _parent: Option<&()>, _name: &OsStr, rel: &Path, m: &Meta, x: &Xattrs) -> CpResult<()> {
        let name = name_of(rel, true);
        self.header(Hdr { name: &name, typeflag: b'5', m, size: 0, link: b"", xattrs: x })
    }

    fn dir_done(&mut self, _d: (), _m: &Meta, _x: &Xattrs) -> CpResult<()> {
        Ok(())
    }

    fn file(
        &mut self,
        _parent: Option<&()>,
        _name: &OsStr,
        rel: &Path,
        m: &Meta,
        x: &Xattrs,
        data: &File,
    ) -> CpResult<bool> {
        let name = name_of(rel, false);
        self.header(Hdr { name: &name, typeflag: b'0', m, size: m.size, link: b"", xattrs: x })?;
        let mut left = m.size;
        let mut r = data.take(m.size);
        let mut buf = std::mem::take(&mut self.buf);
        let res = (|| {
            while left > 0 {
                let n = match r.read(&mut buf) {
                    Ok(0) => {
                        return Err(CpError::Changed {
                            path: String::from_utf8_lossy(&name).into_owned(),
                            reason: "file shrank while being archived".into(),
                        });
                    }
                    Ok(n) => n,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(CpError::io("read", String::from_utf8_lossy(&name), e)),
                };
                self.put(&buf[..n])?;
                left -= n as u64;
            }
            Ok(())
        })();
        self.buf = buf;
        res?;
        self.pad(m.size)?;
        Ok(false)
    }

    fn symlink(
        &mut self,
        _parent: Option<&()>,
        _name: &OsStr,
        rel: &Path,
        m: &Meta,
        x: &Xattrs,
        target: &OsStr,
    ) -> CpResult<()> {
        let name = name_of(rel, false);
        self.header(Hdr { name: &name, typeflag: b'2', m, size: 0, link: target.as_bytes(), xattrs: x })
    }

    fn special(&mut self, _parent: Option<&()>, _name: &OsStr, rel: &Path, m: &Meta, x: &Xattrs) -> CpResult<()> {
        let name = name_of(rel, false);
        let typeflag = match m.kind {
            Kind::Node(NodeKind::Char) => b'3',
            Kind::Node(NodeKind::Block) => b'4',
            _ => b'6',
        };
        self.header(Hdr { name: &name, typeflag, m, size: 0, link: b"", xattrs: x })
    }

    fn hardlink(&mut self, _parent: Option<&()>, _name: &OsStr, rel: &Path, m: &Meta, first: &Path) -> CpResult<()> {
        let name = name_of(rel, false);
        let link = first.as_os_str().as_bytes();
        self.header(Hdr { name: &name, typeflag: b'1', m, size: 0, link, xattrs: &Vec::new() })
    }
}
