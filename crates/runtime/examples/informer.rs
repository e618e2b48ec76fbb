//! An informer with a lister and an indexer (client-go's `SharedInformerFactory`, `Lister` and
//! `Indexer`): one watch keeps a local cache of ConfigMaps current; handlers hear about every
//! change; reads come from the cache, by key, by label selector or by a custom index.
//!
//! ```text
//! KUBECONFIG=.kubeforge/kubeconfig cargo run -p kubeforge-runtime --example informer
//! ```

use anyhow::{Context, ensure};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, DeleteParams, PostParams};
use kube::core::Selector;
use kube::{Client, ResourceExt};
use kubeforge_runtime::cache::{HandlerFuncs, InformerScope, SharedInformerFactory};
use serde_json::json;
use std::time::Duration;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let client = Client::try_default()
        .await
        .context("no kubeconfig: run `kubeforge up` and export KUBECONFIG=.kubeforge/kubeconfig")?;
    run(client, "default").await
}

/// The value of the `tier` label, the custom index's function.
fn by_tier(cm: &ConfigMap) -> Vec<String> {
    cm.labels().get("tier").cloned().into_iter().collect()
}

/// Runs the walk-through in `namespace`, leaving nothing behind.
pub async fn run(client: Client, namespace: &str) -> anyhow::Result<()> {
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), namespace);
    let names = ["informer-web", "informer-db", "informer-cache"];
    let tiers = ["frontend", "backend", "backend"];
    for (name, tier) in names.iter().zip(tiers) {
        if api.get_opt(name).await?.is_some() {
            api.delete(name, &DeleteParams::default()).await?;
        }
        let cm: ConfigMap = serde_json::from_value(json!({
            "metadata": {"name": name, "labels": {"example": "informer", "tier": tier}}
        }))?;
        api.create(&PostParams::default(), &cm).await?;
    }

    // One factory, one informer per (type, namespace, selectors), shared by every user.
    let factory = SharedInformerFactory::new(client);
    let informer = factory
        .informer::<ConfigMap>(InformerScope::namespace(namespace).labels("example=informer"));
    informer.store().add_indexer("tier", by_tier)?;
    informer.add_event_handler(
        HandlerFuncs::<ConfigMap>::new()
            .on_add(|cm| println!("handler: added {}", cm.name_any()))
            .on_update(|_, new| println!("handler: updated {}", new.name_any()))
            .on_delete(|gone| println!("handler: deleted {}", gone.key())),
    );
    factory.start();
    ensure!(
        tokio::time::timeout(Duration::from_secs(20), factory.wait_for_cache_sync()).await?,
        "the cache did not sync"
    );

    let lister = informer.lister();
    let web = lister
        .namespaced(namespace)
        .get("informer-web")
        .context("informer-web cached")?;
    println!(
        "lister get: {} tier={}",
        web.name_any(),
        by_tier(&web).join("")
    );
    let all = lister.list(&Selector::default());
    println!("lister list: {} object(s)", all.len());
    let backend = lister.by_index("tier", "backend")?;
    let mut backend_names: Vec<String> = backend.iter().map(|o| o.name_any()).collect();
    backend_names.sort();
    println!("index tier=backend: {backend_names:?}");
    ensure!(
        backend_names == ["informer-cache", "informer-db"],
        "unexpected index content"
    );

    // Deleting one shows up in the cache and its indexes.
    api.delete("informer-db", &DeleteParams::default()).await?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while lister.by_index("tier", "backend")?.len() != 1 {
        ensure!(
            tokio::time::Instant::now() < deadline,
            "deletion never reached the cache"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    println!(
        "after delete, tier=backend: {} object(s)",
        lister.by_index("tier", "backend")?.len()
    );

    factory.shutdown().await;
    for name in ["informer-web", "informer-cache"] {
        api.delete(name, &DeleteParams::default()).await?;
    }
    Ok(())
}
