//! A plan, shown: its diff file by file, the summary lines, and its JSON object.

use super::*;
use crate::repair::plan::Proposal;
use crate::report::screen;

/// The diff of a plan, file by file.
pub fn plan_diff(plan: &Plan, tables: &Tables, p: Paint) -> String {
    let mut out = String::new();
    for role in Role::BOTH {
        if plan.new[role].is_none() {
            continue;
        }
        let old = tables.get(role).document().map(Document::bytes);
        // From the edits themselves: they say which lines they replace.
        let mut edits: Vec<_> = plan.edits.iter().filter(|e| e.role == role).collect();
        edits.sort_by_key(|e| e.at);
        let changes: Vec<diff::Change<'_>> = edits
            .iter()
            .map(|e| diff::Change {
                start: e.line.saturating_sub(1) as usize,
                old_lines: crate::model::bytes::lines(&e.before).len(),
                new: &e.after,
            })
            .collect();
        out.push_str(&diff::of_changes(
            role.system_path(),
            old,
            &changes,
            "planned",
            p,
        ));
    }
    out
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
    for e in &plan.edits {
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
        write!(out, "{}", plan_diff(plan, tables, p))?;
    }
    Ok(())
}

/// The `plan` object of the JSON document.
pub fn plan_json(plan: &Plan, tables: &Tables) -> Value {
    let edits: Vec<Value> = plan
        .edits
        .iter()
        .map(|e| {
            json!({
                "file": e.role.system_path(),
                "line": e.line,
                "kind": e.kind.name(),
                "before": bytes::json(&e.before),
                "after": bytes::json(&e.after),
                "why": e.why,
            })
        })
        .collect();
    json!({
        "strategy": plan.strategy.name(),
        "edits": edits,
        "diff": plan_diff(plan, tables, Paint(false)),
        "after": verdicts_json(&plan.after),
        // A plan is only ever shown once verified; what the check covered, in words.
        "verified": true,
        "verification": plan.verified,
    })
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
pub fn proposal_json(outcome: &Proposal, before: &Analysis, offer: Option<NewlineOffer>) -> Value {
    let mut v = match outcome {
        Proposal::Plan(p) => plan_json(p, &before.tables),
        Proposal::NothingToDo => json!({
            "strategy": null, "edits": [], "diff": "", "after": verdicts_json(before),
            "verified": true, "verification": "every target is already granted",
        }),
        Proposal::Impossible(why) => json!({
            "strategy": null, "edits": [], "diff": "", "after": [],
            "verified": false, "verification": why,
        }),
    };
    let (opens, still) = match outcome {
        Proposal::Plan(p) => (
            screen::opens_to_everyone(before, &p.after),
            screen::still_refused_by_missing_newline(&p.after),
        ),
        _ => (Vec::new(), Vec::new()),
    };
    let offer = offer.map(|o| {
        json!({
            "why": "every other client is still refused: the last line of hosts.deny has no final newline",
            "edits": plan_json(o.plan, o.tables)["edits"],
            "diff": plan_diff(o.plan, o.tables, Paint(false)),
            "command": o.command,
        })
    });
    if let Some(obj) = v.as_object_mut() {
        obj.insert(
            "nothing_to_do".into(),
            json!(matches!(outcome, Proposal::NothingToDo)),
        );
        obj.insert(
            "impossible".into(),
            match outcome {
                Proposal::Impossible(why) => json!(why),
                _ => Value::Null,
            },
        );
        obj.insert("opens_to_everyone".into(), json!(opens));
        obj.insert(
            "still_refused".into(),
            json!(still
                .iter()
                .map(|d| json!({"daemon": d, "reason": "the last line of hosts.deny has no final newline"}))
                .collect::<Vec<_>>()),
        );
        obj.insert("offer".into(), offer.unwrap_or(Value::Null));
    }
    v
}
