//! What the server serves: one [`ResourceType`] per (group, version, resource), built-in or
//! custom, each with the [`Strategy`] that carries its special rules.

use crate::strategy::Strategy;
use std::sync::Arc;

/// Where the scale subresource reads and writes replicas (`autoscaling/v1` Scale).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScalePaths {
    /// JSON path of the desired replicas, e.g. `.spec.replicas`.
    pub spec_replicas: String,
    /// JSON path of the observed replicas, e.g. `.status.replicas`.
    pub status_replicas: String,
    /// JSON path of the serialized label selector, e.g. `.status.selector`.
    pub label_selector: Option<String>,
}

/// One served resource at one version.
#[derive(Clone)]
pub struct ResourceType {
    /// API group, "" for core.
    pub group: String,
    /// Version, e.g. `v1`.
    pub version: String,
    /// Kind, e.g. `ConfigMap`.
    pub kind: String,
    /// List kind, e.g. `ConfigMapList`.
    pub list_kind: String,
    /// Plural resource name (the URL segment), e.g. `configmaps`.
    pub plural: String,
    /// Singular name, e.g. `configmap`.
    pub singular: String,
    /// Namespaced or cluster-scoped.
    pub namespaced: bool,
    /// Short names (`cm`).
    pub short_names: Vec<String>,
    /// Categories (`all`).
    pub categories: Vec<String>,
    /// Whether `/status` is served (and the main endpoint ignores status).
    pub status: bool,
    /// Whether `/scale` is served, and where.
    pub scale: Option<ScalePaths>,
    /// Storage key prefix shared by all versions: `group/plural`.
    pub storage_key: Arc<str>,
    /// Whether objects may be stored at another version of the same resource (then `apiVersion`
    /// is rewritten on the way out).
    pub multi_version: bool,
    /// The resource's rules.
    pub strategy: Arc<dyn Strategy>,
    /// For a custom resource whose CRD converts by webhook: the webhook that converts objects
    /// between the request's version and the storage version ([`crate::rest::convert`]).
    pub conversion: Option<Arc<crate::crd::conversion::WebhookConverter>>,
    /// Where its OpenAPI schema comes from.
    pub schema: SchemaSource,
    /// For a resource that is answered, not stored (the access and identity reviews): how a
    /// create is answered. Such a resource is create-only and has no OpenAPI paths.
    pub answer: Option<Answer>,
    /// A check of who may write what, run on every create and update a user asks for (not
    /// the server's own writes), before validation: RBAC's escalation prevention for roles and
    /// bindings, as upstream's policy-based storage.
    pub guard: Option<WriteGuard>,
    /// Run after a write a user asks for is committed, before it is answered: waits until this
    /// server's own handling of the resource reflects the write (the resources a CRD serves and
    /// their conversion webhook), as a write already waits for its change to reach the cache.
    pub settle: Option<Settle>,
    /// What the resource takes from shared pools as its objects are written and gives back as
    /// they go (a Service's cluster IPs and node ports), as upstream's REST hooks
    /// `BeginCreate`/`BeginUpdate`/`AfterDelete` do; None for almost every resource.
    pub allocation: Option<&'static dyn Allocation>,
    /// Objects are written by the server only (one of its controllers keeps them): users may
    /// get, list and watch them, and any write is refused with 405 (the APIServices the server
    /// lists for its own groups).
    pub read_only: bool,
    /// Discovery's `storageVersionHash`: [`storage_version_hash`] of the group, version and
    /// kind objects are stored as; None for resources that are not stored (reviews).
    pub storage_version_hash: Option<Arc<str>>,
}

/// kube-apiserver's `discovery.StorageVersionHash`: the standard base64 of the first 8 bytes of
/// the SHA-256 of `group/version/kind` (the core group is empty: `/v1/Pod`).
pub fn storage_version_hash(group: &str, version: &str, kind: &str) -> Arc<str> {
    use base64::Engine;
    let digest = crate::openapi::sha256(format!("{group}/{version}/{kind}").as_bytes());
    Arc::from(base64::engine::general_purpose::STANDARD.encode(&digest[..8]))
}

/// A create of a resource that is answered instead of stored: the decoded object and who asks.
pub struct Review<'a> {
    /// The server's request path (its store and catalog).
    pub rest: &'a crate::rest::Rest,
    /// Who asks.
    pub user: &'a crate::auth::user::UserInfo,
    /// The resource posted to.
    pub rt: &'a ResourceType,
    /// The namespace posted to (namespaced reviews).
    pub namespace: Option<&'a str>,
    /// The posted object, decoded through the resource's strategy.
    pub object: serde_json::Value,
}

impl Review<'_> {
    /// The object's `spec` (null when absent).
    pub fn spec(&self) -> serde_json::Value {
        self.object
            .get("spec")
            .cloned()
            .unwrap_or(serde_json::Value::Null)
    }

    /// A 422 for this review's kind with `causes`.
    pub fn invalid(&self, causes: Vec<crate::status::FieldCause>) -> crate::status::ApiError {
        crate::status::ApiError::invalid(&self.rt.group, &self.rt.kind, "", causes)
    }
}

/// How an answered resource answers a create: the object with its `status` filled in.
pub type Answer = for<'a> fn(
    Review<'a>,
) -> futures::future::BoxFuture<
    'a,
    Result<serde_json::Value, crate::status::ApiError>,
>;

/// A create or update a user asks for, as a [`WriteGuard`] sees it.
pub struct Guarded<'a> {
    /// The server's request path (its store, catalog and RBAC cache).
    pub rest: &'a crate::rest::Rest,
    /// Who asks.
    pub user: &'a crate::auth::user::UserInfo,
    /// The resource written.
    pub rt: &'a ResourceType,
    /// The namespace written in ("" for cluster-scoped resources).
    pub namespace: &'a str,
    /// The name on the URL ("" for a create).
    pub name: &'a str,
    /// The object to be stored.
    pub object: &'a serde_json::Value,
    /// The object it replaces (updates, patches and applies of an existing object).
    pub old: Option<&'a serde_json::Value>,
}

/// How a resource refuses a write by who asks: `Err` is answered as is.
pub type WriteGuard =
    for<'a> fn(Guarded<'a>) -> futures::future::BoxFuture<'a, Result<(), crate::status::ApiError>>;

/// How a resource waits, after a user's write committed at the given resourceVersion, for this
/// server to act on it (see [`ResourceType::settle`]).
pub type Settle = for<'a> fn(&'a crate::rest::Rest, u64) -> futures::future::BoxFuture<'a, ()>;

/// Allocation from shared pools around a resource's writes (see [`ResourceType::allocation`]).
/// What is allocated must be recorded in the store (objects of other resources) so that it is
/// consistent across restarts and servers; the write path calls these hooks.
pub trait Allocation: Send + Sync {
    /// Takes what `obj` needs before it is stored (`old` is the stored object on an update),
    /// filling in what was allocated; answers the names of what it took, for
    /// [`Allocation::give_back`] should the write fail. A dry run checks without taking.
    fn allocate<'a>(
        &'a self,
        rest: &'a crate::rest::Rest,
        obj: &'a mut serde_json::Value,
        old: Option<&'a serde_json::Value>,
        dry_run: bool,
    ) -> futures::future::BoxFuture<'a, Result<Vec<String>, crate::status::ApiError>>;

    /// Gives back what [`Allocation::allocate`] took for a write that then failed.
    fn give_back<'a>(
        &'a self,
        rest: &'a crate::rest::Rest,
        taken: Vec<String>,
    ) -> futures::future::BoxFuture<'a, ()>;

    /// Releases what the stored `old` held and `new` no longer holds; `new` is None when the
    /// object was removed.
    fn release<'a>(
        &'a self,
        rest: &'a crate::rest::Rest,
        old: &'a serde_json::Value,
        new: Option<&'a serde_json::Value>,
    ) -> futures::future::BoxFuture<'a, ()>;
}

/// Where a resource's OpenAPI schema comes from.
#[derive(Clone)]
pub enum SchemaSource {
    /// A built-in type: registers its k8s-openapi schema in the model.
    Builtin(fn(&mut crate::openapi::OpenApiModel, &ResourceType)),
    /// A custom resource version: the CRD's `openAPIV3Schema`, if any.
    Custom(Option<serde_json::Value>),
}

impl std::fmt::Debug for ResourceType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResourceType")
            .field("group", &self.group)
            .field("version", &self.version)
            .field("plural", &self.plural)
            .finish_non_exhaustive()
    }
}

/// The verbs every resource supports.
pub const VERBS: &[&str] = &[
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
];

/// The verbs of a review resource.
pub const REVIEW_VERBS: &[&str] = &["create"];

/// The verbs of a resource only the server writes.
pub const READ_VERBS: &[&str] = &["get", "list", "watch"];

impl ResourceType {
    /// The verbs this resource supports.
    pub fn verbs(&self) -> &'static [&'static str] {
        if self.is_answered() {
            REVIEW_VERBS
        } else if self.read_only {
            READ_VERBS
        } else {
            VERBS
        }
    }

    /// Whether objects are answered, never stored (see [`ResourceType::answer`]).
    pub fn is_answered(&self) -> bool {
        self.answer.is_some()
    }

    /// `group/version`, or `version` for the core group.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// The storage key prefix for a group and plural.
    pub fn storage_key_for(group: &str, plural: &str) -> Arc<str> {
        Arc::from(format!("{group}/{plural}"))
    }

    /// The path of the collection, e.g. `/apis/apps/v1/namespaces/ns/deployments`.
    pub fn collection_path(&self, namespace: Option<&str>) -> String {
        let root = if self.group.is_empty() {
            format!("/api/{}", self.version)
        } else {
            format!("/apis/{}/{}", self.group, self.version)
        };
        match namespace {
            Some(ns) if self.namespaced => format!("{root}/namespaces/{ns}/{}", self.plural),
            _ => format!("{root}/{}", self.plural),
        }
    }
}
