use std::path::PathBuf;

/// A failed syscall, with the operation and the path it was applied to.
#[derive(Debug, thiserror::Error)]
#[error("{op} {}: {source}", path.display())]
pub struct SysError {
    pub op: &'static str,
    pub path: PathBuf,
    #[source]
    pub source: std::io::Error,
}

impl SysError {
    pub fn new(op: &'static str, path: impl Into<PathBuf>, source: impl Into<std::io::Error>) -> Self {
        SysError { op, path: path.into(), source: source.into() }
    }

    pub fn raw_os_error(&self) -> Option<i32> {
        self.source.raw_os_error()
    }

    pub fn kind(&self) -> std::io::ErrorKind {
        self.source.kind()
    }
}

pub type SysResult<T> = Result<T, SysError>;

/// Attach an operation name and path to an `io::Result` or `rustix::io::Result`.
pub(crate) trait Ctx<T> {
    fn ctx(self, op: &'static str, path: &std::path::Path) -> SysResult<T>;
}

impl<T> Ctx<T> for std::io::Result<T> {
    fn ctx(self, op: &'static str, path: &std::path::Path) -> SysResult<T> {
        self.map_err(|e| SysError::new(op, path, e))
    }
}

impl<T> Ctx<T> for rustix::io::Result<T> {
    fn ctx(self, op: &'static str, path: &std::path::Path) -> SysResult<T> {
        self.map_err(|e| SysError::new(op, path, std::io::Error::from(e)))
    }
}
