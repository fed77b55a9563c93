//! Plans on changed bytes (rebase) and the edits a change set records, undone by `revert`.

use super::*;

/// The planned bytes of one file, re-made on bytes another program changed since the plan
/// was made (a fail2ban ban appended, a line removed by an unban). Appends only: the edits
/// go where they were and the new tail is kept. Otherwise each edit is anchored by content:
/// a commented rule by its exact lines, an insertion by the line it went before. Fails,
/// saying why, when an anchor is gone.
pub fn rebase(
    edits: &[Edit],
    role: Role,
    original: &[u8],
    current: &[u8],
) -> Result<Vec<u8>, String> {
    let mut mine: Vec<&Edit> = edits.iter().filter(|e| e.role == role).collect();
    mine.sort_by_key(|e| e.at);
    // Two edits anchored on the same lines (identical rules, one of them gone since) would
    // overlap: that is a plan that no longer applies, never a panic.
    let apply_at = |base: &[u8], at: &[(usize, &Edit)]| -> Result<Vec<u8>, String> {
        let overlap = || {
            format!(
                "{} changed since the plan was made so that its edits no longer fit",
                role.system_path()
            )
        };
        // Sized at once: a comment plan for a ban list more than doubles the file.
        let grows: usize = at
            .iter()
            .map(|(_, e)| e.after_len().saturating_sub(e.before.len()))
            .sum();
        let mut out = Vec::with_capacity(base.len() + grows);
        let mut pos = 0;
        for (offset, e) in at {
            out.extend_from_slice(base.get(pos..*offset).ok_or_else(overlap)?);
            e.write_after(&mut out);
            pos = offset + e.before.len();
        }
        out.extend_from_slice(base.get(pos..).ok_or_else(overlap)?);
        Ok(out)
    };
    let clean_append = current.starts_with(original)
        && (original.is_empty() || original.ends_with(b"\n"))
        && mine
            .iter()
            .all(|e| e.kind != EditKind::FinalNewline || current.len() == original.len());
    if clean_append {
        let at: Vec<(usize, &Edit)> = mine.iter().map(|e| (e.at, *e)).collect();
        return apply_at(current, &at);
    }
    let mut at: Vec<(usize, &Edit)> = Vec::new();
    for e in &mine {
        let offset = match e.kind {
            EditKind::Comment => find_at_line_start(current, &e.before, u64::from(e.line)),
            EditKind::Insert => {
                // Anchor: the line that followed the insertion point (none: the end).
                let rest = &original[e.at..];
                let next_line = rest
                    .split_inclusive(|&b| b == b'\n')
                    .next()
                    .unwrap_or_default();
                if next_line.is_empty() {
                    (current.is_empty() || current.ends_with(b"\n")).then_some(current.len())
                } else {
                    find_at_line_start(current, next_line, u64::from(e.line))
                }
            }
            EditKind::FinalNewline => (current.ends_with(&e.before) && !current.ends_with(b"\n"))
                .then(|| current.len() - e.before.len()),
        };
        let Some(offset) = offset else {
            return Err(format!(
                "{} changed since the plan was made and line {} is no longer as it was",
                role.system_path(),
                e.line
            ));
        };
        at.push((offset, e));
    }
    at.sort_by_key(|(o, _)| *o);
    apply_at(current, &at)
}

/// Whether [`rebase`] on the very bytes the plan was made from gives the plan's own
/// rendering, known without making it (on a comment plan, another 6.5 MB and the peak of
/// the write): the file ends with a newline (or is empty), so the edits go where they
/// were, and they neither overlap nor reach past the end (where rebase would refuse and
/// the rendering leave one out).
pub fn applies_as_planned(edits: &[Edit], role: Role, original: &[u8]) -> bool {
    if !(original.is_empty() || original.ends_with(b"\n")) {
        return false;
    }
    let mut mine: Vec<&Edit> = edits.iter().filter(|e| e.role == role).collect();
    mine.sort_by_key(|e| e.at);
    let mut pos = 0;
    for e in mine {
        if e.at < pos {
            return false;
        }
        pos = e.at + e.before.len();
    }
    pos <= original.len()
}

/// The edits of one file as the change set records them: streamed into each save of the
/// manifest straight from the plan's edits ([`PlanRecords`]).
pub fn recorded(edits: &Arc<[Edit]>, role: Role) -> crate::fsops::EditList {
    crate::fsops::EditList::Streamed(Arc::new(PlanRecords {
        edits: Arc::clone(edits),
        role,
    }))
}

/// One table's edits of a plan, written as their [`EditRecord`]s without building them
/// (50,000 records built only to be encoded held 14 MB, and their JSON 12.5 MB).
pub struct PlanRecords {
    edits: Arc<[Edit]>,
    role: Role,
}

impl std::fmt::Debug for PlanRecords {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.edits.iter().filter(|e| e.role == self.role).count();
        write!(f, "{n} edits of {}", self.role.system_path())
    }
}

impl crate::fsops::Stream for PlanRecords {
    fn write_to(&self, out: &mut dyn std::io::Write) -> std::io::Result<()> {
        /// An [`EditRecord`] borrowed from its edit: the same fields, in the same order.
        #[derive(serde::Serialize)]
        struct RecordRef<'a> {
            kind: RecordKind,
            line: u64,
            before: crate::model::bytes::BytesRef<'a>,
            after: crate::model::edit::AfterRef<'a>,
            why: &'a str,
        }
        let mine = self.edits.iter().filter(|e| e.role == self.role);
        crate::fsops::write_list(
            mine.map(|e| RecordRef {
                kind: e.kind.record(),
                line: u64::from(e.line),
                before: crate::model::bytes::BytesRef(&e.before),
                after: crate::model::edit::AfterRef(e),
                why: &e.why,
            }),
            out,
        )
    }
}

/// Undo wrapfix's own edits in `current`, keeping whatever other programs changed since:
/// each edit's `after` bytes, found at a line start (the occurrence nearest the recorded
/// line), become its `before` bytes again. A final newline wrapfix added is only taken
/// back while nothing follows it. Fails, saying why, when an edit cannot be found intact;
/// `None`: the change set recorded no edit list for the file (made by an older wrapfix).
pub fn revert(path: &str, current: &[u8], edits: Option<&[EditRecord]>) -> Result<Vec<u8>, String> {
    let list = edits.ok_or_else(|| format!("the manifest has no edit list for {path}"))?;
    let mut out = current.to_vec();
    // Last edits first, so earlier positions stay valid.
    let mut parsed: Vec<&EditRecord> = list.iter().collect();
    parsed.sort_by_key(|e| std::cmp::Reverse(e.line));
    for e in parsed {
        let (line, kind, before, after) = (e.line, e.kind, e.before.as_slice(), e.after.as_slice());
        let at = if after.is_empty() {
            // Nothing of the edit's own is left to find: its lines go back before the line
            // that followed them, or at the end.
            let at = match &e.next {
                Some(next) => find_at_line_start(&out, next.as_slice(), line),
                None => (out.is_empty() || out.ends_with(b"\n")).then_some(out.len()),
            };
            at.ok_or_else(|| {
                format!("the line next to the lines wrapfix removed near {path}:{line} is no longer there")
            })?
        } else if kind == RecordKind::Lines && !after.ends_with(b"\n") {
            // A last line without a newline: only ever at the end of the file.
            let at = out.len().saturating_sub(after.len());
            let whole = at == 0 || out[at - 1] == b'\n';
            if !(out.ends_with(after) && whole) {
                return Err(format!(
                    "the last line of {path} is no longer as wrapfix left it"
                ));
            }
            at
        } else if kind == RecordKind::FinalNewline {
            if !out.ends_with(after) {
                return Err(format!(
                    "lines were added after the final newline wrapfix gave {path}; taking it back would join them onto the last line"
                ));
            }
            out.len() - after.len()
        } else {
            find_at_line_start(&out, after, line).ok_or_else(|| {
                format!("the lines wrapfix changed near {path}:{line} are no longer there as wrapfix left them")
            })?
        };
        out.splice(at..at + after.len(), before.iter().copied());
    }
    Ok(out)
}

/// Where `needle` occurs at the start of a line, nearest physical line `line`.
pub(super) fn find_at_line_start(hay: &[u8], needle: &[u8], line: u64) -> Option<usize> {
    if needle.is_empty() {
        return None;
    }
    let mut best: Option<(u64, usize)> = None;
    let mut line_no = 1u64;
    let mut start = 0usize;
    while start <= hay.len() {
        if hay[start..].starts_with(needle) {
            let dist = line_no.abs_diff(line);
            if best.is_none_or(|(d, _)| dist < d) {
                best = Some((dist, start));
            }
        }
        match memchr::memchr(b'\n', &hay[start..]) {
            Some(i) => {
                start += i + 1;
                line_no += 1;
            }
            None => break,
        }
    }
    best.map(|(_, at)| at)
}
