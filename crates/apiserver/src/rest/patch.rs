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
