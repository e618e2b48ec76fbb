//! The Fluentd Forward Protocol v1, client side, on rmp-serde: what goes on the wire.
//!
//! - Message mode: `[tag, time, record]`, or `[tag, time, record, option]`.
//! - Forward mode: `[tag, [[time, record], ...], option]`.
//! - PackedForward mode: `[tag, bin, option]`, the `bin` being the entries `[time, record]`
//!   encoded one after another (a receiver can store or pass them on without decoding them).
//! - `time` is an integer of seconds, or an `EventTime`: ext type 0 with 32-bit big-endian
//!   seconds then 32-bit big-endian nanoseconds (fixext 8).
//! - `option` is a map: `size` (entries in a Forward message), `chunk` (an id the server echoes
//!   as `{"ack": id}` once it has the message).

use base64::Engine as _;
use serde::ser::{Serialize, SerializeMap, SerializeTuple, Serializer};
use serde_json::Value;
use std::time::{SystemTime, UNIX_EPOCH};

/// When an event happened, as the Forward protocol carries it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventTime {
    /// Integer seconds since the epoch.
    Seconds(u32),
    /// EventTime (ext type 0): seconds and nanoseconds.
    Precise {
        /// Seconds since the epoch.
        seconds: u32,
        /// Nanoseconds within the second.
        nanos: u32,
    },
}

impl EventTime {
    /// `at`, precise or in whole seconds.
    pub fn at(at: SystemTime, sub_second: bool) -> EventTime {
        let since = at.duration_since(UNIX_EPOCH).unwrap_or_default();
        let seconds = since.as_secs().min(u32::MAX as u64) as u32;
        if sub_second {
            EventTime::Precise {
                seconds,
                nanos: since.subsec_nanos(),
            }
        } else {
            EventTime::Seconds(seconds)
        }
    }
}

/// Ext type of EventTime.
pub const EVENT_TIME_EXT: i8 = 0;

impl Serialize for EventTime {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match *self {
            EventTime::Seconds(s) => serializer.serialize_u32(s),
            EventTime::Precise { seconds, nanos } => {
                let mut payload = [0u8; 8];
                payload[..4].copy_from_slice(&seconds.to_be_bytes());
                payload[4..].copy_from_slice(&nanos.to_be_bytes());
                serializer.serialize_newtype_struct(
                    rmp_serde::MSGPACK_EXT_STRUCT_NAME,
                    &(EVENT_TIME_EXT, serde_bytes::Bytes::new(&payload)),
                )
            }
        }
    }
}

/// One entry: a time and a record.
#[derive(Debug, Clone)]
pub struct Entry {
    /// When.
    pub time: EventTime,
    /// The record (a JSON object becomes a msgpack map).
    pub record: Value,
}

struct Options<'a> {
    size: Option<usize>,
    chunk: Option<&'a str>,
}

impl Serialize for Options<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let len = self.size.is_some() as usize + self.chunk.is_some() as usize;
        let mut map = serializer.serialize_map(Some(len))?;
        if let Some(size) = self.size {
            map.serialize_entry("size", &size)?;
        }
        if let Some(chunk) = self.chunk {
            map.serialize_entry("chunk", chunk)?;
        }
        map.end()
    }
}

struct EntryRef<'a>(&'a Entry);

impl Serialize for EntryRef<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut t = serializer.serialize_tuple(2)?;
        t.serialize_element(&self.0.time)?;
        t.serialize_element(&self.0.record)?;
        t.end()
    }
}

struct Entries<'a>(&'a [Entry]);

impl Serialize for Entries<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut t = serializer.serialize_tuple(self.0.len())?;
        for e in self.0 {
            t.serialize_element(&EntryRef(e))?;
        }
        t.end()
    }
}

/// A new chunk id: 16 random bytes, base64 (the spec recommends base64 of 128 bits).
pub fn new_chunk_id() -> String {
    base64::engine::general_purpose::STANDARD.encode(uuid::Uuid::new_v4().as_bytes())
}

/// How a batch of more than one entry goes on the wire (one entry is always a Message).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Batch {
    /// Forward mode: the entries as a msgpack array.
    Forward,
    /// PackedForward mode: the entries as one binary (what the output sends: the receiver
    /// does not have to decode the entries to store or forward them).
    #[default]
    PackedForward,
}

/// Encodes `entries` for `tag`: Message mode for one entry, `batch` mode for more; with
/// `chunk`, the server is asked to acknowledge it.
pub fn encode(
    tag: &str,
    entries: &[Entry],
    chunk: Option<&str>,
    batch: Batch,
) -> Result<Vec<u8>, String> {
    let failed = |e: rmp_serde::encode::Error| format!("encoding a forward message: {e}");
    let mut out = Vec::with_capacity(64 + entries.len() * 256);
    let mut ser = rmp_serde::Serializer::new(&mut out);
    let options = |many: &[Entry]| Options {
        size: Some(many.len()),
        chunk,
    };
    match entries {
        [] => return Ok(Vec::new()),
        [one] if chunk.is_none() => (tag, &one.time, &one.record).serialize(&mut ser),
        [one] => (tag, &one.time, &one.record, Options { size: None, chunk }).serialize(&mut ser),
        many if batch == Batch::Forward => (tag, Entries(many), options(many)).serialize(&mut ser),
        many => {
            let mut packed = Vec::with_capacity(many.len() * 256);
            let mut inner = rmp_serde::Serializer::new(&mut packed);
            for entry in many {
                EntryRef(entry).serialize(&mut inner).map_err(failed)?;
            }
            (tag, serde_bytes::Bytes::new(&packed), options(many)).serialize(&mut ser)
        }
    }
    .map_err(failed)?;
    Ok(out)
}

/// A server's answer: `{"ack": "<chunk>"}`.
#[derive(Debug, serde::Deserialize)]
pub struct Ack {
    /// The acknowledged chunk id.
    pub ack: String,
}

/// Decodes one [`Ack`] from the start of `buf`: `Ok(None)` when more bytes are needed,
/// otherwise the ack and how many bytes it took.
pub fn decode_ack(buf: &[u8]) -> Result<Option<(Ack, usize)>, String> {
    let mut cursor = std::io::Cursor::new(buf);
    let mut de = rmp_serde::Deserializer::new(&mut cursor);
    match <Ack as serde::Deserialize>::deserialize(&mut de) {
        Ok(ack) => Ok(Some((ack, cursor.position() as usize))),
        Err(rmp_serde::decode::Error::InvalidMarkerRead(e))
        | Err(rmp_serde::decode::Error::InvalidDataRead(e))
            if e.kind() == std::io::ErrorKind::UnexpectedEof =>
        {
            Ok(None)
        }
        Err(e) => Err(format!("invalid ack from the server: {e}")),
    }
}
