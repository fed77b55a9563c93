//! Findings once the verdicts are known: severities settled, DNS-dependent verdicts named, findings of one kind grouped.

use super::*;

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
/// The name questions one rule asks, per verdict (its index), in the order asked.
type PerClient<'a> = Vec<(usize, Vec<&'a Pred>)>;

pub(super) fn dns_findings(
    tables: &Tables,
    verdicts: &[TargetVerdict],
    flavor: Flavor,
    out: &mut Vec<Finding>,
) {
    // Per rule, per client: what about its host name the rule asks (words made only for
    // the findings shown one by one: a glob ban list asks on each of 100,000 lines).
    // Flat, then sorted: one small record per question (a nested map per rule costs ~220
    // bytes each, 16 MB on a 100,000-line list of name patterns).
    let mut asked_at: Vec<((RuleLoc, usize), usize, &Pred)> = Vec::new();
    // Only where the answer changes the verdict: a ban list of globs before `ALL: ALL`
    // asks about the name on every line, but refuses whatever the answer.
    for (i, tv) in verdicts.iter().enumerate() {
        if tv.verdict.access != Access::Depends {
            continue;
        }
        for q in &tv.verdict.questions {
            if q.pred.is_name() {
                asked_at.push(((q.at, q.pos), i, &q.pred));
            }
        }
    }
    // By rule, then by client; a client's questions keep the order they were asked in
    // (the sort is stable).
    asked_at.sort_by_key(|&(key, i, _)| (key, i));
    // Rules per file: past GROUP_OVER they are one finding, told by the first rule, whose
    // questions alone are gathered (the others only give their line numbers).
    let mut lines: HashMap<Role, Vec<u32>> = HashMap::new();
    for (i, &((loc, _), _, _)) in asked_at.iter().enumerate() {
        if i == 0 || asked_at[i - 1].0 != asked_at[i].0 {
            lines.entry(loc.role).or_default().push(loc.line);
        }
    }
    for asked in asked_at.chunk_by(|a, b| a.0 == b.0) {
        let (loc, pos) = asked[0].0;
        let group = &lines[&loc.role];
        let grouped = group.len() > GROUP_OVER;
        if grouped && group.first() != Some(&loc.line) {
            continue;
        }
        let mut clients: PerClient<'_> = Vec::new();
        for &(_, i, pred) in asked {
            if clients.last().is_none_or(|(c, _)| *c != i) {
                clients.push((i, Vec::new()));
            }
            if let Some((_, preds)) = clients.last_mut()
                && !preds.contains(&pred)
            {
                preds.push(pred);
            }
        }
        let mut message = dns_message(&clients, verdicts);
        if grouped {
            message = grouped_message(group, &message);
        }
        out.push(Finding {
            path: None,
            kind: Kind::DnsDependent,
            severity: Severity::Warning,
            role: Some(loc.role),
            line: Some(loc.line),
            text: tables
                .get(loc.role)
                .document()
                .and_then(|doc| doc.entries_from(flavor, pos, loc.line).next())
                .map(|e| trim_newline(&e.logical().text)),
            message,
        });
    }
}

/// What a rule asks about each client's host name, in words.
fn dns_message(clients: &PerClient<'_>, verdicts: &[TargetVerdict]) -> String {
    let who = |tv: &TargetVerdict| {
        tv.target
            .client
            .as_ref()
            .map_or_else(|| "a client".to_string(), |c| c.addr.clone())
    };
    let asked = |p: &Pred| match p {
        Pred::NameMatches(tok) => format!("matches '{}'", syntax::escape(tok)),
        Pred::SanitizedNameMatches(tok) => format!(
            "matches '{}' once % expansion has sanitised it",
            syntax::escape(tok)
        ),
        Pred::NameKnown => "is a verified name (KNOWN)".to_string(),
        _ => "has no dot (LOCAL)".to_string(),
    };
    let what: Vec<String> = clients
        .iter()
        .map(|(i, preds)| {
            let words: Vec<String> = preds.iter().map(|p| asked(p)).collect();
            format!(
                "whether the host name of {} {}",
                who(&verdicts[*i]),
                words.join(" or ")
            )
        })
        .collect();
    format!(
        "This rule turns on reverse DNS ({}); give the client's name with --client ADDRESS=NAME to decide.",
        what.join("; ")
    )
}

impl Finding {
    /// The file it is in, as the repaired system names it.
    pub fn file(&self) -> Option<&str> {
        self.path.as_deref().or(self.role.map(Role::system_path))
    }
}
