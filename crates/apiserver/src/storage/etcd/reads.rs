//! Lists read from etcd itself, at a revision of its history.
//!
//! The cache serves the latest state; a list at an older revision (`resourceVersionMatch=Exact`,
//! the legacy `resourceVersion=N` with `limit`) and every page of a paginated list are read from
//! etcd, as kube-apiserver delegates them from its watch cache to etcd: one range read over the
//! resource's directory at the requested revision, so any revision etcd still holds can be read
//! on any server, and the pages of one list all come from one revision in etcd's key order.
//! When etcd has compacted the revision away the read fails with
//! [`StoreError::Compacted`]; a revision etcd has not reached yet is [`StoreError::TooNew`].
//!
//! A consistent GET (no resourceVersion) is read from etcd too ([`read_one`]), as kube-apiserver
//! reads it, and so is a consistent list when etcd's progress reports cannot be trusted
//! ([`super::version`]).
//!
//! As upstream's etcd3 store does, a page that selectors thin out is filled by further range
//! reads from the last key read, each asking for twice as many keys (up to [`MAX_CHUNK`]).

use super::layout::KeyLayout;
use super::writes::decode;
use super::{REQUEST_TIMEOUT, feed::prefix_end, unavailable};
use crate::storage::{ObjectKey, Page, PageRequest, StoreError, StoredObject};
use etcd_client::{Client, GetOptions};
use std::sync::Arc;

/// The most keys one range read asks for (upstream's `maxLimit`).
pub const MAX_CHUNK: i64 = 10_000;

/// etcd's answer to a read below its compacted revision (`mvcc.ErrCompacted`).
const COMPACTED: &str = "required revision has been compacted";

/// etcd's answer to a read at a revision it has not reached (`mvcc.ErrFutureRev`).
const FUTURE: &str = "required revision is a future revision";

/// The etcd key range `[start, end)` of a page: the resource's directory (one namespace's part
/// of it when given), from just after the continue key when there is one.
pub fn page_range(layout: &KeyLayout, request: &PageRequest) -> (Vec<u8>, Vec<u8>) {
    let mut prefix = layout.directory(&request.resource);
    if let Some(ns) = &request.namespace {
        prefix.push_str(ns);
        prefix.push('/');
    }
    let end = prefix_end(prefix.as_bytes());
    let mut start = prefix.into_bytes();
    if let Some((ns, name)) = &request.after {
        // The first key after the continue key (a NUL sorts before every byte a name has).
        let mut after = layout
            .encode(&ObjectKey::new(request.resource.clone(), ns, name))
            .into_bytes();
        after.push(0);
        // A crafted key outside the range never widens it.
        if after > start {
            start = after;
        }
    }
    (start, end)
}

/// Reads one page (see [`PageRequest`]); `current` answers etcd's revision when it refuses a
/// future one.
pub async fn read_page(
    client: &Client,
    layout: &KeyLayout,
    request: PageRequest,
    keep: &mut (dyn FnMut(&ObjectKey, &StoredObject) -> bool + Send),
) -> Result<Page, StoreError> {
    let (mut start, end) = page_range(layout, &request);
    let mut page = Page::default();
    if start >= end {
        // Nothing can follow the continue key in this range.
        page.revision = current_revision(client, layout).await?;
        return Ok(page);
    }
    let mut kv = super::kv_client(client);
    let limit = i64::try_from(request.limit).unwrap_or(MAX_CHUNK);
    let mut chunk = if limit > 0 {
        limit.min(MAX_CHUNK)
    } else {
        MAX_CHUNK
    };
    let mut revision = i64::try_from(request.revision).unwrap_or(i64::MAX);
    loop {
        let mut options = GetOptions::new().with_range(end.clone()).with_limit(chunk);
        if revision > 0 {
            options = options.with_revision(revision);
        }
        let response = tokio::time::timeout(REQUEST_TIMEOUT, kv.get(start.clone(), Some(options)))
            .await
            .map_err(|_| unavailable("request timed out"))?;
        let mut response = match response {
            Ok(response) => response,
            Err(e) => return Err(read_error(client, layout, e, request.revision).await),
        };
        if revision == 0 {
            // Every further chunk reads at the first one's revision.
            revision = response.header().map(|h| h.revision()).unwrap_or(0);
        }
        let count = u64::try_from(response.count()).unwrap_or(0);
        let more = response.more();
        let kvs = response.take_kvs();
        let Some(last) = kvs.last() else {
            break;
        };
        let next_start = {
            let mut k = last.key().to_vec();
            k.push(0);
            k
        };
        let mut read = 0u64;
        for kv in &kvs {
            if request.limit > 0 && page.items.len() == request.limit {
                page.more = true;
                break;
            }
            read += 1;
            let Some(key) = layout.decode(kv.key()) else {
                continue;
            };
            let rv = u64::try_from(kv.mod_revision()).unwrap_or(0);
            let Some(object) = decode(kv.value(), rv) else {
                tracing::warn!(key = ?String::from_utf8_lossy(kv.key()), "undecodable value in etcd; skipped");
                continue;
            };
            if keep(&key, &object) {
                page.items.push((key, Arc::new(object)));
            }
        }
        page.remaining = count.saturating_sub(read);
        if page.more || !more {
            break;
        }
        if request.limit > 0 && page.items.len() == request.limit {
            // Full, and etcd holds more after the last key read.
            page.more = true;
            break;
        }
        start = next_start;
        chunk = (chunk * 2).min(MAX_CHUNK);
    }
    page.revision = u64::try_from(revision).unwrap_or(0);
    if !page.more {
        page.remaining = 0;
    }
    Ok(page)
}

/// The object under `key` now (a linearizable read of one key), None when there is none.
pub async fn read_one(
    client: &Client,
    layout: &KeyLayout,
    key: &ObjectKey,
) -> Result<Option<StoredObject>, StoreError> {
    let response = tokio::time::timeout(
        REQUEST_TIMEOUT,
        super::kv_client(client).get(layout.encode(key), None),
    )
    .await
    .map_err(|_| unavailable("request timed out"))?
    .map_err(unavailable)?;
    let Some(kv) = response.kvs().first() else {
        return Ok(None);
    };
    let rv = u64::try_from(kv.mod_revision()).unwrap_or(0);
    decode(kv.value(), rv)
        .map(Some)
        .ok_or_else(|| unavailable(format!("undecodable value under {}", layout.encode(key))))
}

/// etcd's revision now (the header of a count-only read).
async fn current_revision(client: &Client, layout: &KeyLayout) -> Result<u64, StoreError> {
    let options = GetOptions::new().with_count_only();
    let response = tokio::time::timeout(
        REQUEST_TIMEOUT,
        super::kv_client(client).get(layout.compact_key(), Some(options)),
    )
    .await
    .map_err(|_| unavailable("request timed out"))?
    .map_err(unavailable)?;
    Ok(response
        .header()
        .and_then(|h| u64::try_from(h.revision()).ok())
        .unwrap_or(0))
}

/// A failed range read as the store reports it.
async fn read_error(
    client: &Client,
    layout: &KeyLayout,
    error: etcd_client::Error,
    requested: u64,
) -> StoreError {
    let message = match &error {
        etcd_client::Error::GRpcStatus(status) => status.message().to_string(),
        other => other.to_string(),
    };
    if message.contains(COMPACTED) {
        StoreError::Compacted { requested }
    } else if message.contains(FUTURE) {
        match current_revision(client, layout).await {
            Ok(current) => StoreError::TooNew { requested, current },
            Err(e) => e,
        }
    } else {
        unavailable(error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(namespace: Option<&str>, after: Option<(&str, &str)>) -> PageRequest {
        PageRequest {
            resource: Arc::from("/configmaps"),
            namespace: namespace.map(String::from),
            after: after.map(|(a, b)| (a.to_string(), b.to_string())),
            revision: 0,
            limit: 10,
        }
    }

    fn text(range: (Vec<u8>, Vec<u8>)) -> (String, String) {
        (
            String::from_utf8_lossy(&range.0).into_owned(),
            String::from_utf8_lossy(&range.1).into_owned(),
        )
    }

    #[test]
    fn a_page_covers_the_directory_from_after_the_continue_key() {
        let layout = KeyLayout::new("/registry", [Arc::from("/configmaps")]);
        assert_eq!(
            text(page_range(&layout, &request(None, None))),
            (
                "/registry/configmaps/".into(),
                "/registry/configmaps0".into()
            )
        );
        assert_eq!(
            text(page_range(&layout, &request(Some("a"), Some(("a", "x"))))),
            (
                "/registry/configmaps/a/x\0".into(),
                "/registry/configmaps/a0".into()
            )
        );
        // A continue key from before the namespace does not reach outside it.
        assert_eq!(
            text(page_range(&layout, &request(Some("b"), Some(("a", "x"))))),
            (
                "/registry/configmaps/b/".into(),
                "/registry/configmaps/b0".into()
            )
        );
        // One from after it leaves nothing to read.
        let (start, end) = page_range(&layout, &request(Some("b"), Some(("c", "x"))));
        assert!(start >= end);
    }
}
