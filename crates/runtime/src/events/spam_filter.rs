//! The per-object spam filter of client-go's `tools/record`: each object may cause a burst of
//! 25 event writes, then one more every 5 minutes (a token bucket per object).

use std::time::Duration;
use tokio::time::Instant;

/// One object's bucket.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Bucket {
    tokens: f64,
    refilled_at: Instant,
}

impl Bucket {
    /// A full bucket.
    pub(crate) fn full(burst: u32, now: Instant) -> Self {
        Bucket {
            tokens: f64::from(burst),
            refilled_at: now,
        }
    }

    /// Whether the bucket has refilled completely by `now` (it can be forgotten: a new full
    /// bucket is the same).
    pub(crate) fn is_full_at(&self, burst: u32, refill: Duration, now: Instant) -> bool {
        if refill.is_zero() {
            return true;
        }
        let earned = now.duration_since(self.refilled_at).as_secs_f64() / refill.as_secs_f64();
        self.tokens + earned >= f64::from(burst)
    }

    /// Takes a token if one is left after refilling at one per `refill` since the last time.
    pub(crate) fn try_take(&mut self, burst: u32, refill: Duration, now: Instant) -> bool {
        if !refill.is_zero() {
            let earned = now.duration_since(self.refilled_at).as_secs_f64() / refill.as_secs_f64();
            self.tokens = (self.tokens + earned).min(f64::from(burst));
        }
        self.refilled_at = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn burst_then_refill() {
        let refill = Duration::from_secs(300);
        let now = Instant::now();
        let mut b = Bucket::full(2, now);
        assert!(b.try_take(2, refill, now));
        assert!(b.try_take(2, refill, now));
        assert!(!b.try_take(2, refill, now));
        assert!(!b.try_take(2, refill, now + Duration::from_secs(299)));
        assert!(b.try_take(2, refill, now + Duration::from_secs(301)));
    }
}
