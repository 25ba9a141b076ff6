//! Parsers for `create`'s option syntaxes, as the docker CLI's `opts`
//! package: pure functions of `&str` (the caller does any I/O).
//!
//! - [`mount`]: `--mount` (CSV `key=value` fields) and `--tmpfs`;
//! - [`ports`]: `-p` (`[ip:][hostPort:]containerPort[/proto]`, ranges);
//! - here: `--env-file` contents, `KEY=VALUE` lists, `-e` validation.

pub mod mount;
pub mod ports;

use std::collections::BTreeMap;

/// docker CLI `ConvertKVStringsToMap`: `k=v` → k: v, `k` → k: "".
pub fn kv_map(items: &[String]) -> BTreeMap<String, String> {
    items
        .iter()
        .map(|i| match i.split_once('=') {
            Some((k, v)) => (k.to_string(), v.to_string()),
            None => (i.clone(), String::new()),
        })
        .collect()
}

/// docker CLI `ValidateEnv`: `K=V` as is; a bare `K` takes its value from
/// `lookup` (the CLI's own environment) and stays bare when unset.
pub fn env_entry(val: &str, lookup: impl Fn(&str) -> Option<String>) -> Result<String, String> {
    let (k, has_value) = match val.split_once('=') {
        Some((k, _)) => (k, true),
        None => (val, false),
    };
    if k.is_empty() {
        return Err(format!("invalid environment variable: {val}"));
    }
    if has_value {
        return Ok(val.to_string());
    }
    Ok(lookup(k).map(|v| format!("{k}={v}")).unwrap_or_else(|| val.to_string()))
}

/// docker CLI `parseKeyValueFile` for `--env-file`: one `KEY=VALUE` per line,
/// leading white space trimmed, `#` comments and blank lines skipped, a bare
/// `KEY` looked up with `lookup` (and kept bare when unset), a UTF-8 BOM
/// ignored. The value is passed through untouched.
pub fn parse_env_file(text: &str, lookup: impl Fn(&str) -> Option<String>) -> Result<Vec<String>, String> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut out = Vec::new();
    for raw in text.lines() {
        let line = raw.trim_start();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (variable, value) = match line.split_once('=') {
            Some((k, v)) => (k, Some(v)),
            None => (line, None),
        };
        if variable.contains(|c: char| c.is_whitespace()) {
            return Err(format!("poorly formatted environment: variable '{variable}' contains whitespaces"));
        }
        if variable.is_empty() {
            return Err(format!("poorly formatted environment: no variable name on line '{line}'"));
        }
        match value {
            Some(v) => out.push(format!("{variable}={v}")),
            None => match lookup(variable) {
                Some(v) => out.push(format!("{}={v}", variable.trim())),
                None => out.push(variable.to_string()),
            },
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(k: &str) -> Option<String> {
        (k == "HOME").then(|| "/root".to_string())
    }

    #[test]
    fn env_entries_like_docker() {
        assert_eq!(env_entry("A=1", env).unwrap(), "A=1");
        assert_eq!(env_entry("A=", env).unwrap(), "A=");
        assert_eq!(env_entry("HOME", env).unwrap(), "HOME=/root");
        assert_eq!(env_entry("UNSET", env).unwrap(), "UNSET");
        assert_eq!(env_entry("=x", env).unwrap_err(), "invalid environment variable: =x");
    }

    #[test]
    fn env_files_like_docker() {
        let text = "\u{feff}# comment\n\n  A=1 \nB= spaced value\nHOME\nUNSET\nC=x=y\n";
        assert_eq!(parse_env_file(text, env).unwrap(), ["A=1 ", "B= spaced value", "HOME=/root", "UNSET", "C=x=y"]);
        assert_eq!(
            parse_env_file("A B=1\n", env).unwrap_err(),
            "poorly formatted environment: variable 'A B' contains whitespaces"
        );
        assert_eq!(
            parse_env_file("=1\n", env).unwrap_err(),
            "poorly formatted environment: no variable name on line '=1'"
        );
    }

    #[test]
    fn labels() {
        let m = kv_map(&["a=1".into(), "b".into(), "c=x=y".into()]);
        assert_eq!(m["a"], "1");
        assert_eq!(m["b"], "");
        assert_eq!(m["c"], "x=y");
    }
}
