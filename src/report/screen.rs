//! The last screen before a change: on an 80x24 console everything the admin needs to answer
//! must be on it at once — who is refused and by which line, what the change does (and
//! whom it lets in besides), the diff, where the backup goes and the command that undoes
//! it. The details (every verdict, findings, advice for the tools that write the files)
//! come before it and may scroll away.

use std::fmt::Write as _;

use crate::config::Config;
use crate::config::Strategy;
use crate::diagnose::analysis::{Analysis, TargetVerdict};
use crate::eval::{Access, How, TableProblem};
use crate::model::syntax::Unterminated;
use crate::repair::plan::{EditKind, Plan};
use crate::report::{self, Paint, wrap};

/// The verdicts of the generic client (no client given, or the stand-in evaluated for
/// verification): whether the daemon is open to the world at large.
fn generic(a: &Analysis) -> impl Iterator<Item = &TargetVerdict> {
    a.verdicts
        .iter()
        .filter(|tv| tv.target.client.is_none())
        .chain(a.extra.iter().filter(|tv| tv.evaluated == a.generic))
}

/// Daemons the change opens to every client: the generic client was not granted before and
/// is after (commenting out a blanket rule does that).
pub fn opens_to_everyone(before: &Analysis, after: &Analysis) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for a in generic(after).filter(|tv| tv.verdict.access == Access::Granted) {
        let was_refused = generic(before)
            .any(|b| b.target.daemon == a.target.daemon && b.verdict.access != Access::Granted);
        if was_refused && !out.contains(&a.target.daemon) {
            out.push(a.target.daemon.clone());
        }
    }
    out
}

/// Daemons that still refuse every other client after the change only because hosts.deny's
/// last line has no newline (Debian stops reading there with an error and refuses everyone
/// not let in before): the allow strategy lets the admin in and leaves that as it is.
pub fn still_refused_by_missing_newline(after: &Analysis) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for tv in generic(after) {
        let how = &tv.verdict.decision().how;
        let newline = matches!(
            how,
            How::DenyTableError(TableProblem::Unterminated(Unterminated::MissingNewline))
        );
        if tv.verdict.access == Access::Denied && newline && !out.contains(&tv.target.daemon) {
            out.push(tv.target.daemon.clone());
        }
    }
    out
}

/// The deny line a missing newline is on, for messages (`/etc/hosts.deny:3`).
fn last_deny_line(a: &Analysis) -> String {
    let line = a
        .tables
        .deny
        .document()
        .and_then(|d| d.lines().last().map(|l| l.number))
        .unwrap_or(1);
    format!("/etc/hosts.deny:{line}")
}

/// One line per target that is not let in: who, and the line that refuses it.
pub fn refused_lines(config: &Config, before: &Analysis) -> String {
    let p = Paint(config.color);
    let mut out = String::new();
    for tv in before
        .verdicts
        .iter()
        .filter(|tv| tv.verdict.access != Access::Granted)
    {
        let who = match &tv.target.client {
            Some(c) => format!("{} from {c}", tv.target.daemon),
            None => format!("{} from any client", tv.target.daemon),
        };
        let d = tv.verdict.decision();
        let text = match (tv.verdict.access, &d.rule) {
            (Access::Depends, _) => {
                let rules: Vec<String> = tv
                    .verdict
                    .dependent_rules()
                    .iter()
                    .map(|l| format!("{}:{}", l.role, l.line))
                    .collect();
                format!(
                    "{} {who}: it depends on the client's host name ({})",
                    p.yellow("May be refused:"),
                    rules.join(", ")
                )
            }
            (_, Some(r)) => format!(
                "{} {who}, by {}:{}  {}",
                p.red("Refused:"),
                r.loc.role,
                r.loc.line,
                report::show(&r.text)
            ),
            (_, None) => format!("{} {who}: {}", p.red("Refused:"), report::reason(d)),
        };
        out.push_str(&wrap(&text, config.width, "", "  "));
    }
    out
}

/// What the plan does, in one line.
fn change_line(plan: &Plan) -> String {
    let parts: Vec<String> = plan
        .edits
        .iter()
        .map(|e| match e.kind {
            EditKind::Insert => {
                let after = e.after_bytes();
                let rule = String::from_utf8_lossy(&after);
                let rule = rule.lines().last().unwrap_or_default().to_string();
                format!(
                    "add `{rule}` to {} at line {}",
                    e.role.system_path(),
                    e.line
                )
            }
            EditKind::Comment => format!("comment out {}:{}", e.role.system_path(), e.line),
            EditKind::FinalNewline => format!(
                "add the missing final newline to {}:{}",
                e.role.system_path(),
                e.line
            ),
        })
        .collect();
    format!("Change: {}", parts.join("; "))
}

/// Everything from the refusals to the undo command, for a plan about to be applied; for
/// `--dry-run` (`applying` false) the command that applies it instead of backup and undo.
pub fn question_screen(
    config: &Config,
    before: &Analysis,
    plan: &Plan,
    id: &str,
    applying: bool,
) -> String {
    let p = Paint(config.color);
    let w = config.width;
    let mut out = String::from("\n");
    out.push_str(&refused_lines(config, before));
    out.push_str(&wrap(&change_line(plan), w, "", "  "));
    let opens = opens_to_everyone(before, &plan.after);
    if !opens.is_empty() {
        let text = format!(
            // One line on an 80-column console (for sshd).
            "{} this opens {} to every client (only rules naming clients still refuse).",
            p.yellow("Note:"),
            opens.join(", ")
        );
        out.push_str(&wrap(&text, w, "", "  "));
    }
    let still = still_refused_by_missing_newline(&plan.after);
    if !still.is_empty() && plan.strategy == Strategy::Allow {
        let text = format!(
            "{} {} still refuses every other client: {} has no final newline, and Debian's libwrap refuses everyone it has not let in before it.",
            p.yellow("Note:"),
            still.join(", "),
            last_deny_line(&plan.after)
        );
        out.push_str(&wrap(&text, w, "", "  "));
    }
    out.push('\n');
    let diff = report::PlanDiff {
        plan,
        tables: &before.tables,
        paint: p,
    };
    // Writing to a String cannot fail.
    let _ = write!(out, "{diff}");
    out.push('\n');
    if !applying {
        // A command is never broken across lines: pasted, each line would run on its own.
        out.push_str(&format!(
            "To apply it: {}\n",
            config.repeat_with(&["--yes"])
        ));
        return out;
    }
    let backup = config.backup_dir.join(id);
    out.push_str(&wrap(
        &format!("Backup: {}/", backup.display()),
        w,
        "",
        "        ",
    ));
    // A command is never broken across lines: pasted, each line would run on its own.
    out.push_str(&format!(
        "Undo:   {}\n",
        config.command(&["--rollback", id])
    ));
    out
}
