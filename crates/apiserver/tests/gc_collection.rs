//! Garbage collection end to end through kube-rs: background, orphan and foreground deletion, and
//! a dependent whose owner never existed (guards the collector's partial parsing of objects).

use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, DeleteParams, PostParams};
use kubeforge_apiserver::ApiServer;
use serde_json::json;
use std::time::Duration;

async fn eventually<F, Fut>(what: &str, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..100 {
        if f().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {what}");
}

async fn owned(api: &Api<ConfigMap>, name: &str, owner: &ConfigMap, block: bool) {
    let cm: ConfigMap = serde_json::from_value(json!({
        "metadata": {"name": name, "ownerReferences": [{
            "apiVersion": "v1", "kind": "ConfigMap", "name": owner.metadata.name,
            "uid": owner.metadata.uid, "blockOwnerDeletion": block}]}
    }))
    .unwrap();
    api.create(&PostParams::default(), &cm).await.unwrap();
}

async fn plain(api: &Api<ConfigMap>, name: &str) -> ConfigMap {
    let cm: ConfigMap = serde_json::from_value(json!({"metadata": {"name": name}})).unwrap();
    api.create(&PostParams::default(), &cm).await.unwrap()
}

#[tokio::test]
async fn gc_background_orphan_foreground_and_absent_owner() {
    let server = ApiServer::builder().in_memory().start().await.unwrap();
    let api: Api<ConfigMap> = Api::namespaced(server.client(), "default");

    let o = plain(&api, "o").await;
    owned(&api, "d", &o, false).await;
    api.delete("o", &DeleteParams::background()).await.unwrap();
    eventually("d collected", || async {
        api.get_opt("d").await.unwrap().is_none()
    })
    .await;

    let o2 = plain(&api, "o2").await;
    owned(&api, "d2", &o2, false).await;
    api.delete("o2", &DeleteParams::orphan()).await.unwrap();
    eventually("o2 gone, d2 orphaned", || async {
        api.get_opt("o2").await.unwrap().is_none()
            && api
                .get_opt("d2")
                .await
                .unwrap()
                .is_some_and(|d| d.metadata.owner_references.unwrap_or_default().is_empty())
    })
    .await;

    let o3 = plain(&api, "o3").await;
    owned(&api, "d3", &o3, true).await;
    api.delete("o3", &DeleteParams::foreground()).await.unwrap();
    eventually("o3 and d3 gone", || async {
        api.get_opt("o3").await.unwrap().is_none() && api.get_opt("d3").await.unwrap().is_none()
    })
    .await;

    let mut ghost = plain(&api, "ghost").await;
    api.delete("ghost", &DeleteParams::default()).await.unwrap();
    ghost.metadata.uid = Some("00000000-0000-0000-0000-000000000000".into());
    owned(&api, "d4", &ghost, false).await;
    eventually("d4 collected (absent owner)", || async {
        api.get_opt("d4").await.unwrap().is_none()
    })
    .await;
    server.shutdown().await;
}
