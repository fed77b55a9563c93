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
use crate::model::syntax::escape;
use crate::model::tables::{Role, Tables};
use crate::rootfs::Root;

mod denyhosts;
mod fail2ban;
mod headers;
mod ossec;
mod portsentry;

use denyhosts::*;
use headers::*;
use ossec::*;
use portsentry::*;

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

#[cfg(test)]
mod tests;
