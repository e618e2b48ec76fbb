//! The operators' shutdown hooks: registered while the operators are built (eventhorizon
//! registers its queue drain), run once after the controllers stop, before `run` returns.

use kubeforge_apiserver::ApiServer;
use kubeforge_operators::runner::{Operators, RunOptions};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

#[tokio::test]
async fn hooks_run_once_after_the_controllers_stop() -> anyhow::Result<()> {
    let server = ApiServer::builder().in_memory().start().await?;
    let client = server.client();
    let selected = kubeforge_operators::select("eventhorizon")?;
    kubeforge_operators::install::install_crds(
        &client,
        &selected,
        std::time::Duration::from_secs(30),
    )
    .await?;
    let operators = Operators::new(client, &selected, RunOptions::default())?;
    let hooks = operators.shutdown_hooks();
    assert_eq!(hooks.len(), 1, "eventhorizon registers its drain");
    let ran = Arc::new(AtomicUsize::new(0));
    let counted = ran.clone();
    hooks.add(move || {
        Box::pin(async move {
            counted.fetch_add(1, Ordering::SeqCst);
        })
    });
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(operators.run(async {
        let _ = stopped.await;
    }));
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert_eq!(ran.load(Ordering::SeqCst), 0, "not before shutdown");
    let _ = stop.send(());
    running.await??;
    assert_eq!(ran.load(Ordering::SeqCst), 1, "once, before run returned");
    assert!(hooks.is_empty());
    server.shutdown().await;
    Ok(())
}
