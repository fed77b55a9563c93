//! Everything wrapfix knows about a system before it plans: the tables, the (daemon, client)
//! targets with their verdicts, and the findings.

use crate::config::Config;
use crate::diagnose::detect::{self, Finding};
use crate::diagnose::logs::Refused;
use crate::diagnose::scan;
use std::sync::Arc;

use crate::eval::{self, Access, Candidates, Env, Mode, Refuser, Verdict};
use crate::model::accounts::FileAccounts;
use crate::model::client::Client;
use crate::model::edit::{Edit, EditKind};
use crate::model::flavor::Flavor;
use crate::model::syntax::Entry;
use crate::model::tables::PerTable;
use crate::model::tables::{Role, Tables};
use crate::rootfs::Root;

/// One (daemon, client) question.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub daemon: String,
    /// The client asked about; `None` for the generic client.
    pub client: Option<Client>,
}

#[derive(Debug, Clone)]
pub struct TargetVerdict {
    pub target: Target,
    /// The client actually evaluated (the generic client's stand-in address and name).
    pub evaluated: Client,
    pub verdict: Verdict,
}

/// The state of one system.
#[derive(Debug, Clone)]
pub struct Analysis {
    pub tables: Tables,
    pub verdicts: Vec<TargetVerdict>,
    pub findings: Vec<Finding>,
    /// Rules per table, as libwrap reads them (allow, deny).
    pub rule_counts: PerTable<usize>,
    pub generic: Client,
    /// Verdicts for [`Context::extra`] and every stand-in client, per daemon, in a fixed
    /// order: what plan verification compares before and after a change.
    pub extra: Vec<TargetVerdict>,
    /// The entries the scan found each of `verdicts` may need (same order), and the
    /// generic client's per daemon: a plan's verdicts are worked out from these, moved to
    /// where the edits put them, without scanning the tables again.
    pub candidates: Vec<Candidates>,
    pub generic_candidates: Vec<Candidates>,
    /// With [`Context::refusers_ahead`] and a single target: what
    /// [`eval::refusers`] gives for `verdicts[0]`, found alongside its verdict.
    pub refusers: Option<Arc<(Verdict, Vec<Refuser>)>>,
}

impl Analysis {
    pub fn all_granted(&self) -> bool {
        self.verdicts
            .iter()
            .all(|v| v.verdict.access == Access::Granted)
    }
}

/// What evaluation needs from the configuration.
pub struct Context {
    pub flavor: Flavor,
    pub root: Root,
    pub accounts: FileAccounts,
    pub daemons: Vec<String>,
    pub clients: Vec<Client>,
    /// More clients to evaluate for verification only (the addresses and names the files
    /// mention); their verdicts go to [`Analysis::extra`], not into reports.
    pub extra: Vec<Client>,
    /// A comment plan comes next: for a single target, find the rules that refuse it
    /// ([`Analysis::refusers`]) on a second thread while its verdict is explored. The two
    /// explorations are independent, and the plan's was an eighth of a 100,000-rule run.
    pub refusers_ahead: bool,
}

impl Context {
    pub fn from_config(config: &Config) -> Self {
        Context {
            flavor: config.flavor.flavor,
            root: config.root.clone(),
            accounts: FileAccounts::load(&config.root),
            daemons: config.daemons.clone(),
            clients: config.clients.clone(),
            extra: Vec::new(),
            refusers_ahead: false,
        }
    }

    /// The same context, evaluating `extra` clients too (for the full verification).
    pub fn with_extra(&self, extra: Vec<Client>) -> Context {
        Context {
            flavor: self.flavor,
            root: self.root.clone(),
            accounts: self.accounts.clone(),
            daemons: self.daemons.clone(),
            clients: self.clients.clone(),
            extra,
            refusers_ahead: false,
        }
    }

    pub fn env(&self) -> Env<'_> {
        Env {
            flavor: self.flavor,
            mode: Mode::Daemon,
            root: &self.root,
            accounts: &self.accounts,
            aclexec: None,
        }
    }

    /// Verdicts and findings for these tables: one scan, then each verdict from its
    /// candidate entries.
    pub fn analyse(&self, tables: Tables) -> Analysis {
        let env = self.env();
        let stand_ins = stand_ins();
        let probed: Vec<Client> = self
            .clients
            .iter()
            .chain(&self.extra)
            .chain(&stand_ins)
            .cloned()
            .collect();
        let n = probed.len();
        let scan = scan::scan(&tables, &self.daemons, &probed, &env);
        let first_stand_in = self.clients.len() + self.extra.len();
        let generic_at = first_stand_in
            + (0..stand_ins.len())
                .find(|&i| !scan.mentioned[first_stand_in + i])
                .unwrap_or(0);
        let generic = probed[generic_at].clone();
        let asked: Vec<(Option<&Client>, usize)> = if self.clients.is_empty() {
            vec![(None, generic_at)]
        } else {
            self.clients
                .iter()
                .enumerate()
                .map(|(i, c)| (Some(c), i))
                .collect()
        };
        // The verdict of probe (daemon d, client at), from its candidate entries.
        let verdict_of = |d: usize, at: usize, client: Option<&Client>| TargetVerdict {
            target: Target {
                daemon: self.daemons[d].clone(),
                client: client.cloned(),
            },
            evaluated: probed[at].clone(),
            verdict: eval::evaluate_candidates(
                &tables,
                scan.probe(d, at, n),
                &self.daemons[d],
                &probed[at],
                &env,
            ),
        };
        let mut names = Vec::new();
        let mut candidates = Vec::new();
        let mut jobs = Vec::new();
        for (d, daemon) in self.daemons.iter().enumerate() {
            for &(client, at) in &asked {
                names.push((d * n + at, daemon.clone(), probed[at].addr.clone()));
                candidates.push(scan.probe(d, at, n).clone());
                jobs.push((d, at, client));
            }
        }
        let ahead = match jobs[..] {
            [(d, at, _)] if self.refusers_ahead => Some((d, at)),
            _ => None,
        };
        let (verdicts, refusers) = std::thread::scope(|s| {
            let refusers = ahead.map(|(d, at)| {
                let (tables, scan, probed, env) = (&tables, &scan, &probed, &env);
                s.spawn(move || {
                    let candidates = Some(scan.probe(d, at, n));
                    eval::refusers(tables, candidates, &self.daemons[d], &probed[at], env)
                })
            });
            let verdicts = par_map(&jobs, |&(d, at, client)| verdict_of(d, at, client));
            let refusers = refusers
                .map(|h| Arc::new(h.join().unwrap_or_else(|e| std::panic::resume_unwind(e))));
            (verdicts, refusers)
        });
        let mut extra = Vec::new();
        for d in 0..self.daemons.len() {
            for (at, client) in probed.iter().enumerate().skip(self.clients.len()) {
                extra.push(verdict_of(d, at, Some(client)));
            }
        }
        let generic_probes: Vec<usize> = (0..self.daemons.len())
            .map(|d| d * n + generic_at)
            .collect();
        let generic_candidates = generic_probes
            .iter()
            .map(|&p| scan.candidates[p].clone())
            .collect();
        for &p in &generic_probes {
            if !names.iter().any(|t| t.0 == p) {
                names.push((p, self.daemons[p / n].clone(), generic.addr.clone()));
            }
        }
        let findings = detect::finish(
            scan.pending,
            &scan.refusals,
            &verdicts,
            &generic_probes,
            &names,
            &tables,
            self.flavor,
        );
        Analysis {
            tables,
            verdicts,
            findings,
            rule_counts: scan.rule_counts,
            extra,
            generic,
            candidates,
            generic_candidates,
            refusers,
        }
    }

    /// [`Context::analyse`], with the findings from beyond the tables ([`diagnostics`]:
    /// the sshd program, the writers, the logs) made meanwhile on another thread; those
    /// are also returned, to go with a later analysis of the same system.
    pub fn analyse_system(&self, tables: Tables) -> (Analysis, Diagnostics) {
        let (mut analysis, diagnostics) = std::thread::scope(|s| {
            let others = s.spawn(|| diagnostics(&self.root, &self.daemons, &tables));
            let analysis = self.analyse(tables.clone());
            let found = others
                .join()
                .unwrap_or_else(|e| std::panic::resume_unwind(e));
            (analysis, found)
        });
        analysis
            .findings
            .extend(diagnostics.findings.iter().cloned());
        (analysis, diagnostics)
    }

    /// The verdicts of the targets and of the generic client after a change: `planned`
    /// are `before`'s tables with `edits` made. Each is explored from `before`'s candidate
    /// entries, moved to where the edits put them, plus the entries the edits wrote (no
    /// second scan: an edit comments rules out or writes new lines, and can make no other
    /// rule match). Tables with a NUL byte, whose lines an edit could glue differently,
    /// are explored whole.
    pub fn after(&self, before: &Analysis, planned: Tables, edits: &[Edit]) -> Analysis {
        let env = self.env();
        let moved = |c: &Candidates| -> Option<Candidates> {
            let mut out: Candidates = Default::default();
            for role in Role::BOTH {
                let doc = planned.get(role).document();
                if doc.is_some_and(|d| d.has_nul())
                    || before
                        .tables
                        .get(role)
                        .document()
                        .is_some_and(|d| d.has_nul())
                {
                    return None;
                }
                let mine: Vec<&Edit> = edits.iter().filter(|e| e.role == role).collect();
                out[role] = move_candidates(&c[role], &mine, doc, self.flavor);
            }
            Some(out)
        };
        let verdict = |target: Target, evaluated: Client, c: &Candidates| TargetVerdict {
            verdict: match moved(c) {
                Some(c) => {
                    eval::evaluate_candidates(&planned, &c, &target.daemon, &evaluated, &env)
                }
                None => eval::evaluate(&planned, &target.daemon, &evaluated, &env),
            },
            target,
            evaluated,
        };
        let verdicts = before
            .verdicts
            .iter()
            .zip(&before.candidates)
            .map(|(tv, c)| verdict(tv.target.clone(), tv.evaluated.clone(), c))
            .collect();
        // The generic client, per daemon (what the screens compare).
        let extra = self
            .daemons
            .iter()
            .zip(&before.generic_candidates)
            .map(|(d, c)| {
                let target = Target {
                    daemon: d.clone(),
                    client: Some(before.generic.clone()),
                };
                verdict(target, before.generic.clone(), c)
            })
            .collect();
        Analysis {
            tables: planned,
            verdicts,
            findings: Vec::new(),
            rule_counts: before.rule_counts,
            extra,
            generic: before.generic.clone(),
            candidates: Vec::new(),
            generic_candidates: Vec::new(),
            refusers: None,
        }
    }
}

/// `before`'s candidate entries of one table, where `edits` (of that table) put them in
/// the planned bytes: entries inside an edit are gone, later ones move by what the edits
/// before them added; and every entry an edit wrote is a candidate.
fn move_candidates(
    list: &[(usize, u32)],
    edits: &[&Edit],
    planned: Option<&crate::model::syntax::Document>,
    flavor: Flavor,
) -> Vec<(usize, u32)> {
    let mut edits: Vec<&Edit> = edits.to_vec();
    edits.sort_by_key(|e| e.at);
    let lines = |b: &[u8]| memchr::memchr_iter(b'\n', b).count() as i64;
    // What an edit shifts the bytes and lines after it by (summed as the edits are passed:
    // a comment plan has 50,000, and a table of their shifts was 2 MB).
    let shift = |e: &Edit| {
        (
            e.after_len() as i64 - e.before.len() as i64,
            lines(&e.after_bytes()) - lines(&e.before),
        )
    };
    // Edits are sorted and never overlap: those wholly before an entry are a prefix.
    let wholly_before = |e: &Edit, pos: usize| {
        if e.before.is_empty() {
            e.at <= pos // new lines go in front of the entry at their place
        } else {
            e.at + e.before.len() <= pos
        }
    };
    let writes = edits.iter().filter(|e| e.kind != EditKind::Comment).count();
    let mut out = Vec::with_capacity(list.len() + writes * 2);
    let mut k = 0;
    // The shift of the edits before `k`.
    let (mut db, mut dl) = (0i64, 0i64);
    for &(pos, line) in list {
        while k < edits.len() && wholly_before(edits[k], pos) {
            let (b, l) = shift(edits[k]);
            db += b;
            dl += l;
            k += 1;
        }
        // Inside an edit: commented out, or ended by the new final newline (the edit's
        // own entries are added below).
        if edits
            .get(k)
            .is_some_and(|e| e.at <= pos && pos < e.at + e.before.len())
        {
            continue;
        }
        out.push(((pos as i64 + db) as usize, (i64::from(line) + dl) as u32));
    }
    // The entries the edits wrote that evaluation reads (the new rule, the line with its
    // newline; the markers and commented lines are comments, which it skips anyway).
    if let Some(doc) = planned {
        let (mut db, mut dl) = (0i64, 0i64);
        for e in &edits {
            let start = (e.at as i64 + db) as usize;
            let sline = (i64::from(e.line) + dl) as u32;
            let (b, l) = shift(e);
            db += b;
            dl += l;
            let mut entries = doc.entries_between(flavor, start, sline, start + e.after_len());
            loop {
                let (pos, line) = entries.position();
                let Some(entry) = entries.next() else { break };
                if matches!(
                    entry,
                    Entry::Rule(_) | Entry::TableError(..) | Entry::Hang(_)
                ) {
                    out.push((pos, line));
                }
            }
        }
    }
    out.sort_unstable();
    out.dedup();
    out
}

/// `f` of every item, in order; on two threads when there are many (10,000 clients checked
/// at once: each verdict is small, but they add up after the scan, which is parallel too).
fn par_map<T: Sync, U: Send>(items: &[T], f: impl Fn(&T) -> U + Sync) -> Vec<U> {
    const PARALLEL_FROM: usize = 256;
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(4);
    if items.len() < PARALLEL_FROM || threads < 2 {
        return items.iter().map(f).collect();
    }
    let chunk = items.len().div_ceil(threads);
    let f = &f;
    std::thread::scope(|s| {
        let handles: Vec<_> = items
            .chunks(chunk)
            .map(|part| s.spawn(move || part.iter().map(f).collect::<Vec<U>>()))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    })
}

/// Most `refused-client` findings listed one by one.
const MAX_REFUSED: usize = 20;

/// What wrapfix finds beyond the two tables, made once per run: whether the daemon is
/// linked with libwrap at all, which tools will write the tables again, and which clients
/// the logs show refused (the findings, and the refusals themselves for the menu).
#[derive(Debug, Clone, Default)]
pub struct Diagnostics {
    pub findings: Vec<Finding>,
    /// Most recent first.
    pub refused: Vec<Refused>,
}

pub fn diagnostics(root: &Root, daemons: &[String], tables: &Tables) -> Diagnostics {
    let mut findings = crate::diagnose::wrapped::findings(root, daemons);
    findings.extend(crate::diagnose::writers::findings(root, tables));
    let mut refused = Vec::new();
    if let Ok(logs) = crate::diagnose::logs::scan_logs(root) {
        findings.extend(logs.findings(MAX_REFUSED));
        refused = logs.refusals;
    }
    Diagnostics { findings, refused }
}

/// Stand-ins for the generic client, tried in order: documentation addresses and names.
/// The first whose address and name no rule mentions is the generic client.
fn stand_ins() -> Vec<Client> {
    const ADDRS: [&str; 5] = [
        "203.0.113.77",
        "198.51.100.77",
        "192.0.2.77",
        "100.64.77.77",
        "172.31.77.77",
    ];
    const NAMES: [&str; 5] = [
        "host.wrapfix.invalid",
        "client.example.net",
        "nowhere.test",
        "far.away.example",
        "generic.wrapfix.test",
    ];
    ADDRS
        .iter()
        .zip(NAMES)
        .map(|(a, n)| Client {
            addr: (*a).into(),
            name: Some(n.into()),
            user: None,
        })
        .collect()
}
