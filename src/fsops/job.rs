//! One change through the write protocol, fixes and rollbacks alike: lock, plan every file, back up, write, verify, record.

use super::*;

/// What a file should become, given its current bytes (fix and rollback alike).
pub(super) type PlanFn<'a> = &'a dyn Fn(&str, Option<&[u8]>) -> Result<Desired, String>;

/// A change to run through the write protocol: fixes and rollbacks alike.
#[derive(Clone)]
pub(super) struct Job<'a> {
    pub(super) root: &'a Root,
    /// As given; [`run`] replaces it with the resolved directory.
    pub(super) backup_dir: &'a Path,
    pub(super) action: &'a str,
    pub(super) targets: &'a Value,
    pub(super) rolls_back: Option<&'a str>,
    pub(super) files: &'a [FileChange],
    pub(super) plan: PlanFn<'a>,
    /// The error for a plan that does not apply to a file (path, reason).
    pub(super) refuse: &'a dyn Fn(&str, String) -> Error,
    pub(super) allow_in_place: bool,
    /// Write a change set even when no file needs changing (rollbacks).
    pub(super) record_empty: bool,
    /// The change-set ID asked for, if any.
    pub(super) id: Option<&'a str>,
    /// For a rollback: record the line diff of each file as its edits.
    pub(super) derive: Option<Derive<'a>>,
    pub(super) command: Command<'a>,
}

impl Job<'_> {
    /// For a rollback, the edits to record for a file going from `before` to `after`
    /// (`None` for a change made from a plan: its edits are recorded once, as planned).
    pub(super) fn derived(
        &self,
        before: Option<&[u8]>,
        after: Option<&[u8]>,
    ) -> Option<Vec<EditRecord>> {
        self.derive.map(|derive| derive(before, after))
    }
}

/// A file whose plan changes something.
pub(super) struct Planned {
    pub(super) target: FileChange,
    pub(super) pending: PendingWrite,
}

/// The directory holding the tables, where the run lock is taken.
pub(super) const TABLES_DIR: &str = "/etc";

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

pub(super) fn run(job: &Job) -> Result<Option<Applied>, Error> {
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
pub(super) fn new_set(job: &Job) -> Result<SetWriter, Error> {
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
pub(super) fn record_empty(job: &Job) -> Result<Applied, Error> {
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
pub(super) fn plan_all(job: &Job) -> Result<Vec<Planned>, Error> {
    let mut planned = Vec::new();
    for target in job.files {
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

pub(super) fn resolve(root: &Root, system_path: &str) -> Result<PathBuf, Error> {
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
pub(super) fn creation_meta(root: &Root, target: &FileChange) -> Meta {
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
pub(super) fn back_up(job: &Job, set: &mut SetWriter, planned: &[Planned]) -> Result<(), Error> {
    for p in planned {
        let after = write::slice(&p.pending.desired.bytes);
        // Shared with the manifest, not copied: a comment plan records 50,000 edits.
        let edits = job
            .derived(p.pending.snap.bytes.as_deref(), after)
            .map_or_else(|| p.target.edits.clone(), EditList::from);
        set.add(&p.target.system_path, &p.pending.snap, after, edits)?;
    }
    set.save(false)
}

/// Steps 5–8 for each file in turn; on failure, say what state every file is in.
pub(super) fn write_all(
    job: &Job,
    mut set: SetWriter,
    mut planned: Vec<Planned>,
) -> Result<Option<Applied>, Error> {
    let mut done: Vec<AppliedFile> = Vec::new();
    let count = planned.len();
    let mut changed = vec![false; count];
    for i in 0..count {
        let Planned { target, pending } = &mut planned[i];
        let written = {
            let mut rebase = |snap: &Snapshot| -> Result<Desired, Error> {
                let desired = (job.plan)(&target.system_path, snap.bytes.as_deref())
                    .map_err(|reason| (job.refuse)(&target.system_path, reason))?;
                set.set_before(
                    i,
                    snap.bytes.as_deref(),
                    snap.meta.as_ref(),
                    write::slice(&desired.bytes),
                )?;
                if let Some(edits) =
                    job.derived(snap.bytes.as_deref(), write::slice(&desired.bytes))
                {
                    set.set_edits(i, EditList::from(edits));
                }
                set.save(false)?;
                Ok(desired)
            };
            write::commit(pending, &mut rebase, job.allow_in_place)
        };
        match written {
            Ok(w) => {
                changed[i] = !w.unchanged;
                // The last file's record is saved by the final save, which follows at once.
                let last = i + 1 == count;
                if let Err(error) = record(job, &mut set, i, pending, &w, !last) {
                    return Err(fail(job, set, &planned, &changed, i, error));
                }
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
    if let Err((e, in_place)) = set.save_telling(true) {
        let state = if in_place {
            format!(
                "Every file was changed and the manifest in {} marks the change set complete, but it may not survive a crash (its directory could not be synced)",
                set.dir.display()
            )
        } else {
            format!(
                "Every file was changed; the backups in {} are complete, but the manifest still marks the change set as incomplete",
                set.dir.display()
            )
        };
        return Err(e.with_state(&state));
    }
    Ok(Some(Applied {
        id: set.id,
        dir: set.dir,
        files: done,
    }))
}

/// Update file `i` of the manifest with what was really written (salvage included), and
/// save it if `save` (not when the final save follows at once: a manifest can be 12 MB,
/// and a crash between the two saves leaves the same as a crash during the first). The
/// one error returned is a failed rewrite of the backup after a salvage: the manifest then
/// still records the planned bytes as "after", so that a rollback sees the file as changed
/// since and undoes only wrapfix's edits, keeping the salvaged lines.
pub(super) fn record(
    job: &Job,
    set: &mut SetWriter,
    i: usize,
    p: &PendingWrite,
    w: &Written,
    save: bool,
) -> Result<(), Error> {
    // The other failures here lose nothing: the backup written before the target was
    // touched is intact, and the final save reports its own error.
    if w.unchanged {
        let now = p.snap.bytes.as_deref();
        let _ = set.set_before(i, now, p.snap.meta.as_ref(), now);
    } else {
        if !w.salvaged.is_empty() {
            // The old file's final bytes are the backup: a rollback must keep the salvage.
            set.set_before(
                i,
                w.before.as_deref(),
                p.snap.meta.as_ref(),
                write::slice(&w.after),
            )?;
            if let Some(edits) = job.derived(w.before.as_deref(), write::slice(&w.after)) {
                set.set_edits(i, EditList::from(edits));
            }
        }
        set.set_after(i, write::slice(&w.after), &w.salvaged, w.in_place);
    }
    if save {
        let _ = set.save(false);
    }
    Ok(())
}

pub(super) fn applied_file(p: &PendingWrite, w: Written) -> AppliedFile {
    AppliedFile {
        system_path: p.system_path.clone(),
        existed: p.snap.bytes.is_some(),
        removed: w.after.is_none(),
        salvaged: w.salvaged,
        in_place: w.in_place,
        warnings: w.warnings,
        still_open: w.still_open,
    }
}

/// The error for a change that failed at file `failed`, naming every file's state.
pub(super) fn fail(
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
