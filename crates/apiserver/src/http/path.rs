//! Request paths: `/api/v1/...` and `/apis/{group}/{version}/...` into what they address.

/// What a request path addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// `/version`.
    Version,
    /// `/api`.
    CoreGroups,
    /// `/apis`.
    Groups,
    /// `/apis/{group}`.
    Group(String),
    /// `/api/v1` or `/apis/{group}/{version}`.
    ResourceList {
        /// Group ("" for core).
        group: String,
        /// Version.
        version: String,
    },
    /// A resource collection, item or subresource.
    Resource(ResourcePath),
    /// `/openapi/v2`.
    OpenApiV2,
    /// `/openapi/v3`.
    OpenApiV3Root,
    /// `/openapi/v3/api/v1` or `/openapi/v3/apis/{g}/{v}`.
    OpenApiV3 {
        /// Group ("" for core).
        group: String,
        /// Version.
        version: String,
    },
    /// `/healthz`, `/livez`, `/readyz`.
    Health,
    /// `/metrics`.
    Metrics,
    /// `/.well-known/openid-configuration`: the ServiceAccount issuer's discovery document.
    OpenIdConfiguration,
    /// `/openid/v1/jwks`: the keys ServiceAccount tokens are signed with.
    Jwks,
}

/// A path under a group-version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourcePath {
    /// Group ("" for core).
    pub group: String,
    /// Version.
    pub version: String,
    /// Namespace from the path (`namespaces/{ns}/...`).
    pub namespace: Option<String>,
    /// Resource plural.
    pub resource: String,
    /// Object name (None for a collection).
    pub name: Option<String>,
    /// Subresource (`status`, `scale`).
    pub subresource: Option<String>,
}

impl ResourcePath {
    /// `/api/v1/namespaces/{ns}/{r}` reads as the collection `{r}` in namespace `{ns}`; when the
    /// core group serves no resource `{r}` (`exists` says), it is the subresource `{r}` of the
    /// namespace `{ns}` (`status`, `finalize`). That is the one place the URL grammar is
    /// ambiguous, as upstream's routes resolve it.
    pub fn as_namespace_subresource(&self, exists: impl Fn(&str) -> bool) -> Option<ResourcePath> {
        if !self.group.is_empty() || self.name.is_some() || exists(&self.resource) {
            return None;
        }
        let namespace = self.namespace.as_ref()?;
        Some(ResourcePath {
            group: String::new(),
            version: self.version.clone(),
            namespace: None,
            resource: "namespaces".into(),
            name: Some(namespace.clone()),
            subresource: Some(self.resource.clone()),
        })
    }
}

fn decode(seg: &str) -> String {
    percent_encoding::percent_decode_str(seg)
        .decode_utf8_lossy()
        .into_owned()
}

/// Parses a URL path; None when nothing is served there.
pub fn parse(path: &str) -> Option<Target> {
    let trimmed = path.trim_end_matches('/');
    let segs: Vec<String> = trimmed.split('/').skip(1).map(decode).collect();
    let s: Vec<&str> = segs.iter().map(String::as_str).collect();
    match s.as_slice() {
        ["version"] => Some(Target::Version),
        ["metrics"] => Some(Target::Metrics),
        [".well-known", "openid-configuration"] => Some(Target::OpenIdConfiguration),
        ["openid", "v1", "jwks"] => Some(Target::Jwks),
        ["healthz" | "livez" | "readyz", ..] => Some(Target::Health),
        ["api"] => Some(Target::CoreGroups),
        ["apis"] => Some(Target::Groups),
        ["openapi", "v2"] => Some(Target::OpenApiV2),
        ["openapi", "v3"] => Some(Target::OpenApiV3Root),
        ["openapi", "v3", "api", v] => Some(Target::OpenApiV3 {
            group: String::new(),
            version: v.to_string(),
        }),
        ["openapi", "v3", "apis", g, v] => Some(Target::OpenApiV3 {
            group: g.to_string(),
            version: v.to_string(),
        }),
        ["apis", g] => Some(Target::Group(g.to_string())),
        ["api", v] => Some(Target::ResourceList {
            group: String::new(),
            version: v.to_string(),
        }),
        ["apis", g, v] => Some(Target::ResourceList {
            group: g.to_string(),
            version: v.to_string(),
        }),
        ["api", v, rest @ ..] => resource(String::new(), v, rest),
        ["apis", g, v, rest @ ..] => resource(g.to_string(), v, rest),
        _ => None,
    }
}

fn resource(group: String, version: &str, rest: &[&str]) -> Option<Target> {
    let mk = |namespace: Option<&str>, resource: &str, name: Option<&str>, sub: Option<&str>| {
        if resource.is_empty() || name.is_some_and(str::is_empty) {
            return None;
        }
        Some(Target::Resource(ResourcePath {
            group: group.clone(),
            version: version.to_string(),
            namespace: namespace.map(str::to_string),
            resource: resource.to_string(),
            name: name.map(str::to_string),
            subresource: sub.map(str::to_string),
        }))
    };
    match rest {
        [r] => mk(None, r, None, None),
        [r, name] => mk(None, r, Some(name), None),
        ["namespaces", ns, r] => mk(Some(ns), r, None, None),
        [r, name, sub] => mk(None, r, Some(name), Some(sub)),
        ["namespaces", ns, r, name] => mk(Some(ns), r, Some(name), None),
        ["namespaces", ns, r, name, sub] => mk(Some(ns), r, Some(name), Some(sub)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rp(
        g: &str,
        ns: Option<&str>,
        r: &str,
        name: Option<&str>,
        sub: Option<&str>,
    ) -> Option<Target> {
        Some(Target::Resource(ResourcePath {
            group: g.into(),
            version: "v1".into(),
            namespace: ns.map(Into::into),
            resource: r.into(),
            name: name.map(Into::into),
            subresource: sub.map(Into::into),
        }))
    }

    #[test]
    fn parses_paths() {
        assert_eq!(
            parse("/api/v1/namespaces"),
            rp("", None, "namespaces", None, None)
        );
        assert_eq!(
            parse("/api/v1/namespaces/default"),
            rp("", None, "namespaces", Some("default"), None)
        );
        // A namespace's subresource reads as a collection until the catalog says otherwise.
        let Some(Target::Resource(status)) = parse("/api/v1/namespaces/default/status") else {
            panic!("a resource path");
        };
        assert_eq!(
            Some(Target::Resource(status.clone())),
            rp("", Some("default"), "status", None, None)
        );
        assert_eq!(
            status
                .as_namespace_subresource(|r| r == "pods")
                .map(Target::Resource),
            rp("", None, "namespaces", Some("default"), Some("status"))
        );
        assert_eq!(status.as_namespace_subresource(|r| r == "status"), None);
        assert_eq!(
            parse("/api/v1/namespaces/default/pods"),
            rp("", Some("default"), "pods", None, None)
        );
        assert_eq!(
            parse("/apis/apps/v1/namespaces/a/deployments/d/scale"),
            rp("apps", Some("a"), "deployments", Some("d"), Some("scale"))
        );
        assert_eq!(
            parse("/api/v1/nodes/n1"),
            rp("", None, "nodes", Some("n1"), None)
        );
        assert_eq!(parse("/apis/apps"), Some(Target::Group("apps".into())));
        assert_eq!(parse("/nope"), None);
        assert_eq!(parse("/api/v1/namespaces/a/pods/b/c/d"), None);
    }
}
