//! The `allow` strategy: one allow entry for the targets, placed before every rule that could refuse them and outside regions other programs rewrite.

use super::*;

/// `allow`: one rule for the targets, inserted in hosts.allow before any rule that could
/// match them (or anything that stops libwrap reading), with a marker line above.
pub(super) fn allow_edits(ctx: &Context, before: &Analysis, id: &str) -> Result<Vec<Edit>, String> {
    let clients: Vec<&Client> = ctx.clients.iter().collect();
    if clients.is_empty() {
        return Err(
            "the allow strategy needs a client: give --client ADDRESS, or use --strategy comment"
                .into(),
        );
    }
    let mut tokens: Vec<String> = clients.iter().map(|c| allow_token(c)).collect();
    tokens.dedup();
    let rule = format!("{}: {}", ctx.daemons.join(", "), tokens.join(" "));
    let refused: Vec<String> = before
        .verdicts
        .iter()
        .filter(|v| v.verdict.access != Access::Granted)
        .filter_map(|v| {
            v.verdict
                .decision()
                .rule
                .as_ref()
                .map(|r| format!("{}:{}", r.loc.role, r.loc.line))
        })
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    // Short, so that the marker line fits an 80-column console; the rule below the
    // marker names the daemons.
    let why = if refused.is_empty() {
        format!("let {} in", tokens.join(" "))
    } else {
        format!(
            "let {} in (refused by {})",
            tokens.join(" "),
            refused.join(", ")
        )
    };
    let file = &before.tables.allow;
    let doc = file.document();
    let nl = terminator(doc);
    let (at, line) = match doc {
        Some(doc) => {
            outside_managed_regions(doc, insertion_point(ctx, doc, first_candidate(before)))
        }
        None => (0, 1),
    };
    let mut after = marker(id, &why, nl);
    after.extend_from_slice(rule.as_bytes());
    after.extend_from_slice(nl);
    Ok(vec![Edit {
        role: Role::Allow,
        kind: EditKind::Insert,
        at,
        line,
        before: Box::default(),
        after: after.into(),
        why: why.into(),
    }])
}

/// Where in hosts.allow the first rule is that may match a target: the first of the
/// entries the scan found the targets' verdicts may need (every rule that may match a
/// target daemon and client), already at hand in the analysis.
fn first_candidate(before: &Analysis) -> Option<usize> {
    before
        .candidates
        .iter()
        .filter_map(|c| c.allow.iter().map(|&(pos, _)| pos).min())
        .min()
}

/// Where the allow rule goes: before `first` (the first rule that may match a target), or
/// the first entry that stops or disturbs reading (an over-long line, a line without
/// newline); else at the end. Always at a logical-line boundary, and never right after a
/// line with a NUL byte (CentOS 6 would swallow the new line).
pub(super) fn insertion_point(ctx: &Context, doc: &Document, first: Option<usize>) -> (usize, u32) {
    let mut entries = doc.entries(ctx.flavor);
    let mut last_nul_free: (usize, u32) = (0, 1);
    let mut prev_had_nul = false;
    loop {
        let (pos, line) = entries.position();
        let Some(entry) = entries.next() else {
            // The end, if the file ends with a complete line; else before the last entry.
            let bytes = doc.bytes();
            let complete =
                bytes.is_empty() || (bytes.ends_with(b"\n") && !bytes.ends_with(b"\\\n"));
            return if complete && !prev_had_nul {
                (pos, line)
            } else {
                last_nul_free
            };
        };
        let stops = matches!(
            entry,
            Entry::TableError(..) | Entry::Skipped(..) | Entry::Hang(_)
        );
        let may_match = first.is_some_and(|first| pos >= first);
        if stops || may_match {
            return if prev_had_nul {
                last_nul_free
            } else {
                (pos, line)
            };
        }
        prev_had_nul = entry.logical().text.contains(&0)
            || doc.bytes()[entry.logical().span.clone()].contains(&0);
        if !prev_had_nul {
            last_nul_free = (pos, line);
        }
    }
}

/// sshguard's hosts backend marks the block it owns with `###sshguard###` lines.
pub(super) const SSHGUARD_MARK: &[u8] = b"###sshguard###";

/// The parts of a table another program rewrites wholesale (byte ranges of whole lines,
/// markers included): sshguard's block between `###sshguard###` lines, and marked blocks
/// such as Ansible blockinfile's `# BEGIN ANSIBLE MANAGED BLOCK` … `# END …` (any `#` line
/// with BEGIN, closed by the same line with END). A line put inside is deleted by the
/// program's next rewrite (sshguard: its next block or release). A block never closed runs
/// to the end of the file, as its writer would take it.
pub(super) fn managed_regions(doc: &Document) -> Vec<std::ops::Range<usize>> {
    let mut regions = Vec::new();
    let mut sshguard_open: Option<usize> = None;
    let mut begin: Option<(usize, Vec<u8>)> = None;
    for l in doc.lines() {
        let span = l.span();
        if !l.content.starts_with(b"#") {
            continue;
        }
        let text = l.content.trim_ascii_end();
        if text == SSHGUARD_MARK {
            match sshguard_open.take() {
                Some(start) => regions.push(start..span.end),
                None => sshguard_open = Some(span.start),
            }
            continue;
        }
        match &begin {
            Some((start, end_text)) if text == end_text.as_slice() => {
                regions.push(*start..span.end);
                begin = None;
            }
            Some(_) => {}
            None => {
                if let Some(i) = memchr::memmem::find(text, b"BEGIN") {
                    let end_text = [&text[..i], b"END", &text[i + 5..]].concat();
                    begin = Some((span.start, end_text));
                }
            }
        }
    }
    let len = doc.bytes().len();
    regions.extend(sshguard_open.map(|start| start..len));
    regions.extend(begin.map(|(start, _)| start..len));
    regions
}

/// `at` (with its line number), moved up to the first line of a managed region it falls
/// inside, so that the writer's next rewrite keeps the allow rule (it goes above the
/// region, which moves it earlier: still before every rule that may match).
pub(super) fn outside_managed_regions(doc: &Document, (at, line): (usize, u32)) -> (usize, u32) {
    let Some(start) = managed_regions(doc)
        .into_iter()
        .filter(|r| r.start < at && at < r.end)
        .map(|r| r.start)
        .min()
    else {
        return (at, line);
    };
    let line = doc
        .lines()
        .find(|l| l.start == start)
        .map_or(line, |l| l.number);
    (start, line)
}
