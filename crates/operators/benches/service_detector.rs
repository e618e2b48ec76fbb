//! The service detector at scale: 10,000 Pods and 1,000 Services (each selecting 10 Pods by
//! `app=svc-N`) in one namespace, then one Service's selector changed.
//!
//! `cargo bench -p kubeforge-operators --bench service_detector` (`KUBEFORGE_BENCH_QUICK=1`: 1,000
//! Pods and 100 Services). The embedded API server (in memory, no simulated workloads), the
//! detector under its manager and the load generator share one process; the detector's client
//! counts its PATCH requests, and reconciles are read from its `/metrics`.
//!
//! Prints: the time from the detector's start (objects already created) to every annotation
//! written and verified, then for five selector changes: the Pods and Services reconciled, the
//! writes, and the latency until the last write.

/// The allocator the `kubeforge` binary uses, so the figures are those of `kubeforge up`.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use k8s_openapi::api::core::v1::{Pod, Service};
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use kubeforge_apiserver::ApiServer;
use kubeforge_operators::runner::{Operators, RunOptions};
use kubeforge_operators::service_detector::{SELECTED_PODS_ANNOTATION, SERVICES_ANNOTATION};
use serde_json::json;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const PODS_PER_SERVICE: usize = 10;

async fn reconciles(metrics: SocketAddr) -> u64 {
    let mut stream = tokio::net::TcpStream::connect(metrics).await.unwrap();
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: m\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut text = String::new();
    stream.read_to_string(&mut text).await.unwrap();
    text.lines()
        .filter(|l| {
            l.starts_with("controller_runtime_reconcile_total{")
                && l.contains("controller=\"service-detector\"")
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum::<f64>() as u64
}

async fn wait_for(writes: &AtomicU64, target: u64, limit: Duration) -> Duration {
    let start = Instant::now();
    while writes.load(Ordering::SeqCst) < target {
        assert!(
            start.elapsed() < limit,
            "stuck at {} of {target} writes",
            writes.load(Ordering::SeqCst)
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    start.elapsed()
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let quick = std::env::var("KUBEFORGE_BENCH_QUICK").is_ok();
    let services = if quick { 100 } else { 1_000 };
    let pods = services * PODS_PER_SERVICE;
    let server = ApiServer::builder().in_memory().start().await.unwrap();
    let client = server.client();

    let created = Instant::now();
    let pod_api: Api<Pod> = Api::namespaced(client.clone(), "default");
    let service_api: Api<Service> = Api::namespaced(client.clone(), "default");
    futures::future::join_all((0..16).map(|worker| {
        let pod_api = pod_api.clone();
        let service_api = service_api.clone();
        async move {
            for i in (worker..pods).step_by(16) {
                let pod: Pod = serde_json::from_value(json!({
                    "metadata": {"name": format!("pod-{i}"), "labels": {"app": format!("svc-{}", i % services), "n": i.to_string()}},
                    "spec": {"containers": [{"name": "app", "image": "nginx"}]},
                }))
                .unwrap();
                pod_api.create(&PostParams::default(), &pod).await.unwrap();
            }
            for j in (worker..services).step_by(16) {
                let service: Service = serde_json::from_value(json!({
                    "metadata": {"name": format!("svc-{j}")},
                    "spec": {"selector": {"app": format!("svc-{j}")}, "ports": [{"port": 80}]},
                }))
                .unwrap();
                service_api.create(&PostParams::default(), &service).await.unwrap();
            }
        }
    }))
    .await;
    println!(
        "created {pods} Pods and {services} Services in {:.2?}",
        created.elapsed()
    );

    let writes = Arc::new(AtomicU64::new(0));
    let layer = tower::ServiceBuilder::new().map_request({
        let writes = writes.clone();
        move |req: http::Request<kube::client::Body>| {
            if req.method() == http::Method::PATCH {
                writes.fetch_add(1, Ordering::SeqCst);
            }
            req
        }
    });
    let config = kube::Config::new(server.url().parse().unwrap());
    let counting = kube::client::ClientBuilder::try_from(config)
        .unwrap()
        .with_layer(&layer)
        .build();
    let detector = kubeforge_operators::select("service-detector").unwrap();
    let options = RunOptions {
        metrics_addr: Some("127.0.0.1:0".parse().unwrap()),
        ..RunOptions::default()
    };
    let started = Instant::now();
    let operators = Operators::new(counting, &detector, options).unwrap();
    let metrics = operators.metrics_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(operators.run(async {
        let _ = stopped.await;
    }));

    // Every Pod gets its Service, every Service its count: one write each. Requests are counted
    // when sent, so once they are all sent the annotations are checked until they are all there
    // (a request that failed is retried by the detector and counted again).
    let expected = (pods + services) as u64;
    wait_for(&writes, expected, Duration::from_secs(300)).await;
    let all_correct = async || -> bool {
        let listed = pod_api.list(&ListParams::default()).await.unwrap();
        let pods_ok = listed.items.iter().all(|pod| {
            let labels = pod.metadata.labels.as_ref();
            let annotations = pod.metadata.annotations.as_ref();
            annotations.and_then(|a| a.get(SERVICES_ANNOTATION))
                == labels.and_then(|l| l.get("app"))
        });
        let services_ok = service_api
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
            .into_iter()
            // The server's own `kubernetes` Service selects nothing and carries no count.
            .filter(|s| s.spec.as_ref().is_some_and(|s| s.selector.is_some()))
            .all(|service| {
                service
                    .metadata
                    .annotations
                    .as_ref()
                    .and_then(|a| a.get(SELECTED_PODS_ANNOTATION))
                    .is_some_and(|count| *count == PODS_PER_SERVICE.to_string())
            });
        pods_ok && services_ok
    };
    while !all_correct().await {
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "annotations not all correct after 300 s ({} writes)",
            writes.load(Ordering::SeqCst)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let converged = started.elapsed();
    println!(
        "all {expected} annotations correct {:.2?} after the detector started ({} writes, {} reconciles)",
        converged,
        writes.load(Ordering::SeqCst),
        reconciles(metrics).await
    );

    // Selector changes: svc-0 alternately selects svc-1's Pods and its own again. Each moves 20
    // Pods' annotations (10 lose svc-0, 10 gain it); the count stays 10.
    tokio::time::sleep(Duration::from_secs(1)).await;
    for round in 0..5 {
        let target = if round % 2 == 0 { "svc-1" } else { "svc-0" };
        let before_writes = writes.load(Ordering::SeqCst);
        let before_reconciles = reconciles(metrics).await;
        let changed = Instant::now();
        service_api
            .patch(
                "svc-0",
                &PatchParams::default(),
                &Patch::Merge(json!({"spec": {"selector": {"app": target}}})),
            )
            .await
            .unwrap();
        let latency = wait_for(
            &writes,
            before_writes + 2 * PODS_PER_SERVICE as u64,
            Duration::from_secs(30),
        )
        .await;
        let _ = changed;
        // Let the events of those writes settle before counting reconciles.
        tokio::time::sleep(Duration::from_millis(500)).await;
        println!(
            "selector change {round}: {} writes, {} reconciles, last write after {:.1?}",
            writes.load(Ordering::SeqCst) - before_writes,
            reconciles(metrics).await - before_reconciles,
            latency
        );
    }
    let _ = stop.send(());
    running.await.unwrap().unwrap();
    server.shutdown().await;
}
