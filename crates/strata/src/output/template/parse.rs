//! Tokens to a tree of nodes: text, actions, `if`/`range`/`with` blocks.

use super::lex::{Piece, Tok};
use super::{Result, err};

#[derive(Debug, Clone)]
pub(super) enum Node {
    Text(String),
    Action(Pipeline),
    If { branches: Vec<(Pipeline, Vec<Node>)>, otherwise: Vec<Node> },
    Range { vars: Vec<String>, pipe: Pipeline, body: Vec<Node>, otherwise: Vec<Node> },
    With { pipe: Pipeline, body: Vec<Node>, otherwise: Vec<Node> },
}

#[derive(Debug, Clone)]
pub(super) struct Pipeline {
    pub(super) cmds: Vec<Cmd>,
}

#[derive(Debug, Clone)]
pub(super) struct Cmd {
    pub(super) args: Vec<Arg>,
}

#[derive(Debug, Clone)]
pub(super) enum Arg {
    /// `.A.B` (empty path = `.`), with the position for error messages.
    Field {
        path: Vec<String>,
        line: usize,
        col: usize,
        text: String,
    },
    /// `$`, `$x`, optionally followed by `.A.B`.
    Var {
        name: String,
        path: Vec<String>,
    },
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    Nil,
    Func(String),
    Sub(Pipeline),
}

pub(super) struct Parser {
    pub(super) pieces: std::vec::IntoIter<Piece>,
}

/// What ended a list of nodes.
pub(super) enum Stop {
    Eof,
    End,
    Else(Vec<Tok>),
}

impl Parser {
    pub(super) fn parse_list(&mut self) -> Result<(Vec<Node>, Stop)> {
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
                            return Ok((nodes, Stop::End));
                        }
                        "else" => return Ok((nodes, Stop::Else(toks[1..].to_vec()))),
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
        Ok((nodes, Stop::Eof))
    }

    /// Body of `with`/`range` up to `{{end}}`, with an optional `{{else}}` part.
    fn parse_body(&mut self, what: &str) -> Result<(Vec<Node>, Vec<Node>)> {
        let (body, end) = self.parse_list()?;
        match end {
            Stop::End => Ok((body, Vec::new())),
            Stop::Else(rest) if rest.is_empty() => {
                let (otherwise, end) = self.parse_list()?;
                match end {
                    Stop::End => Ok((body, otherwise)),
                    _ => err(format!("template: :1: expected end; found {{{{else}}}} in {what}")),
                }
            }
            Stop::Else(_) => err(format!("template: :1: unexpected else in {what}")),
            Stop::Eof => err(format!("template: :1: unexpected EOF in {what}")),
        }
    }

    fn parse_if(&mut self, cond: Vec<Tok>) -> Result<Node> {
        let mut branches = vec![(parse_pipeline(&cond)?, Vec::new())];
        loop {
            let (body, end) = self.parse_list()?;
            branches.last_mut().expect("branch").1 = body;
            match end {
                Stop::End => return Ok(Node::If { branches, otherwise: Vec::new() }),
                Stop::Eof => return err("template: :1: unexpected EOF in if"),
                Stop::Else(rest) if rest.is_empty() => {
                    let (otherwise, end) = self.parse_list()?;
                    return match end {
                        Stop::End => Ok(Node::If { branches, otherwise }),
                        _ => err("template: :1: expected end; found else"),
                    };
                }
                Stop::Else(rest) => match rest.first() {
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

pub(super) const FUNCS: &[&str] = &[
    "json", "join", "split", "lower", "upper", "title", "pad", "truncate", "index", "len", "not", "and", "or", "eq",
    "ne", "lt", "le", "gt", "ge", "print", "println", "printf",
];
