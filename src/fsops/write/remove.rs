//! Rollback of a file wrapfix created: moved out of the way atomically, then removed.

use super::*;

/// Rollback of a file wrapfix created: move it out of the way (atomically, to a temporary
/// name), carry over anything appended to it meanwhile, then delete it.
pub(super) fn remove(p: &mut PendingWrite) -> Result<Step, Failed> {
    let dir = sys::parent(&p.host).map_err(untouched)?.to_path_buf();
    let fresh = Snapshot::read(&p.host).map_err(untouched)?;
    if p.snap.compare(&fresh) == Drift::Changed {
        return Ok(Step::Changed(fresh));
    }
    drop(fresh);
    let host = p.host.clone();
    let away = tempfile::Builder::new()
        .prefix(TEMP_PREFIX)
        .suffix(TEMP_SUFFIX)
        .make_in(&dir, |to| rename_noreplace(&host, to))
        .map_err(|e| untouched(io_err("remove", &p.host, e)))?;
    // From here on the target is gone from its path.
    match finish_removal(p, &dir) {
        Ok(written) => {
            discard(away);
            sys::sync_dir(&dir).map_err(touched)?;
            Ok(Step::Done(written))
        }
        // Put the file back where it was, so that the error leaves nothing changed.
        Err(e) => match rename_noreplace(away.path(), &p.host) {
            Ok(()) => Err(untouched(e)),
            Err(_) => {
                discard(away);
                Err(touched(e))
            }
        },
    }
}

pub(super) fn finish_removal(p: &mut PendingWrite, dir: &Path) -> Result<Written, Error> {
    sys::sync_dir(dir)?;
    let Salvage {
        bytes: salvaged,
        still_open,
        warnings,
    } = salvage_bytes(p, 0)?;
    let mut after = None;
    if !salvaged.is_empty() {
        // Someone appended to the file while we removed it: their lines stay.
        put_back(&p.host, dir, &salvaged, &target_meta(p))?;
        after = Some(Shared::new(salvaged.clone()));
    }
    let before = p
        .snap
        .bytes
        .as_ref()
        .map(|b| [b.as_slice(), &salvaged].concat());
    Ok(Written {
        after,
        before,
        salvaged,
        still_open,
        warnings,
        ..Written::default()
    })
}

pub(super) fn put_back(host: &Path, dir: &Path, bytes: &[u8], meta: &Meta) -> Result<(), Error> {
    let temp = prepare_temp(dir, bytes, meta)?;
    match temp.persist_noclobber(host) {
        Ok(_) => sys::sync_dir(dir),
        Err(e) if e.error.kind() == io::ErrorKind::AlreadyExists => {
            discard(e.file);
            append(host, bytes).map(drop)
        }
        Err(e) => {
            let error = e.error;
            discard(e.file);
            Err(io_err("put back the lines appended to", host, error))
        }
    }
}

pub(super) fn rename_noreplace(from: &Path, to: &Path) -> io::Result<()> {
    nix::fcntl::renameat2(
        nix::fcntl::AT_FDCWD,
        from,
        nix::fcntl::AT_FDCWD,
        to,
        nix::fcntl::RenameFlags::RENAME_NOREPLACE,
    )
    .map_err(io::Error::from)
}
