//! CRD conversion webhooks, as controller-runtime's `webhook/conversion`: the API server posts a
//! `ConversionReview` (`apiextensions.k8s.io/v1` or `v1beta1`) with objects and the
//! `desiredAPIVersion`; the handler converts each object and answers, in the review's own
//! version, the request's `uid`, the converted objects and `result.status: Success` — or, when
//! any object fails, `result.status: Failure` with the error as `result.message` (which the API
//! server reports as `conversion webhook for <gvk> failed: <message>`).
//!
//! Conversion is a [`Converter`]: any `Fn(Value, &str) -> Result<Value, String>`, or a
//! [`HubConverter`] built from typed versions the way controller-runtime's `conversion.Hub` and
//! `conversion.Convertible` work: one version is the hub, every other version (a spoke)
//! implements [`Convertible`] to and from it, and a spoke-to-spoke conversion goes through the
//! hub.
//!
//! ```no_run
//! # use kubeforge_runtime::webhook::{Convertible, HubConverter, WebhookServer};
//! # fn f<V1, V2>(server: WebhookServer) -> WebhookServer
//! # where V1: kube::Resource<DynamicType = ()> + serde::Serialize + serde::de::DeserializeOwned + Send + Sync + 'static,
//! #       V2: Convertible<V1> {
//! // V1 is the hub (the storage version); V2 converts to and from it.
//! server.converter("/convert", HubConverter::<V1>::new().spoke::<V2>())
//! # }
//! ```

use kube::Resource;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::marker::PhantomData;

/// Converts one object to another version of its kind.
pub trait Converter: Send + Sync + 'static {
    /// `object` converted to `desired_api_version` (`group/version`), or why it cannot be.
    fn convert(&self, object: Value, desired_api_version: &str) -> Result<Value, String>;
}

impl<F> Converter for F
where
    F: Fn(Value, &str) -> Result<Value, String> + Send + Sync + 'static,
{
    fn convert(&self, object: Value, desired_api_version: &str) -> Result<Value, String> {
        self(object, desired_api_version)
    }
}

/// A version that is not the hub: how it converts to and from the hub `H`
/// (controller-runtime's `conversion.Convertible`).
pub trait Convertible<H>:
    Resource<DynamicType = ()> + Serialize + DeserializeOwned + Send + Sync + 'static
{
    /// This object in the hub version.
    fn convert_to(&self) -> Result<H, String>;
    /// The object `hub` is, in this version.
    fn convert_from(hub: &H) -> Result<Self, String>;
}

type Step = Box<dyn Fn(Value) -> Result<Value, String> + Send + Sync>;

/// The ways to and from the hub of one spoke version.
struct Spoke {
    to_hub: Step,
    from_hub: Step,
}

/// A [`Converter`] over typed versions around the hub `H` (controller-runtime's `conversion.Hub`,
/// the version every other converts through; usually the storage version).
pub struct HubConverter<H> {
    spokes: BTreeMap<String, Spoke>,
    hub: PhantomData<fn() -> H>,
}

impl<H> Default for HubConverter<H>
where
    H: Resource<DynamicType = ()> + Serialize + DeserializeOwned + Send + Sync + 'static,
{
    fn default() -> Self {
        Self::new()
    }
}

/// `value` typed as `T`, with `T`'s apiVersion and kind.
fn typed<T: DeserializeOwned>(value: Value) -> Result<T, String> {
    serde_json::from_value(value).map_err(|e| e.to_string())
}

/// `object` as JSON with `T`'s apiVersion and kind set.
fn untyped<T: Resource<DynamicType = ()> + Serialize>(object: &T) -> Result<Value, String> {
    let mut value = serde_json::to_value(object).map_err(|e| e.to_string())?;
    if let Some(map) = value.as_object_mut() {
        map.insert("apiVersion".into(), json!(T::api_version(&())));
        map.insert("kind".into(), json!(T::kind(&())));
    }
    Ok(value)
}

impl<H> HubConverter<H>
where
    H: Resource<DynamicType = ()> + Serialize + DeserializeOwned + Send + Sync + 'static,
{
    /// A converter with `H` as the hub and no spokes yet.
    pub fn new() -> Self {
        HubConverter {
            spokes: BTreeMap::new(),
            hub: PhantomData,
        }
    }

    /// Adds the spoke version `S`.
    pub fn spoke<S: Convertible<H>>(mut self) -> Self {
        let spoke = Spoke {
            to_hub: Box::new(|v| untyped(&typed::<S>(v)?.convert_to()?)),
            from_hub: Box::new(|v| untyped(&S::convert_from(&typed::<H>(v)?)?)),
        };
        self.spokes.insert(S::api_version(&()).into_owned(), spoke);
        self
    }

    fn hub_version() -> String {
        H::api_version(&()).into_owned()
    }
}

impl<H> Converter for HubConverter<H>
where
    H: Resource<DynamicType = ()> + Serialize + DeserializeOwned + Send + Sync + 'static,
{
    fn convert(&self, object: Value, desired: &str) -> Result<Value, String> {
        let from = object
            .get("apiVersion")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let kind = object.get("kind").and_then(Value::as_str).unwrap_or("");
        if kind != H::kind(&()) {
            return Err(format!(
                "kind {kind:?} is not convertible: this webhook converts {}",
                H::kind(&())
            ));
        }
        if from == desired {
            return Err(format!(
                "conversion is not allowed between same type {from}"
            ));
        }
        let hub = Self::hub_version();
        let unknown = |v: &str| format!("version {v:?} of {} is not convertible", H::kind(&()));
        let in_hub = if from == hub {
            object
        } else {
            let spoke = self.spokes.get(&from).ok_or_else(|| unknown(&from))?;
            (spoke.to_hub)(object)?
        };
        if desired == hub {
            return Ok(in_hub);
        }
        let spoke = self.spokes.get(desired).ok_or_else(|| unknown(desired))?;
        (spoke.from_hub)(in_hub)
    }
}

/// Answers a `ConversionReview` body: the HTTP status and the review to send back. A body that
/// is not a review with a `request` is a 400 without a review, as controller-runtime answers.
pub fn answer(converter: &dyn Converter, body: &[u8]) -> (u16, Option<Value>) {
    let Ok(review) = serde_json::from_slice::<Value>(body) else {
        return (400, None);
    };
    let Some(request) = review.get("request").filter(|r| r.is_object()) else {
        return (400, None);
    };
    let uid = request.get("uid").cloned().unwrap_or(json!(""));
    let desired = request
        .get("desiredAPIVersion")
        .and_then(Value::as_str)
        .unwrap_or("");
    let objects = request
        .get("objects")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let converted: Result<Vec<Value>, String> = objects
        .into_iter()
        .map(|o| converter.convert(o, desired))
        .collect();
    let response = match converted {
        Ok(objects) => json!({
            "uid": uid,
            "convertedObjects": objects,
            "result": {"metadata": {}, "status": "Success"},
        }),
        Err(message) => json!({
            "uid": uid,
            "convertedObjects": null,
            "result": {"metadata": {}, "status": "Failure", "message": message},
        }),
    };
    let api_version = review
        .get("apiVersion")
        .cloned()
        .unwrap_or(json!("apiextensions.k8s.io/v1"));
    (
        200,
        Some(json!({"kind": "ConversionReview", "apiVersion": api_version, "response": response})),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_answers_the_uid_with_the_message() {
        let fails = |_: Value, _: &str| -> Result<Value, String> { Err("no way".into()) };
        let body = br#"{"apiVersion":"apiextensions.k8s.io/v1beta1","kind":"ConversionReview",
            "request":{"uid":"u1","desiredAPIVersion":"x/v2","objects":[{"apiVersion":"x/v1"}]}}"#;
        let (code, review) = answer(&fails, body);
        let review = review.expect("a review");
        assert_eq!(code, 200);
        assert_eq!(review["apiVersion"], "apiextensions.k8s.io/v1beta1");
        assert_eq!(review["response"]["uid"], "u1");
        assert_eq!(review["response"]["result"]["status"], "Failure");
        assert_eq!(review["response"]["result"]["message"], "no way");
        assert_eq!(answer(&fails, b"{}").0, 400);
    }
}
