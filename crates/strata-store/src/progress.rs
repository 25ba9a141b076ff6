//! Progress of long work (load, save, import), reported by the engine and
//! drawn by the CLI only when stdout is a terminal.

/// Receives progress events. All methods default to doing nothing.
pub trait Progress: Sync {
    /// A new unit of work starts (`label` e.g. a layer's short digest); `total` in bytes when known.
    fn begin(&self, _label: &str, _total: Option<u64>) {}
    /// `bytes` more of the current unit are done.
    fn advance(&self, _bytes: u64) {}
    /// The current unit is done.
    fn end(&self) {}
}

/// Reports nothing.
pub struct NoProgress;

impl Progress for NoProgress {}

/// A reader that reports bytes read to a [`Progress`].
pub struct ProgressReader<'a, R> {
    inner: R,
    progress: &'a dyn Progress,
}

impl<'a, R> ProgressReader<'a, R> {
    pub fn new(inner: R, progress: &'a dyn Progress) -> Self {
        ProgressReader { inner, progress }
    }
}

impl<R: std::io::Read> std::io::Read for ProgressReader<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.progress.advance(n as u64);
        Ok(n)
    }
}

/// A writer that reports bytes written to a [`Progress`].
pub struct ProgressWriter<'a, W> {
    inner: W,
    progress: &'a dyn Progress,
}

impl<'a, W> ProgressWriter<'a, W> {
    pub fn new(inner: W, progress: &'a dyn Progress) -> Self {
        ProgressWriter { inner, progress }
    }
}

impl<W: std::io::Write> std::io::Write for ProgressWriter<'_, W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.progress.advance(n as u64);
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}
