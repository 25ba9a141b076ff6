//! `.dockerignore` and source wildcards: Docker's pattern semantics
//! (`moby/patternmatcher`), implemented without a regex engine.
//!
//! - A line starting with `#` is a comment; lines are trimmed; blank lines
//!   are skipped. `!` makes an exception (re-includes what matches).
//! - Patterns are cleaned like Go's `filepath.Clean`, a leading `/` dropped.
//! - `*` matches any run of characters except `/`, `?` one such character,
//!   `[a-z]` / `[^a-z]` a class, `\x` the character `x`. `**` matches any
//!   number of directories, including none (`**/x`, `a/**/b`); a trailing
//!   `**` anything below.
//! - A path is excluded when the last pattern matching it, or one of its
//!   parent directories, is not an exception.

/// One compiled pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    /// The cleaned text (without `!`).
    pub text: String,
    pub exception: bool,
    tokens: Vec<Tok>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    Lit(char),
    /// `*`
    Star,
    /// `?`
    One,
    /// `[...]`: (negated, ranges)
    Class(bool, Vec<(char, char)>),
    /// `**/` or `**` in the middle: `(.*/)?`
    AnyDirs,
    /// `**` at the end: `.*`
    AnyRest,
}

impl Pattern {
    /// Compile `text` (already cleaned, without `!`).
    pub fn new(text: &str, exception: bool) -> Pattern {
        let chars: Vec<char> = text.chars().collect();
        let mut tokens = Vec::new();
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            match c {
                '*' if chars.get(i + 1) == Some(&'*') => {
                    i += 2;
                    if chars.get(i) == Some(&'/') {
                        i += 1;
                    }
                    tokens.push(if i >= chars.len() { Tok::AnyRest } else { Tok::AnyDirs });
                    continue;
                }
                '*' => tokens.push(Tok::Star),
                '?' => tokens.push(Tok::One),
                '\\' => match chars.get(i + 1) {
                    Some(&n) => {
                        tokens.push(Tok::Lit(n));
                        i += 1;
                    }
                    None => tokens.push(Tok::Lit('\\')),
                },
                '[' => {
                    if let Some((tok, next)) = class(&chars, i) {
                        tokens.push(tok);
                        i = next;
                        continue;
                    }
                    tokens.push(Tok::Lit('['));
                }
                c => tokens.push(Tok::Lit(c)),
            }
            i += 1;
        }
        Pattern { text: text.to_string(), exception, tokens }
    }

    /// Whether the whole `path` (relative, `/`-separated) matches.
    pub fn matches(&self, path: &str) -> bool {
        let p: Vec<char> = path.chars().collect();
        match_at(&self.tokens, &p)
    }
}

/// `[...]` starting at `chars[i]`: the token and the index after `]`.
fn class(chars: &[char], i: usize) -> Option<(Tok, usize)> {
    let mut j = i + 1;
    let negated = chars.get(j) == Some(&'^');
    if negated {
        j += 1;
    }
    let mut ranges = Vec::new();
    let mut first = true;
    loop {
        let c = *chars.get(j)?;
        if c == ']' && !first {
            return Some((Tok::Class(negated, ranges), j + 1));
        }
        first = false;
        let lo = if c == '\\' {
            j += 1;
            *chars.get(j)?
        } else {
            c
        };
        j += 1;
        if chars.get(j) == Some(&'-') && chars.get(j + 1).is_some_and(|c| *c != ']') {
            let mut hi = chars[j + 1];
            j += 2;
            if hi == '\\' {
                hi = *chars.get(j)?;
                j += 1;
            }
            ranges.push((lo, hi));
        } else {
            ranges.push((lo, lo));
        }
    }
}

fn match_at(toks: &[Tok], p: &[char]) -> bool {
    let Some((t, rest)) = toks.split_first() else { return p.is_empty() };
    match t {
        Tok::Lit(c) => p.first() == Some(c) && match_at(rest, &p[1..]),
        Tok::One => p.first().is_some_and(|c| *c != '/') && match_at(rest, &p[1..]),
        Tok::Class(neg, ranges) => {
            p.first().is_some_and(|c| *c != '/' && ranges.iter().any(|(lo, hi)| lo <= c && c <= hi) != *neg)
                && match_at(rest, &p[1..])
        }
        Tok::Star => {
            for n in 0..=p.len() {
                if match_at(rest, &p[n..]) {
                    return true;
                }
                if p.get(n) == Some(&'/') {
                    break;
                }
            }
            false
        }
        Tok::AnyDirs => {
            // `(.*/)?`: nothing, or anything ending in a `/`.
            if match_at(rest, p) {
                return true;
            }
            (0..p.len()).any(|n| p[n] == '/' && match_at(rest, &p[n + 1..]))
        }
        Tok::AnyRest => true,
    }
}

/// Go's `path.Clean` for relative patterns (a leading `/` dropped afterwards).
pub fn clean(p: &str) -> String {
    let rooted = p.starts_with('/');
    let mut out: Vec<&str> = Vec::new();
    for c in p.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                if matches!(out.last(), Some(l) if *l != "..") {
                    out.pop();
                } else if !rooted {
                    out.push("..");
                }
            }
            c => out.push(c),
        }
    }
    let joined = out.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".to_string(),
        (false, false) => joined,
    }
}

/// The patterns of a `.dockerignore` file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ignore {
    pub patterns: Vec<Pattern>,
}

impl Ignore {
    /// Parse `.dockerignore` text (Docker CLI's `ReadAll`).
    pub fn parse(text: &str) -> Ignore {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut patterns = Vec::new();
        for line in text.lines() {
            if line.starts_with('#') {
                continue;
            }
            let mut p = line.trim();
            if p.is_empty() {
                continue;
            }
            let exception = p.starts_with('!');
            if exception {
                p = p[1..].trim();
            }
            let mut cleaned = if p.is_empty() { String::new() } else { clean(p) };
            if cleaned.len() > 1 && cleaned.starts_with('/') {
                cleaned.remove(0);
            }
            patterns.push(Pattern::new(&cleaned, exception));
        }
        Ignore { patterns }
    }

    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }

    /// Whether `path` (relative to the context, `/`-separated) is excluded:
    /// the last pattern that matches it or a parent directory decides.
    pub fn excluded(&self, path: &str) -> bool {
        let parents: Vec<&str> = match path.rfind('/') {
            Some(i) => path[..i].split('/').collect(),
            None => Vec::new(),
        };
        let mut matched = false;
        for pat in &self.patterns {
            // An exception only matters once something matched, and the reverse.
            if pat.exception != matched {
                continue;
            }
            let mut m = pat.matches(path);
            if !m {
                for i in 0..parents.len() {
                    if pat.matches(&parents[..=i].join("/")) {
                        m = true;
                        break;
                    }
                }
            }
            if m {
                matched = !pat.exception;
            }
        }
        matched
    }

    /// For an excluded directory: whether an exception could re-include
    /// something below it, so the walk must still descend (Docker's rule: an
    /// exception pattern that starts with `dir/`).
    pub fn may_reinclude_below(&self, dir: &str) -> bool {
        let prefix = format!("{dir}/");
        self.patterns.iter().any(|p| p.exception && format!("{}/", p.text).starts_with(&prefix))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        let m = |p: &str, s: &str| Pattern::new(p, false).matches(s);
        assert!(m("*.txt", "a.txt"));
        assert!(!m("*.txt", "d/a.txt"));
        assert!(m("**/*.txt", "a.txt"));
        assert!(m("**/*.txt", "d/e/a.txt"));
        assert!(m("a/**/b", "a/b"));
        assert!(m("a/**/b", "a/x/y/b"));
        assert!(!m("a/**/b", "ab"));
        assert!(m("a/**", "a/x/y"));
        assert!(!m("a/**", "a"));
        assert!(m("f?o", "foo"));
        assert!(!m("f?o", "f/o"));
        assert!(m("[a-c]x", "bx"));
        assert!(!m("[^a-c]x", "bx"));
        assert!(m(r"\*x", "*x"));
        assert!(m("**", "anything/at/all"));
    }
}
