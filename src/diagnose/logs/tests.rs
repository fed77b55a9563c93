use super::*;
use proptest::prelude::*;

fn parsed(line: &str) -> Option<(String, String, String, Option<String>, String, u64)> {
    let s = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    parse_line(line.as_bytes()).map(|l| {
        (
            s(l.time),
            s(l.daemon),
            s(l.client.host),
            l.client.user.map(s),
            s(l.client.addr),
            l.repeats,
        )
    })
}

#[test]
fn classic_debian_line() {
    let l = parsed(
        "Nov 24 00:50:12 web1 sshd[11949]: refused connect from 198.51.100.7 (198.51.100.7)",
    )
    .unwrap();
    assert_eq!(l.0, "Nov 24 00:50:12");
    assert_eq!(l.1, "sshd");
    assert_eq!(l.2, "198.51.100.7");
    assert_eq!(l.4, "198.51.100.7");
    assert_eq!(l.5, 1);
}

#[test]
fn space_padded_day_and_rfc3339_times() {
    let l = parsed("Nov  4 00:50:12 h sshd[1]: refused connect from 10.0.0.1").unwrap();
    assert_eq!(l.0, "Nov  4 00:50:12");
    for t in [
        "2026-11-24T00:50:12.123456+00:00",
        "2026-11-24T00:50:12Z",
        "2026-11-24T00:50:12-0500",
    ] {
        let l = parsed(&format!("{t} h sshd[1]: refused connect from 10.0.0.1")).unwrap();
        assert_eq!(l.0, t);
    }
    for bad in [
        "Nox 24 00:50:12",
        "2026-11-24 00:50:12",
        "2026-11-24T00:50:12.+00:00",
        "2026-11-24T00:50:12",
    ] {
        assert_eq!(
            parsed(&format!("{bad} h sshd[1]: refused connect from 10.0.0.1")),
            None,
            "{bad}"
        );
    }
}

#[test]
fn client_forms() {
    let client = |c: &str| {
        parsed(&format!(
            "Nov 24 00:50:12 h in.telnetd[9]: refused connect from {c}"
        ))
        .map(|l| (l.3, l.2, l.4))
    };
    let some = |s: &str| Some(s.to_string());
    assert_eq!(
        client("host.example.com (198.51.100.7)"),
        Some((
            None,
            some("host.example.com").unwrap(),
            some("198.51.100.7").unwrap()
        ))
    );
    assert_eq!(
        client("alice@198.51.100.7 (198.51.100.7)"),
        Some((some("alice"), "198.51.100.7".into(), "198.51.100.7".into()))
    );
    assert_eq!(
        client("bob@host.example.com"),
        Some((
            some("bob"),
            "host.example.com".into(),
            "host.example.com".into()
        ))
    );
    assert_eq!(
        client("unknown (unknown)"),
        Some((None, "unknown".into(), "unknown".into()))
    );
    assert_eq!(
        client("paranoid"),
        Some((None, "paranoid".into(), "paranoid".into()))
    );
    assert_eq!(
        client("::ffff:192.0.2.1 (::ffff:192.0.2.1)\r"),
        Some((None, "::ffff:192.0.2.1".into(), "::ffff:192.0.2.1".into()))
    );
    for bad in [
        "",
        "host[198.51.100.7]",
        "a b",
        "x (a b)",
        "@host",
        "user@",
        "x ()",
    ] {
        assert_eq!(client(bad), None, "{bad:?}");
    }
}

#[test]
fn tags_and_other_programs() {
    assert_eq!(
        parsed("Nov 24 00:50:12 h tcpd: refused connect from 10.0.0.1").map(|l| l.1),
        Some("tcpd".into())
    );
    for not_libwrap in [
        "Nov 24 00:50:12 h sudo:    alice : TTY=pts/0 ; PWD=/root ; USER=root ; COMMAND=/bin/grep refused connect from /var/log/auth.log",
        "Nov 24 00:50:12 h postfix/qmqpd[7]: refused connect from mx.example.com[192.0.2.9]",
        "Nov 24 00:50:12 h sshd[7]: error: refused connect from 10.0.0.1",
        "Nov 24 00:50:12 h sshd[x]: refused connect from 10.0.0.1",
        "Nov 24 00:50:12 h [7]: refused connect from 10.0.0.1",
        "Nov 24 00:50:12 h sshd[7] refused connect from 10.0.0.1",
        "Nov 24 00:50:12 refused connect from 10.0.0.1",
        "refused connect from 10.0.0.1",
    ] {
        assert_eq!(parsed(not_libwrap), None, "{not_libwrap}");
    }
}

#[test]
fn rsyslog_repeats_count_each_refusal() {
    let l = parsed("Nov 24 00:50:12 h sshd[7]: message repeated 5 times: [ refused connect from 10.0.0.1 (10.0.0.1)]").unwrap();
    assert_eq!((l.4.as_str(), l.5), ("10.0.0.1", 5));
}

#[test]
fn nul_padding_before_a_line_is_ignored() {
    assert!(parsed("\0\0\0Nov 24 00:50:12 h sshd[7]: refused connect from 10.0.0.1").is_some());
}

#[test]
fn file_names_and_their_order() {
    let c = |n: &str| classify(n).map(|(f, a, c)| (FAMILIES[f], a, c));
    assert_eq!(
        c("auth.log"),
        Some(("auth.log", Age::Current, Compression::Plain))
    );
    assert_eq!(
        c("secure.3.gz"),
        Some(("secure", Age::Numbered(3), Compression::Gzip))
    );
    assert_eq!(
        c("messages-20261115.xz"),
        Some((
            "messages",
            Age::Dated(std::cmp::Reverse(b"20261115".to_vec())),
            Compression::Other("xz")
        ))
    );
    for other in [
        "auth.log.gz",
        "auth.log.old",
        "secure.",
        "secure-",
        "securex",
        "syslog",
        "auth.log.1.gz.tmp",
    ] {
        assert_eq!(c(other), None, "{other}");
    }
    let newest_first = [
        "secure",
        "secure-20261122",
        "secure-20261115.gz",
        "secure-20261108",
    ];
    let mut ages: Vec<Age> = newest_first
        .iter()
        .rev()
        .map(|n| classify(n).unwrap().1)
        .collect();
    ages.sort();
    let want: Vec<Age> = newest_first
        .iter()
        .map(|n| classify(n).unwrap().1)
        .collect();
    assert_eq!(ages, want);
    assert!(Age::Numbered(2) < Age::Numbered(10));
}

#[test]
fn mapped_addresses_offer_plain_ipv4() {
    assert_eq!(
        mapped_ipv4(b"::ffff:192.0.2.1").as_deref(),
        Some("192.0.2.1")
    );
    assert_eq!(
        mapped_ipv4(b"::FFFF:192.0.2.1").as_deref(),
        Some("192.0.2.1")
    );
    assert_eq!(mapped_ipv4(b"::ffff:c000:201"), None);
    assert_eq!(mapped_ipv4(b"192.0.2.1"), None);
}

#[test]
fn line_numbers_across_chunks_and_overlong_lines() {
    let mut tally = Tally::default();
    let mut text = Vec::new();
    text.extend_from_slice(b"x\n");
    // The overlong line's tail, starting a chunk of its own, must not read as a line.
    text.extend(std::iter::repeat_n(b'a', CHUNK));
    text.extend_from_slice(b"Nov 24 00:50:12 h sshd[1]: refused connect from 10.0.0.9\n");
    text.extend_from_slice(b"y\nNov 24 00:50:13 h sshd[2]: refused connect from 10.0.0.1\n");
    let mut lines = Lines::new(0, &mut tally);
    lines.read_all(text.as_slice()).unwrap();
    let found = tally.into_refusals(&[]);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].addr, "10.0.0.1");
    assert_eq!(found[0].line, 4);
}

#[test]
fn daemon_and_address_never_run_together() {
    let text = b"Nov 24 00:50:12 h ab[1]: refused connect from 1\n\
                 Nov 24 00:50:13 h a[1]: refused connect from b1\n";
    let found = tally_of(&text[..]);
    let pairs: Vec<_> = found
        .iter()
        .map(|r| (r.daemon.as_str(), r.addr.as_str()))
        .collect();
    assert_eq!(pairs, [("a", "b1"), ("ab", "1")]);
}

/// A reader that hands out its bytes in the given piece sizes, as a pipe or a
/// decompressor might.
struct Chunked<'a> {
    bytes: &'a [u8],
    sizes: Vec<usize>,
    next: usize,
}

impl Read for Chunked<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let want = self
            .sizes
            .get(self.next)
            .copied()
            .unwrap_or(usize::MAX)
            .max(1);
        self.next += 1;
        let n = want.min(buf.len()).min(self.bytes.len());
        buf[..n].copy_from_slice(&self.bytes[..n]);
        self.bytes = &self.bytes[n..];
        Ok(n)
    }
}

fn tally_of(input: impl Read) -> Vec<Refused> {
    let mut tally = Tally::default();
    Lines::new(0, &mut tally)
        .read_all(input)
        .expect("in-memory reads do not fail");
    tally.into_refusals(&[])
}

/// Chunked of real refusal lines and of near misses, glued at random.
fn fragments() -> impl Strategy<Value = Vec<u8>> {
    let parts = prop::sample::select(vec![
        &b"Nov 24 00:50:12 "[..],
        b"2026-11-24T00:50:12.5+01:00 ",
        b"web1 ",
        b"sshd[12]: ",
        b"tcpd: ",
        b"refused connect from ",
        b"message repeated 3 times: [ ",
        b"198.51.100.7",
        b" (198.51.100.7)",
        b"u@",
        b"]",
        b")",
        b" (",
        b"\n",
        b"\r\n",
        b"\0",
        b"\xff\xfe",
        b"[",
        b"@",
    ]);
    prop::collection::vec(parts, 0..60).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    #[test]
    fn no_content_panics(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        let _ = parse_line(&bytes);
        let _ = tally_of(bytes.as_slice());
    }

    #[test]
    fn how_reads_are_split_changes_nothing(
        text in fragments(),
        sizes in prop::collection::vec(1usize..40, 0..50),
    ) {
        let whole = tally_of(text.as_slice());
        let split = tally_of(Chunked { bytes: &text, sizes, next: 0 });
        prop_assert_eq!(whole, split);
    }
}
