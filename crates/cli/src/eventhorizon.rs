//! `kubeforge eventhorizon`: the CloudEvents router alone, against any cluster, for the
//! Singularity `--name` (or `$EVENTHORIZON_NAME`). On SIGINT/SIGTERM ingest stops, the queue
//! drains within `--drain-timeout`, and what could not be delivered is logged with counts.

use anyhow::Context;
use clap::Args;
use kubeforge_eventhorizon::controller::{controller, parse_name};
use kubeforge_eventhorizon::{DEFAULT_SINGULARITY, Engine, EngineOptions};
use kubeforge_runtime::manager::{Manager, shutdown_signal};
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

/// `kubeforge eventhorizon` options.
#[derive(Args)]
pub struct EventhorizonArgs {
    /// The Singularity this process is (`namespace/name`).
    #[arg(long, env = "EVENTHORIZON_NAME", default_value = DEFAULT_SINGULARITY)]
    pub name: String,
    /// Address the ingest and metrics listeners bind on.
    #[arg(long, env = "EVENTHORIZON_BIND", default_value = "0.0.0.0")]
    pub bind: IpAddr,
    /// Largest request body (one event or one batch), in bytes; larger ones get 413.
    #[arg(long, default_value_t = kubeforge_eventhorizon::engine::DEFAULT_MAX_BODY_BYTES)]
    pub max_body_bytes: usize,
    /// How long shutdown may take to deliver what is queued, in seconds.
    #[arg(long, default_value_t = 10)]
    pub drain_timeout: u64,
    /// Kubeconfig to use (default: `$KUBECONFIG`, `~/.kube/config`, then in-cluster).
    #[arg(long)]
    pub kubeconfig: Option<PathBuf>,
    /// The kubeconfig context to use (default: its current context).
    #[arg(long)]
    pub context: Option<String>,
}

/// Runs the router until SIGINT/SIGTERM, then drains.
pub async fn eventhorizon(args: EventhorizonArgs) -> anyhow::Result<()> {
    let (namespace, name) = parse_name(&args.name).map_err(anyhow::Error::msg)?;
    let client = crate::run::client(args.kubeconfig.as_ref(), args.context.as_ref()).await?;
    let engine = Engine::start(EngineOptions {
        bind: args.bind,
        max_body_bytes: args.max_body_bytes,
        drain_timeout: Duration::from_secs(args.drain_timeout),
        ..EngineOptions::default()
    });
    let mut manager = Manager::builder(client)
        .build()
        .context("building the manager")?;
    manager.add(controller(&manager, engine.clone(), &namespace, &name));
    tracing::info!(singularity = %args.name, "eventhorizon running");
    manager
        .run(shutdown_signal())
        .await
        .context("running the eventhorizon controller")?;
    let report = engine.shutdown().await;
    tracing::info!(
        undelivered_queued = report.queued,
        undelivered_in_flight = report.in_flight,
        "eventhorizon stopped"
    );
    Ok(())
}
