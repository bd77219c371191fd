//! Messages for people, best effort: [`say!`] on stderr, [`tell!`] on
//! stdout.
//!
//! Progress, warnings and the summary are for whoever watches; only the
//! journal is data. `eprintln!` and `println!` panic when their stream is a
//! pipe whose reader went away (`2>&-` in a wrapper, `| head`), which would
//! end a long run, or a report, for nothing, so the CLI writes through
//! these macros instead, which drop what cannot be written. Data whose loss
//! matters (a journal, a merged journal) must not go through them.

/// Like `eprintln!`, but a failed write is ignored.
#[macro_export]
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

/// Like `println!`, but a failed write is ignored: for output a person
/// reads (a report, a listing), which a closed stdout or `| head` may cut
/// short without ending anything that matters.
#[macro_export]
macro_rules! tell {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
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
