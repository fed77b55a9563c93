//! The exploration itself: worlds carried rule by rule through both tables, split by each rule's questions, merged when too many.

use super::*;

/// Where we are in `hosts_access()`.
pub(super) struct Explorer<'t, 'e> {
    pub(super) env: &'t Env<'e>,
    pub(super) files: FileCache,
    pub(super) outcomes: Vec<Outcome>,
    pub(super) questions: Vec<Question>,
    pub(super) widened: bool,
    /// Planning a comment edit: rules that refuse in some world are noted here and read
    /// past as if commented out (`None`: evaluate as libwrap does).
    pub(super) refusers: Option<Vec<Refuser>>,
}

pub(crate) fn explore(
    tables: &Tables,
    candidates: Option<&Candidates>,
    daemon: &str,
    client: &Client,
    env: &Env<'_>,
) -> Verdict {
    explore_with(tables, candidates, daemon, client, env, false).0
}

/// [`explore`]; with `transparent`, every rule that refuses in some world is also noted and
/// read past, as if commented out (the comment strategy's plan, in one pass).
pub(crate) fn explore_with(
    tables: &Tables,
    candidates: Option<&Candidates>,
    daemon: &str,
    client: &Client,
    env: &Env<'_>,
    transparent: bool,
) -> (Verdict, Vec<Refuser>) {
    // A run and a question per candidate rule is the shape of a ban list of name patterns:
    // room made once, not by doubling (whose freed halves stay in the process).
    let expected = candidates.map_or(0, |c| c.allow.len() + c.deny.len());
    let mut ex = Explorer {
        env,
        files: FileCache::default(),
        outcomes: Vec::with_capacity(expected + 1),
        questions: Vec::with_capacity(expected),
        widened: false,
        refusers: transparent.then(Vec::new),
    };
    let first = World {
        known: Box::default(),
        witness: None,
        proven: true,
        facts: None,
        req: Request::new(daemon.as_bytes(), client, env.mode),
        aclexec_failed: false,
        plain: true,
    };
    let mut worlds = vec![first];
    // hosts.allow: a YES grants; NO, a void rule or an error go on to hosts.deny.
    let mut to_deny = Vec::new();
    ex.table(&tables.allow, candidates, &mut worlds, &mut to_deny);
    worlds.append(&mut to_deny);
    if let FileState::Unreadable(e) = &tables.deny.state {
        let how = How::DenyTableError(TableProblem::Unreadable(e.clone()));
        if let Some(r) = &mut ex.refusers {
            r.push(Refuser {
                loc: RuleLoc {
                    role: Role::Deny,
                    line: 0,
                },
                pos: 0,
                how: how.clone(),
            });
        }
        for w in worlds.drain(..) {
            ex.end(w, Decision::new(false, how.clone(), None));
        }
    }
    ex.table(&tables.deny, candidates, &mut worlds, &mut to_deny);
    // hosts.deny read to its end: granted.
    for w in worlds {
        ex.end(w, Decision::new(true, How::NoMatch, None));
    }
    let refusers = ex.refusers.take().unwrap_or_default();
    (ex.finish(), refusers)
}

impl Explorer<'_, '_> {
    /// Walk one table. Worlds still undecided at its end stay in `worlds`; worlds whose
    /// table answered NO early (a void rule, an allow-file error) go to `void`.
    pub(super) fn table<'c>(
        &mut self,
        file: &TableFile,
        candidates: Option<&Candidates>,
        worlds: &mut Vec<World<'c>>,
        void: &mut Vec<World<'c>>,
    ) {
        let FileState::Present(doc) = &file.state else {
            return;
        };
        let role = file.role;
        let flavor = self.env.flavor;
        let mut visit = |ex: &mut Self, pos: usize, entry: Entry<'_>| -> bool {
            match entry {
                Entry::Rule(rule) => ex.rule(role, pos, &rule, worlds, void),
                Entry::TableError(l, why) => {
                    let r = rule_ref(role, l.line, &l.text);
                    if role == Role::Deny && ex.refusers.is_some() {
                        ex.repaired_line(pos, &l, why, worlds, void);
                        return !worlds.is_empty();
                    }
                    for w in worlds.drain(..) {
                        if role == Role::Allow {
                            void.push(w);
                        } else {
                            let how = How::DenyTableError(TableProblem::Unterminated(why));
                            ex.end(w, Decision::new(false, how, Some(r.clone())));
                        }
                    }
                }
                Entry::Hang(l) => {
                    let r = rule_ref(role, l.line, &l.text);
                    if let Some(refusers) = &mut ex.refusers {
                        refusers.push(Refuser {
                            loc: r.loc,
                            pos,
                            how: How::Hang,
                        });
                    }
                    for w in worlds.drain(..) {
                        ex.end(w, Decision::new(false, How::Hang, Some(r.clone())));
                    }
                }
                _ => {}
            }
            !worlds.is_empty()
        };
        match candidates {
            None => {
                let mut entries = doc.entries(flavor);
                loop {
                    let (pos, _) = entries.position();
                    let Some(e) = entries.next() else { break };
                    if !visit(self, pos, e) {
                        break;
                    }
                }
            }
            Some(c) => {
                for &(pos, line) in &c[role] {
                    let Some(e) = doc.entries_from(flavor, pos, line).next() else {
                        continue;
                    };
                    if !visit(self, pos, e) {
                        break;
                    }
                }
            }
        }
    }

    /// Split every world by what this rule asks.
    pub(super) fn rule<'c>(
        &mut self,
        role: Role,
        pos: usize,
        rule: &Rule<'_>,
        worlds: &mut Vec<World<'c>>,
        void: &mut Vec<World<'c>>,
    ) {
        let at = RuleLoc {
            role,
            line: rule.logical.line,
        };
        // Made once, and only if a run ends here (most rules of a ban list end none).
        let mut this: Option<RuleRef> = None;
        let mut next: Vec<World<'c>> = Vec::with_capacity(worlds.len());
        for world in worlds.drain(..) {
            let mut leaves = self.leaves(&world, rule);
            self.note_questions(&leaves, at, pos);
            if let Some(how) = self.refusal(&world, &leaves, role)
                && let Some(refusers) = &mut self.refusers
            {
                // Commented out: the rule is not there, for any world. (Its other worlds
                // come right after: only the last entry can be this rule.)
                let noted = refusers
                    .last()
                    .is_some_and(|r| r.loc == at && !matches!(r.how, How::DenyTableError(_)));
                if !noted {
                    refusers.push(Refuser { loc: at, pos, how });
                }
                next.push(world);
                continue;
            }
            // Keep the leaves some world can give, with their witness (in place: this runs
            // for every rule and world).
            leaves.retain_mut(|leaf| match self.feasible(&world, &leaf.new) {
                Some((witness, proven)) => {
                    leaf.witness = witness;
                    leaf.proven = proven && !leaf.guessed;
                    true
                }
                None => false,
            });
            let kept = leaves;
            // The plain world goes on in the last kept leaf that is proven (else the last).
            let plain_at = if world.plain {
                kept.iter()
                    .rposition(|k| k.proven)
                    .or(kept.len().checked_sub(1))
            } else {
                None
            };
            let mut decided = |granted, how| {
                let r = this.get_or_insert_with(|| rule_ref(role, rule.logical.line, rule.text()));
                Decision::new(granted, how, Some(r.clone()))
            };
            let goes = |leaf: &Leaf<'_>| {
                matches!(
                    (&leaf.end, role),
                    (RuleEnd::NoMatch, _) | (RuleEnd::Void, Role::Allow)
                )
            };
            // The worlds that read on; the last one takes the parent's answers over.
            let last = kept.iter().filter(|l| goes(l)).count();
            let mut k = 0;
            let base = world.facts.clone();
            // The leaves' facts, shared where consecutive leaves agree: a walk's next leaf
            // keeps the answers before the one it flips (a `/file` list of n names gives n
            // leaves and n²/2 answers, but only n distinct facts).
            let mut chain: Vec<(Pred, bool, std::sync::Arc<Fact>)> = Vec::new();
            let mut facts_of = |new: &[(Pred, bool)]| {
                let common = chain
                    .iter()
                    .zip(new)
                    .take_while(|((p, v, _), (q, w))| v == w && p == q)
                    .count();
                chain.truncate(common);
                for (p, v) in &new[common..] {
                    let prev = chain.last().map(|c| c.2.clone()).or_else(|| base.clone());
                    let fact = Fact::push(prev, p.clone(), *v, at);
                    chain.push((p.clone(), *v, fact));
                }
                chain.last().map(|c| c.2.clone()).or_else(|| base.clone())
            };
            let mut parent = Some(world);
            for (i, leaf) in kept.into_iter().enumerate() {
                let decision = match (&leaf.end, role) {
                    (RuleEnd::NoMatch, _) | (RuleEnd::Void, Role::Allow) => None,
                    (RuleEnd::Void, Role::Deny) => Some(decided(true, How::AclexecVoid)),
                    (RuleEnd::Match, Role::Allow) => Some(decided(true, How::AllowRule)),
                    (RuleEnd::Match, Role::Deny) => Some(decided(false, How::DenyRule)),
                    (RuleEnd::Jump(how, granted), _) => Some(decided(*granted, how.clone())),
                    (RuleEnd::Crash, _) => Some(decided(false, How::Crash)),
                };
                if let Some(decision) = decision {
                    let facts = facts_of(&leaf.new);
                    self.outcomes.push(Outcome {
                        decision,
                        facts,
                        witness: leaf.witness,
                        proven: leaf.proven,
                        plain: plain_at == Some(i),
                    });
                    continue;
                }
                k += 1;
                let mut child = if k == last {
                    match parent.take() {
                        Some(w) => w,
                        None => break,
                    }
                } else {
                    let Some(p) = parent.as_mut() else { break };
                    World {
                        known: Box::new(p.known.split()),
                        witness: None,
                        proven: p.proven,
                        facts: p.facts.clone(),
                        req: p.req.clone(),
                        aclexec_failed: p.aclexec_failed,
                        plain: p.plain,
                    }
                };
                child.plain = plain_at == Some(i);
                child.witness = leaf.witness;
                child.proven = leaf.proven;
                child.req = leaf.req;
                child.aclexec_failed = leaf.aclexec_failed;
                child.facts = facts_of(&leaf.new);
                for (p, v) in &leaf.new {
                    child.known.add(p, *v, self.env);
                }
                match leaf.end {
                    RuleEnd::Void => void.push(child),
                    _ => next.push(child),
                }
            }
        }
        if next.len() > MAX_WORLDS {
            next = self.widen(next);
        }
        *worlds = next;
    }

    /// Planning a comment edit, at a last line of hosts.deny without its newline: note the
    /// newline to add, then read the line as the rule it becomes.
    pub(super) fn repaired_line<'c>(
        &mut self,
        pos: usize,
        l: &crate::model::syntax::Logical<'_>,
        why: Unterminated,
        worlds: &mut Vec<World<'c>>,
        void: &mut Vec<World<'c>>,
    ) {
        let loc = RuleLoc {
            role: Role::Deny,
            line: l.line,
        };
        let how = How::DenyTableError(TableProblem::Unterminated(why));
        if let Some(r) = &mut self.refusers {
            r.push(Refuser { loc, pos, how });
        }
        if why != Unterminated::MissingNewline {
            // A line too long stops libwrap whatever is done to it: no comment helps.
            let r = rule_ref(Role::Deny, l.line, &l.text);
            for w in worlds.drain(..) {
                let how = How::DenyTableError(TableProblem::Unterminated(why));
                self.end(w, Decision::new(false, how, Some(r.clone())));
            }
            return;
        }
        let mut fixed = l.text.to_vec();
        fixed.push(b'\n');
        let doc = Document::new(fixed);
        let len = doc.bytes().len();
        if let Some(Entry::Rule(rule)) = doc.entries_between(self.env.flavor, 0, l.line, len).next()
        {
            self.rule(Role::Deny, pos, &rule, worlds, void);
        }
    }

    /// Every way the rule can go for this world.
    pub(super) fn leaves<'c>(&mut self, world: &World<'c>, rule: &Rule<'_>) -> Vec<Leaf<'c>> {
        let env = self.env;
        let files = &mut self.files;
        let (found, cut) = walk(&world.known, |w| {
            let mut run = Run::new(env, world.req.clone(), world.aclexec_failed, files, w);
            let end = run.rule(rule);
            (end, run.req, run.aclexec_failed)
        });
        let mut leaves: Vec<Leaf<'c>> = found
            .into_iter()
            .map(|(new, (end, req, aclexec_failed))| Leaf {
                new,
                guessed: false,
                end,
                req,
                aclexec_failed,
                witness: None,
                proven: false,
            })
            .collect();
        if cut {
            // Not every combination was tried: add "it does not match" and "it matches"
            // worlds with no new answers, so no possible run is missing.
            self.widened = true;
            for end in [RuleEnd::NoMatch, RuleEnd::Match] {
                leaves.push(Leaf {
                    new: Vec::new(),
                    guessed: true,
                    end,
                    req: world.req.clone(),
                    aclexec_failed: world.aclexec_failed,
                    witness: None,
                    proven: false,
                });
            }
        }
        leaves
    }

    /// Planning a comment edit: how the first possible leaf that refuses does so (`None`
    /// when none refuses, or when not planning). The other leaves need no name search:
    /// the world reads on as if the rule were not there.
    pub(super) fn refusal(
        &self,
        world: &World<'_>,
        leaves: &[Leaf<'_>],
        role: Role,
    ) -> Option<How> {
        self.refusers.as_ref()?;
        leaves
            .iter()
            .filter(|l| refuses(&l.end, role))
            .find(|l| self.feasible(world, &l.new).is_some())
            .map(|l| how_of(&l.end, role))
    }

    /// The questions of this rule, once each: the rule's questions are the last ones
    /// noted (a rule asks a handful, worlds ask the same ones).
    pub(super) fn note_questions(&mut self, leaves: &[Leaf<'_>], at: RuleLoc, pos: usize) {
        let first = self
            .questions
            .iter()
            .rposition(|q| q.at != at)
            .map_or(0, |i| i + 1);
        // By hash past a few: a `/file` list of 4,000 names asks 4,000 questions in one
        // rule, and each of its leaves repeats those before it.
        let mut seen: rustc_hash::FxHashSet<Pred> = rustc_hash::FxHashSet::default();
        for leaf in leaves {
            for (p, _) in &leaf.new {
                let asked = if self.questions.len() - first <= 8 {
                    self.questions[first..].iter().any(|q| q.pred == *p)
                } else {
                    if seen.is_empty() {
                        seen.extend(self.questions[first..].iter().map(|q| q.pred.clone()));
                    }
                    !seen.insert(p.clone())
                };
                if !asked {
                    self.questions.push(Question {
                        pred: p.clone(),
                        at,
                        pos,
                    });
                }
            }
        }
    }

    /// Can this world give these new answers? Returns the witness name and whether the
    /// world is proven possible; `None` when it is impossible.
    pub(super) fn feasible(
        &self,
        world: &World<'_>,
        new: &[(Pred, bool)],
    ) -> Option<(Option<Token>, bool)> {
        let mut ports = new.iter().filter_map(|(p, v)| match (p, v) {
            (Pred::ServerPort(p), true) => Some(*p),
            _ => None,
        });
        if let Some(p) = ports.next()
            && (ports.next().is_some() || world.known.port.is_some_and(|q| q != p))
        {
            return None;
        }
        if !new.iter().any(|(p, _)| p.is_name()) {
            return Some((world.witness.clone(), world.proven));
        }
        let flavor = self.env.flavor;
        // The world's name gives all its earlier answers: only the new ones need checking.
        if let Some(w) = &world.witness
            && new
                .iter()
                .all(|(p, v)| !p.is_name() || names::answer(p, w, flavor) == *v)
        {
            return Some((Some(w.clone()), world.proven));
        }
        match world.known.names.search(new, flavor) {
            Search::Found(w) => Some((Some(w.into()), world.proven)),
            Search::Impossible => None,
            Search::Unsure => Some((None, false)),
        }
    }

    /// Merge every world but the plain one into one that keeps the answers they share.
    pub(super) fn widen<'c>(&mut self, worlds: Vec<World<'c>>) -> Vec<World<'c>> {
        self.widened = true;
        let (mut out, rest): (Vec<_>, Vec<_>) = worlds.into_iter().partition(|w| w.plain);
        // Worlds merge only with worlds whose request strings and aclexec flag are the same.
        let mut groups: Vec<Vec<World<'c>>> = Vec::new();
        for w in rest {
            match groups
                .iter_mut()
                .find(|g| g[0].req == w.req && g[0].aclexec_failed == w.aclexec_failed)
            {
                Some(g) => g.push(w),
                None => groups.push(vec![w]),
            }
        }
        for g in groups {
            let maps: Vec<FxHashMap<Pred, bool>> = g.iter().map(|w| w.known.all()).collect();
            let mut known = Knowledge::default();
            if let Some((first, others)) = maps.split_first() {
                for (p, v) in first {
                    if others.iter().all(|m| m.get(p) == Some(v)) {
                        known.add(p, *v, self.env);
                    }
                }
            }
            let Some(w) = g.into_iter().next() else {
                continue;
            };
            out.push(World {
                known: Box::new(known),
                witness: None,
                proven: false,
                facts: None,
                req: w.req,
                aclexec_failed: w.aclexec_failed,
                plain: false,
            });
        }
        out
    }

    /// A world's run ends here.
    pub(super) fn end(&mut self, world: World<'_>, decision: Decision) {
        self.outcomes.push(Outcome {
            decision,
            facts: world.facts,
            witness: world.witness,
            proven: world.proven,
            plain: world.plain,
        });
    }

    pub(super) fn finish(self) -> Verdict {
        let fates = |f: Fate| self.outcomes.iter().any(|o| o.fate() == f);
        let access = match (
            fates(Fate::Granted),
            fates(Fate::Denied),
            fates(Fate::Hangs),
        ) {
            (true, false, false) => Access::Granted,
            (false, true, false) | (false, false, true) => Access::Denied,
            // Some run grants and another does not, or one refuses and another hangs.
            _ => Access::Depends,
        };
        let plain = self
            .outcomes
            .iter()
            .position(|o| o.plain)
            .unwrap_or_default();
        // Kept as long as the run (a ban list of name patterns has a run per rule): give
        // back what growing by doubling left over.
        let (mut outcomes, mut questions) = (self.outcomes, self.questions);
        outcomes.shrink_to_fit();
        questions.shrink_to_fit();
        Verdict {
            access,
            outcomes,
            plain,
            questions,
            widened: self.widened,
        }
    }
}
