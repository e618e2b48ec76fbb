//! Helpers shared by the kube-rs integration tests (`kube_client.rs`, `watch.rs`, `crd.rs`):
//! starting servers, decoding API errors, polling with a deadline instead of sleeping, and
//! checking that a refused request stored nothing ([`Stored`], used by `bad_input.rs` and
//! `hardening.rs`).
#![allow(dead_code)]

use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use kube::api::{ObjectMeta, PostParams};
use kube::{Api, Client};
use kubeforge_apiserver::{ApiServer, ApiServerBuilder};
use std::collections::{BTreeMap, BTreeSet};
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

/// What a server holds: the key and resourceVersion of every object it stores, read from its
/// medium (on etcd, under the server's own prefix, from etcd itself rather than the cache), and
/// on a local medium the store's resourceVersion too. Compare two with
/// [`Stored::assert_unchanged`] to check that the requests in between stored nothing.
///
/// Exact on every medium: any create, update or delete of an object changes this (a write gives
/// the object a new resourceVersion even when its content is unchanged), and on a local medium,
/// where only this server writes, the store's resourceVersion also catches an object created and
/// deleted in between. The global resourceVersion cannot be compared on etcd: it moves with the
/// writes of every other server on the same etcd. Left out on a shared medium: the controllers'
/// Lease (`kube-system/kubeforge-controllers`), which its holder renews every 2 s on its own.
#[derive(Debug)]
pub struct Stored {
    /// `(storage key, namespace, name)` → resourceVersion.
    objects: BTreeMap<(String, String, String), u64>,
    /// The store's resourceVersion, on a local medium.
    revision: Option<u64>,
}

impl Stored {
    /// What `server` holds now.
    pub async fn of(server: &ApiServer) -> Stored {
        use futures::StreamExt;
        use kubeforge_apiserver::storage::ReadAt;
        let store = &server.rest().store;
        let revision = (!store.is_shared()).then(|| store.resource_version());
        // Every resource the server serves, and any the store holds objects of.
        let mut resources: BTreeSet<std::sync::Arc<str>> = server
            .rest()
            .catalog
            .snapshot()
            .all()
            .iter()
            .map(|rt| rt.storage_key.clone())
            .collect();
        resources.extend(store.object_counts().into_iter().map(|(r, _)| r));
        let (lease_ns, lease_name) = kubeforge_apiserver::controllers::leader::LEASE;
        // One read per resource, several at once (on etcd each is a round trip).
        let reads = resources.into_iter().map(|resource| async move {
            if store.is_shared() {
                store
                    .read_page(&resource, None, ReadAt::Latest, None, 0, &mut |_, _| true)
                    .await
                    .unwrap_or_else(|e| panic!("reading {resource} from the medium: {e}"))
                    .items
            } else {
                store
                    .list(&resource, None, ReadAt::Latest)
                    .await
                    .unwrap_or_else(|e| panic!("listing {resource}: {e}"))
                    .items
            }
        });
        let pages: Vec<_> = futures::stream::iter(reads)
            .buffer_unordered(16)
            .collect()
            .await;
        let mut objects = BTreeMap::new();
        for (key, object) in pages.into_iter().flatten() {
            if store.is_shared()
                && &*key.resource == "coordination.k8s.io/leases"
                && (key.namespace.as_str(), key.name.as_str()) == (lease_ns, lease_name)
            {
                continue;
            }
            objects.insert(
                (key.resource.to_string(), key.namespace, key.name),
                object.resource_version,
            );
        }
        Stored { objects, revision }
    }

    /// What changed in `server` since `self` was taken: the objects created, updated and
    /// deleted, and on a local medium a moved resourceVersion; empty when nothing did.
    pub async fn changes(&self, server: &ApiServer) -> Vec<String> {
        let now = Stored::of(server).await;
        let mut changes = Vec::new();
        for (key, rv) in &now.objects {
            match self.objects.get(key) {
                None => changes.push(format!("created {key:?} at {rv}")),
                Some(old) if old != rv => changes.push(format!("updated {key:?} {old} -> {rv}")),
                Some(_) => {}
            }
        }
        for key in self.objects.keys() {
            if !now.objects.contains_key(key) {
                changes.push(format!("deleted {key:?}"));
            }
        }
        if self.revision != now.revision {
            changes.push(format!(
                "the store's resourceVersion moved from {:?} to {:?}",
                self.revision, now.revision
            ));
        }
        changes
    }

    /// Panics with `what` and the [changes](Stored::changes) unless `server` holds exactly what
    /// it held when `self` was taken.
    pub async fn assert_unchanged(&self, server: &ApiServer, what: &str) {
        let changes = self.changes(server).await;
        assert!(changes.is_empty(), "{what}: {}", changes.join("; "));
    }
}
