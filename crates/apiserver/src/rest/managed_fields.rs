//! managedFields for Update operations (create, update, non-apply patches): which manager last
//! set which fields.
//!
//! As upstream: the object before and after the write are compared with the type's list and
//! map semantics; the manager's `Update` entry takes every field that was added or changed
//! (within what the write may change: the status through `/status`, the rest otherwise), other
//! managers lose those fields, and everyone loses the fields that were removed. Entries left
//! without fields disappear. Field sets are encoded as upstream encodes them (`FieldsV1` with
//! `k:` keys for list-map items and `v:` for set items), so they interoperate with the `Apply`
//! entries of server-side apply.
//!
//! The entries a write starts from are upstream's (`decodeLiveOrNew`): those the client sent in
//! `metadata.managedFields` when they decode (so a client may rewrite them, as kubectl does when
//! it moves client-side apply's fields to server-side apply), none when it sent an empty list
//! or a list of one empty entry (a reset), the stored ones otherwise (a client that does not
//! know the field, or sent entries that do not decode, loses nothing; the request does not
//! fail). Writes through a subresource always start from the stored ones. As upstream's
//! `skipNonAppliedManager`, an existing object without entries is not tracked by updates (only
//! the next apply starts tracking again), so a reset sticks.

use crate::fieldpath::typed::Comparison;
use crate::fieldpath::{Entry, ManagedFields, Operation, Schema, Scope, strip_system};
use serde_json::{Map, Value};
use std::borrow::Cow;

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
    /// The type's schema.
    pub schema: &'a Schema,
    /// Whether the resource has a status subresource (then the main endpoint owns no status).
    pub status_subresource: bool,
}

/// The object without its `metadata.managedFields` (borrowed when it has none, as a create's
/// object has not yet).
fn body(obj: &Value) -> Cow<'_, Value> {
    let metadata = obj.get("metadata");
    if metadata.and_then(|m| m.get("managedFields")).is_none() {
        return Cow::Borrowed(obj);
    }
    let mut v = obj.clone();
    if let Some(m) = v.get_mut("metadata").and_then(Value::as_object_mut) {
        m.shift_remove("managedFields");
    }
    Cow::Owned(v)
}

/// Whether a client-sent `managedFields` asks to reset them: an empty list, or a list of one
/// empty entry.
fn is_reset(list: &Value) -> bool {
    match list.as_array().map(Vec::as_slice) {
        Some([]) => true,
        Some([Value::Object(entry)]) => entry.is_empty(),
        _ => false,
    }
}

/// The entries a write starts from (upstream's `decodeLiveOrNew`, see the module docs).
fn starting_entries(old: Option<&Value>, new: &Value, subresource: bool) -> ManagedFields {
    let live = || old.map(ManagedFields::of).unwrap_or_default();
    if subresource {
        return live();
    }
    let Some(sent) = new
        .pointer("/metadata/managedFields")
        .filter(|v| !v.is_null())
    else {
        return live();
    };
    if is_reset(sent) {
        return ManagedFields::default();
    }
    match ManagedFields::decode(sent) {
        Ok(m) if !m.entries.is_empty() => m,
        _ => live(),
    }
}

/// Computes the new `metadata.managedFields` for a create (`old` None) or update of `new`,
/// whose own `metadata.managedFields` is what the client sent. `None`: the object has no
/// entries (after a reset, or an update of an object that has none).
pub fn record(old: Option<&Value>, new: &Value, write: &Write<'_>) -> Option<Value> {
    let mut managers = starting_entries(old, new, write.subresource.is_some());
    if managers.entries.is_empty() && old.is_some() {
        return None;
    }
    let old_body = old.map_or_else(|| Cow::Owned(Value::Object(Map::new())), body);
    let new_body = body(new);
    let cmp = write
        .schema
        .compare(&old_body, &new_body)
        .or_else(|_| Schema::deduced().compare(&old_body, &new_body))
        .unwrap_or_default();
    let scope = Scope::of(write.subresource, write.status_subresource);
    let Comparison {
        mut added,
        modified,
        removed,
    } = cmp;
    added.union_in_place(&modified);
    let changed = strip_system(scope.filter(added));
    let position = managers.position(
        write.manager,
        Operation::Update,
        write.subresource,
        write.api_version,
    );
    for (i, e) in managers.entries.iter_mut().enumerate() {
        if Some(i) != position {
            e.fields.subtract(&changed);
            e.fields.subtract(&removed);
        }
    }
    match position {
        Some(i) => {
            let e = &mut managers.entries[i];
            e.fields.subtract(&removed);
            e.fields.union_in_place(&changed);
            if !changed.is_empty() {
                e.time = Some(write.time.to_string());
            }
        }
        None => managers.entries.push(Entry {
            manager: write.manager.to_string(),
            operation: Operation::Update,
            api_version: write.api_version.to_string(),
            time: Some(write.time.to_string()),
            subresource: write.subresource.map(str::to_string),
            fields: changed,
        }),
    }
    let encoded = managers.encode();
    (encoded.as_array().is_some_and(|a| !a.is_empty())).then_some(encoded)
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::apps::v1::Deployment;
    use k8s_openapi::api::core::v1::ConfigMap;
    use serde_json::json;

    fn w<'a>(m: &'a str, schema: &'a Schema) -> Write<'a> {
        Write {
            manager: m,
            api_version: "v1",
            time: "2024-01-01T00:00:00Z",
            subresource: None,
            schema,
            status_subresource: false,
        }
    }

    #[test]
    fn create_then_update_moves_ownership() {
        let schema = Schema::builtin::<ConfigMap>();
        let v1 =
            json!({"metadata": {"name": "a", "labels": {"x": "1"}}, "data": {"a": "1", "b": "2"}});
        let mf = record(None, &v1, &w("creator", &schema)).expect("entries");
        assert_eq!(
            mf[0]["fieldsV1"],
            json!({"f:data": {".": {}, "f:a": {}, "f:b": {}}, "f:metadata": {"f:labels": {".": {}, "f:x": {}}}})
        );
        // Set items are recorded by value.
        let with_finalizers = json!({"metadata": {"name": "a", "finalizers": ["f"]}});
        assert_eq!(
            record(None, &with_finalizers, &w("creator", &schema)).expect("entries")[0]["fieldsV1"],
            json!({"f:metadata": {"f:finalizers": {".": {}, "v:\"f\"": {}}}})
        );
        let mut old = v1.clone();
        old["metadata"]["managedFields"] = mf;
        let v2 =
            json!({"metadata": {"name": "a", "labels": {"x": "1"}}, "data": {"a": "9", "b": "2"}});
        let mf2 = record(Some(&old), &v2, &w("editor", &schema)).expect("entries");
        assert_eq!(mf2.as_array().map(Vec::len), Some(2));
        assert_eq!(
            mf2[0]["fieldsV1"],
            json!({"f:data": {".": {}, "f:b": {}}, "f:metadata": {"f:labels": {".": {}, "f:x": {}}}})
        );
        assert_eq!(mf2[1]["manager"], "editor");
        assert_eq!(mf2[1]["fieldsV1"], json!({"f:data": {"f:a": {}}}));
        // Removing a field takes it from its owner; a write changing nothing records nothing.
        let mut old = v2.clone();
        old["metadata"]["managedFields"] = mf2;
        let v3 = json!({"metadata": {"name": "a", "labels": {"x": "1"}}, "data": {"a": "9"}});
        let mf3 = record(Some(&old), &v3, &w("remover", &schema)).expect("entries");
        assert_eq!(mf3.as_array().map(Vec::len), Some(2));
        assert_eq!(
            mf3[0]["fieldsV1"],
            json!({"f:data": {}, "f:metadata": {"f:labels": {".": {}, "f:x": {}}}})
        );
    }

    #[test]
    fn list_map_items_are_recorded_by_key_and_status_by_scope() {
        let schema = Schema::builtin::<Deployment>();
        let old = json!({"metadata": {"name": "d"}, "spec": {"template": {"spec": {"containers": [
            {"name": "app", "image": "a:1", "ports": [{"containerPort": 80}]}]}}}, "status": {"replicas": 1}});
        let mut write = w("kubectl-edit", &schema);
        write.api_version = "apps/v1";
        write.status_subresource = true;
        let mf = record(None, &old, &write).expect("entries");
        let fields = &mf[0]["fieldsV1"];
        assert!(fields.get("f:status").is_none(), "{fields}");
        assert_eq!(
            fields["f:spec"]["f:template"]["f:spec"]["f:containers"],
            json!({".": {}, "k:{\"name\":\"app\"}": {".": {}, "f:image": {}, "f:name": {},
                "f:ports": {".": {}, "k:{\"containerPort\":80,\"protocol\":\"TCP\"}": {".": {}, "f:containerPort": {}}}}})
        );
        let mut live = old.clone();
        live["metadata"]["managedFields"] = mf;
        let mut new = live.clone();
        new["status"]["replicas"] = json!(2);
        write.subresource = Some("status");
        write.manager = "controller";
        let mf2 = record(Some(&live), &new, &write).expect("entries");
        assert_eq!(mf2.as_array().map(Vec::len), Some(2));
        let controller = mf2
            .as_array()
            .into_iter()
            .flatten()
            .find(|e| e["manager"] == "controller")
            .expect("controller entry");
        assert_eq!(controller["subresource"], "status");
        assert_eq!(
            controller["fieldsV1"],
            json!({"f:status": {"f:replicas": {}}})
        );
    }
}
