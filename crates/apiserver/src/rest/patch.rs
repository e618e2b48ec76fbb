//! PATCH: JSON patch, JSON merge patch, strategic merge patch (built-ins) and apply patches.

use super::meta::meta_str;
use super::{Rest, WriteOptions, Written};
use crate::resource::ResourceType;
use crate::status::ApiError;
use serde_json::Value;

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

    /// The patch Content-Types `rt` accepts, in kube-apiserver's order: custom resources take
    /// no strategic merge patch.
    pub fn accepted(rt: &ResourceType) -> &'static [&'static str] {
        if rt.strategy.supports_strategic_merge() {
            &[
                "application/json-patch+json",
                "application/merge-patch+json",
                "application/strategic-merge-patch+json",
                "application/apply-patch+yaml",
            ]
        } else {
            &[
                "application/json-patch+json",
                "application/merge-patch+json",
                "application/apply-patch+yaml",
            ]
        }
    }

    /// The patch type of `content_type` if `rt` accepts it; kube-apiserver's 415 otherwise.
    pub fn for_resource(rt: &ResourceType, content_type: &str) -> Result<Self, ApiError> {
        match Self::from_content_type(content_type) {
            Some(PatchType::StrategicMerge) if !rt.strategy.supports_strategic_merge() => {
                Err(ApiError::unsupported_patch_type(Self::accepted(rt)))
            }
            Some(t) => Ok(t),
            None => Err(ApiError::unsupported_patch_type(Self::accepted(rt))),
        }
    }
}

/// A strategic merge patch whose result does not decode as the type: kube-apiserver converts the
/// patched map to the type (`DefaultUnstructuredConverter`) and reports the converter's error
/// as `patch: Invalid value: "<the patch as Go prints a map>": <error>`, e.g. `cannot restore
/// map from string`. Other decode errors are kept as they are.
fn strategic_type_error(body: &[u8], decode_error: ApiError) -> ApiError {
    let Some(cause) = converter_error(&decode_error.message) else {
        return decode_error;
    };
    let patch: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    ApiError::invalid(
        "",
        "",
        "",
        vec![crate::status::FieldCause::invalid(
            "patch",
            &Value::String(go_print(&patch)),
            cause,
        )],
    )
}

/// apimachinery's converter error for a serde type error (`invalid type: string "x", expected
/// a map`): `cannot restore map from string`, `cannot restore slice from ...`, `cannot restore
/// struct from: ...`.
fn converter_error(message: &str) -> Option<String> {
    let rest = &message[message.find("invalid type: ")? + "invalid type: ".len()..];
    let (got, expected) = rest.split_once(", expected ")?;
    let kind = match got.split([' ', ',']).next()? {
        "string" => "string",
        "integer" => "int64",
        "floating" => "float64",
        "boolean" => "bool",
        "map" => "map",
        "sequence" => "slice",
        _ => return None,
    };
    if expected.starts_with("a map") {
        Some(format!("cannot restore map from {kind}"))
    } else if expected.starts_with("a sequence") {
        Some(format!("cannot restore slice from {kind}"))
    } else if expected.starts_with("struct") {
        Some(format!("cannot restore struct from: {kind}"))
    } else {
        None
    }
}

/// A JSON value as Go's `%+v` prints what `encoding/json` decodes it to: maps with sorted keys
/// as `map[k:v]`, slices as `[a b]`, strings bare, null as `<nil>`.
fn go_print(value: &Value) -> String {
    match value {
        Value::Null => "<nil>".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => match n.as_f64() {
            // float64, as Go's %v prints it (integral values without a fraction).
            Some(f) if f.fract() == 0.0 && f.abs() < 1e6 => format!("{f:.0}"),
            _ => n.to_string(),
        },
        Value::String(s) => s.clone(),
        Value::Array(items) => {
            let parts: Vec<String> = items.iter().map(go_print).collect();
            format!("[{}]", parts.join(" "))
        }
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            let parts: Vec<String> = entries
                .into_iter()
                .map(|(k, v)| format!("{k}:{}", go_print(v)))
                .collect();
            format!("map[{}]", parts.join(" "))
        }
    }
}

/// Applies a JSON patch to a copy of `current`; a failing operation is upstream's 422.
fn json_patch(current: &Value, body: &[u8]) -> Result<Value, ApiError> {
    let ops = super::json_patch::parse(body)?;
    let mut doc = current.clone();
    super::json_patch::apply(&mut doc, &ops).map_err(ApiError::rejected)?;
    Ok(doc)
}

/// Applies a JSON or merge patch to a plain value (used for subresource views like Scale).
pub fn patch_value(current: &Value, patch_type: PatchType, body: &[u8]) -> Result<Value, ApiError> {
    match patch_type {
        PatchType::Json => json_patch(current, body),
        PatchType::Merge | PatchType::StrategicMerge | PatchType::Apply => {
            let patch: Value = if patch_type == PatchType::Apply {
                crate::yaml::from_slice(body)
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
            PatchType::Json => json_patch(current, body),
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
                    return Err(ApiError::unsupported_patch_type(PatchType::accepted(rt)));
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
                super::strategic::strategic_merge(&rt.strategy.field_schema(), &mut doc, &patch)?;
                Ok(doc)
            }
            PatchType::Apply => Err(ApiError::internal(
                "apply patches are handled by server-side apply",
            )),
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
        if patch_type == PatchType::Apply {
            return self
                .server_side_apply(rt, namespace, name, body, opts, subresource)
                .await;
        }
        if opts.force {
            return Err(ApiError::invalid(
                "meta.k8s.io",
                "PatchOptions",
                "",
                vec![crate::status::FieldCause::invalid(
                    "force",
                    &Value::Bool(true),
                    "may not be specified for non-apply patch",
                )],
            ));
        }
        self.guaranteed_update(rt, namespace, name, opts, subresource, |current| {
            let patched = Self::apply_patch(rt, current, patch_type, body)?;
            let precondition = match meta_str(&patched, "resourceVersion") {
                rv if rv == meta_str(current, "resourceVersion") => None,
                rv => super::write::update_precondition(rt, name, rv)?,
            };
            let (decoded, warnings) = match self.decode_for_write(rt, patched, opts) {
                Err(e) if patch_type == PatchType::StrategicMerge && e.code == 400 => {
                    return Err(strategic_type_error(body, e));
                }
                other => other?,
            };
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
