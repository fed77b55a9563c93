//! The bind-mount fallback: a table that cannot be renamed over (a bind mount) is overwritten through a descriptor on the same inode.

use super::*;

/// The bind-mount fallback: overwrite the file through a descriptor on the same inode.
/// Not atomic; only on request and after the backup. The file is never seen empty (an
/// empty hosts.deny lets everyone in), and lines other programs append meanwhile are kept,
/// in their order, after the new bytes (docs/write-protocol.md step 7, issue 9 item 11), exactly as
/// they wrote them (glued onto an unterminated last line as they were in the old file).
///
/// Appenders (`printf >>`) write at the end of the file, one `write` each, which the kernel
/// serialises with ours. When the new bytes are at least as long as the old (a fix), the
/// growth is first reserved by an `O_APPEND` write of newlines: what was appended before
/// the reservation lies between the old bytes and it, what comes later beyond it. One
/// `pwrite` of the new bytes and the earlier appends then covers exactly the old bytes,
/// those appends and the reservation, and nothing written later. Shorter new bytes (a
/// rollback) would need the file cut, which no appender waits for: appends are moved down
/// after the new bytes until a look finds none, and the old bytes still below that size
/// become newlines instead. The file keeps its length, ending in blank lines libwrap skips,
/// and a line appended at any moment lands after them, kept.
pub(super) fn write_in_place(p: &PendingWrite, new: &[u8], meta: &Meta) -> Result<Written, Failed> {
    let open = |append: bool| {
        OpenOptions::new()
            .read(true)
            .write(true)
            .append(append)
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
            .open(&p.host)
            .map_err(|e| untouched(io_err("open for writing", &p.host, e)))
    };
    let file = open(false)?;
    let st = file
        .metadata()
        .map_err(|e| untouched(io_err("inspect", &p.host, e)))?;
    if p.snap
        .stamp
        .is_none_or(|s| (s.dev, s.ino) != (st.dev(), st.ino()))
    {
        return Err(untouched(Error::Unsafe(format!(
            "{} was replaced while wrapfix was about to write it in place; nothing was changed in it",
            p.host.display()
        ))));
    }
    let io = |op: &'static str| move |e: io::Error| io_err(op, &p.host, e);
    let size_of = |f: &File| f.metadata().map(|m| m.len()).map_err(io("inspect"));
    let read_range = |from: u64, to: u64| -> Result<Vec<u8>, Error> {
        let mut buf = vec![
            0;
            usize::try_from(to.saturating_sub(from))
                .map_err(io::Error::other)
                .map_err(io("read"))?
        ];
        let n = read_at_most(&file, &mut buf, from).map_err(io("read"))?;
        buf.truncate(n);
        Ok(buf)
    };
    let old_len = p.snap.bytes.as_ref().map_or(0, Vec::len) as u64;
    let new_len = new.len() as u64;
    // Blank lines left where old bytes were (a shorter file written in place: see above).
    let mut padding = 0;
    let appended = if new_len >= old_len {
        let reserve = new_len - old_len;
        let end = if reserve > 0 {
            let mut appender = open(true)?;
            let pad = vec![b'\n'; new.len() - old_len as usize];
            appender
                .write_all(&pad)
                .map_err(|e| touched(io_err("write in place", &p.host, e)))?;
            // An O_APPEND write leaves the offset at the end of what it wrote.
            use std::io::Seek;
            appender
                .stream_position()
                .map_err(|e| touched(io_err("write in place", &p.host, e)))?
        } else {
            size_of(&file).map_err(untouched)?
        };
        let appended = read_range(old_len, end - reserve).map_err(touched)?;
        file.write_all_at(&[new, &appended].concat(), 0)
            .map_err(|e| touched(io_err("write in place", &p.host, e)))?;
        appended
    } else {
        let mut size = size_of(&file).map_err(untouched)?;
        let mut appended = read_range(old_len, size).map_err(untouched)?;
        file.write_all_at(&[new, &appended].concat(), 0)
            .map_err(|e| touched(io_err("write in place", &p.host, e)))?;
        let mut rounds = 0;
        loop {
            let now = size_of(&file).map_err(touched)?;
            if now == size {
                // The old bytes left below `size` become blank lines, which libwrap skips.
                // Cutting them off instead would also cut a line appended between this look
                // and the cut (no appender waits for us): seen in CI, one ban of 171 lost.
                let pad = usize::try_from(size - new_len - appended.len() as u64)
                    .map_err(io::Error::other)
                    .map_err(io("write in place"))
                    .map_err(touched)?;
                file.write_all_at(&vec![b'\n'; pad], new_len + appended.len() as u64)
                    .map_err(|e| touched(io_err("write in place", &p.host, e)))?;
                padding = pad;
                break;
            }
            rounds += 1;
            if rounds > 10_000 {
                return Err(touched(Error::Unsafe(format!(
                    "{} is being appended to faster than wrapfix can move the lines; its new bytes are in place, followed by part of its old ones: stop the program writing it and run wrapfix again",
                    p.host.display()
                ))));
            }
            // Appended since the last look, at [size, now): moved down after ours, into
            // the old bytes still to be cut (below `size`, so below any later append).
            let more = read_range(size, now).map_err(touched)?;
            file.write_all_at(&more, new_len + appended.len() as u64)
                .map_err(|e| touched(io_err("write in place", &p.host, e)))?;
            appended.extend_from_slice(&more);
            size = now;
        }
        appended
    };
    file.sync_all()
        .map_err(|e| touched(io_err("sync", &p.host, e)))?;
    // Same inode: restore mode and owner only where the plan asks for different ones.
    let now = sys::read_meta(&file, &st)
        .map_err(|e| touched(io_err("read the attributes of", &p.host, e)))?;
    if now != *meta {
        sys::apply_meta(&file, &p.host, meta).map_err(touched)?;
    }
    let written = [new, &appended, &vec![b'\n'; padding]].concat();
    verify(&p.host, &written, &[], meta).map_err(touched)?;
    let before = p
        .snap
        .bytes
        .as_ref()
        .map(|b| [b.as_slice(), &appended].concat());
    Ok(Written {
        after: Some(Shared::new(written)),
        before,
        salvaged: appended,
        in_place: true,
        warnings: vec![format!(
            "{} is bind-mounted: it was overwritten in place, which is not atomic",
            p.host.display()
        )],
        ..Written::default()
    })
}
