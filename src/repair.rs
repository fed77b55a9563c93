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

/// May we go ahead? `--yes`, or a yes typed on a terminal. Says why not on stderr, with
/// the command (`with_yes`) that would go ahead.
fn approved(config: &Config, question: &str, with_yes: &str) -> bool {
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
    if !approved(
        config,
        "Apply this change?",
        &config.repeat_with(&["--yes"]),
    ) {
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
        command: &|args: &[&str]| config.command(args),
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
    let change_set = change_set_json(config, Some(&applied), granted, None);
    if !config.json {
        let p = Paint(config.color);
        let mut msg = format!(
            "\n{} change set {} (backup in {}); undo with: {}",
            p.bold("Applied"),
            applied.id,
            term::escape(&applied.dir.display().to_string()),
            config.command(&["--rollback", &applied.id])
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
            "change set {} is in place but the files on disk still lock a target out (another program changed them?); see `{}`, or undo with: {}",
            applied.id,
            config.repeat_with(&["--check"]),
            config.command(&["--rollback", &applied.id])
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

/// The `change_set` object of the JSON document, for fixes and rollbacks alike.
pub(crate) fn change_set_json(
    config: &Config,
    applied: Option<&fsops::Applied>,
    verified: bool,
    rolls_back: Option<&str>,
) -> Value {
    let (dir, in_root) = match applied {
        Some(a) => {
            let (d, r) = config.as_seen(&a.dir);
            (Some(d), r)
        }
        None => (None, true),
    };
    json!({
        "id": applied.map(|a| a.id.clone()),
        "backup_dir": dir,
        "backup_dir_in_root": in_root,
        "applied": applied.is_some(),
        "verified": verified,
        "rolls_back": rolls_back,
        // Lines other programs appended while the file was replaced, carried over.
        "salvaged": applied
            .map(|a| {
                a.files
                    .iter()
                    .filter(|f| !f.salvaged.is_empty())
                    .map(|f| json!({"file": f.system_path, "bytes": report::bytes_json(&f.salvaged)}))
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default(),
    })
}

/// What rolling back one file does, planned before asking.
struct Restore {
    path: String,
    current: Option<Vec<u8>>,
    /// `None`: the file is removed.
    restored: Option<Vec<u8>>,
}

/// `--rollback [ID] [--exact]`: show what the restore does, ask, restore.
pub fn rollback(config: &Config, id: Option<&str>, exact: bool) -> Result<i32> {
    let command = |args: &[&str]| config.command(args);
    let set = fsops::load(&config.root, &config.backup_dir, id).map_err(|e| match e {
        Error::Usage(m) if id.is_some() => {
            Error::Usage(format!("{m}; `{}`", config.command(&["--list-backups"])))
        }
        other => other,
    })?;
    // Refused before anything is shown: a diff of a rollback that will not happen misleads.
    if let Some(by) = &set.info.rolled_back_by {
        return Err(fsops::already_rolled_back(&set, by, &command));
    }
    let p = Paint(config.color);
    let mut restores = Vec::new();
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
            Ok(restored) => restores.push(Restore {
                path: f.system_path.clone(),
                current,
                restored,
            }),
            Err(why) => {
                return Err(Error::Unsafe(format!(
                    "cannot undo only wrapfix's own edits in {}: {why}. Nothing was changed. `{}` restores the backup byte for byte, dropping what other programs changed since",
                    f.system_path,
                    config.command(&["--rollback", &set.info.id, "--exact"])
                )));
            }
        }
    }
    let diffs = |label: &str, after: &dyn Fn(&Restore) -> Option<Vec<u8>>, p: Paint| {
        let mut out = String::new();
        for r in &restores {
            match after(r) {
                Some(bytes) => out.push_str(&diff::unified_as(
                    &r.path,
                    r.current.as_deref(),
                    &bytes,
                    label,
                    p,
                )),
                None if r.current.is_some() => {
                    out.push_str(&format!("{}: removed (wrapfix had created it)\n", r.path))
                }
                None => {}
            }
        }
        out
    };
    let planned = |r: &Restore| r.restored.clone();
    let how = if exact {
        "exactly, byte for byte"
    } else {
        "undoing only wrapfix's own edits"
    };
    let title = format!(
        "{} change set {} ({}, {}), {how}",
        p.bold("Rollback of"),
        // Manifest fields are untrusted text.
        term::escape(&set.info.id),
        term::escape(&set.info.action),
        term::escape(&set.info.time)
    );
    let json_doc = |change_set: Value| {
        let files: Vec<Value> = restores
            .iter()
            .map(|r| {
                let result = match (&r.restored, &r.current) {
                    (a, b) if a == b => "unchanged",
                    (None, _) => "remove",
                    (Some(_), _) => "restore",
                };
                json!({
                    "path": r.path,
                    "result": result,
                    "diff": diffs_one(r, Paint(false)),
                })
            })
            .collect();
        json!({
            "version": 1,
            "mode": "rollback",
            "root": config.root.dir().display().to_string(),
            "rollback": {"of": set.info.id, "action": set.info.action, "exact": exact, "files": files},
            "change_set": change_set,
        })
    };
    // Asking shows the plan first; with --yes the diff comes after, of what was written.
    if !config.json && !config.yes {
        write_out(|out| writeln!(out, "{title}:\n\n{}", diffs("planned", &planned, p)))?;
    }
    if !approved(
        config,
        "Roll back this change set?",
        &config.command(&["--rollback", &set.info.id, "--yes"]),
    ) {
        if config.json {
            write_out(|out| report::write_json(out, &json_doc(Value::Null)))?;
        }
        return Ok(exit::LOCKED_OUT);
    }
    let done = fsops::rollback_with(&fsops::RollbackRequest {
        set: &set,
        root: &config.root,
        backup_dir: &config.backup_dir,
        exact,
        revert: &plan::revert,
        derive: &|before, after| crate::edits::between(before, after, "rollback"),
        allow_in_place: config.in_place,
        command: &command,
    })?;
    if config.json {
        let cs = change_set_json(config, done.as_ref(), true, Some(&set.info.id));
        write_out(|out| report::write_json(out, &json_doc(cs)))?;
        return Ok(exit::OK);
    }
    // What the files hold now, read back.
    let now = |r: &Restore| config.root.read_optional(&r.path).ok().flatten();
    write_out(|out| {
        if config.yes {
            writeln!(out, "{title}:\n\n{}", diffs("now", &now, p))?;
        }
        match &done {
            Some(a) => writeln!(
                out,
                "Rolled back {} as change set {} (backup in {}); undo with: {}",
                term::escape(&set.info.id),
                a.id,
                term::escape(&a.dir.display().to_string()),
                config.command(&["--rollback", &a.id])
            ),
            None => writeln!(
                out,
                "Nothing to do: the files already hold their bytes from before {}",
                term::escape(&set.info.id)
            ),
        }
    })?;
    Ok(exit::OK)
}

/// The plain diff of one planned restore, for JSON.
fn diffs_one(r: &Restore, p: Paint) -> String {
    match &r.restored {
        Some(bytes) => diff::unified(&r.path, r.current.as_deref(), bytes, p),
        None => String::new(),
    }
}

/// `--list-backups`: the change sets, oldest first.
pub fn list_backups(config: &Config) -> Result<i32> {
    let sets = fsops::list(&config.root, &config.backup_dir)?;
    let (dir, in_root) = config.as_seen(&config.backup_dir);
    // A rollback only counts once it completed: one that stopped midway left its target in
    // effect (running it again finishes it).
    let in_effect = |s: &fsops::ChangeSetInfo| s.complete && s.rolled_back_by.is_none();
    write_out(|out| {
        if config.json {
            let list: Vec<Value> = sets
                .iter()
                .map(|s| {
                    json!({"id": s.id, "action": s.action, "time": s.time, "files": s.files,
                           "complete": s.complete, "in_effect": in_effect(s),
                           "rolls_back": s.rolls_back, "rolled_back_by": s.rolled_back_by})
                })
                .collect();
            let doc = json!({
                "version": 1,
                "mode": "list-backups",
                "root": config.root.dir().display().to_string(),
                "backup_dir": dir,
                "backup_dir_in_root": in_root,
                "change_sets": list,
            });
            return report::write_json(out, &doc);
        }
        if sets.is_empty() {
            return writeln!(out, "No change sets in {}.", config.backup_dir.display());
        }
        writeln!(out, "Change sets in {}:", config.backup_dir.display())?;
        let width = sets.iter().map(|s| s.id.len()).max().unwrap_or(0);
        for s in &sets {
            let note = match (&s.rolls_back, &s.rolled_back_by, s.complete) {
                (_, Some(by), _) => format!("  (rolled back by {by})"),
                (Some(of), None, true) => format!("  (undoes {of})"),
                (Some(of), None, false) => {
                    format!("  INCOMPLETE: did not undo {of}, which is still in effect")
                }
                (None, None, true) => String::new(),
                (None, None, false) => "  INCOMPLETE: some files were not changed".into(),
            };
            // Every field comes from a manifest, which is untrusted text.
            writeln!(
                out,
                "  {:<width$}  {:<8}  {}  {}{}",
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
