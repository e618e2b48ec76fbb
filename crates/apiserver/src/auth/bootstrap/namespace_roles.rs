//! The Roles and RoleBindings of `kube-system` and `kube-public` (upstream's
//! `namespace_policy.go`): reading the authentication ConfigMap extension API servers use,
//! the leader election leases of the scheduler and the controller manager, and what the
//! bootstrap signer, the token cleaner and cloud providers do in those namespaces.

use super::{binding, events_rule, named, role, rule, service_account, user};
use serde_json::Value;

const SYSTEM: &str = "kube-system";
const PUBLIC: &str = "kube-public";

/// A component's leader election in `kube-system`: the legacy ConfigMap lock named after it
/// (and, for the controller manager, whose ServiceAccounts elect leaders too, leases).
fn leader_locking(component: &str, leases: bool) -> Value {
    let mut rules = vec![
        rule("watch", "core", "configmaps"),
        named("get update", "core", "configmaps", component),
    ];
    if leases {
        rules.push(rule(
            "create get list update watch",
            "coordination.k8s.io",
            "leases",
        ));
    }
    role(
        SYSTEM,
        &format!("system::leader-locking-{component}"),
        rules,
    )
}

/// The Roles.
pub fn roles() -> Vec<Value> {
    vec![
        role(
            SYSTEM,
            "extension-apiserver-authentication-reader",
            vec![named(
                "get list watch",
                "core",
                "configmaps",
                "extension-apiserver-authentication",
            )],
        ),
        role(
            SYSTEM,
            "system:controller:bootstrap-signer",
            vec![rule("get list watch", "core", "secrets")],
        ),
        role(
            SYSTEM,
            "system:controller:cloud-provider",
            vec![rule("create get list watch", "core", "configmaps")],
        ),
        role(
            SYSTEM,
            "system:controller:token-cleaner",
            vec![
                rule("delete get list watch", "core", "secrets"),
                events_rule(),
            ],
        ),
        leader_locking("kube-controller-manager", true),
        leader_locking("kube-scheduler", false),
        role(
            PUBLIC,
            "system:controller:bootstrap-signer",
            vec![
                rule("get list watch", "core", "configmaps"),
                named("update", "core", "configmaps", "cluster-info"),
                events_rule(),
            ],
        ),
    ]
}

/// The RoleBindings.
pub fn bindings() -> Vec<Value> {
    let controller = |ns: &str, name: &str| {
        let role = format!("system:controller:{name}");
        binding(ns, &role, &role, vec![service_account(SYSTEM, name)])
    };
    vec![
        binding(
            SYSTEM,
            "system::extension-apiserver-authentication-reader",
            "extension-apiserver-authentication-reader",
            vec![
                user("system:kube-controller-manager"),
                user("system:kube-scheduler"),
            ],
        ),
        binding(
            SYSTEM,
            "system::leader-locking-kube-controller-manager",
            "system::leader-locking-kube-controller-manager",
            vec![
                user("system:kube-controller-manager"),
                service_account(SYSTEM, "kube-controller-manager"),
                service_account(SYSTEM, "leader-election-controller"),
            ],
        ),
        binding(
            SYSTEM,
            "system::leader-locking-kube-scheduler",
            "system::leader-locking-kube-scheduler",
            vec![
                user("system:kube-scheduler"),
                service_account(SYSTEM, "kube-scheduler"),
            ],
        ),
        controller(SYSTEM, "bootstrap-signer"),
        controller(SYSTEM, "cloud-provider"),
        controller(SYSTEM, "token-cleaner"),
        controller(PUBLIC, "bootstrap-signer"),
    ]
}
