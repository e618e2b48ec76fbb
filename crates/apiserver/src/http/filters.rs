//! The request filters every request passes before its handler, as kube-apiserver's handler
//! chain has them: panic recovery, the in-flight limits and the request deadline.
//!
//! What they guarantee:
//! - **A panic is a 500, not a closed connection.** A handler that panics answers a `Status`
//!   with kube-apiserver's message; the server and every other request go on.
//! - **A flood is answered, not queued.** At most `max_requests_inflight` read-only and
//!   `max_mutating_requests_inflight` mutating requests run at once (kube-apiserver's defaults:
//!   400 and 200); past that a request gets 429 with `Retry-After: 1`, which client-go and kube-rs
//!   clients retry. Watches are long-running and not counted, as upstream.
//! - **No request runs unbounded.** A request that is not long-running is answered 504 after
//!   its deadline (kube-apiserver's `--request-timeout`, 60 s), also while its body is still
//!   being sent. Work already handed to storage completes or not as it would on a timeout
//!   upstream: the client is told it did not complete in time.

use crate::status::ApiError;
use axum::http::{Method, Uri};
use futures::FutureExt;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Bounds on requests.
#[derive(Debug, Clone, Copy)]
pub struct RequestLimits {
    /// Read-only requests served at once (`--max-requests-inflight`); 0 means no limit.
    pub max_requests_inflight: usize,
    /// Mutating requests served at once (`--max-mutating-requests-inflight`); 0 means no limit.
    pub max_mutating_requests_inflight: usize,
    /// How long a request that is not long-running may take (`--request-timeout`).
    pub request_timeout: Duration,
}

impl Default for RequestLimits {
    fn default() -> Self {
        RequestLimits {
            max_requests_inflight: 400,
            max_mutating_requests_inflight: 200,
            request_timeout: Duration::from_secs(60),
        }
    }
}

/// The filters' shared state.
#[derive(Debug)]
pub struct Filters {
    limits: RequestLimits,
    readonly: Option<Arc<Semaphore>>,
    mutating: Option<Arc<Semaphore>>,
}

impl Filters {
    /// Filters with `limits`.
    pub fn new(limits: RequestLimits) -> Self {
        let semaphore = |n: usize| (n > 0).then(|| Arc::new(Semaphore::new(n)));
        Filters {
            limits,
            readonly: semaphore(limits.max_requests_inflight),
            mutating: semaphore(limits.max_mutating_requests_inflight),
        }
    }

    /// Runs `handler` for a request with `method` and `uri` inside the filters.
    pub async fn run<F>(
        &self,
        method: &Method,
        uri: &Uri,
        handler: F,
    ) -> Result<F::Output, ApiError>
    where
        F: Future,
    {
        let long_running = is_long_running(method, uri);
        let _permit = if long_running {
            None
        } else {
            self.admit(method)?
        };
        let guarded = AssertUnwindSafe(handler).catch_unwind();
        let outcome = if long_running {
            guarded.await
        } else {
            match tokio::time::timeout(self.limits.request_timeout, guarded).await {
                Ok(outcome) => outcome,
                Err(_) => return Err(timed_out()),
            }
        };
        outcome.map_err(|panic| {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            tracing::error!(%method, %uri, panic = %what, "request handler panicked");
            ApiError::internal_panic()
        })
    }

    /// The in-flight slots taken now: (read-only, mutating); 0 for a kind without a limit.
    pub fn inflight(&self) -> (usize, usize) {
        let taken = |pool: &Option<Arc<Semaphore>>, limit: usize| {
            pool.as_ref()
                .map_or(0, |p| limit.saturating_sub(p.available_permits()))
        };
        (
            taken(&self.readonly, self.limits.max_requests_inflight),
            taken(&self.mutating, self.limits.max_mutating_requests_inflight),
        )
    }

    /// A slot among the in-flight requests of the request's kind, or 429.
    fn admit(&self, method: &Method) -> Result<Option<OwnedSemaphorePermit>, ApiError> {
        let mutating = !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS);
        let pool = if mutating {
            &self.mutating
        } else {
            &self.readonly
        };
        match pool {
            None => Ok(None),
            Some(pool) => pool
                .clone()
                .try_acquire_owned()
                .map(Some)
                .map_err(|_| ApiError::too_many_requests()),
        }
    }
}

/// upstream's timeout filter: `request did not complete within requested timeout`.
fn timed_out() -> ApiError {
    ApiError::timeout(
        "request did not complete within requested timeout - context deadline exceeded",
    )
}

/// Watches (`?watch=true`, the legacy `/watch/` paths) run as long as the client keeps them.
pub fn is_long_running(method: &Method, uri: &Uri) -> bool {
    if *method != Method::GET {
        return false;
    }
    let watch_param = form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
        .any(|(k, v)| k == "watch" && matches!(&*v, "true" | "1" | "True"));
    watch_param || uri.path().split('/').any(|segment| segment == "watch")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uri(s: &str) -> Uri {
        s.parse().expect("uri")
    }

    #[test]
    fn watches_are_long_running() {
        assert!(is_long_running(
            &Method::GET,
            &uri("/api/v1/pods?watch=true")
        ));
        assert!(is_long_running(
            &Method::GET,
            &uri("/api/v1/pods?watch=1&rv=3")
        ));
        assert!(is_long_running(&Method::GET, &uri("/api/v1/watch/pods")));
        assert!(!is_long_running(
            &Method::GET,
            &uri("/api/v1/pods?watch=false")
        ));
        assert!(!is_long_running(
            &Method::DELETE,
            &uri("/api/v1/pods?watch=1")
        ));
    }

    #[tokio::test]
    async fn a_panic_is_a_500() {
        let filters = Filters::new(RequestLimits::default());
        let err = filters
            .run(&Method::GET, &uri("/api"), async { panic!("boom") })
            .await
            .expect_err("a panic");
        assert_eq!(err.code, 500);
        assert_eq!(
            err.message,
            "This request caused apiserver to panic. Look in the logs for details."
        );
    }

    #[tokio::test]
    async fn past_the_limit_is_a_429() {
        let filters = Filters::new(RequestLimits {
            max_mutating_requests_inflight: 1,
            ..RequestLimits::default()
        });
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let path = uri("/api/v1/namespaces");
        let first = filters.run(&Method::POST, &path, rx);
        let second = async {
            tokio::task::yield_now().await;
            let answer = filters
                .run(&Method::POST, &uri("/api/v1/namespaces"), async {})
                .await;
            let read = filters
                .run(&Method::GET, &uri("/api/v1/namespaces"), async {})
                .await;
            let _ = tx.send(());
            (answer, read)
        };
        let (first, (second, read)) = tokio::join!(first, second);
        assert!(first.is_ok());
        let err = second.expect_err("over the mutating limit");
        assert_eq!((err.code, err.retry_after), (429, Some(1)));
        assert!(read.is_ok(), "reads have their own limit");
    }

    #[tokio::test(start_paused = true)]
    async fn a_slow_request_times_out() {
        let filters = Filters::new(RequestLimits::default());
        let err = filters
            .run(
                &Method::GET,
                &uri("/api/v1/pods"),
                std::future::pending::<()>(),
            )
            .await
            .expect_err("deadline");
        assert_eq!((err.code, err.reason), (504, "Timeout"));
        // A watch has no deadline.
        let path = uri("/api/v1/pods?watch=1");
        let watch = filters.run(&Method::GET, &path, async {
            tokio::time::sleep(Duration::from_secs(600)).await;
        });
        assert!(watch.await.is_ok());
    }
}
