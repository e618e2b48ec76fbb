//! Delivery: the exact retry backoff (paused time), handler labels, the map encoder, several
//! handlers, no handler, and a deleted output.

mod common;

use cloudevents::{EventBuilder, EventBuilderV10};
use common::Lines;
use common::receiver::{Behavior, Receiver};
use kubeforge_eventhorizon::backlog::Queued;
use kubeforge_eventhorizon::delivery::deliver;
use kubeforge_eventhorizon::engine::{Engine, EngineOptions};
use kubeforge_eventhorizon::routes::{Route, Routes};
use kubeforge_eventhorizon::settings::Settings;
use serde_json::json;
use std::collections::BTreeMap;
use std::time::Duration;

fn event() -> cloudevents::Event {
    EventBuilderV10::new()
        .id("42")
        .ty("com.example.created")
        .source("/tests")
        .subject("orders/7")
        .time("2026-12-04T10:00:00.5Z")
        .extension("tenant", "acme")
        .data("application/json", json!({"total": 10}))
        .build()
        .unwrap()
}

fn route(
    handler: &str,
    output: &str,
    labels: &[(&str, &str)],
    engine: &Engine,
    spec: serde_json::Value,
) -> Route {
    let built = engine.sync_outputs(&[(output.to_string(), serde_json::from_value(spec).unwrap())]);
    Route {
        handler: handler.into(),
        labels: labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<BTreeMap<_, _>>(),
        encoder: Default::default(),
        output_name: output.into(),
        output: built[output].clone().ok(),
    }
}

async fn apply(engine: &Engine, routes: Vec<Route>, retry: (i64, i64, i64)) {
    let mut settings = Settings::from_spec(
        &serde_json::from_value(
            json!({"maxRetry": retry.0, "retryWait": retry.1, "maxRetryWait": retry.2}),
        )
        .unwrap(),
    )
    .unwrap();
    settings.port = 0;
    settings.metrics = None;
    settings.backlog = 16;
    let applied = engine
        .apply(
            Some(settings),
            Routes {
                routes,
                validators: vec![],
            },
        )
        .await;
    assert!(applied.errors.is_empty());
}

/// A fluentd output on a unix socket nobody listens on, trying once per post.
fn nothing_listening(dir: &tempfile::TempDir) -> serde_json::Value {
    json!({"type": "fluentd", "fluentd": {
        "network": "unix", "socketPath": dir.path().join("none.sock"), "maxRetry": 1}})
}

fn queued() -> Queued {
    Queued {
        event: event(),
        accepted: tokio::time::Instant::now(),
    }
}

#[tokio::test(start_paused = true)]
async fn retries_wait_retry_wait_times_one_and_a_half_to_the_attempt_capped() {
    // A fluentd receiver that closes the first four connections before acking; fluentd itself
    // makes one attempt, so every failure goes back to the handler's retry loop.
    let (receiver, port) = Receiver::tcp(Behavior::CloseFirst(4)).await;
    let engine = Engine::start(EngineOptions::default());
    let r = route(
        "h",
        "f",
        &[],
        &engine,
        json!({"type": "fluentd", "fluentd": {
        "port": port, "requestAck": true, "maxRetry": 1}}),
    );
    apply(&engine, vec![r], (25, 500, 1000)).await;
    let start = tokio::time::Instant::now();
    deliver(engine.core(), queued()).await;
    let offsets: Vec<u128> = receiver
        .connections()
        .iter()
        .map(|t| (*t - start).as_millis())
        .collect();
    // Waits: 500, 500*1.5 = 750, 500*1.5^2 = 1125 capped at 1000, 1000.
    assert_eq!(offsets, [0, 500, 1250, 2250, 3250]);
    assert_eq!(receiver.records().len(), 1);
    assert_eq!(
        engine.core().metrics.totals.snapshot()[1],
        1,
        "delivered once"
    );
}

#[tokio::test(start_paused = true)]
async fn attempts_stop_at_max_retry_and_are_counted() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::start(EngineOptions::default());
    let r = route("h", "f", &[], &engine, nothing_listening(&dir));
    apply(&engine, vec![r], (3, 100, 1000)).await;
    let start = tokio::time::Instant::now();
    deliver(engine.core(), queued()).await;
    assert_eq!(
        start.elapsed(),
        Duration::from_millis(100 + 150),
        "two waits for three attempts"
    );
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, &engine.core().registry).unwrap();
    assert!(
        text.contains(
            "events_failed_total{handler=\"h\",output=\"f\",reason=\"attempts_exhausted\"} 1"
        ),
        "{text}"
    );
}

#[tokio::test]
async fn labels_and_the_map_encoder() {
    let lines = Lines::default();
    let engine = Engine::start(EngineOptions {
        stdout: lines.writer(),
        ..EngineOptions::default()
    });
    let r = route(
        "h",
        "out",
        &[("team", "payments"), ("env", "prod")],
        &engine,
        json!({"type": "stdout"}),
    );
    apply(&engine, vec![r], (1, 1, 1)).await;
    deliver(engine.core(), queued()).await;
    assert_eq!(
        lines.records(),
        [json!({
            "specversion": "1.0",
            "id": "42",
            "subject": "orders/7",
            "source": "/tests",
            "type": "com.example.created",
            "time": "2026-12-04T10:00:00.500Z",
            "extensions": {"tenant": "acme", "labels": {"env": "prod", "team": "payments"}},
            "data": {"total": 10},
        })]
    );
}

#[tokio::test]
async fn every_handler_gets_the_event_with_its_own_labels() {
    let lines = Lines::default();
    let (receiver, port) = Receiver::tcp(Behavior::Ack).await;
    let engine = Engine::start(EngineOptions {
        stdout: lines.writer(),
        ..EngineOptions::default()
    });
    let built = engine.sync_outputs(&[
        (
            "out".to_string(),
            serde_json::from_value(json!({"type": "stdout"})).unwrap(),
        ),
        (
            "f".to_string(),
            serde_json::from_value(
                json!({"type": "fluentd", "fluentd": {"port": port, "requestAck": true}}),
            )
            .unwrap(),
        ),
    ]);
    let make = |handler: &str, output: &str, label: &str| Route {
        handler: handler.into(),
        labels: [("by".to_string(), label.to_string())].into(),
        encoder: Default::default(),
        output_name: output.into(),
        output: built[output].clone().ok(),
    };
    let routes = vec![
        make("a", "out", "a"),
        make("b", "f", "b"),
        make("c", "out", "c"),
    ];
    apply(&engine, routes, (1, 1, 1)).await;
    deliver(engine.core(), queued()).await;
    let mut by: Vec<String> = lines
        .records()
        .iter()
        .map(|r| {
            r["extensions"]["labels"]["by"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    by.sort();
    assert_eq!(by, ["a", "c"]);
    let fluentd = receiver.records();
    assert_eq!(fluentd.len(), 1);
    let record = fluentd[0].to_string();
    assert!(record.contains("\"by\""), "{record}");
    assert_eq!(engine.core().metrics.totals.snapshot()[1], 3);
}

#[tokio::test]
async fn without_handlers_events_are_dropped_and_counted() {
    let engine = Engine::start(EngineOptions::default());
    apply(&engine, vec![], (1, 1, 1)).await;
    deliver(engine.core(), queued()).await;
    deliver(engine.core(), queued()).await;
    assert_eq!(engine.core().metrics.totals.snapshot()[2], 2);
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, &engine.core().registry).unwrap();
    assert!(
        text.contains("events_dropped_total{reason=\"no_handler\"} 2"),
        "{text}"
    );
    assert!(
        text.contains("events_processed_total{type=\"com.example.created\"} 2"),
        "{text}"
    );
}

#[tokio::test]
async fn a_missing_output_fails_the_route_and_a_deleted_one_stops_its_retries() {
    let engine = Engine::start(EngineOptions::default());
    let missing = Route {
        handler: "h".into(),
        labels: Default::default(),
        encoder: Default::default(),
        output_name: "nowhere".into(),
        output: None,
    };
    apply(&engine, vec![missing], (1, 1, 1)).await;
    deliver(engine.core(), queued()).await;

    // A delivery retrying against a dead fluentd ends when the output is deleted.
    let dir = tempfile::tempdir().unwrap();
    let r = route("h2", "gone", &[], &engine, nothing_listening(&dir));
    apply(&engine, vec![r], (1000, 50, 50)).await;
    let core = engine.core().clone();
    let delivering = tokio::spawn(async move { deliver(&core, queued()).await });
    tokio::time::sleep(Duration::from_millis(200)).await;
    engine.sync_outputs(&[]);
    apply(&engine, vec![], (1000, 50, 50)).await;
    tokio::time::timeout(Duration::from_secs(5), delivering)
        .await
        .unwrap()
        .unwrap();
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, &engine.core().registry).unwrap();
    assert!(text.contains("reason=\"output_missing\"} 1"), "{text}");
    assert!(
        text.contains("output=\"gone\",reason=\"output_deleted\"} 1"),
        "{text}"
    );
}
