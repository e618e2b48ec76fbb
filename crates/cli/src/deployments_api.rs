//! `kubeforge deployments-api`: the Deployment REST service, acting with its own identity
//! (kubeconfig or in-cluster ServiceAccount).

use crate::run::client;
use anyhow::Context;
use clap::Args;
use kubeforge_deployments_api::{Settings, access, parse_namespaces};
use kubeforge_runtime::manager::shutdown_signal;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// `kubeforge deployments-api` options.
#[derive(Args)]
pub struct DeploymentsApiArgs {
    /// Address to listen on.
    #[arg(long, default_value = kubeforge_deployments_api::DEFAULT_LISTEN)]
    pub listen: SocketAddr,
    /// The only namespaces requests may address, comma-separated (default: every namespace);
    /// others are answered 403.
    #[arg(long, default_value = "")]
    pub namespaces: String,
    /// A file holding the bearer token clients must send (default: no token check).
    #[arg(long)]
    pub token_file: Option<PathBuf>,
    /// How many times an update is retried after a conflict before answering 409.
    #[arg(long, default_value_t = 5)]
    pub conflict_retries: u32,
    /// Kubeconfig to use (default: `$KUBECONFIG`, `~/.kube/config`, then in-cluster).
    #[arg(long)]
    pub kubeconfig: Option<PathBuf>,
    /// The kubeconfig context to use (default: its current context).
    #[arg(long)]
    pub context: Option<String>,
}

/// `kubeforge deployments-api`: until SIGINT/SIGTERM.
pub async fn deployments_api(args: DeploymentsApiArgs) -> anyhow::Result<()> {
    let token = match &args.token_file {
        Some(path) => Some(
            access::read_token_file(path)
                .with_context(|| format!("reading the token file {}", path.display()))?,
        ),
        None => None,
    };
    let settings = Settings {
        namespaces: parse_namespaces(&args.namespaces),
        token,
        conflict_retries: args.conflict_retries,
        retry_step: Duration::from_millis(10),
    };
    let client = client(args.kubeconfig.as_ref(), args.context.as_ref()).await?;
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("listening on {}", args.listen))?;
    let addr = listener.local_addr()?;
    println!("kubeforge deployments-api listening on http://{addr}");
    tracing::info!(?settings, "serving");
    kubeforge_deployments_api::serve(
        listener,
        kubeforge_deployments_api::router(client, settings),
        shutdown_signal(),
    )
    .await
    .context("serving")?;
    tracing::info!("stopped");
    Ok(())
}
