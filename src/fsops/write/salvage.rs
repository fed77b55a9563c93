//! Salvage (docs/write-protocol.md step 7): lines other programs appended to the old file while it was replaced are carried over, in their order.

use super::*;

/// What the salvage found.
#[derive(Default)]
pub(super) struct Salvage {
    /// Appended to the old inode beyond what was read and carried over before the rename.
    pub bytes: Vec<u8>,
    /// Set when another program still has the old inode open for writing: what to tell
    /// the admin (the change is made, but its lines may miss the file).
    pub still_open: Option<String>,
    /// Without leases, what may have been missed, as a warning (as before leases).
    pub warnings: Vec<String>,
}

/// docs/write-protocol.md step 7: everything appended to the held old inode beyond what we
/// read and the `carried` bytes already copied (a fail2ban `printf >>` between our last
/// look and the rename, or a writer that opened the file before we read it and writes
/// after the rename), once no program has it open for writing any more, or the wait for
/// that is over.
pub(super) fn salvage_bytes(p: &mut PendingWrite, carried: usize) -> Result<Salvage, Error> {
    let Snapshot {
        held: Some(held),
        bytes: Some(read),
        watch,
        ..
    } = &mut p.snap
    else {
        // The file did not exist: there is no old inode anyone could append to.
        return Ok(Salvage::default());
    };
    let wait = writer_wait();
    let quiet = wait_for_writers(held, watch.as_mut(), wait);
    let bytes = tail_of(held, (read.len() + carried) as u64)
        .map_err(|e| io_err("read the old version of", &p.host, e))?;
    let (path, wait) = (&p.system_path, seconds(wait));
    let mut salvage = Salvage {
        bytes,
        ..Salvage::default()
    };
    match quiet {
        Quiet::Yes => {}
        Quiet::Leased => {
            salvage.still_open = Some(format!(
                "{path}: after {wait}, another program still had the replaced copy of {path} open for writing (the kernel refused a read lease on it): lines it writes there now are not in {path}, only what it wrote before was kept; restart that program (fail2ban, DenyHosts) so that it writes to the new file"
            ));
        }
        Quiet::Opened => salvage.warnings.push(format!(
            "after {wait}, a program that opened it after wrapfix read it still had the replaced copy open (for writing or only reading: without file leases wrapfix cannot tell): anything it writes there now is lost (stop it, e.g. DenyHosts, while repairing)"
        )),
        Quiet::Growing => salvage.warnings.push(format!(
            "after {wait}, the replaced copy was still being written to: anything written there now is lost (stop the program writing it, e.g. DenyHosts, while repairing)"
        )),
    }
    Ok(salvage)
}

/// Whether the old inode is done with, when the salvage reads it.
enum Quiet {
    /// No program has it open for writing (or, without leases, it settled).
    Yes,
    /// A read lease was still refused when the wait ran out: a program has it open for
    /// writing.
    Leased,
    /// Without leases: a program inotify saw opening it after our read still has it open.
    Opened,
    /// Without leases: its size still changed when the wait ran out.
    Growing,
}

/// How long to wait for writers: [`WRITER_WAIT`], or `WRAPFIX_WRITER_WAIT_MS` milliseconds
/// (at most ten minutes; for tests, and for writers known to be slow).
fn writer_wait() -> Duration {
    std::env::var("WRAPFIX_WRITER_WAIT_MS")
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map_or(WRITER_WAIT, |ms| Duration::from_millis(ms.min(600_000)))
}

/// `5 s`, `1.5 s`, `200 ms`.
fn seconds(d: Duration) -> String {
    let ms = d.as_millis();
    match ms {
        _ if ms.is_multiple_of(1000) => format!("{} s", ms / 1000),
        ..1000 => format!("{ms} ms"),
        _ => format!("{:.1} s", d.as_secs_f64()),
    }
}

/// After the rename only descriptors opened before it can reach the old inode, among them
/// those opened before we read the file. Wait (bounded by `wait`) until no program has the
/// inode open for writing, as a read lease tells (docs/write-protocol.md step 7). Where
/// leases are not available, see [`settle`].
fn wait_for_writers(held: &File, watch: Option<&mut sys::OpenWatch>, wait: Duration) -> Quiet {
    let start = Instant::now();
    let mut pause = Duration::from_millis(1);
    loop {
        match sys::open_for_writing(held) {
            Ok(false) => return Quiet::Yes,
            Ok(true) if start.elapsed() >= wait => return Quiet::Leased,
            Ok(true) => {
                // A writer's line is one write and a close: look often at first.
                std::thread::sleep(pause);
                pause = (pause * 2).min(MAX_PAUSE);
            }
            Err(_) => return settle(held, watch, start, wait),
        }
    }
}

/// The longest sleep between two looks for writers.
const MAX_PAUSE: Duration = Duration::from_millis(10);

/// Without leases: wait until every program inotify saw opening the file after our read
/// has closed it (one that opened it before is not seen), then until its size has not
/// changed for [`SETTLE`], within the same `wait`.
fn settle(
    held: &File,
    watch: Option<&mut sys::OpenWatch>,
    start: Instant,
    wait: Duration,
) -> Quiet {
    if let Some(watch) = watch {
        loop {
            match watch.writers_may_remain() {
                // None: the kernel lost events; the size still tells.
                Some(false) | None => break,
                Some(true) if start.elapsed() >= wait => return Quiet::Opened,
                Some(true) => std::thread::sleep(Duration::from_millis(1)),
            }
        }
    }
    let size = || held.metadata().map(|m| m.len()).ok();
    let mut last = size();
    let mut stable = Instant::now();
    while stable.elapsed() < SETTLE {
        std::thread::sleep(SETTLE / 10);
        let now = size();
        if now != last {
            if start.elapsed() >= wait {
                return Quiet::Growing;
            }
            last = now;
            stable = Instant::now();
        }
    }
    Quiet::Yes
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
