//! Custom resources: the strategy a CRD version brings, built from its schema.

use super::{Decoded, Strategy};
use crate::crd::schema::Schema;
use crate::status::{ApiError, FieldCause};
use crate::table::PrinterColumns;
use crate::validation::NameRule;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde_json::Value;

/// The strategy of one custom resource version.
pub struct CustomResourceStrategy {
    schema: Schema,
    kind: String,
    status: bool,
    printer: PrinterColumns,
}

impl CustomResourceStrategy {
    /// A strategy validating against `schema` and printing `printer_columns` (compiled once).
    pub fn new(
        kind: &str,
        schema: Option<&Value>,
        status: bool,
        printer_columns: Option<&Value>,
    ) -> Self {
        CustomResourceStrategy {
            schema: Schema::compile(schema),
            kind: kind.to_string(),
            status,
            printer: PrinterColumns::new(printer_columns),
        }
    }
}

impl Strategy for CustomResourceStrategy {
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

    fn validate_status(&self, obj: &Value) -> Vec<FieldCause> {
        self.schema.validate(obj)
    }

    fn validate(&self, obj: &Value) -> Vec<FieldCause> {
        let mut causes = self.schema.validate(obj);
        if self.status {
            // Status is validated when written through /status; on the main endpoint it is kept.
            causes.retain(|c| !c.field.starts_with("status"));
        }
        causes
    }
}
