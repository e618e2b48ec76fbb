//! The operators' webhooks in `kubeforge up`, as envtest runs them: one local HTTPS server on
//! `127.0.0.1:<free port>` presenting a generated certificate, and the webhook configurations
//! `kubeforge manifests` generates registered with `clientConfig.url` pointing at it and the
//! generated CA as `caBundle`; CRDs an operator converts get the same `clientConfig` in their
//! `spec.conversion` (left in place when `up` stops: reading at the storage version needs no
//! call, and the next `up` points it at its new server). A restarted `up` replaces them (new port, new CA); the
//! configurations of operators not running are removed, as they would fail closed; stopping
//! removes them all.

use anyhow::Context;
use k8s_openapi::ByteString;
use k8s_openapi::api::admissionregistration::v1::{
    MutatingWebhookConfiguration, ValidatingWebhookConfiguration,
};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::Client;
use kube::api::{Api, DeleteParams, Patch, PatchParams};
use kubeforge_operators::Operator;
use kubeforge_operators::manifests::object_name;
use kubeforge_operators::webhooks::{configurations, crd_conversion};
use kubeforge_runtime::webhook::{Certificates, LocalCertificates, WebhookServer};
use serde_json::{Value, json};
use std::net::SocketAddr;

/// The field manager of the configurations `up` registers.
const FIELD_MANAGER: &str = "kubeforge-up";

/// The registered webhooks of the running operators.
#[derive(Debug)]
pub struct LocalWebhooks {
    names: Vec<String>,
    addr: SocketAddr,
}

/// Deletes both configurations called `name`, if they exist.
async fn remove_configurations(admin: &Client, name: &str) -> anyhow::Result<()> {
    let absent = |e: kube::Error| match e {
        kube::Error::Api(status) if status.code == 404 => Ok(()),
        e => Err(e),
    };
    Api::<MutatingWebhookConfiguration>::all(admin.clone())
        .delete(name, &DeleteParams::default())
        .await
        .map(|_| ())
        .or_else(absent)?;
    Api::<ValidatingWebhookConfiguration>::all(admin.clone())
        .delete(name, &DeleteParams::default())
        .await
        .map(|_| ())
        .or_else(absent)?;
    Ok(())
}

/// Server-side applies one generated configuration.
async fn apply(admin: &Client, configuration: &Value) -> anyhow::Result<()> {
    let name = configuration["metadata"]["name"]
        .as_str()
        .unwrap_or_default();
    let params = PatchParams::apply(FIELD_MANAGER).force();
    if configuration["kind"] == "MutatingWebhookConfiguration" {
        Api::<MutatingWebhookConfiguration>::all(admin.clone())
            .patch(name, &params, &Patch::Apply(configuration))
            .await?;
    } else {
        Api::<ValidatingWebhookConfiguration>::all(admin.clone())
            .patch(name, &params, &Patch::Apply(configuration))
            .await?;
    }
    Ok(())
}

impl LocalWebhooks {
    /// Serves the webhooks of `operators` (each handler with its operator's client) until
    /// `shutdown`, and registers their configurations with `admin`; `None` when none has any.
    pub async fn start(
        admin: &Client,
        operators: &[(&'static Operator, Client)],
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<Option<Self>> {
        // Configurations left by an earlier `up` for operators not running now would refuse
        // every write of their resources.
        for operator in kubeforge_operators::OPERATORS {
            if !(operator.webhooks)().is_empty()
                && !operators.iter().any(|(o, _)| o.name == operator.name)
            {
                remove_configurations(admin, &object_name(operator)).await?;
            }
        }
        let local = LocalCertificates::generate(&["127.0.0.1"])
            .context("generating the webhook certificate")?;
        let certificates = Certificates::from_pem(&local.cert_pem, &local.key_pem)?;
        let Some(server): Option<WebhookServer> = kubeforge_operators::webhooks::server(
            operators.iter().map(|(o, c)| (*o, c.clone())),
            certificates,
        ) else {
            return Ok(None);
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .context("binding the webhook server")?;
        let addr = listener.local_addr()?;
        tokio::spawn(server.serve(listener, shutdown));
        let client_config = json!({
            "url": format!("https://{addr}"),
            "caBundle": ByteString(local.ca_pem.into_bytes()),
        });
        let metadata = json!({"labels": {"app.kubernetes.io/part-of": "kubeforge"}});
        let mut names = Vec::new();
        for (operator, _) in operators {
            // CRDs the operator converts call this server, trusting its CA.
            for conversion in kubeforge_operators::webhooks::conversions(operator) {
                let patch =
                    json!({"spec": {"conversion": crd_conversion(&conversion, &client_config)}});
                Api::<CustomResourceDefinition>::all(admin.clone())
                    .patch(
                        &conversion.name,
                        &PatchParams::default(),
                        &Patch::Merge(&patch),
                    )
                    .await
                    .with_context(|| {
                        format!("registering the conversion webhook of {}", conversion.name)
                    })?;
            }
            let name = object_name(operator);
            let generated = configurations(operator, &name, &client_config, &metadata);
            if generated.is_empty() {
                continue;
            }
            // A kind the operator no longer has webhooks of goes; the others are replaced.
            remove_configurations(admin, &name).await?;
            for configuration in &generated {
                apply(admin, configuration).await.with_context(|| {
                    format!("registering the webhooks of operator {}", operator.name)
                })?;
            }
            names.push(name);
        }
        Ok(Some(LocalWebhooks { names, addr }))
    }

    /// Where the webhooks are served.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Removes the registered configurations (their server stops with `up`).
    pub async fn remove(self, admin: &Client) -> anyhow::Result<()> {
        for name in &self.names {
            remove_configurations(admin, name).await?;
        }
        Ok(())
    }
}
