//! Facts about the host that `info` reports. Parsers take `&str`; [`HostInfo::probe`]
//! does the reading.

use std::path::Path;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostInfo {
    pub kernel_version: String,
    /// `PRETTY_NAME` from os-release.
    pub operating_system: String,
    /// `VERSION_ID` from os-release.
    pub os_version: String,
    /// `uname -m`, e.g. `x86_64`.
    pub architecture: String,
    pub ncpu: usize,
    pub mem_total: u64,
    pub hostname: String,
}

impl HostInfo {
    pub fn probe() -> HostInfo {
        let read = |p: &str| std::fs::read_to_string(Path::new(p)).unwrap_or_default();
        let os_release = {
            let s = read("/etc/os-release");
            if s.is_empty() { read("/usr/lib/os-release") } else { s }
        };
        HostInfo {
            kernel_version: read("/proc/sys/kernel/osrelease").trim().to_string(),
            operating_system: os_release_field(&os_release, "PRETTY_NAME").unwrap_or_else(|| "Linux".into()),
            os_version: os_release_field(&os_release, "VERSION_ID").unwrap_or_default(),
            architecture: std::env::consts::ARCH.to_string(),
            ncpu: std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
            mem_total: mem_total(&read("/proc/meminfo")).unwrap_or(0),
            hostname: read("/proc/sys/kernel/hostname").trim().to_string(),
        }
    }
}

/// A field of an os-release file, unquoted.
pub fn os_release_field(text: &str, key: &str) -> Option<String> {
    text.lines().find_map(|l| {
        let (k, v) = l.split_once('=')?;
        if k.trim() != key {
            return None;
        }
        let v = v.trim();
        let v = v.strip_prefix('"').and_then(|s| s.strip_suffix('"')).unwrap_or(v);
        let v = v.strip_prefix('\'').and_then(|s| s.strip_suffix('\'')).unwrap_or(v);
        Some(v.replace("\\\"", "\"").replace("\\$", "$").replace("\\\\", "\\"))
    })
}

/// `MemTotal` of /proc/meminfo in bytes.
pub fn mem_total(meminfo: &str) -> Option<u64> {
    let line = meminfo.lines().find(|l| l.starts_with("MemTotal:"))?;
    let mut parts = line["MemTotal:".len()..].split_whitespace();
    let n: u64 = parts.next()?.parse().ok()?;
    let mult = match parts.next() {
        Some("kB") => 1024,
        Some("mB") => 1024 * 1024,
        _ => 1,
    };
    Some(n * mult)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_os_release_and_meminfo() {
        let os = "NAME=\"Debian GNU/Linux\"\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nVERSION_ID=\"12\"\n";
        assert_eq!(os_release_field(os, "PRETTY_NAME").as_deref(), Some("Debian GNU/Linux 12 (bookworm)"));
        assert_eq!(os_release_field(os, "VERSION_ID").as_deref(), Some("12"));
        assert_eq!(os_release_field(os, "ID"), None);
        assert_eq!(mem_total("MemTotal:       24608916 kB\nMemFree: 1 kB\n"), Some(24608916 * 1024));
    }
}
