//! One pass over each table for every (daemon, client) at once.
//!
//! A 1,000,000-line ban list must be checked faster than libwrap reads it, and for many
//! clients at once, so the tables are read exactly once: each rule is probed against every
//! client, and each (daemon, client) keeps only the entries that matter to it (rules that
//! match or might, and entries that end a table). [`crate::eval::evaluate_candidates`] then
//! gives the exact verdict from those few entries. Rules whose client list is only literal
//! addresses (the shape ban lists have) are matched by looking their tokens up among the
//! clients, not by matching every client against every token.
//!
//! The same pass collects the per-line findings ([`crate::diagnose::detect`]) and which stand-in
//! addresses and names the rules mention (for the generic client).

use rustc_hash::FxHashMap;

use crate::diagnose::detect::{self, PendingFinding, RefusingRule};
use crate::eval::{Candidates, Env, Probe, Prober, RuleLoc};
use crate::model::client::Client;
use crate::model::flavor::Flavor;
use crate::model::pattern::{self, eq_nocase};
use crate::model::syntax::{self, Document, Entry, Rule};
use crate::model::tables::PerTable;
use crate::model::tables::{FileState, Role, Tables};

/// Everything one pass learns.
pub struct Scan {
    /// Per probe (daemon index × client index), the entries it must see.
    pub candidates: Vec<Candidates>,
    /// Rules per table, as libwrap reads them.
    pub rule_counts: PerTable<usize>,
    /// Rules that refuse on a match, with each probe they certainly match.
    pub refusals: Vec<RefusingRule>,
    /// Findings about single lines and files, to be finished once verdicts are known.
    pub pending: Vec<PendingFinding>,
    /// Per client: some rule names its address or host name (not just ALL-like wildcards).
    pub mentioned: Vec<bool>,
}

impl Scan {
    pub fn probe(&self, daemon: usize, client: usize, clients: usize) -> &Candidates {
        &self.candidates[daemon * clients + client]
    }
}

/// Client lookup by the address text a literal token is compared with.
enum AddrIndex {
    /// A few clients: comparing bytes beats hashing.
    Few(Vec<(Vec<u8>, usize)>),
    Many(FxHashMap<Vec<u8>, Vec<usize>>),
}

impl AddrIndex {
    fn new(clients: &[Client], flavor: Flavor) -> Self {
        let keys = clients
            .iter()
            .enumerate()
            .map(|(i, c)| (literal_key(c.addr.as_bytes(), flavor).to_vec(), i));
        if clients.len() <= 16 {
            return AddrIndex::Few(keys.collect());
        }
        let mut map: FxHashMap<Vec<u8>, Vec<usize>> = FxHashMap::default();
        for (k, i) in keys {
            map.entry(k).or_default().push(i);
        }
        AddrIndex::Many(map)
    }

    fn each(&self, tok: &[u8], mut f: impl FnMut(usize)) {
        match self {
            // Length and last byte first: most tokens differ there, and memcmp is a call.
            AddrIndex::Few(keys) => keys
                .iter()
                .filter(|(k, _)| k.len() == tok.len() && k.last() == tok.last() && k == tok)
                .for_each(|(_, i)| f(*i)),
            AddrIndex::Many(map) => map.get(tok).into_iter().flatten().for_each(|&i| f(i)),
        }
    }
}

/// What a literal token is compared with: `string_match` strips `::ffff:` first.
fn literal_key(addr: &[u8], flavor: Flavor) -> &[u8] {
    if flavor == Flavor::Rhel7 {
        addr
    } else {
        pattern::strip_v4_mapped(addr)
    }
}

/// Tables larger than this are scanned in parallel parts.
const PARALLEL_BYTES: usize = 4 << 20;

/// If every token of the list is a literal address (the shape of ban lists), call `f` on
/// each and return true; otherwise return false (some calls may have been made). One pass
/// over the bytes: this runs on every line of a million-line file.
fn literal_tokens(list: &[u8], mut f: impl FnMut(&[u8])) -> bool {
    let is_sep = |b: u8| matches!(b, b',' | b' ' | b'\t' | b'\r' | b'\n');
    let n = list.len();
    let mut i = 0;
    loop {
        while i < n && is_sep(list[i]) {
            i += 1;
        }
        if i == n {
            return true;
        }
        // A literal starts with a digit (`.1` is a suffix pattern) ...
        if !list[i].is_ascii_digit() {
            return false;
        }
        let start = i;
        while i < n && (list[i].is_ascii_digit() || list[i] == b'.') {
            i += 1;
        }
        // ... ends with one (`10.` is a prefix pattern), and is all digits and dots.
        if (i < n && !is_sep(list[i])) || list[i - 1] == b'.' {
            return false;
        }
        f(&list[start..i]);
    }
}

/// Scan both tables. `clients` are all clients probed (targets first, then stand-ins).
pub fn scan(tables: &Tables, daemons: &[String], clients: &[Client], env: &Env<'_>) -> Scan {
    let index = AddrIndex::new(clients, env.flavor);
    let mut out = Scan::empty(daemons.len() * clients.len(), clients.len());
    for file in tables.both() {
        detect::file_findings(file, &mut out.pending);
        let FileState::Present(doc) = &file.state else {
            continue;
        };
        let parts = parts(doc);
        let results: Vec<(Scan, bool, u32)> = if parts.len() == 1 {
            vec![scan_part(
                doc, file.role, parts[0], daemons, clients, &index, env,
            )]
        } else {
            std::thread::scope(|s| {
                let handles: Vec<_> = parts
                    .iter()
                    .map(|&part| {
                        let index = &index;
                        s.spawn(move || {
                            scan_part(doc, file.role, part, daemons, clients, index, env)
                        })
                    })
                    .collect();
                handles
                    .into_iter()
                    .map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
                    .collect()
            })
        };
        // Each part counted its lines from 1: shift them by the lines of the parts before.
        let mut before = 0;
        for (mut part, ended, lines) in results {
            if before > 0 {
                part.shift_lines(before);
            }
            before += lines;
            out.append(part);
            // libwrap stops reading at a table error: later parts were never read.
            if ended {
                break;
            }
        }
    }
    out
}

impl Scan {
    fn empty(probes: usize, clients: usize) -> Self {
        Scan {
            candidates: vec![Candidates::default(); probes],
            rule_counts: PerTable::default(),
            refusals: Vec::new(),
            pending: Vec::new(),
            mentioned: vec![false; clients],
        }
    }

    /// Make the line numbers of a part that counted from 1 count from `by` + 1.
    fn shift_lines(&mut self, by: u32) {
        for c in &mut self.candidates {
            for list in [&mut c.allow, &mut c.deny] {
                for (_, line) in list.iter_mut() {
                    *line += by;
                }
            }
        }
        for r in &mut self.refusals {
            r.loc.line += by;
        }
        for p in &mut self.pending {
            if let Some(l) = &mut p.finding.line {
                *l += by;
            }
        }
    }

    fn append(&mut self, part: Scan) {
        for (mine, theirs) in self.candidates.iter_mut().zip(part.candidates) {
            mine.allow.extend(theirs.allow);
            mine.deny.extend(theirs.deny);
        }
        self.rule_counts.allow += part.rule_counts.allow;
        self.rule_counts.deny += part.rule_counts.deny;
        self.refusals.extend(part.refusals);
        self.pending.extend(part.pending);
        for (m, t) in self.mentioned.iter_mut().zip(part.mentioned) {
            *m |= t;
        }
    }
}

/// A part of a file: start offset, its physical line number, end offset.
type Part = (usize, u32, usize);

/// Split a large file at newlines that end a logical line, one part per core. Files with a
/// NUL byte (which glues lines together) are read in one go.
fn parts(doc: &Document) -> Vec<Part> {
    let bytes = doc.bytes();
    let cores = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(4);
    if bytes.len() < PARALLEL_BYTES || doc.has_nul() || cores < 2 {
        return vec![(0, 1, bytes.len())];
    }
    let mut cuts = vec![0];
    for k in 1..cores {
        let mut at = bytes.len() * k / cores;
        // The next newline that is not a continuation, after the previous cut.
        while let Some(i) = memchr::memchr(b'\n', &bytes[at..]) {
            let nl = at + i;
            if nl == 0 || bytes[nl - 1] != b'\\' {
                at = nl + 1;
                break;
            }
            at = nl + 1;
        }
        if at > *cuts.last().unwrap_or(&0) && at < bytes.len() {
            cuts.push(at);
        }
    }
    cuts.push(bytes.len());
    // Every part counts its lines from 1 (`scan` shifts them): no pass to count them first.
    cuts.windows(2).map(|w| (w[0], 1, w[1])).collect()
}

/// Scan one part of one table; also says whether libwrap stops reading in it.
fn scan_part(
    doc: &Document,
    role: Role,
    (start, first_line, end): Part,
    daemons: &[String],
    clients: &[Client],
    index: &AddrIndex,
    env: &Env<'_>,
) -> (Scan, bool, u32) {
    let n = clients.len();
    let mut out = Scan::empty(daemons.len() * n, n);
    let mut prober = Prober::new(env);
    let mut daemon_hits = vec![Probe::No; daemons.len()];
    let mut daemon_cache = DaemonCache::default();
    let mut client_hits = vec![Probe::No; n];
    let mut ended = false;
    let mut entries = doc.entries_between(env.flavor, start, first_line, end);
    let mut dirty = true;
    loop {
        let (pos, line) = entries.position();
        // Ban-list lines (`sshd: 192.0.2.1`) are most of a big file: handle them without
        // building an entry. Anything else takes the general path below.
        // Cleared only when used: this runs for every line.
        if dirty {
            client_hits.fill(Probe::No);
            dirty = false;
        }
        let mut hit = false;
        let plain = entries.peek_plain();
        // A comment (`# DenyHosts: …` above every ban): nothing to see, in every flavour.
        if let Some(text) = plain
            && text.first() == Some(&b'#')
        {
            entries.skip_plain(text);
            continue;
        }
        if let Some(text) = plain
            && let Some((daemon_list, client_list)) = ban_line(text)
            && literal_tokens(client_list, |tok| {
                index.each(tok, |c| {
                    client_hits[c] = Probe::Yes;
                    hit = true;
                })
            })
        {
            entries.skip_plain(text);
            out.rule_counts[role] += 1;
            if !hit {
                continue;
            }
            dirty = true;
            for (m, h) in out.mentioned.iter_mut().zip(&client_hits) {
                *m |= *h == Probe::Yes;
            }
            daemon_cache.probe(daemon_list, daemons, &mut prober, &mut daemon_hits);
            let loc = RuleLoc { role, line };
            // No options field (a literal client list has no colon): hosts.deny refuses.
            record(
                &mut out,
                loc,
                pos,
                text,
                role == Role::Deny,
                &daemon_hits,
                &client_hits,
            );
            continue;
        }
        dirty = true;
        let Some(entry) = entries.next() else { break };
        let line = entry.logical().line;
        let Entry::Rule(rule) = &entry else {
            if matches!(entry, Entry::TableError(..) | Entry::Hang(_)) {
                ended = true;
                for c in &mut out.candidates {
                    c[role].push((pos, line));
                }
            }
            detect::entry_findings(&entry, role, &mut out.pending);
            continue;
        };
        out.rule_counts[role] += 1;
        let facts = detect::rule_findings(rule, role, env, &mut out.pending);
        daemon_cache.probe(rule.daemon_list(), daemons, &mut prober, &mut daemon_hits);
        if daemon_hits.iter().all(|h| *h == Probe::No) {
            continue;
        }
        probe_clients(
            rule,
            clients,
            index,
            &mut prober,
            &mut client_hits,
            &mut out.mentioned,
            env.flavor,
        );
        if client_hits.iter().all(|h| *h == Probe::No) {
            continue;
        }
        let loc = RuleLoc { role, line };
        record(
            &mut out,
            loc,
            pos,
            rule.text(),
            facts.refuses,
            &daemon_hits,
            &client_hits,
        );
    }
    let lines = entries.position().1 - first_line;
    (out, ended, lines)
}

/// A line shaped like a ban-list entry: no leading blank or `#`, and a first colon with no
/// bracket before it. Returns the daemon list and the rest (the client list, if the rest
/// turns out to be only literal addresses).
fn ban_line(text: &[u8]) -> Option<(&[u8], &[u8])> {
    let first = *text.first()?;
    if matches!(first, b'#' | b' ' | b'\t' | b'\r') {
        return None;
    }
    let colon = syntax::split_at(text, 0, b':')?;
    if text[..colon].iter().any(|&b| b == b'[' || b == b']') {
        return None;
    }
    Some((&text[..colon], &text[colon + 1..]))
}

/// Note a rule as a candidate for every (daemon, client) it may match, and as a refusal
/// for those it certainly matches.
fn record(
    out: &mut Scan,
    loc: RuleLoc,
    pos: usize,
    text: &[u8],
    refuses: bool,
    daemon_hits: &[Probe],
    client_hits: &[Probe],
) {
    let n = client_hits.len();
    for (d, dh) in daemon_hits.iter().enumerate() {
        for (c, ch) in client_hits.iter().enumerate() {
            if *dh == Probe::No || *ch == Probe::No {
                continue;
            }
            out.candidates[d * n + c][loc.role].push((pos, loc.line));
            if refuses && *dh == Probe::Yes && *ch == Probe::Yes {
                out.refusals.push(RefusingRule {
                    loc,
                    text: detect::trim_newline(text),
                    probe: d * n + c,
                });
            }
        }
    }
}

/// Fill `hits` with each client's answer for this rule's client list.
fn probe_clients(
    rule: &Rule<'_>,
    clients: &[Client],
    index: &AddrIndex,
    prober: &mut Prober<'_, '_>,
    hits: &mut [Probe],
    mentioned: &mut [bool],
    flavor: Flavor,
) {
    hits.fill(Probe::No);
    let list = rule.client_list();
    if literal_tokens(list, |tok| index.each(tok, |c| hits[c] = Probe::Yes)) {
        for (m, h) in mentioned.iter_mut().zip(hits.iter()) {
            *m |= *h == Probe::Yes;
        }
        return;
    }
    hits.fill(Probe::No);
    for (hit, client) in hits.iter_mut().zip(clients) {
        *hit = prober.clients(rule, client);
    }
    for tok in syntax::tokens(list) {
        let host = syntax::split_at(tok, 1, b'@').map_or(tok, |i| &tok[i + 1..]);
        if is_wildcard(host) {
            continue;
        }
        for (m, client) in mentioned.iter_mut().zip(clients) {
            *m = *m || mentions(host, client, flavor);
        }
    }
}

/// The answers for the last few distinct daemon lists: ban lists repeat `sshd` or `ALL`
/// on every line, and a daemon list's answer depends on nothing but its text.
#[derive(Default)]
struct DaemonCache {
    recent: Vec<(Vec<u8>, Vec<Probe>)>,
    next: usize,
}

impl DaemonCache {
    const SIZE: usize = 8;

    fn probe(
        &mut self,
        key: &[u8],
        daemons: &[String],
        prober: &mut Prober<'_, '_>,
        hits: &mut [Probe],
    ) {
        let same = |k: &[u8]| k.len() == key.len() && k.iter().zip(key).all(|(a, b)| a == b);
        if let Some((_, cached)) = self.recent.iter().find(|(k, _)| same(k)) {
            hits.copy_from_slice(cached);
            return;
        }
        for (hit, d) in hits.iter_mut().zip(daemons) {
            *hit = prober.daemon_list(key, d);
        }
        let entry = (key.to_vec(), hits.to_vec());
        if self.recent.len() < Self::SIZE {
            self.recent.push(entry);
        } else {
            self.recent[self.next] = entry;
            self.next = (self.next + 1) % Self::SIZE;
        }
    }
}

fn is_wildcard(tok: &[u8]) -> bool {
    ["ALL", "KNOWN", "UNKNOWN", "LOCAL", "PARANOID", "EXCEPT"]
        .iter()
        .any(|w| eq_nocase(tok, w.as_bytes()))
        || tok.iter().all(|&b| b == b'*')
}

/// Does this (non-wildcard) host pattern name the client's address or host name?
fn mentions(tok: &[u8], client: &Client, flavor: Flavor) -> bool {
    let addr = client.addr.as_bytes();
    let by_addr = match syntax::split_at(tok, 0, b'/') {
        Some(i) if tok.first() != Some(&b'/') => {
            pattern::masked_match(&tok[..i], &tok[i + 1..], addr, flavor)
        }
        _ => pattern::string_match(tok, addr, flavor),
    };
    by_addr
        || (pattern::not_inaddr(tok)
            && client
                .name
                .as_deref()
                .is_some_and(|n| pattern::string_match(tok, n.as_bytes(), flavor)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_lists_of_literal_addresses_take_the_lookup_path() {
        let literal = |list: &[u8]| {
            let mut seen = Vec::new();
            literal_tokens(list, |t| seen.push(t.to_vec())).then_some(seen)
        };
        assert_eq!(
            literal(b" 10.0.0.1, 192.0.2.7\r\n"),
            Some(vec![b"10.0.0.1".to_vec(), b"192.0.2.7".to_vec()])
        );
        assert_eq!(literal(b" "), Some(vec![]));
        for complex in [
            &b" 10.0.0."[..],
            b" .1",
            b" 10.0.0.0/8",
            b" [::1]",
            b" 10.0.0.1 EXCEPT 10.0.0.2",
            b" 10.0.0.1: deny",
        ] {
            assert_eq!(
                literal(complex),
                None,
                "{}",
                String::from_utf8_lossy(complex)
            );
        }
    }
}
