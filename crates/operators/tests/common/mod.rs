//! What the operator tests share: an in-process API server with simulated workloads, the
//! operators' CRDs installed, the operators running against it, and polling for outcomes.

#![allow(dead_code)]

use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::api::events::v1::Event;
use kube::api::{Api, ListParams, PostParams};
use kube::{Client, Resource};
use kubeforge_apiserver::ApiServer;
use kubeforge_operators::runner::{self, RunOptions};
use std::future::Future;
use std::time::Duration;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// How long an outcome may take before a test fails.
pub const PATIENCE: Duration = Duration::from_secs(30);

/// A running API server with operators reconciling against it.
pub struct Env {
    pub server: ApiServer,
    pub client: Client,
    stop: Option<oneshot::Sender<()>>,
    operators: Option<JoinHandle<anyhow::Result<()>>>,
}

impl Env {
    /// An in-memory server with simulated workloads, the CRDs of `operators` installed and
    /// `operators` (`foo`, `codis`, `foo,codis`) running.
    pub async fn start(operators: &str) -> anyhow::Result<Env> {
        let server = ApiServer::builder()
            .in_memory()
            .simulate_workloads(true)
            .start()
            .await?;
        let client = server.client();
        let selected = kubeforge_operators::select(operators)?;
        kubeforge_operators::install::install_crds(&client, &selected, PATIENCE).await?;
        let (stop, stopped) = oneshot::channel::<()>();
        let run_client = client.clone();
        let operators = tokio::spawn(async move {
            runner::run(run_client, &selected, RunOptions::default(), async {
                let _ = stopped.await;
            })
            .await?;
            Ok(())
        });
        Ok(Env {
            server,
            client,
            stop: Some(stop),
            operators: Some(operators),
        })
    }

    /// Stops the operators (they must stop cleanly), then the server.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.operators.take() {
            tokio::time::timeout(Duration::from_secs(10), task).await???;
        }
        self.server.shutdown().await;
        Ok(())
    }

    /// Creates namespace `name`.
    pub async fn namespace(&self, name: &str) -> anyhow::Result<()> {
        let api: Api<Namespace> = Api::all(self.client.clone());
        let ns: Namespace =
            serde_json::from_value(serde_json::json!({"metadata": {"name": name}}))?;
        api.create(&PostParams::default(), &ns).await?;
        Ok(())
    }
}

/// Polls `check` every 50 ms until it returns `Some`, failing after [`PATIENCE`] with `what`.
pub async fn eventually<T, F, Fut>(what: &str, mut check: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<Option<T>>>,
{
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        if let Some(value) = check().await? {
            return Ok(value);
        }
        if tokio::time::Instant::now() > deadline {
            anyhow::bail!("timed out waiting for: {what}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The events (`events.k8s.io/v1`) about `object` with `reason`.
pub async fn events_about<K: Resource<DynamicType = ()>>(
    client: &Client,
    object: &K,
    reason: &str,
) -> anyhow::Result<Vec<Event>> {
    let namespace = object.meta().namespace.clone().unwrap_or_default();
    let name = object.meta().name.clone().unwrap_or_default();
    let api: Api<Event> = Api::namespaced(client.clone(), &namespace);
    Ok(api
        .list(&ListParams::default())
        .await?
        .items
        .into_iter()
        .filter(|e| {
            e.reason.as_deref() == Some(reason)
                && e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some(name.as_str())
                && e.regarding.as_ref().and_then(|r| r.kind.as_deref())
                    == Some(K::kind(&()).as_ref())
        })
        .collect())
}

/// How many times events about `object` with `reason` occurred (series counted).
pub async fn occurrences<K: Resource<DynamicType = ()>>(
    client: &Client,
    object: &K,
    reason: &str,
) -> anyhow::Result<i32> {
    Ok(events_about(client, object, reason)
        .await?
        .iter()
        .map(|e| e.series.as_ref().map_or(1, |s| s.count))
        .sum())
}

/// The status code of a failed API call (0 when it did not fail with a Status).
pub fn code<T>(result: &Result<T, kube::Error>) -> u16 {
    match result {
        Err(kube::Error::Api(status)) => status.code,
        _ => 0,
    }
}
