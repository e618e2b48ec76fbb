//! `kubeforge apiserver`, and starting the server for `up`.

use anyhow::Context;
use clap::Args;
use kubeforge_apiserver::ApiServer;
use kubeforge_runtime::manager::shutdown_signal;
use std::net::SocketAddr;
use std::path::PathBuf;

/// Where and how the API server runs.
#[derive(Args)]
pub struct ServerArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:6443")]
    pub listen: SocketAddr,
    /// Directory of the durable store.
    #[arg(long, default_value = ".kubeforge/data", conflicts_with = "in_memory")]
    pub data_dir: PathBuf,
    /// Keep everything in memory (nothing survives a restart).
    #[arg(long)]
    pub in_memory: bool,
    /// Events kept for watches to resume from.
    #[arg(long, default_value_t = 10_000)]
    pub history: usize,
    /// Simulate a node and the workload controllers (Deployments get ready Pods).
    #[arg(long)]
    pub simulate_workloads: bool,
}

/// Starts the API server as `args` say, with or without simulated workloads.
pub async fn start(args: &ServerArgs, simulate: bool) -> anyhow::Result<ApiServer> {
    let mut builder = ApiServer::builder()
        .listen(args.listen)
        .history(args.history)
        .simulate_workloads(simulate);
    builder = if args.in_memory {
        builder.in_memory()
    } else {
        builder.data_dir(&args.data_dir)
    };
    builder.start().await.context("starting the API server")
}

/// `kubeforge apiserver`: the server alone, until SIGINT/SIGTERM.
pub async fn apiserver(args: ServerArgs) -> anyhow::Result<()> {
    let server = start(&args, args.simulate_workloads).await?;
    println!("kubeforge API server listening on {}", server.url());
    shutdown_signal().await;
    tracing::info!("shutting down");
    server.shutdown().await;
    Ok(())
}
