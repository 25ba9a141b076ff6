//! The OCI bundle of a container: `config.json` generated with `oci-spec`
//! from the container record, as Docker's `createSpec` would (moby
//! `daemon/oci_linux.go`, `oci/defaults.go`), plus the `/etc/hosts`,
//! `/etc/hostname` and `/etc/resolv.conf` files strata writes and binds.
//!
//! Security profile: Docker's default capability set, masked and read-only
//! paths, a deny-all device cgroup (runc adds its default devices), no new
//! privileges off. **No seccomp profile**: runc here supports seccomp, but
//! strata does not ship Docker's default profile yet (a ~800-line JSON that
//! must track kernel syscalls); until it does, containers run unfiltered,
//! like `--security-opt seccomp=unconfined`. AppArmor/SELinux labels are not
//! set either.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use oci_spec::runtime::{
    Capability, LinuxBuilder, LinuxCapabilitiesBuilder, LinuxDeviceCgroupBuilder, LinuxNamespaceBuilder,
    LinuxNamespaceType, LinuxResourcesBuilder, Mount, MountBuilder, PosixRlimitBuilder, PosixRlimitType, Process,
    ProcessBuilder, RootBuilder, Spec, SpecBuilder, UserBuilder,
};
use strata_store::container::{MountKind, MountPoint};

use crate::error::{Result, RuntimeError};
use crate::opts::Network;
use crate::user::ExecUser;

/// Docker's default `PATH` (moby `oci.DefaultPathEnv`).
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Docker's default capabilities (moby `oci/caps/defaults.go`).
pub const DEFAULT_CAPS: &[Capability] = &[
    Capability::Chown,
    Capability::DacOverride,
    Capability::Fsetid,
    Capability::Fowner,
    Capability::Mknod,
    Capability::NetRaw,
    Capability::Setgid,
    Capability::Setuid,
    Capability::Setfcap,
    Capability::Setpcap,
    Capability::NetBindService,
    Capability::SysChroot,
    Capability::Kill,
    Capability::AuditWrite,
];

/// Docker's masked paths (bind of /dev/null or an empty read-only tmpfs).
pub const MASKED_PATHS: &[&str] = &[
    "/proc/asound",
    "/proc/acpi",
    "/proc/interrupts",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
];

/// Docker's read-only paths.
pub const READONLY_PATHS: &[&str] = &["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"];

/// Where `--init` puts the init binary inside the container (Docker's path).
pub const INIT_PATH: &str = "/sbin/docker-init";

/// What the container process runs as (shared by `run` and `exec`).
#[derive(Debug, Clone)]
pub struct ProcessParams {
    pub args: Vec<String>,
    pub env: Vec<String>,
    pub cwd: String,
    pub user: ExecUser,
    pub terminal: bool,
    /// (rows, columns) of the terminal, when known.
    pub console_size: Option<(u16, u16)>,
    /// RLIMIT_NOFILE (soft, hard).
    pub nofile: (u64, u64),
}

/// The host files bound over `/etc/hosts`, `/etc/hostname`, `/etc/resolv.conf`.
#[derive(Debug, Clone)]
pub struct EtcFiles {
    pub hosts: PathBuf,
    pub hostname: PathBuf,
    pub resolv_conf: PathBuf,
}

/// Everything `config.json` is made of.
#[derive(Debug, Clone)]
pub struct BundleParams<'a> {
    pub id: &'a str,
    pub rootfs: PathBuf,
    pub readonly: bool,
    pub process: ProcessParams,
    pub hostname: String,
    pub domainname: String,
    pub mounts: &'a [MountPoint],
    pub etc: Option<EtcFiles>,
    pub network: Network,
    /// Host path of the init binary (`--init`), bound at [`INIT_PATH`].
    pub init: Option<PathBuf>,
    pub cgroups_path: String,
}

fn oci<T>(r: std::result::Result<T, oci_spec::OciSpecError>) -> Result<T> {
    r.map_err(|e| RuntimeError::invalid("OCI spec", e.to_string()))
}

/// Docker's process environment: `PATH` and `HOSTNAME` first (and
/// `TERM=xterm` with a tty), overridden or extended by the image and user
/// variables in order; `HOME` from passwd unless set.
pub fn container_env(config_env: &[String], hostname: &str, tty: bool, home: &str) -> Vec<String> {
    let mut env = vec![format!("PATH={DEFAULT_PATH}"), format!("HOSTNAME={hostname}")];
    if tty {
        env.push("TERM=xterm".into());
    }
    for e in config_env {
        let key = e.split('=').next().unwrap_or(e);
        if let Some(slot) = env.iter_mut().find(|x| x.split('=').next() == Some(key)) {
            *slot = e.clone();
        } else {
            env.push(e.clone());
        }
    }
    if !env.iter().any(|e| e.starts_with("HOME=")) {
        env.push(format!("HOME={home}"));
    }
    env
}

/// The value of `key` in an environment list.
pub fn env_value<'a>(env: &'a [String], key: &str) -> Option<&'a str> {
    env.iter().rev().find_map(|e| e.strip_prefix(key).and_then(|r| r.strip_prefix('=')))
}

fn caps() -> HashSet<Capability> {
    DEFAULT_CAPS.iter().copied().collect()
}

/// The OCI `process` object (also the `runc exec --process` file).
pub fn process(p: &ProcessParams) -> Result<Process> {
    let caps = caps();
    let mut user = UserBuilder::default().uid(p.user.uid).gid(p.user.gid);
    if !p.user.additional_gids.is_empty() {
        user = user.additional_gids(p.user.additional_gids.clone());
    }
    let mut capabilities = oci(LinuxCapabilitiesBuilder::default()
        .bounding(caps.clone())
        .effective(caps.clone())
        .permitted(caps)
        .build())?;
    // Not inherited across exec (Docker's fix for CVE-2022-24769); the
    // builder's defaults would fill these.
    capabilities.set_inheritable(None);
    capabilities.set_ambient(None);
    let mut b = ProcessBuilder::default()
        .terminal(p.terminal)
        .user(oci(user.build())?)
        .args(p.args.clone())
        .env(p.env.clone())
        .cwd(if p.cwd.is_empty() { "/" } else { p.cwd.as_str() })
        .capabilities(capabilities)
        .rlimits(vec![oci(PosixRlimitBuilder::default()
            .typ(PosixRlimitType::RlimitNofile)
            .soft(p.nofile.0)
            .hard(p.nofile.1)
            .build())?])
        .no_new_privileges(false);
    if let (true, Some((rows, cols))) = (p.terminal, p.console_size) {
        b = b.console_size(oci(oci_spec::runtime::BoxBuilder::default()
            .height(rows as u64)
            .width(cols as u64)
            .build())?);
    }
    oci(b.build())
}

fn mount(dst: &str, typ: &str, src: &str, opts: &[&str]) -> Result<Mount> {
    oci(MountBuilder::default()
        .destination(dst)
        .typ(typ)
        .source(src)
        .options(opts.iter().map(|s| s.to_string()).collect::<Vec<_>>())
        .build())
}

/// Docker's default mounts (moby `oci.DefaultLinuxSpec` + `/dev/shm`).
fn default_mounts() -> Result<Vec<Mount>> {
    Ok(vec![
        mount("/proc", "proc", "proc", &["nosuid", "noexec", "nodev"])?,
        mount("/dev", "tmpfs", "tmpfs", &["nosuid", "strictatime", "mode=755", "size=65536k"])?,
        mount(
            "/dev/pts",
            "devpts",
            "devpts",
            &["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"],
        )?,
        mount("/sys", "sysfs", "sysfs", &["nosuid", "noexec", "nodev", "ro"])?,
        mount("/sys/fs/cgroup", "cgroup", "cgroup", &["ro", "nosuid", "noexec", "nodev"])?,
        mount("/dev/mqueue", "mqueue", "mqueue", &["nosuid", "noexec", "nodev"])?,
        mount("/dev/shm", "tmpfs", "shm", &["nosuid", "noexec", "nodev", "mode=1777", "size=67108864"])?,
    ])
}

fn depth(p: &str) -> usize {
    p.split('/').filter(|c| !c.is_empty()).count()
}

/// The container's volume, bind and tmpfs mounts, parents before children.
fn user_mounts(mounts: &[MountPoint]) -> Result<Vec<Mount>> {
    let mut sorted: Vec<&MountPoint> = mounts.iter().collect();
    sorted.sort_by_key(|m| depth(&m.destination));
    let mut out = Vec::new();
    for m in sorted {
        match m.kind {
            MountKind::Bind | MountKind::Volume => {
                let prop = if m.propagation.is_empty() { "rprivate" } else { m.propagation.as_str() };
                let rw = if m.rw { "rw" } else { "ro" };
                out.push(oci(MountBuilder::default()
                    .destination(m.destination.as_str())
                    .typ("bind")
                    .source(m.source.clone())
                    .options(vec!["rbind".to_string(), rw.to_string(), prop.to_string()])
                    .build())?);
            }
            MountKind::Tmpfs => {
                let mut opts = vec!["noexec".to_string(), "nosuid".to_string(), "nodev".to_string()];
                opts.extend(m.mode.split(',').filter(|o| !o.is_empty()).map(String::from));
                if !m.rw {
                    opts.push("ro".into());
                }
                out.push(oci(MountBuilder::default()
                    .destination(m.destination.as_str())
                    .typ("tmpfs")
                    .source("tmpfs")
                    .options(opts)
                    .build())?);
            }
        }
    }
    Ok(out)
}

/// The whole `config.json`.
pub fn spec(p: &BundleParams<'_>) -> Result<Spec> {
    let user = user_mounts(p.mounts)?;
    let taken: Vec<&Path> = user.iter().map(|m| m.destination().as_path()).collect();
    // A user mount over a default destination wins (Docker drops the default).
    let mut mounts: Vec<Mount> =
        default_mounts()?.into_iter().filter(|m| !taken.contains(&m.destination().as_path())).collect();
    if taken.contains(&Path::new("/dev")) {
        mounts.retain(|m| !m.destination().starts_with("/dev/"));
    }
    mounts.extend(user.iter().cloned());
    if let Some(etc) = &p.etc {
        let rw = if p.readonly { "ro" } else { "rw" };
        for (dst, src) in
            [("/etc/resolv.conf", &etc.resolv_conf), ("/etc/hostname", &etc.hostname), ("/etc/hosts", &etc.hosts)]
        {
            if !taken.contains(&Path::new(dst)) {
                mounts.push(oci(MountBuilder::default()
                    .destination(dst)
                    .typ("bind")
                    .source(src.clone())
                    .options(vec!["rbind".to_string(), "rprivate".to_string(), rw.to_string()])
                    .build())?);
            }
        }
    }
    let mut proc_params = p.process.clone();
    if let Some(init) = &p.init {
        mounts.push(oci(MountBuilder::default()
            .destination(INIT_PATH)
            .typ("bind")
            .source(init.clone())
            .options(vec!["rbind".to_string(), "ro".to_string(), "rprivate".to_string()])
            .build())?);
        let mut args = vec![INIT_PATH.to_string(), "--".to_string()];
        args.extend(proc_params.args);
        proc_params.args = args;
    }
    let mut namespaces = Vec::new();
    for t in [LinuxNamespaceType::Pid, LinuxNamespaceType::Ipc, LinuxNamespaceType::Uts, LinuxNamespaceType::Mount] {
        namespaces.push(oci(LinuxNamespaceBuilder::default().typ(t).build())?);
    }
    if p.network != Network::Host {
        namespaces.push(oci(LinuxNamespaceBuilder::default().typ(LinuxNamespaceType::Network).build())?);
    }
    let deny_all = oci(LinuxDeviceCgroupBuilder::default().allow(false).access("rwm").build())?;
    let linux = oci(LinuxBuilder::default()
        .namespaces(namespaces)
        .masked_paths(MASKED_PATHS.iter().map(|s| s.to_string()).collect::<Vec<_>>())
        .readonly_paths(READONLY_PATHS.iter().map(|s| s.to_string()).collect::<Vec<_>>())
        .resources(oci(LinuxResourcesBuilder::default().devices(vec![deny_all]).build())?)
        .cgroups_path(p.cgroups_path.as_str())
        .build())?;
    let mut b = SpecBuilder::default()
        .version("1.0.2-dev")
        .root(oci(RootBuilder::default().path(p.rootfs.clone()).readonly(p.readonly).build())?)
        .process(self::process(&proc_params)?)
        .hostname(p.hostname.as_str())
        .mounts(mounts)
        .linux(linux);
    if !p.domainname.is_empty() {
        b = b.domainname(p.domainname.as_str());
    }
    oci(b.build())
}

/// `/etc/hosts` as Docker writes it for a container without a bridge
/// address: loopback entries, then the container's name on 127.0.0.1.
pub fn hosts_file(hostname: &str) -> String {
    format!(
        "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n127.0.0.1\t{hostname}\n"
    )
}

/// The container's `resolv.conf` from the host's: with a private network
/// namespace, nameservers on 127.0.0.0/8 or ::1 cannot be reached and are
/// dropped (moby `resolvconf.FilterResolvDNS`); when none is left, Docker's
/// defaults (8.8.8.8, 8.8.4.4) are used. With the host network the file is
/// copied as is.
pub fn resolv_conf(host: &str, network: Network) -> String {
    if network == Network::Host {
        return host.to_string();
    }
    let mut out = String::new();
    let mut servers = 0;
    for line in host.lines() {
        let mut f = line.split_whitespace();
        if f.next() == Some("nameserver") {
            let addr = f.next().unwrap_or("");
            if addr.starts_with("127.") || addr == "::1" {
                continue;
            }
            servers += 1;
        }
        out.push_str(line);
        out.push('\n');
    }
    if servers == 0 {
        out.push_str("nameserver 8.8.8.8\nnameserver 8.8.4.4\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn params(mounts: &[MountPoint]) -> BundleParams<'_> {
        BundleParams {
            id: "0123456789abcdef",
            rootfs: "/var/lib/strata/overlay2/x/merged".into(),
            readonly: true,
            process: ProcessParams {
                args: vec!["sh".into(), "-c".into(), "echo hi".into()],
                env: container_env(&["PATH=/bin".to_string(), "A=1".to_string()], "0123456789ab", false, "/root"),
                cwd: String::new(),
                user: ExecUser { uid: 1000, gid: 1000, additional_gids: vec![50], home: "/home/app".into() },
                terminal: false,
                console_size: None,
                nofile: (1048576, 1048576),
            },
            hostname: "0123456789ab".into(),
            domainname: String::new(),
            mounts,
            etc: Some(EtcFiles {
                hosts: "/run/strata/containers/x/hosts".into(),
                hostname: "/run/strata/containers/x/hostname".into(),
                resolv_conf: "/run/strata/containers/x/resolv.conf".into(),
            }),
            network: Network::Private,
            init: None,
            cgroups_path: "/strata/0123456789abcdef".into(),
        }
    }

    fn mp(kind: MountKind, src: &str, dst: &str, rw: bool, prop: &str) -> MountPoint {
        MountPoint {
            kind,
            name: String::new(),
            source: src.into(),
            destination: dst.into(),
            mode: String::new(),
            rw,
            propagation: prop.into(),
            nocopy: false,
            from: None,
        }
    }

    fn sorted(v: &Value) -> Vec<String> {
        let mut s: Vec<String> = v.as_array().unwrap().iter().map(|x| x.as_str().unwrap().to_string()).collect();
        s.sort();
        s
    }

    #[test]
    fn env_like_docker() {
        assert_eq!(
            container_env(&["PATH=/bin".into(), "A=1".into(), "HOSTNAME=mine".into()], "abc", true, "/root"),
            vec!["PATH=/bin", "HOSTNAME=mine", "TERM=xterm", "A=1", "HOME=/root"]
        );
        assert_eq!(container_env(&["HOME=/x".into()], "abc", false, "/root")[2], "HOME=/x");
        assert_eq!(env_value(&["PATH=/a".into(), "PATH=/b".into()], "PATH"), Some("/b"));
    }

    #[test]
    fn config_json_shape() {
        let mounts = vec![
            mp(MountKind::Bind, "/srv/www/sub", "/www/sub", true, "rslave"),
            mp(MountKind::Bind, "/srv/www", "/www", false, "rprivate"),
            mp(MountKind::Volume, "/var/lib/strata/volumes/v/_data", "/data", true, ""),
        ];
        let spec = spec(&params(&mounts)).unwrap();
        let v: Value = serde_json::to_value(&spec).unwrap();
        assert_eq!(v["root"], json!({"path": "/var/lib/strata/overlay2/x/merged", "readonly": true}));
        assert_eq!(v["hostname"], "0123456789ab");
        let p = &v["process"];
        assert_eq!(p["args"], json!(["sh", "-c", "echo hi"]));
        assert_eq!(p["env"], json!(["PATH=/bin", "HOSTNAME=0123456789ab", "A=1", "HOME=/root"]));
        assert_eq!(p["cwd"], "/");
        assert_eq!(p["terminal"], false);
        assert_eq!(p["user"], json!({"uid": 1000, "gid": 1000, "additionalGids": [50]}));
        assert_eq!(p["noNewPrivileges"], false);
        assert_eq!(p["rlimits"], json!([{"type": "RLIMIT_NOFILE", "hard": 1048576, "soft": 1048576}]));
        let mut want: Vec<String> =
            DEFAULT_CAPS.iter().map(|c| serde_json::to_value(c).unwrap().as_str().unwrap().to_string()).collect();
        want.sort();
        assert_eq!(want.len(), 14);
        assert!(want.contains(&"CAP_NET_BIND_SERVICE".to_string()));
        for set in ["bounding", "effective", "permitted"] {
            assert_eq!(sorted(&p["capabilities"][set]), want, "{set}");
        }
        assert!(p["capabilities"].get("inheritable").is_none());
        assert!(p["capabilities"].get("ambient").is_none());
        let l = &v["linux"];
        let ns: Vec<&str> = l["namespaces"].as_array().unwrap().iter().map(|n| n["type"].as_str().unwrap()).collect();
        assert_eq!(ns, ["pid", "ipc", "uts", "mount", "network"]);
        assert_eq!(l["maskedPaths"].as_array().unwrap().len(), MASKED_PATHS.len());
        assert_eq!(l["readonlyPaths"], json!(READONLY_PATHS));
        assert_eq!(l["resources"]["devices"], json!([{"allow": false, "access": "rwm"}]));
        assert_eq!(l["cgroupsPath"], "/strata/0123456789abcdef");
        assert!(l.get("seccomp").is_none(), "no seccomp profile shipped yet");
        let m = v["mounts"].as_array().unwrap();
        let dsts: Vec<&str> = m.iter().map(|m| m["destination"].as_str().unwrap()).collect();
        assert_eq!(
            dsts,
            [
                "/proc",
                "/dev",
                "/dev/pts",
                "/sys",
                "/sys/fs/cgroup",
                "/dev/mqueue",
                "/dev/shm",
                "/www",
                "/data",
                "/www/sub",
                "/etc/resolv.conf",
                "/etc/hostname",
                "/etc/hosts"
            ]
        );
        assert_eq!(
            m[4],
            json!({"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup", "options": ["ro", "nosuid", "noexec", "nodev"]})
        );
        assert_eq!(m[6]["options"], json!(["nosuid", "noexec", "nodev", "mode=1777", "size=67108864"]));
        assert_eq!(
            m[7],
            json!({"destination": "/www", "type": "bind", "source": "/srv/www", "options": ["rbind", "ro", "rprivate"]})
        );
        assert_eq!(m[8]["options"], json!(["rbind", "rw", "rprivate"]));
        assert_eq!(m[9]["options"], json!(["rbind", "rw", "rslave"]));
        assert_eq!(m[12]["source"], "/run/strata/containers/x/hosts");
        assert_eq!(m[12]["options"], json!(["rbind", "rprivate", "ro"]), "read-only rootfs: ro /etc files");
    }

    #[test]
    fn host_network_init_and_overrides() {
        let mounts = vec![
            mp(MountKind::Bind, "/h/hosts", "/etc/hosts", true, ""),
            mp(MountKind::Tmpfs, "", "/dev/shm", true, ""),
        ];
        let mut p = params(&mounts);
        p.network = Network::Host;
        p.init = Some("/usr/bin/tini-static".into());
        p.readonly = false;
        p.process.terminal = true;
        p.process.console_size = Some((24, 80));
        let v: Value = serde_json::to_value(spec(&p).unwrap()).unwrap();
        let ns: Vec<&str> =
            v["linux"]["namespaces"].as_array().unwrap().iter().map(|n| n["type"].as_str().unwrap()).collect();
        assert_eq!(ns, ["pid", "ipc", "uts", "mount"]);
        assert_eq!(v["process"]["args"], json!(["/sbin/docker-init", "--", "sh", "-c", "echo hi"]));
        assert_eq!(v["process"]["terminal"], true);
        assert_eq!(v["process"]["consoleSize"], json!({"height": 24, "width": 80}));
        let m = v["mounts"].as_array().unwrap();
        let hosts: Vec<&Value> = m.iter().filter(|m| m["destination"] == "/etc/hosts").collect();
        assert_eq!(hosts.len(), 1);
        assert_eq!(hosts[0]["source"], "/h/hosts");
        let shm: Vec<&Value> = m.iter().filter(|m| m["destination"] == "/dev/shm").collect();
        assert_eq!(shm.len(), 1);
        assert_eq!(shm[0]["options"], json!(["noexec", "nosuid", "nodev"]));
        let init = m.iter().find(|m| m["destination"] == INIT_PATH).unwrap();
        assert_eq!(init["source"], "/usr/bin/tini-static");
        let resolv = m.iter().find(|m| m["destination"] == "/etc/resolv.conf").unwrap();
        assert_eq!(resolv["options"], json!(["rbind", "rprivate", "rw"]));
    }

    #[test]
    fn etc_files() {
        let h = hosts_file("abc");
        assert!(h.starts_with("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"));
        assert!(h.ends_with("127.0.0.1\tabc\n"));
        let host = "# generated\nnameserver 127.0.0.53\nnameserver 10.0.0.1\nnameserver ::1\nsearch example.com\n";
        assert_eq!(resolv_conf(host, Network::Private), "# generated\nnameserver 10.0.0.1\nsearch example.com\n");
        assert_eq!(resolv_conf("nameserver 127.0.0.1\n", Network::Private), "nameserver 8.8.8.8\nnameserver 8.8.4.4\n");
        assert_eq!(resolv_conf(host, Network::Host), host);
    }
}
