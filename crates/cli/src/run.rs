//! `kubeforge run`: the operators alone, against any cluster.

use anyhow::Context;
use clap::Args;
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};
use kubeforge_operators::runner::{Operators, RunOptions};
use kubeforge_runtime::manager::shutdown_signal;
use kubeforge_runtime::webhook::{Certificates, WebhookServer};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Which operators run, and how.
#[derive(Args, Clone)]
pub struct OperatorArgs {
    /// The operators to run, comma-separated (`foo`, `codis`, `service-detector`; default: all).
    #[arg(long, default_value = "all")]
    pub operators: String,
    /// Namespace of the leader-election Lease (`kubeforge-<operators>`).
    #[arg(long, default_value = "default")]
    pub leader_election_namespace: String,
    /// Run the controllers without electing a leader (only one process may run them).
    #[arg(long)]
    pub no_leader_elect: bool,
    /// Where to serve `/metrics` (port 0: any free port).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub metrics_addr: SocketAddr,
    /// Where to serve `/healthz` and `/readyz` (port 0: any free port).
    #[arg(long, default_value = "127.0.0.1:8081")]
    pub health_addr: SocketAddr,
    /// service-detector: how long a Service may select no Pod before a warning (`90s`, `2m`, `500ms`).
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    pub orphan_grace: Duration,
    /// Serve the operators' admission webhooks (foo, codis, network have some); `false` leaves
    /// them off (their configurations must then not be installed: they fail closed).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pub enable_webhooks: bool,
}

/// A duration as `<number><unit>`, unit `ms`, `s`, `m` or `h` (a bare number is seconds).
pub(crate) fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration like 90s, 2m or 500ms"))?;
    let seconds = |factor: u64| {
        number
            .checked_mul(factor)
            .map(Duration::from_secs)
            .ok_or_else(|| format!("{text:?} is too long"))
    };
    match unit {
        "ms" => Ok(Duration::from_millis(number)),
        "" | "s" => seconds(1),
        "m" => seconds(60),
        "h" => seconds(3600),
        other => Err(format!(
            "unknown unit {other:?} in {text:?} (use ms, s, m or h)"
        )),
    }
}

impl OperatorArgs {
    /// The selected operators, or an error naming the unknown one.
    pub fn selected(&self) -> anyhow::Result<Vec<&'static kubeforge_operators::Operator>> {
        Ok(kubeforge_operators::select(&self.operators)?)
    }

    /// How the runner runs them.
    pub fn options(&self) -> RunOptions {
        RunOptions {
            identity: None,
            leader_election_namespace: (!self.no_leader_elect)
                .then(|| self.leader_election_namespace.clone()),
            metrics_addr: Some(self.metrics_addr),
            health_addr: Some(self.health_addr),
            service_detector: kubeforge_operators::service_detector::Options {
                orphan_grace: self.orphan_grace,
            },
            metrics: None,
        }
    }
}

/// `kubeforge run` options.
#[derive(Args)]
pub struct RunArgs {
    /// Kubeconfig to use (default: `$KUBECONFIG`, `~/.kube/config`, then in-cluster).
    #[arg(long)]
    pub kubeconfig: Option<PathBuf>,
    /// The kubeconfig context to use (default: its current context).
    #[arg(long)]
    pub context: Option<String>,
    /// Run as a Pod of this ServiceAccount (`NAMESPACE/NAME`) would: with a bound token of it and
    /// the cluster CA in files, requested with the kubeconfig's identity.
    #[arg(long, value_name = "NAMESPACE/NAME")]
    pub service_account: Option<String>,
    /// Where to serve the webhooks (HTTPS).
    #[arg(long, default_value = "0.0.0.0:9443")]
    pub webhook_addr: SocketAddr,
    /// The webhooks' serving certificate (`tls.crt`, `tls.key`: the mounted Secret), reloaded
    /// when it is rotated.
    #[arg(long, default_value_os_t = std::env::temp_dir().join("k8s-webhook-server/serving-certs"))]
    pub webhook_cert_dir: PathBuf,
    #[command(flatten)]
    pub operators: OperatorArgs,
}

/// How often the mounted certificate is looked at for a rotation.
const CERT_RELOAD_PERIOD: Duration = Duration::from_secs(10);

/// The webhook server of `operators`, if any has webhooks and they are enabled: bound to
/// `args.webhook_addr`, presenting the certificate of `args.webhook_cert_dir` (reloaded as it
/// rotates), each operator's handlers using `client`.
async fn webhook_server(
    args: &RunArgs,
    operators: &[&'static kubeforge_operators::Operator],
    client: &Client,
) -> anyhow::Result<Option<(WebhookServer, tokio::net::TcpListener)>> {
    if !args.operators.enable_webhooks || operators.iter().all(|o| (o.webhooks)().is_empty()) {
        return Ok(None);
    }
    let certificates = Certificates::from_dir(&args.webhook_cert_dir).with_context(|| {
        format!(
            "reading the webhook certificate in {} (or run with --enable-webhooks=false)",
            args.webhook_cert_dir.display()
        )
    })?;
    tokio::spawn(certificates.clone().watch(CERT_RELOAD_PERIOD));
    let Some(server) = kubeforge_operators::webhooks::server(
        operators.iter().map(|o| (*o, client.clone())),
        certificates,
    ) else {
        return Ok(None);
    };
    let listener = tokio::net::TcpListener::bind(args.webhook_addr)
        .await
        .with_context(|| format!("binding the webhook server to {}", args.webhook_addr))?;
    Ok(Some((server, listener)))
}

/// The client for `kubeconfig` (or inferred as kubectl would, then in-cluster).
pub(crate) async fn client(
    kubeconfig: Option<&PathBuf>,
    context: Option<&String>,
) -> anyhow::Result<Client> {
    let config = config(kubeconfig, context).await?;
    Client::try_from(config).context("building the client")
}

/// The configuration for `kubeconfig` (or inferred as kubectl would, then in-cluster).
async fn config(kubeconfig: Option<&PathBuf>, context: Option<&String>) -> anyhow::Result<Config> {
    let options = KubeConfigOptions {
        context: context.cloned(),
        ..KubeConfigOptions::default()
    };
    let config = match kubeconfig {
        Some(path) => {
            let kubeconfig = Kubeconfig::read_from(path)
                .with_context(|| format!("reading kubeconfig {}", path.display()))?;
            Config::from_custom_kubeconfig(kubeconfig, &options)
                .await
                .with_context(|| format!("using kubeconfig {}", path.display()))?
        }
        None if context.is_some() => Config::from_kubeconfig(&options)
            .await
            .context("loading the kubeconfig")?,
        None => Config::infer()
            .await
            .context("no kubeconfig and not in a cluster")?,
    };
    Ok(config)
}

/// `kubeforge run`: until SIGINT/SIGTERM.
pub async fn run(args: RunArgs) -> anyhow::Result<()> {
    let operators = args.operators.selected()?;
    let config = config(args.kubeconfig.as_ref(), args.context.as_ref()).await?;
    let admin = Client::try_from(config.clone()).context("building the client")?;
    let (client, _credentials) = match &args.service_account {
        Some(account) => {
            let (namespace, name) = crate::service_account::parse(account)?;
            let credentials =
                crate::service_account::pod_credentials(admin, &config, &namespace, &name).await?;
            tracing::info!(dir = %credentials.dir.display(), "running as ServiceAccount {namespace}/{name}");
            (credentials.client.clone(), Some(credentials))
        }
        None => (admin, None),
    };
    let names: Vec<&str> = operators.iter().map(|o| o.name).collect();
    tracing::info!(operators = ?names, "running");
    let webhooks = webhook_server(&args, &operators, &client).await?;
    let running = Operators::new(client, &operators, args.operators.options())
        .context("starting the operators")?;
    tracing::info!(metrics = ?running.metrics_addr(), health = ?running.health_addr(), "serving");
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let until_stopped = |mut stopped: tokio::sync::watch::Receiver<bool>| async move {
        let _ = stopped.wait_for(|stop| *stop).await;
    };
    if let Some((server, listener)) = webhooks {
        tracing::info!(addr = ?listener.local_addr().ok(), "serving webhooks");
        tokio::spawn(server.serve(listener, until_stopped(stopped.clone())));
    }
    tokio::spawn(async move {
        shutdown_signal().await;
        let _ = stop.send(true);
    });
    running
        .run(until_stopped(stopped))
        .await
        .context("running the operators")?;
    tracing::info!("stopped");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::parse_duration;
    use std::time::Duration;

    #[test]
    fn durations_parse_with_units() {
        assert_eq!(parse_duration("90"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("5d").is_err());
        assert!(parse_duration("99999999999999999999h").is_err());
    }
}
