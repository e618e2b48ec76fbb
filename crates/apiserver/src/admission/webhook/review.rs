//! The AdmissionReview a webhook receives and what its answer must be (upstream's
//! `webhook/request`): `admission.k8s.io/v1` or `v1beta1`, the first of the webhook's
//! `admissionReviewVersions` this server speaks; the response verified as upstream's
//! `VerifyAdmissionResponse` does, with its messages.

use super::rules::Matched;
use crate::admission::{Operation, Request};
use crate::resource::ResourceType;
use serde_json::{Map, Value, json};

/// The review versions this server sends, in preference order.
const VERSIONS: &[&str] = &["v1", "v1beta1"];

/// The review version to send a webhook accepting `accepted`, or the error upstream reports.
pub fn version(accepted: &[String]) -> Result<&'static str, String> {
    accepted
        .iter()
        .find_map(|v| VERSIONS.iter().find(|s| **s == v))
        .copied()
        .ok_or_else(|| {
            format!("webhook does not accept known AdmissionReview versions {accepted:?}")
        })
}

/// The options of the request, as the review's `options` carries them.
fn options(request: &Request<'_>) -> Value {
    let kind = match request.operation {
        Operation::Create => "CreateOptions",
        Operation::Update => "UpdateOptions",
        Operation::Delete => "DeleteOptions",
        Operation::Connect => return Value::Null,
    };
    let mut o = Map::new();
    o.insert("kind".into(), json!(kind));
    o.insert("apiVersion".into(), json!("meta.k8s.io/v1"));
    if request.dry_run {
        o.insert("dryRun".into(), json!(["All"]));
    }
    if request.operation != Operation::Delete && !request.field_manager.is_empty() {
        o.insert("fieldManager".into(), json!(request.field_manager));
    }
    Value::Object(o)
}

/// The AdmissionReview for `request` with `object` (None for a delete) and `old_object`, both
/// as `matched` (the resource the webhook was matched as), identified by `uid`: `kind` and
/// `resource` name `matched`, `requestKind` and `requestResource` what the client used.
pub fn build(
    version: &str,
    uid: &str,
    request: &Request<'_>,
    matched: &Matched,
    object: Option<&Value>,
    old_object: Option<&Value>,
) -> Value {
    let gvk = |(group, version, kind): (&str, &str, &str)| json!({"group": group, "version": version, "kind": kind});
    let gvr = |rt: &ResourceType| json!({"group": rt.group, "version": rt.version, "resource": rt.plural});
    let kind = gvk(matched.kind(request));
    let resource = gvr(matched.rt(request));
    let request_kind = gvk(Matched::Own.kind(request));
    let request_resource = gvr(request.rt);
    let rt = request.rt;
    let user = request.user_info();
    let mut user_info = Map::new();
    user_info.insert("username".into(), json!(user.name));
    if !user.uid.is_empty() {
        user_info.insert("uid".into(), json!(user.uid));
    }
    if !user.groups.is_empty() {
        user_info.insert("groups".into(), json!(user.groups));
    }
    if !user.extra.is_empty() {
        user_info.insert("extra".into(), json!(user.extra));
    }
    let mut r = Map::new();
    r.insert("uid".into(), json!(uid));
    r.insert("kind".into(), kind);
    r.insert("resource".into(), resource);
    if let Some(sub) = request.subresource {
        r.insert("subResource".into(), json!(sub));
    }
    r.insert("requestKind".into(), request_kind);
    r.insert("requestResource".into(), request_resource);
    if let Some(sub) = request.subresource {
        r.insert("requestSubResource".into(), json!(sub));
    }
    if !request.name.is_empty() {
        r.insert("name".into(), json!(request.name));
    }
    if let Some(ns) = request.namespace.filter(|n| !n.is_empty() && rt.namespaced) {
        r.insert("namespace".into(), json!(ns));
    }
    r.insert("operation".into(), json!(request.operation.as_str()));
    r.insert("userInfo".into(), Value::Object(user_info));
    r.insert("object".into(), object.cloned().unwrap_or(Value::Null));
    r.insert(
        "oldObject".into(),
        old_object.cloned().unwrap_or(Value::Null),
    );
    r.insert("dryRun".into(), json!(request.dry_run));
    r.insert("options".into(), options(request));
    json!({
        "kind": "AdmissionReview",
        "apiVersion": format!("admission.k8s.io/{version}"),
        "request": r,
    })
}

/// A verified response.
#[derive(Debug, Default)]
pub struct Response {
    /// Whether the webhook allows the request.
    pub allowed: bool,
    /// `response.status`, a `Status` (for refusals).
    pub result: Option<Value>,
    /// The JSON patch, decoded from base64 (mutating webhooks only).
    pub patch: Option<Vec<u8>>,
    /// `response.auditAnnotations`.
    pub audit_annotations: Vec<(String, String)>,
    /// `response.warnings`.
    pub warnings: Vec<String>,
}

/// Reads a webhook's answer to the review `uid` sent as `version`; an error is the reason of a
/// failed call, in upstream's words.
pub fn verify(version: &str, uid: &str, mutating: bool, body: &Value) -> Result<Response, String> {
    let api_version = body.get("apiVersion").and_then(Value::as_str).unwrap_or("");
    let kind = body.get("kind").and_then(Value::as_str).unwrap_or("");
    let expected = format!("admission.k8s.io/{version}");
    // Upstream holds v1 answers to the exact type; a v1beta1 review was decoded leniently.
    if version == "v1" && (api_version != expected || kind != "AdmissionReview") {
        return Err(format!(
            "expected webhook response of {expected}, Kind=AdmissionReview, got {api_version}, Kind={kind}"
        ));
    }
    let Some(response) = body.get("response").filter(|r| r.is_object()) else {
        return Err("webhook response was absent".into());
    };
    let text = |k: &str| response.get(k).and_then(Value::as_str).unwrap_or("");
    if version == "v1" && text("uid") != uid {
        return Err(format!(
            "expected response.uid={uid:?}, got {:?}",
            text("uid")
        ));
    }
    let patch_type = text("patchType");
    // Go decodes `[]byte` from base64 text or from an array of numbers (kube-rs sends those).
    let patch_field = response.get("patch").and_then(|p| match p {
        Value::Array(items) => items
            .iter()
            .map(|b| b.as_u64().and_then(|b| u8::try_from(b).ok()))
            .collect::<Option<Vec<u8>>>()
            .map(|bytes| {
                use base64::Engine;
                base64::engine::general_purpose::STANDARD.encode(bytes)
            }),
        Value::String(s) => Some(s.clone()),
        _ => None,
    });
    let patch = match patch_field.as_deref() {
        None | Some("") => None,
        Some(encoded) => {
            if !mutating {
                return Err("validating webhooks may not return patches".into());
            }
            if version == "v1" && patch_type.is_empty() {
                return Err("webhook returned response.patch but not response.patchType".into());
            }
            if !patch_type.is_empty() && patch_type != "JSONPatch" {
                return Err(format!(
                    "webhook returned invalid response.patchType of {patch_type:?}"
                ));
            }
            use base64::Engine;
            Some(
                base64::engine::general_purpose::STANDARD
                    .decode(encoded)
                    .map_err(|e| format!("illegal base64 data: {e}"))?,
            )
        }
    };
    if version == "v1" && !patch_type.is_empty() && patch.is_none() && !mutating {
        return Err("validating webhooks may not return patches".into());
    }
    let audit_annotations = response
        .get("auditAnnotations")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                .collect()
        })
        .unwrap_or_default();
    let warnings = response
        .get("warnings")
        .and_then(Value::as_array)
        .map(|w| {
            w.iter()
                .filter_map(Value::as_str)
                .map(String::from)
                .collect()
        })
        .unwrap_or_default();
    Ok(Response {
        allowed: response
            .get("allowed")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        result: response.get("status").filter(|s| s.is_object()).cloned(),
        patch,
        audit_annotations,
        warnings,
    })
}
