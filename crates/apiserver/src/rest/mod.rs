//! The generic request path: one implementation of every verb for every resource.
//!
//! HTTP handlers parse a request into a resource type, a scope and options, then call [`Rest`].
//! `Rest` applies the generic object semantics (type meta, system metadata, generateName,
//! resourceVersion preconditions, generation, status and scale subresources, finalizers,
//! managedFields, field validation) and asks the resource's strategy for everything specific.

pub mod apply;
mod convert;
mod json_patch;
mod list;
pub mod managed_fields;
mod meta;
pub use meta::{finalizers, now, string_list};
mod patch;
mod served_fields;
mod strategic;
mod subresource;
pub mod subresource_create;
mod watch;
mod write;

pub use list::{ListOptions, ListResult};
pub use patch::{PatchType, patch_value};
pub use strategic::strategic_merge;
pub use watch::{WatchEvent, WatchOptions, WatchStream, encode_json_line};
pub use write::{DeleteAnswer, DeleteOptions, Deleted, FOREGROUND_FINALIZER, ORPHAN_FINALIZER};

use crate::catalog::Catalog;
use crate::resource::ResourceType;
use crate::status::ApiError;
use crate::storage::{ObjectKey, Store, StoreError, StoredObject};
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;

/// How the server treats fields the type does not know (`fieldValidation`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FieldValidation {
    /// Drop them silently.
    Ignore,
    /// Drop them and warn (the server default).
    #[default]
    Warn,
    /// Reject the request.
    Strict,
}

impl FieldValidation {
    /// Parses the query parameter.
    pub fn parse(s: &str) -> Result<Self, ApiError> {
        match s {
            "" | "Warn" => Ok(FieldValidation::Warn),
            "Ignore" => Ok(FieldValidation::Ignore),
            "Strict" => Ok(FieldValidation::Strict),
            other => Err(ApiError::bad_request(format!(
                "fieldValidation must be one of Ignore, Warn or Strict, got {other:?}"
            ))),
        }
    }
}

/// Options of every write.
#[derive(Debug, Clone, Default)]
pub struct WriteOptions {
    /// `dryRun=All`: validate and answer, store nothing.
    pub dry_run: bool,
    /// `fieldManager`, or the client's user agent.
    pub field_manager: String,
    /// `fieldValidation`.
    pub field_validation: FieldValidation,
    /// `force` (apply patches): take ownership of fields other managers own.
    pub force: bool,
    /// Whether `field_manager` is the user agent's, not a `fieldManager` the client gave
    /// (which apply patches require).
    pub field_manager_defaulted: bool,
    /// Set by server-side apply, which computes `metadata.managedFields` itself: writes keep
    /// the ones in the object instead of recording an Update.
    pub managed_fields_computed: bool,
    /// Who asks: what admission reports, and what the rules that depend on it see (a
    /// resource's [`crate::resource::WriteGuard`], such as RBAC's escalation check). None for
    /// the server's own writes (its controllers and bootstrap), which are not checked.
    pub user: Option<Arc<crate::auth::user::UserInfo>>,
}

impl WriteOptions {
    /// These options for a write `user` asks for.
    pub fn by(mut self, user: &crate::auth::user::UserInfo) -> Self {
        self.user = Some(Arc::new(user.clone()));
        self
    }
}

/// The result of a write: the object as stored (or as it would be, on dry run), and warnings.
#[derive(Debug, Clone)]
pub struct Written {
    /// The object.
    pub object: Value,
    /// `Warning` headers to send.
    pub warnings: Vec<String>,
    /// Whether the write created the object (201 rather than 200).
    pub created: bool,
    /// The audit annotations admission added (webhooks' `<name>/<key>`), for the audit event.
    pub audit_annotations: std::collections::BTreeMap<String, String>,
}

/// The generic request path over one store and catalog.
#[derive(Clone)]
pub struct Rest {
    /// Where objects live.
    pub store: Store,
    /// What is served.
    pub catalog: Arc<Catalog>,
    /// How often watches get a BOOKMARK when they asked for them.
    pub bookmark_interval: Duration,
    /// The admission chain every write passes.
    pub admission: Arc<crate::admission::Admission>,
    /// Who requests are from; issues and verifies ServiceAccount tokens.
    pub authenticator: Arc<crate::auth::authn::Authenticator>,
    /// The cluster CA's certificate (PEM) when the server serves TLS: what Pods trust the
    /// server by (the `kube-root-ca.crt` ConfigMaps).
    pub cluster_ca: Option<String>,
    /// The RBAC authorizer's view of the roles and bindings, kept current from the store.
    pub rbac: Arc<crate::auth::cache::RbacCache>,
}

impl std::fmt::Debug for Rest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rest").finish_non_exhaustive()
    }
}

/// Maps a storage failure for one object to its API error.
pub(crate) fn store_error(rt: &ResourceType, name: &str, err: StoreError) -> ApiError {
    match err {
        StoreError::NotFound => ApiError::not_found(&rt.group, &rt.plural, name),
        StoreError::AlreadyExists => ApiError::already_exists(&rt.group, &rt.plural, name),
        StoreError::Conflict { .. } => ApiError::stale(&rt.group, &rt.plural, name),
        StoreError::TooOld { requested, oldest } => {
            ApiError::expired(format!("too old resource version: {requested} ({oldest})"))
        }
        // Only lists read at a revision (from etcd) meet a compacted one.
        StoreError::Compacted { .. } => ApiError::expired(list::EXPIRED_LIST),
        StoreError::TooNew { requested, current } => {
            let mut e = ApiError::timeout(format!(
                "Too large resource version: {requested}, current: {current}"
            ));
            e.retry_after = Some(1);
            e
        }
        StoreError::Unavailable(msg) => ApiError::internal(msg),
    }
}

/// Parses a resourceVersion as the server issues them.
pub(crate) fn parse_rv(s: &str) -> Result<u64, ApiError> {
    s.parse::<u64>()
        .map_err(|_| ApiError::bad_request(format!("invalid resource version: {s:?}")))
}

impl Rest {
    /// The key of an object of `rt`.
    pub fn key(&self, rt: &ResourceType, namespace: Option<&str>, name: &str) -> ObjectKey {
        let ns = if rt.namespaced {
            namespace.unwrap_or("")
        } else {
            ""
        };
        ObjectKey::new(rt.storage_key.clone(), ns, name)
    }

    /// Waits until reads on this server see every write acknowledged before (by any server on a
    /// shared medium), as upstream's consistent reads; immediate on a local medium.
    pub async fn consistent(&self) -> Result<(), ApiError> {
        self.store.sync().await.map_err(|e| match e {
            StoreError::Unavailable(msg) => ApiError::internal(msg),
            other => ApiError::internal(other.to_string()),
        })
    }

    /// GET one object as it is now (a GET without resourceVersion): read from a shared medium
    /// itself, as kube-apiserver reads such a GET from etcd rather than its watch cache; from
    /// the index on a local medium.
    pub async fn get_consistent(
        &self,
        rt: &ResourceType,
        namespace: Option<&str>,
        name: &str,
    ) -> Result<Arc<StoredObject>, ApiError> {
        self.store
            .get_consistent(&self.key(rt, namespace, name))
            .await
            .map_err(|e| store_error(rt, name, e))?
            .ok_or_else(|| ApiError::not_found(&rt.group, &rt.plural, name))
    }

    /// GET one object, as served at `rt`'s version.
    pub fn get(
        &self,
        rt: &ResourceType,
        namespace: Option<&str>,
        name: &str,
    ) -> Result<Arc<StoredObject>, ApiError> {
        self.store
            .get(&self.key(rt, namespace, name))
            .ok_or_else(|| ApiError::not_found(&rt.group, &rt.plural, name))
    }

    /// The object as a value at `rt`'s version, for resources that convert without a webhook
    /// (every built-in); [`Rest::read`] also converts custom resources by their CRD's webhook.
    pub fn get_value(
        &self,
        rt: &ResourceType,
        namespace: Option<&str>,
        name: &str,
    ) -> Result<Value, ApiError> {
        let obj = self.get(rt, namespace, name)?;
        let mut v = obj.value();
        served_version(rt, &mut v);
        Ok(v)
    }
}

/// Whether objects read from storage change on the way out (another version is served, or the
/// strategy normalizes stored objects): then the stored bytes cannot be served as they are.
pub fn rewrites_on_read(rt: &ResourceType) -> bool {
    rt.multi_version
        || rt.conversion.is_some()
        || rt.strategy.normalizes_on_read()
        || rt.strategy.converts_for_storage()
}

/// Converts a stored object to the resource being served (the strategy's conversion from its
/// storage form; `apiVersion` rewritten for conversion strategy None) and applies the strategy's
/// read-time normalization (pruning and defaults).
pub fn served_version(rt: &ResourceType, obj: &mut Value) {
    if !rewrites_on_read(rt) {
        // Served as stored, and stored in key order.
        return;
    }
    rt.strategy.convert_from_storage(obj);
    rt.strategy.normalize_on_read(obj);
    // A webhook-converted resource's objects carry the version they were converted to.
    if rt.multi_version
        && rt.conversion.is_none()
        && let Some(map) = obj.as_object_mut()
    {
        map.insert("apiVersion".into(), Value::String(rt.api_version()));
    }
    rt.strategy.order_keys(obj);
}
