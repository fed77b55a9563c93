//! What the explored worlds say about the client's host name, and the search for a name
//! that fits (a *witness*).
//!
//! A name question (`.example.com`, `good.`, `*.net`, `KNOWN`, `LOCAL`, a literal name) is
//! answered yes or no in each explored world, and the answers of one world must fit one
//! name. A ban list asks thousands of questions, almost all answered "no", so the "no"
//! answers are indexed by pattern kind: checking a candidate name costs a few hash
//! look-ups per byte of the name, not one match per rule. A world keeps the name found for
//! it and only searches again when a new answer does not fit that name.

use std::rc::Rc;

use rustc_hash::{FxHashMap, FxHashSet};

use super::{Pred, Token, solve};
use crate::model::flavor::Flavor;
use crate::model::pattern::{self, PARANOID, UNKNOWN, eq_nocase};

/// libwrap keeps names in 128-byte fields: a name the daemon sees has at most 127 bytes.
const NAME_MAX: usize = 127;

/// The answers to name questions of one world, in layers shared with the worlds it was
/// split from.
#[derive(Clone, Default)]
pub(super) struct NameBook {
    frozen: Vec<Rc<Layer>>,
    top: Layer,
}

#[derive(Clone, Default)]
struct Layer {
    /// Tokens the name matches.
    yes: Vec<Token>,
    /// Tokens the name does not match, by how `string_match` treats them (folded to
    /// lower case; the token itself when it already is).
    no_eq: FxHashSet<Token>,
    no_suffix: FxHashSet<Token>,
    no_prefix: FxHashSet<Token>,
    /// Globs by their literal head (before the first wildcard), or by their literal tail
    /// (after the last) when they start with a wildcard (`*.bad7.example.net`); each once.
    no_glob: FxHashMap<Vec<u8>, Vec<Token>>,
    no_glob_tail: FxHashMap<Vec<u8>, Vec<Token>>,
    /// The key lengths present in `no_glob` and `no_glob_tail` (up to the longest name):
    /// a name is looked up only at those lengths.
    head_lens: Lens,
    tail_lens: Lens,
    /// Anything else (checked one by one; rare).
    no_other: Vec<Token>,
    known: Option<bool>,
    local: Option<bool>,
    /// Bytes used by any token: a filler for made-up names avoids them.
    used: Bytes,
}

/// The result of looking for a name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Search {
    Found(Vec<u8>),
    /// No name can give these answers (the candidates tried are every possible name, up
    /// to letter case).
    Impossible,
    /// None of the names tried fits, but others might: the world is kept, marked unproven.
    Unsure,
}

/// A set of lengths from 0 to 127 (longer keys can match no name).
#[derive(Clone, Copy, Default)]
struct Lens(u128);

impl Lens {
    fn add(&mut self, len: usize) {
        if len < 128 {
            self.0 |= 1 << len;
        }
    }

    /// The lengths present, at most `max`.
    fn upto(self, max: usize) -> impl Iterator<Item = usize> {
        (0..=max.min(127)).filter(move |&l| self.0 & (1 << l) != 0)
    }
}

/// A set of bytes, letter case folded.
#[derive(Clone, Copy, Default)]
struct Bytes([u64; 4]);

impl Bytes {
    fn add_all(&mut self, s: &[u8]) {
        for &b in s {
            for c in [b.to_ascii_lowercase(), b.to_ascii_uppercase()] {
                self.0[usize::from(c >> 6)] |= 1 << (c & 63);
            }
        }
    }
    fn has(&self, b: u8) -> bool {
        self.0[usize::from(b >> 6)] & (1 << (b & 63)) != 0
    }
    fn union(&mut self, o: &Bytes) {
        for (a, b) in self.0.iter_mut().zip(o.0) {
            *a |= b;
        }
    }
}

/// How `string_match` reads a token compared with a name.
enum Kind {
    Eq,
    Suffix,
    Prefix,
    Glob,
    Other,
}

/// `[…]`: compared as an IPv6 address, never equal to a verified name.
pub(super) fn is_bracketed(tok: &[u8]) -> bool {
    tok.len() >= 2 && tok[0] == b'[' && tok[tok.len() - 1] == b']'
}

fn kind(tok: &[u8], flavor: Flavor) -> Kind {
    if tok.iter().any(|&b| b == b'*' || b == b'?') {
        Kind::Glob
    } else if tok.first() == Some(&b'.') {
        Kind::Suffix
    } else if eq_nocase(tok, b"ALL") || eq_nocase(tok, b"KNOWN") || is_bracketed(tok) {
        Kind::Other
    } else if tok.last() == Some(&b'.') {
        Kind::Prefix
    } else if flavor != Flavor::Debian
        && (eq_nocase(tok, b"localhost") || eq_nocase(tok, b"localhost.localdomain"))
    {
        // Red Hat treats the two spellings as one: not plain equality.
        Kind::Other
    } else {
        Kind::Eq
    }
}

/// A glob's key: the literal bytes before its first wildcard, folded as it compares.
fn glob_head(tok: &[u8], nocase: bool) -> Vec<u8> {
    let end = tok
        .iter()
        .position(|&b| b == b'*' || b == b'?')
        .unwrap_or(tok.len());
    fold(&tok[..end], nocase)
}

/// A glob's literal tail (after its last wildcard), folded as it compares.
fn glob_tail(tok: &[u8], nocase: bool) -> Vec<u8> {
    let start = tok
        .iter()
        .rposition(|&b| b == b'*' || b == b'?')
        .map_or(0, |i| i + 1);
    fold(&tok[start..], nocase)
}

fn fold(s: &[u8], nocase: bool) -> Vec<u8> {
    if nocase {
        s.to_ascii_lowercase()
    } else {
        s.to_vec()
    }
}

/// The token folded to lower case, shared when it already is.
fn lower(tok: &Token) -> Token {
    if tok.iter().any(u8::is_ascii_uppercase) {
        tok.to_ascii_lowercase().into()
    } else {
        tok.clone()
    }
}

fn is_known(name: &[u8]) -> bool {
    !eq_nocase(name, UNKNOWN) && !eq_nocase(name, PARANOID)
}

/// Does this name parse as a numeric address (what libwrap's reverse lookup checks)?
fn is_numeric(name: &[u8]) -> bool {
    pattern::dot_quad_addr(name).is_some()
        || std::str::from_utf8(name).is_ok_and(|n| n.parse::<std::net::IpAddr>().is_ok())
}

/// The answer a concrete name gives to a name question.
pub(super) fn answer(pred: &Pred, name: &[u8], flavor: Flavor) -> bool {
    match pred {
        Pred::NameMatches(tok) => pattern::string_match(tok, name, flavor),
        Pred::NameKnown => is_known(name),
        Pred::NameLocal => is_known(name) && !name.contains(&b'.'),
        _ => false,
    }
}

impl Layer {
    fn add(&mut self, pred: &Pred, value: bool, flavor: Flavor) {
        match pred {
            Pred::NameKnown => self.known = Some(value),
            Pred::NameLocal => self.local = Some(value),
            Pred::NameMatches(tok) => {
                self.used.add_all(tok);
                if value {
                    self.yes.push(tok.clone());
                    return;
                }
                let nocase = flavor == Flavor::Debian;
                match kind(tok, flavor) {
                    Kind::Eq => drop(self.no_eq.insert(lower(tok))),
                    Kind::Suffix => drop(self.no_suffix.insert(lower(tok))),
                    Kind::Prefix => drop(self.no_prefix.insert(lower(tok))),
                    Kind::Glob => {
                        let head = glob_head(tok, nocase);
                        let (map, lens, key) = if head.is_empty() {
                            let tail = glob_tail(tok, nocase);
                            (&mut self.no_glob_tail, &mut self.tail_lens, tail)
                        } else {
                            (&mut self.no_glob, &mut self.head_lens, head)
                        };
                        lens.add(key.len());
                        let bucket = map.entry(key).or_default();
                        if !bucket.iter().any(|t| t == tok) {
                            bucket.push(tok.clone());
                        }
                    }
                    Kind::Other => self.no_other.push(tok.clone()),
                }
            }
            _ => {}
        }
    }

    /// Does `name` (folded: `lower`) match a token this layer says it does not, or fail a
    /// token it says it does?
    fn contradicts(&self, name: &[u8], lower: &[u8], flavor: Flavor) -> bool {
        let known = is_known(name);
        self.known.is_some_and(|k| k != known)
            || self
                .local
                .is_some_and(|l| l != (known && !name.contains(&b'.')))
            || self
                .yes
                .iter()
                .any(|t| !pattern::string_match(t, name, flavor))
            || self.matching_no(name, lower, flavor).is_some()
    }

    /// A token this layer says the name does not match, that `name` matches.
    fn matching_no<'a>(&'a self, name: &[u8], lower: &[u8], flavor: Flavor) -> Option<&'a [u8]> {
        if let Some(t) = self.no_eq.get(lower) {
            return Some(t);
        }
        for (i, _) in lower.iter().enumerate().filter(|(_, b)| **b == b'.') {
            // `.suffix` needs a longer name; `prefix.` may be all of it.
            if i > 0
                && let Some(t) = self.no_suffix.get(&lower[i..])
            {
                return Some(t);
            }
            if let Some(t) = self.no_prefix.get(&lower[..=i]) {
                return Some(t);
            }
        }
        let key = if flavor == Flavor::Debian {
            lower
        } else {
            name
        };
        let hit = |globs: &'a Vec<Token>| {
            globs
                .iter()
                .find(|g| pattern::string_match(g, name, flavor))
                .map(|g| &**g)
        };
        for len in self.head_lens.upto(key.len()) {
            if let Some(g) = self.no_glob.get(&key[..len]).and_then(hit) {
                return Some(g);
            }
        }
        for len in self.tail_lens.upto(key.len()) {
            if let Some(g) = self.no_glob_tail.get(&key[key.len() - len..]).and_then(hit) {
                return Some(g);
            }
        }
        self.no_other
            .iter()
            .find(|t| pattern::string_match(t, name, flavor))
            .map(|t| &**t)
    }
}

impl NameBook {
    pub(super) fn add(&mut self, pred: &Pred, value: bool, flavor: Flavor) {
        self.top.add(pred, value, flavor);
    }

    /// Freeze what is known so far, so the worlds split from here share it.
    pub(super) fn split(&mut self) -> NameBook {
        let top = std::mem::take(&mut self.top);
        self.frozen.push(Rc::new(top));
        self.clone()
    }

    fn layers(&self) -> impl Iterator<Item = &Layer> {
        self.frozen
            .iter()
            .map(|l| &**l)
            .chain(std::iter::once(&self.top))
    }

    /// Does `name` give every answer recorded here, and `extra`?
    pub(super) fn fits(&self, name: &[u8], extra: &[(Pred, bool)], flavor: Flavor) -> bool {
        if name.is_empty() || name.len() > NAME_MAX {
            return false;
        }
        if extra
            .iter()
            .any(|(p, v)| p.is_name() && answer(p, name, flavor) != *v)
        {
            return false;
        }
        // A name that looks like a mapped IPv4 address is compared without its prefix:
        // the index does not know that, so take the slow road (never for made-up names).
        if flavor != Flavor::Rhel7 && pattern::strip_v4_mapped(name).len() != name.len() {
            return false;
        }
        // Debian and CentOS 6 turn a reverse name that is a numeric address into
        // `paranoid`: no verified name is one.
        if flavor != Flavor::Rhel7 && is_numeric(name) {
            return false;
        }
        let mut buf = [0u8; NAME_MAX];
        let lower = &mut buf[..name.len()];
        lower.copy_from_slice(name);
        lower.make_ascii_lowercase();
        !self.layers().any(|l| l.contradicts(name, lower, flavor))
    }

    /// Look for a name that gives every answer recorded here and `extra`.
    pub(super) fn search(&self, extra: &[(Pred, bool)], flavor: Flavor) -> Search {
        let mut yes: Vec<&[u8]> = Vec::new();
        let mut known = None;
        let mut local = None;
        let mut used = Bytes::default();
        for l in self.layers() {
            yes.extend(l.yes.iter().map(|t| &**t));
            known = l.known.or(known);
            local = l.local.or(local);
            used.union(&l.used);
        }
        for (p, v) in extra {
            match p {
                Pred::NameMatches(t) if *v => yes.push(t),
                Pred::NameMatches(t) => used.add_all(t),
                Pred::NameKnown => known = Some(*v),
                Pred::NameLocal => local = Some(*v),
                _ => {}
            }
        }
        if local == Some(true) {
            // LOCAL is a verified name without a dot.
            if known == Some(false) {
                return Search::Impossible;
            }
            known = Some(true);
        }
        let (found, exhaustive) = candidates(&yes, known, &used, flavor, &mut |c| {
            self.fits(c, extra, flavor)
        });
        if let Some(name) = found {
            return Search::Found(name);
        }
        if exhaustive {
            return Search::Impossible;
        }
        self.solve(&yes, known, local, extra, flavor)
    }

    /// The exact search: globs for what the name must and must not match, refined with
    /// each "no" answer the last name found breaks (there may be thousands; few matter).
    fn solve(
        &self,
        yes: &[&[u8]],
        known: Option<bool>,
        local: Option<bool>,
        extra: &[(Pred, bool)],
        flavor: Flavor,
    ) -> Search {
        let Some(mut must) = yes
            .iter()
            .map(|t| solve::as_glob(t, flavor))
            .collect::<Option<Vec<_>>>()
        else {
            return Search::Unsure;
        };
        // The made-up names included `unknown` and `paranoid` whenever they could fit:
        // what is left is a verified name.
        let mut must_not = vec![
            solve::Glob::new(UNKNOWN, true),
            solve::Glob::new(PARANOID, true),
        ];
        match (known, local) {
            (Some(false), _) => return Search::Impossible,
            (_, Some(true)) => must_not.push(solve::Glob::new(b"*.*", true)),
            (_, Some(false)) => must.push(solve::Glob::new(b"*.*", true)),
            _ => {}
        }
        for _ in 0..64 {
            let name = match solve::solve(&must, &must_not) {
                solve::Solved::Name(n) => n,
                solve::Solved::Impossible => return Search::Impossible,
                solve::Solved::Unsure => return Search::Unsure,
            };
            if self.fits(&name, extra, flavor) {
                return Search::Found(name);
            }
            // Which "no" answer does it break?
            let lower = name.to_ascii_lowercase();
            let broken = self
                .layers()
                .find_map(|l| l.matching_no(&name, &lower, flavor))
                .map(<[u8]>::to_vec)
                .or_else(|| {
                    extra.iter().find_map(|(p, v)| match p {
                        Pred::NameMatches(t) if !*v && pattern::string_match(t, &name, flavor) => {
                            Some(t.to_vec())
                        }
                        _ => None,
                    })
                });
            match broken.and_then(|t| solve::as_glob(&t, flavor)) {
                Some(g) if !must_not.contains(&g) => must_not.push(g),
                // Something the globs do not express (a mapped-IPv4-looking name, …).
                _ => return Search::Unsure,
            }
        }
        Search::Unsure
    }
}

/// Try made-up names on `fits` until one does; also says whether the names tried are
/// every name that could give these answers (up to letter case where every comparison
/// ignores it). Built one at a time: the first or second usually fits.
fn candidates(
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

#[cfg(test)]
mod tests {
    use super::*;

    fn pred(t: &str) -> Pred {
        Pred::NameMatches(t.as_bytes().into())
    }

    fn book(answers: &[(Pred, bool)]) -> NameBook {
        let mut b = NameBook::default();
        for (p, v) in answers {
            b.add(p, *v, Flavor::Debian);
        }
        b
    }

    fn found(s: Search) -> String {
        match s {
            Search::Found(n) => String::from_utf8(n).unwrap(),
            other => panic!("no name: {other:?}"),
        }
    }

    #[test]
    fn a_name_avoids_thousands_of_banned_globs() {
        let no: Vec<(Pred, bool)> = (0..3000)
            .map(|i| (pred(&format!("113.98.{}.*", i % 256)), false))
            .chain([(pred(".example.com"), false), (pred("good."), false)])
            .collect();
        let b = book(&no);
        let name = found(b.search(&[(pred("113.98.7.*"), false)], Flavor::Debian));
        assert!(b.fits(name.as_bytes(), &[], Flavor::Debian));
        assert!(!b.fits(b"113.98.7.x", &[], Flavor::Debian));
        assert!(!b.fits(b"a.example.com", &[], Flavor::Debian));
        assert!(!b.fits(b"good.x", &[], Flavor::Debian));
    }

    #[test]
    fn suffix_prefix_and_glob_answers_combine() {
        let b = book(&[(pred(".example.com"), true), (pred("*.example.*"), true)]);
        let n = found(b.search(&[(pred("www.example.com"), false)], Flavor::Debian));
        assert!(n.ends_with(".example.com") && n != "www.example.com", "{n}");
        let n = found(book(&[(pred("a*"), true), (pred("*b"), true)]).search(&[], Flavor::Debian));
        assert!(n.starts_with('a') && n.ends_with('b'), "{n}");
    }

    #[test]
    fn impossible_answers_are_told_apart_from_unfound_names() {
        // KNOWN no, UNKNOWN no, PARANOID no: no name is left.
        let b = book(&[
            (Pred::NameKnown, false),
            (pred("UNKNOWN"), false),
            (pred("PARANOID"), false),
        ]);
        assert_eq!(b.search(&[], Flavor::Debian), Search::Impossible);
        // A literal name that a suffix answer excludes.
        let b = book(&[(pred(".example.com"), false)]);
        assert_eq!(
            b.search(&[(pred("good.example.com"), true)], Flavor::Debian),
            Search::Impossible
        );
        // LOCAL needs a verified name without a dot.
        let n = found(book(&[(Pred::NameLocal, true)]).search(&[], Flavor::Debian));
        assert!(!n.contains('.') && n != "unknown" && n != "paranoid", "{n}");
    }

    #[test]
    fn a_numeric_address_is_no_witness_where_libwrap_calls_it_paranoid() {
        // `*::1` could only match the name "::1", which Debian's lookup never verifies.
        let s = book(&[]).search(&[(pred("*::1"), true)], Flavor::Debian);
        assert!(!matches!(&s, Search::Found(n) if n == b"::1"), "{s:?}");
        assert!(!book(&[]).fits(b"10.0.0.1", &[], Flavor::Debian));
        assert!(book(&[]).fits(b"10.0.0.1", &[], Flavor::Rhel7));
    }

    #[test]
    fn a_name_longer_than_libwraps_field_is_no_witness() {
        let long = "a".repeat(200);
        assert_eq!(
            book(&[]).search(&[(pred(&long), true)], Flavor::Debian),
            Search::Impossible
        );
    }
}
