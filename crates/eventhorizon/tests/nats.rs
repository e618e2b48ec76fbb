//! NATS ingest against a real `nats-server` (Debian's `nats-server`; `.ci/run` installs it):
//! structured, binary and batched messages, answers on the reply subject, invalid events, a
//! health-only HTTP listener, the transport switched live, and an unreachable server reported.

mod common;

use common::{Lines, eventually, request};
use kubeforge_eventhorizon::engine::{Applied, Engine, EngineOptions};
use kubeforge_eventhorizon::nats::NatsSettings;
use kubeforge_eventhorizon::routes::{Route, Routes};
use kubeforge_eventhorizon::settings::Settings;
use kubeforge_eventhorizon::types::{CloudEventOutputSpec, SingularitySpec};
use serde_json::json;
use std::net::{IpAddr, Ipv4Addr};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

/// A `nats-server` on a free loopback port, killed on drop.
struct NatsServer {
    child: Child,
    url: String,
}

impl NatsServer {
    /// The server, or `None` (with a message) when `nats-server` is not installed outside CI;
    /// in CI (`CI=true`) a missing server is a failure.
    async fn start() -> Option<NatsServer> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let found = [
            "nats-server",
            "/usr/sbin/nats-server",
            "/usr/bin/nats-server",
        ]
        .into_iter()
        .find(|b| {
            Command::new(b)
                .arg("--version")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok()
        });
        let missing = "nats-server is needed for the NATS transport tests (apt-get install nats-server; .ci/run installs it)";
        let Some(binary) = found else {
            assert!(std::env::var("CI").as_deref() != Ok("true"), "{missing}");
            eprintln!("skipped: {missing}");
            return None;
        };
        let child = Command::new(binary)
            .args(["-a", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nats-server starts");
        let url = format!("nats://127.0.0.1:{port}");
        let server = NatsServer { child, url };
        let deadline = tokio::time::Instant::now() + common::PATIENCE;
        while tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
        {
            assert!(
                tokio::time::Instant::now() < deadline,
                "nats-server did not listen"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Some(server)
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn settings(nats: Option<NatsSettings>) -> Settings {
    let mut s = Settings::from_spec(&serde_json::from_value::<SingularitySpec>(json!({})).unwrap())
        .unwrap();
    s.port = 0;
    s.metrics = None;
    s.nats = nats;
    s
}

fn on(server: &NatsServer, subject: &str) -> Option<NatsSettings> {
    Some(NatsSettings {
        server: server.url.clone(),
        subject: subject.to_string(),
    })
}

/// An engine on loopback whose one handler writes to a stdout buffer.
async fn engine() -> (Arc<Engine>, Lines, Routes) {
    let lines = Lines::default();
    let engine = Engine::start(EngineOptions {
        bind: IpAddr::V4(Ipv4Addr::LOCALHOST),
        stdout: lines.writer(),
        ..EngineOptions::default()
    });
    let outputs = engine.sync_outputs(&[(
        "out".to_string(),
        serde_json::from_value::<CloudEventOutputSpec>(json!({"type": "stdout"})).unwrap(),
    )]);
    let routes = Routes {
        routes: vec![Route {
            handler: "h".into(),
            labels: Default::default(),
            encoder: Default::default(),
            output_name: "out".into(),
            output: outputs["out"].clone().ok(),
        }],
        validators: vec![],
    };
    (engine, lines, routes)
}

async fn apply(engine: &Engine, settings: Settings, routes: &Routes) -> Applied {
    engine.apply(Some(settings), routes.clone()).await
}

async fn ask(
    client: &async_nats::Client,
    subject: &str,
    headers: &[(&str, &str)],
    payload: String,
) -> String {
    let mut map = async_nats::HeaderMap::new();
    for (name, value) in headers {
        map.insert(*name, *value);
    }
    let answer = tokio::time::timeout(
        common::PATIENCE,
        client.request_with_headers(subject.to_string(), map, payload.into()),
    )
    .await
    .expect("an answer in time")
    .expect("a reply");
    String::from_utf8(answer.payload.to_vec()).unwrap()
}

fn ids(lines: &Lines) -> Vec<String> {
    let mut ids: Vec<String> = lines
        .records()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect();
    ids.sort();
    ids
}

#[tokio::test]
async fn events_arrive_over_nats_in_every_mode_and_are_answered() {
    let Some(server) = NatsServer::start().await else {
        return;
    };
    let (engine, lines, routes) = engine().await;
    let applied = apply(&engine, settings(on(&server, "events")), &routes).await;
    assert!(applied.errors.is_empty(), "{:?}", applied.errors);
    assert_eq!(
        applied.subscribed.as_deref(),
        Some(format!("{} events", server.url).as_str())
    );

    // The HTTP listener serves health only.
    let http = applied.ingest.expect("the health listener");
    assert_eq!(
        request(http, "GET", "/healthz", &[], "")
            .await
            .unwrap()
            .status,
        200
    );
    let post = request(
        http,
        "POST",
        "/",
        &[("content-type", "application/cloudevents+json")],
        "{}",
    )
    .await
    .unwrap();
    assert!(post.status == 404 || post.status == 405, "{}", post.status);

    let client = async_nats::connect(&server.url).await.unwrap();
    // Structured mode: the payload is the event, no header needed.
    let structured = json!({"specversion": "1.0", "id": "structured", "type": "com.example.created",
        "source": "/tests", "data": {"n": 1}});
    assert_eq!(
        ask(&client, "events", &[], structured.to_string()).await,
        "202 Accepted"
    );
    // Binary mode: attributes in ce- headers.
    let binary = [
        ("ce-specversion", "1.0"),
        ("ce-id", "binary"),
        ("ce-type", "com.example.created"),
        ("ce-source", "/tests"),
        ("content-type", "application/json"),
    ];
    assert_eq!(
        ask(&client, "events", &binary, r#"{"n":2}"#.into()).await,
        "202 Accepted"
    );
    // Spec 0.3 in binary mode.
    let old = [
        ("ce-specversion", "0.3"),
        ("ce-id", "binary-0.3"),
        ("ce-type", "com.example.created"),
        ("ce-source", "/tests"),
        ("content-type", "application/json"),
    ];
    assert_eq!(
        ask(&client, "events", &old, "{}".into()).await,
        "202 Accepted"
    );
    // A batch.
    let batch = json!([
        {"specversion": "1.0", "id": "batch-1", "type": "t", "source": "/s"},
        {"specversion": "1.0", "id": "batch-2", "type": "t", "source": "/s"}
    ]);
    assert_eq!(
        ask(
            &client,
            "events",
            &[("content-type", "application/cloudevents-batch+json")],
            batch.to_string()
        )
        .await,
        "202 Accepted"
    );
    // Invalid: no id. Refused, nothing queued.
    let invalid = json!({"specversion": "1.0", "type": "t", "source": "/s"});
    let answer = ask(&client, "events", &[], invalid.to_string()).await;
    assert!(answer.starts_with("400 invalid CloudEvent"), "{answer}");
    // Published without a reply subject: taken in all the same.
    client
        .publish(
            "events",
            json!({"specversion": "1.0", "id": "fire-and-forget",
            "type": "t", "source": "/s"})
            .to_string()
            .into(),
        )
        .await
        .unwrap();
    client.flush().await.unwrap();

    let want = [
        "batch-1",
        "batch-2",
        "binary",
        "binary-0.3",
        "fire-and-forget",
        "structured",
    ];
    eventually("six events at stdout", || {
        let got = ids(&lines);
        (got == want).then_some(())
    })
    .await;
    let text = metrics_text(&engine);
    assert!(
        text.contains("events_rejected_total{reason=\"invalid\"} 1"),
        "{text}"
    );
    engine.shutdown().await;
}

fn metrics_text(engine: &Engine) -> String {
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, &engine.core().registry).unwrap();
    text
}

#[tokio::test]
async fn the_transport_switches_live_and_an_unreachable_server_is_reported() {
    let Some(server) = NatsServer::start().await else {
        return;
    };
    let (engine, lines, routes) = engine().await;
    let client = async_nats::connect(&server.url).await.unwrap();

    // HTTP first.
    let applied = apply(&engine, settings(None), &routes).await;
    let http = applied.ingest.unwrap();
    assert_eq!(applied.subscribed, None);
    let event =
        |id: &str| json!({"specversion": "1.0", "id": id, "type": "t", "source": "/s"}).to_string();
    let ct = [("content-type", "application/cloudevents+json")];
    assert_eq!(
        request(http, "POST", "/", &ct, event("over-http"))
            .await
            .unwrap()
            .status,
        202
    );

    // Now NATS: the subject answers.
    let applied = apply(&engine, settings(on(&server, "a")), &routes).await;
    assert!(applied.errors.is_empty(), "{:?}", applied.errors);
    assert_eq!(ask(&client, "a", &[], event("on-a")).await, "202 Accepted");

    // Another subject: the old one is no longer read.
    apply(&engine, settings(on(&server, "b")), &routes).await;
    assert_eq!(ask(&client, "b", &[], event("on-b")).await, "202 Accepted");
    let stale = tokio::time::timeout(
        Duration::from_millis(500),
        client.request("a".to_string(), event("lost").into()),
    )
    .await;
    assert!(
        !matches!(stale, Ok(Ok(_))),
        "subject a is no longer read: {stale:?}"
    );

    // A server nobody listens on: reported, and subject b keeps being read.
    let nowhere = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let applied = apply(
        &engine,
        settings(Some(NatsSettings {
            server: format!("nats://127.0.0.1:{nowhere}"),
            subject: "c".into(),
        })),
        &routes,
    )
    .await;
    assert!(
        applied
            .errors
            .iter()
            .any(|e| e.contains("connecting to NATS server")),
        "{:?}",
        applied.errors
    );
    assert_eq!(
        applied.subscribed.as_deref(),
        Some(format!("{} b", server.url).as_str())
    );
    assert_eq!(
        ask(&client, "b", &[], event("still-b")).await,
        "202 Accepted"
    );

    // Back to HTTP.
    let applied = apply(&engine, settings(None), &routes).await;
    assert_eq!(applied.subscribed, None);
    let http = applied.ingest.unwrap();
    assert_eq!(
        request(http, "POST", "/", &ct, event("http-again"))
            .await
            .unwrap()
            .status,
        202
    );

    let want = ["http-again", "on-a", "on-b", "over-http", "still-b"];
    eventually("five events at stdout", || {
        (ids(&lines) == want).then_some(())
    })
    .await;
    engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_singularity_with_the_nats_transport_reads_its_subject() {
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
    use kube::api::{Api, PostParams};
    use kubeforge_eventhorizon::types::{CloudEventHandler, CloudEventOutput, Singularity};

    let Some(nats) = NatsServer::start().await else {
        return;
    };
    let server = kubeforge_apiserver::ApiServer::builder()
        .in_memory()
        .start()
        .await
        .unwrap();
    let client = server.client();
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    for crd in kubeforge_eventhorizon::crds() {
        crds.create(&PostParams::default(), &crd).await.unwrap();
    }
    let lines = Lines::default();
    let engine = Engine::start(EngineOptions {
        bind: IpAddr::V4(Ipv4Addr::LOCALHOST),
        stdout: lines.writer(),
        ..EngineOptions::default()
    });
    let mut manager = kubeforge_runtime::manager::Manager::builder(client.clone())
        .build()
        .unwrap();
    manager.add(kubeforge_eventhorizon::controller::controller(
        &manager,
        engine.clone(),
        "kube-system",
        "eventhorizon",
    ));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(manager.run(async {
        let _ = stopped.await;
    }));
    let create = |kind: &str, body: serde_json::Value| {
        let client = client.clone();
        let kind = kind.to_string();
        async move {
            let pp = PostParams::default();
            // The CRDs take a moment to serve.
            let deadline = tokio::time::Instant::now() + common::PATIENCE;
            loop {
                let result = match kind.as_str() {
                    "CloudEventOutput" => Api::<CloudEventOutput>::all(client.clone())
                        .create(&pp, &serde_json::from_value(body.clone()).unwrap())
                        .await
                        .map(|_| ()),
                    "CloudEventHandler" => Api::<CloudEventHandler>::all(client.clone())
                        .create(&pp, &serde_json::from_value(body.clone()).unwrap())
                        .await
                        .map(|_| ()),
                    _ => Api::<Singularity>::namespaced(client.clone(), "kube-system")
                        .create(&pp, &serde_json::from_value(body.clone()).unwrap())
                        .await
                        .map(|_| ()),
                };
                match result {
                    Ok(()) => break,
                    Err(_) if tokio::time::Instant::now() < deadline => {
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                    Err(e) => panic!("creating a {kind}: {e}"),
                }
            }
        }
    };
    let group = "eventhorizon.acesso.io/v1alpha1";
    create(
        "CloudEventOutput",
        json!({"apiVersion": group, "kind": "CloudEventOutput",
        "metadata": {"name": "stdout"}, "spec": {"type": "stdout"}}),
    )
    .await;
    create(
        "CloudEventHandler",
        json!({"apiVersion": group, "kind": "CloudEventHandler",
        "metadata": {"name": "all"},
        "spec": {"subjects": ["kube-system/eventhorizon"], "output": "stdout"}}),
    )
    .await;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let metrics = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    create(
        "Singularity",
        json!({"apiVersion": group, "kind": "Singularity",
        "metadata": {"name": "eventhorizon", "namespace": "kube-system"},
        "spec": {"transport": {"name": "nats", "http": {"port": port},
                 "nats": {"server": nats.url, "subject": "cloudevents"}},
                 "metrics": {"port": metrics}}}),
    )
    .await;

    let singularities: Api<Singularity> = Api::namespaced(client.clone(), "kube-system");
    let want = format!("{} cloudevents", nats.url);
    let mut status = None;
    let deadline = tokio::time::Instant::now() + common::PATIENCE;
    while tokio::time::Instant::now() < deadline {
        status = singularities.get("eventhorizon").await.unwrap().status;
        if status.as_ref().and_then(|s| s.listening.as_deref()) == Some(want.as_str()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let status = status.expect("a status");
    assert_eq!(
        status.listening.as_deref(),
        Some(want.as_str()),
        "{status:?}"
    );
    assert_eq!(status.conditions[0].status, "True", "{status:?}");

    let client = async_nats::connect(&nats.url).await.unwrap();
    let event = json!({"specversion": "1.0", "id": "via-nats", "type": "t", "source": "/s"});
    assert_eq!(
        ask(&client, "cloudevents", &[], event.to_string()).await,
        "202 Accepted"
    );
    eventually("the event at stdout", || {
        (ids(&lines) == ["via-nats"]).then_some(())
    })
    .await;

    let _ = stop.send(());
    running.await.unwrap().unwrap();
    engine.shutdown().await;
    server.shutdown().await;
}
