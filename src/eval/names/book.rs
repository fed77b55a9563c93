//! The name book: is there a host name that gives all these answers, and which.

use super::*;

impl NameBook {
    pub(crate) fn add(&mut self, pred: &Pred, value: bool, flavor: Flavor) {
        self.top.add(pred, value, flavor);
    }

    /// Freeze what is known so far, so the worlds split from here share it.
    pub(crate) fn split(&mut self) -> NameBook {
        let top = std::mem::take(&mut self.top);
        self.frozen.push(Rc::new(top));
        self.clone()
    }

    pub(super) fn layers(&self) -> impl Iterator<Item = &Layer> {
        self.frozen
            .iter()
            .map(|l| &**l)
            .chain(std::iter::once(&self.top))
    }

    /// Does `name` give every answer recorded here, and `extra`?
    pub(crate) fn fits(&self, name: &[u8], extra: &[(Pred, bool)], flavor: Flavor) -> bool {
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
    pub(crate) fn search(&self, extra: &[(Pred, bool)], flavor: Flavor) -> Search {
        let mut yes: Vec<&[u8]> = Vec::new();
        let mut clean_yes: Vec<&[u8]> = Vec::new();
        let mut known = None;
        let mut local = None;
        let mut used = Bytes::default();
        for l in self.layers() {
            yes.extend(l.yes.iter().map(|t| &**t));
            clean_yes.extend(l.clean_yes.iter().map(|t| &**t));
            known = l.known.or(known);
            local = l.local.or(local);
            used.union(&l.used);
        }
        for (p, v) in extra {
            match p {
                Pred::NameMatches(t) if *v => yes.push(t),
                Pred::SanitizedNameMatches(t) if *v => clean_yes.push(t),
                Pred::NameMatches(t) | Pred::SanitizedNameMatches(t) => used.add_all(t),
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
        // Made-up names are built from the tokens as they read (a name that matches a
        // token without replaced bytes matches it sanitised too), so they are no longer
        // every possible name once a sanitised name must match something.
        let made: Vec<&[u8]> = yes.iter().chain(&clean_yes).copied().collect();
        let (found, exhaustive) = candidates(&made, known, &used, flavor, &mut |c| {
            self.fits(c, extra, flavor)
        });
        if let Some(name) = found {
            return Search::Found(name);
        }
        if exhaustive && clean_yes.is_empty() {
            return Search::Impossible;
        }
        self.solve(&yes, &clean_yes, known, local, extra, flavor)
    }

    /// The exact search: globs for what the name must and must not match, refined with
    /// each "no" answer the last name found breaks (there may be thousands; few matter).
    pub(super) fn solve(
        &self,
        yes: &[&[u8]],
        clean_yes: &[&[u8]],
        known: Option<bool>,
        local: Option<bool>,
        extra: &[(Pred, bool)],
        flavor: Flavor,
    ) -> Search {
        let raw = yes.iter().map(|t| solve::as_glob(t, flavor));
        let clean = clean_yes
            .iter()
            .map(|t| solve::as_glob(t, flavor).map(solve::Glob::sanitized));
        let Some(mut must) = raw.chain(clean).collect::<Option<Vec<_>>>() else {
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
            let clean = sanitized(&name);
            let raw_no = |t: &[u8]| solve::as_glob(t, flavor);
            let clean_no = |t: &[u8]| solve::as_glob(t, flavor).map(solve::Glob::sanitized);
            let broken = self
                .layers()
                .find_map(|l| l.matching_no(&name, &lower, flavor))
                .map(raw_no)
                .or_else(|| {
                    self.layers()
                        .find_map(|l| l.matching_clean_no(&name, flavor))
                        .map(clean_no)
                })
                .or_else(|| {
                    extra.iter().find_map(|(p, v)| match p {
                        Pred::NameMatches(t) if !*v && pattern::string_match(t, &name, flavor) => {
                            Some(raw_no(t))
                        }
                        Pred::SanitizedNameMatches(t)
                            if !*v && pattern::string_match(t, &clean, flavor) =>
                        {
                            Some(clean_no(t))
                        }
                        _ => None,
                    })
                });
            let refined = match broken {
                Some(Some(g)) => g,
                // A "no" answer the globs do not express.
                Some(None) => return Search::Unsure,
                // No answer explains it: the name itself is one no resolver gives (a
                // numeric address becomes `paranoid`, a mapped-IPv4 look-alike, too
                // long). Leaving out a name that does not fit loses no witness (seed
                // 0x7763706669780001 set 441: `10.*.1` and `10.0.0.?` share only
                // `10.0.0.1`).
                None if !name.iter().any(|&b| b == b'*' || b == b'?') => {
                    solve::Glob::new(&name, false)
                }
                None => return Search::Unsure,
            };
            if must_not.contains(&refined) {
                return Search::Unsure;
            }
            must_not.push(refined);
        }
        Search::Unsure
    }
}
