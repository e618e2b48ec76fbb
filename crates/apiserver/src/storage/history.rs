//! The bounded event history: the last N changes, in resourceVersion order.
//!
//! Watches resume from it ("give me everything after resourceVersion R") and consistent paged
//! lists rebuild an older snapshot from it (each event keeps the state it replaced). A request for
//! a resourceVersion older than what the history still holds gets 410 Gone, as from etcd's
//! compaction in a real cluster.

use super::object::{ObjectKey, StoredObject};
use std::collections::VecDeque;
use std::sync::Arc;

/// The kind of change, as in a watch event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    /// The object was created.
    Added,
    /// The object was replaced.
    Modified,
    /// The object was removed.
    Deleted,
}

impl EventType {
    /// The wire name (`ADDED`, `MODIFIED`, `DELETED`).
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Added => "ADDED",
            EventType::Modified => "MODIFIED",
            EventType::Deleted => "DELETED",
        }
    }
}

/// One committed change.
#[derive(Debug, Clone)]
pub struct StoredEvent {
    /// The kind of change.
    pub event_type: EventType,
    /// Which object changed.
    pub key: ObjectKey,
    /// The new state; for deletions the last state, stamped with the deletion's resourceVersion.
    pub object: Arc<StoredObject>,
    /// The state this change replaced (None for creations).
    pub prev: Option<Arc<StoredObject>>,
    /// `object` in protobuf, made by the first protobuf watch that sends this event and reused
    /// by the others (upstream's watch cache keeps serializations per event likewise); None
    /// inside when the object has no protobuf encoding. Lives as long as the event does.
    pub protobuf: std::sync::OnceLock<Option<bytes::Bytes>>,
    /// The whole JSON watch line of this event as stored (its own type, the stored object),
    /// made by the first plain JSON watch that sends it and written as is by the others.
    pub json_line: std::sync::OnceLock<bytes::Bytes>,
}

impl StoredEvent {
    /// An event; nothing encoded yet.
    pub fn new(
        event_type: EventType,
        key: ObjectKey,
        object: Arc<StoredObject>,
        prev: Option<Arc<StoredObject>>,
    ) -> Self {
        StoredEvent {
            event_type,
            key,
            object,
            prev,
            protobuf: std::sync::OnceLock::new(),
            json_line: std::sync::OnceLock::new(),
        }
    }

    /// The resourceVersion of this change.
    pub fn resource_version(&self) -> u64 {
        self.object.resource_version
    }
}

/// The retained events and the resourceVersion they start after.
#[derive(Debug)]
pub struct History {
    events: VecDeque<Arc<StoredEvent>>,
    capacity: usize,
    /// Every change with a resourceVersion greater than this is retained.
    floor: u64,
}

impl History {
    /// An empty history holding at most `capacity` events, starting after `floor`.
    pub fn new(capacity: usize, floor: u64) -> Self {
        History {
            events: VecDeque::with_capacity(capacity.min(1 << 16)),
            capacity: capacity.max(1),
            floor,
        }
    }

    /// Appends committed events (in resourceVersion order), evicting the oldest beyond capacity.
    pub fn push(&mut self, event: Arc<StoredEvent>) {
        if self.events.len() == self.capacity
            && let Some(old) = self.events.pop_front()
        {
            self.floor = old.resource_version();
        }
        self.events.push_back(event);
    }

    /// Forgets every event at or below `floor` (the medium compacted them away): resuming from
    /// before it is then 410 Gone, as it is from etcd itself.
    pub fn compact(&mut self, floor: u64) {
        while self
            .events
            .front()
            .is_some_and(|e| e.resource_version() <= floor)
        {
            self.events.pop_front();
        }
        self.floor = self.floor.max(floor);
    }

    /// The oldest resourceVersion a client may still resume from.
    pub fn floor(&self) -> u64 {
        self.floor
    }

    /// Events with resourceVersion greater than `rv`, or `Err(oldest available)` when some of
    /// them have already been evicted.
    pub fn since(&self, rv: u64) -> Result<impl Iterator<Item = &Arc<StoredEvent>>, u64> {
        if rv < self.floor {
            return Err(self.floor + 1);
        }
        let start = self.events.partition_point(|e| e.resource_version() <= rv);
        Ok(self.events.range(start..))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(rv: u64) -> Arc<StoredEvent> {
        Arc::new(StoredEvent::new(
            EventType::Added,
            ObjectKey::new(Arc::from("/configmaps"), "default", format!("c{rv}")),
            Arc::new(StoredObject::new(rv, Default::default())),
            None,
        ))
    }

    #[test]
    fn evicts_and_reports_too_old() {
        let mut h = History::new(3, 0);
        for rv in 1..=5 {
            h.push(event(rv));
        }
        assert_eq!(h.floor(), 2);
        assert_eq!(h.since(1).err(), Some(3));
        let rvs: Vec<u64> = h
            .since(3)
            .map(|it| it.map(|e| e.resource_version()).collect())
            .unwrap_or_default();
        assert_eq!(rvs, vec![4, 5]);
        assert_eq!(h.since(2).map(|it| it.count()).ok(), Some(3));
    }

    #[test]
    fn compaction_raises_the_floor() {
        let mut h = History::new(10, 0);
        for rv in 1..=5 {
            h.push(event(rv));
        }
        h.compact(3);
        assert_eq!(h.floor(), 3);
        assert_eq!(h.since(2).err(), Some(4));
        assert_eq!(h.since(3).map(|it| it.count()).ok(), Some(2));
        // Compacting below the floor changes nothing.
        h.compact(1);
        assert_eq!(h.floor(), 3);
    }
}
