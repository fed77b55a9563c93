//! Verdicts in words: why a run ended as it did, what the plain world assumes, and a
//! summary of the other possible runs ("granted instead if the client's host name matches
//! one of 1,512 patterns, such as '113.98.193.*'"). Shared by the human report and JSON.

use rustc_hash::FxHashSet;

use crate::eval::{
    Access, Assumption, Decision, Fate, How, Outcome, Pred, TableProblem, Token, Verdict,
};
use crate::model::syntax::{self, Unterminated};
use crate::model::tables::Role;

/// Patterns named in a summary before "…".
const EXAMPLES: usize = 3;

pub fn fate_word(f: Fate) -> &'static str {
    match f {
        Fate::Granted => "granted",
        Fate::Denied => "denied",
        Fate::Hangs => "the daemon hangs",
    }
}

/// One sentence: why this run ended the way it did.
pub fn reason(d: &Decision) -> String {
    match &d.how {
        How::AllowRule => "this hosts.allow rule matches, so access is granted (hosts.deny is not read)".into(),
        How::DenyRule => "no hosts.allow rule lets it in, and this hosts.deny rule matches".into(),
        How::NoMatch => "no rule in either file matches, so access is granted".into(),
        How::AllowOption => "this rule matches and its 'allow' option grants access".into(),
        How::DenyOption => {
            let wher = if d.rule.as_ref().is_some_and(|r| r.loc.role == Role::Allow) { " (even in hosts.allow)" } else { "" };
            format!("this rule matches and its 'deny' option refuses access{wher}")
        }
        How::Twist => "this rule matches and 'twist' hands the connection to a command: the daemon never answers".into(),
        How::OptionError(e) => format!(
            "this rule matches but libwrap rejects its options ({}), and a bad option refuses the connection even in hosts.allow",
            e.message
        ),
        How::AclexecVoid => "the aclexec command failed, which voids the matching rule, so access is granted".into(),
        How::DenyTableError(TableProblem::Unterminated(Unterminated::TooLong)) => {
            "hosts.deny has a line over libwrap's 2047-byte limit: libwrap stops there with an error and refuses everyone not let in before it".into()
        }
        How::DenyTableError(TableProblem::Unterminated(_)) => {
            "the last line of hosts.deny has no newline: libwrap stops there with an error and refuses everyone not let in before it".into()
        }
        How::DenyTableError(TableProblem::Unreadable(e)) => {
            format!("hosts.deny cannot be read ({e}): libwrap then refuses everyone not let in by hosts.allow")
        }
        How::Hang => "this line is over 2047 bytes and this libwrap loops forever on it: the daemon never answers".into(),
        How::Crash => "a /file pattern here includes itself: libwrap recurses until the daemon crashes".into(),
        How::Exit => "this rule matches and an option is over 8 KiB after % expansion: libwrap exits the daemon's process".into(),
    }
}

/// The conditions of a run, in words ("the client's host name matches '.example.com'").
pub fn conditions(o: &Outcome) -> Vec<String> {
    let (facts, left_out) = o.deciding();
    let mut out: Vec<String> = Vec::with_capacity(facts.len() + 1);
    if left_out > 0 {
        out.push(format!(
            "the deciding rule's {} earlier questions (before those below) are answered no",
            count(left_out)
        ));
    }
    out.extend(facts.iter().map(|a| a.pred.describe(a.value)));
    out
}

/// What the plain world assumes, for a verdict that asks anything.
pub fn plain_world(v: &Verdict) -> Option<String> {
    if v.questions.is_empty() {
        return None;
    }
    let mut kinds: Vec<&str> = Vec::new();
    for q in &v.questions {
        let k = match q.pred {
            Pred::NameMatches(_)
            | Pred::SanitizedNameMatches(_)
            | Pred::NameKnown
            | Pred::NameLocal => "name pattern",
            Pred::ServerHost(_) | Pred::SanitizedServerHost(_) => "daemon@host",
            Pred::ServerPort(_) => "port",
            Pred::Netgroup(_) | Pred::SanitizedNetgroup(_) => "netgroup",
            Pred::AclexecSucceeds(_) => "aclexec command",
            Pred::ExpansionFits(_) => "over-long expansion",
        };
        if !kinds.contains(&k) {
            kinds.push(k);
        }
    }
    let what = kinds.join(", ");
    let name = v
        .plain()
        .witness
        .as_deref()
        .map(|w| format!(", e.g. the host name '{}'", syntax::escape(w)))
        .unwrap_or_default();
    Some(format!("when no {what} of the rules matches{name}"))
}

/// The runs that end otherwise than the plain world, one sentence per fate.
pub fn unless(v: &Verdict) -> Vec<String> {
    let plain_fate = v.plain().fate();
    let mut out = Vec::new();
    for fate in [Fate::Granted, Fate::Denied, Fate::Hangs] {
        if fate == plain_fate {
            continue;
        }
        let runs: Vec<&Outcome> = v.others().filter(|o| o.fate() == fate).collect();
        if runs.is_empty() {
            continue;
        }
        out.push(format!("{} {}", fate_word(fate), when_any(&runs)));
    }
    out
}

/// "if the client's host name matches one of 12 patterns, such as 'a', 'b', 'c'".
fn when_any(runs: &[&Outcome]) -> String {
    // What tells each run apart: its "yes" answers (a run that differs from the plain
    // world said yes somewhere), else all its deciding answers.
    // Name patterns are counted by their bytes and put in words only for the examples:
    // a ban list has 100,000 of them.
    let mut names: Vec<Token> = Vec::new();
    let mut seen_names: FxHashSet<Token> = FxHashSet::default();
    let mut others: Vec<String> = Vec::new();
    let mut seen: FxHashSet<String> = FxHashSet::default();
    let mut witness = None;
    for o in runs {
        let (facts, _) = o.deciding();
        let yes: Vec<&Assumption> = facts.iter().filter(|a| a.value).collect();
        let shown: Vec<&Assumption> = if yes.is_empty() {
            facts.iter().collect()
        } else {
            yes
        };
        if shown.len() == 1
            && shown[0].value
            && let Pred::NameMatches(tok) = &shown[0].pred
        {
            if seen_names.insert(tok.clone()) {
                names.push(tok.clone());
            }
            witness = witness.or(o.witness.clone());
            continue;
        }
        let words: Vec<String> = shown.iter().map(|a| a.pred.describe(a.value)).collect();
        let s = if words.is_empty() {
            "in some combination of the unknowns".to_string()
        } else {
            words.join(" and ")
        };
        if seen.insert(s.clone()) {
            others.push(s);
        }
    }
    let mut parts = Vec::new();
    let quoted = |t: &Token| format!("'{}'", syntax::escape(t));
    match names.len() {
        0 => {}
        1 => parts.push(format!(
            "the client's host name matches {}",
            quoted(&names[0])
        )),
        n => {
            let some: Vec<String> = names.iter().take(EXAMPLES).map(quoted).collect();
            let more = if n > EXAMPLES { ", …" } else { "" };
            parts.push(format!(
                "the client's host name matches one of {} patterns, such as {}{more}",
                count(n),
                some.join(", ")
            ));
        }
    }
    let n_others = others.len();
    parts.extend(others.into_iter().take(EXAMPLES));
    if n_others > EXAMPLES {
        parts.push(format!("{} more combinations", count(n_others - EXAMPLES)));
    }
    let eg = witness
        .map(|w| format!(" (e.g. the host name '{}')", syntax::escape(&w)))
        .unwrap_or_default();
    format!("if {}{eg}", parts.join(", or if "))
}

/// 1512 → "1,512".
pub fn count(n: usize) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The reason of a verdict as one text: the plain world's, then the other runs.
pub fn verdict_reason(v: &Verdict) -> String {
    let d = v.decision();
    if v.access != Access::Depends {
        return reason(d);
    }
    let mut s = format!("{} {}", fate_word(v.plain().fate()), reason(d));
    if let Some(p) = plain_world(v) {
        s = format!("{} {p}: {}", fate_word(v.plain().fate()), reason(d));
    }
    for u in unless(v) {
        s.push_str("; ");
        s.push_str(&u);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_have_thousands_separators() {
        assert_eq!(count(7), "7");
        assert_eq!(count(1512), "1,512");
        assert_eq!(count(1_000_000), "1,000,000");
    }
}
