//! The clients the tables name, which the full verification evaluates one by one.

use super::*;

/// Clients the tables name: literal addresses, the network address of each net/mask,
/// `[v6]` addresses, and literal host names (with a stand-in address). At most `limit`;
/// the flag says whether there were more.
pub fn mentioned(tables: &Tables, flavor: Flavor, limit: usize) -> (Vec<Client>, bool) {
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for file in tables.both() {
        let Some(doc) = file.document() else { continue };
        for entry in doc.entries(flavor) {
            let Entry::Rule(rule) = entry else { continue };
            for tok in syntax::tokens(rule.client_list()) {
                let host = syntax::split_at(tok, 1, b'@').map_or(tok, |i| &tok[i + 1..]);
                let Some(c) = client_of(host, flavor) else {
                    continue;
                };
                if seen.insert((c.addr.clone(), c.name.clone())) {
                    if out.len() == limit {
                        return (out, true);
                    }
                    out.push(c);
                }
            }
        }
    }
    (out, false)
}

pub(super) fn client_of(tok: &[u8], flavor: Flavor) -> Option<Client> {
    let text = std::str::from_utf8(tok).ok()?;
    let net = text.split('/').next().unwrap_or(text);
    let inner = net
        .strip_prefix('[')
        .and_then(|s| s.strip_suffix(']'))
        .unwrap_or(net);
    if let Ok(ip) = inner.parse::<std::net::IpAddr>() {
        return Some(Client {
            addr: crate::model::client::libwrap_text(ip, flavor),
            name: None,
            user: None,
        });
    }
    let special = ["ALL", "KNOWN", "UNKNOWN", "LOCAL", "PARANOID", "EXCEPT"];
    let is_name = pattern::not_inaddr(tok)
        && !special.iter().any(|s| s.eq_ignore_ascii_case(text))
        && !text.starts_with(['.', '/', '@', '['])
        && !text.ends_with('.')
        && !text.contains(['*', '?', '/', ':']);
    is_name.then(|| Client {
        addr: "192.0.2.1".into(),
        name: Some(text.to_ascii_lowercase()),
        user: None,
    })
}
