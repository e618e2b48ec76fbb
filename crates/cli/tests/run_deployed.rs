//! The generated manifests (`deploy/*.yaml`) applied with kubectl to an in-process API server,
//! then `kubeforge run --kubeconfig` (a child process) running the operators against the CRDs
//! those manifests installed — what a user does with a real cluster.
//!
//! Each operator runs as a Pod of its ServiceAccount would (`run --service-account`: a bound token
//! of it and the cluster CA in files, over TLS), and the server holds it to RBAC, so the generated
//! least-privilege roles are proven enough.
//!
//! kubectl is `$KUBEFORGE_KUBECTL_DIR/kubectl.1.33` (default `/usr/lib/google-cloud-sdk/bin`); a
//! missing binary fails under `CI=true` and is skipped otherwise.

// `foo` is sample-controller's kind, not a placeholder.
#![allow(clippy::disallowed_names)]

mod kubectl_support;

use anyhow::{Context, Result, bail};
use k8s_openapi::api::admissionregistration::v1::{
    MutatingWebhookConfiguration, ValidatingWebhookConfiguration,
};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Pod, Service, ServiceAccount};
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, Role};
use kube::api::{Api, PostParams};
use kubectl_support::kubectl_binary;
use kubeforge_apiserver::ApiServer;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::process::Command;

const PATIENCE: Duration = Duration::from_secs(30);

async fn until<F, Fut>(what: &str, mut check: F) -> Result<()>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<bool>>,
{
    let deadline = Instant::now() + PATIENCE;
    while Instant::now() < deadline {
        if check().await? {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    bail!("timed out waiting for {what}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deployed_manifests_apply_and_run_works_with_them() -> Result<()> {
    let Some(kubectl) = kubectl_binary() else {
        return Ok(());
    };
    let dir = tempfile::tempdir()?;
    let server = ApiServer::builder()
        .in_memory()
        .simulate_workloads(true)
        .tls(kubeforge_apiserver::tls::TlsOptions::in_dir(
            dir.path().join("pki"),
        ))
        .start()
        .await?;
    let kubeconfig = dir.path().join("kubeconfig");
    server.write_kubeconfig(&kubeconfig)?;
    let deploy = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../deploy");
    for operator in kubeforge_operators::OPERATORS.iter().map(|o| o.name) {
        let output = Command::new(&kubectl)
            .args(["apply", "--server-side", "-f"])
            .arg(deploy.join(format!("{operator}.yaml")))
            .env("KUBECONFIG", &kubeconfig)
            .env("HOME", dir.path())
            .output()
            .await?;
        if !output.status.success() {
            bail!(
                "kubectl apply deploy/{operator}.yaml: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
    }
    let client = server.client();
    for operator in kubeforge_operators::OPERATORS {
        let name = kubeforge_operators::manifests::object_name(operator);
        let sa: Api<ServiceAccount> = Api::namespaced(client.clone(), "kubeforge-system");
        sa.get(&name).await?;
        let role = Api::<ClusterRole>::all(client.clone()).get(&name).await?;
        let generated = kubeforge_operators::rbac::policy_rules(
            &kubeforge_operators::manifests::cluster_permissions(operator),
        );
        assert_eq!(role.rules.unwrap_or_default(), generated);
        Api::<ClusterRoleBinding>::all(client.clone())
            .get(&name)
            .await?;
        Api::<Role>::namespaced(client.clone(), "kubeforge-system")
            .get(&format!("{name}-leader-election"))
            .await?;
        let deployment = Api::<Deployment>::namespaced(client.clone(), "kubeforge-system")
            .get(&name)
            .await?;
        let container = &deployment.spec.unwrap().template.spec.unwrap().containers[0];
        assert_eq!(
            container.args.as_ref().unwrap()[..3],
            ["run", "--operators", operator.name]
        );
        // The webhooks' Service and configurations are in place; the Deployment's Pods are
        // simulated (nothing listens on their port 9443), so the configurations, which fail
        // closed, are removed and `run` below serves no webhooks (the webhooks themselves are
        // tested through `up` and in crates/operators/tests/webhooks.rs).
        if !(operator.webhooks)().is_empty() {
            Api::<Service>::namespaced(client.clone(), "kubeforge-system")
                .get(&kubeforge_operators::manifests::webhook_service_name(
                    operator,
                ))
                .await?;
            let mutating = Api::<MutatingWebhookConfiguration>::all(client.clone());
            let validating = Api::<ValidatingWebhookConfiguration>::all(client.clone());
            let mut found = 0;
            if mutating.get_opt(&name).await?.is_some() {
                mutating.delete(&name, &Default::default()).await?;
                found += 1;
            }
            if validating.get_opt(&name).await?.is_some() {
                validating.delete(&name, &Default::default()).await?;
                found += 1;
            }
            assert_eq!(found, 1, "{}: one webhook configuration", operator.name);
        }
    }

    // Each operator runs as a Pod of its ServiceAccount (its own bound token, the CA from
    // kube-root-ca.crt), so the server holds it to the generated RBAC: anything the ClusterRole
    // or the leader-election Role lacks fails here.
    let mut runs = Vec::new();
    for operator in kubeforge_operators::OPERATORS {
        let name = kubeforge_operators::manifests::object_name(operator);
        let path = kubeconfig.clone();
        let stderr = dir.path().join(format!("run-{}.stderr", operator.name));
        let child = Command::new(env!("CARGO_BIN_EXE_kubeforge"))
            .args([
                "run",
                "--operators",
                operator.name,
                "--enable-webhooks=false",
            ])
            .args(["--leader-election-namespace", "kubeforge-system"])
            .args([
                "--metrics-addr",
                "127.0.0.1:0",
                "--health-addr",
                "127.0.0.1:0",
            ])
            .arg("--kubeconfig")
            .arg(&path)
            .arg("--service-account")
            .arg(format!("kubeforge-system/{name}"))
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&stderr)?)
            .kill_on_drop(true)
            .spawn()
            .context("starting kubeforge run")?;
        runs.push((child, stderr));
    }

    let outcome: Result<()> = async {
        let foos: Api<kubeforge_operators::foo::Foo> = Api::namespaced(client.clone(), "default");
        let foo = kubeforge_operators::foo::Foo::new(
            "deployed",
            kubeforge_operators::foo::FooSpec {
                deployment_name: "deployed-nginx".into(),
                replicas: Some(2),
            },
        );
        foos.create(&PostParams::default(), &foo).await?;
        until("the Foo's Deployment and status", || async {
            let foo = foos.get("deployed").await?;
            Ok(foo.status.is_some_and(|s| s.available_replicas == 2))
        })
        .await?;

        let namespaces: Api<Namespace> = Api::all(client.clone());
        for ns in ["source", "target"] {
            namespaces
                .create(
                    &PostParams::default(),
                    &serde_json::from_value(serde_json::json!({"metadata": {"name": ns}}))?,
                )
                .await?;
        }
        let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "source");
        cms.create(
            &PostParams::default(),
            &serde_json::from_value(serde_json::json!({
                "metadata": {"name": "shared", "labels": {"rule": "x"}},
                "data": {"k": "v"}
            }))?,
        )
        .await?;
        let rules: Api<kubeforge_operators::codis::ConfigurationDistributionRule> =
            Api::namespaced(client.clone(), "source");
        rules
            .create(
                &PostParams::default(),
                &kubeforge_operators::codis::ConfigurationDistributionRule::new(
                    "r",
                    kubeforge_operators::codis::RuleSpec {
                        mode: kubeforge_operators::codis::Mode::Configmap,
                        selector: "x".into(),
                        namespaces: vec!["target".into()],
                    },
                ),
            )
            .await?;
        let copies: Api<ConfigMap> = Api::namespaced(client.clone(), "target");
        until("the rule's copy", || async {
            Ok(copies.get_opt("shared").await?.is_some())
        })
        .await?;

        // The service detector, as its ServiceAccount, annotates a Pod with its Service.
        let pods: Api<Pod> = Api::namespaced(client.clone(), "source");
        pods.create(
            &PostParams::default(),
            &serde_json::from_value(serde_json::json!({
                "metadata": {"name": "web", "labels": {"app": "web"}},
                "spec": {"containers": [{"name": "web", "image": "nginx"}]}
            }))?,
        )
        .await?;
        Api::<Service>::namespaced(client.clone(), "source")
            .create(
                &PostParams::default(),
                &serde_json::from_value(serde_json::json!({
                    "metadata": {"name": "web"},
                    "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]}
                }))?,
            )
            .await?;
        until("the Pod's services annotation", || async {
            let pod = pods.get("web").await?;
            Ok(pod.metadata.annotations.is_some_and(|a| {
                a.get("kubeforge.dev/services").map(String::as_str) == Some("web")
            }))
        })
        .await?;

        let networks: Api<kubeforge_operators::network::Network> =
            Api::namespaced(client.clone(), "default");
        networks
            .create(
                &PostParams::default(),
                &kubeforge_operators::network::Network::new(
                    "deployed",
                    kubeforge_operators::network::NetworkSpec {
                        cidr: "10.8.0.0/24".into(),
                        gateway: "10.8.0.1".into(),
                        excludes: Vec::new(),
                    },
                ),
            )
            .await?;
        let addressed: Api<k8s_openapi::api::core::v1::Pod> =
            Api::namespaced(client.clone(), "default");
        addressed.create(
            &PostParams::default(),
            &serde_json::from_value(serde_json::json!({
                "metadata": {"name": "addressed", "annotations": {"samplecrd.k8s.io/network": "deployed"}},
                "spec": {"containers": [{"name": "app", "image": "nginx"}]}
            }))?,
        )
        .await?;
        until("the pod's address and the network's status", || async {
            let pod = addressed.get("addressed").await?;
            let network = networks.get("deployed").await?;
            Ok(pod.metadata.annotations.unwrap_or_default().get("samplecrd.k8s.io/ip")
                == Some(&"10.8.0.2".to_string())
                && network.status.is_some_and(|s| s.allocated == 1))
        })
        .await?;

        // The Foo's pods have no probes: a HealthCheckPolicy labels them (pods patched as the
        // policy's ServiceAccount).
        let hcps: Api<kubeforge_operators::policy::HealthCheckPolicy> =
            Api::namespaced(client.clone(), "default");
        hcps.create(
            &PostParams::default(),
            &serde_json::from_value(serde_json::json!({
                "metadata": {"name": "probes"},
                "spec": {"podSelector": {"matchLabels": {"controller": "deployed"}}}
            }))?,
        )
        .await?;
        until("the policy's status", || async {
            let status = hcps.get("probes").await?.status;
            Ok(status.is_some_and(|s| s.statistics.pods.failed == 2))
        })
        .await?;
        let default_pods: Api<k8s_openapi::api::core::v1::Pod> =
            Api::namespaced(client.clone(), "default");
        until("the Foo's pods labelled", || async {
            let labelled = default_pods
                .list(&kube::api::ListParams::default().labels("health-check-missing=true"))
                .await?;
            Ok(labelled.items.len() == 2)
        })
        .await?;
        Ok(())
    }
    .await;
    if let Err(e) = outcome {
        let mut logs = String::new();
        for (_, stderr) in &runs {
            logs += &std::fs::read_to_string(stderr).unwrap_or_default();
        }
        bail!("{e:#}\nthe operators' logs:\n{logs}");
    }

    for (mut run, stderr) in runs {
        assert!(run.try_wait()?.is_none(), "kubeforge run is still running");
        run.start_kill()?;
        run.wait().await?;
        let log = std::fs::read_to_string(&stderr)?;
        assert!(
            !log.contains("forbidden"),
            "an operator was refused something its RBAC should allow:\n{log}"
        );
    }
    server.shutdown().await;
    Ok(())
}
