//! A plan, shown: its diff file by file, the summary lines, and its JSON object.

use super::*;
use crate::model::edit::{AfterRef, Edit};
use crate::repair::plan::Proposal;
use crate::report::screen;

/// The diff of a plan, file by file, written where it is shown: to the terminal, or into
/// the JSON document's `diff` string as it is written (a comment plan's diff is megabytes:
/// made as one string first, it was the peak of the run's memory).
#[derive(Clone, Copy)]
pub struct PlanDiff<'a> {
    pub plan: &'a Plan,
    /// The tables the plan was made for.
    pub tables: &'a Tables,
    pub paint: Paint,
}

impl std::fmt::Display for PlanDiff<'_> {
    fn fmt(&self, out: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for role in Role::BOTH {
            if self.plan.new[role].is_none() {
                continue;
            }
            let old = self.tables.get(role).document().map(Document::bytes);
            // From the edits themselves: they say which lines they replace.
            let mut edits: Vec<_> = self.plan.edits.iter().filter(|e| e.role == role).collect();
            edits.sort_by_key(|e| e.at);
            let changes: Vec<diff::Change<'_>> = edits
                .iter()
                .map(|e| diff::Change {
                    start: e.line.saturating_sub(1) as usize,
                    old_lines: crate::model::bytes::lines(&e.before).len(),
                    new: diff::New::Edit(e),
                })
                .collect();
            diff::write_changes(
                out,
                role.system_path(),
                old,
                &changes,
                "planned",
                self.paint,
            )?;
        }
        Ok(())
    }
}

/// A `diff` string of the JSON document: empty without a plan.
pub struct DiffOut<'a>(Option<PlanDiff<'a>>);

impl Serialize for DiffOut<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match &self.0 {
            // serde_json escapes the text as the diff writes it: no copy of it is made.
            Some(d) => s.collect_str(d),
            None => s.serialize_str(""),
        }
    }
}

/// The diff of a plan, unpainted, for the JSON document.
fn diff_out<'a>(plan: &'a Plan, tables: &'a Tables) -> DiffOut<'a> {
    DiffOut(Some(PlanDiff {
        plan,
        tables,
        paint: Paint(false),
    }))
}

/// The plan in words, then (with `diff`) its diff.
pub fn plan_human(
    out: &mut dyn Write,
    config: &Config,
    plan: &Plan,
    tables: &Tables,
    diff: bool,
) -> io::Result<()> {
    let p = Paint(config.color);
    let strategy = match plan.strategy {
        Strategy::Allow => "add an allow entry",
        Strategy::Comment => "comment out the refusing rules",
    };
    writeln!(out, "\n{} {strategy}", p.bold("Plan:"))?;
    for e in plan.edits.iter() {
        let what = match e.kind {
            EditKind::Insert => "insert before line",
            EditKind::Comment => "comment out line",
            EditKind::FinalNewline => "add the final newline to line",
        };
        let text = format!("{} {what} {}: {}", e.role, e.line, e.why);
        write!(out, "{}", wrap(&text, config.width, "  ", "    "))?;
    }
    let verified = format!("verified: {}", plan.verified);
    write!(out, "{}", wrap(&verified, config.width, "  ", "    "))?;
    if diff {
        writeln!(out)?;
        write!(
            out,
            "{}",
            PlanDiff {
                plan,
                tables,
                paint: p
            }
        )?;
    }
    Ok(())
}

/// One edit in the JSON document, borrowed from the plan: a plan commenting out 50,000
/// rules is written straight out, never built as a tree of values (that took 130 MB).
#[derive(Serialize)]
pub struct EditOut<'a> {
    file: &'static str,
    line: u32,
    kind: &'static str,
    before: bytes::BytesRef<'a>,
    after: AfterRef<'a>,
    why: &'a str,
}

/// A plan's edits in the JSON document, each made into its [`EditOut`] as it is written
/// (a comment plan has one per rule: 50,000 of them held 4.4 MB).
pub struct EditsOut<'a>(&'a [Edit]);

impl Serialize for EditsOut<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter().map(|e| EditOut {
            file: e.role.system_path(),
            line: e.line,
            kind: e.kind.name(),
            before: bytes::BytesRef(&e.before),
            after: AfterRef(e),
            why: &e.why,
        }))
    }
}

fn edits_out(plan: &Plan) -> EditsOut<'_> {
    EditsOut(&plan.edits)
}

/// The `plan` object of the JSON document (docs/json.md), in its key order.
#[derive(Serialize)]
pub struct PlanOut<'a> {
    strategy: Option<&'static str>,
    edits: EditsOut<'a>,
    diff: DiffOut<'a>,
    after: Value,
    /// A plan is only ever shown once verified; `verification` says what the check
    /// covered, in words.
    verified: bool,
    verification: String,
    nothing_to_do: bool,
    impossible: Option<String>,
    opens_to_everyone: Vec<String>,
    still_refused: Vec<Value>,
    offer: Option<OfferOut<'a>>,
}

/// The final-newline fix offered with a plan, in the JSON document.
#[derive(Serialize)]
pub struct OfferOut<'a> {
    why: &'static str,
    edits: EditsOut<'a>,
    diff: DiffOut<'a>,
    command: String,
}

/// The final-newline fix offered alongside a plan that leaves everyone else refused.
pub struct NewlineOffer<'a> {
    pub plan: &'a Plan,
    /// The tables it applies to (those the plan writes).
    pub tables: &'a Tables,
    /// The command that applies it.
    pub command: String,
}

/// The `plan` object of the JSON document: what planning concluded, for `--dry-run` and
/// repairs alike.
pub fn proposal_json<'a>(
    outcome: &'a Proposal,
    before: &'a Analysis,
    offer: Option<NewlineOffer<'a>>,
) -> PlanOut<'a> {
    let (opens, still) = match outcome {
        Proposal::Plan(p) => (
            screen::opens_to_everyone(before, &p.after),
            screen::still_refused_by_missing_newline(&p.after),
        ),
        _ => (Vec::new(), Vec::new()),
    };
    let mut out = PlanOut {
        strategy: None,
        edits: EditsOut(&[]),
        diff: DiffOut(None),
        after: Value::Array(Vec::new()),
        verified: true,
        verification: String::new(),
        nothing_to_do: matches!(outcome, Proposal::NothingToDo),
        impossible: None,
        opens_to_everyone: opens,
        still_refused: still
            .iter()
            .map(|d| json!({"daemon": d, "reason": "the last line of hosts.deny has no final newline"}))
            .collect(),
        offer: offer.map(|o| OfferOut {
            why: "every other client is still refused: the last line of hosts.deny has no final newline",
            edits: edits_out(o.plan),
            diff: diff_out(o.plan, o.tables),
            command: o.command,
        }),
    };
    match outcome {
        Proposal::Plan(p) => {
            out.strategy = Some(p.strategy.name());
            out.edits = edits_out(p);
            out.diff = diff_out(p, &before.tables);
            out.after = verdicts_json(&p.after);
            out.verification = p.verified.clone();
        }
        Proposal::NothingToDo => {
            out.after = verdicts_json(before);
            out.verification = "every target is already granted".into();
        }
        Proposal::Impossible(why) => {
            out.verified = false;
            out.verification = why.clone();
            out.impossible = Some(why.clone());
        }
    }
    out
}
