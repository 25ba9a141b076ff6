//! Argument syntaxes of `--change` instructions, as Docker checks them:
//! EXPOSE port specs, WORKDIR paths, STOPSIGNAL names, HEALTHCHECK options
//! and Go durations. Pure functions over `&str`.

use std::collections::BTreeMap;

use super::changes::{CmdLine, parse_maybe_json};

/// `80`, `80/udp`, `8000-8002/tcp` (and Docker's `ip:host:container` forms,
/// of which only the container part matters) → `80/tcp`, ….
pub(crate) fn parse_port_spec(spec: &str) -> Result<Vec<String>, String> {
    let (ports, proto) = match spec.rsplit_once('/') {
        Some((p, proto)) => (p, proto.to_ascii_lowercase()),
        None => (spec, "tcp".to_string()),
    };
    if !matches!(proto.as_str(), "tcp" | "udp" | "sctp") {
        return Err(format!("invalid proto: {proto}"));
    }
    let container = ports.rsplit(':').next().unwrap_or(ports);
    let bad = || format!("invalid containerPort: {container}");
    let (lo, hi) = match container.split_once('-') {
        Some((a, b)) => (a.parse::<u16>().map_err(|_| bad())?, b.parse::<u16>().map_err(|_| bad())?),
        None => {
            let p = container.parse::<u16>().map_err(|_| bad())?;
            (p, p)
        }
    };
    if hi < lo {
        return Err(format!("invalid range specified for container port: {container}"));
    }
    Ok((lo..=hi).map(|p| format!("{p}/{proto}")).collect())
}

/// Lexical clean of an absolute path (Go `path.Clean`).
pub(crate) fn clean_path(p: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for c in p.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            c => parts.push(c),
        }
    }
    format!("/{}", parts.join("/"))
}

const SIGNALS: &[&str] = &[
    "ABRT", "ALRM", "BUS", "CHLD", "CLD", "CONT", "FPE", "HUP", "ILL", "INT", "IO", "IOT", "KILL", "PIPE", "POLL",
    "PROF", "PWR", "QUIT", "SEGV", "STKFLT", "STOP", "SYS", "TERM", "TRAP", "TSTP", "TTIN", "TTOU", "UNUSED", "URG",
    "USR1", "USR2", "VTALRM", "WINCH", "XCPU", "XFSZ", "RTMIN", "RTMAX",
];

/// Docker's `signal.ParseSignal`: a number, or a name with or without `SIG`.
pub(crate) fn check_signal(s: &str) -> Result<(), String> {
    let invalid = || format!("Invalid signal: {s}");
    if let Ok(n) = s.parse::<i64>() {
        return if (1..=64).contains(&n) { Ok(()) } else { Err(invalid()) };
    }
    let upper = s.to_ascii_uppercase();
    let name = upper.strip_prefix("SIG").unwrap_or(&upper);
    let rt = |base: &str, sign: char, max: u32| {
        name.strip_prefix(base)
            .and_then(|r| r.strip_prefix(sign))
            .and_then(|n| n.parse::<u32>().ok())
            .is_some_and(|n| (1..=max).contains(&n))
    };
    if SIGNALS.contains(&name) || rt("RTMIN", '+', 15) || rt("RTMAX", '-', 14) { Ok(()) } else { Err(invalid()) }
}

/// `HEALTHCHECK [--interval=D] [--timeout=D] [--start-period=D] [--start-interval=D] [--retries=N] CMD …` or `NONE`.
pub(crate) fn parse_healthcheck(rest: &str) -> Result<serde_json::Value, String> {
    let mut flags: BTreeMap<String, String> = BTreeMap::new();
    let mut rest = rest;
    while let Some(f) = rest.strip_prefix("--") {
        let (flag, tail) = f.split_once(char::is_whitespace).unwrap_or((f, ""));
        let (name, value) = flag.split_once('=').ok_or_else(|| format!("missing a value on flag: {flag}"))?;
        if !matches!(name, "interval" | "timeout" | "start-period" | "start-interval" | "retries") {
            return Err(format!("Unknown flag: {name}"));
        }
        flags.insert(name.to_string(), value.to_string());
        rest = tail.trim_start();
    }
    let (typ, args) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
    let args = args.trim();
    if typ.is_empty() {
        return Err("HEALTHCHECK requires at least one argument".into());
    }
    let typ = typ.to_ascii_uppercase();
    let mut h = serde_json::Map::new();
    if typ == "NONE" {
        if !args.is_empty() {
            return Err("HEALTHCHECK NONE takes no arguments".into());
        }
        h.insert("Test".into(), serde_json::json!(["NONE"]));
        return Ok(serde_json::Value::Object(h));
    }
    if typ != "CMD" {
        return Err(format!("Unknown type {typ:?} in HEALTHCHECK (try CMD)"));
    }
    let test = match parse_maybe_json(args)? {
        CmdLine::Exec(v) if !v.is_empty() => std::iter::once("CMD".to_string()).chain(v).collect::<Vec<_>>(),
        CmdLine::Shell(s) if !s.is_empty() => vec!["CMD-SHELL".to_string(), s],
        _ => return Err("Missing command after HEALTHCHECK CMD".into()),
    };
    h.insert("Test".into(), serde_json::json!(test));
    for (flag, key) in [
        ("interval", "Interval"),
        ("timeout", "Timeout"),
        ("start-period", "StartPeriod"),
        ("start-interval", "StartInterval"),
    ] {
        if let Some(v) = flags.get(flag) {
            let ns = parse_duration(v).ok_or_else(|| format!("time: invalid duration {v:?}"))?;
            if ns != 0 && ns < 1_000_000 {
                return Err(format!("Interval {flag:?} cannot be less than 1ms"));
            }
            if ns != 0 {
                h.insert(key.into(), serde_json::json!(ns));
            }
        }
    }
    if let Some(v) = flags.get("retries") {
        let n: i64 = v.parse().map_err(|_| format!("strconv.ParseInt: parsing {v:?}: invalid syntax"))?;
        if n < 0 {
            return Err(format!("--retries cannot be negative ({n})"));
        }
        if n != 0 {
            h.insert("Retries".into(), serde_json::json!(n));
        }
    }
    Ok(serde_json::Value::Object(h))
}

/// Go's `time.ParseDuration`, in nanoseconds (`1m30s`, `1.5h`, `500ms`).
fn parse_duration(s: &str) -> Option<i64> {
    let (neg, mut rest) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    if rest == "0" {
        return Some(0);
    }
    if rest.is_empty() {
        return None;
    }
    let mut total: f64 = 0.0;
    while !rest.is_empty() {
        let num_end = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
        let num: f64 = rest[..num_end].parse().ok()?;
        rest = &rest[num_end..];
        let unit_end = rest.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(rest.len());
        let mult = match &rest[..unit_end] {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return None,
        };
        rest = &rest[unit_end..];
        total += num * mult;
    }
    let ns = total.round() as i64;
    Some(if neg { -ns } else { ns })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations() {
        assert_eq!(parse_duration("1m30s"), Some(90_000_000_000));
        assert_eq!(parse_duration("1.5h"), Some(5_400_000_000_000));
        assert_eq!(parse_duration("250ms"), Some(250_000_000));
        assert_eq!(parse_duration("0"), Some(0));
        assert_eq!(parse_duration("5"), None);
        assert_eq!(parse_duration("5x"), None);
    }

    #[test]
    fn port_specs() {
        assert_eq!(parse_port_spec("80").unwrap(), ["80/tcp"]);
        assert_eq!(parse_port_spec("53/UDP").unwrap(), ["53/udp"]);
        assert_eq!(parse_port_spec("127.0.0.1:8080:80/tcp").unwrap(), ["80/tcp"]);
        assert_eq!(parse_port_spec("7000-7001").unwrap(), ["7000/tcp", "7001/tcp"]);
        assert!(parse_port_spec("70000").is_err());
        assert!(parse_port_spec("9-8").is_err());
    }

    #[test]
    fn signals_and_paths() {
        for ok in ["SIGTERM", "term", "9", "SIGRTMIN+3", "RTMAX-1"] {
            assert!(check_signal(ok).is_ok(), "{ok}");
        }
        for bad in ["0", "SIGNOPE", "RTMIN+16", ""] {
            assert!(check_signal(bad).is_err(), "{bad}");
        }
        assert_eq!(clean_path("/a/./b/../c/"), "/a/c");
        assert_eq!(clean_path("//"), "/");
    }
}
