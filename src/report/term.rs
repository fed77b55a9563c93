//! What reaches the terminal. Text from the repaired system (table lines, log tags, file
//! and link names, manifest fields) may carry terminal escapes: `\r\x1b[2C` can overwrite
//! what a menu entry seems to say, `\x1b]2;…\x07` retitles the window. [`escape`] shows
//! them instead of obeying them. Messages go to stderr through [`say`] and [`warn`], which
//! never panic (eprintln! does when stderr is a closed pipe).
//!
//! stdout: a reader that goes away (`wrapfix … | head -1`) ends the output, never the
//! work. [`crate::write_out`] notes it here, and the exit status still says what is true
//! on disk.

use std::borrow::Cow;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

/// Whether a character must not reach a terminal as it is: control characters (C0, DEL,
/// C1) and the bidirectional overrides that reorder what is shown.
fn unsafe_char(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// `s` with every control character written as an escape (`\x1b`, `\r`, `\n`, `\u{202e}`).
pub fn escape(s: &str) -> Cow<'_, str> {
    if !s.chars().any(unsafe_char) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\n' => out.push_str("\\n"),
            c if unsafe_char(c) && (c as u32) < 0x100 => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c if unsafe_char(c) => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// Like [`escape`], keeping line breaks: for messages that are several lines by design.
pub fn escape_lines(s: &str) -> String {
    s.split('\n').map(escape).collect::<Vec<_>>().join("\n")
}

/// A line on stderr: `wrapfix: MESSAGE`, escaped. Errors writing it are ignored: there is
/// nowhere left to report them.
pub fn say(msg: &str) {
    let _ = writeln!(std::io::stderr(), "wrapfix: {}", escape_lines(msg));
}

/// `wrapfix: warning: MESSAGE` on stderr.
pub fn warn(msg: &str) {
    say(&format!("warning: {msg}"));
}

static STDOUT_CLOSED: AtomicBool = AtomicBool::new(false);

/// stdout went away (EPIPE, or another write error): stop writing to it.
pub(crate) fn mark_stdout_closed() {
    STDOUT_CLOSED.store(true, Ordering::SeqCst);
}

/// Whether output was lost: then nobody saw the report or the diff, and nothing may be
/// applied on the strength of a question about them.
pub fn stdout_closed() -> bool {
    STDOUT_CLOSED.load(Ordering::SeqCst)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_are_shown_not_obeyed() {
        assert_eq!(escape("plain"), "plain");
        assert_eq!(
            escape("a\r\x1b[2C\x1b]2;x\x07\u{9b}\u{202e}b"),
            "a\\r\\x1b[2C\\x1b]2;x\\x07\\x9b\\u{202e}b"
        );
        assert_eq!(escape_lines("one\x1b\ntwo"), "one\\x1b\ntwo");
    }
}
