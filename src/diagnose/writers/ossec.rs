//! OSSEC / Wazuh `host-deny` active response: who adds and removes its ban lines.

use super::*;

pub(super) const OSSEC_CONF: &str = "/var/ossec/etc/ossec.conf";

pub(super) fn ossec(root: &Root) -> Option<Finding> {
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
pub(super) fn blank_xml_comments(text: &str) -> String {
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
pub(super) fn active_host_deny(xml: &str) -> Option<usize> {
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
