//! Leader election among API servers sharing one storage: only the holder of a
//! coordination.k8s.io Lease runs the in-server controllers (as kube-controller-manager's
//! replicas do with their Lease in kube-system), and another server takes over when the holder
//! stops renewing it.
//!
//! The Lease is `kube-system/kubeforge-controllers`. The holder renews it every
//! [`RETRY_PERIOD`]; a server that finds it unrenewed for `leaseDurationSeconds` takes it over
//! (an update conditional on the resourceVersion it read, so two candidates cannot both win).
//! A holder that cannot renew for [`RENEW_DEADLINE`] stops its controllers before the lease
//! expires, so two servers never run them at once for longer than a clock's skew.

use crate::rest::{Rest, WriteOptions};
use serde_json::{Value, json};
use std::time::Duration;
use tokio::task::JoinHandle;

/// The Lease's namespace and name.
pub const LEASE: (&str, &str) = ("kube-system", "kubeforge-controllers");
/// How long a lease holds without renewal (`leaseDurationSeconds`).
pub const LEASE_DURATION: Duration = Duration::from_secs(15);
/// How long the holder keeps leading while renewals fail.
pub const RENEW_DEADLINE: Duration = Duration::from_secs(10);
/// How often the holder renews and the others check.
pub const RETRY_PERIOD: Duration = Duration::from_secs(2);

/// A MicroTime (`2006-01-02T15:04:05.000000Z`) for `t`.
fn micro_time(t: jiff::Timestamp) -> String {
    format!(
        "{}.{:06}Z",
        t.strftime("%Y-%m-%dT%H:%M:%S"),
        t.subsec_microsecond()
    )
}

/// What one attempt found.
#[derive(Debug, PartialEq, Eq)]
enum Attempt {
    /// This server holds the lease (acquired or renewed).
    Leading,
    /// Another server holds a live lease.
    Following,
    /// The lease could not be read or written (storage unavailable, a lost race).
    Unknown,
}

async fn attempt(rest: &Rest, identity: &str) -> Attempt {
    let Some(rt) = rest
        .catalog
        .snapshot()
        .find("coordination.k8s.io", "v1", "leases")
    else {
        return Attempt::Unknown;
    };
    let (ns, name) = LEASE;
    let opts = WriteOptions {
        field_manager: "kubeforge-leader-election".into(),
        ..WriteOptions::default()
    };
    let now = jiff::Timestamp::now();
    let seconds = LEASE_DURATION.as_secs();
    if rest.consistent().await.is_err() {
        return Attempt::Unknown;
    }
    let current = match rest.get_value(&rt, Some(ns), name) {
        Ok(v) => v,
        Err(e) if e.code == 404 => {
            let body = json!({
                "apiVersion": "coordination.k8s.io/v1",
                "kind": "Lease",
                "metadata": {"name": name, "namespace": ns},
                "spec": {
                    "holderIdentity": identity,
                    "leaseDurationSeconds": seconds,
                    "acquireTime": micro_time(now),
                    "renewTime": micro_time(now),
                    "leaseTransitions": 0,
                },
            });
            return match rest.create(&rt, Some(ns), body, &opts).await {
                Ok(_) => Attempt::Leading,
                Err(_) => Attempt::Unknown,
            };
        }
        Err(_) => return Attempt::Unknown,
    };
    let spec = current.get("spec").cloned().unwrap_or(Value::Null);
    let holder = spec["holderIdentity"].as_str().unwrap_or("");
    let mut next = current.clone();
    if holder == identity {
        next["spec"]["renewTime"] = json!(micro_time(now));
    } else {
        let duration = spec["leaseDurationSeconds"]
            .as_i64()
            .unwrap_or(seconds as i64);
        let renewed = spec["renewTime"]
            .as_str()
            .and_then(|t| t.parse::<jiff::Timestamp>().ok());
        let expired = holder.is_empty()
            || renewed.is_none_or(|r| r.as_second().saturating_add(duration) < now.as_second());
        if !expired {
            return Attempt::Following;
        }
        let transitions = spec["leaseTransitions"].as_i64().unwrap_or(0) + 1;
        next["spec"] = json!({
            "holderIdentity": identity,
            "leaseDurationSeconds": seconds,
            "acquireTime": micro_time(now),
            "renewTime": micro_time(now),
            "leaseTransitions": transitions,
        });
    }
    // The update carries the resourceVersion read: a concurrent candidate's write makes it 409.
    match rest.update(&rt, Some(ns), name, next, &opts, None).await {
        Ok(_) => Attempt::Leading,
        Err(e) if e.code == 409 => Attempt::Following,
        Err(_) => Attempt::Unknown,
    }
}

/// Runs `start`'s controllers while this server (`identity`) holds the lease; stops them when it
/// loses it, and starts them again when it wins it back. Runs until aborted.
pub async fn run<F>(rest: Rest, identity: String, start: F)
where
    F: Fn() -> Vec<JoinHandle<()>> + Send + 'static,
{
    // Dropped (the controllers end) when this task is aborted, as on shutdown.
    let mut running: Option<Controllers> = None;
    let mut renewed = tokio::time::Instant::now();
    loop {
        let leading = match attempt(&rest, &identity).await {
            Attempt::Leading => {
                renewed = tokio::time::Instant::now();
                true
            }
            Attempt::Following => false,
            // Keep the current role until the renew deadline passes.
            Attempt::Unknown => running.is_some() && renewed.elapsed() < RENEW_DEADLINE,
        };
        match (leading, running.is_some()) {
            (true, false) => {
                tracing::info!(%identity, "acquired the controllers' lease; starting controllers");
                running = Some(Controllers(start()));
            }
            (false, true) => {
                tracing::warn!(%identity, "lost the controllers' lease; stopping controllers");
                running = None;
            }
            _ => {}
        }
        tokio::time::sleep(RETRY_PERIOD).await;
    }
}

/// Running controllers; aborted when dropped.
struct Controllers(Vec<JoinHandle<()>>);

impl Drop for Controllers {
    fn drop(&mut self) {
        for task in &self.0 {
            task.abort();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn micro_time_has_six_digits() {
        let t: jiff::Timestamp = "2024-01-02T03:04:05.5Z".parse().unwrap_or_default();
        assert_eq!(micro_time(t), "2024-01-02T03:04:05.500000Z");
    }
}
