//! Word handling for Dockerfile arguments: splitting at unquoted whitespace,
//! then quote removal, escapes and `$VAR` / `${VAR:-x}` expansion.
//!
//! Expansion is the store's own expander (`strata_store::format::words::
//! process_word`, the one `commit -c` / `import -c` use). That module is
//! private today, so [`process`] reaches it through the public
//! `changes::apply_one` with a `USER` change, which is exactly
//! `config.user = process_word(word, env)`. Once `format::words` is `pub`,
//! [`process`] becomes a direct call and [`split`] a re-export.
//!
//! The escape character: the expander knows only `\`. With `# escape=\``
//! a word is first rewritten into the `\` dialect ([`to_backslash`]), so
//! `` `$X `` stays literal and `C:\dir` keeps its backslash, as in BuildKit.

use std::collections::BTreeMap;

use strata_store::config::ContainerConfig;
use strata_store::format::changes::{self, Change};

/// Variables visible to an instruction: the stage's build args overlaid by
/// its `ENV` (ENV wins, as in Docker). Kept as `K=V` strings, last wins.
#[derive(Debug, Clone, Default)]
pub struct Vars {
    entries: Vec<String>,
}

impl Vars {
    /// `args` first, then `env` (so an ENV of the same name wins).
    pub fn new(args: &BTreeMap<String, String>, env: &[String]) -> Vars {
        let mut entries: Vec<String> = args.iter().map(|(k, v)| format!("{k}={v}")).collect();
        entries.extend(env.iter().cloned());
        Vars { entries }
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.entries.iter().rev().find_map(|e| e.split_once('=').filter(|(k, _)| *k == name).map(|(_, v)| v))
    }

    /// As `K=V` strings (the form the store's `ContainerConfig.env` has).
    pub fn entries(&self) -> &[String] {
        &self.entries
    }
}

/// Quote removal, escapes and variable expansion of one word.
pub fn process(word: &str, vars: &Vars, escape: char) -> Result<String, String> {
    let word = to_backslash(word, escape);
    let mut cfg = ContainerConfig { env: Some(vars.entries.clone()), ..Default::default() };
    let mut cmd_set = false;
    changes::apply_one(&mut cfg, &Change::User(word), &mut cmd_set).map_err(|e| e.message)?;
    Ok(cfg.user)
}

/// Split at unquoted whitespace; quotes and escapes stay in the words
/// (BuildKit's `parseWords`, with the file's escape character).
pub fn split(rest: &str, escape: char) -> Vec<String> {
    #[derive(PartialEq)]
    enum Phase {
        Spaces,
        Word,
        Quote(char),
    }
    let mut words = Vec::new();
    let mut word = String::new();
    let mut blank_ok = false;
    let mut phase = Phase::Spaces;
    let mut chars = rest.chars();
    while let Some(ch) = chars.next() {
        if phase == Phase::Spaces {
            if ch.is_whitespace() {
                continue;
            }
            phase = Phase::Word;
        }
        match phase {
            Phase::Word => {
                if ch.is_whitespace() {
                    if blank_ok || !word.is_empty() {
                        words.push(std::mem::take(&mut word));
                    }
                    blank_ok = false;
                    phase = Phase::Spaces;
                    continue;
                }
                if ch == '\'' || ch == '"' {
                    blank_ok = true;
                    phase = Phase::Quote(ch);
                } else if ch == escape {
                    if let Some(next) = chars.next() {
                        word.push(ch);
                        word.push(next);
                    }
                    continue;
                }
                word.push(ch);
            }
            Phase::Quote(q) => {
                if ch == q {
                    phase = Phase::Word;
                } else if ch == escape && q != '\'' {
                    match chars.next() {
                        Some(next) => {
                            word.push(ch);
                            word.push(next);
                        }
                        None => phase = Phase::Word,
                    }
                    continue;
                }
                word.push(ch);
            }
            Phase::Spaces => unreachable!("handled above"),
        }
    }
    if phase != Phase::Spaces && (blank_ok || !word.is_empty()) {
        words.push(word);
    }
    words
}

/// Rewrite a word written with `escape` as the escape character into the
/// `\` dialect the expander understands. Identity for `\`.
pub fn to_backslash(word: &str, escape: char) -> String {
    if escape == '\\' {
        return word.to_string();
    }
    let mut out = String::with_capacity(word.len() + 4);
    let mut chars = word.chars().peekable();
    let mut quote: Option<char> = None;
    while let Some(ch) = chars.next() {
        match quote {
            Some('\'') => {
                if ch == '\'' {
                    quote = None;
                }
                out.push(ch);
            }
            Some(_) => {
                // Double quotes: only `"`, `$` and the escape itself are escapable.
                if ch == '"' {
                    quote = None;
                    out.push(ch);
                } else if ch == '\\' {
                    out.push_str("\\\\");
                } else if ch == escape {
                    match chars.peek() {
                        Some(&n) if n == '"' || n == '$' => {
                            out.push('\\');
                            out.push(n);
                            chars.next();
                        }
                        Some(&n) if n == escape => {
                            out.push(escape);
                            chars.next();
                        }
                        _ => out.push(escape),
                    }
                } else {
                    out.push(ch);
                }
            }
            None => {
                if ch == '\'' || ch == '"' {
                    quote = Some(ch);
                    out.push(ch);
                } else if ch == '\\' {
                    out.push_str("\\\\");
                } else if ch == escape {
                    if let Some(n) = chars.next() {
                        out.push('\\');
                        out.push(n);
                    }
                } else {
                    out.push(ch);
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars() -> Vars {
        let mut args = BTreeMap::new();
        args.insert("A".to_string(), "arg".to_string());
        args.insert("B".to_string(), "argb".to_string());
        Vars::new(&args, &["A=env".to_string()])
    }

    #[test]
    fn env_overrides_args() {
        let v = vars();
        assert_eq!(process("$A-$B-${C:-c}", &v, '\\').unwrap(), "env-argb-c");
        assert_eq!(process(r#""x y""#, &v, '\\').unwrap(), "x y");
    }

    #[test]
    fn backtick_escape() {
        let v = vars();
        assert_eq!(process(r"C:\dir", &v, '`').unwrap(), r"C:\dir");
        assert_eq!(process("`$A", &v, '`').unwrap(), "$A");
        assert_eq!(process("\"`$A `\"\"", &v, '`').unwrap(), "$A \"");
        assert_eq!(split("a`  b c", '`'), vec!["a` ", "b", "c"]);
        assert_eq!(split(r"a\ b", '`'), vec![r"a\", "b"]);
    }

    #[test]
    fn splits_like_buildkit() {
        assert_eq!(split(r#"a=1 b="x y"  c='q r'"#, '\\'), vec!["a=1", r#"b="x y""#, "c='q r'"]);
        assert_eq!(split(r"a\ b c", '\\'), vec![r"a\ b", "c"]);
        assert_eq!(split("   ", '\\'), Vec::<String>::new());
    }
}
