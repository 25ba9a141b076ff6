//! Options of the public operations (what the CLI's flags resolve to).

use std::path::PathBuf;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::RuntimeError;
use crate::ports::PortSpec;

/// `--network`. strata has no bridge yet: the default gives the container a
/// private network namespace with only loopback (up), reachable from the
/// host through published ports.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Network {
    /// `bridge` / `default`: a private namespace; `-p` publishes ports.
    #[default]
    Private,
    /// `none`: a private namespace, nothing published.
    None,
    /// `host`: the host's namespace; `-p` is ignored (as Docker does).
    Host,
}

impl FromStr for Network {
    type Err = RuntimeError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "" | "default" | "bridge" => Ok(Network::Private),
            "none" => Ok(Network::None),
            "host" => Ok(Network::Host),
            other => Err(RuntimeError::invalid(
                format!("network {other}"),
                "not found (strata supports bridge, host and none)",
            )),
        }
    }
}

/// `run` / `start`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct StartOpts {
    /// Return once the container runs (`-d`); otherwise stream its output and
    /// return its exit code.
    pub detach: bool,
    /// `-i`: the container reads our stdin (foreground), or an open pipe that
    /// is never written (detached, like Docker's unattached stdin).
    pub attach_stdin: bool,
    /// `-t`: a pseudo-terminal for the container.
    pub tty: bool,
    /// `--rm`: remove the container and its anonymous volumes after it exits.
    pub rm: bool,
    pub publish: Vec<PortSpec>,
    pub network: Network,
    /// `--runtime PATH`: another OCI runtime binary (crun, youki); runc by default.
    pub runtime: Option<PathBuf>,
    /// `--init`: run tini as PID 1 (`/sbin/docker-init`).
    pub init: bool,
    /// Docker's `--sig-proxy` (the CLI's default): a foreground run forwards
    /// the signals it receives to the container. Off for library callers such
    /// as `build`, which handle SIGINT themselves.
    #[serde(default)]
    pub sig_proxy: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartOutcome {
    /// The container's exit code (foreground), `None` when detached.
    pub exit_code: Option<i32>,
}

/// `exec`.
#[derive(Debug, Clone, Default)]
pub struct ExecOpts {
    pub cmd: Vec<String>,
    /// `-e` (added to the container's environment).
    pub env: Vec<String>,
    /// `-w` (default: the container's working directory).
    pub workdir: Option<String>,
    /// `-u` (default: the container's user).
    pub user: Option<String>,
    pub tty: bool,
    pub interactive: bool,
    pub detach: bool,
}

/// `logs`.
#[derive(Debug, Clone, Default)]
pub struct LogsOpts {
    pub follow: bool,
    /// Only the last N lines (`--tail N`); `None` is `all`.
    pub tail: Option<usize>,
    pub timestamps: bool,
}
