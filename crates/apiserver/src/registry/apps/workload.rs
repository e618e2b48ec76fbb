//! Deployments, ReplicaSets, StatefulSets and DaemonSets (apps/v1): kube-apiserver's spec
//! validation (non-negative counts, a non-empty valid selector that matches the pod template's
//! labels, the pod template itself, each workload's strategy fields) and its update rules (the
//! selector's immutability; for StatefulSets, only some spec fields may change), in its words.
//!
//! Values upstream prints with Go's `%#v` (the selector struct, the template's label map) are
//! rendered the same way, so messages compare equal. Objects are defaulted as upstream's
//! apps/v1 scheme does (the workload's own fields, then its pod template) before validation.

use crate::registry::core::pods::defaults::default_pod_spec;
use crate::registry::core::pods::pod_spec_causes;
use crate::selector::LabelSelector;
use crate::status::{ApiError, FieldCause};
use crate::strategy::typed_basics;
use crate::strategy::{Decoded, Strategy, Typed};
use crate::validation::{label_value_problems, qualified_name_problems, validate_labels};
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, ReplicaSet, StatefulSet};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

/// `ValidateNonnegativeField`'s message.
const NEGATIVE: &str = "must be greater than or equal to 0";

/// Which workload a [`WorkloadStrategy`] serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Workload {
    Deployment,
    ReplicaSet,
    StatefulSet,
    DaemonSet,
}

impl Workload {
    /// The kind as upstream names it in "empty selector is invalid for …" (ReplicaSets share
    /// the Deployment's words upstream).
    fn selector_noun(self) -> &'static str {
        match self {
            Workload::Deployment | Workload::ReplicaSet => "deployment",
            Workload::StatefulSet => "statefulset",
            Workload::DaemonSet => "daemonset",
        }
    }

    /// The kind as upstream names it in "activeDeadlineSeconds in … is not Supported".
    fn kind(self) -> &'static str {
        match self {
            Workload::Deployment | Workload::ReplicaSet => "ReplicaSet",
            Workload::StatefulSet => "StatefulSet",
            Workload::DaemonSet => "DaemonSet",
        }
    }
}

/// The strategy of an apps/v1 workload with a selector and a pod template.
pub struct WorkloadStrategy<K> {
    typed: Typed<K>,
    workload: Workload,
}

impl WorkloadStrategy<Deployment> {
    /// The Deployment strategy.
    pub fn deployment() -> Self {
        WorkloadStrategy {
            typed: Typed::new()
                .with_generation()
                .printer(&super::deployments::DEPLOYMENT),
            workload: Workload::Deployment,
        }
    }
}

impl WorkloadStrategy<ReplicaSet> {
    /// The ReplicaSet strategy.
    pub fn replica_set() -> Self {
        WorkloadStrategy {
            typed: Typed::new()
                .printer(&super::replicasets::REPLICA_SET)
                .with_generation()
                .fields(&["status.replicas"])
                .unset_values(&[("status.replicas", "0")]),
            workload: Workload::ReplicaSet,
        }
    }
}

impl WorkloadStrategy<StatefulSet> {
    /// The StatefulSet strategy.
    pub fn stateful_set() -> Self {
        WorkloadStrategy {
            typed: Typed::new()
                .with_generation()
                .printer(&super::statefulsets::STATEFUL_SET),
            workload: Workload::StatefulSet,
        }
    }
}

impl WorkloadStrategy<DaemonSet> {
    /// The DaemonSet strategy.
    pub fn daemon_set() -> Self {
        WorkloadStrategy {
            typed: Typed::new()
                .with_generation()
                .printer(&super::daemonsets::DAEMON_SET),
            workload: Workload::DaemonSet,
        }
    }
}

impl<K> WorkloadStrategy<K> {
    /// The apps/v1 defaults of the workload, then the pod spec defaults of its template
    /// (upstream defaults embedded pod templates too, without the Pod-only ones).
    fn set_defaults(&self, obj: &mut Value) {
        let Some(spec) = obj.get_mut("spec").and_then(Value::as_object_mut) else {
            return;
        };
        match self.workload {
            Workload::Deployment => super::deployments::default_spec(spec),
            Workload::ReplicaSet => super::replicasets::default_spec(spec),
            Workload::StatefulSet => super::statefulsets::default_spec(spec),
            Workload::DaemonSet => super::daemonsets::default_spec(spec),
        }
        if let Some(template) = spec.get_mut("template").and_then(Value::as_object_mut) {
            let pod_spec = template.entry("spec").or_insert_with(|| json!({}));
            if let Some(pod_spec) = pod_spec.as_object_mut() {
                default_pod_spec(pod_spec);
            }
        }
    }
}

impl<K> Strategy for WorkloadStrategy<K>
where
    K: k8s_openapi::Resource
        + serde::de::DeserializeOwned
        + serde::Serialize
        + schemars::JsonSchema
        + Send
        + Sync
        + 'static,
{
    typed_basics!(typed);

    fn decode(&self, value: Value) -> Result<Decoded, ApiError> {
        // The typed decode fills a missing selector with an empty one; upstream tells the two
        // apart (a missing selector is required, an empty one invalid), so keep it missing.
        let spec_without_selector = value
            .get("spec")
            .is_some_and(|s| s.is_object() && s.get("selector").is_none_or(Value::is_null));
        let mut decoded = self.typed.decode(value)?;
        if spec_without_selector
            && let Some(spec) = decoded.value.get_mut("spec").and_then(Value::as_object_mut)
        {
            spec.remove("selector");
        }
        Ok(decoded)
    }

    fn tracks_generation(&self) -> bool {
        self.typed.tracks_generation()
    }

    fn prepare_for_create(&self, obj: &mut Value) {
        self.set_defaults(obj);
    }

    fn prepare_for_update(&self, new: &mut Value, _old: &Value) {
        self.set_defaults(new);
    }

    fn validate(&self, obj: &Value) -> Vec<FieldCause> {
        spec_causes(obj, self.workload)
    }

    fn validate_update(&self, new: &Value, old: &Value) -> Vec<FieldCause> {
        let mut causes = spec_causes(new, self.workload);
        if self.workload == Workload::StatefulSet {
            // `ValidateStatefulSetUpdate`: the selector is one of the fields that may not change.
            causes.extend(super::statefulsets::update_causes(new, old));
            return causes;
        }
        // apps/v1 may not change the selector (`ValidateImmutableField`).
        let (new_sel, old_sel) = (selector(new), selector(old));
        if normalized(new_sel) != normalized(old_sel) {
            let shown = match new_sel {
                Some(s) => go_label_selector(s),
                None => "\"null\"".to_string(),
            };
            causes.push(FieldCause::invalid_shown(
                "spec.selector",
                &shown,
                "field is immutable",
            ));
        }
        causes
    }

    fn validate_status(&self, _obj: &Value) -> Vec<FieldCause> {
        Vec::new()
    }
}

fn selector(obj: &Value) -> Option<&Value> {
    obj.pointer("/spec/selector").filter(|s| !s.is_null())
}

/// A selector as upstream's semantic equality sees it: nil and empty lists and maps are equal.
fn normalized(selector: Option<&Value>) -> Value {
    let Some(sel) = selector else {
        return Value::Null;
    };
    let labels = sel
        .get("matchLabels")
        .and_then(Value::as_object)
        .filter(|m| !m.is_empty());
    let exprs: Vec<Value> = sel
        .get("matchExpressions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|e| {
            let values = e
                .get("values")
                .and_then(Value::as_array)
                .filter(|v| !v.is_empty());
            json!([e.get("key"), e.get("operator"), values])
        })
        .collect();
    json!({"labels": labels.map(|m| m.iter().collect::<BTreeMap<_, _>>()), "exprs": exprs})
}

/// `ValidateNonnegativeField` for an optional integer field of `spec`.
fn non_negative(spec: &Value, field: &str, causes: &mut Vec<FieldCause>) {
    if let Some(n) = spec.get(field).and_then(Value::as_i64)
        && n < 0
    {
        causes.push(FieldCause::invalid(
            format!("spec.{field}"),
            &json!(n),
            NEGATIVE,
        ));
    }
}

/// `ValidateDeploymentSpec` / `ValidateReplicaSetSpec`, in upstream's order.
fn spec_causes(obj: &Value, workload: Workload) -> Vec<FieldCause> {
    let mut causes = Vec::new();
    let empty = json!({});
    let spec = obj.get("spec").filter(|s| s.is_object()).unwrap_or(&empty);
    match workload {
        Workload::ReplicaSet => {
            non_negative(spec, "replicas", &mut causes);
            non_negative(spec, "minReadySeconds", &mut causes);
        }
        Workload::StatefulSet => {
            causes.extend(super::statefulsets::strategy_causes(spec));
            non_negative(spec, "replicas", &mut causes);
            non_negative(spec, "minReadySeconds", &mut causes);
            if let Some(start) = spec.pointer("/ordinals/start").and_then(Value::as_i64)
                && start < 0
            {
                causes.push(FieldCause::invalid(
                    "spec.ordinals.start",
                    &json!(start),
                    NEGATIVE,
                ));
            }
        }
        Workload::Deployment => non_negative(spec, "replicas", &mut causes),
        Workload::DaemonSet => {}
    }
    let sel = spec.get("selector").filter(|s| !s.is_null());
    // What the selector selects: `None` when it is missing (upstream's `labels.Nothing()`),
    // `Some(None)` when it is invalid.
    let mut parsed: Option<Option<LabelSelector>> = None;
    match sel {
        // A DaemonSet's missing selector selects nothing: only the template check reports it.
        None if workload == Workload::DaemonSet => {}
        None => causes.push(FieldCause::required("spec.selector", "")),
        Some(sel) => {
            let problems = label_selector_causes(sel, "spec.selector");
            let valid = problems.is_empty();
            causes.extend(problems);
            let count = sel
                .get("matchLabels")
                .and_then(Value::as_object)
                .map_or(0, Map::len)
                + sel
                    .get("matchExpressions")
                    .and_then(Value::as_array)
                    .map_or(0, Vec::len);
            if count == 0 {
                causes.push(FieldCause::invalid_shown(
                    "spec.selector",
                    &go_label_selector(sel),
                    format!("empty selector is invalid for {}", workload.selector_noun()),
                ));
            }
            parsed = Some(if valid {
                LabelSelector::from_object(sel)
            } else {
                None
            });
        }
    }
    match parsed {
        Some(None) => causes.push(FieldCause::invalid_shown(
            "spec.selector",
            &go_label_selector(sel.unwrap_or(&empty)),
            "invalid label selector",
        )),
        selects => {
            let template = spec
                .get("template")
                .filter(|t| t.is_object())
                .unwrap_or(&empty);
            causes.extend(template_causes(
                template,
                selects.flatten().as_ref(),
                sel,
                workload,
            ));
        }
    }
    if workload == Workload::DaemonSet {
        causes.extend(super::daemonsets::spec_causes(spec));
    }
    if workload == Workload::Deployment {
        if let Some(strategy) = spec.get("strategy")
            && strategy.get("type").and_then(Value::as_str) == Some("Recreate")
            && strategy.get("rollingUpdate").is_some_and(|r| !r.is_null())
        {
            causes.push(FieldCause::forbidden(
                "spec.strategy.rollingUpdate",
                "may not be specified when strategy `type` is 'Recreate'",
            ));
        }
        non_negative(spec, "minReadySeconds", &mut causes);
        non_negative(spec, "revisionHistoryLimit", &mut causes);
        if let Some(deadline) = spec.get("progressDeadlineSeconds").and_then(Value::as_i64) {
            non_negative(spec, "progressDeadlineSeconds", &mut causes);
            let min_ready = spec
                .get("minReadySeconds")
                .and_then(Value::as_i64)
                .unwrap_or(0);
            if deadline <= min_ready {
                causes.push(FieldCause::invalid(
                    "spec.progressDeadlineSeconds",
                    &json!(deadline),
                    "must be greater than minReadySeconds",
                ));
            }
        }
    }
    causes
}

/// `ValidatePodTemplateSpecForReplicaSet`: the labels match the selector (`selects` is `None`
/// for a missing selector, which matches nothing; an empty one matches without checking), the
/// template is a valid pod template, and pods restart `Always` without a deadline.
fn template_causes(
    template: &Value,
    selects: Option<&LabelSelector>,
    selector: Option<&Value>,
    workload: Workload,
) -> Vec<FieldCause> {
    let mut causes = Vec::new();
    let labels = template
        .pointer("/metadata/labels")
        .filter(|l| l.is_object());
    let label_map: BTreeMap<String, String> = labels
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
        .collect();
    let matches = match (selector, selects) {
        (None, _) => false,
        (Some(_), Some(s)) => s.is_empty() || s.matches(&label_map),
        (Some(_), None) => true,
    };
    if !matches {
        causes.push(FieldCause::invalid_shown(
            "spec.template.metadata.labels",
            &go_string_map(labels),
            "`selector` does not match template `labels`",
        ));
    }
    // `ValidatePodTemplateSpec` reports the labels at `template.labels` (sic).
    if let Some(labels) = labels {
        causes.extend(validate_labels(labels, "spec.template.labels"));
    }
    let empty = json!({});
    let pod_spec = template.get("spec").unwrap_or(&empty);
    causes.extend(pod_spec_causes(pod_spec, "spec.template.spec"));
    if let Some(policy) = pod_spec.get("restartPolicy").and_then(Value::as_str)
        && policy != "Always"
    {
        causes.push(FieldCause::not_supported(
            "spec.template.spec.restartPolicy",
            &json!(policy),
            &["Always".into()],
        ));
    }
    if let Some(deadline) = pod_spec
        .get("activeDeadlineSeconds")
        .filter(|v| !v.is_null())
    {
        let message = format!(
            "activeDeadlineSeconds in {} is not Supported",
            workload.kind()
        );
        // DaemonSets report it as an invalid value, the others as forbidden (upstream's words).
        causes.push(if workload == Workload::DaemonSet {
            FieldCause::invalid(
                "spec.template.spec.activeDeadlineSeconds",
                deadline,
                message,
            )
        } else {
            FieldCause::forbidden("spec.template.spec.activeDeadlineSeconds", message)
        });
    }
    causes
}

/// `ValidateNonnegativeField` for an optional integer field of `spec`, for the sibling
/// registry modules.
pub(super) fn non_negative_field(spec: &Value, field: &str, causes: &mut Vec<FieldCause>) {
    non_negative(spec, field, causes);
}

/// A value as upstream's semantic equality sees it: nulls and empty maps and lists are absent.
pub(super) fn semantic(v: &Value) -> Option<Value> {
    match v {
        Value::Null => None,
        Value::Object(m) => {
            let m: Map<String, Value> = m
                .iter()
                .filter_map(|(k, v)| semantic(v).map(|v| (k.clone(), v)))
                .collect();
            (!m.is_empty()).then_some(Value::Object(m))
        }
        Value::Array(items) => (!items.is_empty()).then(|| {
            Value::Array(
                items
                    .iter()
                    .map(|i| semantic(i).unwrap_or(Value::Null))
                    .collect(),
            )
        }),
        other => Some(other.clone()),
    }
}

/// Upstream's `ValidatePositiveIntOrPercent` and `IsNotMoreThan100Percent` for int-or-percent
/// `v` at `path` (rolling updates' `maxUnavailable`/`maxSurge`, budgets' `minAvailable`/
/// `maxUnavailable`).
pub(crate) fn positive_int_or_percent_causes(v: &Value, path: &str) -> Vec<FieldCause> {
    let mut causes = Vec::new();
    match v {
        // `[0-9]+%` first, as upstream's regex: no sign.
        Value::String(s) => match s
            .strip_suffix('%')
            .filter(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))
            .map(str::parse::<i64>)
        {
            Some(Ok(p)) => {
                if p < 0 {
                    causes.push(FieldCause::invalid(path, v, NEGATIVE));
                }
                if p > 100 {
                    causes.push(FieldCause::invalid(path, v, "must not be greater than 100%"));
                }
            }
            _ => causes.push(FieldCause::invalid(
                path,
                v,
                "a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')",
            )),
        },
        Value::Number(n) if n.as_i64().is_some_and(|n| n < 0) => {
            causes.push(FieldCause::invalid(path, v, NEGATIVE));
        }
        _ => {}
    }
    causes
}

/// `ValidateLabelSelector` (strict label values): each expression's operator and values, its
/// key, then `matchLabels`.
pub(crate) fn label_selector_causes(sel: &Value, path: &str) -> Vec<FieldCause> {
    let mut causes = Vec::new();
    let exprs = sel.get("matchExpressions").and_then(Value::as_array);
    for (i, e) in exprs.into_iter().flatten().enumerate() {
        let at = format!("{path}.matchExpressions[{i}]");
        let values: Vec<&Value> = e
            .get("values")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .collect();
        let operator = e.get("operator").and_then(Value::as_str).unwrap_or("");
        match operator {
            "In" | "NotIn" if values.is_empty() => causes.push(FieldCause::required(
                format!("{at}.values"),
                "must be specified when `operator` is 'In' or 'NotIn'",
            )),
            "Exists" | "DoesNotExist" if !values.is_empty() => causes.push(FieldCause::forbidden(
                format!("{at}.values"),
                "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
            )),
            "In" | "NotIn" | "Exists" | "DoesNotExist" => {}
            other => causes.push(FieldCause::invalid(
                format!("{at}.operator"),
                &json!(other),
                "not a valid selector operator",
            )),
        }
        let key = e.get("key").and_then(Value::as_str).unwrap_or("");
        for p in qualified_name_problems(key) {
            causes.push(FieldCause::invalid(format!("{at}.key"), &json!(key), p));
        }
        for (j, v) in values.iter().enumerate() {
            for p in label_value_problems(v.as_str().unwrap_or("")) {
                causes.push(FieldCause::invalid(format!("{at}.values[{j}]"), v, p));
            }
        }
    }
    if let Some(labels) = sel.get("matchLabels") {
        causes.extend(validate_labels(labels, &format!("{path}.matchLabels")));
    }
    causes
}

/// Go's `%#v` of a string.
fn go_quote(s: &str) -> String {
    format!("{s:?}")
}

/// Go's `%#v` of a `map[string]string` (keys sorted, as Go prints maps).
fn go_string_map(map: Option<&Value>) -> String {
    match map.and_then(Value::as_object) {
        None => "map[string]string(nil)".to_string(),
        Some(m) => {
            let sorted: BTreeMap<&String, &Value> = m.iter().collect();
            let entries: Vec<String> = sorted
                .into_iter()
                .map(|(k, v)| format!("{}:{}", go_quote(k), go_quote(v.as_str().unwrap_or(""))))
                .collect();
            format!("map[string]string{{{}}}", entries.join(", "))
        }
    }
}

/// Go's `%#v` of a `[]string`.
fn go_string_slice(values: Option<&Value>) -> String {
    match values.and_then(Value::as_array) {
        None => "[]string(nil)".to_string(),
        Some(a) => {
            let items: Vec<String> = a
                .iter()
                .map(|v| go_quote(v.as_str().unwrap_or("")))
                .collect();
            format!("[]string{{{}}}", items.join(", "))
        }
    }
}

/// Go's `%#v` of a `metav1.LabelSelector`, as upstream prints a selector in field errors.
fn go_label_selector(sel: &Value) -> String {
    let exprs = match sel.get("matchExpressions").and_then(Value::as_array) {
        None => "[]v1.LabelSelectorRequirement(nil)".to_string(),
        Some(a) => {
            let items: Vec<String> = a
                .iter()
                .map(|e| {
                    let field = |name: &str| e.get(name).and_then(Value::as_str).unwrap_or("");
                    format!(
                        "v1.LabelSelectorRequirement{{Key:{}, Operator:{}, Values:{}}}",
                        go_quote(field("key")),
                        go_quote(field("operator")),
                        go_string_slice(e.get("values"))
                    )
                })
                .collect();
            format!("[]v1.LabelSelectorRequirement{{{}}}", items.join(", "))
        }
    };
    format!(
        "v1.LabelSelector{{MatchLabels:{}, MatchExpressions:{}}}",
        go_string_map(sel.get("matchLabels")),
        exprs
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deployment(spec: Value) -> Value {
        json!({"metadata": {"name": "web"}, "spec": spec})
    }

    fn messages(causes: &[FieldCause]) -> Vec<&str> {
        causes.iter().map(|c| c.message.as_str()).collect()
    }

    fn valid_spec() -> Value {
        json!({
            "replicas": 1,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "c", "image": "nginx"}]}
            }
        })
    }

    #[test]
    fn a_valid_spec_has_no_causes() {
        assert!(spec_causes(&deployment(valid_spec()), Workload::Deployment).is_empty());
    }

    #[test]
    fn an_empty_spec_gets_upstream_causes() {
        let causes = spec_causes(&json!({"metadata": {"name": "web"}}), Workload::Deployment);
        assert_eq!(
            messages(&causes),
            vec![
                "spec.selector: Required value",
                "spec.template.metadata.labels: Invalid value: map[string]string(nil): `selector` does not match template `labels`",
                "spec.template.spec.containers: Required value",
            ]
        );
    }

    #[test]
    fn selectors_print_as_go_does() {
        assert_eq!(
            go_label_selector(&json!({"matchLabels": {"b": "2", "a": "1"}})),
            r#"v1.LabelSelector{MatchLabels:map[string]string{"a":"1", "b":"2"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}"#
        );
        assert_eq!(
            go_label_selector(&json!({"matchLabels": {}, "matchExpressions": [
                {"key": "k", "operator": "Exists"}
            ]})),
            r#"v1.LabelSelector{MatchLabels:map[string]string{}, MatchExpressions:[]v1.LabelSelectorRequirement{v1.LabelSelectorRequirement{Key:"k", Operator:"Exists", Values:[]string(nil)}}}"#
        );
    }

    #[test]
    fn an_invalid_selector_skips_the_template() {
        let mut spec = valid_spec();
        spec["selector"] = json!({"matchExpressions": [{"key": "app", "operator": "In"}]});
        spec["template"]["spec"]["containers"] = json!([]);
        let causes = spec_causes(&deployment(spec), Workload::ReplicaSet);
        assert_eq!(
            messages(&causes),
            vec![
                "spec.selector.matchExpressions[0].values: Required value: must be specified when `operator` is 'In' or 'NotIn'",
                r#"spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string(nil), MatchExpressions:[]v1.LabelSelectorRequirement{v1.LabelSelectorRequirement{Key:"app", Operator:"In", Values:[]string(nil)}}}: invalid label selector"#,
            ]
        );
    }

    #[test]
    fn selector_changes_are_immutable_but_equal_forms_are_not_changes() {
        let s = WorkloadStrategy::deployment();
        let old = deployment(valid_spec());
        let mut same = old.clone();
        same["spec"]["selector"]["matchExpressions"] = json!([]);
        assert!(s.validate_update(&same, &old).is_empty());
        let mut changed = old.clone();
        changed["spec"]["selector"] = json!({"matchLabels": {"app": "web", "tier": "x"}});
        changed["spec"]["template"]["metadata"]["labels"]["tier"] = json!("x");
        assert_eq!(
            messages(&s.validate_update(&changed, &old)),
            vec![
                r#"spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{"app":"web", "tier":"x"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is immutable"#
            ]
        );
    }
}
