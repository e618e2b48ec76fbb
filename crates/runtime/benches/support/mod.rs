//! What several benchmarks share: filling the embedded API server with ConfigMaps.

use kubeforge_apiserver::ApiServer;
use kubeforge_apiserver::rest::WriteOptions;
use serde_json::json;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// The ConfigMap number `i` of namespace `bench`: two data keys and a label.
pub fn config_map_body(i: usize) -> serde_json::Value {
    json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": format!("settings-{i:06}"), "namespace": "bench", "labels": {"app": "bench"}},
        "data": {"app.properties": "replicas=3\nmode=fast\n", "owner": "bench"},
    })
}

/// Creates namespace `bench` and `n` ConfigMaps in it, in-process through `Rest::create` (the
/// path a POST takes after decoding: creating them over HTTP would only make the run longer).
pub async fn populate(server: &ApiServer, n: usize) {
    let rest = server.rest().clone();
    let catalog = rest.catalog.snapshot();
    let ns = catalog.find("", "v1", "namespaces").expect("namespaces");
    let cms = catalog.find("", "v1", "configmaps").expect("configmaps");
    let opts = WriteOptions {
        field_manager: "bench".into(),
        ..WriteOptions::default()
    };
    rest.create(
        &ns,
        None,
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "bench"}}),
        &opts,
    )
    .await
    .expect("namespace");
    let next = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let (rest, cms, next, opts) = (rest.clone(), cms.clone(), next.clone(), opts.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed) as usize;
                if i >= n {
                    return;
                }
                rest.create(&cms, Some("bench"), config_map_body(i), &opts)
                    .await
                    .expect("create");
            }
        }));
    }
    for t in tasks {
        t.await.expect("populate task");
    }
}
