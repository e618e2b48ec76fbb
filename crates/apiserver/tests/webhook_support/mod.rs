//! A TLS admission webhook for the webhook suites: certificates from a throwaway CA (rcgen),
//! served by axum over tokio-rustls on 127.0.0.1, recording every AdmissionReview it receives and
//! answering by the path it is called on (`/allow`, `/deny`, `/deny-noted`, `/warn`, `/mutate`, …); a
//! ConversionReview is answered wrongly on purpose, as its path says (`/convert-wrong-uid`,
//! `/convert-wrong-count`, `/convert-rename`), for the conversion webhook suite.
#![allow(dead_code)]

use axum::extract::{Path, State};
use axum::routing::post;
use base64::Engine;
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

/// The reviews a webhook received, by path.
pub type Seen = Arc<Mutex<Vec<(String, Value)>>>;

/// A running test webhook.
pub struct Webhook {
    /// Where it listens.
    pub addr: SocketAddr,
    /// The CA that signed its certificate (PEM), for `caBundle`.
    pub ca_pem: String,
    /// What it received.
    pub seen: Seen,
    /// How many connections it accepted.
    pub connections: Arc<std::sync::atomic::AtomicUsize>,
    /// The HTTP version of each request it answered, in order.
    pub versions: Arc<Mutex<Vec<axum::http::Version>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Webhook {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Webhook {
    /// `clientConfig` calling `path` on this webhook by URL.
    pub fn url_config(&self, path: &str) -> Value {
        json!({
            "url": format!("https://{}/{path}", self.addr),
            "caBundle": base64::engine::general_purpose::STANDARD.encode(&self.ca_pem),
        })
    }

    /// The reviews received on `path`.
    pub fn reviews(&self, path: &str) -> Vec<Value> {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .filter(|(p, _)| p == path)
            .map(|(_, r)| r.clone())
            .collect()
    }
}

/// A CA and a server certificate for `names` (DNS names or IP addresses), as PEM:
/// (ca, cert, key).
pub fn certificates(names: &[&str]) -> (String, String, String) {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca = rcgen::CertifiedIssuer::self_signed(ca_params, ca_key).unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let params =
        rcgen::CertificateParams::new(names.iter().map(|s| s.to_string()).collect::<Vec<_>>())
            .unwrap();
    let cert = params.signed_by(&key, &ca).unwrap();
    (ca.pem(), cert.pem(), key.serialize_pem())
}

/// Starts a webhook whose certificate names 127.0.0.1 and `extra_names`, speaking HTTP/1.1 only.
pub async fn start(extra_names: &[&str]) -> Webhook {
    start_speaking(extra_names, false).await
}

/// Starts a webhook as [`start`] does that also offers HTTP/2 (ALPN `h2`) when `h2`.
pub async fn start_speaking(extra_names: &[&str], h2: bool) -> Webhook {
    let mut names = vec!["127.0.0.1"];
    names.extend_from_slice(extra_names);
    let (ca_pem, cert_pem, key_pem) = certificates(&names);
    use rustls::pki_types::pem::PemObject;
    let certs = rustls::pki_types::CertificateDer::pem_slice_iter(cert_pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    let key = rustls::pki_types::PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .unwrap();
    let mut config = config;
    if h2 {
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    }
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let seen: Seen = Arc::default();
    let versions: Arc<Mutex<Vec<axum::http::Version>>> = Arc::default();
    let recorded = versions.clone();
    let app = axum::Router::new()
        .route("/{behaviour}", post(answer))
        .with_state(seen.clone())
        .layer(axum::middleware::from_fn(
            move |request: axum::extract::Request, next: axum::middleware::Next| {
                recorded.lock().unwrap().push(request.version());
                next.run(request)
            },
        ));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let connections: Arc<std::sync::atomic::AtomicUsize> = Arc::default();
    let accepted = connections.clone();
    let task = tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            accepted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let acceptor = acceptor.clone();
            let app = app.clone();
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let negotiated_h2 = tls.get_ref().1.alpn_protocol() == Some(b"h2");
                let io = hyper_util::rt::TokioIo::new(tls);
                let service = hyper_util::service::TowerToHyperService::new(app);
                if negotiated_h2 {
                    let _ = hyper::server::conn::http2::Builder::new(
                        hyper_util::rt::TokioExecutor::new(),
                    )
                    .serve_connection(io, service)
                    .await;
                } else {
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(io, service)
                        .await;
                }
            });
        }
    });
    Webhook {
        addr,
        ca_pem,
        seen,
        connections,
        versions,
        task,
    }
}

fn patch(ops: Value) -> Value {
    json!(base64::engine::general_purpose::STANDARD.encode(ops.to_string()))
}

async fn answer(
    State(seen): State<Seen>,
    Path(behaviour): Path<String>,
    body: axum::body::Bytes,
) -> String {
    let review: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    seen.lock()
        .unwrap()
        .push((behaviour.clone(), review.clone()));
    if review["kind"] == "ConversionReview" {
        return misconversion(&behaviour, &review).to_string();
    }
    let request = &review["request"];
    let uid = request["uid"].clone();
    let object = &request["object"];
    let has_labels = object
        .pointer("/metadata/labels")
        .is_some_and(Value::is_object);
    let has_annotations = object
        .pointer("/metadata/annotations")
        .is_some_and(Value::is_object);
    let labels_op = |key: &str, value: &str| {
        if has_labels {
            json!({"op": "add", "path": format!("/metadata/labels/{key}"), "value": value})
        } else {
            json!({"op": "add", "path": "/metadata/labels", "value": {key: value}})
        }
    };
    let mut response = json!({"uid": uid, "allowed": true});
    match behaviour.as_str() {
        "deny" => {
            response["allowed"] = json!(false);
            response["status"] =
                json!({"code": 403, "message": "configmaps labelled deny are refused"});
        }
        "deny-bare" => response["allowed"] = json!(false),
        // A refusal that also warns and annotates the audit event.
        "deny-noted" => {
            response["allowed"] = json!(false);
            response["status"] = json!({"code": 403, "message": "refused, and noted"});
            response["warnings"] = json!(["this configmap was refused"]);
            response["auditAnnotations"] = json!({"why": "labelled noted"});
        }
        "warn" => {
            response["warnings"] = json!(["think twice about this configmap"]);
            response["auditAnnotations"] = json!({"checked": "yes"});
        }
        "mutate" => {
            response["patchType"] = json!("JSONPatch");
            response["patch"] = patch(json!([labels_op("mutated", "yes")]));
        }
        // Reinvocation: records whether the label `second` was there when it was called.
        "first" => {
            let saw = object.pointer("/metadata/labels/second").is_some();
            let op = if has_annotations {
                json!({"op": "add", "path": "/metadata/annotations/first-saw-second", "value": saw.to_string()})
            } else {
                json!({"op": "add", "path": "/metadata/annotations", "value": {"first-saw-second": saw.to_string()}})
            };
            response["patchType"] = json!("JSONPatch");
            response["patch"] = patch(json!([op]));
        }
        // An HPA at autoscaling/v2 gets a memory metric and a behavior.
        "autoscale-memory" => {
            response["patchType"] = json!("JSONPatch");
            response["patch"] = patch(json!([
                {"op": "add", "path": "/spec/metrics/-", "value": {"type": "Resource",
                    "resource": {"name": "memory", "target": {"type": "AverageValue", "averageValue": "1Gi"}}}},
                {"op": "add", "path": "/spec/behavior", "value":
                    {"scaleUp": {"stabilizationWindowSeconds": 60}}},
            ]));
        }
        "second" => {
            response["patchType"] = json!("JSONPatch");
            response["patch"] = patch(json!([labels_op("second", "yes")]));
        }
        "slow" => tokio::time::sleep(std::time::Duration::from_secs(3)).await,
        "wrong-uid" => response["uid"] = json!("not-the-uid"),
        _ => {}
    }
    let api_version = review["apiVersion"].clone();
    json!({"apiVersion": api_version, "kind": "AdmissionReview", "response": response}).to_string()
}

/// A ConversionReview answered wrongly in the way `behaviour` names: another uid, no objects,
/// or the objects converted but renamed.
fn misconversion(behaviour: &str, review: &Value) -> Value {
    let request = &review["request"];
    let desired = request["desiredAPIVersion"].clone();
    let mut objects: Vec<Value> = request["objects"].as_array().cloned().unwrap_or_default();
    for o in &mut objects {
        o["apiVersion"] = desired.clone();
    }
    let mut uid = request["uid"].clone();
    match behaviour {
        "convert-wrong-uid" => uid = json!("not-the-uid"),
        "convert-wrong-count" => objects.clear(),
        "convert-rename" => {
            for o in &mut objects {
                o["metadata"]["name"] = json!("renamed");
            }
        }
        _ => {}
    }
    json!({"apiVersion": review["apiVersion"], "kind": "ConversionReview",
        "response": {"uid": uid, "convertedObjects": objects, "result": {"status": "Success"}}})
}
