//! [`ManagerBuilder`]: a manager's client, leader election, endpoints and shutdown bound.

use super::leader_election::LeaderElectionConfig;
use super::metrics::ManagerMetrics;
use super::runner::{Manager, ManagerError};
use kube::Client;
use std::net::{SocketAddr, TcpListener};
use std::time::Duration;

/// Configures a [`Manager`]; start from [`Manager::builder`].
///
/// Defaults: no leader election (every replica runs its controllers), no metrics or probe
/// endpoints, informer resync off, graceful shutdown bounded at 30 s (controller-runtime's).
pub struct ManagerBuilder {
    client: Client,
    leader_election: Option<LeaderElectionConfig>,
    metrics_addr: Option<SocketAddr>,
    health_addr: Option<SocketAddr>,
    graceful_shutdown_timeout: Duration,
    resync_period: Duration,
    metrics: Option<ManagerMetrics>,
}

impl std::fmt::Debug for ManagerBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ManagerBuilder")
            .field("leader_election", &self.leader_election)
            .field("metrics_addr", &self.metrics_addr)
            .field("health_addr", &self.health_addr)
            .field("graceful_shutdown_timeout", &self.graceful_shutdown_timeout)
            .finish_non_exhaustive()
    }
}

impl ManagerBuilder {
    pub(super) fn new(client: Client) -> Self {
        ManagerBuilder {
            client,
            leader_election: None,
            metrics_addr: None,
            health_addr: None,
            graceful_shutdown_timeout: Duration::from_secs(30),
            resync_period: Duration::ZERO,
            metrics: None,
        }
    }

    /// Run the controllers only while holding this Lease.
    #[must_use]
    pub fn leader_election(mut self, config: LeaderElectionConfig) -> Self {
        self.leader_election = Some(config);
        self
    }

    /// Serve `/metrics` on `addr` (port 0: any free port, see
    /// [`Manager::metrics_local_addr`]).
    #[must_use]
    pub fn metrics_addr(mut self, addr: SocketAddr) -> Self {
        self.metrics_addr = Some(addr);
        self
    }

    /// Serve `/healthz` and `/readyz` on `addr` (the same non-zero address as metrics: one
    /// server for both).
    #[must_use]
    pub fn health_addr(mut self, addr: SocketAddr) -> Self {
        self.health_addr = Some(addr);
        self
    }

    /// How long a shutdown may wait for reconciles in flight before aborting them.
    #[must_use]
    pub fn graceful_shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.graceful_shutdown_timeout = timeout;
        self
    }

    /// Record into and serve `metrics` (another manager's, from [`Manager::metrics`]) instead of
    /// a registry of this manager's own: managers of one process then share one `/metrics`
    /// (usually only one of them serves it).
    #[must_use]
    pub fn metrics(mut self, metrics: ManagerMetrics) -> Self {
        self.metrics = Some(metrics);
        self
    }

    /// The resync period of the shared informers (zero, the default: none).
    #[must_use]
    pub fn resync_period(mut self, period: Duration) -> Self {
        self.resync_period = period;
        self
    }

    /// Checks the configuration and binds the endpoints' addresses.
    pub fn build(self) -> Result<Manager, ManagerError> {
        if let Some(le) = &self.leader_election {
            le.validate().map_err(ManagerError::InvalidLeaderElection)?;
        }
        let bind = |addr: SocketAddr| {
            let listener =
                TcpListener::bind(addr).map_err(|source| ManagerError::Bind { addr, source })?;
            listener
                .set_nonblocking(true)
                .map_err(|source| ManagerError::Bind { addr, source })?;
            Ok::<_, ManagerError>(listener)
        };
        // The same fixed address: one server for both. (Port 0 twice means two free ports.)
        let shared = self
            .metrics_addr
            .is_some_and(|m| m.port() != 0 && Some(m) == self.health_addr);
        let metrics_listener = self.metrics_addr.map(bind).transpose()?;
        let health_listener = if shared {
            None
        } else {
            self.health_addr.map(bind).transpose()?
        };
        Ok(Manager::new(
            self.client,
            self.leader_election,
            metrics_listener,
            health_listener,
            shared,
            self.graceful_shutdown_timeout,
            self.resync_period,
            self.metrics,
        ))
    }
}
