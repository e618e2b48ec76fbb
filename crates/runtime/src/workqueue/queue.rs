//! The work queue: an ordered queue of keys, plus a dirty set and a processing set.
//!
//! Guarantees (client-go's `util/workqueue`):
//! - keys are handed out in the order they were first added (FIFO);
//! - adding a key that is already queued is a no-op (dedup while queued);
//! - a key handed to a worker by [`WorkQueue::get`] is never handed to a second worker until
//!   [`WorkQueue::done`] is called for it; if it was added again meanwhile, `done` puts it back at
//!   the tail of the queue, once, however many times it was added;
//! - [`WorkQueue::shutdown`] makes every pending and future `get` return `None` at once and drops
//!   the keys still waiting; [`WorkQueue::shutdown_with_drain`] does the same and then waits until
//!   every key being processed is `done`.
//!
//! Deliberate difference from client-go: after `ShutDown`, client-go's `Get` keeps handing out the
//! keys still queued until the queue is empty. Here `get` returns `None` at once, so workers stop
//! promptly and a graceful shutdown is bounded by the work in flight only. Dropped keys are not
//! lost state: controllers are level-triggered and re-derive them from their informers on start.
//!
//! All state sits behind one short-held mutex; waiting workers park on a [`Notify`], which is
//! only signalled when the state says some worker waits (a key handed straight to a busy worker
//! costs no wakeup). Time comes from [`tokio::time`], so tests may run with paused time.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::hash::Hash;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::Notify;
use tokio::time::Instant;

use super::builder::WorkQueueBuilder;
use super::delaying::Delayed;
use super::metrics::{Gauges, QueueGauges, QueueMetrics};
use super::rate_limiter::RateLimiter;

/// A deduplicating FIFO queue of keys for a pool of workers; see the [module docs](super).
///
/// Cloning a `WorkQueue` gives another handle on the same queue: hand one to each worker.
///
/// ```
/// use kubeforge_runtime::workqueue::WorkQueue;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let queue = WorkQueue::new();
/// queue.add("default/web");
/// queue.add("default/web"); // already queued: no-op
/// queue.add("default/db");
/// assert_eq!(queue.len(), 2);
///
/// while let Some(key) = queue.get().await {
///     // reconcile `key` here; then:
///     queue.forget(&key); // success: reset its rate-limit failures
///     queue.done(&key);
///     if queue.is_empty() {
///         queue.shutdown();
///     }
/// }
/// # }
/// ```
pub struct WorkQueue<K> {
    pub(super) inner: Arc<Inner<K>>,
}

impl<K> Clone for WorkQueue<K> {
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
        }
    }
}

pub(super) struct Inner<K> {
    pub(super) name: String,
    pub(super) state: Mutex<State<K>>,
    /// Wakes a worker waiting in `get`: a key was queued, or an earlier delay was scheduled.
    /// Signal it through [`Inner::wake_a_waiting_worker`].
    ready: Notify,
    /// Wakes `shutdown_with_drain` when the last key being processed is done.
    drained: Notify,
    pub(super) rate_limiter: Box<dyn RateLimiter<K>>,
    pub(super) metrics: Option<QueueMetrics>,
}

pub(super) struct State<K> {
    /// Keys ready to be handed out, in order. Each is in `items` as `Queued`.
    queue: VecDeque<K>,
    /// Every key that is queued, being processed, or both (re-added while processing).
    items: HashMap<K, Item>,
    /// Keys waiting for their `add_after` delay.
    pub(super) delayed: Delayed<K>,
    /// Dirty keys: queued, or re-added while being processed (client-go's depth).
    depth: usize,
    /// Keys handed out by `get` and not yet `done`.
    processing: usize,
    /// Workers in `get` registered on `ready` and about to sleep or sleeping.
    waiting_workers: usize,
    pub(super) shutting_down: bool,
}

#[derive(Clone, Copy)]
struct Item {
    phase: Phase,
    /// When the key became dirty; only kept when metrics are recorded.
    queued_at: Option<Instant>,
    /// When a worker got the key; only kept when metrics are recorded.
    started_at: Option<Instant>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Phase {
    Queued,
    Processing,
    /// Being processed and added again: back to the queue on `done`.
    ProcessingDirty,
}

/// What `State::add` did with a key.
#[derive(PartialEq, Eq)]
enum Added {
    /// Newly queued: a worker may take it.
    Queued,
    /// Being processed: it will be queued again on `done`.
    WhileProcessing,
    /// Already dirty: nothing changed.
    AlreadyDirty,
}

enum Next<K> {
    Key(K),
    ShutDown,
    /// Nothing ready; wait for a notification or until this delay expires.
    Wait(Option<Instant>),
}

impl<K> WorkQueue<K>
where
    K: Clone + Eq + Hash + Send + Sync + 'static,
{
    /// A queue with no name, no metrics and [the default controller rate
    /// limiter](super::default_controller_rate_limiter); use [`WorkQueue::builder`] for more.
    pub fn new() -> Self {
        Self::builder().build()
    }

    /// Configure a queue: its name, rate limiter and metrics.
    ///
    /// ```
    /// use kubeforge_runtime::workqueue::{WorkQueue, WorkQueueMetrics, default_controller_rate_limiter};
    /// use prometheus_client::registry::Registry;
    ///
    /// let mut registry = Registry::default();
    /// let metrics = WorkQueueMetrics::new(&mut registry);
    /// let queue: WorkQueue<String> = WorkQueue::builder()
    ///     .name("configmaps")
    ///     .rate_limiter(default_controller_rate_limiter())
    ///     .metrics(&metrics)
    ///     .build();
    /// assert_eq!(queue.name(), "configmaps");
    /// ```
    pub fn builder() -> WorkQueueBuilder<K> {
        WorkQueueBuilder::new()
    }

    pub(super) fn from_parts(
        name: String,
        rate_limiter: Box<dyn RateLimiter<K>>,
        metrics: Option<&super::WorkQueueMetrics>,
    ) -> Self {
        let inner = Arc::new(Inner {
            metrics: metrics.map(|m| m.for_queue(&name)),
            name,
            state: Mutex::new(State {
                queue: VecDeque::new(),
                items: HashMap::new(),
                delayed: Delayed::default(),
                depth: 0,
                processing: 0,
                waiting_workers: 0,
                shutting_down: false,
            }),
            ready: Notify::new(),
            drained: Notify::new(),
            rate_limiter,
        });
        if let Some(metrics) = metrics {
            let gauges: Arc<dyn QueueGauges> = inner.clone();
            metrics.watch_gauges(&inner.name, Arc::downgrade(&gauges));
        }
        Self { inner }
    }

    /// The name given to the builder ("" if none); it labels the queue's metrics.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// Queue `key` for processing.
    ///
    /// A no-op if `key` is already queued or the queue is shutting down. If a worker is
    /// processing `key`, it is queued again when that worker calls [`done`](Self::done).
    pub fn add(&self, key: K) {
        let now = self.inner.metrics.as_ref().map(|_| Instant::now());
        let mut state = self.inner.lock();
        if state.shutting_down {
            return;
        }
        self.inner.add_locked(&mut state, key, now);
    }

    /// Wait for the next key and mark it as being processed.
    ///
    /// Returns `None` once the queue is shutting down, immediately for workers already waiting.
    /// Every key returned must be handed back with [`done`](Self::done).
    pub async fn get(&self) -> Option<K> {
        // Fast path: a key is ready, no need to register for a wakeup.
        match self.inner.next() {
            Next::Key(key) => return Some(key),
            Next::ShutDown => return None,
            Next::Wait(_) => {}
        }
        let notified = self.inner.ready.notified();
        tokio::pin!(notified);
        loop {
            // Register before looking, so an `add` between the look and the wait wakes us.
            notified.as_mut().enable();
            let wait_until = match self.inner.next_or_wait() {
                Next::Key(key) => return Some(key),
                Next::ShutDown => return None,
                Next::Wait(until) => until,
            };
            // `next_or_wait` counted us as waiting; uncount us however the wait ends.
            let _waiting = WaitingWorker(&self.inner);
            match wait_until {
                Some(deadline) => {
                    tokio::select! {
                        _ = notified.as_mut() => {}
                        _ = tokio::time::sleep_until(deadline) => {}
                    }
                }
                None => notified.as_mut().await,
            }
            notified.set(self.inner.ready.notified());
        }
    }

    /// Mark `key` as no longer being processed.
    ///
    /// If it was added again while being processed, it goes back to the tail of the queue
    /// (unless the queue is shutting down). Calling `done` for a key that is not being
    /// processed does nothing.
    pub fn done(&self, key: &K) {
        let inner = &*self.inner;
        let now = inner.metrics.as_ref().map(|_| Instant::now());
        let mut state = inner.lock();
        let Some(item) = state.items.get_mut(key) else {
            return;
        };
        let started_at = item.started_at;
        match item.phase {
            Phase::Queued => return,
            Phase::Processing => {
                state.items.remove(key);
            }
            Phase::ProcessingDirty => {
                // Re-added while we processed it: queue it again, keeping its queued_at.
                item.phase = Phase::Queued;
                item.started_at = None;
                state.queue.push_back(key.clone());
                inner.wake_a_waiting_worker(&state);
            }
        }
        state.processing -= 1;
        let drained = state.shutting_down && state.processing == 0;
        drop(state);
        if let (Some(metrics), Some(now), Some(started_at)) = (&inner.metrics, now, started_at) {
            metrics.observe_work_duration(now - started_at);
        }
        if drained {
            inner.drained.notify_waiters();
        }
    }

    /// The number of keys ready to be handed out (not counting keys being processed or still
    /// waiting for an [`add_after`](Self::add_after) delay).
    pub fn len(&self) -> usize {
        let mut state = self.inner.lock();
        self.inner.promote_due(&mut state);
        state.queue.len()
    }

    /// Whether no key is ready to be handed out; see [`len`](Self::len).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Stop the queue: every waiting and future [`get`](Self::get) returns `None`, further adds
    /// are ignored, and keys not yet handed out (queued or delayed) are dropped.
    ///
    /// Workers may still call [`done`](Self::done) for the keys they hold; those keys are not
    /// queued again.
    pub fn shutdown(&self) {
        {
            let mut state = self.inner.lock();
            if !state.shutting_down {
                state.shutting_down = true;
                state.queue.clear();
                state.delayed.clear();
                state.depth = 0;
                state.items.retain(|_, item| {
                    item.phase = match item.phase {
                        Phase::Queued => return false,
                        _ => Phase::Processing,
                    };
                    item.queued_at = None;
                    true
                });
            }
        }
        self.inner.ready.notify_waiters();
    }

    /// [`shutdown`](Self::shutdown), then wait until every key being processed is
    /// [`done`](Self::done).
    ///
    /// ```
    /// use kubeforge_runtime::workqueue::WorkQueue;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let queue = WorkQueue::new();
    /// queue.add(1);
    /// let key = queue.get().await.unwrap();
    /// let worker = {
    ///     let queue = queue.clone();
    ///     tokio::spawn(async move { queue.done(&key) })
    /// };
    /// queue.shutdown_with_drain().await; // returns once the worker called done
    /// # worker.await.unwrap();
    /// # }
    /// ```
    pub async fn shutdown_with_drain(&self) {
        self.shutdown();
        let drained = self.inner.drained.notified();
        tokio::pin!(drained);
        loop {
            drained.as_mut().enable();
            if self.inner.lock().processing == 0 {
                return;
            }
            drained.as_mut().await;
            drained.set(self.inner.drained.notified());
        }
    }

    /// Whether [`shutdown`](Self::shutdown) was called.
    pub fn is_shutting_down(&self) -> bool {
        self.inner.lock().shutting_down
    }
}

impl<K> Default for WorkQueue<K>
where
    K: Clone + Eq + Hash + Send + Sync + 'static,
{
    fn default() -> Self {
        Self::new()
    }
}

impl<K> fmt::Debug for WorkQueue<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.inner.lock();
        f.debug_struct("WorkQueue")
            .field("name", &self.inner.name)
            .field("queued", &state.queue.len())
            .field("processing", &state.processing)
            .field("delayed", &state.delayed.len())
            .field("shutting_down", &state.shutting_down)
            .finish()
    }
}

impl<K> Inner<K> {
    pub(super) fn lock(&self) -> MutexGuard<'_, State<K>> {
        // The state stays consistent even if a holder panicked: every critical section either
        // completes its update or does not touch the state.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl<K> Inner<K>
where
    K: Clone + Eq + Hash,
{
    /// Add `key` to a queue that is not shutting down. `queued_at` is `Some` iff metrics are on.
    pub(super) fn add_locked(&self, state: &mut State<K>, key: K, queued_at: Option<Instant>) {
        let added = state.add(key, queued_at);
        if added != Added::AlreadyDirty
            && let Some(metrics) = &self.metrics
        {
            metrics.adds.inc();
        }
        if added == Added::Queued {
            self.wake_a_waiting_worker(state);
        }
    }

    /// Move keys whose `add_after` delay has expired into the queue.
    pub(super) fn promote_due(&self, state: &mut State<K>) {
        if state.delayed.is_empty() {
            return;
        }
        let now = Instant::now();
        while let Some((key, ready_at)) = state.delayed.pop_due(now) {
            // Their wait in the queue starts when the delay expired, not when we noticed.
            let queued_at = self.metrics.as_ref().map(|_| ready_at);
            self.add_locked(state, key, queued_at);
        }
    }

    /// Signal `ready` if a worker waits for it. Call with the state locked, after changing it.
    pub(super) fn wake_a_waiting_worker(&self, state: &State<K>) {
        if state.waiting_workers > 0 {
            self.ready.notify_one();
        }
    }

    /// Take the next ready key, if any.
    fn next(&self) -> Next<K> {
        self.take_next(false)
    }

    /// Take the next ready key, or count the caller as a waiting worker.
    fn next_or_wait(&self) -> Next<K> {
        self.take_next(true)
    }

    fn take_next(&self, wait: bool) -> Next<K> {
        let mut state = self.lock();
        if state.shutting_down {
            return Next::ShutDown;
        }
        self.promote_due(&mut state);
        let Some(key) = state.queue.pop_front() else {
            if wait {
                state.waiting_workers += 1;
            }
            return Next::Wait(state.delayed.next_ready_at());
        };
        let now = self.metrics.as_ref().map(|_| Instant::now());
        let item = state.items.get_mut(&key).expect("a queued key has an item");
        item.phase = Phase::Processing;
        let queued_at = item.queued_at.take();
        item.started_at = now;
        state.depth -= 1;
        state.processing += 1;
        if !state.queue.is_empty() {
            // Pass the baton: another waiting worker may take the next key.
            self.wake_a_waiting_worker(&state);
        }
        drop(state);
        if let (Some(metrics), Some(now), Some(queued_at)) = (&self.metrics, now, queued_at) {
            metrics.observe_queue_duration(now.saturating_duration_since(queued_at));
        }
        Next::Key(key)
    }
}

/// A worker counted in `waiting_workers` while it waits in `get`, including when `get` is
/// cancelled mid-wait.
struct WaitingWorker<'a, K>(&'a Inner<K>);

impl<K> Drop for WaitingWorker<'_, K> {
    fn drop(&mut self) {
        self.0.lock().waiting_workers -= 1;
    }
}

impl<K> State<K>
where
    K: Clone + Eq + Hash,
{
    fn add(&mut self, key: K, queued_at: Option<Instant>) -> Added {
        match self.items.entry(key) {
            Entry::Vacant(entry) => {
                self.queue.push_back(entry.key().clone());
                entry.insert(Item {
                    phase: Phase::Queued,
                    queued_at,
                    started_at: None,
                });
                self.depth += 1;
                Added::Queued
            }
            Entry::Occupied(mut entry) => {
                let item = entry.get_mut();
                if item.phase != Phase::Processing {
                    return Added::AlreadyDirty;
                }
                item.phase = Phase::ProcessingDirty;
                item.queued_at = queued_at;
                self.depth += 1;
                Added::WhileProcessing
            }
        }
    }
}

impl<K> QueueGauges for Inner<K>
where
    K: Clone + Eq + Hash + Send + Sync,
{
    fn gauges(&self) -> Gauges {
        let mut state = self.lock();
        self.promote_due(&mut state);
        let now = Instant::now();
        let mut gauges = Gauges {
            depth: state.depth,
            ..Gauges::default()
        };
        for started_at in state.items.values().filter_map(|item| item.started_at) {
            let running = now.saturating_duration_since(started_at);
            gauges.unfinished_work += running;
            gauges.longest_running_processor = gauges.longest_running_processor.max(running);
        }
        gauges
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    use std::time::Duration;

    use futures::FutureExt;

    use super::*;

    /// Whether `get` would return a key right now (without waiting).
    fn try_get<K>(queue: &WorkQueue<K>) -> Option<Option<K>>
    where
        K: Clone + Eq + Hash + Send + Sync + 'static,
    {
        queue.get().now_or_never()
    }

    #[tokio::test(start_paused = true)]
    async fn hands_out_keys_in_the_order_added() {
        let queue = WorkQueue::new();
        for key in [3, 1, 2] {
            queue.add(key);
        }
        assert_eq!(queue.get().await, Some(3));
        assert_eq!(queue.get().await, Some(1));
        assert_eq!(queue.get().await, Some(2));
    }

    #[tokio::test(start_paused = true)]
    async fn adding_a_queued_key_is_a_no_op() {
        let queue = WorkQueue::new();
        queue.add("a");
        queue.add("b");
        queue.add("a");
        assert_eq!(queue.len(), 2);
        assert_eq!(queue.get().await, Some("a"));
        assert_eq!(queue.get().await, Some("b"));
        assert_eq!(try_get(&queue), None, "nothing left");
    }

    #[tokio::test(start_paused = true)]
    async fn a_key_being_processed_is_not_handed_to_a_second_worker() {
        let queue = WorkQueue::new();
        queue.add("a");
        assert_eq!(queue.get().await, Some("a"));

        queue.add("a");
        queue.add("a");
        assert_eq!(queue.len(), 0, "re-added key waits for done");
        let second = tokio::spawn({
            let queue = queue.clone();
            async move { queue.get().await }
        });
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert!(!second.is_finished(), "second worker must not get `a` yet");

        queue.done(&"a");
        assert_eq!(second.await.unwrap(), Some("a"), "re-queued once on done");
        queue.done(&"a");
        assert_eq!(
            try_get(&queue),
            None,
            "added twice while processing, queued once"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_key_re_added_while_processing_goes_to_the_tail() {
        let queue = WorkQueue::new();
        queue.add("a");
        assert_eq!(queue.get().await, Some("a"));
        queue.add("a");
        queue.add("b");
        queue.done(&"a");
        assert_eq!(queue.get().await, Some("b"));
        assert_eq!(queue.get().await, Some("a"));
    }

    #[tokio::test(start_paused = true)]
    async fn done_without_re_add_forgets_the_key() {
        let queue = WorkQueue::new();
        queue.add("a");
        let key = queue.get().await.unwrap();
        queue.done(&key);
        queue.done(&key); // a second done is harmless
        assert_eq!(try_get(&queue), None);
        queue.add("a");
        assert_eq!(
            queue.get().await,
            Some("a"),
            "can be added again after done"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn get_waits_for_an_add() {
        let queue = WorkQueue::new();
        let worker = tokio::spawn({
            let queue = queue.clone();
            async move { queue.get().await }
        });
        tokio::time::sleep(Duration::from_secs(5)).await;
        assert!(!worker.is_finished());
        queue.add(7);
        assert_eq!(worker.await.unwrap(), Some(7));
    }

    #[tokio::test(start_paused = true)]
    async fn several_waiting_workers_each_get_one_key() {
        let queue = WorkQueue::new();
        let workers: Vec<_> = (0..4)
            .map(|_| {
                let queue = queue.clone();
                tokio::spawn(async move { queue.get().await })
            })
            .collect();
        tokio::time::sleep(Duration::from_secs(1)).await;
        for key in 0..4 {
            queue.add(key);
        }
        let mut got = Vec::new();
        for worker in workers {
            got.push(worker.await.unwrap().unwrap());
        }
        got.sort();
        assert_eq!(got, [0, 1, 2, 3]);
        assert_eq!(queue.inner.lock().waiting_workers, 0);
    }

    #[tokio::test(start_paused = true)]
    async fn shutdown_unblocks_waiting_getters_and_drops_pending_keys() {
        let queue = WorkQueue::<u32>::new();
        let workers: Vec<_> = (0..3)
            .map(|_| {
                let queue = queue.clone();
                tokio::spawn(async move { queue.get().await })
            })
            .collect();
        tokio::task::yield_now().await;
        queue.shutdown();
        for worker in workers {
            assert_eq!(worker.await.unwrap(), None);
        }

        let queue = WorkQueue::new();
        queue.add(1);
        queue.add(2);
        queue.shutdown();
        assert!(queue.is_shutting_down());
        assert_eq!(queue.len(), 0, "pending keys dropped");
        assert_eq!(queue.get().await, None);
        queue.add(3);
        assert_eq!(queue.get().await, None, "adds after shutdown are ignored");
    }

    #[tokio::test(start_paused = true)]
    async fn shutdown_with_drain_waits_for_keys_being_processed() {
        let queue = WorkQueue::new();
        queue.add("a");
        queue.add("b");
        let a = queue.get().await.unwrap();
        let b = queue.get().await.unwrap();
        queue.add("a"); // re-added while processing: dropped by the shutdown

        let drain = tokio::spawn({
            let queue = queue.clone();
            async move { queue.shutdown_with_drain().await }
        });
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert!(queue.is_shutting_down());
        assert_eq!(queue.get().await, None);
        assert!(!drain.is_finished(), "two keys still being processed");

        queue.done(&a);
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert!(!drain.is_finished(), "one key still being processed");

        queue.done(&b);
        drain.await.unwrap();
        assert_eq!(queue.get().await, None, "`a` was not re-queued");
    }

    #[tokio::test(start_paused = true)]
    async fn shutdown_with_drain_returns_at_once_when_idle() {
        let queue = WorkQueue::<u32>::new();
        queue.add(1);
        queue.shutdown_with_drain().await;
        assert!(queue.is_shutting_down());
    }

    #[tokio::test(start_paused = true)]
    async fn a_cancelled_get_does_not_lose_a_wakeup() {
        let queue = WorkQueue::new();
        let cancelled = tokio::spawn({
            let queue = queue.clone();
            async move { queue.get().await }
        });
        let waiting = tokio::spawn({
            let queue = queue.clone();
            async move { queue.get().await }
        });
        tokio::task::yield_now().await;
        cancelled.abort();
        queue.add(1);
        assert_eq!(waiting.await.unwrap(), Some(1));
        assert_eq!(
            queue.inner.lock().waiting_workers,
            0,
            "the cancelled get uncounted itself"
        );
    }

    /// Several workers on a multi-threaded runtime, many keys re-added (some with a delay) while
    /// queued and while processed: every key is processed after its last add, and never by two
    /// workers at once.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn stress_many_workers_each_key_processed_and_never_concurrently() {
        const KEYS: usize = 200;
        const WORKERS: usize = 8;
        const PRODUCERS: usize = 4;
        const ADDS_PER_PRODUCER: usize = 20_000;

        struct Tracker {
            /// Bumped before each add of the key.
            added: Vec<AtomicU64>,
            /// The `added` value a worker saw when it started processing the key.
            processed: Vec<AtomicU64>,
            busy: Vec<AtomicBool>,
            overlaps: AtomicU64,
        }
        let tracker = Arc::new(Tracker {
            added: (0..KEYS).map(|_| AtomicU64::new(0)).collect(),
            processed: (0..KEYS).map(|_| AtomicU64::new(0)).collect(),
            busy: (0..KEYS).map(|_| AtomicBool::new(false)).collect(),
            overlaps: AtomicU64::new(0),
        });
        let queue = WorkQueue::<usize>::new();

        let workers: Vec<_> = (0..WORKERS)
            .map(|_| {
                let queue = queue.clone();
                let tracker = tracker.clone();
                tokio::spawn(async move {
                    let mut seen = HashSet::new();
                    while let Some(key) = queue.get().await {
                        if tracker.busy[key].swap(true, Ordering::SeqCst) {
                            tracker.overlaps.fetch_add(1, Ordering::SeqCst);
                        }
                        let generation = tracker.added[key].load(Ordering::SeqCst);
                        tracker.processed[key].fetch_max(generation, Ordering::SeqCst);
                        seen.insert(key);
                        tokio::task::yield_now().await;
                        tracker.busy[key].store(false, Ordering::SeqCst);
                        queue.done(&key);
                    }
                    seen.len()
                })
            })
            .collect();

        let producers: Vec<_> = (0..PRODUCERS)
            .map(|p| {
                let queue = queue.clone();
                let tracker = tracker.clone();
                tokio::spawn(async move {
                    for i in 0..ADDS_PER_PRODUCER {
                        let key = (i * 7 + p * 13) % KEYS;
                        tracker.added[key].fetch_add(1, Ordering::SeqCst);
                        if i % 10 == 0 {
                            queue.add_after(key, Duration::from_micros(100 * (i % 7) as u64));
                        } else {
                            queue.add(key);
                        }
                        if i % 64 == 0 {
                            tokio::task::yield_now().await;
                        }
                    }
                })
            })
            .collect();
        for producer in producers {
            producer.await.unwrap();
        }

        let all_processed = || {
            (0..KEYS).all(|k| {
                tracker.processed[k].load(Ordering::SeqCst)
                    == tracker.added[k].load(Ordering::SeqCst)
            })
        };
        tokio::time::timeout(Duration::from_secs(30), async {
            while !all_processed() {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        })
        .await
        .expect("every key processed after its last add");

        queue.shutdown_with_drain().await;
        let mut distinct = 0;
        for worker in workers {
            distinct += worker.await.unwrap();
        }
        assert!(distinct >= KEYS, "each key was processed by some worker");
        assert_eq!(
            tracker.overlaps.load(Ordering::SeqCst),
            0,
            "never concurrently"
        );
    }
}
