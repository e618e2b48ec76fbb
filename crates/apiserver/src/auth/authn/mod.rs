//! Authentication: who a request is from, as kube-apiserver's authenticator chain decides it
//! (`pkg/kubeapiserver/authenticator`): a verified X.509 client certificate ([`x509`]), then a
//! bearer token — a static token from `--token-auth-file` ([`token_file`]) or a ServiceAccount
//! token ([`service_account`]) — and otherwise the anonymous user.
//!
//! What it guarantees:
//! - A bearer token that no authenticator accepts fails the request with 401 `Unauthorized`
//!   (upstream's body) before anything else happens; it never falls back to anonymous.
//! - Over plain HTTP (`--insecure-http`, or the embedding default), a request without
//!   credentials is the local administrator, as kube-apiserver's old insecure port made it; a
//!   request that presents a bearer token is still authenticated by it.
//! - Over TLS, a request without credentials is `system:anonymous` in
//!   `system:unauthenticated`.
//!
//! Impersonation, which comes after authentication, is in `auth/impersonation.rs`.

pub mod service_account;
pub mod token_file;
pub mod verified_tokens;
pub mod x509;

use super::user::UserInfo;
use crate::rest::Rest;
use crate::status::ApiError;
use axum::http::{HeaderMap, header};
use rustls::pki_types::CertificateDer;
use service_account::ServiceAccountTokens;
use std::sync::Arc;
use token_file::TokenFile;

/// What the connection a request came over says about its sender.
#[derive(Clone, Debug, Default)]
pub struct Connection {
    /// Whether the connection is TLS.
    pub secure: bool,
    /// The identity of the verified client certificate, if one was presented and names a user.
    pub client: Option<Arc<UserInfo>>,
}

impl Connection {
    /// A plain-HTTP connection.
    pub fn plain() -> Self {
        Connection::default()
    }

    /// A TLS connection with these (already verified) peer certificates.
    pub fn tls(peer: Option<&[CertificateDer<'_>]>) -> Self {
        Connection {
            secure: true,
            client: peer
                .and_then(|chain| chain.first())
                .and_then(|leaf| x509::user_of(leaf.as_ref()))
                .map(Arc::new),
        }
    }
}

/// The authenticator chain of one server.
pub struct Authenticator {
    /// `--token-auth-file`'s tokens, if given.
    pub tokens: Option<TokenFile>,
    /// Issues and verifies ServiceAccount tokens.
    pub service_accounts: Arc<ServiceAccountTokens>,
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authenticator").finish_non_exhaustive()
    }
}

/// The bearer token of an `Authorization` header (`Bearer <token>`, scheme case-insensitive),
/// as upstream's `bearertoken` authenticator reads it.
fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

impl Authenticator {
    /// Who sent a request with `headers` over `connection`; 401 when it presents credentials
    /// that are not valid.
    pub fn authenticate(
        &self,
        rest: &Rest,
        headers: &HeaderMap,
        connection: &Connection,
    ) -> Result<UserInfo, ApiError> {
        if let Some(user) = &connection.client {
            return Ok(UserInfo::clone(user));
        }
        if let Some(token) = bearer_token(headers) {
            return self
                .authenticate_token(rest, token, None)
                .map_err(|_| ApiError::unauthorized());
        }
        if headers.contains_key(header::AUTHORIZATION) {
            // Another scheme (Basic auth is gone since 1.19): no authenticator claims it.
            return Err(ApiError::unauthorized());
        }
        Ok(if connection.secure {
            UserInfo::anonymous()
        } else {
            UserInfo::local_admin()
        })
    }

    /// Who `token` belongs to, for a request (`audiences` `None`: the server's own) or a
    /// TokenReview that names audiences; the error says why it is not valid.
    pub fn authenticate_token(
        &self,
        rest: &Rest,
        token: &str,
        audiences: Option<&[String]>,
    ) -> Result<UserInfo, String> {
        if let Some(user) = self.tokens.as_ref().and_then(|t| t.user(token)) {
            return Ok(user.clone());
        }
        match self.service_accounts.validate(rest, token, audiences) {
            Some(result) => result,
            None => Err("invalid bearer token".into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn bearer_tokens_are_read_as_upstream_reads_them() {
        let mut h = HeaderMap::new();
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer abc"),
        );
        assert_eq!(bearer_token(&h), Some("abc"));
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("bearer  xyz "),
        );
        assert_eq!(bearer_token(&h), Some("xyz"));
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer "));
        assert_eq!(bearer_token(&h), None);
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Basic YTpi"),
        );
        assert_eq!(bearer_token(&h), None);
    }
}
