//! Scenarios of the server behaving like a whole cluster (tables, server-side apply, edit, diff,
//! workloads, cascading deletion, describe with events), run by every kubectl version as part of
//! the suite in `kubectl.rs`. The server runs with simulated workloads on, so Deployments get
//! ReplicaSets and Ready Pods as in a real cluster.
//!
//! Expected columns and cells are what kubectl prints against a real cluster (kube-apiserver's
//! printers in `pkg/printers/internalversion/printers.go`, apiextensions' printer columns).

use super::*;
use kubectl_support::{Cell, expect_table};

/// `Cell::Is`, short.
fn is(text: &str) -> Cell<'_> {
    Cell::Is(text)
}

/// An RFC 3339 time `minutes` ago, to the second.
fn minutes_ago(minutes: i64) -> String {
    let t = jiff::Timestamp::now() - jiff::SignedDuration::from_mins(minutes);
    t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Polls `check` (a kubectl call) every 100 ms until it returns true, bounded by [`EVENT_TIMEOUT`].
async fn eventually<F, Fut>(what: &str, mut check: F) -> Result<()>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<bool>>,
{
    let deadline = Instant::now() + EVENT_TIMEOUT;
    loop {
        if check().await? {
            return Ok(());
        }
        ensure!(
            Instant::now() < deadline,
            "timed out after {EVENT_TIMEOUT:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

const COLUMNS_CRD: &str = r#"apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: gizmos.columns.example.com
spec:
  group: columns.example.com
  names: {kind: Gizmo, plural: gizmos, singular: gizmo}
  scope: Namespaced
  versions:
  - name: v1
    served: true
    storage: true
    additionalPrinterColumns:
    - {name: Size, type: integer, jsonPath: .spec.size}
    - {name: Color, type: string, priority: 1, jsonPath: .spec.color}
    - {name: Age, type: date, jsonPath: .metadata.creationTimestamp}
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              size: {type: integer}
              color: {type: string}
"#;

/// Every built-in object of `get` column checks, in namespace `columns`.
fn columns_manifest() -> String {
    let seen = minutes_ago(5);
    format!(
        r#"apiVersion: v1
kind: ConfigMap
metadata: {{name: settings, namespace: columns}}
data: {{a: "1", b: "2"}}
---
apiVersion: v1
kind: Secret
metadata: {{name: creds, namespace: columns}}
stringData: {{user: me, pass: secret}}
---
apiVersion: v1
kind: Pod
metadata: {{name: solo, namespace: columns}}
spec:
  containers: [{{name: app, image: "nginx:1.25"}}]
---
apiVersion: v1
kind: Service
metadata: {{name: web, namespace: columns}}
spec:
  selector: {{app: web}}
  ports: [{{port: 80, targetPort: 8080}}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {{name: web, namespace: columns}}
spec:
  replicas: 2
  selector: {{matchLabels: {{app: web}}}}
  template:
    metadata: {{labels: {{app: web}}}}
    spec:
      containers: [{{name: app, image: "nginx:1.25"}}]
---
apiVersion: coordination.k8s.io/v1
kind: Lease
metadata: {{name: leader, namespace: columns}}
spec: {{holderIdentity: node-a}}
---
apiVersion: v1
kind: Event
metadata: {{name: settings.synced, namespace: columns}}
involvedObject: {{apiVersion: v1, kind: ConfigMap, name: settings, namespace: columns}}
reason: Synced
message: Synced the settings
type: Normal
source: {{component: test-controller}}
firstTimestamp: "{seen}"
lastTimestamp: "{seen}"
count: 1
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {{name: reader, namespace: columns}}
rules: [{{apiGroups: [""], resources: [configmaps], verbs: [get]}}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {{name: read-it, namespace: columns}}
roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: Role, name: reader}}
subjects:
- {{kind: User, apiGroup: rbac.authorization.k8s.io, name: alice}}
- {{kind: Group, apiGroup: rbac.authorization.k8s.io, name: devs}}
- {{kind: ServiceAccount, name: default, namespace: columns}}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {{name: columns-reader}}
rules: [{{apiGroups: [""], resources: [namespaces], verbs: [get]}}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {{name: columns-read-it}}
roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: columns-reader}}
subjects:
- {{kind: ServiceAccount, name: default, namespace: columns}}
"#
    )
}

/// `kubectl get` columns and cells for each built-in type of the issue and a CRD with printer
/// columns, plain and `-o wide`.
pub(crate) async fn columns(k: &Kubectl) -> Result<()> {
    let ns = "columns";
    k.namespace(ns).await?;
    k.apply("columns.yaml", &columns_manifest()).await?;
    k.create_crds(
        "columns-crd.yaml",
        COLUMNS_CRD,
        &["gizmos.columns.example.com"],
    )
    .await?;
    k.apply(
        "gizmo.yaml",
        "apiVersion: columns.example.com/v1\nkind: Gizmo\nmetadata: {name: g1, namespace: columns}\n\
         spec: {size: 3, color: red}\n",
    )
    .await?;
    k.ok(&[
        "wait",
        "--for=condition=Available",
        "--timeout=30s",
        "deploy/web",
        "-n",
        ns,
    ])
    .await?;
    k.ok(&[
        "wait",
        "--for=condition=Ready",
        "--timeout=30s",
        "pod/solo",
        "-n",
        ns,
    ])
    .await?;
    let get = |args: &'static [&'static str]| async move {
        k.ok(&[&["get"], args, &["-n", "columns"]].concat()).await
    };

    expect_table(
        &get(&["namespace", "columns"]).await?,
        &["NAME", "STATUS", "AGE"],
        &[is("columns"), is("Active"), Cell::Age],
    )
    .context("namespace")?;
    expect_table(
        &get(&["configmap", "settings"]).await?,
        &["NAME", "DATA", "AGE"],
        &[is("settings"), is("2"), Cell::Age],
    )
    .context("configmap")?;
    expect_table(
        &get(&["secret", "creds"]).await?,
        &["NAME", "TYPE", "DATA", "AGE"],
        &[is("creds"), is("Opaque"), is("2"), Cell::Age],
    )
    .context("secret")?;
    expect_table(
        &get(&["pod", "solo"]).await?,
        &["NAME", "READY", "STATUS", "RESTARTS", "AGE"],
        &[is("solo"), is("1/1"), is("Running"), is("0"), Cell::Age],
    )
    .context("pod")?;
    expect_table(
        &get(&["pod", "solo", "-o", "wide"]).await?,
        &[
            "NAME",
            "READY",
            "STATUS",
            "RESTARTS",
            "AGE",
            "IP",
            "NODE",
            "NOMINATED NODE",
            "READINESS GATES",
        ],
        &[
            is("solo"),
            is("1/1"),
            is("Running"),
            is("0"),
            Cell::Age,
            Cell::Some,
            is("kubeforge-node"),
            is("<none>"),
            is("<none>"),
        ],
    )
    .context("pod -o wide")?;
    expect_table(
        &get(&["service", "web"]).await?,
        &[
            "NAME",
            "TYPE",
            "CLUSTER-IP",
            "EXTERNAL-IP",
            "PORT(S)",
            "AGE",
        ],
        &[
            is("web"),
            is("ClusterIP"),
            Cell::Some,
            is("<none>"),
            is("80/TCP"),
            Cell::Age,
        ],
    )
    .context("service")?;
    expect_table(
        &get(&["deployment", "web"]).await?,
        &["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"],
        &[is("web"), is("2/2"), is("2"), is("2"), Cell::Age],
    )
    .context("deployment")?;
    expect_table(
        &get(&["deployment", "web", "-o", "wide"]).await?,
        &[
            "NAME",
            "READY",
            "UP-TO-DATE",
            "AVAILABLE",
            "AGE",
            "CONTAINERS",
            "IMAGES",
            "SELECTOR",
        ],
        &[
            is("web"),
            is("2/2"),
            is("2"),
            is("2"),
            Cell::Age,
            is("app"),
            is("nginx:1.25"),
            is("app=web"),
        ],
    )
    .context("deployment -o wide")?;
    expect_table(
        &get(&["replicasets", "-l", "app=web"]).await?,
        &["NAME", "DESIRED", "CURRENT", "READY", "AGE"],
        &[Cell::Some, is("2"), is("2"), is("2"), Cell::Age],
    )
    .context("replicaset")?;
    expect_table(
        &get(&["events"]).await?,
        &["LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"],
        &[
            Cell::Age,
            is("Normal"),
            is("Synced"),
            is("configmap/settings"),
            is("Synced the settings"),
        ],
    )
    .context("events")?;
    // The same event through events.k8s.io/v1 (one resource, converted on the way out).
    expect_table(
        &get(&["events.v1.events.k8s.io"]).await?,
        &["LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"],
        &[
            Cell::Age,
            is("Normal"),
            is("Synced"),
            is("configmap/settings"),
            is("Synced the settings"),
        ],
    )
    .context("events.k8s.io events")?;
    expect_table(
        &get(&["lease", "leader"]).await?,
        &["NAME", "HOLDER", "AGE"],
        &[is("leader"), is("node-a"), Cell::Age],
    )
    .context("lease")?;
    expect_table(
        &get(&["role", "reader"]).await?,
        &["NAME", "CREATED AT"],
        &[is("reader"), Cell::Timestamp],
    )
    .context("role")?;
    expect_table(
        &get(&["rolebinding", "read-it", "-o", "wide"]).await?,
        &["NAME", "ROLE", "AGE", "USERS", "GROUPS", "SERVICEACCOUNTS"],
        &[
            is("read-it"),
            is("Role/reader"),
            Cell::Age,
            is("alice"),
            is("devs"),
            is("columns/default"),
        ],
    )
    .context("rolebinding -o wide")?;
    expect_table(
        &k.ok(&["get", "clusterrole", "columns-reader"]).await?,
        &["NAME", "CREATED AT"],
        &[is("columns-reader"), Cell::Timestamp],
    )
    .context("clusterrole")?;
    expect_table(
        &k.ok(&["get", "clusterrolebinding", "columns-read-it", "-o", "wide"])
            .await?,
        &["NAME", "ROLE", "AGE", "USERS", "GROUPS", "SERVICEACCOUNTS"],
        &[
            is("columns-read-it"),
            is("ClusterRole/columns-reader"),
            Cell::Age,
            is(""),
            is(""),
            is("columns/default"),
        ],
    )
    .context("clusterrolebinding -o wide")?;
    // The simulated node (the suite's server simulates workloads).
    expect_table(
        &k.ok(&["get", "node", "kubeforge-node"]).await?,
        &["NAME", "STATUS", "ROLES", "AGE", "VERSION"],
        &[
            is("kubeforge-node"),
            is("Ready"),
            is("<none>"),
            Cell::Age,
            Cell::Some,
        ],
    )
    .context("node")?;
    expect_table(
        &k.ok(&["get", "crd", "gizmos.columns.example.com"]).await?,
        &["NAME", "CREATED AT"],
        &[is("gizmos.columns.example.com"), Cell::Timestamp],
    )
    .context("crd")?;
    expect_table(
        &get(&["gizmo", "g1"]).await?,
        &["NAME", "SIZE", "AGE"],
        &[is("g1"), is("3"), Cell::Age],
    )
    .context("custom resource")?;
    expect_table(
        &get(&["gizmo", "g1", "-o", "wide"]).await?,
        &["NAME", "SIZE", "COLOR", "AGE"],
        &[is("g1"), is("3"), is("red"), Cell::Age],
    )
    .context("custom resource -o wide")?;
    Ok(())
}

/// `apply --server-side`: a conflict with `kubectl create`'s manager, `--force-conflicts`, a
/// conflict between two appliers, shared ownership and removal of a field no longer applied.
pub(crate) async fn server_side_apply(k: &Kubectl) -> Result<()> {
    let cm = |data: &str| {
        format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ssa\n  namespace: ssa\ndata: {data}\n"
        )
    };
    k.namespace("ssa").await?;
    let one = k.manifest("ssa-one.yaml", &cm("{key: one}"))?;
    k.ok(&["create", "-f", &one]).await?;
    let two = k.manifest("ssa-two.yaml", &cm("{key: two, extra: x}"))?;
    let err = k.fails(&["apply", "--server-side", "-f", &two]).await?;
    ensure!(
        err.contains(
            r#"Apply failed with 1 conflict: conflict with "kubectl-create" using v1: .data.key"#
        ),
        "unexpected conflict message:\n{err}"
    );
    let out = k
        .ok(&["apply", "--server-side", "--force-conflicts", "-f", &two])
        .await?;
    expect_line(&out, "configmap/ssa serverside-applied")?;
    expect_eq(
        k.jsonpath(&["get", "cm", "ssa", "-n", "ssa"], "{.data.key}")
            .await?
            .as_str(),
        "two",
        "key after --force-conflicts",
    )?;

    // Another applier: a conflict on kubectl's field, names the Apply manager without a version.
    let other = k.manifest("ssa-other.yaml", &cm("{key: three}"))?;
    let err = k
        .fails(&[
            "apply",
            "--server-side",
            "--field-manager=team-b",
            "-f",
            &other,
        ])
        .await?;
    ensure!(
        err.contains(r#"Apply failed with 1 conflict: conflict with "kubectl": .data.key"#),
        "unexpected conflict message:\n{err}"
    );
    // Applying the same value is shared ownership, not a conflict.
    let shared = k.manifest("ssa-shared.yaml", &cm("{key: two, own: b}"))?;
    k.ok(&[
        "apply",
        "--server-side",
        "--field-manager=team-b",
        "-f",
        &shared,
    ])
    .await?;
    let managers = k
        .jsonpath(
            &["get", "cm", "ssa", "-n", "ssa", "--show-managed-fields"],
            r#"{range .metadata.managedFields[*]}{.manager}/{.operation}:{.fieldsV1.f:data}{"\n"}{end}"#,
        )
        .await?;
    for (manager, field) in [("kubectl/Apply", "f:key"), ("team-b/Apply", "f:key")] {
        ensure!(
            managers
                .lines()
                .any(|l| l.starts_with(&format!("{manager}:")) && l.contains(field)),
            "{manager} should own {field}:\n{managers}"
        );
    }
    // kubectl stops applying `extra` (no one else owns it: removed) and `key` (team-b still owns
    // it: kept).
    k.ok(&[
        "apply",
        "--server-side",
        "-f",
        &k.manifest("ssa-less.yaml", &cm("{}"))?,
    ])
    .await?;
    let data = k.json(&["get", "cm", "ssa", "-n", "ssa"]).await?["data"].clone();
    expect_eq(
        data,
        json!({"key": "two", "own": "b"}),
        "data after kubectl's fields were dropped",
    )?;
    Ok(())
}

/// From client-side to server-side apply, as upstream's `test/cmd/apply.sh` does it: `apply
/// --server-side` after `apply` succeeds (kube-apiserver forgives kubectl's conflicts on fields
/// it last applied, and kubectl moves client-side apply's fields to itself by rewriting
/// managedFields), `diff --server-side` exits 0 without and 1 with changes, a field dropped
/// from the file is removed, and the last-applied annotation follows server-side apply, so a
/// client-side apply after it removes what only server-side apply had set.
pub(crate) async fn csa_to_ssa(k: &Kubectl) -> Result<()> {
    let ns = "migrate";
    k.namespace(ns).await?;
    let cm = |data: &str| {
        format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: test\n  namespace: migrate\ndata:\n{data}"
        )
    };
    let data = || async {
        let v = k.json(&["get", "cm", "test", "-n", ns]).await?;
        Ok::<Value, anyhow::Error>(v["data"].clone())
    };
    let out = k
        .apply("migrate-1.yaml", &cm("  key: value\n  legacy: unused\n"))
        .await?;
    expect_line(&out, "configmap/test created")?;
    // A changed value: kubectl-client-side-apply owns `key`, but kubectl last applied it, so
    // neither a server-side diff nor a server-side apply conflicts.
    let second = k.manifest("migrate-2.yaml", &cm("  key: value2\n  legacy: unused\n"))?;
    let out = k.run(&["diff", "--server-side", "-f", &second]).await?;
    expect_eq(
        out.code,
        Some(1),
        "exit code of diff --server-side after apply",
    )?;
    ensure!(
        out.stdout.lines().any(|l| l == "-  key: value")
            && out.stdout.lines().any(|l| l == "+  key: value2"),
        "expected the changed key in the diff:\n{}{}",
        out.stdout,
        out.stderr
    );
    let out = k.ok(&["apply", "--server-side", "-f", &second]).await?;
    expect_line(&out, "configmap/test serverside-applied")?;
    let managers = k
        .jsonpath(
            &["get", "cm", "test", "-n", ns, "--show-managed-fields"],
            r#"{range .metadata.managedFields[*]}{.manager}/{.operation}{"\n"}{end}"#,
        )
        .await?;
    let mut managers: Vec<&str> = managers.lines().collect();
    managers.sort();
    expect_eq(
        managers,
        vec!["kubectl-last-applied/Apply", "kubectl/Apply"],
        "managers after the migration",
    )?;

    let out = k.run(&["diff", "--server-side", "-f", &second]).await?;
    ensure!(
        out.code == Some(0) && out.stdout.is_empty(),
        "diff --server-side without changes: exit {:?}\n{}{}",
        out.code,
        out.stdout,
        out.stderr
    );
    let third = k.manifest("migrate-3.yaml", &cm("  key: value3\n  legacy: unused\n"))?;
    let out = k.run(&["diff", "--server-side", "-f", &third]).await?;
    expect_eq(
        out.code,
        Some(1),
        "exit code of diff --server-side with changes",
    )?;
    ensure!(
        out.stdout.lines().any(|l| l == "-  key: value2")
            && out.stdout.lines().any(|l| l == "+  key: value3"),
        "expected the changed key in the diff:\n{}{}",
        out.stdout,
        out.stderr
    );

    // Dropping `legacy` from the file removes it: kubectl owns it now.
    let fourth = k.manifest("migrate-4.yaml", &cm("  key: value2\n  ssaKey: ssaValue\n"))?;
    let out = k.ok(&["apply", "--server-side", "-f", &fourth]).await?;
    expect_line(&out, "configmap/test serverside-applied")?;
    expect_eq(
        data().await?,
        json!({"key": "value2", "ssaKey": "ssaValue"}),
        "data after dropping legacy",
    )?;
    let last = k
        .jsonpath(
            &["get", "cm", "test", "-n", ns],
            r#"{.metadata.annotations.kubectl\.kubernetes\.io/last-applied-configuration}"#,
        )
        .await?;
    ensure!(
        last.contains(r#""ssaKey":"ssaValue""#) && !last.contains("legacy"),
        "last-applied annotation not kept up to date: {last}"
    );
    // Back to client-side apply: what only server-side apply had set goes.
    let out = k
        .apply("migrate-5.yaml", &cm("  key: value2\n  newKey: newValue\n"))
        .await?;
    expect_line(&out, "configmap/test configured")?;
    expect_eq(
        data().await?,
        json!({"key": "value2", "newKey": "newValue"}),
        "data after client-side apply again",
    )?;
    Ok(())
}

/// Revisions of a Deployment: `set image` twice, `rollout history` (and `--revision`), `rollout
/// undo` (reusing the earlier ReplicaSet, which becomes the next revision), `undo
/// --to-revision`, a skipped undo, and `rollout status --revision`.
pub(crate) async fn rollout_history(k: &Kubectl) -> Result<()> {
    let ns = "history";
    k.namespace(ns).await?;
    k.ok(&["create", "deployment", "web", "-n", ns, "--image=nginx:1.0"])
        .await?;
    let status = |revision: Option<&'static str>| async move {
        let flag = revision.map(|r| format!("--revision={r}"));
        let mut args = vec![
            "rollout",
            "status",
            "deployment/web",
            "-n",
            ns,
            "--timeout=60s",
        ];
        args.extend(flag.as_deref());
        let out = k.ok(&args).await?;
        expect_line(&out, r#"deployment "web" successfully rolled out"#)
    };
    status(None).await.context("first rollout")?;
    for image in ["nginx=nginx:1.1", "nginx=nginx:1.2"] {
        k.ok(&["set", "image", "deployment/web", "-n", ns, image])
            .await?;
        status(None)
            .await
            .with_context(|| format!("rollout of {image}"))?;
    }
    let history = || async {
        let out = k
            .ok(&["rollout", "history", "deployment/web", "-n", ns])
            .await?;
        let mut lines = out.lines().filter(|l| !l.trim().is_empty());
        expect_eq(
            lines.next().map(str::trim),
            Some("deployment.apps/web"),
            "history title",
        )?;
        expect_eq(
            lines
                .next()
                .map(|l| l.split_whitespace().collect::<Vec<_>>()),
            Some(vec!["REVISION", "CHANGE-CAUSE"]),
            "history header",
        )?;
        let rows: Vec<String> = lines
            .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
            .collect();
        Ok::<Vec<String>, anyhow::Error>(rows)
    };
    let rows =
        |revs: &[&str]| -> Vec<String> { revs.iter().map(|r| format!("{r} <none>")).collect() };
    expect_eq(
        history().await?,
        rows(&["1", "2", "3"]),
        "history after two updates",
    )?;
    let out = k
        .ok(&[
            "rollout",
            "history",
            "deployment/web",
            "-n",
            ns,
            "--revision=2",
        ])
        .await?;
    expect_line(&out, "deployment.apps/web with revision #2")?;
    ensure!(
        out.lines()
            .any(|l| l.trim().starts_with("Image:") && l.trim().ends_with("nginx:1.1")),
        "revision 2's template should run nginx:1.1:\n{out}"
    );

    let image = || async {
        k.jsonpath(
            &["get", "deploy", "web", "-n", ns],
            "{.spec.template.spec.containers[0].image}",
        )
        .await
    };
    let out = k
        .ok(&["rollout", "undo", "deployment/web", "-n", ns])
        .await?;
    expect_line(&out, "deployment.apps/web rolled back")?;
    // Without a revision first: `--revision` does not wait for the controller to get there.
    status(None).await.context("rollout after undo")?;
    status(Some("4"))
        .await
        .context("rollout after undo, its revision")?;
    expect_eq(image().await?.as_str(), "nginx:1.1", "image after undo")?;
    expect_eq(
        history().await?,
        rows(&["1", "3", "4"]),
        "history after undo",
    )?;
    let replicasets = k
        .jsonpath(&["get", "rs", "-n", ns], "{.items[*].metadata.name}")
        .await?;
    expect_eq(
        replicasets.split_whitespace().count(),
        3,
        "ReplicaSets after undo (the earlier one is reused)",
    )?;

    let out = k
        .ok(&[
            "rollout",
            "undo",
            "deployment/web",
            "-n",
            ns,
            "--to-revision=1",
        ])
        .await?;
    expect_line(&out, "deployment.apps/web rolled back")?;
    // Without a revision first: `--revision` does not wait for the controller to get there.
    status(None).await.context("rollout after undo to 1")?;
    status(Some("5"))
        .await
        .context("rollout after undo to 1, its revision")?;
    expect_eq(
        image().await?.as_str(),
        "nginx:1.0",
        "image after undo to 1",
    )?;
    expect_eq(
        history().await?,
        rows(&["3", "4", "5"]),
        "history after undo to 1",
    )?;
    let err = k
        .fails(&[
            "rollout",
            "status",
            "deployment/web",
            "-n",
            ns,
            "--revision=4",
        ])
        .await?;
    ensure!(
        err.contains("desired revision (4) is different from the running revision (5)"),
        "unexpected rollout status error:\n{err}"
    );
    let out = k
        .ok(&[
            "rollout",
            "undo",
            "deployment/web",
            "-n",
            ns,
            "--to-revision=5",
        ])
        .await?;
    expect_line(
        &out,
        "deployment.apps/web skipped rollback (current template already matches revision 5)",
    )?;
    Ok(())
}

/// `kubectl edit` with a scripted editor: a ConfigMap (merge patch), a Deployment (strategic
/// merge patch), and an edit that changes nothing.
pub(crate) async fn edit(k: &Kubectl) -> Result<()> {
    let ns = "edit";
    k.namespace(ns).await?;
    k.ok(&[
        "create",
        "configmap",
        "conf",
        "-n",
        ns,
        "--from-literal=color=blue",
    ])
    .await?;
    let out = k
        .run_with_env(
            &["edit", "cm", "conf", "-n", ns],
            &[("KUBE_EDITOR", "sed -i s/blue/green/")],
        )
        .await?;
    ensure!(out.success, "edit failed:\n{}{}", out.stdout, out.stderr);
    expect_line(&out.stdout, "configmap/conf edited")?;
    expect_eq(
        k.jsonpath(&["get", "cm", "conf", "-n", ns], "{.data.color}")
            .await?
            .as_str(),
        "green",
        "edited value",
    )?;
    let managers = k
        .jsonpath(
            &["get", "cm", "conf", "-n", ns, "--show-managed-fields"],
            "{.metadata.managedFields[*].manager}",
        )
        .await?;
    ensure!(managers.contains("kubectl-edit"), "managers: {managers}");

    k.ok(&["create", "deployment", "ed", "-n", ns, "--image=nginx:1.0"])
        .await?;
    let out = k
        .run_with_env(
            &["edit", "deployment", "ed", "-n", ns],
            &[("KUBE_EDITOR", "sed -i s/nginx:1.0/nginx:1.1/")],
        )
        .await?;
    ensure!(out.success, "edit failed:\n{}{}", out.stdout, out.stderr);
    expect_line(&out.stdout, "deployment.apps/ed edited")?;
    expect_eq(
        k.jsonpath(
            &["get", "deploy", "ed", "-n", ns],
            "{.spec.template.spec.containers[0].image}",
        )
        .await?
        .as_str(),
        "nginx:1.1",
        "edited image",
    )?;

    let out = k
        .run_with_env(
            &["edit", "cm", "conf", "-n", ns],
            &[("KUBE_EDITOR", "true")],
        )
        .await?;
    ensure!(out.success, "edit failed:\n{}{}", out.stdout, out.stderr);
    ensure!(
        format!("{}{}", out.stdout, out.stderr).contains("Edit cancelled, no changes made."),
        "unexpected output of an unchanged edit:\n{}{}",
        out.stdout,
        out.stderr
    );
    Ok(())
}

/// `kubectl diff`: exit 1 with a unified diff when the manifest differs (the server stores
/// nothing: a dry run), exit 0 and no output when it does not.
pub(crate) async fn diff(k: &Kubectl) -> Result<()> {
    let ns = "diff";
    k.namespace(ns).await?;
    let cm = |value: &str| {
        format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: d\n  namespace: diff\ndata:\n  key: {value}\n"
        )
    };
    k.apply("diff-one.yaml", &cm("one")).await?;
    let two = k.manifest("diff-two.yaml", &cm("two"))?;
    let out = k.run(&["diff", "-f", &two]).await?;
    expect_eq(out.code, Some(1), "exit code of a diff with changes")?;
    ensure!(
        out.stdout.lines().any(|l| l == "-  key: one")
            && out.stdout.lines().any(|l| l == "+  key: two"),
        "expected the changed key in the diff:\n{}{}",
        out.stdout,
        out.stderr
    );
    expect_eq(
        k.jsonpath(&["get", "cm", "d", "-n", ns], "{.data.key}")
            .await?
            .as_str(),
        "one",
        "stored value after diff",
    )?;
    let one = k.manifest("diff-one.yaml", &cm("one"))?;
    let out = k.run(&["diff", "-f", &one]).await?;
    ensure!(
        out.code == Some(0) && out.stdout.is_empty(),
        "diff without changes: exit {:?}\n{}{}",
        out.code,
        out.stdout,
        out.stderr
    );
    Ok(())
}

/// The images of the Pods of Deployment `name` in `ns` (labelled `app=<name>`).
async fn pod_images(k: &Kubectl, ns: &str, name: &str) -> Result<Vec<String>> {
    let selector = format!("app={name}");
    let images = k
        .jsonpath(
            &["get", "pods", "-n", ns, "-l", &selector],
            "{.items[*].spec.containers[0].image}",
        )
        .await?;
    Ok(images.split_whitespace().map(str::to_string).collect())
}

/// Simulated workloads through kubectl: `rollout status`, `scale` up and down, `set image` (a
/// rolling replacement), with Pods following.
pub(crate) async fn workloads(k: &Kubectl) -> Result<()> {
    let ns = "rollout";
    k.namespace(ns).await?;
    k.ok(&[
        "create",
        "deployment",
        "web",
        "-n",
        ns,
        "--image=nginx:1.0",
        "--replicas=2",
    ])
    .await?;
    let rollout = || async {
        let out = k
            .ok(&[
                "rollout",
                "status",
                "deployment/web",
                "-n",
                ns,
                "--timeout=60s",
            ])
            .await?;
        expect_line(&out, r#"deployment "web" successfully rolled out"#)
    };
    rollout().await.context("first rollout")?;
    expect_eq(
        pod_images(k, ns, "web").await?,
        vec!["nginx:1.0".to_string(); 2],
        "pods after the first rollout",
    )?;

    let out = k
        .ok(&["scale", "deployment/web", "-n", ns, "--replicas=4"])
        .await?;
    expect_line(&out, "deployment.apps/web scaled")?;
    rollout().await.context("rollout after scale up")?;
    expect_eq(
        k.jsonpath(
            &["get", "deploy", "web", "-n", ns],
            "{.status.readyReplicas}",
        )
        .await?
        .as_str(),
        "4",
        "ready replicas after scale up",
    )?;
    eventually("4 pods", || async {
        Ok(pod_images(k, ns, "web").await?.len() == 4)
    })
    .await?;

    let out = k
        .ok(&[
            "set",
            "image",
            "deployment/web",
            "-n",
            ns,
            "nginx=nginx:1.1",
        ])
        .await?;
    expect_line(&out, "deployment.apps/web image updated")?;
    rollout().await.context("rollout after set image")?;
    eventually("4 pods running nginx:1.1", || async {
        Ok(pod_images(k, ns, "web").await? == vec!["nginx:1.1".to_string(); 4])
    })
    .await?;
    let rs = k
        .jsonpath(
            &["get", "rs", "-n", ns, "-l", "app=web"],
            r#"{range .items[*]}{.spec.template.spec.containers[0].image}={.spec.replicas}{"\n"}{end}"#,
        )
        .await?;
    let mut rs: Vec<&str> = rs.lines().collect();
    rs.sort();
    expect_eq(
        rs,
        vec!["nginx:1.0=0", "nginx:1.1=4"],
        "ReplicaSets after the rollout",
    )?;

    let out = k
        .ok(&["scale", "deployment/web", "-n", ns, "--replicas=1"])
        .await?;
    expect_line(&out, "deployment.apps/web scaled")?;
    rollout().await.context("rollout after scale down")?;
    eventually("1 pod", || async {
        Ok(pod_images(k, ns, "web").await?.len() == 1)
    })
    .await?;
    Ok(())
}

/// `delete --cascade=orphan|foreground|background` of Deployments with ReplicaSets and Pods, and
/// `delete namespace` of a namespace holding workloads.
pub(crate) async fn cascade(k: &Kubectl) -> Result<()> {
    let ns = "cascade";
    k.namespace(ns).await?;
    for name in ["orphaned", "fg", "bg"] {
        k.ok(&["create", "deployment", name, "-n", ns, "--image=nginx"])
            .await?;
    }
    for name in ["orphaned", "fg", "bg"] {
        k.ok(&[
            "rollout",
            "status",
            &format!("deployment/{name}"),
            "-n",
            ns,
            "--timeout=60s",
        ])
        .await?;
    }
    let owned = |kind: &'static str, name: &'static str| async move {
        let out = k
            .ok(&[
                "get",
                kind,
                "-n",
                ns,
                "-l",
                &format!("app={name}"),
                "-o",
                "name",
            ])
            .await?;
        Ok::<_, anyhow::Error>(names(&out).len())
    };

    let out = k
        .ok(&[
            "delete",
            "deployment",
            "orphaned",
            "-n",
            ns,
            "--cascade=orphan",
        ])
        .await?;
    expect_line(&out, r#"deployment.apps "orphaned" deleted"#)?;
    k.fails(&["get", "deployment", "orphaned", "-n", ns])
        .await?;
    let refs = k
        .jsonpath(
            &["get", "rs", "-n", ns, "-l", "app=orphaned"],
            "{.items[*].metadata.ownerReferences}",
        )
        .await?;
    expect_eq(
        refs.as_str(),
        "",
        "owner references of the orphaned ReplicaSet",
    )?;
    expect_eq(owned("rs", "orphaned").await?, 1, "orphaned ReplicaSets")?;
    expect_eq(owned("pods", "orphaned").await?, 1, "orphaned Pods")?;

    // Foreground: kubectl waits until the Deployment is gone, which is after its dependents.
    let out = k
        .ok(&[
            "delete",
            "deployment",
            "fg",
            "-n",
            ns,
            "--cascade=foreground",
        ])
        .await?;
    expect_line(&out, r#"deployment.apps "fg" deleted"#)?;
    k.fails(&["get", "deployment", "fg", "-n", ns]).await?;
    expect_eq(
        owned("rs", "fg").await?,
        0,
        "ReplicaSets left by a foreground deletion",
    )?;
    expect_eq(
        owned("pods", "fg").await?,
        0,
        "Pods left by a foreground deletion",
    )?;

    let out = k
        .ok(&[
            "delete",
            "deployment",
            "bg",
            "-n",
            ns,
            "--cascade=background",
        ])
        .await?;
    expect_line(&out, r#"deployment.apps "bg" deleted"#)?;
    eventually("bg's ReplicaSet and Pods collected", || async {
        Ok(owned("rs", "bg").await? == 0 && owned("pods", "bg").await? == 0)
    })
    .await?;

    // A namespace holding workloads: kubectl waits until it and everything in it are gone.
    let out = k.ok(&["delete", "namespace", ns]).await?;
    expect_line(&out, r#"namespace "cascade" deleted"#)?;
    let left = k
        .ok(&["get", "deployments,replicasets,pods", "-A", "-o", "name"])
        .await?;
    ensure!(
        !left.lines().any(|l| l.contains("orphaned")),
        "objects left after deleting the namespace:\n{left}"
    );
    Ok(())
}

const NOTES_CRD: &str = r#"apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: notes.describe.example.com
spec:
  group: describe.example.com
  names: {kind: Note, plural: notes, singular: note}
  scope: Namespaced
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              text: {type: string}
"#;

/// A core/v1 Event about `kind`/`name` in namespace `describe`, five minutes old.
fn event(
    name: &str,
    api_version: &str,
    kind: &str,
    object: &str,
    uid: &str,
    reason: &str,
) -> String {
    let seen = minutes_ago(5);
    format!(
        "apiVersion: v1\nkind: Event\nmetadata: {{name: {name}, namespace: describe}}\n\
         involvedObject: {{apiVersion: {api_version}, kind: {kind}, name: {object}, namespace: describe, uid: {uid}}}\n\
         reason: {reason}\nmessage: {reason} happened\ntype: Normal\nsource: {{component: test-controller}}\n\
         firstTimestamp: \"{seen}\"\nlastTimestamp: \"{seen}\"\ncount: 1\n"
    )
}

/// Fails unless `describe` output lists an event with `reason` (and only events with a reason in
/// `reasons`).
fn expect_events(out: &str, reason: &str, others: &[&str]) -> Result<()> {
    let events = out
        .split_once("\nEvents:")
        .map(|(_, events)| events)
        .ok_or_else(|| anyhow!("no Events section in:\n{out}"))?;
    // Type, Reason, Age (`5m`, or `3s (x2 over 4s)` for a series), From, Message.
    ensure!(
        events.lines().any(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            w.first() == Some(&"Normal")
                && w.get(1) == Some(&reason)
                && w.get(2).is_some_and(|age| kubectl_support::is_age(age))
                && w.contains(&"test-controller")
                && l.ends_with(&format!("{reason} happened"))
        }),
        "no event {reason} in:\n{out}"
    );
    for other in others {
        ensure!(
            !events.contains(other),
            "an event about another object ({other}) is listed:\n{out}"
        );
    }
    Ok(())
}

/// `kubectl describe` of a ConfigMap, a Deployment and a custom resource, each with its Events
/// (kubectl lists them with `fieldSelector=involvedObject.*`), never another object's; the
/// custom resource's events come from kube-rs's `Recorder` (events.k8s.io/v1), the
/// Deployment's include the simulated deployment controller's `ScalingReplicaSet`.
pub(crate) async fn describe(k: &Kubectl) -> Result<()> {
    let ns = "describe";
    k.namespace(ns).await?;
    k.ok(&[
        "create",
        "configmap",
        "described",
        "-n",
        ns,
        "--from-literal=k=v",
    ])
    .await?;
    k.ok(&["create", "configmap", "other", "-n", ns]).await?;
    k.ok(&[
        "create",
        "deployment",
        "app",
        "-n",
        ns,
        "--image=nginx",
        "--replicas=2",
    ])
    .await?;
    k.create_crds("notes-crd.yaml", NOTES_CRD, &["notes.describe.example.com"])
        .await?;
    k.apply(
        "note.yaml",
        "apiVersion: describe.example.com/v1\nkind: Note\nmetadata: {name: n1, namespace: describe}\n\
         spec: {text: hello}\n",
    )
    .await?;
    let uid = |kind: &'static str, name: &'static str| async move {
        k.jsonpath(&["get", kind, name, "-n", "describe"], "{.metadata.uid}")
            .await
    };
    let events = [
        event(
            "e1",
            "v1",
            "ConfigMap",
            "described",
            &uid("cm", "described").await?,
            "Checked",
        ),
        event(
            "e2",
            "v1",
            "ConfigMap",
            "other",
            &uid("cm", "other").await?,
            "Elsewhere",
        ),
        event(
            "e3",
            "apps/v1",
            "Deployment",
            "app",
            &uid("deploy", "app").await?,
            "Rolled",
        ),
    ]
    .join("---\n");
    k.apply("events.yaml", &events).await?;
    // A controller's events: kube-rs's Recorder writes events.k8s.io/v1 Events (the second
    // publish makes a series); describe lists core/v1 Events, the same resource.
    let recorder = kube::runtime::events::Recorder::new(k.client.clone(), "test-controller".into());
    let note = k8s_openapi::api::core::v1::ObjectReference {
        api_version: Some("describe.example.com/v1".into()),
        kind: Some("Note".into()),
        name: Some("n1".into()),
        namespace: Some(ns.into()),
        uid: Some(uid("note", "n1").await?),
        ..Default::default()
    };
    for _ in 0..2 {
        recorder
            .publish(
                &kube::runtime::events::Event {
                    type_: kube::runtime::events::EventType::Normal,
                    reason: "Noted".into(),
                    note: Some("Noted happened".into()),
                    action: "Note".into(),
                    secondary: None,
                },
                &note,
            )
            .await?;
    }
    k.ok(&[
        "rollout",
        "status",
        "deployment/app",
        "-n",
        ns,
        "--timeout=60s",
    ])
    .await?;

    let out = k
        .ok(&["describe", "configmap", "described", "-n", ns])
        .await?;
    ensure!(
        out.lines()
            .next()
            .is_some_and(|l| l.split_whitespace().eq(["Name:", "described"])),
        "unexpected describe output:\n{out}"
    );
    expect_events(&out, "Checked", &["Elsewhere", "Rolled", "Noted"]).context("configmap")?;

    let out = k.ok(&["describe", "deployment", "app", "-n", ns]).await?;
    ensure!(
        out.lines().any(|l| l.split_whitespace().eq([
            "Replicas:",
            "2",
            "desired",
            "|",
            "2",
            "updated",
            "|",
            "2",
            "total",
            "|",
            "2",
            "available",
            "|",
            "0",
            "unavailable"
        ])),
        "unexpected Replicas line in:\n{out}"
    );
    expect_events(&out, "Rolled", &["Checked", "Elsewhere", "Noted"]).context("deployment")?;
    // The simulated deployment controller's own event, as kube-controller-manager records it.
    ensure!(
        out.lines().any(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            w.starts_with(&["Normal", "ScalingReplicaSet"])
                && w.contains(&"deployment-controller")
                && l.contains("Scaled up replica set app-")
                && l.ends_with("from 0 to 2")
        }),
        "no ScalingReplicaSet event in:\n{out}"
    );

    let out = k.ok(&["describe", "note", "n1", "-n", ns]).await?;
    expect_events(&out, "Noted", &["Checked", "Elsewhere", "Rolled"]).context("custom resource")?;
    ensure!(
        out.contains("(x2 over "),
        "the recorder's series of two is not shown:\n{out}"
    );
    Ok(())
}
