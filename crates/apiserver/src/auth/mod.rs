//! Who is asking and what they may do: identities ([`user`]), authentication ([`authn`]:
//! client certificates, static and ServiceAccount tokens, anonymous), impersonation and its
//! authorization ([`impersonation`]), request attributes ([`attributes`]), RBAC over the stored
//! roles and bindings ([`rbac`]) with the default policy a cluster starts with ([`bootstrap`]),
//! and the access and identity reviews that ask about them ([`review`]).

pub mod attributes;
pub mod authn;
pub mod bootstrap;
pub mod impersonation;
pub mod rbac;
pub mod review;
pub mod user;

use crate::rest::Rest;
use crate::status::ApiError;
use attributes::Attributes;
use user::UserInfo;

/// `Ok` when `user` may do `attrs`, else kube-apiserver's 403.
pub async fn check(rest: &Rest, user: &UserInfo, attrs: &Attributes) -> Result<(), ApiError> {
    if user.is_privileged()
        || rbac::Rbac::new(&rest.store)
            .authorize(user, attrs)
            .await
            .allowed
    {
        Ok(())
    } else {
        Err(attrs.forbidden(&user.name))
    }
}
