//! WATCH: initial state, resumption from a resourceVersion, selector transitions, bookmarks and
//! streaming lists (`sendInitialEvents`).
//!
//! A watch runs as a task that feeds a bounded channel; the HTTP layer writes each event as one
//! JSON line and flushes it. Objects that start or stop matching the selectors are delivered as
//! ADDED or DELETED, as kube-apiserver's watch cache does.

use super::list::{ListOptions, check_fields, matches};
use super::{Rest, served_version, store_error};
use crate::resource::ResourceType;
use crate::status::ApiError;
use crate::storage::{
    EventFilter, EventType, Interest, ReadAt, StoreError, StoredEvent, StoredObject,
};
use bytes::Bytes;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// Parameters of a watch.
#[derive(Debug, Clone, Default)]
pub struct WatchOptions {
    /// Selectors and resourceVersion (as for a list).
    pub list: ListOptions,
    /// `allowWatchBookmarks`.
    pub bookmarks: bool,
    /// `sendInitialEvents`.
    pub send_initial_events: Option<bool>,
    /// `timeoutSeconds`.
    pub timeout: Option<Duration>,
}

/// One event on the wire.
#[derive(Debug, Clone)]
pub struct WatchEvent {
    /// `ADDED`, `MODIFIED`, `DELETED`, `BOOKMARK` or `ERROR`.
    pub event_type: &'static str,
    /// The serialized object (or Status, for ERROR).
    pub object: Bytes,
    /// The stored event whose object `object` is, byte for byte (None for initial events,
    /// bookmarks, errors and objects converted for the request): its encodings (the JSON
    /// watch line, the protobuf object) are made once and shared by every watch that sends it.
    pub source: Option<Arc<StoredEvent>>,
}

/// The receiving end of a watch.
pub type WatchStream = mpsc::Receiver<WatchEvent>;

/// An event's object as served at `rt`'s version; a failed conversion ends the watch with an
/// ERROR event, as upstream's watch does.
async fn object_bytes(
    rest: &Rest,
    rt: &ResourceType,
    obj: &StoredObject,
) -> Result<Bytes, ApiError> {
    if rt.conversion.is_some() {
        let v = rest.served(rt, obj.value()).await?;
        Ok(Bytes::from(serde_json::to_vec(&v).unwrap_or_default()))
    } else if super::rewrites_on_read(rt) {
        let mut v = obj.value();
        served_version(rt, &mut v);
        Ok(Bytes::from(serde_json::to_vec(&v).unwrap_or_default()))
    } else {
        Ok(obj.json.clone())
    }
}

/// A served object's JSON.
fn to_bytes(v: &Value) -> Bytes {
    Bytes::from(serde_json::to_vec(v).unwrap_or_default())
}

fn bookmark(rt: &ResourceType, rv: u64, initial_end: bool) -> WatchEvent {
    let mut meta = json!({"resourceVersion": rv.to_string()});
    if initial_end {
        meta["annotations"] = json!({"k8s.io/initial-events-end": "true"});
    }
    let obj = json!({"kind": rt.kind, "apiVersion": rt.api_version(), "metadata": meta});
    WatchEvent {
        event_type: "BOOKMARK",
        object: Bytes::from(serde_json::to_vec(&obj).unwrap_or_default()),
        source: None,
    }
}

fn error_event(err: &ApiError) -> WatchEvent {
    WatchEvent {
        event_type: "ERROR",
        object: Bytes::from(serde_json::to_vec(&err.to_status()).unwrap_or_default()),
        source: None,
    }
}

impl Rest {
    /// Starts a watch; errors that can be known before streaming are returned directly.
    pub async fn watch(
        &self,
        rt: Arc<ResourceType>,
        namespace: Option<String>,
        mut opts: WatchOptions,
    ) -> Result<WatchStream, ApiError> {
        opts.list.field_selector = check_fields(&rt, &opts.list.field_selector)?;
        let namespace = if rt.namespaced { namespace } else { None };
        let rv = opts.list.resource_version.clone().filter(|s| !s.is_empty());
        let rv_match = opts
            .list
            .resource_version_match
            .as_deref()
            .filter(|s| !s.is_empty());
        let initial = match opts.send_initial_events {
            Some(true) => {
                if rv_match != Some("NotOlderThan") {
                    return Err(ApiError::invalid(
                        "meta.k8s.io",
                        "ListOptions",
                        "",
                        vec![crate::status::FieldCause::forbidden(
                            "resourceVersionMatch",
                            "sendInitialEvents requires setting resourceVersionMatch to NotOlderThan",
                        )],
                    ));
                }
                if !opts.bookmarks {
                    return Err(ApiError::invalid(
                        "meta.k8s.io",
                        "ListOptions",
                        "",
                        vec![crate::status::FieldCause::forbidden(
                            "allowWatchBookmarks",
                            "sendInitialEvents requires setting allowWatchBookmarks to true",
                        )],
                    ));
                }
                true
            }
            Some(false) => false,
            None => {
                if rv_match.is_some() {
                    return Err(ApiError::invalid(
                        "meta.k8s.io",
                        "ListOptions",
                        "",
                        vec![crate::status::FieldCause::forbidden(
                            "resourceVersionMatch",
                            "resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided",
                        )],
                    ));
                }
                matches!(rv.as_deref(), None | Some("0"))
            }
        };
        let (tx, rx) = mpsc::channel(256);
        let start_rv = match rv.as_deref() {
            None | Some("0") => None,
            Some(s) => Some(super::parse_rv(s)?),
        };
        let rest = self.clone();
        tokio::spawn(async move {
            if let Err(e) = rest
                .run_watch(&rt, namespace.as_deref(), &opts, initial, start_rv, &tx)
                .await
            {
                let _ = tx.send(error_event(&e)).await;
            }
        });
        Ok(rx)
    }

    async fn run_watch(
        &self,
        rt: &ResourceType,
        namespace: Option<&str>,
        opts: &WatchOptions,
        initial: bool,
        start_rv: Option<u64>,
        tx: &mpsc::Sender<WatchEvent>,
    ) -> Result<(), ApiError> {
        // Field selectors of a webhook-converted resource read objects as served.
        let served_mode = super::served_fields::selects_served_fields(rt, &opts.list);
        // A timeout past the clock's range (e.g. timeoutSeconds=2^64-1) means no deadline.
        let deadline = opts
            .timeout
            .and_then(|t| tokio::time::Instant::now().checked_add(t));
        let mut position = match start_rv {
            Some(rv) if !initial => rv,
            _ => {
                let at = match start_rv {
                    Some(rv) => ReadAt::NotOlderThan(rv),
                    None => ReadAt::Latest,
                };
                let page = self
                    .store
                    .list(&rt.storage_key, namespace, at)
                    .await
                    .map_err(|e| store_error(rt, "", e))?;
                for (key, obj) in &page.items {
                    let object = if served_mode {
                        match self.select_served(rt, &opts.list, obj).await? {
                            (served, true) => to_bytes(&served),
                            (_, false) => continue,
                        }
                    } else if matches(&opts.list, &key.namespace, &key.name, obj) {
                        object_bytes(self, rt, obj).await?
                    } else {
                        continue;
                    };
                    let ev = WatchEvent {
                        event_type: "ADDED",
                        object,
                        source: None,
                    };
                    if tx.send(ev).await.is_err() {
                        return Ok(());
                    }
                }
                if opts.send_initial_events == Some(true)
                    && tx
                        .send(bookmark(rt, page.resource_version, true))
                        .await
                        .is_err()
                {
                    return Ok(());
                }
                page.resource_version
            }
        };
        let interest = Interest {
            resource: Some(rt.storage_key.clone()),
            namespace: namespace.map(str::to_string),
            filter: if served_mode {
                None
            } else {
                prefilter(&opts.list)
            },
        };
        let mut cursor = match self.store.watch_for(interest, position) {
            Ok(c) => c,
            Err(StoreError::TooOld { requested, oldest }) => {
                return Err(ApiError::expired(format!(
                    "too old resource version: {requested} ({oldest})"
                )));
            }
            Err(e) => return Err(store_error(rt, "", e)),
        };
        // The first bookmark one interval from now. (Not `interval()` with its immediate first
        // tick awaited: that tick waits for the timer driver's next millisecond, which delayed
        // every watch's first event by ~1 ms.)
        let now = tokio::time::Instant::now();
        let first = now
            .checked_add(self.bookmark_interval)
            .unwrap_or_else(|| now + Duration::from_secs(86_400 * 365));
        let mut ticker = tokio::time::interval_at(first, self.bookmark_interval);
        loop {
            let sleep_until = deadline
                .unwrap_or_else(|| tokio::time::Instant::now() + Duration::from_secs(86_400 * 365));
            tokio::select! {
                _ = tx.closed() => return Ok(()),
                _ = tokio::time::sleep_until(sleep_until) => return Ok(()),
                _ = ticker.tick(), if opts.bookmarks => {
                    let rv = cursor.position().max(position);
                    if tx.send(bookmark(rt, rv, false)).await.is_err() {
                        return Ok(());
                    }
                }
                events = cursor.next() => {
                    let events = match events {
                        Ok(ev) => ev,
                        Err(StoreError::TooOld { requested, oldest }) => {
                            return Err(ApiError::expired(format!("too old resource version: {requested} ({oldest})")));
                        }
                        Err(_) => return Ok(()),
                    };
                    for event in events {
                        position = event.resource_version();
                        let (now_matches, was_matching, served) = if served_mode {
                            let now = match event.event_type {
                                EventType::Deleted => None,
                                _ => Some(self.select_served(rt, &opts.list, &event.object).await?),
                            };
                            let was = match &event.prev {
                                Some(p) => self.select_served(rt, &opts.list, p).await?.1,
                                None => false,
                            };
                            (now.as_ref().is_some_and(|n| n.1), was, now.map(|n| n.0))
                        } else {
                            let now = event.event_type != EventType::Deleted
                                && matches(&opts.list, &event.key.namespace, &event.key.name, &event.object);
                            let was = event
                                .prev
                                .as_ref()
                                .is_some_and(|p| matches(&opts.list, &event.key.namespace, &event.key.name, p));
                            (now, was, None)
                        };
                        let kind = match (event.event_type, was_matching, now_matches) {
                            (EventType::Added, _, true) => "ADDED",
                            (EventType::Modified, true, true) => "MODIFIED",
                            (EventType::Modified, false, true) => "ADDED",
                            (EventType::Modified, true, false) => "DELETED",
                            (EventType::Deleted, true, _) => "DELETED",
                            _ => continue,
                        };
                        let (object, source) = match &served {
                            Some(v) => (to_bytes(v), None),
                            None => {
                                let object = object_bytes(self, rt, &event.object).await?;
                                // Sent as stored: its encodings can be shared.
                                let unchanged = object.as_ptr() == event.object.json.as_ptr()
                                    && object.len() == event.object.json.len();
                                (object, unchanged.then(|| event.clone()))
                            }
                        };
                        let ev = WatchEvent { event_type: kind, object, source };
                        if tx.send(ev).await.is_err() {
                            return Ok(());
                        }
                    }
                }
            }
        }
    }
}

/// The dispatcher's test for a watch's selectors: an event concerns the watch when its object
/// or the state it replaced passes them (it may start or stop matching). Only what needs no
/// decoding is tested there — labels (parsed once per object and kept) and the name and
/// namespace fields; field selectors on the body are left to the watch's own task.
fn prefilter(opts: &ListOptions) -> Option<EventFilter> {
    let mut cheap = ListOptions {
        label_selector: opts.label_selector.clone(),
        field_selector: opts.field_selector.clone(),
        ..Default::default()
    };
    cheap
        .field_selector
        .requirements
        .retain(|r| matches!(r.field.as_str(), "metadata.name" | "metadata.namespace"));
    if cheap.label_selector.is_empty() && cheap.field_selector.is_empty() {
        return None;
    }
    Some(Arc::new(move |event: &StoredEvent| {
        let (ns, name) = (&event.key.namespace, &event.key.name);
        matches(&cheap, ns, name, &event.object)
            || event
                .prev
                .as_ref()
                .is_some_and(|prev| matches(&cheap, ns, name, prev))
    }))
}

/// A JSON watch line: `{"type":"ADDED","object":{...}}\n`.
pub fn encode_json_line(event: &WatchEvent) -> Bytes {
    let mut out = Vec::with_capacity(event.object.len() + 32);
    out.extend_from_slice(b"{\"type\":\"");
    out.extend_from_slice(event.event_type.as_bytes());
    out.extend_from_slice(b"\",\"object\":");
    out.extend_from_slice(&event.object);
    out.extend_from_slice(b"}\n");
    Bytes::from(out)
}
