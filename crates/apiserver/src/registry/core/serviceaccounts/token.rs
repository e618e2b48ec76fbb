//! `serviceaccounts/token`: the TokenRequest API (`kubectl create token`), upstream's
//! `pkg/registry/core/serviceaccount/storage/token.go`. A POST of an
//! authentication.k8s.io/v1 TokenRequest answers it with a bound token in `status`; nothing is
//! stored. The token is bound to the ServiceAccount's uid, and to a Pod's or Secret's when
//! `boundObjectRef` names one.

use crate::auth::authn::service_account::{Binding, ObjectRef};
use crate::rest::subresource_create::{AcceptedKind, CreateSubresource, SubresourceRequest};
use crate::status::{ApiError, FieldCause};
use futures::future::BoxFuture;
use k8s_openapi::api::authentication::v1::TokenRequest;
use serde_json::{Value, json};

/// The subresource as the ServiceAccount strategy declares it.
pub(crate) const TOKEN: CreateSubresource = CreateSubresource {
    name: "token",
    kind: ("authentication.k8s.io", "v1", "TokenRequest"),
    accepts: &[AcceptedKind {
        api_version: "authentication.k8s.io/v1",
        kind: "TokenRequest",
        decode,
    }],
    name_must_match: false,
    create,
};

/// Decodes a TokenRequest; its `status` is the server's to write and is dropped first (kubectl
/// sends `expirationTimestamp: null`, which Go reads as the zero time).
fn decode(mut value: Value) -> Result<crate::strategy::Decoded, ApiError> {
    if let Some(o) = value.as_object_mut() {
        o.remove("status");
    }
    crate::strategy::decode_typed::<TokenRequest>(value)
}

/// Upstream's default `expirationSeconds`.
const DEFAULT_EXPIRATION: i64 = 3600;
/// Upstream's bounds on `expirationSeconds`.
const MIN_EXPIRATION: i64 = 600;
const MAX_EXPIRATION: i64 = 1 << 32;

fn uid_of(object: &Value) -> String {
    object
        .pointer("/metadata/uid")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

fn invalid(name: &str, causes: Vec<FieldCause>) -> ApiError {
    ApiError::invalid("authentication.k8s.io", "TokenRequest", name, causes)
}

fn create(req: SubresourceRequest<'_>) -> BoxFuture<'_, Result<Value, ApiError>> {
    Box::pin(async move {
        let name = req.name;
        let namespace = req.namespace.unwrap_or_default();
        let body = req.body;
        let body_name = body
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or("");
        if !body_name.is_empty() && body_name != name {
            return Err(invalid(
                name,
                vec![FieldCause::invalid(
                    "metadata.name",
                    &json!(body_name),
                    "must match the service account name if specified",
                )],
            ));
        }
        let body_namespace = body
            .pointer("/metadata/namespace")
            .and_then(Value::as_str)
            .unwrap_or("");
        if !body_namespace.is_empty() && body_namespace != namespace {
            return Err(invalid(
                name,
                vec![FieldCause::invalid(
                    "metadata.namespace",
                    &json!(body_namespace),
                    "must match the service account namespace if specified",
                )],
            ));
        }
        let spec = body.get("spec").cloned().unwrap_or(Value::Null);
        let seconds = spec["expirationSeconds"]
            .as_i64()
            .unwrap_or(DEFAULT_EXPIRATION);
        let mut causes = Vec::new();
        if seconds < MIN_EXPIRATION {
            causes.push(FieldCause::invalid(
                "spec.expirationSeconds",
                &json!(seconds),
                "may not specify a duration less than 10 minutes",
            ));
        }
        if seconds > MAX_EXPIRATION {
            causes.push(FieldCause::invalid(
                "spec.expirationSeconds",
                &json!(seconds),
                "may not specify a duration larger than 2^32 seconds",
            ));
        }
        if !causes.is_empty() {
            return Err(invalid(name, causes));
        }
        let rest = req.rest;
        let account = rest.get_value(req.rt, Some(namespace), name)?;
        let account_ref = ObjectRef {
            name: name.to_string(),
            uid: uid_of(&account),
        };
        let binding = match spec.get("boundObjectRef").filter(|r| !r.is_null()) {
            None => None,
            Some(bound) => Some(bound_object(rest, namespace, name, bound)?),
        };
        let audiences: Vec<String> = spec["audiences"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        let tokens = &rest.authenticator.service_accounts;
        let claims = tokens.claims(namespace, account_ref, audiences, seconds, binding.clone());
        let token = tokens.sign(&claims).map_err(ApiError::internal)?;
        let expires = jiff::Timestamp::from_second(claims.exp)
            .map(|t| t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string())
            .unwrap_or_default();
        let mut answered_spec = json!({
            "audiences": claims.aud,
            "expirationSeconds": seconds,
            "boundObjectRef": spec.get("boundObjectRef").cloned().unwrap_or(Value::Null),
        });
        if let (Some(Binding::Pod(r) | Binding::Secret(r)), Some(obj)) = (
            &binding,
            answered_spec
                .get_mut("boundObjectRef")
                .and_then(Value::as_object_mut),
        ) {
            obj.insert("uid".into(), json!(r.uid));
        }
        if answered_spec["boundObjectRef"].is_null()
            && let Some(o) = answered_spec.as_object_mut()
        {
            o.remove("boundObjectRef");
        }
        Ok(json!({
            "kind": "TokenRequest",
            "apiVersion": "authentication.k8s.io/v1",
            // As upstream: the request's metadata with the name and namespace filled in.
            "metadata": {"name": name, "namespace": namespace, "creationTimestamp": null},
            "spec": answered_spec,
            "status": {"token": token, "expirationTimestamp": expires},
        }))
    })
}

/// The Pod or Secret a token is to be bound to, as it exists now (upstream's checks and
/// messages).
fn bound_object(
    rest: &crate::rest::Rest,
    namespace: &str,
    account: &str,
    bound: &Value,
) -> Result<Binding, ApiError> {
    let kind = bound["kind"].as_str().unwrap_or_default();
    let api_version = bound["apiVersion"].as_str().unwrap_or("v1");
    let resource = match (kind, api_version) {
        ("Pod", "v1" | "") => "pods",
        ("Secret", "v1" | "") => "secrets",
        _ => {
            return Err(ApiError::bad_request(format!(
                "cannot bind token for serviceaccount {account:?} to object of kind {kind:?}"
            )));
        }
    };
    let name = bound["name"].as_str().unwrap_or_default();
    let rt = rest
        .catalog
        .snapshot()
        .find("", "v1", resource)
        .ok_or_else(ApiError::not_found_path)?;
    let object = rest.get_value(&rt, Some(namespace), name)?;
    let uid = uid_of(&object);
    if let Some(wanted) = bound["uid"].as_str().filter(|u| !u.is_empty())
        && wanted != uid
    {
        return Err(ApiError::conflict(
            "",
            kind,
            name,
            &format!(
                "the UID in the bound object reference ({wanted}) does not match the UID in record. The object might have been deleted and then recreated"
            ),
        ));
    }
    let reference = ObjectRef {
        name: name.to_string(),
        uid,
    };
    Ok(if resource == "pods" {
        Binding::Pod(reference)
    } else {
        Binding::Secret(reference)
    })
}
