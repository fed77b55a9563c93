//! The missing final newline of hosts.deny (Debian stops reading the table without it).

use super::*;

/// Add the missing final newline of hosts.deny (Debian stops with an error without it).
pub(super) fn final_newline(tables: &Tables, id: &str) -> Option<Edit> {
    let doc = tables.deny.document()?;
    let bytes = doc.bytes();
    if bytes.ends_with(b"\n") {
        return None;
    }
    let start = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    let line = doc.lines().last().map_or(1, |l| l.number);
    let before = bytes[start..].to_vec();
    let mut after = before.clone();
    after.push(b'\n');
    let why = format!(
        "wrapfix {id}: added the missing final newline (libwrap refused everyone without it)"
    );
    Some(Edit {
        role: Role::Deny,
        kind: EditKind::FinalNewline,
        at: start,
        line,
        before: before.into(),
        after: after.into(),
        why: why.into(),
    })
}
