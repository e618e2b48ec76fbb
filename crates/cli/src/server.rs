//! `kubeforge apiserver`, and starting the server for `up`.

use anyhow::Context;
use clap::Args;
use kubeforge_apiserver::audit::AuditConfig;
use kubeforge_apiserver::{ApiServer, ConnectionLimits, RequestLimits};
use kubeforge_runtime::manager::shutdown_signal;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

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
    /// How many simulated nodes (with simulated workloads): kubeforge-node, kubeforge-node-2, ...
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=1000))]
    pub nodes: u16,
    /// Read-only requests served at once; more get 429 (0: no limit).
    #[arg(long, default_value_t = 400)]
    pub max_requests_inflight: usize,
    /// Mutating requests served at once; more get 429 (0: no limit).
    #[arg(long, default_value_t = 200)]
    pub max_mutating_requests_inflight: usize,
    /// How long a request that is not a watch may take, in seconds, before it is answered 504.
    #[arg(long, default_value_t = 60)]
    pub request_timeout: u64,
    /// Write an audit.k8s.io/v1 Event (level Metadata) for every request to this file, one
    /// JSON line each (`-`: standard output). Off unless given.
    #[arg(long)]
    pub audit_log_path: Option<PathBuf>,
    /// The size in megabytes at which the audit log is rotated (0: 100).
    #[arg(long, default_value_t = 0)]
    pub audit_log_maxsize: u64,
    /// How many rotated audit logs are kept (0: all).
    #[arg(long, default_value_t = 0)]
    pub audit_log_maxbackup: usize,
}

/// Starts the API server as `args` say, with or without simulated workloads.
pub async fn start(args: &ServerArgs, simulate: bool) -> anyhow::Result<ApiServer> {
    // As Go's runtime does: a server's connection count should not stop at the default 1024
    // descriptors. The connection cap follows the raised limit.
    if let Some(limit) = kubeforge_apiserver::raise_fd_limit() {
        tracing::debug!(limit, "file descriptor limit");
    }
    let mut builder = ApiServer::builder()
        .listen(args.listen)
        .history(args.history)
        .simulate_workloads(simulate)
        .nodes(usize::from(args.nodes))
        .request_limits(RequestLimits {
            max_requests_inflight: args.max_requests_inflight,
            max_mutating_requests_inflight: args.max_mutating_requests_inflight,
            request_timeout: Duration::from_secs(args.request_timeout),
        })
        .connection_limits(ConnectionLimits::default());
    if let Some(path) = &args.audit_log_path {
        builder = builder.audit_log(AuditConfig {
            path: path.clone(),
            max_size_mb: args.audit_log_maxsize,
            max_backups: args.audit_log_maxbackup,
        });
    }
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
