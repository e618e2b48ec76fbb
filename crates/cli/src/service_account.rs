//! `kubeforge run --service-account NS/SA`: run as a Pod of that ServiceAccount would. What the
//! kubelet projects into such a Pod — a bound token (`token`), the cluster CA (`ca.crt`, from the
//! namespace's `kube-root-ca.crt`) and `namespace` — is written to a directory, the token is
//! renewed at 80% of its life as the kubelet renews it, and the client reads the token file and
//! CA file as in-cluster configuration does (re-reading the token as it changes). Only the
//! server address comes from the kubeconfig: the in-cluster Service address is not routable
//! outside a cluster.

use anyhow::{Context, anyhow};
use k8s_openapi::api::authentication::v1::TokenRequest;
use k8s_openapi::api::core::v1::{ConfigMap, ServiceAccount};
use kube::api::{Api, PostParams};
use kube::{Client, Config};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How long each token is asked for (the kubelet's default projected token lifetime).
const TOKEN_SECONDS: i64 = 3600;

/// A ServiceAccount's projected credentials, kept fresh while this lives.
pub struct PodCredentials {
    /// The directory holding `token`, `ca.crt` and `namespace`.
    pub dir: PathBuf,
    /// The client that authenticates with them.
    pub client: Client,
    _renewer: tokio::task::JoinHandle<()>,
    _tempdir: tempfile::TempDir,
}

impl Drop for PodCredentials {
    fn drop(&mut self) {
        self._renewer.abort();
    }
}

/// `NS/SA` into its parts.
pub fn parse(text: &str) -> anyhow::Result<(String, String)> {
    match text.split_once('/') {
        Some((ns, sa)) if !ns.is_empty() && !sa.is_empty() && !sa.contains('/') => {
            Ok((ns.to_string(), sa.to_string()))
        }
        _ => Err(anyhow!(
            "--service-account takes NAMESPACE/NAME, not {text:?}"
        )),
    }
}

async fn request_token(admin: &Client, namespace: &str, name: &str) -> anyhow::Result<String> {
    let accounts: Api<ServiceAccount> = Api::namespaced(admin.clone(), namespace);
    let request: TokenRequest =
        serde_json::from_value(json!({"spec": {"expirationSeconds": TOKEN_SECONDS}}))?;
    let answer = accounts
        .create_token_request(name, &PostParams::default(), &request)
        .await
        .with_context(|| format!("requesting a token for ServiceAccount {namespace}/{name}"))?;
    Ok(answer.status.context("TokenRequest without status")?.token)
}

/// Writes `contents` to `path` through a rename, so a reader never sees half a token.
fn replace(path: &Path, contents: &str) -> std::io::Result<()> {
    let partial = path.with_extension("partial");
    std::fs::write(&partial, contents)?;
    std::fs::rename(partial, path)
}

/// The credentials of ServiceAccount `namespace/name`, requested with `admin`, whose
/// configuration `admin_config` gives the server's address.
pub async fn pod_credentials(
    admin: Client,
    admin_config: &Config,
    namespace: &str,
    name: &str,
) -> anyhow::Result<PodCredentials> {
    let tempdir = tempfile::Builder::new()
        .prefix("kubeforge-serviceaccount-")
        .tempdir()?;
    let dir = tempdir.path().to_path_buf();
    let token = request_token(&admin, namespace, name).await?;
    replace(&dir.join("token"), &token)?;
    std::fs::write(dir.join("namespace"), namespace)?;
    let root_ca: Api<ConfigMap> = Api::namespaced(admin.clone(), namespace);
    let ca = root_ca
        .get_opt("kube-root-ca.crt")
        .await?
        .and_then(|cm| cm.data)
        .and_then(|d| d.get("ca.crt").cloned());
    let mut cluster = json!({"server": admin_config.cluster_url.to_string()});
    if let Some(ca) = &ca {
        std::fs::write(dir.join("ca.crt"), ca)?;
        cluster["certificate-authority"] = json!(dir.join("ca.crt"));
    }
    let kubeconfig = json!({
        "apiVersion": "v1", "kind": "Config",
        "clusters": [{"name": "in-cluster", "cluster": cluster}],
        "users": [{"name": "service-account", "user": {"tokenFile": dir.join("token")}}],
        "contexts": [{"name": "in-cluster", "context": {"cluster": "in-cluster",
            "user": "service-account", "namespace": namespace}}],
        "current-context": "in-cluster",
    });
    let config =
        Config::from_custom_kubeconfig(serde_json::from_value(kubeconfig)?, &Default::default())
            .await
            .context("configuring the ServiceAccount's client")?;
    let client = Client::try_from(config)?;
    let (ns, sa, path) = (namespace.to_string(), name.to_string(), dir.join("token"));
    let renewer = tokio::spawn(async move {
        let mut wait = Duration::from_secs(TOKEN_SECONDS as u64 * 8 / 10);
        loop {
            tokio::time::sleep(wait).await;
            match request_token(&admin, &ns, &sa).await {
                Ok(token) => {
                    if let Err(e) = replace(&path, &token) {
                        tracing::warn!(error = %e, "writing the renewed token");
                    }
                    wait = Duration::from_secs(TOKEN_SECONDS as u64 * 8 / 10);
                }
                Err(e) => {
                    tracing::warn!(error = %e, "renewing the ServiceAccount token");
                    wait = Duration::from_secs(10);
                }
            }
        }
    });
    Ok(PodCredentials {
        dir,
        client,
        _renewer: renewer,
        _tempdir: tempdir,
    })
}
