//! Running operators in one process under kubeforge-runtime's [`Manager`]: one shared informer
//! factory (one watch per kind, whatever the number of operators), one controller per operator,
//! optional leader election on a Lease, `/metrics`, `/healthz` and `/readyz`, and a graceful
//! shutdown.

use crate::Operator;
use crate::shutdown::ShutdownHooks;
use kube::Client;
use kubeforge_runtime::cache::IndexError;
use kubeforge_runtime::manager::{LeaderElectionConfig, Manager, ManagerError, ManagerMetrics};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

/// How the operators run.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Who this process is (the leader election identity and events' `reportingInstance`);
    /// default: [`default_identity`].
    pub identity: Option<String>,
    /// Run the controllers only while holding a Lease in this namespace (`None`: always run).
    pub leader_election_namespace: Option<String>,
    /// Serve `/metrics` here (port 0: any free port).
    pub metrics_addr: Option<SocketAddr>,
    /// Serve `/healthz` and `/readyz` here.
    pub health_addr: Option<SocketAddr>,
    /// The service detector's options (its grace period).
    pub service_detector: crate::service_detector::Options,
    /// Record metrics into these (another [`Operators`]' [`metrics`](Operators::metrics)) so
    /// that one `/metrics` serves both; `None`: a registry of their own.
    pub metrics: Option<ManagerMetrics>,
}

/// Why running the operators failed.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// An operator's controller could not be built.
    #[error("building the {operator} controller: {source}")]
    Wiring {
        /// The operator.
        operator: &'static str,
        /// Why.
        source: IndexError,
    },
    /// The manager could not be built or failed.
    #[error(transparent)]
    Manager(#[from] ManagerError),
}

/// This process's identity, unique per process as client-go's leader election wants it:
/// `$POD_NAME` (in a cluster) or the host name, then `_` and the process id.
pub fn default_identity() -> String {
    let host = std::env::var("POD_NAME")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "kubeforge".to_string());
    format!("{host}_{}", std::process::id())
}

/// The Lease a set of operators elects its leader on: `kubeforge-foo-codis`; processes running
/// different sets do not compete.
pub fn lease_name(operators: &[&Operator]) -> String {
    let names: Vec<&str> = operators.iter().map(|o| o.name).collect();
    format!("kubeforge-{}", names.join("-"))
}

/// Operators ready to run: their endpoints are bound (so their addresses are known), nothing
/// runs until [`run`](Self::run).
#[derive(Debug)]
pub struct Operators {
    manager: Manager,
    hooks: Arc<ShutdownHooks>,
}

impl Operators {
    /// Builds the manager and one controller per operator.
    pub fn new(
        client: Client,
        operators: &[&Operator],
        options: RunOptions,
    ) -> Result<Self, RunError> {
        let identity = options.identity.unwrap_or_else(default_identity);
        let mut builder = Manager::builder(client);
        if let Some(namespace) = &options.leader_election_namespace {
            // Released on shutdown: the process exits right after, and a restarted `kubeforge up`
            // (or the next Pod) need not wait out the lease (controller-runtime's
            // LeaderElectionReleaseOnCancel).
            builder = builder.leader_election(
                LeaderElectionConfig::new(&lease_name(operators), namespace, &identity)
                    .release_on_cancel(true),
            );
        }
        if let Some(addr) = options.metrics_addr {
            builder = builder.metrics_addr(addr);
        }
        if let Some(addr) = options.health_addr {
            builder = builder.health_addr(addr);
        }
        if let Some(metrics) = options.metrics {
            builder = builder.metrics(metrics);
        }
        let mut manager = builder.build()?;
        // Operators' options reach their controller builders as manager extensions.
        manager.insert_extension(options.service_detector);
        // Work that outlives the controllers (eventhorizon's drain) registers here.
        manager.insert_extension(ShutdownHooks::default());
        // The policy controllers share one pod writer (one write per pod for all their marks).
        manager.insert_extension(crate::policy::SharedPodWrites::default());
        let hooks = manager
            .extension::<ShutdownHooks>()
            .expect("the extension was just inserted");
        for operator in operators {
            let controller =
                (operator.controller)(&manager).map_err(|source| RunError::Wiring {
                    operator: operator.name,
                    source,
                })?;
            manager.add(controller);
        }
        Ok(Operators { manager, hooks })
    }

    /// The hooks run after the controllers stop (operators register theirs while built).
    pub fn shutdown_hooks(&self) -> Arc<ShutdownHooks> {
        self.hooks.clone()
    }

    /// The metrics these operators record (see [`RunOptions::metrics`]).
    pub fn metrics(&self) -> ManagerMetrics {
        self.manager.metrics()
    }

    /// Where `/metrics` is served, if it is.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.manager.metrics_local_addr()
    }

    /// Where `/healthz` and `/readyz` are served, if they are.
    pub fn health_addr(&self) -> Option<SocketAddr> {
        self.manager.health_local_addr()
    }

    /// Runs until `shutdown` resolves, then stops gracefully: reconciles in flight finish, then
    /// the operators' shutdown hooks run (eventhorizon drains its queue within its bound).
    pub async fn run(self, shutdown: impl Future<Output = ()>) -> Result<(), RunError> {
        let outcome = self.manager.run(shutdown).await;
        self.hooks.run().await;
        Ok(outcome?)
    }
}

/// Builds and runs `operators` against `client` until `shutdown` resolves.
pub async fn run(
    client: Client,
    operators: &[&Operator],
    options: RunOptions,
    shutdown: impl Future<Output = ()>,
) -> Result<(), RunError> {
    Operators::new(client, operators, options)?
        .run(shutdown)
        .await
}
