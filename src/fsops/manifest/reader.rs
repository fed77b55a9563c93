//! Reading change sets: listing them, what undid what, loading one for a rollback (checked by trust), and cleaning up after killed runs.

use super::*;

/// `ID` or `ID-N` → sort key; `None` for names that are not change sets.
pub(super) fn id_key(name: &str) -> Option<(String, u32)> {
    let (base, n) = match name.split_once('-') {
        Some((base, n)) => (base, n.parse::<u32>().ok()?),
        None => (name, 0),
    };
    chrono::NaiveDateTime::parse_from_str(base, ID_FORMAT).ok()?;
    Some((base.to_string(), n))
}

/// A file of a change set: inside it no link is followed, only a regular file is read
/// (a FIFO must not hang `--list-backups`), and at most `limit` bytes.
pub(super) fn read_in_set(dir: &Path, rel: &str, limit: u64) -> io::Result<Vec<u8>> {
    let host = Root::new(dir).beneath(rel, None)?;
    rootfs::read_regular(&host, limit)
}

pub(super) fn read_manifest(dir: &Path) -> Result<Option<Manifest>, Error> {
    let path = dir.join(MANIFEST);
    let text = match read_in_set(dir, MANIFEST, MANIFEST_LIMIT) {
        Ok(t) => t,
        // A run killed before its manifest was written never touched a target.
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::read("read", path, e)),
    };
    serde_json::from_slice(&text)
        .map(Some)
        .map_err(|e| Error::read("parse", path, io::Error::new(io::ErrorKind::InvalidData, e)))
}

/// Change sets in `backup_dir` (resolved like [`super::backups`]), oldest first (a missing
/// directory has none). One that cannot be read or parsed is skipped with a warning naming
/// it: a damaged change set must not block the others.
pub fn list(root: &Root, backup_dir: &Path) -> Result<Vec<ChangeSetInfo>, Error> {
    Ok(list_manifests(root, backup_dir)?
        .into_iter()
        .map(|(info, _)| info)
        .collect())
}

pub(super) fn list_manifests(
    root: &Root,
    backup_dir: &Path,
) -> Result<Vec<(ChangeSetInfo, Manifest)>, Error> {
    let backup_dir = match crate::fsops::backups(root, backup_dir, false) {
        Ok(dir) => dir,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::read("resolve", backup_dir, e)),
    };
    let names = match sys::list_dir(&backup_dir) {
        Ok(names) => names,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::read("list", &backup_dir, e)),
    };
    let mut found = Vec::new();
    for name in names {
        let Some(key) = id_key(&name.to_string_lossy()) else {
            continue;
        };
        let dir = backup_dir.join(&name);
        // A link here is not a change set wrapfix made: never followed.
        if !std::fs::symlink_metadata(&dir).is_ok_and(|m| m.is_dir()) {
            crate::report::term::warn(&format!(
                "skipping {}: not a directory (a change set is one)",
                dir.display()
            ));
            continue;
        }
        match read_manifest(&dir) {
            Ok(Some(m)) => found.push((key, dir, m)),
            Ok(None) => {}
            Err(e) => {
                crate::report::term::warn(&format!("skipping change set {}: {e}", dir.display()))
            }
        }
    }
    found.sort_by(|a, b| a.0.cmp(&b.0));
    let undone = rolled_back_by(found.iter().map(|(_, _, m)| m));
    Ok(found
        .into_iter()
        .map(|(_, dir, m)| {
            let info = ChangeSetInfo {
                id: m.id.clone(),
                dir,
                action: m.action.clone(),
                time: m.time.clone(),
                files: m.files.iter().map(|f| f.path.clone()).collect(),
                complete: m.complete,
                rolls_back: m.rolls_back.clone(),
                rolled_back_by: undone.get(&m.id).cloned(),
            };
            (info, m)
        })
        .collect())
}

/// Remove what killed runs left in the backup directory (called under the run lock):
/// temporary files, and change-set directories without a manifest (a run killed before
/// its manifest was written never touched a target, so they hold nothing anyone needs).
pub(crate) fn clean_up(backup_dir: &Path) {
    sys::remove_stale_temps(backup_dir);
    for name in sys::list_dir(backup_dir).unwrap_or_default() {
        if id_key(&name.to_string_lossy()).is_none() {
            continue;
        }
        let dir = backup_dir.join(&name);
        if !std::fs::symlink_metadata(&dir).is_ok_and(|m| m.is_dir()) {
            continue;
        }
        sys::remove_stale_temps(&dir);
        let manifest = std::fs::symlink_metadata(dir.join(MANIFEST));
        if manifest.is_err_and(|e| e.kind() == io::ErrorKind::NotFound) && only_backups(&dir) {
            sys::remove_tree(&dir);
        }
    }
    let _ = sys::sync_dir(backup_dir);
}

/// Whether a change-set directory holds nothing but what a run writes before its manifest
/// (`etc/hosts.allow`, `etc/hosts.deny`): anything else was put there by someone, and stays.
pub(super) fn only_backups(dir: &Path) -> bool {
    let Ok(names) = sys::list_dir(dir) else {
        return false;
    };
    names.iter().all(|n| {
        n == "etc"
            && sys::list_dir(&dir.join(n)).is_ok_and(|inner| {
                inner.iter().all(|f| {
                    TABLES
                        .iter()
                        .any(|t| Path::new(t).file_name() == Some(f.as_os_str()))
                        && std::fs::symlink_metadata(dir.join(n).join(f)).is_ok_and(|m| m.is_file())
                })
            })
    })
}

/// Which change set is undone by which rollback, newest first, so that a rollback that was
/// itself rolled back does not count. Neither does one that stopped midway: running the
/// rollback again finishes it (files already restored need nothing).
pub(super) fn rolled_back_by<'a>(
    sets: impl DoubleEndedIterator<Item = &'a Manifest>,
) -> BTreeMap<String, String> {
    let mut undone: BTreeMap<String, String> = BTreeMap::new();
    for m in sets.rev() {
        if let Some(target) = &m.rolls_back
            && m.complete
            && !undone.contains_key(&m.id)
        {
            undone.entry(target.clone()).or_insert_with(|| m.id.clone());
        }
    }
    undone
}

/// Load change set `id`, or the latest one that is not a rollback and was not rolled back.
/// Everything in it is checked before a rollback may use it (see [`set_file`]).
pub fn load(root: &Root, backup_dir: &Path, id: Option<&str>) -> Result<ChangeSet, Error> {
    let sets = list_manifests(root, backup_dir)?;
    let found = match id {
        Some(id) => sets
            .into_iter()
            .find(|(info, _)| info.id == id)
            .ok_or_else(|| Error::NoSuchChangeSet {
                id: id.to_string(),
                dir: backup_dir.to_path_buf(),
                list: None,
            })?,
        None => sets
            .into_iter()
            .rev()
            .find(|(info, _)| info.rolls_back.is_none() && info.rolled_back_by.is_none())
            .ok_or_else(|| Error::NothingToRollBack {
                dir: backup_dir.to_path_buf(),
            })?,
    };
    let (info, m) = found;
    let owners = Owners::load(root);
    let mut seen = Vec::new();
    let files = m
        .files
        .iter()
        .map(|f| {
            if seen.contains(&f.path) {
                return Err(untrusted(&info.dir, &f.path, "is named twice"));
            }
            seen.push(f.path.clone());
            set_file(&info.dir, f, &owners)
        })
        .collect::<Result<_, _>>()?;
    Ok(ChangeSet {
        info,
        version: m.version,
        targets: m.targets,
        files,
    })
}

/// A file of a change set, checked: one of the two tables, a backup that is a regular
/// file inside the set with the recorded hash, and metadata [`trust::check_meta`] accepts.
pub(super) fn set_file(dir: &Path, f: &FileEntry, owners: &Owners) -> Result<SetFile, Error> {
    let damaged = |why: &str| {
        Error::Unsafe(format!(
            "the change set in {} is damaged: {} {why}",
            dir.display(),
            f.path
        ))
    };
    let refuse = |why: String| untrusted(dir, &f.path, &why);
    trust::check_path(&f.path).map_err(refuse)?;
    let backup = match &f.backup {
        Some(rel) => {
            let path = dir.join(mirrored(&format!("/{rel}"))?);
            let bytes = read_in_set(dir, rel, TABLE_LIMIT)
                .map_err(|e| io_err("read the backup", &path, e))?;
            if Some(sha256_hex(&bytes)) != f.sha256_before {
                return Err(damaged(
                    "has a backup whose SHA-256 does not match the manifest",
                ));
            }
            Some(bytes)
        }
        None if f.existed => return Err(damaged("existed but has no backup")),
        None => None,
    };
    let meta = match (&f.mode, f.uid, f.gid) {
        (Some(mode), Some(uid), Some(gid)) => {
            let mode = u32::from_str_radix(mode, 8).map_err(|_| damaged("has a bad mode"))?;
            let xattrs = f
                .xattr_values
                .iter()
                .map(|(n, v)| unhex(v).map(|v| (n.clone(), v)))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| damaged("has a bad extended attribute value"))?;
            let meta = Meta {
                mode,
                uid,
                gid,
                xattrs,
            };
            trust::check_meta(&meta, owners).map_err(refuse)?;
            Some(meta)
        }
        _ => None,
    };
    Ok(SetFile {
        system_path: f.path.clone(),
        existed: f.existed,
        sha256_before: f.sha256_before.clone(),
        sha256_after: f.sha256_after.clone(),
        size: f.size,
        meta,
        edits: f
            .edits
            .as_ref()
            .map(Edits::records)
            .transpose()
            .map_err(|_| damaged("has a bad edit list"))?,
        backup,
        salvaged: unhex(&f.salvaged).ok_or_else(|| damaged("has bad salvaged bytes"))?,
        in_place: f.in_place,
    })
}
