//! Is a run possible? Its host-name answers must fit one name: look for such a name.

use super::{Assumption, Pred};
use crate::client::Client;
use crate::flavor::Flavor;
use crate::pattern::{self, PARANOID, UNKNOWN, eq_nocase};

/// Find a host name that answers every name question of a run as assumed. Returns the name
/// and whether the run is proven possible (no name questions, or a name was found).
pub fn witness(trail: &[Assumption], client: &Client, flavor: Flavor) -> (Option<String>, bool) {
    let asks: Vec<&Assumption> = trail.iter().filter(|a| a.pred.is_name()).collect();
    if asks.is_empty() {
        return (None, true);
    }
    let holds = |name: &str| {
        asks.iter()
            .all(|a| name_pred(&a.pred, name, client, flavor) == a.value)
    };
    for cand in candidates(&asks) {
        if holds(&cand) {
            return (Some(cand), true);
        }
    }
    (None, false)
}

fn name_pred(p: &Pred, name: &str, client: &Client, flavor: Flavor) -> bool {
    let n = name.as_bytes();
    let known = !eq_nocase(n, UNKNOWN) && !eq_nocase(n, PARANOID);
    match p {
        Pred::NameMatches(tok) => pattern::string_match(tok, n, flavor),
        Pred::NameKnown => known && client.addr != "unknown",
        Pred::NameLocal => known && !n.contains(&b'.'),
        _ => false,
    }
}

/// Names worth trying: the placeholders, the literal names the rules mention, and names
/// built from the prefixes, suffixes and globs the run said yes to.
fn candidates(asks: &[&Assumption]) -> Vec<String> {
    let text = |t: &[u8]| String::from_utf8_lossy(t).into_owned();
    let mut prefixes = vec![String::new()];
    let mut suffixes = vec![String::new()];
    let mut out: Vec<String> = vec!["unknown".into(), "paranoid".into()];
    for a in asks {
        let Pred::NameMatches(tok) = &a.pred else {
            continue;
        };
        let t = text(tok);
        if t.contains('*') || t.contains('?') {
            for fill in ["", "x", "x.x"] {
                out.push(t.replace('*', fill).replace('?', "x"));
            }
        } else if t.starts_with('.') {
            suffixes.push(t);
        } else if t.ends_with('.') {
            prefixes.push(t);
        } else {
            out.push(t.to_ascii_lowercase());
        }
    }
    for p in &prefixes {
        for s in &suffixes {
            for mid in ["wrapfix", "wrapfix.invalid"] {
                out.push(format!("{p}{mid}{s}"));
            }
        }
    }
    out
}
