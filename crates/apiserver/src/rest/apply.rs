//! Server-side apply (`application/apply-patch+yaml`).
//!
//! The applied configuration is merged into the live object with the type's list and map
//! semantics ([`Schema`]); the applier then owns exactly the fields of its configuration (an
//! `Apply` entry in `managedFields`). Fields it owned in its previous configuration and no
//! longer applies are removed unless someone else owns them. Changing a field another manager
//! owns is a conflict (409 with `FieldManagerConflict` causes) unless `force` is set, which
//! moves the ownership to the applier; applying the value a field already has shares it.
//! Applying to a missing object creates it; applying through `/status` only touches status.

use super::meta::{meta_mut, meta_str};
use super::{Rest, WriteOptions, Written, now, parse_rv};
use crate::fieldpath::typed::ShapeError;
use crate::fieldpath::{Entry, ManagedFields, Operation, Path, Schema, Scope, strip_system};
use crate::resource::ResourceType;
use crate::status::{ApiError, FieldCause};
use serde_json::{Value, json};

/// A field another manager owns and the apply would change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    /// The manager, as upstream prints it (`"kubectl" using v1`).
    pub manager: String,
    /// The field.
    pub path: Path,
}

/// Why an apply failed.
#[derive(Debug, Clone, PartialEq)]
pub enum ApplyError {
    /// The configuration or the live object does not fit the type.
    Shape(ShapeError),
    /// Fields owned by other managers would change.
    Conflicts(Vec<Conflict>),
}

impl From<ShapeError> for ApplyError {
    fn from(e: ShapeError) -> Self {
        ApplyError::Shape(e)
    }
}

/// Who applies, and how.
#[derive(Debug, Clone, Copy)]
pub struct Applier<'a> {
    /// The field manager.
    pub manager: &'a str,
    /// The apiVersion the configuration is in.
    pub api_version: &'a str,
    /// `Some("status")` for `/status`.
    pub subresource: Option<&'a str>,
    /// What the write can change.
    pub scope: Scope,
    /// Take over conflicting fields.
    pub force: bool,
    /// The time to record.
    pub time: &'a str,
}

/// Applies `config` to `live` (an empty object when creating): returns the new object, with
/// its `metadata.managedFields`.
pub fn apply(
    schema: &Schema,
    live: &Value,
    config: &Value,
    who: &Applier<'_>,
) -> Result<Value, ApplyError> {
    let mut managers = ManagedFields::of(live);
    let mut live_body = live.clone();
    if let Some(m) = live_body.get_mut("metadata").and_then(Value::as_object_mut) {
        m.shift_remove("managedFields");
    }
    let config = who.scope.restrict(config);
    let config_set = schema.field_set(&config)?;
    let mine = who.scope.filter(strip_system(config_set.clone()));
    let merged = schema.merge(&live_body, &config)?;

    let position = managers.position(who.manager, Operation::Apply, who.subresource, "");
    let last = position
        .map(|i| managers.entries[i].fields.clone())
        .unwrap_or_default();
    let mut owned = config_set.clone();
    for (i, e) in managers.entries.iter().enumerate() {
        if Some(i) != position {
            owned.union_in_place(&e.fields);
        }
    }
    let mut new = merged;
    schema.prune(&mut new, &last, &owned);

    let cmp = schema.compare(&live_body, &new)?;
    let object_changed = !cmp.is_same();
    let changed = who.scope.filter(cmp.added.union(&cmp.modified));
    let removed = cmp.removed;
    let mut conflicts = Vec::new();
    for (i, e) in managers.entries.iter_mut().enumerate() {
        if Some(i) == position {
            continue;
        }
        let clash = e.fields.intersection(&changed);
        if !clash.is_empty() {
            if !who.force {
                let manager = e.describe();
                conflicts.extend(clash.paths().into_iter().map(|path| Conflict {
                    manager: manager.clone(),
                    path,
                }));
                continue;
            }
            e.fields = e.fields.difference(&clash);
        }
        if !removed.is_empty() {
            e.fields = e.fields.difference(&removed);
        }
    }
    if !conflicts.is_empty() {
        conflicts.sort_by(|a, b| a.manager.cmp(&b.manager));
        return Err(ApplyError::Conflicts(conflicts));
    }
    match position {
        Some(i) => {
            let e = &mut managers.entries[i];
            if object_changed || e.fields != mine || e.time.is_none() {
                e.time = Some(who.time.to_string());
            }
            e.fields = mine;
            e.api_version = who.api_version.to_string();
        }
        None => managers.entries.push(Entry {
            manager: who.manager.to_string(),
            operation: Operation::Apply,
            api_version: who.api_version.to_string(),
            time: Some(who.time.to_string()),
            subresource: who.subresource.map(str::to_string),
            fields: mine,
        }),
    }
    meta_mut(&mut new).insert("managedFields".into(), managers.encode());
    Ok(new)
}

/// The 409 upstream answers for apply conflicts.
pub fn conflict_error(conflicts: &[Conflict]) -> ApiError {
    let message = match conflicts {
        [one] => format!(
            "Apply failed with 1 conflict: conflict with {}: {}",
            one.manager, one.path
        ),
        many => {
            let mut lines = Vec::new();
            let mut current: Option<&str> = None;
            for c in many {
                if current != Some(c.manager.as_str()) {
                    lines.push(format!("conflicts with {}:", c.manager));
                    current = Some(&c.manager);
                }
                lines.push(format!("- {}", c.path));
            }
            format!(
                "Apply failed with {} conflicts: {}",
                many.len(),
                lines.join("\n")
            )
        }
    };
    let mut err = ApiError::bad_request(message);
    err.code = 409;
    err.reason = "Conflict";
    err.causes = conflicts
        .iter()
        .map(|c| FieldCause {
            reason: "FieldManagerConflict",
            field: c.path.to_string(),
            message: format!("conflict with {}", c.manager),
        })
        .collect();
    err
}

fn shape_error(e: &ShapeError) -> ApiError {
    ApiError::bad_request(format!("failed to create typed patch object: {e}"))
}

fn apply_error(e: ApplyError) -> ApiError {
    match e {
        ApplyError::Shape(e) => shape_error(&e),
        ApplyError::Conflicts(c) => conflict_error(&c),
    }
}

/// Parses an apply patch body (YAML, or JSON as kubectl and kube-rs send it).
fn parse_config(body: &[u8]) -> Result<Value, ApiError> {
    let value: Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(_) => crate::yaml::from_slice(body)
            .map_err(|e| ApiError::bad_request(format!("error decoding YAML: {e}")))?,
    };
    if !value.is_object() {
        return Err(ApiError::bad_request(format!(
            "error decoding YAML: an apply patch must be an object, got {}",
            crate::status::json_type_name(&value)
        )));
    }
    Ok(value)
}

/// The group, version and kind an apply configuration names, read as upstream reads an
/// unstructured object's: a missing or non-string field is empty, and an apiVersion with more
/// than one `/` names nothing at all.
fn group_version_kind(config: &Value) -> (&str, &str, &str) {
    let field = |name: &str| config.get(name).and_then(Value::as_str).unwrap_or("");
    let (api_version, kind) = (field("apiVersion"), field("kind"));
    match api_version.matches('/').count() {
        _ if api_version == "/" => ("", "", kind),
        0 => ("", api_version, kind),
        1 => {
            let (group, version) = api_version.split_once('/').unwrap_or_default();
            (group, version, kind)
        }
        _ => ("", "", ""),
    }
}

impl Rest {
    /// PATCH with `application/apply-patch+yaml`.
    pub(super) async fn server_side_apply(
        &self,
        rt: &ResourceType,
        namespace: Option<&str>,
        name: &str,
        body: &[u8],
        opts: &WriteOptions,
        subresource: Option<&str>,
    ) -> Result<Written, ApiError> {
        if opts.field_manager.is_empty() || opts.field_manager_defaulted {
            return Err(ApiError::invalid(
                "meta.k8s.io",
                "PatchOptions",
                "",
                vec![FieldCause::required(
                    "fieldManager",
                    "is required for apply patch",
                )],
            ));
        }
        let mut config = parse_config(body)?;
        let expected = rt.api_version();
        let (group, version, kind) = group_version_kind(&config);
        if (group, version, kind) != (rt.group.as_str(), rt.version.as_str(), rt.kind.as_str()) {
            return Err(ApiError::bad_request(format!(
                "invalid object type: {group}/{version}, Kind={kind}"
            )));
        }
        if config
            .get("metadata")
            .is_some_and(|m| !m.is_object() && !m.is_null())
        {
            return Err(ApiError::bad_request("metadata must be an object"));
        }
        if config
            .pointer("/metadata/managedFields")
            .is_some_and(|m| !m.is_null())
        {
            return Err(ApiError::bad_request("metadata.managedFields must be nil"));
        }
        match meta_str(&config, "name") {
            "" => {
                meta_mut(&mut config).insert("name".into(), json!(name));
            }
            n if n != name => {
                return Err(ApiError::bad_request(format!(
                    "the name of the object ({n}) does not match the name on the URL ({name})"
                )));
            }
            _ => {}
        }
        if rt.namespaced {
            match meta_str(&config, "namespace") {
                "" => {}
                ns if Some(ns) != namespace => {
                    return Err(ApiError::bad_request(
                        "the namespace of the provided object does not match the namespace sent on the request",
                    ));
                }
                _ => {}
            }
        }
        let schema = rt.strategy.field_schema();
        let scope = Scope::of(subresource, rt.status);
        let mut apply_opts = opts.clone();
        apply_opts.managed_fields_computed = true;
        let key = self.key(rt, namespace, name);
        if subresource.is_none() && self.store.get(&key).is_none() {
            let time = now();
            let who = Applier {
                manager: &opts.field_manager,
                api_version: &expected,
                subresource: None,
                scope,
                force: opts.force,
                time: &time,
            };
            let empty = json!({"apiVersion": expected, "kind": rt.kind});
            let obj = apply(&schema, &empty, &config, &who).map_err(apply_error)?;
            match self.create(rt, namespace, obj, &apply_opts).await {
                Err(e) if e.code == 409 && e.reason == "AlreadyExists" => {}
                other => return other,
            }
        }
        self.guaranteed_update(rt, namespace, name, &apply_opts, subresource, |current| {
            let time = now();
            let who = Applier {
                manager: &opts.field_manager,
                api_version: &expected,
                subresource,
                scope,
                force: opts.force,
                time: &time,
            };
            let applied = apply(&schema, current, &config, &who).map_err(apply_error)?;
            let precondition = match meta_str(&applied, "resourceVersion") {
                "" => None,
                rv if rv == meta_str(current, "resourceVersion") => None,
                rv => Some(parse_rv(rv)?),
            };
            let (decoded, warnings) = self.decode_for_write(rt, applied, opts)?;
            Ok((decoded, warnings, precondition))
        })
        .await
    }
}

#[cfg(test)]
mod tests;
