//! PriorityClasses (scheduling.k8s.io/v1, `pc`): pod priorities by name, as upstream keeps
//! them: `preemptionPolicy` defaulted to `PreemptLowerPriority`; names with the `system-` prefix
//! reserved for the two system classes (which the server creates at start, as kube-apiserver's
//! `scheduling/bootstrap-system-priority-classes` hook does); user values at most 1,000,000,000;
//! value and policy immutable. Pods get their priority from these in admission
//! (`admission/priority.rs`).

use crate::registry::entry::entry;
use crate::resource::ResourceType;
use crate::status::FieldCause;
use crate::strategy::{Strategy, Typed, typed_basics};
use crate::table::printer::{Printer, col, n, s};
use crate::table::{age, age_column, name_column, name_of};
use k8s_openapi::api::scheduling::v1::PriorityClass;
use serde_json::{Value, json};

/// `priorityclasses`.
pub(crate) fn resource() -> ResourceType {
    entry("priorityclasses", "priorityclass", false)
        .short(&["pc"])
        .build::<PriorityClass>(PriorityClassStrategy {
            typed: Typed::new().printer(&PRIORITY_CLASS),
        })
}

/// The highest priority a user-defined class may have (upstream's
/// `HighestUserDefinablePriority`).
const HIGHEST_USER_DEFINABLE_PRIORITY: i64 = 1_000_000_000;

/// The classes kube-apiserver creates at start: name, value, description.
pub(crate) const SYSTEM_PRIORITY_CLASSES: [(&str, i64, &str); 2] = [
    (
        "system-node-critical",
        2_000_001_000,
        "Used for system critical pods that must not be moved from their current node.",
    ),
    (
        "system-cluster-critical",
        2_000_000_000,
        "Used for system critical pods that must run in the cluster, but can be moved to another node if necessary.",
    ),
];

/// A system class as the server creates it.
pub(crate) fn system_class(name: &str, value: i64, description: &str) -> Value {
    json!({"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass",
        "metadata": {"name": name}, "value": value, "description": description})
}

struct PriorityClassStrategy {
    typed: Typed<PriorityClass>,
}

impl Strategy for PriorityClassStrategy {
    typed_basics!(typed, decode);

    fn prepare_for_create(&self, obj: &mut Value) {
        default_policy(obj);
    }

    fn prepare_for_update(&self, new: &mut Value, _old: &Value) {
        default_policy(new);
    }

    fn validate(&self, obj: &Value) -> Vec<FieldCause> {
        causes(obj)
    }

    fn validate_update(&self, new: &Value, old: &Value) -> Vec<FieldCause> {
        let mut causes = causes(new);
        if new.get("value") != old.get("value") {
            causes.push(FieldCause::forbidden(
                "value",
                "may not be changed in an update.",
            ));
        }
        if new.get("preemptionPolicy") != old.get("preemptionPolicy") {
            let shown = new.get("preemptionPolicy").unwrap_or(&Value::Null);
            causes.push(FieldCause::invalid(
                "preemptionPolicy",
                shown,
                "field is immutable",
            ));
        }
        causes
    }
}

/// Upstream's `SetDefaults_PriorityClass`.
fn default_policy(obj: &mut Value) {
    if let Some(map) = obj.as_object_mut()
        && map.get("preemptionPolicy").is_none_or(Value::is_null)
    {
        map.insert("preemptionPolicy".into(), json!("PreemptLowerPriority"));
    }
}

/// Upstream's `ValidatePriorityClass`.
fn causes(obj: &Value) -> Vec<FieldCause> {
    let mut causes = Vec::new();
    let name = s(obj, "/metadata/name");
    let value = obj.get("value").and_then(Value::as_i64).unwrap_or(0);
    let global = obj
        .get("globalDefault")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    if name.starts_with("system-") {
        let known = SYSTEM_PRIORITY_CLASSES.iter().find(|(n, _, _)| *n == name);
        let problem = match known {
            None => Some(format!("{name} is not a known system priority class")),
            Some((n, v, _)) if *v != value => {
                Some(format!("value of {n} PriorityClass must be {v}"))
            }
            Some((n, _, _)) if global => {
                Some(format!("globalDefault of {n} PriorityClass must be false"))
            }
            Some(_) => None,
        };
        if let Some(problem) = problem {
            causes.push(FieldCause::forbidden(
                "metadata.name",
                format!(
                    "priority class names with 'system-' prefix are reserved for system use only. error: {problem}"
                ),
            ));
        }
    } else if value > HIGHEST_USER_DEFINABLE_PRIORITY {
        causes.push(FieldCause::forbidden(
            "value",
            format!(
                "maximum allowed value of a user defined priority is {HIGHEST_USER_DEFINABLE_PRIORITY}"
            ),
        ));
    }
    if let Some(policy) = obj.get("preemptionPolicy").filter(|p| !p.is_null())
        && !matches!(policy.as_str(), Some("Never" | "PreemptLowerPriority"))
    {
        causes.push(FieldCause::not_supported(
            "preemptionPolicy",
            policy,
            &["Never".to_string(), "PreemptLowerPriority".to_string()],
        ));
    }
    causes
}

/// PriorityClass: NAME VALUE GLOBAL-DEFAULT AGE PREEMPTIONPOLICY.
pub(crate) const PRIORITY_CLASS: Printer = Printer {
    columns: || {
        vec![
            name_column(),
            col("Value", "integer", 0),
            col("Global-Default", "boolean", 0),
            age_column(),
            col("PreemptionPolicy", "string", 0),
        ]
    },
    cells: |o, now| {
        vec![
            json!(name_of(o)),
            json!(n(o, "/value")),
            json!(
                o.get("globalDefault")
                    .and_then(Value::as_bool)
                    .unwrap_or(false)
            ),
            json!(age(o, now)),
            json!(match s(o, "/preemptionPolicy") {
                "" => "PreemptLowerPriority",
                p => p,
            }),
        ]
    },
};
