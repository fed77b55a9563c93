//! Edits of a table: [`Edit`], as a plan makes it (bytes of the file it was planned on), and
//! [`EditRecord`], as a change set records it (`manifest.json`, docs/write-protocol.md):
//! enough to find it again in a file that other programs changed since, and to undo only it
//! ([`crate::repair::plan::revert`]). Fixes record the edits they planned; rollbacks record
//! the line diff they made ([`crate::fsops::edits::between`]).

use std::borrow::Cow;
use std::sync::Arc;

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
    /// What `before` becomes; [`Edit::after_bytes`] spells it out.
    pub after: After,
    /// Why, in words (also written into the marker line). Shared: a comment plan gives
    /// the same reason for each of thousands of rules.
    pub why: Arc<str>,
}

/// What an edit's lines become.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum After {
    Bytes(Box<[u8]>),
    /// The marker line (shared), then each line of `before` behind `#`, and a newline if
    /// `before` had none. Spelled out only when read: for 50,000 commented rules the
    /// spelled-out text was 5.5 MB, held from planning to the report.
    Commented(Arc<[u8]>),
}

/// An edit's `after` in JSON (as [`Bytes`] is), spelled out only while it is written.
pub struct AfterRef<'a>(pub &'a Edit);

impl Serialize for AfterRef<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        crate::model::bytes::BytesRef(&self.0.after_bytes()).serialize(s)
    }
}

impl From<&[u8]> for After {
    fn from(bytes: &[u8]) -> After {
        After::Bytes(bytes.into())
    }
}

impl From<Vec<u8>> for After {
    fn from(bytes: Vec<u8>) -> After {
        After::Bytes(bytes.into())
    }
}

impl Edit {
    /// How long [`after_bytes`](Self::after_bytes) is, without spelling it out.
    pub fn after_len(&self) -> usize {
        match &self.after {
            After::Bytes(bytes) => bytes.len(),
            After::Commented(marker) => {
                let lines = self.before.split_inclusive(|&b| b == b'\n').count();
                let last = self.before.last().or(marker.last());
                marker.len() + self.before.len() + lines + usize::from(last != Some(&b'\n'))
            }
        }
    }

    /// How many lines [`after_bytes`](Self::after_bytes) has (the last one may lack its
    /// newline), without spelling it out.
    pub fn after_lines(&self) -> usize {
        let lines = |b: &[u8]| b.split_inclusive(|&b| b == b'\n').count();
        match &self.after {
            After::Bytes(bytes) => lines(bytes),
            After::Commented(marker) => lines(marker) + lines(&self.before),
        }
    }

    /// The bytes that replace `before`.
    pub fn after_bytes(&self) -> Cow<'_, [u8]> {
        match &self.after {
            After::Bytes(bytes) => Cow::Borrowed(bytes),
            After::Commented(_) => {
                let mut out = Vec::with_capacity(self.after_len());
                self.write_after(&mut out);
                Cow::Owned(out)
            }
        }
    }

    /// Append [`after_bytes`](Self::after_bytes) to `out`, without spelling it out
    /// elsewhere first.
    pub fn write_after(&self, out: &mut Vec<u8>) {
        match &self.after {
            After::Bytes(bytes) => out.extend_from_slice(bytes),
            After::Commented(marker) => {
                let start = out.len();
                out.extend_from_slice(marker);
                for line in self.before.split_inclusive(|&b| b == b'\n') {
                    out.push(b'#');
                    out.extend_from_slice(line);
                }
                if !out[start..].ends_with(b"\n") {
                    out.push(b'\n');
                }
            }
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn commented(before: &[u8], marker: &[u8]) -> Edit {
        Edit {
            role: Role::Deny,
            kind: EditKind::Comment,
            at: 0,
            line: 1,
            before: before.into(),
            after: After::Commented(marker.into()),
            why: "".into(),
        }
    }

    #[test]
    fn a_commented_rule_is_spelled_out_line_by_line_and_its_sizes_agree() {
        let cases: [(&[u8], &[u8], &[u8]); 4] = [
            (b"ALL: ALL\n", b"# m\n", b"# m\n#ALL: ALL\n"),
            (b"ALL: ALL\r\n", b"# m\r\n", b"# m\r\n#ALL: ALL\r\n"),
            (b"sshd: a \\\n  b\n", b"# m\n", b"# m\n#sshd: a \\\n#  b\n"),
            // The last line of the file, without its newline: the comment ends it.
            (b"ALL: ALL", b"# m\n", b"# m\n#ALL: ALL\n"),
        ];
        for (before, marker, after) in cases {
            let e = commented(before, marker);
            assert_eq!(
                &e.after_bytes()[..],
                after,
                "{:?}",
                String::from_utf8_lossy(before)
            );
            assert_eq!(e.after_len(), after.len());
            assert_eq!(
                e.after_lines(),
                after.split_inclusive(|&b| b == b'\n').count()
            );
            let mut out = b"x".to_vec();
            e.write_after(&mut out);
            assert_eq!(&out[1..], after);
        }
    }
}
