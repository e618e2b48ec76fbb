//! The workshop's shell scenarios (`examples/*.sh`) run against an in-process API server, and
//! what they print checked: the curl scenario, and deploy-in-cluster (kubectl impersonating the
//! generated ServiceAccount). kubectl is `$KUBEFORGE_KUBECTL_DIR/kubectl.1.33`; a missing
//! binary fails under `CI=true` and is skipped otherwise. curl and jq are required.

mod kubectl_support;

use kubeforge_apiserver::ApiServer;
use std::path::PathBuf;

fn script(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples")
        .join(name)
}

/// Runs `examples/NAME` with bash and `env`, against `server` (a kubeconfig for it in a fresh
/// HOME); returns stdout, failing with both streams when the script fails.
async fn run_script(
    name: &str,
    server: &ApiServer,
    args: &[&str],
    env: &[(&str, &std::ffi::OsStr)],
) -> (String, String) {
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    server.write_kubeconfig(&kubeconfig).unwrap();
    let output = tokio::process::Command::new("bash")
        .arg(script(name))
        .args(args)
        .env("KUBECONFIG", &kubeconfig)
        .env("HOME", dir.path())
        .envs(env.iter().copied())
        .output()
        .await
        .expect("bash runs");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(
        output.status.success(),
        "{name} failed:\n{stdout}\n{stderr}"
    );
    (stdout, stderr)
}

fn assert_lines(output: &str, wanted: &[&str]) {
    for want in wanted {
        assert!(
            output.lines().any(|l| l.contains(want)),
            "no line with {want:?} in:\n{output}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_curl_scenario_runs() {
    // Over TLS with the administrator's certificate, as against `kubeforge up`.
    let certs = tempfile::tempdir().unwrap();
    let server = ApiServer::builder()
        .in_memory()
        .tls(kubeforge_apiserver::tls::TlsOptions::in_dir(certs.path()))
        .start()
        .await
        .unwrap();
    let (stdout, _) = run_script(
        "curl.sh",
        &server,
        &[server.url()],
        &[("KUBEFORGE_CERT_DIR", certs.path().as_os_str())],
    )
    .await;
    assert_curl_scenario(&stdout);
    server.shutdown().await;
    // In plain HTTP (`--insecure-http`), without credentials.
    let server = ApiServer::builder().in_memory().start().await.unwrap();
    let (stdout, _) = run_script("curl.sh", &server, &[server.url()], &[]).await;
    assert_curl_scenario(&stdout);
    server.shutdown().await;
}

fn assert_curl_scenario(stdout: &str) {
    assert_lines(
        stdout,
        &[
            "[\"v1\"]",
            "apps authentication.k8s.io",
            "deployments Deployment namespaced=true",
            "{\"kind\":\"Namespace\",\"name\":\"default\"",
            "annotation workshop=20",
            "HTTP 409: Conflict: Operation cannot be fulfilled on namespaces \"default\"",
            "ADDED workshop-curl hello=world",
            "MODIFIED workshop-curl hello=again",
            "DELETED workshop-curl",
        ],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_deploy_in_cluster_scenario_runs() {
    let Some(kubectl) = kubectl_support::kubectl_binary() else {
        return;
    };
    let server = ApiServer::builder().in_memory().start().await.unwrap();
    let kubeforge = std::ffi::OsStr::new(env!("CARGO_BIN_EXE_kubeforge"));
    let (stdout, stderr) = run_script(
        "deploy-in-cluster.sh",
        &server,
        &[],
        &[("KUBEFORGE", kubeforge), ("KUBECTL", kubectl.as_os_str())],
    )
    .await;
    let can = |check: &str, answer: &str| {
        let line = stdout
            .lines()
            .find(|l| l.starts_with(&format!("can-i {check} ")))
            .unwrap_or_else(|| panic!("no can-i {check} in:\n{stdout}"));
        assert!(line.trim_end().ends_with(answer), "{line}");
    };
    can("watch foos.samplecontroller.k8s.io", "yes");
    can(
        "patch foos.samplecontroller.k8s.io --subresource=status",
        "yes",
    );
    can("create deployments.apps", "yes");
    can("create events.events.k8s.io", "yes");
    can(
        "update leases.coordination.k8s.io -n kubeforge-system",
        "yes",
    );
    can("delete namespaces", "no");
    can("get secrets", "no");
    can("update leases.coordination.k8s.io -n default", "no");
    assert_lines(
        &stdout,
        &[
            "serviceaccount/kubeforge-foo",
            "kubeforge-foo [\"run\",\"--operators\",\"foo\"",
        ],
    );
    assert!(
        stderr.contains("Forbidden") || stdout.contains("Forbidden"),
        "{stdout}\n{stderr}"
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_crd_yaml_scenario_runs() {
    let Some(kubectl) = kubectl_support::kubectl_binary() else {
        return;
    };
    let server = ApiServer::builder().in_memory().start().await.unwrap();
    let (stdout, _) = run_script(
        "crd-yaml.sh",
        &server,
        &[],
        &[("KUBECTL", kubectl.as_os_str())],
    )
    .await;
    assert_lines(
        &stdout,
        &[
            "NamesAccepted=True (NoConflicts)",
            "Established=True (InitialNamesAccepted)",
            "containerimagepolicies",
            "action=label labels.pods=invalid-container-image",
            "Unsupported value: \"kill\"",
            "spec.require: Required value",
            "after patching the main resource: failed=",
            "after patching status: failed=2",
            "explicit-registry   label    true       2",
        ],
    );
    assert!(
        stdout.contains("after patching the main resource: failed=\n"),
        "status written through the main resource:\n{stdout}"
    );
    server.shutdown().await;
}
