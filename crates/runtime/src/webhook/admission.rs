//! Admission handlers, as controller-runtime's `webhook/admission`: a raw [`Handler`] over
//! kube's `AdmissionRequest`/`AdmissionResponse`, and the typed [`Defaulter`] and [`Validator`]
//! (controller-runtime's CustomDefaulter and CustomValidator) adapted to it. A defaulter's
//! changes are answered as a JSONPatch from the object received to the object defaulted; a
//! validator's refusal as a denial with its message (and HTTP code), its warnings as `warnings`.

use futures::future::BoxFuture;
use kube::core::DynamicObject;
use kube::core::admission::{AdmissionRequest, AdmissionResponse, Operation};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::marker::PhantomData;

/// Warnings for the client (kubectl prints them).
pub type Warnings = Vec<String>;

/// A refusal: the message the API server prefixes with `admission webhook "<name>" denied the
/// request: `, and the HTTP code (403 by default).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denied {
    /// Why.
    pub message: String,
    /// The HTTP code the API server answers with.
    pub code: u16,
    /// Warnings to send even though the request is refused.
    pub warnings: Warnings,
}

impl Denied {
    /// A 403 refusal with `message`.
    pub fn new(message: impl Into<String>) -> Self {
        Denied {
            message: message.into(),
            code: 403,
            warnings: Vec::new(),
        }
    }
}

/// Answers one AdmissionRequest (any kind).
pub trait Handler: Send + Sync + 'static {
    /// The response to `request`.
    fn handle(&self, request: AdmissionRequest<DynamicObject>) -> BoxFuture<'_, AdmissionResponse>;
}

/// Fills in defaults of new and updated objects of kind `K` (controller-runtime's
/// `CustomDefaulter`).
///
/// ```
/// use kubeforge_runtime::webhook::{Defaulter, Denied, Warnings};
/// use k8s_openapi::api::core::v1::ConfigMap;
/// use futures::future::BoxFuture;
///
/// struct Labelled;
/// impl Defaulter<ConfigMap> for Labelled {
///     fn default<'a>(&'a self, cm: &'a mut ConfigMap) -> BoxFuture<'a, Result<Warnings, Denied>> {
///         Box::pin(async move {
///             cm.metadata.labels.get_or_insert_default().insert("defaulted".into(), "yes".into());
///             Ok(Vec::new())
///         })
///     }
/// }
/// ```
pub trait Defaulter<K>: Send + Sync + 'static {
    /// Changes `obj` in place; warnings go to the client; `Err` refuses the request.
    fn default<'a>(&'a self, obj: &'a mut K) -> BoxFuture<'a, Result<Warnings, Denied>>;
}

/// Checks creates, updates and deletes of kind `K` (controller-runtime's `CustomValidator`).
pub trait Validator<K>: Send + Sync + 'static {
    /// A create of `obj`.
    fn validate_create<'a>(&'a self, obj: &'a K) -> BoxFuture<'a, Result<Warnings, Denied>>;
    /// An update from `old` to `new`.
    fn validate_update<'a>(
        &'a self,
        old: &'a K,
        new: &'a K,
    ) -> BoxFuture<'a, Result<Warnings, Denied>>;
    /// A delete of `obj` (allowed unless overridden).
    fn validate_delete<'a>(&'a self, obj: &'a K) -> BoxFuture<'a, Result<Warnings, Denied>> {
        let _ = obj;
        Box::pin(async { Ok(Vec::new()) })
    }
}

fn typed<K: DeserializeOwned>(obj: &DynamicObject) -> Result<K, String> {
    serde_json::to_value(obj)
        .and_then(serde_json::from_value)
        .map_err(|e| format!("the object could not be decoded: {e}"))
}

fn denied(response: AdmissionResponse, d: Denied) -> AdmissionResponse {
    let mut response = response.deny(d.message);
    response.result.code = d.code;
    if !d.warnings.is_empty() {
        response.warnings = Some(d.warnings);
    }
    response
}

fn allowed(mut response: AdmissionResponse, warnings: Warnings) -> AdmissionResponse {
    if !warnings.is_empty() {
        response.warnings = Some(warnings);
    }
    response
}

/// A [`Defaulter`] as a [`Handler`].
pub struct Defaulting<K, D> {
    defaulter: D,
    kind: PhantomData<fn() -> K>,
}

impl<K, D> Defaulting<K, D> {
    /// Wraps `defaulter`.
    pub fn new(defaulter: D) -> Self {
        Defaulting {
            defaulter,
            kind: PhantomData,
        }
    }
}

impl<K, D> Handler for Defaulting<K, D>
where
    K: DeserializeOwned + Serialize + Send + Sync + 'static,
    D: Defaulter<K>,
{
    fn handle(&self, request: AdmissionRequest<DynamicObject>) -> BoxFuture<'_, AdmissionResponse> {
        Box::pin(async move {
            let response = AdmissionResponse::from(&request);
            // Only objects being written are defaulted (controller-runtime: create and update).
            let (Some(obj), Operation::Create | Operation::Update) =
                (&request.object, &request.operation)
            else {
                return response;
            };
            let original = match serde_json::to_value(obj) {
                Ok(v) => v,
                Err(e) => return AdmissionResponse::invalid(e.to_string()),
            };
            let mut typed_obj: K = match typed(obj) {
                Ok(k) => k,
                Err(e) => {
                    return denied(
                        response,
                        Denied {
                            code: 400,
                            ..Denied::new(e)
                        },
                    );
                }
            };
            let warnings = match self.defaulter.default(&mut typed_obj).await {
                Ok(w) => w,
                Err(d) => return denied(response, d),
            };
            let defaulted = match serde_json::to_value(&typed_obj) {
                Ok(v) => v,
                Err(e) => return AdmissionResponse::invalid(e.to_string()),
            };
            let patch = kube_json_patch::diff(&original, &defaulted);
            let response = if patch.0.is_empty() {
                response
            } else {
                match response.with_patch(patch) {
                    Ok(r) => r,
                    Err(e) => return AdmissionResponse::invalid(e.to_string()),
                }
            };
            allowed(response, warnings)
        })
    }
}

/// A [`Validator`] as a [`Handler`].
pub struct Validating<K, V> {
    validator: V,
    kind: PhantomData<fn() -> K>,
}

impl<K, V> Validating<K, V> {
    /// Wraps `validator`.
    pub fn new(validator: V) -> Self {
        Validating {
            validator,
            kind: PhantomData,
        }
    }
}

impl<K, V> Handler for Validating<K, V>
where
    K: DeserializeOwned + Send + Sync + 'static,
    V: Validator<K>,
{
    fn handle(&self, request: AdmissionRequest<DynamicObject>) -> BoxFuture<'_, AdmissionResponse> {
        Box::pin(async move {
            let response = AdmissionResponse::from(&request);
            let decode = |o: &Option<DynamicObject>| -> Result<K, String> {
                o.as_ref()
                    .ok_or_else(|| "the request carries no object".to_string())
                    .and_then(typed)
            };
            let result = match request.operation {
                Operation::Create => match decode(&request.object) {
                    Ok(obj) => self.validator.validate_create(&obj).await,
                    Err(e) => Err(Denied {
                        code: 400,
                        ..Denied::new(e)
                    }),
                },
                Operation::Update => match (decode(&request.old_object), decode(&request.object)) {
                    (Ok(old), Ok(new)) => self.validator.validate_update(&old, &new).await,
                    (Err(e), _) | (_, Err(e)) => Err(Denied {
                        code: 400,
                        ..Denied::new(e)
                    }),
                },
                Operation::Delete => match decode(&request.old_object) {
                    Ok(obj) => self.validator.validate_delete(&obj).await,
                    Err(e) => Err(Denied {
                        code: 400,
                        ..Denied::new(e)
                    }),
                },
                Operation::Connect => Ok(Vec::new()),
            };
            match result {
                Ok(warnings) => allowed(response, warnings),
                Err(d) => denied(response, d),
            }
        })
    }
}
