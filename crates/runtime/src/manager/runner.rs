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
//!    renew deadline) stops them — waiting for reconciles in flight until shortly before the
//!    last renewal sent can expire for others (`last_renew + lease_duration`, less a margin),
//!    then aborting them, so the old leader has stopped before anyone else can win — and
//!    campaigns again. (controller-runtime exits the process instead; here the manager
//!    returns to standby, which a restart would do too.)
//! 4. On shutdown: stops the controllers (draining work in flight, bounded by the graceful
//!    shutdown timeout, then aborting) while still renewing the Lease, so no standby leads
//!    before they have stopped; if the lease is lost during the drain, the drain is cut
//!    short as in 3. Then releases the Lease if configured (bounded by the renew deadline),
//!    flushes the event recorders, stops the informers and the endpoints. A campaign in
//!    progress does not delay shutdown, even against an unreachable API server.

use super::builder::ManagerBuilder;
use super::leader_election::{LeaderElectionConfig, LeaderElector};
use super::metrics::ManagerMetrics;
use super::probes::{Probes, health_routes, metrics_routes};
use crate::cache::SharedInformerFactory;
use crate::controller::{ControllerMetrics, RunnableController};
use crate::events::Recorder;
use kube::Client;
use prometheus_client::registry::Registry;
use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::future::Future;
use std::net::{SocketAddr, TcpListener};
use std::ops::DerefMut;
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
    metrics: ManagerMetrics,
    extensions: HashMap<TypeId, Arc<dyn Any + Send + Sync>>,
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
        metrics: Option<ManagerMetrics>,
    ) -> Self {
        Manager {
            factory: SharedInformerFactory::new(client.clone()).with_resync_period(resync_period),
            client,
            metrics: metrics.unwrap_or_default(),
            extensions: HashMap::new(),
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
    pub fn registry_mut(&mut self) -> impl DerefMut<Target = Registry> + '_ {
        self.metrics.registry()
    }

    /// Registers metrics in the registry `/metrics` serves from code that holds only a shared
    /// reference (a controller's builder function); before [`run`](Self::run).
    pub fn register_metrics<R>(&self, register: impl FnOnce(&mut Registry) -> R) -> R {
        register(&mut self.metrics.registry())
    }

    /// This manager's metrics: give them to [`ManagerBuilder::metrics`] of another manager in
    /// the same process to serve both managers' controllers from one `/metrics`.
    pub fn metrics(&self) -> ManagerMetrics {
        self.metrics.clone()
    }

    /// Carries `value` for the controllers built on this manager (axum's `Extension`): how a
    /// program passes its options to controller builder functions that take only the manager.
    /// A second value of the same type replaces the first.
    pub fn insert_extension<T: Send + Sync + 'static>(&mut self, value: T) {
        self.extensions.insert(TypeId::of::<T>(), Arc::new(value));
    }

    /// The value of type `T` given to [`insert_extension`](Self::insert_extension), if any.
    pub fn extension<T: Send + Sync + 'static>(&self) -> Option<Arc<T>> {
        self.extensions
            .get(&TypeId::of::<T>())
            .cloned()
            .and_then(|value| value.downcast::<T>().ok())
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
        let probes = Probes {
            metrics: self.metrics.clone(),
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
            metrics: self.metrics.controllers().clone(),
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
                if elector.config().release_on_cancel {
                    let deadline = elector.config().renew_deadline;
                    match tokio::time::timeout(deadline, elector.release()).await {
                        Ok(Ok(())) => {}
                        Ok(Err(error)) => {
                            tracing::warn!(%error, "could not release the leader lease");
                        }
                        Err(_) => tracing::warn!(
                            "could not release the leader lease within the renew deadline"
                        ),
                    }
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
    /// Tells the controllers to stop: they stop taking work and finish what is in flight.
    fn signal_stop(&self) {
        self.stop.send_replace(true);
    }

    /// Waits until every controller has returned. Cancel-safe: dropping it leaves the
    /// controllers running.
    async fn drained(&mut self) {
        while self.tasks.join_next().await.is_some() {}
    }

    /// After [`signal_stop`](Self::signal_stop): waits for the controllers until `deadline`,
    /// then aborts the reconciles still in flight.
    async fn stop_by(mut self, deadline: Instant) {
        if tokio::time::timeout_at(deadline, self.drained())
            .await
            .is_err()
        {
            tracing::warn!("reconciles still in flight after the bound: aborting them");
            self.tasks.abort_all();
            self.drained().await;
        }
    }

    /// Stops the controllers: work in flight may finish within `bound`, then is aborted.
    async fn stop(self, bound: Duration) {
        self.signal_stop();
        self.stop_by(Instant::now() + bound).await;
    }
}

/// Renews the lease every `retry_period` until the renew deadline passes without a
/// successful renewal; `last_renew` is when the last successful renewal was sent. Cancel-safe.
async fn renew_until_lost(elector: &mut LeaderElector, last_renew: &mut Instant) {
    let config = elector.config().clone();
    loop {
        let deadline = *last_renew + config.renew_deadline;
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return;
        }
        tokio::time::sleep(config.retry_period.min(left)).await;
        let sent = Instant::now();
        if sent >= deadline {
            return;
        }
        match tokio::time::timeout_at(deadline, elector.try_acquire_or_renew()).await {
            // The server wrote the renewal after `sent`: others see the lease valid
            // until at least `sent + lease_duration`.
            Ok(Ok(true)) => *last_renew = sent,
            Ok(Ok(false)) | Err(_) => {}
            Ok(Err(error)) => tracing::warn!(%error, "leader election: renew failed"),
        }
    }
}

/// When controllers must have stopped after the lease was lost: before the last renewal
/// sent (`last_renew`) can expire for others, less a margin for aborting and for clocks
/// that do not run at quite the same rate (a quarter of `lease_duration - renew_deadline`).
fn lost_lease_deadline(config: &LeaderElectionConfig, last_renew: Instant) -> Instant {
    let margin = config.lease_duration.saturating_sub(config.renew_deadline) / 4;
    (last_renew + config.lease_duration)
        .checked_sub(margin)
        .unwrap_or(last_renew)
}

/// Campaigns, leads while the lease is renewed, returns to campaigning when it is lost, until
/// `shutdown` resolves.
///
/// On shutdown the lease is still renewed while the controllers drain (controller-runtime
/// cancels leader election only once its runnables have stopped); if the lease is lost
/// meanwhile, the drain is cut short at the lost-lease bound.
async fn lead_while_elected(
    elector: &mut LeaderElector,
    running: &Running,
    mut shutdown: std::pin::Pin<&mut impl Future<Output = ()>>,
    graceful: Duration,
) {
    let config = elector.config().clone();
    loop {
        // Campaign (an unreachable API server must not hold up shutdown).
        let mut last_renew = loop {
            let sent = Instant::now();
            tokio::select! {
                () = shutdown.as_mut() => return,
                acquired = elector.try_acquire_or_renew() => match acquired {
                    Ok(true) => break sent,
                    Ok(false) => {}
                    Err(error) => tracing::warn!(%error, "leader election: cannot reach the lease"),
                },
            }
            tokio::select! {
                () = shutdown.as_mut() => return,
                () = tokio::time::sleep(elector.jittered_retry()) => {}
            }
        };
        tracing::info!(identity = %config.identity, lease = %config.lease_name, "became leader");
        let mut group = running.start();
        let shut_down = tokio::select! {
            () = shutdown.as_mut() => true,
            () = renew_until_lost(elector, &mut last_renew) => false,
        };
        if shut_down {
            group.signal_stop();
            let graceful_deadline = Instant::now() + graceful;
            let lost = tokio::select! {
                () = group.drained() => false,
                () = tokio::time::sleep_until(graceful_deadline) => false,
                () = renew_until_lost(elector, &mut last_renew) => true,
            };
            if lost {
                tracing::warn!(identity = %config.identity, "leader lease lost while draining: cutting the drain short");
            }
            let deadline = if lost {
                graceful_deadline.min(lost_lease_deadline(&config, last_renew))
            } else {
                graceful_deadline
            };
            group.stop_by(deadline).await;
            if lost {
                elector.stopped_leading();
            }
            running.leading.send_replace(false);
            return;
        }
        tracing::warn!(identity = %config.identity, "leader lease lost: stopping controllers");
        // Stop before anyone else may win.
        group.signal_stop();
        group
            .stop_by(lost_lease_deadline(&config, last_renew))
            .await;
        elector.stopped_leading();
        running.leading.send_replace(false);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lost_lease_stops_controllers_before_the_last_renewal_expires() {
        let config = LeaderElectionConfig::new("l", "ns", "me").durations(
            Duration::from_secs(15),
            Duration::from_secs(10),
            Duration::from_secs(2),
        );
        let last_renew = Instant::now();
        // 15 s after the last renewal was sent, less a quarter of 15 - 10 s.
        assert_eq!(
            lost_lease_deadline(&config, last_renew),
            last_renew + Duration::from_millis(13_750)
        );
    }
}
