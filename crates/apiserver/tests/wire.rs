//! The wire shape of responses, byte for byte where clients depend on it, against an in-process
//! server over raw HTTP: key order of objects, discovery's `storageVersionHash`, `/metrics`.

mod kube_support;

use axum::http::{Request, header};
use bytes::Bytes;
use kubeforge_apiserver::ApiServer;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

async fn start() -> ApiServer {
    kube_support::on_test_storage(ApiServer::builder().in_memory())
        .await
        .start()
        .await
        .expect("start the server")
}

/// Sends one request; answers the status code and body.
async fn send(
    client: &kube::Client,
    method: &str,
    uri: &str,
    content_type: Option<&str>,
    body: &str,
) -> (u16, Bytes) {
    let mut req = Request::builder().method(method).uri(uri);
    if let Some(ct) = content_type {
        req = req.header(header::CONTENT_TYPE, ct);
    }
    let req = req
        .body(kube::client::Body::from(body.as_bytes().to_vec()))
        .expect("request");
    let resp = client.send(req).await.expect("response");
    let code = resp.status().as_u16();
    let body = resp.into_body().collect_bytes().await.expect("body");
    (code, body)
}

async fn get_json(client: &kube::Client, uri: &str) -> Value {
    let (code, body) = send(client, "GET", uri, None, "").await;
    assert_eq!(code, 200, "GET {uri}: {}", String::from_utf8_lossy(&body));
    serde_json::from_slice(&body).expect("json")
}

/// The `storageVersionHash` of `resource` in a discovery resource list.
fn hash_of(list: &Value, resource: &str) -> Option<String> {
    list["resources"]
        .as_array()?
        .iter()
        .find(|r| r["name"] == resource)?
        .get("storageVersionHash")?
        .as_str()
        .map(str::to_string)
}

/// Discovery carries kube-apiserver's storage version hashes (its own test data:
/// `storageversionhashdata`), custom resources one for their storage version.
#[tokio::test]
async fn discovery_carries_storage_version_hashes() {
    let server = start().await;
    let c = server.client();
    let core = get_json(&c, "/api/v1").await;
    assert_eq!(
        hash_of(&core, "configmaps").as_deref(),
        Some("qFsyl6wFWjQ=")
    );
    assert_eq!(hash_of(&core, "pods").as_deref(), Some("xPOwRZ+Yhw8="));
    assert_eq!(hash_of(&core, "events").as_deref(), Some("r2yiGXH7wu8="));
    assert_eq!(
        hash_of(&core, "pods/status"),
        None,
        "subresources have none"
    );
    let apps = get_json(&c, "/apis/apps/v1").await;
    assert_eq!(
        hash_of(&apps, "deployments").as_deref(),
        Some("8aSe+NMegvE=")
    );
    let events = get_json(&c, "/apis/events.k8s.io/v1").await;
    assert_eq!(hash_of(&events, "events").as_deref(), Some("r2yiGXH7wu8="));
    let rbac = get_json(&c, "/apis/rbac.authorization.k8s.io/v1").await;
    assert_eq!(hash_of(&rbac, "roles").as_deref(), Some("7FuwZcIIItM="));
    let authz = get_json(&c, "/apis/authorization.k8s.io/v1").await;
    assert_eq!(hash_of(&authz, "selfsubjectaccessreviews"), None);

    // A custom resource served at two versions: both carry the storage version's hash.
    let crd = json!({
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.wire.example.com"},
        "spec": {"group": "wire.example.com", "scope": "Namespaced",
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
            "versions": [
                {"name": "v1", "served": true, "storage": false,
                 "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}},
                {"name": "v2", "served": true, "storage": true,
                 "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}]}});
    let (code, body) = send(
        &c,
        "POST",
        "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
        Some("application/json"),
        &crd.to_string(),
    )
    .await;
    assert_eq!(code, 201, "{}", String::from_utf8_lossy(&body));
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (code, _) = send(&c, "GET", "/apis/wire.example.com/v1", None, "").await;
        if code == 200 {
            break;
        }
        assert!(Instant::now() < deadline, "widgets were never served");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // sha256("wire.example.com/v2/Widget")[..8], base64.
    let want = "mqGcJWHcd3A=";
    for v in ["v1", "v2"] {
        let list = get_json(&c, &format!("/apis/wire.example.com/{v}")).await;
        assert_eq!(hash_of(&list, "widgets").as_deref(), Some(want), "{v}");
    }
}

/// The lines of one metric family's samples whose labels contain every `want`.
fn samples<'a>(text: &'a str, name: &str, want: &[&str]) -> Vec<&'a str> {
    text.lines()
        .filter(|l| l.starts_with(&format!("{name}{{")) || l.starts_with(&format!("{name} ")))
        .filter(|l| want.iter().all(|w| l.contains(w)))
        .collect()
}

/// `/metrics` serves kube-apiserver's families with its labels after some requests.
#[tokio::test]
async fn metrics_are_served_with_upstream_names() {
    let server = start().await;
    let c = server.client();
    let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "m"}});
    let cms = "/api/v1/namespaces/default/configmaps";
    let (code, _) = send(&c, "POST", cms, Some("application/json"), &cm.to_string()).await;
    assert_eq!(code, 201);
    let (code, _) = send(&c, "GET", &format!("{cms}/m"), None, "").await;
    assert_eq!(code, 200);
    let (code, _) = send(&c, "GET", &format!("{cms}/missing"), None, "").await;
    assert_eq!(code, 404);
    let (code, _) = send(&c, "GET", cms, None, "").await;
    assert_eq!(code, 200);
    let apply = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: m\ndata:\n  a: b\n";
    let (code, _) = send(
        &c,
        "PATCH",
        &format!("{cms}/m?fieldManager=t"),
        Some("application/apply-patch+yaml"),
        apply,
    )
    .await;
    assert_eq!(code, 200);
    let (code, _) = send(
        &c,
        "POST",
        &format!("{cms}?dryRun=All"),
        Some("application/json"),
        &json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "d"}}).to_string(),
    )
    .await;
    assert_eq!(code, 201);
    // Not served: not recorded.
    let (code, _) = send(&c, "GET", "/apis/nope.example.com/v1/things", None, "").await;
    assert_eq!(code, 404);
    // A watch that received its initial event.
    let watch = c.clone();
    let watching = tokio::spawn(async move {
        let req = Request::builder()
            .uri("/api/v1/namespaces/default/configmaps?watch=true")
            .body(kube::client::Body::empty())
            .expect("request");
        let resp = watch.send(req).await.expect("watch");
        let mut body = resp.into_body();
        use http_body_util::BodyExt;
        let _first = body.frame().await;
        tokio::time::sleep(Duration::from_secs(30)).await;
    });

    // RBAC's nonResourceURL rules apply to impersonated users.
    let req = Request::builder()
        .uri("/metrics")
        .header("Impersonate-User", "someone")
        .body(kube::client::Body::empty())
        .expect("request");
    let resp = c.send(req).await.expect("response");
    assert_eq!(resp.status().as_u16(), 403);
    // Recorded once answered: the next scrape shows this one.
    assert_eq!(send(&c, "GET", "/metrics", None, "").await.0, 200);
    let deadline = Instant::now() + Duration::from_secs(10);
    let text = loop {
        let (code, body) = send(&c, "GET", "/metrics", None, "").await;
        assert_eq!(code, 200);
        let text = String::from_utf8(body.to_vec()).expect("utf-8");
        if !samples(&text, "apiserver_watch_events_total", &[]).is_empty() {
            break text;
        }
        assert!(Instant::now() < deadline, "no watch event counted:\n{text}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    watching.abort();

    let one = |name: &str, want: &[&str]| {
        let found = samples(&text, name, want);
        assert_eq!(found.len(), 1, "{name} {want:?} in:\n{text}");
        found[0].to_string()
    };
    let create = one(
        "apiserver_request_total",
        &[
            r#"verb="POST""#,
            r#"dry_run="""#,
            r#"group="""#,
            r#"version="v1""#,
            r#"resource="configmaps""#,
            r#"subresource="""#,
            r#"scope="resource""#,
            r#"component="apiserver""#,
            r#"code="201""#,
        ],
    );
    assert!(create.ends_with(" 1"), "{create}");
    one(
        "apiserver_request_total",
        &[r#"verb="POST""#, r#"dry_run="All""#, r#"code="201""#],
    );
    one(
        "apiserver_request_total",
        &[r#"verb="GET""#, r#"resource="configmaps""#, r#"code="200""#],
    );
    one(
        "apiserver_request_total",
        &[r#"verb="GET""#, r#"resource="configmaps""#, r#"code="404""#],
    );
    one(
        "apiserver_request_total",
        &[r#"verb="LIST""#, r#"scope="namespace""#, r#"code="200""#],
    );
    one(
        "apiserver_request_total",
        &[r#"verb="APPLY""#, r#"scope="resource""#, r#"code="200""#],
    );
    one(
        "apiserver_request_total",
        &[r#"verb="WATCH""#, r#"resource="configmaps""#],
    );
    assert!(
        samples(&text, "apiserver_request_total", &["nope.example.com"]).is_empty(),
        "{text}"
    );
    one(
        "apiserver_request_total",
        &[
            r#"verb="GET""#,
            r#"subresource="/metrics""#,
            r#"scope="""#,
            r#"code="200""#,
        ],
    );
    // The duration histogram: upstream's labels and buckets.
    let buckets = samples(
        &text,
        "apiserver_request_duration_seconds_bucket",
        &[
            r#"verb="POST""#,
            r#"dry_run="""#,
            r#"resource="configmaps""#,
        ],
    );
    assert_eq!(buckets.len(), 24, "23 buckets and +Inf: {buckets:?}");
    assert!(buckets.iter().any(|b| b.contains(r#"le="0.005""#)));
    assert!(buckets.iter().any(|b| b.contains(r#"le="60.0""#)));
    assert!(buckets.iter().all(|b| !b.contains("code=")));
    one(
        "apiserver_current_inflight_requests",
        &[r#"request_kind="readOnly""#],
    );
    one(
        "apiserver_current_inflight_requests",
        &[r#"request_kind="mutating""#],
    );
    let stored = one("apiserver_storage_objects", &[r#"resource="configmaps""#]);
    assert!(stored.ends_with(" 1"), "{stored}");
    one(
        "apiserver_storage_objects",
        &[r#"resource="clusterroles.rbac.authorization.k8s.io""#],
    );
    one(
        "apiserver_resource_objects",
        &[r#"group="""#, r#"resource="configmaps""#],
    );
    one(
        "apiserver_watch_events_total",
        &[r#"group="""#, r#"version="v1""#, r#"kind="ConfigMap""#],
    );
    one(
        "apiserver_registered_watchers",
        &[r#"group="""#, r#"version="v1""#, r#"kind="ConfigMap""#],
    );
}

/// Built-in objects come as kube-apiserver writes Go structs: `kind` before `apiVersion`,
/// `metadata` fields in ObjectMeta's order, map keys sorted; in every response that carries
/// one object and in watch events. Custom resources come with every object's keys sorted.
#[tokio::test]
async fn objects_are_serialized_in_upstreams_key_order() {
    let server = start().await;
    let c = server.client();
    let cms = "/api/v1/namespaces/default/configmaps";
    let prefix = r#"{"kind":"ConfigMap","apiVersion":"v1","metadata":{"name":"o","namespace":"default","uid":""#;
    let check = |what: &str, code: u16, body: &Bytes, want_code: u16| {
        let text = String::from_utf8_lossy(body);
        assert_eq!(code, want_code, "{what}: {text}");
        assert!(text.starts_with(prefix), "{what}: {text}");
        let v: Value = serde_json::from_slice(body).expect("json");
        let meta: Vec<&str> = v["metadata"]
            .as_object()
            .expect("metadata")
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            &meta[..5],
            [
                "name",
                "namespace",
                "uid",
                "resourceVersion",
                "creationTimestamp"
            ],
            "{what}: {text}"
        );
        let data: Vec<&str> = v["data"]
            .as_object()
            .map(|d| d.keys().map(String::as_str).collect())
            .unwrap_or_default();
        let mut sorted = data.clone();
        sorted.sort_unstable();
        assert_eq!(data, sorted, "{what}: {text}");
    };
    let (code, body) = send(
        &c,
        "POST",
        cms,
        Some("application/json"),
        r#"{"data":{"b":"2","a":"1"},"metadata":{"labels":{"y":"1","x":"2"},"name":"o"},"apiVersion":"v1","kind":"ConfigMap"}"#,
    )
    .await;
    check("create", code, &body, 201);
    let created: Value = serde_json::from_slice(&body).expect("json");
    let (code, body) = send(&c, "GET", &format!("{cms}/o"), None, "").await;
    check("get", code, &body, 200);
    let mut replaced = created.clone();
    replaced["data"]["c"] = json!("3");
    let (code, body) = send(
        &c,
        "PUT",
        &format!("{cms}/o"),
        Some("application/json"),
        &replaced.to_string(),
    )
    .await;
    check("update", code, &body, 200);
    let (code, body) = send(
        &c,
        "PATCH",
        &format!("{cms}/o"),
        Some("application/merge-patch+json"),
        r#"{"data":{"0":"z"}}"#,
    )
    .await;
    check("patch", code, &body, 200);
    let (code, body) = send(
        &c,
        "PATCH",
        &format!("{cms}/o?fieldManager=m"),
        Some("application/apply-patch+yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: o\ndata:\n  e: '5'\n",
    )
    .await;
    check("apply", code, &body, 200);
    let (code, body) = send(
        &c,
        "POST",
        &format!("{cms}?dryRun=All"),
        Some("application/json"),
        r#"{"metadata":{"name":"d"},"apiVersion":"v1","kind":"ConfigMap"}"#,
    )
    .await;
    let text = String::from_utf8_lossy(&body);
    assert_eq!(code, 201, "{text}");
    assert!(
        text.starts_with(r#"{"kind":"ConfigMap","apiVersion":"v1","metadata":{"name":"d","namespace":"default","uid":""#),
        "dry run: {text}"
    );
    // A watch event carries the object as stored.
    let req = Request::builder()
        .uri(format!("{cms}?watch=true"))
        .body(kube::client::Body::empty())
        .expect("request");
    let resp = c.send(req).await.expect("watch");
    let mut stream = resp.into_body();
    use http_body_util::BodyExt;
    let frame = tokio::time::timeout(Duration::from_secs(10), stream.frame())
        .await
        .expect("an event")
        .expect("a frame")
        .expect("no error");
    let line = frame.into_data().expect("data");
    let text = String::from_utf8_lossy(&line);
    assert!(
        text.starts_with(&format!(r#"{{"type":"ADDED","object":{prefix}"#)),
        "{text}"
    );
    // A ConfigMap is gone at once, so its deletion is answered with a Status, in the Status
    // struct's order.
    let (code, body) = send(&c, "DELETE", &format!("{cms}/o"), None, "").await;
    assert_eq!(code, 200);
    let text = String::from_utf8_lossy(&body);
    assert!(
        text.starts_with(r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Success","details":{"name":"o","kind":"configmaps","uid":""#),
        "delete: {text}"
    );

    // The scale subresource's Scale too.
    let deployment = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
        "spec": {"selector": {"matchLabels": {"a": "b"}},
                 "template": {"metadata": {"labels": {"a": "b"}}, "spec": {"containers": [{"name": "c", "image": "i"}]}}}});
    let deployments = "/apis/apps/v1/namespaces/default/deployments";
    let (code, body) = send(
        &c,
        "POST",
        deployments,
        Some("application/json"),
        &deployment.to_string(),
    )
    .await;
    assert_eq!(code, 201, "{}", String::from_utf8_lossy(&body));
    let (code, body) = send(&c, "GET", &format!("{deployments}/web/scale"), None, "").await;
    let text = String::from_utf8_lossy(&body);
    assert_eq!(code, 200, "{text}");
    assert!(
        text.starts_with(r#"{"kind":"Scale","apiVersion":"autoscaling/v1","metadata":{"name":"web","namespace":"default","uid":""#),
        "{text}"
    );

    // A custom resource: sorted at every level.
    let crd = json!({
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "gizmos.wire.example.com"},
        "spec": {"group": "wire.example.com", "scope": "Namespaced",
            "names": {"plural": "gizmos", "singular": "gizmo", "kind": "Gizmo"},
            "versions": [{"name": "v1", "served": true, "storage": true,
                "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}]}});
    let (code, body) = send(
        &c,
        "POST",
        "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
        Some("application/json"),
        &crd.to_string(),
    )
    .await;
    assert_eq!(code, 201, "{}", String::from_utf8_lossy(&body));
    let gizmos = "/apis/wire.example.com/v1/namespaces/default/gizmos";
    let deadline = Instant::now() + Duration::from_secs(10);
    while send(&c, "GET", gizmos, None, "").await.0 != 200 {
        assert!(Instant::now() < deadline, "gizmos were never served");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (code, body) = send(
        &c,
        "POST",
        gizmos,
        Some("application/json"),
        r#"{"kind":"Gizmo","apiVersion":"wire.example.com/v1","metadata":{"name":"g"},"spec":{"z":1,"a":{"y":true,"b":false}}}"#,
    )
    .await;
    assert_eq!(code, 201, "{}", String::from_utf8_lossy(&body));
    for (what, body) in [
        ("create", body),
        (
            "get",
            send(&c, "GET", &format!("{gizmos}/g"), None, "").await.1,
        ),
    ] {
        let text = String::from_utf8_lossy(&body);
        assert!(
            text.starts_with(r#"{"apiVersion":"wire.example.com/v1","kind":"Gizmo","metadata":{"creationTimestamp":"#),
            "{what}: {text}"
        );
        assert!(
            text.ends_with(r#""spec":{"a":{"b":false,"y":true},"z":1}}"#),
            "{what}: {text}"
        );
    }
}
