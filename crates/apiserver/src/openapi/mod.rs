//! OpenAPI documents describing the served API, in the shapes kubectl reads.
//!
//! kubectl does not work against a server that publishes no OpenAPI:
//!
//! * kubectl 1.27 and 1.28 fetch `/openapi/v2` as a gnostic `openapi.v2.Document` protobuf on
//!   `create`, `apply` and `replace`; they fail on a 404 or a JSON body. They look in it for a PATCH
//!   operation tagged `x-kubernetes-group-version-kind` carrying a `fieldValidation` query
//!   parameter to decide whether the server validates fields itself, and otherwise (and for `kind:
//!   List` manifests) validate client-side against its `definitions`, so every definition must be
//!   one their parser accepts.
//! * kubectl 1.29+ fetch `/openapi/v3` (a list of group-versions with hashed URLs) and then one
//!   document per group-version: for the same `fieldValidation` check, for `kubectl explain`
//!   (component schemas tagged `x-kubernetes-group-version-kind`) and for client-side `apply`.
//!
//! [`OpenApiModel`] holds the kinds the server serves and their component schemas in one neutral,
//! OpenAPI-v3-like form (refs as `#/components/schemas/<name>`). Built-in schemas come from
//! k8s-openapi's `schemars` implementations, custom resources from their CRD's
//! `openAPIV3Schema`, shaped as the upstream apiextensions server shapes them. The v3 documents,
//! the swagger 2.0 JSON and its protobuf encoding are all rendered from that model, so they agree.
//!
//! Strategic merge patch is deliberately not advertised in the PATCH content types: the schemas
//! carry no `x-kubernetes-patch-merge-key`/`-strategy` extensions, and kubectl's client-side
//! `apply` would compute list patches from them with replace semantics. Without the content type
//! kubectl falls back to its compiled-in types, which know the merge keys, and still sends a
//! strategic merge patch for built-in kinds.

mod builtin;
mod custom;
mod gnostic;
mod hash;
mod list_text;
mod param_text;
pub(crate) use hash::sha256;
mod paths;
mod schema;
mod v2;
mod v3;

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value, json};

/// One kind served by the API server, as OpenAPI sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenApiKind {
    /// API group, `""` for the core group.
    pub group: String,
    /// API version, e.g. `v1`.
    pub version: String,
    /// Kind, e.g. `ConfigMap`.
    pub kind: String,
    /// Plural resource name used in URLs, e.g. `configmaps`.
    pub plural: String,
    /// Whether objects live in namespaces.
    pub namespaced: bool,
    /// Served subresources, e.g. `["status", "scale"]`.
    ///
    /// `status`, `scale`, `ephemeralcontainers`, `resize`, `approval` and `finalize` get paths;
    /// others (`log`, `exec`, `eviction`, ...) are not described.
    pub subresources: Vec<String>,
    /// Component name, e.g. `io.k8s.api.core.v1.ConfigMap` (built-ins) or
    /// `io.k8s.samplecontroller.v1alpha1.Foo` style for custom resources (the group's DNS labels
    /// reversed); see [`custom_schema_name`]. Empty means "derive it that way".
    pub schema_name: String,
}

/// The component name upstream gives a custom resource's schema: the group's DNS labels
/// reversed, then version and kind, e.g. `samplecontroller.k8s.io`, `v1alpha1`, `Foo` →
/// `io.k8s.samplecontroller.v1alpha1.Foo`.
pub fn custom_schema_name(group: &str, version: &str, kind: &str) -> String {
    let mut parts: Vec<&str> = group.split('.').filter(|p| !p.is_empty()).collect();
    parts.reverse();
    parts.push(version);
    parts.push(kind);
    parts.join(".")
}

/// Group, version and kind, as carried by `x-kubernetes-group-version-kind`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Gvk {
    pub(crate) group: String,
    pub(crate) version: String,
    pub(crate) kind: String,
}

impl Gvk {
    pub(crate) fn new(group: &str, version: &str, kind: &str) -> Self {
        Gvk {
            group: group.to_owned(),
            version: version.to_owned(),
            kind: kind.to_owned(),
        }
    }

    /// `{"group": .., "kind": .., "version": ..}`: exactly these three keys, as kubectl compares
    /// operation and schema tags with deep equality.
    pub(crate) fn to_json(&self) -> Value {
        json!({"group": self.group, "kind": self.kind, "version": self.version})
    }
}

/// A served kind with what the renderers need besides [`OpenApiKind`].
#[derive(Debug, Clone)]
pub(crate) struct KindEntry {
    pub(crate) kind: OpenApiKind,
    /// Component name of the `<Kind>List` schema.
    pub(crate) list_schema: String,
}

impl KindEntry {
    pub(crate) fn gvk(&self) -> Gvk {
        Gvk::new(&self.kind.group, &self.kind.version, &self.kind.kind)
    }
}

/// Upstream description texts, taken at run time from k8s-openapi's schemas so that custom
/// resource and list schemas read exactly like upstream's.
#[derive(Debug, Clone)]
pub(crate) struct CommonText {
    pub(crate) api_version: String,
    pub(crate) kind: String,
    pub(crate) object_metadata: String,
    pub(crate) list_metadata: String,
}

/// Component names of the apimachinery types every document needs.
pub(crate) mod names {
    pub(crate) const OBJECT_META: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta";
    pub(crate) const LIST_META: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta";
    pub(crate) const STATUS: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.Status";
    pub(crate) const DELETE_OPTIONS: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions";
    pub(crate) const PATCH: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.Patch";
    pub(crate) const SCALE: &str = "io.k8s.api.autoscaling.v1.Scale";
}

/// The schemas and kinds the server currently serves (rebuilt when CRDs change).
///
/// Rendering is deterministic: the same model always yields byte-identical documents, so
/// [`OpenApiModel::v3_hash`] is stable. Rendering is not cached here; callers cache per model.
#[derive(Debug, Clone)]
pub struct OpenApiModel {
    kinds: Vec<KindEntry>,
    /// Component schemas in neutral form (refs `#/components/schemas/<name>`).
    schemas: BTreeMap<String, Value>,
    /// `x-kubernetes-group-version-kind` tags to put on component schemas when rendering.
    gvk_tags: BTreeMap<String, BTreeSet<Gvk>>,
    /// Custom resource schemas that preserve unknown fields at their root: swagger 2.0 publishes
    /// them as a bare object, as upstream does, since kubectl would otherwise reject unknown fields.
    v2_bare: BTreeSet<String>,
    text: CommonText,
}

impl Default for OpenApiModel {
    fn default() -> Self {
        Self::new()
    }
}

impl OpenApiModel {
    /// A model serving no kinds yet, holding the apimachinery schemas every document refers to
    /// (`ObjectMeta`, `ListMeta`, `Status`, `DeleteOptions`, `Patch`, autoscaling `Scale`).
    ///
    /// Built-in kinds are added with [`OpenApiModel::add_builtin`]: their component schemas come
    /// from k8s-openapi's schemars impls, converted to OpenAPI `#/components/schemas/<name>` refs,
    /// with every reachable definition included.
    pub fn new() -> Self {
        use k8s_openapi::api::autoscaling::v1::Scale;
        use k8s_openapi::apimachinery::pkg::apis::meta::v1 as meta;

        let mut model = OpenApiModel {
            kinds: Vec::new(),
            schemas: BTreeMap::new(),
            gvk_tags: BTreeMap::new(),
            v2_bare: BTreeSet::new(),
            text: builtin::common_text(),
        };
        model.merge_generated(builtin::generate::<meta::ObjectMeta>());
        model.merge_generated(builtin::generate::<meta::ListMeta>());
        model.merge_generated(builtin::generate::<meta::Status>());
        model.merge_generated(builtin::generate::<meta::DeleteOptions>());
        model.merge_generated(builtin::generate::<meta::Patch>());
        model.merge_generated(builtin::generate::<Scale>());
        model.tag(names::STATUS, Gvk::new("", "v1", "Status"));
        model.tag(names::SCALE, Gvk::new("autoscaling", "v1", "Scale"));
        model
    }

    /// Serves the built-in kind `K` under `plural`.
    ///
    /// Its schema and every schema it refers to come from k8s-openapi; a `<Kind>List` schema is
    /// added alongside. Adding a kind whose group, version and kind or plural is already served
    /// replaces it.
    pub fn add_builtin<K: k8s_openapi::Resource + schemars::JsonSchema>(
        &mut self,
        plural: &str,
        namespaced: bool,
        subresources: &[&str],
    ) {
        let generated = builtin::generate::<K>();
        let schema_name = generated.name.clone();
        self.merge_generated(generated);
        let kind = OpenApiKind {
            group: K::GROUP.to_owned(),
            version: K::VERSION.to_owned(),
            kind: K::KIND.to_owned(),
            plural: plural.to_owned(),
            namespaced,
            subresources: subresources.iter().map(|s| (*s).to_owned()).collect(),
            schema_name,
        };
        self.insert_kind(kind);
    }

    /// Serves a custom resource version.
    ///
    /// `schema` is the CRD version's `openAPIV3Schema`; when absent the kind is an object that
    /// preserves unknown fields. As upstream does, `metadata` becomes a ref to `ObjectMeta`,
    /// `apiVersion` and `kind` get their standard descriptions, and embedded resources
    /// (`x-kubernetes-embedded-resource`) get the same three properties. A `<Kind>List` schema is
    /// added alongside. Adding a kind already served replaces it.
    pub fn add_custom(&mut self, mut kind: OpenApiKind, schema: Option<&serde_json::Value>) {
        if kind.schema_name.is_empty() {
            kind.schema_name = custom_schema_name(&kind.group, &kind.version, &kind.kind);
        }
        let (shaped, root_preserves_unknown) = custom::build(schema, &self.text);
        self.schemas.insert(kind.schema_name.clone(), shaped);
        if root_preserves_unknown {
            self.v2_bare.insert(kind.schema_name.clone());
        } else {
            self.v2_bare.remove(&kind.schema_name);
        }
        self.insert_kind(kind);
    }

    /// The `/openapi/v3` root document: `{"paths": {"api/v1": {"serverRelativeURL":
    /// "/openapi/v3/api/v1?hash=<HEX>"}, "apis/<group>/<version>": {...}}}`.
    pub fn v3_root(&self) -> serde_json::Value {
        let mut paths = Map::new();
        for (group, version) in self.group_versions() {
            let Some(hash) = self.v3_hash(&group, &version) else {
                continue;
            };
            let key = v3::gv_path(&group, &version);
            paths.insert(
                key.clone(),
                json!({"serverRelativeURL": format!("/openapi/v3/{key}?hash={hash}")}),
            );
        }
        json!({ "paths": paths })
    }

    /// The document served at `/openapi/v3/api/v1` or `/openapi/v3/apis/{group}/{version}`; `None`
    /// when no kind of that group-version is served.
    ///
    /// It has paths for every resource of the group-version (list, create and deletecollection on
    /// the collection; get, replace, patch and delete on the item; the subresources), each
    /// operation tagged `x-kubernetes-group-version-kind` and `x-kubernetes-action`, PATCH
    /// carrying the `fieldValidation`, `dryRun`, `fieldManager` and `force` query parameters and
    /// the patch content types; and `components.schemas` with every schema reachable from them,
    /// the kind schemas tagged `x-kubernetes-group-version-kind`.
    pub fn v3_document(&self, group: &str, version: &str) -> Option<serde_json::Value> {
        v3::document(self, group, version)
    }

    /// The hash used in the `serverRelativeURL` of that document: upper-case hex SHA-256 of its
    /// compact JSON serialization (`serde_json::to_vec` of [`OpenApiModel::v3_document`]).
    pub fn v3_hash(&self, group: &str, version: &str) -> Option<String> {
        let document = self.v3_document(group, version)?;
        let bytes = serde_json::to_vec(&document).unwrap_or_default();
        Some(hash::sha256_hex_upper(&bytes))
    }

    /// `/openapi/v2` as swagger 2.0 JSON: the same paths and extensions as the v3 documents for
    /// every served kind, `definitions` with `#/definitions/<name>` refs, simplified the way
    /// upstream simplifies them for kubectl's swagger parser.
    pub fn v2_json(&self) -> serde_json::Value {
        v2::document(self)
    }

    /// `/openapi/v2` encoded as a gnostic `openapi.v2.Document` protobuf: what kubectl 1.27/1.28
    /// request (`Accept: application/com.github.proto-openapi.spec.v2@v1.0+protobuf`) and parse.
    pub fn v2_protobuf(&self) -> Vec<u8> {
        gnostic::encode(&self.v2_json())
    }

    /// Served kinds, sorted by group, version and plural.
    pub(crate) fn kinds(&self) -> &[KindEntry] {
        &self.kinds
    }

    pub(crate) fn schemas(&self) -> &BTreeMap<String, Value> {
        &self.schemas
    }

    pub(crate) fn gvk_tags(&self, name: &str) -> Option<&BTreeSet<Gvk>> {
        self.gvk_tags.get(name)
    }

    pub(crate) fn is_v2_bare(&self, name: &str) -> bool {
        self.v2_bare.contains(name)
    }

    /// Served group-versions, sorted.
    pub(crate) fn group_versions(&self) -> BTreeSet<(String, String)> {
        self.kinds
            .iter()
            .map(|k| (k.kind.group.clone(), k.kind.version.clone()))
            .collect()
    }

    fn merge_generated(&mut self, generated: builtin::Generated) {
        for (name, schema) in generated.definitions {
            self.schemas.insert(name, schema);
        }
    }

    fn tag(&mut self, schema: &str, gvk: Gvk) {
        self.gvk_tags
            .entry(schema.to_owned())
            .or_default()
            .insert(gvk);
    }

    fn untag(&mut self, gvk: &Gvk) {
        self.gvk_tags.retain(|_, tags| {
            tags.remove(gvk);
            !tags.is_empty()
        });
    }

    fn insert_kind(&mut self, kind: OpenApiKind) {
        let gvk = Gvk::new(&kind.group, &kind.version, &kind.kind);
        let list_gvk = Gvk::new(&kind.group, &kind.version, &format!("{}List", kind.kind));
        self.kinds.retain(|existing| {
            let k = &existing.kind;
            let same_gv = k.group == kind.group && k.version == kind.version;
            !(same_gv && (k.kind == kind.kind || k.plural == kind.plural))
        });
        self.untag(&gvk);
        self.untag(&list_gvk);

        let list_schema = format!("{}List", kind.schema_name);
        let list = custom::list_schema(&kind, &self.text);
        self.schemas.insert(list_schema.clone(), list);
        self.tag(&kind.schema_name, gvk);
        self.tag(&list_schema, list_gvk);

        self.kinds.push(KindEntry { kind, list_schema });
        self.kinds.sort_by(|a, b| {
            (&a.kind.group, &a.kind.version, &a.kind.plural).cmp(&(
                &b.kind.group,
                &b.kind.version,
                &b.kind.plural,
            ))
        });
    }
}
