//! The registry's shape seen from a client: every row of the table is served (discovery lists
//! it and it answers its verbs), a resource's own subresources (`namespaces/{name}/finalize`)
//! are routed to it, and namespace lifecycle holds as an admission plugin.

mod kube_support;

use kube::Client;
use kube_support::start;
use serde_json::{Value, json};

async fn raw(client: &Client, method: &str, uri: &str, body: Option<&Value>) -> (u16, Value) {
    kube_support::raw(client, method, uri, None, body).await
}

#[tokio::test]
async fn every_registered_resource_is_discovered_and_answers() {
    let server = start().await;
    let client = server.client();
    let (_, groups) = raw(&client, "GET", "/apis", None).await;
    let mut versions = vec!["/api/v1".to_string()];
    for g in groups["groups"].as_array().expect("groups") {
        versions.push(format!(
            "/apis/{}",
            g["preferredVersion"]["groupVersion"].as_str().unwrap()
        ));
    }
    let mut served = 0;
    for gv in versions {
        let (code, list) = raw(&client, "GET", &gv, None).await;
        assert_eq!(code, 200, "{gv}");
        for r in list["resources"].as_array().expect("resources") {
            let name = r["name"].as_str().unwrap();
            let verbs: Vec<&str> = r["verbs"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(Value::as_str)
                .collect();
            if name.contains('/') || !verbs.contains(&"list") {
                continue;
            }
            let (code, body) = raw(&client, "GET", &format!("{gv}/{name}"), None).await;
            assert_eq!(code, 200, "list {gv}/{name}: {body}");
            assert!(body["items"].is_array(), "{gv}/{name}: {body}");
            served += 1;
        }
    }
    assert!(served >= 17, "only {served} listable resources");
}

#[tokio::test]
async fn namespace_finalize_is_the_namespaces_own_subresource() {
    let server = start().await;
    let client = server.client();
    let (code, _) = raw(
        &client,
        "POST",
        "/api/v1/namespaces",
        Some(&json!({"metadata": {"name": "fin"}})),
    )
    .await;
    assert_eq!(code, 201);

    // Discovery lists it, update only, sorted by path as upstream's installer does.
    let (_, core) = raw(&client, "GET", "/api/v1", None).await;
    let ns_entries: Vec<(String, Value)> = core["resources"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["name"].as_str().unwrap().starts_with("namespaces"))
        .map(|r| (r["name"].as_str().unwrap().to_string(), r["verbs"].clone()))
        .collect();
    assert_eq!(
        ns_entries,
        vec![
            (
                "namespaces".to_string(),
                json!([
                    "create",
                    "delete",
                    "deletecollection",
                    "get",
                    "list",
                    "patch",
                    "update",
                    "watch"
                ])
            ),
            ("namespaces/finalize".to_string(), json!(["update"])),
            (
                "namespaces/status".to_string(),
                json!(["get", "patch", "update"])
            ),
        ]
    );

    // A PUT through finalize changes spec.finalizers and nothing else.
    let (_, mut ns) = raw(&client, "GET", "/api/v1/namespaces/fin", None).await;
    ns["spec"]["finalizers"] = json!(["example.com/hold"]);
    ns["metadata"]["labels"] = json!({"ignored": "yes"});
    let (code, written) = raw(&client, "PUT", "/api/v1/namespaces/fin/finalize", Some(&ns)).await;
    assert_eq!(code, 200, "{written}");
    assert_eq!(written["spec"]["finalizers"], json!(["example.com/hold"]));
    assert!(
        written["metadata"]["labels"].get("ignored").is_none(),
        "{written}"
    );
    let (_, read) = raw(&client, "GET", "/api/v1/namespaces/fin", None).await;
    assert_eq!(read["spec"]["finalizers"], json!(["example.com/hold"]));

    // Only PUT is served there; the status subresource still is the status.
    let (code, _) = raw(&client, "GET", "/api/v1/namespaces/fin/finalize", None).await;
    assert_eq!(code, 405);
    let (code, status) = raw(&client, "GET", "/api/v1/namespaces/fin/status", None).await;
    assert_eq!(
        (code, status["status"]["phase"].clone()),
        (200, json!("Active"))
    );
    // A name that is neither a core resource nor a subresource of namespaces is not found.
    let (code, _) = raw(&client, "GET", "/api/v1/namespaces/fin/nonsense", None).await;
    assert_eq!(code, 404);

    // A deleted namespace held by its finalizer refuses new content (NamespaceLifecycle) until
    // finalize releases it.
    let (code, _) = raw(&client, "DELETE", "/api/v1/namespaces/fin", None).await;
    assert_eq!(code, 200);
    let cm = json!({"metadata": {"name": "late"}});
    let (code, refused) = raw(
        &client,
        "POST",
        "/api/v1/namespaces/fin/configmaps",
        Some(&cm),
    )
    .await;
    assert_eq!(code, 403, "{refused}");
    assert_eq!(
        refused["message"],
        "configmaps \"late\" is forbidden: unable to create new content in namespace fin because it is being terminated"
    );
    let (_, mut ns) = raw(&client, "GET", "/api/v1/namespaces/fin", None).await;
    ns["spec"]["finalizers"] = json!([]);
    let (code, _) = raw(&client, "PUT", "/api/v1/namespaces/fin/finalize", Some(&ns)).await;
    assert_eq!(code, 200);
    kube_support::eventually("the namespace goes", || async {
        let (code, _) = raw(&client, "GET", "/api/v1/namespaces/fin", None).await;
        (code == 404).then_some(())
    })
    .await;
}

#[tokio::test]
async fn namespace_lifecycle_admission() {
    let server = start().await;
    let client = server.client();
    let cm = json!({"metadata": {"name": "x"}});
    let (code, missing) = raw(
        &client,
        "POST",
        "/api/v1/namespaces/absent/configmaps",
        Some(&cm),
    )
    .await;
    assert_eq!(
        (code, missing["message"].clone()),
        (404, json!("namespaces \"absent\" not found"))
    );
    for immortal in ["default", "kube-system", "kube-public", "kube-node-lease"] {
        let (code, refused) = raw(
            &client,
            "DELETE",
            &format!("/api/v1/namespaces/{immortal}"),
            None,
        )
        .await;
        assert_eq!(code, 403, "{immortal}");
        assert_eq!(
            refused["message"],
            format!("namespaces \"{immortal}\" is forbidden: this namespace may not be deleted")
        );
    }
}

/// A minimal valid object of each resource the registry added beyond the first set, where it
/// is created, and the columns `kubectl get` shows for it.
fn samples() -> Vec<(&'static str, Value, &'static [&'static str])> {
    vec![
        (
            "/api/v1/persistentvolumes",
            json!({"metadata": {"name": "pv1"}, "spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"], "hostPath": {"path": "/tmp/pv1"}, "storageClassName": "standard"}}),
            &[
                "Name",
                "Capacity",
                "Access Modes",
                "Reclaim Policy",
                "Status",
                "Claim",
                "StorageClass",
                "VolumeAttributesClass",
                "Reason",
                "Age",
                "VolumeMode",
            ],
        ),
        (
            "/api/v1/namespaces/default/persistentvolumeclaims",
            json!({"metadata": {"name": "pvc1"}, "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}),
            &[
                "Name",
                "Status",
                "Volume",
                "Capacity",
                "Access Modes",
                "StorageClass",
                "VolumeAttributesClass",
                "Age",
                "VolumeMode",
            ],
        ),
        (
            "/api/v1/namespaces/default/replicationcontrollers",
            json!({"metadata": {"name": "rc1"}, "spec": {"replicas": 0, "selector": {"app": "rc1"}, "template": {"metadata": {"labels": {"app": "rc1"}}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}}),
            &[
                "Name",
                "Desired",
                "Current",
                "Ready",
                "Age",
                "Containers",
                "Images",
                "Selector",
            ],
        ),
        (
            "/api/v1/namespaces/default/podtemplates",
            json!({"metadata": {"name": "pt1"}, "template": {"metadata": {"labels": {"a": "b"}}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}),
            &["Name", "Containers", "Images", "Pod Labels"],
        ),
        (
            "/api/v1/namespaces/default/limitranges",
            json!({"metadata": {"name": "lr1"}, "spec": {"limits": [{"type": "Container", "default": {"cpu": "500m"}}]}}),
            &["Name", "Created At"],
        ),
        (
            "/api/v1/namespaces/default/resourcequotas",
            json!({"metadata": {"name": "rq1"}, "spec": {"hard": {"pods": "10"}}}),
            &["Name", "Age", "Request", "Limit"],
        ),
        (
            "/apis/apps/v1/namespaces/default/statefulsets",
            json!({"metadata": {"name": "sts1"}, "spec": {"replicas": 0, "serviceName": "sts1", "selector": {"matchLabels": {"app": "sts1"}}, "template": {"metadata": {"labels": {"app": "sts1"}}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}}),
            &["Name", "Ready", "Age", "Containers", "Images"],
        ),
        (
            "/apis/apps/v1/namespaces/default/daemonsets",
            json!({"metadata": {"name": "ds1"}, "spec": {"selector": {"matchLabels": {"app": "ds1"}}, "template": {"metadata": {"labels": {"app": "ds1"}}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}}),
            &[
                "Name",
                "Desired",
                "Current",
                "Ready",
                "Up-to-date",
                "Available",
                "Node Selector",
                "Age",
                "Containers",
                "Images",
                "Selector",
            ],
        ),
        (
            "/apis/apps/v1/namespaces/default/controllerrevisions",
            json!({"metadata": {"name": "cr1"}, "revision": 1}),
            &["Name", "Controller", "Revision", "Age"],
        ),
        (
            "/apis/autoscaling/v2/namespaces/default/horizontalpodautoscalers",
            json!({"metadata": {"name": "hpa1"}, "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"}, "maxReplicas": 3}}),
            &[
                "Name",
                "Reference",
                "Targets",
                "MinPods",
                "MaxPods",
                "Replicas",
                "Age",
            ],
        ),
        (
            "/apis/policy/v1/namespaces/default/poddisruptionbudgets",
            json!({"metadata": {"name": "pdb1"}, "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "web"}}}}),
            &[
                "Name",
                "Min Available",
                "Max Unavailable",
                "Allowed Disruptions",
                "Age",
            ],
        ),
        (
            "/apis/networking.k8s.io/v1/namespaces/default/ingresses",
            json!({"metadata": {"name": "ing1"}, "spec": {"rules": [{"host": "a.example.com", "http": {"paths": [{"path": "/", "pathType": "Prefix", "backend": {"service": {"name": "web", "port": {"number": 80}}}}]}}]}}),
            &["Name", "Class", "Hosts", "Address", "Ports", "Age"],
        ),
        (
            "/apis/networking.k8s.io/v1/ingressclasses",
            json!({"metadata": {"name": "ic1"}, "spec": {"controller": "example.com/ingress"}}),
            &["Name", "Controller", "Parameters", "Age"],
        ),
        (
            "/apis/networking.k8s.io/v1/namespaces/default/networkpolicies",
            json!({"metadata": {"name": "np1"}, "spec": {"podSelector": {}}}),
            &["Name", "Pod-Selector", "Age"],
        ),
        (
            "/apis/networking.k8s.io/v1/servicecidrs",
            // Listed before the server's own `kubernetes`.
            json!({"metadata": {"name": "extra"}, "spec": {"cidrs": ["10.200.0.0/16"]}}),
            &["Name", "CIDRs", "Age"],
        ),
        (
            "/apis/networking.k8s.io/v1/ipaddresses",
            json!({"metadata": {"name": "10.200.0.5"}, "spec": {"parentRef": {"resource": "services", "namespace": "default", "name": "web"}}}),
            &["Name", "ParentRef"],
        ),
        (
            "/apis/discovery.k8s.io/v1/namespaces/default/endpointslices",
            json!({"metadata": {"name": "es1"}, "addressType": "IPv4", "endpoints": [{"addresses": ["10.0.0.1"]}], "ports": [{"port": 80}]}),
            &["Name", "AddressType", "Ports", "Endpoints", "Age"],
        ),
        (
            "/apis/storage.k8s.io/v1/storageclasses",
            json!({"metadata": {"name": "fast"}, "provisioner": "example.com/fast"}),
            &[
                "Name",
                "Provisioner",
                "ReclaimPolicy",
                "VolumeBindingMode",
                "AllowVolumeExpansion",
                "Age",
            ],
        ),
        (
            "/apis/storage.k8s.io/v1/csidrivers",
            json!({"metadata": {"name": "csi.example.com"}, "spec": {}}),
            &[
                "Name",
                "AttachRequired",
                "PodInfoOnMount",
                "StorageCapacity",
                "TokenRequests",
                "RequiresRepublish",
                "Modes",
                "Age",
            ],
        ),
        (
            "/apis/storage.k8s.io/v1/csinodes",
            json!({"metadata": {"name": "node-1"}, "spec": {"drivers": []}}),
            &["Name", "Drivers", "Age"],
        ),
        (
            "/apis/storage.k8s.io/v1/volumeattachments",
            json!({"metadata": {"name": "va1"}, "spec": {"attacher": "csi.example.com", "nodeName": "node-1", "source": {"persistentVolumeName": "pv1"}}}),
            &["Name", "Attacher", "PV", "Node", "Attached", "Age"],
        ),
        (
            "/apis/storage.k8s.io/v1/namespaces/default/csistoragecapacities",
            json!({"metadata": {"name": "cap1"}, "storageClassName": "fast", "capacity": "10Gi"}),
            &["Name", "StorageClassName", "Capacity"],
        ),
        (
            "/apis/scheduling.k8s.io/v1/priorityclasses",
            json!({"metadata": {"name": "high"}, "value": 1000}),
            &["Name", "Value", "Global-Default", "Age", "PreemptionPolicy"],
        ),
        (
            "/apis/node.k8s.io/v1/runtimeclasses",
            json!({"metadata": {"name": "gvisor"}, "handler": "runsc"}),
            &["Name", "Handler", "Age"],
        ),
        (
            "/apis/certificates.k8s.io/v1/certificatesigningrequests",
            json!({"metadata": {"name": "csr1"}, "spec": {"request": signed_request(), "signerName": "example.com/signer", "usages": ["client auth"]}}),
            &[
                "Name",
                "Age",
                "SignerName",
                "Requestor",
                "RequestedDuration",
                "Condition",
            ],
        ),
        (
            "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations",
            json!({"metadata": {"name": "vw1"}, "webhooks": []}),
            &["Name", "Webhooks", "Age"],
        ),
        (
            "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations",
            json!({"metadata": {"name": "mw1"}, "webhooks": []}),
            &["Name", "Webhooks", "Age"],
        ),
        (
            "/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicies",
            json!({"metadata": {"name": "vap1"}, "spec": {
                "matchConstraints": {"resourceRules": [{"apiGroups": [""], "apiVersions": ["v1"],
                    "operations": ["CREATE"], "resources": ["configmaps"]}]},
                "validations": [{"expression": "true"}]}}),
            &["Name", "Validations", "ParamKind", "Age"],
        ),
        (
            "/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicybindings",
            json!({"metadata": {"name": "vapb1"}, "spec": {"policyName": "vap1", "validationActions": ["Deny"]}}),
            &["Name", "PolicyName", "ParamRef", "Age"],
        ),
        (
            "/apis/flowcontrol.apiserver.k8s.io/v1/prioritylevelconfigurations",
            // Named to list before the bootstrap levels (the table's first row is checked).
            json!({"metadata": {"name": "a-plc1"}, "spec": {"type": "Limited", "limited": {"limitResponse": {"type": "Reject"}}}}),
            &[
                "Name",
                "Type",
                "NominalConcurrencyShares",
                "Queues",
                "HandSize",
                "QueueLengthLimit",
                "Age",
            ],
        ),
        (
            "/apis/flowcontrol.apiserver.k8s.io/v1/flowschemas",
            json!({"metadata": {"name": "a-fs1"}, "spec": {"priorityLevelConfiguration": {"name": "a-plc1"}}}),
            &[
                "Name",
                "PriorityLevel",
                "MatchingPrecedence",
                "DistinguisherMethod",
                "Age",
                "MissingPL",
            ],
        ),
    ]
}

#[tokio::test]
async fn each_added_resource_is_created_read_listed_printed_and_deleted() {
    let server = start().await;
    let client = server.client();
    const TABLE: &str = "application/json;as=Table;v=v1;g=meta.k8s.io";
    for (collection, body, columns) in samples() {
        let name = body["metadata"]["name"].as_str().unwrap().to_string();
        let (code, created) = raw(&client, "POST", collection, Some(&body)).await;
        assert_eq!(code, 201, "create in {collection}: {created}");
        let item = format!("{collection}/{name}");
        let (code, read) = raw(&client, "GET", &item, None).await;
        assert_eq!(
            (code, &read["metadata"]["uid"]),
            (200, &created["metadata"]["uid"]),
            "{item}"
        );
        let (code, table) = kube_support::raw(&client, "GET", collection, Some(TABLE), None).await;
        assert_eq!(code, 200, "{collection}: {table}");
        let names: Vec<&str> = table["columnDefinitions"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|c| c["name"].as_str())
            .collect();
        assert_eq!(names, columns, "{collection}");
        let row = &table["rows"][0]["cells"];
        assert_eq!(
            row.as_array().map(Vec::len),
            Some(columns.len()),
            "{collection}: {row}"
        );
        assert_eq!(row[0], json!(name), "{collection}");
        let (code, _) = raw(&client, "DELETE", &item, None).await;
        assert_eq!(code, 200, "{item}");
        // Gone at once, or once an in-server controller has removed its protection finalizer
        // (PersistentVolumeClaims; ServiceCIDRs 10 s after their deletion, as upstream).
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
        loop {
            let (code, _) = raw(&client, "GET", &item, None).await;
            if code == 404 {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{item} after delete: {code}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }
}

#[tokio::test]
async fn horizontal_pod_autoscalers_are_one_resource_at_v1_and_v2() {
    let server = start().await;
    let client = server.client();
    let v1 = "/apis/autoscaling/v1/namespaces/default/horizontalpodautoscalers";
    let v2 = "/apis/autoscaling/v2/namespaces/default/horizontalpodautoscalers";
    let (code, created) = raw(
        &client,
        "POST",
        v1,
        Some(&json!({"metadata": {"name": "web"},
        "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
            "maxReplicas": 5, "targetCPUUtilizationPercentage": 70}})),
    )
    .await;
    assert_eq!(code, 201, "{created}");
    assert_eq!(created["apiVersion"], "autoscaling/v1");
    assert_eq!(created["spec"]["targetCPUUtilizationPercentage"], 70);
    let (_, as_v2) = raw(&client, "GET", &format!("{v2}/web"), None).await;
    assert_eq!(as_v2["apiVersion"], "autoscaling/v2");
    assert_eq!(
        as_v2["spec"]["metrics"],
        json!([{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}}}])
    );
    assert!(
        as_v2["spec"]
            .get("targetCPUUtilizationPercentage")
            .is_none()
    );
    let (_, listed) = raw(&client, "GET", v1, None).await;
    assert_eq!(
        listed["items"][0]["spec"]["targetCPUUtilizationPercentage"],
        70
    );
    // Discovery prefers v2, as kube-apiserver does.
    let (_, group) = raw(&client, "GET", "/apis/autoscaling", None).await;
    assert_eq!(group["preferredVersion"]["version"], "v2");
}

/// A signed PKCS#10 request (PEM, base64 as `spec.request` carries it).
fn signed_request() -> String {
    use base64::Engine as _;
    let key = rcgen::KeyPair::generate().expect("key");
    let csr = rcgen::CertificateParams::default()
        .serialize_request(&key)
        .expect("csr");
    base64::engine::general_purpose::STANDARD.encode(csr.pem().expect("pem"))
}

/// What v1 cannot hold rides in upstream's `autoscaling.alpha.kubernetes.io/*` annotations,
/// written as a 1.33 kube-apiserver writes them, and comes back at v2 after a v1 update.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_v1_round_trip_keeps_what_only_v2_holds() {
    let server = start().await;
    let client = server.client();
    let v1 = "/apis/autoscaling/v1/namespaces/default/horizontalpodautoscalers";
    let v2 = "/apis/autoscaling/v2/namespaces/default/horizontalpodautoscalers";
    let metrics = json!([
        {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 60}}},
        {"type": "Resource", "resource": {"name": "memory", "target": {"type": "AverageValue", "averageValue": "500Mi"}}},
    ]);
    let behavior = json!({"scaleDown": {"stabilizationWindowSeconds": 300,
        "policies": [{"type": "Percent", "value": 10, "periodSeconds": 60}]}});
    let (code, created) = raw(
        &client,
        "POST",
        v2,
        Some(&json!({"metadata": {"name": "web", "annotations": {"team": "a"}},
            "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
                "minReplicas": 1, "maxReplicas": 5, "metrics": metrics, "behavior": behavior}})),
    )
    .await;
    assert_eq!(code, 201, "{created}");
    // The autoscaler controller reports the missing target first; the update below would
    // otherwise race its status write (and get 409, as on a cluster).
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let (_, now) = raw(&client, "GET", &format!("{v2}/web"), None).await;
        if now.pointer("/status/conditions").is_some() {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "no status: {now}");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }

    let (_, at_v1) = raw(&client, "GET", &format!("{v1}/web"), None).await;
    assert_eq!(at_v1["spec"]["targetCPUUtilizationPercentage"], 60);
    // behavior as v2 defaulted it; the controller's conditions (its target does not exist) ride
    // in their own annotation, which this test leaves aside.
    let mut annotations = at_v1["metadata"]["annotations"].clone();
    if let Some(map) = annotations.as_object_mut() {
        map.remove("autoscaling.alpha.kubernetes.io/conditions");
    }
    assert_eq!(
        annotations,
        json!({
            "autoscaling.alpha.kubernetes.io/behavior": r#"{"ScaleUp":{"StabilizationWindowSeconds":0,"SelectPolicy":"Max","Policies":[{"Type":"Pods","Value":4,"PeriodSeconds":15},{"Type":"Percent","Value":100,"PeriodSeconds":15}],"Tolerance":null},"ScaleDown":{"StabilizationWindowSeconds":300,"SelectPolicy":"Max","Policies":[{"Type":"Percent","Value":10,"PeriodSeconds":60}],"Tolerance":null}}"#,
            "autoscaling.alpha.kubernetes.io/metrics": r#"[{"type":"Resource","resource":{"name":"memory","targetAverageValue":"500Mi"}}]"#,
            "team": "a",
        })
    );

    // A v1 client changes what it knows and writes the object back, annotations and all.
    let mut updated = at_v1.clone();
    updated["spec"]["maxReplicas"] = json!(8);
    updated["spec"]["targetCPUUtilizationPercentage"] = json!(75);
    let (code, written) = raw(&client, "PUT", &format!("{v1}/web"), Some(&updated)).await;
    assert_eq!(code, 200, "{written}");
    for key in [
        "autoscaling.alpha.kubernetes.io/behavior",
        "autoscaling.alpha.kubernetes.io/metrics",
        "team",
    ] {
        assert_eq!(
            written["metadata"]["annotations"][key],
            at_v1["metadata"]["annotations"][key]
        );
    }

    let (_, at_v2) = raw(&client, "GET", &format!("{v2}/web"), None).await;
    assert_eq!(at_v2["spec"]["maxReplicas"], 8);
    // The memory metric first, then v1's CPU target, as upstream orders them.
    assert_eq!(
        at_v2["spec"]["metrics"],
        json!([
            {"type": "Resource", "resource": {"name": "memory", "target": {"type": "AverageValue", "averageValue": "500Mi"}}},
            {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 75}}},
        ])
    );
    assert_eq!(
        at_v2["spec"]["behavior"],
        json!({"scaleUp": {"stabilizationWindowSeconds": 0, "selectPolicy": "Max",
                "policies": [{"type": "Pods", "value": 4, "periodSeconds": 15},
                    {"type": "Percent", "value": 100, "periodSeconds": 15}]},
            "scaleDown": {"stabilizationWindowSeconds": 300, "selectPolicy": "Max",
                "policies": [{"type": "Percent", "value": 10, "periodSeconds": 60}]}})
    );
    // The annotations were the conversion's: the v2 object does not carry them.
    assert_eq!(at_v2["metadata"]["annotations"], json!({"team": "a"}));
}
