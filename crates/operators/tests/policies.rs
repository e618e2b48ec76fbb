//! The pod policies end to end against an in-process API server with simulated workloads:
//! Deployments whose pods pass and fail, policy updates and action changes, podSelector, two
//! policies, deletion cleanup, CRD validation; and the quantity and image-reference tables.

mod common;

use common::{Env, code, events_about, eventually};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{
    Api, ApiResource, DeleteParams, DynamicObject, ListParams, Patch, PatchParams, PostParams,
};
use kube::{Client, ResourceExt};
use kubeforge_operators::policy::image::ImageReference;
use kubeforge_operators::policy::quantity::Quantity;
use kubeforge_operators::policy::{
    CONFLICT, ContainerImagePolicy, DELETED_BY_POLICY, FAILED_POLICY, FINALIZER, HealthCheckPolicy,
    PolicyStatus, READY, ResourcesPolicy, marker_key,
};
use serde_json::{Value, json};
use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::time::Duration;

const ALL: &str = "healthcheckpolicy,containerimagepolicy,resourcespolicy";

fn probe() -> Value {
    json!({"httpGet": {"path": "/", "port": 80}})
}

/// A Deployment of `replicas` pods labelled `app: <name>`, one container `web` with `image`,
/// probes when `probes`, and `resources`.
fn deployment(
    name: &str,
    replicas: i32,
    image: &str,
    probes: bool,
    resources: Value,
) -> Deployment {
    let mut container = json!({"name": "web", "image": image, "resources": resources});
    if probes {
        container["livenessProbe"] = probe();
        container["readinessProbe"] = probe();
    }
    serde_json::from_value(json!({
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [container]}
            }
        }
    }))
    .unwrap()
}

fn policy<K: serde::de::DeserializeOwned>(kind: &str, name: &str, spec: Value) -> K {
    serde_json::from_value(json!({
        "apiVersion": "policy.k8s-go.openshift.org/v1alpha1",
        "kind": kind,
        "metadata": {"name": name},
        "spec": spec,
    }))
    .unwrap()
}

async fn start(ns: &str) -> anyhow::Result<Env> {
    let env = Env::start(ALL).await?;
    env.namespace(ns).await?;
    Ok(env)
}

async fn deploy(client: &Client, ns: &str, deployment: Deployment) -> anyhow::Result<()> {
    let replicas = deployment
        .spec
        .as_ref()
        .and_then(|s| s.replicas)
        .unwrap_or(1) as usize;
    let app = deployment.name_any();
    Api::<Deployment>::namespaced(client.clone(), ns)
        .create(&PostParams::default(), &deployment)
        .await?;
    let pods: Api<Pod> = Api::namespaced(client.clone(), ns);
    eventually(&format!("{replicas} pods of {app}"), || {
        let pods = pods.clone();
        let app = app.clone();
        async move {
            let list = pods
                .list(&ListParams::default().labels(&format!("app={app}")))
                .await?;
            Ok((list.items.len() == replicas).then_some(()))
        }
    })
    .await
}

/// The pods of `ns` labelled `app=<app>`.
async fn pods_of(client: &Client, ns: &str, app: &str) -> anyhow::Result<Vec<Pod>> {
    Ok(Api::<Pod>::namespaced(client.clone(), ns)
        .list(&ListParams::default().labels(&format!("app={app}")))
        .await?
        .items)
}

fn label<'a>(pod: &'a Pod, key: &str) -> Option<&'a str> {
    pod.labels().get(key).map(String::as_str)
}

fn annotation<'a>(pod: &'a Pod, key: &str) -> Option<&'a str> {
    pod.annotations().get(key).map(String::as_str)
}

/// Waits until every pod of `app` satisfies `ok`.
async fn until_pods(
    client: &Client,
    ns: &str,
    app: &str,
    what: &str,
    ok: impl Fn(&Pod) -> bool,
) -> anyhow::Result<()> {
    eventually(what, || {
        let ok = &ok;
        async move {
            let pods = pods_of(client, ns, app).await?;
            Ok((!pods.is_empty() && pods.iter().all(ok)).then_some(()))
        }
    })
    .await
}

/// Waits until the status of policy `name` satisfies `ok`, and returns it.
async fn until_status<K>(
    api: &Api<K>,
    name: &str,
    what: &str,
    ok: impl Fn(&PolicyStatus) -> bool,
) -> anyhow::Result<PolicyStatus>
where
    K: kube::Resource<DynamicType = ()>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug
        + serde::Serialize,
{
    eventually(what, || {
        let ok = &ok;
        async move {
            let object = serde_json::to_value(api.get(name).await?)?;
            let status: Option<PolicyStatus> = object
                .get("status")
                .map(|s| serde_json::from_value(s.clone()))
                .transpose()?;
            Ok(status.filter(|s| ok(s)))
        }
    })
    .await
}

fn condition<'a>(status: &'a PolicyStatus, type_: &str) -> Option<(&'a str, &'a str)> {
    status
        .conditions
        .iter()
        .find(|c| c.type_ == type_)
        .map(|c| (c.status.as_str(), c.reason.as_str()))
}

/// The failing pods' reasons by the pod's app (its name up to the first `-`).
fn reasons_by_app(status: &PolicyStatus) -> BTreeMap<&str, &Vec<String>> {
    status
        .failing
        .iter()
        .map(|f| (f.pod.split('-').next().unwrap_or_default(), &f.reasons))
        .collect()
}

fn counts(status: &PolicyStatus) -> (i64, i64) {
    (status.statistics.pods.failed, status.statistics.pods.passed)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_check_policy_lifecycle() -> anyhow::Result<()> {
    let ns = "hcp-life";
    let env = start(ns).await?;
    let client = env.client.clone();
    deploy(
        &client,
        ns,
        deployment("bare", 2, "nginx:1.27", false, json!({})),
    )
    .await?;
    deploy(
        &client,
        ns,
        deployment("probed", 1, "nginx:1.27", true, json!({})),
    )
    .await?;
    // A pod without probes whose `health-check-missing` label someone else set.
    let pods: Api<Pod> = Api::namespaced(client.clone(), ns);
    let foreign: Pod = serde_json::from_value(json!({
        "metadata": {"name": "foreign", "labels": {"app": "foreign", "health-check-missing": "mine"}},
        "spec": {"containers": [{"name": "c", "image": "nginx"}]}
    }))?;
    pods.create(&PostParams::default(), &foreign).await?;

    let hcps: Api<HealthCheckPolicy> = Api::namespaced(client.clone(), ns);
    hcps.create(
        &PostParams::default(),
        &policy("HealthCheckPolicy", "hc", json!({})),
    )
    .await?;
    let created = hcps.get("hc").await?;
    assert_eq!(created.spec.pod_label, "health-check-missing", "defaulted");
    assert_eq!(serde_json::to_value(created.spec.action)?, json!("label"));

    let marker = marker_key("healthcheckpolicy", "hc");
    until_pods(&client, ns, "bare", "failing pods labelled", |p| {
        label(p, "health-check-missing") == Some("true")
            && annotation(p, &marker) == Some("label:health-check-missing")
    })
    .await?;
    let status = until_status(&hcps, "hc", "3 failed, 1 passed", |s| counts(s) == (3, 1)).await?;
    assert_eq!(condition(&status, READY), Some(("True", "Enforced")));
    assert_eq!(condition(&status, CONFLICT), Some(("False", "NoConflict")));
    assert_eq!(status.observed_generation, Some(1));
    assert!(status.last_checked.is_some());
    let failing: Vec<&str> = status.failing.iter().map(|f| f.pod.as_str()).collect();
    assert_eq!(failing.len(), 3);
    assert!(failing.contains(&"foreign"), "{failing:?}");
    assert_eq!(
        status
            .failing
            .iter()
            .find(|f| f.pod == "foreign")
            .unwrap()
            .reasons,
        ["container \"c\" has no livenessProbe and no readinessProbe"]
    );
    assert!(
        status.conditions[0]
            .message
            .contains("1 of them already carry the key")
    );
    let hc = hcps.get("hc").await?;
    assert!(hc.finalizers().contains(&FINALIZER.to_string()));
    // The probed pod and the foreign label are left alone.
    for pod in pods_of(&client, ns, "probed").await? {
        assert_eq!(label(&pod, "health-check-missing"), None);
    }
    let foreign = pods.get("foreign").await?;
    assert_eq!(label(&foreign, "health-check-missing"), Some("mine"));
    assert_eq!(annotation(&foreign, &marker), None);
    // One Warning event per failing pod, when it starts failing.
    let bare = pods_of(&client, ns, "bare").await?;
    let events = events_about(&client, &bare[0], FAILED_POLICY).await?;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0].type_.as_deref(), Some("Warning"));
    assert!(
        events[0]
            .note
            .as_deref()
            .unwrap_or_default()
            .contains("fails HealthCheckPolicy \"hc\""),
        "{events:?}"
    );
    // Settled: the status is not rewritten when nothing changes.
    let version = hcps.get("hc").await?.resource_version();
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(hcps.get("hc").await?.resource_version(), version);

    // A pod that gains its probes passes and loses the label.
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), ns);
    // (Adding probes to the template replaces the pods; the new ones pass.)
    deployments
        .patch(
            "bare",
            &PatchParams::default(),
            &Patch::Strategic(json!({"spec": {"template": {"spec": {"containers": [
                {"name": "web", "livenessProbe": probe(), "readinessProbe": probe()}
            ]}}}})),
        )
        .await?;
    until_status(&hcps, "hc", "1 failed, 3 passed", |s| counts(s) == (1, 3)).await?;
    until_pods(&client, ns, "bare", "passing pods unlabelled", |p| {
        label(p, "health-check-missing").is_none() && annotation(p, &marker).is_none()
    })
    .await?;
    // Back to failing pods for the rest.
    deployments
        .patch(
            "bare",
            &PatchParams::default(),
            &Patch::Json::<()>(serde_json::from_value(json!([
                {"op": "remove", "path": "/spec/template/spec/containers/0/livenessProbe"},
                {"op": "remove", "path": "/spec/template/spec/containers/0/readinessProbe"}
            ]))?),
        )
        .await?;
    until_pods(&client, ns, "bare", "new failing pods labelled", |p| {
        label(p, "health-check-missing") == Some("true")
    })
    .await?;

    // Action change: the labels go, annotations naming the containers come.
    hcps.patch(
        "hc",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"action": "annotate"}})),
    )
    .await?;
    until_pods(&client, ns, "bare", "failing pods annotated", |p| {
        label(p, "health-check-missing").is_none()
            && annotation(p, "health-check-missing") == Some("web")
            && annotation(p, &marker) == Some("annotation:health-check-missing")
    })
    .await?;
    until_status(&hcps, "hc", "generation 2 observed", |s| {
        s.observed_generation == Some(2)
    })
    .await?;
    assert_eq!(
        label(&pods.get("foreign").await?, "health-check-missing"),
        Some("mine")
    );

    // podSelector: only the `bare` pods are covered.
    hcps.patch(
        "hc",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"podSelector": {"matchLabels": {"app": "bare"}}}})),
    )
    .await?;
    until_status(&hcps, "hc", "only bare pods counted", |s| {
        counts(s) == (2, 0)
    })
    .await?;
    let foreign = pods.get("foreign").await?;
    assert_eq!(annotation(&foreign, "health-check-missing"), None);

    // Pods that leave the selector lose the policy's annotation; back in scope, they get it again.
    hcps.patch(
        "hc",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"podSelector": {"matchLabels": {"app": "none"}}}})),
    )
    .await?;
    until_pods(&client, ns, "bare", "out-of-scope pods released", |p| {
        annotation(p, "health-check-missing").is_none() && annotation(p, &marker).is_none()
    })
    .await?;
    until_status(&hcps, "hc", "nothing in scope", |s| counts(s) == (0, 0)).await?;
    hcps.patch(
        "hc",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"podSelector": {"matchLabels": {"app": "bare"}}}})),
    )
    .await?;
    until_pods(&client, ns, "bare", "annotated again", |p| {
        annotation(p, "health-check-missing") == Some("web")
    })
    .await?;

    // Deletion: every mark removed, then the policy goes.
    hcps.delete("hc", &DeleteParams::default()).await?;
    eventually("policy gone", || {
        let hcps = hcps.clone();
        async move { Ok(hcps.get_opt("hc").await?.is_none().then_some(())) }
    })
    .await?;
    for pod in pods.list(&ListParams::default()).await?.items {
        assert_eq!(annotation(&pod, &marker), None, "{}", pod.name_any());
        assert_eq!(annotation(&pod, "health-check-missing"), None);
    }
    assert_eq!(
        label(&pods.get("foreign").await?, "health-check-missing"),
        Some("mine")
    );
    env.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_deletes_failing_pods_with_an_event() -> anyhow::Result<()> {
    let ns = "hcp-kill";
    let env = start(ns).await?;
    let client = env.client.clone();
    deploy(
        &client,
        ns,
        deployment("probed", 1, "nginx:1.27", true, json!({})),
    )
    .await?;
    let pods: Api<Pod> = Api::namespaced(client.clone(), ns);
    let doomed: Pod = serde_json::from_value(json!({
        "metadata": {"name": "doomed", "labels": {"app": "doomed"}},
        "spec": {"containers": [{"name": "c", "image": "nginx"}]}
    }))?;
    let doomed = pods.create(&PostParams::default(), &doomed).await?;
    let hcps: Api<HealthCheckPolicy> = Api::namespaced(client.clone(), ns);
    hcps.create(
        &PostParams::default(),
        &policy("HealthCheckPolicy", "killer", json!({"action": "kill"})),
    )
    .await?;
    eventually("the failing pod deleted", || {
        let pods = pods.clone();
        async move { Ok(pods.get_opt("doomed").await?.is_none().then_some(())) }
    })
    .await?;
    let events = eventually("the DeletedByPolicy event", || {
        let (client, doomed) = (client.clone(), doomed.clone());
        async move {
            let events = events_about(&client, &doomed, DELETED_BY_POLICY).await?;
            Ok((!events.is_empty()).then_some(events))
        }
    })
    .await?;
    assert_eq!(events.len(), 1, "{events:?}");
    assert!(
        events[0]
            .note
            .as_deref()
            .unwrap_or_default()
            .contains("has no livenessProbe"),
        "{events:?}"
    );
    assert_eq!(
        pods_of(&client, ns, "probed").await?.len(),
        1,
        "passing pods stay"
    );
    until_status(&hcps, "killer", "1 passed", |s| counts(s) == (0, 1)).await?;
    env.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_policies_on_one_key_do_not_fight() -> anyhow::Result<()> {
    let ns = "hcp-two";
    let env = start(ns).await?;
    let client = env.client.clone();
    deploy(
        &client,
        ns,
        deployment("bare", 2, "nginx:1.27", false, json!({})),
    )
    .await?;
    let hcps: Api<HealthCheckPolicy> = Api::namespaced(client.clone(), ns);
    hcps.create(
        &PostParams::default(),
        &policy("HealthCheckPolicy", "first", json!({})),
    )
    .await?;
    let first = marker_key("healthcheckpolicy", "first");
    until_pods(&client, ns, "bare", "labelled by the first", |p| {
        annotation(p, &first).is_some()
    })
    .await?;
    // A different key: both act on their own.
    hcps.create(
        &PostParams::default(),
        &policy(
            "HealthCheckPolicy",
            "other",
            json!({"podLabel": "example.com/no-probes"}),
        ),
    )
    .await?;
    // The same key: the younger one reports the conflict and stays out.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    hcps.create(
        &PostParams::default(),
        &policy("HealthCheckPolicy", "second", json!({})),
    )
    .await?;
    until_pods(&client, ns, "bare", "labelled by the other", |p| {
        label(p, "example.com/no-probes") == Some("true")
    })
    .await?;
    let status = until_status(&hcps, "second", "conflict reported", |s| {
        condition(s, CONFLICT).map(|c| c.0) == Some("True")
    })
    .await?;
    assert_eq!(condition(&status, READY), Some(("False", "Conflict")));
    assert!(
        status.conditions[1]
            .message
            .contains("HealthCheckPolicy/first"),
        "{status:?}"
    );
    assert_eq!(counts(&status), (2, 0), "a conflicting policy still counts");
    let second = marker_key("healthcheckpolicy", "second");
    for pod in pods_of(&client, ns, "bare").await? {
        assert_eq!(annotation(&pod, &second), None);
    }
    let other = until_status(&hcps, "other", "other ready", |s| {
        condition(s, READY) == Some(("True", "Enforced"))
    })
    .await?;
    assert_eq!(counts(&other), (2, 0));

    // The first goes: its labels go, and the second takes the key over.
    hcps.delete("first", &DeleteParams::default()).await?;
    until_pods(&client, ns, "bare", "labelled by the second", |p| {
        annotation(p, &first).is_none()
            && annotation(p, &second) == Some("label:health-check-missing")
            && label(p, "health-check-missing") == Some("true")
    })
    .await?;
    until_status(&hcps, "second", "conflict over", |s| {
        condition(s, READY) == Some(("True", "Enforced"))
            && condition(s, CONFLICT) == Some(("False", "NoConflict"))
    })
    .await?;
    env.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn container_image_policy_checks_references() -> anyhow::Result<()> {
    let ns = "cip";
    let env = start(ns).await?;
    let client = env.client.clone();
    let digest = format!("sha256:{}", "a".repeat(64));
    deploy(
        &client,
        ns,
        deployment("short", 1, "nginx", true, json!({})),
    )
    .await?;
    deploy(
        &client,
        ns,
        deployment("latest", 1, "docker.io/nginx:latest", true, json!({})),
    )
    .await?;
    deploy(
        &client,
        ns,
        deployment(
            "pinned",
            1,
            &format!("registry.io/a/b@{digest}"),
            true,
            json!({}),
        ),
    )
    .await?;
    deploy(
        &client,
        ns,
        deployment("local", 1, "localhost:5000/x:1.0", true, json!({})),
    )
    .await?;
    let cips: Api<ContainerImagePolicy> = Api::namespaced(client.clone(), ns);
    cips.create(
        &PostParams::default(),
        &policy(
            "ContainerImagePolicy",
            "images",
            json!({"require": {"explicitRegistry": true, "noLatestTag": true}}),
        ),
    )
    .await?;
    let status = until_status(&cips, "images", "2 failed, 2 passed", |s| {
        counts(s) == (2, 2)
    })
    .await?;
    let reasons = reasons_by_app(&status);
    assert_eq!(
        reasons["short"],
        &vec![
            "container \"web\": image \"nginx\" names no registry".to_string(),
            "container \"web\": image \"nginx\" has no tag (it means latest)".to_string(),
        ]
    );
    assert_eq!(
        reasons["latest"],
        &vec![
            "container \"web\": image \"docker.io/nginx:latest\" uses the latest tag".to_string()
        ]
    );
    for app in ["short", "latest"] {
        until_pods(&client, ns, app, "labelled", |p| {
            label(p, "invalid-container-image") == Some("true")
        })
        .await?;
    }
    for pod in pods_of(&client, ns, "local").await? {
        assert_eq!(label(&pod, "invalid-container-image"), None);
    }

    // An imageRegex that does not compile: a clear condition, and nothing enforced.
    cips.patch(
        "images",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"require": {"imageRegex": "(unclosed"}}})),
    )
    .await?;
    let status = until_status(&cips, "images", "invalid spec", |s| {
        condition(s, READY).map(|c| c.1) == Some("InvalidSpec")
    })
    .await?;
    assert!(
        status.conditions[0]
            .message
            .starts_with("spec.require.imageRegex does not compile"),
        "{status:?}"
    );
    for app in ["short", "latest"] {
        until_pods(&client, ns, app, "labels released", |p| {
            label(p, "invalid-container-image").is_none()
        })
        .await?;
    }
    // A regex that compiles, and the delete action.
    cips.patch(
        "images",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {
            "require": {"explicitRegistry": false, "noLatestTag": false, "imageRegex": "^localhost:5000/"},
            "action": "delete",
            "podSelector": {"matchExpressions": [{"key": "app", "operator": "In", "values": ["pinned", "local"]}]}
        }})),
    )
    .await?;
    eventually("the pinned pod replaced", || {
        let client = client.clone();
        async move {
            let events: Api<k8s_openapi::api::events::v1::Event> = Api::namespaced(client, ns);
            Ok(events
                .list(&ListParams::default())
                .await?
                .items
                .iter()
                .any(|e| {
                    e.reason.as_deref() == Some(DELETED_BY_POLICY)
                        && e.regarding
                            .as_ref()
                            .and_then(|r| r.name.as_deref())
                            .is_some_and(|n| n.starts_with("pinned-"))
                })
                .then_some(()))
        }
    })
    .await?;
    // Out of scope pods are never deleted.
    assert_eq!(pods_of(&client, ns, "short").await?.len(), 1);
    env.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resources_policy_compares_quantities() -> anyhow::Result<()> {
    let ns = "rp";
    let env = start(ns).await?;
    let client = env.client.clone();
    let good = json!({"requests": {"cpu": "500m", "memory": "1G"}, "limits": {"cpu": "1", "memory": "1Gi"}});
    let equal = json!({"requests": {"cpu": "1000m", "memory": "1Gi"}, "limits": {"cpu": "1", "memory": "1Gi"}});
    let no_limits = json!({"requests": {"cpu": "100m", "memory": "64Mi"}});
    deploy(&client, ns, deployment("good", 1, "nginx:1", true, good)).await?;
    deploy(&client, ns, deployment("equal", 1, "nginx:1", true, equal)).await?;
    deploy(
        &client,
        ns,
        deployment("nolimits", 1, "nginx:1", true, no_limits),
    )
    .await?;
    let rps: Api<ResourcesPolicy> = Api::namespaced(client.clone(), ns);
    rps.create(
        &PostParams::default(),
        &policy(
            "ResourcesPolicy",
            "res",
            json!({"require": {"limits": true, "requests": true, "requestsLowerThanLimits": true}}),
        ),
    )
    .await?;
    let status = until_status(&rps, "res", "2 failed, 1 passed", |s| counts(s) == (2, 1)).await?;
    let reasons = reasons_by_app(&status);
    assert_eq!(
        reasons["equal"],
        &vec![
            "container \"web\": cpu request 1000m is not lower than its limit 1".to_string(),
            "container \"web\": memory request 1Gi is not lower than its limit 1Gi".to_string(),
        ]
    );
    assert_eq!(
        reasons["nolimits"],
        &vec!["container \"web\" has no cpu or memory limit".to_string()]
    );
    for app in ["equal", "nolimits"] {
        until_pods(&client, ns, app, "labelled", |p| {
            label(p, "resources-wrong") == Some("true")
        })
        .await?;
    }
    // Relaxing the policy releases the pods it no longer fails.
    rps.patch(
        "res",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"require": {"requestsLowerThanLimits": false}}})),
    )
    .await?;
    until_pods(&client, ns, "equal", "released", |p| {
        label(p, "resources-wrong").is_none()
    })
    .await?;
    until_status(&rps, "res", "1 failed, 2 passed", |s| counts(s) == (1, 2)).await?;
    env.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_crds_reject_bad_specs() -> anyhow::Result<()> {
    let ns = "bad-specs";
    let env = start(ns).await?;
    let hcp = ApiResource::erase::<HealthCheckPolicy>(&());
    let cip = ApiResource::erase::<ContainerImagePolicy>(&());
    let create = |resource: &ApiResource, name: &str, spec: Value| {
        let api: Api<DynamicObject> = Api::namespaced_with(env.client.clone(), ns, resource);
        let object: DynamicObject = serde_json::from_value(json!({
            "apiVersion": resource.api_version,
            "kind": resource.kind,
            "metadata": {"name": name},
            "spec": spec,
        }))
        .unwrap();
        async move { api.create(&PostParams::default(), &object).await }
    };
    for (resource, name, spec, message) in [
        (
            &hcp,
            "bad",
            json!({"podLabel": "not a key"}),
            "spec.podLabel",
        ),
        (
            &hcp,
            "bad",
            json!({"podLabel": "a".repeat(64)}),
            "must be a valid label key",
        ),
        (
            &hcp,
            "bad",
            json!({"podLabel": format!("{}/x", "a".repeat(254))}),
            "must be a valid label key",
        ),
        (&hcp, "bad", json!({"action": "explode"}), "spec.action"),
        (
            &cip,
            "bad",
            json!({"labels": {"pods": "-x"}}),
            "spec.labels.pods",
        ),
        (&cip, "bad", json!({"action": "kill"}), "spec.action"),
        (
            &hcp,
            &"p".repeat(64),
            json!({}),
            "a policy name has at most 63 characters",
        ),
    ] {
        let result = create(resource, name, spec.clone()).await;
        assert_eq!(code(&result), 422, "{spec}: {result:?}");
        let error = result.unwrap_err().to_string();
        assert!(error.contains(message), "{spec}: {error}");
    }
    // A prefixed key is fine.
    create(
        &hcp,
        "ok",
        json!({"podLabel": "example.com/probes-missing"}),
    )
    .await?;
    env.stop().await
}

#[test]
fn quantities_compare_as_kubernetes_quantities() {
    use Ordering::*;
    let table = [
        ("500m", "1", Less),
        ("1", "1000m", Equal),
        ("1Gi", "1G", Greater),
        ("1Ki", "1k", Greater),
        ("1024", "1Ki", Equal),
        ("0.5", "500m", Equal),
        ("1.5Gi", "1536Mi", Equal),
        ("1e3", "1k", Equal),
        ("1E", "1e18", Equal),
        ("2E-3", "2m", Equal),
        ("100n", "1u", Less),
        ("1Ei", "1E", Greater),
        ("-1", "0", Less),
        ("0", "0m", Equal),
        ("+1", ".5", Greater),
        ("129Mi", "135266304", Equal),
        ("0.1", "99m", Greater),
        (
            "12345678901234567890123",
            "1.2345678901234567890123e22",
            Equal,
        ),
    ];
    for (a, b, want) in table {
        let (x, y) = (Quantity::parse(a).unwrap(), Quantity::parse(b).unwrap());
        assert_eq!(x.cmp(&y), want, "{a} vs {b}");
        assert_eq!(y.cmp(&x), want.reverse(), "{b} vs {a}");
    }
    assert_eq!(Quantity::parse("1.5Gi").unwrap().to_string(), "1610612736");
    assert_eq!(Quantity::parse("250m").unwrap().to_string(), "0.25");
    for bad in [
        "", "m", "1.2.3", "1x", "1KiB", "1e", "e3", "1 Gi", "--1", "1e99999",
    ] {
        assert!(Quantity::parse(bad).is_err(), "{bad:?} parsed");
    }
}

#[test]
fn image_references_parse_by_the_docker_grammar() {
    let digest = format!("sha256:{}", "0123456789abcdef".repeat(4));
    let with_digest = format!("registry.io/a/b@{digest}");
    let tagged_digest = format!("docker.io/library/nginx:1.27@{digest}");
    /// Reference, registry, path, tag, whether it has a digest.
    type Row<'a> = (&'a str, Option<&'a str>, &'a str, Option<&'a str>, bool);
    let table: Vec<Row> = vec![
        ("nginx", None, "nginx", None, false),
        ("nginx:latest", None, "nginx", Some("latest"), false),
        ("docker.io/nginx", Some("docker.io"), "nginx", None, false),
        (
            "library/nginx:1.27",
            None,
            "library/nginx",
            Some("1.27"),
            false,
        ),
        ("localhost:5000/x", Some("localhost:5000"), "x", None, false),
        ("localhost/x:v1", Some("localhost"), "x", Some("v1"), false),
        (&with_digest, Some("registry.io"), "a/b", None, true),
        (
            &tagged_digest,
            Some("docker.io"),
            "library/nginx",
            Some("1.27"),
            true,
        ),
        (
            "quay.io:443/org/app_x__y-z:v1.2_3",
            Some("quay.io:443"),
            "org/app_x__y-z",
            Some("v1.2_3"),
            false,
        ),
        ("Registry/app", Some("Registry"), "app", None, false),
        ("[::1]:5000/app", Some("[::1]:5000"), "app", None, false),
        (
            "my-registry:5000/team/app:dev",
            Some("my-registry:5000"),
            "team/app",
            Some("dev"),
            false,
        ),
    ];
    for (reference, registry, path, tag, has_digest) in table {
        let parsed =
            ImageReference::parse(reference).unwrap_or_else(|e| panic!("{reference}: {e}"));
        assert_eq!(parsed.registry.as_deref(), registry, "{reference}");
        assert_eq!(parsed.path, path, "{reference}");
        assert_eq!(parsed.tag.as_deref(), tag, "{reference}");
        assert_eq!(parsed.digest.is_some(), has_digest, "{reference}");
    }
    for bad in [
        "",
        "Nginx",
        "nginx:",
        ":tag",
        "nginx@sha256:abc",
        "a//b",
        "-nginx",
        "nginx:-tag",
        "registry.io/",
        "bad_host_.io/x",
    ] {
        assert!(ImageReference::parse(bad).is_err(), "{bad:?} parsed");
    }
}

/// Marks of three policies on one pod, handed to the shared writer before any of them went out,
/// reach the server as one PATCH (one watch event, every label on it) and one Warning event
/// naming all three; a check in progress holds writes until its marks are in; a pod that is
/// gone answers `false`, not an error.
#[tokio::test]
async fn marks_for_one_pod_are_merged_into_one_write() -> anyhow::Result<()> {
    use futures::StreamExt;
    use kube::runtime::watcher;
    use kubeforge_operators::events::Events;
    use kubeforge_operators::policy::PodWrites;
    use kubeforge_runtime::events::Recorder;
    use std::sync::Arc;

    let server = kubeforge_apiserver::ApiServer::builder()
        .in_memory()
        .start()
        .await?;
    let client = server.client();
    let ns = "merged";
    Api::<k8s_openapi::api::core::v1::Namespace>::all(client.clone())
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": ns}}))?,
        )
        .await?;
    let pods: Api<Pod> = Api::namespaced(client.clone(), ns);
    let pod: Pod = serde_json::from_value(json!({
        "metadata": {"name": "p"},
        "spec": {"containers": [{"name": "web", "image": "nginx"}]}
    }))?;
    let pod = Arc::new(pods.create(&PostParams::default(), &pod).await?);
    let mut changes = watcher(
        pods.clone(),
        watcher::Config::default().fields("metadata.name=p"),
    )
    .boxed();
    // The watch's initial state: the pod as created.
    loop {
        if let Some(watcher::Event::InitDone) = changes.next().await.transpose()? {
            break;
        }
    }

    let writes = PodWrites::new(
        client.clone(),
        Events::new(Recorder::new(client.clone(), "test", "test")),
    );
    let mark = |key: &str| {
        json!({"metadata": {
            "labels": {key: "true"},
            "annotations": {format!("test.policy.k8s-go.openshift.org/{key}"): format!("label:{key}")}
        }})
    };
    let (a, b, c) = tokio::join!(
        writes.submit(&pod, Some(mark("a")), Some("fails A".into())),
        writes.submit(&pod, Some(mark("b")), Some("fails B".into())),
        writes.submit(&pod, Some(mark("c")), None),
    );
    assert!(a.is_ok_and(|w| w) && b.is_ok_and(|w| w) && c.is_ok_and(|w| w));

    let modified = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            if let Some(watcher::Event::Apply(pod)) = changes.next().await.transpose()? {
                return anyhow::Ok(pod);
            }
        }
    })
    .await??;
    for key in ["a", "b", "c"] {
        assert_eq!(label(&modified, key), Some("true"), "{modified:?}");
    }
    // Nothing else arrives: the three marks were one write.
    let more = tokio::time::timeout(Duration::from_millis(500), changes.next()).await;
    assert!(more.is_err(), "a second write: {more:?}");
    let events = events_about(&client, pod.as_ref(), FAILED_POLICY).await?;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0].note.as_deref(), Some("fails A; fails B"));

    // A check still choosing its marks holds the others' writes past the gathering time, so a
    // slow check's mark joins them (still one write).
    let choosing = writes.check();
    let early = writes.enqueue(&pod, Some(mark("d")), None);
    tokio::time::sleep(kubeforge_operators::policy::GATHER * 2).await;
    let late = writes.enqueue(&pod, Some(mark("e")), None);
    drop(choosing);
    let (early, late) = tokio::join!(early, late);
    assert!(early.is_ok_and(|w| w) && late.is_ok_and(|w| w));
    let modified = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            if let Some(watcher::Event::Apply(pod)) = changes.next().await.transpose()? {
                return anyhow::Ok(pod);
            }
        }
    })
    .await??;
    assert_eq!(label(&modified, "d"), Some("true"), "{modified:?}");
    assert_eq!(label(&modified, "e"), Some("true"), "{modified:?}");
    let more = tokio::time::timeout(Duration::from_millis(500), changes.next()).await;
    assert!(more.is_err(), "a second write: {more:?}");

    pods.delete("p", &DeleteParams::default().grace_period(0))
        .await?;
    eventually("the pod gone", || {
        let pods = pods.clone();
        async move { Ok(pods.get_opt("p").await?.is_none().then_some(())) }
    })
    .await?;
    assert!(matches!(
        writes.submit(&pod, Some(mark("f")), None).await,
        Ok(false)
    ));
    server.shutdown().await;
    Ok(())
}
