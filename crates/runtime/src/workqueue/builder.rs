//! [`WorkQueueBuilder`]: configures a [`WorkQueue`]'s name, rate limiter and metrics.

use std::fmt;
use std::hash::Hash;

use super::{RateLimiter, WorkQueue, WorkQueueMetrics, default_controller_rate_limiter};

/// Configures a [`WorkQueue`]; start from [`WorkQueue::builder`].
///
/// Defaults: no name, [`default_controller_rate_limiter`], no metrics.
///
/// ```
/// use std::time::Duration;
/// use kubeforge_runtime::workqueue::{ItemExponentialFailureRateLimiter, WorkQueue, WorkQueueMetrics};
/// use prometheus_client::registry::Registry;
///
/// let mut registry = Registry::default();
/// let metrics = WorkQueueMetrics::new(&mut registry);
/// let queue: WorkQueue<String> = WorkQueue::builder()
///     .name("deployments")
///     .rate_limiter(ItemExponentialFailureRateLimiter::new(
///         Duration::from_millis(100),
///         Duration::from_secs(60),
///     ))
///     .metrics(&metrics)
///     .build();
/// ```
pub struct WorkQueueBuilder<K> {
    name: String,
    rate_limiter: Option<Box<dyn RateLimiter<K>>>,
    metrics: Option<WorkQueueMetrics>,
}

impl<K> WorkQueueBuilder<K>
where
    K: Clone + Eq + Hash + Send + Sync + 'static,
{
    pub(super) fn new() -> Self {
        Self {
            name: String::new(),
            rate_limiter: None,
            metrics: None,
        }
    }

    /// Name the queue; the name labels its metrics (controller-runtime uses the controller's name).
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// Decide retry delays with `limiter` instead of [`default_controller_rate_limiter`].
    pub fn rate_limiter(mut self, limiter: impl RateLimiter<K> + 'static) -> Self {
        self.rate_limiter = Some(Box::new(limiter));
        self
    }

    /// Record the queue's metrics in `metrics`' families, labelled with the queue's name.
    pub fn metrics(mut self, metrics: &WorkQueueMetrics) -> Self {
        self.metrics = Some(metrics.clone());
        self
    }

    /// Build the queue.
    pub fn build(self) -> WorkQueue<K> {
        let rate_limiter = self
            .rate_limiter
            .unwrap_or_else(|| Box::new(default_controller_rate_limiter()));
        WorkQueue::from_parts(self.name, rate_limiter, self.metrics.as_ref())
    }
}

impl<K> fmt::Debug for WorkQueueBuilder<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WorkQueueBuilder")
            .field("name", &self.name)
            .field("rate_limiter", &self.rate_limiter.as_ref().map(|_| ".."))
            .field("metrics", &self.metrics.is_some())
            .finish()
    }
}
