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
