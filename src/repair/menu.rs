//! Who should get in, when the command line does not say (an interactive repair without
//! `--client`): the admin's own SSH connection, the clients the logs show refused, a typed
//! address, or no single client (comment out what refuses everyone).
//!
//! The most recently refused client is often an attacker, so it is never the default, and a
//! client that a ban line names (DenyHosts, fail2ban, sshguard wrote it on purpose) says so.

use crate::config::{ClientSource, Config};
use crate::diagnose::logs::Refused;
use crate::model::client::Client;
use crate::model::flavor::Flavor;
use crate::model::syntax::{self, Entry, escape};
use crate::model::tables::{Role, Tables};
use crate::repair::prompt;

/// What the admin chose.
pub enum Choice {
    Client(Client),
    /// No single client: comment out the refusing rules.
    Comment,
    /// Ctrl-D (or an error): change nothing.
    Cancel,
}

/// Most refused clients from the logs offered.
const MENU_REFUSED: usize = 8;

/// Ask who should get in (on the terminal; the report was shown before).
pub fn choose(config: &Config, tables: &Tables, refused: &[Refused]) -> Choice {
    let flavor = config.flavor.flavor;
    let mut items: Vec<String> = Vec::new();
    let mut clients: Vec<Client> = Vec::new();
    if let (ClientSource::SshConnection, Some(c)) = (config.client_source, config.clients.first()) {
        items.push(format!("{} (your SSH connection)", c.addr));
        clients.push(c.clone());
    }
    let mut offered: Vec<(Client, String)> = Vec::new();
    for r in refused.iter().filter(|r| r.addr != "unknown") {
        if offered.len() == MENU_REFUSED {
            break;
        }
        let addr = r.ipv4.as_deref().unwrap_or(&r.addr);
        let Ok(c) = Client::parse(addr, flavor) else {
            continue;
        };
        if clients.contains(&c) || offered.iter().any(|(o, _)| *o == c) {
            continue;
        }
        let last = r
            .last
            .as_deref()
            .map(|t| format!(", last {}", escape(t.as_bytes())))
            .unwrap_or_default();
        let times = if r.count == 1 {
            "once".to_string()
        } else {
            format!("{} times", r.count)
        };
        let what = format!(
            "{} ({} refused it {times}{last})",
            c.addr,
            escape(r.daemon.as_bytes())
        );
        offered.push((c, what));
    }
    let banned = ban_lines(tables, flavor, offered.iter().map(|(c, _)| c));
    for ((c, what), ban) in offered.into_iter().zip(banned) {
        items.push(match ban {
            Some(at) => format!("{what} BANNED on purpose by {at}"),
            None => what,
        });
        clients.push(c);
    }
    let typed = items.len();
    items.push("Type an address".into());
    items.push(
        "No single client: comment out the rules that refuse everyone (opens the daemon to every client)"
            .into(),
    );
    // The admin's own connection if known; else typing one. Never a client from the logs.
    let default = if config.client_source == ClientSource::SshConnection && !clients.is_empty() {
        0
    } else {
        typed
    };
    let Some(i) = prompt::choose("Who should get in?", &items, default) else {
        return Choice::Cancel;
    };
    if i < typed {
        return Choice::Client(clients.swap_remove(i));
    }
    if i > typed {
        return Choice::Comment;
    }
    // A typo asks again; Ctrl-D cancels.
    loop {
        let Some(line) = prompt::read_line("Client ([USER@]ADDRESS[=NAME], Ctrl-D: cancel): ")
        else {
            return Choice::Cancel;
        };
        match Client::parse(&line, flavor) {
            Ok(c) => return Choice::Client(c),
            Err(e) => {
                // Broken between words like the menu; the typed text shown, not obeyed.
                let width = terminal_size::terminal_size_of(std::io::stderr())
                    .map(|(w, _)| usize::from(w.0));
                let text = crate::report::term::escape(&format!("{e}; try again")).into_owned();
                let line = crate::report::wrap(&text, width, "", "  ");
                let _ = std::io::Write::write_all(&mut std::io::stderr(), line.as_bytes());
            }
        }
    }
}

/// For each client, the first ban line that names its address (`/etc/hosts.deny:5`): a
/// hosts.deny rule, or a hosts.allow rule ending in a `deny` option (sshguard's block),
/// whose client list has the address itself as an item.
fn ban_lines<'c>(
    tables: &Tables,
    flavor: Flavor,
    clients: impl Iterator<Item = &'c Client>,
) -> Vec<Option<String>> {
    let wanted: Vec<Vec<u8>> = clients
        .map(|c| c.addr.to_ascii_lowercase().into_bytes())
        .collect();
    let mut found: Vec<Option<String>> = vec![None; wanted.len()];
    for role in Role::BOTH {
        let Some(doc) = tables.get(role).document() else {
            continue;
        };
        for entry in doc.entries(flavor) {
            let Entry::Rule(rule) = entry else { continue };
            let denies = role == Role::Deny
                || rule
                    .options_field()
                    .map(|o| o.trim_ascii().to_ascii_lowercase())
                    .is_some_and(|o| o.ends_with(b"deny"));
            if !denies {
                continue;
            }
            for tok in syntax::tokens(rule.client_list()) {
                let tok = tok.to_ascii_lowercase();
                let bare = tok
                    .strip_prefix(b"[")
                    .and_then(|t| t.strip_suffix(b"]"))
                    .unwrap_or(&tok);
                for (i, w) in wanted.iter().enumerate() {
                    if found[i].is_none() && bare == w.as_slice() {
                        found[i] = Some(format!("{}:{}", role.system_path(), rule.logical.line));
                    }
                }
            }
            if found.iter().all(Option::is_some) {
                return found;
            }
        }
    }
    found
}
