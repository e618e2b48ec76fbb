//! Work queue throughput: add + get + done per key, single-threaded.
//!
//! `cargo bench -p kubeforge-runtime --bench workqueue`
//!
//! The main figure has the shape of controller-runtime's `BenchmarkAddGetDone` (the published
//! anchor, about 1 µs per item): add 1,000 keys, then get and done each, repeated; here 1,000
//! rounds, so 1,000,000 items per run. Variants: `namespace/name` string keys (cloned on each
//! add, as an event handler would build them), metrics on, one key at a time, and backlogs of
//! 100,000 distinct keys (an informer's initial sync of 100,000 objects enqueues that many),
//! where cache misses in the queue's hash map dominate, as they would in Go.
//!
//! Each variant runs several times on a fresh queue; the median is printed as items per second
//! of wall time and, when the OS reports it, of this thread's CPU time (robust against a loaded
//! machine). Target: at least 1 M items/s.

use std::hash::Hash;
use std::time::{Duration, Instant};

use kubeforge_runtime::workqueue::{WorkQueue, WorkQueueMetrics};
use prometheus_client::registry::Registry;

const ITEMS: usize = 1_000_000;
const BATCH: usize = 1_000;
const RUNS: usize = 7;

/// Add all `keys`, then get and done each of them; repeat until `ITEMS` keys went through.
async fn batches<K>(queue: &WorkQueue<K>, keys: &[K])
where
    K: Clone + Eq + Hash + Send + Sync + 'static,
{
    for _ in 0..ITEMS / keys.len() {
        for key in keys {
            queue.add(key.clone());
        }
        for _ in 0..keys.len() {
            let key = queue.get().await.expect("a queued key");
            queue.done(&key);
        }
    }
}

/// For each key in turn: add, get, done (the queue never holds more than one key).
async fn one_at_a_time(queue: &WorkQueue<String>, keys: &[String]) {
    for key in keys {
        queue.add(key.clone());
        let key = queue.get().await.expect("the key just added");
        queue.done(&key);
    }
}

fn string_keys(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| format!("namespace-{}/object-{i}", i % 100))
        .collect()
}

/// This thread's CPU time, from Linux's schedstat; `None` elsewhere.
fn thread_cpu_time() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let nanos = stat.split_whitespace().next()?.parse().ok()?;
    Some(Duration::from_nanos(nanos))
}

/// Run `work` `RUNS` times (after one warm-up) and print its median rates.
fn measure<F, Fut>(runtime: &tokio::runtime::Runtime, label: &str, mut work: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = ()>,
{
    runtime.block_on(work());
    let mut wall = Vec::new();
    let mut cpu = Vec::new();
    for _ in 0..RUNS {
        let fut = work();
        let (cpu_start, start) = (thread_cpu_time(), Instant::now());
        runtime.block_on(fut);
        wall.push(start.elapsed());
        if let (Some(before), Some(after)) = (cpu_start, thread_cpu_time()) {
            cpu.push(after - before);
        }
    }
    let rate = |times: &mut Vec<Duration>| {
        times.sort();
        ITEMS as f64 / times[times.len() / 2].as_secs_f64()
    };
    let wall_rate = rate(&mut wall);
    let cpu_rate = if cpu.len() == RUNS {
        format!("{:>6.2} M/s per CPU-second", rate(&mut cpu) / 1e6)
    } else {
        String::new()
    };
    println!(
        "{label:<52} {:>6.2} M items/s ({:>4.0} ns/item)  {cpu_rate}",
        wall_rate / 1e6,
        1e9 / wall_rate,
    );
}

fn main() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    println!(
        "work queue add+get+done, {ITEMS} items per run, median of {RUNS} runs, single thread"
    );

    let ints: Vec<u64> = (0..BATCH as u64).collect();
    measure(
        &runtime,
        "batches of 1000 u64 keys (controller-runtime's shape)",
        || {
            let queue = WorkQueue::new();
            let keys = &ints;
            async move { batches(&queue, keys).await }
        },
    );

    let strings = string_keys(BATCH);
    measure(&runtime, "batches of 1000 namespace/name keys", || {
        let queue = WorkQueue::new();
        let keys = &strings;
        async move { batches(&queue, keys).await }
    });

    measure(
        &runtime,
        "batches of 1000 namespace/name keys, metrics on",
        || {
            let mut registry = Registry::default();
            let metrics = WorkQueueMetrics::new(&mut registry);
            let queue = WorkQueue::builder().name("bench").metrics(&metrics).build();
            let keys = &strings;
            async move { batches(&queue, keys).await }
        },
    );

    let many = string_keys(ITEMS);
    measure(&runtime, "one namespace/name key at a time", || {
        let queue = WorkQueue::new();
        let keys = &many;
        async move { one_at_a_time(&queue, keys).await }
    });

    let backlog = string_keys(100_000);
    measure(&runtime, "backlogs of 100,000 namespace/name keys", || {
        let queue = WorkQueue::new();
        let keys = &backlog;
        async move { batches(&queue, keys).await }
    });
}
