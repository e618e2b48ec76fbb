//! Controllers: watch objects, reconcile them one key at a time (controller-runtime's
//! `builder`, `controller`, `reconcile`, `predicate`, `handler`, `source`).
//!
//! ```text
//! informers (shared factory) ──handlers: for / owns / watches, predicates──▶ WorkQueue<Request>
//!                                                                             │ N workers
//!                                            reconcile(ctx, Request) ◀────────┘
//!                                  Ok(Action) → forget (+ add_after) · Err → add_rate_limited
//! ```
//!
//! | file | mechanism |
//! |---|---|
//! | `request.rs` | [`Request`] (what to reconcile), [`Action`] (what to do after) |
//! | `error.rs` | [`ReconcileError`]: any error via `?`, terminal or retried |
//! | `predicate.rs` | [`Predicate`] and the built-in [`predicates`] |
//! | `source.rs` | informer events → requests: the object, its controlling owner, a map function |
//! | `builder.rs` | [`Controller`]: the builder |
//! | `runner.rs` | [`RunnableController`]: sync, workers, results, panics, shutdown |
//! | `metrics.rs` | [`ControllerMetrics`] with controller-runtime's names |
//!
//! Where this differs from controller-runtime, and why:
//! - A reconcile gets the context as an `Arc` argument instead of being a method on a
//!   reconciler struct: closures and plain `async fn`s both work.
//! - Predicates set with [`Controller::with_event_filter`] apply to every source, as
//!   `WithEventFilter`; there are no per-source predicates yet.

mod builder;
mod error;
mod metrics;
mod predicate;
mod request;
mod runner;
mod source;

pub use builder::Controller;
pub use error::ReconcileError;
pub use metrics::ControllerMetrics;
pub use predicate::{ObjectEvent, Predicate, predicates};
pub use request::{Action, Request};
pub use runner::{ControllerError, RunnableController};
pub(crate) use source::group_of;
