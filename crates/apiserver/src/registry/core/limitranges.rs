//! LimitRanges (core/v1, `limits`): upstream's v1 defaulting of their items
//! (`SetDefaults_LimitRangeItem`: a `Container` item's `default` takes its `max`, its
//! `defaultRequest` its `default`, then its `min`). The LimitRanger admission plugin
//! (`admission/limit_ranger.rs`) enforces them. Validated after the defaults, on create and
//! update alike, as upstream's `ValidateLimitRange` (`validation.rs`).

use crate::registry::core::resourcequotas::validation::{
    has_malformed_quantity, quantity_format_error,
};
use crate::registry::entry::entry;
use crate::resource::ResourceType;
use crate::status::{ApiError, FieldCause};
use crate::strategy::{Decoded, Strategy, Typed, typed_basics};
use crate::table::printer::CREATED_AT;
use crate::validation::NameRule;
use k8s_openapi::api::core::v1::LimitRange;
use serde_json::{Map, Value};

mod validation;

/// `limitranges` (core/v1, `limits`).
pub(crate) fn resource() -> ResourceType {
    entry("limitranges", "limitrange", true)
        .short(&["limits"])
        .build::<LimitRange>(LimitRangeStrategy {
            typed: Typed::<LimitRange>::new().printer(&CREATED_AT),
        })
}

/// The LimitRange strategy: the type's, with its items defaulted and validated.
struct LimitRangeStrategy {
    typed: Typed<LimitRange>,
}

impl Strategy for LimitRangeStrategy {
    typed_basics!(typed);

    /// The type's decoding; a quantity that does not parse is a BadRequest, as Go's decoder
    /// refuses it.
    fn decode(&self, value: Value) -> Result<Decoded, ApiError> {
        let decoded = self.typed.decode(value)?;
        let lists = decoded
            .value
            .pointer("/spec/limits")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .flat_map(|item| {
                [
                    "max",
                    "min",
                    "default",
                    "defaultRequest",
                    "maxLimitRequestRatio",
                ]
                .into_iter()
                .filter_map(move |list| item.get(list))
            });
        if has_malformed_quantity(lists) {
            return Err(quantity_format_error("LimitRange"));
        }
        Ok(decoded)
    }

    fn name_rule(&self) -> NameRule {
        self.typed.name_rule()
    }

    fn prepare_for_create(&self, obj: &mut Value) {
        default_items(obj);
    }

    fn prepare_for_update(&self, new: &mut Value, _old: &Value) {
        default_items(new);
    }

    fn validate(&self, obj: &Value) -> Vec<FieldCause> {
        validation::causes(obj)
    }
}

/// `SetDefaults_LimitRangeItem` on every item of `spec.limits`.
fn default_items(obj: &mut Value) {
    let Some(items) = obj
        .pointer_mut("/spec/limits")
        .and_then(Value::as_array_mut)
    else {
        return;
    };
    for item in items.iter_mut().filter_map(Value::as_object_mut) {
        if item.get("type").and_then(Value::as_str) != Some("Container") {
            continue;
        }
        let list = |item: &Map<String, Value>, key: &str| -> Map<String, Value> {
            item.get(key)
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default()
        };
        let mut default = list(item, "default");
        let mut default_request = list(item, "defaultRequest");
        for (k, v) in list(item, "max") {
            default.entry(k).or_insert(v);
        }
        for (k, v) in &default {
            default_request
                .entry(k.clone())
                .or_insert_with(|| v.clone());
        }
        for (k, v) in list(item, "min") {
            default_request.entry(k).or_insert(v);
        }
        // Empty lists are left out, as Go's `omitempty` leaves them.
        for (key, value) in [("default", default), ("defaultRequest", default_request)] {
            if !value.is_empty() {
                item.insert(key.into(), Value::Object(value));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn container_items_default_from_max_default_and_min() {
        let mut lr = json!({"spec": {"limits": [
            {"type": "Container", "max": {"cpu": "2"}, "min": {"memory": "64Mi"},
             "default": {"memory": "256Mi"}},
            {"type": "Pod", "max": {"cpu": "4"}}
        ]}});
        default_items(&mut lr);
        assert_eq!(
            lr["spec"]["limits"][0]["default"],
            json!({"memory": "256Mi", "cpu": "2"})
        );
        assert_eq!(
            lr["spec"]["limits"][0]["defaultRequest"],
            json!({"memory": "256Mi", "cpu": "2"})
        );
        assert!(lr["spec"]["limits"][1].get("default").is_none());
    }
}
