//! The only strata crate that issues privileged syscalls or contains `unsafe`.
//!
//! Everything else in the workspace is `#![forbid(unsafe_code)]` and reaches the
//! kernel through the small, typed functions here:
//!
//! - [`fs`]: ownership, times, device nodes, whiteouts, xattrs, durable writes.
//! - [`root`]: path resolution confined to a directory (openat2 `RESOLVE_IN_ROOT`).
//! - [`mount`]: [`mount::MountSpec`] values that drivers describe, performed in one place.
//! - [`mount_fd`]: bind mounts onto confined-resolved fds; mount facts of an fd.
//! - [`ns`]: private mount namespaces (`docker cp`'s per-copy view).
//! - [`btrfs`]: subvolume and snapshot ioctls.
//! - [`copy`]: file data copies through reflink, `copy_file_range`, or read/write.
//! - [`probe`]: what the host and a backing filesystem support.
//! - [`process`]: daemonising, reaping, pidfds, network namespaces, terminals, signals.

pub mod btrfs;
pub mod copy;
pub mod fs;
pub mod mount;
pub mod mount_fd;
pub mod ns;
pub mod probe;
pub mod process;
pub mod root;

mod error;
pub use error::{SysError, SysResult};

/// 32 random bytes as 64 lowercase hex characters (Docker's ID shape).
pub fn random_id() -> String {
    let mut buf = [0u8; 32];
    let mut filled = 0;
    while filled < buf.len() {
        match rustix::rand::getrandom(&mut buf[filled..], rustix::rand::GetRandomFlags::empty()) {
            Ok(n) => filled += n,
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => panic!("getrandom failed: {e}"),
        }
    }
    buf.iter().map(|b| format!("{b:02x}")).collect()
}

/// Start time of a process in clock ticks since boot (field 22 of /proc/PID/stat),
/// so a recorded (pid, start) pair identifies a process even after pid reuse.
pub fn process_start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // comm may contain spaces and parentheses; fields resume after the last ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    rest.split(' ').nth(19)?.parse().ok()
}

/// Whether the process identified by (pid, start time) still exists.
pub fn process_alive(pid: u32, start: u64) -> bool {
    process_start_time(pid) == Some(start)
}
