use super::*;

fn entries(bytes: &[u8], flavor: Flavor) -> Vec<Entry<'_>> {
    // The iterator borrows the document; rebuild the entries against a leaked copy.
    let doc: &'static Document = Box::leak(Box::new(Document::new(bytes.to_vec())));
    doc.entries(flavor).collect()
}

#[test]
fn physical_lines_keep_their_terminators() {
    let doc = Document::new(b"a\r\nb\n\nc".to_vec());
    let lines: Vec<_> = doc.lines().collect();
    assert_eq!(lines.len(), 4);
    assert_eq!(lines[0].terminator, Terminator::CrLf);
    assert_eq!(lines[0].content, b"a");
    assert_eq!(lines[2].content, b"");
    assert_eq!(lines[3].terminator, Terminator::None);
    assert_eq!(lines[3].number, 4);
}

#[test]
fn continuation_joins_without_a_space_and_spans_both_lines() {
    let e = entries(b"sshd: 10.0.\\\n0.1\n", Flavor::Debian);
    let Entry::Rule(r) = &e[0] else {
        panic!("{e:?}")
    };
    assert_eq!(r.text(), b"sshd: 10.0.0.1\n");
    assert_eq!((r.logical.line, r.logical.last_line), (1, 2));
}

#[test]
fn comment_continued_by_backslash_swallows_the_next_line() {
    let e = entries(b"# note \\\nALL: ALL\n", Flavor::Debian);
    assert_eq!(e.len(), 1);
    assert!(matches!(e[0], Entry::Comment(_)));
}

#[test]
fn nul_drops_the_rest_of_the_physical_line_and_glues_the_next() {
    let e = entries(b"sshd: 10.0.0.2\x00junk\n, 10.0.0.1\n", Flavor::Debian);
    let Entry::Rule(r) = &e[0] else { panic!() };
    assert_eq!(r.text(), b"sshd: 10.0.0.2, 10.0.0.1\n");
    assert_eq!(e.len(), 1);
}

#[test]
fn a_line_starting_with_nul_vanishes() {
    let e = entries(b"\x00ALL: ALL\nsshd: x\n", Flavor::Debian);
    assert_eq!(e.len(), 1);
    let Entry::Rule(r) = &e[0] else { panic!() };
    assert_eq!(r.text(), b"sshd: x\n");
    assert_eq!(r.logical.line, 2);
}

#[test]
fn missing_final_newline_is_a_table_error_on_debian_and_skipped_on_rhel() {
    let e = entries(b"sshd: a\n# end", Flavor::Debian);
    assert!(matches!(
        e[1],
        Entry::TableError(_, Unterminated::MissingNewline)
    ));
    let e = entries(b"sshd: a\n# end", Flavor::Rhel7);
    assert!(matches!(
        e[1],
        Entry::Skipped(_, Unterminated::MissingNewline)
    ));
}

#[test]
fn the_2047_byte_limit() {
    let mut ok = b"sshd: x".to_vec();
    ok.resize(2046, b'x');
    ok.push(b'\n');
    ok.extend_from_slice(b"ALL: ALL\n");
    let e = entries(&ok, Flavor::Debian);
    assert_eq!(e.len(), 2);
    assert!(matches!(e[1], Entry::Rule(_)));

    let mut long = b"sshd: x".to_vec();
    long.resize(2047, b'x');
    long.push(b'\n');
    long.extend_from_slice(b"ALL: ALL\n");
    let e = entries(&long, Flavor::Debian);
    assert_eq!(e.len(), 1);
    assert!(matches!(e[0], Entry::TableError(_, Unterminated::TooLong)));
    let e = entries(&long, Flavor::Rhel7);
    assert!(matches!(e[0], Entry::Hang(_)));
    let e = entries(&long, Flavor::Rhel6);
    assert!(matches!(e[0], Entry::Skipped(_, Unterminated::TooLong)));
    assert!(matches!(e[1], Entry::Rule(_)));
    assert_eq!(e[1].logical().line, 2);
}

#[test]
fn centos6_loses_the_line_after_a_nul_and_drops_an_unterminated_last_line() {
    let e = entries(b"a: b\n\x00x: y\nc: d\nlast: e", Flavor::Rhel6);
    let rules: Vec<_> = e
        .iter()
        .filter_map(|e| {
            if let Entry::Rule(r) = e {
                Some(r.text().to_vec())
            } else {
                None
            }
        })
        .collect();
    assert_eq!(rules, vec![b"a: b\n".to_vec()]);
    let e = entries(b"a: b\nx\x00y\nc: d\ne: f\n", Flavor::Rhel6);
    assert!(matches!(e[1], Entry::Skipped(_, Unterminated::NulByte)));
    assert_eq!(e[2].logical().line, 4);
}

#[test]
fn find3_finds_the_first_of_three_bytes_at_any_offset() {
    for len in 0..40 {
        for at in 0..len {
            let mut v = vec![b'x'; len];
            v[at] = b']';
            if at + 3 < len {
                v[at + 3] = b':';
            }
            assert_eq!(find3(&v, b':', b'[', b']'), Some(at), "{len} {at}");
        }
        assert_eq!(find3(&vec![0x80u8; len], b':', b'[', b']'), None);
    }
}

#[test]
fn only_column_one_hash_is_a_comment() {
    let e = entries(b"  # sshd : ALL\n", Flavor::Debian);
    let Entry::Rule(r) = &e[0] else { panic!() };
    assert_eq!(r.daemon_list(), b"  # sshd ");
}

#[test]
fn field_split_is_bracket_aware_and_stops_after_two_colons() {
    let e = entries(b"sshd: [::1]: spawn a:b\n", Flavor::Debian);
    let Entry::Rule(r) = &e[0] else { panic!() };
    assert_eq!(r.client_list(), b" [::1]");
    assert_eq!(r.options_field(), Some(&b" spawn a:b\n"[..]));
    let e = entries(b"sshd]: ALL\n", Flavor::Debian);
    assert!(matches!(e[0], Entry::NoSeparator(_)));
}
