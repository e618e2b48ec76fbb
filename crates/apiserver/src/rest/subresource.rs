//! The scale subresource: an `autoscaling/v1` Scale view of an object's replicas.

use super::meta::meta_str;
use super::{Rest, WriteOptions, Written, parse_rv};
use crate::resource::{ResourceType, ScalePaths};
use crate::status::ApiError;
use serde_json::{Value, json};

/// `.spec.replicas` → `/spec/replicas`.
fn pointer(path: &str) -> String {
    path.trim_start_matches('.')
        .split('.')
        .fold(String::new(), |acc, seg| format!("{acc}/{seg}"))
}

fn selector_string(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Object(_) => {
            let mut parts = Vec::new();
            if let Some(labels) = v.get("matchLabels").and_then(Value::as_object) {
                for (k, val) in labels {
                    parts.push(format!("{k}={}", val.as_str().unwrap_or_default()));
                }
            }
            if let Some(exprs) = v.get("matchExpressions").and_then(Value::as_array) {
                for e in exprs {
                    let key = e.get("key").and_then(Value::as_str).unwrap_or_default();
                    let values: Vec<&str> = e
                        .get("values")
                        .and_then(Value::as_array)
                        .map(|a| a.iter().filter_map(Value::as_str).collect())
                        .unwrap_or_default();
                    match e
                        .get("operator")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                    {
                        "In" => parts.push(format!("{key} in ({})", values.join(","))),
                        "NotIn" => parts.push(format!("{key} notin ({})", values.join(","))),
                        "Exists" => parts.push(key.to_string()),
                        "DoesNotExist" => parts.push(format!("!{key}")),
                        _ => {}
                    }
                }
            }
            Some(parts.join(","))
        }
        _ => None,
    }
}

/// The Scale view of `obj`.
pub fn to_scale(paths: &ScalePaths, obj: &Value) -> Value {
    let spec = obj
        .pointer(&pointer(&paths.spec_replicas))
        .and_then(Value::as_i64)
        .unwrap_or(0);
    let status = obj
        .pointer(&pointer(&paths.status_replicas))
        .and_then(Value::as_i64)
        .unwrap_or(0);
    // In ObjectMeta's field order, as kube-apiserver writes it.
    let mut metadata = serde_json::Map::new();
    metadata.insert("name".into(), json!(meta_str(obj, "name")));
    if !meta_str(obj, "namespace").is_empty() {
        metadata.insert("namespace".into(), json!(meta_str(obj, "namespace")));
    }
    metadata.insert("uid".into(), json!(meta_str(obj, "uid")));
    metadata.insert(
        "resourceVersion".into(),
        json!(meta_str(obj, "resourceVersion")),
    );
    metadata.insert(
        "creationTimestamp".into(),
        obj.pointer("/metadata/creationTimestamp")
            .cloned()
            .unwrap_or(Value::Null),
    );
    let mut scale = json!({
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": metadata,
        "spec": {"replicas": spec},
        "status": {"replicas": status},
    });
    if let Some(sel) = paths
        .label_selector
        .as_deref()
        .and_then(|p| obj.pointer(&pointer(p)))
        .and_then(selector_string)
    {
        scale["status"]["selector"] = json!(sel);
    }
    scale
}

fn set_at(obj: &mut Value, path: &str, value: Value) {
    let mut cur = obj;
    let segs: Vec<&str> = path.trim_start_matches('.').split('.').collect();
    for (i, seg) in segs.iter().enumerate() {
        if !cur.is_object() {
            *cur = json!({});
        }
        if i + 1 == segs.len() {
            cur[*seg] = value;
            return;
        }
        cur = &mut cur[*seg];
    }
}

impl Rest {
    fn scale_paths(rt: &ResourceType) -> Result<&ScalePaths, ApiError> {
        rt.scale.as_ref().ok_or_else(ApiError::not_found_path)
    }

    /// GET `/scale`.
    pub async fn get_scale(
        &self,
        rt: &ResourceType,
        namespace: Option<&str>,
        name: &str,
    ) -> Result<Value, ApiError> {
        let paths = Self::scale_paths(rt)?;
        Ok(to_scale(paths, &self.read(rt, namespace, name).await?))
    }

    /// PUT or PATCH `/scale`: `scale_of` turns the current Scale into the desired one.
    pub async fn write_scale<F>(
        &self,
        rt: &ResourceType,
        namespace: Option<&str>,
        name: &str,
        opts: &WriteOptions,
        mut scale_of: F,
    ) -> Result<Written, ApiError>
    where
        F: FnMut(&Value) -> Result<Value, ApiError>,
    {
        let paths = Self::scale_paths(rt)?.clone();
        let written = self
            .guaranteed_update(rt, namespace, name, opts, None, |current| {
                let desired = scale_of(&to_scale(&paths, current))?;
                let replicas = desired
                    .pointer("/spec/replicas")
                    .cloned()
                    .unwrap_or(json!(0));
                match replicas.as_i64() {
                    Some(n) if n >= 0 && n <= i64::from(i32::MAX) => {}
                    _ => {
                        return Err(ApiError::invalid(
                            "autoscaling",
                            "Scale",
                            name,
                            vec![crate::status::FieldCause::invalid(
                                "spec.replicas",
                                &replicas,
                                "must be greater than or equal to 0",
                            )],
                        ));
                    }
                }
                let precondition = match meta_str(&desired, "resourceVersion") {
                    "" => None,
                    rv => Some(parse_rv(rv)?),
                };
                let mut obj = current.clone();
                set_at(&mut obj, &paths.spec_replicas, replicas);
                Ok((obj, Vec::new(), precondition))
            })
            .await?;
        Ok(Written {
            object: to_scale(&paths, &written.object),
            warnings: written.warnings,
            created: false,
            audit_annotations: written.audit_annotations,
        })
    }
}
