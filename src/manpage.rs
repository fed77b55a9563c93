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
    man.render_synopsis_section(w)?;
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
    tagged(
        w,
        "EXIT STATUS",
        &[
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
                "Bad usage or input (an invalid --client, a missing --root, nothing to roll back). Nothing was changed.",
            ),
            (
                "3",
                "The change could not be made safely (read-only file system, permission, I/O error, a file changed underneath, verification failed). The message says what state each file is in.",
            ),
        ],
    )?;
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
