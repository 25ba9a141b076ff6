//! Dockerfile word handling, as BuildKit's parser and shell lexer do it:
//! splitting arguments into words (quotes and escapes kept), then processing a
//! word (quote removal, `\` escapes, `$VAR` / `${VAR}` / `${VAR:-x}` /
//! `${VAR:+x}` expansion). Pure functions over `&str`.

/// Split at unquoted whitespace; quotes and escapes stay in the words
/// (BuildKit `parseWords`).
pub fn split_words(rest: &str) -> Vec<String> {
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
    let mut chars = rest.chars().peekable();
    while let Some(ch) = chars.next() {
        match phase {
            Phase::Spaces if ch.is_whitespace() => continue,
            Phase::Spaces => phase = Phase::Word,
            _ => {}
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
                }
                if ch == '\\' {
                    match chars.next() {
                        None => continue,
                        Some(next) => {
                            word.push(ch);
                            word.push(next);
                            continue;
                        }
                    }
                }
                word.push(ch);
            }
            Phase::Quote(q) => {
                if ch == q {
                    phase = Phase::Word;
                }
                if ch == '\\' && q != '\'' {
                    match chars.next() {
                        None => {
                            phase = Phase::Word;
                            continue;
                        }
                        Some(next) => {
                            word.push(ch);
                            word.push(next);
                            continue;
                        }
                    }
                }
                word.push(ch);
            }
            Phase::Spaces => unreachable!(),
        }
    }
    if phase != Phase::Spaces && (blank_ok || !word.is_empty()) {
        words.push(word);
    }
    words
}

/// Remove quotes, resolve escapes and expand variables from `env` (unset
/// variables expand to nothing), as BuildKit's `ProcessWord`.
pub fn process_word(word: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<String, String> {
    let chars: Vec<char> = word.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        let ch = chars[i];
        match ch {
            '\'' => {
                i += 1;
                loop {
                    match chars.get(i) {
                        None => {
                            return Err("unexpected end of statement while looking for matching single-quote".into());
                        }
                        Some('\'') => break,
                        Some(c) => out.push(*c),
                    }
                    i += 1;
                }
                i += 1;
            }
            '"' => {
                i += 1;
                loop {
                    match chars.get(i) {
                        None => {
                            return Err("unexpected end of statement while looking for matching double-quote".into());
                        }
                        Some('"') => break,
                        Some('$') => {
                            i = dollar(&chars, i, env, &mut out)?;
                            continue;
                        }
                        Some('\\') if matches!(chars.get(i + 1), Some('"' | '$' | '\\')) => {
                            out.push(chars[i + 1]);
                            i += 1;
                        }
                        Some(c) => out.push(*c),
                    }
                    i += 1;
                }
                i += 1;
            }
            '\\' => {
                if let Some(c) = chars.get(i + 1) {
                    out.push(*c);
                }
                i += 2;
            }
            '$' => i = dollar(&chars, i, env, &mut out)?,
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    Ok(out)
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Expand the `$…` starting at `chars[i]`; returns the index after it.
fn dollar(chars: &[char], i: usize, env: &dyn Fn(&str) -> Option<String>, out: &mut String) -> Result<usize, String> {
    let mut j = i + 1;
    match chars.get(j) {
        Some('{') => {
            j += 1;
            let start = j;
            while chars.get(j).is_some_and(|c| is_name_char(*c)) {
                j += 1;
            }
            let name: String = chars[start..j].iter().collect();
            if name.is_empty() {
                return Err("bad substitution: missing variable name".into());
            }
            match chars.get(j) {
                Some('}') => {
                    out.push_str(&env(&name).unwrap_or_default());
                    Ok(j + 1)
                }
                Some(':') | Some('-') | Some('+') => {
                    let colon = chars[j] == ':';
                    if colon {
                        j += 1;
                    }
                    let op = *chars.get(j).ok_or("missing '}'")?;
                    if op != '-' && op != '+' {
                        return Err(format!("unsupported modifier ({op}) in substitution"));
                    }
                    j += 1;
                    // The word runs to the matching '}' (nesting is not supported).
                    let wstart = j;
                    while chars.get(j).is_some_and(|c| *c != '}') {
                        j += 1;
                    }
                    if j >= chars.len() {
                        return Err("missing '}'".into());
                    }
                    let word: String = chars[wstart..j].iter().collect();
                    let value = env(&name);
                    let set = if colon { value.as_deref().is_some_and(|v| !v.is_empty()) } else { value.is_some() };
                    let use_word = if op == '-' { !set } else { set };
                    if use_word {
                        out.push_str(&process_word(&word, env)?);
                    } else if op == '-' {
                        out.push_str(&value.unwrap_or_default());
                    }
                    Ok(j + 1)
                }
                _ => Err("missing '}'".into()),
            }
        }
        Some(c) if is_name_char(*c) => {
            let start = j;
            while chars.get(j).is_some_and(|c| is_name_char(*c)) {
                j += 1;
            }
            let name: String = chars[start..j].iter().collect();
            out.push_str(&env(&name).unwrap_or_default());
            Ok(j)
        }
        _ => {
            out.push('$');
            Ok(j)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "A" => Some("1".into()),
            "E" => Some(String::new()),
            _ => None,
        }
    }

    #[test]
    fn splits_like_buildkit() {
        assert_eq!(split_words(r#"a=1 b="x y"  c='q r'"#), vec!["a=1", r#"b="x y""#, "c='q r'"]);
        assert_eq!(split_words(r"a\ b c"), vec![r"a\ b", "c"]);
        assert_eq!(split_words(r#"k="""#), vec![r#"k="""#]);
        assert_eq!(split_words("   "), Vec::<String>::new());
    }

    #[test]
    fn processes_words() {
        assert_eq!(process_word(r#""x y""#, &env).unwrap(), "x y");
        assert_eq!(process_word("'$A'", &env).unwrap(), "$A");
        assert_eq!(process_word(r#""$A""#, &env).unwrap(), "1");
        assert_eq!(process_word("$A/${A}/$B/x", &env).unwrap(), "1/1//x");
        assert_eq!(process_word(r"\$A", &env).unwrap(), "$A");
        assert_eq!(process_word("${B:-def}", &env).unwrap(), "def");
        assert_eq!(process_word("${E:-def}", &env).unwrap(), "def");
        assert_eq!(process_word("${E-def}", &env).unwrap(), "");
        assert_eq!(process_word("${A:+alt}", &env).unwrap(), "alt");
        assert_eq!(process_word("${B:+alt}", &env).unwrap(), "");
        assert_eq!(process_word("a$", &env).unwrap(), "a$");
        assert!(process_word("'open", &env).is_err());
    }
}
