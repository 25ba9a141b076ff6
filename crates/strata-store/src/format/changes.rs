//! `--change` instructions (`import -c`, `commit -c`): the Dockerfile subset
//! Docker accepts there (moby `builder/dockerfile` `validCommitCommands`):
//! CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, USER, VOLUME, WORKDIR, STOPSIGNAL,
//! HEALTHCHECK, ONBUILD. [`parse`] is pure over `&str`; [`apply`] folds
//! instructions into a [`ContainerConfig`], expanding `$VAR` from its `Env`
//! where Dockerfiles do (not in CMD, ENTRYPOINT, HEALTHCHECK).

use std::collections::BTreeMap;
use std::fmt;

use super::change_args::{check_signal, clean_path, parse_healthcheck, parse_port_spec};
use super::words::{process_word, split_words};
use crate::config::ContainerConfig;
use crate::error::StoreError;

/// The arguments of CMD / ENTRYPOINT / HEALTHCHECK CMD.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CmdLine {
    /// `["a","b"]`
    Exec(Vec<String>),
    /// Anything else, run as `/bin/sh -c <text>`.
    Shell(String),
}

/// One parsed instruction. Texts are kept as written (quotes, `$VAR`) and
/// processed by [`apply`], which knows the environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    Cmd(CmdLine),
    Entrypoint(CmdLine),
    Env(Vec<(String, String)>),
    Expose(Vec<String>),
    Label(Vec<(String, String)>),
    User(String),
    Volume(Vec<String>),
    Workdir(String),
    StopSignal(String),
    /// Docker's `HealthConfig` as JSON (`Test`, durations in ns, `Retries`).
    Healthcheck(serde_json::Value),
    /// The trigger instruction's text.
    OnBuild(String),
}

impl Change {
    /// The instruction's keyword, `CMD`, `ENV`, ….
    pub fn keyword(&self) -> &'static str {
        match self {
            Change::Cmd(_) => "CMD",
            Change::Entrypoint(_) => "ENTRYPOINT",
            Change::Env(_) => "ENV",
            Change::Expose(_) => "EXPOSE",
            Change::Label(_) => "LABEL",
            Change::User(_) => "USER",
            Change::Volume(_) => "VOLUME",
            Change::Workdir(_) => "WORKDIR",
            Change::StopSignal(_) => "STOPSIGNAL",
            Change::Healthcheck(_) => "HEALTHCHECK",
            Change::OnBuild(_) => "ONBUILD",
        }
    }
}

/// A change Docker would refuse, with its message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeError {
    /// The instruction keyword as written (`RUN`).
    pub instruction: String,
    pub message: String,
}

impl fmt::Display for ChangeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ChangeError {}

impl From<ChangeError> for StoreError {
    fn from(e: ChangeError) -> StoreError {
        StoreError::InvalidArgument { what: "--change".into(), reason: e.message }
    }
}

/// Parse one change line. Blank lines and `#` comments give `None`.
pub fn parse(line: &str) -> Result<Option<Change>, ChangeError> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return Ok(None);
    }
    let (kw, rest) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
    let rest = rest.trim();
    let lower = kw.to_ascii_lowercase();
    let err = |message: String| ChangeError { instruction: kw.to_string(), message };
    let upper = kw.to_ascii_uppercase();
    let need_arg = |what: &str| if rest.is_empty() { Err(err(format!("{upper} requires {what}"))) } else { Ok(()) };
    let change = match lower.as_str() {
        "cmd" => Change::Cmd(parse_maybe_json(rest).map_err(err)?),
        "entrypoint" => Change::Entrypoint(parse_maybe_json(rest).map_err(err)?),
        "env" => Change::Env(parse_name_val(rest, "ENV").map_err(err)?),
        "label" => Change::Label(parse_name_val(rest, "LABEL").map_err(err)?),
        "expose" => {
            need_arg("at least one argument")?;
            Change::Expose(rest.split_whitespace().map(String::from).collect())
        }
        "user" => {
            need_arg("exactly one argument")?;
            Change::User(rest.to_string())
        }
        "workdir" => {
            need_arg("exactly one argument")?;
            Change::Workdir(rest.to_string())
        }
        "stopsignal" => {
            need_arg("exactly one argument")?;
            Change::StopSignal(rest.to_string())
        }
        "volume" => {
            need_arg("at least one argument")?;
            match parse_json_strings(rest).map_err(err)? {
                Some(v) => Change::Volume(v),
                None => Change::Volume(rest.split_whitespace().map(String::from).collect()),
            }
        }
        "healthcheck" => Change::Healthcheck(parse_healthcheck(rest).map_err(err)?),
        "onbuild" => {
            need_arg("at least one argument")?;
            let trigger = rest.split_whitespace().next().unwrap_or("").to_ascii_uppercase();
            match trigger.as_str() {
                "ONBUILD" => return Err(err("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed".into())),
                "FROM" | "MAINTAINER" => return Err(err(format!("{trigger} isn't allowed as an ONBUILD trigger"))),
                _ => Change::OnBuild(rest.to_string()),
            }
        }
        _ => return Err(err(format!("{lower} is not a valid change command"))),
    };
    Ok(Some(change))
}

/// Apply `changes` (each one line, as given to `-c`) to `config`, in order.
pub fn apply(config: &mut ContainerConfig, changes: &[String]) -> Result<(), ChangeError> {
    let parsed: Vec<Change> =
        changes.iter().map(|c| parse(c)).collect::<Result<Vec<_>, _>>()?.into_iter().flatten().collect();
    let mut cmd_set = false;
    for c in &parsed {
        apply_one(config, c, &mut cmd_set)?;
    }
    Ok(())
}

/// Apply one instruction. `cmd_set` records whether a CMD came earlier in the
/// same set: an ENTRYPOINT resets an inherited CMD otherwise (as in a build).
pub fn apply_one(config: &mut ContainerConfig, change: &Change, cmd_set: &mut bool) -> Result<(), ChangeError> {
    let env_now = config.env.clone().unwrap_or_default();
    let lookup = move |name: &str| {
        env_now.iter().rev().find_map(|kv| kv.split_once('=').filter(|(k, _)| *k == name).map(|(_, v)| v.to_string()))
    };
    let err = |message: String| ChangeError { instruction: change.keyword().to_string(), message };
    let word = |w: &str| process_word(w, &lookup).map_err(err);
    match change {
        Change::Cmd(cl) => {
            config.cmd = Some(resolve(cl));
            if !matches!(cl, CmdLine::Shell(s) if s.is_empty()) {
                *cmd_set = true;
            }
        }
        Change::Entrypoint(cl) => {
            config.entrypoint = Some(resolve(cl));
            if !*cmd_set {
                config.cmd = None;
            }
        }
        Change::Env(pairs) => {
            for (k, v) in pairs {
                let (k, v) = (word(k)?, word(v)?);
                if k.is_empty() {
                    return Err(err("ENV names can not be blank".into()));
                }
                let env = config.env.get_or_insert_with(Vec::new);
                let entry = format!("{k}={v}");
                match env.iter_mut().find(|e| e.split_once('=').map_or(e.as_str(), |(n, _)| n) == k) {
                    Some(e) => *e = entry,
                    None => env.push(entry),
                }
            }
        }
        Change::Label(pairs) => {
            for (k, v) in pairs {
                let (k, v) = (word(k)?, word(v)?);
                if k.is_empty() {
                    return Err(err("LABEL names can not be blank".into()));
                }
                config.labels.get_or_insert_with(BTreeMap::new).insert(k, v);
            }
        }
        Change::Expose(raw) => {
            let mut ports = Vec::new();
            for w in raw {
                for p in word(w)?.split_whitespace() {
                    ports.extend(parse_port_spec(p).map_err(err)?);
                }
            }
            let set = config.exposed_ports.get_or_insert_with(BTreeMap::new);
            for p in ports {
                set.insert(p, serde_json::json!({}));
            }
        }
        Change::User(u) => config.user = word(u)?,
        Change::Workdir(w) => {
            let w = word(w)?;
            if w.is_empty() {
                return Err(err("cannot normalize nothing".into()));
            }
            let joined = if w.starts_with('/') { w } else { format!("/{}/{w}", config.working_dir) };
            config.working_dir = clean_path(&joined);
        }
        Change::StopSignal(s) => {
            let s = word(s)?;
            check_signal(&s).map_err(err)?;
            config.stop_signal = Some(s);
        }
        Change::Volume(vs) => {
            let set = config.volumes.get_or_insert_with(BTreeMap::new);
            for v in vs {
                let v = word(v)?;
                if v.is_empty() {
                    return Err(err("VOLUME specified can not be an empty string".into()));
                }
                set.insert(v, serde_json::json!({}));
            }
        }
        Change::Healthcheck(h) => {
            config.extra.insert("Healthcheck".into(), h.clone());
        }
        Change::OnBuild(t) => {
            let list = config.extra.entry("OnBuild").or_insert_with(|| serde_json::json!([]));
            if !list.is_array() {
                *list = serde_json::json!([]);
            }
            list.as_array_mut().expect("array").push(serde_json::Value::String(t.clone()));
        }
    }
    Ok(())
}

fn resolve(cl: &CmdLine) -> Vec<String> {
    match cl {
        CmdLine::Exec(v) => v.clone(),
        CmdLine::Shell(s) if s.is_empty() => vec!["/bin/sh".into(), "-c".into()],
        CmdLine::Shell(s) => vec!["/bin/sh".into(), "-c".into(), s.clone()],
    }
}

/// `Some` for a JSON array of strings, `None` for text that is not a JSON
/// array, an error for a JSON array holding anything but strings.
fn parse_json_strings(rest: &str) -> Result<Option<Vec<String>>, String> {
    if !rest.starts_with('[') {
        return Ok(None);
    }
    match serde_json::from_str::<Vec<serde_json::Value>>(rest) {
        Err(_) => Ok(None),
        Ok(vals) => vals
            .into_iter()
            .map(|v| match v {
                serde_json::Value::String(s) => Ok(s),
                _ => Err("when using JSON array syntax, arrays must be comprised of strings only".to_string()),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
    }
}

pub(crate) fn parse_maybe_json(rest: &str) -> Result<CmdLine, String> {
    Ok(match parse_json_strings(rest)? {
        Some(v) => CmdLine::Exec(v),
        None => CmdLine::Shell(rest.to_string()),
    })
}

/// `K=V K2="v 2"`, or the legacy `K some value` (one pair, the rest of the line).
fn parse_name_val(rest: &str, kw: &str) -> Result<Vec<(String, String)>, String> {
    let words = split_words(rest);
    let Some(first) = words.first() else {
        return Err(format!("{kw} requires at least one argument"));
    };
    if !first.contains('=') {
        return match rest.split_once(char::is_whitespace) {
            Some((k, v)) if !v.trim().is_empty() => Ok(vec![(k.to_string(), v.trim_start().to_string())]),
            _ => Err(format!("{kw} must have two arguments")),
        };
    }
    words
        .iter()
        .map(|w| match w.split_once('=') {
            Some((k, v)) => Ok((k.to_string(), v.to_string())),
            None => Err(format!("Syntax error - can't find = in {w:?}. Must be of the form: name=value")),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(changes: &[&str]) -> Result<serde_json::Value, ChangeError> {
        let mut c = ContainerConfig::default();
        apply(&mut c, &changes.iter().map(|s| s.to_string()).collect::<Vec<_>>())?;
        Ok(serde_json::to_value(&c).unwrap())
    }

    #[test]
    fn cmd_and_entrypoint_forms() {
        assert_eq!(
            parse(r#"CMD ["a", "b c"]"#).unwrap(),
            Some(Change::Cmd(CmdLine::Exec(vec!["a".into(), "b c".into()])))
        );
        assert_eq!(parse(r#"cmd echo "hi""#).unwrap(), Some(Change::Cmd(CmdLine::Shell(r#"echo "hi""#.into()))));
        assert_eq!(parse("CMD [oops").unwrap(), Some(Change::Cmd(CmdLine::Shell("[oops".into()))));
        assert!(parse("CMD [1, 2]").is_err());
        let v = cfg(&["ENTRYPOINT top -b"]).unwrap();
        assert_eq!(v, serde_json::json!({"Entrypoint": ["/bin/sh", "-c", "top -b"]}));
        let v = cfg(&["CMD [\"x\"]", "ENTRYPOINT [\"e\"]"]).unwrap();
        assert_eq!(v, serde_json::json!({"Entrypoint": ["e"], "Cmd": ["x"]}));
    }

    #[test]
    fn entrypoint_resets_inherited_cmd() {
        let mut c = ContainerConfig { cmd: Some(vec!["sh".into()]), ..Default::default() };
        apply(&mut c, &["ENTRYPOINT [\"e\"]".to_string()]).unwrap();
        assert_eq!(c.cmd, None);
    }

    #[test]
    fn env_forms_and_expansion() {
        let v = cfg(&["ENV A=1 B=\"two words\"", "ENV C $A-${B}", "ENV A=3"]).unwrap();
        assert_eq!(v, serde_json::json!({"Env": ["A=3", "B=two words", "C=1-two words"]}));
        assert_eq!(cfg(&["ENV X"]).unwrap_err().message, "ENV must have two arguments");
        assert!(cfg(&["ENV A=1 B"]).unwrap_err().message.starts_with("Syntax error - can't find = in \"B\""));
    }

    #[test]
    fn expose_label_user_volume_workdir_stopsignal() {
        let v = cfg(&[
            "EXPOSE 80 443/tcp 53/udp 8000-8001",
            "LABEL a=b \"c d\"=\"e f\"",
            "USER app:app",
            "VOLUME [\"/data\", \"/logs\"]",
            "VOLUME /a /b",
            "WORKDIR /srv",
            "WORKDIR app/../web",
            "STOPSIGNAL SIGINT",
        ])
        .unwrap();
        assert_eq!(
            v,
            serde_json::json!({
                "User": "app:app",
                "ExposedPorts": {"443/tcp": {}, "53/udp": {}, "80/tcp": {}, "8000/tcp": {}, "8001/tcp": {}},
                "Volumes": {"/a": {}, "/b": {}, "/data": {}, "/logs": {}},
                "WorkingDir": "/srv/web",
                "Labels": {"a": "b", "c d": "e f"},
                "StopSignal": "SIGINT"
            })
        );
        assert_eq!(cfg(&["EXPOSE 80/xyz"]).unwrap_err().message, "invalid proto: xyz");
        assert_eq!(cfg(&["STOPSIGNAL NOPE"]).unwrap_err().message, "Invalid signal: NOPE");
        assert!(cfg(&["STOPSIGNAL 9"]).is_ok());
        assert!(cfg(&["STOPSIGNAL SIGRTMIN+3"]).is_ok());
    }

    #[test]
    fn healthcheck_and_onbuild() {
        let v = cfg(&["HEALTHCHECK --interval=30s --retries=3 CMD curl -f http://x/", "ONBUILD RUN make"]).unwrap();
        assert_eq!(
            v,
            serde_json::json!({
                "Healthcheck": {"Test": ["CMD-SHELL", "curl -f http://x/"], "Interval": 30_000_000_000i64, "Retries": 3},
                "OnBuild": ["RUN make"]
            })
        );
        assert_eq!(cfg(&["HEALTHCHECK NONE"]).unwrap(), serde_json::json!({"Healthcheck": {"Test": ["NONE"]}}));
        assert!(cfg(&["HEALTHCHECK FOO x"]).is_err());
        assert!(cfg(&["ONBUILD FROM x"]).is_err());
    }

    #[test]
    fn unknown_instructions_are_refused_by_name() {
        let e = parse("RUN echo hi").unwrap_err();
        assert_eq!(e.instruction, "RUN");
        assert_eq!(e.message, "run is not a valid change command");
        let s: StoreError = e.into();
        assert!(s.to_string().contains("run is not a valid change command"));
        assert!(parse("FROM x").is_err());
        assert_eq!(parse("  # comment").unwrap(), None);
    }
}
