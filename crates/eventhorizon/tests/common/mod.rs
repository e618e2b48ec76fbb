//! What the eventhorizon tests share: a Fluentd Forward receiver written from the Forward
//! Protocol Specification v1, an HTTP client, and a buffer standing in for stdout.

#![allow(dead_code)]

pub mod receiver;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use kubeforge_eventhorizon::output::StdoutWriter;
use std::io::Write;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How long an outcome may take before a test fails.
pub const PATIENCE: Duration = Duration::from_secs(20);

/// An HTTP response: status, headers, body.
pub struct Answer {
    pub status: u16,
    pub headers: hyper::HeaderMap,
    pub body: String,
}

/// Sends a request to `addr`.
pub async fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: impl Into<Bytes>,
) -> anyhow::Result<Answer> {
    let client: Client<HttpConnector, Full<Bytes>> =
        Client::builder(TokioExecutor::new()).build_http();
    let mut request = hyper::Request::builder()
        .method(method)
        .uri(format!("http://{addr}{path}"));
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    let response = client
        .request(request.body(Full::new(body.into()))?)
        .await?;
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.into_body().collect().await?.to_bytes();
    Ok(Answer {
        status,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}

/// A binary-mode CloudEvent request's headers for spec `version`.
pub fn binary_headers<'a>(version: &'a str, id: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("ce-specversion", version),
        ("ce-id", id),
        ("ce-type", "com.example.created"),
        ("ce-source", "/tests"),
        ("content-type", "application/json"),
    ]
}

/// A stdout stand-in the tests can read.
#[derive(Clone, Default)]
pub struct Lines(Arc<Mutex<Vec<u8>>>);

struct LinesWriter(Arc<Mutex<Vec<u8>>>);

impl Write for LinesWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Lines {
    /// The writer stdout outputs use.
    pub fn writer(&self) -> StdoutWriter {
        StdoutWriter::new(Box::new(LinesWriter(self.0.clone())))
    }

    /// Every line so far, parsed as JSON.
    pub fn records(&self) -> Vec<serde_json::Value> {
        String::from_utf8_lossy(&self.0.lock().unwrap())
            .lines()
            .map(|l| serde_json::from_str(l).expect("stdout lines are JSON"))
            .collect()
    }
}

/// Polls `check` every 20 ms until it returns `Some`, failing after [`PATIENCE`].
pub async fn eventually<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
