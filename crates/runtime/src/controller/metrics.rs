//! Controller metrics, with controller-runtime's names and labels.
//!
//! [`ControllerMetrics::new`] registers these families once in a registry the caller owns, next
//! to the [`WorkQueueMetrics`] of the controllers' queues:
//!
//! | metric | type | labels | meaning |
//! |---|---|---|---|
//! | `controller_runtime_reconcile_total` | counter | `controller`, `result` | reconciles by result: `success`, `error`, `requeue_after`, `requeue` |
//! | `controller_runtime_reconcile_errors_total` | counter | `controller` | reconciles that returned an error (or panicked) |
//! | `controller_runtime_terminal_reconcile_errors_total` | counter | `controller` | errors that were terminal (not retried) |
//! | `controller_runtime_reconcile_panics_total` | counter | `controller` | reconciles that panicked |
//! | `controller_runtime_reconcile_time_seconds` | histogram | `controller` | time per reconcile |
//! | `controller_runtime_active_workers` | gauge | `controller` | workers reconciling now |
//! | `controller_runtime_max_concurrent_reconciles` | gauge | `controller` | configured workers |
//!
//! Histogram buckets are controller-runtime's (5 ms to 60 s).

use crate::workqueue::WorkQueueMetrics;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use std::time::Duration;

/// Reconcile outcome, the `result` label of `reconcile_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ReconcileResult {
    Success,
    Error,
    RequeueAfter,
}

impl ReconcileResult {
    fn label(self) -> &'static str {
        match self {
            ReconcileResult::Success => "success",
            ReconcileResult::Error => "error",
            ReconcileResult::RequeueAfter => "requeue_after",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, EncodeLabelSet)]
struct ControllerLabel {
    controller: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, EncodeLabelSet)]
struct ResultLabels {
    controller: String,
    result: String,
}

/// controller-runtime's reconcile_time_seconds buckets.
const RECONCILE_TIME_BUCKETS: [f64; 40] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6, 0.7, 0.8, 0.9,
    1.0, 1.25, 1.5, 1.75, 2.0, 2.5, 3.0, 3.5, 4.0, 4.5, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 15.0, 20.0,
    25.0, 30.0, 40.0, 50.0, 60.0,
];

fn reconcile_time_histogram() -> Histogram {
    Histogram::new(RECONCILE_TIME_BUCKETS)
}

/// The controller metric families, registered in one [`Registry`].
///
/// ```
/// use kubeforge_runtime::controller::ControllerMetrics;
/// use prometheus_client::registry::Registry;
///
/// let mut registry = Registry::default();
/// let metrics = ControllerMetrics::new(&mut registry);
/// // Hand `metrics` to `Controller::metrics`, or let a `Manager` do it.
/// ```
#[derive(Clone, Debug)]
pub struct ControllerMetrics {
    total: Family<ResultLabels, Counter>,
    errors: Family<ControllerLabel, Counter>,
    terminal_errors: Family<ControllerLabel, Counter>,
    panics: Family<ControllerLabel, Counter>,
    time: Family<ControllerLabel, Histogram, fn() -> Histogram>,
    active_workers: Family<ControllerLabel, Gauge>,
    max_concurrent: Family<ControllerLabel, Gauge>,
    workqueue: WorkQueueMetrics,
}

impl ControllerMetrics {
    /// Registers the controller families (prefixed `controller_runtime_`) and the work queue
    /// families (`workqueue_*`) in `registry`. Call once per registry.
    pub fn new(registry: &mut Registry) -> Self {
        let workqueue = WorkQueueMetrics::new(registry);
        let metrics = ControllerMetrics {
            total: Family::default(),
            errors: Family::default(),
            terminal_errors: Family::default(),
            panics: Family::default(),
            time: Family::new_with_constructor(reconcile_time_histogram),
            active_workers: Family::default(),
            max_concurrent: Family::default(),
            workqueue,
        };
        let sub = registry.sub_registry_with_prefix("controller_runtime");
        // Counters are registered without `_total`: the encoder appends it.
        sub.register(
            "reconcile",
            "Total number of reconciliations per controller",
            metrics.total.clone(),
        );
        sub.register(
            "reconcile_errors",
            "Total number of reconciliation errors per controller",
            metrics.errors.clone(),
        );
        sub.register(
            "terminal_reconcile_errors",
            "Total number of terminal reconciliation errors per controller",
            metrics.terminal_errors.clone(),
        );
        sub.register(
            "reconcile_panics",
            "Total number of reconciliation panics per controller",
            metrics.panics.clone(),
        );
        sub.register(
            "reconcile_time_seconds",
            "Length of time per reconciliation per controller",
            metrics.time.clone(),
        );
        sub.register(
            "active_workers",
            "Number of currently used workers per controller",
            metrics.active_workers.clone(),
        );
        sub.register(
            "max_concurrent_reconciles",
            "Maximum number of concurrent reconciles per controller",
            metrics.max_concurrent.clone(),
        );
        metrics
    }

    /// The work queue families registered with these.
    pub fn workqueue(&self) -> &WorkQueueMetrics {
        &self.workqueue
    }

    /// The series of one controller.
    pub(crate) fn for_controller(&self, name: &str) -> Series {
        let label = ControllerLabel {
            controller: name.to_owned(),
        };
        let result = |r: ReconcileResult| {
            self.total.get_or_create_owned(&ResultLabels {
                controller: name.to_owned(),
                result: r.label().to_owned(),
            })
        };
        Series {
            success: result(ReconcileResult::Success),
            error: result(ReconcileResult::Error),
            requeue_after: result(ReconcileResult::RequeueAfter),
            errors: self.errors.get_or_create_owned(&label),
            terminal_errors: self.terminal_errors.get_or_create_owned(&label),
            panics: self.panics.get_or_create_owned(&label),
            time: self.time.get_or_create_owned(&label),
            active_workers: self.active_workers.get_or_create_owned(&label),
            max_concurrent: self.max_concurrent.get_or_create_owned(&label),
        }
    }
}

/// One controller's series.
#[derive(Clone)]
pub(crate) struct Series {
    success: Counter,
    error: Counter,
    requeue_after: Counter,
    errors: Counter,
    terminal_errors: Counter,
    pub(crate) panics: Counter,
    time: Histogram,
    pub(crate) active_workers: Gauge,
    pub(crate) max_concurrent: Gauge,
}

impl Series {
    pub(crate) fn observe(&self, result: ReconcileResult, terminal: bool, took: Duration) {
        self.time.observe(took.as_secs_f64());
        match result {
            ReconcileResult::Success => {
                self.success.inc();
            }
            ReconcileResult::RequeueAfter => {
                self.requeue_after.inc();
            }
            ReconcileResult::Error => {
                self.error.inc();
                self.errors.inc();
                if terminal {
                    self.terminal_errors.inc();
                }
            }
        }
    }
}
