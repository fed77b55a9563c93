//! The pieces of a line: list tokens, separators outside brackets and quotes, and the escaping of bytes for display.

/// File bytes as text a terminal shows safely: invalid UTF-8 replaced, control characters
/// written as escapes (a CR or an escape sequence would otherwise hide or forge output).
pub fn escape(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    escape_into(&mut out, bytes);
    out
}

/// [`escape`], appended to `out` (a diff of 50,000 edits escapes 200,000 lines).
pub fn escape_into(out: &mut String, bytes: &[u8]) {
    // Writing to a String cannot fail.
    let _ = write_escaped(out, bytes);
}

/// [`escape`], written to any text sink (a plan's diff goes straight into the JSON output).
pub fn write_escaped<W: std::fmt::Write + ?Sized>(out: &mut W, bytes: &[u8]) -> std::fmt::Result {
    // Most lines are printable ASCII: nothing to do but copy. (No early exit: the check
    // then runs over whole vectors of bytes.)
    let printable = bytes
        .iter()
        .fold(true, |ok, &b| ok & (b.wrapping_sub(0x20) < 0x5f));
    if printable && let Ok(text) = std::str::from_utf8(bytes) {
        return out.write_str(text);
    }
    for c in String::from_utf8_lossy(bytes).chars() {
        match c {
            '\t' => out.write_str("\\t")?,
            '\r' => out.write_str("\\r")?,
            '\n' => out.write_str("\\n")?,
            c if c.is_control() => write!(out, "\\x{:02x}", c as u32)?,
            c => out.write_char(c)?,
        }
    }
    Ok(())
}

/// strtok separators libwrap uses for daemon and client lists.
pub fn is_list_sep(b: u8) -> bool {
    matches!(b, b',' | b' ' | b'\t' | b'\r' | b'\n')
}

/// The tokens of a list, as strtok(", \t\r\n") yields them.
pub fn tokens(list: &[u8]) -> impl Iterator<Item = &[u8]> {
    list.split(|&b| is_list_sep(b)).filter(|t| !t.is_empty())
}

/// libwrap's `split_at()`: the index of the first `delim` at bracket depth 0, counting from
/// `from`. A stray `]` makes the depth negative for the rest of the string, an unclosed `[`
/// keeps it positive: either way no later split.
pub fn split_at(s: &[u8], from: usize, delim: u8) -> Option<usize> {
    let mut depth: i64 = 0;
    let mut i = from;
    while let Some(k) = find3(s.get(i..)?, delim, b'[', b']') {
        i += k;
        match s[i] {
            b'[' => depth += 1,
            b']' => depth -= 1,
            _ if depth == 0 => return Some(i),
            _ => {}
        }
        i += 1;
    }
    None
}

/// The first byte equal to `a`, `b` or `c`, eight bytes at a time. Rules are short, so
/// this beats both a byte loop and memchr3's SIMD setup; it runs twice on every rule.
pub(super) fn find3(s: &[u8], a: u8, b: u8, c: u8) -> Option<usize> {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    // High bit set in each byte of x equal to n (exact for the lowest such byte).
    let eq = |x: u64, n: u8| {
        let y = x ^ (LO * u64::from(n));
        y.wrapping_sub(LO) & !y & HI
    };
    let mut chunks = s.chunks_exact(8);
    let mut base = 0;
    for chunk in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(chunk);
        let x = u64::from_le_bytes(w);
        let m = eq(x, a) | eq(x, b) | eq(x, c);
        if m != 0 {
            return Some(base + (m.trailing_zeros() / 8) as usize);
        }
        base += 8;
    }
    chunks
        .remainder()
        .iter()
        .position(|&x| x == a || x == b || x == c)
        .map(|p| base + p)
}
