//! Reading the log files: in large chunks, gzip as a stream, candidate lines found with one search per chunk.

use super::*;

/// Read one file into the tally; a problem if it could not be read to the end.
pub(super) fn scan_file(file: &LogFile, rank: usize, tally: &mut Tally) -> Option<Problem> {
    let problem = |read: u64, reason: String, severity| {
        Some(Problem {
            file: file.system.clone(),
            read,
            reason,
            severity,
        })
    };
    if let Compression::Other(ext) = file.compression {
        return problem(
            0,
            format!(
                "not read: wrapfix reads plain and gzip logs, not .{ext}; refusals in it are not counted"
            ),
            Severity::Info,
        );
    }
    // Without blocking, and only a regular file: it may have been swapped for a FIFO since
    // the directory was listed.
    let opened = match crate::rootfs::open_regular(&file.host) {
        Ok(f) => f,
        // Rotated away since the directory was listed: nothing lost, it has a new name.
        Err(e) if e.kind() == io::ErrorKind::NotFound => return None,
        Err(e) => {
            return problem(
                0,
                format!("could not open it ({e}); refusals in it are not counted"),
                Severity::Warning,
            );
        }
    };
    let mut lines = Lines::new(rank, tally);
    let result = match file.compression {
        Compression::Gzip => lines.read_all(MultiGzDecoder::new(opened)),
        _ => lines.read_all(opened),
    };
    let read = lines.offset;
    match result {
        Ok(()) => None,
        Err(e) => problem(read, damage_reason(file, read, &e), Severity::Warning),
    }
}

pub(super) fn damage_reason(file: &LogFile, read: u64, e: &io::Error) -> String {
    let what = if file.compression == Compression::Gzip {
        "damaged or truncated gzip data"
    } else {
        "a read error"
    };
    format!("{what} after {read} bytes ({e}); refusals logged after that point are not counted")
}

/// The chunked line reader for one file: finds the candidate lines and hands them to the
/// tally with their recency and line number.
pub(super) struct Lines<'t> {
    pub(super) tally: &'t mut Tally,
    pub(super) finder: memmem::Finder<'static>,
    /// The file's recency rank, shifted into place for [`Refused::last_seq`].
    pub(super) seq_base: u64,
    /// Stream offset of the chunk being scanned (at the end: bytes read).
    pub(super) offset: u64,
    /// Newlines seen before `counted`, a position in the chunk being scanned.
    pub(super) newlines: u64,
    pub(super) counted: usize,
    /// Inside a line longer than a chunk: no libwrap line is that long, and its tail must not
    /// be read as a line of its own.
    pub(super) in_overlong: bool,
}

impl<'t> Lines<'t> {
    pub(super) fn new(rank: usize, tally: &'t mut Tally) -> Self {
        Lines {
            tally,
            finder: memmem::Finder::new(NEEDLE),
            seq_base: (rank as u64) << SEQ_OFFSET_BITS,
            offset: 0,
            newlines: 0,
            counted: 0,
            in_overlong: false,
        }
    }

    /// Read to the end. On an error the complete lines before it are counted and the
    /// partial line is dropped (it may be cut inside the address).
    pub(super) fn read_all(&mut self, mut input: impl Read) -> io::Result<()> {
        let mut buf = vec![0u8; CHUNK];
        let mut filled = 0;
        loop {
            let n = match input.read(&mut buf[filled..]) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if n == 0 {
                // A last line without a newline is still a line (a log cut by a crash).
                self.chunk(&buf[..filled]);
                self.offset += filled as u64;
                return Ok(());
            }
            filled += n;
            filled = self.consume(&mut buf, filled);
        }
    }

    /// LogScan the complete lines in `buf[..filled]`, move the partial last line to the front;
    /// returns the new fill.
    pub(super) fn consume(&mut self, buf: &mut [u8], filled: usize) -> usize {
        let Some(last_nl) = memchr::memrchr(b'\n', &buf[..filled]) else {
            if filled < buf.len() {
                return filled;
            }
            // A full chunk with no newline: skip it, and the rest of that line.
            self.offset += filled as u64;
            self.in_overlong = true;
            return 0;
        };
        let complete = last_nl + 1;
        self.chunk(&buf[..complete]);
        buf.copy_within(complete..filled, 0);
        self.offset += complete as u64;
        filled - complete
    }

    /// Every candidate line in `chunk` (whole lines, starting at `self.offset`).
    pub(super) fn chunk(&mut self, chunk: &[u8]) {
        let mut from = 0;
        self.counted = 0;
        if std::mem::take(&mut self.in_overlong) {
            from = memchr::memchr(b'\n', chunk).map_or(chunk.len(), |i| i + 1);
        }
        while let Some(i) = self.finder.find(&chunk[from..]) {
            let hit = from + i;
            let start = memchr::memrchr(b'\n', &chunk[from..hit]).map_or(from, |j| from + j + 1);
            let end = memchr::memchr(b'\n', &chunk[hit..]).map_or(chunk.len(), |j| hit + j);
            if let Some(line) = parse_line(&chunk[start..end]) {
                let at = self.offset + start as u64;
                let number = self.line_number(chunk, start);
                let seq = self.seq_base | at.min((1 << SEQ_OFFSET_BITS) - 1);
                self.tally.record(&line, seq, number, &chunk[start..end]);
            }
            from = (end + 1).min(chunk.len());
        }
        self.count_newlines(chunk, chunk.len());
    }

    /// The 1-based number of the line starting at `chunk[start]`.
    pub(super) fn line_number(&mut self, chunk: &[u8], start: usize) -> u32 {
        self.count_newlines(chunk, start);
        u32::try_from(self.newlines + 1).unwrap_or(u32::MAX)
    }

    /// Count the newlines of `chunk` from where the last count stopped up to `upto`.
    pub(super) fn count_newlines(&mut self, chunk: &[u8], upto: usize) {
        let from = self.counted.min(upto);
        self.newlines += memchr::memchr_iter(b'\n', &chunk[from..upto]).count() as u64;
        self.counted = upto;
    }
}
