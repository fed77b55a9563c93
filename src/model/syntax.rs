//! The lossless reader: a hosts_access file as bytes, as physical lines, and as the logical
//! lines libwrap's `xgets()` assembles from them.
//!
//! Two views of one byte buffer:
//! - [`Document::lines`]: physical lines with their exact terminators. Concatenating every
//!   line's [`PhysLine::raw`] gives back the file byte for byte, whatever it holds; edits are
//!   made on this view so untouched bytes are never re-rendered.
//! - [`Document::entries`]: what libwrap reads, per flavour: continuation joins, the NUL
//!   quirk, the 2048-byte buffer, the missing-final-newline rule (docs/semantics.md §2, §8).
//!
//! Nothing here allocates per line unless libwrap would see bytes that are not contiguous in
//! the file (a continuation or a NUL byte), so a 1,000,000-line hosts.deny streams quickly.

use std::borrow::Cow;
use std::ops::Range;

use crate::model::flavor::Flavor;

/// libwrap's line buffer, including the terminating NUL (`BUFLEN` in hosts_access.c).
pub const BUFLEN: usize = 2048;

/// The bytes of one hosts_access file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Document {
    /// Shared: tables are cloned to evaluate planned changes, and a ban list is big.
    bytes: std::sync::Arc<Vec<u8>>,
    /// Whether the file has a NUL byte at all (most do not: the reader skips that search).
    has_nul: bool,
}

/// How a physical line ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Terminator {
    Lf,
    CrLf,
    /// The last line of a file that does not end in a newline.
    None,
}

impl Terminator {
    pub fn as_bytes(self) -> &'static [u8] {
        match self {
            Terminator::Lf => b"\n",
            Terminator::CrLf => b"\r\n",
            Terminator::None => b"",
        }
    }
}

/// One physical line: the bytes up to its terminator, and the terminator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PhysLine<'a> {
    /// 1-based line number.
    pub number: u32,
    /// Byte offset of the line in the file.
    pub start: usize,
    /// The line without its terminator.
    pub content: &'a [u8],
    pub terminator: Terminator,
}

impl PhysLine<'_> {
    /// Byte range of the whole line, terminator included.
    pub fn span(&self) -> Range<usize> {
        self.start..self.start + self.content.len() + self.terminator.as_bytes().len()
    }
}

impl Document {
    pub fn new(bytes: Vec<u8>) -> Self {
        let has_nul = memchr::memchr(0, &bytes).is_some();
        Document {
            bytes: std::sync::Arc::new(bytes),
            has_nul,
        }
    }

    /// A document whose reader already searched every byte for NUL (in parallel).
    pub(crate) fn with_nul_flag(bytes: Vec<u8>, has_nul: bool) -> Self {
        debug_assert_eq!(memchr::memchr(0, &bytes).is_some(), has_nul);
        Document {
            bytes: std::sync::Arc::new(bytes),
            has_nul,
        }
    }

    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The physical lines. An empty file has none; a file ending in `\n` has no empty last line.
    pub fn lines(&self) -> PhysLines<'_> {
        PhysLines {
            bytes: &self.bytes,
            pos: 0,
            number: 0,
        }
    }

    /// What libwrap reads from this file, entry by entry, for the given build.
    pub fn entries(&self, flavor: Flavor) -> Entries<'_> {
        self.entries_from(flavor, 0, 1)
    }

    /// Entries of the part `start..end` of the file, which must begin and end at logical line
    /// boundaries (`start` on physical line `line`): the parts of a parallel scan.
    pub fn entries_between(
        &self,
        flavor: Flavor,
        start: usize,
        line: u32,
        end: usize,
    ) -> Entries<'_> {
        let bytes = &self.bytes[..end.min(self.bytes.len())];
        Entries {
            bytes,
            flavor,
            pos: start,
            line,
            done: false,
            has_nul: self.has_nul,
        }
    }

    /// Whether the file has a NUL byte.
    pub fn has_nul(&self) -> bool {
        self.has_nul
    }

    /// Entries from byte `pos`, which must start a logical line on physical line `line`
    /// (a position an earlier pass recorded).
    pub fn entries_from(&self, flavor: Flavor, pos: usize, line: u32) -> Entries<'_> {
        Entries {
            bytes: &self.bytes,
            flavor,
            pos,
            line,
            done: false,
            has_nul: self.has_nul,
        }
    }
}

/// Iterator over [`PhysLine`]s.
pub struct PhysLines<'a> {
    bytes: &'a [u8],
    pos: usize,
    number: u32,
}

impl<'a> Iterator for PhysLines<'a> {
    type Item = PhysLine<'a>;

    fn next(&mut self) -> Option<PhysLine<'a>> {
        if self.pos >= self.bytes.len() {
            return None;
        }
        let start = self.pos;
        let rest = &self.bytes[start..];
        self.number += 1;
        let (content, terminator, used) = match memchr::memchr(b'\n', rest) {
            Some(i) if i > 0 && rest[i - 1] == b'\r' => (&rest[..i - 1], Terminator::CrLf, i + 1),
            Some(i) => (&rest[..i], Terminator::Lf, i + 1),
            None => (rest, Terminator::None, rest.len()),
        };
        self.pos += used;
        Some(PhysLine {
            number: self.number,
            start,
            content,
            terminator,
        })
    }
}

/// One logical line as libwrap's buffer holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Logical<'a> {
    /// Physical line (1-based) where the text libwrap sees begins.
    pub line: u32,
    /// Physical line (1-based) holding the last byte consumed.
    pub last_line: u32,
    /// Bytes of the file consumed for this logical line (whole physical lines, except for a
    /// line cut by the 2048-byte buffer).
    pub span: Range<usize>,
    /// The assembled text: continuations removed, NUL-cut fragments glued, newline kept.
    pub text: Cow<'a, [u8]>,
}

/// Why a logical line is not usable as a rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unterminated {
    /// The file ends without a final newline (also after a continuation or a NUL fragment).
    MissingNewline,
    /// The logical line does not fit libwrap's 2048-byte buffer.
    TooLong,
    /// CentOS 6: a NUL byte makes the line unterminated (and swallows the next line).
    NulByte,
}

/// What libwrap makes of one logical line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry<'a> {
    Rule(Rule<'a>),
    /// First byte `#`.
    Comment(Logical<'a>),
    /// Only space, TAB, CR, LF.
    Blank(Logical<'a>),
    /// No `:` outside brackets: skipped with a warning.
    NoSeparator(Logical<'a>),
    /// Debian: the table stops here with an error (ERR); nothing after it is read.
    TableError(Logical<'a>, Unterminated),
    /// RHEL builds: the line is skipped and reading goes on.
    Skipped(Logical<'a>, Unterminated),
    /// RHEL 7: `xgets()` loops forever on this line (the daemon hangs).
    Hang(Logical<'a>),
}

impl<'a> Entry<'a> {
    pub fn logical(&self) -> &Logical<'a> {
        match self {
            Entry::Rule(r) => &r.logical,
            Entry::Comment(l)
            | Entry::Blank(l)
            | Entry::NoSeparator(l)
            | Entry::TableError(l, _)
            | Entry::Skipped(l, _)
            | Entry::Hang(l) => l,
        }
    }
}

/// A rule: `daemon_list : client_list [ : options ]`, with field ranges into the text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule<'a> {
    pub logical: Logical<'a>,
    pub daemons: Range<usize>,
    pub clients: Range<usize>,
    /// Everything after the second separating colon, newline included; present but possibly
    /// blank (which libwrap treats as an option error).
    pub options: Option<Range<usize>>,
}

impl<'a> Rule<'a> {
    pub fn text(&self) -> &[u8] {
        &self.logical.text
    }
    pub fn daemon_list(&self) -> &[u8] {
        &self.logical.text[self.daemons.clone()]
    }
    pub fn client_list(&self) -> &[u8] {
        &self.logical.text[self.clients.clone()]
    }
    pub fn options_field(&self) -> Option<&[u8]> {
        self.options.clone().map(|r| &self.logical.text[r])
    }
}

/// File bytes as text a terminal shows safely: invalid UTF-8 replaced, control characters
/// written as escapes (a CR or an escape sequence would otherwise hide or forge output).
pub fn escape(bytes: &[u8]) -> String {
    // Most lines are printable ASCII: nothing to do but copy.
    if bytes.iter().all(|&b| (0x20..0x7f).contains(&b)) {
        return String::from_utf8_lossy(bytes).into_owned();
    }
    let mut out = String::new();
    for c in String::from_utf8_lossy(bytes).chars() {
        match c {
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\n' => out.push_str("\\n"),
            c if c.is_control() => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

/// strtok separators libwrap uses for daemon and client lists.
pub fn is_list_sep(b: u8) -> bool {
    matches!(b, b',' | b' ' | b'\t' | b'\r' | b'\n')
}

/// The tokens of a list, as strtok(", \t\r\n") yields them.
pub fn tokens(list: &[u8]) -> impl Iterator<Item = &[u8]> {
    list.split(|&b| is_list_sep(b)).filter(|t| !t.is_empty())
}

/// libwrap's `split_at()`: the index of the first `delim` at bracket depth 0, counting from
/// `from`. A stray `]` makes the depth negative for the rest of the string, an unclosed `[`
/// keeps it positive: either way no later split.
pub fn split_at(s: &[u8], from: usize, delim: u8) -> Option<usize> {
    let mut depth: i64 = 0;
    let mut i = from;
    while let Some(k) = find3(s.get(i..)?, delim, b'[', b']') {
        i += k;
        match s[i] {
            b'[' => depth += 1,
            b']' => depth -= 1,
            _ if depth == 0 => return Some(i),
            _ => {}
        }
        i += 1;
    }
    None
}

/// The first byte equal to `a`, `b` or `c`, eight bytes at a time. Rules are short, so
/// this beats both a byte loop and memchr3's SIMD setup; it runs twice on every rule.
fn find3(s: &[u8], a: u8, b: u8, c: u8) -> Option<usize> {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    // High bit set in each byte of x equal to n (exact for the lowest such byte).
    let eq = |x: u64, n: u8| {
        let y = x ^ (LO * u64::from(n));
        y.wrapping_sub(LO) & !y & HI
    };
    let mut chunks = s.chunks_exact(8);
    let mut base = 0;
    for chunk in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(chunk);
        let x = u64::from_le_bytes(w);
        let m = eq(x, a) | eq(x, b) | eq(x, c);
        if m != 0 {
            return Some(base + (m.trailing_zeros() / 8) as usize);
        }
        base += 8;
    }
    chunks
        .remainder()
        .iter()
        .position(|&x| x == a || x == b || x == c)
        .map(|p| base + p)
}

/// Iterator over libwrap's view of a file.
pub struct Entries<'a> {
    bytes: &'a [u8],
    flavor: Flavor,
    pos: usize,
    /// Physical line number of the byte at `pos`.
    line: u32,
    done: bool,
    has_nul: bool,
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

enum Read<'a> {
    Eof,
    /// A logical line; `Some(why)` when it does not end in a newline.
    Line(Logical<'a>, Option<Unterminated>),
    Hang(Logical<'a>),
}

impl<'a> Entries<'a> {
    /// One `xgets()` call: assemble a logical line the way libwrap's fgets loop does.
    fn xgets(&mut self) -> Read<'a> {
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
    fn el6_discard(
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

    fn logical(&self, start: usize, line: u32, text: Cow<'a, [u8]>) -> Logical<'a> {
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
struct Pieces {
    borrowed: Option<Range<usize>>,
    owned: Option<Vec<u8>>,
}

impl Pieces {
    fn push(&mut self, bytes: &[u8], piece: Range<usize>) {
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

    fn is_empty(&self) -> bool {
        self.borrowed.is_none() && self.owned.is_none()
    }

    fn finish(self, bytes: &[u8]) -> Cow<'_, [u8]> {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(bytes: &[u8], flavor: Flavor) -> Vec<Entry<'_>> {
        // The iterator borrows the document; rebuild the entries against a leaked copy.
        let doc: &'static Document = Box::leak(Box::new(Document::new(bytes.to_vec())));
        doc.entries(flavor).collect()
    }

    #[test]
    fn physical_lines_keep_their_terminators() {
        let doc = Document::new(b"a\r\nb\n\nc".to_vec());
        let lines: Vec<_> = doc.lines().collect();
        assert_eq!(lines.len(), 4);
        assert_eq!(lines[0].terminator, Terminator::CrLf);
        assert_eq!(lines[0].content, b"a");
        assert_eq!(lines[2].content, b"");
        assert_eq!(lines[3].terminator, Terminator::None);
        assert_eq!(lines[3].number, 4);
    }

    #[test]
    fn continuation_joins_without_a_space_and_spans_both_lines() {
        let e = entries(b"sshd: 10.0.\\\n0.1\n", Flavor::Debian);
        let Entry::Rule(r) = &e[0] else {
            panic!("{e:?}")
        };
        assert_eq!(r.text(), b"sshd: 10.0.0.1\n");
        assert_eq!((r.logical.line, r.logical.last_line), (1, 2));
    }

    #[test]
    fn comment_continued_by_backslash_swallows_the_next_line() {
        let e = entries(b"# note \\\nALL: ALL\n", Flavor::Debian);
        assert_eq!(e.len(), 1);
        assert!(matches!(e[0], Entry::Comment(_)));
    }

    #[test]
    fn nul_drops_the_rest_of_the_physical_line_and_glues_the_next() {
        let e = entries(b"sshd: 10.0.0.2\x00junk\n, 10.0.0.1\n", Flavor::Debian);
        let Entry::Rule(r) = &e[0] else { panic!() };
        assert_eq!(r.text(), b"sshd: 10.0.0.2, 10.0.0.1\n");
        assert_eq!(e.len(), 1);
    }

    #[test]
    fn a_line_starting_with_nul_vanishes() {
        let e = entries(b"\x00ALL: ALL\nsshd: x\n", Flavor::Debian);
        assert_eq!(e.len(), 1);
        let Entry::Rule(r) = &e[0] else { panic!() };
        assert_eq!(r.text(), b"sshd: x\n");
        assert_eq!(r.logical.line, 2);
    }

    #[test]
    fn missing_final_newline_is_a_table_error_on_debian_and_skipped_on_rhel() {
        let e = entries(b"sshd: a\n# end", Flavor::Debian);
        assert!(matches!(
            e[1],
            Entry::TableError(_, Unterminated::MissingNewline)
        ));
        let e = entries(b"sshd: a\n# end", Flavor::Rhel7);
        assert!(matches!(
            e[1],
            Entry::Skipped(_, Unterminated::MissingNewline)
        ));
    }

    #[test]
    fn the_2047_byte_limit() {
        let mut ok = b"sshd: x".to_vec();
        ok.resize(2046, b'x');
        ok.push(b'\n');
        ok.extend_from_slice(b"ALL: ALL\n");
        let e = entries(&ok, Flavor::Debian);
        assert_eq!(e.len(), 2);
        assert!(matches!(e[1], Entry::Rule(_)));

        let mut long = b"sshd: x".to_vec();
        long.resize(2047, b'x');
        long.push(b'\n');
        long.extend_from_slice(b"ALL: ALL\n");
        let e = entries(&long, Flavor::Debian);
        assert_eq!(e.len(), 1);
        assert!(matches!(e[0], Entry::TableError(_, Unterminated::TooLong)));
        let e = entries(&long, Flavor::Rhel7);
        assert!(matches!(e[0], Entry::Hang(_)));
        let e = entries(&long, Flavor::Rhel6);
        assert!(matches!(e[0], Entry::Skipped(_, Unterminated::TooLong)));
        assert!(matches!(e[1], Entry::Rule(_)));
        assert_eq!(e[1].logical().line, 2);
    }

    #[test]
    fn centos6_loses_the_line_after_a_nul_and_drops_an_unterminated_last_line() {
        let e = entries(b"a: b\n\x00x: y\nc: d\nlast: e", Flavor::Rhel6);
        let rules: Vec<_> = e
            .iter()
            .filter_map(|e| {
                if let Entry::Rule(r) = e {
                    Some(r.text().to_vec())
                } else {
                    None
                }
            })
            .collect();
        assert_eq!(rules, vec![b"a: b\n".to_vec()]);
        let e = entries(b"a: b\nx\x00y\nc: d\ne: f\n", Flavor::Rhel6);
        assert!(matches!(e[1], Entry::Skipped(_, Unterminated::NulByte)));
        assert_eq!(e[2].logical().line, 4);
    }

    #[test]
    fn find3_finds_the_first_of_three_bytes_at_any_offset() {
        for len in 0..40 {
            for at in 0..len {
                let mut v = vec![b'x'; len];
                v[at] = b']';
                if at + 3 < len {
                    v[at + 3] = b':';
                }
                assert_eq!(find3(&v, b':', b'[', b']'), Some(at), "{len} {at}");
            }
            assert_eq!(find3(&vec![0x80u8; len], b':', b'[', b']'), None);
        }
    }

    #[test]
    fn only_column_one_hash_is_a_comment() {
        let e = entries(b"  # sshd : ALL\n", Flavor::Debian);
        let Entry::Rule(r) = &e[0] else { panic!() };
        assert_eq!(r.daemon_list(), b"  # sshd ");
    }

    #[test]
    fn field_split_is_bracket_aware_and_stops_after_two_colons() {
        let e = entries(b"sshd: [::1]: spawn a:b\n", Flavor::Debian);
        let Entry::Rule(r) = &e[0] else { panic!() };
        assert_eq!(r.client_list(), b" [::1]");
        assert_eq!(r.options_field(), Some(&b" spawn a:b\n"[..]));
        let e = entries(b"sshd]: ALL\n", Flavor::Debian);
        assert!(matches!(e[0], Entry::NoSeparator(_)));
    }
}
