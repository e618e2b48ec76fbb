//! `kubeforge`: run an embedded Kubernetes API server and the operators on this machine, run the
//! operators against any cluster, or print what a cluster needs to run them.
//!
//! | file | command |
//! |---|---|
//! | `server.rs` | `apiserver`, and the server options `up` shares |
//! | `up.rs` | `up`: server, CRDs, operators, kubeconfig, getting-started block |
//! | `local_webhooks.rs` | `up`'s webhook server on 127.0.0.1 and its registered configurations |
//! | `run.rs` | `run`: the operators alone, against a kubeconfig or in-cluster |
//! | `service_account.rs` | `run --service-account NS/SA`: a Pod's projected token and CA |
//! | `deployments_api.rs` | `deployments-api`: the Deployment REST service |
//! | `eventhorizon.rs` | `eventhorizon`: the CloudEvents router alone, with a bounded drain |
//! | `scaffold/` | `new`, `create api` and `create webhook`: operator projects on kubeforge-runtime |

mod deployments_api;
mod eventhorizon;
mod local_webhooks;
mod operator_identity;
mod run;
mod scaffold;
mod server;
mod service_account;
mod up;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};

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
    /// Bring up a local control plane: the durable API server, the operators' CRDs, the
    /// operators, and a kubeconfig for kubectl.
    Up(up::UpArgs),
    /// Run only the API server.
    Apiserver(server::ApiserverArgs),
    /// Run operators against a cluster (kubeconfig or in-cluster configuration).
    Run(run::RunArgs),
    /// Print what a cluster needs to run operators: CRDs, RBAC, a Deployment.
    Manifests(ManifestsArgs),
    /// Serve the Deployment REST service (create, update, delete and read Deployments over HTTP).
    DeploymentsApi(deployments_api::DeploymentsApiArgs),
    /// Run the eventhorizon CloudEvents router for one Singularity against a cluster.
    Eventhorizon(eventhorizon::EventhorizonArgs),
    /// Create an operator project: Cargo project, manager, manifests, Dockerfile, CI.
    New(scaffold::new::NewArgs),
    /// Add to the operator project in the current directory.
    #[command(subcommand)]
    Create(scaffold::CreateCommand),
}

#[derive(Args)]
struct ManifestsArgs {
    /// Only this operator (default: every operator).
    #[arg(long)]
    operator: Option<String>,
    /// The image the operator's Deployment runs.
    #[arg(long, default_value = kubeforge_operators::manifests::DEFAULT_IMAGE)]
    image: String,
    /// Also print cert-manager's Issuer and Certificate for the operators' webhook serving
    /// certificates (the cluster must run cert-manager).
    #[arg(long)]
    cert_manager: bool,
    /// For `--operator deployments-api`: the namespaces it may manage Deployments in (one Role each).
    #[arg(long, default_value = "default")]
    namespaces: String,
}

/// mimalloc instead of the system allocator: the API server and the operators allocate many
/// short-lived JSON values, and glibc's malloc spent about a third of `kubeforge up`'s CPU on
/// them under load (see `docs/benchmarks.md`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
        Command::Manifests(args) if args.operator.as_deref() == Some("deployments-api") => {
            let namespaces: Vec<String> =
                kubeforge_deployments_api::parse_namespaces(&args.namespaces)
                    .context("--namespaces names no namespace")?
                    .into_iter()
                    .collect();
            print!(
                "{}",
                kubeforge_deployments_api::manifests::yaml(&args.image, &namespaces)
            );
            Ok(())
        }
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
                if args.cert_manager {
                    print!(
                        "{}",
                        kubeforge_operators::manifests::cert_manager_yaml(operator)
                    );
                }
            }
            Ok(())
        }
        Command::Apiserver(args) => server::apiserver(args).await,
        Command::Run(args) => run::run(args).await,
        Command::Up(args) => up::up(args).await,
        Command::DeploymentsApi(args) => deployments_api::deployments_api(args).await,
        Command::Eventhorizon(args) => eventhorizon::eventhorizon(args).await,
        Command::New(args) => scaffold::new::new(&args),
        Command::Create(command) => scaffold::create(&command),
    }
}
