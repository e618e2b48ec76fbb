//! PersistentVolumes (core/v1, `pv`): cluster-scoped storage, phase `Pending` until bound.

use crate::registry::entry::entry;
use crate::resource::ResourceType;
use crate::table::printer::{Printer, access_modes, col, none_if_empty, s};
use crate::table::{age, age_column, name_column, name_of};
use k8s_openapi::api::core::v1::PersistentVolume;
use serde_json::json;

/// `persistentvolumes` (core/v1, `pv`).
pub(crate) fn resource() -> ResourceType {
    entry("persistentvolumes", "persistentvolume", false)
        .short(&["pv"])
        .status()
        .build::<PersistentVolume>(
            crate::strategy::Typed::<PersistentVolume>::new().printer(&PERSISTENT_VOLUME),
        )
}

/// PersistentVolume: NAME CAPACITY ACCESS MODES RECLAIM POLICY STATUS CLAIM STORAGECLASS
/// VOLUMEATTRIBUTESCLASS REASON AGE (VOLUMEMODE wide).
pub(crate) const PERSISTENT_VOLUME: Printer = Printer {
    columns: || {
        vec![
            name_column(),
            col("Capacity", "string", 0),
            col("Access Modes", "string", 0),
            col("Reclaim Policy", "string", 0),
            col("Status", "string", 0),
            col("Claim", "string", 0),
            col("StorageClass", "string", 0),
            col("VolumeAttributesClass", "string", 0),
            col("Reason", "string", 0),
            age_column(),
            col("VolumeMode", "string", 1),
        ]
    },
    cells: |o, now| {
        let claim = match (
            s(o, "/spec/claimRef/namespace"),
            s(o, "/spec/claimRef/name"),
        ) {
            (_, "") => String::new(),
            (ns, name) => format!("{ns}/{name}"),
        };
        let mode = match s(o, "/spec/volumeMode") {
            "" => "Filesystem",
            m => m,
        };
        vec![
            json!(name_of(o)),
            json!(s(o, "/spec/capacity/storage")),
            json!(access_modes(o.pointer("/spec/accessModes"))),
            json!(s(o, "/spec/persistentVolumeReclaimPolicy")),
            json!(s(o, "/status/phase")),
            json!(claim),
            json!(s(o, "/spec/storageClassName")),
            json!(none_if_empty(
                s(o, "/spec/volumeAttributesClassName").to_string()
            )),
            json!(s(o, "/status/reason")),
            json!(age(o, now)),
            json!(mode),
        ]
    },
};
