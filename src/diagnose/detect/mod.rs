//! Findings: the lines (and file-level problems) an admin needs to know about, each with a
//! one-sentence message (docs/json.md, Findings).

use std::collections::{HashMap, HashSet};

use crate::diagnose::analysis::TargetVerdict;
use crate::eval::{Access, Env, Pred, RuleLoc};
use crate::model::flavor::Flavor;
use crate::model::options::{self, Cause, Op};
use crate::model::syntax::{self, Document, Entry, Rule, Unterminated};
use crate::model::tables::{FileState, Role, TableFile, Tables};

mod finish;
mod rules;

pub use finish::*;
pub use rules::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    BlanketDeny,
    ClientDeny,
    DnsDependent,
    OptionError,
    TableError,
    NotAComment,
    IgnoredLine,
    NeverMatches,
    Twist,
    NotWrapped,
    RefusedClient,
    Writer,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::BlanketDeny => "blanket-deny",
            Kind::ClientDeny => "client-deny",
            Kind::DnsDependent => "dns-dependent",
            Kind::OptionError => "option-error",
            Kind::TableError => "table-error",
            Kind::NotAComment => "not-a-comment",
            Kind::IgnoredLine => "ignored-line",
            Kind::NeverMatches => "never-matches",
            Kind::Twist => "twist",
            Kind::NotWrapped => "not-wrapped",
            Kind::RefusedClient => "refused-client",
            Kind::Writer => "writer",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Severity {
    Error,
    Warning,
    Info,
}

impl Severity {
    pub fn name(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "info",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub kind: Kind,
    pub severity: Severity,
    /// The table the finding is in, if it is in one.
    pub role: Option<Role>,
    /// Another file it is about, on the repaired system (`/usr/sbin/sshd`, a log, a config).
    pub path: Option<String>,
    pub line: Option<u32>,
    pub text: Option<Vec<u8>>,
    pub message: String,
}

/// Physical lines with a NUL byte reported one by one; more are summed up.
const MAX_NUL_LINES: usize = 10;

/// A finding whose severity waits for the verdicts: `decides` if the rule decides a
/// refusal for some target, `otherwise` if not.
#[derive(Debug, Clone)]
pub struct PendingFinding {
    pub finding: Finding,
    pub decides: Severity,
    pub otherwise: Severity,
}

/// A rule that refuses on a match, and a probe (daemon × client) it certainly matches.
#[derive(Debug, Clone)]
pub struct RefusingRule {
    pub loc: RuleLoc,
    pub text: Vec<u8>,
    pub probe: usize,
}

/// What the scan needs to know about a rule besides its findings.
pub struct RuleFacts {
    /// A match refuses the client: hosts.deny without `allow`, hosts.allow with `deny` or
    /// `twist` (malformed options are reported as option-error instead).
    pub refuses: bool,
}

fn pending(finding: Finding, decides: Severity, otherwise: Severity) -> PendingFinding {
    PendingFinding {
        finding,
        decides,
        otherwise,
    }
}

fn fixed(finding: Finding) -> PendingFinding {
    let s = finding.severity;
    pending(finding, s, s)
}

/// File-level problems: unreadable, a directory, NUL bytes.
pub fn file_findings(file: &TableFile, out: &mut Vec<PendingFinding>) {
    let role = file.role;
    match &file.state {
        FileState::Missing => {}
        FileState::Unreadable(e) => out.push(fixed(table_error(
            role,
            None,
            None,
            unreadable_message(role, e),
        ))),
        FileState::Directory => out.push(fixed(table_error(
            role,
            None,
            None,
            format!("{role} is a directory: libwrap reads it as an empty file."),
        ))),
        FileState::Present(doc) => nul_findings(doc, role, out),
    }
}

/// Findings for entries that are not rules.
pub fn entry_findings(entry: &Entry<'_>, role: Role, out: &mut Vec<PendingFinding>) {
    let l = entry.logical();
    let text = || Some(trim_newline(&l.text));
    let f = match entry {
        Entry::NoSeparator(_) => Finding {
            path: None,
            kind: Kind::IgnoredLine,
            severity: Severity::Warning,
            role: Some(role),
            line: Some(l.line),
            text: text(),
            message: "libwrap skips this line: it has no ':' between the daemon list and the client list.".into(),
        },
        Entry::TableError(_, why) => {
            let message = match (role, why) {
                (Role::Deny, Unterminated::TooLong) => "This line is longer than libwrap's 2047-byte limit: libwrap stops with an error here and refuses every client no earlier line let in.",
                (Role::Deny, _) => "The last line of hosts.deny has no newline: libwrap stops with an error here and refuses every client no earlier line let in.",
                (Role::Allow, Unterminated::TooLong) => "This line is longer than libwrap's 2047-byte limit: libwrap stops reading hosts.allow here.",
                (Role::Allow, _) => "The last line of hosts.allow has no newline: libwrap ignores it.",
            };
            let mut f = table_error(role, Some(l.line), text(), message.into());
            f.severity = if role == Role::Deny { Severity::Error } else { Severity::Warning };
            f
        }
        Entry::Skipped(_, why) => {
            let message = match why {
                Unterminated::MissingNewline => "The last line has no newline: this libwrap build skips it.",
                Unterminated::TooLong => "This line is longer than libwrap's 2047-byte limit: this libwrap build skips it.",
                Unterminated::NulByte => "This line has a NUL byte: this libwrap build skips it and the line after it.",
            };
            let mut f = table_error(role, Some(l.line), text(), message.into());
            f.severity = Severity::Warning;
            f
        }
        Entry::Hang(_) => table_error(
            role,
            Some(l.line),
            text(),
            "This line is longer than 2047 bytes: RHEL 7's libwrap loops forever on it, so every connection hangs.".into(),
        ),
        Entry::Rule(_) | Entry::Comment(_) | Entry::Blank(_) => return,
    };
    out.push(fixed(f));
}

fn unreadable_message(role: Role, e: &str) -> String {
    match role {
        Role::Deny => format!(
            "hosts.deny cannot be read ({e}): libwrap refuses every client not let in by hosts.allow."
        ),
        Role::Allow => format!("hosts.allow cannot be read ({e}): libwrap ignores it."),
    }
}

fn table_error(role: Role, line: Option<u32>, text: Option<Vec<u8>>, message: String) -> Finding {
    Finding {
        path: None,
        kind: Kind::TableError,
        severity: Severity::Error,
        role: Some(role),
        line,
        text,
        message,
    }
}

/// A logical line's text without its line ending.
pub fn trim_newline(t: &[u8]) -> Vec<u8> {
    let t = t.strip_suffix(b"\n").unwrap_or(t);
    t.strip_suffix(b"\r").unwrap_or(t).to_vec()
}

fn nul_findings(doc: &Document, role: Role, out: &mut Vec<PendingFinding>) {
    if !doc.has_nul() {
        return;
    }
    let mut count = 0;
    for l in doc.lines().filter(|l| l.content.contains(&0)) {
        count += 1;
        if count <= MAX_NUL_LINES {
            let mut f = table_error(
                role,
                Some(l.number),
                Some(l.content.to_vec()),
                "This line has a NUL byte: libwrap drops the rest of the line and joins the next line onto it.".into(),
            );
            f.severity = Severity::Warning;
            out.push(fixed(f));
        }
    }
    if count > MAX_NUL_LINES {
        out.push(fixed(Finding {
            path: None,
            kind: Kind::TableError,
            severity: Severity::Warning,
            role: Some(role),
            line: None,
            text: None,
            message: format!("{} more lines have NUL bytes.", count - MAX_NUL_LINES),
        }));
    }
}
