//! What a container is created from: the user's request ([`ContainerSpec`]),
//! the `-v` syntax, and the mount points it resolves to.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::Config;
use crate::error::{Result, StoreError};
use crate::image::Image;

/// A `create`/`run` request.
#[derive(Debug, Clone, Default)]
pub struct ContainerSpec {
    pub name: Option<String>,
    /// The image as the user named it.
    pub image: String,
    /// Arguments after the image (replace the image's CMD when non-empty).
    pub cmd: Vec<String>,
    pub entrypoint: Option<Vec<String>>,
    pub env: Vec<String>,
    pub workdir: Option<String>,
    pub user: Option<String>,
    pub hostname: Option<String>,
    pub labels: BTreeMap<String, String>,
    pub tty: bool,
    pub open_stdin: bool,
    /// `-v` strings as given.
    pub binds: Vec<String>,
    /// `--volumes-from C[:ro|:rw]`.
    pub volumes_from: Vec<String>,
    pub read_only: bool,
    /// `--mount`, `--tmpfs`, `-p`, `--network`, `--rm`, `--init`: kept in the
    /// record (Docker's `HostConfig`); `--mount` is also resolved into mounts.
    pub host: HostOptions,
}

/// The parts of Docker's `HostConfig` that `create` records beyond `Binds`,
/// `VolumesFrom` and `ReadonlyRootfs`, for the runtime and for `inspect`.
/// Missing in records written before they existed: every field defaults.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct HostOptions {
    /// `--mount` requests as given (Docker's `HostConfig.Mounts`); what they
    /// resolved to is in the container's mount points.
    pub mounts: Vec<MountRequest>,
    /// `--tmpfs PATH[:OPTS]`: destination → mount(8) options. As in Docker
    /// these are not mount points (`inspect` shows them only here); the
    /// runtime mounts them, empty, at start.
    pub tmpfs: BTreeMap<String, String>,
    /// `-p`: `"80/tcp"` → host bindings (Docker's `HostConfig.PortBindings`).
    pub port_bindings: BTreeMap<String, Vec<PortBinding>>,
    /// `--network` (`bridge` when not given).
    pub network_mode: String,
    /// `--rm`: remove the container (and its anonymous volumes) when it exits.
    pub auto_remove: bool,
    /// `--init` (`None` when not given: the runtime's default).
    pub init: Option<bool>,
}

/// One host binding of a container port (Docker's `nat.PortBinding`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortBinding {
    /// Empty: every interface.
    #[serde(rename = "HostIp", default)]
    pub host_ip: String,
    /// A port, a range `8000-8010`, or empty for any free port.
    #[serde(rename = "HostPort", default)]
    pub host_port: String,
}

/// A `--mount` request, Docker's `mount.Mount` (its JSON is what `inspect`
/// shows in `HostConfig.Mounts`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct MountRequest {
    #[serde(rename = "Type")]
    pub kind: MountKind,
    /// Bind: host path; volume: name (empty for an anonymous volume).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub source: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub target: String,
    #[serde(default, skip_serializing_if = "is_false")]
    pub read_only: bool,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub consistency: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bind_options: Option<BindOptions>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volume_options: Option<VolumeOptions>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tmpfs_options: Option<TmpfsOptions>,
}

impl MountRequest {
    pub fn new(kind: MountKind) -> MountRequest {
        MountRequest {
            kind,
            source: String::new(),
            target: String::new(),
            read_only: false,
            consistency: String::new(),
            bind_options: None,
            volume_options: None,
            tmpfs_options: None,
        }
    }
}

fn is_false(b: &bool) -> bool {
    !*b
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct BindOptions {
    /// `rprivate` (default), `private`, `rshared`, `shared`, `rslave`, `slave`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub propagation: String,
    /// `bind-create-src`: create a missing source directory instead of failing.
    #[serde(default, skip_serializing_if = "is_false")]
    pub create_mountpoint: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct VolumeOptions {
    #[serde(default, skip_serializing_if = "is_false")]
    pub no_copy: bool,
    /// Labels for a volume this mount creates (ignored when it exists).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Mount this directory of the volume instead of its root (Docker 26).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub subpath: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub driver_config: Option<DriverConfig>,
}

/// `volume-driver=` and `volume-opt=k=v`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DriverConfig {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub options: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TmpfsOptions {
    /// `tmpfs-size` in bytes (0: the kernel's default, half of RAM).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub size_bytes: i64,
    /// `tmpfs-mode` (permission bits, sticky bit included).
    #[serde(default, skip_serializing_if = "is_zero_u32")]
    pub mode: u32,
}

fn is_zero(n: &i64) -> bool {
    *n == 0
}

fn is_zero_u32(n: &u32) -> bool {
    *n == 0
}

impl TmpfsOptions {
    /// mount(8) options, as moby's `ConvertTmpfsOptions`: the size in the
    /// largest unit dividing it (`size=1m`), the mode in octal.
    pub fn mount_options(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.size_bytes != 0 {
            let mut size = self.size_bytes;
            let mut suffix = "";
            for (s, d) in [("g", 1i64 << 30), ("m", 1 << 20), ("k", 1 << 10)] {
                if size % d == 0 {
                    size /= d;
                    suffix = s;
                    break;
                }
            }
            out.push(format!("size={size}{suffix}"));
        }
        if self.mode != 0 {
            out.push(format!("mode={:o}", self.mode));
        }
        out
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MountKind {
    Bind,
    Volume,
    Tmpfs,
}

/// One mount of a container, as `inspect` shows it in `Mounts`, plus what
/// strata needs to perform it.
///
/// Tmpfs mount points (`--mount type=tmpfs`) have no source and carry their
/// mount(8) options (`size=1m,mode=1770`) in `mode`, where the runtime reads
/// them; `inspect` shows Docker's empty `Mode` for them. A volume mounted
/// with `volume-subpath` has the subdirectory as its source; the runtime
/// must resolve that path inside the volume (`_data` of `name`), since the
/// container may have replaced a component with a symlink since create.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MountPoint {
    pub kind: MountKind,
    /// Volume name (volumes only).
    #[serde(default)]
    pub name: String,
    /// Host path: the bind source or the volume's `_data`.
    pub source: PathBuf,
    /// Absolute path inside the container.
    pub destination: String,
    /// `ro`, `z`, ... as Docker reports `Mode`.
    #[serde(default)]
    pub mode: String,
    pub rw: bool,
    /// `rprivate` for binds by default, empty for volumes (Docker's report).
    #[serde(default)]
    pub propagation: String,
    /// Skip copy-up of image content into an empty volume.
    #[serde(default)]
    pub nocopy: bool,
    /// Inherited through `--volumes-from` (never copied up).
    #[serde(default)]
    pub from: Option<String>,
}

impl MountPoint {
    pub fn driver(&self) -> &'static str {
        if self.kind == MountKind::Volume { "local" } else { "" }
    }
}

/// A parsed `-v` argument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VolumeArg {
    Anonymous { destination: String },
    Named { name: String, destination: String, rw: bool, nocopy: bool, mode: String },
    Bind { source: PathBuf, destination: String, rw: bool, propagation: String, mode: String },
}

/// Docker's volume name rule, `[a-zA-Z0-9][a-zA-Z0-9_.-]+`.
pub fn valid_volume_name(name: &str) -> bool {
    super::names::valid(name)
}

/// Parse `-v` as Docker's Linux parser does: one field is an anonymous volume,
/// two or three fields are `SRC:DST[:OPTS]`; an absolute SRC is a bind.
pub fn parse_volume_arg(arg: &str) -> Result<VolumeArg> {
    let bad = |reason: &str| StoreError::invalid(format!("invalid volume specification: '{arg}'"), reason.to_string());
    let parts: Vec<&str> = arg.split(':').collect();
    let abs = |p: &str| -> Result<String> {
        if !p.starts_with('/') {
            return Err(bad("destination must be an absolute path"));
        }
        if p == "/" {
            return Err(bad("destination can't be '/'"));
        }
        Ok(clean(p))
    };
    match parts.as_slice() {
        [dst] => Ok(VolumeArg::Anonymous { destination: abs(dst)? }),
        [src, dst] | [src, dst, _] => {
            let opts = if parts.len() == 3 { parts[2] } else { "" };
            let mut rw = true;
            let mut nocopy = false;
            let mut propagation = String::new();
            let mut mode = Vec::new();
            for o in opts.split(',').filter(|o| !o.is_empty()) {
                match o {
                    "ro" => rw = false,
                    "rw" => rw = true,
                    "nocopy" => nocopy = true,
                    "z" | "Z" => {}
                    "shared" | "rshared" | "slave" | "rslave" | "private" | "rprivate" => propagation = o.to_string(),
                    "consistent" | "cached" | "delegated" => {}
                    _ => return Err(bad(&format!("invalid mode: {o}"))),
                }
                if o != "nocopy" {
                    mode.push(o);
                }
            }
            let destination = abs(dst)?;
            if src.starts_with('/') {
                if nocopy {
                    return Err(bad("nocopy is not allowed for bind mounts"));
                }
                Ok(VolumeArg::Bind {
                    source: PathBuf::from(clean(src)),
                    destination,
                    rw,
                    propagation: if propagation.is_empty() { "rprivate".into() } else { propagation },
                    mode: mode.join(","),
                })
            } else {
                if !valid_volume_name(src) {
                    return Err(StoreError::invalid(
                        format!("create {src}"),
                        "includes invalid characters for a local volume name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host directory, use absolute path",
                    ));
                }
                if !propagation.is_empty() {
                    return Err(bad("propagation is only allowed for bind mounts"));
                }
                let mode = if mode.is_empty() { "z".to_string() } else { mode.join(",") };
                Ok(VolumeArg::Named { name: src.to_string(), destination, rw, nocopy, mode })
            }
        }
        _ => Err(bad("too many colons")),
    }
}

/// Lexically clean an absolute path (`//a/./b/` → `/a/b`).
pub fn clean(p: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    for c in p.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            c => out.push(c),
        }
    }
    format!("/{}", out.join("/"))
}

impl ContainerSpec {
    /// The container's Config: the image's defaults overridden by the request.
    pub fn config_for(&self, image: &Image) -> Config {
        let ic = &image.config.config;
        let mut env = ic.env.clone().unwrap_or_default();
        for e in &self.env {
            let key = e.split('=').next().unwrap_or(e);
            env.retain(|x| x.split('=').next() != Some(key));
            env.push(e.clone());
        }
        let entrypoint = match &self.entrypoint {
            Some(ep) if ep.is_empty() || (ep.len() == 1 && ep[0].is_empty()) => None,
            Some(ep) => Some(ep.clone()),
            None => ic.entrypoint.clone(),
        };
        let cmd = if !self.cmd.is_empty() {
            Some(self.cmd.clone())
        } else if self.entrypoint.is_some() {
            None // Docker: a new entrypoint clears the image's CMD
        } else {
            ic.cmd.clone()
        };
        let mut labels = ic.labels.clone().unwrap_or_default();
        labels.extend(self.labels.clone());
        let mut volumes = ic.volumes.clone().unwrap_or_default();
        // Docker lists anonymous `-v /path` volumes in Config.Volumes; named
        // volumes and binds live in HostConfig.Binds only.
        for b in &self.binds {
            if let Ok(VolumeArg::Anonymous { destination }) = parse_volume_arg(b) {
                volumes.insert(destination, serde_json::json!({}));
            }
        }
        // Docker exposes every published port.
        let mut exposed_ports = ic.exposed_ports.clone().unwrap_or_default();
        for port in self.host.port_bindings.keys() {
            exposed_ports.entry(port.clone()).or_insert_with(|| serde_json::json!({}));
        }
        Config {
            hostname: self.hostname.clone().unwrap_or_default(),
            domainname: String::new(),
            user: self.user.clone().unwrap_or_else(|| ic.user.clone()),
            attach_stdin: self.open_stdin,
            attach_stdout: true,
            attach_stderr: true,
            exposed_ports: if exposed_ports.is_empty() { None } else { Some(exposed_ports) },
            tty: self.tty,
            open_stdin: self.open_stdin,
            stdin_once: self.open_stdin,
            env,
            cmd,
            image: self.image.clone(),
            volumes: if volumes.is_empty() { None } else { Some(volumes) },
            working_dir: self.workdir.clone().unwrap_or_else(|| ic.working_dir.clone()),
            entrypoint,
            on_build: None,
            labels,
            stop_signal: ic.stop_signal.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_docker_volume_syntax() {
        assert_eq!(parse_volume_arg("/data").unwrap(), VolumeArg::Anonymous { destination: "/data".into() });
        assert_eq!(
            parse_volume_arg("v1:/data:ro").unwrap(),
            VolumeArg::Named {
                name: "v1".into(),
                destination: "/data".into(),
                rw: false,
                nocopy: false,
                mode: "ro".into()
            }
        );
        assert_eq!(
            parse_volume_arg("v1:/data").unwrap(),
            VolumeArg::Named {
                name: "v1".into(),
                destination: "/data".into(),
                rw: true,
                nocopy: false,
                mode: "z".into()
            }
        );
        assert_eq!(
            parse_volume_arg("/srv/x/:/www:ro").unwrap(),
            VolumeArg::Bind {
                source: "/srv/x".into(),
                destination: "/www".into(),
                rw: false,
                propagation: "rprivate".into(),
                mode: "ro".into()
            }
        );
        assert!(parse_volume_arg("/a:/b:c:d").is_err());
        assert!(parse_volume_arg("rel/x:/b").is_err());
        assert!(parse_volume_arg("v:relative").is_err());
        assert!(parse_volume_arg("/a:/b:bogus").is_err());
        assert!(parse_volume_arg("/a:/").is_err());
    }
}
