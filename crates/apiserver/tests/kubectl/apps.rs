//! The `stateful_daemon` scenario: StatefulSets and DaemonSets through kubectl, run by every
//! kubectl version as part of the suite in `kubectl.rs` (the server simulates workloads, so
//! their pods run).
//!
//! `apply -f` of a StatefulSet (with a volume claim template) and a DaemonSet, `rollout status`
//! of both, `get sts,ds` columns as kube-apiserver prints them, the claims per ordinal, `set
//! image` + `rollout status` + `rollout history` + `rollout undo` for both (kubectl reads and
//! applies their ControllerRevisions), and `scale sts --replicas=1` leaving only `web-0`.
//! Objects are created from manifests (kubectl ≥ 1.32 sends typed create bodies as protobuf).

use super::*;
use kubectl_support::{Cell, Table};

fn is(text: &str) -> Cell<'_> {
    Cell::Is(text)
}

const MANIFEST: &str = "\
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: web
  namespace: apps
spec:
  replicas: 3
  serviceName: web
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
      - name: main
        image: nginx:1.25
  volumeClaimTemplates:
  - metadata:
      name: www
    spec:
      accessModes: [ReadWriteOnce]
      resources:
        requests:
          storage: 1Gi
---
apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: agent
  namespace: apps
spec:
  selector:
    matchLabels:
      app: agent
  template:
    metadata:
      labels:
        app: agent
    spec:
      containers:
      - name: agent
        image: fluentd:1
";

/// `rollout history <what>`'s rows, each as `REVISION CHANGE-CAUSE`.
async fn history(k: &Kubectl, what: &str, title: &str) -> Result<Vec<String>> {
    let out = k.ok(&["rollout", "history", what, "-n", "apps"]).await?;
    let mut lines = out.lines().filter(|l| !l.trim().is_empty());
    expect_eq(lines.next().map(str::trim), Some(title), "history title")?;
    expect_eq(
        lines
            .next()
            .map(|l| l.split_whitespace().collect::<Vec<_>>()),
        Some(vec!["REVISION", "CHANGE-CAUSE"]),
        "history header",
    )?;
    Ok(lines
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect())
}

fn rows(revisions: &[&str]) -> Vec<String> {
    revisions.iter().map(|r| format!("{r} <none>")).collect()
}

async fn sts_done(k: &Kubectl, replicas: u32) -> Result<()> {
    let out = k
        .ok(&[
            "rollout",
            "status",
            "statefulset/web",
            "-n",
            "apps",
            "--timeout=120s",
        ])
        .await?;
    expect_line(
        &out,
        &format!("partitioned roll out complete: {replicas} new pods have been updated..."),
    )
}

async fn ds_done(k: &Kubectl) -> Result<()> {
    let out = k
        .ok(&[
            "rollout",
            "status",
            "daemonset/agent",
            "-n",
            "apps",
            "--timeout=120s",
        ])
        .await?;
    expect_line(&out, r#"daemon set "agent" successfully rolled out"#)
}

async fn image_of(k: &Kubectl, what: &str) -> Result<String> {
    k.jsonpath(
        &["get", what, "-n", "apps"],
        "{.spec.template.spec.containers[0].image}",
    )
    .await
}

pub(crate) async fn stateful_daemon(k: &Kubectl) -> Result<()> {
    let ns = "apps";
    k.namespace(ns).await?;
    let out = k.apply("apps.yaml", MANIFEST).await?;
    expect_line(&out, "statefulset.apps/web created")?;
    expect_line(&out, "daemonset.apps/agent created")?;
    sts_done(k, 3).await.context("first statefulset rollout")?;
    ds_done(k).await.context("first daemonset rollout")?;

    // `get sts,ds`: one table per kind, names qualified.
    let out = k.ok(&["get", "sts,ds", "-n", ns]).await?;
    let mut tables = out.split("\n\n").filter(|t| !t.trim().is_empty());
    let sts = Table::parse(tables.next().unwrap_or_default())?;
    sts.expect(
        &["NAME", "READY", "AGE"],
        &[is("statefulset.apps/web"), is("3/3"), Cell::Age],
    )
    .with_context(|| format!("get sts,ds:\n{out}"))?;
    let ds = Table::parse(tables.next().unwrap_or_default())?;
    ds.expect(
        &[
            "NAME",
            "DESIRED",
            "CURRENT",
            "READY",
            "UP-TO-DATE",
            "AVAILABLE",
            "NODE SELECTOR",
            "AGE",
        ],
        &[
            is("daemonset.apps/agent"),
            is("1"),
            is("1"),
            is("1"),
            is("1"),
            is("1"),
            is("<none>"),
            Cell::Age,
        ],
    )
    .with_context(|| format!("get sts,ds:\n{out}"))?;
    let claims = k
        .jsonpath(&["get", "pvc", "-n", ns], "{.items[*].metadata.name}")
        .await?;
    expect_eq(
        claims.as_str(),
        "www-web-0 www-web-1 www-web-2",
        "a claim per ordinal",
    )?;

    // StatefulSet: set image, history, undo.
    let out = k
        .ok(&[
            "set",
            "image",
            "statefulset/web",
            "-n",
            ns,
            "main=nginx:1.26",
        ])
        .await?;
    expect_line(&out, "statefulset.apps/web image updated")?;
    sts_done(k, 3)
        .await
        .context("statefulset rollout of 1.26")?;
    expect_eq(
        k.jsonpath(
            &["get", "pod", "web-0", "-n", ns],
            "{.spec.containers[0].image}",
        )
        .await?
        .as_str(),
        "nginx:1.26",
        "web-0's image after the rollout",
    )?;
    expect_eq(
        history(k, "statefulset/web", "statefulset.apps/web").await?,
        rows(&["1", "2"]),
        "statefulset history",
    )?;
    let out = k
        .ok(&["rollout", "undo", "statefulset/web", "-n", ns])
        .await?;
    expect_line(&out, "statefulset.apps/web rolled back")?;
    sts_done(k, 3)
        .await
        .context("statefulset rollout after undo")?;
    expect_eq(
        image_of(k, "statefulset/web").await?.as_str(),
        "nginx:1.25",
        "statefulset image after undo",
    )?;
    expect_eq(
        history(k, "statefulset/web", "statefulset.apps/web").await?,
        rows(&["2", "3"]),
        "statefulset history after undo (revision 1 reused as 3)",
    )?;

    // DaemonSet: set image, history, undo.
    let out = k
        .ok(&[
            "set",
            "image",
            "daemonset/agent",
            "-n",
            ns,
            "agent=fluentd:2",
        ])
        .await?;
    expect_line(&out, "daemonset.apps/agent image updated")?;
    ds_done(k).await.context("daemonset rollout of fluentd:2")?;
    expect_eq(
        history(k, "daemonset/agent", "daemonset.apps/agent").await?,
        rows(&["1", "2"]),
        "daemonset history",
    )?;
    let out = k
        .ok(&["rollout", "undo", "daemonset/agent", "-n", ns])
        .await?;
    expect_line(&out, "daemonset.apps/agent rolled back")?;
    ds_done(k).await.context("daemonset rollout after undo")?;
    expect_eq(
        image_of(k, "daemonset/agent").await?.as_str(),
        "fluentd:1",
        "daemonset image after undo",
    )?;
    expect_eq(
        history(k, "daemonset/agent", "daemonset.apps/agent").await?,
        rows(&["2", "3"]),
        "daemonset history after undo",
    )?;

    // Scale down: only web-0 is left.
    let out = k
        .ok(&["scale", "sts", "web", "-n", ns, "--replicas=1"])
        .await?;
    expect_line(&out, "statefulset.apps/web scaled")?;
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let pods = k
            .jsonpath(
                &["get", "pods", "-n", ns, "-l", "app=web"],
                "{.items[*].metadata.name}",
            )
            .await?;
        // The status too: `rollout status` prints its updatedReplicas.
        let status = k
            .jsonpath(
                &["get", "sts", "web", "-n", ns],
                "{.status.replicas} {.status.updatedReplicas}",
            )
            .await?;
        if pods == "web-0" && status == "1 1" {
            break;
        }
        ensure!(
            Instant::now() < deadline,
            "pods after scaling to 1: {pods:?}, status {status:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    sts_done(k, 1).await.context("rollout status after scale")?;
    Ok(())
}
