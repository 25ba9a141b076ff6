//! From a container record to the files the OCI runtime needs: the process
//! (user, environment, working directory, command checked in the rootfs),
//! `/etc/hosts`, `/etc/hostname`, `/etc/resolv.conf`, and `config.json`.
//! All reads of the container's files are confined to its rootfs.

use std::path::{Path, PathBuf};

use strata_store::container::Container;
use strata_sys::root::Root;

use crate::bundle::{self, BundleParams, EtcFiles, ProcessParams};
use crate::error::{IoCtx, Result, RuntimeError};
use crate::opts::{Network, StartOpts};
use crate::paths::ContainerPaths;
use crate::user;

/// The soft and hard RLIMIT_NOFILE given to containers: Docker's usual
/// 1048576 when we may raise it that far (CAP_SYS_RESOURCE, and the kernel's
/// `fs.nr_open` allows it, or our hard limit is already that high), else our
/// own limits (a sandbox without CAP_SYS_RESOURCE makes runc fail with
/// "error setting rlimit type 7: operation not permitted" otherwise).
pub fn nofile() -> (u64, u64) {
    const WANT: u64 = 1 << 20;
    const CAP_SYS_RESOURCE: u32 = 24;
    let (soft, hard) = strata_sys::process::nofile_limit();
    if hard >= WANT {
        return (WANT, WANT);
    }
    let nr_open: u64 =
        std::fs::read_to_string("/proc/sys/fs/nr_open").ok().and_then(|s| s.trim().parse().ok()).unwrap_or(0);
    let cap_eff = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| l.strip_prefix("CapEff:")).and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
        })
        .unwrap_or(0);
    if cap_eff & (1 << CAP_SYS_RESOURCE) != 0 && nr_open >= WANT { (WANT, WANT) } else { (soft, hard) }
}

/// The container's hostname: the one it was created with, else the first
/// 12 hex digits of its id (Docker); the host's own with `--network host`.
pub fn hostname(c: &Container, network: Network) -> String {
    if !c.config.hostname.is_empty() {
        return c.config.hostname.clone();
    }
    if network == Network::Host
        && let Ok(h) = std::fs::read_to_string("/proc/sys/kernel/hostname")
    {
        return h.trim().to_string();
    }
    c.id[..12.min(c.id.len())].to_string()
}

/// Entrypoint followed by cmd.
pub fn command_line(c: &Container) -> Vec<String> {
    let mut args = c.config.entrypoint.clone().unwrap_or_default();
    args.extend(c.config.cmd.clone().unwrap_or_default());
    args
}

/// What a process in the container runs as, and its environment: shared
/// by the container's own process and `exec`. Checks the command.
pub struct ProcessRequest<'a> {
    pub args: Vec<String>,
    pub user: &'a str,
    pub workdir: &'a str,
    pub extra_env: &'a [String],
    pub tty: bool,
    pub hostname: &'a str,
}

pub fn process_params(root: &Root, c: &Container, req: &ProcessRequest<'_>) -> Result<ProcessParams> {
    if req.args.is_empty() || req.args[0].is_empty() {
        return Err(RuntimeError::NoCommand);
    }
    let u = user::resolve_user_in(root, req.user)?;
    let mut env_in = c.config.env.clone();
    env_in.extend(req.extra_env.iter().cloned());
    let env = bundle::container_env(&env_in, req.hostname, req.tty, &u.home);
    let cwd = if req.workdir.is_empty() { "/".to_string() } else { req.workdir.to_string() };
    let path_env = bundle::env_value(&env, "PATH").unwrap_or("");
    user::lookup_command(root, &c.mounts, &req.args[0], path_env, &cwd)?;
    Ok(ProcessParams {
        args: req.args.clone(),
        env,
        cwd,
        user: u,
        terminal: req.tty,
        console_size: None,
        nofile: nofile(),
    })
}

/// Static init binaries usable as `--init` (Debian's `tini` package ships
/// `/usr/bin/tini-static`; Docker's packages ship `docker-init`).
const INIT_CANDIDATES: &[&str] =
    &["/usr/bin/tini-static", "/usr/libexec/docker/docker-init", "/usr/bin/docker-init", "/usr/local/bin/docker-init"];

pub fn find_init() -> Result<PathBuf> {
    INIT_CANDIDATES.iter().map(PathBuf::from).find(|p| p.is_file()).ok_or_else(|| {
        RuntimeError::Unsupported(
            "--init: no init binary found (install the tini package: /usr/bin/tini-static)".into(),
        )
    })
}

fn write_plain(path: &Path, data: &[u8]) -> Result<()> {
    // Run-time files: atomic for readers, no fsync (the run root is a tmpfs).
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, data).ctx("write", &tmp)?;
    std::fs::rename(&tmp, path).ctx("rename", path)
}

/// Write `<run dir>/{hosts,hostname,resolv.conf}`.
pub fn write_etc_files(paths: &ContainerPaths, hostname: &str, network: Network) -> Result<EtcFiles> {
    let files = EtcFiles {
        hosts: paths.file("hosts"),
        hostname: paths.file("hostname"),
        resolv_conf: paths.file("resolv.conf"),
    };
    let hosts = if network == Network::Host {
        std::fs::read_to_string("/etc/hosts").unwrap_or_else(|_| bundle::hosts_file(hostname))
    } else {
        bundle::hosts_file(hostname)
    };
    write_plain(&files.hosts, hosts.as_bytes())?;
    write_plain(&files.hostname, format!("{hostname}\n").as_bytes())?;
    let host_resolv = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    write_plain(&files.resolv_conf, bundle::resolv_conf(&host_resolv, network).as_bytes())?;
    Ok(files)
}

/// Everything before the runtime is called: the process checked, the
/// working directory created, the /etc files and `config.json` written.
pub fn prepare_bundle(
    c: &Container,
    paths: &ContainerPaths,
    rootfs: &Path,
    opts: &StartOpts,
    console_size: Option<(u16, u16)>,
) -> Result<()> {
    let root = Root::new(rootfs)?;
    let host = hostname(c, opts.network);
    let mut process = process_params(
        &root,
        c,
        &ProcessRequest {
            args: command_line(c),
            user: &c.config.user,
            workdir: &c.config.working_dir,
            extra_env: &[],
            tty: opts.tty,
            hostname: &host,
        },
    )?;
    process.console_size = console_size;
    // Docker creates a missing WORKDIR (owned by root).
    if process.cwd != "/" && !c.read_only {
        root.mkdir_all(Path::new(&process.cwd), 0o755)?;
    }
    let init = if opts.init { Some(find_init()?) } else { None };
    let etc = write_etc_files(paths, &host, opts.network)?;
    let spec = bundle::spec(&BundleParams {
        id: &c.id,
        rootfs: rootfs.to_path_buf(),
        readonly: c.read_only,
        process,
        hostname: host.clone(),
        domainname: c.config.domainname.clone(),
        mounts: &c.mounts,
        etc: Some(etc),
        network: opts.network,
        init,
        cgroups_path: format!("/strata/{}", c.id),
    })?;
    let dir = paths.bundle();
    std::fs::create_dir_all(&dir).ctx("create", &dir)?;
    write_plain(&dir.join("config.json"), &serde_json::to_vec(&spec).expect("spec serialises"))
}
