//! LocalSubjectAccessReviews: a subject access review within the namespace it is posted to.

use super::subjectaccessreviews::subject_access;
use crate::registry::entry::entry;
use crate::resource::{ResourceType, Review};
use crate::status::ApiError;
use crate::strategy::Typed;
use futures::future::BoxFuture;
use k8s_openapi::api::authorization::v1::LocalSubjectAccessReview;
use serde_json::Value;

/// `localsubjectaccessreviews` (authorization.k8s.io/v1, namespaced): answered, never stored.
pub(crate) fn resource() -> ResourceType {
    entry(
        "localsubjectaccessreviews",
        "localsubjectaccessreview",
        true,
    )
    .answered(answer)
    .build::<LocalSubjectAccessReview>(Typed::<LocalSubjectAccessReview>::new())
}

fn answer(review: Review<'_>) -> BoxFuture<'_, Result<Value, ApiError>> {
    Box::pin(async move {
        let namespace = review.namespace.unwrap_or_default().to_string();
        subject_access(review, Some(&namespace)).await
    })
}
