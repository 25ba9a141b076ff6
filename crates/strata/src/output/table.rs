//! Column alignment exactly as the docker CLI does it:
//! `tabwriter.NewWriter(out, 10, 1, 3, ' ', 0)` (minimum width 10, padding 3).
//!
//! Go's `minwidth` includes the padding while the Rust `tabwriter` crate adds
//! padding on top of `minwidth`, so the Rust value is 10 - 3 = 7: a column is
//! `max(7, widest cell) + 3` = Go's `max(10, widest cell + 3)`.

use std::io::Write;

/// Docker's minimum column width (padding included).
pub const MIN_WIDTH: usize = 10;
/// Docker's padding between columns.
pub const PADDING: usize = 3;

/// Align tab-terminated cells of `text` into columns. Lines keep their
/// terminators; the text after the last tab of a line is not padded.
pub fn align(text: &str) -> String {
    let mut tw = tabwriter::TabWriter::new(Vec::new()).minwidth(MIN_WIDTH - PADDING).padding(PADDING);
    tw.write_all(text.as_bytes()).expect("writing to memory");
    let bytes = tw.into_inner().expect("flushing to memory");
    String::from_utf8(bytes).expect("tabwriter keeps UTF-8")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_docker_history_golden() {
        // docker/cli cli/command/image/testdata/history-command-success.simple.golden
        let t = "IMAGE\tCREATED\tCREATED BY\tSIZE\tCOMMENT\n123456789012\tLess than a second ago\t\t0B\tnone\n";
        assert_eq!(
            align(t),
            "IMAGE          CREATED                  CREATED BY   SIZE      COMMENT\n\
             123456789012   Less than a second ago                0B        none\n"
        );
        // history-command-success.non-human.golden
        let t =
            "IMAGE\tCREATED AT\tCREATED BY\tSIZE\tCOMMENT\nabcdef\t2017-01-01T12:00:03Z\trose\t0\tnew history item!\n";
        assert_eq!(
            align(t),
            "IMAGE     CREATED AT             CREATED BY   SIZE      COMMENT\n\
             abcdef    2017-01-01T12:00:03Z   rose         0         new history item!\n"
        );
    }

    #[test]
    fn wide_characters_count_as_one_column_each() {
        let t = "A\tB\nab…\tc\n";
        assert_eq!(align(t), "A         B\nab…       c\n");
    }
}
