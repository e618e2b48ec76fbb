//! The pod→service detector against the in-process API server: Pods and Services created in
//! either order, label changes, selector changes, Service deletion, namespaces kept apart, the
//! orphan warning after its grace period, the gauges, and writes made only on change (the
//! detector's client counts its PATCH requests).

mod common;

use common::{PATIENCE, eventually, occurrences};
use k8s_openapi::api::core::v1::{Namespace, Pod, Service};
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use kube::{Client, Resource};
use kubeforge_apiserver::ApiServer;
use kubeforge_operators::runner::{Operators, RunOptions};
use kubeforge_operators::service_detector::{
    Options, REASON_NO_PODS, SELECTED_PODS_ANNOTATION, SERVICES_ANNOTATION,
};
use serde_json::json;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// PATCH requests by path.
type Writes = Arc<Mutex<BTreeMap<String, u64>>>;

struct Detector {
    server: ApiServer,
    client: Client,
    writes: Writes,
    metrics: SocketAddr,
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

impl Detector {
    async fn start(grace: Duration) -> Detector {
        let server = ApiServer::builder().in_memory().start().await.unwrap();
        let writes: Writes = Arc::default();
        let layer = tower::ServiceBuilder::new().map_request({
            let writes = writes.clone();
            move |req: http::Request<kube::client::Body>| {
                if req.method() == http::Method::PATCH {
                    *writes
                        .lock()
                        .unwrap()
                        .entry(req.uri().path().to_string())
                        .or_default() += 1;
                }
                req
            }
        });
        let config = kube::Config::new(server.url().parse().unwrap());
        let counting = kube::client::ClientBuilder::try_from(config)
            .unwrap()
            .with_layer(&layer)
            .build();
        let detector = kubeforge_operators::select("service-detector").unwrap();
        let options = RunOptions {
            metrics_addr: Some("127.0.0.1:0".parse().unwrap()),
            service_detector: Options {
                orphan_grace: grace,
            },
            ..RunOptions::default()
        };
        let operators = Operators::new(counting, &detector, options).unwrap();
        let metrics = operators.metrics_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            operators
                .run(async {
                    let _ = stopped.await;
                })
                .await
                .unwrap();
        });
        Detector {
            client: server.client(),
            server,
            writes,
            metrics,
            stop,
            task,
        }
    }

    async fn stop(self) {
        let _ = self.stop.send(());
        tokio::time::timeout(Duration::from_secs(10), self.task)
            .await
            .unwrap()
            .unwrap();
        self.server.shutdown().await;
    }

    fn writes(&self) -> u64 {
        self.writes.lock().unwrap().values().sum()
    }

    fn writes_to(&self, path_end: &str) -> u64 {
        self.writes
            .lock()
            .unwrap()
            .iter()
            .filter(|(path, _)| path.ends_with(path_end))
            .map(|(_, n)| n)
            .sum()
    }

    async fn namespace(&self, name: &str) {
        let ns: Namespace = serde_json::from_value(json!({"metadata": {"name": name}})).unwrap();
        Api::<Namespace>::all(self.client.clone())
            .create(&PostParams::default(), &ns)
            .await
            .unwrap();
    }

    async fn pod(&self, namespace: &str, name: &str, labels: serde_json::Value) {
        let pod: Pod = serde_json::from_value(json!({
            "metadata": {"name": name, "labels": labels},
            "spec": {"containers": [{"name": "app", "image": "nginx"}]},
        }))
        .unwrap();
        Api::<Pod>::namespaced(self.client.clone(), namespace)
            .create(&PostParams::default(), &pod)
            .await
            .unwrap();
    }

    async fn service(&self, namespace: &str, name: &str, selector: serde_json::Value) {
        let service: Service = serde_json::from_value(json!({
            "metadata": {"name": name},
            "spec": {"selector": selector, "ports": [{"port": 80}]},
        }))
        .unwrap();
        Api::<Service>::namespaced(self.client.clone(), namespace)
            .create(&PostParams::default(), &service)
            .await
            .unwrap();
    }

    /// Waits until every Pod's services annotation and every Service's count are as given
    /// (`None`: no annotation).
    async fn expect(
        &self,
        namespace: &str,
        pods: &[(&str, Option<&str>)],
        services: &[(&str, &str)],
    ) {
        let what = format!("{namespace}: pods {pods:?}, services {services:?}");
        eventually(&what, || async {
            for (name, want) in pods {
                let pod = Api::<Pod>::namespaced(self.client.clone(), namespace)
                    .get(name)
                    .await?;
                if annotation(&pod, SERVICES_ANNOTATION).as_deref() != *want {
                    return Ok(None);
                }
            }
            for (name, want) in services {
                let service = Api::<Service>::namespaced(self.client.clone(), namespace)
                    .get(name)
                    .await?;
                if annotation(&service, SELECTED_PODS_ANNOTATION).as_deref() != Some(*want) {
                    return Ok(None);
                }
            }
            Ok(Some(()))
        })
        .await
        .unwrap();
    }

    /// Waits until no write has happened for 1.5 s (the machine may be loaded), and returns the count.
    async fn settled_writes(&self) -> u64 {
        let mut last = self.writes();
        loop {
            tokio::time::sleep(Duration::from_millis(1500)).await;
            let now = self.writes();
            if now == last {
                return now;
            }
            last = now;
        }
    }

    async fn gauge(&self, name: &str) -> i64 {
        let mut stream = tokio::net::TcpStream::connect(self.metrics).await.unwrap();
        stream
            .write_all(b"GET /metrics HTTP/1.1\r\nHost: m\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut text = String::new();
        stream.read_to_string(&mut text).await.unwrap();
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{name} ")))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("{name} not in /metrics:\n{text}"))
    }
}

fn annotation<K: Resource>(object: &K, key: &str) -> Option<String> {
    object.meta().annotations.as_ref()?.get(key).cloned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pods_and_services_in_either_order_and_namespaces_apart() {
    let detector = Detector::start(Duration::from_secs(60)).await;
    for ns in ["pods-first", "services-first", "elsewhere"] {
        detector.namespace(ns).await;
    }
    let pods = [
        ("web-1", json!({"app": "web"})),
        ("web-2", json!({"app": "web", "tier": "front"})),
        ("db-1", json!({"app": "db"})),
        ("lonely", json!({"app": "none"})),
    ];
    let services = [
        ("web", json!({"app": "web"})),
        ("front", json!({"app": "web", "tier": "front"})),
        ("db", json!({"app": "db"})),
        ("external", json!({})),
    ];
    for (name, labels) in &pods {
        detector.pod("pods-first", name, labels.clone()).await;
    }
    for (name, selector) in &services {
        detector.service("pods-first", name, selector.clone()).await;
        detector
            .service("services-first", name, selector.clone())
            .await;
    }
    for (name, labels) in &pods {
        detector.pod("services-first", name, labels.clone()).await;
    }
    // Same selector, another namespace: the Pods above are not its Pods.
    detector
        .service("elsewhere", "web", json!({"app": "web"}))
        .await;
    for ns in ["pods-first", "services-first"] {
        detector
            .expect(
                ns,
                &[
                    ("web-1", Some("web")),
                    ("web-2", Some("front,web")),
                    ("db-1", Some("db")),
                    ("lonely", None),
                ],
                &[("web", "2"), ("front", "1"), ("db", "1")],
            )
            .await;
        let external = Api::<Service>::namespaced(detector.client.clone(), ns)
            .get("external")
            .await
            .unwrap();
        assert_eq!(
            annotation(&external, SELECTED_PODS_ANNOTATION),
            None,
            "no selector, no count"
        );
    }
    detector.expect("elsewhere", &[], &[("web", "0")]).await;
    eventually("the gauges", || async {
        let pods = detector
            .gauge("service_detector_pods_without_service")
            .await;
        let services = detector
            .gauge("service_detector_services_without_pods")
            .await;
        Ok((pods == 2 && services == 1).then_some(()))
    })
    .await
    .unwrap();
    detector.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn label_and_selector_changes_and_deletions_touch_only_what_changes() {
    let detector = Detector::start(Duration::from_secs(60)).await;
    for i in 0..5 {
        detector
            .pod("default", &format!("web-{i}"), json!({"app": "web"}))
            .await;
        detector
            .pod("default", &format!("db-{i}"), json!({"app": "db"}))
            .await;
    }
    detector
        .service("default", "web", json!({"app": "web"}))
        .await;
    detector
        .service("default", "db", json!({"app": "db"}))
        .await;
    let web: Vec<_> = (0..5).map(|i| format!("web-{i}")).collect();
    let db: Vec<_> = (0..5).map(|i| format!("db-{i}")).collect();
    let all = |web_value: Option<&'static str>,
               db_value: Option<&'static str>|
     -> Vec<(String, Option<&'static str>)> {
        web.iter()
            .map(|n| (n.clone(), web_value))
            .chain(db.iter().map(|n| (n.clone(), db_value)))
            .collect()
    };
    let expect = |pods: Vec<(String, Option<&'static str>)>,
                  services: Vec<(&'static str, &'static str)>| {
        let detector = &detector;
        async move {
            let pods: Vec<(&str, Option<&str>)> =
                pods.iter().map(|(n, v)| (n.as_str(), *v)).collect();
            detector.expect("default", &pods, &services).await;
        }
    };
    expect(
        all(Some("web"), Some("db")),
        vec![("web", "5"), ("db", "5")],
    )
    .await;
    let settled = detector.settled_writes().await;
    // Ten Pods annotated once each; each Service's count written as Pods were found, at most
    // once per Pod event it saw, and at least once.
    assert_eq!(
        (
            detector.writes_to("/pods/web-0"),
            detector.writes_to("/pods/db-4")
        ),
        (1, 1),
        "{:?}",
        detector.writes.lock().unwrap()
    );

    // A change that matters to no Service writes nothing.
    let pods: Api<Pod> = Api::namespaced(detector.client.clone(), "default");
    pods.patch(
        "web-0",
        &PatchParams::default(),
        &Patch::Merge(
            json!({"metadata": {"labels": {"unrelated": "x"}, "annotations": {"note": "y"}}}),
        ),
    )
    .await
    .unwrap();
    assert_eq!(
        detector.settled_writes().await,
        settled,
        "no write for a change that changes nothing"
    );

    // A label change: the Pod, and both Services' counts.
    pods.patch(
        "web-0",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"labels": {"app": "db"}}})),
    )
    .await
    .unwrap();
    let mut now = all(Some("web"), Some("db"));
    now[0].1 = Some("db");
    expect(now, vec![("web", "4"), ("db", "6")]).await;
    assert_eq!(
        detector.settled_writes().await,
        settled + 3,
        "the Pod and the two counts: {:?}",
        detector.writes.lock().unwrap()
    );

    // A selector change (web selects app=db now): the Pods of the old and new selector, and the
    // Service's count; no other Pod.
    let settled = detector.settled_writes().await;
    detector
        .pod("default", "other", json!({"app": "other"}))
        .await;
    let services: Api<Service> = Api::namespaced(detector.client.clone(), "default");
    let settled = {
        let after_pod = detector.settled_writes().await;
        assert_eq!(after_pod, settled, "a Pod no Service selects: no write");
        after_pod
    };
    services
        .patch(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"selector": {"app": "db"}}})),
        )
        .await
        .unwrap();
    let mut now = all(None, Some("db,web"));
    now[0].1 = Some("db,web");
    expect(now, vec![("web", "6"), ("db", "6")]).await;
    // Four old Pods lose `web`, six new ones gain it, and the count changes from 4 to 6.
    assert_eq!(detector.settled_writes().await, settled + 4 + 6 + 1);
    assert_eq!(
        detector.writes_to("/pods/other"),
        0,
        "a Pod neither selector matches is not written"
    );

    // Deleting a Service takes it off its Pods.
    services
        .delete("web", &DeleteParams::default())
        .await
        .unwrap();
    let mut now = all(None, Some("db"));
    now[0].1 = Some("db");
    expect(now, vec![("db", "6")]).await;
    // Deleting a Pod changes its Service's count.
    pods.delete("db-0", &DeleteParams::default()).await.unwrap();
    detector.expect("default", &[], &[("db", "5")]).await;
    detector.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_selecting_nothing_past_its_grace_is_warned_about_once() {
    let grace = Duration::from_secs(1);
    let detector = Detector::start(grace).await;
    detector
        .service("default", "typo", json!({"app": "wbe"}))
        .await;
    detector
        .service("default", "late", json!({"app": "late"}))
        .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    // `late` gets its Pod within the grace period: no warning.
    detector
        .pod("default", "late-1", json!({"app": "late"}))
        .await;
    let typo = Api::<Service>::namespaced(detector.client.clone(), "default")
        .get("typo")
        .await
        .unwrap();
    let late = Api::<Service>::namespaced(detector.client.clone(), "default")
        .get("late")
        .await
        .unwrap();
    eventually("the warning about typo", || async {
        Ok((occurrences(&detector.client, &typo, REASON_NO_PODS).await? > 0).then_some(()))
    })
    .await
    .unwrap();
    let events = common::events_about(&detector.client, &typo, REASON_NO_PODS)
        .await
        .unwrap();
    assert_eq!(events[0].type_.as_deref(), Some("Warning"));
    let note = events[0].note.clone().unwrap_or_default();
    assert!(note.contains("app=wbe"), "{note}");
    assert_eq!(
        detector
            .gauge("service_detector_services_without_pods")
            .await,
        1
    );
    // Three grace periods later: still one warning, none for `late`.
    tokio::time::sleep(grace * 3).await;
    assert_eq!(
        occurrences(&detector.client, &typo, REASON_NO_PODS)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        occurrences(&detector.client, &late, REASON_NO_PODS)
            .await
            .unwrap(),
        0
    );
    assert!(PATIENCE > grace);
    detector.stop().await;
}
