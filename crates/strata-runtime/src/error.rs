//! Errors of the runtime, each naming its subject, with the exit code Docker
//! gives them (`run`: 125 engine error, 126 command not executable, 127
//! command not found).

use std::path::PathBuf;

use strata_store::{ErrorKind, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Sys(#[from] strata_sys::SysError),
    #[error("{op} {}: {source}", path.display())]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The command is not in the container's `$PATH` (127).
    #[error("exec: \"{cmd}\": executable file not found in $PATH")]
    CommandNotFound { cmd: String },
    /// An explicit command path that does not exist (127).
    #[error("exec: \"{cmd}\": stat {cmd}: no such file or directory")]
    CommandMissing { cmd: String },
    /// The command exists but cannot be executed (126).
    #[error("exec: \"{cmd}\": {reason}")]
    CommandNotExecutable { cmd: String, reason: String },
    #[error("No command specified")]
    NoCommand,
    #[error("unable to find user {user}: no matching entries in passwd file")]
    NoSuchUser { user: String },
    #[error("unable to find group {group}: no matching entries in group file")]
    NoSuchGroup { group: String },
    #[error("invalid user specification {spec:?}: {reason}")]
    InvalidUser { spec: String, reason: String },
    /// The OCI runtime failed; `message` is its own error text (stderr or
    /// the last error of its `--log`).
    #[error("OCI runtime {op} failed: {message}")]
    Oci { runtime: String, op: &'static str, message: String },
    #[error("Container {id} is not running")]
    NotRunning { id: String },
    #[error("container {id} is already running")]
    AlreadyRunning { id: String },
    #[error("{what}: {reason}")]
    Invalid { what: String, reason: String },
    #[error("Bind for {addr} failed: port is already allocated")]
    PortInUse { addr: String },
    #[error("{0}")]
    Unsupported(String),
    /// An error the container's monitor reported, with the exit code it chose.
    #[error("{message}")]
    Reported { code: i32, kind: String, message: String },
    /// The monitor went away without reporting.
    #[error("container monitor for {id} exited unexpectedly{}", if detail.is_empty() { String::new() } else { format!(": {detail}") })]
    MonitorDied { id: String, detail: String },
    #[error("timed out after {secs}s waiting for container {id} to {what}")]
    Timeout { id: String, what: &'static str, secs: u64 },
}

impl RuntimeError {
    pub fn io(op: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        RuntimeError::Io { op, path: path.into(), source }
    }

    pub fn invalid(what: impl Into<String>, reason: impl Into<String>) -> Self {
        RuntimeError::Invalid { what: what.into(), reason: reason.into() }
    }

    /// The exit code of `run`/`start`/`exec` when this error stops them.
    pub fn exit_code(&self) -> i32 {
        match self {
            RuntimeError::CommandNotFound { .. } | RuntimeError::CommandMissing { .. } => 127,
            RuntimeError::CommandNotExecutable { .. } => 126,
            RuntimeError::Reported { code, .. } => *code,
            RuntimeError::Oci { message, .. } => oci_message_code(message),
            _ => 125,
        }
    }

    pub fn kind(&self) -> ErrorKind {
        match self {
            RuntimeError::Store(e) => e.kind(),
            RuntimeError::NotRunning { .. } | RuntimeError::AlreadyRunning { .. } | RuntimeError::PortInUse { .. } => {
                ErrorKind::InUse
            }
            RuntimeError::Invalid { .. }
            | RuntimeError::InvalidUser { .. }
            | RuntimeError::NoSuchUser { .. }
            | RuntimeError::NoSuchGroup { .. }
            | RuntimeError::NoCommand
            | RuntimeError::CommandNotFound { .. }
            | RuntimeError::CommandMissing { .. }
            | RuntimeError::CommandNotExecutable { .. } => ErrorKind::InvalidArgument,
            RuntimeError::Unsupported(_) => ErrorKind::Unsupported,
            RuntimeError::Reported { kind, .. } => kind_from_name(kind),
            _ => ErrorKind::Io,
        }
    }
}

/// Docker's mapping of runtime start errors to exit codes (moby
/// `translateContainerdStartErr`): not found → 127, permission → 126.
pub(crate) fn oci_message_code(message: &str) -> i32 {
    let m = message.to_ascii_lowercase();
    if m.contains("executable file not found") || m.contains("no such file or directory") && m.contains("exec") {
        127
    } else if m.contains("permission denied") && m.contains("exec") || m.contains("is a directory") {
        126
    } else {
        125
    }
}

pub(crate) fn kind_name(k: ErrorKind) -> &'static str {
    match k {
        ErrorKind::NotFound => "NotFound",
        ErrorKind::AlreadyExists => "AlreadyExists",
        ErrorKind::InUse => "InUse",
        ErrorKind::InvalidArgument => "InvalidArgument",
        ErrorKind::Unsupported => "Unsupported",
        ErrorKind::Corrupt => "Corrupt",
        ErrorKind::Io => "Io",
    }
}

fn kind_from_name(s: &str) -> ErrorKind {
    match s {
        "NotFound" => ErrorKind::NotFound,
        "AlreadyExists" => ErrorKind::AlreadyExists,
        "InUse" => ErrorKind::InUse,
        "InvalidArgument" => ErrorKind::InvalidArgument,
        "Unsupported" => ErrorKind::Unsupported,
        "Corrupt" => ErrorKind::Corrupt,
        _ => ErrorKind::Io,
    }
}

pub type Result<T, E = RuntimeError> = std::result::Result<T, E>;

/// Attach an operation and path to `io::Result`s.
pub(crate) trait IoCtx<T> {
    fn ctx(self, op: &'static str, path: &std::path::Path) -> Result<T>;
}

impl<T> IoCtx<T> for std::io::Result<T> {
    fn ctx(self, op: &'static str, path: &std::path::Path) -> Result<T> {
        self.map_err(|e| RuntimeError::io(op, path, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_like_docker() {
        assert_eq!(RuntimeError::CommandNotFound { cmd: "foo".into() }.exit_code(), 127);
        assert_eq!(
            RuntimeError::CommandNotFound { cmd: "foo".into() }.to_string(),
            "exec: \"foo\": executable file not found in $PATH"
        );
        assert_eq!(
            RuntimeError::CommandNotExecutable { cmd: "/etc".into(), reason: "is a directory".into() }.exit_code(),
            126
        );
        assert_eq!(RuntimeError::NotRunning { id: "x".into() }.exit_code(), 125);
        let oci = |m: &str| RuntimeError::Oci { runtime: "runc".into(), op: "create", message: m.into() }.exit_code();
        assert_eq!(oci("unable to start container process: exec: \"x\": executable file not found in $PATH"), 127);
        assert_eq!(oci("unable to start container process: exec: \"/etc/passwd\": permission denied"), 126);
        assert_eq!(oci("cgroup: something"), 125);
    }
}
