//! Selectors over objects as served, for custom resources converted by webhook. A CRD declares
//! `selectableFields` per version, and a field's path and value can differ between versions, so
//! kube-apiserver (whose storage for each version decodes objects to that version before its
//! predicate runs) selects on the object at the version of the request. Here objects are stored
//! at the storage version; when a field selector names a field other than `metadata.name` or
//! `metadata.namespace` of such a resource, LIST converts the objects in scope in one webhook call
//! and applies both selectors to what it got back, and WATCH does so per event (the previous
//! state too, to tell an object leaving the selection). Objects already at the requested version
//! are not sent to the webhook.

use super::list::{ListOptions, ListResult, Token, encode_token};
use super::{Rest, store_error};
use crate::resource::ResourceType;
use crate::status::ApiError;
use crate::storage::{ReadAt, StoredObject};
use crate::strategy::field_string;
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Whether `opts` must be evaluated on objects converted to `rt`'s version.
pub(crate) fn selects_served_fields(rt: &ResourceType, opts: &ListOptions) -> bool {
    rt.conversion.is_some()
        && opts
            .field_selector
            .requirements
            .iter()
            .any(|r| !matches!(r.field.as_str(), "metadata.name" | "metadata.namespace"))
}

/// Whether `served` (an object at the requested version) passes both selectors.
pub(crate) fn matches_served(opts: &ListOptions, served: &Value) -> bool {
    if !opts.label_selector.is_empty() {
        let labels: BTreeMap<String, String> = served
            .pointer("/metadata/labels")
            .and_then(|l| serde_json::from_value(l.clone()).ok())
            .unwrap_or_default();
        if !opts.label_selector.matches(&labels) {
            return false;
        }
    }
    opts.field_selector
        .matches(|field| field_string(served, field))
}

impl Rest {
    /// A LIST whose selectors read objects as served (see the module): the objects after `start`
    /// read at `at`, converted in one call, selected, then cut to `opts.limit`. A full page gets
    /// a continue token when any object follows it, as the stored-version LIST does.
    pub(super) async fn list_served(
        &self,
        rt: &ResourceType,
        namespace: Option<&str>,
        opts: &ListOptions,
        at: ReadAt,
        start: Option<(String, String)>,
    ) -> Result<ListResult, ApiError> {
        let mut scanned: Vec<(String, String, Arc<StoredObject>)> = Vec::new();
        let after = start
            .as_ref()
            .map(|(ns, name)| (ns.as_str(), name.as_str()));
        let resource_version = self
            .store
            .scan(&rt.storage_key, namespace, at, after, |ns, name, obj| {
                scanned.push((ns.to_string(), name.to_string(), obj.clone()));
                true
            })
            .await
            .map_err(|e| store_error(rt, "", e))?;
        let values = scanned.iter().map(|(_, _, o)| o.value()).collect();
        let served = self.served_items(rt, values).await?;
        let mut items = Vec::new();
        let mut last: Option<(&str, &str)> = None;
        let mut more = false;
        for ((ns, name, obj), value) in scanned.iter().zip(&served) {
            if opts.limit > 0 && items.len() == opts.limit {
                more = true;
                break;
            }
            if matches_served(opts, value) {
                items.push(obj.clone());
                last = Some((ns, name));
            }
        }
        let continue_token = last.filter(|_| more).map(|(ns, name)| {
            encode_token(&Token {
                rv: i64::try_from(resource_version).unwrap_or(i64::MAX),
                ns: ns.to_string(),
                name: name.to_string(),
            })
        });
        Ok(ListResult {
            items,
            resource_version,
            continue_token,
            remaining: None,
        })
    }

    /// `obj` as served at `rt`'s version and whether it passes `opts` there.
    pub(super) async fn select_served(
        &self,
        rt: &ResourceType,
        opts: &ListOptions,
        obj: &StoredObject,
    ) -> Result<(Value, bool), ApiError> {
        let served = self.served(rt, obj.value()).await?;
        let selected = matches_served(opts, &served);
        Ok((served, selected))
    }
}
