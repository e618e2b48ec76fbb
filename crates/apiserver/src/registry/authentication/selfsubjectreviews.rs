//! SelfSubjectReviews: who the requester is (`kubectl auth whoami`).

use crate::auth::review::answered;
use crate::registry::entry::entry;
use crate::resource::{ResourceType, Review};
use crate::status::ApiError;
use crate::strategy::Typed;
use futures::future::BoxFuture;
use k8s_openapi::api::authentication::v1::SelfSubjectReview;
use serde_json::{Value, json};

/// `selfsubjectreviews` (authentication.k8s.io/v1): answered, never stored.
pub(crate) fn resource() -> ResourceType {
    entry("selfsubjectreviews", "selfsubjectreview", false)
        .answered(answer)
        .build::<SelfSubjectReview>(Typed::<SelfSubjectReview>::new())
}

fn answer(review: Review<'_>) -> BoxFuture<'_, Result<Value, ApiError>> {
    Box::pin(async move {
        let user = review.user;
        let mut info = json!({"username": user.name, "groups": user.groups});
        if !user.uid.is_empty() {
            info["uid"] = json!(user.uid);
        }
        if !user.extra.is_empty() {
            info["extra"] = json!(user.extra);
        }
        Ok(answered(review.object, json!({"userInfo": info})))
    })
}
