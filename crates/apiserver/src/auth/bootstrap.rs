//! The default RBAC policy every cluster starts with (kube-apiserver's bootstrap policy, so far
//! the part users and operators meet): `cluster-admin` bound to `system:masters`; discovery,
//! version and health for everyone signed in (`system:discovery`, `system:public-info-viewer`,
//! the latter for anonymous users too); the self reviews (`system:basic-user`);
//! `system:auth-delegator`; and the user-facing roles `admin`, `edit` and `view`, empty
//! ClusterRoles with an aggregation rule that the aggregation controller fills from the
//! `system:aggregate-to-*` roles (and from any ClusterRole a user labels for them). Created when missing, never overwritten: like upstream's objects they carry
//! `rbac.authorization.kubernetes.io/autoupdate`, but a user's edits win here.

use serde_json::{Value, json};

fn labelled(kind: &str, name: &str, body: Value) -> Value {
    let mut obj = json!({
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": kind,
        "metadata": {
            "name": name,
            "labels": {"kubernetes.io/bootstrapping": "rbac-defaults"},
            "annotations": {"rbac.authorization.kubernetes.io/autoupdate": "true"},
        },
    });
    if let (Some(o), Value::Object(b)) = (obj.as_object_mut(), body) {
        o.extend(b);
    }
    obj
}

fn binding(name: &str, role: &str, groups: &[&str]) -> Value {
    let subjects: Vec<Value> = groups
        .iter()
        .map(|g| json!({"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": g}))
        .collect();
    labelled(
        "ClusterRoleBinding",
        name,
        json!({
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
            "subjects": subjects,
        }),
    )
}

/// The rules of `cluster-admin`: everything.
pub fn cluster_admin_rules() -> Value {
    json!([
        {"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]},
        {"nonResourceURLs": ["*"], "verbs": ["*"]},
    ])
}

/// Rules of `verbs` on `resources` of each of `groups` (one rule per entry).
fn rules(entries: &[(&[&str], &[&str], &[&str])]) -> Value {
    Value::Array(
        entries
            .iter()
            .map(|(groups, resources, verbs)| {
                json!({"apiGroups": groups, "resources": resources, "verbs": verbs})
            })
            .collect(),
    )
}

const READ: &[&str] = &["get", "list", "watch"];
const WRITE: &[&str] = &["create", "delete", "deletecollection", "patch", "update"];
const ALL: &[&str] = &[
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
];

/// An empty ClusterRole filled from the roles labelled `aggregate-to-<to>`, itself labelled
/// with `labels`.
fn aggregated(name: &str, to: &str, labels: &[&str]) -> Value {
    let mut role = labelled(
        "ClusterRole",
        name,
        json!({
            "aggregationRule": {"clusterRoleSelectors": [{"matchLabels": {
                format!("rbac.authorization.k8s.io/aggregate-to-{to}"): "true"}}]},
            "rules": [],
        }),
    );
    for l in labels {
        role["metadata"]["labels"][format!("rbac.authorization.k8s.io/aggregate-to-{l}")] =
            json!("true");
    }
    role
}

/// A ClusterRole whose rules go to the aggregated roles `to`.
fn aggregate_to(to: &str, rules: Value) -> Value {
    let mut role = labelled(
        "ClusterRole",
        &format!("system:aggregate-to-{to}"),
        json!({"rules": rules}),
    );
    role["metadata"]["labels"][format!("rbac.authorization.k8s.io/aggregate-to-{to}")] =
        json!("true");
    role
}

/// The user-facing roles and what is aggregated into them.
fn user_facing() -> Vec<Value> {
    vec![
        aggregated("admin", "admin", &[]),
        aggregated("edit", "edit", &["admin"]),
        aggregated("view", "view", &["edit"]),
        aggregate_to(
            "admin",
            rules(&[
                (
                    &["authorization.k8s.io"],
                    &["localsubjectaccessreviews"],
                    &["create"],
                ),
                (
                    &["rbac.authorization.k8s.io"],
                    &["rolebindings", "roles"],
                    ALL,
                ),
            ]),
        ),
        aggregate_to(
            "edit",
            rules(&[
                (
                    &[""],
                    &[
                        "pods/attach",
                        "pods/exec",
                        "pods/portforward",
                        "pods/proxy",
                        "secrets",
                        "services/proxy",
                    ],
                    READ,
                ),
                (&[""], &["serviceaccounts"], &["impersonate"]),
                (
                    &[""],
                    &[
                        "pods",
                        "pods/attach",
                        "pods/exec",
                        "pods/portforward",
                        "pods/proxy",
                    ],
                    WRITE,
                ),
                (&[""], &["pods/eviction"], &["create"]),
                (
                    &[""],
                    &[
                        "configmaps",
                        "events",
                        "persistentvolumeclaims",
                        "replicationcontrollers",
                        "replicationcontrollers/scale",
                        "secrets",
                        "serviceaccounts",
                        "services",
                        "services/proxy",
                    ],
                    WRITE,
                ),
                (&[""], &["serviceaccounts/token"], &["create"]),
                (
                    &["apps"],
                    &[
                        "daemonsets",
                        "deployments",
                        "deployments/rollback",
                        "deployments/scale",
                        "replicasets",
                        "replicasets/scale",
                        "statefulsets",
                        "statefulsets/scale",
                    ],
                    WRITE,
                ),
                (&["autoscaling"], &["horizontalpodautoscalers"], WRITE),
                (&["batch"], &["cronjobs", "jobs"], WRITE),
                (
                    &["extensions"],
                    &[
                        "daemonsets",
                        "deployments",
                        "deployments/rollback",
                        "deployments/scale",
                        "ingresses",
                        "networkpolicies",
                        "replicasets",
                        "replicasets/scale",
                        "replicationcontrollers/scale",
                    ],
                    WRITE,
                ),
                (&["policy"], &["poddisruptionbudgets"], WRITE),
                (
                    &["networking.k8s.io"],
                    &["ingresses", "networkpolicies"],
                    WRITE,
                ),
                (&["coordination.k8s.io"], &["leases"], ALL),
            ]),
        ),
        aggregate_to(
            "view",
            rules(&[
                (
                    &[""],
                    &[
                        "configmaps",
                        "endpoints",
                        "persistentvolumeclaims",
                        "persistentvolumeclaims/status",
                        "pods",
                        "replicationcontrollers",
                        "replicationcontrollers/scale",
                        "serviceaccounts",
                        "services",
                        "services/status",
                    ],
                    READ,
                ),
                (
                    &[""],
                    &[
                        "bindings",
                        "events",
                        "limitranges",
                        "namespaces/status",
                        "pods/log",
                        "pods/status",
                        "replicationcontrollers/status",
                        "resourcequotas",
                        "resourcequotas/status",
                    ],
                    READ,
                ),
                (&[""], &["namespaces"], READ),
                (&["discovery.k8s.io"], &["endpointslices"], READ),
                (
                    &["apps"],
                    &[
                        "controllerrevisions",
                        "daemonsets",
                        "daemonsets/status",
                        "deployments",
                        "deployments/scale",
                        "deployments/status",
                        "replicasets",
                        "replicasets/scale",
                        "replicasets/status",
                        "statefulsets",
                        "statefulsets/scale",
                        "statefulsets/status",
                    ],
                    READ,
                ),
                (
                    &["autoscaling"],
                    &[
                        "horizontalpodautoscalers",
                        "horizontalpodautoscalers/status",
                    ],
                    READ,
                ),
                (
                    &["batch"],
                    &["cronjobs", "cronjobs/status", "jobs", "jobs/status"],
                    READ,
                ),
                (
                    &["extensions"],
                    &[
                        "daemonsets",
                        "daemonsets/status",
                        "deployments",
                        "deployments/scale",
                        "deployments/status",
                        "ingresses",
                        "ingresses/status",
                        "networkpolicies",
                        "replicasets",
                        "replicasets/scale",
                        "replicasets/status",
                        "replicationcontrollers/scale",
                    ],
                    READ,
                ),
                (
                    &["policy"],
                    &["poddisruptionbudgets", "poddisruptionbudgets/status"],
                    READ,
                ),
                (
                    &["networking.k8s.io"],
                    &["ingresses", "ingresses/status", "networkpolicies"],
                    READ,
                ),
            ]),
        ),
        labelled(
            "ClusterRole",
            "system:auth-delegator",
            json!({"rules": rules(&[
                (&["authentication.k8s.io"], &["tokenreviews"], &["create"]),
                (&["authorization.k8s.io"], &["subjectaccessreviews"], &["create"]),
            ])}),
        ),
    ]
}

/// The default ClusterRoles.
pub fn cluster_roles() -> Vec<Value> {
    let mut roles = user_facing();
    roles.extend(base_roles());
    roles
}

fn base_roles() -> Vec<Value> {
    let info_urls = json!(["/healthz", "/livez", "/readyz", "/version", "/version/"]);
    vec![
        labelled(
            "ClusterRole",
            "cluster-admin",
            json!({"rules": cluster_admin_rules()}),
        ),
        labelled(
            "ClusterRole",
            "system:discovery",
            json!({"rules": [{"nonResourceURLs": [
                "/api", "/api/*", "/apis", "/apis/*", "/healthz", "/livez", "/openapi",
                "/openapi/*", "/readyz", "/version", "/version/"], "verbs": ["get"]}]}),
        ),
        labelled(
            "ClusterRole",
            "system:public-info-viewer",
            json!({"rules": [{"nonResourceURLs": info_urls, "verbs": ["get"]}]}),
        ),
        labelled(
            "ClusterRole",
            "system:basic-user",
            json!({"rules": [
                {"apiGroups": ["authorization.k8s.io"],
                 "resources": ["selfsubjectaccessreviews", "selfsubjectrulesreviews"],
                 "verbs": ["create"]},
                {"apiGroups": ["authentication.k8s.io"],
                 "resources": ["selfsubjectreviews"], "verbs": ["create"]},
            ]}),
        ),
    ]
}

/// The default ClusterRoleBindings.
pub fn cluster_role_bindings() -> Vec<Value> {
    vec![
        binding("cluster-admin", "cluster-admin", &["system:masters"]),
        binding(
            "system:discovery",
            "system:discovery",
            &["system:authenticated"],
        ),
        binding(
            "system:public-info-viewer",
            "system:public-info-viewer",
            &["system:authenticated", "system:unauthenticated"],
        ),
        binding(
            "system:basic-user",
            "system:basic-user",
            &["system:authenticated"],
        ),
    ]
}
