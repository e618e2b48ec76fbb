//! Ingress validation through kube-rs, with kube-apiserver's messages.

mod kube_support;

use k8s_openapi::api::networking::v1::Ingress;
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube_support::{api_err, start};
use serde_json::{Value, json};

fn causes(s: kube::core::Status) -> Vec<String> {
    s.details
        .map(|d| {
            d.causes
                .into_iter()
                .map(|c| format!("{}: {}", c.field, c.message))
                .collect()
        })
        .unwrap_or_default()
}

fn ingress(spec: Value) -> Ingress {
    serde_json::from_value(json!({"metadata": {"name": "web"}, "spec": spec})).expect("ingress")
}

#[tokio::test]
async fn ingress_specs_answer_with_upstreams_messages() {
    let server = start().await;
    let ingresses: Api<Ingress> = Api::namespaced(server.client(), "default");
    let s = api_err(
        ingresses
            .create(&PostParams::default(), &ingress(json!({})))
            .await,
        422,
        "Invalid",
    );
    assert_eq!(
        causes(s),
        ["spec: Invalid value: null: either `defaultBackend` or `rules` must be specified"]
    );
    let s = api_err(
        ingresses
            .create(
                &PostParams::default(),
                &ingress(json!({
                    "ingressClassName": "Nginx",
                    "rules": [
                        {"host": "10.0.0.1", "http": {"paths": [
                            {"path": "/a//b", "pathType": "Prefix",
                             "backend": {"service": {"name": "web", "port": {"number": 80}}}},
                            {"path": "api", "pathType": "Exact",
                             "backend": {"service": {"name": "Web", "port": {"name": "http", "number": 80}}}},
                            {"path": "/x", "backend": {"service": {"name": "web", "port": {"number": 80}}}},
                            {"path": "/y", "pathType": "Regex",
                             "backend": {"service": {"name": "web", "port": {"number": 70000}}}},
                            {"path": "/z", "pathType": "ImplementationSpecific", "backend": {}}
                        ]}},
                        {"host": "*.*.example.com", "http": {"paths": []}}
                    ],
                    "tls": [{"hosts": ["Example.com"], "secretName": "tls_secret"}]
                })),
            )
            .await,
        422,
        "Invalid",
    );
    assert_eq!(
        causes(s),
        [
            "spec.rules[0].host: Invalid value: \"10.0.0.1\": must be a DNS name, not an IP address",
            "spec.rules[0].http.paths[0].path: Invalid value: \"/a//b\": must not contain '//'",
            "spec.rules[0].http.paths[1].path: Invalid value: \"api\": must be an absolute path",
            "spec.rules[0].http.paths[1].backend.service.name: Invalid value: \"Web\": a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')",
            "spec.rules[0].http.paths[1].backend: Invalid value: \"\": cannot set both port name & port number",
            "spec.rules[0].http.paths[2].pathType: Required value: pathType must be specified",
            "spec.rules[0].http.paths[3].pathType: Unsupported value: \"Regex\": supported values: \"Exact\", \"ImplementationSpecific\", \"Prefix\"",
            "spec.rules[0].http.paths[3].backend.service.port.number: Invalid value: 70000: must be between 1 and 65535, inclusive",
            "spec.rules[0].http.paths[4].backend: Invalid value: \"\": resource or service backend is required",
            "spec.rules[1].host: Invalid value: \"*.*.example.com\": a wildcard DNS-1123 subdomain must start with '*.', followed by a valid DNS subdomain, which must consist of lower case alphanumeric characters, '-' or '.' and end with an alphanumeric character (e.g. '*.example.com', regex used for validation is '\\*\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
            "spec.rules[1].http.paths: Required value",
            "spec.tls[0].hosts[0]: Invalid value: \"Example.com\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
            "spec.tls[0].secretName: Invalid value: \"tls_secret\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
            "spec.ingressClassName: Invalid value: \"Nginx\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
        ]
    );
    // A valid one, as `kubectl create ingress` writes it; updates are validated too, and a
    // spec change bumps the generation as upstream's strategy does.
    let created = ingresses
        .create(
            &PostParams::default(),
            &ingress(
                json!({"rules": [{"host": "*.example.com", "http": {"paths": [
                {"path": "/", "pathType": "Prefix",
                 "backend": {"service": {"name": "web", "port": {"name": "http"}}}}]}}]}),
            ),
        )
        .await
        .expect("a valid ingress");
    assert_eq!(created.metadata.generation, Some(1));
    let s = api_err(
        ingresses
            .patch(
                "web",
                &PatchParams::default(),
                &Patch::Merge(json!({"spec": {"rules": [{"http": {"paths": [
                    {"path": "/", "pathType": "Prefix", "backend": {"service": {"name": "web", "port": {"name": "http-"}}}}]}}]}})),
            )
            .await,
        422,
        "Invalid",
    );
    assert_eq!(
        causes(s),
        [
            "spec.rules[0].http.paths[0].backend.service.port.name: Invalid value: \"http-\": must not begin or end with a hyphen"
        ]
    );
    let patched = ingresses
        .patch(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"defaultBackend": {"service": {"name": "fallback", "port": {"number": 8080}}}}})),
        )
        .await
        .expect("a valid update");
    assert_eq!(patched.metadata.generation, Some(2));
    server.shutdown().await;
}

#[tokio::test]
async fn network_policy_specs_answer_with_upstreams_messages() {
    use k8s_openapi::api::networking::v1::NetworkPolicy;
    let server = start().await;
    let policies: Api<NetworkPolicy> = Api::namespaced(server.client(), "default");
    let policy = |spec: Value| -> NetworkPolicy {
        serde_json::from_value(json!({"metadata": {"name": "np"}, "spec": spec})).unwrap()
    };
    let s = api_err(
        policies
            .create(
                &PostParams::default(),
                &policy(json!({
                    "podSelector": {"matchLabels": {"app": "web"}},
                    "ingress": [{
                        "ports": [
                            {"protocol": "ICMP", "port": 80},
                            {"port": 9000, "endPort": 8000},
                            {"port": "http", "endPort": 90},
                            {"endPort": 90}
                        ],
                        "from": [
                            {},
                            {"ipBlock": {"cidr": "10.0.0.0/8", "except": ["192.168.0.0/16"]},
                             "podSelector": {}},
                            {"ipBlock": {"cidr": "10.0.0.300/8"}}
                        ]
                    }],
                    "policyTypes": ["Ingress", "Sideways"]
                })),
            )
            .await,
        422,
        "Invalid",
    );
    assert_eq!(
        causes(s),
        [
            "spec.ingress[0].ports[0].protocol: Unsupported value: \"ICMP\": supported values: \"TCP\", \"UDP\", \"SCTP\"",
            "spec.ingress[0].ports[1].endPort: Invalid value: 9000: must be greater than or equal to `port`",
            "spec.ingress[0].ports[2].endPort: Invalid value: 90: may not be specified when `port` is non-numeric",
            "spec.ingress[0].ports[3].endPort: Invalid value: 90: may not be specified when `port` is not specified",
            "spec.ingress[0].from[0]: Required value: must specify a peer",
            "spec.ingress[0].from[1].ipBlock.except[0]: Invalid value: \"192.168.0.0/16\": must be a strict subset of `cidr`",
            "spec.ingress[0].from[1]: Forbidden: may not specify both ipBlock and another peer",
            "spec.ingress[0].from[2].ipBlock.cidr: Invalid value: \"10.0.0.300/8\": must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)",
            "spec.policyTypes[1]: Unsupported value: \"Sideways\": supported values: \"Ingress\", \"Egress\"",
        ]
    );
    let created = policies
        .create(
            &PostParams::default(),
            &policy(json!({
                "podSelector": {},
                "egress": [{"to": [{"ipBlock": {"cidr": "10.0.0.0/8", "except": ["10.1.0.0/16"]}}],
                            "ports": [{"protocol": "TCP", "port": 32000, "endPort": 32768}]}],
                "policyTypes": ["Egress"]
            })),
        )
        .await
        .expect("a valid policy");
    assert_eq!(created.metadata.generation, Some(1));
    server.shutdown().await;
}
