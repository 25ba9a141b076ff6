//! Identifiers. Digests are `sha256:<64 hex>`; driver ids are 64 hex.

use std::fmt;

use crate::error::{Result, StoreError};

/// A content digest, always `sha256:<64 lowercase hex>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Digest(String);

impl Digest {
    pub fn parse(s: &str) -> Result<Digest> {
        let hex = s.strip_prefix("sha256:").ok_or_else(|| StoreError::invalid(s, "digest must start with sha256:"))?;
        if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
            return Err(StoreError::invalid(s, "digest must be sha256: followed by 64 lowercase hex characters"));
        }
        Ok(Digest(s.to_string()))
    }

    /// From a bare 64-hex sha256.
    pub fn from_hex(hex: &str) -> Result<Digest> {
        Digest::parse(&format!("sha256:{hex}"))
    }

    pub fn of_bytes(data: &[u8]) -> Digest {
        Digest(format!("sha256:{}", strata_archive::digest::sha256_hex(data)))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The 64 hex characters without the algorithm.
    pub fn hex(&self) -> &str {
        &self.0[7..]
    }

    /// Docker's short form: the first 12 hex characters.
    pub fn short(&self) -> &str {
        &self.0[7..19]
    }

    /// OCI ChainID: `ChainID(L0) = DiffID(L0)`, `ChainID(Ln) = sha256(ChainID(Ln-1) + " " + DiffID(Ln))`.
    pub fn chain(parent: Option<&Digest>, diff_id: &Digest) -> Digest {
        match parent {
            None => diff_id.clone(),
            Some(p) => Digest::of_bytes(format!("{} {}", p.0, diff_id.0).as_bytes()),
        }
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for Digest {
    type Error = StoreError;
    fn try_from(s: String) -> Result<Digest> {
        Digest::parse(&s)
    }
}

impl From<Digest> for String {
    fn from(d: Digest) -> String {
        d.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chain_id_matches_oci_definition() {
        let a = Digest::of_bytes(b"a");
        let b = Digest::of_bytes(b"b");
        assert_eq!(Digest::chain(None, &a), a);
        let expect = Digest::of_bytes(format!("{a} {b}").as_bytes());
        assert_eq!(Digest::chain(Some(&a), &b), expect);
        assert!(Digest::parse("sha256:xyz").is_err());
    }
}
