use super::*;
use crate::eval::Mode;
use crate::model::accounts::FileAccounts;
use crate::model::flavor::Flavor;
use crate::rootfs::Root;

/// The lines the comment strategy must comment out for an unnamed client, and whether
/// the client is then let in.
fn commented(deny: &str) -> (Vec<u32>, Access) {
    let root = Root::new("/nonexistent-wrapfix-root");
    let accounts = FileAccounts::from_names(&["root"], &["root"]);
    let env = Env {
        flavor: Flavor::Debian,
        mode: Mode::Daemon,
        root: &root,
        accounts: &accounts,
        aclexec: None,
    };
    let tables = Tables::from_bytes(Some(b""), Some(deny.as_bytes()));
    let client = Client {
        addr: "198.51.100.7".into(),
        name: None,
        user: None,
    };
    let (after, refusers) = explore_with(&tables, None, "sshd", &client, &env, true);
    (refusers.iter().map(|r| r.loc.line).collect(), after.access)
}

#[test]
fn one_pass_finds_every_refusing_rule_even_behind_another() {
    assert_eq!(
        commented("ALL: ALL\nALL: ALL\n"),
        (vec![1, 2], Access::Granted)
    );
    assert_eq!(
        commented("sshd: ALL\nALL: 203.0.113.9\n"),
        (vec![1], Access::Granted)
    );
    // Rules that refuse only some host names are commented out too.
    assert_eq!(
        commented("sshd: .example.com\nsshd: ALL EXCEPT good.\n"),
        (vec![1, 2], Access::Granted)
    );
}

#[test]
fn an_unterminated_last_rule_gets_its_newline_and_is_commented_out() {
    // Adding the newline alone still refuses; commenting alone leaves it unterminated.
    let (lines, access) = commented("# x\nALL: ALL");
    assert_eq!(lines, vec![2, 2]);
    assert_eq!(access, Access::Granted);
    let (lines, access) = commented("sshd: 10.0.0.1\nsshd: 10.0.0.2");
    assert_eq!((lines, access), (vec![2], Access::Granted));
}
