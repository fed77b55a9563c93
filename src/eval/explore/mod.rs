//! Every possible run of `hosts_access()` for one request, found rule by rule.
//!
//! A table is a decision list: the first matching rule decides. So instead of re-running
//! libwrap once per combination of answers to the unknowns, we walk the rules once,
//! carrying the set of *worlds* still undecided (usually one: "none of the questions so far
//! holds"). At each rule, each world is split by the rule's own new questions (a small
//! depth-first walk over yes/no answers, in [`Walk`]); the answers that make the rule
//! decide end a run, the others go on to the next rule. Answers that no host name can give
//! together are dropped ([`NameBook::search`]), so each run kept is reproducible, with a
//! witness name where a name decides it. Time is linear in the rules for the shapes real
//! files have.
//!
//! The *plain world* is the one that answers "no" to every question it can: no name
//! pattern, `daemon@host`, port or netgroup matches, no aclexec command succeeds (unless an
//! earlier answer forces otherwise). Reports lead with it.

use std::rc::Rc;

use rustc_hash::{FxHashMap, FxHashSet};

use super::{
    Access, Assumption, Candidates, Decision, Env, Fact, Fate, How, Outcome, Pred, Question,
    RuleLoc, RuleRef, TableProblem, Token, Verdict,
};
use crate::eval::names::{self, NameBook, Search};
use crate::eval::run::{FileCache, Request, RuleEnd, Run};
use crate::model::client::Client;
use crate::model::syntax::{Document, Entry, Rule, Unterminated};
use crate::model::tables::{FileState, Role, TableFile, Tables};

mod explorer;
mod facts;
mod walk;

pub(crate) use explorer::*;
pub use facts::Refuser;
pub(crate) use facts::*;
pub(crate) use walk::*;

/// One rule's walk over answers stops here and keeps what it found plus an "anything
/// else" world (never reached by the rules of real files).
const MAX_LEAVES: usize = 4096;
/// Worlds carried at once; past this the non-plain worlds are merged into one that keeps
/// only the answers they share (more worlds than really exist, never fewer).
const MAX_WORLDS: usize = 256;

/// Answers given so far in one world, shared in layers with the worlds it was split from.
#[derive(Clone, Default)]
pub(crate) struct Knowledge {
    frozen: Vec<Rc<FxHashMap<Pred, bool>>>,
    top: FxHashMap<Pred, bool>,
    names: NameBook,
    /// The server port answered "yes" (a daemon listens on one port).
    port: Option<u16>,
}

impl Knowledge {
    fn get(&self, pred: &Pred) -> Option<bool> {
        self.top
            .get(pred)
            .or_else(|| self.frozen.iter().rev().find_map(|m| m.get(pred)))
            .copied()
    }

    fn add(&mut self, pred: &Pred, value: bool, env: &Env<'_>) {
        if pred.is_name() {
            self.names.add(pred, value, env.flavor);
        }
        if let (Pred::ServerPort(p), true) = (pred, value) {
            self.port = Some(*p);
        }
        self.top.insert(pred.clone(), value);
    }

    fn split(&mut self) -> Knowledge {
        let top = std::mem::take(&mut self.top);
        self.frozen.push(Rc::new(top));
        Knowledge {
            frozen: self.frozen.clone(),
            top: FxHashMap::default(),
            names: self.names.split(),
            port: self.port,
        }
    }

    fn all(&self) -> FxHashMap<Pred, bool> {
        let mut out = FxHashMap::default();
        for m in &self.frozen {
            out.extend(m.iter().map(|(p, v)| (p.clone(), *v)));
        }
        out.extend(self.top.iter().map(|(p, v)| (p.clone(), *v)));
        out
    }
}

/// One undecided world.
struct World<'c> {
    known: Box<Knowledge>,
    /// A host name giving every name answer (None: none asked yet, or none found).
    witness: Option<Token>,
    /// False once a name search was unsure or worlds were merged: its runs may not exist.
    proven: bool,
    facts: Option<std::sync::Arc<Fact>>,
    req: Request<'c>,
    aclexec_failed: bool,
    plain: bool,
}

#[cfg(test)]
mod tests;
