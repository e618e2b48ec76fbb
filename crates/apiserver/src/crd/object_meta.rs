//! `ObjectMeta`'s rules for the metadata of embedded resources (`x-kubernetes-embedded-resource`):
//! what the schema machinery (`kubeforge-apiextensions`, [`super::schema::objectmeta`]) asks of
//! the server, which owns `ObjectMeta` — decoding it as the typed strategies do (unknown fields
//! dropped and reported) and validating it under the generic metadata rules with path-segment
//! names, as upstream's `schema/objectmeta` calls apimachinery's `ValidateObjectMetaAccessor`.

use super::schema::field::{self, Bad};
use super::schema::objectmeta::ObjectMetaRules;
use crate::status::FieldCause;
use crate::validation::{NameRule, dns1123_label_problems, validate_object_meta};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde_json::{Map, Value};

/// The server's `ObjectMeta` rules, for [`super::schema::Schema::compile`] and
/// [`super::schema::structural::validate_schema`].
#[derive(Debug, Clone, Copy, Default)]
pub struct EmbeddedObjectMeta;

impl ObjectMetaRules for EmbeddedObjectMeta {
    fn decode(&self, meta: &Value) -> Result<(Value, Vec<String>), String> {
        let typed: ObjectMeta = serde_json::from_value(meta.clone()).map_err(|e| e.to_string())?;
        let normalised = serde_json::to_value(&typed).map_err(|e| e.to_string())?;
        let unknown = crate::strategy::unknown_fields(meta, &normalised);
        Ok((normalised, unknown))
    }

    fn validate(&self, meta: &Map<String, Value>, path: &str) -> Vec<FieldCause> {
        let mut m = meta.clone();
        if m.get("name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .is_empty()
        {
            m.insert("name".into(), Value::String("fakename".into()));
        }
        let mut out: Vec<FieldCause> =
            validate_object_meta(&Value::Object(m), NameRule::PathSegment)
                .into_iter()
                .map(|c| reprefix(c, path))
                .collect();
        if let Some(ns) = meta.get("namespace").and_then(Value::as_str)
            && !ns.is_empty()
        {
            for p in dns1123_label_problems(ns) {
                out.push(field::invalid(
                    &field::child(path, "namespace"),
                    Bad::Str(ns),
                    &p,
                ));
            }
        }
        out
    }
}

/// Moves a `metadata.…` cause of the generic metadata rules under `path` (`spec.template.metadata`).
fn reprefix(mut c: FieldCause, path: &str) -> FieldCause {
    if let Some(rest) = c.field.strip_prefix("metadata") {
        let field = format!("{path}{rest}");
        if let Some(msg) = c.message.strip_prefix(&c.field) {
            c.message = format!("{field}{msg}");
        }
        c.field = field;
    }
    c
}

#[cfg(test)]
mod tests {
    use super::super::schema::compile_node;
    use super::super::schema::objectmeta::{coerce, validate};
    use super::*;
    use serde_json::json;

    #[test]
    fn embedded_resources() {
        let s = compile_node(
            &json!({"type": "object", "properties": {"spec": {"type": "object", "properties": {
                "template": {"type": "object", "x-kubernetes-embedded-resource": true,
                             "x-kubernetes-preserve-unknown-fields": true}
            }}}}),
            true,
        );
        let mut obj = json!({"spec": {"template": {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "p", "labels": {"a": "b"}, "bogus": 1}}}});
        assert_eq!(
            coerce(&mut obj, &s, &EmbeddedObjectMeta).expect("coerces"),
            vec!["spec.template.metadata.bogus"]
        );
        assert_eq!(
            obj["spec"]["template"]["metadata"],
            json!({"name": "p", "labels": {"a": "b"}})
        );
        assert!(validate(&obj, &s, &EmbeddedObjectMeta).is_empty());

        let mut bad_meta = json!({"spec": {"template": {"metadata": {"labels": 5}}}});
        assert!(
            coerce(&mut bad_meta, &s, &EmbeddedObjectMeta)
                .expect_err("labels")
                .message
                .starts_with("spec.template.metadata: Invalid value: {\"labels\":5}: invalid type")
        );

        let invalid = json!({"spec": {"template": {"kind": "My_Kind",
            "metadata": {"name": "a/b", "namespace": "N", "labels": {"-x": "y"}}}}});
        let msgs: Vec<String> = validate(&invalid, &s, &EmbeddedObjectMeta)
            .into_iter()
            .map(|c| c.message)
            .collect();
        assert_eq!(msgs[0], "spec.template.apiVersion: Required value");
        assert!(msgs[1].starts_with(r#"spec.template.kind: Invalid value: "My_Kind": may have mixed case, but should otherwise match: a DNS-1035 label"#));
        assert_eq!(
            msgs[2],
            r#"spec.template.metadata.name: Invalid value: "a/b": may not contain '/'"#
        );
        assert!(msgs[3].starts_with(
            r#"spec.template.metadata.labels: Invalid value: "-x": name part must consist"#
        ));
        assert!(msgs[4].starts_with(
            r#"spec.template.metadata.namespace: Invalid value: "N": a lowercase RFC 1123 label"#
        ));
    }
}
