use super::*;

#[test]
fn scripts_name_their_interpreter() {
    assert_eq!(
        inspect(b"#!/bin/sh -e\nexec /usr/sbin/sshd.real \"$@\"\n"),
        Binary::NotElf {
            interpreter: Some("/bin/sh".into())
        }
    );
    assert_eq!(inspect(b"#!"), Binary::NotElf { interpreter: None });
    assert_eq!(inspect(b""), Binary::NotElf { interpreter: None });
}

#[test]
fn short_and_odd_headers_are_malformed() {
    for bytes in [
        &b"\x7fELF"[..],
        b"\x7fELF\x02",
        b"\x7fELF\x03\x01",
        b"\x7fELF\x02\x03",
        b"\x7fELF\x02\x01\x01\x00\x00",
    ] {
        assert!(matches!(inspect(bytes), Binary::Malformed(_)), "{bytes:?}");
    }
}

#[test]
fn libwrap_is_any_needed_entry_starting_with_libwrap_so() {
    let b = Binary::Dynamic {
        needed: vec!["libc.so.6".into(), "libwrap.so.0".into()],
    };
    assert_eq!(b.libwrap(), Some("libwrap.so.0"));
    let b = Binary::Dynamic {
        needed: vec!["libwrapper.so.1".into(), "libc.so.6".into()],
    };
    assert_eq!(b.libwrap(), None);
}

#[test]
fn candidates_include_sshd_session_only_for_sshd() {
    let sshd = candidates("sshd");
    assert!(sshd.contains(&"/usr/lib/openssh/sshd-session".to_string()));
    assert!(sshd.contains(&"/usr/libexec/openssh/sshd".to_string()));
    assert!(!candidates("vsftpd").iter().any(|c| c.contains("session")));
    assert_eq!(candidates("vsftpd")[0], "/usr/sbin/vsftpd");
}

#[test]
fn implausible_daemon_names_are_not_looked_up() {
    let t = tempfile::tempdir().unwrap();
    let root = Root::new(t.path());
    assert_eq!(
        linkage(&root, "../etc/passwd"),
        Linkage::Missing { tried: vec![] }
    );
    assert!(findings(&root, &["..".into(), "".into(), "a/b".into()]).is_empty());
}

#[test]
fn inetd_and_xinetd_lines() {
    assert!(inetd_wraps(
        b"telnet stream tcp nowait root /usr/sbin/tcpd /usr/sbin/in.telnetd",
        "in.telnetd"
    ));
    assert!(inetd_wraps(
        b"telnet stream tcp nowait root /usr/sbin/tcpd in.telnetd",
        "in.telnetd"
    ));
    assert!(!inetd_wraps(
        b"telnet stream tcp nowait root /usr/sbin/in.telnetd in.telnetd",
        "in.telnetd"
    ));
    assert!(xinetd_server(
        b"server      = /usr/sbin/in.tftpd",
        "in.tftpd"
    ));
    assert!(!xinetd_server(
        b"server_args = -s /usr/sbin/in.tftpd",
        "in.tftpd"
    ));
}

#[test]
fn join_and_reads_naturally() {
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    assert_eq!(join_and(&s(&["a"])), "a");
    assert_eq!(join_and(&s(&["a", "b"])), "a and b");
    assert_eq!(join_and(&s(&["a", "b", "c"])), "a, b and c");
}
