//! PersistentVolumeClaims (core/v1, `pvc`): a request for storage, `Pending` until bound.

use crate::registry::entry::entry;
use crate::resource::ResourceType;
use crate::table::printer::{Printer, access_modes, col, none_if_empty, s};
use crate::table::{age, age_column, name_column, name_of};
use k8s_openapi::api::core::v1::PersistentVolumeClaim;
use serde_json::json;

/// `persistentvolumeclaims` (core/v1, `pvc`).
pub(crate) fn resource() -> ResourceType {
    entry("persistentvolumeclaims", "persistentvolumeclaim", true)
        .short(&["pvc"])
        .status()
        .build::<PersistentVolumeClaim>(
            crate::strategy::Typed::<PersistentVolumeClaim>::new()
                .printer(&PERSISTENT_VOLUME_CLAIM),
        )
}

/// PersistentVolumeClaim: NAME STATUS VOLUME CAPACITY ACCESS MODES STORAGECLASS
/// VOLUMEATTRIBUTESCLASS AGE (VOLUMEMODE wide). Capacity and access modes are the bound
/// volume's (status), empty while pending.
pub(crate) const PERSISTENT_VOLUME_CLAIM: Printer = Printer {
    columns: || {
        vec![
            name_column(),
            col("Status", "string", 0),
            col("Volume", "string", 0),
            col("Capacity", "string", 0),
            col("Access Modes", "string", 0),
            col("StorageClass", "string", 0),
            col("VolumeAttributesClass", "string", 0),
            age_column(),
            col("VolumeMode", "string", 1),
        ]
    },
    cells: |o, now| {
        let phase = if o
            .pointer("/metadata/deletionTimestamp")
            .is_some_and(|t| !t.is_null())
        {
            "Terminating"
        } else {
            s(o, "/status/phase")
        };
        let mode = match s(o, "/spec/volumeMode") {
            "" => "Filesystem",
            m => m,
        };
        vec![
            json!(name_of(o)),
            json!(phase),
            json!(s(o, "/spec/volumeName")),
            json!(s(o, "/status/capacity/storage")),
            json!(access_modes(o.pointer("/status/accessModes"))),
            json!(s(o, "/spec/storageClassName")),
            json!(none_if_empty(
                s(o, "/spec/volumeAttributesClassName").to_string()
            )),
            json!(age(o, now)),
            json!(mode),
        ]
    },
};
