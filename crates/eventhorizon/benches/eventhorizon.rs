//! Throughput and latency of the router: 1 KiB CloudEvents posted by 64 HTTP clients, delivered
//! to a Forward receiver that acks every chunk; then p99 ingest-to-delivery latency at a fixed
//! 5,000 events/s; in the same run, a plain axum server answering 202 as the ceiling; and the
//! memory the router holds with a full backlog (a receiver that never acks).
//!
//! `cargo bench -p kubeforge-eventhorizon --bench eventhorizon`

/// The allocator the `kubeforge` binary uses, so the figures are those of `kubeforge up`.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[path = "../tests/common/receiver.rs"]
#[allow(dead_code)]
mod receiver;

use bytes::Bytes;
use http_body_util::Full;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use kubeforge_eventhorizon::engine::{Engine, EngineOptions};
use kubeforge_eventhorizon::routes::{Route, Routes};
use kubeforge_eventhorizon::settings::Settings;
use receiver::{Behavior, Receiver};
use serde_json::json;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

const CLIENTS: usize = 64;
const RUN: Duration = Duration::from_secs(5);

fn payload() -> String {
    format!("{{\"pad\":\"{}\"}}", "x".repeat(1000))
}

/// 64 clients posting for [`RUN`]; returns requests answered 2xx per second.
async fn hammer(addr: SocketAddr) -> f64 {
    let ok = Arc::new(AtomicU64::new(0));
    let body = Bytes::from(payload());
    let deadline = Instant::now() + RUN;
    let mut tasks = Vec::new();
    for c in 0..CLIENTS {
        let (ok, body) = (ok.clone(), body.clone());
        tasks.push(tokio::spawn(async move {
            let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
            let mut i = 0u64;
            while Instant::now() < deadline {
                i += 1;
                let request = hyper::Request::post(format!("http://{addr}/"))
                    .header("ce-specversion", "1.0")
                    .header("ce-id", format!("{c}-{i}"))
                    .header("ce-type", "bench")
                    .header("ce-source", "/bench")
                    .header("content-type", "application/json")
                    .body(Full::new(body.clone()))
                    .unwrap();
                if let Ok(r) = client.request(request).await
                    && r.status().is_success()
                {
                    ok.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    ok.load(Ordering::Relaxed) as f64 / RUN.as_secs_f64()
}

async fn router(receiver_port: u16) -> (Arc<Engine>, SocketAddr) {
    router_with_backlog(receiver_port, 65536).await
}

async fn router_with_backlog(receiver_port: u16, backlog: usize) -> (Arc<Engine>, SocketAddr) {
    let engine = Engine::start(EngineOptions {
        bind: IpAddr::V4(Ipv4Addr::LOCALHOST),
        ..EngineOptions::default()
    });
    let outputs = engine.sync_outputs(&[(
        "fluentd".to_string(),
        serde_json::from_value(
            json!({"type": "fluentd", "fluentd": {"port": receiver_port, "requestAck": true}}),
        )
        .unwrap(),
    )]);
    let mut settings =
        Settings::from_spec(&serde_json::from_value(json!({"backlog": backlog})).unwrap()).unwrap();
    settings.port = 0;
    settings.metrics = None;
    let routes = Routes {
        routes: vec![Route {
            handler: "bench".into(),
            labels: Default::default(),
            encoder: Default::default(),
            output_name: "fluentd".into(),
            output: outputs["fluentd"].clone().ok(),
        }],
        validators: vec![],
    };
    let applied = engine.apply(Some(settings), routes).await;
    (engine, applied.ingest.unwrap())
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        // Ceiling: a plain axum server answering 202.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let echo = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let app = axum::Router::new().route(
                "/",
                axum::routing::post(|_body: Bytes| async { axum::http::StatusCode::ACCEPTED }),
            );
            axum::serve(listener, app).await.unwrap();
        });
        let ceiling = hammer(echo).await;
        println!("axum echo (ceiling): {ceiling:.0} requests/s");

        let (receiver, port) = Receiver::tcp(Behavior::Ack).await;
        let (engine, addr) = router(port).await;
        let start = Instant::now();
        let accepted = hammer(addr).await;
        let total = (accepted * RUN.as_secs_f64()) as usize;
        while receiver.records().len() < total && start.elapsed() < RUN * 4 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let delivered = receiver.records().len();
        println!(
            "eventhorizon: {accepted:.0} events/s accepted; {delivered} of {total} delivered with ack in {:.2} s ({:.0} events/s end to end)",
            start.elapsed().as_secs_f64(),
            delivered as f64 / start.elapsed().as_secs_f64()
        );

        // p99 ingest-to-delivery latency at 5,000 events/s (from the router's histogram).
        let (engine2, addr2) = router(port).await;
        let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
        let body = Bytes::from(payload());
        let mut tick = tokio::time::interval(Duration::from_micros(200));
        let mut sends = Vec::new();
        for i in 0..25_000u64 {
            tick.tick().await;
            let request = hyper::Request::post(format!("http://{addr2}/"))
                .header("ce-specversion", "1.0")
                .header("ce-id", i.to_string())
                .header("ce-type", "bench")
                .header("ce-source", "/bench")
                .header("content-type", "application/json")
                .body(Full::new(body.clone()))
                .unwrap();
            let client = client.clone();
            sends.push(tokio::spawn(async move { client.request(request).await.is_ok() }));
        }
        for s in sends {
            s.await.unwrap();
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &engine2.core().registry).unwrap();
        let mut buckets = Vec::new();
        let mut count = 0f64;
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("delivery_duration_seconds_bucket{") {
                let le: f64 = rest.split("le=\"").nth(1).unwrap().split('"').next().unwrap().parse().unwrap_or(f64::INFINITY);
                let n: f64 = rest.rsplit(' ').next().unwrap().parse().unwrap();
                buckets.push((le, n));
            }
            if let Some(rest) = line.strip_prefix("delivery_duration_seconds_count") {
                count = rest.rsplit(' ').next().unwrap().parse().unwrap();
            }
        }
        let p = |q: f64| buckets.iter().find(|(_, n)| *n >= q * count).map(|(le, _)| *le).unwrap_or(f64::NAN);
        println!(
            "latency at 5000 events/s over {count} events: p50 <= {:.1} ms, p99 <= {:.1} ms (histogram bucket bounds)",
            p(0.5) * 1e3,
            p(0.99) * 1e3
        );
        engine.shutdown().await;
        engine2.shutdown().await;

        // Memory with a full backlog: a receiver that never acks, the default backlog (8192),
        // 1 KiB events posted until the router answers 503.
        let (_stuck, stuck_port) = Receiver::tcp(Behavior::NeverAck).await;
        let before = rss_kib();
        let (engine3, addr3) = router_with_backlog(stuck_port, 8192).await;
        let mut accepted = 0u64;
        for i in 0.. {
            let request = hyper::Request::post(format!("http://{addr3}/"))
                .header("ce-specversion", "1.0")
                .header("ce-id", format!("full-{i}"))
                .header("ce-type", "bench")
                .header("ce-source", "/bench")
                .header("content-type", "application/json")
                .body(Full::new(body.clone()))
                .unwrap();
            match client.request(request).await {
                Ok(r) if r.status().is_success() => accepted += 1,
                Ok(r) if r.status() == hyper::StatusCode::SERVICE_UNAVAILABLE => break,
                _ => {}
            }
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        let after = rss_kib();
        let held = engine3.core().backlog.depth();
        println!(
            "full backlog: {accepted} events accepted before 503 ({held} queued, the rest in delivery); resident memory {before} KiB -> {after} KiB (+{} KiB, {:.2} KiB per accepted event)",
            after.saturating_sub(before),
            after.saturating_sub(before) as f64 / accepted.max(1) as f64
        );
    });
}

/// This process's resident set, from /proc.
fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}
