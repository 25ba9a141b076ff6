//! The operations the CLI calls: start (through a monitor), stop, kill,
//! wait, remove, top, and reconcile (records whose monitor died).
//!
//! ## Foreground and detached runs take the same path
//! `start` always spawns the container's monitor and reads its status
//! stream (see [`crate::attach`]). Detached, it returns at the monitor's
//! "ready" (or its error, with Docker's exit code). In the foreground the
//! monitor also forwards the container's output as frames, which `start`
//! writes to our stdout/stderr while the monitor logs them, and sends the
//! exit code at the end (after `--rm` removal, as `docker run --rm` waits
//! for it). With `-i` the monitor hands our stdin to the container (pipe
//! mode) or pumps it into the pty (`-t`, our terminal in raw mode meanwhile).
//! So one process supervises every container, a foreground container
//! survives its CLI being killed (its output still goes to the log), and the
//! exit code reaches both the record and the CLI. While attached without a
//! tty, SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1 and SIGUSR2 sent to the
//! CLI are forwarded to the container's init (Docker's `--sig-proxy`; an
//! init without a handler ignores them, as in Docker). With `-t`, ^C
//! reaches the container through its terminal.

use std::io::{Read, Write};
use std::os::fd::AsFd;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use strata_store::Store;
use strata_store::container::{Container, State};

use crate::attach::{self, Frame};
use crate::error::{IoCtx, Result, RuntimeError};
use crate::monitor::{self, MonitorOpts};
use crate::opts::{StartOpts, StartOutcome};
use crate::paths::{ContainerPaths, RuntimeInfo};
use crate::ports::PortBinding;
use crate::runc::{OciRuntime, Runc};

/// `start` writing the container's output to our stdout and stderr.
pub fn start(store: &Store, c: &Container, opts: &StartOpts) -> Result<StartOutcome> {
    start_with_output(store, c, opts, &mut std::io::stdout(), &mut std::io::stderr())
}

/// `start`, with the foreground output written to `out` and `err`.
pub fn start_with_output(
    store: &Store,
    c: &Container,
    opts: &StartOpts,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<StartOutcome> {
    if reconcile(store, c)?.running {
        return Err(RuntimeError::AlreadyRunning { id: c.id.clone() });
    }
    let paths = ContainerPaths::new(store, &c.id);
    paths.ensure_run_dir()?;
    let attached = !opts.detach;
    let stdin = std::io::stdin();
    let console_size = if opts.tty { strata_sys::process::window_size(stdin.as_fd()) } else { None };
    let mopts = MonitorOpts { start: opts.clone(), attached, console_size };
    let log_path = paths.file("monitor.log");
    let mlog = std::fs::File::options().create(true).append(true).open(&log_path).ctx("open", &log_path)?;
    let (mut reader, writer) = std::io::pipe().map_err(|e| RuntimeError::io("pipe", "monitor status", e))?;
    let exe = std::env::current_exe().map_err(|e| RuntimeError::io("locate", "current executable", e))?;
    // Absolute: the monitor works from `/`, so that it pins no directory.
    let abs = |p: &std::path::Path| std::path::absolute(p).ctx("resolve", p);
    let mut mopts = mopts;
    if let Some(r) = &mopts.start.runtime {
        mopts.start.runtime = Some(abs(r)?);
    }
    {
        let mut cmd = Command::new(exe);
        cmd.arg("--root")
            .arg(abs(store.root())?)
            .arg("--run-root")
            .arg(abs(store.run_root())?)
            .arg("__monitor")
            .arg(&c.id)
            .env(monitor::OPTS_ENV, serde_json::to_string(&mopts).expect("serialises"))
            .stdin(if attached && opts.attach_stdin { Stdio::inherit() } else { Stdio::null() })
            .stdout(writer)
            .stderr(mlog);
        strata_sys::process::spawn_detached(&mut cmd).map_err(|e| RuntimeError::io("spawn monitor", "__monitor", e))?;
        // `cmd` (and with it our copy of the pipe's write end) is dropped here.
    }
    let _raw = if attached && opts.tty && opts.attach_stdin {
        strata_sys::process::RawTerminal::enable(stdin.as_fd())?
    } else {
        None
    };
    // Docker's --sig-proxy: while attached (without a tty, where ^C travels
    // through the pty), the signals we get go to the container's init.
    let target: Arc<Mutex<Option<(u32, u64)>>> = Arc::new(Mutex::new(None));
    let _proxy = if attached && !opts.tty && opts.sig_proxy { sig_proxy(target.clone()) } else { None };
    loop {
        let frame = attach::read_frame(&mut reader).map_err(|e| RuntimeError::io("read", "monitor status", e))?;
        match frame {
            Some(Frame::Output { stream, data }) => {
                let w: &mut dyn Write = if stream == attach::STDERR { &mut *err } else { &mut *out };
                // The reader may be gone (a closed pipe): keep draining.
                let _ = w.write_all(&data).and_then(|()| w.flush());
            }
            Some(Frame::Ready(_)) if !attached => return Ok(StartOutcome { exit_code: None }),
            Some(Frame::Ready(r)) => {
                if let Some(start) = strata_sys::process_start_time(r.pid) {
                    *target.lock().unwrap_or_else(|p| p.into_inner()) = Some((r.pid, start));
                }
            }
            Some(Frame::Unknown(_)) => {}
            Some(Frame::Exit(e)) => return Ok(StartOutcome { exit_code: Some(e.code) }),
            Some(Frame::Error(e)) => {
                return Err(RuntimeError::Reported { code: e.code, kind: e.kind, message: e.message });
            }
            None => {
                return Err(RuntimeError::MonitorDied { id: c.id.clone(), detail: tail(&log_path) });
            }
        }
    }
}

/// The signals a foreground run forwards (Docker forwards all but SIGCHLD,
/// SIGPIPE, SIGWINCH and SIGURG; these are the ones a terminal or a
/// supervisor sends).
const PROXIED: &[&str] = &["HUP", "INT", "QUIT", "USR1", "USR2", "TERM"];

/// Catch [`PROXIED`] and forward each to the container once `target` (its
/// init's pid and start time) is known. `None` when another catcher is active.
fn sig_proxy(target: Arc<Mutex<Option<(u32, u64)>>>) -> Option<strata_sys::process::SignalCatcher> {
    let signals: Vec<i32> = PROXIED.iter().filter_map(|s| strata_sys::process::signal_number(s)).collect();
    let mut catcher = strata_sys::process::SignalCatcher::install(&signals).ok()?;
    let mut reader = catcher.reader()?;
    std::thread::spawn(move || {
        let mut b = [0u8; 1];
        while let Ok(1) = reader.read(&mut b) {
            let t = *target.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(p) = t.and_then(|(pid, start)| strata_sys::process::Pidfd::open(pid, start)) {
                let _ = p.signal(b[0] as i32);
            }
        }
    });
    Some(catcher)
}

fn tail(path: &std::path::Path) -> String {
    let s = std::fs::read_to_string(path).unwrap_or_default();
    s.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("").to_string()
}

/// The OCI runtime that runs (or ran) `c`.
pub(crate) fn runtime_of(store: &Store, paths: &ContainerPaths) -> Result<Runc> {
    let r = match RuntimeInfo::load(paths) {
        Some(info) => Runc { binary: info.binary, root: info.root, log: None },
        None => Runc::new(None, store.run_root())?,
    };
    Ok(r.with_log(paths.file("runtime.log")))
}

/// The record's state, corrected when its monitor is gone: a "running"
/// container whose monitor and init have both disappeared (monitor killed,
/// host rebooted) becomes `exited` with code 255 and an error, and what the
/// monitor held (runtime state, rootfs mount) is released. A container still
/// alive without its monitor stays `running`; `stop` and `kill` reach it.
pub fn reconcile(store: &Store, c: &Container) -> Result<State> {
    let st = &c.state;
    if !st.running {
        return Ok(st.clone());
    }
    if st.monitor_pid > 0 && strata_sys::process::alive(st.monitor_pid as u32, st.monitor_start) {
        return Ok(st.clone());
    }
    let paths = ContainerPaths::new(store, &c.id);
    // The monitor holds its lock for its whole life: taking it proves it is
    // gone, and keeps a second reconciler (or a new monitor) out meanwhile.
    let Some(_lock) = monitor::lock_monitor(&paths, Duration::ZERO)? else { return Ok(st.clone()) };
    let fresh = store.container(&c.id)?;
    mark_dead_if_gone(store, &fresh, &paths)
}

/// With the monitor lock held: turn a running record with a dead init into
/// exited 255, and release what the dead monitor held.
pub(crate) fn mark_dead_if_gone(store: &Store, c: &Container, paths: &ContainerPaths) -> Result<State> {
    let mut st = c.state.clone();
    if !st.running || (st.pid > 0 && strata_sys::process::alive(st.pid as u32, st.pid_start)) {
        return Ok(st);
    }
    st.status = "exited".into();
    st.running = false;
    st.pid = 0;
    st.pid_start = 0;
    st.exit_code = 255;
    st.error = "container monitor exited unexpectedly (killed, or the host restarted); exit status unknown".into();
    st.finished_at = strata_store::meta::now_rfc3339();
    st.monitor_pid = 0;
    st.monitor_start = 0;
    store.set_container_state(&c.id, &st)?;
    if let Ok(rt) = runtime_of(store, paths)
        && rt.has_state(&c.id)
    {
        let _ = rt.delete(&c.id, true);
    }
    // The dead monitor's reference to the rootfs mount.
    let _ = store.unmount_container(c);
    for f in ["ports.json", "pid"] {
        let _ = std::fs::remove_file(paths.file(f));
    }
    Ok(st)
}

/// Poll the record until the container is not running (or is removed).
/// `None` on timeout; `Some(None)` when the container is gone.
fn wait_not_running(store: &Store, id: &str, timeout: Option<Duration>) -> Result<Option<Option<State>>> {
    let deadline = timeout.map(|t| Instant::now() + t);
    loop {
        let Some(c) = store.find_container(id)? else { return Ok(Some(None)) };
        let st = reconcile(store, &c)?;
        if !st.running {
            return Ok(Some(Some(st)));
        }
        if let Some(d) = deadline
            && Instant::now() >= d
        {
            return Ok(None);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Wait until the monitor of `id` is done with its cleanup (released the
/// rootfs and runtime state), up to `timeout`.
fn wait_monitor_gone(store: &Store, id: &str, timeout: Duration) -> Result<()> {
    let p = ContainerPaths::new(store, id).file("monitor.lock");
    let Ok(f) = std::fs::File::options().write(true).open(&p) else { return Ok(()) };
    let deadline = Instant::now() + timeout;
    while let Err(std::fs::TryLockError::WouldBlock) = f.try_lock() {
        if Instant::now() >= deadline {
            return Err(RuntimeError::Timeout { id: id.to_string(), what: "clean up", secs: timeout.as_secs() });
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    Ok(())
}

/// Send `signal` to the container's init (through its OCI runtime; directly
/// by pidfd when the runtime lost it).
fn signal(store: &Store, c: &Container, st: &State, sig: i32) -> Result<()> {
    let paths = ContainerPaths::new(store, &c.id);
    let rt = runtime_of(store, &paths)?;
    match rt.kill(&c.id, sig) {
        Ok(()) => Ok(()),
        Err(e) => match strata_sys::process::Pidfd::open(st.pid as u32, st.pid_start) {
            Some(p) => Ok(p.signal(sig)?),
            None if !strata_sys::process::alive(st.pid as u32, st.pid_start) => Ok(()),
            None => Err(e),
        },
    }
}

/// `kill [-s SIGNAL]`: Docker's names (`SIGTERM`, `TERM`, `15`). Returns at
/// once; the monitor records the exit.
pub fn kill(store: &Store, c: &Container, sig: &str) -> Result<()> {
    let n = strata_sys::process::signal_number(sig).ok_or_else(|| RuntimeError::invalid("invalid signal", sig))?;
    let st = reconcile(store, c)?;
    if !st.running {
        return Err(RuntimeError::NotRunning { id: c.id.clone() });
    }
    signal(store, c, &st, n)
}

/// `stop [-t SECONDS]`: the stop signal (the image's `STOPSIGNAL`, else
/// SIGTERM), SIGKILL after `timeout`, then wait until the monitor has
/// recorded the exit. Stopping a stopped container succeeds.
pub fn stop(store: &Store, c: &Container, timeout: Duration) -> Result<()> {
    let st = reconcile(store, c)?;
    if !st.running {
        return Ok(());
    }
    let sig = c.config.stop_signal.as_deref().and_then(strata_sys::process::signal_number).unwrap_or(15);
    signal(store, c, &st, sig)?;
    if wait_not_running(store, &c.id, Some(timeout))?.is_none() {
        signal(store, c, &st, 9)?;
        if wait_not_running(store, &c.id, Some(Duration::from_secs(30)))?.is_none() {
            return Err(RuntimeError::Timeout { id: c.id.clone(), what: "stop", secs: timeout.as_secs() + 30 });
        }
    }
    wait_monitor_gone(store, &c.id, Duration::from_secs(10))
}

/// `wait`: block until the container is not running; its exit code. A
/// container removed meanwhile (`--rm`) is an error, as its code is gone.
pub fn wait(store: &Store, c: &Container) -> Result<i32> {
    match wait_not_running(store, &c.id, None)? {
        Some(Some(st)) => Ok(st.exit_code as i32),
        _ => Err(strata_store::StoreError::NoSuchContainer(c.id.clone()).into()),
    }
}

/// `rm [-f] [-v]`: a running container is refused unless `force` (then
/// killed first); the record, layers, logs and run-time files go, and with
/// `volumes` its anonymous volumes.
pub fn remove(store: &Store, c: &Container, force: bool, volumes: bool) -> Result<Container> {
    let st = reconcile(store, c)?;
    if st.running {
        if !force {
            return Err(strata_store::StoreError::ContainerRunning { id: c.id.clone() }.into());
        }
        signal(store, c, &st, 9)?;
        wait_not_running(store, &c.id, Some(Duration::from_secs(30)))?;
    }
    wait_monitor_gone(store, &c.id, Duration::from_secs(10))?;
    let paths = ContainerPaths::new(store, &c.id);
    if let Ok(rt) = runtime_of(store, &paths)
        && rt.has_state(&c.id)
    {
        let _ = rt.delete(&c.id, true);
    }
    let removed = store.remove_container(&c.id, force, volumes)?;
    paths.remove_all();
    Ok(removed)
}

/// The ports published by the running container (`docker port`, PORTS).
pub fn published_ports(store: &Store, c: &Container) -> Vec<PortBinding> {
    if !c.state.running {
        return Vec::new();
    }
    let p = ContainerPaths::new(store, &c.id).file("ports.json");
    std::fs::read(p).ok().and_then(|b| serde_json::from_slice(&b).ok()).unwrap_or_default()
}

/// `top`: Docker's `ps -ef` columns for the container's processes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Top {
    pub titles: Vec<String>,
    pub processes: Vec<Vec<String>>,
}

pub fn top(store: &Store, c: &Container) -> Result<Top> {
    let st = reconcile(store, c)?;
    if !st.running {
        return Err(RuntimeError::NotRunning { id: c.id.clone() });
    }
    let paths = ContainerPaths::new(store, &c.id);
    let mut pids = runtime_of(store, &paths)?.ps(&c.id)?;
    pids.sort_unstable();
    let users = host_users();
    let processes = pids.iter().filter_map(|&p| crate::proc::ps_row(p, &users)).collect();
    Ok(Top {
        titles: ["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"].iter().map(|s| s.to_string()).collect(),
        processes,
    })
}

/// uid → name from the host's passwd, for display only (as `ps` shows).
fn host_users() -> Vec<(u32, String)> {
    let mut s = String::new();
    if let Ok(mut f) = std::fs::File::open("/etc/passwd") {
        let _ = f.read_to_string(&mut s);
    }
    crate::user::parse_passwd(&s).into_iter().map(|e| (e.uid, e.name)).collect()
}
