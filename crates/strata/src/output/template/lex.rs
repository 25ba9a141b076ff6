//! Splitting a template into text and the tokens of its actions.

use super::{Result, err};

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Tok {
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

pub(super) enum Piece {
    Text(String),
    Action(Vec<Tok>),
}

fn line_col(src: &str, at: usize) -> (usize, usize) {
    let before = &src[..at];
    let line = before.matches('\n').count() + 1;
    let col = at - before.rfind('\n').map(|i| i + 1).unwrap_or(0);
    (line, col)
}

pub(super) fn lex(src: &str) -> Result<Vec<Piece>> {
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
