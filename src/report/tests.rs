use super::*;

#[test]
fn wrap_breaks_between_words_keeps_columns_and_never_splits_a_word() {
    assert_eq!(wrap("a  b", None, "> ", "  "), "> a  b\n");
    assert_eq!(
        wrap("one two three", Some(9), "", "  "),
        "one two\n  three\n"
    );
    assert_eq!(wrap("Undo:   x", Some(80), "", ""), "Undo:   x\n");
    let path = "/a/very/long/path/that/does/not/fit";
    assert_eq!(
        wrap(&format!("see {path} now"), Some(12), "", ""),
        format!("see\n{path}\nnow\n")
    );
    // Colour does not count.
    assert_eq!(
        wrap("\x1b[1mab\x1b[0m cd", Some(5), "", ""),
        "\x1b[1mab\x1b[0m cd\n"
    );
}
