//! PATCH: JSON patch, JSON merge patch, strategic merge patch (built-ins) and apply patches.

use super::meta::{meta_mut, meta_str};
use super::{Rest, WriteOptions, Written, parse_rv};
use crate::resource::ResourceType;
use crate::status::ApiError;
use serde_json::{Map, Value};

/// The patch formats, by Content-Type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchType {
    /// `application/json-patch+json` (RFC 6902).
    Json,
    /// `application/merge-patch+json` (RFC 7386).
    Merge,
    /// `application/strategic-merge-patch+json` (built-in types only).
    StrategicMerge,
    /// `application/apply-patch+yaml` (server-side apply).
    Apply,
}

impl PatchType {
    /// The patch type of a Content-Type, if it is one.
    pub fn from_content_type(ct: &str) -> Option<Self> {
        match ct {
            "application/json-patch+json" => Some(PatchType::Json),
            "application/merge-patch+json" => Some(PatchType::Merge),
            "application/strategic-merge-patch+json" => Some(PatchType::StrategicMerge),
            "application/apply-patch+yaml" | "application/apply-patch+json" => {
                Some(PatchType::Apply)
            }
            _ => None,
        }
    }
}

fn patch_error(msg: impl std::fmt::Display) -> ApiError {
    let mut e = ApiError::bad_request(msg.to_string());
    e.code = 422;
    e.reason = "Invalid";
    e
}

/// The merge key of a list field in built-in types (strategic merge patch).
fn merge_key(field: &str, sample: Option<&Value>) -> Option<&'static str> {
    match field {
        "containers"
        | "initContainers"
        | "ephemeralContainers"
        | "env"
        | "volumes"
        | "imagePullSecrets" => Some("name"),
        "volumeMounts" => Some("mountPath"),
        "volumeDevices" => Some("devicePath"),
        "conditions" => Some("type"),
        "ownerReferences" => Some("uid"),
        "hostAliases" => Some("ip"),
        "topologySpreadConstraints" => Some("topologyKey"),
        "ports" => match sample {
            Some(v) if v.get("containerPort").is_some() => Some("containerPort"),
            _ => Some("port"),
        },
        _ => None,
    }
}

/// Applies a strategic merge patch to `target` (maps merge, lists with a merge key merge by it,
/// other lists are replaced; `$patch`, `$retainKeys`, `$deleteFromPrimitiveList` and
/// `$setElementOrder` directives are honoured).
pub fn strategic_merge(target: &mut Value, patch: &Value) -> Result<(), ApiError> {
    let Value::Object(p) = patch else {
        *target = patch.clone();
        return Ok(());
    };
    if p.get("$patch").and_then(Value::as_str) == Some("replace") {
        let mut replaced = p.clone();
        replaced.remove("$patch");
        *target = Value::Object(replaced);
        return Ok(());
    }
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    let Value::Object(t) = target else {
        return Ok(());
    };
    if let Some(retain) = p.get("$retainKeys").and_then(Value::as_array) {
        let keep: Vec<&str> = retain.iter().filter_map(Value::as_str).collect();
        t.retain(|k, _| keep.contains(&k.as_str()));
    }
    for (k, v) in p {
        if k == "$patch" || k == "$retainKeys" || k.starts_with("$setElementOrder/") {
            continue;
        }
        if let Some(field) = k.strip_prefix("$deleteFromPrimitiveList/") {
            if let (Some(Value::Array(list)), Some(remove)) = (t.get_mut(field), v.as_array()) {
                list.retain(|x| !remove.contains(x));
            }
            continue;
        }
        if v.is_null() {
            t.remove(k);
            continue;
        }
        match v {
            Value::Object(inner)
                if inner.get("$patch").and_then(Value::as_str) == Some("delete") =>
            {
                t.remove(k);
            }
            Value::Object(_) => strategic_merge(t.entry(k.clone()).or_insert(Value::Null), v)?,
            Value::Array(items) => {
                let key = merge_key(k, items.first().or_else(|| t.get(k).and_then(|x| x.get(0))));
                match (key, t.get_mut(k)) {
                    (Some(key), Some(Value::Array(existing)))
                        if items.iter().all(Value::is_object) =>
                    {
                        let order = p
                            .get(&format!("$setElementOrder/{k}"))
                            .and_then(Value::as_array)
                            .map(Vec::as_slice);
                        merge_list(existing, items, key, order)?;
                    }
                    _ => {
                        let cleaned: Vec<Value> = items
                            .iter()
                            .filter(|i| i.get("$patch").is_none())
                            .cloned()
                            .collect();
                        t.insert(k.clone(), Value::Array(cleaned));
                    }
                }
            }
            other => {
                t.insert(k.clone(), other.clone());
            }
        }
    }
    Ok(())
}

fn merge_list(
    existing: &mut Vec<Value>,
    patch: &[Value],
    key: &str,
    order: Option<&[Value]>,
) -> Result<(), ApiError> {
    let original: Vec<Value> = existing
        .iter()
        .filter_map(|e| e.get(key).cloned())
        .collect();
    for item in patch {
        let id = item.get(key).cloned();
        let directive = item.get("$patch").and_then(Value::as_str);
        let pos = id
            .as_ref()
            .and_then(|id| existing.iter().position(|e| e.get(key) == Some(id)));
        match (directive, pos) {
            (Some("delete"), Some(i)) => {
                existing.remove(i);
            }
            (Some("delete"), None) => {}
            (Some("replace"), _) => {
                return Err(patch_error(
                    "$patch: replace is not supported inside a list element",
                ));
            }
            (_, Some(i)) => strategic_merge(&mut existing[i], item)?,
            (_, None) => {
                let mut fresh = Value::Null;
                strategic_merge(&mut fresh, item)?;
                existing.push(fresh);
            }
        }
    }
    // Order as upstream does: the patch's items in patch order (or `$setElementOrder`), merged
    // with the server-only items by their position in the original list; new items first.
    let patch_order: Vec<Value> = match order {
        Some(o) => o.iter().filter_map(|x| x.get(key).cloned()).collect(),
        None => patch
            .iter()
            .filter(|i| i.get("$patch").and_then(Value::as_str) != Some("delete"))
            .filter_map(|i| i.get(key).cloned())
            .collect(),
    };
    let (mut in_patch, server_only): (Vec<Value>, Vec<Value>) = std::mem::take(existing)
        .into_iter()
        .partition(|e| e.get(key).is_some_and(|k| patch_order.contains(k)));
    in_patch.sort_by_key(|e| patch_order.iter().position(|k| Some(k) == e.get(key)));
    let server_index = |e: &Value| -> i64 {
        original
            .iter()
            .position(|k| Some(k) == e.get(key))
            .map_or(-1, |i| i as i64)
    };
    let (mut left, mut right) = (
        server_only.into_iter().peekable(),
        in_patch.into_iter().peekable(),
    );
    loop {
        let take_left = match (left.peek(), right.peek()) {
            (Some(l), Some(r)) => server_index(l) < server_index(r),
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (None, None) => break,
        };
        let next = if take_left { left.next() } else { right.next() };
        existing.extend(next);
    }
    Ok(())
}

/// Applies a JSON or merge patch to a plain value (used for subresource views like Scale).
pub fn patch_value(current: &Value, patch_type: PatchType, body: &[u8]) -> Result<Value, ApiError> {
    match patch_type {
        PatchType::Json => {
            let patch: json_patch::Patch = serde_json::from_slice(body)
                .map_err(|e| ApiError::bad_request(format!("invalid JSON patch: {e}")))?;
            let mut doc = current.clone();
            json_patch::patch(&mut doc, &patch).map_err(|e| patch_error(e.to_string()))?;
            Ok(doc)
        }
        PatchType::Merge | PatchType::StrategicMerge | PatchType::Apply => {
            let patch: Value = if patch_type == PatchType::Apply {
                serde_norway::from_slice(body)
                    .map_err(|e| ApiError::bad_request(format!("invalid apply patch: {e}")))?
            } else {
                serde_json::from_slice(body)
                    .map_err(|e| ApiError::bad_request(format!("invalid merge patch: {e}")))?
            };
            let mut doc = current.clone();
            json_patch::merge(&mut doc, &patch);
            Ok(doc)
        }
    }
}

impl Rest {
    /// Applies a patch to `current` and returns the patched object.
    fn apply_patch(
        rt: &ResourceType,
        current: &Value,
        patch_type: PatchType,
        body: &[u8],
    ) -> Result<Value, ApiError> {
        match patch_type {
            PatchType::Json => {
                let patch: json_patch::Patch = serde_json::from_slice(body)
                    .map_err(|e| ApiError::bad_request(format!("invalid JSON patch: {e}")))?;
                let mut doc = current.clone();
                json_patch::patch(&mut doc, &patch).map_err(|e| patch_error(e.to_string()))?;
                Ok(doc)
            }
            PatchType::Merge => {
                let patch: Value = serde_json::from_slice(body)
                    .map_err(|e| ApiError::bad_request(format!("invalid merge patch: {e}")))?;
                if !patch.is_object() {
                    return Err(ApiError::bad_request("a merge patch must be a JSON object"));
                }
                let mut doc = current.clone();
                json_patch::merge(&mut doc, &patch);
                Ok(doc)
            }
            PatchType::StrategicMerge => {
                if !rt.strategy.supports_strategic_merge() {
                    return Err(ApiError::unsupported_media_type(
                        "application/strategic-merge-patch+json",
                    ));
                }
                let patch: Value = serde_json::from_slice(body).map_err(|e| {
                    ApiError::bad_request(format!("invalid strategic merge patch: {e}"))
                })?;
                if !patch.is_object() {
                    return Err(ApiError::bad_request(
                        "a strategic merge patch must be a JSON object",
                    ));
                }
                let mut doc = current.clone();
                strategic_merge(&mut doc, &patch)?;
                Ok(doc)
            }
            PatchType::Apply => {
                let patch: Value = serde_norway::from_slice(body)
                    .map_err(|e| ApiError::bad_request(format!("invalid apply patch: {e}")))?;
                if !patch.is_object() {
                    return Err(ApiError::bad_request("an apply patch must be an object"));
                }
                let mut doc = current.clone();
                if rt.strategy.supports_strategic_merge() {
                    strategic_merge(&mut doc, &patch)?;
                } else {
                    json_patch::merge(&mut doc, &patch);
                }
                Ok(doc)
            }
        }
    }

    /// PATCH one object (or its status).
    #[allow(clippy::too_many_arguments)]
    pub async fn patch(
        &self,
        rt: &ResourceType,
        namespace: Option<&str>,
        name: &str,
        patch_type: PatchType,
        body: &[u8],
        opts: &WriteOptions,
        subresource: Option<&str>,
    ) -> Result<Written, ApiError> {
        if patch_type == PatchType::Apply && opts.field_manager.is_empty() {
            return Err(ApiError::invalid(
                "meta.k8s.io",
                "PatchOptions",
                "",
                vec![crate::status::FieldCause::required(
                    "fieldManager",
                    "is required for apply patch",
                )],
            ));
        }
        let key = self.key(rt, namespace, name);
        if patch_type == PatchType::Apply && subresource.is_none() && self.store.get(&key).is_none()
        {
            let body: Value = serde_norway::from_slice(body)
                .map_err(|e| ApiError::bad_request(format!("invalid apply patch: {e}")))?;
            let mut body = body;
            if meta_str(&body, "name").is_empty() {
                meta_mut(&mut body).insert("name".into(), Value::String(name.to_string()));
            }
            return self.create(rt, namespace, body, opts).await;
        }
        self.guaranteed_update(rt, namespace, name, opts, subresource, |current| {
            let patched = Self::apply_patch(rt, current, patch_type, body)?;
            let precondition = match meta_str(&patched, "resourceVersion") {
                "" => None,
                rv if rv == meta_str(current, "resourceVersion") => None,
                rv => Some(parse_rv(rv)?),
            };
            let (decoded, warnings) = self.decode_for_write(rt, patched, opts)?;
            if meta_str(&decoded, "name") != name {
                return Err(ApiError::bad_request(format!(
                    "the name of the object ({}) does not match the name on the URL ({name})",
                    meta_str(&decoded, "name")
                )));
            }
            Ok((decoded, warnings, precondition))
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn strategic_merge_by_key_and_directives() {
        let mut doc = json!({"spec": {"containers": [{"name": "a", "image": "x"}, {"name": "b", "image": "y"}], "tolerations": [{"key": "k"}]},
            "metadata": {"finalizers": ["f1", "f2"], "labels": {"keep": "1", "drop": "2"}}});
        let patch = json!({
            "spec": {"containers": [{"name": "b", "image": "z"}, {"name": "a", "$patch": "delete"}, {"name": "c", "image": "w"}],
                     "$setElementOrder/containers": [{"name": "b"}, {"name": "c"}], "tolerations": []},
            "metadata": {"$deleteFromPrimitiveList/finalizers": ["f1"], "labels": {"drop": null}}
        });
        strategic_merge(&mut doc, &patch).expect("patch");
        assert_eq!(
            doc["spec"]["containers"],
            json!([{"name": "b", "image": "z"}, {"name": "c", "image": "w"}])
        );
        assert_eq!(doc["spec"]["tolerations"], json!([]));
        assert_eq!(doc["metadata"]["finalizers"], json!(["f2"]));
        assert_eq!(doc["metadata"]["labels"], json!({"keep": "1"}));
    }

    #[test]
    fn new_list_items_come_before_server_only_items() {
        let mut doc = json!({"containers": [{"name": "nginx"}, {"name": "log"}]});
        strategic_merge(&mut doc, &json!({"containers": [{"name": "sidecar"}]})).expect("patch");
        assert_eq!(
            doc["containers"],
            json!([{"name": "sidecar"}, {"name": "nginx"}, {"name": "log"}])
        );
        let mut doc = json!({"containers": [{"name": "a"}, {"name": "b"}]});
        let patch = json!({"$setElementOrder/containers": [{"name": "b"}, {"name": "a"}, {"name": "c"}],
            "containers": [{"name": "c"}]});
        strategic_merge(&mut doc, &patch).expect("patch");
        assert_eq!(
            doc["containers"],
            json!([{"name": "b"}, {"name": "a"}, {"name": "c"}])
        );
    }

    #[test]
    fn retain_keys_and_replace() {
        let mut doc =
            json!({"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}}});
        strategic_merge(
            &mut doc,
            &json!({"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}),
        )
        .expect("patch");
        assert_eq!(doc, json!({"strategy": {"type": "Recreate"}}));
        strategic_merge(
            &mut doc,
            &json!({"strategy": {"$patch": "replace", "x": 1}}),
        )
        .expect("patch");
        assert_eq!(doc, json!({"strategy": {"x": 1}}));
    }
}
