//! Is there a host name that matches every pattern of one list and none of another? An
//! exact answer for when made-up names (see [`super::names`]) do not fit.
//!
//! Every name pattern libwrap compares with a host name is a glob in disguise: a literal
//! name, `.suffix` (`?*.suffix`), `prefix.` (`prefix.*`), a glob. So the question is
//! whether an intersection of globs and complements of globs is empty, answered by a
//! breadth-first walk over the product of their position sets (a lazily built DFA). The
//! shortest name comes first; names are at most 127 bytes (libwrap's field).

use std::collections::VecDeque;

use rustc_hash::FxHashMap;

use super::names::is_bracketed;
use super::percent::expansion_ok;
use crate::model::flavor::Flavor;
use crate::model::pattern::eq_nocase;

/// libwrap keeps names in 128-byte fields.
const NAME_MAX: usize = 127;
/// Product states explored before giving up (never reached by real rules).
const MAX_STATES: usize = 20_000;

/// A glob: `*` any run, `?` one byte, letters compared without case when `nocase`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Glob {
    pat: Vec<u8>,
    nocase: bool,
    /// Matched against the name as `%` expansion sanitises it: a byte percent_x() does
    /// not keep reads as `_`.
    sanitized: bool,
}

impl Glob {
    /// libwrap's matcher ([`crate::model::pattern::glob`]) lets a `*` that is followed by
    /// another wildcard match only where the rest of the name is not empty (`**` does not
    /// match ""). That differs from a plain glob only where the rest of the pattern could
    /// match nothing: a run of two or more `*` at the end, which then needs at least one
    /// byte. So `X**…*` is the plain glob `X?*`, and the walk stays exact (it gave up on
    /// such globs before: seed 0x18ed3df259a83930 of the unnamed-client test).
    pub(super) fn new(pat: &[u8], nocase: bool) -> Glob {
        let pat = if pat.ends_with(b"**") {
            let head = pat.len() - pat.iter().rev().take_while(|&&b| b == b'*').count();
            [&pat[..head], b"?*"].concat()
        } else {
            pat.to_vec()
        };
        Glob {
            pat,
            nocase,
            sanitized: false,
        }
    }

    /// The same glob, matched against the sanitised name.
    pub(super) fn sanitized(self) -> Glob {
        Glob {
            sanitized: true,
            ..self
        }
    }

    fn same(&self, p: u8, c: u8) -> bool {
        let c = if self.sanitized && !expansion_ok(c) {
            b'_'
        } else {
            c
        };
        if self.nocase {
            p.eq_ignore_ascii_case(&c)
        } else {
            p == c
        }
    }

    /// Positions reachable without reading a byte.
    fn close(&self, set: &mut [bool]) {
        for i in 0..self.pat.len() {
            if set[i] && self.pat[i] == b'*' {
                set[i + 1] = true;
            }
        }
    }

    fn start(&self) -> Vec<bool> {
        let mut s = vec![false; self.pat.len() + 1];
        s[0] = true;
        self.close(&mut s);
        s
    }

    fn step(&self, set: &[bool], c: u8) -> Vec<bool> {
        let mut next = vec![false; set.len()];
        for (i, &on) in set.iter().enumerate().take(self.pat.len()) {
            if !on {
                continue;
            }
            match self.pat[i] {
                b'*' => next[i] = true,
                b'?' => next[i + 1] = true,
                p if self.same(p, c) => next[i + 1] = true,
                _ => {}
            }
        }
        self.close(&mut next);
        next
    }

    fn accepts(set: &[bool]) -> bool {
        set.last() == Some(&true)
    }

    /// From here every continuation matches (a position before a run of `*` to the end).
    fn matches_all_from(&self, set: &[bool]) -> bool {
        set.iter()
            .enumerate()
            .any(|(i, &on)| on && i < self.pat.len() && self.pat[i..].iter().all(|&b| b == b'*'))
    }
}

/// A name pattern as a glob, if it is one (`ALL`, `KNOWN`, brackets and Red Hat's
/// localhost spellings are not).
pub(super) fn as_glob(tok: &[u8], flavor: Flavor) -> Option<Glob> {
    let wild = tok.iter().any(|&b| b == b'*' || b == b'?');
    if wild {
        return Some(Glob::new(tok, flavor == Flavor::Debian));
    }
    if eq_nocase(tok, b"ALL") || eq_nocase(tok, b"KNOWN") || is_bracketed(tok) {
        return None;
    }
    if flavor != Flavor::Debian
        && (eq_nocase(tok, b"localhost") || eq_nocase(tok, b"localhost.localdomain"))
    {
        return None;
    }
    if tok.first() == Some(&b'.') {
        return Some(Glob::new(&[b"?*", tok].concat(), true));
    }
    if tok.last() == Some(&b'.') {
        return Some(Glob::new(&[tok, b"*"].concat(), true));
    }
    Some(Glob::new(tok, true))
}

/// A product state, the state and byte it was reached from, and its depth.
type Visit = (Vec<Vec<bool>>, Option<(usize, u8)>, usize);

#[derive(Debug, PartialEq, Eq)]
pub(super) enum Solved {
    Name(Vec<u8>),
    /// No name matches every `yes` and no `no` glob.
    Impossible,
    Unsure,
}

/// The shortest name matching every `yes` glob and no `no` glob.
pub(super) fn solve(yes: &[Glob], no: &[Glob]) -> Solved {
    let all: Vec<&Glob> = yes.iter().chain(no).collect();
    // Bytes that matter, plus one that no pattern names (any other byte acts the same).
    let mut alphabet: Vec<u8> = Vec::new();
    for g in &all {
        for &b in &g.pat {
            if b == b'*' || b == b'?' {
                continue;
            }
            let forms = if g.nocase {
                vec![b.to_ascii_lowercase(), b.to_ascii_uppercase()]
            } else {
                vec![b]
            };
            for f in forms {
                if !alphabet.contains(&f) {
                    alphabet.push(f);
                }
            }
        }
    }
    if let Some(fresh) = b"qzjxkvwyhgfbmp0123456789-_"
        .iter()
        .copied()
        .find(|b| !alphabet.iter().any(|a| a.eq_ignore_ascii_case(b)))
    {
        alphabet.push(fresh);
    }
    // A byte percent_x() replaces acts as `_` for a sanitised glob; `*` is never a
    // literal of any glob, so it stands for all of them.
    if all.iter().any(|g| g.sanitized) {
        alphabet.push(b'*');
    }
    let start: Vec<Vec<bool>> = all.iter().map(|g| g.start()).collect();
    let dead = |s: &[Vec<bool>]| {
        s[..yes.len()].iter().any(|set| !set.contains(&true))
            || no
                .iter()
                .zip(&s[yes.len()..])
                .any(|(g, set)| g.matches_all_from(set))
    };
    let accepted = |s: &[Vec<bool>]| {
        s[..yes.len()].iter().all(|set| Glob::accepts(set))
            && s[yes.len()..].iter().all(|set| !Glob::accepts(set))
    };
    if dead(&start) {
        return Solved::Impossible;
    }
    // Breadth first: each state with the byte and state it was reached from.
    let mut seen: FxHashMap<Vec<Vec<bool>>, usize> = FxHashMap::default();
    let mut states: Vec<Visit> = Vec::new();
    seen.insert(start.clone(), 0);
    states.push((start, None, 0));
    let mut queue = VecDeque::from([0usize]);
    while let Some(at) = queue.pop_front() {
        let depth = states[at].2;
        if depth >= NAME_MAX {
            continue;
        }
        for &c in &alphabet {
            let next: Vec<Vec<bool>> = all
                .iter()
                .zip(&states[at].0)
                .map(|(g, set)| g.step(set, c))
                .collect();
            if dead(&next) || seen.contains_key(&next) {
                continue;
            }
            if accepted(&next) {
                let mut name = vec![c];
                let mut back = states[at].1;
                while let Some((prev, b)) = back {
                    name.push(b);
                    back = states[prev].1;
                }
                name.reverse();
                return Solved::Name(name);
            }
            if states.len() >= MAX_STATES {
                return Solved::Unsure;
            }
            let id = states.len();
            seen.insert(next.clone(), id);
            states.push((next, Some((at, c)), depth + 1));
            queue.push_back(id);
        }
    }
    Solved::Impossible
}

#[cfg(test)]
mod tests {
    use super::*;

    fn g(p: &str) -> Glob {
        as_glob(p.as_bytes(), Flavor::Debian).unwrap()
    }

    #[test]
    fn a_suffix_inside_a_banned_glob_is_impossible() {
        assert_eq!(
            solve(&[g(".example.com")], &[g("*.example.com")]),
            Solved::Impossible
        );
        assert_eq!(solve(&[g("good.")], &[g("g*")]), Solved::Impossible);
    }

    #[test]
    fn globs_ending_in_two_stars_need_one_more_byte_and_stay_exact() {
        // `**x` matches what `*x` does in libwrap: a definite answer.
        assert_eq!(solve(&[g("a*x")], &[g("**x")]), Solved::Impossible);
        // `a**` does not match "a" (libwrap's `**` never matches ""), but every longer name.
        assert!(!crate::model::pattern::glob(b"a**", b"a", true));
        assert_eq!(solve(&[g("a")], &[g("a**")]), Solved::Name(b"a".to_vec()));
        assert_eq!(solve(&[g("ab.")], &[g("A***")]), Solved::Impossible);
        let Solved::Name(n) = solve(&[g("a***")], &[g("a")]) else {
            panic!("no name")
        };
        assert!(crate::model::pattern::glob(b"a***", &n, true), "{n:?}");
    }

    #[test]
    fn the_shortest_fitting_name_is_found() {
        let Solved::Name(n) = solve(&[g("*a*"), g("*b*")], &[g("*ab*"), g("b*")]) else {
            panic!("no name")
        };
        assert_eq!(n.len(), 3, "{}", String::from_utf8_lossy(&n));
        let Solved::Name(n) = solve(&[g(".example.com")], &[g("www.example.com")]) else {
            panic!("no name")
        };
        assert!(n.ends_with(b".example.com") && n.len() == 13);
    }

    #[test]
    fn case_sensitive_globs_need_the_right_case() {
        let yes = [Glob::new(b"A*", false)];
        let Solved::Name(n) = solve(&yes, &[g("a")]) else {
            panic!("no name")
        };
        assert_eq!(n[0], b'A');
    }
}
