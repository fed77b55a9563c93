//! The reader never loses a byte and never panics, whatever the file holds.

use proptest::prelude::*;
use wrapfix::eval::evaluate;
use wrapfix::model::client::Client;
use wrapfix::model::flavor::Flavor;
use wrapfix::model::syntax::{Document, Entry};
use wrapfix::model::tables::Tables;

use crate::support::Eval;

/// Bytes that stress the reader: rule-ish text, separators, CR, backslashes, NULs,
/// brackets, and the odd long run.
fn hostile() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        Just(b"sshd".to_vec()),
        Just(b"ALL".to_vec()),
        Just(b": ".to_vec()),
        Just(b":".to_vec()),
        Just(b"\n".to_vec()),
        Just(b"\r\n".to_vec()),
        Just(b"\\\n".to_vec()),
        Just(b"\x00".to_vec()),
        Just(b"#".to_vec()),
        Just(b"  ".to_vec()),
        Just(b"[::1]".to_vec()),
        Just(b"]".to_vec()),
        Just(b"10.0.0.1".to_vec()),
        Just(b" EXCEPT ".to_vec()),
        Just(b".example.com".to_vec()),
        Just(b"allow".to_vec()),
        Just(b"aclexec /bin/false".to_vec()),
        Just(b"/file".to_vec()),
        prop::collection::vec(any::<u8>(), 0..8),
        (1usize..2100).prop_map(|n| vec![b'x'; n]),
    ];
    prop::collection::vec(piece, 0..40).prop_map(|v| v.concat())
}

fn check(bytes: &[u8]) {
    let doc = Document::new(bytes.to_vec());
    let mut again = Vec::new();
    for line in doc.lines() {
        again.extend_from_slice(line.content);
        again.extend_from_slice(line.terminator.as_bytes());
    }
    assert_eq!(again, bytes, "physical lines do not give the file back");
    for flavor in [Flavor::Debian, Flavor::Rhel7, Flavor::Rhel6] {
        let mut last_end = 0;
        for entry in doc.entries(flavor) {
            let l = entry.logical();
            assert!(
                l.span.start >= last_end && l.span.end <= bytes.len() && l.span.start <= l.span.end
            );
            assert!(l.text.len() < 2048, "libwrap's buffer holds 2047 bytes");
            last_end = l.span.end;
            if let Entry::Rule(r) = &entry {
                let _ = (r.daemon_list(), r.client_list(), r.options_field());
            }
        }
        let eval = Eval::daemon(flavor)
            .root("/nonexistent-wrapfix-root")
            .no_accounts();
        let env = eval.env();
        let tables = Tables::from_bytes(Some(bytes), Some(bytes));
        for spec in ["10.0.0.1", "::1", "::ffff:10.0.0.1=a.example.com"] {
            let client = Client::parse(spec, flavor).expect("client");
            let _ = evaluate(&tables, "sshd", &client, &env);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn any_bytes_round_trip_and_evaluate_without_panic(bytes in hostile()) {
        check(&bytes);
    }

    #[test]
    fn arbitrary_binary_garbage_too(bytes in prop::collection::vec(any::<u8>(), 0..3000)) {
        check(&bytes);
    }
}

#[test]
fn a_ten_megabyte_line_is_read_without_trouble() {
    let mut bytes = b"sshd: ".to_vec();
    bytes.resize(10 << 20, b'1');
    bytes.extend_from_slice(b"\nALL: ALL\n");
    check(&bytes);
}
