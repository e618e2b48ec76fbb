//! A work queue worker loop, the shape of every client-go controller: an informer's handlers
//! add `namespace/name` keys to a rate-limited [`WorkQueue`]; two workers take keys, read the
//! object from the lister and reconcile it; a failure goes back with per-key back-off, a success
//! is forgotten. The reconcile here stamps each labelled ConfigMap with the number of its data
//! keys, level-driven: it compares what is with what should be and writes only the difference.
//!
//! ```text
//! KUBECONFIG=.kubeforge/kubeconfig cargo run -p kubeforge-runtime --example workqueue
//! ```

use anyhow::{Context, ensure};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use kube::{Client, ResourceExt};
use kubeforge_runtime::cache::{
    HandlerFuncs, InformerScope, Lister, SharedInformerFactory, object_key, split_key,
};
use kubeforge_runtime::workqueue::{WorkQueue, default_controller_rate_limiter};
use serde_json::json;
use std::time::Duration;

const ANNOTATION: &str = "example.kubeforge.dev/keys";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let client = Client::try_default()
        .await
        .context("no kubeconfig: run `kubeforge up` and export KUBECONFIG=.kubeforge/kubeconfig")?;
    run(client, "default").await.map(|_| ())
}

/// Brings one ConfigMap to its desired state; `Ok(false)` when nothing had to change.
async fn reconcile(client: &Client, lister: &Lister<ConfigMap>, key: &str) -> anyhow::Result<bool> {
    let (namespace, name) = split_key(key);
    let namespace = namespace.context("ConfigMaps are namespaced")?;
    // Level-driven: read the current state; a deleted object needs nothing.
    let Some(cm) = lister.namespaced(namespace).get(name) else {
        return Ok(false);
    };
    let want = cm.data.as_ref().map_or(0, |d| d.len()).to_string();
    if cm.annotations().get(ANNOTATION) == Some(&want) {
        return Ok(false);
    }
    // Optimistic concurrency: the patch carries the resourceVersion we read, so a concurrent
    // change makes it fail with 409 and the key is retried with the newer object.
    let patch = json!({"metadata": {
        "resourceVersion": cm.resource_version(),
        "annotations": {ANNOTATION: want}
    }});
    Api::<ConfigMap>::namespaced(client.clone(), namespace)
        .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await?;
    Ok(true)
}

/// Runs the walk-through in `namespace`, leaving nothing behind; answers how many writes the
/// workers made.
pub async fn run(client: Client, namespace: &str) -> anyhow::Result<usize> {
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), namespace);
    let names: Vec<String> = (0..5).map(|i| format!("workqueue-{i}")).collect();
    for (i, name) in names.iter().enumerate() {
        if api.get_opt(name).await?.is_some() {
            api.delete(name, &DeleteParams::default()).await?;
        }
        let data: serde_json::Map<String, serde_json::Value> =
            (0..=i).map(|k| (format!("k{k}"), json!("v"))).collect();
        let cm: ConfigMap = serde_json::from_value(json!({
            "metadata": {"name": name, "labels": {"example": "workqueue"}},
            "data": data
        }))?;
        api.create(&PostParams::default(), &cm).await?;
    }

    let queue: WorkQueue<String> = WorkQueue::builder()
        .name("workqueue-example")
        .rate_limiter(default_controller_rate_limiter())
        .build();
    let factory = SharedInformerFactory::new(client.clone());
    let informer = factory
        .informer::<ConfigMap>(InformerScope::namespace(namespace).labels("example=workqueue"));
    let (on_add, on_update) = (queue.clone(), queue.clone());
    informer.add_event_handler(
        HandlerFuncs::<ConfigMap>::new()
            .on_add(move |cm| on_add.add(object_key(cm.as_ref())))
            .on_update(move |_, cm| on_update.add(object_key(cm.as_ref()))),
    );
    factory.start();
    ensure!(
        tokio::time::timeout(Duration::from_secs(20), factory.wait_for_cache_sync()).await?,
        "the cache did not sync"
    );

    let writes = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let workers: Vec<_> = (0..2)
        .map(|worker| {
            let (queue, client, lister, writes) = (
                queue.clone(),
                client.clone(),
                informer.lister(),
                writes.clone(),
            );
            tokio::spawn(async move {
                while let Some(key) = queue.get().await {
                    match reconcile(&client, &lister, &key).await {
                        Ok(wrote) => {
                            if wrote {
                                writes.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                                println!("worker {worker}: reconciled {key}");
                            }
                            queue.forget(&key);
                        }
                        Err(e) => {
                            println!(
                                "worker {worker}: {key} failed ({e}), retry #{}",
                                queue.num_requeues(&key) + 1
                            );
                            queue.add_rate_limited(key.clone());
                        }
                    }
                    queue.done(&key);
                }
            })
        })
        .collect();

    // Wait until every ConfigMap carries its annotation, as seen through the cache.
    let lister = informer.lister();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let done = names.iter().all(|n| {
            lister
                .namespaced(namespace)
                .get(n)
                .is_some_and(|cm| cm.annotations().contains_key(ANNOTATION))
        });
        if done {
            break;
        }
        ensure!(
            tokio::time::Instant::now() < deadline,
            "the workers did not converge"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    queue.shutdown_with_drain().await;
    for w in workers {
        w.await?;
    }
    factory.shutdown().await;
    for name in &names {
        let cm = api.get(name).await?;
        println!("{name}: {ANNOTATION}={}", cm.annotations()[ANNOTATION]);
        api.delete(name, &DeleteParams::default()).await?;
    }
    Ok(writes.load(std::sync::atomic::Ordering::Relaxed))
}
