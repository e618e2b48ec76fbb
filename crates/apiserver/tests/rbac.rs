//! RBAC for impersonated identities, through kube-rs clients whose config impersonates a user
//! (a kubeconfig's `as:`), and the access and identity reviews (`kubectl auth can-i`, `whoami`).

mod kube_support;

use k8s_openapi::api::authentication::v1::SelfSubjectReview;
use k8s_openapi::api::authorization::v1::{
    LocalSubjectAccessReview, ResourceAttributes, SelfSubjectAccessReview,
    SelfSubjectAccessReviewSpec, SelfSubjectRulesReview, SelfSubjectRulesReviewSpec,
    SubjectAccessReview,
};
use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, Role, RoleBinding};
use kube::api::{ListParams, PostParams};
use kube::{Api, Client};
use kube_support::{api_err, namespace, start};
use kubeforge_apiserver::ApiServer;
use serde_json::json;

const SA: &str = "system:serviceaccount:apps:reader";

fn impersonating(server: &ApiServer, user: &str, groups: &[&str]) -> Client {
    let mut config = kube::Config::new(server.url().parse().expect("url"));
    config.auth_info.impersonate = Some(user.into());
    if !groups.is_empty() {
        config.auth_info.impersonate_groups = Some(groups.iter().map(|g| g.to_string()).collect());
    }
    Client::try_from(config).expect("client")
}

fn config_map(name: &str) -> ConfigMap {
    object(json!({"metadata": {"name": name}, "data": {"a": "1"}}))
}

fn object<T: serde::de::DeserializeOwned>(v: serde_json::Value) -> T {
    serde_json::from_value(v).expect("object")
}

async fn can(client: &Client, verb: &str, resource: &str, namespace: &str) -> bool {
    let review = SelfSubjectAccessReview {
        spec: SelfSubjectAccessReviewSpec {
            resource_attributes: Some(ResourceAttributes {
                verb: Some(verb.into()),
                resource: Some(resource.into()),
                namespace: Some(namespace.into()),
                ..ResourceAttributes::default()
            }),
            ..SelfSubjectAccessReviewSpec::default()
        },
        ..SelfSubjectAccessReview::default()
    };
    Api::<SelfSubjectAccessReview>::all(client.clone())
        .create(&PostParams::default(), &review)
        .await
        .expect("review")
        .status
        .expect("status")
        .allowed
}

#[tokio::test]
async fn impersonated_users_are_held_to_rbac() {
    let server = start().await;
    let admin = server.client();
    namespace(&admin, "apps").await;
    namespace(&admin, "other").await;
    for ns in ["apps", "other"] {
        Api::<ConfigMap>::namespaced(admin.clone(), ns)
            .create(&PostParams::default(), &config_map("settings"))
            .await
            .expect("configmap");
    }
    // The default policy is there, as on a cluster.
    Api::<ClusterRole>::all(admin.clone())
        .get("cluster-admin")
        .await
        .expect("cluster-admin exists");

    let reader = impersonating(&server, SA, &[]);
    let in_apps: Api<ConfigMap> = Api::namespaced(reader.clone(), "apps");
    let s = api_err(in_apps.list(&ListParams::default()).await, 403, "Forbidden");
    assert_eq!(
        s.message,
        r#"configmaps is forbidden: User "system:serviceaccount:apps:reader" cannot list resource "configmaps" in API group "" in the namespace "apps""#
    );
    assert!(!can(&reader, "list", "configmaps", "apps").await);
    // Discovery needs no grant: system:discovery is bound to every authenticated user.
    reader.list_core_api_versions().await.expect("discovery");

    // A Role and a RoleBinding to the ServiceAccount open reads in that namespace only.
    Api::<Role>::namespaced(admin.clone(), "apps")
        .create(
            &PostParams::default(),
            &object(json!({"metadata": {"name": "cm-reader"},
                "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list", "watch"]}]})),
        )
        .await
        .expect("role");
    Api::<RoleBinding>::namespaced(admin.clone(), "apps")
        .create(
            &PostParams::default(),
            &object(json!({"metadata": {"name": "cm-reader"},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "cm-reader"},
                "subjects": [{"kind": "ServiceAccount", "name": "reader", "namespace": "apps"}]})),
        )
        .await
        .expect("binding");
    assert_eq!(
        in_apps
            .list(&ListParams::default())
            .await
            .expect("list")
            .items
            .len(),
        1
    );
    in_apps.get("settings").await.expect("get");
    assert!(can(&reader, "list", "configmaps", "apps").await);
    assert!(!can(&reader, "delete", "configmaps", "apps").await);
    let s = api_err(
        in_apps.delete("settings", &Default::default()).await,
        403,
        "Forbidden",
    );
    assert_eq!(
        s.message,
        r#"configmaps "settings" is forbidden: User "system:serviceaccount:apps:reader" cannot delete resource "configmaps" in API group "" in the namespace "apps""#
    );
    api_err(
        in_apps
            .create(&PostParams::default(), &config_map("new"))
            .await,
        403,
        "Forbidden",
    );
    // Authorization comes before routing: a resource that does not exist is refused too.
    let missing = reader
        .request_text(
            axum::http::Request::get("/apis/example.com/v1/namespaces/apps/nothings")
                .body(Vec::new())
                .expect("request"),
        )
        .await;
    match missing {
        Err(kube::Error::Api(s)) => assert_eq!(s.code, 403, "{s:?}"),
        other => panic!("expected 403, got {other:?}"),
    }
    let elsewhere: Api<ConfigMap> = Api::namespaced(reader.clone(), "other");
    api_err(elsewhere.get("settings").await, 403, "Forbidden");
    api_err(
        Api::<ConfigMap>::all(reader.clone())
            .list(&ListParams::default())
            .await,
        403,
        "Forbidden",
    );

    // A ClusterRoleBinding to an aggregated ClusterRole reaches every namespace.
    Api::<ClusterRole>::all(admin.clone())
        .create(
            &PostParams::default(),
            &object(json!({"metadata": {"name": "cm-writer-part", "labels": {"example.com/aggregate-to-writer": "true"}},
                "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["*"]}]})),
        )
        .await
        .expect("part");
    Api::<ClusterRole>::all(admin.clone())
        .create(
            &PostParams::default(),
            &object(json!({"metadata": {"name": "writer"},
                "aggregationRule": {"clusterRoleSelectors": [{"matchLabels": {"example.com/aggregate-to-writer": "true"}}]},
                "rules": []})),
        )
        .await
        .expect("aggregated");
    Api::<ClusterRoleBinding>::all(admin.clone())
        .create(
            &PostParams::default(),
            &object(json!({"metadata": {"name": "writers"},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "writer"},
                "subjects": [{"kind": "Group", "name": "writers"}]})),
        )
        .await
        .expect("cluster binding");
    let writer = impersonating(&server, "alice", &["writers"]);
    Api::<ConfigMap>::namespaced(writer.clone(), "other")
        .delete("settings", &Default::default())
        .await
        .expect("the aggregated role allows deletes");
    assert_eq!(
        Api::<ConfigMap>::all(writer.clone())
            .list(&ListParams::default())
            .await
            .expect("list everywhere")
            .items
            .len(),
        1
    );
    // The impersonated group system:masters is privileged, as upstream.
    let master = impersonating(&server, "root", &["system:masters"]);
    Api::<ClusterRole>::all(master)
        .list(&ListParams::default())
        .await
        .expect("masters may do everything");
}

#[tokio::test]
async fn reviews_answer_who_may_do_what() {
    let server = start().await;
    let admin = server.client();
    namespace(&admin, "apps").await;
    Api::<RoleBinding>::namespaced(admin.clone(), "apps")
        .create(
            &PostParams::default(),
            &object(json!({"metadata": {"name": "view"},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cm-view"},
                "subjects": [{"kind": "User", "name": "bob"}]})),
        )
        .await
        .expect("binding");
    Api::<ClusterRole>::all(admin.clone())
        .create(
            &PostParams::default(),
            &object(json!({"metadata": {"name": "cm-view"},
                "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"], "resourceNames": ["one"]}]})),
        )
        .await
        .expect("role");

    // SubjectAccessReview: the administrator asks about bob.
    let sar = |name: &str| -> SubjectAccessReview {
        object(json!({"spec": {"user": "bob", "resourceAttributes":
            {"verb": "get", "resource": "configmaps", "namespace": "apps", "name": name}}}))
    };
    let sars = Api::<SubjectAccessReview>::all(admin.clone());
    let yes = sars
        .create(&PostParams::default(), &sar("one"))
        .await
        .expect("sar");
    let status = yes.status.expect("status");
    assert!(status.allowed);
    assert_eq!(
        status.reason.as_deref(),
        // Upstream's describer: the binding as name/namespace, the subject with its kind.
        Some(r#"RBAC: allowed by RoleBinding "view/apps" of ClusterRole "cm-view" to User "bob""#)
    );
    let no = sars
        .create(&PostParams::default(), &sar("two"))
        .await
        .expect("sar");
    assert!(!no.status.expect("status").allowed);
    let bad: SubjectAccessReview = object(json!({"spec": {"resourceAttributes": {"verb": "get"}}}));
    let s = api_err(
        sars.create(&PostParams::default(), &bad).await,
        422,
        "Invalid",
    );
    assert!(
        s.message.ends_with(
            "spec.user: Invalid value: \"\": at least one of user or group must be specified"
        ),
        "{}",
        s.message
    );
    let neither: SelfSubjectAccessReview = object(json!({"spec": {}}));
    api_err(
        Api::<SelfSubjectAccessReview>::all(admin.clone())
            .create(&PostParams::default(), &neither)
            .await,
        422,
        "Invalid",
    );

    // LocalSubjectAccessReview: the namespace comes from the path.
    let local: LocalSubjectAccessReview = object(json!({"metadata": {"namespace": "apps"},
        "spec": {"user": "bob", "resourceAttributes": {"verb": "get", "resource": "configmaps", "name": "one"}}}));
    let answer = Api::<LocalSubjectAccessReview>::namespaced(admin.clone(), "apps")
        .create(&PostParams::default(), &local)
        .await
        .expect("local review");
    assert!(answer.status.expect("status").allowed);

    // What bob may do, and who bob is.
    let bob = impersonating(&server, "bob", &[]);
    let rules = Api::<SelfSubjectRulesReview>::all(bob.clone())
        .create(
            &PostParams::default(),
            &SelfSubjectRulesReview {
                spec: SelfSubjectRulesReviewSpec {
                    namespace: Some("apps".into()),
                },
                ..SelfSubjectRulesReview::default()
            },
        )
        .await
        .expect("rules review")
        .status
        .expect("status");
    assert!(
        rules.resource_rules.iter().any(|r| r.resources.as_deref()
            == Some(&["configmaps".to_string()][..])
            && r.resource_names.as_deref() == Some(&["one".to_string()][..])),
        "{rules:?}"
    );
    assert!(rules.non_resource_rules.iter().any(|r| {
        r.non_resource_urls
            .as_deref()
            .is_some_and(|u| u.contains(&"/version".to_string()))
    }));
    let me = Api::<SelfSubjectReview>::all(bob)
        .create(&PostParams::default(), &SelfSubjectReview::default())
        .await
        .expect("whoami")
        .status
        .and_then(|s| s.user_info)
        .expect("user info");
    assert_eq!(me.username.as_deref(), Some("bob"));
    assert_eq!(me.groups, Some(vec!["system:authenticated".to_string()]));

    // Reviews are create-only and never stored.
    let raw = admin
        .request_text(
            axum::http::Request::get("/apis/authorization.k8s.io/v1/selfsubjectaccessreviews")
                .body(Vec::new())
                .expect("request"),
        )
        .await;
    match raw {
        Err(kube::Error::Api(s)) => assert_eq!(s.code, 405),
        other => panic!("expected 405, got {other:?}"),
    }
}

#[tokio::test]
async fn impersonating_groups_without_a_user_is_a_bad_request() {
    let server = start().await;
    let mut config = kube::Config::new(server.url().parse().expect("url"));
    config.auth_info.impersonate_groups = Some(vec!["devs".into()]);
    let client = Client::try_from(config).expect("client");
    let err = Api::<ConfigMap>::namespaced(client, "default")
        .list(&ListParams::default())
        .await;
    api_err(err, 400, "BadRequest");
}
