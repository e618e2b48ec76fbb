//! Retrying a read-modify-write on conflict (client-go's `retry.RetryOnConflict` with
//! `retry.DefaultRetry`: 5 attempts, 10 ms apart, 10% jitter).
//!
//! A write carrying the resourceVersion it read fails with 409 Conflict when someone else
//! wrote in between; reading again and re-applying the change is then the right answer.

use rand::Rng;
use std::future::Future;
use std::time::Duration;

/// Attempts made by [`retry_on_conflict`] (client-go's `DefaultRetry.Steps`).
pub const CONFLICT_ATTEMPTS: u32 = 5;
/// Pause between attempts (client-go's `DefaultRetry.Duration`), jittered by up to 10%.
const CONFLICT_PAUSE: Duration = Duration::from_millis(10);

/// Whether `error` is the API server's 409 Conflict.
pub fn is_conflict(error: &kube::Error) -> bool {
    matches!(error, kube::Error::Api(status) if status.is_conflict())
}

/// Runs `attempt` (a read-modify-write) until it does not fail with a conflict, at most
/// [`CONFLICT_ATTEMPTS`] times; the last conflict is returned if all conflicted.
///
/// ```no_run
/// # async fn demo(api: kube::Api<k8s_openapi::api::core::v1::ConfigMap>) -> Result<(), kube::Error> {
/// use kube::api::PostParams;
/// use kubeforge_runtime::client::retry_on_conflict;
///
/// retry_on_conflict(|| async {
///     let mut cm = api.get("settings").await?;
///     cm.data.get_or_insert_default().insert("mode".into(), "fast".into());
///     api.replace("settings", &PostParams::default(), &cm).await
/// })
/// .await?;
/// # Ok(()) }
/// ```
pub async fn retry_on_conflict<T, F, Fut>(mut attempt: F) -> Result<T, kube::Error>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, kube::Error>>,
{
    let mut tries = 1;
    loop {
        match attempt().await {
            Err(e) if retry_after_conflict(&e, &mut tries).await => {}
            other => return other,
        }
    }
}

/// Whether the attempt that failed with `error` should be retried (a conflict, attempts
/// left); if so, waits the pause and counts the attempt in `tries`.
pub(crate) async fn retry_after_conflict(error: &kube::Error, tries: &mut u32) -> bool {
    if !is_conflict(error) || *tries >= CONFLICT_ATTEMPTS {
        return false;
    }
    *tries += 1;
    let jitter = rand::rng().random_range(0.0..0.1);
    tokio::time::sleep(CONFLICT_PAUSE.mul_f64(1.0 + jitter)).await;
    true
}
