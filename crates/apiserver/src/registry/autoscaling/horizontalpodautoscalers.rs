//! HorizontalPodAutoscalers (autoscaling, `hpa`): served at v2 (stored) and v1 (converted), as
//! kube-apiserver serves both from one storage version. v1's `targetCPUUtilizationPercentage`
//! is v2's CPU `Resource` metric with an `Utilization` target, and v1's
//! `currentCPUUtilizationPercentage` the current CPU metric; what v1 cannot express rides in
//! `autoscaling.alpha.kubernetes.io/*` annotations (`conversion.rs`). Both versions are
//! defaulted (`defaults.rs`) and validated (`validation.rs`) on the v2 form, as upstream does on
//! its internal form; the horizontal pod autoscaler controller (`controllers/podautoscaler.rs`)
//! keeps their status.

use super::conversion::{V1, to_v1, to_v2};
use crate::registry::entry::entry;
use crate::resource::ResourceType;
use crate::status::FieldCause;
use crate::strategy::{Strategy, Typed, typed_basics};
use crate::table::printer::{Printer, col, s};
use crate::table::{age, age_column, name_column, name_of};
use k8s_openapi::api::autoscaling::{v1, v2};
use serde_json::{Map, Value, json};

mod defaults;
mod validation;

/// `horizontalpodautoscalers` at autoscaling/v2 (the storage version, preferred).
pub(crate) fn resource() -> ResourceType {
    entry("horizontalpodautoscalers", "horizontalpodautoscaler", true)
        .short(&["hpa"])
        .all()
        .status()
        .build::<v2::HorizontalPodAutoscaler>(V2Strategy {
            typed: Typed::new()
                .with_generation()
                .printer(&HORIZONTAL_POD_AUTOSCALER),
        })
}

/// `horizontalpodautoscalers` at autoscaling/v1, stored as v2.
pub(crate) fn resource_v1() -> ResourceType {
    entry("horizontalpodautoscalers", "horizontalpodautoscaler", true)
        .short(&["hpa"])
        .all()
        .status()
        .stored_with("autoscaling", "v2", "horizontalpodautoscalers")
        .build::<v1::HorizontalPodAutoscaler>(V1Strategy {
            typed: Typed::new()
                .with_generation()
                .printer(&HORIZONTAL_POD_AUTOSCALER),
        })
}

/// The autoscaling/v2 strategy: v2's defaults, and upstream's validation.
struct V2Strategy {
    typed: Typed<v2::HorizontalPodAutoscaler>,
}

impl Strategy for V2Strategy {
    typed_basics!(typed, decode);

    fn tracks_generation(&self) -> bool {
        true
    }

    fn prepare_for_create(&self, obj: &mut Value) {
        defaults::set_defaults(obj);
    }

    fn prepare_for_update(&self, new: &mut Value, _old: &Value) {
        defaults::set_defaults(new);
    }

    fn validate(&self, obj: &Value) -> Vec<FieldCause> {
        validation::create_causes(obj)
    }

    fn validate_update(&self, new: &Value, old: &Value) -> Vec<FieldCause> {
        validation::update_causes(new, old)
    }

    fn validate_status_update(&self, new: &Value, _old: &Value) -> Vec<FieldCause> {
        validation::status_causes(new)
    }
}

/// A v1 object's v2 form, defaulted as it will be stored, for the rules that upstream applies to
/// its internal form (a v2 webhook's patch of a v1 object is defaulted at v2 upstream too).
fn as_v2(obj: &Value) -> Value {
    let mut v2 = obj.clone();
    to_v2(&mut v2);
    defaults::set_defaults(&mut v2);
    v2
}

/// The autoscaling/v1 strategy: v1 objects converted to and from the stored v2 form.
struct V1Strategy {
    typed: Typed<v1::HorizontalPodAutoscaler>,
}

impl Strategy for V1Strategy {
    typed_basics!(typed, decode);

    fn tracks_generation(&self) -> bool {
        true
    }

    fn order_stored_keys(&self, obj: &mut Value) {
        static V2_SCHEMA: std::sync::LazyLock<crate::fieldpath::Schema> = std::sync::LazyLock::new(
            crate::fieldpath::Schema::builtin::<v2::HorizontalPodAutoscaler>,
        );
        crate::keyorder::builtin(obj, &V2_SCHEMA);
    }

    fn prepare_for_create(&self, obj: &mut Value) {
        default_min_replicas(obj);
    }

    fn prepare_for_update(&self, new: &mut Value, _old: &Value) {
        default_min_replicas(new);
    }

    fn validate(&self, obj: &Value) -> Vec<FieldCause> {
        validation::create_causes(&as_v2(obj))
    }

    fn validate_update(&self, new: &Value, old: &Value) -> Vec<FieldCause> {
        validation::update_causes(&as_v2(new), &as_v2(old))
    }

    fn validate_status_update(&self, new: &Value, _old: &Value) -> Vec<FieldCause> {
        validation::status_causes(new)
    }

    fn converts_for_storage(&self) -> bool {
        true
    }

    fn convert_to_storage(&self, obj: &mut Value) {
        if obj.get("apiVersion").and_then(Value::as_str) == Some(V1) {
            to_v2(obj);
            // A v1 write is stored as v2, and the v2 form is what is defaulted.
            defaults::set_defaults(obj);
        }
    }

    fn convert_from_storage(&self, obj: &mut Value) {
        if obj.get("apiVersion").and_then(Value::as_str) != Some(V1) {
            to_v1(obj);
        }
    }
}

/// autoscaling/v1's one default: one minimum replica.
fn default_min_replicas(obj: &mut Value) {
    if let Some(spec) = obj.get_mut("spec").and_then(Value::as_object_mut)
        && spec.get("minReplicas").is_none_or(Value::is_null)
    {
        spec.insert("minReplicas".into(), json!(1));
    }
}

/// The TARGETS cell: each metric as `current/target` (`cpu: <unknown>/80%`), from the v2
/// `metrics` or v1's CPU target.
fn targets(o: &Value) -> String {
    if let Some(cpu) = o
        .pointer("/spec/targetCPUUtilizationPercentage")
        .and_then(Value::as_i64)
    {
        let current = o
            .pointer("/status/currentCPUUtilizationPercentage")
            .and_then(Value::as_i64)
            .map_or("<unknown>".to_string(), |c| format!("{c}%"));
        return format!("cpu: {current}/{cpu}%");
    }
    let metrics = o.pointer("/spec/metrics").and_then(Value::as_array);
    let Some(metrics) = metrics.filter(|m| !m.is_empty()) else {
        return "<none>".into();
    };
    let current: Map<String, Value> = o
        .pointer("/status/currentMetrics")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|m| s(m, "/type") == "Resource")
        .map(|m| {
            (
                s(m, "/resource/name").to_string(),
                m["resource"]["current"].clone(),
            )
        })
        .collect();
    let cells: Vec<String> = metrics
        .iter()
        .map(|m| match s(m, "/type") {
            "Resource" => {
                let name = s(m, "/resource/name");
                let now = current.get(name);
                match s(m, "/resource/target/type") {
                    "Utilization" => format!(
                        "{name}: {}/{}%",
                        now.and_then(|c| c.get("averageUtilization"))
                            .and_then(Value::as_i64)
                            .map_or("<unknown>".to_string(), |c| format!("{c}%")),
                        m.pointer("/resource/target/averageUtilization")
                            .and_then(Value::as_i64)
                            .unwrap_or(0)
                    ),
                    _ => format!(
                        "{name}: {}/{}",
                        now.and_then(|c| c.get("averageValue"))
                            .and_then(Value::as_str)
                            .unwrap_or("<unknown>"),
                        s(m, "/resource/target/averageValue")
                    ),
                }
            }
            other => format!("<{}>", other.to_lowercase()),
        })
        .collect();
    cells.join(", ")
}

/// HorizontalPodAutoscaler: NAME REFERENCE TARGETS MINPODS MAXPODS REPLICAS AGE.
pub(crate) const HORIZONTAL_POD_AUTOSCALER: Printer = Printer {
    columns: || {
        vec![
            name_column(),
            col("Reference", "string", 0),
            col("Targets", "string", 0),
            col("MinPods", "string", 0),
            col("MaxPods", "string", 0),
            col("Replicas", "string", 0),
            age_column(),
        ]
    },
    cells: |o, now| {
        vec![
            json!(name_of(o)),
            json!(format!(
                "{}/{}",
                s(o, "/spec/scaleTargetRef/kind"),
                s(o, "/spec/scaleTargetRef/name")
            )),
            json!(targets(o)),
            json!(
                o.pointer("/spec/minReplicas")
                    .and_then(Value::as_i64)
                    .unwrap_or(1)
                    .to_string()
            ),
            json!(
                o.pointer("/spec/maxReplicas")
                    .and_then(Value::as_i64)
                    .unwrap_or(0)
                    .to_string()
            ),
            json!(
                o.pointer("/status/currentReplicas")
                    .and_then(Value::as_i64)
                    .unwrap_or(0)
                    .to_string()
            ),
            json!(age(o, now)),
        ]
    },
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v1_and_v2_convert_both_ways() {
        let mut obj = json!({"apiVersion": V1, "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": "web"},
            "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "web", "apiVersion": "apps/v1"},
                "minReplicas": 1, "maxReplicas": 5, "targetCPUUtilizationPercentage": 80},
            "status": {"currentReplicas": 2, "desiredReplicas": 2, "currentCPUUtilizationPercentage": 40}});
        let mut served = obj.clone();
        to_v2(&mut obj);
        assert_eq!(obj["apiVersion"], "autoscaling/v2");
        assert_eq!(
            obj["spec"]["metrics"][0]["resource"]["target"],
            json!({"type": "Utilization", "averageUtilization": 80})
        );
        assert_eq!(
            obj["status"]["currentMetrics"][0]["resource"]["current"]["averageUtilization"],
            40
        );
        assert_eq!(targets(&obj), "cpu: 40%/80%");
        to_v1(&mut obj);
        // The current metrics are kept whole, as upstream keeps them, beside the CPU figure.
        served["metadata"]["annotations"] = json!({
            "autoscaling.alpha.kubernetes.io/current-metrics":
                r#"[{"type":"Resource","resource":{"name":"cpu","currentAverageUtilization":40,"currentAverageValue":"0"}}]"#,
        });
        assert_eq!(obj, served);
        assert_eq!(targets(&obj), "cpu: 40%/80%");
    }
}
