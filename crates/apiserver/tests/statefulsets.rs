//! StatefulSets, DaemonSets and their ControllerRevisions against the real server with the
//! simulated controllers, through kube-rs: ordered scale up and down (observed on a watch),
//! claims per ordinal and their retention policy, rolling updates from the highest ordinal with
//! a partition, rollback with a revision's data, status; one DaemonSet pod per eligible node
//! (new nodes, taints, node selectors), rolling update, status; defaults and validation errors
//! in kube-apiserver's words.

mod kube_support;

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::apps::v1::{ControllerRevision, DaemonSet, StatefulSet};
use k8s_openapi::api::core::v1::{Event, Node, PersistentVolumeClaim, Pod};
use kube::api::{
    DeleteParams, ListParams, Patch, PatchParams, PostParams, WatchEvent, WatchParams,
};
use kube::{Api, Client, ResourceExt};
use kube_support::{api_err, namespace};
use kubeforge_apiserver::ApiServer;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::time::Duration;

/// Generous: the suite runs on a loaded two-core machine.
const DEADLINE: Duration = Duration::from_secs(90);

async fn start() -> ApiServer {
    kube_support::on_test_storage(
        ApiServer::builder()
            .in_memory()
            .simulate_workloads(true)
            .pod_termination_delay(Duration::from_millis(200)),
    )
    .await
    .start()
    .await
    .expect("server starts")
}

/// Polls `check` until it yields a value, failing after [`DEADLINE`].
async fn until<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn sts(name: &str, replicas: i32, image: &str, extra: Value) -> StatefulSet {
    let mut spec = json!({
        "replicas": replicas,
        "serviceName": name,
        "selector": {"matchLabels": {"app": name}},
        "template": {"metadata": {"labels": {"app": name}},
            "spec": {"containers": [{"name": "main", "image": image}]}},
    });
    if let (Some(spec), Some(extra)) = (spec.as_object_mut(), extra.as_object()) {
        for (k, v) in extra {
            spec.insert(k.clone(), v.clone());
        }
    }
    serde_json::from_value(json!({"apiVersion": "apps/v1", "kind": "StatefulSet",
        "metadata": {"name": name}, "spec": spec}))
    .expect("a StatefulSet")
}

fn claim_template(name: &str) -> Value {
    json!({"metadata": {"name": name}, "spec": {"accessModes": ["ReadWriteOnce"],
        "resources": {"requests": {"storage": "1Gi"}}}})
}

fn ready(p: &Pod) -> bool {
    p.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

fn image(p: &Pod) -> String {
    p.spec
        .as_ref()
        .and_then(|s| s.containers.first())
        .and_then(|c| c.image.clone())
        .unwrap_or_default()
}

fn label<'a>(o: &'a impl kube::Resource, key: &str) -> &'a str {
    o.meta()
        .labels
        .as_ref()
        .and_then(|l| l.get(key))
        .map(String::as_str)
        .unwrap_or("")
}

/// Watch events as recorded: (`ADDED`/`MODIFIED`/`DELETED`, the pod).
type Log = std::sync::Arc<std::sync::Mutex<Vec<(String, Pod)>>>;

/// Every watch event on pods labelled `app=<app>` from `rv` on, recorded in order until the
/// returned handle is aborted.
fn record(pods: &Api<Pod>, app: &str, rv: String) -> (Log, tokio::task::JoinHandle<()>) {
    let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let (pods, sink, selector) = (pods.clone(), log.clone(), format!("app={app}"));
    let task = tokio::spawn(async move {
        let mut rv = rv;
        loop {
            let Ok(stream) = pods
                .watch(&WatchParams::default().labels(&selector).timeout(290), &rv)
                .await
            else {
                return;
            };
            let mut stream = stream.boxed();
            while let Ok(Some(event)) = stream.try_next().await {
                let (kind, pod) = match event {
                    WatchEvent::Added(p) => ("ADDED", p),
                    WatchEvent::Modified(p) => ("MODIFIED", p),
                    WatchEvent::Deleted(p) => ("DELETED", p),
                    _ => continue,
                };
                rv = pod.resource_version().unwrap_or_default();
                sink.lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .push((kind.to_string(), pod));
            }
        }
    });
    (log, task)
}

async fn list_rv(pods: &Api<Pod>) -> String {
    pods.list(&ListParams::default())
        .await
        .expect("list pods")
        .metadata
        .resource_version
        .unwrap_or_default()
}

async fn pod_names(pods: &Api<Pod>, app: &str) -> BTreeSet<String> {
    pods.list(&ListParams::default().labels(&format!("app={app}")))
        .await
        .expect("list pods")
        .items
        .iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .map(|p| p.name_any())
        .collect()
}

/// Waits for the set to be rolled out: every replica ready and updated, observed.
async fn rolled_out(api: &Api<StatefulSet>, name: &str, replicas: i32) -> StatefulSet {
    until(
        &format!("statefulset {name} with {replicas} ready"),
        || async {
            let s = api.get(name).await.ok()?;
            let st = s.status.clone()?;
            (st.observed_generation == s.metadata.generation
                && st.replicas == replicas
                && st.ready_replicas.unwrap_or(0) == replicas
                && st.updated_replicas.unwrap_or(0) == replicas
                && st.current_revision.is_some()
                && st.current_revision == st.update_revision)
                .then_some(s)
        },
    )
    .await
}

#[tokio::test]
async fn statefulset_scales_up_in_order_and_down_from_the_highest_ordinal() {
    let server = start().await;
    let client = server.client();
    namespace(&client, "order").await;
    let api: Api<StatefulSet> = Api::namespaced(client.clone(), "order");
    let pods: Api<Pod> = Api::namespaced(client.clone(), "order");
    let (log, watcher) = record(&pods, "web", list_rv(&pods).await);
    let set = sts(
        "web",
        3,
        "nginx:1.25",
        json!({"volumeClaimTemplates": [claim_template("www")]}),
    );
    let created = api
        .create(&PostParams::default(), &set)
        .await
        .expect("create");
    // Upstream's defaults.
    let spec = created.spec.clone().expect("spec");
    assert_eq!(spec.pod_management_policy.as_deref(), Some("OrderedReady"));
    let strategy = spec.update_strategy.clone().expect("strategy");
    assert_eq!(strategy.type_.as_deref(), Some("RollingUpdate"));
    assert_eq!(strategy.rolling_update.and_then(|r| r.partition), Some(0));
    assert_eq!(spec.revision_history_limit, Some(10));
    let retention = spec
        .persistent_volume_claim_retention_policy
        .clone()
        .expect("retention policy");
    assert_eq!(
        (
            retention.when_deleted.as_deref(),
            retention.when_scaled.as_deref()
        ),
        (Some("Retain"), Some("Retain"))
    );

    let done = rolled_out(&api, "web", 3).await;
    let status = done.status.clone().expect("status");
    assert_eq!(status.available_replicas, Some(3));
    assert_eq!(status.current_replicas, Some(3));
    assert_eq!(status.collision_count, Some(0));
    let revision = status.update_revision.clone().expect("update revision");
    assert!(revision.starts_with("web-"), "{revision}");

    // Creation order: web-i only once web-(i-1) is Ready, as the watch saw it.
    {
        let log = log
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut ready_now: BTreeMap<String, bool> = BTreeMap::new();
        let mut added = Vec::new();
        for (kind, p) in log.iter() {
            let name = p.name_any();
            if kind == "ADDED" {
                if let Some(i) = name
                    .strip_prefix("web-")
                    .and_then(|i| i.parse::<i32>().ok())
                    && i > 0
                {
                    assert_eq!(
                        ready_now.get(&format!("web-{}", i - 1)),
                        Some(&true),
                        "{name} was created before web-{} was ready",
                        i - 1
                    );
                }
                added.push(name.clone());
            }
            ready_now.insert(name, ready(p) && kind != "DELETED");
        }
        assert_eq!(added, ["web-0", "web-1", "web-2"]);
    }

    // Identity and storage.
    for i in 0..3 {
        let p = pods.get(&format!("web-{i}")).await.expect("pod");
        assert_eq!(
            label(&p, "statefulset.kubernetes.io/pod-name"),
            format!("web-{i}")
        );
        assert_eq!(label(&p, "apps.kubernetes.io/pod-index"), i.to_string());
        assert_eq!(label(&p, "controller-revision-hash"), revision);
        let spec = p.spec.clone().expect("pod spec");
        assert_eq!(spec.hostname, Some(format!("web-{i}")));
        assert_eq!(spec.subdomain.as_deref(), Some("web"));
        let volume = spec
            .volumes
            .unwrap_or_default()
            .into_iter()
            .find(|v| v.name == "www")
            .expect("the claim's volume");
        assert_eq!(
            volume.persistent_volume_claim.map(|c| c.claim_name),
            Some(format!("www-web-{i}"))
        );
        let owner = p.owner_references().first().cloned().expect("owner");
        assert_eq!(
            (owner.kind.as_str(), owner.name.as_str(), owner.controller),
            ("StatefulSet", "web", Some(true))
        );
    }
    let claims: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), "order");
    for i in 0..3 {
        let c = claims.get(&format!("www-web-{i}")).await.expect("claim");
        assert_eq!(label(&c, "app"), "web");
        assert!(c.owner_references().is_empty(), "Retain: no owner");
    }
    let events: Api<Event> = Api::namespaced(client.clone(), "order");
    until("the controller's events", || async {
        let messages: Vec<String> = events
            .list(&ListParams::default())
            .await
            .ok()?
            .items
            .into_iter()
            .filter(|e| e.involved_object.kind.as_deref() == Some("StatefulSet"))
            .filter_map(|e| e.message)
            .collect();
        (messages.contains(&"create Pod web-0 in StatefulSet web successful".to_string())
            && messages.contains(
                &"create Claim www-web-0 Pod web-0 in StatefulSet web success".to_string(),
            ))
        .then_some(())
    })
    .await;

    // Scale down: web-2 goes first and is gone before web-1's deletion starts.
    let start_at = log
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .len();
    api.patch(
        "web",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"replicas": 1}})),
    )
    .await
    .expect("scale down");
    until("only web-0 left", || async {
        let names = pod_names(&pods, "web").await;
        let st = api.get("web").await.ok()?.status?;
        (names == BTreeSet::from(["web-0".to_string()]) && st.replicas == 1).then_some(())
    })
    .await;
    until("web-1 removed", || async {
        pods.get_opt("web-1").await.ok()?.is_none().then_some(())
    })
    .await;
    until("the watch saw web-1 removed", || async {
        let log = log
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        log[start_at..]
            .iter()
            .any(|(k, p)| k == "DELETED" && p.name_any() == "web-1")
            .then_some(())
    })
    .await;
    {
        let log = log
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let position = |f: &dyn Fn(&(String, Pod)) -> bool| log[start_at..].iter().position(f);
        let web2_gone =
            position(&|(k, p)| k == "DELETED" && p.name_any() == "web-2").expect("web-2 deleted");
        let web1_terminating =
            position(&|(_, p)| p.name_any() == "web-1" && p.metadata.deletion_timestamp.is_some())
                .expect("web-1 terminating");
        assert!(
            web2_gone < web1_terminating,
            "web-1 was deleted before web-2 was gone"
        );
    }
    // Retain: the claims stay.
    for i in 0..3 {
        claims
            .get(&format!("www-web-{i}"))
            .await
            .expect("claim kept");
    }
    // A changed policy reaches the claims of the pods there are.
    api.patch(
        "web",
        &PatchParams::default(),
        &Patch::Merge(
            json!({"spec": {"persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Delete"}}}),
        ),
    )
    .await
    .expect("change the retention policy");
    until("web-0's claim owned by the set", || async {
        let c = claims.get("www-web-0").await.ok()?;
        let owner = c.owner_references().first()?.clone();
        (owner.kind == "StatefulSet" && owner.name == "web" && owner.controller.is_none())
            .then_some(())
    })
    .await;
    watcher.abort();
}

#[tokio::test]
async fn statefulset_parallel_and_claim_retention_delete() {
    let server = start().await;
    let client = server.client();
    namespace(&client, "par").await;
    let api: Api<StatefulSet> = Api::namespaced(client.clone(), "par");
    let pods: Api<Pod> = Api::namespaced(client.clone(), "par");
    let claims: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), "par");
    let set = sts(
        "db",
        3,
        "postgres:16",
        json!({"podManagementPolicy": "Parallel",
            "persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Delete", "whenScaled": "Delete"},
            "volumeClaimTemplates": [claim_template("data")]}),
    );
    api.create(&PostParams::default(), &set)
        .await
        .expect("create");
    rolled_out(&api, "db", 3).await;
    let c = claims.get("data-db-0").await.expect("claim");
    let owner = c
        .owner_references()
        .first()
        .cloned()
        .expect("the set owns it");
    assert_eq!(
        (owner.kind.as_str(), owner.name.as_str()),
        ("StatefulSet", "db")
    );
    api.patch(
        "db",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"replicas": 1}})),
    )
    .await
    .expect("scale down");
    until("the scaled-down claims deleted", || async {
        let names: BTreeSet<String> = claims
            .list(&ListParams::default())
            .await
            .ok()?
            .items
            .iter()
            .filter(|c| c.metadata.deletion_timestamp.is_none())
            .map(|c| c.name_any())
            .collect();
        (names == BTreeSet::from(["data-db-0".to_string()])).then_some(())
    })
    .await;
    assert_eq!(
        pod_names(&pods, "db").await,
        BTreeSet::from(["db-0".to_string()])
    );
    api.delete("db", &DeleteParams::default())
        .await
        .expect("delete");
    until("the set's claims deleted with it", || async {
        claims
            .list(&ListParams::default())
            .await
            .ok()?
            .items
            .iter()
            .all(|c| c.metadata.deletion_timestamp.is_some())
            .then_some(())
    })
    .await;
}

#[tokio::test]
async fn statefulset_rolls_from_the_highest_ordinal_with_a_partition_and_rolls_back() {
    let server = start().await;
    let client = server.client();
    namespace(&client, "roll").await;
    let api: Api<StatefulSet> = Api::namespaced(client.clone(), "roll");
    let pods: Api<Pod> = Api::namespaced(client.clone(), "roll");
    let revisions: Api<ControllerRevision> = Api::namespaced(client.clone(), "roll");
    api.create(
        &PostParams::default(),
        &sts("web", 3, "nginx:1.25", json!({})),
    )
    .await
    .expect("create");
    let first = rolled_out(&api, "web", 3).await;
    let rev1 = first
        .status
        .and_then(|s| s.update_revision)
        .expect("revision");

    // Partition 2: only web-2 is updated.
    api.patch(
        "web",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {
            "updateStrategy": {"rollingUpdate": {"partition": 2}},
            "template": {"spec": {"containers": [{"name": "main", "image": "nginx:1.26"}]}}}})),
    )
    .await
    .expect("update with partition");
    let partial = until("web-2 updated", || async {
        let s = api.get("web").await.ok()?;
        let st = s.status.clone()?;
        let p2 = pods.get("web-2").await.ok()?;
        (st.observed_generation == s.metadata.generation
            && st.updated_replicas == Some(1)
            && st.ready_replicas == Some(3)
            && image(&p2) == "nginx:1.26"
            && ready(&p2))
        .then_some(s)
    })
    .await;
    let st = partial.status.expect("status");
    let rev2 = st.update_revision.clone().expect("update revision");
    assert_ne!(rev2, rev1);
    assert_eq!(st.current_revision.as_deref(), Some(rev1.as_str()));
    assert_eq!(st.current_replicas, Some(2));
    for name in ["web-0", "web-1"] {
        let p = pods.get(name).await.expect("pod");
        assert_eq!(image(&p), "nginx:1.25", "{name} is below the partition");
        assert_eq!(label(&p, "controller-revision-hash"), rev1);
    }

    // Partition 0: web-1 then web-0.
    let (log, watcher) = record(&pods, "web", list_rv(&pods).await);
    api.patch(
        "web",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"updateStrategy": {"rollingUpdate": {"partition": 0}}}})),
    )
    .await
    .expect("partition 0");
    let done = rolled_out(&api, "web", 3).await;
    assert_eq!(
        done.status
            .as_ref()
            .and_then(|s| s.current_revision.clone()),
        Some(rev2.clone())
    );
    {
        let log = log
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let deleted: Vec<String> = log
            .iter()
            .filter(|(k, _)| k == "DELETED")
            .map(|(_, p)| p.name_any())
            .collect();
        assert_eq!(
            deleted,
            ["web-1", "web-0"],
            "replaced from the highest ordinal"
        );
    }
    watcher.abort();

    // The history: two revisions, controlled by the set, with the template's labels.
    let history = revisions
        .list(&ListParams::default().labels("app=web"))
        .await
        .expect("revisions");
    let mut numbers: Vec<(String, i64)> = history
        .items
        .iter()
        .map(|r| (r.name_any(), r.revision))
        .collect();
    numbers.sort_by_key(|(_, n)| *n);
    assert_eq!(numbers, [(rev1.clone(), 1), (rev2.clone(), 2)]);
    let old = history
        .items
        .iter()
        .find(|r| r.name_any() == rev1)
        .expect("revision 1");
    let data = old.data.clone().expect("data").0;
    assert_eq!(data["spec"]["template"]["$patch"], json!("replace"));
    assert!(
        label(old, "controller-revision-hash").len() > 4
            && rev1.ends_with(label(old, "controller-revision-hash"))
    );

    // Rollback as kubectl does it: the revision's data as a strategic merge patch.
    api.patch("web", &PatchParams::default(), &Patch::Strategic(data))
        .await
        .expect("rollback");
    let back = until("rolled back", || async {
        let s = rolled_out(&api, "web", 3).await;
        let all_old = futures::future::join_all((0..3).map(|i| {
            let pods = pods.clone();
            async move { pods.get(&format!("web-{i}")).await.map(|p| image(&p)) }
        }))
        .await
        .into_iter()
        .all(|i| i.is_ok_and(|i| i == "nginx:1.25"));
        all_old.then_some(s)
    })
    .await;
    assert_eq!(
        back.status.and_then(|s| s.update_revision),
        Some(rev1.clone()),
        "the equal revision is reused"
    );
    let bumped = revisions.get(&rev1).await.expect("revision 1");
    assert_eq!(bumped.revision, 3, "reused with the next revision number");
}

fn ds(name: &str, image: &str, pod_spec_extra: Value) -> DaemonSet {
    let mut pod_spec = json!({"containers": [{"name": "agent", "image": image}]});
    if let (Some(spec), Some(extra)) = (pod_spec.as_object_mut(), pod_spec_extra.as_object()) {
        for (k, v) in extra {
            spec.insert(k.clone(), v.clone());
        }
    }
    serde_json::from_value(json!({"apiVersion": "apps/v1", "kind": "DaemonSet",
        "metadata": {"name": name}, "spec": {
            "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}}, "spec": pod_spec}}}))
    .expect("a DaemonSet")
}

async fn node(client: &Client, name: &str, labels: Value, taints: Value) {
    let nodes: Api<Node> = Api::all(client.clone());
    let mut all_labels = json!({"type": "kwok", "kubernetes.io/hostname": name});
    if let (Some(l), Some(extra)) = (all_labels.as_object_mut(), labels.as_object()) {
        for (k, v) in extra {
            l.insert(k.clone(), v.clone());
        }
    }
    let n: Node = serde_json::from_value(json!({"apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "labels": all_labels}, "spec": {"taints": taints}}))
    .expect("a Node");
    nodes
        .create(&PostParams::default(), &n)
        .await
        .expect("create node");
}

/// The DaemonSet's live pods by node, once every one of them is bound, Running and Ready.
async fn ds_pods(pods: &Api<Pod>, app: &str) -> Option<BTreeMap<String, Pod>> {
    let list = pods
        .list(&ListParams::default().labels(&format!("app={app}")))
        .await
        .ok()?;
    let mut out = BTreeMap::new();
    for p in list.items {
        if p.metadata.deletion_timestamp.is_some() {
            continue;
        }
        if !ready(&p) {
            return None;
        }
        let node = p.spec.as_ref()?.node_name.clone()?;
        if out.insert(node, p).is_some() {
            return None;
        }
    }
    Some(out)
}

fn nodes_of(pods: &BTreeMap<String, Pod>) -> Vec<&str> {
    pods.keys().map(String::as_str).collect()
}

#[tokio::test]
async fn daemonset_runs_one_pod_per_eligible_node() {
    let server = start().await;
    let client = server.client();
    namespace(&client, "ds").await;
    let api: Api<DaemonSet> = Api::namespaced(client.clone(), "ds");
    let pods: Api<Pod> = Api::namespaced(client.clone(), "ds");
    let created = api
        .create(&PostParams::default(), &ds("agent", "fluentd:1", json!({})))
        .await
        .expect("create");
    let strategy = created
        .spec
        .as_ref()
        .and_then(|s| s.update_strategy.clone())
        .expect("strategy");
    assert_eq!(strategy.type_.as_deref(), Some("RollingUpdate"));
    let rolling = strategy.rolling_update.expect("rollingUpdate");
    assert_eq!(
        (
            serde_json::to_value(&rolling.max_unavailable).ok(),
            serde_json::to_value(&rolling.max_surge).ok()
        ),
        (Some(json!(1)), Some(json!(0)))
    );
    let on_nodes = until("a pod on the simulated node", || async {
        ds_pods(&pods, "agent")
            .await
            .filter(|m| nodes_of(m) == ["kubeforge-node"])
    })
    .await;
    let pod = on_nodes.get("kubeforge-node").expect("pod");
    assert!(pod.name_any().starts_with("agent-"));
    assert!(!label(pod, "controller-revision-hash").is_empty());
    assert_eq!(label(pod, "pod-template-generation"), "1");
    let spec = serde_json::to_value(pod.spec.clone()).expect("spec");
    assert_eq!(
        spec["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"],
        json!({"nodeSelectorTerms": [{"matchFields": [
            {"key": "metadata.name", "operator": "In", "values": ["kubeforge-node"]}]}]})
    );
    let tolerations: Vec<String> = spec["tolerations"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|t| {
            format!(
                "{}:{}",
                t["key"].as_str().unwrap_or(""),
                t["effect"].as_str().unwrap_or("")
            )
        })
        .collect();
    for wanted in [
        "node.kubernetes.io/not-ready:NoExecute",
        "node.kubernetes.io/unreachable:NoExecute",
        "node.kubernetes.io/disk-pressure:NoSchedule",
        "node.kubernetes.io/memory-pressure:NoSchedule",
        "node.kubernetes.io/pid-pressure:NoSchedule",
        "node.kubernetes.io/unschedulable:NoSchedule",
    ] {
        assert!(
            tolerations.contains(&wanted.to_string()),
            "{wanted} in {tolerations:?}"
        );
    }

    // A second node gets a pod; a node with a NoSchedule taint does not.
    node(&client, "worker-2", json!({"disk": "ssd"}), json!([])).await;
    node(
        &client,
        "tainted",
        json!({}),
        json!([{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}]),
    )
    .await;
    until("a pod on each untainted node", || async {
        ds_pods(&pods, "agent")
            .await
            .filter(|m| nodes_of(m) == ["kubeforge-node", "worker-2"])
    })
    .await;
    let status = until("the status", || async {
        let st = api.get("agent").await.ok()?.status?;
        (st.desired_number_scheduled == 2 && st.number_available == Some(2)).then_some(st)
    })
    .await;
    assert_eq!(status.current_number_scheduled, 2);
    assert_eq!(status.number_ready, 2);
    assert_eq!(status.updated_number_scheduled, Some(2));
    assert_eq!(status.number_misscheduled, 0);
    assert_eq!(status.number_unavailable, None);
    assert_eq!(status.observed_generation, Some(1));

    // A nodeSelector: only the ssd node.
    api.create(
        &PostParams::default(),
        &ds("ssd", "agent:1", json!({"nodeSelector": {"disk": "ssd"}})),
    )
    .await
    .expect("create");
    until("the ssd pod", || async {
        ds_pods(&pods, "ssd")
            .await
            .filter(|m| nodes_of(m) == ["worker-2"])
    })
    .await;
    // A toleration lets a pod onto the tainted node.
    api.create(
        &PostParams::default(),
        &ds(
            "gpu",
            "agent:1",
            json!({"tolerations": [{"key": "dedicated", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"}]}),
        ),
    )
    .await
    .expect("create");
    until("a gpu pod on every node", || async {
        ds_pods(&pods, "gpu")
            .await
            .filter(|m| nodes_of(m) == ["kubeforge-node", "tainted", "worker-2"])
    })
    .await;
    // A node that goes away takes its pod with it.
    let nodes: Api<Node> = Api::all(client.clone());
    nodes
        .delete("worker-2", &DeleteParams::default())
        .await
        .expect("delete node");
    until("worker-2's pods gone", || async {
        let agent = ds_pods(&pods, "agent").await?;
        let ssd = ds_pods(&pods, "ssd").await?;
        (nodes_of(&agent) == ["kubeforge-node"] && ssd.is_empty()).then_some(())
    })
    .await;
}

#[tokio::test]
async fn daemonset_rolling_update_replaces_pods_and_rolls_back() {
    let server = start().await;
    let client = server.client();
    namespace(&client, "dsroll").await;
    node(&client, "worker-2", json!({}), json!([])).await;
    let api: Api<DaemonSet> = Api::namespaced(client.clone(), "dsroll");
    let pods: Api<Pod> = Api::namespaced(client.clone(), "dsroll");
    let revisions: Api<ControllerRevision> = Api::namespaced(client.clone(), "dsroll");
    api.create(&PostParams::default(), &ds("agent", "fluentd:1", json!({})))
        .await
        .expect("create");
    let first = until("two pods", || async {
        ds_pods(&pods, "agent").await.filter(|m| m.len() == 2)
    })
    .await;
    let hash1 = label(
        first.values().next().expect("pod"),
        "controller-revision-hash",
    )
    .to_string();
    api.patch(
        "agent",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"template": {"spec": {
            "containers": [{"name": "agent", "image": "fluentd:2"}]}}}})),
    )
    .await
    .expect("update");
    let updated = until("two updated pods", || async {
        ds_pods(&pods, "agent")
            .await
            .filter(|m| m.len() == 2 && m.values().all(|p| image(p) == "fluentd:2"))
    })
    .await;
    for p in updated.values() {
        assert_eq!(label(p, "pod-template-generation"), "2");
        assert_ne!(label(p, "controller-revision-hash"), hash1);
    }
    let status = until("the rollout's status", || async {
        let st = api.get("agent").await.ok()?.status?;
        (st.observed_generation == Some(2)
            && st.updated_number_scheduled == Some(2)
            && st.number_available == Some(2))
        .then_some(st)
    })
    .await;
    assert_eq!(status.desired_number_scheduled, 2);
    let history = revisions
        .list(&ListParams::default().labels("app=agent"))
        .await
        .expect("revisions");
    let mut numbers: Vec<i64> = history.items.iter().map(|r| r.revision).collect();
    numbers.sort();
    assert_eq!(numbers, [1, 2]);
    let old = history
        .items
        .iter()
        .find(|r| r.revision == 1)
        .expect("revision 1");
    assert_eq!(label(old, "controller-revision-hash"), hash1);
    assert_eq!(old.name_any(), format!("agent-{hash1}"));
    let data = old.data.clone().expect("data").0;
    api.patch("agent", &PatchParams::default(), &Patch::Strategic(data))
        .await
        .expect("rollback");
    until("rolled back", || async {
        ds_pods(&pods, "agent").await.filter(|m| {
            m.len() == 2
                && m.values().all(|p| {
                    image(p) == "fluentd:1" && label(p, "controller-revision-hash") == hash1
                })
        })
    })
    .await;
    let bumped = revisions
        .get(&format!("agent-{hash1}"))
        .await
        .expect("revision");
    assert_eq!(bumped.revision, 3);
}

#[tokio::test]
async fn bad_input_gets_upstream_messages() {
    let server = start().await;
    let client = server.client();
    namespace(&client, "bad").await;
    let sets: Api<StatefulSet> = Api::namespaced(client.clone(), "bad");
    let mut mismatched = sts("web", 1, "nginx", json!({}));
    if let Some(spec) = mismatched.spec.as_mut() {
        spec.selector.match_labels = Some([("app".to_string(), "other".to_string())].into());
    }
    let status = api_err(
        sets.create(&PostParams::default(), &mismatched).await,
        422,
        "Invalid",
    );
    assert_eq!(
        status.message,
        "StatefulSet.apps \"web\" is invalid: spec.template.metadata.labels: Invalid value: \
         map[string]string{\"app\":\"web\"}: `selector` does not match template `labels`"
    );
    let causes = status.details.expect("details").causes;
    assert_eq!(causes[0].field, "spec.template.metadata.labels");

    let mut policy = sts(
        "web",
        1,
        "nginx",
        json!({"podManagementPolicy": "Sometimes"}),
    );
    policy.metadata.name = Some("policy".into());
    let status = api_err(
        sets.create(&PostParams::default(), &policy).await,
        422,
        "Invalid",
    );
    assert!(
        status
            .message
            .contains("spec.podManagementPolicy: Invalid value: \"Sometimes\": must be 'OrderedReady' or 'Parallel'"),
        "{}",
        status.message
    );

    sets.create(&PostParams::default(), &sts("web", 1, "nginx", json!({})))
        .await
        .expect("create");
    let status = api_err(
        sets.patch(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"serviceName": "other"}})),
        )
        .await,
        422,
        "Invalid",
    );
    assert_eq!(
        status.message,
        "StatefulSet.apps \"web\" is invalid: spec: Forbidden: updates to statefulset spec for \
         fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', \
         'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden"
    );
    assert_eq!(status.details.expect("details").causes[0].field, "spec");
    // The fields that may change do.
    sets.patch(
        "web",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"replicas": 2, "minReadySeconds": 1,
            "updateStrategy": {"type": "OnDelete", "rollingUpdate": null}}})),
    )
    .await
    .expect("allowed update");

    let daemonsets: Api<DaemonSet> = Api::namespaced(client.clone(), "bad");
    let mut zero = ds("zero", "agent", json!({}));
    if let Some(spec) = zero.spec.as_mut() {
        spec.update_strategy = serde_json::from_value(json!({"type": "RollingUpdate",
            "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 0}}))
        .ok();
    }
    let status = api_err(
        daemonsets.create(&PostParams::default(), &zero).await,
        422,
        "Invalid",
    );
    assert_eq!(
        status.message,
        "DaemonSet.apps \"zero\" is invalid: spec.updateStrategy.rollingUpdate.maxUnavailable: \
         Required value: cannot be 0 when maxSurge is 0"
    );
    let mut mismatched = ds("mismatch", "agent", json!({}));
    if let Some(spec) = mismatched.spec.as_mut() {
        spec.selector.match_labels = Some([("app".to_string(), "other".to_string())].into());
    }
    let status = api_err(
        daemonsets.create(&PostParams::default(), &mismatched).await,
        422,
        "Invalid",
    );
    assert_eq!(
        status.details.expect("details").causes[0].field,
        "spec.template.metadata.labels"
    );
}

#[tokio::test]
async fn revisions_beyond_the_history_limit_are_deleted() {
    let server = start().await;
    let client = server.client();
    namespace(&client, "limit").await;
    let api: Api<StatefulSet> = Api::namespaced(client.clone(), "limit");
    let revisions: Api<ControllerRevision> = Api::namespaced(client.clone(), "limit");
    api.create(
        &PostParams::default(),
        &sts("web", 1, "nginx:1", json!({"revisionHistoryLimit": 1})),
    )
    .await
    .expect("create");
    rolled_out(&api, "web", 1).await;
    for tag in 2..=4 {
        api.patch(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"template": {"spec": {
                "containers": [{"name": "main", "image": format!("nginx:{tag}")}]}}}})),
        )
        .await
        .expect("update");
        rolled_out(&api, "web", 1).await;
    }
    until("the live revision and one more", || async {
        let mut numbers: Vec<i64> = revisions
            .list(&ListParams::default())
            .await
            .ok()?
            .items
            .iter()
            .map(|r| r.revision)
            .collect();
        numbers.sort();
        (numbers == [3, 4]).then_some(())
    })
    .await;
}

#[tokio::test]
async fn daemonset_surge_update_starts_the_new_pod_before_the_old_one_goes() {
    let server = start().await;
    let client = server.client();
    namespace(&client, "surge").await;
    node(&client, "worker-2", json!({}), json!([])).await;
    let api: Api<DaemonSet> = Api::namespaced(client.clone(), "surge");
    let pods: Api<Pod> = Api::namespaced(client.clone(), "surge");
    let mut set = ds("agent", "fluentd:1", json!({}));
    if let Some(spec) = set.spec.as_mut() {
        spec.update_strategy = serde_json::from_value(json!({"type": "RollingUpdate",
            "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}}))
        .ok();
    }
    api.create(&PostParams::default(), &set)
        .await
        .expect("create");
    until("two pods", || async {
        ds_pods(&pods, "agent").await.filter(|m| m.len() == 2)
    })
    .await;
    let (log, watcher) = record(&pods, "agent", list_rv(&pods).await);
    api.patch(
        "agent",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"template": {"spec": {
            "containers": [{"name": "agent", "image": "fluentd:2"}]}}}})),
    )
    .await
    .expect("update");
    until("two updated pods", || async {
        ds_pods(&pods, "agent")
            .await
            .filter(|m| m.len() == 2 && m.values().all(|p| image(p) == "fluentd:2"))
    })
    .await;
    until("the rollout's status", || async {
        let st = api.get("agent").await.ok()?.status?;
        (st.observed_generation == Some(2)
            && st.updated_number_scheduled == Some(2)
            && st.number_available == Some(2))
        .then_some(())
    })
    .await;
    watcher.abort();
    // On each node the new pod was ready before the old one was deleted, and at most one node
    // at a time had a new pod not yet ready.
    let log = log
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let mut new_ready: BTreeSet<String> = BTreeSet::new();
    let mut surging: BTreeSet<String> = BTreeSet::new();
    for (kind, p) in log.iter() {
        let node = p
            .spec
            .as_ref()
            .and_then(|s| s.affinity.clone())
            .and_then(|a| serde_json::to_value(a).ok())
            .and_then(|a| {
                a.pointer("/nodeAffinity/requiredDuringSchedulingIgnoredDuringExecution/nodeSelectorTerms/0/matchFields/0/values/0")
                    .and_then(Value::as_str)
                    .map(str::to_string)
            })
            .unwrap_or_default();
        if image(p) == "fluentd:2" {
            if kind == "ADDED" {
                surging.insert(node.clone());
                assert!(
                    surging.len() <= 1,
                    "more than maxSurge nodes surged: {surging:?}"
                );
            }
            if ready(p) {
                // Upstream counts a node as surging until its new pod is available.
                surging.remove(&node);
                new_ready.insert(node);
            }
        } else if p.metadata.deletion_timestamp.is_some() {
            assert!(
                new_ready.contains(&node),
                "the old pod on {node} went before the new one was ready"
            );
        }
    }
    assert_eq!(new_ready.len(), 2);
}
