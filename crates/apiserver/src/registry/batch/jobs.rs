//! Jobs (batch/v1): upstream's defaulting (`SetDefaults_Job` and the strategy's generated
//! selector), validation of the spec and of updates in kube-apiserver's words, and kubectl's
//! table.
//!
//! The pod template's own pod-spec defaults are not applied here (see `core/pods.rs`), so a
//! template without `restartPolicy` is refused as upstream refuses one that defaulted to
//! `Always`. Values upstream prints with Go's `%#v` are rendered the same way for maps and
//! selectors; an immutable template is shown as JSON (upstream: the Go struct dump).

use super::{go_map, non_negative};
use crate::registry::core::pods::pod_spec_causes;
use crate::registry::entry::entry;
use crate::resource::ResourceType;
use crate::selector::LabelSelector;
use crate::status::{ApiError, FieldCause};
use crate::strategy::{Decoded, Strategy, Typed, typed_basics};
use crate::table::printer::{Printer, col, containers_and_images, n, s, selector_string};
use crate::table::{age, age_column, human_duration, name_column, name_of};
use k8s_openapi::api::batch::v1::Job;
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

/// The label (and selector key) naming a Job's uid on its pods.
pub(crate) const CONTROLLER_UID: &str = "batch.kubernetes.io/controller-uid";
/// The label naming the Job on its pods.
pub(crate) const JOB_NAME: &str = "batch.kubernetes.io/job-name";
/// The legacy labels upstream still sets beside them.
const LEGACY_CONTROLLER_UID: &str = "controller-uid";
const LEGACY_JOB_NAME: &str = "job-name";
/// The largest `completions`/`parallelism` of an Indexed Job.
const MAX_INDEXED: i64 = 100_000;

/// `jobs` (batch/v1): status subresource, category `all`.
pub(crate) fn resource() -> ResourceType {
    entry("jobs", "job", true)
        .all()
        .status()
        .build::<Job>(JobStrategy::new())
}

/// The Job strategy.
pub struct JobStrategy {
    typed: Typed<Job>,
}

impl JobStrategy {
    /// The strategy.
    pub fn new() -> Self {
        JobStrategy {
            typed: Typed::new()
                .printer(&JOB)
                .with_generation()
                .fields(&["status.successful"])
                .unset_values(&[("status.successful", "0")]),
        }
    }
}

impl Default for JobStrategy {
    fn default() -> Self {
        Self::new()
    }
}

impl Strategy for JobStrategy {
    typed_basics!(typed);

    fn decode(&self, value: Value) -> Result<Decoded, ApiError> {
        self.typed.decode(value)
    }

    fn tracks_generation(&self) -> bool {
        true
    }

    /// Upstream's `JobToSelectableFields` names `status.succeeded` `status.successful`.
    fn stored_field<'a>(&self, field: &'a str) -> std::borrow::Cow<'a, str> {
        match field {
            "status.successful" => "status.succeeded".into(),
            other => other.into(),
        }
    }

    fn prepare_for_create(&self, obj: &mut Value) {
        if let Some(m) = obj.as_object_mut() {
            m.remove("status");
        }
        generate_selector(obj);
        default_job(obj);
    }

    fn prepare_for_update(&self, new: &mut Value, _old: &Value) {
        default_job(new);
    }

    fn validate(&self, obj: &Value) -> Vec<FieldCause> {
        let mut causes = Vec::new();
        let spec = obj.get("spec").cloned().unwrap_or(json!({}));
        if !manual_selector(obj) {
            causes.extend(generated_selector_causes(obj));
        }
        causes.extend(job_spec_causes(&spec, "spec", false));
        causes
    }

    fn validate_update(&self, new: &Value, old: &Value) -> Vec<FieldCause> {
        let mut causes = self.validate(new);
        causes.extend(update_causes(new, old));
        causes
    }

    fn validate_status(&self, _obj: &Value) -> Vec<FieldCause> {
        Vec::new()
    }
}

fn manual_selector(obj: &Value) -> bool {
    obj.pointer("/spec/manualSelector").and_then(Value::as_bool) == Some(true)
}

fn object_mut<'a>(v: &'a mut Value, key: &str) -> &'a mut Map<String, Value> {
    if !v.get(key).is_some_and(Value::is_object) {
        v[key] = json!({});
    }
    match v.get_mut(key) {
        Some(Value::Object(m)) => m,
        _ => unreachable!("just made an object"),
    }
}

/// The strategy's `generateSelectorIfNeeded`: without `manualSelector: true`, the template gets
/// the job-name and controller-uid labels (both spellings) and the selector selects the uid;
/// the Job's own labels default to its template's.
fn generate_selector(obj: &mut Value) {
    if manual_selector(obj) || !obj.get("spec").is_some_and(Value::is_object) {
        return;
    }
    let name = s(obj, "/metadata/name").to_string();
    let uid = s(obj, "/metadata/uid").to_string();
    let spec = &mut obj["spec"];
    let template = {
        if !spec.get("template").is_some_and(Value::is_object) {
            spec["template"] = json!({});
        }
        &mut spec["template"]
    };
    let labels = object_mut(object_mut_value(template, "metadata"), "labels");
    for key in [LEGACY_JOB_NAME, JOB_NAME] {
        labels.entry(key).or_insert_with(|| json!(name));
    }
    for key in [LEGACY_CONTROLLER_UID, CONTROLLER_UID] {
        labels.entry(key).or_insert_with(|| json!(uid));
    }
    let selector = object_mut(spec, "selector");
    if !selector.get("matchLabels").is_some_and(Value::is_object) {
        selector.insert("matchLabels".into(), json!({}));
    }
    if let Some(Value::Object(m)) = selector.get_mut("matchLabels") {
        m.entry(CONTROLLER_UID).or_insert_with(|| json!(uid));
    }
    let template_labels = obj.pointer("/spec/template/metadata/labels").cloned();
    let meta = object_mut(obj, "metadata");
    if meta
        .get("labels")
        .and_then(Value::as_object)
        .is_none_or(Map::is_empty)
        && let Some(labels) = template_labels
    {
        meta.insert("labels".into(), labels);
    }
}

fn object_mut_value<'a>(v: &'a mut Value, key: &str) -> &'a mut Value {
    if !v.get(key).is_some_and(Value::is_object) {
        v[key] = json!({});
    }
    &mut v[key]
}

/// `SetDefaults_Job`.
pub(crate) fn default_job(obj: &mut Value) {
    let Some(spec) = obj.get_mut("spec").and_then(Value::as_object_mut) else {
        return;
    };
    let unset = |spec: &Map<String, Value>, k: &str| spec.get(k).is_none_or(Value::is_null);
    if unset(spec, "completions") && unset(spec, "parallelism") {
        spec.insert("completions".into(), json!(1));
    }
    if unset(spec, "parallelism") {
        spec.insert("parallelism".into(), json!(1));
    }
    if unset(spec, "backoffLimit") {
        let limit = if unset(spec, "backoffLimitPerIndex") {
            6
        } else {
            i64::from(i32::MAX)
        };
        spec.insert("backoffLimit".into(), json!(limit));
    }
    if unset(spec, "completionMode") {
        spec.insert("completionMode".into(), json!("NonIndexed"));
    }
    if unset(spec, "suspend") {
        spec.insert("suspend".into(), json!(false));
    }
    let has_failure_policy = !unset(spec, "podFailurePolicy");
    if let Some(rules) = spec
        .get_mut("podFailurePolicy")
        .and_then(|p| p.get_mut("rules"))
        .and_then(Value::as_array_mut)
    {
        for rule in rules {
            if let Some(patterns) = rule
                .get_mut("onPodConditions")
                .and_then(Value::as_array_mut)
            {
                for p in patterns {
                    if p.get("status").is_none_or(|s| s.is_null() || s == "") {
                        p["status"] = json!("True");
                    }
                }
            }
        }
    }
    if unset(spec, "podReplacementPolicy") {
        let policy = if has_failure_policy {
            "Failed"
        } else {
            "TerminatingOrFailed"
        };
        spec.insert("podReplacementPolicy".into(), json!(policy));
    }
}

/// `validateGeneratedSelector`: the selector is exactly the generated one, and the template
/// carries the uid.
fn generated_selector_causes(obj: &Value) -> Vec<FieldCause> {
    let uid = s(obj, "/metadata/uid");
    let Some(sel) = obj.pointer("/spec/selector").filter(|s| !s.is_null()) else {
        return Vec::new();
    };
    let labels = sel.get("matchLabels").and_then(Value::as_object);
    let generated = labels.is_some_and(|m| {
        m.get(CONTROLLER_UID).and_then(Value::as_str) == Some(uid)
            && m.keys()
                .all(|k| k == CONTROLLER_UID || k == LEGACY_CONTROLLER_UID)
    }) && sel
        .get("matchExpressions")
        .and_then(Value::as_array)
        .is_none_or(Vec::is_empty);
    let mut causes = Vec::new();
    if !generated {
        causes.push(FieldCause::invalid_shown(
            "spec.selector",
            &go_selector(sel),
            "`selector` not auto-generated",
        ));
    }
    let template_uid = obj
        .pointer("/spec/template/metadata/labels")
        .and_then(|l| l.get(CONTROLLER_UID))
        .and_then(Value::as_str);
    if template_uid != Some(uid) {
        causes.push(FieldCause::invalid(
            format!("spec.template.metadata.labels[{CONTROLLER_UID}]"),
            &json!(template_uid.unwrap_or("")),
            format!("must be '{uid}'"),
        ));
    }
    causes
}

/// Go's `%#v` of a `metav1.LabelSelector` with matchLabels only (expressions abbreviated).
fn go_selector(sel: &Value) -> String {
    let exprs = match sel.get("matchExpressions").and_then(Value::as_array) {
        None => "[]v1.LabelSelectorRequirement(nil)".to_string(),
        Some(a) => format!("[]v1.LabelSelectorRequirement{{...{} items}}", a.len()),
    };
    format!(
        "v1.LabelSelector{{MatchLabels:{}, MatchExpressions:{exprs}}}",
        go_map(sel.get("matchLabels"))
    )
}

/// `validateJobSpec` (and, for a CronJob's template, `ValidateJobTemplateSpec`: `template`
/// true, no selector required) of `spec` at `path`, in upstream's order.
pub(crate) fn job_spec_causes(spec: &Value, path: &str, template: bool) -> Vec<FieldCause> {
    let mut causes = Vec::new();
    for field in [
        "parallelism",
        "completions",
        "activeDeadlineSeconds",
        "backoffLimit",
        "ttlSecondsAfterFinished",
        "backoffLimitPerIndex",
        "maxFailedIndexes",
    ] {
        non_negative(spec, path, field, &mut causes);
    }
    let mode = spec.get("completionMode").and_then(Value::as_str);
    let indexed = mode == Some("Indexed");
    if !indexed
        && spec
            .get("backoffLimitPerIndex")
            .is_some_and(|v| !v.is_null())
    {
        causes.push(FieldCause::forbidden(
            format!("{path}.backoffLimitPerIndex"),
            "requires indexed completion mode",
        ));
    }
    match mode {
        None | Some("NonIndexed") => {}
        Some("Indexed") => {
            match spec.get("completions").and_then(Value::as_i64) {
                None => causes.push(FieldCause::required(
                    format!("{path}.completions"),
                    "when completion mode is Indexed",
                )),
                Some(c) if c > MAX_INDEXED => causes.push(FieldCause::invalid(
                    format!("{path}.completions"),
                    &json!(c),
                    format!("must be less than or equal to {MAX_INDEXED} when completion mode is Indexed"),
                )),
                Some(_) => {}
            }
            if let Some(p) = spec.get("parallelism").and_then(Value::as_i64)
                && p > MAX_INDEXED
            {
                causes.push(FieldCause::invalid(
                    format!("{path}.parallelism"),
                    &json!(p),
                    format!("must be less than or equal to {MAX_INDEXED} when completion mode is Indexed"),
                ));
            }
        }
        Some(other) => causes.push(FieldCause::not_supported(
            format!("{path}.completionMode"),
            &json!(other),
            &["NonIndexed".into(), "Indexed".into()],
        )),
    }
    let restart_policy = spec
        .pointer("/template/spec/restartPolicy")
        .and_then(Value::as_str);
    if let Some(policy) = spec.get("podFailurePolicy").filter(|p| !p.is_null()) {
        causes.extend(pod_failure_policy_causes(
            policy,
            &format!("{path}.podFailurePolicy"),
            indexed,
        ));
        if let Some(rp) = restart_policy.filter(|rp| *rp != "Never") {
            causes.push(FieldCause::invalid(
                format!("{path}.template.spec.restartPolicy"),
                &json!(rp),
                "only \"Never\" is supported when podFailurePolicy is specified",
            ));
        }
    }
    if let Some(policy) = spec.get("podReplacementPolicy").and_then(Value::as_str) {
        let supported: &[&str] = if spec.get("podFailurePolicy").is_some_and(|p| !p.is_null()) {
            &["Failed"]
        } else {
            &["Failed", "TerminatingOrFailed"]
        };
        if !supported.contains(&policy) {
            causes.push(FieldCause::not_supported(
                format!("{path}.podReplacementPolicy"),
                &json!(policy),
                &supported.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
            ));
        }
    }
    let selector = spec.get("selector").filter(|s| !s.is_null());
    if selector.is_none() && !template {
        causes.push(FieldCause::required(format!("{path}.selector"), ""));
    }
    let empty = json!({});
    let pod_template = spec.get("template").unwrap_or(&empty);
    if let Some(sel) = selector {
        match LabelSelector::from_object(sel) {
            None => causes.push(FieldCause::invalid_shown(
                format!("{path}.selector"),
                &go_selector(sel),
                "invalid label selector",
            )),
            Some(parsed) => {
                let labels = pod_template.pointer("/metadata/labels");
                let map: BTreeMap<String, String> = labels
                    .and_then(Value::as_object)
                    .into_iter()
                    .flatten()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                    .collect();
                if !parsed.is_empty() && !parsed.matches(&map) {
                    causes.push(FieldCause::invalid_shown(
                        format!("{path}.template.metadata.labels"),
                        &go_map(labels),
                        "`selector` does not match template `labels`",
                    ));
                }
            }
        }
    }
    if let Some(labels) = pod_template.pointer("/metadata/labels") {
        causes.extend(crate::validation::validate_labels(
            labels,
            &format!("{path}.template.labels"),
        ));
    }
    causes.extend(pod_spec_causes(
        pod_template.get("spec").unwrap_or(&empty),
        &format!("{path}.template.spec"),
    ));
    if !matches!(restart_policy, Some("OnFailure" | "Never")) {
        causes.push(FieldCause::required(
            format!("{path}.template.spec.restartPolicy"),
            "valid values: \"OnFailure\", \"Never\"",
        ));
    }
    causes
}

/// `validatePodFailurePolicy`: each rule's action, and exactly one of `onExitCodes` and
/// `onPodConditions`, with valid exit-code requirements.
fn pod_failure_policy_causes(policy: &Value, path: &str, indexed: bool) -> Vec<FieldCause> {
    let mut causes = Vec::new();
    let rules = policy.get("rules").and_then(Value::as_array);
    for (i, rule) in rules.into_iter().flatten().enumerate() {
        let at = format!("{path}.rules[{i}]");
        let mut actions = vec!["Count", "FailJob", "Ignore"];
        if indexed {
            actions.insert(1, "FailIndex");
        }
        let action = rule.get("action").and_then(Value::as_str).unwrap_or("");
        if action.is_empty() {
            causes.push(FieldCause::required(format!("{at}.action"), ""));
        } else if !actions.contains(&action) {
            causes.push(FieldCause::not_supported(
                format!("{at}.action"),
                &json!(action),
                &actions.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
            ));
        }
        let exit = rule.get("onExitCodes").filter(|v| !v.is_null());
        let conditions = rule
            .get("onPodConditions")
            .and_then(Value::as_array)
            .filter(|c| !c.is_empty());
        if exit.is_some() == conditions.is_some() {
            // Upstream's message has no value part.
            causes.push(FieldCause {
                reason: "FieldValueInvalid",
                message: format!(
                    "{at}: Invalid value: specifying one of OnExitCodes and OnPodConditions is required"
                ),
                field: at.clone(),
            });
        }
        if let Some(exit) = exit {
            let at = format!("{at}.onExitCodes");
            let operator = exit.get("operator").and_then(Value::as_str).unwrap_or("");
            if !matches!(operator, "In" | "NotIn") {
                causes.push(FieldCause::not_supported(
                    format!("{at}.operator"),
                    &json!(operator),
                    &["In".into(), "NotIn".into()],
                ));
            }
            let values: Vec<i64> = exit
                .get("values")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_i64)
                .collect();
            if values.is_empty() {
                causes.push(FieldCause::invalid_shown(
                    format!("{at}.values"),
                    "[]int32(nil)",
                    "at least one value is required",
                ));
            }
            for (j, v) in values.iter().enumerate() {
                if j > 0 && values[j - 1] == *v {
                    causes.push(FieldCause::duplicate(
                        format!("{at}.values[{j}]"),
                        &json!(v),
                    ));
                } else if j > 0 && values[j - 1] > *v {
                    causes.push(FieldCause::invalid(
                        format!("{at}.values[{j}]"),
                        &json!(v),
                        "must be ordered",
                    ));
                }
                if operator == "In" && *v == 0 {
                    causes.push(FieldCause::invalid(
                        format!("{at}.values[{j}]"),
                        &json!(v),
                        "must not be 0 for the In operator",
                    ));
                }
            }
        }
    }
    causes
}

/// Whether `template` differs from `old` only in what a suspended Job that never started may
/// change (upstream's mutable scheduling directives: node selector, tolerations, affinity,
/// scheduling gates, labels and annotations).
fn only_scheduling_directives_changed(template: &Value, old: &Value) -> bool {
    let strip = |t: &Value| {
        let mut t = t.clone();
        if let Some(meta) = t.get_mut("metadata").and_then(Value::as_object_mut) {
            meta.remove("labels");
            meta.remove("annotations");
        }
        if let Some(spec) = t.get_mut("spec").and_then(Value::as_object_mut) {
            for f in ["nodeSelector", "tolerations", "affinity", "schedulingGates"] {
                spec.remove(f);
            }
        }
        t
    };
    strip(template) == strip(old)
}

/// `ValidateJobSpecUpdate`: the selector, the template (but for scheduling directives of a
/// suspended Job that never started), completions (but for elastic Indexed Jobs, in tandem
/// with parallelism), and the completion mode, failure and success policies stay.
fn update_causes(new: &Value, old: &Value) -> Vec<FieldCause> {
    let mut causes = Vec::new();
    let (ns, os) = (
        new.get("spec").cloned().unwrap_or(json!({})),
        old.get("spec").cloned().unwrap_or(json!({})),
    );
    let immutable = |field: &str, shown: String, causes: &mut Vec<FieldCause>| {
        causes.push(FieldCause::invalid_shown(
            format!("spec.{field}"),
            &shown,
            "field is immutable",
        ));
    };
    if ns.get("selector") != os.get("selector") {
        let shown = ns
            .get("selector")
            .filter(|s| !s.is_null())
            .map_or_else(|| "\"null\"".to_string(), go_selector);
        immutable("selector", shown, &mut causes);
    }
    let (nt, ot) = (
        ns.get("template").unwrap_or(&Value::Null),
        os.get("template").unwrap_or(&Value::Null),
    );
    let suspended_never_started = os.get("suspend").and_then(Value::as_bool) == Some(true)
        && old.pointer("/status/startTime").is_none_or(Value::is_null);
    if nt != ot && !(suspended_never_started && only_scheduling_directives_changed(nt, ot)) {
        immutable("template", nt.to_string(), &mut causes);
    }
    let indexed = os.get("completionMode").and_then(Value::as_str) == Some("Indexed");
    if ns.get("completions") != os.get("completions") {
        let shown = ns.get("completions").cloned().unwrap_or(Value::Null);
        if !indexed {
            immutable("completions", shown.to_string(), &mut causes);
        } else if ns.get("completions") != ns.get("parallelism") {
            causes.push(FieldCause::invalid(
                "spec.completions",
                &shown,
                "can only be modified in tandem with spec.parallelism",
            ));
        }
    }
    for field in [
        "completionMode",
        "podFailurePolicy",
        "backoffLimitPerIndex",
        "successPolicy",
        "managedBy",
    ] {
        if ns.get(field) != os.get(field) {
            let shown = match ns.get(field) {
                Some(Value::String(s)) => format!("{s:?}"),
                Some(v) if !v.is_null() => v.to_string(),
                _ => "\"null\"".to_string(),
            };
            immutable(field, shown, &mut causes);
        }
    }
    causes
}

/// Whether `conditions` hold `type_` with status True.
pub(crate) fn conditions_hold(conditions: &[Value], type_: &str) -> bool {
    conditions
        .iter()
        .any(|c| s(c, "/type") == type_ && s(c, "/status") == "True")
}

/// Whether Job `o` has condition `type_` with status True.
pub(crate) fn has_condition(o: &Value, type_: &str) -> bool {
    o.pointer("/status/conditions")
        .and_then(Value::as_array)
        .is_some_and(|cs| conditions_hold(cs, type_))
}

/// The STATUS cell: upstream's `printJob` precedence.
fn job_status(o: &Value) -> &'static str {
    let deleting = o
        .pointer("/metadata/deletionTimestamp")
        .is_some_and(|t| !t.is_null());
    if has_condition(o, "Complete") {
        "Complete"
    } else if has_condition(o, "Failed") {
        "Failed"
    } else if deleting {
        "Terminating"
    } else if has_condition(o, "Suspended") {
        "Suspended"
    } else if has_condition(o, "FailureTarget") {
        "FailureTarget"
    } else if has_condition(o, "SuccessCriteriaMet") {
        "SuccessCriteriaMet"
    } else {
        "Running"
    }
}

fn parse_time(v: &Value, pointer: &str) -> Option<jiff::Timestamp> {
    s(v, pointer).parse().ok()
}

/// Job: NAME STATUS COMPLETIONS DURATION AGE (CONTAINERS IMAGES SELECTOR wide).
pub(crate) const JOB: Printer = Printer {
    columns: || {
        vec![
            name_column(),
            col("Status", "string", 0),
            col("Completions", "string", 0),
            col("Duration", "string", 0),
            age_column(),
            col("Containers", "string", 1),
            col("Images", "string", 1),
            col("Selector", "string", 1),
        ]
    },
    cells: |o, now| {
        let succeeded = n(o, "/status/succeeded");
        let completions = match o.pointer("/spec/completions").and_then(Value::as_i64) {
            Some(c) => format!("{succeeded}/{c}"),
            None => match n(o, "/spec/parallelism") {
                p if p > 1 => format!("{succeeded}/1 of {p}"),
                _ => format!("{succeeded}/1"),
            },
        };
        let duration = match (
            parse_time(o, "/status/startTime"),
            parse_time(o, "/status/completionTime"),
        ) {
            (None, _) => String::new(),
            (Some(start), None) => human_duration(now.as_second() - start.as_second()),
            (Some(start), Some(end)) => human_duration(end.as_second() - start.as_second()),
        };
        let (containers, images) = containers_and_images(o, "/spec/template/spec/containers");
        vec![
            json!(name_of(o)),
            json!(job_status(o)),
            json!(completions),
            json!(duration),
            json!(age(o, now)),
            json!(containers),
            json!(images),
            json!(selector_string(o.pointer("/spec/selector"))),
        ]
    },
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::TableConvertor;

    fn job(spec: Value) -> Value {
        json!({"metadata": {"name": "pi", "namespace": "default", "uid": "u-1"}, "spec": spec})
    }

    fn messages(causes: &[FieldCause]) -> Vec<&str> {
        causes.iter().map(|c| c.message.as_str()).collect()
    }

    fn created(spec: Value) -> Value {
        let mut obj = job(spec);
        JobStrategy::new().prepare_for_create(&mut obj);
        obj
    }

    fn template() -> Value {
        json!({"spec": {"restartPolicy": "Never", "containers": [{"name": "pi", "image": "perl"}]}})
    }

    #[test]
    fn create_defaults_as_upstream() {
        let obj = created(json!({"template": template()}));
        let spec = &obj["spec"];
        assert_eq!(spec["completions"], json!(1));
        assert_eq!(spec["parallelism"], json!(1));
        assert_eq!(spec["backoffLimit"], json!(6));
        assert_eq!(spec["completionMode"], json!("NonIndexed"));
        assert_eq!(spec["suspend"], json!(false));
        assert_eq!(spec["podReplacementPolicy"], json!("TerminatingOrFailed"));
        assert_eq!(
            spec["selector"],
            json!({"matchLabels": {CONTROLLER_UID: "u-1"}})
        );
        let labels = json!({"job-name": "pi", JOB_NAME: "pi", "controller-uid": "u-1", CONTROLLER_UID: "u-1"});
        assert_eq!(spec["template"]["metadata"]["labels"], labels);
        assert_eq!(obj["metadata"]["labels"], labels);
        assert!(JobStrategy::new().validate(&obj).is_empty());
    }

    #[test]
    fn parallelism_alone_leaves_completions_unset_and_a_failure_policy_waits_for_failed_pods() {
        let obj = created(json!({"parallelism": 3, "template": template(),
            "podFailurePolicy": {"rules": [{"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget"}]}]}}));
        assert_eq!(obj["spec"].get("completions"), None);
        assert_eq!(obj["spec"]["podReplacementPolicy"], json!("Failed"));
        assert_eq!(
            obj["spec"]["podFailurePolicy"]["rules"][0]["onPodConditions"][0]["status"],
            json!("True")
        );
    }

    #[test]
    fn common_mistakes_get_upstream_messages() {
        let mut tpl = template();
        tpl["spec"]
            .as_object_mut()
            .expect("spec")
            .remove("restartPolicy");
        let obj = created(json!({"template": tpl, "parallelism": -1, "backoffLimit": -2}));
        assert_eq!(
            messages(&JobStrategy::new().validate(&obj)),
            vec![
                "spec.parallelism: Invalid value: -1: must be greater than or equal to 0",
                "spec.backoffLimit: Invalid value: -2: must be greater than or equal to 0",
                r#"spec.template.spec.restartPolicy: Required value: valid values: "OnFailure", "Never""#,
            ]
        );
        let mut tpl = template();
        tpl["spec"]["restartPolicy"] = json!("Always");
        let obj = created(json!({"template": tpl, "completionMode": "Indexed", "parallelism": 2}));
        assert_eq!(
            messages(&JobStrategy::new().validate(&obj)),
            vec![
                "spec.completions: Required value: when completion mode is Indexed",
                r#"spec.template.spec.restartPolicy: Required value: valid values: "OnFailure", "Never""#,
            ]
        );
        let mut tpl = template();
        tpl["spec"]["restartPolicy"] = json!("OnFailure");
        let obj = created(json!({"template": tpl, "podFailurePolicy": {"rules": [
            {"action": "FailJob", "onExitCodes": {"operator": "In", "values": [0, 2, 1]}}]}}));
        assert_eq!(
            messages(&JobStrategy::new().validate(&obj)),
            vec![
                "spec.podFailurePolicy.rules[0].onExitCodes.values[0]: Invalid value: 0: must not be 0 for the In operator",
                "spec.podFailurePolicy.rules[0].onExitCodes.values[2]: Invalid value: 1: must be ordered",
                r#"spec.template.spec.restartPolicy: Invalid value: "OnFailure": only "Never" is supported when podFailurePolicy is specified"#,
            ]
        );
    }

    #[test]
    fn a_selector_without_manual_selector_is_refused() {
        let obj = created(
            json!({"template": {"metadata": {"labels": {"app": "x"}}, "spec": template()["spec"]},
            "selector": {"matchLabels": {"app": "x"}}}),
        );
        assert_eq!(
            messages(&JobStrategy::new().validate(&obj)),
            vec![
                r#"spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{"app":"x", "batch.kubernetes.io/controller-uid":"u-1"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: `selector` not auto-generated"#
            ]
        );
        let manual = created(
            json!({"manualSelector": true, "selector": {"matchLabels": {"app": "y"}},
            "template": {"metadata": {"labels": {"app": "x"}}, "spec": template()["spec"]}}),
        );
        assert_eq!(
            messages(&JobStrategy::new().validate(&manual)),
            vec![
                r#"spec.template.metadata.labels: Invalid value: map[string]string{"app":"x"}: `selector` does not match template `labels`"#
            ]
        );
    }

    #[test]
    fn updates_keep_the_immutable_fields() {
        let s = JobStrategy::new();
        let old = created(json!({"template": template(), "completions": 2}));
        let mut new = old.clone();
        new["spec"]["completions"] = json!(3);
        new["spec"]["template"]["spec"]["containers"][0]["image"] = json!("perl:2");
        new["spec"]["parallelism"] = json!(2);
        let msgs = s.validate_update(&new, &old);
        let msgs = messages(&msgs);
        assert_eq!(msgs.len(), 2, "{msgs:?}");
        assert!(msgs[0].starts_with("spec.template: Invalid value: {"));
        assert!(msgs[0].ends_with(": field is immutable"));
        assert_eq!(
            msgs[1],
            "spec.completions: Invalid value: 3: field is immutable"
        );
        // A suspended Job that never started may change its scheduling directives.
        let mut old = old;
        old["spec"]["suspend"] = json!(true);
        let mut new = old.clone();
        new["spec"]["template"]["spec"]["nodeSelector"] = json!({"zone": "a"});
        assert!(s.validate_update(&new, &old).is_empty());
    }

    #[test]
    fn rows_follow_kubectl() {
        let now: jiff::Timestamp = "2024-01-01T01:00:00Z".parse().expect("time");
        let mut o = created(json!({"template": template(), "completions": 3, "parallelism": 2}));
        o["metadata"]["creationTimestamp"] = json!("2024-01-01T00:00:00Z");
        o["status"] = json!({"succeeded": 1, "startTime": "2024-01-01T00:00:00Z"});
        let cells = JOB.cells(&o, now);
        assert_eq!(
            cells[..5],
            [
                json!("pi"),
                json!("Running"),
                json!("1/3"),
                json!("60m"),
                json!("60m")
            ]
        );
        assert_eq!(cells[7], json!("batch.kubernetes.io/controller-uid=u-1"));
        o["status"]["completionTime"] = json!("2024-01-01T00:00:12Z");
        o["status"]["conditions"] = json!([{"type": "Complete", "status": "True"}]);
        let cells = JOB.cells(&o, now);
        assert_eq!(cells[1..4], [json!("Complete"), json!("1/3"), json!("12s")]);
        o["spec"]
            .as_object_mut()
            .expect("spec")
            .remove("completions");
        o["spec"]["parallelism"] = json!(4);
        assert_eq!(JOB.cells(&o, now)[2], json!("1/1 of 4"));
    }
}
