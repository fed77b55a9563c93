//! The two ways wrapfix writes bytes into JSON, in one place: lowercase hex (hashes, the
//! manifest's salvaged bytes and xattr values), and [`Bytes`], a string when the bytes are
//! UTF-8 and `{"hex": "…"}` otherwise (the report's `before`/`after`, the manifest's edit
//! records; docs/json.md). And bytes as lines, the way libwrap and the diffs split them.

use std::fmt::Write;

use serde::de::{self, Deserializer};
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};

/// Lowercase hex, two digits a byte.
pub fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// The bytes of [`hex`]'s text; `None` for anything else (odd length, a non-hex digit).
pub fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// Bytes that JSON shows as text when they are UTF-8, as `{"hex": …}` when not: table lines
/// are usually text, but a hostile or broken one must round-trip byte for byte.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Bytes(pub Vec<u8>);

impl Bytes {
    pub fn as_slice(&self) -> &[u8] {
        &self.0
    }
}

impl From<&[u8]> for Bytes {
    fn from(b: &[u8]) -> Self {
        Bytes(b.to_vec())
    }
}

impl From<Vec<u8>> for Bytes {
    fn from(b: Vec<u8>) -> Self {
        Bytes(b)
    }
}

/// [`Bytes`]'s JSON form of borrowed bytes, for documents built as `serde_json::Value`.
pub fn json(b: &[u8]) -> serde_json::Value {
    match std::str::from_utf8(b) {
        Ok(s) => serde_json::Value::String(s.to_string()),
        Err(_) => serde_json::json!({"hex": hex(b)}),
    }
}

impl Serialize for Bytes {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        BytesRef(&self.0).serialize(s)
    }
}

/// [`Bytes`]'s JSON form of borrowed bytes, for documents serialized straight from the
/// data they describe.
pub struct BytesRef<'a>(pub &'a [u8]);

impl Serialize for BytesRef<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match std::str::from_utf8(self.0) {
            Ok(text) => s.serialize_str(text),
            Err(_) => {
                let mut m = s.serialize_map(Some(1))?;
                m.serialize_entry("hex", &hex(self.0))?;
                m.end()
            }
        }
    }
}

impl<'de> Deserialize<'de> for Bytes {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Form {
            Text(String),
            Hex { hex: String },
        }
        match Form::deserialize(d)? {
            Form::Text(t) => Ok(Bytes(t.into_bytes())),
            Form::Hex { hex } => unhex(&hex)
                .map(Bytes)
                .ok_or_else(|| de::Error::custom(format!("bad hex bytes {hex:?}"))),
        }
    }
}

/// Lines as libwrap sees them: split after each `\n` only (similar's own line splitter
/// would also split at a bare CR).
pub fn lines(bytes: &[u8]) -> Vec<&[u8]> {
    bytes.split_inclusive(|&b| b == b'\n').collect()
}

/// Bytes of the whole lines both sides start with, and how many lines that is.
pub fn common_head(a: &[u8], b: &[u8]) -> (usize, usize) {
    let same = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    let start = a[..same]
        .iter()
        .rposition(|&c| c == b'\n')
        .map_or(0, |i| i + 1);
    (start, memchr::memchr_iter(b'\n', &a[..start]).count())
}

/// Bytes of the whole lines both sides end with (after their common head).
pub fn common_tail(a: &[u8], b: &[u8]) -> usize {
    let mut same = a
        .iter()
        .rev()
        .zip(b.iter().rev())
        .take_while(|(x, y)| x == y)
        .count();
    // The tail must start at a line start on both sides; else drop its first (partial) line.
    let at_line_start = |s: &[u8], n: usize| n == s.len() || s[s.len() - n - 1] == b'\n';
    while same > 0 && !(at_line_start(a, same) && at_line_start(b, same)) {
        let tail = &a[a.len() - same..];
        same = tail
            .iter()
            .position(|&c| c == b'\n')
            .map_or(0, |i| same - i - 1);
    }
    same
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trips_and_rejects_what_it_never_writes() {
        assert_eq!(unhex(&hex(b"\x00\xffa")), Some(b"\x00\xffa".to_vec()));
        assert_eq!(unhex("abc"), None);
        assert_eq!(unhex("zz"), None);
    }

    #[test]
    fn bytes_are_text_when_they_can_be_and_hex_when_not() {
        for b in [&b"sshd: 10.0.0.1\n"[..], b"\xff\x00bad", b""] {
            let v = serde_json::to_value(Bytes::from(b)).unwrap();
            assert_eq!(v, json(b));
            assert_eq!(serde_json::from_value::<Bytes>(v).unwrap().0, b);
        }
        assert!(serde_json::from_str::<Bytes>(r#"{"hex": "f"}"#).is_err());
        assert!(serde_json::from_str::<Bytes>("12").is_err());
    }
}
