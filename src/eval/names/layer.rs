//! One layer of the name book: the no-answers of one kind, indexed for the searches.

use super::*;

impl Layer {
    pub(super) fn add(&mut self, pred: &Pred, value: bool, flavor: Flavor) {
        match pred {
            Pred::SanitizedNameMatches(tok) => {
                self.used.add_all(tok);
                match value {
                    true => self.clean_yes.push(tok.clone()),
                    false => self.clean_no.push(tok.clone()),
                }
            }
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
    pub(super) fn contradicts(&self, name: &[u8], lower: &[u8], flavor: Flavor) -> bool {
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
            || self.clean_contradicts(name, flavor)
    }

    /// Does the sanitised `name` fail a token it should match, or match one it should not?
    fn clean_contradicts(&self, name: &[u8], flavor: Flavor) -> bool {
        if self.clean_yes.is_empty() && self.clean_no.is_empty() {
            return false;
        }
        let clean = sanitized(name);
        self.clean_yes
            .iter()
            .any(|t| !pattern::string_match(t, &clean, flavor))
            || self.matching_clean_no(name, flavor).is_some()
    }

    /// A token this layer says the sanitised name does not match, that `name`'s does.
    pub(super) fn matching_clean_no(&self, name: &[u8], flavor: Flavor) -> Option<&[u8]> {
        if self.clean_no.is_empty() {
            return None;
        }
        let clean = sanitized(name);
        self.clean_no
            .iter()
            .find(|t| pattern::string_match(t, &clean, flavor))
            .map(|t| &**t)
    }

    /// A token this layer says the name does not match, that `name` matches.
    pub(super) fn matching_no<'a>(
        &'a self,
        name: &[u8],
        lower: &[u8],
        flavor: Flavor,
    ) -> Option<&'a [u8]> {
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
