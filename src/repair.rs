//! The modes that change files: repair (and `--dry-run`), `--rollback`, `--list-backups`.
//! Planning is [`crate::plan`]'s, writing is [`crate::fsops`]'s; this is the conversation
//! with the admin around them: show, ask (or not), apply, verify on disk, say what happened.

use std::io::Write;

use serde_json::{Value, json};

use crate::analysis::{Analysis, Context};
use crate::cli::Strategy;
use crate::client::Client;
use crate::config::{ClientSource, Config};
use crate::error::{Error, Result, exit};
use crate::plan::{self, Outcome, Plan};
use crate::report::{self, Paint};
use crate::tables::{Role, Tables};
use crate::{diff, fsops, load, prompt, term, write_out};

/// May we go ahead? `--yes`, or a yes typed on a terminal. Says why not on stderr.
fn approved(config: &Config, question: &str) -> bool {
    if config.yes {
        return true;
    }
    // Nobody saw the report and the diff: a yes would be to a change never shown.
    if term::stdout_closed() {
        term::say(
            "the plan could not be shown (stdout is closed): nothing changed; run again with --yes to apply it unseen",
        );
        return false;
    }
    if !prompt::can_ask() {
        term::say(
            "no terminal to ask on: nothing changed; run again with --yes to apply this change",
        );
        return false;
    }
    if !prompt::confirm(question) {
        term::say("nothing changed");
        return false;
    }
    true
}

enum Choice {
    Client(Client),
    Comment,
    Cancel,
}

/// Most refused clients from the logs offered in the menu.
const MENU_REFUSED: usize = 8;

/// The menu: the $SSH_CONNECTION address, the clients the logs show refused (most recent
/// first), typing an address, or commenting out the refusing rules instead.
fn choose_client(config: &Config) -> Result<Choice> {
    let mut items: Vec<String> = Vec::new();
    let mut clients: Vec<Client> = Vec::new();
    if let (ClientSource::SshConnection, Some(c)) = (config.client_source, config.clients.first()) {
        items.push(format!("{} (your SSH connection)", c.addr));
        clients.push(c.clone());
    }
    let refused = crate::logs::scan(&config.root).unwrap_or_default();
    for r in refused
        .iter()
        .filter(|r| r.addr != "unknown")
        .take(MENU_REFUSED)
    {
        let addr = r.ipv4.as_deref().unwrap_or(&r.addr);
        let Ok(c) = Client::parse(addr, config.flavor.flavor) else {
            continue;
        };
        if clients.contains(&c) {
            continue;
        }
        // The tag and the time are text from a log file: escaped, so that terminal escapes
        // in them cannot make this entry look like another address.
        let last = r
            .last
            .as_deref()
            .map(|t| format!(", last {}", term::escape(t)))
            .unwrap_or_default();
        let times = if r.count == 1 {
            "once".to_string()
        } else {
            format!("{} times", r.count)
        };
        items.push(format!(
            "{} ({} refused it {times}{last})",
            c.addr,
            term::escape(&r.daemon)
        ));
        clients.push(c);
    }
    let typed = items.len();
    items.push("Type an address".into());
    items.push("No single client: comment out the rules that refuse everyone instead".into());
    let Some(i) = prompt::choose("Who should get in?", &items) else {
        return Ok(Choice::Cancel);
    };
    if i < typed {
        return Ok(Choice::Client(clients.swap_remove(i)));
    }
    if i > typed {
        return Ok(Choice::Comment);
    }
    let Some(line) = prompt::read_line("Client ([USER@]ADDRESS[=NAME]): ") else {
        return Ok(Choice::Cancel);
    };
    Client::parse(&line, config.flavor.flavor)
        .map(Choice::Client)
        .map_err(Error::Usage)
}

/// Repair (`apply`) or `--dry-run`: report, plan, verify, diff; then ask and apply.
pub fn repair(config: &Config, apply: bool) -> Result<i32> {
    let mut ctx = Context::from_config(config);
    let mut strategy = config.strategy;
    // Interactive, and no --client: let the admin say who is to be let in. Never with
    // --yes: a script must not pick a client from the logs by itself.
    if apply && !config.yes && config.client_source != ClientSource::Options && prompt::can_ask() {
        match choose_client(config)? {
            Choice::Client(c) => ctx.clients = vec![c],
            Choice::Comment => {
                ctx.clients.clear();
                strategy = Some(Strategy::Comment);
            }
            Choice::Cancel => {
                term::say("nothing changed");
                return Ok(exit::LOCKED_OUT);
            }
        }
    }
    for _ in 0..MAX_ASKS {
        if let Some(code) = round(config, &mut ctx, strategy, apply)? {
            return Ok(code);
        }
    }
    Err(Error::Unsafe(format!(
        "the tables changed every time the plan was shown ({MAX_ASKS} times); nothing was changed: run wrapfix again when the programs writing them are quiet"
    )))
}

/// How often the plan is made and shown again because the tables changed while the admin
/// read it.
const MAX_ASKS: usize = 5;

/// One report, plan, diff and question on the tables as they are now. `None`: they
/// changed while the question was asked (other than by appended lines), so the plan must
/// be made and shown again.
fn round(
    config: &Config,
    ctx: &mut Context,
    strategy: Option<Strategy>,
    apply: bool,
) -> Result<Option<i32>> {
    let tables = load(config)?;
    // Evaluate the clients the files name too, so the plan can be checked against them.
    ctx.extra = plan::verification_clients(&tables, ctx.flavor);
    let mut before = ctx.analyse(tables);
    before.findings.extend(crate::analysis::diagnostics(
        &ctx.root,
        &ctx.daemons,
        &before.tables,
    ));
    let strategy = strategy.unwrap_or(if ctx.clients.is_empty() {
        Strategy::Comment
    } else {
        Strategy::Allow
    });
    let id = fsops::new_id()?;
    let outcome = plan::make(ctx, &before, strategy, &id);
    let show = |change_set: Value, out: &mut dyn Write| -> std::io::Result<()> {
        if config.json {
            let plan_value = match &outcome {
                Outcome::Plan(p) => report::plan_json(p, &before.tables),
                Outcome::NothingToDo => {
                    json!({"strategy": null, "edits": [], "nothing_to_do": true})
                }
                Outcome::Impossible(why) => json!({"edits": [], "impossible": why}),
            };
            let doc = report::json(config, &before, plan_value, change_set);
            return doc.write(out);
        }
        report::human(out, config, &before)?;
        match &outcome {
            Outcome::Plan(p) => report::plan_human(out, config, p, &before.tables),
            Outcome::NothingToDo => writeln!(out, "\nNothing to do: every target is granted."),
            Outcome::Impossible(why) => writeln!(out, "\nNo safe change to offer: {why}."),
        }
    };
    let plan = match &outcome {
        Outcome::Plan(p) if apply => p,
        Outcome::Plan(_) => {
            write_out(|out| show(Value::Null, out))?;
            return Ok(Some(exit::LOCKED_OUT));
        }
        // Asked to repair, but no change passes verification: it cannot be made safely.
        Outcome::Impossible(_) => {
            write_out(|out| show(Value::Null, out))?;
            return Ok(Some(if apply {
                exit::UNSAFE
            } else {
                exit::LOCKED_OUT
            }));
        }
        Outcome::NothingToDo => {
            write_out(|out| show(Value::Null, out))?;
            return Ok(Some(exit::OK));
        }
    };
    // Show everything before asking; in JSON mode the document comes once, at the end.
    if !config.json {
        write_out(|out| show(Value::Null, out))?;
    }
    if !approved(config, "Apply this change?") {
        if config.json {
            write_out(|out| show(Value::Null, out))?;
        }
        return Ok(Some(exit::LOCKED_OUT));
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
        Err(_) => (exit::UNSAFE, Value::Null),
    };
    if config.json {
        write_out(|out| show(change_set, out))?;
    }
    applied.map(|_| Some(code))
}

/// The tables whose bytes differ between `then` and `now`, each with whether the only
/// change is lines appended at the end (what fail2ban does).
fn changed_since(then: &Tables, now: &Tables) -> Vec<(Role, bool)> {
    [Role::Allow, Role::Deny]
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

/// Write the plan through fsops (backup, atomic write), then check it on disk.
fn apply_plan(
    config: &Config,
    ctx: &Context,
    before: &Analysis,
    plan: &Plan,
    id: &str,
) -> Result<(i32, Value)> {
    let files: Vec<fsops::Target> = [Role::Allow, Role::Deny]
        .into_iter()
        .filter(|r| plan.new[*r as usize].is_some())
        .map(|r| {
            let mut t = fsops::Target::new(r.system_path(), plan::edits_json(&plan.edits, r));
            if r == Role::Allow {
                t.create_like = Some(Role::Deny.system_path().into());
            }
            t
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
    let rebase = |path: &str, current: Option<&[u8]>| -> std::result::Result<Vec<u8>, String> {
        let role = if path == Role::Allow.system_path() {
            Role::Allow
        } else {
            Role::Deny
        };
        let current = current.unwrap_or_default();
        let new = plan::rebase(&plan.edits, role, original(role), current)?;
        if current != original(role) {
            let appended = clean_append(original(role), current);
            if !config.yes && !appended {
                return Err("it changed after you said yes (not only by lines appended at its end), so the diff you saw no longer says what would be written; run wrapfix again to see the plan for what it holds now".into());
            }
            // The same edit on the new bytes must pass the same verification: every
            // target let in, and no one refused whom the file as it is now lets in.
            let mut now = [None, None];
            now[role as usize] = Some(current.to_vec());
            let mut planned = plan.new.clone();
            planned[role as usize] = Some(new.clone());
            let now = ctx.analyse(plan::planned_tables(&before.tables, &now));
            let after = ctx.analyse(plan::planned_tables(&before.tables, &planned));
            plan::verify(ctx, &now, &after)
                .map_err(|why| format!("it changed meanwhile, and on its new bytes {why}"))?;
            rebased.borrow_mut().push((role, appended));
        }
        Ok(new)
    };
    let request = fsops::ChangeRequest {
        root: &config.root,
        backup_dir: &config.backup_dir,
        action: "fix",
        targets_json: report::verdicts_json(before),
        files,
        rebase: &rebase,
        allow_in_place: config.in_place,
        id: Some(id),
    };
    let Some(applied) = fsops::apply(&request)? else {
        term::say("nothing to do: the files already hold the planned change");
        return Ok((exit::OK, Value::Null));
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
    let change_set = json!({
        "id": applied.id,
        "backup_dir": applied.dir.display().to_string(),
        "applied": true,
        "verified": granted,
        // Lines other programs appended while the file was replaced, carried over.
        "salvaged": applied
            .files
            .iter()
            .filter(|f| !f.salvaged.is_empty())
            .map(|f| json!({"file": f.system_path, "bytes": report::bytes_json(&f.salvaged)}))
            .collect::<Vec<_>>(),
    });
    if !config.json {
        let p = Paint(config.color);
        let mut msg = format!(
            "\n{} change set {} (backup in {}); undo with: wrapfix --rollback {}",
            p.bold("Applied"),
            applied.id,
            term::escape(&applied.dir.display().to_string()),
            applied.id
        );
        for f in &applied.files {
            if !f.salvaged.is_empty() {
                msg.push_str(&format!(
                    "\n  {}: kept {} bytes another program appended meanwhile",
                    f.system_path,
                    f.salvaged.len()
                ));
            }
            for w in &f.warnings {
                msg.push_str(&format!("\n  {}: {}", f.system_path, term::escape(w)));
            }
        }
        write_out(|out| {
            writeln!(out, "{msg}")?;
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
    if !granted {
        // The change set stays in the JSON: its ID is what --rollback needs.
        term::say(&format!(
            "change set {} is in place but the files on disk still lock a target out (another program changed them?); run wrapfix --check, or undo with wrapfix --rollback {}",
            applied.id, applied.id
        ));
        return Ok((exit::UNSAFE, change_set));
    }
    Ok((exit::OK, change_set))
}

fn who(tv: &crate::analysis::TargetVerdict) -> String {
    tv.target
        .client
        .as_ref()
        .map_or_else(|| "any client".into(), ToString::to_string)
}

/// `--rollback [ID] [--exact]`: show what the restore does, ask, restore.
pub fn rollback(config: &Config, id: Option<&str>, exact: bool) -> Result<i32> {
    let set = fsops::load(&config.root, &config.backup_dir, id)?;
    let p = Paint(config.color);
    let mut diffs = String::new();
    for f in &set.files {
        let current = config
            .root
            .read_bounded(&f.system_path, crate::tables::TABLE_LIMIT)
            .map_err(|e| {
                Error::read(
                    "read",
                    config
                        .root
                        .dir()
                        .join(f.system_path.trim_start_matches('/')),
                    e,
                )
            })?;
        match fsops::planned_restore(f, current.as_deref(), exact, &plan::revert) {
            Ok(Some(restored)) => diffs.push_str(&diff::unified(
                &f.system_path,
                current.as_deref(),
                &restored,
                p,
            )),
            Ok(None) => diffs.push_str(&format!(
                "{}: will be removed (wrapfix created it)\n",
                f.system_path
            )),
            Err(why) => {
                return Err(Error::Unsafe(format!(
                    "cannot undo only wrapfix's own edits in {}: {why}. Nothing was changed. `wrapfix --rollback {} --exact` restores the backup byte for byte, dropping what other programs changed since",
                    f.system_path, set.info.id
                )));
            }
        }
    }
    if !config.json {
        write_out(|out| {
            let how = if exact {
                "exactly, byte for byte"
            } else {
                "undoing only wrapfix's own edits"
            };
            // Manifest fields are untrusted text.
            writeln!(
                out,
                "{} change set {} ({}, {}), {how}:\n",
                p.bold("Rollback of"),
                term::escape(&set.info.id),
                term::escape(&set.info.action),
                term::escape(&set.info.time)
            )?;
            write!(out, "{diffs}")
        })?;
    }
    if !approved(config, "Roll back this change set?") {
        return Ok(exit::LOCKED_OUT);
    }
    let done = fsops::rollback(&set, &config.root, &config.backup_dir, exact, &plan::revert)?;
    let result = match &done {
        Some(a) => {
            json!({"id": a.id, "backup_dir": a.dir.display().to_string(), "applied": true, "rolls_back": set.info.id})
        }
        None => json!({"applied": false, "rolls_back": set.info.id, "nothing_to_do": true}),
    };
    write_out(|out| {
        if config.json {
            return writeln!(out, "{:#}", json!({"version": 1, "change_set": result}));
        }
        match &done {
            Some(a) => writeln!(
                out,
                "\nRolled back {} as change set {} (undo with: wrapfix --rollback {})",
                term::escape(&set.info.id),
                a.id,
                a.id
            ),
            None => writeln!(
                out,
                "\nNothing to do: the files already hold their bytes from before {}",
                term::escape(&set.info.id)
            ),
        }
    })?;
    Ok(exit::OK)
}

/// `--list-backups`: the change sets, oldest first.
pub fn list_backups(config: &Config) -> Result<i32> {
    let sets = fsops::list(&config.root, &config.backup_dir)?;
    write_out(|out| {
        if config.json {
            let list: Vec<Value> = sets
                .iter()
                .map(|s| {
                    json!({"id": s.id, "action": s.action, "time": s.time, "files": s.files,
                           "complete": s.complete, "rolls_back": s.rolls_back, "rolled_back_by": s.rolled_back_by})
                })
                .collect();
            return writeln!(
                out,
                "{:#}",
                json!({"version": 1, "backup_dir": config.backup_dir.display().to_string(), "change_sets": list})
            );
        }
        if sets.is_empty() {
            return writeln!(out, "No change sets in {}.", config.backup_dir.display());
        }
        writeln!(out, "Change sets in {}:", config.backup_dir.display())?;
        for s in &sets {
            let note = match (&s.rolls_back, &s.rolled_back_by) {
                (_, Some(by)) => format!("  (rolled back by {by})"),
                (Some(of), None) => format!("  (undoes {of})"),
                (None, None) => String::new(),
            };
            let partial = if s.complete { "" } else { "  INCOMPLETE" };
            // Every field comes from a manifest, which is untrusted text.
            writeln!(
                out,
                "  {}  {:<8}  {}  {}{}{partial}",
                term::escape(&s.id),
                term::escape(&s.action),
                term::escape(&s.time),
                term::escape(&s.files.join(" ")),
                term::escape(&note)
            )?;
        }
        Ok(())
    })?;
    Ok(exit::OK)
}
