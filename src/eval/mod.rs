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

mod run;
mod witness;

pub use witness::witness;

use crate::client::Client;
use crate::flavor::Flavor;
use crate::options::{Accounts, OptionError};
use crate::rootfs::Root;
use crate::syntax::{self, Rule, Unterminated};
use crate::tables::{Role, Tables};
use run::{FileCache, Run};

/// How many runs one verdict may take before we settle for a conservative `depends`.
const MAX_RUNS: usize = 512;

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
        self.daemon_list(rule.daemon_list(), daemon)
    }

    /// Does the rule's client list match `client`?
    pub fn clients(&mut self, rule: &Rule<'_>, client: &Client) -> Probe {
        self.run("", Some(client), |run| {
            run.match_list(&mut syntax::tokens(rule.client_list()), Run::client_match)
        })
    }
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
