//! ResourceQuotas (core/v1, `quota`): stored with their status, which the resourcequota
//! controller (`controllers/resourcequota.rs`) keeps; kubectl's REQUEST and LIMIT columns.
//! Validated as upstream (`validation.rs`): the spec on create and update (its scopes fixed once
//! created), the status through `resourcequotas/status`. As upstream's strategy, a write of the
//! object keeps the stored status and a write of the status the stored spec (the generic path of
//! a resource with a status subresource); upstream has no defaults for them.

use crate::registry::entry::entry;
use crate::resource::ResourceType;
use crate::status::{ApiError, FieldCause};
use crate::strategy::{Decoded, Strategy, Typed, typed_basics};
use crate::table::printer::{Printer, col};
use crate::table::{age, age_column, name_column, name_of};
use crate::validation::NameRule;
use k8s_openapi::api::core::v1::ResourceQuota;
use serde_json::{Value, json};

pub(crate) mod validation;

/// `resourcequotas` (core/v1, `quota`).
pub(crate) fn resource() -> ResourceType {
    entry("resourcequotas", "resourcequota", true)
        .short(&["quota"])
        .status()
        .build::<ResourceQuota>(ResourceQuotaStrategy {
            typed: Typed::<ResourceQuota>::new().printer(&RESOURCE_QUOTA),
        })
}

/// The ResourceQuota strategy: the type's, with upstream's validation.
struct ResourceQuotaStrategy {
    typed: Typed<ResourceQuota>,
}

impl Strategy for ResourceQuotaStrategy {
    typed_basics!(typed);

    /// The type's decoding; a quantity that does not parse is a BadRequest, as Go's decoder
    /// refuses it.
    fn decode(&self, value: Value) -> Result<Decoded, ApiError> {
        let decoded = self.typed.decode(value)?;
        let v = &decoded.value;
        let lists = ["/spec/hard", "/status/hard", "/status/used"]
            .into_iter()
            .filter_map(|p| v.pointer(p));
        if validation::has_malformed_quantity(lists) {
            return Err(validation::quantity_format_error("ResourceQuota"));
        }
        Ok(decoded)
    }

    fn name_rule(&self) -> NameRule {
        self.typed.name_rule()
    }

    fn validate(&self, obj: &Value) -> Vec<FieldCause> {
        validation::create_causes(obj)
    }

    fn validate_update(&self, new: &Value, old: &Value) -> Vec<FieldCause> {
        validation::update_causes(new, old)
    }

    fn validate_status_update(&self, new: &Value, _old: &Value) -> Vec<FieldCause> {
        validation::status_causes(new)
    }
}

/// `used/hard` for each resource of `status.hard` whose name starts (or not) with `limits.`,
/// sorted by name, as kubectl prints quota usage.
fn usage(o: &Value, limits: bool) -> String {
    let Some(hard) = o.pointer("/status/hard").and_then(Value::as_object) else {
        return String::new();
    };
    let mut names: Vec<&String> = hard
        .keys()
        .filter(|k| k.starts_with("limits.") == limits)
        .collect();
    names.sort();
    names
        .into_iter()
        .map(|k| {
            let used = o
                .pointer(&format!(
                    "/status/used/{}",
                    k.replace('~', "~0").replace('/', "~1")
                ))
                .and_then(Value::as_str)
                .unwrap_or("0");
            format!("{k}: {used}/{}", hard[k].as_str().unwrap_or(""))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// ResourceQuota: NAME AGE REQUEST LIMIT.
pub(crate) const RESOURCE_QUOTA: Printer = Printer {
    columns: || {
        vec![
            name_column(),
            age_column(),
            col("Request", "string", 0),
            col("Limit", "string", 0),
        ]
    },
    cells: |o, now| {
        vec![
            json!(name_of(o)),
            json!(age(o, now)),
            json!(usage(o, false)),
            json!(usage(o, true)),
        ]
    },
};
