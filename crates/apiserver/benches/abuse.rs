//! A well-behaved client's latency while another client abuses the server (not a timed test:
//! it prints a table; the figures are in docs/benchmarks.md).
//!
//! ```text
//! cargo bench -p kubeforge-apiserver --bench abuse                 # every abuse
//! cargo bench -p kubeforge-apiserver --bench abuse -- deep-yaml    # one (or several) by name
//! ```
//!
//! For each abuse, an in-process server (in memory, a multi-threaded runtime of two workers, as
//! the machine has two cores) serves a paced well-behaved client — a ConfigMap GET every 5 ms
//! over kube's client, latency measured from the scheduled send time, so a stalled server
//! cannot hide its queueing — while an abusive client sends one kind of bad input in a loop for
//! the window. Reported per abuse: the good client's p50/p99/max, how many of its requests got
//! a 5xx or failed, how many abusive requests were answered and with which codes, and the peak
//! resident memory of the process during the window. Target: p99 ≤ 50 ms, no 5xx.
//!
//! `KUBEFORGE_BENCH_QUICK=1` shortens the window (1 s instead of 5 s) for a smoke run.

use axum::http::{Method, Request, header};
use kubeforge_apiserver::ApiServer;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

type Res<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

const ABUSES: &[(&str, &str)] = &[
    ("none", "no abuse (the baseline)"),
    ("deep-cel", "CRDs with a rule of 3,000 chained `+`"),
    ("deep-macros", "CRDs with `exists` nested 3,000 deep"),
    ("regex", "CRDs with a pattern of 5,000 alternations"),
    ("deep-yaml", "2 MiB YAML bodies nested 1 M deep"),
    (
        "json-patch",
        "the JSON patch that panicked json-patch's undo",
    ),
    ("deletecollection", "DELETE across all namespaces"),
    ("invalid", "invalid Deployments and Services, bad selectors"),
    ("idle", "300 idle connections, renewed as they are closed"),
    ("slow-headers", "connections sending half a request head"),
    ("flood", "64 concurrent creates with no pause"),
    (
        "long-lists",
        "strategic patches adding and deleting 60,000 finalizers",
    ),
    ("h2c", "HTTP/2 prior-knowledge requests"),
];

fn window() -> Duration {
    if std::env::var("KUBEFORGE_BENCH_QUICK").is_ok_and(|v| v == "1") {
        Duration::from_secs(1)
    } else {
        Duration::from_secs(5)
    }
}

fn vm_hwm_rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| {
            l.trim_start_matches("VmRSS:")
                .trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<u64>()
                .ok()
        })
        .map_or(0, |kb| kb * 1024)
}

/// What the abusive client saw.
#[derive(Default)]
struct AbuseTally {
    codes: BTreeMap<u16, u64>,
    failed: u64,
}

async fn raw(client: &kube::Client, method: &str, uri: &str, ct: &str, body: Vec<u8>) -> Res<u16> {
    let mut req = Request::builder()
        .method(Method::from_bytes(method.as_bytes())?)
        .uri(uri);
    if !ct.is_empty() {
        req = req.header(header::CONTENT_TYPE, ct);
    }
    let resp = client
        .send(req.body(kube::client::Body::from(body))?)
        .await?;
    let code = resp.status().as_u16();
    let _ = resp.into_body().collect_bytes().await;
    Ok(code)
}

/// A raw HTTP/1.1 exchange without kube's client (which retries 429s by itself).
async fn raw_tcp(addr: SocketAddr, head: &str, body: &[u8]) -> Res<u16> {
    let mut stream = TcpStream::connect(addr).await?;
    stream
        .write_all(
            format!(
                "{head}\r\nHost: x\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            )
            .as_bytes(),
        )
        .await?;
    stream.write_all(body).await?;
    let mut out = Vec::new();
    stream.read_to_end(&mut out).await?;
    let code = std::str::from_utf8(out.get(9..12).unwrap_or_default())?.parse()?;
    Ok(code)
}

fn crd_with(schema: Value) -> Vec<u8> {
    let suffix = uuid::Uuid::new_v4().simple().to_string();
    let plural = format!("abuse{}", &suffix[..12]);
    serde_json::to_vec(&json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": format!("{plural}.bench.example.com")},
        "spec": {
            "group": "bench.example.com",
            "names": {"plural": plural, "kind": format!("Abuse{}", &suffix[..12]), "singular": plural},
            "scope": "Namespaced",
            "versions": [{"name": "v1", "served": true, "storage": true,
                "schema": {"openAPIV3Schema": {"type": "object", "properties": {"spec": schema}}}}],
        },
    }))
    .unwrap_or_default()
}

/// One abusive request (or connection) of `kind`.
async fn abuse_once(kind: &str, client: &kube::Client, addr: SocketAddr, t: &mut AbuseTally) {
    let crds = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions";
    let json = "application/json";
    let result: Res<u16> = match kind {
        "deep-cel" => {
            let rule = format!("{} > 0", vec!["1"; 3000].join("+"));
            let schema = json!({"type": "object", "x-kubernetes-validations": [{"rule": rule}]});
            raw(client, "POST", crds, json, crd_with(schema)).await
        }
        "deep-macros" => {
            let mut rule = "true".to_string();
            for i in 0..3000 {
                rule = format!("self.tags.exists(a{i}, {rule})");
            }
            let schema = json!({"type": "object",
                "properties": {"tags": {"type": "array", "items": {"type": "string"}}},
                "x-kubernetes-validations": [{"rule": rule}]});
            raw(client, "POST", crds, json, crd_with(schema)).await
        }
        "regex" => {
            let schema = json!({"type": "object", "properties": {
                "v": {"type": "string", "pattern": "(a|b)".repeat(5000)}}});
            raw(client, "POST", crds, json, crd_with(schema)).await
        }
        "deep-yaml" => {
            let depth = 1 << 20;
            let body = format!("{{a: {}{}}}", "[".repeat(depth), "]".repeat(depth));
            raw(
                client,
                "POST",
                "/api/v1/namespaces/default/configmaps",
                "application/yaml",
                body.into_bytes(),
            )
            .await
        }
        "json-patch" => {
            raw(
                client,
                "PATCH",
                "/api/v1/namespaces/default/configmaps/good",
                "application/json-patch+json",
                br#"[{"op":"move","path":"","from":"/data"},{"op":"remove","path":"/nope"}]"#
                    .to_vec(),
            )
            .await
        }
        "deletecollection" => raw(client, "DELETE", "/api/v1/configmaps", "", Vec::new()).await,
        "invalid" => {
            let bad = json!({"apiVersion": "apps/v1", "kind": "Deployment",
                "metadata": {"name": "bad"},
                "spec": {"replicas": -5, "selector": {"matchLabels": {"a": "b"}},
                    "template": {"metadata": {"labels": {"a": "b"}}, "spec": {"containers": []}}}});
            let svc = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "bad"},
                "spec": {"ports": [{"port": 999_999}]}});
            let a = raw(
                client,
                "POST",
                "/apis/apps/v1/namespaces/default/deployments",
                json,
                serde_json::to_vec(&bad).unwrap_or_default(),
            )
            .await;
            let _ = raw(
                client,
                "POST",
                "/api/v1/namespaces/default/services",
                json,
                serde_json::to_vec(&svc).unwrap_or_default(),
            )
            .await;
            let _ = raw(
                client,
                "GET",
                "/api/v1/configmaps?fieldSelector=metadata.name%3D%3Da%3D%3Db",
                "",
                Vec::new(),
            )
            .await;
            a
        }
        "idle" => {
            // 300 silent connections, held until the server closes them.
            let mut held = Vec::new();
            for _ in 0..300 {
                if let Ok(s) = TcpStream::connect(addr).await {
                    held.push(s);
                }
            }
            let n = held.len() as u64;
            tokio::time::sleep(Duration::from_millis(500)).await;
            drop(held);
            *t.codes.entry(0).or_default() += n;
            return;
        }
        "slow-headers" => {
            let mut held = Vec::new();
            for _ in 0..100 {
                if let Ok(mut s) = TcpStream::connect(addr).await {
                    let _ = s
                        .write_all(b"GET /api HTTP/1.1\r\nHost: x\r\nX-Slow: ")
                        .await;
                    held.push(s);
                }
            }
            let n = held.len() as u64;
            tokio::time::sleep(Duration::from_millis(500)).await;
            drop(held);
            *t.codes.entry(0).or_default() += n;
            return;
        }
        "flood" => {
            let mut tasks = Vec::new();
            for _ in 0..64 {
                let name = uuid::Uuid::new_v4().simple().to_string();
                let body = serde_json::to_vec(&json!({"apiVersion": "v1", "kind": "ConfigMap",
                    "metadata": {"name": name}, "data": {"a": "1"}}))
                .unwrap_or_default();
                tasks.push(tokio::spawn(async move {
                    raw_tcp(
                        addr,
                        "POST /api/v1/namespaces/flood/configmaps HTTP/1.1\r\nContent-Type: application/json",
                        &body,
                    )
                    .await
                }));
            }
            for task in tasks {
                match task.await {
                    Ok(Ok(code)) => *t.codes.entry(code).or_default() += 1,
                    _ => t.failed += 1,
                }
            }
            return;
        }
        "h2c" => h2c_get(addr).await,
        "long-lists" => {
            let finalizers: Vec<String> =
                (0..60_000).map(|i| format!("example.com/f{i}")).collect();
            let uri = "/api/v1/namespaces/flood/configmaps/lists";
            let sm = "application/strategic-merge-patch+json";
            let add = json!({"metadata": {"finalizers": finalizers}});
            let del = json!({"metadata": {"$deleteFromPrimitiveList/finalizers": finalizers}});
            let _ = raw(
                client,
                "PATCH",
                uri,
                sm,
                serde_json::to_vec(&add).unwrap_or_default(),
            )
            .await;
            raw(
                client,
                "PATCH",
                uri,
                sm,
                serde_json::to_vec(&del).unwrap_or_default(),
            )
            .await
        }
        _ => {
            tokio::time::sleep(Duration::from_millis(50)).await;
            return;
        }
    };
    match result {
        Ok(code) => *t.codes.entry(code).or_default() += 1,
        Err(_) => t.failed += 1,
    }
}

async fn h2c_get(addr: SocketAddr) -> Res<u16> {
    let stream = TcpStream::connect(addr).await?;
    let (mut sender, conn) = hyper::client::conn::http2::handshake(
        hyper_util::rt::TokioExecutor::new(),
        hyper_util::rt::TokioIo::new(stream),
    )
    .await?;
    tokio::spawn(conn);
    let req = Request::builder()
        .uri(format!(
            "http://{addr}/api/v1/namespaces/default/configmaps"
        ))
        .body(http_body_util::Empty::<bytes::Bytes>::new())?;
    Ok(sender.send_request(req).await?.status().as_u16())
}

/// The good client's figures for one window.
struct Good {
    latencies: Vec<Duration>,
    bad: u64,
}

async fn good_client(client: kube::Client, stop: Arc<AtomicBool>) -> Good {
    let api: kube::Api<k8s_openapi::api::core::v1::ConfigMap> =
        kube::Api::namespaced(client, "default");
    let period = Duration::from_millis(5);
    let start = tokio::time::Instant::now();
    let mut latencies = Vec::new();
    let mut bad = 0;
    let mut i = 0u32;
    while !stop.load(Ordering::Relaxed) {
        let scheduled = start + period * i;
        tokio::time::sleep_until(scheduled).await;
        match api.get("good").await {
            Ok(_) => {}
            Err(_) => bad += 1,
        }
        latencies.push(scheduled.elapsed());
        i += 1;
    }
    Good { latencies, bad }
}

async fn run_abuse(kind: &str) -> Res<()> {
    let server = ApiServer::builder().in_memory().start().await?;
    let client = server.client();
    let addr = server.addr();
    for ns in ["flood"] {
        raw(
            &client,
            "POST",
            "/api/v1/namespaces",
            "application/json",
            serde_json::to_vec(
                &json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}),
            )?,
        )
        .await?;
    }
    raw(
        &client,
        "POST",
        "/api/v1/namespaces/flood/configmaps",
        "application/json",
        serde_json::to_vec(&json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "lists"}, "data": {"a": "1"}}))?,
    )
    .await?;
    raw(
        &client,
        "POST",
        "/api/v1/namespaces/default/configmaps",
        "application/json",
        serde_json::to_vec(&json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "good"}, "data": {"a": "1"}}))?,
    )
    .await?;
    let stop = Arc::new(AtomicBool::new(false));
    let peak = Arc::new(AtomicU64::new(vm_hwm_rss()));
    let sampler = {
        let (stop, peak) = (stop.clone(), peak.clone());
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                peak.fetch_max(vm_hwm_rss(), Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    };
    // The good client has a connection pool of its own.
    let mut config = kube::Config::new(server.url().parse()?);
    config.root_cert = Some(Vec::new());
    let good = tokio::spawn(good_client(kube::Client::try_from(config)?, stop.clone()));
    let abuser = {
        let (stop, kind) = (stop.clone(), kind.to_string());
        let client = client.clone();
        tokio::spawn(async move {
            let mut tally = AbuseTally::default();
            while !stop.load(Ordering::Relaxed) {
                abuse_once(&kind, &client, addr, &mut tally).await;
            }
            tally
        })
    };
    tokio::time::sleep(window()).await;
    stop.store(true, Ordering::Relaxed);
    let good = good.await?;
    let tally = abuser.await?;
    sampler.await?;
    let mut l = good.latencies;
    l.sort();
    let q = |p: f64| {
        l.get(((l.len() as f64 * p) as usize).min(l.len().saturating_sub(1)))
            .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    };
    let codes: Vec<String> = tally
        .codes
        .iter()
        .map(|(c, n)| {
            if *c == 0 {
                format!("{n} conns")
            } else {
                format!("{n}×{c}")
            }
        })
        .collect();
    println!(
        "| {kind} | {} | {:.1} | {:.1} | {:.1} | {} | {}{} | {} MiB |",
        l.len(),
        q(0.5),
        q(0.99),
        l.last().map_or(0.0, |d| d.as_secs_f64() * 1000.0),
        good.bad,
        codes.join(", "),
        if tally.failed > 0 {
            format!(", {} failed", tally.failed)
        } else {
            String::new()
        },
        peak.load(Ordering::Relaxed) >> 20,
    );
    server.shutdown().await;
    Ok(())
}

fn main() -> Res<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if !args.iter().any(|a| a == "--bench") {
        println!("abuse benchmark: run with `cargo bench -p kubeforge-apiserver --bench abuse`");
        return Ok(());
    }
    let mut wanted: Vec<String> = args.into_iter().filter(|a| !a.starts_with("--")).collect();
    if wanted.is_empty() {
        wanted = ABUSES.iter().map(|(n, _)| n.to_string()).collect();
    }
    if args_unknown(&wanted) {
        let names: Vec<&str> = ABUSES.iter().map(|(n, _)| *n).collect();
        return Err(format!("known abuses: {}", names.join(", ")).into());
    }
    println!(
        "| abuse | good GETs | p50 ms | p99 ms | max ms | good errors | abusive answers | peak RSS |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for kind in &wanted {
        // Each abuse in a fresh runtime and server, so one's leftovers do not weigh on the next.
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()?;
        runtime.block_on(run_abuse(kind))?;
    }
    Ok(())
}

fn args_unknown(wanted: &[String]) -> bool {
    wanted.iter().any(|w| !ABUSES.iter().any(|(n, _)| n == w))
}
