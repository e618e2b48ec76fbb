//! kube-apiserver's answers when a webhook refuses a request or cannot be called.

use crate::status::ApiError;
use serde_json::Value;

/// The `Status.reason`s of apimachinery; a webhook's result keeps its reason when it is one of
/// these (others are dropped: `ApiError` holds only known reasons).
const REASONS: &[&str] = &[
    "Unauthorized",
    "Forbidden",
    "NotFound",
    "AlreadyExists",
    "Conflict",
    "Gone",
    "Invalid",
    "ServerTimeout",
    "StoreReadError",
    "Timeout",
    "TooManyRequests",
    "BadRequest",
    "MethodNotAllowed",
    "NotAcceptable",
    "RequestEntityTooLarge",
    "UnsupportedMediaType",
    "InternalError",
    "Expired",
    "ServiceUnavailable",
];

/// A webhook's refusal (upstream's `ToStatusErr`): its result with a code of at least 400
/// (403 when it gave none) and the message `admission webhook "<name>" denied the request: <message>`
/// (or its reason, or `without explanation`).
pub fn denied(webhook: &str, result: Option<&Value>) -> ApiError {
    let text = |key: &str| {
        result
            .and_then(|r| r.get(key))
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    let code = result
        .and_then(|r| r.get("code"))
        .and_then(Value::as_u64)
        .and_then(|c| u16::try_from(c).ok())
        .filter(|c| (400..=599).contains(c))
        .unwrap_or(403);
    let (message, reason) = (text("message"), text("reason"));
    let denied_by = format!("admission webhook {webhook:?} denied the request");
    let message = if !message.is_empty() {
        format!("{denied_by}: {message}")
    } else if !reason.is_empty() {
        format!("{denied_by}: {reason}")
    } else {
        format!("{denied_by} without explanation")
    };
    let reason = REASONS
        .iter()
        .find(|r| **r == reason)
        .copied()
        .unwrap_or("");
    ApiError::with_reason(code, reason, message)
}

/// A webhook that could not be called, or answered something unusable, under
/// `failurePolicy: Fail` (upstream's `ErrCallingWebhook` as an internal error):
/// `Internal error occurred: failed calling webhook "<name>": <reason>`.
pub fn calling(webhook: &str, reason: &str) -> ApiError {
    ApiError::internal_with_cause(format!("failed calling webhook {webhook:?}: {reason}"))
}

/// A dry run sent to a webhook with side effects (upstream's `NewDryRunUnsupportedErr`).
pub fn dry_run_unsupported(webhook: &str) -> ApiError {
    ApiError::bad_request(format!(
        "admission webhook {webhook:?} does not support dry run"
    ))
}
