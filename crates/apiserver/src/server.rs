//! Starting and stopping an API server: the embedding API for tests, the CLI and other crates.
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
use crate::storage::{MemoryStorage, RedbStorage, Storage, Store, StoreConfig};
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

    /// Opens the storage, binds the address and starts serving.
    pub async fn start(self) -> Result<ApiServer, StartError> {
        let storage: Arc<dyn Storage> = match &self.medium {
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
        };
        let store = {
            let config = self.store.clone();
            tokio::task::spawn_blocking(move || Store::open(storage, config))
                .await
                .map_err(|e| StartError::Storage(std::io::Error::other(e)))?
                .map_err(StartError::Storage)?
        };
        let catalog = Arc::new(Catalog::new(builtin_resources()));
        let rest = Rest {
            store: store.clone(),
            catalog,
            bookmark_interval: self.bookmark_interval,
            admission: Arc::default(),
        };
        bootstrap(&rest).await?;
        if let Some(crd_type) =
            rest.catalog
                .snapshot()
                .find("apiextensions.k8s.io", "v1", "customresourcedefinitions")
        {
            crate::crd::controller::sync(&rest, &crd_type).await;
        }
        let mut controllers = vec![
            tokio::spawn(crate::crd::controller::run(rest.clone())),
            tokio::spawn(crate::controllers::gc::run(rest.clone())),
            tokio::spawn(crate::controllers::namespace::run(rest.clone())),
            tokio::spawn(crate::controllers::endpoints::run(rest.clone())),
            tokio::spawn(crate::controllers::disruption::run(rest.clone())),
            tokio::spawn(crate::controllers::serviceaccounts::run(rest.clone())),
            tokio::spawn(crate::controllers::volumes::run(rest.clone())),
            tokio::spawn(crate::admission::webhook::run(rest.clone())),
            tokio::spawn(crate::admission::validating_admission_policy::run(
                rest.clone(),
            )),
        ];
        if self.simulate_workloads {
            crate::controllers::nodes::ensure(&rest, self.nodes).await;
            crate::controllers::volumes::ensure_default_class(&rest).await;
            controllers.push(tokio::spawn(crate::controllers::workloads::run(
                rest.clone(),
                self.pod_termination_delay,
            )));
            controllers.push(tokio::spawn(crate::controllers::jobs::run(rest.clone())));
            controllers.push(tokio::spawn(crate::controllers::statefulsets::run(
                rest.clone(),
            )));
            controllers.push(tokio::spawn(crate::controllers::daemonsets::run(
                rest.clone(),
            )));
            controllers.push(tokio::spawn(crate::controllers::cronjobs::run(
                rest.clone(),
                self.cron_clock.clone(),
            )));
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
        crate::controllers::kubernetes_service::ensure(&rest, addr).await;
        controllers.push(tokio::spawn(crate::controllers::kubernetes_service::run(
            rest.clone(),
            addr,
        )));
        let state = Arc::new(AppState {
            rest: rest.clone(),
            server_address: addr.to_string(),
            openapi: OpenApiCache::default(),
            filters: Filters::new(self.requests),
            metrics: crate::http::metrics::Metrics::new(),
        });
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let app = router(state);
        let connections = self.connections;
        let serve = tokio::spawn(async move {
            let shutdown = async move {
                let _ = stop_rx.await;
            };
            serve(listener, app, connections, shutdown).await;
        });
        let url = format!("http://{addr}");
        let kubeconfig = kubeconfig_value(&url);
        let mut config = kube::Config::new(
            url.parse()
                .map_err(|e: axum::http::uri::InvalidUri| StartError::Client(e.to_string()))?,
        );
        // The server speaks plain HTTP, so the client never verifies a certificate: an empty root
        // store spares reading and parsing the OS trust store (several ms of every start).
        config.root_cert = Some(Vec::new());
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
    let mut creates: Vec<_> = creates.collect();
    // The default RBAC policy, where a role or binding of that name is missing.
    for (plural, objects) in [
        ("clusterroles", crate::auth::bootstrap::cluster_roles()),
        (
            "clusterrolebindings",
            crate::auth::bootstrap::cluster_role_bindings(),
        ),
    ] {
        let Some(rt) = resources.find("rbac.authorization.k8s.io", "v1", plural) else {
            continue;
        };
        for body in objects {
            let name = body["metadata"]["name"].as_str().unwrap_or_default();
            if rest.get(&rt, None, name).is_err() {
                let rt = rt.clone();
                let opts = opts.clone();
                creates.push(async move { rest.create(&rt, None, body, &opts).await }.boxed());
            }
        }
    }
    for result in futures::future::join_all(creates).await {
        match result {
            Ok(_) => {}
            Err(e) if e.code == 409 => {}
            Err(e) => return Err(StartError::Bootstrap(e.to_string())),
        }
    }
    crate::controllers::serviceaccounts::ensure_defaults(rest, SYSTEM_NAMESPACES).await;
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

    /// The base URL, e.g. `http://127.0.0.1:41234`.
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
