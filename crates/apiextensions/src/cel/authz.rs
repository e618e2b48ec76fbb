//! kube-apiserver's CEL authorization library (`k8s.io/apiserver/pkg/cel/library/authz.go`):
//! the `authorizer` variable of ValidatingAdmissionPolicy expressions and admission webhooks'
//! `matchConditions`, with receiver-style checks:
//!
//! - `authorizer.group(g).resource(r)[.subresource(s)][.namespace(n)][.name(x)].check(verb)`,
//! - `authorizer.path(p).check(verb)` (a non-resource URL),
//! - `authorizer.serviceAccount(namespace, name)` (the same checks for that service account),
//! - `authorizer.requestResource.check(verb)` (the request's own resource, namespace and name),
//!
//! each `check` giving a Decision with `allowed()`, `reason()`, `errored()` and `error()`.
//!
//! `authorizer` is a map holding `requestResource` and, under a key no expression names
//! naturally (the integer 0), who asks and how to decide for them: the cel interpreter selects
//! fields of maps only, and calls member functions on any value. The checks are opaque values;
//! deciding is left to the caller's [`Decide`] (the server's RBAC authorizer).

use kube_cel::cel::extractors::{Arguments, This};
use kube_cel::cel::objects::{Key, Opaque};
use kube_cel::cel::{Context, ExecutionError, FunctionContext, Value as Cel};
use std::collections::HashMap;
use std::sync::Arc;

/// What a check asks: a verb on a resource, or on a non-resource path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Check {
    /// A verb on `group`'s `resource` (with subresource, namespace and name, "" when unset).
    Resource {
        /// The verb.
        verb: String,
        /// API group.
        group: String,
        /// Resource plural.
        resource: String,
        /// Subresource.
        subresource: String,
        /// Namespace.
        namespace: String,
        /// Object name.
        name: String,
        /// `fieldSelector(…)` as written ("" when unset): upstream's AuthorizeWithSelectors
        /// hands it to authorizers that look at it; RBAC does not.
        field_selector: String,
        /// `labelSelector(…)` as written ("" when unset), likewise.
        label_selector: String,
    },
    /// A verb on a non-resource URL path.
    Path {
        /// The verb.
        verb: String,
        /// The path.
        path: String,
    },
}

/// An authorizer's answer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Verdict {
    /// Whether it allows.
    pub allowed: bool,
    /// Why.
    pub reason: String,
    /// An error met deciding ("" for none).
    pub error: String,
}

/// Decides a check for a user: `(user name, groups, check)`.
pub type Decide = Arc<dyn Fn(&str, &[String], &Check) -> Verdict + Send + Sync>;

/// Who asks and how to decide for them.
#[derive(Clone)]
struct Authz {
    user: Arc<str>,
    groups: Arc<[String]>,
    decide: Decide,
}

impl std::fmt::Debug for Authz {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Authorizer({})", self.user)
    }
}

impl PartialEq for Authz {
    fn eq(&self, other: &Self) -> bool {
        self.user == other.user
            && self.groups == other.groups
            && Arc::ptr_eq(&self.decide, &other.decide)
    }
}

impl Eq for Authz {}

impl Opaque for Authz {
    fn runtime_type_name(&self) -> &str {
        "kubernetes.authorization.Authorizer"
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct PathCheck {
    authz: Authz,
    path: String,
}

impl Opaque for PathCheck {
    fn runtime_type_name(&self) -> &str {
        "kubernetes.authorization.PathCheck"
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct GroupCheck {
    authz: Authz,
    group: String,
}

impl Opaque for GroupCheck {
    fn runtime_type_name(&self) -> &str {
        "kubernetes.authorization.GroupCheck"
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct ResourceCheck {
    authz: Authz,
    group: String,
    resource: String,
    subresource: String,
    namespace: String,
    name: String,
    field_selector: String,
    label_selector: String,
}

impl Opaque for ResourceCheck {
    fn runtime_type_name(&self) -> &str {
        "kubernetes.authorization.ResourceCheck"
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Decision(Verdict);

impl Opaque for Decision {
    fn runtime_type_name(&self) -> &str {
        "kubernetes.authorization.Decision"
    }
}

/// The request's own resource, for `authorizer.requestResource`.
#[derive(Debug, Clone, Default)]
pub struct RequestResource {
    /// API group.
    pub group: String,
    /// Resource plural.
    pub resource: String,
    /// Subresource ("" for none).
    pub subresource: String,
    /// Namespace ("" for cluster-scoped).
    pub namespace: String,
    /// Object name.
    pub name: String,
}

/// The key the authorizer map keeps who asks under.
const AUTHZ_KEY: Key = Key::Int(0);

fn authorizer_map(authz: Authz, request: Option<&RequestResource>) -> Cel {
    let mut m = HashMap::new();
    if let Some(r) = request {
        m.insert(
            super::values::key("requestResource"),
            Cel::Opaque(Arc::new(ResourceCheck {
                authz: authz.clone(),
                group: r.group.clone(),
                resource: r.resource.clone(),
                subresource: r.subresource.clone(),
                namespace: r.namespace.clone(),
                name: r.name.clone(),
                field_selector: String::new(),
                label_selector: String::new(),
            })),
        );
    }
    m.insert(AUTHZ_KEY, Cel::Opaque(Arc::new(authz)));
    super::values::map(m)
}

/// The `authorizer` variable for `user` (in `groups`) making the request on `request`.
pub fn authorizer(user: &str, groups: &[String], request: &RequestResource, decide: Decide) -> Cel {
    let authz = Authz {
        user: Arc::from(user),
        groups: Arc::from(groups),
        decide,
    };
    authorizer_map(authz, Some(request))
}

/// The library's functions (all called on a receiver): declared in admission expressions
/// only, so that a CRD rule naming one is refused when the CRD is written, as upstream.
pub const FUNCTIONS: &[&str] = &[
    "group",
    "path",
    "serviceAccount",
    "resource",
    "subresource",
    "namespace",
    "name",
    "fieldSelector",
    "labelSelector",
    "check",
    "allowed",
    "reason",
    "errored",
    "error",
];

/// Registers the library's functions on `ctx`.
pub fn register(ctx: &mut Context<'_>) {
    // In the order of `FUNCTIONS`.
    ctx.add_function("group", group);
    ctx.add_function("path", path);
    ctx.add_function("serviceAccount", service_account);
    ctx.add_function("resource", resource);
    ctx.add_function("subresource", subresource);
    ctx.add_function("namespace", namespace);
    ctx.add_function("name", name);
    ctx.add_function("fieldSelector", field_selector);
    ctx.add_function("labelSelector", label_selector);
    ctx.add_function("check", check);
    ctx.add_function("allowed", allowed);
    ctx.add_function("reason", reason);
    ctx.add_function("errored", errored);
    ctx.add_function("error", error);
}

fn no_overload(ftx: &FunctionContext) -> ExecutionError {
    ftx.error("no such overload")
}

fn opaque<T: 'static>(v: &Cel) -> Option<&T> {
    match v {
        Cel::Opaque(o) => o.downcast_ref::<T>(),
        _ => None,
    }
}

/// The authorizer an `authorizer` map holds.
fn authz_of(ftx: &FunctionContext, v: &Cel) -> Result<Authz, ExecutionError> {
    match v {
        Cel::Map(m) => m
            .map
            .get(&AUTHZ_KEY)
            .and_then(opaque::<Authz>)
            .cloned()
            .ok_or_else(|| no_overload(ftx)),
        _ => Err(no_overload(ftx)),
    }
}

/// One string argument.
fn string_arg(ftx: &FunctionContext, args: &[Cel], i: usize) -> Result<String, ExecutionError> {
    match args.get(i) {
        Some(Cel::String(s)) => Ok(s.to_string()),
        _ => Err(no_overload(ftx)),
    }
}

fn group(
    ftx: &FunctionContext,
    This(this): This<Cel>,
    Arguments(args): Arguments,
) -> Result<Cel, ExecutionError> {
    let authz = authz_of(ftx, &this)?;
    let group = string_arg(ftx, &args, 0)?;
    Ok(Cel::Opaque(Arc::new(GroupCheck { authz, group })))
}

fn path(
    ftx: &FunctionContext,
    This(this): This<Cel>,
    Arguments(args): Arguments,
) -> Result<Cel, ExecutionError> {
    let authz = authz_of(ftx, &this)?;
    let path = string_arg(ftx, &args, 0)?;
    Ok(Cel::Opaque(Arc::new(PathCheck { authz, path })))
}

/// `serviceAccount(namespace, name)`: the same authorizer, asking as that service account
/// (`system:serviceaccount:<ns>:<name>` in `system:serviceaccounts` and
/// `system:serviceaccounts:<ns>`).
fn service_account(
    ftx: &FunctionContext,
    This(this): This<Cel>,
    Arguments(args): Arguments,
) -> Result<Cel, ExecutionError> {
    let authz = authz_of(ftx, &this)?;
    let namespace = string_arg(ftx, &args, 0)?;
    let name = string_arg(ftx, &args, 1)?;
    let groups = vec![
        "system:serviceaccounts".to_string(),
        format!("system:serviceaccounts:{namespace}"),
    ];
    Ok(authorizer_map(
        Authz {
            user: Arc::from(format!("system:serviceaccount:{namespace}:{name}")),
            groups: Arc::from(groups),
            decide: authz.decide,
        },
        None,
    ))
}

fn resource(
    ftx: &FunctionContext,
    This(this): This<Cel>,
    Arguments(args): Arguments,
) -> Result<Cel, ExecutionError> {
    let g = opaque::<GroupCheck>(&this).ok_or_else(|| no_overload(ftx))?;
    Ok(Cel::Opaque(Arc::new(ResourceCheck {
        authz: g.authz.clone(),
        group: g.group.clone(),
        resource: string_arg(ftx, &args, 0)?,
        subresource: String::new(),
        namespace: String::new(),
        name: String::new(),
        field_selector: String::new(),
        label_selector: String::new(),
    })))
}

/// A ResourceCheck with one of its fields set.
fn narrowed(
    ftx: &FunctionContext,
    this: &Cel,
    args: &[Cel],
    set: fn(&mut ResourceCheck, String),
) -> Result<Cel, ExecutionError> {
    let mut r = opaque::<ResourceCheck>(this)
        .ok_or_else(|| no_overload(ftx))?
        .clone();
    set(&mut r, string_arg(ftx, args, 0)?);
    Ok(Cel::Opaque(Arc::new(r)))
}

fn subresource(
    ftx: &FunctionContext,
    This(this): This<Cel>,
    Arguments(args): Arguments,
) -> Result<Cel, ExecutionError> {
    narrowed(ftx, &this, &args, |r, v| r.subresource = v)
}

fn namespace(
    ftx: &FunctionContext,
    This(this): This<Cel>,
    Arguments(args): Arguments,
) -> Result<Cel, ExecutionError> {
    narrowed(ftx, &this, &args, |r, v| r.namespace = v)
}

fn name(
    ftx: &FunctionContext,
    This(this): This<Cel>,
    Arguments(args): Arguments,
) -> Result<Cel, ExecutionError> {
    narrowed(ftx, &this, &args, |r, v| r.name = v)
}

/// `fieldSelector(s)` (kube-apiserver 1.31+, AuthorizeWithSelectors): the check limited to the
/// objects `s` selects; not parsed here (upstream hands a parse error to the authorizer, and
/// the expression does not fail).
fn field_selector(
    ftx: &FunctionContext,
    This(this): This<Cel>,
    Arguments(args): Arguments,
) -> Result<Cel, ExecutionError> {
    narrowed(ftx, &this, &args, |r, v| r.field_selector = v)
}

/// `labelSelector(s)`, as [`field_selector`].
fn label_selector(
    ftx: &FunctionContext,
    This(this): This<Cel>,
    Arguments(args): Arguments,
) -> Result<Cel, ExecutionError> {
    narrowed(ftx, &this, &args, |r, v| r.label_selector = v)
}

fn check(
    ftx: &FunctionContext,
    This(this): This<Cel>,
    Arguments(args): Arguments,
) -> Result<Cel, ExecutionError> {
    let verb = string_arg(ftx, &args, 0)?;
    let (authz, asked) = if let Some(r) = opaque::<ResourceCheck>(&this) {
        (
            &r.authz,
            Check::Resource {
                verb,
                group: r.group.clone(),
                resource: r.resource.clone(),
                subresource: r.subresource.clone(),
                namespace: r.namespace.clone(),
                name: r.name.clone(),
                field_selector: r.field_selector.clone(),
                label_selector: r.label_selector.clone(),
            },
        )
    } else if let Some(p) = opaque::<PathCheck>(&this) {
        (
            &p.authz,
            Check::Path {
                verb,
                path: p.path.clone(),
            },
        )
    } else {
        return Err(no_overload(ftx));
    };
    let verdict = (authz.decide)(&authz.user, &authz.groups, &asked);
    Ok(Cel::Opaque(Arc::new(Decision(verdict))))
}

fn decision<'a>(ftx: &FunctionContext, this: &'a Cel) -> Result<&'a Verdict, ExecutionError> {
    opaque::<Decision>(this)
        .map(|d| &d.0)
        .ok_or_else(|| no_overload(ftx))
}

fn allowed(ftx: &FunctionContext, This(this): This<Cel>) -> Result<Cel, ExecutionError> {
    Ok(Cel::Bool(decision(ftx, &this)?.allowed))
}

fn reason(ftx: &FunctionContext, This(this): This<Cel>) -> Result<Cel, ExecutionError> {
    Ok(Cel::String(Arc::new(decision(ftx, &this)?.reason.clone())))
}

fn errored(ftx: &FunctionContext, This(this): This<Cel>) -> Result<Cel, ExecutionError> {
    Ok(Cel::Bool(!decision(ftx, &this)?.error.is_empty()))
}

fn error(ftx: &FunctionContext, This(this): This<Cel>) -> Result<Cel, ExecutionError> {
    Ok(Cel::String(Arc::new(decision(ftx, &this)?.error.clone())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cel::expression::Expression;

    /// Allows `get` on pods in `x` and on `/healthz`, to `alice` only; says what it was asked.
    fn decide() -> Decide {
        Arc::new(|user: &str, groups: &[String], check: &Check| {
            let allowed = match check {
                Check::Resource {
                    verb,
                    group,
                    resource,
                    namespace,
                    ..
                } => {
                    user == "alice"
                        && verb == "get"
                        && group.is_empty()
                        && resource == "pods"
                        && namespace == "x"
                }
                Check::Path { verb, path } => verb == "get" && path == "/healthz",
            };
            Verdict {
                allowed,
                reason: format!("{user} {groups:?} {check:?}"),
                error: String::new(),
            }
        })
    }

    fn eval(src: &str, user: &str) -> Cel {
        let request = RequestResource {
            group: String::new(),
            resource: "pods".into(),
            subresource: String::new(),
            namespace: "x".into(),
            name: "web".into(),
        };
        let value = authorizer(user, &["g".to_string()], &request, decide());
        Expression::compile(src)
            .unwrap()
            .evaluate_cel(&[("authorizer", value)])
            .unwrap()
    }

    #[test]
    fn checks_build_and_decide() {
        let yes = |src| assert_eq!(eval(src, "alice"), Cel::Bool(true), "{src}");
        let no = |src| assert_eq!(eval(src, "alice"), Cel::Bool(false), "{src}");
        yes("authorizer.group('').resource('pods').namespace('x').check('get').allowed()");
        no("authorizer.group('').resource('pods').namespace('y').check('get').allowed()");
        no("authorizer.group('apps').resource('pods').namespace('x').check('get').allowed()");
        yes("authorizer.requestResource.check('get').allowed()");
        no("authorizer.requestResource.check('delete').allowed()");
        yes("authorizer.path('/healthz').check('get').allowed()");
        no(
            "authorizer.serviceAccount('x', 'robot').group('').resource('pods').namespace('x').check('get').allowed()",
        );
        no("authorizer.requestResource.check('get').errored()");
        assert_eq!(
            eval("authorizer.group('').resource('pods').subresource('log').namespace('x').name('web').check('get').reason()", "bob"),
            Cel::String(Arc::new(
                r#"bob ["g"] Resource { verb: "get", group: "", resource: "pods", subresource: "log", namespace: "x", name: "web", field_selector: "", label_selector: "" }"#.into()
            ))
        );
        assert_eq!(
            eval("authorizer.serviceAccount('x', 'robot').path('/metrics').check('get').reason()", "alice"),
            Cel::String(Arc::new(
                r#"system:serviceaccount:x:robot ["system:serviceaccounts", "system:serviceaccounts:x"] Path { verb: "get", path: "/metrics" }"#.into()
            ))
        );
    }

    #[test]
    fn selectors_narrow_a_resource_check_and_reach_the_authorizer() {
        // RBAC (this decide) ignores them: the same answer with or without.
        assert_eq!(
            eval(
                "authorizer.group('').resource('pods').namespace('x').fieldSelector('spec.nodeName=n1').labelSelector('app=web').check('get').allowed()",
                "alice"
            ),
            Cel::Bool(true)
        );
        assert_eq!(
            eval("authorizer.group('').resource('pods').labelSelector('app in (a').check('list').reason()", "bob"),
            Cel::String(Arc::new(
                r#"bob ["g"] Resource { verb: "list", group: "", resource: "pods", subresource: "", namespace: "", name: "", field_selector: "", label_selector: "app in (a" }"#.into()
            ))
        );
        assert_eq!(
            eval(
                "authorizer.requestResource.fieldSelector('metadata.name=web').check('get').allowed()",
                "alice"
            ),
            Cel::Bool(true)
        );
    }
}
