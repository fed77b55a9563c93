//! Plans: the smallest edit that lets the targets in, proven by evaluating the planned bytes
//! (docs/write-protocol.md, Plans). Pure: bytes in, bytes out; [`crate::fsops`] does the writing.
//!
//! Every edit replaces whole physical lines at a logical-line boundary, so the rest of the
//! file is kept byte for byte, and records the exact bytes before and after so a rollback
//! can undo just this edit later even if other tools changed the file meanwhile.

use std::collections::BTreeSet;
use std::sync::Arc;

use crate::config::Strategy;
use crate::diagnose::analysis::{Analysis, Context};
use crate::eval::{Access, How, RuleLoc, TableProblem};
use crate::model::client::Client;
use crate::model::edit::{After, EditRecord, RecordKind};
use crate::model::flavor::Flavor;
use crate::model::options::Op;
use crate::model::pattern;
use crate::model::syntax::{self, Document, Entry, Unterminated};
use crate::model::tables::PerTable;
use crate::model::tables::{FileState, Role, TableFile, Tables};

mod allow;
mod comment;
mod mentioned;
mod newline;
mod records;
mod render;
mod verify;

use allow::*;
use comment::*;
pub use mentioned::*;
use newline::*;
pub use records::*;
pub use render::*;
pub use verify::*;

pub use crate::model::edit::{Edit, EditKind};

/// A verified plan.
#[derive(Debug, Clone)]
pub struct Plan {
    pub strategy: Strategy,
    /// Shared with the change request, which streams them into the manifest.
    pub edits: Arc<[Edit]>,
    /// The planned bytes of each table (allow, deny); `None` when it does not change.
    pub new: NewBytes,
    /// The verdicts after the change.
    pub after: Analysis,
    /// What verification covered, in words.
    pub verified: String,
}

/// Planned bytes per table, shared with the planned tables that verify them.
pub type NewBytes = PerTable<Option<Arc<Vec<u8>>>>;

/// What planning concluded.
#[derive(Debug)]
pub enum Proposal {
    /// Every target is already granted.
    NothingToDo,
    Plan(Box<Plan>),
    /// No safe plan: why.
    Impossible(String),
}

/// Most clients named in the files that the full verification evaluates one by one.
const MAX_MENTIONED: usize = 2_000;

/// Plan for `before` (the analysis of the current tables). `id` names the change set in
/// the marker lines.
pub fn make(ctx: &Context, before: &Analysis, strategy: Strategy, id: &str) -> Proposal {
    if before.all_granted() {
        return Proposal::NothingToDo;
    }
    let edits = match strategy {
        Strategy::Allow => allow_edits(ctx, before, id),
        Strategy::Comment => comment_edits(ctx, before, id),
    };
    let edits = match edits {
        Ok(e) => e,
        Err(why) => return Proposal::Impossible(why),
    };
    let new = render(&before.tables, &edits);
    // A table that cannot be read is never written, nor one that is not a regular file
    // (a directory, a FIFO) or that has nowhere to be created: no plan that needs one is
    // shown, let alone asked about.
    for role in Role::BOTH {
        if let (Some(_), Some(why)) = (&new[role], &before.tables.get(role).unwritable) {
            return Proposal::Impossible(why.clone());
        }
    }
    let planned = planned_tables(&before.tables, &new);
    match check(ctx, before, planned, &edits) {
        Ok((after, verified)) => Proposal::Plan(Box::new(Plan {
            strategy,
            edits: edits.into(),
            new,
            after,
            verified,
        })),
        Err(why) => Proposal::Impossible(why),
    }
}

/// Verify a plan: evaluating the planned bytes, every target is let in for every possible
/// host name; and no one else is refused who was let in before. The second holds by
/// construction for the edits wrapfix makes (see [`refuses_no_one_new`]); where it cannot
/// be shown that way, every client the files name is evaluated before and after. Returns
/// the verdicts after the change and what was checked, in words.
pub(crate) fn check(
    ctx: &Context,
    before: &Analysis,
    planned: Tables,
    edits: &[Edit],
) -> Result<(Analysis, String), String> {
    let after = ctx.after(before, planned, edits);
    targets_let_in(&after)?;
    let words = match refuses_no_one_new(&before.tables, edits, ctx) {
        Ok(why) => format!(
            "every target is let in for any host name (the planned bytes evaluated); no one else is refused who was let in before: {why}"
        ),
        Err(why_not) => {
            let words = verify_full(ctx, &before.tables, &after.tables)?;
            format!("{words} (evaluated one by one: {why_not})")
        }
    };
    Ok((after, words))
}

#[cfg(test)]
mod tests;
