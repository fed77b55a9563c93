//! The flavour table (docs/semantics.md §8): the same bytes mean different things to Debian's,
//! RHEL 7's and CentOS 6's libwrap. One test per row.

use wrapfix::eval::{Access, How};
use wrapfix::model::client::Client;
use wrapfix::model::flavor::Flavor::{self, Debian, Rhel6, Rhel7};

use crate::support::Eval;

/// Evaluate `sshd` for `client` as the daemon's libwrap of `flavor` would.
fn access(flavor: Flavor, allow: &[u8], deny: &[u8], client: &str) -> (Access, How) {
    let v = Eval::daemon(flavor)
        .root("/nonexistent-wrapfix-root")
        .accounts(&["root", "nobody"], &["root", "nogroup"])
        .evaluate(
            Some(allow),
            Some(deny),
            "sshd",
            &Client::parse(client, flavor).expect("client"),
        );
    (v.access, v.decision().how.clone())
}

fn a(flavor: Flavor, allow: &[u8], deny: &[u8], client: &str) -> Access {
    access(flavor, allow, deny, client).0
}

#[test]
fn last_line_without_newline_denies_everyone_on_debian_only() {
    let deny = b"sshd: 10.9.9.9\nsshd: 10.0.0.7";
    assert_eq!(a(Debian, b"", deny, "10.0.0.1"), Access::Denied);
    assert_eq!(a(Rhel7, b"", deny, "10.0.0.1"), Access::Granted);
    assert_eq!(a(Rhel6, b"", deny, "10.0.0.1"), Access::Granted);
    // ... and the unterminated rule itself is skipped on RHEL.
    assert_eq!(a(Rhel7, b"", deny, "10.0.0.7"), Access::Granted);
}

#[test]
fn an_overlong_line_stops_debian_hangs_rhel7_and_is_skipped_by_centos6() {
    let mut deny = b"sshd: 10.9.9.9 ".to_vec();
    deny.resize(2100, b'x');
    deny.extend_from_slice(b"\nsshd: 10.0.0.1\n");
    assert_eq!(
        access(Debian, b"", &deny, "10.0.0.2"),
        (
            Access::Denied,
            How::DenyTableError(wrapfix::eval::TableProblem::Unterminated(
                wrapfix::model::syntax::Unterminated::TooLong
            ))
        )
    );
    assert_eq!(
        access(Rhel7, b"", &deny, "10.0.0.2"),
        (Access::Denied, How::Hang)
    );
    assert_eq!(a(Rhel6, b"", &deny, "10.0.0.2"), Access::Granted);
    assert_eq!(a(Rhel6, b"", &deny, "10.0.0.1"), Access::Denied);
}

#[test]
fn a_line_starting_with_nul_vanishes_but_centos6_also_loses_the_next_line() {
    let deny = b"\x00junk\nsshd: 10.0.0.1\n";
    assert_eq!(a(Debian, b"", deny, "10.0.0.1"), Access::Denied);
    assert_eq!(a(Rhel7, b"", deny, "10.0.0.1"), Access::Denied);
    assert_eq!(a(Rhel6, b"", deny, "10.0.0.1"), Access::Granted);
}

#[test]
fn globs_ignore_case_on_debian_only() {
    let deny = b"sshd: *.EXAMPLE.COM\n";
    assert_eq!(
        a(Debian, b"", deny, "10.0.0.1=good.example.com"),
        Access::Denied
    );
    assert_eq!(
        a(Rhel7, b"", deny, "10.0.0.1=good.example.com"),
        Access::Granted
    );
    assert_eq!(
        a(Rhel6, b"", deny, "10.0.0.1=good.example.com"),
        Access::Granted
    );
}

#[test]
fn prefix_lengths_per_flavour() {
    // Debian: atoi, 1..=32, junk tolerated.
    assert_eq!(
        a(Debian, b"", b"sshd: 10.0.0.0/24abc\n", "10.0.0.1"),
        Access::Denied
    );
    assert_eq!(
        a(Debian, b"", b"sshd: 0.0.0.0/0\n", "10.0.0.1"),
        Access::Granted
    );
    // RHEL 7: digits only, 0..=32, /0 is everything.
    assert_eq!(
        a(Rhel7, b"", b"sshd: 10.0.0.0/24abc\n", "10.0.0.1"),
        Access::Granted
    );
    assert_eq!(
        a(Rhel7, b"", b"sshd: 0.0.0.0/0\n", "10.0.0.1"),
        Access::Denied
    );
    assert_eq!(
        a(Rhel7, b"", b"sshd: 10.0.0.0/8\n", "10.0.0.1"),
        Access::Denied
    );
    // CentOS 6: no /nn at all.
    assert_eq!(
        a(Rhel6, b"", b"sshd: 10.0.0.0/8\n", "10.0.0.1"),
        Access::Granted
    );
    assert_eq!(
        a(Rhel6, b"", b"sshd: 10.0.0.0/255.0.0.0\n", "10.0.0.1"),
        Access::Denied
    );
}

#[test]
fn an_all_ones_mask_is_valid_on_red_hat_only() {
    let deny = b"sshd: 10.0.0.1/255.255.255.255\n";
    assert_eq!(a(Debian, b"", deny, "10.0.0.1"), Access::Granted);
    assert_eq!(a(Rhel7, b"", deny, "10.0.0.1"), Access::Denied);
    assert_eq!(a(Rhel6, b"", deny, "10.0.0.1"), Access::Denied);
}

#[test]
fn ipv6_prefix_inside_the_brackets_only_on_rhel7() {
    let inside = b"sshd: [2001:db8::/32]\n";
    assert_eq!(a(Debian, b"", inside, "2001:db8::1"), Access::Granted);
    assert_eq!(a(Rhel7, b"", inside, "2001:db8::1"), Access::Denied);
    assert_eq!(a(Rhel6, b"", inside, "2001:db8::1"), Access::Granted);
    let outside = b"sshd: [2001:db8::]/32\n";
    for f in [Debian, Rhel7, Rhel6] {
        assert_eq!(a(f, b"", outside, "2001:db8::1"), Access::Denied, "{f}");
    }
}

#[test]
fn mapped_ipv4_clients_match_plain_ipv4_patterns_everywhere() {
    // Debian and CentOS 6 strip ::ffff: when matching; RHEL 7's sshd sees plain IPv4.
    for f in [Debian, Rhel7, Rhel6] {
        assert_eq!(
            a(f, b"", b"sshd: 10.0.0.0/255.0.0.0\n", "::ffff:10.0.0.1"),
            Access::Denied,
            "{f}"
        );
    }
}

#[test]
fn numeric_daemon_tokens_are_ports_on_debian_only() {
    // Debian: the port sshd listens on is not in the files, so it depends.
    assert_eq!(a(Debian, b"", b"22: ALL\n", "10.0.0.1"), Access::Depends);
    assert_eq!(a(Rhel7, b"", b"22: ALL\n", "10.0.0.1"), Access::Granted);
    assert_eq!(a(Rhel6, b"", b"22: ALL\n", "10.0.0.1"), Access::Granted);
}

#[test]
fn aclexec_depends_on_debian_and_is_a_bad_option_on_red_hat() {
    // A command found through PATH: only running it tells (a missing absolute path or
    // /bin/false would be certain, see check.rs).
    let deny = b"ALL: ALL: aclexec check-client %a\n";
    assert_eq!(a(Debian, b"", deny, "10.0.0.1"), Access::Depends);
    let (access, how) = access(Rhel7, b"", deny, "10.0.0.1");
    assert_eq!(access, Access::Denied);
    assert!(matches!(how, How::OptionError(_)), "{how:?}");
}

#[test]
fn localhost_spellings_are_one_name_on_red_hat() {
    let deny = b"sshd: localhost\n";
    assert_eq!(
        a(Debian, b"", deny, "127.0.0.1=localhost.localdomain"),
        Access::Granted
    );
    assert_eq!(
        a(Rhel7, b"", deny, "127.0.0.1=localhost.localdomain"),
        Access::Denied
    );
    assert_eq!(
        a(Rhel6, b"", deny, "127.0.0.1=localhost.localdomain"),
        Access::Denied
    );
}

#[test]
fn option_errors_and_twist_deny_in_every_flavour() {
    for f in [Debian, Rhel7, Rhel6] {
        assert_eq!(a(f, b"ALL: ALL:\n", b"", "10.0.0.1"), Access::Denied, "{f}");
        assert_eq!(
            a(f, b"ALL: ALL: twist /bin/echo no\n", b"", "10.0.0.1"),
            Access::Denied,
            "{f}"
        );
        assert_eq!(
            a(f, b"", b"ALL: ALL: allow\n", "10.0.0.1"),
            Access::Granted,
            "{f}"
        );
    }
}
