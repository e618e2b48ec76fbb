//! The ClusterRoles and ClusterRoleBindings of users and components (upstream's `policy.go`):
//! who may read discovery and health, the user-facing `admin`/`edit`/`view` and what is
//! aggregated into them, and the roles of nodes, kube-proxy, the scheduler, the controller
//! manager, kube-dns, monitoring, certificate approvers and volume provisioners.

use super::{
    cluster_binding, cluster_role, events_rule, group, named, rule, service_account, urls, user,
};
use serde_json::{Value, json};

const READ: &str = "get list watch";
const WRITE: &str = "create delete deletecollection patch update";
const READ_WRITE: &str = "create delete deletecollection get list patch update watch";

/// The rules of `cluster-admin`: everything.
pub fn cluster_admin_rules() -> Value {
    json!([rule("*", "*", "*"), urls("*", "*")])
}

/// An empty ClusterRole filled by the aggregation controller from the roles labelled
/// `aggregate-to-<name>`, itself aggregated into `into` when given.
fn aggregated(name: &str, into: Option<&str>) -> Value {
    let mut role = cluster_role(name, Vec::new());
    role["aggregationRule"] = json!({"clusterRoleSelectors": [{"matchLabels": {
        format!("rbac.authorization.k8s.io/aggregate-to-{name}"): "true"}}]});
    if let Some(into) = into {
        role["metadata"]["labels"][format!("rbac.authorization.k8s.io/aggregate-to-{into}")] =
            json!("true");
    }
    role
}

/// `system:aggregate-to-<to>`: rules aggregated into the user-facing role `to`.
fn aggregate_to(to: &str, rules: Vec<Value>) -> Value {
    let mut role = cluster_role(&format!("system:aggregate-to-{to}"), rules);
    role["metadata"]["labels"][format!("rbac.authorization.k8s.io/aggregate-to-{to}")] =
        json!("true");
    role
}

fn user_facing() -> Vec<Value> {
    vec![
        aggregated("admin", None),
        aggregated("edit", Some("admin")),
        aggregated("view", Some("edit")),
        aggregate_to(
            "admin",
            vec![
                rule(
                    "create",
                    "authorization.k8s.io",
                    "localsubjectaccessreviews",
                ),
                rule(
                    READ_WRITE,
                    "rbac.authorization.k8s.io",
                    "rolebindings roles",
                ),
            ],
        ),
        aggregate_to(
            "edit",
            vec![
                rule(
                    READ,
                    "core",
                    "pods/attach pods/exec pods/portforward pods/proxy secrets services/proxy",
                ),
                rule("impersonate", "core", "serviceaccounts"),
                rule(
                    WRITE,
                    "core",
                    "pods pods/attach pods/exec pods/portforward pods/proxy",
                ),
                rule("create", "core", "pods/eviction"),
                rule(
                    WRITE,
                    "core",
                    "configmaps events persistentvolumeclaims replicationcontrollers \
                     replicationcontrollers/scale secrets serviceaccounts services services/proxy",
                ),
                rule("create", "core", "serviceaccounts/token"),
                rule(
                    WRITE,
                    "apps",
                    "daemonsets deployments deployments/rollback deployments/scale replicasets \
                     replicasets/scale statefulsets statefulsets/scale",
                ),
                rule(WRITE, "autoscaling", "horizontalpodautoscalers"),
                rule(WRITE, "batch", "cronjobs jobs"),
                rule(
                    WRITE,
                    "extensions",
                    "daemonsets deployments deployments/rollback deployments/scale ingresses \
                     networkpolicies replicasets replicasets/scale replicationcontrollers/scale",
                ),
                rule(WRITE, "policy", "poddisruptionbudgets"),
                rule(WRITE, "networking.k8s.io", "ingresses networkpolicies"),
                rule(READ_WRITE, "coordination.k8s.io", "leases"),
            ],
        ),
        aggregate_to(
            "view",
            vec![
                rule(
                    READ,
                    "core",
                    "configmaps endpoints persistentvolumeclaims persistentvolumeclaims/status \
                     pods replicationcontrollers replicationcontrollers/scale serviceaccounts \
                     services services/status",
                ),
                rule(
                    READ,
                    "core",
                    "bindings events limitranges namespaces/status pods/log pods/status \
                     replicationcontrollers/status resourcequotas resourcequotas/status",
                ),
                rule(READ, "core", "namespaces"),
                rule(READ, "discovery.k8s.io", "endpointslices"),
                rule(
                    READ,
                    "apps",
                    "controllerrevisions daemonsets daemonsets/status deployments \
                     deployments/scale deployments/status replicasets replicasets/scale \
                     replicasets/status statefulsets statefulsets/scale statefulsets/status",
                ),
                rule(
                    READ,
                    "autoscaling",
                    "horizontalpodautoscalers horizontalpodautoscalers/status",
                ),
                rule(READ, "batch", "cronjobs cronjobs/status jobs jobs/status"),
                rule(
                    READ,
                    "extensions",
                    "daemonsets daemonsets/status deployments deployments/scale \
                     deployments/status ingresses ingresses/status networkpolicies replicasets \
                     replicasets/scale replicasets/status replicationcontrollers/scale",
                ),
                rule(
                    READ,
                    "policy",
                    "poddisruptionbudgets poddisruptionbudgets/status",
                ),
                rule(
                    READ,
                    "networking.k8s.io",
                    "ingresses ingresses/status networkpolicies",
                ),
            ],
        ),
    ]
}

/// Who may read discovery, health and identity information.
fn information() -> Vec<Value> {
    vec![
        cluster_role(
            "cluster-admin",
            cluster_admin_rules()
                .as_array()
                .cloned()
                .unwrap_or_default(),
        ),
        cluster_role(
            "system:discovery",
            vec![urls(
                "get",
                "/api /api/* /apis /apis/* /healthz /livez /openapi /openapi/* /readyz \
                 /version /version/",
            )],
        ),
        cluster_role(
            "system:public-info-viewer",
            vec![urls("get", "/healthz /livez /readyz /version /version/")],
        ),
        cluster_role(
            "system:monitoring",
            vec![urls(
                "get",
                "/healthz /healthz/* /livez /livez/* /metrics /metrics/slis /readyz /readyz/*",
            )],
        ),
        cluster_role(
            "system:basic-user",
            vec![
                rule(
                    "create",
                    "authorization.k8s.io",
                    "selfsubjectaccessreviews selfsubjectrulesreviews",
                ),
                rule("create", "authentication.k8s.io", "selfsubjectreviews"),
            ],
        ),
        cluster_role(
            "system:auth-delegator",
            vec![
                rule("create", "authentication.k8s.io", "tokenreviews"),
                rule("create", "authorization.k8s.io", "subjectaccessreviews"),
            ],
        ),
        cluster_role(
            "system:service-account-issuer-discovery",
            vec![urls(
                "get",
                "/.well-known/openid-configuration /openid/v1/jwks",
            )],
        ),
    ]
}

/// The roles of nodes and what runs on them.
fn node_roles() -> Vec<Value> {
    vec![
        cluster_role(
            "system:node",
            vec![
                rule("create", "authentication.k8s.io", "tokenreviews"),
                rule(
                    "create",
                    "authorization.k8s.io",
                    "localsubjectaccessreviews subjectaccessreviews",
                ),
                rule(READ, "core", "services"),
                rule("create get list watch", "core", "nodes"),
                rule("patch update", "core", "nodes/status"),
                rule("patch update", "core", "nodes"),
                rule("create patch update", "core", "events"),
                rule(READ, "core", "pods"),
                rule("create delete", "core", "pods"),
                rule("patch update", "core", "pods/status"),
                rule("create", "core", "pods/eviction"),
                rule(READ, "core", "configmaps secrets"),
                rule("get", "core", "persistentvolumeclaims persistentvolumes"),
                rule("get", "core", "endpoints"),
                rule(
                    "create get list watch",
                    "certificates.k8s.io",
                    "certificatesigningrequests",
                ),
                rule(
                    "create delete get patch update",
                    "coordination.k8s.io",
                    "leases",
                ),
                rule("get", "storage.k8s.io", "volumeattachments"),
                rule("create", "core", "serviceaccounts/token"),
                rule("get patch update", "core", "persistentvolumeclaims/status"),
                rule(READ, "storage.k8s.io", "csidrivers"),
                rule(
                    "create delete get patch update",
                    "storage.k8s.io",
                    "csinodes",
                ),
                rule(READ, "node.k8s.io", "runtimeclasses"),
            ],
        ),
        cluster_role(
            "system:node-problem-detector",
            vec![
                rule("get", "core", "nodes"),
                rule("patch", "core", "nodes/status"),
                events_rule(),
            ],
        ),
        cluster_role(
            "system:kubelet-api-admin",
            vec![
                rule(READ, "core", "nodes"),
                rule("proxy", "core", "nodes"),
                rule(
                    "*",
                    "core",
                    "nodes/log nodes/metrics nodes/proxy nodes/stats",
                ),
            ],
        ),
        cluster_role(
            "system:node-bootstrapper",
            vec![rule(
                "create get list watch",
                "certificates.k8s.io",
                "certificatesigningrequests",
            )],
        ),
        cluster_role(
            "system:node-proxier",
            vec![
                rule("list watch", "core", "endpoints services"),
                rule(READ, "core", "nodes"),
                events_rule(),
                rule("list watch", "discovery.k8s.io", "endpointslices"),
            ],
        ),
    ]
}

/// The roles of the control plane's components and add-ons.
fn component_roles() -> Vec<Value> {
    vec![
        cluster_role(
            "system:heapster",
            vec![
                rule(READ, "core", "events namespaces nodes pods"),
                rule(READ, "extensions", "deployments"),
            ],
        ),
        cluster_role(
            "system:kube-aggregator",
            vec![rule(READ, "core", "endpoints services")],
        ),
        cluster_role(
            "system:kube-controller-manager",
            vec![
                events_rule(),
                rule("create", "coordination.k8s.io", "leases"),
                named(
                    "get update",
                    "coordination.k8s.io",
                    "leases",
                    "kube-controller-manager",
                ),
                rule("create", "core", "secrets serviceaccounts"),
                rule("delete", "core", "secrets"),
                rule(
                    "get",
                    "core",
                    "configmaps namespaces secrets serviceaccounts",
                ),
                rule("update", "core", "secrets serviceaccounts"),
                rule("create", "authentication.k8s.io", "tokenreviews"),
                rule("create", "authorization.k8s.io", "subjectaccessreviews"),
                rule("list watch", "*", "*"),
                rule("create", "core", "serviceaccounts/token"),
            ],
        ),
        cluster_role(
            "system:kube-dns",
            vec![rule("list watch", "core", "endpoints services")],
        ),
        cluster_role(
            "system:kube-scheduler",
            vec![
                events_rule(),
                rule("create", "coordination.k8s.io", "leases"),
                named(
                    "get update",
                    "coordination.k8s.io",
                    "leases",
                    "kube-scheduler",
                ),
                rule(READ, "core", "nodes"),
                rule("delete get list watch", "core", "pods"),
                rule("create", "core", "bindings pods/binding"),
                rule("patch update", "core", "pods/status"),
                rule(READ, "core", "replicationcontrollers services"),
                rule(READ, "apps extensions", "replicasets"),
                rule(READ, "apps", "statefulsets"),
                rule(READ, "policy", "poddisruptionbudgets"),
                rule(READ, "core", "persistentvolumeclaims persistentvolumes"),
                rule("create", "authentication.k8s.io", "tokenreviews"),
                rule("create", "authorization.k8s.io", "subjectaccessreviews"),
                rule(READ, "storage.k8s.io", "csinodes"),
                rule(READ, "core", "namespaces"),
                rule(READ, "storage.k8s.io", "csidrivers"),
                rule(READ, "storage.k8s.io", "csistoragecapacities"),
            ],
        ),
        cluster_role(
            "system:volume-scheduler",
            vec![
                rule("get list patch update watch", "core", "persistentvolumes"),
                rule(READ, "storage.k8s.io", "storageclasses"),
                rule(
                    "get list patch update watch",
                    "core",
                    "persistentvolumeclaims",
                ),
            ],
        ),
        cluster_role(
            "system:persistent-volume-provisioner",
            vec![
                rule("create delete get list watch", "core", "persistentvolumes"),
                rule("get list update watch", "core", "persistentvolumeclaims"),
                rule(READ, "storage.k8s.io", "storageclasses"),
                rule("watch", "core", "events"),
                events_rule(),
            ],
        ),
    ]
}

/// Who may request and approve certificates of the built-in signers.
fn certificate_roles() -> Vec<Value> {
    let csr = |name: &str, subresource: &str| {
        cluster_role(
            &format!("system:certificates.k8s.io:certificatesigningrequests:{name}"),
            vec![rule(
                "create",
                "certificates.k8s.io",
                &format!("certificatesigningrequests/{subresource}"),
            )],
        )
    };
    let approver = |role: &str, signer: &str| {
        cluster_role(
            &format!("system:certificates.k8s.io:{role}"),
            vec![named(
                "approve",
                "certificates.k8s.io",
                "signers",
                &format!("kubernetes.io/{signer}"),
            )],
        )
    };
    vec![
        csr("nodeclient", "nodeclient"),
        csr("selfnodeclient", "selfnodeclient"),
        approver("kube-apiserver-client-approver", "kube-apiserver-client"),
        approver(
            "kube-apiserver-client-kubelet-approver",
            "kube-apiserver-client-kubelet",
        ),
        approver("kubelet-serving-approver", "kubelet-serving"),
        approver("legacy-unknown-approver", "legacy-unknown"),
    ]
}

/// The ClusterRoles of `policy.go`.
pub fn roles() -> Vec<Value> {
    let mut roles = user_facing();
    roles.extend(information());
    roles.extend(node_roles());
    roles.extend(component_roles());
    roles.extend(certificate_roles());
    roles
}

/// The ClusterRoleBindings of `policy.go`.
pub fn bindings() -> Vec<Value> {
    let same = |name: &str, subjects: Vec<Value>| cluster_binding(name, name, subjects);
    vec![
        same("cluster-admin", vec![group("system:masters")]),
        same("system:monitoring", vec![group("system:monitoring")]),
        same("system:discovery", vec![group("system:authenticated")]),
        same("system:basic-user", vec![group("system:authenticated")]),
        same(
            "system:public-info-viewer",
            vec![
                group("system:authenticated"),
                group("system:unauthenticated"),
            ],
        ),
        same("system:node-proxier", vec![user("system:kube-proxy")]),
        same(
            "system:kube-controller-manager",
            vec![user("system:kube-controller-manager")],
        ),
        same(
            "system:kube-dns",
            vec![service_account("kube-system", "kube-dns")],
        ),
        same("system:kube-scheduler", vec![user("system:kube-scheduler")]),
        same(
            "system:volume-scheduler",
            vec![user("system:kube-scheduler")],
        ),
        same(
            "system:service-account-issuer-discovery",
            vec![group("system:serviceaccounts")],
        ),
        // Nodes are authorized by the Node authorizer; the binding stays, with no subjects, so
        // that reconciliation does not bind the role to `system:nodes` again.
        same("system:node", Vec::new()),
    ]
}
