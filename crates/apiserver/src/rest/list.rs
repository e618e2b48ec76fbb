//! LIST: selectors, resourceVersion semantics and consistent pagination.
//!
//! Pages of one list all come from the same snapshot: the continue token carries the snapshot's
//! resourceVersion and the last key returned; the next page is read at exactly that version (from
//! the event history; on etcd, from etcd at that revision, as are lists at an exact
//! resourceVersion and every paginated list, as kube-apiserver reads them). A token older than the history answers 410 Expired, as upstream does,
//! with a fresh token in the Status's `metadata.continue` that continues after the same key at
//! the latest state (an inconsistent list, which the client may choose to accept).

use super::{Rest, store_error};
use crate::resource::ResourceType;
use crate::selector::{FieldSelector, LabelSelector};
use crate::status::{ApiError, FieldCause};
use crate::storage::{ReadAt, StoreError, StoredObject};
use crate::strategy::field_string;
use base64::Engine;
use std::sync::Arc;

/// The query parameters of a LIST (and the filters of a WATCH).
#[derive(Debug, Clone, Default)]
pub struct ListOptions {
    /// `labelSelector`.
    pub label_selector: LabelSelector,
    /// `fieldSelector`.
    pub field_selector: FieldSelector,
    /// `limit` (0 = no limit).
    pub limit: usize,
    /// `continue`.
    pub continue_token: Option<String>,
    /// `resourceVersion`.
    pub resource_version: Option<String>,
    /// `resourceVersionMatch`.
    pub resource_version_match: Option<String>,
    /// A client's request, not one of the server's own controllers' (which read the cache, as
    /// informers do): a consistent list (no resourceVersion, no continue) is read from a shared
    /// medium itself when the cache cannot be trusted to reach its revision, as kube-apiserver
    /// reads it from etcd before 3.4.31/3.5.13.
    pub by_client: bool,
}

/// One page of a list.
#[derive(Debug, Clone)]
pub struct ListResult {
    /// The objects, in key order.
    pub items: Vec<Arc<StoredObject>>,
    /// The list's resourceVersion.
    pub resource_version: u64,
    /// The token for the next page, if any.
    pub continue_token: Option<String>,
    /// How many matching objects follow this page (when paginated).
    pub remaining: Option<u64>,
}

#[derive(serde::Serialize, serde::Deserialize)]
pub(super) struct Token {
    /// The snapshot the pages are read at; [`LATEST`] reads the current state (the token an
    /// expired one is answered with, as upstream's resourceVersion -1).
    pub(super) rv: i64,
    pub(super) ns: String,
    pub(super) name: String,
}

/// A token's `rv` that reads the latest state.
const LATEST: i64 = -1;

/// storage/etcd3's `inconsistentContinue`: the 410 that carries a token at the latest state.
const EXPIRED_CONTINUE: &str = "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.";

/// storage/etcd3's `expired`: a list at a revision etcd has compacted.
pub(crate) const EXPIRED_LIST: &str = "The resourceVersion for the provided list is too old.";

fn decode_token(s: &str) -> Result<Token, ApiError> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s)
        .map_err(|e| ApiError::bad_request(format!("continue key is not valid: {e}")))?;
    serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::bad_request(format!("continue key is not valid: {e}")))
}

pub(super) fn encode_token(t: &Token) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(serde_json::to_vec(t).unwrap_or_default())
}

/// Checks that every field in `selector` is selectable on `rt`, and returns the selector with
/// each field as the path it has in stored objects (which is what [`matches`] reads).
pub(crate) fn check_fields(
    rt: &ResourceType,
    selector: &FieldSelector,
) -> Result<FieldSelector, ApiError> {
    let mut stored = selector.clone();
    for r in &mut stored.requirements {
        let ok = matches!(r.field.as_str(), "metadata.name" | "metadata.namespace")
            || rt.strategy.selects_field(&r.field);
        if !ok {
            return Err(ApiError::bad_request(format!(
                "field label not supported: {}",
                r.field
            )));
        }
        r.unset = rt.strategy.unset_field(&r.field).to_string();
        r.field = rt.strategy.stored_field(&r.field).into_owned();
    }
    Ok(stored)
}

/// Whether an object (with its namespace and name) passes both selectors.
pub(crate) fn matches(opts: &ListOptions, ns: &str, name: &str, obj: &StoredObject) -> bool {
    if !opts.label_selector.is_empty() && !opts.label_selector.matches(obj.labels()) {
        return false;
    }
    if opts.field_selector.is_empty() {
        return true;
    }
    let needs_body = opts
        .field_selector
        .requirements
        .iter()
        .any(|r| !matches!(r.field.as_str(), "metadata.name" | "metadata.namespace"));
    let body = needs_body.then(|| obj.value());
    opts.field_selector.matches(|field| match field {
        "metadata.name" => Some(name.to_string()),
        "metadata.namespace" => Some(ns.to_string()),
        other => body.as_ref().and_then(|b| field_string(b, other)),
    })
}

impl ListOptions {
    /// Which state the list reads, from `resourceVersion`, `resourceVersionMatch` and `limit`.
    pub(crate) fn read_at(&self) -> Result<ReadAt, ApiError> {
        let rv = self.resource_version.as_deref().filter(|s| !s.is_empty());
        let m = self
            .resource_version_match
            .as_deref()
            .filter(|s| !s.is_empty());
        // Upstream validates these as ListOptions: 422 `ListOptions.meta.k8s.io "" is invalid`.
        let invalid = |cause| ApiError::invalid("meta.k8s.io", "ListOptions", "", vec![cause]);
        match (rv, m) {
            (None, Some(_)) => Err(invalid(FieldCause::forbidden(
                "resourceVersionMatch",
                "resourceVersionMatch is forbidden unless resourceVersion is provided",
            ))),
            (None, None) => Ok(ReadAt::Latest),
            (Some("0"), Some("Exact")) => Err(invalid(FieldCause::forbidden(
                "resourceVersionMatch",
                "resourceVersionMatch \"exact\" is forbidden for resourceVersion \"0\"",
            ))),
            (Some(rv), Some("Exact")) => Ok(ReadAt::Exact(super::parse_rv(rv)?)),
            (Some(rv), None | Some("NotOlderThan")) => {
                let n = super::parse_rv(rv)?;
                Ok(if n == 0 {
                    // "Any": the cache as it is, with no wait for the medium's revision (as
                    // upstream's watch cache serves it; on etcd, no round trip to etcd).
                    ReadAt::NotOlderThan(0)
                } else if m.is_none() && self.limit > 0 {
                    // The legacy semantics: a paginated list at a resourceVersion without a
                    // match reads exactly that version (as upstream's etcd3 store does).
                    ReadAt::Exact(n)
                } else {
                    ReadAt::NotOlderThan(n)
                })
            }
            (Some(_), Some(other)) => Err(invalid(FieldCause::not_supported(
                "resourceVersionMatch",
                &serde_json::json!(other),
                &["Exact", "NotOlderThan", ""].map(String::from),
            ))),
        }
    }
}

impl Rest {
    /// LIST `rt` in `namespace` (all namespaces when None).
    pub async fn list(
        &self,
        rt: &ResourceType,
        namespace: Option<&str>,
        opts: &ListOptions,
    ) -> Result<ListResult, ApiError> {
        let opts = &ListOptions {
            field_selector: check_fields(rt, &opts.field_selector)?,
            ..opts.clone()
        };
        let namespace = if rt.namespaced { namespace } else { None };
        let (at, start) = match &opts.continue_token {
            Some(token) if !token.is_empty() => {
                if opts
                    .resource_version
                    .as_deref()
                    .is_some_and(|s| !s.is_empty())
                {
                    return Err(ApiError::bad_request(
                        "specifying resource version is not allowed when using continue",
                    ));
                }
                if opts
                    .resource_version_match
                    .as_deref()
                    .is_some_and(|s| !s.is_empty())
                {
                    return Err(ApiError::invalid(
                        "meta.k8s.io",
                        "ListOptions",
                        "",
                        vec![FieldCause::forbidden(
                            "resourceVersionMatch",
                            "resourceVersionMatch is forbidden when continue is provided",
                        )],
                    ));
                }
                let t = decode_token(token)?;
                let at = match u64::try_from(t.rv) {
                    Ok(rv) if rv > 0 => ReadAt::Exact(rv),
                    _ if t.rv == LATEST => ReadAt::Latest,
                    _ => {
                        return Err(ApiError::bad_request(format!(
                            "continue key is not valid: incorrect encoded start resourceVersion: {} (version meta.k8s.io/v1)",
                            t.rv
                        )));
                    }
                };
                (at, Some((t.ns, t.name)))
            }
            _ => (opts.read_at()?, None),
        };
        if super::served_fields::selects_served_fields(rt, opts) {
            return self.list_served(rt, namespace, opts, at, start).await;
        }
        self.list_page(rt, namespace, opts, at, start).await
    }

    /// One page of a list. From the store's index, or, on a shared medium (etcd), from the
    /// medium itself for every page of a paginated list and for lists at an exact
    /// resourceVersion, as kube-apiserver delegates them from its watch cache to etcd (the
    /// pages of one list are then read at one revision of etcd, in etcd's key order), and for a
    /// client's consistent list when etcd's progress reports cannot be trusted.
    ///
    /// Like kube-apiserver over etcd, a full page gets a continue token when any object follows
    /// it, matching or not, and `remainingItemCount` only when there is no selector (it is then
    /// the number of objects that follow; with a selector that count would include objects that
    /// do not match, so upstream leaves it out).
    async fn list_page(
        &self,
        rt: &ResourceType,
        namespace: Option<&str>,
        opts: &ListOptions,
        at: ReadAt,
        start: Option<(String, String)>,
    ) -> Result<ListResult, ApiError> {
        let selective = !opts.label_selector.is_empty() || !opts.field_selector.is_empty();
        let after = start
            .as_ref()
            .map(|(ns, name)| (ns.as_str(), name.as_str()));
        let consistent = opts.by_client
            && start.is_none()
            && opts.resource_version.as_deref().is_none_or(str::is_empty);
        let from_medium = self.store.is_shared()
            && (opts.limit > 0
                || start.is_some()
                || matches!(at, ReadAt::Exact(_))
                || (consistent && !self.store.consistent_from_cache()));
        let page = if from_medium {
            let mut keep = |key: &crate::storage::ObjectKey, obj: &StoredObject| {
                matches(opts, &key.namespace, &key.name, obj)
            };
            self.store
                .read_page(&rt.storage_key, namespace, at, after, opts.limit, &mut keep)
                .await
        } else {
            self.store
                .page(
                    &rt.storage_key,
                    namespace,
                    at,
                    after,
                    opts.limit,
                    |ns, name, obj| matches(opts, ns, name, obj),
                )
                .await
        };
        let page = page.map_err(|e| list_error(rt, e, start))?;
        let mut continue_token = None;
        let mut remaining = None;
        if page.more
            && let Some((key, _)) = page.items.last()
        {
            continue_token = Some(encode_token(&Token {
                rv: i64::try_from(page.revision).unwrap_or(i64::MAX),
                ns: key.namespace.clone(),
                name: key.name.clone(),
            }));
            remaining = (!selective).then_some(page.remaining);
        }
        Ok(ListResult {
            items: page.items.into_iter().map(|(_, obj)| obj).collect(),
            resource_version: page.revision,
            continue_token,
            remaining,
        })
    }
}

/// A list's storage failure as upstream answers it. A continue token whose snapshot is gone is
/// 410 with a token that continues after the same key at the latest state (an inconsistent
/// list the client may accept), as upstream's etcd3 store answers it.
fn list_error(rt: &ResourceType, err: StoreError, start: Option<(String, String)>) -> ApiError {
    match (err, start) {
        (StoreError::TooOld { .. } | StoreError::Compacted { .. }, Some((ns, name))) => {
            let mut err = ApiError::expired(EXPIRED_CONTINUE);
            err.continue_token = Some(encode_token(&Token {
                rv: LATEST,
                ns,
                name,
            }));
            err
        }
        (e, _) => store_error(rt, "", e),
    }
}
