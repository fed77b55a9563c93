//! DenyHosts: its ban lines, its own configuration, and the advice for an admin it banned.

use super::*;

pub(super) const DENYHOSTS_CONF: [&str; 2] =
    ["/etc/denyhosts.conf", "/etc/denyhosts/denyhosts.conf"];
/// WORK_DIR of Debian's package and of upstream's sample config.
pub(super) const DENYHOSTS_WORK_DIR: &str = "/var/lib/denyhosts";
pub(super) const DENYHOSTS_STATE: &str =
    "hosts, hosts-restricted, hosts-root, hosts-valid and users-hosts";

pub(super) fn denyhosts(root: &Root, tables: &Tables) -> Option<Finding> {
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

pub(super) fn denyhosts_conf(
    root: &Root,
    tables: &Tables,
    path: String,
    text: &str,
) -> Option<Finding> {
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

pub(super) const SSHGUARD_CONF: [&str; 3] = [
    "/etc/sshguard/sshguard.conf",
    "/etc/sshguard.conf",
    "/usr/local/etc/sshguard.conf",
];
pub(super) const SSHGUARD_MARK: &[u8] = b"###sshguard###";

pub(super) fn sshguard(root: &Root, tables: &Tables) -> Option<Finding> {
    let conf = first_file(root, &SSHGUARD_CONF).map(|(p, t)| (p, assignments(&t)));
    let block = Role::BOTH.into_iter().find_map(|role| {
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
