//! [`RunnableController`]: a built controller, and the worker loop that runs it
//! (controller-runtime's `internal/controller`).
//!
//! What a run guarantees:
//! - Workers start only after every source's handler has seen its informer's cache (the
//!   initial list, or everything cached when it was added), so the first reconciles read
//!   synced listers.
//! - `concurrency` workers take requests from one [`WorkQueue`]: one request is never
//!   reconciled by two workers at once; a request enqueued while being reconciled is
//!   reconciled again afterwards.
//! - `Ok(Action)`: the request's failures are forgotten; with `requeue_after(d)` it is added
//!   again after `d`. `Err`: it is re-added with the queue's rate limiter (per-key
//!   exponential back-off). A terminal `Err` is forgotten and not re-added. A panic in the
//!   reconcile is caught, counted, and handled as an ordinary error.
//! - When the shutdown future resolves: handlers are removed, the queue stops handing out
//!   requests, and the run returns once the reconciles in flight have finished. Dropping the
//!   run future instead aborts them (what a bounded shutdown does when the bound passes).
//! - A controller can run again after it stopped (a manager does so when it regains
//!   leadership): each run has a fresh queue and rate limiter, and the handlers' initial adds
//!   enqueue every cached object.

use super::builder::RateLimiterFactory;
use super::error::ReconcileError;
use super::metrics::{ControllerMetrics, ReconcileResult, Series};
use super::predicate::Predicate;
use super::request::{Action, Request};
use super::source::{Registration, Source};
use crate::cache::{InformerSynced, SharedInformerFactory, wait_for_cache_sync};
use crate::workqueue::WorkQueue;
use futures::FutureExt;
use futures::future::BoxFuture;
use prometheus_client::metrics::gauge::Gauge;
use std::any::Any;
use std::fmt;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use tokio::task::JoinSet;
use tokio::time::Instant;

/// The reconcile function with its context bound.
pub(crate) type ReconcileFn =
    Arc<dyn Fn(Request) -> BoxFuture<'static, Result<Action, ReconcileError>> + Send + Sync>;

/// Why a controller run failed.
#[derive(Debug, thiserror::Error)]
pub enum ControllerError {
    /// An informer stopped (the factory was shut down) before its cache synced.
    #[error("controller {controller}: an informer stopped before its cache synced")]
    CacheSyncFailed {
        /// The controller's name.
        controller: String,
    },
}

pub(crate) struct RunnerConfig {
    pub(crate) name: String,
    pub(crate) sources: Vec<Arc<dyn Source>>,
    pub(crate) filter: Option<Predicate>,
    pub(crate) concurrency: usize,
    pub(crate) metrics: Option<ControllerMetrics>,
    pub(crate) rate_limiter: Option<RateLimiterFactory>,
    pub(crate) reconcile: ReconcileFn,
}

/// A built controller: run it standalone with [`run`](Self::run), or hand it to a
/// [`Manager`](crate::manager::Manager). Cloning gives another handle on the same controller.
#[derive(Clone)]
pub struct RunnableController {
    config: Arc<RunnerConfig>,
}

impl fmt::Debug for RunnableController {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RunnableController")
            .field("name", &self.config.name)
            .field("watches", &self.config.sources.len())
            .field("concurrency", &self.config.concurrency)
            .finish_non_exhaustive()
    }
}

/// Removes a run's handlers and stops its queue however the run ends (returned or dropped).
struct RunGuard {
    registrations: Vec<Registration>,
    queue: WorkQueue<Request>,
}

impl Drop for RunGuard {
    fn drop(&mut self) {
        for registration in self.registrations.drain(..) {
            registration.remove();
        }
        self.queue.shutdown();
    }
}

impl RunnableController {
    pub(crate) fn new(config: RunnerConfig) -> Self {
        RunnableController {
            config: Arc::new(config),
        }
    }

    /// The controller's name.
    pub fn name(&self) -> &str {
        &self.config.name
    }

    /// Creates the informers the controller watches in `factory` (without handlers), so they
    /// start and sync with the factory before the controller runs.
    pub fn prepare(&self, factory: &SharedInformerFactory) {
        for source in &self.config.sources {
            source.prepare(factory);
        }
    }

    /// Runs the controller on `factory`'s informers (starting the factory if needed) until
    /// `shutdown` resolves, then waits for the reconciles in flight.
    pub async fn run(
        &self,
        factory: &SharedInformerFactory,
        shutdown: impl Future<Output = ()>,
    ) -> Result<(), ControllerError> {
        self.run_with_metrics(factory, self.config.metrics.as_ref(), shutdown)
            .await
    }

    /// [`run`](Self::run), recording in `metrics` (the builder's are used when `None`).
    pub(crate) async fn run_with_metrics(
        &self,
        factory: &SharedInformerFactory,
        metrics: Option<&ControllerMetrics>,
        shutdown: impl Future<Output = ()>,
    ) -> Result<(), ControllerError> {
        let config = &self.config;
        let metrics = metrics.or(config.metrics.as_ref());
        let mut queue = WorkQueue::builder().name(config.name.clone());
        if let Some(metrics) = metrics {
            queue = queue.metrics(metrics.workqueue());
        }
        if let Some(make) = &config.rate_limiter {
            queue = queue.rate_limiter(make());
        }
        let queue = queue.build();

        self.prepare(factory);
        factory.start();
        let mut guard = RunGuard {
            registrations: Vec::new(),
            queue: queue.clone(),
        };
        for source in &config.sources {
            guard.registrations.push(source.register(
                factory,
                queue.clone(),
                config.filter.clone(),
            ));
        }
        let synced: Vec<InformerSynced> = guard.registrations.iter().map(|r| r.synced()).collect();

        let mut shutdown = std::pin::pin!(shutdown);
        tokio::select! {
            ok = wait_for_cache_sync(&synced) => if !ok {
                return Err(ControllerError::CacheSyncFailed { controller: config.name.clone() });
            },
            () = &mut shutdown => return Ok(()),
        }
        tracing::info!(controller = %config.name, workers = config.concurrency, "starting workers");

        let series = metrics.map(|m| m.for_controller(&config.name));
        if let Some(series) = &series {
            series.max_concurrent.set(config.concurrency as i64);
        }
        let mut workers = JoinSet::new();
        for _ in 0..config.concurrency {
            workers.spawn(worker(
                config.name.clone(),
                queue.clone(),
                config.reconcile.clone(),
                series.clone(),
            ));
        }
        shutdown.await;
        tracing::info!(controller = %config.name, "stopping: waiting for reconciles in flight");
        for registration in guard.registrations.drain(..) {
            registration.remove();
        }
        queue.shutdown_with_drain().await;
        while workers.join_next().await.is_some() {}
        Ok(())
    }
}

async fn worker(
    name: String,
    queue: WorkQueue<Request>,
    reconcile: ReconcileFn,
    series: Option<Series>,
) {
    while let Some(request) = queue.get().await {
        let started = Instant::now();
        let active = series
            .as_ref()
            .map(|s| ActiveWorker::new(&s.active_workers));
        let outcome = AssertUnwindSafe(async { reconcile(request.clone()).await })
            .catch_unwind()
            .await;
        drop(active);
        let result = outcome.unwrap_or_else(|panic| {
            if let Some(s) = &series {
                s.panics.inc();
            }
            Err(ReconcileError::msg(format!(
                "reconcile panicked: {}",
                panic_message(&*panic)
            )))
        });
        let (label, terminal) = match result {
            Ok(action) => {
                queue.forget(&request);
                match action.requeue_after_duration() {
                    Some(delay) => {
                        queue.add_after(request.clone(), delay);
                        (ReconcileResult::RequeueAfter, false)
                    }
                    None => (ReconcileResult::Success, false),
                }
            }
            Err(error) if error.is_terminal() => {
                tracing::error!(controller = %name, request = %request, %error, "reconcile failed (terminal, not retried)");
                queue.forget(&request);
                (ReconcileResult::Error, true)
            }
            Err(error) => {
                tracing::error!(controller = %name, request = %request, %error, "reconcile failed");
                queue.add_rate_limited(request.clone());
                (ReconcileResult::Error, false)
            }
        };
        if let Some(s) = &series {
            s.observe(label, terminal, started.elapsed());
        }
        queue.done(&request);
    }
}

/// Counts a worker as active while it lives: the gauge goes down again even when the
/// reconcile is aborted (the run future dropped at the end of a bounded shutdown).
struct ActiveWorker(Gauge);

impl ActiveWorker {
    fn new(gauge: &Gauge) -> Self {
        gauge.inc();
        ActiveWorker(gauge.clone())
    }
}

impl Drop for ActiveWorker {
    fn drop(&mut self) {
        self.0.dec();
    }
}

fn panic_message(panic: &(dyn Any + Send)) -> &str {
    if let Some(s) = panic.downcast_ref::<&str>() {
        s
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s
    } else {
        "non-string panic payload"
    }
}
