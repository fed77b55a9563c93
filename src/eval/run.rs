//! One run of libwrap's `hosts_access()` with fixed answers to the unknowns: the tables,
//! the lists, the daemon, client and host patterns, the options (semantics.md §1–§6).

use std::borrow::Cow;
use std::collections::HashMap;
use std::path::PathBuf;
use std::rc::Rc;

use super::{
    Assumption, Candidates, Decision, Env, How, Mode, Pred, RuleLoc, RuleRef, TableProblem,
};
use crate::client::Client;
use crate::flavor::Flavor;
use crate::options::{self, Op};
use crate::pattern::{self, PARANOID, UNKNOWN, eq_nocase};
use crate::rootfs::Root;
use crate::syntax::{self, Entry};
use crate::tables::{FileState, Role, TableFile, Tables};

/// `/file` patterns nested deeper than this are treated as the crash they cause in libwrap.
const MAX_FILE_DEPTH: usize = 64;

/// Contents of `/file` pattern files, read once per verdict.
#[derive(Default)]
pub(super) struct FileCache {
    files: HashMap<Vec<u8>, Option<Rc<Vec<u8>>>>,
}

impl FileCache {
    fn get(&mut self, root: &Root, path: &[u8]) -> Option<Rc<Vec<u8>>> {
        self.files
            .entry(path.to_vec())
            .or_insert_with(|| {
                let p = String::from_utf8_lossy(path);
                let host: PathBuf = root.resolve(&p).ok()?;
                std::fs::read(host).ok().map(Rc::new)
            })
            .clone()
    }
}

/// How a table ended for this request.
enum TableEnd {
    Match(RuleRef),
    NoMatch,
    Void(RuleRef),
    Jump(How, bool, RuleRef),
    Error(TableProblem),
    Hang(RuleRef),
    Crash(RuleRef),
}

/// libwrap keeps each request string in a 128-byte field: 127 bytes of text.
const FIELD: usize = 127;

/// The request's strings as libwrap holds them: truncated to their fields, and rewritten in
/// place when an option's `%` expansion sanitizes them.
#[derive(Clone)]
struct Request<'r> {
    daemon: Cow<'r, [u8]>,
    addr: Cow<'r, [u8]>,
    /// `None`: the name is unknown to us (every possibility counts).
    name: Option<Cow<'r, [u8]>>,
    user: Cow<'r, [u8]>,
}

fn field(s: &[u8]) -> Cow<'_, [u8]> {
    Cow::Borrowed(&s[..s.len().min(FIELD)])
}

/// Bytes `percent_x()` keeps in an expansion; any other byte becomes `_`.
fn expansion_ok(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!@%-_=+:,./".contains(&b)
}

fn sanitize(s: &mut Cow<'_, [u8]>) {
    if s.iter().any(|&b| !expansion_ok(b)) {
        *s = Cow::Owned(
            s.iter()
                .map(|&b| if expansion_ok(b) { b } else { b'_' })
                .collect(),
        );
    }
}

/// `percent_x()` writes into an 8192-byte buffer and exits the process at 8191 bytes.
const EXPANSION_LIMIT: usize = 8191;

/// One run of libwrap with fixed answers to the unknowns.
pub(super) struct Run<'r, 'e> {
    env: &'r Env<'e>,
    req: Request<'r>,
    pub(super) script: Vec<bool>,
    next: usize,
    answers: HashMap<Pred, bool>,
    pub(super) trail: Vec<Assumption>,
    at: RuleLoc,
    at_pos: usize,
    files: &'r mut FileCache,
    file_depth: usize,
    pub(super) crashed: bool,
    /// Debian's global aclexec failure flag: never cleared within one request.
    aclexec_failed: bool,
    /// Probe mode: unknowns are not explored, only noted.
    pub(super) probe: bool,
    pub(super) asked: bool,
}

impl<'r, 'e> Run<'r, 'e> {
    pub(super) fn new(
        env: &'r Env<'e>,
        daemon: &'r [u8],
        client: &'r Client,
        script: &[bool],
        files: &'r mut FileCache,
    ) -> Self {
        let req = Request {
            daemon: field(daemon),
            addr: field(client.addr.as_bytes()),
            name: client.name.as_deref().map(|n| field(n.as_bytes())),
            user: field(client.user().as_bytes()),
        };
        Run {
            env,
            req,
            script: script.to_vec(),
            next: 0,
            answers: HashMap::new(),
            trail: Vec::new(),
            at: RuleLoc {
                role: Role::Allow,
                line: 0,
            },
            at_pos: 0,
            files,
            file_depth: 0,
            crashed: false,
            aclexec_failed: false,
            probe: false,
            asked: false,
        }
    }

    /// The answer to an unknown: remembered, scripted, or a new "yes".
    fn ask(&mut self, pred: Pred) -> bool {
        if self.probe {
            self.asked = true;
            return true;
        }
        if let Some(&v) = self.answers.get(&pred) {
            return v;
        }
        let v = match self.script.get(self.next) {
            Some(&v) => v,
            None => {
                self.script.push(true);
                true
            }
        };
        self.next += 1;
        self.answers.insert(pred.clone(), v);
        self.trail.push(Assumption {
            pred,
            value: v,
            at: self.at,
            pos: self.at_pos,
        });
        v
    }

    /// hosts_access(): allow table, then deny table.
    pub(super) fn top(&mut self, tables: &Tables, candidates: Option<&Candidates>) -> Decision {
        let decision = |granted, how, rule| Decision { granted, how, rule };
        match self.table(&tables.allow, candidates) {
            TableEnd::Match(r) => return decision(true, How::AllowRule, Some(r)),
            TableEnd::Jump(how, granted, r) => return decision(granted, how, Some(r)),
            TableEnd::Hang(r) => return decision(false, How::Hang, Some(r)),
            TableEnd::Crash(r) => return decision(false, How::Crash, Some(r)),
            TableEnd::NoMatch | TableEnd::Void(_) | TableEnd::Error(_) => {}
        }
        match self.table(&tables.deny, candidates) {
            TableEnd::Match(r) => decision(false, How::DenyRule, Some(r)),
            TableEnd::NoMatch => decision(true, How::NoMatch, None),
            TableEnd::Void(r) => decision(true, How::AclexecVoid, Some(r)),
            TableEnd::Jump(how, granted, r) => decision(granted, how, Some(r)),
            TableEnd::Error(p) => decision(false, How::DenyTableError(p), None),
            TableEnd::Hang(r) => decision(false, How::Hang, Some(r)),
            TableEnd::Crash(r) => decision(false, How::Crash, Some(r)),
        }
    }

    /// table_match(): the first rule whose daemon and client lists both match.
    fn table(&mut self, file: &TableFile, candidates: Option<&Candidates>) -> TableEnd {
        let doc = match &file.state {
            FileState::Missing | FileState::Directory => return TableEnd::NoMatch,
            FileState::Unreadable(e) => {
                return TableEnd::Error(TableProblem::Unreadable(e.clone()));
            }
            FileState::Present(doc) => doc,
        };
        let role = file.role;
        let flavor = self.env.flavor;
        match candidates {
            None => {
                let mut entries = doc.entries(flavor);
                let all = std::iter::from_fn(move || {
                    let (pos, _) = entries.position();
                    entries.next().map(|e| (pos, e))
                });
                self.first_match(role, all)
            }
            Some(c) => {
                let only = c[role as usize].iter().filter_map(|&(pos, line)| {
                    doc.entries_from(flavor, pos, line).next().map(|e| (pos, e))
                });
                self.first_match(role, only)
            }
        }
    }

    fn first_match<'d>(
        &mut self,
        role: Role,
        entries: impl Iterator<Item = (usize, Entry<'d>)>,
    ) -> TableEnd {
        for (pos, entry) in entries {
            self.at_pos = pos;
            let rule = match entry {
                Entry::Rule(rule) => rule,
                Entry::TableError(l, why) => {
                    self.at = RuleLoc { role, line: l.line };
                    return TableEnd::Error(TableProblem::Unterminated(why));
                }
                Entry::Hang(l) => return TableEnd::Hang(rule_ref(role, l.line, &l.text)),
                _ => continue,
            };
            self.at = RuleLoc {
                role,
                line: rule.logical.line,
            };
            let this = || rule_ref(role, rule.logical.line, rule.text());
            let mut daemons = syntax::tokens(rule.daemon_list());
            let daemon_ok = self.match_list(&mut daemons, Self::server_match);
            // A self-including `daemon@/file` crashes libwrap as a client `/file` does.
            if self.crashed {
                return TableEnd::Crash(this());
            }
            if !daemon_ok {
                continue;
            }
            let mut clients = syntax::tokens(rule.client_list());
            let matched = self.match_list(&mut clients, Self::client_match);
            if self.crashed {
                return TableEnd::Crash(this());
            }
            if !matched {
                continue;
            }
            if let Some(field) = rule.options_field() {
                let opts = options::parse(field, self.env.flavor, self.env.accounts);
                for op in &opts.ops {
                    let expanded = match op {
                        Op::Twist(v) | Op::Aclexec(v) | Op::Spawn(v) | Op::Setenv(v) => {
                            v.as_slice()
                        }
                        _ => &[],
                    };
                    if !self.expand(expanded) {
                        return TableEnd::Jump(How::Exit, false, this());
                    }
                    match op {
                        Op::Allow => return TableEnd::Jump(How::AllowOption, true, this()),
                        Op::Deny => return TableEnd::Jump(How::DenyOption, false, this()),
                        Op::Twist(_) => return TableEnd::Jump(How::Twist, false, this()),
                        Op::Aclexec(cmd) => {
                            let ok = match self.env.aclexec {
                                Some(known) => known(cmd),
                                None => self.ask(Pred::AclexecSucceeds(cmd.clone())),
                            };
                            // Each aclexec sets the flag afresh: a later success clears it.
                            self.aclexec_failed = !ok;
                        }
                        Op::Spawn(_) | Op::Setenv(_) | Op::Other => {}
                    }
                }
                if let Some(e) = opts.error {
                    return TableEnd::Jump(How::OptionError(e), false, this());
                }
                if self.aclexec_failed {
                    return TableEnd::Void(this());
                }
            }
            return TableEnd::Match(this());
        }
        TableEnd::NoMatch
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
    fn server_host_match(&mut self, host: &[u8]) -> bool {
        match self.env.mode {
            // hosts_ctl(): the server's address and name are both "unknown".
            Mode::HostsCtl => self.host_match(host, UNKNOWN, Some(UNKNOWN)),
            Mode::Daemon if eq_nocase(host, b"ALL") => true,
            Mode::Daemon => self.ask(Pred::ServerHost(host.to_vec())),
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
    /// exits the process). `%a %h %n %d %u` sanitize the request's own strings in place.
    fn expand(&mut self, value: &[u8]) -> bool {
        let server_len = UNKNOWN.len();
        let mut len = 0;
        let mut i = 0;
        while i < value.len() {
            if value[i] != b'%' || i + 1 == value.len() {
                len += 1;
                i += 1;
                continue;
            }
            let known_name = self
                .req
                .name
                .as_deref()
                .is_some_and(|n| !eq_nocase(n, UNKNOWN) && !eq_nocase(n, PARANOID));
            let hostinfo = if known_name {
                self.req.name.as_deref().unwrap_or_default()
            } else {
                &self.req.addr
            };
            len += match value[i + 1] {
                b'a' => self.req.addr.len(),
                b'h' => hostinfo.len(),
                b'n' => self.req.name.as_deref().map_or(UNKNOWN.len(), <[u8]>::len),
                b'd' => self.req.daemon.len(),
                b'u' => self.req.user.len(),
                b'c' if eq_nocase(&self.req.user, UNKNOWN) => hostinfo.len(),
                b'c' => self.req.user.len() + 1 + hostinfo.len(),
                b's' => self.req.daemon.len(),
                b'A' | b'H' | b'N' => server_len,
                b'p' => 5,
                b'%' => 1,
                _ => 0,
            };
            match value[i + 1] {
                b'a' => sanitize(&mut self.req.addr),
                b'h' if known_name => self.req.name.iter_mut().for_each(sanitize),
                b'h' => sanitize(&mut self.req.addr),
                b'n' => self.req.name.iter_mut().for_each(sanitize),
                b'd' => sanitize(&mut self.req.daemon),
                b'u' => sanitize(&mut self.req.user),
                _ => {}
            }
            i += 2;
        }
        len < EXPANSION_LIMIT
    }

    /// host_match() for the client: `name` None means the name is unknown to us.
    fn host_match(&mut self, tok: &[u8], addr: &[u8], name: Option<&[u8]>) -> bool {
        let known = |n: &[u8]| !eq_nocase(n, UNKNOWN) && !eq_nocase(n, PARANOID);
        if tok.first() == Some(&b'@') {
            return match self.env.mode {
                Mode::HostsCtl => false,
                Mode::Daemon => self.ask(Pred::Netgroup(tok[1..].to_vec())),
            };
        }
        if tok.first() == Some(&b'/') {
            return self.file_match(tok, addr, name);
        }
        if eq_nocase(tok, b"KNOWN") {
            return !eq_nocase(addr, UNKNOWN)
                && match name {
                    Some(n) => known(n),
                    None => self.ask(Pred::NameKnown),
                };
        }
        if eq_nocase(tok, b"LOCAL") {
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
        match name {
            Some(n) => pattern::string_match(tok, n, self.env.flavor),
            // A `[v6]` token could only match a name that is an IPv6 literal, and a verified
            // host name never is one (libwrap turns a numeric reverse name into "paranoid").
            None if tok.first() == Some(&b'[') && tok.last() == Some(&b']') => false,
            None => self.ask(Pred::NameMatches(tok.to_vec())),
        }
    }

    /// hostfile_match(): whitespace-separated words, each a host pattern; first match wins.
    fn file_match(&mut self, path: &[u8], addr: &[u8], name: Option<&[u8]>) -> bool {
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
            if self.host_match(word, addr, name) {
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

fn rule_ref(role: Role, line: u32, text: &[u8]) -> RuleRef {
    let text = text.strip_suffix(b"\n").unwrap_or(text);
    let text = text.strip_suffix(b"\r").unwrap_or(text);
    RuleRef {
        loc: RuleLoc { role, line },
        text: text.to_vec(),
    }
}
