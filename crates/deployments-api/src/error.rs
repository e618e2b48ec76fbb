//! Errors as the service answers them: always JSON, `{code, reason, message, field?}`, with the
//! HTTP status that tells a client what to do next; and the API server's errors mapped onto
//! them (its own message passed on).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// An error answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{status}: {message}")]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// A machine-readable reason, in the API server's vocabulary (`BadRequest`, `NotFound`...).
    pub reason: &'static str,
    /// What went wrong, for a person.
    pub message: String,
    /// The request field at fault (400 only; `""` for the body as a whole).
    pub field: Option<String>,
}

impl ApiError {
    fn new(status: StatusCode, reason: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            reason,
            message: message.into(),
            field: None,
        }
    }

    /// 400: `field` of the body is wrong, for `reason`.
    pub fn bad_request(field: impl Into<String>, reason: impl Into<String>) -> Self {
        let field = field.into();
        let reason = reason.into();
        let message = if field.is_empty() {
            reason
        } else {
            format!("{field}: {reason}")
        };
        ApiError {
            field: Some(field),
            ..Self::new(StatusCode::BAD_REQUEST, "BadRequest", message)
        }
    }

    /// 401: no or a wrong bearer token.
    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "Unauthorized",
            "a valid bearer token is required (Authorization: Bearer <token>)",
        )
    }

    /// 403: `namespace` is outside the namespaces this service may act in.
    pub fn namespace_forbidden(namespace: &str) -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "Forbidden",
            format!("namespace {namespace:?} is not one this service manages"),
        )
    }

    /// 404 for a path no route serves.
    pub fn no_route(path: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "NotFound",
            format!("no route for {path}; see /openapi.json"),
        )
    }

    /// 409: the update lost to other writers `attempts` times in a row.
    pub fn conflict_after(attempts: u32, message: &str) -> Self {
        Self::new(
            StatusCode::CONFLICT,
            "Conflict",
            format!(
                "the Deployment kept changing under the update ({attempts} attempts): {message}"
            ),
        )
    }

    /// The answer for an error of the API server (or of reaching it).
    pub fn from_kube(error: kube::Error) -> Self {
        match error {
            kube::Error::Api(status) => {
                let message = status.message.clone();
                let reason = status.reason.clone();
                match status.code {
                    404 => Self::new(StatusCode::NOT_FOUND, "NotFound", message),
                    409 if reason == "AlreadyExists" => {
                        Self::new(StatusCode::CONFLICT, "AlreadyExists", message)
                    }
                    409 => Self::new(StatusCode::CONFLICT, "Conflict", message),
                    400 | 422 => Self::new(StatusCode::UNPROCESSABLE_ENTITY, "Invalid", message),
                    401 | 403 => Self::new(
                        StatusCode::FORBIDDEN,
                        "Forbidden",
                        format!("the API server refused this service: {message}"),
                    ),
                    429 | 500.. => Self::new(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "ServiceUnavailable",
                        format!("the API server cannot serve the request now: {message}"),
                    ),
                    code => Self::new(
                        StatusCode::BAD_GATEWAY,
                        "BadGateway",
                        format!("the API server answered {code}: {message}"),
                    ),
                }
            }
            kube::Error::SerdeError(e) => Self::new(
                StatusCode::BAD_GATEWAY,
                "BadGateway",
                format!("the API server's answer could not be read: {e}"),
            ),
            other => Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "ServiceUnavailable",
                format!("the API server is unreachable: {other}"),
            ),
        }
    }

    /// Whether this is an optimistic-concurrency conflict worth retrying.
    pub fn is_conflict(&self) -> bool {
        self.status == StatusCode::CONFLICT && self.reason == "Conflict"
    }
}

impl From<kube::Error> for ApiError {
    fn from(error: kube::Error) -> Self {
        Self::from_kube(error)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = json!({
            "code": self.status.as_u16(),
            "reason": self.reason,
            "message": self.message,
        });
        if let Some(field) = &self.field {
            body["field"] = json!(field);
        }
        let mut response = (self.status, json_body(&body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

/// `value` as a response body with `Content-Type: application/json`.
pub fn json_body(value: &serde_json::Value) -> impl IntoResponse + use<> {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        format!("{value}\n"),
    )
}
