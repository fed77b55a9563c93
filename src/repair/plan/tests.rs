use super::*;
use crate::model::bytes::Bytes;

/// The edits of one file as [`EditRecord`]s (what [`revert`] reads back from a manifest).
fn records(edits: &[Edit], role: Role) -> Vec<EditRecord> {
    // Sized at once: a comment plan has 50,000 (grown by doubling, 1.6 MB of slack).
    let mut out = Vec::with_capacity(edits.iter().filter(|e| e.role == role).count());
    out.extend(edits.iter().filter(|e| e.role == role).map(|e| EditRecord {
        kind: e.kind.record(),
        line: u64::from(e.line),
        before: Bytes::from(&e.before[..]),
        after: Bytes(e.after_bytes().into_owned()),
        next: None,
        why: e.why.to_string(),
    }));
    out
}

fn edit(kind: EditKind, line: u32, before: &[u8], after: &[u8]) -> Edit {
    Edit {
        role: Role::Deny,
        kind,
        at: 0,
        line,
        before: before.into(),
        after: after.into(),
        why: "".into(),
    }
}

#[test]
fn revert_undoes_only_our_edits_and_keeps_appended_bans() {
    let edits = records(
        &[edit(
            EditKind::Comment,
            2,
            b"ALL: ALL\n",
            b"# wrapfix X: m\n#ALL: ALL\n",
        )],
        Role::Deny,
    );
    let now = b"a\n# wrapfix X: m\n#ALL: ALL\nALL: 192.0.2.9\n";
    assert_eq!(
        revert("/etc/hosts.deny", now, Some(&edits)).unwrap(),
        b"a\nALL: ALL\nALL: 192.0.2.9\n"
    );
}

#[test]
fn revert_refuses_when_our_lines_are_gone() {
    let edits = records(
        &[edit(
            EditKind::Insert,
            1,
            b"",
            b"# wrapfix X: m\nsshd: 10.0.0.1\n",
        )],
        Role::Deny,
    );
    assert!(revert("/etc/hosts.allow", b"sshd: 10.0.0.2\n", Some(&edits)).is_err());
    assert_eq!(
        revert(
            "/etc/hosts.allow",
            b"# wrapfix X: m\nsshd: 10.0.0.1\nx\n",
            Some(&edits)
        )
        .unwrap(),
        b"x\n"
    );
}

#[test]
fn a_final_newline_is_taken_back_only_while_it_is_last() {
    let edits = records(
        &[edit(EditKind::FinalNewline, 3, b"ALL: ALL", b"ALL: ALL\n")],
        Role::Deny,
    );
    assert_eq!(
        revert("/etc/hosts.deny", b"a\nALL: ALL\n", Some(&edits)).unwrap(),
        b"a\nALL: ALL"
    );
    assert!(
        revert(
            "/etc/hosts.deny",
            b"a\nALL: ALL\nALL: 1.2.3.4\n",
            Some(&edits)
        )
        .is_err()
    );
}

#[test]
fn rebase_keeps_bans_appended_meanwhile_and_anchors_on_content() {
    let original = b"# h\nALL: ALL\n";
    let e = Edit {
        role: Role::Deny,
        kind: EditKind::Comment,
        at: 4,
        line: 2,
        before: b"ALL: ALL\n"[..].into(),
        after: b"# m\n#ALL: ALL\n"[..].into(),
        why: "".into(),
    };
    let appended = b"# h\nALL: ALL\nALL: 192.0.2.1\n";
    assert_eq!(
        rebase(std::slice::from_ref(&e), Role::Deny, original, appended).unwrap(),
        b"# h\n# m\n#ALL: ALL\nALL: 192.0.2.1\n"
    );
    let shifted = b"ALL: 192.0.2.7\n# h\nALL: ALL\n";
    assert_eq!(
        rebase(std::slice::from_ref(&e), Role::Deny, original, shifted).unwrap(),
        b"ALL: 192.0.2.7\n# h\n# m\n#ALL: ALL\n"
    );
    assert!(rebase(std::slice::from_ref(&e), Role::Deny, original, b"# h\n").is_err());
    // Two edits of identical rules, one of the rules gone since: both would anchor on
    // the one left.
    let mut twice = e.clone();
    twice.at = 13;
    twice.line = 3;
    let original = b"# h\nALL: ALL\nALL: ALL\n";
    assert!(rebase(&[e, twice], Role::Deny, original, b"x\n# h\nALL: ALL\n").is_err());
}

/// Issue 9 item 13: a rule continued onto an unterminated last line got a comment edit
/// and a final-newline edit over the same bytes, and render panicked on the overlap.
#[test]
fn overlapping_edits_are_merged_and_never_rendered_twice() {
    let bytes = b"sshd: ALL \\\n EXCEPT 10.0.0.1";
    let mut newline = edit(
        EditKind::FinalNewline,
        2,
        b" EXCEPT 10.0.0.1",
        b" EXCEPT 10.0.0.1\n",
    );
    newline.at = 12;
    let mut comment = edit(
        EditKind::Comment,
        1,
        bytes,
        b"# m\n#sshd: ALL \\\n# EXCEPT 10.0.0.1\n",
    );
    comment.at = 0;
    assert_eq!(
        settle(vec![newline.clone(), comment.clone()]),
        vec![comment.clone()],
        "the comment ends the line too"
    );
    assert_eq!(
        settle(vec![comment.clone(), newline.clone()]),
        vec![comment.clone()]
    );
    let tables = Tables::from_bytes(None, Some(bytes));
    // Even edits that overlap (which planning never makes) render without a panic.
    let both = [newline, comment];
    assert!(render(&tables, &both).deny.is_some());
}

#[test]
fn managed_regions_are_found_and_insertions_move_above_them() {
    let doc = Document::new(
        b"sshd: 10.0.0.9\n###sshguard###\nALL : 192.0.2.1 : DENY\n###sshguard###\n# BEGIN ANSIBLE MANAGED BLOCK\nALL: ALL: DENY\n# END ANSIBLE MANAGED BLOCK\n".to_vec(),
    );
    let regions = managed_regions(&doc);
    assert_eq!(regions, vec![15..68, 68..141], "{regions:?}");
    // Inside sshguard's block: above its first marker, on line 2.
    assert_eq!(outside_managed_regions(&doc, (30, 3)), (15, 2));
    assert_eq!(outside_managed_regions(&doc, (98, 6)), (68, 5));
    // At a region's first line or outside it: unchanged.
    assert_eq!(outside_managed_regions(&doc, (15, 2)), (15, 2));
    assert_eq!(outside_managed_regions(&doc, (0, 1)), (0, 1));
    // An unclosed block runs to the end.
    let open = Document::new(b"###sshguard###\nALL : 192.0.2.1 : DENY\n".to_vec());
    assert_eq!(outside_managed_regions(&open, (15, 2)), (0, 1));
}

#[test]
fn non_utf8_edits_round_trip_through_the_manifest() {
    let recorded = records(
        &[edit(
            EditKind::Comment,
            1,
            b"ALL: \xff\n",
            b"# m\n#ALL: \xff\n",
        )],
        Role::Deny,
    );
    let json = serde_json::to_string(&recorded).unwrap();
    assert!(json.contains(r#""after":{"hex":"#), "{json}");
    let edits: Vec<EditRecord> = serde_json::from_str(&json).unwrap();
    assert_eq!(edits, recorded);
    assert_eq!(
        revert("/etc/hosts.deny", b"# m\n#ALL: \xff\n", Some(&edits)).unwrap(),
        b"ALL: \xff\n"
    );
}

#[test]
fn a_damaged_edit_record_is_refused_not_guessed() {
    // Before the records were typed, an unknown kind or a missing line number became
    // kind "" or line 1 and was applied anyway.
    let good = r#"{"kind":"insert","line":1,"before":"","after":"sshd: 10.0.0.1\n","why":"w"}"#;
    assert!(serde_json::from_str::<EditRecord>(good).is_ok());
    for bad in [
        good.replace("insert", "rewrite"),
        good.replace(r#""line":1,"#, ""),
        good.replace(r#""before":"""#, r#""before":{"hex":"zz"}"#),
        good.replace(r#""why":"w""#, r#""why":"w","extra":1"#),
    ] {
        assert!(serde_json::from_str::<EditRecord>(&bad).is_err(), "{bad}");
    }
    assert_eq!(
        revert("/etc/hosts.allow", b"x\n", None),
        Err("the manifest has no edit list for /etc/hosts.allow".to_string())
    );
}

#[test]
fn edits_streamed_straight_from_the_plan_are_the_records_encoded() {
    let mut commented = edit(EditKind::Comment, 3, b"ALL: \xff \\\r\n  x\r\n", b"");
    commented.after = After::Commented(b"# wrapfix X: commented out: w\r\n"[..].into());
    commented.why = "w".into();
    let edits: std::sync::Arc<[Edit]> = vec![
        edit(EditKind::Insert, 1, b"", b"# m\nsshd: 192.0.2.1\n"),
        commented,
        edit(EditKind::FinalNewline, 9, b"ALL: ALL", b"ALL: ALL\n"),
    ]
    .into();
    let mut streamed = Vec::new();
    match recorded(&edits, Role::Deny) {
        crate::fsops::EditList::Streamed(s) => s.write_to(&mut streamed).unwrap(),
        other => panic!("not streamed: {other:?}"),
    }
    let straight = String::from_utf8(streamed).unwrap();
    let mut via_records = Vec::new();
    crate::fsops::write_list(records(&edits, Role::Deny).iter(), &mut via_records).unwrap();
    assert_eq!(straight.as_bytes(), via_records);
    let parsed: Vec<EditRecord> = serde_json::from_str(&straight).unwrap();
    assert_eq!(parsed, records(&edits, Role::Deny));
    assert_eq!(parsed[1].after.as_slice(), &edits[1].after_bytes()[..]);
    assert_eq!(
        straight.lines().count(),
        2 + edits.len(),
        "one edit a line:\n{straight}"
    );
}

#[test]
fn the_planned_bytes_are_reused_only_where_rebase_would_make_them_again() {
    let original = b"# h\nALL: ALL\nsshd: 10.0.0.1\n";
    let at = |e: Edit, at: usize| Edit { at, ..e };
    let first = at(
        edit(EditKind::Comment, 2, b"ALL: ALL\n", b"# m\n#ALL: ALL\n"),
        4,
    );
    let second = at(
        edit(
            EditKind::Comment,
            3,
            b"sshd: 10.0.0.1\n",
            b"#sshd: 10.0.0.1\n",
        ),
        13,
    );
    let fits = [first.clone(), second.clone()];
    assert!(applies_as_planned(&fits, Role::Deny, original));
    assert_eq!(
        rebase(&fits, Role::Deny, original, original).unwrap(),
        b"# h\n# m\n#ALL: ALL\n#sshd: 10.0.0.1\n"
    );
    // Overlapping, or past the end: rebase refuses, so the rendering is not the answer.
    let overlapping = [first.clone(), at(second.clone(), 8)];
    assert!(!applies_as_planned(&overlapping, Role::Deny, original));
    assert!(rebase(&overlapping, Role::Deny, original, original).is_err());
    let beyond = [at(second, 20)];
    assert!(!applies_as_planned(&beyond, Role::Deny, original));
    assert!(rebase(&beyond, Role::Deny, original, original).is_err());
    // No final newline: rebase anchors by content instead; it is made again.
    assert!(!applies_as_planned(&[first], Role::Deny, b"# h\nALL: ALL"));
}
