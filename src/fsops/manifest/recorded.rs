//! The edits a manifest records for each file: given as records, or streamed by the caller
//! straight from edits of its own, so that a comment plan's 50,000 edits (12.5 MB of JSON)
//! are never held encoded.

use std::fmt;
use std::io::{self, Write};
use std::sync::{Arc, OnceLock};

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::fsops::Records;

/// The edits a change set records for one file, for a later rollback.
#[derive(Debug, Clone)]
pub enum EditList {
    Records(Records),
    /// Written into each save by the caller ([`Stream`]): a comment plan's records, built
    /// only to be encoded, held 14 MB, and their JSON, held from the first save to the last,
    /// 12.5 MB.
    Streamed(Arc<dyn Stream>),
}

/// Edits that write themselves as a manifest's list of one file's edits: the JSON array of
/// their [`EditRecord`](crate::model::edit::EditRecord)s, laid out by [`write_list`].
pub trait Stream: fmt::Debug + Send + Sync {
    fn write_to(&self, out: &mut dyn Write) -> io::Result<()>;
}

impl Default for EditList {
    fn default() -> EditList {
        EditList::Records(Records::default())
    }
}

impl From<Vec<crate::model::edit::EditRecord>> for EditList {
    fn from(records: Vec<crate::model::edit::EditRecord>) -> EditList {
        EditList::Records(records.into())
    }
}

/// `items`, each serialized as an [`EditRecord`](crate::model::edit::EditRecord) is, laid
/// out as the manifest keeps them: one edit a line, indented as the pretty-printed manifest
/// around them, so that `grep` finds an edit and a diff of two manifests is readable.
pub fn write_list<T: Serialize>(
    items: impl IntoIterator<Item = T>,
    out: &mut dyn Write,
) -> io::Result<()> {
    const INDENT: &[u8] = b"        ";
    out.write_all(b"[")?;
    let mut empty = true;
    for item in items {
        out.write_all(if empty { b"\n" } else { b",\n" })?;
        out.write_all(INDENT)?;
        serde_json::to_writer(&mut *out, &item)?;
        empty = false;
    }
    out.write_all(if empty { b"]" } else { b"\n      ]" })
}

fn encode(list: &EditList) -> serde_json::Result<Box<RawValue>> {
    let mut json = Vec::new();
    match list {
        EditList::Records(records) => write_list(records.iter(), &mut json),
        EditList::Streamed(stream) => stream.write_to(&mut json),
    }
    .map_err(serde_json::Error::io)?;
    let json = String::from_utf8(json).map_err(serde::ser::Error::custom)?;
    RawValue::from_string(json)
}

/// What a manifest's text holds where a streamed list goes: a JSON string serde_json never
/// writes for a string of its own (it escapes no letter), so it cannot be a path or a
/// client in the manifest.
pub(super) const STREAM_MARK: &str = r#""\u0045dits written here""#;

/// A manifest's `edits` of one file, encoded at most once when given as records (a change
/// set saves its manifest two or three times: before any target is touched, after each
/// file but the last, complete).
#[derive(Debug, Clone)]
pub(super) struct Edits {
    pub(super) list: EditList,
    json: OnceLock<Box<RawValue>>,
}

impl Edits {
    pub(super) fn new(list: EditList) -> Edits {
        Edits {
            list,
            json: OnceLock::new(),
        }
    }

    /// The records, parsed again if they were streamed.
    pub(super) fn records(&self) -> serde_json::Result<Vec<crate::model::edit::EditRecord>> {
        match &self.list {
            EditList::Records(records) => Ok(records.as_ref().clone()),
            EditList::Streamed(_) => serde_json::from_str(encode(&self.list)?.get()),
        }
    }

    /// The streamed list, which the manifest's writer puts where [`STREAM_MARK`] is.
    pub(super) fn streamed(&self) -> Option<&Arc<dyn Stream>> {
        match &self.list {
            EditList::Streamed(s) => Some(s),
            EditList::Records(_) => None,
        }
    }
}

impl Serialize for Edits {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if self.streamed().is_some() {
            let mark: &RawValue =
                serde_json::from_str(STREAM_MARK).map_err(serde::ser::Error::custom)?;
            return mark.serialize(serializer);
        }
        if let Some(json) = self.json.get() {
            return json.serialize(serializer);
        }
        let json = encode(&self.list).map_err(serde::ser::Error::custom)?;
        self.json.get_or_init(|| json).serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Edits {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Records::deserialize(deserializer).map(|r| Edits::new(EditList::Records(r)))
    }
}
