//! RFC 6902 JSON patch with the semantics and messages of the library kube-apiserver applies
//! patches with (evanphx/json-patch v4): paths are split on `/` and walked from the root, the
//! empty path names no container (so `add`, `remove`, `move` and `copy` to `""` fail), a
//! missing object member reads as `null`, negative array indices count from the end, and an
//! unknown `op` fails when it is reached.
//!
//! The patch is applied to a copy, in order, and stops at the first failing operation; nothing
//! is undone (the caller drops the copy), so no operation can leave a half-applied document the
//! server would have to repair.

use crate::status::ApiError;
use serde_json::{Map, Value};

/// The most operations one patch may hold (kube-apiserver's `maxJSONPatchOperations`).
pub const MAX_OPERATIONS: usize = 10_000;

/// Parses a JSON patch document: an array of objects, as upstream decodes it (400 otherwise).
pub fn parse(body: &[u8]) -> Result<Vec<Map<String, Value>>, ApiError> {
    let ops: Vec<Map<String, Value>> = serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("invalid JSON patch: {e}")))?;
    if ops.len() > MAX_OPERATIONS {
        let mut e = ApiError::bad_request(format!(
            "Request entity too large: The allowed maximum operations in a JSON patch is {MAX_OPERATIONS}, got {}",
            ops.len()
        ));
        e.code = 413;
        e.reason = "RequestEntityTooLarge";
        return Err(e);
    }
    Ok(ops)
}

/// Applies `ops` to `doc` in order; the error is the failing operation's message in the
/// library's words (the caller wraps it as upstream does, see [`ApiError::rejected`]).
pub fn apply(doc: &mut Value, ops: &[Map<String, Value>]) -> Result<(), String> {
    for op in ops {
        let kind = op.get("op").and_then(Value::as_str).unwrap_or("unknown");
        match kind {
            "add" => add(doc, op)?,
            "remove" => remove(doc, op)?,
            "replace" => replace(doc, op)?,
            "move" => mov(doc, op)?,
            "test" => test(doc, op)?,
            "copy" => copy(doc, op)?,
            other => return Err(format!("Unexpected kind: {other}")),
        }
    }
    Ok(())
}

const MISSING: &str = "missing value";
const INVALID_INDEX: &str = "invalid index referenced";
const TEST_FAILED: &str = "test failed";

fn field<'a>(op: &'a Map<String, Value>, name: &str) -> Option<&'a str> {
    op.get(name).and_then(Value::as_str)
}

/// The operation's value; an absent value is `null`, as a nil node upstream.
fn value(op: &Map<String, Value>) -> Value {
    op.get("value").cloned().unwrap_or(Value::Null)
}

/// Undoes RFC 6901 escaping of one reference token.
fn unescape(token: &str) -> String {
    token.replace("~1", "/").replace("~0", "~")
}

/// Go's `strconv.Atoi`, with its error text.
fn atoi(s: &str) -> Result<i64, String> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("strconv.Atoi: parsing {s:?}: invalid syntax"));
    }
    s.parse::<i64>()
        .map_err(|_| format!("strconv.Atoi: parsing {s:?}: value out of range"))
}

/// An array index as upstream resolves it for reading: negative counts from the end.
fn read_index(key: &str, len: usize) -> Result<usize, String> {
    let idx = atoi(key)?;
    let invalid = || format!("Unable to access invalid index: {idx}: {INVALID_INDEX}");
    let len = len as i64;
    let resolved = if idx < 0 {
        if idx < -len {
            return Err(invalid());
        }
        idx + len
    } else {
        idx
    };
    if resolved >= len {
        return Err(invalid());
    }
    Ok(resolved as usize)
}

/// The container holding the last token of `path`, and that token (unescaped). `None` when the
/// path has no `/` or a container on the way is missing or not an object or array.
fn find<'a>(doc: &'a mut Value, path: &str) -> Option<(&'a mut Value, String)> {
    let split: Vec<&str> = path.split('/').collect();
    if split.len() < 2 {
        return None;
    }
    let mut current = doc;
    for part in &split[1..split.len() - 1] {
        let part = unescape(part);
        let next = match current {
            Value::Object(map) => map.get_mut(&part)?,
            Value::Array(items) => {
                let i = read_index(&part, items.len()).ok()?;
                &mut items[i]
            }
            _ => return None,
        };
        if !(next.is_object() || next.is_array()) {
            return None;
        }
        current = next;
    }
    let key = unescape(split[split.len() - 1]);
    Some((current, key))
}

/// Reads `key` of a container: a missing member is `None` (no error), a bad index is an error.
fn get(container: &Value, key: &str) -> Result<Option<Value>, String> {
    match container {
        Value::Object(map) => Ok(map.get(key).filter(|v| !v.is_null()).cloned()),
        Value::Array(items) => {
            let i = read_index(key, items.len())?;
            Ok(Some(items[i].clone()).filter(|v| !v.is_null()))
        }
        _ => Ok(None),
    }
}

fn insert(container: &mut Value, key: &str, value: Value) -> Result<(), String> {
    match container {
        Value::Object(map) => {
            map.insert(key.to_string(), value);
            Ok(())
        }
        Value::Array(items) => {
            if key == "-" {
                items.push(value);
                return Ok(());
            }
            let idx = atoi(key)
                .map_err(|e| format!("value was not a proper array index: '{key}': {e}"))?;
            let size = items.len() as i64 + 1;
            let invalid = || format!("Unable to access invalid index: {idx}: {INVALID_INDEX}");
            if idx >= size {
                return Err(invalid());
            }
            let at = if idx < 0 {
                if idx < -size {
                    return Err(invalid());
                }
                idx + size
            } else {
                idx
            };
            items.insert(at as usize, value);
            Ok(())
        }
        _ => Err(MISSING.to_string()),
    }
}

fn delete(container: &mut Value, key: &str) -> Result<(), String> {
    match container {
        Value::Object(map) => match map.shift_remove(key) {
            Some(_) => Ok(()),
            None => Err(format!(
                "Unable to remove nonexistent key: {key}: {MISSING}"
            )),
        },
        Value::Array(items) => {
            let idx = atoi(key)?;
            let len = items.len() as i64;
            let invalid = || format!("Unable to access invalid index: {idx}: {INVALID_INDEX}");
            if idx >= len {
                return Err(invalid());
            }
            let at = if idx < 0 {
                if idx < -len {
                    return Err(invalid());
                }
                idx + len
            } else {
                idx
            };
            items.remove(at as usize);
            Ok(())
        }
        _ => Err(MISSING.to_string()),
    }
}

fn add(doc: &mut Value, op: &Map<String, Value>) -> Result<(), String> {
    let Some(path) = field(op, "path") else {
        return Err(format!("add operation failed to decode path: {MISSING}"));
    };
    let Some((container, key)) = find(doc, path) else {
        return Err(format!(
            "add operation does not apply: doc is missing path: \"{path}\": {MISSING}"
        ));
    };
    insert(container, &key, value(op)).map_err(|e| format!("error in add for path: '{path}': {e}"))
}

fn remove(doc: &mut Value, op: &Map<String, Value>) -> Result<(), String> {
    let Some(path) = field(op, "path") else {
        return Err(format!("remove operation failed to decode path: {MISSING}"));
    };
    let Some((container, key)) = find(doc, path) else {
        return Err(format!(
            "remove operation does not apply: doc is missing path: \"{path}\": {MISSING}"
        ));
    };
    delete(container, &key).map_err(|e| format!("error in remove for path: '{path}': {e}"))
}

fn replace(doc: &mut Value, op: &Map<String, Value>) -> Result<(), String> {
    let Some(path) = field(op, "path") else {
        return Err(format!(
            "replace operation failed to decode path: operation missing path field: {MISSING}"
        ));
    };
    let missing_path =
        || format!("replace operation does not apply: doc is missing path: {path}: {MISSING}");
    let Some((container, key)) = find(doc, path) else {
        return Err(missing_path());
    };
    let missing_key =
        || format!("replace operation does not apply: doc is missing key: {path}: {MISSING}");
    match container {
        Value::Object(map) => {
            map.insert(key, value(op));
        }
        Value::Array(items) => {
            let i = read_index(&key, items.len()).map_err(|_| missing_key())?;
            items[i] = value(op);
        }
        _ => return Err(missing_path()),
    }
    Ok(())
}

fn mov(doc: &mut Value, op: &Map<String, Value>) -> Result<(), String> {
    let Some(from) = field(op, "from") else {
        return Err(format!(
            "move operation failed to decode from: operation, missing from field: {MISSING}"
        ));
    };
    let Some((container, key)) = find(doc, from) else {
        return Err(format!(
            "move operation does not apply: doc is missing from path: {from}: {MISSING}"
        ));
    };
    let moved = get(container, &key)
        .map_err(|e| format!("error in move for path: '{key}': {e}"))?
        .unwrap_or(Value::Null);
    delete(container, &key).map_err(|e| format!("error in move for path: '{key}': {e}"))?;
    let Some(path) = field(op, "path") else {
        return Err(format!(
            "move operation failed to decode path: operation missing path field: {MISSING}"
        ));
    };
    let Some((container, key)) = find(doc, path) else {
        return Err(format!(
            "move operation does not apply: doc is missing destination path: {path}: {MISSING}"
        ));
    };
    insert(container, &key, moved).map_err(|e| format!("error in move for path: '{path}': {e}"))
}

fn test(doc: &mut Value, op: &Map<String, Value>) -> Result<(), String> {
    let Some(path) = field(op, "path") else {
        return Err(format!(
            "test operation failed to decode path: operation missing path field: {MISSING}"
        ));
    };
    let Some((container, key)) = find(doc, path) else {
        return Err(format!(
            "test operation does not apply: is missing path: {path}: {MISSING}"
        ));
    };
    let actual =
        get(container, &key).map_err(|e| format!("error in test for path: '{path}': {e}"))?;
    let expected = Some(value(op)).filter(|v| !v.is_null());
    if actual == expected {
        Ok(())
    } else {
        Err(format!("testing value {path} failed: {TEST_FAILED}"))
    }
}

fn copy(doc: &mut Value, op: &Map<String, Value>) -> Result<(), String> {
    let Some(from) = field(op, "from") else {
        return Err(format!(
            "copy operation failed to decode from: operation, missing from field: {MISSING}"
        ));
    };
    let Some((container, key)) = find(doc, from) else {
        return Err(format!(
            "copy operation does not apply: doc is missing from path: {from}: {MISSING}"
        ));
    };
    let copied = get(container, &key)
        .map_err(|e| format!("error in copy for from: '{from}': {e}"))?
        .unwrap_or(Value::Null);
    let Some(path) = field(op, "path") else {
        return Err(format!("copy operation failed to decode path: {MISSING}"));
    };
    let Some((container, key)) = find(doc, path) else {
        return Err(format!(
            "copy operation does not apply: doc is missing destination path: {path}: {MISSING}"
        ));
    };
    insert(container, &key, copied)
        .map_err(|e| format!("error while adding value during copy: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run(doc: Value, patch: Value) -> Result<Value, String> {
        let ops: Vec<Map<String, Value>> = serde_json::from_value(patch).unwrap();
        let mut doc = doc;
        apply(&mut doc, &ops).map(|()| doc)
    }

    #[test]
    fn operations_apply_in_order() {
        let doc = json!({"data": {"a": "1"}, "list": [1, 2]});
        let out = run(
            doc,
            json!([
                {"op": "add", "path": "/data/b", "value": "2"},
                {"op": "replace", "path": "/data/a", "value": "x"},
                {"op": "move", "from": "/data/b", "path": "/data/c"},
                {"op": "copy", "from": "/data/c", "path": "/list/-"},
                {"op": "remove", "path": "/list/0"},
                {"op": "add", "path": "/list/-1", "value": 9},
                {"op": "test", "path": "/list", "value": [2, "2", 9]}
            ]),
        )
        .unwrap();
        assert_eq!(
            out,
            json!({"data": {"a": "x", "c": "2"}, "list": [2, "2", 9]})
        );
    }

    #[test]
    fn failures_are_worded_as_upstream() {
        let doc = || json!({"data": {"a": "1"}, "list": [1]});
        let cases = [
            (
                json!([{"op": "move", "path": "", "from": "/data"}, {"op": "remove", "path": "/nope"}]),
                "move operation does not apply: doc is missing destination path: : missing value",
            ),
            (
                json!([{"op": "remove", "path": "/nope"}]),
                "error in remove for path: '/nope': Unable to remove nonexistent key: nope: missing value",
            ),
            (
                json!([{"op": "remove", "path": "/a/b"}]),
                "remove operation does not apply: doc is missing path: \"/a/b\": missing value",
            ),
            (
                json!([{"op": "test", "path": "/data/a", "value": "2"}]),
                "testing value /data/a failed: test failed",
            ),
            (
                json!([{"op": "add", "path": "/list/5", "value": 1}]),
                "error in add for path: '/list/5': Unable to access invalid index: 5: invalid index referenced",
            ),
            (
                json!([{"op": "remove", "path": "/list/x"}]),
                "error in remove for path: '/list/x': strconv.Atoi: parsing \"x\": invalid syntax",
            ),
            (
                json!([{"op": "jump", "path": "/x"}]),
                "Unexpected kind: jump",
            ),
            (json!([{"path": "/x"}]), "Unexpected kind: unknown"),
        ];
        for (patch, message) in cases {
            assert_eq!(
                run(doc(), patch.clone()),
                Err(message.to_string()),
                "{patch}"
            );
        }
    }

    #[test]
    fn a_missing_member_reads_as_null() {
        let doc = json!({"data": {"a": null}});
        assert!(
            run(
                doc.clone(),
                json!([{"op": "test", "path": "/data/zz", "value": null}])
            )
            .is_ok()
        );
        assert!(run(doc, json!([{"op": "test", "path": "/data/a"}])).is_ok());
    }
}
