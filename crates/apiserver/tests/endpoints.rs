//! The endpoints controllers: a Service's Endpoints and EndpointSlice follow the pods it
//! selects (ready ones as addresses, with named target ports resolved), are written only when
//! they change, and go with the Service.

mod kube_support;

use kube_support::{eventually, raw};
use kubeforge_apiserver::ApiServer;
use serde_json::{Value, json};

const NS: &str = "/api/v1/namespaces/default";

fn addresses(ep: &Value) -> Vec<String> {
    ep["subsets"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|s| s["addresses"].as_array().into_iter().flatten())
        .filter_map(|a| a["ip"].as_str().map(str::to_string))
        .collect()
}

#[tokio::test]
async fn services_get_endpoints_and_slices_of_their_ready_pods() {
    let server =
        kube_support::on_test_storage(ApiServer::builder().in_memory().simulate_workloads(true))
            .await
            .start()
            .await
            .expect("server starts");
    let client = server.client();
    let deployment = json!({"metadata": {"name": "web"}, "spec": {"replicas": 2,
        "selector": {"matchLabels": {"app": "web"}},
        "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [
            {"name": "nginx", "image": "nginx", "ports": [{"name": "http", "containerPort": 8080}]}]}}}});
    let (code, body) = raw(
        &client,
        "POST",
        "/apis/apps/v1/namespaces/default/deployments",
        None,
        Some(&deployment),
    )
    .await;
    assert_eq!(code, 201, "{body}");
    let service = json!({"metadata": {"name": "web", "labels": {"tier": "front"}}, "spec": {
        "selector": {"app": "web"}, "ports": [{"name": "http", "port": 80, "targetPort": "http"}]}});
    let (code, body) = raw(
        &client,
        "POST",
        &format!("{NS}/services"),
        None,
        Some(&service),
    )
    .await;
    assert_eq!(code, 201, "{body}");

    let ep = eventually("two ready addresses", || async {
        let (code, ep) = raw(&client, "GET", &format!("{NS}/endpoints/web"), None, None).await;
        (code == 200 && addresses(&ep).len() == 2).then_some(ep)
    })
    .await;
    assert_eq!(ep["metadata"]["labels"], json!({"tier": "front"}));
    assert_eq!(
        ep["subsets"][0]["ports"],
        json!([{"name": "http", "port": 8080, "protocol": "TCP"}])
    );
    assert_eq!(ep["subsets"][0]["addresses"][0]["targetRef"]["kind"], "Pod");

    let slices_uri = "/apis/discovery.k8s.io/v1/namespaces/default/endpointslices?labelSelector=kubernetes.io%2Fservice-name%3Dweb";
    let slice = eventually("a slice with two ready endpoints", || async {
        let (_, list) = raw(&client, "GET", slices_uri, None, None).await;
        let slice = list["items"].as_array()?.first()?.clone();
        let ready = slice["endpoints"]
            .as_array()?
            .iter()
            .filter(|e| e["conditions"]["ready"] == json!(true))
            .count();
        (ready == 2).then_some(slice)
    })
    .await;
    assert_eq!(slice["addressType"], "IPv4");
    assert_eq!(
        slice["ports"],
        json!([{"name": "http", "port": 8080, "protocol": "TCP"}])
    );
    assert_eq!(slice["metadata"]["ownerReferences"][0]["kind"], "Service");
    assert_eq!(
        slice["metadata"]["labels"]["endpointslice.kubernetes.io/managed-by"],
        "endpointslice-controller.k8s.io"
    );

    // Nothing changes: nothing is written.
    let rv = ep["metadata"]["resourceVersion"].clone();
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let (_, again) = raw(&client, "GET", &format!("{NS}/endpoints/web"), None, None).await;
    assert_eq!(again["metadata"]["resourceVersion"], rv);

    // Scaling to one pod leaves one address.
    let scale = json!({"apiVersion": "autoscaling/v1", "kind": "Scale", "metadata": {"name": "web", "namespace": "default"}, "spec": {"replicas": 1}});
    let (code, body) = raw(
        &client,
        "PUT",
        "/apis/apps/v1/namespaces/default/deployments/web/scale",
        None,
        Some(&scale),
    )
    .await;
    assert_eq!(code, 200, "{body}");
    eventually("one address", || async {
        let (_, ep) = raw(&client, "GET", &format!("{NS}/endpoints/web"), None, None).await;
        (addresses(&ep).len() == 1).then_some(())
    })
    .await;

    // The Service goes: its Endpoints and slices go too.
    let (code, _) = raw(&client, "DELETE", &format!("{NS}/services/web"), None, None).await;
    assert_eq!(code, 200);
    eventually("endpoints and slices gone", || async {
        let (code, _) = raw(&client, "GET", &format!("{NS}/endpoints/web"), None, None).await;
        let (_, list) = raw(&client, "GET", slices_uri, None, None).await;
        (code == 404 && list["items"].as_array().is_some_and(Vec::is_empty)).then_some(())
    })
    .await;
}

#[tokio::test]
async fn services_without_a_selector_keep_their_own_endpoints() {
    let server = kube_support::start().await;
    let client = server.client();
    let service = json!({"metadata": {"name": "external"}, "spec": {"ports": [{"port": 5432}]}});
    let (code, _) = raw(
        &client,
        "POST",
        &format!("{NS}/services"),
        None,
        Some(&service),
    )
    .await;
    assert_eq!(code, 201);
    let endpoints = json!({"metadata": {"name": "external"}, "subsets": [{"addresses": [{"ip": "192.0.2.10"}], "ports": [{"port": 5432}]}]});
    let (code, _) = raw(
        &client,
        "POST",
        &format!("{NS}/endpoints"),
        None,
        Some(&endpoints),
    )
    .await;
    assert_eq!(code, 201);
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let (_, ep) = raw(
        &client,
        "GET",
        &format!("{NS}/endpoints/external"),
        None,
        None,
    )
    .await;
    assert_eq!(addresses(&ep), ["192.0.2.10"]);
}
