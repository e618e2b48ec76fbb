//! Work queues and rate limiters: client-go's `util/workqueue`, for async Rust.
//!
//! A controller's event handlers [`add`](WorkQueue::add) keys (usually `namespace/name`) to a
//! [`WorkQueue`]; workers [`get`](WorkQueue::get) a key, reconcile it, and hand it back with
//! [`done`](WorkQueue::done). The queue makes that safe with any number of workers:
//!
//! - a key queued several times is processed once (dedup while queued);
//! - a key is never processed by two workers at once; if it changes while being processed it
//!   is processed again afterwards;
//! - failures are retried with per-key backoff ([`add_rate_limited`](WorkQueue::add_rate_limited),
//!   [`forget`](WorkQueue::forget)), and "look again later" is [`add_after`](WorkQueue::add_after).
//!
//! One mechanism per file, as in client-go:
//!
//! | file | mechanism |
//! |---|---|
//! | `queue.rs` | the queue: order, dedup, processing set, shutdown |
//! | `delaying.rs` | `add_after` |
//! | `rate_limiting.rs` | `add_rate_limited`, `forget`, `num_requeues` |
//! | `rate_limiter.rs` | where retry delays are decided: the [`RateLimiter`]s |
//! | `metrics.rs` | [`WorkQueueMetrics`], controller-runtime's `workqueue_*` metrics |
//! | `builder.rs` | [`WorkQueueBuilder`] |
//!
//! A worker loop:
//!
//! ```
//! use kubeforge_runtime::workqueue::{WorkQueue, WorkQueueMetrics, default_controller_rate_limiter};
//! use prometheus_client::registry::Registry;
//!
//! async fn reconcile(key: &str) -> Result<(), String> {
//!     if key.ends_with("broken") { Err(format!("{key}: not yet")) } else { Ok(()) }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let mut registry = Registry::default();
//! let metrics = WorkQueueMetrics::new(&mut registry);
//! let queue: WorkQueue<String> = WorkQueue::builder()
//!     .name("configmaps")
//!     .rate_limiter(default_controller_rate_limiter())
//!     .metrics(&metrics)
//!     .build();
//!
//! let worker = tokio::spawn({
//!     let queue = queue.clone();
//!     async move {
//!         while let Some(key) = queue.get().await {
//!             match reconcile(&key).await {
//!                 Ok(()) => queue.forget(&key),
//!                 Err(_) => queue.add_rate_limited(key.clone()),
//!             }
//!             queue.done(&key);
//!         }
//!     }
//! });
//!
//! queue.add("default/settings".to_owned());
//! queue.add("default/broken".to_owned());
//! # tokio::time::sleep(std::time::Duration::from_millis(50)).await;
//! queue.shutdown_with_drain().await;
//! worker.await.unwrap();
//! # }
//! ```

mod builder;
mod delaying;
mod metrics;
mod queue;
mod rate_limiter;
mod rate_limiting;

pub use builder::WorkQueueBuilder;
pub use metrics::WorkQueueMetrics;
pub use queue::WorkQueue;
pub use rate_limiter::{
    BucketRateLimiter, ItemExponentialFailureRateLimiter, ItemFastSlowRateLimiter,
    MaxOfRateLimiter, RateLimiter, default_controller_rate_limiter,
};
