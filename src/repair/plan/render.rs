//! The planned bytes: edits applied to the tables, and the marker lines that say who made them.

use super::*;

/// The tables with the planned bytes in place.
pub fn planned_tables(tables: &Tables, new: &NewBytes) -> Tables {
    let file = |f: &TableFile, bytes: &Option<Arc<Vec<u8>>>| match bytes {
        Some(b) => TableFile {
            state: FileState::Present(Document::shared(b.clone())),
            ..f.clone()
        },
        None => f.clone(),
    };
    Tables {
        allow: file(&tables.allow, &new.allow),
        deny: file(&tables.deny, &new.deny),
    }
}

/// Apply edits (any order) to the current bytes of each table.
pub fn render(tables: &Tables, edits: &[Edit]) -> NewBytes {
    let mut out: NewBytes = PerTable::default();
    for role in Role::BOTH {
        let mut mine: Vec<&Edit> = edits.iter().filter(|e| e.role == role).collect();
        if mine.is_empty() {
            continue;
        }
        mine.sort_by_key(|e| e.at);
        let old = tables.get(role).document().map_or(&[][..], Document::bytes);
        // Exactly: a comment plan for a ban list more than doubles the file.
        let grows: usize = mine
            .iter()
            .map(|e| e.after_len().saturating_sub(e.before.len()))
            .sum();
        let mut new = Vec::with_capacity(old.len() + grows);
        let mut pos = 0;
        for e in mine {
            // Planning never makes edits that overlap or lie beyond the file (see
            // `settle`); one that did is left out rather than panicking, and the
            // verification of the rendered bytes judges the rest.
            let Some(keep) = old.get(pos..e.at) else {
                continue;
            };
            new.extend_from_slice(keep);
            e.write_after(&mut new);
            pos = e.at + e.before.len();
        }
        new.extend_from_slice(old.get(pos..).unwrap_or_default());
        out[role] = Some(Arc::new(new));
    }
    out
}

/// The line ending a new line in this file should use: CRLF only if every line has one.
pub(super) fn terminator(doc: Option<&Document>) -> &'static [u8] {
    let Some(doc) = doc else { return b"\n" };
    let mut lines = doc
        .lines()
        .filter(|l| l.terminator != syntax::Terminator::None)
        .peekable();
    if lines.peek().is_some() && lines.all(|l| l.terminator == syntax::Terminator::CrLf) {
        b"\r\n"
    } else {
        b"\n"
    }
}

pub(super) fn marker(id: &str, what: &str, nl: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(12 + id.len() + what.len() + nl.len());
    for piece in [
        &b"# wrapfix "[..],
        id.as_bytes(),
        b": ",
        what.as_bytes(),
        nl,
    ] {
        m.extend_from_slice(piece);
    }
    m
}

/// The client token of an allow rule: IPv6 in brackets; IPv4-mapped as plain IPv4 (every
/// flavour compares the text after `::ffff:` with a plain IPv4 token).
pub(super) fn allow_token(c: &Client) -> String {
    let plain = pattern::strip_v4_mapped(c.addr.as_bytes());
    if plain.len() != c.addr.len() || !c.addr.contains(':') {
        String::from_utf8_lossy(plain).into_owned()
    } else {
        format!("[{}]", c.addr)
    }
}
