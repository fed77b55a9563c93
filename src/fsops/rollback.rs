//! Rollback requests: which change set, exact or only wrapfix's own edits, and the refusals that protect later changes.

use super::*;

/// A rollback to make: change set `set` on the system under `root`.
pub struct RollbackRequest<'a> {
    pub set: &'a ChangeSet,
    pub root: &'a Root,
    /// A host path, already resolved.
    pub backup_dir: &'a Path,
    /// Restore the backup byte for byte, dropping later changes by other programs.
    pub exact: bool,
    pub revert: Revert<'a>,
    /// The edit list recorded for each file, so that this rollback can be undone too.
    pub derive: Derive<'a>,
    /// Overwrite a bind-mounted table in place (also done when the change set itself was
    /// written in place).
    pub allow_in_place: bool,
    pub command: Command<'a>,
}

/// Roll back change set `set` (docs/write-protocol.md), recording its line diff as the edit
/// list and spelling commands as plain `wrapfix …`: see [`rollback_with`].
pub fn rollback(
    set: &ChangeSet,
    root: &Root,
    backup_dir: &Path,
    exact: bool,
    revert: Revert,
) -> Result<Option<Applied>, Error> {
    rollback_with(&RollbackRequest {
        set,
        root,
        backup_dir,
        exact,
        revert,
        derive: &|before, after| crate::fsops::edits::between(before, after, "rollback"),
        allow_in_place: false,
        command: &plain_command,
    })
}

/// Roll back change set `req.set` (docs/write-protocol.md): a file that still holds exactly what wrapfix
/// wrote gets its backed-up bytes, mode, owner and attributes back (a file that did not
/// exist is removed); a file changed since gets `revert` (only wrapfix's edits undone), or
/// with `exact` the backup byte for byte. The rollback is a change set of its own, with
/// its own backups and edit list (`derive`), so it can be undone too.
/// `Ok(None)`: every file already holds its prior bytes, nothing was written to them; an
/// empty rollback change set is still recorded, so that `set` counts as rolled back and
/// the next `--rollback` moves on to the change set before it.
pub fn rollback_with(req: &RollbackRequest) -> Result<Option<Applied>, Error> {
    let set = req.set;
    if let Some(by) = &set.info.rolled_back_by {
        return Err(already_rolled_back(set, by, req.command));
    }
    let exact = req.exact;
    if exact {
        check_exact(req)?;
    }
    let revert = req.revert;
    let plan = |path: &str, current: Option<&[u8]>| {
        let f = set
            .files
            .iter()
            .find(|f| f.system_path == path)
            .ok_or("not in the change set")?;
        restore_plan(f, current, exact, revert)
    };
    let id = set.info.id.as_str();
    let exact_cmd = (req.command)(&["--rollback", id, "--exact"]);
    let refuse = |path: &str, reason: String| Error::CannotUndoOwnEdits {
        path: path.to_string(),
        reason,
        exact: exact_cmd.clone(),
    };
    let files: Vec<FileChange> = set
        .files
        .iter()
        .map(|f| FileChange {
            system_path: f.system_path.clone(),
            // Replaced by the line diff of what the rollback really writes.
            edits: EditList::default(),
            create_like: None,
        })
        .collect();
    let job = Job {
        root: req.root,
        backup_dir: req.backup_dir,
        action: "rollback",
        targets: &set.targets,
        rolls_back: Some(id),
        files: &files,
        plan: &plan,
        refuse: &refuse,
        allow_in_place: req.allow_in_place || set.files.iter().any(|f| f.in_place),
        record_empty: true,
        id: None,
        derive: Some(req.derive),
        command: req.command,
    };
    Ok(run(&job)?.filter(|applied| !applied.files.is_empty()))
}

/// The refusal to roll back a change set twice (a usage error: nothing is wrong on disk).
pub fn already_rolled_back(set: &ChangeSet, by: &str, command: Command) -> Error {
    Error::AlreadyRolledBack {
        id: set.info.id.clone(),
        by: by.to_string(),
        redo: command(&["--rollback", by]),
    }
}

/// `--exact` restores a file as it was before the change set, which silently undoes every
/// later wrapfix change to that file that is still in effect: refuse, naming them, unless
/// the file still holds exactly what the change set wrote (then the later ones cancelled out).
pub(super) fn check_exact(req: &RollbackRequest) -> Result<(), Error> {
    let set = req.set;
    let sets = manifest::list(req.root, req.backup_dir)?;
    let Some(at) = sets.iter().position(|s| s.id == set.info.id) else {
        return Ok(());
    };
    let index = |id: &str| sets.iter().position(|s| s.id == id);
    let mut clobbered: Vec<&str> = Vec::new();
    for f in &set.files {
        let current = req.root.read_optional(&f.system_path).ok().flatten();
        if current.as_deref().map(sha256_hex) == f.sha256_after {
            continue;
        }
        for later in &sets[at + 1..] {
            if !later.files.contains(&f.system_path) || clobbered.contains(&later.id.as_str()) {
                continue;
            }
            let in_effect = later.rolled_back_by.is_none();
            // A rollback of a change set newer than this one cancels with it; one of an
            // older change set (or an incomplete one) changed the file for good.
            let cancels = match &later.rolls_back {
                Some(of) => later.complete && index(of).is_some_and(|i| i > at),
                None => false,
            };
            if in_effect && !cancels {
                clobbered.push(&later.id);
            }
        }
    }
    if clobbered.is_empty() {
        return Ok(());
    }
    let first = clobbered[clobbered.len() - 1];
    Err(Error::ExactWouldUndoLater {
        id: set.info.id.clone(),
        later: clobbered.iter().map(|s| s.to_string()).collect(),
        first: (req.command)(&["--rollback", first]),
    })
}

/// What rolling back `f` would leave in the file, given its current bytes (`None`: the
/// file is removed), or why only wrapfix's edits cannot be undone. For showing the rollback
/// before it is done; [`rollback`] decides the same way.
pub fn planned_restore(
    f: &SetFile,
    current: Option<&[u8]>,
    exact: bool,
    revert: Revert,
) -> Result<Option<Vec<u8>>, String> {
    restore_plan(f, current, exact, revert).map(|d| d.bytes.map(Shared::unwrap_or_clone))
}

pub(super) fn restore_plan(
    f: &SetFile,
    current: Option<&[u8]>,
    exact: bool,
    revert: Revert,
) -> Result<Desired, String> {
    let restore = Desired {
        bytes: f.backup.clone().map(Shared::new),
        meta: f.meta.clone(),
    };
    let now = current.map(sha256_hex);
    if now == f.sha256_after || exact {
        return Ok(restore);
    }
    if now == f.sha256_before {
        // Already back to what it was (e.g. the fix never reached this file).
        return Ok(Desired {
            bytes: current.map(|c| Shared::new(c.to_vec())),
            meta: None,
        });
    }
    let Some(current) = current else {
        return Err("the file was removed since wrapfix changed it".into());
    };
    let bytes = revert(&f.system_path, current, f.edits.as_deref())?;
    // A file wrapfix created, with nothing left in it, goes away again.
    let bytes = if !f.existed && bytes.is_empty() {
        None
    } else {
        Some(Shared::new(bytes))
    };
    Ok(Desired { bytes, meta: None })
}
