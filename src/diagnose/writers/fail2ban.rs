//! fail2ban's jail configuration, read the way its ConfigReader does: jail.conf,
//! jail.d/*.conf, jail.local, jail.d/*.local (later files override per key), `[DEFAULT]`
//! for keys a jail does not set, and `%(name)s` interpolation looked up in the jail.

use std::collections::BTreeMap;

use super::{At, Severity, dir_files, escape, line_number, read_text, writer};
use crate::diagnose::detect::Finding;
use crate::rootfs::Root;

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
    let mut by_origin: BTreeMap<(String, u32), (Setting, Vec<String>, String)> = BTreeMap::new();
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
            let within =
                depth < MAX_DEPTH && trail.used.len() < MAX_REFERENCES && out.len() < MAX_EXPANDED;
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
            split_actions("hostsdeny[daemon_list=\"sshd, vsftpd\", file=/etc/hosts.deny] mail\n x"),
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
