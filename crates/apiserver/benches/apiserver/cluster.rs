//! Whole-cluster scenarios of the `apiserver` bench: server-side apply against a plain update,
//! garbage collection, namespace deletion and a simulated rollout.
//!
//! Writes under test go over HTTP through kube-rs, as a controller or kubectl sends them; the
//! 10,000 objects the deletion scenarios start from are created in-process (as `populate` does);
//! completion is polled in-process every 25 ms (reads of the store, no HTTP), so a figure is the
//! time from the request until the poll first sees the end state (up to 25 ms late).

use super::*;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{DeleteParams, Patch, PatchParams};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// How often completion is polled.
const POLL: Duration = Duration::from_millis(25);
/// How many writers the apply/update comparison runs at once, each on its own object.
const WRITERS: usize = 16;

/// Creates namespace `name` over HTTP.
async fn create_namespace(client: &kube::Client, name: &str) -> Res<()> {
    let ns: Namespace = serde_json::from_value(json!({"metadata": {"name": name}}))?;
    Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &ns)
        .await?;
    Ok(())
}

/// Polls `done` every [`POLL`] until it holds, failing after `limit`; returns the time since
/// `started`.
async fn until<F, Fut>(started: Instant, limit: Duration, what: &str, mut done: F) -> Res<f64>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Res<bool>>,
{
    loop {
        if done().await? {
            return Ok(started.elapsed().as_secs_f64());
        }
        if started.elapsed() > limit {
            return Err(format!("{what} not done after {limit:?}").into());
        }
        tokio::time::sleep(POLL).await;
    }
}

/// The ConfigMap a writer wants at step `i`.
fn desired_config_map(name: &str, i: usize) -> ConfigMap {
    let mut cm = config_map(name);
    cm.metadata.namespace = Some("default".into());
    if let Some(data) = cm.data.as_mut() {
        data.insert("step".into(), i.to_string());
    }
    cm
}

/// The Deployment a writer wants at step `i` (a template annotation changes, as a rollout
/// restart does).
fn desired_deployment(name: &str, i: usize) -> Deployment {
    serde_json::from_value(json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": "default", "labels": {"app": name}},
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}, "annotations": {"step": i.to_string()}},
                "spec": {"containers": [{
                    "name": "app",
                    "image": "nginx:1.25",
                    "ports": [{"containerPort": 80}],
                    "env": [{"name": "MODE", "value": "fast"}],
                }]},
            },
        },
    }))
    .expect("a valid Deployment")
}

/// How one writer changes its object.
#[derive(Clone, Copy, PartialEq)]
enum Write {
    /// `Patch::Apply` of the whole desired object, forced, one field manager.
    Apply,
    /// GET once, then PUT the desired object with the last resourceVersion (optimistic).
    Update,
}

/// One run: [`WRITERS`] writers each change their own object `steps` times. Returns the
/// throughput (writes/s) and every write's latency.
async fn write_run<K>(
    url: &str,
    how: Write,
    steps: usize,
    run: usize,
    desired: fn(&str, usize) -> K,
) -> Res<(f64, Vec<Duration>)>
where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + std::fmt::Debug
        + Serialize
        + DeserializeOwned
        + Send
        + Sync
        + 'static,
    K::DynamicType: Default,
{
    let mut apis = Vec::new();
    for w in 0..WRITERS {
        let api: Api<K> = Api::namespaced(new_client(url)?, "default");
        let name = format!("w{}-{run}-{w}", if how == Write::Apply { "a" } else { "u" });
        let created = api
            .create(&PostParams::default(), &desired(&name, 0))
            .await?;
        apis.push((api, name, created));
    }
    let started = Instant::now();
    let mut tasks = Vec::new();
    for (api, name, created) in apis {
        tasks.push(tokio::spawn(async move {
            let params = PatchParams::apply("bench").force();
            let mut latest = created;
            let mut latencies = Vec::with_capacity(steps);
            for i in 1..=steps {
                let mut want = desired(&name, i);
                let t = Instant::now();
                match how {
                    Write::Apply => {
                        api.patch(&name, &params, &Patch::Apply(&want)).await?;
                    }
                    Write::Update => {
                        want.meta_mut().resource_version = latest.meta().resource_version.clone();
                        latest = api.replace(&name, &PostParams::default(), &want).await?;
                    }
                }
                latencies.push(t.elapsed());
            }
            Ok::<_, kube::Error>(latencies)
        }));
    }
    let mut latencies = Vec::new();
    for t in tasks {
        latencies.extend(t.await??);
    }
    let elapsed = started.elapsed().as_secs_f64();
    Ok((latencies.len() as f64 / elapsed, latencies))
}

/// Server-side apply against a plain update, on a ConfigMap and on a Deployment: throughput of
/// 16 writers and p99 latency per write.
pub(super) async fn scenario_apply() -> Res<Report> {
    let mut report = Report::new("apply");
    let runs = scale(5, 2);
    let steps = scale(125, 20);
    let server = start_server(None).await?;
    let url = server.url().to_string();
    for (kind, how) in [
        ("ConfigMap", Write::Update),
        ("ConfigMap", Write::Apply),
        ("Deployment", Write::Update),
        ("Deployment", Write::Apply),
    ] {
        let (mut throughput, mut p99) = (Vec::new(), Vec::new());
        for run in 0..runs {
            let (per_sec, mut latencies) = match kind {
                "ConfigMap" => write_run(&url, how, steps, run, desired_config_map).await?,
                _ => write_run(&url, how, steps, run, desired_deployment).await?,
            };
            throughput.push(per_sec);
            p99.push(quantile(&mut latencies, 0.99));
        }
        let verb = match how {
            Write::Apply => "server-side apply (force)",
            Write::Update => "update (PUT with resourceVersion)",
        };
        report.add(
            format!("{kind} {verb}, {WRITERS} writers: throughput"),
            Unit::PerSec,
            &throughput,
            Target::None,
        );
        report.add(
            format!("{kind} {verb}: p99 latency"),
            Unit::Ms,
            &p99,
            Target::AtMost(1.0),
        );
    }
    server.shutdown().await;
    Ok(report)
}

/// Garbage collection of one owner with 10,000 dependents: from the owner's DELETE
/// (background) until no dependent is left.
pub(super) async fn scenario_gc() -> Res<Report> {
    let mut report = Report::new("gc");
    let runs = scale(3, 2);
    let n = scale(10_000, 1_000);
    let server = start_server(None).await?;
    let client = new_client(server.url())?;
    let rest = server.rest().clone();
    let rt = rest
        .catalog
        .snapshot()
        .find("", "v1", "configmaps")
        .ok_or("configmaps are not served")?;
    let mut times = Vec::new();
    for run in 0..runs {
        let ns = format!("gc-{run}");
        create_namespace(&client, &ns).await?;
        let api: Api<ConfigMap> = Api::namespaced(client.clone(), &ns);
        let owner = api
            .create(&PostParams::default(), &config_map("owner"))
            .await?;
        let (uid, owner_ns) = (owner.metadata.uid.clone(), ns.clone());
        populate_with(&server, "configmaps", n, 64, move |i| {
            json!({
                "metadata": {"name": format!("dep-{i}"), "namespace": owner_ns, "ownerReferences": [{
                    "apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": uid}]},
                "data": {"owner": "bench"},
            })
        })
        .await?;
        // Let the collector take in the dependents before the owner goes.
        tokio::time::sleep(Duration::from_secs(1)).await;
        let started = Instant::now();
        api.delete("owner", &DeleteParams::background()).await?;
        let limit = Duration::from_secs(600);
        let elapsed = until(started, limit, "collecting the dependents", || async {
            let list = rest
                .list(&rt, Some(&ns), &Default::default())
                .await
                .map_err(|e| e.to_string())?;
            Ok(list.items.is_empty())
        })
        .await?;
        times.push(elapsed);
    }
    report.add(
        format!(
            "owner with {} dependents deleted (background) → none left",
            thousands(n as u64)
        ),
        Unit::Ms,
        &times,
        Target::None,
    );
    server.shutdown().await;
    Ok(report)
}

/// Deletion of a namespace holding 10,000 ConfigMaps: from the DELETE until the namespace is gone.
pub(super) async fn scenario_namespace() -> Res<Report> {
    let mut report = Report::new("namespace");
    let runs = scale(3, 2);
    let n = scale(10_000, 1_000);
    let server = start_server(None).await?;
    let client = new_client(server.url())?;
    let rest = server.rest().clone();
    let ns_rt = rest
        .catalog
        .snapshot()
        .find("", "v1", "namespaces")
        .ok_or("namespaces are not served")?;
    let mut times = Vec::new();
    for run in 0..runs {
        let ns = format!("doomed-{run}");
        create_namespace(&client, &ns).await?;
        let in_ns = ns.clone();
        populate_with(&server, "configmaps", n, 64, move |i| {
            let mut cm = config_map_json(&format!("cm-{i}"));
            cm["metadata"]["namespace"] = json!(in_ns);
            cm
        })
        .await?;
        let started = Instant::now();
        Api::<Namespace>::all(client.clone())
            .delete(&ns, &DeleteParams::default())
            .await?;
        let elapsed = until(
            started,
            Duration::from_secs(600),
            "deleting the namespace",
            || async { Ok(rest.get(&ns_rt, None, &ns).is_err()) },
        )
        .await?;
        times.push(elapsed);
    }
    report.add(
        format!(
            "namespace with {} ConfigMaps deleted → namespace gone",
            thousands(n as u64)
        ),
        Unit::Ms,
        &times,
        Target::None,
    );
    server.shutdown().await;
    Ok(report)
}

/// A simulated Deployment of 1,000 replicas: from the create until `availableReplicas` is 1,000
/// (a ReplicaSet, 1,000 Pods created, bound, marked Running and Ready, statuses rolled up).
pub(super) async fn scenario_rollout() -> Res<Report> {
    let mut report = Report::new("rollout");
    let runs = scale(3, 1);
    let replicas = scale(1_000, 100);
    let server = ApiServer::builder()
        .in_memory()
        .simulate_workloads(true)
        .start()
        .await?;
    let client = new_client(server.url())?;
    let rest = server.rest().clone();
    let rt = rest
        .catalog
        .snapshot()
        .find("apps", "v1", "deployments")
        .ok_or("deployments are not served")?;
    let mut times = Vec::new();
    for run in 0..runs {
        let ns = format!("rollout-{run}");
        create_namespace(&client, &ns).await?;
        let mut deployment = desired_deployment("web", 0);
        deployment.metadata.namespace = Some(ns.clone());
        if let Some(spec) = deployment.spec.as_mut() {
            spec.replicas = Some(replicas as i32);
        }
        let started = Instant::now();
        Api::<Deployment>::namespaced(client.clone(), &ns)
            .create(&PostParams::default(), &deployment)
            .await?;
        let elapsed = until(started, Duration::from_secs(600), "the rollout", || async {
            let d = rest
                .get_value(&rt, Some(&ns), "web")
                .map_err(|e| e.to_string())?;
            Ok(d.pointer("/status/availableReplicas")
                .and_then(serde_json::Value::as_u64)
                == Some(replicas as u64))
        })
        .await?;
        times.push(elapsed);
    }
    report.add(
        format!(
            "Deployment of {} replicas created → all available",
            thousands(replicas as u64)
        ),
        Unit::Ms,
        &times,
        Target::None,
    );
    server.shutdown().await;
    Ok(report)
}

/// A StatefulSet of 100 replicas (OrderedReady: each pod is created once the one before it is
/// Ready, as upstream orders them) created over HTTP, timed until all are Ready and the status
/// reports the revision rolled out: the statefulset controller's, scheduler's and simulated
/// kubelet's round trips, one pod at a time.
pub(super) async fn scenario_statefulset() -> Res<Report> {
    let mut report = Report::new("statefulset");
    let runs = scale(3, 1);
    let replicas = scale(100, 20);
    let server = ApiServer::builder()
        .in_memory()
        .simulate_workloads(true)
        .start()
        .await?;
    let client = new_client(server.url())?;
    let rest = server.rest().clone();
    let rt = rest
        .catalog
        .snapshot()
        .find("apps", "v1", "statefulsets")
        .ok_or("statefulsets are not served")?;
    let mut times = Vec::new();
    for run in 0..runs {
        let ns = format!("statefulset-{run}");
        create_namespace(&client, &ns).await?;
        let set: k8s_openapi::api::apps::v1::StatefulSet = serde_json::from_value(json!({
            "metadata": {"name": "db", "namespace": ns},
            "spec": {"replicas": replicas, "serviceName": "db",
                "selector": {"matchLabels": {"app": "db"}},
                "template": {"metadata": {"labels": {"app": "db"}},
                    "spec": {"containers": [{"name": "db", "image": "postgres:16"}]}}}
        }))?;
        let started = Instant::now();
        Api::<k8s_openapi::api::apps::v1::StatefulSet>::namespaced(client.clone(), &ns)
            .create(&PostParams::default(), &set)
            .await?;
        let elapsed = until(
            started,
            Duration::from_secs(600),
            "the statefulset",
            || async {
                let d = rest
                    .get_value(&rt, Some(&ns), "db")
                    .map_err(|e| e.to_string())?;
                let ready = d
                    .pointer("/status/readyReplicas")
                    .and_then(serde_json::Value::as_u64);
                let rolled = d.pointer("/status/currentRevision").is_some()
                    && d.pointer("/status/currentRevision") == d.pointer("/status/updateRevision");
                Ok(ready == Some(replicas as u64) && rolled)
            },
        )
        .await?;
        times.push(elapsed);
    }
    report.add(
        format!("StatefulSet of {replicas} replicas (OrderedReady) created → all Ready"),
        Unit::Ms,
        &times,
        Target::None,
    );
    server.shutdown().await;
    Ok(report)
}

/// 1,000 Jobs (one pod each, running the simulated 100 ms) created in-process at once, timed
/// until every one is Complete: the job controller's and the simulated kubelet's throughput.
pub(super) async fn scenario_jobs() -> Res<Report> {
    let mut report = Report::new("jobs");
    let runs = scale(3, 1);
    let count = scale(1_000, 100);
    let server = ApiServer::builder()
        .in_memory()
        .simulate_workloads(true)
        .start()
        .await?;
    let client = new_client(server.url())?;
    let rest = server.rest().clone();
    let jobs = rest
        .catalog
        .snapshot()
        .find("batch", "v1", "jobs")
        .ok_or("jobs are not served")?;
    let mut times = Vec::new();
    for run in 0..runs {
        let ns = format!("jobs-{run}");
        create_namespace(&client, &ns).await?;
        let started = Instant::now();
        let creates = (0..count).map(|i| {
            let (rest, jobs, ns) = (rest.clone(), jobs.clone(), ns.clone());
            async move {
                let job = json!({"apiVersion": "batch/v1", "kind": "Job",
                    "metadata": {"name": format!("job-{i}"), "namespace": ns},
                    "spec": {"template": {
                        "metadata": {"annotations": {"kubeforge.dev/simulate-duration": "100ms"}},
                        "spec": {"restartPolicy": "Never",
                            "containers": [{"name": "c", "image": "busybox"}]}}}});
                rest.create(&jobs, Some(&ns), job, &WriteOptions::default())
                    .await
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            }
        });
        for result in futures::future::join_all(creates).await {
            result?;
        }
        let elapsed = until(
            started,
            Duration::from_secs(600),
            "every job to complete",
            || async {
                let list = rest
                    .list(
                        &jobs,
                        Some(&ns),
                        &kubeforge_apiserver::rest::ListOptions::default(),
                    )
                    .await
                    .map_err(|e| e.to_string())?;
                let complete = list
                    .items
                    .iter()
                    .filter(|o| {
                        o.value()
                            .pointer("/status/completionTime")
                            .is_some_and(|t| !t.is_null())
                    })
                    .count();
                Ok(complete == count)
            },
        )
        .await?;
        times.push(elapsed);
    }
    report.add(
        format!("{} Jobs created → all Complete", thousands(count as u64)),
        Unit::Ms,
        &times,
        Target::None,
    );
    server.shutdown().await;
    Ok(report)
}
