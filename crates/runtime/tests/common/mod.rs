//! Helpers shared by the integration tests.
#![allow(dead_code)] // each test binary uses its own subset

use k8s_openapi::api::core::v1::Namespace;
use kube::Client;
use kube::api::{Api, PostParams};
use kubeforge_apiserver::ApiServer;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;

/// How long any awaited condition may take.
pub const DEADLINE: Duration = Duration::from_secs(30);

/// Polls the async `cond` every 20 ms until it holds; fails after [`DEADLINE`].
pub async fn eventually<F, Fut>(what: &str, mut cond: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + DEADLINE;
    while !cond().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Creates the namespace `name`.
pub async fn namespace(client: &Client, name: &str) {
    let ns: Namespace =
        serde_json::from_value(serde_json::json!({"metadata": {"name": name}})).unwrap();
    Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &ns)
        .await
        .unwrap();
}

/// A client that records the path and query of every request it sends.
pub fn counting_client(server: &ApiServer) -> (Client, Arc<Mutex<Vec<String>>>) {
    let requests: Arc<Mutex<Vec<String>>> = Arc::default();
    let layer = tower::ServiceBuilder::new().map_request({
        let requests = requests.clone();
        move |req: http::Request<kube::client::Body>| {
            requests.lock().unwrap().push(req.uri().to_string());
            req
        }
    });
    let config = kube::Config::new(server.url().parse().unwrap());
    let client = kube::client::ClientBuilder::try_from(config)
        .unwrap()
        .with_layer(&layer)
        .build();
    (client, requests)
}
