//! How text is shown: bytes from the disk escaped, paragraphs wrapped to the terminal, colour.

/// Bytes from a file as text a terminal shows safely.
pub fn show(bytes: &[u8]) -> String {
    crate::model::syntax::escape(bytes)
}

/// Rule text in a report line: [`show`], cut after [`SHOWN_BYTES`] bytes (a 2048-byte line
/// would fill the screen); the JSON has it whole.
pub(super) fn show_rule(bytes: &[u8]) -> String {
    if bytes.len() <= SHOWN_BYTES {
        return show(bytes);
    }
    format!(
        "{}… ({} bytes)",
        show(&bytes[..SHOWN_BYTES]),
        crate::diagnose::explain::count(bytes.len())
    )
}

/// Bytes of a rule shown on one report line.
pub(super) const SHOWN_BYTES: usize = 100;

/// Columns `s` takes on a terminal: its characters, colour sequences not counted.
pub(super) fn visible_width(s: &str) -> usize {
    let mut n = 0;
    let mut in_escape = false;
    for c in s.chars() {
        match (in_escape, c) {
            (false, '\x1b') => in_escape = true,
            (true, 'm') => in_escape = false,
            (true, _) => {}
            (false, _) => n += 1,
        }
    }
    n
}

/// `text` broken between words so that no line is wider than `width` (a terminal's), the
/// first line after `first`, the others after `rest` (indentation), each ending in a
/// newline. A word longer than a line (a long path) gets a line of its own rather than
/// being split. Without a width (not a terminal): one line.
pub fn wrap(text: &str, width: Option<usize>, first: &str, rest: &str) -> String {
    let Some(width) = width else {
        return format!("{first}{text}\n");
    };
    let mut out = String::new();
    let mut line = first.to_string();
    let mut used = visible_width(first);
    // Words with the spaces before them, so runs of spaces (columns) are kept; the spaces
    // at a break are dropped.
    let mut rest_of = text;
    let mut at_start = true;
    while !rest_of.is_empty() {
        let spaces = rest_of.len() - rest_of.trim_start_matches(' ').len();
        let after = &rest_of[spaces..];
        let word_len = after.find(' ').unwrap_or(after.len());
        let word = &after[..word_len];
        rest_of = &after[word_len..];
        if word.is_empty() {
            break;
        }
        let gap = if at_start { 0 } else { spaces };
        let w = visible_width(word);
        if !at_start && used + gap + w > width {
            out.push_str(&line);
            out.push('\n');
            line = rest.to_string();
            used = visible_width(rest);
        } else {
            line.push_str(&" ".repeat(gap));
            used += gap;
        }
        line.push_str(word);
        used += w;
        at_start = false;
    }
    out.push_str(&line);
    out.push('\n');
    out
}

/// ANSI colour, or none.
#[derive(Clone, Copy)]
pub struct Paint(pub bool);

impl Paint {
    pub(super) fn wrap(self, code: &str, s: &str) -> String {
        if self.0 {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }
    pub fn red(self, s: &str) -> String {
        self.wrap("1;31", s)
    }
    pub fn green(self, s: &str) -> String {
        self.wrap("1;32", s)
    }
    pub fn yellow(self, s: &str) -> String {
        self.wrap("1;33", s)
    }
    pub fn bold(self, s: &str) -> String {
        self.wrap("1", s)
    }
}
