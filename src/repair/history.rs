//! Undoing changes: `--rollback [ID] [--exact]` (show what the restore does, ask, restore)
//! and `--list-backups`. The restore itself is [`crate::fsops`]'s.

use serde_json::Value;

use crate::config::Config;
use crate::error::{Error, Exit, Result};
use crate::repair::approved;
use crate::repair::plan;
use crate::report::change_set_json;
use crate::report::diff;
use crate::report::term;
use crate::report::{self, Paint, wrap};
use crate::{fsops, write_out};

/// What rolling back one file does, planned before asking.
struct Restore {
    path: String,
    current: Option<Vec<u8>>,
    /// `None`: the file is removed.
    restored: Option<Vec<u8>>,
}

/// `--rollback [ID] [--exact]`: show what the restore does, ask, restore.
pub fn rollback(config: &Config, id: Option<&str>, exact: bool) -> Result<Exit> {
    let command = |args: &[&str]| config.command(args);
    let set = fsops::load(&config.root, &config.backup_dir, id).map_err(|e| match e {
        Error::NoSuchChangeSet { id, dir, .. } => Error::NoSuchChangeSet {
            id,
            dir,
            list: Some(config.command(&["--list-backups"])),
        },
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
            .read_bounded(&f.system_path, crate::model::tables::TABLE_LIMIT)
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
                return Err(Error::CannotUndoOwnEdits {
                    path: f.system_path.clone(),
                    reason: why,
                    exact: config.command(&["--rollback", &set.info.id, "--exact"]),
                }
                .with_state("Nothing was changed"));
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
                None if r.current.is_some() => out.push_str(&format!(
                    "{}: removed (wrapfix had created it)\n",
                    term::escape(&r.path)
                )),
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
        let files: Vec<report::RestoredFile> = restores
            .iter()
            .map(|r| report::RestoredFile {
                path: &r.path,
                result: match (&r.restored, &r.current) {
                    (a, b) if a == b => "unchanged",
                    (None, _) => "remove",
                    (Some(_), _) => "restore",
                },
                diff: diffs_one(r, Paint(false)),
            })
            .collect();
        report::rollback_json(config, &set.info, exact, &files, change_set)
    };
    // Asking shows the plan first; with --yes the diff comes after, of what was written.
    if !config.json && !config.yes {
        write_out(|out| {
            write!(
                out,
                "{}",
                wrap(&format!("{title}:"), config.width, "", "  ")
            )?;
            writeln!(out, "\n{}", diffs("planned", &planned, p))
        })?;
    }
    if !approved(
        config,
        "Roll back this change set?",
        &config.command(&["--rollback", &set.info.id, "--yes"]),
    ) {
        if config.json {
            write_out(|out| report::write_json(out, &json_doc(Value::Null)))?;
        }
        return Ok(Exit::LockedOut);
    }
    let done = fsops::rollback_with(&fsops::RollbackRequest {
        set: &set,
        root: &config.root,
        backup_dir: &config.backup_dir,
        exact,
        revert: &plan::revert,
        derive: &|before, after| crate::fsops::edits::between(before, after, "rollback"),
        allow_in_place: config.in_place,
        command: &command,
    })?;
    // A program that still writes to the file it replaced: the rollback is made, but that
    // no line is lost is not certain (exit 3).
    let exit = match &done {
        Some(a) if crate::repair::still_open(config, a) => Exit::Unsafe,
        _ => Exit::Ok,
    };
    if config.json {
        let cs = change_set_json(config, done.as_ref(), true, Some(&set.info.id));
        write_out(|out| report::write_json(out, &json_doc(cs)))?;
        return Ok(exit);
    }
    // What the files hold now, read back.
    let now = |r: &Restore| config.root.read_optional(&r.path).ok().flatten();
    write_out(|out| {
        if config.yes {
            write!(
                out,
                "{}",
                wrap(&format!("{title}:"), config.width, "", "  ")
            )?;
            writeln!(out, "\n{}", diffs("now", &now, p))?;
        }
        match &done {
            Some(a) => {
                let text = format!(
                    "Rolled back {} as change set {}; backup in {}",
                    term::escape(&set.info.id),
                    a.id,
                    term::escape(&a.dir.display().to_string())
                );
                write!(out, "{}", wrap(&text, config.width, "", "  "))?;
                writeln!(out, "Undo:   {}", config.command(&["--rollback", &a.id]))
            }
            None => writeln!(
                out,
                "Nothing to do: the files already hold their bytes from before {}",
                term::escape(&set.info.id)
            ),
        }
    })?;
    Ok(exit)
}

/// The plain diff of one planned restore, for JSON.
fn diffs_one(r: &Restore, p: Paint) -> String {
    match &r.restored {
        Some(bytes) => diff::unified(&r.path, r.current.as_deref(), bytes, p),
        None => String::new(),
    }
}

/// `--list-backups`: the change sets, oldest first.
pub fn list_backups(config: &Config) -> Result<Exit> {
    let sets = fsops::list(&config.root, &config.backup_dir)?;
    write_out(|out| {
        if config.json {
            return report::write_json(out, &report::change_sets_json(config, &sets));
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
    Ok(Exit::Ok)
}
