//! The default RBAC policy as kube-apiserver 1.33 bootstraps it, judged through kube-rs
//! against a real server: the full set of ClusterRoles, ClusterRoleBindings, Roles and
//! RoleBindings (names and counts of upstream's `plugin/pkg/auth/authorizer/rbac/bootstrappolicy`
//! with its default feature gates), what the components' identities may then do, and the
//! reconciliation at every start of a durable server (a removed rule or subject comes back, an
//! object annotated `rbac.authorization.kubernetes.io/autoupdate: "false"` is left alone).

mod kube_support;

// One kubectl version (1.33) is used: the per-version test macro is not.
#[allow(unused_macros, unused_imports)]
#[path = "kubectl_support/mod.rs"]
mod kubectl_support;

use anyhow::{Context, Result, ensure};
use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::core::v1::{Node, Pod, ServiceAccount};
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, Role, RoleBinding};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::{Client, Config};
use kubeforge_apiserver::ApiServer;
use serde_json::{Value, json};

/// A client of `server` impersonating `user` in `groups` (plus `system:authenticated`, which
/// impersonation adds).
fn impersonating(server: &ApiServer, user: &str, groups: &[&str]) -> Client {
    let mut config = Config::new(server.url().parse().expect("url"));
    config.auth_info.impersonate = Some(user.into());
    if !groups.is_empty() {
        config.auth_info.impersonate_groups = Some(groups.iter().map(|g| g.to_string()).collect());
    }
    Client::try_from(config).expect("client")
}

/// A client of `server` presenting the bearer `token`.
fn with_token(server: &ApiServer, token: &str) -> Client {
    let mut config = Config::new(server.url().parse().expect("url"));
    config.auth_info.token = Some(token.to_string().into());
    Client::try_from(config).expect("client")
}

/// GET `path`: the status code.
async fn get_status(client: &Client, path: &str) -> Result<u16> {
    let request = axum::http::Request::get(path).body(Vec::new())?;
    match client.request_text(request).await {
        Ok(_) => Ok(200),
        Err(kube::Error::Api(s)) => Ok(s.code),
        Err(e) => Err(e.into()),
    }
}

fn code<T: std::fmt::Debug>(result: kube::Result<T>) -> u16 {
    match result {
        Ok(_) => 200,
        Err(kube::Error::Api(s)) => s.code,
        Err(e) => panic!("{e}"),
    }
}

async fn names<K>(api: Api<K>) -> Result<Vec<String>>
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let list = api.list(&ListParams::default()).await?;
    Ok(list
        .items
        .iter()
        .map(|o| {
            let meta = o.meta();
            match &meta.namespace {
                Some(ns) => format!("{ns}/{}", meta.name.clone().unwrap_or_default()),
                None => meta.name.clone().unwrap_or_default(),
            }
        })
        .collect())
}

/// kube-apiserver 1.33's bootstrap ClusterRoles (policy.go and controller_policy.go with the
/// default feature gates).
const CLUSTER_ROLES: &[&str] = &[
    "admin",
    "cluster-admin",
    "edit",
    "system:aggregate-to-admin",
    "system:aggregate-to-edit",
    "system:aggregate-to-view",
    "system:auth-delegator",
    "system:basic-user",
    "system:certificates.k8s.io:certificatesigningrequests:nodeclient",
    "system:certificates.k8s.io:certificatesigningrequests:selfnodeclient",
    "system:certificates.k8s.io:kube-apiserver-client-approver",
    "system:certificates.k8s.io:kube-apiserver-client-kubelet-approver",
    "system:certificates.k8s.io:kubelet-serving-approver",
    "system:certificates.k8s.io:legacy-unknown-approver",
    "system:controller:attachdetach-controller",
    "system:controller:certificate-controller",
    "system:controller:clusterrole-aggregation-controller",
    "system:controller:cronjob-controller",
    "system:controller:daemon-set-controller",
    "system:controller:deployment-controller",
    "system:controller:disruption-controller",
    "system:controller:endpoint-controller",
    "system:controller:endpointslice-controller",
    "system:controller:endpointslicemirroring-controller",
    "system:controller:ephemeral-volume-controller",
    "system:controller:expand-controller",
    "system:controller:generic-garbage-collector",
    "system:controller:horizontal-pod-autoscaler",
    "system:controller:job-controller",
    "system:controller:legacy-service-account-token-cleaner",
    "system:controller:namespace-controller",
    "system:controller:node-controller",
    "system:controller:persistent-volume-binder",
    "system:controller:pod-garbage-collector",
    "system:controller:pv-protection-controller",
    "system:controller:pvc-protection-controller",
    "system:controller:replicaset-controller",
    "system:controller:replication-controller",
    "system:controller:resourcequota-controller",
    "system:controller:root-ca-cert-publisher",
    "system:controller:route-controller",
    "system:controller:selinux-warning-controller",
    "system:controller:service-account-controller",
    "system:controller:service-cidrs-controller",
    "system:controller:service-controller",
    "system:controller:statefulset-controller",
    "system:controller:ttl-after-finished-controller",
    "system:controller:ttl-controller",
    "system:controller:validatingadmissionpolicy-status-controller",
    "system:discovery",
    "system:heapster",
    "system:kube-aggregator",
    "system:kube-controller-manager",
    "system:kube-dns",
    "system:kube-scheduler",
    "system:kubelet-api-admin",
    "system:monitoring",
    "system:node",
    "system:node-bootstrapper",
    "system:node-problem-detector",
    "system:node-proxier",
    "system:persistent-volume-provisioner",
    "system:public-info-viewer",
    "system:service-account-issuer-discovery",
    "system:volume-scheduler",
    "view",
];

const NAMESPACED_ROLES: &[&str] = &[
    "kube-public/system:controller:bootstrap-signer",
    "kube-system/extension-apiserver-authentication-reader",
    "kube-system/system::leader-locking-kube-controller-manager",
    "kube-system/system::leader-locking-kube-scheduler",
    "kube-system/system:controller:bootstrap-signer",
    "kube-system/system:controller:cloud-provider",
    "kube-system/system:controller:token-cleaner",
];

const NAMESPACED_BINDINGS: &[&str] = &[
    "kube-public/system:controller:bootstrap-signer",
    "kube-system/system::extension-apiserver-authentication-reader",
    "kube-system/system::leader-locking-kube-controller-manager",
    "kube-system/system::leader-locking-kube-scheduler",
    "kube-system/system:controller:bootstrap-signer",
    "kube-system/system:controller:cloud-provider",
    "kube-system/system:controller:token-cleaner",
];

#[tokio::test]
async fn every_bootstrap_object_of_1_33_is_there() -> Result<()> {
    let server = kube_support::on_test_storage(ApiServer::builder().in_memory())
        .await
        .start()
        .await?;
    let client = server.client();
    let mut roles = names(Api::<ClusterRole>::all(client.clone())).await?;
    roles.sort();
    ensure!(roles == CLUSTER_ROLES, "ClusterRoles: {roles:#?}");

    // Every bootstrap ClusterRole but the aggregated and certificate ones, the heapster,
    // aggregator, kubelet-api-admin, node-problem-detector, provisioner, auth-delegator and
    // node-bootstrapper roles is bound, the controllers' to their ServiceAccounts.
    let bindings = Api::<ClusterRoleBinding>::all(client.clone())
        .list(&ListParams::default())
        .await?
        .items;
    ensure!(
        bindings.len() == 47,
        "{} ClusterRoleBindings",
        bindings.len()
    );
    let subjects = |name: &str| -> Vec<(String, String, String)> {
        bindings
            .iter()
            .find(|b| b.metadata.name.as_deref() == Some(name))
            .and_then(|b| b.subjects.clone())
            .unwrap_or_default()
            .into_iter()
            .map(|s| (s.kind, s.name, s.namespace.unwrap_or_default()))
            .collect()
    };
    let group = |n: &str| ("Group".to_string(), n.to_string(), String::new());
    ensure!(
        subjects("system:service-account-issuer-discovery") == [group("system:serviceaccounts")]
    );
    ensure!(subjects("system:monitoring") == [group("system:monitoring")]);
    ensure!(subjects("system:node").is_empty());
    ensure!(
        subjects("system:controller:deployment-controller")
            == [(
                "ServiceAccount".to_string(),
                "deployment-controller".to_string(),
                "kube-system".to_string()
            )]
    );
    for b in &bindings {
        let meta = &b.metadata;
        ensure!(
            meta.labels
                .as_ref()
                .and_then(|l| l.get("kubernetes.io/bootstrapping"))
                == Some(&"rbac-defaults".to_string())
                && meta
                    .annotations
                    .as_ref()
                    .and_then(|a| a.get("rbac.authorization.kubernetes.io/autoupdate"))
                    == Some(&"true".to_string()),
            "{meta:?}"
        );
    }

    // As kubectl 1.33 lists them against a 1.33 cluster.
    if let Some(binary) = kubectl_support::kubectl_binary("1.33") {
        let kubectl = kubectl_support::Kubectl::new(binary, &server)?;
        for (resource, count) in [
            ("clusterroles", 66),
            ("clusterrolebindings", 47),
            ("roles", 7),
            ("rolebindings", 7),
        ] {
            let out = kubectl
                .ok(&["get", resource, "-A", "--no-headers", "-o", "name"])
                .await?;
            ensure!(out.lines().count() == count, "{resource}:\n{out}");
        }
    }

    let mut roles = names(Api::<Role>::all(client.clone())).await?;
    roles.sort();
    ensure!(roles == NAMESPACED_ROLES, "Roles: {roles:#?}");
    let mut role_bindings = names(Api::<RoleBinding>::all(client.clone())).await?;
    role_bindings.sort();
    ensure!(
        role_bindings == NAMESPACED_BINDINGS,
        "RoleBindings: {role_bindings:#?}"
    );
    server.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn service_accounts_read_the_issuer_discovery_documents() -> Result<()> {
    let server = kube_support::on_test_storage(ApiServer::builder().in_memory())
        .await
        .start()
        .await?;
    let sa: Api<ServiceAccount> = Api::namespaced(server.client(), "default");
    sa.create(
        &PostParams::default(),
        &serde_json::from_value(json!({"metadata": {"name": "reader"}}))?,
    )
    .await?;
    let token = sa
        .create_token_request(
            "reader",
            &PostParams::default(),
            &serde_json::from_value(json!({"spec": {"audiences": []}}))?,
        )
        .await?
        .status
        .context("status")?
        .token;
    let reader = with_token(&server, &token);
    // Through system:service-account-issuer-discovery, bound to system:serviceaccounts.
    ensure!(get_status(&reader, "/.well-known/openid-configuration").await? == 200);
    ensure!(get_status(&reader, "/openid/v1/jwks").await? == 200);
    // Nothing more: metrics are system:monitoring's.
    ensure!(get_status(&reader, "/metrics").await? == 403);
    let stranger = impersonating(&server, "stranger", &[]);
    ensure!(get_status(&stranger, "/openid/v1/jwks").await? == 403);
    server.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn monitoring_reads_metrics() -> Result<()> {
    let server = kube_support::on_test_storage(ApiServer::builder().in_memory())
        .await
        .start()
        .await?;
    let prometheus = impersonating(&server, "prometheus", &["system:monitoring"]);
    ensure!(get_status(&prometheus, "/metrics").await? == 200);
    ensure!(get_status(&prometheus, "/readyz/ping").await? != 403);
    let other = impersonating(&server, "prometheus", &[]);
    ensure!(get_status(&other, "/metrics").await? == 403);
    server.shutdown().await;
    Ok(())
}

fn pod_body(name: &str) -> Value {
    json!({
        "metadata": {"name": name},
        "spec": {"containers": [{"name": "c", "image": "busybox"}]},
    })
}

#[tokio::test]
async fn the_scheduler_binds_pods_and_reads_nodes() -> Result<()> {
    let server = kube_support::on_test_storage(ApiServer::builder().in_memory())
        .await
        .start()
        .await?;
    let admin = server.client();
    Api::<Pod>::namespaced(admin.clone(), "default")
        .create(
            &PostParams::default(),
            &serde_json::from_value(pod_body("p"))?,
        )
        .await?;
    let scheduler = impersonating(&server, "system:kube-scheduler", &[]);
    Api::<Node>::all(scheduler.clone())
        .list(&ListParams::default())
        .await
        .context("the scheduler lists nodes")?;
    let binding = json!({
        "apiVersion": "v1", "kind": "Binding",
        "metadata": {"name": "p"},
        "target": {"apiVersion": "v1", "kind": "Node", "name": "n1"},
    });
    Api::<Pod>::namespaced(scheduler.clone(), "default")
        .create_subresource::<Value, Value>("binding", "p", &PostParams::default(), &binding)
        .await
        .context("the scheduler binds a pod")?;
    let pod = Api::<Pod>::namespaced(admin, "default").get("p").await?;
    ensure!(pod.spec.and_then(|s| s.node_name).as_deref() == Some("n1"));
    // In kube-system, its RoleBindings let it read the authentication ConfigMap and its
    // leader election lock (missing here: 404, not 403), and no other ConfigMap.
    let system =
        Api::<k8s_openapi::api::core::v1::ConfigMap>::namespaced(scheduler.clone(), "kube-system");
    ensure!(code(system.get("extension-apiserver-authentication").await) == 404);
    ensure!(code(system.get("kube-scheduler").await) == 404);
    ensure!(code(system.get("kube-root-ca.crt").await) == 403);
    // It may not create pods.
    let refused = Api::<Pod>::namespaced(scheduler, "default")
        .create(
            &PostParams::default(),
            &serde_json::from_value(pod_body("q"))?,
        )
        .await;
    ensure!(code(refused) == 403);
    server.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn controllers_write_what_their_roles_allow() -> Result<()> {
    let server = kube_support::on_test_storage(ApiServer::builder().in_memory())
        .await
        .start()
        .await?;
    let admin = server.client();
    let rs: ReplicaSet = serde_json::from_value(json!({
        "metadata": {"name": "web"},
        "spec": {
            "replicas": 0,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "c", "image": "nginx"}]},
            },
        },
    }))?;
    Api::<ReplicaSet>::namespaced(admin, "default")
        .create(&PostParams::default(), &rs)
        .await?;
    let patch = Patch::Merge(json!({"metadata": {"labels": {"touched": "yes"}}}));
    // The controller manager's own identity lists and watches everything, and writes little.
    let kcm = impersonating(&server, "system:kube-controller-manager", &[]);
    Api::<ReplicaSet>::all(kcm.clone())
        .list(&ListParams::default())
        .await
        .context("kube-controller-manager lists replicasets")?;
    let refused = Api::<ReplicaSet>::namespaced(kcm, "default")
        .patch("web", &PatchParams::default(), &patch)
        .await;
    ensure!(code(refused) == 403);
    // The deployment controller's ServiceAccount updates them.
    let controller = impersonating(
        &server,
        "system:serviceaccount:kube-system:deployment-controller",
        &[
            "system:serviceaccounts",
            "system:serviceaccounts:kube-system",
        ],
    );
    let api = Api::<ReplicaSet>::namespaced(controller.clone(), "default");
    api.patch("web", &PatchParams::default(), &patch)
        .await
        .context("deployment-controller patches a replicaset")?;
    let mut current = api.get("web").await?;
    current.metadata.annotations = Some([("a".to_string(), "b".to_string())].into());
    api.replace("web", &PostParams::default(), &current)
        .await
        .context("deployment-controller updates a replicaset")?;
    // But not what another controller owns.
    let nodes = Api::<Node>::all(controller)
        .list(&ListParams::default())
        .await;
    ensure!(code(nodes) == 403);
    server.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn a_restart_reconciles_the_policy_but_not_opted_out_objects() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let durable = || ApiServer::builder().data_dir(dir.path());
    let first = durable().start().await?;
    let admin = first.client();
    let roles = Api::<ClusterRole>::all(admin.clone());
    let bindings = Api::<ClusterRoleBinding>::all(admin.clone());
    let pp = PatchParams::default();

    // The scheduler's role loses its node rule and gains one of the user's.
    let mut scheduler = roles.get("system:kube-scheduler").await?;
    let rules = scheduler.rules.as_mut().context("rules")?;
    let before = rules.len();
    rules.retain(|r| r.resources.as_deref() != Some(&["nodes".to_string()][..]));
    ensure!(rules.len() + 1 == before);
    rules.push(serde_json::from_value(
        json!({"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"]}),
    )?);
    roles
        .replace("system:kube-scheduler", &PostParams::default(), &scheduler)
        .await?;
    // The heapster role opts out and loses everything.
    roles
        .patch(
            "system:heapster",
            &pp,
            &Patch::Merge(json!({
                "metadata": {"annotations": {"rbac.authorization.kubernetes.io/autoupdate": "false"}},
                "rules": [],
            })),
        )
        .await?;
    // A binding loses a subject; another is bound to a different role.
    bindings
        .patch(
            "system:public-info-viewer",
            &pp,
            &Patch::Merge(json!({"subjects": [
                {"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "system:authenticated"}
            ]})),
        )
        .await?;
    bindings
        .delete("system:kube-dns", &DeleteParams::default())
        .await?;
    bindings
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({
                "metadata": {"name": "system:kube-dns"},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
                "subjects": [{"kind": "User", "name": "dns-admin", "apiGroup": "rbac.authorization.k8s.io"}],
            }))?,
        )
        .await?;
    // A removed role returns.
    roles
        .delete("system:node-proxier", &DeleteParams::default())
        .await?;
    let as_scheduler = impersonating(&first, "system:kube-scheduler", &[]);
    ensure!(
        code(
            Api::<Node>::all(as_scheduler)
                .list(&ListParams::default())
                .await
        ) == 403
    );
    first.shutdown().await;

    let second = durable().start().await?;
    let admin = second.client();
    let roles = Api::<ClusterRole>::all(admin.clone());
    let bindings = Api::<ClusterRoleBinding>::all(admin.clone());
    let as_scheduler = impersonating(&second, "system:kube-scheduler", &[]);
    Api::<Node>::all(as_scheduler)
        .list(&ListParams::default())
        .await
        .context("the scheduler's node rule is back")?;
    let scheduler = serde_json::to_value(roles.get("system:kube-scheduler").await?.rules)?;
    ensure!(
        scheduler.as_array().is_some_and(|r| r
            .contains(&json!({"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"]}))),
        "the user's rule stays: {scheduler}"
    );
    let heapster = roles.get("system:heapster").await?;
    ensure!(
        heapster.rules.unwrap_or_default().is_empty(),
        "an opted-out role is left alone"
    );
    let viewer = bindings.get("system:public-info-viewer").await?;
    let groups: Vec<String> = viewer
        .subjects
        .unwrap_or_default()
        .into_iter()
        .map(|s| s.name)
        .collect();
    ensure!(
        groups == ["system:authenticated", "system:unauthenticated"],
        "{groups:?}"
    );
    let dns = bindings.get("system:kube-dns").await?;
    ensure!(dns.role_ref.name == "system:kube-dns", "{:?}", dns.role_ref);
    let dns_subjects: Vec<String> = dns
        .subjects
        .unwrap_or_default()
        .into_iter()
        .map(|s| s.name)
        .collect();
    ensure!(
        dns_subjects == ["dns-admin", "kube-dns"],
        "{dns_subjects:?}"
    );
    roles
        .get("system:node-proxier")
        .await
        .context("a deleted role is created again")?;
    second.shutdown().await;
    Ok(())
}

/// Every bootstrap object's resourceVersion, by kind and name.
async fn versions(client: &Client) -> Result<Vec<(String, String)>> {
    fn of<K: kube::Resource>(kind: &str, items: Vec<K>) -> Vec<(String, String)> {
        items
            .iter()
            .map(|o| {
                let meta = o.meta();
                (
                    format!(
                        "{kind} {}/{}",
                        meta.namespace.clone().unwrap_or_default(),
                        meta.name.clone().unwrap_or_default()
                    ),
                    meta.resource_version.clone().unwrap_or_default(),
                )
            })
            .collect()
    }
    let lp = ListParams::default();
    let mut out = of(
        "ClusterRole",
        Api::<ClusterRole>::all(client.clone())
            .list(&lp)
            .await?
            .items,
    );
    out.extend(of(
        "ClusterRoleBinding",
        Api::<ClusterRoleBinding>::all(client.clone())
            .list(&lp)
            .await?
            .items,
    ));
    out.extend(of(
        "Role",
        Api::<Role>::all(client.clone()).list(&lp).await?.items,
    ));
    out.extend(of(
        "RoleBinding",
        Api::<RoleBinding>::all(client.clone())
            .list(&lp)
            .await?
            .items,
    ));
    out.sort();
    Ok(out)
}

#[tokio::test]
async fn a_restart_of_an_intact_policy_writes_nothing() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let durable = || ApiServer::builder().data_dir(dir.path());
    let first = durable().start().await?;
    // Once the aggregation controller has filled the user-facing roles.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    for name in ["admin", "edit", "view"] {
        loop {
            let role = Api::<ClusterRole>::all(first.client()).get(name).await?;
            if role.rules.is_some_and(|r| !r.is_empty()) {
                break;
            }
            ensure!(
                std::time::Instant::now() < deadline,
                "{name} never aggregated"
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }
    let before = versions(&first.client()).await?;
    first.shutdown().await;
    let second = durable().start().await?;
    // Give the aggregation controller time to (not) write.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let after = versions(&second.client()).await?;
    let changed: Vec<_> = before.iter().filter(|v| !after.contains(v)).collect();
    ensure!(changed.is_empty(), "rewritten at restart: {changed:?}");
    second.shutdown().await;
    Ok(())
}
