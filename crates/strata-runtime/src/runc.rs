//! The OCI runtime behind a narrow trait, and its implementation by the
//! `runc` command line (`crun` and `youki` take the same arguments, so
//! `--runtime PATH` selects them through the same type).
//!
//! Every call passes `--root <run_root>/<runtime name>` (runc's state lives
//! with strata's, not in `/run/runc`) and, when a container's log is known,
//! `--log <run dir>/runtime.log --log-format json`. Errors carry the
//! runtime's own message: its stderr, or for `create`/`run` (whose stdio is
//! the container's) the last `error` entry of that log.

use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde::Deserialize;

use crate::error::{Result, RuntimeError};

/// The stdio given to a process started through the runtime.
pub struct ProcessIo {
    pub stdin: Stdio,
    pub stdout: Stdio,
    pub stderr: Stdio,
}

impl ProcessIo {
    pub fn null() -> ProcessIo {
        ProcessIo { stdin: Stdio::null(), stdout: Stdio::null(), stderr: Stdio::null() }
    }

    pub fn inherit() -> ProcessIo {
        ProcessIo { stdin: Stdio::inherit(), stdout: Stdio::inherit(), stderr: Stdio::inherit() }
    }
}

/// `create` / `run --detach` arguments.
#[derive(Debug, Clone)]
pub struct CreateOpts<'a> {
    pub bundle: &'a Path,
    pub pid_file: &'a Path,
    /// With `process.terminal`: where the runtime sends the pty master.
    pub console_socket: Option<&'a Path>,
}

/// `exec` arguments.
#[derive(Debug, Clone)]
pub struct ExecSpec<'a> {
    /// The OCI `process` JSON.
    pub process_json: &'a Path,
    pub tty: bool,
    pub detach: bool,
}

/// `state` output (the OCI state, the fields strata reads).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct RuntimeState {
    pub id: String,
    #[serde(default)]
    pub pid: i64,
    /// creating | created | running | stopped (| paused)
    pub status: String,
}

/// An OCI runtime (runc, crun, youki, or a fake in tests).
pub trait OciRuntime: Send + Sync {
    fn name(&self) -> String;
    /// Create the container (its init waits for `start`).
    fn create(&self, id: &str, opts: &CreateOpts<'_>, io: ProcessIo) -> Result<()>;
    fn start(&self, id: &str) -> Result<()>;
    /// Create and start in one call (`runc run --detach`); returns once the
    /// process runs. The default calls `create` then `start`.
    fn run_detached(&self, id: &str, opts: &CreateOpts<'_>, io: ProcessIo) -> Result<()> {
        self.create(id, opts, io)?;
        self.start(id)
    }
    fn kill(&self, id: &str, signal: i32) -> Result<()>;
    fn delete(&self, id: &str, force: bool) -> Result<()>;
    fn state(&self, id: &str) -> Result<RuntimeState>;
    /// Run a process in the container; returns its exit code (128+signal),
    /// or 0 at once with `detach`.
    fn exec(&self, id: &str, spec: &ExecSpec<'_>, io: ProcessIo) -> Result<i32>;
    /// Host pids of the container's processes.
    fn ps(&self, id: &str) -> Result<Vec<u32>>;
}

/// The runc command line.
#[derive(Debug, Clone)]
pub struct Runc {
    pub binary: PathBuf,
    pub root: PathBuf,
    pub log: Option<PathBuf>,
}

/// Where runc usually is (searched after `$PATH`).
const RUNC_DIRS: &[&str] = &["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"];

/// Find the default runtime binary, `runc`.
pub fn find_runc() -> Option<PathBuf> {
    let path = std::env::var("PATH").unwrap_or_default();
    path.split(':')
        .filter(|d| !d.is_empty())
        .chain(RUNC_DIRS.iter().copied())
        .map(|d| Path::new(d).join("runc"))
        .find(|p| p.is_file())
}

impl Runc {
    /// `binary` (default: `runc` from `$PATH`) with its state under
    /// `<run_root>/<binary name>`.
    pub fn new(binary: Option<&Path>, run_root: &Path) -> Result<Runc> {
        let binary = match binary {
            Some(b) => b.to_path_buf(),
            None => find_runc().ok_or_else(|| {
                RuntimeError::Unsupported("no OCI runtime: runc not found in $PATH (install the runc package)".into())
            })?,
        };
        let name = binary.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "runtime".into());
        Ok(Runc { root: run_root.join(name), binary, log: None })
    }

    pub fn with_log(mut self, log: PathBuf) -> Runc {
        self.log = Some(log);
        self
    }

    /// Whether the runtime still has state for `id` (cheaper than `state`).
    pub fn has_state(&self, id: &str) -> bool {
        self.root.join(id).exists()
    }

    fn command(&self) -> Command {
        let mut c = Command::new(&self.binary);
        c.arg("--root").arg(&self.root);
        if let Some(l) = &self.log {
            c.arg("--log").arg(l).arg("--log-format").arg("json");
        }
        c.env_remove(crate::monitor::OPTS_ENV);
        c
    }

    fn name_str(&self) -> String {
        self.binary.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
    }

    fn log_len(&self) -> u64 {
        self.log.as_ref().and_then(|l| std::fs::metadata(l).ok()).map(|m| m.len()).unwrap_or(0)
    }

    /// The last error the runtime logged after `offset`.
    fn logged_error(&self, offset: u64) -> Option<String> {
        let mut f = std::fs::File::open(self.log.as_ref()?).ok()?;
        f.seek(SeekFrom::Start(offset)).ok()?;
        let mut s = String::new();
        f.read_to_string(&mut s).ok()?;
        s.lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter(|v| matches!(v["level"].as_str(), Some("error" | "fatal")))
            .filter_map(|v| v["msg"].as_str().map(String::from))
            .next_back()
    }

    fn fail(&self, op: &'static str, message: String) -> RuntimeError {
        RuntimeError::Oci { runtime: self.name_str(), op, message }
    }

    fn spawn_err(&self, op: &'static str, e: std::io::Error) -> RuntimeError {
        RuntimeError::io(if op == "exec" { "run runtime exec" } else { "run runtime" }, &self.binary, e)
    }

    /// Run with captured stdout/stderr; a failure carries stderr (or the log).
    fn captured(&self, op: &'static str, args: &[&str]) -> Result<Vec<u8>> {
        let offset = self.log_len();
        let out = self
            .command()
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .output()
            .map_err(|e| self.spawn_err(op, e))?;
        if out.status.success() {
            return Ok(out.stdout);
        }
        let stderr = String::from_utf8_lossy(&out.stderr).trim().to_string();
        let msg = if stderr.is_empty() {
            self.logged_error(offset).unwrap_or_else(|| out.status.to_string())
        } else {
            stderr
        };
        Err(self.fail(op, msg))
    }

    /// Run with the container's stdio; a failure carries the logged error.
    fn with_io(&self, op: &'static str, args: &[&std::ffi::OsStr], io: ProcessIo) -> Result<()> {
        let offset = self.log_len();
        let st = self
            .command()
            .args(args)
            .stdin(io.stdin)
            .stdout(io.stdout)
            .stderr(io.stderr)
            .status()
            .map_err(|e| self.spawn_err(op, e))?;
        if st.success() {
            return Ok(());
        }
        Err(self.fail(op, self.logged_error(offset).unwrap_or_else(|| st.to_string())))
    }

    fn create_args<'a>(&self, verb: &'a str, id: &'a str, opts: &'a CreateOpts<'_>) -> Vec<&'a std::ffi::OsStr> {
        let mut a: Vec<&std::ffi::OsStr> = vec![verb.as_ref()];
        if verb == "run" {
            a.push("--detach".as_ref());
        }
        a.extend(["--bundle".as_ref(), opts.bundle.as_os_str(), "--pid-file".as_ref(), opts.pid_file.as_os_str()]);
        if let Some(s) = opts.console_socket {
            a.extend(["--console-socket".as_ref(), s.as_os_str()]);
        }
        a.push(id.as_ref());
        a
    }
}

impl OciRuntime for Runc {
    fn name(&self) -> String {
        self.name_str()
    }

    fn create(&self, id: &str, opts: &CreateOpts<'_>, io: ProcessIo) -> Result<()> {
        self.with_io("create", &self.create_args("create", id, opts), io)
    }

    fn start(&self, id: &str) -> Result<()> {
        self.captured("start", &["start", id]).map(|_| ())
    }

    fn run_detached(&self, id: &str, opts: &CreateOpts<'_>, io: ProcessIo) -> Result<()> {
        self.with_io("run", &self.create_args("run", id, opts), io)
    }

    fn kill(&self, id: &str, signal: i32) -> Result<()> {
        self.captured("kill", &["kill", id, &signal.to_string()]).map(|_| ())
    }

    fn delete(&self, id: &str, force: bool) -> Result<()> {
        let mut a = vec!["delete"];
        if force {
            a.push("--force");
        }
        a.push(id);
        self.captured("delete", &a).map(|_| ())
    }

    fn state(&self, id: &str) -> Result<RuntimeState> {
        let out = self.captured("state", &["state", id])?;
        serde_json::from_slice(&out).map_err(|e| self.fail("state", format!("unreadable state: {e}")))
    }

    fn exec(&self, id: &str, spec: &ExecSpec<'_>, io: ProcessIo) -> Result<i32> {
        let offset = self.log_len();
        let mut c = self.command();
        c.arg("exec").arg("--process").arg(spec.process_json);
        if spec.tty {
            c.arg("--tty");
        }
        if spec.detach {
            c.arg("--detach");
        }
        let st = c
            .arg(id)
            .stdin(io.stdin)
            .stdout(io.stdout)
            .stderr(io.stderr)
            .status()
            .map_err(|e| self.spawn_err("exec", e))?;
        use std::os::unix::process::ExitStatusExt;
        let code = st.code().unwrap_or_else(|| 128 + st.signal().unwrap_or(0));
        // runc exits 255 when exec itself failed, and logs why.
        if code == 255
            && let Some(msg) = self.logged_error(offset)
        {
            return Err(self.fail("exec", msg));
        }
        Ok(code)
    }

    fn ps(&self, id: &str) -> Result<Vec<u32>> {
        let out = self.captured("ps", &["ps", "--format", "json", id])?;
        let pids: Option<Vec<u32>> =
            serde_json::from_slice(&out).map_err(|e| self.fail("ps", format!("unreadable output: {e}")))?;
        Ok(pids.unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fake runtime: a shell script that records its arguments and fails
    /// like runc (stderr + json log) for chosen verbs.
    fn fake(dir: &Path) -> Runc {
        let bin = dir.join("fakerunc");
        let script = format!(
            r#"#!/bin/sh
echo "$@" >> {calls}
log=""
while [ $# -gt 0 ]; do case "$1" in --log) log="$2"; shift 2;; --root|--log-format) shift 2;; *) break;; esac; done
case "$1" in
  kill) echo "container not running" >&2; exit 1;;
  run) echo '{{"level":"error","msg":"runc run failed: unable to start container process: exec: \"nope\": executable file not found in $PATH","time":"x"}}' >> "$log"; echo noise >&2; exit 1;;
  state) echo '{{"ociVersion":"1.0.2","id":"c1","pid":42,"status":"running","bundle":"/b"}}';;
  ps) echo '[42,43]';;
  exec) exit 7;;
esac
"#,
            calls = dir.join("calls").display()
        );
        std::fs::write(&bin, script).unwrap();
        std::fs::set_permissions(&bin, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        Runc::new(Some(&bin), &dir.join("run")).unwrap().with_log(dir.join("runtime.log"))
    }

    #[test]
    fn runc_command_lines_and_errors() {
        let t = tempfile::tempdir().unwrap();
        let r = fake(t.path());
        assert_eq!(r.root, t.path().join("run/fakerunc"));
        assert_eq!(r.state("c1").unwrap(), RuntimeState { id: "c1".into(), pid: 42, status: "running".into() });
        assert_eq!(r.ps("c1").unwrap(), vec![42, 43]);
        let e = r.kill("c1", 15).unwrap_err();
        assert_eq!(e.to_string(), "OCI runtime kill failed: container not running");
        let b = t.path().join("bundle");
        let pid = t.path().join("pid");
        let opts = CreateOpts { bundle: &b, pid_file: &pid, console_socket: None };
        let e = r.run_detached("c1", &opts, ProcessIo::null()).unwrap_err();
        assert_eq!(e.exit_code(), 127, "{e}");
        assert!(e.to_string().contains("executable file not found"), "{e}");
        let pj = t.path().join("p.json");
        assert_eq!(
            r.exec("c1", &ExecSpec { process_json: &pj, tty: false, detach: false }, ProcessIo::null()).unwrap(),
            7
        );
        r.delete("c1", true).unwrap();
        let calls = std::fs::read_to_string(t.path().join("calls")).unwrap();
        let root = t.path().join("run/fakerunc");
        let log = t.path().join("runtime.log");
        let pre = format!("--root {} --log {} --log-format json", root.display(), log.display());
        let lines: Vec<&str> = calls.lines().collect();
        assert_eq!(lines[0], format!("{pre} state c1"));
        assert_eq!(lines[3], format!("{pre} run --detach --bundle {} --pid-file {} c1", b.display(), pid.display()));
        assert_eq!(lines[4], format!("{pre} exec --process {} c1", pj.display()));
        assert_eq!(lines[5], format!("{pre} delete --force c1"));
    }
}
