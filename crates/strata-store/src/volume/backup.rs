//! Volume backup and restore: `volume export` / `volume import`.
//!
//! The archive is a plain tar of the volume's contents (what Podman's
//! `volume export` writes, so either tool reads the other's), preceded by one
//! PAX global header whose standard `comment` record carries strata's manifest:
//!
//! ```text
//! comment=strata-volume/1 {"name":…,"labels":{…},"options":{…},"uid":0,"gid":0,"mode":493}
//! ```
//!
//! Tar tools ignore `comment`, so the archive stays a plain tar for them. Import
//! extracts into staging (confined: a hostile archive cannot write outside it)
//! and publishes by exchanging directories, so a killed import never leaves a
//! half-filled volume visible.

use std::collections::BTreeMap;
use std::io::{BufReader, Read, Write};
use std::os::unix::fs::MetadataExt;

use serde::{Deserialize, Serialize};
use strata_archive::compress::{Compression, compressing_writer, decompressing_reader};

use super::{Volume, VolumeSpec};
use crate::Store;
use crate::error::{IoCtx, Result, StoreError};
use crate::progress::{Progress, ProgressReader};

const MANIFEST_PREFIX: &str = "strata-volume/1 ";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct VolumeManifest {
    pub name: String,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub options: BTreeMap<String, String>,
    pub uid: u32,
    pub gid: u32,
    pub mode: u32,
}

/// `volume import` options.
#[derive(Debug, Clone, Default)]
pub struct ImportOpts {
    /// Empty an existing, non-empty volume first (otherwise that is an error).
    pub replace: bool,
}

impl Store {
    /// Stream a volume as a tar (optionally compressed) with its manifest.
    pub fn export_volume(&self, name: &str, out: &mut dyn Write, compression: Compression) -> Result<u64> {
        let v = self.volume(name)?;
        let md = std::fs::metadata(&v.mountpoint).ctx("stat", &v.mountpoint)?;
        let manifest = VolumeManifest {
            name: v.name.clone(),
            labels: v.labels.clone(),
            options: v.options.clone(),
            uid: md.uid(),
            gid: md.gid(),
            mode: md.mode() & 0o7777,
        };
        let mut w = compressing_writer(out, compression, None)?;
        write_global_header(&mut w, &manifest).map_err(|e| StoreError::io("write", "volume export", e))?;
        let n = strata_archive::write::write_dir_tar(&v.mountpoint, &mut w, &Default::default())?;
        w.finish().map_err(|e| StoreError::io("write", "volume export", e))?;
        Ok(n)
    }

    /// Restore a volume from `input` (strata's export, Podman's, or any plain
    /// tar; gzip or zstd detected). Creates the volume when missing, from the
    /// manifest's labels and options when present.
    pub fn import_volume(
        &self,
        name: &str,
        input: impl Read,
        opts: &ImportOpts,
        progress: &dyn Progress,
    ) -> Result<Volume> {
        super::validate_name(name)?;
        if let Some(existing) = self.find_volume(name)? {
            let mountpoint = self.volume(&existing.name)?.mountpoint;
            let empty = std::fs::read_dir(&mountpoint).ctx("read", &mountpoint)?.next().is_none();
            if !empty && !opts.replace {
                return Err(StoreError::VolumeExists {
                    name: name.into(),
                    reason: "it is not empty; use --replace to empty it first".into(),
                });
            }
        }
        progress.begin(name, None);
        let reader = ProgressReader::new(input, progress);
        let (_, plain) = decompressing_reader(BufReader::with_capacity(1 << 20, reader))?;
        let (manifest, mut plain) = read_global_header(plain)
            .map_err(|e| StoreError::BadArchive { source_name: "volume archive".into(), reason: e.to_string() })?;

        let stage = self.staging_path("volume.import");
        let data = stage.join("_data");
        std::fs::create_dir_all(&data).ctx("create", &data)?;
        let result = (|| -> Result<Volume> {
            let root = strata_sys::root::Root::new(&data)?;
            strata_archive::cp::tar_into_root(&mut plain, &root, "/", &Default::default())
                .map_err(|e| StoreError::BadArchive { source_name: "volume archive".into(), reason: e.to_string() })?;
            if let Some(m) = &manifest {
                strata_sys::fs::lchown(&data, m.uid, m.gid)?;
                strata_sys::fs::chmod(&data, m.mode)?;
            }
            strata_archive::apply::sync_tree(&data)?;
            let v = match self.find_volume(name)? {
                Some(v) => self.volume(&v.name)?,
                None => {
                    let (labels, options) =
                        manifest.as_ref().map(|m| (m.labels.clone(), m.options.clone())).unwrap_or_default();
                    // The user named it: a restored volume is never anonymous.
                    let mut labels = labels;
                    labels.remove(super::ANONYMOUS_LABEL);
                    self.create_volume(&VolumeSpec { name: Some(name.into()), labels, options, ..Default::default() })?
                }
            };
            // Publish: the staged tree and the volume's current data swap places.
            strata_sys::fs::rename_exchange(&data, &v.mountpoint)?;
            Ok(v)
        })();
        if let Err(e) = crate::driver::remove_staging(&stage) {
            tracing::warn!("removing {}: {e}", stage.display());
        }
        progress.end();
        result
    }
}

fn write_global_header(w: &mut dyn Write, m: &VolumeManifest) -> std::io::Result<()> {
    let value = format!("{MANIFEST_PREFIX}{}", serde_json::to_string(m).expect("manifest serialises"));
    let record = pax_record("comment", &value);
    let mut h = tar::Header::new_ustar();
    h.set_entry_type(tar::EntryType::XGlobalHeader);
    h.set_path("pax_global_header")?;
    h.set_size(record.len() as u64);
    h.set_mode(0o644);
    h.set_mtime(0);
    h.set_cksum();
    w.write_all(h.as_bytes())?;
    w.write_all(&record)?;
    let pad = (512 - record.len() % 512) % 512;
    w.write_all(&vec![0u8; pad])
}

/// A PAX record: `<len> <key>=<value>\n`, where len counts itself.
fn pax_record(key: &str, value: &str) -> Vec<u8> {
    let body = format!(" {key}={value}\n");
    let mut len = body.len() + 1;
    while format!("{len}").len() + body.len() != len {
        len = format!("{len}").len() + body.len();
    }
    format!("{len}{body}").into_bytes()
}

/// If the stream starts with a PAX global header, consume it and return the
/// strata manifest it carries (if any), with a reader of the rest of the tar;
/// otherwise the returned reader replays the bytes read.
fn read_global_header<'a, R: Read + 'a>(mut r: R) -> std::io::Result<(Option<VolumeManifest>, Box<dyn Read + 'a>)> {
    let mut block = [0u8; 512];
    let mut got = 0;
    while got < 512 {
        let n = r.read(&mut block[got..])?;
        if n == 0 {
            break;
        }
        got += n;
    }
    if got < 512 || block[156] != b'g' {
        return Ok((None, Box::new(std::io::Cursor::new(block[..got].to_vec()).chain(r))));
    }
    let header = tar::Header::from_byte_slice(&block);
    let size = header.entry_size()? as usize;
    if size > 1 << 20 {
        return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, "global header too large"));
    }
    let mut data = vec![0u8; size.div_ceil(512) * 512];
    r.read_exact(&mut data)?;
    data.truncate(size);
    let text = String::from_utf8_lossy(&data);
    let mut manifest = None;
    for rec in text.split_inclusive('\n') {
        let Some((_, kv)) = rec.split_once(' ') else { continue };
        if let Some(v) = kv.trim_end_matches('\n').strip_prefix("comment=")
            && let Some(json) = v.strip_prefix(MANIFEST_PREFIX)
        {
            manifest =
                Some(serde_json::from_str(json).map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?);
        }
    }
    Ok((manifest, Box::new(r)))
}

/// The compression a file name asks for (`.tar.gz`, `.tgz`, `.tar.zst`).
pub fn compression_for_path(path: &std::path::Path) -> Compression {
    let name = path.file_name().map(|n| n.to_string_lossy().to_lowercase()).unwrap_or_default();
    if name.ends_with(".gz") || name.ends_with(".tgz") {
        Compression::Gzip
    } else if name.ends_with(".zst") || name.ends_with(".zstd") || name.ends_with(".tzst") {
        Compression::Zstd
    } else {
        Compression::None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pax_record_length_counts_itself() {
        let r = pax_record("comment", "x");
        assert_eq!(r, b"13 comment=x\n");
        let long = "y".repeat(95);
        let r = String::from_utf8(pax_record("comment", &long)).unwrap();
        let n: usize = r.split(' ').next().unwrap().parse().unwrap();
        assert_eq!(n, r.len());
    }

    #[test]
    fn manifest_round_trips_through_a_global_header() {
        let m = VolumeManifest {
            name: "v".into(),
            labels: [("a".into(), "b".into())].into(),
            options: BTreeMap::new(),
            uid: 1000,
            gid: 100,
            mode: 0o750,
        };
        let mut buf = Vec::new();
        write_global_header(&mut buf, &m).unwrap();
        buf.extend_from_slice(&[0u8; 1024]);
        let (got, mut rest) = read_global_header(std::io::Cursor::new(buf)).unwrap();
        assert_eq!(got, Some(m));
        let mut tail = Vec::new();
        rest.read_to_end(&mut tail).unwrap();
        assert_eq!(tail, vec![0u8; 1024]);
        // A plain tar is replayed whole.
        let (none, mut rest) = read_global_header(std::io::Cursor::new(vec![1u8; 1500])).unwrap();
        assert_eq!(none, None);
        let mut all = Vec::new();
        rest.read_to_end(&mut all).unwrap();
        assert_eq!(all, vec![1u8; 1500]);
    }
}
