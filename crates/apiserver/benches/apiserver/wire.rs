//! What the wire format costs a LIST: 10,000 Pods read as JSON and as protobuf
//! (`application/vnd.kubernetes.protobuf`, what client-go asks for first), each timed as the
//! server's answer over HTTP (serialization and transfer) and as the client's decode (serde into
//! k8s-openapi's `Pod` for JSON, prost into k8s-pb's `PodList` for protobuf), with the body sizes.

use super::*;
use http_body_util::BodyExt;
use k8s_openapi::api::core::v1::Pod;
use k8s_pb::apimachinery::pkg::runtime::Unknown;
use prost::Message;

const JSON: &str = "application/json";
const PROTOBUF: &str = "application/vnd.kubernetes.protobuf";

/// A Pod as a Deployment's template would make it: labels, an annotation, one container with
/// a port, resources, an env var and a readiness probe, bound to the node.
fn pod_json(i: usize) -> serde_json::Value {
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": format!("web-5d9c7b8f6d-{i:05}"),
            "namespace": "default",
            "labels": {"app": "web", "pod-template-hash": "5d9c7b8f6d"},
            "annotations": {"kubectl.kubernetes.io/restartedAt": "2026-12-01T10:00:00Z"},
        },
        "spec": {
            "nodeName": "kubeforge-node",
            "containers": [{
                "name": "web",
                "image": "registry.k8s.io/nginx:1.27",
                "ports": [{"containerPort": 80, "protocol": "TCP"}],
                "env": [{"name": "MODE", "value": "production"}],
                "resources": {
                    "requests": {"cpu": "100m", "memory": "128Mi"},
                    "limits": {"memory": "256Mi"},
                },
                "readinessProbe": {"httpGet": {"path": "/healthz", "port": 80}, "periodSeconds": 10},
            }],
        },
    })
}

/// One GET of `path` asking for `accept`; the whole body.
async fn get_body(client: &kube::Client, path: &str, accept: &str) -> Res<bytes::Bytes> {
    let req = axum::http::Request::get(path)
        .header("Accept", accept)
        .body(Vec::new())?;
    let res = client.send(req.map(kube::client::Body::from)).await?;
    if !res.status().is_success() {
        return Err(format!("GET {path} as {accept}: {}", res.status()).into());
    }
    Ok(res.into_body().collect().await?.to_bytes())
}

/// The items of a protobuf LIST body: the `k8s\0` prefix, the `runtime.Unknown` envelope, the
/// `PodList` inside.
fn decode_protobuf(body: &[u8]) -> Res<usize> {
    let payload = body
        .strip_prefix(b"k8s\0".as_slice())
        .ok_or("no protobuf magic prefix")?;
    let unknown = Unknown::decode(payload)?;
    let list = k8s_pb::api::core::v1::PodList::decode(unknown.raw.unwrap_or_default().as_slice())?;
    Ok(list.items.len())
}

/// LIST of 10,000 Pods as JSON and as protobuf, same server, alternating per run.
pub(super) async fn scenario_wire() -> Res<Report> {
    let mut report = Report::new("wire");
    let n = scale(10_000, 1_000);
    let runs = scale(11, 3);
    let server = start_server(None).await?;
    populate_with(&server, "pods", n, 64, pod_json).await?;
    let client = new_client(server.url())?;
    let path = "/api/v1/namespaces/default/pods";
    let (mut get_json, mut get_pb, mut dec_json, mut dec_pb) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut json_bytes, mut pb_bytes) = (0, 0);
    // One untimed round of each first (connection set-up, caches).
    get_body(&client, path, JSON).await?;
    get_body(&client, path, PROTOBUF).await?;
    for _ in 0..runs {
        let t = Instant::now();
        let body = get_body(&client, path, JSON).await?;
        get_json.push(t.elapsed().as_secs_f64());
        json_bytes = body.len();
        let t = Instant::now();
        let list: kube::core::ObjectList<Pod> = serde_json::from_slice(&body)?;
        dec_json.push(t.elapsed().as_secs_f64());
        if list.items.len() != n {
            return Err(format!("JSON listed {} of {n}", list.items.len()).into());
        }

        let t = Instant::now();
        let body = get_body(&client, path, PROTOBUF).await?;
        get_pb.push(t.elapsed().as_secs_f64());
        pb_bytes = body.len();
        let t = Instant::now();
        let items = decode_protobuf(&body)?;
        dec_pb.push(t.elapsed().as_secs_f64());
        if items != n {
            return Err(format!("protobuf listed {items} of {n}").into());
        }
    }
    let both = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(x, y)| x + y).collect::<Vec<_>>();
    let (total_json, total_pb) = (both(&get_json, &dec_json), both(&get_pb, &dec_pb));
    let ratio: Vec<f64> = total_pb
        .iter()
        .zip(&total_json)
        .map(|(p, j)| 100.0 * p / j)
        .collect();
    let k = thousands(n as u64);
    report.add(
        format!(
            "LIST {k} Pods as JSON, server answer ({} bytes)",
            thousands(json_bytes as u64)
        ),
        Unit::Ms,
        &get_json,
        Target::None,
    );
    report.add(
        format!(
            "LIST {k} Pods as protobuf, server answer ({} bytes)",
            thousands(pb_bytes as u64)
        ),
        Unit::Ms,
        &get_pb,
        Target::None,
    );
    report.add(
        format!("decode {k} Pods from JSON (serde, k8s-openapi)"),
        Unit::Ms,
        &dec_json,
        Target::None,
    );
    report.add(
        format!("decode {k} Pods from protobuf (prost, k8s-pb)"),
        Unit::Ms,
        &dec_pb,
        Target::None,
    );
    report.add(
        "protobuf answer + decode as % of JSON's, same run",
        Unit::Percent,
        &ratio,
        Target::None,
    );
    server.shutdown().await;
    Ok(report)
}
