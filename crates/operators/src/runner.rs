//! Running operators in one process: one shared informer factory (one watch per kind, whatever
//! the number of operators), one controller per operator, stopped together.

use crate::{Operator, Wiring};
use futures::FutureExt;
use kube::Client;
use kubeforge_runtime::cache::{IndexError, SharedInformerFactory};
use kubeforge_runtime::controller::ControllerError;
use std::future::Future;

/// How the operators run.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Who this process is (events' `reportingInstance`); default: `$POD_NAME`, else the host
    /// name, else `kubeforge`.
    pub instance: Option<String>,
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
    /// A controller stopped with an error.
    #[error(transparent)]
    Controller(#[from] ControllerError),
}

/// This process's identity: `$POD_NAME` in a cluster, else the host name.
pub fn default_instance() -> String {
    std::env::var("POD_NAME")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "kubeforge".to_string())
}

/// Runs `operators` against `client` until `shutdown` resolves, then stops their controllers
/// (letting reconciles in flight finish) and the informers.
pub async fn run(
    client: Client,
    operators: &[&Operator],
    options: RunOptions,
    shutdown: impl Future<Output = ()>,
) -> Result<(), RunError> {
    let factory = SharedInformerFactory::new(client.clone());
    let wiring = Wiring {
        client,
        factory: factory.clone(),
        instance: options.instance.unwrap_or_else(default_instance),
    };
    let mut controllers = Vec::new();
    for operator in operators {
        let controller = (operator.controller)(&wiring).map_err(|source| RunError::Wiring {
            operator: operator.name,
            source,
        })?;
        controllers.push(controller);
    }
    let shutdown = shutdown.shared();
    let runs = controllers
        .iter()
        .map(|c| c.run(&factory, shutdown.clone()));
    let result = futures::future::try_join_all(runs).await;
    factory.shutdown().await;
    result?;
    Ok(())
}
