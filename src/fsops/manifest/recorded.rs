//! The edits a manifest records for each file: given as records, or already encoded by the
//! caller, and encoded once however often the manifest is saved.

use std::sync::{Arc, OnceLock};

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::fsops::Records;

/// The edits a change set records for one file, for a later rollback.
#[derive(Debug, Clone)]
pub enum EditList {
    Records(Records),
    /// Encoded by the caller from edits of its own ([`EditList::encode`]): a comment plan's
    /// 50,000 records, built only to be encoded, held 14 MB.
    Encoded(Arc<Box<RawValue>>),
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

impl EditList {
    /// `items`, each serialized as an [`EditRecord`](crate::model::edit::EditRecord) is,
    /// laid out as the manifest keeps them: one edit a line, indented as the
    /// pretty-printed manifest around them (a raw value is written as it is), so that
    /// `grep` finds an edit and a diff of two manifests is readable.
    pub fn encode<T: Serialize>(
        items: impl IntoIterator<Item = T>,
    ) -> serde_json::Result<EditList> {
        encode(items).map(|json| EditList::Encoded(Arc::new(json)))
    }
}

fn encode<T: Serialize>(items: impl IntoIterator<Item = T>) -> serde_json::Result<Box<RawValue>> {
    const INDENT: &[u8] = b"        ";
    let mut json = b"[".to_vec();
    let mut empty = true;
    for item in items {
        json.extend_from_slice(if empty { b"\n" } else { b",\n" });
        json.extend_from_slice(INDENT);
        serde_json::to_writer(&mut json, &item)?;
        empty = false;
    }
    json.extend_from_slice(if empty { b"]" } else { b"\n      ]" });
    let json = String::from_utf8(json).map_err(serde::ser::Error::custom)?;
    RawValue::from_string(json)
}

/// A manifest's `edits` of one file, encoded at most once: a change set saves its
/// manifest two or three times (before any target is touched, after each file but the
/// last, complete), and encoding 50,000 edits (12 MB of JSON) was most of each save.
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

    /// The records, parsed again if they came encoded.
    pub(super) fn records(&self) -> serde_json::Result<Vec<crate::model::edit::EditRecord>> {
        match &self.list {
            EditList::Records(records) => Ok(records.as_ref().clone()),
            EditList::Encoded(json) => serde_json::from_str(json.get()),
        }
    }
}

impl Serialize for Edits {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let records = match &self.list {
            EditList::Encoded(json) => return json.serialize(serializer),
            EditList::Records(records) => records,
        };
        if let Some(json) = self.json.get() {
            return json.serialize(serializer);
        }
        let json = encode(records.iter()).map_err(serde::ser::Error::custom)?;
        self.json.get_or_init(|| json).serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Edits {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Records::deserialize(deserializer).map(|r| Edits::new(EditList::Records(r)))
    }
}
