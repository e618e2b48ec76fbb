//! Admission and conversion webhooks served by an operator, as controller-runtime's `webhook`
//! package: a [`WebhookServer`] (axum over rustls) hosting typed [`Defaulter`]s and
//! [`Validator`]s and raw [`Handler`]s by path, CRD conversion ([`conversion`]: a [`Converter`],
//! e.g. a [`HubConverter`] over hub and spoke versions) by path, with `/healthz`, Prometheus metrics in controller-runtime's names
//! (`controller_runtime_webhook_requests_total{webhook,code}`,
//! `controller_runtime_webhook_latency_seconds{webhook}`,
//! `controller_runtime_webhook_requests_in_flight{webhook}`), and [`certificates`]: generated for
//! local development (the CA injected into the configurations' `caBundle` by
//! [`inject_ca_bundle`]) or read from a mounted secret and reloaded when it rotates.
//!
//! ```no_run
//! # async fn run(client: kube::Client) -> anyhow::Result<()> {
//! use kubeforge_runtime::webhook::{Certificates, LocalCertificates, WebhookServer, inject_ca_bundle};
//! let local = LocalCertificates::generate(&["127.0.0.1"])?;
//! let server = WebhookServer::new(Certificates::from_pem(&local.cert_pem, &local.key_pem)?);
//! // .defaulter::<Foo, _>("/mutate-foo", FooDefaulter) ...
//! inject_ca_bundle(&client, "my-operator", &local.ca_pem).await?;
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:9443").await?;
//! server.serve(listener, std::future::pending()).await;
//! # Ok(()) }
//! ```

pub mod admission;
pub mod certificates;
pub mod conversion;

pub use admission::{Defaulter, Defaulting, Denied, Handler, Validating, Validator, Warnings};
pub use certificates::{CertificateError, Certificates, LocalCertificates};
pub use conversion::{Converter, Convertible, HubConverter};
/// The future [`Defaulter`]s and [`Validator`]s return (re-exported: implementing them needs no
/// direct dependency on `futures`).
pub use futures::future::BoxFuture;

use axum::body::Bytes;
use axum::extract::DefaultBodyLimit;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use kube::core::DynamicObject;
use kube::core::admission::{AdmissionRequest, AdmissionResponse, AdmissionReview};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;

#[derive(Clone, Debug, PartialEq, Eq, Hash, EncodeLabelSet)]
struct WebhookLabel {
    webhook: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, EncodeLabelSet)]
struct CodeLabels {
    webhook: String,
    code: String,
}

/// The largest AdmissionReview accepted: an object and its old version of up to the API
/// server's 3 MiB each, with room for the review around them (controller-runtime's 7 MiB).
const MAX_REVIEW_BYTES: usize = 7 * 1024 * 1024;

/// The largest ConversionReview accepted: the API server converts a whole LIST in one review,
/// so it is bounded by what a list holds rather than by one object (10,000 ConfigMap-sized
/// custom objects are about 5 MB).
const MAX_CONVERSION_BYTES: usize = 256 * 1024 * 1024;

/// The webhook server's metrics, as controller-runtime's `webhook/internal/metrics`.
#[derive(Clone)]
pub struct WebhookMetrics {
    requests: Family<CodeLabels, Counter>,
    latency: Family<WebhookLabel, Histogram>,
    in_flight: Family<WebhookLabel, Gauge>,
}

impl Default for WebhookMetrics {
    fn default() -> Self {
        WebhookMetrics {
            requests: Family::default(),
            latency: Family::new_with_constructor(|| {
                Histogram::new(exponential_buckets(0.000_5, 2.0, 16))
            }),
            in_flight: Family::default(),
        }
    }
}

impl std::fmt::Debug for WebhookMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookMetrics").finish_non_exhaustive()
    }
}

impl WebhookMetrics {
    /// Registers the three families in `registry` (the manager's, for its `/metrics`).
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "controller_runtime_webhook_requests",
            "Total number of admission requests by HTTP status code.",
            self.requests.clone(),
        );
        registry.register(
            "controller_runtime_webhook_latency_seconds",
            "Histogram of the latency of processing admission requests",
            self.latency.clone(),
        );
        registry.register(
            "controller_runtime_webhook_requests_in_flight",
            "Current number of admission requests being served.",
            self.in_flight.clone(),
        );
    }
}

/// An HTTPS server for admission webhooks.
#[derive(Clone)]
pub struct WebhookServer {
    handlers: BTreeMap<String, Arc<dyn Handler>>,
    converters: BTreeMap<String, Arc<dyn Converter>>,
    certificates: Arc<Certificates>,
    metrics: WebhookMetrics,
    http2: bool,
}

impl std::fmt::Debug for WebhookServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookServer")
            .field("paths", &self.handlers.keys().collect::<Vec<_>>())
            .field("conversions", &self.converters.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl WebhookServer {
    /// A server presenting `certificates`, with no webhooks yet.
    pub fn new(certificates: Arc<Certificates>) -> Self {
        WebhookServer {
            handlers: BTreeMap::new(),
            converters: BTreeMap::new(),
            certificates,
            metrics: WebhookMetrics::default(),
            http2: true,
        }
    }

    /// Whether HTTP/2 is offered (ALPN `h2`, the default; kube-apiserver's webhook client
    /// takes it). `false` serves HTTP/1.1 only, as kubebuilder's scaffold configures
    /// controller-runtime's server unless `--enable-http2` is given.
    pub fn http2(mut self, enabled: bool) -> Self {
        self.http2 = enabled;
        self
    }

    /// Serves `defaulter` for kind `K` at `path` (a mutating webhook).
    pub fn defaulter<K, D>(self, path: &str, defaulter: D) -> Self
    where
        K: DeserializeOwned + Serialize + Send + Sync + 'static,
        D: Defaulter<K>,
    {
        self.handler(path, Defaulting::<K, D>::new(defaulter))
    }

    /// Serves `validator` for kind `K` at `path` (a validating webhook).
    pub fn validator<K, V>(self, path: &str, validator: V) -> Self
    where
        K: DeserializeOwned + Send + Sync + 'static,
        V: Validator<K>,
    {
        self.handler(path, Validating::<K, V>::new(validator))
    }

    /// Serves a raw handler at `path`.
    pub fn handler(mut self, path: &str, handler: impl Handler) -> Self {
        self.handlers.insert(path.to_string(), Arc::new(handler));
        self
    }

    /// Serves CRD conversion by `converter` at `path` (the CRD's
    /// `spec.conversion.webhook.clientConfig`, conventionally `/convert`).
    pub fn converter(mut self, path: &str, converter: impl Converter) -> Self {
        self.converters
            .insert(path.to_string(), Arc::new(converter));
        self
    }

    /// The server's metrics (register them with [`WebhookMetrics::register`]).
    pub fn metrics(&self) -> &WebhookMetrics {
        &self.metrics
    }

    /// The routes: each webhook and conversion path (POST) and `/healthz`.
    pub fn router(&self) -> axum::Router {
        let mut router =
            axum::Router::new().route("/healthz", axum::routing::get(|| async { "ok" }));
        for (path, handler) in &self.handlers {
            let state = (path.clone(), handler.clone(), self.metrics.clone());
            let post = axum::routing::post(review)
                .with_state(state)
                .layer(DefaultBodyLimit::max(MAX_REVIEW_BYTES));
            router = router.route(path, post);
        }
        for (path, converter) in &self.converters {
            let state = (path.clone(), converter.clone(), self.metrics.clone());
            let post = axum::routing::post(convert)
                .with_state(state)
                .layer(DefaultBodyLimit::max(MAX_CONVERSION_BYTES));
            router = router.route(path, post);
        }
        router
    }

    /// Serves HTTPS on `listener` until `shutdown` completes.
    pub async fn serve(
        self,
        listener: tokio::net::TcpListener,
        shutdown: impl Future<Output = ()>,
    ) {
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("ring supports the default protocol versions")
        .with_no_client_auth()
        .with_cert_resolver(self.certificates.clone());
        // HTTP/2 when offered and the client asks for it (kube-apiserver's webhook client
        // does), else HTTP/1.1, as Go's server negotiates.
        let mut config = config;
        config.alpn_protocols = if self.http2 {
            vec![b"h2".to_vec(), b"http/1.1".to_vec()]
        } else {
            vec![b"http/1.1".to_vec()]
        };
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let app = self.router();
        let accept = async {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    continue;
                };
                // Answers go out as several TLS records: without this, Nagle's algorithm holds
                // the last one until the client's delayed ACK (40 ms on Linux) on every call.
                let _ = tcp.set_nodelay(true);
                let acceptor = acceptor.clone();
                let app = app.clone();
                tokio::spawn(async move {
                    let Ok(tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let h2 = tls.get_ref().1.alpn_protocol() == Some(b"h2");
                    let io = hyper_util::rt::TokioIo::new(tls);
                    let service = hyper_util::service::TowerToHyperService::new(app);
                    if h2 {
                        let _ = hyper::server::conn::http2::Builder::new(
                            hyper_util::rt::TokioExecutor::new(),
                        )
                        .serve_connection(io, service)
                        .await;
                    } else {
                        let _ = hyper::server::conn::http1::Builder::new()
                            .serve_connection(io, service)
                            .await;
                    }
                });
            }
        };
        tokio::select! {
            () = accept => {}
            () = shutdown => {}
        }
    }
}

type RouteState = (String, Arc<dyn Handler>, WebhookMetrics);

async fn review(State((path, handler, metrics)): State<RouteState>, body: Bytes) -> Response {
    let label = WebhookLabel {
        webhook: path.clone(),
    };
    let gauge = metrics.in_flight.get_or_create(&label).clone();
    gauge.inc();
    let started = std::time::Instant::now();
    let (code, answer) = match serde_json::from_slice::<AdmissionReview<DynamicObject>>(&body)
        .map_err(|e| e.to_string())
        .and_then(|r| {
            let request: Result<AdmissionRequest<DynamicObject>, _> = r.try_into();
            request.map_err(|e| e.to_string())
        }) {
        Ok(request) => (StatusCode::OK, handler.handle(request).await),
        Err(e) => (StatusCode::BAD_REQUEST, AdmissionResponse::invalid(e)),
    };
    let body = serde_json::to_vec(&answer.into_review()).unwrap_or_default();
    metrics
        .latency
        .get_or_create(&label)
        .observe(started.elapsed().as_secs_f64());
    metrics
        .requests
        .get_or_create(&CodeLabels {
            webhook: path,
            code: code.as_u16().to_string(),
        })
        .inc();
    gauge.dec();
    (
        code,
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response()
}

type ConversionState = (String, Arc<dyn Converter>, WebhookMetrics);

async fn convert(
    State((path, converter, metrics)): State<ConversionState>,
    body: Bytes,
) -> Response {
    let label = WebhookLabel {
        webhook: path.clone(),
    };
    let gauge = metrics.in_flight.get_or_create(&label).clone();
    gauge.inc();
    let started = std::time::Instant::now();
    let (code, review) = conversion::answer(converter.as_ref(), &body);
    metrics
        .latency
        .get_or_create(&label)
        .observe(started.elapsed().as_secs_f64());
    metrics
        .requests
        .get_or_create(&CodeLabels {
            webhook: path,
            code: code.to_string(),
        })
        .inc();
    gauge.dec();
    let code = StatusCode::from_u16(code).unwrap_or(StatusCode::OK);
    match review {
        Some(review) => (
            code,
            [(axum::http::header::CONTENT_TYPE, "application/json")],
            serde_json::to_vec(&review).unwrap_or_default(),
        )
            .into_response(),
        None => code.into_response(),
    }
}

/// Sets `caBundle` to `ca_pem` in every webhook of the MutatingWebhookConfiguration and the
/// ValidatingWebhookConfiguration named `name` (those that exist), as kubebuilder's local
/// setup and cert-manager's CA injector do.
pub async fn inject_ca_bundle(client: &kube::Client, name: &str, ca_pem: &str) -> kube::Result<()> {
    use k8s_openapi::ByteString;
    use k8s_openapi::api::admissionregistration::v1::{
        MutatingWebhookConfiguration, ValidatingWebhookConfiguration,
    };
    use kube::api::{Api, PostParams};
    let bundle = ByteString(ca_pem.as_bytes().to_vec());
    let mutating: Api<MutatingWebhookConfiguration> = Api::all(client.clone());
    if let Some(mut config) = mutating.get_opt(name).await? {
        for w in config.webhooks.iter_mut().flatten() {
            w.client_config.ca_bundle = Some(bundle.clone());
        }
        mutating
            .replace(name, &PostParams::default(), &config)
            .await?;
    }
    let validating: Api<ValidatingWebhookConfiguration> = Api::all(client.clone());
    if let Some(mut config) = validating.get_opt(name).await? {
        for w in config.webhooks.iter_mut().flatten() {
            w.client_config.ca_bundle = Some(bundle.clone());
        }
        validating
            .replace(name, &PostParams::default(), &config)
            .await?;
    }
    Ok(())
}
