//! The fixed cases of docs/semantics.md §10 (`tests/data/libwrap-cases.json`, verdicts recorded
//! with Debian's `tcpdmatch -d`), checked against our evaluator, the real library's
//! `hosts_ctl()`, and the installed tcpdmatch itself.
//!
//! tcpdmatch builds its request differently from `hosts_ctl()`: an IP client gets the name
//! `unknown`, a host-name client is resolved (one verdict per address) and its reverse name
//! verified. To ask our evaluator (in `hosts_ctl` mode, which takes strings verbatim) the
//! same question, we build the same request here, resolving names from the case file's
//! `nss_hosts_table` the way tcpdmatch did under libnss_wrapper.

use std::collections::BTreeMap;
use std::net::IpAddr;

use serde::Deserialize;
use wrapfix::model::client::Client;

use crate::support::oracle::{self, OracleCase};
use crate::support::system::System;
use crate::support::{self, Outcome, describe_ours, escape, show_table};

const CASES_JSON: &str = include_str!("../data/libwrap-cases.json");
/// Where the recorded cases keep their `/file` lists; rewritten to a scratch directory.
const CASE_DIR: &[u8] = b"/srv/wrapfix-cases/";

#[derive(Deserialize)]
struct CaseFile {
    nss_hosts_table: String,
    list_files: BTreeMap<String, String>,
    cases: Vec<Case>,
}

#[derive(Deserialize, Debug)]
struct Case {
    id: String,
    why: String,
    allow: Option<String>,
    allow_is_bytes: bool,
    deny: Option<String>,
    deny_is_bytes: bool,
    daemon: String,
    client: String,
    nss_hosts: bool,
    verdicts: Vec<String>,
}

fn load() -> CaseFile {
    serde_json::from_str(CASES_JSON).expect("tests/data/libwrap-cases.json parses")
}

/// The case's list files, written where the recorded cases kept them, under a scratch root.
struct Scratch {
    sys: System,
}

impl Scratch {
    fn new(file: &CaseFile) -> Scratch {
        let mut sys = System::bare();
        for (path, content) in &file.list_files {
            assert!(
                path.as_bytes().starts_with(CASE_DIR),
                "list files live in /srv/wrapfix-cases: {path}"
            );
            sys = sys.file(path, content);
        }
        Scratch { sys }
    }

    /// A table's bytes, with list-file paths pointing into the scratch directory.
    fn table(&self, text: &Option<String>, is_bytes: bool) -> Option<Vec<u8>> {
        let text = text.as_ref()?;
        let bytes: Vec<u8> = if is_bytes {
            // The JSON string holds raw bytes as Latin-1 characters.
            text.chars()
                .map(|c| u8::try_from(u32::from(c)).expect("Latin-1 character"))
                .collect()
        } else {
            text.as_bytes().to_vec()
        };
        let to = format!("{}/", self.sys.at("/srv/wrapfix-cases").display());
        Some(replace_all(&bytes, CASE_DIR, to.as_bytes()))
    }

    fn tables(&self, case: &Case) -> (Option<Vec<u8>>, Option<Vec<u8>>) {
        (
            self.table(&case.allow, case.allow_is_bytes),
            self.table(&case.deny, case.deny_is_bytes),
        )
    }

    fn list_files(&self) -> String {
        let mut out = String::new();
        let dir = self.sys.at("/srv/wrapfix-cases");
        for entry in std::fs::read_dir(dir).expect("scratch dir") {
            let path = entry.expect("dir entry").path();
            let content = std::fs::read(&path).expect("list file");
            out.push_str(&format!("\n    {}: {}", path.display(), escape(&content)));
        }
        out
    }
}

fn replace_all(haystack: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(haystack.len());
    let mut i = 0;
    while i < haystack.len() {
        if haystack[i..].starts_with(from) {
            out.extend_from_slice(to);
            i += from.len();
        } else {
            out.push(haystack[i]);
            i += 1;
        }
    }
    out
}

/// The hosts table tcpdmatch resolved names from (through libnss_wrapper), in file order.
struct HostsTable {
    lines: Vec<(IpAddr, Vec<String>)>,
}

impl HostsTable {
    fn parse(text: &str) -> HostsTable {
        let lines = text
            .lines()
            .filter_map(|l| {
                let mut words = l.split_whitespace();
                let addr = words.next()?.parse().expect("hosts table address");
                Some((addr, words.map(str::to_string).collect()))
            })
            .collect();
        HostsTable { lines }
    }

    /// Lines of the address family of `like` (`None`: all) that list `name`.
    fn lines_naming<'a>(
        &'a self,
        name: &'a str,
        like: Option<IpAddr>,
    ) -> impl Iterator<Item = &'a (IpAddr, Vec<String>)> {
        self.lines.iter().filter(move |(a, names)| {
            like.is_none_or(|l| l.is_ipv4() == a.is_ipv4())
                && names.iter().any(|n| n.eq_ignore_ascii_case(name))
        })
    }

    /// Forward lookup: every address of `name`, in file order.
    fn addresses(&self, name: &str, like: Option<IpAddr>) -> Vec<IpAddr> {
        let mut out: Vec<IpAddr> = Vec::new();
        for (a, _) in self.lines_naming(name, like) {
            if !out.contains(a) {
                out.push(*a);
            }
        }
        out
    }

    /// libwrap's verified host name for a peer address (`sock_hostname`, docs/semantics.md §4):
    /// reverse name, then `paranoid` if it is numeric, its canonical name differs, or it does
    /// not resolve back to the address.
    fn verified_name(&self, addr: IpAddr) -> String {
        let Some(name) = self
            .lines
            .iter()
            .find(|(a, _)| *a == addr)
            .and_then(|(_, n)| n.first())
        else {
            return "unknown".into();
        };
        if is_numeric_host(name, addr.is_ipv4()) {
            return "paranoid".into();
        }
        let Some((_, names)) = self.lines_naming(name, Some(addr)).next() else {
            return "paranoid".into();
        };
        if !names[0].eq_ignore_ascii_case(name) && !name.eq_ignore_ascii_case("localhost") {
            return "paranoid".into();
        }
        if !self.addresses(name, Some(addr)).contains(&addr) {
            return "paranoid".into();
        }
        name.clone()
    }
}

/// `getaddrinfo(name, AI_NUMERICHOST)` in one family: inet_aton's 1–4 part numbers for IPv4.
fn is_numeric_host(name: &str, v4: bool) -> bool {
    if !v4 {
        return name.parse::<std::net::Ipv6Addr>().is_ok();
    }
    let parts: Vec<&str> = name.split('.').collect();
    parts.len() <= 4
        && parts.iter().all(|p| {
            let (digits, radix) = match p.strip_prefix("0x").or_else(|| p.strip_prefix("0X")) {
                Some(hex) => (hex, 16),
                None if p.len() > 1 && p.starts_with('0') => (&p[1..], 8),
                None => (*p, 10),
            };
            !p.is_empty() && u32::from_str_radix(digits, radix).is_ok()
        })
}

/// The requests tcpdmatch made for the case's client argument (docs/semantics.md §4), one per
/// address; `None` when hosts_ctl cannot express it.
fn requests(case: &Case, hosts: &HostsTable) -> Option<Vec<Client>> {
    let (user, host) = match case.client.split_once('@') {
        Some((u, h)) => (Some(u.to_string()), h),
        None => (None, case.client.as_str()),
    };
    if host.eq_ignore_ascii_case("unknown") || host.eq_ignore_ascii_case("paranoid") {
        return Some(vec![Client {
            addr: "unknown".into(),
            name: Some(host.into()),
            user,
        }]);
    }
    if case.nss_hosts {
        let addrs = hosts.addresses(host, None);
        assert!(
            !addrs.is_empty(),
            "{}: {host} is not in nss_hosts_table",
            case.id
        );
        let clients = addrs
            .into_iter()
            .map(|a| Client {
                addr: a.to_string(),
                name: Some(hosts.verified_name(a)),
                user: user.clone(),
            })
            .collect();
        return Some(clients);
    }
    let dotted_quad = host.split('.').count() == 4;
    if !dotted_quad && host.parse::<std::net::Ipv6Addr>().is_err() {
        // T68: tcpdmatch sends `10.1` through the resolver and prints 10.0.0.1; hosts_ctl
        // and a real socket never see such a string.
        return None;
    }
    // A numeric client: tcpdmatch keeps the argument verbatim (even `010.000.000.001`).
    Some(vec![Client {
        addr: host.into(),
        name: Some("unknown".into()),
        user,
    }])
}

/// What the real library does for the case, per request: the recorded tcpdmatch verdicts,
/// except where tcpdmatch's dry run differs.
fn expected_real(case: &Case) -> Vec<Outcome> {
    if case.id == "T22" {
        // aclexec is skipped by tcpdmatch; the library runs /bin/false, which voids the
        // matching hosts.deny rule: granted (the case file's "about" note).
        return vec![Outcome::Granted];
    }
    case.verdicts
        .iter()
        .map(|v| match v.as_str() {
            "granted" => Outcome::Granted,
            "denied" => Outcome::Denied,
            "delegated" => Outcome::Twist,
            other => panic!("{}: unknown verdict {other}", case.id),
        })
        .collect()
}

fn describe_case(
    case: &Case,
    allow: &Option<Vec<u8>>,
    deny: &Option<Vec<u8>>,
    scratch: &Scratch,
) -> String {
    format!(
        "{} ({})\n  hosts.allow: {}\n  hosts.deny:  {}\n  list files:{}\n  daemon {:?}, client argument {:?}",
        case.id,
        case.why,
        show_table(allow.as_deref()),
        show_table(deny.as_deref()),
        scratch.list_files(),
        case.daemon,
        case.client
    )
}

#[test]
fn every_recorded_case_gets_the_recorded_verdict_from_our_evaluator() {
    let file = load();
    let scratch = Scratch::new(&file);
    let hosts = HostsTable::parse(&file.nss_hosts_table);
    let mut failures = Vec::new();
    let mut checked = 0;
    for case in &file.cases {
        let Some(clients) = requests(case, &hosts) else {
            continue;
        };
        let (allow, deny) = scratch.tables(case);
        let expected = expected_real(case);
        assert_eq!(
            clients.len(),
            expected.len(),
            "{}: one verdict per address",
            case.id
        );
        for (client, want) in clients.iter().zip(&expected) {
            checked += 1;
            let ours = support::evaluate_hosts_ctl(
                allow.as_deref(),
                deny.as_deref(),
                &case.daemon,
                client,
            );
            if Outcome::of_ours(&ours) != *want {
                failures.push(format!(
                    "{}\n  request: addr {:?} name {:?} user {:?}\n  expected: {want}\n  ours:     {}",
                    describe_case(case, &allow, &deny, &scratch),
                    client.addr,
                    client.name,
                    client.user(),
                    describe_ours(&ours)
                ));
            }
        }
    }
    assert!(checked >= 75, "only {checked} verdicts checked");
    assert!(
        failures.is_empty(),
        "{} of {checked} verdicts differ:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

#[test]
fn the_real_library_agrees_with_the_recorded_cases() {
    if !support::require_libwrap("checks the recorded cases against hosts_ctl()") {
        return;
    }
    let file = load();
    let scratch = Scratch::new(&file);
    let hosts = HostsTable::parse(&file.nss_hosts_table);
    let mut asked = Vec::new();
    for case in &file.cases {
        let Some(clients) = requests(case, &hosts) else {
            continue;
        };
        let (allow, deny) = scratch.tables(case);
        for (client, want) in clients.into_iter().zip(expected_real(case)) {
            let oc = OracleCase {
                allow: allow.clone(),
                deny: deny.clone(),
                daemon: case.daemon.clone(),
                name: client.name.clone().unwrap_or_default(),
                addr: client.addr.clone(),
                user: client.user().to_string(),
            };
            asked.push((case, oc, want));
        }
    }
    // Every request the evaluator test checks is put to the real library too (counted
    // there, and the same here).
    assert!(
        asked.len() >= 75,
        "only {} requests put to hosts_ctl()",
        asked.len()
    );
    let oracle_cases: Vec<OracleCase> = asked.iter().map(|(_, oc, _)| oc.clone()).collect();
    let verdicts = oracle::hosts_ctl_batch(&oracle_cases);
    assert_eq!(
        verdicts.len(),
        asked.len(),
        "hosts_ctl() answered {} of {} requests",
        verdicts.len(),
        asked.len()
    );
    let failures: Vec<String> = asked
        .iter()
        .zip(&verdicts)
        .filter(|((_, _, want), got)| got.outcome() != *want)
        .map(|((case, oc, want), got)| {
            format!(
                "{}\n  hosts_ctl({:?}, {:?}, {:?}, {:?})\n  expected: {want}\n  libwrap:  {got:?}",
                describe_case(case, &oc.allow, &oc.deny, &scratch),
                oc.daemon,
                oc.name,
                oc.addr,
                oc.user
            )
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} verdicts differ:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

/// Runs tcpdmatch on the chosen cases and reports every case whose verdicts changed.
fn check_against_tcpdmatch(host_name_cases: bool) {
    let file = load();
    let scratch = Scratch::new(&file);
    let mut failures = Vec::new();
    let mut checked = 0;
    for case in file.cases.iter().filter(|c| c.nss_hosts == host_name_cases) {
        let (allow, deny) = scratch.tables(case);
        let hosts = case.nss_hosts.then_some(file.nss_hosts_table.as_bytes());
        let got = oracle::tcpdmatch_with_hosts(
            allow.as_deref(),
            deny.as_deref(),
            &case.daemon,
            &case.client,
            hosts,
        );
        let got: Vec<&str> = got.iter().map(|v| v.word()).collect();
        checked += 1;
        if got != case.verdicts {
            failures.push(format!(
                "{}\n  recorded:  {:?}\n  tcpdmatch: {got:?}",
                describe_case(case, &allow, &deny, &scratch),
                case.verdicts
            ));
        }
    }
    assert!(checked > 0);
    assert!(
        failures.is_empty(),
        "{} cases changed:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

#[test]
fn recorded_ip_client_cases_still_match_the_installed_tcpdmatch() {
    if !support::require_tool("tcpdmatch", "re-runs the recorded cases (package tcpd)") {
        return;
    }
    check_against_tcpdmatch(false);
}

#[test]
fn recorded_host_name_cases_still_match_tcpdmatch_under_nss_wrapper() {
    if !support::require_tool("tcpdmatch", "re-runs the recorded cases (package tcpd)")
        || !support::require_library(
            "libnss_wrapper.so",
            "resolves the cases' host names (package libnss-wrapper)",
        )
    {
        return;
    }
    check_against_tcpdmatch(true);
}

#[test]
fn hosts_table_emulation_verifies_names_like_libwrap() {
    let hosts = HostsTable::parse(&load().nss_hosts_table);
    let name = |a: &str| hosts.verified_name(a.parse().expect("address"));
    assert_eq!(name("10.1.1.1"), "good.example.com");
    assert_eq!(name("10.1.1.5"), "paranoid", "numeric reverse name");
    assert_eq!(name("10.1.1.9"), "1.2.3.4.5", "five parts are not a number");
    assert_eq!(
        name("10.2.2.3"),
        "paranoid",
        "alias.example.com is canonically canon.example.com"
    );
    assert_eq!(name("10.9.9.9"), "unknown");
    assert_eq!(hosts.addresses("multi.example.com", None).len(), 2);
}
