//! Processes, signals, namespaces and terminals for the container runtime
//! (`strata-runtime`), which is `#![forbid(unsafe_code)]` and comes here for
//! every raw syscall:
//!
//! - [`spawn_detached`]: start the per-container monitor in its own session,
//!   reparented away from the CLI (setsid + double fork), so it survives the
//!   CLI and never lingers as the CLI's zombie.
//! - [`set_child_subreaper`], [`wait_child`]: the monitor adopts the
//!   container's init when the OCI runtime exits, and reaps it.
//! - [`Pidfd`]: a handle on a process that is not our child (the monitor seen
//!   from the CLI): signal it without pid-reuse races, wait for it to exit.
//! - [`NetNs`]: enter a container's network namespace on the current thread
//!   (`setns` is per thread) to create sockets there.
//! - [`recv_fd`]: receive the pty master an OCI runtime sends over its
//!   `--console-socket` (SCM_RIGHTS).
//! - [`RawTerminal`], [`window_size`], [`set_window_size`]: the CLI's terminal
//!   while it is attached to a container's tty.
//! - [`signal_number`]: Docker's signal names (`SIGTERM`, `TERM`, `15`);
//!   [`SignalCatcher`]: signals a foreground `run` forwards to its container.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicI32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::error::{Ctx, SysError, SysResult};

/// Spawn `cmd` as a daemon: it runs in a new session (no controlling
/// terminal, no signals from the CLI's terminal) and its parent is not us
/// (double fork: the intermediate child exits at once and is reaped here), so
/// a long-lived caller never accumulates it as a zombie. Stdio configured on
/// `cmd` is inherited by the daemon. Returns once the daemon has exec'd (or
/// the exec error).
pub fn spawn_detached(cmd: &mut Command) -> io::Result<()> {
    // SAFETY: the closure runs in the forked child before exec and only calls
    // async-signal-safe functions (fork, setsid, _exit).
    unsafe {
        cmd.pre_exec(|| match libc::fork() {
            -1 => Err(io::Error::last_os_error()),
            0 => {
                if libc::setsid() == -1 {
                    return Err(io::Error::last_os_error());
                }
                Ok(())
            }
            _ => libc::_exit(0),
        });
    }
    let mut child = cmd.spawn()?;
    child.wait()?;
    Ok(())
}

/// `prctl(PR_SET_CHILD_SUBREAPER)`: orphaned descendants (the container's
/// init once the OCI runtime exits) are reparented to this process.
pub fn set_child_subreaper() -> SysResult<()> {
    rustix::process::set_child_subreaper(Some(rustix::process::getpid()))
        .ctx("prctl PR_SET_CHILD_SUBREAPER", Path::new(""))
}

/// How a process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Code(i32),
    Signal(i32),
}

impl Exit {
    /// The shell's and Docker's number: the exit code, or 128 + signal.
    pub fn code(self) -> i32 {
        match self {
            Exit::Code(c) => c,
            Exit::Signal(s) => 128 + s,
        }
    }
}

/// Block until child `pid` (our child or an adopted orphan) exits; reap it.
pub fn wait_child(pid: u32) -> SysResult<Exit> {
    let p = rustix::process::Pid::from_raw(pid as i32).ok_or_else(|| bad_pid(pid))?;
    loop {
        match rustix::process::waitpid(Some(p), rustix::process::WaitOptions::empty()) {
            Ok(Some((_, st))) => {
                if let Some(c) = st.exit_status() {
                    return Ok(Exit::Code(c));
                }
                if let Some(s) = st.terminating_signal() {
                    return Ok(Exit::Signal(s));
                }
            }
            Ok(None) => {}
            Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(SysError::new("waitpid", format!("pid {pid}"), e)),
        }
    }
}

fn bad_pid(pid: u32) -> SysError {
    SysError::new("pid", format!("pid {pid}"), io::Error::from(io::ErrorKind::InvalidInput))
}

/// A pidfd: a reference to one process that pid reuse cannot redirect.
#[derive(Debug)]
pub struct Pidfd(OwnedFd);

impl Pidfd {
    /// Open the process `pid` if it is still the one that started at `start`
    /// (clock ticks since boot, [`crate::process_start_time`]). `None` when it
    /// is gone (or the pid now names another process).
    pub fn open(pid: u32, start: u64) -> Option<Pidfd> {
        let p = rustix::process::Pid::from_raw(pid as i32)?;
        let fd = rustix::process::pidfd_open(p, rustix::process::PidfdFlags::empty()).ok()?;
        // Checked after opening: the fd now pins this process.
        if crate::process_start_time(pid) != Some(start) || is_zombie(pid) {
            return None;
        }
        Some(Pidfd(fd))
    }

    /// Send signal `sig` (a raw number).
    pub fn signal(&self, sig: i32) -> SysResult<()> {
        // SAFETY: plain syscall on a valid fd; null siginfo.
        let r =
            unsafe { libc::syscall(libc::SYS_pidfd_send_signal, self.0.as_raw_fd(), sig, std::ptr::null::<u8>(), 0) };
        if r == -1 {
            return Err(SysError::new("pidfd_send_signal", format!("signal {sig}"), io::Error::last_os_error()));
        }
        Ok(())
    }

    /// Wait up to `timeout` for the process to exit. True when it has.
    pub fn wait_timeout(&self, timeout: Duration) -> bool {
        poll_readable(self.0.as_fd(), timeout)
    }
}

fn is_zombie(pid: u32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { return true };
    match stat.rfind(')') {
        Some(i) => stat[i + 1..].trim_start().starts_with('Z'),
        None => false,
    }
}

/// Whether the process (pid, start) exists and has not exited (a zombie
/// counts as exited).
pub fn alive(pid: u32, start: u64) -> bool {
    pid != 0 && crate::process_alive(pid, start) && !is_zombie(pid)
}

/// poll(2) one fd for readability, retrying on EINTR until `timeout`.
pub fn poll_readable(fd: BorrowedFd<'_>, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let mut p = libc::pollfd { fd: fd.as_raw_fd(), events: libc::POLLIN, revents: 0 };
        let ms = left.as_millis().min(i32::MAX as u128) as i32;
        // SAFETY: one valid pollfd.
        let r = unsafe { libc::poll(&mut p, 1, ms) };
        if r > 0 {
            return true;
        }
        if r == 0 || io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) || left.is_zero() {
            return false;
        }
    }
}

/// A network namespace, held open by fd.
#[derive(Debug)]
pub struct NetNs(OwnedFd);

impl NetNs {
    /// The network namespace of process `pid` (`/proc/<pid>/ns/net`).
    pub fn of_pid(pid: u32) -> SysResult<NetNs> {
        let path = format!("/proc/{pid}/ns/net");
        let fd = rustix::fs::open(
            path.as_str(),
            rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::CLOEXEC,
            rustix::fs::Mode::empty(),
        )
        .ctx("open", Path::new(&path))?;
        Ok(NetNs(fd))
    }

    /// Move the calling thread (only it) into this namespace. Sockets it
    /// creates afterwards belong to the namespace wherever they are used.
    pub fn enter_current_thread(&self) -> SysResult<()> {
        rustix::thread::move_into_link_name_space(self.0.as_fd(), Some(rustix::thread::LinkNameSpaceType::Network))
            .ctx("setns", Path::new("net"))
    }
}

/// Receive one fd sent with SCM_RIGHTS (an OCI runtime's `--console-socket`).
pub fn recv_fd(stream: &UnixStream) -> SysResult<OwnedFd> {
    let mut data = [0u8; 256];
    let mut iov = libc::iovec { iov_base: data.as_mut_ptr().cast(), iov_len: data.len() };
    // Room for a few fds, aligned for cmsghdr.
    let mut cbuf = [0u64; 16];
    // SAFETY: msghdr points at live local buffers of the stated sizes.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = cbuf.as_mut_ptr().cast();
    msg.msg_controllen = std::mem::size_of_val(&cbuf) as _;
    let n = loop {
        // SAFETY: as above.
        let n = unsafe { libc::recvmsg(stream.as_raw_fd(), &mut msg, libc::MSG_CMSG_CLOEXEC) };
        if n == -1 && io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
            continue;
        }
        break n;
    };
    if n == -1 {
        return Err(SysError::new("recvmsg", "console socket", io::Error::last_os_error()));
    }
    let mut found: Option<OwnedFd> = None;
    // SAFETY: walking the control buffer the kernel filled, with the libc macros.
    unsafe {
        let mut c = libc::CMSG_FIRSTHDR(&msg);
        while !c.is_null() {
            if (*c).cmsg_level == libc::SOL_SOCKET && (*c).cmsg_type == libc::SCM_RIGHTS {
                let data = libc::CMSG_DATA(c) as *const RawFd;
                let count = ((*c).cmsg_len as usize - libc::CMSG_LEN(0) as usize) / std::mem::size_of::<RawFd>();
                for i in 0..count {
                    let fd = OwnedFd::from_raw_fd(std::ptr::read_unaligned(data.add(i)));
                    if found.is_none() {
                        found = Some(fd);
                    }
                }
            }
            c = libc::CMSG_NXTHDR(&msg, c);
        }
    }
    found.ok_or_else(|| SysError::new("recvmsg", "console socket", io::Error::other("no file descriptor received")))
}

/// A terminal put in raw mode; restored on drop.
pub struct RawTerminal {
    fd: RawFd,
    saved: libc::termios,
}

impl RawTerminal {
    /// Put the terminal on `fd` in raw mode (`cfmakeraw`). `None` when `fd` is
    /// not a terminal.
    pub fn enable(fd: BorrowedFd<'_>) -> SysResult<Option<RawTerminal>> {
        let raw_fd = fd.as_raw_fd();
        // SAFETY: termios is plain data; tcgetattr fills it or fails.
        let mut saved: libc::termios = unsafe { std::mem::zeroed() };
        if unsafe { libc::tcgetattr(raw_fd, &mut saved) } == -1 {
            return Ok(None);
        }
        let mut raw = saved;
        // SAFETY: valid termios pointers.
        unsafe { libc::cfmakeraw(&mut raw) };
        if unsafe { libc::tcsetattr(raw_fd, libc::TCSANOW, &raw) } == -1 {
            return Err(SysError::new("tcsetattr", "terminal", io::Error::last_os_error()));
        }
        Ok(Some(RawTerminal { fd: raw_fd, saved }))
    }
}

impl Drop for RawTerminal {
    fn drop(&mut self) {
        // SAFETY: restores the attributes read in `enable` on the same fd.
        unsafe { libc::tcsetattr(self.fd, libc::TCSANOW, &self.saved) };
    }
}

/// The window size (rows, columns) of the terminal on `fd`.
pub fn window_size(fd: BorrowedFd<'_>) -> Option<(u16, u16)> {
    // SAFETY: winsize is plain data filled by the ioctl.
    let mut ws: libc::winsize = unsafe { std::mem::zeroed() };
    if unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCGWINSZ, &mut ws) } == -1 || ws.ws_row == 0 {
        return None;
    }
    Some((ws.ws_row, ws.ws_col))
}

/// Set the window size of the terminal (or pty master) on `fd`.
pub fn set_window_size(fd: BorrowedFd<'_>, rows: u16, cols: u16) -> SysResult<()> {
    let ws = libc::winsize { ws_row: rows, ws_col: cols, ws_xpixel: 0, ws_ypixel: 0 };
    // SAFETY: valid winsize pointer.
    if unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCSWINSZ, &ws) } == -1 {
        return Err(SysError::new("ioctl TIOCSWINSZ", "terminal", io::Error::last_os_error()));
    }
    Ok(())
}

/// Slots of the live [`SignalCatcher`]s: a self-pipe write end and the
/// signals it wants. Read by the handler, so plain atomics.
const SLOTS: usize = 16;
static SLOT_FD: [AtomicI32; SLOTS] = [const { AtomicI32::new(-1) }; SLOTS];
static SLOT_MASK: [AtomicU64; SLOTS] = [const { AtomicU64::new(0) }; SLOTS];

/// Signals with our handler installed: how many catchers use each, and the
/// disposition to restore when the last one goes.
static INSTALLED: std::sync::Mutex<Vec<(i32, usize, libc::sigaction)>> = std::sync::Mutex::new(Vec::new());

extern "C" fn queue_signal(sig: libc::c_int) {
    let bit = 1u64 << (sig as u64 & 63);
    for i in 0..SLOTS {
        let fd = SLOT_FD[i].load(Ordering::Acquire);
        if fd >= 0 && SLOT_MASK[i].load(Ordering::Acquire) & bit != 0 {
            let b = sig as u8;
            // SAFETY: write(2) is async-signal-safe; one byte from the stack.
            unsafe { libc::write(fd, (&b as *const u8).cast(), 1) };
        }
    }
}

/// Catches signals while it lives: each delivery becomes one byte, the
/// signal number, readable from [`SignalCatcher::reader`]. Several catchers
/// may live at once (each gets the signals it asked for); the previous
/// dispositions come back when the last one using a signal is dropped, and
/// a dropped catcher's reader sees end of file. Used by a foreground `run` to
/// forward the signals it gets to the container (Docker's `--sig-proxy`).
pub struct SignalCatcher {
    reader: Option<std::fs::File>,
    _write: OwnedFd,
    slot: usize,
    signals: Vec<i32>,
}

impl SignalCatcher {
    pub fn install(signals: &[i32]) -> SysResult<SignalCatcher> {
        let (r, w) = std::io::pipe().map_err(|e| SysError::new("pipe", "signals", e))?;
        let write = OwnedFd::from(w);
        // Non-blocking: a handler must never block on a full pipe.
        // SAFETY: fcntl on an fd we own.
        unsafe { libc::fcntl(write.as_raw_fd(), libc::F_SETFL, libc::O_NONBLOCK) };
        let mut installed = INSTALLED.lock().unwrap_or_else(|p| p.into_inner());
        let slot = (0..SLOTS)
            .find(|&i| SLOT_FD[i].load(Ordering::Acquire) < 0)
            .ok_or_else(|| SysError::new("sigaction", "signals", io::Error::from(io::ErrorKind::ResourceBusy)))?;
        let mut mask = 0u64;
        for &sig in signals {
            mask |= 1u64 << (sig as u64 & 63);
            if let Some(e) = installed.iter_mut().find(|e| e.0 == sig) {
                e.1 += 1;
                continue;
            }
            // SAFETY: a zeroed sigaction with our handler and an empty mask;
            // the old action is kept to be restored.
            unsafe {
                let mut act: libc::sigaction = std::mem::zeroed();
                act.sa_sigaction = queue_signal as *const () as libc::sighandler_t;
                act.sa_flags = libc::SA_RESTART;
                libc::sigemptyset(&mut act.sa_mask);
                let mut old: libc::sigaction = std::mem::zeroed();
                if libc::sigaction(sig, &act, &mut old) == -1 {
                    return Err(SysError::new("sigaction", format!("signal {sig}"), io::Error::last_os_error()));
                }
                installed.push((sig, 1, old));
            }
        }
        SLOT_MASK[slot].store(mask, Ordering::Release);
        SLOT_FD[slot].store(write.as_raw_fd(), Ordering::Release);
        Ok(SignalCatcher {
            reader: Some(std::fs::File::from(OwnedFd::from(r))),
            _write: write,
            slot,
            signals: signals.to_vec(),
        })
    }

    /// The read end (take it once, e.g. into a forwarding thread).
    pub fn reader(&mut self) -> Option<std::fs::File> {
        self.reader.take()
    }
}

impl Drop for SignalCatcher {
    fn drop(&mut self) {
        let mut installed = INSTALLED.lock().unwrap_or_else(|p| p.into_inner());
        SLOT_FD[self.slot].store(-1, Ordering::Release);
        SLOT_MASK[self.slot].store(0, Ordering::Release);
        for sig in &self.signals {
            if let Some(i) = installed.iter().position(|e| e.0 == *sig) {
                installed[i].1 -= 1;
                if installed[i].1 == 0 {
                    let (_, _, old) = installed.remove(i);
                    // SAFETY: restores the action saved when it was installed.
                    unsafe { libc::sigaction(*sig, &old, std::ptr::null_mut()) };
                }
            }
        }
    }
}

/// This process's RLIMIT_NOFILE (soft, hard); `u64::MAX` for unlimited.
pub fn nofile_limit() -> (u64, u64) {
    let l = rustix::process::getrlimit(rustix::process::Resource::Nofile);
    (l.current.unwrap_or(u64::MAX), l.maximum.unwrap_or(u64::MAX))
}

/// The signal number for a Docker-style name: `SIGTERM`, `TERM`, `term`,
/// `15`, `SIGRTMIN+3`.
pub fn signal_number(name: &str) -> Option<i32> {
    let n = name.trim();
    if let Ok(v) = n.parse::<i32>() {
        return (1..=libc::SIGRTMAX()).contains(&v).then_some(v);
    }
    let up = n.to_ascii_uppercase();
    let bare = up.strip_prefix("SIG").unwrap_or(&up);
    if let Some(rest) = bare.strip_prefix("RTMIN") {
        let off: i32 = if rest.is_empty() { 0 } else { rest.strip_prefix('+')?.parse().ok()? };
        let v = libc::SIGRTMIN() + off;
        return (v <= libc::SIGRTMAX()).then_some(v);
    }
    if let Some(rest) = bare.strip_prefix("RTMAX") {
        let off: i32 = if rest.is_empty() { 0 } else { rest.strip_prefix('-')?.parse().ok()? };
        let v = libc::SIGRTMAX() - off;
        return (v >= libc::SIGRTMIN()).then_some(v);
    }
    SIGNALS.iter().find(|(s, _)| *s == bare).map(|(_, v)| *v)
}

/// The name (without `SIG`) of a standard signal number.
pub fn signal_name(sig: i32) -> Option<&'static str> {
    SIGNALS.iter().find(|(_, v)| *v == sig).map(|(s, _)| *s)
}

const SIGNALS: &[(&str, i32)] = &[
    ("ABRT", libc::SIGABRT),
    ("ALRM", libc::SIGALRM),
    ("BUS", libc::SIGBUS),
    ("CHLD", libc::SIGCHLD),
    ("CONT", libc::SIGCONT),
    ("FPE", libc::SIGFPE),
    ("HUP", libc::SIGHUP),
    ("ILL", libc::SIGILL),
    ("INT", libc::SIGINT),
    ("IO", libc::SIGIO),
    ("IOT", libc::SIGIOT),
    ("KILL", libc::SIGKILL),
    ("PIPE", libc::SIGPIPE),
    ("POLL", libc::SIGPOLL),
    ("PROF", libc::SIGPROF),
    ("PWR", libc::SIGPWR),
    ("QUIT", libc::SIGQUIT),
    ("SEGV", libc::SIGSEGV),
    ("STKFLT", libc::SIGSTKFLT),
    ("STOP", libc::SIGSTOP),
    ("SYS", libc::SIGSYS),
    ("TERM", libc::SIGTERM),
    ("TRAP", libc::SIGTRAP),
    ("TSTP", libc::SIGTSTP),
    ("TTIN", libc::SIGTTIN),
    ("TTOU", libc::SIGTTOU),
    ("URG", libc::SIGURG),
    ("USR1", libc::SIGUSR1),
    ("USR2", libc::SIGUSR2),
    ("VTALRM", libc::SIGVTALRM),
    ("WINCH", libc::SIGWINCH),
    ("XCPU", libc::SIGXCPU),
    ("XFSZ", libc::SIGXFSZ),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signal_names_like_docker() {
        assert_eq!(signal_number("SIGTERM"), Some(15));
        assert_eq!(signal_number("term"), Some(15));
        assert_eq!(signal_number("KILL"), Some(9));
        assert_eq!(signal_number("9"), Some(9));
        assert_eq!(signal_number("SIGRTMIN+1"), Some(libc::SIGRTMIN() + 1));
        assert_eq!(signal_number("0"), None);
        assert_eq!(signal_number("NOPE"), None);
        assert_eq!(signal_name(15), Some("TERM"));
    }

    #[test]
    fn signal_catchers_queue_and_restore() {
        let mut a = SignalCatcher::install(&[libc::SIGUSR2]).unwrap();
        let mut b = SignalCatcher::install(&[libc::SIGUSR2, libc::SIGWINCH]).unwrap();
        let (mut ra, mut rb) = (a.reader().unwrap(), b.reader().unwrap());
        // SAFETY: raising signals we handle.
        unsafe { libc::raise(libc::SIGUSR2) };
        unsafe { libc::raise(libc::SIGWINCH) };
        let mut buf = [0u8; 2];
        std::io::Read::read_exact(&mut rb, &mut buf).unwrap();
        assert_eq!(buf, [libc::SIGUSR2 as u8, libc::SIGWINCH as u8]);
        drop(b);
        let mut rest = Vec::new();
        std::io::Read::read_to_end(&mut rb, &mut rest).unwrap();
        assert!(rest.is_empty());
        // `a` still catches SIGUSR2 (and did not get SIGWINCH).
        unsafe { libc::raise(libc::SIGUSR2) };
        drop(a);
        std::io::Read::read_to_end(&mut ra, &mut rest).unwrap();
        assert_eq!(rest, [libc::SIGUSR2 as u8, libc::SIGUSR2 as u8]);
        assert!(INSTALLED.lock().unwrap().iter().all(|e| e.0 != libc::SIGUSR2));
    }

    #[test]
    fn exit_codes() {
        assert_eq!(Exit::Code(3).code(), 3);
        assert_eq!(Exit::Signal(9).code(), 137);
    }

    #[test]
    fn detached_spawn_is_not_our_child_and_pidfd_sees_exit() {
        let t = tempfile::tempdir().unwrap();
        let out = t.path().join("pid");
        let mut cmd = Command::new("/bin/sh");
        cmd.arg("-c").arg(format!("echo $$ > {}; sleep 0.3", out.display()));
        spawn_detached(&mut cmd).unwrap();
        let pid: u32 = loop {
            if let Ok(s) = std::fs::read_to_string(&out)
                && s.ends_with('\n')
            {
                break s.trim().parse().unwrap();
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        let start = crate::process_start_time(pid).unwrap();
        // A new session: its own session id.
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
        let fields: Vec<&str> = stat[stat.rfind(')').unwrap() + 2..].split(' ').collect();
        assert_eq!(fields[3], pid.to_string(), "session id");
        assert_ne!(fields[1], std::process::id().to_string(), "parent");
        let fd = Pidfd::open(pid, start).unwrap();
        assert!(alive(pid, start));
        assert!(fd.wait_timeout(Duration::from_secs(5)));
        assert!(Pidfd::open(pid, start + 1).is_none());
    }
}
