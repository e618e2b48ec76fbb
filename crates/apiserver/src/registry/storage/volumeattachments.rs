//! VolumeAttachments (storage.k8s.io/v1): a volume attached to a node.

use crate::registry::entry::entry;
use crate::resource::ResourceType;
use crate::table::printer::{Printer, col, s};
use crate::table::{age, age_column, name_column, name_of};
use k8s_openapi::api::storage::v1::VolumeAttachment;
use serde_json::{Value, json};

/// `volumeattachments`.
pub(crate) fn resource() -> ResourceType {
    entry("volumeattachments", "volumeattachment", false)
        .status()
        .build::<VolumeAttachment>(
            crate::strategy::Typed::<VolumeAttachment>::new().printer(&VOLUME_ATTACHMENT),
        )
}

/// VolumeAttachment: NAME ATTACHER PV NODE ATTACHED AGE.
pub(crate) const VOLUME_ATTACHMENT: Printer = Printer {
    columns: || {
        vec![
            name_column(),
            col("Attacher", "string", 0),
            col("PV", "string", 0),
            col("Node", "string", 0),
            col("Attached", "boolean", 0),
            age_column(),
        ]
    },
    cells: |o, now| {
        vec![
            json!(name_of(o)),
            json!(s(o, "/spec/attacher")),
            json!(s(o, "/spec/source/persistentVolumeName")),
            json!(s(o, "/spec/nodeName")),
            json!(
                o.pointer("/status/attached")
                    .and_then(Value::as_bool)
                    .unwrap_or(false)
            ),
            json!(age(o, now)),
        ]
    },
};
