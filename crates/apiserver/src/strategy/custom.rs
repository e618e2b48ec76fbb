//! Custom resources: the strategy a CRD version brings, built from its schema.

use super::{Decoded, Strategy};
use crate::crd::schema::Schema;
use crate::crd::schema::field::{self, Bad, go_type_name, go_v};
use crate::resource::ScalePaths;
use crate::status::{ApiError, FieldCause};
use crate::table::PrinterColumns;
use crate::validation::NameRule;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde_json::Value;

/// The strategy of one custom resource version.
pub struct CustomResourceStrategy {
    schema: Schema,
    kind: String,
    printer: PrinterColumns,
    raw_schema: Option<Value>,
    field_schema: std::sync::OnceLock<std::sync::Arc<crate::fieldpath::Schema>>,
    scale: Option<ScalePaths>,
    selectable: Vec<String>,
}

impl CustomResourceStrategy {
    /// A strategy validating against `schema` and printing `printer_columns` (compiled once).
    /// With the status subresource (`_status`) the generic path keeps status out of main
    /// writes; validation is the same either way.
    pub fn new(
        kind: &str,
        schema: Option<&Value>,
        _status: bool,
        printer_columns: Option<&Value>,
    ) -> Self {
        CustomResourceStrategy {
            schema: Schema::compile(schema, &crate::crd::object_meta::EmbeddedObjectMeta),
            kind: kind.to_string(),
            printer: PrinterColumns::new(printer_columns),
            raw_schema: schema.cloned(),
            field_schema: std::sync::OnceLock::new(),
            scale: None,
            selectable: Vec::new(),
        }
    }

    /// With the version's `selectableFields`: each `jsonPath` (`.spec.color`) selectable as its
    /// field label (`spec.color`), as upstream names them. Their values are read from the object
    /// at this version, an unset one as `""`.
    pub fn with_selectable_fields(mut self, fields: Option<&Value>) -> Self {
        self.selectable = fields
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|f| f.get("jsonPath").and_then(Value::as_str))
            .map(|p| p.strip_prefix('.').unwrap_or(p).to_string())
            .collect();
        self
    }

    /// With the scale subresource at `scale`: its replicas and selector paths are validated.
    pub fn with_scale(mut self, scale: Option<ScalePaths>) -> Self {
        self.scale = scale;
        self
    }

    /// `ValidateScaleSpec` / `ValidateScaleStatus`: the replicas the scale subresource reads
    /// must be non-negative int32s, the selector a string.
    fn scale_causes(&self, obj: &Value, spec: bool) -> Vec<FieldCause> {
        let Some(paths) = &self.scale else {
            return Vec::new();
        };
        let mut out = Vec::new();
        let mut replicas = |path: &str| {
            let (value, err) = nested(obj, path, "int64", Value::is_i64);
            let n = value.and_then(Value::as_i64).unwrap_or(0);
            if let Some(e) = err {
                out.push(field::invalid(path, Bad::Int(0), &e));
            } else if n < 0 {
                out.push(field::invalid(
                    path,
                    Bad::Int(n),
                    "should be a non-negative integer",
                ));
            } else if n > i64::from(i32::MAX) {
                out.push(field::invalid(
                    path,
                    Bad::Int(n),
                    &format!("should be less than or equal to {}", i32::MAX),
                ));
            }
        };
        if spec {
            replicas(&paths.spec_replicas);
        }
        replicas(&paths.status_replicas);
        if let Some(selector) = &paths.label_selector
            && let (_, Some(e)) = nested(obj, selector, "string", Value::is_string)
        {
            out.push(field::invalid(selector, Bad::Str(""), &e));
        }
        out
    }
}

/// `unstructured.NestedInt64`/`NestedString` at a `.a.b` path: the value, or the accessor error.
fn nested<'a>(
    obj: &'a Value,
    path: &str,
    want: &str,
    ok: fn(&Value) -> bool,
) -> (Option<&'a Value>, Option<String>) {
    let mut cur = obj;
    for seg in path.trim_start_matches('.').split('.') {
        match cur.get(seg) {
            Some(v) => cur = v,
            None => return (None, None),
        }
    }
    if ok(cur) {
        (Some(cur), None)
    } else {
        (
            None,
            Some(format!(
                "{path} accessor error: {} is of the type {}, expected {want}",
                go_v(cur),
                go_type_name(cur)
            )),
        )
    }
}

impl Strategy for CustomResourceStrategy {
    fn selects_field(&self, field: &str) -> bool {
        self.selectable.iter().any(|f| f == field)
    }

    fn field_schema(&self) -> std::sync::Arc<crate::fieldpath::Schema> {
        self.field_schema
            .get_or_init(|| {
                std::sync::Arc::new(crate::fieldpath::Schema::custom_resource(
                    self.raw_schema.as_ref(),
                ))
            })
            .clone()
    }

    fn decode(&self, mut value: Value) -> Result<Decoded, ApiError> {
        if !value.is_object() {
            return Err(ApiError::bad_request(format!(
                "{} must be a JSON object",
                self.kind
            )));
        }
        let meta = value
            .get("metadata")
            .cloned()
            .unwrap_or(Value::Object(Default::default()));
        let typed: ObjectMeta = serde_json::from_value(meta.clone()).map_err(|e| {
            ApiError::bad_request(format!(
                "{kind} cannot be handled as a {kind}: metadata: {e}",
                kind = self.kind
            ))
        })?;
        let normalised =
            serde_json::to_value(&typed).map_err(|e| ApiError::internal(e.to_string()))?;
        let mut unknown: Vec<String> = super::unknown_fields(&meta, &normalised)
            .into_iter()
            .map(|p| format!("metadata.{p}"))
            .collect();
        value["metadata"] = normalised;
        unknown.extend(self.schema.prune(&mut value));
        unknown.extend(
            self.schema
                .coerce(&mut value)
                .map_err(|c| ApiError::bad_request(c.message))?,
        );
        self.schema.apply_defaults(&mut value);
        Ok(Decoded {
            value,
            unknown_fields: unknown,
        })
    }

    fn name_rule(&self) -> NameRule {
        NameRule::Subdomain
    }

    fn tracks_generation(&self) -> bool {
        true
    }

    fn allow_unconditional_update(&self) -> bool {
        false
    }

    fn table(&self) -> &dyn crate::table::TableConvertor {
        &self.printer
    }

    fn supports_strategic_merge(&self) -> bool {
        false
    }

    fn validate(&self, obj: &Value) -> Vec<FieldCause> {
        self.schema.validate(obj, self.scale_causes(obj, true))
    }

    fn validate_update(&self, new: &Value, old: &Value) -> Vec<FieldCause> {
        self.schema
            .validate_update(new, old, self.scale_causes(new, true))
    }

    fn validate_status(&self, obj: &Value) -> Vec<FieldCause> {
        self.schema.validate(obj, self.scale_causes(obj, false))
    }

    fn validate_status_update(&self, new: &Value, old: &Value) -> Vec<FieldCause> {
        self.schema
            .validate_status_update(new, old, self.scale_causes(new, false))
    }

    fn normalizes_on_read(&self) -> bool {
        self.schema.prunes() || self.schema.has_defaults()
    }

    fn order_keys(&self, obj: &mut Value) {
        crate::keyorder::sorted(obj);
    }

    fn normalize_on_read(&self, obj: &mut Value) {
        self.schema.prune(obj);
        self.schema.apply_defaults(obj);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn strategy() -> CustomResourceStrategy {
        CustomResourceStrategy::new(
            "Foo",
            Some(&json!({"type": "object", "properties": {
                "spec": {"type": "object", "properties": {
                    "replicas": {"type": "integer"},
                    "paused": {"type": "boolean", "default": false},
                    "template": {"type": "object", "x-kubernetes-embedded-resource": true,
                                 "x-kubernetes-preserve-unknown-fields": true}}},
                "status": {"type": "object", "properties": {"replicas": {"type": "number"}, "selector": {"type": "object"}}}}})),
            true,
            None,
        )
        .with_scale(Some(ScalePaths {
            spec_replicas: ".spec.replicas".into(),
            status_replicas: ".status.replicas".into(),
            label_selector: Some(".status.selector".into()),
        }))
    }

    #[test]
    fn decode_reports_unknown_fields_everywhere() {
        let d = strategy()
            .decode(json!({"apiVersion": "x/v1", "kind": "Foo",
                "metadata": {"name": "f", "bogus": 1},
                "spec": {"extra": 1, "template": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "nope": 2}}}}))
            .expect("decodes");
        assert_eq!(
            d.unknown_fields,
            vec![
                "metadata.bogus",
                "spec.extra",
                "spec.template.metadata.nope"
            ]
        );
        assert_eq!(d.value["spec"]["paused"], false);
        let err = strategy()
            .decode(json!({"spec": {"template": {"kind": 1}}}))
            .expect_err("kind must be a string");
        assert_eq!(
            err.message,
            "spec.template.kind: Invalid value: 1: must be a string"
        );
    }

    #[test]
    fn scale_paths_are_validated() {
        let s = strategy();
        let obj =
            json!({"spec": {"replicas": -1}, "status": {"replicas": 1.5, "selector": {"a": "b"}}});
        let msgs: Vec<String> = s.validate(&obj).into_iter().map(|c| c.message).collect();
        assert_eq!(
            msgs,
            vec![
                ".spec.replicas: Invalid value: -1: should be a non-negative integer",
                ".status.replicas: Invalid value: 0: .status.replicas accessor error: 1.5 is of the type float64, expected int64",
                r#".status.selector: Invalid value: "": .status.selector accessor error: map[a:b] is of the type map[string]interface {}, expected string"#,
            ]
        );
    }

    #[test]
    fn reads_prune_unknown_fields_and_apply_defaults() {
        let s = strategy();
        assert!(s.normalizes_on_read());
        let mut stored = json!({"spec": {"replicas": 1, "gone": true,
            "template": {"kept": 1}}, "status": {"old": 1}});
        s.normalize_on_read(&mut stored);
        assert_eq!(
            stored,
            json!({"spec": {"replicas": 1, "paused": false, "template": {"kept": 1}}, "status": {}})
        );
    }

    #[test]
    fn without_a_schema_reads_serve_stored_bytes() {
        let s = CustomResourceStrategy::new("Foo", None, false, None);
        assert!(!s.normalizes_on_read());
    }
}
