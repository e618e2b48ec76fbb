//! CertificateSigningRequests (certificates.k8s.io/v1, `csr`), as upstream's registry keeps
//! them: the requestor (`spec.username`, `uid`, `groups`, `extra`) recorded from who creates
//! it; the spec and status kept by updates of the object itself; the `approval` subresource
//! (`kubectl certificate approve/deny`) changing only the conditions, and `status` the rest of
//! the status; upstream's validation of each path (`validation.rs`). Who may approve or sign is
//! admission's (`admission/certificate_approval.rs`, `certificate_signing.rs`,
//! `certificate_subject_restriction.rs`); the signer of the `kubernetes.io/kube-apiserver-client`
//! signer is `controllers/csr_signing.rs`.

use crate::auth::user::UserInfo;
use crate::registry::entry::entry;
use crate::resource::ResourceType;
use crate::status::FieldCause;
use crate::strategy::{Strategy, Typed, typed_basics};
use crate::table::printer::{Printer, col, s};
use crate::table::{age, age_column, human_duration, name_column, name_of};
use k8s_openapi::api::certificates::v1::CertificateSigningRequest;
use serde_json::{Value, json};

pub(crate) mod validation;

/// `certificatesigningrequests`.
pub(crate) fn resource() -> ResourceType {
    entry(
        "certificatesigningrequests",
        "certificatesigningrequest",
        false,
    )
    .short(&["csr"])
    .status()
    .build::<CertificateSigningRequest>(CsrStrategy {
        typed: Typed::new()
            .names(crate::validation::NameRule::PathSegment)
            .printer(&CERTIFICATE_SIGNING_REQUEST),
    })
}

/// The subresource `kubectl certificate approve/deny` writes.
pub(crate) const APPROVAL: &str = "approval";

/// The CertificateSigningRequest strategy.
struct CsrStrategy {
    typed: Typed<CertificateSigningRequest>,
}

impl Strategy for CsrStrategy {
    typed_basics!(typed, decode);

    fn prepare_for_create_by(&self, obj: &mut Value, user: Option<&UserInfo>) {
        let Some(user) = user else { return };
        if let Some(spec) = obj.get_mut("spec").and_then(Value::as_object_mut) {
            spec.insert("username".into(), json!(user.name));
            for (field, value) in [
                ("uid", (!user.uid.is_empty()).then(|| json!(user.uid))),
                (
                    "groups",
                    (!user.groups.is_empty()).then(|| json!(user.groups)),
                ),
                ("extra", (!user.extra.is_empty()).then(|| json!(user.extra))),
            ] {
                match value {
                    Some(v) => spec.insert(field.into(), v),
                    None => spec.remove(field),
                };
            }
        }
    }

    fn prepare_for_update(&self, new: &mut Value, old: &Value) {
        // Updates of the object itself change its metadata only.
        for part in ["spec", "status"] {
            match old.get(part) {
                Some(v) => new[part] = v.clone(),
                None => {
                    if let Some(m) = new.as_object_mut() {
                        m.remove(part);
                    }
                }
            }
        }
    }

    fn validate(&self, obj: &Value) -> Vec<FieldCause> {
        validation::create_causes(obj)
    }

    fn validate_update(&self, new: &Value, old: &Value) -> Vec<FieldCause> {
        validation::update_causes(new, old, validation::Path::Object)
    }

    /// `approval`: GET, PUT and PATCH, as upstream's `ApprovalREST`.
    fn object_subresources(&self) -> &[&'static str] {
        &[APPROVAL]
    }

    fn update_through(&self, _subresource: &str, old: &Value, new: Value) -> Value {
        // `approval` takes the conditions, nothing else.
        let mut next = old.clone();
        let mut conditions = new
            .pointer("/status/conditions")
            .cloned()
            .unwrap_or(Value::Null);
        stamp_conditions(&mut conditions, old);
        if !next.get("status").is_some_and(Value::is_object) {
            next["status"] = json!({});
        }
        if conditions.is_null() {
            if let Some(status) = next["status"].as_object_mut() {
                status.remove("conditions");
            }
        } else {
            next["status"]["conditions"] = conditions;
        }
        if let Some(meta) = new.get("metadata") {
            next["metadata"] = meta.clone();
        }
        next
    }

    fn validate_update_through(
        &self,
        _subresource: &str,
        new: &Value,
        old: &Value,
    ) -> Vec<FieldCause> {
        validation::update_causes(new, old, validation::Path::Approval)
    }

    fn validate_status_update(&self, new: &Value, old: &Value) -> Vec<FieldCause> {
        validation::update_causes(new, old, validation::Path::Status)
    }
}

/// Upstream's `populateConditionTimestamps`: a condition without `lastUpdateTime` gets now; one
/// without `lastTransitionTime` keeps the stored condition's of its type when its status did
/// not change, and gets now otherwise.
fn stamp_conditions(conditions: &mut Value, old: &Value) {
    let now = crate::rest::now();
    let Some(list) = conditions.as_array_mut() else {
        return;
    };
    let before: Vec<Value> = old
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for c in list.iter_mut().filter(|c| c.is_object()) {
        if c.get("lastUpdateTime").is_none_or(Value::is_null) {
            c["lastUpdateTime"] = json!(now);
        }
        if c.get("lastTransitionTime").is_none_or(Value::is_null) {
            let same = before
                .iter()
                .find(|b| b.get("type") == c.get("type"))
                .filter(|b| b.get("status") == c.get("status"))
                .and_then(|b| b.get("lastTransitionTime"))
                .filter(|t| !t.is_null())
                .cloned();
            c["lastTransitionTime"] = same.unwrap_or_else(|| json!(now));
        }
    }
}

/// The conditions that are true, comma-joined (`Approved,Issued`), `Pending` without any.
fn condition(o: &Value) -> String {
    let mut names: Vec<&str> = o
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|c| matches!(s(c, "/status"), "" | "True"))
        .map(|c| s(c, "/type"))
        .collect();
    if o.pointer("/status/certificate")
        .is_some_and(|c| c.as_str().is_some_and(|c| !c.is_empty()))
    {
        names.push("Issued");
    }
    if names.is_empty() {
        "Pending".into()
    } else {
        names.join(",")
    }
}

/// CertificateSigningRequest: NAME AGE SIGNERNAME REQUESTOR REQUESTEDDURATION CONDITION.
pub(crate) const CERTIFICATE_SIGNING_REQUEST: Printer = Printer {
    columns: || {
        vec![
            name_column(),
            age_column(),
            col("SignerName", "string", 0),
            col("Requestor", "string", 0),
            col("RequestedDuration", "string", 0),
            col("Condition", "string", 0),
        ]
    },
    cells: |o, now| {
        vec![
            json!(name_of(o)),
            json!(age(o, now)),
            json!(s(o, "/spec/signerName")),
            json!(s(o, "/spec/username")),
            json!(
                o.pointer("/spec/expirationSeconds")
                    .and_then(Value::as_i64)
                    .map_or("<none>".to_string(), human_duration)
            ),
            json!(condition(o)),
        ]
    },
};
