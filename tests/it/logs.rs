//! `refused-client` (issue 4): libwrap's refusals read from scratch roots' `/var/log`, never
//! this machine's.

use std::io::Write as _;
use std::os::unix::fs::symlink;
use std::path::Path;

use flate2::Compression;
use flate2::write::GzEncoder;
use wrapfix::diagnose::detect::{Kind, Severity};
use wrapfix::diagnose::logs::{self, Refused};
use wrapfix::rootfs::Root;

use crate::support::system::System;

/// A scratch root with an empty `/var/log`.
fn root() -> System {
    System::bare().dir("/var/log")
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = GzEncoder::new(Vec::new(), Compression::default());
    enc.write_all(bytes).expect("gzip");
    enc.finish().expect("gzip")
}

fn scan(dir: &Path) -> Vec<Refused> {
    logs::scan(&Root::new(dir)).expect("scan")
}

/// (daemon, addr, count, last, file) per refusal, in the order scan returns them.
fn summary(found: &[Refused]) -> Vec<(&str, &str, u64, Option<&str>, &str)> {
    found
        .iter()
        .map(|r| {
            (
                r.daemon.as_str(),
                r.addr.as_str(),
                r.count,
                r.last.as_deref(),
                r.file.as_str(),
            )
        })
        .collect()
}

fn refusal(time: &str, daemon: &str, client: &str) -> String {
    format!("{time} web1 {daemon}[4242]: refused connect from {client}\n")
}

#[test]
fn classic_and_rfc3339_timestamps() {
    let dir = root();
    let mut log = String::new();
    log += "Nov 24 00:49:01 web1 sshd[100]: Connection closed by 203.0.113.5 port 22 [preauth]\n";
    log += &refusal("Nov 24 00:50:11", "sshd", "198.51.100.7 (198.51.100.7)");
    log += &refusal("Nov 24 00:50:12", "sshd", "198.51.100.7 (198.51.100.7)");
    log += &refusal(
        "2026-11-24T00:51:00.123456+00:00",
        "sshd",
        "203.0.113.9 (203.0.113.9)",
    );
    dir.write("var/log/auth.log", log.as_bytes());
    let found = scan(dir.path());
    assert_eq!(
        summary(&found),
        [
            (
                "sshd",
                "203.0.113.9",
                1,
                Some("2026-11-24T00:51:00.123456+00:00"),
                "/var/log/auth.log"
            ),
            (
                "sshd",
                "198.51.100.7",
                2,
                Some("Nov 24 00:50:12"),
                "/var/log/auth.log"
            ),
        ]
    );
    assert_eq!(found[1].line, 3);
    assert_eq!(
        found[1].text,
        refusal("Nov 24 00:50:12", "sshd", "198.51.100.7 (198.51.100.7)")
            .trim_end()
            .as_bytes()
    );
}

#[test]
fn name_user_and_pseudo_host_forms() {
    let dir = root();
    let mut log = String::new();
    log += &refusal("Nov 24 01:00:00", "sshd", "host.example.com (198.51.100.7)");
    log += &refusal("Nov 24 01:00:01", "in.telnetd", "alice@192.0.2.4");
    log += &refusal("Nov 24 01:00:02", "sshd", "unknown (unknown)");
    log += &refusal("Nov 24 01:00:03", "sshd", "paranoid");
    log += &refusal(
        "Nov 24 01:00:04",
        "sshd",
        "::ffff:192.0.2.8 (::ffff:192.0.2.8)",
    );
    log += &refusal(
        "Nov 24 01:00:05",
        "vsftpd",
        "bob@ftp.example.net (2001:db8::5)",
    );
    dir.write("var/log/secure", log.as_bytes());
    let found = scan(dir.path());
    let fields: Vec<_> = found
        .iter()
        .map(|r| {
            (
                r.daemon.as_str(),
                r.addr.as_str(),
                r.name.as_deref(),
                r.user.as_deref(),
                r.ipv4.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        fields,
        [
            (
                "vsftpd",
                "2001:db8::5",
                Some("ftp.example.net"),
                Some("bob"),
                None
            ),
            ("sshd", "::ffff:192.0.2.8", None, None, Some("192.0.2.8")),
            ("sshd", "paranoid", None, None, None),
            ("sshd", "unknown", None, None, None),
            ("in.telnetd", "192.0.2.4", None, Some("alice"), None),
            ("sshd", "198.51.100.7", Some("host.example.com"), None, None),
        ]
    );
    let findings = logs::findings(&found, 10);
    assert_eq!(
        findings[1].message,
        "sshd refused ::ffff:192.0.2.8 (IPv4 192.0.2.8) 1 time, last at Nov 24 01:00:04 \
         (in /var/log/secure): libwrap's rules turned this client away"
    );
    assert!(
        findings[3]
            .message
            .starts_with("sshd refused a client whose address libwrap could not tell 1 time"),
        "{}",
        findings[3].message
    );
    assert_eq!(
        findings[5].message,
        "sshd refused 198.51.100.7 (host.example.com) 1 time, last at Nov 24 01:00:00 \
         (in /var/log/secure): libwrap's rules turned this client away"
    );
}

#[test]
fn rotated_plain_and_gzipped_copies_sum_and_the_newest_time_wins() {
    let dir = root();
    let ip = "198.51.100.7 (198.51.100.7)";
    let mut current = refusal("Nov 24 00:40:00", "sshd", "192.0.2.1 (192.0.2.1)");
    current += &refusal("Nov 24 00:50:12", "sshd", ip);
    dir.write("var/log/auth.log", current.as_bytes());
    let one = refusal("Nov 23 10:00:00", "sshd", ip).repeat(3);
    dir.write("var/log/auth.log.1", one.as_bytes());
    // A .gz of two members, as `cat a.gz b.gz` makes: both are read.
    let mut two = gzip(refusal("Nov 22 10:00:00", "sshd", ip).repeat(10).as_bytes());
    two.extend(gzip(refusal("Nov 22 11:00:00", "sshd", ip).as_bytes()));
    dir.write("var/log/auth.log.2.gz", &two);
    let mut three = refusal("Nov 21 10:00:00", "sshd", ip).repeat(27);
    three += &refusal("Nov 21 09:00:00", "in.ftpd", "192.0.2.200");
    dir.write("var/log/auth.log.3.gz", gzip(three.as_bytes()));
    // Not a rotation of ours: never read.
    dir.write(
        "var/log/auth.log.old",
        refusal("Dec 31 23:59:59", "sshd", ip).as_bytes(),
    );
    let found = scan(dir.path());
    assert_eq!(
        summary(&found),
        [
            (
                "sshd",
                "198.51.100.7",
                42,
                Some("Nov 24 00:50:12"),
                "/var/log/auth.log"
            ),
            (
                "sshd",
                "192.0.2.1",
                1,
                Some("Nov 24 00:40:00"),
                "/var/log/auth.log"
            ),
            (
                "in.ftpd",
                "192.0.2.200",
                1,
                Some("Nov 21 09:00:00"),
                "/var/log/auth.log.3.gz"
            ),
        ]
    );
    assert_eq!(found[2].line, 28);
    let findings = logs::findings(&found, 10);
    assert_eq!(findings.len(), 3);
    assert!(
        findings
            .iter()
            .all(|f| f.kind == Kind::RefusedClient && f.severity == Severity::Warning)
    );
    assert_eq!(
        findings[0].message,
        "sshd refused 198.51.100.7 42 times, last at Nov 24 00:50:12 (in /var/log/auth.log): \
         libwrap's rules turned this client away"
    );
    assert_eq!(findings[0].path.as_deref(), Some("/var/log/auth.log"));
    assert_eq!(findings[0].line, Some(2));
}

#[test]
fn a_gz_twin_of_a_plain_copy_is_not_counted_twice() {
    let dir = root();
    let line = refusal("Nov 22 10:00:00", "sshd", "192.0.2.1");
    dir.write("var/log/auth.log.2", line.as_bytes());
    // logrotate caught between writing X.2.gz and removing X.2: the .gz may be partial.
    dir.write("var/log/auth.log.2.gz", gzip(line.as_bytes()));
    let found = scan(dir.path());
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].count, 1);
    assert_eq!(found[0].file, "/var/log/auth.log.2");
}

#[test]
fn rhel_dateext_names_newest_date_first() {
    let dir = root();
    let ip = "198.51.100.7";
    dir.write(
        "var/log/secure-20261108",
        refusal("Nov  8 03:00:00", "sshd", ip).as_bytes(),
    );
    dir.write(
        "var/log/secure-20261115.gz",
        gzip(refusal("Nov 15 03:00:00", "sshd", ip).repeat(2).as_bytes()),
    );
    dir.write(
        "var/log/secure-20261122",
        refusal("Nov 22 03:00:00", "sshd", ip).as_bytes(),
    );
    dir.write(
        "var/log/secure",
        b"Nov 24 00:00:01 web1 sshd[1]: Accepted publickey for root from 192.0.2.1\n",
    );
    // messages on RHEL holds tcpd's refusals (authpriv is excluded from it by default).
    dir.write(
        "var/log/messages-20261122",
        refusal("Nov 20 03:00:00", "in.telnetd", "192.0.2.77").as_bytes(),
    );
    let found = scan(dir.path());
    assert_eq!(
        summary(&found),
        [
            (
                "sshd",
                ip,
                4,
                Some("Nov 22 03:00:00"),
                "/var/log/secure-20261122"
            ),
            (
                "in.telnetd",
                "192.0.2.77",
                1,
                Some("Nov 20 03:00:00"),
                "/var/log/messages-20261122"
            ),
        ]
    );
}

#[test]
fn corrupt_and_truncated_gzip_are_reported_not_fatal() {
    let dir = root();
    let ip = "198.51.100.7 (198.51.100.7)";
    dir.write(
        "var/log/auth.log",
        refusal("Nov 24 00:50:12", "sshd", ip).as_bytes(),
    );
    // Not gzip at all.
    dir.write(
        "var/log/auth.log.2.gz",
        b"\x1f\x8b\x08\x00garbage garbage garbage",
    );
    // A real gzip cut in half: what decompresses before the cut is still counted.
    let body = refusal("Nov 20 10:00:00", "sshd", "192.0.2.3 (192.0.2.3)").repeat(4000);
    let whole = gzip(body.as_bytes());
    dir.write("var/log/auth.log.3.gz", &whole[..whole.len() / 2]);
    // Unsupported compression: a note, not a failure.
    dir.write("var/log/auth.log.4.xz", b"\xfd7zXZ\0");
    let scan = logs::scan_logs(&Root::new(dir.path())).expect("scan");
    let files: Vec<_> = scan
        .problems
        .iter()
        .map(|p| (p.file.as_str(), p.severity))
        .collect();
    assert_eq!(
        files,
        [
            ("/var/log/auth.log.4.xz", Severity::Info),
            ("/var/log/auth.log.3.gz", Severity::Warning),
            ("/var/log/auth.log.2.gz", Severity::Warning),
        ]
    );
    assert_eq!(scan.refusals[0].addr, "198.51.100.7");
    let cut = scan
        .refusals
        .iter()
        .find(|r| r.addr == "192.0.2.3")
        .expect("refusals before the cut are counted");
    assert!(cut.count > 0 && cut.count < 4000, "{}", cut.count);
    let findings = scan.findings(10);
    let last = findings.last().expect("a finding per problem");
    assert_eq!(last.severity, Severity::Warning);
    assert!(
        last.message
            .starts_with("/var/log/auth.log.2.gz: damaged or truncated gzip data after 0 bytes"),
        "{}",
        last.message
    );
}

#[test]
fn non_utf8_bytes_are_read_and_escaped() {
    let dir = root();
    let mut log: Vec<u8> = b"\xff\xfe garbage \x80 refused connect from \xff\n".to_vec();
    log.extend_from_slice(b"Nov 24 00:50:12 web1 sshd[9]: refused connect from h\xffst\x1bc\x07.example (192.0.2.9)\n");
    log.extend_from_slice(b"Nov 24 00:50:13 web1 s\xe9hd[9]: refused connect from 192.0.2.10\n");
    dir.write("var/log/auth.log", &log);
    let found = scan(dir.path());
    assert_eq!(found.len(), 2);
    assert_eq!(found[0].daemon, "s\u{fffd}hd");
    assert_eq!(
        found[1].name.as_deref(),
        Some("h\u{fffd}st\u{1b}c\u{7}.example")
    );
    let findings = logs::findings(&found, 10);
    // Reverse DNS is the client's to choose: no terminal escape reaches the report.
    assert!(
        !findings[1].message.contains('\u{1b}'),
        "{}",
        findings[1].message
    );
    assert!(
        findings[1]
            .message
            .contains("h\u{fffd}st\\x1bc\\x07.example")
    );
}

#[test]
fn lines_that_only_mention_the_text_are_not_refusals() {
    let dir = root();
    let log = "\
Nov 24 00:50:01 web1 sudo:    alice : TTY=pts/0 ; PWD=/root ; USER=root ; COMMAND=/bin/grep refused connect from /var/log/auth.log
Nov 24 00:50:02 web1 sshd[7]: Connection closed by 198.51.100.7 port 50022 [preauth]
Nov 24 00:50:03 web1 sshd[7]: Failed password for root from 198.51.100.7 port 50022 ssh2
Nov 24 00:50:04 web1 fail2ban-server[5]: INFO [sshd] Found 198.51.100.7 - refused connect from 198.51.100.7
Nov 24 00:50:05 web1 postfix/qmqpd[8]: refused connect from mx.example.com[192.0.2.9]
Nov 24 00:50:06 web1 sshd[9]: error: kex_exchange_identification: refused connect from 198.51.100.7
Nov 24 00:50:07 web1 sshd[10]: Received disconnect from 198.51.100.7: refused connect from x
refused connect from 198.51.100.7 (198.51.100.7)
";
    dir.write("var/log/auth.log", log.as_bytes());
    dir.write(
        "var/log/syslog",
        refusal("Nov 24 00:50:08", "sshd", "192.0.2.1").as_bytes(),
    );
    assert_eq!(scan(dir.path()), []);
}

#[test]
fn a_missing_log_directory_is_an_empty_result() {
    let dir = System::bare();
    assert_eq!(scan(dir.path()), []);
    dir.write("var", b"not a directory");
    assert_eq!(scan(dir.path()), []);
}

#[test]
fn symlinked_logs_resolve_inside_the_root() {
    let dir = System::bare();
    // /var/log itself is a link (to a separate log volume), and auth.log is a link too.
    dir.write(
        "data/log/real-auth",
        refusal("Nov 24 00:50:12", "sshd", "192.0.2.1").as_bytes(),
    );
    std::fs::create_dir_all(dir.path().join("var")).expect("var");
    symlink("/data/log", dir.path().join("var/log")).expect("link");
    symlink("/data/log/real-auth", dir.path().join("data/log/auth.log")).expect("link");
    // An absolute link means the root's /etc, not this machine's; a dangling one is no log.
    dir.write(
        "etc/secure-copy",
        refusal("Nov 24 00:50:13", "sshd", "192.0.2.2").as_bytes(),
    );
    symlink("/etc/secure-copy", dir.path().join("data/log/secure")).expect("link");
    symlink("/nowhere", dir.path().join("data/log/messages")).expect("link");
    // A link loop is reported, and the other logs are still read.
    symlink(
        "/var/log/auth.log.1",
        dir.path().join("data/log/auth.log.1"),
    )
    .expect("link");
    let problems = logs::scan_logs(&Root::new(dir.path()))
        .expect("scan")
        .problems;
    assert_eq!(problems.len(), 1);
    assert_eq!(problems[0].file, "/var/log/auth.log.1");
    assert_eq!(problems[0].severity, Severity::Warning);
    let found = scan(dir.path());
    assert_eq!(
        summary(&found),
        [
            (
                "sshd",
                "192.0.2.2",
                1,
                Some("Nov 24 00:50:13"),
                "/var/log/secure"
            ),
            (
                "sshd",
                "192.0.2.1",
                1,
                Some("Nov 24 00:50:12"),
                "/var/log/auth.log"
            ),
        ]
    );
}

#[test]
fn findings_are_limited_with_a_count_of_the_rest() {
    let dir = root();
    let log: String = (1..=5)
        .map(|i| {
            refusal(
                &format!("Nov 24 00:50:0{i}"),
                "sshd",
                &format!("192.0.2.{i}"),
            )
        })
        .collect();
    dir.write("var/log/auth.log", log.as_bytes());
    let findings = logs::findings(&scan(dir.path()), 2);
    assert_eq!(findings.len(), 3);
    assert!(findings[0].message.contains("192.0.2.5"));
    assert!(findings[1].message.contains("192.0.2.4"));
    assert_eq!(findings[2].severity, Severity::Info);
    assert_eq!(
        findings[2].message,
        "3 more clients were refused by libwrap in older log lines; only the 2 most recent are listed"
    );
}

/// The library side of `tests/bench/logs_vs_zgrep.py`: scan the root named by
/// `WRAPFIX_LOGS_BENCH_ROOT` and print the time taken and what was found.
#[test]
#[ignore = "benchmark driver, run by tests/bench/logs_vs_zgrep.py"]
fn bench_scan() {
    let Some(dir) = std::env::var_os("WRAPFIX_LOGS_BENCH_ROOT") else {
        panic!("set WRAPFIX_LOGS_BENCH_ROOT to a root with var/log in it");
    };
    let root = Root::new(dir);
    let started = std::time::Instant::now();
    let found = logs::scan(&root).expect("scan");
    let elapsed = started.elapsed();
    let total: u64 = found.iter().map(|r| r.count).sum();
    // One line the script parses; straight to stdout's handle so --nocapture is not needed.
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "BENCH seconds={:.6} refusals={total} clients={}",
        elapsed.as_secs_f64(),
        found.len()
    )
    .expect("stdout");
}

/// Where Debian's systemd-journal-remote is (it is not on PATH).
const JOURNAL_REMOTE: &str = "/lib/systemd/systemd-journal-remote";

/// A journal file under `dir/var/log/journal/MACHINE-ID/`, made by systemd-journal-remote
/// from export format: one entry per (identifier, message), a second apart from
/// 2026-11-24T00:50:12Z. `None` (after a loud skip) without the tool.
fn journal(dir: &Path, entries: &[(&str, &str)]) -> Option<()> {
    if !crate::support::require_tool(
        JOURNAL_REMOTE,
        "makes a systemd journal file to read refusals from (package systemd-journal-remote)",
    ) {
        return None;
    }
    let machine = "0123456789abcdef0123456789abcdef";
    let out_dir = dir.join("var/log/journal").join(machine);
    std::fs::create_dir_all(&out_dir).expect("journal dir");
    let mut export = Vec::new();
    for (i, (ident, message)) in entries.iter().enumerate() {
        let usec = 1_795_481_412_000_000u64 + i as u64 * 1_000_000;
        export.extend_from_slice(
            format!(
                "__REALTIME_TIMESTAMP={usec}\n__MONOTONIC_TIMESTAMP={}\n_BOOT_ID={machine}\n_HOSTNAME=web1\nSYSLOG_IDENTIFIER={ident}\n_PID={}\nMESSAGE={message}\n\n",
                1000 + i,
                4000 + i
            )
            .as_bytes(),
        );
    }
    let input = dir.join("entries.export");
    std::fs::write(&input, export).expect("export file");
    let out = std::process::Command::new(JOURNAL_REMOTE)
        .arg("--output")
        .arg(out_dir.join("system.journal"))
        .arg(&input)
        .output()
        .expect("run systemd-journal-remote");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::remove_file(input).expect("remove the export file");
    Some(())
}

const DEBIAN_13_JOURNAL: [(&str, &str); 4] = [
    ("sshd", "refused connect from 203.0.113.45 (203.0.113.45)"),
    (
        "sshd-session",
        "refused connect from 198.51.100.9 (198.51.100.9)",
    ),
    (
        "sshd",
        "Accepted publickey for root from 192.0.2.1 port 50000 ssh2",
    ),
    (
        "sshd-session",
        "refused connect from 203.0.113.45 (203.0.113.45)",
    ),
];

#[test]
fn refusals_only_in_the_systemd_journal_are_read_through_journalctl() {
    if !crate::support::require_tool("journalctl", "reads the systemd journal") {
        return;
    }
    let dir = root();
    if journal(dir.path(), &DEBIAN_13_JOURNAL).is_none() {
        return;
    }
    let found = scan(dir.path());
    assert_eq!(
        summary(&found),
        vec![
            (
                "sshd-session",
                "203.0.113.45",
                1,
                Some("2026-11-24T00:50:15+0000"),
                "/var/log/journal"
            ),
            (
                "sshd-session",
                "198.51.100.9",
                1,
                Some("2026-11-24T00:50:13+0000"),
                "/var/log/journal"
            ),
            (
                "sshd",
                "203.0.113.45",
                1,
                Some("2026-11-24T00:50:12+0000"),
                "/var/log/journal"
            ),
        ]
    );
    // Through the binary: findings, and no problem reported.
    let sys = System::new()
        .deny("ALL: ALL\n")
        .os_release("ID=debian\nVERSION_ID=13\n");
    journal(sys.path(), &DEBIAN_13_JOURNAL);
    let doc = sys.run(["--check", "--json"]).code(1).stderr_empty().json();
    let refused: Vec<&str> = doc["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| f["kind"] == "refused-client")
        .map(|f| f["message"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(refused.len(), 3, "{refused:?}");
    assert!(
        refused.iter().all(|m| m.contains("(in /var/log/journal)")),
        "{refused:?}"
    );
}

#[test]
fn the_journal_is_not_counted_twice_when_syslog_writes_auth_log() {
    if !crate::support::require_tool("journalctl", "reads the systemd journal") {
        return;
    }
    let dir = root();
    if journal(dir.path(), &DEBIAN_13_JOURNAL).is_none() {
        return;
    }
    dir.write(
        "var/log/auth.log",
        refusal("Nov 24 00:50:12", "sshd", "203.0.113.45 (203.0.113.45)").as_bytes(),
    );
    let found = scan(dir.path());
    assert_eq!(
        summary(&found),
        vec![(
            "sshd",
            "203.0.113.45",
            1,
            Some("Nov 24 00:50:12"),
            "/var/log/auth.log"
        )]
    );
}

#[test]
fn without_journalctl_a_finding_says_the_journal_was_not_read_and_why() {
    // A PATH with no journalctl on it (wrapfix itself needs no other program).
    let empty = tempfile::tempdir().expect("empty dir");
    let sys = System::new()
        .deny("ALL: ALL\n")
        .os_release("ID=debian\n")
        .env("PATH", empty.path());
    if journal(sys.path(), &DEBIAN_13_JOURNAL).is_none() {
        return;
    }
    let doc = sys.run(["--check", "--json"]).code(1).stderr_empty().json();
    let journal = doc["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .find(|f| f["file"] == "/var/log/journal")
        .unwrap_or_else(|| panic!("no finding about the journal: {doc}"));
    assert_eq!(journal["severity"], "warning");
    let message = journal["message"].as_str().unwrap_or("");
    assert!(
        message.contains("the systemd journal was not read: journalctl could not be run"),
        "{message}"
    );
}
