//! The mode admins run: a client given without `=NAME`, evaluated as the daemon's libwrap
//! would see it (the host name, the server address and port, netgroups all unknown), judged
//! by the real library once per candidate name: `hosts_access()` on a request built as a
//! daemon's is, the name looked up only when libwrap first needs it (`oracle::daemon_batch`;
//! with `hosts_ctl()`, given the name up front, `%h` would show a name a daemon has not
//! looked up yet).
//!
//! For every generated rule set (with unknown-fact constructs behind `EXCEPT` at depth
//! 1–3) and client:
//! - a definite verdict must be libwrap's for every candidate name;
//! - for every candidate name, the run whose answers that name (and hosts_ctl's world:
//!   server unknown, no port, no netgroup) gives must exist and end as libwrap does;
//! - every run's witness name must give that run's answers, and libwrap with it must end
//!   the same way;
//! - no run may be unproven (a run without a witness could be impossible), except in a
//!   verdict that had to merge combinations (a list of thousands of questions), counted.
//!
//! Knobs as in `differential.rs`: `WRAPFIX_DIFF_CASES` (rule sets per seed, default 400
//! here), `WRAPFIX_DIFF_SEED`.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::time::Instant;

use rustc_hash::FxHashMap as HashMap;
use wrapfix::model::client::Client;

use wrapfix::eval::{self, Access, Assumption, Env, Fate, Pred, Verdict};
use wrapfix::model::flavor::Flavor;

use crate::differential::{ADDRS, Gen, RuleSet, USERS, describe_lists, env_number, seeds};
use crate::support::oracle::{self, OracleCase, OracleVerdict};
use crate::support::{self, Eval, show_table};

const DEFAULT_SETS: usize = 400;
const CLIENTS_PER_SET: usize = 3;
/// Names every unnamed client is also tried with (besides each run's witness).
const NAMES: &[&str] = &[
    "unknown",
    "paranoid",
    "good.example.com",
    "nodots",
    "localhost",
    "x.other.org",
    "host.wrapfix.test",
];
const SHOW_AT_MOST: usize = 12;

fn ours(set: &RuleSet, daemon: &str, client: &Client) -> Verdict {
    // Tests write only /bin/true and /bin/false: wrapfix knows their status itself, so the
    // daemon's evaluator is told no aclexec outcome.
    Eval::daemon(Flavor::Debian).evaluate(set.allow.as_deref(), set.deny.as_deref(), daemon, client)
}

fn fate_of(v: &OracleVerdict) -> Option<Fate> {
    match v {
        OracleVerdict::Granted => Some(Fate::Granted),
        OracleVerdict::Denied | OracleVerdict::NoVerdict(0) | OracleVerdict::Signal(11) => {
            Some(Fate::Denied)
        }
        _ => None,
    }
}

/// hosts_ctl's answers for one client name, asked once per question.
struct World<'e> {
    daemon: String,
    who: Client,
    env: &'e Env<'e>,
    answers: HashMap<Pred, bool>,
}

impl World<'_> {
    fn answer(&mut self, p: &Pred) -> bool {
        if let Some(&v) = self.answers.get(p) {
            return v;
        }
        let v = eval::hosts_ctl_answer(p, &self.daemon, &self.who, self.env);
        self.answers.insert(p.clone(), v);
        v
    }

    /// Does the run give the answers of hosts_ctl's world with this client name?
    fn fits(&mut self, run: &[Assumption]) -> bool {
        run.iter().all(|a| self.answer(&a.pred) == a.value)
    }

    /// The answers of a run this world does not give, for messages.
    fn wrong(&mut self, run: &[Assumption]) -> String {
        run.iter()
            .filter(|a| self.answer(&a.pred) != a.value)
            .map(|a| a.pred.describe(a.value))
            .collect::<Vec<_>>()
            .join("; ")
    }
}

fn named(c: &Client, name: &str) -> Client {
    Client {
        name: Some(name.to_string()),
        ..c.clone()
    }
}

struct Trial {
    set: usize,
    daemon: String,
    client: Client,
    verdict: Verdict,
    names: Vec<String>,
}

#[test]
fn unnamed_clients_get_verdicts_that_hold_for_every_name_libwrap_may_see() {
    if !support::require_libwrap("judges unnamed-client verdicts by the real hosts_ctl()") {
        return;
    }
    let sets = env_number("WRAPFIX_DIFF_CASES", DEFAULT_SETS as u64) as usize;
    check_seeds(&seeds(), sets);
}

/// `sets` generated rule sets per seed, `CLIENTS_PER_SET` unnamed clients each: our verdict
/// must hold for every name the real library is asked with. The caller has made sure
/// the oracle can be built.
pub(crate) fn check_seeds(seeds: &[u64], sets: usize) {
    let scratch = tempfile::Builder::new()
        .prefix("wrapfix-unnamed-")
        .tempdir()
        .expect("temp dir");
    let daemon_eval = Eval::daemon(Flavor::Debian);
    let env = daemon_eval.env();
    let started = Instant::now();
    let (mut verdicts, mut depends, mut runs_checked, mut asked) = (0, 0, 0, 0);
    let (mut eval_time, mut oracle_time) = (0.0, 0.0);
    let mut widened = 0;
    let mut failures: Vec<String> = Vec::new();
    for &seed in seeds {
        let mut g = Gen::new(seed ^ 0x756e_6e61_6d65_6400);
        g.unknowns_in_except = true;
        let mut rule_sets = Vec::new();
        let mut trials = Vec::new();
        for i in 0..sets {
            rule_sets.push(g.rule_set(&scratch.path().join(format!("{seed:x}-{i}"))));
            for _ in 0..CLIENTS_PER_SET {
                let daemon = if g.rng.chance(75) {
                    "sshd"
                } else {
                    "in.telnetd"
                };
                let client = Client {
                    addr: g.rng.pick(ADDRS).to_string(),
                    name: None,
                    user: Some(g.rng.pick(USERS).to_string()),
                };
                let t0 = Instant::now();
                let verdict = ours(&rule_sets[i], daemon, &client);
                eval_time += t0.elapsed().as_secs_f64();
                if std::env::var_os("WRAPFIX_UNNAMED_SLOW").is_some()
                    && t0.elapsed().as_millis() > 200
                {
                    eprintln!(
                        "slow {} ms: {} | {} | {:?}",
                        t0.elapsed().as_millis(),
                        show_table(rule_sets[i].allow.as_deref()),
                        show_table(rule_sets[i].deny.as_deref()),
                        client
                    );
                }
                let mut names: BTreeSet<String> = NAMES.iter().map(|n| n.to_string()).collect();
                // Witnesses made of bytes no DNS name has (words of a binary a `/file` names)
                // cannot be passed as a C string here: they are checked by `run_fits` only.
                names.extend(
                    verdict
                        .outcomes
                        .iter()
                        .filter_map(|o| String::from_utf8(o.witness.as_deref()?.to_vec()).ok()),
                );
                trials.push(Trial {
                    set: i,
                    daemon: daemon.to_string(),
                    client,
                    verdict,
                    names: names.into_iter().collect(),
                });
            }
        }
        let cases: Vec<OracleCase> = trials
            .iter()
            .flat_map(|t| {
                let set = &rule_sets[t.set];
                t.names.iter().map(move |n| OracleCase {
                    allow: set.allow.clone(),
                    deny: set.deny.clone(),
                    daemon: t.daemon.clone(),
                    name: n.clone(),
                    addr: t.client.addr.clone(),
                    user: t.client.user().to_string(),
                })
            })
            .collect();
        asked += cases.len();
        let t0 = Instant::now();
        let theirs = oracle::daemon_batch(&cases);
        oracle_time += t0.elapsed().as_secs_f64();
        let mut answers = theirs.iter();
        for t in &trials {
            verdicts += 1;
            let v = &t.verdict;
            if v.access == Access::Depends {
                depends += 1;
            }
            if v.widened {
                widened += 1;
            }
            let set = &rule_sets[t.set];
            let mut problems: Vec<String> = Vec::new();
            let libwrap: Vec<(String, Option<Fate>)> = t
                .names
                .iter()
                .map(|n| (n.clone(), answers.next().and_then(fate_of)))
                .collect();
            let answers: Vec<Vec<Assumption>> =
                v.outcomes.iter().map(|o| o.assumptions()).collect();
            let mut worlds: HashMap<String, World<'_>> = HashMap::default();
            let world = |name: &str| World {
                daemon: t.daemon.clone(),
                who: named(&t.client, name),
                env: &env,
                answers: HashMap::default(),
            };
            for (name, fate) in &libwrap {
                let Some(fate) = fate else {
                    problems.push(format!("libwrap gave no verdict for name {name:?}"));
                    continue;
                };
                let definite = match v.access {
                    Access::Granted => Some(Fate::Granted),
                    Access::Denied => Some(Fate::Denied),
                    Access::Depends => None,
                };
                if definite.is_some_and(|d| d != *fate) {
                    problems.push(format!(
                        "definite {:?} but libwrap says {fate:?} for name {name:?}",
                        v.access
                    ));
                }
                let w = worlds.entry(name.clone()).or_insert_with(|| world(name));
                // A proven run first: the runs a cut-short walk adds ("may be impossible")
                // stand for combinations it did not try and fit every world.
                let found = (0..answers.len())
                    .find(|&i| v.outcomes[i].proven && w.fits(&answers[i]))
                    .or_else(|| (0..answers.len()).find(|&i| w.fits(&answers[i])));
                match found.map(|i| &v.outcomes[i]) {
                    None => problems.push(format!(
                        "no run covers hosts_ctl's world with name {name:?}"
                    )),
                    Some(o) if o.fate() != *fate => problems.push(format!(
                        "the run for name {name:?} ends {:?} (by {:?}) but libwrap says {fate:?}; its answers: {}",
                        o.fate(),
                        o.decision.rule.as_ref().map(|r| r.loc),
                        o.assumptions()
                            .iter()
                            .map(|a| a.pred.describe(a.value))
                            .collect::<Vec<_>>()
                            .join("; ")
                    )),
                    Some(_) => {}
                }
            }
            for (o, asked) in v.outcomes.iter().zip(&answers) {
                runs_checked += 1;
                // A list with thousands of questions (the words of a program a `/file`
                // names) is explored in part, then over-approximated: counted below.
                if !o.proven {
                    if v.widened {
                        continue;
                    }
                    let said: Vec<String> =
                        asked.iter().map(|a| a.pred.describe(a.value)).collect();
                    problems.push(format!(
                        "an unproven run ending {:?}: {}",
                        o.fate(),
                        said.join("; ")
                    ));
                    continue;
                }
                let Some(w) = o
                    .witness
                    .as_ref()
                    .and_then(|w| String::from_utf8(w.to_vec()).ok())
                else {
                    continue;
                };
                let w = &w;
                let ww = worlds.entry(w.clone()).or_insert_with(|| world(w));
                // Only runs whose other answers are hosts_ctl's world can be replayed.
                let replayable = asked
                    .iter()
                    .all(|a| a.pred.is_name() || ww.answer(&a.pred) == a.value);
                if !replayable {
                    continue;
                }
                if !ww.fits(asked) {
                    problems.push(format!(
                        "witness {} does not give its run's answers: {}",
                        support::escape(w.as_bytes()),
                        ww.wrong(asked)
                    ));
                }
                let theirs = libwrap.iter().find(|(n, _)| n == w).and_then(|x| x.1);
                if theirs != Some(o.fate()) {
                    problems.push(format!(
                        "witness {w:?}: our run ends {:?}, libwrap says {theirs:?}",
                        o.fate()
                    ));
                }
            }
            if !problems.is_empty() {
                let mut s = String::new();
                let _ = write!(
                    s,
                    "\nseed {seed:#x} rule set {}: daemon {} client {} user {}\n  hosts.allow: {}\n  hosts.deny:  {}\n  list files:{}\n  ours: {:?}, {} runs\n  - {}",
                    t.set,
                    t.daemon,
                    t.client.addr,
                    t.client.user(),
                    show_table(set.allow.as_deref()),
                    show_table(set.deny.as_deref()),
                    describe_lists(set, &set.allow, &set.deny),
                    v.access,
                    v.outcomes.len(),
                    problems.join("\n  - ")
                );
                failures.push(s);
            }
        }
    }
    eprintln!(
        "unnamed: seeds {seeds:#x?}: {verdicts} unnamed verdicts ({depends} depends, {widened} widened), {runs_checked} runs, {asked} calls of the real library, {:.1} s ({eval_time:.1} s evaluating, {oracle_time:.1} s in libwrap)",
        started.elapsed().as_secs_f64()
    );
    assert!(
        failures.is_empty(),
        "{} of {verdicts} unnamed verdicts disagree with libwrap (reproduce with WRAPFIX_DIFF_SEED={:#x}):{}",
        failures.len(),
        seeds.last().copied().unwrap_or_default(),
        failures
            .iter()
            .take(SHOW_AT_MOST)
            .cloned()
            .collect::<String>()
    );
}
