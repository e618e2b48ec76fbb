//! The operators at scale against the embedded API server (not a timed test: it prints figures).
//!
//! ```text
//! cargo bench -p kubeforge-operators --bench operators            # every scenario
//! cargo bench -p kubeforge-operators --bench operators -- foo     # one by name
//! KUBEFORGE_BENCH_QUICK=1 cargo bench -p kubeforge-operators --bench operators   # smoke run
//! ```
//!
//! - `foo`: 1,000 Foos (replicas 1) created at once, no simulated workloads; time until every
//!   Foo has its Deployment and a status (the operator's own work), and the API requests the
//!   operator sent, by verb.
//! - `foo-workloads`: 1,000 Foos with simulated workloads; time until every Foo reports
//!   `availableReplicas: 1` (the server's workload simulation turns each Deployment into a ready
//!   Pod, so this is the whole loop: operator, Deployment, ReplicaSet, Pod, status back).
//! - `codis`: one rule distributing 1,000 ConfigMaps into 100 namespaces (100,000 copies); time
//!   until the rule reports them all, the operator's API requests, then the time for an update of
//!   one source to reach all 100 copies.
//! - `policies`: 10,000 pods in one namespace (half without probes, a third with an image naming
//!   no registry, a fifth without resources), then 3 HealthCheckPolicies, 3
//!   ContainerImagePolicies and 3 ResourcesPolicies (each labelling its own key) created at once;
//!   time until every policy's status counts every pod and every failing pod carries each
//!   policy's label, and the operators' API requests (one PATCH per pod and policy it fails, one
//!   Warning event each).
//!
//! The server, the operators and the load generator share one process (and the machine's two
//! cores); the operators' client counts every request it sends through a tower layer.

#![allow(clippy::disallowed_names)]

/// The allocator the `kubeforge` binary uses, so the figures are those of `kubeforge up`.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use futures::StreamExt;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use kube::api::{Api, ApiResource, DynamicObject, ListParams, Patch, PatchParams, PostParams};
use kube::{Client, ResourceExt};
use kubeforge_apiserver::ApiServer;
use kubeforge_operators::codis::{ConfigurationDistributionRule, Mode, RuleSpec};
use kubeforge_operators::foo::{Foo, FooSpec};
use kubeforge_operators::policy::{ContainerImagePolicy, HealthCheckPolicy, ResourcesPolicy};
use kubeforge_operators::runner::{Operators, RunOptions};
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

type Counts = Arc<Mutex<BTreeMap<String, u64>>>;

/// A client for `server` that counts its requests by verb (`GET`, `LIST`, `WATCH`), writes by
/// verb and resource (`PATCH pods`, `PATCH healthcheckpolicies/status`, `POST events`...).
fn counting_client(server: &ApiServer) -> (Client, Counts) {
    let counts: Counts = Arc::default();
    let layer = tower::ServiceBuilder::new().map_request({
        let counts = counts.clone();
        move |req: http::Request<kube::client::Body>| {
            let query = req.uri().query().unwrap_or_default();
            let verb = match req.method().as_str() {
                "GET" if query.contains("watch=true") => "WATCH".to_string(),
                "GET"
                    if req.uri().path().rsplit('/').next().is_some_and(|last| {
                        [
                            "configmaps",
                            "secrets",
                            "namespaces",
                            "deployments",
                            "foos",
                            "configurationdistributionrules",
                            "pods",
                            "healthcheckpolicies",
                            "containerimagepolicies",
                            "resourcespolicies",
                        ]
                        .contains(&last)
                    }) =>
                {
                    "LIST".to_string()
                }
                // Writes by what they write: `PATCH pods`, `PATCH healthcheckpolicies/status`...
                "PATCH" | "PUT" | "POST" | "DELETE" => {
                    let segments: Vec<&str> = req.uri().path().split('/').collect();
                    let resource = segments
                        .iter()
                        .position(|s| *s == "namespaces")
                        .and_then(|at| segments.get(at + 2))
                        .copied()
                        .unwrap_or("?");
                    let sub = if segments.last() == Some(&"status") {
                        "/status"
                    } else {
                        ""
                    };
                    format!("{} {resource}{sub}", req.method())
                }
                other => other.to_string(),
            };
            *counts.lock().unwrap().entry(verb).or_default() += 1;
            req
        }
    });
    let config = kube::Config::new(server.url().parse().expect("server url"));
    let client = kube::client::ClientBuilder::try_from(config)
        .expect("client")
        .with_layer(&layer)
        .build();
    (client, counts)
}

fn describe(counts: &Counts) -> (u64, String) {
    let counts = counts.lock().unwrap();
    let total = counts.values().sum();
    let by_verb = counts
        .iter()
        .map(|(verb, n)| format!("{verb} {n}"))
        .collect::<Vec<_>>()
        .join(", ");
    (total, by_verb)
}

/// Starts all operators on a counting client; returns the stop switch and the run.
fn start_operators(
    server: &ApiServer,
) -> (Counts, oneshot::Sender<()>, tokio::task::JoinHandle<()>) {
    let (client, counts) = counting_client(server);
    let operators = kubeforge_operators::select("all").expect("operators");
    let running = Operators::new(client, &operators, RunOptions::default()).expect("operators");
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        running
            .run(async {
                let _ = stopped.await;
            })
            .await
            .expect("operators ran");
    });
    (counts, stop, task)
}

async fn server(simulate_workloads: bool) -> ApiServer {
    let server = ApiServer::builder()
        .in_memory()
        .simulate_workloads(simulate_workloads)
        .history(200_000)
        .start()
        .await
        .expect("server");
    let operators = kubeforge_operators::select("all").expect("operators");
    kubeforge_operators::install::install_crds(
        &server.client(),
        &operators,
        Duration::from_secs(30),
    )
    .await
    .expect("CRDs");
    server
}

async fn poll_until(what: &str, limit: Duration, done: impl AsyncFnMut() -> bool) {
    poll_every(Duration::from_millis(20), what, limit, done).await
}

/// [`poll_until`], checking every `every` (for checks that cost the server a large list).
async fn poll_every(
    every: Duration,
    what: &str,
    limit: Duration,
    mut done: impl AsyncFnMut() -> bool,
) {
    let deadline = Instant::now() + limit;
    while !done().await {
        assert!(
            Instant::now() < deadline,
            "{what} did not happen within {limit:?}"
        );
        tokio::time::sleep(every).await;
    }
}

/// `n` Foos until converged: with simulated workloads, every Foo reports one available replica;
/// without, every Foo has its Deployment and a status (the operator's own work).
async fn foo_run(n: usize, simulate_workloads: bool) -> (Duration, u64, String) {
    let server = server(simulate_workloads).await;
    let want = i32::from(simulate_workloads);
    let (counts, stop, task) = start_operators(&server);
    let foos: Api<Foo> = Api::namespaced(server.client(), "default");
    let started = Instant::now();
    futures::stream::iter(0..n)
        .for_each_concurrent(32, |i| {
            let foos = foos.clone();
            async move {
                let foo = Foo::new(
                    &format!("foo-{i}"),
                    FooSpec {
                        deployment_name: format!("foo-{i}"),
                        replicas: Some(1),
                    },
                );
                foos.create(&PostParams::default(), &foo)
                    .await
                    .expect("create foo");
            }
        })
        .await;
    let deployments: Api<k8s_openapi::api::apps::v1::Deployment> =
        Api::namespaced(server.client(), "default");
    let mut last_report = Instant::now();
    poll_until("all Foos available", Duration::from_secs(600), async || {
        let list = foos.list(&ListParams::default()).await.expect("list");
        let available = list
            .items
            .iter()
            .filter(|f| {
                f.status
                    .as_ref()
                    .is_some_and(|s| s.available_replicas == want)
            })
            .count();
        if last_report.elapsed() > Duration::from_secs(10) {
            last_report = Instant::now();
            let ready = deployments
                .list(&ListParams::default())
                .await
                .expect("list")
                .items
                .iter()
                .filter(|d| d.status.as_ref().and_then(|s| s.available_replicas) == Some(1))
                .count();
            eprintln!(
                "  after {:.0} s: {available}/{n} Foos converged, {ready} Deployments available",
                started.elapsed().as_secs_f64()
            );
        }
        if available < n {
            return false;
        }
        // Without workloads, status 0 is also the default: check every Deployment exists.
        simulate_workloads
            || deployments
                .list(&ListParams::default())
                .await
                .expect("list")
                .items
                .len()
                == n
    })
    .await;
    let took = started.elapsed();
    let (total, by_verb) = describe(&counts);
    let _ = stop.send(());
    task.await.expect("operators stopped");
    server.shutdown().await;
    (took, total, by_verb)
}

async fn codis_run(sources: usize, targets: usize) -> (Duration, u64, String, Duration) {
    let server = server(false).await;
    let client = server.client();
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let pp = PostParams::default();
    for i in 0..=targets {
        let name = if i == 0 {
            "source".to_string()
        } else {
            format!("target-{i}")
        };
        let ns: Namespace = serde_json::from_value(json!({"metadata": {"name": name}})).unwrap();
        namespaces.create(&pp, &ns).await.expect("namespace");
    }
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "source");
    futures::stream::iter(0..sources)
        .for_each_concurrent(32, |i| {
            let cms = cms.clone();
            async move {
                let cm: ConfigMap = serde_json::from_value(json!({
                    "metadata": {"name": format!("cm-{i}"), "labels": {"rule": "bench"}},
                    "data": {"key": format!("value-{i}"), "payload": "x".repeat(200)}
                }))
                .unwrap();
                cms.create(&PostParams::default(), &cm)
                    .await
                    .expect("source");
            }
        })
        .await;
    let (counts, stop, task) = start_operators(&server);
    let rules: Api<ConfigurationDistributionRule> = Api::namespaced(client.clone(), "source");
    let rule = ConfigurationDistributionRule::new(
        "bench",
        RuleSpec {
            mode: Mode::Configmap,
            selector: "bench".into(),
            namespaces: (1..=targets).map(|i| format!("target-{i}")).collect(),
        },
    );
    let started = Instant::now();
    rules.create(&pp, &rule).await.expect("rule");
    let want = (sources * targets) as i32;
    poll_until(
        "every copy distributed",
        Duration::from_secs(1800),
        async || {
            let rule = rules.get("bench").await.expect("rule");
            rule.status
                .is_some_and(|s| s.distributed == want && s.problems.is_empty())
        },
    )
    .await;
    let converged = started.elapsed();
    let (total, by_verb) = describe(&counts);

    let every: Api<ConfigMap> = Api::all(client.clone());
    let one = ListParams::default().fields("metadata.name=cm-0");
    let patch = json!({"data": {"key": "updated"}});
    let updated = Instant::now();
    cms.patch("cm-0", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .expect("update");
    poll_until(
        "the update in every copy",
        Duration::from_secs(300),
        async || {
            let copies = every.list(&one).await.expect("list");
            copies.items.len() == targets + 1
                && copies.items.iter().all(|c| {
                    c.data
                        .as_ref()
                        .and_then(|d| d.get("key"))
                        .map(String::as_str)
                        == Some("updated")
                        || c.namespace().as_deref() == Some("source")
                })
        },
    )
    .await;
    let propagated = updated.elapsed();
    let _ = stop.send(());
    task.await.expect("operators stopped");
    server.shutdown().await;
    (converged, total, by_verb, propagated)
}

/// The API resource of policy kind `kind`.
fn policy_resource(kind: &str) -> ApiResource {
    match kind {
        "HealthCheckPolicy" => ApiResource::erase::<HealthCheckPolicy>(&()),
        "ContainerImagePolicy" => ApiResource::erase::<ContainerImagePolicy>(&()),
        _ => ApiResource::erase::<ResourcesPolicy>(&()),
    }
}

/// The policies of the `policies` scenario: (kind, name, spec, label, pods failing it).
fn bench_policies(pods: usize) -> Vec<(&'static str, String, serde_json::Value, String, usize)> {
    let failing = |every: usize| pods.div_ceil(every);
    let mut policies = Vec::new();
    for i in 0..3 {
        let label = format!("hc-{i}");
        policies.push((
            "HealthCheckPolicy",
            format!("hc-{i}"),
            json!({"podLabel": label}),
            label,
            failing(2),
        ));
        let label = format!("image-{i}");
        policies.push((
            "ContainerImagePolicy",
            format!("image-{i}"),
            json!({"require": {"explicitRegistry": true}, "labels": {"pods": label}}),
            label,
            failing(3),
        ));
        let label = format!("resources-{i}");
        policies.push((
            "ResourcesPolicy",
            format!("resources-{i}"),
            json!({"require": {"limits": true, "requests": true, "requestsLowerThanLimits": true}, "labels": {"pods": label}}),
            label,
            failing(5),
        ));
    }
    policies
}

/// Pod `i` of the `policies` scenario: no probes when `i` is even, an image naming no registry
/// when `i` is a multiple of 3, no resources when `i` is a multiple of 5.
fn bench_pod(i: usize) -> serde_json::Value {
    let mut container = json!({
        "name": "web",
        "image": if i.is_multiple_of(3) { "nginx:1.27" } else { "docker.io/library/nginx:1.27" },
    });
    if !i.is_multiple_of(2) {
        container["livenessProbe"] = json!({"httpGet": {"path": "/", "port": 80}});
        container["readinessProbe"] = json!({"httpGet": {"path": "/", "port": 80}});
    }
    if !i.is_multiple_of(5) {
        container["resources"] = json!({
            "requests": {"cpu": "100m", "memory": "64Mi"},
            "limits": {"cpu": "1", "memory": "128Mi"}
        });
    }
    json!({
        "metadata": {"name": format!("pod-{i}"), "labels": {"app": "bench"}},
        "spec": {"containers": [container]}
    })
}

async fn policies_run(pods: usize) -> (Duration, u64, String) {
    let server = server(false).await;
    let client = server.client();
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let ns: Namespace = serde_json::from_value(json!({"metadata": {"name": "bench"}})).unwrap();
    namespaces
        .create(&PostParams::default(), &ns)
        .await
        .expect("namespace");
    let pod_api: Api<k8s_openapi::api::core::v1::Pod> = Api::namespaced(client.clone(), "bench");
    futures::stream::iter(0..pods)
        .for_each_concurrent(32, |i| {
            let pod_api = pod_api.clone();
            async move {
                let pod = serde_json::from_value(bench_pod(i)).unwrap();
                pod_api
                    .create(&PostParams::default(), &pod)
                    .await
                    .expect("pod");
            }
        })
        .await;
    let (counts, stop, task) = start_operators(&server);
    // Let the operators' caches fill before the clock starts.
    poll_until("caches synced", Duration::from_secs(120), async || {
        describe(&counts).1.contains("WATCH")
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let policies = bench_policies(pods);
    counts.lock().unwrap().clear();
    let started = Instant::now();
    for (kind, name, spec, _, _) in &policies {
        let body = json!({
            "apiVersion": "policy.k8s-go.openshift.org/v1alpha1",
            "kind": kind,
            "metadata": {"name": name},
            "spec": spec,
        });
        Api::<DynamicObject>::namespaced_with(client.clone(), "bench", &policy_resource(kind))
            .create(
                &PostParams::default(),
                &serde_json::from_value(body).unwrap(),
            )
            .await
            .expect("policy");
    }
    let status_of = async |kind: &str, name: &str| -> Option<(i64, i64)> {
        let policy =
            Api::<DynamicObject>::namespaced_with(client.clone(), "bench", &policy_resource(kind))
                .get(name)
                .await
                .expect("get");
        let pods = &policy.data["status"]["statistics"]["pods"];
        Some((pods["failed"].as_i64()?, pods["passed"].as_i64()?))
    };
    // Every 100 ms: the statuses (nine GETs), then, once they are complete, the labels (one
    // metadata list of the namespace, counted here: the checker's own load stays small).
    poll_every(
        Duration::from_millis(100),
        "every status complete and every pod labelled",
        Duration::from_secs(600),
        async || {
            for (kind, name, _, _, failing) in &policies {
                let want = (*failing as i64, (pods - failing) as i64);
                if status_of(kind, name).await != Some(want) {
                    return false;
                }
            }
            let listed = pod_api
                .list_metadata(&ListParams::default())
                .await
                .expect("list");
            policies.iter().all(|(_, _, _, label, failing)| {
                let labelled = listed
                    .items
                    .iter()
                    .filter(|pod| {
                        pod.metadata
                            .labels
                            .as_ref()
                            .and_then(|l| l.get(label))
                            .is_some_and(|v| v == "true")
                    })
                    .count();
                labelled == *failing
            })
        },
    )
    .await;
    let took = started.elapsed();
    let (total, by_verb) = describe(&counts);
    let _ = stop.send(());
    task.await.expect("operators stopped");
    server.shutdown().await;
    (took, total, by_verb)
}

fn median(mut values: Vec<Duration>) -> Duration {
    values.sort();
    values[values.len() / 2]
}

fn main() {
    let quick = std::env::var("KUBEFORGE_BENCH_QUICK").is_ok();
    let filter: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let wanted = |name: &str| filter.is_empty() || filter.iter().any(|f| f == name);
    let runs = if quick { 1 } else { 3 };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        for (name, simulate) in [("foo", false), ("foo-workloads", true)] {
            if !wanted(name) {
                continue;
            }
            let default = match (quick, simulate) {
                (true, _) => 50,
                (false, _) => 1_000,
            };
            let n = std::env::var("KUBEFORGE_BENCH_FOOS")
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(default);
            let mut times = Vec::new();
            for run in 0..runs {
                let (took, total, by_verb) = foo_run(n, simulate).await;
                println!(
                    "{name} run {run}: {n} Foos converged in {:.2} s; operator requests {total} ({by_verb})",
                    took.as_secs_f64()
                );
                times.push(took);
            }
            println!("{name}: median {:.2} s for {n} Foos", median(times).as_secs_f64());
        }
        if wanted("policies") {
            let pods = if quick { 500 } else { 10_000 };
            let writes: usize = bench_policies(pods).iter().map(|p| p.4).sum();
            let mut times = Vec::new();
            for run in 0..runs {
                let (took, total, by_verb) = policies_run(pods).await;
                println!(
                    "policies run {run}: 9 policies over {pods} pods complete in {:.2} s; {writes} pod labels wanted; operator requests after the policies were created {total} ({by_verb})",
                    took.as_secs_f64()
                );
                times.push(took);
            }
            println!(
                "policies: median {:.2} s for 9 policies over {pods} pods",
                median(times).as_secs_f64()
            );
        }
        if wanted("codis") {
            let (sources, targets) = if quick { (20, 5) } else { (1_000, 100) };
            let mut times = Vec::new();
            let mut updates = Vec::new();
            for run in 0..runs {
                let (took, total, by_verb, update) = codis_run(sources, targets).await;
                println!(
                    "codis run {run}: {} copies in {:.2} s; operator requests {total} ({by_verb}); one source update in all {targets} copies after {:.0} ms",
                    sources * targets,
                    took.as_secs_f64(),
                    update.as_secs_f64() * 1000.0
                );
                times.push(took);
                updates.push(update);
            }
            println!(
                "codis: median {:.2} s to distribute {} copies; median {:.0} ms for one update to reach {targets} copies",
                median(times).as_secs_f64(),
                sources * targets,
                median(updates).as_secs_f64() * 1000.0
            );
        }
    });
}
