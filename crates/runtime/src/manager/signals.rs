//! The shutdown signal of a process run by Kubernetes: SIGTERM (sent on pod deletion) or
//! SIGINT (Ctrl-C), as controller-runtime's `SetupSignalHandler`.

/// Resolves when the process receives SIGTERM or SIGINT (Ctrl-C on non-Unix systems).
/// Pass it to [`Manager::run`](super::Manager::run).
///
/// ```no_run
/// # async fn demo(manager: kubeforge_runtime::manager::Manager) {
/// use kubeforge_runtime::manager::shutdown_signal;
/// manager.run(shutdown_signal()).await.unwrap();
/// # }
/// ```
pub async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) {
            (Ok(mut term), Ok(mut int)) => {
                tokio::select! {
                    _ = term.recv() => tracing::info!("SIGTERM: shutting down"),
                    _ = int.recv() => tracing::info!("SIGINT: shutting down"),
                }
            }
            _ => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
