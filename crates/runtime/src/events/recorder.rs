//! [`Recorder`]: publishes `events.k8s.io/v1` Events with client-go's series semantics.
//!
//! What this guarantees (client-go `tools/events` and `tools/record`):
//! - The first occurrence of an event (same regarding object, type, reason, action, note and
//!   reporting controller) creates an Event. The second turns it into a series
//!   (`series.count = 2`) with one patch. Later occurrences only count, in memory; the count
//!   is written at most once per [`RecorderConfig::series_update_interval`] (on the next
//!   occurrence after the interval, by a background flush, or by [`Recorder::flush`]). So a
//!   resync that re-publishes the same event every few seconds costs one write per interval,
//!   not one per occurrence. (client-go writes the count every 30 minutes; the default here
//!   is 30 seconds, so `kubectl describe` stays close to the truth.)
//! - A series whose last occurrence is older than [`RecorderConfig::series_ttl`] (6 minutes,
//!   client-go's) is finished: the next occurrence starts a new Event.
//! - Per regarding object, writes pass a token bucket (burst 25, one more per 5 minutes,
//!   client-go's spam filter); an event refused by it is dropped (logged at debug level).
//! - The cache holds at most [`RecorderConfig::cache_size`] series (4096, client-go's LRU
//!   size); the least recently observed are dropped first (an eighth of the cache at once, so
//!   a stream of distinct events costs O(1) per event, not a scan of the cache each).
//! - Full token buckets (objects that have not been written about lately) are forgotten, by a
//!   sweep at most once a second.
//!
//! Why not kube-rs's `Recorder` (kube 5.0): it keys series without the note (different
//! messages merge into one Event that keeps the first message), patches the Event on every
//! occurrence (a resync loop writes as often as it reconciles), has no per-object spam filter
//! and no bound on its cache.

use super::spam_filter::Bucket;
use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::api::events::v1::{Event, EventSeries};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::Timestamp;
use kube::Client;
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::json;
use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::Duration;
use tokio::time::Instant;

/// The event severity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventType {
    /// Something happened as expected.
    Normal,
    /// Something may need attention.
    Warning,
}

impl EventType {
    fn as_str(self) -> &'static str {
        match self {
            EventType::Normal => "Normal",
            EventType::Warning => "Warning",
        }
    }
}

/// How a [`Recorder`] aggregates; the defaults are client-go's except where noted.
#[derive(Debug, Clone)]
pub struct RecorderConfig {
    /// How often at most a series' count is written (default 30 s; client-go: 30 min). Values
    /// below [`MIN_SERIES_UPDATE_INTERVAL`] are raised to it (it is also the background
    /// flush period, which must not spin).
    pub series_update_interval: Duration,
    /// A series not observed for this long is finished (default 6 min).
    pub series_ttl: Duration,
    /// Writes per regarding object before the spam filter throttles (default 25).
    pub spam_burst: u32,
    /// One more write per object per this period once throttled (default 5 min).
    pub spam_refill: Duration,
    /// Most series remembered (default 4096).
    pub cache_size: usize,
}

impl Default for RecorderConfig {
    fn default() -> Self {
        RecorderConfig {
            series_update_interval: Duration::from_secs(30),
            series_ttl: Duration::from_secs(6 * 60),
            spam_burst: 25,
            spam_refill: Duration::from_secs(300),
            cache_size: 4096,
        }
    }
}

/// The least [`RecorderConfig::series_update_interval`] a [`Recorder`] uses.
pub const MIN_SERIES_UPDATE_INTERVAL: Duration = Duration::from_millis(100);
/// How often full token buckets are forgotten (at most).
const BUCKET_SWEEP: Duration = Duration::from_secs(1);

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct SeriesKey {
    regarding: (String, String, String, String, String),
    type_: EventType,
    reason: String,
    action: String,
    note: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct ObjectKey(String, String, String, String);

struct Series {
    /// The Event's namespace and name.
    namespace: String,
    name: String,
    count: i32,
    written_count: i32,
    last_observed: Timestamp,
    last_observed_at: Instant,
    last_write_at: Instant,
    /// The Event as first created, to recreate it if it disappeared from the server.
    event: Event,
}

#[derive(Default)]
struct State {
    series: HashMap<SeriesKey, Series>,
    buckets: HashMap<ObjectKey, Bucket>,
    flusher_started: bool,
    /// When full buckets were last forgotten.
    last_sweep: Option<Instant>,
}

struct Inner {
    client: Client,
    controller: String,
    instance: String,
    config: RecorderConfig,
    state: Mutex<State>,
}

/// Publishes Events about objects, aggregated (see the module docs). Cheap to clone; clones
/// share the aggregation state.
///
/// ```no_run
/// # async fn demo(client: kube::Client, cm: k8s_openapi::api::core::v1::ConfigMap) -> Result<(), kube::Error> {
/// use kube::Resource;
/// use kubeforge_runtime::events::{EventType, Recorder};
///
/// let recorder = Recorder::new(client, "configmap-controller", "pod-1");
/// recorder
///     .publish(&cm.object_ref(&()), EventType::Normal, "Synced", "settings applied")
///     .await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Recorder {
    inner: Arc<Inner>,
}

impl fmt::Debug for Recorder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Recorder")
            .field("controller", &self.inner.controller)
            .field("instance", &self.inner.instance)
            .field("series", &self.state().series.len())
            .finish_non_exhaustive()
    }
}

/// One write the recorder decided on.
enum Write {
    Create(Event),
    Series {
        namespace: String,
        name: String,
        count: i32,
        last_observed: Timestamp,
        event: Event,
    },
}

impl Recorder {
    /// A recorder reporting as `controller` (`reportingController`, e.g.
    /// `example.com/widget-controller`) from `instance` (`reportingInstance`, e.g. the pod
    /// name), with the default aggregation.
    pub fn new(client: Client, controller: &str, instance: &str) -> Self {
        Self::with_config(client, controller, instance, RecorderConfig::default())
    }

    /// A recorder with explicit aggregation settings (a `series_update_interval` below
    /// [`MIN_SERIES_UPDATE_INTERVAL`] is raised to it).
    pub fn with_config(
        client: Client,
        controller: &str,
        instance: &str,
        mut config: RecorderConfig,
    ) -> Self {
        config.series_update_interval = config
            .series_update_interval
            .max(MIN_SERIES_UPDATE_INTERVAL);
        Recorder {
            inner: Arc::new(Inner {
                client,
                controller: controller.to_owned(),
                instance: instance.to_owned(),
                config,
                state: Mutex::new(State::default()),
            }),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.inner
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Records that `reason` happened to `regarding`, with a human-readable `note`; the
    /// Event's `action` is the reason. Aggregated as described in the module docs: most
    /// repeats write nothing.
    pub async fn publish(
        &self,
        regarding: &ObjectReference,
        type_: EventType,
        reason: &str,
        note: &str,
    ) -> Result<(), kube::Error> {
        self.publish_action(regarding, type_, reason, reason, note)
            .await
    }

    /// [`publish`](Self::publish) with an explicit `action` (what the controller did or
    /// failed to do, e.g. `Scaling`).
    pub async fn publish_action(
        &self,
        regarding: &ObjectReference,
        type_: EventType,
        reason: &str,
        action: &str,
        note: &str,
    ) -> Result<(), kube::Error> {
        self.ensure_flusher();
        let write = self.observe(regarding, type_, reason, action, note);
        match write {
            Some(write) => self.send(write).await,
            None => Ok(()),
        }
    }

    /// Decides, under the lock, what (if anything) to write for one occurrence.
    fn observe(
        &self,
        regarding: &ObjectReference,
        type_: EventType,
        reason: &str,
        action: &str,
        note: &str,
    ) -> Option<Write> {
        let config = &self.inner.config;
        let now = Instant::now();
        let wall = Timestamp::now();
        let object = ObjectKey(
            regarding.kind.clone().unwrap_or_default(),
            regarding.namespace.clone().unwrap_or_default(),
            regarding.name.clone().unwrap_or_default(),
            regarding.uid.clone().unwrap_or_default(),
        );
        let key = SeriesKey {
            regarding: (
                regarding.api_version.clone().unwrap_or_default(),
                object.0.clone(),
                object.1.clone(),
                object.2.clone(),
                object.3.clone(),
            ),
            type_,
            reason: reason.to_owned(),
            action: action.to_owned(),
            note: note.to_owned(),
        };
        let mut state = self.state();
        let state = &mut *state;
        if let Some(series) = state.series.get(&key)
            && now.duration_since(series.last_observed_at) >= config.series_ttl
        {
            state.series.remove(&key);
        }
        let allowed = |state: &mut State| {
            state
                .buckets
                .entry(object.clone())
                .or_insert_with(|| Bucket::full(config.spam_burst, now))
                .try_take(config.spam_burst, config.spam_refill, now)
        };
        if let Some(series) = state.series.get_mut(&key) {
            series.count += 1;
            series.last_observed = wall;
            series.last_observed_at = now;
            let due = series.written_count == 1
                || now.duration_since(series.last_write_at) >= config.series_update_interval;
            if !due {
                return None;
            }
            let (namespace, name, count, event) = (
                series.namespace.clone(),
                series.name.clone(),
                series.count,
                series.event.clone(),
            );
            if !allowed(state) {
                tracing::debug!(event = %name, "event series update throttled by the spam filter");
                return None;
            }
            let series = state.series.get_mut(&key)?;
            series.written_count = count;
            series.last_write_at = now;
            return Some(Write::Series {
                namespace,
                name,
                count,
                last_observed: wall,
                event,
            });
        }
        if !allowed(state) {
            tracing::debug!(reason, "event throttled by the spam filter");
            return None;
        }
        let event = self.new_event(regarding, type_, reason, action, note, wall);
        if state.series.len() >= config.cache_size.max(1) {
            // Drop the least recently observed eighth (at least one) in one pass.
            let mut ages: Vec<(Instant, &SeriesKey)> = state
                .series
                .iter()
                .map(|(k, s)| (s.last_observed_at, k))
                .collect();
            let drop = (config.cache_size / 8).max(1).min(ages.len());
            ages.select_nth_unstable_by_key(drop - 1, |(at, _)| *at);
            let oldest: Vec<SeriesKey> = ages[..drop].iter().map(|(_, k)| (*k).clone()).collect();
            for key in oldest {
                state.series.remove(&key);
            }
        }
        state.series.insert(
            key,
            Series {
                namespace: event.metadata.namespace.clone().unwrap_or_default(),
                name: event.metadata.name.clone().unwrap_or_default(),
                count: 1,
                written_count: 1,
                last_observed: wall,
                last_observed_at: now,
                last_write_at: now,
                event: event.clone(),
            },
        );
        if state
            .last_sweep
            .is_none_or(|at| now.duration_since(at) >= BUCKET_SWEEP)
        {
            state
                .buckets
                .retain(|_, b| !b.is_full_at(config.spam_burst, config.spam_refill, now));
            state.last_sweep = Some(now);
        }
        Some(Write::Create(event))
    }

    fn new_event(
        &self,
        regarding: &ObjectReference,
        type_: EventType,
        reason: &str,
        action: &str,
        note: &str,
        now: Timestamp,
    ) -> Event {
        let namespace = regarding
            .namespace
            .clone()
            .unwrap_or_else(|| "default".to_owned());
        let name = format!(
            "{}.{:x}",
            regarding.name.as_deref().unwrap_or(&self.inner.controller),
            now.as_nanosecond()
        );
        Event {
            metadata: ObjectMeta {
                name: Some(name),
                namespace: Some(namespace),
                ..ObjectMeta::default()
            },
            event_time: Some(MicroTime(now)),
            action: Some(action.to_owned()),
            reason: Some(reason.to_owned()),
            note: Some(note.to_owned()),
            type_: Some(type_.as_str().to_owned()),
            regarding: Some(regarding.clone()),
            reporting_controller: Some(self.inner.controller.clone()),
            reporting_instance: Some(self.inner.instance.clone()),
            ..Event::default()
        }
    }

    async fn send(&self, write: Write) -> Result<(), kube::Error> {
        match write {
            Write::Create(event) => {
                let ns = event.metadata.namespace.clone().unwrap_or_default();
                let api: Api<Event> = Api::namespaced(self.inner.client.clone(), &ns);
                api.create(&PostParams::default(), &event).await?;
            }
            Write::Series {
                namespace,
                name,
                count,
                last_observed,
                mut event,
            } => {
                let api: Api<Event> = Api::namespaced(self.inner.client.clone(), &namespace);
                let series = EventSeries {
                    count,
                    last_observed_time: MicroTime(last_observed),
                };
                let patch = json!({ "series": series });
                let (params, patch) = (PatchParams::default(), Patch::Merge(&patch));
                let patch_series = || api.patch(&name, &params, &patch);
                match patch_series().await {
                    Ok(_) => {}
                    // Deleted meanwhile (events expire on the server): recreate it.
                    Err(kube::Error::Api(s)) if s.is_not_found() => {
                        event.series = Some(series);
                        event.metadata.resource_version = None;
                        match api.create(&PostParams::default(), &event).await {
                            Ok(_) => {}
                            // Recreated meanwhile by a concurrent write of this series: the
                            // count may be older than ours, so patch it again.
                            Err(kube::Error::Api(s)) if s.is_already_exists() => {
                                patch_series().await?;
                            }
                            Err(e) => return Err(e),
                        }
                    }
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(())
    }

    /// Writes the counts of every series observed since its last write. A series whose
    /// write fails stays pending (the next flush retries it); the others are written all the
    /// same, and the first error is returned.
    pub async fn flush(&self) -> Result<(), kube::Error> {
        let writes: Vec<(SeriesKey, String, i32, Write)> = {
            let state = self.state();
            state
                .series
                .iter()
                .filter(|(_, s)| s.count > s.written_count)
                .map(|(key, s)| {
                    let write = Write::Series {
                        namespace: s.namespace.clone(),
                        name: s.name.clone(),
                        count: s.count,
                        last_observed: s.last_observed,
                        event: s.event.clone(),
                    };
                    (key.clone(), s.name.clone(), s.count, write)
                })
                .collect()
        };
        let mut first_error = None;
        for (key, name, count, write) in writes {
            let sent_at = Instant::now();
            match self.send(write).await {
                Ok(()) => {
                    let mut state = self.state();
                    if let Some(series) = state.series.get_mut(&key)
                        && series.name == name
                        && series.written_count < count
                    {
                        series.written_count = count;
                        series.last_write_at = sent_at;
                    }
                }
                Err(error) => {
                    first_error.get_or_insert(error);
                }
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    /// Starts the task that flushes pending counts every `series_update_interval`, once, if
    /// a Tokio runtime is at hand. It ends when the last handle on the recorder is dropped.
    fn ensure_flusher(&self) {
        let mut state = self.state();
        if state.flusher_started {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        state.flusher_started = true;
        let weak: Weak<Inner> = Arc::downgrade(&self.inner);
        let interval = self.inner.config.series_update_interval;
        runtime.spawn(async move {
            loop {
                tokio::time::sleep(interval).await;
                let Some(inner) = weak.upgrade() else { return };
                if let Err(error) = (Recorder { inner }).flush().await {
                    tracing::warn!(%error, "could not write event series counts");
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_full_cache_drops_the_least_recently_observed_series_in_batches() {
        let config = kube::Config::new("http://127.0.0.1:9".parse().unwrap());
        let client = Client::try_from(config).unwrap();
        let small = RecorderConfig {
            cache_size: 16,
            ..RecorderConfig::default()
        };
        let recorder = Recorder::with_config(client, "c", "i", small);
        let pod = |i: usize| ObjectReference {
            kind: Some("Pod".into()),
            namespace: Some("default".into()),
            name: Some(format!("pod-{i}")),
            uid: Some(format!("uid-{i}")),
            ..ObjectReference::default()
        };
        for i in 0..40 {
            let write = recorder.observe(&pod(i), EventType::Warning, "R", "R", "note");
            assert!(matches!(write, Some(Write::Create(_))), "event {i} is new");
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        let state = recorder.state();
        assert!(state.series.len() <= 16, "{}", state.series.len());
        let kept: Vec<&str> = state
            .series
            .keys()
            .map(|k| k.regarding.3.as_str())
            .collect();
        // The newest series survive every eviction.
        assert!(
            kept.contains(&"pod-39") && kept.contains(&"pod-38"),
            "{kept:?}"
        );
        assert!(!kept.contains(&"pod-0"), "{kept:?}");
    }

    #[tokio::test]
    async fn a_zero_update_interval_is_raised_so_the_flusher_cannot_spin() {
        let config = kube::Config::new("http://127.0.0.1:9".parse().unwrap());
        let client = Client::try_from(config).unwrap();
        let zero = RecorderConfig {
            series_update_interval: Duration::ZERO,
            ..RecorderConfig::default()
        };
        let recorder = Recorder::with_config(client.clone(), "c", "i", zero);
        assert_eq!(
            recorder.inner.config.series_update_interval,
            MIN_SERIES_UPDATE_INTERVAL
        );
        let recorder = Recorder::new(client, "c", "i");
        assert_eq!(
            recorder.inner.config.series_update_interval,
            Duration::from_secs(30)
        );
    }
}
