//! Create, update and delete: the write verbs of the generic path.

use super::managed_fields::{self, Write};
use super::meta::{
    check_type_meta, finalizers, is_deleting, meta_mut, meta_str, now, random_suffix, spec_part,
};
use super::{FieldValidation, Rest, WriteOptions, Written, parse_rv, served_version, store_error};
use crate::admission::{Effects, Operation, Request};
use crate::resource::ResourceType;
use crate::status::{ApiError, FieldCause};
use crate::storage::{Encoded, StoreError, WriteOp};
use crate::validation::validate_object_meta;
use serde_json::{Value, json};

/// The finalizer a DELETE with `propagationPolicy: Orphan` adds; garbage collection removes it
/// after stripping the owner from its dependents.
pub const ORPHAN_FINALIZER: &str = "orphan";
/// The finalizer a DELETE with `propagationPolicy: Foreground` adds; garbage collection removes it
/// once the dependents that block owner deletion are gone.
pub const FOREGROUND_FINALIZER: &str = "foregroundDeletion";

/// How many times a create with `generateName` tries another name after a collision.
const RETRIES: usize = 16;
/// How long an update or delete keeps retrying after losing an optimistic-concurrency race it
/// did not ask for (no resourceVersion precondition). kube-apiserver's GuaranteedUpdate retries
/// until the request's deadline (60 s by default); every lost race means another write
/// succeeded, so this ends as soon as the key is not written continuously.
const RACE_PATIENCE: std::time::Duration = std::time::Duration::from_secs(60);

/// Options of a DELETE (the `DeleteOptions` body and query parameters).
#[derive(Debug, Clone, Default)]
pub struct DeleteOptions {
    /// `preconditions.uid`.
    pub uid: Option<String>,
    /// `preconditions.resourceVersion`.
    pub resource_version: Option<String>,
    /// `propagationPolicy`: Orphan, Background or Foreground.
    pub propagation_policy: Option<String>,
    /// `dryRun=All`.
    pub dry_run: bool,
    /// `gracePeriodSeconds`: how long a graceful deletion waits (the strategy's default when
    /// unset; 0 deletes at once; negative counts as 1).
    pub grace_period_seconds: Option<i64>,
    /// Who deletes, as admission reports it; None for the server's own controllers.
    pub user: Option<std::sync::Arc<crate::auth::user::UserInfo>>,
}

/// The result of a DELETE.
#[derive(Debug, Clone)]
pub struct Deleted {
    /// The object: as it was when removed, or as it now is (marked for deletion).
    pub object: Value,
    /// Whether the object is gone; false while finalizers or a graceful deletion keep it.
    pub removed: bool,
    /// What admission said besides allowing (`Warning` headers, audit annotations).
    pub effects: Effects,
}

impl Deleted {
    /// What a DELETE answers (upstream's `finalizeDelete`): the object while it stays or when
    /// the resource returns deleted objects; otherwise a `Status` whose details name the object
    /// (with the resource, not the kind, as `kind`), its group and its uid.
    pub fn answer(self, rt: &ResourceType) -> DeleteAnswer {
        if !self.removed || rt.strategy.returns_deleted_object() {
            return DeleteAnswer::Object(self.object);
        }
        let mut details = serde_json::Map::new();
        details.insert("name".into(), json!(meta_str(&self.object, "name")));
        if !rt.group.is_empty() {
            details.insert("group".into(), json!(rt.group));
        }
        details.insert("kind".into(), json!(rt.plural));
        details.insert("uid".into(), json!(meta_str(&self.object, "uid")));
        DeleteAnswer::Status(
            json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "details": details}),
        )
    }
}

/// What a DELETE answers: the object, or a `Status` (which is never converted to a table or
/// to metadata, as upstream leaves a `Status` alone).
#[derive(Debug, Clone, PartialEq)]
pub enum DeleteAnswer {
    /// The object, as it was removed or as it now is.
    Object(Value),
    /// `{kind: Status, status: Success, details: {name, group, kind: <resource>, uid}}`.
    Status(Value),
}

/// The deletionTimestamp of `obj` moved by `seconds` (shortening a graceful deletion).
fn deletion_time(obj: &Value, seconds: i64) -> String {
    let at = obj
        .pointer("/metadata/deletionTimestamp")
        .and_then(Value::as_str)
        .and_then(|t| t.parse::<jiff::Timestamp>().ok())
        .unwrap_or_else(jiff::Timestamp::now);
    (at + jiff::SignedDuration::from_secs(seconds))
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

/// `obj` (in `rt`'s form) serialized as it is stored: after the strategy's storage conversion,
/// if it has one (only then is the object copied).
///
/// `obj` is first put in kube-apiserver's key order ([`crate::keyorder`]), with an empty
/// `metadata.resourceVersion` where it had none, so that the version the store stamps lands in
/// its place and `obj`, once given the version, is exactly what was stored.
fn stored_form(rt: &ResourceType, obj: &mut Value) -> Encoded {
    if let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut)
        && !meta.contains_key("resourceVersion")
    {
        meta.insert("resourceVersion".into(), Value::String(String::new()));
    }
    rt.strategy.order_keys(obj);
    if rt.strategy.converts_for_storage() {
        let mut stored = obj.clone();
        rt.strategy.convert_to_storage(&mut stored);
        rt.strategy.order_stored_keys(&mut stored);
        Encoded::new(&stored)
    } else {
        Encoded::new(obj)
    }
}

impl Rest {
    /// Writes `op` to the store; a write a user asks for (`by_user`) is then answered once the
    /// resource's [`ResourceType::settle`] says this server acts on it.
    async fn commit(
        &self,
        rt: &ResourceType,
        by_user: bool,
        op: WriteOp,
    ) -> Result<std::sync::Arc<crate::storage::StoredObject>, StoreError> {
        let stored = self.store.write(op).await?;
        if let (Some(settle), true) = (rt.settle, by_user) {
            settle(self, stored.resource_version).await;
        }
        Ok(stored)
    }

    /// [`stored_form`] of `obj` after converting it to the storage version when the resource
    /// converts by webhook (then `obj` itself is left as it is).
    async fn storable(&self, rt: &ResourceType, obj: &mut Value) -> Result<Encoded, ApiError> {
        if rt.conversion.is_none() {
            return Ok(stored_form(rt, obj));
        }
        let mut stored = self.to_storage(rt, obj.clone()).await?;
        Ok(stored_form(rt, &mut stored))
    }

    /// What a dry-run write answers: `obj` as upstream's dry-run storage returns it, encoded
    /// for storage and decoded back, which for a resource converting by webhook is a round
    /// trip through the storage version (two webhook calls, as upstream makes them).
    async fn dry_run_round_trip(&self, rt: &ResourceType, obj: Value) -> Result<Value, ApiError> {
        if rt.conversion.is_none() {
            return Ok(obj);
        }
        let stored = self.to_storage(rt, obj).await?;
        self.served(rt, stored).await
    }
}

/// The resourceVersion precondition of an update whose object carries `rv`. As upstream's
/// store, "" and "0" are no version at all (both parse to 0): an unconditional update, which
/// only strategies allowing it accept (`must be specified for an update` otherwise), so an
/// object exported with `resourceVersion: "0"` is replaced unconditionally.
pub(crate) fn update_precondition(
    rt: &ResourceType,
    name: &str,
    rv: &str,
) -> Result<Option<u64>, ApiError> {
    match rv {
        "" | "0" if rt.strategy.allow_unconditional_update() => Ok(None),
        "" | "0" => Err(ApiError::invalid(
            &rt.group,
            &rt.kind,
            name,
            // Upstream's value is the parsed uint64, which Go prints as `0x0`.
            vec![FieldCause {
                reason: "FieldValueInvalid",
                field: "metadata.resourceVersion".into(),
                message:
                    "metadata.resourceVersion: Invalid value: 0x0: must be specified for an update"
                        .into(),
            }],
        )),
        rv => Ok(Some(parse_rv(rv)?)),
    }
}

impl Rest {
    /// Checks type meta, decodes through the strategy and applies `fieldValidation`.
    pub(crate) fn decode_for_write(
        &self,
        rt: &ResourceType,
        mut body: Value,
        opts: &WriteOptions,
    ) -> Result<(Value, Vec<String>), ApiError> {
        check_type_meta(rt, &mut body)?;
        let decoded = rt.strategy.decode(body)?;
        let mut warnings = Vec::new();
        if !decoded.unknown_fields.is_empty() {
            match opts.field_validation {
                FieldValidation::Strict => {
                    return Err(ApiError::strict_decoding(&decoded.unknown_fields));
                }
                FieldValidation::Warn => {
                    warnings.extend(
                        decoded
                            .unknown_fields
                            .iter()
                            .map(|f| format!("unknown field {f:?}")),
                    );
                }
                FieldValidation::Ignore => {}
            }
        }
        Ok((decoded.value, warnings))
    }

    fn invalid(rt: &ResourceType, obj: &Value, causes: Vec<FieldCause>) -> ApiError {
        let name = match meta_str(obj, "name") {
            "" => meta_str(obj, "generateName"),
            n => n,
        };
        ApiError::invalid(&rt.group, &rt.kind, name, causes)
    }

    /// POST: creates an object in `namespace`.
    pub async fn create(
        &self,
        rt: &ResourceType,
        namespace: Option<&str>,
        body: Value,
        opts: &WriteOptions,
    ) -> Result<Written, ApiError> {
        let (mut obj, warnings) = self.decode_for_write(rt, body, opts)?;
        // One clock reading for the creation timestamp and the managedFields entry.
        let time = now();
        let applied_mf = opts
            .managed_fields_computed
            .then(|| obj.pointer("/metadata/managedFields").cloned())
            .flatten();
        // What the client sent, for the managedFields a create starts from.
        let sent_mf = if opts.managed_fields_computed {
            None
        } else {
            obj.pointer("/metadata/managedFields").cloned()
        };
        {
            let m = meta_mut(&mut obj);
            if rt.namespaced {
                let url_ns = namespace.unwrap_or("");
                match m.get("namespace").and_then(Value::as_str) {
                    Some(ns) if !ns.is_empty() && ns != url_ns => {
                        return Err(ApiError::bad_request(
                            "the namespace of the provided object does not match the namespace sent on the request",
                        ));
                    }
                    _ => {
                        m.insert("namespace".into(), json!(url_ns));
                    }
                }
            } else {
                m.remove("namespace");
            }
            for field in [
                "resourceVersion",
                "deletionTimestamp",
                "deletionGracePeriodSeconds",
                "managedFields",
                "selfLink",
            ] {
                m.remove(field);
            }
            m.insert("uid".into(), json!(uuid::Uuid::new_v4().to_string()));
            m.insert("creationTimestamp".into(), json!(time));
            if rt.strategy.tracks_generation() {
                m.insert("generation".into(), json!(1));
            } else {
                m.remove("generation");
            }
        }
        if rt.status
            && !rt.strategy.keeps_status_on_create()
            && let Some(map) = obj.as_object_mut()
        {
            map.remove("status");
        }
        let name = meta_str(&obj, "name").to_string();
        let mut effects = Effects {
            warnings,
            ..Effects::default()
        };
        let request = Request {
            user: opts.user.as_deref(),
            dry_run: opts.dry_run,
            field_manager: &opts.field_manager,
            ..Request::new(Operation::Create, rt, namespace, &name)
        };
        self.admission
            .admit(self, &request, Some(&mut obj), &mut effects)
            .await?;
        if let (Some(guard), Some(user)) = (rt.guard, &opts.user) {
            guard(crate::resource::Guarded {
                rest: self,
                user,
                rt,
                namespace: namespace.unwrap_or(""),
                name: "",
                object: &obj,
                old: None,
            })
            .await?;
        }
        rt.strategy
            .prepare_for_create_by(&mut obj, opts.user.as_deref());
        let initial = rt.strategy.initial_finalizers();
        if !initial.is_empty() {
            let mut fins = finalizers(&obj);
            for f in initial {
                if !fins.iter().any(|x| x == f) {
                    fins.push(f.to_string());
                }
            }
            meta_mut(&mut obj).insert("finalizers".into(), json!(fins));
        }
        let mut causes = validate_object_meta(&obj["metadata"], rt.strategy.name_rule());
        causes.extend(rt.strategy.validate(&obj));
        if !causes.is_empty() {
            return Err(effects.attach(Self::invalid(rt, &obj, causes)));
        }
        // What the object takes from shared pools (a Service's cluster IPs), as upstream's
        // `BeginCreate`, is taken once it is valid, recorded under its name (so a generated
        // name is chosen first), and given back when the create then fails.
        if rt.allocation.is_some()
            && meta_str(&obj, "name").is_empty()
            && !meta_str(&obj, "generateName").is_empty()
        {
            let generated = format!("{}{}", meta_str(&obj, "generateName"), random_suffix());
            meta_mut(&mut obj).insert("name".into(), json!(generated));
        }
        let taken = match rt.allocation {
            Some(allocation) => allocation
                .allocate(self, &mut obj, None, opts.dry_run)
                .await
                .map_err(|e| effects.attach(e))?,
            None => Vec::new(),
        };
        let result = async move {
            // Rebound so its borrows may be of the block's own values.
            let mut request = request;
            let admitted_name = meta_str(&obj, "name").to_string();
            request.name = &admitted_name;
            self.admission
                .validate(self, &request, Some(&obj), &mut effects)
                .await?;
            let Effects {
                warnings,
                audit_annotations,
            } = effects;
            let av = rt.api_version();
            let mf = match applied_mf {
                Some(mf) => Some(mf),
                None => {
                    if let Some(sent) = sent_mf {
                        meta_mut(&mut obj).insert("managedFields".into(), sent);
                    }
                    managed_fields::record(
                        None,
                        &obj,
                        &Write {
                            manager: &opts.field_manager,
                            api_version: &av,
                            time: &time,
                            subresource: None,
                            schema: &rt.strategy.field_schema(),
                            status_subresource: rt.status,
                        },
                    )
                }
            };
            match mf {
                Some(mf) => meta_mut(&mut obj).insert("managedFields".into(), mf),
                None => meta_mut(&mut obj).shift_remove("managedFields"),
            };
            let generate = meta_str(&obj, "generateName").to_string();
            let fixed_name = meta_str(&obj, "name").to_string();
            for attempt in 0..RETRIES {
                if fixed_name.is_empty() {
                    meta_mut(&mut obj).insert(
                        "name".into(),
                        json!(format!("{generate}{}", random_suffix())),
                    );
                }
                let name = meta_str(&obj, "name").to_string();
                if fixed_name.is_empty() {
                    let problems = rt.strategy.name_rule().problems(&name);
                    if !problems.is_empty() {
                        let causes = problems
                            .into_iter()
                            .map(|p| FieldCause::invalid("metadata.name", &json!(name), p))
                            .collect();
                        return Err(Self::invalid(rt, &obj, causes));
                    }
                }
                let key = self.key(rt, namespace, &name);
                if opts.dry_run {
                    // As upstream's dry-run storage: a name that is taken is taken, written or not.
                    if self.store.get(&key).is_some() {
                        if fixed_name.is_empty() && attempt + 1 < RETRIES {
                            continue;
                        }
                        return Err(store_error(rt, &name, StoreError::AlreadyExists));
                    }
                    rt.strategy.order_keys(&mut obj);
                    return Ok(Written {
                        object: self.dry_run_round_trip(rt, obj).await?,
                        warnings,
                        created: true,
                        audit_annotations,
                    });
                }
                match self
                    .commit(
                        rt,
                        opts.user.is_some(),
                        WriteOp::Create {
                            key,
                            value: self.storable(rt, &mut obj).await?,
                        },
                    )
                    .await
                {
                    Ok(stored) if rt.conversion.is_some() => {
                        // Stored at the storage version: answered as read back at the request's.
                        return Ok(Written {
                            object: self.served(rt, stored.value()).await?,
                            warnings,
                            created: true,
                            audit_annotations,
                        });
                    }
                    Ok(stored) => {
                        // What was stored is `obj` with its resourceVersion stamped in (as
                        // `Encoded::stamp` does): answer with that instead of parsing the stored
                        // JSON back.
                        let mut v = obj;
                        if let Some(m) = v.get_mut("metadata").and_then(Value::as_object_mut) {
                            m.insert(
                                "resourceVersion".into(),
                                Value::String(stored.resource_version.to_string()),
                            );
                        }
                        served_version(rt, &mut v);
                        return Ok(Written {
                            object: v,
                            warnings,
                            created: true,
                            audit_annotations,
                        });
                    }
                    Err(StoreError::AlreadyExists)
                        if fixed_name.is_empty() && attempt + 1 < RETRIES =>
                    {
                        continue;
                    }
                    Err(e) => return Err(store_error(rt, &name, e)),
                }
            }
            Err(ApiError::already_exists(&rt.group, &rt.plural, &generate))
        }
        .await;
        if let (Err(_), Some(allocation)) = (&result, rt.allocation)
            && !taken.is_empty()
        {
            allocation.give_back(self, taken).await;
        }
        result
    }

    /// The generic update semantics: merges what the client may not change from `old` into
    /// `new`, bumps generation, checks finalizers, validates and records managedFields.
    /// Returns None when nothing would change.
    pub(crate) fn prepare_update(
        &self,
        rt: &ResourceType,
        old: &Value,
        mut new: Value,
        opts: &WriteOptions,
        subresource: Option<&str>,
    ) -> Result<Option<Value>, ApiError> {
        let applied_mf = opts
            .managed_fields_computed
            .then(|| new.pointer("/metadata/managedFields").cloned())
            .flatten();
        // What the client sent (a body or a patch may rewrite managedFields); the main endpoint
        // only, as upstream ignores them through subresources.
        let sent_mf = if opts.managed_fields_computed || subresource.is_some() {
            None
        } else {
            new.pointer("/metadata/managedFields").cloned()
        };
        if let Some(sub) = subresource.filter(|s| *s != "status") {
            // A subresource of the resource's own (`namespaces/finalize`): it says what changes.
            new = rt.strategy.update_through(sub, old, new);
        } else if subresource == Some("status") {
            let status = new.get("status").cloned();
            let mut merged = old.clone();
            match status {
                Some(s) => merged["status"] = s,
                None => {
                    if let Some(m) = merged.as_object_mut() {
                        m.remove("status");
                    }
                }
            }
            new = merged;
        } else {
            if rt.status {
                match old.get("status") {
                    Some(s) => new["status"] = s.clone(),
                    None => {
                        if let Some(m) = new.as_object_mut() {
                            m.remove("status");
                        }
                    }
                }
            }
            rt.strategy.prepare_for_update(&mut new, old);
        }
        {
            let old_meta = old.get("metadata").cloned().unwrap_or(json!({}));
            let m = meta_mut(&mut new);
            for field in [
                "uid",
                "creationTimestamp",
                "deletionTimestamp",
                "deletionGracePeriodSeconds",
                "generation",
                "namespace",
                "name",
                "managedFields",
            ] {
                match old_meta.get(field) {
                    Some(v) => m.insert(field.into(), v.clone()),
                    None => m.remove(field),
                };
            }
            m.remove("resourceVersion");
            m.remove("selfLink");
        }
        if rt.strategy.tracks_generation()
            && spec_part(old, rt.status) != spec_part(&new, rt.status)
        {
            let generation = old
                .pointer("/metadata/generation")
                .and_then(Value::as_i64)
                .unwrap_or(0)
                + 1;
            meta_mut(&mut new).insert("generation".into(), json!(generation));
        }
        if is_deleting(old) {
            let old_f = finalizers(old);
            let added: Vec<String> = finalizers(&new)
                .into_iter()
                .filter(|f| !old_f.contains(f))
                .collect();
            if !added.is_empty() {
                return Err(Self::invalid(
                    rt,
                    &new,
                    vec![FieldCause::forbidden(
                        "metadata.finalizers",
                        format!(
                            "no new finalizers can be added if the object is being deleted, found new finalizers {added:?}"
                        ),
                    )],
                ));
            }
        }
        let mut causes = validate_object_meta(&new["metadata"], rt.strategy.name_rule());
        if subresource == Some("status") {
            causes.extend(rt.strategy.validate_status_update(&new, old));
        } else if let Some(sub) = subresource {
            causes.extend(rt.strategy.validate_update_through(sub, &new, old));
        } else {
            causes.extend(rt.strategy.validate_update(&new, old));
        }
        if !causes.is_empty() {
            return Err(Self::invalid(rt, &new, causes));
        }
        let mut old_cmp = old.clone();
        if let Some(m) = old_cmp.get_mut("metadata").and_then(Value::as_object_mut) {
            m.remove("resourceVersion");
        }
        if let Some(mf) = applied_mf {
            // Server-side apply: its managedFields may change even when nothing else does.
            meta_mut(&mut new).insert("managedFields".into(), mf);
            return Ok((old_cmp != new).then_some(new));
        }
        let rewrites_mf = sent_mf
            .as_ref()
            .is_some_and(|sent| Some(sent) != old.pointer("/metadata/managedFields"));
        if old_cmp == new && !rewrites_mf {
            return Ok(None);
        }
        if let Some(sent) = sent_mf {
            meta_mut(&mut new).insert("managedFields".into(), sent);
        }
        let av = rt.api_version();
        let time = now();
        let mf = managed_fields::record(
            Some(old),
            &new,
            &Write {
                manager: &opts.field_manager,
                api_version: &av,
                time: &time,
                subresource,
                schema: &rt.strategy.field_schema(),
                status_subresource: rt.status,
            },
        );
        match mf {
            Some(mf) => meta_mut(&mut new).insert("managedFields".into(), mf),
            None => meta_mut(&mut new).shift_remove("managedFields"),
        };
        // Entries that did not decode leave the stored ones, and maybe nothing changed at all.
        Ok((old_cmp != new).then_some(new))
    }

    /// Reads, transforms and writes one object, retrying on races it did not ask to detect.
    /// `mutate` gets the current object (at `rt`'s version) and returns the desired one and
    /// the resourceVersion precondition it carries, if any.
    pub(crate) async fn guaranteed_update<F>(
        &self,
        rt: &ResourceType,
        namespace: Option<&str>,
        name: &str,
        opts: &WriteOptions,
        subresource: Option<&str>,
        mut mutate: F,
    ) -> Result<Written, ApiError>
    where
        F: FnMut(&Value) -> Result<(Value, Vec<String>, Option<u64>), ApiError>,
    {
        let key = self.key(rt, namespace, name);
        let deadline = std::time::Instant::now() + RACE_PATIENCE;
        let mut fresh = !self.store.is_shared();
        while std::time::Instant::now() < deadline {
            let current = self
                .store
                .get(&key)
                .ok_or_else(|| ApiError::not_found(&rt.group, &rt.plural, name))?;
            let old = self.served(rt, current.value()).await?;
            let (mut desired, warnings, precondition) = mutate(&old)?;
            if let Some(rv) = precondition
                && rv != current.resource_version
            {
                if !fresh {
                    // On a shared medium the cache may not have another server's latest write
                    // yet: refuse only once it has caught up with the medium, as upstream's
                    // GuaranteedUpdate re-reads from etcd before failing a precondition.
                    self.consistent().await?;
                    fresh = true;
                    continue;
                }
                return Err(ApiError::stale(&rt.group, &rt.plural, name));
            }
            // Admission as upstream's update: mutating on the object as the client made it,
            // validating on the object about to be stored (also when nothing changes).
            let mut effects = Effects {
                warnings,
                ..Effects::default()
            };
            let request = Request {
                subresource,
                old_object: Some(&old),
                user: opts.user.as_deref(),
                dry_run: opts.dry_run,
                field_manager: &opts.field_manager,
                ..Request::new(Operation::Update, rt, namespace, name)
            };
            self.admission
                .admit(self, &request, Some(&mut desired), &mut effects)
                .await?;
            if let (Some(guard), Some(user), None) = (rt.guard, &opts.user, subresource) {
                guard(crate::resource::Guarded {
                    rest: self,
                    user,
                    rt,
                    namespace: namespace.unwrap_or(""),
                    name,
                    object: &desired,
                    old: Some(&old),
                })
                .await?;
            }
            let prepared = self
                .prepare_update(rt, &old, desired, opts, subresource)
                .map_err(|e| effects.attach(e))?;
            self.admission
                .validate(
                    self,
                    &request,
                    Some(prepared.as_ref().unwrap_or(&old)),
                    &mut effects,
                )
                .await?;
            let Effects {
                warnings,
                audit_annotations,
            } = effects;
            let Some(mut new) = prepared else {
                return Ok(Written {
                    object: old,
                    warnings,
                    created: false,
                    audit_annotations,
                });
            };
            let allocation = rt.allocation.filter(|_| subresource.is_none());
            let taken = match allocation {
                Some(a) => a.allocate(self, &mut new, Some(&old), opts.dry_run).await?,
                None => Vec::new(),
            };
            if opts.dry_run {
                rt.strategy.order_keys(&mut new);
                return Ok(Written {
                    object: self.dry_run_round_trip(rt, new).await?,
                    warnings,
                    created: false,
                    audit_annotations,
                });
            }
            // As upstream's `shouldDeleteDuringUpdate`: an update that leaves a deleted object
            // without finalizers removes it, unless a graceful deletion still runs.
            let grace_pending = new
                .pointer("/metadata/deletionGracePeriodSeconds")
                .and_then(Value::as_i64)
                .is_some_and(|g| g > 0);
            let removes = is_deleting(&new)
                && !grace_pending
                && finalizers(&new).is_empty()
                && !rt.strategy.blocks_deletion(&new);
            let op = if removes {
                WriteOp::Delete {
                    key: key.clone(),
                    expected: Some(current.resource_version),
                }
            } else {
                WriteOp::Update {
                    key: key.clone(),
                    value: self.storable(rt, &mut new).await?,
                    expected: Some(current.resource_version),
                }
            };
            let committed = self.commit(rt, opts.user.is_some(), op).await;
            if let Some(a) = allocation {
                match &committed {
                    Ok(_) => a.release(self, &old, (!removes).then_some(&new)).await,
                    Err(_) if !taken.is_empty() => a.give_back(self, taken).await,
                    Err(_) => {}
                }
            }
            match committed {
                Ok(stored) => {
                    return Ok(Written {
                        object: self.served(rt, stored.value()).await?,
                        warnings,
                        created: false,
                        audit_annotations,
                    });
                }
                Err(StoreError::Conflict { .. }) if precondition.is_none() => continue,
                Err(StoreError::Conflict { .. }) => {
                    return Err(ApiError::stale(&rt.group, &rt.plural, name));
                }
                Err(e) => return Err(store_error(rt, name, e)),
            }
        }
        Err(ApiError::conflict(
            &rt.group,
            &rt.plural,
            name,
            "too many concurrent writers; please retry",
        ))
    }

    /// PUT: replaces an object (or its status, with `subresource = Some("status")`).
    pub async fn update(
        &self,
        rt: &ResourceType,
        namespace: Option<&str>,
        name: &str,
        body: Value,
        opts: &WriteOptions,
        subresource: Option<&str>,
    ) -> Result<Written, ApiError> {
        let (mut obj, warnings) = self.decode_for_write(rt, body, opts)?;
        let body_name = meta_str(&obj, "name").to_string();
        if !body_name.is_empty() && body_name != name {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({body_name}) does not match the name on the URL ({name})"
            )));
        }
        if rt.namespaced {
            let body_ns = meta_str(&obj, "namespace");
            if !body_ns.is_empty() && Some(body_ns) != namespace {
                return Err(ApiError::bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request",
                ));
            }
        }
        let precondition = update_precondition(rt, name, meta_str(&obj, "resourceVersion"))?;
        meta_mut(&mut obj).insert("name".into(), json!(name));
        self.guaranteed_update(rt, namespace, name, opts, subresource, |_| {
            Ok((obj.clone(), warnings.clone(), precondition))
        })
        .await
    }

    /// DELETE: removes an object, or marks it for deletion while finalizers remain or while a
    /// graceful deletion runs (upstream's `BeforeDelete` and the registry store's `Delete`).
    pub async fn delete(
        &self,
        rt: &ResourceType,
        namespace: Option<&str>,
        name: &str,
        opts: &DeleteOptions,
    ) -> Result<Deleted, ApiError> {
        if let Some(p) = &opts.propagation_policy
            && !matches!(p.as_str(), "Orphan" | "Background" | "Foreground")
        {
            // As upstream: `DeleteOptions.meta.k8s.io "" is invalid: propagationPolicy: ...`.
            return Err(ApiError::invalid(
                "meta.k8s.io",
                "DeleteOptions",
                "",
                vec![FieldCause::not_supported(
                    "propagationPolicy",
                    &json!(p),
                    &[
                        "Foreground".into(),
                        "Background".into(),
                        "Orphan".into(),
                        "nil".into(),
                    ],
                )],
            ));
        }
        // As upstream: a negative grace period is treated as one second.
        let requested_grace = opts.grace_period_seconds.map(|g| if g < 0 { 1 } else { g });
        let key = self.key(rt, namespace, name);
        let deadline = std::time::Instant::now() + RACE_PATIENCE;
        let mut fresh = !self.store.is_shared();
        while std::time::Instant::now() < deadline {
            let current = self
                .store
                .get(&key)
                .ok_or_else(|| ApiError::not_found(&rt.group, &rt.plural, name))?;
            let value = self.served(rt, current.value()).await?;
            let uid_differs = opts
                .uid
                .as_deref()
                .is_some_and(|u| u != meta_str(&value, "uid"));
            let rv_differs = match &opts.resource_version {
                Some(rv) => parse_rv(rv)? != current.resource_version,
                None => false,
            };
            if !fresh && (uid_differs || rv_differs) {
                // As for updates: a failed precondition is judged on the medium's latest state.
                self.consistent().await?;
                fresh = true;
                continue;
            }
            if let Some(uid) = &opts.uid
                && uid != meta_str(&value, "uid")
            {
                return Err(ApiError::conflict(
                    &rt.group,
                    &rt.plural,
                    name,
                    &format!(
                        "Precondition failed: UID in precondition: {uid}, UID in object meta: {}",
                        meta_str(&value, "uid")
                    ),
                ));
            }
            if let Some(rv) = &opts.resource_version
                && parse_rv(rv)? != current.resource_version
            {
                return Err(ApiError::conflict(
                    &rt.group,
                    &rt.plural,
                    name,
                    &format!(
                        "Precondition failed: ResourceVersion in precondition: {rv}, ResourceVersion in object meta: {}",
                        current.resource_version
                    ),
                ));
            }
            let mut effects = Effects::default();
            let request = Request {
                old_object: Some(&value),
                user: opts.user.as_deref(),
                dry_run: opts.dry_run,
                ..Request::new(Operation::Delete, rt, namespace, name)
            };
            self.admission
                .admit(self, &request, None, &mut effects)
                .await?;
            self.admission
                .validate(self, &request, None, &mut effects)
                .await?;
            let deleting = is_deleting(&value);
            let mut marked = value.clone();
            // Graceful deletion: the period the object waits for (None when not graceful).
            let mut grace: Option<i64> = None;
            if rt.strategy.deletes_gracefully() {
                if deleting {
                    let current_grace = value
                        .pointer("/metadata/deletionGracePeriodSeconds")
                        .and_then(Value::as_i64)
                        .unwrap_or(0);
                    if current_grace > 0 {
                        // Pending: only a shorter period changes anything (and then only the
                        // timestamps: finalizers are not updated through a pending deletion).
                        match requested_grace {
                            Some(g) if g < current_grace => {
                                let at = deletion_time(&value, g - current_grace);
                                let m = meta_mut(&mut marked);
                                m.insert("deletionTimestamp".into(), json!(at));
                                m.insert("deletionGracePeriodSeconds".into(), json!(g));
                                grace = Some(g);
                            }
                            _ => {
                                return Ok(Deleted {
                                    object: value,
                                    removed: false,
                                    effects,
                                });
                            }
                        }
                    }
                } else {
                    let g = rt.strategy.grace_period(&value, requested_grace).max(0);
                    let at = jiff::Timestamp::now() + jiff::SignedDuration::from_secs(g);
                    let m = meta_mut(&mut marked);
                    m.insert(
                        "deletionTimestamp".into(),
                        json!(at.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()),
                    );
                    m.insert("deletionGracePeriodSeconds".into(), json!(g));
                    grace = Some(g);
                }
            }
            let mut fins = finalizers(&value);
            let policy_finalizer = match opts.propagation_policy.as_deref() {
                Some("Orphan") => Some(ORPHAN_FINALIZER),
                Some("Foreground") => Some(FOREGROUND_FINALIZER),
                _ => None,
            };
            let adds_finalizer = policy_finalizer.is_some_and(|f| !fins.iter().any(|x| x == f));
            if let (true, Some(f)) = (adds_finalizer, policy_finalizer) {
                fins.push(f.to_string());
            }
            let waits_for_grace = grace.is_some_and(|g| g > 0);
            if !fins.is_empty() || rt.strategy.blocks_deletion(&value) || waits_for_grace {
                if deleting && !adds_finalizer && grace.is_none() {
                    return Ok(Deleted {
                        object: value,
                        removed: false,
                        effects,
                    });
                }
                rt.strategy.prepare_for_delete(&mut marked);
                {
                    let m = meta_mut(&mut marked);
                    if !fins.is_empty() {
                        m.insert("finalizers".into(), json!(fins));
                    }
                    if !deleting && grace.is_none() {
                        m.insert("deletionTimestamp".into(), json!(now()));
                        m.insert("deletionGracePeriodSeconds".into(), json!(0));
                    }
                    if !deleting && rt.strategy.tracks_generation() {
                        let g = m.get("generation").and_then(Value::as_i64).unwrap_or(0) + 1;
                        m.insert("generation".into(), json!(g));
                    }
                }
                if opts.dry_run {
                    return Ok(Deleted {
                        object: marked,
                        removed: false,
                        effects,
                    });
                }
                match self
                    .commit(
                        rt,
                        opts.user.is_some(),
                        WriteOp::Update {
                            key: key.clone(),
                            value: self.storable(rt, &mut marked).await?,
                            expected: Some(current.resource_version),
                        },
                    )
                    .await
                {
                    Ok(stored) => {
                        return Ok(Deleted {
                            object: self.served(rt, stored.value()).await?,
                            removed: false,
                            effects,
                        });
                    }
                    Err(StoreError::Conflict { .. }) => continue,
                    Err(e) => return Err(store_error(rt, name, e)),
                }
            }
            // Removed now. (A graceful deletion with period 0 goes straight here: upstream
            // first writes the marked object, then deletes it.)
            if opts.dry_run {
                return Ok(Deleted {
                    object: value,
                    removed: true,
                    effects,
                });
            }
            match self
                .commit(
                    rt,
                    opts.user.is_some(),
                    WriteOp::Delete {
                        key: key.clone(),
                        expected: Some(current.resource_version),
                    },
                )
                .await
            {
                Ok(stored) => {
                    if let Some(allocation) = rt.allocation {
                        allocation.release(self, &value, None).await;
                    }
                    return Ok(Deleted {
                        object: self.served(rt, stored.value()).await?,
                        removed: true,
                        effects,
                    });
                }
                Err(StoreError::Conflict { .. }) => continue,
                Err(e) => return Err(store_error(rt, name, e)),
            }
        }
        Err(ApiError::conflict(
            &rt.group,
            &rt.plural,
            name,
            "too many concurrent writers; please retry",
        ))
    }

    /// DELETE on a collection: deletes every object the list options select.
    pub async fn delete_collection(
        &self,
        rt: &ResourceType,
        namespace: Option<&str>,
        list: &super::ListOptions,
        opts: &DeleteOptions,
    ) -> Result<Vec<Value>, ApiError> {
        let items = self.list(rt, namespace, list).await?;
        let items = self
            .served_items(rt, items.items.iter().map(|i| i.value()).collect())
            .await?;
        let mut deleted = Vec::new();
        for v in items {
            let name = meta_str(&v, "name").to_string();
            let ns = meta_str(&v, "namespace").to_string();
            match self
                .delete(
                    rt,
                    if rt.namespaced {
                        Some(ns.as_str())
                    } else {
                        None
                    },
                    &name,
                    opts,
                )
                .await
            {
                // Upstream answers with the objects as they were listed.
                Ok(_) => deleted.push(v),
                Err(e) if e.code == 404 => {}
                Err(e) => return Err(e),
            }
        }
        Ok(deleted)
    }
}
