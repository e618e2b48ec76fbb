//! `pods/binding` and `pods/eviction` (POST subresources), PodDisruptionBudgets and the
//! disruption controller, through kube-rs (`Api::<Pod>::evict`) and raw requests of its client:
//! binding once (409 after, 404 for a missing pod), eviction without a budget, a budget that
//! allows one eviction (429 until the pods recover), two budgets (500), dry run, a terminating
//! pod (200), bad bodies (400) in kube-apiserver's words, discovery of the subresources, and the
//! budget status (`minAvailable` as a number and a percentage, `maxUnavailable` over a
//! Deployment's scale) as pods come and go, and RBAC on `pods/eviction` for an impersonated user.

mod kube_support;

use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use kube::api::{Api, DeleteParams, EvictParams, Patch, PatchParams, PostParams};
use kube_support::{api_err, raw};
use kubeforge_apiserver::ApiServer;
use serde_json::{Value, json};
use std::future::Future;
use std::time::Duration;

const NS: &str = "/api/v1/namespaces/default";

/// Polls `check` every 50 ms until it yields a value, failing after a minute (generous: the
/// machine running the suite may be loaded).
async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
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

async fn server(simulated: bool) -> ApiServer {
    kube_support::on_test_storage(
        ApiServer::builder()
            .in_memory()
            .simulate_workloads(simulated),
    )
    .await
    .start()
    .await
    .expect("server starts")
}

/// A kube-rs client of `server` that reports a 429 instead of retrying it (kube-rs retries
/// 429, 503 and 504 by default, for up to 15 attempts).
fn client(server: &ApiServer) -> kube::Client {
    let mut config = kube::Config::new(server.url().parse().expect("server url"));
    config.root_cert = Some(Vec::new());
    config.default_retry = false;
    kube::Client::try_from(config).expect("client")
}

fn pod(name: &str, labels: Value) -> Pod {
    serde_json::from_value(json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "labels": labels},
        "spec": {"containers": [{"name": "c", "image": "nginx"}]}}))
    .expect("pod")
}

fn budget(name: &str, spec: Value) -> PodDisruptionBudget {
    serde_json::from_value(
        json!({"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
        "metadata": {"name": name}, "spec": spec}),
    )
    .expect("pdb")
}

fn ready(p: &Pod) -> bool {
    p.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

async fn wait_ready(pods: &Api<Pod>, name: &str) {
    eventually(&format!("pod {name} ready"), || async {
        pods.get(name).await.ok().filter(ready).map(|_| ())
    })
    .await;
}

/// The budget's status as JSON once `check` holds for it.
async fn budget_status(pdbs: &Api<PodDisruptionBudget>, name: &str, check: Value) -> Value {
    eventually(&format!("budget {name} status {check}"), || async {
        let pdb = serde_json::to_value(pdbs.get(name).await.ok()?).ok()?;
        let status = pdb.get("status")?.clone();
        let holds = check
            .as_object()?
            .iter()
            .all(|(k, v)| status.get(k) == Some(v));
        holds.then_some(status)
    })
    .await
}

async fn gone(pods: &Api<Pod>, name: &str) {
    eventually(&format!("pod {name} gone"), || async {
        pods.get_opt(name).await.ok()?.is_none().then_some(())
    })
    .await;
}

fn binding(name: &str, kind: &str, node: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Binding", "metadata": {"name": name},
        "target": {"apiVersion": "v1", "kind": kind, "name": node}})
}

#[tokio::test]
async fn binding_assigns_a_node_once() {
    let server = server(false).await;
    let client = client(&server);
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    for name in ["p", "q"] {
        pods.create(&PostParams::default(), &pod(name, json!({})))
            .await
            .expect("create pod");
    }

    let url = |name: &str| format!("{NS}/pods/{name}/binding");
    let (code, body) = raw(
        &client,
        "POST",
        &url("q"),
        None,
        Some(&binding("q", "Node", "n1")),
    )
    .await;
    assert_eq!(code, 201, "{body}");
    let (code, body) = raw(
        &client,
        "POST",
        &format!("{}?dryRun=All", url("p")),
        None,
        Some(&binding("p", "Node", "node-a")),
    )
    .await;
    assert_eq!(code, 201, "dry run: {body}");
    let p = pods.get("p").await.expect("pod");
    assert_eq!(
        p.spec.and_then(|s| s.node_name),
        None,
        "dry run binds nothing"
    );

    let (code, body) = raw(
        &client,
        "POST",
        &url("p"),
        None,
        Some(&binding("p", "Node", "node-a")),
    )
    .await;
    assert_eq!(code, 201, "{body}");
    assert_eq!(body["kind"], "Status");
    assert_eq!(body["status"], "Success");
    assert_eq!(body["code"], 201);
    let p = pods.get("p").await.expect("pod");
    assert_eq!(
        p.spec.as_ref().and_then(|s| s.node_name.as_deref()),
        Some("node-a")
    );
    let scheduled = p
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|cs| cs.iter().find(|c| c.type_ == "PodScheduled"))
        .map(|c| c.status.clone());
    assert_eq!(scheduled.as_deref(), Some("True"));

    let (code, body) = raw(
        &client,
        "POST",
        &url("p"),
        None,
        Some(&binding("p", "Node", "node-b")),
    )
    .await;
    assert_eq!(code, 409, "{body}");
    assert_eq!(body["reason"], "Conflict");
    assert_eq!(
        body["message"],
        "Operation cannot be fulfilled on pods/binding \"p\": pod p is already assigned to node \"node-a\""
    );

    let (code, body) = raw(
        &client,
        "POST",
        &url("nope"),
        None,
        Some(&binding("nope", "Node", "node-a")),
    )
    .await;
    assert_eq!(
        (code, body["message"].as_str()),
        (404, Some("pods \"nope\" not found")),
        "{body}"
    );

    let (code, body) = raw(
        &client,
        "POST",
        &url("p"),
        None,
        Some(&binding("other", "Node", "node-a")),
    )
    .await;
    assert_eq!(
        (code, body["message"].as_str()),
        (
            400,
            Some("name in URL does not match name in Binding object")
        ),
        "{body}"
    );

    let (code, body) = raw(
        &client,
        "POST",
        &url("p"),
        None,
        Some(&binding("p", "Pod", "node-a")),
    )
    .await;
    assert_eq!(
        (code, body["message"].as_str()),
        (
            500,
            Some(
                "target.kind: Unsupported value: \"Pod\": supported values: \"Node\", \"<empty>\""
            )
        ),
        "{body}"
    );

    let (code, body) = raw(&client, "GET", &url("p"), None, None).await;
    assert_eq!(code, 405, "only POST: {body}");
    server.shutdown().await;
}

#[tokio::test]
async fn discovery_lists_the_post_subresources() {
    let server = server(false).await;
    let client = client(&server);
    let (code, list) = raw(&client, "GET", "/api/v1", None, None).await;
    assert_eq!(code, 200);
    let find = |name: &str| {
        list["resources"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|r| r["name"] == name)
            .cloned()
            .unwrap_or(Value::Null)
    };
    let eviction = find("pods/eviction");
    assert_eq!(eviction["kind"], "Eviction", "{eviction}");
    assert_eq!(eviction["group"], "policy");
    assert_eq!(eviction["version"], "v1");
    assert_eq!(eviction["verbs"], json!(["create"]));
    let binding = find("pods/binding");
    assert_eq!(binding["kind"], "Binding", "{binding}");
    assert_eq!(binding["verbs"], json!(["create"]));
    assert!(binding.get("group").is_none(), "{binding}");

    let (code, doc) = raw(
        &client,
        "GET",
        "/api",
        Some("application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"),
        None,
    )
    .await;
    assert_eq!(code, 200);
    let pods = doc["items"][0]["versions"][0]["resources"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|r| r["resource"] == "pods")
        .cloned()
        .unwrap_or(Value::Null);
    let eviction = pods["subresources"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|s| s["subresource"] == "eviction")
        .cloned()
        .unwrap_or(Value::Null);
    assert_eq!(
        eviction["responseKind"],
        json!({"group": "policy", "version": "v1", "kind": "Eviction"})
    );
    assert_eq!(eviction["verbs"], json!(["create"]));
    server.shutdown().await;
}

#[tokio::test]
async fn eviction_without_a_budget_deletes_the_pod() {
    let server = server(true).await;
    let client = client(&server);
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    pods.create(&PostParams::default(), &pod("lone", json!({"app": "lone"})))
        .await
        .expect("create pod");
    wait_ready(&pods, "lone").await;
    let status = pods
        .evict("lone", &EvictParams::default())
        .await
        .expect("evicted");
    assert_eq!(
        status.status,
        Some(kube::core::response::StatusSummary::Success)
    );
    // Terminating with the DisruptionTarget condition, then gone (the simulated kubelet).
    if let Some(p) = pods.get_opt("lone").await.expect("get") {
        let target = p
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .and_then(|cs| cs.iter().find(|c| c.type_ == "DisruptionTarget").cloned())
            .expect("DisruptionTarget condition");
        assert_eq!(target.status, "True");
        assert_eq!(target.reason.as_deref(), Some("EvictionByEvictionAPI"));
        assert_eq!(target.message.as_deref(), Some("Eviction API: evicting"));
        assert!(p.metadata.deletion_timestamp.is_some());
    }
    gone(&pods, "lone").await;
    server.shutdown().await;
}

#[tokio::test]
async fn a_budget_allows_one_eviction_until_the_pods_recover() {
    let server = server(true).await;
    let client = client(&server);
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let pdbs: Api<PodDisruptionBudget> = Api::namespaced(client.clone(), "default");
    for name in ["w1", "w2", "w3"] {
        pods.create(&PostParams::default(), &pod(name, json!({"app": "web"})))
            .await
            .expect("create pod");
    }
    pdbs.create(
        &PostParams::default(),
        &budget(
            "web",
            json!({"minAvailable": 2, "selector": {"matchLabels": {"app": "web"}}}),
        ),
    )
    .await
    .expect("create pdb");
    let status = budget_status(
        &pdbs,
        "web",
        json!({"expectedPods": 3, "currentHealthy": 3, "desiredHealthy": 2,
            "disruptionsAllowed": 1, "observedGeneration": 1}),
    )
    .await;
    assert_eq!(status["conditions"][0]["type"], "DisruptionAllowed");
    assert_eq!(status["conditions"][0]["status"], "True");
    assert_eq!(status["conditions"][0]["reason"], "SufficientPods");

    // A dry run changes nothing.
    let dry = EvictParams {
        post_options: PostParams {
            dry_run: true,
            ..PostParams::default()
        },
        ..EvictParams::default()
    };
    pods.evict("w1", &dry).await.expect("dry-run eviction");
    let p = pods.get("w1").await.expect("pod");
    assert!(
        p.metadata.deletion_timestamp.is_none(),
        "dry run deletes nothing"
    );
    assert!(
        !p.status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .is_some_and(|cs| cs.iter().any(|c| c.type_ == "DisruptionTarget")),
        "dry run sets no condition"
    );
    let pdb = pdbs.get("web").await.expect("pdb");
    let st = pdb.status.expect("status");
    assert_eq!(st.disruptions_allowed, 1, "dry run decrements nothing");
    assert!(st.disrupted_pods.unwrap_or_default().is_empty());

    pods.evict("w1", &EvictParams::default())
        .await
        .expect("first eviction");
    budget_status(
        &pdbs,
        "web",
        json!({"currentHealthy": 2, "desiredHealthy": 2, "disruptionsAllowed": 0}),
    )
    .await;
    let refused = api_err(
        pods.evict("w2", &EvictParams::default()).await,
        429,
        "TooManyRequests",
    );
    assert_eq!(
        refused.message,
        "Cannot evict pod as it would violate the pod's disruption budget."
    );
    let (code, body) = raw(
        &client,
        "POST",
        &format!("{NS}/pods/w2/eviction"),
        None,
        Some(&json!({"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": "w2"}})),
    )
    .await;
    assert_eq!(code, 429, "{body}");
    assert_eq!(
        body["details"]["causes"],
        json!([{"reason": "DisruptionBudget",
            "message": "The disruption budget web needs 2 healthy pods and has 2 currently"}])
    );
    let pdb = pdbs.get("web").await.expect("pdb");
    let condition = pdb
        .status
        .and_then(|s| s.conditions)
        .and_then(|cs| cs.into_iter().find(|c| c.type_ == "DisruptionAllowed"))
        .expect("condition");
    assert_eq!(
        (condition.status.as_str(), condition.reason.as_str()),
        ("False", "InsufficientPods")
    );

    // A new pod recovers the budget: the next eviction goes through.
    pods.create(&PostParams::default(), &pod("w4", json!({"app": "web"})))
        .await
        .expect("create pod");
    eventually("the second eviction", || async {
        pods.evict("w2", &EvictParams::default()).await.ok()
    })
    .await;
    gone(&pods, "w2").await;
    server.shutdown().await;
}

#[tokio::test]
async fn two_budgets_are_refused_with_a_500() {
    let server = server(true).await;
    let client = client(&server);
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let pdbs: Api<PodDisruptionBudget> = Api::namespaced(client.clone(), "default");
    pods.create(&PostParams::default(), &pod("x", json!({"app": "x"})))
        .await
        .expect("create pod");
    for name in ["a", "b"] {
        pdbs.create(
            &PostParams::default(),
            &budget(
                name,
                json!({"maxUnavailable": 1, "selector": {"matchLabels": {"app": "x"}}}),
            ),
        )
        .await
        .expect("create pdb");
    }
    wait_ready(&pods, "x").await;
    let (code, body) = raw(
        &client,
        "POST",
        &format!("{NS}/pods/x/eviction"),
        None,
        Some(&json!({"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": "x"}})),
    )
    .await;
    assert_eq!(code, 500, "{body}");
    assert_eq!(body["status"], "Failure");
    assert_eq!(
        body["message"],
        "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support."
    );
    let err = pods.evict("x", &EvictParams::default()).await;
    assert!(
        matches!(err, Err(kube::Error::Api(ref s)) if s.code == 500),
        "{err:?}"
    );
    assert!(
        pods.get("x")
            .await
            .expect("pod")
            .metadata
            .deletion_timestamp
            .is_none()
    );
    server.shutdown().await;
}

#[tokio::test]
async fn a_terminating_pod_and_bad_bodies() {
    let server = server(true).await;
    let client = client(&server);
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let mut held = pod("held", json!({"app": "held"}));
    held.metadata.finalizers = Some(vec!["example.com/hold".into()]);
    pods.create(&PostParams::default(), &held)
        .await
        .expect("create pod");
    wait_ready(&pods, "held").await;
    let url = |name: &str| format!("{NS}/pods/{name}/eviction");
    let eviction = |name: &str| json!({"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": name}});

    // Bad bodies.
    let (code, body) = raw(
        &client,
        "POST",
        &url("held"),
        None,
        Some(&json!({"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": "held"}})),
    )
    .await;
    assert_eq!(
        (code, body["message"].as_str()),
        (
            400,
            Some("not a Eviction object: *policy.PodDisruptionBudget")
        ),
        "{body}"
    );
    let (code, body) = raw(
        &client,
        "POST",
        &url("held"),
        None,
        Some(&json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "held"}})),
    )
    .await;
    assert_eq!(
        (code, body["message"].as_str()),
        (
            400,
            Some(
                "the API version in the data (v1) does not match the expected API version (policy/v1)"
            )
        ),
        "{body}"
    );
    let (code, body) = raw(
        &client,
        "POST",
        &url("held"),
        None,
        Some(&eviction("other")),
    )
    .await;
    assert_eq!(
        (code, body["message"].as_str()),
        (
            400,
            Some("name in URL does not match name in Eviction object")
        ),
        "{body}"
    );
    let mut unknown = eviction("held");
    unknown["extra"] = json!(1);
    let (code, body) = raw(
        &client,
        "POST",
        &format!("{}?fieldValidation=Strict", url("held")),
        None,
        Some(&unknown),
    )
    .await;
    assert_eq!(
        (code, body["message"].as_str()),
        (400, Some("strict decoding error: unknown field \"extra\"")),
        "{body}"
    );
    let (code, body) = raw(&client, "POST", &url("nope"), None, Some(&eviction("nope"))).await;
    assert_eq!(
        (code, body["reason"].as_str(), body["message"].as_str()),
        (404, Some("NotFound"), Some("pods \"nope\" not found")),
        "{body}"
    );
    assert!(
        pods.get("held")
            .await
            .expect("pod")
            .metadata
            .deletion_timestamp
            .is_none(),
        "bad bodies evict nothing"
    );

    // Terminating (held by its finalizer): 200, left as it is.
    pods.delete("held", &DeleteParams::default())
        .await
        .expect("delete");
    eventually("held terminating", || async {
        pods.get("held")
            .await
            .ok()?
            .metadata
            .deletion_timestamp
            .map(|_| ())
    })
    .await;
    let (code, body) = raw(&client, "POST", &url("held"), None, Some(&eviction("held"))).await;
    assert_eq!(
        (code, body["status"].as_str()),
        (200, Some("Success")),
        "{body}"
    );
    // policy/v1beta1 is accepted too.
    let (code, body) = raw(
        &client,
        "POST",
        &url("held"),
        None,
        Some(&json!({"apiVersion": "policy/v1beta1", "kind": "Eviction", "metadata": {"name": "held"}})),
    )
    .await;
    assert_eq!(code, 200, "{body}");
    pods.patch(
        "held",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"finalizers": null}})),
    )
    .await
    .expect("release the finalizer");
    gone(&pods, "held").await;
    server.shutdown().await;
}

#[tokio::test]
async fn budget_status_follows_pods_and_scale() {
    let server = server(true).await;
    let client = client(&server);
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let pdbs: Api<PodDisruptionBudget> = Api::namespaced(client.clone(), "default");
    let deployment = json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web"}, "spec": {"replicas": 3,
        "selector": {"matchLabels": {"app": "web"}},
        "template": {"metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}});
    let (code, body) = raw(
        &client,
        "POST",
        "/apis/apps/v1/namespaces/default/deployments",
        None,
        Some(&deployment),
    )
    .await;
    assert_eq!(code, 201, "{body}");
    let selector = json!({"matchLabels": {"app": "web"}});
    for (name, spec) in [
        ("min-int", json!({"minAvailable": 2, "selector": selector})),
        (
            "min-pct",
            json!({"minAvailable": "50%", "selector": selector}),
        ),
        (
            "max-one",
            json!({"maxUnavailable": 1, "selector": selector}),
        ),
        (
            "max-pct",
            json!({"maxUnavailable": "50%", "selector": selector}),
        ),
        (
            "nothing",
            json!({"minAvailable": 1, "selector": {"matchLabels": {"app": "none"}}}),
        ),
    ] {
        pdbs.create(&PostParams::default(), &budget(name, spec))
            .await
            .expect("create pdb");
    }
    budget_status(
        &pdbs,
        "min-int",
        json!({"expectedPods": 3, "currentHealthy": 3, "desiredHealthy": 2, "disruptionsAllowed": 1}),
    )
    .await;
    budget_status(
        &pdbs,
        "min-pct",
        json!({"expectedPods": 3, "currentHealthy": 3, "desiredHealthy": 2, "disruptionsAllowed": 1}),
    )
    .await;
    budget_status(
        &pdbs,
        "max-one",
        json!({"expectedPods": 3, "currentHealthy": 3, "desiredHealthy": 2, "disruptionsAllowed": 1}),
    )
    .await;
    budget_status(
        &pdbs,
        "max-pct",
        json!({"expectedPods": 3, "currentHealthy": 3, "desiredHealthy": 1, "disruptionsAllowed": 2}),
    )
    .await;
    let none = budget_status(
        &pdbs,
        "nothing",
        json!({"expectedPods": 0, "currentHealthy": 0, "desiredHealthy": 1, "disruptionsAllowed": 0}),
    )
    .await;
    assert_eq!(none["conditions"][0]["reason"], "InsufficientPods");

    // Scaled to 5: the scale is the Deployment's, the count the pods'.
    let deployments: Api<k8s_openapi::api::apps::v1::Deployment> =
        Api::namespaced(client.clone(), "default");
    deployments
        .patch_scale(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"replicas": 5}})),
        )
        .await
        .expect("scale");
    budget_status(
        &pdbs,
        "max-one",
        json!({"expectedPods": 5, "currentHealthy": 5, "desiredHealthy": 4, "disruptionsAllowed": 1}),
    )
    .await;
    budget_status(
        &pdbs,
        "min-pct",
        json!({"expectedPods": 5, "currentHealthy": 5, "desiredHealthy": 3, "disruptionsAllowed": 2}),
    )
    .await;
    budget_status(
        &pdbs,
        "min-int",
        json!({"expectedPods": 5, "currentHealthy": 5, "desiredHealthy": 2, "disruptionsAllowed": 3}),
    )
    .await;

    // A pod being deleted is not healthy; its replacement is once Ready.
    let victim = pods
        .list(&kube::api::ListParams::default().labels("app=web"))
        .await
        .expect("list")
        .items
        .into_iter()
        .next()
        .and_then(|p| p.metadata.name)
        .expect("a pod");
    pods.delete(&victim, &DeleteParams::default())
        .await
        .expect("delete pod");
    gone(&pods, &victim).await;
    budget_status(
        &pdbs,
        "min-int",
        json!({"expectedPods": 5, "currentHealthy": 5, "desiredHealthy": 2, "disruptionsAllowed": 3}),
    )
    .await;

    // Generation: a spec change is observed.
    pdbs.patch(
        "min-int",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"minAvailable": 4}})),
    )
    .await
    .expect("patch pdb");
    budget_status(
        &pdbs,
        "min-int",
        json!({"observedGeneration": 2, "desiredHealthy": 4, "disruptionsAllowed": 1}),
    )
    .await;
    server.shutdown().await;
}

#[tokio::test]
async fn rbac_sees_the_subresource() {
    let server = server(false).await;
    let client = client(&server);
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    pods.create(&PostParams::default(), &pod("target", json!({})))
        .await
        .expect("create pod");
    let mut config = kube::Config::new(server.url().parse().expect("url"));
    config.auth_info.impersonate = Some("alice".into());
    config.default_retry = false;
    let alice: Api<Pod> =
        Api::namespaced(kube::Client::try_from(config).expect("client"), "default");
    let refused = api_err(
        alice.evict("target", &EvictParams::default()).await,
        403,
        "Forbidden",
    );
    assert_eq!(
        refused.message,
        "pods \"target\" is forbidden: User \"alice\" cannot create resource \"pods/eviction\" in API group \"\" in the namespace \"default\""
    );
    // A Role granting create on pods/eviction (and nothing on pods) lets her evict.
    for (path, body) in [
        (
            "/apis/rbac.authorization.k8s.io/v1/namespaces/default/roles",
            json!({"metadata": {"name": "evictor"}, "rules": [{"apiGroups": [""],
                "resources": ["pods/eviction"], "verbs": ["create"]}]}),
        ),
        (
            "/apis/rbac.authorization.k8s.io/v1/namespaces/default/rolebindings",
            json!({"metadata": {"name": "evictor"}, "roleRef": {"apiGroup": "rbac.authorization.k8s.io",
                "kind": "Role", "name": "evictor"},
                "subjects": [{"kind": "User", "name": "alice", "apiGroup": "rbac.authorization.k8s.io"}]}),
        ),
    ] {
        let (code, body) = raw(&client, "POST", path, None, Some(&body)).await;
        assert_eq!(code, 201, "{body}");
    }
    alice
        .evict("target", &EvictParams::default())
        .await
        .expect("evicted by alice");
    gone(&pods, "target").await;
    api_err(alice.get("target").await, 403, "Forbidden");
    server.shutdown().await;
}

#[tokio::test]
async fn a_budget_without_a_scale_to_count_fails_safe() {
    let server = server(false).await;
    let client = client(&server);
    let pdbs: Api<PodDisruptionBudget> = Api::namespaced(client.clone(), "default");
    // A pod whose controller (a ConfigMap) has no scale.
    let (code, cm) = raw(
        &client,
        "POST",
        &format!("{NS}/configmaps"),
        None,
        Some(&json!({"metadata": {"name": "owner"}})),
    )
    .await;
    assert_eq!(code, 201, "{cm}");
    let mut orphan = serde_json::to_value(pod("orphan", json!({"app": "orphan"}))).expect("pod");
    orphan["metadata"]["ownerReferences"] = json!([{"apiVersion": "v1", "kind": "ConfigMap",
        "name": "owner", "uid": cm["metadata"]["uid"], "controller": true}]);
    let (code, body) = raw(&client, "POST", &format!("{NS}/pods"), None, Some(&orphan)).await;
    assert_eq!(code, 201, "{body}");
    pdbs.create(
        &PostParams::default(),
        &budget(
            "orphan",
            json!({"maxUnavailable": 1, "selector": {"matchLabels": {"app": "orphan"}}}),
        ),
    )
    .await
    .expect("create pdb");
    let status = eventually("the budget's sync to fail", || async {
        let pdb = serde_json::to_value(pdbs.get("orphan").await.ok()?).ok()?;
        let condition = pdb["status"]["conditions"].get(0)?.clone();
        (condition["reason"] == "SyncFailed").then_some(pdb["status"].clone())
    })
    .await;
    assert_eq!(status["disruptionsAllowed"], 0);
    assert_eq!(status["conditions"][0]["type"], "DisruptionAllowed");
    assert_eq!(status["conditions"][0]["status"], "False");
    assert_eq!(
        status["conditions"][0]["message"],
        "found no controllers for pod \"orphan\""
    );
    server.shutdown().await;
}

/// A budget's spec is validated as kube-apiserver validates it.
#[tokio::test]
async fn budget_specs_answer_with_upstreams_messages() {
    let server = server(false).await;
    let budgets: Api<PodDisruptionBudget> = Api::namespaced(client(&server), "default");
    let create = |spec: Value| {
        let budgets = budgets.clone();
        async move {
            let pdb: PodDisruptionBudget =
                serde_json::from_value(json!({"metadata": {"name": "b"}, "spec": spec})).unwrap();
            budgets.create(&PostParams::default(), &pdb).await
        }
    };
    let causes = |s: kube::core::Status| -> Vec<String> {
        s.details
            .map(|d| {
                d.causes
                    .into_iter()
                    .map(|c| format!("{}: {}", c.field, c.message))
                    .collect()
            })
            .unwrap_or_default()
    };
    let s = api_err(
        create(json!({"minAvailable": 1, "maxUnavailable": "120%",
            "selector": {"matchExpressions": [{"key": "app", "operator": "Within"}]},
            "unhealthyPodEvictionPolicy": "Sometimes"}))
        .await,
        422,
        "Invalid",
    );
    let got = causes(s);
    assert_eq!(got.len(), 4, "{got:#?}");
    assert!(got[0].starts_with("spec: Invalid value: "), "{got:#?}");
    assert!(
        got[0].ends_with(": minAvailable and maxUnavailable cannot be both set"),
        "{got:#?}"
    );
    assert_eq!(
        got[1..],
        [
            "spec.maxUnavailable: Invalid value: \"120%\": must not be greater than 100%",
            "spec.selector.matchExpressions[0].operator: Invalid value: \"Within\": not a valid selector operator",
            "spec.unhealthyPodEvictionPolicy: Unsupported value: \"Sometimes\": supported values: \"AlwaysAllow\", \"IfHealthyBudget\"",
        ]
    );
    let s = api_err(create(json!({"minAvailable": -1})).await, 422, "Invalid");
    assert_eq!(
        causes(s),
        ["spec.minAvailable: Invalid value: -1: must be greater than or equal to 0"]
    );
    let s = api_err(
        create(json!({"maxUnavailable": "half"})).await,
        422,
        "Invalid",
    );
    assert_eq!(
        causes(s),
        [
            "spec.maxUnavailable: Invalid value: \"half\": a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')"
        ]
    );
    create(json!({"maxUnavailable": "50%", "selector": {"matchLabels": {"app": "web"}}}))
        .await
        .expect("a valid budget");
    server.shutdown().await;
}
