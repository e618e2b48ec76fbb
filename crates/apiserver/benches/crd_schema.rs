//! How fast custom resources are checked against their CRD's schema, and what that costs a
//! create (prints a table; nothing passes or fails).
//!
//! ```text
//! cargo bench -p kubeforge-apiserver --bench crd_schema              # all parts
//! cargo bench -p kubeforge-apiserver --bench crd_schema -- validate  # or comprehensions, create
//! ```
//!
//! - `validate`: one thread validating a typical custom resource (about 25 fields: enums, a
//!   pattern, bounds, a map, a list-map, a set) against its compiled schema, then the same object
//!   under a schema with 10 CEL rules. "decode + validate" adds what every write does before:
//!   metadata normalisation, pruning and defaulting.
//! - `comprehensions`: the same object under 3 comprehension rules, written with one-variable
//!   macros and with cel-go's two-variable ones (rewritten by the server before evaluation).
//! - `create`: in-process creates (`Rest::create`, the path a POST takes after decoding, 16 at a
//!   time) of ConfigMaps, of the same custom resource under a schema-less CRD
//!   (`x-kubernetes-preserve-unknown-fields`), under the typical schema, and under the CEL one.
//!
//! Each figure is the median of 7 runs (after a warm-up), with the thread's CPU time beside the
//! wall time for the single-threaded rows (`/proc/thread-self/schedstat`), since shared machines
//! make wall time noisy. `KUBEFORGE_BENCH_QUICK=1` shrinks the runs for a smoke test.

use kubeforge_apiserver::ApiServer;
use kubeforge_apiserver::crd::object_meta::EmbeddedObjectMeta;
use kubeforge_apiserver::crd::schema::Schema;
use kubeforge_apiserver::rest::WriteOptions;
use kubeforge_apiserver::strategy::{CustomResourceStrategy, Strategy};
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

fn quick() -> bool {
    std::env::var("KUBEFORGE_BENCH_QUICK").is_ok_and(|v| v == "1")
}

/// Nanoseconds this thread has run on a CPU (Linux), if known.
fn thread_cpu_ns() -> Option<u64> {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

fn schema(cel: bool) -> Value {
    let mut s = json!({
        "type": "object",
        "properties": {
            "spec": {"type": "object", "required": ["image", "mode"], "properties": {
                "image": {"type": "string", "maxLength": 256, "pattern": "^[a-z0-9./-]+(:[a-zA-Z0-9._-]+)?$"},
                "mode": {"type": "string", "enum": ["rolling", "recreate", "blue-green"]},
                "replicas": {"type": "integer", "minimum": 0, "maximum": 100, "default": 1},
                "minReplicas": {"type": "integer", "minimum": 0, "maximum": 100},
                "maxReplicas": {"type": "integer", "minimum": 0, "maximum": 100},
                "paused": {"type": "boolean", "default": false},
                "schedule": {"type": "string", "maxLength": 64},
                "timeout": {"type": "string", "format": "duration"},
                "labels": {"type": "object", "maxProperties": 32, "additionalProperties": {"type": "string", "maxLength": 63}},
                "ports": {"type": "array", "maxItems": 16, "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"],
                    "items": {"type": "object", "required": ["name", "port"], "properties": {
                        "name": {"type": "string", "maxLength": 15},
                        "port": {"type": "integer", "minimum": 1, "maximum": 65535},
                        "protocol": {"type": "string", "enum": ["TCP", "UDP"], "default": "TCP"}}}},
                "namespaces": {"type": "array", "maxItems": 32, "x-kubernetes-list-type": "set", "items": {"type": "string", "maxLength": 63}},
                "resources": {"type": "object", "properties": {
                    "cpu": {"x-kubernetes-int-or-string": true},
                    "memory": {"type": "string", "maxLength": 32}}}
            }},
            "status": {"type": "object", "properties": {
                "readyReplicas": {"type": "integer"},
                "phase": {"type": "string"}}}
        }
    });
    if cel {
        s["properties"]["spec"]["x-kubernetes-validations"] = json!([
            {"rule": "!has(self.minReplicas) || !has(self.maxReplicas) || self.minReplicas <= self.maxReplicas", "message": "minReplicas must not exceed maxReplicas"},
            {"rule": "!has(self.replicas) || !has(self.maxReplicas) || self.replicas <= self.maxReplicas"},
            {"rule": "!self.image.endsWith(':latest')", "message": "pin the image"},
            {"rule": "self.mode != 'blue-green' || self.replicas >= 2"},
            {"rule": "!has(self.ports) || self.ports.all(p, p.port != 22)", "message": "ssh is not allowed"},
            {"rule": "!has(self.namespaces) || !('kube-system' in self.namespaces)"},
            {"rule": "!has(self.labels) || self.labels.all(k, k.size() <= 63)"},
            {"rule": "!has(self.schedule) || self.schedule.matches('^[0-9*/ ,-]+$')"},
            {"rule": "!has(self.timeout) || self.timeout <= duration('1h')"},
            {"rule": "!has(self.resources) || !has(self.resources.memory) || quantity(self.resources.memory).isLessThan(quantity('64Gi'))"}
        ]);
    }
    s
}

fn object(name: &str) -> Value {
    json!({
        "apiVersion": "bench.kubeforge.dev/v1",
        "kind": "App",
        "metadata": {"name": name, "namespace": "default", "labels": {"app": "web", "tier": "frontend"}},
        "spec": {
            "image": "registry.example.com/team/web:1.2.3",
            "mode": "rolling",
            "replicas": 3,
            "minReplicas": 2,
            "maxReplicas": 10,
            "schedule": "*/5 * * * *",
            "timeout": "30s",
            "labels": {"team": "web", "cost-center": "42", "env": "prod"},
            "ports": [{"name": "http", "port": 80}, {"name": "https", "port": 443, "protocol": "TCP"}],
            "namespaces": ["default", "staging"],
            "resources": {"cpu": "500m", "memory": "512Mi"}
        }
    })
}

/// Median, min and max of `runs` measurements of `f` (which does `n` operations): ops/s wall,
/// and ops per CPU-second.
fn measure(runs: usize, n: usize, mut f: impl FnMut()) -> (f64, f64, f64, Option<f64>) {
    f();
    let mut wall = Vec::new();
    let mut cpu = Vec::new();
    for _ in 0..runs {
        let c0 = thread_cpu_ns();
        let t0 = Instant::now();
        for _ in 0..n {
            f();
        }
        let elapsed = t0.elapsed().as_secs_f64();
        wall.push(n as f64 / elapsed);
        if let (Some(a), Some(b)) = (c0, thread_cpu_ns()) {
            cpu.push(n as f64 / ((b - a) as f64 / 1e9));
        }
    }
    wall.sort_by(f64::total_cmp);
    cpu.sort_by(f64::total_cmp);
    (
        wall[wall.len() / 2],
        wall[0],
        wall[wall.len() - 1],
        cpu.get(cpu.len() / 2).copied(),
    )
}

fn k(x: f64) -> String {
    if x >= 1e6 {
        format!("{:.2} M", x / 1e6)
    } else {
        format!("{:.1} k", x / 1e3)
    }
}

fn validate_rows() {
    let (runs, n) = if quick() { (3, 2_000) } else { (7, 100_000) };
    println!("| workload | validations/s (wall, median [min-max]) | per CPU-second |");
    println!("|---|---|---|");
    for (label, cel) in [
        ("typical custom resource", false),
        ("same, 10 CEL rules", true),
    ] {
        let raw = schema(cel);
        let compiled = Schema::compile(Some(&raw), &EmbeddedObjectMeta);
        let mut obj = object("web");
        compiled.prune(&mut obj);
        compiled.apply_defaults(&mut obj);
        assert!(
            compiled.validate(&obj, vec![]).is_empty(),
            "the benchmark object is valid"
        );
        let (med, min, max, cpu) = measure(runs, n, || {
            let causes = compiled.validate(std::hint::black_box(&obj), vec![]);
            std::hint::black_box(causes);
        });
        println!(
            "| {label}: validate | {} [{}-{}] | {} |",
            k(med),
            k(min),
            k(max),
            cpu.map(k).unwrap_or_default()
        );
        let strategy = CustomResourceStrategy::new("App", Some(&raw), true, None);
        let input = object("web");
        let (med, min, max, cpu) = measure(runs, n / 2, || {
            let decoded = strategy
                .decode(std::hint::black_box(input.clone()))
                .expect("decodes");
            std::hint::black_box(strategy.validate(&decoded.value));
        });
        println!(
            "| {label}: decode + validate | {} [{}-{}] | {} |",
            k(med),
            k(min),
            k(max),
            cpu.map(k).unwrap_or_default()
        );
    }
}

/// The same comprehension rules written with one-variable macros and with cel-go's
/// two-variable ones (which the server rewrites before evaluating).
const COMPREHENSIONS: [(&str, [&str; 3]); 2] = [
    (
        "one-variable",
        [
            "self.ports.all(p, p.port != 22)",
            "self.labels.all(k, self.labels[k].size() <= 63)",
            "self.ports.exists(p, p.name == 'http')",
        ],
    ),
    (
        "two-variable",
        [
            "self.ports.all(i, p, p.port != 22)",
            "self.labels.all(k, v, v.size() <= 63)",
            "self.ports.exists(i, p, p.name == 'http')",
        ],
    ),
];

/// Validation of the typical object under a schema whose only rules are 3 comprehensions.
fn comprehension_rows() {
    let (runs, n) = if quick() { (3, 2_000) } else { (7, 100_000) };
    println!("| 3 comprehension rules | validations/s (wall, median [min-max]) | per CPU-second |");
    println!("|---|---|---|");
    for (label, rules) in COMPREHENSIONS {
        let mut raw = schema(false);
        raw["properties"]["spec"]["x-kubernetes-validations"] =
            rules.iter().map(|r| json!({ "rule": r })).collect();
        let compiled = Schema::compile(Some(&raw), &EmbeddedObjectMeta);
        let mut obj = object("web");
        compiled.prune(&mut obj);
        compiled.apply_defaults(&mut obj);
        assert!(
            compiled.validate(&obj, vec![]).is_empty(),
            "the benchmark object is valid"
        );
        let (med, min, max, cpu) = measure(runs, n, || {
            std::hint::black_box(compiled.validate(std::hint::black_box(&obj), vec![]));
        });
        println!(
            "| {label} | {} [{}-{}] | {} |",
            k(med),
            k(min),
            k(max),
            cpu.map(k).unwrap_or_default()
        );
    }
}

fn crd(name: &str, cel: bool) -> Value {
    let schema = if name == "freeapp" {
        json!({"type": "object", "x-kubernetes-preserve-unknown-fields": true})
    } else {
        schema(cel)
    };
    let kind = match name {
        "freeapp" => "FreeApp",
        "celapp" => "CelApp",
        _ => "App",
    };
    json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": format!("{name}s.bench.kubeforge.dev")},
        "spec": {
            "group": "bench.kubeforge.dev",
            "scope": "Namespaced",
            "names": {"kind": kind, "plural": format!("{name}s")},
            "versions": [{"name": "v1", "served": true, "storage": true,
                "subresources": {"status": {}},
                "schema": {"openAPIV3Schema": schema}}]
        }
    })
}

async fn create_rows() {
    let (runs, n) = if quick() { (3, 500) } else { (7, 5_000) };
    let server = ApiServer::builder()
        .in_memory()
        .start()
        .await
        .expect("server starts");
    let rest = server.rest().clone();
    let opts = WriteOptions {
        field_manager: "bench".into(),
        ..WriteOptions::default()
    };
    let crds = rest
        .catalog
        .snapshot()
        .find("apiextensions.k8s.io", "v1", "customresourcedefinitions")
        .expect("CRDs are served");
    for (name, cel) in [("app", false), ("celapp", true), ("freeapp", false)] {
        rest.create(&crds, None, crd(name, cel), &opts)
            .await
            .expect("CRD is valid");
    }
    let find = |plural: &str| {
        let group = if plural == "configmaps" {
            ""
        } else {
            "bench.kubeforge.dev"
        };
        rest.catalog.snapshot().find(group, "v1", plural)
    };
    for _ in 0..200 {
        if find("apps").is_some() && find("celapps").is_some() && find("freeapps").is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    println!();
    println!("| create, 16 at a time, in-process | creates/s (median [min-max]) |");
    println!("|---|---|");
    for (label, plural) in [
        ("ConfigMap", "configmaps"),
        (
            "custom resource, no schema (preserve-unknown-fields)",
            "freeapps",
        ),
        ("custom resource (typical schema)", "apps"),
        ("custom resource (10 CEL rules)", "celapps"),
    ] {
        let rt = find(plural).expect("served");
        let mut rates = Vec::new();
        for run in 0..=runs {
            let next = Arc::new(AtomicU64::new(0));
            let t0 = Instant::now();
            let mut tasks = Vec::new();
            for _ in 0..16 {
                let (rest, rt, next, opts) = (rest.clone(), rt.clone(), next.clone(), opts.clone());
                tasks.push(tokio::spawn(async move {
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed) as usize;
                        if i >= n {
                            return;
                        }
                        let name = format!("r{run}-{i}");
                        let body = if plural == "configmaps" {
                            json!({"apiVersion": "v1", "kind": "ConfigMap",
                                "metadata": {"name": name, "namespace": "default", "labels": {"app": "web"}},
                                "data": {"image": "registry.example.com/team/web:1.2.3", "mode": "rolling", "replicas": "3"}})
                        } else {
                            let mut o = object(&name);
                            match plural {
                                "celapps" => o["kind"] = json!("CelApp"),
                                "freeapps" => o["kind"] = json!("FreeApp"),
                                _ => {}
                            }
                            o
                        };
                        rest.create(&rt, Some("default"), body, &opts)
                            .await
                            .expect("created");
                    }
                }));
            }
            for t in tasks {
                t.await.expect("task");
            }
            if run > 0 {
                rates.push(n as f64 / t0.elapsed().as_secs_f64());
            }
        }
        rates.sort_by(f64::total_cmp);
        println!(
            "| {label} | {} [{}-{}] |",
            k(rates[rates.len() / 2]),
            k(rates[0]),
            k(rates[rates.len() - 1])
        );
    }
    server.shutdown().await;
}

fn main() {
    // `cargo bench … -- validate` or `-- create` runs one part (cargo passes `--bench` too).
    let only: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let wanted = |name: &str| only.is_empty() || only.iter().any(|o| o == name);
    if wanted("validate") {
        validate_rows();
    }
    if wanted("comprehensions") {
        comprehension_rows();
    }
    if wanted("create") {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .expect("runtime")
            .block_on(create_rows());
    }
}
