//! Periodic compaction of etcd's history (`--etcd-compaction-interval`).
//!
//! The servers sharing an etcd coordinate as kube-apiserver's do, through a marker key whose
//! `version` counts compactions: every interval each server tries to advance the marker with a
//! transaction conditional on the version it last saw. The one that succeeds compacts up to the
//! revision observed one interval earlier (so a full interval of history always remains for
//! watches to resume from) and records that revision in the marker; the others learn the new
//! version and try again next interval. Every server's feed sees the marker change and drops the
//! compacted events from its cache's history, so resuming from before them is 410 Gone on all
//! servers alike.

use super::REQUEST_TIMEOUT;
use crate::storage::Feed;
use etcd_client::{Client, Compare, CompareOp, TxnOp, TxnOpResponse};
use std::time::Duration;

/// Compacts every `interval` until the store closes.
pub async fn run(client: Client, marker: String, interval: Duration, feed: Feed) {
    let mut seen_version = 0i64;
    let mut last_revision = 0i64;
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
    loop {
        ticks.tick().await;
        if feed.is_closed() {
            return;
        }
        match compact(&client, &marker, seen_version, last_revision).await {
            Ok((version, revision)) => {
                seen_version = version;
                last_revision = revision;
            }
            Err(e) => tracing::warn!(error = %e, "etcd compaction failed"),
        }
    }
}

/// One round: answers the marker's version and etcd's revision now.
pub async fn compact(
    client: &Client,
    marker: &str,
    seen_version: i64,
    revision: i64,
) -> Result<(i64, i64), String> {
    let mut kv = super::kv_client(client);
    let txn = etcd_client::Txn::new()
        .when([Compare::version(marker, CompareOp::Equal, seen_version)])
        .and_then([TxnOp::put(marker, revision.to_string(), None)])
        .or_else([TxnOp::get(marker, None)]);
    let response = tokio::time::timeout(REQUEST_TIMEOUT, kv.txn(txn))
        .await
        .map_err(|_| "request timed out".to_string())?
        .map_err(|e| e.to_string())?;
    let now = response.header().map(|h| h.revision()).unwrap_or(0);
    if !response.succeeded() {
        // Another server compacted this interval: take its marker's version.
        let version = response
            .op_responses()
            .into_iter()
            .find_map(|r| match r {
                TxnOpResponse::Get(get) => get.kvs().first().map(|kv| kv.version()),
                _ => None,
            })
            .unwrap_or(0);
        return Ok((version, now));
    }
    if revision > 0 {
        tracing::debug!(revision, "compacting etcd");
        kv.compact(revision, None)
            .await
            .map_err(|e| e.to_string())?;
    }
    Ok((seen_version + 1, now))
}
