//! SelfSubjectAccessReviews: may the requester do this? (`kubectl auth can-i`)

use crate::auth::review::{access_status, answered, asked};
use crate::registry::entry::entry;
use crate::resource::{ResourceType, Review};
use crate::status::ApiError;
use crate::strategy::Typed;
use futures::future::BoxFuture;
use k8s_openapi::api::authorization::v1::SelfSubjectAccessReview;
use serde_json::Value;

/// `selfsubjectaccessreviews` (authorization.k8s.io/v1): answered, never stored.
pub(crate) fn resource() -> ResourceType {
    entry("selfsubjectaccessreviews", "selfsubjectaccessreview", false)
        .answered(answer)
        .build::<SelfSubjectAccessReview>(Typed::<SelfSubjectAccessReview>::new())
}

fn answer(review: Review<'_>) -> BoxFuture<'_, Result<Value, ApiError>> {
    Box::pin(async move {
        let spec = review.spec();
        let attrs = asked(&spec, true).map_err(|causes| review.invalid(causes))?;
        let d = review.rest.rbac.authorize(review.user, &attrs).await;
        Ok(answered(review.object, access_status(d.allowed, d.reason)))
    })
}
