//! Tools that write hosts.allow / hosts.deny and would undo a fix (`writer` findings, docs/json.md).
//!
//! A repair that holds until the next ban, restart or configuration run is no repair. Each
//! finding names the tool, the file that shows it is active, and the step that stops it from
//! locking the admin out again (docs/write-protocol.md, "Other programs that write the tables"):
//! - fail2ban with the `hostsdeny` action re-adds bans from its database on restart:
//!   `ignoreip`;
//! - DenyHosts keeps its own state in WORK_DIR: clean it and use `allowed-hosts`;
//! - sshguard's hosts backend puts its block back at the top of hosts.allow on restart:
//!   its whitelist;
//! - OSSEC/Wazuh `host-deny` and PortSentry `KILL_HOSTS_DENY`: `<white_list>`, the ignore
//!   file;
//! - a configuration-management header: the template or role, or the next run restores it.
//!
//! Only configuration is read; nothing here runs a program of the repaired system.

use std::collections::BTreeMap;

use memchr::memmem;

use crate::diagnose::detect::{Finding, Kind, Severity};
use crate::diagnose::wrapped::dir_files;
use crate::fsops::rootfs::Root;
use crate::model::syntax::escape;
use crate::model::tables::{Role, Tables};

/// Every `writer` finding for the system under `root` whose tables are `tables`.
pub fn findings(root: &Root, tables: &Tables) -> Vec<Finding> {
    let mut out = fail2ban::findings(root);
    out.extend(denyhosts(root, tables));
    out.extend(sshguard(root, tables));
    out.extend(ossec(root));
    out.extend(portsentry(root));
    out.extend(managed_headers(tables));
    out
}

/// Where a finding points: a config file of the repaired system, or a line of a table.
enum At {
    File {
        path: String,
        line: Option<u32>,
        text: Option<String>,
    },
    Table {
        role: Role,
        line: u32,
        text: Vec<u8>,
    },
}

fn writer(severity: Severity, at: At, message: String) -> Finding {
    let (role, path, line, text) = match at {
        At::File { path, line, text } => (None, Some(path), line, text.map(String::into_bytes)),
        At::Table { role, line, text } => (Some(role), None, Some(line), Some(text)),
    };
    Finding {
        kind: Kind::Writer,
        severity,
        role,
        path,
        line,
        text,
        message,
    }
}

/// A config file's text; `None` when it is missing or unreadable (then there is nothing to
/// say about the tool it configures).
fn read_text(root: &Root, path: &str) -> Option<String> {
    let bytes = root.read_optional(path).ok()??;
    Some(String::from_utf8_lossy(&bytes).into_owned())
}

fn line_number(index: usize) -> u32 {
    u32::try_from(index + 1).unwrap_or(u32::MAX)
}

/// One `KEY = value` (or `KEY: value`, `KEY="value"`) assignment of a flat config file.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Assignment {
    value: String,
    line: u32,
    raw: String,
}

/// The flat `KEY = value` files of DenyHosts, sshguard and PortSentry (shell-like): `#`
/// comments, the last assignment wins, one pair of surrounding quotes is dropped.
fn assignments(text: &str) -> BTreeMap<String, Assignment> {
    let mut out = BTreeMap::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some(pos) = line.find(['=', ':']) else {
            continue;
        };
        let key = line[..pos].trim();
        if key.is_empty() || !key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            continue;
        }
        let value = unquote(line[pos + 1..].trim());
        out.insert(
            key.to_string(),
            Assignment {
                value: value.to_string(),
                line: line_number(i),
                raw: line.to_string(),
            },
        );
    }
    out
}

fn unquote(v: &str) -> &str {
    for q in ['"', '\''] {
        if let Some(inner) = v.strip_prefix(q).and_then(|r| r.strip_suffix(q)) {
            return inner;
        }
    }
    v
}

/// The first file of `paths` that exists, with its text.
fn first_file(root: &Root, paths: &[&str]) -> Option<(String, String)> {
    paths
        .iter()
        .find_map(|p| read_text(root, p).map(|t| (p.to_string(), t)))
}

/// Does `path` (as a config file gives it) name one of the two tables? Compared as written
/// and as resolved inside the root, so a link or `//` does not hide it.
fn names_table(root: &Root, tables: &Tables, path: &str) -> Option<Role> {
    let clean = path.trim();
    [Role::Deny, Role::Allow].into_iter().find(|&role| {
        clean == role.system_path()
            || root
                .resolve(clean)
                .is_ok_and(|h| h == tables.get(role).host_path)
    })
}

/// The first line of a table that starts with `#` in column 1, contains `needle`, and for
/// which `pred` holds: (line number, text without newline). Every marker looked for here is
/// such a comment line; the search is for the needle (SIMD `memmem`), so a million-line ban
/// list with a `# DenyHosts:` comment above every ban is crossed at memory speed.
fn find_line(
    tables: &Tables,
    role: Role,
    needle: &[u8],
    pred: impl Fn(&[u8]) -> bool,
) -> Option<(u32, Vec<u8>)> {
    let bytes = tables.get(role).document()?.bytes();
    for at in memmem::find_iter(bytes, needle) {
        let start = memchr::memrchr(b'\n', &bytes[..at]).map_or(0, |i| i + 1);
        let end = memchr::memchr(b'\n', &bytes[at..]).map_or(bytes.len(), |e| at + e);
        let line = &bytes[start..end];
        if line.first() == Some(&b'#') && pred(line) {
            let index = memchr::memchr_iter(b'\n', &bytes[..start]).count();
            return Some((
                line_number(index),
                line.strip_suffix(b"\r").unwrap_or(line).to_vec(),
            ));
        }
    }
    None
}

// ---------------------------------------------------------------------------------------
// DenyHosts

const DENYHOSTS_CONF: [&str; 2] = ["/etc/denyhosts.conf", "/etc/denyhosts/denyhosts.conf"];
/// WORK_DIR of Debian's package and of upstream's sample config.
const DENYHOSTS_WORK_DIR: &str = "/var/lib/denyhosts";
const DENYHOSTS_STATE: &str = "hosts, hosts-restricted, hosts-root, hosts-valid and users-hosts";

fn denyhosts(root: &Root, tables: &Tables) -> Option<Finding> {
    if let Some((path, text)) = first_file(root, &DENYHOSTS_CONF) {
        return denyhosts_conf(root, tables, path, &text);
    }
    // No config under the root, but its `PURGE_DENY` comment lines show it wrote the file.
    let (role, (line, text)) = [Role::Deny, Role::Allow].into_iter().find_map(|r| {
        find_line(tables, r, b"# DenyHosts:", |l| {
            l.starts_with(b"# DenyHosts:")
        })
        .map(|f| (r, f))
    })?;
    let table = role.system_path();
    let message = format!(
        "'# DenyHosts:' lines show that DenyHosts writes {table}, though no denyhosts.conf was found: stop denyhosts, delete your address from {table} and from {DENYHOSTS_STATE} in its WORK_DIR (usually {DENYHOSTS_WORK_DIR}), add it to WORK_DIR/allowed-hosts, then start denyhosts again."
    );
    Some(writer(
        Severity::Warning,
        At::Table { role, line, text },
        message,
    ))
}

fn denyhosts_conf(root: &Root, tables: &Tables, path: String, text: &str) -> Option<Finding> {
    let a = assignments(text);
    let get = |k: &str| a.get(k);
    let hosts_deny = get("HOSTS_DENY").map_or("/etc/hosts.deny", |s| s.value.as_str());
    // A HOSTS_DENY elsewhere is a file libwrap never reads: not a writer of the tables.
    let role = names_table(root, tables, hosts_deny)?;
    let table = role.system_path();
    let work = get("WORK_DIR")
        .map(|s| s.value.trim_end_matches('/'))
        .filter(|w| !w.is_empty())
        .unwrap_or(DENYHOSTS_WORK_DIR);
    let line_format = match get("BLOCK_SERVICE").map(|s| s.value.trim()) {
        None => "'sshd: ADDRESS'".to_string(),
        Some("") => "bare 'ADDRESS'".to_string(),
        Some(service) => format!("'{}: ADDRESS'", escape(service.as_bytes())),
    };
    let expiry = match get("PURGE_DENY").map(|s| s.value.trim()) {
        None | Some("") => ", never purges them (PURGE_DENY is empty)",
        Some(_) => "",
    };
    let message = format!(
        "DenyHosts ({path}) appends {line_format} lines to {table} and remembers every address it blocked in {work}{expiry}: stop denyhosts, delete your address from {table} and from {DENYHOSTS_STATE} in {work}, add it to {work}/allowed-hosts, then start denyhosts again.",
        work = escape(work.as_bytes()),
    );
    let origin = get("HOSTS_DENY").or(get("WORK_DIR"));
    let at = At::File {
        path,
        line: origin.map(|s| s.line),
        text: origin.map(|s| s.raw.clone()),
    };
    Some(writer(Severity::Warning, at, message))
}

// ---------------------------------------------------------------------------------------
// sshguard (hosts backend)

const SSHGUARD_CONF: [&str; 3] = [
    "/etc/sshguard/sshguard.conf",
    "/etc/sshguard.conf",
    "/usr/local/etc/sshguard.conf",
];
const SSHGUARD_MARK: &[u8] = b"###sshguard###";

fn sshguard(root: &Root, tables: &Tables) -> Option<Finding> {
    let conf = first_file(root, &SSHGUARD_CONF).map(|(p, t)| (p, assignments(&t)));
    let block = [Role::Allow, Role::Deny].into_iter().find_map(|role| {
        find_line(tables, role, SSHGUARD_MARK, |l| {
            l.trim_ascii() == SSHGUARD_MARK
        })
        .map(|(line, text)| (role, line, text))
    });
    let backend = conf.as_ref().and_then(|(p, a)| {
        let b = a.get("BACKEND")?;
        let hosts = b.value.trim_end().ends_with("sshg-fw-hosts");
        hosts.then(|| (p.clone(), b.clone()))
    });
    let whitelist = conf.as_ref().and_then(|(p, a)| {
        let w = a.get("WHITELIST_FILE")?.value.trim();
        (!w.is_empty()).then(|| format!("{} (WHITELIST_FILE in {p})", escape(w.as_bytes())))
    });
    let step = match whitelist {
        Some(file) => format!("add your address to its whitelist {file} and restart sshguard"),
        None => format!(
            "set WHITELIST_FILE in {} to a file holding your address (or start sshguard with -w ADDRESS) and restart sshguard",
            conf.as_ref().map_or(SSHGUARD_CONF[0], |(p, _)| p.as_str())
        ),
    };
    let (at, table) = match (block, backend) {
        (Some((role, line, text)), _) => (At::Table { role, line, text }, role.system_path()),
        (None, Some((path, b))) => (
            At::File {
                path,
                line: Some(b.line),
                text: Some(b.raw),
            },
            Role::Allow.system_path(),
        ),
        (None, None) => return None,
    };
    let message = format!(
        "sshguard's hosts backend keeps a block of ': DENY' rules between {mark} lines at the top of {table} and puts it back there, above any allow rule, whenever it restarts: {step}.",
        mark = "###sshguard###",
    );
    Some(writer(Severity::Warning, at, message))
}

// ---------------------------------------------------------------------------------------
// OSSEC / Wazuh `host-deny` active response

const OSSEC_CONF: &str = "/var/ossec/etc/ossec.conf";

fn ossec(root: &Root) -> Option<Finding> {
    let text = read_text(root, OSSEC_CONF)?;
    let xml = blank_xml_comments(&text);
    let at = active_host_deny(&xml)?;
    let line = line_number(xml[..at].matches('\n').count());
    let raw = text
        .lines()
        .nth(line as usize - 1)
        .unwrap_or_default()
        .trim();
    let message = format!(
        "OSSEC/Wazuh's host-deny active response ({OSSEC_CONF}) appends 'ALL:ADDRESS' lines to /etc/hosts.deny when an alert fires: add <white_list>your address</white_list> to the <global> section of ossec.conf on the manager and restart it."
    );
    let at = At::File {
        path: OSSEC_CONF.into(),
        line: Some(line),
        text: Some(raw.to_string()),
    };
    Some(writer(Severity::Warning, at, message))
}

/// `<!-- … -->` replaced by spaces, newlines kept, so offsets and line numbers still hold.
fn blank_xml_comments(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("<!--") {
        out.push_str(&rest[..start]);
        let body = start + "<!--".len();
        let end = rest[body..]
            .find("-->")
            .map_or(rest.len(), |e| body + e + 3);
        out.extend(
            rest[start..end]
                .chars()
                .map(|c| if c == '\n' { '\n' } else { ' ' }),
        );
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

/// The byte offset of `<command>host-deny</command>` in an `<active-response>` block that is
/// not `<disabled>yes</disabled>`.
fn active_host_deny(xml: &str) -> Option<usize> {
    let mut from = 0;
    while let Some(open) = xml[from..].find("<active-response>").map(|i| from + i) {
        let close = xml[open..]
            .find("</active-response>")
            .map_or(xml.len(), |i| open + i);
        let block = &xml[open..close];
        let compact: String = block.chars().filter(|c| !c.is_whitespace()).collect();
        if compact.contains("<command>host-deny</command>")
            && !compact.contains("<disabled>yes</disabled>")
        {
            return Some(open + block.find("host-deny").unwrap_or(0));
        }
        from = close;
        if from >= xml.len() {
            break;
        }
    }
    None
}

// ---------------------------------------------------------------------------------------
// PortSentry `KILL_HOSTS_DENY`

const PORTSENTRY_CONF: [&str; 2] = [
    "/etc/portsentry/portsentry.conf",
    "/usr/local/etc/portsentry.conf",
];

fn portsentry(root: &Root) -> Option<Finding> {
    let (path, text) = first_file(root, &PORTSENTRY_CONF)?;
    let a = assignments(&text);
    let kill = a
        .get("KILL_HOSTS_DENY")
        .filter(|k| !k.value.trim().is_empty())?;
    let ignore = a
        .get("IGNORE_FILE")
        .map(|i| escape(i.value.trim().as_bytes()))
        .filter(|i| !i.is_empty())
        .unwrap_or_else(|| "/etc/portsentry/portsentry.ignore".into());
    let format = escape(kill.value.replace("$TARGET$", "ADDRESS").as_bytes());
    let message = format!(
        "PortSentry ({path}, KILL_HOSTS_DENY) appends '{format}' lines to /etc/hosts.deny for every address it sees scanning: add your address to {ignore} (its IGNORE_FILE; on Debian portsentry.ignore.static) and restart portsentry."
    );
    let at = At::File {
        path,
        line: Some(kill.line),
        text: Some(kill.raw.clone()),
    };
    Some(writer(Severity::Warning, at, message))
}

// ---------------------------------------------------------------------------------------
// Configuration-management headers

/// Header comments are looked for in this many first lines (templates put them on top).
const HEADER_LINES: usize = 30;

/// Who a header comment says manages the file (`None`: it says nothing of the kind).
fn manager(line: &[u8]) -> Option<&'static str> {
    let text = line.trim_ascii_start();
    // wrapfix's own marker lines say "wrapfix", never a tool that manages the file.
    if !text.starts_with(b"#") || text.starts_with(b"# wrapfix ") {
        return None;
    }
    let lower = String::from_utf8_lossy(text).to_ascii_lowercase();
    let words: Vec<&str> = lower
        .split(|c: char| !c.is_ascii_alphanumeric() && c != '_')
        .filter(|w| !w.is_empty())
        .collect();
    let has = |w: &str| words.contains(&w);
    if lower.contains("ansible managed block") {
        // blockinfile's marker: said of the block, not of the file (see `managed_header`).
        None
    } else if lower.contains("ansible managed") || has("ansible_managed") || has("ansible") {
        Some("Ansible")
    } else if has("puppet") {
        Some("Puppet")
    } else if has("chef") {
        Some("Chef")
    } else if has("salt") || has("saltstack") {
        Some("Salt")
    } else if has("cfengine") {
        Some("CFEngine")
    } else if lower.contains("this file is managed by")
        || lower.contains("do not edit")
        || lower.contains("generated by")
        || lower.contains("automatically generated")
    {
        Some("")
    } else {
        None
    }
}

fn managed_headers(tables: &Tables) -> Vec<Finding> {
    [Role::Allow, Role::Deny]
        .into_iter()
        .filter_map(|role| managed_header(tables, role))
        .collect()
}

fn managed_header(tables: &Tables, role: Role) -> Option<Finding> {
    let doc = tables.get(role).document()?;
    let block: Vec<u8>;
    let table = role.system_path();
    let header = doc
        .bytes()
        .split(|&b| b == b'\n')
        .take(HEADER_LINES)
        .enumerate()
        .find_map(|(i, l)| manager(l).map(|m| (i, l, m)));
    let (line, text, message) = match header {
        Some((i, l, "")) => (
            line_number(i),
            l,
            format!(
                "{table} says it is generated or managed by a tool: change the template or tool that writes it as well, or its next run puts the lockout back."
            ),
        ),
        Some((i, l, tool)) => (
            line_number(i),
            l,
            format!(
                "{table} says it is managed by {tool}: change the {tool} template or role that writes it as well, or the next {tool} run puts the lockout back."
            ),
        ),
        None => {
            // blockinfile's marker comments can sit anywhere in the file.
            let (line, text) = find_line(tables, role, b"ANSIBLE MANAGED BLOCK", |_| true)?;
            block = text;
            (
                line,
                &block[..],
                format!(
                    "Part of {table} is an Ansible-managed block (blockinfile): change the playbook that writes it as well, or the next Ansible run puts the lockout back."
                ),
            )
        }
    };
    let text = text.strip_suffix(b"\r").unwrap_or(text).to_vec();
    Some(writer(
        Severity::Info,
        At::Table { role, line, text },
        message,
    ))
}

// ---------------------------------------------------------------------------------------
// fail2ban `hostsdeny`

mod fail2ban {
    //! fail2ban's jail configuration, read the way its ConfigReader does: jail.conf,
    //! jail.d/*.conf, jail.local, jail.d/*.local (later files override per key), `[DEFAULT]`
    //! for keys a jail does not set, and `%(name)s` interpolation looked up in the jail.

    use std::collections::BTreeMap;

    use super::{At, Severity, dir_files, escape, line_number, read_text, writer};
    use crate::diagnose::detect::Finding;
    use crate::fsops::rootfs::Root;

    const DIR: &str = "/etc/fail2ban";
    const DEFAULT: &str = "DEFAULT";
    /// Python's configparser stops interpolating at this depth.
    const MAX_DEPTH: usize = 10;
    /// Expansion stops past this size or this many references: `%(a)s%(a)s` chains grow
    /// exponentially, and a hostile file must not stall the report.
    const MAX_EXPANDED: usize = 64 << 10;
    const MAX_REFERENCES: usize = 1024;

    /// One assignment, with where it was made.
    #[derive(Debug, Clone)]
    struct Setting {
        value: String,
        file: String,
        line: u32,
        raw: String,
    }

    /// section → key → every assignment in reading order (the last one is in force).
    #[derive(Debug, Default)]
    struct Ini {
        sections: BTreeMap<String, BTreeMap<String, Vec<Setting>>>,
    }

    /// The files fail2ban reads for its jails, in its order.
    fn files(root: &Root) -> Vec<String> {
        let d = format!("{DIR}/jail.d");
        let in_d = |ext: &str| -> Vec<String> {
            dir_files(root, &d)
                .into_iter()
                .filter(|f| f.ends_with(ext))
                .collect()
        };
        let mut out = vec![format!("{DIR}/jail.conf")];
        out.extend(in_d(".conf"));
        out.push(format!("{DIR}/jail.local"));
        out.extend(in_d(".local"));
        out
    }

    pub(super) fn findings(root: &Root) -> Vec<Finding> {
        let mut ini = Ini::default();
        for f in files(root) {
            if let Some(text) = read_text(root, &f) {
                ini.read(&f, &text);
            }
        }
        // Jails sharing the setting that chose hostsdeny make one finding.
        let mut by_origin: BTreeMap<(String, u32), (Setting, Vec<String>, String)> =
            BTreeMap::new();
        for jail in ini.jails() {
            if let Some((origin, target)) = hostsdeny(root, &ini, jail) {
                let key = (origin.file.clone(), origin.line);
                let entry = by_origin
                    .entry(key)
                    .or_insert_with(|| (origin, Vec::new(), target));
                entry.1.push(jail.to_string());
            }
        }
        by_origin
            .into_values()
            .map(|(origin, jails, target)| finding(origin, &jails, &target))
            .collect()
    }

    fn finding(origin: Setting, jails: &[String], target: &str) -> Finding {
        let names: Vec<String> = jails.iter().map(|j| escape(j.as_bytes())).collect();
        let (jails, bans) = match names.as_slice() {
            [one] => (format!("jail {one}"), "bans"),
            [init @ .., last] => (format!("jails {} and {last}", init.join(", ")), "ban"),
            [] => ("a jail".to_string(), "bans"),
        };
        let message = format!(
            "fail2ban {jails} {bans} with the hostsdeny action ({file} line {line}), which appends addresses to {target} and re-adds them from fail2ban's database after every restart: add your address to ignoreip in {DIR}/jail.local, then run 'fail2ban-client reload' and 'fail2ban-client unban ADDRESS'.",
            file = origin.file,
            line = origin.line,
        );
        let at = At::File {
            path: origin.file,
            line: Some(origin.line),
            text: Some(origin.raw),
        };
        writer(Severity::Warning, at, message)
    }

    /// If the enabled `jail` bans through hostsdeny: the setting that chose it and the file
    /// the action writes.
    fn hostsdeny(root: &Root, ini: &Ini, jail: &str) -> Option<(Setting, String)> {
        let enabled = ini.get(jail, "enabled")?;
        if !truthy(&ini.expand(jail, &enabled.value, &mut Trail::default())) {
            return None;
        }
        // jail.conf always sets `action`; without it (a partial copy) fail2ban's stock
        // default `%(action_)s` → `%(banaction)s[…]` is what the jail would use.
        let fallback;
        let action = match ini.get(jail, "action") {
            Some(a) => a,
            None => {
                fallback = Setting {
                    value: "%(banaction)s".into(),
                    ..ini.get(jail, "banaction")?.clone()
                };
                &fallback
            }
        };
        let mut trail = Trail::default();
        let expanded = ini.expand(jail, &action.value, &mut trail);
        let spec = split_actions(&expanded)
            .into_iter()
            .find(|spec| writes_tables(root, action_name(spec)))?;
        let name = action_name(&spec);
        // The innermost setting whose own text names the action is where it was chosen.
        let origin = trail
            .used
            .iter()
            .rev()
            .copied()
            .find(|s| s.value.contains(name))
            .unwrap_or(action)
            .clone();
        let target = param(&spec, "file").unwrap_or_else(|| "/etc/hosts.deny".into());
        Some((origin, escape(target.as_bytes())))
    }

    /// fail2ban's boolean words.
    fn truthy(v: &str) -> bool {
        matches!(
            v.trim().to_ascii_lowercase().as_str(),
            "true" | "yes" | "on" | "1"
        )
    }

    /// Actions are separated by white space or newlines outside their `[…]` options.
    fn split_actions(value: &str) -> Vec<String> {
        let mut out = Vec::new();
        let mut cur = String::new();
        let (mut depth, mut quote) = (0usize, None);
        for c in value.chars() {
            match (quote, c) {
                (Some(q), c) if c == q => quote = None,
                (Some(_), _) => {}
                (None, '"' | '\'') if depth > 0 => quote = Some(c),
                (None, '[') => depth += 1,
                (None, ']') => depth = depth.saturating_sub(1),
                (None, c) if c.is_whitespace() && depth == 0 => {
                    if !cur.is_empty() {
                        out.push(std::mem::take(&mut cur));
                    }
                    continue;
                }
                _ => {}
            }
            cur.push(c);
        }
        if !cur.is_empty() {
            out.push(cur);
        }
        out
    }

    fn action_name(spec: &str) -> &str {
        spec.split('[').next().unwrap_or(spec).trim()
    }

    /// `key=value` from an action's `[…]` options, quotes dropped.
    fn param(spec: &str, key: &str) -> Option<String> {
        let opts = spec.split_once('[')?.1;
        let opts = opts.strip_suffix(']').unwrap_or(opts);
        opts.split(',').find_map(|kv| {
            let (k, v) = kv.split_once('=')?;
            (k.trim() == key).then(|| super::unquote(v.trim()).to_string())
        })
    }

    /// Does the action called `name` write the tables: the stock `hostsdeny`, or a local
    /// action file that includes it or names a table.
    fn writes_tables(root: &Root, name: &str) -> bool {
        if name == "hostsdeny" {
            return true;
        }
        if name.is_empty() || name.contains(['/', '%', '\0']) || name.starts_with('.') {
            return false;
        }
        ["conf", "local"].iter().any(|ext| {
            read_text(root, &format!("{DIR}/action.d/{name}.{ext}")).is_some_and(|t| {
                t.lines()
                    .map(str::trim)
                    .filter(|l| !l.starts_with('#') && !l.starts_with(';'))
                    .any(|l| {
                        l.contains("hostsdeny.conf")
                            || l.contains("/etc/hosts.deny")
                            || l.contains("/etc/hosts.allow")
                    })
            })
        })
    }

    impl Ini {
        /// Add one file, as Python's configparser reads it with fail2ban's settings: `#`
        /// and `;` comment lines, `;` inline comments after white space, `=` or `:`, keys
        /// lower-cased, more-indented lines continuing a value.
        fn read(&mut self, file: &str, text: &str) {
            let mut section: Option<String> = None;
            let mut current: Option<(String, usize)> = None;
            for (i, raw) in text.lines().enumerate() {
                let line = strip_inline_comment(raw);
                let trimmed = line.trim();
                if trimmed.is_empty() || raw.trim_start().starts_with(['#', ';']) {
                    continue;
                }
                let indent = line.len() - line.trim_start().len();
                if let (Some(sec), Some((key, key_indent))) = (&section, &current)
                    && indent > *key_indent
                {
                    self.continue_value(sec, key, trimmed);
                    continue;
                }
                if let Some(name) = header(trimmed) {
                    section = Some(name.to_string());
                    current = None;
                    continue;
                }
                let (Some(sec), Some(pos)) = (&section, trimmed.find(['=', ':'])) else {
                    current = None;
                    continue;
                };
                let key = trimmed[..pos].trim().to_lowercase();
                let setting = Setting {
                    value: trimmed[pos + 1..].trim().to_string(),
                    file: file.to_string(),
                    line: line_number(i),
                    raw: trimmed.to_string(),
                };
                self.sections
                    .entry(sec.clone())
                    .or_default()
                    .entry(key.clone())
                    .or_default()
                    .push(setting);
                current = Some((key, indent));
            }
        }

        fn continue_value(&mut self, section: &str, key: &str, more: &str) {
            let last = self
                .sections
                .get_mut(section)
                .and_then(|s| s.get_mut(key))
                .and_then(|h| h.last_mut());
            if let Some(s) = last {
                s.value.push('\n');
                s.value.push_str(more);
            }
        }

        fn jails(&self) -> impl Iterator<Item = &str> {
            self.sections
                .keys()
                .map(String::as_str)
                .filter(|s| *s != DEFAULT && *s != "INCLUDES")
        }

        fn history(&self, section: &str, key: &str) -> Option<&Vec<Setting>> {
            self.sections.get(section)?.get(key)
        }

        /// The setting in force: the jail's own, else `[DEFAULT]`'s.
        fn get(&self, section: &str, key: &str) -> Option<&Setting> {
            self.history(section, key)
                .and_then(|h| h.last())
                .or_else(|| self.history(DEFAULT, key).and_then(|h| h.last()))
        }

        /// What `%(name)s` refers to inside `section` (`None`: left as written).
        fn reference(&self, section: &str, name: &str) -> Option<Ref<'_>> {
            let name = name.to_lowercase();
            if name == "__name__" {
                return Some(Ref::Name);
            }
            let setting = if let Some(key) = name.strip_prefix("default/") {
                self.history(DEFAULT, key)?.last()
            } else if let Some(key) = name.strip_prefix("known/") {
                // The value before the last override: the jail's previous one, else DEFAULT's.
                match self.history(section, key).filter(|h| h.len() > 1) {
                    Some(h) => h.get(h.len() - 2),
                    None => self.history(DEFAULT, key)?.last(),
                }
            } else {
                self.get(section, &name)
            };
            setting.map(Ref::Setting)
        }

        /// `text` with `%(name)s` and `%%` expanded inside `section`.
        fn expand<'a>(&'a self, section: &str, text: &str, trail: &mut Trail<'a>) -> String {
            let mut out = String::new();
            self.expand_into(section, text, 0, trail, &mut out);
            out
        }

        fn expand_into<'a>(
            &'a self,
            section: &str,
            text: &str,
            depth: usize,
            trail: &mut Trail<'a>,
            out: &mut String,
        ) {
            let mut rest = text;
            while let Some(i) = rest.find('%') {
                out.push_str(&rest[..i]);
                let after = &rest[i + 1..];
                if let Some(tail) = after.strip_prefix('%') {
                    out.push('%');
                    rest = tail;
                    continue;
                }
                let reference = after
                    .strip_prefix('(')
                    .and_then(|r| r.find(")s").map(|end| (&r[..end], &r[end + 2..])));
                let Some((name, tail)) = reference else {
                    out.push('%');
                    rest = after;
                    continue;
                };
                rest = tail;
                // Past the limits (a reference loop, `%(a)s%(a)s` chains), it stays as written.
                let within = depth < MAX_DEPTH
                    && trail.used.len() < MAX_REFERENCES
                    && out.len() < MAX_EXPANDED;
                match self.reference(section, name).filter(|_| within) {
                    Some(Ref::Name) => out.push_str(section),
                    Some(Ref::Setting(s)) => {
                        trail.used.push(s);
                        self.expand_into(section, &s.value, depth + 1, trail, out);
                    }
                    None => {
                        out.push_str("%(");
                        out.push_str(name);
                        out.push_str(")s");
                    }
                }
            }
            out.push_str(rest);
        }
    }

    /// A `%(name)s` target: the section's own name, or a setting.
    enum Ref<'a> {
        Name,
        Setting(&'a Setting),
    }

    /// The settings one expansion used, in order (the last holds the innermost text).
    #[derive(Default)]
    struct Trail<'a> {
        used: Vec<&'a Setting>,
    }

    /// `[name]`: the section name.
    fn header(line: &str) -> Option<&str> {
        let inner = line.strip_prefix('[')?;
        let end = inner.rfind(']')?;
        Some(inner[..end].trim())
    }

    /// Text before a `;` that follows white space (configparser's inline comments).
    fn strip_inline_comment(line: &str) -> &str {
        let b = line.as_bytes();
        (1..b.len())
            .find(|&i| b[i] == b';' && b[i - 1].is_ascii_whitespace())
            .map_or(line, |i| &line[..i])
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        fn ini(files: &[(&str, &str)]) -> Ini {
            let mut ini = Ini::default();
            for (f, t) in files {
                ini.read(f, t);
            }
            ini
        }

        #[test]
        fn continuation_lines_and_inline_comments() {
            let i = ini(&[(
                "j",
                "[sshd]\naction = iptables[name=SSH] ; comment\n   hostsdeny\n# note\n   mail\nport=ssh\n",
            )]);
            assert_eq!(
                i.get("sshd", "action").unwrap().value,
                "iptables[name=SSH]\nhostsdeny\nmail"
            );
            assert_eq!(i.get("sshd", "port").unwrap().value, "ssh");
        }

        #[test]
        fn interpolation_uses_the_jail_then_default() {
            let i = ini(&[(
                "j",
                "[DEFAULT]\nbanaction = iptables\naction_ = %(banaction)s[port=\"%(port)s\"]\naction = %(action_)s\n[sshd]\nport = ssh\nbanaction = hostsdeny\n",
            )]);
            let mut trail = Trail::default();
            let v = i.get("sshd", "action").unwrap().value.clone();
            assert_eq!(i.expand("sshd", &v, &mut trail), "hostsdeny[port=\"ssh\"]");
            assert_eq!(trail.used.last().unwrap().value, "ssh");
        }

        #[test]
        fn known_refers_to_the_overridden_value_and_loops_end() {
            let i = ini(&[
                ("a", "[sshd]\naction = iptables\n"),
                ("b", "[sshd]\naction = %(known/action)s\n  hostsdeny\n"),
                ("c", "[x]\na = %(a)s%(a)s\n"),
            ]);
            let v = i.get("sshd", "action").unwrap().value.clone();
            assert_eq!(
                i.expand("sshd", &v, &mut Trail::default()),
                "iptables\nhostsdeny"
            );
            let v = i.get("x", "a").unwrap().value.clone();
            assert!(i.expand("x", &v, &mut Trail::default()).len() <= MAX_EXPANDED + 4096);
        }

        #[test]
        fn wide_reference_trees_stop_quickly() {
            let mut text = String::from("[j]\n");
            for level in 0..12 {
                text.push_str(&format!(
                    "k{level} = {}\n",
                    format!("%(k{})s", level + 1).repeat(200)
                ));
            }
            text.push_str("name = <%(__name__)s>\n");
            let i = ini(&[("j", &text)]);
            let started = std::time::Instant::now();
            let v = i.get("j", "k0").unwrap().value.clone();
            let _ = i.expand("j", &v, &mut Trail::default());
            assert!(started.elapsed() < std::time::Duration::from_secs(2));
            let v = i.get("j", "name").unwrap().value.clone();
            assert_eq!(i.expand("j", &v, &mut Trail::default()), "<j>");
        }

        #[test]
        fn actions_split_outside_their_options() {
            assert_eq!(
                split_actions(
                    "hostsdeny[daemon_list=\"sshd, vsftpd\", file=/etc/hosts.deny] mail\n x"
                ),
                vec![
                    "hostsdeny[daemon_list=\"sshd, vsftpd\", file=/etc/hosts.deny]",
                    "mail",
                    "x"
                ]
            );
            assert_eq!(
                param(
                    "hostsdeny[daemon_list=ALL, file=\"/etc/hosts.allow\"]",
                    "file"
                )
                .as_deref(),
                Some("/etc/hosts.allow")
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assignments_take_equals_or_colon_and_quotes() {
        let a = assignments(
            "# c\nHOSTS_DENY = /etc/hosts.deny\nBLOCK_SERVICE: ALL\nBACKEND=\"/usr/libexec/sshguard/sshg-fw-hosts\"\nnot a key = x\nWORK_DIR = /a\nWORK_DIR = /b\n",
        );
        assert_eq!(a["HOSTS_DENY"].value, "/etc/hosts.deny");
        assert_eq!(a["BLOCK_SERVICE"].value, "ALL");
        assert_eq!(a["BACKEND"].value, "/usr/libexec/sshguard/sshg-fw-hosts");
        assert_eq!(a["WORK_DIR"].value, "/b");
        assert_eq!(a["WORK_DIR"].line, 7);
        assert!(!a.contains_key("not a key"));
    }

    #[test]
    fn header_comments_name_their_tool() {
        assert_eq!(manager(b"# Ansible managed"), Some("Ansible"));
        assert_eq!(
            manager(b"# This file is managed by Puppet. DO NOT EDIT."),
            Some("Puppet")
        );
        assert_eq!(manager(b"# Generated by Chef for web01"), Some("Chef"));
        assert_eq!(manager(b"# This file is managed by Salt"), Some("Salt"));
        assert_eq!(manager(b"# DO NOT EDIT: generated"), Some(""));
        assert_eq!(manager(b"# salted hashes"), None);
        assert_eq!(manager(b"sshd: puppet.example.com"), None);
        assert_eq!(manager(b"# hosts.deny"), None);
    }

    #[test]
    fn ossec_active_response_blocks() {
        let conf = "<ossec_config>\n<!-- <active-response><command>host-deny</command></active-response> -->\n<active-response>\n  <disabled>yes</disabled>\n  <command>host-deny</command>\n</active-response>\n</ossec_config>\n";
        assert_eq!(active_host_deny(&blank_xml_comments(conf)), None);
        let conf = conf.replace("<disabled>yes</disabled>", "<location>local</location>");
        let xml = blank_xml_comments(&conf);
        let at = active_host_deny(&xml).unwrap();
        assert_eq!(xml[..at].matches('\n').count() + 1, 5);
    }
}
