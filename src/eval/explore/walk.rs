//! One rule's walk over yes/no answers, depth first, and the leaves it gives.

use super::*;

/// Answers for one walk over a rule: the world's, then this walk's.
pub(crate) struct Walk<'k> {
    pub(super) known: &'k Knowledge,
    pub(super) script: Vec<bool>,
    pub(super) next: usize,
    pub(super) new: Vec<(Pred, bool)>,
    /// Where each of `new` is (a long list asks thousands of questions).
    pub(super) index: FxHashMap<Pred, usize>,
    /// The answer to a question past the script: "yes" while walking depth-first, "no"
    /// for the plain world's own walk.
    pub(super) beyond: bool,
    /// Questions of a long walk, kept once: each leaf of a `/file` list of n names asks
    /// again the names before its own (n²/2 answers sharing n tokens, not n²/2 copies).
    pub(super) interned: Option<&'k mut FxHashSet<Pred>>,
    /// The previous leaf's answers: a short walk asks its questions again in the same
    /// order, and keeps the token it already has (a ban list of 50,000 name patterns held
    /// two copies of each, one per leaf).
    pub(super) prior: &'k [(Pred, bool)],
}

impl crate::eval::run::Ask for Walk<'_> {
    fn ask(&mut self, pred: Pred) -> bool {
        if let Some(v) = self.known.get(&pred) {
            return v;
        }
        let known = if self.new.len() <= 8 {
            self.new.iter().position(|(p, _)| *p == pred)
        } else {
            self.index.get(&pred).copied()
        };
        if let Some(i) = known {
            return self.new[i].1;
        }
        let v = match self.script.get(self.next) {
            Some(&v) => v,
            None => {
                self.script.push(self.beyond);
                self.beyond
            }
        };
        self.next += 1;
        if self.new.len() == 8 {
            // A long list: look answers up by hash from now on.
            self.index = self
                .new
                .iter()
                .enumerate()
                .map(|(i, (p, _))| (p.clone(), i))
                .collect();
        }
        if self.new.len() >= 8 {
            self.index.insert(pred.clone(), self.new.len());
        }
        let pred = match self.interned.as_deref_mut() {
            Some(set) => match set.get(&pred) {
                Some(kept) => kept.clone(),
                None => {
                    set.insert(pred.clone());
                    pred
                }
            },
            None => match self.prior.get(self.new.len()) {
                Some((kept, _)) if *kept == pred => kept.clone(),
                _ => pred,
            },
        };
        self.new.push((pred, v));
        v
    }
}

/// One way a rule can go for one world.
pub(super) struct Leaf<'c> {
    pub(super) new: Vec<(Pred, bool)>,
    /// Stands for the combinations a cut-short walk did not try: may not exist.
    pub(super) guessed: bool,
    pub(super) end: RuleEnd,
    pub(super) req: Request<'c>,
    pub(super) aclexec_failed: bool,
    /// Set once the leaf is found possible: a name giving its answers, and whether the
    /// run is proven to exist.
    pub(super) witness: Option<Token>,
    pub(super) proven: bool,
}

/// One way a walk went: the new answers, and what `f` made of them.
pub(crate) type Answered<T> = (Vec<(Pred, bool)>, T);

/// Every way `f` can go for answers beyond `known`, in depth-first order ("yes" first, so
/// the last leaf answers "no" wherever it could). The flag says the walk was cut short;
/// its last leaf is then still the all-"no" one, walked on its own.
pub(crate) fn walk<T>(
    known: &Knowledge,
    f: impl FnMut(&mut Walk<'_>) -> T,
) -> (Vec<Answered<T>>, bool) {
    walk_until(known, f, |_| false)
}

/// [`walk`], ended as soon as `enough` says the leaves so far tell the caller all it needs
/// (the scan only asks "always, never, or it depends": a `/file` list of 4,000 names need
/// not be walked 4,000 times for that). Stopped early, the flag says nothing about a cut.
pub(crate) fn walk_until<T>(
    known: &Knowledge,
    mut f: impl FnMut(&mut Walk<'_>) -> T,
    enough: impl Fn(&[Answered<T>]) -> bool,
) -> (Vec<Answered<T>>, bool) {
    let mut script: Vec<bool> = Vec::new();
    let mut out = Vec::new();
    let mut interned: FxHashSet<Pred> = FxHashSet::default();
    loop {
        let mut w = Walk {
            known,
            script: std::mem::take(&mut script),
            next: 0,
            new: Vec::new(),
            index: FxHashMap::default(),
            beyond: true,
            // Only for long walks: most rules have two leaves.
            interned: (out.len() >= 16).then_some(&mut interned),
            prior: out
                .last()
                .map_or(&[][..], |(new, _): &Answered<T>| &new[..]),
        };
        let t = f(&mut w);
        script = w.script;
        let new = w.new;
        out.push((new, t));
        if enough(&out) {
            return (out, false);
        }
        // Next combination: flip the last "yes" to "no", forget what came after it.
        while script.last() == Some(&false) {
            script.pop();
        }
        match script.last_mut() {
            Some(last) => *last = false,
            None => return (out, false),
        }
        if out.len() >= MAX_LEAVES {
            // Cut short before the last leaf, the one answering "no" wherever it can: the
            // plain world's way through the rule. Walk it alone, so it is never missing
            // (seed 0x18ed468b6d013917 of the unnamed-client test: without it the report
            // led with a run that needs a name to match).
            let mut w = Walk {
                known,
                script: Vec::new(),
                next: 0,
                new: Vec::new(),
                index: FxHashMap::default(),
                beyond: false,
                interned: None,
                prior: &[],
            };
            let t = f(&mut w);
            out.push((w.new, t));
            return (out, true);
        }
    }
}
