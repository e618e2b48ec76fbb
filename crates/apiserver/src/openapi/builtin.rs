//! Component schemas of built-in kinds, from k8s-openapi's `schemars` implementations.
//!
//! k8s-openapi names every definition as upstream does (`io.k8s.api.core.v1.ConfigMap`), so the
//! generator's definitions only need their refs moved to `#/components/schemas/` and two
//! departures from upstream's published schemas undone (see [`fixup`]).

use schemars::{JsonSchema, SchemaGenerator, generate::SchemaSettings};
use serde_json::{Map, Value};

use super::CommonText;
use super::names;
use super::schema::{COMPONENTS_PREFIX, decode_pointer_token, walk_mut};

/// The schema of one type and of everything it refers to, in neutral form.
pub(crate) struct Generated {
    /// Component name of the type itself.
    pub(crate) name: String,
    /// `(component name, schema)` for the type and every schema reachable from it.
    pub(crate) definitions: Vec<(String, Value)>,
}

/// Generates `T`'s schema and all the definitions it reaches.
pub(crate) fn generate<T: JsonSchema + ?Sized>() -> Generated {
    let mut generator = SchemaGenerator::new(SchemaSettings::draft2020_12());
    let root = generator.subschema_for::<T>();
    let prefix = format!(
        "#{}/",
        generator
            .settings()
            .definitions_path
            .trim_start_matches('#')
            .trim_end_matches('/')
    );
    let definitions = generator.take_definitions(false);

    let root = root.to_value();
    let referenced = root
        .get("$ref")
        .and_then(Value::as_str)
        .and_then(|r| r.strip_prefix(prefix.as_str()))
        .map(decode_pointer_token);
    let mut out = Vec::with_capacity(definitions.len() + 1);
    let name = match referenced {
        Some(name) => name,
        None => {
            // An inlined root (not the case for k8s-openapi types): publish it under its name.
            let name = T::schema_name().into_owned();
            out.push((name.clone(), root));
            name
        }
    };
    out.extend(definitions);
    for (def_name, schema) in &mut out {
        rewrite_refs(schema, &prefix);
        fixup(def_name, schema);
    }
    Generated {
        name,
        definitions: out,
    }
}

/// Moves refs from the generator's definitions path to `#/components/schemas/`.
fn rewrite_refs(schema: &mut Value, prefix: &str) {
    walk_mut(schema, &mut |map| {
        let Some(Value::String(reference)) = map.get_mut("$ref") else {
            return;
        };
        if let Some(token) = reference.strip_prefix(prefix) {
            *reference = format!("{COMPONENTS_PREFIX}{}", decode_pointer_token(token));
        }
    });
}

/// Undoes where k8s-openapi's schemas differ from what upstream publishes:
///
/// * `metadata` is listed as required in resource and list types (it is a non-optional Rust
///   field); upstream never requires it, and kubectl's client-side validation would.
/// * apiextensions `JSON` is typed `object`; upstream leaves it untyped (any JSON value), and
///   kubectl's client-side validation would reject e.g. a numeric CRD `default`.
fn fixup(name: &str, schema: &mut Value) {
    let Value::Object(map) = schema else { return };
    if name == "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSON" {
        map.remove("type");
    }
    let metadata_is_meta = map
        .get("properties")
        .and_then(|p| p.get("metadata"))
        .and_then(|m| m.get("$ref"))
        .and_then(Value::as_str)
        .and_then(|r| r.strip_prefix(COMPONENTS_PREFIX))
        .is_some_and(|n| n == names::OBJECT_META || n == names::LIST_META);
    if metadata_is_meta {
        remove_required(map, "metadata");
    }
}

/// Removes `field` from `required`, dropping `required` when it becomes empty.
pub(crate) fn remove_required(map: &mut Map<String, Value>, field: &str) {
    if let Some(Value::Array(required)) = map.get_mut("required") {
        required.retain(|r| r.as_str() != Some(field));
        if required.is_empty() {
            map.remove("required");
        }
    }
}

/// Descriptions used when k8s-openapi's cannot be found (never expected).
fn fallback_text() -> CommonText {
    CommonText {
        api_version: "APIVersion defines the versioned schema of this representation of an object."
            .to_owned(),
        kind: "Kind is a string value representing the REST resource this object represents."
            .to_owned(),
        object_metadata: "Standard object's metadata.".to_owned(),
        list_metadata: "Standard list metadata.".to_owned(),
    }
}

/// Upstream's `apiVersion`, `kind` and `metadata` descriptions, read from the `ConfigMap` and
/// `Status` schemas k8s-openapi generates: they are the texts upstream puts on custom resources
/// and lists.
pub(crate) fn common_text() -> CommonText {
    use k8s_openapi::api::core::v1::ConfigMap;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Status;

    let fallback = fallback_text();
    let object = generate::<ConfigMap>();
    let list = generate::<Status>();
    let property_description = |generated: &Generated, property: &str| -> Option<String> {
        let (_, schema) = generated
            .definitions
            .iter()
            .find(|(name, _)| *name == generated.name)?;
        schema
            .get("properties")?
            .get(property)?
            .get("description")?
            .as_str()
            .map(str::to_owned)
    };
    CommonText {
        api_version: property_description(&object, "apiVersion").unwrap_or(fallback.api_version),
        kind: property_description(&object, "kind").unwrap_or(fallback.kind),
        object_metadata: property_description(&object, "metadata")
            .unwrap_or(fallback.object_metadata),
        list_metadata: property_description(&list, "metadata").unwrap_or(fallback.list_metadata),
    }
}
