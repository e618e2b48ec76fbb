//! The Deployment REST service's throughput: 16 clients, each on its own keep-alive connection,
//! creating Deployments, then reading them, through the service in front of the API server as
//! `kubeforge up` runs it (durable store in a temporary directory, simulated workloads).
//!
//! `cargo bench -p kubeforge-deployments-api --bench throughput` (`KUBEFORGE_BENCH_QUICK=1`: 800
//! requests per phase instead of 8,000). Prints requests/s and the p50/p99 latency per phase.

/// The allocator the `kubeforge` binary uses, so the figures are those of `kubeforge up`.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use kubeforge_apiserver::ApiServer;
use kubeforge_deployments_api::{Settings, router, serve};
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

const CLIENTS: usize = 16;

/// One request on a kept-alive connection; the status.
async fn request(stream: &mut BufReader<TcpStream>, method: &str, path: &str, body: &str) -> u16 {
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.get_mut().write_all(head.as_bytes()).await.unwrap();
    let mut line = String::new();
    stream.read_line(&mut line).await.unwrap();
    let status = line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let mut length = 0usize;
    loop {
        line.clear();
        stream.read_line(&mut line).await.unwrap();
        if line == "\r\n" {
            break;
        }
        if let Some((name, value)) = line.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().unwrap();
        }
    }
    let mut body = vec![0; length];
    stream.read_exact(&mut body).await.unwrap();
    status
}

async fn phase(addr: SocketAddr, name: &str, total: usize, method: &'static str) {
    let per_client = total / CLIENTS;
    let started = Instant::now();
    let tasks: Vec<_> = (0..CLIENTS)
        .map(|client| {
            tokio::spawn(async move {
                let mut stream = BufReader::new(TcpStream::connect(addr).await.unwrap());
                let mut latencies = Vec::with_capacity(per_client);
                for i in 0..per_client {
                    let deployment = format!("d-{client}-{i}");
                    let sent = Instant::now();
                    let status = if method == "POST" {
                        let body = format!(
                            r#"{{"namespace":"default","name":"{deployment}","image":"nginx:1.27","replicas":1}}"#
                        );
                        request(&mut stream, "POST", "/deployment/create", &body).await
                    } else {
                        request(&mut stream, "GET", &format!("/deployments/default/{deployment}"), "").await
                    };
                    assert!(status == 200 || status == 201, "{method} {deployment}: {status}");
                    latencies.push(sent.elapsed());
                }
                latencies
            })
        })
        .collect();
    let mut latencies: Vec<Duration> = Vec::with_capacity(total);
    for task in tasks {
        latencies.extend(task.await.unwrap());
    }
    let elapsed = started.elapsed();
    latencies.sort();
    let at = |q: f64| latencies[((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)];
    println!(
        "{name}: {} requests from {CLIENTS} clients in {elapsed:.2?}: {:.0} requests/s, p50 {:.2?}, p99 {:.2?}",
        latencies.len(),
        latencies.len() as f64 / elapsed.as_secs_f64(),
        at(0.50),
        at(0.99)
    );
}

#[tokio::main]
async fn main() {
    let total = if std::env::var("KUBEFORGE_BENCH_QUICK").is_ok() {
        800
    } else {
        8_000
    };
    let data = tempfile::tempdir().unwrap();
    let server = ApiServer::builder()
        .data_dir(data.path())
        .simulate_workloads(true)
        .start()
        .await
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let service = tokio::spawn(serve(
        listener,
        router(server.client(), Settings::default()),
        async {
            let _ = stopped.await;
        },
    ));
    phase(addr, "create", total, "POST").await;
    phase(addr, "get", total, "GET").await;
    let _ = stop.send(());
    service.await.unwrap().unwrap();
    server.shutdown().await;
}
