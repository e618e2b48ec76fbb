//! Authorization as kube-apiserver decides it, asked through the real clients: a 403 matrix of
//! identities × requests (`kubectl auth can-i --as/--as-group`, real requests through kubectl
//! and kube-rs impersonating the identity), the escalation check on roles and bindings, and
//! the default policy (`admin`, `edit`, `view` aggregated by the aggregation controller).
//!
//! Every expected decision below was written by reading upstream's RBAC authorizer
//! (`plugin/pkg/auth/authorizer/rbac`) and bootstrap policy (the `system:aggregate-to-*` roles,
//! `system:discovery`, `system:public-info-viewer`, `system:basic-user`), not by running this
//! server. The matrix runs on every kubectl version (1.27–1.33); the other tests use
//! `kubectl.1.33` (see `kubectl_support`).

mod kube_support;

#[allow(unused_imports)]
mod kubectl_support;

use anyhow::{Context, Result, ensure};
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use k8s_openapi::api::rbac::v1::ClusterRole;
use kube::api::{Api, PostParams};
use kube::{Client, Config};
use kubectl_support::{Kubectl, kubectl_binary, kubectl_versions};
use kubeforge_apiserver::ApiServer;
use serde_json::json;
use std::time::{Duration, Instant};

const SA: &str = "system:serviceaccount:kubeforge-system:kubeforge-foo";

/// The objects the matrix's identities are bound by (besides the operator's, from
/// `deploy/foo.yaml` as `kubeforge manifests` generates it).
const POLICY: &str = r#"
apiVersion: v1
kind: Namespace
metadata: {name: team}
---
apiVersion: v1
kind: Secret
metadata: {name: db-password, namespace: team}
stringData: {password: hunter2}
---
apiVersion: v1
kind: Secret
metadata: {name: other, namespace: team}
stringData: {x: "z"}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: vera-view, namespace: team}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: view}
subjects: [{kind: User, name: vera, apiGroup: rbac.authorization.k8s.io}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: ed-edit, namespace: team}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: edit}
subjects: [{kind: User, name: ed, apiGroup: rbac.authorization.k8s.io}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: ada-admin, namespace: team}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: admin}
subjects: [{kind: User, name: ada, apiGroup: rbac.authorization.k8s.io}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: secret-reader}
rules:
- {apiGroups: [""], resources: [secrets], resourceNames: [db-password], verbs: [get]}
- {apiGroups: [""], resources: [nodes], verbs: [get, list]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: auditors}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: secret-reader}
subjects: [{kind: Group, name: auditors, apiGroup: rbac.authorization.k8s.io}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: impersonator}
rules:
- {apiGroups: [""], resources: [users, groups], verbs: [impersonate]}
- {apiGroups: [""], resources: [serviceaccounts], resourceNames: [builder], verbs: [impersonate]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: impersonator}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: impersonator}
subjects: [{kind: User, name: imp, apiGroup: rbac.authorization.k8s.io}]
"#;

/// The identities, as kubectl flags: A the administrator (system:masters), V `view` in `team`,
/// E `edit` in `team`, N `admin` in `team`, S the foo operator's ServiceAccount with its
/// generated roles, G a user allowed only through its group, I an impersonator.
const IDENTITIES: [(&str, &[&str]); 7] = [
    ("A", &[]),
    ("V", &["--as=vera"]),
    ("E", &["--as=ed"]),
    ("N", &["--as=ada"]),
    ("S", &["--as", SA]),
    ("G", &["--as=gina", "--as-group=auditors"]),
    ("I", &["--as=imp"]),
];

/// `kubectl auth can-i` arguments and who (of A V E N S G I) is allowed.
const MATRIX: &[(&[&str], &str)] = &[
    (&["get", "pods", "-n", "team"], "AVEN"),
    (&["list", "secrets", "-n", "team"], "AEN"),
    // resourceNames: the group's role names one secret, and does not allow listing.
    (&["get", "secrets/db-password", "-n", "team"], "AENG"),
    (&["get", "secrets/other", "-n", "team"], "AEN"),
    // Subresources: view reads pods/status, nobody but the administrator writes it.
    (
        &["update", "pods", "--subresource=status", "-n", "team"],
        "A",
    ),
    (
        &["get", "pods", "--subresource=status", "-n", "team"],
        "AVEN",
    ),
    (
        &[
            "patch",
            "deployments.apps",
            "--subresource=scale",
            "-n",
            "team",
        ],
        "AEN",
    ),
    (
        &[
            "create",
            "serviceaccounts",
            "--subresource=token",
            "-n",
            "team",
        ],
        "AEN",
    ),
    // Cluster scope: RoleBindings do not reach it.
    (&["list", "namespaces", "-A"], "A"),
    (&["list", "nodes", "-A"], "AG"),
    (&["create", "clusterroles", "-A"], "A"),
    // The operator's ClusterRole, in any namespace; its leader election Role in its own.
    (
        &["delete", "deployments.apps", "-n", "kubeforge-system"],
        "AS",
    ),
    (
        &[
            "update",
            "foos.samplecontroller.k8s.io",
            "--subresource=status",
            "-n",
            "team",
        ],
        "AS",
    ),
    (
        &[
            "create",
            "leases.coordination.k8s.io",
            "-n",
            "kubeforge-system",
        ],
        "AS",
    ),
    (
        &["create", "leases.coordination.k8s.io", "-n", "team"],
        "AEN",
    ),
    // Impersonation: users and groups for the impersonator; ServiceAccounts by name for it,
    // every ServiceAccount of the namespace for edit and admin.
    (&["impersonate", "users", "-A"], "AI"),
    (
        &["impersonate", "serviceaccounts/builder", "-n", "team"],
        "AENI",
    ),
    (
        &["impersonate", "serviceaccounts/other", "-n", "team"],
        "AEN",
    ),
    // `*` verbs on `*` resources: only cluster-admin.
    (&["*", "*", "-n", "team"], "A"),
    (&["create", "rolebindings", "-n", "team"], "AN"),
    // Non-resource URLs: discovery and health for everyone signed in, metrics for nobody.
    (&["get", "/healthz"], "AVENSGI"),
    (&["get", "/api"], "AVENSGI"),
    (&["get", "/version"], "AVENSGI"),
    (&["get", "/metrics"], "A"),
];

fn impersonating(server: &ApiServer, user: &str, groups: &[&str]) -> Client {
    let mut config = Config::new(server.url().parse().expect("url"));
    config.auth_info.impersonate = Some(user.into());
    if !groups.is_empty() {
        config.auth_info.impersonate_groups = Some(groups.iter().map(|g| g.to_string()).collect());
    }
    Client::try_from(config).expect("client")
}

/// Waits until the aggregation controller has filled `name`'s rules.
async fn aggregated(client: &Client, name: &str) -> Result<ClusterRole> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let role = Api::<ClusterRole>::all(client.clone()).get(name).await?;
        if role.rules.as_ref().is_some_and(|r| !r.is_empty()) || Instant::now() > deadline {
            return Ok(role);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn setup(server: &ApiServer, kubectl: &Kubectl) -> Result<()> {
    let operator = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../deploy/foo.yaml"
    ))?;
    kubectl.apply("foo.yaml", &operator).await?;
    kubectl.apply("policy.yaml", POLICY).await?;
    // The aggregated roles are filled before anyone is bound by them.
    for name in ["admin", "edit", "view"] {
        aggregated(&server.client(), name).await?;
    }
    Ok(())
}

kubectl_versions! {
    the_403_matrix_is_upstreams_on_kubectl_1_27 => "1.27",
    the_403_matrix_is_upstreams_on_kubectl_1_28 => "1.28",
    the_403_matrix_is_upstreams_on_kubectl_1_29 => "1.29",
    the_403_matrix_is_upstreams_on_kubectl_1_30 => "1.30",
    the_403_matrix_is_upstreams_on_kubectl_1_31 => "1.31",
    the_403_matrix_is_upstreams_on_kubectl_1_32 => "1.32",
    the_403_matrix_is_upstreams_on_kubectl_1_33 => "1.33",
}

/// The matrix with one kubectl version (called by the per-version tests above).
async fn suite(version: &str) {
    let Some(binary) = kubectl_binary(version) else {
        return;
    };
    if let Err(e) = the_403_matrix_is_upstreams(binary).await {
        panic!("kubectl {version}: {e:#}");
    }
}

async fn the_403_matrix_is_upstreams(binary: std::path::PathBuf) -> Result<()> {
    let server = kube_support::on_test_storage(ApiServer::builder().in_memory())
        .await
        .start()
        .await?;
    let kubectl = Kubectl::new(binary, &server)?;
    setup(&server, &kubectl).await?;

    let mut wrong = Vec::new();
    for (args, allowed) in MATRIX {
        for (who, flags) in IDENTITIES {
            let mut full = vec!["auth", "can-i"];
            full.extend_from_slice(args);
            full.extend_from_slice(flags);
            let out = kubectl.run(&full).await?;
            let answer = out.stdout.trim();
            let expected = if allowed.contains(who) { "yes" } else { "no" };
            if answer != expected {
                wrong.push(format!(
                    "{who} `kubectl {}`: {answer:?} (stderr {:?}), expected {expected}",
                    full.join(" "),
                    out.stderr.trim()
                ));
            }
        }
    }
    ensure!(wrong.is_empty(), "decisions differ:\n{}", wrong.join("\n"));

    // Real requests are held to the same decisions, refused with kube-apiserver's words.
    kubectl
        .ok(&["get", "pods", "-n", "team", "--as=vera"])
        .await?;
    kubectl
        .rejects(
            &["create", "configmap", "x", "-n", "team", "--as=vera"],
            &[r#"configmaps is forbidden: User "vera" cannot create resource "configmaps" in API group "" in the namespace "team""#],
        )
        .await?;
    kubectl
        .rejects(
            &["get", "namespaces", "--as=ada"],
            &[r#"namespaces is forbidden: User "ada" cannot list resource "namespaces" in API group "" at the cluster scope"#],
        )
        .await?;
    kubectl
        .rejects(
            &["get", "--raw", "/metrics", "--as=ed"],
            &[r#"forbidden: User "ed" cannot get path "/metrics""#],
        )
        .await?;
    let gina = impersonating(&server, "gina", &["auditors"]);
    let secrets = Api::<Secret>::namespaced(gina, "team");
    secrets
        .get("db-password")
        .await
        .context("gina reads the named secret")?;
    match secrets.get("other").await {
        Err(kube::Error::Api(s)) => {
            ensure!(s.code == 403 && s.reason == "Forbidden", "{s:?}");
            ensure!(
                s.message
                    == r#"secrets "other" is forbidden: User "gina" cannot get resource "secrets" in API group "" in the namespace "team""#,
                "{}",
                s.message
            );
        }
        other => anyhow::bail!("expected 403, got {other:?}"),
    }
    let operator = impersonating(&server, SA, &[]);
    match Api::<ConfigMap>::namespaced(operator, "team")
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": "c"}}))?,
        )
        .await
    {
        Err(kube::Error::Api(s)) => ensure!(
            s.message
                == format!(
                    r#"configmaps is forbidden: User "{SA}" cannot create resource "configmaps" in API group "" in the namespace "team""#
                ),
            "{}",
            s.message
        ),
        other => anyhow::bail!("expected 403, got {other:?}"),
    }

    // Anonymous: health and version (system:public-info-viewer), not discovery nor resources.
    let anonymous = impersonating(&server, "system:anonymous", &["system:unauthenticated"]);
    for (path, code) in [
        ("/healthz", 200),
        ("/livez", 200),
        ("/readyz", 200),
        ("/version", 200),
        ("/api", 403),
        ("/apis", 403),
        ("/metrics", 403),
        ("/api/v1/namespaces/team/pods", 403),
        ("/api/v1/namespaces/team/secrets/db-password", 403),
    ] {
        let got = anonymous
            .request_text(axum::http::Request::get(path).body(Vec::new())?)
            .await;
        let status = match got {
            Ok(_) => 200,
            Err(kube::Error::Api(s)) => s.code,
            Err(e) => anyhow::bail!("{path}: {e}"),
        };
        ensure!(
            status == code,
            "anonymous GET {path}: {status}, expected {code}"
        );
    }
    match anonymous
        .request_text(axum::http::Request::get("/api/v1/namespaces/team/pods").body(Vec::new())?)
        .await
    {
        Err(kube::Error::Api(s)) => ensure!(
            s.message
                == r#"pods is forbidden: User "system:anonymous" cannot list resource "pods" in API group "" in the namespace "team""#,
            "{}",
            s.message
        ),
        other => anyhow::bail!("expected 403, got {other:?}"),
    }
    // Anonymous users may not even ask (system:basic-user is for the authenticated).
    kubectl
        .rejects(
            &["auth", "can-i", "get", "pods", "--as=system:anonymous", "--as-group=system:unauthenticated"],
            &[r#"selfsubjectaccessreviews.authorization.k8s.io is forbidden: User "system:anonymous" cannot create resource "selfsubjectaccessreviews" in API group "authorization.k8s.io" at the cluster scope"#],
        )
        .await?;
    Ok(())
}

const BINDER: &str = r#"
apiVersion: v1
kind: Namespace
metadata: {name: team}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: pod-reader}
rules:
- {apiGroups: [""], resources: [pods], verbs: [get, list]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: binder, namespace: team}
rules:
- {apiGroups: [rbac.authorization.k8s.io], resources: [rolebindings, roles], verbs: [create, update, get]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: binder, namespace: team}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: binder}
subjects: [{kind: User, name: rb, apiGroup: rbac.authorization.k8s.io}]
"#;

const MAY_BIND: &str = r#"
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: may-bind, namespace: team}
rules:
- {apiGroups: [rbac.authorization.k8s.io], resources: [clusterroles], resourceNames: [pod-reader], verbs: [bind]}
- {apiGroups: [rbac.authorization.k8s.io], resources: [roles], verbs: [escalate]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: may-bind, namespace: team}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: may-bind}
subjects: [{kind: User, name: rb, apiGroup: rbac.authorization.k8s.io}]
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn granting_what_you_do_not_hold_needs_bind_or_escalate() -> Result<()> {
    let Some(binary) = kubectl_binary("1.33") else {
        return Ok(());
    };
    let server = kube_support::on_test_storage(ApiServer::builder().in_memory())
        .await
        .start()
        .await?;
    let kubectl = Kubectl::new(binary, &server)?;
    kubectl.apply("binder.yaml", BINDER).await?;
    let missing = r#"{APIGroups:[""], Resources:["pods"], Verbs:["get" "list"]}"#;
    let held = r#"user "rb" (groups=["system:authenticated"]) is attempting to grant RBAC permissions not currently held:"#;
    let bind = [
        "create",
        "rolebinding",
        "pods",
        "-n",
        "team",
        "--clusterrole=pod-reader",
        "--user=someone",
        "--as=rb",
    ];
    let role = [
        "create",
        "role",
        "r",
        "-n",
        "team",
        "--verb=get,list",
        "--resource=pods",
        "--as=rb",
    ];
    kubectl
        .rejects(
            &bind,
            &[
                &format!(r#"rolebindings.rbac.authorization.k8s.io "pods" is forbidden: {held}"#),
                missing,
            ],
        )
        .await?;
    kubectl
        .rejects(
            &role,
            &[
                &format!(r#"roles.rbac.authorization.k8s.io "r" is forbidden: {held}"#),
                missing,
            ],
        )
        .await?;
    // Binding a role that does not exist: upstream's 404 from resolving it.
    kubectl
        .rejects(
            &[
                "create",
                "rolebinding",
                "ghost",
                "-n",
                "team",
                "--clusterrole=ghost",
                "--user=x",
                "--as=rb",
            ],
            &[r#"clusterroles.rbac.authorization.k8s.io "ghost" not found"#],
        )
        .await?;
    // With `bind` on the role and `escalate` on roles, both go through.
    kubectl.apply("may-bind.yaml", MAY_BIND).await?;
    kubectl.ok(&bind).await?;
    kubectl.ok(&role).await?;
    // A user who holds the permissions may grant them without either verb.
    kubectl
        .ok(&[
            "create",
            "role",
            "binder-copy",
            "-n",
            "team",
            "--verb=create",
            "--resource=rolebindings.rbac.authorization.k8s.io",
            "--as=rb",
        ])
        .await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_default_roles_are_aggregated_and_follow_new_labelled_roles() -> Result<()> {
    let Some(binary) = kubectl_binary("1.33") else {
        return Ok(());
    };
    let server = kube_support::on_test_storage(ApiServer::builder().in_memory())
        .await
        .start()
        .await?;
    let kubectl = Kubectl::new(binary, &server)?;
    let names = kubectl.ok(&["get", "clusterroles", "-o", "name"]).await?;
    for name in [
        "admin",
        "edit",
        "view",
        "cluster-admin",
        "system:aggregate-to-admin",
        "system:aggregate-to-edit",
        "system:aggregate-to-view",
        "system:auth-delegator",
        "system:basic-user",
        "system:discovery",
        "system:public-info-viewer",
    ] {
        ensure!(
            names
                .lines()
                .any(|l| l == format!("clusterrole.rbac.authorization.k8s.io/{name}")),
            "{name} missing from:\n{names}"
        );
    }
    let client = server.client();
    let view = aggregated(&client, "view").await?;
    let rules = serde_json::to_string(&view.rules)?;
    ensure!(
        rules.contains("pods/log") && !rules.contains("secrets"),
        "{rules}"
    );
    // admin takes edit's rules, which take view's.
    let admin = aggregated(&client, "admin").await?;
    let rules = serde_json::to_string(&admin.rules)?;
    ensure!(
        rules.contains("localsubjectaccessreviews") && rules.contains("pods/log"),
        "{rules}"
    );

    kubectl
        .apply(
            "podtemplates-view.yaml",
            r#"
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: podtemplates-view
  labels: {rbac.authorization.k8s.io/aggregate-to-view: "true"}
rules:
- {apiGroups: [""], resources: [podtemplates], verbs: [get, list, watch]}
"#,
        )
        .await?;
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let view = Api::<ClusterRole>::all(client.clone()).get("view").await?;
        if serde_json::to_string(&view.rules)?.contains("podtemplates") {
            break;
        }
        ensure!(Instant::now() < deadline, "view never gained podtemplates");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Through view, edit gains it too; and a RoleBinding to view now allows it.
    kubectl.ok(&["create", "namespace", "team"]).await?;
    kubectl
        .ok(&[
            "create",
            "rolebinding",
            "v",
            "-n",
            "team",
            "--clusterrole=view",
            "--user=vera",
        ])
        .await?;
    let out = kubectl
        .run(&[
            "auth",
            "can-i",
            "list",
            "podtemplates",
            "-n",
            "team",
            "--as=vera",
        ])
        .await?;
    ensure!(out.stdout.trim() == "yes", "{} {}", out.stdout, out.stderr);
    // Taking the label away takes the rules away.
    kubectl
        .ok(&[
            "label",
            "clusterrole",
            "podtemplates-view",
            "rbac.authorization.k8s.io/aggregate-to-view-",
        ])
        .await?;
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let view = Api::<ClusterRole>::all(client.clone()).get("view").await?;
        if !serde_json::to_string(&view.rules)?.contains("podtemplates") {
            break;
        }
        ensure!(Instant::now() < deadline, "view kept podtemplates");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(())
}

#[tokio::test]
async fn the_audit_log_records_each_request_with_its_decision() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("audit").join("audit.log");
    let server = kube_support::on_test_storage(
        ApiServer::builder()
            .in_memory()
            .audit_log(kubeforge_apiserver::audit::AuditConfig::new(&path)),
    )
    .await
    .start()
    .await?;
    let admin = server.client();
    kubectl_free_setup(&admin).await?;
    let vera = impersonating(&server, "vera", &[]);
    Api::<ConfigMap>::namespaced(vera.clone(), "team")
        .list(&Default::default())
        .await?;
    let refused = Api::<ConfigMap>::namespaced(vera, "team")
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": "nope"}}))?,
        )
        .await;
    ensure!(refused.is_err(), "{refused:?}");

    // The writer is off the request path: wait for its lines.
    let deadline = Instant::now() + Duration::from_secs(10);
    let events = loop {
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        let events: Vec<serde_json::Value> = text
            .lines()
            .map(serde_json::from_str)
            .collect::<Result<_, _>>()?;
        let done = events
            .iter()
            .any(|e| e["verb"] == "create" && e["impersonatedUser"]["username"] == "vera");
        if done || Instant::now() > deadline {
            break events;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let find = |verb: &str, who: Option<&str>, resource: &str| {
        events
            .iter()
            .find(|e| {
                e["verb"] == verb
                    && e["objectRef"]["resource"] == resource
                    && e["impersonatedUser"]["username"].as_str() == who
            })
            .cloned()
            .with_context(|| format!("no {verb} {resource} by {who:?} in {events:#?}"))
    };
    for e in &events {
        ensure!(
            e["kind"] == "Event" && e["apiVersion"] == "audit.k8s.io/v1",
            "{e}"
        );
        ensure!(
            e["level"] == "Metadata" && e["stage"] == "ResponseComplete",
            "{e}"
        );
        ensure!(
            e["auditID"].as_str().is_some_and(|id| id.len() == 36),
            "{e}"
        );
        ensure!(e["sourceIPs"][0] == "127.0.0.1", "{e}");
        for ts in ["requestReceivedTimestamp", "stageTimestamp"] {
            // RFC 3339 with microseconds, as kube-apiserver writes them.
            let t = e[ts].as_str().context("timestamp")?;
            ensure!(t.len() == 27 && t.ends_with('Z'), "{ts}: {t}");
        }
    }
    let created = find("create", None, "namespaces")?;
    ensure!(
        created["user"]["username"] == "system:unsecured",
        "{created}"
    );
    ensure!(
        created["user"]["groups"][0] == "system:masters",
        "{created}"
    );
    ensure!(created["requestURI"] == "/api/v1/namespaces?", "{created}");
    ensure!(created["responseStatus"]["code"] == 201, "{created}");
    ensure!(
        created["annotations"]["authorization.k8s.io/decision"] == "allow",
        "{created}"
    );
    let listed = find("list", Some("vera"), "configmaps")?;
    ensure!(listed["objectRef"]["namespace"] == "team", "{listed}");
    ensure!(listed["objectRef"]["apiVersion"] == "v1", "{listed}");
    ensure!(listed["responseStatus"]["code"] == 200, "{listed}");
    ensure!(
        listed["annotations"]["authorization.k8s.io/reason"]
            == r#"RBAC: allowed by RoleBinding "vera-view/team" of ClusterRole "view" to User "vera""#,
        "{listed}"
    );
    let forbidden = find("create", Some("vera"), "configmaps")?;
    ensure!(forbidden["responseStatus"]["code"] == 403, "{forbidden}");
    ensure!(
        forbidden["responseStatus"]["reason"] == "Forbidden",
        "{forbidden}"
    );
    ensure!(
        forbidden["annotations"]["authorization.k8s.io/decision"] == "forbid",
        "{forbidden}"
    );
    Ok(())
}

/// The namespace and view binding of the audit test, made with kube-rs.
async fn kubectl_free_setup(admin: &Client) -> Result<()> {
    use k8s_openapi::api::core::v1::Namespace;
    use k8s_openapi::api::rbac::v1::RoleBinding;
    Api::<Namespace>::all(admin.clone())
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": "team"}}))?,
        )
        .await?;
    aggregated(admin, "view").await?;
    Api::<RoleBinding>::namespaced(admin.clone(), "team")
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({
                "metadata": {"name": "vera-view"},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
                "subjects": [{"kind": "User", "name": "vera", "apiGroup": "rbac.authorization.k8s.io"}],
            }))?,
        )
        .await?;
    Ok(())
}
