//! Messages for people on stderr, best effort.
//!
//! Progress, warnings and the summary are for whoever watches; only the
//! journal is data. `eprintln!` panics when stderr is a pipe whose reader
//! went away, which would end a long run for nothing, so the CLI writes
//! through [`say!`] instead, which drops what cannot be written.

/// Like `eprintln!`, but a failed write is ignored.
#[macro_export]
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

/// Escapes what a worker wrote to its stderr before it reaches a terminal:
/// control characters (escape sequences, backspaces) are shown, not obeyed.
/// Line breaks and tabs stay.
pub fn printable(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() && c != '\n' && c != '\t' {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn control_characters_are_escaped_and_lines_kept() {
        assert_eq!(super::printable("a\x1b[2Jb\nc\td\u{7f}\r"), "a\\u{1b}[2Jb\nc\td\\u{7f}\\r");
    }
}
