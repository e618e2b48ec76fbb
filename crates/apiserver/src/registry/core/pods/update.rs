//! What an update may change in a pod's spec (kube-apiserver's `ValidatePodUpdate`): container
//! and init container images, `activeDeadlineSeconds` (set, or lowered), additions to
//! `tolerations` (and their `tolerationSeconds`), removals from `schedulingGates`, and
//! `terminationGracePeriodSeconds` from a negative value to 1. Any other change is refused with
//! upstream's message, followed by the changed fields (upstream appends go-cmp's diff of its Go
//! structs, whose layout go-cmp randomises on purpose; here each change is a `-`/`+` pair of
//! JSON paths and values).

use crate::quantity::parse_quantity;
use crate::status::FieldCause;
use serde_json::{Map, Value, json};

/// The fields an update may change, as upstream lists them in its message.
const UPDATABLE: [&str; 5] = [
    "`spec.containers[*].image`",
    "`spec.initContainers[*].image`",
    "`spec.activeDeadlineSeconds`",
    "`spec.tolerations` (only additions to existing tolerations)",
    "`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)",
];

/// The causes refusing the change of `old`'s spec into `new`'s (both defaulted Pods).
pub(crate) fn pod_update_causes(new: &Value, old: &Value) -> Vec<FieldCause> {
    let empty = json!({});
    let new_spec = new.get("spec").filter(|s| s.is_object()).unwrap_or(&empty);
    let old_spec = old.get("spec").filter(|s| s.is_object()).unwrap_or(&empty);
    let mut causes = Vec::new();
    for list in ["containers", "initContainers"] {
        let (n, o) = (items(new_spec, list), items(old_spec, list));
        if n.len() != o.len() {
            causes.push(FieldCause::forbidden(
                format!("spec.{list}"),
                "pod updates may not add or remove containers",
            ));
            return causes;
        }
        for (i, c) in n.iter().enumerate() {
            let image = c.get("image").and_then(Value::as_str).unwrap_or("");
            if image.trim() != image {
                causes.push(FieldCause::invalid(
                    format!("spec.{list}[{i}].image"),
                    &json!(image),
                    "must not have leading or trailing whitespace",
                ));
            }
        }
    }
    let deadline = |spec: &Value| spec.get("activeDeadlineSeconds").and_then(Value::as_i64);
    match (deadline(new_spec), deadline(old_spec)) {
        (Some(n), _) if !(0..=i64::from(i32::MAX)).contains(&n) => {
            causes.push(FieldCause::invalid(
                "spec.activeDeadlineSeconds",
                &json!(n),
                format!("must be between 0 and {}, inclusive", i32::MAX),
            ));
            return causes;
        }
        (Some(n), Some(o)) if o < n => {
            causes.push(FieldCause::invalid(
                "spec.activeDeadlineSeconds",
                &json!(n),
                "must be less than or equal to previous value",
            ));
            return causes;
        }
        (None, Some(_)) => causes.push(FieldCause::invalid_shown(
            "spec.activeDeadlineSeconds",
            "\"null\"",
            "must not update from a positive integer to nil value",
        )),
        _ => {}
    }
    // Tolerations: every old one stays (its tolerationSeconds may change).
    let new_tolerations = items(new_spec, "tolerations");
    let kept = items(old_spec, "tolerations").iter().all(|old_t| {
        new_tolerations
            .iter()
            .any(|new_t| without(old_t, "tolerationSeconds") == without(new_t, "tolerationSeconds"))
    });
    if !kept {
        causes.push(FieldCause::forbidden(
            "spec.tolerations",
            "existing toleration can not be modified except its tolerationSeconds",
        ));
    }
    // Scheduling gates: only removals.
    let old_gates = items(old_spec, "schedulingGates");
    for (i, gate) in items(new_spec, "schedulingGates").iter().enumerate() {
        if !old_gates.contains(gate) {
            causes.push(FieldCause::forbidden(
                format!("spec.schedulingGates[{i}]"),
                format!(
                    "only deletion is allowed, but found new scheduling gate '{}'",
                    gate.get("name").and_then(Value::as_str).unwrap_or("")
                ),
            ));
        }
    }
    // Everything else must be as it was: undo the allowed changes and compare.
    let mut munged = new_spec.clone();
    if let Some(m) = munged.as_object_mut() {
        for list in ["containers", "initContainers"] {
            let old_items = items(old_spec, list);
            for (c, o) in m
                .get_mut(list)
                .and_then(Value::as_array_mut)
                .into_iter()
                .flatten()
                .zip(old_items)
            {
                if let Some(c) = c.as_object_mut() {
                    put(c, "image", o.get("image"));
                }
            }
        }
        for field in ["activeDeadlineSeconds", "schedulingGates", "tolerations"] {
            put(m, field, old_spec.get(field));
        }
        let grace = |s: &Value| {
            s.get("terminationGracePeriodSeconds")
                .and_then(Value::as_i64)
        };
        if grace(old_spec).is_some_and(|g| g < 0) && grace(new_spec) == Some(1) {
            put(
                m,
                "terminationGracePeriodSeconds",
                old_spec.get("terminationGracePeriodSeconds"),
            );
        }
    }
    let (before, after) = (semantic(old_spec), semantic(&munged));
    if before != after {
        let mut diff = Vec::new();
        changes(&before, &after, "spec", &mut diff);
        causes.push(FieldCause::forbidden(
            "spec",
            format!(
                "pod updates may not change fields other than {}\n{}",
                UPDATABLE.join(","),
                diff.join("\n")
            ),
        ));
    }
    causes
}

/// The items of the list at `field` of `spec`.
fn items<'a>(spec: &'a Value, field: &str) -> &'a [Value] {
    spec.get(field)
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

/// `obj` without `field`.
fn without(obj: &Value, field: &str) -> Value {
    let mut obj = obj.clone();
    if let Some(m) = obj.as_object_mut() {
        m.remove(field);
    }
    obj
}

/// Sets `field` of `m` to `value`, or removes it when `value` is `None`.
fn put(m: &mut Map<String, Value>, field: &str, value: Option<&Value>) {
    match value {
        Some(v) => m.insert(field.into(), v.clone()),
        None => m.remove(field),
    };
}

/// The `-`/`+` lines of what differs between `old` and `new` (both under `path`) as upstream's
/// semantic equality sees them; empty when they are semantically equal.
pub(crate) fn semantic_diff(old: &Value, new: &Value, path: &str) -> Vec<String> {
    let mut out = Vec::new();
    changes(&semantic(old), &semantic(new), path, &mut out);
    out
}

/// `obj` as upstream's semantic equality sees it: nulls, empty lists and empty maps are the
/// same as absent fields, and resource quantities compare by amount (`1` is `1000m`).
fn semantic(obj: &Value) -> Value {
    match obj {
        Value::Object(m) => {
            let mut out = Map::new();
            for (k, v) in m {
                let v = if matches!(k.as_str(), "limits" | "requests" | "overhead")
                    && let Some(q) = v.as_object()
                {
                    Value::Object(
                        q.iter()
                            .map(|(r, a)| {
                                let amount = a.as_str().and_then(parse_quantity);
                                (
                                    r.clone(),
                                    amount.map_or(a.clone(), |n| json!(n.to_string())),
                                )
                            })
                            .collect(),
                    )
                } else {
                    semantic(v)
                };
                let empty = v.is_null()
                    || v.as_array().is_some_and(Vec::is_empty)
                    || (v.as_object().is_some_and(Map::is_empty) && !STRUCTS.contains(&k.as_str()));
                if !empty {
                    out.insert(k.clone(), v);
                }
            }
            Value::Object(out)
        }
        Value::Array(a) => Value::Array(a.iter().map(semantic).collect()),
        other => other.clone(),
    }
}

/// Fields whose empty object is a set pointer to an empty struct, not an empty map: kept.
const STRUCTS: [&str; 2] = ["securityContext", "emptyDir"];

/// The differences between `a` and `b` under `path`, as `-`/`+` lines.
fn changes(a: &Value, b: &Value, path: &str, out: &mut Vec<String>) {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let keys: std::collections::BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            for k in keys {
                let at = format!("{path}.{k}");
                match (x.get(k), y.get(k)) {
                    (Some(u), Some(v)) => changes(u, v, &at, out),
                    (Some(u), None) => out.push(format!("- {at}: {u}")),
                    (None, Some(v)) => out.push(format!("+ {at}: {v}")),
                    (None, None) => {}
                }
            }
        }
        (Value::Array(x), Value::Array(y)) => {
            for i in 0..x.len().max(y.len()) {
                let at = format!("{path}[{i}]");
                match (x.get(i), y.get(i)) {
                    (Some(u), Some(v)) => changes(u, v, &at, out),
                    (Some(u), None) => out.push(format!("- {at}: {u}")),
                    (None, Some(v)) => out.push(format!("+ {at}: {v}")),
                    (None, None) => {}
                }
            }
        }
        (u, v) if u != v => {
            out.push(format!("- {path}: {u}"));
            out.push(format!("+ {path}: {v}"));
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(spec: Value) -> Value {
        json!({"metadata": {"name": "p"}, "spec": spec})
    }

    fn base() -> Value {
        json!({
            "containers": [{"name": "c", "image": "nginx:1", "ports": [{"containerPort": 80, "protocol": "TCP"}],
                "resources": {"limits": {"cpu": "1"}}}],
            "tolerations": [{"key": "k", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 60}],
            "terminationGracePeriodSeconds": 30,
            "securityContext": {}
        })
    }

    fn messages(new: Value) -> Vec<String> {
        pod_update_causes(&pod(new), &pod(base()))
            .into_iter()
            .map(|c| c.message)
            .collect()
    }

    #[test]
    fn allowed_changes_pass() {
        let mut image = base();
        image["containers"][0]["image"] = json!("nginx:2");
        let mut deadline = base();
        deadline["activeDeadlineSeconds"] = json!(100);
        let mut toleration = base();
        toleration["tolerations"][0]["tolerationSeconds"] = json!(10);
        toleration["tolerations"]
            .as_array_mut()
            .expect("list")
            .push(json!({"key": "other", "operator": "Exists"}));
        let mut same_amount = base();
        same_amount["containers"][0]["resources"]["limits"]["cpu"] = json!("1000m");
        let mut empty_list = base();
        empty_list["volumes"] = json!([]);
        for (name, spec) in [
            ("unchanged", base()),
            ("image", image),
            ("deadline set", deadline),
            ("toleration added, seconds changed", toleration),
            ("same quantity", same_amount),
            ("empty list", empty_list),
        ] {
            assert_eq!(messages(spec), Vec::<String>::new(), "{name}");
        }
    }

    #[test]
    fn other_changes_are_refused_with_upstream_messages() {
        let prefix = "spec: Forbidden: pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)\n";
        let mut port = base();
        port["containers"][0]["ports"][0]["containerPort"] = json!(81);
        assert_eq!(
            messages(port),
            vec![format!(
                "{prefix}- spec.containers[0].ports[0].containerPort: 80\n+ spec.containers[0].ports[0].containerPort: 81"
            )]
        );
        let mut grace = base();
        grace["terminationGracePeriodSeconds"] = json!(1);
        assert_eq!(
            messages(grace),
            vec![format!(
                "{prefix}- spec.terminationGracePeriodSeconds: 30\n+ spec.terminationGracePeriodSeconds: 1"
            )]
        );
        let mut added = base();
        added["containers"]
            .as_array_mut()
            .expect("list")
            .push(json!({"name": "d", "image": "x"}));
        assert_eq!(
            messages(added),
            vec!["spec.containers: Forbidden: pod updates may not add or remove containers"]
        );
        let mut removed = base();
        removed["tolerations"] = json!([]);
        assert_eq!(
            messages(removed),
            vec![
                "spec.tolerations: Forbidden: existing toleration can not be modified except its tolerationSeconds"
            ]
        );
    }

    #[test]
    fn deadlines_only_shrink() {
        let mut old = base();
        old["activeDeadlineSeconds"] = json!(100);
        let causes = |n: Option<i64>| {
            let mut new = old.clone();
            match n {
                Some(n) => new["activeDeadlineSeconds"] = json!(n),
                None => {
                    new.as_object_mut()
                        .expect("object")
                        .remove("activeDeadlineSeconds");
                }
            }
            pod_update_causes(&pod(new), &pod(old.clone()))
                .into_iter()
                .map(|c| c.message)
                .collect::<Vec<_>>()
        };
        assert!(causes(Some(50)).is_empty());
        assert_eq!(
            causes(Some(200)),
            vec![
                "spec.activeDeadlineSeconds: Invalid value: 200: must be less than or equal to previous value"
            ]
        );
        assert_eq!(
            causes(None),
            vec![
                "spec.activeDeadlineSeconds: Invalid value: \"null\": must not update from a positive integer to nil value"
            ]
        );
    }

    #[test]
    fn a_negative_grace_period_may_become_one() {
        let mut old = base();
        old["terminationGracePeriodSeconds"] = json!(-1);
        let mut new = old.clone();
        new["terminationGracePeriodSeconds"] = json!(1);
        assert!(pod_update_causes(&pod(new), &pod(old)).is_empty());
    }
}
