//! The pod writes of every policy controller in a process, merged per pod: whatever the checks
//! of several policies (of one kind or of all three) decide about one pod while an earlier
//! write is queued or in flight goes out as one merge patch and one Warning event, so a pod that
//! starts failing nine policies at once is written once, not nine times, and no two writes to
//! one pod race each other on the server.
//!
//! A check announces itself ([`PodWrites::check`]), hands each pod's patch (and the note of a
//! pod that starts failing) to [`PodWrites::enqueue`], ends its announcement, and awaits the
//! answers. Pods are written in the order they were first submitted, at most [`CONCURRENCY`] at
//! once, one at a time per pod; none sooner than [`GATHER`] after its first submission, nor
//! while another check is still choosing its marks (for at most [`HOLD`]): policies created
//! together (or a pod that fails several at once) are checked within moments of each other, and
//! their marks meet.
//!
//! Patches only touch `metadata.labels` and `metadata.annotations` (see `marks.rs`), and each
//! policy sets and removes only its own keys, so merging two patches (the later one's values
//! win) sends exactly what the two would have made of the pod one after the other.
//!
//! Deletions (the `kill` and `delete` actions) do not come through here: they end the pod.

use super::reconcile::FAILED_POLICY;
use crate::events::Events;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, Patch, PatchParams};
use kube::{Client, ResourceExt};
use serde_json::Value;
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use tokio::sync::oneshot;
use tokio::time::{Duration, Instant};

/// How many pods are written at once, across every policy of the process.
pub const CONCURRENCY: usize = 32;
/// How long a pod's first submitted change waits for others before it is written.
pub const GATHER: Duration = Duration::from_millis(200);
/// How long a pod's change waits at most for checks still choosing their marks.
pub const HOLD: Duration = Duration::from_secs(2);
/// How often a held write looks again whether the checks are done.
const HOLD_POLL: Duration = Duration::from_millis(10);
/// The longest event note the API server takes (`events.k8s.io/v1`: 1 KiB).
const NOTE_LIMIT: usize = 1024;

/// What a submitted write came to: `true` when the pod was written, `false` when it is gone.
pub type WriteResult = Result<bool, Arc<kube::Error>>;

/// A pod by namespace and name.
type PodKey = (String, String);

/// What is waiting to be written to one pod.
struct Pending {
    /// The pod as the latest submitter saw it (the event is about it).
    pod: Arc<Pod>,
    /// The merged merge patch, if any submitter changes the pod.
    patch: Option<Value>,
    /// Why the pod starts failing, one note per policy.
    notes: Vec<String>,
    /// Who waits for the answer.
    waiters: Vec<oneshot::Sender<WriteResult>>,
    /// When the first of them submitted.
    since: Instant,
}

#[derive(Default)]
struct State {
    /// Pods with a pending write and none in flight, first submitted first.
    queue: VecDeque<PodKey>,
    pending: HashMap<PodKey, Pending>,
    in_flight: HashSet<PodKey>,
    /// Workers running (each writes one pod at a time until the queue is empty).
    workers: usize,
    /// Checks still choosing their marks.
    checks: usize,
}

struct Inner {
    client: Client,
    events: Events,
    state: Mutex<State>,
}

/// The process's pod writer for policies (cheap to clone).
#[derive(Clone)]
pub struct PodWrites {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for PodWrites {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = self.inner.state();
        f.debug_struct("PodWrites")
            .field("pending", &state.pending.len())
            .field("in_flight", &state.in_flight.len())
            .finish()
    }
}

/// Where the policy controllers built on one manager find their shared writer (a manager
/// extension, inserted by [`Operators`](crate::runner::Operators); the first controller built
/// creates the writer).
#[derive(Debug, Default)]
pub struct SharedPodWrites(OnceLock<PodWrites>);

impl SharedPodWrites {
    /// The writer, created by `make` on first use.
    pub fn get_or_init(&self, make: impl FnOnce() -> PodWrites) -> PodWrites {
        self.0.get_or_init(make).clone()
    }
}

impl Inner {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A check choosing its marks (from [`PodWrites::check`]); writes are held while one lives.
#[must_use = "writes are held only while the guard lives"]
pub struct Check {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Check {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Check").finish_non_exhaustive()
    }
}

impl Drop for Check {
    fn drop(&mut self) {
        self.inner.state().checks -= 1;
    }
}

/// The answer to one enqueued change (a future: await it).
pub struct Answer(oneshot::Receiver<WriteResult>);

impl std::fmt::Debug for Answer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Answer").finish_non_exhaustive()
    }
}

impl std::future::Future for Answer {
    type Output = WriteResult;

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<WriteResult> {
        std::pin::Pin::new(&mut self.0).poll(cx).map(|answer| {
            answer.unwrap_or_else(|_| {
                Err(Arc::new(kube::Error::Service(
                    "the policies' pod writer stopped".into(),
                )))
            })
        })
    }
}

/// Merges merge patch `later` into `earlier`: objects key by key, anything else replaced.
fn merge(earlier: &mut Value, later: Value) {
    match (earlier, later) {
        (Value::Object(earlier), Value::Object(later)) => {
            for (key, value) in later {
                match earlier.get_mut(&key) {
                    Some(existing @ Value::Object(_)) if value.is_object() => {
                        merge(existing, value)
                    }
                    _ => {
                        earlier.insert(key, value);
                    }
                }
            }
        }
        (earlier, later) => *earlier = later,
    }
}

/// The notes joined into one single-line event note (`kubectl get events` prints one row per
/// event) of at most [`NOTE_LIMIT`] bytes.
fn joined(notes: &[String]) -> String {
    let mut note = notes.join("; ");
    if note.len() > NOTE_LIMIT {
        let mut end = NOTE_LIMIT - 3;
        while !note.is_char_boundary(end) {
            end -= 1;
        }
        note.truncate(end);
        note.push_str("...");
    }
    note
}

impl PodWrites {
    /// A writer sending through `client` and publishing `FailedPolicy` events through `events`.
    pub fn new(client: Client, events: Events) -> Self {
        PodWrites {
            inner: Arc::new(Inner {
                client,
                events,
                state: Mutex::new(State::default()),
            }),
        }
    }

    /// Announces a check choosing its marks: pods queued meanwhile are not written (for at most
    /// [`HOLD`]) until every announced check has dropped its guard, so its marks can join them.
    pub fn check(&self) -> Check {
        self.inner.state().checks += 1;
        Check {
            inner: self.inner.clone(),
        }
    }

    /// [`enqueue`](Self::enqueue), then waits for the answer.
    pub async fn submit(
        &self,
        pod: &Arc<Pod>,
        patch: Option<Value>,
        note: Option<String>,
    ) -> WriteResult {
        self.enqueue(pod, patch, note).await
    }

    /// Queues `patch` (a merge patch of the pod's metadata) and `note` (a pod that starts
    /// failing a policy: published as a Warning event after the patch) for `pod` at once; the
    /// answer comes when the write that carries them is done.
    pub fn enqueue(&self, pod: &Arc<Pod>, patch: Option<Value>, note: Option<String>) -> Answer {
        let key = (
            pod.metadata.namespace.clone().unwrap_or_default(),
            pod.name_any(),
        );
        let (tx, rx) = oneshot::channel();
        {
            let mut state = self.inner.state();
            let state = &mut *state;
            match state.pending.get_mut(&key) {
                Some(pending) => {
                    pending.pod = pod.clone();
                    match (&mut pending.patch, patch) {
                        (Some(earlier), Some(later)) => merge(earlier, later),
                        (earlier @ None, later) => *earlier = later,
                        (Some(_), None) => {}
                    }
                    pending.notes.extend(note);
                    pending.waiters.push(tx);
                }
                None => {
                    state.pending.insert(
                        key.clone(),
                        Pending {
                            pod: pod.clone(),
                            patch,
                            notes: note.into_iter().collect(),
                            waiters: vec![tx],
                            since: Instant::now(),
                        },
                    );
                    if !state.in_flight.contains(&key) {
                        state.queue.push_back(key);
                    }
                }
            }
            if state.workers < CONCURRENCY && !state.queue.is_empty() {
                state.workers += 1;
                tokio::spawn(self.clone().work());
            }
        }
        Answer(rx)
    }

    /// One worker: writes pods until the queue is empty.
    async fn work(self) {
        loop {
            let next = {
                let mut state = self.inner.state();
                let state = &mut *state;
                let Some(key) = state.queue.front() else {
                    state.workers -= 1;
                    return;
                };
                let now = Instant::now();
                let wait = state.pending.get(key).and_then(|p| {
                    if p.since + GATHER > now {
                        Some(p.since + GATHER)
                    } else if state.checks > 0 && p.since + HOLD > now {
                        Some((now + HOLD_POLL).min(p.since + HOLD))
                    } else {
                        None
                    }
                });
                match wait {
                    Some(until) => Err(until),
                    _ => {
                        let key = state.queue.pop_front().expect("the front was just read");
                        let pending = state.pending.remove(&key);
                        if pending.is_some() {
                            state.in_flight.insert(key.clone());
                        }
                        Ok((key, pending))
                    }
                }
            };
            let (key, pending) = match next {
                Ok((key, Some(pending))) => (key, pending),
                Ok((_, None)) => continue,
                Err(due) => {
                    tokio::time::sleep_until(due).await;
                    continue;
                }
            };
            let result = self.write(&key, &pending).await;
            for waiter in pending.waiters {
                let _ = waiter.send(result.clone());
            }
            let mut state = self.inner.state();
            state.in_flight.remove(&key);
            if state.pending.contains_key(&key) {
                state.queue.push_back(key);
            }
        }
    }

    /// Sends one pod's merged patch, then its event.
    async fn write(&self, (namespace, name): &PodKey, pending: &Pending) -> WriteResult {
        if let Some(patch) = &pending.patch {
            let pods: Api<Pod> = Api::namespaced(self.inner.client.clone(), namespace);
            match pods
                .patch(name, &PatchParams::default(), &Patch::Merge(patch))
                .await
            {
                Ok(_) => {}
                Err(kube::Error::Api(s)) if s.code == 404 => return Ok(false),
                Err(e) => return Err(Arc::new(e)),
            }
        }
        if !pending.notes.is_empty() {
            self.inner
                .events
                .warning(pending.pod.as_ref(), FAILED_POLICY, &joined(&pending.notes))
                .await;
        }
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn patches_merge_key_by_key_and_the_later_value_wins() {
        let mut patch =
            json!({"metadata": {"labels": {"a": "true"}, "annotations": {"m/a": "label:a"}}});
        merge(
            &mut patch,
            json!({"metadata": {"labels": {"b": "true", "a": null}, "annotations": {"m/b": "label:b"}}}),
        );
        assert_eq!(
            patch,
            json!({"metadata": {
                "labels": {"a": null, "b": "true"},
                "annotations": {"m/a": "label:a", "m/b": "label:b"}
            }})
        );
    }

    #[test]
    fn a_long_note_is_cut_on_a_character_boundary() {
        let notes = vec!["é".repeat(600), "x".into()];
        let note = joined(&notes);
        assert!(note.len() <= NOTE_LIMIT);
        assert!(note.ends_with("..."));
        assert_eq!(joined(&["a".into(), "b".into()]), "a; b");
    }
}
