//! Watching from a resourceVersion: list once, then watch every change after that list — the
//! list-then-watch contract informers build on. A writer makes three changes; the watch sees
//! exactly those, in order. (A version the server no longer remembers answers 410 Gone: relist.)
//!
//! ```text
//! KUBECONFIG=.kubeforge/kubeconfig cargo run -p kubeforge-runtime --example watch
//! ```

use anyhow::{Context, bail};
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{
    Api, DeleteParams, ListParams, Patch, PatchParams, PostParams, WatchEvent, WatchParams,
};
use kube::{Client, ResourceExt};
use serde_json::json;
use std::time::Duration;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let client = Client::try_default()
        .await
        .context("no kubeconfig: run `kubeforge up` and export KUBECONFIG=.kubeforge/kubeconfig")?;
    run(client, "default").await.map(|_| ())
}

/// Runs the walk-through in `namespace`; answers the events seen (`ADDED name`, ...).
pub async fn run(client: Client, namespace: &str) -> anyhow::Result<Vec<String>> {
    let api: Api<ConfigMap> = Api::namespaced(client, namespace);
    let name = "watch-example";
    let selector = format!("example={name}");
    if api.get_opt(name).await?.is_some() {
        api.delete(name, &DeleteParams::default()).await?;
    }

    // The list's resourceVersion is where the watch starts: nothing before it is replayed.
    let list = api
        .list_metadata(&ListParams::default().labels(&selector))
        .await?;
    let from = list.metadata.resource_version.unwrap_or_default();
    println!(
        "listed {} object(s) at resourceVersion {from}",
        list.items.len()
    );

    let params = WatchParams::default().labels(&selector).timeout(30);
    let mut stream = api.watch(&params, &from).await?.boxed();

    let writer = {
        let api = api.clone();
        tokio::spawn(async move {
            let cm: ConfigMap = serde_json::from_value(json!({
                "metadata": {"name": name, "labels": {"example": name}},
                "data": {"step": "1"}
            }))?;
            api.create(&PostParams::default(), &cm).await?;
            let patch = json!({"data": {"step": "2"}});
            api.patch(name, &PatchParams::default(), &Patch::Merge(&patch))
                .await?;
            api.delete(name, &DeleteParams::default()).await?;
            anyhow::Ok(())
        })
    };

    let mut seen = Vec::new();
    while seen.len() < 3 {
        let event = tokio::time::timeout(Duration::from_secs(20), stream.try_next())
            .await
            .context("no watch event within 20 s")??;
        let line = match event {
            Some(WatchEvent::Added(o)) => format!("ADDED {}", o.name_any()),
            Some(WatchEvent::Modified(o)) => format!("MODIFIED {}", o.name_any()),
            Some(WatchEvent::Deleted(o)) => format!("DELETED {}", o.name_any()),
            Some(WatchEvent::Bookmark(b)) => {
                println!("bookmark at {}", b.metadata.resource_version);
                continue;
            }
            Some(WatchEvent::Error(status)) => {
                bail!("watch error {}: {}", status.code, status.message)
            }
            None => bail!("the watch ended early"),
        };
        println!("{line}");
        seen.push(line);
    }
    writer.await??;
    Ok(seen)
}
