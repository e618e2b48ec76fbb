//! Subresources created by POST (upstream's `NamedCreater` on a subresource: `pods/binding`,
//! `pods/eviction`): the resource's strategy declares them ([`CreateSubresource`], through
//! `Strategy::create_subresources`) and says what a create does; this module does what every
//! such subresource shares, naming none of them: the body's type meta checked against the kinds
//! the subresource accepts (upstream's `AcceptsGroupVersion`, then the `New()` type), the body
//! decoded through its type, the name in the body matched against the URL, and the answer's
//! HTTP code taken from the `Status` the subresource answers (201 unless it says otherwise, as
//! upstream's create handler does).

use super::{FieldValidation, Rest, WriteOptions};
use crate::resource::ResourceType;
use crate::status::ApiError;
use crate::strategy::Decoded;
use futures::future::BoxFuture;
use serde_json::{Value, json};

/// One kind a POST to a subresource may carry.
#[derive(Debug, Clone, Copy)]
pub struct AcceptedKind {
    /// `apiVersion` of the body, e.g. `policy/v1`.
    pub api_version: &'static str,
    /// `kind` of the body, e.g. `Eviction`.
    pub kind: &'static str,
    /// Decodes the body through its type (type errors are a BadRequest).
    pub decode: fn(Value) -> Result<Decoded, ApiError>,
}

/// A subresource a POST creates, as a strategy declares it.
#[derive(Debug, Clone, Copy)]
pub struct CreateSubresource {
    /// The subresource's name (`eviction`).
    pub name: &'static str,
    /// What discovery lists as its kind: group, version, kind (`policy`, `v1`, `Eviction`).
    pub kind: (&'static str, &'static str, &'static str),
    /// The kinds a body may be; the first is what a body without `apiVersion` and `kind` is.
    pub accepts: &'static [AcceptedKind],
    /// Whether the body's name must be the URL's (binding, eviction); when `false` the
    /// subresource checks it itself (a TokenRequest may have none).
    pub name_must_match: bool,
    /// What a create does.
    pub create: SubresourceCreate,
}

/// A POST to a subresource, decoded.
pub struct SubresourceRequest<'a> {
    /// The server's request path.
    pub rest: &'a Rest,
    /// The resource the subresource belongs to (`pods`).
    pub rt: &'a ResourceType,
    /// The namespace of the URL.
    pub namespace: Option<&'a str>,
    /// The object name of the URL.
    pub name: &'a str,
    /// The body, decoded through the accepted kind it names (`apiVersion` and `kind` set).
    pub body: Value,
    /// The request's write options (`dryRun`, `fieldManager`).
    pub opts: &'a WriteOptions,
}

/// What a create on a subresource does: its answer, a `Status` (or an object), whose `code`
/// (when set) is the HTTP code; 201 otherwise.
pub type SubresourceCreate =
    for<'a> fn(SubresourceRequest<'a>) -> BoxFuture<'a, Result<Value, ApiError>>;

/// A `Status` with `status: Success` (what upstream's connect-style creates answer); `code`
/// is the HTTP code to answer with.
pub fn success_status(code: u16) -> Value {
    json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": code})
}

/// A `Status` with `status: Failure`, no reason, and `code` (upstream's eviction answers a pod
/// with several budgets this way: a result, not an error).
pub fn failure_status(code: u16, message: &str) -> Value {
    json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": message, "code": code})
}

impl Rest {
    /// POST `/{name}/{subresource}` for a subresource of `rt` created by POST: returns the HTTP
    /// code, the body to answer with and the warnings to send (unknown fields under
    /// `fieldValidation=Warn`).
    pub async fn create_subresource(
        &self,
        rt: &ResourceType,
        namespace: Option<&str>,
        name: &str,
        subresource: &str,
        body: Value,
        opts: &WriteOptions,
    ) -> Result<(u16, Value, Vec<String>), ApiError> {
        let sub = rt
            .strategy
            .create_subresources()
            .iter()
            .find(|s| s.name == subresource)
            .copied()
            .ok_or_else(ApiError::not_found_path)?;
        let decoded = decode(&sub, body)?;
        // `fieldValidation`, as for any create.
        let warnings: Vec<String> = match opts.field_validation {
            _ if decoded.unknown_fields.is_empty() => Vec::new(),
            FieldValidation::Strict => {
                return Err(ApiError::strict_decoding(&decoded.unknown_fields));
            }
            FieldValidation::Warn => decoded
                .unknown_fields
                .iter()
                .map(|f| format!("unknown field {f:?}"))
                .collect(),
            FieldValidation::Ignore => Vec::new(),
        };
        let body_name = decoded
            .value
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or("");
        if sub.name_must_match && body_name != name {
            return Err(ApiError::bad_request(format!(
                "name in URL does not match name in {} object",
                sub.kind.2
            )));
        }
        // Admission sees the subresource's own object (an Eviction, a Binding) as a create.
        let mut body = decoded.value;
        let mut effects = crate::admission::Effects {
            warnings,
            ..Default::default()
        };
        let admission = crate::admission::Request {
            subresource: Some(subresource),
            object_kind: Some(sub.kind),
            user: opts.user.as_deref(),
            dry_run: opts.dry_run,
            field_manager: &opts.field_manager,
            ..crate::admission::Request::new(
                crate::admission::Operation::Create,
                rt,
                namespace,
                name,
            )
        };
        self.admission
            .admit(self, &admission, Some(&mut body), &mut effects)
            .await?;
        self.admission
            .validate(self, &admission, Some(&body), &mut effects)
            .await?;
        let warnings = effects.warnings;
        let request = SubresourceRequest {
            rest: self,
            rt,
            namespace,
            name,
            body,
            opts,
        };
        let answer = (sub.create)(request).await?;
        let code = answer
            .get("code")
            .and_then(Value::as_u64)
            .and_then(|c| u16::try_from(c).ok())
            .filter(|c| (200..600).contains(c))
            .unwrap_or(201);
        let mut answer = answer;
        if answer.get("kind").and_then(Value::as_str) == Some("Status")
            && answer.get("code").is_none()
        {
            answer["code"] = json!(code);
        }
        Ok((code, answer, warnings))
    }
}

/// Checks the body's type meta against the kinds `sub` accepts and decodes it through its type.
fn decode(sub: &CreateSubresource, mut body: Value) -> Result<Decoded, ApiError> {
    let Some(map) = body.as_object_mut() else {
        return Err(ApiError::bad_request(format!(
            "the body of the request must be a {} object, got {}",
            sub.kind.2,
            crate::status::json_type_name(&body)
        )));
    };
    let first = sub
        .accepts
        .first()
        .ok_or_else(|| ApiError::internal("a subresource that accepts no kind"))?;
    let api_version = match map.get("apiVersion").and_then(Value::as_str) {
        None | Some("") => first.api_version.to_string(),
        Some(av) => av.to_string(),
    };
    let kind = match map.get("kind").and_then(Value::as_str) {
        None | Some("") => first.kind.to_string(),
        Some(k) => k.to_string(),
    };
    map.insert("apiVersion".into(), json!(api_version));
    map.insert("kind".into(), json!(kind));
    if !sub.accepts.iter().any(|a| a.api_version == api_version) {
        let expected = match sub.kind.0 {
            "" => sub.kind.1.to_string(),
            g => format!("{g}/{}", sub.kind.1),
        };
        return Err(ApiError::bad_request(format!(
            "the API version in the data ({api_version}) does not match the expected API version ({expected})"
        )));
    }
    let Some(accepted) = sub
        .accepts
        .iter()
        .find(|a| a.api_version == api_version && a.kind == kind)
    else {
        // Upstream decodes the body as the kind it names, then the subresource refuses it by
        // its Go type (`*policy.PodDisruptionBudget`: the internal package is the group's first
        // label, `core` for the core group).
        let package = match api_version.split_once('/') {
            Some((group, _)) => group.split('.').next().unwrap_or(group),
            None => "core",
        };
        return Err(ApiError::bad_request(format!(
            "not a {} object: *{package}.{kind}",
            sub.kind.2
        )));
    };
    (accepted.decode)(body)
}
