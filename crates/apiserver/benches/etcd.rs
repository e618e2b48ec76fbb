//! kubeforge on etcd against its other media and against etcd itself, in one run:
//! - etcd's own put rate (64 concurrent puts of a ConfigMap-sized value through the same client
//!   library the server uses);
//! - ConfigMap creates per second over HTTP at 64 kube-rs clients on etcd, redb and in memory,
//!   and on etcd from 64 thin HTTP/1.1 clients (ready bodies, answers unparsed);
//! - a LIST of 10,000 ConfigMaps from a server on etcd (and in memory, for reference), consistent
//!   and at `resourceVersion=0`;
//! - watch fan-out through two API servers on one etcd (watchers on both, writes on one).
//!
//! Command: `cargo bench -p kubeforge-apiserver --bench etcd` (needs an `etcd` binary, as the
//! tests do; `-- ratio` measures only etcd's put rate and the creates on etcd, `-- list` only
//! the LISTs on etcd). `KUBEFORGE_BENCH_WINDOW_MS` sets the throughput windows (default 5000).
//!
//! Beside each throughput figure, stderr gets what the window cost: CPU seconds per operation of
//! etcd and of this process (the API servers and their clients), how many cores each kept busy,
//! and etcd's gRPC requests per operation by method (from etcd's `/metrics`), which tell CPU
//! contention from round-trip waits.

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

/// The `kubeforge` binary's allocator: this bench models `kubeforge apiserver --etcd-servers`,
/// a server process of its own (the other API server benches model an embedding test suite
/// and keep the system allocator).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

type Res<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

const CLIENTS: usize = 64;

/// The etcd whose CPU and requests the throughput windows report (set once it runs).
static PROBED: std::sync::OnceLock<(u32, String)> = std::sync::OnceLock::new();

/// CPU seconds (user and system) a process has used so far.
fn cpu_seconds(pid: &str) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0.0;
    };
    // The fields after the command's closing parenthesis: state is the first, utime the 12th.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks: f64 = [11, 12]
        .iter()
        .filter_map(|&i| fields.get(i)?.parse::<f64>().ok())
        .sum();
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    ticks / hz
}

/// A snapshot of the costs a window reports.
struct Costs {
    etcd_cpu: f64,
    own_cpu: f64,
    requests: std::collections::BTreeMap<String, f64>,
}

async fn costs() -> Option<Costs> {
    let (pid, url) = PROBED.get()?;
    Some(Costs {
        etcd_cpu: cpu_seconds(&pid.to_string()),
        own_cpu: cpu_seconds("self"),
        requests: etcd_support::grpc_requests(url).await,
    })
}

/// Reports on stderr what `ops` operations in `elapsed` seconds cost between two snapshots.
fn report(before: Option<Costs>, after: Option<Costs>, ops: u64, elapsed: f64) {
    let (Some(before), Some(after)) = (before, after) else {
        return;
    };
    let per_op = |v: f64| 1000.0 * v / ops.max(1) as f64;
    let requests: Vec<String> = after
        .requests
        .iter()
        .filter_map(|(method, n)| {
            let d = n - before.requests.get(method).copied().unwrap_or(0.0);
            (d > 0.0).then(|| format!("{method} {:.2}", d / ops.max(1) as f64))
        })
        .collect();
    let (etcd, own) = (
        after.etcd_cpu - before.etcd_cpu,
        after.own_cpu - before.own_cpu,
    );
    eprintln!(
        "    {ops} ops; CPU per op: etcd {:.3} ms, bench process {:.3} ms; cores busy: etcd {:.2}, bench process {:.2}; etcd requests per op: {}",
        per_op(etcd),
        per_op(own),
        etcd / elapsed,
        own / elapsed,
        requests.join(", ")
    );
}

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
    let snapshot = costs().await;
    let (start, before) = (Instant::now(), done.load(Ordering::Relaxed));
    tokio::time::sleep(window()).await;
    let count = done.load(Ordering::Relaxed) - before;
    let elapsed = start.elapsed().as_secs_f64();
    report(snapshot, costs().await, count, elapsed);
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

/// The same creates from a thin HTTP/1.1 client: 64 kept-alive connections, each request a
/// ready JSON body with only the name formatted in, and the answer's body read and dropped
/// unparsed, as etcd's put rate is measured with a thin client. What it adds over [`creates`]
/// is what kube-rs's typed client costs per request in this process.
async fn thin_creates(server: &ApiServer) -> Res<f64> {
    use http_body_util::{BodyExt, Full};
    let addr = server.addr();
    let mut senders = Vec::new();
    for _ in 0..CLIENTS {
        let stream = tokio::net::TcpStream::connect(addr).await?;
        let (sender, conn) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await?;
        tokio::spawn(conn);
        senders.push(sender);
    }
    let pool = Arc::new(std::sync::Mutex::new(senders));
    let uri = format!("http://{addr}/api/v1/namespaces/default/configmaps");
    rate(move |i| {
        let (pool, uri) = (pool.clone(), uri.clone());
        async move {
            let mut sender = pool
                .lock()
                .map_err(|_| "pool poisoned")?
                .pop()
                .ok_or("no free connection")?;
            let body = format!(
                r#"{{"apiVersion":"v1","kind":"ConfigMap","metadata":{{"name":"thin-{i}","namespace":"default","labels":{{"app":"bench"}}}},"data":{{"app.properties":"replicas=3\nmode=fast\n","owner":"bench"}}}}"#
            );
            let request = hyper::Request::post(&uri)
                .header("content-type", "application/json")
                .header("accept", "application/json")
                .body(Full::new(bytes::Bytes::from(body)))?;
            let response = sender.send_request(request).await?;
            let status = response.status();
            response.into_body().collect().await?;
            pool.lock().map_err(|_| "pool poisoned")?.push(sender);
            if status != hyper::StatusCode::CREATED {
                return Err(format!("create answered {status}").into());
            }
            Ok(())
        }
    })
    .await
}

/// etcd alone, through etcd-client: the transaction a create sends (put if absent, else read),
/// 64 at a time; with `echo`, each also waits until a watch of the whole prefix (with `prev_kv`,
/// as the server's feed) has delivered its revision, as a create waits for the server's cache.
async fn txn_rate(etcd: &Etcd, value: Vec<u8>, echo: bool) -> Res<f64> {
    use etcd_client::{Compare, CompareOp, Txn, TxnOp, WatchOptions};
    let client = etcd.client().await;
    let prefix = format!("/bench/txn-{echo}/");
    let seen = Arc::new(tokio::sync::watch::channel(0i64).0);
    let follower = if echo {
        let options = WatchOptions::new().with_prefix().with_prev_key();
        let stream = client
            .watch_client()
            .watch(prefix.clone(), Some(options))
            .await?;
        let (_requests, mut responses) = stream.split();
        let seen = seen.clone();
        Some(tokio::spawn(async move {
            let _requests = _requests;
            while let Ok(Some(response)) = responses.message().await {
                if let Some(rev) = response
                    .events()
                    .iter()
                    .filter_map(|e| e.kv().map(|kv| kv.mod_revision()))
                    .max()
                {
                    seen.send_replace(rev);
                }
            }
        }))
    } else {
        None
    };
    let result = rate(move |i| {
        let mut kv = client.kv_client();
        let (value, seen) = (value.clone(), seen.clone());
        let key = format!("{prefix}{i}");
        async move {
            let txn = Txn::new()
                .when([Compare::create_revision(key.clone(), CompareOp::Equal, 0)])
                .and_then([TxnOp::put(key.clone(), value, None)])
                .or_else([TxnOp::get(key, None)]);
            let response = kv.txn(txn).await?;
            let rev = response.header().map(|h| h.revision()).unwrap_or(0);
            if echo {
                seen.subscribe().wait_for(|r| *r >= rev).await?;
            }
            Ok(())
        }
    })
    .await;
    if let Some(f) = follower {
        f.abort();
    }
    result
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

/// Median time of 5 LISTs of the `list` namespace, with `query` (e.g. `?resourceVersion=0`).
async fn list_time(server: &ApiServer, query: &str) -> Res<(f64, usize)> {
    let mut times = Vec::new();
    let mut size = 0;
    for _ in 0..5 {
        let start = Instant::now();
        size = raw_get(
            server.addr(),
            &format!("/api/v1/namespaces/list/configmaps{query}"),
        )
        .await?;
        times.push(start.elapsed().as_secs_f64());
    }
    times.sort_by(f64::total_cmp);
    Ok((times[2], size))
}

/// 10,000 ConfigMaps in namespace `list` of `server`, listed without resourceVersion (a
/// consistent read: from etcd itself before etcd 3.4.31/3.5.13, else from the cache once it has
/// reached etcd's revision) and with `resourceVersion=0` (from the cache as it is).
async fn lists(server: &ApiServer, name: &str) -> Res<()> {
    namespace(server, "list").await?;
    populate(server, 10_000).await?;
    for (query, how) in [
        ("", "consistent"),
        ("?resourceVersion=0", "resourceVersion=0"),
    ] {
        let (time, size) = list_time(server, query).await?;
        println!(
            "| LIST of 10,000 ConfigMaps ({size} bytes), {name}, {how} | {:.1} ms |",
            time * 1000.0
        );
    }
    Ok(())
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
    if let Some(pid) = etcd.pid() {
        let _ = PROBED.set((pid, etcd.url()));
    }
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
    if std::env::args().any(|a| a == "list") {
        // `-- list`: only the LISTs on etcd.
        return lists(&on_etcd, "etcd").await;
    }
    let etcd_creates = creates(&on_etcd).await?;
    println!(
        "| ConfigMap creates over HTTP, {CLIENTS} clients, etcd | {etcd_creates:.0} /s ({:.0}% of etcd's put rate) |",
        100.0 * etcd_creates / put_rate
    );
    let thin = thin_creates(&on_etcd).await?;
    println!(
        "| ConfigMap creates over HTTP, {CLIENTS} thin HTTP/1.1 clients, etcd | {thin:.0} /s ({:.0}% of etcd's put rate) |",
        100.0 * thin / put_rate
    );
    let stored = etcd
        .client()
        .await
        .kv_client()
        .get("/registry/configmaps/default/cm-0", None)
        .await?
        .kvs()
        .first()
        .map(|kv| kv.value().to_vec())
        .ok_or("cm-0 is not in etcd")?;
    let txns = txn_rate(&etcd, stored.clone(), false).await?;
    println!(
        "| etcd alone: a create's transaction ({} bytes), {CLIENTS} concurrent | {txns:.0} /s ({:.0}% of etcd's put rate) |",
        stored.len(),
        100.0 * txns / put_rate
    );
    let echoed = txn_rate(&etcd, stored, true).await?;
    println!(
        "| etcd alone: same, each waiting for its event on a prefix watch (prev_kv) | {echoed:.0} /s ({:.0}% of etcd's put rate) |",
        100.0 * echoed / put_rate
    );
    if std::env::args().any(|a| a == "ratio") {
        // `-- ratio`: the put rate and the creates on etcd only.
        return Ok(());
    }
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
        lists(server, name).await?;
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
