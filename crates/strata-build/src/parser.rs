//! Dockerfile text → stages and instructions. Pure over `&str`.
//!
//! What it follows (BuildKit's `parser` and `instructions` packages, which the
//! legacy builder shares):
//!
//! - Parser directives (`# escape=\``, `# syntax=...`, `# check=...`) only at
//!   the very top, before any other comment, blank line or instruction; each
//!   at most once. `escape` is `\` or `` ` ``.
//! - A line ending in the escape character (trailing blanks allowed)
//!   continues on the next; comment lines and blank lines inside a
//!   continuation are skipped. `Original` is the joined logical line.
//! - Keywords are case-insensitive. Flags (`--from=x`) come first, are
//!   checked per instruction, and their quotes are removed.
//! - RUN / CMD / ENTRYPOINT take a JSON array of strings (exec form) or text
//!   (shell form); a JSON array holding anything but strings is an error;
//!   text that merely starts with `[` is shell form. SHELL requires JSON.
//! - COPY / ADD take a JSON array or whitespace-separated words; at least a
//!   source and a destination.
//! - ARG before the first FROM are global (usable in FROM); anything else
//!   before a FROM is an error. `FROM image [AS name]`.
//! - Heredocs (`RUN <<EOF`) are refused with a message saying so.
//!
//! Words are kept as written; expansion happens when a step runs (it needs
//! the environment of the stage at that point).

use std::fmt;

use strata_store::format::changes::{self, Change, CmdLine};

/// A parsed Dockerfile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dockerfile {
    /// The escape character (`\`, or `` ` `` from `# escape=`).
    pub escape: char,
    /// `# syntax=` (recorded, not acted on: there is one frontend).
    pub syntax: Option<String>,
    /// ARG instructions before the first FROM.
    pub meta_args: Vec<Instruction>,
    pub stages: Vec<Stage>,
}

/// `FROM ...` and the instructions up to the next FROM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stage {
    /// The FROM instruction itself ([`Kind::From`]).
    pub from: Instruction,
    pub instructions: Vec<Instruction>,
}

impl Stage {
    /// The stage's `AS name` (lowercased, as BuildKit compares them).
    pub fn name(&self) -> Option<&str> {
        match &self.from.kind {
            Kind::From { name, .. } => name.as_deref(),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instruction {
    /// 1-based line where the instruction starts.
    pub line: usize,
    /// The logical line, continuations joined (what `Step N/M :` prints).
    pub original: String,
    pub kind: Kind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    From {
        base: String,
        name: Option<String>,
        platform: Option<String>,
    },
    Arg(Vec<ArgDecl>),
    Run(CmdLine),
    Copy(CopySpec),
    Add(CopySpec),
    /// SHELL's JSON array.
    Shell(Vec<String>),
    Maintainer(String),
    /// The metadata instructions `commit -c` also accepts: CMD, ENTRYPOINT,
    /// ENV, EXPOSE, LABEL, USER, VOLUME, WORKDIR, STOPSIGNAL, HEALTHCHECK, ONBUILD.
    Change(Change),
}

impl Kind {
    pub fn keyword(&self) -> &'static str {
        match self {
            Kind::From { .. } => "FROM",
            Kind::Arg(_) => "ARG",
            Kind::Run(_) => "RUN",
            Kind::Copy(_) => "COPY",
            Kind::Add(_) => "ADD",
            Kind::Shell(_) => "SHELL",
            Kind::Maintainer(_) => "MAINTAINER",
            Kind::Change(c) => c.keyword(),
        }
    }
}

/// `ARG name[=default]` (words as written).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArgDecl {
    pub name: String,
    pub default: Option<String>,
}

/// The arguments of COPY and ADD (words as written).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopySpec {
    pub sources: Vec<String>,
    pub dest: String,
    /// `--from=<stage name | stage index | image>` (COPY only).
    pub from: Option<String>,
    /// `--chown=user[:group]`, names or numbers.
    pub chown: Option<String>,
    /// `--chmod=<octal>`.
    pub chmod: Option<String>,
}

/// A parse error with its line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    pub line: usize,
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            f.write_str(&self.message)
        } else {
            write!(f, "Dockerfile parse error line {}: {}", self.line, self.message)
        }
    }
}

impl std::error::Error for ParseError {}

fn perr(line: usize, message: impl Into<String>) -> ParseError {
    ParseError { line, message: message.into() }
}

/// One logical line.
struct Logical {
    line: usize,
    text: String,
}

/// Parse a whole Dockerfile.
pub fn parse(src: &str) -> Result<Dockerfile, ParseError> {
    let (escape, syntax, lines) = logical_lines(src)?;
    let mut df = Dockerfile { escape, syntax, meta_args: Vec::new(), stages: Vec::new() };
    for l in lines {
        let inst = parse_instruction(&l.text, l.line, escape)?;
        match (&inst.kind, df.stages.last_mut()) {
            (Kind::From { .. }, _) => df.stages.push(Stage { from: inst, instructions: Vec::new() }),
            (_, Some(stage)) => stage.instructions.push(inst),
            (Kind::Arg(_), None) => df.meta_args.push(inst),
            (_, None) => {
                return Err(perr(
                    inst.line,
                    format!("no build stage in current context: {} before the first FROM", inst.kind.keyword()),
                ));
            }
        }
    }
    if df.stages.is_empty() {
        let msg = if df.meta_args.is_empty() { "file with no instructions" } else { "no FROM instruction" };
        return Err(perr(0, format!("the Dockerfile cannot be empty: {msg}")));
    }
    Ok(df)
}

/// Parse one instruction line (an ONBUILD trigger).
pub fn parse_line(text: &str, escape: char) -> Result<Instruction, ParseError> {
    parse_instruction(text.trim(), 0, escape)
}

/// Directives, then logical lines (continuations joined, comments dropped).
fn logical_lines(src: &str) -> Result<(char, Option<String>, Vec<Logical>), ParseError> {
    let src = src.strip_prefix('\u{feff}').unwrap_or(src);
    let physical: Vec<&str> = src.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l)).collect();
    let mut escape = '\\';
    let mut syntax = None;
    let mut seen: Vec<String> = Vec::new();
    let mut i = 0;
    // Directives: `# key=value` lines at the very top.
    while i < physical.len() {
        let Some((key, value)) = directive(physical[i]) else { break };
        if !["escape", "syntax", "check"].contains(&key.as_str()) {
            break;
        }
        if seen.contains(&key) {
            return Err(perr(i + 1, format!("only one {key} parser directive can be used")));
        }
        match key.as_str() {
            "escape" => {
                escape = match value.as_str() {
                    "\\" => '\\',
                    "`" => '`',
                    _ => {
                        return Err(perr(i + 1, format!("invalid escape token '{value}' does not match ` or \\")));
                    }
                }
            }
            "syntax" => syntax = Some(value.clone()),
            _ => {}
        }
        seen.push(key);
        i += 1;
    }
    let mut out = Vec::new();
    while i < physical.len() {
        let first = physical[i].trim_start();
        i += 1;
        if first.starts_with('#') {
            continue;
        }
        let start = i;
        let (mut text, mut done) = trim_continuation(first, escape);
        if done && text.trim().is_empty() {
            continue;
        }
        while !done && i < physical.len() {
            let next = physical[i];
            i += 1;
            let trimmed = next.trim_start();
            if trimmed.starts_with('#') || trimmed.trim().is_empty() {
                continue;
            }
            let (part, end) = trim_continuation(next, escape);
            text.push_str(&part);
            done = end;
        }
        let text = text.trim().to_string();
        if !text.is_empty() {
            out.push(Logical { line: start, text });
        }
    }
    Ok((escape, syntax, out))
}

/// `# key = value` (BuildKit's directive regexp), key lowercased.
fn directive(line: &str) -> Option<(String, String)> {
    let rest = line.strip_prefix('#')?.trim_start();
    let key_len = rest.find(|c: char| !c.is_ascii_alphanumeric()).unwrap_or(rest.len());
    let key = &rest[..key_len];
    if key.is_empty() || !key.starts_with(|c: char| c.is_ascii_alphabetic()) {
        return None;
    }
    let value = rest[key_len..].trim_start().strip_prefix('=')?.trim();
    if value.is_empty() {
        return None;
    }
    Some((key.to_ascii_lowercase(), value.to_string()))
}

/// Strip a trailing escape character (plus blanks after it): `(text, ends_here)`.
fn trim_continuation(line: &str, escape: char) -> (String, bool) {
    let t = line.trim_end_matches([' ', '\t']);
    match t.strip_suffix(escape) {
        Some(rest) => (rest.to_string(), false),
        None => (line.to_string(), true),
    }
}

/// Instruction keyword and the flags it accepts.
fn allowed_flags(kw: &str) -> &'static [&'static str] {
    match kw {
        "from" => &["platform"],
        "copy" => &["from", "chown", "chmod", "link"],
        "add" => &["chown", "chmod", "link"],
        _ => &[],
    }
}

fn parse_instruction(text: &str, line: usize, escape: char) -> Result<Instruction, ParseError> {
    let (kw_raw, rest) = match text.find(char::is_whitespace) {
        Some(i) => (&text[..i], text[i..].trim_start()),
        None => (text, ""),
    };
    let kw = kw_raw.to_ascii_lowercase();
    let err = |m: String| perr(line, m);
    let upper = kw.to_ascii_uppercase();
    // HEALTHCHECK's options are its own syntax (parsed by the change parser).
    let (flags, args) = if kw == "healthcheck" { (Vec::new(), rest.to_string()) } else { extract_flags(rest, escape) };
    let flags = check_flags(&kw, &flags).map_err(err)?;
    let flag = |name: &str| flags.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone());
    let kind = match kw.as_str() {
        "from" => {
            let words: Vec<&str> = args.split_whitespace().collect();
            let (base, name) = match words.as_slice() {
                [b] => (b.to_string(), None),
                [b, as_kw, n] if as_kw.eq_ignore_ascii_case("as") => (b.to_string(), Some(n.to_ascii_lowercase())),
                _ => return Err(err("FROM requires either one or three arguments".into())),
            };
            if let Some(n) = &name {
                let ok = n.starts_with(|c: char| c.is_ascii_alphabetic())
                    && n.chars().all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
                if !ok {
                    return Err(err(format!(
                        "invalid name for build stage: {n:?}, name can't start with a number or contain symbols"
                    )));
                }
            }
            Kind::From { base, name, platform: flag("platform") }
        }
        "arg" => {
            let words = crate::words::split(&args, escape);
            if words.is_empty() {
                return Err(err("ARG requires at least one argument".into()));
            }
            let decls = words
                .into_iter()
                .map(|w| match w.split_once('=') {
                    Some((k, v)) => ArgDecl { name: k.to_string(), default: Some(v.to_string()) },
                    None => ArgDecl { name: w, default: None },
                })
                .collect::<Vec<_>>();
            if let Some(d) = decls.iter().find(|d| d.name.is_empty()) {
                return Err(err(format!("ARG names can not be blank: {d:?}")));
            }
            Kind::Arg(decls)
        }
        "run" => {
            reject_heredoc(&upper, &args).map_err(err)?;
            let cl = cmd_line(&args).map_err(err)?;
            if matches!(&cl, CmdLine::Shell(s) if s.trim().is_empty())
                || matches!(&cl, CmdLine::Exec(v) if v.is_empty())
            {
                return Err(err("RUN requires at least one argument".into()));
            }
            Kind::Run(cl)
        }
        "copy" | "add" => {
            reject_heredoc(&upper, &args).map_err(err)?;
            let mut words = match json_strings(&args).map_err(err)? {
                Some(v) => v,
                None => args.split_whitespace().map(String::from).collect(),
            };
            if words.len() < 2 {
                return Err(err(format!(
                    "{upper} requires at least two arguments, but only one was provided. Destination could not be determined."
                )));
            }
            let dest = words.pop().expect("two words");
            let spec =
                CopySpec { sources: words, dest, from: flag("from"), chown: flag("chown"), chmod: flag("chmod") };
            if kw == "copy" { Kind::Copy(spec) } else { Kind::Add(spec) }
        }
        "shell" => match json_strings(&args).map_err(err)? {
            Some(v) if !v.is_empty() => Kind::Shell(v),
            _ => return Err(err("SHELL requires the arguments to be in JSON form".into())),
        },
        "maintainer" => {
            if args.is_empty() {
                return Err(err("MAINTAINER requires exactly one argument".into()));
            }
            Kind::Maintainer(args.clone())
        }
        "cmd" | "entrypoint" | "env" | "expose" | "label" | "user" | "volume" | "workdir" | "stopsignal"
        | "healthcheck" | "onbuild" => {
            // The expander these go through knows only `\` as the escape.
            let words_processed = !["cmd", "entrypoint", "healthcheck", "onbuild"].contains(&kw.as_str());
            let args = if words_processed { crate::words::to_backslash(&args, escape) } else { args.clone() };
            let c = changes::parse(&format!("{kw} {args}")).map_err(|e| err(e.message))?;
            Kind::Change(c.ok_or_else(|| err(format!("{upper} requires arguments")))?)
        }
        _ => return Err(err(format!("unknown instruction: {}", kw_raw.to_ascii_uppercase()))),
    };
    Ok(Instruction { line, original: text.to_string(), kind })
}

/// Exec form (a JSON array of strings) or shell form, as CMD parses it; an
/// error for a JSON array holding anything but strings.
fn cmd_line(rest: &str) -> Result<CmdLine, String> {
    match changes::parse(&format!("CMD {rest}")) {
        Ok(Some(Change::Cmd(cl))) => Ok(cl),
        Ok(_) => Ok(CmdLine::Shell(String::new())),
        Err(e) => Err(e.message),
    }
}

/// `Some(strings)` for a JSON array of strings, `None` for other text, an
/// error for an array holding anything else.
fn json_strings(rest: &str) -> Result<Option<Vec<String>>, String> {
    match cmd_line(rest)? {
        CmdLine::Exec(v) => Ok(Some(v)),
        CmdLine::Shell(_) => Ok(None),
    }
}

/// `<<EOF`, `<<-EOF`, `<<"EOF"` in RUN/COPY/ADD: BuildKit's heredocs, which
/// strata does not implement (the lines after would be misread as
/// instructions).
fn reject_heredoc(kw: &str, args: &str) -> Result<(), String> {
    for w in args.split_whitespace() {
        let Some(rest) = w.strip_prefix("<<") else { continue };
        if rest.starts_with('<') {
            continue; // a here-string `<<<`
        }
        let name = rest.trim_start_matches('-').trim_matches(|c| c == '"' || c == '\'');
        if name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') {
            return Err(format!(
                "{kw} with a heredoc ({w}) is not supported by strata build; put the text in a file in the build context and COPY it, or use a shell-form command with printf"
            ));
        }
    }
    Ok(())
}

/// Check the flags against what `kw` accepts: `(name, value)` pairs.
fn check_flags(kw: &str, flags: &[String]) -> Result<Vec<(String, String)>, String> {
    let allowed = allowed_flags(kw);
    let mut out: Vec<(String, String)> = Vec::new();
    for f in flags {
        let body = f.strip_prefix("--").unwrap_or(f);
        let (name, value) = match body.split_once('=') {
            Some((n, v)) => (n, Some(v)),
            None => (body, None),
        };
        let upper = kw.to_ascii_uppercase();
        if kw == "run" && ["mount", "network", "security"].contains(&name) {
            return Err(format!("RUN --{name} is not supported by strata build"));
        }
        if !allowed.contains(&name) {
            return Err(format!("unknown flag: {name}"));
        }
        if out.iter().any(|(n, _)| n == name) {
            return Err(format!("Duplicate flag specified: {name}"));
        }
        let value = match (name, value) {
            ("link", None) => "true".to_string(),
            ("link", Some(v)) if ["true", "false"].contains(&v) => v.to_string(),
            ("link", Some(v)) => return Err(format!("expecting boolean value for flag link, not: {v}")),
            (_, Some(v)) if !v.is_empty() => v.to_string(),
            (_, _) => return Err(format!("{upper} --{name} requires a value")),
        };
        out.push((name.to_string(), value));
    }
    Ok(out)
}

/// Leading `--flag[=value]` words (quotes removed) and the rest of the line
/// (BuildKit's `extractBuilderFlags`).
fn extract_flags(line: &str, escape: char) -> (Vec<String>, String) {
    #[derive(PartialEq)]
    enum Phase {
        Spaces,
        Word,
        Quote(char),
    }
    let chars: Vec<(usize, char)> = line.char_indices().collect();
    let mut words = Vec::new();
    let mut word = String::new();
    let mut blank_ok = false;
    let mut phase = Phase::Spaces;
    let mut i = 0;
    while i < chars.len() {
        let (pos, ch) = chars[i];
        if phase == Phase::Spaces {
            if ch.is_whitespace() {
                i += 1;
                continue;
            }
            let next = chars.get(i + 1).map(|c| c.1);
            if ch != '-' || next != Some('-') {
                return (words, line[pos..].to_string());
            }
            phase = Phase::Word;
        }
        match phase {
            Phase::Word => {
                if ch.is_whitespace() {
                    phase = Phase::Spaces;
                    if word == "--" {
                        return (words, line[pos..].trim_start().to_string());
                    }
                    if blank_ok || !word.is_empty() {
                        words.push(std::mem::take(&mut word));
                    }
                    word.clear();
                    blank_ok = false;
                } else if ch == '\'' || ch == '"' {
                    phase = Phase::Quote(ch);
                    blank_ok = true;
                } else if ch == escape {
                    if let Some(&(_, n)) = chars.get(i + 1) {
                        word.push(n);
                        i += 1;
                    }
                } else {
                    word.push(ch);
                }
            }
            Phase::Quote(q) => {
                if ch == q {
                    phase = Phase::Word;
                } else if ch == escape {
                    match chars.get(i + 1) {
                        Some(&(_, n)) => {
                            word.push(n);
                            i += 1;
                        }
                        None => phase = Phase::Word,
                    }
                } else {
                    word.push(ch);
                }
            }
            Phase::Spaces => unreachable!("handled above"),
        }
        i += 1;
    }
    if phase != Phase::Spaces && word != "--" && (blank_ok || !word.is_empty()) {
        words.push(word);
    }
    (words, String::new())
}
