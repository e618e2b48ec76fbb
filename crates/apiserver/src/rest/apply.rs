//! Server-side apply (`application/apply-patch+yaml`).
//!
//! The applied configuration is merged into the live object with the type's list and map
//! semantics ([`Schema`]); the applier then owns exactly the fields of its configuration (an
//! `Apply` entry in `managedFields`). Fields it owned in its previous configuration and no
//! longer applies are removed unless someone else owns them. Changing a field another manager
//! owns is a conflict (409 with `FieldManagerConflict` causes) unless `force` is set, which
//! moves the ownership to the applier; applying the value a field already has shares it.
//! Applying to a missing object creates it; applying through `/status` only touches status.
//!
//! As upstream's field manager chain: an existing object without managedFields (they were
//! reset) first gives its fields to an `Update` manager `before-first-apply`; and for the
//! manager `kubectl` the client-side apply annotation (`last-applied-configuration`) counts:
//! conflicts on fields the annotation lists with the value they have are not conflicts (the
//! object was client-side applied by kubectl; `lastAppliedManager`), and the annotation, if
//! the object has one, is rewritten from the applied configuration (`lastAppliedUpdater`), so
//! moving between client-side and server-side apply works as with kube-apiserver.

use super::meta::{meta_mut, meta_str};
use super::{Rest, WriteOptions, Written, now};
use crate::fieldpath::typed::ShapeError;
use crate::fieldpath::{Entry, ManagedFields, Operation, Path, Schema, Scope, Set, strip_system};
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
    if managers.entries.is_empty() && !meta_str(live, "uid").is_empty() {
        // Upstream's skipNonAppliedManager: what an untracked object holds was set by someone.
        managers.entries.push(Entry {
            manager: BEFORE_FIRST_APPLY.to_string(),
            operation: Operation::Update,
            api_version: who.api_version.to_string(),
            time: Some(who.time.to_string()),
            subresource: who.subresource.map(str::to_string),
            // An update from nothing to the live object: everything it holds was added.
            fields: who.scope.filter(strip_system(
                schema
                    .compare(&Value::Object(Default::default()), &live_body)?
                    .added,
            )),
        });
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

/// The manager upstream gives the fields of an object without managedFields on its first apply.
const BEFORE_FIRST_APPLY: &str = "before-first-apply";

/// The manager `kubectl apply --server-side` uses, for which the client-side apply annotation
/// counts.
const KUBECTL: &str = "kubectl";

/// kubectl's client-side apply annotation.
pub const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// The fields `live`'s last-applied annotation lists with the value they have in `live`
/// (upstream's `allowedConflictsFromLastApplied`); `None` without a usable annotation.
fn last_applied_fields(schema: &Schema, live: &Value, api_version: &str) -> Option<Set> {
    let text = live
        .pointer("/metadata/annotations")
        .and_then(|a| a.get(LAST_APPLIED))
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())?;
    let last: Value = serde_json::from_str(text).ok()?;
    if last.get("apiVersion").and_then(Value::as_str) != Some(api_version) {
        return None;
    }
    let mut live_body = live.clone();
    if let Some(m) = live_body.get_mut("metadata").and_then(Value::as_object_mut) {
        m.shift_remove("managedFields");
    }
    let fields = schema.field_set(&last).ok()?;
    let cmp = schema.compare(&last, &live_body).ok()?;
    Some(
        fields
            .difference(&cmp.modified)
            .difference(&cmp.added)
            .difference(&cmp.removed),
    )
}

/// Applies as [`apply`] does, with upstream's `lastAppliedManager`: when `kubectl` (not forcing)
/// conflicts only on fields the live object's last-applied annotation lists with their current
/// value, the apply is forced; otherwise the conflicts left are the error.
fn apply_as_manager(
    schema: &Schema,
    live: &Value,
    config: &Value,
    who: &Applier<'_>,
) -> Result<Value, ApplyError> {
    match apply(schema, live, config, who) {
        Err(ApplyError::Conflicts(conflicts)) if who.manager == KUBECTL && !who.force => {
            let Some(allowed) = last_applied_fields(schema, live, who.api_version) else {
                return Err(ApplyError::Conflicts(conflicts));
            };
            let left: Vec<Conflict> = conflicts
                .into_iter()
                .filter(|c| !allowed.has(&c.path.0))
                .collect();
            if !left.is_empty() {
                return Err(ApplyError::Conflicts(left));
            }
            apply(
                schema,
                live,
                config,
                &Applier {
                    force: true,
                    ..*who
                },
            )
        }
        other => other,
    }
}

/// `value` serialized as Go's `encoding/json` encoder writes an unstructured object: keys
/// sorted, `<`, `>`, `&`, U+2028 and U+2029 escaped, a newline at the end (what kubectl's and
/// upstream's last-applied annotations hold).
fn go_json(value: &Value) -> String {
    fn sorted(v: &Value) -> Value {
        match v {
            Value::Object(m) => {
                let mut keys: Vec<&String> = m.keys().collect();
                keys.sort();
                Value::Object(
                    keys.into_iter()
                        .map(|k| (k.clone(), sorted(&m[k])))
                        .collect(),
                )
            }
            Value::Array(items) => Value::Array(items.iter().map(sorted).collect()),
            other => other.clone(),
        }
    }
    let text = serde_json::to_string(&sorted(value)).unwrap_or_default();
    // These characters only occur inside strings, where Go writes them as escapes.
    let mut out = String::with_capacity(text.len() + 1);
    for c in text.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out.push('\n');
    out
}

/// Upstream's `lastAppliedUpdater`: after `kubectl` applied `config`, an object that has a
/// last-applied annotation gets `config` (without that annotation) in it, or loses the
/// annotation when the annotations would then exceed their size limit (`SetLastApplied`).
fn update_last_applied(manager: &str, applied: &mut Value, config: &Value) {
    let has = applied
        .pointer("/metadata/annotations")
        .and_then(|a| a.get(LAST_APPLIED))
        .and_then(Value::as_str)
        .is_some_and(|t| !t.is_empty());
    if manager != KUBECTL || !has {
        return;
    }
    let mut last = config.clone();
    if let Some(a) = last
        .pointer_mut("/metadata/annotations")
        .and_then(Value::as_object_mut)
    {
        a.shift_remove(LAST_APPLIED);
    }
    let text = go_json(&last);
    if let Some(a) = applied
        .pointer_mut("/metadata/annotations")
        .and_then(Value::as_object_mut)
    {
        a.insert(LAST_APPLIED.into(), Value::String(text));
        let size: usize = a
            .iter()
            .map(|(k, v)| k.len() + v.as_str().map_or(0, str::len))
            .sum();
        if size > crate::validation::TOTAL_ANNOTATION_SIZE_LIMIT {
            a.shift_remove(LAST_APPLIED);
        }
    }
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
        // The configuration as sent, for the last-applied annotation.
        let sent = config.clone();
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
            let mut obj = apply(&schema, &empty, &config, &who).map_err(apply_error)?;
            update_last_applied(&opts.field_manager, &mut obj, &sent);
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
            let mut applied =
                apply_as_manager(&schema, current, &config, &who).map_err(apply_error)?;
            update_last_applied(&opts.field_manager, &mut applied, &sent);
            let precondition = match meta_str(&applied, "resourceVersion") {
                rv if rv == meta_str(current, "resourceVersion") => None,
                rv => super::write::update_precondition(rt, name, rv)?,
            };
            let (decoded, warnings) = self.decode_for_write(rt, applied, opts)?;
            Ok((decoded, warnings, precondition))
        })
        .await
    }
}

#[cfg(test)]
mod tests;
