//! CertificateSigningRequests (certificates.k8s.io/v1, `csr`): stored with status; approval and signing come with TLS (issue 16).

use crate::registry::entry::entry;
use crate::resource::ResourceType;
use crate::table::printer::{Printer, col, s};
use crate::table::{age, age_column, human_duration, name_column, name_of};
use k8s_openapi::api::certificates::v1::CertificateSigningRequest;
use serde_json::{Value, json};

/// `certificatesigningrequests`.
pub(crate) fn resource() -> ResourceType {
    entry(
        "certificatesigningrequests",
        "certificatesigningrequest",
        false,
    )
    .short(&["csr"])
    .status()
    .build::<CertificateSigningRequest>(
        crate::strategy::Typed::<CertificateSigningRequest>::new()
            .printer(&CERTIFICATE_SIGNING_REQUEST),
    )
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
