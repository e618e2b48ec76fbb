//! Work queue metrics, with controller-runtime's names and labels.
//!
//! [`WorkQueueMetrics::new`] registers these families once in a registry the caller owns (no
//! global state); every queue built with [`.metrics(&metrics)`](super::WorkQueueBuilder::metrics)
//! reports under `name` and `controller` labels both set to the queue's name, as
//! controller-runtime does:
//!
//! | metric | type | meaning |
//! |---|---|---|
//! | `workqueue_depth` | gauge | keys queued or re-added while processing (also `priority=""`) |
//! | `workqueue_adds_total` | counter | adds that made a key dirty (adds of a queued key not counted) |
//! | `workqueue_queue_duration_seconds` | histogram | time from add (or delay expiry) to `get` |
//! | `workqueue_work_duration_seconds` | histogram | time from `get` to `done` |
//! | `workqueue_unfinished_work_seconds` | gauge | summed age of the keys being processed |
//! | `workqueue_longest_running_processor_seconds` | gauge | age of the oldest key being processed |
//! | `workqueue_retries_total` | counter | calls to `add_after` and `add_rate_limited` (not `add_batched`) |
//!
//! The three gauges are read from the queues' state when the registry is encoded (on scrape),
//! so they are exact at scrape time and cost nothing between scrapes. (client-go instead
//! refreshes the two processor gauges every 500 ms.) Counters and histograms are updated as
//! the queues work. Histogram buckets are controller-runtime's: 10 ns to 1000 s, ×10 each.
//!
//! Several queues may share one `WorkQueueMetrics`; queues with the same name share series.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

use prometheus_client::encoding::{EncodeLabelSet, EncodeMetric, MetricEncoder};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// The work queue metric families, registered in one [`Registry`]; hand it to each queue's
/// builder.
///
/// ```
/// use kubeforge_runtime::workqueue::{WorkQueue, WorkQueueMetrics};
/// use prometheus_client::{encoding::text::encode, registry::Registry};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let mut registry = Registry::default();
/// let metrics = WorkQueueMetrics::new(&mut registry);
/// let queue = WorkQueue::builder().name("pods").metrics(&metrics).build();
/// queue.add("default/web");
///
/// let mut text = String::new();
/// encode(&mut text, &registry).unwrap();
/// assert!(text.contains(r#"workqueue_adds_total{name="pods",controller="pods"} 1"#));
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct WorkQueueMetrics {
    adds: Family<QueueLabels, Counter>,
    retries: Family<QueueLabels, Counter>,
    queue_duration: Family<QueueLabels, Histogram, fn() -> Histogram>,
    work_duration: Family<QueueLabels, Histogram, fn() -> Histogram>,
    queues: Arc<LiveQueues>,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, EncodeLabelSet)]
struct QueueLabels {
    name: String,
    controller: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, EncodeLabelSet)]
struct DepthLabels {
    name: String,
    controller: String,
    priority: String,
}

impl QueueLabels {
    fn new(queue: &str) -> Self {
        Self {
            name: queue.to_owned(),
            controller: queue.to_owned(),
        }
    }
}

/// controller-runtime's buckets: 1e-8 s × 10^i, 12 buckets.
fn duration_histogram() -> Histogram {
    Histogram::new(exponential_buckets(10e-9, 10.0, 12))
}

impl WorkQueueMetrics {
    /// Register the work queue metric families in `registry`. Call once per registry.
    pub fn new(registry: &mut Registry) -> Self {
        let metrics = Self {
            adds: Family::default(),
            retries: Family::default(),
            queue_duration: Family::new_with_constructor(duration_histogram),
            work_duration: Family::new_with_constructor(duration_histogram),
            queues: Arc::default(),
        };
        let scraped = |reads| ScrapedGauge {
            queues: metrics.queues.clone(),
            reads,
        };
        // Depth is encoded first: reading it moves keys whose delay expired into their queues,
        // so the adds encoded next already count them.
        registry.register(
            "workqueue_depth",
            "Current depth of the work queue",
            scraped(GaugeKind::Depth),
        );
        // Counters are registered without the `_total` suffix: the encoder appends it.
        registry.register(
            "workqueue_adds",
            "Total number of adds handled by the work queue",
            metrics.adds.clone(),
        );
        registry.register(
            "workqueue_queue_duration_seconds",
            "How long in seconds a key waits in the work queue before a worker gets it",
            metrics.queue_duration.clone(),
        );
        registry.register(
            "workqueue_work_duration_seconds",
            "How long in seconds processing a key from the work queue takes",
            metrics.work_duration.clone(),
        );
        registry.register(
            "workqueue_unfinished_work_seconds",
            "How many seconds of work are in progress and not yet observed by work_duration; \
             large values indicate stuck workers",
            scraped(GaugeKind::UnfinishedWork),
        );
        registry.register(
            "workqueue_longest_running_processor_seconds",
            "How many seconds the longest running worker of the work queue has been running",
            scraped(GaugeKind::LongestRunningProcessor),
        );
        registry.register(
            "workqueue_retries",
            "Total number of retries (delayed and rate-limited adds) handled by the work queue",
            metrics.retries.clone(),
        );
        metrics
    }

    /// The series of one queue.
    pub(super) fn for_queue(&self, name: &str) -> QueueMetrics {
        let labels = QueueLabels::new(name);
        QueueMetrics {
            adds: self.adds.get_or_create_owned(&labels),
            retries: self.retries.get_or_create_owned(&labels),
            queue_duration: self.queue_duration.get_or_create_owned(&labels),
            work_duration: self.work_duration.get_or_create_owned(&labels),
        }
    }

    /// Report `queue`'s gauges on scrape, for as long as it lives.
    pub(super) fn watch_gauges(&self, name: &str, queue: Weak<dyn QueueGauges>) {
        self.queues.watch(name, queue);
    }
}

/// One queue's counters and histograms, updated as it works.
pub(super) struct QueueMetrics {
    pub(super) adds: Counter,
    pub(super) retries: Counter,
    queue_duration: Histogram,
    work_duration: Histogram,
}

impl QueueMetrics {
    pub(super) fn observe_queue_duration(&self, waited: Duration) {
        self.queue_duration.observe(waited.as_secs_f64());
    }

    pub(super) fn observe_work_duration(&self, worked: Duration) {
        self.work_duration.observe(worked.as_secs_f64());
    }
}

/// A queue's gauges, read at scrape time.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Gauges {
    pub(super) depth: usize,
    /// Summed time the keys being processed have been processed so far.
    pub(super) unfinished_work: Duration,
    pub(super) longest_running_processor: Duration,
}

/// Implemented by a queue, so the collector can read its gauges without knowing its key type.
pub(super) trait QueueGauges: Send + Sync {
    fn gauges(&self) -> Gauges;
}

/// The queues reporting through one [`WorkQueueMetrics`], held weakly: a dropped queue stops
/// being reported.
#[derive(Default)]
struct LiveQueues(Mutex<Vec<(String, Weak<dyn QueueGauges>)>>);

impl LiveQueues {
    fn lock(&self) -> MutexGuard<'_, Vec<(String, Weak<dyn QueueGauges>)>> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn watch(&self, name: &str, queue: Weak<dyn QueueGauges>) {
        let mut queues = self.lock();
        queues.retain(|(_, queue)| queue.strong_count() > 0);
        queues.push((name.to_owned(), queue));
    }

    /// Every live queue's gauges, by name; queues sharing a name are merged as shared series
    /// would be (depths and unfinished work summed, longest running the longest).
    fn read(&self) -> BTreeMap<String, Gauges> {
        let mut by_name: BTreeMap<String, Gauges> = BTreeMap::new();
        self.lock().retain(|(name, queue)| {
            let Some(queue) = queue.upgrade() else {
                return false;
            };
            let gauges = queue.gauges();
            let merged = by_name.entry(name.clone()).or_default();
            merged.depth += gauges.depth;
            merged.unfinished_work += gauges.unfinished_work;
            merged.longest_running_processor = merged
                .longest_running_processor
                .max(gauges.longest_running_processor);
            true
        });
        by_name
    }
}

impl fmt::Debug for LiveQueues {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let queues = self.lock();
        f.debug_list()
            .entries(queues.iter().map(|(name, _)| name))
            .finish()
    }
}

/// A gauge family read from the live queues each time the registry is encoded.
#[derive(Debug)]
struct ScrapedGauge {
    queues: Arc<LiveQueues>,
    reads: GaugeKind,
}

#[derive(Clone, Copy, Debug)]
enum GaugeKind {
    Depth,
    UnfinishedWork,
    LongestRunningProcessor,
}

impl EncodeMetric for ScrapedGauge {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), fmt::Error> {
        for (name, gauges) in self.queues.read() {
            let labels = QueueLabels::new(&name);
            match self.reads {
                GaugeKind::Depth => {
                    let labels = DepthLabels {
                        name: labels.name,
                        controller: labels.controller,
                        priority: String::new(),
                    };
                    let depth = i64::try_from(gauges.depth).unwrap_or(i64::MAX);
                    encoder.encode_family(&labels)?.encode_gauge(&depth)?;
                }
                GaugeKind::UnfinishedWork => {
                    let seconds = gauges.unfinished_work.as_secs_f64();
                    encoder.encode_family(&labels)?.encode_gauge(&seconds)?;
                }
                GaugeKind::LongestRunningProcessor => {
                    let seconds = gauges.longest_running_processor.as_secs_f64();
                    encoder.encode_family(&labels)?.encode_gauge(&seconds)?;
                }
            }
        }
        Ok(())
    }

    fn metric_type(&self) -> MetricType {
        MetricType::Gauge
    }

    fn is_empty(&self) -> bool {
        self.queues.lock().is_empty()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use prometheus_client::encoding::text::encode;

    use super::*;
    use crate::workqueue::{ItemExponentialFailureRateLimiter, WorkQueue};

    fn scrape(registry: &Registry) -> Vec<String> {
        let mut text = String::new();
        encode(&mut text, registry).unwrap();
        text.lines().map(str::to_owned).collect()
    }

    fn assert_line(lines: &[String], expected: &str) {
        assert!(
            lines.iter().any(|line| line == expected),
            "missing line {expected:?} in:\n{}",
            lines.join("\n")
        );
    }

    #[tokio::test(start_paused = true)]
    async fn metrics_after_some_operations() {
        let mut registry = Registry::default();
        let metrics = WorkQueueMetrics::new(&mut registry);
        let queue = WorkQueue::builder()
            .name("pods")
            .rate_limiter(ItemExponentialFailureRateLimiter::new(
                Duration::from_millis(5),
                Duration::from_secs(1000),
            ))
            .metrics(&metrics)
            .build();

        queue.add("a");
        queue.add("a"); // dedup: not counted
        queue.add("b");
        tokio::time::sleep(Duration::from_millis(250)).await;
        let a = queue.get().await.unwrap(); // waited 0.25 s
        queue.add("a"); // re-added while processing: counted, depth 2
        tokio::time::sleep(Duration::from_secs(2)).await;
        let b = queue.get().await.unwrap(); // waited 2.25 s
        tokio::time::sleep(Duration::from_secs(1)).await;

        // a processing for 3 s, b for 1 s; a queued again.
        let lines = scrape(&registry);
        assert_line(&lines, "# TYPE workqueue_adds counter");
        assert_line(
            &lines,
            r#"workqueue_adds_total{name="pods",controller="pods"} 3"#,
        );
        assert_line(
            &lines,
            r#"workqueue_depth{name="pods",controller="pods",priority=""} 1"#,
        );
        assert_line(
            &lines,
            r#"workqueue_unfinished_work_seconds{name="pods",controller="pods"} 4.0"#,
        );
        assert_line(
            &lines,
            r#"workqueue_longest_running_processor_seconds{name="pods",controller="pods"} 3.0"#,
        );
        assert_line(
            &lines,
            r#"workqueue_queue_duration_seconds_sum{name="pods",controller="pods"} 2.5"#,
        );
        assert_line(
            &lines,
            r#"workqueue_queue_duration_seconds_count{name="pods",controller="pods"} 2"#,
        );
        assert_line(
            &lines,
            r#"workqueue_queue_duration_seconds_bucket{le="1.0",name="pods",controller="pods"} 1"#,
        );

        queue.done(&a); // worked 3 s; `a` queued again
        queue.done(&b); // worked 1 s
        queue.add_rate_limited("c"); // a retry, delayed 5 ms
        queue.add_after("d", Duration::from_secs(10)); // a retry too
        queue.add_batched("e", Duration::from_secs(10)); // batched: not a retry
        tokio::time::sleep(Duration::from_millis(5)).await;

        let lines = scrape(&registry);
        assert_line(
            &lines,
            r#"workqueue_work_duration_seconds_sum{name="pods",controller="pods"} 4.0"#,
        );
        assert_line(
            &lines,
            r#"workqueue_work_duration_seconds_count{name="pods",controller="pods"} 2"#,
        );
        assert_line(
            &lines,
            r#"workqueue_retries_total{name="pods",controller="pods"} 2"#,
        );
        // `a` plus `c`, whose delay expired; `d` is still waiting.
        assert_line(
            &lines,
            r#"workqueue_depth{name="pods",controller="pods",priority=""} 2"#,
        );
        assert_line(
            &lines,
            r#"workqueue_adds_total{name="pods",controller="pods"} 4"#,
        );
        assert_line(
            &lines,
            r#"workqueue_unfinished_work_seconds{name="pods",controller="pods"} 0.0"#,
        );
    }

    #[tokio::test(start_paused = true)]
    async fn several_queues_share_one_registry() {
        let mut registry = Registry::default();
        let metrics = WorkQueueMetrics::new(&mut registry);
        let pods = WorkQueue::builder().name("pods").metrics(&metrics).build();
        let nodes = WorkQueue::builder().name("nodes").metrics(&metrics).build();
        pods.add(1);
        nodes.add(1);
        nodes.add(2);

        let lines = scrape(&registry);
        let type_lines = lines
            .iter()
            .filter(|line| *line == "# TYPE workqueue_depth gauge")
            .count();
        assert_eq!(type_lines, 1, "one family, two series");
        assert_line(
            &lines,
            r#"workqueue_depth{name="pods",controller="pods",priority=""} 1"#,
        );
        assert_line(
            &lines,
            r#"workqueue_depth{name="nodes",controller="nodes",priority=""} 2"#,
        );

        drop(nodes);
        let lines = scrape(&registry);
        assert!(
            !lines
                .iter()
                .any(|line| line.starts_with("workqueue_depth{name=\"nodes\"")),
            "a dropped queue's gauges are no longer reported"
        );
    }
}
