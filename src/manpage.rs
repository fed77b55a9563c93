//! `man/wrapfix.8`: the clap definition (synopsis, options) plus the sections a man page
//! needs that clap does not know. A test fails when the committed page differs from this.

use std::io::{self, Write};

use clap::CommandFactory;
use roff::{Roff, bold, italic, roman};

use crate::cli::Cli;

/// Fixed so the page does not change every day (bump with a release).
const DATE: &str = "2026-11-24";

/// A section: a heading and paragraphs (each a list of inline pieces).
fn section(w: &mut dyn Write, title: &str, paragraphs: &[Vec<roff::Inline>]) -> io::Result<()> {
    let mut r = Roff::new();
    r.control("SH", [title]);
    for (i, p) in paragraphs.iter().enumerate() {
        if i > 0 {
            r.control("PP", []);
        }
        r.text(p.clone());
    }
    r.to_writer(w)
}

/// Tagged paragraphs: `.TP`, tag, text.
fn tagged(w: &mut dyn Write, title: &str, items: &[(&str, &str)]) -> io::Result<()> {
    let mut r = Roff::new();
    r.control("SH", [title]);
    for (tag, text) in items {
        r.control("TP", []);
        r.text([bold(*tag)]);
        r.text([roman(*text)]);
    }
    r.to_writer(w)
}

/// The exit statuses (README, "Exit status"). The README's table says the same, word for word (a test
/// holds both to this).
pub const EXIT_STATUS: [(&str, &str); 4] = [
    (
        "0",
        "Every client asked about is let in; or the change or rollback was applied; or there was nothing to do.",
    ),
    (
        "1",
        "Someone is locked out and nothing was changed: --check, --dry-run, the answer was no, or there was no terminal and no --yes.",
    ),
    (
        "2",
        "Bad usage or input (an invalid --client, a --root that is not a system, nothing to roll back). Nothing was changed.",
    ),
    (
        "3",
        "The change could not be made safely: a read-only file system, no permission, an I/O error, a file changed underneath in a way the plan cannot follow, another wrapfix run holding the lock, verification failed, or another program still had a replaced file open for writing (the change is made; its lines may miss the file). The message says what state each file is in.",
    ),
];

/// Options every mode takes.
const COMMON: [&str; 7] = [
    "root",
    "flavor",
    "backup_dir",
    "json",
    "color",
    "quiet",
    "verbose",
];
/// Who is let in, and how: the repair modes' options.
const CLIENTS: [&str; 3] = ["client", "clients_from", "daemon"];

/// The usage lines, one per mode (README, "Exit status"), each option with its value as clap defines
/// it: clap_mangen's own synopsis drops the values (`[--client]`).
fn synopsis(w: &mut dyn Write) -> io::Result<()> {
    let cmd = Cli::command();
    let lines: [(&[&str], Vec<&str>); 6] = [
        (
            &[],
            [&CLIENTS[..], &["strategy", "yes", "in_place"], &COMMON].concat(),
        ),
        (&["check"], [&CLIENTS[..], &COMMON].concat()),
        (
            &["dry_run"],
            [&CLIENTS[..], &["strategy"], &COMMON].concat(),
        ),
        (
            &["rollback"],
            [&["exact", "yes", "in_place"][..], &COMMON].concat(),
        ),
        (&["list_backups"], COMMON.to_vec()),
        (&["completions"], Vec::new()),
    ];
    let mut r = Roff::new();
    r.control("SH", ["SYNOPSIS"]);
    for (i, (modes, optional)) in lines.iter().enumerate() {
        if i > 0 {
            r.control("br", []);
        }
        let mut line = vec![bold("wrapfix")];
        for id in *modes {
            line.push(roman(" "));
            line.extend(usage(&cmd, id, false));
        }
        for id in optional {
            line.push(roman(" "));
            line.extend(usage(&cmd, id, true));
        }
        r.text(line);
    }
    r.to_writer(w)
}

/// One option as the synopsis shows it: `[--client SPEC]...`, `--rollback [ID]`, `[-q|--quiet]`.
fn usage(cmd: &clap::Command, id: &str, optional: bool) -> Vec<roff::Inline> {
    let Some(arg) = cmd.get_arguments().find(|a| a.get_id() == id) else {
        return vec![roman(format!("[{id}]"))];
    };
    let mut out = Vec::new();
    if optional {
        out.push(roman("["));
    }
    if let Some(short) = arg.get_short() {
        out.push(bold(format!("-{short}")));
        out.push(roman("|"));
    }
    out.push(bold(format!("--{}", arg.get_long().unwrap_or(id))));
    if arg.get_action().takes_values() {
        let possible: Vec<String> = arg
            .get_possible_values()
            .iter()
            .filter(|v| !v.is_hide_set())
            .map(|v| v.get_name().to_string())
            .collect();
        let value = if !possible.is_empty() && id != "completions" {
            possible.join("|")
        } else {
            arg.get_value_names()
                .map(|v| v.join(" "))
                .unwrap_or_else(|| id.to_uppercase())
        };
        let may_omit = arg.get_num_args().is_some_and(|n| n.min_values() == 0);
        out.push(roman(" "));
        if may_omit {
            out.push(roman("["));
        }
        out.push(italic(value));
        if may_omit {
            out.push(roman("]"));
        }
    }
    if optional {
        out.push(roman("]"));
    }
    if matches!(arg.get_action(), clap::ArgAction::Append) {
        out.push(roman("..."));
    }
    out
}

/// Render the whole page.
pub fn render(w: &mut dyn Write) -> io::Result<()> {
    let man = clap_mangen::Man::new(Cli::command())
        .title("WRAPFIX")
        .section("8")
        .date(DATE)
        .source(format!("wrapfix {}", env!("CARGO_PKG_VERSION")))
        .manual("System Administration");
    man.render_title(w)?;
    man.render_name_section(w)?;
    synopsis(w)?;
    section(
        w,
        "DESCRIPTION",
        &[
            vec![
                roman("An ssh client answers "),
                italic("kex_exchange_identification: read: Connection reset by peer"),
                roman(" and the server logs "),
                italic("sshd[...]: refused connect from 198.51.100.7"),
                roman(
                    ": sshd is linked with libwrap, which reads /etc/hosts.allow and then /etc/hosts.deny on every connection, and a rule such as ",
                ),
                bold("ALL: ALL"),
                roman(" (hosts.deny), "),
                bold("ALL: ALL: DENY"),
                roman(" (hosts.allow) or a fail2ban/DenyHosts ban refuses the client."),
            ],
            vec![roman(
                "wrapfix says exactly who is refused and by which line, evaluating the files the way the installed libwrap build does (Debian/Ubuntu, RHEL/CentOS 7, CentOS 6). It then plans the smallest change that lets the client in (an allow entry in hosts.allow, or the refusing rules commented out), proves by evaluating the planned bytes that the client gets in and no one else is refused, shows it as a diff and asks. Changes are backed up first, written atomically with owner, mode and extended attributes kept, and can be rolled back.",
            )],
            vec![roman(
                "Without a mode option wrapfix repairs interactively. It asks only when standard input and standard error are terminals; otherwise it changes nothing unless --yes is given.",
            )],
        ],
    )?;
    man.render_options_section(w)?;
    tagged(w, "EXIT STATUS", &EXIT_STATUS)?;
    tagged(
        w,
        "FILES",
        &[
            (
                "ROOT/etc/hosts.allow, ROOT/etc/hosts.deny",
                "The access tables libwrap reads; ROOT is / unless --root is given.",
            ),
            (
                "ROOT/var/backups/wrapfix/ID/",
                "One change set: the prior bytes of each changed file and manifest.json (--backup-dir moves it).",
            ),
            (
                "ROOT/etc/os-release, ROOT/etc/redhat-release",
                "Used to choose the libwrap flavour.",
            ),
            (
                "ROOT/var/log/secure, auth.log, messages",
                "And their rotated and gzipped copies: libwrap's refused connect lines.",
            ),
            (
                "ROOT/var/log/journal",
                "The systemd journal, read with this machine's journalctl --directory when no syslog daemon writes the files above (Debian 12 and 13).",
            ),
            (
                "ROOT/usr/sbin/sshd",
                "Checked for being linked with libwrap at all.",
            ),
        ],
    )?;
    tagged(
        w,
        "EXAMPLES",
        &[
            (
                "wrapfix --client 198.51.100.7",
                "Interactive repair on the locked-out machine's console: report, plan, diff, question.",
            ),
            (
                "wrapfix --root /mnt/sysimage --yes --client 198.51.100.7",
                "Rescue console: repair the mounted disk of the broken machine without questions.",
            ),
            (
                "wrapfix --rollback --yes",
                "Undo the latest change set (wrapfix --list-backups shows them).",
            ),
            (
                "wrapfix --check --json",
                "Audit: one JSON document; exit status 1 means someone is locked out.",
            ),
        ],
    )?;
    section(
        w,
        "SEE ALSO",
        &[vec![
            bold("hosts_access"),
            roman("(5), "),
            bold("hosts_options"),
            roman("(5), "),
            bold("tcpdmatch"),
            roman("(8), "),
            bold("tcpdchk"),
            roman("(8), "),
            bold("sshd"),
            roman("(8)"),
        ]],
    )?;
    man.render_version_section(w)
}
