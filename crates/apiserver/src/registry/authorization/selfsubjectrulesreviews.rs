//! SelfSubjectRulesReviews: everything the requester may do in a namespace
//! (`kubectl auth can-i --list`).

use crate::auth::review::{answered, text};
use crate::registry::entry::entry;
use crate::resource::{ResourceType, Review};
use crate::status::ApiError;
use crate::strategy::Typed;
use futures::future::BoxFuture;
use k8s_openapi::api::authorization::v1::SelfSubjectRulesReview;
use serde_json::{Value, json};

/// `selfsubjectrulesreviews` (authorization.k8s.io/v1): answered, never stored.
pub(crate) fn resource() -> ResourceType {
    entry("selfsubjectrulesreviews", "selfsubjectrulesreview", false)
        .answered(answer)
        .build::<SelfSubjectRulesReview>(Typed::<SelfSubjectRulesReview>::new())
}

fn answer(review: Review<'_>) -> BoxFuture<'_, Result<Value, ApiError>> {
    Box::pin(async move {
        let ns = text(&review.spec(), "namespace");
        let (rules, errors) = if review.user.is_privileged() {
            // Members of system:masters may do everything: cluster-admin's rules.
            (
                serde_json::from_value(crate::auth::bootstrap::cluster_admin_rules())
                    .unwrap_or_default(),
                Vec::new(),
            )
        } else {
            review
                .rest
                .rbac
                .read(|p| p.rules_for(review.user, &ns))
                .await
        };
        let (resource, non_resource): (Vec<_>, Vec<_>) = rules
            .into_iter()
            .partition(|r| r.non_resource_urls.is_empty());
        let resource_rules: Vec<Value> = resource
            .into_iter()
            .map(|r| {
                json!({"verbs": r.verbs, "apiGroups": r.api_groups,
                    "resources": r.resources, "resourceNames": r.resource_names})
            })
            .collect();
        let non_resource_rules: Vec<Value> = non_resource
            .into_iter()
            .map(|r| json!({"verbs": r.verbs, "nonResourceURLs": r.non_resource_urls}))
            .collect();
        // Bindings whose role is missing are reported in evaluationError; RBAC's rules are
        // still complete (upstream's RBAC never says `incomplete`).
        let mut status = json!({"resourceRules": resource_rules,
            "nonResourceRules": non_resource_rules, "incomplete": false});
        if !errors.is_empty() {
            status["evaluationError"] = json!(crate::auth::rbac::aggregate(&errors));
        }
        Ok(answered(review.object, status))
    })
}
