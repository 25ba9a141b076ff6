//! The one place that writes to the terminal: every byte on stdout and stderr,
//! and the confirmation prompts read from stdin, go through a [`Printer`].
//! Commands never touch `std::io::stdout()` directly, so tests can capture all
//! output with [`Printer::captured`].

#[cfg(test)]
use std::cell::RefCell;
use std::io::{self, BufRead, IsTerminal, Write};
#[cfg(test)]
use std::rc::Rc;

/// Where output goes and what the streams are connected to.
pub struct Printer {
    out: Box<dyn Write>,
    err: Box<dyn Write>,
    input: Box<dyn BufRead>,
    stdout_tty: bool,
    stderr_tty: bool,
    stdin_tty: bool,
}

/// Captured output of a [`Printer::captured`] printer.
#[cfg(test)]
#[derive(Clone, Default)]
pub struct Captured {
    pub out: Rc<RefCell<Vec<u8>>>,
    pub err: Rc<RefCell<Vec<u8>>>,
}

#[cfg(test)]
impl Captured {
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.out.borrow()).into_owned()
    }
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.err.borrow()).into_owned()
    }
}

#[cfg(test)]
struct Shared(Rc<RefCell<Vec<u8>>>);

#[cfg(test)]
impl Write for Shared {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.borrow_mut().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Printer {
    /// The process's stdout, stderr and stdin.
    pub fn stdio() -> Printer {
        Printer {
            stdout_tty: io::stdout().is_terminal(),
            stderr_tty: io::stderr().is_terminal(),
            stdin_tty: io::stdin().is_terminal(),
            out: Box::new(io::BufWriter::new(io::stdout())),
            err: Box::new(io::stderr()),
            input: Box::new(io::BufReader::new(io::stdin())),
        }
    }

    /// A printer writing into memory, reading `input`; for tests.
    #[cfg(test)]
    pub fn captured(input: &str) -> (Printer, Captured) {
        let cap = Captured::default();
        let p = Printer {
            out: Box::new(Shared(cap.out.clone())),
            err: Box::new(Shared(cap.err.clone())),
            input: Box::new(io::Cursor::new(input.as_bytes().to_vec())),
            stdout_tty: false,
            stderr_tty: false,
            stdin_tty: false,
        };
        (p, cap)
    }

    pub fn stdout_is_terminal(&self) -> bool {
        self.stdout_tty
    }

    pub fn stderr_is_terminal(&self) -> bool {
        self.stderr_tty
    }

    pub fn stdin_is_terminal(&self) -> bool {
        self.stdin_tty
    }

    /// Write `s` to stdout as is.
    pub fn out(&mut self, s: &str) -> io::Result<()> {
        self.out.write_all(s.as_bytes())
    }

    /// Write `s` and a newline to stdout.
    pub fn outln(&mut self, s: &str) -> io::Result<()> {
        self.out.write_all(s.as_bytes())?;
        self.out.write_all(b"\n")
    }

    /// The raw stdout stream, for binary output (`save` without `-o`).
    pub fn out_stream(&mut self) -> &mut dyn Write {
        &mut *self.out
    }

    /// Write `s` and a newline to stderr (stdout is flushed first so the two
    /// streams interleave in order on a terminal).
    pub fn errln(&mut self, s: &str) -> io::Result<()> {
        let _ = self.out.flush();
        self.err.write_all(s.as_bytes())?;
        self.err.write_all(b"\n")
    }

    /// Write `s` to stderr as is.
    pub fn err(&mut self, s: &str) -> io::Result<()> {
        let _ = self.out.flush();
        self.err.write_all(s.as_bytes())
    }

    /// `Error: <message>` on stderr, Docker's way of reporting a failure.
    pub fn error(&mut self, message: &str) -> io::Result<()> {
        self.errln(&format!("Error: {message}"))
    }

    /// Docker's confirmation prompt: prints `message [y/N] ` on stdout and reads
    /// one line; only `y`/`Y` confirms (EOF declines).
    pub fn confirm(&mut self, message: &str) -> io::Result<bool> {
        self.out(&format!("{message} [y/N] "))?;
        self.out.flush()?;
        let mut line = String::new();
        self.input.read_line(&mut line)?;
        Ok(line.trim().eq_ignore_ascii_case("y"))
    }

    /// The input stream (stdin), for commands that read data from it.
    pub fn take_input(&mut self) -> Box<dyn BufRead> {
        std::mem::replace(&mut self.input, Box::new(io::Cursor::new(Vec::new())))
    }

    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()?;
        self.err.flush()
    }
}

/// The stream log records (`--log-level`) are written to: stderr, unbuffered,
/// so they interleave with a command's own stderr output.
pub fn log_stream() -> io::Stderr {
    io::stderr()
}

impl Drop for Printer {
    fn drop(&mut self) {
        let _ = self.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn captures_both_streams_and_prompts() {
        let (mut p, cap) = Printer::captured("y\n");
        p.outln("hello").unwrap();
        p.error("No such image: x").unwrap();
        assert!(p.confirm("Sure?").unwrap());
        assert!(!p.confirm("Again?").unwrap());
        drop(p);
        assert_eq!(cap.stdout(), "hello\nSure? [y/N] Again? [y/N] ");
        assert_eq!(cap.stderr(), "Error: No such image: x\n");
    }
}
