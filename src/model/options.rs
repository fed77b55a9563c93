//! The options field (`daemons : clients : options`), parsed the way libwrap's
//! `process_options()` does (docs/semantics.md §6). Every problem it finds is what libwrap calls
//! `tcpd_jump()`: the connection is refused, even from hosts.allow.

use crate::model::flavor::Flavor;
use crate::model::syntax;

/// One option that matters to the verdict, in the order libwrap runs them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// `allow`: access granted, evaluation ends.
    Allow,
    /// `deny`: access denied, evaluation ends.
    Deny,
    /// `twist CMD`: the daemon's process is replaced by CMD; the client is never served.
    Twist(Vec<u8>),
    /// `aclexec CMD` (Debian): the command's exit status decides (non-zero: the rule is void).
    Aclexec(Vec<u8>),
    /// `spawn CMD`: runs beside the daemon; changes nothing for access.
    Spawn(Vec<u8>),
    /// `setenv NAME VALUE`: no effect on access, but its value is %-expanded.
    Setenv(Vec<u8>),
    /// Any other valid option (severity, umask…): no effect on access.
    Other,
}

/// Why libwrap refuses the options field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OptionError {
    /// libwrap's own words (`bad option name: "#"`).
    pub message: String,
    /// Our guess at how it got there, for the admin.
    pub cause: Cause,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cause {
    /// A `#` comment after the client list: there are no inline comments.
    InlineComment,
    /// A third field written as a shell command (the pre-PROCESS_OPTIONS syntax).
    ShellCommand,
    /// An IPv6 address without brackets: its colons split the line.
    BareIpv6,
    /// A `:` at the end of the rule (an empty option).
    TrailingColon,
    /// Anything else: unknown option, bad value, misplaced allow/deny.
    Other,
}

/// The parsed field: the options libwrap runs, and the error that stops it, if any.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Options {
    pub ops: Vec<Op>,
    pub error: Option<OptionError>,
}

impl Options {
    pub fn has_twist(&self) -> bool {
        self.ops.iter().any(|o| matches!(o, Op::Twist(_)))
    }
}

/// User and group names of the repaired system, for the `user` and `group` options.
pub trait Accounts {
    fn user_exists(&self, name: &[u8]) -> bool;
    fn group_exists(&self, name: &[u8]) -> bool;
}

/// Flags of libwrap's option table.
#[derive(Clone, Copy)]
struct Spec {
    need_arg: bool,
    opt_arg: bool,
    use_last: bool,
}

const fn spec(need_arg: bool, opt_arg: bool, use_last: bool) -> Spec {
    Spec {
        need_arg,
        opt_arg,
        use_last,
    }
}

fn lookup(key: &[u8], flavor: Flavor) -> Option<Spec> {
    let key = key.to_ascii_lowercase();
    Some(match key.as_slice() {
        b"user" | b"group" | b"umask" | b"linger" | b"spawn" | b"twist" | b"setenv"
        | b"severity" | b"banners" => spec(true, false, key == b"twist"),
        b"aclexec" if flavor == Flavor::Debian => spec(true, false, false),
        b"keepalive" => spec(false, false, false),
        b"rfc931" | b"nice" => spec(false, true, false),
        b"allow" | b"deny" => spec(false, false, true),
        _ => return None,
    })
}

/// Split at `:`, where `\:` is a literal colon (libwrap's `get_field()`).
fn fields(s: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    if s.is_empty() {
        return out;
    }
    let mut cur = Vec::new();
    let mut i = 0;
    while i < s.len() {
        match s[i] {
            b':' => {
                out.push(std::mem::take(&mut cur));
                i += 1;
                if i == s.len() {
                    return out;
                }
                continue;
            }
            b'\\' if s.get(i + 1) == Some(&b':') => {
                cur.push(b':');
                i += 2;
                continue;
            }
            b => cur.push(b),
        }
        i += 1;
    }
    out.push(cur);
    out
}

/// C `isspace()` in the C locale.
fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

fn chop(s: &[u8]) -> &[u8] {
    let start = s.iter().position(|&b| !is_space(b)).unwrap_or(s.len());
    let end = s
        .iter()
        .rposition(|&b| !is_space(b))
        .map_or(start, |i| i + 1);
    &s[start..end.max(start)]
}

/// Parse an options field (the text after the second `:`, newline included).
pub fn parse(field: &[u8], flavor: Flavor, accounts: &dyn Accounts) -> Options {
    let fields = fields(field);
    let mut out = Options::default();
    for (i, raw) in fields.iter().enumerate() {
        let last = i + 1 == fields.len();
        match parse_one(raw, last, flavor, accounts) {
            Ok(op) => out.ops.push(op),
            Err(message) => {
                let cause = guess_cause(field, raw, &message);
                out.error = Some(OptionError { message, cause });
                return out;
            }
        }
    }
    out
}

fn parse_one(
    raw: &[u8],
    last: bool,
    flavor: Flavor,
    accounts: &dyn Accounts,
) -> Result<Op, String> {
    let text = chop(raw);
    let key_end = text
        .iter()
        .position(|&b| matches!(b, b'=' | b' ' | b'\t' | b'\r' | b'\n'))
        .unwrap_or(text.len());
    let key = &text[..key_end];
    let mut rest = &text[key_end..];
    let skip_ws = |s: &[u8]| -> usize {
        s.iter()
            .position(|&b| !matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
            .unwrap_or(s.len())
    };
    if let Some((&first, after)) = rest.split_first() {
        rest = after;
        if first != b'=' {
            rest = &rest[skip_ws(rest)..];
            if rest.first() == Some(&b'=') {
                rest = &rest[1..];
            }
        }
        rest = &rest[skip_ws(rest)..];
    }
    let value = (!rest.is_empty()).then_some(rest);
    let shown = String::from_utf8_lossy(key);
    if key.is_empty() {
        return Err("missing option name".into());
    }
    let Some(spec) = lookup(key, flavor) else {
        return Err(format!("bad option name: \"{shown}\""));
    };
    if value.is_none() && spec.need_arg {
        return Err(format!("option \"{shown}\" requires value"));
    }
    if value.is_some() && !spec.need_arg && !spec.opt_arg {
        return Err(format!("option \"{shown}\" requires no value"));
    }
    if !last && spec.use_last {
        return Err(format!("option \"{shown}\" must be at end"));
    }
    let v = value.unwrap_or_default();
    let lower = key.to_ascii_lowercase();
    Ok(match lower.as_slice() {
        b"allow" => Op::Allow,
        b"deny" => Op::Deny,
        b"twist" => Op::Twist(v.to_vec()),
        b"aclexec" => Op::Aclexec(v.to_vec()),
        b"spawn" => Op::Spawn(v.to_vec()),
        b"umask" => check(
            scanf_int(v, 8).is_some_and(|m| m & !0o777 == 0),
            "bad umask value",
            v,
        )?,
        b"linger" => check(
            scanf_int(v, 10).is_some_and(|n| n as i32 >= 0),
            "bad linger value",
            v,
        )?,
        b"nice" if !v.is_empty() => check(scanf_int(v, 10).is_some(), "bad nice value", v)?,
        b"rfc931" if !v.is_empty() => check(
            scanf_int(v, 10).is_some_and(|n| n as i32 > 0),
            "bad rfc931 timeout",
            v,
        )?,
        b"severity" => check(severity_ok(v), "bad syslog facility or severity", v)?,
        b"user" => {
            // `user U.G` checks the group first, then the user (only names are checked: the
            // real library never switches ids).
            let (user, group) = match syntax::split_at(v, 0, b'.') {
                Some(i) => (&v[..i], Some(&v[i + 1..])),
                None => (v, None),
            };
            if let Some(g) = group
                && !accounts.group_exists(g)
            {
                return Err(format!("unknown group: \"{}\"", String::from_utf8_lossy(g)));
            }
            check(accounts.user_exists(user), "unknown user", user)?
        }
        b"group" => check(accounts.group_exists(v), "unknown group", v)?,
        b"setenv" => {
            let name_end = v
                .iter()
                .position(|&b| matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
                .unwrap_or(v.len());
            check(
                !v[..name_end].contains(&b'='),
                "memory allocation failure",
                v,
            )?
        }
        _ => Op::Other,
    })
}

fn check(ok: bool, what: &str, v: &[u8]) -> Result<Op, String> {
    if ok {
        Ok(Op::Other)
    } else {
        Err(format!("{what}: \"{}\"", String::from_utf8_lossy(v)))
    }
}

/// `sscanf(v, "%d%c") == 1` (radix 10) or `"%o%c"` (radix 8): optional sign, digits, nothing
/// after. glibc reads a long (saturating) and keeps its low 32 bits.
fn scanf_int(v: &[u8], radix: u32) -> Option<u32> {
    let t = &v[v.iter().position(|&b| !is_space(b)).unwrap_or(v.len())..];
    let (neg, digits) = match t.first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    if digits.is_empty() || !digits.iter().all(|&b| (b as char).is_digit(radix)) {
        return None;
    }
    let mut n: u64 = 0;
    for &d in digits {
        n = n
            .saturating_mul(u64::from(radix))
            .saturating_add(u64::from(d - b'0'));
    }
    let n = n.min(i64::MAX as u64) as i64;
    Some((if neg { -n } else { n }) as u32)
}

/// libwrap's own tables (options.c): no authpriv, syslog or ftp.
const FACILITIES: &[&str] = &[
    "kern", "user", "mail", "daemon", "auth", "lpr", "news", "uucp", "cron", "local0", "local1",
    "local2", "local3", "local4", "local5", "local6", "local7",
];
const LEVELS: &[&str] = &[
    "emerg", "alert", "crit", "err", "warning", "notice", "info", "debug",
];

fn severity_ok(v: &[u8]) -> bool {
    let known =
        |table: &[&str], s: &[u8]| table.iter().any(|t| t.as_bytes().eq_ignore_ascii_case(s));
    match syntax::split_at(v, 0, b'.') {
        Some(i) => known(FACILITIES, &v[..i]) && known(LEVELS, &v[i + 1..]),
        None => known(LEVELS, v),
    }
}

fn guess_cause(field: &[u8], raw: &[u8], message: &str) -> Cause {
    let text = chop(raw);
    if text.is_empty() && chop(field).is_empty() {
        return Cause::TrailingColon;
    }
    if text.first() == Some(&b'#') {
        return Cause::InlineComment;
    }
    if text.first().is_some_and(|&b| b == b'/' || b == b'(') {
        return Cause::ShellCommand;
    }
    // `sshd: ::1` leaves options like ":1"; `sshd: 2001:db8::1` leaves "db8::1".
    let looks_v6 = field.iter().all(|&b| {
        b.is_ascii_hexdigit() || is_space(b) || matches!(b, b':' | b'.' | b',' | b']' | b'/')
    });
    if looks_v6 && message != "option \"allow\" must be at end" {
        return Cause::BareIpv6;
    }
    Cause::Other
}

#[cfg(test)]
mod tests {
    use super::*;

    struct NoAccounts;
    impl Accounts for NoAccounts {
        fn user_exists(&self, name: &[u8]) -> bool {
            name == b"nobody"
        }
        fn group_exists(&self, name: &[u8]) -> bool {
            name == b"nogroup"
        }
    }

    fn p(s: &str) -> Options {
        parse(s.as_bytes(), Flavor::Debian, &NoAccounts)
    }

    #[test]
    fn allow_and_deny_end_the_list() {
        assert_eq!(p(" allow\n").ops, vec![Op::Allow]);
        assert_eq!(p(" DENY\n").ops, vec![Op::Deny]);
        assert!(p(" allow: spawn /bin/true\n").error.is_some());
        assert_eq!(
            p(" spawn echo a\\:b: allow\n").ops,
            vec![Op::Spawn(b"echo a:b".to_vec()), Op::Allow]
        );
        assert_eq!(p(" allow=\n").error, None);
        assert!(p(" allow = x\n").error.is_some());
    }

    #[test]
    fn errors_are_named_and_explained() {
        let e = p(" \n").error.expect("error");
        assert_eq!(e.message, "missing option name");
        assert_eq!(e.cause, Cause::TrailingColon);
        let e = p(" admin box\n").error.expect("error");
        assert_eq!(e.message, "bad option name: \"admin\"");
        let e = p(" /bin/echo hi\n").error.expect("error");
        assert_eq!(e.cause, Cause::ShellCommand);
        let e = p("1\n").error.expect("error");
        assert_eq!(e.cause, Cause::BareIpv6);
        assert!(p(" user nobody\n").error.is_none());
        assert!(p(" user nobody.nogroup\n").error.is_none());
        assert!(p(" user nosuchuser\n").error.is_some());
        assert!(p(" umask 0999\n").error.is_some());
        assert!(p(" umask 022\n").error.is_none());
        assert!(p(" severity auth.info\n").error.is_none());
        assert!(p(" severity loud\n").error.is_some());
        assert!(p(" severity authpriv.info\n").error.is_some());
        assert!(p(" severity auth\n").error.is_some());
        assert!(p(" umask 40000000022\n").error.is_none());
        assert!(p(" umask -1\n").error.is_some());
        assert!(p(" linger 4294967296\n").error.is_none());
        assert!(p(" linger 2147483648\n").error.is_some());
        assert!(p(" nice -5\n").error.is_none());
        assert!(p(" rfc931 0\n").error.is_some());
        assert!(p(" setenv A=B c\n").error.is_some());
        assert!(
            parse(b" aclexec /bin/true\n", Flavor::Rhel7, &NoAccounts)
                .error
                .is_some()
        );
    }
}
