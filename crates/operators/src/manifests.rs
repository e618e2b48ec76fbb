//! What a cluster needs to run an operator, generated from the operator's declarations
//! (kubebuilder's `make manifests`): its CRDs, a ServiceAccount, a least-privilege ClusterRole
//! and its binding, a Role for leader election in the operator's own namespace, and a Deployment
//! running `kubeforge run --operators NAME`; for an operator with webhooks, also their Service,
//! the Deployment's webhook port and serving-certificate volume, the webhook configurations
//! and the conversion of CRDs it converts (their `caBundle` injected by cert-manager) and
//! cert-manager's Issuer and Certificate
//! ([`cert_manager_objects`], as kubebuilder's `config/certmanager/`).

use crate::Operator;
use crate::rbac::{self, Access};
use crate::webhooks::{self, WEBHOOK_PORT};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::events::v1::Event;
use serde_json::{Value, json};

/// The namespace operators are deployed into.
pub const NAMESPACE: &str = "kubeforge-system";
/// The image the Deployment runs unless told otherwise.
pub const DEFAULT_IMAGE: &str = concat!("ghcr.io/kubeforge/kubeforge:v", env!("CARGO_PKG_VERSION"));
/// Port of `/metrics` in the operator's Pod.
pub const METRICS_PORT: u16 = 8080;
/// Port of `/healthz` and `/readyz` in the operator's Pod.
pub const HEALTH_PORT: u16 = 8081;

/// Where the Deployment mounts the webhooks' serving certificate (controller-runtime's default
/// `<temp dir>/k8s-webhook-server/serving-certs`).
pub const WEBHOOK_CERT_DIR: &str = "/tmp/k8s-webhook-server/serving-certs";

/// The Service the API server calls an operator's webhooks through (443 to the Pod's 9443).
pub fn webhook_service_name(operator: &Operator) -> String {
    format!("{}-webhook-service", object_name(operator))
}

/// The Secret holding an operator's webhook serving certificate (`tls.crt`, `tls.key`).
pub fn webhook_cert_secret(operator: &Operator) -> String {
    format!("{}-webhook-server-cert", object_name(operator))
}

/// The cert-manager Certificate issuing [`webhook_cert_secret`]; the webhook configurations
/// name it for cert-manager's CA injector.
pub fn serving_cert_name(operator: &Operator) -> String {
    format!("{}-serving-cert", object_name(operator))
}

/// What every operator needs besides its own declarations: publishing events about the objects
/// it reconciles.
pub fn common_permissions() -> Vec<Access> {
    vec![Access::on::<Event>(&["create", "patch"])]
}

/// The cluster-wide permissions of `operator`: its declarations plus [`common_permissions`].
pub fn cluster_permissions(operator: &Operator) -> Vec<Access> {
    let mut accesses = (operator.permissions)();
    accesses.extend(common_permissions());
    accesses
}

/// The name of an operator's ServiceAccount, roles, bindings and Deployment.
pub fn object_name(operator: &Operator) -> String {
    format!("kubeforge-{}", operator.name)
}

/// Every object, in the order `kubectl apply -f` needs them.
pub fn objects(operator: &Operator, image: &str) -> Vec<Value> {
    let name = object_name(operator);
    let labels = json!({
        "app.kubernetes.io/name": name,
        "app.kubernetes.io/part-of": "kubeforge",
    });
    let mut out = vec![json!({
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": NAMESPACE},
    })];
    let conversions = webhooks::conversions(operator);
    for crd in (operator.crds)() {
        let mut crd = serde_json::to_value(crd).unwrap_or_default();
        if let Some(versions) = crd.pointer_mut("/spec/versions") {
            go_numbers(versions);
        }
        // A CRD converted by the operator's webhook calls it through the webhook Service, its
        // `caBundle` injected by cert-manager as the webhook configurations' is.
        if let Some(conversion) = conversions
            .iter()
            .find(|w| crd["metadata"]["name"] == w.name)
        {
            crd["spec"]["conversion"] = webhooks::crd_conversion(
                conversion,
                &json!({"service": {"name": webhook_service_name(operator), "namespace": NAMESPACE}}),
            );
            crd["metadata"]["annotations"]["cert-manager.io/inject-ca-from"] =
                json!(format!("{NAMESPACE}/{}", serving_cert_name(operator)));
        }
        out.push(crd);
    }
    out.push(json!({
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {"name": name, "namespace": NAMESPACE, "labels": labels},
    }));
    out.push(json!({
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {"name": name, "labels": labels},
        "rules": rbac::policy_rules(&cluster_permissions(operator)),
    }));
    out.push(json!({
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {"name": name, "labels": labels},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": name},
        "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": NAMESPACE}],
    }));
    let leader_election = format!("{name}-leader-election");
    out.push(json!({
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": {"name": leader_election, "namespace": NAMESPACE, "labels": labels},
        "rules": rbac::policy_rules(&[Access::on::<Lease>(&["get", "list", "watch", "create", "update", "patch"])]),
    }));
    out.push(json!({
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": {"name": leader_election, "namespace": NAMESPACE, "labels": labels},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": leader_election},
        "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": NAMESPACE}],
    }));
    out.push(json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": NAMESPACE, "labels": labels},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app.kubernetes.io/name": name}},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "serviceAccountName": name,
                    "securityContext": {"runAsNonRoot": true, "seccompProfile": {"type": "RuntimeDefault"}},
                    "containers": [{
                        "name": "manager",
                        "image": image,
                        "args": [
                            "run",
                            "--operators", operator.name,
                            "--leader-election-namespace", NAMESPACE,
                            "--metrics-addr", format!("0.0.0.0:{METRICS_PORT}"),
                            "--health-addr", format!("0.0.0.0:{HEALTH_PORT}"),
                        ],
                        "env": [{"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}],
                        "ports": [
                            {"name": "metrics", "containerPort": METRICS_PORT},
                            {"name": "health", "containerPort": HEALTH_PORT},
                        ],
                        "livenessProbe": {"httpGet": {"path": "/healthz", "port": "health"}},
                        "readinessProbe": {"httpGet": {"path": "/readyz", "port": "health"}},
                        "resources": {
                            "requests": {"cpu": "10m", "memory": "32Mi"},
                            "limits": {"memory": "256Mi"},
                        },
                        "securityContext": {
                            "allowPrivilegeEscalation": false,
                            "readOnlyRootFilesystem": true,
                            "capabilities": {"drop": ["ALL"]},
                        },
                    }],
                },
            },
        },
    }));
    if !(operator.webhooks)().is_empty() {
        mount_webhook_server(operator, &mut out);
        let service = webhook_service_name(operator);
        out.push(json!({
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": service, "namespace": NAMESPACE, "labels": labels},
            "spec": {
                "selector": {"app.kubernetes.io/name": name},
                "ports": [{"port": 443, "protocol": "TCP", "targetPort": WEBHOOK_PORT}],
            },
        }));
        let metadata = json!({
            "labels": labels,
            "annotations": {
                "cert-manager.io/inject-ca-from": format!("{NAMESPACE}/{}", serving_cert_name(operator)),
            },
        });
        out.extend(webhooks::configurations(
            operator,
            &name,
            &json!({"service": {"name": service, "namespace": NAMESPACE}}),
            &metadata,
        ));
    }
    if operator.name == crate::eventhorizon::NAME {
        crate::eventhorizon::extend_manifests(&mut out, NAMESPACE, &name);
    }
    out
}

/// Has the Deployment's manager container serve the webhooks: their port, and the certificate
/// Secret mounted where `run --webhook-cert-dir` reads it.
fn mount_webhook_server(operator: &Operator, out: &mut [Value]) {
    let Some(deployment) = out.iter_mut().find(|o| o["kind"] == "Deployment") else {
        return;
    };
    let pod = &mut deployment["spec"]["template"]["spec"];
    pod["volumes"] =
        json!([{"name": "cert", "secret": {"secretName": webhook_cert_secret(operator)}}]);
    let container = &mut pod["containers"][0];
    if let Some(args) = container["args"].as_array_mut() {
        args.extend([
            json!("--webhook-addr"),
            json!(format!("0.0.0.0:{WEBHOOK_PORT}")),
            json!("--webhook-cert-dir"),
            json!(WEBHOOK_CERT_DIR),
        ]);
    }
    if let Some(ports) = container["ports"].as_array_mut() {
        ports.push(
            json!({"name": "webhook-server", "containerPort": WEBHOOK_PORT, "protocol": "TCP"}),
        );
    }
    container["volumeMounts"] =
        json!([{"name": "cert", "mountPath": WEBHOOK_CERT_DIR, "readOnly": true}]);
}

/// cert-manager's self-signed Issuer and the Certificate it issues for the webhook Service into
/// [`webhook_cert_secret`] (kubebuilder's `config/certmanager/`); none without webhooks. They
/// need cert-manager's CRDs in the cluster, so `kubeforge manifests` prints them only with
/// `--cert-manager`.
pub fn cert_manager_objects(operator: &Operator) -> Vec<Value> {
    if (operator.webhooks)().is_empty() {
        return Vec::new();
    }
    let name = object_name(operator);
    let labels = json!({"app.kubernetes.io/name": name, "app.kubernetes.io/part-of": "kubeforge"});
    let issuer = format!("{name}-selfsigned-issuer");
    let service = webhook_service_name(operator);
    vec![
        json!({
            "apiVersion": "cert-manager.io/v1",
            "kind": "Issuer",
            "metadata": {"name": issuer, "namespace": NAMESPACE, "labels": labels},
            "spec": {"selfSigned": {}},
        }),
        json!({
            "apiVersion": "cert-manager.io/v1",
            "kind": "Certificate",
            "metadata": {"name": serving_cert_name(operator), "namespace": NAMESPACE, "labels": labels},
            "spec": {
                "dnsNames": [
                    format!("{service}.{NAMESPACE}.svc"),
                    format!("{service}.{NAMESPACE}.svc.cluster.local"),
                ],
                "issuerRef": {"kind": "Issuer", "name": issuer},
                "secretName": webhook_cert_secret(operator),
            },
        }),
    ]
}

/// [`cert_manager_objects`] as a YAML stream (empty without webhooks).
pub fn cert_manager_yaml(operator: &Operator) -> String {
    let mut text = String::new();
    for object in cert_manager_objects(operator) {
        text.push_str("---\n");
        text.push_str(&serde_norway::to_string(&object).unwrap_or_default());
    }
    text
}

/// [`objects`] as one multi-document YAML stream, with a header saying how it was made.
pub fn yaml(operator: &Operator, image: &str) -> String {
    let mut text = format!(
        "# Generated by `kubeforge manifests --operator {}`; do not edit.\n# {}\n",
        operator.name, operator.summary
    );
    for object in objects(operator, image) {
        text.push_str("---\n");
        text.push_str(&serde_norway::to_string(&object).unwrap_or_default());
    }
    text
}

/// The schema's float64 fields (`minimum`, `maximum`, `multipleOf`) as Go writes them: `10`, not
/// `10.0` (k8s-openapi holds them as `f64`, and serde writes an integral `f64` with a fraction).
fn go_numbers(v: &mut Value) {
    match v {
        Value::Object(map) => {
            for (key, child) in map.iter_mut() {
                match child.as_f64() {
                    Some(f)
                        if child.is_f64()
                            && matches!(key.as_str(), "minimum" | "maximum" | "multipleOf")
                            && f.fract() == 0.0
                            && f.abs() < 1e15 =>
                    {
                        *child = Value::from(f as i64)
                    }
                    _ => go_numbers(child),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(go_numbers),
        _ => {}
    }
}
