//! PodTemplates (core/v1): stored pod templates.

use crate::registry::entry::entry;
use crate::resource::ResourceType;
use crate::table::printer::{Printer, col, containers_and_images, labels_string};
use crate::table::{name_column, name_of};
use k8s_openapi::api::core::v1::PodTemplate;
use serde_json::json;

/// `podtemplates` (core/v1).
pub(crate) fn resource() -> ResourceType {
    entry("podtemplates", "podtemplate", true)
        .build::<PodTemplate>(crate::strategy::Typed::<PodTemplate>::new().printer(&POD_TEMPLATE))
}

/// PodTemplate: NAME CONTAINERS IMAGES POD LABELS.
pub(crate) const POD_TEMPLATE: Printer = Printer {
    columns: || {
        vec![
            name_column(),
            col("Containers", "string", 0),
            col("Images", "string", 0),
            col("Pod Labels", "string", 0),
        ]
    },
    cells: |o, _| {
        let (containers, images) = containers_and_images(o, "/template/spec/containers");
        vec![
            json!(name_of(o)),
            json!(containers),
            json!(images),
            json!(labels_string(o.pointer("/template/metadata/labels"))),
        ]
    },
};
