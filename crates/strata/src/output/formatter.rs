//! Docker's `formatter.Context`: renders rows with a `--format` value.
//!
//! - `table` (or empty): the command's default table format;
//! - `table <template>`: a header row (the template run against the column
//!   titles), then one row per item, aligned by [`super::table::align`];
//! - `json`: `{{json .}}`, one JSON object per line;
//! - any other template: one rendered line per item, not aligned.
//!
//! Literal `\t` and `\n` in a format become tab and newline, and spaces around
//! the template are trimmed, as in `Format.templateString`.

use serde_json::Value;

use super::printer::Printer;
use super::table;
use super::template::{Mode, Template, TemplateError};

pub const TABLE: &str = "table";
pub const JSON: &str = "json";
pub const RAW: &str = "raw";

/// A `--format` value (or a command's default).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Format(pub String);

impl Format {
    pub fn new(s: impl Into<String>) -> Format {
        Format(s.into())
    }

    pub fn is_table(&self) -> bool {
        self.0.starts_with(TABLE)
    }

    pub fn contains(&self, s: &str) -> bool {
        self.0.contains(s)
    }

    /// The Go template text this format stands for.
    pub fn template_string(&self) -> String {
        match self.0.as_str() {
            TABLE => return String::new(),
            JSON => return "{{json .}}".into(),
            _ => {}
        }
        let s = self.0.strip_prefix(TABLE).unwrap_or(&self.0);
        s.trim_matches(' ').replace("\\t", "\t").replace("\\n", "\n")
    }

    pub fn parse(&self) -> Result<Template, FormatError> {
        Template::parse(&self.template_string()).map_err(FormatError)
    }
}

/// `template parsing error: ...`, Docker's wording for both parse and execution errors.
#[derive(Debug)]
pub struct FormatError(pub TemplateError);

impl std::fmt::Display for FormatError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "template parsing error: {}", self.0)
    }
}

impl std::error::Error for FormatError {}

/// Render `rows` (each a formatter context: an object with the row's fields)
/// and return the text, header included for table formats.
pub fn render(format: &Format, header: &Value, rows: &[Value]) -> Result<String, FormatError> {
    let tmpl = format.parse()?;
    let mut body = String::new();
    for row in rows {
        body.push_str(&tmpl.render(row, Mode::Context).map_err(FormatError)?);
        body.push('\n');
    }
    if !format.is_table() {
        return Ok(body);
    }
    // Go ignores header errors and keeps what was written; an error here
    // leaves the header empty, which is close enough.
    let mut text = tmpl.render(header, Mode::Header).unwrap_or_default();
    text.push('\n');
    text.push_str(&body);
    Ok(table::align(&text))
}

/// [`render`] and print.
pub fn write(p: &mut Printer, format: &Format, header: &Value, rows: &[Value]) -> anyhow::Result<()> {
    let text = render(format, header, rows)?;
    p.out(&text)?;
    Ok(())
}

/// A row context: an object whose keys are sorted, as `json.Marshal` sorts the
/// map the docker CLI builds from a context's methods.
pub fn context(mut fields: Vec<(&str, Value)>) -> Value {
    fields.sort_by(|a, b| a.0.cmp(b.0));
    Value::Object(fields.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
}

/// The header map: field name → column title.
pub fn header(pairs: &[(&str, &str)]) -> Value {
    Value::Object(pairs.iter().map(|(k, v)| (k.to_string(), Value::String(v.to_string()))).collect())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn hdr() -> Value {
        header(&[("Repository", "REPOSITORY"), ("Tag", "TAG"), ("ID", "IMAGE ID")])
    }

    fn rows() -> Vec<Value> {
        vec![
            context(vec![("Repository", json!("busybox")), ("Tag", json!("latest")), ("ID", json!("0123456789ab"))]),
            context(vec![("Repository", json!("<none>")), ("Tag", json!("<none>")), ("ID", json!("ba9876543210"))]),
        ]
    }

    #[test]
    fn table_prefix_prints_a_header() {
        let f = Format::new(r"table {{.Repository}}\t{{.Tag}}");
        assert_eq!(
            render(&f, &hdr(), &rows()).unwrap(),
            "REPOSITORY   TAG\nbusybox      latest\n<none>       <none>\n"
        );
    }

    #[test]
    fn plain_template_is_not_aligned() {
        let f = Format::new("{{.Repository}}:{{.Tag}}");
        assert_eq!(render(&f, &hdr(), &rows()).unwrap(), "busybox:latest\n<none>:<none>\n");
        let f = Format::new(r"{{.Repository}}\t{{.ID}}");
        assert_eq!(render(&f, &hdr(), &rows()).unwrap(), "busybox\t0123456789ab\n<none>\tba9876543210\n");
    }

    #[test]
    fn json_is_one_sorted_object_per_line() {
        let f = Format::new("json");
        assert_eq!(
            render(&f, &hdr(), &rows()[..1]).unwrap(),
            "{\"ID\":\"0123456789ab\",\"Repository\":\"busybox\",\"Tag\":\"latest\"}\n"
        );
    }

    #[test]
    fn table_with_no_rows_still_prints_the_header() {
        let f = Format::new(r"table {{.Repository}}\t{{.Tag}}\t{{.ID}}");
        assert_eq!(render(&f, &hdr(), &[]).unwrap(), "REPOSITORY   TAG       IMAGE ID\n");
    }

    #[test]
    fn errors_say_template_parsing_error() {
        let f = Format::new("{{.Nope}}");
        let e = render(&f, &hdr(), &rows()).unwrap_err();
        assert!(e.to_string().starts_with("template parsing error: template: :1:2: executing"), "{e}");
    }
}
