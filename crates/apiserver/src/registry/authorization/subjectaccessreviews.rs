//! SubjectAccessReviews: may this user (with exactly these groups) do this? Shared with
//! [`super::localsubjectaccessreviews`], which asks within one namespace.

use crate::auth::attributes::Attributes;
use crate::auth::review::{access_status, answered, asked, strings, text};
use crate::auth::user::UserInfo;
use crate::registry::entry::entry;
use crate::resource::{ResourceType, Review};
use crate::status::{ApiError, FieldCause};
use crate::strategy::Typed;
use futures::future::BoxFuture;
use k8s_openapi::api::authorization::v1::SubjectAccessReview;
use serde_json::{Value, json};

/// `subjectaccessreviews` (authorization.k8s.io/v1): answered, never stored.
pub(crate) fn resource() -> ResourceType {
    entry("subjectaccessreviews", "subjectaccessreview", false)
        .answered(answer)
        .build::<SubjectAccessReview>(Typed::<SubjectAccessReview>::new())
}

fn answer(review: Review<'_>) -> BoxFuture<'_, Result<Value, ApiError>> {
    Box::pin(subject_access(review, None))
}

/// Answers a (local, when `local` names its namespace) subject access review.
pub(super) async fn subject_access(
    review: Review<'_>,
    local: Option<&str>,
) -> Result<Value, ApiError> {
    let spec = review.spec();
    let mut attrs = asked(&spec, local.is_none()).map_err(|causes| review.invalid(causes))?;
    if let (Some(ns), Attributes::Resource(a)) = (local, &mut attrs) {
        if a.namespace.is_empty() {
            a.namespace = ns.to_string();
        } else if a.namespace != ns {
            return Err(ApiError::bad_request(format!(
                "spec.resourceAttributes.namespace must match namespace: {ns}"
            )));
        }
    }
    let name = text(&spec, "user");
    let groups = strings(&spec, "groups");
    if name.is_empty() && groups.is_empty() {
        return Err(review.invalid(vec![FieldCause::invalid(
            "spec.user",
            &json!(""),
            "at least one of user or group must be specified",
        )]));
    }
    // The subject is exactly as asked: no groups are implied.
    let subject = UserInfo {
        name,
        uid: text(&spec, "uid"),
        groups,
        extra: Default::default(),
    };
    let d = review.rest.rbac.authorize(&subject, &attrs).await;
    Ok(answered(review.object, access_status(d.allowed, d.reason)))
}
