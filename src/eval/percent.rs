//! libwrap's `percent_x()`: what `%` expansion of an option value does to the request
//! (docs/semantics.md §6).
//!
//! percent_x() replaces every byte of each expansion outside its `ok_chars` with `_`, and
//! it does so in the expansion string itself. For `%a %h %n %u %d` (and `%c` and `%s` when
//! they fall back on one of those) that string is the request's own cached field, so every
//! rule read afterwards sees the sanitised text. `%h` shows the name only once libwrap has
//! looked it up: `hosts_ctl()` is given the name, a daemon looks it up when a pattern (or
//! `%n`) first needs it; until then `%h` is the address and the name is left alone.

use std::borrow::Cow;

use super::Mode;
use super::run::{FIELD, Request};
use crate::model::pattern::{PARANOID, UNKNOWN, eq_nocase};

/// `percent_x()` writes into an 8192-byte buffer and exits the process at 8191 bytes.
pub(super) const EXPANSION_LIMIT: usize = 8191;

/// Bytes `percent_x()` keeps in an expansion; any other byte becomes `_`.
pub(crate) fn expansion_ok(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!@%-_=+:,./".contains(&b)
}

/// `s` as percent_x() leaves it (borrowed when nothing changes).
pub(crate) fn sanitized(s: &[u8]) -> Cow<'_, [u8]> {
    if s.iter().all(|&b| expansion_ok(b)) {
        Cow::Borrowed(s)
    } else {
        Cow::Owned(
            s.iter()
                .map(|&b| if expansion_ok(b) { b } else { b'_' })
                .collect(),
        )
    }
}

/// Sanitise in place; true if that changed the string.
fn sanitize(s: &mut Cow<'_, [u8]>) -> bool {
    let Cow::Owned(clean) = sanitized(s) else {
        return false;
    };
    *s = Cow::Owned(clean);
    true
}

/// How a pattern's answer for a string relates to its answer for the sanitised string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AfterSanitize {
    /// The same answer for every string: the pattern's literal bytes are all kept and none
    /// is `_` (wildcards match what they matched; `[v6]` compares numbers, and a string
    /// that parses as one has nothing to replace).
    Same,
    /// Never matches a sanitised string: a literal byte percent_x() never leaves.
    Never,
    /// A literal `_`: it also matches any byte percent_x() replaced.
    Differs,
}

pub(crate) fn after_sanitize(tok: &[u8]) -> AfterSanitize {
    if tok.len() >= 2 && tok[0] == b'[' && tok[tok.len() - 1] == b']' {
        return AfterSanitize::Same;
    }
    let literals = || tok.iter().filter(|&&b| b != b'*' && b != b'?');
    if literals().any(|&b| !expansion_ok(b)) {
        AfterSanitize::Never
    } else if literals().any(|&b| b == b'_') {
        AfterSanitize::Differs
    } else {
        AfterSanitize::Same
    }
}

fn known(name: &[u8]) -> bool {
    !eq_nocase(name, UNKNOWN) && !eq_nocase(name, PARANOID)
}

impl Request<'_> {
    /// What expanding `value` does to the request's strings, left to right as percent_x()
    /// goes (a `%n` looks the name up for the `%h` after it).
    pub(super) fn expand_in_place(&mut self, value: &[u8], mode: Mode) {
        let mut i = 0;
        while i + 1 < value.len() {
            if value[i] != b'%' {
                i += 1;
                continue;
            }
            match value[i + 1] {
                b'a' => drop(sanitize(&mut self.addr)),
                b'h' => self.hostinfo_in_place(),
                // eval_client(): the host alone (aliased) unless the user is known.
                b'c' if eq_nocase(&self.user, UNKNOWN) => self.hostinfo_in_place(),
                b'n' => {
                    self.looked_up = true;
                    match &mut self.name {
                        Some(n) => self.name_rewritten |= sanitize(n),
                        None => self.name_rewritten = true,
                    }
                }
                b'd' => drop(sanitize(&mut self.daemon)),
                // eval_server(): the daemon name itself when the server host is `unknown`
                // (hosts_ctl); a daemon's socket always has an address (a copy).
                b's' if mode == Mode::HostsCtl => drop(sanitize(&mut self.daemon)),
                b'u' => drop(sanitize(&mut self.user)),
                // The server's name or address: `unknown` for hosts_ctl() (nothing to
                // replace), unknown to us in a daemon.
                b'H' | b'N' if mode == Mode::Daemon => self.server_rewritten = true,
                _ => {}
            }
            i += 2;
        }
    }

    /// eval_hostinfo(client): the name once looked up and verified, else the address.
    fn hostinfo_in_place(&mut self) {
        if !self.looked_up {
            sanitize(&mut self.addr);
            return;
        }
        match &mut self.name {
            Some(n) if known(n) => self.name_rewritten |= sanitize(n),
            Some(_) => drop(sanitize(&mut self.addr)),
            // A name we do not know: a verified one is sanitised; `unknown` and
            // `paranoid` read the same afterwards (the address shown then is numeric text,
            // which has nothing to replace).
            None => self.name_rewritten = true,
        }
    }
}

/// The shortest and longest `percent_x()` result for an option value: a name we do not
/// know is anything from 1 to 127 bytes (or `unknown`, when `%h` shows the address), and
/// `%h` is the address until the name is looked up. The server's address and name are
/// `unknown` for hosts_ctl() and 1 to 127 bytes in a daemon.
pub(super) fn expansion_len(value: &[u8], req: &Request<'_>, mode: Mode) -> (usize, usize) {
    let server = match mode {
        Mode::HostsCtl => (UNKNOWN.len(), UNKNOWN.len()),
        Mode::Daemon => (1, FIELD),
    };
    let addr = req.addr.len();
    let mut looked_up = req.looked_up;
    let host = |looked_up: bool| match req.name.as_deref() {
        _ if !looked_up => (addr, addr),
        Some(n) if known(n) => (n.len(), n.len()),
        Some(_) => (addr, addr),
        None => (addr.min(1), addr.max(FIELD)),
    };
    let name = match req.name.as_deref() {
        Some(n) => (n.len(), n.len()),
        None => (1, FIELD),
    };
    let daemon = req.daemon.len();
    let user = req.user.len();
    let user_unknown = eq_nocase(&req.user, UNKNOWN);
    let (mut lo, mut hi) = (0, 0);
    let mut i = 0;
    while i < value.len() {
        if value[i] != b'%' || i + 1 == value.len() {
            lo += 1;
            hi += 1;
            i += 1;
            continue;
        }
        let (l, h) = match value[i + 1] {
            b'a' => (addr, addr),
            b'h' => host(looked_up),
            b'n' => {
                looked_up = true;
                name
            }
            b'd' => (daemon, daemon),
            b's' if mode == Mode::HostsCtl => (daemon, daemon),
            b's' => (daemon + 1 + server.0, daemon + 1 + server.1),
            b'u' => (user, user),
            b'c' if user_unknown => host(looked_up),
            b'c' => {
                let (l, h) = host(looked_up);
                (user + 1 + l, user + 1 + h)
            }
            b'A' | b'H' | b'N' => server,
            b'p' => (5, 5),
            b'%' => (1, 1),
            _ => (0, 0),
        };
        lo += l;
        hi += h;
        i += 2;
    }
    (lo, hi)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_literal_underscores_make_a_pattern_read_the_sanitised_name_differently() {
        assert_eq!(after_sanitize(b"good.example.com"), AfterSanitize::Same);
        assert_eq!(after_sanitize(b"*.example.com"), AfterSanitize::Same);
        assert_eq!(after_sanitize(b"[::1]"), AfterSanitize::Same);
        assert_eq!(after_sanitize(b"EXCEPT\x0bGOOD."), AfterSanitize::Never);
        assert_eq!(after_sanitize(b"[::1"), AfterSanitize::Never);
        assert_eq!(
            after_sanitize(b"evil_x.example.com"),
            AfterSanitize::Differs
        );
        assert_eq!(&*sanitized(b"evil*x\x0b.com"), b"evil_x_.com");
    }
}
