//! Garbage collection end to end through kube-rs: background, orphan and foreground deletion, a
//! dependent whose owner never existed (guards the collector's partial parsing of objects), and
//! collection that a restart of the durable server interrupts or has to pick up.

mod kube_support;

use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use kubeforge_apiserver::ApiServer;
use serde_json::json;
use std::time::Duration;

async fn eventually<F, Fut>(what: &str, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..300 {
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
    let server = kube_support::on_test_storage(ApiServer::builder().in_memory())
        .await
        .start()
        .await
        .unwrap();
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

/// A durable server on `dir`, listening on a fixed port so a client survives restarts.
fn durable(dir: &std::path::Path, port: u16) -> kubeforge_apiserver::ApiServerBuilder {
    ApiServer::builder()
        .data_dir(dir)
        .listen(std::net::SocketAddr::from(([127, 0, 0, 1], port)))
}

/// A port nothing listens on right now.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// How many of `names` still exist.
async fn existing(api: &Api<ConfigMap>, names: &[String]) -> usize {
    let list = api.list(&Default::default()).await.unwrap();
    list.items
        .iter()
        .filter(|cm| cm.metadata.name.as_ref().is_some_and(|n| names.contains(n)))
        .count()
}

/// An owner deleted in the background just before the server stops (its 300 dependents not yet
/// all collected), and dependents of an owner that never existed created just before: after the
/// restart the collector finds them from storage and collects every one.
#[tokio::test]
async fn gc_resumes_after_a_durable_restart() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let first = durable(dir.path(), port).start().await.unwrap();
    let api: Api<ConfigMap> = Api::namespaced(first.client(), "default");
    let owner = plain(&api, "owner").await;
    let mut dependents = Vec::new();
    for i in 0..300 {
        let name = format!("dep-{i}");
        owned(&api, &name, &owner, false).await;
        dependents.push(name);
    }
    let mut ghost = plain(&api, "ghost").await;
    api.delete("ghost", &DeleteParams::default()).await.unwrap();
    ghost.metadata.uid = Some("00000000-0000-0000-0000-0000000000aa".into());
    for i in 0..3 {
        let name = format!("ghost-dep-{i}");
        owned(&api, &name, &ghost, false).await;
        dependents.push(name);
    }
    api.delete("owner", &DeleteParams::background())
        .await
        .unwrap();
    first.shutdown().await;

    let second = durable(dir.path(), port).start().await.unwrap();
    let api: Api<ConfigMap> = Api::namespaced(second.client(), "default");
    assert!(api.get_opt("owner").await.unwrap().is_none());
    eprintln!(
        "dependents left at the restart: {}",
        existing(&api, &dependents).await
    );
    eventually("every dependent collected after the restart", || async {
        existing(&api, &dependents).await == 0
    })
    .await;
    second.shutdown().await;
}

/// A foreground deletion waiting on a dependent (held by its own finalizer) across a restart:
/// once the dependent's finalizer is removed after the restart, the dependent goes and then the
/// owner, whose `foregroundDeletion` finalizer the restarted collector removes.
#[tokio::test]
async fn foreground_deletion_completes_across_a_durable_restart() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let first = durable(dir.path(), port).start().await.unwrap();
    let api: Api<ConfigMap> = Api::namespaced(first.client(), "default");
    let owner = plain(&api, "fg-owner").await;
    let held: ConfigMap = serde_json::from_value(json!({
        "metadata": {"name": "fg-held", "finalizers": ["example.com/hold"], "ownerReferences": [{
            "apiVersion": "v1", "kind": "ConfigMap", "name": "fg-owner",
            "uid": owner.metadata.uid, "blockOwnerDeletion": true}]}
    }))
    .unwrap();
    api.create(&PostParams::default(), &held).await.unwrap();
    api.delete("fg-owner", &DeleteParams::foreground())
        .await
        .unwrap();
    eventually("the dependent being deleted", || async {
        api.get("fg-held")
            .await
            .unwrap()
            .metadata
            .deletion_timestamp
            .is_some()
    })
    .await;
    let waiting = api.get("fg-owner").await.unwrap();
    assert_eq!(
        waiting.metadata.finalizers.as_deref(),
        Some(&["foregroundDeletion".to_string()][..]),
        "the owner waits for its dependent"
    );
    first.shutdown().await;

    let second = durable(dir.path(), port).start().await.unwrap();
    let api: Api<ConfigMap> = Api::namespaced(second.client(), "default");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        api.get_opt("fg-owner").await.unwrap().is_some(),
        "the owner still waits after the restart"
    );
    api.patch(
        "fg-held",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"finalizers": null}})),
    )
    .await
    .unwrap();
    eventually("the dependent and then the owner gone", || async {
        api.get_opt("fg-held").await.unwrap().is_none()
            && api.get_opt("fg-owner").await.unwrap().is_none()
    })
    .await;
    second.shutdown().await;
}
