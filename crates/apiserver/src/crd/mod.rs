//! CustomResourceDefinitions: their strategy, how a CRD becomes served resource types, and the
//! controller that establishes and cleans them up. What a CRD version's schema does to custom
//! resources is the `kubeforge-apiextensions` crate ([`schema`]); the server lends it
//! `ObjectMeta`'s rules ([`object_meta`]).

pub mod controller;
pub mod conversion;
pub mod object_meta;
pub mod validation;

/// The schema machinery (structural schemas, validation, defaulting, pruning, CEL rules) is its
/// own crate; `crd::schema::…` paths name it.
pub use kubeforge_apiextensions as schema;

pub use validation::validate_crd;

use crate::resource::{ResourceType, ScalePaths, SchemaSource};
use crate::status::FieldCause;
use crate::strategy::typed_basics;
use crate::strategy::{CustomResourceStrategy, Strategy, Typed};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use serde_json::{Value, json};
use std::sync::Arc;

/// The finalizer that keeps a CRD until its objects are deleted.
pub const CLEANUP_FINALIZER: &str = "customresourcecleanup.apiextensions.k8s.io";

/// The CRD strategy: typed decoding plus kube-apiserver's CRD rules.
pub struct CrdStrategy {
    typed: Typed<CustomResourceDefinition>,
}

impl CrdStrategy {
    /// The strategy.
    pub fn new() -> Self {
        CrdStrategy {
            typed: Typed::new()
                .printer(&crate::table::printer::CREATED_AT)
                .with_generation(),
        }
    }
}

impl Default for CrdStrategy {
    fn default() -> Self {
        Self::new()
    }
}

fn str_at<'a>(v: &'a Value, pointer: &str) -> &'a str {
    v.pointer(pointer).and_then(Value::as_str).unwrap_or("")
}

/// Writes the schema's float fields (`minimum`, `maximum`, `multipleOf`: float64 upstream) the way
/// Go's JSON encoder does: an integral value without a fraction (`10`, not `10.0`), so that
/// `kubectl get crd -o yaml` shows what it shows against kube-apiserver.
fn integral_floats_as_integers(v: &mut Value) {
    match v {
        Value::Object(map) => {
            for (key, child) in map.iter_mut() {
                if matches!(key.as_str(), "minimum" | "maximum" | "multipleOf")
                    && let Some(f) = child.as_f64().filter(|_| child.is_f64())
                    && f.fract() == 0.0
                    && f.abs() < 1e15
                {
                    *child = Value::from(f as i64);
                } else {
                    integral_floats_as_integers(child);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(integral_floats_as_integers),
        _ => {}
    }
}

impl Strategy for CrdStrategy {
    typed_basics!(typed);

    fn decode(&self, value: Value) -> Result<crate::strategy::Decoded, crate::status::ApiError> {
        let mut decoded = self.typed.decode(value)?;
        if let Some(versions) = decoded.value.pointer_mut("/spec/versions") {
            integral_floats_as_integers(versions);
        }
        Ok(decoded)
    }

    fn tracks_generation(&self) -> bool {
        true
    }

    fn initial_finalizers(&self) -> &[&'static str] {
        &[CLEANUP_FINALIZER]
    }

    fn prepare_for_create(&self, obj: &mut Value) {
        validation::apply_defaults(obj);
        let stored: Vec<Value> = obj
            .pointer("/spec/versions")
            .and_then(Value::as_array)
            .map(|vs| {
                vs.iter()
                    .filter(|v| v.get("storage").and_then(Value::as_bool) == Some(true))
                    .filter_map(|v| v.get("name").cloned())
                    .collect()
            })
            .unwrap_or_default();
        obj["status"] = json!({"acceptedNames": {"kind": "", "plural": ""}, "conditions": [], "storedVersions": stored});
    }

    fn prepare_for_update(&self, new: &mut Value, old: &Value) {
        validation::apply_defaults(new);
        // storedVersions only grows: add the new storage version.
        let mut stored: Vec<Value> = old
            .pointer("/status/storedVersions")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        if let Some(vs) = new.pointer("/spec/versions").and_then(Value::as_array) {
            for v in vs {
                if v.get("storage").and_then(Value::as_bool) == Some(true)
                    && let Some(name) = v.get("name")
                    && !stored.contains(name)
                {
                    stored.push(name.clone());
                }
            }
        }
        if new.get("status").is_some_and(Value::is_object) {
            new["status"]["storedVersions"] = Value::Array(stored);
        }
    }

    fn validate(&self, obj: &Value) -> Vec<FieldCause> {
        validate_crd(obj)
    }

    fn validate_update(&self, new: &Value, old: &Value) -> Vec<FieldCause> {
        validation::validate_crd_update(new, old)
    }

    fn validate_status_update(&self, new: &Value, _old: &Value) -> Vec<FieldCause> {
        validation::validate_crd_status(new)
    }
}

/// The resource types a CRD serves (one per served version), as its names were accepted.
pub fn served_types(crd: &Value) -> Vec<ResourceType> {
    let group = str_at(crd, "/spec/group").to_string();
    let plural = str_at(crd, "/spec/names/plural").to_string();
    let kind = str_at(crd, "/spec/names/kind").to_string();
    let list_kind = match str_at(crd, "/spec/names/listKind") {
        "" => format!("{kind}List"),
        lk => lk.to_string(),
    };
    let singular = match str_at(crd, "/spec/names/singular") {
        "" => kind.to_lowercase(),
        s => s.to_string(),
    };
    let strings = |p: &str| -> Vec<String> {
        crd.pointer(p)
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default()
    };
    let versions = crd
        .pointer("/spec/versions")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let multi_version = versions.len() > 1;
    // Every version is stored at the storage version.
    let storage_version = versions
        .iter()
        .find(|v| v.get("storage").and_then(Value::as_bool) == Some(true))
        .map(|v| str_at(v, "/name"))
        .unwrap_or_default();
    let storage_version_hash =
        crate::resource::storage_version_hash(&group, storage_version, &kind);
    let conversion = conversion::WebhookConverter::for_crd(crd);
    versions
        .iter()
        .filter(|v| v.get("served").and_then(Value::as_bool) == Some(true))
        .map(|v| {
            let status = v.pointer("/subresources/status").is_some();
            let scale = v.pointer("/subresources/scale").map(|s| ScalePaths {
                spec_replicas: str_at(s, "/specReplicasPath").to_string(),
                status_replicas: str_at(s, "/statusReplicasPath").to_string(),
                label_selector: s
                    .get("labelSelectorPath")
                    .and_then(Value::as_str)
                    .map(str::to_string),
            });
            let schema = v.pointer("/schema/openAPIV3Schema");
            ResourceType {
                group: group.clone(),
                version: str_at(v, "/name").to_string(),
                kind: kind.clone(),
                list_kind: list_kind.clone(),
                plural: plural.clone(),
                singular: singular.clone(),
                namespaced: str_at(crd, "/spec/scope") == "Namespaced",
                short_names: strings("/spec/names/shortNames"),
                categories: strings("/spec/names/categories"),
                status,
                scale: scale.clone(),
                storage_key: ResourceType::storage_key_for(&group, &plural),
                multi_version,
                conversion: conversion.clone(),
                strategy: Arc::new(
                    CustomResourceStrategy::new(
                        &kind,
                        schema,
                        status,
                        v.get("additionalPrinterColumns"),
                    )
                    .with_scale(scale)
                    .with_selectable_fields(v.get("selectableFields")),
                ),
                schema: SchemaSource::Custom(schema.cloned()),
                answer: None,
                read_only: false,
                storage_version_hash: Some(storage_version_hash.clone()),
                guard: None,
                settle: None,
                allocation: None,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_bounds_are_written_as_go_writes_float64() {
        let crd = json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": "foos.example.com"},
            "spec": {"group": "example.com", "scope": "Namespaced",
                "names": {"plural": "foos", "kind": "Foo"},
                "versions": [{"name": "v1", "served": true, "storage": true,
                    "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                        "n": {"type": "integer", "minimum": 1, "maximum": 10.0, "multipleOf": 2},
                        "x": {"type": "number", "minimum": 0.5, "default": 1.0}}}}}]}});
        let decoded = CrdStrategy::new().decode(crd).expect("decodes").value;
        let props = &decoded["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"];
        assert_eq!(serde_json::to_string(&props["n"]["minimum"]).unwrap(), "1");
        assert_eq!(serde_json::to_string(&props["n"]["maximum"]).unwrap(), "10");
        assert_eq!(
            serde_json::to_string(&props["n"]["multipleOf"]).unwrap(),
            "2"
        );
        assert_eq!(
            serde_json::to_string(&props["x"]["minimum"]).unwrap(),
            "0.5"
        );
        // A default is the user's JSON, kept as written.
        assert_eq!(
            serde_json::to_string(&props["x"]["default"]).unwrap(),
            "1.0"
        );
    }
}
