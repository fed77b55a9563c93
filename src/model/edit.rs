//! Edits of a table: [`Edit`], as a plan makes it (bytes of the file it was planned on), and
//! [`EditRecord`], as a change set records it (`manifest.json`, docs/write-protocol.md):
//! enough to find it again in a file that other programs changed since, and to undo only it
//! ([`crate::repair::plan::revert`]). Fixes record the edits they planned; rollbacks record
//! the line diff they made ([`crate::fsops::edits::between`]).

use serde::{Deserialize, Serialize};

use crate::model::bytes::Bytes;
use crate::model::tables::Role;

/// One edit: at byte `at` of the original file, `before` (whole lines, possibly empty)
/// becomes `after`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edit {
    pub role: Role,
    pub kind: EditKind,
    pub at: usize,
    /// Physical line (1-based) where the edit starts in the original file.
    pub line: u32,
    // Boxed slices, not vectors: a comment plan holds 50,000 edits.
    pub before: Box<[u8]>,
    pub after: Box<[u8]>,
    /// Why, in words (also written into the marker line). Shared: a comment plan gives
    /// the same reason for each of thousands of rules.
    pub why: std::sync::Arc<str>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EditKind {
    /// New lines (marker + allow rule) inserted.
    Insert,
    /// A rule's lines commented out (marker line above).
    Comment,
    /// A newline added at the end of the file.
    FinalNewline,
}

impl EditKind {
    pub fn name(self) -> &'static str {
        self.record().name()
    }

    /// How a change set records an edit of this kind.
    pub fn record(self) -> RecordKind {
        match self {
            EditKind::Insert => RecordKind::Insert,
            EditKind::Comment => RecordKind::Comment,
            EditKind::FinalNewline => RecordKind::FinalNewline,
        }
    }
}

/// What an edit did. The first three are a plan's; `lines` is a rollback's line diff.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RecordKind {
    Insert,
    Comment,
    FinalNewline,
    Lines,
}

impl RecordKind {
    pub fn name(self) -> &'static str {
        match self {
            RecordKind::Insert => "insert",
            RecordKind::Comment => "comment",
            RecordKind::FinalNewline => "final-newline",
            RecordKind::Lines => "lines",
        }
    }
}

/// One recorded edit: `before` became `after`, starting at 1-based physical line `line` of
/// the file as written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EditRecord {
    pub kind: RecordKind,
    pub line: u64,
    pub before: Bytes,
    pub after: Bytes,
    /// For an edit whose `after` is empty (a rollback removed lines): the line that followed
    /// them, where they go back; `None` when they were at the end of the file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<Bytes>,
    pub why: String,
}
