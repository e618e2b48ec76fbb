//! StatefulSets (apps/v1, `sts`): typed rules, generation, status and scale.

use crate::registry::entry::entry;
use crate::resource::ResourceType;
use crate::table::printer::{Printer, col, containers_and_images, n};
use crate::table::{age, age_column, name_column, name_of};
use k8s_openapi::api::apps::v1::StatefulSet;
use serde_json::{Value, json};

/// `statefulsets` (apps/v1, `sts`).
pub(crate) fn resource() -> ResourceType {
    entry("statefulsets", "statefulset", true)
        .short(&["sts"])
        .all()
        .status()
        .scale()
        .build::<StatefulSet>(
            crate::strategy::Typed::<StatefulSet>::new()
                .with_generation()
                .printer(&STATEFUL_SET),
        )
}

/// StatefulSet: NAME READY AGE (CONTAINERS IMAGES wide).
pub(crate) const STATEFUL_SET: Printer = Printer {
    columns: || {
        vec![
            name_column(),
            col("Ready", "string", 0),
            age_column(),
            col("Containers", "string", 1),
            col("Images", "string", 1),
        ]
    },
    cells: |o, now| {
        let desired = o
            .pointer("/spec/replicas")
            .and_then(Value::as_i64)
            .unwrap_or(1);
        let (containers, images) = containers_and_images(o, "/spec/template/spec/containers");
        vec![
            json!(name_of(o)),
            json!(format!("{}/{desired}", n(o, "/status/readyReplicas"))),
            json!(age(o, now)),
            json!(containers),
            json!(images),
        ]
    },
};
