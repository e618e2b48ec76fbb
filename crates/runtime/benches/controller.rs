//! Reconcile throughput of a no-op controller over 10,000 ConfigMaps, side by side with
//! kube-rs's `Controller` in the same run (not a timed test: it prints a table).
//!
//! ```text
//! cargo bench -p kubeforge-runtime --bench controller
//! KUBEFORGE_BENCH_QUICK=1 cargo bench -p kubeforge-runtime --bench controller   # smoke run
//! ```
//!
//! The embedded API server runs in the same process (2 tokio workers). Each run starts a fresh
//! controller over the same 10,000 ConfigMaps and times how long until every one of them has been
//! reconciled once: the initial LIST (pages of 500, both sides) plus queueing and dispatch. The
//! reconcile only counts the keys it sees, so what is measured is the machinery. For ours, the
//! time after the cache synced is given too.

#[path = "support/mod.rs"]
mod support;

use futures::StreamExt;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::Api;
use kube::runtime::{controller as kube_controller, watcher};
use kubeforge_apiserver::ApiServer;
use kubeforge_runtime::cache::{InformerScope, SharedInformerFactory};
use kubeforge_runtime::controller::{Action, Controller, ReconcileError};
use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::Notify;

const RUNS: usize = 5;

fn objects() -> usize {
    if std::env::var_os("KUBEFORGE_BENCH_QUICK").is_some_and(|v| v != "0") {
        1_000
    } else {
        10_000
    }
}

/// Counts distinct keys reconciled and wakes the waiter when all `n` have been.
struct Seen {
    keys: Mutex<HashSet<String>>,
    n: usize,
    done: Notify,
}

impl Seen {
    fn new(n: usize) -> Arc<Self> {
        Arc::new(Seen {
            keys: Mutex::new(HashSet::with_capacity(n)),
            n,
            done: Notify::new(),
        })
    }

    fn saw(&self, key: String) {
        let mut keys = self.keys.lock().expect("lock");
        keys.insert(key);
        if keys.len() == self.n {
            self.done.notify_one();
        }
    }
}

struct Timing {
    total: Duration,
    after_sync: Option<Duration>,
}

async fn run_kubeforge(client: kube::Client, n: usize, workers: usize) -> Timing {
    let seen = Seen::new(n);
    let start = Instant::now();
    let factory = SharedInformerFactory::new(client);
    let controller = Controller::<ConfigMap>::new("noop")
        .scope(InformerScope::namespace("bench"))
        .concurrency(workers)
        .build(
            |seen: Arc<Seen>, request| async move {
                seen.saw(request.to_string());
                Ok::<_, ReconcileError>(Action::await_change())
            },
            seen.clone(),
        );
    controller.prepare(&factory);
    factory.start();
    assert!(factory.wait_for_cache_sync().await);
    let synced = Instant::now();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let running = {
        let factory = factory.clone();
        tokio::spawn(async move {
            controller
                .run(&factory, async {
                    let _ = stop_rx.await;
                })
                .await
        })
    };
    seen.done.notified().await;
    let timing = Timing {
        total: start.elapsed(),
        after_sync: Some(synced.elapsed()),
    };
    let _ = stop_tx.send(());
    running.await.expect("join").expect("controller ran");
    factory.shutdown().await;
    timing
}

async fn run_kube_rs(client: kube::Client, n: usize, workers: u16) -> Timing {
    let seen = Seen::new(n);
    let start = Instant::now();
    let api = Api::<ConfigMap>::namespaced(client, "bench");
    let controller = kube_controller::Controller::new(api, watcher::Config::default())
        .with_config(kube_controller::Config::default().concurrency(workers))
        .run(
            |cm: Arc<ConfigMap>, seen: Arc<Seen>| async move {
                let ns = cm.metadata.namespace.clone().unwrap_or_default();
                let name = cm.metadata.name.clone().unwrap_or_default();
                seen.saw(format!("{ns}/{name}"));
                Ok::<_, kube::Error>(kube_controller::Action::await_change())
            },
            |_, _: &kube::Error, _| kube_controller::Action::await_change(),
            seen.clone(),
        )
        .for_each(|_| futures::future::ready(()));
    let task = tokio::spawn(controller);
    seen.done.notified().await;
    let timing = Timing {
        total: start.elapsed(),
        after_sync: None,
    };
    // Wait until the aborted controller (and its cache) is dropped, so the clean-up does not
    // run during the next measurement.
    task.abort();
    let _ = task.await;
    timing
}

fn median(mut v: Vec<Duration>) -> (Duration, Duration, Duration) {
    v.sort();
    (v[v.len() / 2], v[0], v[v.len() - 1])
}

fn ms(d: Duration) -> String {
    format!("{:.0} ms", d.as_secs_f64() * 1e3)
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let n = objects();
        let server = ApiServer::builder()
            .in_memory()
            .start()
            .await
            .expect("server");
        let started = Instant::now();
        support::populate(&server, n).await;
        println!(
            "## no-op controller over {n} ConfigMaps (created in {:.1} s)\n",
            started.elapsed().as_secs_f64()
        );
        println!("| controller | workers | start → all reconciled: median | min-max | synced → all reconciled: median | per object after sync | runs |");
        println!("|---|---|---|---|---|---|---|");
        for workers in [1usize, 4] {
            let mut ours = Vec::new();
            let mut ours_after = Vec::new();
            let mut theirs = Vec::new();
            for _ in 0..RUNS {
                let t = run_kubeforge(server.client(), n, workers).await;
                ours.push(t.total);
                ours_after.push(t.after_sync.expect("measured"));
                theirs.push(run_kube_rs(server.client(), n, workers as u16).await.total);
            }
            let (m, lo, hi) = median(ours);
            let (a, _, _) = median(ours_after);
            println!(
                "| kubeforge `Controller` | {workers} | {} | {}-{} | {} | {:.1} µs | {RUNS} |",
                ms(m),
                ms(lo),
                ms(hi),
                ms(a),
                a.as_secs_f64() * 1e6 / n as f64
            );
            let (m, lo, hi) = median(theirs);
            println!(
                "| kube-rs `Controller` | {workers} | {} | {}-{} | — | — | {RUNS} |",
                ms(m),
                ms(lo),
                ms(hi)
            );
        }
        server.shutdown().await;
    });
}
