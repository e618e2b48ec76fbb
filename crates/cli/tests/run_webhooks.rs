//! `kubeforge run` serving the seed operators' webhooks as in a cluster: the certificate read from
//! `--webhook-cert-dir` (as the mounted Secret holds it), the server on `--webhook-addr`, and the
//! generated configuration pointed at it (`url` and the CA as `caBundle`): a Foo written without
//! replicas through the API server comes back defaulted.

// `foo` is sample-controller's kind, not a placeholder.
#![allow(clippy::disallowed_names)]

use anyhow::{Result, bail};
use k8s_openapi::ByteString;
use k8s_openapi::api::admissionregistration::v1::MutatingWebhookConfiguration;
use kube::api::{Api, PostParams};
use kubeforge_apiserver::ApiServer;
use kubeforge_operators::foo::{Foo, FooSpec};
use kubeforge_runtime::webhook::LocalCertificates;
use serde_json::json;
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::process::Command;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_serves_the_webhooks_with_the_mounted_certificate() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let server = ApiServer::builder().in_memory().start().await?;
    let client = server.client();
    let foo = kubeforge_operators::find("foo")?;
    kubeforge_operators::install::install_crds(&client, &[foo], Duration::from_secs(30)).await?;
    let kubeconfig = dir.path().join("kubeconfig");
    server.write_kubeconfig(&kubeconfig)?;
    let certs = dir.path().join("serving-certs");
    let local = LocalCertificates::generate(&["127.0.0.1"])?;
    local.write_to(&certs)?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let mut run = Command::new(env!("CARGO_BIN_EXE_kubeforge"))
        .args(["run", "--operators", "foo", "--no-leader-elect"])
        .args([
            "--metrics-addr",
            "127.0.0.1:0",
            "--health-addr",
            "127.0.0.1:0",
        ])
        .args(["--webhook-addr", &format!("127.0.0.1:{port}")])
        .arg("--webhook-cert-dir")
        .arg(&certs)
        .arg("--kubeconfig")
        .arg(&kubeconfig)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .kill_on_drop(true)
        .spawn()?;
    let name = kubeforge_operators::manifests::object_name(foo);
    let client_config = json!({
        "url": format!("https://127.0.0.1:{port}"),
        "caBundle": ByteString(local.ca_pem.clone().into_bytes()),
    });
    for configuration in
        kubeforge_operators::webhooks::configurations(foo, &name, &client_config, &json!({}))
    {
        Api::<MutatingWebhookConfiguration>::all(client.clone())
            .create(
                &PostParams::default(),
                &serde_json::from_value(configuration)?,
            )
            .await?;
    }
    let foos: Api<Foo> = Api::namespaced(client.clone(), "default");
    let bare = Foo::new(
        "bare",
        FooSpec {
            deployment_name: "bare".into(),
            replicas: None,
        },
    );
    // Until `run` listens, the webhook fails closed.
    let deadline = Instant::now() + Duration::from_secs(30);
    let created = loop {
        match foos.create(&PostParams::default(), &bare).await {
            Ok(foo) => break foo,
            Err(e) if Instant::now() < deadline => {
                if let Some(status) = run.try_wait()? {
                    bail!("kubeforge run exited with {status}: {e}");
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => bail!("the Foo was never admitted: {e}"),
        }
    };
    assert_eq!(created.spec.replicas, Some(1));
    run.start_kill()?;
    run.wait().await?;
    server.shutdown().await;
    Ok(())
}

#[test]
fn run_without_a_certificate_says_how_to_go_without_webhooks() -> Result<()> {
    let dir = tempfile::tempdir()?;
    // A kubeconfig for a server never reached: the certificate is read before any request.
    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::write(
        &kubeconfig,
        "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: https://127.0.0.1:1\nusers:\n- name: u\n  user:\n    token: t\ncontexts:\n- name: x\n  context:\n    cluster: c\n    user: u\ncurrent-context: x\n",
    )?;
    let absent = dir.path().join("absent");
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_kubeforge"))
        .args(["run", "--operators", "foo", "--webhook-cert-dir"])
        .arg(&absent)
        .arg("--kubeconfig")
        .arg(&kubeconfig)
        .output()?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(
        stderr.contains(&format!(
            "reading the webhook certificate in {} (or run with --enable-webhooks=false)",
            absent.display()
        )),
        "{stderr}"
    );
    Ok(())
}
