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
//!
//! Files: `template/lex.rs` (text and action tokens), `template/parse.rs` (the
//! node tree), `template/exec.rs` (execution and the functions).

use serde_json::Value;

mod exec;
mod lex;
mod parse;

use exec::{Exec, Val};
use parse::{Node, Parser, Stop};

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

fn err<T>(msg: impl Into<String>) -> Result<T> {
    Err(TemplateError(msg.into()))
}

impl Template {
    /// Parse `src`. Errors read like Go's: `template: :1: function "foo" not defined`.
    pub fn parse(src: &str) -> Result<Template> {
        let mut p = Parser { pieces: lex::lex(src)?.into_iter() };
        let (nodes, end) = p.parse_list()?;
        match end {
            Stop::Eof => Ok(Template { nodes }),
            Stop::End => err("template: :1: unexpected {{end}}"),
            Stop::Else(_) => err("template: :1: unexpected {{else}}"),
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
