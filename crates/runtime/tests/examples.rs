//! Runs every example in `examples/` against an in-process kubeforge API server, so the
//! examples are not only compiled in CI but shown to work (each also runs against
//! `kubeforge up` with `cargo run -p kubeforge-runtime --example NAME`).
//!
//! Each example module is compiled here from its own file; its `main` is unused.

use kubeforge_apiserver::ApiServer;

#[allow(dead_code)]
#[path = "../examples/client_basics.rs"]
mod client_basics;
#[allow(dead_code)]
#[path = "../examples/discovery.rs"]
mod discovery;
#[allow(dead_code)]
#[path = "../examples/dynamic_client.rs"]
mod dynamic_client;
#[allow(dead_code)]
#[path = "../examples/informer.rs"]
mod informer;
#[allow(dead_code)]
#[path = "../examples/raw_rest.rs"]
mod raw_rest;
#[allow(dead_code)]
#[path = "../examples/watch.rs"]
mod watch;
#[allow(dead_code)]
#[path = "../examples/workqueue.rs"]
mod workqueue;

async fn server() -> ApiServer {
    ApiServer::builder()
        .in_memory()
        .start()
        .await
        .expect("in-process API server starts")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_basics_example_runs() {
    let server = server().await;
    client_basics::run(server.client(), "default")
        .await
        .unwrap();
    // Twice: it cleans up after itself.
    client_basics::run(server.client(), "default")
        .await
        .unwrap();
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamic_client_example_runs() {
    let server = server().await;
    dynamic_client::run(server.client(), "default")
        .await
        .unwrap();
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discovery_example_finds_the_builtin_resources() {
    let server = server().await;
    let found = discovery::run(server.client()).await.unwrap();
    for expected in [
        "configmaps.",
        "namespaces.",
        "deployments.apps",
        "leases.coordination.k8s.io",
        "customresourcedefinitions.apiextensions.k8s.io",
    ] {
        assert!(
            found.iter().any(|r| r == expected),
            "{expected} not in {found:?}"
        );
    }
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raw_rest_example_runs() {
    let server = server().await;
    raw_rest::run(server.client(), "default").await.unwrap();
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_example_sees_exactly_the_writes_after_its_list() {
    let server = server().await;
    let seen = watch::run(server.client(), "default").await.unwrap();
    assert_eq!(
        seen,
        [
            "ADDED watch-example",
            "MODIFIED watch-example",
            "DELETED watch-example"
        ]
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn informer_example_runs() {
    let server = server().await;
    informer::run(server.client(), "default").await.unwrap();
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workqueue_example_converges_with_one_write_per_object() {
    let server = server().await;
    let writes = workqueue::run(server.client(), "default").await.unwrap();
    // Five ConfigMaps, each stamped once; the update events the stamps cause change nothing.
    assert_eq!(writes, 5);
    server.shutdown().await;
}
