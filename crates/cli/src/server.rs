//! `kubeforge apiserver`, and starting the server for `up`.

use anyhow::Context;
use clap::Args;
use kubeforge_apiserver::audit::AuditConfig;
use kubeforge_apiserver::storage::EtcdConfig;
use kubeforge_apiserver::tls::TlsOptions;
use kubeforge_apiserver::{ApiServer, ConnectionLimits, RequestLimits};
use kubeforge_runtime::manager::shutdown_signal;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
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
    /// Keep everything in etcd at these client URLs (comma-separated), shared with every other
    /// kubeforge API server on the same etcd and prefix.
    #[arg(long, value_delimiter = ',', conflicts_with = "in_memory")]
    pub etcd_servers: Vec<String>,
    /// The prefix of every key in etcd.
    #[arg(long, default_value = "/registry", requires = "etcd_servers")]
    pub etcd_prefix: String,
    /// CA certificate (PEM) that verifies etcd's serving certificate.
    #[arg(long, requires = "etcd_servers")]
    pub etcd_cafile: Option<PathBuf>,
    /// Client certificate (PEM) for etcd.
    #[arg(long, requires_all = ["etcd_servers", "etcd_keyfile"])]
    pub etcd_certfile: Option<PathBuf>,
    /// Client certificate key (PEM) for etcd.
    #[arg(long, requires_all = ["etcd_servers", "etcd_certfile"])]
    pub etcd_keyfile: Option<PathBuf>,
    /// How often to compact etcd's history (e.g. 5m; 0 disables compaction by this server).
    #[arg(long, default_value = "5m", value_parser = crate::run::parse_duration)]
    pub etcd_compaction_interval: Duration,
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
    /// Serve plain HTTP instead of TLS (loopback addresses only); requests without credentials
    /// are then the administrator.
    #[arg(long)]
    pub insecure_http: bool,
    /// Where the CA, serving and client certificates and the ServiceAccount key are kept (made
    /// once): default `<data-dir>/pki`, or `pki` next to the kubeconfig with `--in-memory`.
    #[arg(long)]
    pub cert_dir: Option<PathBuf>,
    /// Another name or IP address the generated serving certificate carries (repeatable).
    #[arg(long = "tls-san")]
    pub tls_sans: Vec<String>,
    /// Serve this certificate (PEM chain) instead of one the cluster CA issues.
    #[arg(long, requires = "tls_private_key_file")]
    pub tls_cert_file: Option<PathBuf>,
    /// The key of `--tls-cert-file`.
    #[arg(long, requires = "tls_cert_file")]
    pub tls_private_key_file: Option<PathBuf>,
    /// Also accept client certificates signed by the CAs in this PEM file.
    #[arg(long)]
    pub client_ca_file: Option<PathBuf>,
    /// Static bearer tokens: a CSV file of `token,user,uid,"group1,group2"` lines.
    #[arg(long)]
    pub token_auth_file: Option<PathBuf>,
    /// The issuer (`iss`) of ServiceAccount tokens, and their default audience.
    #[arg(long, default_value = kubeforge_apiserver::auth::authn::service_account::DEFAULT_ISSUER)]
    pub service_account_issuer: String,
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

impl ServerArgs {
    /// The certificate directory: `--cert-dir`, `<data-dir>/pki`, or with `--in-memory`
    /// `pki` in `beside` (the kubeconfig's directory).
    pub fn cert_dir(&self, beside: &Path) -> PathBuf {
        match &self.cert_dir {
            Some(dir) => dir.clone(),
            None if self.in_memory => beside.join("pki"),
            None => self.data_dir.join("pki"),
        }
    }
}

/// `kubeforge apiserver` options.
#[derive(Args)]
pub struct ApiserverArgs {
    #[command(flatten)]
    pub server: ServerArgs,
    /// Where to write the administrator's kubeconfig.
    #[arg(long, default_value = ".kubeforge/kubeconfig")]
    pub kubeconfig: PathBuf,
}

/// Starts the API server as `args` say, with or without simulated workloads; `kubeconfig_dir`
/// is where the kubeconfig goes (the certificates of an in-memory server go next to it).
pub async fn start(
    args: &ServerArgs,
    simulate: bool,
    kubeconfig_dir: &Path,
) -> anyhow::Result<ApiServer> {
    if args.insecure_http && !args.listen.ip().is_loopback() {
        anyhow::bail!(
            "--insecure-http serves without authentication: it listens on loopback addresses only, not {}",
            args.listen
        );
    }
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
        .connection_limits(ConnectionLimits::default())
        .service_account_issuer(&args.service_account_issuer);
    let cert_dir = args.cert_dir(kubeconfig_dir);
    builder = builder.service_account_key_dir(&cert_dir);
    if !args.insecure_http {
        let mut tls = TlsOptions::in_dir(&cert_dir);
        for san in &args.tls_sans {
            tls = tls.san(san);
        }
        if let (Some(cert), Some(key)) = (&args.tls_cert_file, &args.tls_private_key_file) {
            tls = tls.serving_cert_files(cert, key);
        }
        if let Some(ca) = &args.client_ca_file {
            tls = tls.client_ca_file(ca);
        }
        builder = builder.tls(tls);
    }
    if let Some(file) = &args.token_auth_file {
        builder = builder.token_auth_file(file);
    }
    if let Some(path) = &args.audit_log_path {
        builder = builder.audit_log(AuditConfig {
            path: path.clone(),
            max_size_mb: args.audit_log_maxsize,
            max_backups: args.audit_log_maxbackup,
        });
    }
    builder = if !args.etcd_servers.is_empty() {
        builder.etcd(etcd_config(args))
    } else if args.in_memory {
        builder.in_memory()
    } else {
        builder.data_dir(&args.data_dir)
    };
    builder.start().await.context("starting the API server")
}

/// The etcd connection the flags describe.
pub fn etcd_config(args: &ServerArgs) -> EtcdConfig {
    let mut config = EtcdConfig::new(args.etcd_servers.iter().cloned());
    config.prefix = args.etcd_prefix.clone();
    config.ca_file = args.etcd_cafile.clone();
    config.cert_file = args.etcd_certfile.clone();
    config.key_file = args.etcd_keyfile.clone();
    config.compaction_interval = args.etcd_compaction_interval;
    config
}

/// How the server keeps its objects, for the start-up message.
pub fn storage_description(args: &ServerArgs) -> String {
    if !args.etcd_servers.is_empty() {
        format!("in etcd {}", args.etcd_servers.join(","))
    } else if args.in_memory {
        "in memory".to_string()
    } else {
        format!("durable, in {}", args.data_dir.display())
    }
}

/// `kubeforge apiserver`: the server alone, until SIGINT/SIGTERM; the administrator's
/// kubeconfig is written to `--kubeconfig`.
pub async fn apiserver(args: ApiserverArgs) -> anyhow::Result<()> {
    let dir = args
        .kubeconfig
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let server = start(&args.server, args.server.simulate_workloads, &dir).await?;
    server
        .write_kubeconfig(&args.kubeconfig)
        .with_context(|| format!("writing {}", args.kubeconfig.display()))?;
    println!("kubeforge API server listening on {}", server.url());
    println!("kubeconfig: {}", args.kubeconfig.display());
    shutdown_signal().await;
    tracing::info!("shutting down");
    server.shutdown().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Flags {
        #[command(flatten)]
        server: ServerArgs,
    }

    fn parse(args: &[&str]) -> Result<ServerArgs, clap::Error> {
        Flags::try_parse_from(std::iter::once("kubeforge").chain(args.iter().copied()))
            .map(|f| f.server)
    }

    #[test]
    fn etcd_flags_make_an_etcd_config() {
        let args = parse(&[
            "--etcd-servers",
            "https://a:2379,https://b:2379",
            "--etcd-prefix",
            "/kubeforge",
            "--etcd-cafile",
            "ca.pem",
            "--etcd-certfile",
            "c.pem",
            "--etcd-keyfile",
            "k.pem",
            "--etcd-compaction-interval",
            "90s",
        ])
        .expect("valid flags");
        let config = etcd_config(&args);
        assert_eq!(config.endpoints, ["https://a:2379", "https://b:2379"]);
        assert_eq!(config.prefix, "/kubeforge");
        assert_eq!(config.ca_file, Some(PathBuf::from("ca.pem")));
        assert_eq!(config.key_file, Some(PathBuf::from("k.pem")));
        assert_eq!(config.compaction_interval, Duration::from_secs(90));
        assert_eq!(
            storage_description(&args),
            "in etcd https://a:2379,https://b:2379"
        );
    }

    #[test]
    fn etcd_flags_are_checked() {
        // A certificate without its key, etcd options without etcd, etcd with --in-memory.
        for bad in [
            &[
                "--etcd-servers",
                "http://a:2379",
                "--etcd-certfile",
                "c.pem",
            ][..],
            &["--etcd-prefix", "/x"][..],
            &["--etcd-servers", "http://a:2379", "--in-memory"][..],
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
        let plain = parse(&[]).expect("defaults");
        assert!(plain.etcd_servers.is_empty());
        assert_eq!(storage_description(&plain), "durable, in .kubeforge/data");
    }
}
