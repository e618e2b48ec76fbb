//! The cache's feed: everything under the prefix, read at one revision, then etcd's watch from
//! the next revision on.
//!
//! The watch covers the whole prefix (one stream for every resource, as kube-apiserver's watch
//! caches together do), asks for `prev_kv` (a deletion carries the last state) and for progress
//! notifications: when a consistent read finds the cache behind etcd's revision, it requests
//! progress, and etcd answers once every event up to its revision has been sent, so the cache
//! catches up even when the newest revisions concern no key of ours. A broken stream resumes
//! from the revision after the last one applied; when etcd has compacted that revision away,
//! the cache is rebuilt from a fresh load (open watches end with 410 Gone and clients relist).

use super::layout::KeyLayout;
use super::writes::decode;
use super::{REQUEST_TIMEOUT, unavailable};
use crate::storage::{Feed, Index, Loaded, RemoteChange, StoreError};
use etcd_client::{Client, EventType, GetOptions, WatchOptions, WatchResponse};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

/// The most keys one range request reads while loading.
const PAGE: i64 = 5_000;

/// How long a broken stream waits before it reconnects.
const RETRY: Duration = Duration::from_millis(250);

/// Reads every object under the prefix at one revision (the first page's).
pub async fn load(client: &Client, layout: &KeyLayout) -> Result<Loaded, StoreError> {
    let mut kv = super::kv_client(client);
    let root = layout.root();
    let end = prefix_end(root.as_bytes());
    let mut start = root.into_bytes();
    let mut revision = 0i64;
    let mut objects = Index::new();
    loop {
        let mut options = GetOptions::new().with_range(end.clone()).with_limit(PAGE);
        if revision > 0 {
            options = options.with_revision(revision);
        }
        let mut response =
            tokio::time::timeout(REQUEST_TIMEOUT, kv.get(start.clone(), Some(options)))
                .await
                .map_err(|_| unavailable("request timed out"))?
                .map_err(unavailable)?;
        if revision == 0 {
            revision = response.header().map(|h| h.revision()).unwrap_or(0);
        }
        let more = response.more();
        let kvs = response.take_kvs();
        let Some(last) = kvs.last() else {
            break;
        };
        start = last.key().to_vec();
        start.push(0);
        for kv in &kvs {
            let Some(key) = layout.decode(kv.key()) else {
                continue;
            };
            let rv = u64::try_from(kv.mod_revision()).unwrap_or(0);
            match decode(kv.value(), rv) {
                Some(object) => {
                    objects.insert(&key, Arc::new(object));
                }
                None => {
                    tracing::warn!(key = ?String::from_utf8_lossy(kv.key()), "undecodable value in etcd; skipped")
                }
            }
        }
        if !more {
            break;
        }
    }
    Ok(Loaded {
        objects,
        resource_version: u64::try_from(revision).unwrap_or(0),
    })
}

/// The first key after every key with this prefix.
pub fn prefix_end(prefix: &[u8]) -> Vec<u8> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return end;
        }
    }
    vec![0]
}

/// Follows etcd's changes after `from` into `feed` until the store closes.
pub async fn run(
    client: Client,
    layout: Arc<KeyLayout>,
    feed: Feed,
    from: u64,
    progress: Arc<Notify>,
) {
    let mut applied = from;
    while !feed.is_closed() {
        match follow(&client, &layout, &feed, applied, &progress).await {
            Followed::Closed => return,
            Followed::Broken(at, why) => {
                applied = at;
                tracing::warn!(revision = at, error = %why, "etcd watch broken; resuming");
                tokio::time::sleep(RETRY).await;
            }
            Followed::Compacted(at) => {
                tracing::warn!(revision = at, "etcd compacted past the cache; reloading");
                match load(&client, &layout).await {
                    Ok(loaded) => {
                        applied = loaded.resource_version;
                        feed.reset(loaded);
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "reloading from etcd failed; retrying");
                        tokio::time::sleep(RETRY).await;
                    }
                }
            }
        }
    }
}

enum Followed {
    /// The store is gone.
    Closed,
    /// The stream ended or failed after applying up to this revision.
    Broken(u64, String),
    /// etcd no longer has the revisions after this one.
    Compacted(u64),
}

async fn follow(
    client: &Client,
    layout: &KeyLayout,
    feed: &Feed,
    mut applied: u64,
    progress: &Notify,
) -> Followed {
    let root = layout.root();
    let compact_key = layout.compact_key();
    let options = WatchOptions::new()
        .with_range(prefix_end(root.as_bytes()))
        .with_start_revision(i64::try_from(applied + 1).unwrap_or(i64::MAX))
        .with_prev_key()
        .with_progress_notify();
    let mut watch = super::watch_client(client);
    let stream = match tokio::time::timeout(REQUEST_TIMEOUT, watch.watch(root, Some(options))).await
    {
        Ok(Ok(stream)) => stream,
        Ok(Err(e)) => return Followed::Broken(applied, e.to_string()),
        Err(_) => return Followed::Broken(applied, "watch request timed out".into()),
    };
    let (mut requests, mut responses) = stream.split();
    let mut closed_check = tokio::time::interval(Duration::from_secs(1));
    loop {
        let message = tokio::select! {
            _ = progress.notified() => {
                if let Err(e) = requests.request_progress().await {
                    return Followed::Broken(applied, e.to_string());
                }
                continue;
            }
            _ = closed_check.tick() => {
                if feed.is_closed() {
                    return Followed::Closed;
                }
                continue;
            }
            message = responses.message() => message,
        };
        let response = match message {
            Ok(Some(response)) => response,
            Ok(None) => return Followed::Broken(applied, "watch stream ended".into()),
            Err(e) => return Followed::Broken(applied, e.to_string()),
        };
        if response.compact_revision() > 0 {
            return Followed::Compacted(u64::try_from(response.compact_revision()).unwrap_or(0));
        }
        if response.canceled() {
            return Followed::Broken(
                applied,
                format!("watch canceled: {}", response.cancel_reason()),
            );
        }
        if feed.is_closed() {
            return Followed::Closed;
        }
        applied = apply(layout, &compact_key, feed, &response, applied);
    }
}

/// Applies one watch response; answers the revision the cache has reached.
fn apply(
    layout: &KeyLayout,
    compact_key: &str,
    feed: &Feed,
    response: &WatchResponse,
    applied: u64,
) -> u64 {
    let events = response.events();
    if events.is_empty() {
        if response.created() {
            return applied;
        }
        // A progress notification: every event up to the header's revision has been sent.
        let revision = response
            .header()
            .and_then(|h| u64::try_from(h.revision()).ok())
            .unwrap_or(0);
        feed.apply(Vec::new(), revision);
        return applied.max(revision);
    }
    let mut changes = Vec::with_capacity(events.len());
    let mut last = applied;
    for event in events {
        let Some(kv) = event.kv() else {
            continue;
        };
        let revision = u64::try_from(kv.mod_revision()).unwrap_or(0);
        last = last.max(revision);
        if kv.key() == compact_key.as_bytes() {
            // A server (this one or another) is compacting up to the revision the marker holds.
            if let Some(compacted) = std::str::from_utf8(kv.value())
                .ok()
                .and_then(|v| v.parse::<u64>().ok())
            {
                feed.compacted(compacted);
            }
            continue;
        }
        let Some(key) = layout.decode(kv.key()) else {
            continue;
        };
        match event.event_type() {
            EventType::Put => match decode(kv.value(), revision) {
                Some(object) => changes.push(RemoteChange::Put { key, object }),
                None => tracing::warn!(?key, "undecodable value in etcd; skipped"),
            },
            EventType::Delete => {
                let last = event.prev_kv().and_then(|prev| {
                    let rv = u64::try_from(prev.mod_revision()).unwrap_or(0);
                    decode(prev.value(), rv).map(Arc::new)
                });
                changes.push(RemoteChange::Delete {
                    key,
                    revision,
                    last,
                });
            }
        }
    }
    feed.apply(changes, last);
    last
}
