//! events.k8s.io/v1 Events: served from the core/v1 Events' storage (see [`crate::registry::core::events`]),
//! converted field for field on the way in and out.

use crate::registry::core::events::EVENT;
use crate::registry::entry::entry;
use crate::resource::ResourceType;
use crate::strategy::typed_basics;
use crate::strategy::{Strategy, Typed};
use k8s_openapi::api::core::v1::Event;
use k8s_openapi::api::events::v1::Event as EventsV1Event;
use serde_json::Value;
use std::borrow::Cow;

/// `events` (events.k8s.io/v1, `ev`), stored with core/v1 `events`.
pub(crate) fn resource() -> ResourceType {
    entry("events", "event", true)
        .short(&["ev"])
        .stored_with("", "v1", "events")
        .build::<EventsV1Event>(EventsV1Strategy::new())
}

/// The events.k8s.io/v1 name of a core/v1 Event field, for fields whose names differ.
const RENAMED: &[(&str, &str)] = &[
    ("involvedObject", "regarding"),
    ("message", "note"),
    ("reportingComponent", "reportingController"),
    ("source", "deprecatedSource"),
    ("firstTimestamp", "deprecatedFirstTimestamp"),
    ("lastTimestamp", "deprecatedLastTimestamp"),
    ("count", "deprecatedCount"),
];

/// The apiVersion of events.k8s.io/v1.
const EVENTS_V1: &str = "events.k8s.io/v1";

/// Renames the top-level fields of [`RENAMED`] to their core names (`to_core`) or their
/// events.k8s.io/v1 names, and sets `apiVersion`.
fn rename(obj: &mut Value, api_version: &str, to_core: bool) {
    let Some(map) = obj.as_object_mut() else {
        return;
    };
    for &(core, v1) in RENAMED {
        let (from, to) = if to_core { (v1, core) } else { (core, v1) };
        if let Some(v) = map.remove(from) {
            map.insert(to.to_string(), v);
        }
    }
    map.insert("apiVersion".into(), Value::String(api_version.into()));
}

/// events.k8s.io/v1 timestamps that are not pointers upstream (`metav1.MicroTime`/`metav1.Time`
/// values, which `omitempty` does not omit): a zero one is served as `null`.
const NULL_WHEN_UNSET: &[&str] = &[
    "eventTime",
    "deprecatedFirstTimestamp",
    "deprecatedLastTimestamp",
];

/// Sets the [`NULL_WHEN_UNSET`] fields `obj` lacks to `null`.
fn add_null_timestamps(obj: &mut Value) {
    if let Some(map) = obj.as_object_mut() {
        for field in NULL_WHEN_UNSET {
            map.entry(*field).or_insert(Value::Null);
        }
    }
}

/// Removes the [`NULL_WHEN_UNSET`] fields that are `null` (nothing is stored for them).
fn remove_null_timestamps(obj: &mut Value) {
    if let Some(map) = obj.as_object_mut() {
        for field in NULL_WHEN_UNSET {
            if map.get(*field).is_some_and(Value::is_null) {
                map.remove(*field);
            }
        }
    }
}

fn is_events_v1(obj: &Value) -> bool {
    obj.get("apiVersion").and_then(Value::as_str) == Some(EVENTS_V1)
}

/// The events.k8s.io/v1 Event strategy: stored in core/v1 form.
pub struct EventsV1Strategy {
    typed: Typed<EventsV1Event>,
}

impl EventsV1Strategy {
    /// The strategy.
    pub fn new() -> Self {
        EventsV1Strategy {
            typed: Typed::new().printer(&EVENT).fields(&[
                "reason",
                "regarding.kind",
                "regarding.namespace",
                "regarding.name",
                "regarding.uid",
                "regarding.apiVersion",
                "regarding.resourceVersion",
                "regarding.fieldPath",
                "reportingController",
                "type",
            ]),
        }
    }
}

impl Default for EventsV1Strategy {
    fn default() -> Self {
        Self::new()
    }
}

impl Strategy for EventsV1Strategy {
    typed_basics!(typed, decode);

    fn order_stored_keys(&self, obj: &mut Value) {
        // Stored as a core/v1 Event.
        static CORE: std::sync::LazyLock<crate::fieldpath::Schema> =
            std::sync::LazyLock::new(crate::fieldpath::Schema::builtin::<Event>);
        crate::keyorder::builtin(obj, &CORE);
    }

    fn converts_for_storage(&self) -> bool {
        true
    }

    fn convert_to_storage(&self, obj: &mut Value) {
        if is_events_v1(obj) {
            remove_null_timestamps(obj);
            rename(obj, "v1", true);
        }
    }

    fn convert_from_storage(&self, obj: &mut Value) {
        if !is_events_v1(obj) {
            rename(obj, EVENTS_V1, false);
        }
        add_null_timestamps(obj);
    }

    /// An update leaves the served `null` timestamps as they were read, so that an unchanged
    /// event compares equal to the stored one (decoding drops the nulls).
    fn prepare_for_update(&self, new: &mut Value, _old: &Value) {
        add_null_timestamps(new);
    }

    fn stored_field<'a>(&self, field: &'a str) -> Cow<'a, str> {
        if let Some(rest) = field.strip_prefix("regarding.") {
            return Cow::Owned(format!("involvedObject.{rest}"));
        }
        match field {
            "reportingController" => Cow::Borrowed("reportingComponent"),
            other => Cow::Borrowed(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn events_v1_round_trips_through_the_core_form() {
        let s = EventsV1Strategy::new();
        let served = json!({
            "apiVersion": "events.k8s.io/v1", "kind": "Event",
            "metadata": {"name": "e", "namespace": "ns"},
            "regarding": {"kind": "Pod", "name": "p"}, "note": "pulled", "reason": "Pulled",
            "reportingController": "kubelet", "reportingInstance": "node-1", "action": "Pull",
            "eventTime": "2024-01-01T00:00:00.000000Z", "type": "Normal",
            "deprecatedSource": {"component": "kubelet"}, "deprecatedCount": 2,
            "deprecatedFirstTimestamp": "2024-01-01T00:00:00Z",
            "deprecatedLastTimestamp": "2024-01-01T00:01:00Z",
            "series": {"count": 2, "lastObservedTime": "2024-01-01T00:01:00.000000Z"},
        });
        let mut stored = served.clone();
        s.convert_to_storage(&mut stored);
        assert_eq!(
            stored,
            json!({
                "apiVersion": "v1", "kind": "Event",
                "metadata": {"name": "e", "namespace": "ns"},
                "involvedObject": {"kind": "Pod", "name": "p"}, "message": "pulled",
                "reason": "Pulled", "reportingComponent": "kubelet",
                "reportingInstance": "node-1", "action": "Pull",
                "eventTime": "2024-01-01T00:00:00.000000Z", "type": "Normal",
                "source": {"component": "kubelet"}, "count": 2,
                "firstTimestamp": "2024-01-01T00:00:00Z",
                "lastTimestamp": "2024-01-01T00:01:00Z",
                "series": {"count": 2, "lastObservedTime": "2024-01-01T00:01:00.000000Z"},
            })
        );
        // Converting again changes nothing; reading gives the served form back.
        let mut again = stored.clone();
        s.convert_to_storage(&mut again);
        assert_eq!(again, stored);
        s.convert_from_storage(&mut again);
        assert_eq!(again, served);
        s.convert_from_storage(&mut again);
        assert_eq!(again, served);
    }

    #[test]
    fn field_selectors_name_the_stored_fields() {
        let v1 = EventsV1Strategy::new();
        assert_eq!(v1.stored_field("regarding.name"), "involvedObject.name");
        assert_eq!(v1.stored_field("reportingController"), "reportingComponent");
        assert_eq!(v1.stored_field("reason"), "reason");
        assert_eq!(
            crate::registry::core::events::CoreEventStrategy::new().stored_field("source"),
            "source.component"
        );
    }
}
