//! CSIStorageCapacities (storage.k8s.io/v1): capacity a CSI driver reports per topology.

use crate::registry::entry::entry;
use crate::resource::ResourceType;
use crate::table::printer::{Printer, col, s};
use crate::table::{name_column, name_of};
use k8s_openapi::api::storage::v1::CSIStorageCapacity;
use serde_json::json;

/// `csistoragecapacities`.
pub(crate) fn resource() -> ResourceType {
    entry("csistoragecapacities", "csistoragecapacity", true).build::<CSIStorageCapacity>(
        crate::strategy::Typed::<CSIStorageCapacity>::new().printer(&CSI_STORAGE_CAPACITY),
    )
}

/// CSIStorageCapacity: NAME STORAGECLASSNAME CAPACITY.
pub(crate) const CSI_STORAGE_CAPACITY: Printer = Printer {
    columns: || {
        vec![
            name_column(),
            col("StorageClassName", "string", 0),
            col("Capacity", "string", 0),
        ]
    },
    cells: |o, _| {
        vec![
            json!(name_of(o)),
            json!(s(o, "/storageClassName")),
            json!(s(o, "/capacity")),
        ]
    },
};
