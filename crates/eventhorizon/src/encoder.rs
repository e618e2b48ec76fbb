//! What a handler does to an event before its output sees it: the `labels` extension, and the
//! `map` encoder's record `{specversion, id, subject, source, type, time, extensions, data}`.

use base64::Engine as _;
use cloudevents::event::{Data, ExtensionValue};
use cloudevents::{AttributesReader, Event};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

/// The extension handler labels are carried in (a JSON object, as text: CloudEvents extension
/// values are strings, integers or booleans).
pub const LABELS_EXTENSION: &str = "labels";

/// `event` with `labels` set as its [`LABELS_EXTENSION`] (merged over labels it already has;
/// the handler's win). Unchanged when `labels` is empty.
pub fn with_labels(event: &Event, labels: &BTreeMap<String, String>) -> Event {
    let mut event = event.clone();
    if labels.is_empty() {
        return event;
    }
    let mut merged: BTreeMap<String, Value> = match event.extension(LABELS_EXTENSION) {
        Some(ExtensionValue::String(text)) => serde_json::from_str(text).unwrap_or_default(),
        _ => BTreeMap::new(),
    };
    for (k, v) in labels {
        merged.insert(k.clone(), Value::String(v.clone()));
    }
    let text = serde_json::to_string(&merged).unwrap_or_default();
    event.set_extension(LABELS_EXTENSION, ExtensionValue::String(text));
    event
}

/// Binary data (what binary mode delivers): JSON when the content type says so and it parses,
/// text when it is UTF-8, base64 otherwise.
fn binary_data(bytes: &[u8], content_type: Option<&str>) -> Value {
    let json_type = content_type.is_none_or(|ct| {
        let ct = ct.split(';').next().unwrap_or_default().trim();
        ct == "application/json" || ct.ends_with("+json") || ct == "text/json"
    });
    if json_type && let Ok(v) = serde_json::from_slice(bytes) {
        return v;
    }
    match std::str::from_utf8(bytes) {
        Ok(text) => Value::String(text.to_string()),
        Err(_) => Value::String(base64::engine::general_purpose::STANDARD.encode(bytes)),
    }
}

/// The `map` encoder's record. `time` is RFC 3339 (empty when the event has none); the labels
/// extension appears as an object; `data` is the JSON value for JSON data (also binary-mode
/// bodies of a JSON content type), the text for other UTF-8 data, and base64 for the rest.
pub fn encode_map(event: &Event) -> Value {
    let mut extensions = Map::new();
    for (name, value) in event.iter_extensions() {
        let value = match value {
            ExtensionValue::String(s) if name == LABELS_EXTENSION => {
                serde_json::from_str::<Value>(s).unwrap_or_else(|_| Value::String(s.clone()))
            }
            ExtensionValue::String(s) => Value::String(s.clone()),
            ExtensionValue::Boolean(b) => Value::Bool(*b),
            ExtensionValue::Integer(i) => Value::from(*i),
        };
        extensions.insert(name.to_string(), value);
    }
    let data = match event.data() {
        None => Value::Null,
        Some(Data::Json(v)) => v.clone(),
        Some(Data::String(s)) => {
            serde_json::from_str(s).unwrap_or_else(|_| Value::String(s.clone()))
        }
        Some(Data::Binary(b)) => binary_data(b, event.datacontenttype()),
    };
    json!({
        "specversion": event.specversion().as_str(),
        "id": event.id(),
        "subject": event.subject().unwrap_or_default(),
        "source": event.source().to_string(),
        "type": event.ty(),
        "time": event.time().map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)).unwrap_or_default(),
        "extensions": Value::Object(extensions),
        "data": data,
    })
}
