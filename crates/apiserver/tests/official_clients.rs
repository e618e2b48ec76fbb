//! The official Python (`kubernetes` 33.1) and JavaScript (`@kubernetes/client-node` 1.4 and 2.0)
//! clients against an in-process server: list/watch, patch types, server-side apply, custom
//! objects, leader election, relisting after 410 (Python, `clients/python/`); CRUD,
//! `makeInformer`, `Watch` and `KubernetesObjectApi` apply (JavaScript, `clients/node/`).
//!
//! The clients are installed by `clients/install.sh` (which `.ci/run` calls) into
//! `target/official-clients`, or `$KUBEFORGE_CLIENTS_DIR`. Each suite loads the kubeconfig the
//! server writes, unchanged. Outside CI a missing install is skipped with a message; in CI
//! (`CI=true`) it is a failure.

mod kube_support;

use kubeforge_apiserver::ApiServer;
use std::path::{Path, PathBuf};
use std::time::Duration;

fn clients_dir() -> PathBuf {
    std::env::var_os("KUBEFORGE_CLIENTS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/official-clients")
        })
}

fn suite_dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/clients")
        .join(name)
}

/// `path` if it exists; otherwise `None` after saying so, or a failure in CI.
fn installed(path: PathBuf) -> Option<PathBuf> {
    if path.exists() {
        return Some(path);
    }
    let msg = format!(
        "{} is missing: run crates/apiserver/tests/clients/install.sh",
        path.display()
    );
    assert!(std::env::var("CI").as_deref() != Ok("true"), "{msg}");
    eprintln!("skipped: {msg}");
    None
}

/// Starts a server and writes the kubeconfig it hands out.
async fn server_with_kubeconfig(history: usize) -> (ApiServer, tempfile::TempDir, PathBuf) {
    let server = kube_support::on_test_storage(ApiServer::builder().in_memory().history(history))
        .await
        .start()
        .await
        .expect("start the server");
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("kubeconfig");
    std::fs::write(
        &path,
        serde_json::to_vec_pretty(&server.kubeconfig()).expect("kubeconfig"),
    )
    .expect("write the kubeconfig");
    (server, dir, path)
}

/// Runs `cmd` to its end (at most three minutes), printing its output; panics unless it passed.
async fn run(mut cmd: tokio::process::Command, what: &str) {
    cmd.kill_on_drop(true);
    let out = tokio::time::timeout(Duration::from_secs(180), cmd.output())
        .await
        .unwrap_or_else(|_| panic!("{what} did not finish in 3 minutes"))
        .unwrap_or_else(|e| panic!("starting {what}: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    eprintln!("{stderr}");
    assert!(
        out.status.success(),
        "{what} failed ({})\n{stdout}\n{stderr}",
        out.status
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_python_client_works() {
    let Some(python) = installed(clients_dir().join("venv/bin/python")) else {
        return;
    };
    // A short history, so that the 410 test can fall out of it.
    let (server, _dir, kubeconfig) = server_with_kubeconfig(50).await;
    let mut cmd = tokio::process::Command::new(python);
    cmd.args(["-m", "pytest", "-q", "-p", "no:cacheprovider"])
        .arg(suite_dir("python"))
        .env("KUBECONFIG", &kubeconfig);
    run(cmd, "the Python client suite").await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_javascript_client_works() {
    let Some(modules) = installed(clients_dir().join("node/node_modules")) else {
        return;
    };
    // ES modules resolve packages from the importing file's folder: run a copy of the suite
    // beside the installed node_modules.
    let script = modules
        .parent()
        .expect("node dir")
        .join("client-node.test.mjs");
    std::fs::copy(suite_dir("node").join("client-node.test.mjs"), &script).expect("copy the suite");
    let (server, _dir, kubeconfig) = server_with_kubeconfig(10_000).await;
    let mut cmd = tokio::process::Command::new("node");
    cmd.arg("--test")
        .arg(&script)
        .env("KUBECONFIG", &kubeconfig);
    run(cmd, "the JavaScript client suite").await;
    server.shutdown().await;
}
