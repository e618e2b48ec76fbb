//! The router's data plane: the backlog, the dispatcher, the outputs, the ingest and metrics
//! listeners, and the current routing table and settings. The controller calls
//! [`Engine::apply`] with what the resources say; events already queued are never touched by a
//! change, and a changed port binds the new listener before the old one stops.

use crate::backlog::Backlog;
use crate::delivery;
use crate::metrics::Metrics;
use crate::nats::{NatsSettings, Subscription};
use crate::output::{Output, StdoutWriter};
use crate::routes::Routes;
use crate::settings::{Retry, Settings};
use crate::types::CloudEventOutputSpec;
use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use prometheus_client::registry::Registry;
use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinHandle;

/// Default request body limit (1 MiB), for one event or one batch.
pub const DEFAULT_MAX_BODY_BYTES: usize = 1 << 20;
/// Default number of events delivered at once.
pub const DEFAULT_MAX_IN_FLIGHT: usize = 1024;
/// Default bound on the shutdown drain.
pub const DEFAULT_DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// How the engine runs (process options, not resource fields).
#[derive(Debug, Clone)]
pub struct EngineOptions {
    /// The address listeners bind on.
    pub bind: IpAddr,
    /// Request body limit.
    pub max_body_bytes: usize,
    /// Events delivered at once.
    pub max_in_flight: usize,
    /// Bound on the shutdown drain.
    pub drain_timeout: Duration,
    /// Where stdout outputs write.
    pub stdout: StdoutWriter,
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            bind: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            max_in_flight: DEFAULT_MAX_IN_FLIGHT,
            drain_timeout: DEFAULT_DRAIN_TIMEOUT,
            stdout: StdoutWriter::default(),
        }
    }
}

/// What ingest and delivery share.
#[derive(Debug)]
pub struct Core {
    /// The options.
    pub options: EngineOptions,
    /// The queue.
    pub backlog: Backlog,
    /// The metrics.
    pub metrics: Metrics,
    /// The registry `/metrics` serves.
    pub registry: Registry,
    /// Limits the events delivered at once.
    pub in_flight: Arc<Semaphore>,
    /// Events being delivered now.
    pub delivering: AtomicUsize,
    routes: RwLock<Arc<Routes>>,
    settings: RwLock<Option<Settings>>,
    accepting: AtomicBool,
}

impl Core {
    /// The routing table now.
    pub fn routes(&self) -> Arc<Routes> {
        self.routes
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn with_settings<T>(&self, f: impl FnOnce(Option<&Settings>) -> T) -> T {
        f(self
            .settings
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref())
    }

    /// The retry policy now.
    pub fn retry(&self) -> Retry {
        self.with_settings(|s| s.map(|s| s.retry)).unwrap_or(Retry {
            max_attempts: crate::types::DEFAULT_MAX_RETRY as u32,
            wait: Duration::from_millis(crate::types::DEFAULT_RETRY_WAIT as u64),
            max_wait: Duration::from_millis(crate::types::DEFAULT_MAX_RETRY_WAIT as u64),
        })
    }

    /// Whether validators are enforced at ingest.
    pub fn validation(&self) -> bool {
        self.with_settings(|s| s.is_some_and(|s| s.validation))
    }

    /// Whether acceptance answers 200.
    pub fn use_status_code_ok(&self) -> bool {
        self.with_settings(|s| s.is_some_and(|s| s.use_status_code_ok))
    }

    /// Whether ingest accepts events (not shutting down).
    pub fn accepting(&self) -> bool {
        self.accepting.load(Ordering::Acquire)
    }
}

struct Listener {
    port: u16,
    path: String,
    addr: SocketAddr,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl Listener {
    async fn stop(self) {
        self.stop.send_replace(true);
        let _ = self.task.await;
    }
}

#[derive(Default)]
struct Listeners {
    ingest: Option<Listener>,
    metrics: Option<Listener>,
    nats: Option<Subscription>,
}

/// The `path` of an ingest listener that serves health only (the NATS transport's).
const HEALTH_ONLY: &str = "health";

/// What applying a configuration did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Applied {
    /// Where the HTTP listener is (ingest, or only health with the NATS transport).
    pub ingest: Option<SocketAddr>,
    /// The NATS subscription ingest reads, as `server subject`, with the NATS transport.
    pub subscribed: Option<String>,
    /// Where metrics are served.
    pub metrics: Option<SocketAddr>,
    /// Binding failures (the previous listener, if any, keeps serving).
    pub errors: Vec<String>,
}

/// What the shutdown drain could not deliver.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DrainReport {
    /// Events still queued when the bound ran out.
    pub queued: usize,
    /// Events whose delivery was cut off.
    pub in_flight: usize,
}

/// The data plane.
pub struct Engine {
    core: Arc<Core>,
    listeners: tokio::sync::Mutex<Listeners>,
    outputs: Mutex<BTreeMap<String, Arc<Output>>>,
    /// Outputs changed or deleted by [`Engine::sync_outputs`], retired by the next
    /// [`Engine::apply`] once the routes that replace them are in place.
    retiring: Mutex<Vec<Arc<Output>>>,
    dispatcher: Mutex<Option<JoinHandle<()>>>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine").finish_non_exhaustive()
    }
}

async fn serve(listener: tokio::net::TcpListener, app: Router, mut stop: watch::Receiver<bool>) {
    let result = axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            let _ = stop.wait_for(|s| *s).await;
        })
        .await;
    if let Err(error) = result {
        tracing::error!(%error, "listener failed");
    }
}

impl Engine {
    /// An engine with an empty routing table and no listeners; its dispatcher runs from now.
    pub fn start(options: EngineOptions) -> Arc<Engine> {
        let mut registry = Registry::default();
        let metrics = Metrics::new(&mut registry);
        let core = Arc::new(Core {
            backlog: Backlog::new(crate::types::DEFAULT_BACKLOG as usize),
            in_flight: Arc::new(Semaphore::new(options.max_in_flight.max(1))),
            options,
            metrics,
            registry,
            delivering: AtomicUsize::new(0),
            routes: RwLock::new(Arc::new(Routes::default())),
            settings: RwLock::new(None),
            accepting: AtomicBool::new(true),
        });
        let dispatcher = tokio::spawn(delivery::dispatch(core.clone()));
        Arc::new(Engine {
            core,
            listeners: tokio::sync::Mutex::new(Listeners::default()),
            outputs: Mutex::new(BTreeMap::new()),
            retiring: Mutex::new(Vec::new()),
            dispatcher: Mutex::new(Some(dispatcher)),
        })
    }

    /// What ingest and delivery share.
    pub fn core(&self) -> &Arc<Core> {
        &self.core
    }

    /// Makes the outputs match `specs` (by name): unchanged ones are kept, changed and deleted
    /// ones are retired by the next [`apply`](Self::apply), after the routes that replace them
    /// are in place (an event in flight on a changed output then moves to its replacement; one
    /// on a deleted output fails). Returns each output or why its spec is invalid.
    pub fn sync_outputs(
        &self,
        specs: &[(String, CloudEventOutputSpec)],
    ) -> BTreeMap<String, Result<Arc<Output>, String>> {
        let mut outputs = self.outputs.lock().unwrap_or_else(PoisonError::into_inner);
        let mut result = BTreeMap::new();
        let mut keep = BTreeMap::new();
        let mut retiring = Vec::new();
        for (name, spec) in specs {
            let built = match outputs.remove(name) {
                Some(existing) if &existing.spec == spec => Ok(existing),
                existing => {
                    retiring.extend(existing);
                    Output::new(name, spec, &self.core.options.stdout)
                }
            };
            if let Ok(output) = &built {
                keep.insert(name.clone(), output.clone());
            }
            result.insert(name.clone(), built);
        }
        retiring.extend(std::mem::replace(&mut *outputs, keep).into_values());
        self.retiring
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend(retiring);
        result
    }

    /// Applies `settings` (`None`: no Singularity, stop listening) and `routes`. After a
    /// [`shutdown`](Self::shutdown) (this process stopped leading) it resumes: the backlog
    /// accepts events again and a new dispatcher runs.
    pub async fn apply(&self, settings: Option<Settings>, routes: Routes) -> Applied {
        let mut listeners = self.listeners.lock().await;
        if !self.core.accepting() {
            self.core.backlog.reopen();
            *self
                .dispatcher
                .lock()
                .unwrap_or_else(PoisonError::into_inner) =
                Some(tokio::spawn(delivery::dispatch(self.core.clone())));
            self.core.accepting.store(true, Ordering::Release);
            tracing::info!("delivery resumed");
        }
        *self
            .core
            .routes
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Arc::new(routes);
        for old in
            std::mem::take(&mut *self.retiring.lock().unwrap_or_else(PoisonError::into_inner))
        {
            old.retire();
        }
        if let Some(s) = &settings {
            self.core.backlog.set_capacity(s.backlog);
        }
        *self
            .core
            .settings
            .write()
            .unwrap_or_else(PoisonError::into_inner) = settings.clone();
        let mut applied = Applied::default();
        let wanted_ingest = settings.as_ref().map(|s| {
            let path = if s.nats.is_some() { HEALTH_ONLY } else { "" };
            (s.port, path.to_string())
        });
        let wanted_metrics = settings.as_ref().and_then(|s| s.metrics.clone());
        let bind = self.core.options.bind;
        let core = self.core.clone();
        self.reconcile_listener(
            &mut listeners.ingest,
            wanted_ingest,
            bind,
            &mut applied,
            "ingest",
            |path| crate::ingest::router(core.clone(), path != HEALTH_ONLY),
        )
        .await;
        self.reconcile_subscription(
            &mut listeners.nats,
            settings.as_ref().and_then(|s| s.nats.clone()),
            &mut applied,
        )
        .await;
        let core = self.core.clone();
        self.reconcile_listener(
            &mut listeners.metrics,
            wanted_metrics,
            bind,
            &mut applied,
            "metrics",
            |path| metrics_router(core.clone(), path),
        )
        .await;
        applied.ingest = listeners.ingest.as_ref().map(|l| l.addr);
        applied.subscribed = listeners
            .nats
            .as_ref()
            .map(|n| format!("{} {}", n.settings.server, n.settings.subject));
        applied.metrics = listeners.metrics.as_ref().map(|l| l.addr);
        applied
    }

    async fn reconcile_listener(
        &self,
        slot: &mut Option<Listener>,
        wanted: Option<(u16, String)>,
        bind: IpAddr,
        applied: &mut Applied,
        what: &str,
        app: impl FnOnce(&str) -> Router,
    ) {
        let Some((port, path)) = wanted else {
            if let Some(old) = slot.take() {
                tracing::info!(addr = %old.addr, "{what} listener stopped");
                old.stop().await;
            }
            return;
        };
        if slot
            .as_ref()
            .is_some_and(|l| l.port == port && l.path == path)
        {
            return;
        }
        match tokio::net::TcpListener::bind(SocketAddr::new(bind, port)).await {
            Ok(listener) => {
                let addr = listener.local_addr().unwrap_or(SocketAddr::new(bind, port));
                let (stop, stopped) = watch::channel(false);
                let task = tokio::spawn(serve(listener, app(&path), stopped));
                tracing::info!(%addr, "{what} listening");
                if let Some(old) = slot.replace(Listener {
                    port,
                    path,
                    addr,
                    stop,
                    task,
                }) {
                    old.stop().await;
                }
            }
            Err(e) => applied
                .errors
                .push(format!("binding the {what} port {bind}:{port}: {e}")),
        }
    }

    /// Makes the NATS subscription match `wanted`: a changed one subscribes anew before the
    /// old one stops; one that cannot connect is reported and the old one keeps reading.
    async fn reconcile_subscription(
        &self,
        slot: &mut Option<Subscription>,
        wanted: Option<NatsSettings>,
        applied: &mut Applied,
    ) {
        let Some(wanted) = wanted else {
            if let Some(old) = slot.take() {
                tracing::info!(subject = %old.settings.subject, "NATS ingest stopped");
                old.stop().await;
            }
            return;
        };
        if slot.as_ref().is_some_and(|s| s.settings == wanted) {
            return;
        }
        match Subscription::start(self.core.clone(), wanted).await {
            Ok(subscription) => {
                if let Some(old) = slot.replace(subscription) {
                    old.stop().await;
                }
            }
            Err(e) => applied.errors.push(e),
        }
    }

    /// Where ingest listens now.
    pub async fn ingest_addr(&self) -> Option<SocketAddr> {
        self.listeners.lock().await.ingest.as_ref().map(|l| l.addr)
    }

    /// Stops ingest, then delivers what is queued within the drain bound; logs and returns
    /// what could not be delivered. A later [`apply`](Self::apply) resumes.
    pub async fn shutdown(&self) -> DrainReport {
        let mut listeners = self.listeners.lock().await;
        self.core.accepting.store(false, Ordering::Release);
        if let Some(l) = listeners.ingest.take() {
            l.stop().await;
        }
        if let Some(n) = listeners.nats.take() {
            n.stop().await;
        }
        self.core.backlog.close();
        let dispatcher = self
            .dispatcher
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        let mut report = DrainReport::default();
        if let Some(mut dispatcher) = dispatcher {
            let bound = self.core.options.drain_timeout;
            if tokio::time::timeout(bound, &mut dispatcher).await.is_err() {
                dispatcher.abort();
                report.in_flight = self.core.delivering.load(Ordering::Acquire);
                report.queued = self.core.backlog.take_all().len();
                let lost = (report.queued + report.in_flight) as u64;
                for _ in 0..lost {
                    self.core.metrics.no_handler("shutdown");
                }
                tracing::warn!(
                    queued = report.queued,
                    in_flight = report.in_flight,
                    "shutdown drain bound ({bound:?}) reached; these events were not delivered"
                );
            } else {
                tracing::info!("delivery queue drained");
            }
        }
        if let Some(l) = listeners.metrics.take() {
            l.stop().await;
        }
        report
    }
}

fn metrics_router(core: Arc<Core>, path: &str) -> Router {
    Router::new().route(
        path,
        axum::routing::get(move || {
            let core = core.clone();
            async move {
                core.metrics.queue_depth.set(core.backlog.depth() as i64);
                let mut text = String::new();
                match prometheus_client::encoding::text::encode(&mut text, &core.registry) {
                    Ok(()) => (
                        [(
                            header::CONTENT_TYPE,
                            "application/openmetrics-text; version=1.0.0; charset=utf-8",
                        )],
                        text,
                    )
                        .into_response(),
                    Err(e) => (axum::http::StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
                        .into_response(),
                }
            }
        }),
    )
}
