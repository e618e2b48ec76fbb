//! The Fluentd Forward output against a receiver written from the Forward Protocol v1
//! specification: modes, acks, reconnects, timeouts, TCP and unix sockets, and the exact bytes.

mod common;

use cloudevents::EventBuilder;
use common::receiver::{Behavior, Receiver};
use kubeforge_eventhorizon::forward::{self, Batch, Entry, EventTime};
use kubeforge_eventhorizon::output::Output;
use kubeforge_eventhorizon::types::{CloudEventOutputSpec, FluentdSpec, Network, OutputType};
use serde_json::json;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

fn spec(port: u16, tweak: impl FnOnce(&mut FluentdSpec)) -> CloudEventOutputSpec {
    let mut fluentd: FluentdSpec = serde_json::from_value(json!({})).unwrap();
    fluentd.port = port as i32;
    fluentd.retry_wait = 10;
    fluentd.max_retry_wait = 50;
    tweak(&mut fluentd);
    CloudEventOutputSpec {
        r#type: OutputType::Fluentd,
        fluentd: Some(fluentd),
        http: None,
    }
}

fn event(id: &str) -> cloudevents::Event {
    cloudevents::EventBuilderV10::new()
        .id(id)
        .ty("com.example.created")
        .source("/tests")
        .build()
        .unwrap()
}

async fn send(output: &Arc<Output>, id: &str) -> Result<(), String> {
    output
        .send(&event(id), json!({"id": id}), SystemTime::now())
        .await
}

fn ids(receiver: &Receiver) -> Vec<String> {
    receiver
        .records()
        .iter()
        .map(|r| r.as_map().unwrap()[0].1.as_str().unwrap().to_string())
        .collect()
}

#[test]
fn golden_bytes_of_one_event() {
    let entry = Entry {
        time: EventTime::Precise {
            seconds: 1_700_000_000,
            nanos: 123_456_789,
        },
        record: json!({"id": "1"}),
    };
    let bytes = forward::encode(
        "eventhorizon",
        std::slice::from_ref(&entry),
        Some("Y2h1bmsx"),
        Batch::PackedForward,
    )
    .unwrap();
    let mut want = vec![0x94]; // fixarray of 4: [tag, time, record, option]
    want.push(0xac); // fixstr of 12
    want.extend_from_slice(b"eventhorizon");
    want.extend_from_slice(&[0xd7, 0x00]); // fixext 8, type 0 (EventTime)
    want.extend_from_slice(&1_700_000_000u32.to_be_bytes());
    want.extend_from_slice(&123_456_789u32.to_be_bytes());
    want.extend_from_slice(&[0x81, 0xa2, b'i', b'd', 0xa1, b'1']); // {"id": "1"}
    want.extend_from_slice(&[0x81, 0xa5]); // {"chunk": "Y2h1bmsx"}
    want.extend_from_slice(b"chunk");
    want.push(0xa8);
    want.extend_from_slice(b"Y2h1bmsx");
    assert_eq!(bytes, want);

    // Integer time, no ack: [tag, time, record].
    let plain = Entry {
        time: EventTime::Seconds(1_700_000_000),
        ..entry
    };
    let bytes = forward::encode("t", std::slice::from_ref(&plain), None, Batch::Forward).unwrap();
    let mut want = vec![0x93, 0xa1, b't', 0xce];
    want.extend_from_slice(&1_700_000_000u32.to_be_bytes());
    want.extend_from_slice(&[0x81, 0xa2, b'i', b'd', 0xa1, b'1']);
    assert_eq!(bytes, want);

    // Two entries, each `[time, record]`: fixarray 2, uint32 time, {"id": "1"}.
    let mut entry_bytes = vec![0x92, 0xce];
    entry_bytes.extend_from_slice(&1_700_000_000u32.to_be_bytes());
    entry_bytes.extend_from_slice(&[0x81, 0xa2, b'i', b'd', 0xa1, b'1']);
    let two = [plain.clone(), plain];
    let size_two = [0x81, 0xa4, b's', b'i', b'z', b'e', 0x02]; // {"size": 2}

    // Forward mode: [tag, [entry, entry], option].
    let bytes = forward::encode("t", &two, None, Batch::Forward).unwrap();
    let mut want = vec![0x93, 0xa1, b't', 0x92];
    want.extend_from_slice(&entry_bytes);
    want.extend_from_slice(&entry_bytes);
    want.extend_from_slice(&size_two);
    assert_eq!(bytes, want);

    // PackedForward mode: [tag, bin 8 of the two entries, option].
    let bytes = forward::encode("t", &two, None, Batch::PackedForward).unwrap();
    let mut want = vec![0x93, 0xa1, b't', 0xc4, (entry_bytes.len() * 2) as u8];
    want.extend_from_slice(&entry_bytes);
    want.extend_from_slice(&entry_bytes);
    want.extend_from_slice(&size_two);
    assert_eq!(bytes, want);
}

#[tokio::test]
async fn message_mode_with_ack_over_tcp() {
    let (receiver, port) = Receiver::tcp(Behavior::Ack).await;
    let output = Output::new(
        "fluentd",
        &spec(port, |f| {
            f.request_ack = true;
            f.sub_second_precision = true;
            f.tag_prefix = "acme".into();
        }),
        &Default::default(),
    )
    .unwrap();
    let before = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    send(&output, "a").await.unwrap();
    let messages = receiver.messages();
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].mode, "message");
    assert_eq!(messages[0].tag, "acme.eventhorizon");
    let (secs, nanos, _) = &messages[0].entries[0];
    assert!(
        *secs >= before && nanos.is_some(),
        "EventTime with nanoseconds"
    );
    assert!(output.health.get().0, "connected");
}

#[tokio::test]
async fn concurrent_posts_go_out_in_packed_forward_mode() {
    let (receiver, port) = Receiver::tcp(Behavior::Slow(Duration::from_millis(30))).await;
    let output = Output::new(
        "fluentd",
        &spec(port, |f| f.request_ack = true),
        &Default::default(),
    )
    .unwrap();
    let posts: Vec<_> = (0..50)
        .map(|i| {
            let output = output.clone();
            tokio::spawn(async move { send(&output, &i.to_string()).await })
        })
        .collect();
    for p in posts {
        p.await.unwrap().unwrap();
    }
    let messages = receiver.messages();
    assert_eq!(ids(&receiver).len(), 50, "every event once");
    let forward: Vec<_> = messages.iter().filter(|m| m.mode == "packed").collect();
    assert!(!forward.is_empty(), "batched while the receiver was slow");
    for m in forward {
        let option = m.option.as_ref().unwrap().as_map().unwrap();
        let size = option
            .iter()
            .find(|(k, _)| k.as_str() == Some("size"))
            .unwrap();
        assert_eq!(size.1.as_u64(), Some(m.entries.len() as u64));
        assert_eq!(
            m.entries[0].1, None,
            "integer seconds without subSecondPrecision"
        );
    }
}

#[tokio::test]
async fn unix_socket_without_ack() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fluentd.sock");
    let receiver = Receiver::unix(&path, Behavior::Ack).await;
    let output = Output::new(
        "fluentd",
        &spec(0, |f| {
            f.network = Network::Unix;
            f.socket_path = path.display().to_string();
        }),
        &Default::default(),
    )
    .unwrap();
    send(&output, "u1").await.unwrap();
    send(&output, "u2").await.unwrap();
    common::eventually("both events", || (ids(&receiver).len() == 2).then_some(())).await;
    assert_eq!(ids(&receiver), ["u1", "u2"]);
    assert!(
        receiver.messages().iter().all(|m| m.option.is_none()),
        "no option without ack"
    );
}

#[tokio::test]
async fn a_receiver_that_closes_is_reconnected() {
    let (receiver, port) = Receiver::tcp(Behavior::CloseFirst(2)).await;
    let output = Output::new(
        "fluentd",
        &spec(port, |f| f.request_ack = true),
        &Default::default(),
    )
    .unwrap();
    send(&output, "after-reconnects").await.unwrap();
    assert_eq!(ids(&receiver), ["after-reconnects"]);
    assert_eq!(
        receiver.connections().len(),
        3,
        "two closed, the third acked"
    );
}

#[tokio::test]
async fn no_ack_times_out_and_retries_then_fails() {
    let (receiver, port) = Receiver::tcp(Behavior::NeverAck).await;
    let output = Output::new(
        "fluentd",
        &spec(port, |f| {
            f.request_ack = true;
            f.timeout = "100ms".into();
            f.max_retry = 3;
        }),
        &Default::default(),
    )
    .unwrap();
    let error = send(&output, "lost").await.unwrap_err();
    assert!(
        error.contains("no ack within 100ms") && error.contains("3 attempts"),
        "{error}"
    );
    assert_eq!(
        receiver.connections().len(),
        3,
        "a new connection per attempt"
    );
    let (connected, last_error) = output.health.get();
    assert!(!connected);
    assert!(last_error.unwrap().contains("no ack"));
}

#[tokio::test]
async fn nothing_listening_fails_after_max_retry() {
    let dir = tempfile::tempdir().unwrap();
    let output = Output::new(
        "fluentd",
        &spec(0, |f| {
            f.network = Network::Unix;
            f.socket_path = dir.path().join("absent.sock").display().to_string();
            f.max_retry = 2;
        }),
        &Default::default(),
    )
    .unwrap();
    let error = send(&output, "x").await.unwrap_err();
    assert!(
        error.contains("connecting") && error.contains("2 attempts"),
        "{error}"
    );
}

#[tokio::test]
async fn async_posts_return_at_once_and_buffer_limit_refuses() {
    // A slow receiver; async posts do not wait for it, and past bufferLimit posts fail at once.
    let (receiver, port) = Receiver::tcp(Behavior::Slow(Duration::from_millis(200))).await;
    let output = Output::new(
        "fluentd",
        &spec(port, |f| {
            f.r#async = true;
            f.buffer_limit = 2;
        }),
        &Default::default(),
    )
    .unwrap();
    let mut refused = 0;
    for i in 0..10 {
        if let Err(e) = send(&output, &i.to_string()).await {
            assert!(e.contains("buffer full"), "{e}");
            refused += 1;
        }
    }
    assert!(
        refused > 0,
        "bufferLimit 2 refuses some of 10 immediate posts"
    );
    common::eventually("the buffered events", || {
        (ids(&receiver).len() == 10 - refused).then_some(())
    })
    .await;
}

#[test]
fn invalid_settings_are_reported() {
    let bad = spec(1, |f| f.timeout = "3 seconds".into());
    let error = Output::new("x", &bad, &Default::default()).unwrap_err();
    assert!(error.contains("fluentd.timeout"), "{error}");
    let unix = spec(1, |f| f.network = Network::Unix);
    let error = Output::new("x", &unix, &Default::default()).unwrap_err();
    assert!(error.contains("socketPath"), "{error}");
}
