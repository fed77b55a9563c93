//! Plans: the smallest edit that lets the targets in, proven by evaluating the planned bytes
//! (docs/write-protocol.md, Plans). Pure: bytes in, bytes out; [`crate::fsops`] does the writing.
//!
//! Every edit replaces whole physical lines at a logical-line boundary, so the rest of the
//! file is kept byte for byte, and records the exact bytes before and after so a rollback
//! can undo just this edit later even if other tools changed the file meanwhile.

use std::collections::BTreeSet;

use crate::cli::Strategy;
use crate::diagnose::analysis::{Analysis, Context};
use crate::eval::{Access, How, Probe, Prober, RuleLoc, TableProblem};
use crate::model::bytes::Bytes;
use crate::model::client::Client;
use crate::model::edit::{EditRecord, RecordKind};
use crate::model::flavor::Flavor;
use crate::model::options::Op;
use crate::model::pattern;
use crate::model::syntax::{self, Document, Entry, Unterminated};
use crate::model::tables::{FileState, Role, TableFile, Tables};

/// One edit: at byte `at` of the original file, `before` (whole lines, possibly empty)
/// becomes `after`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edit {
    pub role: Role,
    pub kind: EditKind,
    pub at: usize,
    /// Physical line (1-based) where the edit starts in the original file.
    pub line: u32,
    pub before: Vec<u8>,
    pub after: Vec<u8>,
    /// Why, in words (also written into the marker line).
    pub why: String,
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

/// A verified plan.
#[derive(Debug, Clone)]
pub struct Plan {
    pub strategy: Strategy,
    pub edits: Vec<Edit>,
    /// The planned bytes of each table (allow, deny); `None` when it does not change.
    pub new: [Option<Vec<u8>>; 2],
    /// The verdicts after the change.
    pub after: Analysis,
    /// What verification covered, in words.
    pub verified: String,
}

/// What planning concluded.
#[derive(Debug)]
pub enum Outcome {
    /// Every target is already granted.
    NothingToDo,
    Plan(Box<Plan>),
    /// No safe plan: why.
    Impossible(String),
}

/// Most clients named in the files that the full verification evaluates one by one.
const MAX_MENTIONED: usize = 2_000;

/// Plan for `before` (the analysis of the current tables). `id` names the change set in
/// the marker lines.
pub fn make(ctx: &Context, before: &Analysis, strategy: Strategy, id: &str) -> Outcome {
    if before.all_granted() {
        return Outcome::NothingToDo;
    }
    let edits = match strategy {
        Strategy::Allow => allow_edits(ctx, before, id),
        Strategy::Comment => comment_edits(ctx, before, id),
    };
    let edits = match edits {
        Ok(e) => e,
        Err(why) => return Outcome::Impossible(why),
    };
    let new = render(&before.tables, &edits);
    // A table that cannot be read is never written, nor one that is not a regular file
    // (a directory, a FIFO) or that has nowhere to be created: no plan that needs one is
    // shown, let alone asked about.
    for role in [Role::Allow, Role::Deny] {
        if let (Some(_), Some(why)) = (&new[role as usize], &before.tables.get(role).unwritable) {
            return Outcome::Impossible(why.clone());
        }
    }
    let planned = planned_tables(&before.tables, &new);
    match check(ctx, before, planned, &edits) {
        Ok((after, verified)) => Outcome::Plan(Box::new(Plan {
            strategy,
            edits,
            new,
            after,
            verified,
        })),
        Err(why) => Outcome::Impossible(why),
    }
}

/// Verify a plan: evaluating the planned bytes, every target is let in for every possible
/// host name; and no one else is refused who was let in before. The second holds by
/// construction for the edits wrapfix makes (see [`refuses_no_one_new`]); where it cannot
/// be shown that way, every client the files name is evaluated before and after. Returns
/// the verdicts after the change and what was checked, in words.
pub(crate) fn check(
    ctx: &Context,
    before: &Analysis,
    planned: Tables,
    edits: &[Edit],
) -> Result<(Analysis, String), String> {
    let after = ctx.after(before, planned, edits);
    targets_let_in(&after)?;
    let words = match refuses_no_one_new(&before.tables, edits, ctx) {
        Ok(why) => format!(
            "every target is let in for any host name (the planned bytes evaluated); no one else is refused who was let in before: {why}"
        ),
        Err(why_not) => {
            let words = verify_full(ctx, &before.tables, &after.tables)?;
            format!("{words} (evaluated one by one: {why_not})")
        }
    };
    Ok((after, words))
}

/// Every target granted in `after`, or why not.
fn targets_let_in(after: &Analysis) -> Result<(), String> {
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
    Ok(())
}

/// Why these edits can refuse no one new, or why that cannot be shown without evaluating.
///
/// - An inserted allow rule `DAEMONS: ADDRESS…` with literal addresses and no options
///   matches only those addresses (an address token is never compared with a host name),
///   and sits before every rule that could match them: every other client reads the rest
///   of the files as before.
/// - A commented-out rule refused every client it matched (hosts.deny without an `allow`
///   option, or hosts.allow with `deny`, `twist` or a bad option) and runs no aclexec:
///   those clients were refused before; everyone else reads the same rules as before.
/// - A final newline added to hosts.deny: libwrap stopped there and refused everyone who
///   reached it; now they read one more rule.
///
/// Lines an edit writes stay within libwrap's 2047 bytes, and a file with a NUL byte (which
/// glues lines) is always evaluated instead.
pub fn refuses_no_one_new(
    tables: &Tables,
    edits: &[Edit],
    ctx: &Context,
) -> Result<&'static str, String> {
    for e in edits {
        if tables.get(e.role).document().is_some_and(Document::has_nul) {
            return Err(format!("{} has a NUL byte", e.role));
        }
        if e.after
            .split_inclusive(|&b| b == b'\n')
            .any(|l| l.len() >= syntax::BUFLEN)
        {
            return Err(format!("an edited line of {} would be too long", e.role));
        }
        let doc = Document::new(match e.kind {
            EditKind::Insert => e.after.clone(),
            _ => e.before.clone(),
        });
        let rules: Vec<Entry<'_>> = doc
            .entries(ctx.flavor)
            .filter(|x| matches!(x, Entry::Rule(_)))
            .collect();
        match e.kind {
            EditKind::FinalNewline => {}
            EditKind::Insert => {
                let [Entry::Rule(r)] = rules.as_slice() else {
                    return Err("the inserted lines are not one rule".into());
                };
                let literal = r.options.is_none()
                    && syntax::tokens(r.client_list()).all(|t| {
                        let inner = t.strip_prefix(b"[").and_then(|t| t.strip_suffix(b"]"));
                        std::str::from_utf8(inner.unwrap_or(t))
                            .is_ok_and(|t| t.parse::<std::net::IpAddr>().is_ok())
                    });
                if !literal {
                    return Err("the inserted rule is not only literal addresses".into());
                }
            }
            EditKind::Comment => {
                for entry in &rules {
                    let Entry::Rule(r) = entry else { continue };
                    if !always_refuses(r, e.role, ctx) {
                        return Err(format!(
                            "{}:{} does not refuse every client it matches",
                            e.role, e.line
                        ));
                    }
                }
            }
        }
    }
    Ok(
        "the plan only adds an allow rule for literal addresses, comments out rules that refused every client they matched, or adds hosts.deny's final newline",
    )
}

/// Does this rule refuse every client it matches, in every world, without an aclexec?
fn always_refuses(r: &syntax::Rule<'_>, role: Role, ctx: &Context) -> bool {
    let Some(field) = r.options_field() else {
        return role == Role::Deny;
    };
    let opts = crate::model::options::parse(field, ctx.flavor, &ctx.accounts);
    if opts
        .ops
        .iter()
        .any(|o| matches!(o, Op::Aclexec(_) | Op::Allow))
    {
        return false;
    }
    match role {
        Role::Deny => true,
        Role::Allow => {
            opts.error.is_some() || matches!(opts.ops.last(), Some(Op::Deny | Op::Twist(_)))
        }
    }
}

/// The old verification, for edits [`refuses_no_one_new`] cannot vouch for: the targets,
/// the generic client and every address and name the files mention (up to
/// [`MAX_MENTIONED`]) evaluated before and after.
pub fn verify_full(ctx: &Context, before: &Tables, after: &Tables) -> Result<String, String> {
    let ctx = ctx.with_extra(mentioned(before, ctx.flavor, MAX_MENTIONED).0);
    let b = ctx.analyse(before.clone());
    let a = ctx.analyse(after.clone());
    verify(&ctx, &b, &a)
}

/// A plan rebased on bytes another program wrote after it was made: the planned bytes
/// `after` against the file as it is now, `now`, evaluated one by one.
pub(crate) fn verify_rebased(
    ctx: &Context,
    now: &Tables,
    after: &Tables,
) -> Result<String, String> {
    let a = ctx.analyse(after.clone());
    targets_let_in(&a)?;
    verify_full(ctx, now, after)
}

/// The tables with the planned bytes in place.
pub fn planned_tables(tables: &Tables, new: &[Option<Vec<u8>>; 2]) -> Tables {
    let file = |f: &TableFile, bytes: &Option<Vec<u8>>| match bytes {
        Some(b) => TableFile {
            state: FileState::Present(Document::new(b.clone())),
            ..f.clone()
        },
        None => f.clone(),
    };
    Tables {
        allow: file(&tables.allow, &new[0]),
        deny: file(&tables.deny, &new[1]),
    }
}

/// Apply edits (any order) to the current bytes of each table.
pub fn render(tables: &Tables, edits: &[Edit]) -> [Option<Vec<u8>>; 2] {
    let mut out: [Option<Vec<u8>>; 2] = [None, None];
    for role in [Role::Allow, Role::Deny] {
        let mut mine: Vec<&Edit> = edits.iter().filter(|e| e.role == role).collect();
        if mine.is_empty() {
            continue;
        }
        mine.sort_by_key(|e| e.at);
        let old = tables.get(role).document().map_or(&[][..], Document::bytes);
        let mut new = Vec::with_capacity(old.len() + 256);
        let mut pos = 0;
        for e in mine {
            // Planning never makes edits that overlap or lie beyond the file (see
            // `settle`); one that did is left out rather than panicking, and the
            // verification of the rendered bytes judges the rest.
            let Some(keep) = old.get(pos..e.at) else {
                continue;
            };
            new.extend_from_slice(keep);
            new.extend_from_slice(&e.after);
            pos = e.at + e.before.len();
        }
        new.extend_from_slice(old.get(pos..).unwrap_or_default());
        out[role as usize] = Some(new);
    }
    out
}

/// The line ending a new line in this file should use: CRLF only if every line has one.
fn terminator(doc: Option<&Document>) -> &'static [u8] {
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

fn marker(id: &str, what: &str, nl: &[u8]) -> Vec<u8> {
    let mut m = format!("# wrapfix {id}: {what}").into_bytes();
    m.extend_from_slice(nl);
    m
}

/// The client token of an allow rule: IPv6 in brackets; IPv4-mapped as plain IPv4 (every
/// flavour compares the text after `::ffff:` with a plain IPv4 token).
fn allow_token(c: &Client) -> String {
    let plain = pattern::strip_v4_mapped(c.addr.as_bytes());
    if plain.len() != c.addr.len() || !c.addr.contains(':') {
        String::from_utf8_lossy(plain).into_owned()
    } else {
        format!("[{}]", c.addr)
    }
}

/// `allow`: one rule for the targets, inserted in hosts.allow before any rule that could
/// match them (or anything that stops libwrap reading), with a marker line above.
fn allow_edits(ctx: &Context, before: &Analysis, id: &str) -> Result<Vec<Edit>, String> {
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
        Some(doc) => outside_managed_regions(doc, insertion_point(ctx, doc, &clients)),
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
        before: Vec::new(),
        after,
        why,
    }])
}

/// Where the allow rule goes: before the first rule that may match a target daemon and
/// client, or the first entry that stops or disturbs reading (an over-long line, a line
/// without newline); else at the end. Always at a logical-line boundary, and never right
/// after a line with a NUL byte (CentOS 6 would swallow the new line).
fn insertion_point(ctx: &Context, doc: &Document, clients: &[&Client]) -> (usize, u32) {
    let env = ctx.env();
    let mut prober = Prober::new(&env);
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
        let may_match = match &entry {
            Entry::Rule(r) => {
                ctx.daemons
                    .iter()
                    .any(|d| prober.daemons(r, d) != Probe::No)
                    && clients.iter().any(|c| prober.clients(r, c) != Probe::No)
            }
            _ => false,
        };
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
const SSHGUARD_MARK: &[u8] = b"###sshguard###";

/// The parts of a table another program rewrites wholesale (byte ranges of whole lines,
/// markers included): sshguard's block between `###sshguard###` lines, and marked blocks
/// such as Ansible blockinfile's `# BEGIN ANSIBLE MANAGED BLOCK` … `# END …` (any `#` line
/// with BEGIN, closed by the same line with END). A line put inside is deleted by the
/// program's next rewrite (sshguard: its next block or release). A block never closed runs
/// to the end of the file, as its writer would take it.
fn managed_regions(doc: &Document) -> Vec<std::ops::Range<usize>> {
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
fn outside_managed_regions(doc: &Document, (at, line): (usize, u32)) -> (usize, u32) {
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

/// `comment`: comment out every rule that refuses a target in some world, found in one pass
/// per target that reads past each as if it were already commented out; and add a missing
/// final newline when that is what refuses them.
fn comment_edits(ctx: &Context, before: &Analysis, id: &str) -> Result<Vec<Edit>, String> {
    let env = ctx.env();
    let mut edits: Vec<Edit> = Vec::new();
    let refused = before
        .verdicts
        .iter()
        .zip(&before.candidates)
        .filter(|(tv, _)| tv.verdict.access != Access::Granted);
    for (tv, candidates) in refused {
        let who = tv
            .target
            .client
            .as_ref()
            .map_or("any client".to_string(), |c| c.addr.clone());
        let daemon = &tv.target.daemon;
        let (after, refusers) = crate::eval::refusers(
            &before.tables,
            Some(candidates),
            daemon,
            &tv.evaluated,
            &env,
        );
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
                    id,
                    &format!("it refused {daemon} to {who}"),
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
fn settle(mut edits: Vec<Edit>) -> Vec<Edit> {
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

/// Comment out every physical line of the rule at `loc`, with a marker line above.
fn comment_rule(
    tables: &Tables,
    loc: RuleLoc,
    pos: usize,
    flavor: Flavor,
    id: &str,
    why: &str,
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
    let before = bytes[start..end].to_vec();
    let nl = if before.ends_with(b"\r\n") {
        &b"\r\n"[..]
    } else {
        &b"\n"[..]
    };
    let mut after = marker(id, &format!("commented out: {why}"), nl);
    for line in before.split_inclusive(|&b| b == b'\n') {
        after.push(b'#');
        after.extend_from_slice(line);
    }
    if !after.ends_with(b"\n") {
        after.extend_from_slice(nl);
    }
    Some(Edit {
        role: loc.role,
        kind: EditKind::Comment,
        at: start,
        line: loc.line,
        before,
        after,
        why: why.into(),
    })
}

/// Add the missing final newline of hosts.deny (Debian stops with an error without it).
fn final_newline(tables: &Tables, id: &str) -> Option<Edit> {
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

/// Clients the tables name: literal addresses, the network address of each net/mask,
/// `[v6]` addresses, and literal host names (with a stand-in address). At most `limit`;
/// the flag says whether there were more.
pub fn mentioned(tables: &Tables, flavor: Flavor, limit: usize) -> (Vec<Client>, bool) {
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for file in tables.both() {
        let Some(doc) = file.document() else { continue };
        for entry in doc.entries(flavor) {
            let Entry::Rule(rule) = entry else { continue };
            for tok in syntax::tokens(rule.client_list()) {
                let host = syntax::split_at(tok, 1, b'@').map_or(tok, |i| &tok[i + 1..]);
                let Some(c) = client_of(host, flavor) else {
                    continue;
                };
                if seen.insert((c.addr.clone(), c.name.clone())) {
                    if out.len() == limit {
                        return (out, true);
                    }
                    out.push(c);
                }
            }
        }
    }
    (out, false)
}

fn client_of(tok: &[u8], flavor: Flavor) -> Option<Client> {
    let text = std::str::from_utf8(tok).ok()?;
    let net = text.split('/').next().unwrap_or(text);
    let inner = net
        .strip_prefix('[')
        .and_then(|s| s.strip_suffix(']'))
        .unwrap_or(net);
    if let Ok(ip) = inner.parse::<std::net::IpAddr>() {
        return Some(Client {
            addr: crate::model::client::libwrap_text(ip, flavor),
            name: None,
            user: None,
        });
    }
    let special = ["ALL", "KNOWN", "UNKNOWN", "LOCAL", "PARANOID", "EXCEPT"];
    let is_name = pattern::not_inaddr(tok)
        && !special.iter().any(|s| s.eq_ignore_ascii_case(text))
        && !text.starts_with(['.', '/', '@', '['])
        && !text.ends_with('.')
        && !text.contains(['*', '?', '/', ':']);
    is_name.then(|| Client {
        addr: "192.0.2.1".into(),
        name: Some(text.to_ascii_lowercase()),
        user: None,
    })
}

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
        let mut out = Vec::with_capacity(base.len() + 256);
        let mut pos = 0;
        for (offset, e) in at {
            out.extend_from_slice(base.get(pos..*offset).ok_or_else(overlap)?);
            out.extend_from_slice(&e.after);
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

/// The edits of one file as the change set records them (what [`revert`] reads back).
pub fn records(edits: &[Edit], role: Role) -> Vec<EditRecord> {
    edits
        .iter()
        .filter(|e| e.role == role)
        .map(|e| EditRecord {
            kind: e.kind.record(),
            line: u64::from(e.line),
            before: Bytes::from(e.before.as_slice()),
            after: Bytes::from(e.after.as_slice()),
            next: None,
            why: e.why.clone(),
        })
        .collect()
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
fn find_at_line_start(hay: &[u8], needle: &[u8], line: u64) -> Option<usize> {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn edit(kind: EditKind, line: u32, before: &[u8], after: &[u8]) -> Edit {
        Edit {
            role: Role::Deny,
            kind,
            at: 0,
            line,
            before: before.to_vec(),
            after: after.to_vec(),
            why: String::new(),
        }
    }

    #[test]
    fn revert_undoes_only_our_edits_and_keeps_appended_bans() {
        let edits = records(
            &[edit(
                EditKind::Comment,
                2,
                b"ALL: ALL\n",
                b"# wrapfix X: m\n#ALL: ALL\n",
            )],
            Role::Deny,
        );
        let now = b"a\n# wrapfix X: m\n#ALL: ALL\nALL: 192.0.2.9\n";
        assert_eq!(
            revert("/etc/hosts.deny", now, Some(&edits)).unwrap(),
            b"a\nALL: ALL\nALL: 192.0.2.9\n"
        );
    }

    #[test]
    fn revert_refuses_when_our_lines_are_gone() {
        let edits = records(
            &[edit(
                EditKind::Insert,
                1,
                b"",
                b"# wrapfix X: m\nsshd: 10.0.0.1\n",
            )],
            Role::Deny,
        );
        assert!(revert("/etc/hosts.allow", b"sshd: 10.0.0.2\n", Some(&edits)).is_err());
        assert_eq!(
            revert(
                "/etc/hosts.allow",
                b"# wrapfix X: m\nsshd: 10.0.0.1\nx\n",
                Some(&edits)
            )
            .unwrap(),
            b"x\n"
        );
    }

    #[test]
    fn a_final_newline_is_taken_back_only_while_it_is_last() {
        let edits = records(
            &[edit(EditKind::FinalNewline, 3, b"ALL: ALL", b"ALL: ALL\n")],
            Role::Deny,
        );
        assert_eq!(
            revert("/etc/hosts.deny", b"a\nALL: ALL\n", Some(&edits)).unwrap(),
            b"a\nALL: ALL"
        );
        assert!(
            revert(
                "/etc/hosts.deny",
                b"a\nALL: ALL\nALL: 1.2.3.4\n",
                Some(&edits)
            )
            .is_err()
        );
    }

    #[test]
    fn rebase_keeps_bans_appended_meanwhile_and_anchors_on_content() {
        let original = b"# h\nALL: ALL\n";
        let e = Edit {
            role: Role::Deny,
            kind: EditKind::Comment,
            at: 4,
            line: 2,
            before: b"ALL: ALL\n".to_vec(),
            after: b"# m\n#ALL: ALL\n".to_vec(),
            why: String::new(),
        };
        let appended = b"# h\nALL: ALL\nALL: 192.0.2.1\n";
        assert_eq!(
            rebase(std::slice::from_ref(&e), Role::Deny, original, appended).unwrap(),
            b"# h\n# m\n#ALL: ALL\nALL: 192.0.2.1\n"
        );
        let shifted = b"ALL: 192.0.2.7\n# h\nALL: ALL\n";
        assert_eq!(
            rebase(std::slice::from_ref(&e), Role::Deny, original, shifted).unwrap(),
            b"ALL: 192.0.2.7\n# h\n# m\n#ALL: ALL\n"
        );
        assert!(rebase(std::slice::from_ref(&e), Role::Deny, original, b"# h\n").is_err());
        // Two edits of identical rules, one of the rules gone since: both would anchor on
        // the one left.
        let mut twice = e.clone();
        twice.at = 13;
        twice.line = 3;
        let original = b"# h\nALL: ALL\nALL: ALL\n";
        assert!(rebase(&[e, twice], Role::Deny, original, b"x\n# h\nALL: ALL\n").is_err());
    }

    /// Issue 9 item 13: a rule continued onto an unterminated last line got a comment edit
    /// and a final-newline edit over the same bytes, and render panicked on the overlap.
    #[test]
    fn overlapping_edits_are_merged_and_never_rendered_twice() {
        let bytes = b"sshd: ALL \\\n EXCEPT 10.0.0.1";
        let mut newline = edit(
            EditKind::FinalNewline,
            2,
            b" EXCEPT 10.0.0.1",
            b" EXCEPT 10.0.0.1\n",
        );
        newline.at = 12;
        let mut comment = edit(
            EditKind::Comment,
            1,
            bytes,
            b"# m\n#sshd: ALL \\\n# EXCEPT 10.0.0.1\n",
        );
        comment.at = 0;
        assert_eq!(
            settle(vec![newline.clone(), comment.clone()]),
            vec![comment.clone()],
            "the comment ends the line too"
        );
        assert_eq!(
            settle(vec![comment.clone(), newline.clone()]),
            vec![comment.clone()]
        );
        let tables = Tables::from_bytes(None, Some(bytes));
        // Even edits that overlap (which planning never makes) render without a panic.
        let both = [newline, comment];
        assert!(render(&tables, &both)[1].is_some());
    }

    #[test]
    fn managed_regions_are_found_and_insertions_move_above_them() {
        let doc = Document::new(
            b"sshd: 10.0.0.9\n###sshguard###\nALL : 192.0.2.1 : DENY\n###sshguard###\n# BEGIN ANSIBLE MANAGED BLOCK\nALL: ALL: DENY\n# END ANSIBLE MANAGED BLOCK\n".to_vec(),
        );
        let regions = managed_regions(&doc);
        assert_eq!(regions, vec![15..68, 68..141], "{regions:?}");
        // Inside sshguard's block: above its first marker, on line 2.
        assert_eq!(outside_managed_regions(&doc, (30, 3)), (15, 2));
        assert_eq!(outside_managed_regions(&doc, (98, 6)), (68, 5));
        // At a region's first line or outside it: unchanged.
        assert_eq!(outside_managed_regions(&doc, (15, 2)), (15, 2));
        assert_eq!(outside_managed_regions(&doc, (0, 1)), (0, 1));
        // An unclosed block runs to the end.
        let open = Document::new(b"###sshguard###\nALL : 192.0.2.1 : DENY\n".to_vec());
        assert_eq!(outside_managed_regions(&open, (15, 2)), (0, 1));
    }

    #[test]
    fn non_utf8_edits_round_trip_through_the_manifest() {
        let recorded = records(
            &[edit(
                EditKind::Comment,
                1,
                b"ALL: \xff\n",
                b"# m\n#ALL: \xff\n",
            )],
            Role::Deny,
        );
        let json = serde_json::to_string(&recorded).unwrap();
        assert!(json.contains(r#""after":{"hex":"#), "{json}");
        let edits: Vec<EditRecord> = serde_json::from_str(&json).unwrap();
        assert_eq!(edits, recorded);
        assert_eq!(
            revert("/etc/hosts.deny", b"# m\n#ALL: \xff\n", Some(&edits)).unwrap(),
            b"ALL: \xff\n"
        );
    }

    #[test]
    fn a_damaged_edit_record_is_refused_not_guessed() {
        // Before the records were typed, an unknown kind or a missing line number became
        // kind "" or line 1 and was applied anyway.
        let good = r#"{"kind":"insert","line":1,"before":"","after":"sshd: 10.0.0.1\n","why":"w"}"#;
        assert!(serde_json::from_str::<EditRecord>(good).is_ok());
        for bad in [
            good.replace("insert", "rewrite"),
            good.replace(r#""line":1,"#, ""),
            good.replace(r#""before":"""#, r#""before":{"hex":"zz"}"#),
            good.replace(r#""why":"w""#, r#""why":"w","extra":1"#),
        ] {
            assert!(serde_json::from_str::<EditRecord>(&bad).is_err(), "{bad}");
        }
        assert_eq!(
            revert("/etc/hosts.allow", b"x\n", None),
            Err("the manifest has no edit list for /etc/hosts.allow".to_string())
        );
    }
}
