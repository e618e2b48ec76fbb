//! Decoding built-in objects through their k8s-openapi type.
//!
//! Round-tripping the body through the Rust type does what kube-apiserver's decoder does: type
//! errors are rejected, values are normalised, and fields the type does not have are dropped.
//! Comparing the body with the round-tripped value tells exactly which fields were unknown, which
//! `fieldValidation` then rejects (Strict), reports (Warn) or ignores.

use super::{Decoded, Strategy};
use crate::status::{ApiError, FieldCause};
use crate::table::{NameAge, TableConvertor};
use crate::validation::NameRule;
use serde::{Serialize, de::DeserializeOwned};
use serde_json::Value;
use std::marker::PhantomData;

/// The strategy of a built-in type `K` with no special rules beyond its name rule and fields.
pub struct Typed<K> {
    name_rule: NameRule,
    tracks_generation: bool,
    fields: &'static [&'static str],
    unset: &'static [(&'static str, &'static str)],
    returns_deleted: bool,
    keeps_status: bool,
    printer: &'static dyn TableConvertor,
    validator: fn(&Value) -> Vec<FieldCause>,
    field_schema: std::sync::OnceLock<std::sync::Arc<crate::fieldpath::Schema>>,
    _kind: PhantomData<fn() -> K>,
}

impl<K> Typed<K> {
    /// A typed strategy with subdomain names, no generation, no extra selectable fields.
    pub fn new() -> Self {
        Typed {
            name_rule: NameRule::Subdomain,
            tracks_generation: false,
            fields: &[],
            unset: &[],
            returns_deleted: false,
            keeps_status: false,
            printer: &NameAge,
            validator: |_| Vec::new(),
            field_schema: std::sync::OnceLock::new(),
            _kind: PhantomData,
        }
    }

    /// Sets the name rule.
    pub fn names(mut self, rule: NameRule) -> Self {
        self.name_rule = rule;
        self
    }

    /// Maintains `metadata.generation`.
    pub fn with_generation(mut self) -> Self {
        self.tracks_generation = true;
        self
    }

    /// Sets how objects print as table rows.
    pub fn printer(mut self, printer: &'static dyn TableConvertor) -> Self {
        self.printer = printer;
        self
    }

    /// Adds selectable fields.
    pub fn fields(mut self, fields: &'static [&'static str]) -> Self {
        self.fields = fields;
        self
    }

    /// The values selectable fields that are not strings have when unset (`("spec.unschedulable",
    /// "false")`): see [`Strategy::unset_field`].
    pub fn unset_values(mut self, unset: &'static [(&'static str, &'static str)]) -> Self {
        self.unset = unset;
        self
    }

    /// A DELETE that removes an object at once answers with the object
    /// ([`Strategy::returns_deleted_object`]).
    pub fn returns_deleted_object(mut self) -> Self {
        self.returns_deleted = true;
        self
    }

    /// Validates objects (creates and updates) with `validator`: the resource's rules when they
    /// are all it adds to the typed strategy.
    pub fn validated_by(mut self, validator: fn(&Value) -> Vec<FieldCause>) -> Self {
        self.validator = validator;
        self
    }

    /// Status given on create is kept ([`Strategy::keeps_status_on_create`]).
    pub fn keeps_status_on_create(mut self) -> Self {
        self.keeps_status = true;
        self
    }
}

impl<K> Default for Typed<K> {
    fn default() -> Self {
        Self::new()
    }
}

/// Decodes `value` through `K`, reporting the fields `K` does not have.
pub fn decode_typed<K: k8s_openapi::Resource + DeserializeOwned + Serialize>(
    value: Value,
) -> Result<Decoded, ApiError> {
    // Deserialized from a borrow: the input is still needed to find unknown fields.
    let typed = K::deserialize(&value).map_err(|e| {
        ApiError::bad_request(format!(
            "{kind} in version {version:?} cannot be handled as a {kind}: {e}",
            kind = K::KIND,
            version = K::VERSION
        ))
    })?;
    let normalised = serde_json::to_value(&typed)
        .map_err(|e| ApiError::internal(format!("encoding {}: {e}", K::KIND)))?;
    let unknown = unknown_fields(&value, &normalised);
    Ok(Decoded {
        value: normalised,
        unknown_fields: unknown,
    })
}

/// The paths present (and not null) in `input` but absent from `decoded`.
pub fn unknown_fields(input: &Value, decoded: &Value) -> Vec<String> {
    let mut out = Vec::new();
    walk(input, decoded, &mut String::new(), &mut out);
    out
}

/// Walks `input` beside `decoded` with one path buffer (extended and truncated per step), so
/// that a path is only copied when it names an unknown field.
fn walk(input: &Value, decoded: &Value, path: &mut String, out: &mut Vec<String>) {
    let len = path.len();
    match (input, decoded) {
        (Value::Object(i), Value::Object(d)) => {
            for (k, v) in i {
                if len > 0 {
                    path.push('.');
                }
                path.push_str(k);
                match d.get(k) {
                    Some(dv) => walk(v, dv, path, out),
                    None if v.is_null() => {}
                    None => out.push(path.clone()),
                }
                path.truncate(len);
            }
        }
        (Value::Array(i), Value::Array(d)) => {
            for (idx, (iv, dv)) in i.iter().zip(d).enumerate() {
                use std::fmt::Write as _;
                let _ = write!(path, "[{idx}]");
                walk(iv, dv, path, out);
                path.truncate(len);
            }
        }
        _ => {}
    }
}

impl<K> Strategy for Typed<K>
where
    K: k8s_openapi::Resource
        + DeserializeOwned
        + Serialize
        + schemars::JsonSchema
        + Send
        + Sync
        + 'static,
{
    fn field_schema(&self) -> std::sync::Arc<crate::fieldpath::Schema> {
        self.field_schema
            .get_or_init(|| std::sync::Arc::new(crate::fieldpath::Schema::builtin::<K>()))
            .clone()
    }

    fn decode(&self, value: Value) -> Result<Decoded, ApiError> {
        decode_typed::<K>(value)
    }

    fn order_keys(&self, obj: &mut Value) {
        crate::keyorder::builtin(obj, &self.field_schema());
    }

    fn name_rule(&self) -> NameRule {
        self.name_rule
    }

    fn tracks_generation(&self) -> bool {
        self.tracks_generation
    }

    fn validate(&self, obj: &Value) -> Vec<FieldCause> {
        (self.validator)(obj)
    }

    fn selectable_fields(&self) -> &[&'static str] {
        self.fields
    }

    fn unset_field(&self, field: &str) -> &'static str {
        self.unset
            .iter()
            .find(|(f, _)| *f == field)
            .map_or("", |(_, v)| v)
    }

    fn returns_deleted_object(&self) -> bool {
        self.returns_deleted
    }

    fn keeps_status_on_create(&self) -> bool {
        self.keeps_status
    }

    fn table(&self) -> &dyn TableConvertor {
        self.printer
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::ConfigMap;
    use serde_json::json;

    #[test]
    fn reports_unknown_fields_and_type_errors() {
        let d = decode_typed::<ConfigMap>(json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "a", "bogus": 1, "labels": null},
            "data": {"k": "v"}, "extra": {"x": 1}
        }))
        .expect("decodes");
        assert_eq!(
            d.unknown_fields,
            vec!["metadata.bogus".to_string(), "extra".to_string()]
        );
        assert_eq!(d.value["data"]["k"], "v");
        let err = decode_typed::<ConfigMap>(json!({"metadata": {"name": "a"}, "data": {"k": 1}}))
            .expect_err("type error");
        assert_eq!(err.code, 400);
        assert!(
            err.message
                .starts_with("ConfigMap in version \"v1\" cannot be handled as a ConfigMap")
        );
    }
}
