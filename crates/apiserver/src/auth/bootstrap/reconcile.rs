//! How a stored bootstrap object is brought back to the default policy (kube-apiserver's RBAC
//! reconciliation, as its startup runs it: adding, never removing).
//!
//! - An object annotated `rbac.authorization.kubernetes.io/autoupdate: "false"` is protected:
//!   left as it is.
//! - Labels and annotations the default has and the object lacks are added (the object's own
//!   values win for keys both have).
//! - A role gets the parts of the default's rules that none of its rules cover, appended as
//!   upstream appends them (one rule per verb, group, resource and name); and the default's
//!   aggregation rule selectors it lacks. Rules are not reconciled when both the default and
//!   the stored role are aggregated: the aggregation controller owns them.
//! - A binding gets the default's subjects it lacks; a binding whose `roleRef` is not the
//!   default's (which cannot be updated) is recreated with the default's `roleRef`.

use crate::auth::rbac::PolicyRule;
use crate::registry::rbac::uncovered_rules;
use serde_json::{Map, Value};

/// What reconciling one stored object calls for.
#[derive(Clone, Debug, PartialEq)]
pub enum Reconciled {
    /// The object already has everything of the default.
    Unchanged,
    /// The object is annotated `autoupdate: "false"`: it is not touched.
    Protected,
    /// The object, with what it lacked added, to be written in its place.
    Update(Value),
    /// The binding to delete and create again as this (its `roleRef` changed).
    Recreate(Value),
}

/// Whether `obj` opts out of reconciliation.
fn protected(obj: &Value) -> bool {
    obj["metadata"]["annotations"][super::AUTOUPDATE_ANNOTATION].as_str() == Some("false")
}

/// Adds to `existing`'s metadata map `field` the keys of `expected`'s it lacks; whether any.
fn merge_map(existing: &mut Value, expected: &Value, field: &str) -> bool {
    let Some(wanted) = expected["metadata"][field].as_object() else {
        return false;
    };
    let entry = &mut existing["metadata"][field];
    if !entry.is_object() {
        *entry = Value::Object(Map::new());
    }
    let Some(have) = entry.as_object_mut() else {
        return false;
    };
    let mut changed = false;
    for (k, v) in wanted {
        if !have.contains_key(k) {
            have.insert(k.clone(), v.clone());
            changed = true;
        }
    }
    changed
}

fn merge_metadata(existing: &mut Value, expected: &Value) -> bool {
    let labels = merge_map(existing, expected, "labels");
    let annotations = merge_map(existing, expected, "annotations");
    labels || annotations
}

fn rules_of(obj: &Value) -> Vec<PolicyRule> {
    serde_json::from_value(obj["rules"].clone()).unwrap_or_default()
}

fn aggregated(obj: &Value) -> bool {
    obj.get("aggregationRule").is_some_and(|r| !r.is_null())
}

/// Adds the default's aggregation rule (or its selectors the stored one lacks); whether any.
fn merge_aggregation(existing: &mut Value, expected: &Value) -> bool {
    let Some(wanted) = expected["aggregationRule"]["clusterRoleSelectors"].as_array() else {
        return false;
    };
    if !aggregated(existing) {
        existing["aggregationRule"] = expected["aggregationRule"].clone();
        return true;
    }
    let selectors = &mut existing["aggregationRule"]["clusterRoleSelectors"];
    if !selectors.is_array() {
        *selectors = Value::Array(Vec::new());
    }
    let Some(have) = selectors.as_array_mut() else {
        return false;
    };
    let missing: Vec<Value> = wanted
        .iter()
        .filter(|s| !have.contains(s))
        .cloned()
        .collect();
    have.extend(missing.iter().cloned());
    !missing.is_empty()
}

/// Reconciles a stored Role or ClusterRole with its default.
pub fn role(existing: &Value, expected: &Value) -> Reconciled {
    if protected(existing) {
        return Reconciled::Protected;
    }
    let mut out = existing.clone();
    let mut changed = merge_metadata(&mut out, expected);
    let both_aggregated = aggregated(existing) && aggregated(expected);
    changed |= merge_aggregation(&mut out, expected);
    if !both_aggregated {
        let missing = uncovered_rules(&rules_of(existing), &rules_of(expected));
        if !missing.is_empty() {
            let mut rules = out["rules"].as_array().cloned().unwrap_or_default();
            rules.extend(missing.iter().filter_map(|r| serde_json::to_value(r).ok()));
            out["rules"] = Value::Array(rules);
            changed = true;
        }
    }
    if changed {
        Reconciled::Update(out)
    } else {
        Reconciled::Unchanged
    }
}

/// A subject as upstream compares them: kind, API group, name and namespace, absent as empty.
fn subject_key(s: &Value) -> [&str; 4] {
    ["kind", "apiGroup", "name", "namespace"].map(|f| s[f].as_str().unwrap_or(""))
}

/// Reconciles a stored RoleBinding or ClusterRoleBinding with its default.
pub fn binding(existing: &Value, expected: &Value) -> Reconciled {
    if protected(existing) {
        return Reconciled::Protected;
    }
    let mut out = existing.clone();
    let mut changed = merge_metadata(&mut out, expected);
    let have: Vec<[&str; 4]> = existing["subjects"]
        .as_array()
        .map(|s| s.iter().map(subject_key).collect())
        .unwrap_or_default();
    let missing: Vec<Value> = expected["subjects"]
        .as_array()
        .map(|s| {
            s.iter()
                .filter(|s| !have.contains(&subject_key(s)))
                .cloned()
                .collect()
        })
        .unwrap_or_default();
    if !missing.is_empty() {
        let mut subjects = out["subjects"].as_array().cloned().unwrap_or_default();
        subjects.extend(missing);
        out["subjects"] = Value::Array(subjects);
        changed = true;
    }
    if existing["roleRef"] != expected["roleRef"] {
        out["roleRef"] = expected["roleRef"].clone();
        return Reconciled::Recreate(out);
    }
    if changed {
        Reconciled::Update(out)
    } else {
        Reconciled::Unchanged
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::bootstrap::{cluster_binding, cluster_role, group, rule, user};
    use serde_json::json;

    #[test]
    fn a_role_gets_back_a_removed_rule_and_keeps_its_own() {
        let expected = cluster_role(
            "r",
            vec![
                rule("get list", "core", "pods"),
                rule("get", "apps", "deployments"),
            ],
        );
        let mut stored = expected.clone();
        stored["rules"] = json!([
            rule("get list", "core", "pods"),
            rule("delete", "core", "nodes")
        ]);
        stored["metadata"]["labels"] = json!({"mine": "yes"});
        let Reconciled::Update(out) = role(&stored, &expected) else {
            panic!("expected an update");
        };
        assert_eq!(
            out["rules"],
            json!([
                rule("get list", "core", "pods"),
                rule("delete", "core", "nodes"),
                rule("get", "apps", "deployments"),
            ])
        );
        assert_eq!(out["metadata"]["labels"]["mine"], "yes");
        assert_eq!(
            out["metadata"]["labels"]["kubernetes.io/bootstrapping"],
            "rbac-defaults"
        );
        assert_eq!(role(&out, &expected), Reconciled::Unchanged);
    }

    #[test]
    fn missing_parts_are_added_one_verb_at_a_time() {
        let expected = cluster_role("r", vec![rule("get list", "core", "pods")]);
        let mut stored = expected.clone();
        stored["rules"] = json!([rule("get", "core", "pods")]);
        let Reconciled::Update(out) = role(&stored, &expected) else {
            panic!("expected an update");
        };
        assert_eq!(
            out["rules"],
            json!([rule("get", "core", "pods"), rule("list", "core", "pods")])
        );
    }

    #[test]
    fn autoupdate_false_protects() {
        let expected = cluster_role("r", vec![rule("get", "core", "pods")]);
        let mut stored = expected.clone();
        stored["rules"] = json!([]);
        stored["metadata"]["annotations"][crate::auth::bootstrap::AUTOUPDATE_ANNOTATION] =
            json!("false");
        assert_eq!(role(&stored, &expected), Reconciled::Protected);
        let b = cluster_binding("b", "r", vec![group("g")]);
        let mut stored = b.clone();
        stored["subjects"] = json!([]);
        stored["metadata"]["annotations"][crate::auth::bootstrap::AUTOUPDATE_ANNOTATION] =
            json!("false");
        assert_eq!(binding(&stored, &b), Reconciled::Protected);
    }

    #[test]
    fn aggregated_roles_keep_their_rules_and_selectors() {
        let expected = crate::auth::bootstrap::cluster_roles()
            .into_iter()
            .find(|r| r["metadata"]["name"] == "view")
            .unwrap();
        let mut stored = expected.clone();
        stored["rules"] = json!([rule("get", "core", "pods")]);
        assert_eq!(role(&stored, &expected), Reconciled::Unchanged);
        stored["aggregationRule"]["clusterRoleSelectors"] = json!([{"matchLabels": {"a": "b"}}]);
        let Reconciled::Update(out) = role(&stored, &expected) else {
            panic!("expected an update");
        };
        assert_eq!(
            out["aggregationRule"]["clusterRoleSelectors"]
                .as_array()
                .unwrap()
                .len(),
            2
        );
        assert_eq!(out["rules"], json!([rule("get", "core", "pods")]));
    }

    #[test]
    fn bindings_get_missing_subjects_and_a_changed_role_ref_recreates() {
        let expected = cluster_binding("b", "r", vec![group("g"), user("u")]);
        let mut stored = expected.clone();
        stored["subjects"] = json!([user("u"), user("extra")]);
        let Reconciled::Update(out) = binding(&stored, &expected) else {
            panic!("expected an update");
        };
        assert_eq!(
            out["subjects"],
            json!([user("u"), user("extra"), group("g")])
        );
        stored["roleRef"]["name"] = json!("other");
        let Reconciled::Recreate(out) = binding(&stored, &expected) else {
            panic!("expected a recreate");
        };
        assert_eq!(out["roleRef"]["name"], "r");
        assert_eq!(binding(&expected, &expected), Reconciled::Unchanged);
    }
}
