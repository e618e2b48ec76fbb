//! The bounded queue between ingest and delivery. Pushing never waits: a full backlog refuses
//! the whole request (ingest answers 503). Its capacity follows the Singularity's `backlog`
//! live; shrinking it below the current depth keeps what is queued and refuses new events until
//! the depth falls.

use cloudevents::Event;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};
use tokio::sync::Notify;
use tokio::time::Instant;

/// One queued event.
#[derive(Debug, Clone)]
pub struct Queued {
    /// The event.
    pub event: Event,
    /// When ingest accepted it.
    pub accepted: Instant,
}

/// The queue.
#[derive(Debug)]
pub struct Backlog {
    items: Mutex<VecDeque<Queued>>,
    capacity: AtomicUsize,
    closed: AtomicBool,
    ready: Notify,
}

/// The backlog cannot take the events (full, or closed for shutdown).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    /// `depth + wanted > capacity`.
    #[error("backlog full ({depth} of {capacity} queued)")]
    Full {
        /// Events queued.
        depth: usize,
        /// The capacity.
        capacity: usize,
    },
    /// Shutting down.
    #[error("shutting down")]
    Closed,
}

impl Backlog {
    /// An empty queue of `capacity`.
    pub fn new(capacity: usize) -> Backlog {
        Backlog {
            items: Mutex::new(VecDeque::new()),
            capacity: AtomicUsize::new(capacity.max(1)),
            closed: AtomicBool::new(false),
            ready: Notify::new(),
        }
    }

    /// Changes the capacity.
    pub fn set_capacity(&self, capacity: usize) {
        self.capacity.store(capacity.max(1), Ordering::Relaxed);
    }

    /// The capacity.
    pub fn capacity(&self) -> usize {
        self.capacity.load(Ordering::Relaxed)
    }

    /// Events queued now.
    pub fn depth(&self) -> usize {
        self.items
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// Queues all of `events` or none.
    pub fn push_all(&self, events: Vec<Queued>) -> Result<(), Refused> {
        if self.closed.load(Ordering::Acquire) {
            return Err(Refused::Closed);
        }
        let mut items = self.items.lock().unwrap_or_else(PoisonError::into_inner);
        let capacity = self.capacity();
        if items.len() + events.len() > capacity {
            return Err(Refused::Full {
                depth: items.len(),
                capacity,
            });
        }
        items.extend(events);
        drop(items);
        self.ready.notify_one();
        Ok(())
    }

    /// The oldest event, waiting for one; `None` once closed and empty.
    pub async fn pop(&self) -> Option<Queued> {
        loop {
            let notified = self.ready.notified();
            {
                let mut items = self.items.lock().unwrap_or_else(PoisonError::into_inner);
                if let Some(item) = items.pop_front() {
                    let more = !items.is_empty();
                    drop(items);
                    if more {
                        self.ready.notify_one();
                    }
                    return Some(item);
                }
                if self.closed.load(Ordering::Acquire) {
                    return None;
                }
            }
            notified.await;
        }
    }

    /// Refuses new events; [`pop`](Self::pop) returns what is left, then `None`.
    pub fn close(&self) {
        self.closed.store(true, Ordering::Release);
        self.ready.notify_waiters();
        self.ready.notify_one();
    }

    /// Accepts events again after [`close`](Self::close).
    pub fn reopen(&self) {
        self.closed.store(false, Ordering::Release);
    }

    /// Takes everything still queued (for counting what shutdown could not deliver).
    pub fn take_all(&self) -> Vec<Queued> {
        self.items
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .drain(..)
            .collect()
    }
}
