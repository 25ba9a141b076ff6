//! Errors of a build. Messages are Docker's where Docker has one (the
//! legacy builder's texts); every variant names its subject.

use std::path::PathBuf;

use strata_store::ErrorKind;

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("{0}")]
    Parse(#[from] crate::parser::ParseError),
    /// A RUN whose command exited non-zero (Docker's exact text).
    #[error("The command '{command}' returned a non-zero code: {code}")]
    CommandFailed { command: String, code: i32 },
    /// An instruction that cannot be carried out as written (bad flag value,
    /// unknown stage, expansion error...), with its keyword.
    #[error("{instruction} failed: {message}")]
    Instruction { instruction: &'static str, message: String },
    /// ADD/COPY sources: Docker's `COPY failed: ...` texts.
    #[error("{instruction} failed: {message}")]
    Source { instruction: &'static str, message: String },
    /// The context or the Dockerfile could not be read.
    #[error("unable to prepare context: {0}")]
    Context(String),
    #[error("{message}")]
    InvalidArgument { message: String },
    /// Ctrl-C (SIGINT) or SIGTERM during the build.
    #[error("build interrupted")]
    Interrupted,
    #[error("{op} {}: {source}", path.display())]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Store(#[from] strata_store::StoreError),
    #[error(transparent)]
    Runtime(#[from] strata_runtime::RuntimeError),
    #[error(transparent)]
    Copy(#[from] strata_archive::cp::CpError),
    #[error(transparent)]
    Archive(#[from] strata_archive::ArchiveError),
    #[error(transparent)]
    Sys(#[from] strata_sys::SysError),
    /// A `-q` build that failed: the step log it did not print, and why.
    /// The CLI prints `log` (to stderr) before the message, as Docker does.
    #[error("{source}")]
    Quiet { log: String, source: Box<BuildError> },
}

impl BuildError {
    /// The store's error kinds, for the CLI's message and exit-code mapping.
    pub fn kind(&self) -> ErrorKind {
        match self {
            BuildError::Store(e) => e.kind(),
            BuildError::Quiet { source, .. } => source.kind(),
            BuildError::Runtime(e) => e.kind(),
            BuildError::Parse(_)
            | BuildError::Instruction { .. }
            | BuildError::Source { .. }
            | BuildError::Context(_)
            | BuildError::InvalidArgument { .. } => ErrorKind::InvalidArgument,
            BuildError::CommandFailed { .. } | BuildError::Interrupted => ErrorKind::Io,
            BuildError::Io { .. } | BuildError::Copy(_) | BuildError::Archive(_) | BuildError::Sys(_) => ErrorKind::Io,
        }
    }

    /// `docker build` exits 1 whatever failed.
    pub fn exit_code(&self) -> i32 {
        1
    }

    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> BuildError {
        BuildError::Io { op, path: path.into(), source }
    }

    pub(crate) fn invalid(message: impl Into<String>) -> BuildError {
        BuildError::InvalidArgument { message: message.into() }
    }
}

pub type Result<T, E = BuildError> = std::result::Result<T, E>;
