//! A Fluentd Forward Protocol v1 server, from the specification: it reads msgpack arrays in
//! Message (`[tag, time, record, option?]`), Forward (`[tag, [[time, record]...], option?]`) and
//! PackedForward (`[tag, bin|str of concatenated entries, option?]`) modes, decodes `time` as an
//! integer or an EventTime (ext type 0, 32-bit big-endian seconds and nanoseconds), and answers
//! `{"ack": <chunk>}` for messages whose option carries `chunk` — or misbehaves as told.

use rmpv::Value;
use std::io::Cursor;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, UnixListener};
use tokio::time::Instant;

/// How the receiver behaves.
#[derive(Clone, Debug)]
pub enum Behavior {
    /// Acks every chunk.
    Ack,
    /// Reads and never acks.
    NeverAck,
    /// Closes the connection on the first `n` messages without acking (or storing) them.
    CloseFirst(usize),
    /// Waits this long before reading each message (and acking).
    Slow(Duration),
}

/// One received message.
#[derive(Clone, Debug, PartialEq)]
pub struct Message {
    /// `message`, `forward` or `packed`.
    pub mode: &'static str,
    /// The tag.
    pub tag: String,
    /// `(seconds, nanos or None for integer time, record)` per entry.
    pub entries: Vec<(u64, Option<u32>, Value)>,
    /// The option map, when sent.
    pub option: Option<Value>,
}

/// What the receiver has seen.
#[derive(Default, Debug)]
pub struct Seen {
    /// Messages stored.
    pub messages: Vec<Message>,
    /// When each connection was accepted.
    pub connections: Vec<Instant>,
}

/// A running receiver.
#[derive(Clone)]
pub struct Receiver {
    pub seen: Arc<Mutex<Seen>>,
}

impl Receiver {
    /// Every record stored, in order.
    pub fn records(&self) -> Vec<Value> {
        self.seen
            .lock()
            .unwrap()
            .messages
            .iter()
            .flat_map(|m| m.entries.iter().map(|e| e.2.clone()))
            .collect()
    }

    /// Messages stored.
    pub fn messages(&self) -> Vec<Message> {
        self.seen.lock().unwrap().messages.clone()
    }

    /// Connection accept times.
    pub fn connections(&self) -> Vec<Instant> {
        self.seen.lock().unwrap().connections.clone()
    }

    /// Listens on TCP `127.0.0.1:0`; returns the receiver and its port.
    pub async fn tcp(behavior: Behavior) -> (Receiver, u16) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let listener = Arc::new(listener);
        let receiver = Receiver::start(behavior, move || {
            let listener = listener.clone();
            async move { listener.accept().await.ok().map(|(s, _)| s) }
        });
        (receiver, port)
    }

    /// Listens on a unix socket at `path`.
    pub async fn unix(path: &Path, behavior: Behavior) -> Receiver {
        let listener = Arc::new(UnixListener::bind(path).unwrap());
        Receiver::start(behavior, move || {
            let listener = listener.clone();
            async move { listener.accept().await.ok().map(|(s, _)| s) }
        })
    }

    /// Serves every connection `accept` yields, with `behavior`.
    fn start<S, F, Fut>(behavior: Behavior, mut accept: F) -> Receiver
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
        F: FnMut() -> Fut + Send + 'static,
        Fut: std::future::Future<Output = Option<S>> + Send,
    {
        let receiver = Receiver {
            seen: Arc::default(),
        };
        let r = receiver.clone();
        tokio::spawn(async move {
            let mut connection = 0;
            while let Some(stream) = accept().await {
                r.seen.lock().unwrap().connections.push(Instant::now());
                tokio::spawn(serve(stream, behavior.clone(), r.clone(), connection));
                connection += 1;
            }
        });
        receiver
    }
}

fn time_of(v: &Value) -> (u64, Option<u32>) {
    match v {
        Value::Integer(i) => (i.as_u64().expect("time is a non-negative integer"), None),
        Value::Ext(0, bytes) => {
            assert_eq!(bytes.len(), 8, "EventTime carries 8 bytes");
            let secs = u32::from_be_bytes(bytes[..4].try_into().unwrap());
            let nanos = u32::from_be_bytes(bytes[4..].try_into().unwrap());
            (secs as u64, Some(nanos))
        }
        other => panic!("time must be an integer or EventTime, got {other:?}"),
    }
}

fn entry(v: &Value) -> (u64, Option<u32>, Value) {
    let items = v.as_array().expect("an entry is [time, record]");
    assert_eq!(items.len(), 2, "an entry is [time, record]");
    assert!(items[1].is_map(), "a record is a map");
    let (s, n) = time_of(&items[0]);
    (s, n, items[1].clone())
}

/// Decodes one message per the spec (panics on anything the spec does not allow).
pub fn parse(v: &Value) -> Message {
    let items = v.as_array().expect("a message is an array");
    let tag = items[0].as_str().expect("the tag is a string").to_string();
    match &items[1] {
        Value::Array(entries) => {
            assert!(items.len() <= 3, "forward mode: [tag, entries, option?]");
            Message {
                mode: "forward",
                tag,
                entries: entries.iter().map(entry).collect(),
                option: items.get(2).cloned(),
            }
        }
        Value::Binary(_) | Value::String(_) => {
            let bytes = match &items[1] {
                Value::Binary(b) => b.clone(),
                Value::String(s) => s.as_bytes().to_vec(),
                _ => unreachable!(),
            };
            let mut cursor = Cursor::new(bytes.as_slice());
            let mut entries = Vec::new();
            while (cursor.position() as usize) < bytes.len() {
                entries.push(entry(&rmpv::decode::read_value(&mut cursor).unwrap()));
            }
            Message {
                mode: "packed",
                tag,
                entries,
                option: items.get(2).cloned(),
            }
        }
        time => {
            assert!(
                items.len() == 3 || items.len() == 4,
                "message mode: [tag, time, record, option?]"
            );
            let (s, n) = time_of(time);
            assert!(items[2].is_map(), "a record is a map");
            Message {
                mode: "message",
                tag,
                entries: vec![(s, n, items[2].clone())],
                option: items.get(3).cloned(),
            }
        }
    }
}

fn chunk_of(option: &Option<Value>) -> Option<String> {
    option
        .as_ref()?
        .as_map()?
        .iter()
        .find_map(|(k, v)| (k.as_str() == Some("chunk")).then(|| v.as_str().map(str::to_string))?)
}

async fn serve<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    behavior: Behavior,
    receiver: Receiver,
    connection: usize,
) {
    let mut buf: Vec<u8> = Vec::new();
    loop {
        if let Behavior::Slow(delay) = behavior {
            tokio::time::sleep(delay).await;
        }
        // Decode one whole value, reading more while it is incomplete.
        let value = loop {
            let mut cursor = Cursor::new(buf.as_slice());
            match rmpv::decode::read_value(&mut cursor) {
                Ok(v) => {
                    let used = cursor.position() as usize;
                    buf.drain(..used);
                    break v;
                }
                Err(_) => {
                    let mut chunk = [0u8; 65536];
                    match stream.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
            }
        };
        if let Behavior::CloseFirst(n) = behavior
            && connection < n
        {
            return;
        }
        let message = parse(&value);
        let chunk = chunk_of(&message.option);
        receiver.seen.lock().unwrap().messages.push(message);
        if matches!(behavior, Behavior::NeverAck) {
            continue;
        }
        if let Some(chunk) = chunk {
            let ack = Value::Map(vec![(Value::from("ack"), Value::from(chunk))]);
            let mut out = Vec::new();
            rmpv::encode::write_value(&mut out, &ack).unwrap();
            if stream.write_all(&out).await.is_err() {
                return;
            }
        }
    }
}
