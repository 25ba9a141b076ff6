//! The per-container monitor: our own binary re-exec'd as
//! `strata --root R --run-root RR __monitor <id>` (options in the
//! `STRATA_MONITOR_OPTS` environment variable, JSON), one per running
//! container, like containerd's shim or podman's conmon.
//!
//! It runs in its own session, reparented away from the CLI
//! ([`strata_sys::process::spawn_detached`]), and is a child subreaper, so
//! when the OCI runtime exits the container's init becomes its child. It
//! holds `<run dir>/monitor.lock` (flock) for its whole life: whoever can take
//! that lock knows the monitor is gone.
//!
//! ```text
//! lock → mount rootfs → check command, write bundle → bind ports → runc run --detach
//!      → record running (pid, monitor pid + start time) → "ready" to the CLI
//!      → pump stdout/stderr (pipes, or the pty master) into the json log (and to an attached CLI)
//!      → reap init → record exited (code, 128+signal) → "exit" to an attached CLI
//!      → runc delete → unmount rootfs → with --rm: remove container + anonymous volumes
//! ```
//! Any failure before "ready" is reported to the CLI as an error frame with
//! Docker's exit code (125, or 126/127 for the command), recorded in the
//! container's `State.Error`, and everything set up so far is undone.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::AsFd;
use std::os::unix::net::UnixListener;
use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use strata_store::container::{Container, State};
use strata_store::{Store, StoreOpts};

use crate::attach::{self, StatusWriter};
use crate::error::{IoCtx, Result, RuntimeError};
use crate::logs::{JsonLog, LineSplitter};
use crate::opts::{Network, StartOpts};
use crate::paths::{ContainerPaths, RuntimeInfo};
use crate::ports::{self, PortBinding};
use crate::runc::{CreateOpts, OciRuntime, ProcessIo, Runc};

/// The environment variable that carries [`MonitorOpts`] as JSON.
pub const OPTS_ENV: &str = "STRATA_MONITOR_OPTS";

/// What the CLI tells its monitor.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MonitorOpts {
    pub start: StartOpts,
    /// A CLI reads the output stream until the exit (foreground).
    pub attached: bool,
    /// The CLI terminal's (rows, columns), for `-t`.
    pub console_size: Option<(u16, u16)>,
}

/// The monitor's `main`: returns the process exit code (0 once the container
/// ran, whatever its own code; the start error's code otherwise).
pub fn run(store_opts: &StoreOpts, id: &str) -> i32 {
    let out = match std::io::stdout().as_fd().try_clone_to_owned() {
        Ok(fd) => File::from(fd),
        Err(_) => return 125,
    };
    let status = Arc::new(StatusWriter::new(Box::new(out)));
    let opts: MonitorOpts = match std::env::var(OPTS_ENV).ok().and_then(|s| serde_json::from_str(&s).ok()) {
        Some(o) => o,
        None => {
            let e = RuntimeError::invalid("monitor", format!("{OPTS_ENV} is missing or invalid"));
            report(&status, &e);
            return 125;
        }
    };
    // Pin no directory of the CLI's (an unmount would fail while we run).
    let abs = |p: &Path| std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
    let store_opts = &StoreOpts {
        root: abs(&store_opts.root),
        run_root: abs(&store_opts.run_root),
        driver: store_opts.driver.clone(),
    };
    let _ = std::env::set_current_dir("/");
    if let Err(e) = strata_sys::process::set_child_subreaper() {
        let e = RuntimeError::from(e);
        report(&status, &e);
        return 125;
    }
    match Monitor::start(store_opts, id, opts) {
        Ok(m) => {
            status.send_json(attach::READY, &attach::Ready { pid: m.pid });
            m.supervise(status)
        }
        Err(e) => {
            report(&status, &e);
            e.exit_code()
        }
    }
}

fn report(status: &StatusWriter, e: &RuntimeError) {
    eprintln!("strata monitor: {e}");
    let r = attach::ErrorReport {
        code: e.exit_code(),
        kind: crate::error::kind_name(e.kind()).into(),
        message: e.to_string(),
    };
    status.send_json(attach::ERROR, &r);
}

/// Take `<run dir>/monitor.lock`, waiting up to `wait` (a previous monitor
/// may be finishing its cleanup). `None` when it stays held.
pub(crate) fn lock_monitor(paths: &ContainerPaths, wait: Duration) -> Result<Option<File>> {
    paths.ensure_run_dir()?;
    let p = paths.file("monitor.lock");
    let f = File::options().create(true).truncate(false).write(true).open(&p).ctx("open", &p)?;
    let deadline = Instant::now() + wait;
    loop {
        match f.try_lock() {
            Ok(()) => return Ok(Some(f)),
            Err(std::fs::TryLockError::WouldBlock) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(5))
            }
            Err(std::fs::TryLockError::WouldBlock) => return Ok(None),
            Err(std::fs::TryLockError::Error(e)) => return Err(RuntimeError::io("lock", &p, e)),
        }
    }
}

type Output = (Box<dyn Read + Send>, &'static str);

struct Monitor {
    store: Store,
    c: Container,
    paths: ContainerPaths,
    opts: MonitorOpts,
    runtime: Runc,
    _lock: File,
    pid: u32,
    state: State,
    outputs: Vec<Output>,
    tty_master: Option<File>,
    /// Detached `-i`: the write end of the container's stdin, never written.
    _stdin_keep: Option<std::io::PipeWriter>,
    log: Arc<JsonLog>,
}

struct Launched {
    pid: u32,
    outputs: Vec<Output>,
    tty_master: Option<File>,
    stdin_keep: Option<std::io::PipeWriter>,
    log: Arc<JsonLog>,
}

impl Monitor {
    fn start(store_opts: &StoreOpts, id: &str, opts: MonitorOpts) -> Result<Monitor> {
        let store = Store::open(&StoreOpts { driver: None, ..store_opts.clone() })?;
        let c = store.container(id)?;
        let paths = ContainerPaths::new(&store, &c.id);
        let lock = lock_monitor(&paths, Duration::from_secs(10))?
            .ok_or_else(|| RuntimeError::AlreadyRunning { id: c.id.clone() })?;
        let mut c = store.container(&c.id)?;
        if c.state.running {
            // We hold the lock, so the monitor that recorded this is gone.
            let st = crate::lifecycle::mark_dead_if_gone(&store, &c, &paths)?;
            if st.running {
                return Err(RuntimeError::AlreadyRunning { id: c.id.clone() });
            }
            c = store.container(&c.id)?;
        }
        let runtime = Runc::new(opts.start.runtime.as_deref(), store.run_root())?.with_log(paths.file("runtime.log"));
        RuntimeInfo { binary: runtime.binary.clone(), root: runtime.root.clone() }.save(&paths)?;
        if runtime.has_state(&c.id) {
            let _ = runtime.delete(&c.id, true);
        }
        let rootfs = store.mount_container(&c)?;
        let launched = launch(&store, &c, &paths, &runtime, &opts, &rootfs).and_then(|l| {
            let st = record_running(&store, &c, l.pid).inspect_err(|_| {
                let _ = runtime.delete(&c.id, true);
            })?;
            Ok((l, st))
        });
        match launched {
            Ok((l, state)) => Ok(Monitor {
                store,
                c,
                paths,
                opts,
                runtime,
                _lock: lock,
                pid: l.pid,
                state,
                outputs: l.outputs,
                tty_master: l.tty_master,
                _stdin_keep: l.stdin_keep,
                log: l.log,
            }),
            Err(e) => {
                if let Err(u) = store.unmount_container(&c) {
                    eprintln!("strata monitor: unmount after failed start: {u}");
                }
                let _ = std::fs::remove_file(paths.file("ports.json"));
                if opts.start.rm {
                    let _ = store.remove_container(&c.id, true, true);
                    paths.remove_all();
                } else {
                    let mut st = c.state.clone();
                    st.error = e.to_string();
                    st.exit_code = e.exit_code() as i64;
                    let _ = store.set_container_state(&c.id, &st);
                }
                Err(e)
            }
        }
    }

    /// Pump output, reap the container, record its exit, clean up.
    fn supervise(mut self, status: Arc<StatusWriter>) -> i32 {
        let attached = self.opts.attached;
        if !attached {
            status.close();
        }
        let (done_tx, done_rx) = mpsc::channel::<()>();
        let outputs = std::mem::take(&mut self.outputs);
        let pumps = outputs.len();
        for (mut reader, stream) in outputs {
            let (log, status, done) = (self.log.clone(), status.clone(), done_tx.clone());
            std::thread::spawn(move || {
                let kind = if stream == "stderr" { attach::STDERR } else { attach::STDOUT };
                let mut split = LineSplitter::new(stream);
                let mut buf = vec![0u8; 32 * 1024];
                loop {
                    match reader.read(&mut buf) {
                        Ok(0) => break,
                        Ok(n) => {
                            split.push(&buf[..n], &log);
                            if attached {
                                status.send(kind, &buf[..n]);
                            }
                        }
                        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                        // A pty master reads EIO once the last slave fd is closed.
                        Err(_) => break,
                    }
                }
                split.finish(&log);
                let _ = done.send(());
            });
        }
        drop(done_tx);
        if let (Some(master), true, true) = (&self.tty_master, attached, self.opts.start.attach_stdin)
            && let Ok(mut m) = master.try_clone()
        {
            std::thread::spawn(move || {
                let mut stdin = std::io::stdin().lock();
                let mut buf = [0u8; 4096];
                while let Ok(n) = stdin.read(&mut buf) {
                    if n == 0 || m.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
            });
        }
        let code = match strata_sys::process::wait_child(self.pid) {
            Ok(exit) => exit.code(),
            Err(e) => {
                eprintln!("strata monitor: waiting for {}: {e}", self.pid);
                255
            }
        };
        // The pid namespace died with its init, so the pipes close; a
        // deadline guards against a writer that escaped it.
        let deadline = Instant::now() + Duration::from_secs(2);
        for _ in 0..pumps {
            if done_rx.recv_timeout(deadline.saturating_duration_since(Instant::now())).is_err() {
                break;
            }
        }
        self.tty_master.take();
        let mut st = self.state.clone();
        st.status = "exited".into();
        st.running = false;
        st.pid = 0;
        st.pid_start = 0;
        st.exit_code = code as i64;
        st.finished_at = strata_store::meta::now_rfc3339();
        st.monitor_pid = 0;
        st.monitor_start = 0;
        if let Err(e) = self.store.set_container_state(&self.c.id, &st) {
            eprintln!("strata monitor: recording exit: {e}");
        }
        let rm = self.opts.start.rm;
        if attached && !rm {
            status.send_json(attach::EXIT, &attach::Exit { code });
        }
        self.cleanup(rm);
        if attached && rm {
            status.send_json(attach::EXIT, &attach::Exit { code });
        }
        0
    }

    /// `runc delete` runs while the rootfs is unmounted and, with `--rm`,
    /// the container removed: they do not depend on each other (the
    /// container's mount namespace died with it), and this is most of the
    /// time `run --rm` spends after the container exits.
    fn cleanup(&self, rm: bool) {
        let (id, runtime) = (&self.c.id, &self.runtime);
        std::thread::scope(|s| {
            let delete = s.spawn(|| {
                if let Err(e) = runtime.delete(id, false)
                    && let Err(e2) = runtime.delete(id, true)
                {
                    eprintln!("strata monitor: {e}; {e2}");
                }
            });
            if let Err(e) = self.store.unmount_container(&self.c) {
                eprintln!("strata monitor: unmount: {e}");
            }
            for f in ["ports.json", "pid"] {
                let _ = std::fs::remove_file(self.paths.file(f));
            }
            let removed = rm
                && match self.store.remove_container(id, true, true) {
                    Ok(_) => true,
                    Err(e) => {
                        eprintln!("strata monitor: --rm: {e}");
                        false
                    }
                };
            let _ = delete.join();
            if removed {
                self.paths.remove_all();
            }
        });
    }
}

fn record_running(store: &Store, c: &Container, pid: u32) -> Result<State> {
    let me = std::process::id();
    let mut st = c.state.clone();
    st.status = "running".into();
    st.running = true;
    st.paused = false;
    st.restarting = false;
    st.oom_killed = false;
    st.dead = false;
    st.pid = pid as i64;
    st.pid_start = strata_sys::process_start_time(pid).unwrap_or(0);
    st.exit_code = 0;
    st.error = String::new();
    st.started_at = strata_store::meta::now_rfc3339();
    st.monitor_pid = me as i64;
    st.monitor_start = strata_sys::process_start_time(me).unwrap_or(0);
    store.set_container_state(&c.id, &st)?;
    Ok(st)
}

fn write_plain(path: &Path, data: &[u8]) -> Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, data).ctx("write", &tmp)?;
    std::fs::rename(&tmp, path).ctx("rename", path)
}

/// Prepare the bundle and stdio, bind ports, and run the container.
fn launch(
    store: &Store,
    c: &Container,
    paths: &ContainerPaths,
    runtime: &Runc,
    opts: &MonitorOpts,
    rootfs: &Path,
) -> Result<Launched> {
    let start = &opts.start;
    crate::prepare::prepare_bundle(c, paths, rootfs, start, opts.console_size)?;
    let publish = if start.network == Network::Private { start.publish.clone() } else { Vec::new() };
    let listeners = ports::bind_all(&publish)?;
    let bindings: Vec<PortBinding> = listeners.bound.iter().map(|(_, b)| b.clone()).collect();
    let log = Arc::new(JsonLog::open(&paths.log_file())?);
    let pid_file = paths.file("pid");
    let _ = std::fs::remove_file(&pid_file);
    let pipe = || std::io::pipe().map_err(|e| RuntimeError::io("pipe", "container stdio", e));
    let mut stdin_keep = None;
    let stdin: Stdio = if start.attach_stdin && !start.tty {
        if opts.attached {
            Stdio::inherit()
        } else {
            let (r, w) = pipe()?;
            stdin_keep = Some(w);
            r.into()
        }
    } else {
        Stdio::null()
    };
    let mut outputs: Vec<Output> = Vec::new();
    let mut console: Option<(UnixListener, std::path::PathBuf)> = None;
    let io = if start.tty {
        let sock = paths.console_socket(store.run_root());
        if let Some(d) = sock.parent() {
            std::fs::create_dir_all(d).ctx("create", d)?;
        }
        let _ = std::fs::remove_file(&sock);
        let l = UnixListener::bind(&sock).ctx("bind console socket", &sock)?;
        console = Some((l, sock));
        ProcessIo { stdin, stdout: Stdio::null(), stderr: Stdio::null() }
    } else {
        let (or, ow) = pipe()?;
        let (er, ew) = pipe()?;
        outputs.push((Box::new(or), "stdout"));
        outputs.push((Box::new(er), "stderr"));
        ProcessIo { stdin, stdout: ow.into(), stderr: ew.into() }
    };
    let bundle = paths.bundle();
    let create =
        CreateOpts { bundle: &bundle, pid_file: &pid_file, console_socket: console.as_ref().map(|c| c.1.as_path()) };
    if let Err(e) = runtime.run_detached(&c.id, &create, io) {
        if let Some((_, sock)) = &console {
            let _ = std::fs::remove_file(sock);
        }
        if runtime.has_state(&c.id) {
            let _ = runtime.delete(&c.id, true);
        }
        return Err(e);
    }
    // From here on a failure must not leave the container running.
    let started = || -> Result<Launched> {
        let pid: u32 = std::fs::read_to_string(&pid_file)
            .ctx("read", &pid_file)?
            .trim()
            .parse()
            .map_err(|_| RuntimeError::invalid("pid file", pid_file.display().to_string()))?;
        let mut tty_master = None;
        if let Some((l, sock)) = console {
            let (stream, _) = l.accept().ctx("accept console socket", &sock)?;
            let _ = std::fs::remove_file(&sock);
            let master = File::from(strata_sys::process::recv_fd(&stream)?);
            if let Some((rows, cols)) = opts.console_size {
                let _ = strata_sys::process::set_window_size(master.as_fd(), rows, cols);
            }
            outputs.push((Box::new(master.try_clone().ctx("dup", Path::new("pty"))?), "stdout"));
            tty_master = Some(master);
        }
        if !bindings.is_empty() {
            match strata_sys::process::NetNs::of_pid(pid) {
                Ok(ns) => ports::serve(listeners, ns),
                // Only when the container already exited: nothing to forward to.
                Err(e) => eprintln!("strata monitor: network namespace of {pid}: {e}"),
            }
        }
        write_plain(&paths.file("ports.json"), &serde_json::to_vec(&bindings).expect("serialises"))?;
        Ok(Launched { pid, outputs, tty_master, stdin_keep, log })
    };
    started().inspect_err(|_| {
        let _ = runtime.delete(&c.id, true);
    })
}
