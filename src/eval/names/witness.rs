//! Made-up witness names, tried until one gives the answers.

use super::*;

/// Try made-up names on `fits` until one does; also says whether the names tried are
/// every name that could give these answers (up to letter case where every comparison
/// ignores it). Built one at a time: the first or second usually fits.
pub(super) fn candidates(
    yes: &[&[u8]],
    known: Option<bool>,
    used: &Bytes,
    flavor: Flavor,
    fits: &mut dyn FnMut(&[u8]) -> bool,
) -> (Option<Vec<u8>>, bool) {
    let nocase = flavor == Flavor::Debian;
    // Red Hat's globs compare case: try each name as made, and folded both ways.
    let mut attempt = |n: &[u8]| -> Option<Vec<u8>> {
        if fits(n) {
            return Some(n.to_vec());
        }
        if !nocase {
            for f in [n.to_ascii_lowercase(), n.to_ascii_uppercase()] {
                if fits(&f) {
                    return Some(f);
                }
            }
        }
        None
    };
    // A literal the name equals fixes it (Red Hat's case-sensitive globs aside).
    if let Some(lit) = yes.iter().find(|t| matches!(kind(t, flavor), Kind::Eq)) {
        return (attempt(lit), nocase);
    }
    if known == Some(false) {
        let found = attempt(UNKNOWN).or_else(|| attempt(PARANOID));
        return (found, true);
    }
    // A filler no token uses, so a made-up name matches only what it must.
    let f = b"qzjxkvwyhgfbmp"
        .iter()
        .copied()
        .find(|&b| !used.has(b))
        .unwrap_or(b'q');
    // What every name must start and end with: prefix and suffix tokens, and the literal
    // ends of globs; and the literal middles of globs, in order.
    let mut heads: Vec<&[u8]> = Vec::new();
    let mut tails: Vec<&[u8]> = Vec::new();
    let mut middles: Vec<&[u8]> = Vec::new();
    for t in yes {
        match kind(t, flavor) {
            Kind::Prefix => heads.push(t),
            Kind::Suffix => tails.push(t),
            Kind::Glob => {
                let wild = |b: &u8| *b == b'*' || *b == b'?';
                let first = t.iter().position(wild).unwrap_or(0);
                let last = t.iter().rposition(wild).map_or(t.len(), |i| i + 1);
                heads.push(&t[..first]);
                tails.push(&t[last..]);
                if first < last {
                    middles.extend(t[first..last].split(wild).filter(|m| !m.is_empty()));
                }
            }
            _ => {}
        }
    }
    let same = |a: &[u8], b: &[u8]| if nocase { eq_nocase(a, b) } else { a == b };
    let head = heads
        .iter()
        .copied()
        .max_by_key(|h| h.len())
        .unwrap_or_default();
    let tail = tails
        .iter()
        .copied()
        .max_by_key(|t| t.len())
        .unwrap_or_default();
    // Two heads (or tails) that disagree leave no name at all.
    if heads.iter().any(|h| !same(h, &head[..h.len()]))
        || tails
            .iter()
            .any(|t| !same(t, &tail[tail.len() - t.len()..]))
    {
        return (None, nocase);
    }
    if known.is_none()
        && let Some(n) = attempt(UNKNOWN)
    {
        return (Some(n), false);
    }
    let fills: [&[u8]; 6] = [
        &[f, f, f],
        &[],
        &[f],
        &[f, b'.', f],
        &[f, f, b'.', f, f, b'.', f, f],
        &[f, b'-', f],
    ];
    let mut name = Vec::with_capacity(64);
    for fill in fills {
        for with_middles in [false, true] {
            // A `.suffix` needs something before its dot.
            for extra in [&b""[..], &[f][..]] {
                name.clear();
                name.extend_from_slice(head);
                name.extend_from_slice(fill);
                if with_middles {
                    for m in &middles {
                        name.extend_from_slice(m);
                        name.extend_from_slice(fill);
                    }
                }
                name.extend_from_slice(extra);
                name.extend_from_slice(tail);
                if let Some(n) = attempt(&name) {
                    return (Some(n), false);
                }
            }
        }
    }
    for g in yes.iter().filter(|t| matches!(kind(t, flavor), Kind::Glob)) {
        for fill in fills {
            name.clear();
            for &b in *g {
                match b {
                    b'*' => name.extend_from_slice(fill),
                    b'?' => name.push(f),
                    _ => name.push(b),
                }
            }
            if let Some(n) = attempt(&name) {
                return (Some(n), false);
            }
        }
    }
    if known.is_none()
        && let Some(n) = attempt(PARANOID)
    {
        return (Some(n), false);
    }
    (None, false)
}
