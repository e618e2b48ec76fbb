//! The router's Prometheus metrics (prometheus-client) and the counters its Singularity's status
//! reports.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

/// Distinct event types labelled before the rest are counted as `_other` (types come from
/// clients; the label set must stay bounded).
pub const MAX_TYPE_LABELS: usize = 1000;

/// `{type}`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TypeLabel {
    /// The event type.
    pub r#type: String,
}

/// `{handler, output}`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    /// The CloudEventHandler.
    pub handler: String,
    /// The CloudEventOutput.
    pub output: String,
}

/// `{handler, output, reason}`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct FailureLabels {
    /// The CloudEventHandler.
    pub handler: String,
    /// The CloudEventOutput.
    pub output: String,
    /// Why: `attempts_exhausted`, `output_missing`, `output_deleted`, `shutdown`.
    pub reason: String,
}

/// `{reason}`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabel {
    /// Why.
    pub reason: String,
}

/// Every metric of the router.
#[derive(Debug)]
pub struct Metrics {
    /// Events accepted at ingest.
    pub received: Family<TypeLabel, Counter>,
    /// Events taken off the queue and routed (the original's name).
    pub processed: Family<TypeLabel, Counter>,
    /// Successful handler deliveries.
    pub delivered: Family<RouteLabels, Counter>,
    /// Handler deliveries given up.
    pub failed: Family<FailureLabels, Counter>,
    /// Events refused at ingest.
    pub rejected: Family<ReasonLabel, Counter>,
    /// Events no handler applied to.
    pub dropped: Family<ReasonLabel, Counter>,
    /// Events queued.
    pub queue_depth: Gauge,
    /// From ingest to a successful delivery.
    pub delivery_duration: Family<RouteLabels, Histogram>,
    /// Totals for the Singularity's status.
    pub totals: Totals,
    types: Mutex<HashSet<String>>,
}

/// Running totals (for the status; the metrics carry the breakdowns).
#[derive(Debug, Default)]
pub struct Totals {
    /// Accepted at ingest.
    pub received: AtomicU64,
    /// Delivered (per handler).
    pub delivered: AtomicU64,
    /// Dropped (no handler).
    pub dropped: AtomicU64,
    /// Failed (per handler).
    pub failed: AtomicU64,
    /// Rejected at ingest.
    pub rejected: AtomicU64,
}

impl Totals {
    /// `(received, delivered, dropped, failed, rejected)` now.
    pub fn snapshot(&self) -> [u64; 5] {
        [
            self.received.load(Ordering::Relaxed),
            self.delivered.load(Ordering::Relaxed),
            self.dropped.load(Ordering::Relaxed),
            self.failed.load(Ordering::Relaxed),
            self.rejected.load(Ordering::Relaxed),
        ]
    }
}

fn bump(counter: &AtomicU64, by: u64) {
    counter.fetch_add(by, Ordering::Relaxed);
}

impl Metrics {
    /// The metrics, registered in `registry`.
    pub fn new(registry: &mut Registry) -> Metrics {
        let metrics = Metrics {
            received: Family::default(),
            processed: Family::default(),
            delivered: Family::default(),
            failed: Family::default(),
            rejected: Family::default(),
            dropped: Family::default(),
            queue_depth: Gauge::default(),
            delivery_duration: Family::new_with_constructor(|| {
                Histogram::new(exponential_buckets(0.0005, 2.0, 16))
            }),
            totals: Totals::default(),
            types: Mutex::new(HashSet::new()),
        };
        registry.register(
            "events_received",
            "CloudEvents accepted at ingest",
            metrics.received.clone(),
        );
        registry.register(
            "events_processed",
            "CloudEvents taken off the queue and routed",
            metrics.processed.clone(),
        );
        registry.register(
            "events_delivered",
            "Handler deliveries that succeeded",
            metrics.delivered.clone(),
        );
        registry.register(
            "events_failed",
            "Handler deliveries given up",
            metrics.failed.clone(),
        );
        registry.register(
            "events_rejected",
            "CloudEvents refused at ingest",
            metrics.rejected.clone(),
        );
        registry.register(
            "events_dropped",
            "CloudEvents no handler applied to",
            metrics.dropped.clone(),
        );
        registry.register(
            "queue_depth",
            "CloudEvents waiting for delivery",
            metrics.queue_depth.clone(),
        );
        registry.register(
            "delivery_duration_seconds",
            "From ingest to a successful delivery",
            metrics.delivery_duration.clone(),
        );
        metrics
    }

    /// The `type` label for `ty`: itself, or `_other` past [`MAX_TYPE_LABELS`].
    pub fn type_label(&self, ty: &str) -> TypeLabel {
        let mut types = self.types.lock().unwrap_or_else(PoisonError::into_inner);
        let known =
            types.contains(ty) || { types.len() < MAX_TYPE_LABELS && types.insert(ty.to_string()) };
        TypeLabel {
            r#type: if known {
                ty.to_string()
            } else {
                "_other".to_string()
            },
        }
    }

    /// Counts an accepted event.
    pub fn accepted(&self, ty: &str) {
        self.received.get_or_create(&self.type_label(ty)).inc();
        bump(&self.totals.received, 1);
    }

    /// Counts `n` refused events.
    pub fn refused(&self, reason: &str, n: u64) {
        self.rejected
            .get_or_create(&ReasonLabel {
                reason: reason.to_string(),
            })
            .inc_by(n);
        bump(&self.totals.rejected, n);
    }

    /// Counts an event no handler took.
    pub fn no_handler(&self, reason: &str) {
        self.dropped
            .get_or_create(&ReasonLabel {
                reason: reason.to_string(),
            })
            .inc();
        bump(&self.totals.dropped, 1);
    }

    /// Counts a successful delivery that took `seconds` from ingest.
    pub fn delivery(&self, handler: &str, output: &str, seconds: f64) {
        let labels = RouteLabels {
            handler: handler.to_string(),
            output: output.to_string(),
        };
        self.delivered.get_or_create(&labels).inc();
        self.delivery_duration
            .get_or_create(&labels)
            .observe(seconds);
        bump(&self.totals.delivered, 1);
    }

    /// Counts a delivery given up for `reason`.
    pub fn failure(&self, handler: &str, output: &str, reason: &str) {
        self.failed
            .get_or_create(&FailureLabels {
                handler: handler.to_string(),
                output: output.to_string(),
                reason: reason.to_string(),
            })
            .inc();
        bump(&self.totals.failed, 1);
    }
}
