//! The edit list of a rollback: what it changed in a file, as whole-line replacements, so
//! that the rollback can itself be undone by [`crate::repair::plan::revert`] when the file changed
//! again since (docs/write-protocol.md: any history of fixes and rollbacks unwinds by repeated
//! `--rollback`). A fix records the edits it planned; a rollback records the line diff
//! between what it read and what it wrote.
//!
//! An edit whose new side is empty (the rollback removed lines, e.g. wrapfix's allow entry)
//! has nothing of its own to find later, so it also records the line that followed it
//! (`next`; `null`: the end of the file), where [`crate::repair::plan::revert`] puts the lines back.

use similar::{Algorithm, DiffTag};

use crate::model::bytes::Bytes;
use crate::model::bytes::{common_head, common_tail, lines};
use crate::model::edit::{EditRecord, RecordKind};

/// The edits that turn `old` into `new` (`None`: the file is absent), as the manifest
/// records them: `{kind, line, before, after, next, why}`, `line` being the 1-based line of
/// `new` where `after` starts.
pub fn between(old: Option<&[u8]>, new: Option<&[u8]>, why: &str) -> Vec<EditRecord> {
    let (old, new) = (old.unwrap_or_default(), new.unwrap_or_default());
    if old == new {
        return Vec::new();
    }
    // Only what lies between the common head and tail is split into lines: a rollback
    // touches a few lines of what may be a million-line ban list.
    let (skip, head_lines) = common_head(old, new);
    let tail = common_tail(&old[skip..], &new[skip..]);
    let a = lines(&old[skip..old.len() - tail]);
    let b = lines(&new[skip..new.len() - tail]);
    // Runs of changed lines: (old range, new range), adjacent changes merged.
    let mut hunks: Vec<(std::ops::Range<usize>, std::ops::Range<usize>)> = Vec::new();
    for op in similar::capture_diff_slices(Algorithm::Myers, &a, &b) {
        if op.tag() == DiffTag::Equal {
            continue;
        }
        let (o, n) = (op.old_range(), op.new_range());
        match hunks.last_mut() {
            Some((po, pn)) if po.end == o.start && pn.end == n.start => {
                po.end = o.end;
                pn.end = n.end;
            }
            _ => hunks.push((o, n)),
        }
    }
    let offsets: Vec<usize> = std::iter::once(skip)
        .chain(b.iter().scan(skip, |at, l| {
            *at += l.len();
            Some(*at)
        }))
        .collect();
    hunks
        .into_iter()
        .map(|(o, n)| {
            let before: Vec<u8> = a[o].concat();
            let after: Vec<u8> = b[n.clone()].concat();
            let end = offsets[n.end];
            let next = (after.is_empty() && end < new.len()).then(|| {
                let rest = &new[end..];
                let len = memchr::memchr(b'\n', rest).map_or(rest.len(), |i| i + 1);
                Bytes::from(&rest[..len])
            });
            EditRecord {
                kind: RecordKind::Lines,
                line: (head_lines + n.start + 1) as u64,
                before: Bytes(before),
                after: Bytes(after),
                next,
                why: why.to_string(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::repair::plan::revert;

    /// Undoing the derived edits on the new bytes gives the old bytes back.
    fn round_trip(old: &[u8], new: &[u8]) {
        let edits = between(Some(old), Some(new), "test");
        assert_eq!(
            revert("/etc/hosts.allow", new, Some(&edits)).as_deref(),
            Ok(old),
            "{edits:?}"
        );
    }

    #[test]
    fn removed_inserted_and_replaced_lines_are_put_back() {
        round_trip(b"a\nb\nc\n", b"a\nc\n");
        round_trip(b"a\nb\nc\n", b"a\n");
        round_trip(b"a\nb\n", b"");
        round_trip(b"", b"x\n");
        round_trip(b"a\nb\nc\n", b"a\nB\nc\nd\n");
        round_trip(b"a\nb", b"a\nb\n");
        round_trip(b"a\nb\n", b"a\nb");
        round_trip(b"# m\nsshd: 1\n# n\nsshd: 2\n", b"# m\nsshd: 1\n");
    }

    #[test]
    fn lines_put_back_follow_their_neighbour_when_the_file_changed() {
        // A rollback removed the allow entry before `ALL: ALL: DENY`; since then a ban was
        // added at the top. Undoing the rollback puts the entry back before its neighbour.
        let old = b"sshd: 10.0.0.1\nALL: ALL: DENY\n";
        let edits = between(Some(old), Some(b"ALL: ALL: DENY\n"), "test");
        let now = b"ALL: 192.0.2.9: DENY\nALL: ALL: DENY\n";
        assert_eq!(
            revert("/etc/hosts.allow", now, Some(&edits)).unwrap(),
            b"ALL: 192.0.2.9: DENY\nsshd: 10.0.0.1\nALL: ALL: DENY\n"
        );
        // Lines removed at the end go back at the end.
        let edits = between(Some(b"a\nb\n"), Some(b"a\n"), "test");
        assert_eq!(revert("/x", b"", Some(&edits)).unwrap(), b"b\n");
        // Their neighbour gone: refused, not guessed.
        assert!(
            revert(
                "/x",
                b"z\n",
                Some(&between(Some(old), Some(b"ALL: ALL: DENY\n"), "t"))
            )
            .is_err()
        );
    }
}
