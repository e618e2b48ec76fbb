//! Inputs and clients that would crash, freeze or exhaust the API server, over real sockets
//! against an in-process server: deeply nested YAML, collection writes across all namespaces,
//! clients that connect and say nothing (or half a request), more connections than the server
//! serves, more requests in flight than it admits, and HTTP/2 with prior knowledge.
//! Each test is the smallest input that reproduced the problem, with the answer kube-apiserver
//! gives; a property test then throws nested YAML and JSON patches at the server and checks
//! that each is answered in time, without a 5xx, and that memory stays bounded. Servers are in
//! memory, or on etcd with `KUBEFORGE_TEST_STORAGE=etcd` (see `kube_support`).

mod kube_support;

use axum::http::{Method, Request, header};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use kube_support::Stored;
use kubeforge_apiserver::{ApiServer, ApiServerBuilder, ConnectionLimits, RequestLimits};
use proptest::prelude::*;
use proptest::test_runner::{Config as ProptestConfig, TestCaseError, TestRunner};
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A server built by `builder`, on the medium of this test run: as built (in memory), or on
/// etcd with `KUBEFORGE_TEST_STORAGE=etcd` (see `kube_support::on_test_storage`).
async fn start_server(builder: ApiServerBuilder) -> ApiServer {
    kube_support::on_test_storage(builder)
        .await
        .start()
        .await
        .expect("start")
}

/// One raw response.
struct Reply {
    code: u16,
    body: Value,
}

async fn send(client: &kube::Client, method: &str, uri: &str, ct: &str, body: Vec<u8>) -> Reply {
    let mut req = Request::builder()
        .method(Method::from_bytes(method.as_bytes()).expect("method"))
        .uri(uri);
    if !ct.is_empty() {
        req = req.header(header::CONTENT_TYPE, ct);
    }
    let req = req.body(kube::client::Body::from(body)).expect("request");
    let resp = tokio::time::timeout(Duration::from_secs(20), client.send(req))
        .await
        .expect("answered in time")
        .expect("sent");
    let code = resp.status().as_u16();
    let bytes = resp.into_body().collect_bytes().await.expect("body");
    let body = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
    Reply { code, body }
}

#[track_caller]
fn assert_status(r: &Reply, code: u16, reason: &str, message: &str) {
    assert_eq!(r.code, code, "{}", r.body);
    assert_eq!(r.body["kind"], "Status", "{}", r.body);
    assert_eq!(r.body["reason"], reason, "{}", r.body);
    assert_eq!(r.body["message"], message, "{}", r.body);
}

fn config_map(name: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": name}, "data": {"a": "1"}}))
    .expect("json")
}

/// Checks that raw bytes read from a connection are a `200 OK` answer.
#[track_caller]
fn assert_answered_ok(sent: &[u8]) {
    assert!(
        sent.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(sent)
    );
}

/// Reads until the server closes the connection; the bytes it sent first.
async fn read_to_close(stream: &mut TcpStream, within: Duration) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    tokio::time::timeout(within, stream.read_to_end(&mut out))
        .await
        .ok()
        .map(|_| out)
}

#[tokio::test]
async fn deeply_nested_yaml_is_refused_before_it_is_parsed() {
    let server = start_server(ApiServer::builder().in_memory()).await;
    let client = server.client();
    // 64 K levels in 128 KiB: libyaml alone took tens of seconds on this.
    let deep = format!("{{a: {}{}}}", "[".repeat(65_536), "]".repeat(65_536));
    let before = Stored::of(&server).await;
    let start = Instant::now();
    for (method, uri, ct) in [
        (
            "POST",
            "/api/v1/namespaces/default/configmaps",
            "application/yaml",
        ),
        (
            "PATCH",
            "/api/v1/namespaces/default/configmaps/x?fieldManager=t",
            "application/apply-patch+yaml",
        ),
    ] {
        let r = send(&client, method, uri, ct, deep.clone().into_bytes()).await;
        assert_eq!(r.code, 400, "{}", r.body);
        assert_eq!(r.body["reason"], "BadRequest", "{}", r.body);
        let message = r.body["message"].as_str().unwrap_or_default();
        // A create names the kind the body should have been (as kube-apiserver does).
        assert!(
            message.contains("yaml: exceeded max depth of 256"),
            "{message}"
        );
    }
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );
    before.assert_unchanged(&server, "nothing stored").await;
    // Ordinary YAML still decodes.
    let ok = send(
        &client,
        "POST",
        "/api/v1/namespaces/default/configmaps",
        "application/yaml",
        b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: fine\ndata:\n  a: '[['\n".to_vec(),
    )
    .await;
    assert_eq!(ok.code, 201, "{}", ok.body);
    server.shutdown().await;
}

#[tokio::test]
async fn long_lists_and_maps_in_patches_take_linear_time() {
    let server = start_server(ApiServer::builder().in_memory()).await;
    let client = server.client();
    // At 20,000 items the quadratic code took 14.6 s to delete a list's items (debug build);
    // the linear code takes under 2 s.
    let n = 20_000;
    let keys: serde_json::Map<String, Value> =
        (0..n).map(|i| (format!("k{i}"), json!("v"))).collect();
    let body = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "big"},
        "data": keys});
    let r = send(
        &client,
        "POST",
        "/api/v1/namespaces/default/configmaps",
        "application/json",
        serde_json::to_vec(&body).expect("json"),
    )
    .await;
    assert_eq!(r.code, 201, "{}", r.body);
    let uri = "/api/v1/namespaces/default/configmaps/big";
    let strategic = "application/strategic-merge-patch+json";
    // Each was quadratic: matching list items one by one, removing keys one by one from an
    // ordered map, and the directive keys likewise.
    let finalizers: Vec<String> = (0..n).map(|i| format!("example.com/f{i}")).collect();
    let nulls: serde_json::Map<String, Value> =
        (0..n).map(|i| (format!("k{i}"), Value::Null)).collect();
    let orders: serde_json::Map<String, Value> = (0..n)
        .map(|i| (format!("$setElementOrder/x{i}"), json!([])))
        .collect();
    for (what, patch) in [
        (
            "a long scalar list",
            json!({"metadata": {"finalizers": finalizers}}),
        ),
        (
            "deleting from it",
            json!({"metadata": {"$deleteFromPrimitiveList/finalizers": finalizers}}),
        ),
        ("removing every key", json!({"data": nulls})),
        ("many order directives", Value::Object(orders)),
    ] {
        let start = Instant::now();
        let r = send(
            &client,
            "PATCH",
            uri,
            strategic,
            serde_json::to_vec(&patch).expect("json"),
        )
        .await;
        assert!(r.code < 500, "{what}: {}", r.body);
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "{what} took {:?}",
            start.elapsed()
        );
    }
    let r = send(&client, "GET", uri, "", Vec::new()).await;
    assert!(
        r.body["data"].as_object().is_none_or(|m| m.is_empty()),
        "every key removed: {}",
        r.body["data"]
    );
    server.shutdown().await;
}

#[tokio::test]
async fn collection_writes_across_all_namespaces_are_not_allowed() {
    let server = start_server(ApiServer::builder().in_memory()).await;
    let client = server.client();
    for ns in ["default", "kube-public"] {
        let uri = format!("/api/v1/namespaces/{ns}/configmaps");
        let r = send(
            &client,
            "POST",
            &uri,
            "application/json",
            config_map("keep"),
        )
        .await;
        assert_eq!(r.code, 201, "{}", r.body);
    }
    let before = Stored::of(&server).await;
    let not_allowed = "the server does not allow this method on the requested resource";
    for (method, uri) in [
        ("DELETE", "/api/v1/configmaps"),
        ("DELETE", "/api/v1/configmaps?watch=1"),
        ("DELETE", "/apis/rbac.authorization.k8s.io/v1/rolebindings"),
        ("POST", "/api/v1/configmaps"),
    ] {
        let body = if method == "POST" {
            config_map("new")
        } else {
            Vec::new()
        };
        let r = send(&client, method, uri, "application/json", body).await;
        assert_status(&r, 405, "MethodNotAllowed", not_allowed);
    }
    let r = send(&client, "GET", "/api/v1/configmaps/keep", "", Vec::new()).await;
    assert_status(
        &r,
        404,
        "NotFound",
        "the server could not find the requested resource",
    );
    before.assert_unchanged(&server, "nothing deleted").await;
    let list = send(&client, "GET", "/api/v1/configmaps", "", Vec::new()).await;
    assert_eq!(list.code, 200);
    let names: Vec<&str> = list.body["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|i| i["metadata"]["name"].as_str())
        .filter(|n| *n == "keep")
        .collect();
    assert_eq!(names.len(), 2);
    server.shutdown().await;
}

#[tokio::test]
async fn silent_and_idle_clients_are_disconnected() {
    let server = start_server(ApiServer::builder().in_memory().connection_limits(
        ConnectionLimits {
            header_read_timeout: Duration::from_millis(300),
            ..ConnectionLimits::default()
        },
    ))
    .await;
    let addr = server.addr();
    // Connects and says nothing.
    let mut silent = TcpStream::connect(addr).await.expect("connect");
    // Sends half a request head.
    let mut slow = TcpStream::connect(addr).await.expect("connect");
    slow.write_all(b"GET /api HTTP/1.1\r\nHost: x\r\n")
        .await
        .expect("write");
    // Sends a whole request, then keeps the connection open.
    let mut idle = TcpStream::connect(addr).await.expect("connect");
    idle.write_all(b"GET /version HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .expect("write");
    for (name, stream) in [
        ("silent", &mut silent),
        ("slow", &mut slow),
        ("idle", &mut idle),
    ] {
        let sent = read_to_close(stream, Duration::from_secs(5))
            .await
            .unwrap_or_else(|| panic!("the {name} connection was not closed"));
        if name == "idle" {
            assert_answered_ok(&sent);
        }
    }
    server.shutdown().await;
}

#[tokio::test]
async fn connections_past_the_cap_are_closed_at_once() {
    let server = start_server(ApiServer::builder().in_memory().connection_limits(
        ConnectionLimits {
            header_read_timeout: Duration::from_secs(30),
            max_connections: 4,
        },
    ))
    .await;
    let addr = server.addr();
    let mut held = Vec::new();
    for _ in 0..4 {
        held.push(TcpStream::connect(addr).await.expect("connect"));
    }
    // Give the accept loop time to take the four.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut extra = TcpStream::connect(addr).await.expect("connect");
    let _ = extra
        .write_all(b"GET /version HTTP/1.1\r\nHost: x\r\n\r\n")
        .await;
    let sent = read_to_close(&mut extra, Duration::from_secs(5))
        .await
        .expect("closed at once, not left hanging");
    assert!(sent.is_empty(), "{}", String::from_utf8_lossy(&sent));
    // Once the held connections go, clients are served again.
    drop(held);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut next = TcpStream::connect(addr).await.expect("connect");
    next.write_all(b"GET /version HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .expect("write");
    let sent = read_to_close(&mut next, Duration::from_secs(5))
        .await
        .expect("answered");
    assert_answered_ok(&sent);
    server.shutdown().await;
}

#[tokio::test]
async fn requests_past_the_in_flight_limit_are_told_to_retry() {
    let server = start_server(
        ApiServer::builder()
            .in_memory()
            .request_limits(RequestLimits {
                max_requests_inflight: 400,
                max_mutating_requests_inflight: 1,
                request_timeout: Duration::from_secs(2),
            }),
    )
    .await;
    let client = server.client();
    // A create whose body never finishes holds the one mutating slot.
    let mut half = TcpStream::connect(server.addr()).await.expect("connect");
    half.write_all(
        b"POST /api/v1/namespaces/default/configmaps HTTP/1.1\r\nHost: x\r\n\
          Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"kind\":",
    )
    .await
    .expect("write");
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Over a raw connection: kube's client retries 429s by itself (as client-go does).
    let body = config_map("second");
    let mut second = TcpStream::connect(server.addr()).await.expect("connect");
    second
        .write_all(
            format!(
                "POST /api/v1/namespaces/default/configmaps HTTP/1.1\r\nHost: x\r\n\
                 Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            )
            .as_bytes(),
        )
        .await
        .expect("write");
    second.write_all(&body).await.expect("write");
    let sent = read_to_close(&mut second, Duration::from_secs(5))
        .await
        .expect("answered at once");
    let text = String::from_utf8_lossy(&sent);
    let (head, json) = text.split_once("\r\n\r\n").expect("a response");
    assert!(head.starts_with("HTTP/1.1 429"), "{text}");
    assert!(
        head.to_ascii_lowercase().contains("retry-after: 1\r\n"),
        "{text}"
    );
    let status: Value = serde_json::from_str(json).expect("a Status");
    assert_eq!(status["reason"], "TooManyRequests", "{status}");
    assert_eq!(status["code"], 429, "{status}");
    assert_eq!(
        status["message"],
        "Too many requests, please try again later."
    );
    assert_eq!(status["details"]["retryAfterSeconds"], 1);
    // Reads have their own budget.
    let read = send(
        &client,
        "GET",
        "/api/v1/namespaces/default/configmaps",
        "",
        Vec::new(),
    )
    .await;
    assert_eq!(read.code, 200);
    // The half-sent request hits its deadline.
    let sent = read_to_close(&mut half, Duration::from_secs(10))
        .await
        .expect("answered and closed");
    let text = String::from_utf8_lossy(&sent);
    assert!(text.starts_with("HTTP/1.1 504"), "{text}");
    assert!(
        text.contains(
            "request did not complete within requested timeout - context deadline exceeded"
        ),
        "{text}"
    );
    // The slot is free again.
    let r = send(
        &client,
        "POST",
        "/api/v1/namespaces/default/configmaps",
        "application/json",
        config_map("third"),
    )
    .await;
    assert_eq!(r.code, 201, "{}", r.body);
    server.shutdown().await;
}

#[tokio::test]
async fn http2_with_prior_knowledge_is_served() {
    let server = start_server(ApiServer::builder().in_memory()).await;
    let stream = TcpStream::connect(server.addr()).await.expect("connect");
    let (mut sender, conn) = hyper::client::conn::http2::handshake(
        hyper_util::rt::TokioExecutor::new(),
        hyper_util::rt::TokioIo::new(stream),
    )
    .await
    .expect("h2 handshake");
    tokio::spawn(conn);
    for _ in 0..2 {
        let req = Request::builder()
            .uri(format!(
                "http://{}/api/v1/namespaces/default",
                server.addr()
            ))
            .body(Full::new(Bytes::new()))
            .expect("request");
        let resp = sender.send_request(req).await.expect("h2 response");
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.version(), axum::http::Version::HTTP_2);
        let body = resp.into_body().collect().await.expect("body").to_bytes();
        let ns: Value = serde_json::from_slice(&body).expect("json");
        assert_eq!(ns["metadata"]["name"], "default");
    }
    server.shutdown().await;
}

// ---------------------------------------------------------------------------------------------
// Property test: nested YAML and JSON patches never break the server.

/// YAML bodies: runs of structure tokens, some repeated tens of thousands of times.
fn nested_yaml() -> impl Strategy<Value = Vec<u8>> {
    let token = proptest::sample::select(
        &[
            "[", "]", "{", "}", "- ", "a: ", "\n", "  ", "'x['", "\"{\"", "# [", "|\n", ",", "1",
            "? ", ": ", "&a ", "*a", "!!str ", "---\n",
        ][..],
    );
    let run = (token, prop_oneof![4 => 1usize..8, 1 => 1000usize..70_000]);
    proptest::collection::vec(run, 1..40).prop_map(|runs| {
        let mut out = String::new();
        for (t, n) in runs {
            out.push_str(&t.repeat(n));
        }
        out.into_bytes()
    })
}

/// JSON patches: random operations over paths that exist, do not, or are malformed, with values
/// that may nest deeply.
fn json_patch() -> impl Strategy<Value = Vec<u8>> {
    let op =
        proptest::sample::select(&["add", "remove", "replace", "move", "copy", "test", "x"][..]);
    let path = proptest::sample::select(
        &[
            "",
            "/",
            "/data",
            "/data/a",
            "/data/nope",
            "/data/-",
            "/metadata",
            "/metadata/labels",
            "/metadata/labels/x",
            "/metadata/finalizers/0",
            "/metadata/finalizers/-",
            "/a/b/c",
            "/~1",
            "/~2",
            "/data/0",
            "data",
            "/kind",
            "/metadata/name",
            "/apiVersion",
        ][..],
    );
    let depth = prop_oneof![3 => 0usize..4, 1 => 100usize..200];
    let one = (op, path.clone(), proptest::option::of(path), depth).prop_map(
        |(op, path, from, depth)| {
            let mut value = json!("v");
            for _ in 0..depth {
                value = json!([value]);
            }
            let mut o = json!({"op": op, "path": path, "value": value});
            if let Some(from) = from {
                o["from"] = json!(from);
            }
            o
        },
    );
    proptest::collection::vec(one, 0..12).prop_map(|ops| serde_json::to_vec(&ops).expect("json"))
}

async fn try_send(
    client: &kube::Client,
    method: &str,
    uri: &str,
    ct: &str,
    body: Vec<u8>,
) -> Result<(u16, Value), String> {
    let req = Request::builder()
        .method(Method::from_bytes(method.as_bytes()).map_err(|e| e.to_string())?)
        .uri(uri)
        .header(header::CONTENT_TYPE, ct)
        .body(kube::client::Body::from(body))
        .map_err(|e| e.to_string())?;
    let resp = client.send(req).await.map_err(|e| e.to_string())?;
    let code = resp.status().as_u16();
    let bytes = resp
        .into_body()
        .collect_bytes()
        .await
        .map_err(|e| e.to_string())?;
    Ok((code, serde_json::from_slice(&bytes).unwrap_or(Value::Null)))
}

fn rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

#[test]
fn nested_yaml_and_json_patches_never_break_the_server() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let server = rt.block_on(start_server(ApiServer::builder().in_memory()));
    let client = server.client();
    let cm = "/api/v1/namespaces/default/configmaps";
    rt.block_on(async {
        let (code, _) = try_send(&client, "POST", cm, "application/json", config_map("p"))
            .await
            .expect("create");
        assert_eq!(code, 201);
    });
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(48);
    let mut runner = TestRunner::new(ProptestConfig {
        cases,
        failure_persistence: None,
        max_shrink_iters: 64,
        ..ProptestConfig::default()
    });
    let input = prop_oneof![
        nested_yaml().prop_map(|b| ("POST", "application/yaml", b)),
        nested_yaml().prop_map(|b| ("PATCH", "application/apply-patch+yaml", b)),
        json_patch().prop_map(|b| ("PATCH", "application/json-patch+json", b)),
    ];
    let result = runner.run(&input, |(method, ct, body)| {
        let uri = if method == "POST" {
            cm.to_string()
        } else {
            format!("{cm}/p?fieldManager=fuzz")
        };
        let start = Instant::now();
        let (code, status) = rt
            .block_on(async {
                tokio::time::timeout(
                    Duration::from_secs(10),
                    try_send(&client, method, &uri, ct, body),
                )
                .await
            })
            .map_err(|_| TestCaseError::fail(format!("{method} {ct}: no answer in 10 s")))?
            .map_err(|e| TestCaseError::fail(format!("{method} {ct}: {e}")))?;
        prop_assert!(code < 500, "{method} {ct}: {code} {status}");
        prop_assert!(
            start.elapsed() < Duration::from_secs(3),
            "{method} {ct}: answered after {:?}",
            start.elapsed()
        );
        if code >= 400 {
            prop_assert_eq!(&status["kind"], "Status", "{}", status);
        }
        Ok(())
    });
    result.expect("every input answered in time without a 5xx");
    // Still serving, with bounded memory.
    rt.block_on(async {
        let (code, _) = try_send(&client, "GET", cm, "application/json", Vec::new())
            .await
            .expect("still serving");
        assert_eq!(code, 200);
    });
    assert!(rss_bytes() < 2 << 30, "RSS {} MiB", rss_bytes() >> 20);
    rt.block_on(server.shutdown());
}
