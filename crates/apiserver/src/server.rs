//! Starting and stopping an API server: the embedding API for tests, the CLI and other crates.
//!
//! The embedded default is cheap: plain HTTP on loopback, where a request without credentials
//! is the local administrator (kube-apiserver's old insecure port), and ServiceAccount tokens
//! signed by a key of the process. [`ApiServerBuilder::tls`] serves HTTPS instead, with the
//! cluster CA, certificate authentication and anonymous requests as on a cluster;
//! [`ApiServer::client`] and [`ApiServer::kubeconfig`] work either way (over TLS they carry the
//! CA and the administrator's client certificate).
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! let server = kubeforge_apiserver::ApiServer::builder().in_memory().start().await?;
//! let client = server.client();
//! let namespaces: kube::Api<k8s_openapi::api::core::v1::Namespace> = kube::Api::all(client);
//! assert!(namespaces.get("default").await.is_ok());
//! server.shutdown().await;
//! # Ok(()) }
//! ```

use crate::catalog::Catalog;
use crate::http::filters::{Filters, RequestLimits};
use crate::http::serve::{ConnectionLimits, serve};
use crate::http::{AppState, OpenApiCache, router};
use crate::registry::builtin_resources;
use crate::registry::core::namespaces::SYSTEM_NAMESPACES;
use crate::rest::{Rest, WriteOptions};
use crate::storage::{
    EtcdConfig, EtcdStorage, MemoryStorage, RedbStorage, Storage, Store, StoreConfig,
};
use serde_json::json;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Where the server keeps its objects.
#[derive(Debug, Clone)]
enum Medium {
    Memory,
    Durable(PathBuf),
    Etcd(EtcdConfig),
}

/// Configures and starts an [`ApiServer`].
#[derive(Debug, Clone)]
pub struct ApiServerBuilder {
    medium: Medium,
    listen: SocketAddr,
    store: StoreConfig,
    bookmark_interval: Duration,
    simulate_workloads: bool,
    nodes: usize,
    pod_termination_delay: Duration,
    cron_clock: crate::controllers::cronjobs::Clock,
    requests: RequestLimits,
    connections: ConnectionLimits,
    tls: Option<crate::tls::TlsOptions>,
    token_auth_file: Option<PathBuf>,
    service_account_issuer: String,
    service_account_key_dir: Option<PathBuf>,
    audit: Option<crate::audit::AuditConfig>,
}

impl Default for ApiServerBuilder {
    fn default() -> Self {
        ApiServerBuilder {
            medium: Medium::Memory,
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            store: StoreConfig::default(),
            bookmark_interval: Duration::from_secs(60),
            simulate_workloads: false,
            nodes: 1,
            pod_termination_delay: crate::controllers::workloads::TERMINATION_DELAY,
            cron_clock: crate::controllers::cronjobs::Clock::system(),
            requests: RequestLimits::default(),
            connections: ConnectionLimits::default(),
            tls: None,
            token_auth_file: None,
            service_account_issuer: crate::auth::authn::service_account::DEFAULT_ISSUER.to_string(),
            service_account_key_dir: None,
            audit: None,
        }
    }
}

/// Why a server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The storage could not be opened or loaded.
    #[error("opening storage: {0}")]
    Storage(#[source] std::io::Error),
    /// The listen address could not be bound.
    #[error("binding {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The kube client could not be built.
    #[error("building client: {0}")]
    Client(String),
    /// Bootstrapping the system namespaces failed.
    #[error("bootstrapping: {0}")]
    Bootstrap(String),
    /// Certificates, keys or the token file could not be made or read.
    #[error("credentials: {0}")]
    Credentials(String),
    /// The audit log could not be opened.
    #[error("opening the audit log: {0}")]
    Audit(std::io::Error),
}

impl ApiServerBuilder {
    /// Keeps objects in memory only (the default).
    pub fn in_memory(mut self) -> Self {
        self.medium = Medium::Memory;
        self
    }

    /// Keeps objects durably in `dir` (redb).
    pub fn data_dir(mut self, dir: impl AsRef<Path>) -> Self {
        self.medium = Medium::Durable(dir.as_ref().to_path_buf());
        self
    }

    /// Keeps objects in etcd, shared with every other API server on the same etcd and prefix
    /// (see [`crate::storage::etcd`]).
    pub fn etcd(mut self, config: EtcdConfig) -> Self {
        self.medium = Medium::Etcd(config);
        self
    }

    /// Listens on `addr` (default `127.0.0.1:0`, a free port).
    pub fn listen(mut self, addr: SocketAddr) -> Self {
        self.listen = addr;
        self
    }

    /// How many events watches can resume from (default 10,000).
    pub fn history(mut self, events: usize) -> Self {
        self.store.history_capacity = events;
        self
    }

    /// How often watches that allow bookmarks get one (default 60 s).
    pub fn bookmark_interval(mut self, every: Duration) -> Self {
        self.bookmark_interval = every;
        self
    }

    /// Simulates a node and the workload controllers (kwok-style): Deployments get ReplicaSets,
    /// ReplicaSets get Pods, Pods become Running and Ready; Jobs get Pods that run to their end,
    /// CronJobs get Jobs on schedule (default off).
    pub fn simulate_workloads(mut self, on: bool) -> Self {
        self.simulate_workloads = on;
        self
    }

    /// How many simulated nodes there are when workloads are simulated (default 1):
    /// `kubeforge-node`, then `kubeforge-node-2` … The scheduler spreads pods over them, and
    /// DaemonSets run a pod on each.
    pub fn nodes(mut self, count: usize) -> Self {
        self.nodes = count.max(1);
        self
    }

    /// How long the simulated kubelet takes to stop a deleted pod's containers before it
    /// removes the pod (default 1 s; never the pod's grace period, which only bounds it).
    pub fn pod_termination_delay(mut self, delay: Duration) -> Self {
        self.pod_termination_delay = delay;
        self
    }

    /// The clock the simulated cronjob controller schedules by (default the system's); keep a
    /// clone and [`advance`](crate::controllers::cronjobs::Clock::advance) it to make a
    /// schedule come due without waiting.
    pub fn cron_clock(mut self, clock: crate::controllers::cronjobs::Clock) -> Self {
        self.cron_clock = clock;
        self
    }

    /// Bounds on requests: in-flight limits (default 400 read-only and 200 mutating, 0 for none)
    /// and the deadline of requests that are not long-running (default 60 s).
    pub fn request_limits(mut self, limits: RequestLimits) -> Self {
        self.requests = limits;
        self
    }

    /// Bounds on connections: the header read timeout (default 32 s) and the most open
    /// connections (default: what the file-descriptor limit allows).
    pub fn connection_limits(mut self, limits: ConnectionLimits) -> Self {
        self.connections = limits;
        self
    }

    /// Serves HTTPS (HTTP/1.1 and h2 by ALPN) with the certificates `options` name instead of
    /// plain HTTP: client certificates signed by the cluster CA authenticate their subject,
    /// requests without credentials are anonymous. The ServiceAccount signing key is then kept
    /// in the certificate directory too (unless [`service_account_key_dir`](Self::service_account_key_dir)
    /// says otherwise).
    pub fn tls(mut self, options: crate::tls::TlsOptions) -> Self {
        self.tls = Some(options);
        self
    }

    /// Static bearer tokens (`--token-auth-file`, kube-apiserver's CSV format).
    pub fn token_auth_file(mut self, path: impl AsRef<Path>) -> Self {
        self.token_auth_file = Some(path.as_ref().to_path_buf());
        self
    }

    /// The `iss` of ServiceAccount tokens, and their default audience
    /// (default `https://kubernetes.default.svc.cluster.local`).
    pub fn service_account_issuer(mut self, issuer: impl Into<String>) -> Self {
        self.service_account_issuer = issuer.into();
        self
    }

    /// Where the ServiceAccount token signing key (`sa.key`) is kept, made there once (default:
    /// the TLS certificate directory; without TLS, a key of this process only).
    pub fn service_account_key_dir(mut self, dir: impl AsRef<Path>) -> Self {
        self.service_account_key_dir = Some(dir.as_ref().to_path_buf());
        self
    }

    /// Writes an audit.k8s.io/v1 Event for every request to an audit log (default: none), as
    /// kube-apiserver's `--audit-log-path` does.
    pub fn audit_log(mut self, config: crate::audit::AuditConfig) -> Self {
        self.audit = Some(config);
        self
    }

    /// Opens the storage, binds the address and starts serving.
    pub async fn start(self) -> Result<ApiServer, StartError> {
        let local: Arc<dyn Storage> = match &self.medium {
            Medium::Memory => Arc::new(MemoryStorage),
            Medium::Durable(dir) => {
                let dir = dir.clone();
                Arc::new(
                    tokio::task::spawn_blocking(move || RedbStorage::open(&dir))
                        .await
                        .map_err(|e| StartError::Storage(std::io::Error::other(e)))?
                        .map_err(StartError::Storage)?,
                )
            }
            Medium::Etcd(etcd) => {
                let builtin = builtin_resources()
                    .into_iter()
                    .map(|rt| rt.storage_key.clone());
                let etcd = EtcdStorage::connect(etcd, builtin)
                    .await
                    .map_err(StartError::Storage)?;
                let store = Store::open_shared(Arc::new(etcd), self.store.clone())
                    .await
                    .map_err(StartError::Storage)?;
                return self.serve_store(store).await;
            }
        };
        let store = {
            let config = self.store.clone();
            tokio::task::spawn_blocking(move || Store::open(local, config))
                .await
                .map_err(|e| StartError::Storage(std::io::Error::other(e)))?
                .map_err(StartError::Storage)?
        };
        self.serve_store(store).await
    }

    async fn serve_store(self, store: Store) -> Result<ApiServer, StartError> {
        let credentials = |e: &dyn std::fmt::Display| StartError::Credentials(e.to_string());
        let tls = match &self.tls {
            Some(options) => {
                Some(crate::tls::ServingTls::prepare(options).map_err(|e| credentials(&e))?)
            }
            None => None,
        };
        let key_dir = self
            .service_account_key_dir
            .clone()
            .or_else(|| self.tls.as_ref().map(|t| t.cert_dir().to_path_buf()));
        let service_accounts = crate::auth::authn::service_account::ServiceAccountTokens::new(
            key_dir.as_deref(),
            &self.service_account_issuer,
            Vec::new(),
        )
        .map_err(|e| credentials(&e))?;
        let tokens = match &self.token_auth_file {
            Some(path) => Some(
                crate::auth::authn::token_file::TokenFile::read(path)
                    .map_err(|e| credentials(&e))?,
            ),
            None => None,
        };
        let authenticator = Arc::new(crate::auth::authn::Authenticator {
            tokens,
            service_accounts: Arc::new(service_accounts),
        });
        let catalog = Arc::new(Catalog::new(builtin_resources()));
        let rest = Rest {
            store: store.clone(),
            catalog,
            bookmark_interval: self.bookmark_interval,
            admission: Arc::default(),
            authenticator,
            cluster_ca: tls.as_ref().map(|t| t.ca_pem.clone()),
            rbac: Arc::new(crate::auth::cache::RbacCache::new(store.clone())),
        };
        bootstrap(&rest).await?;
        if let Some(crd_type) =
            rest.catalog
                .snapshot()
                .find("apiextensions.k8s.io", "v1", "customresourcedefinitions")
        {
            crate::crd::controller::sync(&rest, &crd_type).await;
        }
        crate::controllers::clusterrole_aggregation::sync(&rest).await;
        crate::controllers::apiservices::sync(&rest).await;
        // kube-apiserver's `priority-and-fairness-config-producer` post-start hook, and the
        // FlowSchemas' status its config consumer writes.
        crate::controllers::flowcontrol::sync(&rest).await;
        crate::controllers::servicecidrs::sync(&rest).await;
        if self.simulate_workloads {
            crate::controllers::nodes::ensure(&rest, self.nodes).await;
            crate::controllers::volumes::ensure_default_class(&rest).await;
        }
        let listener = tokio::net::TcpListener::bind(self.listen)
            .await
            .map_err(|source| StartError::Bind {
                addr: self.listen,
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| StartError::Bind {
            addr: self.listen,
            source,
        })?;
        // Every server serves the CRDs it finds and keeps its own view of the admission
        // configuration; the other controllers run once per cluster.
        let mut controllers = vec![
            tokio::spawn(crate::crd::controller::run(rest.clone())),
            tokio::spawn(crate::admission::webhook::run(rest.clone())),
            tokio::spawn(crate::admission::validating_admission_policy::run(
                rest.clone(),
            )),
        ];
        let start_controllers = {
            let rest = rest.clone();
            let workloads = self
                .simulate_workloads
                .then(|| (self.pod_termination_delay, self.cron_clock.clone()));
            let shared = store.is_shared();
            let signer = tls.as_ref().map(|t| t.authority.clone());
            // On a shared storage the lease holder points the `kubernetes` Service at itself.
            move || {
                let mut tasks = controller_tasks(&rest, workloads.clone(), addr, shared);
                if let Some(ca) = &signer {
                    tasks.push(tokio::spawn(crate::controllers::csr_signing::run(
                        rest.clone(),
                        ca.clone(),
                    )));
                }
                tasks
            }
        };
        // The Services' IPAddresses put right before anything is allocated. On a shared
        // storage another server may be allocating meanwhile: an address without its Service
        // is left a minute, for that Service to be stored.
        let repair_grace = if store.is_shared() {
            Duration::from_secs(60)
        } else {
            Duration::ZERO
        };
        crate::registry::core::services::allocation::repair(&rest, repair_grace).await;
        if store.is_shared() {
            // Present before this server serves, as upstream's bootstrap controller makes it on
            // every server; the Lease holder then points it at itself.
            crate::controllers::kubernetes_service::create_missing(&rest, addr).await;
            // As kube-controller-manager's `<host>_<uuid>`: which server leads is visible.
            let identity = format!("{addr}_{}", uuid::Uuid::new_v4());
            controllers.push(tokio::spawn(crate::controllers::leader::run(
                rest.clone(),
                identity,
                start_controllers,
            )));
        } else {
            crate::controllers::kubernetes_service::ensure(&rest, addr).await;
            controllers.extend(start_controllers());
        }
        let audit = match self.audit.clone() {
            Some(config) => Some(crate::audit::AuditLog::open(config).map_err(StartError::Audit)?),
            None => None,
        };
        let state = Arc::new(AppState {
            rest: rest.clone(),
            server_address: addr.to_string(),
            openapi: OpenApiCache::default(),
            filters: Filters::new(self.requests),
            metrics: crate::http::metrics::Metrics::new(),
            audit,
        });
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let app = router(state);
        let connections = self.connections;
        let acceptor = tls.as_ref().map(|t| t.acceptor.clone());
        let serve = tokio::spawn(async move {
            let shutdown = async move {
                let _ = stop_rx.await;
            };
            serve(listener, app, connections, acceptor, shutdown).await;
        });
        let (url, kubeconfig, config) = match &tls {
            Some(tls) => {
                let url = format!("https://{}", client_address(addr));
                let kubeconfig =
                    kubeconfig_with_credentials(&url, &tls.ca_pem, &tls.admin.cert, &tls.admin.key);
                let parsed: kube::config::Kubeconfig =
                    serde_json::from_value(kubeconfig.clone())
                        .map_err(|e| StartError::Client(e.to_string()))?;
                let config = kube::Config::from_custom_kubeconfig(
                    parsed,
                    &kube::config::KubeConfigOptions::default(),
                )
                .await
                .map_err(|e| StartError::Client(e.to_string()))?;
                (url, kubeconfig, config)
            }
            None => {
                let url = format!("http://{addr}");
                let kubeconfig = kubeconfig_value(&url);
                let mut config =
                    kube::Config::new(url.parse().map_err(|e: axum::http::uri::InvalidUri| {
                        StartError::Client(e.to_string())
                    })?);
                // The server speaks plain HTTP, so the client never verifies a certificate: an
                // empty root store spares reading and parsing the OS trust store (several ms of
                // every start).
                config.root_cert = Some(Vec::new());
                (url, kubeconfig, config)
            }
        };
        let client =
            kube::Client::try_from(config).map_err(|e| StartError::Client(e.to_string()))?;
        tracing::info!(%url, storage = store.medium(), "API server ready");
        Ok(ApiServer {
            addr,
            url,
            kubeconfig,
            client,
            rest,
            stop: Some(stop_tx),
            serve: Some(serve),
            controllers,
        })
    }
}

/// The controllers that run once per cluster (in the lease holder when the storage is shared).
fn controller_tasks(
    rest: &Rest,
    workloads: Option<(Duration, crate::controllers::cronjobs::Clock)>,
    addr: SocketAddr,
    ensure_service: bool,
) -> Vec<JoinHandle<()>> {
    let mut tasks = vec![
        tokio::spawn(crate::controllers::clusterrole_aggregation::run(
            rest.clone(),
        )),
        tokio::spawn(crate::controllers::apiservices::run(rest.clone())),
        tokio::spawn(crate::controllers::flowcontrol::run(rest.clone())),
        tokio::spawn(crate::controllers::gc::run(rest.clone())),
        tokio::spawn(crate::controllers::namespace::run(rest.clone())),
        tokio::spawn(crate::controllers::endpoints::run(rest.clone())),
        tokio::spawn(crate::controllers::disruption::run(rest.clone())),
        tokio::spawn(crate::controllers::podautoscaler::run(rest.clone())),
        tokio::spawn(crate::controllers::resourcequota::run(rest.clone())),
        tokio::spawn(crate::controllers::serviceaccounts::run(rest.clone())),
        tokio::spawn(crate::controllers::servicecidrs::run(rest.clone())),
        tokio::spawn(crate::controllers::root_ca::run(rest.clone())),
        tokio::spawn(crate::controllers::volumes::run(rest.clone())),
    ];
    if let Some((termination_delay, cron_clock)) = workloads {
        tasks.push(tokio::spawn(crate::controllers::workloads::run(
            rest.clone(),
            termination_delay,
        )));
        tasks.push(tokio::spawn(crate::controllers::jobs::run(rest.clone())));
        tasks.push(tokio::spawn(crate::controllers::statefulsets::run(
            rest.clone(),
        )));
        tasks.push(tokio::spawn(crate::controllers::daemonsets::run(
            rest.clone(),
        )));
        tasks.push(tokio::spawn(crate::controllers::cronjobs::run(
            rest.clone(),
            cron_clock,
        )));
    }
    let service = rest.clone();
    tasks.push(tokio::spawn(async move {
        if ensure_service {
            crate::controllers::kubernetes_service::ensure(&service, addr).await;
        }
        crate::controllers::kubernetes_service::run(service, addr).await;
    }));
    tasks
}

async fn bootstrap(rest: &Rest) -> Result<(), StartError> {
    use futures::FutureExt;
    let resources = rest.catalog.snapshot();
    let Some(ns) = resources.find("", "v1", "namespaces") else {
        return Ok(());
    };
    let opts = WriteOptions {
        field_manager: "kube-apiserver".into(),
        ..WriteOptions::default()
    };
    // Created concurrently, so that they share one commit (one fsync on a durable medium).
    let creates = SYSTEM_NAMESPACES
        .iter()
        .filter(|name| rest.get(&ns, None, name).is_err())
        .map(|name| {
            let body = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}});
            rest.create(&ns, None, body, &opts).boxed()
        });
    let creates: Vec<_> = creates.collect();
    for result in futures::future::join_all(creates).await {
        match result {
            Ok(_) => {}
            Err(e) if e.code == 409 => {}
            Err(e) => return Err(StartError::Bootstrap(e.to_string())),
        }
    }
    // The system PriorityClasses (kube-apiserver's `scheduling/bootstrap-system-priority-classes`).
    if let Some(classes) = resources.find("scheduling.k8s.io", "v1", "priorityclasses") {
        use crate::registry::scheduling::priorityclasses::{SYSTEM_PRIORITY_CLASSES, system_class};
        let creates: Vec<_> = SYSTEM_PRIORITY_CLASSES
            .iter()
            .filter(|(name, _, _)| rest.get(&classes, None, name).is_err())
            .map(|(name, value, description)| {
                rest.create(
                    &classes,
                    None,
                    system_class(name, *value, description),
                    &opts,
                )
                .boxed()
            })
            .collect();
        for result in futures::future::join_all(creates).await {
            match result {
                Ok(_) => {}
                Err(e) if e.code == 409 => {}
                Err(e) => return Err(StartError::Bootstrap(e.to_string())),
            }
        }
    }
    // The default ServiceCIDR, before any Service is allocated an address from it.
    crate::registry::networking::servicecidrs::ensure_default(rest)
        .await
        .map_err(|e| StartError::Bootstrap(e.to_string()))?;
    // The default RBAC policy, reconciled (its Roles live in the namespaces just made).
    crate::auth::bootstrap::ensure(rest)
        .await
        .map_err(|e| StartError::Bootstrap(e.to_string()))?;
    crate::controllers::serviceaccounts::ensure_defaults(rest, SYSTEM_NAMESPACES).await;
    crate::controllers::root_ca::publish_in(rest, SYSTEM_NAMESPACES).await;
    Ok(())
}

/// A kubeconfig (as YAML-compatible JSON) for a server at `url`, context `kubeforge`.
///
/// For a plain-HTTP `url` the cluster carries `insecure-skip-tls-verify: true`:
/// `@kubernetes/client-node` refuses an `http://` server without it, and kubectl (1.27-1.33) and
/// kube-rs accept it (there is no certificate to verify).
pub fn kubeconfig_value(url: &str) -> serde_json::Value {
    let mut cluster = json!({"server": url});
    if url.starts_with("http://") {
        cluster["insecure-skip-tls-verify"] = json!(true);
    }
    json!({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "kubeforge", "cluster": cluster}],
        "users": [{"name": "kubeforge", "user": {}}],
        "contexts": [{"name": "kubeforge", "context": {"cluster": "kubeforge", "user": "kubeforge", "namespace": "default"}}],
        "current-context": "kubeforge",
        "preferences": {},
    })
}

/// A kubeconfig (as YAML-compatible JSON) for a TLS server at `url` whose certificate the PEM
/// `ca` signed, authenticating with the PEM client certificate `cert` and key `key`.
pub fn kubeconfig_with_credentials(
    url: &str,
    ca: &str,
    cert: &str,
    key: &str,
) -> serde_json::Value {
    use base64::Engine;
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let mut config = kubeconfig_value(url);
    config["clusters"][0]["cluster"]["certificate-authority-data"] = json!(b64(ca));
    config["users"][0]["user"] = json!({
        "client-certificate-data": b64(cert),
        "client-key-data": b64(key),
    });
    config
}

/// The address clients reach a server listening on `addr` at: loopback for an unspecified
/// address (the serving certificate names 127.0.0.1 and ::1).
fn client_address(addr: SocketAddr) -> SocketAddr {
    match addr.ip() {
        std::net::IpAddr::V4(ip) if ip.is_unspecified() => {
            SocketAddr::from(([127, 0, 0, 1], addr.port()))
        }
        std::net::IpAddr::V6(ip) if ip.is_unspecified() => {
            SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, addr.port()))
        }
        _ => addr,
    }
}

/// A running API server.
pub struct ApiServer {
    addr: SocketAddr,
    url: String,
    kubeconfig: serde_json::Value,
    client: kube::Client,
    rest: Rest,
    stop: Option<oneshot::Sender<()>>,
    serve: Option<JoinHandle<()>>,
    controllers: Vec<JoinHandle<()>>,
}

impl std::fmt::Debug for ApiServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiServer")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl ApiServer {
    /// A builder (in-memory, a free port on 127.0.0.1).
    pub fn builder() -> ApiServerBuilder {
        ApiServerBuilder::default()
    }

    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The base URL, e.g. `http://127.0.0.1:41234` (`https://` with TLS).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// A kube client for this server.
    pub fn client(&self) -> kube::Client {
        self.client.clone()
    }

    /// The kubeconfig for this server, as a value.
    pub fn kubeconfig(&self) -> &serde_json::Value {
        &self.kubeconfig
    }

    /// The kubeconfig as YAML.
    pub fn kubeconfig_yaml(&self) -> String {
        serde_norway::to_string(&self.kubeconfig).unwrap_or_default()
    }

    /// Writes the kubeconfig to `path` (creating parent directories).
    pub fn write_kubeconfig(&self, path: impl AsRef<Path>) -> std::io::Result<()> {
        if let Some(parent) = path.as_ref().parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(path, self.kubeconfig_yaml())
    }

    /// The generic request path, for in-process access without HTTP.
    pub fn rest(&self) -> &Rest {
        &self.rest
    }

    /// Stops serving, waits for in-flight requests (watches are cut), and closes the store.
    pub async fn shutdown(mut self) {
        self.stop_serving().await;
    }

    async fn stop_serving(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        for c in &self.controllers {
            c.abort();
        }
        self.rest.store.close();
        if let Some(serve) = self.serve.take() {
            // Open watch streams end when the store closes; bound the wait regardless.
            let _ = tokio::time::timeout(Duration::from_secs(5), serve).await;
        }
        // The data directory can be reopened once the writer has let go of it.
        let _ = tokio::time::timeout(Duration::from_secs(5), self.rest.store.wait_closed()).await;
    }
}

impl Drop for ApiServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        for c in &self.controllers {
            c.abort();
        }
        self.rest.store.close();
    }
}
