//! The Deployment REST service against the in-process API server (with simulated workloads, so
//! Deployments get ready Pods): every route, every error code, the conflict retry under other
//! writers, the namespace restriction, the token check, and kubectl watching a rollout.

mod support;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, Patch, PatchParams, PostParams};
use kubeforge_deployments_api::Settings;
use serde_json::json;
use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use support::{api_server, body, call, service, until};

const JSON: (&str, &str) = ("Accept", "application/json");

async fn namespace(client: &kube::Client, name: &str) {
    let ns: Namespace = serde_json::from_value(json!({"metadata": {"name": name}})).unwrap();
    Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &ns)
        .await
        .expect("namespace created");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_works_as_documented() {
    let server = api_server().await;
    let api = service(server.client(), Settings::default()).await;
    let addr = api.addr;

    // Create: the talk's plain `Success!` and 201.
    let created = call(
        addr,
        "POST",
        "/deployment/create",
        &[],
        Some(
            &json!({
                "namespace": "default", "name": "web", "image": "nginx:1.27", "replicas": 2,
                "labels": {"app": "web", "tier": "front"}, "ports": [80],
            })
            .to_string(),
        ),
    )
    .await;
    assert_eq!((created.status, created.body.as_str()), (201, "Success!\n"));
    assert!(
        created
            .header("content-type")
            .unwrap()
            .starts_with("text/plain")
    );

    // The Deployment is what was asked for, and it becomes ready.
    let stored = Api::<Deployment>::namespaced(server.client(), "default")
        .get("web")
        .await
        .unwrap();
    let spec = stored.spec.as_ref().unwrap();
    assert_eq!(spec.replicas, Some(2));
    assert_eq!(
        spec.selector.match_labels.as_ref().unwrap()["tier"],
        "front"
    );
    let container = &spec.template.spec.as_ref().unwrap().containers[0];
    assert_eq!(container.image.as_deref(), Some("nginx:1.27"));
    assert_eq!(container.ports.as_ref().unwrap()[0].container_port, 80);
    until("web has 2 ready and available replicas", || async {
        let one = call(addr, "GET", "/deployments/default/web", &[], None).await;
        assert_eq!(one.status, 200, "{}", one.body);
        let status = &one.json()["status"];
        status["readyReplicas"] == 2 && status["availableReplicas"] == 2
    })
    .await;
    let one = call(addr, "GET", "/deployments/default/web", &[], None)
        .await
        .json();
    assert_eq!(one["image"], "nginx:1.27");
    assert_eq!(one["replicas"], 2);
    assert_eq!(one["ports"], json!([80]));
    assert_eq!(one["labels"], json!({"app": "web", "tier": "front"}));

    // A JSON client gets the Deployment back.
    namespace(&server.client(), "team-b").await;
    let created = call(
        addr,
        "POST",
        "/deployment/create",
        &[JSON],
        Some(&body("team-b", "api", "busybox", 1)),
    )
    .await;
    assert_eq!(created.status, 201);
    assert_eq!(created.header("content-type"), Some("application/json"));
    assert_eq!(created.json()["name"], "api");
    assert_eq!(created.json()["labels"], json!({"app": "api"}));

    // Lists: all namespaces, one namespace.
    let all = call(addr, "GET", "/deployments", &[], None).await.json();
    let names: Vec<_> = all["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            format!(
                "{}/{}",
                d["namespace"].as_str().unwrap(),
                d["name"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(names, ["default/web", "team-b/api"]);
    let team_b = call(addr, "GET", "/deployments?namespace=team-b", &[], None)
        .await
        .json();
    assert_eq!(team_b["items"].as_array().unwrap().len(), 1);
    assert_eq!(team_b["items"][0]["name"], "api");

    // Update: image and replicas; labels and ports left alone when not given.
    let updated = call(
        addr,
        "PUT",
        "/deployment/update",
        &[JSON],
        Some(&body("default", "web", "nginx:1.28", 3)),
    )
    .await;
    assert_eq!(updated.status, 200, "{}", updated.body);
    let updated = updated.json();
    assert_eq!(
        (updated["image"].as_str(), updated["replicas"].as_i64()),
        (Some("nginx:1.28"), Some(3))
    );
    assert_eq!(updated["ports"], json!([80]));
    assert_eq!(updated["labels"], json!({"app": "web", "tier": "front"}));
    let plain = call(
        addr,
        "PUT",
        "/deployment/update",
        &[],
        Some(
            &json!({
                "namespace": "default", "name": "web", "image": "nginx:1.28", "replicas": 1,
                "labels": {"app": "web", "release": "canary"}, "ports": [],
            })
            .to_string(),
        ),
    )
    .await;
    assert_eq!((plain.status, plain.body.as_str()), (200, "Success!\n"));
    let one = call(addr, "GET", "/deployments/default/web", &[], None)
        .await
        .json();
    assert_eq!(one["ports"], json!([]));
    assert_eq!(one["labels"], json!({"app": "web", "release": "canary"}));
    until("web scales down to 1", || async {
        let status = call(addr, "GET", "/deployments/default/web", &[], None)
            .await
            .json()["status"]
            .clone();
        status["availableReplicas"] == 1 && status["replicas"] == 1
    })
    .await;

    // Delete.
    let deleted = call(
        addr,
        "DELETE",
        "/deployment/delete",
        &[],
        Some(r#"{"namespace":"default","name":"web"}"#),
    )
    .await;
    assert_eq!((deleted.status, deleted.body.as_str()), (200, "Success!\n"));
    let deleted = call(
        addr,
        "DELETE",
        "/deployment/delete",
        &[JSON],
        Some(r#"{"namespace":"team-b","name":"api"}"#),
    )
    .await;
    assert_eq!(deleted.status, 200);
    assert_eq!(
        deleted.json(),
        json!({"namespace": "team-b", "name": "api", "deleted": true})
    );
    let gone = call(addr, "GET", "/deployments/default/web", &[], None).await;
    assert_eq!(gone.status, 404);
    assert_eq!(
        call(addr, "GET", "/deployments", &[], None).await.json()["items"],
        json!([])
    );

    // Health and the description.
    assert_eq!(call(addr, "GET", "/healthz", &[], None).await.body, "ok\n");
    let doc = call(addr, "GET", "/openapi.json", &[], None).await.json();
    assert_eq!(doc["openapi"], "3.0.3");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_error_has_its_code_and_a_json_body() {
    let server = api_server().await;
    let api = service(server.client(), Settings::default()).await;
    let addr = api.addr;

    // 400: the field at fault and why.
    for (bad, field) in [
        ("not json", ""),
        ("[1]", ""),
        (
            r#"{"namespace":"default","image":"x","replicas":1}"#,
            "name",
        ),
        (
            r#"{"namespace":"default","name":"Web","image":"x","replicas":1}"#,
            "name",
        ),
        (
            r#"{"namespace":"default","name":"w","image":"x","replicas":-2}"#,
            "replicas",
        ),
        (
            r#"{"namespace":"default","name":"w","image":"x","replicas":1,"ports":[70000]}"#,
            "ports[0]",
        ),
        (
            r#"{"namespace":"default","name":"w","image":"x","replicas":1,"colour":"red"}"#,
            "colour",
        ),
    ] {
        let answer = call(addr, "POST", "/deployment/create", &[], Some(bad)).await;
        assert_eq!(answer.status, 400, "{bad}: {}", answer.body);
        let error = answer.json();
        assert_eq!(error["code"], 400);
        assert_eq!(error["reason"], "BadRequest");
        assert_eq!(error["field"], field, "{bad}: {error}");
        assert!(!error["message"].as_str().unwrap().is_empty());
    }
    let answer = call(
        addr,
        "DELETE",
        "/deployment/delete",
        &[],
        Some(&body("default", "w", "x", 1)),
    )
    .await;
    assert_eq!(
        (answer.status, answer.json()["field"].as_str()),
        (400, Some("image"))
    );
    let answer = call(addr, "GET", "/deployments?namespace=Not_A_Name", &[], None).await;
    assert_eq!(
        (answer.status, answer.json()["field"].as_str()),
        (400, Some("namespace"))
    );

    // 404: no such Deployment, no such namespace, no such route.
    for (method, path, payload) in [
        (
            "PUT",
            "/deployment/update",
            Some(body("default", "missing", "x", 1)),
        ),
        (
            "DELETE",
            "/deployment/delete",
            Some(r#"{"namespace":"default","name":"missing"}"#.to_string()),
        ),
        ("GET", "/deployments/default/missing", None),
        (
            "POST",
            "/deployment/create",
            Some(body("no-such-namespace", "w", "x", 1)),
        ),
        ("GET", "/nowhere", None),
    ] {
        let answer = call(addr, method, path, &[], payload.as_deref()).await;
        assert_eq!(answer.status, 404, "{method} {path}: {}", answer.body);
        assert_eq!(answer.json()["reason"], "NotFound");
    }

    // 409: it exists.
    assert_eq!(
        call(
            addr,
            "POST",
            "/deployment/create",
            &[],
            Some(&body("default", "w", "x", 1))
        )
        .await
        .status,
        201
    );
    let again = call(
        addr,
        "POST",
        "/deployment/create",
        &[],
        Some(&body("default", "w", "x", 1)),
    )
    .await;
    assert_eq!(
        (again.status, again.json()["reason"].as_str()),
        (409, Some("AlreadyExists"))
    );

    // 422: the API server's own verdict, passed on.
    let invalid = call(
        addr,
        "POST",
        "/deployment/create",
        &[],
        Some(
            &json!({
                "namespace": "default", "name": "bad-labels", "image": "x", "replicas": 1,
                "labels": {"not a label key!": "v"},
            })
            .to_string(),
        ),
    )
    .await;
    assert_eq!(invalid.status, 422, "{}", invalid.body);
    let message = invalid.json()["message"].as_str().unwrap().to_string();
    assert!(message.contains("not a label key!"), "{message}");
    assert!(
        message.contains("Deployment.apps \"bad-labels\" is invalid"),
        "{message}"
    );
    // An update whose labels contradict the (immutable) selector: the API server says why.
    let contradicting = call(addr, "PUT", "/deployment/update", &[], Some(&json!({
        "namespace": "default", "name": "w", "image": "x", "replicas": 1, "labels": {"app": "other"},
    }).to_string())).await;
    assert_eq!(contradicting.status, 422, "{}", contradicting.body);
    assert!(
        contradicting.json()["message"]
            .as_str()
            .unwrap()
            .contains("selector"),
        "{}",
        contradicting.body
    );

    // 503: the API server is gone.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let config = kube::Config::new(format!("http://{closed}").parse().unwrap());
    let unreachable = service(kube::Client::try_from(config).unwrap(), Settings::default()).await;
    for (method, path, payload) in [
        (
            "POST",
            "/deployment/create",
            Some(body("default", "w", "x", 1)),
        ),
        (
            "PUT",
            "/deployment/update",
            Some(body("default", "w", "x", 1)),
        ),
        (
            "DELETE",
            "/deployment/delete",
            Some(r#"{"namespace":"default","name":"w"}"#.to_string()),
        ),
        ("GET", "/deployments", None),
        ("GET", "/deployments/default/w", None),
    ] {
        let answer = call(unreachable.addr, method, path, &[], payload.as_deref()).await;
        assert_eq!(answer.status, 503, "{method} {path}: {}", answer.body);
        assert_eq!(answer.json()["reason"], "ServiceUnavailable");
        assert!(
            answer.json()["message"]
                .as_str()
                .unwrap()
                .contains("unreachable")
        );
    }
    server.shutdown().await;
}

/// A client for `server` that, after each of the first `interfere` reads of Deployment `name`,
/// lets another writer change it before the read's answer arrives: the service's write that
/// follows carries a stale resourceVersion and must conflict.
fn interfering_client(
    server: &kubeforge_apiserver::ApiServer,
    name: &'static str,
    interfere: usize,
) -> (kube::Client, Arc<AtomicUsize>) {
    let reads = Arc::new(AtomicUsize::new(0));
    let writer = server.client();
    let counted = reads.clone();
    let layer = tower::ServiceBuilder::new()
        .map_request(move |req: http::Request<kube::client::Body>| {
            let is_read = req.method() == http::Method::GET
                && req.uri().path().ends_with(&format!("/deployments/{name}"));
            (req, is_read)
        })
        .layer_fn(move |inner| Interfere {
            inner,
            writer: writer.clone(),
            reads: counted.clone(),
            interfere,
            name,
        });
    let config = kube::Config::new(server.url().parse().unwrap());
    let client = kube::client::ClientBuilder::try_from(config)
        .unwrap()
        .with_layer(&layer)
        .build();
    (client, reads)
}

/// The service of [`interfering_client`].
#[derive(Clone)]
struct Interfere<S> {
    inner: S,
    writer: kube::Client,
    reads: Arc<AtomicUsize>,
    interfere: usize,
    name: &'static str,
}

impl<S> tower::Service<(http::Request<kube::client::Body>, bool)> for Interfere<S>
where
    S: tower::Service<http::Request<kube::client::Body>> + Send + 'static,
    S::Future: Send,
    S::Response: Send,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future =
        std::pin::Pin<Box<dyn std::future::Future<Output = Result<S::Response, S::Error>> + Send>>;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, (req, is_read): (http::Request<kube::client::Body>, bool)) -> Self::Future {
        let answer = self.inner.call(req);
        let writer = self.writer.clone();
        let reads = self.reads.clone();
        let (interfere, name) = (self.interfere, self.name);
        Box::pin(async move {
            let response = answer.await?;
            if is_read && reads.fetch_add(1, Ordering::SeqCst) < interfere {
                let n = reads.load(Ordering::SeqCst);
                Api::<Deployment>::namespaced(writer, "default")
                    .patch(
                        name,
                        &PatchParams::default(),
                        &Patch::Merge(json!({
                            "metadata": {"annotations": {"other-writer": n.to_string()}},
                        })),
                    )
                    .await
                    .expect("the other writer's patch");
            }
            Ok(response)
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn updates_retry_conflicts_and_give_up_after_the_bound() {
    let server = api_server().await;
    let plain = service(server.client(), Settings::default()).await;
    assert_eq!(
        call(
            plain.addr,
            "POST",
            "/deployment/create",
            &[],
            Some(&body("default", "web", "nginx:1", 1))
        )
        .await
        .status,
        201
    );

    // The simulated Deployment controller writes `web` while it rolls out; a write of its
    // between the service's read and its PUT would be a third race this test does not stage.
    let deployments = Api::<Deployment>::namespaced(server.client(), "default");
    until("web has rolled out", || async {
        let web = deployments.get("web").await.unwrap();
        let status = web.status.unwrap_or_default();
        status.observed_generation == web.metadata.generation
            && status.available_replicas == Some(1)
            && status.updated_replicas == Some(1)
            && status.conditions.unwrap_or_default().iter().any(|c| {
                c.type_ == "Progressing" && c.reason.as_deref() == Some("NewReplicaSetAvailable")
            })
    })
    .await;

    // Two lost races, then a win: the update lands, and the other writer's change survives it.
    let (client, reads) = interfering_client(&server, "web", 2);
    let retrying = service(client, Settings::default()).await;
    let answer = call(
        retrying.addr,
        "PUT",
        "/deployment/update",
        &[],
        Some(&body("default", "web", "nginx:2", 4)),
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(
        reads.load(Ordering::SeqCst),
        3,
        "read three times: two conflicts, one success"
    );
    let stored = Api::<Deployment>::namespaced(server.client(), "default")
        .get("web")
        .await
        .unwrap();
    assert_eq!(stored.spec.as_ref().unwrap().replicas, Some(4));
    assert_eq!(stored.metadata.annotations.unwrap()["other-writer"], "2");

    // Always losing: 409 after 1 + conflict_retries attempts.
    let (client, reads) = interfering_client(&server, "web", usize::MAX);
    let bounded = service(
        client,
        Settings {
            conflict_retries: 2,
            ..Settings::default()
        },
    )
    .await;
    let answer = call(
        bounded.addr,
        "PUT",
        "/deployment/update",
        &[],
        Some(&body("default", "web", "nginx:3", 5)),
    )
    .await;
    assert_eq!(answer.status, 409, "{}", answer.body);
    assert_eq!(answer.json()["reason"], "Conflict");
    assert!(
        answer.json()["message"]
            .as_str()
            .unwrap()
            .contains("3 attempts"),
        "{}",
        answer.body
    );
    assert_eq!(reads.load(Ordering::SeqCst), 3);
    let stored = Api::<Deployment>::namespaced(server.client(), "default")
        .get("web")
        .await
        .unwrap();
    assert_eq!(
        stored.spec.unwrap().replicas,
        Some(4),
        "the lost update changed nothing"
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_updates_all_land_one_after_another() {
    let server = api_server().await;
    let api = service(
        server.client(),
        Settings {
            conflict_retries: 20,
            ..Settings::default()
        },
    )
    .await;
    let addr = api.addr;
    assert_eq!(
        call(
            addr,
            "POST",
            "/deployment/create",
            &[],
            Some(&body("default", "web", "nginx:0", 1))
        )
        .await
        .status,
        201
    );
    // Eight clients, each adding its own label: a lost update would lose a label.
    let writers: Vec<_> = (0..8)
        .map(|i| {
            tokio::spawn(async move {
                let mut labels = serde_json::Map::new();
                labels.insert("app".into(), json!("web"));
                for j in 0..=i {
                    labels.insert(format!("w{j}"), json!("x"));
                }
                call(addr, "PUT", "/deployment/update", &[], Some(&json!({
                    "namespace": "default", "name": "web", "image": format!("nginx:{i}"), "replicas": 1,
                    "labels": labels,
                }).to_string())).await
            })
        })
        .collect();
    for writer in writers {
        let answer = writer.await.unwrap();
        assert_eq!(answer.status, 200, "{}", answer.body);
    }
    let stored = Api::<Deployment>::namespaced(server.client(), "default")
        .get("web")
        .await
        .unwrap();
    // Eight successful updates after the create: the generation counts every one of them.
    assert_eq!(stored.metadata.generation, Some(9));
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_outside_the_namespaces_are_forbidden() {
    let server = api_server().await;
    namespace(&server.client(), "team-a").await;
    let settings = Settings {
        namespaces: Some(BTreeSet::from(["team-a".to_string()])),
        ..Settings::default()
    };
    let api = service(server.client(), settings).await;
    let addr = api.addr;
    let open = service(server.client(), Settings::default()).await;
    assert_eq!(
        call(
            open.addr,
            "POST",
            "/deployment/create",
            &[],
            Some(&body("default", "other", "x", 1))
        )
        .await
        .status,
        201
    );

    assert_eq!(
        call(
            addr,
            "POST",
            "/deployment/create",
            &[],
            Some(&body("team-a", "web", "x", 1))
        )
        .await
        .status,
        201
    );
    for (method, path, payload) in [
        (
            "POST",
            "/deployment/create",
            Some(body("default", "web", "x", 1)),
        ),
        (
            "PUT",
            "/deployment/update",
            Some(body("default", "other", "x", 2)),
        ),
        (
            "DELETE",
            "/deployment/delete",
            Some(r#"{"namespace":"default","name":"other"}"#.to_string()),
        ),
        ("GET", "/deployments/default/other", None),
        ("GET", "/deployments?namespace=default", None),
    ] {
        let answer = call(addr, method, path, &[], payload.as_deref()).await;
        assert_eq!(answer.status, 403, "{method} {path}: {}", answer.body);
        assert_eq!(answer.json()["reason"], "Forbidden");
    }
    // The list without a namespace shows only the allowed ones.
    let all = call(addr, "GET", "/deployments", &[], None).await.json();
    assert_eq!(all["items"].as_array().unwrap().len(), 1);
    assert_eq!(all["items"][0]["namespace"], "team-a");
    // Nothing happened to the Deployment in `default`.
    let other = Api::<Deployment>::namespaced(server.client(), "default")
        .get("other")
        .await
        .unwrap();
    assert_eq!(other.spec.unwrap().replicas, Some(1));
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_is_required_when_configured() {
    let server = api_server().await;
    let settings = Settings {
        token: Some("s3cret-token".to_string()),
        ..Settings::default()
    };
    let api = service(server.client(), settings).await;
    let addr = api.addr;
    let create = body("default", "web", "x", 1);
    for auth in [
        None,
        Some("Bearer wrong"),
        Some("Basic s3cret-token"),
        Some("Bearer s3cret-toke"),
    ] {
        let headers: Vec<(&str, &str)> = auth.map(|a| ("Authorization", a)).into_iter().collect();
        let answer = call(addr, "POST", "/deployment/create", &headers, Some(&create)).await;
        assert_eq!(answer.status, 401, "{auth:?}");
        assert_eq!(answer.header("www-authenticate"), Some("Bearer"));
        assert_eq!(answer.json()["reason"], "Unauthorized");
        assert_eq!(
            call(addr, "GET", "/deployments", &headers, None)
                .await
                .status,
            401
        );
    }
    assert!(
        Api::<Deployment>::namespaced(server.client(), "default")
            .get_opt("web")
            .await
            .unwrap()
            .is_none()
    );
    let good = [("Authorization", "Bearer s3cret-token")];
    assert_eq!(
        call(addr, "POST", "/deployment/create", &good, Some(&create))
            .await
            .status,
        201
    );
    assert_eq!(
        call(addr, "GET", "/deployments/default/web", &good, None)
            .await
            .status,
        200
    );
    // Health and the description need no token.
    assert_eq!(call(addr, "GET", "/healthz", &[], None).await.status, 200);
    assert_eq!(
        call(addr, "GET", "/openapi.json", &[], None).await.status,
        200
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_description_covers_every_route() {
    let server = api_server().await;
    let api = service(server.client(), Settings::default()).await;
    let doc = kubeforge_deployments_api::openapi::document();
    let paths = doc["paths"].as_object().unwrap();
    assert_eq!(paths.len(), 5);
    for (path, operations) in paths {
        for method in operations.as_object().unwrap().keys() {
            let concrete = path
                .replace("{namespace}", "default")
                .replace("{name}", "x");
            let answer = call(api.addr, &method.to_uppercase(), &concrete, &[], Some("{}")).await;
            // Served (the route exists): anything but the fallback's 404 and a 405.
            assert_ne!(answer.status, 405, "{method} {path}");
            assert!(
                !answer.body.contains("no route for"),
                "{method} {path} is documented but not served"
            );
        }
    }
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_sees_the_created_deployment_roll_out() {
    let Some(kubectl) = support::kubectl_binary() else {
        return;
    };
    let server = api_server().await;
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    server.write_kubeconfig(&kubeconfig).unwrap();
    let api = service(server.client(), Settings::default()).await;
    let kubectl = |args: &'static [&'static str]| {
        let kubectl = kubectl.clone();
        let kubeconfig = kubeconfig.clone();
        let home = dir.path().to_path_buf();
        async move {
            let output = tokio::process::Command::new(kubectl)
                .args(args)
                .env("KUBECONFIG", kubeconfig)
                .env("HOME", home)
                .output()
                .await
                .unwrap();
            assert!(
                output.status.success(),
                "kubectl {args:?}: {}",
                String::from_utf8_lossy(&output.stderr)
            );
            String::from_utf8(output.stdout).unwrap()
        }
    };
    let answer = call(api.addr, "POST", "/deployment/create", &[], Some(&json!({
        "namespace": "default", "name": "web", "image": "nginx:1.27", "replicas": 3, "ports": [80],
    }).to_string())).await;
    assert_eq!(answer.status, 201);
    let out = kubectl(&["rollout", "status", "deployment/web", "--timeout=30s"]).await;
    assert!(out.contains("successfully rolled out"), "{out}");
    let available = kubectl(&[
        "get",
        "deployment",
        "web",
        "-o",
        "jsonpath={.status.availableReplicas}",
    ])
    .await;
    assert_eq!(available, "3");

    // A new image rolls out too, and kubectl sees the new revision.
    let answer = call(
        api.addr,
        "PUT",
        "/deployment/update",
        &[],
        Some(&body("default", "web", "nginx:1.28", 3)),
    )
    .await;
    assert_eq!(answer.status, 200);
    let out = kubectl(&["rollout", "status", "deployment/web", "--timeout=30s"]).await;
    assert!(out.contains("successfully rolled out"), "{out}");
    let image = kubectl(&[
        "get",
        "deployment",
        "web",
        "-o",
        "jsonpath={.spec.template.spec.containers[0].image}",
    ])
    .await;
    assert_eq!(image, "nginx:1.28");
    let history = kubectl(&["rollout", "history", "deployment/web"]).await;
    assert!(history.contains("2 "), "{history}");
    server.shutdown().await;
}
