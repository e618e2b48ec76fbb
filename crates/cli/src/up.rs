//! `kubeforge up`: the product's main job. The durable API server with simulated workloads, the
//! operators' CRDs installed, every operator running in this process, a kubeconfig written, and a
//! getting-started block printed.

use crate::local_webhooks::LocalWebhooks;
use crate::operator_identity::operator_credentials;
use crate::run::OperatorArgs;
use crate::server::{ServerArgs, start};
use anyhow::Context;
use clap::Args;
use kube::Config;
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
    let admin = server.client();
    kubeforge_operators::install::install_crds(&admin, &operators, Duration::from_secs(30))
        .await
        .context("installing the operators' CRDs")?;
    let admin_config = Config::from_custom_kubeconfig(
        serde_json::from_value(server.kubeconfig().clone())?,
        &Default::default(),
    )
    .await
    .context("reading the administrator's kubeconfig")?;
    // Each operator under its own ServiceAccount, with its own client and manager (its own
    // Lease, in the namespace its generated Role grants Leases in), as `kubeforge manifests`
    // deploys them; one `/metrics` serves them all.
    let mut credentials = Vec::new();
    let mut managers = Vec::new();
    for operator in operators.iter() {
        let identity = operator_credentials(&admin, &admin_config, operator).await?;
        let mut options = args.operators.options();
        options.leader_election_namespace = options
            .leader_election_namespace
            .map(|_| kubeforge_operators::manifests::NAMESPACE.to_string());
        // The first serves `/metrics` and the probes; the others record into its metrics.
        if let Some(first) = managers.first() {
            options.metrics_addr = None;
            options.health_addr = None;
            options.metrics = Some(Operators::metrics(first));
        }
        managers.push(
            Operators::new(identity.client.clone(), &[operator], options)
                .with_context(|| format!("starting operator {}", operator.name))?,
        );
        credentials.push(identity);
    }
    let first = managers.first();
    let endpoints = format!(
        "metrics {}, health {}",
        endpoint(first.and_then(Operators::metrics_addr), "/metrics"),
        endpoint(first.and_then(Operators::health_addr), "/healthz")
    );
    let (stop, stopped) = tokio::sync::watch::channel(false);
    // The webhooks are served by this process too, each operator's with its own client.
    let webhooks = if args.operators.enable_webhooks {
        let served: Vec<_> = operators
            .iter()
            .zip(&credentials)
            .map(|(o, c)| (*o, c.client.clone()))
            .collect();
        let mut stopped = stopped.clone();
        LocalWebhooks::start(&admin, &served, async move {
            let _ = stopped.wait_for(|stop| *stop).await;
        })
        .await
        .context("serving the operators' webhooks")?
    } else {
        None
    };
    let endpoints = match &webhooks {
        Some(w) => format!("{endpoints}, webhooks https://{}", w.addr()),
        None => endpoints,
    };
    let mut runs = tokio::task::JoinSet::new();
    for manager in managers {
        let mut stopped = stopped.clone();
        runs.spawn(manager.run(async move {
            let _ = stopped.wait_for(|stop| *stop).await;
        }));
    }
    // Ends at the first operator that fails (or once all have stopped).
    let running = tokio::spawn(async move {
        while let Some(ended) = runs.join_next().await {
            ended??;
        }
        anyhow::Ok(())
    });

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
            let _ = stop.send(true);
            (&mut running).await
        }
        ended = &mut running => ended,
    };
    if let Some(webhooks) = webhooks
        && let Err(e) = webhooks.remove(&admin).await
    {
        tracing::warn!(error = %e, "the webhook configurations were not removed");
    }
    drop(credentials);
    server.shutdown().await;
    outcome
        .context("the operators' task failed")?
        .context("running the operators")?;
    Ok(())
}
