//! Bodies as client-go writes them (built with k8s-pb's messages) decode to the JSON the same
//! client would have sent.

use super::*;
use k8s_pb::api::apps::v1 as apps_v1;
use k8s_pb::api::coordination::v1 as coordination_v1;
use k8s_pb::api::core::v1 as core_v1;
use k8s_pb::api::rbac::v1 as rbac_v1;
use k8s_pb::apimachinery::pkg::api::resource::Quantity;
use k8s_pb::apimachinery::pkg::apis::meta::v1 as meta_v1;
use k8s_pb::apimachinery::pkg::runtime::{TypeMeta, Unknown};
use k8s_pb::apimachinery::pkg::util::intstr::IntOrString;
use prost::Message;
use schema_types::{Special, message_named};
use serde_json::json;
use std::collections::BTreeMap;

fn s(value: &str) -> Option<String> {
    Some(value.to_owned())
}

fn string_map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// Wraps a message the way client-go's protobuf serializer does.
fn envelope(api_version: &str, kind: &str, message: &impl Message) -> Vec<u8> {
    let unknown = Unknown {
        type_meta: Some(TypeMeta {
            api_version: s(api_version),
            kind: s(kind),
        }),
        raw: Some(message.encode_to_vec()),
        content_encoding: s(""),
        content_type: s(""),
    };
    let mut body = MAGIC.to_vec();
    body.extend(unknown.encode_to_vec());
    body
}

/// Compares serialized forms, so key order matters too.
fn assert_json(actual: &Value, expected: &Value) {
    assert_eq!(
        serde_json::to_string_pretty(actual).unwrap(),
        serde_json::to_string_pretty(expected).unwrap()
    );
}

/// Decodes a body client-go would send, and checks the way back on the same fixture: what
/// k8s-pb (messages generated from upstream's `.proto` files) reads from our encoding of the
/// JSON is a message that decodes to the same JSON.
fn decode_ok<M: Message + Default>(api_version: &str, kind: &str, message: &M) -> Value {
    let json = decode(&envelope(api_version, kind, message)).unwrap();
    let read: M = read_back(&encode(&json).unwrap(), api_version, kind);
    assert_json(&decode(&envelope(api_version, kind, &read)).unwrap(), &json);
    json
}

/// The message in a body [`encode`] wrote, checking the prefix and the envelope's type.
fn read_back<M: Message + Default>(body: &[u8], api_version: &str, kind: &str) -> M {
    let payload = body.strip_prefix(MAGIC.as_slice()).expect("k8s\\0 prefix");
    let unknown = Unknown::decode(payload).expect("runtime.Unknown");
    let type_meta = unknown.type_meta.expect("typeMeta");
    assert_eq!(type_meta.api_version.as_deref(), Some(api_version));
    assert_eq!(type_meta.kind.as_deref(), Some(kind));
    M::decode(unknown.raw.unwrap_or_default().as_slice()).expect("message")
}

/// ObjectMeta as Go writes it: every string present (possibly empty) and
/// a zero creation timestamp as an empty message.
fn go_meta(name: &str, namespace: &str, labels: &[(&str, &str)]) -> meta_v1::ObjectMeta {
    meta_v1::ObjectMeta {
        name: s(name),
        generate_name: s(""),
        namespace: s(namespace),
        self_link: s(""),
        uid: s(""),
        resource_version: s(""),
        generation: Some(0),
        creation_timestamp: Some(meta_v1::Time::default()),
        labels: string_map(labels),
        ..Default::default()
    }
}

/// A container as Go writes it, with every scalar present.
fn go_container(name: &str, image: &str) -> core_v1::Container {
    core_v1::Container {
        name: s(name),
        image: s(image),
        working_dir: s(""),
        resources: Some(core_v1::ResourceRequirements::default()),
        termination_message_path: s(""),
        termination_message_policy: s(""),
        image_pull_policy: s(""),
        stdin: Some(false),
        stdin_once: Some(false),
        tty: Some(false),
        ..Default::default()
    }
}

/// A PodSpec as Go writes it, with every scalar present.
fn go_pod_spec(containers: Vec<core_v1::Container>) -> core_v1::PodSpec {
    core_v1::PodSpec {
        containers,
        restart_policy: s(""),
        dns_policy: s(""),
        service_account_name: s(""),
        service_account: s(""),
        node_name: s(""),
        host_network: Some(false),
        host_pid: Some(false),
        host_ipc: Some(false),
        hostname: s(""),
        subdomain: s(""),
        scheduler_name: s(""),
        priority_class_name: s(""),
        ..Default::default()
    }
}

#[test]
fn namespace_as_kubectl_sends_it() {
    let ns = core_v1::Namespace {
        metadata: Some(go_meta("demo", "", &[])),
        spec: Some(core_v1::NamespaceSpec::default()),
        status: Some(core_v1::NamespaceStatus {
            phase: s(""),
            conditions: vec![],
        }),
    };
    assert_json(
        &decode_ok("v1", "Namespace", &ns),
        &json!({
            "kind": "Namespace",
            "apiVersion": "v1",
            "metadata": {"name": "demo", "creationTimestamp": null},
            "spec": {},
            "status": {}
        }),
    );
}

#[test]
fn config_map_with_data_and_binary_data() {
    let cm = core_v1::ConfigMap {
        metadata: Some(go_meta("settings", "default", &[("app", "web")])),
        immutable: Some(true),
        data: string_map(&[("b.conf", "x=1\n"), ("a", "")]),
        binary_data: [
            ("blob".to_owned(), vec![0, 1, 2, 0xfe, 0xff]),
            ("empty".to_owned(), vec![]),
        ]
        .into_iter()
        .collect(),
    };
    assert_json(
        &decode_ok("v1", "ConfigMap", &cm),
        &json!({
            "kind": "ConfigMap",
            "apiVersion": "v1",
            "metadata": {
                "name": "settings",
                "namespace": "default",
                "creationTimestamp": null,
                "labels": {"app": "web"}
            },
            "immutable": true,
            "data": {"a": "", "b.conf": "x=1\n"},
            "binaryData": {"blob": "AAEC/v8=", "empty": ""}
        }),
    );
}

#[test]
fn secret_generic() {
    let secret = core_v1::Secret {
        metadata: Some(go_meta("creds", "prod", &[])),
        immutable: None,
        data: [
            ("password".to_owned(), b"s3cr3t!".to_vec()),
            ("user".to_owned(), b"admin".to_vec()),
        ]
        .into_iter()
        .collect(),
        string_data: BTreeMap::new(),
        r#type: s("Opaque"),
    };
    assert_json(
        &decode_ok("v1", "Secret", &secret),
        &json!({
            "kind": "Secret",
            "apiVersion": "v1",
            "metadata": {"name": "creds", "namespace": "prod", "creationTimestamp": null},
            "data": {"password": "czNjcjN0IQ==", "user": "YWRtaW4="},
            "type": "Opaque"
        }),
    );
}

#[test]
fn service_account() {
    let sa = core_v1::ServiceAccount {
        metadata: Some(go_meta("robot", "default", &[])),
        image_pull_secrets: vec![core_v1::LocalObjectReference { name: s("regcred") }],
        automount_service_account_token: Some(false),
        ..Default::default()
    };
    assert_json(
        &decode_ok("v1", "ServiceAccount", &sa),
        &json!({
            "kind": "ServiceAccount",
            "apiVersion": "v1",
            "metadata": {"name": "robot", "namespace": "default", "creationTimestamp": null},
            "imagePullSecrets": [{"name": "regcred"}],
            "automountServiceAccountToken": false
        }),
    );
}

#[test]
fn service_clusterip() {
    let port = |name: &str, port: i32, target: IntOrString| core_v1::ServicePort {
        name: s(name),
        protocol: s("TCP"),
        app_protocol: None,
        port: Some(port),
        target_port: Some(target),
        node_port: Some(0),
    };
    let svc = core_v1::Service {
        metadata: Some(go_meta("web", "default", &[("app", "web")])),
        spec: Some(core_v1::ServiceSpec {
            ports: vec![
                port(
                    "80-8080",
                    80,
                    IntOrString {
                        r#type: Some(0),
                        int_val: Some(8080),
                        str_val: s(""),
                    },
                ),
                port(
                    "443-https",
                    443,
                    IntOrString {
                        r#type: Some(1),
                        int_val: Some(0),
                        str_val: s("https"),
                    },
                ),
            ],
            selector: string_map(&[("app", "web")]),
            cluster_ip: s(""),
            r#type: s("ClusterIP"),
            session_affinity: s(""),
            load_balancer_ip: s(""),
            external_name: s(""),
            external_traffic_policy: s(""),
            health_check_node_port: Some(0),
            publish_not_ready_addresses: Some(false),
            ..Default::default()
        }),
        status: Some(core_v1::ServiceStatus {
            load_balancer: Some(core_v1::LoadBalancerStatus::default()),
            conditions: vec![],
        }),
    };
    assert_json(
        &decode_ok("v1", "Service", &svc),
        &json!({
            "kind": "Service",
            "apiVersion": "v1",
            "metadata": {"name": "web", "namespace": "default", "creationTimestamp": null, "labels": {"app": "web"}},
            "spec": {
                "ports": [
                    {"name": "80-8080", "protocol": "TCP", "port": 80, "targetPort": 8080},
                    {"name": "443-https", "protocol": "TCP", "port": 443, "targetPort": "https"}
                ],
                "selector": {"app": "web"},
                "type": "ClusterIP"
            },
            "status": {"loadBalancer": {}}
        }),
    );
}

#[test]
fn deployment_as_kubectl_creates_it() {
    let labels = [("app", "web")];
    let mut container = go_container("nginx", "nginx:1.27");
    container.ports = vec![core_v1::ContainerPort {
        name: s(""),
        host_port: Some(0),
        container_port: Some(80),
        protocol: s(""),
        host_ip: s(""),
    }];
    let deployment = apps_v1::Deployment {
        metadata: Some(go_meta("web", "default", &labels)),
        spec: Some(apps_v1::DeploymentSpec {
            replicas: Some(2),
            selector: Some(meta_v1::LabelSelector {
                match_labels: string_map(&labels),
                match_expressions: vec![],
            }),
            template: Some(core_v1::PodTemplateSpec {
                metadata: Some(go_meta("", "", &labels)),
                spec: Some(go_pod_spec(vec![container])),
            }),
            strategy: Some(apps_v1::DeploymentStrategy {
                r#type: s(""),
                rolling_update: None,
            }),
            min_ready_seconds: Some(0),
            revision_history_limit: None,
            paused: Some(false),
            progress_deadline_seconds: None,
        }),
        status: Some(apps_v1::DeploymentStatus {
            observed_generation: Some(0),
            replicas: Some(0),
            updated_replicas: Some(0),
            ready_replicas: Some(0),
            available_replicas: Some(0),
            unavailable_replicas: Some(0),
            ..Default::default()
        }),
    };
    assert_json(
        &decode_ok("apps/v1", "Deployment", &deployment),
        &json!({
            "kind": "Deployment",
            "apiVersion": "apps/v1",
            "metadata": {"name": "web", "namespace": "default", "creationTimestamp": null, "labels": {"app": "web"}},
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {
                    "metadata": {"creationTimestamp": null, "labels": {"app": "web"}},
                    "spec": {
                        "containers": [{
                            "name": "nginx",
                            "image": "nginx:1.27",
                            "ports": [{"containerPort": 80}],
                            "resources": {}
                        }]
                    }
                },
                "strategy": {}
            },
            "status": {}
        }),
    );
}

#[test]
fn deployment_with_everything_kubectl_can_set() {
    let mut container = go_container("app", "busybox");
    container.command = vec!["sh".to_owned(), "-c".to_owned()];
    container.args = vec!["sleep 3600".to_owned()];
    container.image_pull_policy = s("IfNotPresent");
    container.termination_message_path = s("/dev/termination-log");
    container.termination_message_policy = s("File");
    container.env = vec![
        core_v1::EnvVar {
            name: s("MODE"),
            value: s("prod"),
            value_from: None,
        },
        core_v1::EnvVar {
            name: s("POD"),
            value: s(""),
            value_from: Some(core_v1::EnvVarSource {
                field_ref: Some(core_v1::ObjectFieldSelector {
                    api_version: s("v1"),
                    field_path: s("metadata.name"),
                }),
                ..Default::default()
            }),
        },
        core_v1::EnvVar {
            name: s("MEM"),
            value: s(""),
            value_from: Some(core_v1::EnvVarSource {
                resource_field_ref: Some(core_v1::ResourceFieldSelector {
                    container_name: s(""),
                    resource: s("limits.memory"),
                    divisor: Some(Quantity::default()),
                }),
                ..Default::default()
            }),
        },
    ];
    let quantity = |q: &str| Quantity { string: s(q) };
    container.resources = Some(core_v1::ResourceRequirements {
        limits: [("memory".to_owned(), quantity("128Mi"))]
            .into_iter()
            .collect(),
        requests: [("cpu".to_owned(), quantity("100m"))].into_iter().collect(),
        claims: vec![],
    });
    let mut spec = go_pod_spec(vec![container]);
    spec.restart_policy = s("Always");
    spec.dns_policy = s("ClusterFirst");
    spec.termination_grace_period_seconds = Some(30);
    let int = |n: i32| IntOrString {
        r#type: Some(0),
        int_val: Some(n),
        str_val: s(""),
    };
    let deployment = apps_v1::Deployment {
        metadata: Some(meta_v1::ObjectMeta {
            uid: s("0b6c9c1e-7d0e-4a8e-9f5e-2f1d0c9b8a7f"),
            resource_version: s("42"),
            generation: Some(3),
            creation_timestamp: Some(meta_v1::Time {
                seconds: Some(1_704_164_645),
                nanos: Some(999_999_999),
            }),
            annotations: string_map(&[("note", "hi")]),
            finalizers: vec!["example.com/keep".to_owned()],
            owner_references: vec![meta_v1::OwnerReference {
                api_version: s("v1"),
                kind: s("ConfigMap"),
                name: s("owner"),
                uid: s("u-1"),
                controller: Some(false),
                block_owner_deletion: None,
            }],
            ..go_meta("", "", &[])
        }),
        spec: Some(apps_v1::DeploymentSpec {
            replicas: Some(0),
            selector: Some(meta_v1::LabelSelector {
                match_labels: BTreeMap::new(),
                match_expressions: vec![meta_v1::LabelSelectorRequirement {
                    key: s("tier"),
                    operator: s("In"),
                    values: vec!["web".to_owned(), "api".to_owned()],
                }],
            }),
            template: Some(core_v1::PodTemplateSpec {
                metadata: Some(go_meta("", "", &[("tier", "web")])),
                spec: Some(spec),
            }),
            strategy: Some(apps_v1::DeploymentStrategy {
                r#type: s("RollingUpdate"),
                rolling_update: Some(apps_v1::RollingUpdateDeployment {
                    max_unavailable: Some(int(0)),
                    max_surge: Some(IntOrString {
                        r#type: Some(1),
                        int_val: Some(0),
                        str_val: s("25%"),
                    }),
                }),
            }),
            min_ready_seconds: Some(5),
            revision_history_limit: Some(10),
            paused: Some(true),
            progress_deadline_seconds: Some(600),
        }),
        status: None,
    };
    assert_json(
        &decode_ok("apps/v1", "Deployment", &deployment),
        &json!({
            "kind": "Deployment",
            "apiVersion": "apps/v1",
            "metadata": {
                "uid": "0b6c9c1e-7d0e-4a8e-9f5e-2f1d0c9b8a7f",
                "resourceVersion": "42",
                "generation": 3,
                "creationTimestamp": "2024-01-02T03:04:05Z",
                "annotations": {"note": "hi"},
                "ownerReferences": [{
                    "apiVersion": "v1",
                    "kind": "ConfigMap",
                    "name": "owner",
                    "uid": "u-1",
                    "controller": false
                }],
                "finalizers": ["example.com/keep"]
            },
            "spec": {
                "replicas": 0,
                "selector": {"matchExpressions": [
                    {"key": "tier", "operator": "In", "values": ["web", "api"]}
                ]},
                "template": {
                    "metadata": {"creationTimestamp": null, "labels": {"tier": "web"}},
                    "spec": {
                        "containers": [{
                            "name": "app",
                            "image": "busybox",
                            "command": ["sh", "-c"],
                            "args": ["sleep 3600"],
                            "env": [
                                {"name": "MODE", "value": "prod"},
                                {"name": "POD", "valueFrom": {"fieldRef": {
                                    "apiVersion": "v1", "fieldPath": "metadata.name"
                                }}},
                                {"name": "MEM", "valueFrom": {"resourceFieldRef": {
                                    "resource": "limits.memory", "divisor": "0"
                                }}}
                            ],
                            "resources": {
                                "limits": {"memory": "128Mi"},
                                "requests": {"cpu": "100m"}
                            },
                            "terminationMessagePath": "/dev/termination-log",
                            "terminationMessagePolicy": "File",
                            "imagePullPolicy": "IfNotPresent"
                        }],
                        "restartPolicy": "Always",
                        "terminationGracePeriodSeconds": 30,
                        "dnsPolicy": "ClusterFirst"
                    }
                },
                "strategy": {
                    "type": "RollingUpdate",
                    "rollingUpdate": {"maxUnavailable": 0, "maxSurge": "25%"}
                },
                "minReadySeconds": 5,
                "revisionHistoryLimit": 10,
                "paused": true,
                "progressDeadlineSeconds": 600
            },
            "status": {}
        }),
    );
}

#[test]
fn deployment_without_selector_or_template() {
    let deployment = apps_v1::Deployment::default();
    assert_json(
        &decode_ok("apps/v1", "Deployment", &deployment),
        &json!({
            "kind": "Deployment",
            "apiVersion": "apps/v1",
            "metadata": {"creationTimestamp": null},
            "spec": {
                "selector": null,
                "template": {"metadata": {"creationTimestamp": null}, "spec": {"containers": null}},
                "strategy": {}
            },
            "status": {}
        }),
    );
}

#[test]
fn pod_as_kubectl_run_sends_it() {
    let mut container = go_container("shell", "alpine");
    container.stdin = Some(true);
    container.tty = Some(true);
    container.ports = vec![core_v1::ContainerPort {
        container_port: Some(8080),
        ..Default::default()
    }];
    let mut spec = go_pod_spec(vec![container]);
    spec.restart_policy = s("Never");
    spec.dns_policy = s("ClusterFirst");
    let pod = core_v1::Pod {
        metadata: Some(go_meta("shell", "", &[("run", "shell")])),
        spec: Some(spec),
        status: Some(core_v1::PodStatus {
            phase: s(""),
            message: s(""),
            reason: s(""),
            nominated_node_name: s(""),
            host_ip: s(""),
            pod_ip: s(""),
            qos_class: s(""),
            ..Default::default()
        }),
    };
    assert_json(
        &decode_ok("v1", "Pod", &pod),
        &json!({
            "kind": "Pod",
            "apiVersion": "v1",
            "metadata": {"name": "shell", "creationTimestamp": null, "labels": {"run": "shell"}},
            "spec": {
                "containers": [{
                    "name": "shell",
                    "image": "alpine",
                    "ports": [{"containerPort": 8080}],
                    "resources": {},
                    "stdin": true,
                    "tty": true
                }],
                "restartPolicy": "Never",
                "dnsPolicy": "ClusterFirst"
            },
            "status": {}
        }),
    );
}

#[test]
fn role_and_cluster_roles() {
    let rule = rbac_v1::PolicyRule {
        verbs: vec!["get".to_owned(), "list".to_owned()],
        api_groups: vec![String::new()],
        resources: vec!["pods".to_owned()],
        resource_names: vec!["web".to_owned()],
        non_resource_ur_ls: vec![],
    };
    let role = rbac_v1::Role {
        metadata: Some(go_meta("reader", "default", &[])),
        rules: vec![rule],
    };
    assert_json(
        &decode_ok("rbac.authorization.k8s.io/v1", "Role", &role),
        &json!({
            "kind": "Role",
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "metadata": {"name": "reader", "namespace": "default", "creationTimestamp": null},
            "rules": [{
                "verbs": ["get", "list"],
                "apiGroups": [""],
                "resources": ["pods"],
                "resourceNames": ["web"]
            }]
        }),
    );

    let cluster_role = rbac_v1::ClusterRole {
        metadata: Some(go_meta("metrics", "", &[])),
        rules: vec![rbac_v1::PolicyRule {
            non_resource_ur_ls: vec!["/metrics".to_owned()],
            ..Default::default()
        }],
        aggregation_rule: None,
    };
    assert_json(
        &decode_ok("rbac.authorization.k8s.io/v1", "ClusterRole", &cluster_role),
        &json!({
            "kind": "ClusterRole",
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "metadata": {"name": "metrics", "creationTimestamp": null},
            "rules": [{"verbs": null, "nonResourceURLs": ["/metrics"]}]
        }),
    );

    let aggregated = rbac_v1::ClusterRole {
        metadata: Some(go_meta("monitoring", "", &[])),
        rules: vec![],
        aggregation_rule: Some(rbac_v1::AggregationRule {
            cluster_role_selectors: vec![meta_v1::LabelSelector {
                match_labels: string_map(&[("rbac.example.com/aggregate", "true")]),
                match_expressions: vec![],
            }],
        }),
    };
    assert_json(
        &decode_ok("rbac.authorization.k8s.io/v1", "ClusterRole", &aggregated),
        &json!({
            "kind": "ClusterRole",
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "metadata": {"name": "monitoring", "creationTimestamp": null},
            "rules": null,
            "aggregationRule": {"clusterRoleSelectors": [
                {"matchLabels": {"rbac.example.com/aggregate": "true"}}
            ]}
        }),
    );
}

#[test]
fn role_bindings() {
    let role_ref = rbac_v1::RoleRef {
        api_group: s("rbac.authorization.k8s.io"),
        kind: s("ClusterRole"),
        name: s("view"),
    };
    let subjects = vec![
        rbac_v1::Subject {
            kind: s("User"),
            api_group: s("rbac.authorization.k8s.io"),
            name: s("alice"),
            namespace: s(""),
        },
        rbac_v1::Subject {
            kind: s("ServiceAccount"),
            api_group: s(""),
            name: s("robot"),
            namespace: s("default"),
        },
    ];
    let expected_subjects = json!([
        {"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": "alice"},
        {"kind": "ServiceAccount", "name": "robot", "namespace": "default"}
    ]);
    let expected_role_ref =
        json!({"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"});

    let binding = rbac_v1::RoleBinding {
        metadata: Some(go_meta("viewers", "default", &[])),
        subjects: subjects.clone(),
        role_ref: Some(role_ref.clone()),
    };
    assert_json(
        &decode_ok("rbac.authorization.k8s.io/v1", "RoleBinding", &binding),
        &json!({
            "kind": "RoleBinding",
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "metadata": {"name": "viewers", "namespace": "default", "creationTimestamp": null},
            "subjects": expected_subjects,
            "roleRef": expected_role_ref
        }),
    );

    let cluster_binding = rbac_v1::ClusterRoleBinding {
        metadata: Some(go_meta("viewers", "", &[])),
        subjects: vec![],
        role_ref: Some(role_ref),
    };
    assert_json(
        &decode_ok(
            "rbac.authorization.k8s.io/v1",
            "ClusterRoleBinding",
            &cluster_binding,
        ),
        &json!({
            "kind": "ClusterRoleBinding",
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "metadata": {"name": "viewers", "creationTimestamp": null},
            "roleRef": expected_role_ref
        }),
    );
}

#[test]
fn lease_with_micro_times() {
    let lease = coordination_v1::Lease {
        metadata: Some(go_meta("leader", "kube-system", &[])),
        spec: Some(coordination_v1::LeaseSpec {
            holder_identity: s("node-1"),
            lease_duration_seconds: Some(15),
            acquire_time: Some(meta_v1::MicroTime {
                seconds: Some(1_751_284_800),
                nanos: Some(123_456_789),
            }),
            renew_time: Some(meta_v1::MicroTime {
                seconds: Some(1_751_284_800),
                nanos: Some(0),
            }),
            lease_transitions: Some(0),
            strategy: None,
            preferred_holder: None,
        }),
    };
    assert_json(
        &decode_ok("coordination.k8s.io/v1", "Lease", &lease),
        &json!({
            "kind": "Lease",
            "apiVersion": "coordination.k8s.io/v1",
            "metadata": {"name": "leader", "namespace": "kube-system", "creationTimestamp": null},
            "spec": {
                "holderIdentity": "node-1",
                "leaseDurationSeconds": 15,
                "acquireTime": "2025-06-30T12:00:00.123456Z",
                "renewTime": "2025-06-30T12:00:00.000000Z",
                "leaseTransitions": 0
            }
        }),
    );
}

fn time_json(time: Option<meta_v1::Time>) -> Result<Value> {
    match time {
        Some(t) => special::convert(Special::Time, &t.encode_to_vec(), 0),
        None => Ok(special::zero(Special::Time)),
    }
}

fn micro_time_json(time: meta_v1::MicroTime) -> Result<Value> {
    special::convert(Special::MicroTime, &time.encode_to_vec(), 0)
}

fn meta_to_json(meta: Option<meta_v1::ObjectMeta>) -> Result<Value> {
    let msg = message_named("k8s.io/apimachinery/pkg/apis/meta/v1.ObjectMeta").unwrap();
    let bytes = meta.map(|m| m.encode_to_vec()).unwrap_or_default();
    decode::object(msg, &bytes, 0).map(Value::Object)
}

#[test]
fn timestamps() {
    let time = |seconds: Option<i64>, nanos: Option<i32>| {
        time_json(Some(meta_v1::Time { seconds, nanos })).unwrap()
    };
    assert_eq!(
        time(Some(1_704_164_645), Some(0)),
        json!("2024-01-02T03:04:05Z")
    );
    assert_eq!(time(Some(951_868_799), None), json!("2000-02-29T23:59:59Z"));
    assert_eq!(time(Some(0), Some(0)), json!("1970-01-01T00:00:00Z"));
    assert_eq!(time(Some(-1), None), json!("1969-12-31T23:59:59Z"));
    assert_eq!(
        time(Some(253_402_300_799), None),
        json!("9999-12-31T23:59:59Z")
    );
    // Upstream's Time keeps whole seconds and ignores the nanoseconds.
    assert_eq!(time(Some(10), Some(-1)), json!("1970-01-01T00:00:10Z"));
    assert_eq!(
        time(Some(0), Some(2_000_000_000)),
        json!("1970-01-01T00:00:00Z")
    );
    // Go's zero time, in both of its encodings.
    assert_eq!(time(None, None), Value::Null);
    assert_eq!(time(Some(-62_135_596_800), Some(0)), Value::Null);
    assert_eq!(time_json(None).unwrap(), Value::Null);
    // Years Go cannot print in RFC 3339 are rejected.
    for seconds in [253_402_300_800, i64::MAX, i64::MIN] {
        assert!(
            time_json(Some(meta_v1::Time {
                seconds: Some(seconds),
                nanos: Some(i32::MAX)
            }))
            .is_err()
        );
    }

    let micro = |seconds: i64, nanos: i32| {
        micro_time_json(meta_v1::MicroTime {
            seconds: Some(seconds),
            nanos: Some(nanos),
        })
        .unwrap()
    };
    assert_eq!(micro(0, 999), json!("1970-01-01T00:00:00.000000Z"));
    // Normalised first, then truncated to microseconds, as Go does.
    assert_eq!(micro(1, -1500), json!("1970-01-01T00:00:00.999998Z"));
    assert_eq!(micro(1, -1), json!("1970-01-01T00:00:00.999999Z"));
    assert_eq!(
        micro_time_json(meta_v1::MicroTime::default()).unwrap(),
        Value::Null
    );
}

#[test]
fn deletion_timestamp_and_managed_fields() {
    let meta = meta_v1::ObjectMeta {
        deletion_timestamp: Some(meta_v1::Time {
            seconds: Some(1_704_164_645),
            nanos: Some(0),
        }),
        deletion_grace_period_seconds: Some(0),
        managed_fields: vec![meta_v1::ManagedFieldsEntry {
            manager: s("kubectl-create"),
            operation: s("Update"),
            api_version: s("v1"),
            time: Some(meta_v1::Time {
                seconds: Some(1_704_164_645),
                nanos: Some(0),
            }),
            fields_type: s("FieldsV1"),
            fields_v1: Some(meta_v1::FieldsV1 {
                raw: Some(br#"{"f:data":{".":{},"f:a":{}}}"#.to_vec()),
            }),
            subresource: s(""),
        }],
        ..go_meta("x", "", &[])
    };
    assert_json(
        &meta_to_json(Some(meta)).unwrap(),
        &json!({
            "name": "x",
            "creationTimestamp": null,
            "deletionTimestamp": "2024-01-02T03:04:05Z",
            "deletionGracePeriodSeconds": 0,
            "managedFields": [{
                "manager": "kubectl-create",
                "operation": "Update",
                "apiVersion": "v1",
                "time": "2024-01-02T03:04:05Z",
                "fieldsType": "FieldsV1",
                "fieldsV1": {"f:data": {".": {}, "f:a": {}}}
            }]
        }),
    );
}

#[test]
fn rejects_bodies_without_the_magic_prefix() {
    let cm = core_v1::ConfigMap::default();
    let body = envelope("v1", "ConfigMap", &cm);
    let without_magic = body.get(MAGIC.len()..).unwrap_or_default();
    assert!(matches!(
        decode(without_magic),
        Err(ProtobufError::MissingMagic)
    ));
    assert!(matches!(decode(b""), Err(ProtobufError::MissingMagic)));
    assert!(matches!(decode(b"k8s"), Err(ProtobufError::MissingMagic)));
    assert!(matches!(
        decode(br#"{"kind":"ConfigMap"}"#),
        Err(ProtobufError::MissingMagic)
    ));
    assert!(matches!(
        decode(b"k8s\x01\x0a\x00"),
        Err(ProtobufError::MissingMagic)
    ));
}

#[test]
fn rejects_malformed_bodies() {
    assert!(matches!(decode(b"k8s\0"), Err(ProtobufError::Malformed(_))));
    // Garbage after the prefix: an invalid wire type.
    assert!(matches!(
        decode(b"k8s\0\xff\xff\xff\xff"),
        Err(ProtobufError::Malformed(_))
    ));
    // A length prefix pointing past the end.
    assert!(matches!(
        decode(b"k8s\0\x0a\x7f\x0a"),
        Err(ProtobufError::Malformed(_))
    ));

    let cm = core_v1::ConfigMap {
        metadata: Some(go_meta("settings", "default", &[("app", "web")])),
        data: string_map(&[("key", "value")]),
        ..Default::default()
    };
    let body = envelope("v1", "ConfigMap", &cm);
    // No truncation panics. Cutting at a field boundary still leaves a
    // valid (shorter) message, but cutting into the typed message, which
    // is followed by the two empty content strings, never decodes.
    let raw_end = body.len() - 4;
    let raw_start = raw_end - cm.encoded_len();
    for len in MAGIC.len()..body.len() {
        let result = decode(body.get(..len).unwrap_or_default());
        if (raw_start..raw_end).contains(&len) {
            assert!(result.is_err(), "truncated to {len} bytes");
        }
    }

    // A valid envelope around an invalid typed message.
    let unknown = Unknown {
        type_meta: Some(TypeMeta {
            api_version: s("v1"),
            kind: s("ConfigMap"),
        }),
        raw: Some(vec![0x0a, 0x05, 0x01]),
        ..Default::default()
    };
    let mut body = MAGIC.to_vec();
    body.extend(unknown.encode_to_vec());
    assert!(matches!(decode(&body), Err(ProtobufError::Malformed(_))));
}

#[test]
fn rejects_envelopes_without_type_meta() {
    let cm = core_v1::ConfigMap::default();
    assert!(matches!(
        decode(&envelope("", "ConfigMap", &cm)),
        Err(ProtobufError::Malformed(_))
    ));
    assert!(matches!(
        decode(&envelope("v1", "", &cm)),
        Err(ProtobufError::Malformed(_))
    ));
}

#[test]
fn rejects_unknown_kinds() {
    let cm = core_v1::ConfigMap::default();
    let err = decode(&envelope("v1", "Frobnicator", &cm)).unwrap_err();
    assert!(matches!(
        err,
        ProtobufError::UnsupportedKind { ref api_version, ref kind }
            if api_version == "v1" && kind == "Frobnicator"
    ));
    // Right kind, wrong group/version.
    let err = decode(&envelope("apps/v1beta1", "Deployment", &cm)).unwrap_err();
    assert!(matches!(err, ProtobufError::UnsupportedKind { .. }));
}

#[test]
fn rejects_invalid_scalars() {
    let bad_port = core_v1::Service {
        spec: Some(core_v1::ServiceSpec {
            ports: vec![core_v1::ServicePort {
                target_port: Some(IntOrString {
                    r#type: Some(7),
                    ..Default::default()
                }),
                ..Default::default()
            }],
            ..Default::default()
        }),
        ..Default::default()
    };
    assert!(matches!(
        decode(&envelope("v1", "Service", &bad_port)),
        Err(ProtobufError::Malformed(_))
    ));

    let bad_quantity = core_v1::Pod {
        spec: Some(core_v1::PodSpec {
            overhead: [("cpu".to_owned(), Quantity { string: s("") })]
                .into_iter()
                .collect(),
            ..Default::default()
        }),
        ..Default::default()
    };
    assert!(matches!(
        decode(&envelope("v1", "Pod", &bad_quantity)),
        Err(ProtobufError::Malformed(_))
    ));

    let bad_time = core_v1::Namespace {
        metadata: Some(meta_v1::ObjectMeta {
            creation_timestamp: Some(meta_v1::Time {
                seconds: Some(i64::MAX),
                nanos: None,
            }),
            ..Default::default()
        }),
        ..Default::default()
    };
    assert!(matches!(
        decode(&envelope("v1", "Namespace", &bad_time)),
        Err(ProtobufError::Malformed(_))
    ));
}

#[test]
fn random_mutations_never_panic() {
    let labels = [("app", "web")];
    let deployment = apps_v1::Deployment {
        metadata: Some(go_meta("web", "default", &labels)),
        spec: Some(apps_v1::DeploymentSpec {
            replicas: Some(1),
            selector: Some(meta_v1::LabelSelector {
                match_labels: string_map(&labels),
                match_expressions: vec![],
            }),
            template: Some(core_v1::PodTemplateSpec {
                metadata: Some(go_meta("", "", &labels)),
                spec: Some(go_pod_spec(vec![go_container("nginx", "nginx")])),
            }),
            ..Default::default()
        }),
        status: None,
    };
    let body = envelope("apps/v1", "Deployment", &deployment);
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for _ in 0..5000 {
        let mut mutated = body.clone();
        for _ in 0..1 + next() % 4 {
            let index = usize::try_from(next()).unwrap_or(0) % mutated.len();
            if let Some(byte) = mutated.get_mut(index) {
                *byte = next().to_le_bytes()[0];
            }
        }
        let _ = decode(&mutated);
    }
}

#[test]
fn every_built_in_kind_decodes() {
    for (api_version, kind, _) in schema::KINDS {
        let body = envelope(api_version, kind, &core_v1::ConfigMap::default());
        let value = decode(&body).unwrap_or_else(|e| panic!("{api_version} {kind}: {e}"));
        assert_eq!(value["kind"], json!(kind));
        assert_eq!(value["apiVersion"], json!(api_version));
        // And back: Go's zero values, written out, read as the same object.
        let again = decode(&encode(&value).unwrap()).unwrap();
        assert_json(&again, &value);
    }
    // DeleteOptions goes with every group version's DELETE.
    let options = meta_v1::DeleteOptions {
        grace_period_seconds: Some(0),
        propagation_policy: s("Foreground"),
        dry_run: vec!["All".into()],
        ..Default::default()
    };
    assert_json(
        &decode_ok("apps/v1", "DeleteOptions", &options),
        &json!({
            "kind": "DeleteOptions",
            "apiVersion": "apps/v1",
            "gracePeriodSeconds": 0,
            "propagationPolicy": "Foreground",
            "dryRun": ["All"]
        }),
    );
}

/// What no hand-written decoder covered: probes, affinity, security contexts, volumes (an
/// inlined source), tolerations — every field of the type comes through.
#[test]
fn pod_with_probes_affinity_and_volumes() {
    let mut container = go_container("app", "nginx");
    container.liveness_probe = Some(core_v1::Probe {
        handler: Some(core_v1::ProbeHandler {
            http_get: Some(core_v1::HttpGetAction {
                path: s("/healthz"),
                port: Some(IntOrString {
                    r#type: Some(1),
                    int_val: Some(0),
                    str_val: s("http"),
                }),
                host: s(""),
                scheme: s("HTTP"),
                http_headers: vec![],
            }),
            ..Default::default()
        }),
        initial_delay_seconds: Some(3),
        timeout_seconds: Some(1),
        period_seconds: Some(10),
        success_threshold: Some(1),
        failure_threshold: Some(3),
        termination_grace_period_seconds: None,
    });
    container.security_context = Some(core_v1::SecurityContext {
        run_as_non_root: Some(true),
        allow_privilege_escalation: Some(false),
        ..Default::default()
    });
    let mut spec = go_pod_spec(vec![container]);
    spec.volumes = vec![core_v1::Volume {
        name: s("scratch"),
        volume_source: Some(core_v1::VolumeSource {
            empty_dir: Some(core_v1::EmptyDirVolumeSource {
                medium: s(""),
                size_limit: Some(Quantity { string: s("1Gi") }),
            }),
            ..Default::default()
        }),
    }];
    spec.tolerations = vec![core_v1::Toleration {
        key: s("node.kubernetes.io/unschedulable"),
        operator: s("Exists"),
        value: s(""),
        effect: s("NoSchedule"),
        toleration_seconds: None,
    }];
    spec.affinity = Some(core_v1::Affinity {
        node_affinity: Some(core_v1::NodeAffinity {
            required_during_scheduling_ignored_during_execution: Some(core_v1::NodeSelector {
                node_selector_terms: vec![core_v1::NodeSelectorTerm {
                    match_expressions: vec![],
                    match_fields: vec![core_v1::NodeSelectorRequirement {
                        key: s("metadata.name"),
                        operator: s("In"),
                        values: vec!["node-a".into()],
                    }],
                }],
            }),
            preferred_during_scheduling_ignored_during_execution: vec![],
        }),
        ..Default::default()
    });
    let pod = core_v1::Pod {
        metadata: Some(go_meta("probed", "default", &[])),
        spec: Some(spec),
        status: Some(core_v1::PodStatus::default()),
    };
    let v = decode_ok("v1", "Pod", &pod);
    let container = &v["spec"]["containers"][0];
    assert_json(
        &container["livenessProbe"],
        &json!({
            "httpGet": {"path": "/healthz", "port": "http", "scheme": "HTTP"},
            "initialDelaySeconds": 3,
            "timeoutSeconds": 1,
            "periodSeconds": 10,
            "successThreshold": 1,
            "failureThreshold": 3
        }),
    );
    assert_json(
        &container["securityContext"],
        &json!({"runAsNonRoot": true, "allowPrivilegeEscalation": false}),
    );
    assert_json(
        &v["spec"]["volumes"],
        &json!([{"name": "scratch", "emptyDir": {"sizeLimit": "1Gi"}}]),
    );
    assert_json(
        &v["spec"]["tolerations"],
        &json!([{"key": "node.kubernetes.io/unschedulable", "operator": "Exists", "effect": "NoSchedule"}]),
    );
    assert_json(
        &v["spec"]["affinity"],
        &json!({"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
            "nodeSelectorTerms": [{"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["node-a"]}]}]
        }}}),
    );
}

/// A CRD sent by an apiextensions clientset: the schema unions (`items`, `additionalProperties`)
/// and raw JSON (`default`) come out as the JSON forms Go writes.
#[test]
fn custom_resource_definition_schema_unions() {
    use k8s_pb::apiextensions_apiserver::pkg::apis::apiextensions::v1 as ext;
    let string = ext::JsonSchemaProps {
        r#type: s("string"),
        ..Default::default()
    };
    let schema = ext::JsonSchemaProps {
        r#type: s("object"),
        properties: [
            (
                "tags".to_owned(),
                ext::JsonSchemaProps {
                    r#type: s("array"),
                    items: Some(Box::new(ext::JsonSchemaPropsOrArray {
                        schema: Some(Box::new(string.clone())),
                        j_son_schemas: vec![],
                    })),
                    ..Default::default()
                },
            ),
            (
                "labels".to_owned(),
                ext::JsonSchemaProps {
                    r#type: s("object"),
                    additional_properties: Some(Box::new(ext::JsonSchemaPropsOrBool {
                        allows: Some(true),
                        schema: Some(Box::new(string.clone())),
                    })),
                    default: Some(ext::Json {
                        raw: Some(br#"{"a":"b"}"#.to_vec()),
                    }),
                    ..Default::default()
                },
            ),
            (
                "free".to_owned(),
                ext::JsonSchemaProps {
                    x_kubernetes_preserve_unknown_fields: Some(true),
                    additional_properties: Some(Box::new(ext::JsonSchemaPropsOrBool {
                        allows: Some(false),
                        schema: None,
                    })),
                    ..Default::default()
                },
            ),
        ]
        .into_iter()
        .collect(),
        ..Default::default()
    };
    let crd = ext::CustomResourceDefinition {
        metadata: Some(go_meta("widgets.example.com", "", &[])),
        spec: Some(ext::CustomResourceDefinitionSpec {
            group: s("example.com"),
            names: Some(ext::CustomResourceDefinitionNames {
                plural: s("widgets"),
                kind: s("Widget"),
                ..Default::default()
            }),
            scope: s("Namespaced"),
            versions: vec![ext::CustomResourceDefinitionVersion {
                name: s("v1"),
                served: Some(true),
                storage: Some(true),
                schema: Some(ext::CustomResourceValidation {
                    open_apiv3_schema: Some(schema),
                }),
                ..Default::default()
            }],
            ..Default::default()
        }),
        status: None,
    };
    let v = decode_ok("apiextensions.k8s.io/v1", "CustomResourceDefinition", &crd);
    let props = &v["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"];
    assert_json(
        &props["tags"],
        &json!({"type": "array", "items": {"type": "string"}}),
    );
    assert_json(
        &props["labels"],
        &json!({"type": "object", "default": {"a": "b"}, "additionalProperties": {"type": "string"}}),
    );
    assert_json(
        &props["free"],
        &json!({"additionalProperties": false, "x-kubernetes-preserve-unknown-fields": true}),
    );
}

#[test]
fn eviction_as_kubectl_drain_sends_it() {
    use k8s_pb::api::policy::{v1 as policy_v1, v1beta1 as policy_v1beta1};
    let eviction = policy_v1::Eviction {
        metadata: Some(go_meta("web-1", "drain", &[])),
        delete_options: Some(meta_v1::DeleteOptions {
            grace_period_seconds: Some(30),
            preconditions: Some(meta_v1::Preconditions {
                uid: s("u-1"),
                resource_version: None,
            }),
            dry_run: vec!["All".into()],
            ..Default::default()
        }),
    };
    assert_json(
        &decode_ok("policy/v1", "Eviction", &eviction),
        &json!({
            "kind": "Eviction",
            "apiVersion": "policy/v1",
            "metadata": {"name": "web-1", "namespace": "drain", "creationTimestamp": null},
            "deleteOptions": {
                "gracePeriodSeconds": 30,
                "preconditions": {"uid": "u-1"},
                "dryRun": ["All"]
            }
        }),
    );
    let bare = policy_v1beta1::Eviction {
        metadata: Some(go_meta("web-1", "drain", &[])),
        delete_options: None,
    };
    assert_json(
        &decode_ok("policy/v1beta1", "Eviction", &bare),
        &json!({
            "kind": "Eviction",
            "apiVersion": "policy/v1beta1",
            "metadata": {"name": "web-1", "namespace": "drain", "creationTimestamp": null}
        }),
    );
}

/// A schema nested past the limit is refused with an error; within it, the walk fits a 2 MiB
/// stack (a tokio worker's) even unoptimised.
#[test]
fn deep_nesting_is_refused_not_overflowed() {
    use k8s_pb::apiextensions_apiserver::pkg::apis::apiextensions::v1 as ext;
    fn nested(depth: usize) -> ext::JsonSchemaProps {
        let mut schema = ext::JsonSchemaProps {
            r#type: s("string"),
            ..Default::default()
        };
        for _ in 0..depth {
            schema = ext::JsonSchemaProps {
                r#type: s("object"),
                properties: [("a".to_owned(), schema)].into_iter().collect(),
                ..Default::default()
            };
        }
        schema
    }
    let crd = |depth| ext::CustomResourceDefinition {
        spec: Some(ext::CustomResourceDefinitionSpec {
            versions: vec![ext::CustomResourceDefinitionVersion {
                schema: Some(ext::CustomResourceValidation {
                    open_apiv3_schema: Some(nested(depth)),
                }),
                ..Default::default()
            }],
            ..Default::default()
        }),
        ..Default::default()
    };
    let (ok, deep) = (crd(decode::MAX_DEPTH - 10), crd(decode::MAX_DEPTH + 10));
    std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(move || {
            // prost refuses messages nested 100 deep, so this one is only checked against
            // itself: what we encode decodes to what we decoded.
            let json = decode(&envelope(
                "apiextensions.k8s.io/v1",
                "CustomResourceDefinition",
                &ok,
            ))
            .unwrap();
            assert_json(&decode(&encode(&json).unwrap()).unwrap(), &json);
            let err = decode(&envelope(
                "apiextensions.k8s.io/v1",
                "CustomResourceDefinition",
                &deep,
            ))
            .unwrap_err();
            assert!(matches!(err, ProtobufError::Malformed(_)), "{err}");
        })
        .unwrap()
        .join()
        .unwrap();
}

/// A watch frame as client-go reads it: a big-endian length, a `WatchEvent` without envelope,
/// the object in `object.raw` as a whole body.
#[test]
fn watch_frames_read_as_client_go_reads_them() {
    let pod = json!({
        "kind": "Pod", "apiVersion": "v1",
        "metadata": {"name": "p", "namespace": "default", "resourceVersion": "7",
                     "creationTimestamp": "2026-01-02T03:04:05Z"},
        "spec": {"containers": [{"name": "c", "image": "nginx"}]},
    });
    let frame = watch_frame("ADDED", &encode(&pod).unwrap());
    let (len, event) = frame.split_at(4);
    assert_eq!(
        u32::from_be_bytes(len.try_into().unwrap()) as usize,
        event.len()
    );
    let event = meta_v1::WatchEvent::decode(event).unwrap();
    assert_eq!(event.r#type.as_deref(), Some("ADDED"));
    let raw = event.object.and_then(|o| o.raw).unwrap();
    let read: core_v1::Pod = read_back(&raw, "v1", "Pod");
    let meta = read.metadata.unwrap();
    assert_eq!(meta.name.as_deref(), Some("p"));
    assert_eq!(meta.resource_version.as_deref(), Some("7"));
    assert_eq!(
        meta.creation_timestamp.and_then(|t| t.seconds),
        Some(1_767_323_045)
    );
    let container = &read.spec.unwrap().containers[0];
    assert_eq!(container.image.as_deref(), Some("nginx"));
}

/// A `Status` (errors, DELETE answers) in any group version.
#[test]
fn status_encodes_as_meta_v1_status() {
    let status = json!({
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": "pods \"p\" not found", "reason": "NotFound",
        "details": {"name": "p", "kind": "pods"}, "code": 404,
    });
    let read: meta_v1::Status = read_back(&encode(&status).unwrap(), "v1", "Status");
    assert_eq!(read.code, Some(404));
    assert_eq!(read.reason.as_deref(), Some("NotFound"));
    assert_eq!(read.details.and_then(|d| d.name).as_deref(), Some("p"));
}

/// Quantities, int-or-strings, times with fractions, bytes and raw JSON, as Go writes them.
#[test]
fn special_types_encode_as_go_writes_them() {
    let lease = json!({
        "kind": "Lease", "apiVersion": "coordination.k8s.io/v1",
        "metadata": {"name": "l", "creationTimestamp": null},
        "spec": {"renewTime": "2026-01-02T03:04:05.123456Z", "leaseDurationSeconds": 15},
    });
    let read: coordination_v1::Lease =
        read_back(&encode(&lease).unwrap(), "coordination.k8s.io/v1", "Lease");
    let renew = read.spec.unwrap().renew_time.unwrap();
    assert_eq!(
        (renew.seconds, renew.nanos),
        (Some(1_767_323_045), Some(123_456_000))
    );
    // The zero creation time is an empty message, as Go's `Time.Marshal` writes it.
    assert_eq!(
        read.metadata.unwrap().creation_timestamp,
        Some(meta_v1::Time::default())
    );
    let secret = json!({
        "kind": "Secret", "apiVersion": "v1", "metadata": {"name": "s"},
        "data": {"b": "AAE=", "a": ""}, "type": "Opaque",
    });
    let read: core_v1::Secret = read_back(&encode(&secret).unwrap(), "v1", "Secret");
    assert_eq!(
        read.data.get("b").map(Vec::as_slice),
        Some([0u8, 1].as_slice())
    );
    let bad = json!({"kind": "Secret", "apiVersion": "v1", "data": {"a": "%%"}});
    assert!(matches!(encode(&bad), Err(ProtobufError::Malformed(_))));
}

#[test]
fn custom_kinds_have_no_encoding() {
    let foo = json!({"kind": "Foo", "apiVersion": "samplecontroller.k8s.io/v1alpha1"});
    assert!(!supports("samplecontroller.k8s.io/v1alpha1", "Foo"));
    assert!(matches!(
        encode(&foo),
        Err(ProtobufError::UnsupportedKind { .. })
    ));
    assert!(supports("v1", "PodList"));
    assert!(supports("meta.k8s.io/v1", "PartialObjectMetadataList"));
}

/// A list encoded item by item is byte for byte the list encoded as one JSON tree, for lists
/// with and without items and continue tokens, of several kinds.
#[test]
fn lists_encode_item_by_item_as_one_tree_would() {
    let pod = |name: &str| {
        json!({
            "kind": "Pod", "apiVersion": "v1",
            "metadata": {"name": name, "namespace": "default", "resourceVersion": "7",
                         "labels": {"app": "web"}, "creationTimestamp": "2026-01-02T03:04:05Z"},
            "spec": {"containers": [{"name": "c", "image": "nginx",
                "resources": {"requests": {"cpu": "100m"}}, "ports": [{"containerPort": 80}]}]},
            "status": {"phase": "Running", "podIP": "10.0.0.1"},
        })
    };
    let deployment = json!({
        "kind": "Deployment", "apiVersion": "apps/v1",
        "metadata": {"name": "d", "namespace": "default"},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}},
                              "spec": {"containers": [{"name": "c", "image": "nginx"}]}}},
    });
    let cases = [
        (
            "v1",
            "PodList",
            json!({"resourceVersion": "9"}),
            vec![pod("a"), pod("b"), pod("c")],
        ),
        (
            "v1",
            "PodList",
            json!({"resourceVersion": "9", "continue": "abc", "remainingItemCount": 4}),
            vec![pod("a")],
        ),
        ("v1", "PodList", json!({"resourceVersion": "1"}), vec![]),
        (
            "apps/v1",
            "DeploymentList",
            json!({"resourceVersion": "3"}),
            vec![deployment],
        ),
    ];
    for (api_version, kind, meta, items) in cases {
        let whole =
            json!({"kind": kind, "apiVersion": api_version, "metadata": meta, "items": items});
        let expected = encode(&whole).unwrap();
        let by_item = encode_list(api_version, kind, &meta, items.into_iter()).unwrap();
        assert_eq!(by_item, expected, "{api_version} {kind}");
    }
    let list: core_v1::PodList = read_back(
        &encode_list(
            "v1",
            "PodList",
            &json!({"resourceVersion": "9"}),
            [pod("x")].into_iter(),
        )
        .unwrap(),
        "v1",
        "PodList",
    );
    assert_eq!(
        list.items[0]
            .metadata
            .as_ref()
            .and_then(|m| m.name.as_deref()),
        Some("x")
    );
    assert_eq!(
        list.metadata.and_then(|m| m.resource_version).as_deref(),
        Some("9")
    );
    assert!(encode_list("v1", "NoSuchList", &json!({}), std::iter::empty()).is_err());
}
