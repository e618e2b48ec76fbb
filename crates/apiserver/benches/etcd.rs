//! kubeforge on etcd against its other media and against etcd itself, in one run:
//! - etcd's own put rate (64 concurrent puts of a ConfigMap-sized value through the same client
//!   library the server uses);
//! - ConfigMap creates per second over HTTP at 64 clients on etcd, redb and in memory;
//! - a LIST of 10,000 ConfigMaps from a server on etcd (and in memory, for reference);
//! - watch fan-out through two API servers on one etcd (watchers on both, writes on one).
//!
//! Command: `cargo bench -p kubeforge-apiserver --bench etcd` (needs an `etcd` binary, as the
//! tests do). `KUBEFORGE_BENCH_WINDOW_MS` sets the throughput windows (default 5000).

#[path = "../tests/etcd_support/mod.rs"]
mod etcd_support;

use etcd_support::Etcd;
use futures::StreamExt;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, PostParams, WatchEvent, WatchParams};
use kubeforge_apiserver::ApiServer;
use kubeforge_apiserver::rest::WriteOptions;
use serde_json::json;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

type Res<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

const CLIENTS: usize = 64;

fn window() -> Duration {
    Duration::from_millis(
        std::env::var("KUBEFORGE_BENCH_WINDOW_MS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(5000),
    )
}

fn config_map(name: &str) -> serde_json::Value {
    json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": "default", "labels": {"app": "bench"}},
        "data": {"app.properties": "replicas=3\nmode=fast\n", "owner": "bench"},
    })
}

/// Runs `op(i)` from `CLIENTS` tasks for one window; answers completed operations per second.
async fn rate<F, Fut>(op: F) -> Res<f64>
where
    F: Fn(u64) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Res<()>> + Send,
{
    let op = Arc::new(op);
    let next = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for _ in 0..CLIENTS {
        let (op, next, done, stop) = (op.clone(), next.clone(), done.clone(), stop.clone());
        tasks.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let i = next.fetch_add(1, Ordering::Relaxed);
                op(i).await?;
                done.fetch_add(1, Ordering::Relaxed);
            }
            Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
        }));
    }
    // A warm-up second, then the measured window.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (start, before) = (Instant::now(), done.load(Ordering::Relaxed));
    tokio::time::sleep(window()).await;
    let count = done.load(Ordering::Relaxed) - before;
    let elapsed = start.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        t.await??;
    }
    Ok(count as f64 / elapsed)
}

async fn creates(server: &ApiServer) -> Res<f64> {
    let client = server.client();
    rate(move |i| {
        let api: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
        async move {
            let cm: ConfigMap = serde_json::from_value(config_map(&format!("cm-{i}")))?;
            api.create(&PostParams::default(), &cm).await?;
            Ok(())
        }
    })
    .await
}

/// Creates `n` ConfigMaps in-process, 64 at a time.
async fn populate(server: &ApiServer, n: u64) -> Res<()> {
    let rest = server.rest().clone();
    let rt = rest
        .catalog
        .snapshot()
        .find("", "v1", "configmaps")
        .ok_or("no configmaps")?;
    let next = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for _ in 0..CLIENTS {
        let (rest, rt, next) = (rest.clone(), rt.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            let opts = WriteOptions {
                field_manager: "bench".into(),
                ..WriteOptions::default()
            };
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    return Ok::<(), String>(());
                }
                rest.create(
                    &rt,
                    Some("list"),
                    {
                        let mut v = config_map(&format!("item-{i:05}"));
                        v["metadata"]["namespace"] = json!("list");
                        v
                    },
                    &opts,
                )
                .await
                .map_err(|e| e.to_string())?;
            }
        }));
    }
    for t in tasks {
        t.await??;
    }
    Ok(())
}

/// A plain GET over a fresh connection; answers the body's length.
async fn raw_get(addr: std::net::SocketAddr, path: &str) -> Res<usize> {
    let mut stream = tokio::net::TcpStream::connect(addr).await?;
    let req = format!(
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nAccept: application/json\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(req.as_bytes()).await?;
    let mut buf = Vec::with_capacity(8 << 20);
    stream.read_to_end(&mut buf).await?;
    if !buf.starts_with(b"HTTP/1.1 200") {
        return Err("LIST did not answer 200".into());
    }
    Ok(buf.len())
}

/// Median time of 5 LISTs of the `list` namespace.
async fn list_time(server: &ApiServer) -> Res<(f64, usize)> {
    let mut times = Vec::new();
    let mut size = 0;
    for _ in 0..5 {
        let start = Instant::now();
        size = raw_get(server.addr(), "/api/v1/namespaces/list/configmaps").await?;
        times.push(start.elapsed().as_secs_f64());
    }
    times.sort_by(f64::total_cmp);
    Ok((times[2], size))
}

/// Watchers on both servers, `n` creates on the first: events delivered per second, and the
/// time until every watcher has seen every write.
async fn fan_out(a: &ApiServer, b: &ApiServer, watchers: usize, n: usize) -> Res<(f64, f64)> {
    let on_a: Api<ConfigMap> = Api::namespaced(a.client(), "fanout");
    let from = on_a
        .list(&Default::default())
        .await?
        .metadata
        .resource_version
        .unwrap_or_default();
    let mut tasks = Vec::new();
    for w in 0..watchers {
        let client = if w % 2 == 0 { a.client() } else { b.client() };
        let from = from.clone();
        tasks.push(tokio::spawn(async move {
            let api: Api<ConfigMap> = Api::namespaced(client, "fanout");
            let mut stream = api
                .watch(&WatchParams::default().timeout(290), &from)
                .await?
                .boxed();
            let mut seen = 0;
            while seen < n {
                match stream.next().await {
                    Some(Ok(WatchEvent::Added(_))) => seen += 1,
                    Some(Ok(_)) => {}
                    Some(Err(e)) => return Err(e.into()),
                    None => return Err("watch ended".into()),
                }
            }
            Ok::<Instant, Box<dyn std::error::Error + Send + Sync>>(Instant::now())
        }));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let start = Instant::now();
    let rest = a.rest().clone();
    let rt = rest
        .catalog
        .snapshot()
        .find("", "v1", "configmaps")
        .ok_or("no configmaps")?;
    let opts = WriteOptions {
        field_manager: "bench".into(),
        ..WriteOptions::default()
    };
    for i in 0..n {
        let mut v = config_map(&format!("f-{i}"));
        v["metadata"]["namespace"] = json!("fanout");
        rest.create(&rt, Some("fanout"), v, &opts)
            .await
            .map_err(|e| e.to_string())?;
    }
    let mut last = start;
    for t in tasks {
        last = last.max(t.await??);
    }
    let all = last.duration_since(start).as_secs_f64();
    Ok(((watchers * n) as f64 / all, all))
}

async fn namespace(server: &ApiServer, name: &str) -> Res<()> {
    let rest = server.rest().clone();
    let rt = rest
        .catalog
        .snapshot()
        .find("", "v1", "namespaces")
        .ok_or("no namespaces")?;
    rest.create(
        &rt,
        None,
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}),
        &WriteOptions::default(),
    )
    .await
    .map_err(|e| e.to_string())?;
    Ok(())
}

#[tokio::main]
async fn main() -> Res<()> {
    let Some(etcd) = Etcd::start().await else {
        return Ok(());
    };
    println!("| figure | value |\n|---|---|");

    let client = etcd.client().await;
    let value = serde_json::to_vec(&config_map("put"))?;
    let put_rate = rate(move |i| {
        let mut kv = client.kv_client();
        let value = value.clone();
        async move {
            kv.put(format!("/bench/put/{i}"), value, None).await?;
            Ok(())
        }
    })
    .await?;
    println!("| etcd put rate, {CLIENTS} concurrent puts (etcd-client) | {put_rate:.0} /s |");

    let on_etcd = etcd_support::server(&etcd, "/registry").await;
    let etcd_creates = creates(&on_etcd).await?;
    println!(
        "| ConfigMap creates over HTTP, {CLIENTS} clients, etcd | {etcd_creates:.0} /s ({:.0}% of etcd's put rate) |",
        100.0 * etcd_creates / put_rate
    );
    let dir = tempfile::tempdir()?;
    let redb = ApiServer::builder().data_dir(dir.path()).start().await?;
    println!(
        "| ConfigMap creates over HTTP, {CLIENTS} clients, redb | {:.0} /s |",
        creates(&redb).await?
    );
    redb.shutdown().await;
    let memory = ApiServer::builder().in_memory().start().await?;
    println!(
        "| ConfigMap creates over HTTP, {CLIENTS} clients, memory | {:.0} /s |",
        creates(&memory).await?
    );

    for (name, server) in [("etcd", &on_etcd), ("memory", &memory)] {
        namespace(server, "list").await?;
        populate(server, 10_000).await?;
        let (time, size) = list_time(server).await?;
        println!(
            "| LIST of 10,000 ConfigMaps ({} bytes), {name} | {:.1} ms |",
            size,
            time * 1000.0
        );
    }
    memory.shutdown().await;

    let other = etcd_support::server(&etcd, "/registry").await;
    namespace(&on_etcd, "fanout").await?;
    let (rate, all) = fan_out(&on_etcd, &other, 100, 1000).await?;
    println!(
        "| watch fan-out, 1,000 creates on A, 50 watchers on each of A and B | {rate:.0} events/s delivered, all seen after {:.2} s |",
        all
    );
    Ok(())
}
