//! `kubeforge`: run an embedded Kubernetes API server (and, later, operators) on this machine.

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use kubeforge_apiserver::ApiServer;
use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "kubeforge",
    version,
    about = "The Rust way to extend Kubernetes: an embedded API server and operators"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Bring up a local control plane: the durable API server and a kubeconfig for kubectl.
    Up(UpArgs),
    /// Run only the API server.
    Apiserver(ServerArgs),
    /// Print what a cluster needs to run operators: CRDs, RBAC, a Deployment.
    Manifests(ManifestsArgs),
}

#[derive(Args)]
struct ManifestsArgs {
    /// Only this operator (default: every operator).
    #[arg(long)]
    operator: Option<String>,
    /// The image the operator's Deployment runs.
    #[arg(long, default_value = kubeforge_operators::manifests::DEFAULT_IMAGE)]
    image: String,
}

#[derive(Args)]
struct ServerArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:6443")]
    listen: SocketAddr,
    /// Directory of the durable store.
    #[arg(long, default_value = ".kubeforge/data", conflicts_with = "in_memory")]
    data_dir: PathBuf,
    /// Keep everything in memory (nothing survives a restart).
    #[arg(long)]
    in_memory: bool,
    /// Events kept for watches to resume from.
    #[arg(long, default_value_t = 10_000)]
    history: usize,
    /// Simulate a node and the workload controllers (Deployments get ready Pods).
    #[arg(long)]
    simulate_workloads: bool,
}

#[derive(Args)]
struct UpArgs {
    #[command(flatten)]
    server: ServerArgs,
    /// Do not simulate workloads (they are on by default in `up`).
    #[arg(long)]
    no_simulated_workloads: bool,
    /// Where to write the kubeconfig.
    #[arg(long, default_value = ".kubeforge/kubeconfig")]
    kubeconfig: PathBuf,
}

async fn start(args: &ServerArgs, simulate: bool) -> anyhow::Result<ApiServer> {
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

/// What `up` prints once everything runs: how to point kubectl at it and try the operators.
fn getting_started(kubeconfig: &std::path::Path) -> String {
    format!(
        "Point kubectl at it:
  export KUBECONFIG={}
  kubectl get namespaces
  kubectl api-resources

Try the operators (from a checkout of kubeforge):
  kubectl apply -f examples/foo.yaml
  kubectl get foo,deployment example-foo           # Foo owns the Deployment; AVAILABLE reaches 1
  kubectl apply -f examples/codis.yaml
  kubectl get cdr -n ns-codis-test                 # DISTRIBUTED 2, Ready
  kubectl get configmap cm-codis-test -n another-test -o yaml

",
        kubeconfig.display()
    )
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    match cli.command {
        Command::Manifests(args) => {
            let operators = match &args.operator {
                Some(name) => vec![kubeforge_operators::find(name)?],
                None => kubeforge_operators::OPERATORS.iter().collect(),
            };
            for operator in operators {
                print!(
                    "{}",
                    kubeforge_operators::manifests::yaml(operator, &args.image)
                );
            }
        }
        Command::Apiserver(args) => {
            let server = start(&args, args.simulate_workloads).await?;
            println!("kubeforge API server listening on {}", server.url());
            shutdown_signal().await;
            tracing::info!("shutting down");
            server.shutdown().await;
        }
        Command::Up(args) => {
            let server = start(&args.server, !args.no_simulated_workloads).await?;
            server
                .write_kubeconfig(&args.kubeconfig)
                .with_context(|| format!("writing {}", args.kubeconfig.display()))?;
            let operators: Vec<_> = kubeforge_operators::OPERATORS.iter().collect();
            kubeforge_operators::install::install_crds(
                &server.client(),
                &operators,
                std::time::Duration::from_secs(30),
            )
            .await
            .context("installing the operators' CRDs")?;
            let storage = if args.server.in_memory {
                "in memory".to_string()
            } else {
                format!("durable, in {}", args.server.data_dir.display())
            };
            println!(
                "kubeforge is up: API server at {} ({storage})",
                server.url()
            );
            println!();
            print!(
                "{}",
                getting_started(
                    &std::path::absolute(&args.kubeconfig).unwrap_or(args.kubeconfig.clone())
                )
            );
            println!("Press Ctrl-C to stop.");
            shutdown_signal().await;
            tracing::info!("shutting down");
            server.shutdown().await;
        }
    }
    Ok(())
}
