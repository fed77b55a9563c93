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

mod entries;
mod lists;

pub use entries::*;
pub use lists::*;

/// libwrap's line buffer, including the terminating NUL (`BUFLEN` in hosts_access.c).
pub const BUFLEN: usize = 2048;

/// The bytes of one hosts_access file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Document {
    /// Shared: tables are cloned to evaluate planned changes, and a ban list is big.
    bytes: Storage,
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

/// Where a document's bytes live: on the heap, or, for a large table read from disk, in
/// a private anonymous mapping the kernel may back with huge pages (a 30 MB ban list read
/// into 4 KiB pages spent a third of the check faulting them in).
#[derive(Debug, Clone)]
enum Storage {
    Heap(std::sync::Arc<Vec<u8>>),
    Mapped(std::sync::Arc<memmap2::MmapMut>),
}

impl std::ops::Deref for Storage {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            Storage::Heap(v) => v,
            Storage::Mapped(m) => m,
        }
    }
}

impl Default for Storage {
    fn default() -> Self {
        Storage::Heap(Default::default())
    }
}

impl PartialEq for Storage {
    fn eq(&self, other: &Self) -> bool {
        **self == **other
    }
}

impl Eq for Storage {}

impl Document {
    pub fn new(bytes: Vec<u8>) -> Self {
        let has_nul = memchr::memchr(0, &bytes).is_some();
        Document {
            bytes: Storage::Heap(std::sync::Arc::new(bytes)),
            has_nul,
        }
    }

    /// A document of bytes shared with their owner (a plan keeps the bytes it will write,
    /// and its verification reads them: one copy of a file a comment plan has tripled).
    pub fn shared(bytes: std::sync::Arc<Vec<u8>>) -> Self {
        let has_nul = memchr::memchr(0, &bytes).is_some();
        Document {
            bytes: Storage::Heap(bytes),
            has_nul,
        }
    }

    /// A document read straight into a mapping by a reader that already searched every
    /// byte for NUL (in parallel).
    pub(crate) fn mapped(bytes: memmap2::MmapMut, has_nul: bool) -> Self {
        debug_assert_eq!(memchr::memchr(0, &bytes).is_some(), has_nul);
        Document {
            bytes: Storage::Mapped(std::sync::Arc::new(bytes)),
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

#[cfg(test)]
mod tests;
