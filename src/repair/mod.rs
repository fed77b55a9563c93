//! The repair modes: repair (and `--dry-run`). Planning is [`crate::repair::plan`]'s, writing is
//! [`crate::fsops`]'s; this is the conversation with the admin around them: show what is
//! wrong, ask who should get in (when the command line does not say), show the change on one
//! screen ([`crate::report::screen`]), ask (or not), apply, verify on disk, say what happened and what
//! else to do. Rollback and the list of change sets are in [`crate::repair::history`].

pub mod history;
pub mod menu;
pub mod plan;
pub mod prompt;

use std::io::Write;

use serde_json::Value;

use crate::config::Strategy;
use crate::config::{ClientSource, Config};
use crate::diagnose::analysis::{Analysis, Context, Diagnostics};
use crate::diagnose::detect::Kind;
use crate::error::{Error, Exit, Result};
use crate::fsops::Shared;
use crate::model::tables::{PerTable, Role, Tables};
use crate::report::{self, Paint, wrap};
use crate::report::{screen, term};
use crate::{fsops, load, write_out};
use menu::Choice;
use plan::{EditKind, Plan, Proposal};

/// May we go ahead? `--yes`, or a yes typed on a terminal. Says why not on stderr, with
/// the command (`with_yes`) that would go ahead.
pub(crate) fn approved(config: &Config, question: &str, with_yes: &str) -> bool {
    if config.yes {
        return true;
    }
    // Nobody saw the report and the diff: a yes would be to a change never shown.
    if term::stdout_closed() {
        term::say(&format!(
            "the plan could not be shown (stdout is closed): nothing changed; to apply it unseen: {with_yes}"
        ));
        return false;
    }
    if !prompt::can_ask() {
        term::say(&format!(
            "no terminal to ask on: nothing changed; to apply it: {with_yes}"
        ));
        return false;
    }
    if !prompt::confirm(question) {
        term::say("nothing changed");
        return false;
    }
    true
}

/// The analysis of `tables` for `ctx`'s clients, with the findings from beyond the tables.
fn analyse(ctx: &Context, tables: Tables, diagnostics: &Diagnostics) -> Analysis {
    let mut a = ctx.analyse(tables);
    a.findings.extend(diagnostics.findings.iter().cloned());
    a
}

/// A second change offered after an allow fix: the missing final newline of hosts.deny,
/// which still refuses every other client (Debian), as a comment-strategy plan for the
/// generic client on the fixed tables.
struct Offer {
    ctx: Context,
    before: Analysis,
    plan: Box<Plan>,
    id: String,
}

/// The newline fix, if after `plan` every other client is refused only because hosts.deny
/// lacks its final newline, and adding it is a verified plan that does nothing else.
fn newline_offer(config: &Config, before: &Analysis, plan: &Plan) -> Result<Option<Offer>> {
    if screen::still_refused_by_missing_newline(&plan.after).is_empty() {
        return Ok(None);
    }
    let mut ctx = Context::from_config(config);
    ctx.clients.clear();
    let tables = plan::planned_tables(&before.tables, &plan.new);
    let fixed = ctx.analyse(tables);
    let id = fsops::free_id(&config.root, &config.backup_dir)?;
    Ok(match plan::make(&ctx, &fixed, Strategy::Comment, &id) {
        Proposal::Plan(p) if p.edits.iter().all(|e| e.kind == EditKind::FinalNewline) => {
            Some(Offer {
                ctx,
                before: fixed,
                plan: p,
                id,
            })
        }
        _ => None,
    })
}

/// Repair (`apply`) or `--dry-run`: report, plan, verify, diff; then ask and apply.
pub fn repair(config: &Config, apply: bool) -> Result<Exit> {
    let mut ctx = Context::from_config(config);
    let mut strategy = config.strategy;
    // A comment plan will follow (as `round` decides): find its refusers alongside.
    ctx.refusers_ahead =
        strategy == Some(Strategy::Comment) || (strategy.is_none() && ctx.clients.is_empty());
    let tables = load(config)?;
    // The first analysis, with the findings from beyond the tables made alongside.
    let (first, mut diagnostics) = ctx.analyse_system(tables.clone());
    let mut first = Some(first);
    // Interactive, and no --client: show what is wrong, then let the admin say who is to
    // be let in. Never with --yes: a script must not pick a client from the logs by itself.
    let ask_who =
        apply && !config.yes && config.client_source != ClientSource::Options && prompt::can_ask();
    let mut before = None;
    if ask_who && let Some(first) = first.take() {
        if !config.json {
            write_out(|out| report::human(out, config, &first))?;
            // A blank line between the report and the menu; nowhere to report a failure.
            let _ = writeln!(std::io::stderr());
        }
        match menu::choose(config, &first.tables, &diagnostics.refused) {
            Choice::Client(c) if ctx.clients == [c.clone()] => before = Some(first),
            Choice::Client(c) => ctx.clients = vec![c],
            Choice::Comment => {
                strategy = Some(Strategy::Comment);
                if ctx.clients.is_empty() {
                    before = Some(first);
                }
                ctx.clients.clear();
            }
            Choice::Cancel => {
                term::say("nothing changed");
                return Ok(Exit::LockedOut);
            }
        }
    }
    let mut tables = Some(tables);
    // The details were shown before the menu; the question screen says the rest.
    let mut details_shown = ask_who;
    for _ in 0..MAX_ASKS {
        let before = match (before.take(), first.take(), tables.take()) {
            (Some(b), _, _) => b,
            // The first analysis, unless the menu changed who is asked about.
            (None, Some(f), _) => f,
            (None, None, Some(t)) => analyse(&ctx, t, &diagnostics),
            // Shown again: the tables changed while the admin read the plan.
            (None, None, None) => {
                let (a, d) = ctx.analyse_system(load(config)?);
                diagnostics = d;
                a
            }
        };
        if let Some(code) = round(config, &ctx, strategy, apply, before, details_shown)? {
            return Ok(code);
        }
        details_shown = false;
    }
    Err(Error::Unsafe(format!(
        "the tables changed every time the plan was shown ({MAX_ASKS} times); nothing was changed: run wrapfix again when the programs writing them are quiet"
    )))
}

/// How often the plan is made and shown again because the tables changed while the admin
/// read it.
const MAX_ASKS: usize = 5;

/// One plan, question screen and question on the analysis `before` of the tables as they
/// are now. `None`: they changed while the question was asked (other than by appended
/// lines), so the plan must be made and shown again.
fn round(
    config: &Config,
    ctx: &Context,
    strategy: Option<Strategy>,
    apply: bool,
    mut before: Analysis,
    details_shown: bool,
) -> Result<Option<Exit>> {
    let strategy = strategy.unwrap_or(if ctx.clients.is_empty() {
        Strategy::Comment
    } else {
        Strategy::Allow
    });
    let id = fsops::free_id(&config.root, &config.backup_dir)?;
    let outcome = plan::make(ctx, &before, strategy, &id);
    // Used by the plan alone; not held through the write and the report.
    before.refusers = None;
    let offer = match &outcome {
        Proposal::Plan(p) => newline_offer(config, &before, p)?,
        _ => None,
    };
    let json_doc = |change_set: Value, out: &mut dyn Write| -> std::io::Result<()> {
        let plan_value = report::proposal_json(
            &outcome,
            &before,
            offer.as_ref().map(|o| report::NewlineOffer {
                plan: &o.plan,
                tables: &o.before.tables,
                command: config.command(&["--strategy", "comment", "--yes"]),
            }),
        );
        report::json(config, &before, Some(plan_value), change_set).write(out)
    };
    let show = |out: &mut dyn Write| -> std::io::Result<()> {
        if !details_shown {
            report::human(out, config, &before)?;
        }
        match &outcome {
            Proposal::Plan(p) => {
                report::plan_human(out, config, p, &before.tables, false)?;
                write!(
                    out,
                    "{}",
                    screen::question_screen(config, &before, p, &id, apply)
                )?;
                if offer.is_some() && (!apply || config.yes || !prompt::can_ask()) {
                    let text = "To let every other client in too, add the missing newline:";
                    write!(out, "{}", wrap(text, config.width, "", "  "))?;
                    writeln!(
                        out,
                        "  {}",
                        config.command(&["--strategy", "comment", "--yes"])
                    )?;
                }
                Ok(())
            }
            Proposal::NothingToDo => writeln!(out, "\nNothing to do: every target is granted."),
            Proposal::Impossible(why) => {
                let text = format!("No safe change to offer: {why}.");
                write!(out, "\n{}", wrap(&text, config.width, "", "  "))
            }
        }
    };
    // The plan, and no change set: for a dry run, a refusal, or nothing to do.
    let show_plan = || {
        write_out(|out| {
            if config.json {
                json_doc(Value::Null, out)
            } else {
                show(out)
            }
        })
    };
    let plan = match &outcome {
        Proposal::Plan(p) if apply => p,
        Proposal::Plan(_) => {
            show_plan()?;
            return Ok(Some(Exit::LockedOut));
        }
        // Asked to repair, but no change passes verification: it cannot be made safely.
        Proposal::Impossible(why) => {
            show_plan()?;
            if !apply {
                return Ok(Some(Exit::LockedOut));
            }
            // Exit 3 explains itself where errors go, for scripts that keep only stderr.
            term::say(&format!(
                "no safe change to offer, nothing was changed: {why}"
            ));
            return Ok(Some(Exit::Unsafe));
        }
        Proposal::NothingToDo => {
            show_plan()?;
            return Ok(Some(Exit::Ok));
        }
    };
    // Show everything before asking; in JSON mode the document comes once, at the end.
    if !config.json {
        write_out(show)?;
    }
    if !approved(
        config,
        "Apply this change?",
        &config.repeat_with(&["--yes"]),
    ) {
        if config.json {
            write_out(|out| json_doc(Value::Null, out))?;
        }
        return Ok(Some(Exit::LockedOut));
    }
    // The admin said yes to a diff of the bytes read before the question. If a table
    // changed since (other than by lines appended at its end, which the edit keeps), that
    // diff no longer says what would be written: show the plan for what is there now.
    if !config.yes {
        let changed: Vec<String> = changed_since(&before.tables, &load(config)?)
            .into_iter()
            .filter(|(_, appended)| !appended)
            .map(|(role, _)| role.system_path().to_string())
            .collect();
        if !changed.is_empty() {
            term::say(&format!(
                "{} changed since the plan was shown; nothing was changed. Here is the plan for what it holds now:",
                changed.join(" and ")
            ));
            return Ok(None);
        }
    }
    let applied = apply_plan(config, ctx, &before, plan, &id);
    let (code, change_set) = match &applied {
        Ok((code, set)) => (*code, set.clone()),
        Err(_) => (Exit::Unsafe, Value::Null),
    };
    if config.json {
        write_out(|out| json_doc(change_set, out))?;
    } else if code == Exit::Ok {
        advise(config, &before)?;
        if let Some(o) = &offer
            && !config.yes
        {
            offer_newline(config, o)?;
        }
    }
    applied.map(|_| Some(code))
}

/// The tables whose bytes differ between `then` and `now`, each with whether the only
/// change is lines appended at the end (what fail2ban does).
fn changed_since(then: &Tables, now: &Tables) -> Vec<(Role, bool)> {
    Role::BOTH
        .into_iter()
        .filter_map(|role| {
            let bytes = |t: &Tables| t.get(role).document().map(|d| d.bytes().to_vec());
            let (a, b) = (bytes(then), bytes(now));
            if a == b && then.get(role).state_name() == now.get(role).state_name() {
                return None;
            }
            let a = a.unwrap_or_default();
            let appended = b.as_deref().is_some_and(|b| clean_append(&a, b));
            Some((role, appended))
        })
        .collect()
}

/// `now` is `then` with whole lines appended.
fn clean_append(then: &[u8], now: &[u8]) -> bool {
    now.starts_with(then) && (then.is_empty() || then.ends_with(b"\n"))
}

/// After a fix: what keeps it fixed (the writers that would put the lockout back), again,
/// since the details scrolled away before the question.
fn advise(config: &Config, before: &Analysis) -> Result<()> {
    let writers: Vec<&crate::diagnose::detect::Finding> = before
        .findings
        .iter()
        .filter(|f| f.kind == Kind::Writer)
        .collect();
    if writers.is_empty() {
        return Ok(());
    }
    write_out(|out| {
        writeln!(out, "\n{}", Paint(config.color).bold("To keep it fixed:"))?;
        for f in writers {
            write!(out, "{}", wrap(&f.message, config.width, "  - ", "    "))?;
        }
        Ok(())
    })
}

/// Ask whether to add hosts.deny's missing final newline too, as a change set of its own.
fn offer_newline(config: &Config, o: &Offer) -> Result<()> {
    let p = Paint(config.color);
    write_out(|out| {
        let text = "Every other client is still refused: the last line of /etc/hosts.deny has no final newline. Adding it lets them in again (a change set of its own):";
        write!(out, "\n{}", wrap(text, config.width, "", ""))?;
        let diff = report::PlanDiff {
            plan: &o.plan,
            tables: &o.before.tables,
            paint: p,
        };
        write!(out, "\n{diff}")
    })?;
    if prompt::confirm("Add the missing newline too?") {
        apply_plan(config, &o.ctx, &o.before, &o.plan, &o.id)?;
    } else {
        term::say("the newline was not added");
    }
    Ok(())
}

/// Write the plan through fsops (backup, atomic write), then check it on disk.
fn apply_plan(
    config: &Config,
    ctx: &Context,
    before: &Analysis,
    plan: &Plan,
    id: &str,
) -> Result<(Exit, Value)> {
    let files: Vec<fsops::FileChange> = Role::BOTH
        .into_iter()
        .filter(|r| plan.new[*r].is_some())
        .map(|r| fsops::FileChange {
            system_path: r.system_path().into(),
            edits: plan::recorded(&plan.edits, r),
            create_like: (r == Role::Allow).then(|| Role::Deny.system_path().into()),
        })
        .collect();
    let original = |r: Role| {
        before
            .tables
            .get(r)
            .document()
            .map_or(&[][..], |d| d.bytes())
    };
    // The tables rebased on bytes another program wrote after the plan was made, and
    // whether that was only lines appended at the end.
    let rebased: std::cell::RefCell<Vec<(Role, bool)>> = std::cell::RefCell::new(Vec::new());
    let rebase = |path: &str, current: Option<&[u8]>| -> std::result::Result<Shared, String> {
        // fsops asks only about the files it was given: the two tables.
        let role = Role::of_system_path(path).ok_or("not one of the tables")?;
        let current = current.unwrap_or_default();
        // The bytes the plan verified, shared rather than made again and held twice.
        if current == original(role)
            && plan::applies_as_planned(&plan.edits, role, current)
            && let Some(planned) = &plan.new[role]
        {
            return Ok(Shared::clone(planned));
        }
        let new = Shared::new(plan::rebase(&plan.edits, role, original(role), current)?);
        if current != original(role) {
            let appended = clean_append(original(role), current);
            if !config.yes && !appended {
                return Err("it changed after you said yes (not only by lines appended at its end), so the diff you saw no longer says what would be written; run wrapfix again to see the plan for what it holds now".into());
            }
            // The same edit on the new bytes must pass the same verification: every
            // target let in, and no one refused whom the file as it is now lets in.
            let mut now = PerTable::default();
            now[role] = Some(std::sync::Arc::new(current.to_vec()));
            let mut planned = plan.new.clone();
            planned[role] = Some(Shared::clone(&new));
            let now = plan::planned_tables(&before.tables, &now);
            let after = plan::planned_tables(&before.tables, &planned);
            plan::verify_rebased(ctx, &now, &after)
                .map_err(|why| format!("it changed meanwhile, and on its new bytes {why}"))?;
            rebased.borrow_mut().push((role, appended));
        }
        Ok(new)
    };
    let request = fsops::ChangeRequest {
        root: &config.root,
        backup_dir: &config.backup_dir,
        action: "fix",
        targets_json: report::targets_json(before),
        files,
        rebase: &rebase,
        allow_in_place: config.in_place,
        id: Some(id),
        command: &|args: &[&str]| config.command(args),
    };
    let Some(applied) = fsops::apply(&request)? else {
        term::say("nothing to do: the files already hold the planned change");
        return Ok((Exit::Ok, Value::Null));
    };
    // fsops read the files back: they hold the planned bytes, whose verdicts are known,
    // unless they were rebased on a change by another program or bytes were salvaged.
    let mut told = Vec::new();
    for (role, appended) in rebased.borrow().iter().copied() {
        if told.contains(&role) {
            continue;
        }
        told.push(role);
        term::say(&if appended {
            format!(
                "{role}: lines were appended after the plan was made; the same edit was applied and they were kept"
            )
        } else {
            format!(
                "{role} changed after the plan was made (another program wrote it); the same edit was applied to what it holds now, and verified again"
            )
        });
    }
    let after = if !told.is_empty() || applied.files.iter().any(|f| !f.salvaged.is_empty()) {
        ctx.analyse(load(config)?)
    } else {
        plan.after.clone()
    };
    let granted = after.all_granted();
    let change_set = report::change_set_json(config, Some(&applied), granted, None);
    if !config.json {
        let p = Paint(config.color);
        let w = config.width;
        let mut msg = String::from("\n");
        msg.push_str(&wrap(
            &format!(
                "{} change set {}; backup in {}",
                p.bold("Applied"),
                applied.id,
                term::escape(&applied.dir.display().to_string()),
            ),
            w,
            "",
            "  ",
        ));
        // A command is never broken across lines: pasted, each line would run on its own.
        msg.push_str(&format!(
            "Undo:   {}\n",
            config.command(&["--rollback", &applied.id])
        ));
        for f in &applied.files {
            if !f.salvaged.is_empty() {
                let text = format!(
                    "{}: kept {} bytes another program appended meanwhile",
                    f.system_path,
                    f.salvaged.len()
                );
                msg.push_str(&wrap(&text, w, "  ", "    "));
            }
            for warning in &f.warnings {
                let text = format!("{}: {}", f.system_path, term::escape(warning));
                msg.push_str(&wrap(&text, w, "  ", "    "));
            }
        }
        write_out(|out| {
            write!(out, "{msg}")?;
            for tv in &after.verdicts {
                writeln!(
                    out,
                    "  now: {} from {}: {}",
                    tv.target.daemon,
                    who(tv),
                    tv.verdict.access.name()
                )?;
            }
            Ok(())
        })?;
    }
    let open = still_open(config, &applied);
    if !granted {
        // The change set stays in the JSON: its ID is what --rollback needs.
        term::say(&format!(
            "change set {} is in place but the files on disk still lock a target out (another program changed them?); see `{}`, or undo with: {}",
            applied.id,
            config.repeat_with(&["--check"]),
            config.command(&["--rollback", &applied.id])
        ));
        return Ok((Exit::Unsafe, change_set));
    }
    if open {
        return Ok((Exit::Unsafe, change_set));
    }
    Ok((Exit::Ok, change_set))
}

/// Say on stderr, for each file of `applied` that another program still had open for
/// writing when wrapfix stopped waiting, that lines may miss it and what state it is in;
/// whether there was one (then the exit status is 3: the change is made, but that no line
/// is lost is not certain).
pub(crate) fn still_open(config: &Config, applied: &fsops::Applied) -> bool {
    let mut any = false;
    for msg in applied.files.iter().filter_map(|f| f.still_open.as_ref()) {
        any = true;
        term::say(&format!(
            "{msg}. Change set {} is in place (undo: {})",
            applied.id,
            config.command(&["--rollback", &applied.id])
        ));
    }
    any
}

fn who(tv: &crate::diagnose::analysis::TargetVerdict) -> String {
    tv.target
        .client
        .as_ref()
        .map_or_else(|| "any client".into(), ToString::to_string)
}
