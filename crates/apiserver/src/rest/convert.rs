//! Conversion between a resource's served version and its storage version where it needs more
//! than the strategy's synchronous conversion: custom resources whose CRD converts by webhook
//! ([`crate::crd::conversion`]). The generic path converts at the points kube-apiserver's codec
//! does: an object is converted to the storage version just before it is written (creates,
//! updates, patches and applies, deletions that mark it), and every object read for an answer
//! (get, list, watch events, the object a write or delete answers with) is converted to the
//! version the request was made at, a list's items in one call. Objects already at the wanted
//! version are never sent; a failure is the webhook's 500.

use super::{Rest, served_version};
use crate::resource::ResourceType;
use crate::status::ApiError;
use serde_json::Value;

impl Rest {
    /// `obj`, in `rt`'s form, converted to the version it is stored at (unchanged unless the
    /// resource converts by webhook).
    pub(crate) async fn to_storage(
        &self,
        rt: &ResourceType,
        obj: Value,
    ) -> Result<Value, ApiError> {
        let Some(converter) = &rt.conversion else {
            return Ok(obj);
        };
        let storage = converter.storage_api_version();
        let mut out = converter.convert(self, vec![obj], &storage, false).await?;
        Ok(out.pop().unwrap_or(Value::Null))
    }

    /// A stored object as served at `rt`'s version: converted by the resource's webhook if it
    /// has one, then through [`served_version`].
    pub async fn served(&self, rt: &ResourceType, obj: Value) -> Result<Value, ApiError> {
        let mut obj = match &rt.conversion {
            Some(converter) => converter
                .convert(self, vec![obj], &rt.api_version(), false)
                .await?
                .pop()
                .unwrap_or(Value::Null),
            None => obj,
        };
        served_version(rt, &mut obj);
        Ok(obj)
    }

    /// A list's stored items as served at `rt`'s version (one webhook call for all of them).
    pub async fn served_items(
        &self,
        rt: &ResourceType,
        items: Vec<Value>,
    ) -> Result<Vec<Value>, ApiError> {
        let mut items = match &rt.conversion {
            Some(converter) if !items.is_empty() => {
                converter
                    .convert(self, items, &rt.api_version(), true)
                    .await?
            }
            _ => items,
        };
        for item in &mut items {
            served_version(rt, item);
        }
        Ok(items)
    }

    /// GET one object, as a value at `rt`'s version ([`Rest::get_value`] with the resource's
    /// webhook conversion).
    pub async fn read(
        &self,
        rt: &ResourceType,
        namespace: Option<&str>,
        name: &str,
    ) -> Result<Value, ApiError> {
        if rt.conversion.is_none() {
            return self.get_value(rt, namespace, name);
        }
        let obj = self.get(rt, namespace, name)?;
        self.served(rt, obj.value()).await
    }
}
