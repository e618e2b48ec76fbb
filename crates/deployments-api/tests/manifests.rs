//! The generated manifests: `deploy/deployments-api.yaml` is what `kubeforge manifests
//! --operator deployments-api` prints, and the Roles in it are exactly enough: applied to the
//! in-process API server (which holds impersonated users to RBAC), the service acting as its
//! ServiceAccount can do everything in its namespace and nothing elsewhere.

mod support;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Namespace, Service, ServiceAccount};
use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
use kube::api::{Api, PostParams};
use kubeforge_deployments_api::Settings;
use kubeforge_deployments_api::manifests::{NAME, objects, yaml};
use kubeforge_operators::manifests::{DEFAULT_IMAGE, NAMESPACE};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use support::{api_server, body, call, service};

#[test]
fn deploy_manifest_is_up_to_date() {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/deployments-api.yaml");
    let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        on_disk == yaml(DEFAULT_IMAGE, &["default".to_string()]),
        "{} is stale; regenerate it with\n  cargo run -- manifests --operator deployments-api > deploy/deployments-api.yaml",
        path.display()
    );
}

async fn create<K>(client: &kube::Client, object: &Value)
where
    K: kube::Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
        + serde::de::DeserializeOwned
        + serde::Serialize
        + Clone
        + std::fmt::Debug,
{
    let typed: K = serde_json::from_value(object.clone()).expect("a valid object");
    let namespace = object["metadata"]["namespace"].as_str().unwrap();
    Api::<K>::namespaced(client.clone(), namespace)
        .create(&PostParams::default(), &typed)
        .await
        .expect("created");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_roles_allow_exactly_the_managed_namespaces() {
    let server = api_server().await;
    let admin = server.client();
    for extra in ["team-a", "team-b"] {
        let ns: Namespace = serde_json::from_value(json!({"metadata": {"name": extra}})).unwrap();
        Api::<Namespace>::all(admin.clone())
            .create(&PostParams::default(), &ns)
            .await
            .unwrap();
    }
    let managed = ["default".to_string(), "team-a".to_string()];
    for object in objects(DEFAULT_IMAGE, &managed) {
        match object["kind"].as_str().unwrap() {
            "Namespace" => {
                let ns: Namespace = serde_json::from_value(object).unwrap();
                Api::<Namespace>::all(admin.clone())
                    .create(&PostParams::default(), &ns)
                    .await
                    .unwrap();
            }
            "ServiceAccount" => create::<ServiceAccount>(&admin, &object).await,
            "Role" => create::<Role>(&admin, &object).await,
            "RoleBinding" => create::<RoleBinding>(&admin, &object).await,
            "Deployment" => create::<Deployment>(&admin, &object).await,
            "Service" => create::<Service>(&admin, &object).await,
            other => panic!("unexpected kind {other}"),
        }
    }
    // No ClusterRole: nothing cluster-wide.
    assert!(
        objects(DEFAULT_IMAGE, &managed)
            .iter()
            .all(|o| !o["kind"].as_str().unwrap().starts_with("Cluster"))
    );

    // The service as its ServiceAccount, first without its own namespace check, so that the
    // API server's RBAC alone decides.
    let mut config = kube::Config::new(server.url().parse().unwrap());
    config.auth_info.impersonate = Some(format!("system:serviceaccount:{NAMESPACE}:{NAME}"));
    let as_service_account = kube::Client::try_from(config).unwrap();
    let api = service(as_service_account.clone(), Settings::default()).await;
    for namespace in &managed {
        let create = call(
            api.addr,
            "POST",
            "/deployment/create",
            &[],
            Some(&body(namespace, "web", "nginx", 1)),
        )
        .await;
        assert_eq!(create.status, 201, "{namespace}: {}", create.body);
        let update = call(
            api.addr,
            "PUT",
            "/deployment/update",
            &[],
            Some(&body(namespace, "web", "nginx:2", 2)),
        )
        .await;
        assert_eq!(update.status, 200, "{namespace}: {}", update.body);
        let list = call(
            api.addr,
            "GET",
            &format!("/deployments?namespace={namespace}"),
            &[],
            None,
        )
        .await;
        assert_eq!(list.status, 200, "{namespace}: {}", list.body);
        let get = call(
            api.addr,
            "GET",
            &format!("/deployments/{namespace}/web"),
            &[],
            None,
        )
        .await;
        assert_eq!(get.status, 200, "{namespace}: {}", get.body);
        let delete = call(
            api.addr,
            "DELETE",
            "/deployment/delete",
            &[],
            Some(&format!(r#"{{"namespace":"{namespace}","name":"web"}}"#)),
        )
        .await;
        assert_eq!(delete.status, 200, "{namespace}: {}", delete.body);
    }
    // Elsewhere the API server refuses, and the service says so.
    let refused = call(
        api.addr,
        "POST",
        "/deployment/create",
        &[],
        Some(&body("team-b", "web", "nginx", 1)),
    )
    .await;
    assert_eq!(refused.status, 403, "{}", refused.body);
    assert!(
        refused.json()["message"]
            .as_str()
            .unwrap()
            .contains("refused this service")
    );
    assert_eq!(
        call(api.addr, "GET", "/deployments", &[], None)
            .await
            .status,
        403,
        "no cluster-wide list"
    );

    // With `--namespaces` as the generated Deployment passes it, the list of every namespace
    // is the union of the managed ones, which the Roles allow.
    let restricted = service(
        as_service_account,
        Settings {
            namespaces: Some(managed.iter().cloned().collect::<BTreeSet<_>>()),
            ..Settings::default()
        },
    )
    .await;
    assert_eq!(
        call(restricted.addr, "GET", "/deployments", &[], None)
            .await
            .status,
        200
    );
    assert_eq!(
        call(
            restricted.addr,
            "POST",
            "/deployment/create",
            &[],
            Some(&body("team-b", "web", "nginx", 1))
        )
        .await
        .status,
        403
    );
    server.shutdown().await;
}
