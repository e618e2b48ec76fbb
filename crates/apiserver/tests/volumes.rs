//! Persistent storage through kube-rs: the default StorageClass and its simulated provisioner,
//! binding of claims to volumes (provisioned, pre-existing, pre-bound, WaitForFirstConsumer),
//! reclaiming, the protection finalizers, and the claim and volume rules with upstream's messages.

mod kube_support;

use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim, Pod};
use k8s_openapi::api::storage::v1::StorageClass;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use kube::{Api, Client, ResourceExt};
use kube_support::{api_err, causes, eventually};
use kubeforge_apiserver::ApiServer;
use serde_json::{Value, json};

async fn simulated() -> ApiServer {
    kube_support::on_test_storage(ApiServer::builder().in_memory().simulate_workloads(true))
        .await
        .start()
        .await
        .expect("server starts")
}

fn claim(name: &str, spec: Value) -> PersistentVolumeClaim {
    serde_json::from_value(json!({"metadata": {"name": name}, "spec": spec})).expect("claim")
}

fn claim_spec(size: &str) -> Value {
    json!({"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": size}}})
}

/// Waits until claim `name` is Bound and returns it.
async fn bound(claims: &Api<PersistentVolumeClaim>, name: &str) -> PersistentVolumeClaim {
    eventually(&format!("claim {name} to be Bound"), || async {
        let c = claims.get(name).await.ok()?;
        (c.status.as_ref()?.phase.as_deref() == Some("Bound")).then_some(c)
    })
    .await
}

async fn gone<K>(api: &Api<K>, name: &str)
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    eventually(&format!("{name} to be gone"), || async {
        api.get_opt(name).await.ok()?.is_none().then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claim_without_a_class_is_provisioned_by_the_default_class_and_reclaimed() {
    let server = simulated().await;
    let client = server.client();
    let classes: Api<StorageClass> = Api::all(client.clone());
    let standard = classes.get("standard").await.expect("default class");
    assert_eq!(
        standard
            .annotations()
            .get("storageclass.kubernetes.io/is-default-class"),
        Some(&"true".to_string())
    );
    assert_eq!(standard.provisioner, "kubeforge.io/simulated");

    let claims: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), "default");
    let created = claims
        .create(&PostParams::default(), &claim("data", claim_spec("2Gi")))
        .await
        .expect("create claim");
    let spec = created.spec.clone().expect("spec");
    assert_eq!(spec.storage_class_name.as_deref(), Some("standard"));
    assert_eq!(spec.volume_mode.as_deref(), Some("Filesystem"));
    assert_eq!(created.finalizers(), ["kubernetes.io/pvc-protection"]);
    let c = bound(&claims, "data").await;
    let volume_name = c.spec.as_ref().and_then(|s| s.volume_name.clone()).unwrap();
    assert_eq!(volume_name, format!("pvc-{}", c.uid().unwrap()));
    let status = c.status.clone().unwrap();
    assert_eq!(status.capacity.unwrap()["storage"].0, "2Gi");
    assert_eq!(status.access_modes.unwrap(), ["ReadWriteOnce"]);
    assert_eq!(
        c.annotations().get("pv.kubernetes.io/bind-completed"),
        Some(&"yes".to_string())
    );
    assert_eq!(
        c.annotations()
            .get("volume.kubernetes.io/storage-provisioner"),
        Some(&"kubeforge.io/simulated".to_string())
    );

    let volumes: Api<PersistentVolume> = Api::all(client.clone());
    let v = eventually("the volume to be Bound", || async {
        let v = volumes.get(&volume_name).await.ok()?;
        (v.status.as_ref()?.phase.as_deref() == Some("Bound")).then_some(v)
    })
    .await;
    let spec = v.spec.clone().unwrap();
    assert_eq!(
        spec.persistent_volume_reclaim_policy.as_deref(),
        Some("Delete")
    );
    assert_eq!(spec.storage_class_name.as_deref(), Some("standard"));
    assert_eq!(spec.capacity.unwrap()["storage"].0, "2Gi");
    assert_eq!(spec.claim_ref.unwrap().uid, c.uid());
    assert_eq!(v.finalizers(), ["kubernetes.io/pv-protection"]);
    assert_eq!(
        v.annotations().get("pv.kubernetes.io/provisioned-by"),
        Some(&"kubeforge.io/simulated".to_string())
    );

    // No pod uses the claim: it goes at once, and its volume (policy Delete) after it.
    claims
        .delete("data", &DeleteParams::default())
        .await
        .expect("delete claim");
    gone(&claims, "data").await;
    gone(&volumes, &volume_name).await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claim_in_use_by_a_pod_stays_until_the_pod_is_gone() {
    let server = simulated().await;
    let client = server.client();
    let claims: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), "default");
    claims
        .create(&PostParams::default(), &claim("used", claim_spec("1Gi")))
        .await
        .expect("create claim");
    bound(&claims, "used").await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let pod: Pod = serde_json::from_value(json!({
        "metadata": {"name": "user"},
        "spec": {"containers": [{"name": "c", "image": "busybox"}],
                 "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": "used"}}]}
    }))
    .unwrap();
    pods.create(&PostParams::default(), &pod)
        .await
        .expect("create pod");
    claims
        .delete("used", &DeleteParams::default())
        .await
        .expect("delete claim");
    // Give the controller time to act wrongly: the claim must still be there, terminating.
    for _ in 0..10 {
        let c = claims.get("used").await.expect("claim still there");
        assert!(c.metadata.deletion_timestamp.is_some());
        assert_eq!(c.finalizers(), ["kubernetes.io/pvc-protection"]);
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    pods.delete("user", &DeleteParams::default().grace_period(0))
        .await
        .expect("delete pod");
    gone(&claims, "used").await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claims_bind_to_the_smallest_fitting_volume_and_retained_volumes_are_released() {
    // Without simulation: no default class, only the volumes an administrator creates.
    let server = kube_support::start().await;
    let client = server.client();
    assert!(
        Api::<StorageClass>::all(client.clone())
            .get_opt("standard")
            .await
            .unwrap()
            .is_none()
    );
    let volumes: Api<PersistentVolume> = Api::all(client.clone());
    for (name, size, mode) in [
        ("small", "1Gi", "ReadWriteOnce"),
        ("medium", "5Gi", "ReadWriteOnce"),
        ("large", "10Gi", "ReadWriteOnce"),
        ("shared", "5Gi", "ReadWriteMany"),
    ] {
        let pv: PersistentVolume = serde_json::from_value(json!({
            "metadata": {"name": name, "labels": {"size": size}},
            "spec": {"capacity": {"storage": size}, "accessModes": [mode],
                     "storageClassName": "manual", "hostPath": {"path": format!("/data/{name}")}}
        }))
        .unwrap();
        let created = volumes.create(&PostParams::default(), &pv).await.unwrap();
        assert_eq!(
            created
                .spec
                .unwrap()
                .persistent_volume_reclaim_policy
                .as_deref(),
            Some("Retain")
        );
    }
    eventually("the volumes to be Available", || async {
        let all = volumes.list(&Default::default()).await.ok()?;
        all.items
            .iter()
            .all(|v| v.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Available"))
            .then_some(())
    })
    .await;
    let claims: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), "default");
    let mut spec = claim_spec("2Gi");
    spec["storageClassName"] = json!("manual");
    claims
        .create(&PostParams::default(), &claim("fits", spec))
        .await
        .unwrap();
    let c = bound(&claims, "fits").await;
    assert_eq!(c.spec.unwrap().volume_name.as_deref(), Some("medium"));
    // A selector narrows the choice.
    let mut spec = claim_spec("1Gi");
    spec["storageClassName"] = json!("manual");
    spec["selector"] = json!({"matchLabels": {"size": "10Gi"}});
    claims
        .create(&PostParams::default(), &claim("selected", spec))
        .await
        .unwrap();
    let c = bound(&claims, "selected").await;
    assert_eq!(c.spec.unwrap().volume_name.as_deref(), Some("large"));
    // A claim asking for a volume by name gets it.
    let mut spec = claim_spec("1Gi");
    spec["storageClassName"] = json!("manual");
    spec["volumeName"] = json!("small");
    claims
        .create(&PostParams::default(), &claim("named", spec))
        .await
        .unwrap();
    bound(&claims, "named").await;
    // Nothing fits: pending.
    let mut spec = claim_spec("50Gi");
    spec["storageClassName"] = json!("manual");
    claims
        .create(&PostParams::default(), &claim("too-big", spec))
        .await
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let c = claims.get("too-big").await.unwrap();
    assert_eq!(c.status.unwrap().phase.as_deref(), Some("Pending"));

    claims
        .delete("fits", &DeleteParams::default())
        .await
        .unwrap();
    gone(&claims, "fits").await;
    let v = eventually("medium to be Released", || async {
        let v = volumes.get("medium").await.ok()?;
        (v.status.as_ref()?.phase.as_deref() == Some("Released")).then_some(v)
    })
    .await;
    assert!(
        v.spec.unwrap().claim_ref.is_some(),
        "a released volume keeps its claimRef"
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_for_first_consumer_provisions_on_the_pods_node() {
    let server = simulated().await;
    let client = server.client();
    let classes: Api<StorageClass> = Api::all(client.clone());
    let class: StorageClass = serde_json::from_value(json!({
        "metadata": {"name": "local"},
        "provisioner": "kubeforge.io/simulated",
        "volumeBindingMode": "WaitForFirstConsumer",
    }))
    .unwrap();
    classes
        .create(&PostParams::default(), &class)
        .await
        .unwrap();
    let claims: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), "default");
    let mut spec = claim_spec("1Gi");
    spec["storageClassName"] = json!("local");
    claims
        .create(&PostParams::default(), &claim("late", spec))
        .await
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let c = claims.get("late").await.unwrap();
    assert_eq!(c.status.unwrap().phase.as_deref(), Some("Pending"));
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let pod: Pod = serde_json::from_value(json!({
        "metadata": {"name": "consumer"},
        "spec": {"containers": [{"name": "c", "image": "busybox"}],
                 "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": "late"}}]}
    }))
    .unwrap();
    pods.create(&PostParams::default(), &pod).await.unwrap();
    let c = bound(&claims, "late").await;
    let node = c
        .annotations()
        .get("volume.kubernetes.io/selected-node")
        .cloned()
        .expect("selected node");
    let scheduled = pods.get("consumer").await.unwrap();
    assert_eq!(scheduled.spec.unwrap().node_name, Some(node));
    server.shutdown().await;
}

#[tokio::test]
async fn claim_and_volume_rules_answer_with_upstreams_messages() {
    let server = kube_support::start().await;
    let client: Client = server.client();
    let claims: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), "default");
    let s = api_err(
        claims
            .create(
                &PostParams::default(),
                &claim("bad", json!({"volumeMode": "Raw"})),
            )
            .await,
        422,
        "Invalid",
    );
    assert_eq!(
        causes(&s),
        [
            "spec.accessModes: Required value: at least 1 access mode is required",
            "spec.resources[storage]: Required value",
            "spec.volumeMode: Unsupported value: \"Raw\": supported values: \"Block\", \"Filesystem\"",
        ]
    );
    let s = api_err(
        claims
            .create(
                &PostParams::default(),
                &claim(
                    "bad",
                    json!({"accessModes": ["ReadWriteOncePod", "ReadOnlyMany"],
                           "resources": {"requests": {"storage": "0"}}}),
                ),
            )
            .await,
        422,
        "Invalid",
    );
    assert_eq!(
        causes(&s),
        [
            "spec.accessModes: Forbidden: may not use ReadWriteOncePod with other access modes",
            "spec.resources[storage]: Invalid value: \"0\": must be greater than zero",
        ]
    );
    // The spec of an unbound claim is immutable, requests included.
    claims
        .create(&PostParams::default(), &claim("fixed", claim_spec("1Gi")))
        .await
        .unwrap();
    let s = api_err(
        claims
            .patch(
                "fixed",
                &PatchParams::default(),
                &Patch::Merge(json!({"spec": {"accessModes": ["ReadWriteMany"]}})),
            )
            .await,
        422,
        "Invalid",
    );
    assert_eq!(
        causes(&s),
        [
            "spec: Forbidden: spec is immutable after creation except resources.requests for bound claims\n- spec.accessModes[0]: \"ReadWriteOnce\"\n+ spec.accessModes[0]: \"ReadWriteMany\""
        ]
    );
    // A class may still be given to a claim that has none (retroactive default).
    claims
        .patch(
            "fixed",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"storageClassName": "late"}})),
        )
        .await
        .expect("a class for a claim without one");

    let volumes: Api<PersistentVolume> = Api::all(client.clone());
    let pv: PersistentVolume =
        serde_json::from_value(json!({"metadata": {"name": "bad"}, "spec": {}})).unwrap();
    let s = api_err(
        volumes.create(&PostParams::default(), &pv).await,
        422,
        "Invalid",
    );
    assert_eq!(
        causes(&s),
        [
            "spec.accessModes: Required value",
            "spec.capacity: Required value",
            "spec: Required value: must specify a volume type",
        ]
    );
    let pv: PersistentVolume =
        serde_json::from_value(json!({"metadata": {"name": "two"}, "spec": {
        "capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"],
        "hostPath": {"path": "/a"}, "nfs": {"server": "x", "path": "/b"}}}))
        .unwrap();
    let s = api_err(
        volumes.create(&PostParams::default(), &pv).await,
        422,
        "Invalid",
    );
    assert_eq!(
        causes(&s),
        ["spec: Forbidden: may not specify more than 1 volume type"]
    );
    server.shutdown().await;
}

/// Static pre-binding: a volume reserved for a claim by name waits for it (Available, not
/// reclaimed), the claim that names the volume binds to it; a volume deleted while bound goes
/// once its claim is gone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pre_bound_volumes_wait_for_their_claim_and_go_after_it() {
    let server = kube_support::start().await;
    let client = server.client();
    let volumes: Api<PersistentVolume> = Api::all(client.clone());
    let pv: PersistentVolume = serde_json::from_value(json!({
        "metadata": {"name": "reserved"},
        "spec": {"capacity": {"storage": "5Gi"}, "accessModes": ["ReadWriteOnce"],
                 "persistentVolumeReclaimPolicy": "Delete", "storageClassName": "",
                 "claimRef": {"namespace": "default", "name": "mine"},
                 "hostPath": {"path": "/data/reserved"}}
    }))
    .unwrap();
    volumes.create(&PostParams::default(), &pv).await.unwrap();
    eventually("the reserved volume to be Available", || async {
        let v = volumes.get("reserved").await.ok()?;
        (v.status.as_ref()?.phase.as_deref() == Some("Available")).then_some(())
    })
    .await;
    // Its claim does not exist: the volume must stay, not be released and deleted.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let v = volumes.get("reserved").await.expect("still there");
    assert_eq!(v.status.unwrap().phase.as_deref(), Some("Available"));

    let claims: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), "default");
    let mut spec = claim_spec("1Gi");
    spec["storageClassName"] = json!("");
    spec["volumeName"] = json!("reserved");
    claims
        .create(&PostParams::default(), &claim("mine", spec))
        .await
        .unwrap();
    let c = bound(&claims, "mine").await;
    assert_eq!(c.spec.unwrap().volume_name.as_deref(), Some("reserved"));

    // Deleted while bound: kept (protection), then gone once the claim is.
    volumes
        .delete("reserved", &DeleteParams::default())
        .await
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(volumes.get_opt("reserved").await.unwrap().is_some());
    claims
        .delete("mine", &DeleteParams::default())
        .await
        .unwrap();
    gone(&claims, "mine").await;
    gone(&volumes, "reserved").await;
    server.shutdown().await;
}
