//! Rate limiters: how long a key waits before it is retried.
//!
//! A [`RateLimiter`] answers [`when`](RateLimiter::when) a failed key may be retried (and counts
//! the failure), [`forget`](RateLimiter::forget)s a key that succeeded, and reports how often a
//! key was requeued. The limiters are client-go's:
//!
//! - [`ItemExponentialFailureRateLimiter`]: per key, `base · 2^failures`, capped at `max`;
//! - [`BucketRateLimiter`]: one token bucket for all keys (`qps`, `burst`); overall rate only;
//! - [`ItemFastSlowRateLimiter`]: per key, a fast delay for the first attempts, then a slow one;
//! - [`MaxOfRateLimiter`]: the longest delay of several limiters;
//! - [`default_controller_rate_limiter`]: controller-runtime's default, the max of per-key
//!   exponential backoff (5 ms to 1000 s) and a 10 qps, burst 100 bucket.
//!
//! Time comes from [`tokio::time`], so paused-time tests are exact.

use std::collections::HashMap;
use std::fmt;
use std::hash::Hash;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::time::Instant;

/// Decides how long a key waits before it is retried.
///
/// Implementations use interior mutability: one limiter serves every worker of a queue.
pub trait RateLimiter<K>: Send + Sync {
    /// How long `key` must wait before its next retry; records one more failure for it.
    fn when(&self, key: &K) -> Duration;
    /// Stop tracking `key` (it succeeded): its next failure starts from scratch.
    fn forget(&self, key: &K);
    /// How many times `key` has failed since it was last forgotten.
    fn num_requeues(&self, key: &K) -> u32;
}

impl<K, R: RateLimiter<K> + ?Sized> RateLimiter<K> for Box<R> {
    fn when(&self, key: &K) -> Duration {
        (**self).when(key)
    }
    fn forget(&self, key: &K) {
        (**self).forget(key)
    }
    fn num_requeues(&self, key: &K) -> u32 {
        (**self).num_requeues(key)
    }
}

impl<K, R: RateLimiter<K> + ?Sized> RateLimiter<K> for Arc<R> {
    fn when(&self, key: &K) -> Duration {
        (**self).when(key)
    }
    fn forget(&self, key: &K) {
        (**self).forget(key)
    }
    fn num_requeues(&self, key: &K) -> u32 {
        (**self).num_requeues(key)
    }
}

/// controller-runtime's default: the longer of per-key exponential backoff from 5 ms to
/// 1000 s and an overall token bucket of 10 qps with a burst of 100.
///
/// ```
/// use std::time::Duration;
/// use kubeforge_runtime::workqueue::{RateLimiter, default_controller_rate_limiter};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let limiter = default_controller_rate_limiter();
/// assert_eq!(limiter.when(&"a"), Duration::from_millis(5));
/// assert_eq!(limiter.when(&"a"), Duration::from_millis(10));
/// assert_eq!(limiter.num_requeues(&"a"), 2);
/// # }
/// ```
pub fn default_controller_rate_limiter<K>() -> MaxOfRateLimiter<K>
where
    K: Clone + Eq + Hash + Send + Sync + 'static,
{
    MaxOfRateLimiter::new(vec![
        Box::new(ItemExponentialFailureRateLimiter::new(
            Duration::from_millis(5),
            Duration::from_secs(1000),
        )),
        Box::new(BucketRateLimiter::new(10.0, 100)),
    ])
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every critical section below leaves the state valid even if it panics midway.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Per-key exponential backoff: `base · 2^failures`, capped at `max`.
///
/// ```
/// use std::time::Duration;
/// use kubeforge_runtime::workqueue::{ItemExponentialFailureRateLimiter, RateLimiter};
///
/// let limiter = ItemExponentialFailureRateLimiter::new(Duration::from_millis(5), Duration::from_millis(15));
/// assert_eq!(limiter.when(&"a"), Duration::from_millis(5));
/// assert_eq!(limiter.when(&"a"), Duration::from_millis(10));
/// assert_eq!(limiter.when(&"a"), Duration::from_millis(15)); // capped
/// assert_eq!(limiter.when(&"b"), Duration::from_millis(5)); // per key
/// limiter.forget(&"a");
/// assert_eq!(limiter.when(&"a"), Duration::from_millis(5));
/// ```
pub struct ItemExponentialFailureRateLimiter<K> {
    base: Duration,
    max: Duration,
    failures: Mutex<HashMap<K, u32>>,
}

impl<K> ItemExponentialFailureRateLimiter<K> {
    /// Wait `base` after the first failure, doubling with each further failure up to `max`.
    pub fn new(base: Duration, max: Duration) -> Self {
        Self {
            base,
            max,
            failures: Mutex::new(HashMap::new()),
        }
    }
}

impl<K> fmt::Debug for ItemExponentialFailureRateLimiter<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ItemExponentialFailureRateLimiter")
            .field("base", &self.base)
            .field("max", &self.max)
            .field("tracked_keys", &lock(&self.failures).len())
            .finish()
    }
}

impl<K> RateLimiter<K> for ItemExponentialFailureRateLimiter<K>
where
    K: Clone + Eq + Hash + Send + Sync,
{
    fn when(&self, key: &K) -> Duration {
        let exponent = {
            let mut failures = lock(&self.failures);
            let count = failures.entry(key.clone()).or_insert(0);
            let exponent = *count;
            *count = count.saturating_add(1);
            exponent
        };
        // In nanoseconds as u128, so even large exponents cannot overflow before the cap.
        if exponent >= 64 {
            return self.max;
        }
        let backoff = self.base.as_nanos().saturating_mul(1u128 << exponent);
        if backoff >= self.max.as_nanos() {
            return self.max;
        }
        Duration::from_nanos(u64::try_from(backoff).unwrap_or(u64::MAX))
    }

    fn forget(&self, key: &K) {
        lock(&self.failures).remove(key);
    }

    fn num_requeues(&self, key: &K) -> u32 {
        lock(&self.failures).get(key).copied().unwrap_or(0)
    }
}

/// An overall token bucket, shared by all keys: `burst` retries at once, then `qps` per second.
///
/// `when` reserves a token and returns how long until it is available, so delays grow as
/// retries outpace the rate. It tracks no key: `forget` does nothing and `num_requeues` is 0.
///
/// ```
/// use std::time::Duration;
/// use kubeforge_runtime::workqueue::{BucketRateLimiter, RateLimiter};
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// let limiter = BucketRateLimiter::new(10.0, 2);
/// assert_eq!(limiter.when(&"a"), Duration::ZERO);
/// assert_eq!(limiter.when(&"b"), Duration::ZERO);
/// assert_eq!(limiter.when(&"c"), Duration::from_millis(100)); // burst used up
/// # }
/// ```
#[derive(Debug)]
pub struct BucketRateLimiter {
    qps: f64,
    burst: f64,
    bucket: Mutex<Bucket>,
}

#[derive(Debug)]
struct Bucket {
    /// Tokens available at `updated`; negative when reserved ahead.
    tokens: f64,
    updated: Option<Instant>,
}

impl BucketRateLimiter {
    /// A bucket holding `burst` tokens, refilled at `qps` tokens per second. It starts full.
    ///
    /// # Panics
    /// If `qps` is not a positive number.
    pub fn new(qps: f64, burst: u32) -> Self {
        assert!(qps > 0.0, "a token bucket needs a positive rate, got {qps}");
        Self {
            qps,
            burst: f64::from(burst),
            bucket: Mutex::new(Bucket {
                tokens: f64::from(burst),
                updated: None,
            }),
        }
    }
}

impl<K> RateLimiter<K> for BucketRateLimiter {
    fn when(&self, _key: &K) -> Duration {
        let now = Instant::now();
        let mut bucket = lock(&self.bucket);
        if let Some(updated) = bucket.updated {
            let refilled = now.saturating_duration_since(updated).as_secs_f64() * self.qps;
            bucket.tokens = (bucket.tokens + refilled).min(self.burst);
        }
        bucket.updated = Some(now);
        bucket.tokens -= 1.0;
        if bucket.tokens >= 0.0 {
            return Duration::ZERO;
        }
        // Round to whole nanoseconds so exact rates give exact delays (1 / 10 qps = 100 ms).
        let nanos = (-bucket.tokens / self.qps * 1e9).round();
        Duration::from_nanos(nanos as u64)
    }

    fn forget(&self, _key: &K) {}

    fn num_requeues(&self, _key: &K) -> u32 {
        0
    }
}

/// Per key: `fast` for the first `max_fast_attempts` failures, then `slow`.
///
/// ```
/// use std::time::Duration;
/// use kubeforge_runtime::workqueue::{ItemFastSlowRateLimiter, RateLimiter};
///
/// let limiter = ItemFastSlowRateLimiter::new(Duration::from_millis(10), Duration::from_secs(5), 2);
/// assert_eq!(limiter.when(&"a"), Duration::from_millis(10));
/// assert_eq!(limiter.when(&"a"), Duration::from_millis(10));
/// assert_eq!(limiter.when(&"a"), Duration::from_secs(5));
/// ```
pub struct ItemFastSlowRateLimiter<K> {
    fast: Duration,
    slow: Duration,
    max_fast_attempts: u32,
    failures: Mutex<HashMap<K, u32>>,
}

impl<K> ItemFastSlowRateLimiter<K> {
    /// Wait `fast` for the first `max_fast_attempts` failures of a key, `slow` after that.
    pub fn new(fast: Duration, slow: Duration, max_fast_attempts: u32) -> Self {
        Self {
            fast,
            slow,
            max_fast_attempts,
            failures: Mutex::new(HashMap::new()),
        }
    }
}

impl<K> fmt::Debug for ItemFastSlowRateLimiter<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ItemFastSlowRateLimiter")
            .field("fast", &self.fast)
            .field("slow", &self.slow)
            .field("max_fast_attempts", &self.max_fast_attempts)
            .field("tracked_keys", &lock(&self.failures).len())
            .finish()
    }
}

impl<K> RateLimiter<K> for ItemFastSlowRateLimiter<K>
where
    K: Clone + Eq + Hash + Send + Sync,
{
    fn when(&self, key: &K) -> Duration {
        let mut failures = lock(&self.failures);
        let count = failures.entry(key.clone()).or_insert(0);
        *count = count.saturating_add(1);
        if *count <= self.max_fast_attempts {
            self.fast
        } else {
            self.slow
        }
    }

    fn forget(&self, key: &K) {
        lock(&self.failures).remove(key);
    }

    fn num_requeues(&self, key: &K) -> u32 {
        lock(&self.failures).get(key).copied().unwrap_or(0)
    }
}

/// The longest delay of several limiters; every limiter sees every call.
///
/// ```
/// use std::time::Duration;
/// use kubeforge_runtime::workqueue::{
///     ItemExponentialFailureRateLimiter, ItemFastSlowRateLimiter, MaxOfRateLimiter, RateLimiter,
/// };
///
/// let limiter = MaxOfRateLimiter::new(vec![
///     Box::new(ItemExponentialFailureRateLimiter::new(Duration::from_millis(1), Duration::from_secs(1))),
///     Box::new(ItemFastSlowRateLimiter::new(Duration::from_millis(3), Duration::from_secs(1), 1)),
/// ]);
/// assert_eq!(limiter.when(&"a"), Duration::from_millis(3)); // max(1 ms, 3 ms)
/// assert_eq!(limiter.when(&"a"), Duration::from_secs(1)); // max(2 ms, 1 s)
/// ```
pub struct MaxOfRateLimiter<K> {
    limiters: Vec<Box<dyn RateLimiter<K>>>,
}

impl<K> MaxOfRateLimiter<K> {
    /// Combine `limiters`; with none, every delay is zero.
    pub fn new(limiters: Vec<Box<dyn RateLimiter<K>>>) -> Self {
        Self { limiters }
    }
}

impl<K> fmt::Debug for MaxOfRateLimiter<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MaxOfRateLimiter")
            .field("limiters", &self.limiters.len())
            .finish()
    }
}

impl<K> RateLimiter<K> for MaxOfRateLimiter<K> {
    fn when(&self, key: &K) -> Duration {
        // Not `max()` over a lazy iterator: every limiter must record the failure.
        self.limiters
            .iter()
            .map(|limiter| limiter.when(key))
            .fold(Duration::ZERO, Duration::max)
    }

    fn forget(&self, key: &K) {
        for limiter in &self.limiters {
            limiter.forget(key);
        }
    }

    fn num_requeues(&self, key: &K) -> u32 {
        self.limiters
            .iter()
            .map(|limiter| limiter.num_requeues(key))
            .max()
            .unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn exponential_doubles_per_failure_up_to_the_cap() {
        let limiter = ItemExponentialFailureRateLimiter::new(5 * MS, Duration::from_secs(1000));
        let delays: Vec<_> = (0..20).map(|_| limiter.when(&"a")).collect();
        let expected: Vec<_> = (0..20u32)
            .map(|n| (5 * MS * 2u32.pow(n)).min(Duration::from_secs(1000)))
            .collect();
        assert_eq!(delays, expected);
        assert_eq!(delays[17], Duration::from_millis(655_360));
        assert_eq!(delays[18], Duration::from_secs(1000), "capped");
        assert_eq!(limiter.num_requeues(&"a"), 20);
        for _ in 0..100 {
            assert_eq!(limiter.when(&"a"), Duration::from_secs(1000), "no overflow");
        }
    }

    #[test]
    fn exponential_tracks_keys_separately_and_forget_resets() {
        let limiter = ItemExponentialFailureRateLimiter::new(MS, Duration::from_secs(1));
        assert_eq!(limiter.when(&"a"), MS);
        assert_eq!(limiter.when(&"a"), 2 * MS);
        assert_eq!(limiter.when(&"b"), MS);
        assert_eq!(limiter.num_requeues(&"a"), 2);
        limiter.forget(&"a");
        assert_eq!(limiter.num_requeues(&"a"), 0);
        assert_eq!(limiter.when(&"a"), MS);
        assert_eq!(limiter.num_requeues(&"b"), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn bucket_is_free_for_the_burst_then_paces_at_qps() {
        let limiter = BucketRateLimiter::new(10.0, 100);
        for _ in 0..100 {
            assert_eq!(RateLimiter::<&str>::when(&limiter, &"a"), Duration::ZERO);
        }
        assert_eq!(limiter.when(&"a"), 100 * MS);
        assert_eq!(limiter.when(&"b"), 200 * MS, "overall, not per key");
        assert_eq!(limiter.when(&"c"), 300 * MS);

        // One second refills 10 tokens: the 3 reserved ahead, then 7 free retries.
        tokio::time::sleep(Duration::from_secs(1)).await;
        for _ in 0..7 {
            assert_eq!(limiter.when(&"a"), Duration::ZERO);
        }
        assert_eq!(limiter.when(&"a"), 100 * MS);
        assert_eq!(RateLimiter::<&str>::num_requeues(&limiter, &"a"), 0);

        // Refills never exceed the burst.
        tokio::time::sleep(Duration::from_secs(3600)).await;
        for _ in 0..100 {
            assert_eq!(limiter.when(&"a"), Duration::ZERO);
        }
        assert_eq!(limiter.when(&"a"), 100 * MS);
    }

    #[test]
    fn fast_slow_switches_after_the_fast_attempts() {
        let limiter = ItemFastSlowRateLimiter::new(5 * MS, Duration::from_secs(10), 3);
        let delays: Vec<_> = (0..5).map(|_| limiter.when(&"a")).collect();
        assert_eq!(
            delays,
            [
                5 * MS,
                5 * MS,
                5 * MS,
                Duration::from_secs(10),
                Duration::from_secs(10)
            ]
        );
        assert_eq!(limiter.when(&"b"), 5 * MS, "per key");
        assert_eq!(limiter.num_requeues(&"a"), 5);
        limiter.forget(&"a");
        assert_eq!(limiter.num_requeues(&"a"), 0);
        assert_eq!(limiter.when(&"a"), 5 * MS);
    }

    #[test]
    fn max_of_takes_the_longest_delay_and_feeds_every_limiter() {
        let limiter = MaxOfRateLimiter::new(vec![
            Box::new(ItemFastSlowRateLimiter::new(
                3 * MS,
                Duration::from_secs(10),
                3,
            )),
            Box::new(ItemExponentialFailureRateLimiter::new(
                MS,
                Duration::from_secs(1),
            )),
        ]);
        let delays: Vec<_> = (0..5).map(|_| limiter.when(&"a")).collect();
        // fast-slow: 3, 3, 3, 10 s, 10 s; exponential: 1, 2, 4, 8, 16 ms.
        assert_eq!(
            delays,
            [
                3 * MS,
                3 * MS,
                4 * MS,
                Duration::from_secs(10),
                Duration::from_secs(10)
            ]
        );
        assert_eq!(limiter.num_requeues(&"a"), 5);
        limiter.forget(&"a");
        assert_eq!(limiter.num_requeues(&"a"), 0);
        assert_eq!(limiter.when(&"a"), 3 * MS);
    }

    #[tokio::test(start_paused = true)]
    async fn default_limiter_is_exponential_per_key_and_bucketed_overall() {
        let limiter = default_controller_rate_limiter::<String>();
        let a = "a".to_owned();
        let delays: Vec<_> = (0..5).map(|_| limiter.when(&a)).collect();
        assert_eq!(delays, [5 * MS, 10 * MS, 20 * MS, 40 * MS, 80 * MS]);
        limiter.forget(&a);
        assert_eq!(limiter.num_requeues(&a), 0);

        // 5 tokens used; 95 more distinct keys fit in the burst, the 101st waits on the bucket.
        for key in 0..95 {
            assert_eq!(limiter.when(&format!("k{key}")), 5 * MS);
        }
        assert_eq!(limiter.when(&"z".to_owned()), 100 * MS);
    }
}
