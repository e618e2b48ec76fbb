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

    // Rotation: a certificate from another CA is written; once reloaded, the API server (still
    // trusting the first CA) fails to call the webhook until the new CA is injected.
    let second = LocalCertificates::generate(&["127.0.0.1"]).unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    second.write_to(dir.path()).unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    let refused = loop {
        match cms
            .create(
                &PostParams::default(),
                &configmap(&format!("rot-{}", uuid()), json!({"k": "v"})),
            )
            .await
        {
            Err(kube::Error::Api(s)) => break s,
            other => {
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "never rotated: {other:?}"
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    };
    assert_eq!(refused.code, 500);
    assert!(
        refused
            .message
            .contains("x509: certificate signed by unknown authority"),
        "{}",
        refused.message
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

fn uuid() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}
