//! kubeforge-deployments-api: the client-go meetup's Deployment REST service (levels 1 and 2 of
//! the talk), grown into what users of such a service expect.
//!
//! | route | what it does |
//! |---|---|
//! | `POST /deployment/create` | creates a Deployment from a [`request::DeploymentRequest`] (201) |
//! | `PUT /deployment/update` | changes image, replicas, labels, ports with optimistic concurrency (200) |
//! | `DELETE /deployment/delete` | deletes it, its ReplicaSets and Pods following (200) |
//! | `GET /deployments[?namespace=]` | lists Deployments with their status |
//! | `GET /deployments/{namespace}/{name}` | one Deployment with ready/available replicas |
//! | `GET /openapi.json` | the OpenAPI 3 description of these routes |
//! | `GET /healthz` | `ok` |
//!
//! The writes answer `Success!` (as the talk does) unless the client accepts JSON; errors are
//! always JSON ([`error::ApiError`]). The handlers take the cluster as a [`kube::Client`], so
//! the tests run them against the embedded API server in-process instead of a fake clientset.
//! The service acts with its own identity (its kubeconfig or in-cluster ServiceAccount), only in
//! the namespaces it is given ([`Settings::namespaces`]), optionally behind a bearer token.
//!
//! | module | mechanism |
//! |---|---|
//! | [`request`] | the JSON body, validated field by field |
//! | [`deployment`] | a request turned into a Deployment, and a Deployment into its summary |
//! | [`handlers`] | the routes, and the conflict retry of updates |
//! | [`access`] | the bearer token and the namespace restriction |
//! | [`error`] | errors as JSON responses, and the API server's errors mapped onto them |
//! | [`openapi`] | `/openapi.json` |
//! | [`manifests`] | what a cluster needs to run the service (`kubeforge manifests --operator deployments-api`) |

#![warn(missing_docs)]

pub mod access;
pub mod deployment;
pub mod error;
pub mod handlers;
pub mod manifests;
pub mod openapi;
pub mod request;

use axum::Router;
use axum::routing::{delete, get, post, put};
use std::collections::BTreeSet;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

/// The address the service listens on unless told otherwise (the talk's `:8000`, on loopback).
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8000";

/// How the service behaves.
#[derive(Clone)]
pub struct Settings {
    /// The namespaces requests may address (`None`: every namespace); others are answered 403.
    pub namespaces: Option<BTreeSet<String>>,
    /// The bearer token every request but `/healthz` and `/openapi.json` must carry (`None`: no check).
    pub token: Option<String>,
    /// How many times an update is retried after a 409 Conflict before the client gets the 409.
    pub conflict_retries: u32,
    /// The pause before the first retry; each further retry waits one more such step.
    pub retry_step: Duration,
}

impl std::fmt::Debug for Settings {
    /// The token is not shown.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("namespaces", &self.namespaces)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("conflict_retries", &self.conflict_retries)
            .field("retry_step", &self.retry_step)
            .finish()
    }
}

impl Default for Settings {
    /// Every namespace, no token, five retries 10 ms apart (client-go's `retry.DefaultRetry`).
    fn default() -> Self {
        Settings {
            namespaces: None,
            token: None,
            conflict_retries: 5,
            retry_step: Duration::from_millis(10),
        }
    }
}

/// What every handler shares: the cluster and the settings.
#[derive(Clone)]
pub struct AppState {
    /// The client the service acts through (its own identity).
    pub client: kube::Client,
    /// How it behaves.
    pub settings: Arc<Settings>,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

/// The service's routes over `client`.
pub fn router(client: kube::Client, settings: Settings) -> Router {
    let state = AppState {
        client,
        settings: Arc::new(settings),
    };
    Router::new()
        .route("/deployment/create", post(handlers::create))
        .route("/deployment/update", put(handlers::update))
        .route("/deployment/delete", delete(handlers::delete))
        .route("/deployments", get(handlers::list))
        .route("/deployments/{namespace}/{name}", get(handlers::get))
        .route("/openapi.json", get(openapi::serve))
        .route("/healthz", get(|| async { "ok\n" }))
        .fallback(handlers::not_found)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            access::require_token,
        ))
        .with_state(state)
}

/// Serves `router` on `listener` until `shutdown` resolves; requests in flight finish.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await
}

/// A comma-separated namespace list (`a,b`) as a set; `None` when it names none.
pub fn parse_namespaces(list: &str) -> Option<BTreeSet<String>> {
    let set: BTreeSet<String> = list
        .split(',')
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(str::to_string)
        .collect();
    (!set.is_empty()).then_some(set)
}
