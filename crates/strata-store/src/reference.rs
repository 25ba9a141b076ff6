//! Image references, normalised as Docker does: `busybox` is
//! `docker.io/library/busybox:latest`, displayed in its familiar short form.

use std::fmt;

use crate::error::{Result, StoreError};

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Reference {
    /// Registry host (and port), e.g. `docker.io`, `localhost:5000`.
    pub domain: String,
    /// Repository path, e.g. `library/busybox`.
    pub path: String,
    pub tag: Option<String>,
    pub digest: Option<String>,
}

pub const DEFAULT_DOMAIN: &str = "docker.io";

impl Reference {
    /// Parse and normalise; a reference without tag or digest gets `latest`.
    pub fn parse(s: &str) -> Result<Reference> {
        let bad = |reason: &str| StoreError::InvalidReference { reference: s.to_string(), reason: reason.to_string() };
        if s.is_empty() {
            return Err(bad("empty reference"));
        }
        let (name, digest) = match s.split_once('@') {
            Some((n, d)) => {
                crate::Digest::parse(d).map_err(|_| bad("digest must be sha256:<64 hex>"))?;
                (n, Some(d.to_string()))
            }
            None => (s, None),
        };
        // A tag follows the last ':' after the last '/'.
        let last_slash = name.rfind('/').map(|i| i + 1).unwrap_or(0);
        let (name, tag) = match name[last_slash..].rfind(':') {
            Some(i) => (&name[..last_slash + i], Some(name[last_slash + i + 1..].to_string())),
            None => (name, None),
        };
        if let Some(t) = &tag {
            let ok = !t.is_empty()
                && t.len() <= 128
                && t.chars().next().is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
                && t.chars().all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
            if !ok {
                return Err(bad("tag must match [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}"));
            }
        }
        let (domain, path) = match name.split_once('/') {
            Some((first, rest)) if first.contains('.') || first.contains(':') || first == "localhost" => {
                (first.to_string(), rest.to_string())
            }
            _ => (DEFAULT_DOMAIN.to_string(), name.to_string()),
        };
        let path = if domain == DEFAULT_DOMAIN && !path.contains('/') { format!("library/{path}") } else { path };
        if path.is_empty() {
            return Err(bad("empty repository name"));
        }
        for comp in path.split('/') {
            let ok = !comp.is_empty()
                && comp.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c))
                && comp.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
                && comp.chars().last().is_some_and(|c| c.is_ascii_alphanumeric());
            if !ok {
                return Err(bad("repository name must be lowercase alphanumerics separated by '.', '_', '-' or '/'"));
            }
        }
        let tag = if tag.is_none() && digest.is_none() { Some("latest".to_string()) } else { tag };
        Ok(Reference { domain, path, tag, digest })
    }

    /// Full repository name, `docker.io/library/busybox`.
    pub fn repository(&self) -> String {
        format!("{}/{}", self.domain, self.path)
    }

    /// The repository as `docker images` shows it: `busybox`, `foo/bar`, `localhost:5000/x`.
    pub fn familiar_repository(&self) -> String {
        if self.domain == DEFAULT_DOMAIN {
            self.path.strip_prefix("library/").unwrap_or(&self.path).to_string()
        } else {
            self.repository()
        }
    }

    /// `busybox:latest` (familiar form with tag and/or digest).
    pub fn familiar(&self) -> String {
        let mut s = self.familiar_repository();
        if let Some(t) = &self.tag {
            s.push(':');
            s.push_str(t);
        }
        if let Some(d) = &self.digest {
            s.push('@');
            s.push_str(d);
        }
        s
    }
}

impl fmt::Display for Reference {
    /// The fully qualified form, as stored.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.repository())?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_like_docker() {
        let r = Reference::parse("busybox").unwrap();
        assert_eq!(r.to_string(), "docker.io/library/busybox:latest");
        assert_eq!(r.familiar(), "busybox:latest");
        let r = Reference::parse("localhost:5000/a/b:1.0").unwrap();
        assert_eq!(r.to_string(), "localhost:5000/a/b:1.0");
        assert_eq!(r.familiar(), "localhost:5000/a/b:1.0");
        let r = Reference::parse("foo/bar").unwrap();
        assert_eq!(r.familiar(), "foo/bar:latest");
        assert!(Reference::parse("Upper").is_err());
        assert!(Reference::parse("a:b:c").is_err());
        assert!(Reference::parse("a:").is_err());
    }
}
