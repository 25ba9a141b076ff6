//! Everything that shapes output: the [`printer::Printer`] all bytes go
//! through, Docker's table layout, human units, `--format` templates and the
//! progress bars.

pub mod formatter;
pub mod printer;
pub mod progress;
pub mod table;
pub mod template;
pub mod time;
pub mod units;

pub use printer::Printer;

/// Docker's `TruncateID`: drop the algorithm, keep 12 characters.
pub fn truncate_id(id: &str) -> String {
    let id = id.split_once(':').map(|(_, hex)| hex).unwrap_or(id);
    id.chars().take(12).collect()
}

/// Docker's `formatter.Ellipsis`: at most `max` display columns, the last one `…`.
pub fn ellipsis(s: &str, max: usize) -> String {
    use unicode_width::UnicodeWidthChar;
    if max == 0 {
        return String::new();
    }
    let chars: Vec<char> = s.chars().collect();
    if max == 1 {
        return chars.first().map(|c| c.to_string()).unwrap_or_default();
    }
    let width: usize = chars.iter().map(|c| c.width().unwrap_or(0)).sum();
    if width <= max {
        return s.to_string();
    }
    let mut out = String::new();
    let mut w = 0;
    for c in chars {
        let cw = c.width().unwrap_or(0);
        if w + cw > max - 1 {
            break;
        }
        w += cw;
        out.push(c);
    }
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_ellipsis_like_docker() {
        assert_eq!(truncate_id("sha256:0123456789abcdef0123"), "0123456789ab");
        assert_eq!(truncate_id("<missing>"), "<missing>");
        // formatter TestEllipsis cases.
        assert_eq!(ellipsis("abcdefg", 5), "abcd…");
        assert_eq!(ellipsis("abcdefg", 7), "abcdefg");
        assert_eq!(ellipsis("abcdefg", 1), "a");
        assert_eq!(ellipsis("你好世界", 5), "你好…");
        assert_eq!(ellipsis("", 5), "");
        let long = "/bin/sh -c #(nop) ADD file:0123456789abcdef0123456789 in / ";
        assert_eq!(ellipsis(long, 45).chars().count(), 45);
        assert!(ellipsis(long, 45).ends_with('…'));
    }
}
