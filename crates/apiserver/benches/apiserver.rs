//! Reproducible performance figures for kubeforge-apiserver (not a timed test: nothing here
//! passes or fails, it prints a table).
//!
//! ```text
//! cargo bench -p kubeforge-apiserver --bench apiserver               # every scenario
//! cargo bench -p kubeforge-apiserver --bench apiserver -- create     # one (or several) by name
//! ```
//!
//! Scenarios: `start`, `create`, `tls` (creates over TLS vs plain, with token authentication and
//! RBAC, new-connection cost), `admission` (a validating webhook and a ValidatingAdmissionPolicy
//! against none), `conversion` (a LIST through a conversion webhook), `paced`, `list`, `watch`, `restart`, `memory`, and the
//! whole-cluster ones: `apply` (server-side apply against a plain update), `gc` (one owner with
//! 10,000 dependents), `namespace` (deleting a namespace of 10,000 objects), `rollout` (a simulated
//! Deployment of 1,000 replicas becoming available), `jobs` (1,000 simulated Jobs to Complete),
//! `statefulset` (a simulated StatefulSet of 100 replicas to Ready). When more than one runs,
//! each runs in its own child process (the bench binary re-executed), so that memory freed by
//! one scenario cannot hide or inflate the next one's figures. Every figure is measured several
//! times and reported as the median with the smallest and largest run beside it.
//!
//! What is measured, honestly:
//! - The server and its clients share one process and one tokio runtime (as an embedding test
//!   suite would), so on a small machine the clients' own CPU (request encoding, response
//!   decoding) is part of every figure.
//! - Latencies over HTTP are measured at the client, from just before the request is sent to the
//!   decoded answer; paced latencies start at the request's *scheduled* time, so a stalled server
//!   cannot hide its queueing (no coordinated omission).
//! - Objects for the LIST, restart and memory scenarios are created in-process through
//!   [`kubeforge_apiserver::rest::Rest::create`] (the same path an HTTP POST takes after decoding),
//!   because populating over HTTP would only make the run longer.
//!
//! `KUBEFORGE_BENCH_QUICK=1` shrinks every scenario (fewer runs, fewer objects) for a smoke run;
//! its figures are not the published ones. `KUBEFORGE_BENCH_WINDOW_MS` lengthens the `create`
//! window for profiling (e.g. under `valgrind --tool=callgrind`).

use futures::StreamExt;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, ListParams, PostParams, WatchEvent, WatchParams};
use kubeforge_apiserver::ApiServer;
use kubeforge_apiserver::rest::WriteOptions;
use serde_json::json;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::sync::mpsc;

type BoxError = Box<dyn std::error::Error + Send + Sync>;
type Res<T> = Result<T, BoxError>;

const SCENARIOS: &[(&str, &str)] = &[
    ("start", "in-process start to ready, in-memory and durable"),
    ("create", "ConfigMap creates over HTTP, 1/16/64 clients"),
    (
        "tls",
        "ConfigMap creates at 64 clients: plain HTTP, TLS, TLS + token + RBAC; new-connection cost",
    ),
    (
        "admission",
        "ConfigMap creates: no extension, one validating webhook, one ValidatingAdmissionPolicy",
    ),
    (
        "conversion",
        "LIST of 10,000 custom objects: storage version vs a conversion webhook's",
    ),
    ("paced", "p99 create latency at a paced 1,000 writes/s"),
    ("list", "LIST of 10,000 ConfigMaps"),
    ("wire", "LIST of 10,000 Pods as JSON and as protobuf"),
    (
        "scale",
        "1,000,000 ConfigMaps in 1,000 namespaces, durable: restart, memory, LIST page, watch",
    ),
    ("watch", "one write fanned out to 1,000 watchers"),
    (
        "spread",
        "creates with 0 and 1,000 idle watches on other namespaces",
    ),
    (
        "restart",
        "durable restart to ready with 100,000 ConfigMaps",
    ),
    ("memory", "resident memory per stored ConfigMap at 100,000"),
    (
        "apply",
        "server-side apply vs update: ConfigMap and Deployment, 16 clients",
    ),
    (
        "gc",
        "garbage collection of one owner with 10,000 dependents",
    ),
    (
        "namespace",
        "deletion of a namespace holding 10,000 ConfigMaps",
    ),
    (
        "rollout",
        "simulated Deployment of 1,000 replicas to available",
    ),
    ("jobs", "1,000 simulated Jobs created → all Complete"),
    (
        "statefulset",
        "simulated StatefulSet of 100 replicas (OrderedReady) to Ready",
    ),
];

/// Environment variable naming the file children append their result rows to.
const ROWS_ENV: &str = "KUBEFORGE_BENCH_ROWS";

fn quick() -> bool {
    std::env::var_os("KUBEFORGE_BENCH_QUICK").is_some_and(|v| v != "0")
}

/// `full` normally, `small` under `KUBEFORGE_BENCH_QUICK`.
fn scale(full: usize, small: usize) -> usize {
    if quick() { small } else { full }
}

// ---------------------------------------------------------------------------------------------
// Results

/// One line of the results table.
struct Row {
    scenario: String,
    figure: String,
    median: String,
    spread: String,
    runs: usize,
    target: String,
    met: String,
}

impl Row {
    fn tsv(&self) -> String {
        [
            self.scenario.as_str(),
            &self.figure,
            &self.median,
            &self.spread,
            &self.runs.to_string(),
            &self.target,
            &self.met,
        ]
        .join("\t")
    }

    fn from_tsv(line: &str) -> Option<Row> {
        let f: Vec<&str> = line.split('\t').collect();
        if f.len() != 7 {
            return None;
        }
        Some(Row {
            scenario: f[0].into(),
            figure: f[1].into(),
            median: f[2].into(),
            spread: f[3].into(),
            runs: f[4].parse().ok()?,
            target: f[5].into(),
            met: f[6].into(),
        })
    }
}

/// What a figure is compared against.
#[derive(Clone, Copy)]
enum Target {
    None,
    AtMost(f64),
    AtLeast(f64),
}

/// Collects the rows of one scenario process.
struct Report {
    scenario: &'static str,
    rows: Vec<Row>,
}

impl Report {
    fn new(scenario: &'static str) -> Self {
        Report {
            scenario,
            rows: Vec::new(),
        }
    }

    /// Adds a figure measured once per run (`samples`), in `unit`.
    fn add(&mut self, figure: impl Into<String>, unit: Unit, samples: &[f64], target: Target) {
        let mut s = samples.to_vec();
        s.sort_by(f64::total_cmp);
        let med = median(&s);
        let (lo, hi) = (
            s.first().copied().unwrap_or(0.0),
            s.last().copied().unwrap_or(0.0),
        );
        let (target_s, met) = match target {
            Target::None => ("—".to_string(), "—".to_string()),
            Target::AtMost(t) => (format!("≤ {}", unit.fmt(t)), yes_no(med <= t)),
            Target::AtLeast(t) => (format!("≥ {}", unit.fmt(t)), yes_no(med >= t)),
        };
        let row = Row {
            scenario: self.scenario.to_string(),
            figure: figure.into(),
            median: unit.fmt(med),
            spread: format!("{} – {}", unit.fmt(lo), unit.fmt(hi)),
            runs: s.len(),
            target: target_s,
            met,
        };
        println!(
            "  {:<58} {:>12}   [{}]  target {} {}",
            row.figure, row.median, row.spread, row.target, row.met
        );
        self.rows.push(row);
    }

    fn finish(self) {
        if let Ok(path) = std::env::var(ROWS_ENV) {
            let mut text = String::new();
            for r in &self.rows {
                text.push_str(&r.tsv());
                text.push('\n');
            }
            use std::io::Write;
            if let Ok(mut f) = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
            {
                let _ = f.write_all(text.as_bytes());
            }
        } else {
            print_table(&self.rows);
        }
    }
}

fn yes_no(ok: bool) -> String {
    if ok { "yes" } else { "**no**" }.to_string()
}

/// How a figure is printed.
#[derive(Clone, Copy)]
enum Unit {
    /// Seconds, printed in ms.
    Ms,
    /// Per second.
    PerSec,
    /// Bytes.
    Bytes,
    /// A percentage.
    Percent,
}

impl Unit {
    fn fmt(self, v: f64) -> String {
        match self {
            Unit::Ms if v < 0.001 => format!("{:.0} µs", v * 1e6),
            Unit::Ms if v < 0.01 => format!("{:.2} ms", v * 1e3),
            Unit::Ms if v < 1.0 => format!("{:.1} ms", v * 1e3),
            Unit::Ms => format!("{:.0} ms", v * 1e3),
            Unit::PerSec => format!("{} /s", thousands(v.round() as u64)),
            Unit::Bytes => format!("{} B", thousands(v.round() as u64)),
            Unit::Percent => format!("{v:.0}%"),
        }
    }
}

fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn median(sorted: &[f64]) -> f64 {
    match sorted.len() {
        0 => 0.0,
        n if n % 2 == 1 => sorted[n / 2],
        n => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
    }
}

/// The `q` quantile (0..=1) of `samples` in seconds, by nearest rank.
fn quantile(samples: &mut [Duration], q: f64) -> f64 {
    samples.sort_unstable();
    sorted_quantile(samples, q)
}

/// The `q` quantile of already sorted `samples`, in seconds.
fn sorted_quantile(samples: &[Duration], q: f64) -> f64 {
    if samples.is_empty() {
        return f64::NAN;
    }
    let rank = ((q * samples.len() as f64).ceil() as usize).clamp(1, samples.len());
    samples[rank - 1].as_secs_f64()
}

fn print_table(rows: &[Row]) {
    println!();
    println!("| scenario | figure | median | spread (min – max) | runs | target | met |");
    println!("|---|---|---|---|---|---|---|");
    for r in rows {
        println!(
            "| {} | {} | {} | {} | {} | {} | {} |",
            r.scenario, r.figure, r.median, r.spread, r.runs, r.target, r.met
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Helpers

/// A kube client of its own (its own connection pool) for `url`.
fn new_client(url: &str) -> Res<kube::Client> {
    let mut config = kube::Config::new(url.parse()?);
    // The server speaks plain HTTP: an empty root store keeps kube from reading the OS trust
    // store for every client (milliseconds each, and not what is being measured).
    config.root_cert = Some(Vec::new());
    Ok(kube::Client::try_from(config)?)
}

fn config_map(name: &str) -> ConfigMap {
    let mut data = BTreeMap::new();
    data.insert(
        "app.properties".to_string(),
        "replicas=3\nmode=fast\n".into(),
    );
    data.insert("owner".to_string(), "bench".into());
    ConfigMap {
        metadata: kube::api::ObjectMeta {
            name: Some(name.to_string()),
            labels: Some([("app".to_string(), "bench".to_string())].into()),
            ..Default::default()
        },
        data: Some(data),
        ..Default::default()
    }
}

fn config_map_json(name: &str) -> serde_json::Value {
    json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": "default", "labels": {"app": "bench"}},
        "data": {"app.properties": "replicas=3\nmode=fast\n", "owner": "bench"},
    })
}

async fn start_server(dir: Option<&Path>) -> Res<ApiServer> {
    let builder = ApiServer::builder();
    let builder = match dir {
        Some(d) => builder.data_dir(d),
        None => builder.in_memory(),
    };
    Ok(builder.start().await?)
}

/// Creates `n` ConfigMaps named `{prefix}{i}` in `default`, in-process, `concurrency` at a time.
async fn populate(server: &ApiServer, prefix: &str, n: usize, concurrency: usize) -> Res<()> {
    let prefix = prefix.to_string();
    populate_with(server, "configmaps", n, concurrency, move |i| {
        config_map_json(&format!("{prefix}{i}"))
    })
    .await
}

/// Creates `n` objects `body(i)` of the core resource `plural`, each in the namespace its
/// `metadata.namespace` names, in-process, `concurrency` at a time.
async fn populate_with(
    server: &ApiServer,
    plural: &str,
    n: usize,
    concurrency: usize,
    body: impl Fn(usize) -> serde_json::Value + Send + Sync + 'static,
) -> Res<()> {
    let body = Arc::new(body);
    let rest = server.rest().clone();
    let rt = rest
        .catalog
        .snapshot()
        .find("", "v1", plural)
        .ok_or_else(|| format!("{plural} are not served"))?;
    let next = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (rest, rt, next, body) = (rest.clone(), rt.clone(), next.clone(), body.clone());
        tasks.push(tokio::spawn(async move {
            let opts = WriteOptions {
                field_manager: "bench".into(),
                ..WriteOptions::default()
            };
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed) as usize;
                if i >= n {
                    return Ok::<(), String>(());
                }
                let object = body(i);
                let ns = object
                    .pointer("/metadata/namespace")
                    .and_then(serde_json::Value::as_str)
                    .map(str::to_string);
                rest.create(&rt, ns.as_deref(), object, &opts)
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

/// A plain HTTP/1.1 GET over a fresh connection; returns the body length. No decoding at all.
async fn raw_get(addr: std::net::SocketAddr, path: &str) -> Res<usize> {
    let mut stream = tokio::net::TcpStream::connect(addr).await?;
    let req = format!(
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nAccept: application/json\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(req.as_bytes()).await?;
    let mut buf = Vec::with_capacity(8 << 20);
    stream.read_to_end(&mut buf).await?;
    let head_end = buf
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or("no HTTP header end")?;
    if !buf.starts_with(b"HTTP/1.1 200") {
        return Err(format!(
            "unexpected answer: {}",
            String::from_utf8_lossy(&buf[..buf.len().min(head_end + 1000)])
        )
        .into());
    }
    Ok(buf.len() - head_end - 4)
}

/// CPU time (user + system) the whole process has used, in seconds.
fn cpu_seconds() -> Res<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat")?;
    let after_comm = stat.rsplit_once(')').ok_or("odd /proc/self/stat")?.1;
    let fields: Vec<&str> = after_comm.split_whitespace().collect();
    // Fields 14 and 15 of stat(5) (utime, stime), in clock ticks of 1/100 s on Linux.
    let ticks: u64 = fields.get(11).ok_or("no utime")?.parse::<u64>()?
        + fields.get(12).ok_or("no stime")?.parse::<u64>()?;
    Ok(ticks as f64 / 100.0)
}

/// Which media a matrix scenario covers (`KUBEFORGE_BENCH_MEDIUM=memory|durable`, default both).
fn media() -> Vec<bool> {
    match std::env::var("KUBEFORGE_BENCH_MEDIUM").as_deref() {
        Ok("memory") => vec![false],
        Ok("durable") => vec![true],
        _ => vec![false, true],
    }
}

/// Which client counts `create` covers (`KUBEFORGE_BENCH_CLIENTS=64`, default 1, 16 and 64).
fn client_counts() -> Vec<usize> {
    std::env::var("KUBEFORGE_BENCH_CLIENTS")
        .ok()
        .and_then(|v| v.split(',').map(|c| c.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![1, 16, 64])
}

/// The measured window of `create` (`KUBEFORGE_BENCH_WINDOW_MS`, default 3 s, 1 s quick): longer
/// under a profiler such as callgrind, which slows everything about 50-fold.
fn create_window() -> Option<Duration> {
    std::env::var("KUBEFORGE_BENCH_WINDOW_MS")
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .map(Duration::from_millis)
}

fn vm_rss_bytes() -> Res<u64> {
    vm_status_bytes("VmRSS:")
}

/// A size from /proc/self/status (`field` with its colon, e.g. `VmHWM:`), in bytes.
fn vm_status_bytes(field: &str) -> Res<u64> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    let line = status
        .lines()
        .find(|l| l.starts_with(field))
        .ok_or_else(|| format!("no {field} in /proc/self/status"))?;
    let kb: u64 = line
        .trim_start_matches(field)
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()?;
    Ok(kb * 1024)
}

// ---------------------------------------------------------------------------------------------
// Scenarios

/// 1. `ApiServerBuilder::start` until it returns (listening, system namespaces created), and
///    until a first client request has been answered.
async fn scenario_start() -> Res<Report> {
    let mut report = Report::new("start");
    let runs = scale(15, 3);
    for durable in [false, true] {
        let (mut ready, mut first) = (Vec::new(), Vec::new());
        for _ in 0..runs {
            let dir = tempfile::tempdir()?;
            let t0 = Instant::now();
            let server = start_server(durable.then(|| dir.path())).await?;
            ready.push(t0.elapsed().as_secs_f64());
            let api: Api<ConfigMap> = Api::namespaced(server.client(), "default");
            api.list(&ListParams::default().limit(1)).await?;
            first.push(t0.elapsed().as_secs_f64());
            server.shutdown().await;
            // The writer thread closes the database after shutdown returns.
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let medium = if durable {
            "durable, empty dir"
        } else {
            "in-memory"
        };
        let target = if durable {
            Target::None
        } else {
            Target::AtMost(0.050)
        };
        report.add(
            format!("start() returns, {medium}"),
            Unit::Ms,
            &ready,
            target,
        );
        report.add(
            format!("start() + first LIST answered, {medium}"),
            Unit::Ms,
            &first,
            Target::None,
        );
    }
    Ok(report)
}

/// The figures of one closed-loop create run.
struct CreateRun {
    /// CPU seconds the whole process (server and clients) spent per create in the window.
    cpu_per_create: f64,
    throughput: f64,
    p50: f64,
    p99: f64,
}

/// `clients` kube clients (each its own connection) create ConfigMaps back to back for
/// `warmup + window`; only requests started after the warm-up and finished inside the window count.
async fn create_run(
    url: &str,
    clients: usize,
    warmup: Duration,
    window: Duration,
) -> Res<CreateRun> {
    let clients: Vec<kube::Client> = (0..clients).map(|_| new_client(url)).collect::<Res<_>>()?;
    create_run_with(clients, warmup, window).await
}

/// Closed-loop creates from `clients` (each its own connection pool).
async fn create_run_with(
    clients: Vec<kube::Client>,
    warmup: Duration,
    window: Duration,
) -> Res<CreateRun> {
    let start = Instant::now();
    let measure_from = start + warmup;
    let end = measure_from + window;
    let cpu = Arc::new(std::sync::Mutex::new(None));
    let mut tasks = Vec::new();
    {
        // Samples the process's CPU time at the start and the end of the window.
        let cpu = cpu.clone();
        tasks.push(tokio::spawn(async move {
            tokio::time::sleep_until(measure_from.into()).await;
            let at_start = cpu_seconds().map_err(|e| e.to_string())?;
            tokio::time::sleep_until(end.into()).await;
            let used = cpu_seconds().map_err(|e| e.to_string())? - at_start;
            *cpu.lock().map_err(|e| e.to_string())? = Some(used);
            Ok::<_, String>(Vec::new())
        }));
    }
    for (c, client) in clients.into_iter().enumerate() {
        tasks.push(tokio::spawn(async move {
            let api: Api<ConfigMap> = Api::namespaced(client, "default");
            let pp = PostParams::default();
            let mut lat = Vec::new();
            let mut i = 0u64;
            loop {
                let t = Instant::now();
                if t >= end {
                    break;
                }
                api.create(&pp, &config_map(&format!("c{c}-{i}")))
                    .await
                    .map_err(|e| e.to_string())?;
                i += 1;
                let done = Instant::now();
                if t >= measure_from && done <= end {
                    lat.push(done - t);
                }
            }
            Ok::<_, String>(lat)
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await??);
    }
    let cpu_used = cpu.lock().map_err(|e| e.to_string())?.unwrap_or(f64::NAN);
    Ok(CreateRun {
        cpu_per_create: cpu_used / all.len() as f64,
        throughput: all.len() as f64 / window.as_secs_f64(),
        p50: quantile(&mut all, 0.50),
        p99: quantile(&mut all, 0.99),
    })
}

/// 2. Closed-loop creates over HTTP with 1, 16 and 64 concurrent clients.
async fn scenario_create() -> Res<Report> {
    let mut report = Report::new("create");
    let runs = scale(3, 1);
    let window = create_window().unwrap_or(Duration::from_millis(scale(3000, 1000) as u64));
    let warmup = Duration::from_millis(500);
    for durable in media() {
        for clients in client_counts() {
            let (mut tput, mut p50, mut p99, mut cpu) =
                (Vec::new(), Vec::new(), Vec::new(), Vec::new());
            for _ in 0..runs {
                let dir = tempfile::tempdir()?;
                let server = start_server(durable.then(|| dir.path())).await?;
                let run = create_run(server.url(), clients, warmup, window).await?;
                tput.push(run.throughput);
                cpu.push(run.cpu_per_create);
                p50.push(run.p50);
                p99.push(run.p99);
                server.shutdown().await;
            }
            let medium = if durable { "durable" } else { "in-memory" };
            let target = match (clients, durable) {
                (64, false) => Target::AtLeast(10_000.0),
                (64, true) => Target::AtLeast(2_000.0),
                _ => Target::None,
            };
            report.add(
                format!("creates/s, {clients} clients, {medium}"),
                Unit::PerSec,
                &tput,
                target,
            );
            report.add(
                format!("create p50, {clients} clients, {medium}"),
                Unit::Ms,
                &p50,
                Target::None,
            );
            report.add(
                format!("create p99, {clients} clients, {medium}"),
                Unit::Ms,
                &p99,
                Target::None,
            );
            report.add(
                format!("CPU per create (server + clients), {clients} clients, {medium}"),
                Unit::Ms,
                &cpu,
                Target::None,
            );
        }
    }
    Ok(report)
}

/// A client of its own for `server`: plain, or over TLS with the administrator's certificate
/// from the server's kubeconfig.
async fn server_client(server: &ApiServer) -> Res<kube::Client> {
    if server.url().starts_with("http://") {
        return new_client(server.url());
    }
    let config = kube::Config::from_custom_kubeconfig(
        serde_json::from_value(server.kubeconfig().clone())?,
        &kube::config::KubeConfigOptions::default(),
    )
    .await?;
    Ok(kube::Client::try_from(config)?)
}

/// One way of reaching the server in the `tls` scenario.
#[derive(Clone, Copy, PartialEq)]
enum Transport {
    /// Plain HTTP (the local administrator: no credentials, no authorization).
    Plain,
    /// TLS with the administrator's client certificate (`system:masters`: RBAC not consulted).
    TlsAdmin,
    /// TLS with a static bearer token (`--token-auth-file`) whose user a RoleBinding to `edit`
    /// allows, among 1,000 other RoleBindings: every request is authenticated and authorized.
    TlsToken,
}

impl Transport {
    fn label(self) -> &'static str {
        match self {
            Transport::Plain => "plain HTTP",
            Transport::TlsAdmin => "TLS, admin client certificate",
            Transport::TlsToken => "TLS, bearer token + RBAC (1,000 RoleBindings)",
        }
    }
}

/// The bearer token of the `tls` scenario's RBAC-bound user.
const BENCH_TOKEN: &str = "kubeforge-bench-token";

/// A client of its own for a TLS `server` authenticating with the bearer `token` (no client
/// certificate): the server's kubeconfig with its user replaced.
async fn token_client(server: &ApiServer, token: &str) -> Res<kube::Client> {
    let mut kubeconfig = server.kubeconfig().clone();
    kubeconfig["users"][0]["user"] = json!({ "token": token });
    let config = kube::Config::from_custom_kubeconfig(
        serde_json::from_value(kubeconfig)?,
        &kube::config::KubeConfigOptions::default(),
    )
    .await?;
    Ok(kube::Client::try_from(config)?)
}

/// 1,000 RoleBindings (10 namespaces × 100, to `view`, `edit` or `admin`, each naming a user and
/// a ServiceAccount), then one in `default` binding `user` to `edit`.
async fn bind_thousand(server: &ApiServer, user: &str) -> Res<()> {
    let rest = server.rest();
    let types = rest.catalog.snapshot();
    let namespaces = types.find("", "v1", "namespaces").ok_or("no namespaces")?;
    let bindings = types
        .find("rbac.authorization.k8s.io", "v1", "rolebindings")
        .ok_or("no rolebindings")?;
    let opts = WriteOptions::default();
    let binding = |ns: &str, name: &str, role: &str, user: &str| {
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
            "metadata": {"name": name, "namespace": ns},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
            "subjects": [
                {"kind": "User", "name": user},
                {"kind": "ServiceAccount", "name": format!("sa-{name}"), "namespace": ns}]})
    };
    for n in 0..10 {
        let ns = format!("rbac-{n}");
        rest.create(
            &namespaces,
            None,
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}),
            &opts,
        )
        .await
        .map_err(|e| e.to_string())?;
        for b in 0..100 {
            let role = ["view", "edit", "admin"][b % 3];
            rest.create(
                &bindings,
                Some(&ns),
                binding(&ns, &format!("b-{b}"), role, &format!("user-{b}")),
                &opts,
            )
            .await
            .map_err(|e| e.to_string())?;
        }
    }
    rest.create(
        &bindings,
        Some("default"),
        binding("default", "bench-edit", "edit", user),
        &opts,
    )
    .await
    .map_err(|e| e.to_string())?;
    Ok(())
}

/// 2a. The cost of TLS and of per-request authentication and authorization: closed-loop creates
///     at 64 clients over plain HTTP, over TLS with the administrator's client certificate, and
///     over TLS with a bearer token whose user RBAC allows (1,000 RoleBindings in the store), one
///     after the other in each run, with each TLS rate also given as a share of the same run's
///     plain rate; and a new connection's cost: a new client's first request (`/version`),
///     TCP and TLS handshakes included.
async fn scenario_tls() -> Res<Report> {
    let mut report = Report::new("tls");
    let runs = scale(3, 1);
    let window = create_window().unwrap_or(Duration::from_millis(scale(3000, 1000) as u64));
    let warmup = Duration::from_millis(500);
    let connections = scale(200, 20);
    let transports = [Transport::Plain, Transport::TlsAdmin, Transport::TlsToken];
    let mut tput: Vec<Vec<f64>> = vec![Vec::new(); transports.len()];
    let mut p99: Vec<Vec<f64>> = vec![Vec::new(); transports.len()];
    let mut cpu: Vec<Vec<f64>> = vec![Vec::new(); transports.len()];
    let mut first: Vec<Vec<f64>> = vec![Vec::new(); transports.len()];
    let mut share: Vec<Vec<f64>> = vec![Vec::new(); transports.len()];
    for _ in 0..runs {
        for (t, transport) in transports.iter().enumerate() {
            let certs = tempfile::tempdir()?;
            let mut builder = ApiServer::builder().in_memory();
            if *transport != Transport::Plain {
                let tokens = certs.path().join("tokens.csv");
                std::fs::write(&tokens, format!("{BENCH_TOKEN},bench-user,bench-uid\n"))?;
                builder = builder
                    .tls(kubeforge_apiserver::tls::TlsOptions::in_dir(
                        certs.path().join("pki"),
                    ))
                    .token_auth_file(&tokens);
            }
            let server = builder.start().await?;
            bind_thousand(&server, "bench-user").await?;
            let connect = || async {
                match transport {
                    Transport::TlsToken => token_client(&server, BENCH_TOKEN).await,
                    _ => server_client(&server).await,
                }
            };
            let mut clients = Vec::new();
            for _ in 0..64 {
                clients.push(connect().await?);
            }
            let run = create_run_with(clients, warmup, window).await?;
            tput[t].push(run.throughput);
            p99[t].push(run.p99);
            cpu[t].push(run.cpu_per_create);
            let mut samples = Vec::new();
            for _ in 0..connections {
                let client = connect().await?;
                let started = Instant::now();
                client.apiserver_version().await?;
                samples.push(started.elapsed());
            }
            samples.sort();
            first[t].push(sorted_quantile(&samples, 0.5));
            server.shutdown().await;
        }
        let plain = tput[0].last().copied().unwrap_or(f64::NAN);
        for (shares, rates) in share.iter_mut().zip(&tput).skip(1) {
            let this = rates.last().copied().unwrap_or(f64::NAN);
            shares.push(100.0 * this / plain);
        }
    }
    for (t, transport) in transports.iter().enumerate() {
        let how = transport.label();
        report.add(
            format!("creates/s, 64 clients, {how}"),
            Unit::PerSec,
            &tput[t],
            Target::None,
        );
        if t > 0 {
            report.add(
                format!("  same, as % of plain HTTP in the same run, {how}"),
                Unit::Percent,
                &share[t],
                Target::AtLeast(85.0),
            );
        }
        report.add(
            format!("create p99, 64 clients, {how}"),
            Unit::Ms,
            &p99[t],
            Target::None,
        );
        report.add(
            format!("CPU per create (server + clients), {how}"),
            Unit::Ms,
            &cpu[t],
            Target::None,
        );
        report.add(
            format!("new connection + first GET /version, p50, {how}"),
            Unit::Ms,
            &first[t],
            Target::None,
        );
    }
    Ok(report)
}

/// 2b. Open-loop creates at a fixed 1,000/s, spread over 64 clients; latency from the scheduled
///     send time to the decoded answer.
async fn scenario_paced() -> Res<Report> {
    let mut report = Report::new("paced");
    let runs = scale(3, 1);
    let rate = 1000u32;
    let total = scale(5000, 1000);
    for durable in media() {
        let (mut p50, mut p99, mut max, mut p99_sched, mut achieved) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for _ in 0..runs {
            let dir = tempfile::tempdir()?;
            let server = start_server(durable.then(|| dir.path())).await?;
            let clients: Vec<Api<ConfigMap>> = (0..64)
                .map(|_| new_client(server.url()).map(|c| Api::namespaced(c, "default")))
                .collect::<Res<_>>()?;
            // Open every connection before the clock starts.
            for (c, api) in clients.iter().enumerate() {
                api.create(&PostParams::default(), &config_map(&format!("warm-{c}")))
                    .await?;
            }
            let mut ticker = tokio::time::interval(Duration::from_secs(1) / rate);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
            let mut tasks = Vec::with_capacity(total);
            let started = Instant::now();
            for i in 0..total {
                let scheduled = ticker.tick().await.into_std();
                let api = clients[i % clients.len()].clone();
                tasks.push(tokio::spawn(async move {
                    let sent = Instant::now();
                    api.create(&PostParams::default(), &config_map(&format!("p-{i}")))
                        .await
                        .map_err(|e| e.to_string())?;
                    Ok::<_, String>((sent.elapsed(), scheduled.elapsed()))
                }));
            }
            let (mut lat, mut lat_sched) = (Vec::with_capacity(total), Vec::with_capacity(total));
            for t in tasks {
                let (from_send, from_schedule) = t.await??;
                lat.push(from_send);
                lat_sched.push(from_schedule);
            }
            achieved.push(total as f64 / started.elapsed().as_secs_f64());
            p50.push(quantile(&mut lat, 0.50));
            p99.push(quantile(&mut lat, 0.99));
            max.push(quantile(&mut lat, 1.0));
            p99_sched.push(quantile(&mut lat_sched, 0.99));
            server.shutdown().await;
        }
        let medium = if durable { "durable" } else { "in-memory" };
        report.add(
            format!("rate achieved (target 1,000/s), {medium}"),
            Unit::PerSec,
            &achieved,
            Target::None,
        );
        report.add(
            format!("create p50 at 1,000/s, {medium}"),
            Unit::Ms,
            &p50,
            Target::None,
        );
        report.add(
            format!("create p99 at 1,000/s, {medium}"),
            Unit::Ms,
            &p99,
            Target::AtMost(0.005),
        );
        report.add(
            format!("create max at 1,000/s, {medium}"),
            Unit::Ms,
            &max,
            Target::None,
        );
        report.add(
            format!("create p99 from scheduled send time, {medium}"),
            Unit::Ms,
            &p99_sched,
            Target::None,
        );
        if durable {
            let mut fsync = fsync_latencies(scale(300, 50))?;
            report.add(
                "disk floor: write 4 KiB + fdatasync, p50",
                Unit::Ms,
                &[quantile(&mut fsync, 0.50)],
                Target::None,
            );
            report.add(
                "disk floor: write 4 KiB + fdatasync, p99",
                Unit::Ms,
                &[quantile(&mut fsync, 0.99)],
                Target::None,
            );
        }
    }
    Ok(report)
}

/// How long the temp dir's disk takes to make a small write durable, `n` times: the floor under
/// every durable acknowledgement.
fn fsync_latencies(n: usize) -> Res<Vec<Duration>> {
    use std::io::Write;
    let dir = tempfile::tempdir()?;
    let mut file = std::fs::File::create(dir.path().join("probe"))?;
    let block = [7u8; 4096];
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        file.write_all(&block)?;
        file.sync_data()?;
        out.push(t.elapsed());
    }
    Ok(out)
}

/// 3. LIST of 10,000 ConfigMaps: through kube-rs (HTTP + decode into typed objects), as raw HTTP
///    (bytes only) and in-process (the store snapshot and filtering, no serialization).
async fn scenario_list() -> Res<Report> {
    let mut report = Report::new("list");
    let n = 10_000;
    let runs = scale(11, 3);
    let server = start_server(None).await?;
    populate(&server, "l-", n, 64).await?;
    let api: Api<ConfigMap> = Api::namespaced(new_client(server.url())?, "default");
    let path = "/api/v1/namespaces/default/configmaps";
    let rest = server.rest().clone();
    let rt = rest
        .catalog
        .snapshot()
        .find("", "v1", "configmaps")
        .ok_or("configmaps are not served")?;
    let (mut kube_t, mut raw_t, mut inproc_t) = (Vec::new(), Vec::new(), Vec::new());
    let mut body = 0;
    // One untimed round first (connection set-up, caches).
    api.list(&ListParams::default()).await?;
    for _ in 0..runs {
        let t = Instant::now();
        let list = api.list(&ListParams::default()).await?;
        kube_t.push(t.elapsed().as_secs_f64());
        if list.items.len() != n {
            return Err(format!("listed {} of {n}", list.items.len()).into());
        }
        let t = Instant::now();
        body = raw_get(server.addr(), path).await?;
        raw_t.push(t.elapsed().as_secs_f64());
        let t = Instant::now();
        let page = rest
            .list(&rt, Some("default"), &Default::default())
            .await
            .map_err(|e| e.to_string())?;
        inproc_t.push(t.elapsed().as_secs_f64());
        if page.items.len() != n {
            return Err(format!("listed {} of {n} in-process", page.items.len()).into());
        }
    }
    report.add(
        "LIST 10,000 ConfigMaps, kube-rs Api::list (typed)",
        Unit::Ms,
        &kube_t,
        Target::AtMost(0.150),
    );
    report.add(
        format!(
            "LIST 10,000 ConfigMaps, raw HTTP GET ({} bytes)",
            thousands(body as u64)
        ),
        Unit::Ms,
        &raw_t,
        Target::None,
    );
    report.add(
        "LIST 10,000 ConfigMaps, in-process Rest::list",
        Unit::Ms,
        &inproc_t,
        Target::None,
    );
    server.shutdown().await;
    Ok(report)
}

/// The latencies of one fan-out write, as seen by every watcher.
struct FanOut {
    from_ack: Vec<Duration>,
    from_request: Vec<Duration>,
}

/// The collection's current resourceVersion (from a LIST of one).
async fn current_resource_version(api: &Api<ConfigMap>) -> Res<String> {
    Ok(api
        .list(&ListParams::default().limit(1))
        .await?
        .metadata
        .resource_version
        .ok_or("list without resourceVersion")?)
}

/// Issues `writes` creates, one at a time; after each waits for all `watchers` to report it on
/// `seen` (name, arrival instant). The first write is a warm-up proving every watch is live.
async fn fan_out_rounds(
    api: &Api<ConfigMap>,
    prefix: &str,
    watchers: usize,
    writes: usize,
    seen: &mut mpsc::UnboundedReceiver<(String, Instant)>,
) -> Res<FanOut> {
    let mut out = FanOut {
        from_ack: Vec::new(),
        from_request: Vec::new(),
    };
    for round in 0..=writes {
        let name = format!("{prefix}{round}");
        let t_req = Instant::now();
        api.create(&PostParams::default(), &config_map(&name))
            .await?;
        let t_ack = Instant::now();
        let mut got = 0;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        while got < watchers {
            let (n, at) = tokio::time::timeout_at(deadline, seen.recv())
                .await
                .map_err(|_| format!("only {got} of {watchers} watchers saw {name}"))?
                .ok_or("watchers stopped")?;
            if n != name {
                return Err(format!("watcher saw {n} while waiting for {name}").into());
            }
            got += 1;
            if round > 0 {
                out.from_ack.push(at.saturating_duration_since(t_ack));
                out.from_request.push(at - t_req);
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(out)
}

/// How the watchers of the fan-out scenario watch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Watcher {
    /// kube-rs `Api::watch`, each event decoded into a typed ConfigMap.
    KubeRs,
    /// A raw streaming GET of JSON lines, each only searched for the object's name.
    RawJson,
    /// A raw streaming GET of protobuf frames (as client-go asks first), each only searched
    /// for the object's name.
    RawProtobuf,
}

impl Watcher {
    fn describe(self) -> &'static str {
        match self {
            Watcher::KubeRs => "kube-rs watchers",
            Watcher::RawJson => "raw HTTP watchers",
            Watcher::RawProtobuf => "raw protobuf watchers",
        }
    }

    fn prefix(self) -> &'static str {
        match self {
            Watcher::KubeRs => "kube-",
            Watcher::RawJson => "raw-",
            Watcher::RawProtobuf => "proto-",
        }
    }
}

/// 4. One write fanned out to 1,000 concurrent HTTP watches, first through kube-rs `Api::watch`
///    (each event decoded into a typed ConfigMap), then through raw streaming GETs (the event
///    line is only searched for the object's name), to separate client decode cost, then
///    through raw streaming GETs of protobuf frames.
async fn scenario_watch() -> Res<Report> {
    let mut report = Report::new("watch");
    let watchers = scale(1000, 100);
    let writes = scale(10, 3);
    let runs = scale(3, 1);
    // (figure, one value per run), in the order first measured.
    let mut samples: Vec<(String, Vec<f64>)> = Vec::new();
    for _ in 0..runs {
        for how in [Watcher::KubeRs, Watcher::RawJson, Watcher::RawProtobuf] {
            let server = start_server(None).await?;
            let writer: Api<ConfigMap> = Api::namespaced(new_client(server.url())?, "default");
            let rv = current_resource_version(&writer).await?;
            let (tx, mut rx) = mpsc::unbounded_channel::<(String, Instant)>();
            let mut tasks = Vec::new();
            // Each watch is started at the same resourceVersion, so an event committed before a
            // watch's task has subscribed is still delivered (from the history), not lost.
            for _ in 0..watchers {
                let tx = tx.clone();
                let rv = rv.clone();
                if how == Watcher::RawJson {
                    let addr = server.addr();
                    tasks.push(tokio::spawn(async move {
                        let _ = raw_watch(addr, "default", &rv, tx).await;
                    }));
                } else if how == Watcher::RawProtobuf {
                    let addr = server.addr();
                    tasks.push(tokio::spawn(async move {
                        let _ = raw_protobuf_watch(addr, "default", &rv, tx).await;
                    }));
                } else {
                    // A client of its own per watch (a watch holds its HTTP/1.1 connection).
                    let client = new_client(server.url())?;
                    tasks.push(tokio::spawn(async move {
                        let api: Api<ConfigMap> = Api::namespaced(client, "default");
                        let Ok(stream) = api.watch(&WatchParams::default().timeout(290), &rv).await
                        else {
                            return;
                        };
                        let mut stream = std::pin::pin!(stream);
                        while let Some(Ok(ev)) = stream.next().await {
                            let at = Instant::now();
                            if let WatchEvent::Added(cm) = ev {
                                let name = cm.metadata.name.unwrap_or_default();
                                if tx.send((name, at)).is_err() {
                                    return;
                                }
                            }
                        }
                    }));
                }
            }
            drop(tx);
            let mut res = fan_out_rounds(&writer, how.prefix(), watchers, writes, &mut rx).await?;
            let how = how.describe();
            res.from_ack.sort_unstable();
            res.from_request.sort_unstable();
            for (figure, v, q) in [
                ("p50 from ack", &res.from_ack, 0.50),
                ("p99 from ack", &res.from_ack, 0.99),
                ("p50 from request", &res.from_request, 0.50),
                ("p99 from request", &res.from_request, 0.99),
                ("last watcher from request", &res.from_request, 1.0),
            ] {
                let key = format!("{how}|{figure}");
                let value = sorted_quantile(v, q);
                match samples.iter_mut().find(|(k, _)| *k == key) {
                    Some((_, runs)) => runs.push(value),
                    None => samples.push((key, vec![value])),
                }
            }
            for t in tasks {
                t.abort();
            }
            server.shutdown().await;
        }
    }
    for (key, v) in samples {
        let (how, figure) = key.split_once('|').unwrap_or((&key, ""));
        let target = if figure == "p99 from ack" && how.starts_with("kube") {
            Target::AtMost(0.050)
        } else {
            Target::None
        };
        report.add(
            format!("1 write → {watchers} {how}: {figure}"),
            Unit::Ms,
            &v,
            target,
        );
    }
    Ok(report)
}

/// Opens a watch of the ConfigMaps of `namespace` from `rv` over a plain HTTP/1.1 connection,
/// asking for `accept`; answers the connection, to read the response from.
async fn raw_watch_request(
    addr: std::net::SocketAddr,
    namespace: &str,
    rv: &str,
    accept: &str,
) -> Res<BufReader<tokio::net::TcpStream>> {
    let mut stream = tokio::net::TcpStream::connect(addr).await?;
    let req = format!(
        "GET /api/v1/namespaces/{namespace}/configmaps?watch=true&resourceVersion={rv}&timeoutSeconds=290 HTTP/1.1\r\nHost: {addr}\r\nAccept: {accept}\r\n\r\n"
    );
    stream.write_all(req.as_bytes()).await?;
    Ok(BufReader::new(stream))
}

/// A watch over a plain HTTP/1.1 connection; reports the name of every object whose event line
/// arrives (found by searching the line, no JSON decoding).
async fn raw_watch(
    addr: std::net::SocketAddr,
    namespace: &str,
    rv: &str,
    tx: mpsc::UnboundedSender<(String, Instant)>,
) -> Res<()> {
    let mut reader = raw_watch_request(addr, namespace, rv, "application/json").await?;
    let mut line = String::new();
    loop {
        line.clear();
        if reader.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let at = Instant::now();
        if !line.starts_with("{\"type\":\"ADDED\"") {
            continue;
        }
        let Some(i) = line.find("\"name\":\"") else {
            continue;
        };
        let rest = &line[i + 8..];
        let name = rest.split('"').next().unwrap_or_default().to_string();
        if tx.send((name, at)).is_err() {
            return Ok(());
        }
    }
}

/// A protobuf watch over a plain HTTP/1.1 connection (`Accept` as client-go sends it): the
/// chunked body is reassembled into length-prefixed frames, and each frame is searched for the
/// name of the object it carries (a name starting `proto-`; no protobuf decoding).
async fn raw_protobuf_watch(
    addr: std::net::SocketAddr,
    namespace: &str,
    rv: &str,
    tx: mpsc::UnboundedSender<(String, Instant)>,
) -> Res<()> {
    let accept = "application/vnd.kubernetes.protobuf,application/json";
    let mut reader = raw_watch_request(addr, namespace, rv, accept).await?;
    let mut line = String::new();
    // The response head.
    loop {
        line.clear();
        if reader.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        if line == "\r\n" {
            break;
        }
    }
    let mut body: Vec<u8> = Vec::new();
    loop {
        // One chunk: its size in hex, the bytes, CRLF.
        line.clear();
        if reader.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let size = usize::from_str_radix(line.trim_end(), 16)?;
        if size == 0 {
            return Ok(());
        }
        let start = body.len();
        body.resize(start + size + 2, 0);
        reader.read_exact(&mut body[start..]).await?;
        body.truncate(start + size);
        let at = Instant::now();
        // Every whole frame received.
        while body.len() >= 4 {
            let len = u32::from_be_bytes([body[0], body[1], body[2], body[3]]) as usize;
            if body.len() < 4 + len {
                break;
            }
            let frame: Vec<u8> = body.drain(..4 + len).skip(4).collect();
            let Some(i) = frame.windows(6).position(|w| w == b"proto-") else {
                continue;
            };
            let name: String = frame[i..]
                .iter()
                .take_while(|b| b.is_ascii_alphanumeric() || **b == b'-')
                .map(|b| *b as char)
                .collect();
            if tx.send((name, at)).is_err() {
                return Ok(());
            }
        }
    }
}

/// 5. A durable server holding 100,000 ConfigMaps: shut down, then started again until ready.
async fn scenario_restart() -> Res<Report> {
    let mut report = Report::new("restart");
    let n = scale(100_000, 10_000);
    let runs = scale(5, 2);
    let dir = tempfile::tempdir()?;
    let server = start_server(Some(dir.path())).await?;
    let t = Instant::now();
    populate(&server, "r-", n, 256).await?;
    let populate_s = t.elapsed().as_secs_f64();
    println!(
        "  (populated {} ConfigMaps durably in {:.1} s, {:.0}/s in-process)",
        thousands(n as u64),
        populate_s,
        n as f64 / populate_s
    );
    server.shutdown().await;
    let db = dir.path().join("kubeforge.redb");
    let size = std::fs::metadata(&db).map(|m| m.len()).unwrap_or(0);
    let (mut ready, mut first) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        // shutdown() returns before the writer thread has closed the database file.
        tokio::time::sleep(Duration::from_millis(500)).await;
        let t0 = Instant::now();
        let server = start_server(Some(dir.path())).await?;
        ready.push(t0.elapsed().as_secs_f64());
        let api: Api<ConfigMap> = Api::namespaced(server.client(), "default");
        api.get(&format!("r-{}", n - 1)).await?;
        first.push(t0.elapsed().as_secs_f64());
        let count = server
            .rest()
            .store
            .list(
                &Arc::from("/configmaps"),
                Some("default"),
                kubeforge_apiserver::storage::ReadAt::Latest,
            )
            .await
            .map(|p| p.items.len())
            .unwrap_or(0);
        if count != n {
            return Err(format!("restarted with {count} of {n} ConfigMaps").into());
        }
        server.shutdown().await;
    }
    report.add(
        format!(
            "restart to ready, {} ConfigMaps durable ({} MB file)",
            thousands(n as u64),
            size / 1_000_000
        ),
        Unit::Ms,
        &ready,
        Target::AtMost(2.0),
    );
    report.add(
        "restart + first GET answered",
        Unit::Ms,
        &first,
        Target::None,
    );
    Ok(report)
}

/// 6. Resident memory per stored ConfigMap (in-memory backend): VmRSS after start and after
///    creating 100,000, in a fresh process per run. Returns (bytes per object, JSON bytes per object).
async fn memory_once() -> Res<(f64, f64)> {
    let n = scale(100_000, 10_000);
    let server = start_server(None).await?;
    // Let start-up allocations settle.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let before = vm_rss_bytes()?;
    populate(&server, "m-", n, 64).await?;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let after = vm_rss_bytes()?;
    let page = server
        .rest()
        .store
        .list(
            &Arc::from("/configmaps"),
            Some("default"),
            kubeforge_apiserver::storage::ReadAt::Latest,
        )
        .await
        .map_err(|e| e.to_string())?;
    let json: usize = page.items.iter().map(|(_, o)| o.json.len()).sum();
    server.shutdown().await;
    Ok(((after - before) as f64 / n as f64, json as f64 / n as f64))
}

/// Runs this bench binary again with `args` (a measuring child, in a fresh process) and returns
/// what follows `prefix` on the line of its output that starts with it.
fn child_result(args: &[&std::ffi::OsStr], prefix: &str) -> Res<String> {
    child_result_of(&std::env::current_exe()?, args, prefix)
}

/// As [`child_result`], of the bench binary `exe` (another build of this bench).
fn child_result_of(exe: &Path, args: &[&std::ffi::OsStr], prefix: &str) -> Res<String> {
    let out = std::process::Command::new(exe)
        .arg("--bench")
        .args(args)
        .env_remove(ROWS_ENV)
        .output()?;
    if !out.status.success() {
        return Err(format!(
            "child {args:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
        .into());
    }
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .find_map(|l| l.strip_prefix(prefix))
        .map(str::to_string)
        .ok_or_else(|| format!("child {args:?} printed no {prefix:?} line").into())
}

fn scenario_memory() -> Res<Report> {
    let mut report = Report::new("memory");
    let runs = scale(3, 1);
    let (mut per, mut json) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        let line = child_result(&["--memory-once".as_ref()], "MEMORY ")?;
        let mut it = line.split_whitespace().map(str::parse::<f64>);
        per.push(it.next().ok_or("no figure")??);
        json.push(it.next().ok_or("no figure")??);
    }
    report.add(
        format!(
            "VmRSS per stored ConfigMap at {}, in-memory",
            thousands(scale(100_000, 10_000) as u64)
        ),
        Unit::Bytes,
        &per,
        Target::None,
    );
    report.add(
        "stored JSON per ConfigMap (for comparison)",
        Unit::Bytes,
        &json,
        Target::None,
    );
    Ok(report)
}

#[path = "apiserver/admission.rs"]
mod admission;
#[path = "apiserver/cluster.rs"]
mod cluster;
#[path = "apiserver/scale.rs"]
mod scale;
#[path = "apiserver/spread.rs"]
mod spread;
#[path = "apiserver/wire.rs"]
mod wire;

// ---------------------------------------------------------------------------------------------
// Driver

fn runtime() -> Res<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}

fn run_scenario(name: &str) -> Res<()> {
    println!(
        "== {name}: {}",
        SCENARIOS
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, d)| *d)
            .unwrap_or("")
    );
    let report = match name {
        "memory" => scenario_memory()?,
        _ => {
            let rt = runtime()?;
            rt.block_on(async {
                match name {
                    "start" => scenario_start().await,
                    "create" => scenario_create().await,
                    "tls" => scenario_tls().await,
                    "admission" => admission::scenario_admission().await,
                    "conversion" => admission::scenario_conversion().await,
                    "paced" => scenario_paced().await,
                    "list" => scenario_list().await,
                    "wire" => wire::scenario_wire().await,
                    "scale" => scale::scenario_scale().await,
                    "watch" => scenario_watch().await,
                    "spread" => spread::scenario_spread().await,
                    "restart" => scenario_restart().await,
                    "apply" => cluster::scenario_apply().await,
                    "gc" => cluster::scenario_gc().await,
                    "namespace" => cluster::scenario_namespace().await,
                    "rollout" => cluster::scenario_rollout().await,
                    "jobs" => cluster::scenario_jobs().await,
                    "statefulset" => cluster::scenario_statefulset().await,
                    other => Err(format!("unknown scenario {other:?}").into()),
                }
            })?
        }
    };
    report.finish();
    Ok(())
}

fn main() -> Res<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--memory-once") {
        let (per, json) = runtime()?.block_on(memory_once())?;
        println!("MEMORY {per} {json}");
        return Ok(());
    }
    if let Some(i) = args.iter().position(|a| a == scale::SCALE_PHASE) {
        let (Some(dir), Some(phase)) = (args.get(i + 1), args.get(i + 2)) else {
            return Err("--scale-phase needs a data directory and a phase".into());
        };
        return scale::scale_phase(Path::new(dir), phase);
    }
    if let Some(i) = args.iter().position(|a| a == scale::SCALE_ONCE) {
        let dir = args
            .get(i + 1)
            .ok_or("--scale-once needs a data directory")?;
        return runtime()?.block_on(scale::scale_once(Path::new(dir)));
    }
    if !args.iter().any(|a| a == "--bench") {
        // Built and run by `cargo test --benches`: nothing to check here.
        println!(
            "kubeforge-apiserver benchmarks: run with `cargo bench -p kubeforge-apiserver --bench apiserver`"
        );
        return Ok(());
    }
    let mut wanted: Vec<String> = args.into_iter().filter(|a| !a.starts_with("--")).collect();
    if wanted.is_empty() || wanted.iter().any(|w| w == "all") {
        wanted = SCENARIOS.iter().map(|(n, _)| n.to_string()).collect();
    }
    for w in &wanted {
        if !SCENARIOS.iter().any(|(n, _)| n == w) {
            let names: Vec<&str> = SCENARIOS.iter().map(|(n, _)| *n).collect();
            return Err(format!("unknown scenario {w:?}; known: {}", names.join(", ")).into());
        }
    }
    if wanted.len() == 1 {
        return run_scenario(&wanted[0]);
    }
    // Several: each in a child process, rows gathered into one table.
    let rows_file = tempfile::NamedTempFile::new()?;
    let started = Instant::now();
    for w in &wanted {
        let status = std::process::Command::new(std::env::current_exe()?)
            .args(["--bench", w])
            .env(ROWS_ENV, rows_file.path())
            .status()?;
        if !status.success() {
            eprintln!("scenario {w} failed ({status})");
        }
    }
    let text = std::fs::read_to_string(rows_file.path())?;
    let rows: Vec<Row> = text.lines().filter_map(Row::from_tsv).collect();
    print_table(&rows);
    println!(
        "\n(all scenarios: {:.0} s)",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
