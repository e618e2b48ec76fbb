//! Events about the objects an operator reconciles (what `kubectl describe` shows).
//!
//! Publishing an event never fails a reconcile: a rejected event is logged and dropped, as
//! client-go's recorder does.

use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::{Client, Resource};

/// Publishes events on behalf of one controller.
#[derive(Clone)]
pub struct Events {
    recorder: Recorder,
}

impl std::fmt::Debug for Events {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Events").finish_non_exhaustive()
    }
}

impl Events {
    /// Events reported by `controller` (the event's `reportingController`).
    pub fn new(client: Client, controller: &str) -> Self {
        let reporter = Reporter {
            controller: controller.to_string(),
            instance: std::env::var("POD_NAME").ok(),
        };
        Events {
            recorder: Recorder::new(client, reporter),
        }
    }

    /// A `Normal` event about `object`.
    pub async fn normal<K>(&self, object: &K, reason: &str, message: String)
    where
        K: Resource<DynamicType = ()>,
    {
        self.publish(object, EventType::Normal, reason, message)
            .await
    }

    /// A `Warning` event about `object`.
    pub async fn warning<K>(&self, object: &K, reason: &str, message: String)
    where
        K: Resource<DynamicType = ()>,
    {
        self.publish(object, EventType::Warning, reason, message)
            .await
    }

    async fn publish<K>(&self, object: &K, type_: EventType, reason: &str, message: String)
    where
        K: Resource<DynamicType = ()>,
    {
        let event = Event {
            type_,
            reason: reason.to_string(),
            note: Some(message),
            action: "Reconcile".to_string(),
            secondary: None,
        };
        if let Err(error) = self.recorder.publish(&event, &object.object_ref(&())).await {
            tracing::warn!(%error, reason, "event not recorded");
        }
    }
}
