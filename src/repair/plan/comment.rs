//! The `comment` strategy: comment out every rule that refuses a target in some world.

use super::*;

/// `comment`: comment out every rule that refuses a target in some world, found in one pass
/// per target that reads past each as if it were already commented out; and add a missing
/// final newline when that is what refuses them.
pub(super) fn comment_edits(
    ctx: &Context,
    before: &Analysis,
    id: &str,
) -> Result<Vec<Edit>, String> {
    let env = ctx.env();
    let mut edits: Vec<Edit> = Vec::new();
    let refused = before
        .verdicts
        .iter()
        .zip(&before.candidates)
        .enumerate()
        .filter(|(_, (tv, _))| tv.verdict.access != Access::Granted);
    for (i, (tv, candidates)) in refused {
        let who = tv
            .target
            .client
            .as_ref()
            .map_or("any client".to_string(), |c| c.addr.clone());
        let daemon = &tv.target.daemon;
        // Found with the verdict when the analysis was asked to (a single target).
        let found;
        let (after, refusers) = match before.refusers.as_deref().filter(|_| i == 0) {
            Some((after, refusers)) => (after, refusers),
            None => {
                found = crate::eval::refusers(
                    &before.tables,
                    Some(candidates),
                    daemon,
                    &tv.evaluated,
                    &env,
                );
                (&found.0, &found.1)
            }
        };
        let why = format!("it refused {daemon} to {who}");
        let what = format!("commented out: {why}");
        // One marker line per line ending, shared by every rule commented out for this
        // target.
        let markers = Markers {
            lf: marker(id, &what, b"\n").into(),
            crlf: marker(id, &what, b"\r\n").into(),
        };
        let why: std::sync::Arc<str> = why.into();
        edits.reserve(refusers.len());
        for r in refusers {
            match &r.how {
                How::DenyTableError(TableProblem::Unterminated(Unterminated::MissingNewline)) => {
                    edits.extend(final_newline(&before.tables, id));
                }
                How::DenyTableError(TableProblem::Unterminated(_)) => {
                    return Err("hosts.deny has a line longer than 2047 bytes: commenting it out does not help (libwrap still stops there); use --strategy allow".into());
                }
                How::DenyTableError(TableProblem::Unreadable(e)) => {
                    return Err(format!(
                        "hosts.deny cannot be read ({e}); fix its permissions, or use --strategy allow"
                    ));
                }
                How::Hang => {
                    return Err(
                        "a line over 2047 bytes makes this libwrap hang; use --strategy allow"
                            .into(),
                    );
                }
                _ => edits.extend(comment_rule(
                    &before.tables,
                    r.loc,
                    r.pos,
                    ctx.flavor,
                    &why,
                    &markers,
                )),
            }
        }
        if after.access != Access::Granted {
            return Err("commenting out the refusing rules does not let every target in (see the verdicts); try --strategy allow with --client".into());
        }
    }
    Ok(settle(edits))
}

/// The edits in file order, each place once. Commenting out a rule on an unterminated
/// last line also ends it with a newline, so it stands for the edit that only adds one.
pub(super) fn settle(mut edits: Vec<Edit>) -> Vec<Edit> {
    edits.sort_by(|a, b| {
        (a.role, a.at, a.kind == EditKind::FinalNewline).cmp(&(
            b.role,
            b.at,
            b.kind == EditKind::FinalNewline,
        ))
    });
    let mut out: Vec<Edit> = Vec::with_capacity(edits.len());
    for e in edits {
        if let Some(last) = out.last()
            && last.role == e.role
            && e.at < last.at + last.before.len().max(1)
        {
            continue; // the same lines: already edited
        }
        out.push(e);
    }
    out
}

/// The marker line above commented-out rules, for each line ending a rule may have.
pub(super) struct Markers {
    pub lf: std::sync::Arc<[u8]>,
    pub crlf: std::sync::Arc<[u8]>,
}

/// Comment out every physical line of the rule at `loc`, with a marker line above.
pub(super) fn comment_rule(
    tables: &Tables,
    loc: RuleLoc,
    pos: usize,
    flavor: Flavor,
    why: &std::sync::Arc<str>,
    markers: &Markers,
) -> Option<Edit> {
    let doc = tables.get(loc.role).document()?;
    let entry = doc.entries_from(flavor, pos, loc.line).next()?;
    let (start, end) = (pos, entry.logical().span.end);
    // Whole physical lines: the span may stop inside a line cut by the 2048-byte buffer.
    let bytes = doc.bytes();
    let end = if end > start && bytes[end - 1] != b'\n' {
        memchr::memchr(b'\n', &bytes[end..]).map_or(bytes.len(), |i| end + i + 1)
    } else {
        end
    };
    let before = &bytes[start..end];
    let marker = if before.ends_with(b"\r\n") {
        &markers.crlf
    } else {
        &markers.lf
    };
    Some(Edit {
        role: loc.role,
        kind: EditKind::Comment,
        at: start,
        line: loc.line,
        before: before.into(),
        after: After::Commented(marker.clone()),
        why: why.clone(),
    })
}
