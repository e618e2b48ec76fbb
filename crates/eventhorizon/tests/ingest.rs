//! HTTP ingest: every content mode × spec version, batches, invalid events, the size limit,
//! a full backlog, health, and validators enforced at ingest.

mod common;

use common::{Lines, binary_headers, eventually, request};
use kubeforge_eventhorizon::engine::{Engine, EngineOptions};
use kubeforge_eventhorizon::routes::{Route, Routes};
use kubeforge_eventhorizon::settings::Settings;
use kubeforge_eventhorizon::types::{
    CloudEventOutputSpec, CloudEventValidatorSpec, SingularitySpec,
};
use kubeforge_eventhorizon::validator::{Validator, order};
use serde_json::json;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

fn settings(tweak: impl FnOnce(&mut Settings)) -> Settings {
    let mut s = Settings::from_spec(&SingularitySpec {
        ..serde_json::from_value(json!({})).unwrap()
    })
    .unwrap();
    s.port = 0;
    s.metrics = Some((0, "/metrics".into()));
    tweak(&mut s);
    s
}

/// An engine on loopback whose one handler `h` writes to a stdout buffer.
async fn engine(
    options: EngineOptions,
    settings: Settings,
    validators: Vec<Validator>,
) -> (Arc<Engine>, SocketAddr, Lines) {
    let lines = Lines::default();
    let engine = Engine::start(EngineOptions {
        bind: IpAddr::V4(Ipv4Addr::LOCALHOST),
        stdout: lines.writer(),
        ..options
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
        validators,
    };
    let applied = engine.apply(Some(settings), routes).await;
    assert!(applied.errors.is_empty(), "{:?}", applied.errors);
    (engine, applied.ingest.unwrap(), lines)
}

#[tokio::test]
async fn binary_and_structured_modes_in_both_spec_versions() {
    let (engine, addr, lines) = engine(EngineOptions::default(), settings(|_| {}), vec![]).await;
    for version in ["1.0", "0.3"] {
        let id = format!("binary-{version}");
        let answer = request(
            addr,
            "POST",
            "/",
            &binary_headers(version, &id),
            r#"{"n":1}"#,
        )
        .await
        .unwrap();
        assert_eq!(answer.status, 202, "{}", answer.body);

        let body = json!({
            "specversion": version, "id": format!("structured-{version}"),
            "type": "com.example.created", "source": "/tests",
            "datacontenttype": "application/json", "data": {"n": 2}
        });
        let answer = request(
            addr,
            "POST",
            "/",
            &[("content-type", "application/cloudevents+json")],
            body.to_string(),
        )
        .await
        .unwrap();
        assert_eq!(answer.status, 202, "{}", answer.body);
    }
    let records = eventually("four records", || {
        let r = lines.records();
        (r.len() == 4).then_some(r)
    })
    .await;
    let mut seen: Vec<(String, String)> = records
        .iter()
        .map(|r| {
            (
                r["id"].as_str().unwrap().into(),
                r["specversion"].as_str().unwrap().into(),
            )
        })
        .collect();
    seen.sort();
    assert_eq!(
        seen,
        [
            ("binary-0.3".into(), "0.3".into()),
            ("binary-1.0".into(), "1.0".into()),
            ("structured-0.3".into(), "0.3".into()),
            ("structured-1.0".into(), "1.0".into()),
        ]
    );
    assert!(records.iter().all(|r| r["data"]["n"].is_number()));
    engine.shutdown().await;
}

#[tokio::test]
async fn batches_are_accepted_whole_or_refused_whole() {
    let (engine, addr, lines) = engine(EngineOptions::default(), settings(|_| {}), vec![]).await;
    let batch = json!([
        {"specversion": "1.0", "id": "b1", "type": "t", "source": "/s"},
        {"specversion": "0.3", "id": "b2", "type": "t", "source": "/s"},
    ]);
    let answer = request(
        addr,
        "POST",
        "/",
        &[("content-type", "application/cloudevents-batch+json")],
        batch.to_string(),
    )
    .await
    .unwrap();
    assert_eq!(answer.status, 202);
    eventually("two records", || (lines.records().len() == 2).then_some(())).await;

    let bad = json!([
        {"specversion": "1.0", "id": "b3", "type": "t", "source": "/s"},
        {"specversion": "1.0", "type": "t", "source": "/s"},
    ]);
    let answer = request(
        addr,
        "POST",
        "/",
        &[("content-type", "application/cloudevents-batch+json")],
        bad.to_string(),
    )
    .await
    .unwrap();
    assert_eq!(answer.status, 400);
    assert!(
        answer.body.contains("event 1") && answer.body.contains("id"),
        "{}",
        answer.body
    );
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    assert_eq!(
        lines.records().len(),
        2,
        "nothing of a refused batch is queued"
    );
    engine.shutdown().await;
}

#[tokio::test]
async fn invalid_events_name_the_attribute() {
    let (engine, addr, _) = engine(EngineOptions::default(), settings(|_| {}), vec![]).await;
    let full = binary_headers("1.0", "x");
    for missing in ["ce-id", "ce-type", "ce-source"] {
        let headers: Vec<_> = full
            .iter()
            .filter(|(k, _)| *k != missing)
            .cloned()
            .collect();
        let answer = request(addr, "POST", "/", &headers, "{}").await.unwrap();
        assert_eq!(answer.status, 400, "without {missing}");
        let attribute = missing.trim_start_matches("ce-");
        assert!(
            answer.body.contains(attribute),
            "{missing}: {}",
            answer.body
        );
    }
    let mut empty_id = full.clone();
    empty_id[1] = ("ce-id", "");
    let answer = request(addr, "POST", "/", &empty_id, "{}").await.unwrap();
    assert_eq!(answer.status, 400);
    assert!(
        answer.body.contains("attribute id must not be empty"),
        "{}",
        answer.body
    );

    let mut version = full.clone();
    version[0] = ("ce-specversion", "9.9");
    let answer = request(addr, "POST", "/", &version, "{}").await.unwrap();
    assert_eq!(answer.status, 400);
    assert!(answer.body.contains("9.9"), "{}", answer.body);

    let mut time = full.clone();
    time.push(("ce-time", "yesterday"));
    let answer = request(addr, "POST", "/", &time, "{}").await.unwrap();
    assert_eq!(answer.status, 400);
    assert!(answer.body.contains("time"), "{}", answer.body);

    let answer = request(
        addr,
        "POST",
        "/",
        &[("content-type", "application/cloudevents+json")],
        r#"{"specversion":"1.0","id":"1","type":"t"}"#,
    )
    .await
    .unwrap();
    assert_eq!(answer.status, 400);
    assert!(answer.body.contains("source"), "{}", answer.body);
    let metrics = engine.core().metrics.totals.snapshot();
    assert_eq!(metrics[4], 7, "every refusal is counted");
    engine.shutdown().await;
}

#[tokio::test]
async fn oversize_bodies_get_413() {
    let options = EngineOptions {
        max_body_bytes: 1024,
        ..EngineOptions::default()
    };
    let (engine, addr, _) = engine(options, settings(|_| {}), vec![]).await;
    let big = format!("{{\"pad\":\"{}\"}}", "x".repeat(2000));
    let answer = request(addr, "POST", "/", &binary_headers("1.0", "big"), big)
        .await
        .unwrap();
    assert_eq!(answer.status, 413, "{}", answer.body);
    let small = request(addr, "POST", "/", &binary_headers("1.0", "ok"), "{}")
        .await
        .unwrap();
    assert_eq!(small.status, 202);
    engine.shutdown().await;
}

#[tokio::test]
async fn a_full_backlog_answers_503_and_counts() {
    // One delivery at a time to a fluentd that never acks: the queue fills.
    let (receiver, port) =
        common::receiver::Receiver::tcp(common::receiver::Behavior::NeverAck).await;
    let lines = Lines::default();
    let engine = Engine::start(EngineOptions {
        bind: IpAddr::V4(Ipv4Addr::LOCALHOST),
        max_in_flight: 1,
        drain_timeout: std::time::Duration::from_millis(200),
        stdout: lines.writer(),
        ..EngineOptions::default()
    });
    let outputs = engine.sync_outputs(&[(
        "stuck".to_string(),
        serde_json::from_value(json!({"type": "fluentd", "fluentd": {
            "port": port, "requestAck": true, "timeout": "30s"}}))
        .unwrap(),
    )]);
    let routes = Routes {
        routes: vec![Route {
            handler: "h".into(),
            labels: Default::default(),
            encoder: Default::default(),
            output_name: "stuck".into(),
            output: outputs["stuck"].clone().ok(),
        }],
        validators: vec![],
    };
    let applied = engine
        .apply(Some(settings(|s| s.backlog = 2)), routes)
        .await;
    let addr = applied.ingest.unwrap();
    let mut statuses = Vec::new();
    for i in 0..8 {
        let answer = request(
            addr,
            "POST",
            "/",
            &binary_headers("1.0", &i.to_string()),
            "{}",
        )
        .await
        .unwrap();
        if answer.status == 503 {
            assert!(answer.body.contains("backlog full"), "{}", answer.body);
            assert_eq!(answer.headers["retry-after"], "1");
        }
        statuses.push(answer.status);
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(statuses.contains(&503), "{statuses:?}");
    assert_eq!(
        statuses.iter().filter(|s| **s == 202).count(),
        4,
        "one delivering, one waiting, two queued: {statuses:?}"
    );
    let rejected = engine.core().metrics.totals.snapshot()[4];
    assert_eq!(rejected, 4);
    let metrics_addr = applied.metrics.unwrap();
    let text = request(metrics_addr, "GET", "/metrics", &[], "")
        .await
        .unwrap()
        .body;
    assert!(
        text.contains("events_rejected_total{reason=\"backlog_full\"} 4"),
        "{text}"
    );
    assert!(text.contains("queue_depth 2"), "{text}");
    let report = engine.shutdown().await;
    assert_eq!(report.queued + report.in_flight, 4, "{report:?}");
    drop(receiver);
}

#[tokio::test]
async fn health_and_status_code_ok() {
    let (engine, addr, _) = engine(
        EngineOptions::default(),
        settings(|s| s.use_status_code_ok = true),
        vec![],
    )
    .await;
    let healthz = request(addr, "GET", "/healthz", &[], "").await.unwrap();
    assert_eq!((healthz.status, healthz.body.as_str()), (200, "ok"));
    let readyz = request(addr, "GET", "/readyz", &[], "").await.unwrap();
    assert_eq!(readyz.status, 200);
    let answer = request(addr, "POST", "/", &binary_headers("1.0", "ok"), "{}")
        .await
        .unwrap();
    assert_eq!(answer.status, 200, "useStatusCodeOK");
    engine.shutdown().await;
}

#[tokio::test]
async fn validators_allow_and_deny_by_type_and_source_in_priority_order() {
    let validator = |name: &str, priority: i32, types: &[&str], sources: &[&str]| {
        Validator::new(
            name,
            &CloudEventValidatorSpec {
                handlers: vec!["h".into()],
                priority,
                allowed_types: types.iter().map(|s| s.to_string()).collect(),
                allowed_sources: sources.iter().map(|s| s.to_string()).collect(),
            },
        )
        .unwrap()
    };
    let mut validators = vec![
        validator("low", 1, &["com.example.*"], &[]),
        validator("high", 10, &[], &["/^/tests(/.*)?$/"]),
        validator("other-handler", 100, &["never"], &[]),
    ];
    validators[2].handlers = vec!["someone-else".into()];
    order(&mut validators);
    let (engine, addr, lines) = engine(
        EngineOptions::default(),
        settings(|s| s.validation = true),
        validators,
    )
    .await;
    let ok = request(addr, "POST", "/", &binary_headers("1.0", "ok"), "{}")
        .await
        .unwrap();
    assert_eq!(ok.status, 202, "{}", ok.body);

    let mut wrong_type = binary_headers("1.0", "t");
    wrong_type[2] = ("ce-type", "org.other.created");
    let answer = request(addr, "POST", "/", &wrong_type, "{}").await.unwrap();
    assert_eq!(answer.status, 400);
    assert!(
        answer.body.contains("type \"org.other.created\"") && answer.body.contains("low"),
        "{}",
        answer.body
    );

    // Both fail: the higher priority one is named.
    let mut both = wrong_type.clone();
    both[3] = ("ce-source", "/elsewhere");
    let answer = request(addr, "POST", "/", &both, "{}").await.unwrap();
    assert_eq!(answer.status, 400);
    assert!(
        answer.body.contains("source \"/elsewhere\"") && answer.body.contains("high"),
        "{}",
        answer.body
    );

    eventually("the allowed event", || {
        (lines.records().len() == 1).then_some(())
    })
    .await;
    let text = {
        let mut t = String::new();
        prometheus_client::encoding::text::encode(&mut t, &engine.core().registry).unwrap();
        t
    };
    assert!(
        text.contains("events_rejected_total{reason=\"denied\"} 2"),
        "{text}"
    );
    engine.shutdown().await;
}

#[tokio::test]
async fn a_stopped_engine_resumes_on_the_next_apply() {
    // What happens when this process loses and regains the leader lease under `up`/`run`.
    let (engine, addr, lines) = engine(EngineOptions::default(), settings(|_| {}), vec![]).await;
    let report = engine.shutdown().await;
    assert_eq!((report.queued, report.in_flight), (0, 0));
    assert!(
        request(addr, "GET", "/healthz", &[], "").await.is_err(),
        "ingest stopped"
    );
    let routes = engine.core().routes();
    let applied = engine
        .apply(Some(settings(|_| {})), (*routes).clone())
        .await;
    let addr = applied.ingest.expect("listening again");
    let answer = request(addr, "POST", "/", &binary_headers("1.0", "again"), "{}")
        .await
        .unwrap();
    assert_eq!(answer.status, 202);
    eventually("delivery after the resume", || {
        (lines.records().len() == 1).then_some(())
    })
    .await;
    engine.shutdown().await;
}
