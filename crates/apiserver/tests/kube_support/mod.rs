//! Helpers shared by the kube-rs integration tests (`kube_client.rs`, `watch.rs`, `crd.rs`):
//! starting servers, decoding API errors and polling with a deadline instead of sleeping.
#![allow(dead_code)]

use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use kube::api::{ObjectMeta, PostParams};
use kube::{Api, Client};
use kubeforge_apiserver::{ApiServer, ApiServerBuilder};
use std::collections::BTreeMap;
use std::future::Future;
use std::time::Duration;

/// How long [`eventually`] waits before failing the test.
pub const DEADLINE: Duration = Duration::from_secs(15);

#[path = "../etcd_support/mod.rs"]
pub mod etcd;

/// An in-memory server on a free port; with `KUBEFORGE_TEST_STORAGE=etcd`, a server on an etcd
/// that the test process starts (each server under its own prefix), so that the suites that
/// use this run unchanged against etcd.
pub async fn start() -> ApiServer {
    on_test_storage(ApiServer::builder().in_memory())
        .await
        .start()
        .await
        .expect("server starts")
}

/// `builder` on the medium of this test run: as given (in memory), or with
/// `KUBEFORGE_TEST_STORAGE=etcd` on the process-wide etcd under a prefix of its own (so a
/// suite whose servers need other options runs unchanged against etcd too).
pub async fn on_test_storage(builder: ApiServerBuilder) -> ApiServerBuilder {
    match etcd::requested_config().await {
        Some(config) => builder.etcd(config),
        None => builder,
    }
}

/// The `Status` of an API error; panics (with the error) on anything else.
pub fn status(err: kube::Error) -> kube::core::Status {
    match err {
        kube::Error::Api(s) => *s,
        other => panic!("expected an API error, got {other:?}"),
    }
}

/// Asserts `res` failed with an API error of `code` and `reason`, and returns the Status.
#[track_caller]
pub fn api_err<T: std::fmt::Debug>(
    res: kube::Result<T>,
    code: u16,
    reason: &str,
) -> kube::core::Status {
    match res {
        Ok(v) => panic!("expected {code} {reason}, got success: {v:?}"),
        Err(kube::Error::Api(s)) => {
            assert_eq!(
                (s.code, s.reason.as_str()),
                (code, reason),
                "unexpected status: {s:?}"
            );
            *s
        }
        Err(other) => panic!("expected {code} {reason}, got {other:?}"),
    }
}

/// Polls `check` every 20 ms until it yields a value, failing after [`DEADLINE`].
pub async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Creates a namespace.
pub async fn namespace(client: &Client, name: &str) {
    let api: Api<Namespace> = Api::all(client.clone());
    let ns = Namespace {
        metadata: ObjectMeta {
            name: Some(name.into()),
            ..ObjectMeta::default()
        },
        ..Namespace::default()
    };
    api.create(&PostParams::default(), &ns)
        .await
        .expect("create namespace");
}

/// A ConfigMap with labels and one data entry.
pub fn configmap(name: &str, labels: &[(&str, &str)], value: &str) -> ConfigMap {
    ConfigMap {
        metadata: ObjectMeta {
            name: Some(name.into()),
            labels: (!labels.is_empty()).then(|| {
                labels
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect()
            }),
            ..ObjectMeta::default()
        },
        data: Some(BTreeMap::from([("value".to_string(), value.to_string())])),
        ..ConfigMap::default()
    }
}

/// The sorted names of `items`.
pub fn names<K: kube::Resource>(items: &[K]) -> Vec<String> {
    let mut out: Vec<String> = items
        .iter()
        .map(|o| o.meta().name.clone().unwrap_or_default())
        .collect();
    out.sort();
    out
}

/// The causes of a refusal, each as `field: message`.
pub fn causes(status: &kube::core::Status) -> Vec<String> {
    status
        .details
        .as_ref()
        .map(|d| {
            d.causes
                .iter()
                .map(|c| format!("{}: {}", c.field, c.message))
                .collect()
        })
        .unwrap_or_default()
}

/// One raw request through `client`, with an optional `Accept` and JSON body: `(HTTP code,
/// JSON body)`; panics when the answer is not JSON.
pub async fn raw(
    client: &Client,
    method: &str,
    uri: &str,
    accept: Option<&str>,
    body: Option<&serde_json::Value>,
) -> (u16, serde_json::Value) {
    let mut req = axum::http::Request::builder()
        .method(axum::http::Method::from_bytes(method.as_bytes()).expect("method"))
        .uri(uri);
    if let Some(a) = accept {
        req = req.header(axum::http::header::ACCEPT, a);
    }
    let bytes = match body {
        Some(b) => {
            req = req.header(axum::http::header::CONTENT_TYPE, "application/json");
            serde_json::to_vec(b).expect("json")
        }
        None => Vec::new(),
    };
    let req = req.body(kube::client::Body::from(bytes)).expect("request");
    let resp = client.send(req).await.expect("send");
    let code = resp.status().as_u16();
    let body = resp.into_body().collect_bytes().await.expect("body");
    let value = serde_json::from_slice(&body)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&body)));
    (code, value)
}
