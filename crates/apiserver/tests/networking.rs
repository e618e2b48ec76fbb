//! networking.k8s.io through kube-rs and kubectl, with kube-apiserver's messages: Ingress and
//! NetworkPolicy validation, and Service IP allocation as the MultiCIDRServiceAllocator does it
//! (the default ServiceCIDR, one IPAddress per cluster IP, taken and out-of-range addresses
//! refused, release on delete and on a failed create, node ports, allocations kept across a
//! durable restart).

mod kube_support;
mod kubectl_support;

use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::networking::v1::{IPAddress, Ingress, ServiceCIDR};
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use kube_support::{api_err, eventually, start};
use kubectl_support::{Cell, Kubectl, expect_table, kubectl_binary, kubectl_versions};
use kubeforge_apiserver::ApiServer;
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

fn service(name: &str, spec: Value) -> Service {
    serde_json::from_value(json!({"metadata": {"name": name}, "spec": spec})).expect("service")
}

/// A ClusterIP Service with one TCP port asking for `ip` (none: any).
fn clusterip(name: &str, ip: Option<&str>) -> Service {
    let mut spec = json!({"ports": [{"port": 80}]});
    if let Some(ip) = ip {
        spec["clusterIP"] = json!(ip);
    }
    service(name, spec)
}

/// The one cause's message of a refusal.
fn only_cause(s: kube::core::Status) -> String {
    let mut c = causes(s);
    assert_eq!(c.len(), 1, "{c:?}");
    c.remove(0)
}

/// `(namespace, name)` of an IPAddress's parent Service.
fn parent(ip: &IPAddress) -> (String, String) {
    let p = ip.spec.as_ref().map(|s| &s.parent_ref).expect("parentRef");
    assert_eq!(
        (p.group.as_deref().unwrap_or(""), p.resource.as_str()),
        ("", "services")
    );
    (p.namespace.clone().unwrap_or_default(), p.name.clone())
}

#[tokio::test]
async fn service_ips_are_ipaddresses_of_the_default_servicecidr() {
    let server = start().await;
    let client = server.client();
    let cidrs: Api<ServiceCIDR> = Api::all(client.clone());
    let ips: Api<IPAddress> = Api::all(client.clone());
    let services: Api<Service> = Api::namespaced(client.clone(), "default");
    let pp = PostParams::default();

    // The default ServiceCIDR, ready and protected by the servicecidrs controller.
    let default = eventually("the default ServiceCIDR is settled", || async {
        let c = cidrs.get("kubernetes").await.ok()?;
        let fins = c.metadata.finalizers.clone().unwrap_or_default();
        let ready = c.status.as_ref()?.conditions.as_ref()?.iter().any(|c| {
            c.type_ == "Ready"
                && c.status == "True"
                && c.message == "Kubernetes Service CIDR is ready"
        });
        (ready && fins == ["networking.k8s.io/service-cidr-finalizer"]).then_some(c)
    })
    .await;
    assert_eq!(
        default.spec.and_then(|s| s.cidrs),
        Some(vec!["10.96.0.0/12".to_string()])
    );
    // The `kubernetes` Service's address went through the allocator too.
    let first = ips
        .get("10.96.0.1")
        .await
        .expect("the kubernetes Service's IPAddress");
    assert_eq!(parent(&first), ("default".into(), "kubernetes".into()));

    // Any address: from the upper part of the range, recorded with upstream's labels.
    let web = services
        .create(&pp, &clusterip("web", None))
        .await
        .expect("web");
    let ip = web.spec.and_then(|s| s.cluster_ip).expect("a cluster IP");
    let addr: std::net::Ipv4Addr = ip.parse().expect("IPv4");
    let [a, b, c, _] = addr.octets();
    assert!(
        a == 10 && (96..112).contains(&b) && (b, c) != (96, 0),
        "{ip}"
    );
    let record = ips.get(&ip).await.expect("web's IPAddress");
    assert_eq!(parent(&record), ("default".into(), "web".into()));
    let labels = record.metadata.labels.unwrap_or_default();
    assert_eq!(
        labels
            .get("ipaddress.kubernetes.io/ip-family")
            .map(String::as_str),
        Some("IPv4")
    );
    assert_eq!(
        labels
            .get("ipaddress.kubernetes.io/managed-by")
            .map(String::as_str),
        Some("ipallocator.k8s.io")
    );

    // A requested address is taken once; a second Service asking for it is refused and not
    // stored.
    services
        .create(&pp, &clusterip("dns", Some("10.96.0.10")))
        .await
        .expect("dns");
    let s = api_err(
        services
            .create(&pp, &clusterip("dns2", Some("10.96.0.10")))
            .await,
        422,
        "Invalid",
    );
    assert_eq!(
        s.message,
        r#"Service "dns2" is invalid: spec.clusterIPs: Invalid value: []string{"10.96.0.10"}: failed to allocate IP 10.96.0.10: provided IP is already allocated"#
    );
    assert!(services.get_opt("dns2").await.expect("get").is_none());
    assert_eq!(
        parent(&ips.get("10.96.0.10").await.expect("kept")),
        ("default".into(), "dns".into())
    );

    // Outside every ServiceCIDR, and the range's own network address.
    let s = api_err(
        services
            .create(&pp, &clusterip("far", Some("10.200.0.5")))
            .await,
        422,
        "Invalid",
    );
    assert_eq!(
        only_cause(s),
        r#"spec.clusterIPs: Invalid value: []string{"10.200.0.5"}: failed to allocate IP 10.200.0.5: the provided network does not match the current range"#
    );
    let s = api_err(
        services
            .create(&pp, &clusterip("net", Some("10.96.0.0")))
            .await,
        422,
        "Invalid",
    );
    assert_eq!(
        only_cause(s),
        r#"spec.clusterIPs: Invalid value: []string{"10.96.0.0"}: failed to allocate IP 10.96.0.0: provided IP 10.96.0.0 is not in the valid range"#
    );
    assert!(ips.get_opt("10.200.0.5").await.expect("get").is_none());

    // An invalid Service allocates nothing; a create that fails after allocating (its name
    // is taken) gives the address back.
    let bad = service(
        "bad",
        json!({"clusterIP": "10.96.0.20", "ports": [{"port": 0}]}),
    );
    api_err(services.create(&pp, &bad).await, 422, "Invalid");
    assert!(ips.get_opt("10.96.0.20").await.expect("get").is_none());
    api_err(
        services
            .create(&pp, &clusterip("dns", Some("10.96.0.20")))
            .await,
        409,
        "AlreadyExists",
    );
    assert!(ips.get_opt("10.96.0.20").await.expect("get").is_none());
    let unnamed: Service = serde_json::from_value(
        json!({"metadata": {"generateName": "gen-"}, "spec": {"ports": [{"port": 80}]}}),
    )
    .expect("service");
    let generated = services
        .create(&pp, &unnamed)
        .await
        .expect("generated name");
    let name = generated.metadata.name.clone().expect("name");
    let generated_ip = generated.spec.and_then(|s| s.cluster_ip).expect("ip");
    assert_eq!(
        parent(&ips.get(&generated_ip).await.expect("recorded")),
        ("default".into(), name)
    );

    // Deleting releases: the address can be asked for again.
    services
        .delete("dns", &DeleteParams::default())
        .await
        .expect("delete");
    assert!(ips.get_opt("10.96.0.10").await.expect("get").is_none());
    services
        .create(&pp, &clusterip("dns2", Some("10.96.0.10")))
        .await
        .expect("the released address");
    // A headless Service takes nothing.
    services
        .create(&pp, &clusterip("headless", Some("None")))
        .await
        .expect("headless");
    let all = ips.list(&Default::default()).await.expect("list");
    assert!(all.items.iter().all(|ip| parent(ip).1 != "headless"));

    // Becoming ExternalName releases the address; becoming ClusterIP again takes a new one.
    services
        .patch(
            "web",
            &PatchParams::default(),
            &Patch::Merge(
                json!({"spec": {"type": "ExternalName", "externalName": "example.com",
                "clusterIP": "", "clusterIPs": null}}),
            ),
        )
        .await
        .expect("to ExternalName");
    assert!(ips.get_opt(&ip).await.expect("get").is_none());

    // Node ports: a taken one is refused with upstream's message.
    let np = |name: &str| {
        service(
            name,
            json!({"type": "NodePort", "ports": [{"port": 80, "nodePort": 30080}]}),
        )
    };
    services.create(&pp, &np("np1")).await.expect("np1");
    let s = api_err(services.create(&pp, &np("np2")).await, 422, "Invalid");
    assert_eq!(
        only_cause(s),
        "spec.ports[0].nodePort: Invalid value: 30080: provided port is already allocated"
    );
    // ... and a free one is never a stored Service's.
    let np3 = services
        .create(
            &pp,
            &service("np3", json!({"type": "NodePort", "ports": [{"port": 80}]})),
        )
        .await
        .expect("np3");
    let port = np3.spec.and_then(|s| s.ports).and_then(|p| p[0].node_port);
    assert!(
        port.is_some_and(|p| p != 30080 && (30000..=32767).contains(&p)),
        "{port:?}"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn ipaddresses_and_servicecidrs_are_validated_as_upstream() {
    let server = start().await;
    let client = server.client();
    let cidrs: Api<ServiceCIDR> = Api::all(client.clone());
    let ips: Api<IPAddress> = Api::all(client.clone());
    let pp = PostParams::default();
    let address = |name: &str, parent: Value| -> IPAddress {
        serde_json::from_value(json!({"metadata": {"name": name}, "spec": {"parentRef": parent}}))
            .expect("ipaddress")
    };
    let to_svc = json!({"group": "", "resource": "services", "namespace": "default", "name": "x"});
    let s = api_err(
        ips.create(&pp, &address("10.1.2.300", to_svc.clone()))
            .await,
        422,
        "Invalid",
    );
    assert_eq!(
        only_cause(s),
        r#"metadata.name: Invalid value: "10.1.2.300": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"#
    );
    let s = api_err(
        ips.create(&pp, &address("2001:DB8::1", to_svc.clone()))
            .await,
        422,
        "Invalid",
    );
    assert_eq!(
        only_cause(s),
        r#"metadata.name: Invalid value: "2001:DB8::1": must be in canonical form ("2001:db8::1")"#
    );
    let s = api_err(
        ips.create(
            &pp,
            &address("10.1.2.3", json!({"group": "", "resource": "", "name": ""})),
        )
        .await,
        422,
        "Invalid",
    );
    assert_eq!(
        causes(s),
        [
            "spec.parentRef.resource: Required value",
            "spec.parentRef.name: Required value"
        ]
    );
    let created = ips
        .create(&pp, &address("10.1.2.3", to_svc))
        .await
        .expect("a valid IPAddress");
    let mut moved = created.clone();
    moved
        .spec
        .as_mut()
        .map(|s| &mut s.parent_ref)
        .expect("parent")
        .name = "y".into();
    let s = api_err(ips.replace("10.1.2.3", &pp, &moved).await, 422, "Invalid");
    assert_eq!(
        only_cause(s),
        r#"spec.parentRef: Invalid value: &networking.ParentReference{Group:"", Resource:"services", Namespace:"default", Name:"y"}: field is immutable"#
    );

    let cidr = |name: &str, cidrs: Value| -> ServiceCIDR {
        serde_json::from_value(json!({"metadata": {"name": name}, "spec": {"cidrs": cidrs}}))
            .expect("servicecidr")
    };
    let s = api_err(
        cidrs
            .create(&pp, &cidr("extra", json!(["10.0.0.1/24"])))
            .await,
        422,
        "Invalid",
    );
    assert_eq!(
        only_cause(s),
        r#"spec.cidrs[0]: Invalid value: "10.0.0.1/24": must be in canonical form ("10.0.0.0/24")"#
    );
    let s = api_err(
        cidrs
            .create(&pp, &cidr("extra", json!(["10.0.0.0/24", "10.1.0.0/24"])))
            .await,
        422,
        "Invalid",
    );
    assert_eq!(
        only_cause(s),
        r#"spec.cidrs: Invalid value: networking.ServiceCIDRSpec{CIDRs:[]string{"10.0.0.0/24", "10.1.0.0/24"}}: may specify no more than one IP for each IP family, i.e 192.168.0.0/24 and 2001:db8::/64"#
    );
    let s = api_err(
        cidrs
            .patch(
                "kubernetes",
                &PatchParams::default(),
                &Patch::Merge(json!({"spec": {"cidrs": ["10.0.0.0/16"]}})),
            )
            .await,
        422,
        "Invalid",
    );
    assert_eq!(
        only_cause(s),
        r#"spec.cidrs[0]: Invalid value: "10.0.0.0/16": field is immutable"#
    );
    // The second family may be added.
    cidrs
        .patch(
            "kubernetes",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"cidrs": ["10.96.0.0/12", "fd00:10:96::/112"]}})),
        )
        .await
        .expect("adding IPv6");

    // A second ServiceCIDR serves allocations; deleting it waits for its addresses.
    cidrs
        .create(&pp, &cidr("extra", json!(["10.200.0.0/24"])))
        .await
        .expect("extra");
    let services: Api<Service> = Api::namespaced(client.clone(), "default");
    services
        .create(&pp, &clusterip("far", Some("10.200.0.5")))
        .await
        .expect("an address of the new range");
    cidrs
        .delete("extra", &DeleteParams::default())
        .await
        .expect("delete");
    eventually("the deleted ServiceCIDR reports why it stays", || async {
        let c = cidrs.get("extra").await.ok()?;
        c.status?.conditions?.into_iter().find(|c| {
            c.type_ == "Ready"
                && c.status == "False"
                && c.reason == "Terminating"
                && c.message == "There are still IPAddresses referencing the ServiceCIDR, please remove them or create a new ServiceCIDR"
        })
    })
    .await;
    // Not allocated from while it is being deleted.
    let s = api_err(
        services
            .create(&pp, &clusterip("far2", Some("10.200.0.6")))
            .await,
        422,
        "Invalid",
    );
    assert!(only_cause(s).ends_with("the provided network does not match the current range"));
    services
        .delete("far", &DeleteParams::default())
        .await
        .expect("delete far");
    // Gone once its grace (10 s after the deletion) has passed.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(25);
    while cidrs.get_opt("extra").await.expect("get").is_some() {
        assert!(
            std::time::Instant::now() < deadline,
            "the ServiceCIDR was never removed"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    server.shutdown().await;
}

#[tokio::test]
async fn a_restart_keeps_allocations_and_repairs_ipaddresses() {
    let dir = tempfile::tempdir().expect("tempdir");
    let durable = || ApiServer::builder().data_dir(dir.path());
    let first = durable().start().await.expect("first start");
    let client = first.client();
    let pp = PostParams::default();
    let cidr: ServiceCIDR = serde_json::from_value(
        json!({"metadata": {"name": "a-tiny"}, "spec": {"cidrs": ["10.200.0.0/30"]}}),
    )
    .expect("servicecidr");
    Api::<ServiceCIDR>::all(client.clone())
        .create(&pp, &cidr)
        .await
        .expect("a-tiny");
    let services: Api<Service> = Api::namespaced(client.clone(), "default");
    // 10.200.0.1 of the tiny range's two addresses is taken by request.
    services
        .create(&pp, &clusterip("one", Some("10.200.0.1")))
        .await
        .expect("one");
    services
        .create(&pp, &clusterip("fixed", Some("10.96.0.50")))
        .await
        .expect("fixed");
    let ips: Api<IPAddress> = Api::all(client.clone());
    // A leaked address (its Service is gone) and a lost one (its IPAddress deleted by hand).
    let leaked: IPAddress = serde_json::from_value(json!({"metadata": {"name": "10.96.0.99",
        "labels": {"ipaddress.kubernetes.io/ip-family": "IPv4",
                   "ipaddress.kubernetes.io/managed-by": "ipallocator.k8s.io"}},
        "spec": {"parentRef": {"group": "", "resource": "services", "namespace": "default", "name": "ghost"}}}))
    .expect("ipaddress");
    ips.create(&pp, &leaked).await.expect("leaked");
    ips.delete("10.96.0.50", &DeleteParams::default())
        .await
        .expect("lost");
    first.shutdown().await;

    let second = durable().start().await.expect("second start");
    let client = second.client();
    let services: Api<Service> = Api::namespaced(client.clone(), "default");
    let ips: Api<IPAddress> = Api::all(client.clone());
    assert!(
        ips.get_opt("10.96.0.99").await.expect("get").is_none(),
        "the leak is repaired"
    );
    assert_eq!(
        parent(
            &ips.get("10.96.0.50")
                .await
                .expect("the lost address is recorded again")
        ),
        ("default".into(), "fixed".into())
    );
    let s = api_err(
        services
            .create(&pp, &clusterip("again", Some("10.200.0.1")))
            .await,
        422,
        "Invalid",
    );
    assert!(only_cause(s).ends_with("provided IP is already allocated"));
    // The tiny range comes first: its one free address, then the default range.
    let next = services
        .create(&pp, &clusterip("next", None))
        .await
        .expect("next");
    assert_eq!(
        next.spec.and_then(|s| s.cluster_ip).as_deref(),
        Some("10.200.0.2")
    );
    let after = services
        .create(&pp, &clusterip("after", None))
        .await
        .expect("after");
    let ip = after.spec.and_then(|s| s.cluster_ip).expect("ip");
    assert!(ip.starts_with("10.") && !ip.starts_with("10.200."), "{ip}");
    second.shutdown().await;
}

async fn suite(version: &str) {
    let Some(binary) = kubectl_binary(version) else {
        return;
    };
    let server = start().await;
    if let Err(e) = allocation_through_kubectl(binary, &server).await {
        panic!("kubectl {version}: {e:#}");
    }
    server.shutdown().await;
}

async fn allocation_through_kubectl(
    binary: std::path::PathBuf,
    server: &ApiServer,
) -> anyhow::Result<()> {
    let kubectl = Kubectl::new(binary, server)?;
    let out = kubectl.ok(&["get", "servicecidr"]).await?;
    expect_table(
        &out,
        &["NAME", "CIDRS", "AGE"],
        &[Cell::Is("kubernetes"), Cell::Is("10.96.0.0/12"), Cell::Age],
    )?;
    kubectl
        .ok(&[
            "create",
            "service",
            "clusterip",
            "web",
            "--tcp=80",
            "--clusterip=10.96.0.10",
        ])
        .await?;
    let out = kubectl.ok(&["get", "ipaddresses"]).await?;
    expect_table(
        &out,
        &["NAME", "PARENTREF"],
        &[Cell::Is("10.96.0.10"), Cell::Is("services/default/web")],
    )?;
    expect_table(
        &out,
        &["NAME", "PARENTREF"],
        &[
            Cell::Is("10.96.0.1"),
            Cell::Is("services/default/kubernetes"),
        ],
    )?;
    kubectl
        .rejects(
            &["create", "service", "clusterip", "web2", "--tcp=80", "--clusterip=10.96.0.10"],
            &[r#"error: failed to create ClusterIP service: Service "web2" is invalid: spec.clusterIPs: Invalid value: []string{"10.96.0.10"}: failed to allocate IP 10.96.0.10: provided IP is already allocated"#],
        )
        .await?;
    kubectl
        .rejects(
            &["get", "service", "web2"],
            &[r#"services "web2" not found"#],
        )
        .await?;
    kubectl
        .rejects(
            &["create", "service", "clusterip", "far", "--tcp=80", "--clusterip=192.168.0.10"],
            &[r#"error: failed to create ClusterIP service: Service "far" is invalid: spec.clusterIPs: Invalid value: []string{"192.168.0.10"}: failed to allocate IP 192.168.0.10: the provided network does not match the current range"#],
        )
        .await?;
    kubectl.ok(&["delete", "service", "web"]).await?;
    kubectl
        .rejects(
            &["get", "ipaddress", "10.96.0.10"],
            &[r#"ipaddresses.networking.k8s.io "10.96.0.10" not found"#],
        )
        .await?;
    kubectl
        .ok(&[
            "create",
            "service",
            "clusterip",
            "web2",
            "--tcp=80",
            "--clusterip=10.96.0.10",
        ])
        .await?;
    Ok(())
}

kubectl_versions! {
    kubectl_1_27 => "1.27",
    kubectl_1_33 => "1.33",
}
