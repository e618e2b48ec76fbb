//! kube-apiserver 1.33's bootstrap API Priority and Fairness configuration (upstream's
//! `apiserver/pkg/apis/flowcontrol/bootstrap`): the mandatory objects (the `exempt` and
//! `catch-all` priority levels and flow schemas, which every server keeps at exactly this spec)
//! and the suggested ones (kept at this spec while their `apf.kubernetes.io/autoupdate-spec`
//! annotation says `"true"`). Every object carries that annotation set to `"true"`.
//!
//! The specs are written as they are stored, that is already defaulted (a limited level's
//! `lendablePercent`, the exempt level's shares), so comparing them with a stored object needs
//! no further defaulting.

use serde_json::{Value, json};

/// The annotation saying whether the server keeps an object's spec at its bootstrap value.
pub(crate) const AUTO_UPDATE_ANNOTATION: &str = "apf.kubernetes.io/autoupdate-spec";

/// The name of the exempt priority level and flow schema.
pub(crate) const EXEMPT: &str = "exempt";
/// The name of the catch-all priority level and flow schema.
pub(crate) const CATCH_ALL: &str = "catch-all";

/// A bootstrap PriorityLevelConfiguration.
fn level(name: &str, spec: Value) -> Value {
    json!({
        "apiVersion": "flowcontrol.apiserver.k8s.io/v1",
        "kind": "PriorityLevelConfiguration",
        "metadata": {"name": name, "annotations": {AUTO_UPDATE_ANNOTATION: "true"}},
        "spec": spec,
    })
}

/// A limited level that queues.
fn queuing(name: &str, shares: i64, lendable: i64, queues: i64, hand: i64) -> Value {
    level(
        name,
        json!({"type": "Limited", "limited": {
            "nominalConcurrencyShares": shares,
            "lendablePercent": lendable,
            "limitResponse": {"type": "Queue", "queuing": {
                "queues": queues, "handSize": hand, "queueLengthLimit": 50}},
        }}),
    )
}

/// A bootstrap FlowSchema with one rule.
fn schema(
    name: &str,
    level: &str,
    precedence: i64,
    distinguisher: Option<&str>,
    rule: Value,
) -> Value {
    let mut spec = json!({
        "priorityLevelConfiguration": {"name": level},
        "matchingPrecedence": precedence,
    });
    if let Some(t) = distinguisher {
        spec["distinguisherMethod"] = json!({"type": t});
    }
    spec["rules"] = json!([rule]);
    json!({
        "apiVersion": "flowcontrol.apiserver.k8s.io/v1",
        "kind": "FlowSchema",
        "metadata": {"name": name, "annotations": {AUTO_UPDATE_ANNOTATION: "true"}},
        "spec": spec,
    })
}

fn groups(names: &[&str]) -> Vec<Value> {
    names
        .iter()
        .map(|n| json!({"kind": "Group", "group": {"name": n}}))
        .collect()
}

fn users(names: &[&str]) -> Vec<Value> {
    names
        .iter()
        .map(|n| json!({"kind": "User", "user": {"name": n}}))
        .collect()
}

/// Service accounts of `kube-system`.
fn kube_system(names: &[&str]) -> Vec<Value> {
    names
        .iter()
        .map(|n| json!({"kind": "ServiceAccount", "serviceAccount": {"name": n, "namespace": "kube-system"}}))
        .collect()
}

/// A resource rule (`clusterScope` is left out when false, as upstream serializes it).
fn resource_rule(
    verbs: &[&str],
    groups: &[&str],
    resources: &[&str],
    namespaces: &[&str],
    cluster: bool,
) -> Value {
    let mut rule = json!({"verbs": verbs, "apiGroups": groups, "resources": resources});
    if cluster {
        rule["clusterScope"] = json!(true);
    }
    rule["namespaces"] = json!(namespaces);
    rule
}

fn non_resource_rule(verbs: &[&str], urls: &[&str]) -> Value {
    json!({"verbs": verbs, "nonResourceURLs": urls})
}

/// A rule matching every request of `subjects`.
fn everything(subjects: Vec<Value>) -> Value {
    json!({
        "subjects": subjects,
        "resourceRules": [resource_rule(&["*"], &["*"], &["*"], &["*"], true)],
        "nonResourceRules": [non_resource_rule(&["*"], &["*"])],
    })
}

/// The mandatory PriorityLevelConfigurations, in upstream's order.
pub(crate) fn mandatory_levels() -> Vec<Value> {
    vec![
        level(
            CATCH_ALL,
            json!({"type": "Limited", "limited": {
                "nominalConcurrencyShares": 5,
                "lendablePercent": 0,
                "limitResponse": {"type": "Reject"},
            }}),
        ),
        level(
            EXEMPT,
            json!({"type": "Exempt", "exempt": {"nominalConcurrencyShares": 0, "lendablePercent": 0}}),
        ),
    ]
}

/// The mandatory FlowSchemas, in upstream's order.
pub(crate) fn mandatory_schemas() -> Vec<Value> {
    vec![
        schema(
            EXEMPT,
            EXEMPT,
            1,
            None,
            everything(groups(&["system:masters"])),
        ),
        schema(
            CATCH_ALL,
            CATCH_ALL,
            10000,
            Some("ByUser"),
            everything(groups(&["system:unauthenticated", "system:authenticated"])),
        ),
    ]
}

/// The suggested PriorityLevelConfigurations, in upstream's order.
pub(crate) fn suggested_levels() -> Vec<Value> {
    vec![
        queuing("system", 30, 33, 64, 6),
        queuing("node-high", 40, 25, 64, 6),
        queuing("leader-election", 10, 0, 16, 4),
        queuing("workload-high", 40, 50, 128, 6),
        queuing("workload-low", 100, 90, 128, 6),
        queuing("global-default", 20, 50, 128, 6),
    ]
}

/// The suggested FlowSchemas, in upstream's order.
pub(crate) fn suggested_schemas() -> Vec<Value> {
    let controller_manager = "system:kube-controller-manager";
    let scheduler = "system:kube-scheduler";
    let get_create_update = ["get", "create", "update"];
    let leases = resource_rule(
        &get_create_update,
        &["coordination.k8s.io"],
        &["leases"],
        &["*"],
        false,
    );
    let leader_subjects = [users(&[controller_manager, scheduler]), kube_system(&["*"])].concat();
    let endpoint_subjects = [
        users(&[controller_manager]),
        kube_system(&["endpoint-controller", "endpointslicemirroring-controller"]),
    ]
    .concat();
    vec![
        schema(
            "system-nodes",
            "system",
            500,
            Some("ByUser"),
            everything(groups(&["system:nodes"])),
        ),
        schema(
            "system-node-high",
            "node-high",
            400,
            Some("ByUser"),
            json!({
                "subjects": groups(&["system:nodes"]),
                "resourceRules": [
                    resource_rule(&["*"], &[""], &["nodes", "nodes/status"], &["*"], true),
                    resource_rule(&["*"], &["coordination.k8s.io"], &["leases"], &["*"], false),
                ],
            }),
        ),
        schema(
            "probes",
            EXEMPT,
            2,
            None,
            json!({
                "subjects": groups(&["system:unauthenticated", "system:authenticated"]),
                "nonResourceRules": [non_resource_rule(&["get"], &["/healthz", "/readyz", "/livez"])],
            }),
        ),
        schema(
            "system-leader-election",
            "leader-election",
            100,
            Some("ByUser"),
            json!({
                "subjects": leader_subjects,
                "resourceRules": [leases.clone()],
            }),
        ),
        schema(
            "workload-leader-election",
            "leader-election",
            200,
            Some("ByUser"),
            json!({
                "subjects": kube_system(&["*"]),
                "resourceRules": [
                    resource_rule(&get_create_update, &[""], &["endpoints", "configmaps"], &["*"], false),
                    leases,
                ],
            }),
        ),
        schema(
            "endpoint-controller",
            "workload-high",
            150,
            Some("ByUser"),
            json!({
                "subjects": endpoint_subjects,
                "resourceRules": [resource_rule(&get_create_update, &[""], &["endpoints"], &["*"], false)],
            }),
        ),
        schema(
            "kube-controller-manager",
            "workload-high",
            800,
            Some("ByNamespace"),
            everything(users(&[controller_manager])),
        ),
        schema(
            "kube-scheduler",
            "workload-high",
            800,
            Some("ByNamespace"),
            everything(users(&[scheduler])),
        ),
        schema(
            "kube-system-service-accounts",
            "workload-high",
            900,
            Some("ByNamespace"),
            everything(kube_system(&["*"])),
        ),
        schema(
            "service-accounts",
            "workload-low",
            9000,
            Some("ByUser"),
            everything(groups(&["system:serviceaccounts"])),
        ),
        schema(
            "global-default",
            "global-default",
            9900,
            Some("ByUser"),
            everything(groups(&["system:unauthenticated", "system:authenticated"])),
        ),
    ]
}

/// The spec of the mandatory object `name` among `objects`.
fn spec_named(objects: Vec<Value>, name: &str) -> Option<Value> {
    objects
        .into_iter()
        .find(|o| o.pointer("/metadata/name").and_then(Value::as_str) == Some(name))
        .and_then(|mut o| o.get_mut("spec").map(Value::take))
}

/// The fixed spec of the mandatory PriorityLevelConfiguration `name`, if it is one.
pub(crate) fn mandatory_level_spec(name: &str) -> Option<Value> {
    spec_named(mandatory_levels(), name)
}

/// The fixed spec of the mandatory FlowSchema `name`, if it is one.
pub(crate) fn mandatory_schema_spec(name: &str) -> Option<Value> {
    spec_named(mandatory_schemas(), name)
}

/// `v` as Go's semantic equality sees the decoded object: nulls, empty lists, `false` and empty
/// strings (zero values and nil) dropped, so that two specs compare equal exactly when upstream's
/// `equality.Semantic.DeepEqual` of the decoded specs would.
pub(crate) fn semantic(v: &Value) -> Value {
    match v {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(_, x)| !is_zero(x))
                .map(|(k, x)| (k.clone(), semantic(x)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(semantic).collect()),
        other => other.clone(),
    }
}

fn is_zero(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bootstrap_sets_match_upstream() {
        let names = |objs: Vec<Value>| -> Vec<String> {
            objs.iter()
                .map(|o| o["metadata"]["name"].as_str().unwrap_or("").to_string())
                .collect()
        };
        assert_eq!(names(mandatory_levels()), ["catch-all", "exempt"]);
        assert_eq!(names(mandatory_schemas()), ["exempt", "catch-all"]);
        assert_eq!(suggested_levels().len(), 6);
        assert_eq!(suggested_schemas().len(), 11);
        let probes = &suggested_schemas()[2];
        assert_eq!(
            probes["spec"]["priorityLevelConfiguration"]["name"],
            "exempt"
        );
        assert!(probes["spec"].get("distinguisherMethod").is_none());
        assert_eq!(
            mandatory_level_spec("catch-all").unwrap()["limited"]["nominalConcurrencyShares"],
            5
        );
        assert!(mandatory_schema_spec("global-default").is_none());
    }

    #[test]
    fn semantic_equality_ignores_zero_values() {
        let a = json!({"rules": [{"resourceRules": [{"clusterScope": false, "verbs": ["*"]}], "nonResourceRules": []}]});
        let b =
            json!({"rules": [{"resourceRules": [{"verbs": ["*"]}]}], "distinguisherMethod": null});
        assert_eq!(semantic(&a), semantic(&b));
        assert_ne!(semantic(&json!({"d": {}})), semantic(&json!({})));
    }
}
