//! Rate-limited requeues: [`WorkQueue::add_rate_limited`], [`WorkQueue::forget`] and
//! [`WorkQueue::num_requeues`].
//!
//! Guarantees (client-go's rate-limiting queue): `add_rate_limited(key)` is exactly
//! `add_after(key, limiter.when(key))`, so a key failing again and again waits longer each time
//! (with the default limiter 5 ms, 10 ms, 20 ms, … up to 1000 s), until `forget(key)` resets it.
//! How long is decided by the queue's [`RateLimiter`](super::RateLimiter), set on the builder.

use std::hash::Hash;

use super::WorkQueue;

impl<K> WorkQueue<K>
where
    K: Clone + Eq + Hash + Send + Sync + 'static,
{
    /// Add `key` after the delay the rate limiter decides, counting one more failure for it.
    ///
    /// ```
    /// use kubeforge_runtime::workqueue::WorkQueue;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let queue = WorkQueue::new(); // default controller rate limiter
    /// queue.add_rate_limited("default/web"); // back in 5 ms
    /// assert_eq!(queue.num_requeues(&"default/web"), 1);
    /// let key = queue.get().await.unwrap();
    /// // ...reconciled successfully this time:
    /// queue.forget(&key);
    /// queue.done(&key);
    /// assert_eq!(queue.num_requeues(&"default/web"), 0);
    /// # }
    /// ```
    pub fn add_rate_limited(&self, key: K) {
        let delay = self.inner.rate_limiter.when(&key);
        self.add_after(key, delay);
    }

    /// Reset `key`'s failures in the rate limiter; call when it was processed successfully.
    ///
    /// This only affects rate limiting: it neither removes a queued key nor completes one being
    /// processed (that is [`done`](Self::done)).
    pub fn forget(&self, key: &K) {
        self.inner.rate_limiter.forget(key);
    }

    /// How many times `key` was rate-limited since it was last forgotten.
    pub fn num_requeues(&self, key: &K) -> u32 {
        self.inner.rate_limiter.num_requeues(key)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tokio::time::Instant;

    use super::*;
    use crate::workqueue::ItemExponentialFailureRateLimiter;

    const MS: Duration = Duration::from_millis(1);

    /// Fail `key` `times` times in a row; return how long each retry waited.
    async fn retry_delays(
        queue: &WorkQueue<&'static str>,
        key: &'static str,
        times: usize,
    ) -> Vec<Duration> {
        let mut delays = Vec::new();
        for _ in 0..times {
            let failed_at = Instant::now();
            queue.add_rate_limited(key);
            let got = queue.get().await.unwrap();
            delays.push(failed_at.elapsed());
            queue.done(&got);
        }
        delays
    }

    #[tokio::test(start_paused = true)]
    async fn requeues_wait_5_10_20_ms_and_so_on_up_to_the_cap() {
        let queue = WorkQueue::builder()
            .rate_limiter(ItemExponentialFailureRateLimiter::new(5 * MS, 100 * MS))
            .build();
        let delays = retry_delays(&queue, "a", 7).await;
        assert_eq!(
            delays,
            [
                5 * MS,
                10 * MS,
                20 * MS,
                40 * MS,
                80 * MS,
                100 * MS,
                100 * MS
            ]
        );
        assert_eq!(queue.num_requeues(&"a"), 7);
    }

    #[tokio::test(start_paused = true)]
    async fn the_default_limiter_backs_off_from_5_ms() {
        let queue = WorkQueue::new();
        let delays = retry_delays(&queue, "a", 4).await;
        assert_eq!(delays, [5 * MS, 10 * MS, 20 * MS, 40 * MS]);
    }

    #[tokio::test(start_paused = true)]
    async fn forget_resets_the_backoff() {
        let queue = WorkQueue::new();
        retry_delays(&queue, "a", 3).await;
        assert_eq!(queue.num_requeues(&"a"), 3);
        queue.forget(&"a");
        assert_eq!(queue.num_requeues(&"a"), 0);
        assert_eq!(retry_delays(&queue, "a", 1).await, [5 * MS]);
    }

    #[tokio::test(start_paused = true)]
    async fn keys_back_off_independently() {
        let queue = WorkQueue::new();
        retry_delays(&queue, "a", 3).await;
        assert_eq!(retry_delays(&queue, "b", 1).await, [5 * MS]);
        assert_eq!(retry_delays(&queue, "a", 1).await, [40 * MS]);
    }
}
