//! RBAC: whether the Roles and ClusterRoles bound to a user allow a request, read from the
//! stored `rbac.authorization.k8s.io/v1` objects at the moment of the request (so a binding
//! takes effect with its write), with kube-apiserver's matching rules: `*` for verbs, groups,
//! resources and URLs, `*/subresource`, resourceNames, URL prefixes ending in `*`, subjects of
//! kind User, Group and ServiceAccount, and ClusterRoles aggregated by label.

use super::attributes::{Attributes, ResourceAttributes};
use super::user::UserInfo;
use crate::resource::ResourceType;
use crate::selector::LabelSelector;
use crate::storage::{ReadAt, Store};
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::Arc;

const GROUP: &str = "rbac.authorization.k8s.io";

/// The answer to one authorization question.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    /// Whether the request is allowed.
    pub allowed: bool,
    /// Why (for allowed requests, which binding allowed it), as access reviews report it.
    pub reason: String,
}

/// One rule of a role, as `PolicyRule` upstream.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PolicyRule {
    /// Verbs, `*` for all.
    pub verbs: Vec<String>,
    /// API groups, `*` for all.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub api_groups: Vec<String>,
    /// Resources (`pods`, `pods/log`, `*/scale`, `*`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub resources: Vec<String>,
    /// Object names; empty means every object.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub resource_names: Vec<String>,
    /// Non-resource URLs (`/healthz`, `/api/*`, `*`).
    #[serde(rename = "nonResourceURLs", skip_serializing_if = "Vec::is_empty")]
    pub non_resource_urls: Vec<String>,
}

fn has(list: &[String], wanted: &str) -> bool {
    list.iter().any(|x| x == "*" || x == wanted)
}

impl PolicyRule {
    /// Whether this rule allows `attrs`.
    pub fn allows(&self, attrs: &Attributes) -> bool {
        match attrs {
            Attributes::Resource(a) => self.allows_resource(a),
            Attributes::NonResource { verb, path } => {
                has(&self.verbs, verb)
                    && self.non_resource_urls.iter().any(|u| {
                        u == "*"
                            || u == path
                            || u.strip_suffix('*')
                                .is_some_and(|prefix| path.starts_with(prefix))
                    })
            }
        }
    }

    fn allows_resource(&self, a: &ResourceAttributes) -> bool {
        if !has(&self.verbs, &a.verb) || !has(&self.api_groups, &a.group) {
            return false;
        }
        let combined = if a.subresource.is_empty() {
            a.resource.clone()
        } else {
            format!("{}/{}", a.resource, a.subresource)
        };
        let resource = self.resources.iter().any(|r| {
            r == "*"
                || *r == combined
                || (!a.subresource.is_empty() && r.strip_prefix("*/") == Some(&a.subresource))
        });
        resource && (self.resource_names.is_empty() || self.resource_names.contains(&a.name))
    }
}

/// A reference from a binding to a subject.
#[derive(Clone, Debug, Default, serde::Deserialize)]
#[serde(default)]
struct Subject {
    kind: String,
    name: String,
    namespace: String,
}

impl Subject {
    /// Whether the subject is `user`; a ServiceAccount without a namespace is in the binding's.
    fn is(&self, user: &UserInfo, binding_namespace: &str) -> bool {
        match self.kind.as_str() {
            "User" => self.name == user.name,
            "Group" => user.groups.contains(&self.name),
            "ServiceAccount" => {
                let ns = if self.namespace.is_empty() {
                    binding_namespace
                } else {
                    &self.namespace
                };
                super::user::service_account(&user.name) == Some((ns, self.name.as_str()))
            }
            _ => false,
        }
    }
}

#[derive(Clone, Debug, Default, serde::Deserialize)]
#[serde(default)]
struct RoleRef {
    kind: String,
    name: String,
}

/// A RoleBinding or ClusterRoleBinding, as far as authorization reads it.
#[derive(Clone, Debug, Default, serde::Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct Binding {
    metadata: Meta,
    subjects: Vec<Subject>,
    role_ref: RoleRef,
}

#[derive(Clone, Debug, Default, serde::Deserialize)]
#[serde(default)]
struct Meta {
    name: String,
    namespace: String,
    labels: BTreeMap<String, String>,
}

/// A Role or ClusterRole, as far as authorization reads it.
#[derive(Clone, Debug, Default, serde::Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct Role {
    metadata: Meta,
    rules: Vec<PolicyRule>,
    aggregation_rule: Option<Value>,
}

/// The RBAC authorizer over a store.
pub struct Rbac<'a> {
    store: &'a Store,
}

/// Where a binding that applies to the user points: the binding's description and its rules.
struct Grant {
    describe: String,
    rules: Vec<PolicyRule>,
}

impl<'a> Rbac<'a> {
    /// The authorizer reading RBAC objects from `store`.
    pub fn new(store: &'a Store) -> Self {
        Rbac { store }
    }

    async fn load<T: serde::de::DeserializeOwned>(
        &self,
        plural: &str,
        namespace: Option<&str>,
    ) -> Vec<T> {
        let key: Arc<str> = ResourceType::storage_key_for(GROUP, plural);
        match self.store.list(&key, namespace, ReadAt::Latest).await {
            Ok(page) => page
                .items
                .iter()
                .filter_map(|(_, obj)| serde_json::from_slice(&obj.json).ok())
                .collect(),
            Err(_) => Vec::new(),
        }
    }

    /// Every grant that applies to `user` for requests in `namespace` ("" for cluster scope):
    /// ClusterRoleBindings first, then the namespace's RoleBindings.
    async fn grants(&self, user: &UserInfo, namespace: &str) -> Vec<Grant> {
        let cluster_roles: Vec<Role> = self.load("clusterroles", None).await;
        let by_name: BTreeMap<&str, &Role> = cluster_roles
            .iter()
            .map(|r| (r.metadata.name.as_str(), r))
            .collect();
        let cluster_rules = |name: &str| -> Vec<PolicyRule> {
            let Some(role) = by_name.get(name) else {
                return Vec::new();
            };
            let mut rules = role.rules.clone();
            // An aggregated ClusterRole has the rules of every ClusterRole its selectors pick.
            let selectors = role
                .aggregation_rule
                .as_ref()
                .and_then(|a| a.get("clusterRoleSelectors"))
                .and_then(Value::as_array);
            for selector in selectors.into_iter().flatten() {
                let Some(selector) = LabelSelector::from_object(selector) else {
                    continue;
                };
                for other in &cluster_roles {
                    if other.metadata.name != role.metadata.name
                        && selector.matches(&other.metadata.labels)
                    {
                        rules.extend(other.rules.iter().cloned());
                    }
                }
            }
            rules
        };
        let mut grants = Vec::new();
        let bindings: Vec<Binding> = self.load("clusterrolebindings", None).await;
        for b in &bindings {
            if b.role_ref.kind == "ClusterRole" && b.subjects.iter().any(|s| s.is(user, "")) {
                grants.push(Grant {
                    describe: format!(
                        "ClusterRoleBinding {:?} of ClusterRole {:?}",
                        b.metadata.name, b.role_ref.name
                    ),
                    rules: cluster_rules(&b.role_ref.name),
                });
            }
        }
        if namespace.is_empty() {
            return grants;
        }
        let bindings: Vec<Binding> = self.load("rolebindings", Some(namespace)).await;
        let mut roles: Option<Vec<Role>> = None;
        for b in &bindings {
            if !b.subjects.iter().any(|s| s.is(user, &b.metadata.namespace)) {
                continue;
            }
            let rules = match b.role_ref.kind.as_str() {
                "ClusterRole" => cluster_rules(&b.role_ref.name),
                "Role" => {
                    if roles.is_none() {
                        roles = Some(self.load("roles", Some(namespace)).await);
                    }
                    roles
                        .iter()
                        .flatten()
                        .find(|r| r.metadata.name == b.role_ref.name)
                        .map(|r| r.rules.clone())
                        .unwrap_or_default()
                }
                _ => Vec::new(),
            };
            grants.push(Grant {
                describe: format!(
                    "RoleBinding {:?} of {} {:?}",
                    format!("{}/{}", b.metadata.namespace, b.metadata.name),
                    b.role_ref.kind,
                    b.role_ref.name
                ),
                rules,
            });
        }
        grants
    }

    /// Whether `user` may do `attrs`. Members of `system:masters` may do everything, as with
    /// kube-apiserver's privileged-group authorizer in front of RBAC.
    pub async fn authorize(&self, user: &UserInfo, attrs: &Attributes) -> Decision {
        if user.is_privileged() {
            return Decision {
                allowed: true,
                reason: format!("{:?} is a member of system:masters", user.name),
            };
        }
        let namespace = match attrs {
            Attributes::Resource(a) => a.namespace.as_str(),
            Attributes::NonResource { .. } => "",
        };
        for grant in self.grants(user, namespace).await {
            if grant.rules.iter().any(|r| r.allows(attrs)) {
                return Decision {
                    allowed: true,
                    reason: format!("RBAC: allowed by {} to {:?}", grant.describe, user.name),
                };
            }
        }
        Decision {
            allowed: false,
            reason: String::new(),
        }
    }

    /// Every rule that applies to `user` in `namespace`, as a SelfSubjectRulesReview lists them.
    pub async fn rules(&self, user: &UserInfo, namespace: &str) -> Vec<PolicyRule> {
        self.grants(user, namespace)
            .await
            .into_iter()
            .flat_map(|g| g.rules)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(verbs: &[&str], groups: &[&str], resources: &[&str], names: &[&str]) -> PolicyRule {
        let v = |xs: &[&str]| xs.iter().map(|s| s.to_string()).collect();
        PolicyRule {
            verbs: v(verbs),
            api_groups: v(groups),
            resources: v(resources),
            resource_names: v(names),
            non_resource_urls: Vec::new(),
        }
    }

    fn attrs(verb: &str, group: &str, resource: &str, sub: &str, name: &str) -> Attributes {
        Attributes::Resource(ResourceAttributes {
            verb: verb.into(),
            group: group.into(),
            resource: resource.into(),
            subresource: sub.into(),
            name: name.into(),
            namespace: "ns".into(),
            version: "v1".into(),
        })
    }

    #[test]
    fn rules_match_like_rbac() {
        let r = rule(&["get", "list"], &[""], &["configmaps"], &[]);
        assert!(r.allows(&attrs("get", "", "configmaps", "", "a")));
        assert!(!r.allows(&attrs("delete", "", "configmaps", "", "a")));
        assert!(!r.allows(&attrs("get", "apps", "configmaps", "", "a")));
        assert!(!r.allows(&attrs("get", "", "configmaps", "status", "a")));
        let r = rule(&["*"], &["*"], &["*"], &[]);
        assert!(r.allows(&attrs("escalate", "x", "y", "z", "")));
        let r = rule(
            &["update"],
            &["apps"],
            &["*/scale", "deployments/status"],
            &[],
        );
        assert!(r.allows(&attrs("update", "apps", "replicasets", "scale", "r")));
        assert!(r.allows(&attrs("update", "apps", "deployments", "status", "d")));
        assert!(!r.allows(&attrs("update", "apps", "deployments", "", "d")));
        let r = rule(&["get"], &[""], &["secrets"], &["only"]);
        assert!(r.allows(&attrs("get", "", "secrets", "", "only")));
        assert!(!r.allows(&attrs("get", "", "secrets", "", "other")));
        assert!(!r.allows(&attrs("list", "", "secrets", "", "")));
        let urls = PolicyRule {
            verbs: vec!["get".into()],
            non_resource_urls: vec!["/healthz".into(), "/apis/*".into()],
            ..PolicyRule::default()
        };
        let path = |p: &str| Attributes::NonResource {
            verb: "get".into(),
            path: p.into(),
        };
        assert!(urls.allows(&path("/healthz")));
        assert!(urls.allows(&path("/apis/apps/v1")));
        assert!(!urls.allows(&path("/api/v1")));
        assert!(!urls.allows(&attrs("get", "", "healthz", "", "")));
    }

    #[test]
    fn subjects_match_users_groups_and_service_accounts() {
        let sa = UserInfo::new("system:serviceaccount:ns:builder", vec![]);
        let subject = |kind: &str, name: &str, ns: &str| Subject {
            kind: kind.into(),
            name: name.into(),
            namespace: ns.into(),
        };
        assert!(subject("ServiceAccount", "builder", "ns").is(&sa, ""));
        assert!(subject("ServiceAccount", "builder", "").is(&sa, "ns"));
        assert!(!subject("ServiceAccount", "builder", "").is(&sa, "other"));
        assert!(subject("Group", "system:serviceaccounts:ns", "").is(&sa, ""));
        assert!(subject("Group", "system:authenticated", "").is(&sa, ""));
        assert!(!subject("User", "builder", "").is(&sa, ""));
        assert!(subject("User", "system:serviceaccount:ns:builder", "").is(&sa, ""));
    }
}
