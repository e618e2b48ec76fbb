//! An object serialized before it reaches the store, with the place of its resourceVersion
//! marked.
//!
//! The store stamps `metadata.resourceVersion` into every object it writes, and only its single
//! writer knows the version. Serializing there would put every write's JSON encoding on one
//! thread; instead the request serializes the object beforehand (on its own task, from a
//! borrow, so it keeps its value for the response) and the writer splices the version in. The
//! bytes are exactly what serializing the object with the version set would give: the version
//! takes the place of an existing `resourceVersion` key, or comes last in `metadata`.

use super::StoredObject;
use bytes::Bytes;
use serde_json::{Map, Value};

/// Where the resourceVersion goes in [`Encoded::json`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Slot {
    /// Byte offset.
    at: usize,
    /// Whether a `metadata` entry precedes the slot (the version needs a comma before it).
    after_entry: bool,
    /// Whether a `metadata` entry follows the slot (the version needs a comma after it).
    before_entry: bool,
}

/// An object's JSON without its resourceVersion, and where the version goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encoded {
    json: Vec<u8>,
    /// None when the object has no `metadata` object (nothing is stamped then).
    slot: Option<Slot>,
}

const KEY: &str = "resourceVersion";

impl Encoded {
    /// Serializes `value` (as `serde_json` does, compactly), leaving out
    /// `metadata.resourceVersion`.
    pub fn new(value: &Value) -> Encoded {
        let mut json = Vec::with_capacity(512);
        let slot = match value {
            Value::Object(map) => write_object(&mut json, map),
            other => {
                write_json(&mut json, other);
                None
            }
        };
        Encoded { json, slot }
    }

    /// The JSON without the resourceVersion (what a shared medium stores: the version is the
    /// medium's revision of the write, known only once it is committed).
    pub fn unstamped(&self) -> &[u8] {
        &self.json
    }

    /// The stored object at `resource_version`: the version spliced into its slot.
    pub fn stamp(self, resource_version: u64) -> StoredObject {
        let Some(slot) = self.slot else {
            return StoredObject::new(resource_version, Bytes::from(self.json.into_boxed_slice()));
        };
        let rv = resource_version.to_string();
        // `"resourceVersion":"N"` and up to one comma.
        let extra = KEY.len() + rv.len() + 6;
        // Exactly sized, as `StoredObject::from_value` sizes it: the object is kept for as long
        // as it is stored.
        let mut json = Vec::with_capacity(self.json.len() + extra);
        json.extend_from_slice(&self.json[..slot.at]);
        if slot.after_entry {
            json.push(b',');
        }
        json.extend_from_slice(b"\"resourceVersion\":\"");
        json.extend_from_slice(rv.as_bytes());
        json.push(b'"');
        if slot.before_entry {
            json.push(b',');
        }
        json.extend_from_slice(&self.json[slot.at..]);
        StoredObject::new(resource_version, Bytes::from(json.into_boxed_slice()))
    }
}

fn write_json(out: &mut Vec<u8>, value: &(impl serde::Serialize + ?Sized)) {
    // Writing into a Vec cannot fail, nor can serializing a `Value` or a string.
    let _ = serde_json::to_writer(&mut *out, value);
}

/// The top level: returns the version's slot if `metadata` is an object.
fn write_object(out: &mut Vec<u8>, map: &Map<String, Value>) -> Option<Slot> {
    let mut slot = None;
    out.push(b'{');
    for (i, (k, v)) in map.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_json(out, k.as_str());
        out.push(b':');
        match v {
            Value::Object(meta) if k == "metadata" => slot = Some(write_metadata(out, meta)),
            _ => write_json(out, v),
        }
    }
    out.push(b'}');
    slot
}

fn write_metadata(out: &mut Vec<u8>, meta: &Map<String, Value>) -> Slot {
    out.push(b'{');
    let mut slot = None;
    let mut written = 0usize;
    for (k, v) in meta {
        if k == KEY {
            slot = Some(Slot {
                at: out.len(),
                after_entry: written > 0,
                before_entry: false,
            });
            continue;
        }
        if written > 0 {
            out.push(b',');
        } else if let Some(s) = slot.as_mut() {
            // The version came first: it needs a comma after it.
            s.before_entry = true;
        }
        write_json(out, k.as_str());
        out.push(b':');
        write_json(out, v);
        written += 1;
    }
    let slot = slot.unwrap_or(Slot {
        at: out.len(),
        after_entry: written > 0,
        before_entry: false,
    });
    out.push(b'}');
    slot
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Stamping gives exactly what `StoredObject::from_value` gives.
    #[test]
    fn stamped_bytes_equal_serializing_with_the_version() {
        let cases = [
            json!({"apiVersion": "v1", "kind": "ConfigMap",
                   "metadata": {"name": "a", "namespace": "default", "labels": {"x": "1"}},
                   "data": {"k": "v \"quoted\" \u{2028} <&>"}}),
            json!({"metadata": {}}),
            json!({"metadata": {"resourceVersion": "3"}}),
            json!({"metadata": {"resourceVersion": "3", "name": "first"}}),
            json!({"metadata": {"name": "mid", "resourceVersion": "3", "uid": "u"}}),
            json!({"metadata": {"name": "last", "resourceVersion": "3"}}),
            json!({"kind": "X", "metadata": {"name": "n"}, "spec": {"metadata": {"a": 1}}}),
            json!({"metadata": "not an object", "x": [1, 2.5, null, true]}),
            json!({"no": "metadata"}),
            json!([1, 2]),
            json!("scalar"),
        ];
        for value in cases {
            for rv in [1u64, 42, u64::MAX] {
                let want = StoredObject::from_value(value.clone(), rv);
                let got = Encoded::new(&value).stamp(rv);
                assert_eq!(
                    String::from_utf8_lossy(&got.json),
                    String::from_utf8_lossy(&want.json),
                    "{value}"
                );
                assert_eq!(got.resource_version, rv);
            }
        }
    }
}
