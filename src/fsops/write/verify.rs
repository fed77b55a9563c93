//! Verification (docs/write-protocol.md step 8): the path holds what was written, with the metadata planned.

use super::*;

/// docs/write-protocol.md step 8: the path holds what we wrote (others may have appended since), with
/// the mode and owner we gave it.
pub(super) fn verify(host: &Path, new: &[u8], salvaged: &[u8], meta: &Meta) -> Result<(), Error> {
    let now = std::fs::read(host).map_err(|e| io_err("read back", host, e))?;
    let st = std::fs::metadata(host).map_err(|e| io_err("inspect", host, e))?;
    let rest = now.strip_prefix(new);
    let holds = rest
        .is_some_and(|rest| salvaged.is_empty() || memchr::memmem::find(rest, salvaged).is_some());
    if !holds {
        return Err(Error::Unsafe(format!(
            "verification failed: {} does not hold what wrapfix just wrote to it (another program rewrote it at the same moment)",
            host.display()
        )));
    }
    if (st.mode() & 0o7777, st.uid(), st.gid()) != (meta.mode, meta.uid, meta.gid) {
        return Err(Error::Unsafe(format!(
            "verification failed: {} has mode {:04o} owner {}:{} instead of {:04o} {}:{}",
            host.display(),
            st.mode() & 0o7777,
            st.uid(),
            st.gid(),
            meta.mode,
            meta.uid,
            meta.gid
        )));
    }
    Ok(())
}
