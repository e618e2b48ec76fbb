//! StorageClasses (storage.k8s.io/v1, `sc`): provisioners and their parameters.

use crate::registry::entry::entry;
use crate::resource::ResourceType;
use crate::table::printer::{Printer, col, s};
use crate::table::{age, age_column, name_column, name_of};
use k8s_openapi::api::storage::v1::StorageClass;
use serde_json::{Value, json};

/// `storageclasses`.
pub(crate) fn resource() -> ResourceType {
    entry("storageclasses", "storageclass", false)
        .short(&["sc"])
        .build::<StorageClass>(
            crate::strategy::Typed::<StorageClass>::new().printer(&STORAGE_CLASS),
        )
}

/// The annotation that marks the default StorageClass.
pub(crate) const DEFAULT_CLASS: &str = "storageclass.kubernetes.io/is-default-class";

fn or<'a>(value: &'a str, default: &'a str) -> &'a str {
    if value.is_empty() { default } else { value }
}

/// The name, with ` (default)` for the default class.
fn name(o: &Value) -> String {
    let default = o
        .pointer("/metadata/annotations")
        .and_then(|a| a.get(DEFAULT_CLASS))
        .and_then(Value::as_str)
        == Some("true");
    if default {
        format!("{} (default)", name_of(o))
    } else {
        name_of(o).to_string()
    }
}

/// StorageClass: NAME PROVISIONER RECLAIMPOLICY VOLUMEBINDINGMODE ALLOWVOLUMEEXPANSION AGE; the default class is named `(default)`.
pub(crate) const STORAGE_CLASS: Printer = Printer {
    columns: || {
        vec![
            name_column(),
            col("Provisioner", "string", 0),
            col("ReclaimPolicy", "string", 0),
            col("VolumeBindingMode", "string", 0),
            col("AllowVolumeExpansion", "string", 0),
            age_column(),
        ]
    },
    cells: |o, now| {
        vec![
            json!(name(o)),
            json!(s(o, "/provisioner")),
            json!(or(s(o, "/reclaimPolicy"), "Delete")),
            json!(or(s(o, "/volumeBindingMode"), "Immediate")),
            json!(
                o.get("allowVolumeExpansion")
                    .and_then(Value::as_bool)
                    .unwrap_or(false)
                    .to_string()
            ),
            json!(age(o, now)),
        ]
    },
};
