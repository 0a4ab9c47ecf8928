//! Printing attacker-controlled text safely.
//!
//! Subject names, topics, reason details and file names come from the input: printed raw,
//! a newline forges a second log line, an escape sequence rewrites the terminal, a bidi
//! override reorders what a person reads. [`escape`] (and its `Display` wrapper
//! [`Escaped`]) replaces every such character by a visible `\u{..}` escape, so one value
//! is always one visible line. Every crate of the workspace uses it wherever it prints or
//! logs such a string. JSON output needs no more than `serde_json`'s own escaping.

use std::borrow::Cow;
use std::fmt;

/// Whether `c` must not be printed raw: C0 and C1 controls, DEL, the line and paragraph
/// separators, and the invisible format characters (bidi embeddings, overrides, isolates
/// and marks, zero-width characters, the byte-order mark, interlinear annotations).
pub fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{00AD}'
                | '\u{061C}'
                | '\u{180E}'
                | '\u{200B}'..='\u{200F}'
                | '\u{2028}'..='\u{202E}'
                | '\u{2060}'..='\u{2064}'
                | '\u{2066}'..='\u{206F}'
                | '\u{FEFF}'
                | '\u{FFF9}'..='\u{FFFB}'
        )
}

/// `text` with every character [`needs_escape`] says must not be printed raw written as
/// `\u{hex}`; borrowed when there is nothing to escape.
pub fn escape(text: &str) -> Cow<'_, str> {
    if !text.chars().any(needs_escape) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if needs_escape(c) {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Displays a string through [`escape`]: `format!("{}", Escaped(topic))`.
#[derive(Debug, Clone, Copy)]
pub struct Escaped<'a>(pub &'a str);

impl fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in self.0.chars() {
            if needs_escape(c) {
                write!(f, "\\u{{{:x}}}", c as u32)?;
            } else {
                fmt::Write::write_char(f, c)?;
            }
        }
        Ok(())
    }
}

/// A path for a message, escaped (file names may come from the input too).
pub fn path(p: &std::path::Path) -> String {
    escape(&p.display().to_string()).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_and_bidi_are_escaped() {
        assert_eq!(escape("a\nb\x1b[31mc\u{7f}"), "a\\u{a}b\\u{1b}[31mc\\u{7f}");
        assert_eq!(
            escape("x\u{202e}y\u{2028}\u{85}"),
            "x\\u{202e}y\\u{2028}\\u{85}"
        );
        assert_eq!(Escaped("t\r\n").to_string(), "t\\u{d}\\u{a}");
    }

    #[test]
    fn printable_text_is_unchanged() {
        let s = "CN=Jürgen Ω,O=Example\\, Inc. 東京 \"q\" tab-less";
        assert!(matches!(escape(s), Cow::Borrowed(_)));
        assert_eq!(Escaped(s).to_string(), s);
    }
}
