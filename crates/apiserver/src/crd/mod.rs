//! CustomResourceDefinitions: their strategy, how a CRD becomes served resource types, and the
//! controller that establishes and cleans them up.

pub mod controller;
pub mod schema;

use crate::resource::{ResourceType, ScalePaths, SchemaSource};
use crate::status::{ApiError, FieldCause};
use crate::strategy::{CustomResourceStrategy, Decoded, Strategy, Typed};
use crate::validation::{dns1123_label_problems, dns1123_subdomain_problems};
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
                .printer(&crate::table::CREATED_AT)
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

impl Strategy for CrdStrategy {
    fn table(&self) -> &dyn crate::table::TableConvertor {
        self.typed.table()
    }

    fn decode(&self, value: Value) -> Result<Decoded, ApiError> {
        self.typed.decode(value)
    }

    fn tracks_generation(&self) -> bool {
        true
    }

    fn initial_finalizers(&self) -> &[&'static str] {
        &[CLEANUP_FINALIZER]
    }

    fn prepare_for_create(&self, obj: &mut Value) {
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
        let mut causes = validate_crd(new);
        for (field, pointer) in [
            ("spec.scope", "/spec/scope"),
            ("spec.group", "/spec/group"),
            ("spec.names.plural", "/spec/names/plural"),
        ] {
            if str_at(new, pointer) != str_at(old, pointer) && field != "spec.names.plural" {
                causes.push(FieldCause::invalid(
                    field,
                    &json!(str_at(new, pointer)),
                    "field is immutable",
                ));
            }
        }
        causes
    }
}

/// kube-apiserver's CRD rules that this server enforces (the full structural-schema rules live
/// with the schema machinery).
pub fn validate_crd(obj: &Value) -> Vec<FieldCause> {
    let mut causes = Vec::new();
    let group = str_at(obj, "/spec/group");
    let plural = str_at(obj, "/spec/names/plural");
    let singular = str_at(obj, "/spec/names/singular");
    let kind = str_at(obj, "/spec/names/kind");
    let list_kind = str_at(obj, "/spec/names/listKind");
    let name = str_at(obj, "/metadata/name");
    if group.is_empty() {
        causes.push(FieldCause::required("spec.group", ""));
    } else {
        if !group.contains('.') {
            causes.push(FieldCause::invalid(
                "spec.group",
                &json!(group),
                "should be a domain with at least one dot",
            ));
        }
        for p in dns1123_subdomain_problems(group) {
            causes.push(FieldCause::invalid("spec.group", &json!(group), p));
        }
    }
    if !plural.is_empty() && !group.is_empty() && name != format!("{plural}.{group}") {
        causes.push(FieldCause::invalid(
            "metadata.name",
            &json!(name),
            "must be spec.names.plural+\".\"+spec.group",
        ));
    }
    if plural.is_empty() {
        causes.push(FieldCause::required("spec.names.plural", ""));
    } else {
        for p in dns1123_label_problems(plural) {
            causes.push(FieldCause::invalid("spec.names.plural", &json!(plural), p));
        }
    }
    if !singular.is_empty() {
        for p in dns1123_label_problems(singular) {
            causes.push(FieldCause::invalid(
                "spec.names.singular",
                &json!(singular),
                p,
            ));
        }
    }
    for (field, value) in [
        ("spec.names.kind", kind),
        ("spec.names.listKind", list_kind),
    ] {
        if field == "spec.names.kind" && value.is_empty() {
            causes.push(FieldCause::required(field, ""));
        } else if !value.is_empty()
            && (!value.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                || value.starts_with(|c: char| c.is_ascii_digit()))
        {
            causes.push(FieldCause::invalid(
                field,
                &json!(value),
                "may have mixed case, but should otherwise match: [a-z][-a-z0-9]*",
            ));
        }
    }
    if let Some(shorts) = obj
        .pointer("/spec/names/shortNames")
        .and_then(Value::as_array)
    {
        for (i, s) in shorts.iter().enumerate() {
            for p in dns1123_label_problems(s.as_str().unwrap_or("")) {
                causes.push(FieldCause::invalid(
                    format!("spec.names.shortNames[{i}]"),
                    s,
                    p,
                ));
            }
        }
    }
    let scope = str_at(obj, "/spec/scope");
    if scope != "Namespaced" && scope != "Cluster" {
        causes.push(FieldCause::not_supported(
            "spec.scope",
            &json!(scope),
            &["Cluster".into(), "Namespaced".into()],
        ));
    }
    let versions = obj
        .pointer("/spec/versions")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if versions.is_empty() {
        causes.push(FieldCause::invalid(
            "spec.versions",
            &json!([]),
            "must have exactly one version marked as storage version",
        ));
    } else {
        let storage = versions
            .iter()
            .filter(|v| v.get("storage").and_then(Value::as_bool) == Some(true))
            .count();
        if storage != 1 {
            causes.push(FieldCause::invalid(
                "spec.versions",
                &Value::Array(versions.clone()),
                "must have exactly one version marked as storage version",
            ));
        }
        let mut seen = std::collections::BTreeSet::new();
        for (i, v) in versions.iter().enumerate() {
            let vname = v.get("name").and_then(Value::as_str).unwrap_or("");
            for p in dns1123_label_problems(vname) {
                causes.push(FieldCause::invalid(
                    format!("spec.versions[{i}].name"),
                    &json!(vname),
                    p,
                ));
            }
            if !seen.insert(vname.to_string()) {
                causes.push(FieldCause::duplicate(
                    format!("spec.versions[{i}].name"),
                    &json!(vname),
                ));
            }
        }
        if !versions
            .iter()
            .any(|v| v.get("served").and_then(Value::as_bool) == Some(true))
        {
            causes.push(FieldCause::invalid(
                "spec.versions",
                &Value::Array(versions.clone()),
                "must have at least one served version",
            ));
        }
    }
    causes
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
                scale,
                storage_key: ResourceType::storage_key_for(&group, &plural),
                multi_version,
                strategy: Arc::new(CustomResourceStrategy::new(
                    &kind,
                    schema,
                    status,
                    v.get("additionalPrinterColumns"),
                )),
                schema: SchemaSource::Custom(schema.cloned()),
            }
        })
        .collect()
}
