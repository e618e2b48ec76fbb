//! managedFields for Update operations: which manager last set which fields.
//!
//! Field sets are kept as sets of leaf paths and serialized as FieldsV1 (`{"f:data":{"f:k":{}}}`).
//! On an update, the manager takes ownership of every leaf it added or changed; other managers
//! lose those leaves; leaves that no longer exist are dropped; empty entries disappear.
//! Lists are treated as atomic leaves here; list-map ownership belongs to server-side apply.

use serde_json::{Map, Value, json};
use std::collections::BTreeSet;

type Path = Vec<String>;

fn leaves(value: &Value, prefix: &mut Path, out: &mut BTreeSet<Path>) {
    match value {
        Value::Object(map) if !map.is_empty() => {
            for (k, v) in map {
                prefix.push(format!("f:{k}"));
                leaves(v, prefix, out);
                prefix.pop();
            }
        }
        _ => {
            out.insert(prefix.clone());
        }
    }
}

/// The leaf paths of an object that managedFields track (everything but system metadata).
fn tracked(obj: &Value, status: Option<bool>) -> BTreeSet<Path> {
    let mut out = BTreeSet::new();
    let Some(map) = obj.as_object() else {
        return out;
    };
    for (k, v) in map {
        match k.as_str() {
            "apiVersion" | "kind" => {}
            "status" if status == Some(false) => {}
            "metadata" => {
                for key in ["labels", "annotations", "finalizers", "ownerReferences"] {
                    if let Some(m) = v.get(key) {
                        let mut p = vec!["f:metadata".to_string(), format!("f:{key}")];
                        leaves(m, &mut p, &mut out);
                    }
                }
            }
            _ if status == Some(true) && k != "status" => {}
            _ => {
                let mut p = vec![format!("f:{k}")];
                leaves(v, &mut p, &mut out);
            }
        }
    }
    out
}

fn value_at<'a>(obj: &'a Value, path: &Path) -> Option<&'a Value> {
    let mut cur = obj;
    for seg in path {
        cur = cur.get(seg.strip_prefix("f:").unwrap_or(seg))?;
    }
    Some(cur)
}

fn to_fields_v1(set: &BTreeSet<Path>) -> Value {
    let mut root = Map::new();
    for path in set {
        let mut cur = &mut root;
        for seg in path {
            let entry = cur
                .entry(seg.clone())
                .or_insert_with(|| Value::Object(Map::new()));
            let Value::Object(next) = entry else { break };
            cur = next;
        }
    }
    Value::Object(root)
}

fn from_fields_v1(value: &Value) -> BTreeSet<Path> {
    fn walk(v: &Value, prefix: &mut Path, out: &mut BTreeSet<Path>) {
        match v.as_object() {
            Some(map) if !map.is_empty() => {
                for (k, child) in map {
                    if k == "." {
                        continue;
                    }
                    prefix.push(k.clone());
                    walk(child, prefix, out);
                    prefix.pop();
                }
            }
            _ => {
                if !prefix.is_empty() {
                    out.insert(prefix.clone());
                }
            }
        }
    }
    let mut out = BTreeSet::new();
    walk(value, &mut Vec::new(), &mut out);
    out
}

/// One write to record.
pub struct Write<'a> {
    /// The manager's name.
    pub manager: &'a str,
    /// `apiVersion` the request used.
    pub api_version: &'a str,
    /// RFC 3339 time of the write.
    pub time: &'a str,
    /// `Some("status")` for writes through `/status`.
    pub subresource: Option<&'a str>,
}

/// Computes the new `metadata.managedFields` for a create (`old` None) or update.
pub fn record(old: Option<&Value>, new: &Value, write: &Write<'_>) -> Value {
    let status_scope = write.subresource.map(|s| s == "status");
    let new_fields = tracked(new, status_scope);
    let changed: BTreeSet<Path> = match old {
        None => new_fields.clone(),
        Some(old) => new_fields
            .iter()
            .filter(|p| value_at(old, p) != value_at(new, p))
            .cloned()
            .collect(),
    };
    let all_new = tracked(new, None);
    let mut entries: Vec<Value> = Vec::new();
    let mut mine: BTreeSet<Path> = BTreeSet::new();
    let existing = old
        .and_then(|o| o.pointer("/metadata/managedFields"))
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for entry in existing {
        let manager = entry.get("manager").and_then(Value::as_str).unwrap_or("");
        let operation = entry.get("operation").and_then(Value::as_str).unwrap_or("");
        let sub = entry.get("subresource").and_then(Value::as_str);
        let mut set = entry
            .get("fieldsV1")
            .map(from_fields_v1)
            .unwrap_or_default();
        set.retain(|p| all_new.contains(p) || all_new.iter().any(|q| q.starts_with(p)));
        if manager == write.manager && operation == "Update" && sub == write.subresource {
            mine.extend(set);
            continue;
        }
        set.retain(|p| !changed.contains(p));
        if set.is_empty() {
            continue;
        }
        let mut e = entry.clone();
        e["fieldsV1"] = to_fields_v1(&set);
        entries.push(e);
    }
    mine.extend(changed);
    if !mine.is_empty() {
        let mut e = json!({
            "manager": write.manager,
            "operation": "Update",
            "apiVersion": write.api_version,
            "time": write.time,
            "fieldsType": "FieldsV1",
            "fieldsV1": to_fields_v1(&mine),
        });
        if let Some(sub) = write.subresource {
            e["subresource"] = json!(sub);
        }
        entries.push(e);
    }
    Value::Array(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_then_update_moves_ownership() {
        let w = |m| Write {
            manager: m,
            api_version: "v1",
            time: "2024-01-01T00:00:00Z",
            subresource: None,
        };
        let v1 =
            json!({"metadata": {"name": "a", "labels": {"x": "1"}}, "data": {"a": "1", "b": "2"}});
        let mf = record(None, &v1, &w("creator"));
        assert_eq!(
            mf[0]["fieldsV1"],
            json!({"f:data": {"f:a": {}, "f:b": {}}, "f:metadata": {"f:labels": {"f:x": {}}}})
        );
        let mut old = v1.clone();
        old["metadata"]["managedFields"] = mf;
        let v2 =
            json!({"metadata": {"name": "a", "labels": {"x": "1"}}, "data": {"a": "9", "b": "2"}});
        let mf2 = record(Some(&old), &v2, &w("editor"));
        assert_eq!(mf2.as_array().map(Vec::len), Some(2));
        assert_eq!(
            mf2[0]["fieldsV1"],
            json!({"f:data": {"f:b": {}}, "f:metadata": {"f:labels": {"f:x": {}}}})
        );
        assert_eq!(mf2[1]["manager"], "editor");
        assert_eq!(mf2[1]["fieldsV1"], json!({"f:data": {"f:a": {}}}));
    }
}
