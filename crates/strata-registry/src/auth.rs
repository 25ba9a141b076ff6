//! Credentials in Docker's format, so `docker login` and `strata login` share them:
//!
//! ```text
//! $DOCKER_CONFIG/config.json   (or ~/.docker/config.json), mode 0600
//! {
//!   "auths": { "127.0.0.1:5000": { "auth": "<base64 user:pass>" },
//!              "https://index.docker.io/v1/": { "auth": "…" } },   Docker Hub's key
//!   "credsStore": "pass",                  helper for every registry: docker-credential-pass
//!   "credHelpers": { "gcr.io": "gcloud" }  helper per registry (wins over credsStore)
//! }
//! ```
//!
//! Helpers speak Docker's protocol: `docker-credential-<name> get|store|erase`,
//! the server URL (or JSON) on stdin, JSON `{ServerURL, Username, Secret}` on
//! stdout; `Username` `<token>` means `Secret` is an identity (refresh) token.
//! Writes keep every other key of the file and replace it atomically.
//!
//! Also here: parsing `WWW-Authenticate` challenges (Basic, Bearer).

use std::collections::BTreeMap;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Map, Value, json};

use crate::config::DOCKER_HUB_AUTH_KEY;
use crate::error::{RegistryError, Result};

/// What a registry is logged in with.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    pub password: String,
    /// An OAuth2 refresh token (Docker's `identitytoken`), used instead of the password.
    pub identity_token: Option<String>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials").field("username", &self.username).finish_non_exhaustive()
    }
}

impl Credentials {
    pub fn new(username: impl Into<String>, password: impl Into<String>) -> Credentials {
        Credentials { username: username.into(), password: password.into(), identity_token: None }
    }

    /// `Authorization: Basic …`.
    pub(crate) fn basic_header(&self) -> String {
        format!("Basic {}", B64.encode(format!("{}:{}", self.username, self.password)))
    }
}

/// `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`.
pub fn default_config_path() -> PathBuf {
    if let Some(dir) = std::env::var_os("DOCKER_CONFIG").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir).join("config.json");
    }
    let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("/root"));
    home.join(".docker/config.json")
}

/// The key credentials of `registry` (a reference's domain) are stored under.
pub fn auth_key(registry: &str) -> String {
    match registry {
        "docker.io" | "index.docker.io" | "registry-1.docker.io" => DOCKER_HUB_AUTH_KEY.to_string(),
        other => other.to_string(),
    }
}

/// Docker's `ConvertToHostname`: `https://host/v2/` → `host`.
fn key_hostname(key: &str) -> &str {
    let k = key.strip_prefix("https://").or_else(|| key.strip_prefix("http://")).unwrap_or(key);
    k.split('/').next().unwrap_or(k)
}

/// Docker's config.json.
#[derive(Debug, Clone)]
pub struct DockerConfig {
    path: PathBuf,
}

impl DockerConfig {
    pub fn new(path: impl Into<PathBuf>) -> DockerConfig {
        DockerConfig { path: path.into() }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn read(&self) -> Result<Map<String, Value>> {
        match std::fs::read(&self.path) {
            Ok(bytes) if bytes.iter().all(u8::is_ascii_whitespace) => Ok(Map::new()),
            Ok(bytes) => match serde_json::from_slice::<Value>(&bytes) {
                Ok(Value::Object(m)) => Ok(m),
                Ok(_) | Err(_) => Err(RegistryError::Credentials {
                    registry: self.path.display().to_string(),
                    reason: format!("{} is not a JSON object", self.path.display()),
                }),
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Map::new()),
            Err(e) => Err(RegistryError::io("read", &self.path, e)),
        }
    }

    /// The credential helper for `registry`, if one is configured.
    fn helper(&self, cfg: &Map<String, Value>, registry: &str) -> Option<String> {
        let host = key_hostname(&auth_key(registry)).to_string();
        if let Some(Value::Object(h)) = cfg.get("credHelpers") {
            for (k, v) in h {
                if (k == registry || key_hostname(k) == host)
                    && let Some(name) = v.as_str()
                {
                    return Some(name.to_string());
                }
            }
        }
        cfg.get("credsStore").and_then(Value::as_str).filter(|s| !s.is_empty()).map(str::to_string)
    }

    /// The credentials stored for `registry` (a reference's domain).
    pub fn get(&self, registry: &str) -> Result<Option<Credentials>> {
        let cfg = self.read()?;
        if let Some(helper) = self.helper(&cfg, registry) {
            return helper_get(&helper, registry);
        }
        let key = auth_key(registry);
        let Some(Value::Object(auths)) = cfg.get("auths") else { return Ok(None) };
        let entry = auths.get(&key).or_else(|| {
            let host = key_hostname(&key);
            auths.iter().find(|(k, _)| key_hostname(k) == host).map(|(_, v)| v)
        });
        let Some(Value::Object(entry)) = entry else { return Ok(None) };
        let bad = |reason: &str| RegistryError::Credentials { registry: registry.into(), reason: reason.into() };
        let identity_token = entry.get("identitytoken").and_then(Value::as_str).map(str::to_string);
        let (username, password) = match entry.get("auth").and_then(Value::as_str) {
            Some(a) if !a.is_empty() => {
                let raw = B64.decode(a.trim()).map_err(|_| bad("the auth entry is not valid base64"))?;
                let text = String::from_utf8(raw).map_err(|_| bad("the auth entry is not UTF-8"))?;
                let (u, p) = text.split_once(':').ok_or_else(|| bad("the auth entry is not user:password"))?;
                (u.to_string(), p.to_string())
            }
            _ => (
                entry.get("username").and_then(Value::as_str).unwrap_or("").to_string(),
                entry.get("password").and_then(Value::as_str).unwrap_or("").to_string(),
            ),
        };
        if username.is_empty() && password.is_empty() && identity_token.is_none() {
            return Ok(None);
        }
        Ok(Some(Credentials { username, password, identity_token }))
    }

    /// Store credentials for `registry` (in its helper when one is configured).
    pub fn store(&self, registry: &str, creds: &Credentials) -> Result<()> {
        let mut cfg = self.read()?;
        if let Some(helper) = self.helper(&cfg, registry) {
            return helper_store(&helper, registry, creds);
        }
        let key = auth_key(registry);
        let auths = cfg.entry("auths").or_insert_with(|| json!({}));
        if !auths.is_object() {
            *auths = json!({});
        }
        let auths = auths.as_object_mut().expect("object");
        // One entry per registry: drop aliases (`https://host`) of the same host.
        let host = key_hostname(&key).to_string();
        auths.retain(|k, _| k == &key || key_hostname(k) != host);
        let mut entry = Map::new();
        entry.insert("auth".into(), Value::String(B64.encode(format!("{}:{}", creds.username, creds.password))));
        if let Some(t) = &creds.identity_token {
            entry.insert("identitytoken".into(), Value::String(t.clone()));
        }
        auths.insert(key, Value::Object(entry));
        self.write(&cfg)
    }

    /// Remove the credentials of `registry`; whether there were any.
    pub fn erase(&self, registry: &str) -> Result<bool> {
        let mut cfg = self.read()?;
        if let Some(helper) = self.helper(&cfg, registry) {
            return helper_erase(&helper, registry);
        }
        let key = auth_key(registry);
        let host = key_hostname(&key).to_string();
        let Some(Value::Object(auths)) = cfg.get_mut("auths") else { return Ok(false) };
        let before = auths.len();
        auths.retain(|k, _| k != &key && key_hostname(k) != host);
        if auths.len() == before {
            return Ok(false);
        }
        self.write(&cfg)?;
        Ok(true)
    }

    /// Replace the file atomically (same directory, 0600, fsync, rename, fsync dir).
    fn write(&self, cfg: &Map<String, Value>) -> Result<()> {
        let dir = self.path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
        if !dir.exists() {
            std::fs::create_dir_all(dir).map_err(|e| RegistryError::io("create", dir, e))?;
            let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700));
        }
        let name = self.path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let tmp = dir.join(format!(".{name}.strata-{}.tmp", std::process::id()));
        let mut text = serde_json::to_string_pretty(&Value::Object(cfg.clone())).expect("config serialises");
        text.push('\n');
        let result = (|| -> std::io::Result<()> {
            let mut f = std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(&tmp)?;
            f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
            f.write_all(text.as_bytes())?;
            f.sync_all()?;
            std::fs::rename(&tmp, &self.path)?;
            if let Ok(d) = std::fs::File::open(dir) {
                let _ = d.sync_all();
            }
            Ok(())
        })();
        result.map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            RegistryError::io("write", &self.path, e)
        })
    }
}

/// The server URL a helper knows `registry` by (Docker Hub: its v1 URL).
fn helper_server(registry: &str) -> String {
    auth_key(registry)
}

fn run_helper(helper: &str, action: &str, input: &str, registry: &str) -> Result<(bool, String)> {
    let program = format!("docker-credential-{helper}");
    let err = |reason: String| RegistryError::Credentials { registry: registry.into(), reason };
    let mut child = Command::new(&program)
        .arg(action)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| err(format!("running {program}: {e}")))?;
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(input.as_bytes());
    }
    let out = child.wait_with_output().map_err(|e| err(format!("running {program}: {e}")))?;
    let mut text = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if text.is_empty() {
        text = String::from_utf8_lossy(&out.stderr).trim().to_string();
    }
    Ok((out.status.success(), text))
}

fn helper_get(helper: &str, registry: &str) -> Result<Option<Credentials>> {
    let (ok, text) = run_helper(helper, "get", &helper_server(registry), registry)?;
    if !ok {
        if text.contains("credentials not found") {
            return Ok(None);
        }
        return Err(RegistryError::Credentials {
            registry: registry.into(),
            reason: format!("docker-credential-{helper} get: {text}"),
        });
    }
    let v: Value = serde_json::from_str(&text).map_err(|e| RegistryError::Credentials {
        registry: registry.into(),
        reason: format!("docker-credential-{helper} get: invalid JSON: {e}"),
    })?;
    let username = v.get("Username").and_then(Value::as_str).unwrap_or("").to_string();
    let secret = v.get("Secret").and_then(Value::as_str).unwrap_or("").to_string();
    if username == "<token>" {
        return Ok(Some(Credentials {
            username: String::new(),
            password: String::new(),
            identity_token: Some(secret),
        }));
    }
    Ok(Some(Credentials { username, password: secret, identity_token: None }))
}

fn helper_store(helper: &str, registry: &str, creds: &Credentials) -> Result<()> {
    let (user, secret) = match &creds.identity_token {
        Some(t) => ("<token>".to_string(), t.clone()),
        None => (creds.username.clone(), creds.password.clone()),
    };
    let input = json!({"ServerURL": helper_server(registry), "Username": user, "Secret": secret}).to_string();
    let (ok, text) = run_helper(helper, "store", &input, registry)?;
    if !ok {
        return Err(RegistryError::Credentials {
            registry: registry.into(),
            reason: format!("docker-credential-{helper} store: {text}"),
        });
    }
    Ok(())
}

fn helper_erase(helper: &str, registry: &str) -> Result<bool> {
    let (ok, text) = run_helper(helper, "erase", &helper_server(registry), registry)?;
    if !ok {
        if text.contains("credentials not found") {
            return Ok(false);
        }
        return Err(RegistryError::Credentials {
            registry: registry.into(),
            reason: format!("docker-credential-{helper} erase: {text}"),
        });
    }
    Ok(true)
}

/// One `WWW-Authenticate` challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    /// Lowercase: `basic`, `bearer`.
    pub scheme: String,
    pub params: BTreeMap<String, String>,
}

/// Parse a `WWW-Authenticate` value: `Bearer realm="…",service="…",scope="a:b:pull,push"`.
/// Quoted values may hold commas and escaped quotes.
pub fn parse_challenge(header: &str) -> Option<Challenge> {
    let header = header.trim();
    let (scheme, rest) = match header.split_once(char::is_whitespace) {
        Some((s, r)) => (s, r.trim_start()),
        None => (header, ""),
    };
    if scheme.is_empty() {
        return None;
    }
    let mut params = BTreeMap::new();
    let mut chars = rest.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| *c == ',' || c.is_whitespace()) {
            chars.next();
        }
        let mut key = String::new();
        while let Some(&c) = chars.peek() {
            if c == '=' || c == ',' {
                break;
            }
            key.push(c);
            chars.next();
        }
        if key.is_empty() {
            break;
        }
        if chars.peek() != Some(&'=') {
            continue;
        }
        chars.next();
        let mut value = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => {
                        if let Some(n) = chars.next() {
                            value.push(n);
                        }
                    }
                    '"' => break,
                    c => value.push(c),
                }
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c == ',' {
                    break;
                }
                value.push(c);
                chars.next();
            }
        }
        params.insert(key.trim().to_ascii_lowercase(), value.trim().to_string());
    }
    Some(Challenge { scheme: scheme.to_ascii_lowercase(), params })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_bearer_and_basic_challenges() {
        let c = parse_challenge(
            r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:samalba/my-app:pull,push""#,
        )
        .unwrap();
        assert_eq!(c.scheme, "bearer");
        assert_eq!(c.params["realm"], "https://auth.docker.io/token");
        assert_eq!(c.params["service"], "registry.docker.io");
        assert_eq!(c.params["scope"], "repository:samalba/my-app:pull,push");
        let c = parse_challenge(r#"Basic realm="basic-realm""#).unwrap();
        assert_eq!(c.scheme, "basic");
        assert_eq!(c.params["realm"], "basic-realm");
        let c = parse_challenge(r#"Bearer realm=plain, error="insufficient_scope", x="a\"b""#).unwrap();
        assert_eq!(c.params["realm"], "plain");
        assert_eq!(c.params["error"], "insufficient_scope");
        assert_eq!(c.params["x"], "a\"b");
    }

    #[test]
    fn config_round_trip_keeps_other_keys_and_mode() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/config.json");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, r#"{"psFormat":"x","auths":{"https://127.0.0.1:5000/v2/":{"auth":"b2xkOm9sZA=="}}}"#)
            .unwrap();
        let cfg = DockerConfig::new(&path);
        assert_eq!(cfg.get("127.0.0.1:5000").unwrap(), Some(Credentials::new("old", "old")));
        cfg.store("127.0.0.1:5000", &Credentials::new("u", "p:w")).unwrap();
        assert_eq!(cfg.get("127.0.0.1:5000").unwrap(), Some(Credentials::new("u", "p:w")));
        let v: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        assert_eq!(v["psFormat"], "x");
        assert_eq!(v["auths"].as_object().unwrap().len(), 1);
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        cfg.store("docker.io", &Credentials::new("hub", "pw")).unwrap();
        assert!(std::fs::read_to_string(&path).unwrap().contains(DOCKER_HUB_AUTH_KEY));
        assert!(cfg.erase("127.0.0.1:5000").unwrap());
        assert!(!cfg.erase("127.0.0.1:5000").unwrap());
        assert_eq!(cfg.get("127.0.0.1:5000").unwrap(), None);
        assert_eq!(cfg.get("docker.io").unwrap(), Some(Credentials::new("hub", "pw")));
    }
}
