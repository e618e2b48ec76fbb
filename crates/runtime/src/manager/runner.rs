//! [`Manager`]: runs controllers over one shared informer factory, while leading, with
//! metrics and probes, until a shutdown signal (controller-runtime's `manager`).
//!
//! What a run does:
//! 1. Serves `/metrics`, `/healthz`, `/readyz` (not ready yet).
//! 2. Creates the informers of every controller and starts the factory, leader or not: a
//!    standby keeps warm caches and takes over without relisting. `/readyz` turns 200 once
//!    they have synced.
//! 3. Without leader election, starts the controllers. With it, campaigns for the Lease;
//!    starts the controllers on winning; when the lease is lost (not renewed within the
//!    renew deadline) stops them — waiting for reconciles in flight at most
//!    `lease_duration - renew_deadline`, then aborting them, so the old leader has stopped
//!    before anyone else can win — and campaigns again. (controller-runtime exits the
//!    process instead; here the manager returns to standby, which a restart would do too.)
//! 4. On shutdown: stops the controllers (draining work in flight, bounded by the graceful
//!    shutdown timeout, then aborting), releases the Lease if configured, flushes the event
//!    recorders, stops the informers and the endpoints.

use super::builder::ManagerBuilder;
use super::leader_election::{LeaderElectionConfig, LeaderElector};
use super::probes::{Probes, health_routes, metrics_routes};
use crate::cache::SharedInformerFactory;
use crate::controller::{ControllerMetrics, RunnableController};
use crate::events::Recorder;
use kube::Client;
use prometheus_client::registry::Registry;
use std::future::Future;
use std::net::{SocketAddr, TcpListener};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio::time::Instant;

/// Why a manager could not be built or run.
#[derive(Debug, thiserror::Error)]
pub enum ManagerError {
    /// An endpoint's address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The cause.
        source: std::io::Error,
    },
    /// The leader election settings break client-go's constraints.
    #[error("invalid leader election configuration: {0}")]
    InvalidLeaderElection(String),
    /// No kubeconfig or in-cluster configuration was found.
    #[error("cannot load Kubernetes client configuration: {0}")]
    Config(#[from] kube::config::InferConfigError),
    /// The client could not be built from the configuration.
    #[error("cannot build the Kubernetes client: {0}")]
    Client(#[from] kube::Error),
    /// An endpoint's server failed.
    #[error("endpoint server failed: {0}")]
    Serve(#[source] std::io::Error),
}

/// Runs controllers (see the [module docs](self)).
///
/// ```no_run
/// # async fn demo(controller: kubeforge_runtime::controller::RunnableController) -> Result<(), Box<dyn std::error::Error>> {
/// use kubeforge_runtime::manager::{shutdown_signal, LeaderElectionConfig, Manager};
///
/// let mut manager = Manager::builder_inferred()
///     .await?
///     .leader_election(LeaderElectionConfig::new("widgets", "kube-system", "pod-a"))
///     .metrics_addr("0.0.0.0:8080".parse()?)
///     .health_addr("0.0.0.0:8081".parse()?)
///     .build()?;
/// manager.add(controller);
/// manager.run(shutdown_signal()).await?;
/// # Ok(()) }
/// ```
pub struct Manager {
    client: Client,
    factory: SharedInformerFactory,
    registry: Registry,
    metrics: ControllerMetrics,
    controllers: Vec<RunnableController>,
    leader_election: Option<LeaderElectionConfig>,
    metrics_listener: Option<TcpListener>,
    health_listener: Option<TcpListener>,
    shared_listener: bool,
    graceful_shutdown_timeout: Duration,
    leading: watch::Sender<bool>,
    ready: watch::Sender<bool>,
    recorders: Mutex<Vec<Recorder>>,
}

impl std::fmt::Debug for Manager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Manager")
            .field(
                "controllers",
                &self
                    .controllers
                    .iter()
                    .map(|c| c.name())
                    .collect::<Vec<_>>(),
            )
            .field("leader_election", &self.leader_election)
            .field("metrics_addr", &self.metrics_local_addr())
            .field("health_addr", &self.health_local_addr())
            .finish_non_exhaustive()
    }
}

impl Manager {
    /// Configure a manager talking through `client`.
    pub fn builder(client: Client) -> ManagerBuilder {
        ManagerBuilder::new(client)
    }

    /// Configure a manager with a client from the environment: `$KUBECONFIG` or
    /// `~/.kube/config`, else the in-cluster service account (`kube::Config::infer`).
    pub async fn builder_inferred() -> Result<ManagerBuilder, ManagerError> {
        let config = kube::Config::infer().await?;
        Ok(Self::builder(Client::try_from(config)?))
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn new(
        client: Client,
        leader_election: Option<LeaderElectionConfig>,
        metrics_listener: Option<TcpListener>,
        health_listener: Option<TcpListener>,
        shared_listener: bool,
        graceful_shutdown_timeout: Duration,
        resync_period: Duration,
    ) -> Self {
        let mut registry = Registry::default();
        let metrics = ControllerMetrics::new(&mut registry);
        Manager {
            factory: SharedInformerFactory::new(client.clone()).with_resync_period(resync_period),
            client,
            registry,
            metrics,
            controllers: Vec::new(),
            leader_election,
            metrics_listener,
            health_listener,
            shared_listener,
            graceful_shutdown_timeout,
            leading: watch::Sender::new(false),
            ready: watch::Sender::new(false),
            recorders: Mutex::new(Vec::new()),
        }
    }

    /// The client the manager was built with.
    pub fn client(&self) -> Client {
        self.client.clone()
    }

    /// The shared informer factory: take listers for reconcilers from here (the same
    /// informers the controllers watch).
    pub fn factory(&self) -> SharedInformerFactory {
        self.factory.clone()
    }

    /// The registry `/metrics` serves; register your own metrics before [`run`](Self::run).
    pub fn registry_mut(&mut self) -> &mut Registry {
        &mut self.registry
    }

    /// Adds a controller; it runs (while leading) from [`run`](Self::run) on.
    pub fn add(&mut self, controller: RunnableController) {
        self.controllers.push(controller);
    }

    /// An event recorder reporting as `reporting_controller` from this manager's identity
    /// (the leader election identity, else `$HOSTNAME`); flushed on shutdown.
    pub fn recorder(&self, reporting_controller: &str) -> Recorder {
        let instance = self
            .leader_election
            .as_ref()
            .map(|le| le.identity.clone())
            .or_else(|| std::env::var("HOSTNAME").ok())
            .unwrap_or_else(|| reporting_controller.to_owned());
        let recorder = Recorder::new(self.client.clone(), reporting_controller, &instance);
        self.recorders
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(recorder.clone());
        recorder
    }

    /// The bound address of `/metrics`, if configured.
    pub fn metrics_local_addr(&self) -> Option<SocketAddr> {
        self.metrics_listener
            .as_ref()
            .and_then(|l| l.local_addr().ok())
    }

    /// The bound address of `/healthz` and `/readyz`, if configured.
    pub fn health_local_addr(&self) -> Option<SocketAddr> {
        if self.shared_listener {
            return self.metrics_local_addr();
        }
        self.health_listener
            .as_ref()
            .and_then(|l| l.local_addr().ok())
    }

    /// Whether this manager runs its controllers now: `true` from winning the lease (or from
    /// the start, without leader election) until its controllers have stopped.
    pub fn leader_status(&self) -> watch::Receiver<bool> {
        self.leading.subscribe()
    }

    /// Whether the informers have synced (what `/readyz` answers).
    pub fn ready_status(&self) -> watch::Receiver<bool> {
        self.ready.subscribe()
    }

    /// Runs until `shutdown` resolves, then shuts down gracefully (see the module docs).
    pub async fn run(self, shutdown: impl Future<Output = ()>) -> Result<(), ManagerError> {
        let mut shutdown = std::pin::pin!(shutdown);
        let (stop_servers, servers_stopped) = watch::channel(false);
        let registry = Arc::new(self.registry);
        let probes = Probes {
            registry,
            ready: self.ready.subscribe(),
        };
        let mut servers = JoinSet::new();
        let serve = |listener: TcpListener, router: axum::Router<Probes>| {
            let mut stopped = servers_stopped.clone();
            let app = router.with_state(probes.clone());
            async move {
                let listener =
                    tokio::net::TcpListener::from_std(listener).map_err(ManagerError::Serve)?;
                axum::serve(listener, app)
                    .with_graceful_shutdown(async move {
                        let _ = stopped.wait_for(|s| *s).await;
                    })
                    .await
                    .map_err(ManagerError::Serve)
            }
        };
        if let Some(l) = self.metrics_listener {
            let routes = if self.shared_listener {
                metrics_routes().merge(health_routes())
            } else {
                metrics_routes()
            };
            servers.spawn(serve(l, routes));
        }
        if let Some(l) = self.health_listener {
            servers.spawn(serve(l, health_routes()));
        }

        let factory = self.factory.clone();
        for controller in &self.controllers {
            controller.prepare(&factory);
        }
        factory.start();
        let ready = self.ready.clone();
        let sync_watch = tokio::spawn({
            let factory = factory.clone();
            async move {
                if factory.wait_for_cache_sync().await {
                    ready.send_replace(true);
                }
            }
        });

        let running = Running {
            factory: factory.clone(),
            metrics: self.metrics.clone(),
            controllers: self.controllers.clone(),
            leading: self.leading.clone(),
        };
        match self.leader_election.clone() {
            None => {
                let group = running.start();
                shutdown.as_mut().await;
                group.stop(self.graceful_shutdown_timeout).await;
                running.leading.send_replace(false);
            }
            Some(config) => {
                let mut elector = LeaderElector::new(self.client.clone(), config);
                lead_while_elected(
                    &mut elector,
                    &running,
                    shutdown.as_mut(),
                    self.graceful_shutdown_timeout,
                )
                .await;
                if elector.config().release_on_cancel
                    && let Err(error) = elector.release().await
                {
                    tracing::warn!(%error, "could not release the leader lease");
                }
            }
        }

        let recorders = std::mem::take(
            &mut *self
                .recorders
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
        );
        for recorder in recorders {
            let flushed = tokio::time::timeout(Duration::from_secs(5), recorder.flush()).await;
            if !matches!(flushed, Ok(Ok(()))) {
                tracing::warn!("could not flush event series counts on shutdown");
            }
        }
        sync_watch.abort();
        if tokio::time::timeout(self.graceful_shutdown_timeout, factory.shutdown())
            .await
            .is_err()
        {
            tracing::warn!("informers did not stop within the graceful shutdown timeout");
        }
        stop_servers.send_replace(true);
        let mut result = Ok(());
        while let Some(joined) = servers.join_next().await {
            if let Ok(Err(e)) = joined {
                result = Err(e);
            }
        }
        result
    }
}

/// What starting the controllers needs.
struct Running {
    factory: SharedInformerFactory,
    metrics: ControllerMetrics,
    controllers: Vec<RunnableController>,
    leading: watch::Sender<bool>,
}

/// The controllers of one leadership term, running.
struct ControllerGroup {
    stop: watch::Sender<bool>,
    tasks: JoinSet<()>,
}

impl Running {
    fn start(&self) -> ControllerGroup {
        self.leading.send_replace(true);
        let (stop, stopped) = watch::channel(false);
        let mut tasks = JoinSet::new();
        for controller in &self.controllers {
            let (controller, factory, metrics) = (
                controller.clone(),
                self.factory.clone(),
                self.metrics.clone(),
            );
            let mut stopped = stopped.clone();
            tasks.spawn(async move {
                let shutdown = async move {
                    let _ = stopped.wait_for(|s| *s).await;
                };
                if let Err(error) = controller
                    .run_with_metrics(&factory, Some(&metrics), shutdown)
                    .await
                {
                    tracing::error!(%error, "controller stopped");
                }
            });
        }
        ControllerGroup { stop, tasks }
    }
}

impl ControllerGroup {
    /// Stops the controllers: work in flight may finish within `bound`, then is aborted.
    async fn stop(mut self, bound: Duration) {
        self.stop.send_replace(true);
        let drained = tokio::time::timeout(bound, async {
            while self.tasks.join_next().await.is_some() {}
        })
        .await;
        if drained.is_err() {
            tracing::warn!(
                ?bound,
                "reconciles still in flight after the bound: aborting them"
            );
            self.tasks.abort_all();
            while self.tasks.join_next().await.is_some() {}
        }
    }
}

/// Campaigns, leads while the lease is renewed, returns to campaigning when it is lost, until
/// `shutdown` resolves.
async fn lead_while_elected(
    elector: &mut LeaderElector,
    running: &Running,
    mut shutdown: std::pin::Pin<&mut impl Future<Output = ()>>,
    graceful: Duration,
) {
    let config = elector.config().clone();
    loop {
        // Campaign.
        loop {
            match elector.try_acquire_or_renew().await {
                Ok(true) => break,
                Ok(false) => {}
                Err(error) => tracing::warn!(%error, "leader election: cannot reach the lease"),
            }
            tokio::select! {
                () = shutdown.as_mut() => return,
                () = tokio::time::sleep(elector.jittered_retry()) => {}
            }
        }
        tracing::info!(identity = %config.identity, lease = %config.lease_name, "became leader");
        let mut last_renew = Instant::now();
        let group = running.start();
        // Renew until shutdown or the renew deadline passes without a renewal.
        let lost = loop {
            tokio::select! {
                () = shutdown.as_mut() => break false,
                () = tokio::time::sleep(config.retry_period) => {}
            }
            let left = config.renew_deadline.saturating_sub(last_renew.elapsed());
            match tokio::time::timeout(left, elector.try_acquire_or_renew()).await {
                Ok(Ok(true)) => last_renew = Instant::now(),
                Ok(Ok(false)) => {}
                Ok(Err(error)) => tracing::warn!(%error, "leader election: renew failed"),
                Err(_) => {}
            }
            if last_renew.elapsed() >= config.renew_deadline {
                break true;
            }
        };
        if lost {
            tracing::warn!(identity = %config.identity, "leader lease lost: stopping controllers");
            // Stop before anyone else may win: within lease_duration - renew_deadline.
            group
                .stop(config.lease_duration.saturating_sub(config.renew_deadline))
                .await;
            elector.stopped_leading();
            running.leading.send_replace(false);
        } else {
            group.stop(graceful).await;
            running.leading.send_replace(false);
            return;
        }
    }
}
