//! `kubeforge up`: the product's main job. The durable API server with simulated workloads, the
//! operators' CRDs installed, every operator running in this process, a kubeconfig written, and a
//! getting-started block printed.

use crate::run::OperatorArgs;
use crate::server::{ServerArgs, start};
use anyhow::Context;
use clap::Args;
use kubeforge_operators::runner::Operators;
use kubeforge_runtime::manager::shutdown_signal;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// `kubeforge up` options.
#[derive(Args)]
pub struct UpArgs {
    #[command(flatten)]
    pub server: ServerArgs,
    /// Do not simulate workloads (they are on by default in `up`).
    #[arg(long)]
    pub no_simulated_workloads: bool,
    /// Where to write the kubeconfig.
    #[arg(long, default_value = ".kubeforge/kubeconfig")]
    pub kubeconfig: PathBuf,
    #[command(flatten)]
    pub operators: OperatorArgs,
}

/// `http://ADDR/PATH`, or `off`.
fn endpoint(addr: Option<std::net::SocketAddr>, path: &str) -> String {
    addr.map_or_else(|| "off".to_string(), |a| format!("http://{a}{path}"))
}

/// What `up` prints once everything runs: how to point kubectl at it and try the operators.
fn getting_started(kubeconfig: &Path) -> String {
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
  kubectl apply -f examples/network.yaml
  kubectl get network example-network             # ALLOCATED 3: the Deployment's pods' addresses
  kubectl apply -f examples/service-detector.yaml
  kubectl get pod nginx -o jsonpath='{{.metadata.annotations.kubeforge\\.dev/services}}'   # nginx-service
  kubectl apply -f examples/policies.yaml
  kubectl get hcp,cip,rp -n policy-demo            # FAILED 2, PASSED 1 each
  kubectl get pods -n policy-demo -L health-check-missing,invalid-container-image,resources-wrong

",
        kubeconfig.display()
    )
}

/// `kubeforge up`: until SIGINT/SIGTERM, then the operators stop before the server.
pub async fn up(args: UpArgs) -> anyhow::Result<()> {
    let operators = args.operators.selected()?;
    let kubeconfig_dir = args
        .kubeconfig
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let server = start(&args.server, !args.no_simulated_workloads, &kubeconfig_dir).await?;
    server
        .write_kubeconfig(&args.kubeconfig)
        .with_context(|| format!("writing {}", args.kubeconfig.display()))?;
    let client = server.client();
    kubeforge_operators::install::install_crds(&client, &operators, Duration::from_secs(30))
        .await
        .context("installing the operators' CRDs")?;
    let running = Operators::new(client, &operators, args.operators.options())
        .context("starting the operators")?;
    let endpoints = format!(
        "metrics {}, health {}",
        endpoint(running.metrics_addr(), "/metrics"),
        endpoint(running.health_addr(), "/healthz")
    );
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(running.run(async {
        let _ = stopped.await;
    }));

    let storage = crate::server::storage_description(&args.server);
    println!(
        "kubeforge is up: API server at {} ({storage})",
        server.url()
    );
    let names: Vec<&str> = kubeforge_operators::select(&args.operators.operators)?
        .iter()
        .map(|o| o.name)
        .collect();
    println!("Operators running: {} ({endpoints})", names.join(", "));
    println!();
    let kubeconfig = std::path::absolute(&args.kubeconfig).unwrap_or(args.kubeconfig.clone());
    print!("{}", getting_started(&kubeconfig));
    println!("Press Ctrl-C to stop.");

    let mut running = running;
    let outcome = tokio::select! {
        _ = shutdown_signal() => {
            tracing::info!("shutting down");
            let _ = stop.send(());
            (&mut running).await
        }
        ended = &mut running => ended,
    };
    server.shutdown().await;
    outcome
        .context("the operators' task failed")?
        .context("running the operators")?;
    Ok(())
}
