//! Events the in-server controllers record, as kube-controller-manager's controllers do
//! (client-go's event recorder): core/v1 Events about the object acted on, named
//! `<object>.<unique suffix>`, with the controller as source, so `kubectl describe` and
//! `kubectl get events` show what the simulated controllers did.
//!
//! Like client-go's recorder, recording is asynchronous and best effort (the write runs in its
//! own task, a reconcile never waits for it, a failed write is only logged) and spam-filtered per
//! object: a burst of 25 events, then one more per 5 minutes (client-go's
//! `EventSourceObjectSpamFilter` defaults). A ReplicaSet creating 1,000 Pods therefore records 25
//! `SuccessfulCreate` events, not 1,000. (client-go also folds similar events into one
//! "combined from similar events" event; that is not done here.)

use crate::rest::{Rest, WriteOptions, now};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Events an object may get at once.
const BURST: f64 = 25.0;
/// How often an object earns one more event.
const REFILL: Duration = Duration::from_secs(300);

/// One controller's event recorder.
pub(crate) struct EventRecorder {
    /// The source component, e.g. `deployment-controller`.
    component: &'static str,
    /// Per object uid: tokens left and when they were counted.
    budget: Mutex<HashMap<String, (f64, Instant)>>,
    /// Makes event names unique within this recorder even when the clock repeats.
    sequence: AtomicU64,
}

impl EventRecorder {
    /// A recorder for `component`.
    pub(crate) fn new(component: &'static str) -> Self {
        EventRecorder {
            component,
            budget: Mutex::new(HashMap::new()),
            sequence: AtomicU64::new(0),
        }
    }

    /// Whether the object with `uid` may get another event now (takes a token).
    fn allow(&self, uid: &str) -> bool {
        let mut budget = self.budget.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        let (tokens, at) = budget.entry(uid.to_string()).or_insert((BURST, now));
        let earned = now.duration_since(*at).as_secs_f64() / REFILL.as_secs_f64();
        *tokens = (*tokens + earned).min(BURST);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// Records a `Normal` event `reason`/`message` about `object` (a stored object of
    /// `api_version`/`kind`), in the background, unless the object's budget is spent.
    pub(crate) fn normal(
        &self,
        rest: &Rest,
        object: &Value,
        kind: (&str, &str),
        reason: &str,
        message: String,
    ) {
        self.record(rest, object, kind, "Normal", reason, message);
    }

    /// Records a `Warning` event, as [`EventRecorder::normal`] records a `Normal` one.
    pub(crate) fn warning(
        &self,
        rest: &Rest,
        object: &Value,
        kind: (&str, &str),
        reason: &str,
        message: String,
    ) {
        self.record(rest, object, kind, "Warning", reason, message);
    }

    fn record(
        &self,
        rest: &Rest,
        object: &Value,
        (api_version, kind): (&str, &str),
        type_: &str,
        reason: &str,
        message: String,
    ) {
        let Some(events) = rest.catalog.snapshot().find("", "v1", "events") else {
            return;
        };
        let meta = |field: &str| {
            object
                .pointer(&format!("/metadata/{field}"))
                .and_then(Value::as_str)
                .unwrap_or("")
        };
        if !self.allow(meta("uid")) {
            return;
        }
        let (name, namespace) = (meta("name"), meta("namespace"));
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        let unique = nanos.wrapping_add(self.sequence.fetch_add(1, Ordering::Relaxed));
        let time = now();
        let event = json!({
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": format!("{name}.{unique:x}"), "namespace": namespace},
            "involvedObject": {
                "apiVersion": api_version, "kind": kind, "name": name, "namespace": namespace,
                "uid": meta("uid"), "resourceVersion": meta("resourceVersion"),
            },
            "reason": reason,
            "message": message,
            "type": type_,
            "source": {"component": self.component},
            "reportingComponent": self.component,
            "reportingInstance": "kubeforge",
            "firstTimestamp": time,
            "lastTimestamp": time,
            "count": 1,
        });
        let opts = WriteOptions {
            field_manager: self.component.to_string(),
            ..WriteOptions::default()
        };
        let (rest, namespace, reason) = (rest.clone(), namespace.to_string(), reason.to_string());
        tokio::spawn(async move {
            if let Err(e) = rest.create(&events, Some(&namespace), event, &opts).await {
                tracing::debug!(namespace, reason, error = %e, "recording an event");
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_object_gets_a_burst_then_waits() {
        let r = EventRecorder::new("test");
        assert_eq!((0..40).filter(|_| r.allow("a")).count(), 25);
        assert!(r.allow("b"), "budgets are per object");
    }
}
