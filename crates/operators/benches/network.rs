//! The Network IPAM at scale against the embedded API server (not a timed test: it prints
//! figures).
//!
//! ```text
//! cargo bench -p kubeforge-operators --bench network                # both scenarios
//! cargo bench -p kubeforge-operators --bench network -- allocate    # one by name
//! KUBEFORGE_BENCH_QUICK=1 cargo bench -p kubeforge-operators --bench network   # smoke run
//! ```
//!
//! - `allocate`: a Network on a /16 and 10,000 pods naming it wait in the cluster; the operator
//!   starts; time until every pod holds an address (the Network reports `allocated: 10000`, then
//!   one list checks that all 10,000 addresses are distinct), and the operator's API requests.
//! - `latency`: with the operator running, pods naming a /16 Network are created at 100 pods/s
//!   for 20 s (`KUBEFORGE_BENCH_RATE` sets another rate); for each, the time from sending its
//!   create to a watch seeing its address; p50, p99 and max.
//!
//! - `baseline`: no operator; the same pods created, then each annotated with an address by 32
//!   concurrent merge patches (what the operator's writes cost the server on their own).
//!
//! Server, operator and load generator share one process (and the machine's two cores).

/// The allocator the `kubeforge` binary uses, so the figures are those of `kubeforge up`.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams, PostParams};
use kube::runtime::watcher;
use kube::{Client, ResourceExt};
use kubeforge_apiserver::ApiServer;
use kubeforge_operators::network::{IP_ANNOTATION, NETWORK_ANNOTATION, Network, NetworkSpec};
use kubeforge_operators::runner::{Operators, RunOptions};
use serde_json::json;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

type Counts = Arc<Mutex<BTreeMap<String, u64>>>;

/// A client for `server` that counts its requests by verb (`LIST`/`WATCH` are collection GETs).
fn counting_client(server: &ApiServer) -> (Client, Counts) {
    let counts: Counts = Arc::default();
    let layer = tower::ServiceBuilder::new().map_request({
        let counts = counts.clone();
        move |req: http::Request<kube::client::Body>| {
            let query = req.uri().query().unwrap_or_default();
            let collection = req
                .uri()
                .path()
                .rsplit('/')
                .next()
                .is_some_and(|last| ["pods", "networks", "events"].contains(&last));
            let verb = match req.method().as_str() {
                "GET" if query.contains("watch=true") => "WATCH".to_string(),
                "GET" if collection => "LIST".to_string(),
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

fn describe(counts: &Counts) -> String {
    let counts = counts.lock().unwrap();
    let total: u64 = counts.values().sum();
    let by_verb = counts
        .iter()
        .map(|(verb, n)| format!("{verb} {n}"))
        .collect::<Vec<_>>()
        .join(", ");
    format!("{total} ({by_verb})")
}

/// Starts the network operator on a counting client; returns the counts and the stop switch.
fn start_operator(
    server: &ApiServer,
) -> (Counts, oneshot::Sender<()>, tokio::task::JoinHandle<()>) {
    let (client, counts) = counting_client(server);
    let operators = kubeforge_operators::select("network").expect("operator");
    let running = Operators::new(client, &operators, RunOptions::default()).expect("operator");
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        running
            .run(async {
                let _ = stopped.await;
            })
            .await
            .expect("operator ran");
    });
    (counts, stop, task)
}

async fn server() -> ApiServer {
    let server = ApiServer::builder()
        .in_memory()
        .history(200_000)
        .start()
        .await
        .expect("server");
    let operators = kubeforge_operators::select("network").expect("operator");
    kubeforge_operators::install::install_crds(
        &server.client(),
        &operators,
        Duration::from_secs(30),
    )
    .await
    .expect("CRD");
    server
}

async fn create_network(client: &Client) {
    let api: Api<Network> = Api::namespaced(client.clone(), "default");
    let network = Network::new(
        "bench",
        NetworkSpec {
            cidr: "10.20.0.0/16".into(),
            gateway: "10.20.0.1".into(),
            excludes: Vec::new(),
        },
    );
    // Under heavy load the CRD can be Established a moment before its resource is served.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match api.create(&PostParams::default(), &network).await {
            Ok(_) => return,
            Err(kube::Error::Api(s)) if s.code == 404 && Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!("network: {e}"),
        }
    }
}

fn pod(name: &str) -> Pod {
    serde_json::from_value(json!({
        "metadata": {"name": name, "annotations": {NETWORK_ANNOTATION: "bench"}},
        "spec": {"containers": [{"name": "app", "image": "nginx"}]},
    }))
    .expect("pod")
}

/// `n` waiting pods, then the operator: the time until all hold distinct addresses.
async fn allocate_run(n: usize) -> (Duration, String) {
    let server = server().await;
    let client = server.client();
    create_network(&client).await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    futures::stream::iter(0..n)
        .for_each_concurrent(64, |i| {
            let pods = pods.clone();
            async move {
                pods.create(&PostParams::default(), &pod(&format!("p{i}")))
                    .await
                    .expect("create pod");
            }
        })
        .await;
    let networks: Api<Network> = Api::namespaced(client.clone(), "default");
    let started = Instant::now();
    let (counts, stop, task) = start_operator(&server);
    loop {
        let allocated = networks
            .get("bench")
            .await
            .expect("network")
            .status
            .map_or(0, |s| s.allocated);
        if allocated as usize >= n {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(600),
            "not allocated in 600 s"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let took = started.elapsed();
    let requests = describe(&counts);
    let list = pods.list(&ListParams::default()).await.expect("list");
    let addresses: HashSet<String> = list
        .items
        .iter()
        .filter_map(|p| p.annotations().get(IP_ANNOTATION).cloned())
        .collect();
    assert_eq!(addresses.len(), n, "every pod holds a distinct address");
    let _ = stop.send(());
    task.await.expect("operator stopped");
    server.shutdown().await;
    (took, requests)
}

/// `n` pods, then one address patch each from the load generator, 32 at a time: the server's
/// share of `allocate`.
async fn baseline_run(n: usize) -> Duration {
    let server = server().await;
    let client = server.client();
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    futures::stream::iter(0..n)
        .for_each_concurrent(64, |i| {
            let pods = pods.clone();
            async move {
                pods.create(&PostParams::default(), &pod(&format!("p{i}")))
                    .await
                    .expect("create pod");
            }
        })
        .await;
    let started = Instant::now();
    futures::stream::iter(0..n)
        .for_each_concurrent(32, |i| {
            let pods = pods.clone();
            async move {
                let patch = json!({"metadata": {"annotations": {IP_ANNOTATION: format!("10.20.{}.{}", i / 256, i % 256)}}});
                pods.patch(
                    &format!("p{i}"),
                    &kube::api::PatchParams::default(),
                    &kube::api::Patch::Merge(&patch),
                )
                .await
                .expect("patch pod");
            }
        })
        .await;
    let took = started.elapsed();
    server.shutdown().await;
    took
}

/// Pods created at `rate` per second for `seconds`: each one's create-to-address latency.
async fn latency_run(rate: u64, seconds: u64) -> Vec<Duration> {
    let server = server().await;
    let client = server.client();
    create_network(&client).await;
    let (_counts, stop, task) = start_operator(&server);
    let sent: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
    let seen: Arc<Mutex<HashMap<String, Duration>>> = Arc::default();
    let n = (rate * seconds) as usize;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let watch = {
        let sent = sent.clone();
        let seen = seen.clone();
        let stream = watcher(pods.clone(), watcher::Config::default());
        tokio::spawn(async move {
            let mut stream = std::pin::pin!(stream);
            while let Some(event) = stream.next().await {
                let Ok(watcher::Event::Apply(pod) | watcher::Event::InitApply(pod)) = event else {
                    continue;
                };
                if !pod.annotations().contains_key(IP_ANNOTATION) {
                    continue;
                }
                let name = pod.name_any();
                let Some(at) = sent.lock().unwrap().get(&name).copied() else {
                    continue;
                };
                let mut seen = seen.lock().unwrap();
                seen.entry(name).or_insert_with(|| at.elapsed());
                if seen.len() >= n {
                    return;
                }
            }
        })
    };
    let mut ticker = tokio::time::interval(Duration::from_micros(1_000_000 / rate));
    let mut creates = Vec::with_capacity(n);
    for i in 0..n {
        ticker.tick().await;
        let pods = pods.clone();
        let sent = sent.clone();
        creates.push(tokio::spawn(async move {
            let name = format!("l{i}");
            sent.lock().unwrap().insert(name.clone(), Instant::now());
            pods.create(&PostParams::default(), &pod(&name))
                .await
                .expect("create pod");
        }));
    }
    for create in creates {
        create.await.expect("create");
    }
    tokio::time::timeout(Duration::from_secs(120), watch)
        .await
        .expect("every pod got an address")
        .expect("watch");
    let _ = stop.send(());
    task.await.expect("operator stopped");
    server.shutdown().await;
    let mut latencies: Vec<Duration> = seen.lock().unwrap().values().copied().collect();
    latencies.sort();
    latencies
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[index]
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
        if wanted("allocate") {
            let n = if quick { 500 } else { 10_000 };
            let mut times = Vec::new();
            for run in 0..runs {
                let (took, requests) = allocate_run(n).await;
                println!(
                    "allocate run {run}: {n} pods on a /16 allocated in {:.2} s; operator requests {requests}",
                    took.as_secs_f64()
                );
                times.push(took);
            }
            println!("allocate: median {:.2} s for {n} pods", median(times).as_secs_f64());
        }
        if wanted("baseline") {
            let n = if quick { 500 } else { 10_000 };
            let mut times = Vec::new();
            for run in 0..runs {
                let took = baseline_run(n).await;
                println!(
                    "baseline run {run}: {n} pod address patches in {:.2} s",
                    took.as_secs_f64()
                );
                times.push(took);
            }
            println!("baseline: median {:.2} s for {n} patches", median(times).as_secs_f64());
        }
        if wanted("latency") {
            let seconds = if quick { 3 } else { 20 };
            // `KUBEFORGE_BENCH_RATE` changes the rate (pods per second) from the issue's 100.
            let rate = std::env::var("KUBEFORGE_BENCH_RATE")
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(100u64);
            let mut p99s = Vec::new();
            for run in 0..runs {
                let latencies = latency_run(rate, seconds).await;
                let ms = |d: Duration| d.as_secs_f64() * 1000.0;
                println!(
                    "latency run {run}: {} pods at {rate}/s: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
                    latencies.len(),
                    ms(percentile(&latencies, 0.50)),
                    ms(percentile(&latencies, 0.99)),
                    ms(*latencies.last().expect("latencies")),
                );
                p99s.push(percentile(&latencies, 0.99));
            }
            println!(
                "latency: median p99 {:.1} ms at {rate} pods/s",
                median(p99s).as_secs_f64() * 1000.0
            );
        }
    });
}
