//! The simulated nodes and scheduler through kube-rs: several nodes, pods spread over them,
//! `nodeSelector`, taints and tolerations, cordoned and not-ready nodes, and upstream's
//! `FailedScheduling` message for a pod no node fits — which is scheduled once one does. The
//! simulated kubelet's part in `pods/resize` (resources reported, resizes applied) and
//! `pods/ephemeralcontainers` (ephemeral containers started), through kube-rs, raw requests and
//! kubectl 1.33 (`kubectl debug`, `kubectl patch --subresource=resize`).

mod kube_support;

mod kubectl_support;

use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{ListParams, Patch, PatchParams, PostParams};
use kube::{Api, ResourceExt};
use kube_support::eventually;
use kubeforge_apiserver::ApiServer;
use serde_json::{Value, json};
use std::collections::BTreeSet;

async fn three_nodes() -> ApiServer {
    kube_support::on_test_storage(
        ApiServer::builder()
            .in_memory()
            .simulate_workloads(true)
            .nodes(3),
    )
    .await
    .start()
    .await
    .expect("server starts")
}

fn pod(name: &str, spec: Value) -> Pod {
    let mut spec = spec;
    spec["containers"] = json!([{"name": "c", "image": "busybox"}]);
    serde_json::from_value(json!({"metadata": {"name": name}, "spec": spec})).expect("pod")
}

/// Waits until pod `name` runs and returns its node.
async fn running_on(pods: &Api<Pod>, name: &str) -> String {
    eventually(&format!("{name} to run"), || async {
        let p = pods.get(name).await.ok()?;
        let node = p.spec.as_ref()?.node_name.clone()?;
        (p.status.as_ref()?.phase.as_deref() == Some("Running")).then_some(node)
    })
    .await
}

/// Waits until pod `name` is reported unschedulable and returns the message.
async fn unschedulable(pods: &Api<Pod>, name: &str) -> String {
    eventually(&format!("{name} to be unschedulable"), || async {
        let p = pods.get(name).await.ok()?;
        let c = p
            .status?
            .conditions?
            .into_iter()
            .find(|c| c.type_ == "PodScheduled")?;
        (c.status == "False" && c.reason.as_deref() == Some("Unschedulable"))
            .then(|| c.message.unwrap_or_default())
    })
    .await
}

async fn cordon(nodes: &Api<Node>, name: &str, on: bool) {
    nodes
        .patch(
            name,
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"unschedulable": on}})),
        )
        .await
        .expect("cordon");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pods_spread_over_the_simulated_nodes_and_follow_selectors_and_taints() {
    let server = three_nodes().await;
    let client = server.client();
    let nodes: Api<Node> = Api::all(client.clone());
    let names: BTreeSet<String> = nodes
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .iter()
        .map(|n| n.name_any())
        .collect();
    assert_eq!(
        names,
        ["kubeforge-node", "kubeforge-node-2", "kubeforge-node-3"]
            .map(String::from)
            .into()
    );
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let mut used = BTreeSet::new();
    for i in 0..6 {
        let name = format!("spread-{i}");
        pods.create(&PostParams::default(), &pod(&name, json!({})))
            .await
            .unwrap();
        used.insert(running_on(&pods, &name).await);
    }
    assert_eq!(used.len(), 3, "pods on every node: {used:?}");

    pods.create(
        &PostParams::default(),
        &pod(
            "pinned",
            json!({"nodeSelector": {"kubernetes.io/hostname": "kubeforge-node-2"}}),
        ),
    )
    .await
    .unwrap();
    assert_eq!(running_on(&pods, "pinned").await, "kubeforge-node-2");

    // A NoSchedule taint keeps pods away unless they tolerate it.
    nodes
        .patch(
            "kubeforge-node-3",
            &PatchParams::default(),
            &Patch::Merge(
                json!({"spec": {"taints": [{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}]}}),
            ),
        )
        .await
        .unwrap();
    let to_three = json!({"nodeSelector": {"kubernetes.io/hostname": "kubeforge-node-3"}});
    pods.create(&PostParams::default(), &pod("intolerant", to_three.clone()))
        .await
        .unwrap();
    assert_eq!(
        unschedulable(&pods, "intolerant").await,
        "0/3 nodes are available: 1 node(s) had untolerated taint {dedicated: gpu}, 2 node(s) didn't match Pod's node affinity/selector. preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling."
    );
    let mut tolerant = to_three;
    tolerant["tolerations"] =
        json!([{"key": "dedicated", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"}]);
    pods.create(&PostParams::default(), &pod("tolerant", tolerant))
        .await
        .unwrap();
    assert_eq!(running_on(&pods, "tolerant").await, "kubeforge-node-3");
    // Removing the taint lets the waiting pod in.
    nodes
        .patch(
            "kubeforge-node-3",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"taints": null}})),
        )
        .await
        .unwrap();
    assert_eq!(running_on(&pods, "intolerant").await, "kubeforge-node-3");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cordoned_and_not_ready_nodes_take_no_pods_until_they_can() {
    let server = three_nodes().await;
    let client = server.client();
    let nodes: Api<Node> = Api::all(client.clone());
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    cordon(&nodes, "kubeforge-node", true).await;
    cordon(&nodes, "kubeforge-node-2", true).await;
    pods.create(&PostParams::default(), &pod("one-left", json!({})))
        .await
        .unwrap();
    assert_eq!(running_on(&pods, "one-left").await, "kubeforge-node-3");

    cordon(&nodes, "kubeforge-node-3", true).await;
    // A node of the user's, never Ready: the not-ready taint keeps pods off it.
    let extra: Node = serde_json::from_value(json!({"metadata": {"name": "bare-metal"}})).unwrap();
    nodes.create(&PostParams::default(), &extra).await.unwrap();
    pods.create(&PostParams::default(), &pod("waiting", json!({})))
        .await
        .unwrap();
    assert_eq!(
        unschedulable(&pods, "waiting").await,
        "0/4 nodes are available: 1 node(s) had untolerated taint {node.kubernetes.io/not-ready: }, 3 node(s) were unschedulable. preemption: 0/4 nodes are available: 4 Preemption is not helpful for scheduling."
    );
    let events: Api<k8s_openapi::api::core::v1::Event> = Api::namespaced(client.clone(), "default");
    eventually("a FailedScheduling event", || async {
        let list = events.list(&ListParams::default()).await.ok()?;
        list.items
            .iter()
            .any(|e| {
                e.reason.as_deref() == Some("FailedScheduling")
                    && e.involved_object.name.as_deref() == Some("waiting")
                    && e.source.as_ref().and_then(|s| s.component.as_deref())
                        == Some("default-scheduler")
            })
            .then_some(())
    })
    .await;
    // A pod that tolerates the cordon still goes.
    pods.create(
        &PostParams::default(),
        &pod(
            "tolerates-cordon",
            json!({"tolerations": [{"key": "node.kubernetes.io/unschedulable", "operator": "Exists", "effect": "NoSchedule"}]}),
        ),
    )
    .await
    .unwrap();
    running_on(&pods, "tolerates-cordon").await;
    cordon(&nodes, "kubeforge-node-2", false).await;
    assert_eq!(running_on(&pods, "waiting").await, "kubeforge-node-2");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gated_pods_and_other_schedulers_pods_stay_unbound() {
    let server = three_nodes().await;
    let pods: Api<Pod> = Api::namespaced(server.client(), "default");
    pods.create(
        &PostParams::default(),
        &pod(
            "gated",
            json!({"schedulingGates": [{"name": "example.com/wait"}]}),
        ),
    )
    .await
    .unwrap();
    pods.create(
        &PostParams::default(),
        &pod("elsewhere", json!({"schedulerName": "my-scheduler"})),
    )
    .await
    .unwrap();
    pods.create(&PostParams::default(), &pod("plain", json!({})))
        .await
        .unwrap();
    running_on(&pods, "plain").await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    for name in ["gated", "elsewhere"] {
        let p = pods.get(name).await.unwrap();
        assert_eq!(p.spec.unwrap().node_name, None, "{name} was bound");
    }
    // The gate removed: scheduled.
    pods.patch(
        "gated",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"schedulingGates": null}})),
    )
    .await
    .unwrap();
    running_on(&pods, "gated").await;
    server.shutdown().await;
}

/// Pod priority as kube-apiserver's Priority admission resolves it, and PriorityClasses as its
/// registry keeps them: the two system classes exist from the start; a pod gets its class's
/// value (0 and `PreemptLowerPriority` without one, the global default's once there is one);
/// an unknown class, a second global default, a reserved `system-` name and a user value above
/// 1,000,000,000 are refused in upstream's words.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pods_get_the_priority_of_their_class() {
    let server = kube_support::start().await;
    let client = server.client();
    let (pods, classes) = (
        "/api/v1/namespaces/default/pods",
        "/apis/scheduling.k8s.io/v1/priorityclasses",
    );
    let raw = |method: &'static str, uri: &'static str, body: Value| {
        let client = client.clone();
        async move { kube_support::raw(&client, method, uri, None, Some(&body)).await }
    };
    let (_, list) = kube_support::raw(&client, "GET", classes, None, None).await;
    let system: BTreeSet<(String, i64)> = list["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|c| {
            (
                c["metadata"]["name"].as_str().unwrap_or("").to_string(),
                c["value"].as_i64().unwrap_or(0),
            )
        })
        .collect();
    assert_eq!(
        system,
        BTreeSet::from([
            ("system-cluster-critical".to_string(), 2_000_000_000),
            ("system-node-critical".to_string(), 2_000_001_000),
        ])
    );
    let pod_body = |name: &str, class: Option<&str>| {
        let mut spec = json!({"containers": [{"name": "c", "image": "busybox"}]});
        if let Some(class) = class {
            spec["priorityClassName"] = json!(class);
        }
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": spec})
    };
    let (code, plain) = raw("POST", pods, pod_body("plain", None)).await;
    assert_eq!(code, 201, "{plain}");
    assert_eq!(plain["spec"]["priority"], 0);
    assert_eq!(plain["spec"]["preemptionPolicy"], "PreemptLowerPriority");
    let (code, critical) = raw(
        "POST",
        pods,
        pod_body("critical", Some("system-node-critical")),
    )
    .await;
    assert_eq!(code, 201, "{critical}");
    assert_eq!(critical["spec"]["priority"], 2_000_001_000);
    let (code, refused) = raw("POST", pods, pod_body("lost", Some("nope"))).await;
    assert_eq!((code, refused["reason"].as_str()), (403, Some("Forbidden")));
    assert_eq!(
        refused["message"],
        "pods \"lost\" is forbidden: no PriorityClass with name nope was found"
    );
    let class = |name: &str, value: i64, global: bool| {
        json!({"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass",
            "metadata": {"name": name}, "value": value, "globalDefault": global})
    };
    let (code, high) = raw("POST", classes, class("high", 1000, true)).await;
    assert_eq!(code, 201, "{high}");
    assert_eq!(high["preemptionPolicy"], "PreemptLowerPriority");
    let (code, second) = raw("POST", classes, class("higher", 2000, true)).await;
    assert_eq!(code, 403, "{second}");
    assert_eq!(
        second["message"],
        "priorityclasses.scheduling.k8s.io \"higher\" is forbidden: PriorityClass high is already marked as default. Only one default can exist"
    );
    let (code, defaulted) = raw("POST", pods, pod_body("defaulted", None)).await;
    assert_eq!(code, 201, "{defaulted}");
    assert_eq!(defaulted["spec"]["priority"], 1000);
    assert_eq!(defaulted["spec"]["priorityClassName"], "high");
    let (code, reserved) = raw("POST", classes, class("system-mine", 5, false)).await;
    assert_eq!(code, 422, "{reserved}");
    assert_eq!(
        reserved["details"]["causes"][0]["message"],
        "Forbidden: priority class names with 'system-' prefix are reserved for system use only. error: system-mine is not a known system priority class"
    );
    let (code, huge) = raw("POST", classes, class("huge", 2_000_000_000, false)).await;
    assert_eq!(code, 422, "{huge}");
    assert_eq!(
        huge["details"]["causes"][0]["message"],
        "Forbidden: maximum allowed value of a user defined priority is 1000000000"
    );
}

/// `pods/resize` and `pods/ephemeralcontainers` listed in discovery as upstream lists them:
/// kind Pod, verbs get, patch and update.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pod_subresources_of_the_pod_kind_are_discovered() {
    let server = three_nodes().await;
    let (code, list) = kube_support::raw(&server.client(), "GET", "/api/v1", None, None).await;
    assert_eq!(code, 200);
    for name in ["pods/ephemeralcontainers", "pods/resize", "pods/status"] {
        let r = list["resources"]
            .as_array()
            .expect("resources")
            .iter()
            .find(|r| r["name"] == name)
            .unwrap_or_else(|| panic!("{name} listed"));
        assert_eq!(r["kind"], "Pod", "{name}");
        assert_eq!(r["verbs"], json!(["get", "patch", "update"]), "{name}");
    }
}

/// Waits until the status of pod `name` satisfies `check`, and returns it.
async fn status_where(
    pods: &Api<Pod>,
    name: &str,
    what: &str,
    check: impl Fn(&Value) -> bool,
) -> Value {
    eventually(what, || async {
        let p = serde_json::to_value(pods.get(name).await.ok()?).ok()?;
        check(&p["status"]).then(|| p["status"].clone())
    })
    .await
}

/// `pods/resize` through kube-rs and raw requests: the running pod's container reports its
/// resources (so the server knows its node resizes), a resize changes only the resources (the
/// simulated kubelet applies it at once), and refused resizes get upstream's causes; the pod
/// itself may still not change its resources.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn running_pods_are_resized_in_place() {
    let server = three_nodes().await;
    let client = server.client();
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let mut p = pod("rz", json!({}));
    p.spec.as_mut().expect("spec").containers[0].resources = Some(
        serde_json::from_value(
            json!({"requests": {"cpu": "100m", "memory": "64Mi"}, "limits": {"memory": "128Mi"}}),
        )
        .expect("resources"),
    );
    pods.create(&PostParams::default(), &p)
        .await
        .expect("create");
    running_on(&pods, "rz").await;
    let status = status_where(&pods, "rz", "resources reported", |s| {
        s.pointer("/containerStatuses/0/resources/requests/cpu") == Some(&json!("100m"))
    })
    .await;
    assert_eq!(
        status["containerStatuses"][0]["allocatedResources"]["memory"],
        "64Mi"
    );

    // GET answers the pod.
    let (code, got) = kube_support::raw(
        &client,
        "GET",
        "/api/v1/namespaces/default/pods/rz/resize",
        None,
        None,
    )
    .await;
    assert_eq!((code, got["kind"].clone()), (200, json!("Pod")));

    let resized = pods
        .patch_subresource(
            "resize",
            "rz",
            &PatchParams::default(),
            &Patch::Strategic(
                json!({"spec": {"containers": [{"name": "c", "image": "other",
                "resources": {"requests": {"cpu": "200m"}}}]}}),
            ),
        )
        .await
        .expect("resize");
    let c = &resized.spec.as_ref().expect("spec").containers[0];
    assert_eq!(c.image.as_deref(), Some("busybox"), "only resources change");
    let requests = c
        .resources
        .as_ref()
        .and_then(|r| r.requests.clone())
        .expect("requests");
    assert_eq!(requests["cpu"].0, "200m");
    assert_eq!(requests["memory"].0, "64Mi");
    status_where(&pods, "rz", "the resize applied", |s| {
        s.pointer("/containerStatuses/0/resources/requests/cpu") == Some(&json!("200m"))
    })
    .await;

    // Refusals, in upstream's words.
    for (patch, cause) in [
        (
            json!({"spec": {"containers": [{"name": "c", "resources": {"limits": {"memory": "100Mi"}}}]}}),
            "spec.containers[0].resources.limits[memory]: Forbidden: memory limits cannot be decreased unless resizePolicy is RestartContainer",
        ),
        (
            json!({"spec": {"containers": [{"name": "c", "resources": {"requests": {"cpu": "200m", "memory": "64Mi", "ephemeral-storage": "1Gi"}}}]}}),
            "spec: Forbidden: only cpu and memory resources are mutable",
        ),
        (
            json!({"spec": {"containers": [{"name": "c", "resources": {"requests": {"cpu": "128Mi", "memory": "128Mi"}, "limits": {"cpu": "128Mi", "memory": "128Mi"}}}]}}),
            "spec: Invalid value: \"Burstable\": Pod QOS Class may not change as a result of resizing",
        ),
    ] {
        let err = pods
            .patch_subresource(
                "resize",
                "rz",
                &PatchParams::default(),
                &Patch::Strategic(patch),
            )
            .await
            .expect_err("refused");
        let status = kube_support::status(err);
        assert_eq!((status.code, status.reason.as_str()), (422, "Invalid"));
        assert_eq!(kube_support::causes(&status), vec![cause.to_string()]);
    }
    let err = pods
        .patch(
            "rz",
            &PatchParams::default(),
            &Patch::Strategic(json!({"spec": {"containers": [{"name": "c", "resources": {"requests": {"cpu": "300m"}}}]}})),
        )
        .await
        .expect_err("the pod itself keeps its resources");
    assert!(
        kube_support::status(err)
            .message
            .contains("pod updates may not change fields")
    );
}

/// `pods/ephemeralcontainers` through kube-rs and raw requests: containers are added (and the
/// simulated kubelet starts them), existing ones may not change, ephemeral containers may not
/// have ports or resources, and pods are not created with them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ephemeral_containers_are_added_to_running_pods() {
    let server = three_nodes().await;
    let client = server.client();
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    pods.create(&PostParams::default(), &pod("ec", json!({})))
        .await
        .expect("create");
    running_on(&pods, "ec").await;
    let added = pods
        .patch_subresource(
            "ephemeralcontainers",
            "ec",
            &PatchParams::default(),
            &Patch::Strategic(json!({"spec": {"ephemeralContainers": [
                {"name": "dbg", "image": "busybox", "targetContainerName": "c"}]}})),
        )
        .await
        .expect("add");
    let ec = added
        .spec
        .as_ref()
        .and_then(|s| s.ephemeral_containers.clone())
        .expect("added");
    assert_eq!(ec[0].name, "dbg");
    assert_eq!(
        ec[0].termination_message_path.as_deref(),
        Some("/dev/termination-log"),
        "defaulted"
    );
    status_where(&pods, "ec", "the ephemeral container to run", |s| {
        s.pointer("/ephemeralContainerStatuses/0/state/running")
            .is_some()
    })
    .await;

    // A PUT changing the existing one is refused.
    let uri = "/api/v1/namespaces/default/pods/ec/ephemeralcontainers";
    let (_, mut current) = kube_support::raw(&client, "GET", uri, None, None).await;
    current["spec"]["ephemeralContainers"][0]["image"] = json!("alpine");
    let (code, answer) = kube_support::raw(&client, "PUT", uri, None, Some(&current)).await;
    assert_eq!(code, 422, "{answer}");
    let message = answer["details"]["causes"][0]["message"]
        .as_str()
        .unwrap_or("");
    assert!(
        message
            .starts_with("Forbidden: existing ephemeral containers \"dbg\" may not be changed\n"),
        "{answer}"
    );
    assert_eq!(
        answer["details"]["causes"][0]["field"],
        "spec.ephemeralContainers"
    );
    // Fields an ephemeral container may not have.
    current["spec"]["ephemeralContainers"][0]["image"] = json!("busybox");
    let list = current["spec"]["ephemeralContainers"]
        .as_array_mut()
        .expect("list");
    list.push(
        json!({"name": "c", "image": "busybox", "ports": [{"containerPort": 80}],
        "resources": {"requests": {"cpu": "1"}}}),
    );
    let (code, answer) = kube_support::raw(&client, "PUT", uri, None, Some(&current)).await;
    assert_eq!(code, 422, "{answer}");
    let causes: Vec<&str> = answer["details"]["causes"]
        .as_array()
        .expect("causes")
        .iter()
        .filter_map(|c| c["message"].as_str())
        .collect();
    assert_eq!(
        causes,
        vec![
            "Duplicate value: \"c\"",
            "Forbidden: cannot be set for an Ephemeral Container",
            "Forbidden: cannot be set for an Ephemeral Container",
        ],
        "{answer}"
    );
    let stored = pods.get("ec").await.expect("get");
    assert_eq!(
        stored
            .spec
            .and_then(|s| s.ephemeral_containers)
            .map(|l| l.len()),
        Some(1)
    );

    // Not on create.
    let mut with = pod("born-with", json!({}));
    with.spec.as_mut().expect("spec").ephemeral_containers = Some(vec![
        serde_json::from_value(json!({"name": "dbg", "image": "busybox"})).expect("container"),
    ]);
    let err = pods
        .create(&PostParams::default(), &with)
        .await
        .expect_err("refused");
    assert_eq!(
        kube_support::causes(&kube_support::status(err)),
        vec!["spec.ephemeralContainers: Forbidden: cannot be set on create"]
    );
}

kubectl_support::kubectl_versions! {
    kubectl_debug_and_resize_1_33 => "1.33",
}

/// kubectl 1.33: `kubectl debug POD --image=busybox --container=NAME` adds ephemeral
/// containers (twice), and `kubectl patch --subresource=resize` resizes.
async fn suite(version: &str) {
    let Some(binary) = kubectl_support::kubectl_binary(version) else {
        return;
    };
    let server = three_nodes().await;
    let k = kubectl_support::Kubectl::new(binary, &server).expect("kubectl home");
    let pods: Api<Pod> = Api::namespaced(server.client(), "default");
    let mut p = pod("kd", json!({}));
    p.spec.as_mut().expect("spec").containers[0].resources =
        Some(serde_json::from_value(json!({"requests": {"cpu": "100m"}})).expect("resources"));
    pods.create(&PostParams::default(), &p)
        .await
        .expect("create");
    running_on(&pods, "kd").await;
    for name in ["dbg", "dbg2"] {
        k.ok(&[
            "debug",
            "kd",
            "--image=busybox",
            &format!("--container={name}"),
        ])
        .await
        .expect("kubectl debug");
    }
    let names = k
        .jsonpath(&["get", "pod", "kd"], "{.spec.ephemeralContainers[*].name}")
        .await
        .expect("get");
    assert_eq!(names, "dbg dbg2");
    status_where(&pods, "kd", "both debug containers to run", |s| {
        s["ephemeralContainerStatuses"]
            .as_array()
            .is_some_and(|l| l.len() == 2)
    })
    .await;
    k.ok(&[
        "patch",
        "pod",
        "kd",
        "--subresource=resize",
        "--patch",
        r#"{"spec":{"containers":[{"name":"c","resources":{"requests":{"cpu":"200m"}}}]}}"#,
    ])
    .await
    .expect("kubectl patch --subresource=resize");
    let cpu = k
        .jsonpath(
            &["get", "pod", "kd"],
            "{.spec.containers[0].resources.requests.cpu}",
        )
        .await
        .expect("get");
    assert_eq!(cpu, "200m");
    let err = k
        .fails(&[
            "patch", "pod", "kd", "--subresource=resize", "--patch",
            r#"{"spec":{"containers":[{"name":"c","resources":{"requests":{"ephemeral-storage":"1Gi"}}}]}}"#,
        ])
        .await
        .expect("refused");
    assert!(
        err.contains("only cpu and memory resources are mutable"),
        "{err}"
    );
}
