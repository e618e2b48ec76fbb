//! Secrets: `stringData` is a write-only convenience merged into `data` (base64) on every write,
//! as kube-apiserver's v1 conversion does; it is never stored or returned. An empty `type` defaults
//! to `Opaque`.

use crate::registry::entry::entry;
use crate::resource::ResourceType;
use crate::status::ApiError;
use crate::strategy::typed_basics;
use crate::strategy::{Decoded, Strategy, Typed};
use crate::table::printer::{Printer, col, len, s};
use crate::table::{age, age_column, name_column, name_of};
use base64::Engine;
use k8s_openapi::api::core::v1::Secret;
use serde_json::json;
use serde_json::{Map, Value};

/// `secrets` (core/v1).
pub(crate) fn resource() -> ResourceType {
    entry("secrets", "secret", true).build::<Secret>(SecretStrategy::new())
}

/// The Secret strategy.
pub struct SecretStrategy {
    typed: Typed<Secret>,
}

impl SecretStrategy {
    /// The strategy.
    pub fn new() -> Self {
        SecretStrategy {
            typed: Typed::new().printer(&SECRET).fields(&["type"]),
        }
    }
}

impl Default for SecretStrategy {
    fn default() -> Self {
        Self::new()
    }
}

impl Strategy for SecretStrategy {
    typed_basics!(typed);

    fn decode(&self, value: Value) -> Result<Decoded, ApiError> {
        let mut decoded = self.typed.decode(value)?;
        if let Some(obj) = decoded.value.as_object_mut()
            && let Some(Value::Object(string_data)) = obj.remove("stringData")
        {
            let data = obj
                .entry("data")
                .or_insert_with(|| Value::Object(Map::new()));
            if !data.is_object() {
                *data = Value::Object(Map::new());
            }
            if let Some(data) = data.as_object_mut() {
                for (k, v) in string_data {
                    if let Value::String(s) = v {
                        let encoded = base64::engine::general_purpose::STANDARD.encode(s);
                        data.insert(k, Value::String(encoded));
                    }
                }
            }
        }
        // Defaulting as kube-apiserver's SetDefaults_Secret: an empty type is Opaque.
        if let Some(obj) = decoded.value.as_object_mut()
            && obj
                .get("type")
                .and_then(Value::as_str)
                .is_none_or(str::is_empty)
        {
            obj.insert("type".into(), Value::String("Opaque".into()));
        }
        Ok(decoded)
    }
}

/// Secret: NAME TYPE DATA AGE.
pub(crate) const SECRET: Printer = Printer {
    columns: || {
        vec![
            name_column(),
            col("Type", "string", 0),
            col("Data", "integer", 0),
            age_column(),
        ]
    },
    cells: |o, now| {
        let t = match s(o, "/type") {
            "" => "Opaque",
            t => t,
        };
        vec![
            json!(name_of(o)),
            json!(t),
            json!(len(o, "/data") + len(o, "/stringData")),
            json!(age(o, now)),
        ]
    },
};

#[cfg(test)]
mod printer_tests {
    use super::*;
    use crate::table::TableConvertor;
    use serde_json::json;

    #[test]
    fn secret_type_defaults_to_opaque() {
        assert_eq!(
            SECRET.cells(
                &json!({"metadata": {"name": "x"}, "data": {"a": "", "b": ""}}),
                jiff::Timestamp::now()
            )[1..3],
            [json!("Opaque"), json!(2)]
        );
    }
}
