//! Where registries are and how to reach them: host mapping (`docker.io` →
//! `registry-1.docker.io`), which hosts are *insecure* (plain HTTP allowed,
//! certificates not verified: Docker's rule), and which CAs to trust.
//!
//! ```text
//! /etc/docker/certs.d/<host[:port]>/*.crt     extra CAs for that registry (Docker's convention)
//!                                   client.cert + client.key   a client certificate
//! $STRATA_CERTS_D                             replaces /etc/docker/certs.d (tests)
//! $STRATA_REGISTRY_CA                         extra CA files for every registry (':'-separated)
//! $STRATA_INSECURE_REGISTRIES                 more insecure hosts or CIDRs (',' or ' '-separated)
//! $DOCKER_CONFIG/config.json, ~/.docker/config.json    credentials (see auth.rs)
//! ```

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use ureq::tls::{Certificate, ClientCert, PemItem, PrivateKey, RootCerts, TlsConfig};

use crate::error::{RegistryError, Result};

/// Docker Hub's API host for the `docker.io` domain.
pub const DOCKER_HUB_API: &str = "registry-1.docker.io";
/// The key Docker stores Docker Hub's credentials under.
pub const DOCKER_HUB_AUTH_KEY: &str = "https://index.docker.io/v1/";

/// How to reach registries. [`RegistryConfig::default`] reads the environment
/// (see the module docs); tests build one by hand.
#[derive(Debug, Clone)]
pub struct RegistryConfig {
    /// Hosts (`host`, `host:port`) or CIDRs (`10.0.0.0/8`) reached insecurely.
    pub insecure: Vec<String>,
    /// Docker's default: `localhost`, `127.0.0.0/8` and `::1` are insecure.
    pub insecure_loopback: bool,
    /// Extra CA certificates (PEM) trusted for every registry.
    pub ca_files: Vec<PathBuf>,
    /// Docker's `certs.d` directory.
    pub certs_d: PathBuf,
    /// Docker's `config.json` (credentials).
    pub docker_config: PathBuf,
    /// Concurrent blob transfers per pull (Docker: 3).
    pub max_concurrent_downloads: usize,
    /// Attempts per blob on connection trouble (the first one included).
    pub attempts: u32,
    /// Pause before the first retry; doubled each time.
    pub retry_pause: Duration,
}

impl Default for RegistryConfig {
    fn default() -> Self {
        RegistryConfig::from_env()
    }
}

impl RegistryConfig {
    /// Docker's defaults, adjusted by the environment.
    pub fn from_env() -> RegistryConfig {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let insecure = var("STRATA_INSECURE_REGISTRIES")
            .map(|v| v.split([',', ' ']).filter(|s| !s.is_empty()).map(str::to_string).collect())
            .unwrap_or_default();
        let ca_files =
            var("STRATA_REGISTRY_CA").map(|v| v.split(':').filter(|s| !s.is_empty()).map(PathBuf::from).collect());
        RegistryConfig {
            insecure,
            insecure_loopback: true,
            ca_files: ca_files.unwrap_or_default(),
            certs_d: var("STRATA_CERTS_D").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("/etc/docker/certs.d")),
            docker_config: crate::auth::default_config_path(),
            max_concurrent_downloads: 3,
            attempts: 3,
            retry_pause: Duration::from_millis(500),
        }
    }

    /// Whether `host` (`name[:port]`) may be reached over plain HTTP or
    /// unverified TLS.
    pub fn is_insecure(&self, host: &str) -> bool {
        let name = host_name(host);
        if self.insecure_loopback {
            if name == "localhost" {
                return true;
            }
            if let Ok(ip) = name.parse::<IpAddr>()
                && ip.is_loopback()
            {
                return true;
            }
        }
        self.insecure.iter().any(|entry| {
            if entry == host || entry == name {
                return true;
            }
            match (entry.split_once('/'), name.parse::<IpAddr>()) {
                (Some((net, bits)), Ok(ip)) => cidr_contains(net, bits, ip),
                _ => false,
            }
        })
    }

    /// The TLS settings for `host`: system roots, the configured CA files,
    /// `certs.d/<host>/*.crt`, and a client certificate from there if any.
    pub(crate) fn tls_for(&self, host: &str) -> Result<TlsConfig> {
        let mut roots = system_roots();
        for f in &self.ca_files {
            roots.extend(read_certs(f)?);
        }
        let dir = self.certs_d.join(host);
        let mut client = None;
        if let Ok(entries) = std::fs::read_dir(&dir) {
            let mut paths: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
            paths.sort();
            for p in paths {
                let ext = p.extension().and_then(|e| e.to_str()).unwrap_or("");
                if ext == "crt" {
                    roots.extend(read_certs(&p)?);
                } else if ext == "cert" {
                    let key = p.with_extension("key");
                    let certs = read_certs(&p)?;
                    let key_pem = std::fs::read(&key).map_err(|e| RegistryError::io("read", &key, e))?;
                    let key = PrivateKey::from_pem(&key_pem)
                        .map_err(|e| RegistryError::Tls { path: key.clone(), reason: e.to_string() })?;
                    client = Some(ClientCert::new_with_certs(&certs, key));
                }
            }
        }
        let root_certs = if roots.is_empty() { RootCerts::WebPki } else { RootCerts::new_with_certs(&roots) };
        Ok(TlsConfig::builder().root_certs(root_certs).client_cert(client).build())
    }

    /// An HTTP agent for `host`; `verify=false` accepts any certificate (insecure registries).
    pub(crate) fn agent(&self, host: &str, verify: bool) -> Result<ureq::Agent> {
        let tls = if verify { self.tls_for(host)? } else { TlsConfig::builder().disable_verification(true).build() };
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .tls_config(tls)
            .user_agent(format!("strata/{}", env!("CARGO_PKG_VERSION")))
            .timeout_connect(Some(Duration::from_secs(30)))
            .timeout_recv_response(Some(Duration::from_secs(120)))
            .timeout_per_read(Some(Duration::from_secs(120)))
            .timeout_per_write(Some(Duration::from_secs(120)))
            .max_redirects(10)
            .max_idle_connections_per_host(8)
            .build();
        Ok(config.into())
    }
}

/// The API host of a reference's domain (`docker.io` is served elsewhere).
pub fn api_host(domain: &str) -> &str {
    match domain {
        "docker.io" | "index.docker.io" => DOCKER_HUB_API,
        other => other,
    }
}

/// `host` without its port (`[::1]:5000` → `::1`).
fn host_name(host: &str) -> &str {
    if let Some(rest) = host.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match host.rsplit_once(':') {
        Some((h, port)) if !h.contains(':') && port.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => host,
    }
}

fn cidr_contains(net: &str, bits: &str, ip: IpAddr) -> bool {
    let Ok(bits) = bits.parse::<u32>() else { return false };
    match (net.parse::<IpAddr>(), ip) {
        (Ok(IpAddr::V4(n)), IpAddr::V4(a)) if bits <= 32 => {
            let mask = if bits == 0 { 0 } else { u32::MAX << (32 - bits) };
            u32::from(n) & mask == u32::from(a) & mask
        }
        (Ok(IpAddr::V6(n)), IpAddr::V6(a)) if bits <= 128 => {
            let mask = if bits == 0 { 0 } else { u128::MAX << (128 - bits) };
            u128::from(n) & mask == u128::from(a) & mask
        }
        _ => false,
    }
}

/// The certificates of a PEM file.
fn read_certs(path: &Path) -> Result<Vec<Certificate<'static>>> {
    let pem = std::fs::read(path).map_err(|e| RegistryError::io("read", path, e))?;
    let mut out = Vec::new();
    for item in ureq::tls::parse_pem(&pem) {
        match item {
            Ok(PemItem::Certificate(c)) => out.push(c.to_owned()),
            Ok(_) => {}
            Err(e) => return Err(RegistryError::Tls { path: path.to_path_buf(), reason: e.to_string() }),
        }
    }
    if out.is_empty() {
        return Err(RegistryError::Tls { path: path.to_path_buf(), reason: "no PEM certificate in the file".into() });
    }
    Ok(out)
}

/// The system's CA bundle (`$SSL_CERT_FILE`, or Debian's/Fedora's/Alpine's
/// locations); empty when none is readable, and Mozilla's roots are used.
fn system_roots() -> Vec<Certificate<'static>> {
    let mut candidates: Vec<PathBuf> = std::env::var_os("SSL_CERT_FILE").map(PathBuf::from).into_iter().collect();
    candidates.extend(
        ["/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt", "/etc/ssl/cert.pem"]
            .map(PathBuf::from),
    );
    for c in candidates {
        if let Ok(certs) = read_certs(&c) {
            return certs;
        }
    }
    Vec::new()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(insecure: &[&str]) -> RegistryConfig {
        RegistryConfig { insecure: insecure.iter().map(|s| s.to_string()).collect(), ..RegistryConfig::from_env() }
    }

    #[test]
    fn insecure_follows_docker_defaults_and_extras() {
        let c = cfg(&["myreg:5000", "10.1.0.0/16", "plain"]);
        for h in ["localhost", "localhost:5000", "127.0.0.1:5000", "127.3.4.5", "[::1]:5000", "::1"] {
            assert!(c.is_insecure(h), "{h}");
        }
        assert!(c.is_insecure("myreg:5000"));
        assert!(!c.is_insecure("myreg:5001"));
        assert!(c.is_insecure("plain:443"));
        assert!(c.is_insecure("10.1.200.3:5000"));
        assert!(!c.is_insecure("10.2.0.1"));
        assert!(!c.is_insecure("registry-1.docker.io"));
        let strict = RegistryConfig { insecure_loopback: false, ..cfg(&[]) };
        assert!(!strict.is_insecure("127.0.0.1:5000"));
    }

    #[test]
    fn docker_hub_maps_to_its_api_host() {
        assert_eq!(api_host("docker.io"), "registry-1.docker.io");
        assert_eq!(api_host("127.0.0.1:5000"), "127.0.0.1:5000");
        assert_eq!(host_name("[::1]:5000"), "::1");
        assert_eq!(host_name("a.b:5000"), "a.b");
    }
}
