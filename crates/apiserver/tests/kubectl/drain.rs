//! The `drain` scenario: `kubectl cordon`, `drain` and `uncordon` of the simulated node
//! `kubeforge-node`, run by every kubectl version against a server of its own with two
//! simulated nodes (a drain evicts every pod of the node, so it cannot share a server with the
//! other scenarios).
//!
//! A Deployment of 3 replicas and a PodDisruptionBudget (`minAvailable: 2`) are created from a
//! manifest with `create -f` (kubectl ≥ 1.32 sends typed create bodies as protobuf); `get pdb`
//! prints kube-apiserver's columns once the disruption controller allows one disruption;
//! `cordon` makes the node `Ready,SchedulingDisabled`; `drain --ignore-daemonsets
//! --delete-emptydir-data` finds the eviction subresource in discovery, evicts the pods
//! through `pods/eviction` (policy/v1), retries any the budget refuses with 429 until the
//! ReplicaSet's replacements are Ready, and waits for each evicted pod to be gone. The scheduler
//! spreads the 3 pods 2 + 1 over the two nodes and puts the replacements on `kubeforge-node-2`,
//! never on the cordoned node; `uncordon` makes the node schedulable again.

use super::*;
use kubectl_support::{Cell, expect_table};

const MANIFEST: &str = "apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: drain
spec:
  replicas: 3
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
      - name: web
        image: nginx:1.27
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: web
  namespace: drain
spec:
  minAvailable: 2
  selector:
    matchLabels:
      app: web
";

const NODE: &str = "kubeforge-node";

/// Polls `kubectl <args> -o jsonpath=<path>` until it prints `want` (a minute at most).
async fn wait_for(k: &Kubectl, args: &[&str], path: &str, want: &str) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let got = k.jsonpath(args, path).await?;
        if got == want {
            return Ok(());
        }
        ensure!(
            Instant::now() < deadline,
            "`kubectl {} -o jsonpath={path}` printed {got:?}, not {want:?}",
            args.join(" ")
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

pub(crate) async fn drain(k: &Kubectl) -> Result<()> {
    let ns = "drain";
    k.namespace(ns).await?;
    let file = k.manifest("drain.yaml", MANIFEST)?;
    let out = k.ok(&["create", "-f", &file]).await?;
    expect_line(&out, "deployment.apps/web created")?;
    expect_line(&out, "poddisruptionbudget.policy/web created")?;
    k.ok(&[
        "rollout",
        "status",
        "deployment/web",
        "-n",
        ns,
        "--timeout=60s",
    ])
    .await?;
    wait_for(
        k,
        &["get", "pdb", "web", "-n", ns],
        "{.status.disruptionsAllowed}",
        "1",
    )
    .await?;
    expect_table(
        &k.ok(&["get", "pdb", "-n", ns]).await?,
        &[
            "NAME",
            "MIN AVAILABLE",
            "MAX UNAVAILABLE",
            "ALLOWED DISRUPTIONS",
            "AGE",
        ],
        &[
            Cell::Is("web"),
            Cell::Is("2"),
            Cell::Is("N/A"),
            Cell::Is("1"),
            Cell::Age,
        ],
    )
    .context("get pdb")?;
    let on_node = format!("spec.nodeName={NODE}");
    let before: Vec<String> = k
        .jsonpath(
            &[
                "get",
                "pods",
                "-n",
                ns,
                "-l",
                "app=web",
                "--field-selector",
                &on_node,
            ],
            "{.items[*].metadata.name}",
        )
        .await?
        .split_whitespace()
        .map(str::to_string)
        .collect();
    ensure!(
        before.len() == 2,
        "two of the three pods on {NODE} before the drain: {before:?}"
    );

    expect_line(
        &k.ok(&["cordon", NODE]).await?,
        "node/kubeforge-node cordoned",
    )?;
    expect_table(
        &k.ok(&["get", "nodes"]).await?,
        &["NAME", "STATUS", "ROLES", "AGE", "VERSION"],
        &[
            Cell::Is(NODE),
            Cell::Is("Ready,SchedulingDisabled"),
            Cell::Is("<none>"),
            Cell::Age,
            Cell::Some,
        ],
    )
    .context("get nodes after cordon")?;

    let out = k
        .run(&[
            "drain",
            NODE,
            "--ignore-daemonsets",
            "--delete-emptydir-data",
            "--timeout=60s",
        ])
        .await?;
    ensure!(
        out.success,
        "`kubectl drain` failed:\n{}{}",
        out.stdout,
        out.stderr
    );
    let all = format!("{}{}", out.stdout, out.stderr);
    expect_line(&all, "node/kubeforge-node drained").context(all.clone())?;
    // The budget allows one eviction at a time. Whether kubectl's second eviction meets a 429
    // depends on whether the first pod's replacement is Ready by then (on two nodes it often
    // is); `tests/eviction.rs` checks the refusal itself, deterministically.
    for pod in &before {
        ensure!(
            all.contains(&format!("pod/{pod} evicted")),
            "drain evicted {pod}:\n{all}"
        );
    }
    // Every pod the drain found is gone; the replacements run on the other node.
    let after = k
        .jsonpath(
            &["get", "pods", "-n", ns, "-l", "app=web"],
            "{.items[*].metadata.name}",
        )
        .await?;
    for pod in &before {
        ensure!(
            !after.split_whitespace().any(|p| p == pod),
            "{pod} still exists after the drain: {after}"
        );
    }
    k.ok(&[
        "rollout",
        "status",
        "deployment/web",
        "-n",
        ns,
        "--timeout=60s",
    ])
    .await?;
    let nodes = k
        .jsonpath(
            &["get", "pods", "-n", ns, "-l", "app=web"],
            "{.items[*].spec.nodeName}",
        )
        .await?;
    ensure!(
        nodes.split_whitespace().all(|n| n == "kubeforge-node-2"),
        "pods on the cordoned node after the drain: {nodes}"
    );

    expect_line(
        &k.ok(&["uncordon", NODE]).await?,
        "node/kubeforge-node uncordoned",
    )?;
    expect_table(
        &k.ok(&["get", "nodes"]).await?,
        &["NAME", "STATUS", "ROLES", "AGE", "VERSION"],
        &[
            Cell::Is(NODE),
            Cell::Is("Ready"),
            Cell::Is("<none>"),
            Cell::Age,
            Cell::Some,
        ],
    )
    .context("get nodes after uncordon")?;
    Ok(())
}
