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
        before,
        after,
        why,
    })
}

/// Check the planned bytes: every target granted for every possible name, and no client
/// that was granted before (targets, the generic client, every address and name the files
/// mention) is refused after. Returns what was checked, in words.
pub(crate) fn verify(ctx: &Context, before: &Analysis, after: &Analysis) -> Result<String, String> {
    for tv in &after.verdicts {
        if tv.verdict.access != Access::Granted {
            let who = tv
                .target
                .client
                .as_ref()
                .map_or("the generic client".to_string(), ToString::to_string);
            return Err(format!(
                "the planned change still leaves {} from {who} {}; not offered",
                tv.target.daemon,
                tv.verdict.access.name()
            ));
        }
    }
    // Both analyses evaluated the same extra clients in the same order: the addresses and
    // names the files mention (see `mentioned`) and every stand-in for the
    // generic client.
    for (b, a) in before.extra.iter().zip(&after.extra) {
        let worse = match b.verdict.access {
            Access::Granted => a.verdict.access != Access::Granted,
            Access::Depends => a.verdict.access == Access::Denied,
            Access::Denied => false,
        };
        if worse {
            return Err(format!(
                "the planned change would refuse {} from {} (now {}); not offered",
                b.target.daemon,
                b.evaluated,
                b.verdict.access.name()
            ));
        }
    }
    let more = ctx.extra.len() >= MAX_MENTIONED;
    let checked = before.extra.len() / ctx.daemons.len().max(1);
    let mut words = format!(
        "every target is granted for any host name; no one granted before is refused after ({checked} clients checked: the generic client and those the files mention)"
    );
    if more {
        words.push_str(&format!(
            "; the files name {MAX_MENTIONED} clients or more: the rest are covered because the plan only adds an allow rule or comments out refusing rules, which refuses no one new"
        ));
    }
    Ok(words)
}
