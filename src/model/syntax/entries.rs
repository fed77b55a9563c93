//! Reading a file the way libwrap does: physical lines joined at backslash-newline into logical lines, each classified as comment, blank, rule or broken line.

use super::*;

/// Iterator over libwrap's view of a file.
pub struct Entries<'a> {
    pub(super) bytes: &'a [u8],
    pub(super) flavor: Flavor,
    pub(super) pos: usize,
    /// Physical line number of the byte at `pos`.
    pub(super) line: u32,
    pub(super) done: bool,
    pub(super) has_nul: bool,
}

impl<'a> Entries<'a> {
    /// Byte offset and physical line of the next entry.
    pub fn position(&self) -> (usize, u32) {
        (self.pos, self.line)
    }

    /// The next line without its newline, if libwrap reads it as one plain logical line in
    /// every flavour: complete, not continued, short enough, no NUL byte in the file.
    /// A scan can handle such a line itself and [`Entries::skip_plain`] it.
    pub fn peek_plain(&self) -> Option<&'a [u8]> {
        if self.has_nul || self.done {
            return None;
        }
        let bytes: &'a [u8] = self.bytes;
        let window = &bytes[self.pos..bytes.len().min(self.pos + BUFLEN - 1)];
        let i = memchr::memchr(b'\n', window)?;
        if i > 0 && window[i - 1] == b'\\' {
            return None;
        }
        Some(&window[..i])
    }

    /// Step over the line [`Entries::peek_plain`] returned.
    pub fn skip_plain(&mut self, line: &[u8]) {
        self.pos += line.len() + 1;
        self.line += 1;
    }
}

pub(super) enum Read<'a> {
    Eof,
    /// A logical line; `Some(why)` when it does not end in a newline.
    Line(Logical<'a>, Option<Unterminated>),
    Hang(Logical<'a>),
}

impl<'a> Entries<'a> {
    /// One `xgets()` call: assemble a logical line the way libwrap's fgets loop does.
    pub(super) fn xgets(&mut self) -> Read<'a> {
        let bytes = self.bytes;
        let start = self.pos;
        if !self.has_nul {
            // The common case: one whole physical line that fits and is not continued.
            let window = &bytes[start..bytes.len().min(start + BUFLEN - 1)];
            if let Some(i) = memchr::memchr(b'\n', window)
                && (i == 0 || window[i - 1] != b'\\')
            {
                let end = start + i + 1;
                let line = self.line;
                self.pos = end;
                self.line += 1;
                let text = Cow::Borrowed(&bytes[start..end]);
                return Read::Line(
                    Logical {
                        line,
                        last_line: line,
                        span: start..end,
                        text,
                    },
                    None,
                );
            }
        }
        let start_line = self.line;
        let mut first_line: Option<u32> = None;
        let mut text = Pieces::default();
        let mut room = BUFLEN; // fgets' size argument for the next read
        let mut why = Some(Unterminated::MissingNewline);
        loop {
            if room <= 1 {
                if self.flavor == Flavor::Rhel7 {
                    // No guard in el7's loop: glibc fgets(n = 1) returns "" forever.
                    let line = first_line.unwrap_or(start_line);
                    let logical = self.logical(start, line, text.finish(bytes));
                    self.done = true;
                    return Read::Hang(logical);
                }
                why = Some(Unterminated::TooLong);
                break;
            }
            if self.pos >= bytes.len() {
                break;
            }
            let window_end = bytes.len().min(self.pos + room - 1);
            let window = &bytes[self.pos..window_end];
            let read = memchr::memchr(b'\n', window).map_or(window.len(), |i| i + 1);
            let chunk_start = self.pos;
            let chunk_line = self.line;
            self.pos += read;
            let chunk = &bytes[chunk_start..chunk_start + read];
            if chunk.last() == Some(&b'\n') {
                self.line += 1;
            }
            // strlen(): a NUL ends what libwrap sees of this chunk.
            let got = if self.has_nul {
                memchr::memchr(0, chunk).unwrap_or(read)
            } else {
                read
            };
            if got > 0 && first_line.is_none() {
                first_line = Some(chunk_line);
            }
            if got >= 1 && chunk[got - 1] == b'\n' {
                if got >= 2 && chunk[got - 2] == b'\\' {
                    text.push(bytes, chunk_start..chunk_start + got - 2);
                    room -= got - 2;
                    continue;
                }
                text.push(bytes, chunk_start..chunk_start + got);
                why = None;
                break;
            }
            if self.flavor == Flavor::Rhel6 {
                return self.el6_discard(
                    start,
                    start_line,
                    first_line,
                    text,
                    chunk_start..chunk_start + got,
                    read,
                );
            }
            text.push(bytes, chunk_start..chunk_start + got);
            room -= got;
        }
        if text.is_empty() {
            return Read::Eof;
        }
        let line = first_line.unwrap_or(start_line);
        Read::Line(self.logical(start, line, text.finish(bytes)), why)
    }

    /// CentOS 6's xgets when what strlen() sees has no newline (a full buffer, a NUL byte,
    /// the end of the file): it reads on byte by byte to the end of the physical line (and of
    /// lines continued with a backslash) and returns the text without a newline, which
    /// table_match() skips. A NUL byte therefore also swallows the next line.
    pub(super) fn el6_discard(
        &mut self,
        start: usize,
        start_line: u32,
        first_line: Option<u32>,
        mut text: Pieces,
        piece: Range<usize>,
        read: usize,
    ) -> Read<'a> {
        let bytes = self.bytes;
        let got = piece.len();
        let why = if got < read {
            Unterminated::NulByte
        } else if read == BUFLEN - 1 {
            Unterminated::TooLong
        } else {
            Unterminated::MissingNewline
        };
        let had_text = !text.is_empty();
        text.push(bytes, piece.clone());
        let mut last = if got >= 1 { bytes[piece.end - 1] } else { 0 };
        let mut eof = true;
        while self.pos < bytes.len() {
            let c = bytes[self.pos];
            self.pos += 1;
            if c == b'\n' {
                self.line += 1;
                if last != b'\\' {
                    eof = false;
                    break;
                }
            }
            last = c;
        }
        if eof && !had_text && got == 0 {
            return Read::Eof;
        }
        let line = first_line.unwrap_or(start_line);
        Read::Line(self.logical(start, line, text.finish(bytes)), Some(why))
    }

    pub(super) fn logical(&self, start: usize, line: u32, text: Cow<'a, [u8]>) -> Logical<'a> {
        let consumed_newline = self.pos > start && self.bytes[self.pos - 1] == b'\n';
        let last_line = if consumed_newline {
            self.line - 1
        } else {
            self.line
        };
        Logical {
            line,
            last_line: last_line.max(line),
            span: start..self.pos,
            text,
        }
    }
}

/// The text of a logical line: one borrowed range while its pieces are contiguous in the
/// file, an owned copy once a continuation or a NUL cut makes a gap.
#[derive(Default)]
pub(super) struct Pieces {
    pub(super) borrowed: Option<Range<usize>>,
    pub(super) owned: Option<Vec<u8>>,
}

impl Pieces {
    pub(super) fn push(&mut self, bytes: &[u8], piece: Range<usize>) {
        if piece.is_empty() {
            return;
        }
        if let Some(o) = self.owned.as_mut() {
            o.extend_from_slice(&bytes[piece]);
            return;
        }
        match self.borrowed.as_mut() {
            None => self.borrowed = Some(piece),
            Some(b) if b.end == piece.start => b.end = piece.end,
            Some(b) => {
                let mut v = bytes[b.clone()].to_vec();
                v.extend_from_slice(&bytes[piece]);
                self.owned = Some(v);
            }
        }
    }

    pub(super) fn is_empty(&self) -> bool {
        self.borrowed.is_none() && self.owned.is_none()
    }

    pub(super) fn finish(self, bytes: &[u8]) -> Cow<'_, [u8]> {
        match (self.owned, self.borrowed) {
            (Some(v), _) => Cow::Owned(v),
            (None, Some(r)) => Cow::Borrowed(&bytes[r]),
            (None, None) => Cow::Borrowed(&[]),
        }
    }
}

impl<'a> Iterator for Entries<'a> {
    type Item = Entry<'a>;

    fn next(&mut self) -> Option<Entry<'a>> {
        if self.done {
            return None;
        }
        let (logical, why) = match self.xgets() {
            Read::Eof => {
                self.done = true;
                return None;
            }
            Read::Hang(l) => return Some(Entry::Hang(l)),
            Read::Line(l, why) => (l, why),
        };
        if let Some(why) = why {
            return Some(match self.flavor {
                Flavor::Debian => {
                    self.done = true;
                    Entry::TableError(logical, why)
                }
                Flavor::Rhel7 | Flavor::Rhel6 => Entry::Skipped(logical, why),
            });
        }
        Some(classify(logical))
    }
}

/// Comment, blank, missing separator, or rule (docs/semantics.md §2.2 checks 2–4).
pub fn classify(logical: Logical<'_>) -> Entry<'_> {
    let text = &logical.text;
    if text.first() == Some(&b'#') {
        return Entry::Comment(logical);
    }
    if text
        .iter()
        .all(|&b| matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
    {
        return Entry::Blank(logical);
    }
    let Some(c1) = split_at(text, 0, b':') else {
        return Entry::NoSeparator(logical);
    };
    let (clients, options) = match split_at(text, c1 + 1, b':') {
        Some(c2) => (c1 + 1..c2, Some(c2 + 1..text.len())),
        None => (c1 + 1..text.len(), None),
    };
    Entry::Rule(Rule {
        daemons: 0..c1,
        clients,
        options,
        logical,
    })
}
