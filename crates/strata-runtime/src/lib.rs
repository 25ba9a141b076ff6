//! Running strata containers on an OCI runtime (runc).
//!
//! ```text
//! CLI  start() ──spawn (setsid, double fork)──▶ monitor (`strata __monitor <id>`, one per container)
//!       ▲  status stream: ready / output / exit / error        │ mount rootfs, bundle (config.json)
//!       └──────────────────────────────────────────────────────┤ runc run --detach, ports forwarder
//!                                                              │ json-file log, reap init, record exit
//!  stop/kill/exec/top ──▶ runc (--root <run_root>/runc)        ▼ runc delete, unmount, --rm
//! ```
//!
//! - [`bundle`]: `config.json` from the container record (Docker's defaults).
//! - [`runc`]: the [`runc::OciRuntime`] trait and the runc command line.
//! - [`monitor`]: the per-container supervisor process.
//! - [`ports`]: `-p` parsing and the userspace TCP forwarder.
//! - [`exec`], [`logs`]: `exec` and `logs`.
//! - [`lifecycle`]: `start`, `stop`, `kill`, `wait`, `rm`, `top`, [`reconcile`].
//!
//! The crate is `#![forbid(unsafe_code)]`: process, namespace, signal and
//! terminal syscalls live in [`strata_sys::process`].
#![forbid(unsafe_code)]

pub mod attach;
pub mod bundle;
pub mod error;
pub mod exec;
pub mod lifecycle;
pub mod logs;
pub mod monitor;
pub mod opts;
pub mod paths;
pub mod ports;
pub mod prepare;
mod proc;
pub mod runc;
pub mod user;

pub use error::{Result, RuntimeError};
pub use exec::{exec, exec_with_io};
pub use lifecycle::{Top, kill, published_ports, reconcile, remove, start, start_with_output, stop, top, wait};
pub use logs::logs;
pub use opts::{ExecOpts, LogsOpts, Network, StartOpts, StartOutcome};
pub use ports::{PortBinding, PortSpec, Proto, parse_port_spec};
pub use runc::{OciRuntime, Runc, RuntimeState};
