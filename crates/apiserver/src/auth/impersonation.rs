//! Impersonation (`Impersonate-User`, `-Group`, `-Uid`, `-Extra-*`), authorized as
//! kube-apiserver's impersonation filter does: the authenticated requester needs the verb
//! `impersonate` on each thing it asks to be — `users` (or `serviceaccounts` in the account's
//! namespace for a ServiceAccount name), `groups`, `uids` and `userextras/<key>` — and is
//! refused with upstream's 403 on the first it may not. The request then goes on as the
//! impersonated user.

use super::attributes::{Attributes, ResourceAttributes};
use super::user::{UserInfo, service_account};
use crate::rest::Rest;
use crate::status::ApiError;
use axum::http::HeaderMap;

fn impersonate(
    group: &str,
    resource: &str,
    subresource: &str,
    namespace: &str,
    name: &str,
) -> Attributes {
    Attributes::Resource(ResourceAttributes {
        verb: "impersonate".into(),
        group: group.into(),
        resource: resource.into(),
        subresource: subresource.into(),
        namespace: namespace.into(),
        name: name.into(),
        ..ResourceAttributes::default()
    })
}

/// The user a request acts as: `requester`, or whom its `Impersonate-*` headers name when the
/// requester may impersonate them.
pub async fn acting_as(
    rest: &Rest,
    requester: UserInfo,
    headers: &HeaderMap,
) -> Result<UserInfo, ApiError> {
    let Some(wanted) = UserInfo::impersonated(headers)? else {
        return Ok(requester);
    };
    let mut checks = vec![match service_account(&wanted.name) {
        Some((namespace, name)) => impersonate("", "serviceaccounts", "", namespace, name),
        None => impersonate("", "users", "", "", &wanted.name),
    }];
    for group in headers.get_all("Impersonate-Group") {
        if let Ok(group) = group.to_str() {
            checks.push(impersonate("", "groups", "", "", group));
        }
    }
    if !wanted.uid.is_empty() {
        checks.push(impersonate(
            "authentication.k8s.io",
            "uids",
            "",
            "",
            &wanted.uid,
        ));
    }
    for (key, values) in &wanted.extra {
        for value in values {
            checks.push(impersonate(
                "authentication.k8s.io",
                "userextras",
                key,
                "",
                value,
            ));
        }
    }
    for attrs in &checks {
        super::check(rest, &requester, attrs).await?;
    }
    Ok(wanted)
}
