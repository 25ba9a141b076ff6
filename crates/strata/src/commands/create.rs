//! `create` / `container create`: a container record, its init and
//! writable layers and its volumes, from an image; prints the new id.
//!
//! The flags resolve into a [`ContainerSpec`] as the docker CLI's
//! `parse.go` does: `--env-file` then `-e` (a bare `-e KEY` takes the value
//! of our environment), `--entrypoint` as one word, `-v ./rel:/x` made
//! absolute, `--tmpfs` into `HostConfig.Tmpfs`, `-p` into `PortBindings`
//! (and `ExposedPorts`). What the engine cannot run yet (`-p`, `--network`,
//! `--rm`, `--init`) is recorded for the runtime.

use std::collections::BTreeMap;

use strata_store::container::ContainerSpec;
use strata_store::container::spec::HostOptions;

use crate::cli::CreateArgs;
use crate::opts::{self, mount::parse_tmpfs, ports::parse_publish};
use crate::output::Printer;
use crate::settings::Settings;

/// `--network` values strata's runtime provides.
const NETWORKS: &[&str] = &["bridge", "default", "host", "none"];

pub fn run(s: &Settings, a: &CreateArgs, p: &mut Printer) -> anyhow::Result<()> {
    let cwd = std::env::current_dir().ok().map(|d| d.to_string_lossy().into_owned());
    let mut env_files = Vec::new();
    for f in &a.env_file {
        let text = std::fs::read_to_string(f).map_err(|e| anyhow::anyhow!("open {}: {e}", f.display()))?;
        env_files.push(text);
    }
    let spec = spec_from_args(a, &env_files, |k| std::env::var(k).ok(), cwd.as_deref())?;
    if spec.host.network_mode == "host" && !spec.host.port_bindings.is_empty() {
        p.errln("WARNING: Published ports are discarded when using host network mode")?;
    }
    let store = s.open_store()?;
    let c = store.create_container(&spec)?;
    p.outln(&c.id)?;
    Ok(())
}

/// The engine request for `a`; `env_files` holds the `--env-file` contents.
pub fn spec_from_args(
    a: &CreateArgs,
    env_files: &[String],
    lookup: impl Fn(&str) -> Option<String> + Copy,
    cwd: Option<&str>,
) -> anyhow::Result<ContainerSpec> {
    let mut env = Vec::new();
    for text in env_files {
        env.extend(opts::parse_env_file(text, lookup).map_err(anyhow::Error::msg)?);
    }
    for e in &a.env {
        env.push(opts::env_entry(e, lookup).map_err(anyhow::Error::msg)?);
    }
    if let Some(w) = a.workdir.as_deref().filter(|w| !w.is_empty() && !w.starts_with('/')) {
        anyhow::bail!("the working directory '{w}' is invalid, it needs to be an absolute path");
    }
    let mut tmpfs = BTreeMap::new();
    for t in &a.tmpfs {
        let (path, options) = parse_tmpfs(t).map_err(anyhow::Error::msg)?;
        tmpfs.insert(path, options);
    }
    let mut port_bindings: BTreeMap<String, Vec<_>> = BTreeMap::new();
    for raw in &a.publish {
        for (port, binding) in parse_publish(raw).map_err(anyhow::Error::msg)? {
            port_bindings.entry(port).or_default().push(binding);
        }
    }
    let network = a.network.clone().unwrap_or_else(|| "bridge".into());
    if !NETWORKS.contains(&network.as_str()) {
        anyhow::bail!("network {network} not found");
    }
    let binds = a.volumes.iter().map(|v| absolute_bind(v, cwd)).collect();
    Ok(ContainerSpec {
        name: a.name.clone(),
        image: a.image.clone(),
        cmd: a.command.clone(),
        // Docker passes --entrypoint as one word; "" clears the image's.
        entrypoint: a.entrypoint.clone().map(|e| vec![e]),
        env,
        workdir: a.workdir.clone().filter(|w| !w.is_empty()),
        user: a.user.clone(),
        hostname: a.hostname.clone(),
        labels: opts::kv_map(&a.labels),
        tty: a.tty,
        open_stdin: a.interactive,
        binds,
        volumes_from: a.volumes_from.clone(),
        read_only: a.read_only,
        host: HostOptions {
            mounts: a.mounts.clone(),
            tmpfs,
            port_bindings,
            network_mode: if network == "default" { "bridge".into() } else { network },
            auto_remove: a.rm,
            init: a.init.then_some(true),
        },
    })
}

/// `-v ./data:/data`: a bind source starting with `.` is made absolute (docker CLI ≥ 23).
fn absolute_bind(v: &str, cwd: Option<&str>) -> String {
    match (v.split_once(':'), cwd) {
        (Some((src, rest)), Some(cwd)) if src.starts_with('.') => {
            format!("{}:{rest}", strata_store::container::spec::clean(&format!("{cwd}/{src}")))
        }
        _ => v.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::cli::{Cli, Command};

    fn args(argv: &[&str]) -> CreateArgs {
        let mut full = vec!["strata", "create"];
        full.extend_from_slice(argv);
        match Cli::try_parse_from(full).unwrap().command {
            Some(Command::Create(a)) => *a,
            other => panic!("{other:?}"),
        }
    }

    fn env(k: &str) -> Option<String> {
        (k == "FROM_ENV").then(|| "x".to_string())
    }

    #[test]
    fn flags_resolve_like_docker() {
        let a = args(&[
            "--name",
            "web",
            "-e",
            "A=1",
            "-e",
            "FROM_ENV",
            "-l",
            "k=v",
            "-h",
            "host",
            "-it",
            "--read-only",
            "--tmpfs",
            "/t:size=1m",
            "-p",
            "8080:80",
            "--network",
            "none",
            "--rm",
            "--init",
            "--entrypoint",
            "",
            "-v",
            "./d:/d:ro",
            "busybox",
            "ls",
            "-la",
            "--name",
        ]);
        let s = spec_from_args(&a, &["B=2\n".into()], env, Some("/work")).unwrap();
        assert_eq!(s.name.as_deref(), Some("web"));
        assert_eq!(s.cmd, ["ls", "-la", "--name"]);
        assert_eq!(s.env, ["B=2", "A=1", "FROM_ENV=x"]);
        assert_eq!(s.entrypoint, Some(vec![String::new()]));
        assert_eq!(s.labels["k"], "v");
        assert_eq!(s.hostname.as_deref(), Some("host"));
        assert!(s.tty && s.open_stdin && s.read_only);
        assert_eq!(s.binds, ["/work/d:/d:ro"]);
        assert_eq!(s.host.tmpfs["/t"], "size=1m");
        assert_eq!(s.host.port_bindings["80/tcp"][0].host_port, "8080");
        assert_eq!((s.host.network_mode.as_str(), s.host.auto_remove, s.host.init), ("none", true, Some(true)));
        let s = spec_from_args(&args(&["busybox"]), &[], env, None).unwrap();
        assert_eq!((s.host.network_mode.as_str(), s.host.init, s.entrypoint), ("bridge", None, None));
        assert!(spec_from_args(&args(&["-w", "rel", "busybox"]), &[], env, None).is_err());
        let e = spec_from_args(&args(&["--network", "foo", "busybox"]), &[], env, None).unwrap_err();
        assert_eq!(e.to_string(), "network foo not found");
    }

    #[test]
    fn mount_flag_errors_are_usage_errors() {
        let e = Cli::try_parse_from(["strata", "create", "--mount", "type=bind,src=/a", "busybox"]).unwrap_err();
        assert!(e.to_string().contains("target is required"), "{e}");
    }
}
