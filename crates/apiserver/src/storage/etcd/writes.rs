//! Writes as single etcd transactions.
//!
//! Each write compares the key's revisions and applies only if the comparison holds, so the
//! precondition and the change are one atomic step in etcd, whichever API server sends them
//! (optimistic concurrency, as upstream's `GuaranteedUpdate`): a create requires
//! `create_revision == 0` (absent), an update or delete `mod_revision == expected` (or, with no
//! expectation, that the key exists). When the comparison fails, the same transaction reads the
//! key, so the answer (409 AlreadyExists, 409 Conflict, 404 NotFound) reflects the state that
//! made it fail. The revision etcd gives the transaction is the object's resourceVersion.

use super::layout::KeyLayout;
use super::{REQUEST_TIMEOUT, unavailable};
use crate::storage::{SharedOutcome, StoreError, StoredObject, WriteOp};
use etcd_client::{
    Compare, CompareOp, DeleteOptions, KeyValue, KvClient, Txn, TxnOp, TxnOpResponse, TxnResponse,
};
use std::sync::Arc;

/// The `ObjectMeta` fields that come before `resourceVersion` in upstream's serialization (the
/// Go struct's field order).
const BEFORE_RESOURCE_VERSION: &[&str] = &["name", "generateName", "namespace", "selfLink", "uid"];

/// A stored value (JSON without resourceVersion) at a revision, as the API serves it: the
/// version goes where kube-apiserver serializes it (after `uid`), not last in `metadata`.
pub fn decode(value: &[u8], revision: u64) -> Option<StoredObject> {
    let mut value: serde_json::Value = serde_json::from_slice(value).ok()?;
    if let Some(meta) = value.get_mut("metadata").and_then(|m| m.as_object_mut())
        && !meta.contains_key("resourceVersion")
    {
        let at = meta
            .keys()
            .position(|k| !BEFORE_RESOURCE_VERSION.contains(&k.as_str()))
            .unwrap_or(meta.len());
        meta.shift_insert(
            at,
            "resourceVersion".into(),
            serde_json::Value::String(revision.to_string()),
        );
    }
    Some(StoredObject::from_value(value, revision))
}

/// A revision as etcd's signed integer.
fn signed(rv: u64) -> i64 {
    i64::try_from(rv).unwrap_or(i64::MAX)
}

fn revision(response: &TxnResponse) -> u64 {
    response
        .header()
        .and_then(|h| u64::try_from(h.revision()).ok())
        .unwrap_or(0)
}

/// The key as the failed branch read it (None: absent).
fn current(response: &TxnResponse) -> Option<KeyValue> {
    response.op_responses().into_iter().find_map(|r| match r {
        TxnOpResponse::Get(mut get) => get.take_kvs().into_iter().next(),
        _ => None,
    })
}

/// Why an update or delete did not apply.
fn refused(response: &TxnResponse) -> StoreError {
    match current(response) {
        None => StoreError::NotFound,
        // It exists, so the expected revision did not match.
        Some(kv) => StoreError::Conflict {
            current: u64::try_from(kv.mod_revision()).unwrap_or(0),
        },
    }
}

/// Applies `op` in one transaction; answers the outcome and the revision it was decided at.
pub async fn write(mut kv: KvClient, layout: Arc<KeyLayout>, op: WriteOp) -> SharedOutcome {
    let (txn, key_name) = match &op {
        WriteOp::Create { key, value } => {
            let k = layout.encode(key);
            (
                Txn::new()
                    .when([Compare::create_revision(k.clone(), CompareOp::Equal, 0)])
                    .and_then([TxnOp::put(k.clone(), value.unstamped(), None)])
                    .or_else([TxnOp::get(k.clone(), None)]),
                key.name.clone(),
            )
        }
        WriteOp::Update {
            key,
            value,
            expected,
        } => {
            let k = layout.encode(key);
            (
                Txn::new()
                    .when([precondition(&k, *expected)])
                    .and_then([TxnOp::put(k.clone(), value.unstamped(), None)])
                    .or_else([TxnOp::get(k.clone(), None)]),
                key.name.clone(),
            )
        }
        WriteOp::Delete { key, expected } => {
            let k = layout.encode(key);
            (
                Txn::new()
                    .when([precondition(&k, *expected)])
                    .and_then([TxnOp::delete(
                        k.clone(),
                        Some(DeleteOptions::new().with_prev_key()),
                    )])
                    .or_else([TxnOp::get(k.clone(), None)]),
                key.name.clone(),
            )
        }
    };
    let response = match tokio::time::timeout(REQUEST_TIMEOUT, kv.txn(txn)).await {
        Ok(Ok(response)) => response,
        Ok(Err(e)) => {
            tracing::warn!(error = %e, name = %key_name, "etcd transaction failed");
            return (Err(unavailable(e)), 0);
        }
        Err(_) => return (Err(unavailable("request timed out")), 0),
    };
    let rv = revision(&response);
    if !response.succeeded() {
        let err = match &op {
            WriteOp::Create { .. } => StoreError::AlreadyExists,
            WriteOp::Update { .. } | WriteOp::Delete { .. } => refused(&response),
        };
        return (Err(err), rv);
    }
    let outcome = match op {
        WriteOp::Create { value, .. } | WriteOp::Update { value, .. } => {
            Ok(Arc::new(value.stamp(rv)))
        }
        WriteOp::Delete { .. } => {
            let last = response.op_responses().into_iter().find_map(|r| match r {
                TxnOpResponse::Delete(mut d) => d.take_prev_kvs().into_iter().next(),
                _ => None,
            });
            match last.and_then(|kv| decode(kv.value(), rv)) {
                Some(obj) => Ok(Arc::new(obj)),
                None => Err(StoreError::Unavailable(
                    "etcd: the deleted object's last state could not be read".into(),
                )),
            }
        }
    };
    (outcome, rv)
}

fn precondition(key: &str, expected: Option<u64>) -> Compare {
    match expected {
        Some(rv) => Compare::mod_revision(key, CompareOp::Equal, signed(rv)),
        None => Compare::create_revision(key, CompareOp::Greater, 0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_version_is_read_back_where_upstream_serializes_it() {
        let stored = br#"{"metadata":{"name":"a","namespace":"d","uid":"u","creationTimestamp":"t","labels":{"x":"1"}},"data":{}}"#;
        let object = decode(stored, 7).expect("decodes");
        assert_eq!(object.resource_version, 7);
        let value = object.value();
        let keys: Vec<&str> = value["metadata"]
            .as_object()
            .expect("metadata")
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            keys,
            [
                "name",
                "namespace",
                "uid",
                "resourceVersion",
                "creationTimestamp",
                "labels"
            ]
        );
        assert_eq!(value["metadata"]["resourceVersion"], "7");
    }
}
