//! The roles of kube-controller-manager's controllers (upstream's `controller_policy.go`):
//! `system:controller:<name>`, bound to the ServiceAccount `kube-system:<name>` that the
//! controller runs as when the controller manager uses service account credentials.
//! Controllers whose feature gate is off by default in 1.33 (resource claims, device taints,
//! VolumeAttributesClass, ClusterTrustBundle, storage versions) have no role.

use super::{cluster_binding, cluster_role, events_rule, named, rule, service_account};
use serde_json::Value;

const PREFIX: &str = "system:controller:";
const READ: &str = "get list watch";
const ALL_BUT_DELETECOLLECTION: &str = "create delete get list patch update watch";

/// Each controller's name (without the prefix) and rules. Every rule list that records events
/// ends with [`events_rule`], as upstream's.
fn table() -> Vec<(&'static str, Vec<Value>)> {
    let ev = events_rule;
    vec![
        (
            "attachdetach-controller",
            vec![
                rule(
                    "list watch",
                    "core",
                    "persistentvolumeclaims persistentvolumes",
                ),
                rule(READ, "core", "nodes"),
                rule("patch update", "core", "nodes/status"),
                rule("list watch", "core", "pods"),
                ev(),
                rule(
                    "create delete get list watch",
                    "storage.k8s.io",
                    "volumeattachments",
                ),
                rule(READ, "storage.k8s.io", "csidrivers"),
                rule(READ, "storage.k8s.io", "csinodes"),
            ],
        ),
        (
            "clusterrole-aggregation-controller",
            vec![rule(
                "escalate get list patch update watch",
                "rbac.authorization.k8s.io",
                "clusterroles",
            )],
        ),
        (
            "cronjob-controller",
            vec![
                rule("get list update watch", "batch", "cronjobs"),
                rule(ALL_BUT_DELETECOLLECTION, "batch", "jobs"),
                rule("update", "batch", "cronjobs/status"),
                rule("update", "batch", "cronjobs/finalizers"),
                rule("delete list watch", "core", "pods"),
                ev(),
            ],
        ),
        (
            "daemon-set-controller",
            vec![
                rule(READ, "apps extensions", "daemonsets"),
                rule("update", "apps extensions", "daemonsets/status"),
                rule("update", "apps extensions", "daemonsets/finalizers"),
                rule("list watch", "core", "nodes"),
                rule("create delete list patch watch", "core", "pods"),
                rule("create", "core", "pods/binding"),
                rule(ALL_BUT_DELETECOLLECTION, "apps", "controllerrevisions"),
                ev(),
            ],
        ),
        (
            "deployment-controller",
            vec![
                rule("get list update watch", "apps extensions", "deployments"),
                rule("update", "apps extensions", "deployments/status"),
                rule("update", "apps extensions", "deployments/finalizers"),
                rule(ALL_BUT_DELETECOLLECTION, "apps extensions", "replicasets"),
                rule("get list update watch", "core", "pods"),
                ev(),
            ],
        ),
        (
            "disruption-controller",
            vec![
                rule(READ, "apps extensions", "deployments"),
                rule(READ, "apps extensions", "replicasets"),
                rule(READ, "core", "replicationcontrollers"),
                rule(READ, "policy", "poddisruptionbudgets"),
                rule(READ, "apps", "statefulsets"),
                rule("update", "policy", "poddisruptionbudgets/status"),
                rule("patch update", "core", "pods/status"),
                rule("get", "*", "*/scale"),
                ev(),
            ],
        ),
        (
            "endpoint-controller",
            vec![
                rule(READ, "core", "pods services"),
                rule("create delete get list update watch", "core", "endpoints"),
                rule("create", "core", "endpoints/restricted"),
                ev(),
            ],
        ),
        (
            "endpointslice-controller",
            vec![
                rule(READ, "core", "nodes pods services"),
                rule("update", "core", "services/finalizers"),
                rule(
                    "create delete get list update watch",
                    "discovery.k8s.io",
                    "endpointslices",
                ),
                ev(),
            ],
        ),
        (
            "endpointslicemirroring-controller",
            vec![
                rule(READ, "core", "endpoints services"),
                rule("update", "core", "services/finalizers"),
                rule("update", "core", "endpoints/finalizers"),
                rule(
                    "create delete get list update watch",
                    "discovery.k8s.io",
                    "endpointslices",
                ),
                ev(),
            ],
        ),
        (
            "expand-controller",
            vec![
                rule("get list patch update watch", "core", "persistentvolumes"),
                rule("patch update", "core", "persistentvolumeclaims/status"),
                rule(READ, "core", "persistentvolumeclaims"),
                ev(),
                // The in-tree Portworx volume plugin, still present in 1.33.
                rule("get", "core", "services"),
            ],
        ),
        (
            "ephemeral-volume-controller",
            vec![
                rule(READ, "core", "pods"),
                rule("update", "core", "pods/finalizers"),
                rule("create get list watch", "core", "persistentvolumeclaims"),
                ev(),
            ],
        ),
        (
            "generic-garbage-collector",
            vec![rule("delete get list patch update watch", "*", "*"), ev()],
        ),
        (
            "horizontal-pod-autoscaler",
            vec![
                rule(READ, "autoscaling", "horizontalpodautoscalers"),
                rule("update", "autoscaling", "horizontalpodautoscalers/status"),
                rule("get update", "*", "*/scale"),
                rule("list watch", "core", "pods"),
                rule("list watch", "metrics.k8s.io", "pods"),
                rule(READ, "custom.metrics.k8s.io", "*"),
                rule(READ, "external.metrics.k8s.io", "*"),
                ev(),
            ],
        ),
        (
            "job-controller",
            vec![
                rule("get list patch update watch", "batch", "jobs"),
                rule("update", "batch", "jobs/status"),
                rule("update", "batch", "jobs/finalizers"),
                rule("create delete list patch watch", "core", "pods"),
                ev(),
            ],
        ),
        (
            "namespace-controller",
            vec![
                rule("delete get list watch", "core", "namespaces"),
                rule("update", "core", "namespaces/finalize namespaces/status"),
                rule("delete deletecollection get list watch", "*", "*"),
            ],
        ),
        (
            "node-controller",
            vec![
                rule("delete get list patch update watch", "core", "nodes"),
                rule("patch update", "core", "nodes/status"),
                rule("patch update", "core", "pods/status"),
                rule("delete get list watch", "core", "pods"),
                ev(),
            ],
        ),
        (
            "persistent-volume-binder",
            vec![
                rule(
                    "create delete get list update watch",
                    "core",
                    "persistentvolumes",
                ),
                rule("update", "core", "persistentvolumes/status"),
                rule("get list update watch", "core", "persistentvolumeclaims"),
                rule("update", "core", "persistentvolumeclaims/status"),
                rule("create delete get list watch", "core", "pods"),
                rule(READ, "storage.k8s.io", "storageclasses"),
                rule("list watch", "core", "nodes"),
                ev(),
                // The recycler watches its pod's events.
                rule("watch", "core", "events"),
                // The in-tree Portworx volume plugin, still present in 1.33.
                rule("get", "core", "services"),
            ],
        ),
        (
            "pod-garbage-collector",
            vec![
                rule("delete list watch", "core", "pods"),
                rule(READ, "core", "nodes"),
                rule("patch", "core", "pods/status"),
            ],
        ),
        (
            "replicaset-controller",
            vec![
                rule("get list update watch", "apps extensions", "replicasets"),
                rule("update", "apps extensions", "replicasets/status"),
                rule("update", "apps extensions", "replicasets/finalizers"),
                rule("create delete list patch watch", "core", "pods"),
                ev(),
            ],
        ),
        (
            "replication-controller",
            vec![
                rule("get list update watch", "core", "replicationcontrollers"),
                rule("update", "core", "replicationcontrollers/status"),
                rule("update", "core", "replicationcontrollers/finalizers"),
                rule("create delete list patch watch", "core", "pods"),
                ev(),
            ],
        ),
        (
            "resourcequota-controller",
            vec![
                rule("list watch", "*", "*"),
                rule("update", "core", "resourcequotas/status"),
                ev(),
            ],
        ),
        (
            "route-controller",
            vec![
                rule("list watch", "core", "nodes"),
                rule("patch", "core", "nodes/status"),
                ev(),
            ],
        ),
        (
            "service-account-controller",
            vec![rule("create", "core", "serviceaccounts"), ev()],
        ),
        (
            "service-controller",
            vec![
                rule(READ, "core", "services"),
                rule("patch update", "core", "services/status"),
                rule("list watch", "core", "nodes"),
                ev(),
            ],
        ),
        (
            "service-cidrs-controller",
            vec![
                rule(
                    "get list patch update watch",
                    "networking.k8s.io",
                    "servicecidrs",
                ),
                rule(
                    "patch update",
                    "networking.k8s.io",
                    "servicecidrs/finalizers",
                ),
                rule("patch update", "networking.k8s.io", "servicecidrs/status"),
                rule(READ, "networking.k8s.io", "ipaddresses"),
                ev(),
            ],
        ),
        (
            "statefulset-controller",
            vec![
                rule("list watch", "core", "pods"),
                rule(READ, "apps", "statefulsets"),
                rule("update", "apps", "statefulsets/status"),
                rule("update", "apps", "statefulsets/finalizers"),
                rule("create delete get patch update", "core", "pods"),
                rule(ALL_BUT_DELETECOLLECTION, "apps", "controllerrevisions"),
                rule("create get list watch", "core", "persistentvolumeclaims"),
                rule("delete update", "core", "persistentvolumeclaims"),
                rule("update", "core", "pods/finalizers"),
                ev(),
            ],
        ),
        (
            "ttl-controller",
            vec![rule("list patch update watch", "core", "nodes"), ev()],
        ),
        (
            "certificate-controller",
            vec![
                rule(
                    "delete get list watch",
                    "certificates.k8s.io",
                    "certificatesigningrequests",
                ),
                rule(
                    "update",
                    "certificates.k8s.io",
                    "certificatesigningrequests/approval certificatesigningrequests/status",
                ),
                named(
                    "approve",
                    "certificates.k8s.io",
                    "signers",
                    "kubernetes.io/kube-apiserver-client-kubelet",
                ),
                named(
                    "sign",
                    "certificates.k8s.io",
                    "signers",
                    "kubernetes.io/kube-apiserver-client kubernetes.io/kube-apiserver-client-kubelet \
                     kubernetes.io/kubelet-serving kubernetes.io/legacy-unknown",
                ),
                rule("create", "authorization.k8s.io", "subjectaccessreviews"),
                ev(),
            ],
        ),
        (
            "pvc-protection-controller",
            vec![
                rule("get list update watch", "core", "persistentvolumeclaims"),
                rule(READ, "core", "pods"),
                ev(),
            ],
        ),
        (
            "pv-protection-controller",
            vec![
                rule("get list update watch", "core", "persistentvolumes"),
                ev(),
            ],
        ),
        (
            "ttl-after-finished-controller",
            vec![rule("delete get list watch", "batch", "jobs"), ev()],
        ),
        (
            "root-ca-cert-publisher",
            vec![rule("create update", "core", "configmaps"), ev()],
        ),
        (
            "validatingadmissionpolicy-status-controller",
            vec![
                rule(
                    READ,
                    "admissionregistration.k8s.io",
                    "validatingadmissionpolicies",
                ),
                rule(
                    "get patch update",
                    "admissionregistration.k8s.io",
                    "validatingadmissionpolicies/status",
                ),
                ev(),
            ],
        ),
        (
            "legacy-service-account-token-cleaner",
            vec![
                named(
                    "get",
                    "core",
                    "configmaps",
                    "kube-apiserver-legacy-service-account-token-tracking",
                ),
                rule("delete patch", "core", "secrets"),
            ],
        ),
        (
            "selinux-warning-controller",
            vec![
                ev(),
                rule(READ, "core", "persistentvolumes"),
                rule(READ, "core", "persistentvolumeclaims"),
                rule(READ, "core", "pods"),
                rule(READ, "storage.k8s.io", "csidrivers"),
            ],
        ),
    ]
}

/// The controllers' ClusterRoles.
pub fn roles() -> Vec<Value> {
    table()
        .into_iter()
        .map(|(name, rules)| cluster_role(&format!("{PREFIX}{name}"), rules))
        .collect()
}

/// Each controller's role bound to its ServiceAccount in `kube-system`.
pub fn bindings() -> Vec<Value> {
    table()
        .into_iter()
        .map(|(name, _)| {
            let role = format!("{PREFIX}{name}");
            cluster_binding(&role, &role, vec![service_account("kube-system", name)])
        })
        .collect()
}
