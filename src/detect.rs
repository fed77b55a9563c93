//! Findings: the lines (and file-level problems) an admin needs to know about, each with a
//! one-sentence message (DESIGN §5).

use std::collections::{BTreeMap, HashSet};

use crate::analysis::TargetVerdict;
use crate::client::Client;
use crate::eval::{self, Access, Env, RuleLoc};
use crate::options::{self, Cause, Op};
use crate::syntax::{Entry, Rule, Unterminated};
use crate::tables::{FileState, Role, Tables};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    BlanketDeny,
    ClientDeny,
    DnsDependent,
    OptionError,
    TableError,
    NotAComment,
    IgnoredLine,
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
    pub role: Option<Role>,
    pub line: Option<u32>,
    pub text: Option<Vec<u8>>,
    pub message: String,
}

/// Physical lines with a NUL byte reported one by one; more are summed up.
const MAX_NUL_LINES: usize = 10;

/// Scan both tables once and collect findings; also count each table's rules.
pub fn findings(tables: &Tables, verdicts: &[TargetVerdict], generic: &Client, env: &Env<'_>) -> (Vec<Finding>, [usize; 2]) {
    // Rules that decide a refusal in some possible run, and those that are the answer for
    // a target that is let in: the severity of a finding follows them.
    let mut refusing: HashSet<RuleLoc> = HashSet::new();
    for tv in verdicts {
        for o in &tv.verdict.outcomes {
            if let (false, Some(r)) = (o.decision.granted, &o.decision.rule) {
                refusing.insert(r.loc);
            }
        }
    }
    let mut out = Vec::new();
    let mut counts = [0usize; 2];
    for file in tables.both() {
        let role = file.role;
        let doc = match &file.state {
            FileState::Missing => continue,
            FileState::Unreadable(e) => {
                out.push(table_error(role, None, None, unreadable_message(role, e)));
                continue;
            }
            FileState::Directory => {
                out.push(table_error(role, None, None, format!("{role} is a directory: libwrap reads it as an empty file.")));
                continue;
            }
            FileState::Present(doc) => doc,
        };
        nul_findings(doc.bytes(), role, &mut out);
        for entry in doc.entries(env.flavor) {
            match entry {
                Entry::Rule(rule) => {
                    counts[role as usize] += 1;
                    rule_findings(&rule, role, verdicts, generic, env, &refusing, &mut out);
                }
                Entry::NoSeparator(l) => out.push(Finding {
                    kind: Kind::IgnoredLine,
                    severity: Severity::Warning,
                    role: Some(role),
                    line: Some(l.line),
                    text: Some(trim_newline(&l.text)),
                    message: "libwrap skips this line: it has no ':' between the daemon list and the client list.".into(),
                }),
                Entry::TableError(l, why) => {
                    let message = match (role, why) {
                        (Role::Deny, Unterminated::MissingNewline | Unterminated::NulByte) => "The last line of hosts.deny has no newline: libwrap stops with an error here and refuses every client no earlier line let in.",
                        (Role::Deny, Unterminated::TooLong) => "This line is longer than libwrap's 2047-byte limit: libwrap stops with an error here and refuses every client no earlier line let in.",
                        (Role::Allow, Unterminated::MissingNewline | Unterminated::NulByte) => "The last line of hosts.allow has no newline: libwrap ignores it.",
                        (Role::Allow, Unterminated::TooLong) => "This line is longer than libwrap's 2047-byte limit: libwrap stops reading hosts.allow here.",
                    };
                    let mut f = table_error(role, Some(l.line), Some(trim_newline(&l.text)), message.into());
                    f.severity = if role == Role::Deny { Severity::Error } else { Severity::Warning };
                    out.push(f);
                }
                Entry::Skipped(l, why) => {
                    let message = match why {
                        Unterminated::MissingNewline => "The last line has no newline: this libwrap build skips it.",
                        Unterminated::TooLong => "This line is longer than libwrap's 2047-byte limit: this libwrap build skips it.",
                        Unterminated::NulByte => "This line has a NUL byte: this libwrap build skips it and the line after it.",
                    };
                    let mut f = table_error(role, Some(l.line), Some(trim_newline(&l.text)), message.into());
                    f.severity = Severity::Warning;
                    out.push(f);
                }
                Entry::Hang(l) => out.push(table_error(
                    role,
                    Some(l.line),
                    Some(trim_newline(&l.text)),
                    "This line is longer than 2047 bytes: RHEL 7's libwrap loops forever on it, so every connection hangs.".into(),
                )),
                Entry::Comment(_) | Entry::Blank(_) => {}
            }
        }
    }
    dns_findings(tables, verdicts, &mut out);
    (out, counts)
}

fn unreadable_message(role: Role, e: &str) -> String {
    match role {
        Role::Deny => format!("hosts.deny cannot be read ({e}): libwrap refuses every client not let in by hosts.allow."),
        Role::Allow => format!("hosts.allow cannot be read ({e}): libwrap ignores it."),
    }
}

fn table_error(role: Role, line: Option<u32>, text: Option<Vec<u8>>, message: String) -> Finding {
    Finding { kind: Kind::TableError, severity: Severity::Error, role: Some(role), line, text, message }
}

fn trim_newline(t: &[u8]) -> Vec<u8> {
    let t = t.strip_suffix(b"\n").unwrap_or(t);
    t.strip_suffix(b"\r").unwrap_or(t).to_vec()
}

fn nul_findings(bytes: &[u8], role: Role, out: &mut Vec<Finding>) {
    if memchr::memchr(0, bytes).is_none() {
        return;
    }
    let doc_lines = crate::syntax::Document::new(bytes.to_vec());
    let with_nul: Vec<_> = doc_lines.lines().filter(|l| l.content.contains(&0)).map(|l| (l.number, l.content.to_vec())).collect();
    for (n, content) in with_nul.iter().take(MAX_NUL_LINES) {
        let mut f = table_error(
            role,
            Some(*n),
            Some(content.clone()),
            "This line has a NUL byte: libwrap drops the rest of the line and joins the next line onto it.".into(),
        );
        f.severity = Severity::Warning;
        out.push(f);
    }
    if with_nul.len() > MAX_NUL_LINES {
        out.push(Finding {
            kind: Kind::TableError,
            severity: Severity::Warning,
            role: Some(role),
            line: None,
            text: None,
            message: format!("{} more lines have NUL bytes.", with_nul.len() - MAX_NUL_LINES),
        });
    }
}

fn rule_findings(
    rule: &Rule<'_>,
    role: Role,
    verdicts: &[TargetVerdict],
    generic: &Client,
    env: &Env<'_>,
    refusing: &HashSet<RuleLoc>,
    out: &mut Vec<Finding>,
) {
    let loc = RuleLoc { role, line: rule.logical.line };
    let decides = refusing.contains(&loc);
    let text = || Some(trim_newline(rule.text()));
    let mut push = |kind, severity, message: String| {
        out.push(Finding { kind, severity, role: Some(role), line: Some(loc.line), text: text(), message });
    };
    let err_or_warn = if decides { Severity::Error } else { Severity::Warning };

    let starts = rule.text();
    let indent = starts.iter().take_while(|&&b| b == b' ' || b == b'\t').count();
    if indent > 0 && starts.get(indent) == Some(&b'#') {
        push(
            Kind::NotAComment,
            err_or_warn,
            "This line starts with a space before '#', so libwrap reads it as a rule, not a comment; put '#' in the first column.".into(),
        );
    }

    let opts = rule.options_field().map(|f| options::parse(f, env.flavor, env.accounts)).unwrap_or_default();
    if let Some(e) = &opts.error {
        let why = match e.cause {
            Cause::InlineComment => "there are no inline comments, so the text after '#' became options".to_string(),
            Cause::ShellCommand => "a shell command in the third field is read as options".to_string(),
            Cause::BareIpv6 => "an IPv6 address without [brackets] splits the line at its colons".to_string(),
            Cause::TrailingColon => "the rule ends with ':' (an empty option)".to_string(),
            Cause::Other => format!("libwrap says: {}", e.message),
        };
        push(
            Kind::OptionError,
            err_or_warn,
            format!("The options of this rule are malformed ({why}): libwrap refuses every client this rule matches, even in hosts.allow."),
        );
    }
    if opts.has_twist() {
        push(
            Kind::Twist,
            err_or_warn,
            "This rule hands matching connections to a command ('twist'): the daemon itself never answers them.".into(),
        );
    }

    // Does a match refuse the client? hosts.deny without `allow`; hosts.allow with `deny`.
    let last = opts.ops.last();
    let refuses = match role {
        Role::Deny => !matches!(last, Some(Op::Allow)),
        Role::Allow => matches!(last, Some(Op::Deny | Op::Twist(_))),
    };
    if !refuses || opts.error.is_some() {
        return;
    }
    let mut daemons: Vec<&str> = verdicts.iter().map(|v| v.target.daemon.as_str()).collect();
    daemons.dedup();
    for daemon in daemons {
        if eval::rule_matches(rule, role, daemon, generic, env) == Access::Granted {
            let severity = if decides { Severity::Error } else { Severity::Info };
            let scope = if role == Role::Allow { " (a ': deny' rule in hosts.allow)" } else { "" };
            push(
                Kind::BlanketDeny,
                severity,
                format!("This rule{scope} refuses {daemon} to every client except those it lists and those let in earlier."),
            );
            return;
        }
    }
    for tv in verdicts {
        let Some(client) = &tv.target.client else { continue };
        if eval::rule_matches(rule, role, &tv.target.daemon, client, env) == Access::Granted {
            let severity = if decides { Severity::Error } else { Severity::Warning };
            let shadow = if decides { "" } else { " (an earlier rule decides first)" };
            push(
                Kind::ClientDeny,
                severity,
                format!("This rule refuses {} from {}{shadow}.", tv.target.daemon, client.addr),
            );
        }
    }
}

/// Rules where a target's verdict turns on its host name.
fn dns_findings(tables: &Tables, verdicts: &[TargetVerdict], out: &mut Vec<Finding>) {
    let mut by_rule: BTreeMap<RuleLoc, Vec<String>> = BTreeMap::new();
    for tv in verdicts {
        for o in &tv.verdict.outcomes {
            for a in o.assumptions.iter().filter(|a| a.pred.is_name()) {
                let who = tv.target.client.as_ref().map_or_else(|| "a client".to_string(), |c| c.addr.clone());
                let d = format!("for {who}: {}", a.pred.question());
                let list = by_rule.entry(a.at).or_default();
                if !list.contains(&d) {
                    list.push(d);
                }
            }
        }
    }
    for (loc, what) in by_rule {
        let text = rule_text(tables, loc);
        out.push(Finding {
            kind: Kind::DnsDependent,
            severity: Severity::Warning,
            role: Some(loc.role),
            line: Some(loc.line),
            text,
            message: format!(
                "This rule turns on reverse DNS ({}); give the client's name with --client ADDRESS=NAME to decide.",
                what.join("; ")
            ),
        });
    }
}

/// The text of the rule at `loc` (a second look, only for the few rules findings name).
fn rule_text(tables: &Tables, loc: RuleLoc) -> Option<Vec<u8>> {
    let doc = tables.get(loc.role).document()?;
    doc.entries(crate::flavor::Flavor::Debian)
        .chain(doc.entries(crate::flavor::Flavor::Rhel6))
        .find(|e| e.logical().line == loc.line)
        .map(|e| trim_newline(&e.logical().text))
}
