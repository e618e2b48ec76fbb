//! Informer memory and initial sync, side by side with kube-rs's `reflector::Store` in the same
//! run (not a timed test: nothing here passes or fails, it prints a table).
//!
//! ```text
//! cargo bench -p kubeforge-runtime --bench informer_memory               # both scenarios
//! cargo bench -p kubeforge-runtime --bench informer_memory -- memory     # one by name
//! KUBEFORGE_BENCH_QUICK=1 cargo bench -p kubeforge-runtime --bench informer_memory   # smoke run
//! ```
//!
//! - `memory`: bytes held per cached object, ConfigMaps and Pods, at 10,000 and 100,000 objects.
//!   Both caches are fed the same generated watcher events (`Init`, one `InitApply` per object,
//!   `InitDone`) through their own stream entry points: `Informer::from_stream` and kube-rs's
//!   `reflector(writer, stream)`. Each object is decoded from JSON as a client decodes it from the
//!   wire. Memory is counted exactly by a counting global allocator (bytes requested and live
//!   allocations, before and after; malloc's own per-allocation overhead is not included). Two
//!   baselines hold the same objects in `Arc<K>`s and nothing else: as decoded, and cloned once
//!   after decoding (a clone drops the spare capacity decoding leaves in `Vec`s and maps; both
//!   caches store such a clone). "Over the cloned objects" is what a cache adds on top.
//! - `sync`: time from start to synced for 100,000 ConfigMaps listed from the embedded API server
//!   over HTTP (pages of 500, kube-rs's default), for an `Informer` and for kube-rs's
//!   `reflector` + `watcher`, alternating, three runs each; the server runs in the same process.
//!   The objects are created in-process through `Rest::create` (the path a POST takes after
//!   decoding), because creating them over HTTP would only make the run longer.

#[path = "support/mod.rs"]
mod support;

use futures::{Stream, StreamExt, stream};
use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use kube::Api;
use kube::runtime::{reflector, watcher};
use kubeforge_apiserver::ApiServer;
use kubeforge_runtime::cache::Informer;
use serde::de::DeserializeOwned;
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::Arc;
use std::sync::atomic::{AtomicIsize, Ordering};
use std::time::{Duration, Instant};

// ---------------------------------------------------------------------------------------------
// Counting allocator

struct Counting;

static LIVE_BYTES: AtomicIsize = AtomicIsize::new(0);
static LIVE_ALLOCS: AtomicIsize = AtomicIsize::new(0);

// SAFETY: every call is forwarded to the system allocator unchanged; the counters only observe.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            LIVE_BYTES.fetch_add(layout.size() as isize, Ordering::Relaxed);
            LIVE_ALLOCS.fetch_add(1, Ordering::Relaxed);
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            LIVE_BYTES.fetch_add(layout.size() as isize, Ordering::Relaxed);
            LIVE_ALLOCS.fetch_add(1, Ordering::Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        LIVE_BYTES.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        LIVE_ALLOCS.fetch_sub(1, Ordering::Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            LIVE_BYTES.fetch_add(
                new_size as isize - layout.size() as isize,
                Ordering::Relaxed,
            );
        }
        p
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// (live bytes, live allocations).
fn live() -> (isize, isize) {
    (
        LIVE_BYTES.load(Ordering::SeqCst),
        LIVE_ALLOCS.load(Ordering::SeqCst),
    )
}

// ---------------------------------------------------------------------------------------------
// Objects

fn quick() -> bool {
    std::env::var_os("KUBEFORGE_BENCH_QUICK").is_some_and(|v| v != "0")
}

/// A ConfigMap as the embedded server serves one (server-set metadata and managedFields included).
const CONFIG_MAP: &str = r#"{
  "apiVersion": "v1", "kind": "ConfigMap",
  "metadata": {
    "name": "settings-@I@", "namespace": "default", "uid": "@UID@", "resourceVersion": "@RV@",
    "creationTimestamp": "2025-01-01T00:00:00Z", "labels": {"app": "bench"},
    "managedFields": [{"manager": "bench", "operation": "Update", "apiVersion": "v1",
      "time": "2025-01-01T00:00:00Z", "fieldsType": "FieldsV1",
      "fieldsV1": {"f:data": {".": {}, "f:app.properties": {}, "f:owner": {}},
                   "f:metadata": {"f:labels": {".": {}, "f:app": {}}}}}]
  },
  "data": {"app.properties": "replicas=3\nmode=fast\n", "owner": "bench"}
}"#;

/// A running Pod of a Deployment, as `kubectl get pod -o json` shows one on a real cluster:
/// one container, a projected service-account volume, status from the kubelet, managedFields
/// from kube-controller-manager and the kubelet.
const POD: &str = r#"{
  "apiVersion": "v1", "kind": "Pod",
  "metadata": {
    "name": "web-7c5ddbdf54-@I@", "generateName": "web-7c5ddbdf54-", "namespace": "default",
    "uid": "@UID@", "resourceVersion": "@RV@", "creationTimestamp": "2025-01-01T00:00:00Z",
    "labels": {"app": "web", "pod-template-hash": "7c5ddbdf54"},
    "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-7c5ddbdf54",
      "uid": "0b8a3f8e-1d3c-4c47-9a51-3b3f8b7c2a10", "controller": true, "blockOwnerDeletion": true}],
    "managedFields": [
      {"manager": "kube-controller-manager", "operation": "Update", "apiVersion": "v1",
       "time": "2025-01-01T00:00:00Z", "fieldsType": "FieldsV1",
       "fieldsV1": {"f:metadata": {"f:generateName": {}, "f:labels": {".": {}, "f:app": {}, "f:pod-template-hash": {}},
         "f:ownerReferences": {".": {}, "k:{\"uid\":\"0b8a3f8e-1d3c-4c47-9a51-3b3f8b7c2a10\"}": {}}},
         "f:spec": {"f:containers": {"k:{\"name\":\"web\"}": {".": {}, "f:image": {}, "f:imagePullPolicy": {},
           "f:name": {}, "f:ports": {".": {}, "k:{\"containerPort\":80,\"protocol\":\"TCP\"}": {".": {}, "f:containerPort": {}, "f:protocol": {}}},
           "f:resources": {".": {}, "f:limits": {".": {}, "f:memory": {}}, "f:requests": {".": {}, "f:cpu": {}, "f:memory": {}}},
           "f:terminationMessagePath": {}, "f:terminationMessagePolicy": {}}},
           "f:dnsPolicy": {}, "f:enableServiceLinks": {}, "f:restartPolicy": {}, "f:schedulerName": {},
           "f:securityContext": {}, "f:terminationGracePeriodSeconds": {}}}},
      {"manager": "kubelet", "operation": "Update", "apiVersion": "v1", "time": "2025-01-01T00:00:05Z",
       "fieldsType": "FieldsV1", "subresource": "status",
       "fieldsV1": {"f:status": {"f:conditions": {"k:{\"type\":\"ContainersReady\"}": {".": {}, "f:lastProbeTime": {}, "f:lastTransitionTime": {}, "f:status": {}, "f:type": {}},
         "k:{\"type\":\"Initialized\"}": {".": {}, "f:lastProbeTime": {}, "f:lastTransitionTime": {}, "f:status": {}, "f:type": {}},
         "k:{\"type\":\"Ready\"}": {".": {}, "f:lastProbeTime": {}, "f:lastTransitionTime": {}, "f:status": {}, "f:type": {}}},
         "f:containerStatuses": {}, "f:hostIP": {}, "f:hostIPs": {}, "f:phase": {}, "f:podIP": {},
         "f:podIPs": {".": {}, "k:{\"ip\":\"10.244.1.17\"}": {".": {}, "f:ip": {}}}, "f:startTime": {}}}}
    ]
  },
  "spec": {
    "containers": [{
      "name": "web", "image": "nginx:1.27", "imagePullPolicy": "IfNotPresent",
      "ports": [{"containerPort": 80, "protocol": "TCP"}],
      "env": [{"name": "MODE", "value": "production"},
              {"name": "POD_NAME", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.name"}}}],
      "resources": {"limits": {"memory": "128Mi"}, "requests": {"cpu": "100m", "memory": "64Mi"}},
      "volumeMounts": [{"name": "kube-api-access-x7k2p", "readOnly": true,
                        "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount"}],
      "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File"
    }],
    "volumes": [{"name": "kube-api-access-x7k2p", "projected": {"defaultMode": 420, "sources": [
      {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
      {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
      {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}}]}}],
    "restartPolicy": "Always", "terminationGracePeriodSeconds": 30, "dnsPolicy": "ClusterFirst",
    "serviceAccountName": "default", "serviceAccount": "default", "nodeName": "node-3",
    "securityContext": {}, "schedulerName": "default-scheduler",
    "tolerations": [
      {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
      {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}],
    "priority": 0, "enableServiceLinks": true, "preemptionPolicy": "PreemptLowerPriority"
  },
  "status": {
    "phase": "Running",
    "conditions": [
      {"type": "PodReadyToStartContainers", "status": "True", "lastProbeTime": null, "lastTransitionTime": "2025-01-01T00:00:03Z"},
      {"type": "Initialized", "status": "True", "lastProbeTime": null, "lastTransitionTime": "2025-01-01T00:00:00Z"},
      {"type": "Ready", "status": "True", "lastProbeTime": null, "lastTransitionTime": "2025-01-01T00:00:05Z"},
      {"type": "ContainersReady", "status": "True", "lastProbeTime": null, "lastTransitionTime": "2025-01-01T00:00:05Z"},
      {"type": "PodScheduled", "status": "True", "lastProbeTime": null, "lastTransitionTime": "2025-01-01T00:00:00Z"}],
    "hostIP": "172.18.0.4", "hostIPs": [{"ip": "172.18.0.4"}],
    "podIP": "10.244.1.17", "podIPs": [{"ip": "10.244.1.17"}],
    "startTime": "2025-01-01T00:00:00Z",
    "containerStatuses": [{"name": "web", "state": {"running": {"startedAt": "2025-01-01T00:00:04Z"}},
      "lastState": {}, "ready": true, "restartCount": 0, "image": "docker.io/library/nginx:1.27",
      "imageID": "docker.io/library/nginx@sha256:0a399eb16751829e1af26fea27b20c3ec28d7ab1fb72182879dcae1cca21206a",
      "containerID": "containerd://4f0d7a8c4e0b5d3c2a1f9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d9c8b", "started": true,
      "volumeMounts": [{"name": "kube-api-access-x7k2p", "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount",
                        "readOnly": true, "recursiveReadOnly": "Disabled"}]}],
    "qosClass": "Burstable"
  }
}"#;

/// Object `i` from `template`, decoded as a client decodes it from the wire.
fn object<K: DeserializeOwned>(template: &str, i: usize) -> K {
    let json = template
        .replace("@I@", &format!("{i:06}"))
        .replace("@UID@", &format!("{i:08x}-5c1e-4a7b-9d2f-{i:012x}"))
        .replace("@RV@", &(1000 + i).to_string());
    serde_json::from_str(&json).expect("template decodes")
}

/// `Init`, one `InitApply` per object (decoded as it is consumed), `InitDone`.
fn events<K: DeserializeOwned + Send + 'static>(
    template: &'static str,
    n: usize,
) -> impl Stream<Item = watcher::Result<watcher::Event<K>>> + Send + 'static {
    let objects = (0..n).map(move |i| watcher::Event::InitApply(object::<K>(template, i)));
    stream::iter(
        std::iter::once(watcher::Event::Init)
            .chain(objects)
            .chain(std::iter::once(watcher::Event::InitDone))
            .map(Ok),
    )
}

// ---------------------------------------------------------------------------------------------
// Scenarios

struct Held {
    bytes: isize,
    allocs: isize,
}

impl Held {
    fn since(before: (isize, isize)) -> Held {
        let (b, a) = live();
        Held {
            bytes: b - before.0,
            allocs: a - before.1,
        }
    }
}

async fn kubeforge_informer<K>(template: &'static str, n: usize) -> Held
where
    K: kube::Resource + Clone + DeserializeOwned + Send + Sync + 'static,
{
    let before = live();
    let informer = Informer::from_stream(events::<K>(template, n));
    informer.start();
    assert!(informer.wait_for_sync().await);
    // The stream ends after InitDone; once the informer has stopped its loop and stream are gone.
    while !informer.is_stopped() {
        tokio::task::yield_now().await;
    }
    informer.shutdown().await;
    assert_eq!(informer.store().len(), n);
    let held = Held::since(before);
    drop(informer);
    held
}

async fn kube_rs_store<K>(template: &'static str, n: usize) -> Held
where
    K: kube::Resource + Clone + DeserializeOwned + Send + Sync + 'static,
    K::DynamicType: Default + Eq + std::hash::Hash + Clone,
{
    let before = live();
    let (reader, writer) = reflector::store::<K>();
    reflector(writer, events::<K>(template, n))
        .for_each(|_| futures::future::ready(()))
        .await;
    assert_eq!(reader.state().len(), n);
    let held = Held::since(before);
    drop(reader);
    held
}

/// The objects alone, in `Arc`s: as decoded, or (`cloned`) as a clone of what was decoded.
fn objects_alone<K: DeserializeOwned + Clone>(template: &str, n: usize, cloned: bool) -> Held {
    let before = live();
    let mut objects: Vec<Arc<K>> = Vec::with_capacity(n);
    for i in 0..n {
        let decoded = object::<K>(template, i);
        objects.push(Arc::new(if cloned { decoded.clone() } else { decoded }));
    }
    let mut held = Held::since(before);
    // Not the objects: the Vec that keeps them alive here.
    held.bytes -= (n * std::mem::size_of::<Arc<K>>()) as isize;
    held.allocs -= 1;
    drop(objects);
    held
}

fn per_object(bytes: isize, n: usize) -> String {
    format!("{:.0}", bytes as f64 / n as f64)
}

async fn memory_of<K>(kind: &str, template: &'static str, n: usize)
where
    K: kube::Resource + Clone + DeserializeOwned + Send + Sync + 'static,
    K::DynamicType: Default + Eq + std::hash::Hash + Clone,
{
    let decoded = objects_alone::<K>(template, n, false);
    let cloned = objects_alone::<K>(template, n, true);
    let ours = kubeforge_informer::<K>(template, n).await;
    let theirs = kube_rs_store::<K>(template, n).await;
    for (who, held) in [
        ("objects as decoded", &decoded),
        ("objects cloned once", &cloned),
        ("kubeforge Informer", &ours),
        ("kube-rs reflector::Store", &theirs),
    ] {
        println!(
            "| {kind} | {n} | {who} | {} | {} | {} | {:.2} |",
            per_object(held.bytes, n),
            per_object(held.bytes - cloned.bytes, n),
            format_mib(held.bytes),
            held.allocs as f64 / n as f64,
        );
    }
}

fn format_mib(bytes: isize) -> String {
    format!("{:.1}", bytes as f64 / (1024.0 * 1024.0))
}

async fn memory() {
    let sizes: &[usize] = if quick() {
        &[1_000, 10_000]
    } else {
        &[10_000, 100_000]
    };
    println!("\n## memory (exact bytes requested from the allocator, held after sync)\n");
    println!(
        "| kind | objects | held | bytes/object | bytes/object over the cloned objects | total MiB | allocations/object |"
    );
    println!("|---|---|---|---|---|---|---|");
    let start = live();
    for &n in sizes {
        memory_of::<ConfigMap>("ConfigMap", CONFIG_MAP, n).await;
    }
    for &n in sizes {
        memory_of::<Pod>("Pod", POD, n).await;
    }
    let end = live();
    println!(
        "\n(bytes still live after every cache was dropped, vs before: {})",
        end.0 - start.0
    );
}

async fn sync_kubeforge(client: kube::Client, config: watcher::Config, n: usize) -> Duration {
    let start = Instant::now();
    let informer = Informer::new(Api::<ConfigMap>::namespaced(client, "bench"), config);
    informer.start();
    assert!(informer.wait_for_sync().await);
    let took = start.elapsed();
    assert_eq!(informer.store().len(), n);
    informer.shutdown().await;
    took
}

async fn sync_kube_rs(client: kube::Client, config: watcher::Config, n: usize) -> Duration {
    let start = Instant::now();
    let (reader, writer) = reflector::store::<ConfigMap>();
    let stream = reflector(
        writer,
        watcher(Api::<ConfigMap>::namespaced(client, "bench"), config),
    );
    let task = tokio::spawn(stream.for_each(|_| futures::future::ready(())));
    reader.wait_until_ready().await.expect("reflector ready");
    let took = start.elapsed();
    assert_eq!(reader.state().len(), n);
    // Wait until the aborted task (and the 100,000 objects its writer holds) is dropped, so the
    // clean-up does not run during the next measurement.
    task.abort();
    let _ = task.await;
    drop(reader);
    took
}

/// Times the LIST pages alone (kube `Api::list`, no cache): where the paginated sync time goes.
async fn list_pages(client: kube::Client) {
    let api = Api::<ConfigMap>::namespaced(client, "bench");
    let mut params = kube::api::ListParams::default().limit(500);
    let mut pages = Vec::new();
    loop {
        let start = Instant::now();
        let page = api.list(&params).await.expect("list page");
        pages.push(start.elapsed());
        match page.metadata.continue_ {
            Some(token) if !token.is_empty() => params = params.continue_token(&token),
            _ => break,
        }
    }
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let total: Duration = pages.iter().sum();
    println!(
        "LIST in pages of 500 through kube::Api alone: {} pages, first {:.0} ms, second {:.0} ms, \
         last {:.0} ms, {:.1} s in all\n",
        pages.len(),
        ms(pages[0]),
        ms(pages[pages.len().min(2) - 1]),
        ms(pages[pages.len() - 1]),
        total.as_secs_f64()
    );
}

fn summary(mut runs: Vec<Duration>) -> String {
    runs.sort();
    let ms = |d: &Duration| d.as_secs_f64() * 1000.0;
    format!(
        "{:.0} ms | {:.0}-{:.0} ms",
        ms(&runs[runs.len() / 2]),
        ms(&runs[0]),
        ms(&runs[runs.len() - 1])
    )
}

async fn sync() {
    let n = if quick() { 10_000 } else { 100_000 };
    let runs = 3;
    let server = ApiServer::builder()
        .in_memory()
        .start()
        .await
        .expect("server");
    let t = Instant::now();
    support::populate(&server, n).await;
    println!(
        "\n## sync ({n} ConfigMaps created in-process in {:.1} s)\n",
        t.elapsed().as_secs_f64()
    );
    list_pages(server.client()).await;
    println!("| cache | objects | LIST | median | min-max | runs |");
    println!("|---|---|---|---|---|---|");
    let paged = watcher::Config::default();
    let unpaged = watcher::Config {
        page_size: None,
        ..watcher::Config::default()
    };
    for (list, config) in [("pages of 500", paged), ("one unpaginated LIST", unpaged)] {
        let (mut ours, mut theirs) = (Vec::new(), Vec::new());
        for _ in 0..runs {
            ours.push(sync_kubeforge(server.client(), config.clone(), n).await);
            theirs.push(sync_kube_rs(server.client(), config.clone(), n).await);
        }
        println!(
            "| kubeforge Informer | {n} | {list} | {} | {runs} |",
            summary(ours)
        );
        println!(
            "| kube-rs reflector + watcher | {n} | {list} | {} | {runs} |",
            summary(theirs)
        );
    }
    server.shutdown().await;
}

/// The caches alone: `n` already-decoded ConfigMaps fed as one list, no server, no decoding.
async fn apply() {
    let n = if quick() { 10_000 } else { 100_000 };
    let runs = 7;
    let decoded: Vec<ConfigMap> = (0..n).map(|i| object(CONFIG_MAP, i)).collect();
    let events = || {
        let list = decoded.iter().cloned().map(watcher::Event::InitApply);
        let all: Vec<_> = std::iter::once(watcher::Event::Init)
            .chain(list)
            .chain(std::iter::once(watcher::Event::InitDone))
            .map(Ok)
            .collect();
        stream::iter(all)
    };
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        let source = events();
        let start = Instant::now();
        let informer = Informer::from_stream(source);
        informer.start();
        assert!(informer.wait_for_sync().await);
        ours.push(start.elapsed());
        informer.shutdown().await;

        let source = events();
        let start = Instant::now();
        let (reader, writer) = reflector::store::<ConfigMap>();
        reflector(writer, source)
            .for_each(|_| futures::future::ready(()))
            .await;
        theirs.push(start.elapsed());
        assert_eq!(reader.state().len(), n);
    }
    println!("\n## apply ({n} decoded ConfigMaps as one list, no server)\n");
    println!("| cache | objects | median | min-max | runs |");
    println!("|---|---|---|---|---|");
    println!("| kubeforge Informer | {n} | {} | {runs} |", summary(ours));
    println!(
        "| kube-rs reflector::Store | {n} | {} | {runs} |",
        summary(theirs)
    );
}

fn main() {
    let wanted: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let run = |name: &str| wanted.is_empty() || wanted.iter().any(|w| w == name);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        if run("memory") {
            memory().await;
        }
        if run("sync") {
            sync().await;
        }
        if run("apply") {
            apply().await;
        }
    });
}
