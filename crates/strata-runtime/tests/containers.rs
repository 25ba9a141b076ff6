//! Real containers on runc, from a busybox image built in the test: volumes
//! and binds, logs, exit codes seen by another process, stop, a killed
//! monitor, published ports, `--rm`, exec, tty, `--init`, users.
//!
//! Privileged tier: needs root, runc and /bin/busybox. With `CI=true` a
//! missing one fails the test instead of skipping it.
//!
//! The harness is our own `main` (libtest-mimic, which nextest understands):
//! a container's monitor is this very binary re-exec'd as
//! `<test> --root R --run-root RR __monitor <id>`, the shape the CLI
//! dispatches; `__state` prints a container's state from a separate process.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use libtest_mimic::{Arguments, Failed, Trial};
use strata_runtime::{ExecOpts, LogsOpts, Network, StartOpts, parse_port_spec};
use strata_store::container::{Container, ContainerSpec};
use strata_store::{Reference, Store, StoreOpts};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let value = |flag: &str| -> PathBuf {
        let i = args.iter().position(|a| a == flag).expect(flag);
        PathBuf::from(&args[i + 1])
    };
    if let Some(i) = args.iter().position(|a| a == "__monitor") {
        let opts = StoreOpts { root: value("--root"), run_root: value("--run-root"), driver: None };
        std::process::exit(strata_runtime::monitor::run(&opts, &args[i + 1]));
    }
    if let Some(i) = args.iter().position(|a| a == "__run") {
        // A foreground `run` in its own process, to receive signals alone.
        let store =
            Store::open(&StoreOpts { root: value("--root"), run_root: value("--run-root"), driver: None }).unwrap();
        let c = store.container(&args[i + 1]).unwrap();
        let r = strata_runtime::start(&store, &c, &StartOpts { sig_proxy: true, ..Default::default() }).unwrap();
        std::process::exit(r.exit_code.unwrap());
    }
    if let Some(i) = args.iter().position(|a| a == "__state") {
        let store =
            Store::open(&StoreOpts { root: value("--root"), run_root: value("--run-root"), driver: None }).unwrap();
        let c = store.container(&args[i + 1]).unwrap();
        let st = strata_runtime::reconcile(&store, &c).unwrap();
        println!("{} {}", st.status, st.exit_code);
        return;
    }
    type Test = (&'static str, fn(&Env));
    let tests: Vec<Test> = vec![
        ("volume_write_seen_on_host", volume_write_seen_on_host),
        ("ro_bind_refuses_writes", ro_bind_refuses_writes),
        ("logs_keep_streams_apart", logs_keep_streams_apart),
        ("exit_code_read_by_another_process", exit_code_read_by_another_process),
        ("stop_running_container", stop_running_container),
        ("killed_monitor_is_reconciled", killed_monitor_is_reconciled),
        ("published_port_serves_bind_mounted_dir", published_port_serves_bind_mounted_dir),
        ("rm_removes_container_and_anonymous_volumes", rm_removes_container_and_anonymous_volumes),
        ("exec_in_running_container", exec_in_running_container),
        ("command_errors_have_docker_codes", command_errors_have_docker_codes),
        ("tty_user_init_and_etc_files", tty_user_init_and_etc_files),
        ("foreground_run_forwards_signals", foreground_run_forwards_signals),
        ("start_latency", start_latency),
    ];
    let trials = tests
        .into_iter()
        .map(|(name, f)| {
            Trial::test(name, move || {
                let Some(env) = Env::new(name) else { return Ok(()) };
                f(&env);
                Ok::<(), Failed>(())
            })
        })
        .collect();
    libtest_mimic::run(&Arguments::from_args(), trials).exit();
}

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// The privileged gate: root, runc, busybox; fail under CI, skip elsewhere.
fn usable(test: &str) -> bool {
    let missing = if !strata_sys::probe::is_root() {
        Some("root")
    } else if strata_runtime::runc::find_runc().is_none() {
        Some("runc (apt-get install runc)")
    } else if !Path::new("/bin/busybox").is_file() {
        Some("/bin/busybox (apt-get install busybox-static)")
    } else {
        None
    };
    match missing {
        None => true,
        Some(m) => {
            assert!(!in_ci(), "{test}: needs {m}, and CI=true forbids skipping privileged tests");
            eprintln!("note: skipping {test}: needs {m}");
            false
        }
    }
}

struct Env {
    dir: tempfile::TempDir,
    _run: tempfile::TempDir,
    store: Store,
}

impl Env {
    fn new(test: &str) -> Option<Env> {
        if !usable(test) {
            return None;
        }
        let base = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
        std::fs::create_dir_all(&base).unwrap();
        let dir = tempfile::Builder::new().prefix("rt").tempdir_in(base).unwrap();
        // The run root is a tmpfs in production (/run/strata): use one when
        // there is one, for realistic timings.
        let run = match Path::new("/dev/shm").is_dir() {
            true => tempfile::Builder::new().prefix("strata-rt").tempdir_in("/dev/shm").unwrap(),
            false => tempfile::Builder::new().prefix("run").tempdir_in(dir.path()).unwrap(),
        };
        let store =
            Store::open(&StoreOpts { root: dir.path().join("root"), run_root: run.path().to_path_buf(), driver: None })
                .unwrap();
        busybox_image(&store);
        Some(Env { dir, _run: run, store })
    }

    fn path(&self, p: &str) -> PathBuf {
        self.dir.path().join(p)
    }

    fn create(&self, spec: ContainerSpec) -> Container {
        self.store.create_container(&ContainerSpec { image: "busybox:test".into(), ..spec }).unwrap()
    }

    fn get(&self, c: &Container) -> Container {
        self.store.container(&c.id).unwrap()
    }

    /// Foreground run: (exit code, stdout, stderr).
    fn run_fg(&self, c: &Container, opts: &StartOpts) -> (i32, String, String) {
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let r = strata_runtime::start_with_output(&self.store, c, opts, &mut out, &mut err)
            .unwrap_or_else(|e| panic!("start: {e}\nmonitor log: {}", self.monitor_log(c)));
        (r.exit_code.unwrap(), String::from_utf8(out).unwrap(), String::from_utf8(err).unwrap())
    }

    fn run_detached(&self, c: &Container, opts: StartOpts) {
        let r = strata_runtime::start(&self.store, c, &StartOpts { detach: true, ..opts })
            .unwrap_or_else(|e| panic!("start: {e}\nmonitor log: {}", self.monitor_log(c)));
        assert_eq!(r.exit_code, None);
    }

    fn monitor_log(&self, c: &Container) -> String {
        std::fs::read_to_string(self.store.run_root().join("containers").join(&c.id).join("monitor.log"))
            .unwrap_or_default()
    }

    fn logs(&self, c: &Container, opts: &LogsOpts) -> (String, String) {
        let (mut out, mut err) = (Vec::new(), Vec::new());
        strata_runtime::logs(&self.store, c, opts, &mut out, &mut err).unwrap();
        (String::from_utf8(out).unwrap(), String::from_utf8(err).unwrap())
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        for c in self.store.containers().unwrap_or_default() {
            if let Err(e) = strata_runtime::stop(&self.store, &c, Duration::from_secs(1)) {
                eprintln!("cleanup: stop {}: {e}", c.id);
            }
            if let Err(e) = strata_runtime::remove(&self.store, &c, true, true) {
                eprintln!("cleanup: rm {}: {e}", c.id);
            }
        }
    }
}

const APPLETS: &[&str] =
    &["sh", "echo", "cat", "sleep", "httpd", "ls", "id", "touch", "true", "tty", "hostname", "mkdir", "kill"];

/// busybox:test: /bin/busybox with its applets, a passwd and group, /www, /tmp.
fn busybox_image(s: &Store) {
    let mut b = tar::Builder::new(Vec::new());
    let mut add = |path: &str, kind: tar::EntryType, data: &[u8], mode: u32, link: Option<&str>| {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(kind);
        h.set_size(data.len() as u64);
        h.set_mode(mode);
        h.set_mtime(1_700_000_000);
        if let Some(l) = link {
            h.set_link_name(l).unwrap();
        }
        b.append_data(&mut h, path, data).unwrap();
    };
    use tar::EntryType::{Directory as D, Regular as F, Symlink as L};
    add("bin/", D, b"", 0o755, None);
    add("bin/busybox", F, &std::fs::read("/bin/busybox").unwrap(), 0o755, None);
    for a in APPLETS {
        add(&format!("bin/{a}"), L, b"", 0o777, Some("busybox"));
    }
    add("etc/", D, b"", 0o755, None);
    add("etc/passwd", F, b"root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\n", 0o644, None);
    add("etc/group", F, b"root:x:0:\napp:x:1000:\nstaff:x:50:app\n", 0o644, None);
    add("etc/notexec", F, b"#!/bin/sh\n", 0o644, None);
    add("www/", D, b"", 0o755, None);
    add("tmp/", D, b"", 0o1777, None);
    let layer = s.put_layer(None, &b.into_inner().unwrap()[..], None).unwrap();
    let config = serde_json::json!({
        "architecture": "amd64", "os": "linux", "created": "2024-01-01T00:00:00Z",
        "config": {"Cmd": ["sh"], "Env": ["PATH=/bin"]},
        "rootfs": {"type": "layers", "diff_ids": [layer.diff_id.to_string()]},
        "history": [{"created": "2024-01-01T00:00:00Z", "created_by": "test"}]
    });
    s.create_image(&serde_json::to_vec(&config).unwrap(), &[Reference::parse("busybox:test").unwrap()]).unwrap();
}

fn sh(script: &str) -> Vec<String> {
    vec!["sh".into(), "-c".into(), script.into()]
}

fn wait_until(what: &str, timeout: Duration, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn volume_write_seen_on_host(env: &Env) {
    let c = env.create(ContainerSpec {
        cmd: sh("echo hello > /data/f && ls /data"),
        binds: vec!["vol1:/data".into()],
        ..Default::default()
    });
    let (code, out, _) = env.run_fg(&c, &StartOpts::default());
    assert_eq!((code, out.as_str()), (0, "f\n"));
    let v = env.store.volume("vol1").unwrap();
    assert_eq!(std::fs::read_to_string(v.mountpoint.join("f")).unwrap(), "hello\n");
    let st = env.get(&c).state;
    assert_eq!((st.status.as_str(), st.exit_code, st.running), ("exited", 0, false));
    assert_ne!(st.started_at, strata_store::container::ZERO_TIME);
    assert_ne!(st.finished_at, strata_store::container::ZERO_TIME);
}

fn ro_bind_refuses_writes(env: &Env) {
    let host = env.path("robind");
    std::fs::create_dir_all(&host).unwrap();
    std::fs::write(host.join("in.txt"), "from host\n").unwrap();
    let c = env.create(ContainerSpec {
        cmd: sh("cat /ro/in.txt; touch /ro/new"),
        binds: vec![format!("{}:/ro:ro", host.display())],
        ..Default::default()
    });
    let (code, out, err) = env.run_fg(&c, &StartOpts::default());
    assert_ne!(code, 0, "write to a :ro bind succeeded");
    assert_eq!(out, "from host\n");
    assert!(err.contains("Read-only file system"), "{err}");
    assert!(!host.join("new").exists());
}

fn logs_keep_streams_apart(env: &Env) {
    let c = env.create(ContainerSpec {
        cmd: sh("echo out1; echo err1 >&2; sleep 0.1; echo out2; printf partial"),
        ..Default::default()
    });
    let (code, out, err) = env.run_fg(&c, &StartOpts::default());
    assert_eq!((code, out.as_str(), err.as_str()), (0, "out1\nout2\npartial", "err1\n"));
    let (o, e) = env.logs(&c, &LogsOpts::default());
    assert_eq!((o.as_str(), e.as_str()), ("out1\nout2\npartial", "err1\n"));
    let (o, _) = env.logs(&c, &LogsOpts { tail: Some(1), ..Default::default() });
    assert_eq!(o, "partial");
    let (o, _) = env.logs(&c, &LogsOpts { timestamps: true, tail: Some(2), ..Default::default() });
    let first = o.lines().next().unwrap();
    assert!(first.ends_with("Z out2"), "{first}");
    assert_eq!(first.find(' '), Some("2024-01-01T00:00:00.000000000Z".len()));
    let file = env.store.root().join("containers").join(&c.id).join(format!("{}-json.log", c.id));
    let raw = std::fs::read_to_string(file).unwrap();
    assert!(raw.contains(r#"{"log":"out1\n","stream":"stdout","time":""#), "{raw}");
    assert!(raw.contains(r#"{"log":"err1\n","stream":"stderr","time":""#), "{raw}");

    // Detached, then follow until it exits.
    let c = env.create(ContainerSpec { cmd: sh("echo a; sleep 0.3; echo b >&2"), ..Default::default() });
    env.run_detached(&c, StartOpts::default());
    let (o, e) = env.logs(&c, &LogsOpts { follow: true, ..Default::default() });
    assert_eq!((o.as_str(), e.as_str()), ("a\n", "b\n"));
}

fn exit_code_read_by_another_process(env: &Env) {
    let c = env.create(ContainerSpec { cmd: sh("exit 3"), ..Default::default() });
    let (code, _, _) = env.run_fg(&c, &StartOpts::default());
    assert_eq!(code, 3);
    let c2 = env.create(ContainerSpec { cmd: sh("sleep 1; exit 3"), ..Default::default() });
    env.run_detached(&c2, StartOpts::default());
    let state_of = |c: &Container| -> String {
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .arg("--root")
            .arg(env.store.root())
            .arg("--run-root")
            .arg(env.store.run_root())
            .arg("__state")
            .arg(&c.id)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    };
    assert_eq!(state_of(&c), "exited 3");
    assert_eq!(state_of(&c2), "running 0");
    wait_until("exit of c2", Duration::from_secs(10), || state_of(&c2) == "exited 3");
    assert_eq!(strata_runtime::wait(&env.store, &c2).unwrap(), 3);
}

fn stop_running_container(env: &Env) {
    let c = env.create(ContainerSpec { cmd: vec!["sleep".into(), "1000".into()], ..Default::default() });
    env.run_detached(&c, StartOpts::default());
    let st = env.get(&c).state;
    assert!(st.running && st.status == "running" && st.pid > 0, "{st:?}");
    assert!(strata_sys::process::alive(st.monitor_pid as u32, st.monitor_start));
    assert_eq!(strata_runtime::reconcile(&env.store, &env.get(&c)).unwrap().status, "running");
    let top = strata_runtime::top(&env.store, &env.get(&c)).unwrap();
    assert_eq!(top.titles[1], "PID");
    assert!(top.processes.iter().any(|r| r[7] == "sleep 1000"), "{top:?}");
    strata_runtime::kill(&env.store, &env.get(&c), "SIGWINCH").unwrap();
    let err =
        strata_runtime::start(&env.store, &env.get(&c), &StartOpts { detach: true, ..Default::default() }).unwrap_err();
    assert!(err.to_string().contains("already running"), "{err}");
    let t = Instant::now();
    // sleep is PID 1 in its namespace: SIGTERM has no effect, SIGKILL follows.
    strata_runtime::stop(&env.store, &env.get(&c), Duration::from_millis(500)).unwrap();
    let st = env.get(&c).state;
    assert_eq!((st.status.as_str(), st.running), ("exited", false));
    assert!(st.exit_code == 137 || st.exit_code == 143, "{st:?}");
    assert!(t.elapsed() < Duration::from_secs(10));
    assert!(!strata_sys::mount::is_mountpoint(&env.store.rootfs_path(&c)), "rootfs still mounted");
    assert_eq!(strata_runtime::kill(&env.store, &env.get(&c), "KILL").unwrap_err().exit_code(), 125);
    // Started again: same container, same log.
    env.run_detached(&env.get(&c), StartOpts::default());
    strata_runtime::kill(&env.store, &env.get(&c), "9").unwrap();
    assert_eq!(strata_runtime::wait(&env.store, &env.get(&c)).unwrap(), 137);
}

fn killed_monitor_is_reconciled(env: &Env) {
    let c = env.create(ContainerSpec { cmd: vec!["sleep".into(), "1000".into()], ..Default::default() });
    env.run_detached(&c, StartOpts::default());
    let st = env.get(&c).state;
    let (mon, ctr) = (st.monitor_pid as u32, st.pid as u32);
    for p in [mon, ctr] {
        strata_sys::process::Pidfd::open(p, strata_sys::process_start_time(p).unwrap()).unwrap().signal(9).unwrap();
    }
    wait_until("monitor and container to die", Duration::from_secs(10), || {
        !strata_sys::process::alive(mon, st.monitor_start) && !strata_sys::process::alive(ctr, st.pid_start)
    });
    assert!(env.get(&c).state.running, "nothing recorded the exit");
    let st = strata_runtime::reconcile(&env.store, &env.get(&c)).unwrap();
    assert_eq!((st.status.as_str(), st.exit_code, st.running), ("exited", 255, false));
    assert!(st.error.contains("monitor"), "{}", st.error);
    assert_eq!(env.get(&c).state, st, "persisted");
    assert!(!strata_sys::mount::is_mountpoint(&env.store.rootfs_path(&c)), "rootfs still mounted");
    // It can run again.
    env.run_detached(&env.get(&c), StartOpts::default());
    assert!(env.get(&c).state.running);
    strata_runtime::stop(&env.store, &env.get(&c), Duration::from_millis(100)).unwrap();
    assert_eq!(env.get(&c).state.exit_code, 137);
}

fn http_get(port: u16, path: &str) -> Option<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").ok()?;
    let mut resp = String::new();
    s.read_to_string(&mut resp).ok()?;
    let (head, body) = resp.split_once("\r\n\r\n")?;
    head.starts_with("HTTP/1.").then(|| body.to_string())
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn published_port_serves_bind_mounted_dir(env: &Env) {
    let www = env.path("www");
    std::fs::create_dir_all(&www).unwrap();
    std::fs::write(www.join("index.html"), "version one\n").unwrap();
    let c = env.create(ContainerSpec {
        cmd: vec!["httpd".into(), "-f".into(), "-p".into(), "80".into(), "-h".into(), "/www".into()],
        binds: vec![format!("{}:/www:ro", www.display())],
        ..Default::default()
    });
    let port = free_port();
    let mut publish = parse_port_spec(&format!("127.0.0.1:{port}:80")).unwrap();
    publish.extend(parse_port_spec("127.0.0.1::80").unwrap());
    env.run_detached(&c, StartOpts { publish, ..Default::default() });
    let ports = strata_runtime::published_ports(&env.store, &env.get(&c));
    assert_eq!(ports.len(), 2, "{ports:?}");
    assert_eq!(ports[0].to_string(), format!("127.0.0.1:{port}->80/tcp"));
    let random = ports[1].host_port;
    assert_ne!(random, 0);
    let mut body = None;
    wait_until("httpd to answer", Duration::from_secs(10), || {
        body = http_get(port, "/index.html");
        body.is_some()
    });
    assert_eq!(body.unwrap(), "version one\n");
    std::fs::write(www.join("index.html"), "version two\n").unwrap();
    assert_eq!(http_get(port, "/index.html").unwrap(), "version two\n");
    assert_eq!(http_get(random, "/index.html").unwrap(), "version two\n");
    // The same host port for a second container is refused before it starts.
    let c2 = env.create(ContainerSpec { cmd: vec!["true".into()], ..Default::default() });
    let publish = parse_port_spec(&format!("127.0.0.1:{port}:80")).unwrap();
    let e =
        strata_runtime::start(&env.store, &c2, &StartOpts { detach: true, publish, ..Default::default() }).unwrap_err();
    assert_eq!(e.to_string(), format!("Bind for 127.0.0.1:{port} failed: port is already allocated"));
    assert_eq!(e.exit_code(), 125);
    assert_eq!(env.get(&c2).state.status, "created");
    strata_runtime::stop(&env.store, &env.get(&c), Duration::from_secs(2)).unwrap();
    assert!(http_get(port, "/index.html").is_none(), "port still served after stop");
    assert!(strata_runtime::published_ports(&env.store, &env.get(&c)).is_empty());
}

fn rm_removes_container_and_anonymous_volumes(env: &Env) {
    let c = env.create(ContainerSpec {
        cmd: sh("echo x > /anon/f; echo y > /named/f"),
        binds: vec!["/anon".into(), "keepme:/named".into()],
        ..Default::default()
    });
    let anon = c.mounts.iter().find(|m| m.destination == "/anon").unwrap().name.clone();
    let (code, _, _) = env.run_fg(&c, &StartOpts { rm: true, ..Default::default() });
    assert_eq!(code, 0);
    assert!(env.store.find_container(&c.id).unwrap().is_none(), "container kept");
    assert!(env.store.find_volume(&anon).unwrap().is_none(), "anonymous volume kept");
    assert!(env.store.find_volume("keepme").unwrap().is_some(), "named volume removed");
    assert!(!env.store.run_root().join("containers").join(&c.id).exists());
    assert!(!env.store.root().join("containers").join(&c.id).exists());
    // Detached --rm: gone after it exits.
    let c = env.create(ContainerSpec { cmd: sh("sleep 0.1"), ..Default::default() });
    env.run_detached(&c, StartOpts { rm: true, ..Default::default() });
    wait_until("--rm removal", Duration::from_secs(10), || env.store.find_container(&c.id).unwrap().is_none());
}

fn exec_in_running_container(env: &Env) {
    let c = env.create(ContainerSpec {
        cmd: vec!["sleep".into(), "1000".into()],
        env: vec!["FROM_RUN=1".into()],
        ..Default::default()
    });
    env.run_detached(&c, StartOpts::default());
    let out_path = env.path("exec.out");
    let exec = |opts: ExecOpts| {
        let out = std::fs::File::create(&out_path).unwrap();
        let io = strata_runtime::runc::ProcessIo {
            stdin: std::process::Stdio::null(),
            stdout: out.into(),
            stderr: std::process::Stdio::inherit(),
        };
        let r = strata_runtime::exec_with_io(&env.store, &env.get(&c), &opts, io);
        (r, std::fs::read_to_string(&out_path).unwrap())
    };
    let (r, out) = exec(ExecOpts {
        cmd: sh("echo $FROM_RUN $EXTRA $(id -u) $(pwd) $(cat /proc/1/cmdline | tr '\\0' ' '); exit 4"),
        env: vec!["EXTRA=2".into()],
        user: Some("app".into()),
        workdir: Some("/tmp".into()),
        ..Default::default()
    });
    assert_eq!(r.unwrap(), 4);
    assert_eq!(out, "1 2 1000 /tmp sleep 1000\n");
    let (r, _) = exec(ExecOpts { cmd: vec!["nosuch".into()], ..Default::default() });
    let e = r.unwrap_err();
    assert_eq!((e.exit_code(), e.to_string().as_str()), (127, "exec: \"nosuch\": executable file not found in $PATH"));
    strata_runtime::stop(&env.store, &env.get(&c), Duration::from_secs(1)).unwrap();
    let (r, _) = exec(ExecOpts { cmd: vec!["true".into()], ..Default::default() });
    assert!(r.unwrap_err().to_string().contains("is not running"));
}

fn command_errors_have_docker_codes(env: &Env) {
    let cases: &[(&[&str], i32, &str)] = &[
        (&["nosuch"], 127, "exec: \"nosuch\": executable file not found in $PATH"),
        (&["/bin/nosuch"], 127, "exec: \"/bin/nosuch\": stat /bin/nosuch: no such file or directory"),
        (&["/etc/notexec"], 126, "exec: \"/etc/notexec\": permission denied"),
        (&["/etc"], 126, "exec: \"/etc\": is a directory"),
    ];
    for (cmd, code, msg) in cases {
        let c = env.create(ContainerSpec { cmd: cmd.iter().map(|s| s.to_string()).collect(), ..Default::default() });
        for detach in [false, true] {
            let e = strata_runtime::start(&env.store, &c, &StartOpts { detach, ..Default::default() }).unwrap_err();
            assert_eq!((e.exit_code(), e.to_string().as_str()), (*code, *msg));
        }
        let st = env.get(&c).state;
        assert_eq!((st.status.as_str(), st.exit_code, st.error.as_str()), ("created", *code as i64, *msg));
        assert!(!strata_sys::mount::is_mountpoint(&env.store.rootfs_path(&c)), "rootfs left mounted");
    }
    // A user that the image does not know.
    let c = env.create(ContainerSpec { cmd: vec!["true".into()], user: Some("nobody".into()), ..Default::default() });
    let e = strata_runtime::start(&env.store, &c, &StartOpts::default()).unwrap_err();
    assert_eq!(
        (e.exit_code(), e.to_string().as_str()),
        (125, "unable to find user nobody: no matching entries in passwd file")
    );
    // --rm and a failed start: the container goes too.
    let c = env.create(ContainerSpec { cmd: vec!["nosuch".into()], ..Default::default() });
    let e = strata_runtime::start(&env.store, &c, &StartOpts { rm: true, ..Default::default() }).unwrap_err();
    assert_eq!(e.exit_code(), 127);
    assert!(env.store.find_container(&c.id).unwrap().is_none());
}

fn tty_user_init_and_etc_files(env: &Env) {
    let c = env.create(ContainerSpec { cmd: sh("tty; echo $TERM; exit 5"), tty: true, ..Default::default() });
    let (code, out, err) = env.run_fg(&c, &StartOpts { tty: true, ..Default::default() });
    assert_eq!((code, out.as_str(), err.as_str()), (5, "/dev/pts/0\r\nxterm\r\n", ""));
    let (o, _) = env.logs(&c, &LogsOpts::default());
    assert_eq!(o, "/dev/pts/0\r\nxterm\r\n");

    let c = env.create(ContainerSpec { cmd: sh("id; echo $HOME"), user: Some("app".into()), ..Default::default() });
    let (_, out, _) = env.run_fg(&c, &StartOpts::default());
    assert_eq!(out, "uid=1000(app) gid=1000(app) groups=50(staff),1000(app)\n/home/app\n");
    let c = env.create(ContainerSpec { cmd: sh("id"), user: Some("4242:4343".into()), ..Default::default() });
    assert_eq!(env.run_fg(&c, &StartOpts::default()).1, "uid=4242 gid=4343 groups=4343\n");

    if Path::new("/usr/bin/tini-static").is_file() || in_ci() {
        let c = env.create(ContainerSpec {
            cmd: sh("cat /proc/1/cmdline | tr '\\0' ' '; echo; echo $$"),
            ..Default::default()
        });
        let (code, out, _) = env.run_fg(&c, &StartOpts { init: true, ..Default::default() });
        assert_eq!(code, 0);
        assert!(out.starts_with("/sbin/docker-init -- sh -c"), "{out}");
        assert_ne!(out.lines().nth(1), Some("1"));
    } else {
        eprintln!("note: --init not tested: /usr/bin/tini-static missing (apt-get install tini)");
    }

    let c = env.create(ContainerSpec {
        cmd: sh("hostname; cat /etc/hostname; grep -c localhost /etc/hosts; tail -1 /etc/hosts; grep -c nameserver /etc/resolv.conf; ls /sys/fs/cgroup >/dev/null && echo cg; echo x > /proc/sys/kernel/hostname || echo rosys"),
        ..Default::default()
    });
    let (code, out, _) = env.run_fg(&c, &StartOpts::default());
    let short = &c.id[..12];
    assert_eq!(code, 0);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(&lines[..4], &[short, short, "2", &format!("127.0.0.1\t{short}")], "{out}");
    assert_ne!(lines[4], "0", "{out}");
    assert_eq!(&lines[5..], &["cg", "rosys"], "{out}");
    let c = env.create(ContainerSpec { cmd: sh("touch /x"), read_only: true, ..Default::default() });
    assert_ne!(env.run_fg(&c, &StartOpts::default()).0, 0, "wrote to a read-only rootfs");
    let c = env.create(ContainerSpec { cmd: sh("cat /proc/net/dev | grep -c :"), ..Default::default() });
    assert_eq!(env.run_fg(&c, &StartOpts { network: Network::None, ..Default::default() }).1, "1\n", "only lo");
}

fn foreground_run_forwards_signals(env: &Env) {
    let c = env.create(ContainerSpec {
        cmd: sh("trap 'echo got TERM; exit 7' TERM; echo ready; while :; do sleep 0.05; done"),
        ..Default::default()
    });
    let log = env.store.root().join("containers").join(&c.id).join(format!("{}-json.log", c.id));
    let cli = std::process::Command::new(std::env::current_exe().unwrap())
        .arg("--root")
        .arg(env.store.root())
        .arg("--run-root")
        .arg(env.store.run_root())
        .arg("__run")
        .arg(&c.id)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    wait_until("the container to be ready", Duration::from_secs(10), || {
        std::fs::read_to_string(&log).is_ok_and(|s| s.contains("ready"))
    });
    let p = strata_sys::process::Pidfd::open(cli.id(), strata_sys::process_start_time(cli.id()).unwrap()).unwrap();
    p.signal(15).unwrap();
    let out = cli.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(7), "the CLI exits with the container's code");
    assert_eq!(String::from_utf8(out.stdout).unwrap(), "ready\ngot TERM\n");
}

/// Not an assertion: how long `run --rm IMAGE true` takes (create + start
/// to exit and removal), and `run IMAGE true` (the exit code is reported
/// before the runtime state is deleted and the rootfs unmounted), printed
/// for the record.
fn start_latency(env: &Env) {
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    for rm in [true, false] {
        let mut times = Vec::new();
        for _ in 0..8 {
            let t = Instant::now();
            let c = env.create(ContainerSpec { cmd: vec!["true".into()], ..Default::default() });
            let created = t.elapsed();
            let (code, _, _) = env.run_fg(&c, &StartOpts { rm, ..Default::default() });
            assert_eq!(code, 0);
            times.push((created, t.elapsed()));
        }
        times.sort_by_key(|t| t.1);
        let (c, total) = times[times.len() / 2];
        eprintln!(
            "run{} busybox true: median {:.1} ms end to end (create {:.1} ms, start→exit{} {:.1} ms); min {:.1} ms, max {:.1} ms",
            if rm { " --rm" } else { "" },
            ms(total),
            ms(c),
            if rm { "→rm" } else { "" },
            ms(total - c),
            ms(times[0].1),
            ms(times[times.len() - 1].1)
        );
    }
}
