//! A Go `text/template` subset for `--format`, with the docker CLI's functions.
//!
//! Supported: literal text; actions `{{.Field}}`, `{{.A.B}}`, `{{.}}`, `{{$}}`,
//! `{{$.A}}`; pipelines (`{{.Name | lower}}`), parenthesised sub-pipelines;
//! string, number, `true`/`false`/`nil` literals; `{{if}}`/`{{else if}}`/`{{else}}`,
//! `{{range}}` (also `range $v := ...` and `range $k, $v := ...`), `{{with}}`,
//! `{{end}}`; trim markers `{{-` / `-}}`; comments `{{/* */}}`.
//!
//! Functions: the docker CLI's (`json`, `join`, `split`, `lower`, `upper`, `title`,
//! `pad`, `truncate`) and Go's builtins `index`, `len`, `not`, `and`, `or`, `eq`,
//! `ne`, `lt`, `le`, `gt`, `ge`, `print`, `println`, `printf`.
//!
//! Data is a [`serde_json::Value`]. Values print as Go's `%v` would print the
//! decoded JSON: strings verbatim, arrays `[a b]`, objects `map[k:v]`, null
//! `<nil>`, a missing map key `<no value>`.
//!
//! [`Mode::Header`] renders a table header the way the docker CLI does: the same
//! template runs against a map of column titles with the string functions
//! replaced by the identity (`templates.HeaderFunctions`).

use std::fmt::Write as _;

use serde_json::Value;

/// How a template is executed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Rows: the root is a docker "formatter context" (a struct in Go): a field it
    /// lacks is an error, and `{{json .}}` escapes `<`, `>`, `&` like `json.Marshal`.
    Context,
    /// Plain data (inspect, info, version): a field the root lacks is an error
    /// (`map has no entry for key`), `{{json .}}` is not escaped.
    Data,
    /// Table headers: the root maps field names to column titles.
    Header,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateError(pub String);

impl std::fmt::Display for TemplateError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for TemplateError {}

type Result<T> = std::result::Result<T, TemplateError>;

/// A parsed template.
#[derive(Debug, Clone)]
pub struct Template {
    nodes: Vec<Node>,
}

#[derive(Debug, Clone)]
enum Node {
    Text(String),
    Action(Pipeline),
    If { branches: Vec<(Pipeline, Vec<Node>)>, otherwise: Vec<Node> },
    Range { vars: Vec<String>, pipe: Pipeline, body: Vec<Node>, otherwise: Vec<Node> },
    With { pipe: Pipeline, body: Vec<Node>, otherwise: Vec<Node> },
}

#[derive(Debug, Clone)]
struct Pipeline {
    cmds: Vec<Cmd>,
}

#[derive(Debug, Clone)]
struct Cmd {
    args: Vec<Arg>,
}

#[derive(Debug, Clone)]
enum Arg {
    /// `.A.B` (empty path = `.`), with the position for error messages.
    Field { path: Vec<String>, line: usize, col: usize, text: String },
    /// `$`, `$x`, optionally followed by `.A.B`.
    Var { name: String, path: Vec<String> },
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    Nil,
    Func(String),
    Sub(Pipeline),
}

// ---------------------------------------------------------------- lexing

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Field(Vec<String>, usize, usize, String),
    Var(String, Vec<String>),
    Ident(String),
    Str(String),
    Num(String),
    Pipe,
    LParen,
    RParen,
    Declare,
    Comma,
}

enum Piece {
    Text(String),
    Action(Vec<Tok>),
}

fn err<T>(msg: impl Into<String>) -> Result<T> {
    Err(TemplateError(msg.into()))
}

fn line_col(src: &str, at: usize) -> (usize, usize) {
    let before = &src[..at];
    let line = before.matches('\n').count() + 1;
    let col = at - before.rfind('\n').map(|i| i + 1).unwrap_or(0);
    (line, col)
}

fn lex(src: &str) -> Result<Vec<Piece>> {
    let mut pieces = Vec::new();
    let mut pos = 0;
    let mut trim_next = false;
    while pos < src.len() {
        let Some(open) = src[pos..].find("{{").map(|i| pos + i) else {
            let mut text = &src[pos..];
            if trim_next {
                text = text.trim_start();
            }
            pieces.push(Piece::Text(text.to_string()));
            break;
        };
        let mut text = &src[pos..open];
        if trim_next {
            text = text.trim_start();
        }
        let mut start = open + 2;
        let bytes = src.as_bytes();
        if bytes.get(start) == Some(&b'-') && bytes.get(start + 1).is_some_and(|b| b.is_ascii_whitespace()) {
            text = text.trim_end();
            start += 2;
        }
        if !text.is_empty() {
            pieces.push(Piece::Text(text.to_string()));
        }
        let (line, _) = line_col(src, open);
        // Comments.
        let inner = src[start..].trim_start();
        if inner.starts_with("/*") {
            let Some(end) = src[start..].find("*/").map(|i| start + i + 2) else {
                return err(format!("template: :{line}: unclosed comment"));
            };
            let rest = &src[end..];
            let rest_trim = rest.trim_start();
            if let Some(after) = rest_trim.strip_prefix("-}}") {
                trim_next = true;
                pos = src.len() - after.len();
            } else if let Some(after) = rest_trim.strip_prefix("}}") {
                trim_next = false;
                pos = src.len() - after.len();
            } else {
                return err(format!("template: :{line}: comment ends before closing delimiter"));
            }
            continue;
        }
        let (toks, end, trim) = lex_action(src, start, line)?;
        pieces.push(Piece::Action(toks));
        trim_next = trim;
        pos = end;
    }
    Ok(pieces)
}

/// Tokens of one action starting at `i`; returns them, the offset after `}}`
/// and whether the action ended with a trim marker.
fn lex_action(src: &str, mut i: usize, line: usize) -> Result<(Vec<Tok>, usize, bool)> {
    let b = src.as_bytes();
    let mut toks = Vec::new();
    loop {
        while i < b.len() && (b[i] == b' ' || b[i] == b'\t' || b[i] == b'\r' || b[i] == b'\n') {
            if b[i] == b'\n' {
                return err(format!("template: :{line}: unclosed action"));
            }
            i += 1;
        }
        if i >= b.len() {
            return err(format!("template: :{line}: unclosed action"));
        }
        if src[i..].starts_with("}}") {
            return Ok((toks, i + 2, false));
        }
        if src[i..].starts_with("-}}") && i > 0 && b[i - 1].is_ascii_whitespace() {
            return Ok((toks, i + 3, true));
        }
        let c = b[i];
        match c {
            b'|' => {
                toks.push(Tok::Pipe);
                i += 1;
            }
            b'(' => {
                toks.push(Tok::LParen);
                i += 1;
            }
            b')' => {
                toks.push(Tok::RParen);
                i += 1;
            }
            b',' => {
                toks.push(Tok::Comma);
                i += 1;
            }
            b':' if b.get(i + 1) == Some(&b'=') => {
                toks.push(Tok::Declare);
                i += 2;
            }
            b'"' => {
                let mut s = String::new();
                i += 1;
                loop {
                    let Some(ch) = src[i..].chars().next() else {
                        return err(format!("template: :{line}: unterminated quoted string"));
                    };
                    i += ch.len_utf8();
                    match ch {
                        '"' => break,
                        '\n' => return err(format!("template: :{line}: unterminated quoted string")),
                        '\\' => {
                            let Some(e) = src[i..].chars().next() else {
                                return err(format!("template: :{line}: unterminated quoted string"));
                            };
                            i += e.len_utf8();
                            s.push(match e {
                                'n' => '\n',
                                't' => '\t',
                                'r' => '\r',
                                '\\' => '\\',
                                '"' => '"',
                                '0' => '\0',
                                other => return err(format!("template: :{line}: invalid escape \\{other} in string")),
                            });
                        }
                        other => s.push(other),
                    }
                }
                toks.push(Tok::Str(s));
            }
            b'`' => {
                let Some(end) = src[i + 1..].find('`').map(|e| i + 1 + e) else {
                    return err(format!("template: :{line}: unterminated raw quoted string"));
                };
                toks.push(Tok::Str(src[i + 1..end].to_string()));
                i = end + 1;
            }
            b'.' | b'$' => {
                let start = i;
                let mut name = String::new();
                if c == b'$' {
                    i += 1;
                    while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                        name.push(b[i] as char);
                        i += 1;
                    }
                }
                let mut path = Vec::new();
                while i < b.len() && b[i] == b'.' {
                    i += 1;
                    let s = i;
                    while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                        i += 1;
                    }
                    if s == i {
                        // A lone `.` (dot) is only valid as the whole token.
                        if c == b'.' && path.is_empty() && start + 1 == i {
                            break;
                        }
                        return err(format!("template: :{line}: bad character in field name"));
                    }
                    path.push(src[s..i].to_string());
                }
                if c == b'$' {
                    toks.push(Tok::Var(name, path));
                } else {
                    let (l, col) = line_col(src, start);
                    toks.push(Tok::Field(path, l, col, src[start..i].to_string()));
                }
            }
            b'-' | b'+' | b'0'..=b'9' => {
                let s = i;
                i += 1;
                while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'.' || b[i] == b'_') {
                    i += 1;
                }
                toks.push(Tok::Num(src[s..i].to_string()));
            }
            c if c.is_ascii_alphabetic() || c == b'_' => {
                let s = i;
                while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                    i += 1;
                }
                toks.push(Tok::Ident(src[s..i].to_string()));
            }
            _ => {
                let ch = src[i..].chars().next().unwrap_or('?');
                return err(format!("template: :{line}: unexpected {ch:?} in command"));
            }
        }
    }
}

// ---------------------------------------------------------------- parsing

struct Parser {
    pieces: std::vec::IntoIter<Piece>,
}

enum End {
    Eof,
    End,
    Else(Vec<Tok>),
}

impl Template {
    /// Parse `src`. Errors read like Go's: `template: :1: function "foo" not defined`.
    pub fn parse(src: &str) -> Result<Template> {
        let mut p = Parser { pieces: lex(src)?.into_iter() };
        let (nodes, end) = p.parse_list()?;
        match end {
            End::Eof => Ok(Template { nodes }),
            End::End => err("template: :1: unexpected {{end}}"),
            End::Else(_) => err("template: :1: unexpected {{else}}"),
        }
    }

    /// Execute against `data`.
    pub fn render(&self, data: &Value, mode: Mode) -> Result<String> {
        let mut out = String::new();
        let mut ex = Exec { mode, vars: vec![("$".to_string(), data.clone())] };
        ex.nodes(&self.nodes, &Val::new(data.clone(), true), &mut out)?;
        Ok(out)
    }
}

impl Parser {
    fn parse_list(&mut self) -> Result<(Vec<Node>, End)> {
        let mut nodes = Vec::new();
        while let Some(piece) = self.pieces.next() {
            match piece {
                Piece::Text(t) => nodes.push(Node::Text(t)),
                Piece::Action(toks) => {
                    let kw = match toks.first() {
                        Some(Tok::Ident(k)) => k.as_str(),
                        _ => "",
                    };
                    match kw {
                        "end" => {
                            if toks.len() != 1 {
                                return err("template: :1: unexpected tokens after {{end}}");
                            }
                            return Ok((nodes, End::End));
                        }
                        "else" => return Ok((nodes, End::Else(toks[1..].to_vec()))),
                        "if" => nodes.push(self.parse_if(toks[1..].to_vec())?),
                        "with" => {
                            let pipe = parse_pipeline(&toks[1..])?;
                            let (body, otherwise) = self.parse_body("with")?;
                            nodes.push(Node::With { pipe, body, otherwise });
                        }
                        "range" => {
                            let (vars, rest) = split_decl(&toks[1..])?;
                            let pipe = parse_pipeline(rest)?;
                            let (body, otherwise) = self.parse_body("range")?;
                            nodes.push(Node::Range { vars, pipe, body, otherwise });
                        }
                        "define" | "template" | "block" | "break" | "continue" => {
                            return err(format!("template: :1: {{{{{kw}}}}} is not supported"));
                        }
                        _ => {
                            if toks.is_empty() {
                                return err("template: :1: missing value for command");
                            }
                            nodes.push(Node::Action(parse_pipeline(&toks)?));
                        }
                    }
                }
            }
        }
        Ok((nodes, End::Eof))
    }

    /// Body of `with`/`range` up to `{{end}}`, with an optional `{{else}}` part.
    fn parse_body(&mut self, what: &str) -> Result<(Vec<Node>, Vec<Node>)> {
        let (body, end) = self.parse_list()?;
        match end {
            End::End => Ok((body, Vec::new())),
            End::Else(rest) if rest.is_empty() => {
                let (otherwise, end) = self.parse_list()?;
                match end {
                    End::End => Ok((body, otherwise)),
                    _ => err(format!("template: :1: expected end; found {{{{else}}}} in {what}")),
                }
            }
            End::Else(_) => err(format!("template: :1: unexpected else in {what}")),
            End::Eof => err(format!("template: :1: unexpected EOF in {what}")),
        }
    }

    fn parse_if(&mut self, cond: Vec<Tok>) -> Result<Node> {
        let mut branches = vec![(parse_pipeline(&cond)?, Vec::new())];
        loop {
            let (body, end) = self.parse_list()?;
            branches.last_mut().expect("branch").1 = body;
            match end {
                End::End => return Ok(Node::If { branches, otherwise: Vec::new() }),
                End::Eof => return err("template: :1: unexpected EOF in if"),
                End::Else(rest) if rest.is_empty() => {
                    let (otherwise, end) = self.parse_list()?;
                    return match end {
                        End::End => Ok(Node::If { branches, otherwise }),
                        _ => err("template: :1: expected end; found else"),
                    };
                }
                End::Else(rest) => match rest.first() {
                    Some(Tok::Ident(k)) if k == "if" => branches.push((parse_pipeline(&rest[1..])?, Vec::new())),
                    _ => return err("template: :1: unexpected tokens after else"),
                },
            }
        }
    }
}

/// `$v :=` or `$k, $v :=` in front of a range pipeline.
fn split_decl(toks: &[Tok]) -> Result<(Vec<String>, &[Tok])> {
    match toks {
        [Tok::Var(v, p), Tok::Declare, rest @ ..] if p.is_empty() => Ok((vec![v.clone()], rest)),
        [Tok::Var(k, p1), Tok::Comma, Tok::Var(v, p2), Tok::Declare, rest @ ..] if p1.is_empty() && p2.is_empty() => {
            Ok((vec![k.clone(), v.clone()], rest))
        }
        _ => Ok((Vec::new(), toks)),
    }
}

fn parse_pipeline(toks: &[Tok]) -> Result<Pipeline> {
    if toks.is_empty() {
        return err("template: :1: missing value for command");
    }
    let mut cmds = Vec::new();
    let mut cur = Vec::new();
    let mut i = 0;
    while i < toks.len() {
        match &toks[i] {
            Tok::Pipe => {
                if cur.is_empty() {
                    return err("template: :1: missing command before |");
                }
                cmds.push(Cmd { args: std::mem::take(&mut cur) });
            }
            Tok::LParen => {
                let mut depth = 1;
                let mut j = i + 1;
                while j < toks.len() {
                    match toks[j] {
                        Tok::LParen => depth += 1,
                        Tok::RParen => {
                            depth -= 1;
                            if depth == 0 {
                                break;
                            }
                        }
                        _ => {}
                    }
                    j += 1;
                }
                if depth != 0 {
                    return err("template: :1: unclosed left paren");
                }
                cur.push(Arg::Sub(parse_pipeline(&toks[i + 1..j])?));
                i = j;
            }
            Tok::RParen => return err("template: :1: unexpected right paren"),
            Tok::Declare | Tok::Comma => return err("template: :1: variable declarations are only supported in range"),
            Tok::Field(p, l, c, t) => cur.push(Arg::Field { path: p.clone(), line: *l, col: *c, text: t.clone() }),
            Tok::Var(n, p) => cur.push(Arg::Var { name: n.clone(), path: p.clone() }),
            Tok::Str(s) => cur.push(Arg::Str(s.clone())),
            Tok::Num(n) => cur.push(parse_number(n)?),
            Tok::Ident(id) => cur.push(match id.as_str() {
                "true" => Arg::Bool(true),
                "false" => Arg::Bool(false),
                "nil" => Arg::Nil,
                f if FUNCS.contains(&f) => Arg::Func(f.to_string()),
                f => return err(format!("template: :1: function {f:?} not defined")),
            }),
        }
        i += 1;
    }
    if cur.is_empty() {
        return err("template: :1: missing command after |");
    }
    cmds.push(Cmd { args: cur });
    Ok(Pipeline { cmds })
}

fn parse_number(n: &str) -> Result<Arg> {
    if let Ok(i) = n.parse::<i64>() {
        return Ok(Arg::Int(i));
    }
    if let Ok(f) = n.parse::<f64>() {
        return Ok(Arg::Float(f));
    }
    err(format!("template: :1: bad number syntax: {n:?}"))
}

const FUNCS: &[&str] = &[
    "json", "join", "split", "lower", "upper", "title", "pad", "truncate", "index", "len", "not", "and", "or", "eq",
    "ne", "lt", "le", "gt", "ge", "print", "println", "printf",
];

/// Functions the docker CLI replaces by the identity when rendering headers.
const HEADER_IDENTITY: &[&str] = &["json", "split", "join", "title", "lower", "upper", "truncate"];

// ---------------------------------------------------------------- execution

/// A value during execution. `root` marks the formatter context itself (for
/// `{{json .}}` escaping), `missing` a map lookup that found nothing.
#[derive(Debug, Clone)]
struct Val {
    v: Value,
    root: bool,
    missing: bool,
}

impl Val {
    fn new(v: Value, root: bool) -> Val {
        Val { v, root, missing: false }
    }
    fn plain(v: Value) -> Val {
        Val::new(v, false)
    }
    fn missing() -> Val {
        Val { v: Value::Null, root: false, missing: true }
    }
}

struct Exec {
    mode: Mode,
    vars: Vec<(String, Value)>,
}

impl Exec {
    fn nodes(&mut self, nodes: &[Node], dot: &Val, out: &mut String) -> Result<()> {
        for n in nodes {
            match n {
                Node::Text(t) => out.push_str(t),
                Node::Action(p) => {
                    let v = self.pipeline(p, dot)?;
                    out.push_str(&print_val(&v));
                }
                Node::If { branches, otherwise } => {
                    let mut done = false;
                    for (cond, body) in branches {
                        if truthy(&self.pipeline(cond, dot)?) {
                            self.nodes(body, dot, out)?;
                            done = true;
                            break;
                        }
                    }
                    if !done {
                        self.nodes(otherwise, dot, out)?;
                    }
                }
                Node::With { pipe, body, otherwise } => {
                    let v = self.pipeline(pipe, dot)?;
                    if truthy(&v) {
                        self.nodes(body, &v, out)?;
                    } else {
                        self.nodes(otherwise, dot, out)?;
                    }
                }
                Node::Range { vars, pipe, body, otherwise } => {
                    let v = self.pipeline(pipe, dot)?;
                    let items: Vec<(Value, Value)> = match &v.v {
                        Value::Array(a) => a.iter().enumerate().map(|(i, x)| (Value::from(i), x.clone())).collect(),
                        Value::Object(m) => {
                            let mut keys: Vec<&String> = m.keys().collect();
                            keys.sort();
                            keys.into_iter().map(|k| (Value::String(k.clone()), m[k].clone())).collect()
                        }
                        Value::Null => Vec::new(),
                        other => return err(format!("template: :1: range can't iterate over {}", print_json(other))),
                    };
                    if items.is_empty() {
                        self.nodes(otherwise, dot, out)?;
                    }
                    for (k, x) in items {
                        let depth = self.vars.len();
                        match vars.as_slice() {
                            [v] => self.vars.push((format!("${v}"), x.clone())),
                            [kn, vn] => {
                                self.vars.push((format!("${kn}"), k));
                                self.vars.push((format!("${vn}"), x.clone()));
                            }
                            _ => {}
                        }
                        let r = self.nodes(body, &Val::plain(x), out);
                        self.vars.truncate(depth);
                        r?;
                    }
                }
            }
        }
        Ok(())
    }

    fn pipeline(&mut self, p: &Pipeline, dot: &Val) -> Result<Val> {
        let mut prev: Option<Val> = None;
        for cmd in &p.cmds {
            prev = Some(self.command(cmd, dot, prev)?);
        }
        Ok(prev.expect("pipeline has a command"))
    }

    fn command(&mut self, cmd: &Cmd, dot: &Val, piped: Option<Val>) -> Result<Val> {
        if let Arg::Func(name) = &cmd.args[0] {
            let mut args = Vec::with_capacity(cmd.args.len());
            for a in &cmd.args[1..] {
                args.push(self.arg(a, dot)?);
            }
            if let Some(p) = piped {
                args.push(p);
            }
            return self.call(name, args);
        }
        if cmd.args.len() > 1 || piped.is_some() {
            return err(format!("template: :1: can't give argument to non-function {}", arg_text(&cmd.args[0])));
        }
        self.arg(&cmd.args[0], dot)
    }

    fn arg(&mut self, a: &Arg, dot: &Val) -> Result<Val> {
        Ok(match a {
            Arg::Field { path, line, col, text } => {
                let mut cur = dot.clone();
                for (i, name) in path.iter().enumerate() {
                    cur = self.field(&cur, name, i == 0 && dot.root).map_err(|e| {
                        TemplateError(format!("template: :{line}:{col}: executing \"\" at <{text}>: {e}"))
                    })?;
                }
                cur
            }
            Arg::Var { name, path } => {
                let key = format!("${name}");
                let Some((_, v)) = self.vars.iter().rev().find(|(n, _)| *n == key) else {
                    return err(format!("template: :1: undefined variable \"{key}\""));
                };
                let is_root = name.is_empty();
                let mut cur = Val::new(v.clone(), is_root);
                for (i, n) in path.iter().enumerate() {
                    cur = self.field(&cur, n, i == 0 && is_root).map_err(|e| TemplateError(format!("template: :1: {e}")))?;
                }
                cur
            }
            Arg::Str(s) => Val::plain(Value::String(s.clone())),
            Arg::Int(i) => Val::plain(Value::from(*i)),
            Arg::Float(f) => Val::plain(serde_json::Number::from_f64(*f).map(Value::Number).unwrap_or(Value::Null)),
            Arg::Bool(b) => Val::plain(Value::Bool(*b)),
            Arg::Nil => Val::plain(Value::Null),
            Arg::Func(f) => self.call(f, Vec::new())?,
            Arg::Sub(p) => self.pipeline(p, dot)?,
        })
    }

    fn field(&self, cur: &Val, name: &str, at_root: bool) -> std::result::Result<Val, String> {
        match &cur.v {
            Value::Object(m) => match m.get(name) {
                Some(v) => Ok(Val::plain(v.clone())),
                None if at_root && self.mode == Mode::Context => Err(format!("can't evaluate field {name}")),
                None if at_root && self.mode == Mode::Data => Err(format!("map has no entry for key {name:?}")),
                None => Ok(Val::missing()),
            },
            Value::Null => Ok(Val::missing()),
            other => Err(format!("can't evaluate field {name} in type {}", go_type(other))),
        }
    }

    fn call(&mut self, name: &str, args: Vec<Val>) -> Result<Val> {
        let want = |n: usize| -> Result<()> {
            if args.len() != n {
                return err(format!("template: :1: wrong number of args for {name}: want {n} got {}", args.len()));
            }
            Ok(())
        };
        if self.mode == Mode::Header && HEADER_IDENTITY.contains(&name) {
            let first = args.into_iter().next().unwrap_or_else(Val::missing);
            return Ok(Val::plain(Value::String(print_val(&first))));
        }
        let s = |v: &Val| print_val(v);
        Ok(match name {
            "json" => {
                want(1)?;
                let a = &args[0];
                let text = if a.missing { "null".to_string() } else { print_json(&a.v) };
                let text = if a.root && self.mode == Mode::Context { escape_html(&text) } else { text };
                Val::plain(Value::String(text))
            }
            "join" => {
                want(2)?;
                let sep = s(&args[1]);
                let joined = match &args[0].v {
                    Value::Null => String::new(),
                    Value::Array(a) => a.iter().map(print_value).collect::<Vec<_>>().join(&sep),
                    Value::Object(m) => {
                        let mut vals: Vec<String> = m.values().map(print_value).collect();
                        vals.sort();
                        vals.join(&sep)
                    }
                    other => return err(format!("template: :1: error calling join: expected slice, got {}", go_type(other))),
                };
                Val::plain(Value::String(joined))
            }
            "split" => {
                want(2)?;
                let (text, sep) = (s(&args[0]), s(&args[1]));
                let parts: Vec<Value> = if sep.is_empty() {
                    text.chars().map(|c| Value::String(c.to_string())).collect()
                } else {
                    text.split(sep.as_str()).map(|p| Value::String(p.to_string())).collect()
                };
                Val::plain(Value::Array(parts))
            }
            "lower" => {
                want(1)?;
                Val::plain(Value::String(s(&args[0]).to_lowercase()))
            }
            "upper" => {
                want(1)?;
                Val::plain(Value::String(s(&args[0]).to_uppercase()))
            }
            "title" => {
                want(1)?;
                Val::plain(Value::String(title(&s(&args[0]))))
            }
            "pad" => {
                want(3)?;
                let text = s(&args[0]);
                let (pre, post) = (as_int(&args[1])?, as_int(&args[2])?);
                if text.is_empty() {
                    Val::plain(Value::String(text))
                } else {
                    Val::plain(Value::String(format!(
                        "{}{text}{}",
                        " ".repeat(pre.max(0) as usize),
                        " ".repeat(post.max(0) as usize)
                    )))
                }
            }
            "truncate" => {
                want(2)?;
                let text = s(&args[0]);
                let n = as_int(&args[1])?.max(0) as usize;
                // Go slices bytes; stay on a character boundary.
                let mut end = n.min(text.len());
                while !text.is_char_boundary(end) {
                    end -= 1;
                }
                Val::plain(Value::String(text[..end].to_string()))
            }
            "index" => {
                if args.is_empty() {
                    return err("template: :1: wrong number of args for index: want at least 1 got 0");
                }
                let mut cur = args[0].clone();
                for k in &args[1..] {
                    cur = match (&cur.v, &k.v) {
                        (Value::Object(m), key) => {
                            let key = print_value(key);
                            // A missing map key gives the zero value (labels: "").
                            Val::plain(m.get(&key).cloned().unwrap_or(Value::String(String::new())))
                        }
                        (Value::Array(a), Value::Number(n)) => {
                            let i = n.as_i64().unwrap_or(-1);
                            if i < 0 || i as usize >= a.len() {
                                return err(format!("template: :1: error calling index: index out of range: {i}"));
                            }
                            Val::plain(a[i as usize].clone())
                        }
                        // Headers are strings: Go fails there and keeps what it
                        // printed; an empty cell keeps the columns in place.
                        _ if self.mode == Mode::Header => Val::plain(Value::String(String::new())),
                        (Value::Null, _) => return err("template: :1: error calling index: index of untyped nil"),
                        (other, _) => {
                            return err(format!("template: :1: error calling index: can't index item of type {}", go_type(other)));
                        }
                    };
                }
                cur
            }
            "len" => {
                want(1)?;
                let n = match &args[0].v {
                    Value::String(t) => t.len(),
                    Value::Array(a) => a.len(),
                    Value::Object(m) => m.len(),
                    Value::Null => 0,
                    other => return err(format!("template: :1: error calling len: len of type {}", go_type(other))),
                };
                Val::plain(Value::from(n))
            }
            "not" => {
                want(1)?;
                Val::plain(Value::Bool(!truthy(&args[0])))
            }
            "and" | "or" => {
                if args.is_empty() {
                    return err(format!("template: :1: wrong number of args for {name}: want at least 1 got 0"));
                }
                let stop_when = name == "or";
                let mut last = args[0].clone();
                for a in &args {
                    last = a.clone();
                    if truthy(a) == stop_when {
                        break;
                    }
                }
                last
            }
            "eq" => {
                if args.len() < 2 {
                    return err("template: :1: wrong number of args for eq: want at least 2");
                }
                Val::plain(Value::Bool(args[1..].iter().any(|b| values_equal(&args[0].v, &b.v))))
            }
            "ne" => {
                want(2)?;
                Val::plain(Value::Bool(!values_equal(&args[0].v, &args[1].v)))
            }
            "lt" | "le" | "gt" | "ge" => {
                want(2)?;
                let ord = compare(&args[0].v, &args[1].v)
                    .ok_or_else(|| TemplateError(format!("template: :1: error calling {name}: incompatible types for comparison")))?;
                use std::cmp::Ordering::*;
                let r = match name {
                    "lt" => ord == Less,
                    "le" => ord != Greater,
                    "gt" => ord == Greater,
                    _ => ord != Less,
                };
                Val::plain(Value::Bool(r))
            }
            "print" => {
                // Go's fmt.Sprint: spaces only between operands that are not both strings.
                let mut o = String::new();
                for (i, a) in args.iter().enumerate() {
                    if i > 0 && !(a.v.is_string() || args[i - 1].v.is_string()) {
                        o.push(' ');
                    }
                    o.push_str(&s(a));
                }
                Val::plain(Value::String(o))
            }
            "println" => {
                let parts: Vec<String> = args.iter().map(s).collect();
                Val::plain(Value::String(parts.join(" ") + "\n"))
            }
            "printf" => {
                if args.is_empty() {
                    return err("template: :1: wrong number of args for printf: want at least 1 got 0");
                }
                Val::plain(Value::String(printf(&s(&args[0]), &args[1..])))
            }
            other => return err(format!("template: :1: function {other:?} not defined")),
        })
    }
}

fn arg_text(a: &Arg) -> String {
    match a {
        Arg::Field { text, .. } => text.clone(),
        Arg::Var { name, path } => format!("${name}{}", path.iter().map(|p| format!(".{p}")).collect::<String>()),
        Arg::Str(s) => format!("{s:?}"),
        Arg::Int(i) => i.to_string(),
        Arg::Float(f) => f.to_string(),
        Arg::Bool(b) => b.to_string(),
        Arg::Nil => "nil".into(),
        Arg::Func(f) => f.clone(),
        Arg::Sub(_) => "(...)".into(),
    }
}

fn as_int(v: &Val) -> Result<i64> {
    match &v.v {
        Value::Number(n) => n.as_i64().ok_or_else(|| TemplateError("template: :1: expected integer".into())),
        other => err(format!("template: :1: expected integer; found {}", print_value(other))),
    }
}

fn go_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "nil",
        Value::Bool(_) => "bool",
        Value::Number(_) => "int",
        Value::String(_) => "string",
        Value::Array(_) => "[]interface {}",
        Value::Object(_) => "map[string]interface {}",
    }
}

fn truthy(v: &Val) -> bool {
    if v.missing {
        return false;
    }
    match &v.v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(m) => !m.is_empty(),
    }
}

fn values_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        _ => a == b,
    }
}

fn compare(a: &Value, b: &Value) -> Option<std::cmp::Ordering> {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64()?.partial_cmp(&y.as_f64()?),
        (Value::String(x), Value::String(y)) => Some(x.cmp(y)),
        _ => None,
    }
}

fn title(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut prev_letter = false;
    for c in s.chars() {
        if !prev_letter {
            out.extend(c.to_uppercase());
        } else {
            out.push(c);
        }
        prev_letter = c.is_alphanumeric() || c == '_' || c == '\'';
    }
    out
}

/// A tiny `fmt.Sprintf`: `%s`, `%v`, `%d`, `%q`, `%%`.
fn printf(fmt: &str, args: &[Val]) -> String {
    let mut out = String::new();
    let mut it = args.iter();
    let mut chars = fmt.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('%') => out.push('%'),
            Some(verb @ ('s' | 'v' | 'd' | 'q')) => match it.next() {
                Some(a) if verb == 'q' => {
                    let _ = write!(out, "{:?}", print_val(a));
                }
                Some(a) => out.push_str(&print_val(a)),
                None => {
                    let _ = write!(out, "%!{verb}(MISSING)");
                }
            },
            Some(other) => {
                out.push('%');
                out.push(other);
            }
            None => out.push_str("%!(NOVERB)"),
        }
    }
    out
}

fn print_val(v: &Val) -> String {
    if v.missing {
        return "<no value>".into();
    }
    print_value(&v.v)
}

/// Go's `%v` of a decoded JSON value.
pub fn print_value(v: &Value) -> String {
    match v {
        Value::Null => "<nil>".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.clone(),
        Value::Array(a) => format!("[{}]", a.iter().map(print_value).collect::<Vec<_>>().join(" ")),
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            let parts: Vec<String> = keys.iter().map(|k| format!("{k}:{}", print_value(&m[*k]))).collect();
            format!("map[{}]", parts.join(" "))
        }
    }
}

/// Compact JSON as Go's encoder writes it with `SetEscapeHTML(false)`.
pub fn print_json(v: &Value) -> String {
    serde_json::to_string(v).expect("JSON values serialise")
}

/// `json.Marshal`'s HTML escaping: `<`, `>`, `&`, U+2028 and U+2029. Safe on
/// serialised JSON because those characters can only occur inside strings.
pub fn escape_html(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn render(t: &str, data: Value) -> String {
        Template::parse(t).unwrap().render(&data, Mode::Data).unwrap()
    }

    #[test]
    fn fields_and_literals() {
        let d = json!({"Repository": "busybox", "Tag": "latest", "Config": {"Env": ["A=1", "B=2"]}});
        assert_eq!(render("{{.Repository}}:{{.Tag}}", d.clone()), "busybox:latest");
        assert_eq!(render("{{ .Config.Env }}", d.clone()), "[A=1 B=2]");
        assert_eq!(render("{{join .Config.Env \",\"}}", d.clone()), "A=1,B=2");
        assert_eq!(render("{{.Repository | upper}}", d.clone()), "BUSYBOX");
        assert_eq!(render("{{upper .Repository}} {{lower \"ABC\"}}", d.clone()), "BUSYBOX abc");
        assert_eq!(render("{{.Config.Missing}}", d.clone()), "<no value>");
        let e = Template::parse("{{.Missing}}").unwrap().render(&d, Mode::Data).unwrap_err();
        assert_eq!(e.0, r#"template: :1:2: executing "" at <.Missing>: map has no entry for key "Missing""#);
        assert_eq!(render("{{json .Config}}", d.clone()), r#"{"Env":["A=1","B=2"]}"#);
        assert_eq!(render("{{json .Tag}}", d), r#""latest""#);
    }

    #[test]
    fn index_labels_and_maps() {
        let d = json!({"Labels": {"a": "1", "b": "2"}});
        assert_eq!(render(r#"{{index .Labels "a"}}"#, d.clone()), "1");
        assert_eq!(render(r#"{{index .Labels "zz"}}"#, d.clone()), "");
        assert_eq!(render("{{.Labels}}", d.clone()), "map[a:1 b:2]");
        assert_eq!(render(r#"{{join .Labels ";"}}"#, d.clone()), "1;2");
        assert_eq!(render("{{range $k, $v := .Labels}}{{$k}}={{$v}} {{end}}", d), "a=1 b=2 ");
    }

    #[test]
    fn control_flow_and_trim() {
        let d = json!({"A": "", "B": "x", "L": ["p", "q"], "N": 0});
        assert_eq!(render("{{if .A}}a{{else if .B}}b{{else}}c{{end}}", d.clone()), "b");
        assert_eq!(render("{{if .A }}{{.A}}{{else}}N/A{{end}}", d.clone()), "N/A");
        assert_eq!(render("{{range .L}}<{{.}}>{{end}}", d.clone()), "<p><q>");
        assert_eq!(render("a  {{- .B -}}  b", d.clone()), "axb");
        assert_eq!(render("{{with .B}}{{.}}{{end}}{{/* comment */}}", d.clone()), "x");
        assert_eq!(render("{{len .L}} {{eq .B \"x\"}} {{not .N}}", d.clone()), "2 true true");
        assert_eq!(render("{{printf \"%s-%d\" .B 7}}", d.clone()), "x-7");
        assert_eq!(render("{{pad .B 1 2}}|{{truncate \"abcdef\" 3}}", d), " x  |abc");
    }

    #[test]
    fn json_of_a_context_escapes_html_like_docker() {
        let d = json!({"Digest": "<none>", "ID": "abc"});
        let t = Template::parse("{{json .}}").unwrap();
        assert_eq!(t.render(&d, Mode::Context).unwrap(), r#"{"Digest":"\u003cnone\u003e","ID":"abc"}"#);
        // A field of the context is encoded without escaping (SetEscapeHTML(false)).
        let t = Template::parse("{{json .Digest}}").unwrap();
        assert_eq!(t.render(&d, Mode::Context).unwrap(), r#""<none>""#);
    }

    #[test]
    fn context_mode_rejects_unknown_fields() {
        let t = Template::parse("{{.Nope}}").unwrap();
        let e = t.render(&json!({"ID": "x"}), Mode::Context).unwrap_err();
        assert_eq!(e.0, r#"template: :1:2: executing "" at <.Nope>: can't evaluate field Nope"#);
    }

    #[test]
    fn header_mode_keeps_titles() {
        let h = json!({"Repository": "REPOSITORY", "Tag": "TAG", "Labels": "LABELS"});
        let t = Template::parse("{{.Repository | lower}}\t{{json .Tag}}\t{{index .Labels \"x\"}}").unwrap();
        assert_eq!(t.render(&h, Mode::Header).unwrap(), "REPOSITORY\tTAG\t");
    }

    #[test]
    fn parse_errors_read_like_go() {
        assert_eq!(Template::parse("{{foo .X}}").unwrap_err().0, r#"template: :1: function "foo" not defined"#);
        assert!(Template::parse("{{.X").is_err());
        assert!(Template::parse("{{if .X}}").is_err());
        assert!(Template::parse("{{end}}").is_err());
    }
}
