//! CronJobs (batch/v1, `cj`): upstream's defaulting (`SetDefaults_CronJob`), validation of the
//! schedule, time zone, policies and job template in kube-apiserver's words, and kubectl's
//! table.

use super::jobs::job_spec_causes;
use super::non_negative;
use super::schedule::{Schedule, time_zone};
use crate::registry::entry::entry;
use crate::resource::ResourceType;
use crate::status::{ApiError, FieldCause};
use crate::strategy::{Decoded, Strategy, Typed, typed_basics};
use crate::table::printer::{Printer, col, containers_and_images, s, selector_string};
use crate::table::{age, age_column, name_column, name_of, translate_timestamp};
use k8s_openapi::api::batch::v1::CronJob;
use serde_json::{Value, json};

/// The longest CronJob name: its Jobs are named `<name>-<minutes>` (11 characters more) and
/// must stay DNS labels.
const MAX_NAME: usize = 52;

/// `cronjobs` (batch/v1, `cj`): status subresource, category `all`.
pub(crate) fn resource() -> ResourceType {
    entry("cronjobs", "cronjob", true)
        .short(&["cj"])
        .all()
        .status()
        .build::<CronJob>(CronJobStrategy::new())
}

/// The CronJob strategy.
pub struct CronJobStrategy {
    typed: Typed<CronJob>,
}

impl CronJobStrategy {
    /// The strategy.
    pub fn new() -> Self {
        CronJobStrategy {
            typed: Typed::new().printer(&CRON_JOB).with_generation(),
        }
    }
}

impl Default for CronJobStrategy {
    fn default() -> Self {
        Self::new()
    }
}

impl Strategy for CronJobStrategy {
    typed_basics!(typed);

    fn decode(&self, value: Value) -> Result<Decoded, ApiError> {
        self.typed.decode(value)
    }

    fn tracks_generation(&self) -> bool {
        true
    }

    fn prepare_for_create(&self, obj: &mut Value) {
        if let Some(m) = obj.as_object_mut() {
            m.remove("status");
        }
        default_cron_job(obj);
    }

    fn prepare_for_update(&self, new: &mut Value, _old: &Value) {
        default_cron_job(new);
    }

    fn validate(&self, obj: &Value) -> Vec<FieldCause> {
        let mut causes = Vec::new();
        let name = s(obj, "/metadata/name");
        if name.len() > MAX_NAME {
            causes.push(FieldCause::invalid(
                "metadata.name",
                &json!(name),
                format!("must be no more than {MAX_NAME} characters"),
            ));
        }
        causes.extend(spec_causes(obj.get("spec").unwrap_or(&json!({}))));
        causes
    }

    fn validate_update(&self, new: &Value, _old: &Value) -> Vec<FieldCause> {
        spec_causes(new.get("spec").unwrap_or(&json!({})))
    }

    fn validate_status(&self, _obj: &Value) -> Vec<FieldCause> {
        Vec::new()
    }
}

/// `SetDefaults_CronJob`.
fn default_cron_job(obj: &mut Value) {
    let Some(spec) = obj.get_mut("spec").and_then(Value::as_object_mut) else {
        return;
    };
    for (field, value) in [
        ("concurrencyPolicy", json!("Allow")),
        ("suspend", json!(false)),
        ("successfulJobsHistoryLimit", json!(3)),
        ("failedJobsHistoryLimit", json!(1)),
    ] {
        if spec.get(field).is_none_or(Value::is_null) {
            spec.insert(field.into(), value);
        }
    }
}

/// `ValidateCronJobSpec`, in upstream's order.
fn spec_causes(spec: &Value) -> Vec<FieldCause> {
    let mut causes = Vec::new();
    let schedule = spec.get("schedule").and_then(Value::as_str).unwrap_or("");
    let zone = spec.get("timeZone").and_then(Value::as_str);
    if schedule.is_empty() {
        causes.push(FieldCause::required("spec.schedule", ""));
    } else {
        if let Err(e) = Schedule::parse(schedule) {
            causes.push(FieldCause::invalid("spec.schedule", &json!(schedule), e));
        }
        if schedule.contains("TZ") {
            causes.push(FieldCause::invalid(
                "spec.schedule",
                &json!(schedule),
                "cannot use TZ or CRON_TZ in schedule, use timeZone field instead",
            ));
        }
    }
    if let Some(zone) = zone {
        let problem = if zone.is_empty() {
            Some("timeZone must be nil or non-empty string".to_string())
        } else if zone.eq_ignore_ascii_case("local") {
            Some(
                "timeZone must be an explicit time zone as defined in https://www.iana.org/time-zones"
                    .to_string(),
            )
        } else {
            time_zone(Some(zone)).err()
        };
        if let Some(problem) = problem {
            causes.push(FieldCause::invalid("spec.timeZone", &json!(zone), problem));
        }
    }
    match spec.get("concurrencyPolicy").and_then(Value::as_str) {
        None | Some("") => causes.push(FieldCause::required("spec.concurrencyPolicy", "")),
        Some("Allow" | "Forbid" | "Replace") => {}
        Some(other) => causes.push(FieldCause::not_supported(
            "spec.concurrencyPolicy",
            &json!(other),
            &["Allow".into(), "Forbid".into(), "Replace".into()],
        )),
    }
    let empty = json!({});
    let job_spec = spec.pointer("/jobTemplate/spec").unwrap_or(&empty);
    causes.extend(job_spec_causes(job_spec, "spec.jobTemplate.spec", true));
    for field in [
        "startingDeadlineSeconds",
        "successfulJobsHistoryLimit",
        "failedJobsHistoryLimit",
    ] {
        non_negative(spec, "spec", field, &mut causes);
    }
    causes
}

/// kubectl's `printBoolPtr`: `<unset>` for nil.
fn bool_cell(v: Option<&Value>) -> String {
    match v.and_then(Value::as_bool) {
        None => "<unset>".into(),
        Some(true) => "True".into(),
        Some(false) => "False".into(),
    }
}

/// CronJob: NAME SCHEDULE TIMEZONE SUSPEND ACTIVE LAST SCHEDULE AGE (CONTAINERS IMAGES
/// SELECTOR wide).
pub(crate) const CRON_JOB: Printer = Printer {
    columns: || {
        vec![
            name_column(),
            col("Schedule", "string", 0),
            col("Timezone", "string", 0),
            col("Suspend", "boolean", 0),
            col("Active", "integer", 0),
            col("Last Schedule", "string", 0),
            age_column(),
            col("Containers", "string", 1),
            col("Images", "string", 1),
            col("Selector", "string", 1),
        ]
    },
    cells: |o, now| {
        let last = match o.pointer("/status/lastScheduleTime") {
            Some(t) if !t.is_null() => translate_timestamp(Some(t), now),
            _ => "<none>".into(),
        };
        let zone = match s(o, "/spec/timeZone") {
            "" if o.pointer("/spec/timeZone").is_none() => "<none>".to_string(),
            z => z.to_string(),
        };
        let active = o
            .pointer("/status/active")
            .and_then(Value::as_array)
            .map_or(0, Vec::len);
        let (containers, images) =
            containers_and_images(o, "/spec/jobTemplate/spec/template/spec/containers");
        vec![
            json!(name_of(o)),
            json!(s(o, "/spec/schedule")),
            json!(zone),
            json!(bool_cell(o.pointer("/spec/suspend"))),
            json!(active),
            json!(last),
            json!(age(o, now)),
            json!(containers),
            json!(images),
            json!(selector_string(
                o.pointer("/spec/jobTemplate/spec/selector")
            )),
        ]
    },
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::TableConvertor;

    fn cron_job(spec: Value) -> Value {
        json!({"metadata": {"name": "hello", "namespace": "default"}, "spec": spec})
    }

    fn job_template() -> Value {
        json!({"spec": {"template": {"spec": {"restartPolicy": "OnFailure",
            "containers": [{"name": "hello", "image": "busybox"}]}}}})
    }

    fn messages(obj: &Value) -> Vec<String> {
        CronJobStrategy::new()
            .validate(obj)
            .into_iter()
            .map(|c| c.message)
            .collect()
    }

    #[test]
    fn create_defaults_as_upstream() {
        let mut obj = cron_job(json!({"schedule": "*/5 * * * *", "jobTemplate": job_template()}));
        CronJobStrategy::new().prepare_for_create(&mut obj);
        let spec = &obj["spec"];
        assert_eq!(spec["concurrencyPolicy"], json!("Allow"));
        assert_eq!(spec["suspend"], json!(false));
        assert_eq!(spec["successfulJobsHistoryLimit"], json!(3));
        assert_eq!(spec["failedJobsHistoryLimit"], json!(1));
        assert_eq!(
            spec["jobTemplate"],
            job_template(),
            "not defaulted as a Job"
        );
        assert!(messages(&obj).is_empty());
    }

    #[test]
    fn common_mistakes_get_upstream_messages() {
        let mut tpl = job_template();
        tpl["spec"]["template"]["spec"]["restartPolicy"] = json!("Always");
        let obj = cron_job(
            json!({"schedule": "every minute", "timeZone": "Mars/Olympus",
            "concurrencyPolicy": "Sometimes", "jobTemplate": tpl, "failedJobsHistoryLimit": -1}),
        );
        assert_eq!(
            messages(&obj),
            vec![
                r#"spec.schedule: Invalid value: "every minute": expected exactly 5 fields, found 2: [every minute]"#,
                r#"spec.timeZone: Invalid value: "Mars/Olympus": unknown time zone Mars/Olympus"#,
                r#"spec.concurrencyPolicy: Unsupported value: "Sometimes": supported values: "Allow", "Forbid", "Replace""#,
                r#"spec.jobTemplate.spec.template.spec.restartPolicy: Required value: valid values: "OnFailure", "Never""#,
                "spec.failedJobsHistoryLimit: Invalid value: -1: must be greater than or equal to 0",
            ]
        );
        let obj = cron_job(
            json!({"schedule": "TZ=UTC 0 * * * *", "concurrencyPolicy": "Allow",
            "jobTemplate": job_template()}),
        );
        assert_eq!(
            messages(&obj),
            vec![
                r#"spec.schedule: Invalid value: "TZ=UTC 0 * * * *": expected exactly 5 fields, found 6: [TZ=UTC 0 * * * *]"#,
                r#"spec.schedule: Invalid value: "TZ=UTC 0 * * * *": cannot use TZ or CRON_TZ in schedule, use timeZone field instead"#,
            ]
        );
        let mut long = cron_job(json!({"schedule": "@hourly", "concurrencyPolicy": "Forbid",
            "jobTemplate": job_template()}));
        long["metadata"]["name"] = json!("x".repeat(53));
        assert_eq!(
            messages(&long),
            vec![format!(
                "metadata.name: Invalid value: \"{}\": must be no more than 52 characters",
                "x".repeat(53)
            )]
        );
    }

    #[test]
    fn rows_follow_kubectl() {
        let now: jiff::Timestamp = "2024-01-01T01:00:00Z".parse().expect("time");
        let mut obj = cron_job(json!({"schedule": "*/1 * * * *", "jobTemplate": job_template()}));
        CronJobStrategy::new().prepare_for_create(&mut obj);
        obj["metadata"]["creationTimestamp"] = json!("2024-01-01T00:00:00Z");
        assert_eq!(
            CRON_JOB.cells(&obj, now)[..7],
            [
                json!("hello"),
                json!("*/1 * * * *"),
                json!("<none>"),
                json!("False"),
                json!(0),
                json!("<none>"),
                json!("60m")
            ]
        );
        obj["spec"]["timeZone"] = json!("Etc/UTC");
        obj["status"] =
            json!({"lastScheduleTime": "2024-01-01T00:59:00Z", "active": [{"name": "hello-1"}]});
        assert_eq!(
            CRON_JOB.cells(&obj, now)[2..6],
            [json!("Etc/UTC"), json!("False"), json!(1), json!("60s")]
        );
    }
}
