//! Runs the workshop examples in `crates/operators/examples/` against an in-process API server
//! (each also runs against `kubeforge up` with `cargo run -p kubeforge-operators --example NAME`).
//! Each example module is compiled here from its own file; its `main` is unused.

use k8s_openapi::api::core::v1::ConfigMap;
use kube::ResourceExt;
use kube::api::{Api, PostParams};
use kubeforge_apiserver::ApiServer;
use kubeforge_runtime::cache::SharedInformerFactory;
use kubeforge_runtime::client::retry_on_conflict;
use serde_json::json;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

#[allow(dead_code)]
#[path = "../examples/controller.rs"]
mod controller;
#[allow(dead_code)]
#[path = "../examples/crd_in_rust.rs"]
mod crd_in_rust;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crd_in_rust_example_installs_uses_and_removes_its_crd() {
    let server = ApiServer::builder().in_memory().start().await.unwrap();
    // Once per server: as on a real cluster, deleting the CRD leaves it terminating until its
    // objects are gone, and applying it again meanwhile only updates the terminating CRD.
    let policy = crd_in_rust::run(server.client(), "default").await.unwrap();
    assert_eq!(
        policy.status,
        Some(crd_in_rust::ResourcesPolicyStatus {
            failed: 1,
            passed: 3
        })
    );
    assert_eq!(policy.spec.label, "resources-wrong");
    assert!(policy.spec.require.limits);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn controller_example_converges_under_a_concurrent_writer() {
    let server = ApiServer::builder().in_memory().start().await.unwrap();
    let client = server.client();
    let ctx = Arc::new(controller::SummaryContext {
        client: client.clone(),
        conflicts: AtomicU64::new(0),
        writes: AtomicU64::new(0),
    });
    let factory = SharedInformerFactory::new(client.clone());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = {
        let controller = controller::controller(ctx.clone(), "default");
        let factory = factory.clone();
        tokio::spawn(async move {
            controller
                .run(&factory, async {
                    let _ = stopped.await;
                })
                .await
        })
    };
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    for (name, labelled) in [("summarized", true), ("ignored", false)] {
        let labels = if labelled {
            json!({controller::LABEL: "true"})
        } else {
            json!({})
        };
        let cm: ConfigMap = serde_json::from_value(json!({
            "metadata": {"name": name, "labels": labels},
            "data": {"b": "2", "a": "1"},
        }))
        .unwrap();
        cms.create(&PostParams::default(), &cm).await.unwrap();
    }
    let annotation = |cm: &ConfigMap| cm.annotations().get(controller::ANNOTATION).cloned();
    let until = |want: &'static str| {
        let cms = cms.clone();
        async move {
            for _ in 0..600 {
                if annotation(&cms.get("summarized").await.unwrap()).as_deref() == Some(want) {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            panic!("the annotation never became {want}");
        }
    };
    until("a,b").await;

    // Another writer adds keys one by one with its own optimistic writes while the controller
    // writes the annotation: both keep their changes, and the controller ends on the last state.
    for i in 0..20 {
        retry_on_conflict(|| async {
            let mut cm = cms.get("summarized").await?;
            cm.data
                .get_or_insert_default()
                .insert(format!("k{i:02}"), i.to_string());
            cms.replace("summarized", &PostParams::default(), &cm).await
        })
        .await
        .unwrap();
    }
    let keys: Vec<String> = ["a", "b"]
        .into_iter()
        .map(String::from)
        .chain((0..20).map(|i| format!("k{i:02}")))
        .collect();
    let want: &'static str = Box::leak(keys.join(",").into_boxed_str());
    until(want).await;
    assert_eq!(
        cms.get("summarized").await.unwrap().data.unwrap().len(),
        22,
        "no key lost"
    );
    assert_eq!(
        annotation(&cms.get("ignored").await.unwrap()),
        None,
        "unlabelled: untouched"
    );
    println!(
        "controller: {} writes, {} conflicts retried",
        ctx.writes.load(Ordering::SeqCst),
        ctx.conflicts.load(Ordering::SeqCst)
    );
    let _ = stop.send(());
    running.await.unwrap().unwrap();
    factory.shutdown().await;
    server.shutdown().await;
}
