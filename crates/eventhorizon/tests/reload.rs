//! End to end through the in-process API server: the four resources applied, CloudEvents posted
//! (binary and structured), delivered to a Forward receiver and to stdout; then every resource
//! changed while events flow, with nothing acknowledged lost; and the statuses.

mod common;

use common::receiver::{Behavior, Receiver};
use common::{Lines, binary_headers, request};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use kubeforge_apiserver::ApiServer;
use kubeforge_eventhorizon::controller::controller;
use kubeforge_eventhorizon::types::*;
use kubeforge_eventhorizon::{Engine, EngineOptions};
use kubeforge_runtime::manager::Manager;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn eventually<T, Fut: std::future::Future<Output = Option<T>>>(
    what: &str,
    mut check: impl FnMut() -> Fut,
) -> T {
    let deadline = tokio::time::Instant::now() + common::PATIENCE;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn create<K>(api: Api<K>, object: Value) -> K
where
    K: kube::Resource<DynamicType = ()>
        + Clone
        + serde::Serialize
        + serde::de::DeserializeOwned
        + std::fmt::Debug,
{
    api.create(
        &PostParams::default(),
        &serde_json::from_value(object).unwrap(),
    )
    .await
    .unwrap()
}

fn ids(receiver: &Receiver) -> Vec<String> {
    receiver
        .records()
        .iter()
        .filter_map(|r| {
            r.as_map()?
                .iter()
                .find(|(k, _)| k.as_str() == Some("id"))
                .and_then(|(_, v)| v.as_str().map(str::to_string))
        })
        .collect()
}

fn label_of(record: &rmpv::Value) -> Option<String> {
    let map = record.as_map()?;
    let ext = map
        .iter()
        .find(|(k, _)| k.as_str() == Some("extensions"))?
        .1
        .as_map()?;
    let labels = ext
        .iter()
        .find(|(k, _)| k.as_str() == Some("labels"))?
        .1
        .as_map()?;
    labels
        .iter()
        .find(|(k, _)| k.as_str() == Some("team"))
        .and_then(|(_, v)| v.as_str().map(str::to_string))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resources_configure_the_router_live() {
    let server = ApiServer::builder().in_memory().start().await.unwrap();
    let client = server.client();
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    for crd in kubeforge_eventhorizon::crds() {
        crds.create(&PostParams::default(), &crd).await.unwrap();
    }
    let singularities: Api<Singularity> = Api::namespaced(client.clone(), "kube-system");
    eventually("the CRDs to serve", || {
        let client = client.clone();
        async move {
            let lp = Default::default();
            Api::<Singularity>::all(client.clone())
                .list(&lp)
                .await
                .ok()?;
            Api::<CloudEventOutput>::all(client.clone())
                .list(&lp)
                .await
                .ok()?;
            Api::<CloudEventHandler>::all(client.clone())
                .list(&lp)
                .await
                .ok()?;
            Api::<CloudEventValidator>::all(client).list(&lp).await.ok()
        }
    })
    .await;

    // The router.
    let lines = Lines::default();
    let engine = Engine::start(EngineOptions {
        bind: IpAddr::V4(Ipv4Addr::LOCALHOST),
        stdout: lines.writer(),
        ..EngineOptions::default()
    });
    let mut manager = Manager::builder(client.clone()).build().unwrap();
    manager.add(controller(
        &manager,
        engine.clone(),
        "kube-system",
        "eventhorizon",
    ));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(manager.run(async {
        let _ = stopped.await;
    }));

    // The four resources.
    let (receiver, fluentd_port) = Receiver::tcp(Behavior::Ack).await;
    let port = free_port();
    let metrics_port = free_port();
    create::<CloudEventOutput>(Api::all(client.clone()), json!({
        "apiVersion": "eventhorizon.acesso.io/v1alpha1", "kind": "CloudEventOutput",
        "metadata": {"name": "fluentd"},
        "spec": {"type": "fluentd", "fluentd": {"port": fluentd_port, "requestAck": true, "timeout": "3s"}}
    })).await;
    create::<CloudEventOutput>(
        Api::all(client.clone()),
        json!({
            "apiVersion": "eventhorizon.acesso.io/v1alpha1", "kind": "CloudEventOutput",
            "metadata": {"name": "stdout"}, "spec": {"type": "stdout"}
        }),
    )
    .await;
    create::<CloudEventHandler>(Api::all(client.clone()), json!({
        "apiVersion": "eventhorizon.acesso.io/v1alpha1", "kind": "CloudEventHandler",
        "metadata": {"name": "to-fluentd"},
        "spec": {"subjects": ["kube-system/eventhorizon"], "labels": {"team": "a"}, "encoder": "map", "output": "fluentd"}
    })).await;
    create::<CloudEventHandler>(
        Api::all(client.clone()),
        json!({
            "apiVersion": "eventhorizon.acesso.io/v1alpha1", "kind": "CloudEventHandler",
            "metadata": {"name": "to-stdout"},
            "spec": {"subjects": ["kube-system/eventhorizon"], "output": "stdout"}
        }),
    )
    .await;
    create::<Singularity>(Api::namespaced(client.clone(), "kube-system"), json!({
        "apiVersion": "eventhorizon.acesso.io/v1alpha1", "kind": "Singularity",
        "metadata": {"name": "eventhorizon", "namespace": "kube-system"},
        "spec": {"transport": {"http": {"port": port}}, "metrics": {"port": metrics_port}, "retryWait": 50, "maxRetryWait": 200}
    })).await;

    // Defaults from the schema, and CEL refusing a bad spec.
    let stored = singularities.get("eventhorizon").await.unwrap();
    assert_eq!((stored.spec.backlog, stored.spec.max_retry), (8192, 25));
    assert_eq!(stored.spec.metrics.path, "/metrics");
    let clash: Result<Singularity, _> = singularities
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({
                "apiVersion": "eventhorizon.acesso.io/v1alpha1", "kind": "Singularity",
                "metadata": {"name": "clash"},
                "spec": {"transport": {"http": {"port": 2000}}, "metrics": {"port": 2000}}
            }))
            .unwrap(),
        )
        .await;
    let message = format!("{clash:?}");
    assert!(message.contains("metrics.port must differ"), "{message}");

    let addr = eventually("the Singularity listening", || {
        let api = singularities.clone();
        async move {
            let s = api.get("eventhorizon").await.ok()?;
            s.status?.listening?.parse::<SocketAddr>().ok()
        }
    })
    .await;
    assert_eq!(addr.port(), port);

    // Binary and structured.
    let answer = request(
        addr,
        "POST",
        "/",
        &binary_headers("1.0", "first"),
        r#"{"n":1}"#,
    )
    .await
    .unwrap();
    assert_eq!(answer.status, 202);
    let structured = json!({"specversion": "0.3", "id": "second", "type": "com.example.created", "source": "/tests", "data": {"n": 2}});
    let answer = request(
        addr,
        "POST",
        "/",
        &[("content-type", "application/cloudevents+json")],
        structured.to_string(),
    )
    .await
    .unwrap();
    assert_eq!(answer.status, 202);
    eventually("both at fluentd and stdout", || {
        let done = ids(&receiver).len() == 2 && lines.records().len() == 2;
        async move { done.then_some(()) }
    })
    .await;
    assert_eq!(label_of(&receiver.records()[0]).as_deref(), Some("a"));

    // Events flow from here on; every one acknowledged must reach fluentd.
    let current_port = Arc::new(AtomicU16::new(port));
    let accepted = Arc::new(Mutex::new(BTreeSet::<String>::new()));
    let flowing = Arc::new(AtomicBool::new(true));
    let poster = tokio::spawn({
        let (current_port, accepted, flowing) =
            (current_port.clone(), accepted.clone(), flowing.clone());
        async move {
            let mut i = 0u64;
            while flowing.load(Ordering::Relaxed) {
                i += 1;
                let id = format!("flow-{i}");
                let to = SocketAddr::from(([127, 0, 0, 1], current_port.load(Ordering::Relaxed)));
                if let Ok(answer) =
                    request(to, "POST", "/", &binary_headers("1.0", &id), "{}").await
                    && answer.status == 202
                {
                    accepted.lock().unwrap().insert(id);
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
    });
    let handlers: Api<CloudEventHandler> = Api::all(client.clone());
    let outputs: Api<CloudEventOutput> = Api::all(client.clone());
    let validators: Api<CloudEventValidator> = Api::all(client.clone());
    let merge = |v: Value| Patch::Merge(v);

    // A handler changed: its new labels apply.
    handlers
        .patch(
            "to-fluentd",
            &PatchParams::default(),
            &merge(json!({"spec": {"labels": {"team": "b"}}})),
        )
        .await
        .unwrap();
    eventually("records labelled b", || {
        let seen = receiver
            .records()
            .iter()
            .any(|r| label_of(r).as_deref() == Some("b"));
        async move { seen.then_some(()) }
    })
    .await;

    // A handler deleted: stdout stops growing.
    handlers
        .delete("to-stdout", &DeleteParams::default())
        .await
        .unwrap();
    let settled = eventually("stdout to stop growing", || {
        let before = lines.records().len();
        let lines = lines.clone();
        async move {
            tokio::time::sleep(Duration::from_millis(300)).await;
            (lines.records().len() == before).then_some(before)
        }
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        lines.records().len(),
        settled,
        "no more stdout after the handler is gone"
    );

    // A validator added and validation switched on: denied types get 400.
    create::<CloudEventValidator>(
        Api::all(client.clone()),
        json!({
            "apiVersion": "eventhorizon.acesso.io/v1alpha1", "kind": "CloudEventValidator",
            "metadata": {"name": "only-examples"},
            "spec": {"handlers": ["to-fluentd"], "priority": 1, "allowedTypes": ["com.example.*"]}
        }),
    )
    .await;
    singularities
        .patch(
            "eventhorizon",
            &PatchParams::default(),
            &merge(json!({"spec": {"validation": true}})),
        )
        .await
        .unwrap();
    eventually("a denied type refused", || async move {
        let mut headers = binary_headers("1.0", "denied");
        headers[2] = ("ce-type", "org.other.thing");
        let answer = request(addr, "POST", "/", &headers, "{}").await.ok()?;
        (answer.status == 400 && answer.body.contains("only-examples")).then_some(())
    })
    .await;

    // An output changed (a new receiver, unix socket this time): events move over.
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("fluentd.sock");
    let unix_receiver = Receiver::unix(&socket, Behavior::Ack).await;
    outputs
        .patch(
            "fluentd",
            &PatchParams::default(),
            &merge(json!({"spec": {"fluentd": {
            "network": "unix", "socketPath": socket.display().to_string()}}})),
        )
        .await
        .unwrap();
    eventually("events at the unix receiver", || {
        let n = ids(&unix_receiver).len();
        async move { (n > 3).then_some(()) }
    })
    .await;

    // The port changed: the listener moves.
    let new_port = free_port();
    singularities
        .patch(
            "eventhorizon",
            &PatchParams::default(),
            &merge(json!({"spec": {"transport": {"http": {"port": new_port}}}})),
        )
        .await
        .unwrap();
    eventually("the new port to answer", || async move {
        let to = SocketAddr::from(([127, 0, 0, 1], new_port));
        let answer = request(to, "GET", "/healthz", &[], "").await.ok()?;
        (answer.status == 200).then_some(())
    })
    .await;
    current_port.store(new_port, Ordering::Relaxed);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        request(addr, "GET", "/healthz", &[], "").await.is_err(),
        "the old port is closed"
    );

    flowing.store(false, Ordering::Relaxed);
    poster.await.unwrap();
    let accepted = accepted.lock().unwrap().clone();
    assert!(accepted.len() > 20, "events flowed: {}", accepted.len());
    let deadline = tokio::time::Instant::now() + common::PATIENCE;
    loop {
        let mut got: BTreeSet<String> = ids(&receiver).into_iter().collect();
        got.extend(ids(&unix_receiver));
        let missing: Vec<&String> = accepted.difference(&got).collect();
        if missing.is_empty() {
            break;
        }
        if tokio::time::Instant::now() > deadline {
            let to = SocketAddr::from(([127, 0, 0, 1], metrics_port));
            let metrics = request(to, "GET", "/metrics", &[], "")
                .await
                .map(|a| a.body);
            panic!(
                "{} of {} acknowledged events not delivered (e.g. {:?}; tcp got {}, unix got {}); metrics: {metrics:?}",
                missing.len(),
                accepted.len(),
                &missing[..missing.len().min(10)],
                ids(&receiver).len(),
                ids(&unix_receiver).len(),
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Statuses.
    create::<CloudEventHandler>(
        Api::all(client.clone()),
        json!({
            "apiVersion": "eventhorizon.acesso.io/v1alpha1", "kind": "CloudEventHandler",
            "metadata": {"name": "dangling"},
            "spec": {"subjects": ["kube-system/eventhorizon", "other/absent"], "output": "missing"}
        }),
    )
    .await;
    eventually("handler statuses", || {
        let handlers = handlers.clone();
        async move {
            let ok = handlers.get("to-fluentd").await.ok()?.status?;
            let bad = handlers.get("dangling").await.ok()?.status?;
            (ok.output_resolved
                && ok.applies_to == ["kube-system/eventhorizon"]
                && !bad.output_resolved
                && bad.applies_to == ["kube-system/eventhorizon"]
                && bad.conditions[0].message.contains("does not exist"))
            .then_some(())
        }
    })
    .await;
    let status = eventually("output status", || {
        let outputs = outputs.clone();
        async move {
            outputs
                .get("fluentd")
                .await
                .ok()?
                .status
                .filter(|s| s.connected)
        }
    })
    .await;
    assert_eq!(status.conditions[0].status, "True");
    let s = eventually("counters in the Singularity's status", || {
        let api = singularities.clone();
        let want = accepted.len() as u64;
        async move {
            let s = api.get("eventhorizon").await.ok()?.status?;
            (s.received >= want && s.delivered >= want).then_some(s)
        }
    })
    .await;
    assert!(s.rejected >= 1);
    let metrics = request(
        SocketAddr::from(([127, 0, 0, 1], metrics_port)),
        "GET",
        "/metrics",
        &[],
        "",
    )
    .await
    .unwrap();
    assert!(
        metrics
            .body
            .contains("events_delivered_total{handler=\"to-fluentd\",output=\"fluentd\"}"),
        "{}",
        metrics.body
    );

    // Deleting the Singularity stops ingest.
    singularities
        .delete("eventhorizon", &DeleteParams::default())
        .await
        .unwrap();
    eventually("ingest to stop", || async move {
        let to = SocketAddr::from(([127, 0, 0, 1], new_port));
        request(to, "GET", "/healthz", &[], "")
            .await
            .is_err()
            .then_some(())
    })
    .await;

    let _ = stop.send(());
    running.await.unwrap().unwrap();
    let report = engine.shutdown().await;
    assert_eq!((report.queued, report.in_flight), (0, 0));
    let _ = validators
        .delete("only-examples", &DeleteParams::default())
        .await;
    server.shutdown().await;
}
