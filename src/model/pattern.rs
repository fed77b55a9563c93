//! String-level pattern primitives of libwrap, byte for byte: `string_match`, globs,
//! `inet_addr`'s number forms, net/mask and `[v6]/len` (docs/semantics.md §5.4, §5.5, §8).
//!
//! Everything here is pure and concrete: the caller supplies the string being matched.
//! What to do when the string is not known (a host name without DNS) is `eval`'s business.

use std::net::Ipv6Addr;

use crate::model::flavor::Flavor;

/// `strcasecmp(a, b) == 0`.
pub fn eq_nocase(a: &[u8], b: &[u8]) -> bool {
    a.eq_ignore_ascii_case(b)
}

/// The name and address placeholders libwrap uses.
pub const UNKNOWN: &[u8] = b"unknown";
pub const PARANOID: &[u8] = b"paranoid";

/// `string_match(tok, s)`: glob, `.suffix`, ALL, KNOWN, `prefix.`, `[v6]`, equality.
pub fn string_match(tok: &[u8], s: &[u8], flavor: Flavor) -> bool {
    // Mapped IPv4 addresses look like IPv4 to every textual rule (Debian, RHEL 6; RHEL 7's
    // real sockets are already IPv4, see `client::libwrap_text`).
    let s = if flavor == Flavor::Rhel7 {
        s
    } else {
        strip_v4_mapped(s)
    };
    if tok.iter().any(|&b| b == b'*' || b == b'?') {
        return glob(tok, s, flavor == Flavor::Debian);
    }
    if tok.first() == Some(&b'.') {
        return s.len() > tok.len() && eq_nocase(tok, &s[s.len() - tok.len()..]);
    }
    if eq_nocase(tok, b"ALL") {
        return true;
    }
    if eq_nocase(tok, b"KNOWN") {
        return !eq_nocase(s, UNKNOWN);
    }
    if tok.last() == Some(&b'.') {
        return s.len() >= tok.len() && eq_nocase(tok, &s[..tok.len()]);
    }
    // RHEL 7 handles brackets in host_match (see `rhel7_bracket_match`), not here.
    if flavor != Flavor::Rhel7 && tok.len() >= 2 && tok[0] == b'[' && tok[tok.len() - 1] == b']' {
        return parse_v6(s).is_some_and(|a| parse_v6(&tok[1..tok.len() - 1]) == Some(a));
    }
    if eq_nocase(tok, s) {
        return true;
    }
    // Red Hat's builds treat the two spellings of the loopback name as one.
    flavor != Flavor::Debian && is_localhost(tok) && is_localhost(s)
}

fn is_localhost(s: &[u8]) -> bool {
    eq_nocase(s, b"localhost") || eq_nocase(s, b"localhost.localdomain")
}

/// RHEL 7's `[…]` host pattern: `[net]`, `[net]/len` or `[net/len]`, compared on the
/// first `len` bits (128 by default); text after `]` other than `/len` is ignored.
pub fn rhel7_bracket_match(tok: &[u8], addr: &[u8]) -> bool {
    let Some(addr) = parse_v6_strict(addr) else {
        return false;
    };
    let Some(close) = tok.iter().position(|&b| b == b']') else {
        return false;
    };
    let inside = &tok[1..close];
    let after = &tok[close + 1..];
    let (net, len) = match inside.iter().position(|&b| b == b'/') {
        Some(i) => (&inside[..i], atoi(&inside[i + 1..])),
        None => match after.iter().position(|&b| b == b'/') {
            Some(i) => (inside, atoi(&after[i + 1..])),
            None => (inside, 128),
        },
    };
    let Ok(len) = u32::try_from(len) else {
        return false;
    };
    if len > 128 {
        return false;
    }
    parse_v6_strict(net).is_some_and(|net| prefix_eq(&net, &addr, len))
}

/// If `s` is `::ffff:` followed by a four-part dotted quad, the dotted quad.
pub fn strip_v4_mapped(s: &[u8]) -> &[u8] {
    if s.len() > 7 && eq_nocase(&s[..7], b"::ffff:") && dot_quad_addr(&s[7..]).is_some() {
        &s[7..]
    } else {
        s
    }
}

/// The wildcard matcher: `*` any run, `?` one byte, no escapes. Debian compares letters
/// case-insensitively, Red Hat exactly. `**` does not match the empty string.
pub fn glob(pat: &[u8], s: &[u8], nocase: bool) -> bool {
    let same = |a: u8, b: u8| {
        if nocase {
            a.eq_ignore_ascii_case(&b)
        } else {
            a == b
        }
    };
    let (mut p, mut s) = (pat, s);
    loop {
        let Some((&pc, prest)) = p.split_first() else {
            return s.is_empty();
        };
        if pc == b'*' {
            let Some(&next) = prest.first() else {
                return true;
            };
            if next != b'?' && next != b'*' {
                for i in 0..s.len() {
                    if same(s[i], next) && glob(&prest[1..], &s[i + 1..], nocase) {
                        return true;
                    }
                }
                return false;
            }
            for i in 0..s.len() {
                if glob(prest, &s[i..], nocase) {
                    return true;
                }
            }
            return false;
        }
        let Some((&sc, srest)) = s.split_first() else {
            return false;
        };
        if pc != b'?' && !same(pc, sc) {
            return false;
        }
        p = prest;
        s = srest;
    }
}

/// glibc `inet_aton()`: one to four parts, each decimal, octal (`0…`) or hex (`0x…`),
/// trailing whitespace (and anything after it) accepted.
pub fn inet_aton(s: &[u8]) -> Option<u32> {
    let mut parts: Vec<u32> = Vec::with_capacity(4);
    let mut i = 0;
    let last: u64;
    loop {
        if !s.get(i).is_some_and(u8::is_ascii_digit) {
            return None;
        }
        let (val, used) = strtoul0(&s[i..]);
        let val = val?;
        if val > 0xffff_ffff {
            return None;
        }
        i += used;
        if s.get(i) == Some(&b'.') {
            if parts.len() > 2 || val > 0xff {
                return None;
            }
            parts.push(val as u32);
            i += 1;
        } else {
            last = val;
            break;
        }
    }
    if let Some(&c) = s.get(i)
        && !c.is_ascii_whitespace()
        && c != 0x0b
    {
        return None;
    }
    let max: u64 = match parts.len() {
        0 => 0xffff_ffff,
        1 => 0x00ff_ffff,
        2 => 0x0000_ffff,
        _ => 0xff,
    };
    if last > max {
        return None;
    }
    let mut v: u32 = 0;
    for (k, p) in parts.iter().enumerate() {
        v |= p << (24 - 8 * k);
    }
    Some(v | last as u32)
}

/// `strtoul(s, &end, 0)` on a string that starts with a digit: value (None on overflow) and
/// bytes used.
fn strtoul0(s: &[u8]) -> (Option<u64>, usize) {
    let (base, start) = if s.len() >= 2 && s[0] == b'0' && (s[1] | 0x20) == b'x' {
        if s.get(2).is_some_and(u8::is_ascii_hexdigit) {
            (16, 2)
        } else {
            return (Some(0), 1);
        }
    } else if s[0] == b'0' {
        (8, 0)
    } else {
        (10, 0)
    };
    let mut val: Option<u64> = Some(0);
    let mut i = start;
    while let Some(d) = s.get(i).and_then(|&c| (c as char).to_digit(base)) {
        val = val.and_then(|v| v.checked_mul(u64::from(base))?.checked_add(u64::from(d)));
        i += 1;
    }
    (val, i)
}

/// libwrap's `dot_quad_addr()`: exactly four runs of non-dots, then `inet_addr()`.
/// `None` also for 255.255.255.255, which `inet_addr` cannot tell from failure.
pub fn dot_quad_addr(s: &[u8]) -> Option<u32> {
    let runs = s.split(|&b| b == b'.').filter(|r| !r.is_empty()).count();
    if runs != 4 {
        return None;
    }
    inet_aton(s).filter(|&v| v != u32::MAX)
}

/// C `atoi()` as glibc does it: `(int) strtol(s, NULL, 10)`.
pub fn atoi(s: &[u8]) -> i64 {
    let mut i = 0;
    while s
        .get(i)
        .is_some_and(|c| c.is_ascii_whitespace() || *c == 0x0b)
    {
        i += 1;
    }
    let neg = match s.get(i) {
        Some(b'-') => {
            i += 1;
            true
        }
        Some(b'+') => {
            i += 1;
            false
        }
        _ => false,
    };
    let mut v: i64 = 0;
    while let Some(c) = s.get(i).filter(|c| c.is_ascii_digit()) {
        v = v.saturating_mul(10).saturating_add(i64::from(c - b'0'));
        i += 1;
    }
    let v = if neg { v.saturating_neg() } else { v };
    // strtol saturates to a long; the cast to int keeps the low 32 bits.
    i64::from(v as i32)
}

/// A number written only with decimal digits (`strtoul` consuming the whole string).
fn decimal(s: &[u8]) -> Option<u64> {
    if s.is_empty() || !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(s.iter().fold(0u64, |v, &d| {
        v.saturating_mul(10).saturating_add(u64::from(d - b'0'))
    }))
}

/// getaddrinfo(AF_INET6, AI_NUMERICHOST): a numeric IPv6 address; a `%scope` is ignored.
pub fn parse_v6(s: &[u8]) -> Option<[u8; 16]> {
    let s = match s.iter().position(|&b| b == b'%') {
        Some(i) if i + 1 < s.len() => &s[..i],
        Some(_) => return None,
        None => s,
    };
    let text = std::str::from_utf8(s).ok()?;
    text.parse::<Ipv6Addr>().ok().map(|a| a.octets())
}

/// `inet_pton(AF_INET6)`: no scope suffix.
fn parse_v6_strict(s: &[u8]) -> Option<[u8; 16]> {
    if s.contains(&b'%') {
        return None;
    }
    parse_v6(s)
}

fn prefix_eq(a: &[u8; 16], b: &[u8; 16], len: u32) -> bool {
    let full = (len / 8) as usize;
    if a[..full] != b[..full] {
        return false;
    }
    let rem = len % 8;
    if rem == 0 {
        return true;
    }
    let mask = 0xffu8 << (8 - rem);
    (a[full] & mask) == (b[full] & mask)
}

/// `masked_match(net, mask, addr)`: the IPv4 rule, then the IPv6 rule.
pub fn masked_match(net: &[u8], mask: &[u8], addr: &[u8], flavor: Flavor) -> bool {
    masked_match4(net, mask, addr, flavor) || masked_match6(net, mask, addr, flavor)
}

fn masked_match4(net: &[u8], mask: &[u8], addr: &[u8], flavor: Flavor) -> bool {
    let Some(addr) = dot_quad_addr(addr) else {
        return false;
    };
    let Some(net) = dot_quad_addr(net) else {
        return false;
    };
    let mask = match flavor {
        Flavor::Debian => match dot_quad_addr(mask) {
            Some(m) => m,
            None => {
                let len = atoi(mask);
                if !(1..=32).contains(&len) {
                    return false;
                }
                u32::MAX << (32 - len)
            }
        },
        // Red Hat: a dotted quad, or 255.255.255.255 written out; RHEL 7 also a plain
        // decimal prefix 0..=32, where 32 only counts spelled exactly "32".
        Flavor::Rhel7 | Flavor::Rhel6 => match dot_quad_addr(mask) {
            Some(m) => m,
            None if mask == b"255.255.255.255" || (flavor == Flavor::Rhel7 && mask == b"32") => {
                u32::MAX
            }
            None if flavor == Flavor::Rhel7 => match decimal(mask) {
                Some(0) => 0,
                Some(len @ 1..=31) => u32::MAX << (32 - len),
                _ => return false,
            },
            None => return false,
        },
    };
    (addr & mask) == net
}

fn masked_match6(net: &[u8], mask: &[u8], addr: &[u8], flavor: Flavor) -> bool {
    // RHEL 7 matches IPv6 in its `[` branch before any `/` split.
    if flavor == Flavor::Rhel7 {
        return false;
    }
    let mapped = strip_v4_mapped(addr);
    if mapped.len() != addr.len() {
        return masked_match4(net, mask, mapped, flavor);
    }
    let Some(addr) = parse_v6(addr) else {
        return false;
    };
    if net.len() < 2 || net[0] != b'[' || net[net.len() - 1] != b']' {
        return false;
    }
    let Some(net) = parse_v6(&net[1..net.len() - 1]) else {
        return false;
    };
    let len = match u32::try_from(atoi(mask)) {
        Ok(l) if l <= 128 => l,
        _ => return false,
    };
    prefix_eq(&net, &addr, len)
}

/// `NOT_INADDR(tok)`: the token has a byte other than digits, `.` and `/`, so it may be
/// compared with a host name.
pub fn not_inaddr(tok: &[u8]) -> bool {
    tok.iter()
        .any(|&b| !(b.is_ascii_digit() || b == b'.' || b == b'/'))
}

/// Debian's numeric daemon token (`sscanf("%u%c") == 1`, ≤ 65535): a server port pattern.
pub fn port_token(tok: &[u8]) -> Option<u16> {
    let (neg, digits) = match tok.first() {
        Some(b'+') => (false, &tok[1..]),
        Some(b'-') => (true, &tok[1..]),
        _ => (false, tok),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    // strtoul saturates at ULONG_MAX; scanf then stores the low 32 bits.
    let mut v: u64 = 0;
    for &d in digits {
        v = v
            .checked_mul(10)
            .and_then(|x| x.checked_add(u64::from(d - b'0')))
            .unwrap_or(u64::MAX);
        if v == u64::MAX {
            break;
        }
    }
    let v = if neg && v != u64::MAX {
        v.wrapping_neg()
    } else {
        v
    };
    u16::try_from(v as u32).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    const D: Flavor = Flavor::Debian;

    #[test]
    fn inet_aton_number_forms() {
        assert_eq!(inet_aton(b"10.0.0.1"), Some(0x0a00_0001));
        assert_eq!(inet_aton(b"010.0.0.1"), Some(0x0800_0001));
        assert_eq!(inet_aton(b"0xa.0.0.1"), Some(0x0a00_0001));
        assert_eq!(inet_aton(b"10.1"), Some(0x0a00_0001));
        assert_eq!(inet_aton(b"08.0.0.1"), None);
        assert_eq!(inet_aton(b"1.2.3.4 junk"), Some(0x0102_0304));
        assert_eq!(inet_aton(b"1.2.3.256"), None);
        assert_eq!(inet_aton(b"0x.1.1.1"), None);
        assert_eq!(dot_quad_addr(b"10.1"), None);
        assert_eq!(dot_quad_addr(b"255.255.255.255"), None);
    }

    #[test]
    fn string_match_rules_in_order() {
        assert!(string_match(b".1", b"10.0.0.1", D));
        assert!(!string_match(b"10.", b"100.0.0.1", D));
        assert!(string_match(b"good.", b"good.example.com", D));
        assert!(!string_match(b".example.com", b"example.com", D));
        assert!(string_match(b".exa*", b".example", D));
        assert!(!string_match(b".exa*", b"good.example.com", D));
        assert!(string_match(b"*.EXAMPLE.COM", b"good.example.com", D));
        assert!(!string_match(
            b"*.EXAMPLE.COM",
            b"good.example.com",
            Flavor::Rhel7
        ));
        assert!(string_match(b"[0:0:0:0:0:0:0:1]", b"::1", D));
        assert!(!string_match(b"[::ffff:10.0.0.1]", b"::ffff:10.0.0.1", D));
        assert!(string_match(b"10.0.0.1", b"::ffff:10.0.0.1", D));
        assert!(!string_match(b"localhost", b"localhost.localdomain", D));
        assert!(string_match(
            b"localhost",
            b"localhost.localdomain",
            Flavor::Rhel7
        ));
        assert!(rhel7_bracket_match(b"[2001:db8::/32]", b"2001:db8::1"));
        assert!(rhel7_bracket_match(b"[2001:db8::]/32", b"2001:db8::1"));
        assert!(rhel7_bracket_match(b"[::1]junk", b"::1"));
        assert!(!string_match(b"[2001:db8::/32]", b"2001:db8::1", D));
    }

    #[test]
    fn masks_per_flavour() {
        assert!(!masked_match(b"10.0.0.1", b"24", b"10.0.0.1", D));
        assert!(masked_match(b"10.0.0.0", b"24abc", b"10.0.0.1", D));
        assert!(!masked_match(
            b"10.0.0.1",
            b"255.255.255.255",
            b"10.0.0.1",
            D
        ));
        assert!(masked_match(
            b"10.0.0.1",
            b"255.255.255.255",
            b"10.0.0.1",
            Flavor::Rhel7
        ));
        assert!(masked_match(b"10.0.0.1", b"32", b"10.0.0.1", D));
        assert!(!masked_match(b"10.0.0.0", b"8", b"10.0.0.1", Flavor::Rhel6));
        assert!(masked_match(b"0.0.0.0", b"0", b"10.0.0.1", Flavor::Rhel7));
        assert!(!masked_match(
            b"10.0.0.1",
            b"032",
            b"10.0.0.1",
            Flavor::Rhel7
        ));
        assert!(!masked_match(
            b"10.0.0.0",
            b"24abc",
            b"10.0.0.1",
            Flavor::Rhel7
        ));
        assert!(masked_match(b"10.0.0.0", b"24", b"10.0.0.1", Flavor::Rhel7));
        assert!(!masked_match(b"0.0.0.0", b"0", b"10.0.0.1", D));
        assert!(masked_match(b"010.0.0.0", b"8", b"8.1.2.3", D));
        assert!(masked_match(b"[2001:db8::1]", b"64", b"2001:db8::ffff", D));
        assert!(masked_match(b"[2001:db8::]", b"abc", b"ffff::1", D));
        assert!(!masked_match(b"[2001:db8::]", b"129", b"2001:db8::1", D));
        assert!(masked_match(b"10.0.0.0", b"8", b"::ffff:10.0.0.1", D));
    }

    #[test]
    fn glob_edges() {
        assert!(!glob(b"**", b"", true));
        assert!(glob(b"*", b"", true));
        assert!(glob(b"a?c", b"ABC", true));
        assert!(!glob(b"a?c", b"ABC", false));
        assert!(glob(b"*?", b"x", true));
    }

    #[test]
    fn port_tokens() {
        assert_eq!(port_token(b"22"), Some(22));
        assert_eq!(port_token(b"+0"), Some(0));
        assert_eq!(port_token(b"040222"), Some(40222));
        assert_eq!(port_token(b"65536"), None);
        assert_eq!(port_token(b"22x"), None);
        assert_eq!(port_token(b"-1"), None);
    }
}
