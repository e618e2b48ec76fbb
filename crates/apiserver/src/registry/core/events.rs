//! Events: core/v1 `Event` and events.k8s.io/v1 `Event` are one resource, as in kube-apiserver
//! (which stores both at core/v1). An event written through either API is read through both, so
//! events a kube-rs `Recorder` writes (events.k8s.io/v1) show in `kubectl describe` (which lists
//! core/v1 events with `fieldSelector=involvedObject.*`).
//!
//! events.k8s.io/v1 objects are converted to the core form before they are stored and back as
//! they are read, field for field as upstream's conversion (`regarding` ↔ `involvedObject`,
//! `note` ↔ `message`, `reportingController` ↔ `reportingComponent`, the `deprecated*` fields ↔
//! `source`, `firstTimestamp`, `lastTimestamp`, `count`). Field selectors name the served form's
//! fields and are matched on the stored one.

use crate::registry::entry::entry;
use crate::resource::ResourceType;
use crate::strategy::typed_basics;
use crate::strategy::{Strategy, Typed};
use crate::table::printer::{Printer, col, s};
use crate::table::{Column, name_of, translate_timestamp};
use k8s_openapi::api::core::v1::Event;
use serde_json::Value;
use serde_json::json;
use std::borrow::Cow;

/// `events` (core/v1, `ev`).
pub(crate) fn resource() -> ResourceType {
    entry("events", "event", true)
        .short(&["ev"])
        .build::<Event>(CoreEventStrategy::new())
}

/// The core/v1 Event strategy (selectable fields as upstream's, `source` meaning
/// `source.component`).
pub struct CoreEventStrategy {
    typed: Typed<Event>,
}

/// Fields a core/v1 Event list or watch may select on.
const CORE_FIELDS: &[&str] = &[
    "involvedObject.kind",
    "involvedObject.namespace",
    "involvedObject.name",
    "involvedObject.uid",
    "involvedObject.apiVersion",
    "involvedObject.resourceVersion",
    "involvedObject.fieldPath",
    "reason",
    "reportingComponent",
    "source",
    "type",
];

impl CoreEventStrategy {
    /// The strategy.
    pub fn new() -> Self {
        CoreEventStrategy {
            typed: Typed::new().fields(CORE_FIELDS).printer(&EVENT),
        }
    }
}

impl Default for CoreEventStrategy {
    fn default() -> Self {
        Self::new()
    }
}

impl Strategy for CoreEventStrategy {
    typed_basics!(typed, decode);

    fn stored_field<'a>(&self, field: &'a str) -> Cow<'a, str> {
        match field {
            "source" => Cow::Borrowed("source.component"),
            other => Cow::Borrowed(other),
        }
    }
}

fn event_object(o: &Value, regarding: &str) -> String {
    let kind = s(o, &format!("/{regarding}/kind")).to_lowercase();
    match s(o, &format!("/{regarding}/name")) {
        "" => kind,
        name => format!("{kind}/{name}"),
    }
}

/// The first of `pointers` holding a timestamp.
fn first_time<'a>(o: &'a Value, pointers: &[&str]) -> Option<&'a Value> {
    pointers.iter().find_map(|p| {
        o.pointer(p)
            .filter(|v| v.as_str().is_some_and(|t| !t.is_empty()))
    })
}

/// When an event was first seen: firstTimestamp, else eventTime (events.k8s.io/v1 names the
/// former deprecatedFirstTimestamp), as upstream's printer.
fn event_first_seen(o: &Value) -> Option<&Value> {
    first_time(
        o,
        &["/firstTimestamp", "/deprecatedFirstTimestamp", "/eventTime"],
    )
}

/// When an event was last seen: its series' last observation, else lastTimestamp, else when it
/// was first seen; `<unknown>` without any of them, as upstream's printer.
fn event_last_seen(o: &Value, now: jiff::Timestamp) -> String {
    let last = first_time(
        o,
        &[
            "/series/lastObservedTime",
            "/lastTimestamp",
            "/deprecatedLastTimestamp",
        ],
    )
    .or_else(|| event_first_seen(o));
    translate_timestamp(last, now)
}

/// core/v1 and events.k8s.io/v1 Event: LAST SEEN TYPE REASON OBJECT MESSAGE.
pub(crate) const EVENT: Printer = Printer {
    columns: || {
        vec![
            col("Last Seen", "string", 0),
            col("Type", "string", 0),
            col("Reason", "string", 0),
            col("Object", "string", 0),
            col("Subobject", "string", 1),
            col("Source", "string", 1),
            col("Message", "string", 0),
            col("First Seen", "string", 1),
            col("Count", "string", 1),
            Column::new("Name", "string", 1, ""),
        ]
    },
    cells: |o, now| {
        let regarding = if o.get("regarding").is_some() {
            "regarding"
        } else {
            "involvedObject"
        };
        let message = if o.get("note").is_some() {
            s(o, "/note")
        } else {
            s(o, "/message")
        };
        let source = match s(o, "/source/component") {
            "" => s(o, "/reportingController").to_string(),
            c => c.to_string(),
        };
        // A series counts the event; singletons of the new API carry no count (shown as 1).
        let count = ["/series/count", "/count", "/deprecatedCount"]
            .iter()
            .find_map(|p| o.pointer(p).and_then(Value::as_i64).filter(|c| *c != 0))
            .unwrap_or(1);
        vec![
            json!(event_last_seen(o, now)),
            json!(s(o, "/type")),
            json!(s(o, "/reason")),
            json!(event_object(o, regarding)),
            json!(s(o, &format!("/{regarding}/fieldPath"))),
            json!(source),
            json!(message.trim()),
            json!(translate_timestamp(event_first_seen(o), now)),
            json!(count.to_string()),
            json!(name_of(o)),
        ]
    },
};
