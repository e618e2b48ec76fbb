//! Upstream's defaulting and the rules that rely on it, through kube-rs against an in-process
//! server: a minimal Deployment and Pod read back with what kube-apiserver fills in, applying the
//! same manifest again is a no-op, `status.qosClass`, the pod update restriction and the
//! selector/labels rule of workloads; and, with every installed kubectl, `kubectl diff` (client-
//! and server-side) after `kubectl apply` of minimal manifests reports nothing.

mod kube_support;
mod kubectl_support;

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Patch, PatchParams, PostParams};
use kube::{Api, ResourceExt};
use kube_support::{api_err, eventually, start};
use kubectl_support::{Kubectl, kubectl_binary, kubectl_versions};
use serde_json::{Value, json};

kubectl_versions!();

/// Minimal manifests, as users write them: everything else is left to the server's defaults.
/// (No `fieldRef` without `apiVersion`: `fieldRef` is atomic, so after a client-side apply a
/// server-side apply of it conflicts with `kubectl-client-side-apply` on kube-apiserver too.)
const MINIMAL: &str = "apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: default
spec:
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: nginx
        image: nginx:1.25
        ports:
        - containerPort: 80
        readinessProbe:
          httpGet: {port: 80}
---
apiVersion: v1
kind: Pod
metadata:
  name: tool
  namespace: default
spec:
  containers:
  - name: tool
    image: busybox
    ports:
    - containerPort: 8080
  volumes:
  - name: scratch
";

/// `kubectl apply` then `kubectl diff`, and `kubectl apply --server-side` then `kubectl diff
/// --server-side`: nothing to show, and applying again changes nothing.
async fn suite(version: &str) {
    let Some(binary) = kubectl_binary(version) else {
        return;
    };
    let server = start().await;
    let k = Kubectl::new(binary, &server).expect("kubectl");
    let file = k.manifest("minimal.yaml", MINIMAL).expect("manifest");
    let pods: Api<Pod> = Api::namespaced(server.client(), "default");
    for side in ["client", "server"] {
        let (apply, diff): (Vec<&str>, Vec<&str>) = match side {
            "client" => (vec!["apply", "-f", &file], vec!["diff", "-f", &file]),
            _ => (
                vec!["apply", "--server-side", "-f", &file],
                vec!["diff", "--server-side", "-f", &file],
            ),
        };
        k.ok(&apply).await.expect("apply");
        let before = pods.get("tool").await.expect("pod").resource_version();
        let out = k.run(&diff).await.expect("diff runs");
        assert!(
            out.code == Some(0) && out.stdout.is_empty(),
            "kubectl {version} {}: exit {:?}\n{}{}",
            diff.join(" "),
            out.code,
            out.stdout,
            out.stderr
        );
        k.ok(&apply).await.expect("apply again");
        let after = pods.get("tool").await.expect("pod").resource_version();
        assert_eq!(before, after, "{side}-side apply again changed the pod");
        k.ok(&["delete", "-f", &file]).await.expect("delete");
    }
}

fn deployment_manifest() -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web"},
        "spec": {
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "nginx", "image": "nginx:1.25",
                    "ports": [{"containerPort": 80}]}]}
            }
        }
    })
}

fn pod_manifest(name: &str, resources: Value) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name},
        "spec": {
            "containers": [{"name": "app", "image": "busybox", "resources": resources,
                "ports": [{"containerPort": 8080}],
                "readinessProbe": {"httpGet": {"port": 8080}},
                "env": [{"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}]}],
            "volumes": [{"name": "scratch"}]
        }
    })
}

fn apply() -> PatchParams {
    PatchParams::apply("defaults-test")
}

#[tokio::test]
async fn a_minimal_deployment_reads_back_defaulted_and_reapplies_as_a_no_op() {
    let server = start().await;
    let api: Api<Deployment> = Api::namespaced(server.client(), "default");
    let manifest = deployment_manifest();
    let created = api
        .patch("web", &apply(), &Patch::Apply(&manifest))
        .await
        .expect("apply creates");
    let spec = created.spec.as_ref().expect("spec");
    assert_eq!(spec.replicas, Some(1));
    let strategy = spec.strategy.as_ref().expect("strategy");
    assert_eq!(strategy.type_.as_deref(), Some("RollingUpdate"));
    let rolling = strategy.rolling_update.as_ref().expect("rollingUpdate");
    let pct = |v: &Option<k8s_openapi::apimachinery::pkg::util::intstr::IntOrString>| {
        serde_json::to_value(v).expect("json")
    };
    assert_eq!(pct(&rolling.max_unavailable), json!("25%"));
    assert_eq!(pct(&rolling.max_surge), json!("25%"));
    assert_eq!(spec.revision_history_limit, Some(10));
    assert_eq!(spec.progress_deadline_seconds, Some(600));
    let template = serde_json::to_value(&spec.template.spec).expect("json");
    assert_eq!(template["restartPolicy"], "Always");
    assert_eq!(template["dnsPolicy"], "ClusterFirst");
    assert_eq!(template["schedulerName"], "default-scheduler");
    assert_eq!(template["terminationGracePeriodSeconds"], 30);
    assert_eq!(template["securityContext"], json!({}));
    assert_eq!(template.get("enableServiceLinks"), None, "Pod-only default");
    let container = &template["containers"][0];
    assert_eq!(container["imagePullPolicy"], "IfNotPresent");
    assert_eq!(container["terminationMessagePath"], "/dev/termination-log");
    assert_eq!(container["terminationMessagePolicy"], "File");
    assert_eq!(container["ports"][0]["protocol"], "TCP");

    // In another second, so a managedFields time rewritten for nothing would show.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let again = api
        .patch("web", &apply(), &Patch::Apply(&manifest))
        .await
        .expect("apply again");
    assert_eq!(again.resource_version(), created.resource_version());
    assert_eq!(again.metadata.generation, Some(1));

    // Client-side apply's path: a PUT of the object as read changes nothing either.
    let read = api.get("web").await.expect("get");
    let replaced = api
        .replace("web", &PostParams::default(), &read)
        .await
        .expect("replace");
    assert_eq!(replaced.resource_version(), created.resource_version());
}

#[tokio::test]
async fn a_minimal_pod_reads_back_defaulted_and_reapplies_as_a_no_op() {
    let server = start().await;
    let api: Api<Pod> = Api::namespaced(server.client(), "default");
    let mut manifest = pod_manifest("p", json!({"limits": {"cpu": "500m", "memory": "64Mi"}}));
    // `fieldRef` is atomic: applying it without its defaulted `apiVersion` replaces it before
    // defaulting puts it back, which kube-apiserver counts as a change (the managedFields time
    // moves). Its defaulting is checked in `qos_class_follows_requests_and_limits`.
    manifest["spec"]["containers"][0]["env"][0]["valueFrom"]["fieldRef"]["apiVersion"] =
        json!("v1");
    let created = api
        .patch("p", &apply(), &Patch::Apply(&manifest))
        .await
        .expect("apply creates");
    let pod = serde_json::to_value(&created).expect("json");
    let spec = &pod["spec"];
    assert_eq!(spec["restartPolicy"], "Always");
    assert_eq!(spec["dnsPolicy"], "ClusterFirst");
    assert_eq!(spec["terminationGracePeriodSeconds"], 30);
    assert_eq!(spec["schedulerName"], "default-scheduler");
    assert_eq!(spec["securityContext"], json!({}));
    assert_eq!(spec["enableServiceLinks"], true);
    assert_eq!(
        spec["volumes"][0],
        json!({"name": "scratch", "emptyDir": {}})
    );
    let c = &spec["containers"][0];
    assert_eq!(c["imagePullPolicy"], "Always", "untagged means latest");
    assert_eq!(c["terminationMessagePath"], "/dev/termination-log");
    assert_eq!(c["terminationMessagePolicy"], "File");
    assert_eq!(c["ports"][0]["protocol"], "TCP");
    assert_eq!(
        c["readinessProbe"],
        json!({"httpGet": {"path": "/", "port": 8080, "scheme": "HTTP"}, "timeoutSeconds": 1,
            "periodSeconds": 10, "successThreshold": 1, "failureThreshold": 3})
    );
    assert_eq!(
        c["resources"]["requests"],
        json!({"cpu": "500m", "memory": "64Mi"}),
        "requests default to limits"
    );
    assert_eq!(pod["status"]["qosClass"], "Guaranteed");

    // In another second, so a managedFields time rewritten for nothing would show.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let again = api
        .patch("p", &apply(), &Patch::Apply(&manifest))
        .await
        .expect("apply again");
    assert_eq!(
        again.resource_version(),
        created.resource_version(),
        "{}\n{}",
        serde_json::to_string(&created).expect("json"),
        serde_json::to_string(&again).expect("json")
    );
}

#[tokio::test]
async fn qos_class_follows_requests_and_limits() {
    let server = start().await;
    let api: Api<Pod> = Api::namespaced(server.client(), "default");
    for (name, resources, class) in [
        (
            "guaranteed",
            json!({"limits": {"cpu": "1", "memory": "1Gi"}}),
            "Guaranteed",
        ),
        (
            "burstable",
            json!({"requests": {"cpu": "100m"}, "limits": {"cpu": "1", "memory": "1Gi"}}),
            "Burstable",
        ),
        ("besteffort", json!({}), "BestEffort"),
    ] {
        let pod: Pod = serde_json::from_value(pod_manifest(name, resources)).expect("pod");
        let created = api.create(&PostParams::default(), &pod).await.expect(name);
        let env =
            serde_json::to_value(&created.spec).expect("json")["containers"][0]["env"].clone();
        assert_eq!(
            env[0]["valueFrom"]["fieldRef"],
            json!({"apiVersion": "v1", "fieldPath": "metadata.name"})
        );
        let status = created.status.expect("status");
        assert_eq!(status.qos_class.as_deref(), Some(class), "{name}");
    }
}

#[tokio::test]
async fn pod_updates_may_only_change_images_and_the_like() {
    let server = start().await;
    let api: Api<Pod> = Api::namespaced(server.client(), "default");
    let pod: Pod = serde_json::from_value(pod_manifest("p", json!({}))).expect("pod");
    api.create(&PostParams::default(), &pod)
        .await
        .expect("create");

    let image = json!({"spec": {"containers": [{"name": "app", "image": "busybox:1.36"}]}});
    let patched = api
        .patch("p", &PatchParams::default(), &Patch::Strategic(&image))
        .await
        .expect("image changes are allowed");
    assert_eq!(
        patched.spec.expect("spec").containers[0].image.as_deref(),
        Some("busybox:1.36")
    );

    let port =
        json!({"spec": {"containers": [{"name": "app", "ports": [{"containerPort": 9090}]}]}});
    let status = api_err(
        api.patch("p", &PatchParams::default(), &Patch::Strategic(&port))
            .await,
        422,
        "Invalid",
    );
    assert!(
        status.message.starts_with(
            "Pod \"p\" is invalid: spec: Forbidden: pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)\n"
        ),
        "{}",
        status.message
    );
    assert!(
        status.message.contains("+ spec.containers[0].ports[1]"),
        "the message shows the change: {}",
        status.message
    );

    let node = json!({"spec": {"nodeName": "elsewhere"}});
    api_err(
        api.patch("p", &PatchParams::default(), &Patch::Merge(&node))
            .await,
        422,
        "Invalid",
    );
}

#[tokio::test]
async fn workloads_whose_selector_misses_their_labels_are_invalid() {
    let server = start().await;
    let deployments: Api<Deployment> = Api::namespaced(server.client(), "default");
    let mut manifest = deployment_manifest();
    manifest["spec"]["template"]["metadata"]["labels"] = json!({"app": "other", "tier": "x"});
    let d: Deployment = serde_json::from_value(manifest.clone()).expect("deployment");
    let status = api_err(
        deployments.create(&PostParams::default(), &d).await,
        422,
        "Invalid",
    );
    assert_eq!(
        status.message,
        "Deployment.apps \"web\" is invalid: spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"other\", \"tier\":\"x\"}: `selector` does not match template `labels`"
    );

    let replicasets: Api<ReplicaSet> = Api::namespaced(server.client(), "default");
    manifest["kind"] = json!("ReplicaSet");
    manifest["spec"]["selector"] = json!({});
    let rs: ReplicaSet = serde_json::from_value(manifest).expect("replicaset");
    let status = api_err(
        replicasets.create(&PostParams::default(), &rs).await,
        422,
        "Invalid",
    );
    assert_eq!(
        status.message,
        "ReplicaSet.apps \"web\" is invalid: spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string(nil), MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: empty selector is invalid for deployment"
    );
}

#[tokio::test]
async fn the_simulated_scheduler_binds_and_the_kubelet_reports_the_qos_class() {
    let server = kube_support::on_test_storage(
        kubeforge_apiserver::ApiServer::builder()
            .in_memory()
            .simulate_workloads(true),
    )
    .await
    .start()
    .await
    .expect("server starts");
    let api: Api<Pod> = Api::namespaced(server.client(), "default");
    let manifest = pod_manifest("p", json!({"limits": {"cpu": "1", "memory": "1Gi"}}));
    let pod: Pod = serde_json::from_value(manifest).expect("pod");
    api.create(&PostParams::default(), &pod)
        .await
        .expect("create");
    let running = eventually("the pod to run", || async {
        let p = api.get("p").await.ok()?;
        let status = p.status.clone()?;
        (status.phase.as_deref() == Some("Running")).then_some(p)
    })
    .await;
    assert!(running.spec.expect("spec").node_name.is_some());
    assert_eq!(
        running.status.expect("status").qos_class.as_deref(),
        Some("Guaranteed")
    );
}
