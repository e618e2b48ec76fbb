//! The manager: runs controllers over one shared informer factory, with leader election,
//! metrics, health probes and graceful shutdown (controller-runtime's `manager`).
//!
//! | file | mechanism |
//! |---|---|
//! | `builder.rs` | [`ManagerBuilder`]: leader election, endpoints, shutdown bound |
//! | `runner.rs` | [`Manager`]: caches, controllers while leading, shutdown order |
//! | `leader_election.rs` | [`LeaderElectionConfig`] and the Lease loop |
//! | `probes.rs` | `/metrics`, `/healthz`, `/readyz` |
//! | `signals.rs` | [`shutdown_signal`]: SIGTERM / SIGINT |

mod builder;
mod leader_election;
mod metrics;
mod probes;
mod runner;
mod signals;

pub use builder::ManagerBuilder;
pub use leader_election::LeaderElectionConfig;
pub use metrics::ManagerMetrics;
pub use runner::{Manager, ManagerError};
pub use signals::shutdown_signal;
