//! What the service tests share: an in-process API server with simulated workloads, the service
//! serving on a free port in front of it, and a plain HTTP/1.1 client to call it with.

#![allow(dead_code)]

use kubeforge_apiserver::ApiServer;
use kubeforge_deployments_api::{Settings, router, serve};
use serde_json::Value;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::oneshot;

/// How long an outcome may take before a test fails.
pub const PATIENCE: Duration = Duration::from_secs(30);

/// The API server.
pub async fn api_server() -> ApiServer {
    ApiServer::builder()
        .in_memory()
        .simulate_workloads(true)
        .start()
        .await
        .expect("the in-process API server starts")
}

/// The service, serving on a free port until dropped.
pub struct Service {
    /// Where it listens.
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
}

impl Drop for Service {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Starts the service over `client` with `settings`.
pub async fn service(client: kube::Client, settings: Settings) -> Service {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a free port");
    let addr = listener.local_addr().expect("its address");
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(serve(listener, router(client, settings), async {
        let _ = stopped.await;
    }));
    Service {
        addr,
        stop: Some(stop),
    }
}

/// An answer: status, headers (lower-case names) and body.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Answer {
    /// The body as JSON (panics with the body when it is not).
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.body))
    }

    /// The value of header `name`.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// One HTTP/1.1 request on a fresh connection (`Connection: close`); `extra` are more headers.
pub async fn call(
    addr: SocketAddr,
    method: &str,
    path: &str,
    extra: &[(&str, &str)],
    body: Option<&str>,
) -> Answer {
    let mut stream = tokio::net::TcpStream::connect(addr)
        .await
        .expect("connects to the service");
    let mut request = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (name, value) in extra {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    let body = body.unwrap_or("");
    if !body.is_empty() {
        request.push_str("Content-Type: application/json\r\n");
    }
    request.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    stream
        .write_all(request.as_bytes())
        .await
        .expect("sends the request");
    let mut raw = Vec::new();
    stream
        .read_to_end(&mut raw)
        .await
        .expect("reads the answer");
    let raw = String::from_utf8(raw).expect("a UTF-8 answer");
    let (head, body) = raw.split_once("\r\n\r\n").expect("a head and a body");
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .expect("a status line");
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    Answer {
        status,
        headers,
        body: body.to_string(),
    }
}

/// The JSON body of a write for `name` in `namespace`.
pub fn body(namespace: &str, name: &str, image: &str, replicas: i32) -> String {
    serde_json::json!({
        "namespace": namespace, "name": name, "image": image, "replicas": replicas,
    })
    .to_string()
}

/// Polls `check` every 50 ms until it is true, failing after [`PATIENCE`] with `what`.
pub async fn until<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while !check().await {
        assert!(tokio::time::Instant::now() < deadline, "timed out: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

// The kubectl binary, found as the CLI tests find it.
#[path = "../../../cli/tests/kubectl_support/mod.rs"]
mod kubectl_support;
#[allow(unused_imports)]
pub use kubectl_support::kubectl_binary;
