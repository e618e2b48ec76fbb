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

/// A TCP proxy to `target` that refuses connections while closed, and cuts the connections
/// it proxies when closed (so pooled client connections fail too). Starts closed; answers
/// its URL and the switch (`true`: open).
pub async fn gate(target: std::net::SocketAddr) -> (String, tokio::sync::watch::Sender<bool>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (open, opened) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        while let Ok((mut inbound, _)) = listener.accept().await {
            if !*opened.borrow() {
                continue;
            }
            let mut closed = opened.clone();
            tokio::spawn(async move {
                if let Ok(mut outbound) = tokio::net::TcpStream::connect(target).await {
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                        _ = closed.wait_for(|open| !*open) => {}
                    }
                }
            });
        }
    });
    (url, open)
}

/// The URL of a listener that accepts connections and never answers (an API server that
/// hangs); it lives as long as the test's runtime.
pub async fn black_hole() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    url
}
