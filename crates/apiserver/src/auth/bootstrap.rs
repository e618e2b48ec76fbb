//! The default RBAC policy every cluster starts with (kube-apiserver's bootstrap policy, the part
//! that this server's resources need): `cluster-admin` bound to `system:masters`; discovery,
//! version and health for everyone signed in (`system:discovery`, `system:public-info-viewer`);
//! and the self reviews (`system:basic-user`), so that an impersonated user can ask what it may
//! do. Created when missing, never overwritten: like upstream's objects they carry
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

/// The default ClusterRoles.
pub fn cluster_roles() -> Vec<Value> {
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
