//! Parsing one `refused connect from` line: the daemon, the client as `eval_client()` printed it, the time.

use super::*;

/// A libwrap refusal, parsed from one log line (all slices of the line).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Line<'a> {
    /// The syslog timestamp as written.
    pub(super) time: &'a [u8],
    /// The syslog tag without `[pid]`.
    pub(super) daemon: &'a [u8],
    pub(super) client: Logged<'a>,
    /// How many refusals the line stands for (rsyslog's `message repeated N times`).
    pub(super) repeats: u64,
}

/// `TIME HOST TAG: refused connect from CLIENT[ (ADDR)]`, exactly; anything else (other
/// messages that quote the text, a different program's wording) is `None`.
pub(super) fn parse_line(line: &[u8]) -> Option<Line<'_>> {
    // A crash can leave NUL padding before the next line; CRs come from copied files.
    let line = trim_end(trim_start_nul(line));
    let (time, rest) = split_time(line)?;
    let (_hostname, rest) = split_word(rest)?;
    let (daemon, body) = split_tag(rest)?;
    let (client, repeats) = refusal_body(body)?;
    let client = parse_client(client)?;
    Some(Line {
        time,
        daemon,
        client,
        repeats,
    })
}

pub(super) fn trim_start_nul(b: &[u8]) -> &[u8] {
    let n = b.iter().take_while(|&&c| c == 0).count();
    &b[n..]
}

pub(super) fn trim_end(mut b: &[u8]) -> &[u8] {
    while let [rest @ .., b' ' | b'\t' | b'\r'] = b {
        b = rest;
    }
    b
}

/// The next space-separated word (one space after it) and the rest.
pub(super) fn split_word(b: &[u8]) -> Option<(&[u8], &[u8])> {
    let i = memchr::memchr(b' ', b)?;
    (i > 0).then(|| (&b[..i], &b[i + 1..]))
}

/// The timestamp, classic (`Nov 24 00:50:12 `) or RFC 3339 (`2026-11-24T00:50:12.1+00:00 `).
pub(super) fn split_time(line: &[u8]) -> Option<(&[u8], &[u8])> {
    let len = classic_time(line).or_else(|| rfc3339_time(line))?;
    match line.get(len) {
        Some(b' ') => Some((&line[..len], &line[len + 1..])),
        _ => None,
    }
}

/// `Mmm dd hh:mm:ss` (day space-padded): 15 bytes.
pub(super) fn classic_time(b: &[u8]) -> Option<usize> {
    const MONTHS: [&[u8]; 12] = [
        b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov",
        b"Dec",
    ];
    let b = b.get(..15)?;
    let day_ok = matches!(b[4], b' ' | b'0'..=b'9') && b[5].is_ascii_digit();
    let ok = MONTHS.contains(&&b[..3])
        && b[3] == b' '
        && day_ok
        && b[6] == b' '
        && shape(&b[7..], b"00:00:00");
    ok.then_some(15)
}

/// `YYYY-MM-DDThh:mm:ss[.frac](Z|±hh:mm|±hhmm)`.
pub(super) fn rfc3339_time(b: &[u8]) -> Option<usize> {
    if !shape(b.get(..19)?, b"0000-00-00T00:00:00") {
        return None;
    }
    let mut i = 19;
    if b.get(i) == Some(&b'.') {
        let digits = b[i + 1..].iter().take_while(|c| c.is_ascii_digit()).count();
        if digits == 0 {
            return None;
        }
        i += 1 + digits;
    }
    match b.get(i)? {
        b'Z' => Some(i + 1),
        b'+' | b'-' => {
            let zone = &b[i + 1..];
            if zone.get(..5).is_some_and(|z| shape(z, b"00:00")) {
                Some(i + 6)
            } else if zone.get(..4).is_some_and(|z| shape(z, b"0000")) {
                Some(i + 5)
            } else {
                None
            }
        }
        _ => None,
    }
}

/// `b` has digits where `pattern` has `0`, and the same byte elsewhere.
pub(super) fn shape(b: &[u8], pattern: &[u8]) -> bool {
    b.len() == pattern.len()
        && b.iter().zip(pattern).all(|(&c, &p)| {
            if p == b'0' {
                c.is_ascii_digit()
            } else {
                c == p
            }
        })
}

/// `prog[pid]: body` or `prog: body` → (`prog`, `body`).
pub(super) fn split_tag(rest: &[u8]) -> Option<(&[u8], &[u8])> {
    let (tag, body) = split_word(rest)?;
    let tag = tag.strip_suffix(b":")?;
    let program = match tag.strip_suffix(b"]") {
        Some(with_pid) => {
            let open = memchr::memrchr(b'[', with_pid)?;
            let pid = &with_pid[open + 1..];
            if pid.is_empty() || !pid.iter().all(u8::is_ascii_digit) {
                return None;
            }
            &with_pid[..open]
        }
        None => tag,
    };
    (!program.is_empty()).then_some((program, body))
}

/// The client text of `refused connect from CLIENT`, or of rsyslog's
/// `message repeated N times: [ refused connect from CLIENT]`, with the count.
pub(super) fn refusal_body(body: &[u8]) -> Option<(&[u8], u64)> {
    if let Some(client) = body.strip_prefix(NEEDLE) {
        return Some((client, 1));
    }
    let rest = body.strip_prefix(b"message repeated ")?;
    let (n, rest) = split_word(rest)?;
    let repeats: u64 = std::str::from_utf8(n).ok()?.parse().ok()?;
    let rest = rest.strip_prefix(b"times: [")?;
    let rest = rest.strip_prefix(b" ").unwrap_or(rest);
    let client = rest.strip_prefix(NEEDLE)?.strip_suffix(b"]")?;
    Some((client, repeats))
}

/// What `eval_client()` (and Debian's `(eval_hostaddr())`) printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Logged<'a> {
    /// The `user@` part, when ident gave one.
    pub(super) user: Option<&'a [u8]>,
    /// A verified name, an address, or `unknown`/`paranoid`.
    pub(super) host: &'a [u8],
    /// The address: in parentheses when given, else the host field.
    pub(super) addr: &'a [u8],
}

/// `[user@]host[ (addr)]`. Postfix's `host[addr]` and anything with spaces is not libwrap's.
pub(super) fn parse_client(client: &[u8]) -> Option<Logged<'_>> {
    let (who, addr) = match client.strip_suffix(b")") {
        Some(inner) => {
            let open = memmem::rfind(inner, b" (")?;
            (&inner[..open], Some(&inner[open + 2..]))
        }
        None => (client, None),
    };
    let (user, host) = match memchr::memrchr(b'@', who) {
        Some(at) => (Some(&who[..at]), &who[at + 1..]),
        None => (None, who),
    };
    let addr = addr.unwrap_or(host);
    let plain = |b: &[u8]| !b.is_empty() && !b.iter().any(|c| b" \t()[]".contains(c));
    let user_ok = user.is_none_or(|u| !u.is_empty() && !u.contains(&b' '));
    (plain(host) && plain(addr) && user_ok).then_some(Logged { user, host, addr })
}
