//! The manager's HTTP endpoints: `/metrics` (Prometheus / OpenMetrics text of the manager's
//! registry), `/healthz` (the process serves) and `/readyz` (every informer the controllers
//! use has synced; 503 before).
//!
//! Metrics and probes may listen on different addresses (controller-runtime's
//! `--metrics-bind-address` and `--health-probe-bind-address`) or share one.

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use prometheus_client::encoding::text::encode;
use tokio::sync::watch;

/// What the endpoints read.
#[derive(Clone)]
pub(crate) struct Probes {
    pub(crate) metrics: super::ManagerMetrics,
    pub(crate) ready: watch::Receiver<bool>,
}

async fn metrics(State(probes): State<Probes>) -> impl IntoResponse {
    let mut body = String::new();
    let encoded = encode(&mut body, &probes.metrics.registry());
    match encoded {
        Ok(()) => (
            StatusCode::OK,
            [(
                header::CONTENT_TYPE,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            )],
            body,
        )
            .into_response(),
        Err(_) => (StatusCode::INTERNAL_SERVER_ERROR, "metrics encoding failed").into_response(),
    }
}

async fn healthz() -> &'static str {
    "ok"
}

async fn readyz(State(probes): State<Probes>) -> impl IntoResponse {
    if *probes.ready.borrow() {
        (StatusCode::OK, "ok")
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "informer caches not synced",
        )
    }
}

/// The `/metrics` route.
pub(crate) fn metrics_routes() -> Router<Probes> {
    Router::new().route("/metrics", get(metrics))
}

/// The `/healthz` and `/readyz` routes.
pub(crate) fn health_routes() -> Router<Probes> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
}
