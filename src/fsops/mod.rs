//! All file I/O of a change (docs/write-protocol.md): the run lock, change sets with backups and a
//! manifest, the atomic write of each target, salvage of concurrent appends, verification,
//! and rollback. Nothing here knows hosts_access syntax: callers pass closures that turn a
//! file's current bytes into the bytes they want ([`Rebase`], [`Revert`]).
//!
//! Exit statuses: every error here is exit 3 (the change could not be made safely) except
//! "no such change set" / "nothing to roll back" / "already rolled back", which are usage
//! errors (exit 2). A busy lock is exit 3 too: the command line was right, the change just
//! cannot be made now.
//!
//! Crash safety: backups and the manifest are on disk (fsynced, directories included)
//! before any target is touched, and each target is replaced by one rename, so a target
//! holds its old or its new bytes, never a mix. Temporary files (`.wrapfix-*.tmp`) are
//! removed on every error path; a run that is killed may leave one next to a target, and
//! the next run removes it while holding the lock. Lines another program appends to a
//! target while it is replaced are carried over (salvage); other changes make the plan be
//! made again on the new bytes (bounded), or stop the change with nothing changed.

pub mod edits;
mod manifest;
pub mod rootfs;
mod sys;
mod trust;
mod write;

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::model::edit::EditRecord;

pub use manifest::{ChangeSet, ChangeSetInfo, SetFile, list, load, new_id};
pub use sys::Meta;

use crate::error::Error;
use crate::fsops::rootfs::Root;
use manifest::{SetWriter, sha256_hex};
use sys::Snapshot;
use write::{Desired, Failed, PendingWrite, Written};

/// One file a change set will rewrite.
#[derive(Debug, Clone)]
pub struct FileChange {
    /// Its path on the repaired system (`/etc/hosts.allow`).
    pub system_path: String,
    /// The edits the plan makes to it, recorded verbatim in the manifest for a later
    /// rollback (which hands them back to [`Revert`]).
    pub edits: Vec<EditRecord>,
    /// When the file does not exist and is created: copy mode and owner from this file
    /// (system path, e.g. the sibling `/etc/hosts.deny`) if it exists; else 0644 root:root.
    pub create_like: Option<String>,
}

impl FileChange {
    pub fn new(system_path: impl Into<String>, edits: Vec<EditRecord>) -> FileChange {
        FileChange {
            system_path: system_path.into(),
            edits,
            create_like: None,
        }
    }
}

/// The caller's plan for one file: given its current bytes (`None`: absent), the new bytes,
/// or `Err(reason)` when the plan no longer applies (after another program changed it).
pub type Rebase<'a> = &'a dyn Fn(&str, Option<&[u8]>) -> Result<Vec<u8>, String>;

/// Undo only wrapfix's own `edits` in a file that other programs changed since: given the
/// path, its current bytes and the recorded edits, the bytes to write, or `Err(reason)`.
pub type Revert<'a> = &'a dyn Fn(&str, &[u8], Option<&[EditRecord]>) -> Result<Vec<u8>, String>;

/// The edit list a rollback records for one file, from the bytes it replaced and the bytes
/// it wrote (`None`: absent), so that [`Revert`] can undo the rollback in turn.
pub type Derive<'a> = &'a dyn Fn(Option<&[u8]>, Option<&[u8]>) -> Vec<EditRecord>;

/// A wrapfix command line for the system being changed, with these arguments (`--root`
/// and `--backup-dir` included as the run had them), for the commands messages suggest.
pub type Command<'a> = &'a dyn Fn(&[&str]) -> String;

/// `wrapfix ARGS`: for callers whose system is `/` with the default backup directory.
pub fn plain_command(args: &[&str]) -> String {
    std::iter::once("wrapfix")
        .chain(args.iter().copied())
        .collect::<Vec<_>>()
        .join(" ")
}

pub struct ChangeRequest<'a> {
    pub root: &'a Root,
    /// Where change sets are kept, on this machine: inside the root's directory it is
    /// resolved inside the root like every other path (see [`backups`]).
    pub backup_dir: &'a Path,
    /// `fix` (or any other name the caller wants in the manifest).
    pub action: &'a str,
    /// Recorded verbatim in the manifest.
    pub targets_json: Value,
    pub files: Vec<FileChange>,
    pub rebase: Rebase<'a>,
    /// Only then, when rename fails with EBUSY/EXDEV (a bind-mounted file), overwrite the
    /// file in place (not atomic) after the backup.
    pub allow_in_place: bool,
    /// The change-set ID to use (from [`new_id`], named in the plan's marker lines); `-N` is
    /// added if it is taken. `None`: the time of writing.
    pub id: Option<&'a str>,
    /// How messages spell a command (`wrapfix --root R --rollback ID`).
    pub command: Command<'a>,
}

/// A change set that was written.
#[derive(Debug)]
pub struct Applied {
    pub id: String,
    /// `BACKUP_DIR/ID`.
    pub dir: PathBuf,
    pub files: Vec<AppliedFile>,
}

#[derive(Debug)]
pub struct AppliedFile {
    pub system_path: String,
    /// Whether the file existed before.
    pub existed: bool,
    /// Whether the change removed it (rollback of a file wrapfix created).
    pub removed: bool,
    /// Bytes another writer appended to the old file while it was replaced, carried over.
    pub salvaged: Vec<u8>,
    /// Overwritten in place (bind mount), not replaced atomically.
    pub in_place: bool,
    /// Things the admin should know (a writer that kept the old file open, ...).
    pub warnings: Vec<String>,
}

/// Apply a change. `Ok(None)`: nothing to do (every file already holds what the plan
/// wants); no backup was written.
pub fn apply(req: &ChangeRequest) -> Result<Option<Applied>, Error> {
    let plan = |path: &str, current: Option<&[u8]>| {
        // A missing file planned empty stays missing: there is nothing to create.
        (req.rebase)(path, current).map(|bytes| Desired {
            bytes: if current.is_none() && bytes.is_empty() {
                None
            } else {
                Some(bytes)
            },
            meta: None,
        })
    };
    let refuse = |path: &str, reason: String| Error::PlanNoLongerApplies {
        path: path.to_string(),
        reason,
    };
    let job = Job {
        root: req.root,
        backup_dir: req.backup_dir,
        action: req.action,
        targets: &req.targets_json,
        rolls_back: None,
        files: req.files.clone(),
        plan: &plan,
        refuse: &refuse,
        allow_in_place: req.allow_in_place,
        id: req.id,
        record_empty: false,
        derive: None,
        command: req.command,
    };
    run(&job)
}

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
    let files = set
        .files
        .iter()
        .map(|f| FileChange {
            system_path: f.system_path.clone(),
            // Replaced by the line diff of what the rollback really writes.
            edits: Vec::new(),
            create_like: None,
        })
        .collect();
    let job = Job {
        root: req.root,
        backup_dir: req.backup_dir,
        action: "rollback",
        targets: &set.targets,
        rolls_back: Some(id),
        files,
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
fn check_exact(req: &RollbackRequest) -> Result<(), Error> {
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

/// What the rollback of one file writes, given what the file holds now.
/// What rolling back `f` would leave in the file, given its current bytes (`None`: the
/// file is removed), or why only wrapfix's edits cannot be undone. For showing the rollback
/// before it is done; [`rollback`] decides the same way.
pub fn planned_restore(
    f: &SetFile,
    current: Option<&[u8]>,
    exact: bool,
    revert: Revert,
) -> Result<Option<Vec<u8>>, String> {
    restore_plan(f, current, exact, revert).map(|d| d.bytes)
}

fn restore_plan(
    f: &SetFile,
    current: Option<&[u8]>,
    exact: bool,
    revert: Revert,
) -> Result<Desired, String> {
    let restore = Desired {
        bytes: f.backup.clone(),
        meta: f.meta.clone(),
    };
    let now = current.map(sha256_hex);
    if now == f.sha256_after || exact {
        return Ok(restore);
    }
    if now == f.sha256_before {
        // Already back to what it was (e.g. the fix never reached this file).
        return Ok(Desired {
            bytes: current.map(<[u8]>::to_vec),
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
        Some(bytes)
    };
    Ok(Desired { bytes, meta: None })
}

/// What a file should become, given its current bytes (fix and rollback alike).
type PlanFn<'a> = &'a dyn Fn(&str, Option<&[u8]>) -> Result<Desired, String>;

/// A change to run through the write protocol: fixes and rollbacks alike.
#[derive(Clone)]
struct Job<'a> {
    root: &'a Root,
    /// As given; [`run`] replaces it with the resolved directory.
    backup_dir: &'a Path,
    action: &'a str,
    targets: &'a Value,
    rolls_back: Option<&'a str>,
    files: Vec<FileChange>,
    plan: PlanFn<'a>,
    /// The error for a plan that does not apply to a file (path, reason).
    refuse: &'a dyn Fn(&str, String) -> Error,
    allow_in_place: bool,
    /// Write a change set even when no file needs changing (rollbacks).
    record_empty: bool,
    /// The change-set ID asked for, if any.
    id: Option<&'a str>,
    /// For a rollback: record the line diff of each file as its edits.
    derive: Option<Derive<'a>>,
    command: Command<'a>,
}

impl Job<'_> {
    /// The edits to record for a file going from `before` to `after`.
    fn edits(
        &self,
        target: &FileChange,
        before: Option<&[u8]>,
        after: Option<&[u8]>,
    ) -> Vec<EditRecord> {
        match self.derive {
            Some(derive) => derive(before, after),
            None => target.edits.clone(),
        }
    }
}

/// A file whose plan changes something.
struct Planned {
    target: FileChange,
    pending: PendingWrite,
}

/// The directory holding the tables, where the run lock is taken.
const TABLES_DIR: &str = "/etc";

/// Where the change sets in `backup_dir` are on this machine: a directory inside the
/// root's is resolved inside the root (links in ROOT/var or ROOT/var/backups are the
/// repaired system's, and must not lead out of it); one elsewhere (a USB stick, given with
/// `--backup-dir`) is resolved as this machine's own path. With `create`, missing
/// directories are made (mode 0700: backups hold whatever the tables held); without, a
/// missing one is `NotFound`.
pub fn backups(root: &Root, backup_dir: &Path, create: bool) -> std::io::Result<PathBuf> {
    let (within, path) = match backup_dir.strip_prefix(root.dir()) {
        Ok(rel) => (root.clone(), format!("/{}", rel.display())),
        Err(_) => (Root::new("/"), backup_dir.display().to_string()),
    };
    if create {
        within.create_dirs(&path, 0o700)
    } else {
        let host = within.resolve(&path)?;
        if !host.is_dir() {
            return Err(std::io::Error::from(std::io::ErrorKind::NotFound));
        }
        Ok(host)
    }
}

fn run(job: &Job) -> Result<Option<Applied>, Error> {
    let tables_dir = resolve(job.root, TABLES_DIR)?;
    let backup_dir = backups(job.root, job.backup_dir, true).map_err(|e| {
        sys::io_err("create the backup directory", job.backup_dir, e)
            .with_state("Nothing was changed (give another place with --backup-dir DIR)")
    })?;
    let _lock = sys::lock(&tables_dir, &backup_dir)?;
    manifest::clean_up(&backup_dir);
    let job = &Job {
        backup_dir: &backup_dir,
        ..job.clone()
    };
    let planned = plan_all(job)?;
    if planned.is_empty() {
        return if job.record_empty {
            record_empty(job).map(Some)
        } else {
            Ok(None)
        };
    }
    for p in &planned {
        sys::check_writable(sys::parent(&p.pending.host)?)?;
    }
    let mut set = new_set(job)?;
    if let Err(e) = back_up(job, &mut set, &planned) {
        set.discard();
        return Err(e.with_state("Nothing was changed"));
    }
    write_all(job, set, planned)
}

/// The change-set directory for this job.
fn new_set(job: &Job) -> Result<SetWriter, Error> {
    SetWriter::create(
        job.backup_dir,
        job.action,
        job.targets,
        job.rolls_back,
        job.id,
    )
}

/// A change set that changes no file: a rollback whose files already hold their prior
/// bytes still marks its change set as rolled back, so that the next `--rollback` moves on.
fn record_empty(job: &Job) -> Result<Applied, Error> {
    let mut set = new_set(job)?;
    if let Err(e) = set.save(true) {
        set.discard();
        return Err(e.with_state("Nothing was changed"));
    }
    Ok(Applied {
        id: set.id,
        dir: set.dir,
        files: Vec::new(),
    })
}

/// Steps 2–3: read each target (keeping its descriptor) and plan on its bytes.
fn plan_all(job: &Job) -> Result<Vec<Planned>, Error> {
    let mut planned = Vec::new();
    for target in &job.files {
        let host = resolve(job.root, &target.system_path)?;
        sys::remove_stale_temps(sys::parent(&host)?);
        let snap = Snapshot::read(&host)?;
        let desired = (job.plan)(&target.system_path, snap.bytes.as_deref()).map_err(|reason| {
            (job.refuse)(&target.system_path, reason).with_state("Nothing was changed")
        })?;
        if desired.is_noop(&snap) {
            continue;
        }
        let create_meta = creation_meta(job.root, target);
        let pending = PendingWrite {
            system_path: target.system_path.clone(),
            host,
            snap,
            desired,
            create_meta,
        };
        planned.push(Planned {
            target: target.clone(),
            pending,
        });
    }
    Ok(planned)
}

fn resolve(root: &Root, system_path: &str) -> Result<PathBuf, Error> {
    root.resolve(system_path).map_err(|e| {
        sys::io_err(
            "resolve",
            &root.dir().join(system_path.trim_start_matches('/')),
            e,
        )
    })
}

/// Mode and owner for a file that does not exist yet: its sibling's (as the caller names
/// it), else 0644 owned by root (or by us, when not running as root and chown would fail).
fn creation_meta(root: &Root, target: &FileChange) -> Meta {
    let sibling = target
        .create_like
        .as_deref()
        .and_then(|p| root.resolve(p).ok())
        .and_then(|host| std::fs::metadata(host).ok())
        .filter(|m| m.is_file());
    if let Some(m) = sibling {
        use std::os::unix::fs::MetadataExt;
        return Meta {
            mode: m.mode() & 0o7777,
            uid: m.uid(),
            gid: m.gid(),
            xattrs: Vec::new(),
        };
    }
    let (uid, gid) = if nix::unistd::geteuid().is_root() {
        (0, 0)
    } else {
        (
            nix::unistd::geteuid().as_raw(),
            nix::unistd::getegid().as_raw(),
        )
    };
    Meta {
        mode: 0o644,
        uid,
        gid,
        xattrs: Vec::new(),
    }
}

/// Step 4: the backup of every file and the manifest, synced, before any target is touched.
fn back_up(job: &Job, set: &mut SetWriter, planned: &[Planned]) -> Result<(), Error> {
    for p in planned {
        let after = p.pending.desired.bytes.as_deref();
        let edits = job.edits(&p.target, p.pending.snap.bytes.as_deref(), after);
        set.add(&p.target.system_path, &p.pending.snap, after, &edits)?;
    }
    set.save(false)
}

/// Steps 5–8 for each file in turn; on failure, say what state every file is in.
fn write_all(
    job: &Job,
    mut set: SetWriter,
    mut planned: Vec<Planned>,
) -> Result<Option<Applied>, Error> {
    let mut done: Vec<AppliedFile> = Vec::new();
    let mut changed = vec![false; planned.len()];
    for i in 0..planned.len() {
        let Planned { target, pending } = &mut planned[i];
        let written = {
            let mut rebase = |snap: &Snapshot| -> Result<Desired, Error> {
                let desired = (job.plan)(&target.system_path, snap.bytes.as_deref())
                    .map_err(|reason| (job.refuse)(&target.system_path, reason))?;
                set.set_before(
                    i,
                    snap.bytes.as_deref(),
                    snap.meta.as_ref(),
                    desired.bytes.as_deref(),
                )?;
                let edits = job.edits(target, snap.bytes.as_deref(), desired.bytes.as_deref());
                set.set_edits(i, edits);
                set.save(false)?;
                Ok(desired)
            };
            write::commit(pending, &mut rebase, job.allow_in_place)
        };
        match written {
            Ok(w) => {
                record(job, &mut set, i, target, pending, &w);
                changed[i] = !w.unchanged;
                if !w.unchanged {
                    done.push(applied_file(pending, w));
                }
            }
            Err(Failed { error, touched }) => {
                changed[i] = touched;
                return Err(fail(job, set, &planned, &changed, i, error));
            }
        }
    }
    if done.is_empty() && !job.record_empty {
        // Every file turned out to need nothing after a rebase: no change set.
        set.discard();
        return Ok(None);
    }
    if let Err(e) = set.save(true) {
        let state = format!(
            "Every file was changed; the backups in {} are complete, but the manifest still marks the change set as incomplete",
            set.dir.display()
        );
        return Err(e.with_state(&state));
    }
    Ok(Some(Applied {
        id: set.id,
        dir: set.dir,
        files: done,
    }))
}

/// Update file `i` of the manifest with what was really written (salvage included).
fn record(
    job: &Job,
    set: &mut SetWriter,
    i: usize,
    target: &FileChange,
    p: &PendingWrite,
    w: &Written,
) {
    // Failures here lose nothing: the backup written before the target was touched is
    // intact, and the final save reports its own error.
    if w.unchanged {
        let now = p.snap.bytes.as_deref();
        let _ = set.set_before(i, now, p.snap.meta.as_ref(), now);
    } else {
        if !w.salvaged.is_empty() {
            // The old file's final bytes are the backup: a rollback must keep the salvage.
            let _ = set.set_before(
                i,
                w.before.as_deref(),
                p.snap.meta.as_ref(),
                w.after.as_deref(),
            );
            let edits = job.edits(target, w.before.as_deref(), w.after.as_deref());
            set.set_edits(i, edits);
        }
        set.set_after(i, w.after.as_deref(), &w.salvaged, w.in_place);
    }
    let _ = set.save(false);
}

fn applied_file(p: &PendingWrite, w: Written) -> AppliedFile {
    AppliedFile {
        system_path: p.system_path.clone(),
        existed: p.snap.bytes.is_some(),
        removed: w.after.is_none(),
        salvaged: w.salvaged,
        in_place: w.in_place,
        warnings: w.warnings,
    }
}

/// The error for a change that failed at file `failed`, naming every file's state.
fn fail(
    job: &Job,
    mut set: SetWriter,
    planned: &[Planned],
    changed: &[bool],
    failed: usize,
    error: Error,
) -> Error {
    if !changed.iter().any(|&c| c) {
        // No target was touched: the change set would only be clutter.
        set.discard();
        return error.with_state("Nothing was changed");
    }
    let _ = set.save(false);
    let state: Vec<String> = planned
        .iter()
        .zip(changed)
        .enumerate()
        .map(|(i, (p, &c))| {
            let path = &p.target.system_path;
            match (c, i == failed) {
                (true, true) => format!("{path} was changed but could not be verified"),
                (true, false) => format!("{path} was changed"),
                (false, _) => format!("{path} is unchanged"),
            }
        })
        .collect();
    let state = format!(
        "{}; the backup is in {} (`{}` undoes the change)",
        state.join(", "),
        set.dir.display(),
        (job.command)(&["--rollback", &set.id])
    );
    error.with_state(state)
}
