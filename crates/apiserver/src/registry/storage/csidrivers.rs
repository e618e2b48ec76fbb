//! CSIDrivers (storage.k8s.io/v1): what a CSI driver needs from the cluster.

use crate::registry::entry::entry;
use crate::resource::ResourceType;
use crate::table::printer::{Printer, col};
use crate::table::{age, age_column, name_column, name_of};
use k8s_openapi::api::storage::v1::CSIDriver;
use serde_json::{Value, json};

/// `csidrivers`.
pub(crate) fn resource() -> ResourceType {
    entry("csidrivers", "csidriver", false)
        .build::<CSIDriver>(crate::strategy::Typed::<CSIDriver>::new().printer(&CSI_DRIVER))
}

/// The boolean at `pointer` as kubectl prints it (`false` when unset).
fn flag(o: &Value, pointer: &str) -> bool {
    o.pointer(pointer).and_then(Value::as_bool).unwrap_or(false)
}

/// The token audiences, `<unset>` without any.
fn token_requests(o: &Value) -> String {
    let audiences: Vec<&str> = o
        .pointer("/spec/tokenRequests")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|t| t.get("audience").and_then(Value::as_str).unwrap_or(""))
        .collect();
    if audiences.is_empty() {
        "<unset>".into()
    } else {
        audiences.join(",")
    }
}

/// The volume lifecycle modes (`Persistent` by default).
fn modes(o: &Value) -> String {
    let modes: Vec<&str> = o
        .pointer("/spec/volumeLifecycleModes")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if modes.is_empty() {
        "Persistent".into()
    } else {
        modes.join(",")
    }
}

/// CSIDriver: NAME ATTACHREQUIRED PODINFOONMOUNT STORAGECAPACITY TOKENREQUESTS REQUIRESREPUBLISH MODES AGE.
pub(crate) const CSI_DRIVER: Printer = Printer {
    columns: || {
        vec![
            name_column(),
            col("AttachRequired", "boolean", 0),
            col("PodInfoOnMount", "boolean", 0),
            col("StorageCapacity", "boolean", 0),
            col("TokenRequests", "string", 0),
            col("RequiresRepublish", "boolean", 0),
            col("Modes", "string", 0),
            age_column(),
        ]
    },
    cells: |o, now| {
        vec![
            json!(name_of(o)),
            json!(
                o.pointer("/spec/attachRequired")
                    .and_then(Value::as_bool)
                    .unwrap_or(true)
            ),
            json!(flag(o, "/spec/podInfoOnMount")),
            json!(flag(o, "/spec/storageCapacity")),
            json!(token_requests(o)),
            json!(flag(o, "/spec/requiresRepublish")),
            json!(modes(o)),
            json!(age(o, now)),
        ]
    },
};
