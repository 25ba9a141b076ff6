//! One registry, spoken to over the distribution API (`/v2/…`):
//!
//! - **Endpoint**: HTTPS with verification. An insecure registry (see
//!   [`RegistryConfig::is_insecure`]) is tried over HTTPS without verification
//!   first and over plain HTTP when that fails, as Docker does; the choice is
//!   made once, by pinging `/v2/`.
//! - **Auth**: the ping's `WWW-Authenticate` decides. `Basic` sends the
//!   stored credentials; `Bearer` fetches a token from the realm for the
//!   client's scopes (`repository:<name>:pull[,push]`), with the credentials
//!   as Basic auth (or an identity token as an OAuth2 refresh token), before
//!   the first request. A 401 later (token expired, new scope) fetches a new
//!   token and retries once when the request body can be replayed.
//! - **Errors**: the spec's `{"errors":[{code,message}]}` become
//!   [`RegistryError::Api`] naming the registry; connection failures
//!   [`RegistryError::Transport`] (retryable ones are retried by callers).
//!
//! The client is `Sync`: downloads run on several threads through one client.

use std::io::Read;
use std::sync::Mutex;
use std::time::Instant;

use serde_json::Value;
use ureq::http::{self, Response};
use ureq::{Body, SendBody};

use crate::auth::{Challenge, Credentials, parse_challenge};
use crate::config::{RegistryConfig, api_host};
use crate::error::{RegistryError, Result};

/// A request body: nothing, bytes (replayable), or a stream (sent chunked, once).
pub(crate) enum ReqBody<'a> {
    Empty,
    Bytes(&'a [u8]),
    Stream(&'a mut (dyn Read + Send)),
}

#[derive(Debug, Clone)]
enum Auth {
    /// The registry asked for nothing.
    Anonymous,
    Basic,
    Bearer {
        realm: String,
        service: Option<String>,
        token: Option<String>,
    },
}

pub(crate) struct Client {
    /// The reference's domain, as users name the registry (`127.0.0.1:5000`, `docker.io`).
    pub registry: String,
    api_host: String,
    config: RegistryConfig,
    insecure: bool,
    verified: ureq::Agent,
    unverified: Option<ureq::Agent>,
    /// `https://host` or `http://host`, once pinged.
    base: Mutex<Option<(String, bool)>>,
    creds: Option<Credentials>,
    auth: Mutex<Option<Auth>>,
    scopes: Mutex<Vec<String>>,
}

impl Client {
    /// A client for `registry` with the stored credentials (Docker's config.json).
    pub fn new(config: &RegistryConfig, registry: &str) -> Result<Client> {
        let creds = crate::auth::DockerConfig::new(&config.docker_config).get(registry)?;
        Client::with_credentials(config, registry, creds)
    }

    pub fn with_credentials(config: &RegistryConfig, registry: &str, creds: Option<Credentials>) -> Result<Client> {
        let insecure = config.is_insecure(registry);
        let api = api_host(registry).to_string();
        Ok(Client {
            registry: registry.to_string(),
            verified: config.agent(registry, true)?,
            unverified: if insecure { Some(config.agent(registry, false)?) } else { None },
            api_host: api,
            config: config.clone(),
            insecure,
            base: Mutex::new(None),
            creds,
            auth: Mutex::new(None),
            scopes: Mutex::new(Vec::new()),
        })
    }

    pub fn config(&self) -> &RegistryConfig {
        &self.config
    }

    /// Ask for `repository:<repo>:<actions>` in the next token.
    pub fn add_scope(&self, repo: &str, actions: &str) {
        let scope = format!("repository:{repo}:{actions}");
        let mut scopes = self.scopes.lock().unwrap_or_else(|e| e.into_inner());
        if !scopes.contains(&scope) {
            scopes.push(scope);
            // A new scope needs a new token.
            if let Some(Auth::Bearer { token, .. }) = self.auth.lock().unwrap_or_else(|e| e.into_inner()).as_mut() {
                *token = None;
            }
        }
    }

    fn agent(&self, https: bool, verified: bool) -> &ureq::Agent {
        if https && !verified { self.unverified.as_ref().unwrap_or(&self.verified) } else { &self.verified }
    }

    /// The base URL, pinging `/v2/` to choose it (and learn the auth scheme) the first time.
    pub fn base(&self) -> Result<String> {
        if let Some((b, _)) = self.base.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
            return Ok(b.clone());
        }
        self.ping()?;
        Ok(self.base.lock().unwrap_or_else(|e| e.into_inner()).as_ref().expect("pinged").0.clone())
    }

    /// `GET /v2/`: choose the endpoint and record the challenge. Returns the
    /// status of the unauthenticated ping.
    pub fn ping(&self) -> Result<u16> {
        let candidates: Vec<(&str, bool)> =
            if self.insecure { vec![("https", false), ("http", false)] } else { vec![("https", true)] };
        let mut last = None;
        for (scheme, verified) in candidates {
            let url = format!("{scheme}://{}/v2/", self.api_host);
            let agent = self.agent(scheme == "https", verified);
            let req = http::Request::get(&url).body(()).expect("valid request");
            match agent.run(req) {
                Ok(mut resp) => {
                    let status = resp.status().as_u16();
                    let challenge =
                        resp.headers().get("www-authenticate").and_then(|v| v.to_str().ok()).and_then(parse_challenge);
                    let _ = resp.body_mut().with_config().limit(1 << 16).read_to_vec();
                    if status == 404 {
                        return Err(RegistryError::protocol(&self.registry, url, "not a registry: /v2/ answered 404"));
                    }
                    *self.base.lock().unwrap_or_else(|e| e.into_inner()) =
                        Some((format!("{scheme}://{}", self.api_host), verified));
                    let auth = match (status, challenge) {
                        (401, Some(c)) => self.auth_from_challenge(&c)?,
                        (401, None) => Auth::Basic,
                        _ => Auth::Anonymous,
                    };
                    *self.auth.lock().unwrap_or_else(|e| e.into_inner()) = Some(auth);
                    return Ok(status);
                }
                Err(e) => {
                    tracing::debug!("{url}: {e}");
                    last = Some(RegistryError::transport("GET", &url, e));
                }
            }
        }
        Err(last.expect("at least one endpoint"))
    }

    fn auth_from_challenge(&self, c: &Challenge) -> Result<Auth> {
        match c.scheme.as_str() {
            "bearer" => {
                let realm = c.params.get("realm").cloned().ok_or_else(|| {
                    RegistryError::protocol(&self.registry, "WWW-Authenticate", "Bearer challenge without a realm")
                })?;
                Ok(Auth::Bearer { realm, service: c.params.get("service").cloned(), token: None })
            }
            "basic" => Ok(Auth::Basic),
            other => Err(RegistryError::Unsupported {
                what: format!("{}: authentication scheme {other:?}", self.registry),
                reason: "only Basic and Bearer are implemented".into(),
            }),
        }
    }

    /// Check the credentials (`login`): a Basic registry must accept them on
    /// `/v2/`, a Bearer one must grant a token.
    pub fn login(&self) -> Result<()> {
        let status = self.ping()?;
        let fail = |reason: String| RegistryError::LoginFailed { registry: self.registry.clone(), reason };
        if status != 401 {
            return Ok(());
        }
        let auth = self.auth.lock().unwrap_or_else(|e| e.into_inner()).clone();
        match auth {
            Some(Auth::Bearer { .. }) => match self.fetch_token(&[]) {
                Ok(_) => Ok(()),
                Err(RegistryError::Unauthorized { message, .. }) => Err(fail(format!("unauthorized: {message}"))),
                Err(e) => Err(e),
            },
            _ => {
                let mut resp = self.send("GET", "/v2/", &[], ReqBody::Empty)?;
                let status = resp.status().as_u16();
                let _ = resp.body_mut().with_config().limit(1 << 16).read_to_vec();
                if status == 200 {
                    Ok(())
                } else if status == 401 {
                    Err(fail("unauthorized: incorrect username or password".into()))
                } else {
                    Err(fail(format!("unexpected status {status}")))
                }
            }
        }
    }

    /// The `Authorization` header for the next request, fetching a token first if needed.
    fn authorization(&self) -> Result<Option<String>> {
        let auth = self.auth.lock().unwrap_or_else(|e| e.into_inner()).clone();
        match auth {
            None | Some(Auth::Anonymous) => Ok(None),
            Some(Auth::Basic) => Ok(self.creds.as_ref().map(Credentials::basic_header)),
            Some(Auth::Bearer { token: Some(t), .. }) => Ok(Some(format!("Bearer {t}"))),
            Some(Auth::Bearer { token: None, .. }) => {
                let scopes = self.scopes.lock().unwrap_or_else(|e| e.into_inner()).clone();
                let t = self.fetch_token(&scopes)?;
                Ok(Some(format!("Bearer {t}")))
            }
        }
    }

    /// Get a token from the realm for `scopes` and remember it.
    fn fetch_token(&self, scopes: &[String]) -> Result<String> {
        let (realm, service) = match self.auth.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
            Some(Auth::Bearer { realm, service, .. }) => (realm.clone(), service.clone()),
            _ => return Err(RegistryError::protocol(&self.registry, "token", "the registry did not ask for a token")),
        };
        let started = Instant::now();
        let realm_host = realm.split("://").nth(1).and_then(|r| r.split('/').next()).unwrap_or("").to_string();
        let agent = self.config.agent(&realm_host, !self.config.is_insecure(&realm_host))?;
        let resp = match self.creds.as_ref().and_then(|c| c.identity_token.clone()) {
            Some(refresh) => {
                let mut form = vec![
                    ("grant_type", "refresh_token".to_string()),
                    ("refresh_token", refresh),
                    ("client_id", "strata".to_string()),
                    ("scope", scopes.join(" ")),
                ];
                if let Some(s) = &service {
                    form.push(("service", s.clone()));
                }
                let body = form.iter().map(|(k, v)| format!("{k}={}", encode(v))).collect::<Vec<_>>().join("&");
                let req = http::Request::post(&realm)
                    .header("Content-Type", "application/x-www-form-urlencoded")
                    .body(body.into_bytes())
                    .expect("valid request");
                agent.run(req).map_err(|e| RegistryError::transport("POST", &realm, e))?
            }
            None => {
                let mut query = Vec::new();
                if let Some(s) = &service {
                    query.push(format!("service={}", encode(s)));
                }
                for s in scopes {
                    query.push(format!("scope={}", encode(s)));
                }
                let sep = if realm.contains('?') { '&' } else { '?' };
                let url = if query.is_empty() { realm.clone() } else { format!("{realm}{sep}{}", query.join("&")) };
                let mut req = http::Request::get(&url);
                if let Some(c) = &self.creds {
                    req = req.header("Authorization", c.basic_header());
                }
                agent.run(req.body(()).expect("valid request")).map_err(|e| RegistryError::transport("GET", &url, e))?
            }
        };
        let status = resp.status().as_u16();
        let mut body = resp.into_body();
        let bytes = body.with_config().limit(1 << 20).read_to_vec().unwrap_or_default();
        if status == 401 || status == 403 {
            let message = if self.creds.is_some() {
                "incorrect username or password".to_string()
            } else {
                "authentication required".to_string()
            };
            return Err(RegistryError::Unauthorized { registry: self.registry.clone(), message });
        }
        if status != 200 {
            return Err(api_error(&self.registry, "token", status, &bytes));
        }
        let v: Value = serde_json::from_slice(&bytes)
            .map_err(|e| RegistryError::protocol(&self.registry, "token", format!("invalid JSON: {e}")))?;
        let token = v
            .get("token")
            .or_else(|| v.get("access_token"))
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| RegistryError::protocol(&self.registry, "token", "the response has no token"))?
            .to_string();
        tracing::debug!("token for {scopes:?} from {realm} in {:?}", started.elapsed());
        if let Some(Auth::Bearer { token: slot, .. }) = self.auth.lock().unwrap_or_else(|e| e.into_inner()).as_mut() {
            *slot = Some(token.clone());
        }
        Ok(token)
    }

    /// An absolute URL for `path` (`/v2/…`) or a `Location` value.
    pub fn url(&self, path_or_url: &str) -> Result<String> {
        if path_or_url.starts_with("http://") || path_or_url.starts_with("https://") {
            return Ok(path_or_url.to_string());
        }
        let base = self.base()?;
        if path_or_url.starts_with('/') {
            Ok(format!("{base}{path_or_url}"))
        } else {
            Ok(format!("{base}/v2/{path_or_url}"))
        }
    }

    /// Send one request with auth; a 401 gets a fresh token and one retry when
    /// the body can be replayed. The response may have any status.
    pub fn send(
        &self,
        method: &'static str,
        path_or_url: &str,
        headers: &[(&str, &str)],
        mut body: ReqBody<'_>,
    ) -> Result<Response<Body>> {
        let url = self.url(path_or_url)?;
        let https = url.starts_with("https://");
        let verified = self.base.lock().unwrap_or_else(|e| e.into_inner()).as_ref().is_none_or(|(_, v)| *v);
        // Only requests to the registry itself carry its credentials.
        let own = url.starts_with(&self.base()?);
        for attempt in 0..2 {
            let mut req = http::Request::builder().method(method).uri(&url);
            for (k, v) in headers {
                req = req.header(*k, *v);
            }
            if own && let Some(a) = self.authorization()? {
                req = req.header("Authorization", a);
            }
            let agent = self.agent(https, verified);
            let result = match &mut body {
                ReqBody::Empty => agent.run(req.body(()).expect("valid request")),
                ReqBody::Bytes(b) => agent.run(req.body(*b).expect("valid request")),
                ReqBody::Stream(r) => agent.run(req.body(SendBody::from_reader(*r)).expect("valid request")),
            };
            let mut resp = result.map_err(|e| RegistryError::transport(method, &url, e))?;
            if resp.status().as_u16() != 401 || !own || attempt == 1 {
                return Ok(resp);
            }
            let challenge =
                resp.headers().get("www-authenticate").and_then(|v| v.to_str().ok()).and_then(parse_challenge);
            let replayable = !matches!(body, ReqBody::Stream(_));
            let current = self.auth.lock().unwrap_or_else(|e| e.into_inner()).clone();
            match (challenge, current) {
                (Some(c), _) if c.scheme == "bearer" => {
                    if let Some(scope) = c.params.get("scope") {
                        for s in scope.split(' ') {
                            let mut scopes = self.scopes.lock().unwrap_or_else(|e| e.into_inner());
                            if !scopes.iter().any(|x| x == s) {
                                scopes.push(s.to_string());
                            }
                        }
                    }
                    let next = self.auth_from_challenge(&c)?;
                    *self.auth.lock().unwrap_or_else(|e| e.into_inner()) = Some(next);
                }
                (_, Some(Auth::Basic)) | (_, Some(Auth::Bearer { .. })) => return Ok(resp),
                (Some(c), _) => {
                    let next = self.auth_from_challenge(&c)?;
                    *self.auth.lock().unwrap_or_else(|e| e.into_inner()) = Some(next);
                }
                (None, _) => *self.auth.lock().unwrap_or_else(|e| e.into_inner()) = Some(Auth::Basic),
            }
            if !replayable {
                return Ok(resp);
            }
            let _ = resp.body_mut().with_config().limit(1 << 16).read_to_vec();
        }
        unreachable!("the loop returns")
    }

    /// Like [`Client::send`] for bodiless requests, retrying connection trouble
    /// and 5xx answers (`config.attempts`, pauses doubling).
    pub fn send_retrying(&self, method: &'static str, path: &str, headers: &[(&str, &str)]) -> Result<Response<Body>> {
        let mut pause = self.config.retry_pause;
        let mut attempt = 1;
        loop {
            let r = self.send(method, path, headers, ReqBody::Empty);
            let retry = match &r {
                Err(e) => e.is_retryable(),
                Ok(resp) => resp.status().as_u16() >= 500 || resp.status().as_u16() == 429,
            };
            if !retry || attempt >= self.config.attempts {
                return r;
            }
            tracing::info!("{method} {path} on {}: retrying in {pause:?}", self.registry);
            std::thread::sleep(pause);
            pause *= 2;
            attempt += 1;
        }
    }

    /// The error for an unexpected response (its body read, at most 64 KiB).
    pub fn error(&self, what: &str, resp: Response<Body>) -> RegistryError {
        let status = resp.status().as_u16();
        let bytes = resp.into_body().with_config().limit(1 << 16).read_to_vec().unwrap_or_default();
        if status == 401 {
            let message = first_error(&bytes).map(|(_, m)| m).unwrap_or_else(|| "authentication required".into());
            return RegistryError::Unauthorized { registry: self.registry.clone(), message };
        }
        api_error(&self.registry, what, status, &bytes)
    }
}

/// `{"errors":[{"code":…,"message":…}]}` → (code, message) of the first one.
fn first_error(bytes: &[u8]) -> Option<(String, String)> {
    let v: Value = serde_json::from_slice(bytes).ok()?;
    let e = v.get("errors")?.as_array()?.first()?;
    let code = e.get("code").and_then(Value::as_str).unwrap_or("").to_string();
    let message = e.get("message").and_then(Value::as_str).unwrap_or("").to_string();
    Some((code, message))
}

pub(crate) fn api_error(registry: &str, what: &str, status: u16, bytes: &[u8]) -> RegistryError {
    let (code, message) = first_error(bytes).unwrap_or_else(|| {
        let text = String::from_utf8_lossy(bytes);
        let text = text.trim();
        let reason = http::StatusCode::from_u16(status).ok().and_then(|s| s.canonical_reason()).unwrap_or("");
        (reason.to_string(), text.chars().take(200).collect())
    });
    RegistryError::Api { registry: registry.to_string(), what: what.to_string(), status, code, message }
}

/// Percent-encode a query value (RFC 3986 unreserved characters stay).
pub(crate) fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A header's value as text.
pub(crate) fn header<'a>(resp: &'a Response<Body>, name: &str) -> Option<&'a str> {
    resp.headers().get(name).and_then(|v| v.to_str().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_query_values() {
        assert_eq!(encode("repository:a/b:pull,push"), "repository%3Aa%2Fb%3Apull%2Cpush");
        assert_eq!(encode("registry.docker.io"), "registry.docker.io");
    }

    #[test]
    fn reads_spec_errors() {
        let e = api_error(
            "r:1",
            "manifest",
            404,
            br#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}"#,
        );
        assert_eq!(e.to_string(), "r:1: manifest: 404 MANIFEST_UNKNOWN: manifest unknown");
        let e = api_error("r:1", "blob", 502, b"bad gateway");
        assert_eq!(e.to_string(), "r:1: blob: 502 Bad Gateway: bad gateway");
    }
}
