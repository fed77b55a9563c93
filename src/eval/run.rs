//! libwrap's `table_match()` for one rule with the unknowns answered from outside: the
//! lists, the daemon, client and host patterns, the options (docs/semantics.md §3–§6).

use std::borrow::Cow;
use std::collections::HashMap;

use std::rc::Rc;

use super::percent::{AfterSanitize, EXPANSION_LIMIT, after_sanitize, expansion_len, expansion_ok};
use super::{Env, How, Mode, Pred};
use crate::model::client::Client;
use crate::model::flavor::Flavor;
use crate::model::options::{self, Op};
use crate::model::pattern::{self, PARANOID, UNKNOWN, eq_nocase};
use crate::model::syntax::{self, Rule};
use crate::rootfs::Root;

/// `/file` patterns nested deeper than this are treated as the crash they cause in libwrap.
const MAX_FILE_DEPTH: usize = 64;

/// Contents of `/file` pattern files, read once per verdict.
#[derive(Default)]
pub(super) struct FileCache {
    files: HashMap<Vec<u8>, Option<Rc<Vec<u8>>>>,
}

impl FileCache {
    pub(super) fn get(&mut self, root: &Root, path: &[u8]) -> Option<Rc<Vec<u8>>> {
        self.files
            .entry(path.to_vec())
            .or_insert_with(|| {
                // Bounded, regular files only: a FIFO or a device named by a /file
                // pattern must not hang or exhaust the run.
                let p = String::from_utf8_lossy(path);
                root.read_bounded(&p, crate::model::tables::TABLE_LIMIT)
                    .ok()
                    .flatten()
                    .map(Rc::new)
            })
            .clone()
    }
}

/// How one rule ended for this request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum RuleEnd {
    /// The rule does not match: read on.
    NoMatch,
    /// The rule matches: the table's answer is YES.
    Match,
    /// A failed aclexec voids the matching rule: the table's answer is NO (the rest of the
    /// table is not read).
    Void,
    /// An option ends the whole evaluation: how, and whether access is granted.
    Jump(How, bool),
    /// A `/file` pattern includes itself: libwrap recurses until it crashes.
    Crash,
}

/// libwrap keeps each request string in a 128-byte field: 127 bytes of text.
pub(super) const FIELD: usize = 127;

/// The request's strings as libwrap holds them: truncated to their fields, and rewritten in
/// place when an option's `%` expansion sanitizes them (see [`super::percent`]).
#[derive(Clone, PartialEq, Eq)]
pub(super) struct Request<'r> {
    pub(super) daemon: Cow<'r, [u8]>,
    pub(super) addr: Cow<'r, [u8]>,
    /// `None`: the name is unknown to us (every possibility counts).
    pub(super) name: Option<Cow<'r, [u8]>>,
    pub(super) user: Cow<'r, [u8]>,
    /// libwrap has the client's name: `hosts_ctl()` is given it, a daemon looks it up when
    /// a pattern or `%n` first needs it. Until then `%h` shows the address.
    pub(super) looked_up: bool,
    /// An expansion may have rewritten the name since it was looked up (for a name we do
    /// not know: one did sanitise it), so name questions are about the sanitised name.
    pub(super) name_rewritten: bool,
    /// `%H` or `%N` may have rewritten the server's name (a daemon's, unknown to us).
    pub(super) server_rewritten: bool,
}

impl<'r> Request<'r> {
    pub(super) fn new(daemon: &'r [u8], client: &'r Client, mode: Mode) -> Self {
        Request {
            daemon: field(daemon),
            addr: field(client.addr.as_bytes()),
            name: client.name.as_deref().map(|n| field(n.as_bytes())),
            user: field(client.user().as_bytes()),
            looked_up: mode == Mode::HostsCtl,
            name_rewritten: false,
            server_rewritten: false,
        }
    }
}

fn field(s: &[u8]) -> Cow<'_, [u8]> {
    Cow::Borrowed(&s[..s.len().min(FIELD)])
}

/// Would an option's `%` expansion rewrite any of these strings? (Then the scan, which
/// probes the strings as given, may miss what a later rule sees.) A name we do not know
/// needs no care: the scan asks about every name, the sanitised ones included.
pub(super) fn sanitize_stable(daemon: &[u8], client: &Client) -> bool {
    [
        daemon,
        client.addr.as_bytes(),
        client.name.as_deref().unwrap_or("").as_bytes(),
        client.user().as_bytes(),
    ]
    .iter()
    .all(|s| s.iter().all(|&b| expansion_ok(b)))
}

/// Answers to the questions a rule asks that the files cannot answer.
pub(super) trait Ask {
    fn ask(&mut self, pred: Pred) -> bool;
}

impl<F: FnMut(Pred) -> bool> Ask for F {
    fn ask(&mut self, pred: Pred) -> bool {
        self(pred)
    }
}

/// libwrap's matching of one rule against one request, with unknowns answered by `asker`.
pub(super) struct Run<'r, 'e, 'a> {
    env: &'a Env<'e>,
    pub(super) req: Request<'r>,
    files: &'a mut FileCache,
    asker: &'a mut dyn Ask,
    file_depth: usize,
    pub(super) crashed: bool,
    /// Debian's global aclexec failure flag: never cleared within one request.
    pub(super) aclexec_failed: bool,
}

impl<'r, 'e, 'a> Run<'r, 'e, 'a> {
    pub(super) fn new(
        env: &'a Env<'e>,
        req: Request<'r>,
        aclexec_failed: bool,
        files: &'a mut FileCache,
        asker: &'a mut dyn Ask,
    ) -> Self {
        Run {
            env,
            req,
            files,
            asker,
            file_depth: 0,
            crashed: false,
            aclexec_failed,
        }
    }

    fn ask(&mut self, pred: Pred) -> bool {
        self.asker.ask(pred)
    }

    /// table_match() for one rule: do its daemon and client lists both match, and what do
    /// its options make of that?
    pub(super) fn rule(&mut self, rule: &Rule<'_>) -> RuleEnd {
        let mut daemons = syntax::tokens(rule.daemon_list());
        let daemon_ok = self.match_list(&mut daemons, Self::server_match);
        // A self-including `daemon@/file` crashes libwrap as a client `/file` does.
        if self.crashed {
            return RuleEnd::Crash;
        }
        if !daemon_ok {
            return RuleEnd::NoMatch;
        }
        let mut clients = syntax::tokens(rule.client_list());
        let matched = self.match_list(&mut clients, Self::client_match);
        if self.crashed {
            return RuleEnd::Crash;
        }
        if !matched {
            return RuleEnd::NoMatch;
        }
        let Some(field) = rule.options_field() else {
            return RuleEnd::Match;
        };
        let opts = options::parse(field, self.env.flavor, self.env.accounts);
        for op in &opts.ops {
            let expanded = match op {
                Op::Twist(v) | Op::Aclexec(v) | Op::Spawn(v) | Op::Setenv(v) => v.as_slice(),
                _ => &[],
            };
            if !self.expand(expanded) {
                return RuleEnd::Jump(How::Exit, false);
            }
            match op {
                Op::Allow => return RuleEnd::Jump(How::AllowOption, true),
                Op::Deny => return RuleEnd::Jump(How::DenyOption, false),
                Op::Twist(_) => return RuleEnd::Jump(How::Twist, false),
                Op::Aclexec(cmd) => {
                    let ok = match self.env.aclexec {
                        Some(known) => known(cmd),
                        None => match aclexec_known(self.env.root, cmd) {
                            Some(ok) => ok,
                            None => self.ask(Pred::AclexecSucceeds(cmd.as_slice().into())),
                        },
                    };
                    // Each aclexec sets the flag afresh: a later success clears it.
                    self.aclexec_failed = !ok;
                }
                Op::Spawn(_) | Op::Setenv(_) | Op::Other => {}
            }
        }
        if let Some(e) = opts.error {
            return RuleEnd::Jump(How::OptionError(e), false);
        }
        if self.aclexec_failed {
            return RuleEnd::Void;
        }
        RuleEnd::Match
    }

    /// list_match(): `a b EXCEPT c EXCEPT d` is `(a or b) and not (c and not d)`.
    pub(super) fn match_list<'t>(
        &mut self,
        toks: &mut impl Iterator<Item = &'t [u8]>,
        f: fn(&mut Self, &[u8]) -> bool,
    ) -> bool {
        while let Some(tok) = toks.next() {
            if eq_nocase(tok, b"EXCEPT") {
                return false;
            }
            if f(self, tok) {
                loop {
                    match toks.next() {
                        None => return true,
                        Some(t) if eq_nocase(t, b"EXCEPT") => break,
                        Some(_) => {}
                    }
                }
                return !self.match_list(toks, f);
            }
        }
        false
    }

    pub(super) fn server_match(&mut self, tok: &[u8]) -> bool {
        let (daemon, host) = match syntax::split_at(tok, 1, b'@') {
            Some(i) => (&tok[..i], Some(&tok[i + 1..])),
            None => (tok, None),
        };
        let daemon_ok =
            match pattern::port_token(daemon).filter(|_| self.env.flavor == Flavor::Debian) {
                Some(port) => match self.env.mode {
                    Mode::HostsCtl => false,
                    Mode::Daemon => self.ask(Pred::ServerPort(port)),
                },
                None => pattern::string_match(daemon, &self.req.daemon, self.env.flavor),
            };
        match host {
            Some(host) if daemon_ok => self.server_host_match(host),
            _ => daemon_ok,
        }
    }

    /// host_match() against the server endpoint.
    pub(super) fn server_host(&mut self, host: &[u8]) -> bool {
        self.server_host_match(host)
    }

    fn server_host_match(&mut self, host: &[u8]) -> bool {
        match self.env.mode {
            // hosts_ctl(): the server's address and name are both "unknown".
            Mode::HostsCtl => self.host_match(host, UNKNOWN, Some(UNKNOWN)),
            Mode::Daemon if eq_nocase(host, b"ALL") => true,
            // Each word of a `/file` is a question of its own (and a file that includes
            // itself crashes libwrap unless a word before matches).
            Mode::Daemon if host.first() == Some(&b'/') => {
                self.file_words(host, &mut |run, word| run.server_host_match(word))
            }
            // After `%H`/`%N` the server's name may read otherwise for a pattern that
            // tells the sanitised name apart: a question of its own.
            Mode::Daemon
                if self.req.server_rewritten
                    && (host.first() == Some(&b'@')
                        || after_sanitize(host) != AfterSanitize::Same) =>
            {
                self.ask(Pred::SanitizedServerHost(host.into()))
            }
            Mode::Daemon => self.ask(Pred::ServerHost(host.into())),
        }
    }

    pub(super) fn client_match(&mut self, tok: &[u8]) -> bool {
        // Cheap copies (borrowed unless an expansion rewrote them) so matching can use self.
        let (addr, name) = (self.req.addr.clone(), self.req.name.clone());
        match syntax::split_at(tok, 1, b'@') {
            None => self.host_match(tok, &addr, name.as_deref()),
            Some(i) => {
                self.host_match(&tok[i + 1..], &addr, name.as_deref())
                    && pattern::string_match(&tok[..i], &self.req.user, self.env.flavor)
            }
        }
    }

    /// `percent_x()` on an option value: false if the result would not fit (libwrap then
    /// exits the process). The request's own strings are sanitised in place.
    fn expand(&mut self, value: &[u8]) -> bool {
        let (lo, hi) = expansion_len(value, &self.req, self.env.mode);
        let fits = if hi < EXPANSION_LIMIT {
            true
        } else if lo >= EXPANSION_LIMIT {
            false
        } else {
            self.ask(Pred::ExpansionFits(value.into()))
        };
        self.req.expand_in_place(value, self.env.mode);
        fits
    }

    /// `string_match(tok, name)` for a name we do not know, as libwrap reads it now.
    fn name_matches(&mut self, tok: &[u8]) -> bool {
        if !self.req.name_rewritten {
            return self.ask(Pred::NameMatches(tok.into()));
        }
        match after_sanitize(tok) {
            AfterSanitize::Same => self.ask(Pred::NameMatches(tok.into())),
            AfterSanitize::Never => false,
            AfterSanitize::Differs => self.ask(Pred::SanitizedNameMatches(tok.into())),
        }
    }

    /// host_match() for the client: `name` None means the name is unknown to us.
    fn host_match(&mut self, tok: &[u8], addr: &[u8], name: Option<&[u8]>) -> bool {
        let known = |n: &[u8]| !eq_nocase(n, UNKNOWN) && !eq_nocase(n, PARANOID);
        if tok.first() == Some(&b'@') {
            // innetgr() is asked with the name (looked up for it).
            self.req.looked_up = true;
            return match self.env.mode {
                Mode::HostsCtl => false,
                Mode::Daemon if self.req.name_rewritten => {
                    self.ask(Pred::SanitizedNetgroup(tok[1..].into()))
                }
                Mode::Daemon => self.ask(Pred::Netgroup(tok[1..].into())),
            };
        }
        if tok.first() == Some(&b'/') {
            return self.file_match(tok, addr, name);
        }
        // KNOWN and LOCAL read the same of a sanitised name: `unknown`, `paranoid` and dots
        // are kept.
        if eq_nocase(tok, b"KNOWN") {
            self.req.looked_up = true;
            return !eq_nocase(addr, UNKNOWN)
                && match name {
                    Some(n) => known(n),
                    None => self.ask(Pred::NameKnown),
                };
        }
        if eq_nocase(tok, b"LOCAL") {
            self.req.looked_up = true;
            return match name {
                Some(n) => !n.contains(&b'.') && known(n),
                None => self.ask(Pred::NameLocal),
            };
        }
        if self.env.flavor == Flavor::Rhel7 && tok.first() == Some(&b'[') {
            return pattern::rhel7_bracket_match(tok, addr);
        }
        if let Some(slash) = syntax::split_at(tok, 0, b'/') {
            return pattern::masked_match(&tok[..slash], &tok[slash + 1..], addr, self.env.flavor);
        }
        if pattern::string_match(tok, addr, self.env.flavor) {
            return true;
        }
        // Digits-and-dots tokens are never compared with names.
        if !pattern::not_inaddr(tok) {
            return false;
        }
        self.req.looked_up = true;
        match name {
            Some(n) => pattern::string_match(tok, n, self.env.flavor),
            // A `[v6]` token could only match a name that is an IPv6 literal, and a verified
            // host name never is one (libwrap turns a numeric reverse name into "paranoid").
            None if tok.first() == Some(&b'[') && tok.last() == Some(&b']') => false,
            None => self.name_matches(tok),
        }
    }

    /// hostfile_match(): whitespace-separated words, each a host pattern; first match wins.
    fn file_match(&mut self, path: &[u8], addr: &[u8], name: Option<&[u8]>) -> bool {
        self.file_words(path, &mut |run, word| run.host_match(word, addr, name))
    }

    /// Is `f` true of a word of the file (whitespace-separated, first match wins)?
    fn file_words(&mut self, path: &[u8], f: &mut dyn FnMut(&mut Self, &[u8]) -> bool) -> bool {
        if self.file_depth >= MAX_FILE_DEPTH {
            self.crashed = true;
            return false;
        }
        let Some(content) = self.files.get(self.env.root, path) else {
            return false;
        };
        self.file_depth += 1;
        let mut matched = false;
        for word in content.split(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)) {
            if word.is_empty() {
                continue;
            }
            // The word is a C string: a NUL ends it.
            let word = &word[..memchr::memchr(0, word).unwrap_or(word.len())];
            if f(self, word) {
                matched = true;
                break;
            }
            if self.crashed {
                break;
            }
        }
        self.file_depth -= 1;
        matched
    }
}

/// The exit status of an aclexec command when it is certain whatever the system does:
/// libwrap runs it with `/bin/sh -c`, so the shell's `true`/`false`/`:` and a program that
/// does not exist under the root (status 127) need no guess. `None`: only running it tells.
pub(super) fn aclexec_known(root: &Root, cmd: &[u8]) -> Option<bool> {
    // Only a plain command and plain words: anything the shell would interpret (pipes,
    // `||`, `$(...)`, quotes, redirections) could change the status.
    if cmd
        .iter()
        .any(|&b| !(b.is_ascii_alphanumeric() || b" \t_./%=+-:,@".contains(&b)))
    {
        return None;
    }
    let word = cmd
        .split(|b| *b == b' ' || *b == b'\t')
        .find(|w| !w.is_empty())?;
    match word {
        b"true" | b":" => return Some(true),
        b"false" => return Some(false),
        _ => {}
    }
    if word.first() != Some(&b'/') {
        return None;
    }
    let path = std::str::from_utf8(word).ok()?;
    match root.resolve(path).and_then(std::fs::metadata) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Some(false),
        Ok(meta) if meta.is_file() => match word {
            b"/bin/true" | b"/usr/bin/true" => Some(true),
            b"/bin/false" | b"/usr/bin/false" => Some(false),
            _ => None,
        },
        _ => None,
    }
}
