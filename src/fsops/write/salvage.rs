//! Salvage (docs/write-protocol.md step 7): lines other programs appended to the old file while it was replaced are carried over, in their order.

use super::*;

/// docs/write-protocol.md step 7: everything appended to the held old inode beyond what we read and
/// the `carried` bytes already copied (a fail2ban `printf >>` between our last look and
/// the rename), once no writer can add more.
pub(super) fn salvage_bytes(
    p: &mut PendingWrite,
    carried: usize,
) -> Result<(Vec<u8>, Vec<String>), Error> {
    if p.snap.held.is_none() {
        // The file did not exist: there is no old inode anyone could append to.
        return Ok((Vec::new(), Vec::new()));
    }
    let warnings = wait_for_writers(p.snap.watch.as_mut(), &p.host);
    let (Some(held), Some(read)) = (&p.snap.held, &p.snap.bytes) else {
        return Ok((Vec::new(), warnings));
    };
    let extra = tail_of(held, (read.len() + carried) as u64)
        .map_err(|e| io_err("read the old version of", &p.host, e))?;
    Ok((extra, warnings))
}

/// After the rename only descriptors opened before it can reach the old inode. Wait
/// (bounded) until every one opened since our read was closed; without inotify, or when it
/// lost events, give late writers a short settling time instead.
pub(super) fn wait_for_writers(watch: Option<&mut sys::OpenWatch>, host: &Path) -> Vec<String> {
    let start = Instant::now();
    let settle = || std::thread::sleep(SETTLE.saturating_sub(start.elapsed()));
    let Some(watch) = watch else {
        settle();
        return Vec::new();
    };
    loop {
        match watch.writers_may_remain() {
            Some(false) => return Vec::new(),
            None => {
                settle();
                return Vec::new();
            }
            Some(true) if start.elapsed() >= WRITER_WAIT => {
                return vec![format!(
                    "a program still had the old {} open for writing after {} s: anything it writes there from now on is lost (stop it, e.g. DenyHosts, while repairing)",
                    host.display(),
                    WRITER_WAIT.as_secs()
                )];
            }
            Some(true) => std::thread::sleep(Duration::from_millis(1)),
        }
    }
}

pub(super) fn read_at_most(file: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    let mut done = 0;
    while done < buf.len() {
        match file.read_at(&mut buf[done..], offset + done as u64) {
            Ok(0) => break,
            Ok(n) => done += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(done)
}

/// Put `bytes` (written to the old file after the rename, by a writer that had it open)
/// right after `ours`, the bytes wrapfix wrote at the start of the new file, and before
/// what appenders wrote to the new file since: the order in which the lines were
/// written. After a newline if `ours` does not end with one (their line must not be glued
/// onto ours). Returns what was inserted.
///
/// The room is made as in [`write_in_place`]: an `O_APPEND` write of newlines reserves it
/// at the end (later appends land beyond it), and one `pwrite` of the bytes followed by
/// the lines appended before the reservation fills exactly the range from the end of ours
/// to the end of the reservation.
pub(super) fn insert_after(host: &Path, ours: &[u8], bytes: &[u8]) -> Result<Vec<u8>, Error> {
    let open = |append: bool| {
        OpenOptions::new()
            .read(true)
            .write(true)
            .append(append)
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
            .open(host)
            .map_err(|e| io_err("open for appending", host, e))
    };
    let file = open(false)?;
    let mut appender = open(true)?;
    let inserted = if !ours.is_empty() && !ours.ends_with(b"\n") {
        [b"\n".as_slice(), bytes].concat()
    } else {
        bytes.to_vec()
    };
    appender
        .write_all(&vec![b'\n'; inserted.len()])
        .map_err(|e| io_err("append the salvaged lines to", host, e))?;
    // An O_APPEND write leaves the offset at the end of what it wrote.
    use std::io::Seek;
    let end = appender
        .stream_position()
        .map_err(|e| io_err("append the salvaged lines to", host, e))?;
    let at = ours.len() as u64;
    let mut since = vec![
        0;
        usize::try_from((end - inserted.len() as u64).saturating_sub(at))
            .map_err(io::Error::other)
            .map_err(|e| io_err("read", host, e))?
    ];
    let n = read_at_most(&file, &mut since, at).map_err(|e| io_err("read", host, e))?;
    since.truncate(n);
    file.write_all_at(&[inserted.as_slice(), &since].concat(), at)
        .and_then(|()| file.sync_all())
        .map_err(|e| io_err("append the salvaged lines to", host, e))?;
    Ok(inserted)
}

/// Append `bytes` with one `O_APPEND` write, like the appenders themselves, after a newline
/// if the file does not end with one (their line must not be glued onto ours). Returns what
/// was written.
pub(super) fn append(host: &Path, bytes: &[u8]) -> Result<Vec<u8>, Error> {
    let file = OpenOptions::new()
        .read(true)
        .append(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(host)
        .map_err(|e| io_err("open for appending", host, e))?;
    let len = file
        .metadata()
        .map_err(|e| io_err("inspect", host, e))?
        .len();
    let mut last = [0u8];
    let needs_newline = len > 0
        && file
            .read_at(&mut last, len - 1)
            .map_err(|e| io_err("read", host, e))?
            == 1
        && last[0] != b'\n';
    let buf = if needs_newline {
        [b"\n".as_slice(), bytes].concat()
    } else {
        bytes.to_vec()
    };
    (&file)
        .write_all(&buf)
        .map_err(|e| io_err("append the salvaged lines to", host, e))?;
    file.sync_all().map_err(|e| io_err("sync", host, e))?;
    Ok(buf)
}
