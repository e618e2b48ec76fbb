//! Who is asking and what they may do: identities ([`user`]), authentication ([`authn`]:
//! client certificates, static and ServiceAccount tokens, anonymous), impersonation and its
//! authorization ([`impersonation`]), request attributes ([`attributes`]), RBAC over the stored
//! roles and bindings ([`rbac`]) with the default policy a cluster starts with ([`bootstrap`]),
//! and the access and identity reviews that ask about them ([`review`]).

pub mod attributes;
pub mod authn;
pub mod bootstrap;
pub mod cache;
pub mod impersonation;
pub mod rbac;
pub mod review;
pub mod user;

use crate::rest::Rest;
use crate::status::ApiError;
use attributes::Attributes;
use user::UserInfo;

/// What the server's authorizers decide: members of `system:masters` may do everything (the
/// privileged-group authorizer, no reason given), everyone else what RBAC allows.
pub async fn decide(rest: &Rest, user: &UserInfo, attrs: &Attributes) -> rbac::Decision {
    if user.is_privileged() {
        return rbac::Decision {
            allowed: true,
            reason: String::new(),
        };
    }
    rest.rbac.authorize(user, attrs).await
}

/// `Ok` when `user` may do `attrs`, else kube-apiserver's 403 (with the authorizer's reason,
/// when it has one).
pub async fn check(rest: &Rest, user: &UserInfo, attrs: &Attributes) -> Result<(), ApiError> {
    let decision = decide(rest, user, attrs).await;
    if decision.allowed {
        Ok(())
    } else {
        Err(attrs.forbidden_because(&user.name, &decision.reason))
    }
}
