//! TokenReviews: whom a bearer token authenticates as (what webhook authenticators and
//! `system:auth-delegator` users ask). Answered by the server's authenticator chain, never
//! stored.

use crate::auth::review::answered;
use crate::registry::entry::entry;
use crate::resource::{ResourceType, Review};
use crate::status::ApiError;
use crate::strategy::Typed;
use futures::future::BoxFuture;
use k8s_openapi::api::authentication::v1::TokenReview;
use serde_json::{Value, json};

/// `tokenreviews` (authentication.k8s.io/v1): answered, never stored.
pub(crate) fn resource() -> ResourceType {
    entry("tokenreviews", "tokenreview", false)
        .answered(answer)
        .build::<TokenReview>(Typed::<TokenReview>::new())
}

fn answer(review: Review<'_>) -> BoxFuture<'_, Result<Value, ApiError>> {
    Box::pin(async move {
        let spec = review.spec();
        let token = spec["token"].as_str().unwrap_or_default();
        if token.is_empty() {
            return Err(ApiError::bad_request(
                "token is required for TokenReview in authentication",
            ));
        }
        let asked: Vec<String> = spec["audiences"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        let authenticator = &review.rest.authenticator;
        let audiences = if asked.is_empty() {
            authenticator.service_accounts.audiences().to_vec()
        } else {
            asked
        };
        let status = match authenticator.authenticate_token(review.rest, token, Some(&audiences)) {
            Ok(user) => {
                let mut info = json!({"username": user.name, "groups": user.groups});
                if !user.uid.is_empty() {
                    info["uid"] = json!(user.uid);
                }
                if !user.extra.is_empty() {
                    info["extra"] = json!(user.extra);
                }
                json!({"authenticated": true, "user": info, "audiences": audiences})
            }
            Err(why) if why == "invalid bearer token" => json!({"user": {}, "error": why}),
            Err(why) => json!({"user": {}, "error": format!("[invalid bearer token, {why}]")}),
        };
        Ok(answered(review.object, status))
    })
}
