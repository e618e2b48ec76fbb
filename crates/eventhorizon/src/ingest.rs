//! HTTP ingest: the CloudEvents HTTP binding (the SDK's `binding::http::to_event`, which reads
//! binary and structured mode, spec 1.0 and 0.3), batched mode, and the answers: 202 (200 with
//! `useStatusCodeOK`), 400 naming what is wrong, 413 over the size limit, 503 when the backlog is
//! full. Nothing here waits for delivery.

use crate::backlog::{Queued, Refused};
use crate::engine::Core;
use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use cloudevents::{AttributesReader, Event};
use http_body_util::{BodyExt, Limited};
use std::sync::Arc;
use tokio::time::Instant;

/// The batched content type.
pub const BATCH_CONTENT_TYPE: &str = "application/cloudevents-batch+json";

/// The ingest routes: `POST /` (when `accept` — the HTTP transport), `GET /healthz`,
/// `GET /readyz`.
pub fn router(core: Arc<Core>, accept: bool) -> Router {
    let router = if accept {
        Router::new().route("/", post(ingest))
    } else {
        Router::new()
    };
    router
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(ready))
        .with_state(core)
}

async fn ready(State(core): State<Arc<Core>>) -> Response {
    if core.accepting() {
        "ok".into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "shutting down").into_response()
    }
}

/// Attributes the binding accepts but the spec forbids empty.
fn check(event: &Event) -> Result<(), String> {
    for (name, value) in [("id", event.id()), ("type", event.ty())] {
        if value.is_empty() {
            return Err(format!("attribute {name} must not be empty"));
        }
    }
    if event.source().is_empty() {
        return Err("attribute source must not be empty".into());
    }
    Ok(())
}

/// The events of a message in the HTTP binding's terms (headers and body): batched, binary or
/// structured mode.
pub fn parse(headers: &HeaderMap, body: Vec<u8>) -> Result<Vec<Event>, String> {
    let batched = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.trim_start().starts_with(BATCH_CONTENT_TYPE));
    let events = if batched {
        let items: Vec<serde_json::Value> =
            serde_json::from_slice(&body).map_err(|e| format!("batch is not a JSON array: {e}"))?;
        items
            .into_iter()
            .enumerate()
            .map(|(i, item)| {
                let event: Event =
                    serde_json::from_value(item).map_err(|e| format!("event {i}: {e}"))?;
                check(&event).map_err(|e| format!("event {i}: {e}"))?;
                Ok(event)
            })
            .collect::<Result<Vec<_>, String>>()?
    } else {
        let event =
            cloudevents::binding::http::to_event(headers, body).map_err(|e| e.to_string())?;
        check(&event)?;
        vec![event]
    };
    Ok(events)
}

async fn ingest(State(core): State<Arc<Core>>, headers: HeaderMap, body: Body) -> Response {
    let limit = core.options.max_body_bytes;
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return refuse(
            &core,
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            1,
            format!("request body over {limit} bytes"),
        )
        .respond();
    }
    let body = match Limited::new(body, limit).collect().await {
        Ok(collected) => collected.to_bytes().to_vec(),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => {
            return refuse(
                &core,
                StatusCode::PAYLOAD_TOO_LARGE,
                "too_large",
                1,
                format!("request body over {limit} bytes"),
            )
            .respond();
        }
        Err(e) => {
            return refuse(
                &core,
                StatusCode::BAD_REQUEST,
                "unreadable",
                1,
                format!("reading the body: {e}"),
            )
            .respond();
        }
    };
    let events = match parse(&headers, body) {
        Ok(events) => events,
        Err(message) => {
            return refuse(
                &core,
                StatusCode::BAD_REQUEST,
                "invalid",
                1,
                format!("invalid CloudEvent: {message}"),
            )
            .respond();
        }
    };
    match admit(&core, events) {
        Ok(()) if core.use_status_code_ok() => StatusCode::OK.into_response(),
        Ok(()) => StatusCode::ACCEPTED.into_response(),
        Err(refusal) => refusal.respond(),
    }
}

/// Why events were not accepted: the HTTP status that says so, and the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The status (400, 413 or 503).
    pub status: StatusCode,
    /// The message for the sender.
    pub message: String,
}

impl Refusal {
    fn respond(self) -> Response {
        let mut response = (self.status, self.message + "\n").into_response();
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        response
    }
}

fn refuse(core: &Core, status: StatusCode, reason: &str, n: u64, message: String) -> Refusal {
    core.metrics.refused(reason, n);
    Refusal { status, message }
}

/// Checks `events` against the validators (when the Singularity asks for validation) and queues
/// them all or none; the refusal is counted. Every transport accepts events through here.
pub fn admit(core: &Core, events: Vec<Event>) -> Result<(), Refusal> {
    let n = events.len() as u64;
    if core.validation() {
        let routes = core.routes();
        for (i, event) in events.iter().enumerate() {
            if let Err(denied) = routes.validate(event) {
                let at = if n > 1 {
                    format!("event {i}: ")
                } else {
                    String::new()
                };
                return Err(refuse(
                    core,
                    StatusCode::BAD_REQUEST,
                    "denied",
                    n,
                    format!("{at}{denied}"),
                ));
            }
        }
    }
    let accepted = Instant::now();
    let types: Vec<String> = events.iter().map(|e| e.ty().to_string()).collect();
    let queued = events
        .into_iter()
        .map(|event| Queued { event, accepted })
        .collect();
    match core.backlog.push_all(queued) {
        Ok(()) => {
            for ty in &types {
                core.metrics.accepted(ty);
            }
            core.metrics.queue_depth.set(core.backlog.depth() as i64);
            Ok(())
        }
        Err(refused @ Refused::Full { .. }) => Err(refuse(
            core,
            StatusCode::SERVICE_UNAVAILABLE,
            "backlog_full",
            n,
            refused.to_string(),
        )),
        Err(Refused::Closed) => Err(refuse(
            core,
            StatusCode::SERVICE_UNAVAILABLE,
            "shutting_down",
            n,
            "shutting down".into(),
        )),
    }
}
