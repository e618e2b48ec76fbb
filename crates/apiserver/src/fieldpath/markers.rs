//! Upstream's list and map markers for built-in types.
//!
//! k8s-openapi's schemas do not carry `x-kubernetes-list-type` and friends, so each resource's
//! home in the registry declares, as [`Markers`], what the upstream Go types it owns declare with
//! `+listType`, `+listMapKey`, `+structType`, `+mapType` and `+default` (k8s.io/api and
//! k8s.io/apimachinery `types.go`); the metadata types every object shares are declared here.
//! Lists that no marker names are atomic, as upstream's are when unmarked.

use super::schema::ListKind;
use serde_json::Value;
use std::collections::BTreeMap;

/// The markers of some OpenAPI definitions, named in full (`io.k8s.api.core.v1.PodSpec`).
#[derive(Debug, Clone, Copy)]
pub struct Markers {
    /// Associative lists: (definition, field, keys); no keys means a set.
    pub lists: &'static [(&'static str, &'static str, &'static [&'static str])],
    /// Structs that are one value (`+structType=atomic`).
    pub atomic_structs: &'static [&'static str],
    /// Map fields that are one value (`+mapType=atomic`): (definition, field).
    pub atomic_maps: &'static [(&'static str, &'static str)],
    /// Struct-typed fields that make their type granular (false) or atomic (true) where used.
    pub struct_overrides: &'static [(&'static str, &'static str, bool)],
    /// Field defaults that identify list-map items (`+default`): (definition, field, value).
    pub defaults: &'static [(&'static str, &'static str, &'static str)],
}

impl Markers {
    /// No markers.
    pub const NONE: Markers = Markers {
        lists: &[],
        atomic_structs: &[],
        atomic_maps: &[],
        struct_overrides: &[],
        defaults: &[],
    };
}

/// The markers of the metadata types (`io.k8s.apimachinery.pkg.apis.meta.v1`).
const META: Markers = Markers {
    lists: &[
        (
            "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta",
            "ownerReferences",
            &["uid"],
        ),
        (
            "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta",
            "finalizers",
            &[],
        ),
    ],
    atomic_structs: &[
        "io.k8s.apimachinery.pkg.apis.meta.v1.OwnerReference",
        "io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelector",
    ],
    ..Markers::NONE
};

fn all() -> impl Iterator<Item = &'static Markers> {
    std::iter::once(&META).chain(crate::registry::markers().iter().copied())
}

/// The kind of the list `field` of definition `def`, if it is not atomic.
pub(super) fn list_kind(def: &str, field: &str) -> Option<ListKind> {
    all()
        .flat_map(|m| m.lists)
        .find(|(d, f, _)| *f == field && *d == def)
        .map(|(_, _, keys)| {
            if keys.is_empty() {
                ListKind::Set
            } else {
                ListKind::Map(keys.iter().map(|k| k.to_string()).collect())
            }
        })
}

/// Whether the struct `def` is atomic.
pub(super) fn atomic_struct(def: &str) -> bool {
    all().flat_map(|m| m.atomic_structs).any(|d| *d == def)
}

/// Whether the map field `field` of `def` is atomic.
pub(super) fn atomic_map_field(def: &str, field: &str) -> bool {
    all()
        .flat_map(|m| m.atomic_maps)
        .any(|(d, f)| *f == field && *d == def)
}

/// Whether the struct-typed field `field` of `def` overrides its type's atomicity.
pub(super) fn field_struct_override(def: &str, field: &str) -> Option<bool> {
    all()
        .flat_map(|m| m.struct_overrides)
        .find(|(d, f, _)| *f == field && *d == def)
        .map(|(_, _, atomic)| *atomic)
}

/// The defaults of `def`'s fields that matter for list-map keys.
pub(super) fn field_defaults(def: &str) -> BTreeMap<String, Value> {
    all()
        .flat_map(|m| m.defaults)
        .filter(|(d, _, _)| *d == def)
        .map(|(_, f, v)| (f.to_string(), Value::String(v.to_string())))
        .collect()
}
