//! What a request asks to do, in the terms authorization speaks (`authorizer.Attributes`
//! upstream): a verb on a resource, or on a non-resource path; and the 403 that refuses it.

use crate::http::path::ResourcePath;
use crate::status::{ApiError, qualified};
use axum::http::Method;

/// What one request asks to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Attributes {
    /// A verb on an API resource.
    Resource(ResourceAttributes),
    /// A verb on a path that is no resource (`/version`, `/openapi/v3`, `/healthz` …).
    NonResource {
        /// `get`, `post`, `put`, `patch`, `delete`.
        verb: String,
        /// The request path.
        path: String,
    },
}

/// A verb on an API resource (`ResourceAttributes` of the access review API).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ResourceAttributes {
    /// `get`, `list`, `watch`, `create`, `update`, `patch`, `delete`, `deletecollection` (or any
    /// verb a review asks about).
    pub verb: String,
    /// API group, "" for core.
    pub group: String,
    /// API version (informational).
    pub version: String,
    /// Resource plural.
    pub resource: String,
    /// Subresource, "" for none.
    pub subresource: String,
    /// Namespace, "" for cluster scope (or every namespace).
    pub namespace: String,
    /// Object name, "" for collections.
    pub name: String,
}

impl Attributes {
    /// The attributes of a request for a resource path.
    pub fn of_resource(method: &Method, path: &ResourcePath, watch: bool) -> Self {
        let named = path.name.is_some();
        let verb = match *method {
            Method::GET | Method::HEAD if named => "get",
            Method::GET | Method::HEAD if watch => "watch",
            Method::GET | Method::HEAD => "list",
            Method::POST => "create",
            Method::PUT => "update",
            Method::PATCH => "patch",
            Method::DELETE if named => "delete",
            Method::DELETE => "deletecollection",
            _ => "",
        };
        let name = path.name.clone().unwrap_or_default();
        // A namespace's own namespace is itself, so that a RoleBinding in it can grant access
        // to it (kube-apiserver's request info does the same).
        let namespace = match &path.namespace {
            Some(ns) => ns.clone(),
            None if path.group.is_empty() && path.resource == "namespaces" => name.clone(),
            None => String::new(),
        };
        Attributes::Resource(ResourceAttributes {
            verb: verb.to_string(),
            group: path.group.clone(),
            version: path.version.clone(),
            resource: path.resource.clone(),
            subresource: path.subresource.clone().unwrap_or_default(),
            namespace,
            name,
        })
    }

    /// The attributes of a request for a path that is no resource: the verb is the method in
    /// lower case (`head` too), as kube-apiserver's request info has it.
    pub fn of_path(method: &Method, path: &str) -> Self {
        Attributes::NonResource {
            verb: method.as_str().to_ascii_lowercase(),
            path: path.to_string(),
        }
    }

    /// The 403 kube-apiserver answers when `user` may not do this, e.g.
    /// `configmaps is forbidden: User "alice" cannot list resource "configmaps" in API group ""
    /// in the namespace "default"`.
    pub fn forbidden(&self, user: &str) -> ApiError {
        self.forbidden_because(user, "")
    }

    /// The 403 with the authorizer's `reason` appended (`...: RBAC: role ... not found`), as
    /// kube-apiserver words it when the authorizer gave one.
    pub fn forbidden_because(&self, user: &str, reason: &str) -> ApiError {
        let because = if reason.is_empty() {
            String::new()
        } else {
            format!(": {reason}")
        };
        match self {
            Attributes::Resource(a) => {
                let mut resource = a.resource.clone();
                if !a.subresource.is_empty() {
                    resource = format!("{resource}/{}", a.subresource);
                }
                let scope = if a.namespace.is_empty() {
                    "at the cluster scope".to_string()
                } else {
                    format!("in the namespace {:?}", a.namespace)
                };
                let why = format!(
                    "User {user:?} cannot {} resource {resource:?} in API group {:?} {scope}",
                    a.verb, a.group
                );
                let subject = qualified(&a.resource, &a.group);
                let message = if a.name.is_empty() {
                    format!("{subject} is forbidden: {why}{because}")
                } else {
                    format!("{subject} {:?} is forbidden: {why}{because}", a.name)
                };
                ApiError::forbidden(&a.group, &a.resource, &a.name, message)
            }
            Attributes::NonResource { verb, path } => ApiError::forbidden(
                "",
                "",
                "",
                format!("forbidden: User {user:?} cannot {verb} path {path:?}{because}"),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(
        ns: Option<&str>,
        resource: &str,
        name: Option<&str>,
        sub: Option<&str>,
    ) -> ResourcePath {
        ResourcePath {
            group: if resource == "deployments" {
                "apps".into()
            } else {
                String::new()
            },
            version: "v1".into(),
            namespace: ns.map(str::to_string),
            resource: resource.into(),
            name: name.map(str::to_string),
            subresource: sub.map(str::to_string),
        }
    }

    fn verb(method: Method, p: &ResourcePath, watch: bool) -> String {
        match Attributes::of_resource(&method, p, watch) {
            Attributes::Resource(a) => a.verb,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn methods_map_to_verbs() {
        let coll = path(Some("ns"), "configmaps", None, None);
        let one = path(Some("ns"), "configmaps", Some("c"), None);
        assert_eq!(verb(Method::GET, &coll, false), "list");
        assert_eq!(verb(Method::GET, &coll, true), "watch");
        assert_eq!(verb(Method::GET, &one, false), "get");
        assert_eq!(verb(Method::POST, &coll, false), "create");
        assert_eq!(verb(Method::PUT, &one, false), "update");
        assert_eq!(verb(Method::PATCH, &one, false), "patch");
        assert_eq!(verb(Method::DELETE, &one, false), "delete");
        assert_eq!(verb(Method::DELETE, &coll, false), "deletecollection");
    }

    #[test]
    fn forbidden_messages_read_like_kube_apiserver() {
        let a = Attributes::of_resource(
            &Method::GET,
            &path(Some("default"), "configmaps", None, None),
            false,
        );
        assert_eq!(
            a.forbidden("alice").message,
            r#"configmaps is forbidden: User "alice" cannot list resource "configmaps" in API group "" in the namespace "default""#
        );
        let a = Attributes::of_resource(
            &Method::PUT,
            &path(Some("web"), "deployments", Some("d"), Some("status")),
            false,
        );
        assert_eq!(
            a.forbidden("bob").message,
            r#"deployments.apps "d" is forbidden: User "bob" cannot update resource "deployments/status" in API group "apps" in the namespace "web""#
        );
        let a = Attributes::of_resource(
            &Method::GET,
            &path(None, "namespaces", Some("kube-system"), None),
            false,
        );
        match &a {
            Attributes::Resource(r) => assert_eq!(r.namespace, "kube-system"),
            other => panic!("{other:?}"),
        }
        let a = Attributes::of_resource(&Method::GET, &path(None, "nodes", None, None), false);
        assert_eq!(
            a.forbidden("bob").message,
            r#"nodes is forbidden: User "bob" cannot list resource "nodes" in API group "" at the cluster scope"#
        );
        assert_eq!(
            Attributes::of_path(&Method::GET, "/metrics")
                .forbidden("bob")
                .message,
            r#"forbidden: User "bob" cannot get path "/metrics""#
        );
    }
}
