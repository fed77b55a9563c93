//! String-level pattern primitives of libwrap, byte for byte: `string_match`, globs,
//! `inet_addr`'s number forms, net/mask and `[v6]/len` (semantics.md §5.4, §5.5, §8).
//!
//! Everything here is pure and concrete: the caller supplies the string being matched.
//! What to do when the string is not known (a host name without DNS) is `eval`'s business.

use std::net::Ipv6Addr;

use crate::flavor::Flavor;

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
    // real sockets are already IPv4, see `Client::new`).
    let s = strip_v4_mapped(s);
    if tok.contains(&b'*') || tok.contains(&b'?') {
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
    if tok.len() >= 2 && tok[0] == b'[' && tok[tok.len() - 1] == b']' {
        return bracket_match(&tok[1..tok.len() - 1], s, flavor);
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

/// `[addr]` compared numerically; RHEL 7 also takes `[net/len]` inside the brackets.
fn bracket_match(inner: &[u8], s: &[u8], flavor: Flavor) -> bool {
    let Some(addr) = parse_v6(s) else { return false };
    if flavor == Flavor::Rhel7 {
        if let Some(slash) = inner.iter().position(|&b| b == b'/') {
            let Some(net) = parse_v6(&inner[..slash]) else { return false };
            let Some(len) = strict_prefix(&inner[slash + 1..], 128) else { return false };
            return prefix_eq(&net, &addr, len);
        }
    }
    parse_v6(inner) == Some(addr)
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
    let same = |a: u8, b: u8| if nocase { a.eq_ignore_ascii_case(&b) } else { a == b };
    let (mut p, mut s) = (pat, s);
    loop {
        let Some((&pc, prest)) = p.split_first() else { return s.is_empty() };
        if pc == b'*' {
            let Some(&next) = prest.first() else { return true };
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
        let Some((&sc, srest)) = s.split_first() else { return false };
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
    if let Some(&c) = s.get(i) {
        if !c.is_ascii_whitespace() && c != 0x0b {
            return None;
        }
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
        if s.get(2).is_some_and(u8::is_ascii_hexdigit) { (16, 2) } else { return (Some(0), 1) }
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

/// Like `dot_quad_addr` but keeping 255.255.255.255 (Red Hat's mask parser accepts it).
fn dot_quad_any(s: &[u8]) -> Option<u32> {
    let runs = s.split(|&b| b == b'.').filter(|r| !r.is_empty()).count();
    if runs != 4 { None } else { inet_aton(s) }
}

/// C `atoi()` as glibc does it: `(int) strtol(s, NULL, 10)`.
pub fn atoi(s: &[u8]) -> i64 {
    let mut i = 0;
    while s.get(i).is_some_and(|c| c.is_ascii_whitespace() || *c == 0x0b) {
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

/// A prefix length written only with digits (Red Hat), at most `max`.
fn strict_prefix(s: &[u8], max: u32) -> Option<u32> {
    if s.is_empty() || s.len() > 3 || !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let v: u32 = std::str::from_utf8(s).ok()?.parse().ok()?;
    (v <= max).then_some(v)
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
    let Some(addr) = dot_quad_addr(addr) else { return false };
    let Some(net) = dot_quad_addr(net) else { return false };
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
        Flavor::Rhel7 => match dot_quad_any(mask) {
            Some(m) => m,
            None => match strict_prefix(mask, 32) {
                Some(0) => 0,
                Some(len) => u32::MAX << (32 - len),
                None => return false,
            },
        },
        Flavor::Rhel6 => match dot_quad_any(mask) {
            Some(m) => m,
            None => return false,
        },
    };
    (addr & mask) == net
}

fn masked_match6(net: &[u8], mask: &[u8], addr: &[u8], flavor: Flavor) -> bool {
    let mapped = strip_v4_mapped(addr);
    if mapped.len() != addr.len() {
        return masked_match4(net, mask, mapped, flavor);
    }
    let Some(addr) = parse_v6(addr) else { return false };
    if net.len() < 2 || net[0] != b'[' || net[net.len() - 1] != b']' {
        return false;
    }
    let Some(net) = parse_v6(&net[1..net.len() - 1]) else { return false };
    let len = match flavor {
        Flavor::Debian => match u32::try_from(atoi(mask)) {
            Ok(l) if l <= 128 => l,
            _ => return false,
        },
        Flavor::Rhel7 | Flavor::Rhel6 => match strict_prefix(mask, 128) {
            Some(l) => l,
            None => return false,
        },
    };
    prefix_eq(&net, &addr, len)
}

/// `NOT_INADDR(tok)`: the token has a byte other than digits, `.` and `/`, so it may be
/// compared with a host name.
pub fn not_inaddr(tok: &[u8]) -> bool {
    tok.iter().any(|&b| !(b.is_ascii_digit() || b == b'.' || b == b'/'))
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
        v = match v.checked_mul(10).and_then(|x| x.checked_add(u64::from(d - b'0'))) {
            Some(x) => x,
            None => u64::MAX,
        };
        if v == u64::MAX {
            break;
        }
    }
    let v = if neg && v != u64::MAX { v.wrapping_neg() } else { v };
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
        assert!(!string_match(b"*.EXAMPLE.COM", b"good.example.com", Flavor::Rhel7));
        assert!(string_match(b"[0:0:0:0:0:0:0:1]", b"::1", D));
        assert!(!string_match(b"[::ffff:10.0.0.1]", b"::ffff:10.0.0.1", D));
        assert!(string_match(b"10.0.0.1", b"::ffff:10.0.0.1", D));
        assert!(!string_match(b"localhost", b"localhost.localdomain", D));
        assert!(string_match(b"localhost", b"localhost.localdomain", Flavor::Rhel7));
        assert!(string_match(b"[2001:db8::/32]", b"2001:db8::1", Flavor::Rhel7));
        assert!(!string_match(b"[2001:db8::/32]", b"2001:db8::1", D));
    }

    #[test]
    fn masks_per_flavour() {
        assert!(!masked_match(b"10.0.0.1", b"24", b"10.0.0.1", D));
        assert!(masked_match(b"10.0.0.0", b"24abc", b"10.0.0.1", D));
        assert!(!masked_match(b"10.0.0.1", b"255.255.255.255", b"10.0.0.1", D));
        assert!(masked_match(b"10.0.0.1", b"255.255.255.255", b"10.0.0.1", Flavor::Rhel7));
        assert!(masked_match(b"10.0.0.1", b"32", b"10.0.0.1", D));
        assert!(!masked_match(b"10.0.0.0", b"8", b"10.0.0.1", Flavor::Rhel6));
        assert!(masked_match(b"0.0.0.0", b"0", b"10.0.0.1", Flavor::Rhel7));
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
