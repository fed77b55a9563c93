//! The verdict: would libwrap, inside the daemon, let this client in? (semantics.md §1–§7)
//!
//! Some facts are unknown when we evaluate: the client's host name (unless given), which local
//! address and port the client connected to, what an `aclexec` command will answer, NIS
//! netgroup membership. Each is a yes/no question ([`Pred`]). Evaluation runs concretely and,
//! at an unknown question, first assumes "yes"; afterwards the last "yes" is flipped and the
//! evaluation re-run, until every combination of answers that the files can reach has been
//! tried (a depth-first walk; each answer is remembered so one question gets one answer per
//! run). Host-name answers must also be possible together: [`witness`] looks for a name that
//! gives them all. If every possible run ends the same way, that is the verdict; if not it is
//! `depends`, and the runs say which rules make it so.

use std::borrow::Cow;
use std::collections::HashMap;
use std::path::PathBuf;
use std::rc::Rc;

use crate::client::Client;
use crate::flavor::Flavor;
use crate::options::{self, Accounts, Op, OptionError};
use crate::pattern::{self, PARANOID, UNKNOWN, eq_nocase};
use crate::rootfs::Root;
use crate::syntax::{self, Entry, Rule, Unterminated};
use crate::tables::{FileState, Role, TableFile, Tables};

/// How many runs one verdict may take before we settle for a conservative `depends`.
const MAX_RUNS: usize = 512;
/// `/file` patterns nested deeper than this are treated as the crash they cause in libwrap.
const MAX_FILE_DEPTH: usize = 64;

/// How libwrap is being called.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Inside a daemon on a real connection: server address and port exist but are unknown
    /// to us, aclexec commands run, netgroups may be configured.
    Daemon,
    /// `hosts_ctl()` as a test driver calls it: no sockets, server `unknown`, no NIS.
    HostsCtl,
}

/// Tells whether an aclexec command exits 0 (tests that know the commands supply one).
pub type AclexecOracle = dyn Fn(&[u8]) -> bool + Sync;

/// Everything evaluation needs besides the tables and the request.
pub struct Env<'a> {
    pub flavor: Flavor,
    pub mode: Mode,
    /// `/file` patterns are read under this root.
    pub root: &'a Root,
    pub accounts: &'a (dyn Accounts + Sync),
    /// Known outcome of an aclexec command (true: exit status 0). `None`: unknown.
    pub aclexec: Option<&'a AclexecOracle>,
}

/// A question evaluation cannot answer by itself.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Pred {
    /// `string_match(token, client name)`.
    NameMatches(Vec<u8>),
    /// The client name is a verified one (not `unknown`/`paranoid`): `KNOWN`.
    NameKnown,
    /// The client name is verified and has no dot: `LOCAL`.
    NameLocal,
    /// `daemon@HOST`: the local address or name the client connected to matches HOST.
    ServerHost(Vec<u8>),
    /// A numeric daemon token: the daemon listens on this port.
    ServerPort(u16),
    /// `@group`: the client is in this NIS netgroup.
    Netgroup(Vec<u8>),
    /// `aclexec CMD` exits with status 0.
    AclexecSucceeds(Vec<u8>),
}

impl Pred {
    pub fn is_name(&self) -> bool {
        matches!(
            self,
            Pred::NameMatches(_) | Pred::NameKnown | Pred::NameLocal
        )
    }

    /// The answer in words: "the client's host name matches '.example.com'".
    pub fn describe(&self, yes: bool) -> String {
        let t = syntax::escape;
        let (does, is) = if yes {
            ("", "is")
        } else {
            ("does not ", "is not")
        };
        let s = if yes { "es" } else { "" };
        match self {
            Pred::NameMatches(tok) => format!("the client's host name {does}match{s} '{}'", t(tok)),
            Pred::NameKnown => format!(
                "the client's address {does}resolve{} to a verified host name",
                if yes { "s" } else { "" }
            ),
            Pred::NameLocal => format!("the client's host name {is} a verified name without a dot"),
            Pred::ServerHost(h) => format!(
                "the server address the client connects to {does}match{s} '{}'",
                t(h)
            ),
            Pred::ServerPort(p) => format!("the daemon {is} listening on port {p}"),
            Pred::Netgroup(g) => format!("the client {is} in NIS netgroup '{}'", t(g)),
            Pred::AclexecSucceeds(c) => format!(
                "the command '{}' {}",
                t(c),
                if yes { "exits 0" } else { "fails" }
            ),
        }
    }

    /// The question in words: "whether the client's host name matches '.example.com'".
    pub fn question(&self) -> String {
        format!("whether {}", self.describe(true))
    }
}

/// Where a rule is: table and first physical line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RuleLoc {
    pub role: Role,
    pub line: u32,
}

/// A rule named in a verdict: where it is and its text (logical line, newline removed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleRef {
    pub loc: RuleLoc,
    pub text: Vec<u8>,
}

/// How one evaluation ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum How {
    /// A hosts.allow rule matched.
    AllowRule,
    /// A hosts.deny rule matched.
    DenyRule,
    /// No rule matched in either table.
    NoMatch,
    /// An `allow` option ended the search.
    AllowOption,
    /// A `deny` option ended the search.
    DenyOption,
    /// A `twist` option hands the connection to a command.
    Twist,
    /// The options field of the matching rule is malformed.
    OptionError(OptionError),
    /// A failed aclexec made the matching rule (and the rest of its table) void.
    AclexecVoid,
    /// hosts.deny could not be read to its end (or at all).
    DenyTableError(TableProblem),
    /// libwrap never returns (RHEL 7, over-long line).
    Hang,
    /// A `/file` pattern includes itself: libwrap recurses until it crashes.
    Crash,
    /// An option is over 8 KiB after `%` expansion: libwrap exits the daemon's process.
    Exit,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TableProblem {
    Unterminated(Unterminated),
    Unreadable(String),
}

/// One evaluation's end: access and the rule that decided it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub granted: bool,
    pub how: How,
    pub rule: Option<RuleRef>,
}

/// One answer given to a question during a run, and the rule that asked it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assumption {
    pub pred: Pred,
    pub value: bool,
    pub at: RuleLoc,
    /// Byte offset of that rule in its file.
    pub pos: usize,
}

/// One possible run: its assumptions and what they lead to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub decision: Decision,
    pub assumptions: Vec<Assumption>,
    /// A host name that satisfies the name assumptions (None if there were none, or if none
    /// was found: such a run may be impossible, and is counted only to stay on the safe side).
    pub witness: Option<String>,
    pub proven: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Granted,
    Denied,
    Depends,
}

impl Access {
    pub fn name(self) -> &'static str {
        match self {
            Access::Granted => "granted",
            Access::Denied => "denied",
            Access::Depends => "depends",
        }
    }
}

/// The verdict for one (daemon, client).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub access: Access,
    /// Every possible run (one when nothing was unknown).
    pub outcomes: Vec<Outcome>,
    /// False when the exploration was cut at `MAX_RUNS` (the verdict is then `depends`).
    pub complete: bool,
    /// Index of the run that best explains the verdict.
    primary: usize,
}

impl Verdict {
    /// The run that best explains the verdict: the first proven run with the verdict's
    /// access, or the first run.
    pub fn decision(&self) -> &Decision {
        &self.outcomes[self.primary].decision
    }

    /// Rules whose unknowns make the verdict depend (in file order, each once).
    pub fn dependent_rules(&self) -> Vec<RuleLoc> {
        let mut v: Vec<RuleLoc> = self
            .outcomes
            .iter()
            .flat_map(|o| o.assumptions.iter().map(|a| a.at))
            .collect();
        v.sort();
        v.dedup();
        v
    }
}

/// Evaluate `daemon` for `client`, over every possibility for what is unknown.
pub fn evaluate(tables: &Tables, daemon: &str, client: &Client, env: &Env<'_>) -> Verdict {
    explore(env, daemon, client, |run| run.top(tables, None))
}

/// Entries of each table (byte offset, physical line) that a scan found this (daemon,
/// client) may need: every rule that matches or might, and any entry that ends the table.
pub type Candidates = [Vec<(usize, u32)>; 2];

/// [`evaluate`], looking only at the candidate entries: the same verdict, since every
/// other rule cannot match.
pub fn evaluate_candidates(
    tables: &Tables,
    candidates: &Candidates,
    daemon: &str,
    client: &Client,
    env: &Env<'_>,
) -> Verdict {
    explore(env, daemon, client, |run| run.top(tables, Some(candidates)))
}

/// Concrete one-shot matching for a scan over every rule: an unknown counts as "may match".
pub struct Prober<'p, 'e> {
    env: &'p Env<'e>,
    files: FileCache,
    nobody: Client,
}

/// A probe's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Probe {
    No,
    Yes,
    /// Only if something unknown (a host name, a server address…) turns out so.
    Maybe,
}

impl<'p, 'e> Prober<'p, 'e> {
    pub fn new(env: &'p Env<'e>) -> Self {
        let nobody = Client {
            addr: "unknown".into(),
            name: Some("unknown".into()),
            user: None,
        };
        Prober {
            env,
            files: FileCache::default(),
            nobody,
        }
    }

    fn run(
        &mut self,
        daemon: &str,
        client: Option<&Client>,
        f: impl FnOnce(&mut Run<'_, '_>) -> bool,
    ) -> Probe {
        let client = client.unwrap_or(&self.nobody);
        let mut run = Run::new(self.env, daemon.as_bytes(), client, &[], &mut self.files);
        run.probe = true;
        let matched = f(&mut run) || run.crashed;
        match (matched, run.asked || run.crashed) {
            (false, _) => Probe::No,
            (true, false) => Probe::Yes,
            (true, true) => Probe::Maybe,
        }
    }

    /// Does this daemon list match `daemon`?
    pub fn daemon_list(&mut self, list: &[u8], daemon: &str) -> Probe {
        self.run(daemon, None, |run| {
            run.match_list(&mut syntax::tokens(list), Run::server_match)
        })
    }

    /// Does the rule's daemon list match `daemon`?
    pub fn daemons(&mut self, rule: &Rule<'_>, daemon: &str) -> Probe {
        self.run(daemon, None, |run| {
            run.match_list(&mut syntax::tokens(rule.daemon_list()), Run::server_match)
        })
    }

    /// Does the rule's client list match `client`?
    pub fn clients(&mut self, rule: &Rule<'_>, client: &Client) -> Probe {
        self.run("", Some(client), |run| {
            run.match_list(&mut syntax::tokens(rule.client_list()), Run::client_match)
        })
    }
}

/// Does this one rule's daemon and client lists match (options not run)? As a verdict:
/// `Granted` means "matches", `Denied` "does not", `Depends` "depends on an unknown".
pub fn rule_matches(
    rule: &Rule<'_>,
    role: Role,
    daemon: &str,
    client: &Client,
    env: &Env<'_>,
) -> Access {
    explore(env, daemon, client, |run| {
        let matched = run.rule_matches(rule, role);
        Decision {
            granted: matched,
            how: How::NoMatch,
            rule: None,
        }
    })
    .access
}

/// Run `one` under every combination of answers to the unknowns it asks about.
fn explore(
    env: &Env<'_>,
    daemon: &str,
    client: &Client,
    mut one: impl FnMut(&mut Run<'_, '_>) -> Decision,
) -> Verdict {
    let mut script: Vec<bool> = Vec::new();
    let mut outcomes = Vec::new();
    let mut files = FileCache::default();
    let mut complete = true;
    loop {
        let mut run = Run::new(env, daemon.as_bytes(), client, &script, &mut files);
        let decision = one(&mut run);
        let trail = std::mem::take(&mut run.trail);
        script = std::mem::take(&mut run.script);
        let (witness, proven) = witness(&trail, client, env.flavor);
        outcomes.push(Outcome {
            decision,
            assumptions: trail,
            witness,
            proven,
        });
        // Next combination: flip the last "yes" to "no", forget what came after it.
        while script.last() == Some(&false) {
            script.pop();
        }
        match script.last_mut() {
            Some(last) => *last = false,
            None => break,
        }
        if outcomes.len() >= MAX_RUNS {
            complete = false;
            break;
        }
    }
    let granted = outcomes.iter().any(|o| o.decision.granted);
    let denied = outcomes.iter().any(|o| !o.decision.granted);
    let access = match (granted, denied, complete) {
        (true, false, true) => Access::Granted,
        (false, true, true) => Access::Denied,
        _ => Access::Depends,
    };
    let want = match access {
        Access::Granted => Some(true),
        Access::Denied => Some(false),
        Access::Depends => None,
    };
    let primary = outcomes
        .iter()
        .position(|o| o.proven && want.is_none_or(|w| o.decision.granted == w))
        .unwrap_or(0);
    Verdict {
        access,
        outcomes,
        complete,
        primary,
    }
}

/// Contents of `/file` pattern files, read once per verdict.
#[derive(Default)]
struct FileCache {
    files: HashMap<Vec<u8>, Option<Rc<Vec<u8>>>>,
}

impl FileCache {
    fn get(&mut self, root: &Root, path: &[u8]) -> Option<Rc<Vec<u8>>> {
        self.files
            .entry(path.to_vec())
            .or_insert_with(|| {
                let p = String::from_utf8_lossy(path);
                let host: PathBuf = root.resolve(&p).ok()?;
                std::fs::read(host).ok().map(Rc::new)
            })
            .clone()
    }
}

/// How a table ended for this request.
enum TableEnd {
    Match(RuleRef),
    NoMatch,
    Void(RuleRef),
    Jump(How, bool, RuleRef),
    Error(TableProblem),
    Hang(RuleRef),
    Crash(RuleRef),
}

/// libwrap keeps each request string in a 128-byte field: 127 bytes of text.
const FIELD: usize = 127;

/// The request's strings as libwrap holds them: truncated to their fields, and rewritten in
/// place when an option's `%` expansion sanitizes them.
#[derive(Clone)]
struct Request<'r> {
    daemon: Cow<'r, [u8]>,
    addr: Cow<'r, [u8]>,
    /// `None`: the name is unknown to us (every possibility counts).
    name: Option<Cow<'r, [u8]>>,
    user: Cow<'r, [u8]>,
}

fn field(s: &[u8]) -> Cow<'_, [u8]> {
    Cow::Borrowed(&s[..s.len().min(FIELD)])
}

/// Bytes `percent_x()` keeps in an expansion; any other byte becomes `_`.
fn expansion_ok(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!@%-_=+:,./".contains(&b)
}

fn sanitize(s: &mut Cow<'_, [u8]>) {
    if s.iter().any(|&b| !expansion_ok(b)) {
        *s = Cow::Owned(
            s.iter()
                .map(|&b| if expansion_ok(b) { b } else { b'_' })
                .collect(),
        );
    }
}

/// `percent_x()` writes into an 8192-byte buffer and exits the process at 8191 bytes.
const EXPANSION_LIMIT: usize = 8191;

/// One run of libwrap with fixed answers to the unknowns.
struct Run<'r, 'e> {
    env: &'r Env<'e>,
    req: Request<'r>,
    script: Vec<bool>,
    next: usize,
    answers: HashMap<Pred, bool>,
    trail: Vec<Assumption>,
    at: RuleLoc,
    at_pos: usize,
    files: &'r mut FileCache,
    file_depth: usize,
    crashed: bool,
    /// Debian's global aclexec failure flag: never cleared within one request.
    aclexec_failed: bool,
    /// Probe mode: unknowns are not explored, only noted.
    probe: bool,
    asked: bool,
}

impl<'r, 'e> Run<'r, 'e> {
    fn new(
        env: &'r Env<'e>,
        daemon: &'r [u8],
        client: &'r Client,
        script: &[bool],
        files: &'r mut FileCache,
    ) -> Self {
        let req = Request {
            daemon: field(daemon),
            addr: field(client.addr.as_bytes()),
            name: client.name.as_deref().map(|n| field(n.as_bytes())),
            user: field(client.user().as_bytes()),
        };
        Run {
            env,
            req,
            script: script.to_vec(),
            next: 0,
            answers: HashMap::new(),
            trail: Vec::new(),
            at: RuleLoc {
                role: Role::Allow,
                line: 0,
            },
            at_pos: 0,
            files,
            file_depth: 0,
            crashed: false,
            aclexec_failed: false,
            probe: false,
            asked: false,
        }
    }

    /// The answer to an unknown: remembered, scripted, or a new "yes".
    fn ask(&mut self, pred: Pred) -> bool {
        if self.probe {
            self.asked = true;
            return true;
        }
        if let Some(&v) = self.answers.get(&pred) {
            return v;
        }
        let v = match self.script.get(self.next) {
            Some(&v) => v,
            None => {
                self.script.push(true);
                true
            }
        };
        self.next += 1;
        self.answers.insert(pred.clone(), v);
        self.trail.push(Assumption {
            pred,
            value: v,
            at: self.at,
            pos: self.at_pos,
        });
        v
    }

    /// hosts_access(): allow table, then deny table.
    fn top(&mut self, tables: &Tables, candidates: Option<&Candidates>) -> Decision {
        let decision = |granted, how, rule| Decision { granted, how, rule };
        match self.table(&tables.allow, candidates) {
            TableEnd::Match(r) => return decision(true, How::AllowRule, Some(r)),
            TableEnd::Jump(how, granted, r) => return decision(granted, how, Some(r)),
            TableEnd::Hang(r) => return decision(false, How::Hang, Some(r)),
            TableEnd::Crash(r) => return decision(false, How::Crash, Some(r)),
            TableEnd::NoMatch | TableEnd::Void(_) | TableEnd::Error(_) => {}
        }
        match self.table(&tables.deny, candidates) {
            TableEnd::Match(r) => decision(false, How::DenyRule, Some(r)),
            TableEnd::NoMatch => decision(true, How::NoMatch, None),
            TableEnd::Void(r) => decision(true, How::AclexecVoid, Some(r)),
            TableEnd::Jump(how, granted, r) => decision(granted, how, Some(r)),
            TableEnd::Error(p) => decision(false, How::DenyTableError(p), None),
            TableEnd::Hang(r) => decision(false, How::Hang, Some(r)),
            TableEnd::Crash(r) => decision(false, How::Crash, Some(r)),
        }
    }

    fn rule_matches(&mut self, rule: &Rule<'_>, role: Role) -> bool {
        self.at = RuleLoc {
            role,
            line: rule.logical.line,
        };
        let mut daemons = syntax::tokens(rule.daemon_list());
        let mut clients = syntax::tokens(rule.client_list());
        self.match_list(&mut daemons, Self::server_match)
            && self.match_list(&mut clients, Self::client_match)
    }

    /// table_match(): the first rule whose daemon and client lists both match.
    fn table(&mut self, file: &TableFile, candidates: Option<&Candidates>) -> TableEnd {
        let doc = match &file.state {
            FileState::Missing | FileState::Directory => return TableEnd::NoMatch,
            FileState::Unreadable(e) => {
                return TableEnd::Error(TableProblem::Unreadable(e.clone()));
            }
            FileState::Present(doc) => doc,
        };
        let role = file.role;
        let flavor = self.env.flavor;
        match candidates {
            None => {
                let mut entries = doc.entries(flavor);
                let all = std::iter::from_fn(move || {
                    let (pos, _) = entries.position();
                    entries.next().map(|e| (pos, e))
                });
                self.first_match(role, all)
            }
            Some(c) => {
                let only = c[role as usize].iter().filter_map(|&(pos, line)| {
                    doc.entries_from(flavor, pos, line).next().map(|e| (pos, e))
                });
                self.first_match(role, only)
            }
        }
    }

    fn first_match<'d>(
        &mut self,
        role: Role,
        entries: impl Iterator<Item = (usize, Entry<'d>)>,
    ) -> TableEnd {
        for (pos, entry) in entries {
            self.at_pos = pos;
            let rule = match entry {
                Entry::Rule(rule) => rule,
                Entry::TableError(l, why) => {
                    self.at = RuleLoc { role, line: l.line };
                    return TableEnd::Error(TableProblem::Unterminated(why));
                }
                Entry::Hang(l) => return TableEnd::Hang(rule_ref(role, l.line, &l.text)),
                _ => continue,
            };
            self.at = RuleLoc {
                role,
                line: rule.logical.line,
            };
            let this = || rule_ref(role, rule.logical.line, rule.text());
            let mut daemons = syntax::tokens(rule.daemon_list());
            let daemon_ok = self.match_list(&mut daemons, Self::server_match);
            // A self-including `daemon@/file` crashes libwrap as a client `/file` does.
            if self.crashed {
                return TableEnd::Crash(this());
            }
            if !daemon_ok {
                continue;
            }
            let mut clients = syntax::tokens(rule.client_list());
            let matched = self.match_list(&mut clients, Self::client_match);
            if self.crashed {
                return TableEnd::Crash(this());
            }
            if !matched {
                continue;
            }
            if let Some(field) = rule.options_field() {
                let opts = options::parse(field, self.env.flavor, self.env.accounts);
                for op in &opts.ops {
                    let expanded = match op {
                        Op::Twist(v) | Op::Aclexec(v) | Op::Spawn(v) | Op::Setenv(v) => {
                            v.as_slice()
                        }
                        _ => &[],
                    };
                    if !self.expand(expanded) {
                        return TableEnd::Jump(How::Exit, false, this());
                    }
                    match op {
                        Op::Allow => return TableEnd::Jump(How::AllowOption, true, this()),
                        Op::Deny => return TableEnd::Jump(How::DenyOption, false, this()),
                        Op::Twist(_) => return TableEnd::Jump(How::Twist, false, this()),
                        Op::Aclexec(cmd) => {
                            let ok = match self.env.aclexec {
                                Some(known) => known(cmd),
                                None => self.ask(Pred::AclexecSucceeds(cmd.clone())),
                            };
                            // Each aclexec sets the flag afresh: a later success clears it.
                            self.aclexec_failed = !ok;
                        }
                        Op::Spawn(_) | Op::Setenv(_) | Op::Other => {}
                    }
                }
                if let Some(e) = opts.error {
                    return TableEnd::Jump(How::OptionError(e), false, this());
                }
                if self.aclexec_failed {
                    return TableEnd::Void(this());
                }
            }
            return TableEnd::Match(this());
        }
        TableEnd::NoMatch
    }

    /// list_match(): `a b EXCEPT c EXCEPT d` is `(a or b) and not (c and not d)`.
    fn match_list<'t>(
        &mut self,
        toks: &mut impl Iterator<Item = &'t [u8]>,
        f: fn(&mut Self, &[u8]) -> bool,
    ) -> bool {
        while let Some(tok) = toks.next() {
            if eq_nocase(tok, b"EXCEPT") {
                return false;
            }
            if f(self, tok) {
                loop {
                    match toks.next() {
                        None => return true,
                        Some(t) if eq_nocase(t, b"EXCEPT") => break,
                        Some(_) => {}
                    }
                }
                return !self.match_list(toks, f);
            }
        }
        false
    }

    fn server_match(&mut self, tok: &[u8]) -> bool {
        let (daemon, host) = match syntax::split_at(tok, 1, b'@') {
            Some(i) => (&tok[..i], Some(&tok[i + 1..])),
            None => (tok, None),
        };
        let daemon_ok =
            match pattern::port_token(daemon).filter(|_| self.env.flavor == Flavor::Debian) {
                Some(port) => match self.env.mode {
                    Mode::HostsCtl => false,
                    Mode::Daemon => self.ask(Pred::ServerPort(port)),
                },
                None => pattern::string_match(daemon, &self.req.daemon, self.env.flavor),
            };
        match host {
            Some(host) if daemon_ok => self.server_host_match(host),
            _ => daemon_ok,
        }
    }

    /// host_match() against the server endpoint.
    fn server_host_match(&mut self, host: &[u8]) -> bool {
        match self.env.mode {
            // hosts_ctl(): the server's address and name are both "unknown".
            Mode::HostsCtl => self.host_match(host, UNKNOWN, Some(UNKNOWN)),
            Mode::Daemon if eq_nocase(host, b"ALL") => true,
            Mode::Daemon => self.ask(Pred::ServerHost(host.to_vec())),
        }
    }

    fn client_match(&mut self, tok: &[u8]) -> bool {
        // Cheap copies (borrowed unless an expansion rewrote them) so matching can use self.
        let (addr, name) = (self.req.addr.clone(), self.req.name.clone());
        match syntax::split_at(tok, 1, b'@') {
            None => self.host_match(tok, &addr, name.as_deref()),
            Some(i) => {
                self.host_match(&tok[i + 1..], &addr, name.as_deref())
                    && pattern::string_match(&tok[..i], &self.req.user, self.env.flavor)
            }
        }
    }

    /// `percent_x()` on an option value: false if the result would not fit (libwrap then
    /// exits the process). `%a %h %n %d %u` sanitize the request's own strings in place.
    fn expand(&mut self, value: &[u8]) -> bool {
        let server_len = UNKNOWN.len();
        let mut len = 0;
        let mut i = 0;
        while i < value.len() {
            if value[i] != b'%' || i + 1 == value.len() {
                len += 1;
                i += 1;
                continue;
            }
            let known_name = self
                .req
                .name
                .as_deref()
                .is_some_and(|n| !eq_nocase(n, UNKNOWN) && !eq_nocase(n, PARANOID));
            let hostinfo = if known_name {
                self.req.name.as_deref().unwrap_or_default()
            } else {
                &self.req.addr
            };
            len += match value[i + 1] {
                b'a' => self.req.addr.len(),
                b'h' => hostinfo.len(),
                b'n' => self.req.name.as_deref().map_or(UNKNOWN.len(), <[u8]>::len),
                b'd' => self.req.daemon.len(),
                b'u' => self.req.user.len(),
                b'c' if eq_nocase(&self.req.user, UNKNOWN) => hostinfo.len(),
                b'c' => self.req.user.len() + 1 + hostinfo.len(),
                b's' => self.req.daemon.len(),
                b'A' | b'H' | b'N' => server_len,
                b'p' => 5,
                b'%' => 1,
                _ => 0,
            };
            match value[i + 1] {
                b'a' => sanitize(&mut self.req.addr),
                b'h' if known_name => self.req.name.iter_mut().for_each(sanitize),
                b'h' => sanitize(&mut self.req.addr),
                b'n' => self.req.name.iter_mut().for_each(sanitize),
                b'd' => sanitize(&mut self.req.daemon),
                b'u' => sanitize(&mut self.req.user),
                _ => {}
            }
            i += 2;
        }
        len < EXPANSION_LIMIT
    }

    /// host_match() for the client: `name` None means the name is unknown to us.
    fn host_match(&mut self, tok: &[u8], addr: &[u8], name: Option<&[u8]>) -> bool {
        let known = |n: &[u8]| !eq_nocase(n, UNKNOWN) && !eq_nocase(n, PARANOID);
        if tok.first() == Some(&b'@') {
            return match self.env.mode {
                Mode::HostsCtl => false,
                Mode::Daemon => self.ask(Pred::Netgroup(tok[1..].to_vec())),
            };
        }
        if tok.first() == Some(&b'/') {
            return self.file_match(tok, addr, name);
        }
        if eq_nocase(tok, b"KNOWN") {
            return !eq_nocase(addr, UNKNOWN)
                && match name {
                    Some(n) => known(n),
                    None => self.ask(Pred::NameKnown),
                };
        }
        if eq_nocase(tok, b"LOCAL") {
            return match name {
                Some(n) => !n.contains(&b'.') && known(n),
                None => self.ask(Pred::NameLocal),
            };
        }
        if self.env.flavor == Flavor::Rhel7 && tok.first() == Some(&b'[') {
            return pattern::rhel7_bracket_match(tok, addr);
        }
        if let Some(slash) = syntax::split_at(tok, 0, b'/') {
            return pattern::masked_match(&tok[..slash], &tok[slash + 1..], addr, self.env.flavor);
        }
        if pattern::string_match(tok, addr, self.env.flavor) {
            return true;
        }
        // Digits-and-dots tokens are never compared with names.
        if !pattern::not_inaddr(tok) {
            return false;
        }
        match name {
            Some(n) => pattern::string_match(tok, n, self.env.flavor),
            // A `[v6]` token could only match a name that is an IPv6 literal, and a verified
            // host name never is one (libwrap turns a numeric reverse name into "paranoid").
            None if tok.first() == Some(&b'[') && tok.last() == Some(&b']') => false,
            None => self.ask(Pred::NameMatches(tok.to_vec())),
        }
    }

    /// hostfile_match(): whitespace-separated words, each a host pattern; first match wins.
    fn file_match(&mut self, path: &[u8], addr: &[u8], name: Option<&[u8]>) -> bool {
        if self.file_depth >= MAX_FILE_DEPTH {
            self.crashed = true;
            return false;
        }
        let Some(content) = self.files.get(self.env.root, path) else {
            return false;
        };
        self.file_depth += 1;
        let mut matched = false;
        for word in content.split(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)) {
            if word.is_empty() {
                continue;
            }
            // The word is a C string: a NUL ends it.
            let word = &word[..memchr::memchr(0, word).unwrap_or(word.len())];
            if self.host_match(word, addr, name) {
                matched = true;
                break;
            }
            if self.crashed {
                break;
            }
        }
        self.file_depth -= 1;
        matched
    }
}

fn rule_ref(role: Role, line: u32, text: &[u8]) -> RuleRef {
    let text = text.strip_suffix(b"\n").unwrap_or(text);
    let text = text.strip_suffix(b"\r").unwrap_or(text);
    RuleRef {
        loc: RuleLoc { role, line },
        text: text.to_vec(),
    }
}

/// Find a host name that answers every name question of a run as assumed. Returns the name
/// and whether the run is proven possible (no name questions, or a name was found).
pub fn witness(trail: &[Assumption], client: &Client, flavor: Flavor) -> (Option<String>, bool) {
    let asks: Vec<&Assumption> = trail.iter().filter(|a| a.pred.is_name()).collect();
    if asks.is_empty() {
        return (None, true);
    }
    let holds = |name: &str| {
        asks.iter()
            .all(|a| name_pred(&a.pred, name, client, flavor) == a.value)
    };
    for cand in candidates(&asks) {
        if holds(&cand) {
            return (Some(cand), true);
        }
    }
    (None, false)
}

fn name_pred(p: &Pred, name: &str, client: &Client, flavor: Flavor) -> bool {
    let n = name.as_bytes();
    let known = !eq_nocase(n, UNKNOWN) && !eq_nocase(n, PARANOID);
    match p {
        Pred::NameMatches(tok) => pattern::string_match(tok, n, flavor),
        Pred::NameKnown => known && client.addr != "unknown",
        Pred::NameLocal => known && !n.contains(&b'.'),
        _ => false,
    }
}

/// Names worth trying: the placeholders, the literal names the rules mention, and names
/// built from the prefixes, suffixes and globs the run said yes to.
fn candidates(asks: &[&Assumption]) -> Vec<String> {
    let text = |t: &[u8]| String::from_utf8_lossy(t).into_owned();
    let mut prefixes = vec![String::new()];
    let mut suffixes = vec![String::new()];
    let mut out: Vec<String> = vec!["unknown".into(), "paranoid".into()];
    for a in asks {
        let Pred::NameMatches(tok) = &a.pred else {
            continue;
        };
        let t = text(tok);
        if t.contains('*') || t.contains('?') {
            for fill in ["", "x", "x.x"] {
                out.push(t.replace('*', fill).replace('?', "x"));
            }
        } else if t.starts_with('.') {
            suffixes.push(t);
        } else if t.ends_with('.') {
            prefixes.push(t);
        } else {
            out.push(t.to_ascii_lowercase());
        }
    }
    for p in &prefixes {
        for s in &suffixes {
            for mid in ["wrapfix", "wrapfix.invalid"] {
                out.push(format!("{p}{mid}{s}"));
            }
        }
    }
    out
}
