//! Protobuf responses, as client-go's typed and metadata clients ask for them
//! (`Accept: application/vnd.kubernetes.protobuf,application/json`), read with k8s-pb: messages
//! generated from upstream's `.proto` files, not the server's own schema.

mod kube_support;

use axum::http::{Request, header};
use bytes::Bytes;
use k8s_pb::api::apps::v1 as apps_v1;
use k8s_pb::api::core::v1 as core_v1;
use k8s_pb::apimachinery::pkg::apis::meta::v1 as meta_v1;
use k8s_pb::apimachinery::pkg::runtime::Unknown;
use kubeforge_apiserver::ApiServer;
use prost::Message;
use serde_json::json;

const PROTOBUF: &str = "application/vnd.kubernetes.protobuf";
const TYPED: &str = "application/vnd.kubernetes.protobuf,application/json";

async fn start() -> ApiServer {
    kube_support::on_test_storage(ApiServer::builder().in_memory())
        .await
        .start()
        .await
        .expect("start the server")
}

/// Sends one request; answers the status code, content type and body.
async fn send(
    client: &kube::Client,
    method: &str,
    uri: &str,
    accept: &str,
    body: Option<serde_json::Value>,
) -> (u16, String, Bytes) {
    let mut req = Request::builder()
        .method(method)
        .uri(uri)
        .header(header::ACCEPT, accept);
    let bytes = match body {
        Some(b) => {
            req = req.header(header::CONTENT_TYPE, "application/json");
            serde_json::to_vec(&b).expect("json")
        }
        None => Vec::new(),
    };
    let req = req.body(kube::client::Body::from(bytes)).expect("request");
    let resp = client.send(req).await.expect("response");
    let code = resp.status().as_u16();
    let ct = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let body = resp.into_body().collect_bytes().await.expect("body");
    (code, ct, body)
}

/// The typed message in a protobuf body, checking the `k8s\0` prefix and the envelope's type.
fn unwrap<M: Message + Default>(body: &[u8], api_version: &str, kind: &str) -> M {
    let payload = body
        .strip_prefix(b"k8s\0".as_slice())
        .expect("k8s\\0 prefix");
    let unknown = Unknown::decode(payload).expect("runtime.Unknown");
    let type_meta = unknown.type_meta.expect("typeMeta");
    assert_eq!(type_meta.api_version.as_deref(), Some(api_version));
    assert_eq!(type_meta.kind.as_deref(), Some(kind));
    M::decode(unknown.raw.unwrap_or_default().as_slice()).expect("message")
}

fn deployment(name: &str) -> serde_json::Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "labels": {"app": name}},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": name}},
            "strategy": {"rollingUpdate": {"maxSurge": "25%", "maxUnavailable": 1}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{
                    "name": "web", "image": "nginx:1.27",
                    "resources": {"limits": {"cpu": "500m", "memory": "128Mi"}}
                }]}
            }
        }
    })
}

/// Create, get, list and delete answer protobuf; what they carry is the object.
#[tokio::test]
async fn typed_client_verbs_answer_protobuf() {
    let server = start().await;
    let client = server.client();
    let base = "/apis/apps/v1/namespaces/default/deployments";

    let (code, ct, body) = send(&client, "POST", base, TYPED, Some(deployment("web"))).await;
    assert_eq!(code, 201, "{}", String::from_utf8_lossy(&body));
    assert_eq!(ct, PROTOBUF);
    let created: apps_v1::Deployment = unwrap(&body, "apps/v1", "Deployment");
    let meta = created.metadata.expect("metadata");
    assert_eq!(meta.name.as_deref(), Some("web"));
    assert!(meta.uid.is_some_and(|u| !u.is_empty()));
    assert!(meta.creation_timestamp.and_then(|t| t.seconds).unwrap_or(0) > 1_700_000_000);
    let spec = created.spec.expect("spec");
    assert_eq!(spec.replicas, Some(2));
    let rolling = spec
        .strategy
        .and_then(|s| s.rolling_update)
        .expect("rollingUpdate");
    assert_eq!(
        rolling.max_surge.and_then(|m| m.str_val).as_deref(),
        Some("25%")
    );
    assert_eq!(rolling.max_unavailable.and_then(|m| m.int_val), Some(1));
    let container = &spec
        .template
        .and_then(|t| t.spec)
        .expect("pod spec")
        .containers[0];
    let limits = &container.resources.as_ref().expect("resources").limits;
    assert_eq!(limits["cpu"].string.as_deref(), Some("500m"));

    let (code, ct, body) = send(&client, "GET", &format!("{base}/web"), TYPED, None).await;
    assert_eq!((code, ct.as_str()), (200, PROTOBUF));
    let got: apps_v1::Deployment = unwrap(&body, "apps/v1", "Deployment");
    assert_eq!(
        got.metadata
            .and_then(|m| m.labels.get("app").cloned())
            .as_deref(),
        Some("web")
    );

    send(&client, "POST", base, TYPED, Some(deployment("api"))).await;
    let (code, ct, body) = send(&client, "GET", &format!("{base}?limit=1"), TYPED, None).await;
    assert_eq!((code, ct.as_str()), (200, PROTOBUF));
    let page: apps_v1::DeploymentList = unwrap(&body, "apps/v1", "DeploymentList");
    assert_eq!(page.items.len(), 1);
    let list_meta = page.metadata.expect("list metadata");
    assert!(list_meta.r#continue.is_some_and(|c| !c.is_empty()));
    assert_eq!(list_meta.remaining_item_count, Some(1));

    // A ConfigMap's DELETE answers with a Status; bytes come back as bytes.
    let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"},
                    "data": {"k": "v"}, "binaryData": {"b": "AAE="}});
    let cms = "/api/v1/namespaces/default/configmaps";
    let (code, _, body) = send(&client, "POST", cms, TYPED, Some(cm)).await;
    assert_eq!(code, 201);
    let created: core_v1::ConfigMap = unwrap(&body, "v1", "ConfigMap");
    assert_eq!(created.binary_data["b"], vec![0u8, 1]);
    let (code, ct, body) = send(&client, "DELETE", &format!("{cms}/c"), TYPED, None).await;
    assert_eq!((code, ct.as_str()), (200, PROTOBUF));
    let status: meta_v1::Status = unwrap(&body, "v1", "Status");
    assert_eq!(status.status.as_deref(), Some("Success"));
}

/// A protobuf watch: length-prefixed `WatchEvent` frames whose objects are whole bodies,
/// bookmarks included.
#[tokio::test]
async fn watch_streams_protobuf_frames() {
    let server = start().await;
    let client = server.client();
    for name in ["a", "b"] {
        let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}});
        send(
            &client,
            "POST",
            "/api/v1/namespaces/default/configmaps",
            TYPED,
            Some(cm),
        )
        .await;
    }
    let uri = "/api/v1/namespaces/default/configmaps?watch=1&sendInitialEvents=true\
               &resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true&timeoutSeconds=1";
    let (code, ct, mut body) = send(&client, "GET", uri, TYPED, None).await;
    assert_eq!(code, 200);
    assert_eq!(ct, "application/vnd.kubernetes.protobuf;stream=watch");
    let mut events = Vec::new();
    while !body.is_empty() {
        let len = u32::from_be_bytes(body[..4].try_into().expect("length")) as usize;
        let frame = body.slice(4..4 + len);
        body = body.slice(4 + len..);
        let event = meta_v1::WatchEvent::decode(frame).expect("WatchEvent");
        let raw = event.object.and_then(|o| o.raw).expect("object");
        let cm: core_v1::ConfigMap = unwrap(&raw, "v1", "ConfigMap");
        let meta = cm.metadata.expect("metadata");
        events.push((
            event.r#type.expect("type"),
            meta.name.unwrap_or_default(),
            meta.annotations.get("k8s.io/initial-events-end").cloned(),
        ));
    }
    assert_eq!(
        events,
        vec![
            ("ADDED".into(), "a".into(), None),
            ("ADDED".into(), "b".into(), None),
            ("BOOKMARK".into(), String::new(), Some("true".into())),
        ]
    );
}

/// Splits a protobuf watch body into its frames.
fn frames(mut body: Bytes) -> Vec<Bytes> {
    let mut out = Vec::new();
    while !body.is_empty() {
        let len = u32::from_be_bytes(body[..4].try_into().expect("length")) as usize;
        out.push(body.slice(4..4 + len));
        body = body.slice(4 + len..);
    }
    out
}

/// Events after a resourceVersion, to several protobuf watches at once (their encoding is made
/// once per event and shared): every watch gets the same frames, and each frame's object is
/// the one a JSON watch of the same events sees.
#[tokio::test]
async fn protobuf_watches_share_each_events_encoding() {
    let server = start().await;
    let client = server.client();
    let cms = "/api/v1/namespaces/default/configmaps";
    let (_, _, list) = send(&client, "GET", cms, "application/json", None).await;
    let list: serde_json::Value = serde_json::from_slice(&list).expect("list");
    let rv = list["metadata"]["resourceVersion"]
        .as_str()
        .expect("rv")
        .to_string();
    let uri = format!("{cms}?watch=1&resourceVersion={rv}&timeoutSeconds=3");
    let watches: Vec<_> = [TYPED, TYPED, "application/json"]
        .into_iter()
        .map(|accept| {
            let (client, uri) = (client.clone(), uri.clone());
            tokio::spawn(async move { send(&client, "GET", &uri, accept, None).await })
        })
        .collect();
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    for (i, name) in ["a", "b"].into_iter().enumerate() {
        let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name},
                        "data": {"i": i.to_string()}});
        send(&client, "POST", cms, TYPED, Some(cm)).await;
    }
    let patch = json!({"data": {"i": "patched"}});
    let req = Request::builder()
        .method("PATCH")
        .uri(format!("{cms}/a"))
        .header(header::CONTENT_TYPE, "application/merge-patch+json")
        .header(header::ACCEPT, "application/json")
        .body(serde_json::to_vec(&patch).expect("patch"))
        .expect("request");
    client.request_text(req).await.expect("patch answered");
    send(&client, "DELETE", &format!("{cms}/b"), TYPED, None).await;

    let mut bodies = Vec::new();
    for w in watches {
        bodies.push(w.await.expect("watch"));
    }
    let json_body = bodies.pop().expect("json watch").2;
    let json_events: Vec<(String, String, String, serde_json::Value)> =
        String::from_utf8_lossy(&json_body)
            .lines()
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).expect("json line");
                let o = &v["object"];
                (
                    v["type"].as_str().unwrap_or_default().to_string(),
                    o["metadata"]["name"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string(),
                    o["metadata"]["resourceVersion"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string(),
                    o["data"].clone(),
                )
            })
            .collect();
    assert_eq!(json_events.len(), 4, "{json_events:?}");
    let first = frames(bodies[0].2.clone());
    let second = frames(bodies[1].2.clone());
    assert_eq!(first, second, "both protobuf watches get the same frames");
    let decoded: Vec<(String, String, String, serde_json::Value)> = first
        .into_iter()
        .map(|frame| {
            let event = meta_v1::WatchEvent::decode(frame).expect("WatchEvent");
            let raw = event.object.and_then(|o| o.raw).expect("object");
            let cm: core_v1::ConfigMap = unwrap(&raw, "v1", "ConfigMap");
            let meta = cm.metadata.expect("metadata");
            (
                event.r#type.expect("type"),
                meta.name.unwrap_or_default(),
                meta.resource_version.unwrap_or_default(),
                serde_json::to_value(&cm.data).expect("data"),
            )
        })
        .collect();
    assert_eq!(decoded, json_events);
}

/// client-go's metadata client asks for PartialObjectMetadata in protobuf, for custom resources
/// too; custom resources themselves have no protobuf form (JSON when acceptable, else 406), and
/// tables stay JSON.
#[tokio::test]
async fn metadata_views_and_custom_resources() {
    let server = start().await;
    let client = server.client();
    let metadata_list = "application/vnd.kubernetes.protobuf;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json";
    let (code, ct, body) = send(&client, "GET", "/api/v1/namespaces", metadata_list, None).await;
    assert_eq!((code, ct.as_str()), (200, PROTOBUF));
    let list: meta_v1::PartialObjectMetadataList =
        unwrap(&body, "meta.k8s.io/v1", "PartialObjectMetadataList");
    let mut names: Vec<String> = list
        .items
        .into_iter()
        .filter_map(|i| i.metadata.and_then(|m| m.name))
        .collect();
    names.sort();
    assert!(names.contains(&"default".to_string()), "{names:?}");

    let crd = json!({
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {"group": "example.com", "scope": "Namespaced",
                 "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
                 "versions": [{"name": "v1", "served": true, "storage": true,
                               "schema": {"openAPIV3Schema": {"type": "object",
                                          "x-kubernetes-preserve-unknown-fields": true}}}]}
    });
    let (code, ct, body) = send(
        &client,
        "POST",
        "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
        TYPED,
        Some(crd),
    )
    .await;
    assert_eq!(
        (code, ct.as_str()),
        (201, PROTOBUF),
        "{}",
        String::from_utf8_lossy(&body)
    );
    let widgets = "/apis/example.com/v1/namespaces/default/widgets";
    let widget = json!({"apiVersion": "example.com/v1", "kind": "Widget",
                        "metadata": {"name": "w"}, "spec": {"size": 3}});
    let mut created = (0, String::new(), Bytes::new());
    for _ in 0..100 {
        created = send(&client, "POST", widgets, TYPED, Some(widget.clone())).await;
        if created.0 != 404 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let (code, ct, body) = created;
    assert_eq!((code, ct.as_str()), (201, "application/json"));
    let json: serde_json::Value = serde_json::from_slice(&body).expect("json");
    assert_eq!(json["spec"]["size"], 3);

    let (code, _, _) = send(&client, "GET", &format!("{widgets}/w"), PROTOBUF, None).await;
    assert_eq!(code, 406);
    let metadata_one =
        "application/vnd.kubernetes.protobuf;as=PartialObjectMetadata;g=meta.k8s.io;v=v1";
    let (code, ct, body) = send(&client, "GET", &format!("{widgets}/w"), metadata_one, None).await;
    assert_eq!((code, ct.as_str()), (200, PROTOBUF));
    let one: meta_v1::PartialObjectMetadata =
        unwrap(&body, "meta.k8s.io/v1", "PartialObjectMetadata");
    assert_eq!(one.metadata.and_then(|m| m.name).as_deref(), Some("w"));

    let table = "application/vnd.kubernetes.protobuf;as=Table;g=meta.k8s.io;v=v1,application/json;as=Table;g=meta.k8s.io;v=v1";
    let (code, ct, body) = send(&client, "GET", "/api/v1/namespaces", table, None).await;
    assert_eq!((code, ct.as_str()), (200, "application/json"));
    let json: serde_json::Value = serde_json::from_slice(&body).expect("json");
    assert_eq!(json["kind"], "Table");
}
