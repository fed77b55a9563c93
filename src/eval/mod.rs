//! The verdict: would libwrap, inside the daemon, let this client in? (docs/semantics.md)
//!
//! Some facts are unknown when we evaluate: the client's host name (unless given), which local
//! address and port the client connected to, what an `aclexec` command will answer, NIS
//! netgroup membership. Each is a yes/no question ([`Pred`]), asked wherever libwrap would
//! look at the fact, inside `EXCEPT` lists included. [`explore`] finds every possible run,
//! rule by rule; a verdict is definite only when every possible run ends the same way, and
//! otherwise `depends`, led by the *plain world*'s run (no name pattern, `daemon@host`,
//! port or netgroup matches).

mod explore;
mod names;
mod percent;
mod run;
mod solve;

use std::sync::Arc;

use crate::model::client::Client;
use crate::model::flavor::Flavor;
use crate::model::options::{Accounts, OptionError};
use crate::model::syntax::{self, Rule, Unterminated};
use crate::model::tables::PerTable;
use crate::model::tables::{Role, Tables};
use crate::rootfs::Root;
use run::{FileCache, Request, Run};

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

/// Bytes of a token in a question: shared, since one question is kept by the world that
/// asked it, the run's facts and the verdict's list of questions.
pub type Token = Arc<[u8]>;

/// A question evaluation cannot answer by itself.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Pred {
    /// `string_match(token, client name)`.
    NameMatches(Token),
    /// `string_match(token, client name)` once `%` expansion has sanitised the name in
    /// place (asked only for tokens with a literal `_`: see `percent::after_sanitize`).
    SanitizedNameMatches(Token),
    /// The client name is a verified one (not `unknown`/`paranoid`): `KNOWN`.
    NameKnown,
    /// The client name is verified and has no dot: `LOCAL`.
    NameLocal,
    /// `daemon@HOST`: the local address or name the client connected to matches HOST.
    ServerHost(Token),
    /// [`Pred::ServerHost`] after `%H` or `%N` may have sanitised the server's name.
    SanitizedServerHost(Token),
    /// A numeric daemon token: the daemon listens on this port.
    ServerPort(u16),
    /// `@group`: the client is in this NIS netgroup.
    Netgroup(Token),
    /// [`Pred::Netgroup`] asked with the client's name as `%` expansion sanitised it.
    SanitizedNetgroup(Token),
    /// `aclexec CMD` exits with status 0.
    AclexecSucceeds(Token),
    /// This option value still fits libwrap's 8 KiB buffer once `%` expansion has put in
    /// the names (it exits the daemon's process if not).
    ExpansionFits(Token),
}

impl Pred {
    pub fn is_name(&self) -> bool {
        matches!(
            self,
            Pred::NameMatches(_)
                | Pred::SanitizedNameMatches(_)
                | Pred::NameKnown
                | Pred::NameLocal
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
            Pred::SanitizedNameMatches(tok) => format!(
                "the client's host name, once % expansion has replaced its odd bytes with '_', {does}match{s} '{}'",
                t(tok)
            ),
            Pred::NameKnown => format!(
                "the client's address {does}resolve{} to a verified host name",
                if yes { "s" } else { "" }
            ),
            Pred::NameLocal => format!("the client's host name {is} a verified name without a dot"),
            Pred::ServerHost(h) => format!(
                "the server address the client connects to {does}match{s} '{}'",
                t(h)
            ),
            Pred::SanitizedServerHost(h) => format!(
                "the server address the client connects to, once % expansion has replaced odd bytes of its name with '_', {does}match{s} '{}'",
                t(h)
            ),
            Pred::ServerPort(p) => format!("the daemon {is} listening on port {p}"),
            Pred::Netgroup(g) => format!("the client {is} in NIS netgroup '{}'", t(g)),
            Pred::SanitizedNetgroup(g) => format!(
                "the client, its host name as % expansion sanitised it, {is} in NIS netgroup '{}'",
                t(g)
            ),
            Pred::AclexecSucceeds(c) => format!(
                "the command '{}' {}",
                t(c),
                if yes { "exits 0" } else { "fails" }
            ),
            Pred::ExpansionFits(v) => format!(
                "the option value '{}' {} libwrap's 8 KiB buffer once the names are put in",
                t(&v[..v.len().min(40)]),
                if yes { "fits" } else { "overflows" }
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

/// One answer given to a question, and the rule that asked it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assumption {
    pub pred: Pred,
    pub value: bool,
    pub at: RuleLoc,
}

/// A question some possible run asks, at the rule that asks it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Question {
    pub pred: Pred,
    pub at: RuleLoc,
    pub pos: usize,
}

/// The answers of one run, newest first, shared with the runs it was split from. Each
/// fact also links the previous "yes", so a run's distinguishing answers are found without
/// walking the thousands of "no" answers a ban list gives.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Fact {
    /// 56 bytes: a ban list of 50,000 name patterns makes 100,000 of them.
    now: Assumption,
    prev: Option<Arc<Fact>>,
    prev_yes: Option<Arc<Fact>>,
}

/// What a run means for the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    Granted,
    /// Refused (or never served: twist, a crash, an exit).
    Denied,
    /// libwrap never returns (RHEL 7, an over-long line): the connection hangs.
    Hangs,
}

/// One possible run: what it leads to, and the answers that lead there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub decision: Decision,
    facts: Option<Arc<Fact>>,
    /// A host name that gives the run's name answers (None if it asks none, or if none was
    /// found: such a run may be impossible, and is counted only to stay on the safe side).
    pub witness: Option<Token>,
    /// False when the run may not exist (no witness found, or combinations were merged).
    pub proven: bool,
    /// This is the plain world's run.
    pub plain: bool,
}

impl Outcome {
    pub fn fate(&self) -> Fate {
        match (&self.decision.how, self.decision.granted) {
            (_, true) => Fate::Granted,
            (How::Hang, false) => Fate::Hangs,
            _ => Fate::Denied,
        }
    }

    /// Every answer of the run, in the order asked. (Thousands for a run that passed a
    /// ban list: see [`Outcome::deciding`] for what tells it apart.)
    pub fn assumptions(&self) -> Vec<Assumption> {
        let mut out = Vec::new();
        let mut at = self.facts.as_deref();
        while let Some(f) = at {
            out.push(f.now.clone());
            at = f.prev.as_deref();
        }
        out.reverse();
        out
    }

    /// What tells this run apart, in the order asked: every "yes" answer, and the answers
    /// given at the rule that decided it: of its "no" answers only the newest
    /// [`DECIDING_NOS`], with how many older ones were left out (a `/file` list of 4,000
    /// names says "no" to every name before the one that matches: run k would list k).
    pub fn deciding(&self) -> (Vec<Assumption>, usize) {
        let mut out = Vec::new();
        let mut left_out = 0;
        let mut nos = 0;
        let last_rule = self.decision.rule.as_ref().map(|r| r.loc);
        // The answers given at the deciding rule (the newest ones).
        let mut at = self.facts.as_deref();
        while let Some(f) = at {
            if Some(f.now.at) != last_rule {
                break;
            }
            if f.now.value || nos < DECIDING_NOS {
                nos += usize::from(!f.now.value);
                out.push(f.now.clone());
            } else {
                left_out += 1;
            }
            at = f.prev.as_deref();
        }
        // Then every earlier "yes".
        let mut yes = match at {
            Some(f) if f.now.value => Some(f),
            Some(f) => f.prev_yes.as_deref(),
            None => None,
        };
        while let Some(f) = yes {
            out.push(f.now.clone());
            yes = f.prev_yes.as_deref();
        }
        out.reverse();
        (out, left_out)
    }
}

/// "No" answers at a run's deciding rule told one by one; the rest are counted.
pub const DECIDING_NOS: usize = 8;

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
    /// Every possible run (one when nothing was unknown), in file order.
    pub outcomes: Vec<Outcome>,
    /// Index of the plain world's run.
    plain: usize,
    /// Every question some run asks, once per rule.
    pub questions: Vec<Question>,
    /// Too many combinations to keep apart: some were merged, and runs after the merge
    /// may be impossible (they are marked unproven). Never a reason to drop a run.
    pub widened: bool,
}

impl Verdict {
    /// The plain world's run: what the report leads with.
    pub fn plain(&self) -> &Outcome {
        &self.outcomes[self.plain]
    }

    /// The plain world's decision.
    pub fn decision(&self) -> &Decision {
        &self.plain().decision
    }

    /// The runs that end otherwise than the plain world's.
    pub fn others(&self) -> impl Iterator<Item = &Outcome> {
        let fate = self.plain().fate();
        self.outcomes.iter().filter(move |o| o.fate() != fate)
    }

    /// Rules whose unknowns make the verdict depend (in file order, each once).
    pub fn dependent_rules(&self) -> Vec<RuleLoc> {
        let mut v: Vec<RuleLoc> = self.questions.iter().map(|q| q.at).collect();
        v.sort();
        v.dedup();
        v
    }
}

impl Decision {
    pub fn new(granted: bool, how: How, rule: Option<RuleRef>) -> Self {
        Decision { granted, how, rule }
    }
}

/// Evaluate `daemon` for `client`, over every possibility for what is unknown.
pub fn evaluate(tables: &Tables, daemon: &str, client: &Client, env: &Env<'_>) -> Verdict {
    explore::explore(tables, None, daemon, client, env)
}

/// The comment strategy's plan for one (daemon, client), in one pass: every rule that
/// refuses it in some world, reading past each as if it were commented out, and the
/// verdict with all of them gone.
pub fn refusers(
    tables: &Tables,
    candidates: Option<&Candidates>,
    daemon: &str,
    client: &Client,
    env: &Env<'_>,
) -> (Verdict, Vec<Refuser>) {
    let only = candidates.filter(|_| run::sanitize_stable(daemon.as_bytes(), client));
    explore::explore_with(tables, only, daemon, client, env, true)
}

pub use explore::Refuser;

/// Entries of each table (byte offset, physical line) that a scan found this (daemon,
/// client) may need: every rule that matches in some world, and any entry that ends the
/// table.
pub type Candidates = PerTable<Vec<(usize, u32)>>;

/// [`evaluate`], looking only at the candidate entries: the same verdict, since no other
/// rule matches in any world. (A request whose strings an option's `%` expansion would
/// rewrite is evaluated on every entry: the scan probed the strings as given.)
pub fn evaluate_candidates(
    tables: &Tables,
    candidates: &Candidates,
    daemon: &str,
    client: &Client,
    env: &Env<'_>,
) -> Verdict {
    let only = run::sanitize_stable(daemon.as_bytes(), client).then_some(candidates);
    explore::explore(tables, only, daemon, client, env)
}

/// The answer `hosts_ctl(daemon, name, addr, user)` gives to a question, with `client`'s
/// name: no socket, so the server is `unknown` and no port matches; no NIS, so no
/// netgroup. (What the differential tests compare our runs with.)
pub fn hosts_ctl_answer(pred: &Pred, daemon: &str, client: &Client, env: &Env<'_>) -> bool {
    let name = client.name.as_deref().unwrap_or("unknown").as_bytes();
    match pred {
        Pred::NameMatches(_)
        | Pred::SanitizedNameMatches(_)
        | Pred::NameKnown
        | Pred::NameLocal => names::answer(pred, &name[..name.len().min(127)], env.flavor),
        // The server is `unknown`: nothing for an expansion to replace.
        Pred::ServerHost(host) | Pred::SanitizedServerHost(host) => {
            let ctl = Env {
                mode: Mode::HostsCtl,
                ..*env
            };
            let mut files = FileCache::default();
            let mut never = |_: Pred| false;
            let req = Request::new(b"", client, Mode::HostsCtl);
            Run::new(&ctl, req, false, &mut files, &mut never).server_host(host)
        }
        Pred::ServerPort(_) | Pred::Netgroup(_) | Pred::SanitizedNetgroup(_) => false,
        Pred::ExpansionFits(value) => {
            let req = Request::new(daemon.as_bytes(), client, Mode::HostsCtl);
            percent::expansion_len(value, &req, Mode::HostsCtl).1 < percent::EXPANSION_LIMIT
        }
        Pred::AclexecSucceeds(cmd) => match env.aclexec {
            Some(known) => known(cmd),
            None => run::aclexec_known(env.root, cmd).unwrap_or(false),
        },
    }
}

/// Does a rule match in some world? For a scan over every rule, one list at a time.
pub struct Prober<'p, 'e> {
    env: &'p Env<'e>,
    files: FileCache,
    nobody: Client,
    /// Nothing known: made once (a probe runs for every rule and client).
    none: explore::Knowledge,
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
            none: explore::Knowledge::default(),
        }
    }

    /// Match one list under every combination of answers: all match, none, or some.
    fn probe(
        &mut self,
        daemon: &str,
        client: Option<&Client>,
        list: &[u8],
        f: fn(&mut Run<'_, '_, '_>, &[u8]) -> bool,
    ) -> Probe {
        let client = client.unwrap_or(&self.nobody);
        let env = self.env;
        let files = &mut self.files;
        // A leaf that matches (or crashes) and one that does not: "it depends" already.
        // (Asked after each leaf: all before the last were alike, so compare it with the
        // first.)
        let mixed = |leaves: &[explore::Answered<(bool, bool)>]| {
            let matters =
                |(_, (matched, crashed)): &explore::Answered<(bool, bool)>| *matched || *crashed;
            leaves
                .first()
                .zip(leaves.last())
                .is_some_and(|(a, b)| matters(a) != matters(b))
        };
        let (leaves, cut) = explore::walk_until(
            &self.none,
            |w| {
                let req = Request::new(daemon.as_bytes(), client, env.mode);
                let mut run = Run::new(env, req, false, files, w);
                let matched = run.match_list(&mut syntax::tokens(list), f);
                (matched, run.crashed)
            },
            mixed,
        );
        if cut {
            return Probe::Maybe;
        }
        let (mut yes, mut no) = (false, false);
        for (_, (matched, crashed)) in &leaves {
            // A crash ends the table: the entry matters to this request.
            yes |= *matched || *crashed;
            no |= !*matched && !*crashed;
        }
        match (yes, no) {
            (true, false) => Probe::Yes,
            (false, true) => Probe::No,
            _ => Probe::Maybe,
        }
    }

    /// Does this daemon list match `daemon`?
    pub fn daemon_list(&mut self, list: &[u8], daemon: &str) -> Probe {
        self.probe(daemon, None, list, |run, tok| run.server_match(tok))
    }

    /// Does the rule's daemon list match `daemon`?
    pub fn daemons(&mut self, rule: &Rule<'_>, daemon: &str) -> Probe {
        self.daemon_list(rule.daemon_list(), daemon)
    }

    /// Does the rule's client list match `client`?
    pub fn clients(&mut self, rule: &Rule<'_>, client: &Client) -> Probe {
        self.probe("", Some(client), rule.client_list(), |run, tok| {
            run.client_match(tok)
        })
    }
}
