//! NATS ingest: the Singularity's `transport.name: nats`. A subscription to `nats.subject` on
//! `nats.server` (in queue group [`QUEUE_GROUP`], so replicas share the subject's messages)
//! reads CloudEvents as the NATS protocol binding carries them: binary mode (attributes in
//! `ce-` headers, `content-type` for the data) or structured mode (the JSON event format as the
//! payload; the batch format with `content-type: application/cloudevents-batch+json`).
//!
//! Events are accepted exactly as over HTTP (same validators, same backlog, same counters). NATS
//! itself acknowledges nothing; a publisher that wants to know uses request-reply: the reply is
//! the HTTP status and its text (`202 Accepted`, `400 invalid CloudEvent: ...`,
//! `503 backlog full ...`), so "acknowledged" means the same on both transports.

use crate::engine::Core;
use crate::ingest::{Refusal, admit, parse};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use futures::StreamExt;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// The queue group every eventhorizon subscribes in.
pub const QUEUE_GROUP: &str = "eventhorizon";
/// How long connecting to the server may take before the Singularity reports it.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Where NATS ingest reads from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NatsSettings {
    /// The server URL (`nats://host:4222`; several separated by commas).
    pub server: String,
    /// The subject.
    pub subject: String,
}

/// A running subscription.
pub struct Subscription {
    /// What it reads.
    pub settings: NatsSettings,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl std::fmt::Debug for Subscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscription")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl Subscription {
    /// Connects to the server and subscribes; events go into `core`'s backlog until
    /// [`stop`](Self::stop).
    pub async fn start(core: Arc<Core>, settings: NatsSettings) -> Result<Subscription, String> {
        let failed = |e: &dyn std::fmt::Display| {
            format!("connecting to NATS server {}: {e}", settings.server)
        };
        let client = async_nats::ConnectOptions::new()
            .name("eventhorizon")
            .connection_timeout(CONNECT_TIMEOUT)
            .connect(settings.server.as_str())
            .await
            .map_err(|e| failed(&e))?;
        let subscriber = client
            .queue_subscribe(settings.subject.clone(), QUEUE_GROUP.to_string())
            .await
            .map_err(|e| format!("subscribing to {:?}: {e}", settings.subject))?;
        // The server handles one connection's commands in order: once a message published after
        // the subscription comes back, the server has the subscription, and a publisher told
        // "in place" finds a responder.
        let probe = client.new_inbox();
        let mut echo = client
            .subscribe(probe.clone())
            .await
            .map_err(|e| failed(&e))?;
        client
            .publish(probe, bytes::Bytes::new())
            .await
            .map_err(|e| failed(&e))?;
        match tokio::time::timeout(CONNECT_TIMEOUT, echo.next()).await {
            Ok(Some(_)) => {}
            _ => return Err(failed(&"the server did not confirm the subscription")),
        }
        drop(echo);
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(receive(core, client, subscriber, stopped));
        tracing::info!(server = %settings.server, subject = %settings.subject, "NATS ingest subscribed");
        Ok(Subscription {
            settings,
            stop,
            task,
        })
    }

    /// Unsubscribes; messages the server already delivered are still taken in.
    pub async fn stop(self) {
        self.stop.send_replace(true);
        let _ = self.task.await;
    }
}

async fn receive(
    core: Arc<Core>,
    client: async_nats::Client,
    mut subscriber: async_nats::Subscriber,
    mut stopped: watch::Receiver<bool>,
) {
    loop {
        let message = tokio::select! {
            message = subscriber.next() => message,
            _ = stopped.changed() => {
                // Stop new deliveries, then take in what the server sent before it knew.
                let _ = subscriber.unsubscribe().await;
                while let Some(message) = subscriber.next().await {
                    take(&core, &client, message).await;
                }
                break;
            }
        };
        let Some(message) = message else {
            tracing::warn!("NATS subscription ended");
            break;
        };
        take(&core, &client, message).await;
    }
    let _ = client.flush().await;
}

/// Accepts one message and answers its reply subject, if it has one.
async fn take(core: &Core, client: &async_nats::Client, message: async_nats::Message) {
    let answer = match events_of(core, &message) {
        Ok(events) => admit(core, events).map(|()| {
            if core.use_status_code_ok() {
                StatusCode::OK
            } else {
                StatusCode::ACCEPTED
            }
        }),
        Err(refusal) => Err(refusal),
    };
    let Some(reply) = message.reply else { return };
    let text = match answer {
        Ok(status) => format!(
            "{} {}",
            status.as_u16(),
            status.canonical_reason().unwrap_or_default()
        ),
        Err(Refusal { status, message }) => format!("{} {message}", status.as_u16()),
    };
    if let Err(e) = client.publish(reply, text.into()).await {
        tracing::debug!(error = %e, "answering a NATS request failed");
    }
}

/// The events of `message`, read with the HTTP binding's rules (the NATS binding uses the same
/// `ce-` attribute headers and content types).
fn events_of(
    core: &Core,
    message: &async_nats::Message,
) -> Result<Vec<cloudevents::Event>, Refusal> {
    let limit = core.options.max_body_bytes;
    let refuse = |status: StatusCode, reason: &str, text: String| {
        core.metrics.refused(reason, 1);
        Refusal {
            status,
            message: text,
        }
    };
    if message.payload.len() > limit {
        return Err(refuse(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            format!("message payload over {limit} bytes"),
        ));
    }
    let mut headers = HeaderMap::new();
    for (name, values) in message.headers.iter().flat_map(|h| h.iter()) {
        let Ok(name) = HeaderName::from_bytes(AsRef::<str>::as_ref(name).as_bytes()) else {
            continue;
        };
        for value in values {
            if let Ok(value) = HeaderValue::from_str(value.as_str()) {
                headers.append(name.clone(), value);
            }
        }
    }
    let binary = headers.contains_key("ce-specversion");
    if !binary && !headers.contains_key(header::CONTENT_TYPE) {
        // Structured mode needs no header on NATS: the payload is the event format.
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/cloudevents+json"),
        );
    }
    parse(&headers, message.payload.to_vec()).map_err(|e| {
        refuse(
            StatusCode::BAD_REQUEST,
            "invalid",
            format!("invalid CloudEvent: {e}"),
        )
    })
}
