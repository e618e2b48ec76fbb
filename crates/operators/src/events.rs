//! Events about the objects an operator reconciles (what `kubectl describe` shows), through
//! kubeforge-runtime's aggregating [`Recorder`].
//!
//! Publishing an event never fails a reconcile: a rejected event is logged and dropped, as
//! client-go's recorder does.

use kube::Resource;
use kubeforge_runtime::events::{EventType, Recorder};

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
    /// Events published through `recorder` (from [`Manager::recorder`], which flushes it on
    /// shutdown).
    ///
    /// [`Manager::recorder`]: kubeforge_runtime::manager::Manager::recorder
    pub fn new(recorder: Recorder) -> Self {
        Events { recorder }
    }

    /// A `Normal` event about `object`.
    pub async fn normal<K>(&self, object: &K, reason: &str, message: &str)
    where
        K: Resource<DynamicType = ()>,
    {
        self.publish(object, EventType::Normal, reason, message)
            .await
    }

    /// A `Warning` event about `object`.
    pub async fn warning<K>(&self, object: &K, reason: &str, message: &str)
    where
        K: Resource<DynamicType = ()>,
    {
        self.publish(object, EventType::Warning, reason, message)
            .await
    }

    async fn publish<K>(&self, object: &K, type_: EventType, reason: &str, message: &str)
    where
        K: Resource<DynamicType = ()>,
    {
        let regarding = object.object_ref(&());
        if let Err(error) = self
            .recorder
            .publish(&regarding, type_, reason, message)
            .await
        {
            tracing::warn!(%error, reason, "event not recorded");
        }
    }
}
