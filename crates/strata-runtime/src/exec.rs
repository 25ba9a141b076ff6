//! `exec`: run a process in a running container through the OCI runtime
//! (`runc exec --process <json>`), attached to the caller's stdio; its exit
//! code is returned. The process gets the container's environment, user and
//! working directory unless overridden, the same capabilities, and its
//! command is checked in the container's root first (Docker's 126/127).

use std::path::Path;

use strata_store::Store;
use strata_store::container::Container;
use strata_sys::root::Root;

use crate::error::{IoCtx, Result, RuntimeError};
use crate::lifecycle::{reconcile, runtime_of};
use crate::opts::{ExecOpts, Network};
use crate::paths::ContainerPaths;
use crate::prepare::{self, ProcessRequest};
use crate::runc::{ExecSpec, OciRuntime, ProcessIo};

/// `exec` attached to our stdin (with `-i`), stdout and stderr. With `-t`
/// the runtime puts a pty between our terminal and the process; when our
/// stdin is not a terminal runc cannot ("failed to set the terminal from the
/// stdin"), so the process then runs without one.
pub fn exec(store: &Store, c: &Container, opts: &ExecOpts) -> Result<i32> {
    use std::io::IsTerminal;
    let mut opts = opts.clone();
    opts.tty = opts.tty && !opts.detach && std::io::stdin().is_terminal();
    let opts = &opts;
    let io = if opts.detach {
        ProcessIo::null()
    } else {
        let mut io = ProcessIo::inherit();
        if !opts.interactive {
            io.stdin = std::process::Stdio::null();
        }
        io
    };
    exec_with_io(store, c, opts, io)
}

/// `exec` with the given stdio.
pub fn exec_with_io(store: &Store, c: &Container, opts: &ExecOpts, io: ProcessIo) -> Result<i32> {
    if !reconcile(store, c)?.running {
        return Err(RuntimeError::NotRunning { id: c.id.clone() });
    }
    if opts.cmd.is_empty() {
        return Err(RuntimeError::NoCommand);
    }
    let paths = ContainerPaths::new(store, &c.id);
    let root = Root::new(&store.rootfs_path(c))?;
    let hostname = std::fs::read_to_string(paths.file("hostname"))
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| prepare::hostname(c, Network::Private));
    let params = prepare::process_params(
        &root,
        c,
        &ProcessRequest {
            args: opts.cmd.clone(),
            user: opts.user.as_deref().unwrap_or(&c.config.user),
            workdir: opts.workdir.as_deref().unwrap_or(&c.config.working_dir),
            extra_env: &opts.env,
            tty: opts.tty,
            hostname: &hostname,
        },
    )?;
    let process = crate::bundle::process(&params)?;
    let json = paths.file(&format!("exec-{}.json", &strata_sys::random_id()[..12]));
    std::fs::write(&json, serde_json::to_vec(&process).expect("serialises")).ctx("write", &json)?;
    let rt = runtime_of(store, &paths)?;
    let r = rt.exec(&c.id, &ExecSpec { process_json: Path::new(&json), tty: opts.tty, detach: opts.detach }, io);
    let _ = std::fs::remove_file(&json);
    r
}
