//! Findings: the lines (and file-level problems) an admin needs to know about, each with a
//! one-sentence message (docs/json.md, Findings).

use std::collections::{BTreeMap, HashMap, HashSet};

use crate::diagnose::analysis::TargetVerdict;
use crate::eval::{Access, Env, Pred, RuleLoc};
use crate::model::flavor::Flavor;
use crate::model::options::{self, Cause, Op};
use crate::model::syntax::{self, Document, Entry, Rule, Unterminated};
use crate::model::tables::{FileState, Role, TableFile, Tables};

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

/// Findings a rule carries by itself (whoever asks): not-a-comment, option-error, twist.
pub fn rule_findings(
    rule: &Rule<'_>,
    role: Role,
    env: &Env<'_>,
    out: &mut Vec<PendingFinding>,
) -> RuleFacts {
    let line = rule.logical.line;
    let mut push = |kind, message: String| {
        let finding = Finding {
            path: None,
            kind,
            severity: Severity::Warning,
            role: Some(role),
            line: Some(line),
            text: Some(trim_newline(rule.text())),
            message,
        };
        out.push(pending(finding, Severity::Error, Severity::Warning));
    };
    if env.flavor == Flavor::Rhel6 {
        for tok in syntax::tokens(rule.client_list()) {
            if let Some(fix) = rhel6_prefix(tok) {
                push(
                    Kind::NeverMatches,
                    format!(
                        "CentOS 6's libwrap has no /NN prefixes, so '{}' never matches: write {fix}.",
                        syntax::escape(tok)
                    ),
                );
            }
        }
    }
    let text = rule.text();
    let indent = text
        .iter()
        .take_while(|&&b| b == b' ' || b == b'\t')
        .count();
    if indent > 0 && text.get(indent) == Some(&b'#') {
        push(
            Kind::NotAComment,
            "This line starts with a space before '#', so libwrap reads it as a rule, not a comment; put '#' in the first column.".into(),
        );
    }
    let Some(field) = rule.options_field() else {
        return RuleFacts {
            refuses: role == Role::Deny,
        };
    };
    let opts = options::parse(field, env.flavor, env.accounts);
    if let Some(e) = &opts.error {
        // A '#' among the clients means the comment started there and its colon made options.
        let cause = if syntax::tokens(rule.client_list()).any(|t| t.first() == Some(&b'#')) {
            Cause::InlineComment
        } else {
            e.cause
        };
        let why = match cause {
            Cause::InlineComment => {
                "there are no inline comments, so the text after '#' became options".to_string()
            }
            Cause::ShellCommand => {
                "a shell command in the third field is read as options".to_string()
            }
            Cause::BareIpv6 => match bracketed(rule) {
                Some(v6) => format!(
                    "an IPv6 address without [brackets] splits the line at its colons: write {v6}"
                ),
                None => {
                    "an IPv6 address without [brackets] splits the line at its colons".to_string()
                }
            },
            Cause::TrailingColon => "the rule ends with ':' (an empty option)".to_string(),
            Cause::Other => format!("libwrap says: {}", e.message),
        };
        push(
            Kind::OptionError,
            format!(
                "The options of this rule are malformed ({why}): libwrap refuses every client this rule matches, even in hosts.allow."
            ),
        );
    }
    if opts.has_twist() {
        push(
            Kind::Twist,
            "This rule hands matching connections to a command ('twist'): the daemon itself never answers them.".into(),
        );
    }
    let last = opts.ops.last();
    let refuses = opts.error.is_none()
        && match role {
            Role::Deny => !matches!(last, Some(Op::Allow)),
            Role::Allow => matches!(last, Some(Op::Deny | Op::Twist(_))),
        };
    RuleFacts { refuses }
}

/// The bracketed form of the IPv6 address whose colons split this rule: the last word of
/// the client list and the options up to the first separator (`2a06` + `98c0::/29`).
fn bracketed(rule: &Rule<'_>) -> Option<String> {
    let head = syntax::tokens(rule.client_list()).last()?;
    let rest = rule.options_field()?;
    let tail = rest
        .split(|&b| syntax::is_list_sep(b))
        .find(|w| !w.is_empty())
        .unwrap_or_default();
    let literal = String::from_utf8([head, b":", tail].concat()).ok()?;
    let (addr, len) = match literal.split_once('/') {
        Some((a, l)) => (a, Some(l)),
        None => (literal.as_str(), None),
    };
    addr.parse::<std::net::Ipv6Addr>().ok()?;
    Some(match len {
        Some(l) => format!("[{addr}]/{l}"),
        None => format!("[{addr}]"),
    })
}

/// `a.b.c.d/NN`, which CentOS 6 never matches: the dotted mask to write instead.
fn rhel6_prefix(tok: &[u8]) -> Option<String> {
    let host = syntax::split_at(tok, 1, b'@').map_or(tok, |i| &tok[i + 1..]);
    let text = std::str::from_utf8(host).ok()?;
    let (net, len) = text.split_once('/')?;
    let net: std::net::Ipv4Addr = net.parse().ok()?;
    if len.is_empty() || !len.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let len: u32 = len.parse().ok().filter(|l| (1..=32).contains(l))?;
    let mask = std::net::Ipv4Addr::from(u32::MAX << (32 - len));
    Some(format!("{net}/{mask}"))
}

/// More findings of one kind in one file than this are told as one, with the count and the
/// first lines (a ban list of 1,500 `ip #NN` lines is one problem, not 1,500).
const GROUP_OVER: usize = 5;

/// Findings of one kind in one file, more than [`GROUP_OVER`], told as one.
fn group(findings: Vec<Finding>) -> Vec<Finding> {
    let mut counts: HashMap<(Kind, Option<Role>), usize> = HashMap::new();
    for f in &findings {
        if f.line.is_some()
            && matches!(
                f.kind,
                Kind::OptionError
                    | Kind::DnsDependent
                    | Kind::NotAComment
                    | Kind::IgnoredLine
                    | Kind::NeverMatches
            )
        {
            *counts.entry((f.kind, f.role)).or_default() += 1;
        }
    }
    let mut lines: HashMap<(Kind, Option<Role>), Vec<u32>> = HashMap::new();
    for f in &findings {
        let key = (f.kind, f.role);
        if counts.get(&key).is_some_and(|&n| n > GROUP_OVER) {
            lines.entry(key).or_default().extend(f.line);
        }
    }
    let mut out = Vec::with_capacity(findings.len());
    for mut f in findings {
        let key = (f.kind, f.role);
        let Some(ls) = lines.get(&key) else {
            out.push(f);
            continue;
        };
        if f.line != ls.first().copied() {
            continue;
        }
        let shown: Vec<String> = ls.iter().take(8).map(u32::to_string).collect();
        let more = if ls.len() > 8 { ", …" } else { "" };
        f.message = format!(
            "{} rules like this one (lines {}{more}); the first: {}",
            crate::diagnose::explain::count(ls.len()),
            shown.join(", "),
            f.message
        );
        out.push(f);
    }
    out
}

/// Turn what the scan collected into findings, now that the verdicts are known.
/// `generic_probes` are the probes of the generic client (one per daemon); `probe_names`
/// gives each probe's (daemon, client address) for messages.
pub fn finish(
    pending: Vec<PendingFinding>,
    refusals: &[RefusingRule],
    verdicts: &[TargetVerdict],
    generic_probes: &[usize],
    target_probes: &[(usize, String, String)],
    tables: &Tables,
    flavor: Flavor,
) -> Vec<Finding> {
    // Rules that decide a refusal in some possible run.
    let refusing: rustc_hash::FxHashSet<RuleLoc> = verdicts
        .iter()
        .flat_map(|tv| tv.verdict.outcomes.iter())
        .filter(|o| !o.decision.granted)
        .filter_map(|o| o.decision.rule.as_ref().map(|r| r.loc))
        .collect();
    let mut out: Vec<Finding> = pending
        .into_iter()
        .map(|p| {
            let decides = p
                .finding
                .line
                .zip(p.finding.role)
                .is_some_and(|(line, role)| refusing.contains(&RuleLoc { role, line }));
            Finding {
                severity: if decides { p.decides } else { p.otherwise },
                ..p.finding
            }
        })
        .collect();
    // Lookups by probe: there may be thousands of clients and refusals.
    let names: std::collections::HashMap<usize, (&str, &str)> = target_probes
        .iter()
        .map(|(p, d, a)| (*p, (d.as_str(), a.as_str())))
        .collect();
    let generic: HashSet<usize> = generic_probes.iter().copied().collect();
    let mut blanket: HashSet<RuleLoc> = HashSet::new();
    for r in refusals.iter().filter(|r| generic.contains(&r.probe)) {
        if !blanket.insert(r.loc) {
            continue;
        }
        let daemon = names.get(&r.probe).map_or("the daemon", |t| t.0);
        let scope = if r.loc.role == Role::Allow {
            " (a ': deny' rule in hosts.allow)"
        } else {
            ""
        };
        out.push(Finding {
            path: None,
            kind: Kind::BlanketDeny,
            severity: if refusing.contains(&r.loc) { Severity::Error } else { Severity::Info },
            role: Some(r.loc.role),
            line: Some(r.loc.line),
            text: Some(r.text.clone()),
            message: format!("This rule{scope} refuses {daemon} to every client except those it lists and those let in earlier."),
        });
    }
    for r in refusals.iter().filter(|r| !blanket.contains(&r.loc)) {
        let Some(&(daemon, addr)) = names.get(&r.probe).filter(|_| !generic.contains(&r.probe))
        else {
            continue;
        };
        let decides = refusing.contains(&r.loc);
        let shadow = if decides {
            ""
        } else {
            " (an earlier rule decides first)"
        };
        out.push(Finding {
            path: None,
            kind: Kind::ClientDeny,
            severity: if decides {
                Severity::Error
            } else {
                Severity::Warning
            },
            role: Some(r.loc.role),
            line: Some(r.loc.line),
            text: Some(r.text.clone()),
            message: format!("This rule refuses {daemon} from {addr}{shadow}."),
        });
    }
    dns_findings(tables, verdicts, flavor, &mut out);
    group(out)
}

/// Rules where a target's verdict turns on its host name.
fn dns_findings(
    tables: &Tables,
    verdicts: &[TargetVerdict],
    flavor: Flavor,
    out: &mut Vec<Finding>,
) {
    // Per rule, per client: what about its host name the rule asks (words made only for
    // the findings shown one by one: a glob ban list asks on each of 100,000 lines).
    let mut by_rule: BTreeMap<(RuleLoc, usize), BTreeMap<usize, Vec<&Pred>>> = BTreeMap::new();
    let who = |tv: &TargetVerdict| {
        tv.target
            .client
            .as_ref()
            .map_or_else(|| "a client".to_string(), |c| c.addr.clone())
    };
    // Only where the answer changes the verdict: a ban list of globs before `ALL: ALL`
    // asks about the name on every line, but refuses whatever the answer.
    for (i, tv) in verdicts.iter().enumerate() {
        if tv.verdict.access != Access::Depends {
            continue;
        }
        for q in &tv.verdict.questions {
            if !q.pred.is_name() {
                continue;
            }
            let list = by_rule
                .entry((q.at, q.pos))
                .or_default()
                .entry(i)
                .or_default();
            if !list.contains(&&q.pred) {
                list.push(&q.pred);
            }
        }
    }
    let mut per_role: HashMap<Role, usize> = HashMap::new();
    for (loc, _) in by_rule.keys() {
        *per_role.entry(loc.role).or_default() += 1;
    }
    let mut shown: HashSet<Role> = HashSet::new();
    for ((loc, pos), clients) in by_rule {
        // The rest of a group only lends its line number to the first (see `group`).
        if per_role[&loc.role] > GROUP_OVER && !shown.insert(loc.role) {
            out.push(Finding {
                path: None,
                kind: Kind::DnsDependent,
                severity: Severity::Warning,
                role: Some(loc.role),
                line: Some(loc.line),
                text: None,
                message: String::new(),
            });
            continue;
        }
        let asked = |p: &Pred| match p {
            Pred::NameMatches(tok) => format!("matches '{}'", syntax::escape(tok)),
            Pred::NameKnown => "is a verified name (KNOWN)".to_string(),
            _ => "has no dot (LOCAL)".to_string(),
        };
        let what: Vec<String> = clients
            .into_iter()
            .map(|(i, preds)| {
                let words: Vec<String> = preds.into_iter().map(asked).collect();
                format!(
                    "whether the host name of {} {}",
                    who(&verdicts[i]),
                    words.join(" or ")
                )
            })
            .collect();
        let text = tables
            .get(loc.role)
            .document()
            .and_then(|doc| doc.entries_from(flavor, pos, loc.line).next())
            .map(|e| trim_newline(&e.logical().text));
        out.push(Finding {
            path: None,
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

impl Finding {
    /// The file it is in, as the repaired system names it.
    pub fn file(&self) -> Option<&str> {
        self.path.as_deref().or(self.role.map(Role::system_path))
    }
}
