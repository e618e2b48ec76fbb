//! Conversion webhooks (`spec.conversion.strategy: Webhook`): custom resources converted between
//! a CRD's versions by a webhook, as apiextensions-apiserver's webhook converter does.
//!
//! One call converts a batch (a list's items at once): the objects not yet at the desired
//! version go out in a `ConversionReview` (the first of `conversionReviewVersions` this server
//! speaks, `v1` or `v1beta1`) with a fresh `uid` and the `desiredAPIVersion`; objects already
//! there are never sent, and nothing is called when none has to change. The answer is checked
//! as upstream checks it (kind and `apiVersion` of a v1 review, `uid`, `result.status`, the
//! number of objects, each object's `apiVersion`, kind, name, namespace and uid), and each
//! converted object keeps the original's metadata except its labels and annotations, which the
//! webhook may change (validated as on any write). Every failure reads
//! `conversion webhook for <group/version, Kind=kind> ...`.
//!
//! The call itself (url or service, `caBundle`, `?timeout=30s`, client-go's error texts) is the
//! admission webhooks' client ([`crate::admission::webhook::client`]), through the pooled client
//! the server keeps for the `clientConfig` (shared with admission webhooks of the same config).

use crate::admission::webhook::client::{self, Endpoint};
use crate::admission::webhook::client_manager::WebhookClient;
use crate::rest::Rest;
use crate::status::ApiError;
use k8s_openapi::api::admissionregistration::v1::WebhookClientConfig;
use serde_json::{Map, Value, json};
use std::sync::Arc;
use std::time::Duration;

/// How long a conversion call may take: the webhook client's default, as the CRD has no
/// `timeoutSeconds`.
const TIMEOUT: Duration = Duration::from_secs(30);

/// The ConversionReview versions this server speaks.
const SPOKEN: [&str; 2] = ["v1", "v1beta1"];

/// The conversion webhook of one CRD.
pub struct WebhookConverter {
    /// The CRD's group.
    group: String,
    /// The CRD's kind.
    kind: String,
    /// The version objects are stored at.
    storage_version: String,
    /// `spec.conversion.webhook.clientConfig`.
    client_config: WebhookClientConfig,
    /// `spec.conversion.webhook.conversionReviewVersions`, in preference order.
    review_versions: Vec<String>,
    /// The pooled client of `client_config`, taken from the server's
    /// [`crate::admission::webhook::client_manager::ClientManager`] at the first call.
    client: std::sync::OnceLock<Arc<WebhookClient>>,
}

impl std::fmt::Debug for WebhookConverter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookConverter")
            .field("group", &self.group)
            .field("kind", &self.kind)
            .field("storage_version", &self.storage_version)
            .finish_non_exhaustive()
    }
}

impl WebhookConverter {
    /// The converter of a CRD whose `spec.conversion.strategy` is `Webhook` (None otherwise).
    pub fn for_crd(crd: &Value) -> Option<Arc<Self>> {
        let conversion = crd.pointer("/spec/conversion")?;
        if conversion.get("strategy").and_then(Value::as_str) != Some("Webhook") {
            return None;
        }
        let webhook = conversion.get("webhook")?;
        // The apiextensions clientConfig has the admission one's shape.
        let client_config: WebhookClientConfig =
            serde_json::from_value(webhook.get("clientConfig")?.clone()).ok()?;
        let storage_version = crd
            .pointer("/spec/versions")
            .and_then(Value::as_array)?
            .iter()
            .find(|v| v.get("storage").and_then(Value::as_bool) == Some(true))
            .and_then(|v| v.get("name").and_then(Value::as_str))?
            .to_string();
        Some(Arc::new(WebhookConverter {
            group: str_at(crd, "/spec/group").to_string(),
            kind: str_at(crd, "/spec/names/kind").to_string(),
            storage_version,
            client_config,
            review_versions: webhook
                .get("conversionReviewVersions")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default(),
            client: std::sync::OnceLock::new(),
        }))
    }

    /// The `apiVersion` objects are stored at.
    pub fn storage_api_version(&self) -> String {
        format!("{}/{}", self.group, self.storage_version)
    }

    /// Converts `objects` to `desired` (`group/version`), calling the webhook once for those
    /// not already there; the others are returned unchanged, in their places.
    /// `list` says whether the objects are a list's items (upstream words its errors for a
    /// list's items by index).
    pub async fn convert(
        &self,
        rest: &Rest,
        mut objects: Vec<Value>,
        desired: &str,
        list: bool,
    ) -> Result<Vec<Value>, ApiError> {
        let pending: Vec<usize> = (0..objects.len())
            .filter(|&i| api_version(&objects[i]) != desired)
            .collect();
        let Some(&first) = pending.first() else {
            return Ok(objects);
        };
        // Upstream names the object it was asked to convert (a list's first to convert).
        let gvk = gvk_string(api_version(&objects[first]), kind_of(&objects[first]));
        let failed = |cause: String| {
            ApiError::internal(format!("conversion webhook for {gvk} failed: {cause}"))
        };
        let Some(review_version) = self
            .review_versions
            .iter()
            .find(|v| SPOKEN.contains(&v.as_str()))
        else {
            return Err(ApiError::internal(
                "no supported conversion review versions",
            ));
        };
        let uid = uuid::Uuid::new_v4().to_string();
        let sent: Vec<&Value> = pending.iter().map(|&i| &objects[i]).collect();
        let review = json!({
            "kind": "ConversionReview",
            "apiVersion": format!("apiextensions.k8s.io/{review_version}"),
            "request": {"uid": uid, "desiredAPIVersion": desired, "objects": sent},
            "response": {"uid": "", "convertedObjects": null, "result": {"metadata": {}}},
        });
        let endpoint = Endpoint {
            client_config: &self.client_config,
            timeout: TIMEOUT,
            client: self
                .client
                .get_or_init(|| rest.admission.clients.client(&self.client_config)),
        };
        let answer = client::call_endpoint(rest, endpoint, &review)
            .await
            .map_err(failed)?;
        let converted = converted_objects(&answer, review_version, &uid).map_err(failed)?;
        if converted.len() != pending.len() {
            return Err(ApiError::internal(format!(
                "conversion webhook for {gvk} returned {} objects, expected {}",
                converted.len(),
                pending.len()
            )));
        }
        for (index, (slot, mut out)) in pending.into_iter().zip(converted).enumerate() {
            let original = &objects[slot];
            // Upstream counts a list's objects from 1 once one decoded, a single one at 0.
            let at = if list {
                format!("converted object at index {}", index + 1)
            } else {
                "object at index 0".to_string()
            };
            let invalid = |what: &str, cause: String| {
                ApiError::internal(format!(
                    "conversion webhook for {gvk} returned invalid {what}: {cause}"
                ))
            };
            if !out.is_object() {
                return Err(invalid(
                    &format!("converted object at index {index}"),
                    "Object 'Kind' is missing in the converted object".into(),
                ));
            }
            let got = api_version(&out).to_string();
            if got != desired {
                return Err(invalid(
                    &at,
                    format!("invalid groupVersion (expected {desired}, received {got})"),
                ));
            }
            if kind_of(&out) != kind_of(original) {
                return Err(invalid(
                    &at,
                    format!(
                        "invalid kind (expected {}, received {})",
                        kind_of(original),
                        kind_of(&out)
                    ),
                ));
            }
            if let Err(cause) = same_identity(original, &out) {
                let what = if list { at.as_str() } else { "object" };
                return Err(invalid(what, cause));
            }
            if let Err(cause) = restore_metadata(original, &mut out) {
                let what = if list {
                    format!("metadata in object at index {}", index + 1)
                } else {
                    "metadata".to_string()
                };
                return Err(ApiError::internal(format!(
                    "conversion webhook for {gvk} returned invalid {what}: {cause}"
                )));
            }
            objects[slot] = out;
        }
        Ok(objects)
    }
}

fn str_at<'a>(v: &'a Value, pointer: &str) -> &'a str {
    v.pointer(pointer).and_then(Value::as_str).unwrap_or("")
}

fn api_version(obj: &Value) -> &str {
    obj.get("apiVersion").and_then(Value::as_str).unwrap_or("")
}

fn kind_of(obj: &Value) -> &str {
    obj.get("kind").and_then(Value::as_str).unwrap_or("")
}

/// Go's `schema.GroupVersionKind` string: `group/version, Kind=kind`.
fn gvk_string(api_version: &str, kind: &str) -> String {
    let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
    format!("{group}/{version}, Kind={kind}")
}

/// The converted objects of a webhook's answer, after upstream's checks of the review.
fn converted_objects(
    answer: &Value,
    review_version: &str,
    uid: &str,
) -> Result<Vec<Value>, String> {
    if review_version == "v1" {
        let got_version = api_version(answer);
        let got_kind = kind_of(answer);
        if got_version != "apiextensions.k8s.io/v1" || got_kind != "ConversionReview" {
            return Err(format!(
                "expected webhook response of apiextensions.k8s.io/v1, Kind=ConversionReview, got {}",
                gvk_string(got_version, got_kind)
            ));
        }
    }
    let Some(response) = answer.get("response").filter(|r| r.is_object()) else {
        return Err("no response provided".into());
    };
    if review_version == "v1" {
        let got = response.get("uid").and_then(Value::as_str).unwrap_or("");
        if got != uid {
            return Err(format!("expected response.uid={uid:?}, got {got:?}"));
        }
    }
    let status = str_at(response, "/result/status");
    if status != "Success" {
        let message = str_at(response, "/result/message");
        if !message.is_empty() {
            return Err(message.to_string());
        }
        return Err(format!(
            "response.result.status was '{status}', not 'Success'"
        ));
    }
    Ok(response
        .get("convertedObjects")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default())
}

/// Upstream's `validateConvertedObject`: the webhook may not change who an object is.
fn same_identity(original: &Value, converted: &Value) -> Result<(), String> {
    for (field, word) in [("name", "name"), ("namespace", "namespace"), ("uid", "UID")] {
        let a = str_at(original, &format!("/metadata/{field}"));
        let b = str_at(converted, &format!("/metadata/{field}"));
        if a != b {
            return Err(format!("must have the same {word}: {a} != {b}"));
        }
    }
    Ok(())
}

/// Upstream's `restoreObjectMeta`: the converted object gets the original's metadata, with the
/// labels and annotations the webhook returned (validated when they changed).
fn restore_metadata(original: &Value, converted: &mut Value) -> Result<(), String> {
    let returned = match converted.get("metadata") {
        None => return Err("missing metadata in converted object".into()),
        Some(Value::Object(m)) => m.clone(),
        Some(other) => {
            return Err(format!(
                "invalid metadata of type {} in converted object",
                crate::crd::schema::field::go_type_name(other)
            ));
        }
    };
    let mut meta: Map<String, Value> = original
        .get("metadata")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    for field in ["labels", "annotations"] {
        let Some(given) = returned.get(field).filter(|v| !v.is_null()) else {
            meta.remove(field);
            continue;
        };
        let Some(given) = given.as_object() else {
            return Err(format!(
                "invalid metadata.{field} of type {} in converted object",
                crate::crd::schema::field::go_type_name(given)
            ));
        };
        let before = meta.get(field).and_then(Value::as_object);
        let mut changed = before.map_or(0, Map::len) != given.len();
        let mut strings = std::collections::BTreeMap::new();
        for (k, v) in given {
            let Some(s) = v.as_str() else {
                return Err(format!(
                    "metadata.{field}[{k}] must be a string, but is {} in converted object",
                    crate::crd::schema::field::go_type_name(v)
                ));
            };
            if before.and_then(|b| b.get(k)) != Some(v) {
                changed = true;
            }
            strings.insert(k.clone(), s.to_string());
        }
        if changed {
            let as_json = json!(strings);
            let causes = if field == "labels" {
                crate::validation::validate_labels(&as_json, "metadata.labels")
            } else {
                crate::validation::validate_annotations(&as_json, "metadata.annotation")
            };
            if !causes.is_empty() {
                let messages: Vec<String> = causes.into_iter().map(|c| c.message).collect();
                return Err(crate::auth::rbac::aggregate(&messages));
            }
        }
        meta.insert(field.to_string(), Value::Object(given.clone()));
    }
    converted["metadata"] = Value::Object(meta);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn webhooks_may_change_labels_but_not_who_an_object_is() {
        let original = json!({"apiVersion": "x/v1", "kind": "Foo",
            "metadata": {"name": "a", "namespace": "n", "uid": "u", "generation": 2,
                         "labels": {"k": "v"}}});
        let mut out = json!({"apiVersion": "x/v2", "kind": "Foo",
            "metadata": {"name": "a", "namespace": "n", "uid": "u", "generation": 9,
                         "labels": {"k": "w"}, "annotations": {"a": "b"}}});
        same_identity(&original, &out).expect("same identity");
        restore_metadata(&original, &mut out).expect("valid");
        assert_eq!(out["metadata"]["generation"], 2);
        assert_eq!(out["metadata"]["labels"], json!({"k": "w"}));
        assert_eq!(out["metadata"]["annotations"], json!({"a": "b"}));
        let renamed = json!({"metadata": {"name": "b", "namespace": "n", "uid": "u"}});
        assert_eq!(
            same_identity(&original, &renamed).unwrap_err(),
            "must have the same name: a != b"
        );
        let mut bad = json!({"metadata": {"labels": {"k": 1}}});
        assert_eq!(
            restore_metadata(&original, &mut bad).unwrap_err(),
            "metadata.labels[k] must be a string, but is int64 in converted object"
        );
    }

    #[test]
    fn a_v1_review_must_answer_its_uid_with_success() {
        let ok = json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "ConversionReview",
            "response": {"uid": "1", "result": {"status": "Success"}, "convertedObjects": [{}]}});
        assert_eq!(converted_objects(&ok, "v1", "1").unwrap().len(), 1);
        assert_eq!(
            converted_objects(&ok, "v1", "2").unwrap_err(),
            r#"expected response.uid="2", got "1""#
        );
        let failed = json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "ConversionReview",
            "response": {"uid": "1", "result": {"status": "Failure"}}});
        assert_eq!(
            converted_objects(&failed, "v1", "1").unwrap_err(),
            "response.result.status was 'Failure', not 'Success'"
        );
        // v1beta1 answers are not checked for their kind or uid.
        let beta = json!({"response": {"result": {"status": "Success"}, "convertedObjects": []}});
        assert!(converted_objects(&beta, "v1beta1", "1").is_ok());
    }
}
