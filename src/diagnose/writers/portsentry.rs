//! PortSentry `KILL_HOSTS_DENY`: the ban lines it writes.

use super::*;

pub(super) const PORTSENTRY_CONF: [&str; 2] = [
    "/etc/portsentry/portsentry.conf",
    "/usr/local/etc/portsentry.conf",
];

pub(super) fn portsentry(root: &Root) -> Option<Finding> {
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
