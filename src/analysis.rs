//! Everything wrapfix knows about a system before it plans: the tables, the (daemon, client)
//! targets with their verdicts, and the findings.

use crate::accounts::FileAccounts;
use crate::client::Client;
use crate::config::Config;
use crate::detect::{self, Finding};
use crate::eval::{self, Access, Env, Mode, Verdict};
use crate::flavor::Flavor;
use crate::rootfs::Root;
use crate::scan;
use crate::tables::Tables;

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
    pub rule_counts: [usize; 2],
    pub generic: Client,
    /// Verdicts for [`Context::extra`] and every stand-in client, per daemon, in a fixed
    /// order: what plan verification compares before and after a change.
    pub extra: Vec<TargetVerdict>,
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
        let mut verdicts = Vec::new();
        let mut names = Vec::new();
        let mut extra = Vec::new();
        for (d, daemon) in self.daemons.iter().enumerate() {
            for &(client, at) in &asked {
                names.push((d * n + at, daemon.clone(), probed[at].addr.clone()));
                verdicts.push(verdict_of(d, at, client));
            }
            for (at, client) in probed.iter().enumerate().skip(self.clients.len()) {
                extra.push(verdict_of(d, at, Some(client)));
            }
        }
        let generic_probes: Vec<usize> = (0..self.daemons.len())
            .map(|d| d * n + generic_at)
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
        }
    }
}

/// Most `refused-client` findings listed one by one.
const MAX_REFUSED: usize = 20;

/// Findings from beyond the two tables: is the daemon linked with libwrap at all, which
/// clients the logs show refused, which tools will write the tables again.
pub fn diagnostics(root: &Root, daemons: &[String], tables: &Tables) -> Vec<Finding> {
    let mut out = crate::wrapped::findings(root, daemons);
    out.extend(crate::writers::findings(root, tables));
    if let Ok(logs) = crate::logs::scan_logs(root) {
        out.extend(logs.findings(MAX_REFUSED));
    }
    out
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
