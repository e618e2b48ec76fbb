//! Who may use the service and where: an optional bearer token (checked before any route runs,
//! except `/healthz` and `/openapi.json`, which reveal nothing), and the namespaces the service
//! acts in (a request for another namespace is answered 403 before the API server is asked).

use crate::AppState;
use crate::error::ApiError;
use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// Paths served without a token.
const PUBLIC: &[&str] = &["/healthz", "/openapi.json"];

/// Middleware: with a token configured, a request must carry `Authorization: Bearer <token>`
/// (401 otherwise).
pub async fn require_token(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    if let Some(expected) = &state.settings.token
        && !PUBLIC.contains(&request.uri().path())
    {
        let presented = request
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim);
        if !presented.is_some_and(|token| same_secret(token.as_bytes(), expected.as_bytes())) {
            return ApiError::unauthorized().into_response();
        }
    }
    next.run(request).await
}

/// Compares two secrets in time independent of where they differ.
fn same_secret(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// 403 unless the service may act in `namespace`.
pub fn check_namespace(state: &AppState, namespace: &str) -> Result<(), ApiError> {
    match &state.settings.namespaces {
        Some(allowed) if !allowed.contains(namespace) => {
            Err(ApiError::namespace_forbidden(namespace))
        }
        _ => Ok(()),
    }
}

/// Reads a token file: its content without surrounding whitespace, which must not be empty.
pub fn read_token_file(path: &std::path::Path) -> std::io::Result<String> {
    let token = std::fs::read_to_string(path)?.trim().to_string();
    if token.is_empty() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("{} holds no token", path.display()),
        ));
    }
    Ok(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_compare_whole() {
        assert!(same_secret(b"abc", b"abc"));
        assert!(!same_secret(b"abc", b"abd"));
        assert!(!same_secret(b"abc", b"abcd"));
    }
}
