//! Test support: a real `docker-registry` (Distribution 2.8) on 127.0.0.1 with
//! a free port and a tempdir storage root, in plain, htpasswd, token and TLS
//! variants; a faulty HTTP proxy in front of it; stores and images to push.
//!
//! Everything listens on 127.0.0.1 only and is stopped by a Drop guard. With
//! `CI=true` a missing `docker-registry` fails the test instead of skipping it.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use strata_registry::{RegistryConfig, Status, TransferProgress};
use strata_store::{Digest, Image, Reference, Store, StoreOpts};

pub const REGISTRY_BIN: &str = "/usr/bin/docker-registry";

/// Whether the registry tests can run; panics under CI when they cannot.
pub fn registry_available() -> bool {
    let ok = Path::new(REGISTRY_BIN).exists() || which("docker-registry").is_some();
    if !ok {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("docker-registry is not installed (apt-get install docker-registry); registry tests cannot run");
        }
        eprintln!("SKIPPED: docker-registry is not installed");
    }
    ok
}

pub fn skopeo_available() -> bool {
    let ok = which("skopeo").is_some();
    if !ok {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("skopeo is not installed (apt-get install skopeo); interoperability tests cannot run");
        }
        eprintln!("SKIPPED: skopeo is not installed");
    }
    ok
}

fn which(bin: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?.to_str()?.split(':').map(|d| Path::new(d).join(bin)).find(|p| p.exists())
}

pub fn tmp() -> tempfile::TempDir {
    let base = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    std::fs::create_dir_all(&base).unwrap();
    tempfile::Builder::new().prefix("reg").tempdir_in(base).unwrap()
}

pub fn open_store(dir: &Path, name: &str) -> Store {
    Store::open(&StoreOpts {
        root: dir.join(name),
        run_root: dir.join(format!("{name}-run")),
        driver: Some("vfs".into()),
    })
    .unwrap()
}

/// A registry config for tests: no environment, credentials in `dir`.
pub fn config(dir: &Path) -> RegistryConfig {
    RegistryConfig {
        insecure: Vec::new(),
        insecure_loopback: true,
        ca_files: Vec::new(),
        certs_d: dir.join("certs.d"),
        docker_config: dir.join("docker/config.json"),
        max_concurrent_downloads: 3,
        attempts: 3,
        retry_pause: Duration::from_millis(100),
    }
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// How the registry authenticates.
pub enum Auth {
    None,
    Htpasswd { user: String, password: String },
    Token { realm: String, cert: PathBuf },
}

pub struct Tls {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// A running docker-registry; killed on drop.
pub struct Registry {
    child: Child,
    pub port: u16,
    pub host: String,
    pub storage: PathBuf,
    _dir: tempfile::TempDir,
}

impl Registry {
    pub fn start(auth: Auth, tls: Option<&Tls>) -> Registry {
        let dir = tmp();
        let storage = dir.path().join("storage");
        std::fs::create_dir_all(&storage).unwrap();
        let port = free_port();
        let mut yaml = format!(
            "version: 0.1\nlog:\n  level: warn\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\n  maintenance:\n    uploadpurging:\n      enabled: false\nhttp:\n  addr: 127.0.0.1:{port}\n  secret: strata-test-secret\n",
            storage.display()
        );
        if let Some(t) = tls {
            yaml.push_str(&format!("  tls:\n    certificate: {}\n    key: {}\n", t.cert.display(), t.key.display()));
        }
        match &auth {
            Auth::None => {}
            Auth::Htpasswd { user, password } => {
                let hash = bcrypt::hash(password, 5).unwrap();
                let file = dir.path().join("htpasswd");
                std::fs::write(&file, format!("{user}:{hash}\n")).unwrap();
                yaml.push_str(&format!("auth:\n  htpasswd:\n    realm: basic-realm\n    path: {}\n", file.display()));
            }
            Auth::Token { realm, cert } => {
                yaml.push_str(&format!(
                    "auth:\n  token:\n    realm: {realm}\n    service: strata-test\n    issuer: strata-test-issuer\n    rootcertbundle: {}\n",
                    cert.display()
                ));
            }
        }
        let cfg = dir.path().join("config.yml");
        std::fs::write(&cfg, yaml).unwrap();
        let log = std::fs::File::create(dir.path().join("registry.log")).unwrap();
        let child = Command::new(REGISTRY_BIN)
            .arg("serve")
            .arg(&cfg)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start docker-registry");
        let reg = Registry { child, port, host: format!("127.0.0.1:{port}"), storage, _dir: dir };
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "docker-registry did not listen on {port}: {}", reg.log());
            std::thread::sleep(Duration::from_millis(50));
        }
        reg
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self._dir.path().join("registry.log")).unwrap_or_default()
    }

    pub fn reference(&self, repo_tag: &str) -> Reference {
        Reference::parse(&format!("{}/{repo_tag}", self.host)).unwrap()
    }

    /// Blob files in the registry's storage.
    pub fn blob_count(&self) -> usize {
        walkdir::WalkDir::new(self.storage.join("docker/registry/v2/blobs"))
            .into_iter()
            .flatten()
            .filter(|e| e.file_name() == "data")
            .count()
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What the faulty proxy does to blob responses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Forward everything.
    Pass,
    /// Send the headers and this many bytes of the next blob body longer than that, close the
    /// connection, then refuse everything (the registry "died").
    CutBlobAfter(usize),
    /// Refuse every connection.
    Dead,
    /// Flip one byte in the middle of every blob body.
    FlipByte,
    /// Flip one byte in the middle of this blob's body (`sha256:…`).
    FlipBlob(String),
}

/// One request the proxy saw: method, path, Range header.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub range: Option<String>,
}

/// An HTTP proxy on 127.0.0.1 in front of a registry, for bodiless requests
/// (pulls): one request per connection, faults on blob bodies.
pub struct Proxy {
    pub port: u16,
    pub host: String,
    pub fault: Arc<Mutex<Fault>>,
    pub seen: Arc<Mutex<Vec<Seen>>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Proxy {
    pub fn start(upstream_port: u16) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        listener.set_nonblocking(true).unwrap();
        let fault = Arc::new(Mutex::new(Fault::Pass));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (f, s, st) = (fault.clone(), seen.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            let deadline = Instant::now() + Duration::from_secs(600);
            while !st.load(Ordering::Relaxed) && Instant::now() < deadline {
                match listener.accept() {
                    Ok((conn, _)) => {
                        conn.set_nonblocking(false).unwrap();
                        let (f, s) = (f.clone(), s.clone());
                        std::thread::spawn(move || {
                            let _ = serve_one(conn, upstream_port, &f, &s);
                        });
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        Proxy { port, host: format!("127.0.0.1:{port}"), fault, seen, stop, thread: Some(thread) }
    }

    pub fn set(&self, f: Fault) {
        *self.fault.lock().unwrap() = f;
    }

    pub fn reference(&self, repo_tag: &str) -> Reference {
        Reference::parse(&format!("{}/{repo_tag}", self.host)).unwrap()
    }

    pub fn blob_gets(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().iter().filter(|s| s.method == "GET" && s.path.contains("/blobs/")).cloned().collect()
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn serve_one(mut conn: TcpStream, upstream: u16, fault: &Mutex<Fault>, seen: &Mutex<Vec<Seen>>) -> std::io::Result<()> {
    conn.set_read_timeout(Some(Duration::from_secs(30)))?;
    if *fault.lock().unwrap() == Fault::Dead {
        return conn.shutdown(Shutdown::Both);
    }
    let mut first = [0u8; 1];
    if conn.peek(&mut first)? == 0 || first[0] == 0x16 {
        // A TLS ClientHello (a client trying HTTPS first): not for us.
        return conn.shutdown(Shutdown::Both);
    }
    let mut reader = BufReader::new(conn.try_clone()?);
    let mut head = Vec::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        if line == "\r\n" {
            break;
        }
        head.push(line.trim_end().to_string());
    }
    let request_line = head.first().cloned().unwrap_or_default();
    let mut parts = request_line.split(' ');
    let method = parts.next().unwrap_or("").to_string();
    let path = parts.next().unwrap_or("").to_string();
    let mut range = None;
    let mut out = format!("{request_line}\r\n");
    for h in &head[1..] {
        let lower = h.to_ascii_lowercase();
        if lower.starts_with("connection:") {
            continue;
        }
        if lower.starts_with("range:") {
            range = Some(h[6..].trim().to_string());
        }
        out.push_str(h);
        out.push_str("\r\n");
    }
    out.push_str("Connection: close\r\n\r\n");
    seen.lock().unwrap().push(Seen { method: method.clone(), path: path.clone(), range });
    let mut up = TcpStream::connect(("127.0.0.1", upstream))?;
    up.write_all(out.as_bytes())?;
    let mut response = Vec::new();
    up.read_to_end(&mut response)?;
    let split = response.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4).unwrap_or(response.len());
    let (rhead, body) = response.split_at(split);
    let is_blob = method == "GET" && path.contains("/blobs/sha256:") && !body.is_empty();
    let current = fault.lock().unwrap().clone();
    let flip = match &current {
        Fault::FlipByte => is_blob,
        Fault::FlipBlob(d) => is_blob && path.ends_with(d.as_str()),
        _ => false,
    };
    match current {
        Fault::CutBlobAfter(n) if is_blob && body.len() > n => {
            conn.write_all(rhead)?;
            conn.write_all(&body[..n.min(body.len())])?;
            *fault.lock().unwrap() = Fault::Dead;
            conn.flush()?;
            return conn.shutdown(Shutdown::Both);
        }
        _ if flip => {
            let mut body = body.to_vec();
            let mid = body.len() / 2;
            body[mid] ^= 0x01;
            conn.write_all(rhead)?;
            conn.write_all(&body)?;
        }
        _ => {
            conn.write_all(rhead)?;
            conn.write_all(body)?;
        }
    }
    conn.flush()?;
    conn.shutdown(Shutdown::Both)
}

/// A layer tar of `files` (path → content), directories made as needed.
pub fn layer_tar(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let mut dirs = std::collections::BTreeSet::new();
    for (path, data) in files {
        let mut acc = String::new();
        let comps: Vec<&str> = path.split('/').collect();
        for c in &comps[..comps.len() - 1] {
            acc.push_str(c);
            acc.push('/');
            if dirs.insert(acc.clone()) {
                let mut h = tar::Header::new_ustar();
                h.set_entry_type(tar::EntryType::Directory);
                h.set_path(&acc).unwrap();
                h.set_mode(0o755);
                h.set_mtime(1_700_000_000);
                h.set_size(0);
                h.set_cksum();
                b.append(&h, &[][..]).unwrap();
            }
        }
        let mut h = tar::Header::new_ustar();
        h.set_entry_type(tar::EntryType::Regular);
        h.set_path(path).unwrap();
        h.set_mode(0o644);
        h.set_mtime(1_700_000_000);
        h.set_size(data.len() as u64);
        h.set_cksum();
        b.append(&h, *data).unwrap();
    }
    b.into_inner().unwrap()
}

/// Deterministic pseudo-random bytes (incompressible enough to make blobs big).
pub fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

pub fn sha(data: &[u8]) -> Digest {
    Digest::of_bytes(data)
}

/// The config of an image over `diff_ids`.
pub fn config_json(diff_ids: &[Digest], cmd: &str) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "architecture": strata_store::ImageConfig::host_arch(),
        "os": "linux",
        "created": "2024-01-01T00:00:00Z",
        "config": {"Cmd": [cmd], "Env": ["PATH=/usr/bin:/bin"]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids.iter().map(|d| d.to_string()).collect::<Vec<_>>()},
        "history": diff_ids.iter().map(|_| serde_json::json!({"created_by": "test"})).collect::<Vec<_>>(),
    }))
    .unwrap()
}

/// Put `layers` (tars) and an image over them into `store`, tagged `tag`.
pub fn make_image(store: &Store, layers: &[Vec<u8>], cmd: &str, tag: &Reference) -> Image {
    let mut parent: Option<Digest> = None;
    let mut diff_ids = Vec::new();
    for l in layers {
        let layer = store.put_layer(parent.as_ref(), &l[..], None).unwrap();
        diff_ids.push(layer.diff_id.clone());
        parent = Some(layer.chain_id);
    }
    store.create_image(&config_json(&diff_ids, cmd), std::slice::from_ref(tag)).unwrap()
}

/// A busybox-like two-layer image: a base with `/bin` and `/etc`, and a top layer.
pub fn busybox_like(seed: u64) -> Vec<Vec<u8>> {
    let big = noise(seed, 3 << 20);
    let base = layer_tar(&[
        ("bin/busybox", &big[..]),
        ("etc/passwd", b"root:x:0:0:root:/root:/bin/sh\n"),
        ("etc/group", b"root:x:0:\n"),
    ]);
    let top =
        layer_tar(&[("etc/motd", format!("hello {seed}\n").as_bytes()), ("data/blob", &noise(seed + 1, 1 << 20))]);
    vec![base, top]
}

/// Records every event, for assertions on statuses.
#[derive(Default)]
pub struct Recorder {
    pub events: Mutex<Vec<(String, Status)>>,
    pub messages: Mutex<Vec<String>>,
}

impl TransferProgress for Recorder {
    fn message(&self, text: &str) {
        self.messages.lock().unwrap().push(text.to_string());
    }
    fn layer(&self, id: &str, status: &Status) {
        if status.bytes().is_none() {
            self.events.lock().unwrap().push((id.to_string(), status.clone()));
        }
    }
}

impl Recorder {
    pub fn has(&self, want: &Status) -> bool {
        self.events.lock().unwrap().iter().any(|(_, s)| s == want)
    }
    pub fn count(&self, pred: impl Fn(&Status) -> bool) -> usize {
        self.events.lock().unwrap().iter().filter(|(_, s)| pred(s)).count()
    }
}

/// Files in a store's ingest directory, with sizes.
pub fn ingest_files(store: &Store) -> BTreeMap<String, u64> {
    let dir = store.root().join("content/ingest");
    let mut out = BTreeMap::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            out.insert(e.file_name().to_string_lossy().into_owned(), e.metadata().unwrap().len());
        }
    }
    out
}

/// Run a command, panicking with its output on failure.
pub fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A CA and a server certificate for 127.0.0.1 signed by it (openssl).
pub struct Certs {
    pub ca: PathBuf,
    pub tls: Tls,
}

pub fn make_certs(dir: &Path) -> Certs {
    let p = |n: &str| dir.join(n);
    run(Command::new("openssl")
        .args(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=strata test CA"])
        .arg("-keyout")
        .arg(p("ca.key"))
        .arg("-out")
        .arg(p("ca.crt")));
    run(Command::new("openssl")
        .args(["req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1"])
        .arg("-keyout")
        .arg(p("server.key"))
        .arg("-out")
        .arg(p("server.csr")));
    std::fs::write(
        p("ext.cnf"),
        "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n",
    )
    .unwrap();
    run(Command::new("openssl")
        .args(["x509", "-req", "-days", "2", "-CAcreateserial"])
        .arg("-in")
        .arg(p("server.csr"))
        .arg("-CA")
        .arg(p("ca.crt"))
        .arg("-CAkey")
        .arg(p("ca.key"))
        .arg("-extfile")
        .arg(p("ext.cnf"))
        .arg("-out")
        .arg(p("server.crt")));
    Certs { ca: p("ca.crt"), tls: Tls { cert: p("server.crt"), key: p("server.key") } }
}
