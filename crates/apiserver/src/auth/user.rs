//! Identities: a user's name, uid, groups and extra attributes (`user.Info` upstream), the
//! well-known users and groups, and the identity `Impersonate-*` headers ask for (as
//! `kubectl --as`, client-go's `ImpersonationConfig` and a kubeconfig's `as:` send them).
//! Authentication is in `authn/`, the authorization of impersonation in `impersonation.rs`.

use crate::status::ApiError;
use axum::http::HeaderMap;
use std::collections::BTreeMap;

/// The user of the unauthenticated local connection (kube-apiserver's insecure port called it
/// the same).
pub const LOCAL_ADMIN: &str = "system:unsecured";
/// The group whose members every authorizer allows everything.
pub const MASTERS: &str = "system:masters";
/// Added to every authenticated user.
pub const AUTHENTICATED: &str = "system:authenticated";
/// Added to the anonymous user.
pub const UNAUTHENTICATED: &str = "system:unauthenticated";
/// The anonymous user.
pub const ANONYMOUS: &str = "system:anonymous";
/// The prefix of service account user names: `system:serviceaccount:<namespace>:<name>`.
pub const SERVICE_ACCOUNT_PREFIX: &str = "system:serviceaccount:";

/// An authenticated (or impersonated) user, as `user.Info` upstream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserInfo {
    /// The user name.
    pub name: String,
    /// The uid, if any.
    pub uid: String,
    /// The groups the user is a member of.
    pub groups: Vec<String>,
    /// Extra attributes.
    pub extra: BTreeMap<String, Vec<String>>,
}

impl UserInfo {
    /// The local administrator: member of `system:masters`.
    pub fn local_admin() -> Self {
        UserInfo {
            name: LOCAL_ADMIN.into(),
            uid: String::new(),
            groups: vec![MASTERS.into(), AUTHENTICATED.into()],
            extra: BTreeMap::new(),
        }
    }

    /// A user an authenticator vouched for, with `system:authenticated` added to its groups as
    /// kube-apiserver's chain adds it.
    pub fn authenticated(name: &str, uid: String, groups: Vec<String>) -> Self {
        let mut groups = groups;
        if !groups.iter().any(|g| g == AUTHENTICATED) {
            groups.push(AUTHENTICATED.into());
        }
        UserInfo {
            name: name.into(),
            uid,
            groups,
            extra: BTreeMap::new(),
        }
    }

    /// The anonymous user of a request without credentials.
    pub fn anonymous() -> Self {
        UserInfo {
            name: ANONYMOUS.into(),
            uid: String::new(),
            groups: vec![UNAUTHENTICATED.into()],
            extra: BTreeMap::new(),
        }
    }

    /// A user with these groups, completed as kube-apiserver completes an impersonated user: a
    /// service account with no groups asked for gets its service account groups, and everyone
    /// gets `system:authenticated` (the anonymous user `system:unauthenticated`).
    pub fn new(name: &str, groups: Vec<String>) -> Self {
        let mut groups = groups;
        if groups.is_empty()
            && let Some((namespace, _)) = service_account(name)
        {
            groups.push("system:serviceaccounts".into());
            groups.push(format!("system:serviceaccounts:{namespace}"));
        }
        let implied = if name == ANONYMOUS {
            UNAUTHENTICATED
        } else {
            AUTHENTICATED
        };
        if !groups.iter().any(|g| g == implied) {
            groups.push(implied.into());
        }
        UserInfo {
            name: name.into(),
            uid: String::new(),
            groups,
            extra: BTreeMap::new(),
        }
    }

    /// Whether every request of this user is allowed without looking at RBAC.
    pub fn is_privileged(&self) -> bool {
        self.groups.iter().any(|g| g == MASTERS)
    }

    /// Whom the `Impersonate-*` headers name, if anyone; 400 when they are malformed.
    pub fn impersonated(headers: &HeaderMap) -> Result<Option<Self>, ApiError> {
        let text = |name: &str| -> Result<Vec<String>, ApiError> {
            headers
                .get_all(name)
                .iter()
                .map(|v| {
                    v.to_str().map(str::to_string).map_err(|_| {
                        ApiError::bad_request(format!("the {name} header is not valid text"))
                    })
                })
                .collect()
        };
        let users = text("Impersonate-User")?;
        let groups = text("Impersonate-Group")?;
        let uids = text("Impersonate-Uid")?;
        let mut extra: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (name, _) in headers.iter() {
            if let Some(key) = name.as_str().strip_prefix("impersonate-extra-") {
                let key = percent_encoding::percent_decode_str(key)
                    .decode_utf8_lossy()
                    .into_owned();
                extra.insert(key, text(name.as_str())?);
            }
        }
        let Some(name) = users.first() else {
            if !groups.is_empty() || !uids.is_empty() || !extra.is_empty() {
                return Err(ApiError::bad_request(
                    "requested impersonation of groups, a uid or extra attributes without impersonating a user",
                ));
            }
            return Ok(None);
        };
        if users.len() > 1 || uids.len() > 1 {
            return Err(ApiError::bad_request(
                "only one user and one uid may be impersonated",
            ));
        }
        if name.is_empty() {
            return Err(ApiError::bad_request(
                "the Impersonate-User header is empty",
            ));
        }
        let mut user = Self::new(name, groups);
        user.uid = uids.into_iter().next().unwrap_or_default();
        user.extra = extra;
        Ok(Some(user))
    }
}

/// The namespace and name of a service account user name.
pub fn service_account(user: &str) -> Option<(&str, &str)> {
    let rest = user.strip_prefix(SERVICE_ACCOUNT_PREFIX)?;
    let (namespace, name) = rest.split_once(':')?;
    (!namespace.is_empty() && !name.is_empty() && !name.contains(':')).then_some((namespace, name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn impersonated(h: &HeaderMap) -> Result<UserInfo, ApiError> {
        UserInfo::impersonated(h).map(|u| u.expect("impersonated"))
    }

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn without_impersonation_nobody_is_impersonated() {
        assert_eq!(UserInfo::impersonated(&HeaderMap::new()), Ok(None));
        assert!(UserInfo::local_admin().is_privileged());
    }

    #[test]
    fn impersonated_service_accounts_get_their_groups() {
        let u = impersonated(&headers(&[(
            "impersonate-user",
            "system:serviceaccount:kube-system:builder",
        )]))
        .expect("user");
        assert_eq!(
            u.groups,
            [
                "system:serviceaccounts",
                "system:serviceaccounts:kube-system",
                "system:authenticated"
            ]
        );
        assert!(!u.is_privileged());
        let u = impersonated(&headers(&[
            ("impersonate-user", "alice"),
            ("impersonate-group", "devs"),
            ("impersonate-group", "system:masters"),
            ("impersonate-extra-scopes", "view"),
        ]))
        .expect("user");
        assert_eq!(u.groups, ["devs", "system:masters", "system:authenticated"]);
        assert!(u.is_privileged());
        assert_eq!(u.extra["scopes"], ["view"]);
        let anon = impersonated(&headers(&[("impersonate-user", ANONYMOUS)])).expect("anon");
        assert_eq!(anon.groups, [UNAUTHENTICATED]);
    }

    #[test]
    fn groups_without_a_user_are_refused() {
        let err = impersonated(&headers(&[("impersonate-group", "devs")])).expect_err("refused");
        assert_eq!(err.code, 400);
        let err = impersonated(&headers(&[
            ("impersonate-user", "a"),
            ("impersonate-user", "b"),
        ]))
        .expect_err("refused");
        assert_eq!(err.code, 400);
    }

    #[test]
    fn service_account_names_parse() {
        assert_eq!(
            service_account("system:serviceaccount:ns:sa"),
            Some(("ns", "sa"))
        );
        assert_eq!(service_account("system:serviceaccount:ns"), None);
        assert_eq!(service_account("system:serviceaccount::sa"), None);
        assert_eq!(service_account("alice"), None);
    }
}
