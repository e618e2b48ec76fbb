//! RBAC decisions, as kube-apiserver's RBAC authorizer makes them: the rules of every Role and
//! ClusterRole bound to a user (ClusterRoleBindings, then the RoleBindings of the request's
//! namespace) are visited until one allows the request, with upstream's matching: `*` for
//! verbs, groups, resources and URLs, `*/subresource`, resourceNames, URL prefixes ending in
//! `*`, subjects of kind User, Group and ServiceAccount. The rules read are the stored ones:
//! aggregated ClusterRoles get theirs from the aggregation controller, as upstream.
//!
//! [`Policy`] is the indexed state the decisions read (bindings by subject, roles by name); the
//! [`super::cache`] keeps one current from the store's change stream.

use super::attributes::{Attributes, ResourceAttributes};
use super::user::UserInfo;
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

/// The RBAC API group.
pub const GROUP: &str = "rbac.authorization.k8s.io";

/// The answer to one authorization question.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    /// Whether the request is allowed.
    pub allowed: bool,
    /// Why: for allowed requests which binding allowed it; for refused ones the errors met
    /// resolving the user's bindings (a missing role), as upstream's authorizer reports them.
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
    /// Whether this rule allows `attrs` (`RuleAllows` upstream).
    pub fn allows(&self, attrs: &Attributes) -> bool {
        match attrs {
            Attributes::Resource(a) => self.allows_resource(a),
            Attributes::NonResource { verb, path } => {
                has(&self.verbs, verb)
                    && self.non_resource_urls.iter().any(|u| {
                        u == "*"
                            || u == path
                            || (u.ends_with('*') && path.starts_with(u.trim_end_matches('*')))
                    })
            }
        }
    }

    fn allows_resource(&self, a: &ResourceAttributes) -> bool {
        if !has(&self.verbs, &a.verb) || !has(&self.api_groups, &a.group) {
            return false;
        }
        let resource = self.resources.iter().any(|r| {
            if r == "*" {
                return true;
            }
            if a.subresource.is_empty() {
                return *r == a.resource;
            }
            // `resource/subresource`, or `*/subresource`.
            match r.split_once('/') {
                Some((res, sub)) => sub == a.subresource && (res == a.resource || res == "*"),
                None => false,
            }
        });
        resource && (self.resource_names.is_empty() || self.resource_names.contains(&a.name))
    }
}

/// A reference from a binding to a subject.
#[derive(Clone, Debug, Default, serde::Deserialize)]
#[serde(default)]
pub(crate) struct Subject {
    pub(crate) kind: String,
    pub(crate) name: String,
    pub(crate) namespace: String,
}

/// How a subject is looked up: by the user name it matches, or by group.
enum SubjectKey {
    User(String),
    Group(String),
}

impl Subject {
    /// Whether the subject is `user`; a ServiceAccount without a namespace is in the binding's.
    pub(crate) fn is(&self, user: &UserInfo, binding_namespace: &str) -> bool {
        match self.key(binding_namespace) {
            Some(SubjectKey::User(name)) => name == user.name,
            Some(SubjectKey::Group(group)) => user.groups.contains(&group),
            None => false,
        }
    }

    fn key(&self, binding_namespace: &str) -> Option<SubjectKey> {
        match self.kind.as_str() {
            "User" => Some(SubjectKey::User(self.name.clone())),
            "Group" => Some(SubjectKey::Group(self.name.clone())),
            "ServiceAccount" => {
                let ns = if self.namespace.is_empty() {
                    binding_namespace
                } else {
                    &self.namespace
                };
                (!ns.is_empty()).then(|| {
                    SubjectKey::User(format!(
                        "{}{ns}:{}",
                        super::user::SERVICE_ACCOUNT_PREFIX,
                        self.name
                    ))
                })
            }
            _ => None,
        }
    }

    /// `User "alice"`, `ServiceAccount "name/namespace"`, as upstream describes a subject.
    fn describe(&self, binding_namespace: &str) -> String {
        if self.kind == "ServiceAccount" {
            let ns = if self.namespace.is_empty() {
                binding_namespace
            } else {
                &self.namespace
            };
            format!("{} {:?}", self.kind, format!("{}/{ns}", self.name))
        } else {
            format!("{} {:?}", self.kind, self.name)
        }
    }
}

/// The role a binding grants.
#[derive(Clone, Debug, Default, serde::Deserialize)]
#[serde(default)]
pub(crate) struct RoleRef {
    pub(crate) kind: String,
    pub(crate) name: String,
}

/// A RoleBinding or ClusterRoleBinding, as far as authorization reads it.
#[derive(Clone, Debug, Default, serde::Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct Binding {
    pub(crate) metadata: Meta,
    pub(crate) subjects: Vec<Subject>,
    pub(crate) role_ref: RoleRef,
}

/// The metadata authorization reads.
#[derive(Clone, Debug, Default, serde::Deserialize)]
#[serde(default)]
pub(crate) struct Meta {
    pub(crate) name: String,
    pub(crate) namespace: String,
}

/// A Role or ClusterRole, as far as authorization reads it.
#[derive(Clone, Debug, Default, serde::Deserialize)]
#[serde(default)]
pub(crate) struct Role {
    pub(crate) rules: Vec<PolicyRule>,
}

/// The bindings of one scope (the cluster, or one namespace), indexed by subject.
#[derive(Default)]
struct Bindings {
    by_name: HashMap<String, Arc<Binding>>,
    by_user: HashMap<String, BTreeSet<String>>,
    by_group: HashMap<String, BTreeSet<String>>,
}

impl Bindings {
    fn index(&mut self, name: &str, binding: &Binding, add: bool) {
        for subject in &binding.subjects {
            let (map, key) = match subject.key(&binding.metadata.namespace) {
                Some(SubjectKey::User(u)) => (&mut self.by_user, u),
                Some(SubjectKey::Group(g)) => (&mut self.by_group, g),
                None => continue,
            };
            if add {
                map.entry(key).or_default().insert(name.to_string());
            } else if let Some(set) = map.get_mut(&key) {
                set.remove(name);
                if set.is_empty() {
                    map.remove(&key);
                }
            }
        }
    }

    fn remove(&mut self, name: &str) {
        if let Some(old) = self.by_name.remove(name) {
            self.index(name, &old, false);
        }
    }

    fn insert(&mut self, binding: Binding) {
        let name = binding.metadata.name.clone();
        self.remove(&name);
        self.index(&name, &binding, true);
        self.by_name.insert(name, Arc::new(binding));
    }

    /// The bindings with a subject that is `user`, in name order.
    fn of(&self, user: &UserInfo) -> Vec<&Binding> {
        let mut names: Vec<&String> = Vec::new();
        if let Some(set) = self.by_user.get(&user.name) {
            names.extend(set);
        }
        for group in &user.groups {
            if let Some(set) = self.by_group.get(group) {
                names.extend(set);
            }
        }
        names.sort_unstable();
        names.dedup();
        names
            .into_iter()
            .filter_map(|n| self.by_name.get(n).map(|b| &**b))
            .collect()
    }
}

/// Which kind of RBAC object a change is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `roles`.
    Role,
    /// `clusterroles`.
    ClusterRole,
    /// `rolebindings`.
    RoleBinding,
    /// `clusterrolebindings`.
    ClusterRoleBinding,
}

impl Kind {
    /// Every kind, with its resource plural.
    pub const ALL: [(Kind, &'static str); 4] = [
        (Kind::Role, "roles"),
        (Kind::ClusterRole, "clusterroles"),
        (Kind::RoleBinding, "rolebindings"),
        (Kind::ClusterRoleBinding, "clusterrolebindings"),
    ];
}

/// The RBAC objects of a cluster, indexed for decisions: roles by name, bindings by the
/// subjects they name, so that a decision looks at the user's own bindings only.
#[derive(Default)]
pub struct Policy {
    cluster_roles: HashMap<String, Arc<[PolicyRule]>>,
    roles: HashMap<String, HashMap<String, Arc<[PolicyRule]>>>,
    cluster_bindings: Bindings,
    bindings: HashMap<String, Bindings>,
}

/// What granted a rule: `ClusterRoleBinding "b" of ClusterRole "r" to User "u"`.
fn describe(binding: &Binding, subject: &Subject) -> String {
    let ns = &binding.metadata.namespace;
    let (kind, name) = if ns.is_empty() {
        ("ClusterRoleBinding", binding.metadata.name.clone())
    } else {
        ("RoleBinding", format!("{}/{ns}", binding.metadata.name))
    };
    format!(
        "{kind} {name:?} of {} {:?} to {}",
        binding.role_ref.kind,
        binding.role_ref.name,
        subject.describe(ns)
    )
}

/// Go's `utilerrors.NewAggregate(errs).Error()`: one message, or `[a, b]` without repeats.
pub(crate) fn aggregate(errors: &[String]) -> String {
    let mut seen: Vec<&String> = Vec::new();
    for e in errors {
        if !seen.contains(&e) {
            seen.push(e);
        }
    }
    let joined = seen
        .iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    if seen.len() == 1 {
        joined
    } else {
        format!("[{joined}]")
    }
}

impl Policy {
    /// Records the current state of one object (`None`: it is gone). Unreadable objects count
    /// as gone.
    pub fn apply(&mut self, kind: Kind, namespace: &str, name: &str, json: Option<&[u8]>) {
        match kind {
            Kind::ClusterRole => match json.and_then(|j| serde_json::from_slice::<Role>(j).ok()) {
                Some(role) => {
                    self.cluster_roles.insert(name.into(), role.rules.into());
                }
                None => {
                    self.cluster_roles.remove(name);
                }
            },
            Kind::Role => match json.and_then(|j| serde_json::from_slice::<Role>(j).ok()) {
                Some(role) => {
                    self.roles
                        .entry(namespace.into())
                        .or_default()
                        .insert(name.into(), role.rules.into());
                }
                None => {
                    if let Some(roles) = self.roles.get_mut(namespace) {
                        roles.remove(name);
                        if roles.is_empty() {
                            self.roles.remove(namespace);
                        }
                    }
                }
            },
            Kind::ClusterRoleBinding | Kind::RoleBinding => {
                let scope = if kind == Kind::ClusterRoleBinding {
                    &mut self.cluster_bindings
                } else {
                    self.bindings.entry(namespace.into()).or_default()
                };
                match json.and_then(|j| serde_json::from_slice::<Binding>(j).ok()) {
                    Some(mut binding) => {
                        binding.metadata.namespace = namespace.into();
                        binding.metadata.name = name.into();
                        scope.insert(binding);
                    }
                    None => scope.remove(name),
                }
            }
        }
    }

    /// The rules of the role `kind`/`name` a binding in `namespace` ("" for a
    /// ClusterRoleBinding) refers to, or upstream's error when it cannot be resolved.
    pub fn role_rules(
        &self,
        kind: &str,
        name: &str,
        namespace: &str,
    ) -> Result<Arc<[PolicyRule]>, String> {
        match kind {
            "ClusterRole" => self
                .cluster_roles
                .get(name)
                .cloned()
                .ok_or_else(|| format!("clusterrole.{GROUP} {name:?} not found")),
            "Role" => self
                .roles
                .get(namespace)
                .and_then(|roles| roles.get(name))
                .cloned()
                .ok_or_else(|| format!("role.{GROUP} {name:?} not found")),
            other => Err(format!("unsupported role reference kind: {other:?}")),
        }
    }

    /// Visits every rule that applies to `user` in `namespace` ("" for cluster scope) with a
    /// description of what granted it, until `visit` returns false; unresolvable role
    /// references go to `errors` (`VisitRulesFor` upstream).
    fn visit(
        &self,
        user: &UserInfo,
        namespace: &str,
        errors: &mut Vec<String>,
        mut visit: impl FnMut(&Binding, &Subject, &PolicyRule) -> bool,
    ) {
        let scopes = std::iter::once(&self.cluster_bindings).chain(
            (!namespace.is_empty())
                .then(|| self.bindings.get(namespace))
                .flatten(),
        );
        for scope in scopes {
            for binding in scope.of(user) {
                let ns = &binding.metadata.namespace;
                let Some(subject) = binding.subjects.iter().find(|s| s.is(user, ns)) else {
                    continue;
                };
                match self.role_rules(&binding.role_ref.kind, &binding.role_ref.name, ns) {
                    Ok(rules) => {
                        for rule in rules.iter() {
                            if !visit(binding, subject, rule) {
                                return;
                            }
                        }
                    }
                    Err(e) => errors.push(e),
                }
            }
        }
    }

    /// Whether `user` may do `attrs`. Members of `system:masters` may do everything, as with
    /// kube-apiserver's privileged-group authorizer in front of RBAC (which gives no reason).
    pub fn authorize(&self, user: &UserInfo, attrs: &Attributes) -> Decision {
        if user.is_privileged() {
            return Decision {
                allowed: true,
                reason: String::new(),
            };
        }
        let namespace = match attrs {
            Attributes::Resource(a) => a.namespace.as_str(),
            Attributes::NonResource { .. } => "",
        };
        let mut errors = Vec::new();
        let mut allowed_by = None;
        self.visit(user, namespace, &mut errors, |binding, subject, rule| {
            if rule.allows(attrs) {
                allowed_by = Some(describe(binding, subject));
                return false;
            }
            true
        });
        match allowed_by {
            Some(by) => Decision {
                allowed: true,
                reason: format!("RBAC: allowed by {by}"),
            },
            None if errors.is_empty() => Decision {
                allowed: false,
                reason: String::new(),
            },
            None => Decision {
                allowed: false,
                reason: format!("RBAC: {}", aggregate(&errors)),
            },
        }
    }

    /// Every rule that applies to `user` in `namespace`, and the errors met resolving them
    /// (`RulesFor` upstream), as a SelfSubjectRulesReview and the escalation check read them.
    pub fn rules_for(&self, user: &UserInfo, namespace: &str) -> (Vec<PolicyRule>, Vec<String>) {
        let mut errors = Vec::new();
        let mut rules = Vec::new();
        self.visit(user, namespace, &mut errors, |_, _, rule| {
            rules.push(rule.clone());
            true
        });
        (rules, errors)
    }

    /// How many bindings the policy holds (cluster-wide and in every namespace).
    pub fn binding_count(&self) -> usize {
        self.cluster_bindings.by_name.len()
            + self
                .bindings
                .values()
                .map(|b| b.by_name.len())
                .sum::<usize>()
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
