//! The runtime's webhook server through the API server: a ConfigMap defaulter and validator
//! served over TLS, called by an in-process API server's webhook configurations; certificates
//! from a secret directory, rotated while serving.

use futures::future::BoxFuture;
use k8s_openapi::api::admissionregistration::v1::{
    MutatingWebhookConfiguration, ValidatingWebhookConfiguration,
};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, PostParams};
use kubeforge_apiserver::ApiServer;
use kubeforge_runtime::webhook::{
    Certificates, Defaulter, Denied, LocalCertificates, Validator, Warnings, WebhookServer,
    inject_ca_bundle,
};
use serde_json::json;
use std::time::Duration;

struct Labels;

impl Defaulter<ConfigMap> for Labels {
    fn default<'a>(&'a self, cm: &'a mut ConfigMap) -> BoxFuture<'a, Result<Warnings, Denied>> {
        Box::pin(async move {
            cm.metadata
                .labels
                .get_or_insert_default()
                .insert("defaulted".into(), "yes".into());
            Ok(vec!["defaulted a label".into()])
        })
    }
}

struct NoSecrets;

impl Validator<ConfigMap> for NoSecrets {
    fn validate_create<'a>(&'a self, cm: &'a ConfigMap) -> BoxFuture<'a, Result<Warnings, Denied>> {
        Box::pin(async move {
            if cm.data.iter().flatten().any(|(k, _)| k == "password") {
                return Err(Denied::new("passwords belong in Secrets"));
            }
            Ok(Vec::new())
        })
    }
    fn validate_update<'a>(
        &'a self,
        _old: &'a ConfigMap,
        new: &'a ConfigMap,
    ) -> BoxFuture<'a, Result<Warnings, Denied>> {
        self.validate_create(new)
    }
}

fn configmap(name: &str, data: serde_json::Value) -> ConfigMap {
    serde_json::from_value(
        json!({"metadata": {"name": name, "labels": {"webhooks": "on"}}, "data": data}),
    )
    .unwrap()
}

async fn configurations(client: &kube::Client, port: u16) {
    let hook = |name: &str, path: &str| {
        json!({
            "name": name,
            "clientConfig": {"url": format!("https://127.0.0.1:{port}{path}")},
            "rules": [{"operations": ["CREATE", "UPDATE"], "apiGroups": [""], "apiVersions": ["v1"], "resources": ["configmaps"]}],
            "objectSelector": {"matchLabels": {"webhooks": "on"}},
            "sideEffects": "None",
            "admissionReviewVersions": ["v1"],
        })
    };
    let m: Api<MutatingWebhookConfiguration> = Api::all(client.clone());
    m.create(
        &PostParams::default(),
        &serde_json::from_value(json!({"metadata": {"name": "configmaps"}, "webhooks": [hook("default.configmaps.example.com", "/mutate-configmap")]})).unwrap(),
    )
    .await
    .unwrap();
    let v: Api<ValidatingWebhookConfiguration> = Api::all(client.clone());
    v.create(
        &PostParams::default(),
        &serde_json::from_value(json!({"metadata": {"name": "configmaps"}, "webhooks": [hook("validate.configmaps.example.com", "/validate-configmap")]})).unwrap(),
    )
    .await
    .unwrap();
}

/// Creates ConfigMaps until one comes back defaulted (the configurations are in force).
async fn defaulted(cms: &Api<ConfigMap>, prefix: &str) -> ConfigMap {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    for i in 0.. {
        let res = cms
            .create(
                &PostParams::default(),
                &configmap(&format!("{prefix}-{i}"), json!({"k": "v"})),
            )
            .await;
        if let Ok(cm) = &res
            && cm
                .metadata
                .labels
                .as_ref()
                .is_some_and(|l| l.contains_key("defaulted"))
        {
            return cm.clone();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "never defaulted: {res:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    unreachable!()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn defaulter_and_validator_through_the_api_server_with_rotation() {
    let api = ApiServer::builder().in_memory().start().await.unwrap();
    let client = api.client();
    let dir = tempfile::tempdir().unwrap();
    let first = LocalCertificates::generate(&["127.0.0.1"]).unwrap();
    first.write_to(dir.path()).unwrap();
    let certificates = Certificates::from_dir(dir.path()).unwrap();
    let server = WebhookServer::new(certificates.clone())
        .defaulter::<ConfigMap, _>("/mutate-configmap", Labels)
        .validator::<ConfigMap, _>("/validate-configmap", NoSecrets);
    let mut registry = prometheus_client::registry::Registry::default();
    server.metrics().register(&mut registry);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(server.serve(listener, std::future::pending()));
    tokio::spawn(certificates.clone().watch(Duration::from_millis(50)));

    configurations(&client, port).await;
    inject_ca_bundle(&client, "configmaps", &first.ca_pem)
        .await
        .unwrap();
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let cm = defaulted(&cms, "first").await;
    assert_eq!(cm.metadata.labels.unwrap()["defaulted"], "yes");
    let err = cms
        .create(
            &PostParams::default(),
            &configmap("secret", json!({"password": "hunter2"})),
        )
        .await
        .unwrap_err();
    let kube::Error::Api(s) = err else {
        panic!("{err:?}")
    };
    assert_eq!(s.code, 403);
    assert_eq!(
        s.message,
        "admission webhook \"validate.configmaps.example.com\" denied the request: passwords belong in Secrets"
    );

    // Rotation: a certificate from another CA is written and the server reloads it. New
    // connections get it: a client trusting only the new CA is served, one trusting only the old
    // CA is refused. (Connections already open — the API server's pooled one — keep the
    // certificate they were made with, as Go's TLS connections do; the API server makes new ones
    // when the configuration's caBundle changes.)
    let second = LocalCertificates::generate(&["127.0.0.1"]).unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    second.write_to(dir.path()).unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while !handshake(port, &second.ca_pem).await {
        assert!(tokio::time::Instant::now() < deadline, "never rotated");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        !handshake(port, &first.ca_pem).await,
        "a client trusting only the old CA was served after the rotation"
    );
    inject_ca_bundle(&client, "configmaps", &second.ca_pem)
        .await
        .unwrap();
    let cm = defaulted(&cms, "second").await;
    assert_eq!(cm.metadata.labels.unwrap()["defaulted"], "yes");

    // The metrics counted the requests by webhook and code.
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
    assert!(
        text.contains(
            "controller_runtime_webhook_requests_total{webhook=\"/mutate-configmap\",code=\"200\"}"
        ),
        "{text}"
    );
    assert!(text.contains(
        "controller_runtime_webhook_latency_seconds_count{webhook=\"/validate-configmap\"}"
    ));
}

/// Whether a TLS handshake with the webhook server on `port` succeeds for a client that trusts
/// only `ca_pem`.
async fn handshake(port: u16, ca_pem: &str) -> bool {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, ServerName};
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem.as_bytes()).flatten() {
        roots.add(cert).unwrap();
    }
    let config = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(std::sync::Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let name = ServerName::try_from("127.0.0.1").unwrap();
    connector.connect(name, tcp).await.is_ok()
}

/// The server offers HTTP/2 through ALPN, as kube-apiserver's webhook client asks for it, and
/// answers over it (HTTP/1.1 clients are served as before, above).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_speaks_http2_when_asked() {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, ServerName};
    let local = LocalCertificates::generate(&["127.0.0.1"]).unwrap();
    let server =
        WebhookServer::new(Certificates::from_pem(&local.cert_pem, &local.key_pem).unwrap());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(server.serve(listener, std::future::pending()));

    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(local.ca_pem.as_bytes()).flatten() {
        roots.add(cert).unwrap();
    }
    let mut config = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let connector = tokio_rustls::TlsConnector::from(std::sync::Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let tls = connector
        .connect(ServerName::try_from("127.0.0.1").unwrap(), tcp)
        .await
        .unwrap();
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
    let (mut sender, connection) = hyper::client::conn::http2::handshake(
        hyper_util::rt::TokioExecutor::new(),
        hyper_util::rt::TokioIo::new(tls),
    )
    .await
    .unwrap();
    tokio::spawn(connection);
    let request = http::Request::get(format!("https://127.0.0.1:{port}/healthz"))
        .body(String::new())
        .unwrap();
    let response = sender.send_request(request).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.version(), http::Version::HTTP_2);
}
