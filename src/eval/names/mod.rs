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

use super::percent::sanitized;
use super::{Pred, Token, solve};
use crate::model::flavor::Flavor;
use crate::model::pattern::{self, PARANOID, UNKNOWN, eq_nocase};

mod book;
mod layer;
mod witness;

use witness::*;

/// libwrap keeps names in 128-byte fields: a name the daemon sees has at most 127 bytes.
const NAME_MAX: usize = 127;

/// The answers to name questions of one world, in layers shared with the worlds it was
/// split from.
#[derive(Clone, Default)]
pub(crate) struct NameBook {
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
    /// Tokens the name, once `%` expansion has sanitised it, does and does not match
    /// (one by one; only tokens with a literal `_` are asked so).
    clean_yes: Vec<Token>,
    clean_no: Vec<Token>,
    known: Option<bool>,
    local: Option<bool>,
    /// Bytes used by any token: a filler for made-up names avoids them.
    used: Bytes,
}

/// The result of looking for a name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Search {
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
pub(crate) fn is_bracketed(tok: &[u8]) -> bool {
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
pub(crate) fn answer(pred: &Pred, name: &[u8], flavor: Flavor) -> bool {
    match pred {
        Pred::NameMatches(tok) => pattern::string_match(tok, name, flavor),
        Pred::SanitizedNameMatches(tok) => pattern::string_match(tok, &sanitized(name), flavor),
        Pred::NameKnown => is_known(name),
        Pred::NameLocal => is_known(name) && !name.contains(&b'.'),
        _ => false,
    }
}

#[cfg(test)]
mod tests;
