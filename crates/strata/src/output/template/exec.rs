//! Running a parsed template against JSON data, with the docker CLI's functions.

use std::fmt::Write as _;

use serde_json::Value;

use super::parse::{Arg, Cmd, Node, Pipeline};
use super::{Mode, Result, TemplateError, err, escape_html, print_json, print_value};

/// Functions the docker CLI replaces by the identity when rendering headers.
const HEADER_IDENTITY: &[&str] = &["json", "split", "join", "title", "lower", "upper", "truncate"];

/// A value during execution. `root` marks the formatter context itself (for
/// `{{json .}}` escaping), `missing` a map lookup that found nothing.
#[derive(Debug, Clone)]
pub(super) struct Val {
    v: Value,
    root: bool,
    missing: bool,
}

impl Val {
    pub(super) fn new(v: Value, root: bool) -> Val {
        Val { v, root, missing: false }
    }
    fn plain(v: Value) -> Val {
        Val::new(v, false)
    }
    fn missing() -> Val {
        Val { v: Value::Null, root: false, missing: true }
    }
}

pub(super) struct Exec {
    pub(super) mode: Mode,
    pub(super) vars: Vec<(String, Value)>,
}

impl Exec {
    pub(super) fn nodes(&mut self, nodes: &[Node], dot: &Val, out: &mut String) -> Result<()> {
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
                    cur = self
                        .field(&cur, n, i == 0 && is_root)
                        .map_err(|e| TemplateError(format!("template: :1: {e}")))?;
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
                    other => {
                        return err(format!(
                            "template: :1: error calling join: expected slice, got {}",
                            go_type(other)
                        ));
                    }
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
                            return err(format!(
                                "template: :1: error calling index: can't index item of type {}",
                                go_type(other)
                            ));
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
                let ord = compare(&args[0].v, &args[1].v).ok_or_else(|| {
                    TemplateError(format!("template: :1: error calling {name}: incompatible types for comparison"))
                })?;
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
