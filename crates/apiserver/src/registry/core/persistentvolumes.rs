//! PersistentVolumes (core/v1, `pv`): cluster-scoped storage, phase `Pending` until bound.
//!
//! Upstream's strategy: `persistentVolumeReclaimPolicy` defaults to `Retain` and `volumeMode` to
//! `Filesystem`, a new volume's status is `{phase: Pending}`, the spec names exactly one volume
//! source, its access modes and a storage capacity, and the source never changes.

use super::persistentvolumeclaims::ACCESS_MODES;
use crate::registry::entry::entry;
use crate::resource::ResourceType;
use crate::status::{ApiError, FieldCause};
use crate::strategy::{Decoded, Strategy, Typed, typed_basics};
use crate::table::printer::{Printer, access_modes, col, none_if_empty, s};
use crate::table::{age, age_column, name_column, name_of};
use k8s_openapi::api::core::v1::PersistentVolume;
use serde_json::{Value, json};

/// `persistentvolumes` (core/v1, `pv`).
pub(crate) fn resource() -> ResourceType {
    entry("persistentvolumes", "persistentvolume", false)
        .short(&["pv"])
        .status()
        .build::<PersistentVolume>(VolumeStrategy {
            typed: Typed::new().printer(&PERSISTENT_VOLUME),
        })
}

/// The volume sources a PersistentVolume may name (one of them).
const SOURCES: [&str; 22] = [
    "awsElasticBlockStore",
    "azureDisk",
    "azureFile",
    "cephfs",
    "cinder",
    "csi",
    "fc",
    "flexVolume",
    "flocker",
    "gcePersistentDisk",
    "glusterfs",
    "hostPath",
    "iscsi",
    "local",
    "nfs",
    "photonPersistentDisk",
    "portworxVolume",
    "quobyte",
    "rbd",
    "scaleIO",
    "storageos",
    "vsphereVolume",
];

/// The PersistentVolume strategy.
struct VolumeStrategy {
    typed: Typed<PersistentVolume>,
}

impl Strategy for VolumeStrategy {
    typed_basics!(typed);

    fn decode(&self, value: Value) -> Result<Decoded, ApiError> {
        self.typed.decode(value)
    }

    fn prepare_for_create(&self, obj: &mut Value) {
        default_spec(obj);
        if let Some(m) = obj.as_object_mut() {
            m.insert("status".into(), json!({"phase": "Pending"}));
        }
    }

    fn prepare_for_update(&self, new: &mut Value, _old: &Value) {
        default_spec(new);
    }

    fn validate(&self, obj: &Value) -> Vec<FieldCause> {
        spec_causes(obj.get("spec").unwrap_or(&Value::Null))
    }

    fn validate_update(&self, new: &Value, old: &Value) -> Vec<FieldCause> {
        let mut causes = self.validate(new);
        let source = |v: &Value| -> Vec<(String, Value)> {
            SOURCES
                .iter()
                .filter_map(|k| {
                    v.pointer(&format!("/spec/{k}"))
                        .map(|s| (k.to_string(), s.clone()))
                })
                .collect()
        };
        if source(new) != source(old) {
            causes.push(FieldCause::forbidden(
                "spec.persistentvolumesource",
                "spec.persistentvolumesource is immutable after creation",
            ));
        }
        causes
    }
}

/// Upstream's `SetDefaults_PersistentVolume`: reclaim policy `Retain`, volume mode `Filesystem`.
fn default_spec(obj: &mut Value) {
    if let Some(spec) = obj.get_mut("spec").and_then(Value::as_object_mut) {
        for (field, default) in [
            ("persistentVolumeReclaimPolicy", "Retain"),
            ("volumeMode", "Filesystem"),
        ] {
            if spec.get(field).is_none_or(Value::is_null) {
                spec.insert(field.into(), json!(default));
            }
        }
    }
}

/// Upstream's `ValidatePersistentVolumeSpec`, for what clients commonly write.
fn spec_causes(spec: &Value) -> Vec<FieldCause> {
    let mut causes = Vec::new();
    let modes = spec
        .get("accessModes")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if modes.is_empty() {
        causes.push(FieldCause::required("spec.accessModes", ""));
    }
    let supported: Vec<String> = ACCESS_MODES.iter().map(|m| m.to_string()).collect();
    for mode in &modes {
        if !mode.as_str().is_some_and(|m| ACCESS_MODES.contains(&m)) {
            causes.push(FieldCause::not_supported(
                "spec.accessModes",
                mode,
                &supported,
            ));
        }
    }
    match spec.get("capacity").and_then(Value::as_object) {
        None => causes.push(FieldCause::required("spec.capacity", "")),
        Some(c) if c.is_empty() => causes.push(FieldCause::required("spec.capacity", "")),
        Some(c) if c.len() > 1 || !c.contains_key("storage") => causes.push(
            FieldCause::not_supported("spec.capacity", &json!(c), &["storage".to_string()]),
        ),
        Some(_) => {}
    }
    if let Some(policy) = spec
        .get("persistentVolumeReclaimPolicy")
        .filter(|p| !p.is_null())
        && !matches!(policy.as_str(), Some("Delete" | "Recycle" | "Retain"))
    {
        causes.push(FieldCause::not_supported(
            "spec.persistentVolumeReclaimPolicy",
            policy,
            &[
                "Delete".to_string(),
                "Recycle".to_string(),
                "Retain".to_string(),
            ],
        ));
    }
    let sources = SOURCES
        .iter()
        .filter(|k| spec.get(**k).is_some_and(|v| !v.is_null()))
        .count();
    if sources == 0 {
        causes.push(FieldCause::required("spec", "must specify a volume type"));
    } else if sources > 1 {
        causes.push(FieldCause::forbidden(
            "spec",
            "may not specify more than 1 volume type",
        ));
    }
    causes
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
