//! The default RBAC policy every cluster starts with: kube-apiserver 1.33's bootstrap policy,
//! with its default feature gates.
//!
//! - [`cluster_roles`]: the roles of users and components (`cluster-admin`, discovery,
//!   `system:basic-user`, `system:monitoring`, `system:node`, `system:kube-scheduler`,
//!   `system:kube-controller-manager`, the certificate signers' approvers, …) and the
//!   user-facing `admin`, `edit` and `view`: empty ClusterRoles with an aggregation rule that the
//!   aggregation controller fills from the `system:aggregate-to-*` roles (and from any
//!   ClusterRole a user labels for them);
//! - [`controller_roles`]: one `system:controller:<name>` ClusterRole per controller of
//!   kube-controller-manager, each bound to the ServiceAccount `kube-system:<name>`;
//! - [`namespace_roles`]: the Roles and RoleBindings of `kube-system` and `kube-public`
//!   (leader election, the bootstrap signer, `extension-apiserver-authentication-reader`).
//!
//! Every object is labelled `kubernetes.io/bootstrapping: rbac-defaults` and annotated
//! `rbac.authorization.kubernetes.io/autoupdate: "true"`. At every start the server reconciles
//! the stored objects with these ([`reconcile`], run by [`ensure`]): missing objects are
//! created; what a stored one lacks (rules, subjects, labels, annotations) is added back unless
//! it is annotated `autoupdate: "false"`; nothing a user added is removed.
//!
//! The data is written as compact rule tables: [`rule`] takes space-separated verbs, groups and
//! resources, `core` standing for the legacy group `""`.

pub mod cluster_roles;
pub mod controller_roles;
pub mod ensure;
pub mod namespace_roles;
pub mod reconcile;

pub use cluster_roles::cluster_admin_rules;
pub use ensure::ensure;

use serde_json::{Value, json};

/// The label every bootstrap object carries.
pub const BOOTSTRAPPING_LABEL: &str = "kubernetes.io/bootstrapping";
/// The annotation that, set to `"false"`, keeps the server from reconciling an object.
pub const AUTOUPDATE_ANNOTATION: &str = "rbac.authorization.kubernetes.io/autoupdate";
/// The RBAC API group.
const GROUP: &str = "rbac.authorization.k8s.io";

/// The words of a space-separated list, sorted and without repeats (upstream's rule builder
/// sorts too); `core` is the legacy API group `""`.
fn words(list: &str) -> Vec<&str> {
    let mut out: Vec<&str> = list
        .split_whitespace()
        .map(|w| if w == "core" { "" } else { w })
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// A rule allowing `verbs` on `resources` of `groups` (each a space-separated list).
pub fn rule(verbs: &str, groups: &str, resources: &str) -> Value {
    json!({"apiGroups": words(groups), "resources": words(resources), "verbs": words(verbs)})
}

/// [`rule`] restricted to the objects called `names`.
pub fn named(verbs: &str, groups: &str, resources: &str, names: &str) -> Value {
    let mut r = rule(verbs, groups, resources);
    r["resourceNames"] = json!(words(names));
    r
}

/// A rule allowing `verbs` on the non-resource URLs `urls`.
pub fn urls(verbs: &str, urls: &str) -> Value {
    json!({"nonResourceURLs": words(urls), "verbs": words(verbs)})
}

/// Recording events, in both event APIs (upstream's `eventsRule`).
pub fn events_rule() -> Value {
    rule("create update patch", "core events.k8s.io", "events")
}

fn object(kind: &str, namespace: Option<&str>, name: &str) -> Value {
    let mut metadata = json!({
        "name": name,
        "labels": {BOOTSTRAPPING_LABEL: "rbac-defaults"},
        "annotations": {AUTOUPDATE_ANNOTATION: "true"},
    });
    if let Some(ns) = namespace {
        metadata["namespace"] = json!(ns);
    }
    json!({"apiVersion": format!("{GROUP}/v1"), "kind": kind, "metadata": metadata})
}

/// A bootstrap ClusterRole.
pub fn cluster_role(name: &str, rules: Vec<Value>) -> Value {
    let mut role = object("ClusterRole", None, name);
    role["rules"] = Value::Array(rules);
    role
}

/// A bootstrap Role in `namespace`.
pub fn role(namespace: &str, name: &str, rules: Vec<Value>) -> Value {
    let mut role = object("Role", Some(namespace), name);
    role["rules"] = Value::Array(rules);
    role
}

/// A bootstrap ClusterRoleBinding of the ClusterRole `role` to `subjects`.
pub fn cluster_binding(name: &str, role: &str, subjects: Vec<Value>) -> Value {
    let mut b = object("ClusterRoleBinding", None, name);
    b["roleRef"] = json!({"apiGroup": GROUP, "kind": "ClusterRole", "name": role});
    // `subjects` is omitted when empty, as upstream serializes it.
    if !subjects.is_empty() {
        b["subjects"] = Value::Array(subjects);
    }
    b
}

/// A bootstrap RoleBinding in `namespace` of its Role `role` to `subjects`.
pub fn binding(namespace: &str, name: &str, role: &str, subjects: Vec<Value>) -> Value {
    let mut b = object("RoleBinding", Some(namespace), name);
    b["roleRef"] = json!({"apiGroup": GROUP, "kind": "Role", "name": role});
    b["subjects"] = Value::Array(subjects);
    b
}

/// The subject for the user `name`.
pub fn user(name: &str) -> Value {
    json!({"apiGroup": GROUP, "kind": "User", "name": name})
}

/// The subject for the group `name`.
pub fn group(name: &str) -> Value {
    json!({"apiGroup": GROUP, "kind": "Group", "name": name})
}

/// The subject for the ServiceAccount `namespace/name`.
pub fn service_account(namespace: &str, name: &str) -> Value {
    json!({"kind": "ServiceAccount", "name": name, "namespace": namespace})
}

/// Every default ClusterRole: the components' and users' roles, then the controllers'.
pub fn cluster_roles() -> Vec<Value> {
    let mut roles = cluster_roles::roles();
    roles.extend(controller_roles::roles());
    roles
}

/// Every default ClusterRoleBinding.
pub fn cluster_role_bindings() -> Vec<Value> {
    let mut bindings = cluster_roles::bindings();
    bindings.extend(controller_roles::bindings());
    bindings
}

/// Every default Role (in `kube-system` and `kube-public`).
pub fn roles() -> Vec<Value> {
    namespace_roles::roles()
}

/// Every default RoleBinding (in `kube-system` and `kube-public`).
pub fn role_bindings() -> Vec<Value> {
    namespace_roles::bindings()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_bindings_name_their_roles() {
        let mut seen = std::collections::BTreeSet::new();
        for r in cluster_roles() {
            assert!(seen.insert(r["metadata"]["name"].as_str().unwrap().to_string()));
        }
        for b in cluster_role_bindings() {
            let role = b["roleRef"]["name"].as_str().unwrap();
            assert!(seen.contains(role), "{role} is bound but not defined");
        }
        for b in role_bindings() {
            let ns = b["metadata"]["namespace"].as_str().unwrap();
            let role = b["roleRef"]["name"].as_str().unwrap();
            assert!(
                roles()
                    .iter()
                    .any(|r| r["metadata"]["namespace"] == ns && r["metadata"]["name"] == role),
                "{ns}/{role} is bound but not defined"
            );
        }
    }

    #[test]
    fn rules_are_written_as_upstream_serializes_them() {
        assert_eq!(
            named(
                "update get",
                "coordination.k8s.io",
                "leases",
                "kube-scheduler"
            ),
            json!({"apiGroups": ["coordination.k8s.io"], "resources": ["leases"],
                   "resourceNames": ["kube-scheduler"], "verbs": ["get", "update"]})
        );
        assert_eq!(events_rule()["apiGroups"], json!(["", "events.k8s.io"]));
    }

    #[test]
    fn counts_are_kube_apiserver_1_33s() {
        // kube-apiserver 1.33 with its default feature gates: 31 ClusterRoles of policy.go
        // and 35 of controller_policy.go; 12 + 35 ClusterRoleBindings; 7 Roles and 7
        // RoleBindings in kube-system and kube-public.
        assert_eq!(cluster_roles::roles().len(), 31);
        assert_eq!(controller_roles::roles().len(), 35);
        assert_eq!(cluster_role_bindings().len(), 47);
        assert_eq!(roles().len(), 7);
        assert_eq!(role_bindings().len(), 7);
    }
}
