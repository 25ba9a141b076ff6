//! Authentication against a real registry: htpasswd (Basic) and the token
//! flow (Bearer, with a token server made here that signs JWTs the registry
//! verifies against its root certificate bundle). `login` checks and stores
//! credentials in Docker's config.json (0600); wrong ones are refused with a
//! message naming the registry; `logout` forgets them.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use common::*;
use strata_registry::{Credentials, PullOpts, PushOpts, RegistryError, Status, login, logout, pull, push};

#[test]
fn htpasswd_login_push_pull_logout() {
    if !registry_available() {
        return;
    }
    let reg = Registry::start(Auth::Htpasswd { user: "alice".into(), password: "s3cret".into() }, None);
    let t = tmp();
    let cfg = config(t.path());
    let a = open_store(t.path(), "a");
    let b = open_store(t.path(), "b");
    let tag = reg.reference("private/app:1");
    let img = make_image(&a, &busybox_like(3), "sh", &tag);

    // Without credentials: refused, naming the registry.
    let err =
        push(&a, &tag, &PushOpts { registry: cfg.clone(), gzip_level: Some(1) }, &Recorder::default()).unwrap_err();
    assert!(err.to_string().contains(&reg.host), "{err}");

    let err = login(&cfg, &reg.host, &Credentials::new("alice", "wrong")).unwrap_err();
    assert_eq!(
        format!("Error: {err}"),
        format!("Error: login to {} failed: unauthorized: incorrect username or password", reg.host)
    );
    assert!(!cfg.docker_config.exists(), "nothing stored for refused credentials");

    login(&cfg, &reg.host, &Credentials::new("alice", "s3cret")).unwrap();
    let mode = std::fs::metadata(&cfg.docker_config).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&cfg.docker_config).unwrap()).unwrap();
    assert_eq!(v["auths"][&reg.host]["auth"], STANDARD.encode("alice:s3cret"));

    push(&a, &tag, &PushOpts { registry: cfg.clone(), gzip_level: Some(1) }, &Recorder::default()).unwrap();
    let r = pull(&b, &tag, &PullOpts { registry: cfg.clone(), ..Default::default() }, &Recorder::default()).unwrap();
    assert_eq!(r.image.id, img.id);

    assert!(logout(&cfg, &reg.host).unwrap());
    assert!(!logout(&cfg, &reg.host).unwrap());
    let c = open_store(t.path(), "c");
    let err = pull(&c, &tag, &PullOpts { registry: cfg, ..Default::default() }, &Recorder::default()).unwrap_err();
    assert!(matches!(err, RegistryError::PullDenied { .. }), "{err}");
    assert!(err.to_string().contains("private/app"), "{err}");
}

/// A token server: GET /token?service=…&scope=… with Basic auth → a JWT (RS256, x5c).
struct TokenServer {
    port: u16,
    cert: PathBuf,
    requests: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl TokenServer {
    fn start(dir: &Path, user: &str, password: &str) -> TokenServer {
        let cert = dir.join("token.crt");
        let key = dir.join("token.key");
        run(Command::new("openssl")
            .args(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=strata token signer"])
            .arg("-keyout")
            .arg(&key)
            .arg("-out")
            .arg(&cert));
        let der = Command::new("openssl").args(["x509", "-outform", "DER", "-in"]).arg(&cert).output().unwrap().stdout;
        let x5c = STANDARD.encode(der);
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let expected = format!("Basic {}", STANDARD.encode(format!("{user}:{password}")));
        let stop = Arc::new(AtomicBool::new(false));
        let requests = Arc::new(AtomicUsize::new(0));
        let (st, rq, dir) = (stop.clone(), requests.clone(), dir.to_path_buf());
        let thread = std::thread::spawn(move || {
            let deadline = std::time::Instant::now() + Duration::from_secs(300);
            while !st.load(Ordering::Relaxed) && std::time::Instant::now() < deadline {
                match listener.accept() {
                    Ok((conn, _)) => {
                        rq.fetch_add(1, Ordering::Relaxed);
                        conn.set_nonblocking(false).unwrap();
                        let _ = answer(conn, &expected, &x5c, &key, &dir);
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        TokenServer { port, cert, requests, stop, thread: Some(thread) }
    }
}

impl Drop for TokenServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn answer(mut conn: TcpStream, expected: &str, x5c: &str, key: &Path, dir: &Path) -> std::io::Result<()> {
    conn.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut r = BufReader::new(conn.try_clone()?);
    let mut request_line = String::new();
    r.read_line(&mut request_line)?;
    let mut authorization = None;
    loop {
        let mut line = String::new();
        if r.read_line(&mut line)? == 0 || line == "\r\n" {
            break;
        }
        if let Some(v) = line.strip_prefix("Authorization: ").or_else(|| line.strip_prefix("authorization: ")) {
            authorization = Some(v.trim().to_string());
        }
    }
    let target = request_line.split(' ').nth(1).unwrap_or("");
    let query = target.split_once('?').map(|(_, q)| q).unwrap_or("");
    let mut access = Vec::new();
    for kv in query.split('&') {
        if let Some(v) = kv.strip_prefix("scope=") {
            let v = percent_decode(v);
            for scope in v.split(' ') {
                let parts: Vec<&str> = scope.splitn(3, ':').collect();
                if let [kind, name, actions] = parts.as_slice() {
                    access.push(serde_json::json!({"type": kind, "name": name, "actions": actions.split(',').collect::<Vec<_>>()}));
                }
            }
        }
    }
    if authorization.as_deref() != Some(expected) {
        let body = r#"{"details":"incorrect username or password"}"#;
        write!(
            conn,
            "HTTP/1.1 401 Unauthorized\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )?;
        return Ok(());
    }
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let header = serde_json::json!({"alg": "RS256", "typ": "JWT", "x5c": [x5c]});
    let claims = serde_json::json!({
        "iss": "strata-test-issuer", "sub": "alice", "aud": "strata-test",
        "exp": now + 600, "nbf": now - 60, "iat": now, "jti": format!("{now}-{}", access.len()),
        "access": access,
    });
    let input =
        format!("{}.{}", URL_SAFE_NO_PAD.encode(header.to_string()), URL_SAFE_NO_PAD.encode(claims.to_string()));
    let file = dir.join(format!("jwt-{}", std::process::id()));
    std::fs::write(&file, &input)?;
    let sig =
        Command::new("openssl").args(["dgst", "-sha256", "-binary", "-sign"]).arg(key).arg(&file).output()?.stdout;
    let token = format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig));
    let body = serde_json::json!({"token": token, "expires_in": 600}).to_string();
    write!(
        conn,
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    Ok(())
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap());
            i += 3;
        } else if b[i] == b'+' {
            out.push(b' ');
            i += 1;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

#[test]
fn bearer_token_flow_login_push_mount_pull() {
    if !registry_available() {
        return;
    }
    let t = tmp();
    let tokens = TokenServer::start(t.path(), "alice", "tok-pass");
    let reg = Registry::start(
        Auth::Token { realm: format!("http://127.0.0.1:{}/token", tokens.port), cert: tokens.cert.clone() },
        None,
    );
    let cfg = config(t.path());
    let a = open_store(t.path(), "a");
    let b = open_store(t.path(), "b");

    let err = login(&cfg, &reg.host, &Credentials::new("alice", "nope")).unwrap_err();
    assert_eq!(err.to_string(), format!("login to {} failed: unauthorized: incorrect username or password", reg.host));
    login(&cfg, &reg.host, &Credentials::new("alice", "tok-pass")).unwrap();

    let layers = busybox_like(4);
    make_image(&a, &layers[..1], "sh", &reg.reference("team/base:1"));
    let img = make_image(&a, &layers, "sh", &reg.reference("team/app:1"));
    let opts = PushOpts { registry: cfg.clone(), gzip_level: Some(1) };
    push(&a, &reg.reference("team/base:1"), &opts, &Recorder::default()).unwrap();
    let rec = Recorder::default();
    push(&a, &reg.reference("team/app:1"), &opts, &rec).unwrap();
    assert!(rec.has(&Status::MountedFrom("team/base".into())), "{:?}", rec.events.lock().unwrap());

    let r =
        pull(&b, &reg.reference("team/app:1"), &PullOpts { registry: cfg, ..Default::default() }, &Recorder::default())
            .unwrap();
    assert_eq!(r.image.id, img.id);
    assert!(tokens.requests.load(Ordering::Relaxed) >= 3, "tokens were asked for");
    drop(reg);
}
