use super::recorded::Stream;
use super::*;

#[test]
fn id_format_is_valid_and_sortable() {
    let t = chrono::NaiveDate::from_ymd_opt(2026, 11, 24)
        .and_then(|d| d.and_hms_opt(0, 50, 12))
        .map(|t| t.and_utc())
        .unwrap();
    let mut s = String::new();
    write!(s, "{}", t.format(ID_FORMAT)).unwrap();
    assert_eq!(s, "20261124T005012Z");
    assert_eq!(
        id_key("20261124T005012Z-10"),
        Some(("20261124T005012Z".into(), 10))
    );
    assert!(id_key("20261124T005012Z-10") > id_key("20261124T005012Z-9"));
    assert_eq!(id_key(".lock"), None);
}

#[test]
fn mirrors_stay_inside() {
    assert_eq!(
        mirrored("/etc/hosts.deny").unwrap(),
        PathBuf::from("etc/hosts.deny")
    );
    assert!(mirrored("/etc/../../x").is_err());
    assert!(mirrored("/").is_err());
}

/// A streamed edit list that counts how often it was asked to write itself.
#[derive(Debug)]
struct Counted {
    records: Vec<EditRecord>,
    writes: std::sync::atomic::AtomicUsize,
}

impl Stream for Counted {
    fn write_to(&self, out: &mut dyn Write) -> io::Result<()> {
        self.writes
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        write_list(self.records.iter(), out)
    }
}

fn entry(path: &str, edits: EditList) -> FileEntry {
    FileEntry {
        path: path.into(),
        existed: true,
        backup: None,
        sha256_before: None,
        sha256_after: None,
        size: 0,
        mode: None,
        uid: None,
        gid: None,
        xattr_names: Vec::new(),
        xattr_values: BTreeMap::new(),
        salvaged: String::new(),
        in_place: false,
        edits: Some(Edits::new(edits)),
    }
}

#[test]
fn a_streamed_edit_list_is_written_once_and_copied_byte_for_byte_into_later_saves() {
    let record = |line: u64, after: &str| -> EditRecord {
        serde_json::from_str(&format!(
            r#"{{"kind":"comment","line":{line},"before":"ALL: ALL\n","after":{after:?},"why":"w \"q\""}}"#
        ))
        .unwrap()
    };
    let streamed = |lines: std::ops::Range<u64>| {
        std::sync::Arc::new(Counted {
            records: lines.map(|l| record(l, "# m\n#ALL: ALL\n")).collect(),
            writes: 0.into(),
        })
    };
    // Two streamed lists around one given as records: each mark gets its own list.
    let (first, second) = (streamed(1..400), streamed(7..9));
    let given = vec![record(3, "sshd: 10.0.0.1\n")];
    let lists = |as_records: bool| {
        let list = |s: &std::sync::Arc<Counted>| match as_records {
            true => EditList::from(s.records.clone()),
            false => EditList::Streamed(s.clone()),
        };
        [
            entry("/etc/hosts.allow", list(&first)),
            entry("/etc/x", EditList::from(given.clone())),
            entry("/etc/hosts.deny", list(&second)),
        ]
    };
    let dir = tempfile::tempdir().unwrap();
    let saved = |as_records: bool, saves: &[bool]| {
        let sub = dir
            .path()
            .join(if as_records { "records" } else { "streamed" });
        std::fs::create_dir(&sub).unwrap();
        let mut set = SetWriter::create(&sub, "fix", &Value::Null, None, Some("ID")).unwrap();
        set.manifest.time = "T".into();
        set.manifest.files.extend(lists(as_records));
        for &complete in saves {
            set.save(complete).unwrap();
        }
        std::fs::read(set.dir.join(MANIFEST)).unwrap()
    };
    let streamed_text = saved(false, &[false, false, true]);
    assert_eq!(first.writes.load(std::sync::atomic::Ordering::Relaxed), 1);
    assert_eq!(second.writes.load(std::sync::atomic::Ordering::Relaxed), 1);
    let text = String::from_utf8(streamed_text).unwrap();
    assert_eq!(text, String::from_utf8(saved(true, &[true])).unwrap());
    assert!(text.contains("\"complete\": true"), "{text}");
    let back: Manifest = serde_json::from_str(&text).unwrap();
    let records: Vec<_> = back
        .files
        .iter()
        .map(|f| f.edits.as_ref().unwrap().records().unwrap())
        .collect();
    assert_eq!(
        records,
        [first.records.clone(), given, second.records.clone()]
    );
}
