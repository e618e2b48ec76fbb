//! Delayed adds: [`WorkQueue::add_after`].
//!
//! Guarantees (client-go's delaying queue):
//! - a key added with a delay is [added](WorkQueue::add) once the delay has passed, not before;
//!   a zero delay adds it at once;
//! - a key waiting for a delay waits only once: adding it again with a delay that ends earlier
//!   moves it earlier, one that ends later is ignored (the earliest pending delay wins);
//! - a delayed key does not count as queued: adding it directly queues it at once, and it is
//!   added (again) when its delay ends, like client-go;
//! - shutting the queue down drops keys still waiting.
//!
//! There is no timer task: waiting workers sleep until the earliest delay ends
//! ([`tokio::time::sleep_until`], so paused-time tests are exact), and whoever looks at the
//! queue first after that (`get`, `len`, a metrics scrape) moves expired keys into it.

use std::cmp::Ordering;
use std::collections::hash_map::Entry;
use std::collections::{BinaryHeap, HashMap};
use std::hash::Hash;
use std::time::Duration;

use tokio::time::Instant;

use super::WorkQueue;

impl<K> WorkQueue<K>
where
    K: Clone + Eq + Hash + Send + Sync + 'static,
{
    /// Add `key` once `delay` has passed; [`add`](Self::add) at once if `delay` is zero.
    ///
    /// Counts as a retry in the queue's metrics, as in client-go.
    ///
    /// ```
    /// use std::time::Duration;
    /// use kubeforge_runtime::workqueue::WorkQueue;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let queue = WorkQueue::new();
    /// queue.add_after("default/web", Duration::from_millis(10));
    /// assert_eq!(queue.len(), 0); // not yet
    /// assert_eq!(queue.get().await, Some("default/web")); // after 10 ms
    /// # }
    /// ```
    pub fn add_after(&self, key: K, delay: Duration) {
        let inner = &*self.inner;
        if let Some(metrics) = &inner.metrics
            && !inner.lock().shutting_down
        {
            metrics.retries.inc();
        }
        self.add_batched(key, delay);
    }

    /// Add `key` once `period` has passed, like [`add_after`](Self::add_after) but not counted
    /// as a retry: for sources that batch a burst of events into one reconcile (every add
    /// within the period joins the first one's wait).
    pub fn add_batched(&self, key: K, period: Duration) {
        let inner = &*self.inner;
        let now = Instant::now();
        let mut state = inner.lock();
        if state.shutting_down {
            return;
        }
        let delay = period;
        if delay.is_zero() {
            let queued_at = inner.metrics.as_ref().map(|_| now);
            inner.add_locked(&mut state, key, queued_at);
            return;
        }
        // A delay too long to represent is as good as forever.
        let ready_at = now
            .checked_add(delay)
            .unwrap_or_else(|| now + Duration::from_secs(100 * 365 * 24 * 3600));
        if state.delayed.insert(key, ready_at) {
            // The earliest delay moved: a sleeping worker must re-arm its timer.
            inner.wake_a_waiting_worker(&state);
        }
    }
}

/// Keys waiting for a delay: a min-heap on the time they are due, plus each key's current
/// entry so a key waits only once. Heap entries superseded by an earlier delay stay in the heap
/// until they surface, and are skipped then.
pub(super) struct Delayed<K> {
    heap: BinaryHeap<Waiting<K>>,
    /// Each waiting key's due time and the sequence number of its live heap entry.
    waiting: HashMap<K, (Instant, u64)>,
    next_seq: u64,
}

struct Waiting<K> {
    ready_at: Instant,
    seq: u64,
    key: K,
}

impl<K> Default for Delayed<K> {
    fn default() -> Self {
        Self {
            heap: BinaryHeap::new(),
            waiting: HashMap::new(),
            next_seq: 0,
        }
    }
}

impl<K> Delayed<K> {
    pub(super) fn len(&self) -> usize {
        self.waiting.len()
    }

    pub(super) fn is_empty(&self) -> bool {
        self.waiting.is_empty()
    }

    pub(super) fn clear(&mut self) {
        self.heap.clear();
        self.waiting.clear();
    }
}

impl<K: Clone + Eq + Hash> Delayed<K> {
    /// Schedule `key` at `ready_at` unless it is already due sooner. Returns whether this is now
    /// the earliest due time of all.
    pub(super) fn insert(&mut self, key: K, ready_at: Instant) -> bool {
        let seq = self.next_seq;
        match self.waiting.entry(key) {
            Entry::Occupied(mut entry) => {
                if entry.get().0 <= ready_at {
                    return false;
                }
                entry.insert((ready_at, seq));
                self.heap.push(Waiting {
                    ready_at,
                    seq,
                    key: entry.key().clone(),
                });
            }
            Entry::Vacant(entry) => {
                self.heap.push(Waiting {
                    ready_at,
                    seq,
                    key: entry.key().clone(),
                });
                entry.insert((ready_at, seq));
            }
        }
        self.next_seq += 1;
        self.heap.peek().is_some_and(|top| top.seq == seq)
    }

    /// The earliest due time, if any key is waiting.
    pub(super) fn next_ready_at(&mut self) -> Option<Instant> {
        self.drop_superseded();
        self.heap.peek().map(|top| top.ready_at)
    }

    /// Take one key that is due at `now`, with the time it became due.
    pub(super) fn pop_due(&mut self, now: Instant) -> Option<(K, Instant)> {
        self.drop_superseded();
        if self.heap.peek()?.ready_at > now {
            return None;
        }
        let Waiting { ready_at, key, .. } = self.heap.pop()?;
        self.waiting.remove(&key);
        Some((key, ready_at))
    }

    fn drop_superseded(&mut self) {
        while let Some(top) = self.heap.peek() {
            if self
                .waiting
                .get(&top.key)
                .is_some_and(|&(_, seq)| seq == top.seq)
            {
                return;
            }
            self.heap.pop();
        }
    }
}

// `BinaryHeap` is a max-heap: order by reversed due time (then insertion) to pop the earliest.
impl<K> Ord for Waiting<K> {
    fn cmp(&self, other: &Self) -> Ordering {
        other
            .ready_at
            .cmp(&self.ready_at)
            .then_with(|| other.seq.cmp(&self.seq))
    }
}

impl<K> PartialOrd for Waiting<K> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl<K> PartialEq for Waiting<K> {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl<K> Eq for Waiting<K> {}

#[cfg(test)]
mod tests {
    use futures::FutureExt;

    use super::*;

    const MS: Duration = Duration::from_millis(1);

    /// Spawn a worker that records when it got each key, relative to `start`.
    fn record_gets(
        queue: &WorkQueue<&'static str>,
        start: Instant,
    ) -> tokio::task::JoinHandle<Vec<(&'static str, Duration)>> {
        let queue = queue.clone();
        tokio::spawn(async move {
            let mut got = Vec::new();
            while let Some(key) = queue.get().await {
                got.push((key, start.elapsed()));
                queue.done(&key);
            }
            got
        })
    }

    #[tokio::test(start_paused = true)]
    async fn a_delayed_key_is_added_when_its_delay_ends() {
        let queue = WorkQueue::new();
        let start = Instant::now();
        let worker = record_gets(&queue, start);
        queue.add_after("slow", 50 * MS);
        queue.add_after("fast", 10 * MS);
        queue.add_after("now", Duration::ZERO);

        tokio::time::sleep(9 * MS).await;
        assert_eq!(queue.len(), 0);
        tokio::time::sleep(Duration::from_secs(1)).await;
        queue.shutdown();
        assert_eq!(
            worker.await.unwrap(),
            [
                ("now", Duration::ZERO),
                ("fast", 10 * MS),
                ("slow", 50 * MS)
            ]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_batched_burst_is_one_get_after_the_first_adds_period() {
        let queue = WorkQueue::new();
        let start = Instant::now();
        let worker = record_gets(&queue, start);
        for _ in 0..10 {
            queue.add_batched("policy", 250 * MS);
            tokio::time::sleep(20 * MS).await;
        }
        // The burst (0-180 ms) is one reconcile at 250 ms; a later event waits its own period.
        tokio::time::sleep(200 * MS).await;
        queue.add_batched("policy", 250 * MS);
        tokio::time::sleep(Duration::from_secs(1)).await;
        queue.shutdown();
        assert_eq!(
            worker.await.unwrap(),
            [("policy", 250 * MS), ("policy", 650 * MS)]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn without_a_waiting_worker_len_sees_expired_delays() {
        let queue = WorkQueue::new();
        queue.add_after(1, 10 * MS);
        assert_eq!(queue.len(), 0);
        tokio::time::sleep(10 * MS).await;
        assert_eq!(queue.len(), 1);
        assert_eq!(queue.get().now_or_never(), Some(Some(1)));
    }

    #[tokio::test(start_paused = true)]
    async fn the_earliest_pending_delay_wins() {
        let queue = WorkQueue::new();
        let start = Instant::now();
        let worker = record_gets(&queue, start);

        queue.add_after("a", 100 * MS);
        queue.add_after("a", 20 * MS); // earlier: moves it
        queue.add_after("a", 300 * MS); // later: ignored
        queue.add_after("b", 50 * MS);

        tokio::time::sleep(Duration::from_secs(1)).await;
        queue.shutdown();
        assert_eq!(
            worker.await.unwrap(),
            [("a", 20 * MS), ("b", 50 * MS)],
            "`a` once, at its earliest delay"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn an_earlier_delay_wakes_a_worker_sleeping_on_a_later_one() {
        let queue = WorkQueue::new();
        let start = Instant::now();
        let worker = record_gets(&queue, start);
        queue.add_after("late", Duration::from_secs(60));
        tokio::time::sleep(MS).await; // the worker now sleeps until 60 s
        queue.add_after("early", 5 * MS);
        tokio::time::sleep(Duration::from_secs(120)).await;
        queue.shutdown();
        assert_eq!(
            worker.await.unwrap(),
            [("early", 6 * MS), ("late", Duration::from_secs(60))]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_key_waiting_for_a_delay_can_be_added_directly() {
        let queue = WorkQueue::new();
        queue.add_after("a", 10 * MS);
        queue.add("a");
        assert_eq!(queue.get().await, Some("a"), "added at once");
        tokio::time::sleep(10 * MS).await;
        assert_eq!(queue.len(), 0, "still processing: re-added, waits for done");
        queue.done(&"a");
        assert_eq!(
            queue.len(),
            1,
            "the delayed add takes effect, as in client-go"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn shutdown_drops_delayed_keys() {
        let queue = WorkQueue::new();
        queue.add_after("a", 10 * MS);
        queue.shutdown();
        queue.add_after("b", Duration::ZERO);
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert_eq!(queue.len(), 0);
        assert_eq!(queue.get().await, None);
    }

    #[tokio::test(start_paused = true)]
    async fn a_huge_delay_does_not_overflow() {
        let queue = WorkQueue::new();
        queue.add_after(1, Duration::MAX);
        tokio::time::sleep(Duration::from_secs(3600)).await;
        assert_eq!(queue.len(), 0);
    }
}
