//! Errors as Kubernetes `Status` objects.
//!
//! Every failure the server can report is an [`ApiError`]: a value that knows its HTTP code, its
//! `reason` and its field causes, and renders as the `Status` body clients expect
//! (kubectl prints `Error from server (Reason): message`, client-go and kube-rs decode it).
//! Handlers return `Result<_, ApiError>`; nothing is turned into a 500 by accident.

use axum::http::StatusCode;
use serde_json::{Value, json};

/// Field causes live with the apiextensions schema machinery, which reports them too.
pub use kubeforge_apiextensions::{FieldCause, json_type_name};

/// Which resource an error is about, for `Status.details`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ErrorSubject {
    /// API group ("" for core).
    pub group: String,
    /// Resource plural (NotFound, Conflict…) or Kind (Invalid), as upstream puts it.
    pub kind: String,
    /// Object name, if known.
    pub name: String,
}

/// A failed API request, rendered as a `Status`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// HTTP status code.
    pub code: u16,
    /// `Status.reason`.
    pub reason: &'static str,
    /// `Status.message`.
    pub message: String,
    /// `Status.details` subject, when the error is about one object.
    pub subject: Option<Box<ErrorSubject>>,
    /// Field causes (Invalid, strict decoding, conflicts).
    pub causes: Vec<FieldCause>,
    /// `Status.details.retryAfterSeconds`, when set.
    pub retry_after: Option<u32>,
    /// `Status.metadata.continue`: the token an expired continue answers with, to go on with a
    /// possibly inconsistent list.
    pub continue_token: Option<String>,
    /// What admission said before refusing, if anything (boxed: errors stay small).
    pub admission: Option<Box<AdmissionNotes>>,
}

/// What admission said about a request it then refused: upstream sends the warnings and records
/// the audit annotations of a refused request too.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AdmissionNotes {
    /// Warnings for the client (`Warning` headers).
    pub warnings: Vec<String>,
    /// Audit annotations for the request's audit event.
    pub audit_annotations: std::collections::BTreeMap<String, String>,
}

/// `resource.group` or `resource` for the core group, as upstream qualifies resources in messages.
pub fn qualified(resource: &str, group: &str) -> String {
    if group.is_empty() {
        resource.to_string()
    } else {
        format!("{resource}.{group}")
    }
}

impl ApiError {
    fn new(code: u16, reason: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            code,
            reason,
            message: message.into(),
            subject: None,
            causes: Vec::new(),
            retry_after: None,
            continue_token: None,
            admission: None,
        }
    }

    fn about(mut self, group: &str, kind: &str, name: &str) -> Self {
        self.subject = Some(Box::new(ErrorSubject {
            group: group.to_string(),
            kind: kind.to_string(),
            name: name.to_string(),
        }));
        self
    }

    /// 404 `<resource> "<name>" not found`.
    pub fn not_found(group: &str, resource: &str, name: &str) -> Self {
        Self::new(
            404,
            "NotFound",
            format!("{} {name:?} not found", qualified(resource, group)),
        )
        .about(group, resource, name)
    }

    /// 404 for a path no resource serves.
    pub fn not_found_path() -> Self {
        Self::new(
            404,
            "NotFound",
            "the server could not find the requested resource",
        )
    }

    /// 409 `<resource> "<name>" already exists`.
    pub fn already_exists(group: &str, resource: &str, name: &str) -> Self {
        Self::new(
            409,
            "AlreadyExists",
            format!("{} {name:?} already exists", qualified(resource, group)),
        )
        .about(group, resource, name)
    }

    /// 409 optimistic-concurrency conflict.
    pub fn conflict(group: &str, resource: &str, name: &str, detail: &str) -> Self {
        Self::new(
            409,
            "Conflict",
            format!(
                "Operation cannot be fulfilled on {} {name:?}: {detail}",
                qualified(resource, group)
            ),
        )
        .about(group, resource, name)
    }

    /// 409 for a stale resourceVersion.
    pub fn stale(group: &str, resource: &str, name: &str) -> Self {
        Self::conflict(
            group,
            resource,
            name,
            "the object has been modified; please apply your changes to the latest version and try again",
        )
    }

    /// 422 `<Kind> "<name>" is invalid: <causes>`. The message names each distinct cause once,
    /// as upstream's `ErrorList.ToAggregate` does; the causes are all kept.
    pub fn invalid(group: &str, kind: &str, name: &str, causes: Vec<FieldCause>) -> Self {
        let mut distinct: Vec<&str> = Vec::new();
        for c in &causes {
            if !distinct.contains(&c.message.as_str()) {
                distinct.push(&c.message);
            }
        }
        let summary = match distinct.as_slice() {
            [] => String::new(),
            [one] => (*one).to_string(),
            many => format!("[{}]", many.join(", ")),
        };
        let qualified_kind = qualified(kind, group);
        let mut err = Self::new(
            422,
            "Invalid",
            format!("{qualified_kind} {name:?} is invalid: {summary}"),
        )
        .about(group, kind, name);
        err.causes = causes;
        err
    }

    /// 400 BadRequest.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, "BadRequest", message)
    }

    /// 400 for a body naming fields the type does not have (fieldValidation=Strict).
    pub fn strict_decoding(unknown: &[String]) -> Self {
        let parts: Vec<String> = unknown
            .iter()
            .map(|f| format!("unknown field {f:?}"))
            .collect();
        let mut err = Self::bad_request(format!("strict decoding error: {}", parts.join(", ")));
        err.causes = unknown
            .iter()
            .map(|f| FieldCause {
                reason: "FieldValueInvalid",
                field: f.clone(),
                message: format!("unknown field {f:?}"),
            })
            .collect();
        err
    }

    /// 401 `Unauthorized`: the credentials a request presented are not valid (kube-apiserver
    /// says no more than that).
    pub fn unauthorized() -> Self {
        Self::new(401, "Unauthorized", "Unauthorized")
    }

    /// 403 Forbidden.
    pub fn forbidden(group: &str, resource: &str, name: &str, message: impl Into<String>) -> Self {
        Self::new(403, "Forbidden", message).about(group, resource, name)
    }

    /// 405 MethodNotAllowed.
    pub fn method_not_allowed(message: impl Into<String>) -> Self {
        Self::new(405, "MethodNotAllowed", message)
    }

    /// 405 MethodNotAllowed in kube-apiserver's words, for a verb a path does not serve.
    pub fn method_not_allowed_here() -> Self {
        Self::method_not_allowed("the server does not allow this method on the requested resource")
    }

    /// 406 NotAcceptable.
    pub fn not_acceptable(message: impl Into<String>) -> Self {
        Self::new(406, "NotAcceptable", message)
    }

    /// 415 UnsupportedMediaType.
    pub fn unsupported_media_type(content_type: &str) -> Self {
        Self::new(
            415,
            "UnsupportedMediaType",
            format!(
                "the body of the request was in an unknown format - accepted media types include: application/json, application/yaml, application/vnd.kubernetes.protobuf, application/json-patch+json, application/merge-patch+json (got {content_type:?})"
            ),
        )
    }

    /// 415 for a PATCH in a format the resource does not take: kube-apiserver's
    /// `NewUnsupportedMediaTypeError` listing the patch types `accepted`.
    pub fn unsupported_patch_type(accepted: &[&str]) -> Self {
        Self::new(
            415,
            "UnsupportedMediaType",
            format!(
                "the body of the request was in an unknown format - accepted media types include: {}",
                accepted.join(", ")
            ),
        )
    }

    /// 410 Expired, e.g. `too old resource version: N (M)`.
    pub fn expired(message: impl Into<String>) -> Self {
        Self::new(410, "Expired", message)
    }

    /// 413 RequestEntityTooLarge.
    pub fn too_large(limit: usize) -> Self {
        Self::new(
            413,
            "RequestEntityTooLarge",
            format!("Request entity too large: limit is {limit}"),
        )
    }

    /// 422 Invalid as upstream's `NewGenericServerResponse` words it: `the server rejected our
    /// request due to an error in our request`, with `detail` as an `UnexpectedServerResponse`
    /// cause (what kube-apiserver answers for a JSON patch operation that cannot be applied).
    pub fn rejected(detail: impl Into<String>) -> Self {
        let mut err = Self::new(
            422,
            "Invalid",
            "the server rejected our request due to an error in our request",
        );
        err.causes = vec![FieldCause {
            reason: "UnexpectedServerResponse",
            field: String::new(),
            message: detail.into(),
        }];
        err
    }

    /// 500 InternalError; only for failures of the server itself (e.g. the disk).
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(
            500,
            "InternalError",
            format!("Internal error occurred: {}", message.into()),
        )
    }

    /// An error with the code, reason and message another component chose (an admission
    /// webhook's refusal); an empty reason is left out of the `Status`, as upstream omits it.
    pub fn with_reason(code: u16, reason: &'static str, message: impl Into<String>) -> Self {
        Self::new(code, reason, message)
    }

    /// 500 InternalError carrying its error as the one cause, as apimachinery's
    /// `NewInternalError` answers.
    pub fn internal_with_cause(error: impl Into<String>) -> Self {
        let error = error.into();
        let mut err = Self::internal(error.clone());
        err.causes = vec![FieldCause {
            reason: "",
            field: String::new(),
            message: error,
        }];
        err
    }

    /// 500 for a request whose handler panicked, in kube-apiserver's words (its panic recovery
    /// filter); the details go to the log.
    pub fn internal_panic() -> Self {
        Self::new(
            500,
            "InternalError",
            "This request caused apiserver to panic. Look in the logs for details.",
        )
    }

    /// 429 TooManyRequests with `Retry-After: 1`, as kube-apiserver's in-flight limit answers.
    pub fn too_many_requests() -> Self {
        let mut err = Self::new(
            429,
            "TooManyRequests",
            "Too many requests, please try again later.",
        );
        err.retry_after = Some(1);
        err
    }

    /// 504 Timeout, e.g. a storage commit that did not finish.
    pub fn timeout(message: impl Into<String>) -> Self {
        Self::new(504, "Timeout", message)
    }

    /// The HTTP status code.
    pub fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    /// The `Status` object.
    pub fn to_status(&self) -> Value {
        let metadata = match &self.continue_token {
            Some(token) => json!({"continue": token}),
            None => json!({}),
        };
        let mut status = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": metadata,
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        });
        if self.reason.is_empty()
            && let Some(map) = status.as_object_mut()
        {
            map.remove("reason");
        }
        let mut details = serde_json::Map::new();
        if let Some(subject) = &self.subject {
            if !subject.name.is_empty() {
                details.insert("name".into(), json!(subject.name));
            }
            if !subject.group.is_empty() {
                details.insert("group".into(), json!(subject.group));
            }
            details.insert("kind".into(), json!(subject.kind));
        }
        if !self.causes.is_empty() {
            let causes: Vec<Value> = self
                .causes
                .iter()
                .map(|c| {
                    // As upstream (`err.ErrorBody()`): the message without the `field: ` prefix,
                    // which clients add back (kubectl prints `field: message`).
                    let prefix = format!("{}: ", c.field);
                    let message = c.message.strip_prefix(&prefix).unwrap_or(&c.message);
                    if c.field.is_empty() && c.reason.is_empty() {
                        json!({"message": message})
                    } else if c.field.is_empty() {
                        json!({"reason": c.reason, "message": message})
                    } else {
                        json!({"reason": c.reason, "message": message, "field": c.field})
                    }
                })
                .collect();
            details.insert("causes".into(), Value::Array(causes));
        }
        if let Some(secs) = self.retry_after {
            details.insert("retryAfterSeconds".into(), json!(secs));
        }
        if !details.is_empty() {
            status["details"] = Value::Object(details);
        }
        status
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({}): {}", self.code, self.reason, self.message)
    }
}

impl std::error::Error for ApiError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_found_is_qualified_by_group() {
        let err = ApiError::not_found("apps", "deployments", "web");
        assert_eq!(err.message, "deployments.apps \"web\" not found");
        let status = err.to_status();
        assert_eq!(status["code"], 404);
        assert_eq!(status["details"]["group"], "apps");
        assert_eq!(status["details"]["kind"], "deployments");
    }

    #[test]
    fn invalid_lists_every_cause() {
        let causes = vec![
            FieldCause::required("spec.a", ""),
            FieldCause::invalid("metadata.name", &json!("A"), "bad"),
        ];
        let err = ApiError::invalid("", "ConfigMap", "A", causes);
        assert_eq!(
            err.message,
            "ConfigMap \"A\" is invalid: [spec.a: Required value, metadata.name: Invalid value: \"A\": bad]"
        );
        assert_eq!(
            err.to_status()["details"]["causes"]
                .as_array()
                .map(Vec::len),
            Some(2)
        );
    }
}
