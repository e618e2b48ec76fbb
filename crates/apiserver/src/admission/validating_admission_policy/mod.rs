//! ValidatingAdmissionPolicy (admissionregistration.k8s.io/v1, kube-apiserver's plugin of that
//! name): CEL validations a binding applies to the requests its policy's `matchConstraints` (and
//! the binding's `matchResources`) pick, after the validating plugins and before the validating
//! webhooks.
//!
//! Policies and bindings are cached and compiled once per change (their change stream moves the
//! cache, as the webhooks'); a request only matches and evaluates. For each binding of an
//! existing policy that matches: the params (`paramKind` with `paramRef` by name or selector, in
//! the paramRef's namespace or the request's; none found denies or allows as
//! `parameterNotFoundAction` says), the policy's `matchConditions`, then its `variables` (as
//! `variables.<name>`), `validations` and `auditAnnotations` over `object`, `oldObject`,
//! `request`, `params`, `namespaceObject` (each converted to CEL once per request). A failed
//! validation says its `message`, or its `messageExpression`'s result, or `failed expression:
//! <expression>`, and is enforced by the binding's `validationActions`: Deny refuses
//! (`<resource> "<name>" is forbidden: ValidatingAdmissionPolicy '<p>' with binding '<b>' denied
//! request: <message>`, with the validation's `reason`, Invalid (422) by default), Warn sends
//! `Validation failed for ValidatingAdmissionPolicy '<p>' with binding '<b>': <message>`, Audit
//! records the `validation.policy.admission.k8s.io/validation_failure` audit annotation. An
//! `auditAnnotations` value (a non-empty string; null and "" are skipped) is recorded as
//! `<policy>/<key>`, distinct values of several bindings joined with ", ". An expression that
//! errors is a failure under `failurePolicy: Fail` (the default) and is ignored under `Ignore`.
//! As upstream, every policy is evaluated before the first refusal answers.
//!
//! A policy matched through an equivalent resource (`matchPolicy: Equivalent`, a rule naming
//! another version or group of the request's resource) sees the objects converted to it and a
//! `request` whose `kind`/`resource` name it, as upstream's `VersionedAttributes`.
//!
//! `authorizer` checks what the request's user may do with the server's RBAC authorizer
//! (`crd::schema::cel::authz`), on the roles and bindings as the RBAC cache holds them once
//! brought up to date for the request.
//!
//! [`type_checking`] writes `status.typeChecking`.

pub mod declarations;
pub mod type_checking;

use super::webhook::{MatchPolicy, predicates, rules};
use super::{Effects, Request};
use crate::crd::schema::cel::expression::Activation;
use crate::crd::schema::cel::expression::{self, Expression};
use crate::rest::Rest;
use crate::selector::LabelSelector;
use crate::status::{ApiError, FieldCause};
use k8s_openapi::api::admissionregistration::v1::{
    MatchResources, NamedRuleWithOperations, RuleWithOperations, ValidatingAdmissionPolicy,
    ValidatingAdmissionPolicyBinding,
};
use kube_cel::cel::Value as Cel;
use serde_json::{Value, json};
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

const GROUP: &str = "admissionregistration.k8s.io";

/// What requests a policy or binding picks, compiled.
#[derive(Debug, Default)]
struct Matcher {
    rules: Vec<(RuleWithOperations, Vec<String>)>,
    excluded: Vec<(RuleWithOperations, Vec<String>)>,
    policy: Option<MatchPolicy>,
    namespace_selector: Option<LabelSelector>,
    object_selector: Option<LabelSelector>,
    /// Whether no `resourceRules` means every resource (a binding's `matchResources`).
    any_resource: bool,
}

fn named_rules(
    rules: Option<Vec<NamedRuleWithOperations>>,
) -> Vec<(RuleWithOperations, Vec<String>)> {
    rules
        .unwrap_or_default()
        .into_iter()
        .map(|r| {
            (
                RuleWithOperations {
                    api_groups: r.api_groups,
                    api_versions: r.api_versions,
                    operations: r.operations,
                    resources: r.resources,
                    scope: r.scope,
                },
                r.resource_names.unwrap_or_default(),
            )
        })
        .collect()
}

fn selector(
    s: Option<k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector>,
) -> Option<LabelSelector> {
    s.and_then(|s| serde_json::to_value(s).ok())
        .and_then(|v| LabelSelector::from_object(&v))
}

impl Matcher {
    fn compile(m: Option<MatchResources>, any_resource: bool) -> Option<Matcher> {
        let m = m?;
        Some(Matcher {
            rules: named_rules(m.resource_rules),
            excluded: named_rules(m.exclude_resource_rules),
            policy: Some(if m.match_policy.as_deref() == Some("Exact") {
                MatchPolicy::Exact
            } else {
                MatchPolicy::Equivalent
            }),
            namespace_selector: selector(m.namespace_selector),
            object_selector: selector(m.object_selector),
            any_resource,
        })
    }

    /// The resource the request is matched as (upstream's `DefinitionMatches`: a rule naming
    /// the request's own resource first, then, under Equivalent, one naming an equivalent
    /// resource), if the rules, exclusions and selectors pick it.
    fn picks(
        &self,
        rest: &Rest,
        request: &Request<'_>,
        obj: Option<&Value>,
        equivalents: &rules::Equivalents<'_>,
    ) -> Option<rules::Matched> {
        let policy = self.policy.unwrap_or(MatchPolicy::Equivalent);
        let named =
            |names: &Vec<String>| names.is_empty() || names.iter().any(|n| n == request.name);
        let hit = |list: &[(RuleWithOperations, Vec<String>)]| -> Option<rules::Matched> {
            let exact = list.iter().any(|(rule, names)| {
                named(names)
                    && rules::pick(
                        std::slice::from_ref(rule),
                        MatchPolicy::Exact,
                        request,
                        equivalents,
                    )
                    .is_some()
            });
            if exact {
                return Some(rules::Matched::Own);
            }
            if policy == MatchPolicy::Exact {
                return None;
            }
            list.iter().find_map(|(rule, names)| {
                named(names)
                    .then(|| rules::pick(std::slice::from_ref(rule), policy, request, equivalents))
                    .flatten()
            })
        };
        // A binding's matchResources without rules narrows nothing by resource.
        let matched = match hit(&self.rules) {
            Some(m) => m,
            None if self.rules.is_empty() && self.any_resource => rules::Matched::Own,
            None => return None,
        };
        (hit(&self.excluded).is_none()
            && predicates::namespace_matches(rest, self.namespace_selector.as_ref(), request, obj)
            && predicates::object_matches(self.object_selector.as_ref(), request, obj))
        .then_some(matched)
    }
}

/// One validation, compiled.
#[derive(Debug)]
struct Validation {
    expression: String,
    program: Result<Expression, String>,
    message: String,
    message_expression: Option<Result<Expression, String>>,
    reason: Option<String>,
}

/// One `auditAnnotations` entry, compiled.
#[derive(Debug)]
struct AuditAnnotation {
    key: String,
    value_expression: String,
    program: Result<Expression, String>,
}

/// A policy, compiled.
#[derive(Debug)]
struct Policy {
    name: String,
    /// The policy's uid and `metadata.generation` when it was compiled: a policy whose spec
    /// did not change since is not compiled again.
    generation: (String, i64),
    matcher: Matcher,
    param_kind: Option<(String, String)>,
    match_conditions: Vec<(String, Result<Expression, String>)>,
    variables: Vec<(String, Result<Expression, String>)>,
    validations: Vec<Validation>,
    audit_annotations: Vec<AuditAnnotation>,
    ignore_failures: bool,
    /// The request variables (of [`REQUEST_VARIABLES`]) its expressions may name: only those
    /// are converted and bound.
    needs: Vec<&'static str>,
}

/// The variables a request gives every policy expression (besides `variables`).
const REQUEST_VARIABLES: [&str; 6] = [
    "object",
    "oldObject",
    "request",
    "params",
    "namespaceObject",
    "authorizer",
];

impl Policy {
    /// Every compiled expression of the policy.
    fn expressions(&self) -> impl Iterator<Item = &Expression> {
        let named = self
            .match_conditions
            .iter()
            .chain(&self.variables)
            .filter_map(|(_, e)| e.as_ref().ok());
        let validations = self.validations.iter().flat_map(|v| {
            v.program
                .as_ref()
                .ok()
                .into_iter()
                .chain(v.message_expression.as_ref().and_then(|m| m.as_ref().ok()))
        });
        let annotations = self
            .audit_annotations
            .iter()
            .filter_map(|a| a.program.as_ref().ok());
        named.chain(validations).chain(annotations)
    }

    /// Sets [`Policy::needs`] from its expressions.
    fn with_needs(mut self) -> Self {
        self.needs = REQUEST_VARIABLES
            .into_iter()
            .filter(|name| self.expressions().any(|e| e.mentions(name)))
            .collect();
        self
    }
}

/// A binding, as dispatch needs it.
#[derive(Debug)]
struct Binding {
    name: String,
    policy: String,
    param_ref: Option<k8s_openapi::api::admissionregistration::v1::ParamRef>,
    matcher: Option<Matcher>,
    actions: Vec<String>,
}

/// The compiled policies and bindings.
#[derive(Debug, Default)]
pub struct Snapshot {
    policies: BTreeMap<String, Arc<Policy>>,
    bindings: Vec<Binding>,
}

/// The cache of policies and bindings (see [`run`]).
#[derive(Debug, Default)]
pub struct Policies {
    current: RwLock<Arc<Snapshot>>,
}

impl Policies {
    fn snapshot(&self) -> Arc<Snapshot> {
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Whether a bound policy's expressions name `authorizer` (then the RBAC cache is brought
    /// up to date before a request is validated).
    pub fn need_authorizer(&self) -> bool {
        let snapshot = self.snapshot();
        snapshot.bindings.iter().any(|b| {
            snapshot
                .policies
                .get(&b.policy)
                .is_some_and(|p| p.needs.contains(&"authorizer"))
        })
    }

    /// Rebuilds the cache from the store.
    pub fn refresh(&self, rest: &Rest) {
        let snapshot = Arc::new(load(rest, &self.snapshot()));
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = snapshot;
    }
}

fn compile_all(list: Vec<(String, String)>) -> Vec<(String, Result<Expression, String>)> {
    list.into_iter()
        .map(|(name, src)| {
            let program = Expression::compile(&src);
            (name, program.map_err(|e| format!("{src}: {e}")))
        })
        .collect()
}

/// Reads the stored policies and bindings; the policies of `previous` whose generation is
/// current are kept as they were compiled.
fn load(rest: &Rest, previous: &Snapshot) -> Snapshot {
    let catalog = rest.catalog.snapshot();
    let mut snapshot = Snapshot::default();
    if let Some(rt) = catalog.find(GROUP, "v1", "validatingadmissionpolicies") {
        for stored in rest.store.current(&rt.storage_key) {
            let Ok(p) = serde_json::from_slice::<ValidatingAdmissionPolicy>(&stored.json) else {
                continue;
            };
            let name = p.metadata.name.unwrap_or_default();
            let generation = (
                p.metadata.uid.unwrap_or_default(),
                p.metadata.generation.unwrap_or_default(),
            );
            if let Some(compiled) = previous
                .policies
                .get(&name)
                .filter(|c| c.generation == generation)
            {
                snapshot.policies.insert(name, compiled.clone());
                continue;
            }
            let Some(spec) = p.spec else { continue };
            let policy = Policy {
                name: name.clone(),
                generation,
                matcher: Matcher::compile(spec.match_constraints, false).unwrap_or_default(),
                param_kind: spec.param_kind.map(|k| {
                    (
                        k.api_version.unwrap_or_default(),
                        k.kind.unwrap_or_default(),
                    )
                }),
                match_conditions: compile_all(
                    spec.match_conditions
                        .unwrap_or_default()
                        .into_iter()
                        .map(|c| (c.name, c.expression))
                        .collect(),
                ),
                variables: compile_all(
                    spec.variables
                        .unwrap_or_default()
                        .into_iter()
                        .map(|v| (v.name, v.expression))
                        .collect(),
                ),
                validations: spec
                    .validations
                    .unwrap_or_default()
                    .into_iter()
                    .map(|v| Validation {
                        program: Expression::compile(&v.expression),
                        expression: v.expression,
                        message: v.message.unwrap_or_default(),
                        message_expression: v
                            .message_expression
                            .filter(|m| !m.is_empty())
                            .map(|m| Expression::compile(&m)),
                        reason: v.reason,
                    })
                    .collect(),
                audit_annotations: spec
                    .audit_annotations
                    .unwrap_or_default()
                    .into_iter()
                    .map(|a| AuditAnnotation {
                        program: Expression::compile(&a.value_expression),
                        key: a.key,
                        value_expression: a.value_expression,
                    })
                    .collect(),
                ignore_failures: spec.failure_policy.as_deref() == Some("Ignore"),
                needs: Vec::new(),
            }
            .with_needs();
            snapshot.policies.insert(name, Arc::new(policy));
        }
    }
    if let Some(rt) = catalog.find(GROUP, "v1", "validatingadmissionpolicybindings") {
        for stored in rest.store.current(&rt.storage_key) {
            let Ok(b) = serde_json::from_slice::<ValidatingAdmissionPolicyBinding>(&stored.json)
            else {
                continue;
            };
            let Some(spec) = b.spec else { continue };
            snapshot.bindings.push(Binding {
                name: b.metadata.name.unwrap_or_default(),
                policy: spec.policy_name.unwrap_or_default(),
                param_ref: spec.param_ref,
                matcher: Matcher::compile(spec.match_resources, true),
                actions: spec.validation_actions.unwrap_or_default(),
            });
        }
    }
    snapshot
}

/// Keeps `rest.admission.policies` current, as [`super::webhook::run`] keeps the webhooks.
pub async fn run(rest: Rest) {
    let catalog = rest.catalog.snapshot();
    let (Some(p), Some(b)) = (
        catalog.find(GROUP, "v1", "validatingadmissionpolicies"),
        catalog.find(GROUP, "v1", "validatingadmissionpolicybindings"),
    ) else {
        return;
    };
    loop {
        let from = rest.store.resource_version();
        rest.admission.policies.refresh(&rest);
        type_checking::update_statuses(&rest).await;
        let (Ok(mut pc), Ok(mut bc)) = (
            rest.store.watch(Some(p.storage_key.clone()), from),
            rest.store.watch(Some(b.storage_key.clone()), from),
        ) else {
            continue;
        };
        loop {
            let next = tokio::select! {
                r = pc.next() => r,
                r = bc.next() => r,
            };
            match next {
                Ok(_) => {
                    rest.admission.policies.refresh(&rest);
                    type_checking::update_statuses(&rest).await;
                }
                Err(crate::storage::StoreError::TooOld { .. }) => break,
                Err(_) => return,
            }
        }
    }
}

/// The params a binding names: None when the policy takes none; an error message when they
/// cannot be found and the binding denies then.
fn params(
    rest: &Rest,
    policy: &Policy,
    binding: &Binding,
    request: &Request<'_>,
) -> Result<Vec<Value>, String> {
    let Some((api_version, kind)) = &policy.param_kind else {
        return Ok(vec![Value::Null]);
    };
    let Some(param_ref) = &binding.param_ref else {
        return Err(format!(
            "policy '{}' has paramKind but binding '{}' has no paramRef",
            policy.name, binding.name
        ));
    };
    let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
    let catalog = rest.catalog.snapshot();
    let Some(rt) = catalog
        .all()
        .iter()
        .find(|rt| rt.group == group && rt.version == version && rt.kind == *kind)
        .cloned()
    else {
        return Err(format!(
            "failed to find resource referenced by paramKind: '{api_version}, Kind={kind}'"
        ));
    };
    let namespace = if rt.namespaced {
        param_ref
            .namespace
            .clone()
            .filter(|n| !n.is_empty())
            .or_else(|| request.namespace.map(String::from))
            .unwrap_or_default()
    } else {
        String::new()
    };
    let found: Vec<Value> = match (&param_ref.name, &param_ref.selector) {
        (Some(name), _) if !name.is_empty() => rest
            .store
            .get(&rest.key(&rt, Some(&namespace), name))
            .map(|o| vec![o.value()])
            .unwrap_or_default(),
        (_, sel) => {
            let sel = selector(sel.clone()).unwrap_or_default();
            rest.store
                .current(&rt.storage_key)
                .iter()
                .filter(|o| {
                    let v = o.value();
                    (!rt.namespaced
                        || v.pointer("/metadata/namespace").and_then(Value::as_str)
                            == Some(namespace.as_str()))
                        && sel.matches(o.labels())
                })
                .map(|o| o.value())
                .collect()
        }
    };
    if found.is_empty() {
        if param_ref.parameter_not_found_action.as_deref() == Some("Allow") {
            return Ok(Vec::new());
        }
        return Err(
            "no params found for policy binding with `Deny` parameterNotFoundAction".into(),
        );
    }
    Ok(found)
}

/// The code of a refusal with `reason` (upstream's `reasonToCode`).
fn code_of(reason: &str) -> (u16, &'static str) {
    match reason {
        "Unauthorized" => (401, "Unauthorized"),
        "Forbidden" => (403, "Forbidden"),
        "RequestEntityTooLarge" => (413, "RequestEntityTooLarge"),
        _ => (422, "Invalid"),
    }
}

/// What one validation (or an expression that errored) decided against the request.
struct Failure {
    /// The index of the validation (0 for an error before any).
    index: usize,
    message: String,
    reason: String,
}

/// What an `auditAnnotations` entry gave.
enum Annotation {
    /// A value to record under the key.
    Publish(String, String),
    /// An error, which refuses the request (failurePolicy Fail).
    Error(String),
}

/// What evaluating a policy for one param gave.
#[derive(Default)]
struct Outcome {
    failures: Vec<Failure>,
    annotations: Vec<Annotation>,
}

/// An audit annotation's value is at most this long (upstream's limit).
const MAX_AUDIT_ANNOTATION_VALUE: usize = 10 * 1024;

/// The failure of an expression that errored: refusing under failurePolicy Fail, nothing under
/// Ignore.
fn error_failure(policy: &Policy, index: usize, message: String) -> Option<Failure> {
    (!policy.ignore_failures).then(|| Failure {
        index,
        message,
        reason: String::new(),
    })
}

/// Evaluates `policy` for one param, its request variables bound in `activation`.
fn evaluate(policy: &Policy, activation: &mut Activation<'_>) -> Outcome {
    let mut outcome = Outcome::default();
    // Match conditions: any false skips the policy; an error refuses (Fail) or skips (Ignore).
    for (_, condition) in &policy.match_conditions {
        let result = condition
            .as_ref()
            .map_err(Clone::clone)
            .and_then(|p| activation.evaluate(p));
        let error = match result {
            Ok(Cel::Bool(true)) => continue,
            Ok(Cel::Bool(false)) => return outcome,
            Ok(other) => format!(
                "expected boolean result, got {}",
                expression::type_name(&other)
            ),
            Err(e) => e,
        };
        outcome.failures.extend(error_failure(policy, 0, error));
        return outcome;
    }
    let mut values = Vec::new();
    activation.bind("variables", expression::named(Vec::new()));
    for (name, variable) in &policy.variables {
        if let Ok(Ok(v)) = variable.as_ref().map(|p| activation.evaluate(p)) {
            values.push((name.clone(), v));
            activation.bind("variables", expression::named(values.clone()));
        }
    }
    for (index, v) in policy.validations.iter().enumerate() {
        let error = |e: String| format!("expression '{}' resulted in error: {e}", v.expression);
        let result = v
            .program
            .as_ref()
            .map_err(Clone::clone)
            .and_then(|p| activation.evaluate(p));
        match result {
            Ok(Cel::Bool(true)) => continue,
            Ok(Cel::Bool(false)) => {}
            Ok(other) => {
                let e = format!(
                    "expected boolean result, got {}",
                    expression::type_name(&other)
                );
                outcome
                    .failures
                    .extend(error_failure(policy, index, error(e)));
                continue;
            }
            Err(e) => {
                outcome
                    .failures
                    .extend(error_failure(policy, index, error(e)));
                continue;
            }
        }
        // Upstream falls back on a message expression that errors, or gives no non-blank
        // single-line string.
        let from_expression = match &v.message_expression {
            Some(Ok(p)) => match activation.evaluate(p) {
                Ok(Cel::String(s)) => Some(s.trim().to_string())
                    .filter(|m| !m.is_empty() && !m.contains('\n') && m.len() <= 5 * 1024),
                _ => None,
            },
            _ => None,
        };
        let message = from_expression.unwrap_or_else(|| {
            let message = v.message.trim();
            if message.is_empty() {
                format!("failed expression: {}", v.expression.trim())
            } else {
                message.to_string()
            }
        });
        outcome.failures.push(Failure {
            index,
            message,
            reason: v.reason.clone().unwrap_or_default(),
        });
    }
    for a in &policy.audit_annotations {
        let result = a
            .program
            .as_ref()
            .map_err(Clone::clone)
            .and_then(|p| activation.evaluate(p));
        let error = match result {
            Ok(Cel::String(value)) => {
                let value = value.trim();
                if !value.is_empty() {
                    let mut end = value.len().min(MAX_AUDIT_ANNOTATION_VALUE);
                    while !value.is_char_boundary(end) {
                        end -= 1;
                    }
                    outcome
                        .annotations
                        .push(Annotation::Publish(a.key.clone(), value[..end].to_string()));
                }
                continue;
            }
            Ok(Cel::Null) => continue,
            Ok(other) => format!(
                "valueExpression '{}' resulted in unsupported return type: {}. Return type must be either string or null.",
                a.value_expression,
                expression::type_name(&other)
            ),
            Err(e) => format!("expression '{}' resulted in error: {e}", a.value_expression),
        };
        if !policy.ignore_failures {
            outcome.annotations.push(Annotation::Error(error));
        }
    }
    outcome
}

/// The CEL values of the request the policies' expressions see for one matched resource (the
/// objects converted to it, the request naming it as `kind`/`resource`), each converted once
/// per request, when a policy that names it first matches.
struct Bound<'r> {
    rest: &'r Rest,
    request: &'r Request<'r>,
    matched: rules::Matched,
    obj: Option<Cow<'r, Value>>,
    old_object: Option<Cow<'r, Value>>,
    values: BTreeMap<&'static str, Cel>,
}

impl<'r> Bound<'r> {
    /// The values of `request` matched as `matched`: its own objects, or (upstream's
    /// `VersionedAttributes`) converted to the equivalent resource.
    async fn new(
        rest: &'r Rest,
        request: &'r Request<'r>,
        obj: Option<&'r Value>,
        matched: rules::Matched,
    ) -> Result<Bound<'r>, ApiError> {
        let (obj, old_object) = match &matched {
            rules::Matched::Own => (
                obj.map(Cow::Borrowed),
                request.old_object.map(Cow::Borrowed),
            ),
            rules::Matched::Equivalent(rt) => {
                let v = super::webhook::versioned::Versioned::of(rest, request, obj, rt).await?;
                (v.object.map(Cow::Owned), v.old_object.map(Cow::Owned))
            }
        };
        Ok(Bound {
            rest,
            request,
            matched,
            obj,
            old_object,
            values: BTreeMap::new(),
        })
    }

    /// Whether these are the values for `matched`.
    fn is(&self, matched: &rules::Matched) -> bool {
        match (&self.matched, matched) {
            (rules::Matched::Own, rules::Matched::Own) => true,
            (rules::Matched::Equivalent(a), rules::Matched::Equivalent(b)) => {
                super::webhook::versioned::same(a, b)
            }
            _ => false,
        }
    }

    /// The value of `name` (one of [`REQUEST_VARIABLES`] but `params`).
    fn get(&mut self, name: &'static str) -> Cel {
        if let Some(v) = self.values.get(name) {
            return v.clone();
        }
        let (rest, request) = (self.rest, self.request);
        let value = match name {
            "object" => expression::to_cel(self.obj.as_deref().unwrap_or(&Value::Null)),
            "oldObject" => expression::to_cel(self.old_object.as_deref().unwrap_or(&Value::Null)),
            "request" => {
                let review =
                    super::webhook::review::build("v1", "", request, &self.matched, None, None);
                let mut admission_request = review["request"].clone();
                if let Some(map) = admission_request.as_object_mut() {
                    map.remove("object");
                    map.remove("oldObject");
                }
                expression::to_cel(&admission_request)
            }
            "authorizer" => authorizer(rest, request),
            "namespaceObject" => {
                let namespace = request
                    .namespace
                    .filter(|n| !n.is_empty() && request.rt.namespaced)
                    .and_then(|ns| {
                        let nt = rest.catalog.snapshot().find("", "v1", "namespaces")?;
                        rest.store.get(&rest.key(&nt, None, ns)).map(|o| o.value())
                    })
                    .unwrap_or(Value::Null);
                expression::to_cel(&namespace)
            }
            _ => Cel::Null,
        };
        self.values.insert(name, value.clone());
        value
    }
}

/// The `authorizer` variable for `request`: checks decided by the server's RBAC authorizer for
/// the request's user (or the service account an expression names).
pub(crate) fn authorizer(rest: &Rest, request: &Request<'_>) -> Cel {
    use crate::auth::attributes::{Attributes, ResourceAttributes};
    use crate::crd::schema::cel::authz::{self, Check, Decide, RequestResource, Verdict};
    let user = request.user_info();
    let rbac = rest.rbac.clone();
    let decide: Decide = Arc::new(move |name: &str, groups: &[String], check: &Check| {
        let asking = crate::auth::user::UserInfo {
            name: name.to_string(),
            uid: String::new(),
            groups: groups.to_vec(),
            extra: BTreeMap::new(),
        };
        let attrs = match check {
            Check::Resource {
                verb,
                group,
                resource,
                subresource,
                namespace,
                name,
                // RBAC does not look at selectors (upstream's neither).
                ..
            } => Attributes::Resource(ResourceAttributes {
                verb: verb.clone(),
                group: group.clone(),
                version: "*".into(),
                resource: resource.clone(),
                subresource: subresource.clone(),
                namespace: namespace.clone(),
                name: name.clone(),
            }),
            Check::Path { verb, path } => Attributes::NonResource {
                verb: verb.clone(),
                path: path.clone(),
            },
        };
        let decision = rbac.authorize_current(&asking, &attrs);
        Verdict {
            allowed: decision.allowed,
            reason: decision.reason,
            error: String::new(),
        }
    });
    let rt = request.rt;
    let resource = RequestResource {
        group: rt.group.clone(),
        resource: rt.plural.clone(),
        subresource: request.subresource.unwrap_or("").to_string(),
        namespace: request
            .namespace
            .filter(|_| rt.namespaced)
            .unwrap_or("")
            .to_string(),
        name: request.name.to_string(),
    };
    authz::authorizer(&user.name, &user.groups, &resource, decide)
}

/// The audit annotations of one policy's bindings, as upstream's collector gathers them.
#[derive(Default)]
struct AuditAnnotations(BTreeMap<String, Vec<String>>);

impl AuditAnnotations {
    fn add(&mut self, key: String, value: String) {
        let values = self.0.entry(key).or_default();
        if !values.contains(&value) {
            values.push(value);
        }
    }

    /// Records them as `<policy>/<key>` (several distinct values joined with ", "); a key
    /// already recorded keeps its value, as admission annotations are never overwritten.
    fn publish(self, policy: &str, effects: &mut Effects) {
        for (key, values) in self.0 {
            effects
                .audit_annotations
                .entry(format!("{policy}/{key}"))
                .or_insert_with(|| values.join(", "));
        }
    }
}

/// Runs every binding that picks `request`.
pub async fn validate(
    rest: &Rest,
    policies: &Policies,
    request: &Request<'_>,
    obj: Option<&Value>,
    effects: &mut Effects,
) -> Result<(), ApiError> {
    if request.rt.group == GROUP {
        return Ok(());
    }
    let snapshot = policies.snapshot();
    if snapshot.bindings.is_empty() {
        return Ok(());
    }
    let equivalents = rules::Equivalents::new(rest);
    // The request's values for each resource it was matched as.
    let mut bounds: Vec<Bound<'_>> = Vec::new();
    let mut denied: Option<ApiError> = None;
    let mut collected: BTreeMap<&str, AuditAnnotations> = BTreeMap::new();
    for binding in &snapshot.bindings {
        let Some(policy) = snapshot.policies.get(&binding.policy) else {
            continue;
        };
        let Some(matched) = policy.matcher.picks(rest, request, obj, &equivalents) else {
            continue;
        };
        if binding
            .matcher
            .as_ref()
            .is_some_and(|m| m.picks(rest, request, obj, &equivalents).is_none())
        {
            continue;
        }
        let deny = |message: &str, reason: &str| {
            let rt = request.rt;
            let resource = crate::status::qualified(&rt.plural, &rt.group);
            let message = format!(
                "ValidatingAdmissionPolicy '{}' with binding '{}' denied request: {message}",
                policy.name, binding.name
            );
            let (code, reason) = code_of(reason);
            let mut err = ApiError::forbidden(
                &rt.group,
                &rt.plural,
                request.name,
                format!("{resource} {:?} is forbidden: {message}", request.name),
            );
            err.code = code;
            err.reason = reason;
            err.causes.push(FieldCause {
                reason: "",
                field: String::new(),
                message,
            });
            err
        };
        let found = match params(rest, policy, binding, request) {
            Ok(p) => p,
            Err(e) if policy.ignore_failures => {
                tracing::debug!(policy = %policy.name, error = %e, "policy ignored");
                continue;
            }
            Err(e) => {
                denied.get_or_insert_with(|| deny(&e, ""));
                continue;
            }
        };
        let index = match bounds.iter().position(|b| b.is(&matched)) {
            Some(i) => i,
            None => {
                bounds.push(Bound::new(rest, request, obj, matched).await?);
                bounds.len() - 1
            }
        };
        let bound = &mut bounds[index];
        let annotations = collected.entry(policy.name.as_str()).or_default();
        for param in found {
            let outcome = expression::with_activation(|activation| {
                for &name in &policy.needs {
                    let value = match name {
                        "params" => expression::to_cel(&param),
                        other => bound.get(other),
                    };
                    activation.bind(name, value);
                }
                evaluate(policy, activation)
            });
            for failure in outcome.failures {
                for action in &binding.actions {
                    match action.as_str() {
                        "Deny" => {
                            denied.get_or_insert_with(|| deny(&failure.message, &failure.reason));
                        }
                        "Warn" => effects.warnings.push(format!(
                            "Validation failed for ValidatingAdmissionPolicy '{}' with binding '{}': {}",
                            policy.name, binding.name, failure.message
                        )),
                        "Audit" => {
                            effects
                                .audit_annotations
                                .entry("validation.policy.admission.k8s.io/validation_failure".into())
                                .or_insert_with(|| {
                                    json!([{
                                        "message": failure.message,
                                        "policy": binding.policy,
                                        "binding": binding.name,
                                        "expressionIndex": failure.index,
                                        "validationActions": binding.actions,
                                    }])
                                    .to_string()
                                });
                        }
                        _ => {}
                    }
                }
            }
            for annotation in outcome.annotations {
                match annotation {
                    Annotation::Publish(key, value) => annotations.add(key, value),
                    Annotation::Error(message) => {
                        denied.get_or_insert_with(|| deny(&message, ""));
                    }
                }
            }
        }
    }
    for (policy, annotations) in collected {
        annotations.publish(policy, effects);
    }
    denied.map_or(Ok(()), Err)
}
