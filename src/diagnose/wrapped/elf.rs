const PT_LOAD: u32 = 1;
const PT_DYNAMIC: u32 = 2;
const DT_NULL: u64 = 0;
const DT_NEEDED: u64 = 1;
const DT_STRTAB: u64 = 5;
const DT_STRSZ: u64 = 10;
/// `e_phnum` value meaning "the count is in section header 0's sh_info".
const PN_XNUM: u16 = 0xffff;
/// At most this many DT_NEEDED entries are kept (real programs have a few dozen).
const MAX_NEEDED: usize = 4096;

type Result<T> = std::result::Result<T, String>;

#[derive(Clone, Copy)]
struct Reader<'a> {
    bytes: &'a [u8],
    big: bool,
    wide: bool,
}

#[derive(Clone, Copy)]
struct Segment {
    kind: u32,
    offset: u64,
    vaddr: u64,
    filesz: u64,
}

impl<'a> Reader<'a> {
    fn field<const N: usize>(&self, at: u64) -> Option<[u8; N]> {
        let start = usize::try_from(at).ok()?;
        let end = start.checked_add(N)?;
        self.bytes.get(start..end)?.try_into().ok()
    }

    fn u16(&self, at: u64) -> Option<u16> {
        let b = self.field::<2>(at)?;
        Some(if self.big {
            u16::from_be_bytes(b)
        } else {
            u16::from_le_bytes(b)
        })
    }

    fn u32(&self, at: u64) -> Option<u32> {
        let b = self.field::<4>(at)?;
        Some(if self.big {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        })
    }

    fn u64(&self, at: u64) -> Option<u64> {
        let b = self.field::<8>(at)?;
        Some(if self.big {
            u64::from_be_bytes(b)
        } else {
            u64::from_le_bytes(b)
        })
    }

    /// An address- or offset-sized field: 8 bytes in ELF64, 4 in ELF32.
    fn word(&self, at: u64) -> Option<u64> {
        if self.wide {
            self.u64(at)
        } else {
            self.u32(at).map(u64::from)
        }
    }

    fn len(&self) -> u64 {
        self.bytes.len() as u64
    }
}

fn truncated(what: &str) -> String {
    format!("truncated: the file ends inside its {what}")
}

/// The DT_NEEDED names; empty when the program has no dynamic section or no libraries.
pub(super) fn needed(bytes: &[u8]) -> Result<Vec<String>> {
    let r = header(bytes)?;
    let segments = segments(&r)?;
    let Some(dynamic) = segments.iter().find(|s| s.kind == PT_DYNAMIC) else {
        return Ok(Vec::new());
    };
    let entries = dynamic_entries(&r, dynamic)?;
    let offsets: Vec<u64> = entries
        .iter()
        .filter(|e| e.0 == DT_NEEDED)
        .map(|e| e.1)
        .take(MAX_NEEDED)
        .collect();
    if offsets.is_empty() {
        return Ok(Vec::new());
    }
    let strtab = entries
        .iter()
        .find(|e| e.0 == DT_STRTAB)
        .ok_or("its dynamic section has libraries but no string table")?
        .1;
    let strsz = entries.iter().find(|e| e.0 == DT_STRSZ).map(|e| e.1);
    let table = string_table(&r, &segments, strtab, strsz)?;
    offsets.iter().map(|&o| name_at(table, o)).collect()
}

/// Check the identification bytes; a reader for the file's class and byte order.
fn header(bytes: &[u8]) -> Result<Reader<'_>> {
    let (Some(&class), Some(&data)) = (bytes.get(4), bytes.get(5)) else {
        return Err(truncated("ELF header"));
    };
    let wide = match class {
        1 => false,
        2 => true,
        c => return Err(format!("unknown ELF class {c}")),
    };
    let big = match data {
        1 => false,
        2 => true,
        d => return Err(format!("unknown ELF byte order {d}")),
    };
    let r = Reader { bytes, big, wide };
    let size: u64 = if wide { 64 } else { 52 };
    if r.len() < size {
        return Err(truncated("ELF header"));
    }
    match r.u16(16) {
        Some(2 | 3) => Ok(r),
        Some(t) => Err(format!("not an executable or shared object (ELF type {t})")),
        None => Err(truncated("ELF header")),
    }
}

/// The program headers (segments).
fn segments(r: &Reader<'_>) -> Result<Vec<Segment>> {
    let (phoff, entsize_at, num_at, min) = if r.wide {
        (r.word(0x20), 0x36, 0x38, 56)
    } else {
        (r.word(0x1c), 0x2a, 0x2c, 32)
    };
    let bad = || truncated("ELF header");
    let phoff = phoff.ok_or_else(bad)?;
    let entsize = u64::from(r.u16(entsize_at).ok_or_else(bad)?);
    let mut count = u64::from(r.u16(num_at).ok_or_else(bad)?);
    if count == u64::from(PN_XNUM) {
        count = extended_count(r)?;
    }
    if count == 0 {
        return Err("it has no program headers, so it cannot be run".into());
    }
    if entsize < min {
        return Err(format!(
            "program header entries of {entsize} bytes are too small"
        ));
    }
    let end = count
        .checked_mul(entsize)
        .and_then(|n| n.checked_add(phoff))
        .ok_or("its program header table is out of range")?;
    if end > r.len() {
        return Err(truncated("program header table"));
    }
    (0..count)
        .map(|i| segment(r, phoff + i * entsize).ok_or_else(|| truncated("program headers")))
        .collect()
}

/// PN_XNUM: the real program header count is `sh_info` of section header 0.
fn extended_count(r: &Reader<'_>) -> Result<u64> {
    let (shoff, info_at) = if r.wide {
        (r.word(0x28), 0x2c)
    } else {
        (r.word(0x20), 0x1c)
    };
    shoff
        .and_then(|o| o.checked_add(info_at))
        .and_then(|at| r.u32(at))
        .map(u64::from)
        .ok_or_else(|| truncated("section header 0 (which holds its program header count)"))
}

fn segment(r: &Reader<'_>, at: u64) -> Option<Segment> {
    let kind = r.u32(at)?;
    Some(if r.wide {
        Segment {
            kind,
            offset: r.u64(at + 8)?,
            vaddr: r.u64(at + 16)?,
            filesz: r.u64(at + 32)?,
        }
    } else {
        Segment {
            kind,
            offset: u64::from(r.u32(at + 4)?),
            vaddr: u64::from(r.u32(at + 8)?),
            filesz: u64::from(r.u32(at + 16)?),
        }
    })
}

/// (d_tag, d_val) pairs up to DT_NULL.
fn dynamic_entries(r: &Reader<'_>, dynamic: &Segment) -> Result<Vec<(u64, u64)>> {
    let end = dynamic
        .offset
        .checked_add(dynamic.filesz)
        .ok_or("its dynamic section is out of range")?;
    if end > r.len() {
        return Err(truncated("dynamic section"));
    }
    let size: u64 = if r.wide { 16 } else { 8 };
    let half = size / 2;
    let mut out = Vec::new();
    for i in 0..dynamic.filesz / size {
        let at = dynamic.offset + i * size;
        let (Some(tag), Some(val)) = (r.word(at), r.word(at + half)) else {
            return Err(truncated("dynamic section"));
        };
        if tag == DT_NULL {
            break;
        }
        out.push((tag, val));
    }
    Ok(out)
}

/// The string table's bytes: its address mapped to a file offset through the PT_LOAD
/// segment that holds it, bounded by DT_STRSZ and the end of that segment's file bytes.
fn string_table<'a>(
    r: &Reader<'a>,
    segments: &[Segment],
    addr: u64,
    size: Option<u64>,
) -> Result<&'a [u8]> {
    let load = segments
        .iter()
        .filter(|s| s.kind == PT_LOAD)
        .find(|s| addr >= s.vaddr && addr - s.vaddr < s.filesz)
        .ok_or("its string table address is in no loaded segment")?;
    let start = load.offset.checked_add(addr - load.vaddr);
    let seg_end = load.offset.checked_add(load.filesz);
    let (Some(start), Some(seg_end)) = (start, seg_end) else {
        return Err("its string table is out of range".into());
    };
    let end = size
        .and_then(|n| start.checked_add(n))
        .map_or(seg_end, |e| e.min(seg_end))
        .min(r.len());
    let (Ok(start), Ok(end)) = (usize::try_from(start), usize::try_from(end)) else {
        return Err("its string table is out of range".into());
    };
    r.bytes
        .get(start..end)
        .ok_or_else(|| truncated("string table"))
}

/// The NUL-terminated name at `offset` in the string table.
fn name_at(table: &[u8], offset: u64) -> Result<String> {
    let tail = usize::try_from(offset)
        .ok()
        .and_then(|o| table.get(o..))
        .ok_or("a library name lies outside its string table")?;
    let end = memchr::memchr(0, tail).ok_or("a library name runs past its string table")?;
    Ok(String::from_utf8_lossy(&tail[..end]).into_owned())
}
