//! PersistentVolumeClaims (core/v1, `pvc`): a request for storage, `Pending` until bound.
//!
//! Upstream's strategy: `volumeMode` defaults to `Filesystem`, a new claim's status is
//! `{phase: Pending}`, the spec is validated (access modes, a storage request, volume mode,
//! class name) and immutable once created except `resources.requests` of a bound claim (which may
//! not drop to or below the bound capacity), binding (`volumeName` set once) and a class given to
//! a claim that had none (retroactive default class).

use crate::quantity::parse_quantity;
use crate::registry::core::pods::semantic_diff;
use crate::registry::entry::entry;
use crate::resource::ResourceType;
use crate::status::{ApiError, FieldCause};
use crate::strategy::{Decoded, Strategy, Typed, typed_basics};
use crate::table::printer::{Printer, access_modes, col, none_if_empty, s};
use crate::table::{age, age_column, name_column, name_of};
use k8s_openapi::api::core::v1::PersistentVolumeClaim;
use serde_json::{Value, json};

/// `persistentvolumeclaims` (core/v1, `pvc`).
pub(crate) fn resource() -> ResourceType {
    entry("persistentvolumeclaims", "persistentvolumeclaim", true)
        .short(&["pvc"])
        .status()
        .build::<PersistentVolumeClaim>(ClaimStrategy {
            typed: Typed::new().printer(&PERSISTENT_VOLUME_CLAIM),
        })
}

/// The access modes a claim or volume may ask for.
pub(crate) const ACCESS_MODES: [&str; 4] = [
    "ReadOnlyMany",
    "ReadWriteMany",
    "ReadWriteOnce",
    "ReadWriteOncePod",
];

/// The PersistentVolumeClaim strategy.
struct ClaimStrategy {
    typed: Typed<PersistentVolumeClaim>,
}

impl Strategy for ClaimStrategy {
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
        claim_spec_causes(obj.get("spec").unwrap_or(&Value::Null), "spec")
    }

    fn validate_update(&self, new: &Value, old: &Value) -> Vec<FieldCause> {
        let mut causes = self.validate(new);
        causes.extend(update_causes(new, old));
        causes
    }
}

/// `volumeMode: Filesystem` when unset (upstream's `SetDefaults_PersistentVolumeClaimSpec`).
fn default_spec(obj: &mut Value) {
    if let Some(spec) = obj.get_mut("spec").and_then(Value::as_object_mut)
        && spec.get("volumeMode").is_none_or(Value::is_null)
    {
        spec.insert("volumeMode".into(), json!("Filesystem"));
    }
}

/// Upstream's `ValidatePersistentVolumeClaimSpec` for what clients commonly write (shared with
/// StatefulSets' `volumeClaimTemplates`).
pub(crate) fn claim_spec_causes(spec: &Value, path: &str) -> Vec<FieldCause> {
    let mut causes = Vec::new();
    let modes: Vec<&Value> = spec
        .get("accessModes")
        .and_then(Value::as_array)
        .map(|a| a.iter().collect())
        .unwrap_or_default();
    if modes.is_empty() {
        causes.push(FieldCause::required(
            format!("{path}.accessModes"),
            "at least 1 access mode is required",
        ));
    }
    let supported: Vec<String> = ACCESS_MODES.iter().map(|m| m.to_string()).collect();
    for mode in &modes {
        if !mode.as_str().is_some_and(|m| ACCESS_MODES.contains(&m)) {
            causes.push(FieldCause::not_supported(
                format!("{path}.accessModes"),
                mode,
                &supported,
            ));
        }
    }
    if modes.len() > 1 && modes.iter().any(|m| m.as_str() == Some("ReadWriteOncePod")) {
        causes.push(FieldCause::forbidden(
            format!("{path}.accessModes"),
            "may not use ReadWriteOncePod with other access modes",
        ));
    }
    let storage_path = format!("{path}.resources[storage]");
    match spec.pointer("/resources/requests/storage") {
        None | Some(Value::Null) => causes.push(FieldCause::required(storage_path, "")),
        Some(q) => {
            let amount = q.as_str().and_then(parse_quantity);
            if amount.is_some_and(|n| n <= 0) {
                causes.push(FieldCause::invalid(
                    storage_path,
                    q,
                    "must be greater than zero",
                ));
            }
        }
    }
    if let Some(mode) = spec.get("volumeMode").filter(|m| !m.is_null())
        && !matches!(mode.as_str(), Some("Block" | "Filesystem"))
    {
        causes.push(FieldCause::not_supported(
            format!("{path}.volumeMode"),
            mode,
            &["Block".to_string(), "Filesystem".to_string()],
        ));
    }
    if let Some(class) = spec.get("storageClassName").and_then(Value::as_str)
        && !class.is_empty()
    {
        for problem in crate::validation::dns1123_subdomain_problems(class) {
            causes.push(FieldCause::invalid(
                format!("{path}.storageClassName"),
                &json!(class),
                problem,
            ));
        }
    }
    causes
}

/// Upstream's `ValidatePersistentVolumeClaimUpdate`.
fn update_causes(new: &Value, old: &Value) -> Vec<FieldCause> {
    let empty = json!({});
    let new_spec = new.get("spec").unwrap_or(&empty);
    let old_spec = old.get("spec").unwrap_or(&empty);
    let bound = s(new, "/status/phase") == "Bound";
    // What may change is copied from the new spec onto the old before comparing.
    let mut allowed = old_spec.clone();
    if let Some(m) = allowed.as_object_mut() {
        if s(old, "/spec/volumeName").is_empty() {
            copy(m, new_spec, "volumeName");
        }
        if old_spec.get("storageClassName").is_none_or(Value::is_null) {
            copy(m, new_spec, "storageClassName");
        }
        if bound {
            let mut resources = m.get("resources").cloned().unwrap_or(json!({}));
            if let Some(r) = resources.as_object_mut() {
                copy(r, new_spec.get("resources").unwrap_or(&empty), "requests");
            }
            m.insert("resources".into(), resources);
        }
    }
    let mut causes = Vec::new();
    let diff = semantic_diff(&allowed, new_spec, "spec");
    if !diff.is_empty() {
        causes.push(FieldCause::forbidden(
            "spec",
            format!(
                "spec is immutable after creation except resources.requests for bound claims\n{}",
                diff.join("\n")
            ),
        ));
    }
    let size = |v: &Value, p: &str| {
        v.pointer(p)
            .and_then(Value::as_str)
            .and_then(parse_quantity)
    };
    let (new_size, old_size) = (
        size(new, "/spec/resources/requests/storage"),
        size(old, "/spec/resources/requests/storage"),
    );
    if let (Some(n), Some(o)) = (new_size, old_size)
        && n < o
        && size(old, "/status/capacity/storage").is_some_and(|c| n <= c)
    {
        causes.push(FieldCause::forbidden(
            "spec.resources.requests.storage",
            "field can not be less than status.capacity",
        ));
    }
    causes
}

/// Sets `field` of `to` as `from` has it (absent when `from` lacks it).
fn copy(to: &mut serde_json::Map<String, Value>, from: &Value, field: &str) {
    match from.get(field) {
        Some(v) => to.insert(field.into(), v.clone()),
        None => to.remove(field),
    };
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
