//! Everything wrapfix knows about a system before it plans: the tables, the (daemon, client)
//! targets with their verdicts, and the findings.

use crate::accounts::FileAccounts;
use crate::client::Client;
use crate::config::Config;
use crate::detect::{self, Finding};
use crate::eval::{self, Access, Env, Mode, Verdict};
use crate::flavor::Flavor;
use crate::pattern::{self, eq_nocase};
use crate::rootfs::Root;
use crate::syntax::{self, Entry};
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
}

impl Analysis {
    pub fn all_granted(&self) -> bool {
        self.verdicts.iter().all(|v| v.verdict.access == Access::Granted)
    }
}

/// What evaluation needs from the configuration.
pub struct Context {
    pub flavor: Flavor,
    pub root: Root,
    pub accounts: FileAccounts,
    pub daemons: Vec<String>,
    pub clients: Vec<Client>,
}

impl Context {
    pub fn from_config(config: &Config) -> Self {
        Context {
            flavor: config.flavor.flavor,
            root: config.root.clone(),
            accounts: FileAccounts::load(&config.root),
            daemons: config.daemons.clone(),
            clients: config.clients.clone(),
        }
    }

    pub fn env(&self) -> Env<'_> {
        Env { flavor: self.flavor, mode: Mode::Daemon, root: &self.root, accounts: &self.accounts, aclexec: None }
    }

    /// Verdicts and findings for these tables.
    pub fn analyse(&self, tables: Tables) -> Analysis {
        let env = self.env();
        let generic = generic_client(&tables, self.flavor);
        let clients: Vec<Option<&Client>> =
            if self.clients.is_empty() { vec![None] } else { self.clients.iter().map(Some).collect() };
        let mut verdicts = Vec::new();
        for daemon in &self.daemons {
            for client in &clients {
                let evaluated = client.cloned().unwrap_or_else(|| generic.clone());
                let verdict = eval::evaluate(&tables, daemon, &evaluated, &env);
                verdicts.push(TargetVerdict {
                    target: Target { daemon: daemon.clone(), client: client.cloned() },
                    evaluated,
                    verdict,
                });
            }
        }
        let (findings, rule_counts) = detect::findings(&tables, &verdicts, &generic, &env);
        Analysis { tables, verdicts, findings, rule_counts, generic }
    }
}

/// Addresses and names tried, in order, for the generic client: documentation ranges first.
const GENERIC_ADDRS: &[&str] = &["203.0.113.77", "198.51.100.77", "192.0.2.77", "100.64.77.77", "172.31.77.77"];
const GENERIC_NAMES: &[&str] = &["host.wrapfix.invalid", "client.example.net", "nowhere.test"];

/// A client no rule mentions: an address no address pattern matches and a verified name no
/// name pattern matches (wildcards like ALL and KNOWN do not count as mentioning).
pub fn generic_client(tables: &Tables, flavor: Flavor) -> Client {
    let mut addr_hit = vec![false; GENERIC_ADDRS.len()];
    let mut name_hit = vec![false; GENERIC_NAMES.len()];
    for file in tables.both() {
        let Some(doc) = file.document() else { continue };
        for entry in doc.entries(flavor) {
            let Entry::Rule(rule) = entry else { continue };
            for tok in syntax::tokens(rule.client_list()) {
                let host = syntax::split_at(tok, 1, b'@').map_or(tok, |i| &tok[i + 1..]);
                if is_wildcard(host) {
                    continue;
                }
                for (hit, addr) in addr_hit.iter_mut().zip(GENERIC_ADDRS) {
                    *hit |= mentions(host, addr.as_bytes(), flavor);
                }
                if pattern::not_inaddr(host) {
                    for (hit, name) in name_hit.iter_mut().zip(GENERIC_NAMES) {
                        *hit |= pattern::string_match(host, name.as_bytes(), flavor);
                    }
                }
            }
        }
    }
    let pick = |hits: &[bool], from: &[&str]| from[hits.iter().position(|h| !h).unwrap_or(0)].to_string();
    Client { addr: pick(&addr_hit, GENERIC_ADDRS), name: Some(pick(&name_hit, GENERIC_NAMES)), user: None }
}

fn is_wildcard(tok: &[u8]) -> bool {
    ["ALL", "KNOWN", "UNKNOWN", "LOCAL", "PARANOID", "EXCEPT"].iter().any(|w| eq_nocase(tok, w.as_bytes()))
        || tok.iter().all(|&b| b == b'*')
}

fn mentions(tok: &[u8], addr: &[u8], flavor: Flavor) -> bool {
    match syntax::split_at(tok, 0, b'/') {
        Some(i) if tok.first() != Some(&b'/') => pattern::masked_match(&tok[..i], &tok[i + 1..], addr, flavor),
        _ => pattern::string_match(tok, addr, flavor),
    }
}
