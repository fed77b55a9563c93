//! Verification (docs/write-protocol.md step 8): the path holds what was written, with the metadata planned.

use super::*;

/// docs/write-protocol.md step 8: the path holds what we wrote (others may have appended since), with
/// the mode and owner we gave it.
pub(super) fn verify(host: &Path, new: &[u8], salvaged: &[u8], meta: &Meta) -> Result<(), Error> {
    let rest = read_after(host, new).map_err(|e| io_err("read back", host, e))?;
    let st = std::fs::metadata(host).map_err(|e| io_err("inspect", host, e))?;
    let holds = rest
        .is_some_and(|rest| salvaged.is_empty() || memchr::memmem::find(&rest, salvaged).is_some());
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

/// What the file at `host` holds after `prefix`, or `None` if it does not start with it.
/// Compared piece by piece as it is read: a comment plan's file is megabytes, and a second
/// copy of it was the peak of the write.
fn read_after(host: &Path, prefix: &[u8]) -> io::Result<Option<Vec<u8>>> {
    use std::io::Read;
    let mut file = File::open(host)?;
    let mut piece = vec![0u8; 64 * 1024];
    let mut at = 0;
    while at < prefix.len() {
        let n = (prefix.len() - at).min(piece.len());
        match file.read_exact(&mut piece[..n]) {
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
            read => read?,
        }
        if piece[..n] != prefix[at..at + n] {
            return Ok(None);
        }
        at += n;
    }
    let mut rest = Vec::new();
    file.read_to_end(&mut rest)?;
    Ok(Some(rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_verifies_only_if_it_starts_with_what_was_written() {
        let dir = tempfile::tempdir().expect("a scratch directory");
        let path = dir.path().join("hosts.deny");
        // Longer than one piece, so that a difference in the second is seen.
        let new: Vec<u8> = (0..200_000u32).map(|i| b'a' + (i % 26) as u8).collect();
        let with = |tail: &[u8]| {
            std::fs::write(&path, [&new[..], tail].concat()).expect("write the scratch file");
            read_after(&path, &new).expect("read it back")
        };
        assert_eq!(
            with(b"sshd: 192.0.2.9\n"),
            Some(b"sshd: 192.0.2.9\n".to_vec())
        );
        assert_eq!(with(b""), Some(Vec::new()));
        let mut changed = new.clone();
        changed[150_000] = b'#';
        std::fs::write(&path, &changed).expect("write the scratch file");
        assert_eq!(read_after(&path, &new).expect("read it back"), None);
        std::fs::write(&path, &new[..100_000]).expect("write the scratch file");
        assert_eq!(read_after(&path, &new).expect("read it back"), None);
    }
}
